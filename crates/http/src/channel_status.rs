//! Outbound HTTP: asking a payment channel about a recharge order, for the recharge compensation job
//! (the service's [`ChannelQuery`]; `sanhu_service::wallet`'s `compensation.rs` says what the job does
//! with the answer).
//!
//! # The channel status protocol
//!
//! sanhu asks, for one order, with a timeout on connecting and on the whole answer:
//!
//! ```text
//! GET <status_url>?order_number=<order number>&client=<cli_…>&amount=<minor units>&currency=<CNY>
//! Accept: application/json
//! ```
//!
//! The query values are percent-encoded; a `status_url` that has a query keeps it, and these follow.
//! The channel (in practice the platform's gateway to Alipay, WeChat Pay or a bank, which knows how
//! to ask them) answers `200` with a JSON object:
//!
//! ```json
//! {"order_number": "R-20250101-0001", "status": "paid", "amount": 10000}
//! ```
//!
//! - `order_number`: the number asked about, echoed;
//! - `status`: `paid` (the member paid), `not_paid` (the payment was closed without money: the order
//!   fails) or `unknown` (not decided yet: asked again on the next pass);
//! - `amount`: what was paid, in minor units; required with `paid` (the order is credited only when
//!   it equals the order's amount). Other fields are ignored.
//!
//! Anything else is no answer, and the order stays pending: another status code (a 404 too: a
//! misconfigured URL must not fail orders), a body over [`ANSWER_BYTES_MAX`], JSON of another shape,
//! another order's number, no answer within the timeouts.
//!
//! The question goes out through sanhu's one outbound client ([`crate::outbound`]): HTTPS (rustls,
//! Mozilla's roots), redirects not followed, timeouts on connecting and on the whole exchange, at
//! most [`ANSWER_BYTES_MAX`] of the answer read. A `status_url` on plain `http://`, or whose host is
//! (or resolves to) a loopback, private or link-local address, is refused unless the configuration
//! allows it (`[wallet] channel_status_allow_plain_http`, `channel_status_allow_private_targets`):
//! a platform's own gateway on its network is allowed so, explicitly. A plain URL not allowed is
//! refused when the configuration is read, so that a typo does not silently ask nothing.

use anyhow::{anyhow, bail, Context};
use hyper::Uri;
use sanhu_service::wallet::{ChannelAnswer, ChannelOrderQuery, ChannelQuery};
use serde::Deserialize;

use crate::outbound::{OutboundClient, OutboundConfig};

/// Largest answer body read, in bytes.
pub const ANSWER_BYTES_MAX: usize = 16 * 1024;

/// How long a question may take.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChannelQueryTimeouts {
    /// To open the connection.
    pub connect_ms: u64,
    /// For the whole exchange, connecting included.
    pub answer_ms: u64,
}

impl Default for ChannelQueryTimeouts {
    fn default() -> ChannelQueryTimeouts {
        ChannelQueryTimeouts { connect_ms: 2_000, answer_ms: 5_000 }
    }
}

/// Where channel status questions may go (the configuration's `[wallet]` keys), and how long they
/// may take.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChannelQueryConfig {
    pub timeouts: ChannelQueryTimeouts,
    /// Ask endpoints on loopback, private and link-local addresses (the platform's own gateway).
    pub allow_private_targets: bool,
    /// Ask `http://` endpoints (unencrypted: a gateway on the platform's own network).
    pub allow_plain_http: bool,
}

/// Asks channels through the outbound client, one connection per question (the job asks a few
/// orders a minute; a pool's idle connections closed by the far side would only turn into failed
/// questions).
#[derive(Clone)]
pub struct HttpChannelQuery {
    client: OutboundClient,
    config: ChannelQueryConfig,
}

