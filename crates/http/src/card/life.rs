//! The end of a card's life, and what may happen before it: reported lost, re-issued (补卡), passed
//! to another member, expired and extended, cancelled with its balance refunded.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::card::{CancelRefund, CancelRequest, Extension, ReissueRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::cards::{card_number, reason, CardTransactionView, CardView, NUMBER_PARAM};
use super::CardCaller;
use crate::error::ApiError;
use crate::json::parse_body;
use crate::principal::Binding;
use crate::AppState;

/// A report of a card lost.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReportCardLostRequest)]
struct ReportLostBody {
    /// Why (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
}

/// POST /v1/cards/{number}/report-lost
#[utoipa::path(
    post,
    path = "/v1/cards/{number}/report-lost",
    tag = "cards",
    operation_id = "reportCardLost",
    summary = "Report a card lost",
    description = "An active or frozen card is reported lost (挂失): status `lost`, its ledger account's debits blocked. A lost card pays nothing (409 `card_lost`) and is not unfrozen: it is re-issued (`POST /v1/cards/{number}/reissue`) or cancelled. A card reported lost already is 409 `card_lost`.",
    params(("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$")),
    request_body = ReportLostBody,
    responses((status = 200, description = "The card.", body = CardView)),
)]
pub async fn report_card_lost(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<Json<CardView>, ApiError> {
    let body: ReportLostBody = parse_body(&body)?;
    let card = state.cards().report_lost(&card_number(&number)?, reason(body.reason)?, binding).await?;
    Ok(Json(CardView::from(&card)))
}

/// A re-issue.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReissueCardRequest)]
struct ReissueBody {
    /// 1 to 64 printable ASCII characters, unique per API client; derived from the Idempotency-Key when absent.
    #[serde(default)]
    #[schema(nullable = false, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: Option<String>,
    /// Why (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
}

/// POST /v1/cards/{number}/reissue
#[utoipa::path(
    post,
    path = "/v1/cards/{number}/reissue",
    tag = "cards",
    operation_id = "reissueCard",
    summary = "Re-issue a card",
    description = "补卡: an active or lost card is replaced (a frozen one is not: 409 `card_not_active`) by a new card, its number one serial of the old card's segment (409 `card_segment_full` when none is left). The new card is active and carries the old one's type and terms, validity, channel and member, and its balance: one balancing ledger transfer of all the old card's account holds to the new card's (the old card's `reissue` transaction). The old card is dead (`reissued`, its `replaced_by` the new card; it pays, receives and is recharged nothing: 409 `card_reissued`); the new card's `replaces` names it. The same order number answers the same new card; another re-issue of the card is 409 `card_reissued`.",
    params(("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$")),
    request_body = ReissueBody,
    responses((status = 201, description = "The new card.", body = CardView)),
)]
pub async fn reissue_card(
    State(state): State<AppState>,
    caller: CardCaller,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<CardView>), ApiError> {
    let body: ReissueBody = parse_body(&body)?;
    let number = card_number(&number)?;
    let (client, order_number) = caller.order(body.order_number.as_deref())?;
    let request = ReissueRequest { client, order_number, reason: reason(body.reason)? };
    let card = state.cards().reissue_card(&number, request, caller.binding, &caller.actor).await?;
    tracing::info!(card.number = %card.number, card.replaces = %number, "card re-issued");
    Ok((StatusCode::CREATED, Json(CardView::from(&card))))
}

/// A transfer to another member.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = TransferCardRequest)]
struct TransferBody {
    /// The member the card passes to.
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: String,
}

