//! A card's life and money: sold, activated, bound to a member, recharged, paid with, refunded to,
//! frozen or reported lost, unfrozen; its transactions.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::id::CardBatchId;
use sanhu_service::card::{
    Card, CardFailure, CardTransaction, PaymentRequest, RechargeRequest, RefundRequest, SaleRequest,
};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;

use super::{owner_text, CardCaller, ChannelJson, TermsJson};
use crate::error::{code, ApiError};
use crate::json::parse_body;
use crate::party::ActorText;
use crate::principal::Binding;
use crate::query::QueryParams;
use crate::wallet::amount;
use crate::AppState;

/// A card number in the path: digits ending in its Luhn check digit.
pub(crate) fn card_number(text: &str) -> Result<String, ApiError> {
    sanhu_core::card::check_number(text).map(str::to_owned).map_err(|e| ApiError::use_case(CardFailure::from(e)))
}

/// A card as the API shows it; amounts in minor units.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Card)]
pub struct CardView {
    /// Its number: the segment's prefix, a serial, a Luhn check digit.
    #[schema(pattern = "^[0-9]{7,21}$")]
    pub number: String,
    #[schema(value_type = sanhu_core::id::CardBatchId, inline)]
    pub batch_id: String,
    #[schema(value_type = sanhu_core::id::CardTypeId, inline)]
    pub type_id: String,
    /// The type's version whose terms it carries.
    #[schema(minimum = 1)]
    pub type_version: i64,
    /// `platform`, or the merchant's id.
    #[schema(pattern = "^(platform|mch_[0-7][0-9A-HJKMNP-TV-Z]{25})$")]
    pub owner: String,
    /// The member it is bound to.
    #[schema(required = true, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: Option<String>,
    /// Its ledger account, which holds its balance.
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    /// `sold` (not activated yet), `active`, `frozen`, `lost` (reported lost: re-issued, never
    /// unfrozen), `expired`, `reissued` (dead: `replaced_by` is the card) or `cancelled` (dead).
    #[schema(value_type = sanhu_core::card::CardStatus, inline)]
    pub status: &'static str,
    /// Frozen because reported lost (挂失).
    pub lost: bool,
    #[schema(required = true, max_length = 200)]
    pub status_reason: Option<String>,
    pub channel: ChannelJson,
    /// What it gives, as copied when it was sold.
    pub terms: TermsJson,
    /// What its account holds.
    #[schema(minimum = 0)]
    pub balance: i64,
    /// Who sold it.
    #[schema(value_type = ActorText, inline)]
    pub sold_by: String,
    #[schema(format = DateTime)]
    pub sold_at: String,
    #[schema(required = true, format = DateTime)]
    pub activated_at: Option<String>,
    /// Its validity, once activated.
    #[schema(required = true, format = DateTime)]
    pub valid_from: Option<String>,
    #[schema(required = true, format = DateTime)]
    pub valid_until: Option<String>,
    #[schema(required = true, format = DateTime)]
    pub bound_at: Option<String>,
    /// A re-issued card: its successor (补卡), which carries its balance, terms, validity and member.
    #[schema(required = true, pattern = "^[0-9]{7,21}$")]
    pub replaced_by: Option<String>,
    /// A re-issued card's successor: the card it replaced.
    #[schema(required = true, pattern = "^[0-9]{7,21}$")]
    pub replaces: Option<String>,
    /// When it expired.
    #[schema(required = true, format = DateTime)]
    pub expired_at: Option<String>,
}

impl From<&Card> for CardView {
    fn from(c: &Card) -> CardView {
        let text = |t: Option<sanhu_core::Timestamp>| t.map(|t| t.to_string());
        CardView {
            number: c.number.clone(),
            batch_id: c.batch_id.to_string(),
            type_id: c.type_id.to_string(),
            type_version: c.type_version,
            owner: owner_text(c.owner),
            member_id: c.member_id.map(|m| m.to_string()),
            account_id: c.account_id.to_string(),
            status: c.status.as_str(),
            lost: c.lost,
            status_reason: c.status_reason.clone(),
            channel: ChannelJson::of(c.channel),
            terms: TermsJson::of(&c.terms),
            balance: c.balance,
            sold_by: c.sold_by.clone(),
            sold_at: c.sold_at.to_string(),
            activated_at: text(c.activated_at),
            valid_from: text(c.valid_from),
            valid_until: text(c.valid_until),
            bound_at: text(c.bound_at),
            replaced_by: c.replaced_by.clone(),
            replaces: c.replaces.clone(),
            expired_at: text(c.expired_at),
        }
    }
}

