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
//! Nothing here is one commit per request: the claim is made with the concurrent requests' nonces
//! and claims in one transaction (`sanhu_service::idempotency_claims`), a signed request's nonce in
//! the same commit as its claim (the authentication layer leaves it unspent for this layer:
//! [`UnspentNonce`]; a replayed nonce makes no claim), and the answer is kept by the audit layer
//! in the transaction of the request's audit event ([`ClaimedKey`], [`AnswerKept`]); only when no
//! audit layer settled it does this layer keep the answer (or release the key) itself.
//!
//! # Who settles a claim, and when a key is released
//!
//! Each request that claims a key draws a token of its own ([`ClaimToken`]), kept in the claim. An
//! answer or a release names that token, and the store settles the key only while that very claim
//! holds it unanswered: a request whose claim was never committed, or was taken over by a retry, can
//! never delete or answer the claim another request holds while it runs. A claim held by a live
//! instance does not lapse (see `IDEMPOTENCY_CLAIM_LEASE_S`), so however long a request runs or its
//! answer waits to be kept, no retry runs it a second time meanwhile.
//!
//! Once the handler has run, it may have had effects, and not every handler is itself idempotent
//! (opening a merchant makes a new id each run): the key is then never released. Its answer is kept,
//! and if that cannot be done now (the audit log cannot append the request's event, which the answer
//! is kept with), the caller is answered 503 `audit_unavailable` while the event and the answer are
//! kept in the background, tried again until they are committed; the key's retries are answered
//! `idempotency_key_in_use` until then, and replay the kept answer after. A 5xx is kept as the
//! answer too (a retry replays it), except `not_ready` / `ledger_unavailable` of a request that wrote
//! nothing ([`NothingApplied`]) or wrote only its own record and chain, which a rerun finds and
//! finishes without repeating a step ([`Unfinished`]); what a request wrote is tracked while its
//! handler runs (`sanhu_service::effects`). A key is released only for such a request, or one whose
//! handler never ran (the claim's own commit failed: see `sanhu_service::idempotency_claims` for how
//! the retry takes a lost claim over).

use std::time::Duration;

use axum::body::{to_bytes, Body};
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sanhu_core::id::MerchantId;
use sanhu_core::TransferId;
use sanhu_service::clock;
use sanhu_service::nonces::RequestNonce;
use sanhu_service::party::PartySecret;
use sanhu_store::{
    AccessStore, ClaimToken, IdempotencyBegin, IdempotencyClaim, IdempotencyKey, Store, StoredResponse,
    STORED_RESPONSE_BYTES_MAX,
};
use sha2::{Digest, Sha256};
use tracing::Instrument;

use crate::error::{code, ApiError, NothingApplied, Unfinished};
use crate::principal::{replayed_nonce, AuthenticatedClient, UnspentNonce};
use crate::request_id;
use crate::scopes::RouteFacts;
use crate::state::{AppState, Keeps};

pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";
/// Set to `true` on a response that is a stored one, replayed.
pub const IDEMPOTENT_REPLAYED_HEADER: &str = "idempotent-replayed";
pub const IDEMPOTENCY_KEY_LEN_MAX: usize = 255;

