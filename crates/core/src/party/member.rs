//! Members (会员, the articles' 用户 user): how a customer uses the platform. A member belongs to exactly
//! one customer, signs in with its login identities and owns accounts. Its lifecycle status uses the
//! articles' codes (inactive 0, normal 1, dormant 2, cancelled 3); its lock status (unlocked 0,
//! locked 1) is kept apart, because a lock is a management decision about a member in any lifecycle
//! state, placed on the member rather than on each account so that one lock covers all its money.

use super::authentication::CertificateProof;
use super::change::{Actor, Change, Reason, StatusChange};
use super::customer::{Customer, CustomerStatus, PartyKind};
use super::real_name::RealName;
use crate::id::{AccountId, CustomerId, MemberId};
use crate::ledger::{Account, AccountCloseError};
use crate::Timestamp;

rejection_codes! {
    /// Why a member rule refused.
    pub enum MemberError {
        /// The member's customer is banned (禁入): none of its members may act.
        CustomerBanned => "customer_banned", 403, "the member's customer is banned",
        /// The customer was merged: the member should have moved with it to the survivor.
        CustomerMerged => "customer_merged", 409, "the member's customer was merged into another customer",
        MemberNotActive => "member_not_active", 409, "the member is not active",
        MemberLocked => "member_locked", 403, "the member is locked",
        MemberNotLocked => "member_not_locked", 409, "the member is not locked",
        MemberCancelled => "member_cancelled", 409, "the member is cancelled",
        MemberAlreadyActive => "member_already_active", 409, "the member was already activated",
        /// The dormancy job found the member active within the configured period.
        MemberRecentlyActive => "member_recently_active", 409, "the member was active within the dormancy period",
        /// A personal member under an enterprise customer, or the reverse.
        MemberKindMismatch => "member_kind_mismatch", 409,
            "the member is not of its customer's kind (personal or enterprise)",
        AccountNotEmpty => "account_not_empty", 409, "an account of the member still holds a balance",
        AccountHasPending => "account_has_pending", 409, "an account of the member has money on hold",
        MemberHasOpenOrders => "member_has_open_orders", 409, "the member has orders still open",
        /// A real name proved by another member's authentication.
        AuthenticationOtherMember => "authentication_other_member", 403, "the authentication belongs to another member",
        DormancyDaysInvalid => "dormancy_days_invalid", 422, "dormancy is 1 to 3650 days without activity",
    }
}

/// The articles' member lifecycle, with their numeric codes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum MemberStatus {
    /// Registered, not yet activated: may sign in and look around, owns no accounts.
    Inactive,
    Normal,
    /// No activity for the configured period; any activity wakes it.
    Dormant,
    /// Final. Its accounts were closed first and its login identities released.
    Cancelled,
}

impl MemberStatus {
    pub fn code(self) -> u8 {
        match self {
            MemberStatus::Inactive => 0,
            MemberStatus::Normal => 1,
            MemberStatus::Dormant => 2,
            MemberStatus::Cancelled => 3,
        }
    }

    pub fn from_code(code: u8) -> Option<MemberStatus> {
        [MemberStatus::Inactive, MemberStatus::Normal, MemberStatus::Dormant, MemberStatus::Cancelled]
            .into_iter()
            .find(|s| s.code() == code)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Inactive => "inactive",
            MemberStatus::Normal => "normal",
            MemberStatus::Dormant => "dormant",
            MemberStatus::Cancelled => "cancelled",
        }
    }
}

/// The articles' lock status, with their numeric codes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum LockStatus {
    Unlocked,
    Locked,
}

impl LockStatus {
    pub fn code(self) -> u8 {
        match self {
            LockStatus::Unlocked => 0,
            LockStatus::Locked => 1,
        }
    }

    pub fn from_code(code: u8) -> Option<LockStatus> {
        match code {
            0 => Some(LockStatus::Unlocked),
            1 => Some(LockStatus::Locked),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            LockStatus::Unlocked => "unlocked",
            LockStatus::Locked => "locked",
        }
    }
}

