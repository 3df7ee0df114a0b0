//! Coupons (券) and the checkout quote: coupon templates, coupons issued to members and their coupon
//! wallets (券包), and `POST /v1/checkout/quote`, which a card payment then pays with (`quote_id`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::card::coupon::{CouponError, CouponKind, CouponTerms, CouponValidity, OrderLine, Stacking};
use sanhu_core::card::CardOwner;
use sanhu_core::id::{CouponId, CouponTemplateId, MemberId, MerchantId};
use sanhu_core::Timestamp;
use sanhu_service::card::{CardFailure, CheckoutQuote, Coupon, CouponTemplate, NewCouponTemplate, QuoteRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::{list_query, next_cursor, owner_text, parse_id, CardCaller, ChannelJson};
use crate::error::ApiError;
use crate::json::parse_body;
use crate::party::ActorText;
use crate::principal::Binding;
use crate::query::QueryParams;
use crate::AppState;

fn coupon_error(error: CouponError) -> ApiError {
    ApiError::use_case(CardFailure::from(error))
}

/// What a coupon takes off.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[schema(as = CouponKind)]
pub enum CouponKindJson {
    /// `amount` off.
    FixedAmount,
    /// `off_bp` basis points off, at most `amount` (the cap).
    Percentage,
    /// 满减: `amount` off once the lines it applies to reach `threshold`.
    Threshold,
    /// The dearest line of `category` free, up to `amount`.
    FreeItem,
}

/// How a template's coupons stack with a card's discount.
#[derive(Clone, Copy, Debug, Serialize, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
#[schema(as = CouponStacking)]
pub enum StackingJson {
    /// The coupon off the price, then the card's rate on what is left.
    CouponThenDiscount,
    /// The card's rate on the price, then the coupon off the member price (a threshold checked
    /// against it).
    DiscountThenCoupon,
    /// No card discount with it.
    Exclusive,
}

impl StackingJson {
    fn stacking(self) -> Stacking {
        match self {
            StackingJson::CouponThenDiscount => Stacking::CouponThenDiscount,
            StackingJson::DiscountThenCoupon => Stacking::DiscountThenCoupon,
            StackingJson::Exclusive => Stacking::Exclusive,
        }
    }

    fn of(stacking: Stacking) -> StackingJson {
        match stacking {
            Stacking::CouponThenDiscount => StackingJson::CouponThenDiscount,
            Stacking::DiscountThenCoupon => StackingJson::DiscountThenCoupon,
            Stacking::Exclusive => StackingJson::Exclusive,
        }
    }
}

/// How long a coupon is valid: `days_from_issue`, or fixed dates `from` and `until` (RFC 3339).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema, Default)]
#[serde(deny_unknown_fields)]
#[schema(as = CouponValidity)]
pub struct CouponValidityJson {
    /// Valid for this many days (1 to 3,650) from its issue.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, minimum = 1, maximum = 3650)]
    pub days_from_issue: Option<u32>,
    /// Valid from this time (inclusive) ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    pub from: Option<String>,
    /// ... to this one (exclusive), whenever issued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, format = DateTime)]
    pub until: Option<String>,
}

impl CouponValidityJson {
    fn validity(&self) -> Result<CouponValidity, ApiError> {
        let invalid = || coupon_error(CouponError::ValidityInvalid);
        match (self.days_from_issue, self.from.as_deref(), self.until.as_deref()) {
            (Some(days), None, None) => Ok(CouponValidity::DaysFromIssue(days)),
            (None, Some(from), Some(until)) => Ok(CouponValidity::Fixed {
                from: Timestamp::parse_rfc3339(from).ok_or_else(invalid)?,
                until: Timestamp::parse_rfc3339(until).ok_or_else(invalid)?,
            }),
            _ => Err(invalid()),
        }
    }

    fn of(validity: CouponValidity) -> CouponValidityJson {
        match validity {
            CouponValidity::DaysFromIssue(days) => {
                CouponValidityJson { days_from_issue: Some(days), ..Default::default() }
            }
            CouponValidity::Fixed { from, until } => CouponValidityJson {
                days_from_issue: None,
                from: Some(from.to_string()),
                until: Some(until.to_string()),
            },
        }
    }
}

/// A new coupon template.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateCouponTemplateRequest)]
struct CreateTemplateBody {
    /// The merchant whose template it is; the platform's when absent (a client bound to a member
    /// names one of its member's merchants).
    #[serde(default)]
    #[schema(nullable = false, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    merchant_id: Option<String>,
    /// 1 to 50 characters.
    #[schema(min_length = 1, max_length = 50, examples("满80减20"))]
    name: String,
    kind: CouponKindJson,
    /// `fixed_amount` and `threshold`: what it takes off; `percentage`: the cap; `free_item`: the
    /// item's value at most. Minor units.
    #[schema(minimum = 1)]
    amount: i64,
    /// `percentage`: the share of the price taken off, in basis points (1 to 10,000).
    #[serde(default)]
    #[schema(nullable = false, minimum = 1, maximum = 10000)]
    off_bp: Option<u32>,
    /// `threshold`: what the lines it applies to reach (more than `amount`).
    #[serde(default)]
    #[schema(nullable = false, minimum = 2)]
    threshold: Option<i64>,
    /// `free_item`: the category whose dearest line is free.
    #[serde(default)]
    #[schema(nullable = false, pattern = "^[a-z0-9_]{1,32}$")]
    category: Option<String>,
    validity: CouponValidityJson,
    /// The merchants whose lines it applies to (at most 50); all when empty.
    #[serde(default)]
    #[schema(max_items = 50, value_type = Vec<sanhu_core::id::MerchantId>, inline)]
    merchants: Vec<String>,
    /// The categories whose lines it applies to (at most 50); all when empty.
    #[serde(default)]
    #[schema(max_items = 50)]
    categories: Vec<String>,
    /// Coupons it issues at most (1 to 10,000,000).
    #[schema(minimum = 1, maximum = 10000000)]
    quantity: i64,
    /// Coupons one member holds at most (1 to 1,000; 1 when absent).
    #[serde(default = "one")]
    #[schema(minimum = 1, maximum = 1000)]
    per_member: u32,
    /// Whether a payment refunded in full gives the coupon back.
    #[serde(default)]
    returned_on_refund: bool,
    stacking: StackingJson,
    /// Cards sold through these channels do not combine with it: with such a card, the card's
    /// discount is not applied.
    #[serde(default)]
    excluded_card_channels: Vec<ChannelJson>,
}

fn one() -> u32 {
    1
}

impl CreateTemplateBody {
    fn terms(&self) -> Result<CouponTerms, ApiError> {
        let invalid = || coupon_error(CouponError::KindInvalid);
        let kind = match (self.kind, self.off_bp, self.threshold, &self.category) {
            (CouponKindJson::FixedAmount, None, None, None) => CouponKind::FixedAmount { amount: self.amount },
            (CouponKindJson::Percentage, Some(off_bp), None, None) => {
                CouponKind::Percentage { off_bp, cap: self.amount }
            }
            (CouponKindJson::Threshold, None, Some(threshold), None) => {
                CouponKind::Threshold { threshold, amount: self.amount }
            }
            (CouponKindJson::FreeItem, None, None, Some(category)) => {
                CouponKind::FreeItem { category: category.clone(), max_value: self.amount }
            }
            _ => return Err(invalid()),
        };
        let merchants = self
            .merchants
            .iter()
            .map(|m| MerchantId::parse(m).ok_or_else(|| coupon_error(CouponError::ScopeInvalid)))
            .collect::<Result<_, _>>()?;
        Ok(CouponTerms {
            kind,
            validity: self.validity.validity()?,
            merchants,
            categories: self.categories.clone(),
            quantity: self.quantity,
            per_member: self.per_member,
            returned_on_refund: self.returned_on_refund,
            stacking: self.stacking.stacking(),
            excluded_card_channels: self.excluded_card_channels.iter().map(|c| c.channel()).collect(),
        })
    }
}

/// A coupon template as the API shows it; amounts in minor units.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CouponTemplate)]
pub struct CouponTemplateView {
    #[schema(value_type = sanhu_core::id::CouponTemplateId, inline)]
    pub id: String,
    /// `platform`, or the merchant's id (`mch_…`).
    #[schema(pattern = "^(platform|mch_[0-7][0-9A-HJKMNP-TV-Z]{25})$")]
    pub owner: String,
    pub name: String,
    pub kind: CouponKindJson,
    pub amount: i64,
    #[schema(required = true, minimum = 1, maximum = 10000)]
    pub off_bp: Option<u32>,
    #[schema(required = true, minimum = 2)]
    pub threshold: Option<i64>,
    #[schema(required = true, pattern = "^[a-z0-9_]{1,32}$")]
    pub category: Option<String>,
    pub validity: CouponValidityJson,
    #[schema(value_type = Vec<sanhu_core::id::MerchantId>, inline)]
    pub merchants: Vec<String>,
    pub categories: Vec<String>,
    #[schema(minimum = 1)]
    pub quantity: i64,
    /// Coupons issued so far.
    #[schema(minimum = 0)]
    pub issued: i64,
    #[schema(minimum = 1, maximum = 1000)]
    pub per_member: u32,
    pub returned_on_refund: bool,
    pub stacking: StackingJson,
    pub excluded_card_channels: Vec<ChannelJson>,
    #[schema(value_type = ActorText, inline)]
    pub created_by: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&CouponTemplate> for CouponTemplateView {
    fn from(t: &CouponTemplate) -> CouponTemplateView {
        let terms = &t.terms;
        let (kind, amount, off_bp, threshold, category) = match &terms.kind {
            CouponKind::FixedAmount { amount } => (CouponKindJson::FixedAmount, *amount, None, None, None),
            CouponKind::Percentage { off_bp, cap } => (CouponKindJson::Percentage, *cap, Some(*off_bp), None, None),
            CouponKind::Threshold { threshold, amount } => {
                (CouponKindJson::Threshold, *amount, None, Some(*threshold), None)
            }
            CouponKind::FreeItem { category, max_value } => {
                (CouponKindJson::FreeItem, *max_value, None, None, Some(category.clone()))
            }
        };
        CouponTemplateView {
            id: t.id.to_string(),
            owner: owner_text(t.owner),
            name: t.name.clone(),
            kind,
            amount,
            off_bp,
            threshold,
            category,
            validity: CouponValidityJson::of(terms.validity),
            merchants: terms.merchants.iter().map(|m| m.to_string()).collect(),
            categories: terms.categories.clone(),
            quantity: terms.quantity,
            issued: t.issued,
            per_member: terms.per_member,
            returned_on_refund: terms.returned_on_refund,
            stacking: StackingJson::of(terms.stacking),
            excluded_card_channels: terms.excluded_card_channels.iter().map(|c| ChannelJson::of(*c)).collect(),
            created_by: t.created_by.clone(),
            created_at: t.created_at.to_string(),
        }
    }
}

/// A page of coupon templates, in id order.
#[derive(Serialize, ToSchema)]
pub struct CouponTemplateList {
    data: Vec<CouponTemplateView>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required = true, pattern = "^cpt_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    next_cursor: Option<String>,
}

/// POST /v1/coupon-templates
#[utoipa::path(
    post,
    path = "/v1/coupon-templates",
    tag = "cards",
    operation_id = "createCouponTemplate",
    summary = "Create a coupon template",
    description = "A coupon template (券模板): its kind (a fixed amount, a percentage with a cap, a threshold 满减, a free item), validity (days from issue, or fixed dates), scope (merchants, categories), quantity and per-member limit, whether a payment refunded in full gives the coupon back, and how it stacks with a card's discount. The platform's, or a merchant's (`merchant_id`).",
    request_body = CreateTemplateBody,
    responses((status = 201, description = "The template.", body = CouponTemplateView)),
)]
pub async fn create_coupon_template(
    State(state): State<AppState>,
    caller: CardCaller,
    body: Bytes,
) -> Result<(StatusCode, Json<CouponTemplateView>), ApiError> {
    let body: CreateTemplateBody = parse_body(&body)?;
    let owner = match body.merchant_id.as_deref() {
        None => CardOwner::Platform,
        Some(text) => CardOwner::Merchant(parse_id(text, MerchantId::parse, "a merchant id")?),
    };
    let new = NewCouponTemplate { owner, name: body.name.clone(), terms: body.terms()? };
    let created = state.cards().create_coupon_template(new, caller.binding, &caller.actor).await?;
    Ok((StatusCode::CREATED, Json(CouponTemplateView::from(&created))))
}

