//! Merchants (商户): a member (or the customer behind it) plus what it takes to do business, as the
//! articles' merchant model describes it: a merchant type with its requirements and limits, a business
//! scenario, a contact, the documents of its onboarding review (进件), a settlement bank account, and
//! the accounts it opens when it becomes active.
//!
//! One customer may be a member and a merchant at once: a merchant is always under the customer of
//! the member it is opened from (the customer number once, the data twice). The same business
//! onboarded twice is recognised by its credit code or its owner's certificate, which names one
//! customer.
//!
//! Statuses: applying (documents being gathered) → under review → active, or rejected; staff may ask
//! for more, which sends it back to applying. An active merchant may be frozen and unfrozen; any
//! merchant not closed may be closed, for good. Each change has a reason and is kept in the history.

use super::account_type::AccountTypeCode;
use super::customer::PartyKind;

rejection_codes! {
    /// Why a merchant rule refused.
    pub enum MerchantError {
        TypeUnknown => "merchant_type_unknown", 422, "no merchant type with this code is configured",
        TypeCodeInvalid => "merchant_type_code_invalid", 422,
            "a merchant type code is 1 to 32 lowercase letters, digits or '_'",
        NameInvalid => "merchant_name_invalid", 422, "a merchant's name is 1 to 100 characters without control characters",
        ScenarioInvalid => "merchant_scenario_invalid", 422,
            "a business scenario is online_shop, app or mini_program with an https URL, or offline_store with an address",
        ContactInvalid => "merchant_contact_invalid", 422, "a contact is a name and a phone",
        RealNameRequired => "merchant_real_name_required", 422,
            "this merchant type is opened only from a member with a verified real name",
        KindNotAllowed => "merchant_member_kind_not_allowed", 422,
            "this merchant type is not opened from a member of this kind (enterprise merchants from enterprise members)",
        CertificateRequired => "merchant_certificate_required", 422,
            "this merchant needs the business's credit code, or for a personal merchant its customer's certificate",
        CapReached => "merchant_cap_reached", 422, "the customer already has as many merchants as the platform allows",
        BusinessOfAnotherCustomer => "merchant_business_of_another_customer", 409,
            "this credit code or certificate belongs to another customer; a business is onboarded under one customer",
        DocumentsMissing => "merchant_documents_missing", 422,
            "the documents this merchant type requires are not all given (licence, legal person, premises photos)",
        DocumentInvalid => "merchant_document_invalid", 422,
            "a premises photo is a reference of 1 to 200 printable characters, at most 10 of them",
        NotApplying => "merchant_not_applying", 409, "documents are given and submitted only while the merchant is applying",
        NotUnderReview => "merchant_not_under_review", 409, "the merchant is not under review",
        StatusChangeNotAllowed => "merchant_status_change_not_allowed", 409,
            "a merchant is frozen only when active, unfrozen only when frozen, and a closed merchant stays closed",
        NotReceiving => "merchant_not_receiving", 422, "the merchant is not active: it receives no payments",
        SettlementKindNotAccepted => "settlement_account_kind_not_accepted", 422,
            "this merchant type does not settle to an account of this kind",
        SettlementNameMismatch => "settlement_account_name_mismatch", 422,
            "a corporate settlement account's name must be the business's registered name",
        SettlementAccountInvalid => "settlement_account_invalid", 422,
            "a corporate account number is 6 to 32 digits, a bank code 3 digits, a branch code 12 digits",
        SettlementAccountMissing => "settlement_account_missing", 409, "the merchant has no settlement account",
        ReviewReasonRequired => "merchant_review_reason_required", 422,
            "rejecting an application or asking for more takes a reason",
        SettlementCycleInvalid => "settlement_cycle_invalid", 422, "a settlement cycle is t1, d1 or d0",
        LimitsInvalid => "merchant_limits_invalid", 422,
            "a merchant type's limits are positive, per payment at most per day, per day at most per month",
        StatusInvalid => "merchant_status_invalid", 422, "a merchant's status is set to frozen, active or closed",
        SettlementAccountFixed => "settlement_account_fixed", 409,
            "the settlement account is set while the merchant is applying; once submitted it is fixed",
        SettlementAccountChanged => "settlement_account_changed", 409,
            "the verification names another account than the merchant's settlement account",
        SettlementAccountUnverified => "settlement_account_unverified", 409,
            "a merchant is approved only with its settlement account verified",
        SettlementRealNameRequired => "settlement_account_real_name_required", 422,
            "a personal card settles a merchant only for a member with a verified real name, the card's name",
        ReviewByStaffOnly => "merchant_review_staff_only", 403,
            "a merchant's application is decided by staff: one staff member's decision, approved by another",
        LevelUnknown => "merchant_level_unknown", 422, "no merchant level with this code is configured",
        LevelRequired => "merchant_level_required", 422,
            "a merchant opened under a parent, or as a sub-merchant, names its level in the hierarchy",
        LevelNotAllowedHere => "merchant_level_not_allowed", 422,
            "a merchant of this level does not sit under a merchant of the parent's level (or at the top, without one)",
        LevelTypeNotAllowed => "merchant_level_type_not_allowed", 422, "this level does not mount merchants of this type",
        ParentUnknown => "merchant_parent_unknown", 422, "no merchant has the parent id given",
        ParentNotActive => "merchant_parent_not_active", 422, "a merchant is opened or moved only under an active parent",
        DepthExceeded => "merchant_depth_exceeded", 422,
            "the hierarchy would be deeper than the platform allows (merchant_depth_max), or a sub-merchant's deeper than two levels",
        MoveIntoOwnSubtree => "merchant_move_into_own_subtree", 422,
            "a merchant is not moved under itself or under a merchant below it",
        NotSpecial => "merchant_not_special", 422,
            "only a special merchant (特约商户: a merchant of a level that opens sub-merchants) opens sub-merchants",
        SubMerchantClientRefused => "sub_merchant_client_refused", 422,
            "a sub-merchant has no login or client of its own: it is operated through its parent's client",
    }
}