pub async fn idempotent(State(state): State<AppState>, mut request: Request, next: Next) -> Result<Response, ApiError> {
    // A signed POST under a key comes with its nonce unspent, to be spent with the claim in one commit;
    // when no claim is made, it is spent alone first, so that a replay is refused as before.
    let nonce = request.extensions_mut().remove::<UnspentNonce>().map(|UnspentNonce(nonce)| nonce);
    let key = match key_to_claim(&request) {
        Ok(Some(key)) => key,
        Ok(None) => {
            spend_alone(&state, nonce).await?;
            return Ok(next.run(request).await);
        }
        Err(refused) => {
            spend_alone(&state, nonce).await?;
            return Err(refused);
        }
    };
    // A staff member's keys are their own (`staff:<username>`), apart from every API client's.
    let principal = crate::principal::idempotency_principal(request.extensions())
        .or_else(|| request.extensions().get::<AuthenticatedClient>().map(|AuthenticatedClient(id)| id.clone()));
    let Some(client_id) = principal else {
        spend_alone(&state, nonce).await?;
        return Err(ApiError::internal(anyhow::anyhow!("the idempotency layer ran before authentication")));
    };
    let (mut parts, body) = request.into_parts();
    // Authentication has buffered the body already; this only takes it back out.
    let body = match to_bytes(body, state.config.body_bytes_max).await {
        Ok(body) => body,
        Err(_) => {
            // Not reached (authentication read the body under the same limit), but a refusal spends
            // the nonce like every other.
            spend_alone(&state, nonce).await?;
            return Err(ApiError::new(code::BODY_TOO_LARGE, "the request body is too large"));
        }
    };
    let path_and_query = parts.uri.path_and_query().map_or(parts.uri.path(), |p| p.as_str());
    let secret = &state.parties.config().secret;
    let fingerprint = fingerprint(secret, parts.method.as_str(), path_and_query, &without_pay_password(&body));
    let key = IdempotencyKey { client_id, key };
    let store = state.ledger.store().clone();
    let claims = state.claims.clone();
    let keeps = state.keeps.clone();
    parts.extensions.insert(IdempotencyScope::of(&key));
    let request = Request::from_parts(parts, Body::from(body));

    // The claim and everything after it run on their own task, which the caller's going away (a
    // request timeout, a dropped connection) does not cancel. A claim committed for a request that
    // was then cancelled would stay in use forever; worse, a transfer already submitted may commit
    // anyway, and the key must then hold its response, or a retry would apply it a second time.
    let work = async move {
        // Claimed with the concurrent requests' claims in one commit (`sanhu_service::idempotency_claims`).
        // This attempt's own token: only it can settle the claim it makes.
        let claim = IdempotencyClaim::new(key.clone(), fingerprint);
        let token = claim.token.clone();
        // A signed request's nonce is spent in the claim's commit, and a replayed one makes no claim.
        let begun = match nonce {
            Some(nonce) => match claims.begin_signed(claim, clock::now(), nonce).await {
                Ok(None) => return replayed_nonce().into_response(),
                begun => begun.map(|begun| begun.expect("a claim with a fresh nonce is made")),
            },
            None => claims.begin(claim, clock::now()).await,
        };
        let outcome = match &begun {
            Ok(IdempotencyBegin::Claimed) => "claimed",
            Ok(IdempotencyBegin::Replay(_)) => "replayed",
            Ok(IdempotencyBegin::Mismatch) => "mismatch",
            Ok(IdempotencyBegin::InUse) => "in_use",
            Err(_) => "error",
        };
        sanhu_service::metrics::global().idempotency.with([outcome]).inc();
        match begun {
            Ok(IdempotencyBegin::Claimed) => run_claimed(&store, &keeps, &key, &token, request, next).await,
            Ok(IdempotencyBegin::Replay(stored)) => replay(stored),
            Ok(IdempotencyBegin::Mismatch) => ApiError::new(
                code::IDEMPOTENCY_KEY_REUSED,
                "this Idempotency-Key was used for a different request; use a new key for a new request",
            )
            .into_response(),
            Ok(IdempotencyBegin::InUse) => ApiError::new(
                code::IDEMPOTENCY_KEY_IN_USE,
                "the first request with this Idempotency-Key is still running, or its answer is still being recorded; \
                 retry shortly",
            )
            .into_response(),
            // A 503 if the database is out of reach, and the caller retries. The claim may have been
            // committed all the same (the database went away before its answer came back): left
            // alone, it would hold the key, answering every retry idempotency_key_in_use, for as long
            // as this instance lives. Nothing ran under it, so it is released in the background as
            // soon as the database answers again: only this attempt's claim, by its token, so that a
            // claim another request made in the meantime is never touched. Until then the claim book
            // remembers it as lost, and a retry on this instance takes it over at once.
            Err(error) => {
                let (store, key, claims) = (store.clone(), key.clone(), claims.clone());
                keeps.spawn(request_id::scope(request_id::current(), async move {
                    release_unanswered_claim(store, key.clone(), token.clone()).await;
                    claims.released(&key, &token);
                }));
                ApiError::from(error).into_response()
            }
        }
    };
    let task = tokio::spawn(request_id::scope(request_id::current(), work).instrument(tracing::Span::current()));
    task.await.map_err(|error| ApiError::internal(anyhow::anyhow!("the idempotent request's task failed: {error}")))
}

