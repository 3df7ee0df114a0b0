//! The platform's own administration, read-only, for the back office: the API clients (their
//! binding, scopes and keys' fingerprints, never a secret: sanhu keeps only public keys), the staff
//! accounts (their roles and scopes, never a password hash) and the effective configuration (secrets
//! redacted). Each is a platform route under `admin:read`: a client bound to a member never reaches
//! them (`client_bound`). Clients and staff are still made and changed by `sanhu client` and
//! `sanhu staff` on the server's machine.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use sanhu_core::staff::{StaffRole, StaffStatus, Username};
use sanhu_store::{AccessStore, ApiClient};
use serde::Serialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::error::{code, ApiError};
use crate::query::QueryParams;
use crate::state::AppState;

/// Text filters longer than this are refused (`invalid_query`).
const FILTER_CHARS_MAX: usize = 100;

/// One of a client's public keys, as its fingerprint.
#[derive(Serialize, Debug, utoipa::ToSchema)]
pub struct ClientKeyView {
    /// 1 for the key the client was created with, one more for each key added.
    pub number: u32,
    /// `SHA256:` and the hex SHA-256 of the Ed25519 public key's 32 bytes: enough to tell keys apart,
    /// never the key itself (and never a private key, which sanhu does not keep).
    #[schema(pattern = "^SHA256:[0-9a-f]{64}$")]
    pub fingerprint: String,
    /// active or revoked.
    #[schema(pattern = "^(active|revoked)$")]
    pub status: &'static str,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    pub added_at: String,
    #[schema(value_type = Option<sanhu_core::Timestamp>, inline)]
    pub revoked_at: Option<String>,
}

/// An API client as the back office sees it.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = ApiClientView)]
pub struct ApiClientView {
    #[schema(pattern = "^cli_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub id: String,
    pub name: String,
    /// active or revoked.
    #[schema(pattern = "^(active|revoked)$")]
    pub status: &'static str,
    /// The scopes it holds.
    pub scopes: Vec<String>,
    /// The enterprise member it is bound to (it reaches only that member's objects); null for a
    /// platform client.
    #[schema(value_type = Option<sanhu_core::id::MemberId>, inline)]
    pub bound_to: Option<String>,
    pub keys: Vec<ClientKeyView>,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    pub created_at: String,
    #[schema(value_type = Option<sanhu_core::Timestamp>, inline)]
    pub revoked_at: Option<String>,
}

/// The fingerprint of an Ed25519 public key.
pub fn key_fingerprint(public_key: &[u8; 32]) -> String {
    format!("SHA256:{}", hex::encode(Sha256::digest(public_key)))
}

