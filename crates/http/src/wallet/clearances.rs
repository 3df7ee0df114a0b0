//! Clearing a member's wallet offline (002 case 08): a franchisee that refunded its member in cash
//! asks for the wallet at it to be zeroed; the money is set aside at once and the platform's staff
//! review it through maker-checker (a staff member's review waits for a second one).

use axum::body::Bytes;
use axum::extract::{FromRequestParts, Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::id::MerchantId;
use sanhu_service::wallet::{ClearanceDecision, ClearanceRequest, ClearanceStatus, OrderNumber, WalletClearance};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::order_number;
use crate::error::{code, ApiError};
use crate::ids;
use crate::json::parse_body;
use crate::party::{fields, run, ClientActor};
use crate::principal::ApprovedRequest;
use crate::AppState;

/// The merchant and the clearance number of `/v1/merchants/{id}/wallet-clearances/{number}`.
pub struct ClearancePath(pub MerchantId, pub OrderNumber);

impl<S: Send + Sync> FromRequestParts<S> for ClearancePath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ClearancePath, ApiError> {
        let Path((id, number)) = Path::<(String, String)>::from_request_parts(parts, state)
            .await
            .map_err(|_| ApiError::new(code::INVALID_ID, "the ids in the path cannot be read"))?;
        let id = MerchantId::parse(&id).ok_or_else(|| {
            ApiError::new(code::INVALID_ID, "the merchant id in the path is not a merchant id (mch_ and 26 characters)")
        })?;
        Ok(ClearancePath(id, order_number("clearance_number", &number)?))
    }
}

/// One account's money a clearance set aside.
#[derive(Serialize, ToSchema)]
#[schema(as = ClearedAccount)]
pub struct ClearedPartJson {
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: String,
    #[schema(minimum = 1)]
    amount: i64,
    /// Where it goes: the merchant's account (the recharged money), or the platform's marketing
    /// expense (a bonus, which the platform paid).
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    receiver_account_id: String,
}

/// A clearance of a member's wallet at a merchant.
#[derive(Serialize, ToSchema)]
#[schema(as = WalletClearance)]
pub struct ClearanceJson {
    #[schema(pattern = "^[!-~]{1,64}$")]
    clearance_number: String,
    #[schema(pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    merchant_id: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: String,
    /// The merchant's member's account that receives the money.
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    receiver_account_id: String,
    /// What was set aside, all the wallet held.
    amount: i64,
    accounts: Vec<ClearedPartJson>,
    #[schema(value_type = sanhu_core::party::change::Reason, inline)]
    reason: String,
    /// holding, under_review, clearing, cleared, rejecting, rejected or refused.
    status: ClearanceStatus,
    /// Who asked for it.
    maker: String,
    /// The staff member who reviewed it, and (`checker`) the one who approved the review.
    #[schema(required)]
    reviewer: Option<String>,
    #[schema(required)]
    checker: Option<String>,
    #[schema(required)]
    review_reason: Option<String>,
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<&WalletClearance> for ClearanceJson {
    fn from(c: &WalletClearance) -> ClearanceJson {
        ClearanceJson {
            clearance_number: c.number.clone(),
            merchant_id: c.merchant_id.clone(),
            member_id: c.member_id.clone(),
            receiver_account_id: c.receiver_account_id.to_string(),
            amount: c.amount,
            accounts: c
                .parts
                .iter()
                .map(|p| ClearedPartJson {
                    account_id: p.account_id.to_string(),
                    amount: p.amount,
                    receiver_account_id: p.receiver_account_id.to_string(),
                })
                .collect(),
            reason: c.reason.clone(),
            status: c.status,
            maker: c.maker.clone(),
            reviewer: c.reviewer.clone(),
            checker: c.checker.clone(),
            review_reason: c.review_reason.clone(),
            created_at: c.created_at.to_string(),
        }
    }
}

/// Asking for a member's wallet to be cleared.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WalletClearanceRequest)]
struct ClearanceBody {
    /// 1 to 64 printable ASCII characters, unique per merchant.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    clearance_number: String,
    /// The merchant's member whose wallet is cleared.
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: String,
    /// Why (the cash refunded, say): 1 to 200 characters without control characters.
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
}

/// POST /v1/merchants/{id}/wallet-clearances
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/wallet-clearances",
    tag = "wallet",
    operation_id = "requestWalletClearance",
    summary = "Ask for a member's wallet at the merchant to be cleared",
    description = "The merchant refunded its member offline (in cash) and asks for the member's wallet there to be \
        zeroed: all its money is set aside at once, the recharged money held for the merchant's account (its settings' \
        `clearance_account_type`, else its merchant type's first account; `clearance_account_unavailable`) and a \
        bonus for the platform's marketing expense, and moved when staff approve the review (other money, a \
        subsidy: `wallet_money_not_clearable`). Refused for a member not the merchant's (`wallet_not_merchants`), a \
        wallet with money held or a debt (`wallet_has_held_money`), or nothing in it (`wallet_already_clear`). The \
        same number again answers the clearance as it is (another member: `order_number_reused`).",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = ClearanceBody,
    responses((status = 201, description = "The clearance, under review.", body = ClearanceJson))
)]
pub async fn request_clearance(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    crate::party::merchants::MerchantIdPath(id): crate::party::merchants::MerchantIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<ClearanceJson>), ApiError> {
    let body: ClearanceBody = parse_body(&body)?;
    let request = ClearanceRequest {
        merchant: id,
        number: order_number("clearance_number", &body.clearance_number)?,
        member: ids::member_id("member_id", &body.member_id)?,
        reason: fields::reason(&body.reason)?,
    };
    let wallets = state.wallets().clone();
    let clearance = run(move || async move { wallets.request_clearance(&request, &actor).await }).await?;
    tracing::info!(merchant.id = %id, clearance.number = %clearance.number, amount = clearance.amount, status = ?clearance.status, "wallet clearance asked for");
    Ok((StatusCode::CREATED, Json(ClearanceJson::from(&clearance))))
}

