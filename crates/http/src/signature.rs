//! Ed25519 request signatures: the signed string, signing (for clients: `sanhu call`, tests) and
//! verification (for the server). Pure: no store, no clock; the middleware in `authentication`
//! supplies those.
//!
//! A request carries four headers: `X-Sanhu-Client` (the client id), `X-Sanhu-Timestamp` (unix
//! seconds), `X-Sanhu-Nonce` (16 to 64 of `[A-Za-z0-9_-]`, never reused) and `X-Sanhu-Signature`
//! (standard base64 of the 64-byte Ed25519 signature) over
//!
//! ```text
//! SANHU-ED25519-V1\n{METHOD}\n{path and query, as sent}\n{timestamp}\n{nonce}\n{hex SHA-256 of the body}
//! ```
//!
//! The body hash binds the body; the timestamp and nonce make a captured request useless after the
//! window and within it.

use axum::http::HeaderMap;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

/// The first line of the signed string; a new scheme gets a new line, never a changed meaning.
pub const SCHEME: &str = "SANHU-ED25519-V1";

pub const CLIENT_HEADER: &str = "x-sanhu-client";
pub const TIMESTAMP_HEADER: &str = "x-sanhu-timestamp";
pub const NONCE_HEADER: &str = "x-sanhu-nonce";
pub const SIGNATURE_HEADER: &str = "x-sanhu-signature";

pub const CLIENT_ID_PREFIX: &str = "cli_";
/// Longest client id, prefix included. A bound keeps a junk header from reaching the store.
pub const CLIENT_ID_LEN_MAX: usize = 64;
pub const NONCE_LEN_MIN: usize = 16;
pub const NONCE_LEN_MAX: usize = 64;
/// Most digits of a timestamp header: unix seconds fit in 12 digits for the next 30,000 years.
const TIMESTAMP_DIGITS_MAX: usize = 12;
const SIGNATURE_BYTES: usize = 64;

/// Lower-case hex SHA-256 of the body (of the empty string for no body).
pub fn body_sha256_hex(body: &[u8]) -> String {
    hex::encode(Sha256::digest(body))
}

/// The exact text that is signed.
pub fn signed_string(method: &str, path_and_query: &str, body: &[u8], timestamp: i64, nonce: &str) -> String {
    format!("{SCHEME}\n{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{}", body_sha256_hex(body))
}

/// The three per-request signature headers' values; the client id is the fourth header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedHeaders {
    pub timestamp: String,
    pub nonce: String,
    pub signature: String,
}

impl SignedHeaders {
    /// All four headers as (name, value) pairs, ready to add to a request.
    pub fn with_client(&self, client_id: &str) -> [(&'static str, String); 4] {
        [
            (CLIENT_HEADER, client_id.to_owned()),
            (TIMESTAMP_HEADER, self.timestamp.clone()),
            (NONCE_HEADER, self.nonce.clone()),
            (SIGNATURE_HEADER, self.signature.clone()),
        ]
    }
}

/// Signs a request. `path_and_query` must be exactly what the request line will carry.
pub fn sign(
    signing_key: &SigningKey,
    method: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp: i64,
    nonce: &str,
) -> SignedHeaders {
    let signature = signing_key.sign(signed_string(method, path_and_query, body, timestamp, nonce).as_bytes());
    SignedHeaders {
        timestamp: timestamp.to_string(),
        nonce: nonce.to_owned(),
        signature: BASE64.encode(signature.to_bytes()),
    }
}

/// A fresh nonce: 32 hex characters of operating-system randomness.
pub fn new_nonce() -> String {
    hex::encode(sanhu_service::clock::random_bytes::<16>())
}

/// What a request's headers claim, parsed but not yet checked against a key or the clock.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureClaim {
    pub client_id: String,
    /// Unix seconds.
    pub timestamp: i64,
    pub nonce: String,
    pub signature: [u8; SIGNATURE_BYTES],
}

