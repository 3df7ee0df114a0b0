//! Request bodies (crates/http/src/json.rs and the field parsers the handlers call: amounts, ids,
//! order numbers, platform accounts, a ledger batch whole).
//!
//! Input: a request body. Holds: nothing panics or overflows, however deep the nesting or however
//! often a key repeats; every refusal is a caller's mistake (4xx), never a 500; a JSON object read
//! and written back reads the same; an accepted batch holds only positive amounts, distinct ids and
//! compact metadata objects; every id, order number and platform account name accepted prints as
//! text that parses to the same value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sanhu_core::id::{ClientId, CustomerId, MemberId};
use sanhu_core::ledger::{TransferAction, METADATA_LEN_MAX};
use sanhu_core::{AccountId, TransferId};
use sanhu_http::fuzzing::{fingerprinted_body, ledger_batch, parse_body, parse_body_or_empty};
use sanhu_http::ApiError;
use sanhu_service::wallet::{OrderNumber, PlatformAccount};
use serde_json::{Map, Value};

const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

fn refused_as_a_callers_mistake(error: &ApiError) {
    assert!(error.status().is_client_error(), "{} {}: {}", error.status(), error.code(), error.message());
}

/// Every kind of id read from `text` prints as text that reads as the same id.
fn ids_round_trip(text: &str) {
    macro_rules! round_trip {
        ($($ty:ty),*) => {$(
            if let Some(id) = <$ty>::parse(text) {
                assert_eq!(<$ty>::parse(&id.to_string()), Some(id), "{text:?}");
                assert!(id.to_string().eq_ignore_ascii_case(text) || text.bytes().any(|b| b"iIlLoO".contains(&b)));
            }
        )*};
    }
    round_trip!(AccountId, TransferId, ClientId, CustomerId, MemberId);
}

fn check_field(name: &str, value: &Value) {
    match value {
        Value::String(text) => {
            ids_round_trip(text);
            if let Ok(number) = sanhu_http::wallet::order_number(name, text) {
                assert_eq!(OrderNumber::parse(number.as_str()).ok(), Some(number.clone()));
                assert_eq!(number.as_str(), text);
            }
            if let Some(account) = PlatformAccount::parse(text) {
                assert_eq!(PlatformAccount::parse(&account.name()), Some(account));
            }
            let receiver = sanhu_http::wallet::payments::receiver_of((name, Some(text)), ("other", None));
            if let Err(error) = &receiver {
                refused_as_a_callers_mistake(error);
            }
        }
        Value::Number(number) => match sanhu_http::wallet::amount(name, number) {
            Ok(amount) => assert!(amount > 0 && Some(amount) == number.as_i64()),
            Err(error) => refused_as_a_callers_mistake(&error),
        },
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    match parse_body::<Value>(data) {
        // serde_json (with the `raw_value` feature axum turns on) reads an object whose first key is
        // its private raw-value token as the value that key holds; any other object body is an object.
        Ok(value) if !value.is_object() => {
            assert!(data.windows(RAW_VALUE_TOKEN.len()).any(|w| w == RAW_VALUE_TOKEN.as_bytes()), "{value:?}")
        }
        Ok(value) => {
            let printed = serde_json::to_vec(&value).expect("a value prints");
            assert_eq!(parse_body::<Value>(&printed).ok(), Some(value.clone()), "read, written, read again");
            for (name, field) in value.as_object().expect("an object") {
                check_field(name, field);
            }
        }
        Err(error) => refused_as_a_callers_mistake(&error),
    }
    if let Err(error) = parse_body_or_empty::<Map<String, Value>>(data) {
        refused_as_a_callers_mistake(&error);
    }

    match ledger_batch(data) {
        Ok(requests) => {
            let mut ids: Vec<TransferId> = requests.iter().map(|r| r.id).collect();
            ids.sort();
            ids.dedup();
            assert_eq!(ids.len(), requests.len(), "ids in a batch are distinct");
            assert!(!requests.last().expect("a batch is not empty").linked);
            for request in &requests {
                match &request.action {
                    TransferAction::Post { amount, .. } | TransferAction::Hold { amount, .. } => {
                        assert!(amount.get() > 0)
                    }
                    TransferAction::PostPending { amount, .. } => assert!(amount.is_none_or(|a| a.get() > 0)),
                    TransferAction::VoidPending { .. } => {}
                    TransferAction::ExpirePending { .. } => panic!("a caller cannot expire a hold"),
                }
                assert!(request.metadata.len() <= METADATA_LEN_MAX);
                let metadata: Value = serde_json::from_str(&request.metadata).expect("metadata is JSON");
                assert!(metadata.is_object());
            }
        }
        Err(error) => refused_as_a_callers_mistake(&error),
    }

    // The fingerprint's body is the body itself or, without its pay password, an object's text.
    let fingerprinted = fingerprinted_body(data);
    if fingerprinted != data {
        let rest = fingerprinted.strip_prefix(b"without pay_password\n".as_slice()).expect("the marker");
        let object: Map<String, Value> = serde_json::from_slice(rest).expect("an object's text");
        assert!(!object.contains_key("pay_password"));
    }
});
