//! Webhooks on SQLite (see `crate::webhook`). Reads run on a reader connection; writes on the writer
//! connection in one `BEGIN IMMEDIATE` transaction each. The deliverer claims and settles many
//! deliveries per transaction, so that webhooks take the one writer (the ledger's) a few times a
//! round, not once per delivery.

use anyhow::Context;
use rusqlite::{params, OptionalExtension, Row, TransactionBehavior};
use sanhu_core::Timestamp;

use super::SqliteStore;
use crate::webhook::*;

const SUBSCRIPTION_COLUMNS: &str = "id, client_id, bound_member, url, events, description, status, disabled_reason, \
     created_at, updated_at, signature, secret";
const DELIVERY_COLUMNS: &str =
    "d.seq, d.subscription_id, d.event_id, e.event_type, d.object_id, d.status, d.attempts, \
     d.next_attempt_at, d.last_attempt_at, d.last_status_code, d.created_at";
const ATTEMPT_COLUMNS: &str =
    "seq, subscription_id, event_id, attempt, at, status_code, latency_ms, outcome, error, response_snippet";

const MONITOR_COLUMNS: &str =
    "id, client_id, bound_member, target_kind, target, field, op, amount, description, status, created_at, updated_at";

fn monitor_row(r: &Row) -> rusqlite::Result<StoredMonitor> {
    Ok(StoredMonitor {
        id: r.get(0)?,
        client_id: r.get(1)?,
        bound_member: r.get(2)?,
        target_kind: r.get(3)?,
        target: r.get(4)?,
        field: r.get(5)?,
        op: r.get(6)?,
        amount: r.get(7)?,
        description: r.get(8)?,
        status: r.get(9)?,
        created_at: Timestamp::from_nanos(r.get(10)?),
        updated_at: Timestamp::from_nanos(r.get(11)?),
    })
}

fn subscription_row(r: &Row) -> rusqlite::Result<StoredSubscription> {
    Ok(StoredSubscription {
        id: r.get(0)?,
        client_id: r.get(1)?,
        bound_member: r.get(2)?,
        url: r.get(3)?,
        events: r.get(4)?,
        description: r.get(5)?,
        status: r.get(6)?,
        disabled_reason: r.get(7)?,
        created_at: Timestamp::from_nanos(r.get(8)?),
        updated_at: Timestamp::from_nanos(r.get(9)?),
        signature: r.get(10)?,
        secret: r.get(11)?,
    })
}

fn delivery_row(r: &Row) -> rusqlite::Result<StoredDelivery> {
    Ok(StoredDelivery {
        seq: r.get(0)?,
        subscription_id: r.get(1)?,
        event_id: r.get(2)?,
        event_type: r.get(3)?,
        object_id: r.get(4)?,
        status: r.get(5)?,
        attempts: r.get(6)?,
        next_attempt_at: Timestamp::from_nanos(r.get(7)?),
        last_attempt_at: r.get::<_, Option<i64>>(8)?.map(Timestamp::from_nanos),
        last_status_code: r.get(9)?,
        created_at: Timestamp::from_nanos(r.get(10)?),
    })
}

fn attempt_row(r: &Row) -> rusqlite::Result<StoredAttempt> {
    Ok(StoredAttempt {
        seq: r.get(0)?,
        subscription_id: r.get(1)?,
        event_id: r.get(2)?,
        attempt: r.get(3)?,
        at: Timestamp::from_nanos(r.get(4)?),
        status_code: r.get(5)?,
        latency_ms: r.get(6)?,
        outcome: r.get(7)?,
        error: r.get(8)?,
        response_snippet: r.get(9)?,
    })
}

fn insert_event(tx: &rusqlite::Transaction, event: &StoredEvent) -> anyhow::Result<()> {
    tx.prepare_cached(
        "INSERT INTO webhook_events (id, event_type, object_id, payload, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
         ON CONFLICT (id) DO NOTHING",
    )?
    .execute(params![event.id, event.event_type, event.object_id, event.payload, event.created_at.nanos()])
    .context("failed to keep a webhook event")?;
    Ok(())
}