rejection_codes! {
    /// A payment a merchant receives over one of its type's limits: the code is one, the message names
    /// the limit.
    pub enum MerchantLimitError {
        PerPayment => "merchant_limit_exceeded", 422, "the payment exceeds the merchant's limit per payment (per_payment)",
        PerDay => "merchant_limit_exceeded", 422,
            "the payment would take the merchant's receipts today past its limit per day (per_day)",
        PerMonth => "merchant_limit_exceeded", 422,
            "the payment would take the merchant's receipts this month past its limit per month (per_month)",
    }
}

/// A merchant type's code (`personal`, `individual_business`, `enterprise`, ...).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct MerchantTypeCode(String);

impl MerchantTypeCode {
    pub fn parse(text: &str) -> Result<MerchantTypeCode, MerchantError> {
        let ok = (1..=32).contains(&text.len())
            && text.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        ok.then(|| MerchantTypeCode(text.to_owned())).ok_or(MerchantError::TypeCodeInvalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A document the onboarding review may require.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum DocumentKind {
    /// The business licence's number: the unified social credit code (营业执照).
    Licence,
    /// The legal person's name and certificate (法人).
    LegalPerson,
    /// Photos of the premises (经营场所), as references to files kept elsewhere.
    Premises,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 3] = [DocumentKind::Licence, DocumentKind::LegalPerson, DocumentKind::Premises];

    pub fn as_str(self) -> &'static str {
        match self {
            DocumentKind::Licence => "licence",
            DocumentKind::LegalPerson => "legal_person",
            DocumentKind::Premises => "premises",
        }
    }

    pub fn parse(text: &str) -> Option<DocumentKind> {
        DocumentKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// The kind of bank account a merchant settles to.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum SettlementKind {
    /// A company's account (对公): the name must be the business's registered name.
    Corporate,
    /// A person's bank card (对私), Luhn-checked like any card.
    PersonalCard,
}

impl SettlementKind {
    pub const ALL: [SettlementKind; 2] = [SettlementKind::Corporate, SettlementKind::PersonalCard];

    pub fn as_str(self) -> &'static str {
        match self {
            SettlementKind::Corporate => "corporate",
            SettlementKind::PersonalCard => "personal_card",
        }
    }

    pub fn parse(text: &str) -> Option<SettlementKind> {
        SettlementKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// What a merchant of a type may receive, in minor units.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct MerchantLimits {
    pub per_payment: i64,
    pub per_day: i64,
    pub per_month: i64,
}

impl MerchantLimits {
    pub fn new(per_payment: i64, per_day: i64, per_month: i64) -> Result<MerchantLimits, MerchantError> {
        let ok = per_payment > 0 && per_payment <= per_day && per_day <= per_month;
        ok.then_some(MerchantLimits { per_payment, per_day, per_month }).ok_or(MerchantError::LimitsInvalid)
    }
}

/// A merchant type as configured (`[[merchant_types]]`).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MerchantTypeSpec {
    pub code: MerchantTypeCode,
    pub name: String,
    /// The kind of member it is opened from: personal merchants and individual businesses from
    /// personal members, enterprises from enterprise members.
    pub member_kind: PartyKind,
    /// Opened only from a member with a verified real name (a personal collection code).
    pub real_name_required: bool,
    /// The documents its onboarding review requires.
    pub documents: Vec<DocumentKind>,
    /// The kinds of settlement account it accepts.
    pub settlement_accounts: Vec<SettlementKind>,
    pub limits: MerchantLimits,
    /// The account types opened for it when it becomes active (receipts, settlement, margin ...).
    pub accounts: Vec<AccountTypeCode>,
}

/// A merchant type: its spec, checked.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MerchantType(MerchantTypeSpec);

impl MerchantType {
    pub fn configure(spec: MerchantTypeSpec) -> Result<MerchantType, MerchantError> {
        if spec.settlement_accounts.is_empty() {
            return Err(MerchantError::SettlementKindNotAccepted);
        }
        MerchantLimits::new(spec.limits.per_payment, spec.limits.per_day, spec.limits.per_month)?;
        Ok(MerchantType(spec))
    }

