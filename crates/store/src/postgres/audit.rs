//! The audit log on PostgreSQL (see `crate::audit`). An append is one READ COMMITTED transaction that
//! first locks the chain's head row (`FOR UPDATE`): an append by another transaction, of this instance
//! or another, holds it until it commits, and the lock then returns the head that one wrote. So every
//! append continues the chain where the last committed one ended, and sequence numbers never repeat or
//! skip. There is one lock, so appends cannot deadlock with each other.

use anyhow::Context;
use sanhu_core::Timestamp;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

use super::PostgresStore;
use crate::audit::{
    chain_after, check_event, target_ids_of, target_ids_text, AuditEvent, AuditHead, AuditQuery, AuditStore,
    NewAuditEvent, VerificationRecord,
};
use crate::IdempotencyAnswer;

const EVENT_COLUMNS: &str =
    "e.seq, e.at, e.actor, e.request_id, e.source, e.method, e.route, e.target_ids, e.status, e.error_code, \
     e.reason, e.changes, e.prev_hash, e.hash";

/// Longest an append waits for the head's lock, in milliseconds. Appends hold it for one short
/// transaction; one that waits longer is behind a transaction that is stuck, and fails (its callers'
/// answers are withheld as `audit_unavailable`) rather than holding every answer with it.
const HEAD_LOCK_TIMEOUT_MS: u32 = 5_000;

const LOCK_HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1 FOR UPDATE";
const READ_HEAD: &str = "SELECT seq, hash FROM audit_head WHERE id = 1";
const UPDATE_HEAD: &str = "UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1";
/// In the given order, which is sequence order.
const INSERT_EVENTS: &str = "INSERT INTO audit_events (seq, at, actor, request_id, source, method, route, \
     target_ids, status, error_code, reason, changes, prev_hash, hash) \
     SELECT * FROM UNNEST($1::int8[], $2::int8[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], \
     $8::text[], $9::int4[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])";
const INSERT_TARGETS: &str = "INSERT INTO audit_targets (target_id, seq) \
     SELECT * FROM UNNEST($1::text[], $2::int8[]) ON CONFLICT DO NOTHING";

impl AuditStore for PostgresStore {
    async fn append_audit(&self, events: Vec<NewAuditEvent>) -> anyhow::Result<Vec<AuditEvent>> {
        self.append_audit_answering(events, Vec::new()).await
    }

    async fn append_audit_answering(
        &self,
        events: Vec<NewAuditEvent>,
        answers: Vec<IdempotencyAnswer>,
    ) -> anyhow::Result<Vec<AuditEvent>> {
        if events.is_empty() && answers.is_empty() {
            return Ok(Vec::new());
        }
        events.iter().try_for_each(check_event)?;
        answers.iter().try_for_each(crate::access::check_answer)?;
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let tx = conn.client.transaction().await?;
        // The answers first: their rows are each request's own, and the head's lock below is then held
        // only for the events.
        super::access::settle_keys(&tx, &mut conn.statements, &answers).await?;
        if events.is_empty() {
            tx.commit().await.context("commit idempotent answers")?;
            return Ok(Vec::new());
        }
        tx.batch_execute(&format!("SET LOCAL lock_timeout = '{HEAD_LOCK_TIMEOUT_MS}ms'")).await?;
        let lock = conn.statements.get(&tx, LOCK_HEAD).await?;
        let head = head_from_row(&tx.query_one(&lock, &[]).await.context("lock the audit chain's head")?)?;
        let (events, head) = chain_after(&head, events);

        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        let ats: Vec<i64> = events.iter().map(|e| e.event.at.nanos()).collect();
        let actors: Vec<&str> = events.iter().map(|e| e.event.actor.as_str()).collect();
        let request_ids: Vec<&str> = events.iter().map(|e| e.event.request_id.as_str()).collect();
        let sources: Vec<Option<&str>> = events.iter().map(|e| e.event.source.as_deref()).collect();
        let methods: Vec<&str> = events.iter().map(|e| e.event.method.as_str()).collect();
        let routes: Vec<&str> = events.iter().map(|e| e.event.route.as_str()).collect();
        let targets: Vec<String> = events.iter().map(|e| target_ids_text(&e.event.target_ids)).collect();
        let statuses: Vec<i32> = events.iter().map(|e| i32::from(e.event.status)).collect();
        let error_codes: Vec<Option<&str>> = events.iter().map(|e| e.event.error_code.as_deref()).collect();
        let reasons: Vec<Option<&str>> = events.iter().map(|e| e.event.reason.as_deref()).collect();
        let changes: Vec<Option<&str>> = events.iter().map(|e| e.event.changes.as_deref()).collect();
        let prev_hashes: Vec<&str> = events.iter().map(|e| e.prev_hash.as_str()).collect();
        let hashes: Vec<&str> = events.iter().map(|e| e.hash.as_str()).collect();
        let insert = conn.statements.get(&tx, INSERT_EVENTS).await?;
        tx.execute(
            &insert,
            &[
                &seqs,
                &ats,
                &actors,
                &request_ids,
                &sources,
                &methods,
                &routes,
                &targets,
                &statuses,
                &error_codes,
                &reasons,
                &changes,
                &prev_hashes,
                &hashes,
            ],
        )
        .await
        .context("insert audit events")?;

        let (target_ids, target_seqs): (Vec<&str>, Vec<i64>) =
            events.iter().flat_map(|e| e.event.target_ids.iter().map(move |id| (id.as_str(), e.seq))).unzip();
        if !target_ids.is_empty() {
            let insert = conn.statements.get(&tx, INSERT_TARGETS).await?;
            tx.execute(&insert, &[&target_ids, &target_seqs]).await.context("insert audit targets")?;
        }
        let update = conn.statements.get(&tx, UPDATE_HEAD).await?;
        tx.execute(&update, &[&head.seq, &head.hash]).await?;
        tx.commit().await.context("commit audit events")?;
        Ok(events)
    }

