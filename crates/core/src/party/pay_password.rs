//! Pay passwords (支付密码), one per member and one per operator: the second factor that confirms a
//! payment. The rules here are which passwords may be set and when repeated failures lock it; the
//! hashing (Argon2id) happens outside core, between [`PayPasswordGuard::check_may_try`] and
//! [`PayPasswordGuard::after_attempt`].

use crate::Timestamp;
use std::fmt;

rejection_codes! {
    /// Why a pay password was refused.
    pub enum PayPasswordError {
        PayPasswordNotSixDigits => "pay_password_not_six_digits", 422, "a pay password is exactly 6 digits",
        PayPasswordRepeated => "pay_password_repeated", 422, "a pay password may not be one digit repeated",
        PayPasswordSequence => "pay_password_sequence", 422, "a pay password may not be a run of consecutive digits",
        PayPasswordIncorrect => "pay_password_incorrect", 403, "the pay password is wrong",
        /// Too many wrong tries: locked until the lock time has passed.
        PayPasswordLocked => "pay_password_locked", 403, "the pay password is locked after too many wrong tries",
        PayPasswordPolicyInvalid => "pay_password_policy_invalid", 422,
            "a pay password locks after 1 to 10 wrong tries, for 1 minute to 7 days",
    }
}

/// A pay password that may be set: 6 digits, neither one digit repeated (000000) nor a run up or down
/// (123456, 876543), the first passwords a thief tries. Its `Debug` hides the digits.
#[derive(Clone, PartialEq, Eq)]
pub struct PayPassword(String);

impl PayPassword {
    pub fn parse(text: &str) -> Result<PayPassword, PayPasswordError> {
        let d = text.as_bytes();
        if d.len() != 6 || !d.iter().all(u8::is_ascii_digit) {
            return Err(PayPasswordError::PayPasswordNotSixDigits);
        }
        if d.iter().all(|&b| b == d[0]) {
            return Err(PayPasswordError::PayPasswordRepeated);
        }
        let steps: Vec<i8> = d.windows(2).map(|w| w[1] as i8 - w[0] as i8).collect();
        if steps.iter().all(|&s| s == 1) || steps.iter().all(|&s| s == -1) {
            return Err(PayPasswordError::PayPasswordSequence);
        }
        Ok(PayPassword(text.to_owned()))
    }

    /// The digits, for the hash function and nothing else.
    pub fn expose_for_hashing(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for PayPassword {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PayPassword(******)")
    }
}

/// When repeated failures lock the pay password, and for how long: configured per platform.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PayPasswordPolicy {
    failures_max: u8,
    lock_s: u32,
}

impl PayPasswordPolicy {
    /// Five wrong tries, then locked for a day: the common rule among Chinese wallets.
    pub const DEFAULT: PayPasswordPolicy = PayPasswordPolicy { failures_max: 5, lock_s: 24 * 3600 };

    pub fn new(failures_max: u8, lock_s: u32) -> Result<PayPasswordPolicy, PayPasswordError> {
        let ok = (1..=10).contains(&failures_max) && (60..=7 * 24 * 3600).contains(&lock_s);
        ok.then_some(PayPasswordPolicy { failures_max, lock_s }).ok_or(PayPasswordError::PayPasswordPolicyInvalid)
    }

    pub fn failures_max(self) -> u8 {
        self.failures_max
    }

    pub fn lock_s(self) -> u32 {
        self.lock_s
    }
}

/// Whether the hash said the password was right.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PasswordVerdict {
    Correct,
    Incorrect,
}

/// The failure count and lock of one pay password: (failures, locked_until), as stored.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PayPasswordGuard {
    failures: u8,
    locked_until: Option<Timestamp>,
}

impl PayPasswordGuard {
    pub fn restore(failures: u8, locked_until: Option<Timestamp>) -> PayPasswordGuard {
        PayPasswordGuard { failures, locked_until }
    }

    pub fn failures(self) -> u8 {
        self.failures
    }

    pub fn locked_until(self) -> Option<Timestamp> {
        self.locked_until
    }

    /// The guard as it stands at `now`: a lock that has run out is gone, and its failures with it.
    fn at(self, now: Timestamp) -> PayPasswordGuard {
        match self.locked_until {
            Some(until) if now >= until => PayPasswordGuard::default(),
            _ => self,
        }
    }

    /// Whether the password may be tried at `now`. Asked before hashing, so a locked password is not
    /// even compared: no answer leaks while it is locked.
    pub fn check_may_try(self, now: Timestamp) -> Result<(), PayPasswordError> {
        if self.at(now).locked_until.is_some() {
            return Err(PayPasswordError::PayPasswordLocked);
        }
        Ok(())
    }

