//! Member cards (会员卡): card types (卡种), number segments (号段), issuing batches (发行批次) and a
//! card's life (sold, activated, bound to a member, recharged, paid with, refunded to, frozen), as
//! pure rules. The service keeps them and moves a stored-value card's money through the ledger: a
//! card's balance is a ledger account of its own.
//!
//! **What a sold card gives does not change with its type.** A card type has a version, moved on by
//! every change of its terms; a card copies its type's terms (kind, face value, validity, whether it
//! may be recharged, discounts) when it is sold, with the version it copied. A later change applies
//! to cards sold after it only.
//!
//! **Discounts.** A rate is the share of the order's amount the member pays, in basis points (8,000 =
//! 80%, 八折; 10,000 = no discount), per business line (`coffee`, `bakery`, ...) with a default for
//! the others. The amount paid is the order's amount times the rate, rounded half up to the minor
//! unit (四舍五入: 0.5 of a fen is a fen); the discount is the order's amount less what is paid.

use crate::id::MerchantId;
use crate::party::check_digit::{luhn_check_digit, luhn_valid};
use crate::time::{PlatformCalendar, PlatformDay};
use crate::Timestamp;

rejection_codes! {
    /// Why a card rule refused.
    pub enum CardError {
        NameInvalid => "card_type_name_invalid", 422, "a card type's name is 1 to 50 characters without control characters",
        GradeInvalid => "card_grade_invalid", 422, "a card type's grade is 1 to 99 (1 is the highest)",
        PriceInvalid => "card_price_invalid", 422,
            "a stored-value card's face value is positive and its sale price at most its face value; prices are not negative",
        ValidityInvalid => "card_validity_invalid", 422,
            "a validity is 1 to 3,650 days from activation, or fixed dates with the start before the end",
        DiscountInvalid => "card_discount_invalid", 422,
            "a discount rate is 1 to 10,000 basis points of the price paid, at most 20 business lines of 1 to 32 characters a-z 0-9 _, each once",
        CountInvalid => "card_count_invalid", 422, "a count card gives 1 to 1,000 uses; other kinds give none",
        ChannelInvalid => "card_channel_invalid", 422,
            "a channel is online_partner, app, store, offline_promotion or convenience_store",
        SegmentInvalid => "card_segment_invalid", 422,
            "a segment's prefix is 2 to 8 digits, its serials 4 to 12 digits wide, the first at most the last",
        QuantityInvalid => "card_quantity_invalid", 422, "a batch issues 1 to 100,000 cards",
        NumberInvalid => "member_card_number_invalid", 422, "a card number is 7 to 21 digits ending in its Luhn check digit",
        ApproverRoleInvalid => "card_batch_approver_not_authorised", 403,
            "a batch is approved by a staff member of the marketing or the finance role",
        AlreadyApprovedByRole => "card_batch_already_approved_by_role", 409, "the batch was already approved by this role",
        SameApprover => "card_batch_same_approver", 403,
            "a batch's two approvals are by two different staff members, neither of them the batch's maker",
        BatchNotApproved => "card_batch_not_approved", 409,
            "no card of the batch is sold or activated before marketing and finance have both approved it",
        BatchSoldOut => "card_batch_sold_out", 409, "every card of the batch is sold or held by a redemption code",
        NotSold => "card_not_sold", 409, "only a card sold and not yet activated is activated",
        NotActive => "card_not_active", 409, "the card is not active (not activated yet, or frozen)",
        NotFrozen => "card_not_frozen", 409, "the card is not frozen",
        AlreadyBound => "card_member_already_bound", 409, "the card is bound to a member already",
        Expired => "card_expired", 409, "the card's validity is over (or has not begun)",
        NotStoredValue => "card_not_stored_value", 422, "only a stored-value card carries a balance",
        NotRechargeable => "card_not_rechargeable", 422, "the card's type may not be recharged",
        AmountInvalid => "card_amount_invalid", 422, "an amount is a positive number of minor units",
        RefundExceedsPayment => "card_refund_exceeds_payment", 409,
            "the refunds of a card payment add up to at most what it took from the card",
        CodeInvalid => "card_code_invalid", 422,
            "a redemption code is 16 symbols of 0-9 and A-Z without I, L, O and U (hyphens and spaces ignored), the last two a check: this one is mistyped",
        CodeUsed => "card_code_used", 409, "the redemption code has been redeemed already",
        CodeExpired => "card_code_expired", 409, "the redemption code's expiry has passed",
        CodeQuantityInvalid => "card_code_quantity_invalid", 422, "redemption codes are generated 1 to 1,000 at a time",
        CodeExpiryInvalid => "card_code_expiry_invalid", 422,
            "a redemption code's expiry is later than now and at most 3,650 days away",
        CodeRowsInvalid => "card_code_rows_invalid", 422,
            "a bulk binding is CSV text of 1 to 500 rows of a phone number and a code (phone,code), a header row allowed",
        Lost => "card_lost", 409,
            "the card is reported lost: nothing moves on it, and it is not unfrozen but re-issued (POST /v1/cards/{number}/reissue)",
        Reissued => "card_reissued", 409, "the card was re-issued: it is dead, and its successor (replaced_by) is the card",
        Cancelled => "card_cancelled", 409, "the card was cancelled and its balance refunded: it is dead",
        NotTransferable => "card_not_transferable", 422, "the card's type does not allow a card to pass to another member",
        TransferMemberNotActive => "card_transfer_member_not_active", 422,
            "a card passes only to another active member (not the member who holds it)",
        ExpiryInvalid => "card_expiry_invalid", 422, "what an expired card's balance does is keep or forfeit",
        StillValid => "card_still_valid", 409, "the card's validity has not ended: it is not expired",
        Forfeited => "card_expiry_forfeited", 409,
            "the card expired and its type forfeits an expired card's balance: it is not extended",
        ExtensionInvalid => "card_extension_invalid", 422,
            "an extension names the last valid day (YYYY-MM-DD in the platform's time zone) or 1 to 3,650 days more (one of the two), ending after today and at most 3,650 days away",
        NotExpiredOrActive => "card_not_extendable", 409, "only an active card or an expired one whose type keeps its balance is extended",
        CancelMethodInvalid => "card_cancel_refund_invalid", 422,
            "a cancelled card's balance is refunded to the wallet (an account of the member it is bound to) or in cash (an account of the issuing merchant's member)",
        RefundNoDestination => "card_refund_no_destination", 409,
            "the card was cancelled with its balance paid out in cash (or it held none): a refund of its payment has no card or wallet to go to, and is made outside the card",
    }
}

