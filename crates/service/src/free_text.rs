//! Free text inside the JSON documents records keep (a transfer's or an account's metadata, a request
//! held for a second person's approval, the audit log's copy of a request): the core's one masking of
//! card and certificate numbers ([`mask_sensitive_numbers`]) applied to every string and every key in
//! them, at any depth.

use sanhu_core::party::mask::mask_sensitive_numbers;
use serde_json::Value;

/// `value` with every card and certificate number in its strings and keys masked. Numbers, booleans
/// and nulls are kept: an amount or a time in milliseconds is not a card number, and a card number
/// sent as a JSON number has lost its leading zeros anyway. `keep` names the fields whose string
/// values are identifiers to keep as they are (an order number the request names).
pub fn mask_json(value: &Value, keep: &dyn Fn(&str) -> bool) -> Value {
    match value {
        Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(name, value)| {
                    let value = match value {
                        Value::String(_) if keep(name) => value.clone(),
                        _ => mask_json(value, keep),
                    };
                    (mask_sensitive_numbers(name), value)
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(|item| mask_json(item, keep)).collect()),
        Value::String(text) => Value::String(mask_sensitive_numbers(text)),
        Value::Number(_) | Value::Bool(_) | Value::Null => value.clone(),
    }
}

/// [`mask_json`] of every string.
pub fn mask_all(value: &Value) -> Value {
    mask_json(value, &|_| false)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn numbers_in_strings_and_keys_are_masked_at_any_depth_and_the_rest_is_kept() {
        let metadata = json!({
            "note": "card 4111 1111 1111 1111",
            "payer": {"id_card": "110101199003071233", "phone": "13812345678"},
            "lines": ["91350100M000100Y43", 150, true, null],
            "6222020000000000018": "as a key",
            "paid_at_ms": 1718000135792u64,
            "order": "20260131123456789",
        });
        assert_eq!(
            mask_all(&metadata),
            json!({
                "note": "card 411111******1111",
                "payer": {"id_card": "110***********1233", "phone": "13812345678"},
                "lines": ["913***********0Y43", 150, true, null],
                "622202*********0018": "as a key",
                "paid_at_ms": 1718000135792u64,
                "order": "20260131123456789",
            })
        );
    }

    #[test]
    fn the_fields_named_to_keep_keep_their_strings() {
        let body = json!({"freeze_number": "4111111111111111", "reason": "card 4111111111111111"});
        let masked = mask_json(&body, &|name| name.ends_with("_number"));
        assert_eq!(masked, json!({"freeze_number": "4111111111111111", "reason": "card 411111******1111"}));
    }
}