    pub fn spec(&self) -> &MerchantTypeSpec {
        &self.0
    }

    pub fn code(&self) -> &MerchantTypeCode {
        &self.0.code
    }

    pub fn limits(&self) -> MerchantLimits {
        self.0.limits
    }

    pub fn requires(&self, document: DocumentKind) -> bool {
        self.0.documents.contains(&document)
    }

    pub fn accepts(&self, kind: SettlementKind) -> Result<(), MerchantError> {
        self.0.settlement_accounts.contains(&kind).then_some(()).ok_or(MerchantError::SettlementKindNotAccepted)
    }

    /// Whether a member of `kind`, with or without a verified real name, may open a merchant of this
    /// type.
    pub fn check_member(&self, kind: PartyKind, has_real_name: bool) -> Result<(), MerchantError> {
        if kind != self.0.member_kind {
            return Err(MerchantError::KindNotAllowed);
        }
        if self.0.real_name_required && !has_real_name {
            return Err(MerchantError::RealNameRequired);
        }
        Ok(())
    }
}

/// The configured merchant types.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MerchantTypes(Vec<MerchantType>);

impl MerchantTypes {
    pub fn new(types: Vec<MerchantType>) -> Result<MerchantTypes, MerchantError> {
        for (i, t) in types.iter().enumerate() {
            if types[..i].iter().any(|o| o.code() == t.code()) {
                return Err(MerchantError::TypeCodeInvalid);
            }
        }
        Ok(MerchantTypes(types))
    }

