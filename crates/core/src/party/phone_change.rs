//! Changing a member's phone (更换手机号). Both numbers must be verified: the old one, so that whoever
//! took over a session cannot move the account to their own phone; the new one, so that the member
//! does not lock itself out with a mistyped number. Each is proved by a one-time code sent to it, in
//! either order, within a limited time.

use super::identity::PhoneNumber;
use super::one_time_code::{CodePurpose, CodeTarget, VerifiedCode};
use crate::id::MemberId;
use crate::Timestamp;

rejection_codes! {
    /// Why a phone change step was refused.
    pub enum PhoneChangeError {
        PhoneUnchanged => "phone_unchanged", 409, "the new phone number is the current one",
        PhoneChangeExpired => "phone_change_expired", 409, "the phone change took too long; start again",
        PhoneChangeUnverified => "phone_change_unverified", 409,
            "both the old and the new phone number must be verified first",
        /// The code proves something else: another purpose, or another number.
        PhoneChangeCodeMismatch => "phone_change_code_mismatch", 403, "the verified code is not for this phone change",
    }
}

/// How long a started change waits for both verifications: long enough for two SMS round trips.
pub const PHONE_CHANGE_LIFETIME_S: u32 = 15 * 60;

/// A phone change in progress.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PhoneChange {
    member: MemberId,
    old: PhoneNumber,
    new: PhoneNumber,
    old_verified: bool,
    new_verified: bool,
    expires_at: Timestamp,
}

/// A completed change: the member's phone identity goes from `old` to `new`. The caller checks that
/// `new` is free (`identity_taken`) as it writes; and where the customer is known only by this phone
/// (no certificate yet), the customer's identification changes with it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PhoneChanged {
    pub member: MemberId,
    pub old: PhoneNumber,
    pub new: PhoneNumber,
}

impl PhoneChange {
    pub fn start(
        member: MemberId,
        old: PhoneNumber,
        new: PhoneNumber,
        now: Timestamp,
    ) -> Result<Self, PhoneChangeError> {
        if old == new {
            return Err(PhoneChangeError::PhoneUnchanged);
        }
        let expires_at = now.add_seconds(PHONE_CHANGE_LIFETIME_S).unwrap_or(Timestamp(i64::MAX));
        Ok(PhoneChange { member, old, new, old_verified: false, new_verified: false, expires_at })
    }

    pub fn restore(
        member: MemberId,
        old: PhoneNumber,
        new: PhoneNumber,
        old_verified: bool,
        new_verified: bool,
        expires_at: Timestamp,
    ) -> PhoneChange {
        PhoneChange { member, old, new, old_verified, new_verified, expires_at }
    }

    pub fn member(&self) -> MemberId {
        self.member
    }

    pub fn old(&self) -> &PhoneNumber {
        &self.old
    }

    pub fn new_phone(&self) -> &PhoneNumber {
        &self.new
    }

    pub fn old_verified(&self) -> bool {
        self.old_verified
    }

    pub fn new_verified(&self) -> bool {
        self.new_verified
    }

    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    /// Records a verified code: for the old number with purpose `phone_change_old`, for the new one
    /// with `phone_change_new`. A code for anything else proves nothing here.
    pub fn record(self, code: &VerifiedCode, now: Timestamp) -> Result<PhoneChange, PhoneChangeError> {
        if now >= self.expires_at {
            return Err(PhoneChangeError::PhoneChangeExpired);
        }
        match (code.purpose(), code.target()) {
            (CodePurpose::PhoneChangeOld, CodeTarget::Phone(p)) if *p == self.old => {
                Ok(PhoneChange { old_verified: true, ..self })
            }
            (CodePurpose::PhoneChangeNew, CodeTarget::Phone(p)) if *p == self.new => {
                Ok(PhoneChange { new_verified: true, ..self })
            }
            _ => Err(PhoneChangeError::PhoneChangeCodeMismatch),
        }
    }

