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
use utoipa::ToSchema;

use super::wallets::FeePaidBy;
use super::{amount, client_of, order_number, OrderOf};
use crate::error::{code, ApiError};
use crate::ids;
use crate::json::parse_body;
use crate::party::{run, ClientActor};
use crate::AppState;

/// A withdrawal (提现) as the API shows it; amounts in minor units.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Withdrawal)]
pub struct WithdrawalJson {
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub order_number: String,
    /// The API client whose numbering the order is in (staff's orders: the back office's): give it as
    /// `client_id` to read or review the order as staff.
    #[schema(pattern = "^cli_[0-9A-HJKMNP-TV-Z]{26}$")]
    pub client_id: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: String,
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub customer_id: String,
    #[schema(pattern = "^bcd_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub bank_card_id: String,
    #[schema(minimum = 0)]
    pub amount: i64,
    #[schema(minimum = 0)]
    pub fee: i64,
    pub fee_paid_by: FeePaidBy,
    /// What reaches the bank card.
    #[schema(minimum = 0)]
    pub payout: i64,
    /// freezing, reviewing, approved, paying_out, paid, releasing, rejected, payout_failed or refused.
    pub status: WithdrawalStatus,
    /// One order per account touched, numbered `<order_number>-1`, `-2`, ...
    pub orders: Vec<WithdrawalOrderJson>,
    #[schema(required, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    pub reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The enterprise member's operator who made it; null when none was named.
    #[schema(required, pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub operator_id: Option<String>,
}

/// The part of a withdrawal taken from one account, and the hold that freezes it.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = WithdrawalOrder)]
pub struct WithdrawalOrderJson {
    /// The withdrawal's order number and `-1`, `-2`, ... per account.
    #[schema(pattern = "^[!-~]{1,64}-[0-9]{1,3}$")]
    pub number: String,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    #[schema(minimum = 0)]
    pub amount: i64,
    #[schema(pattern = "^tr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub hold_id: String,
}

impl From<&Withdrawal> for WithdrawalJson {
    fn from(w: &Withdrawal) -> WithdrawalJson {
        WithdrawalJson {
            order_number: w.order_number.clone(),
            client_id: w.client.to_string(),
            member_id: w.member_id.to_string(),
            customer_id: w.customer_id.clone(),
            bank_card_id: w.card_id.to_string(),
            amount: w.amount,
            fee: w.fee,
            fee_paid_by: FeePaidBy::member_if(w.fee_paid_by_member),
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
            operator_id: w.operator_id().map(|o| o.to_string()),
        }
    }
}

/// A withdrawal's application.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WithdrawRequest)]
struct WithdrawBody {
    /// 1 to 64 printable ASCII characters, unique per API client and kind of order.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: String,
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
    /// A bank card of the member's whose holder matches the member's real name.
    #[schema(pattern = "^bcd_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    bank_card_id: String,
    /// The member's pay password: checked when given (with the lockout rules), required where the
    /// platform requires one for withdrawals (`pay_password_required`). Left out of an
    /// Idempotency-Key's fingerprint; never stored.
    #[schema(nullable = false, pattern = "^[0-9]{6}$")]
    pay_password: Option<String>,
    /// The enterprise member's operator who makes the request: granted this operation on the
    /// accounts the money comes from, within its limits (`operator_not_authorised`,
    /// `operator_limit_exceeded`); required for enterprise members where the platform says so
    /// (`operator_required`).
    #[schema(nullable = false, pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    operator_id: Option<String>,
}

/// POST /v1/withdrawals: the application, frozen at once. The same order number again answers the
/// withdrawal as it is.
#[utoipa::path(
    post,
    path = "/v1/withdrawals",
    tag = "wallet",
    operation_id = "withdraw",
    summary = "Apply for a withdrawal",
    description = "One withdrawal order per account touched, all frozen at once; to a bank card whose holder matches the member's real name (`card_holder_mismatch`). Approved without review under the configured amount.",
    request_body = WithdrawBody,
    responses((status = 201, description = "The withdrawal.", body = WithdrawalJson)),
)]
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
        pay_password: body.pay_password,
        operator: body.operator_id.as_deref().map(|o| ids::operator_id("operator_id", o)).transpose()?,
    };
    let wallets = state.wallets().clone();
    let withdrawal = run(move || async move { wallets.withdraw(&request, &actor).await }).await?;
    tracing::info!(order.number = %withdrawal.order_number, member.id = %withdrawal.member_id, amount = withdrawal.amount, status = ?withdrawal.status, "withdrawal applied for");
    Ok((StatusCode::CREATED, Json(WithdrawalJson::from(&withdrawal))))
}

