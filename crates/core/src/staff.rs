//! The platform's staff (后台人员): the people who work in the admin console and call the admin
//! endpoints, each with an account of their own: a username, a password, a role, a status. And the
//! rules around them: which usernames and passwords may be set, when repeated failed sign-ins lock an
//! account, when a session has expired, and maker-checker (一人发起、另一人复核): a request one staff
//! member makes waits for a second, different one to approve it.
//!
//! Hashing passwords, making session tokens and keeping records are outside core: the service hashes
//! between [`LoginGuard::check_may_try`] and [`LoginGuard::after_attempt`], as for pay passwords.

use std::fmt;

use crate::id::{Id128, IdKind};
use crate::party::change::StaffName;
use crate::party::Actor;
use crate::scope::{Scope, Scopes};
use crate::Timestamp;

rejection_codes! {
    /// Why a staff account, a sign-in, a session or an approval was refused.
    pub enum StaffError {
        StaffUsernameInvalid => "staff_username_invalid", 422,
            "a staff username is 3 to 32 characters of a-z, 0-9, '.', '_' and '-', starting with a letter",
        StaffPasswordInvalid => "staff_password_invalid", 422,
            "a staff password is 12 to 128 characters without control characters",
        StaffRoleInvalid => "staff_role_invalid", 422,
            "a staff role is super_admin, finance, operations, customer_service, auditor or marketing",
        StaffUsernameTaken => "staff_username_taken", 409, "a staff member has this username already",
        StaffNotFound => "staff_not_found", 404, "no staff member has this username",
        /// The same answer for an unknown username and a wrong password, so that it tells nobody which
        /// usernames exist.
        InvalidCredentials => "invalid_credentials", 401, "the username or the password is wrong",
        StaffLocked => "staff_locked", 403, "too many failed sign-ins: the staff account is locked for a while",
        StaffDisabled => "staff_disabled", 403, "the staff account is disabled",
        StaffSessionInvalid => "staff_session_invalid", 401, "the staff session is unknown or has ended; sign in again",
        StaffSessionExpired => "staff_session_expired", 401, "the staff session has expired; sign in again",
        ApprovalNotFound => "approval_not_found", 404, "no approval has this id",
        ApprovalSameStaffMember => "approval_same_staff_member", 403,
            "a request waiting for approval is approved or rejected by another staff member than the one who made it",
        ApprovalDecided => "approval_decided", 409, "the approval was decided already",
    }
}

rejection_codes! {
    /// Why a configured staff policy (lockout, session lifetime) was refused: start-up errors.
    pub enum StaffPolicyError {
        LoginPolicyInvalid => "staff_login_policy_invalid", 422,
            "staff sign-ins lock after 1 to 20 failures in a row, for 1 minute to 1 day",
        SessionPolicyInvalid => "staff_session_policy_invalid", 422,
            "a staff session's idle timeout is 1 minute to 1 day, and its lifetime from the idle timeout to 30 days",
    }
}

/// Shortest and longest username, in characters.
pub const USERNAME_CHARS_MIN: usize = 3;
pub const USERNAME_CHARS_MAX: usize = 32;
/// Shortest and longest password, in characters. The upper bound keeps what is hashed bounded.
pub const PASSWORD_CHARS_MIN: usize = 12;
pub const PASSWORD_CHARS_MAX: usize = 128;

/// A staff member's username: 3 to 32 of `a-z 0-9 . _ -`, starting with a letter. Upper-case letters
/// are read as lower-case, so `Li.Wei` signs in as `li.wei`. Always a valid [`StaffName`].
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Username(String);

