//! The ledger on PostgreSQL: the batched commit, the reads, and `verify`.

use std::collections::HashMap;
use std::time::Duration;

use anyhow::{anyhow, Context};
use futures_util::future::{try_join, try_join4};
use sanhu_core::ledger::verify::PROBLEMS_LISTED_MAX;
use sanhu_core::ledger::{
    apply_batch, Account, BatchNeeds, Counters, LedgerState, PendingRecord, PendingStatus, Transfer, TransferError,
    TransferRequest,
};
use sanhu_core::{AccountId, Currency, Timestamp, TransferId};
use tokio_postgres::error::SqlState;
use tokio_postgres::IsolationLevel;
use uuid::Uuid;

use super::pool::PooledConn;
use super::rows::{
    account_columns, account_from_row, account_id, pending_from_row, transfer_columns, transfer_from_row, transfer_id,
    uuid, uuids, AccountRow, TransferRow,
};
use super::PostgresStore;
use crate::{pending_account_ids, EntryQuery, FlagChange, VerifyReport};

/// How many times a batch that lost a race with another writer is tried in all.
const COMMIT_TRIES: u32 = 10;

const LOCK_PENDINGS: &str = "SELECT p.id, p.status, p.expires_at, t.debit_account_id, t.credit_account_id, t.amount \
     FROM ledger_pendings p JOIN ledger_transfers t ON t.id = p.id \
     WHERE p.id = ANY($1::uuid[]) ORDER BY p.id FOR UPDATE OF p";
const LOAD_TRANSFERS: &str =
    concat!("SELECT ", transfer_columns!(), " FROM ledger_transfers WHERE id = ANY($1::uuid[])");
const LOCK_ACCOUNTS: &str =
    concat!("SELECT ", account_columns!(), " FROM ledger_accounts WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE");
// Batches travel as arrays of table rows, one parameter whatever their size: no statement per row
// and no parameter limit to chunk for.
const INSERT_TRANSFERS: &str = "INSERT INTO ledger_transfers SELECT * FROM UNNEST($1::ledger_transfers[])";
const INSERT_PENDINGS: &str = "INSERT INTO ledger_pendings (id, status, expires_at) \
     SELECT * FROM UNNEST($1::uuid[], $2::int2[], $3::int8[])";
const UPDATE_PENDINGS: &str = "UPDATE ledger_pendings p SET status = v.status \
     FROM UNNEST($1::uuid[], $2::int2[]) AS v(id, status) WHERE p.id = v.id";
const UPDATE_ACCOUNTS: &str = "UPDATE ledger_accounts a SET debits_pending = v.debits_pending, \
     debits_posted = v.debits_posted, credits_pending = v.credits_pending, credits_posted = v.credits_posted, \
     last_transfer_at = v.last_transfer_at \
     FROM UNNEST($1::ledger_accounts[]) AS v WHERE a.id = v.id";
const INSERT_ACCOUNTS: &str = "INSERT INTO ledger_accounts SELECT * FROM UNNEST($1::ledger_accounts[])";
const GET_ACCOUNT: &str = concat!("SELECT ", account_columns!(), " FROM ledger_accounts WHERE id = $1");
const GET_TRANSFER: &str = concat!("SELECT ", transfer_columns!(), " FROM ledger_transfers WHERE id = $1");
// Two index range scans, one per side, merged: an OR over both columns could use neither index.
const ENTRIES: &str = concat!(
    "SELECT * FROM ((SELECT ",
    transfer_columns!(),
    " FROM ledger_transfers WHERE debit_account_id = $1 AND timestamp >= $2 AND timestamp <= $3 \
     ORDER BY timestamp LIMIT $4) UNION ALL (SELECT ",
    transfer_columns!(),
    " FROM ledger_transfers WHERE credit_account_id = $1 AND timestamp >= $2 AND timestamp <= $3 \
     ORDER BY timestamp LIMIT $4)) AS entries ORDER BY timestamp LIMIT $4"
);
const COUNTERS_AT: &str = "SELECT debits_pending, debits_posted, credits_pending, credits_posted FROM (\
     (SELECT timestamp, dr_debits_pending AS debits_pending, dr_debits_posted AS debits_posted, \
      dr_credits_pending AS credits_pending, dr_credits_posted AS credits_posted FROM ledger_transfers \
      WHERE debit_account_id = $1 AND timestamp <= $2 ORDER BY timestamp DESC LIMIT 1) \
     UNION ALL \
     (SELECT timestamp, cr_debits_pending, cr_debits_posted, cr_credits_pending, cr_credits_posted \
      FROM ledger_transfers WHERE credit_account_id = $1 AND timestamp <= $2 ORDER BY timestamp DESC LIMIT 1)\
     ) AS latest ORDER BY timestamp DESC LIMIT 1";

