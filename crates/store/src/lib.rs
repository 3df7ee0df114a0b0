//! Persistence for sanhu: one trait per concern, each with two implementations (SQLite, the
//! embedded default; PostgreSQL, production), and the [`Store`] enum that is whichever of the two is
//! configured.
//!
//! The concerns, each a trait, a module here and a file of the same name in `sqlite/` and
//! `postgres/`:
//! - [`DatabaseStore`] (`database.rs`): the database as a whole: migrations, readiness, durability;
//! - [`LedgerStore`] (`ledger.rs`): accounts, transfers, holds and entries;
//! - [`AccessStore`] (`access.rs`): API clients and their keys, request nonces, idempotency keys;
//! - [`party::PartyStore`] (`party.rs`): the three-party records;
//! - [`audit::AuditStore`] (`audit.rs`): the hash-chained audit log;
//! - [`staff::StaffStore`] (`staff.rs`): staff accounts and their sessions;
//! - [`approvals::ApprovalStore`] (`approvals.rs`): maker-checker's approvals;
//! - [`bill::BillStore`] (`bill.rs`): members' bills and the monthly run's progress;
//! - [`card::CardStore`] (`card.rs`): member cards: types, number segments, batches, cards and their
//!   transactions.
//!
//! Each trait is declared with `store_trait!`, which also implements it for [`Store`] by handing
//! every call to the configured backend: a method is written once in its trait and once per backend.
//!
//! Architecture invariant: the store decides nothing about money. It loads the rows a batch needs,
//! hands them to `sanhu_core::ledger::apply_batch`, and writes the outcome in one transaction; every
//! rule lives in core. What it does own is durability (a batch is on disk before `commit_batch`
//! returns) and isolation (two writers never apply to the same account at once).