/// What a member may ask to do.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum MemberAction {
    SignIn,
    /// Read its own profile, accounts and statements.
    View,
    /// Manage its login identities, pay password, bank cards and authentications.
    ManageSecurity,
    Activate,
    OpenAccount,
    Recharge,
    Pay,
    Transfer,
    Withdraw,
    Cancel,
}

impl MemberAction {
    /// What an inactive member may do: look around, prepare (authenticate, bind a card, set a pay
    /// password), activate, or leave. Everything that needs an account waits for activation, which
    /// opens the accounts.
    fn allowed_while_inactive(self) -> bool {
        matches!(
            self,
            MemberAction::SignIn
                | MemberAction::View
                | MemberAction::ManageSecurity
                | MemberAction::Activate
                | MemberAction::Cancel
        )
    }
}

/// How finely a member's last activity is kept: a day, the unit dormancy is configured in (so never
/// more than the shortest dormancy period).
pub const ACTIVITY_RESOLUTION_S: i64 = 86_400;

/// How long without activity makes a member dormant: configured per platform.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct DormancyPolicy {
    days: u16,
}

/// Ten years: beyond that dormancy would never happen in practice, which is better said by not
/// running the job.
pub const DORMANCY_DAYS_MAX: u16 = 3650;

impl DormancyPolicy {
    pub fn new(days: u16) -> Result<DormancyPolicy, MemberError> {
        if !(1..=DORMANCY_DAYS_MAX).contains(&days) {
            return Err(MemberError::DormancyDaysInvalid);
        }
        Ok(DormancyPolicy { days })
    }

    pub fn days(self) -> u16 {
        self.days
    }

    /// Whether a member last active at `last_active_at` has been idle for the whole period at `now`.
    pub fn is_due(self, last_active_at: Timestamp, now: Timestamp) -> bool {
        let period_ns = self.days as i64 * 86_400 * 1_000_000_000;
        now.nanos().saturating_sub(last_active_at.nanos()) >= period_ns
    }
}

/// A member.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Member {
    id: MemberId,
    customer: CustomerId,
    kind: PartyKind,
    status: MemberStatus,
    lock: LockStatus,
    real_name: Option<RealName>,
    created_at: Timestamp,
    last_active_at: Timestamp,
}

/// What cancelling a member does, in order: close these accounts, then the member.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Cancellation {
    pub member: Member,
    pub change: StatusChange<MemberStatus>,
    /// The member's accounts that are still open; each is at zero with nothing pending.
    pub accounts_to_close: Vec<AccountId>,
}

impl Member {
    /// Registration: a new inactive, unlocked member of `customer`, of the customer's kind. A banned
    /// customer gets no new members: the ban bars it from the platform.
    pub fn register(id: MemberId, customer: &Customer, kind: PartyKind, at: Timestamp) -> Result<Member, MemberError> {
        match customer.status() {
            CustomerStatus::Banned => return Err(MemberError::CustomerBanned),
            CustomerStatus::Merged(_) => return Err(MemberError::CustomerMerged),
            _ => {}
        }
        if kind != customer.kind() {
            return Err(MemberError::MemberKindMismatch);
        }
        Ok(Member {
            id,
            customer: customer.id(),
            kind,
            status: MemberStatus::Inactive,
            lock: LockStatus::Unlocked,
            real_name: None,
            created_at: at,
            last_active_at: at,
        })
    }

    /// A member as stored.
    #[allow(clippy::too_many_arguments)]
    pub fn restore(
        id: MemberId,
        customer: CustomerId,
        kind: PartyKind,
        status: MemberStatus,
        lock: LockStatus,
        real_name: Option<RealName>,
        created_at: Timestamp,
        last_active_at: Timestamp,
    ) -> Member {
        Member { id, customer, kind, status, lock, real_name, created_at, last_active_at }
    }

    pub fn id(&self) -> MemberId {
        self.id
    }

    pub fn customer(&self) -> CustomerId {
        self.customer
    }

    pub fn kind(&self) -> PartyKind {
        self.kind
    }

    pub fn status(&self) -> MemberStatus {
        self.status
    }

    pub fn lock(&self) -> LockStatus {
        self.lock
    }

