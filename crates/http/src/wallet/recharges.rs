//! Recharge orders (充值订单): created pending (or waiting for review, for a reviewed channel); only
//! the channel's confirmation, or an administrator's approval, credits the member. Confirming,
//! failing, closing, approving and rejecting are each idempotent: a repeated confirmation credits once.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::wallet::{
    RechargeOrder, RechargeRefundOrder, RechargeRefundStatus, RechargeRequest, RechargeStatus,
};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;

use super::wallets::FeePaidBy;
use super::{amount, client_of, order_number, OrderOf};
use crate::error::ApiError;
use crate::ids;
use crate::json::{parse_body, parse_body_or_empty};
use crate::party::members::ReasonBody;
use crate::party::{fields, run, ClientActor};
use crate::AppState;

/// A recharge order (充值订单) as the API shows it; amounts in minor units.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Recharge)]
pub struct RechargeJson {
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub order_number: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: String,
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub customer_id: String,
    /// The account credited.
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    #[schema(minimum = 0)]
    pub amount: i64,
    #[schema(pattern = "^[a-z0-9_-]{1,32}$")]
    pub channel: String,
    /// The channel's fee, and who bears it: `member` (credited the amount less the fee) or `platform`.
    #[schema(minimum = 0)]
    pub fee: i64,
    pub fee_paid_by: FeePaidBy,
    pub review_required: bool,
    /// pending, reviewing, crediting, succeeded, failed, closed or expired.
    pub status: RechargeStatus,
    /// Once credited: the debt repaid first.
    #[schema(minimum = 0)]
    pub repaid: i64,
    /// Credited to the account.
    #[schema(minimum = 0)]
    pub credited: i64,
    /// The recharge tier's bonus.
    #[schema(minimum = 0)]
    pub bonus: i64,
    #[schema(required, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    pub reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// A pending order is closed as expired after this time.
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// Its refunds, in the order they were asked for.
    pub refunds: Vec<RechargeRefundJson>,
}

/// A refund of (part of) a recharge.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = RechargeRefund)]
pub struct RechargeRefundJson {
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub refund_number: String,
    /// Taken from the recharged account.
    #[schema(minimum = 0)]
    pub amount: i64,
    /// Paid back through the channel: the amount less `bonus_deducted`.
    #[schema(minimum = 0)]
    pub payout: i64,
    /// Unspent bonus taken back from the bonus account.
    #[schema(minimum = 0)]
    pub bonus_taken_back: i64,
    /// Spent bonus, deducted from the refund.
    #[schema(minimum = 0)]
    pub bonus_deducted: i64,
    /// processing, succeeded or failed.
    pub status: RechargeRefundStatus,
    #[schema(required, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    pub reason: Option<String>,
}

impl From<&RechargeRefundOrder> for RechargeRefundJson {
    fn from(r: &RechargeRefundOrder) -> RechargeRefundJson {
        RechargeRefundJson {
            refund_number: r.refund_number.clone(),
            amount: r.amount,
            payout: r.payout,
            bonus_taken_back: r.bonus_taken_back,
            bonus_deducted: r.bonus_deducted,
            status: r.status,
            reason: r.reason.clone(),
        }
    }
}

impl From<&RechargeOrder> for RechargeJson {
    fn from(o: &RechargeOrder) -> RechargeJson {
        RechargeJson {
            order_number: o.order_number.clone(),
            member_id: o.member_id.to_string(),
            customer_id: o.customer_id.clone(),
            account_id: o.account_id.to_string(),
            amount: o.amount,
            channel: o.channel.clone(),
            fee: o.fee,
            fee_paid_by: FeePaidBy::member_if(o.fee_paid_by_member),
            review_required: o.review_required,
            status: o.status,
            repaid: o.repaid,
            credited: o.credited,
            bonus: o.bonus,
            reason: o.reason.clone(),
            created_at: o.created_at.to_string(),
            expires_at: o.expires_at.to_string(),
            refunds: o.refunds.iter().map(RechargeRefundJson::from).collect(),
        }
    }
}

/// A recharge order's request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateRechargeRequest)]
struct CreateRechargeBody {
    /// 1 to 64 printable ASCII characters, unique per API client and kind of order.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: String,
    /// The account to credit; the member's account of the configured recharge type when absent.
    #[schema(nullable = false, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: Option<String>,
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
    /// The payment channel the member pays through.
    #[schema(pattern = "^[a-z0-9_-]{1,32}$", examples("alipay"))]
    channel: String,
}