impl Username {
    pub fn parse(text: &str) -> Result<Username, StaffError> {
        let text = text.to_ascii_lowercase();
        let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-');
        let ok = (USERNAME_CHARS_MIN..=USERNAME_CHARS_MAX).contains(&text.len())
            && text.as_bytes()[0].is_ascii_lowercase()
            && text.bytes().all(allowed);
        ok.then_some(Username(text)).ok_or(StaffError::StaffUsernameInvalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The staff member as the actor of a change (`staff:<username>` in the history and audit log).
    pub fn actor(&self) -> Actor {
        Actor::Staff(StaffName::parse(&self.0).expect("a username is a valid staff name"))
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.0)
    }
}

/// A password that may be set for a staff account: 12 to 128 characters without control characters.
/// Length is what makes a password hard to guess; composition rules mostly make it hard to remember.
/// Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct StaffPassword(String);

impl StaffPassword {
    pub fn parse(text: &str) -> Result<StaffPassword, StaffError> {
        let chars = text.chars().count();
        let ok = (PASSWORD_CHARS_MIN..=PASSWORD_CHARS_MAX).contains(&chars) && !text.chars().any(char::is_control);
        ok.then(|| StaffPassword(text.to_owned())).ok_or(StaffError::StaffPasswordInvalid)
    }

    /// The password's bytes, for the hash function and nothing else.
    pub fn expose_for_hashing(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for StaffPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("StaffPassword(******)")
    }
}

/// What a staff member does, which decides what they may do (the HTTP layer maps each role to API
/// scopes; docs/SECURITY.md has the table).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub enum StaffRole {
    /// Everything.
    SuperAdmin,
    /// Money: wallets, recharges, withdrawals, adjustments, freezes.
    Finance,
    /// Customers, members and their statuses; freezes.
    Operations,
    /// Helps members: reads everything a member asks about and changes their records.
    CustomerService,
    /// Reads everything, the audit log included; changes nothing.
    Auditor,
    /// Member cards: card types, segments, batches; approves batches for marketing (市场运营).
    Marketing,
}

impl StaffRole {
    pub const ALL: &'static [StaffRole] = &[
        StaffRole::SuperAdmin,
        StaffRole::Finance,
        StaffRole::Operations,
        StaffRole::CustomerService,
        StaffRole::Auditor,
        StaffRole::Marketing,
    ];

    pub fn parse(text: &str) -> Result<StaffRole, StaffError> {
        StaffRole::ALL.iter().copied().find(|role| role.as_str() == text).ok_or(StaffError::StaffRoleInvalid)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StaffRole::SuperAdmin => "super_admin",
            StaffRole::Finance => "finance",
            StaffRole::Operations => "operations",
            StaffRole::CustomerService => "customer_service",
            StaffRole::Auditor => "auditor",
            StaffRole::Marketing => "marketing",
        }
    }

    /// What the role may do: the API scopes it holds. Every role reads what its work needs; only the
    /// super admin writes to the raw ledger, and only the super admin and the auditor read the audit
    /// log.
    pub fn scopes(self) -> Scopes {
        use Scope::*;
        let reads = [LedgerRead, PartiesRead, WalletRead, AdminRead];
        match self {
            StaffRole::SuperAdmin => Scopes::all(),
            StaffRole::Finance => reads.into_iter().chain([WalletWrite, AdminWrite, CardsRead, CardsWrite]).collect(),
            StaffRole::Operations => {
                [PartiesRead, PartiesWrite, WalletRead, AdminRead, AdminWrite].into_iter().collect()
            }
            StaffRole::CustomerService => reads.into_iter().chain([PartiesWrite]).collect(),
            StaffRole::Auditor => reads.into_iter().chain([AuditRead, CardsRead]).collect(),
            StaffRole::Marketing => reads.into_iter().chain([CardsRead, CardsWrite]).collect(),
        }
    }
}

/// A part of the back office that a role's scopes alone do not decide: every role reads wallets
/// (`wallet:read`) and the back office (`admin:read`) for its work, but not every role's work is the
/// webhooks' deliveries (what the platform sends its clients) or merchants' settlement statements
/// (what the platform owes them). A staff request to a route of an area its role does not reach is
/// refused as if the scope were missing.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum StaffArea {
    /// Every API client's webhook endpoints, deliveries and attempts.
    Webhooks,
    /// Merchants' settlement statements, their payouts and staff's settlement adjustments.
    Settlements,
}

