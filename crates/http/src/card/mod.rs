//! Member cards' endpoints (会员卡): card types, number segments, batches and their approval, and a
//! card's life and money. The handlers parse; the service decides (`sanhu_service::card`), including
//! who reaches what: a client bound to a member reaches its member's merchants' card types, batches
//! and cards only, anything else answering as if absent.
//!
//! Every money POST (a sale, a recharge, a payment, a refund) takes an Idempotency-Key, and is named by
//! the caller's `order_number` (unique per client and kind), or, sent with a key and no number, by a
//! number derived from the key ([`IdempotencyScope::order_number`]): a retry moves the money once.

mod cards;
mod codes;
mod coupons;
mod life;
mod reports;
mod setup;

pub use cards::*;
pub use codes::*;
pub use coupons::*;
pub use life::*;
pub use reports::*;
pub use setup::*;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sanhu_core::card::{CardKind, CardOwner, CardTerms, ExpiryPolicy, LineRate, SalesChannel, Validity};
use sanhu_core::id::{ClientId, MemberId};
use sanhu_core::party::Actor;
use sanhu_core::Timestamp;
use sanhu_service::card::{CardFailure, CARD_ORDER_NUMBER_REQUIRED};
use sanhu_service::wallet::OrderNumber;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{code, ApiError};
use crate::idempotency::IdempotencyScope;
use crate::party::ClientActor;
use crate::principal::Binding;
use crate::query::QueryParams;

/// What a card carries.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[schema(as = CardKind)]
pub enum KindJson {
    /// 储值卡: a balance, recharged and paid from.
    StoredValue,
    /// 折扣/权益卡: identity and discounts, no balance.
    Discount,
    /// 次卡: a number of uses.
    Count,
}

impl KindJson {
    fn kind(self) -> CardKind {
        match self {
            KindJson::StoredValue => CardKind::StoredValue,
            KindJson::Discount => CardKind::Discount,
            KindJson::Count => CardKind::Count,
        }
    }

    fn of(kind: CardKind) -> KindJson {
        match kind {
            CardKind::StoredValue => KindJson::StoredValue,
            CardKind::Discount => KindJson::Discount,
            CardKind::Count => KindJson::Count,
        }
    }
}

/// Where a batch's cards are sold (渠道).
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[schema(as = CardSalesChannel)]
pub enum ChannelJson {
    OnlinePartner,
    App,
    Store,
    OfflinePromotion,
    ConvenienceStore,
}

impl ChannelJson {
    fn channel(self) -> SalesChannel {
        match self {
            ChannelJson::OnlinePartner => SalesChannel::OnlinePartner,
            ChannelJson::App => SalesChannel::App,
            ChannelJson::Store => SalesChannel::Store,
            ChannelJson::OfflinePromotion => SalesChannel::OfflinePromotion,
            ChannelJson::ConvenienceStore => SalesChannel::ConvenienceStore,
        }
    }

    fn of(channel: SalesChannel) -> ChannelJson {
        match channel {
            SalesChannel::OnlinePartner => ChannelJson::OnlinePartner,
            SalesChannel::App => ChannelJson::App,
            SalesChannel::Store => ChannelJson::Store,
            SalesChannel::OfflinePromotion => ChannelJson::OfflinePromotion,
            SalesChannel::ConvenienceStore => ChannelJson::ConvenienceStore,
        }
    }
}

/// How long a card is valid: `days_from_activation`, or fixed dates `from` and `until` (RFC 3339).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(as = CardValidity)]
pub struct ValidityJson {
    /// Valid for this many days (1 to 3,650) from activation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1, maximum = 3650)]
    pub days_from_activation: Option<u32>,
    /// Valid from this time (inclusive) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    pub from: Option<String>,
    /// ... to this one (exclusive), whenever activated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    pub until: Option<String>,
}

