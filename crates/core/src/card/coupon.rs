//! Coupons (券) and the checkout quote, as pure rules: what a coupon template gives, whether a coupon
//! applies to an order, and what an order costs a member with a card's discount and coupons, every
//! step itemised.
//!
//! **A template's kinds.** A fixed amount off (`fixed_amount`), a percentage off with a cap
//! (`percentage`), an amount off once the order reaches a threshold (`threshold`, 满减), and one item
//! free (`free_item`: the dearest line of its category, up to the template's value).
//!
//! **Scope.** A template may name merchants and product categories: it applies to the order's lines
//! of those merchants and categories (all when it names none), and what it takes off comes off those
//! lines only; an order with none of them cannot use it.
//!
//! **Stacking.** A template says whether its coupons combine with a card's discount and in which
//! order: `coupon_then_discount` (the coupon comes off the price, the card's rate applies to what
//! is left), `discount_then_coupon` (the card's rate applies to the price, the coupon comes off the
//! member price, a threshold checked against it), or `exclusive` (no card discount with it). A
//! template may also name the card sales channels whose cards do not combine with it: with such a
//! card the discount is not applied either. The coupons of one order stack in one order.
//!
//! **Rounding.** Every product of an amount and a rate is rounded half up to the minor unit (as a
//! card payment is, `discounted`): a line's member price, and a percentage coupon's deduction before
//! its cap. A coupon's deduction spread over its lines (for the card's per-line rates after it) is
//! shared in proportion to each line, rounded down, the cents left given one by one to the lines in
//! their order. A deduction is never more than what its lines have left; what remains to pay is
//! never below zero.

use crate::card::{CardTerms, SalesChannel, FULL_RATE_BP};
use crate::id::MerchantId;
use crate::Timestamp;

rejection_codes! {
    /// Why a coupon rule refused.
    pub enum CouponError {
        TemplateNameInvalid => "coupon_template_name_invalid", 422,
            "a coupon template's name is 1 to 50 characters without control characters",
        KindInvalid => "coupon_kind_invalid", 422,
            "a coupon takes a positive fixed amount off; or 1 to 10,000 basis points off with a positive cap; or a positive amount off a threshold above it; or one item of a category, worth at most a positive value",
        ValidityInvalid => "coupon_validity_invalid", 422,
            "a coupon is valid 1 to 3,650 days from its issue, or between fixed dates with the start before the end",
        ScopeInvalid => "coupon_scope_invalid", 422,
            "a template's scope names at most 50 merchants and 50 categories (1 to 32 characters a-z 0-9 _), each once",
        QuantityInvalid => "coupon_quantity_invalid", 422,
            "a template issues 1 to 10,000,000 coupons, at most 1 to 1,000 to one member",
        SoldOut => "coupon_template_sold_out", 409, "every coupon of the template has been issued",
        MemberLimitReached => "coupon_member_limit_reached", 409,
            "the member holds as many of the template's coupons as it gives one member",
        TemplateExpired => "coupon_template_expired", 409, "the template's fixed validity is over: it issues no more",
        Used => "coupon_used", 409, "the coupon has been redeemed already",
        Expired => "coupon_expired", 409, "the coupon's validity is over (or has not begun)",
        NotMembers => "coupon_not_members", 422, "the coupon, or the card, is not the quoted member's",
        OutOfScope => "coupon_out_of_scope", 422, "no line of the order is of the coupon's merchants and categories",
        ThresholdNotMet => "coupon_threshold_not_met", 422,
            "the order's lines the coupon applies to do not reach its threshold (after the discount, in the order discount then coupon)",
        StackingConflict => "coupon_stacking_conflict", 422,
            "the coupons of one order stack in one order: these templates say different ones",
        RepeatedTemplate => "coupon_template_repeated", 422, "an order uses at most one coupon of each template",
        LinesInvalid => "checkout_lines_invalid", 422,
            "an order has 1 to 100 lines, each a positive amount (the total at most 10,000,000,000) with a category (1 to 32 characters a-z 0-9 _)",
        TooManyCoupons => "checkout_coupons_too_many", 422, "an order uses at most 5 coupons",
        NothingToPay => "checkout_nothing_to_pay", 422,
            "the coupons cover the whole order: a quote leaves at least 0.01 for the card to pay",
    }
}

