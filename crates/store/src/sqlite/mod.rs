//! The SQLite store: sanhu's embedded default. One file in WAL mode with `synchronous=FULL`, so a
//! committed batch is on disk; one writer connection (SQLite allows one writer at a time anyway)
//! whose batches begin with `BEGIN IMMEDIATE`; a small pool of reader connections.

mod audit;
mod clients;
mod entries;
mod instance;
mod party;
mod rows;
mod staff;

use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use sanhu_core::id_hash::IdMap;
use sanhu_core::ledger::verify::Recount;
use sanhu_core::ledger::{
    apply_batch, Account, BatchNeeds, Counters, LedgerState, PendingRecord, PendingStatus, Transfer, TransferError,
    TransferRequest,
};
use sanhu_core::{AccountId, Timestamp, TransferId};

use crate::model::*;
use crate::{pending_account_ids, LedgerStore, NonceRecord};
use rows::*;

const SCHEMA: &str = include_str!("schema.sql");
/// The changes after `schema.sql` (version 1), oldest first; each is applied once, in order.
const MIGRATIONS: &[(i64, &str)] = &[
    // Which store claimed an idempotency key: its instance lock's token (see `instance`).
    (2, "ALTER TABLE idempotency_keys ADD COLUMN claimed_by TEXT;"),
    // The three-party records: documents, unique keys, lookups and history (see `crate::party`).
    (3, include_str!("schema_v3.sql")),
    // The audit log: hash-chained events and the chain's head (see `crate::audit`).
    (4, include_str!("schema_v4.sql")),
    // API clients' scopes, binding to one member, and up to two active keys (see `crate::ApiClient`).
    (5, include_str!("schema_v5.sql")),
    // Staff accounts, their sessions and the approvals of maker-checker (see `crate::staff`).
    (6, include_str!("schema_v6.sql")),
];
/// SQLite's default limit on bound parameters per statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32).
const SQLITE_PARAMETERS_MAX: usize = 32_766;
/// Rows per multi-row INSERT or UPDATE: the most that keep the widest row (the transfer's 21 columns)
/// within the parameter limit, rounded down.
const ROWS_PER_STATEMENT_MAX: usize = 1_500;
const _: () = assert!(ROWS_PER_STATEMENT_MAX * TRANSFER_COLUMN_COUNT <= SQLITE_PARAMETERS_MAX);
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

/// The writer's copy of the accounts it has seen, at most `entries_max` of them
/// (`StoreOptions::sqlite_account_cache_entries`): a batch that would pass it empties the cache first.
struct AccountCache {
    entries: IdMap<AccountId, CachedAccount>,
    entries_max: usize,
    data_version: i64,
}

struct CachedAccount {
    account: Account,
    number: i64,
    chain: entries::Chain,
}

impl AccountCache {
    fn new(entries_max: usize) -> AccountCache {
        AccountCache { entries: IdMap::default(), entries_max, data_version: 0 }
    }

    /// Empties the cache if another connection committed since this one last looked.
    fn check(&mut self, c: &Connection) -> anyhow::Result<()> {
        let version: i64 = c.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        if version != self.data_version {
            self.entries.clear();
            self.data_version = version;
        }
        Ok(())
    }
}

