//! Account types (账户类型): configuration, not code. The articles' rule is that only a type present in
//! the account configuration table can be opened, so a platform adds a "deposit" or "subsidy" account
//! by configuring it, and every rule that differs between types (may it be withdrawn, may it go
//! negative, in which order is it spent) reads the type instead of a hard-coded list.

use crate::ledger::{BalanceLimit, NormalSide};
use crate::Currency;

rejection_codes! {
    /// Why an account type's configuration was refused.
    pub enum AccountTypeError {
        AccountTypeCodeInvalid => "account_type_code_invalid", 422,
            "an account type code is 1 to 32 lower-case letters, digits or '_', starting with a letter",
        AccountTypeNameInvalid => "account_type_name_invalid", 422, "an account type name is 1 to 64 characters",
        OverdraftInvalid => "account_type_overdraft_invalid", 422,
            "an overdraft limit is zero or a positive number of minor units",
        PerMemberInvalid => "account_type_per_member_invalid", 422, "a member may have at least one account of a type",
        /// Exactly one per member can only hold if the account opens with the member.
        ExactlyOneMustOpenOnActivation => "account_type_exactly_one_must_open_on_activation", 422,
            "a type of which each member has exactly one must open on activation",
        AccountTypeDuplicate => "account_type_duplicate", 422, "two configured account types have the same code",
    }
}

/// A type's code, as accounts carry it (the ledger's `Account::code`): `basic`, `settlement`.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct AccountTypeCode(String);

impl AccountTypeCode {
    pub fn parse(text: &str) -> Result<AccountTypeCode, AccountTypeError> {
        let ok = (1..=crate::ledger::CODE_LEN_MAX).contains(&text.len())
            && text.starts_with(|c: char| c.is_ascii_lowercase())
            && text.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        ok.then(|| AccountTypeCode(text.to_owned())).ok_or(AccountTypeError::AccountTypeCodeInvalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// How many accounts of a type a member may have.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PerMember {
    /// Exactly one, opened on activation: the basic account (基本户有且只有1个).
    ExactlyOne,
    /// Up to this many (at least one), opened on demand.
    AtMost(u16),
}

/// Where a type comes in the default order of deductions when a payment draws on several of a
/// member's accounts: lower first. Members may reorder their own.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum DeductionPriority {
    Order(u16),
    /// Never drawn on by a payment (a margin deposit is the platform's security, not spending money).
    Never,
}

/// A configured account type's settings as entered, to be checked by [`AccountType::configure`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AccountTypeSpec {
    pub code: AccountTypeCode,
    pub name: String,
    pub currency: Currency,
    pub normal_side: NormalSide,
    /// May its money be withdrawn to a bank card?
    pub withdrawable: bool,
    /// May it be the source of a transfer to another member?
    pub sends_transfers: bool,
    /// May it receive a transfer from another member?
    pub receives_transfers: bool,
    /// How far below zero it may go, in minor units; 0 for none.
    pub overdraft_limit: i64,
    pub deduction: DeductionPriority,
    pub per_member: PerMember,
    /// Opened for every member at activation.
    pub opens_on_activation: bool,
    /// May it be recharged (充值)? A travel store's profit wallet receives profit only, never a
    /// recharge (`account_not_rechargeable`).
    pub rechargeable: bool,
}

/// A configured account type: a spec that passed [`AccountType::configure`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AccountType(AccountTypeSpec);

/// The longest type name, in characters.
pub const ACCOUNT_TYPE_NAME_CHARS_MAX: usize = 64;

impl AccountType {
    pub fn configure(spec: AccountTypeSpec) -> Result<AccountType, AccountTypeError> {
        let name_chars = spec.name.trim().chars().count();
        if !(1..=ACCOUNT_TYPE_NAME_CHARS_MAX).contains(&name_chars) || spec.name.chars().any(char::is_control) {
            return Err(AccountTypeError::AccountTypeNameInvalid);
        }
        if spec.overdraft_limit < 0 {
            return Err(AccountTypeError::OverdraftInvalid);
        }
        match spec.per_member {
            PerMember::AtMost(0) => return Err(AccountTypeError::PerMemberInvalid),
            PerMember::ExactlyOne if !spec.opens_on_activation => {
                return Err(AccountTypeError::ExactlyOneMustOpenOnActivation)
            }
            _ => {}
        }
        Ok(AccountType(AccountTypeSpec { name: spec.name.trim().to_owned(), ..spec }))
    }

    pub fn spec(&self) -> &AccountTypeSpec {
        &self.0
    }

