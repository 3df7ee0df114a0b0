//! Members' bills on SQLite (see `crate::bill`). Reads run on a reader connection; a bill is written
//! with its items in one `BEGIN IMMEDIATE` transaction on the writer connection.

use anyhow::Context;
use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};
use sanhu_core::Timestamp;

use super::SqliteStore;
use crate::bill::*;

const BILL_COLUMNS: &str =
    "id, member_id, customer_id, period_start, period_end, period_month, item_count, data, issued_at";

fn bill_row(r: &Row) -> rusqlite::Result<StoredBill> {
    Ok(StoredBill {
        id: r.get(0)?,
        member_id: r.get(1)?,
        customer_id: r.get(2)?,
        period_start: Timestamp::from_nanos(r.get(3)?),
        period_end: Timestamp::from_nanos(r.get(4)?),
        period_month: r.get(5)?,
        item_count: r.get(6)?,
        data: r.get(7)?,
        issued_at: Timestamp::from_nanos(r.get(8)?),
    })
}

fn of_period(c: &rusqlite::Connection, member_id: &str, start: i64, end: i64) -> anyhow::Result<Option<StoredBill>> {
    c.prepare_cached(&format!(
        "SELECT {BILL_COLUMNS} FROM member_bills WHERE member_id = ?1 AND period_start = ?2 AND period_end = ?3"
    ))?
    .query_row(params![member_id, start, end], bill_row)
    .optional()
    .context("failed to read a member's bill of a period")
}

impl BillStore for SqliteStore {
    async fn issue_bill(&self, bill: &StoredBill, items: &[StoredBillItem]) -> anyhow::Result<StoredBill> {
        let (b, items) = (bill.clone(), items.to_vec());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            if let Some(kept) = of_period(&tx, &b.member_id, b.period_start.nanos(), b.period_end.nanos())? {
                return Ok(kept);
            }
            tx.prepare_cached(&format!(
                "INSERT INTO member_bills ({BILL_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"
            ))?
            .execute(params![
                b.id,
                b.member_id,
                b.customer_id,
                b.period_start.nanos(),
                b.period_end.nanos(),
                b.period_month,
                b.item_count,
                b.data,
                b.issued_at.nanos()
            ])
            .with_context(|| format!("failed to store bill {}", b.id))?;
            {
                let mut insert =
                    tx.prepare_cached("INSERT INTO member_bill_items (bill_id, seq, data) VALUES (?1, ?2, ?3)")?;
                for item in &items {
                    insert.execute(params![b.id, item.seq, item.data]).context("failed to store a bill item")?;
                }
            }
            tx.commit()?;
            Ok(b)
        })
        .await
    }

    async fn bill(&self, id: &str) -> anyhow::Result<Option<StoredBill>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {BILL_COLUMNS} FROM member_bills WHERE id = ?1"))?
                .query_row([id], bill_row)
                .optional()
                .context("failed to read a bill")
        })
        .await
    }

    async fn bill_of_period(
        &self,
        member_id: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> anyhow::Result<Option<StoredBill>> {
        let member_id = member_id.to_owned();
        self.read(move |c| of_period(c, &member_id, start.nanos(), end.nanos())).await
    }

    async fn member_bills(
        &self,
        member_id: &str,
        before: Option<(Timestamp, String)>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredBill>> {
        let member_id = member_id.to_owned();
        self.read(move |c| {
            let sql = match before {
                None => format!(
                    "SELECT {BILL_COLUMNS} FROM member_bills WHERE member_id = ?1 \
                     ORDER BY period_start DESC, id DESC LIMIT ?2"
                ),
                Some(_) => format!(
                    "SELECT {BILL_COLUMNS} FROM member_bills WHERE member_id = ?1 \
                     AND (period_start < ?3 OR (period_start = ?3 AND id < ?4)) \
                     ORDER BY period_start DESC, id DESC LIMIT ?2"
                ),
            };
            let mut statement = c.prepare_cached(&sql)?;
            let rows = match before {
                None => statement.query_map(params![member_id, limit], bill_row)?,
                Some((start, id)) => statement.query_map(params![member_id, limit, start.nanos(), id], bill_row)?,
            };
            let bills = rows.collect::<rusqlite::Result<Vec<_>>>().context("failed to list a member's bills")?;
            Ok(bills)
        })
        .await
    }

    async fn bill_items(&self, bill_id: &str, after: Option<i64>, limit: u32) -> anyhow::Result<Vec<StoredBillItem>> {
        let bill_id = bill_id.to_owned();
        self.read(move |c| {
            let items = c
                .prepare_cached(
                    "SELECT seq, data FROM member_bill_items WHERE bill_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3",
                )?
                .query_map(params![bill_id, after.unwrap_or(-1), limit], |r| {
                    Ok(StoredBillItem { seq: r.get(0)?, data: r.get(1)? })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()
                .context("failed to read a bill's items")?;
            Ok(items)
        })
        .await
    }

    async fn bill_run(&self, period: &str) -> anyhow::Result<Option<BillRun>> {
        let period = period.to_owned();
        self.read(move |c| {
            c.prepare_cached("SELECT last_member, done FROM bill_runs WHERE period = ?1")?
                .query_row([period], |r| Ok(BillRun { last_member: r.get(0)?, done: r.get::<_, i64>(1)? != 0 }))
                .optional()
                .context("failed to read a bill run")
        })
        .await
    }

    async fn set_bill_run(&self, period: &str, run: &BillRun, at: Timestamp) -> anyhow::Result<()> {
        let (period, run) = (period.to_owned(), run.clone());
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO bill_runs (period, last_member, done, updated_at) VALUES (?1, ?2, ?3, ?4) \
                 ON CONFLICT (period) DO UPDATE SET last_member = excluded.last_member, done = excluded.done, \
                 updated_at = excluded.updated_at",
            )?
            .execute(params![period, run.last_member, i64::from(run.done), at.nanos()])
            .context("failed to record a bill run")?;
            Ok(())
        })
        .await
    }
}
