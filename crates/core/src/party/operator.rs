//! Operators (操作员): the people who act for an enterprise member. An enterprise's money is run by its
//! staff, not its legal person, so the enterprise authorises each operator to specific accounts and
//! operations, with limits where it wants them; roles (admin, staff, cashier, operator) bound what may
//! be granted. An operator belongs to exactly one enterprise member, which always keeps at least one
//! admin to manage the rest.

use super::change::{Change, StatusChange};
use super::enterprise::check_enterprise;
use super::member::Member;
use crate::id::{AccountId, MemberId, OperatorId};
use crate::{Amount, Currency, Timestamp};

rejection_codes! {
    /// Why an operator rule refused.
    pub enum OperatorError {
        MemberNotEnterprise => "member_not_enterprise", 409, "only an enterprise member has operators",
        /// The enterprise must keep an active admin, or no one could manage its operators.
        LastAdmin => "last_admin", 409, "the last active admin cannot be removed, disabled or demoted",
        OperatorDisabled => "operator_disabled", 403, "the operator is disabled",
        OperatorRemoved => "operator_removed", 403, "the operator was removed",
        OperatorNotAdmin => "operator_not_admin", 403, "only an admin may manage operators",
        OperatorOtherMember => "operator_other_member", 403, "the operator belongs to another enterprise member",
        OperatorStatusUnchanged => "operator_status_unchanged", 409, "the operator already has this status",
        OperatorNotAuthorised => "operator_not_authorised", 403,
            "the operator is not authorised for this operation on this account",
        OperationNotAllowedForRole => "operation_not_allowed_for_role", 403,
            "the operator's role does not allow this operation",
        AccountOtherMember => "account_other_member", 403, "the account belongs to another member",
        LimitPerTransaction => "operator_limit_per_transaction", 403,
            "the amount exceeds the operator's limit per transaction",
        LimitPerDay => "operator_limit_per_day", 403, "the amount would exceed the operator's limit per day",
        LimitCurrencyMismatch => "operator_limit_currency_mismatch", 422,
            "the operator's limits are set in another currency",
        LimitsInconsistent => "operator_limits_inconsistent", 422, "the limit per transaction exceeds the limit per day",
    }
}

/// An operation on an account that an operator may be authorised for.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum Operation {
    View,
    Pay,
    Transfer,
    Withdraw,
}

impl Operation {
    pub const ALL: [Operation; 4] = [Operation::View, Operation::Pay, Operation::Transfer, Operation::Withdraw];

    pub fn as_str(self) -> &'static str {
        match self {
            Operation::View => "view",
            Operation::Pay => "pay",
            Operation::Transfer => "transfer",
            Operation::Withdraw => "withdraw",
        }
    }

    pub fn parse(text: &str) -> Option<Operation> {
        Self::ALL.into_iter().find(|o| o.as_str() == text)
    }

    fn bit(self) -> u8 {
        1 << self as u8
    }
}

/// A set of operations.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, Default)]
pub struct Operations(u8);

impl Operations {
    pub const NONE: Operations = Operations(0);
    pub const ALL: Operations = Operations(0b1111);

    pub fn of(operations: &[Operation]) -> Operations {
        Operations(operations.iter().fold(0, |bits, o| bits | o.bit()))
    }

    pub fn contains(self, operation: Operation) -> bool {
        self.0 & operation.bit() != 0
    }

    pub fn is_within(self, other: Operations) -> bool {
        self.0 & !other.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Operation> {
        Operation::ALL.into_iter().filter(move |o| self.contains(*o))
    }
}

/// An operator's role (管理员, 职员, 出纳, 操作员). The role bounds which operations can be granted:
/// an admin manages operators and may be granted anything; a cashier handles money in and out; an
/// operator prepares payments and transfers but does not withdraw; staff only look.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum OperatorRole {
    Admin,
    Staff,
    Cashier,
    Operator,
}

impl OperatorRole {
    pub const ALL: [OperatorRole; 4] =
        [OperatorRole::Admin, OperatorRole::Staff, OperatorRole::Cashier, OperatorRole::Operator];

