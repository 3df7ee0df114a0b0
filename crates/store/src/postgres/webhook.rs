//! Webhooks on PostgreSQL (see `crate::webhook`). The journal is read by (transaction, seq) below
//! the oldest transaction still running, so that a row committed late is never passed; deliveries
//! are claimed with `FOR UPDATE SKIP LOCKED` and a lease, so that instances sharing the database
//! never send one delivery at once.

use anyhow::Context;
use sanhu_core::Timestamp;
use tokio_postgres::{GenericClient, Row};

use super::PostgresStore;
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

fn monitor_row(r: &Row) -> anyhow::Result<StoredMonitor> {
    Ok(StoredMonitor {
        id: r.try_get(0)?,
        client_id: r.try_get(1)?,
        bound_member: r.try_get(2)?,
        target_kind: r.try_get(3)?,
        target: r.try_get(4)?,
        field: r.try_get(5)?,
        op: r.try_get(6)?,
        amount: r.try_get(7)?,
        description: r.try_get(8)?,
        status: r.try_get(9)?,
        created_at: Timestamp::from_nanos(r.try_get(10)?),
        updated_at: Timestamp::from_nanos(r.try_get(11)?),
    })
}

fn subscription_row(r: &Row) -> anyhow::Result<StoredSubscription> {
    Ok(StoredSubscription {
        id: r.try_get(0)?,
        client_id: r.try_get(1)?,
        bound_member: r.try_get(2)?,
        url: r.try_get(3)?,
        events: r.try_get(4)?,
        description: r.try_get(5)?,
        status: r.try_get(6)?,
        disabled_reason: r.try_get(7)?,
        created_at: Timestamp::from_nanos(r.try_get(8)?),
        updated_at: Timestamp::from_nanos(r.try_get(9)?),
        signature: r.try_get(10)?,
        secret: r.try_get(11)?,
    })
}

fn delivery_row(r: &Row) -> anyhow::Result<StoredDelivery> {
    Ok(StoredDelivery {
        seq: r.try_get(0)?,
        subscription_id: r.try_get(1)?,
        event_id: r.try_get(2)?,
        event_type: r.try_get(3)?,
        object_id: r.try_get(4)?,
        status: r.try_get(5)?,
        attempts: r.try_get(6)?,
        next_attempt_at: Timestamp::from_nanos(r.try_get(7)?),
        last_attempt_at: r.try_get::<_, Option<i64>>(8)?.map(Timestamp::from_nanos),
        last_status_code: r.try_get(9)?,
        created_at: Timestamp::from_nanos(r.try_get(10)?),
    })
}

fn attempt_row(r: &Row) -> anyhow::Result<StoredAttempt> {
    Ok(StoredAttempt {
        seq: r.try_get(0)?,
        subscription_id: r.try_get(1)?,
        event_id: r.try_get(2)?,
        attempt: r.try_get(3)?,
        at: Timestamp::from_nanos(r.try_get(4)?),
        status_code: r.try_get(5)?,
        latency_ms: r.try_get(6)?,
        outcome: r.try_get(7)?,
        error: r.try_get(8)?,
        response_snippet: r.try_get(9)?,
    })
}

async fn insert_events(
    tx: &impl GenericClient,
    events: &[StoredEvent],
    deliveries: &[(String, String)],
) -> anyhow::Result<()> {
    for event in events {
        tx.execute(
            "INSERT INTO webhook_events (id, event_type, object_id, payload, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (id) DO NOTHING",
            &[&event.id, &event.event_type, &event.object_id, &event.payload, &event.created_at.nanos()],
        )
        .await
        .context("keep a webhook event")?;
    }
    for (subscription, event_id) in deliveries {
        let event = events.iter().find(|e| &e.id == event_id).context("a delivery of an event not given")?;
        tx.execute(
            "INSERT INTO webhook_deliveries (subscription_id, event_id, object_id, status, attempts, next_attempt_at, created_at)
             VALUES ($1, $2, $3, 'pending', 0, $4, $4) ON CONFLICT (subscription_id, event_id) DO NOTHING",
            &[subscription, event_id, &event.object_id, &event.created_at.nanos()],
        )
        .await
        .context("keep a webhook delivery")?;
    }
    Ok(())
}