/// What a card carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardKind {
    /// 储值卡: a balance, recharged and paid from.
    StoredValue,
    /// 折扣/权益卡: identity and discounts, no balance.
    Discount,
    /// 次卡: a number of uses of a service.
    Count,
}

impl CardKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CardKind::StoredValue => "stored_value",
            CardKind::Discount => "discount",
            CardKind::Count => "count",
        }
    }

    pub fn parse(text: &str) -> Option<CardKind> {
        [CardKind::StoredValue, CardKind::Discount, CardKind::Count].into_iter().find(|k| k.as_str() == text)
    }
}

/// How long a card is valid.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Validity {
    /// From `from` (inclusive) to `until` (exclusive), whenever it is activated.
    Fixed { from: Timestamp, until: Timestamp },
    /// For this many days from its activation.
    DaysFromActivation(u32),
}

/// The longest validity counted from activation, in days (ten years).
pub const VALIDITY_DAYS_MAX: u32 = 3650;

impl Validity {
    pub fn check(self) -> Result<Validity, CardError> {
        let ok = match self {
            Validity::Fixed { from, until } => from < until,
            Validity::DaysFromActivation(days) => (1..=VALIDITY_DAYS_MAX).contains(&days),
        };
        ok.then_some(self).ok_or(CardError::ValidityInvalid)
    }