impl StaffArea {
    pub const ALL: &'static [StaffArea] = &[StaffArea::Webhooks, StaffArea::Settlements];

    pub fn as_str(self) -> &'static str {
        match self {
            StaffArea::Webhooks => "webhooks",
            StaffArea::Settlements => "settlements",
        }
    }
}

impl StaffRole {
    /// Whether the role reaches the area: webhooks are the technical side's and finance's (who resend
    /// and disable), settlements finance's and the auditor's (who reads them); customer service and
    /// marketing reach neither.
    pub fn reaches(self, area: StaffArea) -> bool {
        use StaffRole::*;
        match area {
            StaffArea::Webhooks => matches!(self, SuperAdmin | Finance | Operations),
            StaffArea::Settlements => matches!(self, SuperAdmin | Finance | Auditor),
        }
    }
}

/// Whether a staff account may sign in. A disabled account's sessions are ended when it is disabled.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum StaffStatus {
    Active,
    Disabled,
}

impl StaffStatus {
    pub fn parse(text: &str) -> Option<StaffStatus> {
        match text {
            "active" => Some(StaffStatus::Active),
            "disabled" => Some(StaffStatus::Disabled),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StaffStatus::Active => "active",
            StaffStatus::Disabled => "disabled",
        }
    }
}

/// When repeated failed sign-ins lock a staff account, and for how long.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct LoginPolicy {
    failures_max: u32,
    lock_s: u32,
}

impl LoginPolicy {
    /// Five failures in a row, then locked for 15 minutes: long enough to make guessing hopeless (480
    /// guesses a day), short enough that a colleague's typos do not cost a morning.
    pub const DEFAULT: LoginPolicy = LoginPolicy { failures_max: 5, lock_s: 15 * 60 };

    pub fn new(failures_max: u32, lock_s: u32) -> Result<LoginPolicy, StaffPolicyError> {
        let ok = (1..=20).contains(&failures_max) && (60..=24 * 3600).contains(&lock_s);
        ok.then_some(LoginPolicy { failures_max, lock_s }).ok_or(StaffPolicyError::LoginPolicyInvalid)
    }

    pub fn failures_max(self) -> u32 {
        self.failures_max
    }

    pub fn lock_s(self) -> u32 {
        self.lock_s
    }
}

/// Whether a password (right or wrong) was given: what the hash said.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LoginVerdict {
    Correct,
    Incorrect,
}

/// A staff account's failed sign-ins in a row and its lock, as stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct LoginGuard {
    failures: u32,
    locked_until: Option<Timestamp>,
}

impl LoginGuard {
    pub fn restore(failures: u32, locked_until: Option<Timestamp>) -> LoginGuard {
        LoginGuard { failures, locked_until }
    }

    pub fn failures(self) -> u32 {
        self.failures
    }

    pub fn locked_until(self) -> Option<Timestamp> {
        self.locked_until
    }

    /// The guard as it stands at `now`: a lock that has run out is gone, and its failures with it.
    fn at(self, now: Timestamp) -> LoginGuard {
        match self.locked_until {
            Some(until) if now >= until => LoginGuard::default(),
            _ => self,
        }
    }

    /// Whether a sign-in may be tried at `now`. Asked before hashing, so that a locked account's
    /// password is not even compared: nothing about it leaks while it is locked.
    pub fn check_may_try(self, now: Timestamp) -> Result<(), StaffError> {
        match self.at(now).locked_until {
            Some(_) => Err(StaffError::StaffLocked),
            None => Ok(()),
        }
    }

