//! Pay codes (付款码): a member's short-lived, one-time token that a store's terminal reads from the
//! member's app (rendered as a QR or bar code) and sends with the payment instead of the payer's ids.
//!
//! The rules here: a code is 18 decimal digits (what terminals scan), made from the operating
//! system's randomness; it lives [`PAY_CODE_TTL_S_DEFAULT`] seconds unless the platform configures
//! another life within [`PAY_CODE_TTL_S_MIN`]..=[`PAY_CODE_TTL_S_MAX`]; it pays once: a code used by
//! one order is refused to every other (`pay_code_used`), and after its life to all
//! (`pay_code_expired`). The service keeps only a keyed hash of the code, made from
//! [`PayCodeText::hash_input`].

use std::fmt;

use crate::Timestamp;

/// How many digits a pay code has.
pub const PAY_CODE_DIGITS: usize = 18;
/// A pay code's life unless configured.
pub const PAY_CODE_TTL_S_DEFAULT: u32 = 60;
/// The shortest life a platform may give its pay codes: the time to show one and have it read.
pub const PAY_CODE_TTL_S_MIN: u32 = 15;
/// The longest: a pay code is a bearer token, so it lives minutes at most.
pub const PAY_CODE_TTL_S_MAX: u32 = 600;

rejection_codes! {
    /// Why a pay code was refused.
    pub enum PayCodeError {
        TtlInvalid => "pay_code_ttl_invalid", 422, "a pay code lives 15 to 600 seconds",
        Expired => "pay_code_expired", 409, "the pay code has expired: the member's app shows a new one",
        Used => "pay_code_used", 409, "the pay code has paid an order already: a pay code pays once",
    }
}

/// A pay code's digits. Its `Debug` hides them.
#[derive(Clone, PartialEq, Eq)]
pub struct PayCodeText(String);

impl PayCodeText {
    /// A new code from 16 random bytes: 18 digits of their value (the bias of the remainder is below
    /// one in 10^20).
    pub fn from_random(random: [u8; 16]) -> PayCodeText {
        let value = u128::from_le_bytes(random) % 10u128.pow(PAY_CODE_DIGITS as u32);
        PayCodeText(format!("{value:0width$}", width = PAY_CODE_DIGITS))
    }

    /// A submitted code: exactly 18 ASCII digits.
    pub fn parse(text: &str) -> Option<PayCodeText> {
        (text.len() == PAY_CODE_DIGITS && text.bytes().all(|b| b.is_ascii_digit()))
            .then(|| PayCodeText(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What the keyed hash a code is kept under is made of.
    pub fn hash_input(&self) -> Vec<u8> {
        format!("pay_code\n{}", self.0).into_bytes()
    }
}

impl fmt::Debug for PayCodeText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PayCodeText(…)")
    }
}

/// A platform's pay code life, in seconds.
pub fn check_ttl(ttl_s: u32) -> Result<u32, PayCodeError> {
    match ttl_s {
        PAY_CODE_TTL_S_MIN..=PAY_CODE_TTL_S_MAX => Ok(ttl_s),
        _ => Err(PayCodeError::TtlInvalid),
    }
}

/// Whether a code that expires at `expires_at` and was used by `used_by` (an order's record id) may
/// pay the order `order` at `now`. The order that used it may be asked again (a retry answers the
/// payment as it is); any other is refused, as is every order once the code has expired.
pub fn check_use(
    expires_at: Timestamp,
    used_by: Option<&str>,
    order: &str,
    now: Timestamp,
) -> Result<(), PayCodeError> {
    match used_by {
        Some(used) if used == order => Ok(()),
        Some(_) => Err(PayCodeError::Used),
        None if now >= expires_at => Err(PayCodeError::Expired),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_code_is_eighteen_digits_and_only_those_parse() {
        for random in [[0u8; 16], [255u8; 16], [7u8; 16]] {
            let code = PayCodeText::from_random(random);
            assert_eq!(code.as_str().len(), PAY_CODE_DIGITS);
            assert_eq!(PayCodeText::parse(code.as_str()), Some(code.clone()));
            assert!(!format!("{code:?}").contains(code.as_str()));
        }
        assert_eq!(PayCodeText::from_random([0u8; 16]).as_str(), "000000000000000000");
        for bad in [
            "",
            "12345678901234567",
            "1234567890123456789",
            "12345678901234567a",
            "１２３４５６７８９０１２３４５６７８",
        ] {
            assert_eq!(PayCodeText::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_code_pays_one_order_until_it_expires() {
        let (issued, expires) = (Timestamp::from_nanos(0), Timestamp::from_nanos(60_000_000_000));
        assert_eq!(check_use(expires, None, "A", issued), Ok(()));
        assert_eq!(check_use(expires, None, "A", expires), Err(PayCodeError::Expired));
        assert_eq!(check_use(expires, Some("A"), "A", issued), Ok(()));
        assert_eq!(check_use(expires, Some("A"), "A", expires), Ok(()), "the order that used it, asked again");
        assert_eq!(check_use(expires, Some("A"), "B", issued), Err(PayCodeError::Used));
        assert_eq!(check_ttl(60), Ok(60));
        assert_eq!(check_ttl(14), Err(PayCodeError::TtlInvalid));
        assert_eq!(check_ttl(601), Err(PayCodeError::TtlInvalid));
    }
}
