//! sanhu's domain: money, ids, time, the ledger's rules, the three-party model and the wallet's rules.
//!
//! Architecture invariant: this crate does no IO. It has no async, no database and no HTTP, and so it
//! cannot fail on IO; everything in it is a pure function of its inputs (the clock and randomness are
//! passed in), which is what lets the ledger's batch-apply state machine be tested against a model.

// Declared first: macro_rules! macros are in scope only in the modules that follow.
#[macro_use]
mod codes;

pub mod bill;
pub mod card;
pub mod id;
pub mod id_hash;
pub mod ledger;
pub mod money;
#[cfg(feature = "openapi")]
pub mod openapi;
pub mod party;
pub mod reconciliation;
pub mod scope;
pub mod settlement;
pub mod staff;
pub mod time;
pub mod wallet;

pub use codes::Refusal;
pub use id::{AccountId, Id128, TransferId};
pub use money::{Amount, Currency};
pub use time::{PlatformCalendar, PlatformDay, PlatformMonth, Timestamp, UnknownTimeZone, PLATFORM_TIME_ZONE_DEFAULT};