/// The key a POST claims, if it claims one: None for another method or a POST without the header;
/// a refusal for a malformed or repeated key, or one sent to a route whose request or response
/// carries a secret.
fn key_to_claim(request: &Request) -> Result<Option<String>, ApiError> {
    if request.method() != Method::POST {
        return Ok(None);
    }
    let mut copies = request.headers().get_all(IDEMPOTENCY_KEY_HEADER).iter();
    let Some(value) = copies.next() else {
        return Ok(None);
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
    Ok(Some(key))
}

/// Spends a signed request's nonce (if the authentication layer left one) in a batch of nonces, for a
/// request that claims no key; a replayed nonce is refused.
async fn spend_alone(state: &AppState, nonce: Option<RequestNonce>) -> Result<(), ApiError> {
    let Some(nonce) = nonce else { return Ok(()) };
    let RequestNonce { record, forget_before } = nonce;
    if !state.nonces.record(&record.client_id, &record.nonce, record.at, forget_before).await? {
        return Err(replayed_nonce());
    }
    Ok(())
}

/// The key a running request claimed and its claim's token, for the audit layer: it settles the
/// claim (the answer kept for replay, or the key released after a 5xx that decided nothing) in the
/// same transaction as the request's audit event.
#[derive(Clone, Debug)]
pub(crate) struct ClaimedKey {
    pub(crate) key: IdempotencyKey,
    pub(crate) token: ClaimToken,
}

/// Set on a request that runs on the claim's own task, which the caller's going away does not cancel:
/// the audit layer then runs it there rather than on a task of its own (one spawn per request).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Detached;

/// Set on a response by the audit layer once its answer is kept under the request's claimed key
/// (with its audit event, one commit), or is being kept in the background; without it, the
/// idempotency layer keeps the answer itself.
#[derive(Clone, Copy, Debug)]
pub(crate) struct AnswerKept;

/// What a claimed key's request came to, as kept under the key: its answer, or None for a 5xx that
/// provably decided nothing ([`NothingApplied`]) or that a rerun finishes without repeating a step
/// ([`Unfinished`]), whose key is released.
pub(crate) fn outcome_of(parts: &axum::http::response::Parts, body: &[u8]) -> Option<StoredResponse> {
    let rerun = parts.extensions.get::<NothingApplied>().is_some() || parts.extensions.get::<Unfinished>().is_some();
    let released = parts.status.is_server_error() && rerun;
    (!released).then(|| StoredResponse { status: parts.status.as_u16(), body: body.to_vec() })
}

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

    /// The id of the object of kind `K` (a store, a terminal) the request makes, the same in every
    /// run, so that a rerun after a crash finds what its first run made.
    pub fn object_id<K: sanhu_core::id::IdKind>(&self) -> sanhu_core::id::Id128<K> {
        let mut hasher = Sha256::new();
        hasher.update(format!("sanhu {} id\n", K::PREFIX).as_bytes());
        hasher.update(self.digest);
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        sanhu_core::id::Id128::from_u128(u128::from_be_bytes(bytes).max(1)).expect("a non-zero value is an id")
    }

    /// The id of the merchant the request opens, the same in every run, so that a rerun after a crash
    /// finds the merchant its first run opened rather than opening another.
    pub fn merchant_id(&self) -> MerchantId {
        let mut hasher = Sha256::new();
        hasher.update(b"sanhu merchant id\n");
        hasher.update(self.digest);
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        MerchantId::from_u128(u128::from_be_bytes(bytes).max(1)).expect("a non-zero value is an id")
    }
}

