//! API clients, request nonces and idempotency keys on PostgreSQL (see `crate::access`).

use anyhow::{anyhow, Context};
use sanhu_core::Timestamp;
use tokio_postgres::Row;

use super::PostgresStore;
use crate::access::{clients_from_rows, clients_with_keys, ClientKeyRow};
use crate::{
    AccessStore, ApiClient, ClientKey, IdempotencyAnswer, IdempotencyBegin, IdempotencyClaim, IdempotencyKey, KeyAdded,
    NonceRecord, StoredResponse, CLIENT_ACTIVE_KEYS_MAX, IDEMPOTENCY_CLAIM_LEASE_S,
};

/// Most expired nonces one `record_nonce` deletes: enough to keep up with any request rate, small
/// enough that the request never waits on a large delete.
const NONCES_FORGOTTEN_PER_CALL: i64 = 64;
/// Most expired nonces one batch of nonces deletes (a batch holds up to a thousand or so).
const NONCES_FORGOTTEN_PER_BATCH: i64 = 1000;

/// How many times `begin_idempotent` looks again when the key changed under it (released or taken
/// over by another request between two statements).
const IDEMPOTENCY_TRIES: u32 = 5;

fn client_key_row(row: &Row) -> anyhow::Result<ClientKeyRow> {
    let id: String = row.try_get(0)?;
    let key = match row.try_get::<_, Option<i32>>(6)? {
        None => None,
        Some(number) => {
            let public_key: Vec<u8> = row.try_get(7)?;
            let public_key: [u8; 32] = public_key
                .try_into()
                .map_err(|key: Vec<u8>| anyhow!("client {id}'s key {number} has {} bytes", key.len()))?;
            Some(ClientKey {
                number: u32::try_from(number).with_context(|| format!("client {id}'s key number {number}"))?,
                public_key,
                added_at: Timestamp(row.try_get(8)?),
                revoked_at: row.try_get::<_, Option<i64>>(9)?.map(Timestamp),
            })
        }
    };
    Ok(ClientKeyRow {
        name: row.try_get(1)?,
        scopes: row.try_get(2)?,
        bound_to: row.try_get(3)?,
        created_at: row.try_get(4)?,
        revoked_at: row.try_get(5)?,
        key,
        id,
    })
}

async fn insert_key(tx: &tokio_postgres::Transaction<'_>, client_id: &str, key: &ClientKey) -> anyhow::Result<()> {
    let number = i32::try_from(key.number).context("a client's key number")?;
    tx.execute(
        "INSERT INTO api_client_keys (client_id, number, public_key, added_at, revoked_at) VALUES ($1, $2, $3, $4, $5)",
        &[
            &client_id,
            &number,
            &key.public_key.as_slice(),
            &key.added_at.nanos(),
            &key.revoked_at.map(Timestamp::nanos),
        ],
    )
    .await
    .with_context(|| format!("add key {} to API client {client_id}", key.number))?;
    Ok(())
}

/// The statements that look at one key already in the table, prepared once per batch.
struct ClaimStatements {
    claim: tokio_postgres::Statement,
    read: tokio_postgres::Statement,
    take_over: tokio_postgres::Statement,
    claimant_lock: tokio_postgres::Statement,
}

impl ClaimStatements {
    async fn prepare(
        statements: &mut super::pool::Statements,
        tx: &tokio_postgres::Transaction<'_>,
    ) -> anyhow::Result<ClaimStatements> {
        Ok(ClaimStatements {
            claim: statements
                .get(
                    tx,
                    "INSERT INTO idempotency_keys (client_id, key, fingerprint, claimed_at, claimed_by, status, body) \
                     VALUES ($1, $2, $3, $4, $5, NULL, NULL) ON CONFLICT (client_id, key) DO NOTHING",
                )
                .await?,
            read: statements
                .get(
                    tx,
                    "SELECT fingerprint, claimed_at, status, body, claimed_by FROM idempotency_keys \
                     WHERE client_id = $1 AND key = $2",
                )
                .await?,
            // Takes over the claim only if it is still the dead one read (same time, same claimant): two
            // requests that both found it dead cannot both win, even when they read the same clock.
            take_over: statements
                .get(
                    tx,
                    "UPDATE idempotency_keys SET claimed_at = $4, claimed_by = $5 \
                     WHERE client_id = $1 AND key = $2 AND claimed_at = $3 AND claimed_by IS NOT DISTINCT FROM $6 \
                     AND status IS NULL",
                )
                .await?,
            // Free only when no session holds it: the claimant's store is gone. Taken in the batch's
            // transaction and released at its end.
            claimant_lock: statements.get(tx, "SELECT pg_try_advisory_xact_lock($1)").await?,
        })
    }
}

