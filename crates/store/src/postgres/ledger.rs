//! The ledger on PostgreSQL (see `crate::ledger`): the batched commit, the reads, and `verify`.

use std::collections::HashMap;
use std::future::Future;
use std::task::Poll;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use futures_util::future::{join, join3};
use futures_util::{SinkExt, StreamExt};
use sanhu_core::id_hash::IdMap;
use sanhu_core::ledger::verify::PROBLEMS_LISTED_MAX;
use sanhu_core::ledger::{
    apply_batch, Account, BatchNeeds, BatchOutcome, Counters, LedgerState, PendingRecord, PendingStatus, Transfer,
    TransferError, TransferRequest,
};
use sanhu_core::{AccountId, Currency, Timestamp, TransferId};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{GenericClient, IsolationLevel};
use uuid::Uuid;

use super::pool::{PooledConn, Statements};
use super::rows::{
    account_columns, account_from_row, account_id, chain_from_row, check_transfer_copy_columns, pending_from_row,
    transfer_columns, transfer_copy_columns, transfer_from_row, transfer_id, transfers_copy_data, uuid, uuids,
    AccountChange, AccountRow, Chain, LinkedTransfer, ACCOUNT_COLUMN_COUNT,
};
use super::PostgresStore;
use crate::{pending_account_ids, EntryQuery, FlagChange, LedgerStore, TransferTotal, VerifyReport};

/// How many times a batch that lost a race with another writer is tried in all.
const COMMIT_TRIES: u32 = 10;

const LOCK_PENDINGS: &str = "SELECT p.id, p.status, p.expires_at, t.debit_account_id, t.credit_account_id, t.amount \
     FROM ledger_pendings p JOIN ledger_transfers t ON t.id = p.id \
     WHERE p.id = ANY($1::uuid[]) ORDER BY p.id FOR UPDATE OF p";
const LOAD_TRANSFERS: &str =
    concat!("SELECT ", transfer_columns!(), " FROM ledger_transfers WHERE id = ANY($1::uuid[])");
/// The accounts and where their entries end, locked: the lock is what keeps each account's chain of
/// entries a single line when several writers share the database.
const LOCK_ACCOUNTS: &str = concat!(
    "SELECT ",
    account_columns!(),
    ", last_entry_id, entry_count FROM ledger_accounts WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE"
);
/// No rows: prepared only for the types of the columns that COPY writes.
const TRANSFER_COPY_PROBE: &str = concat!("SELECT ", transfer_copy_columns!(), " FROM ledger_transfers LIMIT 0");
const COPY_TRANSFERS: &str =
    concat!("COPY ledger_transfers (", transfer_copy_columns!(), ") FROM STDIN (FORMAT binary)");
const INSERT_CHECKPOINTS: &str = "INSERT INTO ledger_entry_checkpoints (account_id, timestamp, transfer_id) \
     SELECT * FROM UNNEST($1::uuid[], $2::int8[], $3::uuid[])";
const INSERT_PENDINGS: &str = "INSERT INTO ledger_pendings (id, status, expires_at) \
     SELECT * FROM UNNEST($1::uuid[], $2::int2[], $3::int8[])";
const UPDATE_PENDINGS: &str = "UPDATE ledger_pendings p SET status = v.status \
     FROM UNNEST($1::uuid[], $2::int2[]) AS v(id, status) WHERE p.id = v.id";
// Accounts travel as one array of a narrow row type: one parameter whatever the batch's size, and
// only the columns a batch changes.
const UPDATE_ACCOUNTS: &str = "UPDATE ledger_accounts a SET debits_pending = v.debits_pending, \
     debits_posted = v.debits_posted, credits_pending = v.credits_pending, credits_posted = v.credits_posted, \
     last_transfer_at = v.last_transfer_at, last_entry_id = v.last_entry_id, entry_count = v.entry_count \
     FROM UNNEST($1::ledger_account_change[]) AS v WHERE a.id = v.id";
const INSERT_ACCOUNTS: &str = "INSERT INTO ledger_accounts SELECT * FROM UNNEST($1::ledger_accounts[])";
const GET_ACCOUNT: &str = concat!("SELECT ", account_columns!(), " FROM ledger_accounts WHERE id = $1");
const GET_TRANSFER: &str = concat!("SELECT ", transfer_columns!(), " FROM ledger_transfers WHERE id = $1");

/// Every this many entries of an account, one checkpoint row. Larger: fewer rows to write; smaller:
/// shorter walks for statements and past balances. The same interval as on SQLite.
pub(super) const ENTRY_CHECKPOINT_INTERVAL: i64 = 128;

/// Account $1's previous entry before the walk's row `w`, as the recursive part of a walk. A lateral
/// subquery with a LIMIT is planned for one row at a time, so it is always a primary-key look-up: as a
/// plain join, a small or freshly filled table can make a hash join over the whole table look cheaper
/// to the planner, and the walk repeats it at every step.
macro_rules! previous_entry {
    ($condition:literal) => {
        concat!(
            " FROM walk w CROSS JOIN LATERAL (
                SELECT t.*, CASE WHEN t.debit_account_id = $1 THEN t.dr_prev_id ELSE t.cr_prev_id END AS prev
                FROM ledger_transfers t WHERE t.id = w.prev AND ",
            $condition,
            " LIMIT 1) AS t"
        )
    };
}

/// Account $1's entries with timestamps in [$2, $3], oldest first, at most $4; $5 is how many
/// checkpoints at or after $2 cover $4 entries. The walk starts at the first of those checkpoints
/// that is past $3 or is the $5-th (else at the chain's end), and follows the links back to $2:
/// at most $5 intervals of steps, in one statement.
const ENTRIES: &str = concat!(
    "WITH RECURSIVE ends AS (
        SELECT transfer_id, timestamp, row_number() OVER (ORDER BY timestamp) AS n
        FROM (SELECT transfer_id, timestamp FROM ledger_entry_checkpoints
              WHERE account_id = $1 AND timestamp >= $2 ORDER BY timestamp LIMIT $5) AS c
    ), start AS (
        SELECT coalesce(
            (SELECT transfer_id FROM ends WHERE timestamp > $3 OR n = $5 ORDER BY timestamp LIMIT 1),
            (SELECT last_entry_id FROM ledger_accounts WHERE id = $1)) AS id
    ), walk AS (
        SELECT t.*, CASE WHEN t.debit_account_id = $1 THEN t.dr_prev_id ELSE t.cr_prev_id END AS prev
        FROM ledger_transfers t WHERE t.id = (SELECT id FROM start) AND t.timestamp >= $2
        UNION ALL
        SELECT t.*",
    previous_entry!("t.timestamp >= $2"),
    "
    )
    SELECT ",
    transfer_columns!(),
    " FROM walk WHERE timestamp <= $3 ORDER BY timestamp LIMIT $4"
);

