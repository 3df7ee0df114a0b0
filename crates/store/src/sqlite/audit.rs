//! The audit log on SQLite (see `crate::audit`). An append runs on the writer connection in a
//! `BEGIN IMMEDIATE` transaction: SQLite has one writer at a time, so the head read at its start is
//! still the head when the events and the new head are written. It is the ledger's writer connection
//! too, so that an append is not another connection's commit, which would empty the writer's account
//! cache (see `AccountCache::check`).

use anyhow::Context;
use rusqlite::types::Value;
use rusqlite::{params, Connection, Row, TransactionBehavior};
use sanhu_core::Timestamp;

use super::{in_read_transaction, SqliteStore};
use crate::audit::{
    chain_after, check_event, target_ids_of, target_ids_text, AuditEvent, AuditHead, AuditQuery, AuditStore,
    NewAuditEvent, VerificationRecord,
};
use crate::IdempotencyAnswer;

const EVENT_COLUMNS: &str =
    "e.seq, e.at, e.actor, e.request_id, e.source, e.method, e.route, e.target_ids, e.status, e.error_code, \
     e.reason, e.changes, e.prev_hash, e.hash";

impl AuditStore for SqliteStore {
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
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            for answer in &answers {
                super::access::settle_key(&tx, answer)?;
            }
            let head = read_head(&tx)?;
            let (events, head) = chain_after(&head, events);
            insert_events(&tx, &events)?;
            tx.prepare_cached("UPDATE audit_head SET seq = ?1, hash = ?2 WHERE id = 1")?
                .execute(params![head.seq, head.hash])?;
            tx.commit().context("failed to commit audit events")?;
            Ok(events)
        })
        .await
    }

    async fn audit_events(&self, query: &AuditQuery) -> anyhow::Result<Vec<AuditEvent>> {
        let q = query.clone();
        self.read(move |c| {
            let mut conditions = vec!["e.seq > ?".to_owned()];
            let mut values: Vec<Value> = vec![Value::Integer(q.after_seq)];
            let mut from = "audit_events e".to_owned();
            if let Some(target) = q.target_id {
                from = "audit_targets t JOIN audit_events e ON e.seq = t.seq".to_owned();
                conditions.push("t.target_id = ?".to_owned());
                values.push(Value::Text(target));
            }
            for (column, value) in [("e.actor", q.actor), ("e.route", q.route), ("e.request_id", q.request_id)] {
                if let Some(value) = value {
                    conditions.push(format!("{column} = ?"));
                    values.push(Value::Text(value));
                }
            }
            if let Some(from) = q.from {
                conditions.push("e.at >= ?".to_owned());
                values.push(Value::Integer(from.nanos()));
            }
            if let Some(to) = q.to {
                conditions.push("e.at < ?".to_owned());
                values.push(Value::Integer(to.nanos()));
            }
            values.push(Value::Integer(i64::from(q.limit)));
            let sql =
                format!("SELECT {EVENT_COLUMNS} FROM {from} WHERE {} ORDER BY e.seq LIMIT ?", conditions.join(" AND "));
            let mut statement = c.prepare_cached(&sql)?;
            let rows = statement.query_map(rusqlite::params_from_iter(values), event_from_row)?;
            rows.collect::<Result<_, _>>().context("failed to read audit events")
        })
        .await
    }

    async fn audit_head(&self) -> anyhow::Result<AuditHead> {
        self.read(|c| in_read_transaction(c, read_head)).await
    }

    async fn record_verification(&self, record: VerificationRecord) -> anyhow::Result<i64> {
        self.write(move |c| {
            c.prepare_cached(
                "INSERT INTO verifications (started_at, finished_at, accounts_checked, transfers_checked, \
                 audit_events_checked, findings, details, ran_by) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            )?
            .execute(params![
                record.started_at.nanos(),
                record.finished_at.nanos(),
                record.accounts_checked,
                record.transfers_checked,
                record.audit_events_checked,
                record.findings,
                record.details_json(),
                record.ran_by,
            ])
            .context("failed to record a verification")?;
            Ok(c.last_insert_rowid())
        })
        .await
    }

    async fn verification(&self, id: Option<i64>) -> anyhow::Result<Option<VerificationRecord>> {
        self.read(move |c| {
            // The last: the greatest id, at most `id` when one is asked for (then checked below).
            let mut statement = c.prepare_cached(
                "SELECT id, started_at, finished_at, accounts_checked, transfers_checked, audit_events_checked, \
                 findings, details, ran_by FROM verifications WHERE id <= ?1 ORDER BY id DESC LIMIT 1",
            )?;
            let mut rows = statement.query([id.unwrap_or(i64::MAX)])?;
            let Some(r) = rows.next()? else { return Ok(None) };
            let details: String = r.get(7)?;
            let found: i64 = r.get(0)?;
            if id.is_some_and(|id| id != found) {
                return Ok(None);
            }
            Ok(Some(VerificationRecord {
                id: found,
                started_at: Timestamp::from_nanos(r.get(1)?),
                finished_at: Timestamp::from_nanos(r.get(2)?),
                accounts_checked: r.get(3)?,
                transfers_checked: r.get(4)?,
                audit_events_checked: r.get(5)?,
                findings: r.get(6)?,
                details: VerificationRecord::details_of(&details),
                ran_by: r.get(8)?,
            }))
        })
        .await
    }
}

fn read_head(c: &Connection) -> anyhow::Result<AuditHead> {
    c.prepare_cached("SELECT seq, hash FROM audit_head WHERE id = 1")?
        .query_row([], |r| Ok(AuditHead { seq: r.get(0)?, hash: r.get(1)? }))
        .context("failed to read the audit chain's head")
}

fn insert_events(c: &Connection, events: &[AuditEvent]) -> anyhow::Result<()> {
    let mut insert = c.prepare_cached(
        "INSERT INTO audit_events (seq, at, actor, request_id, source, method, route, target_ids, status, \
         error_code, reason, changes, prev_hash, hash) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14)",
    )?;
    let mut target = c.prepare_cached("INSERT OR IGNORE INTO audit_targets (target_id, seq) VALUES (?1, ?2)")?;
    for stored in events {
        let e = &stored.event;
        insert.execute(params![
            stored.seq,
            e.at.nanos(),
            e.actor,
            e.request_id,
            e.source,
            e.method,
            e.route,
            target_ids_text(&e.target_ids),
            e.status,
            e.error_code,
            e.reason,
            e.changes,
            stored.prev_hash,
            stored.hash
        ])?;
        for id in &e.target_ids {
            target.execute(params![id, stored.seq])?;
        }
    }
    Ok(())
}

fn event_from_row(r: &Row) -> rusqlite::Result<AuditEvent> {
    let target_ids: String = r.get(7)?;
    Ok(AuditEvent {
        seq: r.get(0)?,
        event: NewAuditEvent {
            at: Timestamp::from_nanos(r.get(1)?),
            actor: r.get(2)?,
            request_id: r.get(3)?,
            source: r.get(4)?,
            method: r.get(5)?,
            route: r.get(6)?,
            target_ids: target_ids_of(&target_ids),
            status: r.get(8)?,
            error_code: r.get(9)?,
            reason: r.get(10)?,
            changes: r.get(11)?,
        },
        prev_hash: r.get(12)?,
        hash: r.get(13)?,
    })
}
