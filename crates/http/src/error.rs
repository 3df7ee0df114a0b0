//! The API's one error type and the registry of every error code it can answer with.
//!
//! A code is part of the API contract: clients branch on it, so a code is never renamed and always
//! has the same HTTP status. A refusal carries its status from where it is declared: the HTTP layer's
//! own codes in [`ERROR_CODES`], each core rule's in its enum (`Variant => "code", status, "message"`),
//! the service's in its `Rejection` constants. The [`registry`] gathers them all, and the OpenAPI
//! document's `ErrorCode` enum and each operation's error responses derive from it.

use std::sync::OnceLock;

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use sanhu_core::ledger::{AccountCloseError, TransferError};
use sanhu_service::bill::{bill_codes, BillFailure};
use sanhu_service::card::{card_codes, CardFailure};
use sanhu_service::failure::{Failure, UseCaseFailure};
use sanhu_service::party::{rule_codes, MerchantFailure, PartyError, Rejection, CONCURRENT_CHANGE};
use sanhu_service::staff::StaffFailure;
use sanhu_service::wallet::{wallet_codes, WalletFailure};
use sanhu_service::webhook::{webhook_codes, WebhookFailure};
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

/// Declares each code once, as a constant in [`code`], as an entry of [`ERROR_CODES`] and in one
/// group of [`group`], so the registry cannot miss a code that the handlers use and the OpenAPI
/// document can say which codes each kind of endpoint answers with ([`capability_codes`]).
macro_rules! error_codes {
    ($($(#[$meta:meta])* $group:ident { $($name:ident = ($code:literal, $status:literal, $description:literal);)* })*) => {
        /// Every error code as a constant, for raising errors by name.
        pub mod code {
            use super::ErrorCodeInfo;
            $($(pub const $name: ErrorCodeInfo =
                ErrorCodeInfo { code: $code, status: $status, description: $description };)*)*
        }
        /// Every code the API can emit, including every ledger rejection.
        pub const ERROR_CODES: &[ErrorCodeInfo] = &[$($(code::$name),*),*];
        /// The codes of [`ERROR_CODES`] by where they come from.
        pub mod group {
            use super::{code, ErrorCodeInfo};
            $($(#[$meta])* pub const $group: &[ErrorCodeInfo] = &[$(code::$name),*];)*
        }
    };
}

error_codes! {
    /// Authentication: each way a signature can fail has its own code so that a client can tell a
    /// clock problem from a key problem.
    SIGNATURE {
        MISSING_SIGNATURE = ("missing_signature", 401, "A signature header (X-Sanhu-Client, X-Sanhu-Timestamp, X-Sanhu-Nonce or X-Sanhu-Signature) is missing.");
        MALFORMED_SIGNATURE = ("malformed_signature", 401, "A signature header is malformed: client id, timestamp, nonce (16-64 of [A-Za-z0-9_-]) or base64 signature of 64 bytes.");
        UNKNOWN_CLIENT = ("unknown_client", 401, "No API client has this id.");
        CLIENT_REVOKED = ("client_revoked", 401, "The API client has been revoked.");
        STALE_TIMESTAMP = ("stale_timestamp", 401, "The request timestamp is outside the signature window of the server's clock.");
        INVALID_SIGNATURE = ("invalid_signature", 401, "The signature does not verify against the client's public key and the signed string.");
        REPLAYED_NONCE = ("replayed_nonce", 401, "The client already used this nonce.");
    }
    /// What a verified client may do (see `crate::scopes`), and how often.
    ACCESS {
        SCOPE_MISSING = ("scope_missing", 403, "The API client lacks the scope this endpoint needs; the message names it, and each operation's description says which.");
        CLIENT_BOUND = ("client_bound", 403, "The API client is bound to one member, and this endpoint acts for the whole platform (registering members and enterprises, a channel's word on a recharge or payout, recording a real-name authentication, one-time codes).");
        PROVIDER_PRODUCT_NOT_AUTHORISED = ("provider_product_not_authorised", 403, "The API client's member runs a service provider (服务商) the merchant it acts for has authorised, but not for the product this request uses; the message names it. Nothing was done.");
        RATE_LIMITED = ("rate_limited", 429, "The API client sent more requests than its rate limit allows; nothing was done. Retry after the Retry-After seconds.");
    }
    /// A staff member's session, which any signed endpoint takes instead of a signature (see `crate::staff`).
    STAFF_SESSION {
        STAFF_SESSION_INVALID = ("staff_session_invalid", 401, "The staff session cookie names no session, or one that was signed out or ended (its account disabled or given a new password); sign in again.");
        STAFF_SESSION_EXPIRED = ("staff_session_expired", 401, "The staff session was idle too long or has reached its lifetime; sign in again.");
        CSRF_TOKEN_MISSING = ("csrf_token_missing", 403, "A POST with a staff session lacks the X-CSRF-Token header.");
        CSRF_TOKEN_INVALID = ("csrf_token_invalid", 403, "X-CSRF-Token is not the CSRF token of the request's staff session.");
    }
    /// Staff: signing in and maker-checker. The refusals of core's `StaffError` keep its codes (a test
    /// checks).
    STAFF {
        INVALID_CREDENTIALS = ("invalid_credentials", 401, "The username or the password is wrong (the same answer for both, so that it tells nobody which usernames exist).");
        STAFF_LOCKED = ("staff_locked", 403, "Too many failed sign-ins in a row: the staff account is locked for a while (lockout_s); even the right password waits.");
        STAFF_DISABLED = ("staff_disabled", 403, "The staff account is disabled (`sanhu staff disable`).");
        STAFF_SESSION_REQUIRED = ("staff_session_required", 403, "The endpoint is for staff members signed in (their session; deciding approvals); an API client cannot use it.");
        APPROVAL_NOT_FOUND = ("approval_not_found", 404, "No approval has this id.");
        APPROVAL_SAME_STAFF_MEMBER = ("approval_same_staff_member", 403, "A request waiting for approval is approved or rejected by another staff member than the one who made it.");
        APPROVAL_DECIDED = ("approval_decided", 409, "The approval was decided already: applied, failed or rejected (or, rejecting, being applied).");
        APPROVAL_IN_PROGRESS = ("approval_in_progress", 409, "The approved request is being applied right now; ask for the approval again shortly.");
        STAFF_NOT_FOUND = ("staff_not_found", 404, "No staff member has this username.");
        API_CLIENT_NOT_FOUND = ("api_client_not_found", 404, "No API client has this id.");
        VERIFICATION_NOT_FOUND = ("verification_not_found", 404, "No run of `sanhu verify` is recorded (yet, or with this number).");
    }
    /// A request that reaches no endpoint.
    ROUTING {
        ROUTE_NOT_FOUND = ("route_not_found", 404, "No endpoint has this path.");
        METHOD_NOT_ALLOWED = ("method_not_allowed", 405, "The endpoint does not accept this HTTP method.");
    }
    /// The request's body and its Idempotency-Key.
    BODY {
        BODY_TOO_LARGE = ("body_too_large", 413, "The request body is larger than the server accepts.");
        INVALID_JSON = ("invalid_json", 400, "The body is not a JSON object (a syntax error, an empty or unreadable body).");
        UNKNOWN_FIELD = ("unknown_field", 400, "The body has a field the endpoint does not know; the message names it.");
        MISSING_FIELD = ("missing_field", 400, "A required field is missing; the message names it.");
        INVALID_FIELD = ("invalid_field", 400, "A field has the wrong JSON type, or does not apply to the request.");
        INVALID_CONSISTENCY = ("invalid_consistency", 400, "The Sanhu-Consistency header is neither \"strong\" (read the primary) nor \"eventual\".");
        INVALID_IDEMPOTENCY_KEY = ("invalid_idempotency_key", 400, "The Idempotency-Key header is not 1 to 255 printable ASCII characters.");
        IDEMPOTENCY_KEY_REUSED = ("idempotency_key_reused", 422, "The Idempotency-Key was already used for a different request.");
        IDEMPOTENCY_KEY_IN_USE = ("idempotency_key_in_use", 409, "The first request with this Idempotency-Key is still running; retry later.");
        // A pay password, card number or one-time code is kept nowhere, not even as a fingerprint of the
        // request (a plain hash of a 6-digit secret gives it up) or a stored response.
        IDEMPOTENCY_KEY_NOT_ACCEPTED = ("idempotency_key_not_accepted", 400, "The endpoint takes no Idempotency-Key: its request or response carries a secret (a pay password, a card number, a one-time code) that sanhu keeps nowhere, not even hashed.");
    }
    /// Ids in the path, and the query string.
    QUERY {
        INVALID_ID = ("invalid_id", 400, "An id is not a well-formed id of the expected kind (acc_..., tr_..., cus_..., mem_..., aut_..., opr_..., bcd_...).");
        INVALID_QUERY = ("invalid_query", 400, "The query string cannot be parsed, repeats a parameter, or combines parameters that exclude each other.");
        UNKNOWN_PARAMETER = ("unknown_parameter", 400, "The query string has a parameter the endpoint does not know.");
        MISSING_PARAMETER = ("missing_parameter", 400, "A required query parameter is missing.");
        INVALID_CURSOR = ("invalid_cursor", 400, "The `after` cursor is not one this endpoint returned.");
    }
    /// Field values that parse but are not acceptable.
    VALUES {
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
        INVALID_KIND = ("invalid_kind", 422, "kind is neither \"personal\" nor \"enterprise\".");
        INVALID_SCOPE = ("invalid_scope", 422, "scope is neither \"external\" nor \"internal\".");
        INVALID_STATUS = ("invalid_status", 422, "status is not one of the statuses the endpoint sets (see its request schema).");
        INVALID_RESULT = ("invalid_result", 422, "result is not \"verified\" or \"failed\" (or, when an authentication is recorded, \"pending\").");
        INVALID_ROLE = ("invalid_role", 422, "role is not \"admin\", \"staff\", \"cashier\" or \"operator\".");
        INVALID_OPERATION = ("invalid_operation", 422, "An operation is not \"view\", \"pay\", \"transfer\" or \"withdraw\".");
        INVALID_DECISION = ("invalid_decision", 422, "decision is not \"approve\" or \"reject\".");
        INVALID_PAYOUT_RESULT = ("invalid_payout_result", 422, "result is not \"succeeded\" or \"failed\".");
        INVALID_DIRECTION = ("invalid_direction", 422, "direction is not \"credit\" or \"debit\".");
        INVALID_PURPOSE = ("invalid_purpose", 422, "purpose is not one this endpoint issues or checks codes for (see its request schema).");
    }
    /// The ledger: things that are not there, its rejections of a transfer
    /// (sanhu_core::ledger::TransferError, checked by a test) and why an account cannot be closed
    /// (sanhu_core::ledger::AccountCloseError).
    LEDGER {
        TRANSFER_NOT_FOUND = ("transfer_not_found", 404, "No transfer has this id.");
        EXISTS_WITH_DIFFERENT_FIELDS = ("exists_with_different_fields", 409, "A transfer with this id exists with different fields.");
        DUPLICATE_ID_IN_BATCH = ("duplicate_id_in_batch", 422, "The transfer id appears more than once in the request.");
        ACCOUNT_NOT_FOUND = ("account_not_found", 404, "The account does not exist.");
        SAME_ACCOUNT = ("same_account", 422, "The debit and credit accounts are the same.");
        CURRENCY_MISMATCH = ("currency_mismatch", 422, "The two accounts hold different currencies (or, authorising an operator, the currency given is not the account's).");
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
        ACCOUNT_HAS_PENDING = ("account_has_pending", 409, "The account has pending transfers (holds).");
        ACCOUNT_NOT_EMPTY = ("account_not_empty", 409, "The account's balance is not zero.");
    }
    /// The server's side.
    SERVER {
        INTERNAL_ERROR = ("internal_error", 500, "An unexpected error; it is logged with the request id.");
        LEDGER_UNAVAILABLE = ("ledger_unavailable", 503, "The ledger could not commit; nothing was applied. Retry after the Retry-After seconds.");
        NOT_READY = ("not_ready", 503, "The server cannot reach its database.");
        REQUEST_TIMEOUT = ("request_timeout", 503, "The request took longer than the server allows. With an Idempotency-Key, a retry returns the outcome.");
        // Every answer to a POST waits for the request's audit event (see `crate::audit`).
        AUDIT_UNAVAILABLE = ("audit_unavailable", 503, "The request was handled but its audit event could not be written, so its answer is withheld: it may have taken effect. Retry after the Retry-After seconds; with an Idempotency-Key the retry is applied at most once.");
    }
}

/// Seconds a client should wait before retrying a request the ledger could not commit, or one that
/// found the database out of reach.
const LEDGER_UNAVAILABLE_RETRY_AFTER_S: u32 = 1;

/// Seconds a client should wait before retrying a three-party change that kept meeting concurrent
/// changes of the same records.
const CONCURRENT_CHANGE_RETRY_AFTER_S: u32 = 1;

/// Every code the API can answer with: [`ERROR_CODES`] in their order (the HTTP layer's own codes, and
/// the ledger's), then the three-party model's codes that are not among them, in code order, each
/// with the status and message its rule declares (`sanhu_service::party::rule_codes()`), then the
/// wallet's likewise (`sanhu_service::wallet::wallet_codes()`), then the member cards' likewise
/// (`sanhu_service::card::card_codes()`), then the bills' likewise (`sanhu_service::bill::bill_codes()`).
/// A code declared in two places has one
/// status (a test checks). The OpenAPI document's `ErrorCode` enum is this list.
pub fn registry() -> &'static [ErrorCodeInfo] {
    static REGISTRY: OnceLock<Vec<ErrorCodeInfo>> = OnceLock::new();
    REGISTRY.get_or_init(|| {
        let mut registry = ERROR_CODES.to_vec();
        for rejection in rule_codes()
            .into_iter()
            .chain(wallet_codes())
            .chain(card_codes())
            .chain(bill_codes())
            .chain(webhook_codes())
        {
            if !registry.iter().any(|info| info.code == rejection.code) {
                registry.push(ErrorCodeInfo::from(rejection));
            }
        }
        registry
    })
}

impl From<Rejection> for ErrorCodeInfo {
    fn from(rejection: Rejection) -> ErrorCodeInfo {
        ErrorCodeInfo { code: rejection.code, status: rejection.status, description: rejection.message }
    }
}

/// A field holding a stable error code: the `ErrorCode` schema, by reference (the document's component
/// is made in `crate::openapi`, with the registry's table).
pub struct ErrorCodeName;

impl utoipa::PartialSchema for ErrorCodeName {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .enum_values(Some(registry().iter().map(|info| info.code)))
            .into()
    }
}

impl utoipa::ToSchema for ErrorCodeName {
    fn name() -> std::borrow::Cow<'static, str> {
        std::borrow::Cow::Borrowed("ErrorCode")
    }
}

/// What an endpoint is about, for the codes it can answer with ([`capability_codes`]): each section
/// of the route table (`crate::routes`) is one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Capability {
    /// `/health`, `/ready`, `/openapi.json`.
    Operations,
    /// The raw ledger (`crate::ledger`).
    Ledger,
    /// The audit log (`crate::audit`).
    Audit,
    /// The three-party model (`crate::party`).
    Party,
    /// The wallet's money flows (`crate::wallet`).
    Wallet,
    /// Staff sessions and maker-checker (`crate::staff`).
    Staff,
    /// Member cards (`crate::card`).
    Card,
    /// Members' bills and customer bills (`crate::bill`).
    Bill,
    /// Webhook subscriptions and deliveries (`crate::webhook`).
    Webhook,
}

