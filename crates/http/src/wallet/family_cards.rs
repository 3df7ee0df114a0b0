//! Family cards (亲情卡): a member (the owner) authorises another member (the family member) to pay
//! from one of its accounts, within a limit per payment and a limit per platform month, until it is
//! revoked. The rules are the service's (`sanhu_service::wallet`'s `family_card.rs`); the family
//! member pays with `family_card_id` on `POST /v1/payments`.
//!
//! Granting names the owner (path), its account and the family member: a client bound to a member
//! reaches all three or is answered as if absent. A card named by its id is reached by a client that
//! reaches its owner or its family member (the service asks the reach rule), so those routes are
//! `filtered`.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::id::FamilyCardId;
use sanhu_service::wallet::{FamilyCardGrant, FamilyCardStatus, FamilyCardView};
use serde::{Deserialize, Serialize};
use serde_json::Number;
use utoipa::ToSchema;

use super::amount;
use super::recharges::EmptyBody;
use crate::error::{code, ApiError};
use crate::ids::{self, MemberIdPath};
use crate::json::{parse_body, parse_body_or_empty};
use crate::party::{run, ClientActor};
use crate::principal::Binding;
use crate::AppState;

const CARD_ID_PARAM: &str = "The family card's id.";

/// A family card as the API shows it; amounts in minor units.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = FamilyCard)]
pub struct FamilyCardJson {
    #[schema(pattern = "^fcd_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub id: String,
    /// The member who granted it and pays.
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub owner_member_id: String,
    /// The owner's account its payments take from; null to a client that reaches the family member
    /// but not the owner (the owner's account is the owner's to show).
    #[schema(required, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: Option<String>,
    /// The member who pays with it.
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub family_member_id: String,
    #[schema(minimum = 1)]
    pub per_payment_limit: i64,
    #[schema(minimum = 1)]
    pub monthly_limit: i64,
    /// active or revoked.
    pub status: FamilyCardStatus,
    /// The platform month (YYYY-MM, the platform's time zone) the next two figures are of.
    #[schema(pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub month: String,
    /// What it paid this month, less what was refunded.
    #[schema(minimum = 0)]
    pub used_this_month: i64,
    /// What it may still pay this month.
    #[schema(minimum = 0)]
    pub remaining_this_month: i64,
    /// Payments made with it.
    #[schema(minimum = 0)]
    pub payments: u64,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(required, format = DateTime)]
    pub revoked_at: Option<String>,
}

impl From<&FamilyCardView> for FamilyCardJson {
    fn from(v: &FamilyCardView) -> FamilyCardJson {
        let c = &v.card;
        FamilyCardJson {
            id: c.id.clone(),
            owner_member_id: c.owner_member_id.to_string(),
            account_id: v.owner_reached.then(|| c.account_id.to_string()),
            family_member_id: c.family_member_id.to_string(),
            per_payment_limit: c.per_payment_limit,
            monthly_limit: c.monthly_limit,
            status: c.status,
            month: v.month.clone(),
            used_this_month: v.used_this_month,
            remaining_this_month: v.remaining_this_month(),
            payments: c.payments,
            created_at: c.created_at.to_string(),
            revoked_at: c.revoked_at.map(|t| t.to_string()),
        }
    }
}

/// A member's family cards.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = FamilyCardList)]
pub struct FamilyCardsJson {
    /// The cards it granted, oldest first.
    pub owned: Vec<FamilyCardJson>,
    /// The cards granted to it, oldest first.
    pub granted: Vec<FamilyCardJson>,
}

/// A family card's grant.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = GrantFamilyCardRequest)]
struct GrantBody {
    /// One of the owner's open accounts of a type that pays.
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    account_id: String,
    /// Another member, who will pay with the card.
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    family_member_id: String,
    /// The most one payment may take, in minor units.
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    per_payment_limit: Number,
    /// The most the card may pay in a platform month, in minor units; at least per_payment_limit.
    #[schema(value_type = i64, minimum = 1, maximum = 9223372036854775807i64)]
    monthly_limit: Number,
    /// The owner's pay password, checked as a payment's is (required where the platform requires
    /// one for payments). Left out of an Idempotency-Key's fingerprint; never stored.
    #[schema(nullable = false, pattern = "^[0-9]{6}$")]
    pay_password: Option<String>,
}

fn card_id(text: &str) -> Result<FamilyCardId, ApiError> {
    FamilyCardId::parse(text)
        .ok_or_else(|| ApiError::new(code::INVALID_ID, "id is not a family card id (fcd_ and 26 characters)"))
}

