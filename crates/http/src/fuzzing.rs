//! The crate's parsers as the fuzz targets (`fuzz/`) reach them: the request bodies and query strings
//! are read by private modules, so this names them for the targets. Nothing here is new parsing;
//! every function is the one the handlers call.

pub use crate::json::{parse_body, parse_body_or_empty};
pub use crate::query::QueryParams;

use sanhu_core::ledger::TransferRequest;

/// A ledger batch's body (`POST /v1/ledger/transfers/batch`) read into its transfer requests, as the
/// handler reads it before submitting them; without an Idempotency-Key, so an item without an `id`
/// gets a new one.
pub fn ledger_batch(body: &[u8]) -> Result<Vec<TransferRequest>, crate::ApiError> {
    crate::ledger::transfers::batch_requests(body, None)
}

/// The body a request's idempotency fingerprint is taken of (a top-level `pay_password` left out).
pub fn fingerprinted_body(body: &[u8]) -> Vec<u8> {
    crate::idempotency::without_pay_password(body).into_owned()
}
