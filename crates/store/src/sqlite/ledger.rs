//! The ledger on SQLite (see `crate::ledger`): accounts, transfers, holds and each account's entries.
//! Every ledger write runs on the writer connection, which keeps the accounts it has seen in memory
//! ([`AccountCache`]); reads run on reader connections.
//!
//! An account's entries: each transfer row links to the previous entry of its debit account and of
//! its credit account; every `ENTRY_CHECKPOINT_INTERVAL`-th entry of an account is also indexed by
//! (account, timestamp). Reads start at the nearest checkpoint and follow the links, so they take at
//! most an interval's steps plus the entries they return, while a write only appends.

use std::collections::HashMap;
use std::rc::Rc;

use anyhow::Context;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};
use sanhu_core::id_hash::IdMap;
use sanhu_core::ledger::verify::Recount;
use sanhu_core::ledger::{
    apply_batch, Account, BatchNeeds, Counters, LedgerState, PendingRecord, PendingStatus, Transfer, TransferError,
    TransferRequest,
};
use sanhu_core::{AccountId, Timestamp, TransferId};

use super::rows::*;
use super::{in_read_transaction, SqliteStore};
use crate::{pending_account_ids, EntryQuery, FlagChange, LedgerStore, TransferTotal, VerifyReport};

/// SQLite's default limit on bound parameters per statement (SQLITE_MAX_VARIABLE_NUMBER since 3.32).
const SQLITE_PARAMETERS_MAX: usize = 32_766;
/// Rows per multi-row INSERT or UPDATE: the most that keep the widest row (the transfer's 21 columns)
/// within the parameter limit, rounded down.
const ROWS_PER_STATEMENT_MAX: usize = 1_500;
const _: () = assert!(ROWS_PER_STATEMENT_MAX * TRANSFER_COLUMN_COUNT <= SQLITE_PARAMETERS_MAX);

/// The writer's copy of the accounts it has seen, at most `entries_max` of them
/// (`StoreOptions::sqlite_account_cache_entries`): a batch that would pass it empties the cache first.
pub(super) struct AccountCache {
    pub(super) entries: IdMap<AccountId, CachedAccount>,
    entries_max: usize,
    data_version: i64,
}

pub(super) struct CachedAccount {
    account: Account,
    number: i64,
    chain: Chain,
}

impl AccountCache {
    pub(super) fn new(entries_max: usize) -> AccountCache {
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

impl LedgerStore for SqliteStore {
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
            in_read_transaction(c, |c| entries(c, q.account_id, lower, upper, q.limit))
        })
        .await
    }

    async fn counters_at(&self, id: AccountId, at: Timestamp) -> anyhow::Result<Counters> {
        self.read(move |c| in_read_transaction(c, |c| counters_at(c, id, at.nanos()))).await
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

    async fn transfer_totals(
        &self,
        from: Timestamp,
        to: Timestamp,
        bucket_s: u32,
    ) -> anyhow::Result<Vec<TransferTotal>> {
        let bucket = i64::from(bucket_s.max(1)) * 1_000_000_000;
        self.read(move |c| {
            in_read_transaction(c, |c| {
                // Transfers are appended in about their timestamps' order (a batch's clock is read
                // before it waits for the writer): the span, widened by a minute each side, is a
                // range of seq, read and filtered by timestamp exactly.
                const SLACK_NS: i64 = 60_000_000_000;
                let low = first_seq_at(c, from.nanos().saturating_sub(SLACK_NS))?;
                let high = first_seq_at(c, to.nanos().saturating_add(SLACK_NS))?;
                // The span's money by bucket, and each order once, in the bucket of its first
                // transfer ([`ORDER_KEY_SQL`]).
                let mut statement = c.prepare_cached(&format!(
                    "WITH moved AS (
                       SELECT code, timestamp / ?5 AS bucket, amount, {ORDER_KEY_SQL} AS ord
                       FROM ledger_transfers
                       WHERE seq >= ?1 AND seq < ?2 AND timestamp >= ?3 AND timestamp < ?4 AND kind IN (0, 2)
                     ),
                     firsts AS (SELECT code, MIN(bucket) AS bucket FROM moved GROUP BY code, ord)
                     SELECT code, bucket, SUM(orders), SUM(amount) FROM (
                       SELECT code, bucket, 0 AS orders, amount FROM moved
                       UNION ALL SELECT code, bucket, 1, 0 FROM firsts
                     ) GROUP BY code, bucket ORDER BY bucket, code"
                ))?;
                let rows = statement.query_map(params![low, high, from.nanos(), to.nanos(), bucket], |r| {
                    Ok(TransferTotal {
                        code: r.get(0)?,
                        bucket_start: Timestamp::from_nanos(r.get::<_, i64>(1)? * bucket),
                        count: r.get(2)?,
                        amount: r.get(3)?,
                    })
                })?;
                Ok(rows.collect::<Result<_, _>>()?)
            })
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
                check_chains(c, &mut problems)?;
                Ok(VerifyReport { accounts_checked: accounts.len() as u64, transfers_checked, problems })
            })
        })
        .await
    }
}