/// POST /v1/members/{id}/family-cards
#[utoipa::path(
    post,
    path = "/v1/members/{id}/family-cards",
    tag = "wallet",
    operation_id = "grantFamilyCard",
    summary = "Grant a family card",
    description = "The member (the owner) authorises another member (`family_member_id`, not itself: `family_card_same_member`) to pay from one of its open accounts of a type that pays (`family_card_account_invalid`), at most `per_payment_limit` a payment and `monthly_limit` a platform month (`family_card_limits_invalid`). Both members must be able to pay, and the owner gives its pay password as for a payment (`pay_password_required` where the platform requires one). An owner has at most 10 cards in force (409 `family_card_limit_reached`). The family member pays with `family_card_id` on `POST /v1/payments`. Written to the card's history.",
    params(("id" = String, Path, description = super::MEMBER_ID_PARAM, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = GrantBody,
    responses((status = 201, description = "The card.", body = FamilyCardJson)),
)]
pub async fn grant_family_card(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(owner): MemberIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<FamilyCardJson>), ApiError> {
    let body: GrantBody = parse_body(&body)?;
    let grant = FamilyCardGrant {
        owner,
        account: ids::account_id("account_id", &body.account_id)?,
        family_member: ids::member_id("family_member_id", &body.family_member_id)?,
        per_payment_limit: amount("per_payment_limit", &body.per_payment_limit)?,
        monthly_limit: amount("monthly_limit", &body.monthly_limit)?,
        pay_password: body.pay_password,
    };
    let wallets = state.wallets().clone();
    let card = run(move || async move { wallets.grant_family_card(&grant, &actor).await }).await?;
    tracing::info!(family_card.id = %card.card.id, member.id = %owner, "family card granted");
    Ok((StatusCode::CREATED, Json(FamilyCardJson::from(&card))))
}

/// GET /v1/members/{id}/family-cards
#[utoipa::path(
    get,
    path = "/v1/members/{id}/family-cards",
    tag = "wallet",
    operation_id = "listFamilyCards",
    summary = "A member's family cards",
    description = "The cards the member granted (`owned`) and those granted to it (`granted`), revoked ones included, each with what it paid this platform month. A card granted by an owner the client does not reach shows no `account_id` (null).",
    params(("id" = String, Path, description = super::MEMBER_ID_PARAM, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses((status = 200, description = "The cards.", body = FamilyCardsJson)),
)]
pub async fn list_family_cards(
    State(state): State<AppState>,
    Binding(bound): Binding,
    MemberIdPath(member): MemberIdPath,
) -> Result<Json<FamilyCardsJson>, ApiError> {
    let cards = state.wallets().family_cards_of(member, bound).await?;
    Ok(Json(FamilyCardsJson {
        owned: cards.owned.iter().map(FamilyCardJson::from).collect(),
        granted: cards.granted.iter().map(FamilyCardJson::from).collect(),
    }))
}

/// GET /v1/family-cards/{id}
#[utoipa::path(
    get,
    path = "/v1/family-cards/{id}",
    tag = "wallet",
    operation_id = "getFamilyCard",
    summary = "Read a family card",
    description = "A client bound to a member reaches a card whose owner or family member it reaches; any other is `family_card_not_found`. One that reaches the family member but not the owner is shown no `account_id` (null).",
    params(("id" = String, Path, description = CARD_ID_PARAM, pattern = "^fcd_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses((status = 200, description = "The card.", body = FamilyCardJson)),
)]
pub async fn get_family_card(
    State(state): State<AppState>,
    Binding(bound): Binding,
    Path(id): Path<String>,
) -> Result<Json<FamilyCardJson>, ApiError> {
    let id = card_id(&id)?;
    Ok(Json(FamilyCardJson::from(&state.wallets().family_card(id, bound).await?)))
}

/// POST /v1/family-cards/{id}/revoke
#[utoipa::path(
    post,
    path = "/v1/family-cards/{id}/revoke",
    tag = "wallet",
    operation_id = "revokeFamilyCard",
    summary = "Revoke a family card",
    description = "At once: a payment decided after it is refused (`family_card_revoked`). Either side may revoke (a client reaching the owner or the family member); a card revoked already is answered as it is. The owner's place for a card is given back. Written to the card's history.",
    params(("id" = String, Path, description = CARD_ID_PARAM, pattern = "^fcd_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The card.", body = FamilyCardJson)),
)]
pub async fn revoke_family_card(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    Binding(bound): Binding,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<FamilyCardJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let id = card_id(&id)?;
    let wallets = state.wallets().clone();
    let card = run(move || async move { wallets.revoke_family_card(id, bound, &actor).await }).await?;
    tracing::info!(family_card.id = %card.card.id, "family card revoked");
    Ok(Json(FamilyCardJson::from(&card)))
}