/// Why a request's signature headers could not be parsed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HeaderFault {
    /// The named header is absent.
    Missing(&'static str),
    /// The named header is present but not well-formed.
    Malformed(&'static str),
    /// The named header is given more than once: a proxy that reads another copy than sanhu would
    /// disagree about who called, so neither copy is taken.
    Repeated(&'static str),
}

/// Parses the four signature headers.
pub fn parse_headers(headers: &HeaderMap) -> Result<SignatureClaim, HeaderFault> {
    // All four are looked for before any is parsed, so that a client missing one header hears about
    // that rather than about a malformed other.
    let mut values = [""; 4];
    for (slot, name) in values.iter_mut().zip([CLIENT_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER]) {
        let mut copies = headers.get_all(name).iter();
        let value = copies.next().ok_or(HeaderFault::Missing(name))?;
        if copies.next().is_some() {
            return Err(HeaderFault::Repeated(name));
        }
        *slot = value.to_str().map_err(|_| HeaderFault::Malformed(name))?;
    }
    let [client_id, timestamp, nonce, signature] = values;

    let client_id_ok = client_id.len() <= CLIENT_ID_LEN_MAX
        && client_id.strip_prefix(CLIENT_ID_PREFIX).is_some_and(|rest| !rest.is_empty() && is_token(rest));
    if !client_id_ok {
        return Err(HeaderFault::Malformed(CLIENT_HEADER));
    }
    let timestamp_ok =
        (1..=TIMESTAMP_DIGITS_MAX).contains(&timestamp.len()) && timestamp.bytes().all(|b| b.is_ascii_digit());
    let timestamp: i64 = match timestamp_ok.then(|| timestamp.parse().ok()).flatten() {
        Some(t) => t,
        None => return Err(HeaderFault::Malformed(TIMESTAMP_HEADER)),
    };
    if !(NONCE_LEN_MIN..=NONCE_LEN_MAX).contains(&nonce.len()) || !is_token(nonce) {
        return Err(HeaderFault::Malformed(NONCE_HEADER));
    }
    let signature: [u8; SIGNATURE_BYTES] = BASE64
        .decode(signature)
        .ok()
        .and_then(|bytes| bytes.try_into().ok())
        .ok_or(HeaderFault::Malformed(SIGNATURE_HEADER))?;
    Ok(SignatureClaim { client_id: client_id.to_owned(), timestamp, nonce: nonce.to_owned(), signature })
}

/// Whether `claim`'s signature is the client's signature of this request. Strict verification:
/// malleable signatures and weak keys are refused.
pub fn verify(public_key: &[u8; 32], method: &str, path_and_query: &str, body: &[u8], claim: &SignatureClaim) -> bool {
    let Ok(key) = VerifyingKey::from_bytes(public_key) else {
        return false;
    };
    let message = signed_string(method, path_and_query, body, claim.timestamp, &claim.nonce);
    key.verify_strict(message.as_bytes(), &Signature::from_bytes(&claim.signature)).is_ok()
}

fn is_token(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn key() -> SigningKey {
        SigningKey::from_bytes(&[7; 32])
    }

    fn headers_of(signed: &SignedHeaders, client_id: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in signed.with_client(client_id) {
            headers.insert(name, HeaderValue::from_str(&value).unwrap());
        }
        headers
    }

    #[test]
    fn the_signed_string_is_the_documented_one() {
        let text = signed_string("POST", "/v1/ledger/transfers?x=1", b"", 1_700_000_000, "abcdefghijklmnop");
        assert_eq!(
            text,
            "SANHU-ED25519-V1\nPOST\n/v1/ledger/transfers?x=1\n1700000000\nabcdefghijklmnop\n\
             e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }

    /// The worked example of docs/SECURITY.md, kept as docs/signature-example.json for the SDKs' tests:
    /// the server's own code gives its signed string and signature, and verifies it.
    #[test]
    fn the_worked_example_of_the_security_guide_is_what_the_server_signs_and_verifies() {
        let example: serde_json::Value =
            serde_json::from_str(include_str!("../../../docs/signature-example.json")).unwrap();
        let text = |field: &str| example[field].as_str().unwrap_or_else(|| panic!("{field} is not text")).to_owned();
        let seed: [u8; 32] = hex::decode(text("key_seed_hex")).unwrap().try_into().unwrap();
        assert_eq!(BASE64.decode(text("private_key")).unwrap(), seed, "private_key is the seed in base64");
        let key = SigningKey::from_bytes(&seed);
        let public = key.verifying_key().to_bytes();
        assert_eq!(text("public_key_base64"), BASE64.encode(public));
        let (method, path_and_query, nonce, body) =
            (text("method"), text("path_and_query"), text("nonce"), text("body"));
        let timestamp = example["timestamp"].as_i64().unwrap();
        assert!(path_and_query.contains('%'), "the example's query is percent-encoded");
        assert_eq!(text("body_sha256_hex"), body_sha256_hex(body.as_bytes()));
        assert_eq!(text("signed_string"), signed_string(&method, &path_and_query, body.as_bytes(), timestamp, &nonce));
        let signed = sign(&key, &method, &path_and_query, body.as_bytes(), timestamp, &nonce);
        assert_eq!(signed.signature, text("signature_base64"));

        // The headers as a client sends them pass the server's parsing and verification.
        let mut headers = HeaderMap::new();
        for (name, value) in example["headers"].as_object().unwrap() {
            headers.insert(
                axum::http::HeaderName::from_bytes(name.to_ascii_lowercase().as_bytes()).unwrap(),
                HeaderValue::from_str(value.as_str().unwrap()).unwrap(),
            );
        }
        let claim = parse_headers(&headers).unwrap();
        assert_eq!(claim.client_id, text("client_id"));
        assert!(verify(&public, &method, &path_and_query, body.as_bytes(), &claim));
        // Signed as sent: the same query decoded, or encoded another way, is another request.
        let decoded = path_and_query.replace("%20", " ");
        assert!(!verify(&public, &method, &decoded, body.as_bytes(), &claim));
        let lower = path_and_query.replace("%2F", "%2f");
        assert!(!verify(&public, &method, &lower, body.as_bytes(), &claim));
    }

    #[test]
    fn a_signed_request_verifies_and_an_altered_one_does_not() {
        let key = key();
        let public = key.verifying_key().to_bytes();
        let signed = sign(&key, "POST", "/v1/x", b"{\"a\":1}", 1_700_000_000, "nonce-0123456789");
        let claim = parse_headers(&headers_of(&signed, "cli_test")).unwrap();
        assert!(verify(&public, "POST", "/v1/x", b"{\"a\":1}", &claim));
        assert!(!verify(&public, "POST", "/v1/x", b"{\"a\":2}", &claim), "body altered");
        assert!(!verify(&public, "PUT", "/v1/x", b"{\"a\":1}", &claim), "method altered");
        assert!(!verify(&public, "POST", "/v1/x?y", b"{\"a\":1}", &claim), "query altered");
        let other = SigningKey::from_bytes(&[8; 32]).verifying_key().to_bytes();
        assert!(!verify(&other, "POST", "/v1/x", b"{\"a\":1}", &claim), "another key");
    }

    #[test]
    fn malformed_headers_are_named() {
        let signed = sign(&key(), "GET", "/v1/x", b"", 1, "nonce-0123456789");
        assert_eq!(parse_headers(&HeaderMap::new()), Err(HeaderFault::Missing(CLIENT_HEADER)));
        let mut headers = headers_of(&signed, "cli_test");
        headers.remove(NONCE_HEADER);
        assert_eq!(parse_headers(&headers), Err(HeaderFault::Missing(NONCE_HEADER)));
        assert_eq!(parse_headers(&headers_of(&signed, "test")), Err(HeaderFault::Malformed(CLIENT_HEADER)));
        for (name, value) in [
            (TIMESTAMP_HEADER, "-5"),
            (TIMESTAMP_HEADER, "12a"),
            (NONCE_HEADER, "short"),
            (NONCE_HEADER, "has spaces in it, too many"),
            (SIGNATURE_HEADER, "not base64!"),
            (SIGNATURE_HEADER, "AAAA"),
        ] {
            let mut headers = headers_of(&signed, "cli_test");
            headers.insert(name, HeaderValue::from_static(value));
            assert_eq!(parse_headers(&headers), Err(HeaderFault::Malformed(name)), "{name}: {value}");
        }
    }

    #[test]
    fn a_signature_header_given_twice_is_refused_whichever_copy_is_right() {
        let signed = sign(&key(), "GET", "/v1/x", b"", 1, "nonce-0123456789");
        for name in [CLIENT_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER] {
            let mut headers = headers_of(&signed, "cli_test");
            let same = headers[name].clone();
            headers.append(name, same);
            assert_eq!(parse_headers(&headers), Err(HeaderFault::Repeated(name)), "{name} twice, the same value");
            let mut headers = headers_of(&signed, "cli_test");
            headers.append(name, HeaderValue::from_static("cli_other"));
            assert_eq!(parse_headers(&headers), Err(HeaderFault::Repeated(name)), "{name} twice, another value");
        }
    }
}
