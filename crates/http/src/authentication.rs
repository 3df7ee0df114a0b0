//! The authentication middleware: every request under /v1 is signed by an API client (see
//! [`crate::signature`]). It buffers the body (the signature covers its hash), verifies against the
//! client's active keys (the client as read at most a second ago, [`crate::client_cache`]), takes a
//! token from the client's rate limit ([`crate::rate_limit`]), records the nonce (or, on a POST under
//! an `Idempotency-Key`, leaves it to the idempotency layer to record with the key's claim, one
//! commit: [`crate::principal::UnspentNonce`]), and hands the
//! layers after it the client's id and what it may do ([`crate::principal::ClientAccess`]).
//!
//! A request that carries no signature header and a staff session cookie is a staff member's
//! instead, and [`crate::staff::sessions::authenticate`] takes it.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use sanhu_core::Timestamp;
use sanhu_service::clock;
use sanhu_service::nonces::RequestNonce;
use sanhu_store::{AccessStore, ApiClient};

use crate::body::read_limited;
use crate::error::{code, ApiError};
use crate::idempotency::IDEMPOTENCY_KEY_HEADER;
use crate::principal::{replayed_nonce, AuthenticatedClient, ClientAccess, UnspentNonce};
use crate::rate_limit;
use crate::request_id::RequestContext;
use crate::signature::{self, HeaderFault};
use crate::state::AppState;

const NANOS_PER_SECOND: i64 = 1_000_000_000;

pub async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    // A staff member's request: the session cookie and no signature (see `crate::staff`).
    if crate::staff::sessions::is_staff_request(&request) {
        return crate::staff::sessions::authenticate(&state, request, next).await;
    }
    let (mut parts, body) = request.into_parts();
    let claim = signature::parse_headers(&parts.headers).map_err(|fault| match fault {
        HeaderFault::Missing(name) => ApiError::new(code::MISSING_SIGNATURE, format!("the {name} header is missing")),
        HeaderFault::Malformed(name) => {
            ApiError::new(code::MALFORMED_SIGNATURE, format!("the {name} header is malformed"))
        }
        HeaderFault::Repeated(name) => ApiError::new(
            code::MALFORMED_SIGNATURE,
            format!("the {name} header is given more than once; send each signature header once"),
        ),
    })?;

    // The clock is checked before anything costs a database read.
    let now = clock::now();
    let window_s = i64::from(state.config.signature_window_s);
    let skew_s = (now.nanos() / NANOS_PER_SECOND).abs_diff(claim.timestamp);
    if skew_s > window_s as u64 {
        return Err(ApiError::new(
            code::STALE_TIMESTAMP,
            format!("the timestamp is {skew_s} s from the server's clock; the window is {window_s} s"),
        ));
    }

    // Remembered for at most a second (`crate::client_cache`): a revocation is seen within it.
    let store = state.ledger.store();
    let read = || store.get_client(&claim.client_id);
    let lookup = state.clients.get(&claim.client_id, read).await?;
    let unknown = || ApiError::new(code::UNKNOWN_CLIENT, format!("no API client has the id {}", claim.client_id));
    let mut client = lookup.client.ok_or_else(unknown)?;
    check_not_revoked(&client)?;

    let body = read_limited(&parts.headers, body, state.config.body_bytes_max).await?;
    let path_and_query = parts.uri.path_and_query().map_or(parts.uri.path(), |p| p.as_str());
    // Any active key will do: a client rotating its key holds the old and the new one for a while.
    let method = parts.method.as_str();
    let verifies = |client: &ApiClient| {
        client.active_keys().any(|key| signature::verify(&key.public_key, method, path_and_query, &body, &claim))
    };
    if !verifies(&client) {
        // A key added since the client was remembered verifies at once: read it again before refusing.
        if !lookup.remembered {
            return Err(invalid_signature());
        }
        client = state.clients.read(&claim.client_id, read).await?.ok_or_else(unknown)?;
        check_not_revoked(&client)?;
        if !verifies(&client) {
            return Err(invalid_signature());
        }
    }

    // Limited once verified, so that nobody can spend another client's requests; and before the
    // nonce is written, so that a refused request costs the database nothing and may be sent again.
    if let Err(wait) = state.rate_limits.admit(&client.id) {
        let retry_after_s = rate_limit::retry_after_s(wait);
        return Err(ApiError::new(
            code::RATE_LIMITED,
            format!("this client sent more than its rate limit allows; retry in {retry_after_s} s"),
        )
        .with_retry_after(retry_after_s));
    }

    // Only a verified request spends its nonce, so that nobody can burn another client's nonces.
    // Nonces older than two windows are forgotten: a request that old is refused as stale anyway.
    let forget_before = Timestamp::from_nanos(now.nanos() - 2 * window_s * NANOS_PER_SECOND);
    let nonce = RequestNonce::new(&client.id, &claim.nonce, now, forget_before);
    if parts.method == Method::POST && parts.headers.contains_key(IDEMPOTENCY_KEY_HEADER) {
        // Spent by the idempotency layer, in the same commit as the key's claim (or alone, if it
        // makes none), before anything else runs.
        parts.extensions.insert(UnspentNonce(nonce));
    } else if !state.nonces.record(&client.id, &claim.nonce, now, forget_before).await? {
        // Spent with the concurrent requests' nonces in one commit (`sanhu_service::nonces`).
        return Err(replayed_nonce());
    }

    if let Some(context) = parts.extensions.get::<Arc<RequestContext>>() {
        context.set_client_id(&client.id);
    }
    parts.extensions.insert(ClientAccess::of(&client));
    parts.extensions.insert(AuthenticatedClient(client.id.clone()));
    Ok(next.run(Request::from_parts(parts, Body::from(body))).await)
}

fn check_not_revoked(client: &ApiClient) -> Result<(), ApiError> {
    match client.revoked_at {
        Some(_) => Err(ApiError::new(code::CLIENT_REVOKED, format!("the API client {} is revoked", client.id))),
        None => Ok(()),
    }
}

fn invalid_signature() -> ApiError {
    ApiError::new(code::INVALID_SIGNATURE, "the signature does not match the request")
}
