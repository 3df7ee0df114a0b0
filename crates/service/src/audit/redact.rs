//! What the audit log may keep of a request: its JSON with every secret taken out. The lists below are
//! the whole rule, kept explicit so that a reviewer can read what is redacted and a test can check it.
//!
//! A field is secret when its name is in [`SECRET_FIELDS`] or contains one of [`SECRET_FIELD_PARTS`]
//! (names compared without regard to ASCII case); its value, whatever its type (a string, a number,
//! an object), is replaced by [`REDACTED`], so the event still shows that the field was given. And
//! since a card or certificate number may arrive in a field with another name (a reason, a reference,
//! metadata), every string and key is also masked by the rule every free-text field is masked by
//! (`sanhu_core::party::mask::mask_sensitive_numbers`: a card keeps its first 6 and last 4 digits, an
//! ID card number or a credit code its first 3 and last 4 characters), and a bare JSON number that
//! is a card number becomes its masked form.

use sanhu_core::party::check_digit::luhn_valid;
use sanhu_core::party::mask::{mask_card_number, mask_sensitive_numbers};
use serde_json::Value;

/// What a secret's value becomes.
pub const REDACTED: &str = "[redacted]";

/// Fields whose values are secrets, by name.
pub const SECRET_FIELDS: &[&str] = &[
    // Passwords and PINs.
    "password",
    "pay_password",
    "current_pay_password",
    "new_pay_password",
    "old_pay_password",
    "pin",
    // Cards: the number, and the security data sanhu refuses anyway (it must not be kept even then).
    "card_number",
    "pan",
    "cvv",
    "cvv2",
    "cvc",
    "cvn",
    "expiry",
    "track_data",
    // Codes that prove or redeem something: one-time codes, redemption and activation codes. The
    // ledger's business code is called `code` too, and is redacted with them: the transfer keeps it.
    "code",
    "old_code",
    "new_code",
    "otp",
    "verification_code",
    "sms_code",
    "redemption_code",
    "codes_csv",
    "activation_code",
    // Certificate numbers: a person's ID card or passport, a company's unified social credit code.
    "certificate_number",
    "legal_person_certificate_number",
    "credit_code",
    "id_number",
    // Keys and tokens.
    "private_key",
    "secret",
    "api_key",
    "access_token",
    "refresh_token",
];

/// Parts of names that make a field secret wherever they appear, so that a field added later
/// (`operator_pay_password`, `signing_private_key`, `payee_card_number`) needs no edit here.
pub const SECRET_FIELD_PARTS: &[&str] =
    &["password", "secret", "private_key", "card_number", "certificate_number", "cvv"];

/// Shortest and longest card number (ISO/IEC 7812), in digits.
const CARD_DIGITS_MIN: usize = 13;
const CARD_DIGITS_MAX: usize = 19;

/// Whether a field of this name holds a secret.
pub fn is_secret_field(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    SECRET_FIELDS.contains(&name.as_str()) || SECRET_FIELD_PARTS.iter().any(|part| name.contains(part))
}

/// `value` with every secret field's value replaced and every card or certificate number in a string
/// masked, at any depth.
pub fn redact(value: &Value) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| {
                    let value = if is_secret_field(name) { Value::String(REDACTED.to_owned()) } else { redact(value) };
                    (mask_sensitive_numbers(name), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::String(text) => Value::String(mask_sensitive_numbers(text)),
        // A bare number of card length is a card number sent as a number.
        Value::Number(number) => match number.as_u64().map(|n| n.to_string()) {
            Some(digits) if is_card_number(&digits) => Value::String(mask_card_number(&digits)),
            _ => value.clone(),
        },
        Value::Bool(_) | Value::Null => value.clone(),
    }
}

fn is_card_number(digits: &str) -> bool {
    (CARD_DIGITS_MIN..=CARD_DIGITS_MAX).contains(&digits.len()) && luhn_valid(digits)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// Valid test card numbers (Luhn), as payment schemes publish them.
    const VISA: &str = "4111111111111111";
    const UNIONPAY: &str = "6222020000000000018";

    #[test]
    fn every_listed_field_is_secret_whatever_its_case() {
        for name in SECRET_FIELDS {
            assert!(is_secret_field(name), "{name}");
            assert!(is_secret_field(&name.to_ascii_uppercase()), "{name}");
        }
        for name in ["operator_pay_password", "signing_private_key", "payee_card_number", "client_secret", "cvv_2"] {
            assert!(is_secret_field(name), "{name}");
        }
        for name in ["reason", "amount", "member_id", "phone", "holder", "status", "currency", "reference"] {
            assert!(!is_secret_field(name), "{name}");
        }
    }

    #[test]
    fn secret_values_are_replaced_at_any_depth_and_the_rest_is_kept() {
        let request = json!({
            "pay_password": "135790",
            "reason": "customer asked",
            "card_number": UNIONPAY,
            "cvv": 123,
            "expiry": {"month": 12, "year": 2030},
            "company": {"name": "Acme", "credit_code": "91350100M000100Y43"},
            "admin": {"certificate_number": "110101199003071233", "phone": "13812345678"},
            "transfers": [{"amount": 100, "code": "p2p"}],
            "Old_Code": "123456",
        });
        let redacted = redact(&request);
        assert_eq!(
            redacted,
            json!({
                "pay_password": REDACTED,
                "reason": "customer asked",
                "card_number": REDACTED,
                "cvv": REDACTED,
                "expiry": REDACTED,
                "company": {"name": "Acme", "credit_code": REDACTED},
                "admin": {"certificate_number": REDACTED, "phone": "13812345678"},
                "transfers": [{"amount": 100, "code": REDACTED}],
                "Old_Code": REDACTED,
            })
        );
        let text = redacted.to_string();
        for secret in ["135790", UNIONPAY, "123", "91350100M000100Y43", "110101199003071233", "123456"] {
            assert!(!text.contains(&format!("\"{secret}\"")) && !text.contains(&format!(":{secret}")), "{secret}");
        }
    }

    #[test]
    fn card_numbers_are_masked_wherever_they_appear() {
        let request = json!({
            "reference": format!("refund to {VISA} today"),
            "metadata": {"note": "card 6222 0200 0000 0000 018", "other": "4111-1111-1111-1111"},
            "amount": 4111111111111111u64,
        });
        let redacted = redact(&request);
        assert_eq!(redacted["reference"], "refund to 411111******1111 today");
        assert_eq!(redacted["metadata"]["note"], "card 622202*********0018");
        assert_eq!(redacted["metadata"]["other"], "411111******1111");
        assert_eq!(redacted["amount"], "411111******1111");
        let text = redacted.to_string();
        assert!(!text.contains(VISA) && !text.contains(UNIONPAY), "{text}");
    }

    #[test]
    fn certificate_numbers_in_free_text_are_masked() {
        let request = json!({"reason": "ID 110101199003071233 and company 91350100M000100Y43 reported"});
        assert_eq!(redact(&request)["reason"], "ID 110***********1233 and company 913***********0Y43 reported");
    }

    #[test]
    fn digits_that_are_not_card_numbers_are_kept() {
        // An order number that fails the Luhn check, a phone number, an amount, a short run.
        for text in ["order 20260131123456789", "13812345678", "10000", "4111111111111112", "pay 12 and 34"] {
            assert_eq!(mask_sensitive_numbers(text), text);
        }
        assert_eq!(redact(&json!({"amount": 150})), json!({"amount": 150}));
        // Digits joined by two separators are two runs.
        assert_eq!(mask_sensitive_numbers("4111111  111111111"), "4111111  111111111");
    }
}
