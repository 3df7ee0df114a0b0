//! The SQLite store: sanhu's embedded default. One file in WAL mode with `synchronous=FULL`, so a
//! committed batch is on disk; one writer connection (SQLite allows one writer at a time anyway)
//! whose batches begin with `BEGIN IMMEDIATE`; a small pool of reader connections.

mod access;
mod approvals;
mod audit;
mod bill;
mod card;
mod database;
mod instance;
mod ledger;
mod party;
mod rows;
mod staff;
mod webhook;

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};

use crate::StoreOptions;
use ledger::AccountCache;

/// Prepared statements kept per connection: the multi-row statements come in a few sizes per batch.
const STATEMENT_CACHE_CAPACITY: usize = 128;

#[derive(Clone)]
pub struct SqliteStore {
    inner: Arc<Inner>,
}

struct Inner {
    path: PathBuf,
    options: StoreOptions,
    writer: Mutex<Writer>,
    readers: Mutex<Vec<Connection>>,
    /// Reads running at once, at most `read_connections`: a read beyond waits for a pooled connection
    /// rather than opening one (and a blocking thread) of its own, so a burst of reads (a flood of
    /// sign-ins, say) costs a bounded number of connections, threads and page caches.
    read_permits: Arc<tokio::sync::Semaphore>,
    /// Shows other stores that this one's claims on idempotency keys are alive (see `instance`).
    instance: Mutex<instance::InstanceLock>,
}

/// The one writer connection and what it knows of the ledger's accounts. Every write to accounts and
/// balances goes through this connection, so the cache is exact; a commit by another process (seen
/// through `PRAGMA data_version`) empties it.
struct Writer {
    connection: Connection,
    accounts: AccountCache,
}

impl SqliteStore {
    pub(crate) fn pool_status(&self) -> crate::PoolStatus {
        let size = (self.inner.options.read_connections as usize).max(1);
        crate::PoolStatus { size, in_use: size.saturating_sub(self.inner.read_permits.available_permits()) }
    }

    /// Opens (creating if needed) the database file at `path`.
    pub fn open(path: &str, options: &StoreOptions) -> anyhow::Result<SqliteStore> {
        let path = PathBuf::from(path);
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).with_context(|| format!("failed to create {}", parent.display()))?;
        }
        keep_private(&path)?;
        let writer = open_connection(&path, options, Role::Writer)?;
        let inner = Arc::new(Inner {
            instance: Mutex::new(instance::InstanceLock::new(&path)),
            path,
            options: options.clone(),
            writer: Mutex::new(Writer {
                connection: writer,
                accounts: AccountCache::new(options.sqlite_account_cache_entries),
            }),
            readers: Mutex::new(Vec::new()),
            read_permits: Arc::new(tokio::sync::Semaphore::new((options.read_connections as usize).max(1))),
        });
        let checkpointer = open_connection(&inner.path, options, Role::Reader)?;
        // The checkpointer gives up quickly on a truncation that readers hold up (it tries again 200 ms
        // later), since the writer waits while it tries; the writer's own truncation waits longer.
        checkpointer.busy_timeout(std::time::Duration::from_millis(CHECKPOINTER_BUSY_TIMEOUT_MS))?;
        let weak = Arc::downgrade(&inner);
        std::thread::Builder::new()
            .name("sanhu-sqlite-checkpoint".into())
            .spawn(move || checkpoint_wal(checkpointer, weak))
            .context("failed to start the WAL checkpoint thread")?;
        Ok(SqliteStore { inner })
    }

    /// Runs `work` on the writer connection on a blocking thread.
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut writer = inner.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            bound_wal(&writer.connection, &inner.path, inner.options.sqlite_wal_bytes_max);
            work(&mut writer.connection)
        })
        .await
        .context("the SQLite writer thread panicked")?
    }

    /// Runs `work` on the writer connection with its account cache, on a blocking thread.
    async fn write_ledger<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection, &mut AccountCache) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let inner = self.inner.clone();
        tokio::task::spawn_blocking(move || {
            let mut writer = inner.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let Writer { connection, accounts } = &mut *writer;
            bound_wal(connection, &inner.path, inner.options.sqlite_wal_bytes_max);
            work(connection, accounts)
        })
        .await
        .context("the SQLite writer thread panicked")?
    }

    /// Runs `work` on a reader connection on a blocking thread.
    async fn read<T: Send + 'static>(
        &self,
        work: impl FnOnce(&Connection) -> anyhow::Result<T> + Send + 'static,
    ) -> anyhow::Result<T> {
        let inner = self.inner.clone();
        let permit = inner.read_permits.clone().acquire_owned().await.context("the SQLite store is closing")?;
        tokio::task::spawn_blocking(move || {
            let _permit = permit;
            let pooled = inner.readers.lock().unwrap_or_else(|p| p.into_inner()).pop();
            let connection = match pooled {
                Some(c) => c,
                None => open_connection(&inner.path, &inner.options, Role::Reader)?,
            };
            let result = work(&connection);
            let mut readers = inner.readers.lock().unwrap_or_else(|p| p.into_inner());
            if readers.len() < inner.options.read_connections as usize {
                readers.push(connection);
            }
            result
        })
        .await
        .context("a SQLite reader thread panicked")?
    }
}