fn insert_deliveries(
    tx: &rusqlite::Transaction,
    events: &[StoredEvent],
    deliveries: &[(String, String)],
) -> anyhow::Result<()> {
    let mut insert = tx.prepare_cached(
        "INSERT INTO webhook_deliveries (subscription_id, event_id, object_id, status, attempts, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, 'pending', 0, ?4, ?4) ON CONFLICT (subscription_id, event_id) DO NOTHING",
    )?;
    for (subscription, event_id) in deliveries {
        let event = events.iter().find(|e| &e.id == event_id).context("a delivery of an event not given")?;
        insert
            .execute(params![subscription, event_id, event.object_id, event.created_at.nanos()])
            .context("failed to keep a webhook delivery")?;
    }
    Ok(())
}

impl WebhookStore for SqliteStore {
    async fn webhook_create(&self, subscription: &StoredSubscription, per_client_max: u32) -> anyhow::Result<bool> {
        let s = subscription.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let count: i64 = tx
                .prepare_cached("SELECT count(*) FROM webhook_subscriptions WHERE client_id = ?1")?
                .query_row([&s.client_id], |r| r.get(0))?;
            if count >= i64::from(per_client_max) {
                return Ok(false);
            }
            tx.prepare_cached(&format!(
                "INSERT INTO webhook_subscriptions ({SUBSCRIPTION_COLUMNS})
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))?
            .execute(params![
                s.id,
                s.client_id,
                s.bound_member,
                s.url,
                s.events,
                s.description,
                s.status,
                s.disabled_reason,
                s.created_at.nanos(),
                s.updated_at.nanos(),
                s.signature,
                s.secret
            ])
            .context("failed to keep a webhook subscription")?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn webhook_subscription(&self, id: &str) -> anyhow::Result<Option<StoredSubscription>> {
        let id = id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!("SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = ?1"))?
                .query_row([id], subscription_row)
                .optional()
                .context("failed to read a webhook subscription")
        })
        .await
    }

    async fn webhook_subscriptions_of_client(
        &self,
        client_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredSubscription>> {
        let (client_id, after) = (client_id.to_owned(), after.unwrap_or("").to_owned());
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE client_id = ?1 AND id > ?2
                 ORDER BY id LIMIT ?3"
            ))?
            .query_map(params![client_id, after, limit], subscription_row)?
            .collect::<Result<_, _>>()
            .context("failed to list webhook subscriptions")
        })
        .await
    }

    async fn webhook_subscriptions_all(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredSubscription>> {
        let after = after.unwrap_or("").to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id > ?1 ORDER BY id LIMIT ?2"
            ))?
            .query_map(params![after, limit], subscription_row)?
            .collect::<Result<_, _>>()
            .context("failed to list webhook subscriptions")
        })
        .await
    }

    async fn webhook_active_subscriptions(&self) -> anyhow::Result<Vec<StoredSubscription>> {
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions s WHERE status = 'active'
                 AND NOT EXISTS (SELECT 1 FROM api_clients c WHERE c.id = s.client_id AND c.revoked_at IS NOT NULL) ORDER BY id"
            ))?
            .query_map([], subscription_row)?
            .collect::<Result<_, _>>()
            .context("failed to list the active webhook subscriptions")
        })
        .await
    }

    async fn webhook_update(&self, subscription: &StoredSubscription) -> anyhow::Result<bool> {
        let s = subscription.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx
                .prepare_cached(
                    "UPDATE webhook_subscriptions SET url = ?2, events = ?3, description = ?4, status = ?5,
                     disabled_reason = ?6, updated_at = ?7 WHERE id = ?1",
                )?
                .execute(params![
                    s.id,
                    s.url,
                    s.events,
                    s.description,
                    s.status,
                    s.disabled_reason,
                    s.updated_at.nanos()
                ])?;
            tx.commit()?;
            Ok(changed == 1)
        })
        .await
    }

    async fn webhook_delete(&self, id: &str) -> anyhow::Result<bool> {
        let id = id.to_owned();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut deleted = 0;
            for (table, column) in SUBSCRIPTION_ROWS {
                deleted = tx.execute(&format!("DELETE FROM {table} WHERE {column} = ?1"), [&id])?;
            }
            tx.commit()?;
            Ok(deleted == 1)
        })
        .await
    }

    async fn webhook_cursor(&self) -> anyhow::Result<JournalCursor> {
        self.read(move |c| {
            c.query_row("SELECT xact, seq FROM webhook_cursor WHERE id = 1", [], |r| {
                Ok(JournalCursor { xact: r.get(0)?, seq: r.get(1)? })
            })
            .context("failed to read the webhook cursor")
        })
        .await
    }

    async fn webhook_journal(&self, after: JournalCursor, limit: u32) -> anyhow::Result<Vec<JournalRow>> {
        self.read(move |c| {
            c.prepare_cached(
                "SELECT seq, record_id, customer_id, action, actor, detail, at FROM party_changes
                 WHERE seq > ?1 ORDER BY seq LIMIT ?2",
            )?
            .query_map(params![after.seq, limit], |r| {
                Ok(JournalRow {
                    cursor: JournalCursor { xact: 0, seq: r.get(0)? },
                    record_id: r.get(1)?,
                    customer_id: r.get(2)?,
                    action: r.get(3)?,
                    actor: r.get(4)?,
                    detail: r.get(5)?,
                    at: Timestamp::from_nanos(r.get(6)?),
                })
            })?
            .collect::<Result<_, _>>()
            .context("failed to read the journal for webhooks")
        })
        .await
    }

    async fn webhook_derive(
        &self,
        from: JournalCursor,
        to: JournalCursor,
        events: &[StoredEvent],
        deliveries: &[(String, String)],
    ) -> anyhow::Result<bool> {
        let (events, deliveries) = (events.to_vec(), deliveries.to_vec());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let moved = tx.execute(
                "UPDATE webhook_cursor SET xact = ?3, seq = ?4 WHERE id = 1 AND xact = ?1 AND seq = ?2",
                params![from.xact, from.seq, to.xact, to.seq],
            )?;
            if moved != 1 {
                return Ok(false);
            }
            for event in &events {
                insert_event(&tx, event)?;
            }
            insert_deliveries(&tx, &events, &deliveries)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn webhook_add_event(&self, event: &StoredEvent, deliveries: &[(String, String)]) -> anyhow::Result<()> {
        let (event, deliveries) = (event.clone(), deliveries.to_vec());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            insert_event(&tx, &event)?;
            insert_deliveries(&tx, std::slice::from_ref(&event), &deliveries)?;
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn webhook_claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
        per_subscription_max: u32,
    ) -> anyhow::Result<Vec<DueDelivery>> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let due: Vec<DueDelivery> = tx
                .prepare_cached(&format!(
                    "SELECT {DELIVERY_COLUMNS}, s.url, e.payload, s.signature, s.secret FROM webhook_deliveries d
                     JOIN webhook_subscriptions s ON s.id = d.subscription_id
                     JOIN webhook_events e ON e.id = d.event_id
                     WHERE d.status = 'pending' AND d.next_attempt_at <= ?1 AND s.status = 'active'
                       AND NOT EXISTS (SELECT 1 FROM api_clients c WHERE c.id = s.client_id AND c.revoked_at IS NOT NULL)
                       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                                       WHERE p.subscription_id = d.subscription_id AND p.object_id = d.object_id
                                         AND p.status = 'pending' AND p.seq < d.seq)
                     ORDER BY d.next_attempt_at, d.seq LIMIT ?2"
                ))?
                .query_map(params![now.nanos(), limit.saturating_mul(8)], |r| {
                    Ok(DueDelivery {
                        delivery: delivery_row(r)?,
                        url: r.get(11)?,
                        payload: r.get(12)?,
                        signature: r.get(13)?,
                        secret: r.get(14)?,
                    })
                })?
                .collect::<Result<_, _>>()
                .context("failed to read the due webhook deliveries")?;
            let due = crate::webhook::cap_per_subscription(due, limit, per_subscription_max);
            {
                let mut lease =
                    tx.prepare_cached("UPDATE webhook_deliveries SET next_attempt_at = ?2 WHERE seq = ?1")?;
                for d in &due {
                    lease.execute(params![d.delivery.seq, lease_until.nanos()])?;
                }
            }
            tx.commit()?;
            Ok(due)
        })
        .await
    }

    async fn webhook_settle(&self, results: &[AttemptResult]) -> anyhow::Result<()> {
        let results = results.to_vec();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for result in &results {
                let a = &result.attempt;
                tx.prepare_cached(&format!(
                    "INSERT INTO webhook_attempts ({}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                    &ATTEMPT_COLUMNS["seq, ".len()..]
                ))?
                .execute(params![
                    a.subscription_id,
                    a.event_id,
                    a.attempt,
                    a.at.nanos(),
                    a.status_code,
                    a.latency_ms,
                    a.outcome,
                    a.error,
                    a.response_snippet
                ])?;
                let (status, next) = match &result.settles {
                    AttemptSettles::Delivered => ("delivered", a.at),
                    AttemptSettles::Retry(at) => ("pending", *at),
                    AttemptSettles::GaveUp => ("failed", a.at),
                };
                let settled = tx
                    .prepare_cached(
                        "UPDATE webhook_deliveries SET status = ?3, attempts = attempts + 1, next_attempt_at = ?4,
                         last_attempt_at = ?5, last_status_code = ?6 WHERE subscription_id = ?1 AND event_id = ?2
                         AND status = 'pending' AND next_attempt_at = ?7",
                    )?
                    .execute(params![
                        a.subscription_id,
                        a.event_id,
                        status,
                        next.nanos(),
                        a.at.nanos(),
                        a.status_code,
                        result.lease_until.nanos()
                    ])?;
                if settled == 0 {
                    // The lease ran out and another round took the delivery over: its settle counts.
                    continue;
                }
                if result.settles == AttemptSettles::GaveUp {
                    tx.prepare_cached(
                        "UPDATE webhook_subscriptions SET status = 'disabled', disabled_reason = 'failing',
                         updated_at = ?2 WHERE id = ?1",
                    )?
                    .execute(params![a.subscription_id, a.at.nanos()])?;
                }
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    async fn webhook_deliveries(
        &self,
        subscription_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredDelivery>> {
        let subscription_id = subscription_id.to_owned();
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
                 WHERE d.subscription_id = ?1 AND d.seq < ?2 ORDER BY d.seq DESC LIMIT ?3"
            ))?
            .query_map(params![subscription_id, before.unwrap_or(i64::MAX), limit], delivery_row)?
            .collect::<Result<_, _>>()
            .context("failed to list webhook deliveries")
        })
        .await
    }

    async fn webhook_attempts(
        &self,
        subscription_id: &str,
        event_id: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredAttempt>> {
        let (subscription_id, event_id) = (subscription_id.to_owned(), event_id.map(str::to_owned));
        self.read(move |c| {
            c.prepare_cached(&format!(
                "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts
                 WHERE subscription_id = ?1 AND (?2 IS NULL OR event_id = ?2) AND seq < ?3
                 ORDER BY seq DESC LIMIT ?4"
            ))?
            .query_map(params![subscription_id, event_id, before.unwrap_or(i64::MAX), limit], attempt_row)?
            .collect::<Result<_, _>>()
            .context("failed to list webhook attempts")
        })
        .await
    }

    async fn webhook_resend(&self, subscription_id: &str, event_id: &str, now: Timestamp) -> anyhow::Result<bool> {
        let (subscription_id, event_id) = (subscription_id.to_owned(), event_id.to_owned());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let changed = tx.execute(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = ?3
                 WHERE subscription_id = ?1 AND event_id = ?2",
                params![subscription_id, event_id, now.nanos()],
            )?;
            tx.commit()?;
            Ok(changed == 1)
        })
        .await
    }

    async fn webhook_signing_key(&self, candidate: &[u8]) -> anyhow::Result<Vec<u8>> {
        let candidate = candidate.to_vec();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT OR IGNORE INTO webhook_signing_key (id, seed, created_at) VALUES (1, ?1, ?2)",
                params![candidate, crate::now_nanos()],
            )?;
            let seed: Vec<u8> = tx.query_row("SELECT seed FROM webhook_signing_key WHERE id = 1", [], |r| r.get(0))?;
            tx.commit()?;
            Ok(seed)
        })
        .await
    }

    async fn webhook_signing_key_replace(&self, old: &[u8], new: &[u8]) -> anyhow::Result<bool> {
        let (old, new) = (old.to_vec(), new.to_vec());
        self.write(move |c| {
            // With secure_delete the bytes the old form held are overwritten with zeros as the row is
            // rewritten (rather than left in the page's free space); the checkpoint then writes the
            // page back and empties the WAL, which held it as it was. One row: no VACUUM, which
            // would rewrite the whole database under the ledger's writer.
            c.pragma_update(None, "secure_delete", true)?;
            let replaced = (|| -> anyhow::Result<bool> {
                let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
                let n = tx.execute(
                    "UPDATE webhook_signing_key SET seed = ?2 WHERE id = 1 AND seed = ?1",
                    params![old, new],
                )?;
                tx.commit()?;
                Ok(n == 1)
            })();
            c.pragma_update(None, "secure_delete", false)?;
            let replaced = replaced?;
            if replaced {
                c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                    .context("failed to checkpoint the WAL after sealing the webhook signing key")?;
            }
            Ok(replaced)
        })
        .await
    }

    async fn webhook_prune(&self, before: Timestamp, limit: u32) -> anyhow::Result<u64> {
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let ids: Vec<String> = tx
                .prepare_cached(
                    "SELECT e.id FROM webhook_events e WHERE e.created_at < ?1
                     AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status <> 'delivered')
                     ORDER BY e.created_at LIMIT ?2",
                )?
                .query_map(params![before.nanos(), limit], |r| r.get(0))?
                .collect::<Result<_, _>>()
                .context("failed to find the webhook events to prune")?;
            for (table, column) in EVENT_ROWS {
                let mut delete = tx.prepare_cached(&format!("DELETE FROM {table} WHERE {column} = ?1"))?;
                for id in &ids {
                    delete.execute([id])?;
                }
            }
            tx.commit()?;
            Ok(ids.len() as u64)
        })
        .await
    }

    async fn monitor_create(&self, monitor: &StoredMonitor, per_client_max: u32) -> anyhow::Result<bool> {
        let m = monitor.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let count: i64 = tx
                .prepare_cached("SELECT count(*) FROM balance_monitors WHERE client_id = ?1")?
                .query_row([&m.client_id], |r| r.get(0))?;
            if count >= i64::from(per_client_max) {
                return Ok(false);
            }
            tx.prepare_cached(&format!(
                "INSERT INTO balance_monitors ({MONITOR_COLUMNS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)"
            ))?
            .execute(params![
                m.id,
                m.client_id,
                m.bound_member,
                m.target_kind,
                m.target,
                m.field,
                m.op,
                m.amount,
                m.description,
                m.status,
                m.created_at.nanos(),
                m.updated_at.nanos()
            ])
            .context("failed to keep a balance monitor")?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }

    async fn monitor_get(&self, id: &str) -> anyhow::Result<Option<StoredMonitor>> {
        let id = id.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached(&format!("SELECT {MONITOR_COLUMNS} FROM balance_monitors WHERE id = ?1"))?
                .query_row([&id], monitor_row)
                .optional()?)
        })
        .await
    }

    async fn monitors_of_client(
        &self,
        client_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredMonitor>> {
        let (client_id, after) = (client_id.to_owned(), after.unwrap_or("").to_owned());
        self.read(move |c| {
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {MONITOR_COLUMNS} FROM balance_monitors WHERE client_id = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
                ))?
                .query_map(params![client_id, after, limit], monitor_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn monitors_active(&self) -> anyhow::Result<Vec<StoredMonitor>> {
        self.read(move |c| {
            let rows = c
                .prepare_cached(&format!(
                    "SELECT {MONITOR_COLUMNS} FROM balance_monitors m WHERE status = 'active'
                     AND NOT EXISTS (SELECT 1 FROM api_clients a WHERE a.id = m.client_id AND a.revoked_at IS NOT NULL)
                     ORDER BY id"
                ))?
                .query_map([], monitor_row)?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn monitor_set_status(&self, id: &str, status: &str, at: Timestamp) -> anyhow::Result<bool> {
        let (id, status) = (id.to_owned(), status.to_owned());
        self.write(move |c| {
            let n = c
                .prepare_cached("UPDATE balance_monitors SET status = ?2, updated_at = ?3 WHERE id = ?1")?
                .execute(params![id, status, at.nanos()])?;
            Ok(n == 1)
        })
        .await
    }

    async fn monitor_resume(&self, id: &str, at: Timestamp) -> anyhow::Result<bool> {
        let id = id.to_owned();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let n = tx.execute(
                "UPDATE balance_monitors SET status = 'active', updated_at = ?2 WHERE id = ?1 AND status = 'disabled'",
                params![id, at.nanos()],
            )?;
            if n == 1 {
                tx.execute("DELETE FROM balance_monitor_states WHERE monitor_id = ?1", [&id])?;
            }
            tx.commit()?;
            Ok(n == 1)
        })
        .await
    }

    async fn monitor_delete(&self, id: &str) -> anyhow::Result<bool> {
        let id = id.to_owned();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM balance_monitor_states WHERE monitor_id = ?1", [&id])?;
            let n = tx.execute("DELETE FROM balance_monitors WHERE id = ?1", [&id])?;
            tx.commit()?;
            Ok(n == 1)
        })
        .await
    }

    async fn monitor_states(&self, account_id: &str) -> anyhow::Result<Vec<MonitorState>> {
        let account_id = account_id.to_owned();
        self.read(move |c| {
            let rows = c
                .prepare_cached(
                    "SELECT monitor_id, account_id, beyond, last_at FROM balance_monitor_states WHERE account_id = ?1",
                )?
                .query_map([&account_id], |r| {
                    Ok(MonitorState {
                        monitor_id: r.get(0)?,
                        account_id: r.get(1)?,
                        beyond: r.get::<_, i64>(2)? != 0,
                        last_at: Timestamp::from_nanos(r.get(3)?),
                    })
                })?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            Ok(rows)
        })
        .await
    }

    async fn monitor_advance(
        &self,
        before: Option<&MonitorState>,
        after: &MonitorState,
        events: &[StoredEvent],
        deliveries: &[(String, String)],
    ) -> anyhow::Result<bool> {
        let (before, after, events, deliveries) =
            (before.cloned(), after.clone(), events.to_vec(), deliveries.to_vec());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let moved = match &before {
                Some(b) => tx
                    .prepare_cached(
                        "UPDATE balance_monitor_states SET beyond = ?3, last_at = ?4
                         WHERE monitor_id = ?1 AND account_id = ?2 AND last_at = ?5",
                    )?
                    .execute(params![after.monitor_id, after.account_id, after.beyond, after.last_at.nanos(), b.last_at.nanos()])?,
                None => tx
                    .prepare_cached(
                        "INSERT INTO balance_monitor_states (monitor_id, account_id, beyond, last_at) VALUES (?1, ?2, ?3, ?4)
                         ON CONFLICT (monitor_id, account_id) DO NOTHING",
                    )?
                    .execute(params![after.monitor_id, after.account_id, after.beyond, after.last_at.nanos()])?,
            };
            if moved != 1 {
                return Ok(false);
            }
            for event in &events {
                insert_event(&tx, event)?;
            }
            insert_deliveries(&tx, &events, &deliveries)?;
            tx.commit()?;
            Ok(true)
        })
        .await
    }
}