    /// Completes the change once both numbers are verified, before it expires.
    pub fn complete(self, now: Timestamp) -> Result<PhoneChanged, PhoneChangeError> {
        if now >= self.expires_at {
            return Err(PhoneChangeError::PhoneChangeExpired);
        }
        if !(self.old_verified && self.new_verified) {
            return Err(PhoneChangeError::PhoneChangeUnverified);
        }
        Ok(PhoneChanged { member: self.member, old: self.old, new: self.new })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::party::one_time_code::{CodeDigest, OneTimeCode, OneTimeCodePolicy};
    use crate::party::tests::{at, mem};

    fn old() -> PhoneNumber {
        PhoneNumber::parse("13812345678").unwrap()
    }

    fn new() -> PhoneNumber {
        PhoneNumber::parse("13987654321").unwrap()
    }

    fn hash(input: &[u8]) -> CodeDigest {
        let mut out = [0u8; 32];
        for (i, b) in input.iter().enumerate() {
            out[i % 32] ^= b.rotate_left(i as u32 % 8);
        }
        CodeDigest(out)
    }

    /// A code for `purpose` sent to `phone`, issued and typed correctly.
    fn verified(purpose: CodePurpose, phone: PhoneNumber) -> VerifiedCode {
        let policy = OneTimeCodePolicy::DEFAULT;
        let (record, code) = OneTimeCode::issue(policy, purpose, CodeTarget::Phone(phone), 777_777, at(0), hash);
        record.check(code.as_str(), at(1), hash).1.unwrap()
    }

    fn started() -> PhoneChange {
        PhoneChange::start(mem(1), old(), new(), at(0)).unwrap()
    }

    #[test]
    fn a_change_to_the_same_number_is_refused() {
        assert_eq!(PhoneChange::start(mem(1), old(), old(), at(0)), Err(PhoneChangeError::PhoneUnchanged));
    }

    #[test]
    fn the_change_completes_once_both_numbers_are_verified_in_either_order() {
        let change = started().record(&verified(CodePurpose::PhoneChangeNew, new()), at(10)).unwrap();
        let change = change.record(&verified(CodePurpose::PhoneChangeOld, old()), at(20)).unwrap();
        let done = change.complete(at(30)).unwrap();
        assert_eq!((done.member, done.old, done.new), (mem(1), old(), new()));
    }

    #[test]
    fn verifying_only_one_number_is_not_enough() {
        let only_old = started().record(&verified(CodePurpose::PhoneChangeOld, old()), at(10)).unwrap();
        assert!(only_old.old_verified() && !only_old.new_verified());
        assert_eq!(only_old.complete(at(20)), Err(PhoneChangeError::PhoneChangeUnverified));
        let only_new = started().record(&verified(CodePurpose::PhoneChangeNew, new()), at(10)).unwrap();
        assert_eq!(only_new.complete(at(20)), Err(PhoneChangeError::PhoneChangeUnverified));
    }

    #[test]
    fn a_code_for_the_wrong_number_or_purpose_proves_nothing() {
        let swapped = started().record(&verified(CodePurpose::PhoneChangeOld, new()), at(10));
        assert_eq!(swapped, Err(PhoneChangeError::PhoneChangeCodeMismatch));
        let sign_in = started().record(&verified(CodePurpose::SignIn, old()), at(10));
        assert_eq!(sign_in, Err(PhoneChangeError::PhoneChangeCodeMismatch));
    }

    #[test]
    fn a_change_left_too_long_expires() {
        let late = at(PHONE_CHANGE_LIFETIME_S as i64);
        assert_eq!(
            started().record(&verified(CodePurpose::PhoneChangeOld, old()), late),
            Err(PhoneChangeError::PhoneChangeExpired)
        );
        let both = PhoneChange::restore(mem(1), old(), new(), true, true, at(100));
        assert_eq!(both.complete(at(100)), Err(PhoneChangeError::PhoneChangeExpired));
    }
}
