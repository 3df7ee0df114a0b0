//! Persistence for sanhu: one interface ([`LedgerStore`]), two implementations (SQLite, the embedded
//! default; PostgreSQL, production), each with its own migrations.
//!
//! Architecture invariant: the store decides nothing about money. It loads the rows a batch needs,
//! hands them to `sanhu_core::ledger::apply_batch`, and writes the outcome in one transaction; every
//! rule lives in core. What it does own is durability (a batch is on disk before `commit_batch`
//! returns) and isolation (two writers never apply to the same account at once).

pub mod audit;
mod model;
pub mod party;
pub mod postgres;
pub mod sqlite;
pub mod staff;
pub mod testing;

use std::future::Future;

pub use model::*;
use sanhu_core::ledger::{Account, Counters, Transfer, TransferError, TransferRequest};
use sanhu_core::{AccountId, Timestamp, TransferId};

/// What every backend provides. All methods are cancel-safe at the transaction boundary: a dropped
/// future leaves nothing half-written.
pub trait LedgerStore: Send + Sync {
    /// Creates or upgrades the schema. Idempotent.
    fn migrate(&self) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Checks that the database answers (readiness); on SQLite, that it takes a write.
    fn ping(&self) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// The durability setting in force, and whether it is the one sanhu requires.
    fn durability(&self) -> impl Future<Output = anyhow::Result<Durability>> + Send;

