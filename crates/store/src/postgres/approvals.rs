//! Maker-checker's approvals on PostgreSQL (see `crate::approvals`). Every write is one statement (a
//! compare-and-set on the status where it decides), so several sanhu instances on one database agree:
//! one approval is decided once.

use anyhow::Context;
use sanhu_core::staff::{ApprovalId, ApprovalStatus, Username};
use sanhu_core::Timestamp;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::PostgresStore;
use crate::approvals::{approval_from_row, Approval, ApprovalQuery, ApprovalRow, ApprovalStore, APPROVAL_COLUMNS};

fn approval_row(r: &Row) -> anyhow::Result<Approval> {
    approval_from_row(ApprovalRow {
        id: r.try_get(0)?,
        status: r.try_get(1)?,
        maker: r.try_get(2)?,
        checker: r.try_get(3)?,
        method: r.try_get(4)?,
        route: r.try_get(5)?,
        path: r.try_get(6)?,
        body: r.try_get(7)?,
        reason: r.try_get(8)?,
        created_at: r.try_get(9)?,
        decided_at: r.try_get(10)?,
        response_status: r.try_get::<_, Option<i32>>(11)?.map(i64::from),
        response_body: r.try_get(12)?,
    })
}

impl ApprovalStore for PostgresStore {
    async fn create_approval(&self, approval: &Approval) -> anyhow::Result<()> {
        let a = approval;
        let conn = self.inner.general.get().await?;
        conn.client
            .execute(
                &format!(
                    "INSERT INTO staff_approvals ({APPROVAL_COLUMNS}) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)"
                ),
                &[
                    &a.id.to_string(),
                    &a.status.as_str(),
                    &a.maker.as_str(),
                    &a.checker.as_ref().map(Username::as_str),
                    &a.method,
                    &a.route,
                    &a.path,
                    &a.body,
                    &a.reason,
                    &a.created_at.nanos(),
                    &a.decided_at.map(Timestamp::nanos),
                    &a.response_status.map(i32::from),
                    &a.response_body,
                ],
            )
            .await
            .with_context(|| format!("store approval {}", a.id))?;
        Ok(())
    }

    async fn approval(&self, id: ApprovalId) -> anyhow::Result<Option<Approval>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt(&format!("SELECT {APPROVAL_COLUMNS} FROM staff_approvals WHERE id = $1"), &[&id.to_string()])
            .await
            .context("read an approval")?;
        row.as_ref().map(approval_row).transpose()
    }

    async fn approvals(&self, query: &ApprovalQuery) -> anyhow::Result<Vec<Approval>> {
        let after = query.after.map(|id| id.to_string()).unwrap_or_default();
        let status = query.status.map(ApprovalStatus::as_str);
        let limit = i64::from(query.limit);
        let mut conditions = vec!["id > $1".to_owned()];
        let mut values: Vec<&(dyn ToSql + Sync)> = vec![&after];
        if let Some(status) = &status {
            values.push(status);
            conditions.push(format!("status = ${}", values.len()));
        }
        values.push(&limit);
        let sql = format!(
            "SELECT {APPROVAL_COLUMNS} FROM staff_approvals WHERE {} ORDER BY id LIMIT ${}",
            conditions.join(" AND "),
            values.len()
        );
        let conn = self.inner.general.get().await?;
        let rows = conn.client.query(&sql, &values).await.context("read approvals")?;
        rows.iter().map(approval_row).collect()
    }

    async fn update_approval(&self, approval: &Approval, expected: ApprovalStatus) -> anyhow::Result<bool> {
        let a = approval;
        let conn = self.inner.general.get().await?;
        let updated = conn
            .client
            .execute(
                "UPDATE staff_approvals SET status = $2, checker = $3, reason = $4, decided_at = $5, \
                 response_status = $6, response_body = $7 WHERE id = $1 AND status = $8",
                &[
                    &a.id.to_string(),
                    &a.status.as_str(),
                    &a.checker.as_ref().map(Username::as_str),
                    &a.reason,
                    &a.decided_at.map(Timestamp::nanos),
                    &a.response_status.map(i32::from),
                    &a.response_body,
                    &expected.as_str(),
                ],
            )
            .await
            .with_context(|| format!("update approval {}", a.id))?;
        Ok(updated == 1)
    }
}