/// What a coupon takes off.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CouponKind {
    /// This amount off.
    FixedAmount { amount: i64 },
    /// `off_bp` basis points of the price off, at most `cap`.
    Percentage { off_bp: u32, cap: i64 },
    /// `amount` off once the lines it applies to reach `threshold` (满减).
    Threshold { threshold: i64, amount: i64 },
    /// The dearest line of `category` free, up to `max_value`.
    FreeItem { category: String, max_value: i64 },
}

impl CouponKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            CouponKind::FixedAmount { .. } => "fixed_amount",
            CouponKind::Percentage { .. } => "percentage",
            CouponKind::Threshold { .. } => "threshold",
            CouponKind::FreeItem { .. } => "free_item",
        }
    }

    fn check(&self) -> bool {
        match self {
            CouponKind::FixedAmount { amount } => *amount > 0,
            CouponKind::Percentage { off_bp, cap } => (1..=FULL_RATE_BP).contains(off_bp) && *cap > 0,
            CouponKind::Threshold { threshold, amount } => *amount > 0 && threshold > amount,
            CouponKind::FreeItem { category, max_value } => category_valid(category) && *max_value > 0,
        }
    }
}

/// How a template's coupons stack with a card's discount.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stacking {
    CouponThenDiscount,
    DiscountThenCoupon,
    /// No card discount with it.
    Exclusive,
}

impl Stacking {
    pub fn as_str(self) -> &'static str {
        match self {
            Stacking::CouponThenDiscount => "coupon_then_discount",
            Stacking::DiscountThenCoupon => "discount_then_coupon",
            Stacking::Exclusive => "exclusive",
        }
    }

    pub fn parse(text: &str) -> Option<Stacking> {
        [Stacking::CouponThenDiscount, Stacking::DiscountThenCoupon, Stacking::Exclusive]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// How long a coupon is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CouponValidity {
    /// From `from` (inclusive) to `until` (exclusive), whenever issued.
    Fixed { from: Timestamp, until: Timestamp },
    /// For this many days from its issue.
    DaysFromIssue(u32),
}

impl CouponValidity {
    /// When a coupon issued at `at` starts and stops being valid.
    pub fn window(self, at: Timestamp) -> (Timestamp, Timestamp) {
        match self {
            CouponValidity::Fixed { from, until } => (from, until),
            CouponValidity::DaysFromIssue(days) => {
                let until = at.nanos().saturating_add(i64::from(days) * 86_400 * 1_000_000_000);
                (at, Timestamp::from_nanos(until))
            }
        }
    }
}

/// The most coupons one template issues, and to one member.
pub const TEMPLATE_QUANTITY_MAX: i64 = 10_000_000;
pub const PER_MEMBER_MAX: u32 = 1000;
/// The most merchants and categories a template's scope names.
pub const SCOPE_ITEMS_MAX: usize = 50;
/// The most lines of an order, and coupons it uses.
pub const LINES_MAX: usize = 100;
pub const ORDER_COUPONS_MAX: usize = 5;
/// The most an order's lines add up to (100,000,000.00).
pub const ORDER_TOTAL_MAX: i64 = 10_000_000_000;

fn category_valid(category: &str) -> bool {
    (1..=32).contains(&category.len())
        && category.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// What a template's coupons give, and to whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CouponTerms {
    pub kind: CouponKind,
    pub validity: CouponValidity,
    /// The merchants whose lines it applies to; all when empty.
    pub merchants: Vec<MerchantId>,
    /// The categories whose lines it applies to; all when empty.
    pub categories: Vec<String>,
    /// Coupons it issues at most.
    pub quantity: i64,
    /// Coupons one member holds at most.
    pub per_member: u32,
    /// Whether a payment refunded in full gives the coupon back.
    pub returned_on_refund: bool,
    pub stacking: Stacking,
    /// Cards sold through these channels do not combine with it (their discount is not applied).
    pub excluded_card_channels: Vec<SalesChannel>,
}

