//! Coupons (券) and the checkout quote: templates made by the platform or a merchant, coupons issued
//! from them to members (one, or many with a result each) and held in the member's coupon wallet
//! (券包), and the quote an order's payment is made with. The rules (kinds, scope, stacking, rounding)
//! are core's (`sanhu_core::card::coupon`); what must hold under concurrency is the store's: a
//! template's quantity and per-member limit are decided in the statement and transaction that issue,
//! and a quote's coupons are redeemed (核券) in the write that records the payment using it
//! (`money.rs`), so of two payments with one coupon exactly one succeeds, a payment the ledger refuses
//! gives them back, and a payment refunded in full gives back those whose template says so.
//!
//! **Who reaches what.** A template, its coupons and a quote are reached as a card type is
//! ([`Cards::reaches`] on their owner): a client bound to a member reaches its member's merchants'
//! (and those below them), and nothing of the platform's or another merchant's, which answer as if
//! absent (`coupon_template_not_found`, `coupon_not_found`, `checkout_quote_not_found`).

use anyhow::anyhow;
use sanhu_core::card::coupon::{
    check_template_name, quote, CouponError, CouponKind, CouponTerms, CouponValidity, OrderLine, Quote, QuoteLine,
    QuoteStep, QuotedCard, QuotedCoupon, Stacking,
};
use sanhu_core::card::{CardOwner, SalesChannel};
use sanhu_core::id::{CouponId, CouponTemplateId, MemberId, MerchantId, QuoteId};
use sanhu_core::party::Actor;
use sanhu_core::Timestamp;
use sanhu_store::card::{CardStore, CouponIssue, StoredCoupon, StoredCouponTemplate, StoredQuote};
use serde::{Deserialize, Serialize};

use super::documents::{decode, encode};
use super::{
    page_limit, CardFailure, Cards, CARD_OWNER_REQUIRED, CHECKOUT_QUOTE_NOT_FOUND, COUPON_ISSUE_MEMBERS_INVALID,
    COUPON_NOT_FOUND, COUPON_TEMPLATE_NOT_FOUND,
};
use crate::clock;
use crate::party::work::actor_text;

/// How long a quote may be paid with (15 minutes).
pub const QUOTE_VALID_SECONDS: i64 = 15 * 60;
/// The most members one issue request names.
pub const ISSUE_MEMBERS_MAX: usize = 500;

/// A new coupon template.
#[derive(Clone, Debug)]
pub struct NewCouponTemplate {
    pub owner: CardOwner,
    pub name: String,
    pub terms: CouponTerms,
}

/// A coupon template as kept.
#[derive(Clone, Debug)]
pub struct CouponTemplate {
    pub id: CouponTemplateId,
    pub owner: CardOwner,
    pub name: String,
    pub terms: CouponTerms,
    /// Coupons issued so far.
    pub issued: i64,
    pub created_by: String,
    pub created_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateDoc {
    name: String,
    kind: String,
    amount: i64,
    off_bp: u32,
    threshold: i64,
    category: Option<String>,
    validity_days: Option<u32>,
    valid_from: Option<i64>,
    valid_until: Option<i64>,
    merchants: Vec<String>,
    categories: Vec<String>,
    returned_on_refund: bool,
    stacking: String,
    excluded_card_channels: Vec<String>,
    created_by: String,
}

impl CouponTemplate {
    fn stored(&self) -> StoredCouponTemplate {
        let t = &self.terms;
        let (amount, off_bp, threshold, category) = match &t.kind {
            CouponKind::FixedAmount { amount } => (*amount, 0, 0, None),
            CouponKind::Percentage { off_bp, cap } => (*cap, *off_bp, 0, None),
            CouponKind::Threshold { threshold, amount } => (*amount, 0, *threshold, None),
            CouponKind::FreeItem { category, max_value } => (*max_value, 0, 0, Some(category.clone())),
        };
        let (validity_days, valid_from, valid_until) = match t.validity {
            CouponValidity::DaysFromIssue(days) => (Some(days), None, None),
            CouponValidity::Fixed { from, until } => (None, Some(from.nanos()), Some(until.nanos())),
        };
        StoredCouponTemplate {
            id: self.id.to_string(),
            owner: self.owner.as_text(),
            quantity: t.quantity,
            issued: self.issued,
            per_member: i64::from(t.per_member),
            data: encode(&TemplateDoc {
                name: self.name.clone(),
                kind: t.kind.as_str().to_owned(),
                amount,
                off_bp,
                threshold,
                category,
                validity_days,
                valid_from,
                valid_until,
                merchants: t.merchants.iter().map(|m| m.to_string()).collect(),
                categories: t.categories.clone(),
                returned_on_refund: t.returned_on_refund,
                stacking: t.stacking.as_str().to_owned(),
                excluded_card_channels: t.excluded_card_channels.iter().map(|c| c.as_str().to_owned()).collect(),
                created_by: self.created_by.clone(),
            }),
            created_at: self.created_at,
        }
    }