    pub fn as_str(self) -> &'static str {
        match self {
            OperatorRole::Admin => "admin",
            OperatorRole::Staff => "staff",
            OperatorRole::Cashier => "cashier",
            OperatorRole::Operator => "operator",
        }
    }

    pub fn parse(text: &str) -> Option<OperatorRole> {
        Self::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// The operations this role may be granted.
    pub fn grantable(self) -> Operations {
        match self {
            OperatorRole::Admin | OperatorRole::Cashier => Operations::ALL,
            OperatorRole::Operator => Operations::of(&[Operation::View, Operation::Pay, Operation::Transfer]),
            OperatorRole::Staff => Operations::of(&[Operation::View]),
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum OperatorStatus {
    Active,
    /// Kept, with its grants, but may do nothing until enabled again.
    Disabled,
    /// Final: kept for the audit trail only.
    Removed,
}

impl OperatorStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            OperatorStatus::Active => "active",
            OperatorStatus::Disabled => "disabled",
            OperatorStatus::Removed => "removed",
        }
    }

    pub fn parse(text: &str) -> Option<OperatorStatus> {
        [OperatorStatus::Active, OperatorStatus::Disabled, OperatorStatus::Removed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// An operator's own limits on money it moves, in one currency: per transaction and per day (summed
/// over all its payments, transfers and withdrawals). Either may be absent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OperatorLimits {
    currency: Currency,
    per_transaction: Option<Amount>,
    per_day: Option<Amount>,
}

impl OperatorLimits {
    pub fn new(
        currency: Currency,
        per_transaction: Option<Amount>,
        per_day: Option<Amount>,
    ) -> Result<OperatorLimits, OperatorError> {
        if let (Some(tx), Some(day)) = (per_transaction, per_day) {
            if tx > day {
                return Err(OperatorError::LimitsInconsistent);
            }
        }
        Ok(OperatorLimits { currency, per_transaction, per_day })
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    pub fn per_transaction(self) -> Option<Amount> {
        self.per_transaction
    }

    pub fn per_day(self) -> Option<Amount> {
        self.per_day
    }
}

/// The operations an operator may perform on one account.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct AccountGrant {
    pub account: AccountId,
    pub operations: Operations,
}

/// An operator of an enterprise member.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Operator {
    id: OperatorId,
    member: MemberId,
    role: OperatorRole,
    status: OperatorStatus,
    grants: Vec<AccountGrant>,
    limits: Option<OperatorLimits>,
    created_at: Timestamp,
}

/// What an operator asks to do, with the amount where money moves.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum OperatorRequest {
    View,
    Pay(Amount),
    Transfer(Amount),
    Withdraw(Amount),
}

impl OperatorRequest {
    pub fn operation(self) -> Operation {
        match self {
            OperatorRequest::View => Operation::View,
            OperatorRequest::Pay(_) => Operation::Pay,
            OperatorRequest::Transfer(_) => Operation::Transfer,
            OperatorRequest::Withdraw(_) => Operation::Withdraw,
        }
    }

    fn amount(self) -> Option<Amount> {
        match self {
            OperatorRequest::View => None,
            OperatorRequest::Pay(a) | OperatorRequest::Transfer(a) | OperatorRequest::Withdraw(a) => Some(a),
        }
    }
}

impl Operator {
    /// A new active operator of `member`, which must be an enterprise member (操作员的创建必须依赖于企业
    /// 会员). The first one, created with the member, is its admin. A new operator has no grants.
    pub fn create(
        id: OperatorId,
        member: &Member,
        role: OperatorRole,
        at: Timestamp,
    ) -> Result<Operator, OperatorError> {
        check_enterprise(member.kind()).map_err(|_| OperatorError::MemberNotEnterprise)?;
        Ok(Operator {
            id,
            member: member.id(),
            role,
            status: OperatorStatus::Active,
            grants: Vec::new(),
            limits: None,
            created_at: at,
        })
    }

    pub fn restore(
        id: OperatorId,
        member: MemberId,
        role: OperatorRole,
        status: OperatorStatus,
        grants: Vec<AccountGrant>,
        limits: Option<OperatorLimits>,
        created_at: Timestamp,
    ) -> Operator {
        Operator { id, member, role, status, grants, limits, created_at }
    }

    pub fn id(&self) -> OperatorId {
        self.id
    }

    /// The one enterprise member this operator acts for.
    pub fn member(&self) -> MemberId {
        self.member
    }

    pub fn role(&self) -> OperatorRole {
        self.role
    }

    pub fn status(&self) -> OperatorStatus {
        self.status
    }

    pub fn grants(&self) -> &[AccountGrant] {
        &self.grants
    }