/// What tells an order's transfers from another's in the statistics: its reference (the order's
/// number; a transfer without one is an order of its own). An order number is unique per API client
/// only, and the journal keeps no client: two clients' orders of one number moved in one month are
/// counted as one.
const ORDER_KEY_SQL: &str = "COALESCE(reference, hex(id))";

/// The seq of the first transfer with a timestamp at or after `at` (one more than the last seq if
/// none): a binary search on seq, which orders the transfers as their timestamps do.
fn first_seq_at(c: &Connection, at: i64) -> anyhow::Result<i64> {
    let (mut low, mut high): (i64, i64) =
        c.query_row("SELECT COALESCE(MIN(seq), 1), COALESCE(MAX(seq), 0) + 1 FROM ledger_transfers", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
    let mut probe =
        c.prepare_cached("SELECT seq, timestamp FROM ledger_transfers WHERE seq >= ?1 ORDER BY seq LIMIT 1")?;
    // Invariant: every seq below `low` is before `at`; `high` is at or after it (or past the end).
    while low < high {
        let middle = low + (high - low) / 2;
        let found: Option<(i64, i64)> = probe.query_row(params![middle], |r| Ok((r.get(0)?, r.get(1)?))).optional()?;
        match found {
            Some((seq, timestamp)) if timestamp < at => low = seq + 1,
            Some(_) | None => high = middle,
        }
    }
    Ok(low)
}

fn blob_array<K: sanhu_core::id::IdKind>(ids: &[sanhu_core::Id128<K>]) -> Rc<Vec<Value>> {
    Rc::new(ids.iter().map(|id| Value::Blob(id.to_be_bytes().to_vec())).collect())
}

/// Inserts new accounts and their balances rows, numbering them after the highest number in use. Runs
/// inside the caller's write transaction (on the writer connection), which commits it.
pub(super) fn insert_accounts(c: &Connection, accounts: &[Account]) -> anyhow::Result<()> {
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
        bind_balances(s, at, *number, account, Chain::default())
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
    let mut places: IdMap<AccountId, (i64, Chain)> =
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
    let mut chains: IdMap<AccountId, Chain> = places.iter().map(|(id, (_, chain))| (*id, *chain)).collect();
    let (rows, checkpoints) = link(&outcome.inserted, first_seq, &mut chains);
    if insert_transfers(&tx, &rows)? < rows.len() {
        // An id was stored already: nothing is written (the transaction rolls back when dropped).
        return Ok(None);
    }
    insert_checkpoints(&tx, &checkpoints)?;
    write_pendings(&tx, &outcome.pendings)?;
    let balances: Vec<(i64, &Account, Chain)> =
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
            chain: Chain {
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
fn insert_transfers(c: &Connection, rows: &[LinkedRow]) -> anyhow::Result<usize> {
    let head = format!("INSERT INTO ledger_transfers (seq, {TRANSFER_COLUMNS}, dr_prev_seq, cr_prev_seq) VALUES");
    execute_chunked(c, rows, TRANSFER_COLUMN_COUNT + 3, &head, "ON CONFLICT (id) DO NOTHING", |s, at, row| {
        s.raw_bind_parameter(at, row.seq)?;
        bind_transfer(s, at + 1, row.transfer)?;
        s.raw_bind_parameter(at + 1 + TRANSFER_COLUMN_COUNT, row.dr_prev_seq)?;
        s.raw_bind_parameter(at + 2 + TRANSFER_COLUMN_COUNT, row.cr_prev_seq)
    })
    .context("failed to insert the batch's transfers")
}

fn insert_checkpoints(c: &Connection, checkpoints: &[Checkpoint]) -> anyhow::Result<()> {
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

/// Every this many entries of an account, one checkpoint row. Larger: fewer index writes; smaller:
/// shorter walks for statements and past balances.
pub const ENTRY_CHECKPOINT_INTERVAL: i64 = 128;

/// Where an account's chain of entries ends.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Chain {
    /// seq of the account's latest entry; 0 when it has none.
    pub last_seq: i64,
    pub entry_count: i64,
}

/// A transfer row about to be inserted, with its place in both accounts' chains.
pub struct LinkedRow<'a> {
    pub seq: i64,
    pub transfer: &'a Transfer,
    pub dr_prev_seq: i64,
    pub cr_prev_seq: i64,
}

/// A checkpoint row to insert.
pub struct Checkpoint {
    pub account_id: AccountId,
    pub timestamp: Timestamp,
    pub seq: i64,
}

/// Places a batch's new transfers in their accounts' chains: gives each the next seq, links it to each
/// account's previous entry, advances `chains`, and lists the checkpoints that come due.
pub fn link<'a>(
    transfers: &'a [Transfer],
    first_seq: i64,
    chains: &mut IdMap<AccountId, Chain>,
) -> (Vec<LinkedRow<'a>>, Vec<Checkpoint>) {
    let mut rows = Vec::with_capacity(transfers.len());
    let mut checkpoints = Vec::new();
    for (i, transfer) in transfers.iter().enumerate() {
        let seq = first_seq + i as i64;
        let mut advance = |account_id: AccountId| -> i64 {
            let chain = chains.entry(account_id).or_default();
            let previous = chain.last_seq;
            chain.last_seq = seq;
            chain.entry_count += 1;
            if chain.entry_count % ENTRY_CHECKPOINT_INTERVAL == 0 {
                checkpoints.push(Checkpoint { account_id, timestamp: transfer.timestamp, seq });
            }
            previous
        };
        let dr_prev_seq = advance(transfer.debit_account_id);
        let cr_prev_seq = advance(transfer.credit_account_id);
        rows.push(LinkedRow { seq, transfer, dr_prev_seq, cr_prev_seq });
    }
    (rows, checkpoints)
}

/// A stored entry and its link to the account's previous one.
struct Linked {
    transfer: Transfer,
    previous: i64,
}

fn linked_at(c: &Connection, account: AccountId, seq: i64) -> anyhow::Result<Linked> {
    let mut statement = c.prepare_cached(&format!(
        "SELECT {TRANSFER_COLUMNS}, dr_prev_seq, cr_prev_seq FROM ledger_transfers WHERE seq = ?1"
    ))?;
    statement
        .query_row([seq], |r| {
            let transfer = transfer_from_row(r)?;
            let column = if transfer.debit_account_id == account { 0 } else { 1 };
            let previous: i64 = r.get(TRANSFER_COLUMN_COUNT + column)?;
            Ok(Linked { transfer, previous })
        })
        .with_context(|| format!("the entry chain of account {account} is broken at seq {seq}"))
}

/// The account's entries from `end_seq` back to (not including) `stop_seq`, and not before `lower`,
/// oldest first.
fn walk_back(
    c: &Connection,
    account: AccountId,
    end_seq: i64,
    stop_seq: i64,
    lower: i64,
) -> anyhow::Result<Vec<Transfer>> {
    let mut segment = Vec::new();
    let mut seq = end_seq;
    while seq != 0 && seq != stop_seq {
        let entry = linked_at(c, account, seq)?;
        if entry.transfer.timestamp.nanos() < lower {
            break;
        }
        seq = entry.previous;
        segment.push(entry.transfer);
    }
    segment.reverse();
    Ok(segment)
}

pub fn chain_of(c: &Connection, account: AccountId) -> anyhow::Result<Option<Chain>> {
    Ok(c.prepare_cached(
        "SELECT b.last_entry_seq, b.entry_count FROM ledger_accounts a
           JOIN ledger_balances b ON b.account_number = a.number WHERE a.id = ?1",
    )?
    .query_row([account.to_be_bytes()], |r| Ok(Chain { last_seq: r.get(0)?, entry_count: r.get(1)? }))
    .optional()?)
}

/// The account's entries with timestamps in `[lower, upper)`, oldest first, at most `limit`.
pub fn entries(
    c: &Connection,
    account: AccountId,
    lower: i64,
    upper: i64,
    limit: u32,
) -> anyhow::Result<Vec<Transfer>> {
    let Some(chain) = chain_of(c, account)? else { return Ok(Vec::new()) };
    // Segment ends: the checkpoints at or after `lower` (enough of them to fill `limit`), then the
    // chain's end. Each segment is walked back to the end of the one before.
    let checkpoints_needed = limit as i64 / ENTRY_CHECKPOINT_INTERVAL + 2;
    let mut ends: Vec<i64> = c
        .prepare_cached(
            "SELECT seq FROM ledger_entry_checkpoints WHERE account_id = ?1 AND timestamp >= ?2 AND timestamp < ?3
             ORDER BY timestamp LIMIT ?4",
        )?
        .query_map(params![account.to_be_bytes(), lower, upper, checkpoints_needed], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    if (ends.len() as i64) < checkpoints_needed && ends.last() != Some(&chain.last_seq) {
        ends.push(chain.last_seq);
    }
    let mut found = Vec::new();
    let mut previous_end = 0;
    for end in ends {
        for transfer in walk_back(c, account, end, previous_end, lower)? {
            if transfer.timestamp.nanos() >= upper || found.len() >= limit as usize {
                return Ok(found);
            }
            found.push(transfer);
        }
        previous_end = end;
    }
    Ok(found)
}

/// The account's counters just after its last entry at or before `at`; zeros before its first.
pub fn counters_at(c: &Connection, account: AccountId, at: i64) -> anyhow::Result<Counters> {
    let Some(chain) = chain_of(c, account)? else { return Ok(Counters::default()) };
    let start: i64 = c
        .prepare_cached(
            "SELECT seq FROM ledger_entry_checkpoints WHERE account_id = ?1 AND timestamp > ?2
             ORDER BY timestamp LIMIT 1",
        )?
        .query_row(params![account.to_be_bytes(), at], |r| r.get(0))
        .optional()?
        .unwrap_or(chain.last_seq);
    let mut seq = start;
    while seq != 0 {
        let entry = linked_at(c, account, seq)?;
        if entry.transfer.timestamp.nanos() <= at {
            let t = entry.transfer;
            return Ok(if t.debit_account_id == account { t.debit_account_after } else { t.credit_account_after });
        }
        seq = entry.previous;
    }
    Ok(Counters::default())
}

/// For `verify`: follows every account's chain in seq order and reports links that do not point at
/// the account's previous entry, and chain ends or counts that disagree with the account row.
pub fn check_chains(c: &Connection, problems: &mut Vec<String>) -> anyhow::Result<()> {
    let mut chains: HashMap<AccountId, Chain> = HashMap::new();
    let mut statement = c.prepare(
        "SELECT seq, debit_account_id, credit_account_id, dr_prev_seq, cr_prev_seq FROM ledger_transfers ORDER BY seq",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let seq: i64 = row.get(0)?;
        for (account_column, prev_column) in [(1, 3), (2, 4)] {
            let account: AccountId = super::rows::id_from_row(row, account_column)?;
            let prev: i64 = row.get(prev_column)?;
            let chain = chains.entry(account).or_default();
            if chain.last_seq != prev && problems.len() < sanhu_core::ledger::verify::PROBLEMS_LISTED_MAX {
                problems.push(format!(
                    "entry seq {seq} of account {account} links to seq {prev}, but the account's previous entry is seq {}",
                    chain.last_seq
                ));
            }
            chain.last_seq = seq;
            chain.entry_count += 1;
        }
    }
    let mut statement = c.prepare(
        "SELECT a.id, b.last_entry_seq, b.entry_count FROM ledger_accounts a
           JOIN ledger_balances b ON b.account_number = a.number",
    )?;
    let mut rows = statement.query([])?;
    while let Some(row) = rows.next()? {
        let account: AccountId = super::rows::id_from_row(row, 0)?;
        let stored = Chain { last_seq: row.get(1)?, entry_count: row.get(2)? };
        let recounted = chains.get(&account).copied().unwrap_or_default();
        if stored != recounted && problems.len() < sanhu_core::ledger::verify::PROBLEMS_LISTED_MAX {
            problems.push(format!(
                "account {account} records its entries end at seq {} after {} entries, but they end at seq {} after {}",
                stored.last_seq, stored.entry_count, recounted.last_seq, recounted.entry_count
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanhu_core::ledger::TransferKind;
    use sanhu_core::TransferId;

    fn transfer(n: u128, debit: u128, credit: u128) -> Transfer {
        Transfer {
            id: TransferId::from_u128(n).unwrap(),
            kind: TransferKind::Posted,
            debit_account_id: AccountId::from_u128(debit).unwrap(),
            credit_account_id: AccountId::from_u128(credit).unwrap(),
            amount: 1,
            pending_id: None,
            timeout_s: 0,
            linked: false,
            balancing: false,
            requested_amount: 1,
            code: String::new(),
            reference: None,
            metadata: "{}".into(),
            timestamp: Timestamp(n as i64),
            debit_account_after: Counters::default(),
            credit_account_after: Counters::default(),
        }
    }

    #[test]
    fn each_entry_links_to_its_accounts_previous_entries() {
        let a = AccountId::from_u128(1).unwrap();
        let mut chains: IdMap<AccountId, Chain> =
            [(a, Chain { last_seq: 7, entry_count: ENTRY_CHECKPOINT_INTERVAL - 2 })].into_iter().collect();
        let transfers = [transfer(1, 1, 2), transfer(2, 2, 1), transfer(3, 3, 2)];
        let (rows, checkpoints) = link(&transfers, 10, &mut chains);
        let links: Vec<(i64, i64, i64)> = rows.iter().map(|r| (r.seq, r.dr_prev_seq, r.cr_prev_seq)).collect();
        assert_eq!(links, [(10, 7, 0), (11, 10, 10), (12, 0, 11)]);
        assert_eq!(chains[&a], Chain { last_seq: 11, entry_count: ENTRY_CHECKPOINT_INTERVAL });
        assert_eq!(checkpoints.len(), 1, "account 1 reached its checkpoint interval");
        assert_eq!((checkpoints[0].account_id, checkpoints[0].seq), (a, 11));
    }
}
