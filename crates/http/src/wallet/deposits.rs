//! Deposits (押金, the car-rental case): an amount held on the payer's wallet without ever being the
//! receiver's money; released whole, or captured in part for damage, what is captured going to the
//! beneficiary and the rest back to the payer.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::wallet::{Deposit, DepositRequest, DepositStatus};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;

use super::payments::{receiver_of, HoldJson, RefundOf};
use super::recharges::EmptyBody;
use super::wallets::PartJson;
use super::{amount, client_of, order_number, OrderOf};
use crate::error::ApiError;
use crate::ids;
use crate::json::{parse_body, parse_body_or_empty};
use crate::party::{fields, run, ClientActor};
use crate::AppState;

/// A deposit (押金) held on the payer's wallet, as the API shows it.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Deposit)]
pub struct DepositJson {
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub order_number: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: String,
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub customer_id: String,
    /// Who receives what a capture takes.
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub beneficiary_account_id: String,
    #[schema(minimum = 0)]
    pub amount: i64,
    /// holding, held, refused, releasing, released, capturing or captured.
    pub status: DepositStatus,
    pub holds: Vec<HoldJson>,
    #[schema(minimum = 0)]
    pub captured: i64,
    pub captured_parts: Vec<PartJson>,
    #[schema(required, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    pub reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The enterprise member's operator who made it; null when none was named.
    #[schema(required, pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub operator_id: Option<String>,
}

impl From<&Deposit> for DepositJson {
    fn from(d: &Deposit) -> DepositJson {
        DepositJson {
            order_number: d.order_number.clone(),
            member_id: d.member_id.to_string(),
            customer_id: d.customer_id.clone(),
            beneficiary_account_id: d.beneficiary.to_string(),
            amount: d.amount,
            status: d.status,
            holds: d
                .holds
                .iter()
                .map(|h| HoldJson {
                    pending_id: h.pending_id.to_string(),
                    account_id: h.account_id.to_string(),
                    amount: h.amount,
                })
                .collect(),
            captured: d.captured,
            captured_parts: d
                .captured_parts
                .iter()
                .map(|p| PartJson { account_id: p.account_id.to_string(), amount: p.amount })
                .collect(),
            reason: d.reason.clone(),
            created_at: d.created_at.to_string(),
            operator_id: d.operator_id().map(|o| o.to_string()),
        }
    }
}

/// A deposit's request: exactly one of `beneficiary_account_id` and `beneficiary_platform_account`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DepositRequest)]
struct DepositBody {
    /// 1 to 64 printable ASCII characters, unique per API client and kind of order.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: String,
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
    /// The merchant's account a capture pays; or `beneficiary_platform_account`, one of the two.
    #[schema(nullable = false, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    beneficiary_account_id: Option<String>,
    /// A platform account's name.
    #[schema(
        pattern = "^(channel:[a-z0-9_-]{1,32}|subsidy:mem_[0-7][0-9A-HJKMNP-TV-Z]{25}|[a-z_]+)$",
        nullable = false
    )]
    beneficiary_platform_account: Option<String>,
    /// When the platform requires it. Left out of an Idempotency-Key's fingerprint; never stored.
    #[schema(nullable = false, pattern = "^[0-9]{6}$")]
    pay_password: Option<String>,
    /// The enterprise member's operator who makes the request: granted this operation on the
    /// accounts the money comes from, within its limits (`operator_not_authorised`,
    /// `operator_limit_exceeded`); required for enterprise members where the platform says so
    /// (`operator_required`).
    #[schema(nullable = false, pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    operator_id: Option<String>,
}