    pub fn code(&self) -> &AccountTypeCode {
        &self.0.code
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn currency(&self) -> Currency {
        self.0.currency
    }

    pub fn normal_side(&self) -> NormalSide {
        self.0.normal_side
    }

    pub fn withdrawable(&self) -> bool {
        self.0.withdrawable
    }

    pub fn sends_transfers(&self) -> bool {
        self.0.sends_transfers
    }

    pub fn receives_transfers(&self) -> bool {
        self.0.receives_transfers
    }

    pub fn deduction(&self) -> DeductionPriority {
        self.0.deduction
    }

    pub fn per_member(&self) -> PerMember {
        self.0.per_member
    }

    pub fn opens_on_activation(&self) -> bool {
        self.0.opens_on_activation
    }

    pub fn rechargeable(&self) -> bool {
        self.0.rechargeable
    }

    /// The ledger limit an account of this type opens with: never unlimited, since a member's account
    /// going negative without bound is the platform lending without limit.
    pub fn ledger_limit(&self) -> BalanceLimit {
        BalanceLimit::Floor(self.0.overdraft_limit)
    }
}

/// The configured account types of a platform (the articles' account configuration table).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AccountTypes(Vec<AccountType>);

impl AccountTypes {
    pub fn new(types: Vec<AccountType>) -> Result<AccountTypes, AccountTypeError> {
        for (i, t) in types.iter().enumerate() {
            if types[..i].iter().any(|u| u.code() == t.code()) {
                return Err(AccountTypeError::AccountTypeDuplicate);
            }
        }
        Ok(AccountTypes(types))
    }

    /// The types the articles describe, in `currency`:
    ///
    /// | code | name | withdrawable | sends / receives transfers | deduction | per member | on activation |
    /// |---|---|---|---|---|---|---|
    /// | basic | 基本户 | yes | yes / yes | 3 | exactly one | yes |
    /// | settlement | 结算户 | yes | yes / no | 4 | up to 10 | no |
    /// | margin | 保证金户 | no | no / no | never | 1 | no |
    /// | bonus | 红包户 | no | no / no | 2 | 1 | no |
    /// | subsidy | 补贴户 | no | yes / yes | 1 | 1 | no |
    ///
    /// Subsidy money is spent first by default and may be passed between members (into their subsidy
    /// accounts) but is withdrawn only through reimbursement, as the canteen wallet describes; bonus and
    /// red-packet money is never withdrawable, as the ETC wallet describes; settlement accounts receive
    /// income from the platform rather than transfers from members, and a merchant with several lines
    /// of business has one per line. No type may go negative by default; a platform that lets riders'
    /// settlement accounts go negative configures an overdraft.
    pub fn default_set(currency: Currency) -> AccountTypes {
        let spec = |code: &str, name: &str| AccountTypeSpec {
            code: AccountTypeCode::parse(code).expect("a default code is valid"),
            name: name.to_owned(),
            currency,
            normal_side: NormalSide::Credit,
            withdrawable: false,
            sends_transfers: false,
            receives_transfers: false,
            overdraft_limit: 0,
            deduction: DeductionPriority::Never,
            per_member: PerMember::AtMost(1),
            opens_on_activation: false,
            rechargeable: true,
        };
        let specs = [
            AccountTypeSpec {
                withdrawable: true,
                sends_transfers: true,
                receives_transfers: true,
                deduction: DeductionPriority::Order(3),
                per_member: PerMember::ExactlyOne,
                opens_on_activation: true,
                ..spec("basic", "基本户")
            },
            AccountTypeSpec {
                withdrawable: true,
                sends_transfers: true,
                deduction: DeductionPriority::Order(4),
                per_member: PerMember::AtMost(10),
                ..spec("settlement", "结算户")
            },
            spec("margin", "保证金户"),
            AccountTypeSpec { deduction: DeductionPriority::Order(2), ..spec("bonus", "红包户") },
            AccountTypeSpec {
                sends_transfers: true,
                receives_transfers: true,
                deduction: DeductionPriority::Order(1),
                ..spec("subsidy", "补贴户")
            },
        ];
        let types = specs.into_iter().map(|s| AccountType::configure(s).expect("the default set is valid")).collect();
        AccountTypes::new(types).expect("the default codes are distinct")
    }

    pub fn get(&self, code: &AccountTypeCode) -> Option<&AccountType> {
        self.0.iter().find(|t| t.code() == code)
    }

    pub fn iter(&self) -> impl Iterator<Item = &AccountType> {
        self.0.iter()
    }

    /// The types opened for every member at activation (the basic account among them).
    pub fn opened_on_activation(&self) -> impl Iterator<Item = &AccountType> {
        self.0.iter().filter(|t| t.opens_on_activation())
    }

