//! Query strings (crates/http/src/query.rs) and the values read from them: limits, RFC 3339 times,
//! references.
//!
//! Input: the query string (after `?`). Holds: nothing panics; the pairs read, percent-encoded and
//! read again are the same pairs; `only` refuses a name given twice; a limit read is within 1 and the
//! maximum; a time read prints (RFC 3339) as text that reads as the same instant; every refusal is a
//! caller's mistake (4xx).
#![no_main]

use axum::http::Uri;
use libfuzzer_sys::fuzz_target;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use sanhu_core::Timestamp;
use sanhu_http::fuzzing::QueryParams;
use sanhu_http::ApiError;

const KNOWN: &[&str] = &["limit", "from", "to", "reference", "client_id", "after"];
const PAGE_SIZE_MAX: u32 = 500;

fn refused_as_a_callers_mistake(error: &ApiError) {
    assert!(error.status().is_client_error(), "{} {}: {}", error.status(), error.code(), error.message());
}

fuzz_target!(|data: &[u8]| {
    let mut target = b"/v1/ledger/transfers?".to_vec();
    target.extend_from_slice(data);
    let Ok(uri) = Uri::try_from(target) else { return };
    let params = match QueryParams::parse(&uri) {
        Ok(params) => params,
        Err(error) => return refused_as_a_callers_mistake(&error),
    };

    let printed: Vec<String> = params
        .pairs()
        .iter()
        .map(|(name, value)| {
            format!("{}={}", utf8_percent_encode(name, NON_ALPHANUMERIC), utf8_percent_encode(value, NON_ALPHANUMERIC))
        })
        .collect();
    let again = Uri::try_from(format!("/v1/ledger/transfers?{}", printed.join("&"))).expect("encoded text is a URI");
    let reread = QueryParams::parse(&again).expect("an encoded query parses");
    assert_eq!(reread.pairs(), params.pairs(), "read, encoded, read again");

    let names: Vec<String> = params.pairs().iter().map(|(n, _)| n.clone()).collect();
    let twice = names.iter().enumerate().any(|(i, n)| names[..i].contains(n));
    let params = match params.only(KNOWN) {
        Ok(params) => {
            assert!(!twice, "a name given twice is refused: {names:?}");
            params
        }
        Err(error) => return refused_as_a_callers_mistake(&error),
    };
    match params.limit(PAGE_SIZE_MAX) {
        Ok(limit) => assert!((1..=PAGE_SIZE_MAX).contains(&limit)),
        Err(error) => refused_as_a_callers_mistake(&error),
    }
    for name in ["from", "to"] {
        match params.time(name) {
            Ok(Some(time)) => assert_eq!(Timestamp::parse_rfc3339(&time.to_string()), Some(time), "{time}"),
            Ok(None) => {}
            Err(error) => refused_as_a_callers_mistake(&error),
        }
    }
    if let Err(error) = sanhu_http::ledger::fields::reference(params.get("reference")) {
        refused_as_a_callers_mistake(&error);
    }
});
