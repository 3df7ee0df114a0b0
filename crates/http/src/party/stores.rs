//! Stores (门店) and terminals (终端) over the API: a merchant opens stores, lists and reads them with
//! the settings in effect at each, closes one, sets a store's own settings over its merchant's, adds
//! terminals to a store, lists and disables them. The merchant's own client, a client bound to a
//! merchant above it in the hierarchy and the platform reach these routes (the access layer asks
//! `Parties::reaches_for` of the merchant in the path); any other client finds the merchant absent
//! (`merchant_not_found`), and a store or terminal that is not the merchant's is absent too
//! (`store_not_found`, `terminal_not_found`).

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::id::{MerchantId, OperatorId, StoreId, TerminalId};
use sanhu_service::party::{
    Effective, EffectiveSettings, NewStore, StoreSettings, StoreSettingsChange, StoredStore, StoredTerminal,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::merchants::{merchant_id, MerchantIdPath};
use super::{fields, run, ActorText, ClientActor};
use crate::error::{code, ApiError};
use crate::idempotency::IdempotencyScope;
use crate::ids;
use crate::json::parse_body;
use crate::query::QueryParams;
use crate::AppState;

const MERCHANT_PARAM: &str = "The merchant's id.";

/// The `{id}`, `{store_id}` and (on a terminal's route) `{terminal_id}` of a store's path.
pub struct StorePath {
    merchant: MerchantId,
    store: StoreId,
    terminal: Option<TerminalId>,
}

impl<S: Send + Sync> FromRequestParts<S> for StorePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<StorePath, ApiError> {
        let axum::extract::Path(params) =
            axum::extract::Path::<HashMap<String, String>>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::new(code::INVALID_ID, "the ids in the path cannot be read"))?;
        let text = |name: &str| params.get(name).map(String::as_str).unwrap_or_default();
        let merchant = merchant_id("the merchant id in the path", text("id"))?;
        let store = ids::store_id("the store id in the path", text("store_id"))?;
        let terminal = match params.get("terminal_id") {
            Some(t) => Some(ids::terminal_id("the terminal id in the path", t)?),
            None => None,
        };
        Ok(StorePath { merchant, store, terminal })
    }
}

fn source<T>(effective: &Effective<T>) -> String {
    effective.source.clone().unwrap_or_else(|| "platform".to_owned())
}

/// The payment methods a store takes, and where that came from.
#[derive(Serialize, Debug, ToSchema)]
pub struct EffectivePaymentMethods {
    #[schema(value_type = Vec<String>, examples(json!(["pay_code", "balance"])))]
    pub value: Vec<String>,
    /// `platform`, the id of the merchant that set it, or the store's own id.
    pub source: String,
}

/// The pay-password-free threshold in effect (null: as the platform requires), and where it came from.
#[derive(Serialize, Debug, ToSchema)]
pub struct EffectiveThreshold {
    #[schema(required, minimum = 0)]
    pub value: Option<i64>,
    /// `platform`, the id of the merchant that set it, or the store's own id.
    pub source: String,
}

/// The settings in effect at a store: its merchant's, with the store's own over them.
#[derive(Serialize, Debug, ToSchema)]
pub struct StoreSettingsInEffect {
    pub payment_methods: EffectivePaymentMethods,
    /// Below this amount (minor units) no pay password is asked at the store; at or above it, one is.
    pub pay_password_free_below: EffectiveThreshold,
}

impl StoreSettingsInEffect {
    pub fn of(s: &EffectiveSettings) -> StoreSettingsInEffect {
        StoreSettingsInEffect {
            payment_methods: EffectivePaymentMethods {
                value: s.payment_methods.value.clone(),
                source: source(&s.payment_methods),
            },
            pay_password_free_below: EffectiveThreshold {
                value: s.pay_password_free_below.value,
                source: source(&s.pay_password_free_below),
            },
        }
    }
}

