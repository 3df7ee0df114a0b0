//! A member's accounts (账户): opening one of a configured type, the account's own status, and the
//! ledger flags that status and its customer's status make together.
//!
//! Two statuses restrict an account: its own (an account frozen on its own, say for a disputed
//! payment) and its customer's (a judicial freeze of the whole customer). They are kept apart and
//! combined only when the ledger's flags are computed, so that lifting one can never lift the other:
//! a customer returning to normal gives back exactly what its status took away.

use super::account_type::{AccountType, AccountTypeCode, AccountTypes, PerMember};
use super::change::{Change, StatusChange};
use super::customer::CustomerStatus;
use super::member::{Member, MemberStatus};
use crate::ledger::{Account, AccountCloseError, AccountFlags};

rejection_codes! {
    /// Why an account rule refused.
    pub enum AccountError {
        /// Only configured types can be opened (只有在配置表中存在的账户类型支持开户).
        AccountTypeNotConfigured => "account_type_not_configured", 422, "no account type with this code is configured",
        /// A member has exactly one basic account; it was opened at activation.
        BasicAccountExists => "basic_account_exists", 409, "the member already has its one account of this type",
        AccountTypeLimitReached => "account_type_limit_reached", 409,
            "the member already has as many accounts of this type as allowed",
        MemberNotActive => "member_not_active", 409, "the member is not active",
        MemberCancelled => "member_cancelled", 409, "the member is cancelled",
        AccountClosed => "account_closed", 409, "the account is closed",
        /// Closing is its own step, with its own conditions.
        AccountCloseRequired => "account_close_required", 422, "an account becomes closed only by closing it",
        AccountStatusUnchanged => "account_status_unchanged", 409, "the account already has this status",
        /// The account's own status is frozen: it neither pays nor receives.
        AccountFrozen => "account_frozen", 403, "the account is frozen: no money leaves or enters it",
        /// The account's own status is stop-payment: it receives but does not pay.
        AccountStopPayment => "account_stop_payment", 403, "the account is stopped from paying: no money leaves it",
        AccountNotEmpty => "account_not_empty", 409, "the account still holds a balance",
        AccountHasPending => "account_has_pending", 409, "the account has money on hold",
    }
}

/// An account's own status, set on it alone.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum MemberAccountStatus {
    Normal,
    /// Frozen (冻结): no money leaves or enters.
    Frozen,
    /// Stop-payment (止付): no money leaves; money may come in.
    StopPayment,
    /// Closed (销户): final, reached only at zero with nothing pending.
    Closed,
}

