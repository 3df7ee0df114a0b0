//! Members' bills on PostgreSQL (see `crate::bill`). A bill is written with its items in one
//! transaction; two instances issuing the same bill at once meet at the unique key on member and
//! period, and the one that loses answers the bill the other kept.

use anyhow::Context;
use sanhu_core::Timestamp;
use tokio_postgres::{GenericClient, Row};

use super::PostgresStore;
use crate::bill::*;

const BILL_COLUMNS: &str =
    "id, member_id, customer_id, period_start, period_end, period_month, item_count, data, issued_at";

fn bill_row(r: &Row) -> anyhow::Result<StoredBill> {
    Ok(StoredBill {
        id: r.try_get(0)?,
        member_id: r.try_get(1)?,
        customer_id: r.try_get(2)?,
        period_start: Timestamp::from_nanos(r.try_get(3)?),
        period_end: Timestamp::from_nanos(r.try_get(4)?),
        period_month: r.try_get(5)?,
        item_count: r.try_get(6)?,
        data: r.try_get(7)?,
        issued_at: Timestamp::from_nanos(r.try_get(8)?),
    })
}

async fn of_period(
    c: &impl GenericClient,
    member_id: &str,
    start: i64,
    end: i64,
) -> anyhow::Result<Option<StoredBill>> {
    let row = c
        .query_opt(
            &format!(
                "SELECT {BILL_COLUMNS} FROM member_bills WHERE member_id = $1 AND period_start = $2 AND period_end = $3"
            ),
            &[&member_id, &start, &end],
        )
        .await
        .context("read a member's bill of a period")?;
    row.as_ref().map(bill_row).transpose()
}

impl BillStore for PostgresStore {
    async fn issue_bill(&self, bill: &StoredBill, items: &[StoredBillItem]) -> anyhow::Result<StoredBill> {
        let b = bill;
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        let inserted = tx
            .execute(
                &format!(
                    "INSERT INTO member_bills ({BILL_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (member_id, period_start, period_end) DO NOTHING"
                ),
                &[
                    &b.id,
                    &b.member_id,
                    &b.customer_id,
                    &b.period_start.nanos(),
                    &b.period_end.nanos(),
                    &b.period_month,
                    &b.item_count,
                    &b.data,
                    &b.issued_at.nanos(),
                ],
            )
            .await
            .with_context(|| format!("store bill {}", b.id))?;
        if inserted == 0 {
            tx.rollback().await?;
            return of_period(&conn.client, &b.member_id, b.period_start.nanos(), b.period_end.nanos())
                .await?
                .context("a bill that conflicted on its period is not there");
        }
        let insert = tx.prepare("INSERT INTO member_bill_items (bill_id, seq, data) VALUES ($1, $2, $3)").await?;
        for item in items {
            tx.execute(&insert, &[&b.id, &item.seq, &item.data]).await.context("store a bill item")?;
        }
        tx.commit().await?;
        Ok(b.clone())
    }

    async fn bill(&self, id: &str) -> anyhow::Result<Option<StoredBill>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt(&format!("SELECT {BILL_COLUMNS} FROM member_bills WHERE id = $1"), &[&id])
            .await
            .context("read a bill")?;
        row.as_ref().map(bill_row).transpose()
    }

    async fn bill_of_period(
        &self,
        member_id: &str,
        start: Timestamp,
        end: Timestamp,
    ) -> anyhow::Result<Option<StoredBill>> {
        let conn = self.inner.general.get().await?;
        of_period(&conn.client, member_id, start.nanos(), end.nanos()).await
    }

    async fn member_bills(
        &self,
        member_id: &str,
        before: Option<(Timestamp, String)>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredBill>> {
        let conn = self.inner.general.get().await?;
        let limit = i64::from(limit);
        let rows = match before {
            None => conn
                .client
                .query(
                    &format!(
                        "SELECT {BILL_COLUMNS} FROM member_bills WHERE member_id = $1 \
                         ORDER BY period_start DESC, id DESC LIMIT $2"
                    ),
                    &[&member_id, &limit],
                )
                .await
                .context("list a member's bills")?,
            Some((start, id)) => conn
                .client
                .query(
                    &format!(
                        "SELECT {BILL_COLUMNS} FROM member_bills WHERE member_id = $1 \
                         AND (period_start < $2 OR (period_start = $2 AND id < $3)) \
                         ORDER BY period_start DESC, id DESC LIMIT $4"
                    ),
                    &[&member_id, &start.nanos(), &id, &limit],
                )
                .await
                .context("list a member's bills")?,
        };
        rows.iter().map(bill_row).collect()
    }

    async fn bill_items(&self, bill_id: &str, after: Option<i64>, limit: u32) -> anyhow::Result<Vec<StoredBillItem>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                "SELECT seq, data FROM member_bill_items WHERE bill_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                &[&bill_id, &after.unwrap_or(-1), &i64::from(limit)],
            )
            .await
            .context("read a bill's items")?;
        rows.iter().map(|r| Ok(StoredBillItem { seq: r.try_get(0)?, data: r.try_get(1)? })).collect()
    }

    async fn bill_run(&self, period: &str) -> anyhow::Result<Option<BillRun>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt("SELECT last_member, done FROM bill_runs WHERE period = $1", &[&period])
            .await
            .context("read a bill run")?;
        row.map(|r| Ok(BillRun { last_member: r.try_get(0)?, done: r.try_get(1)? })).transpose()
    }

    async fn set_bill_run(&self, period: &str, run: &BillRun, at: Timestamp) -> anyhow::Result<()> {
        let conn = self.inner.general.get().await?;
        conn.client
            .execute(
                "INSERT INTO bill_runs (period, last_member, done, updated_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (period) DO UPDATE SET last_member = excluded.last_member, done = excluded.done, \
                 updated_at = excluded.updated_at",
                &[&period, &run.last_member, &run.done, &at.nanos()],
            )
            .await
            .context("record a bill run")?;
        Ok(())
    }
}
