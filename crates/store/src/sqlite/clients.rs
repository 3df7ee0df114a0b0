//! API clients and their keys on SQLite. Clients are written on the writer connection, so deciding
//! whether a client may take another key and adding it cannot interleave with another writer.

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use sanhu_core::Timestamp;

use super::SqliteStore;
use crate::model::{clients_from_rows, clients_with_keys, ClientKeyRow};
use crate::{ApiClient, ClientKey, KeyAdded, CLIENT_ACTIVE_KEYS_MAX};

fn client_key_row(r: &Row) -> rusqlite::Result<ClientKeyRow> {
    let number: Option<i64> = r.get(6)?;
    let key = match number {
        None => None,
        Some(number) => Some(ClientKey {
            number: u32::try_from(number).map_err(|_| rusqlite::Error::IntegralValueOutOfRange(6, number))?,
            public_key: r.get(7)?,
            added_at: Timestamp::from_nanos(r.get(8)?),
            revoked_at: r.get::<_, Option<i64>>(9)?.map(Timestamp::from_nanos),
        }),
    };
    Ok(ClientKeyRow {
        id: r.get(0)?,
        name: r.get(1)?,
        scopes: r.get(2)?,
        bound_to: r.get(3)?,
        created_at: r.get(4)?,
        revoked_at: r.get(5)?,
        key,
    })
}

fn read_clients(c: &Connection, condition: &str, id: Option<&str>) -> anyhow::Result<Vec<ApiClient>> {
    let sql = format!("{} {condition} ORDER BY c.created_at, c.id, k.number", clients_with_keys!());
    let mut statement = c.prepare_cached(&sql)?;
    let rows = match id {
        Some(id) => statement.query_map([id], client_key_row)?.collect::<Result<Vec<_>, _>>()?,
        None => statement.query_map([], client_key_row)?.collect::<Result<Vec<_>, _>>()?,
    };
    clients_from_rows(rows)
}

fn insert_key(c: &Connection, client_id: &str, key: &ClientKey) -> rusqlite::Result<usize> {
    c.execute(
        "INSERT INTO api_client_keys (client_id, number, public_key, added_at, revoked_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        params![client_id, key.number, key.public_key, key.added_at.nanos(), key.revoked_at.map(|t| t.nanos())],
    )
}

impl SqliteStore {
    pub(super) async fn insert_client(&self, client: &ApiClient) -> anyhow::Result<()> {
        anyhow::ensure!(
            client.active_keys().count() <= CLIENT_ACTIVE_KEYS_MAX,
            "API client {} would hold more than {CLIENT_ACTIVE_KEYS_MAX} active keys",
            client.id
        );
        let client = client.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO api_clients (id, name, scopes, bound_to, created_at, revoked_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    client.id,
                    client.name,
                    client.scopes.to_string(),
                    client.bound_to.map(|m| m.to_string()),
                    client.created_at.nanos(),
                    client.revoked_at.map(|t| t.nanos())
                ],
            )
            .context("failed to insert the API client")?;
            for key in &client.keys {
                insert_key(&tx, &client.id, key).context("failed to insert the API client's key")?;
            }
            tx.commit()?;
            Ok(())
        })
        .await
    }

    pub(super) async fn select_clients(&self) -> anyhow::Result<Vec<ApiClient>> {
        self.read(|c| read_clients(c, "", None)).await
    }

    pub(super) async fn select_client(&self, id: &str) -> anyhow::Result<Option<ApiClient>> {
        let id = id.to_owned();
        self.read(move |c| Ok(read_clients(c, "WHERE c.id = ?1", Some(&id))?.pop())).await
    }

    pub(super) async fn insert_client_key(
        &self,
        client_id: &str,
        public_key: &[u8; 32],
        at: Timestamp,
    ) -> anyhow::Result<KeyAdded> {
        let (client_id, public_key) = (client_id.to_owned(), *public_key);
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let exists =
                tx.query_row("SELECT 1 FROM api_clients WHERE id = ?1", [&client_id], |_| Ok(())).optional()?.is_some();
            if !exists {
                return Ok(KeyAdded::NoClient);
            }
            let (active, last): (i64, i64) = tx.query_row(
                "SELECT count(*) FILTER (WHERE revoked_at IS NULL), coalesce(max(number), 0) \
                 FROM api_client_keys WHERE client_id = ?1",
                [&client_id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )?;
            if active >= CLIENT_ACTIVE_KEYS_MAX as i64 {
                return Ok(KeyAdded::TooManyActive);
            }
            let number = u32::try_from(last + 1).context("a client's key number")?;
            let key = ClientKey { number, public_key, added_at: at, revoked_at: None };
            insert_key(&tx, &client_id, &key).context("failed to insert the API client's key")?;
            tx.commit()?;
            Ok(KeyAdded::Added { number })
        })
        .await
    }

    pub(super) async fn mark_client_key_revoked(
        &self,
        client_id: &str,
        number: u32,
        at: Timestamp,
    ) -> anyhow::Result<bool> {
        let client_id = client_id.to_owned();
        self.write(move |c| {
            // A second revocation keeps the first time: that is when the key stopped being trusted.
            let changed = c.execute(
                "UPDATE api_client_keys SET revoked_at = COALESCE(revoked_at, ?1) WHERE client_id = ?2 AND number = ?3",
                params![at.nanos(), client_id, number],
            )?;
            Ok(changed == 1)
        })
        .await
    }
}