impl CouponTerms {
    pub fn check(self) -> Result<CouponTerms, CouponError> {
        if !self.kind.check() {
            return Err(CouponError::KindInvalid);
        }
        let validity_ok = match self.validity {
            CouponValidity::Fixed { from, until } => from < until,
            CouponValidity::DaysFromIssue(days) => (1..=crate::card::VALIDITY_DAYS_MAX).contains(&days),
        };
        if !validity_ok {
            return Err(CouponError::ValidityInvalid);
        }
        let distinct = |items: &[String]| items.iter().enumerate().all(|(i, c)| !items[..i].contains(c));
        let merchants: Vec<String> = self.merchants.iter().map(|m| m.to_string()).collect();
        let scope_ok = self.merchants.len() <= SCOPE_ITEMS_MAX
            && self.categories.len() <= SCOPE_ITEMS_MAX
            && self.categories.iter().all(|c| category_valid(c))
            && distinct(&self.categories)
            && distinct(&merchants)
            && self
                .excluded_card_channels
                .iter()
                .enumerate()
                .all(|(i, c)| !self.excluded_card_channels[..i].contains(c));
        if !scope_ok {
            return Err(CouponError::ScopeInvalid);
        }
        if !(1..=TEMPLATE_QUANTITY_MAX).contains(&self.quantity) || !(1..=PER_MEMBER_MAX).contains(&self.per_member) {
            return Err(CouponError::QuantityInvalid);
        }
        Ok(self)
    }

    fn covers(&self, line: &OrderLine) -> bool {
        (self.merchants.is_empty() || line.merchant.is_some_and(|m| self.merchants.contains(&m)))
            && (self.categories.is_empty() || self.categories.contains(&line.category))
    }
}

/// A template's name, checked.
pub fn check_template_name(name: &str) -> Result<String, CouponError> {
    let name = name.trim();
    let ok = (1..=50).contains(&name.chars().count()) && !name.chars().any(char::is_control);
    ok.then(|| name.to_owned()).ok_or(CouponError::TemplateNameInvalid)
}

/// One line of an order: its amount, its product category, the merchant selling it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderLine {
    pub amount: i64,
    pub category: String,
    pub merchant: Option<MerchantId>,
}

/// The order's lines, checked.
pub fn check_lines(lines: &[OrderLine]) -> Result<i64, CouponError> {
    if lines.is_empty() || lines.len() > LINES_MAX {
        return Err(CouponError::LinesInvalid);
    }
    let mut total: i64 = 0;
    for line in lines {
        if line.amount <= 0 || !category_valid(&line.category) {
            return Err(CouponError::LinesInvalid);
        }
        total = total.checked_add(line.amount).ok_or(CouponError::LinesInvalid)?;
    }
    if total > ORDER_TOTAL_MAX {
        return Err(CouponError::LinesInvalid);
    }
    Ok(total)
}

/// A coupon as the quote uses it: its id and its template's terms.
#[derive(Clone, Debug)]
pub struct QuotedCoupon {
    pub id: String,
    pub terms: CouponTerms,
}

/// The card paying, as the quote uses it: its terms (its rates) and the channel it was sold through.
#[derive(Clone, Debug)]
pub struct QuotedCard {
    pub terms: CardTerms,
    pub channel: SalesChannel,
}

/// One line of a quote: its price, the rate applied and what it costs the member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteLine {
    pub amount: i64,
    pub category: String,
    pub merchant: Option<MerchantId>,
    /// The card's rate for its category (10,000 without a card or when the discount does not apply).
    pub rate_bp: u32,
    /// What the card's discount took off it.
    pub discount: i64,
    /// What the coupons took off it.
    pub coupon_deduction: i64,
    /// What is left to pay for it.
    pub to_pay: i64,
}