/// Account $1's counters after its last entry at or before $2: the walk starts at the first
/// checkpoint after $2 (else at the chain's end) and stops at the first entry at or before $2.
const COUNTERS_AT: &str = concat!(
    "WITH RECURSIVE start AS (
        SELECT coalesce(
            (SELECT transfer_id FROM ledger_entry_checkpoints WHERE account_id = $1 AND timestamp > $2
             ORDER BY timestamp LIMIT 1),
            (SELECT last_entry_id FROM ledger_accounts WHERE id = $1)) AS id
    ), walk AS (
        SELECT t.*, CASE WHEN t.debit_account_id = $1 THEN t.dr_prev_id ELSE t.cr_prev_id END AS prev
        FROM ledger_transfers t WHERE t.id = (SELECT id FROM start)
        UNION ALL
        SELECT t.*",
    previous_entry!("w.timestamp > $2"),
    "
    )
    SELECT CASE WHEN debit_account_id = $1 THEN dr_debits_pending ELSE cr_debits_pending END,
           CASE WHEN debit_account_id = $1 THEN dr_debits_posted ELSE cr_debits_posted END,
           CASE WHEN debit_account_id = $1 THEN dr_credits_pending ELSE cr_credits_pending END,
           CASE WHEN debit_account_id = $1 THEN dr_credits_posted ELSE cr_credits_posted END
    FROM walk WHERE timestamp <= $2 LIMIT 1"
);

/// How long to wait before try `tries + 1`: doubling from 2 ms to at most 128 ms, with up to as
/// much again at random, so that two instances that collided do not collide again in step.
pub(super) fn retry_backoff(tries: u32) -> Duration {
    let base = 1u64 << tries.clamp(1, 7);
    let random = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    Duration::from_micros(base * 1000 + u64::from(random) % (base * 1000))
}

/// Whether a failed batch lost a race with another writer, or met a stored transfer id it did not
/// look up, and may simply be tried again.
fn lost_a_race(error: &anyhow::Error) -> bool {
    let code = error_code(error);
    [&SqlState::T_R_DEADLOCK_DETECTED, &SqlState::T_R_SERIALIZATION_FAILURE].iter().any(|c| code == Some(*c))
        || is_unique_violation(error)
}

/// 23505: one of the batch's transfer ids is stored already, either before the batch (the first try
/// does not look) or by another instance since it looked. The next try looks the ids up, sees it,
/// and answers the request as a resubmission.
fn is_unique_violation(error: &anyhow::Error) -> bool {
    error_code(error) == Some(&SqlState::UNIQUE_VIOLATION)
}

/// Of the errors of statements pipelined in one transaction, the one that failed it. A statement sent
/// after a failed one is answered 25P02 (`in_failed_sql_transaction`), and which answer is read first
/// depends on timing: a batch that met a stored transfer id (23505) or lost a deadlock must be seen
/// as such, to be tried again, and not as the aborted transaction that followed.
fn cause_of_failed_transaction<const N: usize>(errors: [Option<anyhow::Error>; N]) -> anyhow::Error {
    let mut errors: Vec<anyhow::Error> = errors.into_iter().flatten().collect();
    let cause =
        errors.iter().position(|error| error_code(error) != Some(&SqlState::IN_FAILED_SQL_TRANSACTION)).unwrap_or(0);
    if errors.is_empty() {
        return anyhow!("a pipelined statement failed without an error");
    }
    errors.swap_remove(cause)
}

fn error_code(error: &anyhow::Error) -> Option<&SqlState> {
    error.downcast_ref::<tokio_postgres::Error>().and_then(|e| e.code())
}

