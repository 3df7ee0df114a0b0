//! Bank cards (绑卡) of a member: bound, listed, unbound, and checked as a withdrawal's destination.
//!
//! The card number is read here once and goes no further than the service, which keeps only the
//! masked number and a keyed token; responses and logs carry the masked number only, and binding
//! takes no Idempotency-Key (a fingerprint of the body would be a plain hash of the number).
//!
//! A body with `cvv` or `expiry` is refused with the service's `card_security_data_refused` (422),
//! whatever they hold and before any other field is judged, rather than `unknown_field`: the request
//! schema names the two fields so that a client sending them learns why they are refused.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::party::bank_card::BindCardRequest;
use sanhu_service::party::StoredBankCard;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::fields;
use super::{run, BankCardList, ClientActor};
use crate::error::{code, ApiError};
use crate::ids::{self, BankCardIdPath, MemberIdPath};
use crate::json::{double_option, parse_body};
use crate::query::QueryParams;
use crate::AppState;

/// A bank card bound to a member (绑卡): never its full number.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = BankCard)]
pub struct BankCardView {
    #[schema(pattern = "^bcd_[0-7][0-9A-HJKMNP-TV-Z]{25}$", examples("bcd_01JD7S0M8R4Y3V6QF2K9N5X1TB"))]
    id: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: String,
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    customer_id: String,
    /// The first 6 and last 4 digits.
    #[schema(pattern = "^[0-9]{6}\\*{3,9}[0-9]{4}$", examples("622202*********0018"))]
    masked_number: String,
    /// The name on the card: the member's real name.
    #[schema(min_length = 1, max_length = 100)]
    holder: String,
    /// RFC 3339, UTC, to the nanosecond.
    #[schema(format = DateTime)]
    bound_at: String,
    /// Null while bound.
    #[schema(required = true, format = DateTime)]
    unbound_at: Option<String>,
}

impl From<&StoredBankCard> for BankCardView {
    fn from(stored: &StoredBankCard) -> BankCardView {
        let card = &stored.card;
        BankCardView {
            id: card.id().to_string(),
            member_id: card.member().to_string(),
            customer_id: stored.customer_id.to_string(),
            masked_number: card.masked().as_str().to_owned(),
            holder: card.holder().as_str().to_owned(),
            bound_at: card.bound_at().to_string(),
            unbound_at: stored.unbound_at.map(|t| t.to_string()),
        }
    }
}

/// GET /v1/members/{id}/bank-cards: the cards bound now, in the order bound.
#[utoipa::path(
    get,
    path = "/v1/members/{id}/bank-cards",
    tag = "security",
    operation_id = "listMemberBankCards",
    summary = "List a member's bank cards",
    description = "The cards bound now, in the order bound; masked numbers only.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses(
        (status = 200, description = "The cards.", body = BankCardList),
    )
)]
pub async fn member_bank_cards(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<BankCardList>, ApiError> {
    let cards = state.parties.member_bank_cards(id).await?;
    Ok(Json(BankCardList { data: cards.iter().map(BankCardView::from).collect() }))
}

/// `cvv` and `expiry` are named here only to be refused with `card_security_data_refused` rather than `unknown_field`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = BindBankCardRequest)]
struct BindBody {
    /// 13 to 19 digits, spaces and hyphens ignored, with a valid check digit (`card_number_invalid`,
    /// `card_number_check_failed`). Read once: sanhu keeps the masked number and a keyed token, and never answers or
    /// logs it.
    #[schema(
        pattern = "^[0-9][0-9 -]{11,40}[0-9]$",
        required = true,
        nullable = false,
        examples("6222 0200 0000 0000 018")
    )]
    card_number: Option<String>,
    /// The name on the card (`card_holder_invalid`).
    #[schema(min_length = 1, max_length = 64, required = true, nullable = false, examples("张三"))]
    holder: Option<String>,
    /// Refused, whatever it holds: `card_security_data_refused` (422), before any other field is judged. sanhu neither
    /// needs nor accepts a card's security data.
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Value)]
    cvv: Option<Option<Value>>,
    /// Refused like `cvv`: `card_security_data_refused` (422).
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Value)]
    expiry: Option<Option<Value>>,
}