impl SqliteStore {
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

impl LedgerStore for SqliteStore {
    async fn migrate(&self) -> anyhow::Result<()> {
        self.write(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(SCHEMA).context("failed to apply the SQLite schema")?;
            tx.execute_batch("CREATE TABLE IF NOT EXISTS sanhu_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")?;
            tx.execute(
                "INSERT OR IGNORE INTO sanhu_migrations (version, applied_at) VALUES (1, ?1)",
                params![crate::now_nanos()],
            )?;
            let current: i64 = tx.query_row("SELECT max(version) FROM sanhu_migrations", [], |r| r.get(0))?;
            for &(version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > current) {
                tx.execute_batch(sql).with_context(|| format!("failed to apply schema version {version}"))?;
                tx.execute(
                    "INSERT INTO sanhu_migrations (version, applied_at) VALUES (?1, ?2)",
                    params![version, crate::now_nanos()],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn ping(&self) -> anyhow::Result<()> {
        // A write, not a read: every signed request records its nonce, so a database that answers
        // reads but cannot commit (a full or failing disk) serves nothing, and must not look ready.
        // The probe records a nonce of its own under a client id no client has (ids are `cli_…`),
        // with a new time each time so that the commit really writes; it is forgotten as nonces are.
        self.write(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "INSERT INTO api_nonces (client_id, nonce, seen_at) VALUES ('', 'readiness', ?1)
                 ON CONFLICT (client_id, nonce) DO UPDATE SET seen_at = excluded.seen_at",
            )?
            .execute([crate::now_nanos()])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn durability(&self) -> anyhow::Result<Durability> {
        self.write(|c| {
            let journal: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            let synchronous: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
            let name = match synchronous {
                0 => "OFF",
                1 => "NORMAL",
                2 => "FULL",
                3 => "EXTRA",
                _ => "unknown",
            };
            Ok(Durability {
                setting: format!("journal_mode={journal} synchronous={name}"),
                durable: journal.eq_ignore_ascii_case("wal") && synchronous >= 2,
            })
        })
        .await
    }

    async fn create_account(&self, account: &Account) -> anyhow::Result<()> {
        self.create_accounts(std::slice::from_ref(account)).await
    }

    async fn create_accounts(&self, accounts: &[Account]) -> anyhow::Result<()> {
        let accounts = accounts.to_vec();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            insert_accounts(&tx, &accounts)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn get_account(&self, id: AccountId) -> anyhow::Result<Option<Account>> {
        self.read(move |c| {
            Ok(c.prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNTS} WHERE a.id = ?1"))?
                .query_row([id.to_be_bytes()], account_from_row)
                .optional()?)
        })
        .await
    }

    async fn list_accounts(&self, after: Option<AccountId>, limit: u32) -> anyhow::Result<Vec<Account>> {
        self.read(move |c| {
            let after = after.map(|a| a.to_be_bytes()).unwrap_or([0; 16]);
            let mut statement = c.prepare_cached(&format!(
                "SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNTS} WHERE a.id > ?1 ORDER BY a.id LIMIT ?2"
            ))?;
            let rows = statement.query_map(params![after, limit], account_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn get_accounts(&self, ids: &[AccountId]) -> anyhow::Result<Vec<Account>> {
        let ids = ids.to_vec();
        // One statement is one snapshot: the balances are consistent with each other.
        self.read(move |c| load_accounts(c, &ids)).await
    }

    async fn update_account_flags<E: Send + 'static>(
        &self,
        id: AccountId,
        change: FlagChange<E>,
    ) -> anyhow::Result<Option<Result<Account, E>>> {
        self.write_ledger(move |c, cache| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let account = tx
                .prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNTS} WHERE a.id = ?1"))?
                .query_row([id.to_be_bytes()], account_from_row)
                .optional()?;
            let Some(mut account) = account else { return Ok(None) };
            let flags = match change(&account) {
                Ok(flags) => flags,
                Err(refusal) => return Ok(Some(Err(refusal))),
            };
            account.flags = flags;
            tx.execute("UPDATE ledger_accounts SET flags = ?1 WHERE id = ?2", params![flags.bits(), id.to_be_bytes()])?;
            // Forget the cached copy before committing: if the commit fails, the next batch reloads.
            cache.entries.remove(&id);
            tx.commit()?;
            Ok(Some(Ok(account)))
        })
        .await
    }

    async fn commit_batch(
        &self,
        requests: Vec<TransferRequest>,
        now: Timestamp,
    ) -> anyhow::Result<Vec<Result<Transfer, TransferError>>> {
        self.write_ledger(move |c, cache| {
            // Most ids are new: try without looking them up, and look them up only if one was not.
            let results = match commit_batch(c, cache, &requests, now, StoredIds::AssumeNone)? {
                Some(results) => results,
                None => commit_batch(c, cache, &requests, now, StoredIds::Load)?
                    .ok_or_else(|| anyhow::anyhow!("a transfer id was taken although it was looked up"))?,
            };
            Ok(results)
        })
        .await
    }

    async fn get_transfer(&self, id: TransferId) -> anyhow::Result<Option<Transfer>> {
        self.read(move |c| Ok(load_transfers(c, &[id])?.pop())).await
    }

    async fn transfers_by_reference(&self, reference: &str, limit: u32) -> anyhow::Result<Vec<Transfer>> {
        let reference = reference.to_owned();
        self.read(move |c| {
            let mut statement = c.prepare_cached(&format!(
                "SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE reference = ?1 ORDER BY timestamp LIMIT ?2"
            ))?;
            let rows = statement.query_map(params![reference, limit], transfer_from_row)?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn pending_status(&self, id: TransferId) -> anyhow::Result<Option<PendingRecord>> {
        self.read(move |c| Ok(load_pendings(c, &[id])?.pop())).await
    }

    async fn account_entries(&self, query: &EntryQuery) -> anyhow::Result<Vec<Transfer>> {
        let q = query.clone();
        self.read(move |c| {
            let from = q.from.map_or(i64::MIN, |t| t.nanos());
            let after = q.after.map_or(i64::MIN, |t| t.nanos());
            let lower = from.max(after.saturating_add(1));
            let upper = q.to.map_or(i64::MAX, |t| t.nanos());
            in_read_transaction(c, |c| entries::entries(c, q.account_id, lower, upper, q.limit))
        })
        .await
    }

    async fn counters_at(&self, id: AccountId, at: Timestamp) -> anyhow::Result<Counters> {
        self.read(move |c| in_read_transaction(c, |c| entries::counters_at(c, id, at.nanos()))).await
    }

    async fn due_pendings(&self, now: Timestamp, limit: u32) -> anyhow::Result<Vec<TransferId>> {
        self.read(move |c| {
            let mut statement = c.prepare_cached(
                "SELECT id FROM ledger_pendings WHERE status = 0 AND expires_at IS NOT NULL AND expires_at <= ?1
                 ORDER BY expires_at LIMIT ?2",
            )?;
            let rows = statement.query_map(params![now.nanos(), limit], |r| id_from_row::<_>(r, 0))?;
            Ok(rows.collect::<Result<_, _>>()?)
        })
        .await
    }

    async fn verify(&self) -> anyhow::Result<VerifyReport> {
        self.read(|c| {
            // One read transaction, so that the accounts and the transfers are the same snapshot.
            in_read_transaction(c, |c| {
                let mut recount = Recount::default();
                let mut statement =
                    c.prepare(&format!("SELECT {TRANSFER_COLUMNS} FROM ledger_transfers ORDER BY timestamp, id"))?;
                let mut rows = statement.query([])?;
                while let Some(row) = rows.next()? {
                    recount.add(&transfer_from_row(row)?);
                }
                let transfers_checked = recount.transfers;
                let mut statement = c.prepare(&format!("SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNTS}"))?;
                let accounts: Vec<Account> = statement.query_map([], account_from_row)?.collect::<Result<_, _>>()?;
                let (mut problems, _) = recount.finish(&accounts);
                entries::check_chains(c, &mut problems)?;
                Ok(VerifyReport { accounts_checked: accounts.len() as u64, transfers_checked, problems })
            })
        })
        .await
    }

    async fn create_client(&self, client: &ApiClient) -> anyhow::Result<()> {
        self.insert_client(client).await
    }

    async fn list_clients(&self) -> anyhow::Result<Vec<ApiClient>> {
        self.select_clients().await
    }

    async fn get_client(&self, id: &str) -> anyhow::Result<Option<ApiClient>> {
        self.select_client(id).await
    }

    async fn revoke_client(&self, id: &str, at: Timestamp) -> anyhow::Result<bool> {
        let id = id.to_owned();
        self.write(move |c| {
            let changed = c.execute(
                "UPDATE api_clients SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2",
                params![at.nanos(), id],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn add_client_key(&self, client_id: &str, public_key: &[u8; 32], at: Timestamp) -> anyhow::Result<KeyAdded> {
        self.insert_client_key(client_id, public_key, at).await
    }

    async fn revoke_client_key(&self, client_id: &str, number: u32, at: Timestamp) -> anyhow::Result<bool> {
        self.mark_client_key_revoked(client_id, number, at).await
    }

    async fn record_nonce(
        &self,
        client_id: &str,
        nonce: &str,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> anyhow::Result<bool> {
        let (client_id, nonce) = (client_id.to_owned(), nonce.to_owned());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Forgetting is bounded per call so that one request never pays for a large backlog.
            tx.prepare_cached(
                "DELETE FROM api_nonces WHERE (client_id, nonce) IN
                 (SELECT client_id, nonce FROM api_nonces WHERE seen_at < ?1 LIMIT 100)",
            )?
            .execute([forget_before.nanos()])?;
            let inserted = tx
                .prepare_cached("INSERT OR IGNORE INTO api_nonces (client_id, nonce, seen_at) VALUES (?1, ?2, ?3)")?
                .execute(params![client_id, nonce, at.nanos()])?;
            tx.commit()?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn record_nonces(&self, nonces: &[NonceRecord], forget_before: Timestamp) -> anyhow::Result<Vec<bool>> {
        let nonces = nonces.to_vec();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Forgetting is bounded per batch so that one batch never pays for a large backlog; a nonce
            // older than `forget_before` still in the table is taken as new (its row is renewed).
            tx.prepare_cached(
                "DELETE FROM api_nonces WHERE (client_id, nonce) IN
                 (SELECT client_id, nonce FROM api_nonces WHERE seen_at < ?1 LIMIT 1000)",
            )?
            .execute([forget_before.nanos()])?;
            let mut recorded = Vec::with_capacity(nonces.len());
            {
                let mut insert = tx.prepare_cached(
                    "INSERT INTO api_nonces (client_id, nonce, seen_at) VALUES (?1, ?2, ?3)
                     ON CONFLICT (client_id, nonce) DO UPDATE SET seen_at = excluded.seen_at
                     WHERE api_nonces.seen_at < ?4",
                )?;
                for n in &nonces {
                    let changed = insert.execute(params![n.client_id, n.nonce, n.at.nanos(), forget_before.nanos()])?;
                    recorded.push(changed == 1);
                }
            }
            tx.commit()?;
            Ok(recorded)
        })
        .await
    }

    async fn begin_idempotent(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
        now: Timestamp,
    ) -> anyhow::Result<IdempotencyBegin> {
        let (key, fingerprint) = (key.clone(), fingerprint.to_owned());
        let inner = self.inner.clone();
        self.write(move |c| {
            let mut instance = inner.instance.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let token = instance.token();
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let existing = tx
                .prepare_cached(
                    "SELECT fingerprint, claimed_at, status, body, claimed_by FROM idempotency_keys WHERE client_id = ?1 AND key = ?2",
                )?
                .query_row(params![key.client_id, key.key], |r| {
                    Ok((
                        r.get::<_, String>(0)?,
                        r.get::<_, i64>(1)?,
                        r.get::<_, Option<u16>>(2)?,
                        r.get::<_, Option<Vec<u8>>>(3)?,
                        r.get::<_, Option<String>>(4)?,
                    ))
                })
                .optional()?;
            let begin = match existing {
                None => {
                    tx.execute(
                        "INSERT INTO idempotency_keys (client_id, key, fingerprint, claimed_at, claimed_by) VALUES (?1, ?2, ?3, ?4, ?5)",
                        params![key.client_id, key.key, fingerprint, now.nanos(), token],
                    )?;
                    IdempotencyBegin::Claimed
                }
                Some((stored, _, _, _, _)) if stored != fingerprint => IdempotencyBegin::Mismatch,
                Some((_, _, Some(status), body, _)) => {
                    IdempotencyBegin::Replay(StoredResponse { status, body: body.unwrap_or_default() })
                }
                Some((_, claimed_at, None, _, claimed_by))
                    if !claim_lapsed(claimed_at, now) && !claimed_by.as_deref().is_some_and(|by| instance.is_gone(by)) =>
                {
                    IdempotencyBegin::InUse
                }
                Some(_) => {
                    // The first request's claim lapsed, or its store is gone (its process died) before
                    // answering. Whatever it did was either committed in full or not at all, so running
                    // afresh is safe only because every money movement below is itself idempotent (a
                    // transfer's id, the caller's or one derived from the key, finds what the first run
                    // applied) or was rolled back.
                    tx.execute(
                        "UPDATE idempotency_keys SET claimed_at = ?1, claimed_by = ?2 WHERE client_id = ?3 AND key = ?4",
                        params![now.nanos(), token, key.client_id, key.key],
                    )?;
                    IdempotencyBegin::Claimed
                }
            };
            tx.commit()?;
            Ok(begin)
        })
        .await
    }

    async fn complete_idempotent(&self, key: &IdempotencyKey, response: &StoredResponse) -> anyhow::Result<()> {
        let (key, response) = (key.clone(), response.clone());
        self.write(move |c| {
            c.execute(
                "UPDATE idempotency_keys SET status = ?1, body = ?2 WHERE client_id = ?3 AND key = ?4",
                params![response.status, response.body, key.client_id, key.key],
            )?;
            Ok(())
        })
        .await
    }

    async fn release_idempotent(&self, key: &IdempotencyKey) -> anyhow::Result<()> {
        let key = key.clone();
        self.write(move |c| {
            c.execute(
                "DELETE FROM idempotency_keys WHERE client_id = ?1 AND key = ?2 AND status IS NULL",
                params![key.client_id, key.key],
            )?;
            Ok(())
        })
        .await
    }
}

fn claim_lapsed(claimed_at: i64, now: Timestamp) -> bool {
    now.nanos().saturating_sub(claimed_at) >= IDEMPOTENCY_CLAIM_LEASE_S as i64 * 1_000_000_000
}

fn blob_array<K: sanhu_core::id::IdKind>(ids: &[sanhu_core::Id128<K>]) -> Rc<Vec<Value>> {
    Rc::new(ids.iter().map(|id| Value::Blob(id.to_be_bytes().to_vec())).collect())
}

/// Inserts new accounts and their balances rows, numbering them after the highest number in use. Runs
/// inside the caller's write transaction (on the writer connection), which commits it.
fn insert_accounts(c: &Connection, accounts: &[Account]) -> anyhow::Result<()> {
    if accounts.is_empty() {
        return Ok(());
    }
    let first: i64 = c.query_row("SELECT COALESCE(MAX(number), 0) + 1 FROM ledger_accounts", [], |r| r.get(0))?;
    let numbered: Vec<(i64, &Account)> = accounts.iter().enumerate().map(|(i, a)| (first + i as i64, a)).collect();
    execute_chunked(
        c,
        &numbered,
        9,
        "INSERT INTO ledger_accounts (number, id, currency, normal_side, overdraft, flags, code, metadata,
         created_at) VALUES",
        "",
        |s, at, (number, account)| bind_account(s, at, *number, account),
    )
    .context("failed to insert the accounts")?;
    execute_chunked(c, &numbered, 8, BALANCES_INSERT, "", |s, at, (number, account)| {
        bind_balances(s, at, *number, account, entries::Chain::default())
    })
    .context("failed to insert the accounts' balances")?;
    Ok(())
}

fn load_accounts(c: &Connection, ids: &[AccountId]) -> anyhow::Result<Vec<Account>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut statement =
        c.prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNTS} WHERE a.id IN rarray(?1) ORDER BY a.id"))?;
    let rows = statement.query_map([blob_array(ids)], account_from_row)?;
    rows.collect::<Result<_, _>>().context("failed to load the batch's accounts")
}

fn load_transfers(c: &Connection, ids: &[TransferId]) -> anyhow::Result<Vec<Transfer>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut statement =
        c.prepare_cached(&format!("SELECT {TRANSFER_COLUMNS} FROM ledger_transfers WHERE id IN rarray(?1)"))?;
    let rows = statement.query_map([blob_array(ids)], transfer_from_row)?;
    rows.collect::<Result<_, _>>().context("failed to load transfers by id")
}

fn load_pendings(c: &Connection, ids: &[TransferId]) -> anyhow::Result<Vec<PendingRecord>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut statement = c.prepare_cached(
        "SELECT p.id, t.debit_account_id, t.credit_account_id, t.amount, p.status, p.expires_at
           FROM ledger_pendings p JOIN ledger_transfers t ON t.id = p.id
          WHERE p.id IN rarray(?1) ORDER BY p.id",
    )?;
    let rows = statement.query_map([blob_array(ids)], |r| {
        Ok(PendingRecord {
            id: id_from_row(r, 0)?,
            debit_account_id: id_from_row(r, 1)?,
            credit_account_id: id_from_row(r, 2)?,
            amount: r.get(3)?,
            status: PendingStatus::from_i16(r.get(4)?).ok_or_else(|| corrupt(4, "pending status"))?,
            expires_at: r.get::<_, Option<i64>>(5)?.map(Timestamp::from_nanos),
            is_new: false,
        })
    })?;
    rows.collect::<Result<_, _>>().context("failed to load the batch's holds")
}

/// Runs `work` in one read transaction, so that its several statements see one snapshot.
fn in_read_transaction<T>(c: &Connection, work: impl FnOnce(&Connection) -> anyhow::Result<T>) -> anyhow::Result<T> {
    c.execute_batch("BEGIN")?;
    let result = work(c);
    c.execute_batch("COMMIT")?;
    result
}

/// How a batch learns which of its transfer ids are already stored (resubmissions).
#[derive(Clone, Copy, PartialEq)]
enum StoredIds {
    /// Looks every id up before applying.
    Load,
    /// Applies as if no id were stored, and gives up (returns None, nothing written) if inserting shows
    /// one was. Saves a lookup per transfer on the common path; a resubmission costs one more try.
    AssumeNone,
}

/// Applies one batch: the heart of the SQLite store. Accounts come from the writer's cache where it has
/// them (all ledger writes go through this connection), else from the database. None: see
/// `StoredIds::AssumeNone`.
fn commit_batch(
    c: &mut Connection,
    cache: &mut AccountCache,
    requests: &[TransferRequest],
    now: Timestamp,
    stored_ids: StoredIds,
) -> anyhow::Result<Option<Vec<Result<Transfer, TransferError>>>> {
    let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
    cache.check(&tx)?;
    let needs = BatchNeeds::of(requests);
    let mut state = LedgerState::default();
    let pendings = load_pendings(&tx, &needs.pending_ids)?;
    let account_ids = pending_account_ids(&pendings, needs.account_ids);
    state.pendings = pendings.into_iter().map(|p| (p.id, p)).collect();
    if stored_ids == StoredIds::Load {
        state.transfers = load_transfers(&tx, &needs.transfer_ids)?.into_iter().map(|t| (t.id, t)).collect();
    }

    let missing: Vec<AccountId> = account_ids.iter().filter(|id| !cache.entries.contains_key(id)).copied().collect();
    if cache.entries.len() + missing.len() > cache.entries_max {
        cache.entries.clear();
        return commit_batch_uncached(tx, cache, requests, now, stored_ids, &account_ids, state);
    }
    for loaded in load_batch_accounts(&tx, &missing)? {
        cache.entries.insert(loaded.account.id, loaded);
    }
    commit_batch_uncached(tx, cache, requests, now, stored_ids, &account_ids, state)
}

/// The rest of a batch once its accounts are in the cache (or, if the cache was just emptied, loaded
/// here). The accounts are moved out of the cache while the batch runs and put back, updated, only
/// once it has committed: a failed batch leaves them to be reloaded.
fn commit_batch_uncached(
    tx: rusqlite::Transaction,
    cache: &mut AccountCache,
    requests: &[TransferRequest],
    now: Timestamp,
    stored_ids: StoredIds,
    account_ids: &[AccountId],
    mut state: LedgerState,
) -> anyhow::Result<Option<Vec<Result<Transfer, TransferError>>>> {
    let still_missing: Vec<AccountId> =
        account_ids.iter().filter(|id| !cache.entries.contains_key(id)).copied().collect();
    let mut places: IdMap<AccountId, (i64, entries::Chain)> =
        IdMap::with_capacity_and_hasher(account_ids.len(), Default::default());
    state.accounts.reserve(account_ids.len());
    for loaded in load_batch_accounts(&tx, &still_missing)? {
        places.insert(loaded.account.id, (loaded.number, loaded.chain));
        state.accounts.insert(loaded.account.id, loaded.account);
    }
    for id in account_ids {
        if let Some(cached) = cache.entries.remove(id) {
            places.insert(*id, (cached.number, cached.chain));
            state.accounts.insert(*id, cached.account);
        }
    }
    let outcome = apply_batch(&mut state, requests, now);
    crate::assert_batch_balances(&outcome)?;
    if stored_ids == StoredIds::AssumeNone {
        // A request refused here might have been a resubmission of a stored transfer, whose answer is
        // that transfer. Refusals are few: look their ids up; a stored one means trying again properly.
        // (An applied request's id is checked by its insert.)
        let refused: Vec<TransferId> =
            requests.iter().zip(&outcome.results).filter(|(_, r)| r.is_err()).map(|(q, _)| q.id).collect();
        if !refused.is_empty() && !load_transfers(&tx, &refused)?.is_empty() {
            return Ok(None);
        }
    }
    let first_seq: i64 =
        tx.prepare_cached("SELECT COALESCE(MAX(seq), 0) + 1 FROM ledger_transfers")?.query_row([], |r| r.get(0))?;
    let mut chains: IdMap<AccountId, entries::Chain> = places.iter().map(|(id, (_, chain))| (*id, *chain)).collect();
    let (rows, checkpoints) = entries::link(&outcome.inserted, first_seq, &mut chains);
    if insert_transfers(&tx, &rows)? < rows.len() {
        // An id was stored already: nothing is written (the transaction rolls back when dropped).
        return Ok(None);
    }
    insert_checkpoints(&tx, &checkpoints)?;
    write_pendings(&tx, &outcome.pendings)?;
    let balances: Vec<(i64, &Account, entries::Chain)> =
        outcome.accounts.iter().map(|a| (places[&a.id].0, a, chains[&a.id])).collect();
    execute_chunked(&tx, &balances, 8, BALANCES_INSERT, BALANCES_UPSERT_TAIL, |s, at, (number, account, chain)| {
        bind_balances(s, at, *number, account, *chain)
    })
    .context("failed to update the batch's balances")?;
    tx.commit().context("failed to commit the transfer batch")?;
    for (id, account) in state.accounts {
        if let Some((number, _)) = places.get(&id) {
            let chain = chains.get(&id).copied().unwrap_or_default();
            cache.entries.insert(id, CachedAccount { account, number: *number, chain });
        }
    }
    Ok(Some(outcome.results))
}

const BALANCES_INSERT: &str = "INSERT INTO ledger_balances (account_number, debits_pending, debits_posted, \
     credits_pending, credits_posted, last_transfer_at, last_entry_seq, entry_count) VALUES";
/// Turns `BALANCES_INSERT` into a multi-row update: every row exists, so each conflicts and is updated.
const BALANCES_UPSERT_TAIL: &str = "ON CONFLICT (account_number) DO UPDATE SET \
     debits_pending = excluded.debits_pending, debits_posted = excluded.debits_posted, \
     credits_pending = excluded.credits_pending, credits_posted = excluded.credits_posted, \
     last_transfer_at = excluded.last_transfer_at, last_entry_seq = excluded.last_entry_seq, \
     entry_count = excluded.entry_count";

fn load_batch_accounts(c: &Connection, ids: &[AccountId]) -> anyhow::Result<Vec<CachedAccount>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut statement = c.prepare_cached(&format!(
        "SELECT {ACCOUNT_COLUMNS}, a.number, b.last_entry_seq, b.entry_count FROM {ACCOUNTS} WHERE a.id IN rarray(?1)"
    ))?;
    let mut rows = statement.query([blob_array(ids)])?;
    let mut loaded = Vec::with_capacity(ids.len());
    while let Some(row) = rows.next()? {
        loaded.push(CachedAccount {
            account: account_from_row(row)?,
            number: row.get(ACCOUNT_COLUMN_COUNT)?,
            chain: entries::Chain {
                last_seq: row.get(ACCOUNT_COLUMN_COUNT + 1)?,
                entry_count: row.get(ACCOUNT_COLUMN_COUNT + 2)?,
            },
        });
    }
    Ok(loaded)
}

/// Runs a multi-row statement over `rows` in chunks: `head`, then `(?, ?, …)` per row, then `tail`.
/// `bind` binds one row's values starting at the given parameter index, straight from the row: no
/// value is copied into an intermediate list.
fn execute_chunked<T>(
    c: &Connection,
    rows: &[T],
    columns: usize,
    head: &str,
    tail: &str,
    bind: impl Fn(&mut rusqlite::Statement, usize, &T) -> rusqlite::Result<()>,
) -> anyhow::Result<usize> {
    let rows_per_statement = (SQLITE_PARAMETERS_MAX / columns).min(ROWS_PER_STATEMENT_MAX);
    let one_row = format!("({})", vec!["?"; columns].join(","));
    let mut changed = 0;
    for chunk in rows.chunks(rows_per_statement) {
        let sql = format!("{head} {} {tail}", vec![one_row.as_str(); chunk.len()].join(","));
        let mut statement = c.prepare_cached(&sql)?;
        for (i, row) in chunk.iter().enumerate() {
            bind(&mut statement, i * columns + 1, row)?;
        }
        changed += statement.raw_execute()?;
    }
    Ok(changed)
}

/// Inserts the batch's transfers; returns how many were inserted: fewer than given if an id was taken.
fn insert_transfers(c: &Connection, rows: &[entries::LinkedRow]) -> anyhow::Result<usize> {
    let head = format!("INSERT INTO ledger_transfers (seq, {TRANSFER_COLUMNS}, dr_prev_seq, cr_prev_seq) VALUES");
    execute_chunked(c, rows, TRANSFER_COLUMN_COUNT + 3, &head, "ON CONFLICT (id) DO NOTHING", |s, at, row| {
        s.raw_bind_parameter(at, row.seq)?;
        bind_transfer(s, at + 1, row.transfer)?;
        s.raw_bind_parameter(at + 1 + TRANSFER_COLUMN_COUNT, row.dr_prev_seq)?;
        s.raw_bind_parameter(at + 2 + TRANSFER_COLUMN_COUNT, row.cr_prev_seq)
    })
    .context("failed to insert the batch's transfers")
}

fn insert_checkpoints(c: &Connection, checkpoints: &[entries::Checkpoint]) -> anyhow::Result<()> {
    execute_chunked(
        c,
        checkpoints,
        3,
        "INSERT INTO ledger_entry_checkpoints (account_id, timestamp, seq) VALUES",
        "",
        |s, at, checkpoint| {
            s.raw_bind_parameter(at, &checkpoint.account_id.to_be_bytes()[..])?;
            s.raw_bind_parameter(at + 1, checkpoint.timestamp.nanos())?;
            s.raw_bind_parameter(at + 2, checkpoint.seq)
        },
    )
    .context("failed to insert the batch's entry checkpoints")?;
    Ok(())
}

fn write_pendings(c: &Connection, pendings: &[PendingRecord]) -> anyhow::Result<()> {
    let (new, resolved): (Vec<&PendingRecord>, Vec<&PendingRecord>) = pendings.iter().partition(|p| p.is_new);
    execute_chunked(c, &new, 3, "INSERT INTO ledger_pendings (id, status, expires_at) VALUES", "", |s, at, p| {
        s.raw_bind_parameter(at, &p.id.to_be_bytes()[..])?;
        s.raw_bind_parameter(at + 1, p.status.as_i16())?;
        s.raw_bind_parameter(at + 2, p.expires_at.map(|t| t.nanos()))
    })
    .context("failed to insert the batch's holds")?;
    execute_chunked(
        c,
        &resolved,
        2,
        "WITH v(id, status) AS (VALUES",
        ") UPDATE ledger_pendings SET status = (SELECT status FROM v WHERE v.id = ledger_pendings.id)
           WHERE id IN (SELECT id FROM v)",
        |s, at, p| {
            s.raw_bind_parameter(at, &p.id.to_be_bytes()[..])?;
            s.raw_bind_parameter(at + 1, p.status.as_i16())
        },
    )
    .context("failed to update the batch's resolved holds")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use sanhu_core::ledger::{AccountFlags, BalanceLimit, Counters, NormalSide, TransferAction};
    use sanhu_core::{Amount, Currency};

    use super::*;

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
