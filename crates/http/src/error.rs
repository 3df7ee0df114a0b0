//! The API's one error type and the registry of every error code it can answer with.
//!
//! A code is part of the API contract: clients branch on it, so a code is never renamed and always
//! has the same HTTP status. That is why the status is looked up from [`ERROR_CODES`] rather than
//! chosen where the error is raised, and why the OpenAPI document's `ErrorCode` enum is checked
//! against the registry by a test.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sanhu_core::ledger::{AccountCloseError, TransferError};
use sanhu_service::SubmitError;
use serde::Serialize;

use crate::request_id;

/// One error code of the API: its stable name, the HTTP status it is always answered with, and what
/// it means (the OpenAPI document says the same).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ErrorCodeInfo {
    pub code: &'static str,
    pub status: u16,
    pub description: &'static str,
}

/// Declares each code once, as a constant in [`code`] and as an entry of [`ERROR_CODES`], so the
/// registry cannot miss a code that the handlers use.
macro_rules! error_codes {
    ($($name:ident = ($code:literal, $status:literal, $description:literal);)*) => {
        /// Every error code as a constant, for raising errors by name.
        pub mod code {
            use super::ErrorCodeInfo;
            $(pub const $name: ErrorCodeInfo =
                ErrorCodeInfo { code: $code, status: $status, description: $description };)*
        }
        /// Every code the API can emit, including every ledger rejection.
        pub const ERROR_CODES: &[ErrorCodeInfo] = &[$(code::$name),*];
    };
}