/// POST /v1/recharges: a pending recharge order. The same order number with the same details answers
/// the order as it is; with other details, `order_number_reused`.
#[utoipa::path(
    post,
    path = "/v1/recharges",
    tag = "wallet",
    operation_id = "createRecharge",
    summary = "Create a recharge order",
    description = "Pending (or reviewing, for a reviewed channel); nothing is credited until the channel confirms. The same order number with the same details answers the order as it is; with others, `order_number_reused`.",
    request_body = CreateRechargeBody,
    responses((status = 201, description = "The order.", body = RechargeJson)),
)]
pub async fn create_recharge(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    body: Bytes,
) -> Result<(StatusCode, Json<RechargeJson>), ApiError> {
    let body: CreateRechargeBody = parse_body(&body)?;
    let request = RechargeRequest {
        client: client_of(&actor)?,
        order_number: order_number("order_number", &body.order_number)?,
        member: ids::member_id("member_id", &body.member_id)?,
        account: body.account_id.as_deref().map(|a| ids::account_id("account_id", a)).transpose()?,
        amount: amount("amount", &body.amount)?,
        channel: body.channel,
    };
    let wallets = state.wallets().clone();
    let order = run(move || async move { wallets.create_recharge(&request, &actor).await }).await?;
    tracing::info!(order.number = %order.order_number, member.id = %order.member_id, amount = order.amount, channel = %order.channel, "recharge order");
    Ok((StatusCode::CREATED, Json(RechargeJson::from(&order))))
}

/// GET /v1/recharges/{number}
#[utoipa::path(
    get,
    path = "/v1/recharges/{number}",
    tag = "wallet",
    operation_id = "getRecharge",
    summary = "Read a recharge order",
    description = "By the caller's order number.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The order.", body = RechargeJson)),
)]
pub async fn get_recharge(
    State(state): State<AppState>,
    OrderOf { client, number }: OrderOf,
) -> Result<Json<RechargeJson>, ApiError> {
    let order = state.wallets().get_recharge(client, &number).await?;
    Ok(Json(RechargeJson::from(&order)))
}

/// POST /v1/recharges/{number}/confirm: the channel says it was paid; the member is credited once.
#[utoipa::path(
    post,
    path = "/v1/recharges/{number}/confirm",
    tag = "wallet",
    operation_id = "confirmRecharge",
    summary = "Confirm a recharge",
    description = "The channel says it was paid: the member is credited once (debt repaid first, then the account, then the tier's bonus). Repeating it answers the order as it is.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The order.", body = RechargeJson)),
)]
pub async fn confirm_recharge(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OrderOf { client, number }: OrderOf,
    body: Bytes,
) -> Result<Json<RechargeJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let wallets = state.wallets().clone();
    let order = run(move || async move { wallets.confirm_recharge(client, &number, &actor).await }).await?;
    tracing::info!(order.number = %order.order_number, status = ?order.status, "recharge confirmed");
    Ok(Json(RechargeJson::from(&order)))
}

/// POST /v1/recharges/{number}/approve: an administrator checked a reviewed recharge; it is credited.
#[utoipa::path(
    post,
    path = "/v1/recharges/{number}/approve",
    tag = "wallet",
    operation_id = "approveRecharge",
    summary = "Approve a reviewed recharge",
    description = "An administrator checked it (a bank transfer against the statement): it is credited once.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The order.", body = RechargeJson)),
)]
pub async fn approve_recharge(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OrderOf { client, number }: OrderOf,
    body: Bytes,
) -> Result<Json<RechargeJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let wallets = state.wallets().clone();
    let order = run(move || async move { wallets.approve_recharge(client, &number, &actor).await }).await?;
    tracing::info!(order.number = %order.order_number, status = ?order.status, "recharge approved");
    Ok(Json(RechargeJson::from(&order)))
}

/// POST /v1/recharges/{number}/reject: an administrator refuses a reviewed recharge.
#[utoipa::path(
    post,
    path = "/v1/recharges/{number}/reject",
    tag = "wallet",
    operation_id = "rejectRecharge",
    summary = "Reject a reviewed recharge",
    description = "An administrator refuses it; nothing is credited.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = ReasonSchema,
    responses((status = 200, description = "The order.", body = RechargeJson)),
)]
pub async fn reject_recharge(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OrderOf { client, number }: OrderOf,
    body: Bytes,
) -> Result<Json<RechargeJson>, ApiError> {
    let body: ReasonBody = parse_body(&body)?;
    let reason = fields::reason(&body.reason)?;
    let wallets = state.wallets().clone();
    let order =
        run(move || async move { wallets.reject_recharge(client, &number, reason.as_str(), &actor).await }).await?;
    tracing::info!(order.number = %order.order_number, "recharge rejected");
    Ok(Json(RechargeJson::from(&order)))
}