/// How long to wait before try `tries + 1`: doubling from 2 ms to at most 128 ms, with up to as
/// much again at random, so that two instances that collided do not collide again in step.
fn retry_backoff(tries: u32) -> Duration {
    let base = 1u64 << tries.clamp(1, 7);
    let random = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.subsec_nanos());
    Duration::from_micros(base * 1000 + u64::from(random) % (base * 1000))
}

/// Whether a failed batch lost a race with another writer and may simply be tried again.
fn lost_a_race(error: &anyhow::Error) -> bool {
    let code = error.downcast_ref::<tokio_postgres::Error>().and_then(|e| e.code());
    // 23505: another instance inserted one of the batch's transfer ids after this one looked; the
    // retry sees it and answers the request as a resubmission.
    [&SqlState::T_R_DEADLOCK_DETECTED, &SqlState::T_R_SERIALIZATION_FAILURE, &SqlState::UNIQUE_VIOLATION]
        .iter()
        .any(|c| code == Some(*c))
}

impl PostgresStore {
    pub(super) async fn commit_transfers(
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
            match commit_once(&mut conn, &requests, &needs, now).await {
                Ok(results) => return Ok(results),
                Err(error) if tries < COMMIT_TRIES && lost_a_race(&error) => {
                    drop(conn);
                    tracing::debug!(%error, tries, "a ledger batch lost a race with another writer; trying again");
                    tokio::time::sleep(retry_backoff(tries)).await;
                }
                Err(error) => return Err(error.context("commit a ledger batch")),
            }
        }
    }

    pub(super) async fn insert_account(&self, account: &Account) -> anyhow::Result<()> {
        self.insert_accounts(std::slice::from_ref(account))
            .await
            .with_context(|| format!("create account {}", account.id))
    }

    /// All of `accounts` in one statement, so one transaction: all are created or none.
    pub(super) async fn insert_accounts(&self, accounts: &[Account]) -> anyhow::Result<()> {
        if accounts.is_empty() {
            return Ok(());
        }
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, INSERT_ACCOUNTS).await?;
        let rows: Vec<AccountRow> = accounts.iter().map(AccountRow).collect();
        conn.client.execute(&statement, &[&rows]).await?;
        Ok(())
    }

    pub(super) async fn read_account(&self, id: AccountId) -> anyhow::Result<Option<Account>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, GET_ACCOUNT).await?;
        let row = conn.client.query_opt(&statement, &[&uuid(id)]).await?;
        row.as_ref().map(account_from_row).transpose()
    }

    pub(super) async fn read_accounts_after(
        &self,
        after: Option<AccountId>,
        limit: u32,
    ) -> anyhow::Result<Vec<Account>> {
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
    pub(super) async fn read_accounts(&self, ids: &[AccountId]) -> anyhow::Result<Vec<Account>> {
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

    pub(super) async fn change_account_flags<E: Send + 'static>(
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

    pub(super) async fn read_transfer(&self, id: TransferId) -> anyhow::Result<Option<Transfer>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, GET_TRANSFER).await?;
        let row = conn.client.query_opt(&statement, &[&uuid(id)]).await?;
        row.as_ref().map(transfer_from_row).transpose()
    }

    pub(super) async fn read_transfers_by_reference(
        &self,
        reference: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<Transfer>> {
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

    pub(super) async fn read_pending(&self, id: TransferId) -> anyhow::Result<Option<PendingRecord>> {
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

    pub(super) async fn read_entries(&self, query: &EntryQuery) -> anyhow::Result<Vec<Transfer>> {
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
        let rows =
            conn.client.query(&statement, &[&uuid(query.account_id), &lowest, &highest, &(query.limit as i64)]).await?;
        rows.iter().map(transfer_from_row).collect()
    }

    pub(super) async fn read_counters_at(&self, id: AccountId, at: Timestamp) -> anyhow::Result<Counters> {
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

    pub(super) async fn read_due_pendings(&self, now: Timestamp, limit: u32) -> anyhow::Result<Vec<TransferId>> {
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
    pub(super) async fn recompute_and_check(&self) -> anyhow::Result<VerifyReport> {
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

        for row in tx.query(VERIFY_ENTRIES, &[limit]).await? {
            let transfer = transfer_id(row.try_get(0)?)?;
            let account = account_id(row.try_get(1)?)?;
            let side: &str = row.try_get(2)?;
            report.problems.push(format!(
                "transfer {transfer} records {side} account {account} counters {} after it, but its entries sum to {}",
                counters_text(&row, 3)?,
                counters_text(&row, 7)?
            ));
        }
        for row in tx.query(VERIFY_TOTALS, &[limit]).await? {
            let account = account_id(row.try_get(0)?)?;
            if row.try_get::<_, bool>(1)? {
                report.problems.push(format!(
                    "account {account} has counters {} but its entries sum to {}",
                    counters_text(&row, 2)?,
                    counters_text(&row, 6)?
                ));
            } else {
                report.problems.push(format!("transfers name account {account}, which does not exist"));
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
/// amount), a void or expiry releases its own amount, which is the hold's. One row per account side.
macro_rules! verify_sides {
    () => {
        "WITH effect AS (
            SELECT t.id, t.timestamp, t.debit_account_id, t.credit_account_id,
                   CASE WHEN t.kind IN (0, 2) THEN t.amount ELSE 0 END AS posted,
                   CASE t.kind WHEN 1 THEN t.amount WHEN 2 THEN -h.amount WHEN 3 THEN -t.amount
                               WHEN 4 THEN -t.amount ELSE 0 END AS pending,
                   t.dr_debits_pending, t.dr_debits_posted, t.dr_credits_pending, t.dr_credits_posted,
                   t.cr_debits_pending, t.cr_debits_posted, t.cr_credits_pending, t.cr_credits_posted
            FROM ledger_transfers t LEFT JOIN ledger_transfers h ON t.kind = 2 AND h.id = t.pending_id
        ), sides AS (
            SELECT id, timestamp, debit_account_id AS account_id, 'debit' AS side,
                   pending AS debits_pending, posted AS debits_posted, 0 AS credits_pending, 0 AS credits_posted,
                   dr_debits_pending AS after_debits_pending, dr_debits_posted AS after_debits_posted,
                   dr_credits_pending AS after_credits_pending, dr_credits_posted AS after_credits_posted
            FROM effect
            UNION ALL
            SELECT id, timestamp, credit_account_id, 'credit', 0, 0, pending, posted,
                   cr_debits_pending, cr_debits_posted, cr_credits_pending, cr_credits_posted
            FROM effect
        )"
    };
}

/// Entries whose recorded counters after them differ from the running sum of the account's entries
/// up to them. Sums are NUMERIC, shown as text, so that a corrupt ledger cannot overflow the check.
const VERIFY_ENTRIES: &str = concat!(
    verify_sides!(),
    ", running AS (
        SELECT id, account_id, side, timestamp,
               after_debits_pending, after_debits_posted, after_credits_pending, after_credits_posted,
               sum(debits_pending) OVER w AS debits_pending, sum(debits_posted) OVER w AS debits_posted,
               sum(credits_pending) OVER w AS credits_pending, sum(credits_posted) OVER w AS credits_posted
        FROM sides
        WINDOW w AS (PARTITION BY account_id ORDER BY timestamp ROWS UNBOUNDED PRECEDING)
    )
    SELECT id, account_id, side, after_debits_pending, after_debits_posted, after_credits_pending,
           after_credits_posted, debits_pending::text, debits_posted::text, credits_pending::text,
           credits_posted::text
    FROM running
    WHERE (after_debits_pending, after_debits_posted, after_credits_pending, after_credits_posted)
          IS DISTINCT FROM (debits_pending, debits_posted, credits_pending, credits_posted)
    ORDER BY account_id, timestamp
    LIMIT $1"
);

/// Accounts whose stored counters differ from the sum of their entries (zero for none), and
/// accounts that entries name but that do not exist.
const VERIFY_TOTALS: &str = concat!(
    verify_sides!(),
    ", summed AS (
        SELECT account_id, sum(debits_pending) AS debits_pending, sum(debits_posted) AS debits_posted,
               sum(credits_pending) AS credits_pending, sum(credits_posted) AS credits_posted
        FROM sides GROUP BY account_id
    )
    SELECT coalesce(a.id, s.account_id), a.id IS NOT NULL,
           a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted,
           coalesce(s.debits_pending, 0)::text, coalesce(s.debits_posted, 0)::text,
           coalesce(s.credits_pending, 0)::text, coalesce(s.credits_posted, 0)::text
    FROM ledger_accounts a FULL JOIN summed s ON s.account_id = a.id
    WHERE a.id IS NULL
       OR (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted)
          IS DISTINCT FROM (coalesce(s.debits_pending, 0), coalesce(s.debits_posted, 0),
                            coalesce(s.credits_pending, 0), coalesce(s.credits_posted, 0))
    ORDER BY 1
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

/// Accounts whose latest transfer (found through the two side indexes) left other counters, or
/// another timestamp, than the account holds.
const VERIFY_LATEST_ENTRY: &str = "\
SELECT a.id, latest.id, a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted,
       latest.debits_pending, latest.debits_posted, latest.credits_pending, latest.credits_posted,
       a.last_transfer_at, latest.timestamp
FROM ledger_accounts a
CROSS JOIN LATERAL (
    SELECT * FROM (
        (SELECT id, timestamp, dr_debits_pending AS debits_pending, dr_debits_posted AS debits_posted,
                dr_credits_pending AS credits_pending, dr_credits_posted AS credits_posted
         FROM ledger_transfers WHERE debit_account_id = a.id ORDER BY timestamp DESC LIMIT 1)
        UNION ALL
        (SELECT id, timestamp, cr_debits_pending, cr_debits_posted, cr_credits_pending, cr_credits_posted
         FROM ledger_transfers WHERE credit_account_id = a.id ORDER BY timestamp DESC LIMIT 1)
    ) AS sides
    ORDER BY timestamp DESC LIMIT 1
) AS latest
WHERE (a.debits_pending, a.debits_posted, a.credits_pending, a.credits_posted, a.last_transfer_at)
      <> (latest.debits_pending, latest.debits_posted, latest.credits_pending, latest.credits_posted, latest.timestamp)
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

/// One attempt at a batch: lock, decide, write, commit. Any error leaves nothing written.
async fn commit_once(
    conn: &mut PooledConn,
    requests: &[TransferRequest],
    needs: &BatchNeeds,
    now: Timestamp,
) -> anyhow::Result<Vec<Result<Transfer, TransferError>>> {
    let conn = &mut **conn;
    let statements = &mut conn.statements;
    let tx = conn.client.build_transaction().isolation_level(IsolationLevel::ReadCommitted).start().await?;
    let lock_pendings = statements.get(&tx, LOCK_PENDINGS).await?;
    let load_transfers = statements.get(&tx, LOAD_TRANSFERS).await?;
    let lock_accounts = statements.get(&tx, LOCK_ACCOUNTS).await?;
    let insert_transfers = statements.get(&tx, INSERT_TRANSFERS).await?;
    let insert_pendings = statements.get(&tx, INSERT_PENDINGS).await?;
    let update_pendings = statements.get(&tx, UPDATE_PENDINGS).await?;
    let update_accounts = statements.get(&tx, UPDATE_ACCOUNTS).await?;

    // Holds first, then accounts, each in id order: the one lock order of every writer, so that two
    // instances never wait on each other in a cycle.
    let mut state = LedgerState::default();
    if !needs.pending_ids.is_empty() {
        for row in tx.query(&lock_pendings, &[&uuids(&needs.pending_ids)]).await? {
            let pending = pending_from_row(&row)?;
            state.pendings.insert(pending.id, pending);
        }
    }
    let loaded_pendings: Vec<PendingRecord> = state.pendings.values().cloned().collect();
    let account_ids = uuids(&pending_account_ids(&loaded_pendings, needs.account_ids.clone()));
    // Stored transfers are never updated and need no lock. Sent in the same round trip as the account
    // locks but run after them, with a snapshot taken once they are held: a concurrent batch with the
    // same ids and accounts has committed by then, and is seen rather than collided with.
    let transfer_ids = uuids(&needs.transfer_ids);
    let (account_rows, transfer_rows) =
        try_join(tx.query(&lock_accounts, &[&account_ids]), tx.query(&load_transfers, &[&transfer_ids])).await?;
    for row in &transfer_rows {
        let transfer = transfer_from_row(row)?;
        state.transfers.insert(transfer.id, transfer);
    }
    let mut before: HashMap<AccountId, (Currency, Counters)> = HashMap::with_capacity(account_rows.len());
    for row in &account_rows {
        let account = account_from_row(row)?;
        before.insert(account.id, (account.currency, account.counters));
        state.accounts.insert(account.id, account);
    }

    let outcome = apply_batch(&mut state, requests, now);
    crate::assert_batch_balances(&outcome)?;
    check_conservation(&before, &outcome.accounts)?;

    let transfers: Vec<TransferRow> = outcome.inserted.iter().map(TransferRow).collect();
    let (new_pendings, resolved_pendings): (Vec<&PendingRecord>, Vec<&PendingRecord>) =
        outcome.pendings.iter().partition(|p| p.is_new);
    let new_pending_ids: Vec<Uuid> = new_pendings.iter().map(|p| uuid(p.id)).collect();
    let new_pending_statuses: Vec<i16> = new_pendings.iter().map(|p| p.status.as_i16()).collect();
    let new_pending_expiries: Vec<Option<i64>> =
        new_pendings.iter().map(|p| p.expires_at.map(Timestamp::nanos)).collect();
    let resolved_ids: Vec<Uuid> = resolved_pendings.iter().map(|p| uuid(p.id)).collect();
    let resolved_statuses: Vec<i16> = resolved_pendings.iter().map(|p| p.status.as_i16()).collect();
    let accounts: Vec<AccountRow> = outcome.accounts.iter().map(AccountRow).collect();

    // The four writes touch different rows and are independent: sent together, one round trip.
    let (_, _, _, accounts_updated) = try_join4(
        async {
            if outcome.inserted.is_empty() {
                Ok(0)
            } else {
                tx.execute(&insert_transfers, &[&transfers]).await
            }
        },
        async {
            if new_pending_ids.is_empty() {
                Ok(0)
            } else {
                tx.execute(&insert_pendings, &[&new_pending_ids, &new_pending_statuses, &new_pending_expiries]).await
            }
        },
        async {
            if resolved_ids.is_empty() {
                Ok(0)
            } else {
                tx.execute(&update_pendings, &[&resolved_ids, &resolved_statuses]).await
            }
        },
        async {
            if accounts.is_empty() {
                Ok(0)
            } else {
                tx.execute(&update_accounts, &[&accounts]).await
            }
        },
    )
    .await?;
    if accounts_updated != accounts.len() as u64 {
        return Err(anyhow!("updated {accounts_updated} of the batch's {} accounts", accounts.len()));
    }
    tx.commit().await?;
    Ok(outcome.results)
}

/// Money is only moved: per currency, what the batch added to all debit counters equals what it
/// added to all credit counters, posted and pending alike. Checked before writing, so that a fault in
/// the state machine stops the batch rather than the books.
fn check_conservation(before: &HashMap<AccountId, (Currency, Counters)>, after: &[Account]) -> anyhow::Result<()> {
    let mut deltas: HashMap<Currency, [i128; 4]> = HashMap::new();
    for account in after {
        let (currency, old) = before.get(&account.id).context("the batch changed an account it did not load")?;
        let new = &account.counters;
        let delta = deltas.entry(*currency).or_default();
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