/// One of a card's transactions.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CardTransaction)]
pub struct CardTransactionView {
    /// The caller's order number (or the one derived from its Idempotency-Key).
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    pub order_number: String,
    /// `sale`, `recharge`, `payment`, `refund`, or a closing that moved all the card held:
    /// `reissue` (to its successor), `forfeit` (expired, to the platform's card-forfeit income),
    /// `cancel` (refunded).
    #[schema(value_type = TransactionKindJson, inline)]
    pub kind: &'static str,
    #[schema(pattern = "^[0-9]{7,21}$")]
    pub card_number: String,
    /// What it moved into or out of the card: a payment, what it took after the discount (0 for a
    /// sale of a card that holds no money).
    #[schema(minimum = 0)]
    pub amount: i64,
    /// A payment: the order's amount before the discount; a sale: the price paid for the card.
    #[schema(required = true, minimum = 0)]
    pub order_amount: Option<i64>,
    /// A payment: the order's amount less what it took.
    #[schema(minimum = 0)]
    pub discount: i64,
    /// A payment: the rate applied, in basis points of the price.
    #[schema(required = true, minimum = 1, maximum = 10000)]
    pub rate_bp: Option<u32>,
    /// A payment: the business line named (1 to 32 characters a-z 0-9 _).
    #[schema(required = true, pattern = "^[a-z0-9_]{1,32}$")]
    pub business_line: Option<String>,
    /// The account on the other side: a recharge's channel clearing account, a payment's or refund's
    /// receiver.
    #[schema(required = true, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub counter_account_id: Option<String>,
    /// A refund: the payment's order number.
    #[schema(required = true, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    pub payment_number: Option<String>,
    /// A payment: what its refunds gave back.
    #[schema(minimum = 0)]
    pub refunded: i64,
    /// A payment with a checkout quote: the quote.
    #[schema(required = true, pattern = "^quo_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub quote_id: Option<String>,
    /// A payment with a checkout quote: the coupons it redeemed.
    #[schema(value_type = Vec<sanhu_core::id::CouponId>, inline)]
    pub coupon_ids: Vec<String>,
    /// A payment with a checkout quote: what its coupons took off (`order_amount` = `amount` +
    /// `discount` + `coupon_deduction`).
    #[schema(minimum = 0)]
    pub coupon_deduction: i64,
    /// A payment at a store's counter: the receiving merchant's store; null when none was named.
    #[schema(required = true, pattern = "^sto_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub store_id: Option<String>,
    /// The store's terminal that sent it; null when none was named.
    #[schema(required = true, pattern = "^trm_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub terminal_id: Option<String>,
    /// `succeeded`, `failed`, or `in_flight` (its ledger answer not recorded yet; a retry finishes it).
    #[schema(value_type = TransactionStatusJson, inline)]
    pub status: &'static str,
    /// Why it failed (`insufficient_funds`, ...): an error code.
    #[schema(required = true, pattern = "^[a-z][a-z0-9_]{0,63}$")]
    pub refusal: Option<String>,
    /// Its ledger transfers, each with the card's number as reference.
    #[schema(value_type = Vec<sanhu_core::TransferId>, inline)]
    pub transfer_ids: Vec<String>,
    /// A re-issue: the successor's number.
    #[schema(required = true, pattern = "^[0-9]{7,21}$")]
    pub successor: Option<String>,
    /// A cancellation: how the balance was refunded (`wallet`, `cash`, or `none` for a card that holds
    /// no money).
    #[schema(required = true, pattern = "^(wallet|cash|none)$")]
    pub refund_method: Option<String>,
    /// A refund of a payment whose card was re-issued since: the card that received it (the last of
    /// the successors); `card_number` stays the card the payment was made with. Null otherwise.
    #[schema(required = true, pattern = "^[0-9]{7,21}$")]
    pub refunded_to_card: Option<String>,
    /// A refund of a payment whose card (or its last successor) was cancelled since: the member's
    /// wallet account the cancellation refunded the balance to, which received it. Null otherwise.
    #[schema(required = true, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub refunded_to_account_id: Option<String>,
    #[schema(value_type = ActorText, inline)]
    pub actor: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&CardTransaction> for CardTransactionView {
    fn from(t: &CardTransaction) -> CardTransactionView {
        CardTransactionView {
            order_number: t.order_number.clone(),
            kind: t.kind.as_str(),
            card_number: t.card_number.clone(),
            amount: t.amount,
            order_amount: t.order_amount,
            discount: t.discount,
            rate_bp: t.rate_bp,
            business_line: t.business_line.clone(),
            counter_account_id: t.counter_account.map(|a| a.to_string()),
            payment_number: t.payment_number.clone(),
            refunded: t.refunded,
            quote_id: t.quote_id.clone(),
            coupon_ids: t.coupons.clone(),
            coupon_deduction: t.coupon_deduction,
            store_id: t.store_id.clone(),
            terminal_id: t.terminal_id.clone(),
            status: t.status.as_str(),
            refusal: t.refusal.clone(),
            transfer_ids: t.transfers.iter().map(|id| id.to_string()).collect(),
            successor: t.successor.clone(),
            refund_method: t.refund_method.clone(),
            refunded_to_card: t.refunded_to_card.clone(),
            refunded_to_account_id: t.refunded_to_account.map(|a| a.to_string()),
            actor: t.actor.clone(),
            created_at: t.created_at.to_string(),
        }
    }
}

/// A page of a card's transactions, newest first.
#[derive(Serialize, ToSchema)]
pub struct CardTransactionList {
    data: Vec<CardTransactionView>,
    /// Pass as `cursor` for the next page; null on the last page.
    #[schema(required = true, pattern = "^[0-9]{1,19}\\.[!-~]{1,200}$")]
    next_cursor: Option<String>,
}

/// A money request's answer: the transaction, created.
pub(crate) fn created(done: CardTransaction) -> Result<(StatusCode, Json<CardTransactionView>), ApiError> {
    Ok((StatusCode::CREATED, Json(CardTransactionView::from(&done))))
}

pub(crate) const NUMBER_PARAM: &str = "The card's number.";

/// A sale.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = SellCardRequest)]
struct SellBody {
    /// 1 to 64 printable ASCII characters, unique per API client; derived from the Idempotency-Key when absent.
    #[serde(default)]
    #[schema(nullable = false, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: Option<String>,
    #[schema(pattern = "^cbt_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    batch_id: String,
    /// The payment channel the buyer paid through (a stored-value card sold at a price needs one).
    #[serde(default)]
    #[schema(nullable = false, pattern = "^[a-z0-9_-]{1,32}$", examples("alipay"))]
    payment_channel: Option<String>,
}

/// POST /v1/cards
#[utoipa::path(
    post,
    path = "/v1/cards",
    tag = "cards",
    operation_id = "sellCard",
    summary = "Sell a card",
    description = "The next card of an approved batch (409 `card_batch_not_approved` before marketing and finance have both approved; `card_batch_sold_out` after its last). A stored-value card's face value is credited to its own ledger account: the sale price from the payment channel's clearing account, the rest from marketing expense. The same order number answers the same card.",
    request_body = SellBody,
    responses((status = 201, description = "The card, sold (not activated).", body = CardView)),
)]
pub async fn sell_card(
    State(state): State<AppState>,
    caller: CardCaller,
    body: Bytes,
) -> Result<(StatusCode, Json<CardView>), ApiError> {
    let body: SellBody = parse_body(&body)?;
    let (client, order_number) = caller.order(body.order_number.as_deref())?;
    let request = SaleRequest {
        client,
        order_number,
        batch_id: CardBatchId::parse(&body.batch_id)
            .ok_or_else(|| ApiError::new(code::INVALID_ID, "batch_id is not a batch id (cbt_ and 26 characters)"))?,
        payment_channel: body.payment_channel,
    };
    let card = state.cards().sell_card(request, caller.binding, &caller.actor).await?;
    tracing::info!(card.number = %card.number, batch.id = %card.batch_id, "card sold");
    Ok((StatusCode::CREATED, Json(CardView::from(&card))))
}

