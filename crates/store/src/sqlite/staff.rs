//! Staff accounts, sessions and approvals on SQLite (see `crate::staff`). Reads run on a reader
//! connection; writes on the writer connection (so that they are not another connection's commit,
//! which would empty the writer's account cache), each one statement or one `BEGIN IMMEDIATE`
//! transaction.

use anyhow::Context;
use rusqlite::types::Value;
use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};
use sanhu_core::staff::{ApprovalId, ApprovalStatus, Username};
use sanhu_core::Timestamp;

use super::SqliteStore;
use crate::staff::{
    approval_from_row, staff_from_row, stored_username, Approval, ApprovalQuery, ApprovalRow, StaffAccount, StaffRow,
    StaffSession, StaffStore, APPROVAL_COLUMNS, SESSION_COLUMNS, STAFF_COLUMNS, STAFF_SESSIONS_FORGOTTEN_PER_SIGN_IN,
};

fn staff_row(r: &Row) -> rusqlite::Result<StaffRow> {
    Ok(StaffRow {
        username: r.get(0)?,
        role: r.get(1)?,
        password_hash: r.get(2)?,
        status: r.get(3)?,
        failed_logins: r.get(4)?,
        locked_until: r.get(5)?,
        created_at: r.get(6)?,
        password_set_at: r.get(7)?,
        version: r.get(8)?,
    })
}

fn session_row(r: &Row) -> rusqlite::Result<(String, String, String, i64, i64, Option<i64>)> {
    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?, r.get(5)?))
}

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

impl StaffStore for SqliteStore {
    async fn create_staff(&self, account: &StaffAccount) -> anyhow::Result<bool> {
        let a = account.clone();
        self.write(move |c| {
            let inserted = c
                .prepare_cached(&format!(
                    "INSERT INTO staff_accounts ({STAFF_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) \
                     ON CONFLICT (username) DO NOTHING"
                ))?
                .execute(params![
                    a.username.as_str(),
                    a.role.as_str(),
                    a.password_hash,
                    a.status.as_str(),
                    i64::from(a.guard.failures()),
                    a.guard.locked_until().map(Timestamp::nanos),
                    a.created_at.nanos(),
                    a.password_set_at.nanos(),
                    a.version
                ])
                .with_context(|| format!("failed to create staff account {}", a.username))?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn staff_account(&self, username: &Username) -> anyhow::Result<Option<StaffAccount>> {
        let username = username.as_str().to_owned();
        self.read(move |c| {
            let row = c
                .prepare_cached(&format!("SELECT {STAFF_COLUMNS} FROM staff_accounts WHERE username = ?1"))?
                .query_row([username], staff_row)
                .optional()
                .context("failed to read a staff account")?;
            row.map(staff_from_row).transpose()
        })
        .await
    }

    async fn staff_accounts(&self) -> anyhow::Result<Vec<StaffAccount>> {
        self.read(|c| {
            let mut statement =
                c.prepare_cached(&format!("SELECT {STAFF_COLUMNS} FROM staff_accounts ORDER BY username"))?;
            let rows = statement.query_map([], staff_row)?.collect::<Result<Vec<_>, _>>()?;
            rows.into_iter().map(staff_from_row).collect()
        })
        .await
    }

    async fn update_staff(&self, account: &StaffAccount) -> anyhow::Result<bool> {
        let a = account.clone();
        self.write(move |c| {
            let updated = c
                .prepare_cached(
                    "UPDATE staff_accounts SET role = ?2, password_hash = ?3, status = ?4, failed_logins = ?5, \
                     locked_until = ?6, password_set_at = ?7, version = version + 1 \
                     WHERE username = ?1 AND version = ?8",
                )?
                .execute(params![
                    a.username.as_str(),
                    a.role.as_str(),
                    a.password_hash,
                    a.status.as_str(),
                    i64::from(a.guard.failures()),
                    a.guard.locked_until().map(Timestamp::nanos),
                    a.password_set_at.nanos(),
                    a.version
                ])
                .with_context(|| format!("failed to update staff account {}", a.username))?;
            Ok(updated == 1)
        })
        .await
    }

    async fn create_staff_session(&self, session: &StaffSession, forget_before: Timestamp) -> anyhow::Result<()> {
        let s = session.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "DELETE FROM staff_sessions WHERE token_hash IN (SELECT token_hash FROM staff_sessions \
                 WHERE ended_at IS NOT NULL OR created_at < ?1 LIMIT ?2)",
            )?
            .execute(params![forget_before.nanos(), STAFF_SESSIONS_FORGOTTEN_PER_SIGN_IN])?;
            tx.prepare_cached(&format!(
                "INSERT INTO staff_sessions ({SESSION_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6)"
            ))?
            .execute(params![
                s.token_hash,
                s.username.as_str(),
                s.csrf_hash,
                s.created_at.nanos(),
                s.last_seen_at.nanos(),
                s.ended_at.map(Timestamp::nanos)
            ])?;
            tx.commit().context("failed to store a staff session")
        })
        .await
    }

    async fn staff_session(&self, token_hash: &str) -> anyhow::Result<Option<StaffSession>> {
        let token_hash = token_hash.to_owned();
        self.read(move |c| {
            let row = c
                .prepare_cached(&format!("SELECT {SESSION_COLUMNS} FROM staff_sessions WHERE token_hash = ?1"))?
                .query_row([token_hash], session_row)
                .optional()
                .context("failed to read a staff session")?;
            row.map(|(token_hash, username, csrf_hash, created_at, last_seen_at, ended_at)| {
                Ok(StaffSession {
                    token_hash,
                    username: stored_username(&username)?,
                    csrf_hash,
                    created_at: Timestamp::from_nanos(created_at),
                    last_seen_at: Timestamp::from_nanos(last_seen_at),
                    ended_at: ended_at.map(Timestamp::from_nanos),
                })
            })
            .transpose()
        })
        .await
    }

    async fn touch_staff_session(&self, token_hash: &str, at: Timestamp) -> anyhow::Result<()> {
        let token_hash = token_hash.to_owned();
        self.write(move |c| {
            c.prepare_cached("UPDATE staff_sessions SET last_seen_at = max(last_seen_at, ?2) WHERE token_hash = ?1")?
                .execute(params![token_hash, at.nanos()])
                .context("failed to record a staff session's use")?;
            Ok(())
        })
        .await
    }

    async fn end_staff_session(&self, token_hash: &str, at: Timestamp) -> anyhow::Result<bool> {
        let token_hash = token_hash.to_owned();
        self.write(move |c| {
            let ended = c
                .prepare_cached("UPDATE staff_sessions SET ended_at = ?2 WHERE token_hash = ?1 AND ended_at IS NULL")?
                .execute(params![token_hash, at.nanos()])
                .context("failed to end a staff session")?;
            Ok(ended == 1)
        })
        .await
    }

    async fn end_staff_sessions(&self, username: &Username, at: Timestamp) -> anyhow::Result<u64> {
        let username = username.as_str().to_owned();
        self.write(move |c| {
            let ended = c
                .prepare_cached("UPDATE staff_sessions SET ended_at = ?2 WHERE username = ?1 AND ended_at IS NULL")?
                .execute(params![username, at.nanos()])
                .context("failed to end a staff member's sessions")?;
            Ok(ended as u64)
        })
        .await
    }

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
