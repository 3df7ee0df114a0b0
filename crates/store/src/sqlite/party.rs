//! The three-party records on SQLite (see `crate::party`). Reads run on a reader connection, each in
//! one statement or one read transaction, so one snapshot. A write runs on the writer connection in a
//! `BEGIN IMMEDIATE` transaction: SQLite has one writer at a time, so nothing changes between checking
//! a record's version (or a key's owner) and writing. The writer connection is also the ledger's, so a
//! write that changes an account's flags evicts the account from the writer's cache.

use std::rc::Rc;

use anyhow::Context;
use rusqlite::types::Value;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use sanhu_core::Timestamp;

use super::ledger::{insert_accounts, AccountCache};
use super::rows::{account_from_row, ACCOUNTS, ACCOUNT_COLUMNS};
use super::{in_read_transaction, SqliteStore};
use crate::party::{
    check_write, claims_in_key_order, counters_in_key_order, ChangeQuery, PartyChange, PartyConflict, PartyKey,
    PartyRecord, PartyStore, PartyWrite, WriteStop,
};

const RECORD_COLUMNS: &str = "id, kind, customer_id, version, data, created_at, updated_at";
const CHANGE_COLUMNS: &str = "seq, record_id, customer_id, action, actor, reason, detail, at";

impl PartyStore for SqliteStore {
    async fn party_records(&self, ids: &[String]) -> anyhow::Result<Vec<PartyRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let ids = ids.to_vec();
        // One statement, so one snapshot, whatever the number of ids.
        self.read(move |c| {
            let ids: Rc<Vec<Value>> = Rc::new(ids.into_iter().map(Value::Text).collect());
            let mut statement =
                c.prepare_cached(&format!("SELECT {RECORD_COLUMNS} FROM party_records WHERE id IN rarray(?1)"))?;
            let rows = statement.query_map([ids], record_from_row)?;
            rows.collect::<Result<_, _>>().context("failed to read party records by id")
        })
        .await
    }

    async fn party_records_of_customer(
        &self,
        customer_id: &str,
        kind: Option<&str>,
    ) -> anyhow::Result<Vec<PartyRecord>> {
        let (customer_id, kind) = (customer_id.to_owned(), kind.map(str::to_owned));
        self.read(move |c| {
            let records = match kind {
                Some(kind) => c
                    .prepare_cached(&format!(
                        "SELECT {RECORD_COLUMNS} FROM party_records WHERE customer_id = ?1 AND kind = ?2 ORDER BY id"
                    ))?
                    .query_map(params![customer_id, kind], record_from_row)?
                    .collect::<Result<_, _>>(),
                None => c
                    .prepare_cached(&format!(
                        "SELECT {RECORD_COLUMNS} FROM party_records WHERE customer_id = ?1 ORDER BY id"
                    ))?
                    .query_map(params![customer_id], record_from_row)?
                    .collect::<Result<_, _>>(),
            };
            records.context("failed to read a customer's party records")
        })
        .await
    }

    async fn party_records_of_customer_after(
        &self,
        customer_id: &str,
        kind: &str,
        after: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<PartyRecord>> {
        let (customer_id, kind, after) = (customer_id.to_owned(), kind.to_owned(), after.unwrap_or("").to_owned());
        self.read(move |c| {
            // "" sorts before every id.
            c.prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM party_records WHERE customer_id = ?1 AND kind = ?2 AND id > ?3 \
                 ORDER BY id LIMIT ?4"
            ))?
            .query_map(params![customer_id, kind, after, limit], record_from_row)?
            .collect::<Result<_, _>>()
            .context("failed to page a customer's party records")
        })
        .await
    }

    async fn party_list(&self, kind: &str, after: Option<&str>, limit: u32) -> anyhow::Result<Vec<PartyRecord>> {
        let (kind, after) = (kind.to_owned(), after.unwrap_or("").to_owned());
        self.read(move |c| {
            // "" sorts before every id.
            c.prepare_cached(&format!(
                "SELECT {RECORD_COLUMNS} FROM party_records WHERE kind = ?1 AND id > ?2 ORDER BY id LIMIT ?3"
            ))?
            .query_map(params![kind, after, limit], record_from_row)?
            .collect::<Result<_, _>>()
            .context("failed to list party records")
        })
        .await
    }

    async fn party_key_owner(&self, key: &PartyKey) -> anyhow::Result<Option<String>> {
        let key = key.clone();
        self.read(move |c| {
            Ok(c.prepare_cached("SELECT owner FROM party_keys WHERE namespace = ?1 AND key = ?2")?
                .query_row(params![key.namespace, key.key], |r| r.get(0))
                .optional()?)
        })
        .await
    }

    async fn party_index(&self, index: &str, key: &str, limit: u32) -> anyhow::Result<Vec<String>> {
        let (index, key) = (index.to_owned(), key.to_owned());
        self.read(move |c| {
            c.prepare_cached(
                "SELECT record_id FROM party_index WHERE name = ?1 AND key = ?2 ORDER BY record_id LIMIT ?3",
            )?
            .query_map(params![index, key, limit], |r| r.get(0))?
            .collect::<Result<_, _>>()
            .context("failed to read a party index")
        })
        .await
    }

    async fn party_index_after(&self, index: &str, key: &str, after: &str, limit: u32) -> anyhow::Result<Vec<String>> {
        let (index, key, after) = (index.to_owned(), key.to_owned(), after.to_owned());
        self.read(move |c| {
            c.prepare_cached(
                "SELECT record_id FROM party_index WHERE name = ?1 AND key = ?2 AND record_id > ?3 \
                 ORDER BY record_id LIMIT ?4",
            )?
            .query_map(params![index, key, after, limit], |r| r.get(0))?
            .collect::<Result<_, _>>()
            .context("failed to read a party index")
        })
        .await
    }

    async fn party_write(&self, write: &PartyWrite) -> anyhow::Result<Result<(), PartyConflict>> {
        check_write(write)?;
        let write = write.clone();
        self.write_ledger(move |c, cache| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            match apply_write(&tx, cache, &write) {
                Ok(()) => {}
                // Dropping the transaction rolls it back: nothing of the write stays.
                Err(WriteStop::Conflict(conflict)) => return Ok(Err(conflict)),
                Err(WriteStop::Failed(error)) => return Err(error.context("failed to apply a party write")),
            }
            tx.commit().context("failed to commit a party write")?;
            Ok(Ok(()))
        })
        .await
    }

    async fn party_counter(&self, key: &str) -> anyhow::Result<i64> {
        let key = key.to_owned();
        self.read(move |c| {
            Ok(c.prepare_cached("SELECT total FROM party_counters WHERE key = ?1")?
                .query_row(params![key], |r| r.get(0))
                .optional()?
                .unwrap_or(0))
        })
        .await
    }

    async fn party_changes(&self, query: &ChangeQuery) -> anyhow::Result<Vec<PartyChange>> {
        let q = query.clone();
        self.read(move |c| {
            in_read_transaction(c, |c| {
                let changes = match (&q.record_id, &q.customer_id) {
                    (Some(record), Some(customer)) => c
                        .prepare_cached(&format!(
                            "SELECT {CHANGE_COLUMNS} FROM party_changes
                              WHERE record_id = ?1 AND customer_id = ?2 AND seq > ?3 ORDER BY seq LIMIT ?4"
                        ))?
                        .query_map(params![record, customer, q.after_seq, q.limit], change_from_row)?
                        .collect::<Result<_, _>>(),
                    (Some(record), None) => c
                        .prepare_cached(&format!(
                            "SELECT {CHANGE_COLUMNS} FROM party_changes
                              WHERE record_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
                        ))?
                        .query_map(params![record, q.after_seq, q.limit], change_from_row)?
                        .collect::<Result<_, _>>(),
                    (None, Some(customer)) => c
                        .prepare_cached(&format!(
                            "SELECT {CHANGE_COLUMNS} FROM party_changes
                              WHERE customer_id = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
                        ))?
                        .query_map(params![customer, q.after_seq, q.limit], change_from_row)?
                        .collect::<Result<_, _>>(),
                    (None, None) => c
                        .prepare_cached(&format!(
                            "SELECT {CHANGE_COLUMNS} FROM party_changes WHERE seq > ?1 ORDER BY seq LIMIT ?2"
                        ))?
                        .query_map(params![q.after_seq, q.limit], change_from_row)?
                        .collect::<Result<_, _>>(),
                };
                changes.context("failed to read party changes")
            })
        })
        .await
    }

    async fn party_rewrite_change_detail(&self, seq: i64, detail: &str) -> anyhow::Result<bool> {
        let detail = detail.to_owned();
        self.write_ledger(move |c, _| {
            let changed = c
                .prepare_cached("UPDATE party_changes SET detail = ?1 WHERE seq = ?2")?
                .execute(params![detail, seq])
                .context("failed to rewrite a party change")?;
            Ok(changed == 1)
        })
        .await
    }

    async fn party_erase_freed_space(&self) -> anyhow::Result<()> {
        // On the writer connection, which no transaction holds between writes. VACUUM copies the live
        // rows into a new file; the checkpoint then writes it back and empties the WAL, which held the
        // pages as they were.
        self.write_ledger(|c, _| {
            c.execute_batch("VACUUM").context("failed to VACUUM the database")?;
            c.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
                .context("failed to checkpoint the WAL after VACUUM")?;
            Ok(())
        })
        .await
    }
}