    async fn audit_events(&self, query: &AuditQuery) -> anyhow::Result<Vec<AuditEvent>> {
        let q = query;
        let mut values: Vec<Box<dyn ToSql + Sync + Send>> = vec![Box::new(q.after_seq)];
        let mut conditions = vec!["e.seq > $1".to_owned()];
        let mut from = "audit_events e";
        if let Some(target) = &q.target_id {
            from = "audit_targets t JOIN audit_events e ON e.seq = t.seq";
            let n = bind(&mut values, Box::new(target.clone()));
            conditions.push(format!("t.target_id = ${n}"));
        }
        for (column, value) in [("e.actor", &q.actor), ("e.route", &q.route), ("e.request_id", &q.request_id)] {
            if let Some(value) = value {
                let n = bind(&mut values, Box::new(value.clone()));
                conditions.push(format!("{column} = ${n}"));
            }
        }
        if let Some(from) = q.from {
            let n = bind(&mut values, Box::new(from.nanos()));
            conditions.push(format!("e.at >= ${n}"));
        }
        if let Some(to) = q.to {
            let n = bind(&mut values, Box::new(to.nanos()));
            conditions.push(format!("e.at < ${n}"));
        }
        let n = bind(&mut values, Box::new(i64::from(q.limit)));
        let sql =
            format!("SELECT {EVENT_COLUMNS} FROM {from} WHERE {} ORDER BY e.seq LIMIT ${n}", conditions.join(" AND "));
        let params: Vec<&(dyn ToSql + Sync)> = values.iter().map(|v| v.as_ref() as &(dyn ToSql + Sync)).collect();
        let conn = self.inner.general.get().await?;
        let rows = conn.client.query(sql.as_str(), &params).await.context("read audit events")?;
        rows.iter().map(event_from_row).collect()
    }

    async fn audit_head(&self) -> anyhow::Result<AuditHead> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, READ_HEAD).await?;
        head_from_row(&conn.client.query_one(&statement, &[]).await.context("read the audit chain's head")?)
    }

    async fn record_verification(&self, record: VerificationRecord) -> anyhow::Result<i64> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_one(
                "INSERT INTO verifications (started_at, finished_at, accounts_checked, transfers_checked, \
                 audit_events_checked, findings, details, ran_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                 RETURNING id",
                &[
                    &record.started_at.nanos(),
                    &record.finished_at.nanos(),
                    &record.accounts_checked,
                    &record.transfers_checked,
                    &record.audit_events_checked,
                    &record.findings,
                    &record.details_json(),
                    &record.ran_by,
                ],
            )
            .await
            .context("record a verification")?;
        Ok(row.try_get(0)?)
    }

    async fn verification(&self, id: Option<i64>) -> anyhow::Result<Option<VerificationRecord>> {
        let conn = self.inner.general.get().await?;
        // The last: the greatest id, at most `id` when one is asked for (then checked below).
        let row = conn
            .client
            .query_opt(
                "SELECT id, started_at, finished_at, accounts_checked, transfers_checked, audit_events_checked, \
                 findings, details, ran_by FROM verifications WHERE id <= $1 ORDER BY id DESC LIMIT 1",
                &[&id.unwrap_or(i64::MAX)],
            )
            .await
            .context("read the latest verification")?;
        let Some(r) = row else { return Ok(None) };
        let details: String = r.try_get(7)?;
        let found: i64 = r.try_get(0)?;
        if id.is_some_and(|id| id != found) {
            return Ok(None);
        }
        Ok(Some(VerificationRecord {
            id: found,
            started_at: Timestamp(r.try_get(1)?),
            finished_at: Timestamp(r.try_get(2)?),
            accounts_checked: r.try_get(3)?,
            transfers_checked: r.try_get(4)?,
            audit_events_checked: r.try_get(5)?,
            findings: r.try_get(6)?,
            details: VerificationRecord::details_of(&details),
            ran_by: r.try_get(8)?,
        }))
    }
}

/// Adds a parameter; its number (`$n`).
fn bind(values: &mut Vec<Box<dyn ToSql + Sync + Send>>, value: Box<dyn ToSql + Sync + Send>) -> usize {
    values.push(value);
    values.len()
}

fn head_from_row(row: &Row) -> anyhow::Result<AuditHead> {
    Ok(AuditHead { seq: row.try_get(0)?, hash: row.try_get(1)? })
}

fn event_from_row(row: &Row) -> anyhow::Result<AuditEvent> {
    let seq: i64 = row.try_get(0)?;
    let status: i32 = row.try_get(8)?;
    let target_ids: String = row.try_get(7)?;
    Ok(AuditEvent {
        seq,
        event: NewAuditEvent {
            at: Timestamp(row.try_get(1)?),
            actor: row.try_get(2)?,
            request_id: row.try_get(3)?,
            source: row.try_get(4)?,
            method: row.try_get(5)?,
            route: row.try_get(6)?,
            target_ids: target_ids_of(&target_ids),
            status: u16::try_from(status).with_context(|| format!("audit event {seq} has status {status}"))?,
            error_code: row.try_get(9)?,
            reason: row.try_get(10)?,
            changes: row.try_get(11)?,
        },
        prev_hash: row.try_get(12)?,
        hash: row.try_get(13)?,
    })
}