    fn create_account(&self, account: &Account) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Creates many accounts in one transaction (bulk set-up: benchmarks, imports).
    fn create_accounts(&self, accounts: &[Account]) -> impl Future<Output = anyhow::Result<()>> + Send {
        async move {
            for account in accounts {
                self.create_account(account).await?;
            }
            Ok(())
        }
    }
    fn get_account(&self, id: AccountId) -> impl Future<Output = anyhow::Result<Option<Account>>> + Send;
    /// Accounts in id order after `after`.
    fn list_accounts(
        &self,
        after: Option<AccountId>,
        limit: u32,
    ) -> impl Future<Output = anyhow::Result<Vec<Account>>> + Send;
    /// Several accounts read in one snapshot, so that their balances are consistent with each other.
    fn get_accounts(&self, ids: &[AccountId]) -> impl Future<Output = anyhow::Result<Vec<Account>>> + Send;
    /// Changes an account's flags under its row lock; `change` sees the current account and returns
    /// the new flags or a refusal. Returns None if the account does not exist.
    fn update_account_flags<E: Send + 'static>(
        &self,
        id: AccountId,
        change: FlagChange<E>,
    ) -> impl Future<Output = anyhow::Result<Option<Result<Account, E>>>> + Send;

    /// Applies a batch of transfer requests in one transaction and one fsync. Each result is in the
    /// order of `requests`. Submissions in the batch must have passed `check_submission`.
    fn commit_batch(
        &self,
        requests: Vec<TransferRequest>,
        now: Timestamp,
    ) -> impl Future<Output = anyhow::Result<Vec<Result<Transfer, TransferError>>>> + Send;

    fn get_transfer(&self, id: TransferId) -> impl Future<Output = anyhow::Result<Option<Transfer>>> + Send;
    fn transfers_by_reference(
        &self,
        reference: &str,
        limit: u32,
    ) -> impl Future<Output = anyhow::Result<Vec<Transfer>>> + Send;
    /// The hold's current status, for a pending transfer.
    fn pending_status(
        &self,
        id: TransferId,
    ) -> impl Future<Output = anyhow::Result<Option<sanhu_core::ledger::PendingRecord>>> + Send;
    /// An account's entries (the transfers that touched it) in timestamp order.
    fn account_entries(&self, query: &EntryQuery) -> impl Future<Output = anyhow::Result<Vec<Transfer>>> + Send;
    /// An account's counters just after the last transfer at or before `at` (zeros before its first).
    fn counters_at(&self, id: AccountId, at: Timestamp) -> impl Future<Output = anyhow::Result<Counters>> + Send;
    /// Holds whose timeout has passed by `now`, oldest first.
    fn due_pendings(&self, now: Timestamp, limit: u32) -> impl Future<Output = anyhow::Result<Vec<TransferId>>> + Send;
    /// Recomputes every account's counters from its transfers and checks each currency balances.
    fn verify(&self) -> impl Future<Output = anyhow::Result<VerifyReport>> + Send;

    fn create_client(&self, client: &ApiClient) -> impl Future<Output = anyhow::Result<()>> + Send;
    fn list_clients(&self) -> impl Future<Output = anyhow::Result<Vec<ApiClient>>> + Send;
    fn get_client(&self, id: &str) -> impl Future<Output = anyhow::Result<Option<ApiClient>>> + Send;
    /// Marks a client revoked; returns false if there is no such client.
    fn revoke_client(&self, id: &str, at: Timestamp) -> impl Future<Output = anyhow::Result<bool>> + Send;
    /// Adds an active public key to a client, numbered one more than its last, unless it holds
    /// [`CLIENT_ACTIVE_KEYS_MAX`] active keys already (decided in the same transaction as the insert).
    fn add_client_key(
        &self,
        client_id: &str,
        public_key: &[u8; 32],
        at: Timestamp,
    ) -> impl Future<Output = anyhow::Result<KeyAdded>> + Send;
    /// Revokes a client's key by its number; returns false if the client has no such key. A second
    /// revocation keeps the first time.
    fn revoke_client_key(
        &self,
        client_id: &str,
        number: u32,
        at: Timestamp,
    ) -> impl Future<Output = anyhow::Result<bool>> + Send;
    /// Records a request nonce; false if the client used it before (a replay). Forgets nonces older
    /// than `forget_before`, which must be older than the signature window.
    fn record_nonce(
        &self,
        client_id: &str,
        nonce: &str,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> impl Future<Output = anyhow::Result<bool>> + Send;

    /// Records many requests' nonces in one transaction (one commit): for each, in order, false if
    /// its client used it before (a replay), an earlier one of the same batch included. Forgets
    /// nonces older than `forget_before`, as [`LedgerStore::record_nonce`] does.
    fn record_nonces(
        &self,
        nonces: &[NonceRecord],
        forget_before: Timestamp,
    ) -> impl Future<Output = anyhow::Result<Vec<bool>>> + Send;

    /// Claims an idempotency key for a request with `fingerprint`, or reports what the key holds.
    fn begin_idempotent(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
        now: Timestamp,
    ) -> impl Future<Output = anyhow::Result<IdempotencyBegin>> + Send;
    /// Stores the response of a claimed key.
    fn complete_idempotent(
        &self,
        key: &IdempotencyKey,
        response: &StoredResponse,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Releases a claimed key without a response (the request failed before deciding anything), so
    /// that a retry runs afresh.
    fn release_idempotent(&self, key: &IdempotencyKey) -> impl Future<Output = anyhow::Result<()>> + Send;
}

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

    pub fn backend(&self) -> &'static str {
        match self {
            Store::Sqlite(_) => "sqlite",
            Store::Postgres(_) => "postgres",
        }
    }
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            Store::Sqlite($s) => $e.await,
            Store::Postgres($s) => $e.await,
        }
    };
}