/// Claims one key that the batch's statement did not insert, or reports what it holds, inside the
/// batch's transaction.
async fn claim_one(
    tx: &tokio_postgres::Transaction<'_>,
    statements: &mut ClaimStatements,
    claim: &IdempotencyClaim,
    now: Timestamp,
    token: Option<i64>,
) -> anyhow::Result<IdempotencyBegin> {
    let (key, fingerprint) = (&claim.key, claim.fingerprint.as_str());
    let lease_start = now.nanos().saturating_sub(IDEMPOTENCY_CLAIM_LEASE_S as i64 * 1_000_000_000);
    for _ in 0..IDEMPOTENCY_TRIES {
        let claimed =
            tx.execute(&statements.claim, &[&key.client_id, &key.key, &fingerprint, &now.nanos(), &token]).await?;
        if claimed == 1 {
            return Ok(IdempotencyBegin::Claimed);
        }
        let Some(row) = tx.query_opt(&statements.read, &[&key.client_id, &key.key]).await? else {
            continue; // Released between the two statements: claim it afresh.
        };
        let stored_fingerprint: &str = row.try_get(0)?;
        let claimed_at: i64 = row.try_get(1)?;
        let status: Option<i32> = row.try_get(2)?;
        if stored_fingerprint != fingerprint {
            return Ok(IdempotencyBegin::Mismatch);
        }
        if let Some(status) = status {
            let status = u16::try_from(status).with_context(|| format!("stored response status {status}"))?;
            let body: Option<Vec<u8>> = row.try_get(3)?;
            return Ok(IdempotencyBegin::Replay(StoredResponse { status, body: body.unwrap_or_default() }));
        }
        let claimed_by: Option<i64> = row.try_get(4)?;
        if claimed_at > lease_start {
            let claimant_gone = match claimed_by {
                Some(claimant) if Some(claimant) != token => {
                    tx.query_one(&statements.claimant_lock, &[&claimant]).await?.try_get::<_, bool>(0)?
                }
                _ => false,
            };
            if !claimant_gone {
                return Ok(IdempotencyBegin::InUse);
            }
        }
        // The claimer held the key past the lease without an answer, or its store is gone: it died.
        let taken = tx
            .execute(&statements.take_over, &[&key.client_id, &key.key, &claimed_at, &now.nanos(), &token, &claimed_by])
            .await?;
        if taken == 1 {
            return Ok(IdempotencyBegin::Claimed);
        }
    }
    // The key keeps changing under us: another request is busy with it.
    Ok(IdempotencyBegin::InUse)
}

/// Settles a claimed key inside the caller's transaction: stores its response, or (None) releases
/// it if it holds none. The audit log's append calls it, so that a request's event and its answer
/// are one commit.
pub(super) async fn settle_keys(
    tx: &tokio_postgres::Transaction<'_>,
    statements: &mut super::pool::Statements,
    answers: &[IdempotencyAnswer],
) -> anyhow::Result<()> {
    let (answered, released): (Vec<&IdempotencyAnswer>, Vec<&IdempotencyAnswer>) =
        answers.iter().partition(|a| a.response.is_some());
    if !answered.is_empty() {
        let update = statements
            .get(
                tx,
                "UPDATE idempotency_keys SET status = u.s, body = u.b \
                 FROM UNNEST($1::text[], $2::text[], $3::int4[], $4::bytea[]) AS u(c, k, s, b) \
                 WHERE client_id = u.c AND key = u.k",
            )
            .await?;
        let clients: Vec<&str> = answered.iter().map(|a| a.key.client_id.as_str()).collect();
        let keys: Vec<&str> = answered.iter().map(|a| a.key.key.as_str()).collect();
        let statuses: Vec<i32> =
            answered.iter().filter_map(|a| a.response.as_ref()).map(|r| i32::from(r.status)).collect();
        let bodies: Vec<&[u8]> =
            answered.iter().filter_map(|a| a.response.as_ref()).map(|r| r.body.as_slice()).collect();
        let updated =
            tx.execute(&update, &[&clients, &keys, &statuses, &bodies]).await.context("store idempotent answers")?;
        if updated as usize != answered.len() {
            // Released (or never claimed): there is no request left to answer from it, so the
            // response is dropped as the SQLite store drops it.
            tracing::warn!(answers = answered.len(), updated, "some answered idempotency keys were not claimed");
        }
    }
    if !released.is_empty() {
        let delete = statements
            .get(
                tx,
                "DELETE FROM idempotency_keys USING UNNEST($1::text[], $2::text[]) AS u(c, k) \
                 WHERE client_id = u.c AND key = u.k AND status IS NULL",
            )
            .await?;
        let clients: Vec<&str> = released.iter().map(|a| a.key.client_id.as_str()).collect();
        let keys: Vec<&str> = released.iter().map(|a| a.key.key.as_str()).collect();
        tx.execute(&delete, &[&clients, &keys]).await.context("release idempotency keys")?;
    }
    Ok(())
}

