//! The request timeout: no request holds a connection longer than `request_timeout_ms`.

use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::{code, ApiError};
use crate::state::AppState;

/// Answers 503 `request_timeout` when the request runs past the limit. The request's future is
/// dropped; work that must finish once started (an idempotent request) runs on its own task.
pub async fn limit_duration(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let limit_ms = state.config.request_timeout_ms;
    match tokio::time::timeout(Duration::from_millis(limit_ms), next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            ApiError::new(code::REQUEST_TIMEOUT, format!("the request took longer than {limit_ms} ms")).into_response()
        }
    }
}