impl LedgerStore for PostgresStore {
    async fn commit_batch(
        &self,
        requests: Vec<TransferRequest>,
        now: Timestamp,
    ) -> anyhow::Result<Vec<Result<Transfer, TransferError>>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        let needs = BatchNeeds::of(&requests);
        let mut tries = 0;
        loop {
            tries += 1;
            let mut conn = self.inner.writer.get().await?;
            // The first try does not look up the batch's ids; a unique violation says it should have.
            match commit_once(&mut conn, &requests, &needs, now, tries > 1).await {
                Ok(results) => return Ok(results),
                Err(error) if tries < COMMIT_TRIES && lost_a_race(&error) => {
                    drop(conn);
                    tracing::debug!(%error, tries, "a ledger batch lost a race or holds a stored id; trying again");
                    // The transfer that a unique violation collided with is committed, and the next try
                    // sees it: no reason to wait. Lock conflicts wait, so as not to collide again in step.
                    if !is_unique_violation(&error) {
                        tokio::time::sleep(retry_backoff(tries)).await;
                    }
                }
                Err(error) => return Err(error.context("commit a ledger batch")),
            }
        }
    }

    async fn create_account(&self, account: &Account) -> anyhow::Result<()> {
        self.create_accounts(std::slice::from_ref(account))
            .await
            .with_context(|| format!("create account {}", account.id))
    }

    /// All of `accounts` in one statement, so one transaction: all are created or none.
    async fn create_accounts(&self, accounts: &[Account]) -> anyhow::Result<()> {
        if accounts.is_empty() {
            return Ok(());
        }
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        insert_account_rows(&conn.client, &mut conn.statements, accounts).await
    }

    async fn get_account(&self, id: AccountId) -> anyhow::Result<Option<Account>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, GET_ACCOUNT).await?;
        let row = conn.client.query_opt(&statement, &[&uuid(id)]).await?;
        row.as_ref().map(account_from_row).transpose()
    }

    async fn list_accounts(&self, after: Option<AccountId>, limit: u32) -> anyhow::Result<Vec<Account>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn
            .statements
            .get(
                &conn.client,
                concat!("SELECT ", account_columns!(), " FROM ledger_accounts WHERE id > $1 ORDER BY id LIMIT $2"),
            )
            .await?;
        // Zero is never an id, so the nil UUID sorts before every account.
        let after = after.map_or(Uuid::nil(), uuid);
        let rows = conn.client.query(&statement, &[&after, &(limit as i64)]).await?;
        rows.iter().map(account_from_row).collect()
    }

    /// One statement, so one snapshot: the balances are consistent with each other. In the order
    /// asked for; ids with no account are left out.
    async fn get_accounts(&self, ids: &[AccountId]) -> anyhow::Result<Vec<Account>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn
            .statements
            .get(&conn.client, concat!("SELECT ", account_columns!(), " FROM ledger_accounts WHERE id = ANY($1)"))
            .await?;
        let rows = conn.client.query(&statement, &[&uuids(ids)]).await?;
        let mut found: HashMap<AccountId, Account> =
            rows.iter().map(|row| account_from_row(row).map(|a| (a.id, a))).collect::<anyhow::Result<_>>()?;
        Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
    }

    async fn update_account_flags<E: Send + 'static>(
        &self,
        id: AccountId,
        change: FlagChange<E>,
    ) -> anyhow::Result<Option<Result<Account, E>>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let tx = conn.client.transaction().await?;
        let lock = conn
            .statements
            .get(&tx, concat!("SELECT ", account_columns!(), " FROM ledger_accounts WHERE id = $1 FOR UPDATE"))
            .await?;
        let Some(row) = tx.query_opt(&lock, &[&uuid(id)]).await? else {
            return Ok(None);
        };
        let mut account = account_from_row(&row)?;
        let flags = match change(&account) {
            Ok(flags) => flags,
            // Dropping the transaction rolls it back, which releases the row lock.
            Err(refusal) => return Ok(Some(Err(refusal))),
        };
        let update = conn.statements.get(&tx, "UPDATE ledger_accounts SET flags = $2 WHERE id = $1").await?;
        tx.execute(&update, &[&uuid(id), &flags.bits()]).await?;
        tx.commit().await?;
        account.flags = flags;
        Ok(Some(Ok(account)))
    }

    async fn get_transfer(&self, id: TransferId) -> anyhow::Result<Option<Transfer>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, GET_TRANSFER).await?;
        let row = conn.client.query_opt(&statement, &[&uuid(id)]).await?;
        row.as_ref().map(transfer_from_row).transpose()
    }

    async fn transfers_by_reference(&self, reference: &str, limit: u32) -> anyhow::Result<Vec<Transfer>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn
            .statements
            .get(
                &conn.client,
                concat!(
                    "SELECT ",
                    transfer_columns!(),
                    " FROM ledger_transfers WHERE reference = $1 ORDER BY timestamp, id LIMIT $2"
                ),
            )
            .await?;
        let rows = conn.client.query(&statement, &[&reference, &(limit as i64)]).await?;
        rows.iter().map(transfer_from_row).collect()
    }

    async fn pending_status(&self, id: TransferId) -> anyhow::Result<Option<PendingRecord>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn
            .statements
            .get(
                &conn.client,
                "SELECT p.id, p.status, p.expires_at, t.debit_account_id, t.credit_account_id, t.amount \
                 FROM ledger_pendings p JOIN ledger_transfers t ON t.id = p.id WHERE p.id = $1",
            )
            .await?;
        let row = conn.client.query_opt(&statement, &[&uuid(id)]).await?;
        row.as_ref().map(pending_from_row).transpose()
    }

    async fn account_entries(&self, query: &EntryQuery) -> anyhow::Result<Vec<Transfer>> {
        // [from, to) after `after`, as one inclusive range.
        let mut lowest = query.from.map_or(i64::MIN, Timestamp::nanos);
        if let Some(after) = query.after {
            match after.nanos().checked_add(1) {
                Some(next) => lowest = lowest.max(next),
                None => return Ok(Vec::new()),
            }
        }
        let highest = match query.to {
            Some(to) => match to.nanos().checked_sub(1) {
                Some(highest) => highest,
                None => return Ok(Vec::new()),
            },
            None => i64::MAX,
        };
        if lowest > highest || query.limit == 0 {
            return Ok(Vec::new());
        }
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, ENTRIES).await?;
        let limit = query.limit as i64;
        // From the first checkpoint at or after `lowest` to the n-th, there are at least
        // 1 + (n - 1) * interval entries: the smallest n that covers `limit` of them.
        let checkpoints_needed = (limit - 1 + ENTRY_CHECKPOINT_INTERVAL - 1) / ENTRY_CHECKPOINT_INTERVAL + 1;
        let rows = conn
            .client
            .query(&statement, &[&uuid(query.account_id), &lowest, &highest, &limit, &checkpoints_needed])
            .await?;
        rows.iter().map(transfer_from_row).collect()
    }

    async fn counters_at(&self, id: AccountId, at: Timestamp) -> anyhow::Result<Counters> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, COUNTERS_AT).await?;
        let row = conn.client.query_opt(&statement, &[&uuid(id), &at.nanos()]).await?;
        Ok(match row {
            Some(row) => Counters {
                debits_pending: row.try_get(0)?,
                debits_posted: row.try_get(1)?,
                credits_pending: row.try_get(2)?,
                credits_posted: row.try_get(3)?,
            },
            None => Counters::default(),
        })
    }

    async fn due_pendings(&self, now: Timestamp, limit: u32) -> anyhow::Result<Vec<TransferId>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn
            .statements
            .get(
                &conn.client,
                "SELECT id FROM ledger_pendings WHERE status = 0 AND expires_at <= $1 \
                 ORDER BY expires_at, id LIMIT $2",
            )
            .await?;
        let rows = conn.client.query(&statement, &[&now.nanos(), &(limit as i64)]).await?;
        rows.iter().map(|row| transfer_id(row.try_get(0)?)).collect()
    }

    /// Recomputes every account's counters from the transfers and checks them, all in one snapshot so
    /// that concurrent batches cannot show up as discrepancies. The sums run in the database: the
    /// ledger may hold far more transfers than are worth streaming out.
    async fn transfer_totals(
        &self,
        from: Timestamp,
        to: Timestamp,
        bucket_s: u32,
    ) -> anyhow::Result<Vec<TransferTotal>> {
        let bucket = i64::from(bucket_s.max(1)) * 1_000_000_000;
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn
            .statements
            .get(
                &conn.client,
                // The span's money by bucket, and each order (its reference) once, in the bucket of
                // its first transfer, as on SQLite.
                "WITH moved AS ( \
                   SELECT code, timestamp / $3 AS bucket, amount, COALESCE(reference, id::text) AS ord \
                   FROM ledger_transfers \
                   WHERE timestamp >= $1 AND timestamp < $2 AND kind IN (0, 2)), \
                 firsts AS (SELECT code, MIN(bucket) AS bucket FROM moved GROUP BY code, ord) \
                 SELECT code, bucket, SUM(orders)::BIGINT, SUM(amount)::BIGINT FROM ( \
                   SELECT code, bucket, 0 AS orders, amount FROM moved \
                   UNION ALL SELECT code, bucket, 1, 0 FROM firsts) AS counted \
                 GROUP BY code, bucket ORDER BY bucket, code",
            )
            .await?;
        let rows = conn.client.query(&statement, &[&from.nanos(), &to.nanos(), &bucket]).await?;
        rows.iter()
            .map(|r| {
                Ok(TransferTotal {
                    code: r.try_get(0)?,
                    bucket_start: Timestamp::from_nanos(r.try_get::<_, i64>(1)? * bucket),
                    count: r.try_get(2)?,
                    amount: r.try_get(3)?,
                })
            })
            .collect()
    }

    async fn verify(&self) -> anyhow::Result<VerifyReport> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn
            .client
            .build_transaction()
            .isolation_level(IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await?;
        let mut report = VerifyReport::default();
        let counts = tx
            .query_one("SELECT (SELECT count(*) FROM ledger_accounts), (SELECT count(*) FROM ledger_transfers)", &[])
            .await?;
        report.accounts_checked = counts.try_get::<_, i64>(0)? as u64;
        report.transfers_checked = counts.try_get::<_, i64>(1)? as u64;
        let limit = &(PROBLEMS_LISTED_MAX as i64);

        let interval = &ENTRY_CHECKPOINT_INTERVAL;
        let id_text = |id: Option<Uuid>| -> anyhow::Result<String> {
            Ok(id.map(transfer_id).transpose()?.map_or("none".to_owned(), |id| id.to_string()))
        };
        for row in tx.query(VERIFY_ENTRIES, &[limit, interval]).await? {
            let transfer = transfer_id(row.try_get(0)?)?;
            let account = account_id(row.try_get(1)?)?;
            let side: &str = row.try_get(2)?;
            if !row.try_get::<_, bool>(11)? {
                report.problems.push(format!(
                    "transfer {transfer} records {side} account {account} counters {} after it, but its entries sum \
                     to {}",
                    counters_text(&row, 3)?,
                    counters_text(&row, 7)?
                ));
            }
            if !row.try_get::<_, bool>(14)? {
                report.problems.push(format!(
                    "transfer {transfer} links to {} as the previous entry of its {side} account {account}, but that \
                     is {}",
                    id_text(row.try_get(12)?)?,
                    id_text(row.try_get(13)?)?
                ));
            }
            if !row.try_get::<_, bool>(17)? {
                let n: i64 = row.try_get(15)?;
                let checkpoint: Option<Uuid> = row.try_get(16)?;
                report.problems.push(match checkpoint {
                    None => format!("entry {n} of account {account} (transfer {transfer}) has no checkpoint"),
                    Some(c) => format!(
                        "account {account} has a checkpoint at entry {n} (transfer {transfer}) naming transfer {}",
                        id_text(Some(c))?
                    ),
                });
            }
        }
        for row in tx.query(VERIFY_CHECKPOINTS, &[limit]).await? {
            let account = account_id(row.try_get(0)?)?;
            let at = Timestamp(row.try_get(1)?);
            report.problems.push(format!(
                "account {account} has a checkpoint at {at} naming transfer {}, which is not its entry at that time",
                id_text(row.try_get(2)?)?
            ));
        }
        for row in tx.query(VERIFY_TOTALS, &[limit]).await? {
            let account = account_id(row.try_get(0)?)?;
            if !row.try_get::<_, bool>(1)? {
                report.problems.push(format!("transfers name account {account}, which does not exist"));
                continue;
            }
            if !row.try_get::<_, bool>(10)? {
                report.problems.push(format!(
                    "account {account} has counters {} but its entries sum to {}",
                    counters_text(&row, 2)?,
                    counters_text(&row, 6)?
                ));
            }
            if !row.try_get::<_, bool>(15)? {
                let last_at =
                    row.try_get::<_, Option<i64>>(14)?.map_or("never".to_owned(), |t| Timestamp(t).to_string());
                report.problems.push(format!(
                    "account {account} records {} entries ending at transfer {}, but it has {} entries, the last at {}",
                    row.try_get::<_, i64>(11)?,
                    id_text(row.try_get(13)?)?,
                    row.try_get::<_, i64>(12)?,
                    last_at
                ));
            }
        }
        for row in tx.query(VERIFY_NEGATIVE, &[limit]).await? {
            let account = account_id(row.try_get(0)?)?;
            report.problems.push(format!("account {account} has a negative counter {}", counters_text(&row, 1)?));
        }
        for row in tx.query(VERIFY_LATEST_ENTRY, &[limit]).await? {
            let account = account_id(row.try_get(0)?)?;
            let transfer = transfer_id(row.try_get(1)?)?;
            let (stored, after) = (counters_text(&row, 2)?, counters_text(&row, 6)?);
            let (last_transfer_at, timestamp): (i64, i64) = (row.try_get(10)?, row.try_get(11)?);
            if stored != after {
                report.problems.push(format!(
                    "account {account} has counters {stored} but its latest transfer {transfer} records {after}"
                ));
            }
            if last_transfer_at != timestamp {
                report.problems.push(format!(
                    "account {account} was last touched at {} but its latest transfer {transfer} is at {}",
                    Timestamp(last_transfer_at),
                    Timestamp(timestamp)
                ));
            }
        }
        for row in tx.query(VERIFY_CURRENCIES, &[]).await? {
            let currency: &str = row.try_get(0)?;
            let sums: Vec<&str> = (1..5).map(|i| row.try_get(i)).collect::<Result<_, _>>()?;
            if sums[0] != sums[1] {
                report
                    .problems
                    .push(format!("{currency}: posted debits {} differ from posted credits {}", sums[0], sums[1]));
            }
            if sums[2] != sums[3] {
                report
                    .problems
                    .push(format!("{currency}: pending debits {} differ from pending credits {}", sums[2], sums[3]));
            }
        }
        for row in tx.query(VERIFY_HOLDS, &[limit]).await? {
            let hold = transfer_id(row.try_get(0)?)?;
            let status = match row.try_get::<_, Option<i16>>(1)? {
                Some(status) => PendingStatus::from_i16(status).map_or(status.to_string(), |s| s.as_str().to_owned()),
                None => "missing".to_owned(),
            };
            let resolutions: i64 = row.try_get(2)?;
            report
                .problems
                .push(format!("hold {hold} has status {status} but {resolutions} transfer(s) post, void or expire it"));
        }
        for row in tx.query(VERIFY_RESOLUTIONS, &[limit]).await? {
            let transfer = transfer_id(row.try_get(0)?)?;
            report
                .problems
                .push(format!("transfer {transfer} resolves a hold that does not exist or is between other accounts"));
        }
        tx.commit().await?;
        Ok(report)
    }
}

