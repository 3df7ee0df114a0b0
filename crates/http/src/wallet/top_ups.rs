//! Cross-wallet top-up (002 case 08): a person's money moved from its wallet at one franchisee to its
//! wallet at another, where the brand allows it, with what the first owes the second recorded.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::wallet::{TopUpRequest, TopUpStatus, WalletTopUp};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;

use super::{amount, client_of, order_number, OrderOf};
use crate::error::ApiError;
use crate::ids;
use crate::json::parse_body;
use crate::party::{run, ClientActor};
use crate::AppState;

/// What the franchisee the money left owes the one it reached, for the two to settle.
#[derive(Serialize, ToSchema)]
#[schema(as = TopUpSettlement)]
pub struct SettlementJson {
    /// The merchant the money left (A).
    #[schema(pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    debtor_merchant_id: String,
    /// The merchant it reached (B).
    #[schema(pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    creditor_merchant_id: String,
    amount: i64,
}

/// A cross-wallet top-up.
#[derive(Serialize, ToSchema)]
#[schema(as = WalletTopUp)]
pub struct TopUpJson {
    #[schema(pattern = "^[!-~]{1,64}$")]
    order_number: String,
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    customer_id: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    from_member_id: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    to_member_id: String,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    from_account_id: String,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    to_account_id: String,
    amount: i64,
    /// moving, moved or failed.
    status: TopUpStatus,
    settlement: SettlementJson,
    #[schema(format = DateTime)]
    created_at: String,
}

impl From<&WalletTopUp> for TopUpJson {
    fn from(t: &WalletTopUp) -> TopUpJson {
        TopUpJson {
            order_number: t.order_number.clone(),
            customer_id: t.customer_id.clone(),
            from_member_id: t.from_member_id.to_string(),
            to_member_id: t.to_member_id.to_string(),
            from_account_id: t.from_account_id.to_string(),
            to_account_id: t.to_account_id.to_string(),
            amount: t.amount,
            status: t.status,
            settlement: SettlementJson {
                debtor_merchant_id: t.settlement.debtor_merchant_id.clone(),
                creditor_merchant_id: t.settlement.creditor_merchant_id.clone(),
                amount: t.settlement.amount,
            },
            created_at: t.created_at.to_string(),
        }
    }
}

/// A top-up's request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = WalletTopUpRequest)]
struct TopUpBody {
    /// 1 to 64 printable ASCII characters, unique per API client and kind of order.
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: String,
    /// The member (at franchisee A) whose wallet the money leaves.
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    from_member_id: String,
    /// The member (at franchisee B, the same person) whose wallet it reaches.
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    to_member_id: String,
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
    /// The member's pay password at the first franchisee, where the platform requires one. Left out of
    /// an Idempotency-Key's fingerprint; never stored.
    #[schema(nullable = false, pattern = "^[0-9]{6}$")]
    pay_password: Option<String>,
}

/// POST /v1/wallet-top-ups
#[utoipa::path(
    post,
    path = "/v1/wallet-top-ups",
    tag = "wallet",
    operation_id = "topUpWallet",
    summary = "Move money between one person's wallets at two franchisees",
    description = "From the recharge account of the member at one franchisee to the same account of the member at \
        another, as one linked chain, where both franchisees' settings allow it under one top \
        (`cross_wallet_top_up_not_allowed`); both members the same person's (`top_up_members_differ`). What the first \
        franchisee owes the second is recorded as a settlement item (on the top-up and in both merchants' \
        histories). A client bound to a member names members it reaches only (both: 404 `member_not_found` \
        otherwise). Taken in turn on both wallets. The same number again answers the top-up as it is.",
    request_body = TopUpBody,
    responses((status = 201, description = "The top-up.", body = TopUpJson))
)]
pub async fn top_up(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    body: Bytes,
) -> Result<(StatusCode, Json<TopUpJson>), ApiError> {
    let body: TopUpBody = parse_body(&body)?;
    let request = TopUpRequest {
        client: client_of(&actor)?,
        order_number: order_number("order_number", &body.order_number)?,
        from: ids::member_id("from_member_id", &body.from_member_id)?,
        to: ids::member_id("to_member_id", &body.to_member_id)?,
        amount: amount("amount", &body.amount)?,
        pay_password: body.pay_password,
    };
    let wallets = state.wallets().clone();
    let top_up = run(move || async move { wallets.top_up(&request, &actor).await }).await?;
    tracing::info!(top_up.number = %top_up.order_number, amount = top_up.amount, status = ?top_up.status, "wallet top-up");
    Ok((StatusCode::CREATED, Json(TopUpJson::from(&top_up))))
}

/// GET /v1/wallet-top-ups/{number}
#[utoipa::path(
    get,
    path = "/v1/wallet-top-ups/{number}",
    tag = "wallet",
    operation_id = "getWalletTopUp",
    summary = "Read a cross-wallet top-up",
    description = "By the caller's order number.",
    params(
        ("number" = String, Path, description = super::ORDER_NUMBER_PARAM, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$"),
        ("client_id" = Option<String>, Query, nullable = false, description = super::ORDER_CLIENT_ID_PARAM, pattern = "^cli_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The top-up.", body = TopUpJson))
)]
pub async fn get_top_up(
    State(state): State<AppState>,
    OrderOf { client, number }: OrderOf,
) -> Result<Json<TopUpJson>, ApiError> {
    let top_up = state.wallets().get_top_up(client, &number).await?;
    Ok(Json(TopUpJson::from(&top_up)))
}