/// GET /v1/coupon-templates
#[utoipa::path(
    get,
    path = "/v1/coupon-templates",
    tag = "cards",
    operation_id = "listCouponTemplates",
    summary = "List coupon templates",
    description = "In id order, with a cursor. A client bound to a member lists its member's merchants' templates only.",
    params(
        ("after" = Option<String>, Query, description = "A `next_cursor` this endpoint returned."),
        ("limit" = Option<u32>, Query, description = "1 to 100; 50 by default."),
    ),
    responses((status = 200, description = "A page of templates.", body = CouponTemplateList))
)]
pub async fn list_coupon_templates(
    State(state): State<AppState>,
    Binding(binding): Binding,
    query: QueryParams,
) -> Result<Json<CouponTemplateList>, ApiError> {
    let (after, limit) = list_query(query, CouponTemplateId::parse, "a coupon template id")?;
    let page = state.cards().coupon_templates(binding, after, limit).await?;
    let next_cursor = next_cursor(&page, limit, |t| t.id.to_string());
    Ok(Json(CouponTemplateList { data: page.iter().map(CouponTemplateView::from).collect(), next_cursor }))
}

/// GET /v1/coupon-templates/{id}
#[utoipa::path(
    get,
    path = "/v1/coupon-templates/{id}",
    tag = "cards",
    operation_id = "getCouponTemplate",
    summary = "Read a coupon template",
    description = "With how many coupons it issued.",
    params(("id" = String, Path, description = "The template's id.", pattern = "^cpt_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses((status = 200, description = "The template.", body = CouponTemplateView))
)]
pub async fn get_coupon_template(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(id): Path<String>,
) -> Result<Json<CouponTemplateView>, ApiError> {
    let id = parse_id(&id, CouponTemplateId::parse, "a coupon template id")?;
    Ok(Json(CouponTemplateView::from(&state.cards().coupon_template(id, binding).await?)))
}

