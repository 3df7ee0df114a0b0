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

use super::recharges::EmptyBody;
use super::{amount, client_of, order_number, OrderOf};
use crate::error::ApiError;
use crate::ids;
use crate::json::{parse_body, parse_body_or_empty};
use crate::party::{fields, run, ClientActor};
use crate::AppState;

/// A freeze as the API shows it.
#[derive(Serialize, Debug)]
pub struct FreezeJson {
    pub freeze_number: String,
    pub customer_id: String,
    pub account_id: String,
    pub amount: i64,
    pub reason: String,
    /// freezing, frozen, unfreezing, unfrozen, seizing, seized or refused.
    pub status: FreezeStatus,
    /// The ledger's hold that keeps the money frozen.
    pub hold_id: String,
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FreezeBody {
    freeze_number: String,
    account_id: String,
    amount: Number,
    reason: String,
}

/// POST /v1/freezes: freezes an amount of a member's account. The same number again answers the
/// freeze as it is.
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
pub async fn get_freeze(
    State(state): State<AppState>,
    OrderOf { client, number }: OrderOf,
) -> Result<Json<FreezeJson>, ApiError> {
    let freeze = state.wallets().get_freeze(client, &number).await?;
    Ok(Json(FreezeJson::from(&freeze)))
}

/// POST /v1/freezes/{number}/unfreeze
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
