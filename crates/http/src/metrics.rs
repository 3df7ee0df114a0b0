//! `/metrics` in Prometheus's text exposition format, on a listener of its own (`metrics_listen`,
//! docs/OPERATIONS.md), never on the API's address: it is unauthenticated, as scrapers expect, and
//! says how busy the platform is, which callers of the API have no business knowing. Not a line of the
//! route table for the same reason: the API's router does not answer it (404 `route_not_found`).
//!
//! What the layers and the service count as they work is `sanhu_service::metrics`; what is read at
//! scrape time (queue depths, the database pool) is added here.

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use sanhu_service::metrics::{render, Gauge};

use crate::state::AppState;

/// The content type of the text exposition format, version 0.0.4.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The metrics listener's router: `/metrics` and nothing else.
pub fn router(state: AppState) -> Router {
    Router::new().route("/metrics", get(metrics)).with_state(state)
}

async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, CONTENT_TYPE)], render(&gauges(&state)))
}

/// The values read at scrape time.
pub fn gauges(state: &AppState) -> Vec<Gauge> {
    let store = state.ledger.store();
    let backend = store.backend().to_owned();
    let pool = store.pool_status();
    let gauge = |name, help, labels: Vec<(&'static str, String)>, value: usize| Gauge {
        name,
        help,
        labels,
        value: value as f64,
    };
    vec![
        gauge("sanhu_ledger_writer_queue_depth", "Submissions waiting for the ledger's batched writer.", vec![], {
            state.ledger.writer_queued()
        }),
        gauge("sanhu_nonce_queue_depth", "Request nonces waiting for the nonce book's writer.", vec![], {
            state.nonces.queued()
        }),
        gauge(
            "sanhu_db_pool_connections",
            "Read connections the database pool may hold.",
            vec![("backend", backend.clone())],
            pool.size,
        ),
        gauge(
            "sanhu_db_pool_connections_in_use",
            "Read connections of the database pool in use now.",
            vec![("backend", backend)],
            pool.in_use,
        ),
        gauge(
            "sanhu_build_info",
            "Always 1; the running version in its label.",
            vec![("version", env!("CARGO_PKG_VERSION").to_owned())],
            1,
        ),
    ]
}
