//! Records the store keeps besides the ledger's own: API clients, nonces, idempotency keys, and the
//! queries and reports it answers.

use sanhu_core::id::MemberId;
use sanhu_core::ledger::Account;
use sanhu_core::scope::Scopes;
use sanhu_core::{AccountId, Timestamp};

/// Tuning that both backends take explicitly rather than from library defaults. The SQLite values
/// bound what the store holds in memory and on disk besides the database itself.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    /// Connections for reads (SQLite readers kept open, PostgreSQL pool size).
    pub read_connections: u32,
    /// SQLite page cache of the writer connection, in KiB.
    pub sqlite_cache_kib: u32,
    /// SQLite page cache of each reader connection (and of the WAL checkpointer's), in KiB.
    pub sqlite_read_cache_kib: u32,
    /// How long SQLite waits for a lock held by another connection, in milliseconds.
    pub sqlite_busy_timeout_ms: u32,
    /// The bound on SQLite's write-ahead log file, in bytes: it is checkpointed and truncated before
    /// it reaches it (see `sqlite::bound_wal`).
    pub sqlite_wal_bytes_max: u64,
    /// Ledger accounts the SQLite writer keeps in memory (about 200 bytes each); past it the cache
    /// starts afresh.
    pub sqlite_account_cache_entries: usize,
}

/// The defaults: 64 MiB of page cache for the writer, 16 MiB for each of 4 readers and for the
/// checkpointer, a WAL of at most 64 MiB, 100,000 cached accounts.
pub const SQLITE_CACHE_KIB_DEFAULT: u32 = 64 * 1024;
pub const SQLITE_READ_CACHE_KIB_DEFAULT: u32 = 16 * 1024;
pub const SQLITE_WAL_BYTES_MAX_DEFAULT: u64 = 64 * 1024 * 1024;
pub const SQLITE_ACCOUNT_CACHE_ENTRIES_DEFAULT: usize = 100_000;

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            read_connections: 4,
            sqlite_cache_kib: SQLITE_CACHE_KIB_DEFAULT,
            sqlite_read_cache_kib: SQLITE_READ_CACHE_KIB_DEFAULT,
            sqlite_busy_timeout_ms: 5_000,
            sqlite_wal_bytes_max: SQLITE_WAL_BYTES_MAX_DEFAULT,
            sqlite_account_cache_entries: SQLITE_ACCOUNT_CACHE_ENTRIES_DEFAULT,
        }
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

/// A server-to-server API client: it signs requests with an Ed25519 key whose public half is here,
/// holds scopes, and may be bound to one enterprise member (a merchant) whose objects alone it reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiClient {
    /// `cli_…`
    pub id: String,
    pub name: String,
    /// Its public keys, revoked ones included, in the order they were added (numbered from 1). A
    /// request verifies against any active one; at most [`CLIENT_ACTIVE_KEYS_MAX`] are active.
    pub keys: Vec<ClientKey>,
    /// What it may do.
    pub scopes: Scopes,
    /// The enterprise member it acts for, if it is bound to one.
    pub bound_to: Option<MemberId>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl ApiClient {
    /// A client with one key (number 1), every scope, bound to no member.
    pub fn new(id: String, name: String, public_key: [u8; 32], created_at: Timestamp) -> ApiClient {
        ApiClient {
            id,
            name,
            keys: vec![ClientKey { number: 1, public_key, added_at: created_at, revoked_at: None }],
            scopes: Scopes::all(),
            bound_to: None,
            created_at,
            revoked_at: None,
        }
    }

    /// The keys a signature may verify against.
    pub fn active_keys(&self) -> impl Iterator<Item = &ClientKey> {
        self.keys.iter().filter(|key| key.revoked_at.is_none())
    }
}

/// One public key of an API client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientKey {
    /// 1 for the key the client was created with, one more for each key added.
    pub number: u32,
    /// Ed25519 public key, 32 bytes.
    pub public_key: [u8; 32],
    pub added_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// Most keys a client holds active at once: two, so that a key is rotated by adding the new one,
/// moving the callers over, then revoking the old one, without a moment when no key works.
pub const CLIENT_ACTIVE_KEYS_MAX: usize = 2;

/// What adding a key to a client did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAdded {
    /// The key is active under this number.
    Added { number: u32 },
    /// No client has this id.
    NoClient,
    /// The client holds [`CLIENT_ACTIVE_KEYS_MAX`] active keys already: revoke one first.
    TooManyActive,
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

/// One row of the query both backends read clients with: a client's columns and one of its keys
/// (none for a client without keys), ordered by client, then key number.
pub(crate) struct ClientKeyRow {
    pub id: String,
    pub name: String,
    /// The scopes' names, separated by spaces.
    pub scopes: String,
    pub bound_to: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub key: Option<ClientKey>,
}

/// The query's columns, in `ClientKeyRow`'s order, then the key's: number, public key, added at,
/// revoked at; the caller appends its condition and order. A macro, so that `concat!` can make a
/// `&'static str` of the whole statement (PostgreSQL's statement cache takes one).
macro_rules! clients_with_keys {
    () => {
        "SELECT c.id, c.name, c.scopes, c.bound_to, c.created_at, c.revoked_at, \
         k.number, k.public_key, k.added_at, k.revoked_at \
         FROM api_clients c LEFT JOIN api_client_keys k ON k.client_id = c.id"
    };
}
pub(crate) use clients_with_keys;

/// Folds consecutive rows of one client into one [`ApiClient`]. A stored value no client could have
/// (an unknown scope, a malformed member id) is an error, not a client with less.
pub(crate) fn clients_from_rows(rows: impl IntoIterator<Item = ClientKeyRow>) -> anyhow::Result<Vec<ApiClient>> {
    let mut clients: Vec<ApiClient> = Vec::new();
    for row in rows {
        if clients.last().is_none_or(|client| client.id != row.id) {
            let scopes = Scopes::parse_list(&row.scopes)
                .map_err(|unknown| anyhow::anyhow!("API client {} has a stored scope that {unknown}", row.id))?;
            let bound_to = match &row.bound_to {
                None => None,
                Some(text) => Some(
                    MemberId::parse(text)
                        .ok_or_else(|| anyhow::anyhow!("API client {} is bound to {text:?}, no member id", row.id))?,
                ),
            };
            clients.push(ApiClient {
                id: row.id,
                name: row.name,
                keys: Vec::new(),
                scopes,
                bound_to,
                created_at: Timestamp::from_nanos(row.created_at),
                revoked_at: row.revoked_at.map(Timestamp::from_nanos),
            });
        }
        if let (Some(key), Some(client)) = (row.key, clients.last_mut()) {
            client.keys.push(key);
        }
    }
    Ok(clients)
}