    /// The member's accounts' types in the default deduction order, leaving out those payments never
    /// draw on.
    pub fn deduction_order(&self) -> Vec<&AccountType> {
        let mut order: Vec<&AccountType> =
            self.0.iter().filter(|t| t.deduction() != DeductionPriority::Never).collect();
        order.sort_by_key(|t| t.deduction());
        order
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::party::tests::cny;

    fn code(s: &str) -> AccountTypeCode {
        AccountTypeCode::parse(s).unwrap()
    }

    fn basic_spec() -> AccountTypeSpec {
        AccountTypes::default_set(cny()).get(&code("basic")).unwrap().spec().clone()
    }

    #[test]
    fn the_default_set_is_basic_settlement_margin_bonus_and_subsidy() {
        let types = AccountTypes::default_set(cny());
        let codes: Vec<&str> = types.iter().map(|t| t.code().as_str()).collect();
        assert_eq!(codes, ["basic", "settlement", "margin", "bonus", "subsidy"]);
        assert!(types.iter().all(|t| t.currency() == cny() && t.normal_side() == NormalSide::Credit));
    }

    #[test]
    fn the_basic_account_is_exactly_one_per_member_opened_on_activation() {
        let types = AccountTypes::default_set(cny());
        let basic = types.get(&code("basic")).unwrap();
        assert_eq!(basic.per_member(), PerMember::ExactlyOne);
        let opened: Vec<&str> = types.opened_on_activation().map(|t| t.code().as_str()).collect();
        assert_eq!(opened, ["basic"]);
    }

    #[test]
    fn bonus_subsidy_and_margin_money_cannot_be_withdrawn() {
        let types = AccountTypes::default_set(cny());
        for c in ["bonus", "subsidy", "margin"] {
            assert!(!types.get(&code(c)).unwrap().withdrawable(), "{c}");
        }
        for c in ["basic", "settlement"] {
            assert!(types.get(&code(c)).unwrap().withdrawable(), "{c}");
        }
    }

    #[test]
    fn by_default_subsidy_is_spent_first_and_margin_never() {
        let types = AccountTypes::default_set(cny());
        let order: Vec<&str> = types.deduction_order().iter().map(|t| t.code().as_str()).collect();
        assert_eq!(order, ["subsidy", "bonus", "basic", "settlement"]);
    }

    #[test]
    fn no_default_type_may_go_negative() {
        assert!(AccountTypes::default_set(cny()).iter().all(|t| t.ledger_limit() == BalanceLimit::Floor(0)));
    }

    #[test]
    fn a_configured_overdraft_becomes_the_accounts_ledger_floor() {
        let rider = AccountType::configure(AccountTypeSpec { overdraft_limit: 50_000, ..basic_spec() }).unwrap();
        assert_eq!(rider.ledger_limit(), BalanceLimit::Floor(50_000));
    }

    #[test]
    fn a_negative_overdraft_is_refused() {
        let refused = AccountType::configure(AccountTypeSpec { overdraft_limit: -1, ..basic_spec() });
        assert_eq!(refused, Err(AccountTypeError::OverdraftInvalid));
    }

    #[test]
    fn a_type_of_which_members_have_exactly_one_must_open_on_activation() {
        let refused = AccountType::configure(AccountTypeSpec { opens_on_activation: false, ..basic_spec() });
        assert_eq!(refused, Err(AccountTypeError::ExactlyOneMustOpenOnActivation));
    }

    #[test]
    fn a_type_allowing_no_account_per_member_is_refused() {
        let refused = AccountType::configure(AccountTypeSpec { per_member: PerMember::AtMost(0), ..basic_spec() });
        assert_eq!(refused, Err(AccountTypeError::PerMemberInvalid));
    }

    #[test]
    fn a_type_needs_a_name() {
        let refused = AccountType::configure(AccountTypeSpec { name: "  ".into(), ..basic_spec() });
        assert_eq!(refused, Err(AccountTypeError::AccountTypeNameInvalid));
        let trimmed = AccountType::configure(AccountTypeSpec { name: " 基本户 ".into(), ..basic_spec() }).unwrap();
        assert_eq!(trimmed.name(), "基本户");
    }

    #[test]
    fn type_codes_are_lower_case_identifiers() {
        assert!(AccountTypeCode::parse("points_2").is_ok());
        for bad in ["", "Basic", "2nd", "basic-account", &"a".repeat(33)] {
            assert_eq!(AccountTypeCode::parse(bad), Err(AccountTypeError::AccountTypeCodeInvalid), "{bad}");
        }
    }

    #[test]
    fn two_types_with_one_code_are_refused() {
        let basic = AccountType::configure(basic_spec()).unwrap();
        assert_eq!(AccountTypes::new(vec![basic.clone(), basic]), Err(AccountTypeError::AccountTypeDuplicate));
    }
}
