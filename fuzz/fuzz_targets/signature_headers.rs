//! The signature headers and the signed string (crates/http/src/signature.rs).
//!
//! Input: lines of text: `X-Sanhu-Client`, `X-Sanhu-Timestamp`, `X-Sanhu-Nonce`, `X-Sanhu-Signature`,
//! the method, the path and query, then the body (the rest). A header's line holding the byte 0x1E
//! gives that header once per part (a header sent twice). Holds: parsing never panics; what it
//! accepts is within the documented shapes and, written back as headers, parses to the same claim;
//! a request signed with a key verifies and the same request with another body does not; the signed
//! string has its six lines.
#![no_main]

use axum::http::{HeaderMap, HeaderValue};
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use ed25519_dalek::SigningKey;
use libfuzzer_sys::fuzz_target;
use sanhu_http::signature::{
    parse_headers, sign, signed_string, verify, SignatureClaim, CLIENT_HEADER, CLIENT_ID_LEN_MAX, CLIENT_ID_PREFIX,
    NONCE_HEADER, NONCE_LEN_MAX, NONCE_LEN_MIN, SCHEME, SIGNATURE_HEADER, TIMESTAMP_HEADER,
};

const NAMES: [&str; 4] = [CLIENT_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER];

fn is_token(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn headers_of(claim: &SignatureClaim) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let values =
        [claim.client_id.clone(), claim.timestamp.to_string(), claim.nonce.clone(), BASE64.encode(claim.signature)];
    for (name, value) in NAMES.into_iter().zip(values) {
        headers.insert(name, HeaderValue::from_str(&value).expect("an accepted claim is header text"));
    }
    headers
}

fuzz_target!(|data: &[u8]| {
    let mut lines = data.splitn(7, |&b| b == b'\n');
    let mut headers = HeaderMap::new();
    for name in NAMES {
        let Some(line) = lines.next() else { break };
        for part in line.split(|&b| b == 0x1e) {
            if let Ok(value) = HeaderValue::from_bytes(part) {
                headers.append(name, value);
            }
        }
    }
    let method = String::from_utf8_lossy(lines.next().unwrap_or(b"POST")).into_owned();
    let path = String::from_utf8_lossy(lines.next().unwrap_or(b"/v1/payments")).into_owned();
    let body = lines.next().unwrap_or(b"");

    let key = SigningKey::from_bytes(&[7; 32]);
    let public = key.verifying_key().to_bytes();

    if let Ok(claim) = parse_headers(&headers) {
        assert!(claim.client_id.len() <= CLIENT_ID_LEN_MAX, "{claim:?}");
        let rest = claim.client_id.strip_prefix(CLIENT_ID_PREFIX).expect("a client id has its prefix");
        assert!(!rest.is_empty() && is_token(rest), "{claim:?}");
        assert!((0..=999_999_999_999).contains(&claim.timestamp), "{claim:?}");
        assert!((NONCE_LEN_MIN..=NONCE_LEN_MAX).contains(&claim.nonce.len()) && is_token(&claim.nonce), "{claim:?}");
        // Printed back as headers, the claim is read the same (a canonical base64 signature).
        assert_eq!(parse_headers(&headers_of(&claim)).as_ref(), Ok(&claim));
        let given = headers.get(SIGNATURE_HEADER).expect("parsed").to_str().expect("parsed");
        assert_eq!(BASE64.encode(claim.signature), given, "one signature has one base64 text");
        // Checking a claim against a key never panics, whatever it claims.
        let _ = verify(&public, &method, &path, body, &claim);

        let text = signed_string(&method, &path, body, claim.timestamp, &claim.nonce);
        if !method.contains('\n') && !path.contains('\n') {
            let parts: Vec<&str> = text.split('\n').collect();
            assert_eq!(parts.len(), 6, "{text:?}");
            assert_eq!(parts[..5], [SCHEME, &method, &path, &claim.timestamp.to_string(), &claim.nonce]);
            assert_eq!(parts[5].len(), 64);
        }

        // The same request signed with a key verifies; with one byte more of body, it does not.
        let signed = sign(&key, &method, &path, body, claim.timestamp, &claim.nonce);
        let mut own = headers_of(&claim);
        own.insert(SIGNATURE_HEADER, HeaderValue::from_str(&signed.signature).expect("base64 is header text"));
        let own = parse_headers(&own).expect("a signed request's headers parse");
        assert!(verify(&public, &method, &path, body, &own));
        let mut longer = body.to_vec();
        longer.push(b'x');
        assert!(!verify(&public, &method, &path, &longer, &own));
    }
});