/// POST /v1/deposits: holds the deposit on the member's wallet. The same order number again answers
/// the deposit as it is.
#[utoipa::path(
    post,
    path = "/v1/deposits",
    tag = "wallet",
    operation_id = "holdDeposit",
    summary = "Hold a deposit",
    description = "Frozen on the member's wallet, never the beneficiary's money until captured. The same order number again answers the deposit as it is.",
    request_body = DepositBody,
    responses((status = 201, description = "The deposit.", body = DepositJson)),
)]
pub async fn hold(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    body: Bytes,
) -> Result<(StatusCode, Json<DepositJson>), ApiError> {
    let body: DepositBody = parse_body(&body)?;
    let beneficiary = receiver_of(
        ("beneficiary_account_id", body.beneficiary_account_id.as_deref()),
        ("beneficiary_platform_account", body.beneficiary_platform_account.as_deref()),
    )?;
    let request = DepositRequest {
        client: client_of(&actor)?,
        order_number: order_number("order_number", &body.order_number)?,
        member: ids::member_id("member_id", &body.member_id)?,
        amount: amount("amount", &body.amount)?,
        beneficiary,
        pay_password: body.pay_password,
        operator: body.operator_id.as_deref().map(|o| ids::operator_id("operator_id", o)).transpose()?,
    };
    let wallets = state.wallets().clone();
    let deposit = run(move || async move { wallets.hold_deposit(&request, &actor).await }).await?;
    tracing::info!(order.number = %deposit.order_number, member.id = %deposit.member_id, amount = deposit.amount, status = ?deposit.status, "deposit held");
    Ok((StatusCode::CREATED, Json(DepositJson::from(&deposit))))
}

/// GET /v1/deposits/{number}
#[utoipa::path(
    get,
    path = "/v1/deposits/{number}",
    tag = "wallet",
    operation_id = "getDeposit",
    summary = "Read a deposit",
    description = "By the caller's order number.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The deposit.", body = DepositJson)),
)]
pub async fn get_deposit(
    State(state): State<AppState>,
    OrderOf { client, number }: OrderOf,
) -> Result<Json<DepositJson>, ApiError> {
    let deposit = state.wallets().get_deposit(client, &number).await?;
    Ok(Json(DepositJson::from(&deposit)))
}

/// POST /v1/deposits/{number}/release: given back to the payer whole.
#[utoipa::path(
    post,
    path = "/v1/deposits/{number}/release",
    tag = "wallet",
    operation_id = "releaseDeposit",
    summary = "Release a deposit",
    description = "Given back to the payer whole. It is decided by the platform (an unbound client or staff) or by the beneficiary's side: a client bound to the beneficiary member, which names the payer's client with `client_id` to reach an order made for it. The payer's bound client is refused `deposit_release_not_allowed` (403): it cannot take back money it promised. A bound client that is neither payer nor beneficiary finds no such order (`deposit_not_found`).",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The deposit.", body = DepositJson)),
)]
pub async fn release(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    RefundOf { client, number, by }: RefundOf,
    body: Bytes,
) -> Result<Json<DepositJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let wallets = state.wallets().clone();
    let deposit = run(move || async move { wallets.release_deposit_by(client, &number, by, &actor).await }).await?;
    tracing::info!(order.number = %deposit.order_number, status = ?deposit.status, "deposit released");
    Ok(Json(DepositJson::from(&deposit)))
}

/// What a deposit's capture takes, and why.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DepositCaptureRequest)]
struct CaptureBody {
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
    /// Why, for the history: 1 to 200 characters without control characters.
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
}

/// POST /v1/deposits/{number}/capture: `amount` goes to the beneficiary (the damage), the rest back to
/// the payer.
#[utoipa::path(
    post,
    path = "/v1/deposits/{number}/capture",
    tag = "wallet",
    operation_id = "captureDeposit",
    summary = "Capture a deposit",
    description = "The amount (the damage) goes to the beneficiary, the rest back to the payer. It is decided by the platform (an unbound client or staff) or by the payer's side (the payer's bound client). The beneficiary's bound client, naming the payer's client with `client_id`, is refused `deposit_capture_not_allowed` (403): it cannot take money the payer has not let go. A bound client that is neither payer nor beneficiary finds no such order (`deposit_not_found`).",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = CaptureBody,
    responses((status = 200, description = "The deposit.", body = DepositJson)),
)]
pub async fn capture(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    RefundOf { client, number, by }: RefundOf,
    body: Bytes,
) -> Result<Json<DepositJson>, ApiError> {
    let body: CaptureBody = parse_body(&body)?;
    let amount = amount("amount", &body.amount)?;
    let reason = fields::reason(&body.reason)?;
    let wallets = state.wallets().clone();
    let deposit =
        run(move || async move { wallets.capture_deposit_by(client, &number, amount, &reason, by, &actor).await })
            .await?;
    tracing::info!(order.number = %deposit.order_number, captured = deposit.captured, status = ?deposit.status, "deposit captured");
    Ok(Json(DepositJson::from(&deposit)))
}
