//! Staff accounts and their sessions on PostgreSQL (see `crate::staff`). Every write is one statement
//! (a compare-and-set where it decides), so several sanhu instances on one database agree: concurrent
//! failed sign-ins each count.

use anyhow::Context;
use sanhu_core::staff::Username;
use sanhu_core::Timestamp;
use tokio_postgres::Row;

use super::PostgresStore;
use crate::staff::{
    staff_from_row, stored_username, StaffAccount, StaffRow, StaffSession, StaffStore, SESSION_COLUMNS, STAFF_COLUMNS,
    STAFF_SESSIONS_FORGOTTEN_PER_SIGN_IN,
};

/// [`SESSION_COLUMNS`] of one session, a prepared statement (it needs a `'static` text).
const SELECT_SESSION: &str = "SELECT token_hash, username, csrf_hash, created_at, last_seen_at, ended_at \
     FROM staff_sessions WHERE token_hash = $1";

fn staff_row(r: &Row) -> anyhow::Result<StaffAccount> {
    staff_from_row(StaffRow {
        username: r.try_get(0)?,
        role: r.try_get(1)?,
        password_hash: r.try_get(2)?,
        status: r.try_get(3)?,
        failed_logins: r.try_get(4)?,
        locked_until: r.try_get(5)?,
        created_at: r.try_get(6)?,
        password_set_at: r.try_get(7)?,
        version: r.try_get(8)?,
    })
}

fn session_row(r: &Row) -> anyhow::Result<StaffSession> {
    Ok(StaffSession {
        token_hash: r.try_get(0)?,
        username: stored_username(r.try_get(1)?)?,
        csrf_hash: r.try_get(2)?,
        created_at: Timestamp::from_nanos(r.try_get(3)?),
        last_seen_at: Timestamp::from_nanos(r.try_get(4)?),
        ended_at: r.try_get::<_, Option<i64>>(5)?.map(Timestamp::from_nanos),
    })
}

impl StaffStore for PostgresStore {
    async fn create_staff(&self, account: &StaffAccount) -> anyhow::Result<bool> {
        let a = account;
        let conn = self.inner.general.get().await?;
        let inserted = conn
            .client
            .execute(
                &format!(
                    "INSERT INTO staff_accounts ({STAFF_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
                     ON CONFLICT (username) DO NOTHING"
                ),
                &[
                    &a.username.as_str(),
                    &a.role.as_str(),
                    &a.password_hash,
                    &a.status.as_str(),
                    &i64::from(a.guard.failures()),
                    &a.guard.locked_until().map(Timestamp::nanos),
                    &a.created_at.nanos(),
                    &a.password_set_at.nanos(),
                    &a.version,
                ],
            )
            .await
            .with_context(|| format!("create staff account {}", a.username))?;
        Ok(inserted == 1)
    }

    async fn staff_account(&self, username: &Username) -> anyhow::Result<Option<StaffAccount>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt(
                &format!("SELECT {STAFF_COLUMNS} FROM staff_accounts WHERE username = $1"),
                &[&username.as_str()],
            )
            .await
            .context("read a staff account")?;
        row.as_ref().map(staff_row).transpose()
    }

    async fn staff_accounts(&self) -> anyhow::Result<Vec<StaffAccount>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(&format!("SELECT {STAFF_COLUMNS} FROM staff_accounts ORDER BY username"), &[])
            .await
            .context("read the staff accounts")?;
        rows.iter().map(staff_row).collect()
    }

    async fn update_staff(&self, account: &StaffAccount) -> anyhow::Result<bool> {
        let a = account;
        let conn = self.inner.general.get().await?;
        let updated = conn
            .client
            .execute(
                "UPDATE staff_accounts SET role = $2, password_hash = $3, status = $4, failed_logins = $5, \
                 locked_until = $6, password_set_at = $7, version = version + 1 \
                 WHERE username = $1 AND version = $8",
                &[
                    &a.username.as_str(),
                    &a.role.as_str(),
                    &a.password_hash,
                    &a.status.as_str(),
                    &i64::from(a.guard.failures()),
                    &a.guard.locked_until().map(Timestamp::nanos),
                    &a.password_set_at.nanos(),
                    &a.version,
                ],
            )
            .await
            .with_context(|| format!("update staff account {}", a.username))?;
        Ok(updated == 1)
    }

    async fn create_staff_session(&self, session: &StaffSession, forget_before: Timestamp) -> anyhow::Result<()> {
        let s = session;
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        tx.execute(
            "DELETE FROM staff_sessions WHERE token_hash IN (SELECT token_hash FROM staff_sessions \
             WHERE ended_at IS NOT NULL OR created_at < $1 LIMIT $2)",
            &[&forget_before.nanos(), &STAFF_SESSIONS_FORGOTTEN_PER_SIGN_IN],
        )
        .await
        .context("forget old staff sessions")?;
        tx.execute(
            &format!("INSERT INTO staff_sessions ({SESSION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6)"),
            &[
                &s.token_hash,
                &s.username.as_str(),
                &s.csrf_hash,
                &s.created_at.nanos(),
                &s.last_seen_at.nanos(),
                &s.ended_at.map(Timestamp::nanos),
            ],
        )
        .await
        .context("store a staff session")?;
        tx.commit().await.context("commit a staff session")?;
        Ok(())
    }

    async fn staff_session(&self, token_hash: &str) -> anyhow::Result<Option<StaffSession>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        // Every staff request looks its session up: worth a prepared statement.
        let statement = conn.statements.get(&conn.client, SELECT_SESSION).await?;
        let row = conn.client.query_opt(&statement, &[&token_hash]).await.context("read a staff session")?;
        row.as_ref().map(session_row).transpose()
    }

    async fn touch_staff_session(&self, token_hash: &str, at: Timestamp) -> anyhow::Result<()> {
        let conn = self.inner.general.get().await?;
        conn.client
            .execute(
                "UPDATE staff_sessions SET last_seen_at = greatest(last_seen_at, $2) WHERE token_hash = $1",
                &[&token_hash, &at.nanos()],
            )
            .await
            .context("record a staff session's use")?;
        Ok(())
    }

    async fn end_staff_session(&self, token_hash: &str, at: Timestamp) -> anyhow::Result<bool> {
        let conn = self.inner.general.get().await?;
        let ended = conn
            .client
            .execute(
                "UPDATE staff_sessions SET ended_at = $2 WHERE token_hash = $1 AND ended_at IS NULL",
                &[&token_hash, &at.nanos()],
            )
            .await
            .context("end a staff session")?;
        Ok(ended == 1)
    }

    async fn end_staff_sessions(&self, username: &Username, at: Timestamp) -> anyhow::Result<u64> {
        let conn = self.inner.general.get().await?;
        let ended = conn
            .client
            .execute(
                "UPDATE staff_sessions SET ended_at = $2 WHERE username = $1 AND ended_at IS NULL",
                &[&username.as_str(), &at.nanos()],
            )
            .await
            .context("end a staff member's sessions")?;
        Ok(ended)
    }
}