error_codes! {
    // Authentication: each way a signature can fail has its own code so that a client can tell a
    // clock problem from a key problem.
    MISSING_SIGNATURE = ("missing_signature", 401, "A signature header (X-Sanhu-Client, X-Sanhu-Timestamp, X-Sanhu-Nonce or X-Sanhu-Signature) is missing.");
    MALFORMED_SIGNATURE = ("malformed_signature", 401, "A signature header is malformed: client id, timestamp, nonce (16-64 of [A-Za-z0-9_-]) or base64 signature of 64 bytes.");
    UNKNOWN_CLIENT = ("unknown_client", 401, "No API client has this id.");
    CLIENT_REVOKED = ("client_revoked", 401, "The API client has been revoked.");
    STALE_TIMESTAMP = ("stale_timestamp", 401, "The request timestamp is outside the signature window of the server's clock.");
    INVALID_SIGNATURE = ("invalid_signature", 401, "The signature does not verify against the client's public key and the signed string.");
    REPLAYED_NONCE = ("replayed_nonce", 401, "The client already used this nonce.");

    // The request as a whole.
    BODY_TOO_LARGE = ("body_too_large", 413, "The request body is larger than the server accepts.");
    ROUTE_NOT_FOUND = ("route_not_found", 404, "No endpoint has this path.");
    METHOD_NOT_ALLOWED = ("method_not_allowed", 405, "The endpoint does not accept this HTTP method.");
    INVALID_JSON = ("invalid_json", 400, "The body is not a JSON object (a syntax error, an empty or unreadable body).");
    UNKNOWN_FIELD = ("unknown_field", 400, "The body has a field the endpoint does not know; the message names it.");
    MISSING_FIELD = ("missing_field", 400, "A required field is missing; the message names it.");
    INVALID_FIELD = ("invalid_field", 400, "A field has the wrong JSON type, or does not apply to the request.");
    INVALID_ID = ("invalid_id", 400, "An id is not a well-formed id of the expected kind (acc_..., tr_...).");
    INVALID_QUERY = ("invalid_query", 400, "The query string cannot be parsed, or repeats a parameter.");
    UNKNOWN_PARAMETER = ("unknown_parameter", 400, "The query string has a parameter the endpoint does not know.");
    MISSING_PARAMETER = ("missing_parameter", 400, "A required query parameter is missing.");
    INVALID_CURSOR = ("invalid_cursor", 400, "The `after` cursor is not one this endpoint returned.");
    INVALID_IDEMPOTENCY_KEY = ("invalid_idempotency_key", 400, "The Idempotency-Key header is not 1 to 255 printable ASCII characters.");
    IDEMPOTENCY_KEY_REUSED = ("idempotency_key_reused", 422, "The Idempotency-Key was already used for a different request.");
    IDEMPOTENCY_KEY_IN_USE = ("idempotency_key_in_use", 409, "The first request with this Idempotency-Key is still running; retry later.");

    // Field values that parse but are not acceptable.
    INVALID_AMOUNT = ("invalid_amount", 422, "The amount is zero or negative.");
    AMOUNT_OUT_OF_RANGE = ("amount_out_of_range", 422, "The amount is not an integer of minor units within a signed 64-bit integer.");
    UNKNOWN_CURRENCY = ("unknown_currency", 422, "The currency is not one sanhu supports (upper-case ISO 4217).");
    INVALID_NORMAL_SIDE = ("invalid_normal_side", 422, "normal_side is neither \"credit\" nor \"debit\".");
    INVALID_OVERDRAFT_LIMIT = ("invalid_overdraft_limit", 422, "overdraft_limit is neither null nor an integer of minor units >= 0.");
    INVALID_CODE = ("invalid_code", 422, "The business code is empty, too long, or has characters outside [a-z0-9_.].");
    INVALID_REFERENCE = ("invalid_reference", 422, "The reference is empty, too long, or has control characters.");
    INVALID_METADATA = ("invalid_metadata", 422, "metadata is not a JSON object, or is too large.");
    INVALID_TIMEOUT = ("invalid_timeout", 422, "timeout_s is out of range, or given for a transfer that is not a hold.");
    INVALID_BATCH_SIZE = ("invalid_batch_size", 422, "A batch has no transfers or more than the most one batch may hold.");
    INVALID_ACTION = ("invalid_action", 422, "A batch item's action is not post, hold, post_pending or void_pending.");
    INVALID_LIMIT = ("invalid_limit", 422, "limit is not an integer from 1 to the page size maximum.");
    INVALID_TIME = ("invalid_time", 422, "A time is not RFC 3339, or `from` is not before `to`.");
    INVALID_ACCOUNT_IDS = ("invalid_account_ids", 422, "account_ids does not list between 1 and 100 account ids.");

    // Things that are not there.
    TRANSFER_NOT_FOUND = ("transfer_not_found", 404, "No transfer has this id.");

    // The ledger's rejections of a transfer (sanhu_core::ledger::TransferError, checked by a test).
    EXISTS_WITH_DIFFERENT_FIELDS = ("exists_with_different_fields", 409, "A transfer with this id exists with different fields.");
    DUPLICATE_ID_IN_BATCH = ("duplicate_id_in_batch", 422, "The transfer id appears more than once in the request.");
    ACCOUNT_NOT_FOUND = ("account_not_found", 404, "The account does not exist.");
    SAME_ACCOUNT = ("same_account", 422, "The debit and credit accounts are the same.");
    CURRENCY_MISMATCH = ("currency_mismatch", 422, "The two accounts hold different currencies.");
    ACCOUNT_CLOSED = ("account_closed", 409, "The account is closed.");
    DEBITS_BLOCKED = ("debits_blocked", 422, "The debit account has debits blocked.");
    CREDITS_BLOCKED = ("credits_blocked", 422, "The credit account has credits blocked.");
    INSUFFICIENT_FUNDS = ("insufficient_funds", 422, "The debit account's available balance (with its overdraft) does not cover the amount.");
    OVERFLOW = ("overflow", 422, "The transfer would overflow an account counter.");
    PENDING_NOT_FOUND = ("pending_not_found", 404, "No pending transfer (hold) has this id.");
    PENDING_ALREADY_POSTED = ("pending_already_posted", 422, "The hold was already posted.");
    PENDING_ALREADY_VOIDED = ("pending_already_voided", 422, "The hold was already voided.");
    PENDING_EXPIRED = ("pending_expired", 422, "The hold has expired.");
    AMOUNT_EXCEEDS_PENDING = ("amount_exceeds_pending", 422, "The amount to post exceeds the held amount.");
    LINKED_EVENT_FAILED = ("linked_event_failed", 422, "Another transfer of the linked chain failed, so this one was not applied.");
    LINKED_EVENT_CHAIN_OPEN = ("linked_event_chain_open", 422, "The last transfer of the request is marked linked: its chain never closes.");

    // Why an account cannot be closed (sanhu_core::ledger::AccountCloseError; account_closed above).
    ACCOUNT_HAS_PENDING = ("account_has_pending", 409, "The account has pending transfers (holds).");
    ACCOUNT_NOT_EMPTY = ("account_not_empty", 409, "The account's balance is not zero.");

    // The server's side.
    INTERNAL_ERROR = ("internal_error", 500, "An unexpected error; it is logged with the request id.");
    LEDGER_UNAVAILABLE = ("ledger_unavailable", 503, "The ledger could not commit; nothing was applied. Retry after the Retry-After seconds.");
    NOT_READY = ("not_ready", 503, "The server cannot reach its database.");
    REQUEST_TIMEOUT = ("request_timeout", 503, "The request took longer than the server allows. With an Idempotency-Key, a retry returns the outcome.");
}

/// Seconds a client should wait before retrying a request the ledger could not commit, or one that
/// found the database out of reach.
const LEDGER_UNAVAILABLE_RETRY_AFTER_S: u32 = 1;

/// Looks a code up in the registry.
pub fn code_info(code: &str) -> Option<&'static ErrorCodeInfo> {
    ERROR_CODES.iter().find(|info| info.code == code)
}

/// An answer other than success: a registered code, a message for people, and for retryable
/// failures how long to wait. The message never carries internal text (store errors are logged,
/// not shown).
#[derive(Debug)]
pub struct ApiError {
    info: ErrorCodeInfo,
    message: String,
    retry_after_s: Option<u32>,
}

impl ApiError {
    pub fn new(info: ErrorCodeInfo, message: impl Into<String>) -> ApiError {
        ApiError { info, message: message.into(), retry_after_s: None }
    }

