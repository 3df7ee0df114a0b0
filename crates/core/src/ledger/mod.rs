//! The ledger: accounts with four counters, transfers between them, and the pure state machine that
//! applies a batch of transfer requests. Modelled on TigerBeetle's accounts and transfers; see
//! docs/ARCHITECTURE.md for how the store persists what this module decides.

mod account;
mod apply;
/// The reference model the ledger is tested against: compiled for tests only (core's own, and the
/// crates that enable the `model` feature in their dev-dependencies).
#[cfg(any(test, feature = "model"))]
pub mod model;
mod result;
#[cfg(test)]
mod tests;
mod transfer;
pub mod verify;

pub use account::{Account, AccountFlags, BalanceLimit, Counters, NormalSide};
pub use apply::{apply_batch, check_submission, BatchNeeds, BatchOutcome, LedgerState, PendingRecord, PendingStatus};
pub use result::{AccountCloseError, TransferError};
pub use transfer::{Transfer, TransferAction, TransferKind, TransferRequest};

/// The most transfers one database transaction applies. 8190 is TigerBeetle's batch size; every store
/// statement that depends on it is chunked to stay within its backend's parameter limit.
pub const BATCH_TRANSFERS_MAX: usize = 8190;
/// Longest business reference (the caller's order number) in bytes.
pub const REFERENCE_LEN_MAX: usize = 128;
/// Longest business type code in bytes.
pub const CODE_LEN_MAX: usize = 32;
/// Largest metadata document, as JSON text, in bytes.
pub const METADATA_LEN_MAX: usize = 4096;
/// Longest a hold may wait before it expires: 30 days.
pub const PENDING_TIMEOUT_S_MAX: u32 = 30 * 24 * 3600;
