//! One-time verification codes (验证码): sanhu issues and checks them, and hands each to the platform to
//! deliver by SMS or email. A code proves that whoever types it received the message, so it is short
//! lived, allows few attempts and works once; and sanhu never keeps the code itself, only a keyed
//! hash of it, so that a leaked table does not hand out valid codes.
//!
//! Pure: the clock, the random number and the keyed hash (HMAC with a server-side key, say) are
//! arguments. [`OneTimeCode::hash_input`] says exactly what is hashed.

use super::identity::{Email, PhoneNumber};
use crate::Timestamp;
use std::fmt;

rejection_codes! {
    /// Why a code was not accepted or not issued.
    pub enum OneTimeCodeError {
        CodeIncorrect => "code_incorrect", 403, "the code is not the one sent",
        CodeExpired => "code_expired", 409, "the code has expired; ask for a new one",
        CodeUsed => "code_used", 409, "the code was already used; ask for a new one",
        CodeAttemptsExhausted => "code_attempts_exhausted", 403, "too many wrong codes; ask for a new one",
        CodeSentTooRecently => "code_sent_too_recently", 409, "a code was sent moments ago; wait before asking again",
        CodePolicyInvalid => "code_policy_invalid", 422,
            "codes are 4 to 8 digits, live 1 to 30 minutes, allow 1 to 10 attempts, resend within their lifetime",
    }
}

/// What a code is for. Part of what is hashed, so a code sent for one purpose never passes for
/// another.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CodePurpose {
    Register,
    SignIn,
    /// Proving the phone a member is moving away from.
    PhoneChangeOld,
    /// Proving the phone a member is moving to.
    PhoneChangeNew,
    PayPasswordReset,
    /// Proving a phone or email for a real-name authentication of that type.
    Authentication,
    /// Paying at a counter by phone: the payer is the member whose phone received the code.
    Payment,
}

impl CodePurpose {
    pub fn as_str(self) -> &'static str {
        match self {
            CodePurpose::Register => "register",
            CodePurpose::SignIn => "sign_in",
            CodePurpose::PhoneChangeOld => "phone_change_old",
            CodePurpose::PhoneChangeNew => "phone_change_new",
            CodePurpose::PayPasswordReset => "pay_password_reset",
            CodePurpose::Authentication => "authentication",
            CodePurpose::Payment => "payment",
        }
    }
}

/// Where a code is delivered.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum CodeTarget {
    Phone(PhoneNumber),
    Email(Email),
}

impl CodeTarget {
    /// The target as hashed and as stored for lookup: kind and canonical address.
    pub fn key(&self) -> String {
        match self {
            CodeTarget::Phone(p) => format!("phone:{}", p.as_str()),
            CodeTarget::Email(e) => format!("email:{}", e.as_str().to_lowercase()),
        }
    }
}

/// How codes are made and checked: configured per platform.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct OneTimeCodePolicy {
    digits: u8,
    lifetime_s: u32,
    attempts_max: u8,
    resend_interval_s: u32,
}

impl OneTimeCodePolicy {
    /// Six digits, five minutes, five attempts, one resend a minute: what SMS codes in China usually
    /// are. With five attempts at a million codes, a guesser succeeds once in 200,000 codes.
    pub const DEFAULT: OneTimeCodePolicy =
        OneTimeCodePolicy { digits: 6, lifetime_s: 300, attempts_max: 5, resend_interval_s: 60 };

    pub fn new(
        digits: u8,
        lifetime_s: u32,
        attempts_max: u8,
        resend_interval_s: u32,
    ) -> Result<Self, OneTimeCodeError> {
        let ok = (4..=8).contains(&digits)
            && (60..=1800).contains(&lifetime_s)
            && (1..=10).contains(&attempts_max)
            && resend_interval_s <= lifetime_s;
        ok.then_some(OneTimeCodePolicy { digits, lifetime_s, attempts_max, resend_interval_s })
            .ok_or(OneTimeCodeError::CodePolicyInvalid)
    }

