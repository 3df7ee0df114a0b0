//! Freezes (冻结): an administrative or judicial freeze of an amount of one account, with a reason,
//! under the caller's freeze number; unfreeze (the money is the member's again) or seize (扣划:
//! posted to the platform's `seized` account).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::wallet::{Freeze, FreezeStatus};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;

use super::recharges::EmptyBody;
use super::{amount, client_of, order_number, OrderOf};
use crate::error::ApiError;
use crate::ids;
use crate::json::{parse_body, parse_body_or_empty};
use crate::party::{fields, run, ClientActor};
use crate::AppState;

/// A freeze (冻结) as the API shows it.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Freeze)]
pub struct FreezeJson {
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub freeze_number: String,
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub customer_id: String,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    #[schema(minimum = 0)]
    pub amount: i64,
    #[schema(value_type = sanhu_core::party::change::Reason, inline)]
    pub reason: String,
    /// freezing, frozen, unfreezing, unfrozen, seizing, seized or refused.
    pub status: FreezeStatus,
    /// The ledger's hold that keeps the money frozen.
    #[schema(pattern = "^tr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub hold_id: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&Freeze> for FreezeJson {
    fn from(f: &Freeze) -> FreezeJson {
        FreezeJson {
            freeze_number: f.number.clone(),
            customer_id: f.customer_id.clone(),
            account_id: f.account_id.to_string(),
            amount: f.amount,
            reason: f.reason.clone(),
            status: f.status,
            hold_id: f.hold_id.to_string(),
            created_at: f.created_at.to_string(),
        }
    }
}

/// A freeze's request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FreezeRequest)]
struct FreezeBody {
    /// 1 to 64 printable ASCII characters, unique per API client and kind of order.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    freeze_number: String,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: String,
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
    /// Why, for the history: 1 to 200 characters without control characters.
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
}

/// POST /v1/freezes: freezes an amount of a member's account. The same number again answers the
/// freeze as it is.
#[utoipa::path(
    post,
    path = "/v1/freezes",
    tag = "wallet",
    operation_id = "freeze",
    summary = "Freeze an amount",
    description = "An administrative or judicial freeze of an amount of one member account, with a reason. The same number again answers the freeze as it is.",
    request_body = FreezeBody,
    responses((status = 201, description = "The freeze.", body = FreezeJson)),
)]
pub async fn freeze(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    body: Bytes,
) -> Result<(StatusCode, Json<FreezeJson>), ApiError> {
    let body: FreezeBody = parse_body(&body)?;
    let client = client_of(&actor)?;
    let number = order_number("freeze_number", &body.freeze_number)?;
    let account = ids::account_id("account_id", &body.account_id)?;
    let amount = amount("amount", &body.amount)?;
    let reason = fields::reason(&body.reason)?;
    let wallets = state.wallets().clone();
    let freeze =
        run(move || async move { wallets.freeze(client, &number, account, amount, &reason, &actor).await }).await?;
    tracing::info!(freeze.number = %freeze.number, account.id = %freeze.account_id, amount = freeze.amount, status = ?freeze.status, "freeze");
    Ok((StatusCode::CREATED, Json(FreezeJson::from(&freeze))))
}

/// GET /v1/freezes/{number}
#[utoipa::path(
    get,
    path = "/v1/freezes/{number}",
    tag = "wallet",
    operation_id = "getFreeze",
    summary = "Read a freeze",
    description = "By the caller's freeze number.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The freeze.", body = FreezeJson)),
)]
pub async fn get_freeze(
    State(state): State<AppState>,
    OrderOf { client, number }: OrderOf,
) -> Result<Json<FreezeJson>, ApiError> {
    let freeze = state.wallets().get_freeze(client, &number).await?;
    Ok(Json(FreezeJson::from(&freeze)))
}

/// POST /v1/freezes/{number}/unfreeze
#[utoipa::path(
    post,
    path = "/v1/freezes/{number}/unfreeze",
    tag = "wallet",
    operation_id = "unfreeze",
    summary = "Unfreeze",
    description = "The money is the member's again.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The freeze.", body = FreezeJson)),
)]
pub async fn unfreeze(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OrderOf { client, number }: OrderOf,
    body: Bytes,
) -> Result<Json<FreezeJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let wallets = state.wallets().clone();
    let freeze = run(move || async move { wallets.unfreeze(client, &number, &actor).await }).await?;
    tracing::info!(freeze.number = %freeze.number, status = ?freeze.status, "unfreeze");
    Ok(Json(FreezeJson::from(&freeze)))
}

/// POST /v1/freezes/{number}/seize: the frozen money goes to the platform's `seized` account.
#[utoipa::path(
    post,
    path = "/v1/freezes/{number}/seize",
    tag = "wallet",
    operation_id = "seize",
    summary = "Seize frozen money",
    description = "扣划: the frozen amount is posted to the platform's `seized` account.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The freeze.", body = FreezeJson)),
)]
pub async fn seize(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OrderOf { client, number }: OrderOf,
    body: Bytes,
) -> Result<Json<FreezeJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let wallets = state.wallets().clone();
    let freeze = run(move || async move { wallets.seize(client, &number, &actor).await }).await?;
    tracing::info!(freeze.number = %freeze.number, status = ?freeze.status, "seize");
    Ok(Json(FreezeJson::from(&freeze)))
}