    /// An unexpected failure (the store failed a read, say). Logged here, once, with the request id
    /// (the request's span carries it); the caller sees only an opaque 500.
    pub fn internal(error: anyhow::Error) -> ApiError {
        tracing::error!(request.id = %request_id::current(), error = format!("{error:#}"), "internal error");
        ApiError::new(code::INTERNAL_ERROR, "an internal error occurred; quote the request id to the operator")
    }

    /// The database is out of reach or cannot take writes (`sanhu_store::is_unavailable`): 503
    /// `not_ready` with `Retry-After`, not a 500, because nothing was decided and the same request
    /// may succeed once the database is back. Logged as a warning: it is the database's state, not a
    /// bug, and an outage would otherwise log an error per request.
    pub fn unavailable(error: anyhow::Error) -> ApiError {
        tracing::warn!(request.id = %request_id::current(), error = format!("{error:#}"), "the database is unavailable");
        ApiError {
            info: code::NOT_READY,
            message: "the server cannot reach its database; nothing was applied, retry".to_owned(),
            retry_after_s: Some(LEDGER_UNAVAILABLE_RETRY_AFTER_S),
        }
    }

    /// A ledger rejection of a transfer, with the status its code is registered with.
    pub fn transfer(error: TransferError) -> ApiError {
        ApiError::registered(error.code(), error.message())
    }

    pub fn account_close(error: AccountCloseError) -> ApiError {
        let message = match error {
            AccountCloseError::AlreadyClosed => "the account is closed",
            AccountCloseError::HasPending => "the account has pending transfers; post or void them first",
            AccountCloseError::NotEmpty => "the account's balance is not zero",
        };
        ApiError::registered(error.code(), message)
    }

    /// The writer failed the batch: nothing of it was applied, so the caller may retry.
    pub fn ledger_unavailable(error: SubmitError) -> ApiError {
        // The storage failure was logged by the writer, once for the whole batch.
        tracing::warn!(request.id = %request_id::current(), error = %error, "the ledger could not commit");
        ApiError {
            info: code::LEDGER_UNAVAILABLE,
            message: "the ledger could not commit the request; nothing was applied, retry".to_owned(),
            retry_after_s: Some(LEDGER_UNAVAILABLE_RETRY_AFTER_S),
        }
    }

    /// A code that comes from another crate (the ledger's), looked up in the registry. A code missing
    /// from the registry is a bug in this crate, caught by a test; at run time it is still answered,
    /// as an internal error rather than with an unregistered code.
    fn registered(code: &str, message: &str) -> ApiError {
        match code_info(code) {
            Some(info) => ApiError::new(*info, message),
            None => ApiError::internal(anyhow::anyhow!("error code {code} is not in the registry")),
        }
    }

    /// Says which part of the request the error is about, e.g. `transfers[3]`.
    pub fn within(self, part: &str) -> ApiError {
        ApiError { message: format!("{part}: {}", self.message), ..self }
    }

    pub fn code(&self) -> &'static str {
        self.info.code
    }

    pub fn message(&self) -> &str {
        &self.message
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::from_u16(self.info.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }
}

/// A store error: 503 if the database is unavailable, else an internal error.
impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> ApiError {
        if sanhu_store::is_unavailable(&error) {
            ApiError::unavailable(error)
        } else {
            ApiError::internal(error)
        }
    }
}

#[derive(Serialize)]
struct ErrorBody<'a> {
    error: ErrorDetail<'a>,
}

#[derive(Serialize)]
struct ErrorDetail<'a> {
    code: &'a str,
    message: &'a str,
    request_id: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = ErrorBody {
            error: ErrorDetail { code: self.info.code, message: &self.message, request_id: request_id::current() },
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if let Some(seconds) = self.retry_after_s {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn every_code_is_registered_once_with_an_error_status() {
        let mut seen = HashSet::new();
        for info in ERROR_CODES {
            assert!(seen.insert(info.code), "{} is registered twice", info.code);
            assert!((400..600).contains(&info.status), "{} has status {}", info.code, info.status);
            assert!(info.code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{}", info.code);
            assert!(!info.description.is_empty());
        }
    }

    #[test]
    fn every_ledger_rejection_is_registered_with_its_status() {
        for error in TransferError::ALL {
            let info = code_info(error.code()).unwrap_or_else(|| panic!("{} is not registered", error.code()));
            let expected = match error {
                TransferError::AccountNotFound | TransferError::PendingNotFound => 404,
                // A closed account is a conflict with the account's state, as when closing it.
                TransferError::ExistsWithDifferentFields | TransferError::AccountClosed => 409,
                _ => 422,
            };
            assert_eq!(info.status, expected, "{}", error.code());
        }
        for error in [AccountCloseError::AlreadyClosed, AccountCloseError::HasPending, AccountCloseError::NotEmpty] {
            let info = code_info(error.code()).unwrap_or_else(|| panic!("{} is not registered", error.code()));
            assert_eq!(info.status, 409, "{}", error.code());
        }
    }
}