impl Capability {
    /// The name the OpenAPI document gives what is the capability's own (`PartyNotFound`).
    pub fn name(self) -> &'static str {
        match self {
            Capability::Operations => "Operations",
            Capability::Ledger => "Ledger",
            Capability::Audit => "Audit",
            Capability::Party => "Party",
            Capability::Wallet => "Wallet",
            Capability::Staff => "Staff",
            Capability::Card => "Card",
            Capability::Bill => "Bill",
            Capability::Webhook => "Webhook",
        }
    }
}

/// Every code an endpoint of `capability` can answer with, signed or not, in registry order: the
/// codes every signed endpoint shares (the signature, a staff session, scopes and the rate limit,
/// the body and the query, the server's side), then the capability's own: the ledger's rejections,
/// the three-party model's rules (`rule_codes()`), the wallet's (`wallet_codes()`), staff's. The
/// OpenAPI document's error responses are these, by status.
pub fn capability_codes(capability: Capability, signed: bool) -> Vec<&'static ErrorCodeInfo> {
    use group::*;
    let mut groups: Vec<&[ErrorCodeInfo]> = Vec::new();
    if signed {
        groups.extend([SIGNATURE, STAFF_SESSION, ACCESS, BODY, QUERY]);
    }
    let mut service: Vec<&'static str> = Vec::new();
    match capability {
        Capability::Operations => {}
        Capability::Ledger => groups.extend([VALUES, LEDGER]),
        Capability::Audit => groups.push(VALUES),
        Capability::Party => {
            groups.push(VALUES);
            service.extend(rule_codes().iter().map(|rejection| rejection.code));
        }
        Capability::Wallet => {
            groups.push(VALUES);
            service.extend(wallet_codes().iter().map(|rejection| rejection.code));
        }
        Capability::Card => {
            groups.push(VALUES);
            service.extend(card_codes().iter().map(|rejection| rejection.code));
            // A card type names its merchant; a card is bound to a member; a card's payment to a
            // merchant needs member cards signed.
            service.extend(["merchant_not_found", "member_not_found", "product_not_signed"]);
        }
        Capability::Bill => {
            groups.push(VALUES);
            service.extend(bill_codes().iter().map(|rejection| rejection.code));
            // A bill is of a member; a customer bill of a customer.
            service.extend(["member_not_found", "customer_not_found"]);
        }
        Capability::Webhook => {
            groups.push(VALUES);
            service.extend(webhook_codes().iter().map(|rejection| rejection.code));
        }
        Capability::Staff => {
            groups.extend([BODY, STAFF, VALUES]);
            // Signing in is limited per source address, and is the staff member's own word.
            groups.push(&[code::RATE_LIMITED]);
        }
    }
    groups.push(SERVER);
    registry()
        .iter()
        .filter(|info| {
            groups.iter().any(|group| group.iter().any(|c| c.code == info.code)) || service.contains(&info.code)
        })
        .collect()
}