impl MemberAccountStatus {
    pub const ALL: [MemberAccountStatus; 4] = [
        MemberAccountStatus::Normal,
        MemberAccountStatus::Frozen,
        MemberAccountStatus::StopPayment,
        MemberAccountStatus::Closed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            MemberAccountStatus::Normal => "normal",
            MemberAccountStatus::Frozen => "frozen",
            MemberAccountStatus::StopPayment => "stop_payment",
            MemberAccountStatus::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<MemberAccountStatus> {
        Self::ALL.into_iter().find(|s| s.as_str() == text)
    }

    /// What this status alone blocks.
    pub fn blocks(self) -> LedgerBlocks {
        match self {
            MemberAccountStatus::Normal => LedgerBlocks::NONE,
            MemberAccountStatus::Frozen | MemberAccountStatus::Closed => LedgerBlocks::BOTH,
            MemberAccountStatus::StopPayment => LedgerBlocks { debits_blocked: true, credits_blocked: false },
        }
    }

    /// Refuses money leaving an account with this status, with the status's own code.
    pub fn check_pays(self) -> Result<(), AccountError> {
        match self {
            MemberAccountStatus::Normal => Ok(()),
            MemberAccountStatus::Frozen => Err(AccountError::AccountFrozen),
            MemberAccountStatus::StopPayment => Err(AccountError::AccountStopPayment),
            MemberAccountStatus::Closed => Err(AccountError::AccountClosed),
        }
    }

    /// Refuses money arriving in an account with this status.
    pub fn check_receives(self) -> Result<(), AccountError> {
        match self {
            MemberAccountStatus::Normal | MemberAccountStatus::StopPayment => Ok(()),
            MemberAccountStatus::Frozen => Err(AccountError::AccountFrozen),
            MemberAccountStatus::Closed => Err(AccountError::AccountClosed),
        }
    }

    /// Sets normal, frozen or stop-payment; any may follow any other. Closed is final and reached only
    /// through [`MemberAccountStatus::close`].
    pub fn change_to(
        self,
        to: MemberAccountStatus,
        change: Change,
    ) -> Result<StatusChange<MemberAccountStatus>, AccountError> {
        if self == MemberAccountStatus::Closed {
            return Err(AccountError::AccountClosed);
        }
        if to == MemberAccountStatus::Closed {
            return Err(AccountError::AccountCloseRequired);
        }
        if to == self {
            return Err(AccountError::AccountStatusUnchanged);
        }
        Ok(StatusChange::new(self, to, change))
    }

    /// Closes the account, which the ledger allows only at zero balance with nothing pending
    /// (`Account::check_can_close`): closing with money in it would strand the money.
    pub fn close(self, ledger: &Account, change: Change) -> Result<StatusChange<MemberAccountStatus>, AccountError> {
        if self == MemberAccountStatus::Closed {
            return Err(AccountError::AccountClosed);
        }
        match ledger.check_can_close() {
            Ok(()) => Ok(StatusChange::new(self, MemberAccountStatus::Closed, change)),
            Err(AccountCloseError::AlreadyClosed) => Err(AccountError::AccountClosed),
            Err(AccountCloseError::NotEmpty) => Err(AccountError::AccountNotEmpty),
            Err(AccountCloseError::HasPending) => Err(AccountError::AccountHasPending),
        }
    }
}

/// Which sides of an account the ledger refuses to move.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct LedgerBlocks {
    pub debits_blocked: bool,
    pub credits_blocked: bool,
}

impl LedgerBlocks {
    pub const NONE: LedgerBlocks = LedgerBlocks { debits_blocked: false, credits_blocked: false };
    pub const BOTH: LedgerBlocks = LedgerBlocks { debits_blocked: true, credits_blocked: true };
}

/// The blocks the ledger applies to an account: whatever its own status blocks, plus whatever its
/// customer's status takes away. Computed afresh from both whenever either changes, never stored as
/// an accumulation, which is what makes lifting the customer's status give back exactly what it took.
pub fn effective_blocks(account: MemberAccountStatus, customer: CustomerStatus) -> LedgerBlocks {
    let own = account.blocks();
    let cascaded = customer.takes_away();
    LedgerBlocks {
        debits_blocked: own.debits_blocked || cascaded.debits_blocked,
        credits_blocked: own.credits_blocked || cascaded.credits_blocked,
    }
}

/// The ledger's account flags for an account with these two statuses.
pub fn effective_flags(account: MemberAccountStatus, customer: CustomerStatus) -> AccountFlags {
    let blocks = effective_blocks(account, customer);
    AccountFlags {
        debits_blocked: blocks.debits_blocked,
        credits_blocked: blocks.credits_blocked,
        closed: account == MemberAccountStatus::Closed,
    }
}