impl HttpChannelQuery {
    pub fn new(config: ChannelQueryConfig) -> HttpChannelQuery {
        let client = OutboundClient::new(OutboundConfig {
            allow_private_targets: config.allow_private_targets,
            allow_plain_http: config.allow_plain_http,
            connect_timeout_ms: config.timeouts.connect_ms,
            exchange_timeout_ms: config.timeouts.answer_ms,
            response_bytes_max: ANSWER_BYTES_MAX,
        });
        HttpChannelQuery { client, config }
    }

    async fn ask(&self, query: &ChannelOrderQuery) -> anyhow::Result<ChannelAnswer> {
        let uri = question_uri(&query.status_url, query, self.config.allow_plain_http)?;
        let answer =
            self.client.get(&uri.to_string(), &[("accept", "application/json".to_owned())]).await.map_err(|why| {
                let hint = if why.contains("internal") {
                    " ([wallet] channel_status_allow_private_targets = true allows a gateway on the platform's network)"
                } else {
                    ""
                };
                anyhow!("the status endpoint could not be asked: {why}{hint}")
            })?;
        if answer.status != 200 {
            bail!("the status endpoint answered {}", answer.status);
        }
        if answer.truncated {
            bail!("the status answer is longer than {ANSWER_BYTES_MAX} bytes");
        }
        parse_answer(&answer.body, query)
    }
}

impl Default for HttpChannelQuery {
    fn default() -> HttpChannelQuery {
        HttpChannelQuery::new(ChannelQueryConfig::default())
    }
}

impl ChannelQuery for HttpChannelQuery {
    async fn order_status(&self, query: &ChannelOrderQuery) -> anyhow::Result<ChannelAnswer> {
        // The outbound client bounds the whole exchange by `answer_ms`, connecting included.
        self.ask(query).await.with_context(|| format!("asking {} about order {}", query.channel, query.order_number))
    }
}

