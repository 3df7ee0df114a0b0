//! sanhu's use cases. Today: the ledger (accounts, transfers, holds) and its batched writer, and the
//! background job that expires holds.
//!
//! Architecture invariant: nothing here knows about HTTP. Every balance change goes through the
//! [`writer::Writer`], which is the only caller of `LedgerStore::commit_batch`.

pub mod clock;
pub mod jobs;
pub mod ledger;
pub mod writer;

pub use ledger::{Ledger, LedgerConfig, NewAccount, SubmitError};
