//! Buffering a request body within the configured limit.

use std::future::poll_fn;
use std::pin::Pin;

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{header, HeaderMap};

use crate::error::{code, ApiError};

/// Reads the whole body, refusing one over `bytes_max` as soon as it is known to be: from
/// `Content-Length` before reading anything, or while reading a body sent without one.
pub async fn read_limited(headers: &HeaderMap, mut body: Body, bytes_max: usize) -> Result<Bytes, ApiError> {
    let declared =
        headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|length| length > bytes_max as u64) {
        return Err(too_large(bytes_max));
    }
    let mut buffer: Vec<u8> = Vec::new();
    while let Some(frame) = poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        // A read error means the client went away or sent a broken body; either way it is theirs.
        let frame = frame.map_err(|_| ApiError::new(code::INVALID_JSON, "the request body could not be read"))?;
        if let Ok(data) = frame.into_data() {
            if buffer.len() + data.len() > bytes_max {
                return Err(too_large(bytes_max));
            }
            buffer.extend_from_slice(&data);
        }
    }
    Ok(Bytes::from(buffer))
}

fn too_large(bytes_max: usize) -> ApiError {
    ApiError::new(code::BODY_TOO_LARGE, format!("the request body is larger than {bytes_max} bytes"))
}