    /// The guard after a try at `now`, and the try's answer. A right password clears the failures; the
    /// `failures_max`-th wrong one in a row locks the password for the policy's lock time.
    pub fn after_attempt(
        self,
        verdict: PasswordVerdict,
        policy: PayPasswordPolicy,
        now: Timestamp,
    ) -> (PayPasswordGuard, Result<(), PayPasswordError>) {
        let guard = self.at(now);
        if guard.locked_until.is_some() {
            return (guard, Err(PayPasswordError::PayPasswordLocked));
        }
        match verdict {
            PasswordVerdict::Correct => (PayPasswordGuard::default(), Ok(())),
            PasswordVerdict::Incorrect => {
                let failures = guard.failures.saturating_add(1);
                if failures >= policy.failures_max {
                    let until = now.add_seconds(policy.lock_s).unwrap_or(Timestamp(i64::MAX));
                    (PayPasswordGuard { failures, locked_until: Some(until) }, Err(PayPasswordError::PayPasswordLocked))
                } else {
                    (PayPasswordGuard { failures, locked_until: None }, Err(PayPasswordError::PayPasswordIncorrect))
                }
            }
        }
    }

    /// Tries left before the lock, for the message "2 tries left".
    pub fn tries_left(self, policy: PayPasswordPolicy, now: Timestamp) -> u8 {
        let guard = self.at(now);
        if guard.locked_until.is_some() {
            0
        } else {
            policy.failures_max.saturating_sub(guard.failures)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::party::tests::at;

    #[test]
    fn six_digits_that_are_neither_repeated_nor_a_run_make_a_pay_password() {
        for ok in ["135790", "112233", "123457", "901234", "024680"] {
            assert!(PayPassword::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn a_pay_password_is_exactly_six_digits() {
        for bad in ["12345", "1234567", "12345a", "", "１２３４５６"] {
            assert_eq!(PayPassword::parse(bad), Err(PayPasswordError::PayPasswordNotSixDigits), "{bad}");
        }
    }

    #[test]
    fn one_digit_repeated_is_refused() {
        assert_eq!(PayPassword::parse("000000"), Err(PayPasswordError::PayPasswordRepeated));
        assert_eq!(PayPassword::parse("888888"), Err(PayPasswordError::PayPasswordRepeated));
    }

    #[test]
    fn a_run_up_or_down_is_refused() {
        for run in ["123456", "012345", "456789", "654321", "987654"] {
            assert_eq!(PayPassword::parse(run), Err(PayPasswordError::PayPasswordSequence), "{run}");
        }
    }

    #[test]
    fn a_pay_password_never_prints_its_digits() {
        assert_eq!(format!("{:?}", PayPassword::parse("135790").unwrap()), "PayPassword(******)");
    }

    #[test]
    fn the_fifth_wrong_try_locks_the_password_for_the_configured_time() {
        let policy = PayPasswordPolicy::new(5, 3600).unwrap();
        let mut guard = PayPasswordGuard::default();
        for n in 1..=4 {
            let (next, answer) = guard.after_attempt(PasswordVerdict::Incorrect, policy, at(n));
            assert_eq!(answer, Err(PayPasswordError::PayPasswordIncorrect));
            assert_eq!(next.tries_left(policy, at(n)), 5 - n as u8);
            guard = next;
        }
        let (guard, answer) = guard.after_attempt(PasswordVerdict::Incorrect, policy, at(5));
        assert_eq!(answer, Err(PayPasswordError::PayPasswordLocked));
        assert_eq!(guard.locked_until(), Some(at(3605)));
        assert_eq!(guard.check_may_try(at(3604)), Err(PayPasswordError::PayPasswordLocked));
    }

    #[test]
    fn a_locked_password_is_refused_even_when_right() {
        let guard = PayPasswordGuard::restore(5, Some(at(100)));
        let (_, answer) = guard.after_attempt(PasswordVerdict::Correct, PayPasswordPolicy::DEFAULT, at(99));
        assert_eq!(answer, Err(PayPasswordError::PayPasswordLocked));
    }

    #[test]
    fn the_lock_ends_by_itself_with_a_fresh_set_of_tries() {
        let policy = PayPasswordPolicy::DEFAULT;
        let guard = PayPasswordGuard::restore(5, Some(at(100)));
        assert_eq!(guard.check_may_try(at(100)), Ok(()));
        assert_eq!(guard.tries_left(policy, at(100)), 5);
        let (guard, answer) = guard.after_attempt(PasswordVerdict::Incorrect, policy, at(101));
        assert_eq!((answer, guard.failures()), (Err(PayPasswordError::PayPasswordIncorrect), 1));
    }

    #[test]
    fn a_right_password_clears_the_failures() {
        let guard = PayPasswordGuard::restore(4, None);
        let (guard, answer) = guard.after_attempt(PasswordVerdict::Correct, PayPasswordPolicy::DEFAULT, at(1));
        assert_eq!((answer, guard), (Ok(()), PayPasswordGuard::default()));
    }

    #[test]
    fn a_lock_policy_outside_the_limits_is_refused() {
        assert_eq!(PayPasswordPolicy::new(0, 3600), Err(PayPasswordError::PayPasswordPolicyInvalid));
        assert_eq!(PayPasswordPolicy::new(5, 59), Err(PayPasswordError::PayPasswordPolicyInvalid));
        assert_eq!(PayPasswordPolicy::DEFAULT.failures_max(), 5);
    }
}