/// Owner read and write, nothing for anyone else: the mode of the database and its WAL and
/// shared-memory files, as of the key files beside them.
#[cfg(unix)]
const PRIVATE_MODE: u32 = 0o600;

/// Makes the database file readable by its owner only before SQLite opens it: a new one is created
/// empty with that mode (SQLite gives its WAL and shared-memory files the database file's mode, so
/// they follow), and an existing one (made by an earlier version, with SQLite's default 0644) is
/// narrowed, with its WAL and shared-memory files. A file this process may not change (another
/// user's) is left as it is, with a warning.
#[cfg(unix)]
fn keep_private(path: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let created = std::fs::OpenOptions::new().write(true).create_new(true).mode(PRIVATE_MODE).open(path);
    match created {
        Ok(_) => {}
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error).with_context(|| format!("failed to create {}", path.display())),
    }
    for file in [
        path.to_owned(),
        PathBuf::from(format!("{}-wal", path.display())),
        PathBuf::from(format!("{}-shm", path.display())),
    ] {
        let Ok(metadata) = std::fs::metadata(&file) else { continue };
        if metadata.permissions().mode() & 0o077 == 0 {
            continue;
        }
        if let Err(error) = std::fs::set_permissions(&file, std::fs::Permissions::from_mode(PRIVATE_MODE)) {
            tracing::warn!(file = %file.display(), error = %error, "the database file is readable by others and could not be made owner-only");
        }
    }
    Ok(())
}

#[cfg(not(unix))]
fn keep_private(_path: &Path) -> anyhow::Result<()> {
    Ok(())
}

/// How often the background thread copies the WAL back into the database file.
const WAL_CHECKPOINT_INTERVAL_MS: u64 = 200;
/// How long the checkpointer waits for readers before giving a truncation up until its next turn.
const CHECKPOINTER_BUSY_TIMEOUT_MS: u64 = 100;

/// The path of the WAL beside the database file.
fn wal_path(path: &Path) -> PathBuf {
    PathBuf::from(format!("{}-wal", path.display()))
}

fn wal_bytes(path: &Path) -> u64 {
    std::fs::metadata(wal_path(path)).map(|m| m.len()).unwrap_or(0)
}

/// Copies the WAL back into the database file, in the background, until the store is dropped. SQLite
/// would otherwise do it inside whichever commit crosses its threshold, making that batch many times
/// slower than the others; a PASSIVE checkpoint runs beside the writer without blocking it. But a
/// PASSIVE checkpoint never waits for readers, and the log starts over from its beginning only once
/// no reader is using it: under steady reads it would only grow. So once it holds a quarter of its
/// bound the checkpointer truncates it, waiting for the readers of the moment to finish (new readers
/// go on; the writer waits meanwhile, which is the price of the bound).
fn checkpoint_wal(connection: Connection, store: std::sync::Weak<Inner>) {
    loop {
        std::thread::sleep(std::time::Duration::from_millis(WAL_CHECKPOINT_INTERVAL_MS));
        let Some(inner) = store.upgrade() else {
            return;
        };
        let mode = if wal_bytes(&inner.path) > inner.options.sqlite_wal_bytes_max / 4 { "TRUNCATE" } else { "PASSIVE" };
        drop(inner);
        if let Err(error) = connection.query_row(&format!("PRAGMA wal_checkpoint({mode})"), [], |_| Ok(())) {
            tracing::warn!(error = %error, mode, "WAL checkpoint failed; retrying");
        }
    }
}

/// Keeps the WAL under `bytes_max` (`StoreOptions::sqlite_wal_bytes_max`): before a write
/// transaction, a WAL past half its bound (the checkpointer has not managed, readers kept it from
/// finishing) is checkpointed and truncated by the writer itself, waiting for readers if it must. The
/// WAL therefore exceeds half its bound by at most one transaction's pages. Every connection also
/// sets `journal_size_limit` to the bound, so a log started over is cut back on disk too. A failure
/// is only logged: the write goes ahead, and the next one tries again.
fn bound_wal(c: &Connection, path: &Path, bytes_max: u64) {
    if wal_bytes(path) > bytes_max / 2 {
        if let Err(error) = c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(())) {
            tracing::warn!(error = %error, "truncating a large WAL failed; retrying before the next write");
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Role {
    Writer,
    Reader,
}

fn open_connection(path: &Path, options: &StoreOptions, role: Role) -> anyhow::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)
        .with_context(|| format!("failed to open the SQLite database {}", path.display()))?;
    connection.set_prepared_statement_cache_capacity(STATEMENT_CACHE_CAPACITY);
    rusqlite::vtab::array::load_module(&connection).context("failed to load SQLite's array module")?;
    connection.busy_timeout(std::time::Duration::from_millis(options.sqlite_busy_timeout_ms as u64))?;
    // Every pragma is set explicitly rather than left to the library's defaults. FULL syncs the WAL
    // on every commit: a success answer means the batch is on disk.
    connection
        .execute_batch(&format!(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = FULL;
             PRAGMA foreign_keys = OFF;
             PRAGMA temp_store = MEMORY;
             PRAGMA cache_size = -{};
             PRAGMA journal_size_limit = {};
             PRAGMA wal_autocheckpoint = 0;",
            if role == Role::Writer { options.sqlite_cache_kib } else { options.sqlite_read_cache_kib },
            options.sqlite_wal_bytes_max,
        ))
        .context("failed to set SQLite pragmas")?;
    Ok(connection)
}