    fn restore(stored: StoredCouponTemplate) -> anyhow::Result<CouponTemplate> {
        let d: TemplateDoc = decode(&stored.data, "coupon template")?;
        let kind = match d.kind.as_str() {
            "fixed_amount" => CouponKind::FixedAmount { amount: d.amount },
            "percentage" => CouponKind::Percentage { off_bp: d.off_bp, cap: d.amount },
            "threshold" => CouponKind::Threshold { threshold: d.threshold, amount: d.amount },
            "free_item" => CouponKind::FreeItem {
                category: d.category.ok_or_else(|| anyhow!("stored free item without a category"))?,
                max_value: d.amount,
            },
            other => return Err(anyhow!("stored coupon kind {other:?}")),
        };
        let validity = match (d.validity_days, d.valid_from, d.valid_until) {
            (Some(days), None, None) => CouponValidity::DaysFromIssue(days),
            (None, Some(from), Some(until)) => {
                CouponValidity::Fixed { from: Timestamp::from_nanos(from), until: Timestamp::from_nanos(until) }
            }
            _ => return Err(anyhow!("stored coupon validity of {}", stored.id)),
        };
        let terms = CouponTerms {
            kind,
            validity,
            merchants: d
                .merchants
                .iter()
                .map(|m| MerchantId::parse(m).ok_or_else(|| anyhow!("stored merchant {m:?}")))
                .collect::<anyhow::Result<_>>()?,
            categories: d.categories,
            quantity: stored.quantity,
            per_member: u32::try_from(stored.per_member)?,
            returned_on_refund: d.returned_on_refund,
            stacking: Stacking::parse(&d.stacking).ok_or_else(|| anyhow!("stored stacking {:?}", d.stacking))?,
            excluded_card_channels: d
                .excluded_card_channels
                .iter()
                .map(|c| SalesChannel::parse(c).map_err(|_| anyhow!("stored channel {c:?}")))
                .collect::<anyhow::Result<_>>()?,
        };
        Ok(CouponTemplate {
            id: CouponTemplateId::parse(&stored.id).ok_or_else(|| anyhow!("stored template id {:?}", stored.id))?,
            owner: CardOwner::parse(&stored.owner).ok_or_else(|| anyhow!("stored owner {:?}", stored.owner))?,
            name: d.name,
            terms,
            issued: stored.issued,
            created_by: d.created_by,
            created_at: stored.created_at,
        })
    }
}

/// A coupon's state as shown: `unused`, `redeemed`, or `expired` (unused past its validity).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CouponStatus {
    Unused,
    Redeemed,
    Expired,
}

impl CouponStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CouponStatus::Unused => "unused",
            CouponStatus::Redeemed => "redeemed",
            CouponStatus::Expired => "expired",
        }
    }
}

