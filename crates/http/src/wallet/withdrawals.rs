//! Withdrawals (提现): an application takes the amount from the wallet's withdrawable accounts in
//! the wallet's withdrawal order, one withdrawal order per account, all frozen at once (linked);
//! then a review (approved without one under the configured amount), then the channel's payout
//! result: success posts the money to withdrawals in transit, failure releases it. Only to a bank
//! card whose holder matches the member's real name.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::wallet::{PayoutResult, Review, Withdrawal, WithdrawalRequest, WithdrawalStatus};
use serde::{Deserialize, Serialize};
use serde_json::Number;

use super::{amount, client_of, order_number, OrderOf};
use crate::error::{code, ApiError};
use crate::ids;
use crate::json::parse_body;
use crate::party::{run, ClientActor};
use crate::AppState;

/// A withdrawal as the API shows it; amounts in minor units.
#[derive(Serialize, Debug)]
pub struct WithdrawalJson {
    pub order_number: String,
    pub member_id: String,
    pub customer_id: String,
    pub bank_card_id: String,
    pub amount: i64,
    pub fee: i64,
    /// `member` (taken from the amount) or `platform`.
    pub fee_paid_by: &'static str,
    /// What reaches the bank card.
    pub payout: i64,
    /// freezing, reviewing, approved, paying_out, paid, releasing, rejected, payout_failed or refused.
    pub status: WithdrawalStatus,
    /// One order per account touched, numbered `<order_number>-1`, `-2`, ...
    pub orders: Vec<WithdrawalOrderJson>,
    pub reason: Option<String>,
    pub created_at: String,
}

/// The part of a withdrawal taken from one account, and the hold that freezes it.
#[derive(Serialize, Debug)]
pub struct WithdrawalOrderJson {
    pub number: String,
    pub account_id: String,
    pub amount: i64,
    pub hold_id: String,
}

impl From<&Withdrawal> for WithdrawalJson {
    fn from(w: &Withdrawal) -> WithdrawalJson {
        WithdrawalJson {
            order_number: w.order_number.clone(),
            member_id: w.member_id.to_string(),
            customer_id: w.customer_id.clone(),
            bank_card_id: w.card_id.to_string(),
            amount: w.amount,
            fee: w.fee,
            fee_paid_by: if w.fee_paid_by_member { "member" } else { "platform" },
            payout: w.payout,
            status: w.status,
            orders: w
                .orders
                .iter()
                .map(|o| WithdrawalOrderJson {
                    number: o.number.clone(),
                    account_id: o.account_id.to_string(),
                    amount: o.amount,
                    hold_id: o.hold_id.to_string(),
                })
                .collect(),
            reason: w.reason.clone(),
            created_at: w.created_at.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WithdrawBody {
    order_number: String,
    member_id: String,
    amount: Number,
    bank_card_id: String,
}

/// POST /v1/withdrawals: the application, frozen at once. The same order number again answers the
/// withdrawal as it is.
pub async fn withdraw(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    body: Bytes,
) -> Result<(StatusCode, Json<WithdrawalJson>), ApiError> {
    let body: WithdrawBody = parse_body(&body)?;
    let request = WithdrawalRequest {
        client: client_of(&actor)?,
        order_number: order_number("order_number", &body.order_number)?,
        member: ids::member_id("member_id", &body.member_id)?,
        amount: amount("amount", &body.amount)?,
        card: ids::bank_card_id("bank_card_id", &body.bank_card_id)?,
    };
    let wallets = state.wallets().clone();
    let withdrawal = run(move || async move { wallets.withdraw(&request, &actor).await }).await?;
    tracing::info!(order.number = %withdrawal.order_number, member.id = %withdrawal.member_id, amount = withdrawal.amount, status = ?withdrawal.status, "withdrawal applied for");
    Ok((StatusCode::CREATED, Json(WithdrawalJson::from(&withdrawal))))
}

/// GET /v1/withdrawals/{number}
pub async fn get_withdrawal(
    State(state): State<AppState>,
    OrderOf { client, number }: OrderOf,
) -> Result<Json<WithdrawalJson>, ApiError> {
    let withdrawal = state.wallets().get_withdrawal(client, &number).await?;
    Ok(Json(WithdrawalJson::from(&withdrawal)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReviewBody {
    /// `approve` or `reject`.
    decision: String,
}

/// POST /v1/withdrawals/{number}/review: approve (it waits for the payout) or reject (the money is
/// released).
pub async fn review_withdrawal(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OrderOf { client, number }: OrderOf,
    body: Bytes,
) -> Result<Json<WithdrawalJson>, ApiError> {
    let body: ReviewBody = parse_body(&body)?;
    let review = match body.decision.as_str() {
        "approve" => Review::Approve,
        "reject" => Review::Reject,
        _ => return Err(ApiError::new(code::INVALID_DECISION, "decision must be \"approve\" or \"reject\"")),
    };
    let wallets = state.wallets().clone();
    let withdrawal =
        run(move || async move { wallets.review_withdrawal(client, &number, review, &actor).await }).await?;
    tracing::info!(order.number = %withdrawal.order_number, status = ?withdrawal.status, "withdrawal reviewed");
    Ok(Json(WithdrawalJson::from(&withdrawal)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PayoutBody {
    /// `succeeded` or `failed`.
    result: String,
}

/// POST /v1/withdrawals/{number}/payout: the channel's payout result; success posts the frozen money,
/// failure releases it.
pub async fn payout_result(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OrderOf { client, number }: OrderOf,
    body: Bytes,
) -> Result<Json<WithdrawalJson>, ApiError> {
    let body: PayoutBody = parse_body(&body)?;
    let result = match body.result.as_str() {
        "succeeded" => PayoutResult::Succeeded,
        "failed" => PayoutResult::Failed,
        _ => {
            return Err(ApiError::new(code::INVALID_PAYOUT_RESULT, "result must be \"succeeded\" or \"failed\""));
        }
    };
    let wallets = state.wallets().clone();
    let withdrawal = run(move || async move { wallets.payout_result(client, &number, result, &actor).await }).await?;
    tracing::info!(order.number = %withdrawal.order_number, status = ?withdrawal.status, "withdrawal payout result");
    Ok(Json(WithdrawalJson::from(&withdrawal)))
}