/// Runs `work` in one read transaction, so that its several statements see one snapshot.
fn in_read_transaction<T>(c: &Connection, work: impl FnOnce(&Connection) -> anyhow::Result<T>) -> anyhow::Result<T> {
    c.execute_batch("BEGIN")?;
    let result = work(c);
    c.execute_batch("COMMIT")?;
    result
}

#[cfg(test)]
mod tests {
    use sanhu_core::ledger::{
        Account, AccountFlags, BalanceLimit, Counters, NormalSide, TransferAction, TransferRequest,
    };
    use sanhu_core::{AccountId, Amount, Currency, Timestamp, TransferId};

    use super::*;
    use crate::{DatabaseStore, LedgerStore};

    fn account(n: u128, side: NormalSide) -> Account {
        Account {
            id: AccountId::from_u128(n).unwrap(),
            currency: Currency::parse("CNY").unwrap(),
            normal_side: side,
            limit: BalanceLimit::Unlimited,
            flags: AccountFlags::default(),
            counters: Counters::default(),
            code: String::new(),
            metadata: "{}".into(),
            created_at: Timestamp(1),
            last_transfer_at: Timestamp(0),
        }
    }

    fn post(n: u128, debit: u128, credit: u128) -> TransferRequest {
        TransferRequest {
            id: TransferId::from_u128(n).unwrap(),
            action: TransferAction::Post {
                debit_account_id: AccountId::from_u128(debit).unwrap(),
                credit_account_id: AccountId::from_u128(credit).unwrap(),
                amount: Amount::new(1).unwrap(),
                balancing: false,
            },
            linked: false,
            code: String::new(),
            reference: None,
            metadata: "{}".into(),
        }
    }

    fn temporary(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("sanhu-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("sanhu.db")
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_writers_account_cache_never_holds_more_than_its_bound() {
        let path = temporary("account-cache");
        let options = StoreOptions { sqlite_account_cache_entries: 50, ..StoreOptions::default() };
        let store = SqliteStore::open(path.to_str().unwrap(), &options).unwrap();
        store.migrate().await.unwrap();
        let mut accounts = vec![account(1, NormalSide::Debit)];
        accounts.extend((2..=200).map(|n| account(n, NormalSide::Credit)));
        store.create_accounts(&accounts).await.unwrap();
        let mut largest = 0;
        for batch in 0..40u128 {
            // Each batch touches the funding account and 10 others, 200 different ones in all.
            let requests = (0..10).map(|i| post(batch * 10 + i + 1, 1, 2 + (batch * 10 + i) % 199)).collect();
            let results = store.commit_batch(requests, Timestamp(100 + batch as i64)).await.unwrap();
            assert!(results.iter().all(Result::is_ok));
            let cached = store.inner.writer.lock().unwrap().accounts.entries.len();
            assert!(cached > 0, "the cache is used");
            largest = largest.max(cached);
        }
        assert!(largest <= 50, "the cache held {largest} accounts, past its bound of 50");
        // And the balances are right, whatever was cached and dropped.
        let funding = store.get_account(AccountId::from_u128(1).unwrap()).await.unwrap().unwrap();
        assert_eq!(funding.counters.debits_posted, 400);
        drop(store);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn every_connection_has_the_page_cache_and_wal_limit_it_is_given() {
        let path = temporary("page-cache");
        let options = StoreOptions {
            sqlite_cache_kib: 8 * 1024,
            sqlite_read_cache_kib: 2 * 1024,
            sqlite_wal_bytes_max: 3 * 1024 * 1024,
            ..StoreOptions::default()
        };
        let store = SqliteStore::open(path.to_str().unwrap(), &options).unwrap();
        store.migrate().await.unwrap();
        let pragma =
            |c: &Connection, name: &str| -> i64 { c.query_row(&format!("PRAGMA {name}"), [], |r| r.get(0)).unwrap() };
        let writer =
            store.write(move |c| Ok((pragma(c, "cache_size"), pragma(c, "journal_size_limit")))).await.unwrap();
        assert_eq!(writer, (-8 * 1024, 3 * 1024 * 1024));
        let reader = store.read(move |c| Ok((pragma(c, "cache_size"), pragma(c, "journal_size_limit")))).await.unwrap();
        assert_eq!(reader, (-2 * 1024, 3 * 1024 * 1024));
        drop(store);
        let _ = std::fs::remove_dir_all(path.parent().unwrap());
    }
}