impl AccessStore for PostgresStore {
    async fn create_client(&self, client: &ApiClient) -> anyhow::Result<()> {
        anyhow::ensure!(
            client.active_keys().count() <= CLIENT_ACTIVE_KEYS_MAX,
            "API client {} would hold more than {CLIENT_ACTIVE_KEYS_MAX} active keys",
            client.id
        );
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        tx.execute(
            "INSERT INTO api_clients (id, name, scopes, bound_to, created_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
            &[
                &client.id,
                &client.name,
                &client.scopes.to_string(),
                &client.bound_to.map(|m| m.to_string()),
                &client.created_at.nanos(),
                &client.revoked_at.map(Timestamp::nanos),
            ],
        )
        .await
        .with_context(|| format!("create API client {}", client.id))?;
        for key in &client.keys {
            insert_key(&tx, &client.id, key).await?;
        }
        tx.commit().await.with_context(|| format!("create API client {}", client.id))?;
        Ok(())
    }

    async fn list_clients(&self) -> anyhow::Result<Vec<ApiClient>> {
        let conn = self.inner.general.get().await?;
        let rows =
            conn.client.query(concat!(clients_with_keys!(), " ORDER BY c.created_at, c.id, k.number"), &[]).await?;
        clients_from_rows(rows.iter().map(client_key_row).collect::<anyhow::Result<Vec<_>>>()?)
    }

