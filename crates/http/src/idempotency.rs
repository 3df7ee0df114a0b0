//! Idempotency keys: a POST under /v1 may carry an `Idempotency-Key` header; its first request runs
//! and its response is stored, and every retry with the same key gets that response back instead of
//! running again (DESIGN.md invariant 6: one key, at most one effect).
//!
//! A key is scoped to the authenticated client and bound to a fingerprint of the request (method,
//! path with query, body): the same key with a different request is refused rather than answered
//! with another request's response. The endpoints whose request or response carries a secret
//! ([`crate::routes::Route::secret`]) refuse a key: neither the fingerprint nor the stored response may
//! keep it.
//!
//! A request can run twice under one key: when its first run's process died before recording the
//! response, the claim is taken over and the request runs again. Whatever the first run committed
//! must then be recognised, not repeated: a transfer the caller gave an id is found by that id, and a
//! transfer left to the server gets an id derived from the key ([`IdempotencyScope`]), the same in
//! every run, so the ledger answers the second run with the transfer the first one applied.
//!
//! Nothing here is one commit per request: the claim is made with the concurrent requests' claims in
//! one transaction (`sanhu_service::idempotency_claims`), and the answer is kept by the audit layer
//! in the transaction of the request's audit event ([`ClaimedKey`], [`AnswerKept`]); only when that
//! fails does this layer keep the answer (or release the key) itself.

use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sanhu_core::TransferId;
use sanhu_service::clock;
use sanhu_service::party::PartySecret;
use sanhu_store::{
    AccessStore, IdempotencyBegin, IdempotencyClaim, IdempotencyKey, Store, StoredResponse, IDEMPOTENCY_CLAIM_LEASE_S,
};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::error::{code, ApiError};
use crate::principal::AuthenticatedClient;
use crate::request_id;
use crate::scopes::RouteFacts;
use crate::state::AppState;

pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Set to `true` on a response that is a stored one, replayed.
pub const IDEMPOTENT_REPLAYED_HEADER: &str = "idempotent-replayed";
pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 255;
/// Largest response kept for replay. A full batch's results stay well below it.
const STORED_RESPONSE_BYTES_MAX: usize = 64 * 1024 * 1024;

pub async fn idempotent(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    if request.method() != Method::POST {
        return Ok(next.run(request).await);
    }
    let mut copies = request.headers().get_all(IDEMPOTENCY_KEY_HEADER).iter();
    let Some(value) = copies.next() else {
        return Ok(next.run(request).await);
    };
    if copies.next().is_some() {
        return Err(ApiError::new(code::INVALID_IDEMPOTENCY_KEY, "the Idempotency-Key header is given more than once"));
    }
    let key = parse_key(value.as_bytes())?;
    if request.extensions().get::<RouteFacts>().is_some_and(|facts| facts.secret) {
        return Err(ApiError::new(
            code::IDEMPOTENCY_KEY_NOT_ACCEPTED,
            "this endpoint takes no Idempotency-Key: its request or response carries a secret that sanhu keeps \
             nowhere, not even as a fingerprint; send it without the header",
        ));
    }
    // A staff member's keys are their own (`staff:<username>`), apart from every API client's.
    let principal = crate::principal::idempotency_principal(request.extensions())
        .or_else(|| request.extensions().get::<AuthenticatedClient>().map(|AuthenticatedClient(id)| id.clone()));
    let Some(client_id) = principal else {
        return Err(ApiError::internal(anyhow::anyhow!("the idempotency layer ran before authentication")));
    };
    let (mut parts, body) = request.into_parts();
    // Authentication has buffered the body already; this only takes it back out.
    let body = to_bytes(body, state.config.body_bytes_max)
        .await
        .map_err(|_| ApiError::new(code::BODY_TOO_LARGE, "the request body is too large"))?;
    let path_and_query = parts.uri.path_and_query().map_or(parts.uri.path(), |p| p.as_str());
    let secret = &state.parties.config().secret;
    let fingerprint = fingerprint(secret, parts.method.as_str(), path_and_query, &without_pay_password(&body));
    let key = IdempotencyKey { client_id, key };
    let store = state.ledger.store().clone();
    let claims = state.claims.clone();
    parts.extensions.insert(IdempotencyScope::of(&key));
    let request = Request::from_parts(parts, Body::from(body));

    // The claim and everything after it run on their own task, which the caller's going away (a
    // request timeout, a dropped connection) does not cancel. A claim committed for a request that
    // was then cancelled would stay in use forever; worse, a transfer already submitted may commit
    // anyway, and the key must then hold its response, or a retry would apply it a second time.
    let work = async move {
        // Claimed with the concurrent requests' claims in one commit (`sanhu_service::idempotency_claims`).
        let claim = IdempotencyClaim { key: key.clone(), fingerprint };
        let begun = claims.begin(claim, clock::now()).await;
        let outcome = match &begun {
            Ok(IdempotencyBegin::Claimed) => "claimed",
            Ok(IdempotencyBegin::Replay(_)) => "replayed",
            Ok(IdempotencyBegin::Mismatch) => "mismatch",
            Ok(IdempotencyBegin::InUse) => "in_use",
            Err(_) => "error",
        };
        sanhu_service::metrics::global().idempotency.with([outcome]).inc();
        match begun {
            Ok(IdempotencyBegin::Claimed) => run_claimed(&store, &key, request, next).await,
            Ok(IdempotencyBegin::Replay(stored)) => replay(stored),
            Ok(IdempotencyBegin::Mismatch) => ApiError::new(
                code::IDEMPOTENCY_KEY_REUSED,
                "this Idempotency-Key was used for a different request; use a new key for a new request",
            )
            .into_response(),
            Ok(IdempotencyBegin::InUse) => ApiError::new(
                code::IDEMPOTENCY_KEY_IN_USE,
                "the first request with this Idempotency-Key is still running; retry shortly",
            )
            .into_response(),
            // A 503 if the database is out of reach, and the caller retries. The claim may have been
            // committed all the same (the database went away before its answer came back): left
            // alone, it would hold the key, answering every retry idempotency_key_in_use, for the
            // whole lease. Nothing ran under it, so it is released in the background as soon as the
            // database answers again.
            Err(error) => {
                let (store, key) = (store.clone(), key.clone());
                tokio::spawn(request_id::scope(request_id::current(), release_unanswered_claim(store, key)));
                ApiError::from(error).into_response()
            }
        }
    };
    let task = tokio::spawn(request_id::scope(request_id::current(), work).instrument(tracing::Span::current()));
    task.await.map_err(|error| ApiError::internal(anyhow::anyhow!("the idempotent request's task failed: {error}")))
}