    /// When a card activated at `at` starts and stops being valid. A validity of N days ends at the
    /// end of the platform's day N days after the day of its activation (`calendar`'s days, not
    /// N x 24 hours): activated on 7 December at any hour, 1 day is valid through 8 December.
    pub fn window(self, at: Timestamp, calendar: &PlatformCalendar) -> (Timestamp, Timestamp) {
        match self {
            Validity::Fixed { from, until } => (from, until),
            Validity::DaysFromActivation(days) => (at, days_end(calendar, at, days)),
        }
    }
}

/// The end of the platform's day `days` days after the day `at` falls in (the next day's first
/// instant); the end of time if that is out of range.
pub fn days_end(calendar: &PlatformCalendar, at: Timestamp, days: u32) -> Timestamp {
    let day = calendar.day(at).0.saturating_add(i64::from(days)).saturating_add(1);
    calendar.day_start(PlatformDay(day)).unwrap_or(Timestamp::from_nanos(i64::MAX))
}

/// What an expired stored-value card's unspent balance does (过期余额).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ExpiryPolicy {
    /// Kept on the card, which may be extended (延期) and pay again.
    #[default]
    Keep,
    /// Moved to the platform's income (card forfeits) with a record; the card is not extended.
    Forfeit,
}

impl ExpiryPolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            ExpiryPolicy::Keep => "keep",
            ExpiryPolicy::Forfeit => "forfeit",
        }
    }

    pub fn parse(text: &str) -> Result<ExpiryPolicy, CardError> {
        [ExpiryPolicy::Keep, ExpiryPolicy::Forfeit]
            .into_iter()
            .find(|p| p.as_str() == text)
            .ok_or(CardError::ExpiryInvalid)
    }
}

/// A discount rate for one business line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineRate {
    pub line: String,
    /// The share of the price paid, in basis points.
    pub rate_bp: u32,
}

/// No discount: the whole price is paid.
pub const FULL_RATE_BP: u32 = 10_000;
/// Business lines a type may name.
pub const LINES_MAX: usize = 20;

fn line_valid(line: &str) -> bool {
    (1..=32).contains(&line.len()) && line.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn rate_valid(rate: u32) -> bool {
    (1..=FULL_RATE_BP).contains(&rate)
}

/// What a card of a type gives: the terms a card copies when it is sold.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardTerms {
    pub kind: CardKind,
    /// What a stored-value card holds when sold (minor units); 0 for the other kinds.
    pub face_value: i64,
    /// What the buyer pays for it.
    pub sale_price: i64,
    pub validity: Validity,
    pub rechargeable: bool,
    /// The rate for lines not named in `line_rates`.
    pub default_rate_bp: u32,
    pub line_rates: Vec<LineRate>,
    /// A count card's uses; 0 for the other kinds.
    pub uses: u32,
    /// Whether a card may pass to another member (转让); not unless the type says so.
    pub transferable: bool,
    /// What an expired stored-value card's balance does.
    pub on_expiry: ExpiryPolicy,
}

impl CardTerms {
    /// The terms if every rule holds.
    pub fn check(self) -> Result<CardTerms, CardError> {
        self.validity.check()?;
        if self.face_value < 0 || self.sale_price < 0 {
            return Err(CardError::PriceInvalid);
        }
        match self.kind {
            CardKind::StoredValue if self.face_value == 0 || self.sale_price > self.face_value => {
                return Err(CardError::PriceInvalid)
            }
            CardKind::Discount | CardKind::Count if self.face_value != 0 => return Err(CardError::PriceInvalid),
            _ => {}
        }
        let uses_ok = match self.kind {
            CardKind::Count => (1..=1000).contains(&self.uses),
            _ => self.uses == 0,
        };
        if !uses_ok {
            return Err(CardError::CountInvalid);
        }
        if !self.rechargeable_fits() {
            return Err(CardError::NotStoredValue);
        }
        let lines_ok = rate_valid(self.default_rate_bp)
            && self.line_rates.len() <= LINES_MAX
            && self.line_rates.iter().all(|r| line_valid(&r.line) && rate_valid(r.rate_bp))
            && self.line_rates.iter().enumerate().all(|(i, r)| self.line_rates[..i].iter().all(|o| o.line != r.line));
        if !lines_ok {
            return Err(CardError::DiscountInvalid);
        }
        Ok(self)
    }

