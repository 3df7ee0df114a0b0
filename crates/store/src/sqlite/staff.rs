//! Staff accounts and their sessions on SQLite (see `crate::staff`). Reads run on a reader
//! connection; writes on the writer connection (so that they are not another connection's commit,
//! which would empty the writer's account cache), each one statement or one `BEGIN IMMEDIATE`
//! transaction.

use anyhow::Context;
use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};
use sanhu_core::staff::Username;
use sanhu_core::Timestamp;

use super::SqliteStore;
use crate::staff::{
    staff_from_row, stored_username, StaffAccount, StaffRow, StaffSession, StaffStore, SESSION_COLUMNS, STAFF_COLUMNS,
    STAFF_SESSIONS_FORGOTTEN_PER_SIGN_IN,
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
}