    /// The verified real name, once an identity-document or licence authentication has succeeded.
    pub fn real_name(&self) -> Option<&RealName> {
        self.real_name.as_ref()
    }

    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    pub fn last_active_at(&self) -> Timestamp {
        self.last_active_at
    }

    /// Whether this member may take `action`, given its customer's status. The customer comes first
    /// (a ban covers every member), then the member's end, then its lock, then its lifecycle. Money
    /// rules are not here: a frozen or stop-payment customer's members may still ask, and the ledger's
    /// account flags (see `account::effective_blocks`) refuse what the status takes away.
    pub fn check_action(&self, action: MemberAction, customer: CustomerStatus) -> Result<(), MemberError> {
        match customer {
            CustomerStatus::Banned => return Err(MemberError::CustomerBanned),
            CustomerStatus::Merged(_) => return Err(MemberError::CustomerMerged),
            _ => {}
        }
        if self.status == MemberStatus::Cancelled {
            return Err(MemberError::MemberCancelled);
        }
        if self.lock == LockStatus::Locked {
            return Err(MemberError::MemberLocked);
        }
        if self.status == MemberStatus::Inactive && !action.allowed_while_inactive() {
            return Err(MemberError::MemberNotActive);
        }
        if self.status != MemberStatus::Inactive && action == MemberAction::Activate {
            return Err(MemberError::MemberAlreadyActive);
        }
        Ok(())
    }

    /// Activation: inactive becomes normal. The caller then opens the accounts whose type opens on
    /// activation (`AccountTypes::opened_on_activation`), the basic account among them.
    pub fn activate(
        self,
        customer: CustomerStatus,
        change: Change,
    ) -> Result<(Member, StatusChange<MemberStatus>), MemberError> {
        self.check_action(MemberAction::Activate, customer)?;
        let last_active_at = self.last_active_at.max(change.at);
        Ok(Member { last_active_at, ..self }.moved_to(MemberStatus::Normal, change))
    }

    /// Whether activity at `now` is worth writing into the member's record: it wakes a dormant member,
    /// or the activity last recorded is [`ACTIVITY_RESOLUTION_S`] or more before `now`. Dormancy is
    /// measured in whole days (at least one), so a member whose activity was left unwritten is never
    /// due for dormancy, and a member paying all day long is written once a day rather than once a
    /// payment (every payment writing one record made the payments of one wallet contend for it).
    pub fn activity_worth_recording(&self, now: Timestamp) -> bool {
        self.status == MemberStatus::Dormant
            || now.nanos().saturating_sub(self.last_active_at.nanos()) >= ACTIVITY_RESOLUTION_S * 1_000_000_000
    }

    /// Records activity at `now`, after `check_action` allowed it. Any activity wakes a dormant member;
    /// the wake is returned as a change by the member itself.
    pub fn record_activity(self, now: Timestamp) -> (Member, Option<StatusChange<MemberStatus>>) {
        let member = Member { last_active_at: self.last_active_at.max(now), ..self };
        if member.status != MemberStatus::Dormant {
            return (member, None);
        }
        let change =
            Change { actor: Actor::Member(member.id), reason: fixed_reason("activity while dormant"), at: now };
        let (member, record) = member.moved_to(MemberStatus::Normal, change);
        (member, Some(record))
    }

    /// The dormancy job's rule: a normal member idle for the whole period becomes dormant (a lock does
    /// not stop the clock). Nothing else goes dormant: an inactive member was never active, a
    /// cancelled one is final.
    pub fn mark_dormant(
        self,
        policy: DormancyPolicy,
        now: Timestamp,
    ) -> Result<(Member, StatusChange<MemberStatus>), MemberError> {
        match self.status {
            MemberStatus::Normal => {}
            MemberStatus::Cancelled => return Err(MemberError::MemberCancelled),
            MemberStatus::Inactive | MemberStatus::Dormant => return Err(MemberError::MemberNotActive),
        }
        if !policy.is_due(self.last_active_at, now) {
            return Err(MemberError::MemberRecentlyActive);
        }
        let reason = Reason::parse(&format!("no activity for {} days", policy.days())).expect("a short reason");
        let change = Change { actor: Actor::System, reason, at: now };
        Ok(self.moved_to(MemberStatus::Dormant, change))
    }