/// What a store sets itself over its merchant's settings (each absent: as its merchant's).
#[derive(Serialize, Deserialize, Debug, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StoreOwnSettings)]
pub struct StoreOwnSettingsJson {
    /// 1 to 4 distinct of `pay_code`, `phone_sms`, `card` and `balance`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, min_items = 1, max_items = 4)]
    pub payment_methods: Option<Vec<String>>,
    /// Minor units, 0 or more.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 0)]
    pub pay_password_free_below: Option<i64>,
}

impl From<&StoreSettings> for StoreOwnSettingsJson {
    fn from(s: &StoreSettings) -> StoreOwnSettingsJson {
        StoreOwnSettingsJson {
            payment_methods: s.payment_methods.clone(),
            pay_password_free_below: s.pay_password_free_below,
        }
    }
}

/// A merchant's store.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Store)]
pub struct StoreView {
    #[schema(pattern = "^sto_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    id: String,
    #[schema(pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    merchant_id: String,
    name: String,
    address: String,
    /// `active` or `closed`.
    #[schema(pattern = "^(active|closed)$")]
    status: String,
    /// The operator of the merchant's member who keeps the store's till; null when none was named.
    #[schema(required, pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    cashier_operator_id: Option<String>,
    /// Its terminals, disabled ones included.
    terminals: u32,
    settings: StoreSettingsInEffect,
    own_settings: StoreOwnSettingsJson,
    #[schema(required, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    closed_reason: Option<String>,
    #[schema(value_type = ActorText, inline)]
    created_by: String,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    created_at: String,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    updated_at: String,
}

impl StoreView {
    fn of(s: &StoredStore, settings: &EffectiveSettings) -> StoreView {
        StoreView {
            id: s.id.clone(),
            merchant_id: s.merchant_id.clone(),
            name: s.name.clone(),
            address: s.address.clone(),
            status: s.status.clone(),
            cashier_operator_id: s.cashier_operator_id.clone(),
            terminals: s.terminals,
            settings: StoreSettingsInEffect::of(settings),
            own_settings: StoreOwnSettingsJson::from(&s.settings),
            closed_reason: s.closed_reason.clone(),
            created_by: s.created_by.clone(),
            created_at: s.created_at.to_string(),
            updated_at: s.updated_at.to_string(),
        }
    }
}

/// A page of a merchant's stores.
#[derive(Serialize, Debug, ToSchema)]
pub struct StoreList {
    data: Vec<StoreView>,
    #[schema(required, pattern = "^sto_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    next_cursor: Option<String>,
}

/// A terminal at a store's counter.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Terminal)]
pub struct TerminalView {
    #[schema(pattern = "^trm_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    id: String,
    #[schema(pattern = "^sto_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    store_id: String,
    #[schema(pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    merchant_id: String,
    /// The device's serial, unique within the merchant.
    #[schema(pattern = "^[!-~]{1,64}$")]
    serial: String,
    /// `active` or `disabled`.
    #[schema(pattern = "^(active|disabled)$")]
    status: String,
    #[schema(required, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    disabled_reason: Option<String>,
    #[schema(value_type = ActorText, inline)]
    created_by: String,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    created_at: String,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    updated_at: String,
}

impl TerminalView {
    fn of(t: &StoredTerminal) -> TerminalView {
        TerminalView {
            id: t.id.clone(),
            store_id: t.store_id.clone(),
            merchant_id: t.merchant_id.clone(),
            serial: t.serial.clone(),
            status: t.status.clone(),
            disabled_reason: t.disabled_reason.clone(),
            created_by: t.created_by.clone(),
            created_at: t.created_at.to_string(),
            updated_at: t.updated_at.to_string(),
        }
    }
}

/// A store's terminals.
#[derive(Serialize, Debug, ToSchema)]
pub struct TerminalList {
    data: Vec<TerminalView>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OpenStoreRequest)]