/// POST /v1/cards/{number}/transfer
#[utoipa::path(
    post,
    path = "/v1/cards/{number}/transfer",
    tag = "cards",
    operation_id = "transferCard",
    summary = "Pass a card to another member",
    description = "转让: an active card passes, with its balance, to another member, if its terms (its type's when it was sold) say `transferable` (422 `card_not_transferable`). The member is one the caller reaches (404 `member_not_found` otherwise), active (normal or dormant) and not the holder (422 `card_transfer_member_not_active`).",
    params(("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$")),
    request_body = TransferBody,
    responses((status = 200, description = "The card.", body = CardView)),
)]
pub async fn transfer_card(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<Json<CardView>, ApiError> {
    let body: TransferBody = parse_body(&body)?;
    let member = crate::ids::member_id("member_id", &body.member_id)?;
    let card = state.cards().transfer_card(&card_number(&number)?, member, binding).await?;
    Ok(Json(CardView::from(&card)))
}

/// An expiry's (empty) body.
#[derive(Deserialize, Default, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ExpireCardRequest)]
struct ExpireBody {}

/// POST /v1/cards/{number}/expire
#[utoipa::path(
    post,
    path = "/v1/cards/{number}/expire",
    tag = "cards",
    operation_id = "expireCard",
    summary = "Expire a card",
    description = "What the expiry job (run by `sanhu serve` every minute) does, now: an active card whose validity ended (409 `card_still_valid` before) becomes `expired`; it pays nothing. A stored-value card whose terms say `on_expiry: forfeit` has its balance moved to the platform's `card_forfeits` income account (its `forfeit` transaction); `keep` leaves it on the card, which may be extended. An expired card answers as it is.",
    params(("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$")),
    request_body(content = Option<ExpireBody>, description = "May be empty."),
    responses((status = 200, description = "The card.", body = CardView)),
)]
pub async fn expire_card(
    State(state): State<AppState>,
    caller: CardCaller,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<Json<CardView>, ApiError> {
    let _: ExpireBody = crate::json::parse_body_or_empty(&body)?;
    let card = state.cards().expire_card(&card_number(&number)?, caller.binding, &caller.actor).await?;
    Ok(Json(CardView::from(&card)))
}

/// An extension: `valid_through` a date, or `days` more.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ExtendCardRequest)]
struct ExtendBody {
    /// The last day the card is valid, in the platform's time zone (Asia/Shanghai unless configured):
    /// after today and at most 3,650 days away.
    #[serde(default)]
    #[schema(nullable = false, format = Date, examples("2027-12-31"))]
    valid_through: Option<String>,
    /// Or: this many of the platform's days more (1 to 3,650), counted from the card's last valid
    /// day (today, if that is over), valid until the end of the last of them in the platform's time
    /// zone.
    #[serde(default)]
    #[schema(nullable = false, minimum = 1, maximum = 3650)]
    days: Option<u32>,
}

/// POST /v1/cards/{number}/extend
#[utoipa::path(
    post,
    path = "/v1/cards/{number}/extend",
    tag = "cards",
    operation_id = "extendCard",
    summary = "Extend a card",
    description = "延期: an active card, or an expired one whose terms keep its balance (`on_expiry: keep`), is active again, its balance as it was, valid through `valid_through` (until the next day starts in the platform's time zone), or for `days` more of the platform's days from its last valid day (today if that is over), until the end of the last of them there (not N x 24 hours). An expired card whose balance was forfeited is not (409 `card_expiry_forfeited`); other statuses are 409 `card_not_extendable`; a date not after today, an end more than 3,650 days away, or both or neither of `valid_through` and `days`, is 422 `card_extension_invalid`.",
    params(("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$")),
    request_body = ExtendBody,
    responses((status = 200, description = "The card.", body = CardView)),
)]
pub async fn extend_card(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<Json<CardView>, ApiError> {
    let body: ExtendBody = parse_body(&body)?;
    let extension = match (body.valid_through, body.days) {
        (Some(date), None) => Extension::Through(date),
        (None, Some(days)) => Extension::Days(days),
        _ => {
            return Err(ApiError::use_case(sanhu_service::card::CardFailure::from(
                sanhu_core::card::CardError::ExtensionInvalid,
            )))
        }
    };
    let card = state.cards().extend_card(&card_number(&number)?, extension, binding).await?;
    Ok(Json(CardView::from(&card)))
}

/// How a cancelled card's balance is refunded.
#[derive(Clone, Copy, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = CardRefundMethod)]
enum RefundMethodJson {
    /// To `account_id`, an account of the member the card is bound to.
    Wallet,
    /// In cash at the issuer's counter: to `account_id`, an account of the issuing merchant's member
    /// (a merchant's card only), which pays the cash out.
    Cash,
}

/// A cancellation.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CancelCardRequest)]
struct CancelBody {
    /// 1 to 64 printable ASCII characters, unique per API client; derived from the Idempotency-Key when absent.
    #[serde(default)]
    #[schema(nullable = false, min_length = 1, max_length = 64, pattern = "^[!-~]{1,64}$")]
    order_number: Option<String>,
    /// Why (1 to 200 characters).
    #[schema(min_length = 1, max_length = 200)]
    reason: String,
    /// How a stored-value card's balance is refunded (required for one; ignored for the other kinds).
    #[serde(default)]
    #[schema(nullable = false)]
    refund_to: Option<RefundMethodJson>,
    /// The account the balance goes to.
    #[serde(default)]
    #[schema(nullable = false, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: Option<String>,
}

/// A cancellation's answer: the card, and the transaction that refunded its balance.
#[derive(Serialize, ToSchema)]
#[schema(as = CardCancellation)]
pub struct CancellationView {
    card: CardView,
    refund: CardTransactionView,
}

/// POST /v1/cards/{number}/cancel
#[utoipa::path(
    post,
    path = "/v1/cards/{number}/cancel",
    tag = "cards",
    operation_id = "cancelCard",
    summary = "Cancel a card and refund its balance",
    description = "退卡: an active, lost or expired card is cancelled (a frozen one is not: 409 `card_not_active`) (dead: 409 `card_cancelled` for anything after). All its account holds is refunded by one balancing ledger transfer (its `cancel` transaction): `refund_to: wallet`, to an account of the member the card is bound to; `cash`, to an account of the issuing merchant's member, which pays the cash at its counter (a platform card refunds to the wallet only: 422 `card_cancel_refund_invalid`). Another account is 422 `card_cancel_account_outside`. A discount or count card holds no money: its cancellation moves none. The same order number answers the same cancellation.",
    params(("number" = String, Path, description = NUMBER_PARAM, pattern = "^[0-9]{7,21}$")),
    request_body = CancelBody,
    responses((status = 200, description = "The card, cancelled, and its refund.", body = CancellationView)),
)]
pub async fn cancel_card(
    State(state): State<AppState>,
    caller: CardCaller,
    Path(number): Path<String>,
    body: Bytes,
) -> Result<Json<CancellationView>, ApiError> {
    let body: CancelBody = parse_body(&body)?;
    let number = card_number(&number)?;
    let (client, order_number) = caller.order(body.order_number.as_deref())?;
    let account = body.account_id.as_deref().map(|a| crate::ids::account_id("account_id", a)).transpose()?;
    let refund = match (body.refund_to, account) {
        (Some(RefundMethodJson::Wallet), Some(account)) => Some(CancelRefund::Wallet(account)),
        (Some(RefundMethodJson::Cash), Some(account)) => Some(CancelRefund::Cash(account)),
        (None, None) => None,
        _ => {
            return Err(ApiError::use_case(sanhu_service::card::CardFailure::from(
                sanhu_core::card::CardError::CancelMethodInvalid,
            )))
        }
    };
    let request = CancelRequest { client, order_number, reason: reason(body.reason)?, refund };
    let (card, refund) = state.cards().cancel_card(&number, request, caller.binding, &caller.actor).await?;
    Ok(Json(CancellationView { card: CardView::from(&card), refund: CardTransactionView::from(&refund) }))
}