/// Releases this attempt's claim, whose creation was not answered, trying until the database
/// answers. Whether the claim was made cannot be told: releasing one that was not made deletes
/// nothing, since the release names this attempt's token, and a claim another request made on the key
/// in the meantime (a retry on another instance, or in a later batch) has its own and is left alone.
async fn release_unanswered_claim(store: Store, key: IdempotencyKey, token: ClaimToken) {
    retry_until_kept("an unanswered idempotency claim could not be released", || store.release_idempotent(&key, &token))
        .await
}

/// Tries `keep` until it succeeds, pausing longer after each failure; while the database is out of
/// reach this goes on, and the key's retries are answered in use (the claim of a live instance does
/// not lapse). Logs every [`RETRIES_PER_WARNING`]th failure with `what`.
pub(crate) async fn retry_until_kept<F, Fut>(what: &str, mut keep: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<()>>,
{
    let mut pause = OUTCOME_RETRY_PAUSE_MIN;
    for tries in 1u64.. {
        tokio::time::sleep(pause).await;
        match keep().await {
            Ok(()) => return,
            Err(error) => {
                if tries % RETRIES_PER_WARNING == 1 {
                    tracing::warn!(request.id = %request_id::current(), error = format!("{error:#}"), tries, "{what}; trying again");
                }
                pause = (pause * 2).min(OUTCOME_RETRY_PAUSE_MAX);
            }
        }
    }
}

/// Runs the request that claimed `key` (with `token`) and, unless the audit layer did, records its
/// outcome: the response, or for a 5xx that decided nothing ([`NothingApplied`]) the release of the
/// key so that a retry runs afresh.
async fn run_claimed(
    store: &Store,
    keeps: &Keeps,
    key: &IdempotencyKey,
    token: &ClaimToken,
    mut request: Request,
    next: Next,
) -> Response {
    request.extensions_mut().insert(ClaimedKey { key: key.clone(), token: token.clone() });
    request.extensions_mut().insert(Detached);
    // A panic below (always a bug) is answered 500 here, inside the claim's task, and that answer is
    // what the key keeps: the handler may have moved money before it panicked, so a retry must not
    // run it again. Left to unwind, the task would end with the claim unanswered, and every retry
    // would be told idempotency_key_in_use for as long as this instance lives.
    let mut response = crate::catch_panic::answered_even_if_it_panics(next.run(request)).await;
    // The audit layer kept the answer (or released the key) in its event's transaction, or keeps it
    // in the background: done.
    if response.extensions_mut().remove::<AnswerKept>().is_some() {
        return response;
    }
    let (parts, body) = response.into_parts();
    let (parts, body) = match to_bytes(body, STORED_RESPONSE_BYTES_MAX).await {
        Ok(body) => (parts, body),
        Err(error) => {
            // The request may have had its effect, and a retry must not repeat it: the answer it got
            // (an internal error) is what the key keeps.
            let error = anyhow::anyhow!("the response to idempotency key {:?} could not be kept: {error}", key.key);
            let (parts, body) = ApiError::internal(error).into_response().into_parts();
            (parts, to_bytes(body, STORED_RESPONSE_BYTES_MAX).await.unwrap_or_default())
        }
    };
    let outcome = outcome_of(&parts, &body);
    if let Err(error) = record_outcome(store, key, token, outcome.as_ref()).await {
        // The response is still the true outcome; only its record failed, so the key stays claimed
        // and its retries are answered idempotency_key_in_use rather than run twice. The database is
        // most likely out of reach (which is also why a 5xx is being answered): the record is tried
        // again in the background until it is kept. The claim does not lapse meanwhile (this
        // instance lives), and only this attempt's claim is settled, by its token.
        tracing::warn!(
            request.id = %request_id::current(),
            error = format!("{error:#}"),
            "failed to record the outcome of an idempotency key; retrying in the background"
        );
        let (store, key, token) = (store.clone(), key.clone(), token.clone());
        keeps.spawn(request_id::scope(request_id::current(), async move {
            retry_until_kept("the outcome of an idempotency key could not be recorded", || {
                record_outcome(&store, &key, &token, outcome.as_ref())
            })
            .await
        }));
    }
    Response::from_parts(parts, Body::from(body))
}

/// Pauses between the background tries to record an outcome: doubling from the first to the last.
const OUTCOME_RETRY_PAUSE_MIN: Duration = Duration::from_millis(100);
const OUTCOME_RETRY_PAUSE_MAX: Duration = Duration::from_secs(2);
/// Failed background tries per warning logged (the first is logged).
const RETRIES_PER_WARNING: u64 = 30;

/// Stores a response under the claim `token` made on `key`, or (None: a 5xx that decided nothing)
/// releases that claim so that a retry runs afresh.
async fn record_outcome(
    store: &Store,
    key: &IdempotencyKey,
    token: &ClaimToken,
    response: Option<&StoredResponse>,
) -> anyhow::Result<()> {
    match response {
        Some(response) => store.complete_idempotent(key, token, response).await,
        None => store.release_idempotent(key, token).await,
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

    async fn panics_after_the_money_moved() -> &'static str {
        panic!("a bug after the money moved")
    }

    #[tokio::test]
    async fn a_request_that_panics_under_a_key_is_answered_and_its_answer_kept_for_every_retry() {
        use sanhu_store::testing::{Backend, TestDatabase};
        for backend in [Backend::Sqlite, Backend::Postgres] {
            // None: PostgreSQL is out of reach outside CI (said by `TestDatabase`).
            if let Some(db) = TestDatabase::new(backend).await {
                a_panic_under_a_key_is_the_answer_the_key_keeps(&db.store).await;
            }
        }
    }

    async fn a_panic_under_a_key_is_the_answer_the_key_keeps(store: &Store) {
        use axum::middleware::from_fn;
        use axum::routing::post;
        use tower::ServiceExt;

        let key = IdempotencyKey { client_id: "cli_panics".to_owned(), key: "order-1".to_owned() };
        let claim = IdempotencyClaim::new(key.clone(), "fingerprint");
        let token = claim.token.clone();
        assert_eq!(store.begin_idempotent(&claim, clock::now()).await.unwrap(), IdempotencyBegin::Claimed);

        let keeps = Keeps::default();
        let (run_store, run_key) = (store.clone(), key.clone());
        let app = axum::Router::new().route("/pays", post(panics_after_the_money_moved)).layer(from_fn(
            move |request: Request, next: Next| {
                let (store, keeps, key, token) = (run_store.clone(), keeps.clone(), run_key.clone(), token.clone());
                async move { run_claimed(&store, &keeps, &key, &token, request, next).await }
            },
        ));
        let response = app.oneshot(Request::post("/pays").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);

        // A retry (on this instance or another) is answered what the first attempt was, at once.
        let retry = IdempotencyClaim::new(key, "fingerprint");
        match store.begin_idempotent(&retry, clock::now()).await.unwrap() {
            IdempotencyBegin::Replay(stored) => {
                assert_eq!(stored.status, 500);
                let body: serde_json::Value = serde_json::from_slice(&stored.body).unwrap();
                assert_eq!(body["error"]["code"], "internal_error", "{body}");
            }
            other => panic!("the retry found {other:?}, not the kept answer"),
        }
    }

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
        assert_eq!(scope.merchant_id(), IdempotencyScope::of(&key("cli_a", "order-42")).merchant_id());
        assert_ne!(scope.merchant_id(), IdempotencyScope::of(&key("cli_a", "order-43")).merchant_id());
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
