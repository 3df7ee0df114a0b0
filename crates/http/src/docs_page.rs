//! `/docs`: a page that reads `/openapi.json` and shows its operations, parameters, bodies and answers.
//! Its HTML, style and script are one small file embedded in the binary (`docs_page.html`): nothing is
//! fetched from elsewhere, so it works offline and on networks that reach no CDN.

use axum::http::header;
use axum::response::IntoResponse;

/// The page, as served.
pub const PAGE: &str = include_str!("docs_page.html");

/// The page may run its own inline script and style and read this server's document, nothing else.
pub const CONTENT_SECURITY_POLICY: &str =
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self'";

/// GET /docs
#[utoipa::path(
    get,
    path = "/docs",
    tag = "operations",
    operation_id = "docs",
    summary = "This document, as a page",
    description = "A page that shows this document (`/openapi.json`) for reading in a browser; its script is served with it, nothing is loaded from elsewhere.",
    responses((status = 200, description = "The page.", content_type = "text/html", body = String))
)]
pub async fn page() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        ],
        PAGE,
    )
}
