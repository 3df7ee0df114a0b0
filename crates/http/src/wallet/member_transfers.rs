//! Transfers between members (转账): only between account types that may send and receive; the money
//! keeps its kind (subsidy money arrives in the receiver's subsidy account, recharged money in its
//! basic account); limits per transfer and per day.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::wallet::{MemberTransfer, MemberTransferRequest, MemberTransferStatus};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;

use super::{amount, client_of, order_number, OrderOf};
use crate::error::ApiError;
use crate::ids;
use crate::json::parse_body;
use crate::party::{run, ClientActor};
use crate::AppState;

/// A transfer between members (转账) as the API shows it.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = MemberTransfer)]
pub struct MemberTransferJson {
    #[schema(pattern = "^[!-~]{1,64}$")]
    pub order_number: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub sender_member_id: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub receiver_member_id: String,
    #[schema(minimum = 0)]
    pub amount: i64,
    /// Where each part went, by the money's kind, in the sender's deduction order.
    pub parts: Vec<TransferPartJson>,
    /// transferring, transferred or refused.
    pub status: MemberTransferStatus,
    #[schema(required, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    pub reason: Option<String>,
    #[schema(format = DateTime)]
    pub created_at: String,
    /// The enterprise member's operator who made it; null when none was named.
    #[schema(required, pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub operator_id: Option<String>,
}

/// From one of the sender's accounts to the receiver's account of the same type.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = TransferPart)]
pub struct TransferPartJson {
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub from_account_id: String,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub to_account_id: String,
    #[schema(pattern = "^[a-z][a-z0-9_]{0,31}$")]
    pub account_type: String,
    #[schema(minimum = 0)]
    pub amount: i64,
}

impl From<&MemberTransfer> for MemberTransferJson {
    fn from(t: &MemberTransfer) -> MemberTransferJson {
        MemberTransferJson {
            order_number: t.order_number.clone(),
            sender_member_id: t.sender_id.to_string(),
            receiver_member_id: t.receiver_id.to_string(),
            amount: t.amount,
            parts: t
                .parts
                .iter()
                .map(|p| TransferPartJson {
                    from_account_id: p.from_account.to_string(),
                    to_account_id: p.to_account.to_string(),
                    account_type: p.account_type.clone(),
                    amount: p.amount,
                })
                .collect(),
            status: t.status,
            reason: t.reason.clone(),
            created_at: t.created_at.to_string(),
            operator_id: t.operator_id().map(|o| o.to_string()),
        }
    }
}

/// A transfer's request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = MemberTransferRequest)]
struct TransferBody {
    /// 1 to 64 printable ASCII characters, unique per API client and kind of order.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    sender_member_id: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    receiver_member_id: String,
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
    /// The sender's pay password, when the platform requires it.
    #[schema(nullable = false, pattern = "^[0-9]{6}$")]
    pay_password: Option<String>,
    /// The enterprise member's operator who makes the request: granted this operation on the
    /// accounts the money comes from, within its limits (`operator_not_authorised`,
    /// `operator_limit_exceeded`); required for enterprise members where the platform says so
    /// (`operator_required`).
    #[schema(nullable = false, pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    operator_id: Option<String>,
}

/// POST /v1/member-transfers: one linked chain from the sender's accounts to the receiver's of the
/// same kind. The same order number again answers the transfer as it is.
#[utoipa::path(
    post,
    path = "/v1/member-transfers",
    tag = "wallet",
    operation_id = "transferToMember",
    summary = "Transfer between members",
    description = "From the sender's accounts that may send to the receiver's of the same kind (subsidy money stays subsidy), within the limits per transfer and per day (`transfer_not_allowed`, `transfer_limit_exceeded`, `daily_transfer_limit_exceeded`, `same_wallet`). The same order number again answers the transfer as it is.",
    request_body = TransferBody,
    responses((status = 201, description = "The transfer.", body = MemberTransferJson)),
)]
pub async fn transfer(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    body: Bytes,
) -> Result<(StatusCode, Json<MemberTransferJson>), ApiError> {
    let body: TransferBody = parse_body(&body)?;
    let request = MemberTransferRequest {
        client: client_of(&actor)?,
        order_number: order_number("order_number", &body.order_number)?,
        sender: ids::member_id("sender_member_id", &body.sender_member_id)?,
        receiver: ids::member_id("receiver_member_id", &body.receiver_member_id)?,
        amount: amount("amount", &body.amount)?,
        pay_password: body.pay_password,
        operator: body.operator_id.as_deref().map(|o| ids::operator_id("operator_id", o)).transpose()?,
    };
    let wallets = state.wallets().clone();
    let transfer = run(move || async move { wallets.transfer_to_member(&request, &actor).await }).await?;
    tracing::info!(order.number = %transfer.order_number, sender = %transfer.sender_id, receiver = %transfer.receiver_id, amount = transfer.amount, status = ?transfer.status, "member transfer");
    Ok((StatusCode::CREATED, Json(MemberTransferJson::from(&transfer))))
}

/// GET /v1/member-transfers/{number}
#[utoipa::path(
    get,
    path = "/v1/member-transfers/{number}",
    tag = "wallet",
    operation_id = "getMemberTransfer",
    summary = "Read a transfer between members",
    description = "By the caller's order number.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The transfer.", body = MemberTransferJson)),
)]
pub async fn get_transfer(
    State(state): State<AppState>,
    OrderOf { client, number }: OrderOf,
) -> Result<Json<MemberTransferJson>, ApiError> {
    let transfer = state.wallets().get_member_transfer(client, &number).await?;
    Ok(Json(MemberTransferJson::from(&transfer)))
}