    fn rechargeable_fits(&self) -> bool {
        !self.rechargeable || self.kind == CardKind::StoredValue
    }

    /// The rate for `line`: its own, else the default.
    pub fn rate_for(&self, line: Option<&str>) -> u32 {
        line.and_then(|line| self.line_rates.iter().find(|r| r.line == line))
            .map_or(self.default_rate_bp, |r| r.rate_bp)
    }
}

/// What a payment of `order_amount` at `rate_bp` takes from the card, and the discount: the amount
/// times the rate, rounded half up to the minor unit. None when the amount is not positive.
pub fn discounted(order_amount: i64, rate_bp: u32) -> Option<(i64, i64)> {
    if order_amount <= 0 || !rate_valid(rate_bp) {
        return None;
    }
    let scaled = i128::from(order_amount) * i128::from(rate_bp);
    let paid = (scaled + i128::from(FULL_RATE_BP / 2)) / i128::from(FULL_RATE_BP);
    let paid = i64::try_from(paid).ok()?.max(1);
    Some((paid, order_amount - paid))
}

/// Whose a card type is: the platform's, or one merchant's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardOwner {
    Platform,
    Merchant(MerchantId),
}

impl CardOwner {
    /// `platform` or the merchant's id, as stored.
    pub fn as_text(self) -> String {
        match self {
            CardOwner::Platform => "platform".to_owned(),
            CardOwner::Merchant(id) => id.to_string(),
        }
    }

    pub fn parse(text: &str) -> Option<CardOwner> {
        match text {
            "platform" => Some(CardOwner::Platform),
            other => MerchantId::parse(other).map(CardOwner::Merchant),
        }
    }
}

/// A card type's name, checked.
pub fn check_name(name: &str) -> Result<String, CardError> {
    let chars = name.chars().count();
    let ok = (1..=50).contains(&chars) && !name.chars().any(char::is_control) && name.trim() == name;
    ok.then(|| name.to_owned()).ok_or(CardError::NameInvalid)
}

/// A grade (等级), 1 the highest.
pub fn check_grade(grade: u32) -> Result<u32, CardError> {
    (1..=99).contains(&grade).then_some(grade).ok_or(CardError::GradeInvalid)
}

/// Where a batch's cards are sold (渠道).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SalesChannel {
    OnlinePartner,
    App,
    Store,
    OfflinePromotion,
    ConvenienceStore,
}

impl SalesChannel {
    pub const ALL: [SalesChannel; 5] = [
        SalesChannel::OnlinePartner,
        SalesChannel::App,
        SalesChannel::Store,
        SalesChannel::OfflinePromotion,
        SalesChannel::ConvenienceStore,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            SalesChannel::OnlinePartner => "online_partner",
            SalesChannel::App => "app",
            SalesChannel::Store => "store",
            SalesChannel::OfflinePromotion => "offline_promotion",
            SalesChannel::ConvenienceStore => "convenience_store",
        }
    }

    pub fn parse(text: &str) -> Result<SalesChannel, CardError> {
        SalesChannel::ALL.into_iter().find(|c| c.as_str() == text).ok_or(CardError::ChannelInvalid)
    }
}