/// GET /v1/withdrawals/{number}
#[utoipa::path(
    get,
    path = "/v1/withdrawals/{number}",
    tag = "wallet",
    operation_id = "getWithdrawal",
    summary = "Read a withdrawal",
    description = "With its orders.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The withdrawal.", body = WithdrawalJson)),
)]
pub async fn get_withdrawal(
    State(state): State<AppState>,
    OrderOf { client, number }: OrderOf,
) -> Result<Json<WithdrawalJson>, ApiError> {
    let withdrawal = state.wallets().get_withdrawal(client, &number).await?;
    Ok(Json(WithdrawalJson::from(&withdrawal)))
}

/// A page of withdrawals.
#[derive(Serialize, ToSchema)]
#[schema(as = WithdrawalPage)]
pub struct WithdrawalPageJson {
    data: Vec<WithdrawalJson>,
    /// Pass as `after` for the next page; null when this page is the last.
    #[schema(max_length = 200)]
    next_cursor: Option<String>,
}

/// The longest cursor of the withdrawals in review: a record id (`withdrawal:cli_…:<number>`).
const WITHDRAWAL_CURSOR_CHARS_MAX: usize = 200;

/// GET /v1/withdrawals?status=reviewing&after=&limit=: the withdrawals waiting for review.
#[utoipa::path(
    get,
    path = "/v1/withdrawals",
    tag = "wallet",
    operation_id = "listWithdrawalsInReview",
    summary = "List the withdrawals waiting for review",
    description = "The back office's review queue: every withdrawal whose status is `reviewing`, of every API client, in the order of client and order number, cursor-paginated. `status` is required and only `reviewing` is listed (`invalid_status` otherwise).",
    params(
        ("status" = String, Query, description = "`reviewing`."),
        ("after" = Option<String>, Query, nullable = false, max_length = 200, description = "The `next_cursor` of the previous page."),
        ("limit" = Option<i64>, Query, nullable = false, description = "Withdrawals per page, 1 to the page size maximum; 100 when absent.", minimum = 1),
    ),
    responses((status = 200, description = "A page of withdrawals waiting for review.", body = WithdrawalPageJson)),
)]
pub async fn withdrawals_in_review(
    State(state): State<AppState>,
    query: crate::query::QueryParams,
) -> Result<Json<WithdrawalPageJson>, ApiError> {
    let query = query.only(&["status", "after", "limit"])?;
    match query.get("status") {
        Some("reviewing") => {}
        Some(_) => {
            return Err(ApiError::new(
                code::INVALID_STATUS,
                "status is reviewing: the queue lists withdrawals waiting for review",
            ))
        }
        None => return Err(ApiError::new(code::MISSING_PARAMETER, "give the query parameter status=reviewing")),
    }
    let limit = match query.get("limit") {
        None => 100.min(state.config.page_size_max),
        Some(_) => query.limit(state.config.page_size_max)?,
    };
    let after = query.get("after");
    if let Some(after) = after {
        let well_formed = after.starts_with("withdrawal:")
            && after.len() <= WITHDRAWAL_CURSOR_CHARS_MAX
            && after.bytes().all(|b| b.is_ascii_graphic());
        if !well_formed {
            return Err(ApiError::new(code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned"));
        }
    }
    let page = state.wallets().withdrawals_in_review(after, limit).await?;
    Ok(Json(WithdrawalPageJson {
        data: page.withdrawals.iter().map(WithdrawalJson::from).collect(),
        next_cursor: page.next,
    }))
}

/// A withdrawal's review.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReviewRequest)]
struct ReviewBody {
    #[schema(inline, value_type = ReviewDecision)]
    decision: String,
}

/// A review's decision: `approve` (it waits for the payout) or `reject` (the money is released).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum ReviewDecision {
    Approve,
    Reject,
}

/// POST /v1/withdrawals/{number}/review: approve (it waits for the payout) or reject (the money is
/// released).
#[utoipa::path(
    post,
    path = "/v1/withdrawals/{number}/review",
    tag = "wallet",
    operation_id = "reviewWithdrawal",
    summary = "Review a withdrawal",
    description = "approve (it waits for the payout) or reject (the money is released).",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = ReviewBody,
    responses((status = 200, description = "The withdrawal.", body = WithdrawalJson)),
)]
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

/// A payout's result, as the channel reported it.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PayoutRequest)]
struct PayoutBody {
    #[schema(inline, value_type = PayoutOutcome)]
    result: String,
}

/// A payout's result: `succeeded` (the frozen money is posted) or `failed` (it is released).
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum PayoutOutcome {
    Succeeded,
    Failed,
}

/// POST /v1/withdrawals/{number}/payout: the channel's payout result; success posts the frozen money,
/// failure releases it.
#[utoipa::path(
    post,
    path = "/v1/withdrawals/{number}/payout",
    tag = "wallet",
    operation_id = "recordPayoutResult",
    summary = "Record a withdrawal's payout result",
    description = "succeeded posts the frozen money to withdrawals in transit; failed releases it.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = PayoutBody,
    responses((status = 200, description = "The withdrawal.", body = WithdrawalJson)),
)]
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