    pub fn digits(self) -> u8 {
        self.digits
    }

    pub fn lifetime_s(self) -> u32 {
        self.lifetime_s
    }

    pub fn attempts_max(self) -> u8 {
        self.attempts_max
    }

    pub fn resend_interval_s(self) -> u32 {
        self.resend_interval_s
    }
}

/// A keyed hash of a code, as stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct CodeDigest(pub [u8; 32]);

impl CodeDigest {
    /// Compares without stopping at the first difference, so the time taken says nothing about how
    /// much of a guess was right.
    fn matches(&self, other: &CodeDigest) -> bool {
        self.0.iter().zip(other.0.iter()).fold(0u8, |acc, (a, b)| acc | (a ^ b)) == 0
    }
}

/// The code itself, to hand to the platform for delivery and then forget. Its `Debug` hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeText(String);

impl CodeText {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for CodeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CodeText(..)")
    }
}

/// Proof that a code for `purpose` sent to `target` was typed correctly. Only
/// [`OneTimeCode::check`] builds one.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct VerifiedCode {
    purpose: CodePurpose,
    target: CodeTarget,
}

impl VerifiedCode {
    pub fn purpose(&self) -> CodePurpose {
        self.purpose
    }

    pub fn target(&self) -> &CodeTarget {
        &self.target
    }
}

/// An issued code, as stored: its digest, never the code.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OneTimeCode {
    purpose: CodePurpose,
    target: CodeTarget,
    digest: CodeDigest,
    issued_at: Timestamp,
    expires_at: Timestamp,
    attempts_left: u8,
    used: bool,
}

impl OneTimeCode {
    /// The bytes to hash for a code: a version tag, the purpose, the target and the code, one per
    /// line, so that the same digits sent to two phones, or for two purposes, hash differently.
    pub fn hash_input(purpose: CodePurpose, target: &CodeTarget, code: &str) -> Vec<u8> {
        format!("sanhu-otp-v1\n{}\n{}\n{code}", purpose.as_str(), target.key()).into_bytes()
    }

    /// Issues a code of `policy.digits()` digits from `random` (any uniformly random u64: taking it
    /// modulo 10^8 or less is biased by under 10^-10), valid for the policy's lifetime from `now`.
    pub fn issue(
        policy: OneTimeCodePolicy,
        purpose: CodePurpose,
        target: CodeTarget,
        random: u64,
        now: Timestamp,
        keyed_hash: impl FnOnce(&[u8]) -> CodeDigest,
    ) -> (OneTimeCode, CodeText) {
        let digits = policy.digits as usize;
        let code = format!("{:0digits$}", random % 10u64.pow(digits as u32));
        let digest = keyed_hash(&Self::hash_input(purpose, &target, &code));
        let expires_at = now.add_seconds(policy.lifetime_s).unwrap_or(Timestamp(i64::MAX));
        let record = OneTimeCode {
            purpose,
            target,
            digest,
            issued_at: now,
            expires_at,
            attempts_left: policy.attempts_max,
            used: false,
        };
        (record, CodeText(code))
    }

    /// A code as stored.
    pub fn restore(
        purpose: CodePurpose,
        target: CodeTarget,
        digest: CodeDigest,
        issued_at: Timestamp,
        expires_at: Timestamp,
        attempts_left: u8,
        used: bool,
    ) -> OneTimeCode {
        OneTimeCode { purpose, target, digest, issued_at, expires_at, attempts_left, used }
    }

    pub fn purpose(&self) -> CodePurpose {
        self.purpose
    }

    pub fn target(&self) -> &CodeTarget {
        &self.target
    }

    pub fn digest(&self) -> CodeDigest {
        self.digest
    }

    pub fn issued_at(&self) -> Timestamp {
        self.issued_at
    }