    pub fn limits(&self) -> Option<OperatorLimits> {
        self.limits
    }

    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    fn is_active_admin(&self) -> bool {
        self.role == OperatorRole::Admin && self.status == OperatorStatus::Active
    }

    /// Whether this operator is its member's only active admin, among `team` (the member's operators).
    fn is_last_admin(&self, team: &[Operator]) -> bool {
        self.is_active_admin()
            && !team.iter().any(|o| o.id != self.id && o.member == self.member && o.is_active_admin())
    }

    /// Whether `self` may manage `target`: an active admin of the same enterprise member.
    pub fn check_manages(&self, target: &Operator) -> Result<(), OperatorError> {
        self.check_active()?;
        if self.member != target.member {
            return Err(OperatorError::OperatorOtherMember);
        }
        if self.role != OperatorRole::Admin {
            return Err(OperatorError::OperatorNotAdmin);
        }
        Ok(())
    }

    fn check_active(&self) -> Result<(), OperatorError> {
        match self.status {
            OperatorStatus::Active => Ok(()),
            OperatorStatus::Disabled => Err(OperatorError::OperatorDisabled),
            OperatorStatus::Removed => Err(OperatorError::OperatorRemoved),
        }
    }

    /// Disables the operator, unless it is the last active admin.
    pub fn disable(
        self,
        team: &[Operator],
        change: Change,
    ) -> Result<(Operator, StatusChange<OperatorStatus>), OperatorError> {
        self.move_to(OperatorStatus::Disabled, team, change)
    }

    pub fn enable(self, change: Change) -> Result<(Operator, StatusChange<OperatorStatus>), OperatorError> {
        self.move_to(OperatorStatus::Active, &[], change)
    }

    /// Removes the operator for good, unless it is the last active admin.
    pub fn remove(
        self,
        team: &[Operator],
        change: Change,
    ) -> Result<(Operator, StatusChange<OperatorStatus>), OperatorError> {
        self.move_to(OperatorStatus::Removed, team, change)
    }

    fn move_to(
        self,
        to: OperatorStatus,
        team: &[Operator],
        change: Change,
    ) -> Result<(Operator, StatusChange<OperatorStatus>), OperatorError> {
        if self.status == OperatorStatus::Removed {
            return Err(OperatorError::OperatorRemoved);
        }
        if self.status == to {
            return Err(OperatorError::OperatorStatusUnchanged);
        }
        if to != OperatorStatus::Active && self.is_last_admin(team) {
            return Err(OperatorError::LastAdmin);
        }
        let record = StatusChange::new(self.status, to, change);
        Ok((Operator { status: to, ..self }, record))
    }

    /// Gives the operator another role. Demoting the last active admin is refused, and so is a role
    /// that would not allow what the operator is already granted: revoke those grants first, so that no
    /// permission disappears without someone deciding it.
    pub fn change_role(self, role: OperatorRole, team: &[Operator]) -> Result<Operator, OperatorError> {
        if self.status == OperatorStatus::Removed {
            return Err(OperatorError::OperatorRemoved);
        }
        if role != OperatorRole::Admin && self.is_last_admin(team) {
            return Err(OperatorError::LastAdmin);
        }
        if !self.grants.iter().all(|g| g.operations.is_within(role.grantable())) {
            return Err(OperatorError::OperationNotAllowedForRole);
        }
        Ok(Operator { role, ..self })
    }

    /// Authorises the operator for `operations` on `account`, replacing what it had there. The account
    /// must be its own member's (`account_owner`), and the operations within its role.
    pub fn grant(
        self,
        account: AccountId,
        account_owner: MemberId,
        operations: Operations,
    ) -> Result<Operator, OperatorError> {
        if self.status == OperatorStatus::Removed {
            return Err(OperatorError::OperatorRemoved);
        }
        if account_owner != self.member {
            return Err(OperatorError::AccountOtherMember);
        }
        if !operations.is_within(self.role.grantable()) {
            return Err(OperatorError::OperationNotAllowedForRole);
        }
        let mut grants: Vec<AccountGrant> = self.grants.into_iter().filter(|g| g.account != account).collect();
        if operations != Operations::NONE {
            grants.push(AccountGrant { account, operations });
        }
        Ok(Operator { grants, ..self })
    }