    /// The articles' three, on the default account types:
    ///
    /// | code | 名称 | from | documents | settles to | per payment / day / month (元) | opens |
    /// |---|---|---|---|---|---|---|
    /// | personal | 个人商户 (收款码) | a real-name personal member | none | personal card | 500 / 2,000 / 10,000 | settlement |
    /// | individual_business | 个体工商户 | a personal member | licence, premises | personal card or corporate | 5,000 / 50,000 / 500,000 | settlement, margin |
    /// | enterprise | 企业商户 | an enterprise member | licence, legal person, premises | corporate | 50,000 / 1,000,000 / 20,000,000 | settlement, margin |
    pub fn default_set() -> MerchantTypes {
        let code = |c: &str| AccountTypeCode::parse(c).expect("a default account type code is valid");
        let spec = |c: &str, name: &str, member_kind, limits: (i64, i64, i64)| MerchantTypeSpec {
            code: MerchantTypeCode::parse(c).expect("a default merchant type code is valid"),
            name: name.to_owned(),
            member_kind,
            real_name_required: false,
            documents: Vec::new(),
            settlement_accounts: vec![SettlementKind::PersonalCard],
            limits: MerchantLimits::new(limits.0, limits.1, limits.2).expect("the default limits are valid"),
            accounts: vec![code("settlement"), code("margin")],
        };
        let specs = [
            MerchantTypeSpec {
                real_name_required: true,
                accounts: vec![code("settlement")],
                ..spec("personal", "个人商户", PartyKind::Personal, (50_000, 200_000, 1_000_000))
            },
            MerchantTypeSpec {
                documents: vec![DocumentKind::Licence, DocumentKind::Premises],
                settlement_accounts: vec![SettlementKind::PersonalCard, SettlementKind::Corporate],
                ..spec("individual_business", "个体工商户", PartyKind::Personal, (500_000, 5_000_000, 50_000_000))
            },
            MerchantTypeSpec {
                documents: DocumentKind::ALL.to_vec(),
                settlement_accounts: vec![SettlementKind::Corporate],
                ..spec("enterprise", "企业商户", PartyKind::Enterprise, (5_000_000, 100_000_000, 2_000_000_000))
            },
        ];
        let types = specs.into_iter().map(|s| MerchantType::configure(s).expect("the default set is valid")).collect();
        MerchantTypes::new(types).expect("the default codes are distinct")
    }

    pub fn get(&self, code: &MerchantTypeCode) -> Option<&MerchantType> {
        self.0.iter().find(|t| t.code() == code)
    }

    pub fn find(&self, code: &str) -> Result<&MerchantType, MerchantError> {
        self.0.iter().find(|t| t.code().as_str() == code).ok_or(MerchantError::TypeUnknown)
    }

    pub fn iter(&self) -> impl Iterator<Item = &MerchantType> {
        self.0.iter()
    }
}

/// A merchant's status.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum MerchantStatus {
    /// Opened; its documents are being gathered (again, after staff asked for more).
    Applying,
    /// Its documents are submitted and wait for staff.
    UnderReview,
    /// Approved: its accounts are open and it receives payments.
    Active,
    /// Refused by the review, for good (a new application is a new merchant).
    Rejected,
    /// Stopped by staff for a while: it receives nothing.
    Frozen,
    /// Closed for good.
    Closed,
}