    /// The guard after a sign-in at `now`, and its answer. A right password clears the failures; the
    /// `failures_max`-th wrong one in a row locks the account for the policy's lock time.
    pub fn after_attempt(
        self,
        verdict: LoginVerdict,
        policy: LoginPolicy,
        now: Timestamp,
    ) -> (LoginGuard, Result<(), StaffError>) {
        let guard = self.at(now);
        if guard.locked_until.is_some() {
            return (guard, Err(StaffError::StaffLocked));
        }
        match verdict {
            LoginVerdict::Correct => (LoginGuard::default(), Ok(())),
            LoginVerdict::Incorrect => {
                let failures = guard.failures.saturating_add(1);
                if failures >= policy.failures_max {
                    let until = now.add_seconds(policy.lock_s).unwrap_or(Timestamp::from_nanos(i64::MAX));
                    (LoginGuard { failures, locked_until: Some(until) }, Err(StaffError::StaffLocked))
                } else {
                    (LoginGuard { failures, locked_until: None }, Err(StaffError::InvalidCredentials))
                }
            }
        }
    }
}

/// How long a staff session lasts: it ends after `idle_s` without a request, and `absolute_s` after
/// sign-in whatever happens, so a session left open on a shared screen, or stolen, does not last.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct SessionPolicy {
    idle_s: u32,
    absolute_s: u32,
}

impl SessionPolicy {
    /// 30 minutes idle, 12 hours at most: a working day, signed in once.
    pub const DEFAULT: SessionPolicy = SessionPolicy { idle_s: 30 * 60, absolute_s: 12 * 3600 };

    pub fn new(idle_s: u32, absolute_s: u32) -> Result<SessionPolicy, StaffPolicyError> {
        let ok = (60..=24 * 3600).contains(&idle_s) && (idle_s..=30 * 24 * 3600).contains(&absolute_s);
        ok.then_some(SessionPolicy { idle_s, absolute_s }).ok_or(StaffPolicyError::SessionPolicyInvalid)
    }

    pub fn idle_s(self) -> u32 {
        self.idle_s
    }

    pub fn absolute_s(self) -> u32 {
        self.absolute_s
    }

    /// When a session signed in at `created_at` and last used at `last_seen_at` expires.
    pub fn expires_at(self, created_at: Timestamp, last_seen_at: Timestamp) -> Timestamp {
        let never = Timestamp::from_nanos(i64::MAX);
        let idle = last_seen_at.add_seconds(self.idle_s).unwrap_or(never);
        let absolute = created_at.add_seconds(self.absolute_s).unwrap_or(never);
        idle.min(absolute)
    }

    /// Whether such a session may still be used at `now`.
    pub fn check_live(self, created_at: Timestamp, last_seen_at: Timestamp, now: Timestamp) -> Result<(), StaffError> {
        if now < self.expires_at(created_at, last_seen_at) {
            Ok(())
        } else {
            Err(StaffError::StaffSessionExpired)
        }
    }
}

pub enum ApprovalTag {}
impl IdKind for ApprovalTag {
    const PREFIX: &'static str = "apr";
}
/// An approval: a staff member's request that waits for a second one (`apr_…`).
pub type ApprovalId = Id128<ApprovalTag>;

/// Where an approval stands. pending → applying (approved; being applied) → applied or failed (the
/// request was refused when applied); or pending → rejected.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ApprovalStatus {
    Pending,
    Applying,
    Applied,
    Failed,
    Rejected,
}