    /// Takes away everything the operator may do on `account`.
    pub fn revoke(self, account: AccountId) -> Operator {
        let grants = self.grants.into_iter().filter(|g| g.account != account).collect();
        Operator { grants, ..self }
    }

    /// Sets or clears the operator's own limits.
    pub fn limit(self, limits: Option<OperatorLimits>) -> Operator {
        Operator { limits, ..self }
    }

    /// Whether the operator may perform `operation` on `account` by its grants and its role (its
    /// status and limits apart): the accounts an operator's money request may take from.
    pub fn may(&self, account: AccountId, operation: Operation) -> bool {
        self.role.grantable().contains(operation)
            && self.grants.iter().any(|g| g.account == account && g.operations.contains(operation))
    }

    /// The operator's status as a refusal: `operator_disabled`, `operator_removed`, or none when active.
    pub fn check_acts(&self) -> Result<(), OperatorError> {
        self.check_active()
    }

    /// Whether the operator may do `request` on `account` (of `currency`), having already moved
    /// `spent_today` minor units today. In order: the operator is active; it is granted this operation
    /// on this account; the amount is within its limits. The enterprise member's own status, lock and
    /// customer are checked apart (`Member::check_action`), and the account's flags by the ledger.
    pub fn authorise(
        &self,
        account: AccountId,
        currency: Currency,
        request: OperatorRequest,
        spent_today: i64,
    ) -> Result<(), OperatorError> {
        self.check_active()?;
        let operation = request.operation();
        let granted = self.grants.iter().any(|g| g.account == account && g.operations.contains(operation));
        if !granted || !self.role.grantable().contains(operation) {
            return Err(OperatorError::OperatorNotAuthorised);
        }
        let (Some(amount), Some(limits)) = (request.amount(), self.limits) else { return Ok(()) };
        if limits.currency != currency {
            return Err(OperatorError::LimitCurrencyMismatch);
        }
        if limits.per_transaction.is_some_and(|max| amount > max) {
            return Err(OperatorError::LimitPerTransaction);
        }
        if let Some(max) = limits.per_day {
            let total = spent_today.max(0).checked_add(amount.get());
            if total.is_none_or(|t| t > max.get()) {
                return Err(OperatorError::LimitPerDay);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::party::customer::PartyKind;
    use crate::party::member::{LockStatus, MemberStatus};
    use crate::party::tests::{acc, at, change, cny, cus, mem, opr};

    fn enterprise() -> Member {
        Member::restore(
            mem(1),
            cus(1),
            PartyKind::Enterprise,
            MemberStatus::Normal,
            LockStatus::Unlocked,
            None,
            at(0),
            at(0),
        )
    }

    fn operator(n: u128, role: OperatorRole) -> Operator {
        Operator::create(opr(n), &enterprise(), role, at(0)).unwrap()
    }

    fn amount(n: i64) -> Amount {
        Amount::new(n).unwrap()
    }

    /// A cashier granted everything on account 10, limited to 1,000 per transaction and 5,000 a day.
    fn cashier() -> Operator {
        let limits = OperatorLimits::new(cny(), Some(amount(1_000)), Some(amount(5_000))).unwrap();
        operator(2, OperatorRole::Cashier).grant(acc(10), mem(1), Operations::ALL).unwrap().limit(Some(limits))
    }

    #[test]
    fn only_an_enterprise_member_has_operators() {
        let personal = Member::restore(
            mem(2),
            cus(2),
            PartyKind::Personal,
            MemberStatus::Normal,
            LockStatus::Unlocked,
            None,
            at(0),
            at(0),
        );
        assert_eq!(
            Operator::create(opr(1), &personal, OperatorRole::Admin, at(0)),
            Err(OperatorError::MemberNotEnterprise)
        );
    }

    #[test]
    fn an_operator_belongs_to_the_member_it_was_created_for() {
        let o = operator(1, OperatorRole::Admin);
        assert_eq!((o.member(), o.status(), o.grants()), (mem(1), OperatorStatus::Active, &[][..]));
    }

    #[test]
    fn the_last_admin_cannot_be_disabled_removed_or_demoted() {
        let admin = operator(1, OperatorRole::Admin);
        let team = [admin.clone(), operator(2, OperatorRole::Cashier)];
        assert_eq!(admin.clone().disable(&team, change(1)), Err(OperatorError::LastAdmin));
        assert_eq!(admin.clone().remove(&team, change(1)), Err(OperatorError::LastAdmin));
        assert_eq!(admin.change_role(OperatorRole::Staff, &team), Err(OperatorError::LastAdmin));
    }

    #[test]
    fn an_admin_with_another_active_admin_beside_it_can_be_removed() {
        let admin = operator(1, OperatorRole::Admin);
        let team = [admin.clone(), operator(2, OperatorRole::Admin)];
        let (removed, record) = admin.remove(&team, change(1)).unwrap();
        assert_eq!((removed.status(), record.from()), (OperatorStatus::Removed, OperatorStatus::Active));
    }

    #[test]
    fn a_disabled_admin_does_not_count_as_the_admin_who_remains() {
        let admin = operator(1, OperatorRole::Admin);
        let (disabled, _) = operator(2, OperatorRole::Admin).disable(std::slice::from_ref(&admin), change(1)).unwrap();
        let team = [admin.clone(), disabled];
        assert_eq!(admin.disable(&team, change(2)), Err(OperatorError::LastAdmin));
    }

    #[test]
    fn an_admin_of_another_member_does_not_count_either() {
        let admin = operator(1, OperatorRole::Admin);
        let elsewhere =
            Operator::restore(opr(9), mem(9), OperatorRole::Admin, OperatorStatus::Active, vec![], None, at(0));
        assert_eq!(admin.clone().disable(&[admin, elsewhere], change(1)), Err(OperatorError::LastAdmin));
    }

    #[test]
    fn a_removed_operator_stays_removed() {
        let team = [operator(1, OperatorRole::Admin)];
        let (removed, _) = operator(2, OperatorRole::Staff).remove(&team, change(1)).unwrap();
        assert_eq!(removed.clone().enable(change(2)), Err(OperatorError::OperatorRemoved));
        assert_eq!(removed.grant(acc(10), mem(1), Operations::ALL), Err(OperatorError::OperatorRemoved));
    }

    #[test]
    fn a_disabled_operator_can_be_enabled() {
        let team = [operator(1, OperatorRole::Admin)];
        let (disabled, _) = operator(2, OperatorRole::Staff).disable(&team, change(1)).unwrap();
        let (enabled, _) = disabled.enable(change(2)).unwrap();
        assert_eq!(enabled.status(), OperatorStatus::Active);
        assert_eq!(enabled.enable(change(3)), Err(OperatorError::OperatorStatusUnchanged));
    }

    #[test]
    fn only_an_active_admin_of_the_same_member_manages_operators() {
        let admin = operator(1, OperatorRole::Admin);
        let staff = operator(2, OperatorRole::Staff);
        assert_eq!(admin.check_manages(&staff), Ok(()));
        assert_eq!(staff.check_manages(&admin), Err(OperatorError::OperatorNotAdmin));
        let elsewhere =
            Operator::restore(opr(9), mem(9), OperatorRole::Staff, OperatorStatus::Active, vec![], None, at(0));
        assert_eq!(admin.check_manages(&elsewhere), Err(OperatorError::OperatorOtherMember));
    }

    #[test]
    fn roles_bound_what_can_be_granted() {
        let staff = operator(2, OperatorRole::Staff);
        assert!(staff.clone().grant(acc(10), mem(1), Operations::of(&[Operation::View])).is_ok());
        let refused = staff.grant(acc(10), mem(1), Operations::of(&[Operation::Pay]));
        assert_eq!(refused, Err(OperatorError::OperationNotAllowedForRole));
        let refused =
            operator(3, OperatorRole::Operator).grant(acc(10), mem(1), Operations::of(&[Operation::Withdraw]));
        assert_eq!(refused, Err(OperatorError::OperationNotAllowedForRole));
    }

    #[test]
    fn an_operator_is_granted_only_its_own_members_accounts() {
        let refused = operator(2, OperatorRole::Cashier).grant(acc(10), mem(2), Operations::ALL);
        assert_eq!(refused, Err(OperatorError::AccountOtherMember));
    }

    #[test]
    fn a_role_change_that_would_orphan_a_grant_is_refused() {
        let team = [operator(1, OperatorRole::Admin)];
        let refused = cashier().change_role(OperatorRole::Staff, &team);
        assert_eq!(refused, Err(OperatorError::OperationNotAllowedForRole));
        let viewer = cashier().grant(acc(10), mem(1), Operations::of(&[Operation::View])).unwrap();
        assert_eq!(viewer.change_role(OperatorRole::Staff, &team).unwrap().role(), OperatorRole::Staff);
    }

    #[test]
    fn a_new_grant_replaces_the_old_one_and_an_empty_one_revokes() {
        let o = cashier().grant(acc(10), mem(1), Operations::of(&[Operation::View])).unwrap();
        assert_eq!(o.grants(), [AccountGrant { account: acc(10), operations: Operations::of(&[Operation::View]) }]);
        assert!(o.clone().grant(acc(10), mem(1), Operations::NONE).unwrap().grants().is_empty());
        assert!(o.revoke(acc(10)).grants().is_empty());
    }

    #[test]
    fn an_operator_acts_only_where_and_how_it_is_authorised() {
        let o = cashier();
        assert_eq!(o.authorise(acc(10), cny(), OperatorRequest::View, 0), Ok(()));
        assert_eq!(o.authorise(acc(10), cny(), OperatorRequest::Withdraw(amount(500)), 0), Ok(()));
        assert_eq!(o.authorise(acc(11), cny(), OperatorRequest::View, 0), Err(OperatorError::OperatorNotAuthorised));
        let viewer = o.grant(acc(10), mem(1), Operations::of(&[Operation::View])).unwrap();
        let refused = viewer.authorise(acc(10), cny(), OperatorRequest::Pay(amount(1)), 0);
        assert_eq!(refused, Err(OperatorError::OperatorNotAuthorised));
    }

    #[test]
    fn a_disabled_operator_may_do_nothing() {
        let team = [operator(1, OperatorRole::Admin)];
        let (disabled, _) = cashier().disable(&team, change(1)).unwrap();
        assert_eq!(disabled.authorise(acc(10), cny(), OperatorRequest::View, 0), Err(OperatorError::OperatorDisabled));
    }

    #[test]
    fn an_amount_above_the_limit_per_transaction_is_refused() {
        let o = cashier();
        assert_eq!(o.authorise(acc(10), cny(), OperatorRequest::Pay(amount(1_000)), 0), Ok(()));
        assert_eq!(
            o.authorise(acc(10), cny(), OperatorRequest::Pay(amount(1_001)), 0),
            Err(OperatorError::LimitPerTransaction)
        );
    }

    #[test]
    fn an_amount_that_would_pass_the_days_limit_is_refused() {
        let o = cashier();
        assert_eq!(o.authorise(acc(10), cny(), OperatorRequest::Transfer(amount(1_000)), 4_000), Ok(()));
        let refused = o.authorise(acc(10), cny(), OperatorRequest::Transfer(amount(1_000)), 4_001);
        assert_eq!(refused, Err(OperatorError::LimitPerDay));
        let overflow = o.authorise(acc(10), cny(), OperatorRequest::Transfer(amount(1)), i64::MAX);
        assert_eq!(overflow, Err(OperatorError::LimitPerDay), "overflow is over the limit, never a wrap");
    }

    #[test]
    fn limits_in_another_currency_refuse_rather_than_compare_unlike_amounts() {
        let usd = Currency::parse("USD").unwrap();
        let refused = cashier().authorise(acc(10), usd, OperatorRequest::Pay(amount(1)), 0);
        assert_eq!(refused, Err(OperatorError::LimitCurrencyMismatch));
    }

    #[test]
    fn an_operator_without_limits_is_bounded_only_by_its_grants() {
        let o = cashier().limit(None);
        assert_eq!(o.authorise(acc(10), cny(), OperatorRequest::Pay(amount(i64::MAX)), i64::MAX), Ok(()));
    }

    #[test]
    fn a_limit_per_transaction_above_the_limit_per_day_is_refused() {
        let refused = OperatorLimits::new(cny(), Some(amount(10)), Some(amount(9)));
        assert_eq!(refused, Err(OperatorError::LimitsInconsistent));
    }

    #[test]
    fn roles_operations_and_statuses_round_trip_through_their_codes() {
        for r in OperatorRole::ALL {
            assert_eq!(OperatorRole::parse(r.as_str()), Some(r));
        }
        for o in Operation::ALL {
            assert_eq!(Operation::parse(o.as_str()), Some(o));
        }
        assert_eq!(OperatorStatus::parse("disabled"), Some(OperatorStatus::Disabled));
        assert_eq!(Operations::ALL.iter().count(), 4);
    }
}
