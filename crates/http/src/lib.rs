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
pub mod bill;
mod body;
pub mod card;
mod catch_panic;
pub mod channel_status;
pub mod client_cache;
pub mod console;
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
pub mod monitor;
pub mod openapi;
pub mod outbound;
pub mod party;
pub mod principal;
mod query;
pub mod rate_limit;
pub mod reads;
pub mod request_id;
pub mod routes;
pub mod scopes;
pub mod signature;
pub mod staff;
pub mod state;
mod timeout;
pub mod wallet;
pub mod webhook;

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
        .route_layer(from_fn(request_id::note_route))
        .route_layer(from_fn(endpoint_facts));
    public
        .merge(routes::console_pages())
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

/// Puts on the request what the route table says of the endpoint it reached ([`scopes::RouteFacts`]),
/// before any layer runs, so that the layers read it there and never look the table up themselves.
async fn endpoint_facts(mut request: axum::extract::Request, next: axum::middleware::Next) -> axum::response::Response {
    let matched = request.extensions().get::<axum::extract::MatchedPath>();
    let facts =
        matched.and_then(|path| routes::find(request.method().as_str(), path.as_str())).map(routes::Route::facts);
    if let Some(facts) = facts {
        request.extensions_mut().insert(facts);
    }
    next.run(request).await
}

async fn route_not_found() -> ApiError {
    ApiError::new(error::code::ROUTE_NOT_FOUND, "no endpoint has this path; see /openapi.json")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(error::code::METHOD_NOT_ALLOWED, "this endpoint does not accept this method; see /openapi.json")
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    /// The layers every request passes, and what they share, as the files they are in.
    const MIDDLEWARE: &[(&str, &str)] = &[
        ("access", "access.rs"),
        ("audit", "audit.rs"),
        ("authentication", "authentication.rs"),
        ("body", "body.rs"),
        ("catch_panic", "catch_panic.rs"),
        ("client_cache", "client_cache.rs"),
        ("error", "error.rs"),
        ("idempotency", "idempotency.rs"),
        ("principal", "principal.rs"),
        ("rate_limit", "rate_limit.rs"),
        ("request_id", "request_id.rs"),
        ("scopes", "scopes.rs"),
        ("signature", "signature.rs"),
        ("staff::sessions", "staff/sessions.rs"),
        ("state", "state.rs"),
        ("timeout", "timeout.rs"),
    ];

    /// A file's code, without its comments and its tests.
    fn code(source: &str) -> String {
        let before_tests = source.split("#[cfg(test)]\nmod tests").next().unwrap_or_default();
        before_tests.lines().filter(|line| !line.trim_start().starts_with("//")).collect::<Vec<_>>().join("\n")
    }

    /// The middleware modules another one names (`crate::x`, `use crate::{x, ...}`, `super::x` from
    /// `staff/`), outside comments and its tests.
    fn names(code: &str, module: &str) -> BTreeSet<&'static str> {
        let mut named = BTreeSet::new();
        for &(other, _) in MIDDLEWARE {
            if other == module {
                continue;
            }
            let (head, tail) = other.split_once("::").unwrap_or((other, ""));
            let mentioned = if tail.is_empty() {
                code.contains(&format!("crate::{head}::"))
                    || code.contains(&format!("crate::{head};"))
                    || code.contains(&format!("crate::{head}}}"))
                    || code.contains(&format!("crate::{{{head}"))
                    || code.lines().filter_map(|line| line.strip_prefix("use crate::{")).any(|items| {
                        items.split([',', '}', ' ']).any(|item| item == head || item.starts_with(&format!("{head}::")))
                    })
            } else {
                code.contains(&format!("crate::{head}::{tail}"))
                    || (module.starts_with("staff::") && code.contains(&format!("super::{tail}")))
            };
            if mentioned {
                named.insert(other);
            }
        }
        named
    }

    /// No import cycle between the middleware modules: each layer depends on what it shares with
    /// the others (the state, who acts, the route's facts, errors), never on another layer that
    /// depends back on it, and none on the route table or the handlers.
    #[test]
    fn the_middleware_modules_have_no_import_cycle() {
        let source = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let graph: BTreeMap<&str, BTreeSet<&str>> = MIDDLEWARE
            .iter()
            .map(|&(module, file)| {
                let text = std::fs::read_to_string(source.join(file)).expect("a middleware file");
                let code = code(&text);
                for handlers in ["routes", "ledger", "party", "wallet", "openapi", "staff::approvals"] {
                    assert!(!code.contains(&format!("crate::{handlers}::")), "{module} names crate::{handlers}");
                }
                (module, names(&code, module))
            })
            .collect();
        // Depth-first search for a path that comes back to where it started.
        fn reaches(graph: &BTreeMap<&str, BTreeSet<&str>>, from: &str, to: &str, seen: &mut BTreeSet<String>) -> bool {
            graph[from]
                .iter()
                .any(|&next| next == to || (seen.insert(next.to_owned()) && reaches(graph, next, to, seen)))
        }
        for &module in graph.keys() {
            assert!(!reaches(&graph, module, module, &mut BTreeSet::new()), "{module} depends on itself: {graph:#?}");
        }
        // The check sees what it should: the audit layer names who acts and the state.
        assert!(graph["audit"].contains("principal") && graph["audit"].contains("state"), "{graph:#?}");
    }
}
