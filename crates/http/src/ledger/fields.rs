//! Field values of ledger requests, parsed into the core's types; each rule has its own code.

use sanhu_core::ledger::{
    BalanceLimit, NormalSide, CODE_LEN_MAX, METADATA_LEN_MAX, PENDING_TIMEOUT_S_MAX, REFERENCE_LEN_MAX,
};
use sanhu_core::party::mask::mask_sensitive_numbers;
use sanhu_core::{Amount, Currency};
use sanhu_service::free_text::mask_all;
use serde_json::{Number, Value};

use crate::error::{code, ApiError};

/// An amount: a JSON integer of minor units, at least 1. Read as a `Number` so that a float or an
/// integer too large for i64 gets its own code instead of a generic type error.
pub fn amount(field: &str, number: &Number) -> Result<Amount, ApiError> {
    match number.as_i64() {
        Some(minor_units) => Amount::new(minor_units).ok_or_else(|| {
            ApiError::new(code::INVALID_AMOUNT, format!("{field} must be a positive number of minor units"))
        }),
        None => Err(ApiError::new(
            code::AMOUNT_OUT_OF_RANGE,
            format!("{field} must be an integer of minor units (no fraction), at most {}", i64::MAX),
        )),
    }
}

pub fn currency(text: &str) -> Result<Currency, ApiError> {
    Currency::parse(text).ok_or_else(|| {
        ApiError::new(code::UNKNOWN_CURRENCY, format!("{text:?} is not a supported upper-case ISO 4217 currency code"))
    })
}

pub fn normal_side(text: Option<&str>) -> Result<NormalSide, ApiError> {
    match text {
        None => Ok(NormalSide::Credit),
        Some(text) => NormalSide::parse(text)
            .ok_or_else(|| ApiError::new(code::INVALID_NORMAL_SIDE, "normal_side must be \"credit\" or \"debit\"")),
    }
}

/// Omitted: the side's default (`None`); null: unlimited; an integer >= 0: that overdraft.
pub fn overdraft_limit(value: Option<Option<&Number>>) -> Result<Option<BalanceLimit>, ApiError> {
    match value {
        None => Ok(None),
        Some(None) => Ok(Some(BalanceLimit::Unlimited)),
        Some(Some(number)) => match number.as_i64() {
            Some(overdraft) if overdraft >= 0 => Ok(Some(BalanceLimit::Floor(overdraft))),
            _ => Err(ApiError::new(
                code::INVALID_OVERDRAFT_LIMIT,
                "overdraft_limit must be null (unlimited) or an integer of minor units >= 0",
            )),
        },
    }
}

/// A business type code: 1 to `CODE_LEN_MAX` of `[a-z0-9_.]`; "" (the core's unset) when omitted.
pub fn business_code(value: Option<&str>) -> Result<String, ApiError> {
    let Some(text) = value else {
        return Ok(String::new());
    };
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.';
    if text.is_empty() || text.len() > CODE_LEN_MAX || !text.bytes().all(allowed) {
        return Err(ApiError::new(
            code::INVALID_CODE,
            format!("code must be 1 to {CODE_LEN_MAX} characters of [a-z0-9_.]"),
        ));
    }
    Ok(text.to_owned())
}

/// The caller's business reference: 1 to `REFERENCE_LEN_MAX` bytes of text without control
/// characters (it is shown on statements and searched for), kept with any card or certificate number
/// in it masked (`mask_sensitive_numbers`).
pub fn reference(value: Option<&str>) -> Result<Option<String>, ApiError> {
    let Some(text) = value else {
        return Ok(None);
    };
    if text.is_empty() || text.len() > REFERENCE_LEN_MAX || text.chars().any(char::is_control) {
        return Err(ApiError::new(
            code::INVALID_REFERENCE,
            format!("reference must be 1 to {REFERENCE_LEN_MAX} bytes of text without control characters"),
        ));
    }
    Ok(Some(mask_sensitive_numbers(text)))
}

/// Metadata: a JSON object, kept as its compact text (keys sorted), at most `METADATA_LEN_MAX`
/// bytes; "{}" when omitted or null. Card and certificate numbers in its strings and keys are masked
/// (`sanhu_service::free_text`).
pub fn metadata(value: Option<&Value>) -> Result<String, ApiError> {
    let Some(value) = value else {
        return Ok("{}".to_owned());
    };
    if !value.is_object() {
        return Err(ApiError::new(code::INVALID_METADATA, "metadata must be a JSON object"));
    }
    let text = mask_all(value).to_string();
    if text.len() > METADATA_LEN_MAX {
        return Err(ApiError::new(
            code::INVALID_METADATA,
            format!("metadata is {} bytes as compact JSON; the most is {METADATA_LEN_MAX}", text.len()),
        ));
    }
    Ok(text)
}