impl From<&ApiClient> for ApiClientView {
    fn from(c: &ApiClient) -> ApiClientView {
        ApiClientView {
            id: c.id.clone(),
            name: c.name.clone(),
            status: if c.revoked_at.is_some() { "revoked" } else { "active" },
            scopes: c.scopes.iter().map(|s| s.to_string()).collect(),
            bound_to: c.bound_to.map(|m| m.to_string()),
            keys: c
                .keys
                .iter()
                .map(|k| ClientKeyView {
                    number: k.number,
                    fingerprint: key_fingerprint(&k.public_key),
                    status: if k.revoked_at.is_some() { "revoked" } else { "active" },
                    added_at: k.added_at.to_string(),
                    revoked_at: k.revoked_at.map(|at| at.to_string()),
                })
                .collect(),
            created_at: c.created_at.to_string(),
            revoked_at: c.revoked_at.map(|at| at.to_string()),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApiClientPage {
    data: Vec<ApiClientView>,
    /// Pass as `after` for the next page; null when this page is the last.
    #[schema(value_type = Option<String>)]
    next_cursor: Option<String>,
}

fn text_filter(query: &QueryParams, name: &str) -> Result<Option<String>, ApiError> {
    match query.get(name).map(str::trim).filter(|t| !t.is_empty()) {
        None => Ok(None),
        Some(text) if text.chars().count() > FILTER_CHARS_MAX || text.chars().any(char::is_control) => Err(
            ApiError::new(code::INVALID_QUERY, format!("{name} is at most {FILTER_CHARS_MAX} printable characters")),
        ),
        Some(text) => Ok(Some(text.to_owned())),
    }
}

fn status_filter(query: &QueryParams) -> Result<Option<bool>, ApiError> {
    match query.get("status") {
        None => Ok(None),
        Some("active") => Ok(Some(true)),
        Some("revoked" | "disabled") => Ok(Some(false)),
        Some(_) => {
            Err(ApiError::new(code::INVALID_STATUS, "status is active, or revoked (clients) / disabled (staff)"))
        }
    }
}

/// GET /v1/api-clients?q=&bound_to=&status=&after=&limit=
#[utoipa::path(
    get,
    path = "/v1/api-clients",
    tag = "staff",
    operation_id = "listApiClients",
    summary = "List API clients",
    description = "The platform's API clients by id, with their status, scopes, binding and keys' fingerprints (never a key: sanhu keeps only public keys). `q` finds text in the id or the name; `bound_to` the clients bound to one member; `status` active or revoked. Cursor-paginated. Clients are made and revoked with `sanhu client` on the server's machine.",
    params(
        ("q" = Option<String>, Query, description = "Text the client's id or name contains (at most 100 characters)."),
        ("bound_to" = Option<String>, Query, description = "Only the clients bound to this member (mem_...)."),
        ("status" = Option<String>, Query, description = "active or revoked (`invalid_status` otherwise)."),
        ("after" = Option<String>, Query, description = "The next_cursor of the previous page."),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to the page size maximum)."),
    ),
    responses(
        (status = 200, description = "A page of API clients.", body = ApiClientPage)
    )
)]
pub async fn list_api_clients(
    State(state): State<AppState>,
    query: QueryParams,
) -> Result<Json<ApiClientPage>, ApiError> {
    let query = query.only(&["q", "bound_to", "status", "after", "limit"])?;
    let limit = query.limit(state.config.page_size_max)? as usize;
    let q = text_filter(&query, "q")?.map(|q| q.to_lowercase());
    let bound_to = text_filter(&query, "bound_to")?;
    let active = status_filter(&query)?;
    let after = query.get("after").map(str::to_owned);
    let mut clients = state.ledger.store().list_clients().await.map_err(ApiError::internal)?;
    clients.sort_by(|a, b| a.id.cmp(&b.id));
    let mut found: Vec<ApiClientView> = clients
        .iter()
        .filter(|c| after.as_ref().is_none_or(|after| &c.id > after))
        .filter(|c| q.as_ref().is_none_or(|q| c.id.to_lowercase().contains(q) || c.name.to_lowercase().contains(q)))
        .filter(|c| bound_to.as_ref().is_none_or(|m| c.bound_to.map(|b| b.to_string()).as_ref() == Some(m)))
        .filter(|c| active.is_none_or(|active| c.revoked_at.is_none() == active))
        .take(limit + 1)
        .map(ApiClientView::from)
        .collect();
    let next_cursor = if found.len() > limit {
        found.truncate(limit);
        found.last().map(|c| c.id.clone())
    } else {
        None
    };
    Ok(Json(ApiClientPage { data: found, next_cursor }))
}

/// GET /v1/api-clients/{id}
#[utoipa::path(
    get,
    path = "/v1/api-clients/{id}",
    tag = "staff",
    operation_id = "getApiClient",
    summary = "Get an API client",
    description = "One API client with its status, scopes, binding and keys' fingerprints (`api_client_not_found`).",
    params(
        ("id" = String, Path, description = "The client's id (cli_...).")
    ),
    responses(
        (status = 200, description = "The API client.", body = ApiClientView)
    )
)]
pub async fn get_api_client(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> Result<Json<ApiClientView>, ApiError> {
    if !id.starts_with("cli_") || id.len() != 30 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(ApiError::new(code::INVALID_ID, "the client id in the path is not cli_ and 26 characters"));
    }
    let client = state.ledger.store().get_client(&id).await.map_err(ApiError::internal)?;
    let client = client.ok_or_else(|| ApiError::new(code::API_CLIENT_NOT_FOUND, "no API client has this id"))?;
    Ok(Json(ApiClientView::from(&client)))
}

/// A staff account as the back office sees it: never its password hash.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = StaffMemberView)]
pub struct StaffView {
    #[schema(value_type = sanhu_core::staff::Username, inline)]
    pub username: String,
    /// super_admin, finance, operations, customer_service, auditor or marketing.
    pub role: &'static str,
    /// The scopes the role grants.
    pub scopes: Vec<String>,
    /// active or disabled.
    #[schema(pattern = "^(active|disabled)$")]
    pub status: &'static str,
    /// Whether too many failed sign-ins lock it now.
    pub locked: bool,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    pub created_at: String,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    pub password_set_at: String,
}

