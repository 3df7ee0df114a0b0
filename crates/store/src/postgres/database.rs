//! The PostgreSQL database as a whole (see `crate::database`): its schema and migrations, readiness
//! and durability.

use anyhow::Context;

use super::PostgresStore;
use crate::{DatabaseStore, Durability};

/// The schema's versions, oldest first; each is applied once, in order, under the migration lock.
const MIGRATIONS: &[(i32, &str)] = &[
    (1, include_str!("schema.sql")),
    (2, include_str!("schema_v2.sql")),
    (3, include_str!("schema_v3.sql")),
    (4, include_str!("schema_v4.sql")),
    (5, include_str!("schema_v5.sql")),
    (6, include_str!("schema_v6.sql")),
    (7, include_str!("schema_v7.sql")),
    // Counters moved inside a party write: a merchant's receipts per day and month (see `crate::party`).
    (8, include_str!("schema_v8.sql")),
    // Which attempt claimed an idempotency key (see `crate::ClaimToken`).
    (9, include_str!("schema_v9.sql")),
    // Member cards: types, number segments, batches, cards and their transactions (see `crate::card`).
    (10, include_str!("schema_v10.sql")),
    // A card's ledger blocks pending (a freeze or an unfreeze between its writes), for the repair.
    (11, include_str!("schema_v11.sql")),
    // Redemption codes of card batches (keyed hashes) and failed redemptions (see `crate::card`).
    (12, include_str!("schema_v12.sql")),
    // Members' bills, their items and the monthly run's progress (see `crate::bill`).
    (13, include_str!("schema_v13.sql")),
    // The journal by time (BRIN), for questions of a period (the console's daily figures).
    (14, include_str!("schema_v14.sql")),
    // Coupon templates, coupons and checkout quotes (see `crate::card`).
    (15, include_str!("schema_v15.sql")),
    // Webhooks: the journal's transactions, subscriptions, events, deliveries, attempts, the
    // deriver's cursor (see `crate::webhook`).
    (16, include_str!("schema_v16.sql")),
    // Balance monitors and each watched account's state (see `crate::webhook`).
    (17, include_str!("schema_v17.sql")),
    // A card's validity end as a column, for the expiry job's index (see `crate::card`).
    (18, include_str!("schema_v18.sql")),
    // Webhooks signed with an HMAC secret of the subscription's own (sealed), and the indexes pruning
    // reads delivered events by (see `crate::webhook`).
    (19, include_str!("schema_v19.sql")),
    // Runs of `sanhu verify`: when, the outcome, what was checked (see `crate::audit::VerificationRecord`).
    (20, include_str!("schema_v20.sql")),
];

impl DatabaseStore for PostgresStore {
    async fn migrate(&self) -> anyhow::Result<()> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        // Two processes starting at once must not both run CREATE TABLE IF NOT EXISTS (that races in
        // the catalog); the lock is per schema so that the tests' schemas migrate independently.
        tx.batch_execute(
            "SELECT pg_advisory_xact_lock(hashtext('sanhu migrate ' || current_schema()));
             CREATE TABLE IF NOT EXISTS sanhu_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL);",
        )
        .await
        .context("take the migration lock")?;
        let current: i32 = tx.query_one("SELECT coalesce(max(version), 0) FROM sanhu_migrations", &[]).await?.get(0);
        for &(version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > current) {
            tx.batch_execute(sql).await.with_context(|| format!("apply schema version {version}"))?;
            tx.execute(
                "INSERT INTO sanhu_migrations (version, applied_at) VALUES ($1, $2)",
                &[&version, &crate::now_nanos()],
            )
            .await?;
        }
        tx.commit().await.context("commit the migration")?;
        Ok(())
    }

    async fn ping(&self) -> anyhow::Result<()> {
        // Ready only on a primary that takes writes: after a failover the connection may have found
        // a standby (a URL without `target_session_attrs=read-write`) or a primary made read-only.
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_one("SELECT pg_is_in_recovery() OR current_setting('transaction_read_only') = 'on'", &[])
            .await?;
        if row.get::<_, bool>(0) {
            return Err(crate::NotPrimary.into());
        }
        Ok(())
    }

    async fn durability(&self) -> anyhow::Result<Durability> {
        // Asked on the writer's connection: its setting is the one batches commit under.
        let conn = self.inner.writer.get().await?;
        let synchronous_commit: String = conn.client.query_one("SHOW synchronous_commit", &[]).await?.get(0);
        let fsync: String = conn.client.query_one("SHOW fsync", &[]).await?.get(0);
        Ok(Durability {
            durable: synchronous_commit == "on" && fsync == "on",
            setting: format!("synchronous_commit={synchronous_commit} fsync={fsync}"),
        })
    }
}