/// GET /v1/merchants/{id}/wallet-clearances/{number}
#[utoipa::path(
    get,
    path = "/v1/merchants/{id}/wallet-clearances/{number}",
    tag = "wallet",
    operation_id = "getWalletClearance",
    summary = "Read a clearance of a member's wallet",
    description = "By the merchant's clearance number (`clearance_not_found`).",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("number" = String, Path, description = "The clearance number.", min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
    ),
    responses((status = 200, description = "The clearance.", body = ClearanceJson))
)]
pub async fn get_clearance(
    State(state): State<AppState>,
    ClearancePath(id, number): ClearancePath,
) -> Result<Json<ClearanceJson>, ApiError> {
    let clearance = state.wallets().get_clearance(id, &number).await?;
    Ok(Json(ClearanceJson::from(&clearance)))
}

/// A review of a clearance.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WalletClearanceReviewRequest)]
struct ReviewBody {
    /// `approve` or `reject`.
    #[schema(examples("approve"), pattern = "^(approve|reject)$")]
    decision: String,
    #[schema(nullable = false, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    reason: Option<String>,
}

/// POST /v1/merchants/{id}/wallet-clearances/{number}/review
#[utoipa::path(
    post,
    path = "/v1/merchants/{id}/wallet-clearances/{number}/review",
    tag = "wallet",
    operation_id = "reviewWalletClearance",
    summary = "Decide a clearance of a member's wallet",
    description = "Staff's decision, through maker-checker: a staff member's request is held (202, an approval) and \
        applied when another staff member approves it; an API client's is refused (`clearance_review_staff_only`). \
        Approved, the money set aside is posted to the merchant's account (the wallet is zero); rejected, it is \
        given back to the member. Under review only (`clearance_not_under_review`; the same decision again \
        answers the clearance as it is).",
    params(
        ("id" = String, Path, description = "The merchant's id.", pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("number" = String, Path, description = "The clearance number.", min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
    ),
    request_body = ReviewBody,
    responses((status = 200, description = "The clearance after the decision.", body = ClearanceJson))
)]
pub async fn review_clearance(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    approved: Option<axum::Extension<ApprovedRequest>>,
    ClearancePath(id, number): ClearancePath,
    body: Bytes,
) -> Result<Json<ClearanceJson>, ApiError> {
    let body: ReviewBody = parse_body(&body)?;
    let Some(axum::Extension(approved)) = approved else {
        return Err(ApiError::refused(sanhu_service::wallet::CLEARANCE_REVIEW_STAFF_ONLY));
    };
    let decision = match body.decision.as_str() {
        "approve" => ClearanceDecision::Approve,
        "reject" => ClearanceDecision::Reject,
        _ => return Err(ApiError::new(code::INVALID_FIELD, "decision is approve or reject").within("decision")),
    };
    let reason = body.reason.as_deref().map(fields::reason).transpose()?;
    let checker = approved.checker.as_ref().map(|c| c.actor());
    let wallets = state.wallets().clone();
    let clearance = run(move || async move {
        wallets.review_clearance(id, &number, decision, reason.as_ref(), &actor, checker.as_ref()).await
    })
    .await?;
    tracing::info!(merchant.id = %id, clearance.number = %clearance.number, status = ?clearance.status, "wallet clearance reviewed");
    Ok(Json(ClearanceJson::from(&clearance)))
}