/// Four counters from `row`'s columns `first..first + 4` (BIGINT, or NUMERIC sums cast to text),
/// shown as `Counters` debug-prints them.
fn counters_text(row: &tokio_postgres::Row, first: usize) -> anyhow::Result<String> {
    let value = |i: usize| -> anyhow::Result<String> {
        let column = &row.columns()[i];
        Ok(if *column.type_() == tokio_postgres::types::Type::INT8 {
            row.try_get::<_, i64>(i)?.to_string()
        } else {
            row.try_get::<_, String>(i)?
        })
    };
    Ok(format!(
        "Counters {{ debits_pending: {}, debits_posted: {}, credits_pending: {}, credits_posted: {} }}",
        value(first)?,
        value(first + 1)?,
        value(first + 2)?,
        value(first + 3)?
    ))
}

/// What each transfer does to its two accounts: a posted transfer adds to posted counters, a hold to
/// pending ones; a post of a hold adds what it posts and releases the whole hold (the held transfer's
/// amount), a void or expiry releases its own amount, which is the hold's. One row per account side,
/// with the side's link to the account's previous entry.
macro_rules! verify_sides {
    () => {
        "WITH effect AS (
            SELECT t.id, t.timestamp, t.debit_account_id, t.credit_account_id, t.dr_prev_id, t.cr_prev_id,
                   CASE WHEN t.kind IN (0, 2) THEN t.amount ELSE 0 END AS posted,
                   CASE t.kind WHEN 1 THEN t.amount WHEN 2 THEN -h.amount WHEN 3 THEN -t.amount
                               WHEN 4 THEN -t.amount ELSE 0 END AS pending,
                   t.dr_debits_pending, t.dr_debits_posted, t.dr_credits_pending, t.dr_credits_posted,
                   t.cr_debits_pending, t.cr_debits_posted, t.cr_credits_pending, t.cr_credits_posted
            FROM ledger_transfers t LEFT JOIN ledger_transfers h ON t.kind = 2 AND h.id = t.pending_id
        ), sides AS (
            SELECT id, timestamp, debit_account_id AS account_id, 'debit' AS side, dr_prev_id AS prev_link,
                   pending AS debits_pending, posted AS debits_posted, 0 AS credits_pending, 0 AS credits_posted,
                   dr_debits_pending AS after_debits_pending, dr_debits_posted AS after_debits_posted,
                   dr_credits_pending AS after_credits_pending, dr_credits_posted AS after_credits_posted
            FROM effect
            UNION ALL
            SELECT id, timestamp, credit_account_id, 'credit', cr_prev_id, 0, 0, pending, posted,
                   cr_debits_pending, cr_debits_posted, cr_credits_pending, cr_credits_posted
            FROM effect
        )"
    };
}

