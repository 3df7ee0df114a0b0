//! The SQLite database as a whole (see `crate::database`): its schema and migrations, readiness and
//! durability. Each runs on the writer connection.

use anyhow::Context;
use rusqlite::{params, TransactionBehavior};

use super::SqliteStore;
use crate::{DatabaseStore, Durability};

const SCHEMA: &str = include_str!("schema.sql");
/// The changes after `schema.sql` (version 1), oldest first; each is applied once, in order.
const MIGRATIONS: &[(i64, &str)] = &[
    // Which store claimed an idempotency key: its instance lock's token (see `instance`).
    (2, "ALTER TABLE idempotency_keys ADD COLUMN claimed_by TEXT;"),
    // The three-party records: documents, unique keys, lookups and history (see `crate::party`).
    (3, include_str!("schema_v3.sql")),
    // The audit log: hash-chained events and the chain's head (see `crate::audit`).
    (4, include_str!("schema_v4.sql")),
    // API clients' scopes, binding to one member, and up to two active keys (see `crate::ApiClient`).
    (5, include_str!("schema_v5.sql")),
    // Staff accounts, their sessions and the approvals of maker-checker (see `crate::staff`).
    (6, include_str!("schema_v6.sql")),
    // Counters moved inside a party write: a merchant's receipts per day and month (see `crate::party`).
    (7, include_str!("schema_v7.sql")),
    // Which attempt claimed an idempotency key: a token of its own, so that only that attempt settles
    // (answers or releases) the claim (see `crate::ClaimToken`).
    (8, "ALTER TABLE idempotency_keys ADD COLUMN claim_token TEXT;"),
    // Member cards: types, number segments, batches, cards and their transactions (see `crate::card`).
    (9, include_str!("schema_v9.sql")),
    // A card's ledger blocks pending (a freeze or an unfreeze between its writes), for the repair.
    (10, include_str!("schema_v10.sql")),
    // Redemption codes of card batches (keyed hashes) and failed redemptions (see `crate::card`).
    (11, include_str!("schema_v11.sql")),
    // Members' bills, their items and the monthly run's progress (see `crate::bill`).
    (12, include_str!("schema_v12.sql")),
    // Coupon templates, coupons and checkout quotes (see `crate::card`).
    (13, include_str!("schema_v13.sql")),
    // Webhooks: subscriptions, events, deliveries, attempts, the deriver's cursor (see `crate::webhook`).
    (14, include_str!("schema_v14.sql")),
    // Balance monitors and each watched account's state (see `crate::webhook`).
    (15, include_str!("schema_v15.sql")),
    // A card's validity end as a column, for the expiry job's index (see `crate::card`).
    (16, include_str!("schema_v16.sql")),
    // Webhooks signed with an HMAC secret of the subscription's own (sealed), and the indexes pruning
    // reads delivered events by (see `crate::webhook`).
    (17, include_str!("schema_v17.sql")),
    // Runs of `sanhu verify`: when, the outcome, what was checked (see `crate::audit::VerificationRecord`).
    (18, include_str!("schema_v18.sql")),
];

impl DatabaseStore for SqliteStore {
    async fn migrate(&self) -> anyhow::Result<()> {
        self.write(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute_batch(SCHEMA).context("failed to apply the SQLite schema")?;
            tx.execute_batch("CREATE TABLE IF NOT EXISTS sanhu_migrations (version INTEGER PRIMARY KEY, applied_at INTEGER NOT NULL)")?;
            tx.execute(
                "INSERT OR IGNORE INTO sanhu_migrations (version, applied_at) VALUES (1, ?1)",
                params![crate::now_nanos()],
            )?;
            let current: i64 = tx.query_row("SELECT max(version) FROM sanhu_migrations", [], |r| r.get(0))?;
            for &(version, sql) in MIGRATIONS.iter().filter(|(version, _)| *version > current) {
                tx.execute_batch(sql).with_context(|| format!("failed to apply schema version {version}"))?;
                tx.execute(
                    "INSERT INTO sanhu_migrations (version, applied_at) VALUES (?1, ?2)",
                    params![version, crate::now_nanos()],
                )?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn ping(&self) -> anyhow::Result<()> {
        // A write, not a read: every signed request records its nonce, so a database that answers
        // reads but cannot commit (a full or failing disk) serves nothing, and must not look ready.
        // The probe records a nonce of its own under a client id no client has (ids are `cli_…`),
        // with a new time each time so that the commit really writes; it is forgotten as nonces are.
        self.write(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.prepare_cached(
                "INSERT INTO api_nonces (client_id, nonce, seen_at) VALUES ('', 'readiness', ?1)
                 ON CONFLICT (client_id, nonce) DO UPDATE SET seen_at = excluded.seen_at",
            )?
            .execute([crate::now_nanos()])?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn durability(&self) -> anyhow::Result<Durability> {
        self.write(|c| {
            let journal: String = c.query_row("PRAGMA journal_mode", [], |r| r.get(0))?;
            let synchronous: i64 = c.query_row("PRAGMA synchronous", [], |r| r.get(0))?;
            let name = match synchronous {
                0 => "OFF",
                1 => "NORMAL",
                2 => "FULL",
                3 => "EXTRA",
                _ => "unknown",
            };
            Ok(Durability {
                setting: format!("journal_mode={journal} synchronous={name}"),
                durable: journal.eq_ignore_ascii_case("wal") && synchronous >= 2,
            })
        })
        .await
    }
}