    /// Locks the member: it can take no action until unlocked.
    pub fn lock_member(self, change: Change) -> Result<(Member, StatusChange<LockStatus>), MemberError> {
        match (self.status, self.lock) {
            (MemberStatus::Cancelled, _) => Err(MemberError::MemberCancelled),
            (_, LockStatus::Locked) => Err(MemberError::MemberLocked),
            (_, LockStatus::Unlocked) => {
                let record = StatusChange::new(LockStatus::Unlocked, LockStatus::Locked, change);
                Ok((Member { lock: LockStatus::Locked, ..self }, record))
            }
        }
    }

    pub fn unlock_member(self, change: Change) -> Result<(Member, StatusChange<LockStatus>), MemberError> {
        match (self.status, self.lock) {
            (MemberStatus::Cancelled, _) => Err(MemberError::MemberCancelled),
            (_, LockStatus::Unlocked) => Err(MemberError::MemberNotLocked),
            (_, LockStatus::Locked) => {
                let record = StatusChange::new(LockStatus::Locked, LockStatus::Unlocked, change);
                Ok((Member { lock: LockStatus::Unlocked, ..self }, record))
            }
        }
    }

    /// Cancellation (注销), given the member's ledger accounts and how many of its orders are still
    /// open. Refused while any account holds a balance or a hold, or an order is open: cancelling then
    /// would strand money or leave an order with no one to answer for it. Otherwise the open accounts
    /// are closed first, then the member; the caller then releases its login identities.
    pub fn cancel(
        self,
        customer: CustomerStatus,
        accounts: &[Account],
        open_orders: u32,
        change: Change,
    ) -> Result<Cancellation, MemberError> {
        self.check_action(MemberAction::Cancel, customer)?;
        let mut accounts_to_close = Vec::with_capacity(accounts.len());
        for account in accounts {
            match account.check_can_close() {
                Ok(()) => accounts_to_close.push(account.id),
                Err(AccountCloseError::AlreadyClosed) => {}
                Err(AccountCloseError::NotEmpty) => return Err(MemberError::AccountNotEmpty),
                Err(AccountCloseError::HasPending) => return Err(MemberError::AccountHasPending),
            }
        }
        if open_orders > 0 {
            return Err(MemberError::MemberHasOpenOrders);
        }
        let (member, change) = self.moved_to(MemberStatus::Cancelled, change);
        Ok(Cancellation { member, change, accounts_to_close })
    }

    /// Takes the real name proved by one of this member's own verified authentications.
    pub fn take_real_name(self, proof: &CertificateProof) -> Result<Member, MemberError> {
        if proof.member() != self.id {
            return Err(MemberError::AuthenticationOtherMember);
        }
        if self.status == MemberStatus::Cancelled {
            return Err(MemberError::MemberCancelled);
        }
        Ok(Member { real_name: Some(proof.real_name().clone()), ..self })
    }

    /// The member under the survivor of a merge. Only `merge::plan_merge` calls this.
    pub(crate) fn moved_to_customer(self, survivor: CustomerId) -> Member {
        Member { customer: survivor, ..self }
    }

    fn moved_to(self, to: MemberStatus, change: Change) -> (Member, StatusChange<MemberStatus>) {
        let record = StatusChange::new(self.status, to, change);
        (Member { status: to, ..self }, record)
    }
}