/// Whether `member` may open an account of the type `code`, given how many open (not closed)
/// accounts of that type it has. Only configured types open; a type's per-member maximum holds; the
/// member must be active (a dormant one wakes by asking). Activation opens the basic account itself,
/// so a second request for it is refused as `basic_account_exists`.
pub fn check_open_account<'t>(
    types: &'t AccountTypes,
    code: &AccountTypeCode,
    member: &Member,
    open_of_type: u16,
) -> Result<&'t AccountType, AccountError> {
    match member.status() {
        MemberStatus::Normal | MemberStatus::Dormant => {}
        MemberStatus::Inactive => return Err(AccountError::MemberNotActive),
        MemberStatus::Cancelled => return Err(AccountError::MemberCancelled),
    }
    let account_type = types.get(code).ok_or(AccountError::AccountTypeNotConfigured)?;
    match account_type.per_member() {
        PerMember::ExactlyOne if open_of_type >= 1 => Err(AccountError::BasicAccountExists),
        PerMember::AtMost(max) if open_of_type >= max => Err(AccountError::AccountTypeLimitReached),
        _ => Ok(account_type),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{BalanceLimit, Counters, NormalSide};
    use crate::party::customer::PartyKind;
    use crate::party::member::LockStatus;
    use crate::party::tests::{acc, at, change, cny, cus, mem};

    use CustomerStatus as C;
    use MemberAccountStatus as A;

    fn member(status: MemberStatus) -> Member {
        Member::restore(mem(1), cus(1), PartyKind::Personal, status, LockStatus::Unlocked, None, at(0), at(0))
    }

    fn code(s: &str) -> AccountTypeCode {
        AccountTypeCode::parse(s).unwrap()
    }

    fn ledger(counters: Counters) -> Account {
        Account {
            id: acc(1),
            currency: cny(),
            normal_side: NormalSide::Credit,
            limit: BalanceLimit::Floor(0),
            flags: AccountFlags::default(),
            counters,
            code: "basic".into(),
            metadata: "{}".into(),
            created_at: at(0),
            last_transfer_at: at(0),
        }
    }

    fn blocks(debits_blocked: bool, credits_blocked: bool) -> LedgerBlocks {
        LedgerBlocks { debits_blocked, credits_blocked }
    }

    #[test]
    fn the_statuses_refuse_with_their_own_code_exactly_what_the_ledger_flags_block() {
        let customers = [C::Normal, C::Banned, C::Frozen, C::StopPayment];
        for account in A::ALL {
            for customer in customers {
                let flags = effective_blocks(account, customer);
                let pays = customer.check_pays().is_ok() && account.check_pays().is_ok();
                let receives = customer.check_receives().is_ok() && account.check_receives().is_ok();
                assert_eq!(pays, !flags.debits_blocked, "{account:?} {customer:?}");
                assert_eq!(receives, !flags.credits_blocked, "{account:?} {customer:?}");
            }
        }
        assert_eq!(A::Frozen.check_pays(), Err(AccountError::AccountFrozen));
        assert_eq!(A::StopPayment.check_pays(), Err(AccountError::AccountStopPayment));
        assert_eq!(A::StopPayment.check_receives(), Ok(()));
        assert_eq!(C::Frozen.check_receives().unwrap_err().code(), "customer_frozen");
        assert_eq!(C::StopPayment.check_pays().unwrap_err().code(), "customer_stop_payment");
    }

    #[test]
    fn a_frozen_customer_blocks_debits_and_credits_of_every_account() {
        assert_eq!(effective_blocks(A::Normal, C::Frozen), blocks(true, true));
    }

    #[test]
    fn a_stop_payment_customer_blocks_debits_only() {
        assert_eq!(effective_blocks(A::Normal, C::StopPayment), blocks(true, false));
    }

    #[test]
    fn a_banned_customer_leaves_the_money_untouched() {
        assert_eq!(effective_blocks(A::Normal, C::Banned), blocks(false, false));
    }

    #[test]
    fn an_account_frozen_on_its_own_stays_frozen_when_its_customer_returns_to_normal() {
        assert_eq!(effective_blocks(A::Frozen, C::Frozen), blocks(true, true));
        assert_eq!(
            effective_blocks(A::Frozen, C::Normal),
            blocks(true, true),
            "the customer's thaw is not the account's"
        );
    }

    #[test]
    fn lifting_a_customer_freeze_restores_exactly_the_accounts_own_blocks() {
        for account in MemberAccountStatus::ALL {
            for customer in [C::Normal, C::Banned, C::Frozen, C::StopPayment] {
                let under = effective_blocks(account, customer);
                assert!(under.debits_blocked >= account.blocks().debits_blocked);
                assert!(under.credits_blocked >= account.blocks().credits_blocked);
                assert_eq!(effective_blocks(account, C::Normal), account.blocks(), "{account:?} after {customer:?}");
            }
        }
    }

    #[test]
    fn a_stop_payment_account_of_a_frozen_customer_is_blocked_both_ways_and_then_debits_only() {
        assert_eq!(effective_blocks(A::StopPayment, C::Frozen), blocks(true, true));
        assert_eq!(effective_blocks(A::StopPayment, C::Normal), blocks(true, false));
    }

    #[test]
    fn the_ledger_flags_add_closed_for_a_closed_account() {
        let flags = effective_flags(A::Closed, C::Normal);
        assert!(flags.closed && flags.debits_blocked && flags.credits_blocked);
        let flags = effective_flags(A::Normal, C::StopPayment);
        assert_eq!(flags, AccountFlags { debits_blocked: true, credits_blocked: false, closed: false });
    }

    #[test]
    fn an_account_moves_between_normal_frozen_and_stop_payment() {
        let record = A::Normal.change_to(A::Frozen, change(1)).unwrap();
        assert_eq!((record.from(), record.to()), (A::Normal, A::Frozen));
        assert!(A::Frozen.change_to(A::StopPayment, change(2)).is_ok());
        assert!(A::StopPayment.change_to(A::Normal, change(3)).is_ok());
        assert_eq!(A::Normal.change_to(A::Normal, change(4)), Err(AccountError::AccountStatusUnchanged));
    }

    #[test]
    fn a_closed_account_is_final_and_closing_is_its_own_step() {
        assert_eq!(A::Closed.change_to(A::Normal, change(1)), Err(AccountError::AccountClosed));
        assert_eq!(A::Normal.change_to(A::Closed, change(1)), Err(AccountError::AccountCloseRequired));
    }

    #[test]
    fn an_account_closes_only_at_zero_with_nothing_pending() {
        let zero = ledger(Counters { debits_posted: 700, credits_posted: 700, ..Default::default() });
        assert_eq!(A::Normal.close(&zero, change(1)).unwrap().to(), A::Closed);
        let balance = ledger(Counters { credits_posted: 1, ..Default::default() });
        assert_eq!(A::Normal.close(&balance, change(1)), Err(AccountError::AccountNotEmpty));
        let held = ledger(Counters { debits_pending: 5, credits_posted: 5, ..Default::default() });
        assert_eq!(A::Normal.close(&held, change(1)), Err(AccountError::AccountHasPending));
        assert_eq!(A::Closed.close(&zero, change(1)), Err(AccountError::AccountClosed));
    }

    #[test]
    fn only_configured_types_can_be_opened() {
        let types = AccountTypes::default_set(cny());
        let refused = check_open_account(&types, &code("points"), &member(MemberStatus::Normal), 0);
        assert_eq!(refused, Err(AccountError::AccountTypeNotConfigured));
        let margin = check_open_account(&types, &code("margin"), &member(MemberStatus::Normal), 0).unwrap();
        assert_eq!(margin.code(), &code("margin"));
    }

    #[test]
    fn a_second_basic_account_is_refused() {
        let types = AccountTypes::default_set(cny());
        let refused = check_open_account(&types, &code("basic"), &member(MemberStatus::Normal), 1);
        assert_eq!(refused, Err(AccountError::BasicAccountExists));
    }

    #[test]
    fn a_types_per_member_maximum_holds() {
        let types = AccountTypes::default_set(cny());
        let normal = member(MemberStatus::Normal);
        assert!(check_open_account(&types, &code("settlement"), &normal, 9).is_ok());
        let refused = check_open_account(&types, &code("settlement"), &normal, 10);
        assert_eq!(refused, Err(AccountError::AccountTypeLimitReached));
    }

    #[test]
    fn an_inactive_or_cancelled_member_opens_no_account_and_a_dormant_one_may() {
        let types = AccountTypes::default_set(cny());
        let inactive = check_open_account(&types, &code("bonus"), &member(MemberStatus::Inactive), 0);
        assert_eq!(inactive, Err(AccountError::MemberNotActive));
        let cancelled = check_open_account(&types, &code("bonus"), &member(MemberStatus::Cancelled), 0);
        assert_eq!(cancelled, Err(AccountError::MemberCancelled));
        assert!(check_open_account(&types, &code("bonus"), &member(MemberStatus::Dormant), 0).is_ok());
    }

    #[test]
    fn account_statuses_round_trip_through_their_codes() {
        for s in MemberAccountStatus::ALL {
            assert_eq!(MemberAccountStatus::parse(s.as_str()), Some(s));
        }
    }
}
