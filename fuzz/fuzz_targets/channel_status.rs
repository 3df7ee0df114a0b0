//! The channel status answers and questions (crates/http/src/channel_status.rs).
//!
//! Input: a line with the order number, a line with the channel's status URL, then the answer's body.
//! Holds: nothing panics; a `paid` answer has a positive amount and names the order asked about; the
//! question's URL, read back with the server's own query parser, carries the order number, client,
//! amount and currency exactly (percent-encoding round-trips).
#![no_main]

use axum::http::Uri;
use libfuzzer_sys::fuzz_target;
use sanhu_core::id::ClientId;
use sanhu_core::Currency;
use sanhu_http::channel_status::{parse_answer, parse_status_url, question_uri};
use sanhu_http::fuzzing::QueryParams;
use sanhu_service::wallet::{ChannelAnswer, ChannelOrderQuery};

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(3, |&b| b == b'\n');
    let order_number = String::from_utf8_lossy(lines.next().unwrap_or(b"")).into_owned();
    let status_url = String::from_utf8_lossy(lines.next().unwrap_or(b"")).into_owned();
    let body = lines.next().unwrap_or(b"");

    let client = ClientId::from_u128(0x0123_4567_89ab_cdef).expect("not zero");
    let query = ChannelOrderQuery {
        channel: "alipay".into(),
        status_url: status_url.clone(),
        client,
        order_number: order_number.clone(),
        amount: 10_000,
        currency: Currency::parse("CNY").expect("CNY"),
    };

    match parse_answer(body, &query) {
        Ok(ChannelAnswer::Paid { amount }) => {
            assert!(amount > 0, "paid {amount}");
            let json: serde_json::Value = serde_json::from_slice(body).expect("an accepted answer is JSON");
            assert_eq!(json["order_number"].as_str(), Some(order_number.as_str()));
        }
        Ok(_) | Err(_) => {}
    }

    let accepted: Option<Uri> = parse_status_url(&status_url, true).ok();
    match question_uri(&status_url, &query, true) {
        Ok(uri) => {
            let configured = accepted.expect("a question is only asked of an accepted status URL");
            assert!(matches!(uri.scheme_str(), Some("http" | "https")), "{uri}");
            assert_eq!(uri.scheme_str(), configured.scheme_str());
            assert_eq!(uri.host(), configured.host());
            let params = QueryParams::parse(&uri).expect("the question's query parses");
            let pairs = params.pairs();
            assert!(pairs.len() >= 4, "{uri}");
            let ours: Vec<(&str, &str)> =
                pairs[pairs.len() - 4..].iter().map(|(n, v)| (n.as_str(), v.as_str())).collect();
            assert_eq!(
                ours,
                [
                    ("order_number", order_number.as_str()),
                    ("client", client.to_string().as_str()),
                    ("amount", "10000"),
                    ("currency", "CNY")
                ],
                "{uri}"
            );
        }
        Err(_) => {}
    }
});
