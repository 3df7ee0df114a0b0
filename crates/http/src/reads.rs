//! Reads a standby may serve (docs/OPERATIONS.md, "Read replicas"): the extractor [`ReadsFrom`]
//! that the handlers of statements, flows, bills and reports take, and the answer's
//! `Sanhu-Read-From` header. No other handler can reach a standby: `AppState`'s services are the
//! primary's, and [`sanhu_service::reads::Reads`] offers reads only.
//!
//! A caller that needs what it just wrote (a statement right after its payment) sends
//! `Sanhu-Consistency: strong`, and the read goes to the primary.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderValue;
use axum::response::{IntoResponseParts, ResponseParts};
use sanhu_service::reads::{ReadFrom, Reads};

use crate::error::{code, ApiError};
use crate::state::AppState;

/// The request header that asks for a fresh read: `strong` (the primary) or `eventual` (a standby
/// within the staleness bound may answer; the default).
pub const CONSISTENCY_HEADER: &str = "sanhu-consistency";
/// The answer's header that says where it was read: `primary` or `replica`.
pub const READ_FROM_HEADER: &str = "sanhu-read-from";

/// The read handle of this request: on a standby within the bound unless the caller asked for a
/// fresh read or none is fresh enough.
pub struct ReadsFrom(pub Reads);

impl FromRequestParts<AppState> for ReadsFrom {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<ReadsFrom, ApiError> {
        let strong = match parts.headers.get(CONSISTENCY_HEADER).map(HeaderValue::as_bytes) {
            None | Some(b"eventual") => false,
            Some(b"strong") => true,
            Some(_) => {
                return Err(ApiError::new(
                    code::INVALID_CONSISTENCY,
                    "Sanhu-Consistency must be \"strong\" (read the primary) or \"eventual\"",
                ))
            }
        };
        Ok(ReadsFrom(state.reads(strong)))
    }
}

/// The `Sanhu-Read-From` header of an answer read through [`ReadsFrom`].
pub struct ReadFromHeader(pub ReadFrom);

impl ReadFromHeader {
    pub fn of(reads: &Reads) -> ReadFromHeader {
        ReadFromHeader(reads.from())
    }
}

impl IntoResponseParts for ReadFromHeader {
    type Error = std::convert::Infallible;

    fn into_response_parts(self, mut res: ResponseParts) -> Result<ResponseParts, Self::Error> {
        res.headers_mut().insert(READ_FROM_HEADER, HeaderValue::from_static(self.0.source()));
        Ok(res)
    }
}
