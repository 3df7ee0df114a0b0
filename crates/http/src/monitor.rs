//! Balance monitors over the API (see `sanhu_service::webhook::Monitors` and docs/WEBHOOKS.md): a
//! client watches one account, or every account of a type it reaches, for a condition on its balance,
//! and is sent `balance_monitor.triggered` once per crossing. A monitor is the client's own: another
//! client's id answers 404 `balance_monitor_not_found`; an account the client does not reach answers
//! as absent (`member_account_not_found`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::AccountId;
use sanhu_service::webhook::{Condition, Monitor, MonitorTarget, NewMonitor, WebhookFailure, PAGE_MAX};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::json::{parse_body, parse_body_or_empty};
use crate::query::QueryParams;
use crate::wallet::recharges::EmptyBody;
use crate::webhook::Subscribing;
use crate::AppState;

const ID_PARAM: &str = "The monitor's id.";

/// When an account is beyond a monitor.
#[derive(Serialize, Deserialize, Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BalanceMonitorCondition)]
pub struct ConditionJson {
    /// `balance`, `available` (the balance less what holds keep), or `debt` (what a balance below
    /// zero owes).
    #[schema(examples("balance"))]
    pub field: String,
    /// `below`, `above` or `equal`; for a debt, `deeper`.
    #[schema(examples("below"))]
    pub op: String,
    /// In minor units, at most 10^15 either way (a debt's at least 0).
    #[schema(examples(1000))]
    pub amount: i64,
}

/// A balance monitor.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = BalanceMonitor)]
pub struct MonitorJson {
    #[schema(pattern = "^bmn_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub id: String,
    /// The account watched (null for a type's).
    #[schema(required, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: Option<String>,
    /// The type whose accounts are watched (null for one account's).
    #[schema(required)]
    pub account_type: Option<String>,
    pub condition: ConditionJson,
    #[schema(required)]
    pub description: Option<String>,
    /// `active` or `disabled`.
    pub status: String,
    /// The member the client was bound to: only accounts it reaches are watched. Null for the
    /// platform's.
    #[schema(required, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub bound_member_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn view(m: &Monitor) -> MonitorJson {
    let (account_id, account_type) = match m.target_kind.as_str() {
        "account" => (Some(m.target.clone()), None),
        _ => (None, Some(m.target.clone())),
    };
    MonitorJson {
        id: m.id.clone(),
        account_id,
        account_type,
        condition: ConditionJson { field: m.field.clone(), op: m.op.clone(), amount: m.amount },
        description: m.description.clone(),
        status: m.status.clone(),
        bound_member_id: m.bound_member.clone(),
        created_at: m.created_at.to_string(),
        updated_at: m.updated_at.to_string(),
    }
}

#[derive(Serialize, Debug, ToSchema)]
#[schema(as = BalanceMonitorPage)]
pub struct MonitorPageJson {
    pub data: Vec<MonitorJson>,
    #[schema(required, pattern = "^bmn_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub next_cursor: Option<String>,
}

/// A monitor deleted.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = BalanceMonitorDeleted)]
pub struct DeletedJson {
    pub id: String,
    pub deleted: bool,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateBalanceMonitorRequest)]
struct CreateBody {
    /// One member account to watch; or
    #[serde(default)]
    #[schema(nullable = false, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: Option<String>,
    /// every account of this configured type (those the client reaches).
    #[serde(default)]
    #[schema(nullable = false, examples("basic"))]
    account_type: Option<String>,
    condition: ConditionJson,
    #[serde(default)]
    #[schema(nullable = false)]
    description: Option<String>,
}

fn target_invalid() -> WebhookFailure {
    WebhookFailure::Rejected(sanhu_service::webhook::MONITOR_TARGET_INVALID)
}

/// POST /v1/balance-monitors
#[utoipa::path(
    post,
    path = "/v1/balance-monitors",
    tag = "webhooks",
    operation_id = "createBalanceMonitor",
    summary = "Watch an account's balance",
    description = "Watches one member account (`account_id`) or every account of a type the client reaches (`account_type`) for a condition; `balance_monitor.triggered` is sent to the client's subscriptions once per crossing (an entry that takes the account from outside the condition to beyond it), and again only after it has come back and crossed again. An account already beyond when the monitor is made does not fire until it crosses. A client has at most 50 monitors (409 `balance_monitor_limit_reached`).",
    request_body = CreateBody,
    responses((status = 201, description = "The monitor.", body = MonitorJson)),
)]
pub async fn create_balance_monitor(
    State(state): State<AppState>,
    subscribing: Subscribing,
    body: Bytes,
) -> Result<(StatusCode, Json<MonitorJson>), ApiError> {
    let body: CreateBody = parse_body(&body)?;
    let subscriber = subscribing.pointing()?;
    let target = match (body.account_id, body.account_type) {
        (Some(account), None) if account.len() <= 64 => match AccountId::parse(&account) {
            Some(id) => MonitorTarget::Account(id),
            None => return Err(ApiError::use_case(target_invalid())),
        },
        (None, Some(code)) if code.len() <= 64 => MonitorTarget::AccountType(code),
        _ => return Err(ApiError::use_case(target_invalid())),
    };
    let condition = Condition::parse(&body.condition.field, &body.condition.op, body.condition.amount)
        .map_err(ApiError::use_case)?;
    let new = NewMonitor { target, condition, description: body.description };
    let created = state.monitors().create(subscriber, new).await?;
    tracing::info!(monitor.id = %created.id, "balance monitor created");
    Ok((StatusCode::CREATED, Json(view(&created))))
}