/// Declares a store trait and implements it for [`Store`], each method forwarded to the configured
/// backend's implementation. Methods are written as if synchronous, `fn name(&self, args) -> Output;`:
/// the trait declares each as returning `impl Future<Output = Output> + Send`, which a backend
/// implements with an `async fn`. Every method is required (no default bodies); a generic method
/// takes one type parameter, bounded `Send + 'static` (what a backend needs to move it to a blocking
/// thread or across a connection's task).
macro_rules! store_trait {
    (
        $(#[$meta:meta])*
        pub trait $name:ident {
            $(
                $(#[$method_meta:meta])*
                fn $method:ident $(<$generic:ident: Send + 'static>)? (&self $(, $arg:ident: $ty:ty)* $(,)?) -> $output:ty;
            )*
        }
    ) => {
        $(#[$meta])*
        pub trait $name: Send + Sync {
            $(
                $(#[$method_meta])*
                fn $method $(<$generic: Send + 'static>)? (&self $(, $arg: $ty)*)
                    -> impl ::std::future::Future<Output = $output> + Send;
            )*
        }

        impl $name for crate::Store {
            $(
                async fn $method $(<$generic: Send + 'static>)? (&self $(, $arg: $ty)*) -> $output {
                    match self {
                        crate::Store::Sqlite(store) => {
                            <crate::sqlite::SqliteStore as $name>::$method(store $(, $arg)*).await
                        }
                        crate::Store::Postgres(store) => {
                            let result = <crate::postgres::PostgresStore as $name>::$method(store $(, $arg)*).await;
                            // A connection lost, a server shutting down, a session that no longer
                            // takes writes: the database may have failed over, so no connection of
                            // the moment is used again (see `postgres::pool`).
                            if let Err(error) = &result {
                                if crate::is_unavailable(error) {
                                    store.discard_connections();
                                }
                            }
                            result
                        }
                    }
                }
            )*
        }
    };
}

mod access;
pub mod approvals;
pub mod audit;
pub mod bill;
pub mod card;
mod database;
mod ledger;
pub mod party;
pub mod postgres;
mod redact;
pub mod sqlite;
pub mod staff;
pub mod testing;
pub mod webhook;

pub use access::*;
pub use database::*;
pub use ledger::*;
pub use redact::{redact_url, REDACTED};

/// The configured database, one of the two backends. Enum dispatch keeps calls static.
#[derive(Clone)]
pub enum Store {
    Sqlite(sqlite::SqliteStore),
    Postgres(postgres::PostgresStore),
}

/// A database URL, read by its scheme: `sqlite://<path>`, or `postgres://…` / `postgresql://…`.
/// Anything else is refused rather than taken for a file name: `mysql://db/sanhu` or a misspelt
/// `postgress://…` would otherwise serve a fresh, empty SQLite database in a folder named after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatabaseUrl<'a> {
    /// The SQLite file's path (relative to the working directory unless absolute).
    Sqlite(&'a str),
    /// The whole URL, as PostgreSQL's client reads it.
    Postgres(&'a str),
}

impl<'a> DatabaseUrl<'a> {
    pub fn parse(url: &'a str) -> anyhow::Result<DatabaseUrl<'a>> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(DatabaseUrl::Postgres(url));
        }
        match url.strip_prefix("sqlite://") {
            Some("") => anyhow::bail!(
                "sqlite:// names no file: write sqlite://<path> (e.g. sqlite://sanhu.db) or postgres://user@host/db"
            ),
            Some(path) => Ok(DatabaseUrl::Sqlite(path)),
            None => {
                // Shown up to its scheme only: the rest may hold a password.
                let shown = url.split_once("://").map_or(url, |(scheme, _)| scheme);
                anyhow::bail!(
                    "{shown:?} is not a database URL sanhu opens: write sqlite://<path> (e.g. sqlite://sanhu.db) or \
                     postgres://user@host/db (postgresql:// too)"
                )
            }
        }
    }
}

impl Store {
    /// Opens `sqlite://path` or `postgres://…` (see [`DatabaseUrl`]).
    pub async fn open(url: &str, options: &StoreOptions) -> anyhow::Result<Store> {
        match DatabaseUrl::parse(url)? {
            DatabaseUrl::Postgres(url) => Ok(Store::Postgres(postgres::PostgresStore::connect(url, options).await?)),
            DatabaseUrl::Sqlite(path) => Ok(Store::Sqlite(sqlite::SqliteStore::open(path, options)?)),
        }
    }

    /// A standby of the PostgreSQL database at `replica_url`, for the reads that may be served from
    /// one (docs/OPERATIONS.md, "Read replicas"); connected on first use. SQLite has no standbys:
    /// refused.
    pub fn open_replica(replica_url: &str, options: &StoreOptions) -> anyhow::Result<Store> {
        match DatabaseUrl::parse(replica_url)? {
            DatabaseUrl::Postgres(url) => Ok(Store::Postgres(postgres::PostgresStore::replica(url, options)?)),
            DatabaseUrl::Sqlite(_) => anyhow::bail!("a read replica is a PostgreSQL standby: write postgres://…"),
        }
    }

    /// The primary's write-ahead log position now (PostgreSQL); None on SQLite, which has no standbys.
    pub async fn wal_position(&self) -> anyhow::Result<Option<u64>> {
        match self {
            Store::Sqlite(_) => Ok(None),
            Store::Postgres(store) => Self::discarding_if_unavailable(store, store.wal_position().await).map(Some),
        }
    }

    /// How far this standby has replayed the primary's write-ahead log; None when it is not a standby
    /// (not in recovery, or SQLite).
    pub async fn replay_position(&self) -> anyhow::Result<Option<u64>> {
        match self {
            Store::Sqlite(_) => Ok(None),
            Store::Postgres(store) => Self::discarding_if_unavailable(store, store.replay_position().await),
        }
    }

    fn discarding_if_unavailable<T>(store: &postgres::PostgresStore, result: anyhow::Result<T>) -> anyhow::Result<T> {
        if let Err(error) = &result {
            if is_unavailable(error) {
                store.discard_connections();
            }
        }
        result
    }

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }

    /// The read connections: how many there may be and how many are in use now (SQLite's readers,
    /// PostgreSQL's general pool). For `/metrics`.
    pub fn pool_status(&self) -> PoolStatus {
        match self {
            Store::Sqlite(store) => store.pool_status(),
            Store::Postgres(store) => store.pool_status(),
        }
    }
}

/// The read connection pool at one moment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PoolStatus {
    pub size: usize,
    pub in_use: usize,
}

/// The wall clock in nanoseconds, for bookkeeping columns such as a migration's time.
pub(crate) fn now_nanos() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// Whether `error` says the database is out of reach or cannot take writes for now (a connection
/// refused or dropped, a disk full or failing, a database shutting down, a PostgreSQL server that is
/// a standby or read-only, as the old primary is during a failover), rather than that the request or
/// sanhu is wrong. The HTTP layer answers such errors 503 with `Retry-After` instead of 500: nothing
/// was decided, and the same request may succeed once the database (or its new primary) is back.
pub fn is_unavailable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
        if cause.downcast_ref::<NotPrimary>().is_some() {
            return true;
        }
        if let Some(error) = cause.downcast_ref::<tokio_postgres::Error>() {
            return postgres_unavailable(error);
        }
        if let Some(rusqlite::Error::SqliteFailure(failure, _)) = cause.downcast_ref::<rusqlite::Error>() {
            use rusqlite::ErrorCode::*;
            return matches!(
                failure.code,
                DiskFull | SystemIoFailure | CannotOpen | ReadOnly | DatabaseBusy | DatabaseLocked
            );
        }
        cause.downcast_ref::<std::io::Error>().is_some()
    })
}

/// Whether `error`, failing a batch (of audit events, say), is the database's state rather than one
/// item's: out of reach ([`is_unavailable`]), or a lock or statement timeout, a deadlock or a
/// serialization failure. Such a batch fails as a whole, and trying its items one by one would only
/// fail each of them again; any other failure may be one item's, which a writer finds by halving.
pub fn is_batch_wide(error: &anyhow::Error) -> bool {
    use tokio_postgres::error::SqlState;
    is_unavailable(error)
        || error.chain().any(|cause| {
            cause.downcast_ref::<tokio_postgres::Error>().and_then(tokio_postgres::Error::code).is_some_and(|code| {
                [&SqlState::LOCK_NOT_AVAILABLE, &SqlState::QUERY_CANCELED, &SqlState::T_R_DEADLOCK_DETECTED]
                    .contains(&code)
                    || code == &SqlState::T_R_SERIALIZATION_FAILURE
            })
        })
}

/// The PostgreSQL server answers but does not take writes: a standby, or a primary made read-only.
/// Found by the readiness check; `is_unavailable` counts it.
#[derive(Debug)]
pub struct NotPrimary;

impl std::fmt::Display for NotPrimary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the PostgreSQL server does not take writes (a standby, or read-only): no primary answers")
    }
}

impl std::error::Error for NotPrimary {}

fn postgres_unavailable(error: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    match error.code() {
        // 08: connection exception; 53: insufficient resources (disk full, out of memory, too many
        // connections); 57P01-57P03: the server is shutting down or starting up; 25006: a write on a
        // server that takes none (a standby, or the old primary of a failover made read-only).
        Some(code) => {
            let code = code.code();
            code.starts_with("08")
                || code.starts_with("53")
                || [
                    &SqlState::ADMIN_SHUTDOWN,
                    &SqlState::CRASH_SHUTDOWN,
                    &SqlState::CANNOT_CONNECT_NOW,
                    &SqlState::READ_ONLY_SQL_TRANSACTION,
                ]
                .iter()
                .any(|c| c.code() == code)
        }
        // No SQLSTATE: the connection itself failed (refused, reset, closed) rather than a statement.
        None => {
            error.is_closed()
                || std::error::Error::source(error)
                    .is_some_and(|source| source.downcast_ref::<std::io::Error>().is_some())
        }
    }
}