impl StaffView {
    fn of(account: &sanhu_store::staff::StaffAccount, now: sanhu_core::Timestamp) -> StaffView {
        StaffView {
            username: account.username.to_string(),
            role: account.role.as_str(),
            scopes: account.role.scopes().iter().map(|s| s.to_string()).collect(),
            status: if account.status == StaffStatus::Active { "active" } else { "disabled" },
            locked: account.guard.check_may_try(now).is_err(),
            created_at: account.created_at.to_string(),
            password_set_at: account.password_set_at.to_string(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct StaffPage {
    data: Vec<StaffView>,
    /// Pass as `after` for the next page; null when this page is the last.
    #[schema(value_type = Option<String>)]
    next_cursor: Option<String>,
}

/// GET /v1/staff?q=&role=&status=&after=&limit=
#[utoipa::path(
    get,
    path = "/v1/staff",
    tag = "staff",
    operation_id = "listStaff",
    summary = "List staff members",
    description = "The staff accounts by username, with their role, its scopes and status (never a password or its hash). `q` finds text in the username; `role` and `status` (active or disabled) filter. Cursor-paginated. Staff are made, disabled and given passwords with `sanhu staff` on the server's machine.",
    params(
        ("q" = Option<String>, Query, description = "Text the username contains (at most 100 characters)."),
        ("role" = Option<String>, Query, description = "Only this role (`invalid_role` otherwise)."),
        ("status" = Option<String>, Query, description = "active or disabled (`invalid_status` otherwise)."),
        ("after" = Option<String>, Query, description = "The next_cursor of the previous page."),
        ("limit" = Option<u32>, Query, description = "At most this many (1 to the page size maximum)."),
    ),
    responses(
        (status = 200, description = "A page of staff members.", body = StaffPage)
    )
)]
pub async fn list_staff(State(state): State<AppState>, query: QueryParams) -> Result<Json<StaffPage>, ApiError> {
    let query = query.only(&["q", "role", "status", "after", "limit"])?;
    let limit = query.limit(state.config.page_size_max)? as usize;
    let q = text_filter(&query, "q")?.map(|q| q.to_lowercase());
    let role = match query.get("role") {
        None => None,
        Some(text) => Some(StaffRole::parse(text).map_err(|_| {
            ApiError::new(
                code::INVALID_ROLE,
                "role is super_admin, finance, operations, customer_service, auditor or marketing",
            )
        })?),
    };
    let active = status_filter(&query)?;
    let after = query.get("after").map(str::to_owned);
    let now = sanhu_service::clock::now();
    let mut accounts = state.staff.list().await.map_err(ApiError::from)?;
    accounts.sort_by(|a, b| a.username.as_str().cmp(b.username.as_str()));
    let mut found: Vec<StaffView> = accounts
        .iter()
        .filter(|a| after.as_deref().is_none_or(|after| a.username.as_str() > after))
        .filter(|a| q.as_ref().is_none_or(|q| a.username.as_str().to_lowercase().contains(q)))
        .filter(|a| role.is_none_or(|role| a.role == role))
        .filter(|a| active.is_none_or(|active| (a.status == StaffStatus::Active) == active))
        .take(limit + 1)
        .map(|a| StaffView::of(a, now))
        .collect();
    let next_cursor = if found.len() > limit {
        found.truncate(limit);
        found.last().map(|a| a.username.clone())
    } else {
        None
    };
    Ok(Json(StaffPage { data: found, next_cursor }))
}

/// GET /v1/staff/{username}
#[utoipa::path(
    get,
    path = "/v1/staff/{username}",
    tag = "staff",
    operation_id = "getStaffMember",
    summary = "Get a staff member",
    description = "One staff account with its role, scopes and status (`staff_not_found`).",
    params(
        ("username" = String, Path, description = "The staff member's username.")
    ),
    responses(
        (status = 200, description = "The staff member.", body = StaffView)
    )
)]
pub async fn get_staff(
    State(state): State<AppState>,
    Path(username): Path<String>,
) -> Result<Json<StaffView>, ApiError> {
    let username = Username::parse(&username)
        .map_err(|_| ApiError::new(code::INVALID_ID, "the username in the path is not a well-formed username"))?;
    let account = state.staff.account(&username).await.map_err(ApiError::from)?;
    Ok(Json(StaffView::of(&account, sanhu_service::clock::now())))
}

