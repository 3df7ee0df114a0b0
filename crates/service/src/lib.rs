//! sanhu's use cases: the ledger (accounts, transfers, holds) and its batched writer; the three-party
//! model (customers, members, their accounts: [`party`]); the background jobs (hold expiry, dormancy).
//!
//! Architecture invariant: nothing here knows about HTTP. Every balance change goes through the
//! [`writer::Writer`], which is the only caller of `LedgerStore::commit_batch`.

// Declared first: macro_rules! macros are in scope only in the modules that follow.
#[macro_use]
pub mod failure;
pub mod audit;
pub mod batch_failure;
pub mod bill;
pub mod card;
pub mod clock;
pub mod effects;
pub mod free_text;
pub mod hashing;
pub mod idempotency_claims;
pub mod jobs;
pub mod ledger;
pub mod metrics;
pub mod nonces;
#[macro_use]
pub mod party;
pub mod reads;
pub mod staff;
pub mod turns;
pub mod wallet;
pub mod webhook;
pub mod writer;

pub use ledger::{Ledger, LedgerConfig, NewAccount, SubmitError};