/// A coupon as the API shows it.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Coupon)]
pub struct CouponView {
    #[schema(value_type = sanhu_core::id::CouponId, inline)]
    pub id: String,
    #[schema(value_type = sanhu_core::id::CouponTemplateId, inline)]
    pub template_id: String,
    #[schema(pattern = "^(platform|mch_[0-7][0-9A-HJKMNP-TV-Z]{25})$")]
    pub owner: String,
    #[schema(value_type = sanhu_core::id::MemberId, inline)]
    pub member_id: String,
    /// `unused`, `redeemed`, or `expired` (unused past its validity).
    #[schema(value_type = CouponStatusJson, inline)]
    pub status: &'static str,
    #[schema(format = DateTime)]
    pub valid_from: String,
    #[schema(format = DateTime)]
    pub expires_at: String,
    #[schema(required = true, format = DateTime)]
    pub redeemed_at: Option<String>,
    #[schema(value_type = ActorText, inline)]
    pub issued_by: String,
    #[schema(format = DateTime)]
    pub created_at: String,
}

impl From<&Coupon> for CouponView {
    fn from(k: &Coupon) -> CouponView {
        CouponView {
            id: k.id.to_string(),
            template_id: k.template_id.to_string(),
            owner: owner_text(k.owner),
            member_id: k.member_id.to_string(),
            status: k.status.as_str(),
            valid_from: k.valid_from.to_string(),
            expires_at: k.expires_at.to_string(),
            redeemed_at: k.redeemed_at.map(|t| t.to_string()),
            issued_by: k.issued_by.clone(),
            created_at: k.created_at.to_string(),
        }
    }
}