impl MerchantStatus {
    pub const ALL: [MerchantStatus; 6] = [
        MerchantStatus::Applying,
        MerchantStatus::UnderReview,
        MerchantStatus::Active,
        MerchantStatus::Rejected,
        MerchantStatus::Frozen,
        MerchantStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MerchantStatus::Applying => "applying",
            MerchantStatus::UnderReview => "under_review",
            MerchantStatus::Active => "active",
            MerchantStatus::Rejected => "rejected",
            MerchantStatus::Frozen => "frozen",
            MerchantStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<MerchantStatus> {
        MerchantStatus::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// Whether it counts toward the customer's cap: every merchant not rejected or closed.
    pub fn counts_toward_cap(self) -> bool {
        !matches!(self, MerchantStatus::Rejected | MerchantStatus::Closed)
    }

    /// Documents may be given and submitted.
    pub fn check_applying(self) -> Result<(), MerchantError> {
        (self == MerchantStatus::Applying).then_some(()).ok_or(MerchantError::NotApplying)
    }

    /// The status a review's decision leads to.
    pub fn review(self, decision: ReviewDecision) -> Result<MerchantStatus, MerchantError> {
        if self != MerchantStatus::UnderReview {
            return Err(MerchantError::NotUnderReview);
        }
        Ok(match decision {
            ReviewDecision::Approve => MerchantStatus::Active,
            ReviewDecision::Reject => MerchantStatus::Rejected,
            ReviewDecision::RequestMore => MerchantStatus::Applying,
        })
    }

    /// Staff's own changes: freeze an active merchant, unfreeze a frozen one (to active), close any
    /// merchant that is not closed yet.
    pub fn change_to(self, to: MerchantStatus) -> Result<MerchantStatus, MerchantError> {
        let allowed = match to {
            MerchantStatus::Frozen => self == MerchantStatus::Active,
            MerchantStatus::Active => self == MerchantStatus::Frozen,
            MerchantStatus::Closed => self != MerchantStatus::Closed,
            _ => false,
        };
        allowed.then_some(to).ok_or(MerchantError::StatusChangeNotAllowed)
    }

    /// Payments may be received.
    pub fn check_receives(self) -> Result<(), MerchantError> {
        (self == MerchantStatus::Active).then_some(()).ok_or(MerchantError::NotReceiving)
    }
}

/// A reviewer's decision on an application.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ReviewDecision {
    Approve,
    /// Refused, with a reason.
    Reject,
    /// Sent back to the applicant for more (补件), with a reason.
    RequestMore,
}

impl ReviewDecision {
    pub const ALL: [ReviewDecision; 3] = [ReviewDecision::Approve, ReviewDecision::Reject, ReviewDecision::RequestMore];

    pub fn as_str(self) -> &'static str {
        match self {
            ReviewDecision::Approve => "approve",
            ReviewDecision::Reject => "reject",
            ReviewDecision::RequestMore => "request_more",
        }
    }

    pub fn parse(text: &str) -> Option<ReviewDecision> {
        ReviewDecision::ALL.into_iter().find(|d| d.as_str() == text)
    }
}

/// The settlement cycles: T+1 (the next working day), D+1 (the next day) and D+0.
pub const SETTLEMENT_CYCLES: [&str; 3] = ["t1", "d1", "d0"];

/// What a settlement account's verification shows: none recorded (or one for another account), or
/// the platform's word on it.
pub const VERIFICATIONS: [&str; 3] = ["unverified", "verified", "failed"];

/// A merchant's name as shown to payers, or a business's registered name, at most this many characters.
pub const NAME_CHARS_MAX: usize = 100;

/// When a merchant's receipts are settled: one of [`SETTLEMENT_CYCLES`].
pub fn check_settlement_cycle(text: &str) -> Result<&'static str, MerchantError> {
    SETTLEMENT_CYCLES.into_iter().find(|c| *c == text).ok_or(MerchantError::SettlementCycleInvalid)
}

/// A merchant's name as shown to payers, or a business's registered name: 1 to 100 characters, no
/// control characters.
pub fn check_name(text: &str) -> Result<String, MerchantError> {
    let text = text.trim();
    let ok = (1..=NAME_CHARS_MAX).contains(&text.chars().count()) && !text.chars().any(char::is_control);
    ok.then(|| text.to_owned()).ok_or(MerchantError::NameInvalid)
}

/// The kind of a business scenario (经营场景).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ScenarioKind {
    OnlineShop,
    OfflineStore,
    App,
    MiniProgram,
}

impl ScenarioKind {
    pub const ALL: [ScenarioKind; 4] =
        [ScenarioKind::OnlineShop, ScenarioKind::OfflineStore, ScenarioKind::App, ScenarioKind::MiniProgram];