/// A hold's timeout in seconds, 0 (none) to `PENDING_TIMEOUT_S_MAX`; only holds take one.
pub fn timeout_s(value: Option<&Number>, is_hold: bool) -> Result<Option<u32>, ApiError> {
    let Some(number) = value else {
        return Ok(None);
    };
    if !is_hold {
        return Err(ApiError::new(code::INVALID_TIMEOUT, "timeout_s applies only to holds (pending transfers)"));
    }
    match number.as_u64() {
        Some(0) => Ok(None),
        Some(seconds) if seconds <= u64::from(PENDING_TIMEOUT_S_MAX) => Ok(Some(seconds as u32)),
        _ => Err(ApiError::new(
            code::INVALID_TIMEOUT,
            format!("timeout_s must be an integer of seconds from 0 (no expiry) to {PENDING_TIMEOUT_S_MAX}"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn number(json: &str) -> Number {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn amounts_are_positive_i64_integers() {
        assert_eq!(amount("amount", &number("1")).unwrap().get(), 1);
        assert_eq!(amount("amount", &number("9223372036854775807")).unwrap().get(), i64::MAX);
        for (json, expected) in [
            ("0", "invalid_amount"),
            ("-5", "invalid_amount"),
            ("9223372036854775808", "amount_out_of_range"),
            ("100000000000000000000000", "amount_out_of_range"),
            ("1.5", "amount_out_of_range"),
            ("1e3", "amount_out_of_range"),
        ] {
            assert_eq!(amount("amount", &number(json)).unwrap_err().code(), expected, "{json}");
        }
    }

    #[test]
    fn codes_references_and_metadata_have_limits() {
        assert_eq!(business_code(Some("pay.refund_1")).unwrap(), "pay.refund_1");
        assert!(business_code(Some("Pay")).is_err());
        assert!(business_code(Some(&"a".repeat(CODE_LEN_MAX + 1))).is_err());
        assert!(reference(Some("order\n1")).is_err());
        assert!(reference(Some(&"r".repeat(REFERENCE_LEN_MAX))).is_ok());
        assert_eq!(metadata(None).unwrap(), "{}");
        assert_eq!(metadata(Some(&serde_json::json!({"b": 1, "a": "x"}))).unwrap(), r#"{"a":"x","b":1}"#);
        assert!(metadata(Some(&serde_json::json!([1]))).is_err());
        let large = serde_json::json!({ "k": "v".repeat(METADATA_LEN_MAX) });
        assert_eq!(metadata(Some(&large)).unwrap_err().code(), "invalid_metadata");
    }

    #[test]
    fn card_and_certificate_numbers_in_references_and_metadata_are_masked() {
        assert_eq!(reference(Some("refund 4111111111111111")).unwrap().as_deref(), Some("refund 411111******1111"));
        assert_eq!(reference(Some("order-20260131123456789")).unwrap().as_deref(), Some("order-20260131123456789"));
        let given = serde_json::json!({"payer": "110101199003071233", "amount": 10000, "order": "20260131123456789"});
        assert_eq!(
            metadata(Some(&given)).unwrap(),
            r#"{"amount":10000,"order":"20260131123456789","payer":"110***********1233"}"#
        );
    }

    #[test]
    fn metadata_reads_back_as_it_was_stored() {
        // Found by the request_body fuzz target: a number of 20 digits was kept as one double and
        // answered as the next one when the stored text was read again.
        let body: Value = serde_json::from_str(r#"{"n":92233720386504775807,"m":1.7976931348623157e308}"#).unwrap();
        let stored = metadata(Some(&body)).unwrap();
        let read_back: Value = serde_json::from_str(&stored).unwrap();
        assert_eq!(metadata(Some(&read_back)).unwrap(), stored);
    }

    #[test]
    fn timeouts_apply_to_holds_within_the_maximum() {
        assert_eq!(timeout_s(Some(&number("60")), true).unwrap(), Some(60));
        assert_eq!(timeout_s(Some(&number("0")), true).unwrap(), None);
        assert!(timeout_s(Some(&number("60")), false).is_err());
        assert!(timeout_s(Some(&number("-1")), true).is_err());
        assert!(timeout_s(Some(&number(&(PENDING_TIMEOUT_S_MAX as u64 + 1).to_string())), true).is_err());
    }
}