impl ValidityJson {
    fn validity(&self) -> Result<Validity, ApiError> {
        let invalid = || ApiError::use_case(CardFailure::from(sanhu_core::card::CardError::ValidityInvalid));
        match (self.days_from_activation, self.from.as_deref(), self.until.as_deref()) {
            (Some(days), None, None) => Ok(Validity::DaysFromActivation(days)),
            (None, Some(from), Some(until)) => {
                let from = Timestamp::parse_rfc3339(from).ok_or_else(invalid)?;
                let until = Timestamp::parse_rfc3339(until).ok_or_else(invalid)?;
                Ok(Validity::Fixed { from, until })
            }
            _ => Err(invalid()),
        }
    }

    fn of(validity: Validity) -> ValidityJson {
        match validity {
            Validity::DaysFromActivation(days) => {
                ValidityJson { days_from_activation: Some(days), ..Default::default() }
            }
            Validity::Fixed { from, until } => ValidityJson {
                days_from_activation: None,
                from: Some(from.to_string()),
                until: Some(until.to_string()),
            },
        }
    }
}

/// A discount rate for one business line.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CardLineRate)]
pub struct LineRateJson {
    /// The business line or product category: 1 to 32 characters a-z 0-9 _.
    #[schema(pattern = "^[a-z0-9_]{1,32}$", examples("coffee"))]
    pub line: String,
    /// The share of the price the member pays, in basis points: 8000 is 80% (八折).
    #[schema(minimum = 1, maximum = 10000)]
    pub rate_bp: u32,
}

/// What a card of a type gives. Amounts in minor units.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CardTerms)]
pub struct TermsJson {
    pub kind: KindJson,
    /// What a stored-value card holds when sold; 0 for the other kinds.
    #[serde(default)]
    #[schema(minimum = 0)]
    pub face_value: i64,
    /// What the buyer pays for it (at most the face value of a stored-value card).
    #[schema(minimum = 0)]
    pub sale_price: i64,
    pub validity: ValidityJson,
    /// Whether a card may be recharged (stored-value cards only).
    #[serde(default)]
    pub rechargeable: bool,
    /// The rate for business lines not in `line_rates`, in basis points of the price; 10000 (no
    /// discount) when absent.
    #[serde(default = "full_rate")]
    #[schema(minimum = 1, maximum = 10000)]
    pub default_rate_bp: u32,
    /// A rate per business line (at most 20).
    #[serde(default)]
    #[schema(max_items = 20)]
    pub line_rates: Vec<LineRateJson>,
    /// A count card's uses (1 to 1,000); 0 for the other kinds.
    #[serde(default)]
    #[schema(minimum = 0, maximum = 1000)]
    pub uses: u32,
    /// Whether a card may pass to another member (转让, `POST /v1/cards/{number}/transfer`); false
    /// when absent.
    #[serde(default)]
    pub transferable: bool,
    /// What an expired stored-value card's unspent balance does: `keep` (kept; the card may be
    /// extended) or `forfeit` (moved to the platform's card-forfeit income with a record); `keep`
    /// when absent.
    #[serde(default)]
    pub on_expiry: ExpiryJson,
}

/// What an expired stored-value card's balance does.
#[derive(Clone, Copy, Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = CardExpiryPolicy)]
pub enum ExpiryJson {
    #[default]
    Keep,
    Forfeit,
}

impl ExpiryJson {
    fn policy(self) -> ExpiryPolicy {
        match self {
            ExpiryJson::Keep => ExpiryPolicy::Keep,
            ExpiryJson::Forfeit => ExpiryPolicy::Forfeit,
        }
    }

    fn of(policy: ExpiryPolicy) -> ExpiryJson {
        match policy {
            ExpiryPolicy::Keep => ExpiryJson::Keep,
            ExpiryPolicy::Forfeit => ExpiryJson::Forfeit,
        }
    }
}

fn full_rate() -> u32 {
    sanhu_core::card::FULL_RATE_BP
}

impl TermsJson {
    pub(crate) fn terms(&self) -> Result<CardTerms, ApiError> {
        Ok(CardTerms {
            kind: self.kind.kind(),
            face_value: self.face_value,
            sale_price: self.sale_price,
            validity: self.validity.validity()?,
            rechargeable: self.rechargeable,
            default_rate_bp: self.default_rate_bp,
            line_rates: self.line_rates.iter().map(|r| LineRate { line: r.line.clone(), rate_bp: r.rate_bp }).collect(),
            uses: self.uses,
            transferable: self.transferable,
            on_expiry: self.on_expiry.policy(),
        })
    }