/// A coupon as kept, with its template's name and kind.
#[derive(Clone, Debug)]
pub struct Coupon {
    pub id: CouponId,
    pub template_id: CouponTemplateId,
    pub owner: CardOwner,
    pub member_id: MemberId,
    pub status: CouponStatus,
    pub valid_from: Timestamp,
    pub expires_at: Timestamp,
    /// The card payment that redeemed it: its order number.
    pub payment_id: Option<String>,
    pub redeemed_at: Option<Timestamp>,
    pub issued_by: String,
    pub created_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CouponDoc {
    issued_by: String,
}

impl Coupon {
    fn restore(k: StoredCoupon, now: Timestamp) -> anyhow::Result<Coupon> {
        let d: CouponDoc = decode(&k.data, "coupon")?;
        let status = match k.status.as_str() {
            "redeemed" => CouponStatus::Redeemed,
            "unused" if k.expires_at <= now => CouponStatus::Expired,
            "unused" => CouponStatus::Unused,
            other => return Err(anyhow!("stored coupon status {other:?}")),
        };
        Ok(Coupon {
            id: CouponId::parse(&k.id).ok_or_else(|| anyhow!("stored coupon id {:?}", k.id))?,
            template_id: CouponTemplateId::parse(&k.template_id)
                .ok_or_else(|| anyhow!("stored template id {:?}", k.template_id))?,
            owner: CardOwner::parse(&k.owner).ok_or_else(|| anyhow!("stored owner {:?}", k.owner))?,
            member_id: MemberId::parse(&k.member_id).ok_or_else(|| anyhow!("stored member {:?}", k.member_id))?,
            status,
            valid_from: k.valid_from,
            expires_at: k.expires_at,
            payment_id: k.payment_id,
            redeemed_at: k.redeemed_at,
            issued_by: d.issued_by,
            created_at: k.created_at,
        })
    }
}

/// One member's result of an issue request.
#[derive(Debug)]
pub struct IssueRow {
    pub member_id: String,
    pub outcome: Result<Coupon, CardFailure>,
}

/// What a checkout quote is asked for.
#[derive(Clone, Debug)]
pub struct QuoteRequest {
    pub member_id: MemberId,
    /// The card that will pay (its rates give the discount); none: no discount.
    pub card_number: Option<String>,
    pub lines: Vec<OrderLine>,
    pub coupon_ids: Vec<CouponId>,
}

/// A quote as kept: what the order costs, until when.
#[derive(Clone, Debug)]
pub struct CheckoutQuote {
    pub id: QuoteId,
    pub member_id: MemberId,
    pub card_number: Option<String>,
    pub coupon_ids: Vec<CouponId>,
    pub quote: Quote,
    pub expires_at: Timestamp,
    /// The card payment that used it (its record id).
    pub payment_id: Option<String>,
    pub created_by: String,
    pub created_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct QuoteDoc {
    coupon_ids: Vec<String>,
    order_amount: i64,
    member_price: i64,
    stacking: String,
    discount: i64,
    coupon_deduction: i64,
    to_pay: i64,
    lines: Vec<LineDoc>,
    steps: Vec<StepDoc>,
    created_by: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LineDoc {
    amount: i64,
    category: String,
    merchant: Option<String>,
    rate_bp: u32,
    discount: i64,
    coupon_deduction: i64,
    to_pay: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StepDoc {
    kind: String,
    coupon_id: Option<String>,
    amount: i64,
    remaining: i64,
}

fn step_kind(text: &str) -> anyhow::Result<&'static str> {
    ["card_discount", "coupon"].into_iter().find(|k| *k == text).ok_or_else(|| anyhow!("stored step {text:?}"))
}

impl CheckoutQuote {
    fn stored(&self) -> StoredQuote {
        let q = &self.quote;
        StoredQuote {
            id: self.id.to_string(),
            member_id: self.member_id.to_string(),
            card_number: self.card_number.clone(),
            payment_id: self.payment_id.clone(),
            expires_at: self.expires_at,
            data: encode(&QuoteDoc {
                coupon_ids: self.coupon_ids.iter().map(|c| c.to_string()).collect(),
                order_amount: q.order_amount,
                member_price: q.member_price,
                stacking: q.stacking.as_str().to_owned(),
                discount: q.discount,
                coupon_deduction: q.coupon_deduction,
                to_pay: q.to_pay,
                lines: q
                    .lines
                    .iter()
                    .map(|l| LineDoc {
                        amount: l.amount,
                        category: l.category.clone(),
                        merchant: l.merchant.map(|m| m.to_string()),
                        rate_bp: l.rate_bp,
                        discount: l.discount,
                        coupon_deduction: l.coupon_deduction,
                        to_pay: l.to_pay,
                    })
                    .collect(),
                steps: q
                    .steps
                    .iter()
                    .map(|s| StepDoc {
                        kind: s.kind.to_owned(),
                        coupon_id: s.coupon_id.clone(),
                        amount: s.amount,
                        remaining: s.remaining,
                    })
                    .collect(),
                created_by: self.created_by.clone(),
            }),
            created_at: self.created_at,
        }
    }

    fn restore(stored: StoredQuote) -> anyhow::Result<CheckoutQuote> {
        let d: QuoteDoc = decode(&stored.data, "checkout quote")?;
        let lines = d
            .lines
            .into_iter()
            .map(|l| {
                Ok(QuoteLine {
                    amount: l.amount,
                    category: l.category,
                    merchant: l
                        .merchant
                        .as_deref()
                        .map(|m| MerchantId::parse(m).ok_or_else(|| anyhow!("stored merchant {m:?}")))
                        .transpose()?,
                    rate_bp: l.rate_bp,
                    discount: l.discount,
                    coupon_deduction: l.coupon_deduction,
                    to_pay: l.to_pay,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        let steps = d
            .steps
            .into_iter()
            .map(|s| {
                Ok(QuoteStep {
                    kind: step_kind(&s.kind)?,
                    coupon_id: s.coupon_id,
                    amount: s.amount,
                    remaining: s.remaining,
                })
            })
            .collect::<anyhow::Result<_>>()?;
        Ok(CheckoutQuote {
            id: QuoteId::parse(&stored.id).ok_or_else(|| anyhow!("stored quote id {:?}", stored.id))?,
            member_id: MemberId::parse(&stored.member_id)
                .ok_or_else(|| anyhow!("stored member {:?}", stored.member_id))?,
            card_number: stored.card_number,
            coupon_ids: d
                .coupon_ids
                .iter()
                .map(|c| CouponId::parse(c).ok_or_else(|| anyhow!("stored coupon id {c:?}")))
                .collect::<anyhow::Result<_>>()?,
            quote: Quote {
                order_amount: d.order_amount,
                member_price: d.member_price,
                stacking: Stacking::parse(&d.stacking).ok_or_else(|| anyhow!("stored stacking {:?}", d.stacking))?,
                discount: d.discount,
                coupon_deduction: d.coupon_deduction,
                to_pay: d.to_pay,
                lines,
                steps,
            },
            expires_at: stored.expires_at,
            payment_id: stored.payment_id,
            created_by: d.created_by,
            created_at: stored.created_at,
        })
    }
}

impl Cards {
    /// A new coupon template. A bound caller makes templates for its own member's merchants only.
    pub async fn create_coupon_template(
        &self,
        new: NewCouponTemplate,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<CouponTemplate, CardFailure> {
        let name = check_template_name(&new.name)?;
        let terms = new.terms.check()?;
        if !self.reaches(binding, new.owner).await? {
            return Err(match new.owner {
                CardOwner::Platform => CardFailure::Rejected(CARD_OWNER_REQUIRED),
                CardOwner::Merchant(_) => CardFailure::NotFound(crate::party::error::MERCHANT_NOT_FOUND),
            });
        }
        if let CardOwner::Merchant(merchant) = new.owner {
            self.parties().merchant_member(merchant).await?;
        }
        let template = CouponTemplate {
            id: clock::new_id(),
            owner: new.owner,
            name,
            terms,
            issued: 0,
            created_by: actor_text(actor),
            created_at: clock::now(),
        };
        self.store().create_coupon_template(&template.stored()).await?;
        Ok(template)
    }

    /// A template the caller reaches; `coupon_template_not_found` otherwise.
    pub async fn coupon_template(
        &self,
        id: CouponTemplateId,
        binding: Option<MemberId>,
    ) -> Result<CouponTemplate, CardFailure> {
        let Some(stored) = self.store().coupon_template(&id.to_string()).await? else {
            return Err(CardFailure::NotFound(COUPON_TEMPLATE_NOT_FOUND));
        };
        let template = CouponTemplate::restore(stored)?;
        if !self.reaches(binding, template.owner).await? {
            return Err(CardFailure::NotFound(COUPON_TEMPLATE_NOT_FOUND));
        }
        Ok(template)
    }

    /// Templates in id order after `after`: a bound caller's own merchants' only.
    pub async fn coupon_templates(
        &self,
        binding: Option<MemberId>,
        after: Option<CouponTemplateId>,
        limit: Option<u32>,
    ) -> Result<Vec<CouponTemplate>, CardFailure> {
        let limit = page_limit(limit)?;
        let owners = self.owners_reached(binding).await?;
        let mut found = Vec::new();
        let mut after = after.map(|id| id.to_string());
        loop {
            let page = self.store().coupon_templates(owners.clone(), after.clone(), limit).await?;
            let done = page.len() < limit as usize;
            after = page.last().map(|t| t.id.clone());
            for stored in page {
                let template = CouponTemplate::restore(stored)?;
                if self.reaches(binding, template.owner).await? {
                    found.push(template);
                    if found.len() == limit as usize {
                        return Ok(found);
                    }
                }
            }
            if done {
                return Ok(found);
            }
        }
    }

    /// Issues one of the template's coupons to each member named (1 to 500), each on its own: a
    /// result per member, in their order. The template's quantity and per-member limit hold however
    /// many issue at once (the store decides each in one transaction).
    pub async fn issue_coupons(
        &self,
        template_id: CouponTemplateId,
        members: Vec<String>,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<Vec<IssueRow>, CardFailure> {
        if members.is_empty() || members.len() > ISSUE_MEMBERS_MAX {
            return Err(CardFailure::Rejected(COUPON_ISSUE_MEMBERS_INVALID));
        }
        let template = self.coupon_template(template_id, binding).await?;
        let mut rows = Vec::with_capacity(members.len());
        for member in members {
            let outcome = self.issue_one(&template, &member, actor).await;
            rows.push(IssueRow { member_id: member, outcome });
        }
        Ok(rows)
    }

    async fn issue_one(&self, template: &CouponTemplate, member: &str, actor: &Actor) -> Result<Coupon, CardFailure> {
        let member_id = MemberId::parse(member).ok_or(CardFailure::NotFound(crate::party::error::MEMBER_NOT_FOUND))?;
        self.parties().get_member(member_id).await?;
        let now = clock::now();
        let (valid_from, expires_at) = template.terms.validity.window(now);
        if expires_at <= now {
            return Err(CouponError::TemplateExpired.into());
        }
        let id: CouponId = clock::new_id();
        let stored = StoredCoupon {
            id: id.to_string(),
            template_id: template.id.to_string(),
            owner: template.owner.as_text(),
            member_id: member_id.to_string(),
            status: "unused".to_owned(),
            valid_from,
            expires_at,
            returnable: template.terms.returned_on_refund,
            payment_id: None,
            redeemed_at: None,
            data: encode(&CouponDoc { issued_by: actor_text(actor) }),
            created_at: now,
        };
        match self.store().issue_coupon(&stored).await? {
            CouponIssue::Issued => Ok(Coupon::restore(stored, now)?),
            CouponIssue::SoldOut => Err(CouponError::SoldOut.into()),
            CouponIssue::MemberLimit => Err(CouponError::MemberLimitReached.into()),
        }
    }

    /// A member's coupon wallet (券包), in id order: the coupons of templates the caller reaches.
    pub async fn member_coupons(
        &self,
        member: MemberId,
        binding: Option<MemberId>,
        after: Option<CouponId>,
        limit: Option<u32>,
    ) -> Result<Vec<Coupon>, CardFailure> {
        let limit = page_limit(limit)?;
        self.parties().get_member(member).await?;
        let now = clock::now();
        let mut found = Vec::new();
        let mut after = after.map(|id| id.to_string());
        loop {
            let page = self.store().member_coupons(&member.to_string(), after.clone(), limit).await?;
            let done = page.len() < limit as usize;
            after = page.last().map(|k| k.id.clone());
            for stored in page {
                let coupon = Coupon::restore(stored, now)?;
                if binding == Some(member) || self.reaches(binding, coupon.owner).await? {
                    found.push(coupon);
                    if found.len() == limit as usize {
                        return Ok(found);
                    }
                }
            }
            if done {
                return Ok(found);
            }
        }
    }

    /// A coupon the caller reaches; `coupon_not_found` otherwise.
    async fn load_coupon(
        &self,
        id: CouponId,
        binding: Option<MemberId>,
    ) -> Result<(Coupon, CouponTemplate), CardFailure> {
        let Some(stored) = self.store().coupon(&id.to_string()).await? else {
            return Err(CardFailure::NotFound(COUPON_NOT_FOUND));
        };
        let coupon = Coupon::restore(stored, clock::now())?;
        if !self.reaches(binding, coupon.owner).await? {
            return Err(CardFailure::NotFound(COUPON_NOT_FOUND));
        }
        let Some(template) = self.store().coupon_template(&coupon.template_id.to_string()).await? else {
            return Err(anyhow!("coupon {id}'s template is not stored").into());
        };
        Ok((coupon, CouponTemplate::restore(template)?))
    }

    /// What an order costs the member, paid with its card and coupons: kept as a quote valid for
    /// [`QUOTE_VALID_SECONDS`], paid with by the card payment that names it.
    pub async fn quote(
        &self,
        request: QuoteRequest,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<CheckoutQuote, CardFailure> {
        self.parties().get_member(request.member_id).await?;
        // A bound caller names a member it reaches (`Parties::reaches`), or one whose card or
        // coupons it reaches (checked below); any other answers as if absent.
        if let Some(bound) = binding {
            let named_through_card_or_coupon = request.card_number.is_some() || !request.coupon_ids.is_empty();
            if !named_through_card_or_coupon && !self.parties().reaches(bound, request.member_id).await? {
                return Err(CardFailure::NotFound(crate::party::error::MEMBER_NOT_FOUND));
            }
        }
        let now = clock::now();
        let card = match &request.card_number {
            None => None,
            Some(number) => {
                let card = self.load_card(number, binding).await?;
                if card.member_id != Some(request.member_id) {
                    return Err(CouponError::NotMembers.into());
                }
                card.check_usable(now)?;
                Some(QuotedCard { terms: card.terms.clone(), channel: card.channel })
            }
        };
        if request.coupon_ids.len() > sanhu_core::card::coupon::ORDER_COUPONS_MAX {
            return Err(CouponError::TooManyCoupons.into());
        }
        let mut coupons = Vec::new();
        let mut templates: Vec<CouponTemplateId> = Vec::new();
        for id in &request.coupon_ids {
            let (coupon, template) = self.load_coupon(*id, binding).await?;
            if coupon.member_id != request.member_id {
                return Err(CouponError::NotMembers.into());
            }
            match coupon.status {
                CouponStatus::Redeemed => return Err(CouponError::Used.into()),
                CouponStatus::Expired => return Err(CouponError::Expired.into()),
                CouponStatus::Unused if coupon.valid_from > now => return Err(CouponError::Expired.into()),
                CouponStatus::Unused => {}
            }
            if templates.contains(&template.id) {
                return Err(CouponError::RepeatedTemplate.into());
            }
            templates.push(template.id);
            coupons.push(QuotedCoupon { id: id.to_string(), terms: template.terms });
        }
        let quote = quote(&request.lines, card.as_ref(), &coupons)?;
        let checkout = CheckoutQuote {
            id: clock::new_id(),
            member_id: request.member_id,
            card_number: request.card_number,
            coupon_ids: request.coupon_ids,
            quote,
            expires_at: Timestamp::from_nanos(now.nanos().saturating_add(QUOTE_VALID_SECONDS * 1_000_000_000)),
            payment_id: None,
            created_by: actor_text(actor),
            created_at: now,
        };
        self.store().create_quote(&checkout.stored()).await?;
        Ok(checkout)
    }

    /// The quote a card payment names, for the card `number`: another card's, or one the store does
    /// not hold, is `checkout_quote_not_found`.
    pub(crate) async fn quote_for_card(&self, id: QuoteId, number: &str) -> Result<CheckoutQuote, CardFailure> {
        let Some(stored) = self.store().quote(&id.to_string()).await? else {
            return Err(CardFailure::NotFound(CHECKOUT_QUOTE_NOT_FOUND));
        };
        let quote = CheckoutQuote::restore(stored)?;
        if quote.card_number.as_deref() != Some(number) {
            return Err(CardFailure::NotFound(CHECKOUT_QUOTE_NOT_FOUND));
        }
        Ok(quote)
    }
}