/// Each account's entries in timestamp order, checked one by one: the counters recorded after each
/// equal the running sum of the account's entries up to it, its link names the entry before it, and
/// it has a checkpoint exactly if it is a multiple of $2 (naming it). Sums are NUMERIC, shown as text,
/// so that a corrupt ledger cannot overflow the check.
const VERIFY_ENTRIES: &str = concat!(
    verify_sides!(),
    ", running AS (
        SELECT s.id, s.account_id, s.side, s.timestamp, s.prev_link, c.transfer_id AS checkpoint,
               s.after_debits_pending, s.after_debits_posted, s.after_credits_pending, s.after_credits_posted,
               sum(s.debits_pending) OVER w AS debits_pending, sum(s.debits_posted) OVER w AS debits_posted,
               sum(s.credits_pending) OVER w AS credits_pending, sum(s.credits_posted) OVER w AS credits_posted,
               lag(s.id) OVER w AS previous, row_number() OVER w AS n
        FROM sides s
        LEFT JOIN ledger_entry_checkpoints c ON c.account_id = s.account_id AND c.timestamp = s.timestamp
        WINDOW w AS (PARTITION BY s.account_id ORDER BY s.timestamp, s.id ROWS UNBOUNDED PRECEDING)
    ), checked AS (
        SELECT *,
               (after_debits_pending, after_debits_posted, after_credits_pending, after_credits_posted)
                   IS NOT DISTINCT FROM (debits_pending, debits_posted, credits_pending, credits_posted) AS counters_ok,
               prev_link IS NOT DISTINCT FROM previous AS link_ok,
               CASE WHEN n % $2 = 0 THEN checkpoint IS NOT DISTINCT FROM id ELSE checkpoint IS NULL END
                   AS checkpoint_ok
        FROM running
    )
    SELECT id, account_id, side, after_debits_pending, after_debits_posted, after_credits_pending,
           after_credits_posted, debits_pending::text, debits_posted::text, credits_pending::text,
           credits_posted::text, counters_ok, prev_link, previous, link_ok, n, checkpoint, checkpoint_ok
    FROM checked
    WHERE NOT (counters_ok AND link_ok AND checkpoint_ok)
    ORDER BY account_id, timestamp, id
    LIMIT $1"
);

/// Checkpoints that name no entry of their account at their time (those that do are checked with
/// the entries).
const VERIFY_CHECKPOINTS: &str = "\
SELECT c.account_id, c.timestamp, c.transfer_id
FROM ledger_entry_checkpoints c LEFT JOIN ledger_transfers t ON t.id = c.transfer_id
WHERE t.id IS NULL OR t.timestamp <> c.timestamp
   OR (c.account_id <> t.debit_account_id AND c.account_id <> t.credit_account_id)
ORDER BY c.account_id, c.timestamp
LIMIT $1";

/// Accounts whose stored counters differ from the sum of their entries (zero for none), or whose
/// recorded chain (entry count, latest entry) is not their entries', and accounts that entries name
/// but that do not exist.
const VERIFY_TOTALS: &str = concat!(
    verify_sides!(),
    ", summed AS (
        SELECT account_id, sum(debits_pending) AS debits_pending, sum(debits_posted) AS debits_posted,
               sum(credits_pending) AS credits_pending, sum(credits_posted) AS credits_posted,
               count(*) AS entries, max(timestamp) AS last_at
        FROM sides GROUP BY account_id
    ), checked AS (
        SELECT coalesce(a.id, s.account_id) AS id, a.id IS NOT NULL AS exists,
               a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted,
               coalesce(s.debits_pending, 0)::text AS summed_debits_pending,
               coalesce(s.debits_posted, 0)::text AS summed_debits_posted,
               coalesce(s.credits_pending, 0)::text AS summed_credits_pending,
               coalesce(s.credits_posted, 0)::text AS summed_credits_posted,
               (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
                   IS NOT DISTINCT FROM (coalesce(s.debits_pending, 0), coalesce(s.debits_posted, 0),
                                         coalesce(s.credits_pending, 0), coalesce(s.credits_posted, 0)) AS counters_ok,
               a.entry_count, coalesce(s.entries, 0) AS entries, a.last_entry_id, s.last_at,
               a.entry_count IS NOT DISTINCT FROM coalesce(s.entries, 0)
                   AND CASE WHEN s.entries IS NULL THEN a.last_entry_id IS NULL
                            ELSE l.id IS NOT NULL AND l.timestamp = s.last_at
                                 AND a.id IN (l.debit_account_id, l.credit_account_id) END AS chain_ok
        FROM ledger_accounts a
        FULL JOIN summed s ON s.account_id = a.id
        LEFT JOIN ledger_transfers l ON l.id = a.last_entry_id
    )
    SELECT id, exists, debits_pending, debits_posted, credits_pending, credits_posted, summed_debits_pending,
           summed_debits_posted, summed_credits_pending, summed_credits_posted, counters_ok, entry_count, entries,
           last_entry_id, last_at, chain_ok
    FROM checked
    WHERE NOT (exists AND counters_ok AND chain_ok)
    ORDER BY id
    LIMIT $1"
);

const VERIFY_NEGATIVE: &str = "\
SELECT id, debits_pending, debits_posted, credits_pending, credits_posted
FROM ledger_accounts
WHERE debits_pending < 0 OR debits_posted < 0 OR credits_pending < 0 OR credits_posted < 0
ORDER BY id
LIMIT $1";

/// Per currency, the four counters summed over all accounts (as text: NUMERIC sums), where debits
/// and credits differ, posted or pending.
const VERIFY_CURRENCIES: &str = "\
SELECT currency, sum(debits_posted)::text, sum(credits_posted)::text, sum(debits_pending)::text,
       sum(credits_pending)::text
