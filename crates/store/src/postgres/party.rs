//! The three-party records on PostgreSQL (see `crate::party`). Reads are one statement each, so one
//! snapshot. A write is one READ COMMITTED transaction that takes what it depends on before deciding:
//! the rows of the records it updates (`FOR UPDATE`, in id order), its keys (a claim is an insert that
//! waits for any other transaction inserting the same key), and the rows of the ledger accounts whose
//! flags it sets (`FOR UPDATE`, in id order, as a ledger batch locks them). Several sanhu instances may
//! share the database, so a write that loses a race on a lock (a deadlock, a serialization failure) is
//! tried again whole, and then sees what the winner committed.

use std::collections::HashMap;

use anyhow::Context;
use sanhu_core::ledger::Account;
use sanhu_core::{AccountId, Timestamp};
use tokio_postgres::error::SqlState;
use tokio_postgres::{Row, Transaction};
use uuid::Uuid;

use super::ledger::{insert_account_rows, retry_backoff};
use super::pool::{Conn, Statements};
use super::rows::{account_columns, account_from_row, uuid};
use super::PostgresStore;
use crate::party::{
    check_write, claims_in_key_order, counters_in_key_order, ChangeQuery, PartyChange, PartyConflict, PartyKey,
    PartyRecord, PartyStore, PartyWrite, WriteStop,
};

/// How many times a write that lost a race with another transaction is tried in all.
const WRITE_TRIES: u32 = 10;
/// How many times a claim looks again for a key's holder that released it between the claim's insert
/// and its look-up, before the write is failed.
const CLAIM_TRIES: u32 = 3;

macro_rules! record_columns {
    () => {
        "id, kind, customer_id, version, data, created_at, updated_at"
    };
}

macro_rules! change_columns {
    () => {
        "seq, record_id, customer_id, action, actor, reason, detail, at"
    };
}

const RECORDS_BY_ID: &str = concat!("SELECT ", record_columns!(), " FROM party_records WHERE id = ANY($1)");
const RECORDS_OF_CUSTOMER: &str =
    concat!("SELECT ", record_columns!(), " FROM party_records WHERE customer_id = $1 ORDER BY id");
const RECORDS_OF_CUSTOMER_AND_KIND: &str =
    concat!("SELECT ", record_columns!(), " FROM party_records WHERE customer_id = $1 AND kind = $2 ORDER BY id");
const RECORDS_OF_KIND: &str =
    concat!("SELECT ", record_columns!(), " FROM party_records WHERE kind = $1 AND id > $2 ORDER BY id LIMIT $3");
const RECORDS_OF_CUSTOMER_AND_KIND_AFTER: &str = concat!(
    "SELECT ",
    record_columns!(),
    " FROM party_records WHERE customer_id = $1 AND kind = $2 AND id > $3 ORDER BY id LIMIT $4"
);
const KEY_OWNER: &str = "SELECT owner FROM party_keys WHERE namespace = $1 AND key = $2";
const INDEX_LOOKUP: &str = "SELECT record_id FROM party_index WHERE name = $1 AND key = $2 ORDER BY record_id LIMIT $3";
const INDEX_LOOKUP_AFTER: &str = "SELECT record_id FROM party_index WHERE name = $1 AND key = $2 AND record_id > $3 \
                                  ORDER BY record_id LIMIT $4";
const CHANGES_OF_RECORD_AND_CUSTOMER: &str = concat!(
    "SELECT ",
    change_columns!(),
    " FROM party_changes WHERE record_id = $1 AND customer_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"
);
const CHANGES_OF_RECORD: &str = concat!(
    "SELECT ",
    change_columns!(),
    " FROM party_changes WHERE record_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
);
const CHANGES_OF_CUSTOMER: &str = concat!(
    "SELECT ",
    change_columns!(),
    " FROM party_changes WHERE customer_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
);
const CHANGES: &str = concat!("SELECT ", change_columns!(), " FROM party_changes WHERE seq > $1 ORDER BY seq LIMIT $2");

const COUNTER: &str = "SELECT total FROM party_counters WHERE key = $1";
/// Adds to a counter, unless a limit is given and the total would pass it (then nothing is moved and
/// no row is answered). The row's lock orders concurrent additions; each sees the last committed total.
const ADD_TO_COUNTER: &str = "INSERT INTO party_counters AS c (key, total) VALUES ($1, $2) \
     ON CONFLICT (key) DO UPDATE SET total = c.total + EXCLUDED.total \
     WHERE $3::bigint IS NULL OR c.total + EXCLUDED.total <= $3::bigint";