impl ApprovalStatus {
    pub const ALL: &'static [ApprovalStatus] = &[
        ApprovalStatus::Pending,
        ApprovalStatus::Applying,
        ApprovalStatus::Applied,
        ApprovalStatus::Failed,
        ApprovalStatus::Rejected,
    ];

    pub fn parse(text: &str) -> Option<ApprovalStatus> {
        ApprovalStatus::ALL.iter().copied().find(|status| status.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            ApprovalStatus::Pending => "pending",
            ApprovalStatus::Applying => "applying",
            ApprovalStatus::Applied => "applied",
            ApprovalStatus::Failed => "failed",
            ApprovalStatus::Rejected => "rejected",
        }
    }

    /// The status after `checker` approves a request `maker` made. The maker can never be the checker.
    /// An approval being applied may be approved again (by anyone but the maker): that finishes an
    /// application a crash interrupted, and applies the request at most once.
    pub fn approve(self, maker: &Username, checker: &Username) -> Result<ApprovalStatus, StaffError> {
        if maker == checker {
            return Err(StaffError::ApprovalSameStaffMember);
        }
        match self {
            ApprovalStatus::Pending | ApprovalStatus::Applying => Ok(ApprovalStatus::Applying),
            ApprovalStatus::Applied | ApprovalStatus::Failed | ApprovalStatus::Rejected => {
                Err(StaffError::ApprovalDecided)
            }
        }
    }

    /// The status after `checker` rejects a request `maker` made: only a pending one can be.
    pub fn reject(self, maker: &Username, checker: &Username) -> Result<ApprovalStatus, StaffError> {
        if maker == checker {
            return Err(StaffError::ApprovalSameStaffMember);
        }
        match self {
            ApprovalStatus::Pending => Ok(ApprovalStatus::Rejected),
            _ => Err(StaffError::ApprovalDecided),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds: i64) -> Timestamp {
        Timestamp::from_nanos(1_700_000_000_000_000_000 + seconds * 1_000_000_000)
    }

    fn name(text: &str) -> Username {
        Username::parse(text).unwrap()
    }

    #[test]
    fn usernames_are_short_lower_case_words() {
        assert_eq!(name("Li.Wei").as_str(), "li.wei");
        for ok in ["ops", "wang_fang-2", "a.b.c"] {
            assert!(Username::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["ab", "2fast", "li wei", "李伟", "", "a".repeat(33).as_str(), "x:y"] {
            assert_eq!(Username::parse(bad), Err(StaffError::StaffUsernameInvalid), "{bad}");
        }
        assert_eq!(name("li.wei").actor(), Actor::Staff(StaffName::parse("li.wei").unwrap()));
    }

    #[test]
    fn passwords_are_long_and_hidden() {
        assert!(StaffPassword::parse("correct horse battery").is_ok());
        assert!(StaffPassword::parse("十二个汉字也是一个足够长的密码").is_ok());
        assert_eq!(StaffPassword::parse("short"), Err(StaffError::StaffPasswordInvalid));
        assert_eq!(StaffPassword::parse(&"x".repeat(129)), Err(StaffError::StaffPasswordInvalid));
        assert_eq!(StaffPassword::parse("twelve chars\n ok"), Err(StaffError::StaffPasswordInvalid));
        let password = StaffPassword::parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }

    #[test]
    fn roles_read_back_as_written() {
        for role in StaffRole::ALL {
            assert_eq!(StaffRole::parse(role.as_str()), Ok(*role));
        }
        assert_eq!(StaffRole::parse("admin"), Err(StaffError::StaffRoleInvalid));
    }

    #[test]
    fn only_the_super_admin_holds_every_scope_and_the_auditor_writes_nothing() {
        assert_eq!(StaffRole::SuperAdmin.scopes(), Scopes::all());
        for role in &StaffRole::ALL[1..] {
            assert_ne!(role.scopes(), Scopes::all(), "{role:?}");
            assert!(!role.scopes().contains(Scope::LedgerWrite), "{role:?}");
        }
        assert!(StaffRole::Auditor.scopes().iter().all(|scope| scope.as_str().ends_with(":read")));
        assert!(StaffRole::Auditor.scopes().contains(Scope::AuditRead));
    }

    #[test]
    fn the_last_of_failures_max_wrong_passwords_locks_the_account_for_the_lock_time() {
        let policy = LoginPolicy::new(3, 600).unwrap();
        let mut guard = LoginGuard::default();
        for n in 1..3 {
            let (next, answer) = guard.after_attempt(LoginVerdict::Incorrect, policy, at(n));
            assert_eq!((next.failures(), answer), (n as u32, Err(StaffError::InvalidCredentials)));
            guard = next;
        }
        let (locked, answer) = guard.after_attempt(LoginVerdict::Incorrect, policy, at(3));
        assert_eq!(answer, Err(StaffError::StaffLocked));
        assert_eq!(locked.locked_until(), Some(at(603)));
        assert_eq!(locked.check_may_try(at(602)), Err(StaffError::StaffLocked));
        let (_, answer) = locked.after_attempt(LoginVerdict::Correct, policy, at(602));
        assert_eq!(answer, Err(StaffError::StaffLocked), "even the right password waits for the lock");
        assert_eq!(locked.check_may_try(at(603)), Ok(()));
        let (after, answer) = locked.after_attempt(LoginVerdict::Incorrect, policy, at(603));
        assert_eq!((after.failures(), answer), (1, Err(StaffError::InvalidCredentials)), "the count starts afresh");
    }

    #[test]
    fn a_right_password_clears_the_failures() {
        let policy = LoginPolicy::DEFAULT;
        let (guard, _) = LoginGuard::default().after_attempt(LoginVerdict::Incorrect, policy, at(0));
        let (guard, answer) = guard.after_attempt(LoginVerdict::Correct, policy, at(1));
        assert_eq!((guard, answer), (LoginGuard::default(), Ok(())));
    }

    #[test]
    fn policies_stay_within_their_bounds() {
        assert!(LoginPolicy::new(0, 600).is_err());
        assert!(LoginPolicy::new(5, 59).is_err());
        assert!(SessionPolicy::new(59, 3600).is_err());
        assert!(SessionPolicy::new(3600, 1800).is_err(), "a lifetime shorter than the idle timeout");
        assert!(SessionPolicy::new(1800, 31 * 24 * 3600).is_err());
        assert!(SessionPolicy::new(1800, 1800).is_ok());
    }

    #[test]
    fn a_session_expires_when_idle_or_at_its_lifetime_whichever_comes_first() {
        let policy = SessionPolicy::new(600, 3600).unwrap();
        assert_eq!(policy.check_live(at(0), at(0), at(599)), Ok(()));
        assert_eq!(policy.check_live(at(0), at(0), at(600)), Err(StaffError::StaffSessionExpired));
        assert_eq!(policy.check_live(at(0), at(3000), at(3599)), Ok(()));
        assert_eq!(policy.check_live(at(0), at(3500), at(3600)), Err(StaffError::StaffSessionExpired));
        assert_eq!(policy.expires_at(at(0), at(3500)), at(3600));
    }

    #[test]
    fn maker_checker_needs_two_different_staff_members() {
        let (li, wang) = (name("li.wei"), name("wang"));
        let pending = ApprovalStatus::Pending;
        assert_eq!(pending.approve(&li, &li), Err(StaffError::ApprovalSameStaffMember));
        assert_eq!(pending.reject(&li, &li), Err(StaffError::ApprovalSameStaffMember));
        assert_eq!(ApprovalStatus::Applying.approve(&li, &li), Err(StaffError::ApprovalSameStaffMember));
        assert_eq!(pending.approve(&li, &wang), Ok(ApprovalStatus::Applying));
        assert_eq!(ApprovalStatus::Applying.approve(&li, &wang), Ok(ApprovalStatus::Applying));
        assert_eq!(pending.reject(&li, &wang), Ok(ApprovalStatus::Rejected));
        for decided in [ApprovalStatus::Applied, ApprovalStatus::Failed, ApprovalStatus::Rejected] {
            assert_eq!(decided.approve(&li, &wang), Err(StaffError::ApprovalDecided));
            assert_eq!(decided.reject(&li, &wang), Err(StaffError::ApprovalDecided));
        }
        assert_eq!(ApprovalStatus::Applying.reject(&li, &wang), Err(StaffError::ApprovalDecided));
        for status in ApprovalStatus::ALL {
            assert_eq!(ApprovalStatus::parse(status.as_str()), Some(*status));
        }
    }
}