/// GET /v1/cards/{number}
#[utoipa::path(
    get,
    path = "/v1/cards/{number}",
    tag = "cards",
    operation_id = "getCard",
    summary = "Read a card",
    description = "With its balance, status, validity and the terms it carries.",
    params(("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$")),
    responses((status = 200, description = "The card.", body = CardView))
)]
pub async fn get_card(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(number): Path<String>,
) -> Result<Json<CardView>, ApiError> {
    let card = state.cards().card(&card_number(&number)?, binding).await?;
    Ok(Json(CardView::from(&card)))
}

/// An activation's (empty) body.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ActivateCardRequest)]
struct ActivateBody {}

/// POST /v1/cards/{number}/activate
#[utoipa::path(
    post,
    path = "/v1/cards/{number}/activate",
    tag = "cards",
    operation_id = "activateCard",
    summary = "Activate a card",
    description = "A sold card becomes active: its validity starts (N days from now, or its fixed dates).",
    params(("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$")),
    request_body(content = Option<ActivateBody>, description = "May be empty."),
    responses((status = 200, description = "The card.", body = CardView)),
)]
pub async fn activate_card(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<Json<CardView>, ApiError> {
    let _: ActivateBody = crate::json::parse_body_or_empty(&body)?;
    let card = state.cards().activate_card(&card_number(&number)?, binding).await?;
    Ok(Json(CardView::from(&card)))
}

/// A binding to a member.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BindCardRequest)]
struct BindBody {
    /// The member the card is given to.
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: String,
}

/// POST /v1/cards/{number}/bind
#[utoipa::path(
    post,
    path = "/v1/cards/{number}/bind",
    tag = "cards",
    operation_id = "bindCard",
    summary = "Bind a card to a member",
    description = "Once: a card bound already is 409 `card_member_already_bound`.",
    params(("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$")),
    request_body = BindBody,
    responses((status = 200, description = "The card.", body = CardView)),
)]
pub async fn bind_card(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<Json<CardView>, ApiError> {
    let body: BindBody = parse_body(&body)?;
    let member = crate::ids::member_id("member_id", &body.member_id)?;
    let card = state.cards().bind_card(&card_number(&number)?, member, binding).await?;
    Ok(Json(CardView::from(&card)))
}

/// A freeze.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = FreezeCardRequest)]
struct FreezeBody {
    /// Why (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
    /// Reported lost (挂失) rather than frozen.
    #[serde(default)]
    lost: bool,
}

/// An unfreeze.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UnfreezeCardRequest)]
struct UnfreezeBody {
    /// Why (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
}

pub(crate) fn reason(text: String) -> Result<String, ApiError> {
    let ok = (1..=200).contains(&text.chars().count()) && !text.chars().any(char::is_control);
    ok.then_some(text).ok_or_else(|| ApiError::new(code::INVALID_FIELD, "reason is 1 to 200 characters"))
}

/// POST /v1/cards/{number}/freeze
#[utoipa::path(
    post,
    path = "/v1/cards/{number}/freeze",
    tag = "cards",
    operation_id = "freezeCard",
    summary = "Freeze a card or report it lost",
    description = "An active card is frozen: nothing is paid with it until it is unfrozen; its ledger account's debits are blocked. With `lost` it is reported lost (挂失), as `POST /v1/cards/{number}/report-lost` does: status `lost`, never unfrozen (409 `card_lost`) but re-issued.",
    params(("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$")),
    request_body = FreezeBody,
    responses((status = 200, description = "The card.", body = CardView)),
)]
pub async fn freeze_card(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<Json<CardView>, ApiError> {
    let body: FreezeBody = parse_body(&body)?;
    let card = state.cards().freeze_card(&card_number(&number)?, body.lost, reason(body.reason)?, binding).await?;
    Ok(Json(CardView::from(&card)))
}

/// POST /v1/cards/{number}/unfreeze
#[utoipa::path(
    post,
    path = "/v1/cards/{number}/unfreeze",
    tag = "cards",
    operation_id = "unfreezeCard",
    summary = "Unfreeze a card",
    description = "A frozen card is active again. A card reported lost is not (409 `card_lost`): it is re-issued (`POST /v1/cards/{number}/reissue`).",
    params(("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$")),
    request_body = UnfreezeBody,
    responses((status = 200, description = "The card.", body = CardView)),
)]
pub async fn unfreeze_card(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<Json<CardView>, ApiError> {
    let body: UnfreezeBody = parse_body(&body)?;
    let card = state.cards().unfreeze_card(&card_number(&number)?, reason(body.reason)?, binding).await?;
    Ok(Json(CardView::from(&card)))
}

/// A recharge.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RechargeCardRequest)]
struct RechargeBody {
    #[serde(default)]
    #[schema(nullable = false, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: Option<String>,
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
    /// The payment channel the member paid through.
    #[schema(pattern = "^[a-z0-9_-]{1,32}$", examples("alipay"))]
    channel: String,
}

/// POST /v1/cards/{number}/recharges
#[utoipa::path(
    post,
    path = "/v1/cards/{number}/recharges",
    tag = "cards",
    operation_id = "rechargeCard",
    summary = "Recharge a card",
    description = "From the payment channel's clearing account to the card's, if its type may be recharged (422 `card_not_rechargeable`). The same order number answers the same recharge.",
    params(("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$")),
    request_body = RechargeBody,
    responses((status = 201, description = "The recharge.", body = CardTransactionView)),
)]
pub async fn recharge_card(
    State(state): State<AppState>,
    caller: CardCaller,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<CardTransactionView>), ApiError> {
    let body: RechargeBody = parse_body(&body)?;
    let number = card_number(&number)?;
    let (client, order_number) = caller.order(body.order_number.as_deref())?;
    let request =
        RechargeRequest { client, order_number, amount: amount("amount", &body.amount)?, channel: body.channel };
    created(state.cards().recharge_card(&number, request, caller.binding, &caller.actor).await?)
}