/// POST /v1/members/{id}/bank-cards: binds a card (the same card once per member).
#[utoipa::path(
    post,
    path = "/v1/members/{id}/bank-cards",
    tag = "security",
    operation_id = "bindBankCard",
    summary = "Bind a bank card",
    description = "The same card once per member (`card_already_bound`). A body with `cvv` or `expiry` is refused \
        (`card_security_data_refused`). The full number is never answered nor logged.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = BindBody,
    responses(
        (status = 201, description = "The card, masked.", body = BankCardView),
    )
)]
pub async fn bind_bank_card(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<BankCardView>), ApiError> {
    let body: BindBody = parse_body(&body)?;
    // The refusal of security data comes first, whatever else the body holds or lacks.
    let (cvv, expiry) = (body.cvv.is_some().then_some(""), body.expiry.is_some().then_some(""));
    if cvv.is_none() && expiry.is_none() {
        for (field, value) in [("card_number", &body.card_number), ("holder", &body.holder)] {
            if value.is_none() {
                return Err(ApiError::new(code::MISSING_FIELD, format!("missing field `{field}`")));
            }
        }
    }
    let request = BindCardRequest {
        number: body.card_number.as_deref().unwrap_or_default(),
        holder: body.holder.as_deref().unwrap_or_default(),
        cvv,
        expiry,
    };
    let parties = state.parties.clone();
    let bound = run(move || async move { parties.bind_bank_card(id, request, &actor).await }).await?;
    tracing::info!(member.id = %id, bank_card.id = %bound.card.id(), bank_card.masked = bound.card.masked().as_str(), "bank card bound");
    Ok((StatusCode::CREATED, Json(BankCardView::from(&bound))))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UnbindBankCardRequest)]
struct UnbindBody {
    /// The member whose card it is (another member's card: `bank_card_not_found`).
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: String,
    /// Why, for the history: 1 to 200 characters without control characters (`reason_invalid` otherwise).
    #[schema(min_length = 1, max_length = 200, examples("judicial freeze, case 2026-01"))]
    reason: String,
}

/// POST /v1/bank-cards/{id}/unbind: the member whose card it is, and why. Another member's card is
/// `bank_card_not_found`.
#[utoipa::path(
    post,
    path = "/v1/bank-cards/{id}/unbind",
    tag = "security",
    operation_id = "unbindBankCard",
    summary = "Unbind a bank card",
    description = "It leaves the member's list and may be bound again; the record stays.",
    params(
        ("id" = String, Path, description = "The bank card's id.", pattern = "^bcd_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = UnbindBody,
    responses(
        (status = 200, description = "The card, with unbound_at.", body = BankCardView),
    )
)]
pub async fn unbind_bank_card(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    BankCardIdPath(card): BankCardIdPath,
    body: Bytes,
) -> Result<Json<BankCardView>, ApiError> {
    let body: UnbindBody = parse_body(&body)?;
    let member = ids::member_id("member_id", &body.member_id)?;
    let reason = fields::reason(&body.reason)?;
    let parties = state.parties.clone();
    let unbound = run(move || async move { parties.unbind_bank_card(member, card, &actor, &reason).await }).await?;
    tracing::info!(member.id = %member, bank_card.id = %card, "bank card unbound");
    Ok(Json(BankCardView::from(&unbound)))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = WithdrawalCheck)]
pub struct WithdrawalCheckView {
    #[schema(pattern = "^bcd_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    card_id: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: String,
    #[schema(schema_with = crate::party::choices::always_true)]
    usable: bool,
}

/// GET /v1/bank-cards/{id}/withdrawal-check?member_id=: whether the member's withdrawal may go to this
/// card (bound to it, in its verified real name); a refusal is answered with its code.
#[utoipa::path(
    get,
    path = "/v1/bank-cards/{id}/withdrawal-check",
    tag = "security",
    operation_id = "checkBankCardForWithdrawal",
    summary = "Check a card as a withdrawal's destination",
    description = "Whether the member's withdrawal may go to this card: bound to the member (`card_not_members`, 403) \
        and in its verified real name (`member_not_real_named`, 409; `card_holder_mismatch`, 422). Whether the member \
        may withdraw at all is another question.",
    params(
        ("id" = String, Path, description = "The bank card's id.", pattern = "^bcd_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        (
            "member_id" = String,
            Query,
            description = "The member that would withdraw.",
            pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$",
        ),
    ),
    responses(
        (status = 200, description = "Usable.", body = WithdrawalCheckView),
    )
)]
pub async fn withdrawal_check(
    State(state): State<AppState>,
    BankCardIdPath(card): BankCardIdPath,
    query: QueryParams,
) -> Result<Json<WithdrawalCheckView>, ApiError> {
    let query = query.only(&["member_id"])?;
    let Some(text) = query.get("member_id") else {
        return Err(ApiError::new(code::MISSING_PARAMETER, "give the query parameter `member_id`"));
    };
    let member = ids::member_id("member_id", text)?;
    state.parties.card_usable_for_withdrawal(member, card).await?;
    Ok(Json(WithdrawalCheckView { card_id: card.to_string(), member_id: member.to_string(), usable: true }))
}