/// A coupon's status (the schema of `Coupon.status`).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
pub(crate) enum CouponStatusJson {
    Unused,
    Redeemed,
    Expired,
}

/// Members to issue a coupon to.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IssueCouponsRequest)]
struct IssueBody {
    /// 1 to 500 members, each issued one coupon.
    #[schema(min_items = 1, max_items = 500, value_type = Vec<sanhu_core::id::MemberId>, inline)]
    member_ids: Vec<String>,
}

/// One member's result.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CouponIssueRow)]
pub struct IssueRowView {
    /// The member as given.
    pub member_id: String,
    /// `issued`, or `refused` with the error.
    #[schema(value_type = IssueRowStatusJson, inline)]
    pub status: &'static str,
    #[schema(required = true)]
    pub coupon: Option<CouponView>,
    #[schema(required = true)]
    pub error: Option<super::BindRowError>,
}

/// A bulk row's status (the schema of `CouponIssueRow.status`).
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
pub(crate) enum IssueRowStatusJson {
    Issued,
    Refused,
}

/// Every member's result, in the request's order.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CouponIssues)]
pub struct IssueView {
    #[schema(minimum = 0)]
    pub issued: usize,
    #[schema(minimum = 0)]
    pub refused: usize,
    pub rows: Vec<IssueRowView>,
}