impl LedgerStore for Store {
    async fn migrate(&self) -> anyhow::Result<()> {
        dispatch!(self, s => s.migrate())
    }
    async fn ping(&self) -> anyhow::Result<()> {
        dispatch!(self, s => s.ping())
    }
    async fn durability(&self) -> anyhow::Result<Durability> {
        dispatch!(self, s => s.durability())
    }
    async fn create_account(&self, account: &Account) -> anyhow::Result<()> {
        dispatch!(self, s => s.create_account(account))
    }
    async fn create_accounts(&self, accounts: &[Account]) -> anyhow::Result<()> {
        dispatch!(self, s => s.create_accounts(accounts))
    }
    async fn get_account(&self, id: AccountId) -> anyhow::Result<Option<Account>> {
        dispatch!(self, s => s.get_account(id))
    }
    async fn list_accounts(&self, after: Option<AccountId>, limit: u32) -> anyhow::Result<Vec<Account>> {
        dispatch!(self, s => s.list_accounts(after, limit))
    }
    async fn get_accounts(&self, ids: &[AccountId]) -> anyhow::Result<Vec<Account>> {
        dispatch!(self, s => s.get_accounts(ids))
    }
    async fn update_account_flags<E: Send + 'static>(
        &self,
        id: AccountId,
        change: FlagChange<E>,
    ) -> anyhow::Result<Option<Result<Account, E>>> {
        dispatch!(self, s => s.update_account_flags(id, change))
    }
    async fn commit_batch(
        &self,
        requests: Vec<TransferRequest>,
        now: Timestamp,
    ) -> anyhow::Result<Vec<Result<Transfer, TransferError>>> {
        dispatch!(self, s => s.commit_batch(requests, now))
    }
    async fn get_transfer(&self, id: TransferId) -> anyhow::Result<Option<Transfer>> {
        dispatch!(self, s => s.get_transfer(id))
    }
    async fn transfers_by_reference(&self, reference: &str, limit: u32) -> anyhow::Result<Vec<Transfer>> {
        dispatch!(self, s => s.transfers_by_reference(reference, limit))
    }
    async fn pending_status(&self, id: TransferId) -> anyhow::Result<Option<sanhu_core::ledger::PendingRecord>> {
        dispatch!(self, s => s.pending_status(id))
    }
    async fn account_entries(&self, query: &EntryQuery) -> anyhow::Result<Vec<Transfer>> {
        dispatch!(self, s => s.account_entries(query))
    }
    async fn counters_at(&self, id: AccountId, at: Timestamp) -> anyhow::Result<Counters> {
        dispatch!(self, s => s.counters_at(id, at))
    }
    async fn due_pendings(&self, now: Timestamp, limit: u32) -> anyhow::Result<Vec<TransferId>> {
        dispatch!(self, s => s.due_pendings(now, limit))
    }
    async fn verify(&self) -> anyhow::Result<VerifyReport> {
        dispatch!(self, s => s.verify())
    }
    async fn create_client(&self, client: &ApiClient) -> anyhow::Result<()> {
        dispatch!(self, s => s.create_client(client))
    }
    async fn list_clients(&self) -> anyhow::Result<Vec<ApiClient>> {
        dispatch!(self, s => s.list_clients())
    }
    async fn get_client(&self, id: &str) -> anyhow::Result<Option<ApiClient>> {
        dispatch!(self, s => s.get_client(id))
    }
    async fn revoke_client(&self, id: &str, at: Timestamp) -> anyhow::Result<bool> {
        dispatch!(self, s => s.revoke_client(id, at))
    }
    async fn add_client_key(&self, client_id: &str, public_key: &[u8; 32], at: Timestamp) -> anyhow::Result<KeyAdded> {
        dispatch!(self, s => s.add_client_key(client_id, public_key, at))
    }
    async fn revoke_client_key(&self, client_id: &str, number: u32, at: Timestamp) -> anyhow::Result<bool> {
        dispatch!(self, s => s.revoke_client_key(client_id, number, at))
    }
    async fn record_nonce(
        &self,
        client_id: &str,
        nonce: &str,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> anyhow::Result<bool> {
        dispatch!(self, s => s.record_nonce(client_id, nonce, at, forget_before))
    }
    async fn record_nonces(&self, nonces: &[NonceRecord], forget_before: Timestamp) -> anyhow::Result<Vec<bool>> {
        dispatch!(self, s => s.record_nonces(nonces, forget_before))
    }
    async fn begin_idempotent(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
        now: Timestamp,
    ) -> anyhow::Result<IdempotencyBegin> {
        dispatch!(self, s => s.begin_idempotent(key, fingerprint, now))
    }
    async fn complete_idempotent(&self, key: &IdempotencyKey, response: &StoredResponse) -> anyhow::Result<()> {
        dispatch!(self, s => s.complete_idempotent(key, response))
    }
    async fn release_idempotent(&self, key: &IdempotencyKey) -> anyhow::Result<()> {
        dispatch!(self, s => s.release_idempotent(key))
    }
}

