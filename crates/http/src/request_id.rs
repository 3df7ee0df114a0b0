//! A request id per request, returned in `X-Request-Id`, put in every error body and on every log line
//! of the request; and the one log line per request.
//!
//! The id lives in a task-local so that an error built deep in a handler (or by a middleware) can
//! carry it without threading it through every function.

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use sanhu_core::id::IdKind;
use tracing::Instrument;

pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Request ids are time-ordered like every other id, so logs sort by them.
pub enum RequestTag {}
impl IdKind for RequestTag {
    const PREFIX: &'static str = "req";
}
/// A request's id (`req_…`).
pub type RequestId = sanhu_core::Id128<RequestTag>;

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The current request's id; "req_unknown" outside a request (unit tests, background tasks).
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_else(|_| "req_unknown".to_owned())
}

/// Runs `future` as part of the current request: its errors carry the request's id. For work that
/// is spawned onto its own task.
pub fn scope<F: std::future::Future>(request_id: String, future: F) -> impl std::future::Future<Output = F::Output> {
    REQUEST_ID.scope(request_id, future)
}

/// What the outermost layer knows of a request and the inner layers fill in: the authenticated
/// client, for the request's log line, and the route the router matched, for the line and the
/// metrics.
#[derive(Debug, Default)]
pub struct RequestContext {
    client_id: OnceLock<String>,
    route: OnceLock<String>,
}

impl RequestContext {
    pub fn set_client_id(&self, client_id: &str) {
        let _ = self.client_id.set(client_id.to_owned());
    }
}

/// The route label of a request that matched no route: the raw path is never a label, since every
/// scanner's guess would make a new series.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// A route layer (it runs only once the router has matched): notes the route's path template
/// (`/v1/members/{id}`) in the request's context, for the metrics and the log line.
pub async fn note_route(request: Request, next: Next) -> Response {
    if let (Some(context), Some(route)) =
        (request.extensions().get::<Arc<RequestContext>>(), request.extensions().get::<MatchedPath>())
    {
        let _ = context.route.set(route.as_str().to_owned());
    }
    next.run(request).await
}

/// The outermost middleware: gives the request its id, runs it inside a span that carries the id,
/// sets `X-Request-Id` on the response, and logs the request once. Bodies, signatures and query
/// strings are never logged: they may hold personal data or references.
pub async fn track_request(mut request: Request, next: Next) -> Response {
    let request_id = sanhu_service::clock::new_id::<RequestTag>().to_string();
    let context = Arc::new(RequestContext::default());
    request.extensions_mut().insert(context.clone());
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let span = tracing::info_span!("request", request.id = %request_id);
    let started = Instant::now();

    let mut response = REQUEST_ID.scope(request_id.clone(), next.run(request)).instrument(span.clone()).await;

    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    let duration_ms = elapsed.as_millis() as u64;
    let client_id = context.client_id.get().map(String::as_str).unwrap_or("");
    let route = context.route.get().map(String::as_str).unwrap_or(UNMATCHED_ROUTE);
    // Only the methods the API answers are labels; any other is counted as `other`.
    let method_label = match method.as_str() {
        known @ ("GET" | "POST" | "HEAD" | "PUT" | "PATCH" | "DELETE" | "OPTIONS") => known,
        _ => "other",
    };
    let metrics = sanhu_service::metrics::global();
    metrics.http_requests.with([method_label, route, &status.to_string()]).inc();
    metrics.http_duration.with([method_label, route]).observe_duration(elapsed);
    span.in_scope(|| {
        tracing::info!(
            method = %method,
            path = %path,
            route,
            status,
            duration_ms,
            request.id = %request_id,
            client.id = client_id,
            "request"
        )
    });
    response
}