/// A payment.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PayWithCardRequest)]
struct PayBody {
    #[serde(default)]
    #[schema(nullable = false, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: Option<String>,
    /// The order's amount, before the discount. With `quote_id`: the quote's order amount, or absent.
    #[serde(default)]
    #[schema(value_type = Option<i64>, nullable = false, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Option<Number>,
    /// The order's business line, which names its rate; the type's default rate when absent or not
    /// named.
    #[serde(default)]
    #[schema(nullable = false, pattern = "^[a-z0-9_]{1,32}$", examples("coffee"))]
    business_line: Option<String>,
    /// The member account paid (a merchant's card: an account of that merchant's member).
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    receiver_account_id: String,
    /// A checkout quote of this card (`POST /v1/checkout/quote`): the card pays what it left to pay,
    /// and its coupons are redeemed with the payment. No `business_line` with it.
    #[serde(default)]
    #[schema(nullable = false, pattern = "^quo_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    quote_id: Option<String>,
    /// The receiving merchant's store where the card pays (`POST /v1/merchants/{id}/stores`): the
    /// receiver's (`store_not_receivers`), active (`store_closed`), taking cards
    /// (`payment_method_not_accepted`). Recorded on the transaction.
    #[serde(default)]
    #[schema(nullable = false, pattern = "^sto_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    store_id: Option<String>,
    /// The store's terminal (`terminal_not_stores`, `terminal_disabled`); alone, it names its store.
    #[serde(default)]
    #[schema(nullable = false, pattern = "^trm_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    terminal_id: Option<String>,
}