/// POST /v1/recharges/{number}/fail: the channel says it was not paid.
#[utoipa::path(
    post,
    path = "/v1/recharges/{number}/fail",
    tag = "wallet",
    operation_id = "failRecharge",
    summary = "Fail a recharge",
    description = "The channel says it was not paid; nothing is credited.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = ReasonSchema,
    responses((status = 200, description = "The order.", body = RechargeJson)),
)]
pub async fn fail_recharge(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OrderOf { client, number }: OrderOf,
    body: Bytes,
) -> Result<Json<RechargeJson>, ApiError> {
    let body: ReasonBody = parse_body(&body)?;
    let reason = fields::reason(&body.reason)?;
    let wallets = state.wallets().clone();
    let order =
        run(move || async move { wallets.fail_recharge(client, &number, reason.as_str(), &actor).await }).await?;
    tracing::info!(order.number = %order.order_number, "recharge failed");
    Ok(Json(RechargeJson::from(&order)))
}

/// POST /v1/recharges/{number}/close: the caller gives the order up before it is paid.
#[utoipa::path(
    post,
    path = "/v1/recharges/{number}/close",
    tag = "wallet",
    operation_id = "closeRecharge",
    summary = "Close a recharge",
    description = "The caller gives the order up before it is paid.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The order.", body = RechargeJson)),
)]
pub async fn close_recharge(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OrderOf { client, number }: OrderOf,
    body: Bytes,
) -> Result<Json<RechargeJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let wallets = state.wallets().clone();
    let order = run(move || async move { wallets.close_recharge(client, &number, &actor).await }).await?;
    tracing::info!(order.number = %order.order_number, "recharge closed");
    Ok(Json(RechargeJson::from(&order)))
}

/// A refund's request: the caller's refund number and the amount.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RefundRequest)]
struct RefundBody {
    /// 1 to 64 printable ASCII characters, unique per API client and kind of order.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    refund_number: String,
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
}

/// POST /v1/recharges/{number}/refunds: refunds part or all of a credited recharge through its
/// channel; the unspent bonus it earned is taken back and the spent part deducted from the payout.
/// The same refund number again answers that refund as it is.
#[utoipa::path(
    post,
    path = "/v1/recharges/{number}/refunds",
    tag = "wallet",
    operation_id = "refundRecharge",
    summary = "Refund a recharge",
    description = "Part or all of a credited recharge back through its channel; the unspent bonus it earned is taken back and the spent part deducted (`bonus_spent_exceeds_refund`, `refund_exceeds_recharge`, `recharge_not_refundable`). The same refund number again answers that refund.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = RefundBody,
    responses((status = 201, description = "The refund.", body = RechargeRefundJson)),
)]
pub async fn refund_recharge(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OrderOf { client, number }: OrderOf,
    body: Bytes,
) -> Result<(StatusCode, Json<RechargeRefundJson>), ApiError> {
    let body: RefundBody = parse_body(&body)?;
    let refund_number = order_number("refund_number", &body.refund_number)?;
    let amount = amount("amount", &body.amount)?;
    let wallets = state.wallets().clone();
    let refund =
        run(move || async move { wallets.refund_recharge(client, &number, &refund_number, amount, &actor).await })
            .await?;
    tracing::info!(refund.number = %refund.refund_number, amount = refund.amount, payout = refund.payout, status = ?refund.status, "recharge refunded");
    Ok((StatusCode::CREATED, Json(RechargeRefundJson::from(&refund))))
}

/// The schema of the body the rejection and the failure read ([`ReasonBody`], the party's actions'
/// too), for the document: it is named `ReasonRequest` there.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReasonRequest)]
#[allow(dead_code)]
struct ReasonSchema {
    /// Why, for the history: 1 to 200 characters without control characters (`reason_invalid`
    /// otherwise).
    #[schema(min_length = 1, max_length = 200, examples("judicial freeze, case 2026-01"))]
    reason: String,
}

/// The body of an action that takes no fields: empty or `{}`.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = EmptyRequest)]
pub struct EmptyBody {}