/// POST /v1/coupon-templates/{id}/coupons
#[utoipa::path(
    post,
    path = "/v1/coupon-templates/{id}/coupons",
    tag = "cards",
    operation_id = "issueCoupons",
    summary = "Issue coupons to members",
    description = "One coupon of the template to each member named (1 to 500: 422 `coupon_issue_members_invalid`), each on its own: `issued` with the coupon, or `refused` with the error (`member_not_found`, 409 `coupon_template_sold_out`, `coupon_member_limit_reached`, `coupon_template_expired`). The template's quantity and per-member limit hold however many are issued at once.",
    params(("id" = String, Path, description = "The template's id.", pattern = "^cpt_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = IssueBody,
    responses((status = 200, description = "Each member's result.", body = IssueView)),
)]
pub async fn issue_coupons(
    State(state): State<AppState>,
    caller: CardCaller,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<IssueView>, ApiError> {
    let body: IssueBody = parse_body(&body)?;
    let id = parse_id(&id, CouponTemplateId::parse, "a coupon template id")?;
    let outcomes = state.cards().issue_coupons(id, body.member_ids, caller.binding, &caller.actor).await?;
    let rows: Vec<IssueRowView> = outcomes
        .into_iter()
        .map(|row| match row.outcome {
            Ok(coupon) => IssueRowView {
                member_id: row.member_id,
                status: "issued",
                coupon: Some(CouponView::from(&coupon)),
                error: None,
            },
            Err(failure) => {
                let error = ApiError::use_case(failure);
                IssueRowView {
                    member_id: row.member_id,
                    status: "refused",
                    coupon: None,
                    error: Some(super::BindRowError { code: error.code(), message: error.message().to_owned() }),
                }
            }
        })
        .collect();
    let issued = rows.iter().filter(|r| r.status == "issued").count();
    Ok(Json(IssueView { issued, refused: rows.len() - issued, rows }))
}

/// A page of a member's coupons, in id order.
#[derive(Serialize, ToSchema)]
pub struct CouponList {
    data: Vec<CouponView>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required = true, pattern = "^cpn_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    next_cursor: Option<String>,
}

/// GET /v1/members/{id}/coupons
#[utoipa::path(
    get,
    path = "/v1/members/{id}/coupons",
    tag = "cards",
    operation_id = "listMemberCoupons",
    summary = "A member's coupon wallet",
    description = "The member's coupons (券包) in id order, with a cursor: unused, redeemed, or expired. A client bound to a member reads the members it reaches; another merchant's template's coupons are not shown to it.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("after" = Option<String>, Query, description = "A `next_cursor` this endpoint returned."),
        ("limit" = Option<u32>, Query, description = "1 to 100; 50 by default."),
    ),
    responses((status = 200, description = "A page of coupons.", body = CouponList))
)]
pub async fn member_coupons(
    State(state): State<AppState>,
    Binding(binding): Binding,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Json<CouponList>, ApiError> {
    let member = parse_id(&id, MemberId::parse, "a member id")?;
    let (after, limit) = list_query(query, CouponId::parse, "a coupon id")?;
    let page = state.cards().member_coupons(member, binding, after, limit).await?;
    let next_cursor = next_cursor(&page, limit, |k| k.id.to_string());
    Ok(Json(CouponList { data: page.iter().map(CouponView::from).collect(), next_cursor }))
}

/// One line of an order.
#[derive(Deserialize, Serialize, Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CheckoutLine)]
struct LineBody {
    /// The line's price, in minor units.
    #[schema(minimum = 1)]
    amount: i64,
    /// Its product category, which names the card's rate (as a business line does).
    #[schema(pattern = "^[a-z0-9_]{1,32}$", examples("coffee"))]
    category: String,
    /// The merchant selling it.
    #[serde(default)]
    #[schema(nullable = false, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    merchant_id: Option<String>,
}

/// What to quote.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CheckoutQuoteRequest)]
struct QuoteBody {
    #[schema(value_type = sanhu_core::id::MemberId, inline)]
    member_id: String,
    /// The member's card that will pay: its rates give the discount. None: no discount.
    #[serde(default)]
    #[schema(nullable = false, pattern = "^[0-9]{7,21}$")]
    card_number: Option<String>,
    /// 1 to 100 lines.
    #[schema(min_items = 1, max_items = 100)]
    lines: Vec<LineBody>,
    /// The member's coupons to use (at most 5, one per template).
    #[serde(default)]
    #[schema(max_items = 5, value_type = Vec<sanhu_core::id::CouponId>, inline)]
    coupon_ids: Vec<String>,
}

/// One line of a quote.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CheckoutQuoteLine)]
pub struct QuoteLineView {
    pub amount: i64,
    pub category: String,
    #[schema(required = true, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub merchant_id: Option<String>,
    /// The card's rate applied to it, in basis points (10000: none).
    #[schema(minimum = 1, maximum = 10000)]
    pub rate_bp: u32,
    pub discount: i64,
    pub coupon_deduction: i64,
    pub to_pay: i64,
}

/// One step of a quote, in the order applied.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CheckoutQuoteStep)]
pub struct QuoteStepView {
    /// `card_discount` or `coupon`.
    #[schema(value_type = QuoteStepKindJson, inline)]
    pub kind: &'static str,
    #[schema(required = true, pattern = "^cpn_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub coupon_id: Option<String>,
    /// What it took off.
    pub amount: i64,
    /// What the order cost after it.
    pub remaining: i64,
}

/// A quote step's kind.
#[derive(ToSchema)]
#[serde(rename_all = "snake_case")]
#[allow(dead_code)] // a schema only
pub(crate) enum QuoteStepKindJson {
    CardDiscount,
    Coupon,
}

/// A checkout quote: what the order costs, every step itemised. Amounts in minor units;
/// `order_amount` = `discount` + `coupon_deduction` + `to_pay`.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CheckoutQuote)]
pub struct QuoteView {
    #[schema(value_type = sanhu_core::id::QuoteId, inline)]
    pub id: String,
    #[schema(value_type = sanhu_core::id::MemberId, inline)]
    pub member_id: String,
    #[schema(required = true, pattern = "^[0-9]{7,21}$")]
    pub card_number: Option<String>,
    #[schema(value_type = Vec<sanhu_core::id::CouponId>, inline)]
    pub coupon_ids: Vec<String>,
    pub order_amount: i64,
    /// The lines at the card's rates alone.
    pub member_price: i64,
    pub stacking: StackingJson,
    pub discount: i64,
    pub coupon_deduction: i64,
    pub to_pay: i64,
    pub lines: Vec<QuoteLineView>,
    pub steps: Vec<QuoteStepView>,
    /// Paid with until then (15 minutes).
    #[schema(format = DateTime)]
    pub expires_at: String,
}

impl From<&CheckoutQuote> for QuoteView {
    fn from(c: &CheckoutQuote) -> QuoteView {
        let q = &c.quote;
        QuoteView {
            id: c.id.to_string(),
            member_id: c.member_id.to_string(),
            card_number: c.card_number.clone(),
            coupon_ids: c.coupon_ids.iter().map(|k| k.to_string()).collect(),
            order_amount: q.order_amount,
            member_price: q.member_price,
            stacking: StackingJson::of(q.stacking),
            discount: q.discount,
            coupon_deduction: q.coupon_deduction,
            to_pay: q.to_pay,
            lines: q
                .lines
                .iter()
                .map(|l| QuoteLineView {
                    amount: l.amount,
                    category: l.category.clone(),
                    merchant_id: l.merchant.map(|m| m.to_string()),
                    rate_bp: l.rate_bp,
                    discount: l.discount,
                    coupon_deduction: l.coupon_deduction,
                    to_pay: l.to_pay,
                })
                .collect(),
            steps: q
                .steps
                .iter()
                .map(|s| QuoteStepView {
                    kind: s.kind,
                    coupon_id: s.coupon_id.clone(),
                    amount: s.amount,
                    remaining: s.remaining,
                })
                .collect(),
            expires_at: c.expires_at.to_string(),
        }
    }
}

/// POST /v1/checkout/quote
#[utoipa::path(
    post,
    path = "/v1/checkout/quote",
    tag = "cards",
    operation_id = "quoteCheckout",
    summary = "Quote an order",
    description = "What an order's lines cost the member paid with its card (the card's rate per line's category) and its coupons, in the stacking order their templates say (coupon then discount, discount then coupon, or exclusive: no card discount), every step itemised; each product of an amount and a rate rounded half up to the minor unit. The quote is valid for 15 minutes and paid with by `POST /v1/cards/{number}/payments` with `quote_id`.",
    request_body = QuoteBody,
    responses((status = 201, description = "The quote.", body = QuoteView)),
)]
pub async fn quote_checkout(
    State(state): State<AppState>,
    caller: CardCaller,
    body: Bytes,
) -> Result<(StatusCode, Json<QuoteView>), ApiError> {
    let body: QuoteBody = parse_body(&body)?;
    let member_id = parse_id(&body.member_id, MemberId::parse, "a member id")?;
    let card_number = body
        .card_number
        .as_deref()
        .map(|n| {
            sanhu_core::card::check_number(n).map(str::to_owned).map_err(|e| ApiError::use_case(CardFailure::from(e)))
        })
        .transpose()?;
    let lines = body
        .lines
        .iter()
        .map(|l| {
            let merchant = l
                .merchant_id
                .as_deref()
                .map(|m| MerchantId::parse(m).ok_or_else(|| coupon_error(CouponError::LinesInvalid)))
                .transpose()?;
            Ok(OrderLine { amount: l.amount, category: l.category.clone(), merchant })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let coupon_ids =
        body.coupon_ids.iter().map(|c| parse_id(c, CouponId::parse, "a coupon id")).collect::<Result<Vec<_>, _>>()?;
    let request = QuoteRequest { member_id, card_number, lines, coupon_ids };
    let quote = state.cards().quote(request, caller.binding, &caller.actor).await?;
    Ok((StatusCode::CREATED, Json(QuoteView::from(&quote))))
}