    pub fn as_str(self) -> &'static str {
        match self {
            ScenarioKind::OnlineShop => "online_shop",
            ScenarioKind::OfflineStore => "offline_store",
            ScenarioKind::App => "app",
            ScenarioKind::MiniProgram => "mini_program",
        }
    }

    pub fn parse(text: &str) -> Option<ScenarioKind> {
        ScenarioKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Checks a scenario: an offline store has an address (1 to 200 characters), every other kind an
/// `https://` URL (at most 500 printable ASCII characters). Returns where it is.
pub fn check_scenario(kind: ScenarioKind, url: Option<&str>, address: Option<&str>) -> Result<String, MerchantError> {
    match (kind, url, address) {
        (ScenarioKind::OfflineStore, None, Some(address)) => {
            let address = address.trim();
            let ok = (1..=200).contains(&address.chars().count()) && !address.chars().any(char::is_control);
            ok.then(|| super::mask::mask_sensitive_numbers(address)).ok_or(MerchantError::ScenarioInvalid)
        }
        (ScenarioKind::OfflineStore, _, _) => Err(MerchantError::ScenarioInvalid),
        (_, Some(url), None) => {
            let ok = url.len() <= 500
                && url.len() > "https://".len()
                && url.starts_with("https://")
                && url.bytes().all(|b| b.is_ascii_graphic());
            ok.then(|| url.to_owned()).ok_or(MerchantError::ScenarioInvalid)
        }
        _ => Err(MerchantError::ScenarioInvalid),
    }
}

/// A premises photo's reference (a file id or URL in the platform's file store): 1 to 200
/// printable ASCII characters; at most 10 photos.
pub fn check_photos(photos: &[String]) -> Result<(), MerchantError> {
    let ok = photos.len() <= 10
        && photos.iter().all(|p| (1..=200).contains(&p.len()) && p.bytes().all(|b| b.is_ascii_graphic()));
    ok.then_some(()).ok_or(MerchantError::DocumentInvalid)
}

/// Which of a type's required documents a merchant's file lacks.
pub fn missing_documents(merchant_type: &MerchantType, given: &[DocumentKind]) -> Vec<DocumentKind> {
    merchant_type.spec().documents.iter().copied().filter(|d| !given.contains(d)).collect()
}

/// A corporate account (对公账户): the number as the bank prints it (6 to 32 digits; no check digit
/// is checked, banks use many lengths), the bank's 3-digit code and the branch's 12-digit code (联行号),
/// and the account's name, which must be the business's registered name.
pub fn check_corporate_account(
    account_name: &str,
    business_name: &str,
    number: &str,
    bank_code: &str,
    branch_code: &str,
) -> Result<(), MerchantError> {
    let digits = |text: &str, lengths: std::ops::RangeInclusive<usize>| {
        lengths.contains(&text.len()) && text.bytes().all(|b| b.is_ascii_digit())
    };
    if !(digits(number, 6..=32) && digits(bank_code, 3..=3) && digits(branch_code, 12..=12)) {
        return Err(MerchantError::SettlementAccountInvalid);
    }
    if account_name.trim() != business_name.trim() {
        return Err(MerchantError::SettlementNameMismatch);
    }
    Ok(())
}

/// A corporate account number masked as a statement shows it: its first 4 and last 4 digits.
pub fn mask_account_number(number: &str) -> String {
    let n = number.len();
    if n <= 8 {
        return "*".repeat(n);
    }
    format!("{}{}{}", &number[..4], "*".repeat(n - 8), &number[n - 4..])
}

/// What a merchant has received in the platform's current day and month, for its limits. Each day and
/// month has its own total (a new one starts from zero); the store keeps them as counters that every
/// payment adds to in its own write.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct Receipts {
    pub today: i64,
    pub this_month: i64,
}

