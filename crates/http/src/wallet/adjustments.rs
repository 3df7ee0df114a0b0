//! Manual adjustments (调账): a credit or debit of a member's account with a reason. At or above the
//! configured amount it waits for a second person's approval (maker-checker) before it takes effect;
//! the maker cannot approve it. The maker and the checker are the staff members the back-office
//! system names in `acting_staff` (it signs the request and vouches for them), or else the API
//! client itself; or the staff members signed in who make and approve it (`acting_staff` is then
//! refused). Whatever persons are named, the approval comes through another principal than the
//! making: another API client (naming the maker's orders with `?client_id=`) or a staff member
//! signed in. One key naming two staff members is one principal, and is refused.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::party::change::StaffName;
use sanhu_core::party::Actor;
use sanhu_service::wallet::{Adjustment, AdjustmentDirection, AdjustmentStatus};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;

use super::{amount, client_of, order_number, OrderOf};
use crate::error::{code, ApiError};
use crate::ids;
use crate::json::{parse_body, parse_body_or_empty};
use crate::party::{fields, run, ClientActor};
use crate::AppState;

/// A manual adjustment (调账) as the API shows it.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Adjustment)]
pub struct AdjustmentJson {
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub adjustment_number: String,
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub customer_id: String,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    /// `credit` (money into the member's account) or `debit`.
    pub direction: AdjustmentDirection,
    #[schema(minimum = 0)]
    pub amount: i64,
    #[schema(value_type = sanhu_core::party::change::Reason, inline)]
    pub reason: String,
    pub maker: String,
    #[schema(required)]
    pub checker: Option<String>,
    /// awaiting_approval, applying, applied or refused.
    pub status: AdjustmentStatus,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&Adjustment> for AdjustmentJson {
    fn from(a: &Adjustment) -> AdjustmentJson {
        AdjustmentJson {
            adjustment_number: a.number.clone(),
            customer_id: a.customer_id.clone(),
            account_id: a.account_id.to_string(),
            direction: a.direction,
            amount: a.amount,
            reason: a.reason.clone(),
            maker: a.maker.clone(),
            checker: a.checker.clone(),
            status: a.status,
            created_at: a.created_at.to_string(),
        }
    }
}

/// An adjustment's request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AdjustRequest)]
struct AdjustBody {
    /// 1 to 64 printable ASCII characters, unique per API client and kind of order.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    adjustment_number: String,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: String,
    /// `credit` or `debit`.
    #[schema(value_type = AdjustmentDirection)]
    direction: String,
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
    /// Why, for the history: 1 to 200 characters without control characters.
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
    /// The staff member making it, when the signing system acts for one.
    #[schema(nullable = false, min_length = 1, max_length = 64)]
    acting_staff: Option<String>,
}

/// An adjustment's approval: empty, or the checker the signing system acts for.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ApproveAdjustmentRequest)]
struct ApproveBody {
    /// The staff member approving it, when the signing system acts for one.
    #[schema(nullable = false, min_length = 1, max_length = 64)]
    acting_staff: Option<String>,
}

/// The person a request acts as: the named staff member, or the signing client. A staff member
/// signed in acts as themself and names nobody else: that is what makes the checker another person.
fn person(client_actor: Actor, acting_staff: Option<&str>) -> Result<Actor, ApiError> {
    match acting_staff {
        None => Ok(client_actor),
        Some(_) if matches!(client_actor, Actor::Staff(_)) => Err(ApiError::new(
            code::INVALID_FIELD,
            "acting_staff: a staff member signed in acts as themself; acting_staff is for a system acting for one",
        )),
        Some(name) => StaffName::parse(name).map(Actor::Staff).map_err(|e| fields::refused("acting_staff", e)),
    }
}

/// POST /v1/adjustments: applied at once below the approval threshold, else waiting for approval.
/// The same number again answers the adjustment as it is.
#[utoipa::path(
    post,
    path = "/v1/adjustments",
    tag = "wallet",
    operation_id = "adjust",
    summary = "Make a manual adjustment",
    description = "A credit or debit of a member account with a reason; at or above the configured amount it waits for a second person's approval. The same number again answers the adjustment as it is.",
    request_body = AdjustBody,
    responses((status = 201, description = "The adjustment.", body = AdjustmentJson)),
)]
pub async fn adjust(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    body: Bytes,
) -> Result<(StatusCode, Json<AdjustmentJson>), ApiError> {
    let body: AdjustBody = parse_body(&body)?;
    let client = client_of(&actor)?;
    let number = order_number("adjustment_number", &body.adjustment_number)?;
    let account = ids::account_id("account_id", &body.account_id)?;
    let direction = match body.direction.as_str() {
        "credit" => AdjustmentDirection::Credit,
        "debit" => AdjustmentDirection::Debit,
        _ => return Err(ApiError::new(code::INVALID_DIRECTION, "direction must be \"credit\" or \"debit\"")),
    };
    let amount = amount("amount", &body.amount)?;
    let reason = fields::reason(&body.reason)?;
    let maker = person(actor.clone(), body.acting_staff.as_deref())?;
    let wallets = state.wallets().clone();
    let adjustment = run(move || async move {
        wallets.adjust(client, &number, account, direction, amount, &reason, &maker, &actor).await
    })
    .await?;
    tracing::info!(adjustment.number = %adjustment.number, account.id = %adjustment.account_id, amount = adjustment.amount, status = ?adjustment.status, "adjustment");
    Ok((StatusCode::CREATED, Json(AdjustmentJson::from(&adjustment))))
}

/// GET /v1/adjustments/{number}
#[utoipa::path(
    get,
    path = "/v1/adjustments/{number}",
    tag = "wallet",
    operation_id = "getAdjustment",
    summary = "Read an adjustment",
    description = "By the caller's adjustment number.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The adjustment.", body = AdjustmentJson)),
)]
pub async fn get_adjustment(
    State(state): State<AppState>,
    OrderOf { client, number }: OrderOf,
) -> Result<Json<AdjustmentJson>, ApiError> {
    let adjustment = state.wallets().get_adjustment(client, &number).await?;
    Ok(Json(AdjustmentJson::from(&adjustment)))
}

/// POST /v1/adjustments/{number}/approve: a second person approves; then it is applied.
#[utoipa::path(
    post,
    path = "/v1/adjustments/{number}/approve",
    tag = "wallet",
    operation_id = "approveAdjustment",
    summary = "Approve an adjustment",
    description = "By another person than its maker, through another principal: another API client (naming the maker's client with `?client_id=`) or a staff member signed in; the client that made it is refused whatever `acting_staff` it names (`adjustment_same_actor`). Then it is applied.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = Option<ApproveBody>,
    responses((status = 200, description = "The adjustment.", body = AdjustmentJson)),
)]
pub async fn approve_adjustment(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OrderOf { client, number }: OrderOf,
    body: Bytes,
) -> Result<Json<AdjustmentJson>, ApiError> {
    let body: ApproveBody = parse_body_or_empty(&body)?;
    let wallets = state.wallets().clone();
    let checker = person(actor.clone(), body.acting_staff.as_deref())?;
    let adjustment =
        run(move || async move { wallets.approve_adjustment(client, &number, &checker, &actor).await }).await?;
    tracing::info!(adjustment.number = %adjustment.number, status = ?adjustment.status, "adjustment approved");
    Ok(Json(AdjustmentJson::from(&adjustment)))
}