struct OpenStoreBody {
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100, examples("某某茶饮 朝阳店"))]
    name: String,
    /// 1 to 200 characters.
    #[schema(min_length = 1, max_length = 200)]
    address: String,
    /// An active operator of the merchant's member who keeps the store's till.
    #[schema(nullable = false, pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    cashier_operator_id: Option<String>,
    /// The payment methods the store takes, over its merchant's: 1 to 4 distinct of `pay_code`,
    /// `phone_sms`, `card` and `balance`.
    #[schema(nullable = false, min_items = 1, max_items = 4)]
    payment_methods: Option<Vec<String>>,
    /// Below this amount (minor units) no pay password is asked at the store; at or above it, one is.
    #[schema(nullable = false, minimum = 0)]
    pay_password_free_below: Option<i64>,
}

/// POST /v1/merchants/{id}/stores
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/stores",
    tag = "merchants",
    operation_id = "openStore",
    summary = "Open a store under a merchant",
    description = "An active merchant (`merchant_not_receiving`) opens a store with its name and address \
        (`store_name_invalid`, `store_address_invalid`), optionally its cashier, an active operator of the \
        merchant's member (`store_cashier_not_merchants`), and its own settings over the merchant's \
        (`store_settings_invalid`; a setting the merchant or one above it locked: `merchant_setting_locked`). A \
        merchant has at most `stores_per_merchant_max` stores, closed ones counted (`store_limit_reached`). Under \
        an Idempotency-Key every run opens one store. In the merchant's history (`store.opened`).",
    params(("id" = String, Path, description = MERCHANT_PARAM, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = OpenStoreBody,
    responses((status = 201, description = "The store, with the settings in effect there.", body = StoreView))
)]
pub async fn open_store(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    scope: Option<axum::Extension<IdempotencyScope>>,
    MerchantIdPath(id): MerchantIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<StoreView>), ApiError> {
    let body: OpenStoreBody = parse_body(&body)?;
    let cashier: Option<OperatorId> =
        body.cashier_operator_id.as_deref().map(|o| ids::operator_id("cashier_operator_id", o)).transpose()?;
    let new = NewStore {
        id: scope.map(|axum::Extension(scope)| scope.object_id()),
        name: body.name,
        address: body.address,
        cashier,
        settings: StoreSettings {
            payment_methods: body.payment_methods,
            pay_password_free_below: body.pay_password_free_below,
        },
    };
    let parties = state.parties.clone();
    let (store, settings) = run(move || async move { parties.open_store(id, &new, &actor).await }).await?;
    tracing::info!(merchant.id = %id, store.id = %store.id, "store opened");
    Ok((StatusCode::CREATED, Json(StoreView::of(&store, &settings))))
}