/// A number segment: numbers `prefix` + serial (zero-padded to `serial_digits`) + a Luhn check digit,
/// for serials `first..=last`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment {
    pub prefix: String,
    pub serial_digits: u32,
    pub first: i64,
    pub last: i64,
}

impl Segment {
    pub fn check(self) -> Result<Segment, CardError> {
        let prefix_ok = (2..=8).contains(&self.prefix.len()) && self.prefix.bytes().all(|b| b.is_ascii_digit());
        let width_ok = (4..=12).contains(&self.serial_digits);
        let bound = 10_i64.checked_pow(self.serial_digits).unwrap_or(i64::MAX);
        let range_ok = width_ok && 0 <= self.first && self.first <= self.last && self.last < bound;
        (prefix_ok && range_ok).then_some(self).ok_or(CardError::SegmentInvalid)
    }

    /// How many numbers it holds.
    pub fn size(&self) -> i64 {
        self.last - self.first + 1
    }

    /// Whether two segments could give the same number: the same prefix and width with overlapping
    /// serials, or one prefix the start of the other's (whose numbers might then coincide).
    pub fn overlaps(&self, other: &Segment) -> bool {
        let same_shape = self.prefix == other.prefix && self.serial_digits == other.serial_digits;
        if same_shape {
            return self.first <= other.last && other.first <= self.last;
        }
        let (a, b) =
            (self.prefix.len() + self.serial_digits as usize, other.prefix.len() + other.serial_digits as usize);
        a == b && (self.prefix.starts_with(&other.prefix) || other.prefix.starts_with(&self.prefix))
    }

    /// The card number of `serial`.
    pub fn number(&self, serial: i64) -> String {
        let payload = format!("{}{:0width$}", self.prefix, serial, width = self.serial_digits as usize);
        let check = luhn_check_digit(&payload).expect("a payload of digits has a check digit");
        format!("{payload}{check}")
    }
}

/// A card number as typed: digits, Luhn-valid.
pub fn check_number(number: &str) -> Result<&str, CardError> {
    let ok = (7..=21).contains(&number.len()) && luhn_valid(number);
    ok.then_some(number).ok_or(CardError::NumberInvalid)
}

/// A batch's size.
pub fn check_quantity(quantity: i64) -> Result<i64, CardError> {
    (1..=100_000).contains(&quantity).then_some(quantity).ok_or(CardError::QuantityInvalid)
}

/// The two roles that approve a batch (市场运营部门、财务部门).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ApproverRole {
    Marketing,
    Finance,
}

impl ApproverRole {
    pub const ALL: [ApproverRole; 2] = [ApproverRole::Marketing, ApproverRole::Finance];

    pub fn as_str(self) -> &'static str {
        match self {
            ApproverRole::Marketing => "marketing",
            ApproverRole::Finance => "finance",
        }
    }

    pub fn parse(text: &str) -> Option<ApproverRole> {
        ApproverRole::ALL.into_iter().find(|r| r.as_str() == text)
    }
}

/// One role's approval of a batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchApproval {
    pub role: ApproverRole,
    /// The staff member, as the audit log names them (`staff:<username>`).
    pub by: String,
    pub at: Timestamp,
}

/// A batch's approvals: `approval` added to `approvals` if the rules allow it. `maker` is who made the
/// batch (`staff:…` or `client:…`). The batch is approved once both roles have approved it.
pub fn approve(
    approvals: &[BatchApproval],
    maker: &str,
    approval: BatchApproval,
) -> Result<Vec<BatchApproval>, CardError> {
    if approvals.iter().any(|a| a.role == approval.role) {
        return Err(CardError::AlreadyApprovedByRole);
    }
    if approval.by == maker || approvals.iter().any(|a| a.by == approval.by) {
        return Err(CardError::SameApprover);
    }
    let mut all = approvals.to_vec();
    all.push(approval);
    Ok(all)
}