/// POST /v1/cards/{number}/payments
#[utoipa::path(
    post,
    path = "/v1/cards/{number}/payments",
    tag = "cards",
    operation_id = "payWithCard",
    summary = "Pay with a card",
    description = "The order's amount times the card's rate for the order's business line, rounded half up to the minor unit, is taken from the card into the receiver's account; the rest is the discount. With `quote_id` (a checkout quote of this card, unused and not expired: 409 `checkout_quote_used`, `checkout_quote_expired`), the card pays what the quote left to pay and the quote's coupons are redeemed in the write that records the payment (409 `coupon_used` if another payment took one first); a payment the ledger refuses leaves them unused. 422 `insufficient_funds` when the card holds less. The same order number answers the same payment.",
    params(("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$")),
    request_body = PayBody,
    responses((status = 201, description = "The payment.", body = CardTransactionView)),
)]
pub async fn pay_with_card(
    State(state): State<AppState>,
    caller: CardCaller,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<CardTransactionView>), ApiError> {
    let body: PayBody = parse_body(&body)?;
    let number = card_number(&number)?;
    let (client, order_number) = caller.order(body.order_number.as_deref())?;
    let request = PaymentRequest {
        client,
        order_number,
        amount: body.amount.as_ref().map(|a| amount("amount", a)).transpose()?,
        business_line: body.business_line,
        receiver: crate::ids::account_id("receiver_account_id", &body.receiver_account_id)?,
        quote: body
            .quote_id
            .as_deref()
            .map(|q| super::parse_id(q, sanhu_core::id::QuoteId::parse, "a quote id"))
            .transpose()?,
        store: body.store_id.as_deref().map(|s| crate::ids::store_id("store_id", s)).transpose()?,
        terminal: body.terminal_id.as_deref().map(|t| crate::ids::terminal_id("terminal_id", t)).transpose()?,
    };
    created(state.cards().pay_with_card(&number, request, caller.binding, &caller.actor).await?)
}