/// One setting in effect.
#[derive(Serialize, Debug, Clone, utoipa::ToSchema)]
pub struct Setting {
    /// The section of sanhu.toml it is set in (`server` for the top level).
    pub section: String,
    pub name: String,
    /// Its value in effect, as text; a secret's is `[redacted]` (or says it is made up at start).
    pub value: String,
    /// Whether the value is a secret (never shown).
    pub secret: bool,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Configuration {
    pub settings: Vec<Setting>,
}

/// The text shown instead of a secret.
pub use sanhu_store::REDACTED;

/// The settings the server runs with, from its state; the process's own (where it listens, its
/// database) are added by whoever starts it ([`AppState::with_settings`]).
pub fn effective_settings(state: &AppState) -> Vec<Setting> {
    let s = |section: &str, name: &str, value: Value| Setting {
        section: section.to_owned(),
        name: name.to_owned(),
        value: match value {
            Value::String(text) => text,
            other => other.to_string(),
        },
        secret: false,
    };
    let http = &state.config;
    let parties = state.parties.config();
    let wallet = state.wallets.config();
    let staff = state.staff.config();
    let webhooks = state.webhooks.config();
    let mut settings: Vec<Setting> = state.settings.iter().cloned().collect();
    settings.extend([
        s("server", "time_zone", json!(parties.calendar.time_zone())),
        s("server", "page_size_max", json!(http.page_size_max)),
        s("server", "body_bytes_max", json!(http.body_bytes_max)),
        s("server", "request_timeout_ms", json!(http.request_timeout_ms)),
        s("server", "signature_window_s", json!(http.signature_window_s)),
        s("server", "trusted_proxy_header", json!(http.trusted_proxy_header)),
        s("server", "rate_limit_per_s", json!(http.rate_limit_per_s)),
        s("server", "rate_limit_burst", json!(http.rate_limit_burst)),
        Setting { section: "server".into(), name: "secret".into(), value: REDACTED.into(), secret: true },
        Setting { section: "server".into(), name: "data_key".into(), value: REDACTED.into(), secret: true },
        s("parties", "dormancy_days", json!(parties.dormancy.days())),
        s("parties", "merchants_per_customer_max", json!(parties.merchants_per_customer_max)),
        s("parties", "bill_period_closed_after_s", json!(parties.bill_period_closed_after_s)),
        s("parties", "stores_per_merchant_max", json!(parties.stores_per_merchant_max)),
        s("parties", "terminals_per_store_max", json!(parties.terminals_per_store_max)),
        s("wallet", "currency", json!(wallet.currency.to_string())),
        s("wallet", "recharge_expiry_s", json!(wallet.recharge_expiry_s)),
        s("wallet", "recharge_query_after_s", json!(wallet.recharge_query_after_s)),
        s("wallet", "recharge_account_type", json!(wallet.recharge_account_type.as_str())),
        s("wallet", "bonus_account_type", json!(wallet.bonus_account_type.as_str())),
        s("wallet", "withdrawal_auto_approve_below", json!(wallet.withdrawal_auto_approve_below)),
        s("wallet", "withdrawal_hold_timeout_s", json!(wallet.withdrawal_hold_timeout_s)),
        s("wallet", "adjustment_approval_from", json!(wallet.adjustment_approval_from)),
        s("wallet", "channels", json!(wallet.channels.len())),
        s("wallet", "pay_password_free_max", json!(wallet.pay_password_free_max)),
        s("wallet", "settlement_monthly_types", json!(wallet.settlement_monthly_types.join(", "))),
        s("staff", "session_idle_s", json!(staff.session.idle_s())),
        s("staff", "session_absolute_s", json!(staff.session.absolute_s())),
        s("staff", "login_failures_max", json!(staff.login.failures_max())),
        s("staff", "login_lock_s", json!(staff.login.lock_s())),
        s("staff", "cookie_secure", json!(http.staff_cookie_secure)),
        s("webhooks", "allow_private_targets", json!(webhooks.allow_private_targets)),
        s("webhooks", "allow_plain_http", json!(webhooks.allow_plain_http)),
        s("webhooks", "retry_schedule_s", json!(webhooks.retry_schedule_s)),
        s("webhooks", "poll_interval_ms", json!(webhooks.poll_interval_ms)),
        s("webhooks", "deliveries_at_once", json!(webhooks.deliveries_at_once)),
        s("webhooks", "attempt_timeout_ms", json!(webhooks.attempt_timeout_ms)),
        s("webhooks", "retention_days", json!(webhooks.retention_days)),
    ]);
    settings
}

/// GET /v1/configuration
#[utoipa::path(
    get,
    path = "/v1/configuration",
    tag = "staff",
    operation_id = "getConfiguration",
    summary = "The effective configuration",
    description = "The settings the server runs with (from sanhu.toml, the command line and the environment, and the defaults of what is not set), read-only, each with its section; secrets (the keyed hashes' secret, the data keys, the database's password) are `[redacted]`. Settings are changed in sanhu.toml and the server restarted.",
    responses(
        (status = 200, description = "The settings in effect.", body = Configuration)
    )
)]
pub async fn get_configuration(State(state): State<AppState>) -> Json<Configuration> {
    Json(Configuration { settings: effective_settings(&state) })
}

/// Settings of the process, for [`AppState::with_settings`].
pub fn process_settings(pairs: &[(&str, &str, String, bool)]) -> Arc<Vec<Setting>> {
    Arc::new(
        pairs
            .iter()
            .map(|(section, name, value, secret)| Setting {
                section: (*section).to_owned(),
                name: (*name).to_owned(),
                value: if *secret { REDACTED.to_owned() } else { value.clone() },
                secret: *secret,
            })
            .collect(),
    )
}