/// The accounts a batch must load, sorted and without repeats: those its requests name, and those of
/// the holds it resolves. Both backends lock and load in this order.
pub fn pending_account_ids(
    pendings: &[sanhu_core::ledger::PendingRecord],
    mut account_ids: Vec<AccountId>,
) -> Vec<AccountId> {
    for p in pendings {
        account_ids.push(p.debit_account_id);
        account_ids.push(p.credit_account_id);
    }
    account_ids.sort();
    account_ids.dedup();
    account_ids
}

/// The wall clock in nanoseconds, for bookkeeping columns such as a migration's time.
pub(crate) fn now_nanos() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as i64)
}

/// Checks a batch's outcome before it is written (TigerBeetle's "assert before you write"): no counter
/// is negative, and the last transfer that touched each account records exactly the account's final
/// counters, so what is written is consistent with itself. A failure aborts the batch.
pub fn assert_batch_balances(outcome: &sanhu_core::ledger::BatchOutcome) -> anyhow::Result<()> {
    let mut last: sanhu_core::id_hash::IdMap<AccountId, Counters> =
        sanhu_core::id_hash::IdMap::with_capacity_and_hasher(outcome.accounts.len(), Default::default());
    for t in &outcome.inserted {
        last.insert(t.debit_account_id, t.debit_account_after);
        last.insert(t.credit_account_id, t.credit_account_after);
    }
    for account in &outcome.accounts {
        let c = &account.counters;
        anyhow::ensure!(
            c.debits_pending >= 0 && c.debits_posted >= 0 && c.credits_pending >= 0 && c.credits_posted >= 0,
            "refusing to write a batch: account {} would have a negative counter {:?}",
            account.id,
            c
        );
        if let Some(recorded) = last.get(&account.id) {
            anyhow::ensure!(
                recorded == c,
                "refusing to write a batch: account {} ends at {:?} but its last entry records {:?}",
                account.id,
                c,
                recorded
            );
        }
    }
    Ok(())
}

/// A signed request's nonce, as its client used it at `at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NonceRecord {
    pub client_id: String,
    pub nonce: String,
    pub at: Timestamp,
}

/// Which of `nonces` are the first of their (client, nonce) in the batch: a later one is a replay of
/// the earlier whatever the database holds.
pub fn first_in_batch(nonces: &[NonceRecord]) -> Vec<bool> {
    let mut seen = std::collections::HashSet::with_capacity(nonces.len());
    nonces.iter().map(|n| seen.insert((n.client_id.as_str(), n.nonce.as_str()))).collect()
}

/// Whether `error` says the database is out of reach or cannot take writes for now (a connection
/// refused or dropped, a disk full or failing, a database shutting down), rather than that the
/// request or sanhu is wrong. The HTTP layer answers such errors 503 with `Retry-After` instead of
/// 500: nothing was decided, and the same request may succeed once the database is back.
pub fn is_unavailable(error: &anyhow::Error) -> bool {
    error.chain().any(|cause| {
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

fn postgres_unavailable(error: &tokio_postgres::Error) -> bool {
    use tokio_postgres::error::SqlState;
    match error.code() {
        // 08: connection exception; 53: insufficient resources (disk full, out of memory, too many
        // connections); 57P01-57P03: the server is shutting down or starting up.
        Some(code) => {
            let code = code.code();
            code.starts_with("08")
                || code.starts_with("53")
                || [&SqlState::ADMIN_SHUTDOWN, &SqlState::CRASH_SHUTDOWN, &SqlState::CANNOT_CONNECT_NOW]
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