/// A refund.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RefundToCardRequest)]
struct RefundBody {
    #[serde(default)]
    #[schema(nullable = false, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: Option<String>,
    /// The payment's order number (a payment of this card, by the same client).
    #[schema(min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    payment_number: String,
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    amount: Number,
}

/// POST /v1/cards/{number}/refunds
#[utoipa::path(
    post,
    path = "/v1/cards/{number}/refunds",
    tag = "cards",
    operation_id = "refundToCard",
    summary = "Refund to a card",
    description = "Part or all of a payment, back from its receiver to the card it was paid with (the card in the path). A payment's refunds add up to at most what it took (409 `card_refund_exceeds_payment`). If the card was re-issued since, the refund goes to its successor (the last one, following the chain: `refunded_to_card`); if it (or its last successor) was cancelled with its balance refunded to the member's wallet, to that wallet account (`refunded_to_account_id`); a card cancelled with its balance paid in cash has nowhere to receive it (409 `card_refund_no_destination`). The refund is listed under the card the payment was made with.",
    params(("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$")),
    request_body = RefundBody,
    responses((status = 201, description = "The refund.", body = CardTransactionView)),
)]
pub async fn refund_to_card(
    State(state): State<AppState>,
    caller: CardCaller,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<CardTransactionView>), ApiError> {
    let body: RefundBody = parse_body(&body)?;
    let number = card_number(&number)?;
    let (client, order_number) = caller.order(body.order_number.as_deref())?;
    let request = RefundRequest {
        client,
        order_number,
        payment_number: crate::wallet::order_number("payment_number", &body.payment_number)?,
        amount: amount("amount", &body.amount)?,
    };
    created(state.cards().refund_to_card(&number, request, caller.binding, &caller.actor).await?)
}

/// GET /v1/cards/{number}/transactions
#[utoipa::path(
    get,
    path = "/v1/cards/{number}/transactions",
    tag = "cards",
    operation_id = "cardTransactions",
    summary = "List a card's transactions",
    description = "Its sale, recharges, payments and refunds, newest first, with a cursor: every use of the card is linked to it.",
    params(
        ("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$"),
        ("cursor" = Option<String>, Query, description = "A `next_cursor` this endpoint returned."),
        ("limit" = Option<u32>, Query, description = "1 to 100; 50 by default."),
    ),
    responses((status = 200, description = "A page of transactions.", body = CardTransactionList))
)]
pub async fn card_transactions(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(number): Path<String>,
    query: QueryParams,
) -> Result<Json<CardTransactionList>, ApiError> {
    let query = query.only(&["cursor", "limit"])?;
    let limit = super::card_limit(&query)?;
    let page = state.cards().card_transactions(&card_number(&number)?, binding, query.get("cursor"), limit).await?;
    Ok(Json(CardTransactionList {
        data: page.transactions.iter().map(CardTransactionView::from).collect(),
        next_cursor: page.next_cursor,
    }))
}

/// What a transaction of a card was (the schema of `CardTransaction.kind`).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
pub(crate) enum TransactionKindJson {
    Sale,
    Recharge,
    Payment,
    Refund,
    Reissue,
    Forfeit,
    Cancel,
}

/// Where a card transaction's money is (the schema of `CardTransaction.status`).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
pub(crate) enum TransactionStatusJson {
    InFlight,
    Succeeded,
    Failed,
}