/// GET /v1/merchants/{id}/stores
#[utoipa::path(
    get,
    path = "/v1/merchants/{id}/stores",
    tag = "merchants",
    operation_id = "listStores",
    summary = "A merchant's stores",
    description = "In the order they were opened, closed ones too, with a cursor; each with the settings in effect \
        there.",
    params(
        ("id" = String, Path, description = MERCHANT_PARAM, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        crate::query::Paging<sanhu_core::id::StoreId>,
    ),
    responses((status = 200, description = "A page of stores.", body = StoreList))
)]
pub async fn list_stores(
    State(state): State<AppState>,
    MerchantIdPath(id): MerchantIdPath,
    query: QueryParams,
) -> Result<Json<StoreList>, ApiError> {
    let query = query.only(&["after", "limit"])?;
    let limit = query.limit(state.config.page_size_max)?;
    let after = query
        .get("after")
        .map(|a| {
            StoreId::parse(a).ok_or_else(|| {
                ApiError::new(code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned")
            })
        })
        .transpose()?;
    let stores = state.parties.stores_of(id, after, limit).await?;
    let next_cursor = (stores.len() == limit as usize).then(|| stores.last().map(|(s, _)| s.id.clone())).flatten();
    let data = stores.iter().map(|(s, e)| StoreView::of(s, e)).collect();
    Ok(Json(StoreList { data, next_cursor }))
}

/// GET /v1/merchants/{id}/stores/{store_id}
#[utoipa::path(
    get,
    path = "/v1/merchants/{id}/stores/{store_id}",
    tag = "merchants",
    operation_id = "getStore",
    summary = "A merchant's store",
    description = "With the settings in effect there: each value with where it came from (`platform`, a \
        merchant's id, or the store's own). A store that is not the merchant's is 404 `store_not_found`.",
    params(
        ("id" = String, Path, description = MERCHANT_PARAM, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("store_id" = String, Path, description = "The store's id.", pattern = "^sto_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The store.", body = StoreView))
)]
pub async fn get_store(State(state): State<AppState>, path: StorePath) -> Result<Json<StoreView>, ApiError> {
    let (store, settings) = state.parties.get_store(path.merchant, path.store).await?;
    Ok(Json(StoreView::of(&store, &settings)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StoreReasonRequest)]
struct ReasonBody {
    #[schema(value_type = sanhu_core::party::change::Reason, inline)]
    reason: String,
}

/// POST /v1/merchants/{id}/stores/{store_id}/close
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/stores/{store_id}/close",
    tag = "merchants",
    operation_id = "closeStore",
    summary = "Close a store",
    description = "For good, with a reason: it takes no payments (`store_closed`) and no new terminals. A closed \
        store is answered as it is. In the merchant's history (`store.closed`).",
    params(
        ("id" = String, Path, description = MERCHANT_PARAM, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("store_id" = String, Path, description = "The store's id.", pattern = "^sto_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = ReasonBody,
    responses((status = 200, description = "The store, closed.", body = StoreView))
)]
pub async fn close_store(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    path: StorePath,
    body: Bytes,
) -> Result<Json<StoreView>, ApiError> {
    let body: ReasonBody = parse_body(&body)?;
    let reason = fields::reason(&body.reason)?;
    let parties = state.parties.clone();
    let (merchant, store) = (path.merchant, path.store);
    let (store, settings) =
        run(move || async move { parties.close_store(merchant, store, &reason, &actor).await }).await?;
    tracing::info!(store.id = %store.id, "store closed");
    Ok(Json(StoreView::of(&store, &settings)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SetStoreSettingsRequest)]
struct StoreSettingsBody {
    /// 1 to 4 distinct of `pay_code`, `phone_sms`, `card` and `balance`.
    #[schema(nullable = false, min_items = 1, max_items = 4)]
    payment_methods: Option<Vec<String>>,
    /// Minor units, 0 or more.
    #[schema(nullable = false, minimum = 0)]
    pay_password_free_below: Option<i64>,
    /// Settings given back to the merchant's (`payment_methods`, `pay_password_free_below`).
    #[schema(nullable = false, max_items = 2)]
    unset: Option<Vec<String>>,
}

/// POST /v1/merchants/{id}/stores/{store_id}/settings
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/stores/{store_id}/settings",
    tag = "merchants",
    operation_id = "setStoreSettings",
    summary = "Set a store's own settings",
    description = "Over its merchant's: the payment methods it takes and its pay-password-free threshold \
        (`store_settings_invalid`), or `unset` to give one back to the merchant's. A setting the merchant or a \
        merchant above it locked is 422 `merchant_setting_locked`. In the merchant's history \
        (`store.settings_changed`).",
    params(
        ("id" = String, Path, description = MERCHANT_PARAM, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("store_id" = String, Path, description = "The store's id.", pattern = "^sto_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = StoreSettingsBody,
    responses((status = 200, description = "The store, with the settings now in effect.", body = StoreView))
)]
pub async fn set_store_settings(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    path: StorePath,
    body: Bytes,
) -> Result<Json<StoreView>, ApiError> {
    let body: StoreSettingsBody = parse_body(&body)?;
    let change = StoreSettingsChange {
        set: StoreSettings {
            payment_methods: body.payment_methods,
            pay_password_free_below: body.pay_password_free_below,
        },
        unset: body.unset.unwrap_or_default(),
    };
    let parties = state.parties.clone();
    let (merchant, store) = (path.merchant, path.store);
    let (store, settings) =
        run(move || async move { parties.set_store_settings(merchant, store, &change, &actor).await }).await?;
    Ok(Json(StoreView::of(&store, &settings)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AddTerminalRequest)]
struct TerminalBody {
    /// The device's serial: 1 to 64 printable ASCII characters, unique within the merchant.
    #[schema(pattern = "^[!-~]{1,64}$", examples("SN-0001"))]
    serial: String,
}

/// POST /v1/merchants/{id}/stores/{store_id}/terminals
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/stores/{store_id}/terminals",
    tag = "merchants",
    operation_id = "addTerminal",
    summary = "Add a terminal to a store",
    description = "To an active store (`store_closed`), with the device's serial (`terminal_serial_invalid`; \
        another terminal of the merchant's: 409 `terminal_serial_taken`). A store has at most \
        `terminals_per_store_max` terminals, disabled ones counted (`terminal_limit_reached`). Under an \
        Idempotency-Key every run adds one terminal. In the merchant's history (`terminal.added`).",
    params(
        ("id" = String, Path, description = MERCHANT_PARAM, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("store_id" = String, Path, description = "The store's id.", pattern = "^sto_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = TerminalBody,
    responses((status = 201, description = "The terminal.", body = TerminalView))
)]
pub async fn add_terminal(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    scope: Option<axum::Extension<IdempotencyScope>>,
    path: StorePath,
    body: Bytes,
) -> Result<(StatusCode, Json<TerminalView>), ApiError> {
    let body: TerminalBody = parse_body(&body)?;
    let id: Option<TerminalId> = scope.map(|axum::Extension(scope)| scope.object_id());
    let parties = state.parties.clone();
    let (merchant, store) = (path.merchant, path.store);
    let terminal =
        run(move || async move { parties.add_terminal(merchant, store, id, &body.serial, &actor).await }).await?;
    tracing::info!(store.id = %terminal.store_id, terminal.id = %terminal.id, "terminal added");
    Ok((StatusCode::CREATED, Json(TerminalView::of(&terminal))))
}

/// GET /v1/merchants/{id}/stores/{store_id}/terminals
#[utoipa::path(
    get,
    path = "/v1/merchants/{id}/stores/{store_id}/terminals",
    tag = "merchants",
    operation_id = "listTerminals",
    summary = "A store's terminals",
    description = "In the order they were added, disabled ones too.",
    params(
        ("id" = String, Path, description = MERCHANT_PARAM, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("store_id" = String, Path, description = "The store's id.", pattern = "^sto_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The terminals.", body = TerminalList))
)]
pub async fn list_terminals(State(state): State<AppState>, path: StorePath) -> Result<Json<TerminalList>, ApiError> {
    let terminals = state.parties.terminals_of(path.merchant, path.store).await?;
    Ok(Json(TerminalList { data: terminals.iter().map(TerminalView::of).collect() }))
}

/// POST /v1/merchants/{id}/stores/{store_id}/terminals/{terminal_id}/disable
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/stores/{store_id}/terminals/{terminal_id}/disable",
    tag = "merchants",
    operation_id = "disableTerminal",
    summary = "Disable a terminal",
    description = "For good, with a reason: it sends no payments (`terminal_disabled`). A disabled terminal is \
        answered as it is; one not the store's is 404 `terminal_not_found`. In the merchant's history \
        (`terminal.disabled`).",
    params(
        ("id" = String, Path, description = MERCHANT_PARAM, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("store_id" = String, Path, description = "The store's id.", pattern = "^sto_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("terminal_id" = String, Path, description = "The terminal's id.", pattern = "^trm_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = ReasonBody,
    responses((status = 200, description = "The terminal, disabled.", body = TerminalView))
)]
pub async fn disable_terminal(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    path: StorePath,
    body: Bytes,
) -> Result<Json<TerminalView>, ApiError> {
    let body: ReasonBody = parse_body(&body)?;
    let reason = fields::reason(&body.reason)?;
    let terminal = path.terminal.ok_or_else(|| ApiError::new(code::INVALID_ID, "the path names no terminal"))?;
    let parties = state.parties.clone();
    let (merchant, store) = (path.merchant, path.store);
    let terminal =
        run(move || async move { parties.disable_terminal(merchant, store, terminal, &reason, &actor).await }).await?;
    Ok(Json(TerminalView::of(&terminal)))
}