/// GET /v1/balance-monitors
#[utoipa::path(
    get,
    path = "/v1/balance-monitors",
    tag = "webhooks",
    operation_id = "listBalanceMonitors",
    summary = "List the client's balance monitors",
    description = "In id order.",
    params(
        ("after" = Option<String>, Query, nullable = false, pattern = "^bmn_[0-7][0-9A-HJKMNP-TV-Z]{25}$", description = "The `next_cursor` of the previous page."),
        ("limit" = Option<i64>, Query, nullable = false, description = "Monitors per page, 1 to 100; 50 when absent.", minimum = 1, maximum = 100),
    ),
    responses((status = 200, description = "A page of monitors.", body = MonitorPageJson)),
)]
pub async fn list_balance_monitors(
    State(state): State<AppState>,
    Subscribing(subscriber): Subscribing,
    query: QueryParams,
) -> Result<Json<MonitorPageJson>, ApiError> {
    let query = query.only(&["after", "limit"])?;
    let limit = query.limit(PAGE_MAX)?;
    let page = state.monitors().list(&subscriber, query.get("after"), limit).await?;
    Ok(Json(MonitorPageJson { data: page.items.iter().map(view).collect(), next_cursor: page.next }))
}

/// GET /v1/balance-monitors/{id}
#[utoipa::path(
    get,
    path = "/v1/balance-monitors/{id}",
    tag = "webhooks",
    operation_id = "getBalanceMonitor",
    summary = "Read a balance monitor",
    params(("id" = String, Path, description = ID_PARAM, pattern = "^bmn_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses((status = 200, description = "The monitor.", body = MonitorJson)),
)]
pub async fn get_balance_monitor(
    State(state): State<AppState>,
    Subscribing(subscriber): Subscribing,
    Path(id): Path<String>,
) -> Result<Json<MonitorJson>, ApiError> {
    Ok(Json(view(&state.monitors().get(&subscriber, &id).await?)))
}

/// POST /v1/balance-monitors/{id}/disable
#[utoipa::path(
    post,
    path = "/v1/balance-monitors/{id}/disable",
    tag = "webhooks",
    operation_id = "disableBalanceMonitor",
    summary = "Disable a balance monitor",
    description = "Nothing fires while disabled. Enabled again, it starts from the balances it finds then: a crossing made while it was disabled does not fire, and an account beyond the condition fires once it has come back and crossed again.",
    params(("id" = String, Path, description = ID_PARAM, pattern = "^bmn_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The monitor.", body = MonitorJson)),
)]
pub async fn disable_balance_monitor(
    State(state): State<AppState>,
    Subscribing(subscriber): Subscribing,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<MonitorJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    Ok(Json(view(&state.monitors().set_enabled(&subscriber, &id, false).await?)))
}

/// POST /v1/balance-monitors/{id}/enable
#[utoipa::path(
    post,
    path = "/v1/balance-monitors/{id}/enable",
    tag = "webhooks",
    operation_id = "enableBalanceMonitor",
    summary = "Enable a balance monitor",
    params(("id" = String, Path, description = ID_PARAM, pattern = "^bmn_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The monitor.", body = MonitorJson)),
)]
pub async fn enable_balance_monitor(
    State(state): State<AppState>,
    subscribing: Subscribing,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<MonitorJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let subscriber = subscribing.pointing()?;
    Ok(Json(view(&state.monitors().set_enabled(subscriber, &id, true).await?)))
}

/// POST /v1/balance-monitors/{id}/delete
#[utoipa::path(
    post,
    path = "/v1/balance-monitors/{id}/delete",
    tag = "webhooks",
    operation_id = "deleteBalanceMonitor",
    summary = "Delete a balance monitor",
    params(("id" = String, Path, description = ID_PARAM, pattern = "^bmn_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "Deleted.", body = DeletedJson)),
)]
pub async fn delete_balance_monitor(
    State(state): State<AppState>,
    Subscribing(subscriber): Subscribing,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<DeletedJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    state.monitors().delete(&subscriber, &id).await?;
    tracing::info!(monitor.id = %id, "balance monitor deleted");
    Ok(Json(DeletedJson { id, deleted: true }))
}
