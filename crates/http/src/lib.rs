//! sanhu's HTTP API under `/v1`, for back-end systems calling server to server: the ledger, the
//! three-party model (customers, members, member accounts, real-name authentications, enterprises and
//! their operators, members' security), and the wallet's money flows (recharge, pay, refund,
//! withdraw, freeze, adjust).
//!
//! Architecture invariant: this crate is the only one that knows about HTTP, and it is where input
//! becomes the core's types. Invalid input stops here with a 4xx and a stable code (never a 500,
//! never a panic); below this crate nothing is parsed again.
//!
//! A request passes, outermost first: [`request_id`] (id, span, one log line) → [`catch_panic`] (a
//! panic is a 500, not a dropped connection) → [`timeout`] →
//! [`authentication`] (signature, body buffered within its limit, the client's rate limit) →
//! [`idempotency`] (POSTs with an `Idempotency-Key`) → [`audit`] (every POST's event, committed
//! before its answer) → [`access`] (the route's scope; a bound client's reach, per [`scopes`]) →
//! [`staff::approvals`] (a staff member's request that needs a second one is held) → the handler in
//! [`ledger`], [`party`], [`wallet`] or [`staff`]. Authentication takes a request that carries a staff
//! session cookie and no signature as the staff member's ([`staff`]). `/health`, `/ready`,
//! `/openapi.json`, `/docs` and the staff sign-in are unauthenticated; `/metrics` is served on a
//! listener of its own ([`metrics`]).
//!
//! Every endpoint is one line of the route table ([`routes`]): the router below, the access layer,
//! the idempotency layer's secret-bearing routes, maker-checker's held routes and the OpenAPI document
//! ([`openapi`]) are made from it. What the handlers and layers share is [`state`].

pub mod access;
pub mod audit;
pub mod authentication;
mod body;
mod catch_panic;
pub mod channel_status;
pub mod client_cache;
pub mod docs_page;
pub mod error;
#[doc(hidden)]
pub mod fuzzing;
mod health;
pub mod idempotency;
mod ids;
mod json;
pub mod ledger;
pub mod metrics;
pub mod openapi;
pub mod party;
mod query;
pub mod rate_limit;
pub mod request_id;
pub mod routes;
pub mod scopes;
pub mod signature;
pub mod staff;
pub mod state;
mod timeout;
pub mod wallet;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::Router;

pub use error::{registry, ApiError, ErrorCodeInfo, ERROR_CODES};
pub use state::{AppState, HttpConfig};

/// The API's router, with every layer.
pub fn router(state: AppState) -> Router {
    let mut public = Router::new();
    let mut signed = Router::new();
    for route in routes::all() {
        // Signing in is how a staff member gets a credential, so it needs none.
        if route.signed() {
            signed = signed.route(route.path, route.handler.clone());
        } else {
            public = public.route(route.path, route.handler.clone());
        }
    }
    // route_layer: an unknown path is answered route_not_found without a signature check.
    let signed = signed
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(from_fn_with_state(state.clone(), staff::approvals::hold))
        .route_layer(from_fn_with_state(state.clone(), access::check))
        .route_layer(from_fn_with_state(state.clone(), audit::record))
        .route_layer(from_fn_with_state(state.clone(), idempotency::idempotent))
        .route_layer(from_fn_with_state(state.clone(), authentication::authenticate))
        .route_layer(from_fn(request_id::note_route));
    public
        .method_not_allowed_fallback(method_not_allowed)
        .route_layer(from_fn(request_id::note_route))
        .merge(signed)
        .fallback(route_not_found)
        // The authentication layer enforces `body_bytes_max` with its own error code; axum's default
        // limit would answer in plain text.
        .layer(DefaultBodyLimit::disable())
        .layer(from_fn_with_state(state.clone(), timeout::limit_duration))
        .layer(from_fn(catch_panic::catch_panic))
        .layer(from_fn(request_id::track_request))
        .with_state(state)
}

async fn route_not_found() -> ApiError {
    ApiError::new(error::code::ROUTE_NOT_FOUND, "no endpoint has this path; see /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(error::code::METHOD_NOT_ALLOWED, "this endpoint does not accept this method; see /openapi.json")
}