/// Whether both roles have approved.
pub fn fully_approved(approvals: &[BatchApproval]) -> bool {
    ApproverRole::ALL.iter().all(|role| approvals.iter().any(|a| a.role == *role))
}

/// Where a card is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardStatus {
    /// Sold, not activated: no money moves on it yet.
    Sold,
    Active,
    /// Frozen (冻结): nothing is paid with it until it is unfrozen.
    Frozen,
    /// Reported lost (挂失): frozen, and never unfrozen: it is re-issued.
    Lost,
    /// Its validity ended (过期): its balance kept (it may be extended) or forfeited, as its type says.
    Expired,
    /// Re-issued (补卡): dead, its balance, benefits and member carried over to its successor.
    Reissued,
    /// Cancelled (退卡): dead, its balance refunded.
    Cancelled,
}

impl CardStatus {
    pub const ALL: [CardStatus; 7] = [
        CardStatus::Sold,
        CardStatus::Active,
        CardStatus::Frozen,
        CardStatus::Lost,
        CardStatus::Expired,
        CardStatus::Reissued,
        CardStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CardStatus::Sold => "sold",
            CardStatus::Active => "active",
            CardStatus::Frozen => "frozen",
            CardStatus::Lost => "lost",
            CardStatus::Expired => "expired",
            CardStatus::Reissued => "reissued",
            CardStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(text: &str) -> Option<CardStatus> {
        CardStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Why a card in this status moves no money: None when active.
    pub fn refusal(self) -> Option<CardError> {
        match self {
            CardStatus::Active => None,
            CardStatus::Lost => Some(CardError::Lost),
            CardStatus::Expired => Some(CardError::Expired),
            CardStatus::Reissued => Some(CardError::Reissued),
            CardStatus::Cancelled => Some(CardError::Cancelled),
            CardStatus::Sold | CardStatus::Frozen => Some(CardError::NotActive),
        }
    }

    /// Whether its ledger account's debits are blocked: frozen, lost, or dead (re-issued, cancelled;
    /// an expired card's when its balance was forfeited, which the card's record says).
    pub fn debits_blocked(self) -> bool {
        matches!(self, CardStatus::Frozen | CardStatus::Lost | CardStatus::Reissued | CardStatus::Cancelled)
    }

    /// Whether it is dead: re-issued or cancelled. Nothing moves on it ever again.
    pub fn dead(self) -> bool {
        matches!(self, CardStatus::Reissued | CardStatus::Cancelled)
    }
}

/// Whether a card in `status`, valid `from..until` (None before activation), may move money at `now`.
pub fn check_usable(
    status: CardStatus,
    window: Option<(Timestamp, Timestamp)>,
    now: Timestamp,
) -> Result<(), CardError> {
    if let Some(refusal) = status.refusal() {
        return Err(refusal);
    }
    match window {
        Some((from, until)) if from <= now && now < until => Ok(()),
        _ => Err(CardError::Expired),
    }
}

/// Whether a card in `status` may receive money back (a refund of one of its payments): an active, a
/// frozen, a lost or an expired card (their accounts block only what leaves them; a lost card's
/// balance passes to its successor, an expired card's is kept or forfeited with the rest); a card not
/// yet activated paid nothing, and a dead one receives nothing.
pub fn check_receives(status: CardStatus) -> Result<(), CardError> {
    match status {
        CardStatus::Active | CardStatus::Frozen | CardStatus::Lost | CardStatus::Expired => Ok(()),
        other => Err(other.refusal().unwrap_or(CardError::NotActive)),
    }
}

/// The longest extension of an expired card, in days.
pub const EXTENSION_DAYS_MAX: u32 = 3650;

/// An extension's days, checked.
pub fn check_extension(days: u32) -> Result<u32, CardError> {
    (1..=EXTENSION_DAYS_MAX).contains(&days).then_some(days).ok_or(CardError::ExtensionInvalid)
}

pub mod coupon;
pub mod redemption;

#[cfg(test)]
mod tests;