/// Looks a code up in the registry.
pub fn code_info(code: &str) -> Option<&'static ErrorCodeInfo> {
    registry().iter().find(|info| info.code == code)
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
        ApiError::refused(Rejection::of(error))
    }

    pub fn account_close(error: AccountCloseError) -> ApiError {
        ApiError::refused(Rejection::of(error))
    }

    /// A rule's refusal, answered with the status it was declared with.
    pub fn refused(rejection: Rejection) -> ApiError {
        let mut error = ApiError::new(ErrorCodeInfo::from(rejection), rejection.message);
        // Pay password hashes at their bound: a second later, one is likely free.
        if rejection.code == code::RATE_LIMITED.code {
            error = error.with_retry_after(1);
        }
        if error.info.status >= 500 {
            tracing::error!(request.id = %request_id::current(), code = rejection.code, "a stored record contradicts itself");
        }
        error
    }

    /// A use case's failure (three-party, wallet, staff): its refusal with the status it was declared
    /// with, a contention as 409 `concurrent_change`, a store failure as 503 or 500 by its source chain.
    pub fn use_case(failure: impl UseCaseFailure) -> ApiError {
        match failure.into_failure() {
            Failure::Refused(rejection) => ApiError::refused(rejection),
            Failure::Contended => ApiError::contended(),
            Failure::Internal(error) => ApiError::from(error),
        }
    }

    /// Other requests kept changing the same records: 409 `concurrent_change`, retry after a second.
    pub fn contended() -> ApiError {
        ApiError::refused(CONCURRENT_CHANGE).with_retry_after(CONCURRENT_CHANGE_RETRY_AFTER_S)
    }

    /// The writer failed the batch: nothing of it was applied, so the caller may retry.
    pub fn ledger_unavailable(error: SubmitError) -> ApiError {
        // The storage failure was logged by the writer, once for the whole batch.
        tracing::warn!(request.id = %request_id::current(), error = error_chain(&error), "the ledger could not commit");
        ApiError {
            info: code::LEDGER_UNAVAILABLE,
            message: "the ledger could not commit the request; nothing was applied, retry".to_owned(),
            retry_after_s: Some(LEDGER_UNAVAILABLE_RETRY_AFTER_S),
        }
    }

    /// The same error, telling the caller to retry after `seconds` (`Retry-After`).
    pub fn with_retry_after(self, seconds: u32) -> ApiError {
        ApiError { retry_after_s: Some(seconds), ..self }
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

/// Every capability's use case failure converts the same way ([`ApiError::use_case`]).
macro_rules! from_use_case_failures {
    ($($failure:ty),+) => {
        $(impl From<$failure> for ApiError {
            fn from(failure: $failure) -> ApiError {
                ApiError::use_case(failure)
            }
        })+
    };
}

from_use_case_failures!(
    PartyError,
    MerchantFailure,
    WalletFailure,
    StaffFailure,
    CardFailure,
    BillFailure,
    WebhookFailure
);

/// An error and every cause under it, for the log: `a: b: c`.
pub fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        text.push_str(": ");
        text.push_str(&next.to_string());
        cause = next.source();
    }
    text
}

