//! Records the store keeps besides the ledger's own: API clients, nonces, idempotency keys, and the
//! queries and reports it answers.

use sanhu_core::ledger::Account;
use sanhu_core::{AccountId, Timestamp};

/// Tuning that both backends take explicitly rather than from library defaults.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Connections for reads (SQLite readers, PostgreSQL pool size).
    pub read_connections: u32,
    /// SQLite page cache per connection, in KiB.
    pub sqlite_cache_kib: u32,
    /// How long SQLite waits for a lock held by another connection, in milliseconds.
    pub sqlite_busy_timeout_ms: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions { read_connections: 4, sqlite_cache_kib: 256 * 1024, sqlite_busy_timeout_ms: 5_000 }
    }
}

/// The durability setting a backend runs with.
#[derive(Clone, Debug)]
pub struct Durability {
    /// e.g. `journal_mode=wal synchronous=FULL` or `synchronous_commit=on fsync=on`.
    pub setting: String,
    /// Whether it is as strong as sanhu requires (a success answer means the data is on disk).
    pub durable: bool,
}

/// A change of an account's flags, decided under the account's row lock.
pub type FlagChange<E> = Box<dyn FnOnce(&Account) -> Result<sanhu_core::ledger::AccountFlags, E> + Send>;

/// Which entries of an account to list: timestamps in `[from, to)`, after the cursor `after`
/// (a timestamp, exclusive), oldest first, at most `limit`.
#[derive(Clone, Debug)]
pub struct EntryQuery {
    pub account_id: AccountId,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub after: Option<Timestamp>,
    pub limit: u32,
}

/// What `verify` found. Empty `problems` means the ledger is consistent.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub accounts_checked: u64,
    pub transfers_checked: u64,
    pub problems: Vec<String>,
}

/// A server-to-server API client: it signs requests with an Ed25519 key whose public half is here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiClient {
    /// `cli_…`
    pub id: String,
    pub name: String,
    /// Ed25519 public key, 32 bytes.
    pub public_key: [u8; 32],
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// An idempotency key is scoped to the client that sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub client_id: String,
    pub key: String,
}

/// How long a claim on an idempotency key holds, in seconds. A claim older than this whose request
/// never completed belongs to a process that died: the next request with the same key takes it over.
/// Most dead claims go sooner: a claim records the store that made it, and one whose store is known to
/// be gone (its instance lock is free: the process ended) is taken over at once. The lease is for
/// the claims whose claimant cannot be told apart from a live one.
pub const IDEMPOTENCY_CLAIM_LEASE_S: u32 = 60;

/// A response kept for replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is now claimed by this request: run it, then complete or release the key.
    Claimed,
    /// The key has a stored response for the same request: replay it.
    Replay(StoredResponse),
    /// The key was used for a different request.
    Mismatch,
    /// The key's first request is still running.
    InUse,
}