/// The key a running request claimed, for the audit layer: it settles the key (the answer kept for
/// replay, or the key released after a 5xx) in the same transaction as the request's audit event.
#[derive(Clone, Debug)]
pub(crate) struct ClaimedKey(pub(crate) IdempotencyKey);

/// Set on a response by the audit layer once its answer is kept under the request's claimed key
/// (with its audit event, one commit); without it, the idempotency layer keeps the answer itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AnswerKept;

/// The ids a request under an Idempotency-Key gives the transfers it leaves to the server: derived
/// from the client and the key, so that running the request again (after its first run's process
/// died with the claim) names the same transfers. Handlers take it as a request extension.
#[derive(Clone, Debug)]
pub struct IdempotencyScope {
    /// SHA-256 of the client id and the key: neither holds a newline, so the pair is unambiguous.
    digest: [u8; 32],
}

impl IdempotencyScope {
    pub fn of(key: &IdempotencyKey) -> IdempotencyScope {
        let mut hasher = Sha256::new();
        hasher.update(key.client_id.as_bytes());
        hasher.update(b"\n");
        hasher.update(key.key.as_bytes());
        IdempotencyScope { digest: hasher.finalize().into() }
    }

    /// An order number for a request under this key that names none (`key-` and 24 hex digits), the
    /// same in every run: a card's money request sent with a key and no `order_number` is numbered so.
    pub fn order_number(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"sanhu order number\n");
        hasher.update(self.digest);
        let digest = hasher.finalize();
        let hex: String = digest[..12].iter().map(|b| format!("{b:02x}")).collect();
        format!("key-{hex}")
    }

    /// The id of the request's `index`th transfer (0 for a request of one), the same in every run. Not
    /// time-ordered like a new id, and as unpredictable to others as the key.
    pub fn transfer_id(&self, index: usize) -> TransferId {
        let mut hasher = Sha256::new();
        hasher.update(b"sanhu transfer id\n");
        hasher.update(self.digest);
        hasher.update((index as u64).to_be_bytes());
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        TransferId::from_u128(u128::from_be_bytes(bytes).max(1)).expect("a non-zero value is an id")
    }
}

