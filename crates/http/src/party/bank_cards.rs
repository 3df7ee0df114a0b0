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
use super::{run, ClientActor, List};
use crate::error::{code, ApiError};
use crate::ids::{self, BankCardIdPath, MemberIdPath};
use crate::json::{double_option, parse_body};
use crate::query::QueryParams;
use crate::AppState;

/// A bound card: its masked number (first 6 and last 4 digits), never the full one.
#[derive(Serialize, Debug)]
pub struct BankCardView {
    id: String,
    member_id: String,
    customer_id: String,
    masked_number: String,
    holder: String,
    bound_at: String,
    /// Null while bound.
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
pub async fn member_bank_cards(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<List<BankCardView>>, ApiError> {
    let cards = state.parties.member_bank_cards(id).await?;
    Ok(Json(List { data: cards.iter().map(BankCardView::from).collect() }))
}

/// `cvv` and `expiry` are read only to be refused: present (even null) means sent.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct BindBody {
    card_number: Option<String>,
    holder: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    cvv: Option<Option<Value>>,
    #[serde(default, deserialize_with = "double_option")]
    expiry: Option<Option<Value>>,
}

/// POST /v1/members/{id}/bank-cards: binds a card (the same card once per member).
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UnbindBody {
    member_id: String,
    reason: String,
}

/// POST /v1/bank-cards/{id}/unbind: the member whose card it is, and why. Another member's card is
/// `bank_card_not_found`.
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

#[derive(Serialize)]
pub struct WithdrawalCheckView {
    card_id: String,
    member_id: String,
    usable: bool,
}

/// GET /v1/bank-cards/{id}/withdrawal-check?member_id=: whether the member's withdrawal may go to this
/// card (bound to it, in its verified real name); a refusal is answered with its code.
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