const LOCK_RECORDS: &str = "SELECT id, version FROM party_records WHERE id = ANY($1) ORDER BY id FOR UPDATE";
const INSERT_RECORD: &str = "INSERT INTO party_records (id, kind, customer_id, version, data, created_at, updated_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING";
const UPDATE_RECORD: &str = "UPDATE party_records SET kind = $2, customer_id = $3, version = $4, data = $5, \
     updated_at = $6 WHERE id = $1";
const RELEASE_KEYS: &str = "DELETE FROM party_keys k USING UNNEST($1::text[], $2::text[], $3::text[]) \
     AS v(namespace, key, owner) WHERE k.namespace = v.namespace AND k.key = v.key AND k.owner = v.owner";
const CLAIM_KEY: &str =
    "INSERT INTO party_keys (namespace, key, owner) VALUES ($1, $2, $3) ON CONFLICT (namespace, key) DO NOTHING";
const REMOVE_INDEX: &str = "DELETE FROM party_index i USING UNNEST($1::text[], $2::text[], $3::text[]) \
     AS v(name, key, record_id) WHERE i.name = v.name AND i.key = v.key AND i.record_id = v.record_id";
/// In key order, so that two writes adding the same lookups wait for each other rather than deadlock.
const ADD_INDEX: &str = "INSERT INTO party_index (name, key, record_id) \
     SELECT name, key, record_id FROM UNNEST($1::text[], $2::text[], $3::text[]) AS v(name, key, record_id) \
     ORDER BY name, key, record_id ON CONFLICT DO NOTHING";
/// In the write's order, so that the seqs are too.
const INSERT_CHANGES: &str = "INSERT INTO party_changes (record_id, customer_id, action, actor, reason, detail, at) \
     SELECT record_id, customer_id, action, actor, reason, detail, at \
     FROM UNNEST($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int8[]) \
     WITH ORDINALITY AS v(record_id, customer_id, action, actor, reason, detail, at, n) ORDER BY n";
const LOCK_ACCOUNTS: &str =
    concat!("SELECT ", account_columns!(), " FROM ledger_accounts WHERE id = ANY($1::uuid[]) ORDER BY id FOR UPDATE");
const UPDATE_ACCOUNT_FLAGS: &str = "UPDATE ledger_accounts SET flags = $2 WHERE id = $1";