/// Runs the request that claimed `key` and records its outcome: the response, or for a 5xx (which
/// decided nothing) the release of the key so that a retry runs afresh.
/// Releases a claim whose creation was not answered, trying until the database answers or half the
/// lease is over (past it, a retry may have taken the claim over legitimately). Whether the claim was
/// made cannot be told; releasing one that was not made deletes nothing, except in the rare case
/// where a retry on another instance claimed the key in between, which then runs again when retried:
/// every effect under a key is itself idempotent (see the module's documentation).
async fn release_unanswered_claim(store: Store, key: IdempotencyKey) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(IDEMPOTENCY_CLAIM_LEASE_S) / 2);
    let mut pause = OUTCOME_RETRY_PAUSE_MIN;
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(pause).await;
        match store.release_idempotent(&key).await {
            Ok(()) => return,
            Err(_) => pause = (pause * 2).min(OUTCOME_RETRY_PAUSE_MAX),
        }
    }
    tracing::warn!(request.id = %request_id::current(), "an unanswered idempotency claim could not be released; it lapses with its lease");
}

async fn run_claimed(store: &Store, key: &IdempotencyKey, mut request: Request, next: Next) -> Response {
    request.extensions_mut().insert(ClaimedKey(key.clone()));
    let mut response = next.run(request).await;
    // The audit layer kept the answer (or released the key) in its event's transaction: done.
    if response.extensions_mut().remove::<AnswerKept>().is_some() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let body = match to_bytes(body, STORED_RESPONSE_BYTES_MAX).await {
        Ok(body) => body,
        Err(error) => {
            // The key stays claimed: the request may have had its effect, and a retry must not
            // repeat it. An operator can release it.
            let error = anyhow::anyhow!("the response to idempotency key {:?} could not be kept: {error}", key.key);
            return ApiError::internal(error).into_response();
        }
    };
    let outcome = if parts.status.is_server_error() {
        None
    } else {
        Some(StoredResponse { status: parts.status.as_u16(), body: body.to_vec() })
    };
    if let Err(error) = record_outcome(store, key, outcome.as_ref()).await {
        // The response is still the true outcome; only its record failed, so the key stays claimed
        // and its retries are answered idempotency_key_in_use rather than run twice. The database is
        // most likely out of reach (which is also why a 5xx is being answered): the record is tried
        // again in the background until it is kept, or the claim's lease is over. Without that, an
        // outage held every key it touched for the whole lease after the database came back.
        tracing::warn!(
            request.id = %request_id::current(),
            error = format!("{error:#}"),
            "failed to record the outcome of an idempotency key; retrying in the background"
        );
        let (store, key) = (store.clone(), key.clone());
        tokio::spawn(request_id::scope(request_id::current(), async move {
            // Half the lease: past it, a retry may take the claim over, and a late release would delete
            // the new claim.
            let deadline = tokio::time::Instant::now() + Duration::from_secs(u64::from(IDEMPOTENCY_CLAIM_LEASE_S) / 2);
            let mut pause = OUTCOME_RETRY_PAUSE_MIN;
            while tokio::time::Instant::now() < deadline {
                tokio::time::sleep(pause).await;
                match record_outcome(&store, &key, outcome.as_ref()).await {
                    Ok(()) => return,
                    Err(_) => pause = (pause * 2).min(OUTCOME_RETRY_PAUSE_MAX),
                }
            }
            tracing::error!(
                request.id = %request_id::current(),
                "the outcome of an idempotency key could not be recorded; the key waits for its claim's lease"
            );
        }));
    }
    Response::from_parts(parts, Body::from(body))
}

/// Pauses between the background tries to record an outcome: doubling from the first to the last.
const OUTCOME_RETRY_PAUSE_MIN: Duration = Duration::from_millis(100);
const OUTCOME_RETRY_PAUSE_MAX: Duration = Duration::from_secs(2);

/// Stores a response under its claimed key, or (None: a 5xx, which decided nothing) releases the key
/// so that a retry runs afresh.
async fn record_outcome(store: &Store, key: &IdempotencyKey, response: Option<&StoredResponse>) -> anyhow::Result<()> {
    match response {
        Some(response) => store.complete_idempotent(key, response).await,
        None => store.release_idempotent(key).await,
    }
}

