//! The last line of defence: a request whose handling panics is answered 500 `internal_error`, with
//! its request id, instead of the connection being dropped without an answer. A panic is always a
//! bug; it is logged here (the panic hook has printed where it happened).

use std::future::{poll_fn, Future};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::pin;
use std::task::Poll;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;

pub async fn catch_panic(request: Request, next: Next) -> Response {
    answered_even_if_it_panics(next.run(request)).await
}

/// `handling`'s response, or 500 `internal_error` if it panics. Also used inside the task that runs a
/// request under an Idempotency-Key (`idempotency::run_claimed`), so that such a panic is an answer
/// the key keeps rather than a task that ends with its claim unanswered.
pub(crate) async fn answered_even_if_it_panics(handling: impl Future<Output = Response>) -> Response {
    let mut handling = pin!(handling);
    // A panicking future is never polled again: its state is dropped with the request.
    let outcome = poll_fn(|cx| match catch_unwind(AssertUnwindSafe(|| handling.as_mut().poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(response)) => Poll::Ready(Ok(response)),
        Err(payload) => Poll::Ready(Err(payload)),
    })
    .await;
    outcome.unwrap_or_else(|payload| {
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| s.to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".to_owned());
        ApiError::internal(anyhow::anyhow!("the request's handling panicked: {message}")).into_response()
    })
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::StatusCode;
    use axum::middleware::from_fn;
    use axum::routing::get;
    use axum::Router;
    use http_body_util::BodyExt;
    use tower::ServiceExt;

    use super::*;

    async fn panics() -> &'static str {
        panic!("a bug")
    }

    #[tokio::test]
    async fn a_panicking_handler_is_answered_500_internal_error() {
        let app = Router::new()
            .route("/panics", get(panics))
            .route("/answers", get(|| async { "fine" }))
            .layer(from_fn(catch_panic));

        let response = app.clone().oneshot(Request::get("/panics").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["error"]["code"], "internal_error", "{body}");

        let response = app.oneshot(Request::get("/answers").body(Body::empty()).unwrap()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
}