/// Applies `write` inside the writer's transaction `c`, stopping at the first conflict. The order is
/// the one documented on [`PartyWrite`]: records, released keys, claimed keys, lookups removed then
/// added, history, new ledger accounts, ledger flags.
fn apply_write(c: &Connection, cache: &mut AccountCache, write: &PartyWrite) -> Result<(), WriteStop> {
    for w in &write.records {
        let r = &w.record;
        let written = if w.expected_version == 0 {
            c.prepare_cached(
                "INSERT INTO party_records (id, kind, customer_id, version, data, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (id) DO NOTHING",
            )?
            .execute(params![
                r.id,
                r.kind,
                r.customer_id,
                r.version,
                r.data,
                r.created_at.nanos(),
                r.updated_at.nanos()
            ])?
        } else {
            c.prepare_cached(
                "UPDATE party_records SET kind = ?1, customer_id = ?2, version = ?3, data = ?4, updated_at = ?5
                  WHERE id = ?6 AND version = ?7",
            )?
            .execute(params![
                r.kind,
                r.customer_id,
                r.version,
                r.data,
                r.updated_at.nanos(),
                r.id,
                w.expected_version
            ])?
        };
        if written == 0 {
            return Err(WriteStop::Conflict(PartyConflict::RecordChanged { id: r.id.clone() }));
        }
    }

    for (key, owner) in &write.release_keys {
        c.prepare_cached("DELETE FROM party_keys WHERE namespace = ?1 AND key = ?2 AND owner = ?3")?
            .execute(params![key.namespace, key.key, owner])?;
    }
    for (key, owner) in claims_in_key_order(write) {
        let claimed = c
            .prepare_cached(
                "INSERT INTO party_keys (namespace, key, owner) VALUES (?1, ?2, ?3) ON CONFLICT (namespace, key) DO NOTHING",
            )?
            .execute(params![key.namespace, key.key, owner])?;
        if claimed == 0 {
            let holder: String = c
                .prepare_cached("SELECT owner FROM party_keys WHERE namespace = ?1 AND key = ?2")?
                .query_row(params![key.namespace, key.key], |r| r.get(0))?;
            if holder != *owner {
                return Err(WriteStop::Conflict(PartyConflict::KeyTaken { key: key.clone(), owner: holder }));
            }
        }
    }

    for (name, key, record_id) in &write.remove_index {
        c.prepare_cached("DELETE FROM party_index WHERE name = ?1 AND key = ?2 AND record_id = ?3")?
            .execute(params![name, key, record_id])?;
    }
    for (name, key, record_id) in &write.add_index {
        c.prepare_cached("INSERT INTO party_index (name, key, record_id) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING")?
            .execute(params![name, key, record_id])?;
    }

    for change in &write.changes {
        c.prepare_cached(
            "INSERT INTO party_changes (record_id, customer_id, action, actor, reason, detail, at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        )?
        .execute(params![
            change.record_id,
            change.customer_id,
            change.action,
            change.actor,
            change.reason,
            change.detail,
            change.at.nanos()
        ])?;
    }

    insert_accounts(c, &write.ledger_accounts)?;

    for f in &write.ledger_flags {
        let account = c
            .prepare_cached(&format!("SELECT {ACCOUNT_COLUMNS} FROM {ACCOUNTS} WHERE a.id = ?1"))?
            .query_row([f.account_id.to_be_bytes()], account_from_row)
            .optional()?;
        let Some(account) = account else {
            return Err(WriteStop::Conflict(PartyConflict::LedgerAccountMissing { id: f.account_id }));
        };
        if f.closing {
            if let Err(why) = account.check_can_close() {
                return Err(WriteStop::Conflict(PartyConflict::LedgerAccountNotClosable { id: f.account_id, why }));
            }
        }
        c.prepare_cached("UPDATE ledger_accounts SET flags = ?1 WHERE id = ?2")?
            .execute(params![f.flags.bits(), f.account_id.to_be_bytes()])?;
        // Forgotten before committing, as `update_account_flags` does: the next batch reads the new
        // flags from the database (and, should the write roll back, the old ones).
        cache.entries.remove(&f.account_id);
    }

    for counter in counters_in_key_order(write) {
        if counter.limit.is_some_and(|limit| counter.amount > limit) {
            return Err(WriteStop::Conflict(PartyConflict::CounterOverLimit { key: counter.key.clone() }));
        }
        let moved = c
            .prepare_cached(
                "INSERT INTO party_counters (key, total) VALUES (?1, ?2)
                 ON CONFLICT (key) DO UPDATE SET total = total + excluded.total
                  WHERE ?3 IS NULL OR total + excluded.total <= ?3",
            )?
            .execute(params![counter.key, counter.amount, counter.limit])?;
        if moved == 0 {
            return Err(WriteStop::Conflict(PartyConflict::CounterOverLimit { key: counter.key.clone() }));
        }
    }
    Ok(())
}

fn record_from_row(r: &Row) -> rusqlite::Result<PartyRecord> {
    Ok(PartyRecord {
        id: r.get(0)?,
        kind: r.get(1)?,
        customer_id: r.get(2)?,
        version: r.get(3)?,
        data: r.get(4)?,
        created_at: Timestamp::from_nanos(r.get(5)?),
        updated_at: Timestamp::from_nanos(r.get(6)?),
    })
}

fn change_from_row(r: &Row) -> rusqlite::Result<PartyChange> {
    Ok(PartyChange {
        seq: r.get(0)?,
        record_id: r.get(1)?,
        customer_id: r.get(2)?,
        action: r.get(3)?,
        actor: r.get(4)?,
        reason: r.get(5)?,
        detail: r.get(6)?,
        at: Timestamp::from_nanos(r.get(7)?),
    })
}