    pub(crate) fn of(terms: &CardTerms) -> TermsJson {
        TermsJson {
            kind: KindJson::of(terms.kind),
            face_value: terms.face_value,
            sale_price: terms.sale_price,
            validity: ValidityJson::of(terms.validity),
            rechargeable: terms.rechargeable,
            default_rate_bp: terms.default_rate_bp,
            line_rates: terms
                .line_rates
                .iter()
                .map(|r| LineRateJson { line: r.line.clone(), rate_bp: r.rate_bp })
                .collect(),
            uses: terms.uses,
            transferable: terms.transferable,
            on_expiry: ExpiryJson::of(terms.on_expiry),
        }
    }
}

/// `platform`, or the merchant's id.
pub(crate) fn owner_text(owner: CardOwner) -> String {
    owner.as_text()
}

/// Who a card request is from, as every card handler takes it: the actor (recorded with what it
/// changes), its binding (what it reaches: the service answers what it does not reach as absent),
/// and the Idempotency-Key's scope (which numbers a money request sent without an order number).
pub struct CardCaller {
    pub actor: Actor,
    pub binding: Option<MemberId>,
    scope: Option<IdempotencyScope>,
}

impl<S: Send + Sync> FromRequestParts<S> for CardCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<CardCaller, ApiError> {
        let ClientActor(actor) = ClientActor::from_request_parts(parts, state).await?;
        let Binding(binding) = Binding::from_request_parts(parts, state).await?;
        let scope = parts.extensions.get::<IdempotencyScope>().cloned();
        Ok(CardCaller { actor, binding, scope })
    }
}

impl CardCaller {
    /// The client a money request is numbered under, and its order number: the body's, else one
    /// derived from its Idempotency-Key.
    pub(crate) fn order(&self, given: Option<&str>) -> Result<(ClientId, OrderNumber), ApiError> {
        let number = match (given, &self.scope) {
            (Some(number), _) => crate::wallet::order_number("order_number", number)?,
            (None, Some(scope)) => crate::wallet::order_number("order_number", &scope.order_number())?,
            (None, None) => return Err(ApiError::use_case(CardFailure::Rejected(CARD_ORDER_NUMBER_REQUIRED))),
        };
        Ok((crate::wallet::client_of(&self.actor)?, number))
    }
}

/// An id in a path or a body, of the kind `parse` reads (`what` names it in the refusal).
pub(crate) fn parse_id<T>(text: &str, parse: impl Fn(&str) -> Option<T>, what: &str) -> Result<T, ApiError> {
    parse(text).ok_or_else(|| ApiError::new(code::INVALID_ID, format!("{text:?} is not {what}")))
}

/// A card list's `after` and `limit` (1 to 100, 50 by default), its only parameters.
pub(crate) fn list_query<T>(
    query: QueryParams,
    parse: impl Fn(&str) -> Option<T>,
    what: &str,
) -> Result<(Option<T>, Option<u32>), ApiError> {
    let query = query.only(&["after", "limit"])?;
    let after = query.get("after").map(|text| parse_id(text, &parse, what)).transpose()?;
    Ok((after, card_limit(&query)?))
}

/// The cursor after a page read with `limit`: its last item's, when the page is full.
pub(crate) fn next_cursor<T>(page: &[T], limit: Option<u32>, id: impl Fn(&T) -> String) -> Option<String> {
    let full = page.len() == limit.unwrap_or(sanhu_service::card::CARD_PAGE_DEFAULT) as usize;
    full.then(|| page.last().map(id)).flatten()
}

/// The `limit` of a card list (1 to 100, 50 by default).
pub(crate) fn card_limit(query: &QueryParams) -> Result<Option<u32>, ApiError> {
    match query.get("limit") {
        None => Ok(None),
        Some(text) => text
            .parse::<u32>()
            .map(Some)
            .map_err(|_| ApiError::use_case(CardFailure::Rejected(sanhu_service::card::CARD_LIST_LIMIT_INVALID))),
    }
}