/// A store error: 503 if the database is unavailable, else an internal error. An error that came
/// from the ledger's writer (a wallet use case's chain it could not commit) is answered as the ledger
/// endpoints answer it: 503 `ledger_unavailable`.
impl From<anyhow::Error> for ApiError {
    fn from(error: anyhow::Error) -> ApiError {
        if error.chain().any(|cause| cause.downcast_ref::<SubmitError>().is_some()) {
            tracing::warn!(request.id = %request_id::current(), error = format!("{error:#}"), "the ledger could not commit");
            return ApiError {
                info: code::LEDGER_UNAVAILABLE,
                message: "the ledger could not commit the request; nothing was applied, retry".to_owned(),
                retry_after_s: Some(LEDGER_UNAVAILABLE_RETRY_AFTER_S),
            };
        }
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

/// Set on a 5xx that provably decided nothing (`not_ready`, `ledger_unavailable` of a request that
/// had committed no write, `sanhu_service::effects`): a key it ran under is released, so that a
/// retry runs afresh. Any other answer of a request that ran is kept under its key, a 5xx too, since
/// the request may have had effects (see `crate::idempotency`).
#[derive(Clone, Copy, Debug)]
pub(crate) struct NothingApplied;

/// Set on `not_ready` / `ledger_unavailable` of a request that wrote its own record and chain but
/// could not finish (`sanhu_service::effects::Written::Resumable`): running it again finds the record
/// and finishes it without repeating a step, so its key is released as for [`NothingApplied`], and
/// the retry's answer is the request's final one.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Unfinished;

/// Set on every refusal's answer: its code, as written in the body. The audit layer takes the code from
/// here rather than parsing the body back (a body without it, not made by [`ApiError`], is parsed).
#[derive(Clone, Copy, Debug)]
pub(crate) struct AnsweredCode(pub(crate) &'static str);

impl IntoResponse for ApiError {
    fn into_response(mut self) -> Response {
        use sanhu_service::effects::{current, Written};
        let unavailable = [code::NOT_READY.code, code::LEDGER_UNAVAILABLE.code].contains(&self.info.code);
        // What the request wrote before the failure decides what the answer may promise.
        let written = if unavailable { current().unwrap_or(Written::Nothing) } else { Written::Nothing };
        let what = if self.info.code == code::LEDGER_UNAVAILABLE.code { "the ledger" } else { "the database" };
        match written {
            Written::Nothing => {}
            Written::Resumable => {
                self.message = format!(
                    "the request was recorded but {what} could not commit its next step, so it is not finished; \
                     retry it (with the same Idempotency-Key or order number) to finish it: no step is repeated"
                );
            }
            Written::Unrecognised => {
                self.message = format!(
                    "part of the request was applied before {what} failed, and running it again could repeat that \
                     part: this answer is kept under its Idempotency-Key; look at what it changed before sending \
                     it again"
                );
                self.retry_after_s = None;
            }
        }
        let body = ErrorBody {
            error: ErrorDetail { code: self.info.code, message: &self.message, request_id: request_id::current() },
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        response.extensions_mut().insert(AnsweredCode(self.info.code));
        if let Some(seconds) = self.retry_after_s {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        match (unavailable, written) {
            (true, Written::Nothing) => {
                response.extensions_mut().insert(NothingApplied);
            }
            (true, Written::Resumable) => {
                response.extensions_mut().insert(Unfinished);
            }
            _ => {}
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use sanhu_core::staff::StaffError;

    use super::*;

    #[test]
    fn every_code_is_registered_once_with_an_error_status() {
        let mut seen = HashSet::new();
        for info in registry() {
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

    /// Every refusal of the service is registered with the status it was declared with, and a code
    /// declared in two places (an HTTP code that a rule also answers) has one status.
    #[test]
    fn every_service_code_is_registered_with_its_declared_status() {
        let mut seen = std::collections::HashMap::new();
        for rejection in rule_codes()
            .into_iter()
            .chain(wallet_codes())
            .chain(card_codes())
            .chain(bill_codes())
            .chain(webhook_codes())
        {
            if let Some(status) = seen.insert(rejection.code, rejection.status) {
                assert_eq!(status, rejection.status, "{} is declared with two statuses", rejection.code);
            }
            let info = code_info(rejection.code).unwrap_or_else(|| panic!("{} is not registered", rejection.code));
            assert_eq!(info.status, rejection.status, "{}", rejection.code);
        }
        for error in StaffError::ALL {
            if let Some(info) = code_info(error.code()) {
                assert_eq!(info.status, error.status(), "{}", error.code());
            }
        }
    }

    /// The statuses follow the rule `sanhu_core`'s `rejection_codes!` states: absent 404, who acts or
    /// a ban 403, a conflict with the current state 409, an unacceptable value 422, a stored record
    /// that contradicts itself 500.
    #[test]
    fn service_codes_have_the_status_of_their_kind() {
        const FORBIDDEN: &[&str] = &[
            "customer_banned",
            "member_locked",
            "merge_requires_administrator",
            "operation_not_allowed_for_role",
            "pay_password_locked",
            "pay_password_incorrect",
        ];
        const CONFLICTS: &[&str] = &[
            "identity_taken",
            "basic_account_exists",
            "account_type_limit_reached",
            "certificate_conflict",
            "certificate_taken",
            "customer_merged",
            "member_cancelled",
            "account_not_empty",
            "account_has_pending",
            "account_closed",
            "last_admin",
            "last_identity",
            "concurrent_change",
            "authentication_not_pending",
            "member_not_active",
        ];
        // The ledger's results keep the ledger's rule (`TransferError::status`): a hold already posted
        // is a refusal of the transfer (422), not a conflict.
        let ledger = |code: &str| TransferError::ALL.iter().any(|e| e.code() == code);
        let every = rule_codes()
            .into_iter()
            .chain(wallet_codes())
            .chain(card_codes())
            .chain(bill_codes())
            .chain(webhook_codes());
        for rejection in every.filter(|r| !ledger(r.code)) {
            let (code, status) = (rejection.code, rejection.status);
            let expected = if code.ends_with("_not_found") {
                Some(404)
            } else if FORBIDDEN.contains(&code)
                || code.contains("not_authorised")
                || code.starts_with("operator_limit_per")
            {
                Some(403)
            } else if CONFLICTS.contains(&code) || code.ends_with("_unchanged") || code.contains("already") {
                Some(409)
            } else if code.ends_with("_invalid")
                && !code.starts_with("operator_limits")
                && !matches!(code, "order_state_invalid")
            {
                Some(422)
            } else if code.ends_with("_inconsistent") && code != "operator_limits_inconsistent" {
                Some(500)
            } else {
                None
            };
            if let Some(expected) = expected {
                assert_eq!(status, expected, "{code}");
            } else {
                assert!(matches!(status, 403 | 409 | 422 | 429), "{code} has status {status}");
            }
        }
    }

    #[test]
    fn a_party_refusal_is_answered_with_its_declared_status() {
        let error = ApiError::from(PartyError::from(sanhu_core::party::member::MemberError::MemberLocked));
        assert_eq!((error.code(), error.status().as_u16()), ("member_locked", 403));
        let response = ApiError::from(PartyError::Contended).into_response();
        assert_eq!(response.status().as_u16(), 409);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    /// A database out of reach (here SQLite's disk full, under the context a unit of work adds) is
    /// 503 `not_ready` from every capability's failure, however it travelled: the store's error keeps
    /// its source chain to the edge. A failure that is not the database's is 500.
    #[test]
    fn an_unavailable_database_is_503_from_every_capability() {
        let disk_full = || {
            let failure = rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL);
            anyhow::Error::new(rusqlite::Error::SqliteFailure(failure, None)).context("committing a unit of work")
        };
        let answers = [
            ("ledger", ApiError::from(disk_full())),
            ("party", ApiError::from(PartyError::Internal(disk_full()))),
            ("wallet", ApiError::from(WalletFailure::Internal(disk_full()))),
            ("wallet, through party", ApiError::from(WalletFailure::from(PartyError::Internal(disk_full())))),
            ("staff", ApiError::from(StaffFailure::Internal(disk_full()))),
        ];
        for (capability, answer) in answers {
            assert_eq!((answer.code(), answer.status().as_u16()), ("not_ready", 503), "{capability}");
            let response = answer.into_response();
            assert!(response.headers().contains_key(header::RETRY_AFTER), "{capability}");
        }
        // The failure enums are errors whose source is the store's, for a caller that walks the chain.
        let failure = WalletFailure::Internal(disk_full());
        assert!(sanhu_store::is_unavailable(&anyhow::Error::new(failure)));
        let bug = ApiError::from(PartyError::Internal(anyhow::anyhow!("a stored record cannot be decoded")));
        assert_eq!((bug.code(), bug.status().as_u16()), ("internal_error", 500));
    }

    /// What a 503 of the database or the ledger promises follows what the request wrote before it
    /// (`sanhu_service::effects`): nothing (released, "nothing was applied"), its own record and chain
    /// (released, "not finished": the rerun finishes it), or anything else (kept under its key, no
    /// invitation to retry).
    #[tokio::test]
    async fn a_503_promises_only_what_the_request_wrote_allows() {
        use sanhu_service::effects::{recorded, scope, wrote};
        let answer = || ApiError::ledger_unavailable(SubmitError::Stopped).into_response();
        let outcome = |response: Response| {
            let (parts, _) = response.into_parts();
            let released = crate::idempotency::outcome_of(&parts, b"{}").is_none();
            let retry = parts.headers.contains_key(header::RETRY_AFTER);
            (
                parts.extensions.get::<NothingApplied>().is_some(),
                parts.extensions.get::<Unfinished>().is_some(),
                released,
                retry,
            )
        };
        assert_eq!(outcome(scope(async { answer() }).await), (true, false, true, true), "nothing written");
        let resumable = scope(async {
            wrote();
            recorded();
            answer()
        })
        .await;
        assert_eq!(outcome(resumable), (false, true, true, true), "its record and chain written");
        let unrecognised = scope(async {
            wrote();
            answer()
        })
        .await;
        assert_eq!(outcome(unrecognised), (false, false, false, false), "something else written: kept");
        let database = scope(async {
            wrote();
            ApiError::unavailable(anyhow::anyhow!("gone")).into_response()
        })
        .await;
        assert_eq!(outcome(database), (false, false, false, false), "not_ready alike");
        // Another 5xx is kept whatever was written.
        assert_eq!(outcome(ApiError::internal(anyhow::anyhow!("bug")).into_response()), (false, false, false, false));
    }

    #[test]
    fn a_use_case_whose_ledger_submission_failed_is_answered_ledger_unavailable() {
        // As a wallet use case hands it on: the writer's error under context, inside a PartyError.
        let failed = anyhow::Error::new(SubmitError::Stopped).context("the ledger did not answer");
        let response = ApiError::from(PartyError::Internal(failed)).into_response();
        assert_eq!(response.status().as_u16(), 503);
        assert!(response.headers().contains_key(header::RETRY_AFTER));
        // A string of the same text is not recognised: the source has to be kept.
        let flattened = anyhow::anyhow!("the ledger did not answer: {}", SubmitError::Stopped);
        assert_eq!(ApiError::from(flattened).code(), "internal_error");
    }
}