FROM ledger_accounts
GROUP BY currency
HAVING sum(debits_posted) <> sum(credits_posted) OR sum(debits_pending) <> sum(credits_pending)
ORDER BY currency";

/// Accounts whose latest entry (the end of their chain) left other counters, or another timestamp,
/// than the account holds.
const VERIFY_LATEST_ENTRY: &str = "\
SELECT a.id, l.id, a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted,
       side.debits_pending, side.debits_posted, side.credits_pending, side.credits_posted,
       a.last_transfer_at, l.timestamp
FROM ledger_accounts a
JOIN ledger_transfers l ON l.id = a.last_entry_id
CROSS JOIN LATERAL (
    SELECT CASE WHEN l.debit_account_id = a.id THEN l.dr_debits_pending ELSE l.cr_debits_pending END
               AS debits_pending,
           CASE WHEN l.debit_account_id = a.id THEN l.dr_debits_posted ELSE l.cr_debits_posted END
               AS debits_posted,
           CASE WHEN l.debit_account_id = a.id THEN l.dr_credits_pending ELSE l.cr_credits_pending END
               AS credits_pending,
           CASE WHEN l.debit_account_id = a.id THEN l.dr_credits_posted ELSE l.cr_credits_posted END
               AS credits_posted
) AS side
WHERE (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.last_transfer_at)
      <> (side.debits_pending, side.debits_posted, side.credits_pending, side.credits_posted, l.timestamp)
ORDER BY a.id
LIMIT $1";

/// Holds whose recorded status is not what their resolving transfers say: none resolves a pending
/// hold, exactly one resolves a posted (kind 2, status 1), voided (3, 2) or expired (4, 3) one.
const VERIFY_HOLDS: &str = "\
SELECT h.id, p.status, count(r.id)
FROM ledger_transfers h
LEFT JOIN ledger_pendings p ON p.id = h.id
LEFT JOIN ledger_transfers r ON r.pending_id = h.id AND r.kind IN (2, 3, 4)
WHERE h.kind = 1
GROUP BY h.id, p.status
HAVING p.status IS NULL OR count(r.id) > 1 OR p.status <> coalesce(max(r.kind) - 1, 0)
ORDER BY h.id
LIMIT $1";

/// Posts, voids and expiries whose hold is missing, is not a hold, or is between other accounts.
const VERIFY_RESOLUTIONS: &str = "\
SELECT r.id
FROM ledger_transfers r LEFT JOIN ledger_transfers h ON h.id = r.pending_id
WHERE r.kind IN (2, 3, 4)
  AND (h.id IS NULL OR h.kind <> 1 OR h.debit_account_id <> r.debit_account_id
       OR h.credit_account_id <> r.credit_account_id)
ORDER BY r.id
LIMIT $1";