    pub fn expires_at(&self) -> Timestamp {
        self.expires_at
    }

    pub fn attempts_left(&self) -> u8 {
        self.attempts_left
    }

    pub fn used(&self) -> bool {
        self.used
    }

    /// Checks a submitted code at `now`. Returns the code as it must now be stored (an attempt used,
    /// or the code spent) together with the verdict: store the first even when the second is an
    /// error, or wrong guesses would cost nothing.
    pub fn check(
        self,
        submitted: &str,
        now: Timestamp,
        keyed_hash: impl FnOnce(&[u8]) -> CodeDigest,
    ) -> (OneTimeCode, Result<VerifiedCode, OneTimeCodeError>) {
        if self.used {
            return (self, Err(OneTimeCodeError::CodeUsed));
        }
        if now >= self.expires_at {
            return (self, Err(OneTimeCodeError::CodeExpired));
        }
        if self.attempts_left == 0 {
            return (self, Err(OneTimeCodeError::CodeAttemptsExhausted));
        }
        let submitted = submitted.trim();
        // Anything that is not 4 to 8 digits cannot be a code; it costs an attempt all the same.
        let plausible = (4..=8).contains(&submitted.len()) && submitted.bytes().all(|b| b.is_ascii_digit());
        let right =
            plausible && keyed_hash(&Self::hash_input(self.purpose, &self.target, submitted)).matches(&self.digest);
        if right {
            let verified = VerifiedCode { purpose: self.purpose, target: self.target.clone() };
            return (OneTimeCode { used: true, ..self }, Ok(verified));
        }
        let attempts_left = self.attempts_left - 1;
        (OneTimeCode { attempts_left, ..self }, Err(OneTimeCodeError::CodeIncorrect))
    }

