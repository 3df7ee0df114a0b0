//! The database as a whole, whatever it holds: its schema, whether it answers, how durably it
//! commits, and the tuning a backend is opened with.

store_trait! {
    /// What every backend provides about the database itself rather than one kind of record.
    pub trait DatabaseStore {
        /// Creates or upgrades the schema (every concern's tables). Idempotent.
        fn migrate(&self) -> anyhow::Result<()>;
        /// Checks that the database answers (readiness); on SQLite, that it takes a write; on
        /// PostgreSQL, that the server is a primary that takes writes (else [`crate::NotPrimary`]).
        fn ping(&self) -> anyhow::Result<()>;
        /// The durability setting in force, and whether it is the one sanhu requires.
        fn durability(&self) -> anyhow::Result<Durability>;
    }
}

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