impl Receipts {
    /// Checks a payment of `amount` against `limits` and answers the totals with it counted.
    pub fn receive(self, amount: i64, limits: MerchantLimits) -> Result<Receipts, MerchantLimitError> {
        if amount > limits.per_payment {
            return Err(MerchantLimitError::PerPayment);
        }
        let today =
            self.today.checked_add(amount).filter(|t| *t <= limits.per_day).ok_or(MerchantLimitError::PerDay)?;
        let this_month = self
            .this_month
            .checked_add(amount)
            .filter(|t| *t <= limits.per_month)
            .ok_or(MerchantLimitError::PerMonth)?;
        Ok(Receipts { today, this_month })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> MerchantLimits {
        MerchantLimits::new(100, 250, 400).unwrap()
    }

    #[test]
    fn limits_per_payment_day_and_month_are_each_named() {
        let r = Receipts::default();
        assert_eq!(r.receive(101, limits()), Err(MerchantLimitError::PerPayment));
        let r = r.receive(100, limits()).unwrap();
        let r = r.receive(100, limits()).unwrap();
        assert_eq!(r.receive(51, limits()), Err(MerchantLimitError::PerDay));
        let r = r.receive(50, limits()).unwrap();
        assert_eq!(r, Receipts { today: 250, this_month: 250 });
        // A new day starts from zero; the month keeps counting.
        let r = Receipts { today: 0, ..r }.receive(100, limits()).unwrap();
        assert_eq!(r, Receipts { today: 100, this_month: 350 });
        assert_eq!(r.receive(51, limits()), Err(MerchantLimitError::PerMonth));
        assert_eq!(MerchantLimitError::PerDay.code(), "merchant_limit_exceeded");
        assert!(MerchantLimitError::PerMonth.message().contains("per_month"));
    }

    #[test]
    fn statuses_move_only_as_the_review_and_staff_allow() {
        use MerchantStatus::*;
        assert_eq!(Applying.review(ReviewDecision::Approve), Err(MerchantError::NotUnderReview));
        assert_eq!(UnderReview.review(ReviewDecision::Approve), Ok(Active));
        assert_eq!(UnderReview.review(ReviewDecision::Reject), Ok(Rejected));
        assert_eq!(UnderReview.review(ReviewDecision::RequestMore), Ok(Applying));
        assert_eq!(Active.change_to(Frozen), Ok(Frozen));
        assert_eq!(Frozen.change_to(Active), Ok(Active));
        assert_eq!(Applying.change_to(Frozen), Err(MerchantError::StatusChangeNotAllowed));
        assert_eq!(Closed.change_to(Closed), Err(MerchantError::StatusChangeNotAllowed));
        assert_eq!(Rejected.change_to(Closed), Ok(Closed));
        assert_eq!(Frozen.check_receives(), Err(MerchantError::NotReceiving));
    }

    #[test]
    fn a_corporate_account_bears_the_business_name_and_is_not_luhn_checked() {
        let name = "某某科技有限公司";
        assert_eq!(check_corporate_account(name, name, "1100000000000000000001", "102", "102100000012"), Ok(()));
        assert_eq!(
            check_corporate_account("某某商贸有限公司", name, "110000000001", "102", "102100000012"),
            Err(MerchantError::SettlementNameMismatch)
        );
        assert_eq!(
            check_corporate_account(name, name, "11000", "102", "102100000012"),
            Err(MerchantError::SettlementAccountInvalid)
        );
        assert_eq!(mask_account_number("1100000000000000000001"), "1100**************0001");
    }

    #[test]
    fn the_default_types_accept_what_the_articles_say() {
        let types = MerchantTypes::default_set();
        let enterprise = types.find("enterprise").unwrap();
        assert_eq!(enterprise.accepts(SettlementKind::PersonalCard), Err(MerchantError::SettlementKindNotAccepted));
        assert_eq!(enterprise.check_member(PartyKind::Personal, true), Err(MerchantError::KindNotAllowed));
        let personal = types.find("personal").unwrap();
        assert_eq!(personal.check_member(PartyKind::Personal, false), Err(MerchantError::RealNameRequired));
        assert!(missing_documents(personal, &[]).is_empty());
        let individual = types.find("individual_business").unwrap();
        assert_eq!(missing_documents(individual, &[DocumentKind::Licence]), vec![DocumentKind::Premises]);
        assert_eq!(check_scenario(ScenarioKind::App, Some("http://x"), None), Err(MerchantError::ScenarioInvalid));
        assert!(check_scenario(ScenarioKind::OfflineStore, None, Some("北京市海淀区某某路1号")).is_ok());
    }
}