/// One attempt at a batch: lock, decide, write, commit. Any error leaves nothing written. Looks up
/// which of the batch's transfer ids are stored already only if `look_up_stored`.
///
/// The server and this side take turns; where they can, each works while the other does: the locked
/// accounts are decoded as they arrive, and the copy of the new transfers is encoded while the server
/// updates the accounts.
async fn commit_once(
    conn: &mut PooledConn,
    requests: &[TransferRequest],
    needs: &BatchNeeds,
    now: Timestamp,
    look_up_stored: bool,
) -> anyhow::Result<Vec<Result<Transfer, TransferError>>> {
    let started = Instant::now();
    let conn = &mut **conn;
    let statements = &mut conn.statements;
    let tx = conn.client.build_transaction().isolation_level(IsolationLevel::ReadCommitted).start().await?;
    let copy_probe = statements.get(&tx, TRANSFER_COPY_PROBE).await?;
    check_transfer_copy_columns(copy_probe.columns())?;
    let lock_pendings = statements.get(&tx, LOCK_PENDINGS).await?;
    let load_transfers = statements.get(&tx, LOAD_TRANSFERS).await?;
    let lock_accounts = statements.get(&tx, LOCK_ACCOUNTS).await?;
    let copy_transfers = statements.get(&tx, COPY_TRANSFERS).await?;
    let insert_checkpoints = statements.get(&tx, INSERT_CHECKPOINTS).await?;
    let insert_pendings = statements.get(&tx, INSERT_PENDINGS).await?;
    let update_pendings = statements.get(&tx, UPDATE_PENDINGS).await?;
    let update_accounts = statements.get(&tx, UPDATE_ACCOUNTS).await?;

    // Holds first, then accounts, each in id order: the one lock order of every writer, so that two
    // instances never wait on each other in a cycle.
    let mut pendings = Vec::new();
    if !needs.pending_ids.is_empty() {
        for row in tx.query(&lock_pendings, &[&uuids(&needs.pending_ids)]).await? {
            pendings.push(pending_from_row(&row)?);
        }
    }
    let account_ids = uuids(&pending_account_ids(&pendings, needs.account_ids.clone()));
    // A stored transfer with a request's id makes the request a resubmission. Looking all the batch's
    // ids up cost about 6% of a batch's time, for what is rare, so the first try applies the batch
    // as if none were stored, and then makes sure: the requests that failed are looked up at once (a
    // resubmission must not fail where the stored transfer succeeded), and those that succeeded are
    // written, where the primary key refuses one that was stored (a unique violation, after which the
    // batch is tried again, looking all its ids up). Stored transfers are never updated and need no
    // lock; the look-up is sent with the account locks but runs after them, with a snapshot taken
    // once they are held: a concurrent batch with the same ids and accounts has committed by then,
    // and is seen rather than collided with.
    let transfer_ids = uuids(&needs.transfer_ids);
    let locks_sent = Instant::now();
    let (mut loaded, mut stored_rows) = if look_up_stored {
        match join(lock_and_load_accounts(&tx, &lock_accounts, &account_ids), async {
            anyhow::Ok(tx.query(&load_transfers, &[&transfer_ids]).await?)
        })
        .await
        {
            (Ok(loaded), Ok(stored_rows)) => (loaded, stored_rows),
            (loaded, stored_rows) => return Err(cause_of_failed_transaction([loaded.err(), stored_rows.err()])),
        }
    } else {
        (lock_and_load_accounts(&tx, &lock_accounts, &account_ids).await?, Vec::new())
    };
    let lock_took = locks_sent.elapsed();
    let stored = stored_rows.iter().map(transfer_from_row).collect::<anyhow::Result<Vec<Transfer>>>()?;
    let mut outcome = loaded.apply(&pendings, stored, requests, now);
    if !look_up_stored {
        let failed: Vec<Uuid> =
            outcome.results.iter().zip(requests).filter(|(r, _)| r.is_err()).map(|(_, q)| uuid(q.id)).collect();
        if !failed.is_empty() && !tx.query(&load_transfers, &[&failed]).await?.is_empty() {
            stored_rows = tx.query(&load_transfers, &[&transfer_ids]).await?;
            let stored = stored_rows.iter().map(transfer_from_row).collect::<anyhow::Result<Vec<Transfer>>>()?;
            loaded = lock_and_load_accounts(&tx, &lock_accounts, &account_ids).await?;
            outcome = loaded.apply(&pendings, stored, requests, now);
        }
    }
    let applied = Instant::now();
    crate::assert_batch_balances(&outcome)?;
    check_conservation(&loaded.before, &outcome.accounts)?;

    let mut chains = loaded.chains;
    let (mut linked, checkpoints) = link(&outcome.inserted, &mut chains);
    // Copied in id order: ids grow with time, so a batch's new ids mostly sort after every stored
    // one, and in order each goes to the primary key's rightmost page, which the index keeps at hand,
    // instead of being searched for from the root.
    linked.sort_unstable_by_key(|row| row.transfer.id);
    let checkpoint_accounts: Vec<Uuid> = checkpoints.iter().map(|c| uuid(c.account_id)).collect();
    let checkpoint_times: Vec<i64> = checkpoints.iter().map(|c| c.timestamp.nanos()).collect();
    let checkpoint_transfers: Vec<Uuid> = checkpoints.iter().map(|c| uuid(c.transfer_id)).collect();
    let (new_pendings, resolved_pendings): (Vec<&PendingRecord>, Vec<&PendingRecord>) =
        outcome.pendings.iter().partition(|p| p.is_new);
    let new_pending_ids: Vec<Uuid> = new_pendings.iter().map(|p| uuid(p.id)).collect();
    let new_pending_statuses: Vec<i16> = new_pendings.iter().map(|p| p.status.as_i16()).collect();
    let new_pending_expiries: Vec<Option<i64>> =
        new_pendings.iter().map(|p| p.expires_at.map(Timestamp::nanos)).collect();
    let resolved_ids: Vec<Uuid> = resolved_pendings.iter().map(|p| uuid(p.id)).collect();
    let resolved_statuses: Vec<i16> = resolved_pendings.iter().map(|p| p.status.as_i16()).collect();
    let accounts: Vec<AccountChange> =
        outcome.accounts.iter().map(|a| AccountChange(a, chains.get(&a.id).copied().unwrap_or_default())).collect();
    let decided = Instant::now();

    // The writes touch different rows and are independent. The account update is sent first and the
    // copy of the transfers is encoded while the server runs it. The copy is started only once every
    // statement before it has succeeded: tokio-postgres loses track of a connection whose COPY the
    // server refused to start (and closes it). The holds and checkpoints are sent with the copy, to
    // run after it. Each write's time is when its answer came, less the previous one's.
    let writes_sent = Instant::now();
    let (accounts_updated, copy_data) = {
        let update = async {
            if accounts.is_empty() {
                Ok(0)
            } else {
                tx.execute(&update_accounts, &[&accounts]).await
            }
        };
        let mut update = std::pin::pin!(update);
        // Polled once, which sends it.
        let polled = std::future::poll_fn(|cx| Poll::Ready(update.as_mut().poll(cx))).await;
        let copy_data = (!linked.is_empty()).then(|| transfers_copy_data(&linked).freeze());
        let updated = match polled {
            Poll::Ready(result) => result?,
            Poll::Pending => update.await?,
        };
        (updated, copy_data)
    };
    let accounts_at = writes_sent.elapsed();
    if accounts_updated != accounts.len() as u64 {
        return Err(anyhow!("updated {accounts_updated} of the batch's {} accounts", accounts.len()));
    }
    let timed = |f| timed_since(writes_sent, f);
    let written = join3(
        timed(Box::pin(async {
            let Some(data) = copy_data else { return Ok(0) };
            let sink = tx.copy_in(&copy_transfers).await?;
            futures_util::pin_mut!(sink);
            sink.send(data).await?;
            Ok(sink.as_mut().finish().await?)
        })),
        timed(Box::pin(async {
            let inserted = if new_pending_ids.is_empty() {
                0
            } else {
                tx.execute(&insert_pendings, &[&new_pending_ids, &new_pending_statuses, &new_pending_expiries]).await?
            };
            let updated = if resolved_ids.is_empty() {
                0
            } else {
                tx.execute(&update_pendings, &[&resolved_ids, &resolved_statuses]).await?
            };
            Ok(inserted + updated)
        })),
        timed(Box::pin(async {
            if checkpoints.is_empty() {
                Ok(0)
            } else {
                Ok(tx
                    .execute(&insert_checkpoints, &[&checkpoint_accounts, &checkpoint_times, &checkpoint_transfers])
                    .await?)
            }
        })),
    )
    .await;
    let ((transfers_written, copy_at), (_, pendings_at), (_, checkpoints_at)) = match written {
        (Ok(transfers), Ok(pendings), Ok(checkpoints)) => (transfers, pendings, checkpoints),
        (transfers, pendings, checkpoints) => {
            return Err(cause_of_failed_transaction([transfers.err(), pendings.err(), checkpoints.err()]))
        }
    };
    if transfers_written != linked.len() as u64 {
        return Err(anyhow!("wrote {transfers_written} of the batch's {} transfers", linked.len()));
    }
    let written = Instant::now();
    tx.commit().await?;
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    tracing::debug!(
        transfers = linked.len(),
        accounts = accounts.len(),
        looked_up = look_up_stored,
        resubmitted = stored_rows.len(),
        load_ms = ms(lock_took),
        apply_ms = ms(applied - locks_sent - lock_took),
        decide_ms = ms(decided - applied),
        accounts_ms = ms(accounts_at),
        copy_ms = ms(copy_at.saturating_sub(accounts_at)),
        pendings_ms = ms(pendings_at.saturating_sub(copy_at)),
        checkpoints_ms = ms(checkpoints_at.saturating_sub(pendings_at.max(copy_at))),
        commit_ms = ms(written.elapsed()),
        total_ms = ms(started.elapsed()),
        "ledger batch committed"
    );
    Ok(outcome.results)
}

/// Inserts new accounts (zero counters, no entries) in one statement on `client`: a connection, or a
/// transaction that the caller commits. `statements` must be the cache of `client`'s connection.
pub(super) async fn insert_account_rows<C: GenericClient + Sync>(
    client: &C,
    statements: &mut Statements,
    accounts: &[Account],
) -> anyhow::Result<()> {
    if accounts.is_empty() {
        return Ok(());
    }
    let statement = statements.get(client, INSERT_ACCOUNTS).await?;
    let rows: Vec<AccountRow> = accounts.iter().map(AccountRow).collect();
    client.execute(&statement, &[&rows]).await?;
    Ok(())
}

/// The accounts a batch touches, locked and decoded, and what else it needs of them.
struct LoadedAccounts {
    accounts: Vec<Account>,
    /// Where each account's entries end.
    chains: IdMap<AccountId, Chain>,
    /// Each account's currency and counters before the batch, for [`check_conservation`].
    before: IdMap<AccountId, (Currency, Counters)>,
}