/// Checks a configured status endpoint: an absolute `https://` URL (or `http://` when
/// `allow_plain_http`) with a host and no fragment.
pub fn parse_status_url(text: &str, allow_plain_http: bool) -> Result<Uri, String> {
    if text.contains('#') {
        return Err("a status URL has no fragment (#...)".to_owned());
    }
    let uri: Uri = text.parse().map_err(|e| format!("not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some("http") if allow_plain_http => {}
        Some("http") => {
            return Err("plain http is refused unless [wallet] channel_status_allow_plain_http = true".to_owned())
        }
        _ => return Err("a status URL starts with https://".to_owned()),
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err("a status URL names a host".to_owned());
    }
    Ok(uri)
}

/// The question's URL: the status endpoint with the order's fields added to its query.
pub fn question_uri(status_url: &str, query: &ChannelOrderQuery, allow_plain_http: bool) -> anyhow::Result<Uri> {
    parse_status_url(status_url, allow_plain_http).map_err(|e| anyhow!("status URL {status_url:?}: {e}"))?;
    let separator = if status_url.contains('?') { '&' } else { '?' };
    let text = format!(
        "{status_url}{separator}order_number={}&client={}&amount={}&currency={}",
        percent_encode(&query.order_number),
        percent_encode(&query.client.to_string()),
        query.amount,
        percent_encode(query.currency.code()),
    );
    text.parse().with_context(|| format!("the status question's URL {text:?}"))
}

/// Every byte but RFC 3986's unreserved characters (letters, digits, `-._~`) as `%XX`.
const UNRESERVED_KEPT: &percent_encoding::AsciiSet =
    &percent_encoding::NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

fn percent_encode(text: &str) -> String {
    percent_encoding::utf8_percent_encode(text, UNRESERVED_KEPT).to_string()
}

#[derive(Deserialize)]
struct Answer {
    order_number: String,
    status: String,
    amount: Option<i64>,
}

/// Reads a channel's answer about `query`'s order (the protocol above); anything else is an error.
pub fn parse_answer(body: &[u8], query: &ChannelOrderQuery) -> anyhow::Result<ChannelAnswer> {
    let answer: Answer = serde_json::from_slice(body).context("the status answer is not the protocol's JSON")?;
    if answer.order_number != query.order_number {
        bail!("the status answer is about order {:?}, not {:?}", answer.order_number, query.order_number);
    }
    match answer.status.as_str() {
        "paid" => match answer.amount {
            Some(amount) if amount > 0 => Ok(ChannelAnswer::Paid { amount }),
            Some(amount) => bail!("the status answer says paid with the amount {amount}"),
            None => bail!("the status answer says paid without an amount"),
        },
        "not_paid" => Ok(ChannelAnswer::NotPaid),
        "unknown" => Ok(ChannelAnswer::Unknown),
        other => bail!("the status answer's status {other:?} is not paid, not_paid or unknown"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanhu_core::id::ClientId;
    use sanhu_core::Currency;

    fn query(order_number: &str) -> ChannelOrderQuery {
        ChannelOrderQuery {
            channel: "alipay".into(),
            status_url: "http://gateway.internal:8080/alipay/status?merchant=42".into(),
            client: ClientId::from_u128(7).unwrap(),
            order_number: order_number.into(),
            amount: 10_000,
            currency: Currency::parse("CNY").unwrap(),
        }
    }

    #[test]
    fn a_question_adds_the_orders_fields_percent_encoded_to_the_endpoints_query() {
        let q = query("R 1&x=2/é");
        let uri = question_uri(&q.status_url, &q, true).unwrap();
        assert_eq!(uri.path(), "/alipay/status");
        let client = ClientId::from_u128(7).unwrap();
        assert_eq!(
            uri.query().unwrap(),
            format!("merchant=42&order_number=R%201%26x%3D2%2F%C3%A9&client={client}&amount=10000&currency=CNY")
        );
        let plain = ChannelOrderQuery { status_url: "http://127.0.0.1:9000/status".into(), ..query("R-1") };
        assert!(question_uri(&plain.status_url, &plain, true)
            .unwrap()
            .to_string()
            .starts_with("http://127.0.0.1:9000/status?order_number=R-1&"));
    }

    #[test]
    fn status_endpoints_are_https_urls_with_a_host_and_plain_http_only_where_allowed() {
        assert!(parse_status_url("https://openapi.alipay.com/gateway.do", false).is_ok());
        assert!(parse_status_url("http://127.0.0.1:9000/status", true).is_ok());
        assert!(parse_status_url("http://gateway/alipay?x=1", true).is_ok());
        assert!(parse_status_url("http://gateway/alipay?x=1", false)
            .unwrap_err()
            .contains("channel_status_allow_plain_http"));
        assert!(parse_status_url("ftp://host/x", true).is_err());
        assert!(parse_status_url("/status", true).is_err());
        assert!(parse_status_url("https://host/status#top", true).is_err());
        assert!(parse_status_url("not a url", true).is_err());
    }

    #[test]
    fn answers_are_read_strictly() {
        let q = query("R-1");
        let answer = |json: &str| parse_answer(json.as_bytes(), &q);
        assert_eq!(
            answer(r#"{"order_number":"R-1","status":"paid","amount":10000,"paid_at":"x"}"#).unwrap(),
            ChannelAnswer::Paid { amount: 10_000 }
        );
        assert_eq!(answer(r#"{"order_number":"R-1","status":"not_paid"}"#).unwrap(), ChannelAnswer::NotPaid);
        assert_eq!(answer(r#"{"order_number":"R-1","status":"unknown"}"#).unwrap(), ChannelAnswer::Unknown);
        for wrong in [
            r#"{"order_number":"R-2","status":"paid","amount":10000}"#,
            r#"{"order_number":"R-1","status":"paid"}"#,
            r#"{"order_number":"R-1","status":"paid","amount":0}"#,
            r#"{"order_number":"R-1","status":"PAID","amount":10000}"#,
            r#"{"order_number":"R-1","status":"refunded"}"#,
            r#"{"status":"paid","amount":10000}"#,
            r#"{"order_number":"R-1","status":"paid","amount":100.5}"#,
            "<html>gateway error</html>",
        ] {
            assert!(answer(wrong).is_err(), "{wrong}");
        }
    }
}