impl WebhookStore for PostgresStore {
    async fn webhook_create(&self, subscription: &StoredSubscription, per_client_max: u32) -> anyhow::Result<bool> {
        let s = subscription;
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        // One client's creations are taken in turn, so that two at once cannot both pass the limit.
        tx.execute("SELECT pg_advisory_xact_lock(hashtext('sanhu webhook ' || $1::text))", &[&s.client_id]).await?;
        let count: i64 = tx
            .query_one("SELECT count(*) FROM webhook_subscriptions WHERE client_id = $1", &[&s.client_id])
            .await?
            .get(0);
        if count >= i64::from(per_client_max) {
            return Ok(false);
        }
        tx.execute(
            &format!("INSERT INTO webhook_subscriptions ({SUBSCRIPTION_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"),
            &[
                &s.id,
                &s.client_id,
                &s.bound_member,
                &s.url,
                &s.events,
                &s.description,
                &s.status,
                &s.disabled_reason,
                &s.created_at.nanos(),
                &s.updated_at.nanos(),
                &s.signature,
                &s.secret,
            ],
        )
        .await
        .context("keep a webhook subscription")?;
        tx.commit().await?;
        Ok(true)
    }

    async fn webhook_subscription(&self, id: &str) -> anyhow::Result<Option<StoredSubscription>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt(&format!("SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id = $1"), &[&id])
            .await
            .context("read a webhook subscription")?;
        row.as_ref().map(subscription_row).transpose()
    }

    async fn webhook_subscriptions_of_client(
        &self,
        client_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredSubscription>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                &format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE client_id = $1 AND id > $2
                     ORDER BY id LIMIT $3"
                ),
                &[&client_id, &after.unwrap_or(""), &i64::from(limit)],
            )
            .await
            .context("list webhook subscriptions")?;
        rows.iter().map(subscription_row).collect()
    }

    async fn webhook_subscriptions_all(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredSubscription>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                &format!("SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions WHERE id > $1 ORDER BY id LIMIT $2"),
                &[&after.unwrap_or(""), &i64::from(limit)],
            )
            .await
            .context("list webhook subscriptions")?;
        rows.iter().map(subscription_row).collect()
    }

    async fn webhook_active_subscriptions(&self) -> anyhow::Result<Vec<StoredSubscription>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                &format!(
                    "SELECT {SUBSCRIPTION_COLUMNS} FROM webhook_subscriptions s WHERE status = 'active'
                 AND NOT EXISTS (SELECT 1 FROM api_clients c WHERE c.id = s.client_id AND c.revoked_at IS NOT NULL) ORDER BY id"
                ),
                &[],
            )
            .await
            .context("list the active webhook subscriptions")?;
        rows.iter().map(subscription_row).collect()
    }

    async fn webhook_update(&self, subscription: &StoredSubscription) -> anyhow::Result<bool> {
        let s = subscription;
        let conn = self.inner.general.get().await?;
        let changed = conn
            .client
            .execute(
                "UPDATE webhook_subscriptions SET url = $2, events = $3, description = $4, status = $5,
                 disabled_reason = $6, updated_at = $7 WHERE id = $1",
                &[&s.id, &s.url, &s.events, &s.description, &s.status, &s.disabled_reason, &s.updated_at.nanos()],
            )
            .await
            .context("update a webhook subscription")?;
        Ok(changed == 1)
    }

    async fn webhook_delete(&self, id: &str) -> anyhow::Result<bool> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        let mut deleted = 0;
        for (table, column) in SUBSCRIPTION_ROWS {
            deleted = tx.execute(&format!("DELETE FROM {table} WHERE {column} = $1"), &[&id]).await?;
        }
        tx.commit().await?;
        Ok(deleted == 1)
    }

    async fn webhook_cursor(&self) -> anyhow::Result<JournalCursor> {
        let conn = self.inner.general.get().await?;
        let row = conn.client.query_one("SELECT xact, seq FROM webhook_cursor WHERE id = 1", &[]).await?;
        Ok(JournalCursor { xact: row.try_get(0)?, seq: row.try_get(1)? })
    }

    async fn webhook_journal(&self, after: JournalCursor, limit: u32) -> anyhow::Result<Vec<JournalRow>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                "SELECT xact, seq, record_id, customer_id, action, actor, detail, at FROM party_changes
                 WHERE (xact, seq) > ($1, $2) AND xact < txid_snapshot_xmin(txid_current_snapshot())
                 ORDER BY xact, seq LIMIT $3",
                &[&after.xact, &after.seq, &i64::from(limit)],
            )
            .await
            .context("read the journal for webhooks")?;
        rows.iter()
            .map(|r| {
                Ok(JournalRow {
                    cursor: JournalCursor { xact: r.try_get(0)?, seq: r.try_get(1)? },
                    record_id: r.try_get(2)?,
                    customer_id: r.try_get(3)?,
                    action: r.try_get(4)?,
                    actor: r.try_get(5)?,
                    detail: r.try_get(6)?,
                    at: Timestamp::from_nanos(r.try_get(7)?),
                })
            })
            .collect()
    }

    async fn webhook_derive(
        &self,
        from: JournalCursor,
        to: JournalCursor,
        events: &[StoredEvent],
        deliveries: &[(String, String)],
    ) -> anyhow::Result<bool> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        let moved = tx
            .execute(
                "UPDATE webhook_cursor SET xact = $3, seq = $4 WHERE id = 1 AND xact = $1 AND seq = $2",
                &[&from.xact, &from.seq, &to.xact, &to.seq],
            )
            .await?;
        if moved != 1 {
            return Ok(false);
        }
        insert_events(&tx, events, deliveries).await?;
        tx.commit().await?;
        Ok(true)
    }

    async fn webhook_add_event(&self, event: &StoredEvent, deliveries: &[(String, String)]) -> anyhow::Result<()> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        insert_events(&tx, std::slice::from_ref(event), deliveries).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn webhook_claim_due(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
        per_subscription_max: u32,
    ) -> anyhow::Result<Vec<DueDelivery>> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        let rows = tx
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS}, s.url, e.payload, s.signature, s.secret FROM webhook_deliveries d
                     JOIN webhook_subscriptions s ON s.id = d.subscription_id
                     JOIN webhook_events e ON e.id = d.event_id
                     WHERE d.status = 'pending' AND d.next_attempt_at <= $1 AND s.status = 'active'
                       AND NOT EXISTS (SELECT 1 FROM api_clients c WHERE c.id = s.client_id AND c.revoked_at IS NOT NULL)
                       AND NOT EXISTS (SELECT 1 FROM webhook_deliveries p
                                       WHERE p.subscription_id = d.subscription_id AND p.object_id = d.object_id
                                         AND p.status = 'pending' AND p.seq < d.seq)
                     ORDER BY d.next_attempt_at, d.seq LIMIT $2
                     FOR UPDATE OF d SKIP LOCKED"
                ),
                &[&now.nanos(), &i64::from(limit.saturating_mul(8))],
            )
            .await
            .context("read the due webhook deliveries")?;
        let mut due = Vec::with_capacity(rows.len());
        for r in &rows {
            due.push(DueDelivery {
                delivery: delivery_row(r)?,
                url: r.try_get(11)?,
                payload: r.try_get(12)?,
                signature: r.try_get(13)?,
                secret: r.try_get(14)?,
            });
        }
        let due = crate::webhook::cap_per_subscription(due, limit, per_subscription_max);
        let seqs: Vec<i64> = due.iter().map(|d| d.delivery.seq).collect();
        tx.execute(
            "UPDATE webhook_deliveries SET next_attempt_at = $2 WHERE seq = ANY($1)",
            &[&seqs, &lease_until.nanos()],
        )
        .await?;
        tx.commit().await?;
        Ok(due)
    }

    async fn webhook_settle(&self, results: &[AttemptResult]) -> anyhow::Result<()> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        for result in results {
            let a = &result.attempt;
            tx.execute(
                &format!(
                    "INSERT INTO webhook_attempts ({}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
                    &ATTEMPT_COLUMNS["seq, ".len()..]
                ),
                &[
                    &a.subscription_id,
                    &a.event_id,
                    &a.attempt,
                    &a.at.nanos(),
                    &a.status_code,
                    &a.latency_ms,
                    &a.outcome,
                    &a.error,
                    &a.response_snippet,
                ],
            )
            .await
            .context("log a webhook attempt")?;
            let (status, next) = match &result.settles {
                AttemptSettles::Delivered => ("delivered", a.at),
                AttemptSettles::Retry(at) => ("pending", *at),
                AttemptSettles::GaveUp => ("failed", a.at),
            };
            let settled = tx
                .execute(
                    "UPDATE webhook_deliveries SET status = $3, attempts = attempts + 1, next_attempt_at = $4,
                     last_attempt_at = $5, last_status_code = $6 WHERE subscription_id = $1 AND event_id = $2
                     AND status = 'pending' AND next_attempt_at = $7",
                    &[
                        &a.subscription_id,
                        &a.event_id,
                        &status,
                        &next.nanos(),
                        &a.at.nanos(),
                        &a.status_code,
                        &result.lease_until.nanos(),
                    ],
                )
                .await?;
            if settled == 0 {
                // The lease ran out and another round took the delivery over: its settle counts.
                continue;
            }
            if result.settles == AttemptSettles::GaveUp {
                tx.execute(
                    "UPDATE webhook_subscriptions SET status = 'disabled', disabled_reason = 'failing',
                     updated_at = $2 WHERE id = $1",
                    &[&a.subscription_id, &a.at.nanos()],
                )
                .await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }

    async fn webhook_deliveries(
        &self,
        subscription_id: &str,
        before: Option<i64>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredDelivery>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                &format!(
                    "SELECT {DELIVERY_COLUMNS} FROM webhook_deliveries d JOIN webhook_events e ON e.id = d.event_id
                     WHERE d.subscription_id = $1 AND d.seq < $2 ORDER BY d.seq DESC LIMIT $3"
                ),
                &[&subscription_id, &before.unwrap_or(i64::MAX), &i64::from(limit)],
            )
            .await
            .context("list webhook deliveries")?;
        rows.iter().map(delivery_row).collect()
    }

    async fn webhook_attempts(
        &self,
        subscription_id: &str,
        event_id: Option<&str>,
        before: Option<i64>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredAttempt>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                &format!(
                    "SELECT {ATTEMPT_COLUMNS} FROM webhook_attempts
                     WHERE subscription_id = $1 AND ($2::text IS NULL OR event_id = $2) AND seq < $3
                     ORDER BY seq DESC LIMIT $4"
                ),
                &[&subscription_id, &event_id, &before.unwrap_or(i64::MAX), &i64::from(limit)],
            )
            .await
            .context("list webhook attempts")?;
        rows.iter().map(attempt_row).collect()
    }

    async fn webhook_resend(&self, subscription_id: &str, event_id: &str, now: Timestamp) -> anyhow::Result<bool> {
        let conn = self.inner.general.get().await?;
        let changed = conn
            .client
            .execute(
                "UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = $3
                 WHERE subscription_id = $1 AND event_id = $2",
                &[&subscription_id, &event_id, &now.nanos()],
            )
            .await?;
        Ok(changed == 1)
    }

    async fn webhook_signing_key(&self, candidate: &[u8]) -> anyhow::Result<Vec<u8>> {
        let conn = self.inner.general.get().await?;
        conn.client
            .execute(
                "INSERT INTO webhook_signing_key (id, seed, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING",
                &[&candidate, &crate::now_nanos()],
            )
            .await?;
        let row = conn.client.query_one("SELECT seed FROM webhook_signing_key WHERE id = 1", &[]).await?;
        Ok(row.try_get(0)?)
    }

    async fn webhook_signing_key_replace(&self, old: &[u8], new: &[u8]) -> anyhow::Result<bool> {
        let conn = self.inner.general.get().await?;
        let n = conn
            .client
            .execute("UPDATE webhook_signing_key SET seed = $2 WHERE id = 1 AND seed = $1", &[&old, &new])
            .await?;
        if n == 1 {
            // The old row version stays in the table's file until vacuumed: VACUUM FULL writes the
            // one-row table anew (once per upgrade or data key rotation).
            conn.client
                .batch_execute("VACUUM FULL webhook_signing_key")
                .await
                .context("failed to VACUUM FULL the webhook signing key")?;
        }
        Ok(n == 1)
    }

    async fn webhook_prune(&self, before: Timestamp, limit: u32) -> anyhow::Result<u64> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        let candidates: Vec<String> = tx
            .query(
                "SELECT e.id FROM webhook_events e WHERE e.created_at < $1
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id AND d.status <> 'delivered')
                 ORDER BY e.created_at LIMIT $2",
                &[&before.nanos(), &i64::from(limit)],
            )
            .await
            .context("find the webhook events to prune")?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        if candidates.is_empty() {
            return Ok(0);
        }
        // Each delete checks again under the rows' locks: a delivery sent again (made pending) since
        // the candidates were read is kept, and so is its event.
        tx.execute("DELETE FROM webhook_deliveries WHERE event_id = ANY($1) AND status = 'delivered'", &[&candidates])
            .await?;
        let deleted: Vec<String> = tx
            .query(
                "DELETE FROM webhook_events e WHERE e.id = ANY($1)
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id) RETURNING e.id",
                &[&candidates],
            )
            .await?
            .iter()
            .map(|r| r.try_get(0))
            .collect::<Result<_, _>>()?;
        tx.execute("DELETE FROM webhook_attempts WHERE event_id = ANY($1)", &[&deleted]).await?;
        tx.commit().await?;
        Ok(deleted.len() as u64)
    }

    async fn monitor_create(&self, monitor: &StoredMonitor, per_client_max: u32) -> anyhow::Result<bool> {
        let m = monitor;
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        // One client's creations are taken in turn, so that two at once cannot both pass the count.
        tx.execute("SELECT pg_advisory_xact_lock(hashtext('sanhu balance monitor ' || $1::text))", &[&m.client_id])
            .await?;
        let count: i64 = tx
            .query_one("SELECT count(*) FROM balance_monitors WHERE client_id = $1", &[&m.client_id])
            .await?
            .try_get(0)?;
        if count >= i64::from(per_client_max) {
            return Ok(false);
        }
        tx.execute(
            &format!(
                "INSERT INTO balance_monitors ({MONITOR_COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
            ),
            &[
                &m.id,
                &m.client_id,
                &m.bound_member,
                &m.target_kind,
                &m.target,
                &m.field,
                &m.op,
                &m.amount,
                &m.description,
                &m.status,
                &m.created_at.nanos(),
                &m.updated_at.nanos(),
            ],
        )
        .await
        .context("keep a balance monitor")?;
        tx.commit().await?;
        Ok(true)
    }

    async fn monitor_get(&self, id: &str) -> anyhow::Result<Option<StoredMonitor>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_opt(&format!("SELECT {MONITOR_COLUMNS} FROM balance_monitors WHERE id = $1"), &[&id])
            .await?;
        row.as_ref().map(monitor_row).transpose()
    }

    async fn monitors_of_client(
        &self,
        client_id: &str,
        after: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<StoredMonitor>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                &format!(
                    "SELECT {MONITOR_COLUMNS} FROM balance_monitors WHERE client_id = $1 AND id > $2 ORDER BY id LIMIT $3"
                ),
                &[&client_id, &after.unwrap_or(""), &i64::from(limit)],
            )
            .await?;
        rows.iter().map(monitor_row).collect()
    }

    async fn monitors_active(&self) -> anyhow::Result<Vec<StoredMonitor>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                &format!(
                    "SELECT {MONITOR_COLUMNS} FROM balance_monitors m WHERE status = 'active'
                     AND NOT EXISTS (SELECT 1 FROM api_clients a WHERE a.id = m.client_id AND a.revoked_at IS NOT NULL)
                     ORDER BY id"
                ),
                &[],
            )
            .await?;
        rows.iter().map(monitor_row).collect()
    }

    async fn monitor_set_status(&self, id: &str, status: &str, at: Timestamp) -> anyhow::Result<bool> {
        let conn = self.inner.general.get().await?;
        let n = conn
            .client
            .execute(
                "UPDATE balance_monitors SET status = $2, updated_at = $3 WHERE id = $1",
                &[&id, &status, &at.nanos()],
            )
            .await?;
        Ok(n == 1)
    }

    async fn monitor_resume(&self, id: &str, at: Timestamp) -> anyhow::Result<bool> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        let n = tx
            .execute(
                "UPDATE balance_monitors SET status = 'active', updated_at = $2 WHERE id = $1 AND status = 'disabled'",
                &[&id, &at.nanos()],
            )
            .await?;
        if n == 1 {
            tx.execute("DELETE FROM balance_monitor_states WHERE monitor_id = $1", &[&id]).await?;
        }
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn monitor_delete(&self, id: &str) -> anyhow::Result<bool> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        tx.execute("DELETE FROM balance_monitor_states WHERE monitor_id = $1", &[&id]).await?;
        let n = tx.execute("DELETE FROM balance_monitors WHERE id = $1", &[&id]).await?;
        tx.commit().await?;
        Ok(n == 1)
    }

    async fn monitor_states(&self, account_id: &str) -> anyhow::Result<Vec<MonitorState>> {
        let conn = self.inner.general.get().await?;
        let rows = conn
            .client
            .query(
                "SELECT monitor_id, account_id, beyond, last_at FROM balance_monitor_states WHERE account_id = $1",
                &[&account_id],
            )
            .await?;
        rows.iter()
            .map(|r| {
                Ok(MonitorState {
                    monitor_id: r.try_get(0)?,
                    account_id: r.try_get(1)?,
                    beyond: r.try_get(2)?,
                    last_at: Timestamp::from_nanos(r.try_get(3)?),
                })
            })
            .collect()
    }

    async fn monitor_advance(
        &self,
        before: Option<&MonitorState>,
        after: &MonitorState,
        events: &[StoredEvent],
        deliveries: &[(String, String)],
    ) -> anyhow::Result<bool> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        let moved = match before {
            Some(b) => {
                tx.execute(
                    "UPDATE balance_monitor_states SET beyond = $3, last_at = $4
                     WHERE monitor_id = $1 AND account_id = $2 AND last_at = $5",
                    &[&after.monitor_id, &after.account_id, &after.beyond, &after.last_at.nanos(), &b.last_at.nanos()],
                )
                .await?
            }
            None => {
                tx.execute(
                    "INSERT INTO balance_monitor_states (monitor_id, account_id, beyond, last_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (monitor_id, account_id) DO NOTHING",
                    &[&after.monitor_id, &after.account_id, &after.beyond, &after.last_at.nanos()],
                )
                .await?
            }
        };
        if moved != 1 {
            return Ok(false);
        }
        insert_events(&tx, events, deliveries).await?;
        tx.commit().await?;
        Ok(true)
    }
}