    /// Whether a new code for the same purpose and target may be sent at `now`, given the last one
    /// issued: not within the resend interval, which keeps a caller from flooding a phone with SMS
    /// (and the platform with their cost).
    pub fn check_may_reissue(
        last: Option<&OneTimeCode>,
        policy: OneTimeCodePolicy,
        now: Timestamp,
    ) -> Result<(), OneTimeCodeError> {
        let Some(last) = last else { return Ok(()) };
        let next_allowed = last.issued_at.add_seconds(policy.resend_interval_s).unwrap_or(Timestamp(i64::MAX));
        if now < next_allowed {
            return Err(OneTimeCodeError::CodeSentTooRecently);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::party::tests::at;

    /// A stand-in keyed hash for tests: a fixed key folded with the input. Not a real MAC.
    fn keyed_hash(input: &[u8]) -> CodeDigest {
        let mut out = [0x5Au8; 32];
        for (i, b) in input.iter().enumerate() {
            out[i % 32] = out[i % 32].wrapping_mul(31).wrapping_add(*b);
        }
        CodeDigest(out)
    }

    fn phone() -> CodeTarget {
        CodeTarget::Phone(PhoneNumber::parse("13812345678").unwrap())
    }

    fn issue(random: u64) -> (OneTimeCode, CodeText) {
        OneTimeCode::issue(OneTimeCodePolicy::DEFAULT, CodePurpose::SignIn, phone(), random, at(0), keyed_hash)
    }

    #[test]
    fn a_code_has_the_policys_digits_with_leading_zeros() {
        let (_, code) = issue(42);
        assert_eq!(code.as_str(), "000042");
        let (_, code) = issue(987_654_321);
        assert_eq!(code.as_str(), "654321");
    }

    #[test]
    fn only_a_keyed_hash_of_the_code_is_kept() {
        let (record, code) = issue(907_153);
        let expected = keyed_hash(&OneTimeCode::hash_input(CodePurpose::SignIn, &phone(), code.as_str()));
        assert_eq!(record.digest(), expected);
        assert!(!format!("{record:?}").contains("907153"));
        assert_eq!(format!("{code:?}"), "CodeText(..)");
    }

    #[test]
    fn the_hash_input_binds_the_code_to_its_purpose_and_target() {
        let other = CodeTarget::Phone(PhoneNumber::parse("13912345678").unwrap());
        let a = OneTimeCode::hash_input(CodePurpose::SignIn, &phone(), "123456");
        assert_ne!(a, OneTimeCode::hash_input(CodePurpose::Register, &phone(), "123456"));
        assert_ne!(a, OneTimeCode::hash_input(CodePurpose::SignIn, &other, "123456"));
        assert_eq!(a, b"sanhu-otp-v1\nsign_in\nphone:+8613812345678\n123456".to_vec());
    }

    #[test]
    fn the_right_code_in_time_is_accepted_once() {
        let (record, code) = issue(123_456);
        let (record, verdict) = record.check(code.as_str(), at(299), keyed_hash);
        let verified = verdict.unwrap();
        assert_eq!((verified.purpose(), verified.target()), (CodePurpose::SignIn, &phone()));
        assert!(record.used());
        let (_, again) = record.check(code.as_str(), at(300), keyed_hash);
        assert_eq!(again, Err(OneTimeCodeError::CodeUsed));
    }

    #[test]
    fn a_code_expires_at_the_end_of_its_lifetime() {
        let (record, code) = issue(123_456);
        assert_eq!(record.expires_at(), at(300));
        let (_, verdict) = record.check(code.as_str(), at(300), keyed_hash);
        assert_eq!(verdict, Err(OneTimeCodeError::CodeExpired));
    }

    #[test]
    fn each_wrong_code_costs_an_attempt_and_then_even_the_right_one_is_refused() {
        let (mut record, code) = issue(123_456);
        for left in (0..5).rev() {
            let (next, verdict) = record.check("000000", at(1), keyed_hash);
            assert_eq!(verdict, Err(OneTimeCodeError::CodeIncorrect));
            assert_eq!(next.attempts_left(), left);
            record = next;
        }
        let (_, verdict) = record.check(code.as_str(), at(2), keyed_hash);
        assert_eq!(verdict, Err(OneTimeCodeError::CodeAttemptsExhausted));
    }

    #[test]
    fn input_that_cannot_be_a_code_costs_an_attempt_too() {
        let (record, _) = issue(123_456);
        let (record, verdict) = record.check("abc", at(1), keyed_hash);
        assert_eq!((verdict, record.attempts_left()), (Err(OneTimeCodeError::CodeIncorrect), 4));
    }

    #[test]
    fn a_new_code_waits_for_the_resend_interval() {
        let (record, _) = issue(1);
        let policy = OneTimeCodePolicy::DEFAULT;
        assert_eq!(
            OneTimeCode::check_may_reissue(Some(&record), policy, at(59)),
            Err(OneTimeCodeError::CodeSentTooRecently)
        );
        assert_eq!(OneTimeCode::check_may_reissue(Some(&record), policy, at(60)), Ok(()));
        assert_eq!(OneTimeCode::check_may_reissue(None, policy, at(0)), Ok(()));
    }

    #[test]
    fn a_policy_outside_the_limits_is_refused() {
        assert!(OneTimeCodePolicy::new(6, 300, 5, 60).is_ok());
        for (digits, lifetime, attempts, resend) in
            [(3, 300, 5, 60), (9, 300, 5, 60), (6, 30, 5, 10), (6, 300, 0, 60), (6, 300, 5, 301)]
        {
            assert_eq!(
                OneTimeCodePolicy::new(digits, lifetime, attempts, resend),
                Err(OneTimeCodeError::CodePolicyInvalid),
                "{digits} {lifetime} {attempts} {resend}"
            );
        }
    }

    #[test]
    fn email_targets_are_keyed_without_case() {
        let a = CodeTarget::Email(Email::parse("Zhang@Example.com").unwrap());
        assert_eq!(a.key(), "email:zhang@example.com");
    }
}