fn replay(stored: StoredResponse) -> Response {
    let Ok(status) = StatusCode::from_u16(stored.status) else {
        return ApiError::internal(anyhow::anyhow!("a stored response has status {}", stored.status)).into_response();
    };
    let mut response = (status, Body::from(stored.body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(IDEMPOTENT_REPLAYED_HEADER, HeaderValue::from_static("true"));
    response
}

/// 1 to 255 printable ASCII characters.
fn parse_key(value: &[u8]) -> Result<String, ApiError> {
    let printable = value.iter().all(|b| (0x20..=0x7E).contains(b));
    if value.is_empty() || value.len() > IDEMPOTENCY_KEY_LEN_MAX || !printable {
        return Err(ApiError::new(
            code::INVALID_IDEMPOTENCY_KEY,
            format!("the Idempotency-Key must be 1 to {IDEMPOTENCY_KEY_LEN_MAX} printable ASCII characters"),
        ));
    }
    Ok(String::from_utf8_lossy(value).into_owned())
}

/// The body a fingerprint is taken of: a JSON object's top-level `pay_password` (a payment's) left
/// out, so that the fingerprint does not keep it. The rest of the object is written back in the
/// order of its keys; any other body is taken as it is.
pub(crate) fn without_pay_password(body: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    const PAY_PASSWORD: &str = "pay_password";
    // A cheap look first: most bodies have no such field.
    if !body.windows(PAY_PASSWORD.len()).any(|w| w == PAY_PASSWORD.as_bytes()) {
        return body.into();
    }
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(mut object)) if object.contains_key(PAY_PASSWORD) => {
            object.remove(PAY_PASSWORD);
            let mut stripped = b"without pay_password\n".to_vec();
            stripped.extend(serde_json::Value::Object(object).to_string().into_bytes());
            stripped.into()
        }
        _ => body.into(),
    }
}

/// Hex of the keyed hash (under the server secret) of `METHOD\npath-with-query\nbody`: a request that
/// carries a certificate number (an authentication, an enterprise's registration) cannot be guessed
/// back from it without the secret.
pub fn fingerprint(secret: &PartySecret, method: &str, path_and_query: &str, body: &[u8]) -> String {
    let mut input = Vec::with_capacity(method.len() + path_and_query.len() + body.len() + 2);
    input.extend_from_slice(method.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(path_and_query.as_bytes());
    input.push(b'\n');
    input.extend_from_slice(body);
    hex::encode(secret.request_fingerprint(&input))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pay_password_is_left_out_of_the_fingerprint() {
        let with = br#"{"order_number":"o-1","amount":100,"pay_password":"135790"}"#;
        let other = br#"{"amount":100,"pay_password":"246801","order_number":"o-1"}"#;
        let stripped = without_pay_password(with);
        assert!(!String::from_utf8_lossy(&stripped).contains("135790"));
        assert_eq!(stripped, without_pay_password(other));
        let plain = br#"{"order_number":"o-1","amount":100}"#;
        assert_eq!(without_pay_password(plain).as_ref(), plain.as_slice());
        // Another amount is another request.
        assert_ne!(stripped, without_pay_password(br#"{"order_number":"o-1","amount":101,"pay_password":"1"}"#));
    }

    #[test]
    fn keys_are_one_to_255_printable_ascii_characters() {
        assert_eq!(parse_key(b"order-42 retry").unwrap(), "order-42 retry");
        assert!(parse_key(b"").is_err());
        assert!(parse_key(&[b'k'; 256]).is_err());
        assert!(parse_key(&[b'k'; 255]).is_ok());
        assert!(parse_key(b"tab\there").is_err());
        assert!(parse_key("caf\u{e9}".as_bytes()).is_err());
    }

    #[test]
    fn a_key_derives_the_same_transfer_ids_in_every_run_and_other_keys_others() {
        let key = |client: &str, key: &str| IdempotencyKey { client_id: client.to_owned(), key: key.to_owned() };
        let scope = IdempotencyScope::of(&key("cli_a", "order-42"));
        assert_eq!(scope.transfer_id(0), IdempotencyScope::of(&key("cli_a", "order-42")).transfer_id(0));
        assert_ne!(scope.transfer_id(0), scope.transfer_id(1), "each transfer of a batch has its own");
        assert_ne!(scope.transfer_id(0), IdempotencyScope::of(&key("cli_b", "order-42")).transfer_id(0));
        assert_ne!(scope.transfer_id(0), IdempotencyScope::of(&key("cli_a", "order-43")).transfer_id(0));
    }

    #[test]
    fn the_fingerprint_covers_method_path_and_body_under_the_secret() {
        let secret = PartySecret::from_bytes(&[7; 32]).unwrap();
        let a = fingerprint(&secret, "POST", "/v1/x", b"{}");
        assert_eq!(a, fingerprint(&secret, "POST", "/v1/x", b"{}"));
        assert_ne!(a, fingerprint(&secret, "POST", "/v1/y", b"{}"));
        assert_ne!(a, fingerprint(&secret, "POST", "/v1/x", b"{ }"));
        assert_eq!(a.len(), 64);
        let other = PartySecret::from_bytes(&[8; 32]).unwrap();
        assert_ne!(a, fingerprint(&other, "POST", "/v1/x", b"{}"), "keyed: not a plain hash anyone can recompute");
        let plain = hex::encode(Sha256::digest(b"POST\n/v1/x\n{}"));
        assert_ne!(a, plain);
    }
}