/// One step of a quote, in the order applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteStep {
    /// `card_discount` or `coupon`.
    pub kind: &'static str,
    /// The coupon's id, for a coupon.
    pub coupon_id: Option<String>,
    /// What it took off.
    pub amount: i64,
    /// What the order cost after it.
    pub remaining: i64,
}

/// What an order costs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Quote {
    pub order_amount: i64,
    /// The order's lines after the card's discount alone (the member price).
    pub member_price: i64,
    pub stacking: Stacking,
    pub discount: i64,
    pub coupon_deduction: i64,
    pub to_pay: i64,
    pub lines: Vec<QuoteLine>,
    pub steps: Vec<QuoteStep>,
}

/// An amount times a rate in basis points, rounded half up to the minor unit.
fn times_rate(amount: i64, rate_bp: u32) -> i64 {
    let scaled = i128::from(amount) * i128::from(rate_bp);
    let rounded = (scaled + i128::from(FULL_RATE_BP / 2)) / i128::from(FULL_RATE_BP);
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// What `coupon` takes off `left` (what each line has left to pay), and its share of each line.
fn coupon_takes(coupon: &QuotedCoupon, lines: &[OrderLine], left: &[i64]) -> Result<Vec<i64>, CouponError> {
    let covered: Vec<usize> = (0..lines.len()).filter(|&i| coupon.terms.covers(&lines[i])).collect();
    let base: i64 = covered.iter().map(|&i| left[i]).sum();
    let mut shares = vec![0; lines.len()];
    if covered.is_empty() {
        return Err(CouponError::OutOfScope);
    }
    let deduction = match &coupon.terms.kind {
        CouponKind::FixedAmount { amount } => *amount,
        CouponKind::Percentage { off_bp, cap } => times_rate(base, *off_bp).min(*cap),
        CouponKind::Threshold { threshold, amount } => {
            if base < *threshold {
                return Err(CouponError::ThresholdNotMet);
            }
            *amount
        }
        CouponKind::FreeItem { category, max_value } => {
            // The dearest line of its category (the first of equals) is free, up to its value.
            let item = covered
                .iter()
                .copied()
                .filter(|&i| &lines[i].category == category)
                .max_by(|&a, &b| left[a].cmp(&left[b]).then(b.cmp(&a)));
            let Some(item) = item else { return Err(CouponError::OutOfScope) };
            shares[item] = left[item].min(*max_value);
            return Ok(shares);
        }
    };
    let deduction = deduction.min(base);
    if base == 0 {
        return Ok(shares);
    }
    let mut given = 0;
    for &i in &covered {
        let share = i64::try_from(i128::from(deduction) * i128::from(left[i]) / i128::from(base)).unwrap_or(0);
        shares[i] = share;
        given += share;
    }
    // The cents the proportional shares rounded down, one by one to the lines in order.
    let mut rest = deduction - given;
    while rest > 0 {
        let before = rest;
        for &i in &covered {
            if rest > 0 && shares[i] < left[i] {
                shares[i] += 1;
                rest -= 1;
            }
        }
        if rest == before {
            break;
        }
    }
    Ok(shares)
}

/// What an order of `lines` costs paid with `card` (None: no card, no discount) and `coupons`, every
/// step itemised. The coupons are the member's, valid now and of distinct templates (the caller
/// checked); they stack in the one order their templates say.
pub fn quote(lines: &[OrderLine], card: Option<&QuotedCard>, coupons: &[QuotedCoupon]) -> Result<Quote, CouponError> {
    let order_amount = check_lines(lines)?;
    if coupons.len() > ORDER_COUPONS_MAX {
        return Err(CouponError::TooManyCoupons);
    }
    let mut stacking = Stacking::CouponThenDiscount;
    let mut stackings = coupons.iter().map(|c| c.terms.stacking);
    if let Some(first) = stackings.next() {
        if stackings.any(|s| s != first) {
            return Err(CouponError::StackingConflict);
        }
        stacking = first;
    }
    // Whether the card's discount applies: not with an exclusive coupon, nor with a coupon that
    // excludes the card's channel.
    let discount_applies = card.is_some_and(|card| {
        stacking != Stacking::Exclusive
            && coupons.iter().all(|c| !c.terms.excluded_card_channels.contains(&card.channel))
    });
    let rates: Vec<u32> = lines
        .iter()
        .map(|l| match card {
            Some(card) if discount_applies => card.terms.rate_for(Some(&l.category)),
            _ => FULL_RATE_BP,
        })
        .collect();
    let member_price: i64 = lines.iter().zip(&rates).map(|(l, &r)| times_rate(l.amount, r)).sum();
    let mut left: Vec<i64> = lines.iter().map(|l| l.amount).collect();
    let mut discounts = vec![0; lines.len()];
    let mut deductions = vec![0; lines.len()];
    let mut steps = Vec::new();
    let apply_discount = |left: &mut Vec<i64>, discounts: &mut Vec<i64>, steps: &mut Vec<QuoteStep>| {
        if !discount_applies {
            return;
        }
        let mut taken = 0;
        for i in 0..lines.len() {
            let paid = times_rate(left[i], rates[i]);
            discounts[i] = left[i] - paid;
            taken += discounts[i];
            left[i] = paid;
        }
        steps.push(QuoteStep { kind: "card_discount", coupon_id: None, amount: taken, remaining: left.iter().sum() });
    };
    if stacking == Stacking::DiscountThenCoupon {
        apply_discount(&mut left, &mut discounts, &mut steps);
    }
    for coupon in coupons {
        let shares = coupon_takes(coupon, lines, &left)?;
        for i in 0..lines.len() {
            left[i] -= shares[i];
            deductions[i] += shares[i];
        }
        steps.push(QuoteStep {
            kind: "coupon",
            coupon_id: Some(coupon.id.clone()),
            amount: shares.iter().sum(),
            remaining: left.iter().sum(),
        });
    }
    if stacking != Stacking::DiscountThenCoupon {
        apply_discount(&mut left, &mut discounts, &mut steps);
    }
    let quoted_lines: Vec<QuoteLine> = lines
        .iter()
        .enumerate()
        .map(|(i, l)| QuoteLine {
            amount: l.amount,
            category: l.category.clone(),
            merchant: l.merchant,
            rate_bp: rates[i],
            discount: discounts[i],
            coupon_deduction: deductions[i],
            to_pay: left[i],
        })
        .collect();
    // A card payment moves at least a minor unit: an order the coupons cover whole is not quoted.
    if left.iter().sum::<i64>() == 0 {
        return Err(CouponError::NothingToPay);
    }
    Ok(Quote {
        order_amount,
        member_price,
        stacking,
        discount: discounts.iter().sum(),
        coupon_deduction: deductions.iter().sum(),
        to_pay: left.iter().sum(),
        lines: quoted_lines,
        steps,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::card::{CardKind, ExpiryPolicy, LineRate, Validity};

    fn card(default_bp: u32, coffee_bp: u32) -> QuotedCard {
        QuotedCard {
            terms: CardTerms {
                kind: CardKind::StoredValue,
                face_value: 500_000,
                sale_price: 450_000,
                validity: Validity::DaysFromActivation(365),
                rechargeable: true,
                default_rate_bp: default_bp,
                line_rates: vec![LineRate { line: "coffee".into(), rate_bp: coffee_bp }],
                uses: 0,
                transferable: false,
                on_expiry: ExpiryPolicy::Keep,
            },
            channel: SalesChannel::App,
        }
    }

    fn coupon(kind: CouponKind, stacking: Stacking) -> QuotedCoupon {
        QuotedCoupon {
            id: "cpn_1".into(),
            terms: CouponTerms {
                kind,
                validity: CouponValidity::DaysFromIssue(30),
                merchants: vec![],
                categories: vec![],
                quantity: 10,
                per_member: 1,
                returned_on_refund: true,
                stacking,
                excluded_card_channels: vec![],
            },
        }
    }

    fn line(amount: i64, category: &str) -> OrderLine {
        OrderLine { amount, category: category.into(), merchant: None }
    }

    #[test]
    fn the_two_stacking_orders_differ_to_the_cent() {
        // 100.00 of coffee at 70%, 满 80 减 20.
        let lines = [line(10_000, "coffee")];
        let c = card(9000, 7000);
        let threshold = |s| coupon(CouponKind::Threshold { threshold: 8000, amount: 2000 }, s);
        let first = quote(&lines, Some(&c), &[threshold(Stacking::CouponThenDiscount)]).unwrap();
        // (100.00 - 20.00) x 70% = 56.00
        assert_eq!((first.coupon_deduction, first.discount, first.to_pay), (2000, 2400, 5600));
        assert_eq!(first.member_price, 7000);
        let second = quote(&lines, Some(&c), &[threshold(Stacking::DiscountThenCoupon)]);
        // 100.00 x 70% = 70.00 reaches 80.00? no: the threshold is checked after the discount.
        assert_eq!(second, Err(CouponError::ThresholdNotMet));
        let fixed = |s| coupon(CouponKind::FixedAmount { amount: 1000 }, s);
        let a = quote(&lines, Some(&c), &[fixed(Stacking::CouponThenDiscount)]).unwrap();
        let b = quote(&lines, Some(&c), &[fixed(Stacking::DiscountThenCoupon)]).unwrap();
        assert_eq!(a.to_pay, 6300); // (100 - 10) x 70%
        assert_eq!(b.to_pay, 6000); // 100 x 70% - 10
        let exclusive = quote(&lines, Some(&c), &[fixed(Stacking::Exclusive)]).unwrap();
        assert_eq!((exclusive.discount, exclusive.to_pay), (0, 9000));
    }

    #[test]
    fn rounding_is_half_up_per_line_and_shares_round_down_with_cents_in_order() {
        // 12.35 coffee and 20.01 cake, 10% off capped at 100.00, coupon first:
        // 10% of 32.36 = 3.236 -> 3.24; shares: 3.24 x 1235/3236 = 1.2365 -> 1.23, 3.24 x 2001/3236 = 2.0035 -> 2.00;
        // one cent left goes to the first line: 1.24 and 2.00.
        let lines = [line(1235, "coffee"), line(2001, "cake")];
        let c = card(9000, 7000);
        let pct = coupon(CouponKind::Percentage { off_bp: 1000, cap: 10_000 }, Stacking::CouponThenDiscount);
        let q = quote(&lines, Some(&c), &[pct]).unwrap();
        assert_eq!(q.lines[0].coupon_deduction, 124);
        assert_eq!(q.lines[1].coupon_deduction, 200);
        // 11.11 x 70% = 7.777 -> 7.78; 18.01 x 90% = 16.209 -> 16.21
        assert_eq!(q.lines[0].to_pay, 778);
        assert_eq!(q.lines[1].to_pay, 1621);
        assert_eq!(q.to_pay, 2399);
        assert_eq!(q.discount + q.coupon_deduction + q.to_pay, q.order_amount);
    }

    #[test]
    fn a_free_item_and_scope() {
        let lines = [line(1500, "coffee"), line(2800, "coffee"), line(900, "cake")];
        let free =
            coupon(CouponKind::FreeItem { category: "coffee".into(), max_value: 2500 }, Stacking::CouponThenDiscount);
        let q = quote(&lines, None, &[free]).unwrap();
        assert_eq!(q.lines[1].coupon_deduction, 2500);
        assert_eq!(q.to_pay, 1500 + 300 + 900);
        let mut only_tea = coupon(CouponKind::FixedAmount { amount: 100 }, Stacking::CouponThenDiscount);
        only_tea.terms.categories = vec!["tea".into()];
        assert_eq!(quote(&lines, None, &[only_tea]), Err(CouponError::OutOfScope));
        let everything = coupon(CouponKind::FixedAmount { amount: 100_000 }, Stacking::CouponThenDiscount);
        assert_eq!(quote(&lines, None, &[everything]), Err(CouponError::NothingToPay));
    }
}