impl PartyStore for PostgresStore {
    async fn party_records(&self, ids: &[String]) -> anyhow::Result<Vec<PartyRecord>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, RECORDS_BY_ID).await?;
        let rows = conn.client.query(&statement, &[&ids]).await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn party_records_of_customer(
        &self,
        customer_id: &str,
        kind: Option<&str>,
    ) -> anyhow::Result<Vec<PartyRecord>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let rows = match kind {
            Some(kind) => {
                let statement = conn.statements.get(&conn.client, RECORDS_OF_CUSTOMER_AND_KIND).await?;
                conn.client.query(&statement, &[&customer_id, &kind]).await?
            }
            None => {
                let statement = conn.statements.get(&conn.client, RECORDS_OF_CUSTOMER).await?;
                conn.client.query(&statement, &[&customer_id]).await?
            }
        };
        rows.iter().map(record_from_row).collect()
    }

    async fn party_records_of_customer_after(
        &self,
        customer_id: &str,
        kind: &str,
        after: Option<&str>,
        limit: u32,
    ) -> anyhow::Result<Vec<PartyRecord>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, RECORDS_OF_CUSTOMER_AND_KIND_AFTER).await?;
        // "" sorts before every id.
        let rows =
            conn.client.query(&statement, &[&customer_id, &kind, &after.unwrap_or(""), &i64::from(limit)]).await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn party_list(&self, kind: &str, after: Option<&str>, limit: u32) -> anyhow::Result<Vec<PartyRecord>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, RECORDS_OF_KIND).await?;
        // "" sorts before every id.
        let rows = conn.client.query(&statement, &[&kind, &after.unwrap_or(""), &i64::from(limit)]).await?;
        rows.iter().map(record_from_row).collect()
    }

    async fn party_key_owner(&self, key: &PartyKey) -> anyhow::Result<Option<String>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, KEY_OWNER).await?;
        let row = conn.client.query_opt(&statement, &[&key.namespace, &key.key]).await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?)
    }

    async fn party_index(&self, index: &str, key: &str, limit: u32) -> anyhow::Result<Vec<String>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, INDEX_LOOKUP).await?;
        let rows = conn.client.query(&statement, &[&index, &key, &i64::from(limit)]).await?;
        Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
    }

    async fn party_index_after(&self, index: &str, key: &str, after: &str, limit: u32) -> anyhow::Result<Vec<String>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, INDEX_LOOKUP_AFTER).await?;
        let rows = conn.client.query(&statement, &[&index, &key, &after, &i64::from(limit)]).await?;
        Ok(rows.iter().map(|r| r.try_get(0)).collect::<Result<_, _>>()?)
    }

    async fn party_write(&self, write: &PartyWrite) -> anyhow::Result<Result<(), PartyConflict>> {
        check_write(write)?;
        let mut tries = 0;
        loop {
            tries += 1;
            let mut conn = self.inner.general.get().await?;
            match write_once(&mut conn, write).await {
                Ok(()) => return Ok(Ok(())),
                Err(WriteStop::Conflict(conflict)) => return Ok(Err(conflict)),
                Err(WriteStop::Failed(error)) if tries < WRITE_TRIES && lost_a_race(&error) => {
                    drop(conn);
                    tracing::debug!(%error, tries, "a party write lost a race; trying again");
                    tokio::time::sleep(retry_backoff(tries)).await;
                }
                Err(WriteStop::Failed(error)) => return Err(error.context("apply a party write")),
            }
        }
    }

    async fn party_counter(&self, key: &str) -> anyhow::Result<i64> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let statement = conn.statements.get(&conn.client, COUNTER).await?;
        let row = conn.client.query_opt(&statement, &[&key]).await?;
        Ok(row.map(|r| r.try_get(0)).transpose()?.unwrap_or(0))
    }

    async fn party_changes(&self, query: &ChangeQuery) -> anyhow::Result<Vec<PartyChange>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let (after, limit) = (query.after_seq, i64::from(query.limit));
        let rows = match (&query.record_id, &query.customer_id) {
            (Some(record), Some(customer)) => {
                let statement = conn.statements.get(&conn.client, CHANGES_OF_RECORD_AND_CUSTOMER).await?;
                conn.client.query(&statement, &[record, customer, &after, &limit]).await?
            }
            (Some(record), None) => {
                let statement = conn.statements.get(&conn.client, CHANGES_OF_RECORD).await?;
                conn.client.query(&statement, &[record, &after, &limit]).await?
            }
            (None, Some(customer)) => {
                let statement = conn.statements.get(&conn.client, CHANGES_OF_CUSTOMER).await?;
                conn.client.query(&statement, &[customer, &after, &limit]).await?
            }
            (None, None) => {
                let statement = conn.statements.get(&conn.client, CHANGES).await?;
                conn.client.query(&statement, &[&after, &limit]).await?
            }
        };
        rows.iter().map(change_from_row).collect()
    }

    async fn party_rewrite_change_detail(&self, seq: i64, detail: &str) -> anyhow::Result<bool> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let changed = conn
            .client
            .execute("UPDATE party_changes SET detail = $1 WHERE seq = $2", &[&detail, &seq])
            .await
            .context("failed to rewrite a party change")?;
        Ok(changed == 1)
    }

    async fn party_erase_freed_space(&self) -> anyhow::Result<()> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        conn.client
            .batch_execute("VACUUM FULL party_records, party_keys, party_changes")
            .await
            .context("failed to VACUUM FULL the party tables")
    }
}

/// One try at a write: applied and committed, or refused (the transaction is rolled back when dropped).
async fn write_once(conn: &mut Conn, write: &PartyWrite) -> Result<(), WriteStop> {
    let tx = conn.client.transaction().await?;
    apply_write(&tx, &mut conn.statements, write).await?;
    tx.commit().await?;
    Ok(())
}