impl LoadedAccounts {
    /// Applies the batch to these accounts (which it takes), `pendings` and the `stored` transfers.
    fn apply(
        &mut self,
        pendings: &[PendingRecord],
        stored: Vec<Transfer>,
        requests: &[TransferRequest],
        now: Timestamp,
    ) -> BatchOutcome {
        let mut state = LedgerState::default();
        state.accounts.reserve(self.accounts.len());
        for account in std::mem::take(&mut self.accounts) {
            state.accounts.insert(account.id, account);
        }
        for pending in pendings {
            state.pendings.insert(pending.id, pending.clone());
        }
        for transfer in stored {
            state.transfers.insert(transfer.id, transfer);
        }
        // The state is dropped here, on this side's turn: freeing it while the server runs the
        // writes was measured to slow them down more than it saved.
        apply_batch(&mut state, requests, now)
    }
}

/// Locks the accounts `ids` (in id order) and decodes each row as it arrives.
async fn lock_and_load_accounts(
    tx: &tokio_postgres::Transaction<'_>,
    lock_accounts: &tokio_postgres::Statement,
    ids: &[Uuid],
) -> anyhow::Result<LoadedAccounts> {
    let params: [&(dyn ToSql + Sync); 1] = [&ids];
    let rows = tx.query_raw(lock_accounts, params).await?;
    futures_util::pin_mut!(rows);
    let mut loaded = LoadedAccounts {
        accounts: Vec::with_capacity(ids.len()),
        chains: IdMap::with_capacity_and_hasher(ids.len(), Default::default()),
        before: IdMap::with_capacity_and_hasher(ids.len(), Default::default()),
    };
    while let Some(row) = rows.next().await {
        let row = row?;
        let account = account_from_row(&row)?;
        loaded.before.insert(account.id, (account.currency, account.counters));
        loaded.chains.insert(account.id, chain_from_row(&row, ACCOUNT_COLUMN_COUNT)?);
        loaded.accounts.push(account);
    }
    Ok(loaded)
}

type WriteFuture<'a> = std::pin::Pin<Box<dyn Future<Output = anyhow::Result<u64>> + Send + 'a>>;

/// The result of `write` and how long after `since` it came.
async fn timed_since(since: Instant, write: WriteFuture<'_>) -> anyhow::Result<(u64, Duration)> {
    let n = write.await?;
    Ok((n, since.elapsed()))
}

/// A checkpoint row to insert: the account's entry `transfer_id` at `timestamp` is its n-th, n a
/// multiple of [`ENTRY_CHECKPOINT_INTERVAL`].
struct Checkpoint {
    account_id: AccountId,
    timestamp: Timestamp,
    transfer_id: TransferId,
}

/// Places a batch's new transfers (in timestamp order) at the ends of their accounts' chains: links
/// each to each account's previous entry, advances `chains`, and lists the checkpoints that come due.
fn link<'a>(
    transfers: &'a [Transfer],
    chains: &mut IdMap<AccountId, Chain>,
) -> (Vec<LinkedTransfer<'a>>, Vec<Checkpoint>) {
    let mut rows = Vec::with_capacity(transfers.len());
    let mut checkpoints = Vec::new();
    for transfer in transfers {
        let mut advance = |account_id: AccountId| -> Option<TransferId> {
            let chain = chains.entry(account_id).or_default();
            let previous = chain.last;
            chain.last = Some(transfer.id);
            chain.entry_count += 1;
            if chain.entry_count % ENTRY_CHECKPOINT_INTERVAL == 0 {
                checkpoints.push(Checkpoint { account_id, timestamp: transfer.timestamp, transfer_id: transfer.id });
            }
            previous
        };
        let dr_prev = advance(transfer.debit_account_id);
        let cr_prev = advance(transfer.credit_account_id);
        rows.push(LinkedTransfer { transfer, dr_prev, cr_prev });
    }
    (rows, checkpoints)
}

/// Money is only moved: per currency, what the batch added to all debit counters equals what it
/// added to all credit counters, posted and pending alike. Checked before writing, so that a fault in
/// the state machine stops the batch rather than the books.
fn check_conservation(before: &IdMap<AccountId, (Currency, Counters)>, after: &[Account]) -> anyhow::Result<()> {
    // A batch has one currency or a few: a list is quicker to search than a map is to hash into.
    let mut deltas: Vec<(Currency, [i128; 4])> = Vec::new();
    for account in after {
        let (currency, old) = before.get(&account.id).context("the batch changed an account it did not load")?;
        let new = &account.counters;
        let delta = match deltas.iter().position(|(c, _)| c == currency) {
            Some(i) => &mut deltas[i].1,
            None => {
                deltas.push((*currency, [0; 4]));
                &mut deltas.last_mut().expect("just pushed").1
            }
        };
        delta[0] += new.debits_posted as i128 - old.debits_posted as i128;
        delta[1] += new.credits_posted as i128 - old.credits_posted as i128;
        delta[2] += new.debits_pending as i128 - old.debits_pending as i128;
        delta[3] += new.credits_pending as i128 - old.credits_pending as i128;
    }
    for (currency, [debits_posted, credits_posted, debits_pending, credits_pending]) in deltas {
        if debits_posted != credits_posted || debits_pending != credits_pending {
            return Err(anyhow!(
                "the batch does not balance in {currency}: posted debits {debits_posted:+} vs credits \
                 {credits_posted:+}, pending debits {debits_pending:+} vs credits {credits_pending:+}; nothing was \
                 written"
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use sanhu_core::ledger::TransferKind;

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
        let id = |n: u128| TransferId::from_u128(n).unwrap();
        let a = AccountId::from_u128(1).unwrap();
        let mut chains: IdMap<AccountId, Chain> =
            [(a, Chain { last: Some(id(7)), entry_count: ENTRY_CHECKPOINT_INTERVAL - 2 })].into_iter().collect();
        let transfers = [transfer(10, 1, 2), transfer(11, 2, 1), transfer(12, 3, 2)];
        let (rows, checkpoints) = link(&transfers, &mut chains);
        let links: Vec<(TransferId, Option<TransferId>, Option<TransferId>)> =
            rows.iter().map(|r| (r.transfer.id, r.dr_prev, r.cr_prev)).collect();
        assert_eq!(
            links,
            [(id(10), Some(id(7)), None), (id(11), Some(id(10)), Some(id(10))), (id(12), None, Some(id(11)))]
        );
        assert_eq!(chains[&a], Chain { last: Some(id(11)), entry_count: ENTRY_CHECKPOINT_INTERVAL });
        assert_eq!(chains[&AccountId::from_u128(2).unwrap()], Chain { last: Some(id(12)), entry_count: 3 });
        assert_eq!(checkpoints.len(), 1, "account 1 reached its checkpoint interval");
        assert_eq!((checkpoints[0].account_id, checkpoints[0].transfer_id), (a, id(11)));
        assert_eq!(checkpoints[0].timestamp, Timestamp(11));
    }
}