    async fn get_client(&self, id: &str) -> anyhow::Result<Option<ApiClient>> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        // Every signed request looks its client up: worth a prepared statement. One statement, so the
        // client and its keys are read in one snapshot.
        let statement = conn
            .statements
            .get(&conn.client, concat!(clients_with_keys!(), " WHERE c.id = $1 ORDER BY k.number"))
            .await?;
        let rows = conn.client.query(&statement, &[&id]).await?;
        Ok(clients_from_rows(rows.iter().map(client_key_row).collect::<anyhow::Result<Vec<_>>>()?)?.pop())
    }

    async fn add_client_key(&self, client_id: &str, public_key: &[u8; 32], at: Timestamp) -> anyhow::Result<KeyAdded> {
        let mut conn = self.inner.general.get().await?;
        let tx = conn.client.transaction().await?;
        // The client's row is the lock that makes counting and adding one step.
        if tx.query_opt("SELECT 1 FROM api_clients WHERE id = $1 FOR UPDATE", &[&client_id]).await?.is_none() {
            return Ok(KeyAdded::NoClient);
        }
        let row = tx
            .query_one(
                "SELECT count(*) FILTER (WHERE revoked_at IS NULL), coalesce(max(number), 0) \
                 FROM api_client_keys WHERE client_id = $1",
                &[&client_id],
            )
            .await?;
        let (active, last): (i64, i32) = (row.try_get(0)?, row.try_get(1)?);
        if active >= CLIENT_ACTIVE_KEYS_MAX as i64 {
            return Ok(KeyAdded::TooManyActive);
        }
        let number = u32::try_from(last + 1).context("a client's key number")?;
        let key = ClientKey { number, public_key: *public_key, added_at: at, revoked_at: None };
        insert_key(&tx, client_id, &key).await?;
        tx.commit().await.with_context(|| format!("add a key to API client {client_id}"))?;
        Ok(KeyAdded::Added { number })
    }

    async fn revoke_client_key(&self, client_id: &str, number: u32, at: Timestamp) -> anyhow::Result<bool> {
        let conn = self.inner.general.get().await?;
        let number = i32::try_from(number).unwrap_or(i32::MAX);
        // A second revocation keeps the first time: that is when the key stopped being trusted.
        let updated = conn
            .client
            .execute(
                "UPDATE api_client_keys SET revoked_at = coalesce(revoked_at, $3) WHERE client_id = $1 AND number = $2",
                &[&client_id, &number, &at.nanos()],
            )
            .await?;
        Ok(updated > 0)
    }

    async fn revoke_client(&self, id: &str, at: Timestamp) -> anyhow::Result<bool> {
        let conn = self.inner.general.get().await?;
        // A second revocation keeps the first time: that is when the key stopped being trusted.
        let updated = conn
            .client
            .execute("UPDATE api_clients SET revoked_at = coalesce(revoked_at, $2) WHERE id = $1", &[&id, &at.nanos()])
            .await?;
        Ok(updated > 0)
    }

    async fn record_nonce(
        &self,
        client_id: &str,
        nonce: &str,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> anyhow::Result<bool> {
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        // A nonce seen before `forget_before` counts as forgotten even while its row waits for the
        // delete below: it is older than the signature window, so reusing it is no replay.
        let record = conn
            .statements
            .get(
                &conn.client,
                "INSERT INTO api_nonces (client_id, nonce, seen_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (client_id, nonce) DO UPDATE SET seen_at = excluded.seen_at \
                 WHERE api_nonces.seen_at < $4",
            )
            .await?;
        let forget = conn
            .statements
            .get(
                &conn.client,
                "DELETE FROM api_nonces WHERE (client_id, nonce) IN \
                 (SELECT client_id, nonce FROM api_nonces WHERE seen_at < $1 LIMIT $2)",
            )
            .await?;
        let (recorded, _) = futures_util::future::try_join(
            conn.client.execute(&record, &[&client_id, &nonce, &at.nanos(), &forget_before.nanos()]),
            conn.client.execute(&forget, &[&forget_before.nanos(), &NONCES_FORGOTTEN_PER_CALL]),
        )
        .await?;
        Ok(recorded == 1)
    }

    /// Many nonces in one statement (one commit). A (client, nonce) given twice in the batch is
    /// sent once (a statement cannot upsert one row twice); the later ones are replays.
    async fn record_nonces(&self, nonces: &[NonceRecord], forget_before: Timestamp) -> anyhow::Result<Vec<bool>> {
        let first = crate::first_in_batch(nonces);
        let sent: Vec<&NonceRecord> = nonces.iter().zip(&first).filter(|(_, f)| **f).map(|(n, _)| n).collect();
        let clients: Vec<&str> = sent.iter().map(|n| n.client_id.as_str()).collect();
        let values: Vec<&str> = sent.iter().map(|n| n.nonce.as_str()).collect();
        let times: Vec<i64> = sent.iter().map(|n| n.at.nanos()).collect();
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        // A nonce seen before `forget_before` counts as forgotten even while its row waits for the
        // delete below: it is older than the signature window, so reusing it is no replay.
        let record = conn
            .statements
            .get(
                &conn.client,
                "INSERT INTO api_nonces (client_id, nonce, seen_at) \
                 SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[]) \
                 ON CONFLICT (client_id, nonce) DO UPDATE SET seen_at = excluded.seen_at \
                 WHERE api_nonces.seen_at < $4 \
                 RETURNING client_id, nonce",
            )
            .await?;
        let forget = conn
            .statements
            .get(
                &conn.client,
                "DELETE FROM api_nonces WHERE (client_id, nonce) IN \
                 (SELECT client_id, nonce FROM api_nonces WHERE seen_at < $1 LIMIT $2)",
            )
            .await?;
        let (rows, _) = futures_util::future::try_join(
            conn.client.query(&record, &[&clients, &values, &times, &forget_before.nanos()]),
            conn.client.execute(&forget, &[&forget_before.nanos(), &NONCES_FORGOTTEN_PER_BATCH]),
        )
        .await?;
        let recorded: std::collections::HashSet<(String, String)> =
            rows.iter().map(|row| (row.get::<_, String>(0), row.get::<_, String>(1))).collect();
        Ok(nonces
            .iter()
            .zip(first)
            .map(|(n, first)| first && recorded.contains(&(n.client_id.clone(), n.nonce.clone())))
            .collect())
    }

    async fn begin_idempotent(
        &self,
        key: &IdempotencyKey,
        fingerprint: &str,
        now: Timestamp,
    ) -> anyhow::Result<IdempotencyBegin> {
        let claim = IdempotencyClaim { key: key.clone(), fingerprint: fingerprint.to_owned() };
        let mut begun = self.begin_idempotent_batch(std::slice::from_ref(&claim), now).await?;
        begun.pop().context("one answer for one claim")
    }

    /// One transaction: the keys no one holds are claimed by one statement; each of the others (held,
    /// answered, or given twice in the batch) is then looked at as `begin_idempotent` looks at one.
    async fn begin_idempotent_batch(
        &self,
        claims: &[IdempotencyClaim],
        now: Timestamp,
    ) -> anyhow::Result<Vec<IdempotencyBegin>> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        // Held before the claims are written, so that no claim of this store is ever seen unlocked.
        let token = self.inner.instance.token().await;
        // In the keys' order, so that two instances claiming overlapping batches wait for each other
        // rather than deadlock.
        let mut order: Vec<usize> = (0..claims.len()).collect();
        order.sort_by(|&a, &b| {
            let (a, b) = (&claims[a].key, &claims[b].key);
            (&a.client_id, &a.key).cmp(&(&b.client_id, &b.key))
        });
        let clients: Vec<&str> = order.iter().map(|&i| claims[i].key.client_id.as_str()).collect();
        let keys: Vec<&str> = order.iter().map(|&i| claims[i].key.key.as_str()).collect();
        let fingerprints: Vec<&str> = order.iter().map(|&i| claims[i].fingerprint.as_str()).collect();
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let tx = conn.client.transaction().await?;
        let claim_all = conn
            .statements
            .get(
                &tx,
                "INSERT INTO idempotency_keys (client_id, key, fingerprint, claimed_at, claimed_by) \
                 SELECT c, k, f, $4::int8, $5::int8 FROM UNNEST($1::text[], $2::text[], $3::text[]) AS u(c, k, f) \
                 ON CONFLICT (client_id, key) DO NOTHING RETURNING client_id, key",
            )
            .await?;
        let rows = tx.query(&claim_all, &[&clients, &keys, &fingerprints, &now.nanos(), &token]).await?;
        let mut claimed: std::collections::HashSet<(String, String)> =
            rows.iter().map(|row| (row.get::<_, String>(0), row.get::<_, String>(1))).collect();
        let mut statements = ClaimStatements::prepare(&mut conn.statements, &tx).await?;
        let mut begun = Vec::with_capacity(claims.len());
        for claim in claims {
            // The first of a key in the batch that the statement inserted has it; a later one finds it
            // claimed, by this very store.
            let begin = if claimed.remove(&(claim.key.client_id.clone(), claim.key.key.clone())) {
                IdempotencyBegin::Claimed
            } else {
                claim_one(&tx, &mut statements, claim, now, token).await?
            };
            begun.push(begin);
        }
        tx.commit().await.context("commit idempotency claims")?;
        Ok(begun)
    }

    async fn complete_idempotent(&self, key: &IdempotencyKey, response: &StoredResponse) -> anyhow::Result<()> {
        let conn = self.inner.general.get().await?;
        let updated = conn
            .client
            .execute(
                "UPDATE idempotency_keys SET status = $3, body = $4 WHERE client_id = $1 AND key = $2",
                &[&key.client_id, &key.key, &(response.status as i32), &response.body],
            )
            .await?;
        if updated == 0 {
            // Released (or never claimed): there is no request left to answer from it, so the
            // response is dropped as the SQLite store drops it.
            tracing::warn!(client = %key.client_id, key = %key.key, "completed an idempotency key that is not claimed");
        }
        Ok(())
    }

    async fn release_idempotent(&self, key: &IdempotencyKey) -> anyhow::Result<()> {
        let conn = self.inner.general.get().await?;
        // Only an open claim: a stored response must keep answering retries.
        conn.client
            .execute(
                "DELETE FROM idempotency_keys WHERE client_id = $1 AND key = $2 AND status IS NULL",
                &[&key.client_id, &key.key],
            )
            .await?;
        Ok(())
    }
}