/// Applies `write` inside `tx`, stopping at the first conflict, in the order documented on
/// [`PartyWrite`]: records, released keys, claimed keys, lookups removed then added, history, new
/// ledger accounts, ledger flags.
async fn apply_write(tx: &Transaction<'_>, statements: &mut Statements, write: &PartyWrite) -> Result<(), WriteStop> {
    // The records to update are locked first, in id order (the one order every write follows), and
    // checked against the version each was read at. A record to create is an insert that does nothing
    // if the id exists (or waits for a transaction inserting it, and then does nothing if that one
    // committed).
    let mut updated: Vec<&str> =
        write.records.iter().filter(|w| w.expected_version != 0).map(|w| w.record.id.as_str()).collect();
    updated.sort_unstable();
    updated.dedup();
    let mut versions: HashMap<String, i64> = HashMap::with_capacity(updated.len());
    if !updated.is_empty() {
        let lock = statements.get(tx, LOCK_RECORDS).await?;
        for row in tx.query(&lock, &[&updated]).await? {
            versions.insert(row.try_get(0)?, row.try_get(1)?);
        }
    }
    for w in &write.records {
        let r = &w.record;
        let written = if w.expected_version == 0 {
            let insert = statements.get(tx, INSERT_RECORD).await?;
            tx.execute(
                &insert,
                &[&r.id, &r.kind, &r.customer_id, &r.version, &r.data, &r.created_at.nanos(), &r.updated_at.nanos()],
            )
            .await?
        } else if versions.get(&r.id) == Some(&w.expected_version) {
            let update = statements.get(tx, UPDATE_RECORD).await?;
            let written = tx
                .execute(&update, &[&r.id, &r.kind, &r.customer_id, &r.version, &r.data, &r.updated_at.nanos()])
                .await?;
            versions.insert(r.id.clone(), r.version);
            written
        } else {
            0
        };
        if written == 0 {
            return Err(WriteStop::Conflict(PartyConflict::RecordChanged { id: r.id.clone() }));
        }
    }

    if !write.release_keys.is_empty() {
        let namespaces: Vec<&str> = write.release_keys.iter().map(|(k, _)| k.namespace.as_str()).collect();
        let keys: Vec<&str> = write.release_keys.iter().map(|(k, _)| k.key.as_str()).collect();
        let owners: Vec<&str> = write.release_keys.iter().map(|(_, o)| o.as_str()).collect();
        let release = statements.get(tx, RELEASE_KEYS).await?;
        tx.execute(&release, &[&namespaces, &keys, &owners]).await?;
    }
    for (key, owner) in claims_in_key_order(write) {
        claim_key(tx, statements, key, owner).await?;
    }

    if !write.remove_index.is_empty() {
        let (names, keys, records) = index_columns(&write.remove_index);
        let remove = statements.get(tx, REMOVE_INDEX).await?;
        tx.execute(&remove, &[&names, &keys, &records]).await?;
    }
    if !write.add_index.is_empty() {
        let (names, keys, records) = index_columns(&write.add_index);
        let add = statements.get(tx, ADD_INDEX).await?;
        tx.execute(&add, &[&names, &keys, &records]).await?;
    }

    if !write.changes.is_empty() {
        let c = &write.changes;
        let record_ids: Vec<&str> = c.iter().map(|c| c.record_id.as_str()).collect();
        let customer_ids: Vec<&str> = c.iter().map(|c| c.customer_id.as_str()).collect();
        let actions: Vec<&str> = c.iter().map(|c| c.action.as_str()).collect();
        let actors: Vec<&str> = c.iter().map(|c| c.actor.as_str()).collect();
        let reasons: Vec<Option<&str>> = c.iter().map(|c| c.reason.as_deref()).collect();
        let details: Vec<&str> = c.iter().map(|c| c.detail.as_str()).collect();
        let ats: Vec<i64> = c.iter().map(|c| c.at.nanos()).collect();
        let insert = statements.get(tx, INSERT_CHANGES).await?;
        tx.execute(&insert, &[&record_ids, &customer_ids, &actions, &actors, &reasons, &details, &ats]).await?;
    }

    insert_account_rows(tx, statements, &write.ledger_accounts).await?;

    if !write.ledger_flags.is_empty() {
        let ids: Vec<Uuid> = write.ledger_flags.iter().map(|f| uuid(f.account_id)).collect();
        let lock = statements.get(tx, LOCK_ACCOUNTS).await?;
        let mut accounts: HashMap<AccountId, Account> = HashMap::with_capacity(ids.len());
        for row in tx.query(&lock, &[&ids]).await? {
            let account = account_from_row(&row)?;
            accounts.insert(account.id, account);
        }
        let update = statements.get(tx, UPDATE_ACCOUNT_FLAGS).await?;
        for f in &write.ledger_flags {
            let Some(account) = accounts.get_mut(&f.account_id) else {
                return Err(WriteStop::Conflict(PartyConflict::LedgerAccountMissing { id: f.account_id }));
            };
            if f.closing {
                if let Err(why) = account.check_can_close() {
                    return Err(WriteStop::Conflict(PartyConflict::LedgerAccountNotClosable { id: f.account_id, why }));
                }
            }
            tx.execute(&update, &[&uuid(f.account_id), &f.flags.bits()]).await?;
            account.flags = f.flags;
        }
    }

    if !write.counters.is_empty() {
        let add = statements.get(tx, ADD_TO_COUNTER).await?;
        for counter in counters_in_key_order(write) {
            if counter.limit.is_some_and(|limit| counter.amount > limit) {
                return Err(WriteStop::Conflict(PartyConflict::CounterOverLimit { key: counter.key.clone() }));
            }
            if tx.execute(&add, &[&counter.key, &counter.amount, &counter.limit]).await? == 0 {
                return Err(WriteStop::Conflict(PartyConflict::CounterOverLimit { key: counter.key.clone() }));
            }
        }
    }
    Ok(())
}

