//! Maker-checker's approvals on SQLite (see `crate::approvals`). Reads run on a reader connection;
//! writes on the writer connection (so that they are not another connection's commit, which would
//! empty the writer's account cache), each one statement.

use anyhow::Context;
use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension, Row};
use sanhu_core::staff::{ApprovalId, ApprovalStatus, Username};
use sanhu_core::Timestamp;

use super::SqliteStore;
use crate::approvals::{approval_from_row, Approval, ApprovalQuery, ApprovalRow, ApprovalStore, APPROVAL_COLUMNS};

fn approval_row(r: &Row) -> rusqlite::Result<ApprovalRow> {
    Ok(ApprovalRow {
        id: r.get(0)?,
        status: r.get(1)?,
        maker: r.get(2)?,
        checker: r.get(3)?,
        method: r.get(4)?,
        route: r.get(5)?,
        path: r.get(6)?,
        body: r.get(7)?,
        reason: r.get(8)?,
        created_at: r.get(9)?,
        decided_at: r.get(10)?,
        response_status: r.get(11)?,
        response_body: r.get(12)?,
    })
}

impl ApprovalStore for SqliteStore {
    async fn create_approval(&self, approval: &Approval) -> anyhow::Result<()> {
        let a = approval.clone();
        self.write(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO staff_approvals ({APPROVAL_COLUMNS}) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)"
            ))?
            .execute(params![
                a.id.to_string(),
                a.status.as_str(),
                a.maker.as_str(),
                a.checker.as_ref().map(Username::as_str),
                a.method,
                a.route,
                a.path,
                a.body,
                a.reason,
                a.created_at.nanos(),
                a.decided_at.map(Timestamp::nanos),
                a.response_status,
                a.response_body
            ])
            .with_context(|| format!("failed to store approval {}", a.id))?;
            Ok(())
        })
        .await
    }

    async fn approval(&self, id: ApprovalId) -> anyhow::Result<Option<Approval>> {
        self.read(move |c| {
            let row = c
                .prepare_cached(&format!("SELECT {APPROVAL_COLUMNS} FROM staff_approvals WHERE id = ?1"))?
                .query_row([id.to_string()], approval_row)
                .optional()
                .context("failed to read an approval")?;
            row.map(approval_from_row).transpose()
        })
        .await
    }

    async fn approvals(&self, query: &ApprovalQuery) -> anyhow::Result<Vec<Approval>> {
        let q = query.clone();
        self.read(move |c| {
            let mut conditions = vec!["id > ?".to_owned()];
            let mut values = vec![Value::Text(q.after.map(|id| id.to_string()).unwrap_or_default())];
            if let Some(status) = q.status {
                conditions.push("status = ?".to_owned());
                values.push(Value::Text(status.as_str().to_owned()));
            }
            values.push(Value::Integer(i64::from(q.limit)));
            let sql = format!(
                "SELECT {APPROVAL_COLUMNS} FROM staff_approvals WHERE {} ORDER BY id LIMIT ?",
                conditions.join(" AND ")
            );
            let mut statement = c.prepare_cached(&sql)?;
            let rows = statement.query_map(rusqlite::params_from_iter(values), approval_row)?;
            let rows = rows.collect::<Result<Vec<_>, _>>().context("failed to read approvals")?;
            rows.into_iter().map(approval_from_row).collect()
        })
        .await
    }

    async fn update_approval(&self, approval: &Approval, expected: ApprovalStatus) -> anyhow::Result<bool> {
        let a = approval.clone();
        self.write(move |c| {
            let updated = c
                .prepare_cached(
                    "UPDATE staff_approvals SET status = ?2, checker = ?3, reason = ?4, decided_at = ?5, \
                     response_status = ?6, response_body = ?7 WHERE id = ?1 AND status = ?8",
                )?
                .execute(params![
                    a.id.to_string(),
                    a.status.as_str(),
                    a.checker.as_ref().map(Username::as_str),
                    a.reason,
                    a.decided_at.map(Timestamp::nanos),
                    a.response_status,
                    a.response_body,
                    expected.as_str()
                ])
                .with_context(|| format!("failed to update approval {}", a.id))?;
            Ok(updated == 1)
        })
        .await
    }
}