fn fixed_reason(text: &str) -> Reason {
    Reason::parse(text).expect("a fixed reason is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{AccountFlags, BalanceLimit, Counters, NormalSide};
    use crate::party::change::Actor;
    use crate::party::customer::CustomerScope;
    use crate::party::tests::{acc, at, change, cny, cus, mem, DAY_S};

    fn customer(status: CustomerStatus) -> Customer {
        let c = Customer::register(cus(1), PartyKind::Personal, CustomerScope::External, at(0));
        Customer::restore(c.id(), c.kind(), c.scope(), None, status, at(0)).unwrap()
    }

    fn member(status: MemberStatus, lock: LockStatus) -> Member {
        Member::restore(mem(1), cus(1), PartyKind::Personal, status, lock, None, at(0), at(0))
    }

    fn normal() -> Member {
        member(MemberStatus::Normal, LockStatus::Unlocked)
    }

    fn wallet(id: u128, counters: Counters) -> Account {
        Account {
            id: acc(id),
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

    fn empty(id: u128) -> Account {
        wallet(id, Counters { debits_posted: 500, credits_posted: 500, ..Default::default() })
    }

    #[test]
    fn statuses_carry_the_articles_codes() {
        let codes: Vec<u8> =
            [MemberStatus::Inactive, MemberStatus::Normal, MemberStatus::Dormant, MemberStatus::Cancelled]
                .iter()
                .map(|s| s.code())
                .collect();
        assert_eq!(codes, [0, 1, 2, 3]);
        assert_eq!((LockStatus::Unlocked.code(), LockStatus::Locked.code()), (0, 1));
        for code in 0..4 {
            assert_eq!(MemberStatus::from_code(code).unwrap().code(), code);
        }
        assert_eq!(MemberStatus::from_code(4), None);
        assert_eq!(LockStatus::from_code(2), None);
    }

    #[test]
    fn registration_creates_an_inactive_unlocked_member_of_the_customers_kind() {
        let m = Member::register(mem(1), &customer(CustomerStatus::Normal), PartyKind::Personal, at(3)).unwrap();
        assert_eq!((m.status(), m.lock(), m.customer()), (MemberStatus::Inactive, LockStatus::Unlocked, cus(1)));
        assert_eq!(m.last_active_at(), at(3));
        let wrong_kind = Member::register(mem(2), &customer(CustomerStatus::Normal), PartyKind::Enterprise, at(3));
        assert_eq!(wrong_kind, Err(MemberError::MemberKindMismatch));
    }

    #[test]
    fn a_banned_customer_gets_no_new_member() {
        let refused = Member::register(mem(1), &customer(CustomerStatus::Banned), PartyKind::Personal, at(0));
        assert_eq!(refused, Err(MemberError::CustomerBanned));
    }

    #[test]
    fn activation_makes_an_inactive_member_normal() {
        let m = member(MemberStatus::Inactive, LockStatus::Unlocked);
        let (m, record) = m.activate(CustomerStatus::Normal, change(5)).unwrap();
        assert_eq!(m.status(), MemberStatus::Normal);
        assert_eq!((record.from(), record.to()), (MemberStatus::Inactive, MemberStatus::Normal));
    }

    #[test]
    fn an_active_member_cannot_be_activated_again() {
        assert_eq!(normal().activate(CustomerStatus::Normal, change(5)), Err(MemberError::MemberAlreadyActive));
    }

    #[test]
    fn a_locked_inactive_member_cannot_activate() {
        let m = member(MemberStatus::Inactive, LockStatus::Locked);
        assert_eq!(m.activate(CustomerStatus::Normal, change(5)), Err(MemberError::MemberLocked));
    }

    #[test]
    fn a_normal_member_idle_for_the_whole_period_becomes_dormant() {
        let policy = DormancyPolicy::new(180).unwrap();
        let (m, record) = normal().mark_dormant(policy, at(180 * DAY_S)).unwrap();
        assert_eq!(m.status(), MemberStatus::Dormant);
        assert_eq!(record.change().actor, Actor::System);
        assert_eq!(record.change().reason.as_str(), "no activity for 180 days");
        assert_eq!(m.last_active_at(), at(0), "going dormant is not activity");
    }

    #[test]
    fn a_member_active_within_the_period_stays_normal() {
        let policy = DormancyPolicy::new(180).unwrap();
        let refused = normal().mark_dormant(policy, at(180 * DAY_S - 1));
        assert_eq!(refused, Err(MemberError::MemberRecentlyActive));
    }

    #[test]
    fn only_normal_members_go_dormant() {
        let policy = DormancyPolicy::new(1).unwrap();
        let late = at(10 * DAY_S);
        let inactive = member(MemberStatus::Inactive, LockStatus::Unlocked);
        assert_eq!(inactive.mark_dormant(policy, late), Err(MemberError::MemberNotActive));
        let cancelled = member(MemberStatus::Cancelled, LockStatus::Unlocked);
        assert_eq!(cancelled.mark_dormant(policy, late), Err(MemberError::MemberCancelled));
        let locked = member(MemberStatus::Normal, LockStatus::Locked);
        assert!(locked.mark_dormant(policy, late).is_ok(), "a lock does not stop the clock");
    }

    #[test]
    fn dormancy_is_one_day_to_ten_years() {
        assert_eq!(DormancyPolicy::new(0), Err(MemberError::DormancyDaysInvalid));
        assert_eq!(DormancyPolicy::new(DORMANCY_DAYS_MAX + 1), Err(MemberError::DormancyDaysInvalid));
    }

    #[test]
    fn any_activity_wakes_a_dormant_member() {
        let dormant = member(MemberStatus::Dormant, LockStatus::Unlocked);
        assert_eq!(dormant.check_action(MemberAction::Pay, CustomerStatus::Normal), Ok(()));
        let (m, record) = dormant.record_activity(at(90));
        assert_eq!((m.status(), m.last_active_at()), (MemberStatus::Normal, at(90)));
        let record = record.expect("waking is a status change");
        assert_eq!((record.from(), record.to()), (MemberStatus::Dormant, MemberStatus::Normal));
        assert_eq!(record.change().actor, Actor::Member(mem(1)));
    }

    #[test]
    fn activity_of_a_normal_member_only_moves_its_last_activity_forward() {
        let (m, record) = normal().record_activity(at(90));
        assert_eq!((m.status(), m.last_active_at(), record), (MemberStatus::Normal, at(90), None));
        let (m, _) = m.record_activity(at(10));
        assert_eq!(m.last_active_at(), at(90), "a late report does not move it back");
    }

    #[test]
    fn activity_is_worth_writing_once_a_day_or_to_wake() {
        let m = normal();
        assert!(!m.activity_worth_recording(at(DAY_S - 1)), "within the day it was last written");
        assert!(m.activity_worth_recording(at(DAY_S)));
        assert!(member(MemberStatus::Dormant, LockStatus::Unlocked).activity_worth_recording(at(1)));
        // Whatever is left unwritten, the member is not due for the shortest dormancy.
        let shortest = DormancyPolicy::new(1).unwrap();
        assert!(!shortest.is_due(m.last_active_at(), at(DAY_S - 1)));
        assert_eq!(ACTIVITY_RESOLUTION_S, DAY_S * i64::from(shortest.days()));
    }

    #[test]
    fn members_of_a_banned_customer_cannot_act() {
        for action in [MemberAction::SignIn, MemberAction::View, MemberAction::Pay, MemberAction::Cancel] {
            assert_eq!(normal().check_action(action, CustomerStatus::Banned), Err(MemberError::CustomerBanned));
        }
    }

    #[test]
    fn members_of_a_frozen_or_stop_payment_customer_may_still_ask_and_the_ledger_decides() {
        for status in [CustomerStatus::Frozen, CustomerStatus::StopPayment] {
            assert_eq!(normal().check_action(MemberAction::Withdraw, status), Ok(()));
        }
    }

    #[test]
    fn members_of_a_merged_customer_cannot_act_until_they_are_moved() {
        let refused = normal().check_action(MemberAction::View, CustomerStatus::Merged(cus(2)));
        assert_eq!(refused, Err(MemberError::CustomerMerged));
    }

    #[test]
    fn a_locked_member_can_take_no_action() {
        let locked = member(MemberStatus::Normal, LockStatus::Locked);
        for action in [MemberAction::SignIn, MemberAction::View, MemberAction::Pay] {
            assert_eq!(locked.check_action(action, CustomerStatus::Normal), Err(MemberError::MemberLocked));
        }
    }

    #[test]
    fn a_cancelled_member_can_take_no_action() {
        let cancelled = member(MemberStatus::Cancelled, LockStatus::Unlocked);
        assert_eq!(
            cancelled.check_action(MemberAction::SignIn, CustomerStatus::Normal),
            Err(MemberError::MemberCancelled)
        );
    }

    #[test]
    fn an_inactive_member_may_look_and_prepare_but_not_move_money() {
        let inactive = member(MemberStatus::Inactive, LockStatus::Unlocked);
        for allowed in [MemberAction::SignIn, MemberAction::View, MemberAction::ManageSecurity, MemberAction::Cancel] {
            assert_eq!(inactive.check_action(allowed, CustomerStatus::Normal), Ok(()), "{allowed:?}");
        }
        for refused in [
            MemberAction::Pay,
            MemberAction::Transfer,
            MemberAction::Withdraw,
            MemberAction::Recharge,
            MemberAction::OpenAccount,
        ] {
            let result = inactive.check_action(refused, CustomerStatus::Normal);
            assert_eq!(result, Err(MemberError::MemberNotActive), "{refused:?}");
        }
    }

    #[test]
    fn locking_and_unlocking_are_recorded_and_never_repeated() {
        let (locked, record) = normal().lock_member(change(1)).unwrap();
        assert_eq!((locked.lock(), record.to()), (LockStatus::Locked, LockStatus::Locked));
        assert_eq!(locked.clone().lock_member(change(2)), Err(MemberError::MemberLocked));
        let (unlocked, _) = locked.unlock_member(change(3)).unwrap();
        assert_eq!(unlocked.lock(), LockStatus::Unlocked);
        assert_eq!(unlocked.unlock_member(change(4)), Err(MemberError::MemberNotLocked));
    }

    #[test]
    fn a_cancelled_member_cannot_be_locked() {
        let cancelled = member(MemberStatus::Cancelled, LockStatus::Unlocked);
        assert_eq!(cancelled.lock_member(change(1)), Err(MemberError::MemberCancelled));
    }

    #[test]
    fn cancelling_a_member_with_empty_accounts_closes_them_first() {
        let mut closed = empty(3);
        closed.flags.closed = true;
        let cancellation =
            normal().cancel(CustomerStatus::Normal, &[empty(1), empty(2), closed], 0, change(9)).unwrap();
        assert_eq!(cancellation.accounts_to_close, [acc(1), acc(2)]);
        assert_eq!(cancellation.member.status(), MemberStatus::Cancelled);
        assert_eq!(cancellation.change.from(), MemberStatus::Normal);
    }

    #[test]
    fn cancelling_is_refused_while_an_account_holds_a_balance() {
        let with_balance = wallet(1, Counters { credits_posted: 1, ..Default::default() });
        let refused = normal().cancel(CustomerStatus::Normal, &[empty(2), with_balance], 0, change(9));
        assert_eq!(refused, Err(MemberError::AccountNotEmpty));
    }

    #[test]
    fn cancelling_is_refused_while_an_account_has_a_hold() {
        let held =
            wallet(1, Counters { debits_pending: 100, debits_posted: 0, credits_posted: 100, ..Default::default() });
        let refused = normal().cancel(CustomerStatus::Normal, &[held], 0, change(9));
        assert_eq!(refused, Err(MemberError::AccountHasPending));
    }

    #[test]
    fn cancelling_is_refused_while_an_order_is_open() {
        let refused = normal().cancel(CustomerStatus::Normal, &[empty(1)], 1, change(9));
        assert_eq!(refused, Err(MemberError::MemberHasOpenOrders));
    }

    #[test]
    fn a_locked_member_cannot_be_cancelled() {
        let locked = member(MemberStatus::Normal, LockStatus::Locked);
        assert_eq!(locked.cancel(CustomerStatus::Normal, &[], 0, change(9)), Err(MemberError::MemberLocked));
    }

    #[test]
    fn an_inactive_member_without_accounts_can_be_cancelled() {
        let inactive = member(MemberStatus::Inactive, LockStatus::Unlocked);
        let cancellation = inactive.cancel(CustomerStatus::Normal, &[], 0, change(9)).unwrap();
        assert!(cancellation.accounts_to_close.is_empty());
    }
}