/// Holds `key` for `owner`, or finds who holds it. The insert waits for a transaction inserting the
/// same key; if that one committed, the insert does nothing and the holder is read (READ COMMITTED: a
/// statement sees what committed before it began).
async fn claim_key(
    tx: &Transaction<'_>,
    statements: &mut Statements,
    key: &PartyKey,
    owner: &str,
) -> Result<(), WriteStop> {
    let claim = statements.get(tx, CLAIM_KEY).await?;
    let holder = statements.get(tx, KEY_OWNER).await?;
    for _ in 0..CLAIM_TRIES {
        if tx.execute(&claim, &[&key.namespace, &key.key, &owner]).await? == 1 {
            return Ok(());
        }
        // None: the holder released the key since the insert looked; claim it again.
        if let Some(row) = tx.query_opt(&holder, &[&key.namespace, &key.key]).await? {
            let held_by: String = row.try_get(0)?;
            if held_by == owner {
                return Ok(());
            }
            return Err(WriteStop::Conflict(PartyConflict::KeyTaken { key: key.clone(), owner: held_by }));
        }
    }
    Err(WriteStop::Failed(anyhow::anyhow!(
        "key {}:{} was claimed and released {CLAIM_TRIES} times while this write tried to claim it",
        key.namespace,
        key.key
    )))
}

fn index_columns(rows: &[(String, String, String)]) -> (Vec<&str>, Vec<&str>, Vec<&str>) {
    let mut sorted: Vec<&(String, String, String)> = rows.iter().collect();
    sorted.sort_unstable();
    (
        sorted.iter().map(|r| r.0.as_str()).collect(),
        sorted.iter().map(|r| r.1.as_str()).collect(),
        sorted.iter().map(|r| r.2.as_str()).collect(),
    )
}

/// Whether a failed write lost a race with another transaction and may simply be tried again: a
/// deadlock, a serialization failure, or a unique violation on a party table (another instance
/// inserted the same record or key between this write's look and its insert; the next try sees it
/// and answers with the conflict).
fn lost_a_race(error: &anyhow::Error) -> bool {
    let Some(db) = error.downcast_ref::<tokio_postgres::Error>().and_then(|e| e.as_db_error()) else {
        return false;
    };
    let code = db.code();
    code == &SqlState::T_R_DEADLOCK_DETECTED
        || code == &SqlState::T_R_SERIALIZATION_FAILURE
        || (code == &SqlState::UNIQUE_VIOLATION && db.table().is_some_and(|t| t.starts_with("party_")))
}

fn record_from_row(row: &Row) -> anyhow::Result<PartyRecord> {
    Ok(PartyRecord {
        id: row.try_get(0)?,
        kind: row.try_get(1)?,
        customer_id: row.try_get(2)?,
        version: row.try_get(3)?,
        data: row.try_get(4)?,
        created_at: Timestamp(row.try_get(5)?),
        updated_at: Timestamp(row.try_get(6)?),
    })
}

fn change_from_row(row: &Row) -> anyhow::Result<PartyChange> {
    Ok(PartyChange {
        seq: row.try_get(0)?,
        record_id: row.try_get(1)?,
        customer_id: row.try_get(2)?,
        action: row.try_get(3)?,
        actor: row.try_get(4)?,
        reason: row.try_get(5)?,
        detail: row.try_get(6)?,
        at: Timestamp(row.try_get(7)?),
    })
}
