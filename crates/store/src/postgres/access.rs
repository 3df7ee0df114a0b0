//! API clients, request nonces and idempotency keys on PostgreSQL (see `crate::access`).

use anyhow::{anyhow, Context};
use sanhu_core::Timestamp;
use tokio_postgres::Row;

use super::PostgresStore;
use crate::access::{clients_from_rows, clients_with_keys, ClientKeyRow};
use crate::{
    check_answer, AccessStore, Admitted, ApiClient, ClaimToken, ClientKey, IdempotencyAnswer, IdempotencyBegin,
    IdempotencyClaim, IdempotencyKey, KeyAdded, NonceRecord, NoncedClaim, StoredResponse, CLIENT_ACTIVE_KEYS_MAX,
    IDEMPOTENCY_CLAIM_LEASE_S,
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
                    "INSERT INTO idempotency_keys (client_id, key, fingerprint, claimed_at, claimed_by, claim_token, \
                     status, body) VALUES ($1, $2, $3, $4, $5, $6, NULL, NULL) ON CONFLICT (client_id, key) DO NOTHING",
                )
                .await?,
            read: statements
                .get(
                    tx,
                    "SELECT fingerprint, claimed_at, status, body, claimed_by, claim_token FROM idempotency_keys \
                     WHERE client_id = $1 AND key = $2",
                )
                .await?,
            // Takes over the claim only if it is still the dead one read (same time, same claimant, same
            // attempt): two requests that both found it dead cannot both win, even when they read the
            // same clock. The claim takes the new attempt's token.
            take_over: statements
                .get(
                    tx,
                    "UPDATE idempotency_keys SET claimed_at = $4, claimed_by = $5, claim_token = $7 \
                     WHERE client_id = $1 AND key = $2 AND claimed_at = $3 AND claimed_by IS NOT DISTINCT FROM $6 \
                     AND claim_token IS NOT DISTINCT FROM $8 AND status IS NULL",
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
    let (key, fingerprint, attempt) = (&claim.key, claim.fingerprint.as_str(), claim.token.as_str());
    let lease_start = now.nanos().saturating_sub(IDEMPOTENCY_CLAIM_LEASE_S as i64 * 1_000_000_000);
    for _ in 0..IDEMPOTENCY_TRIES {
        let claimed = tx
            .execute(&statements.claim, &[&key.client_id, &key.key, &fingerprint, &now.nanos(), &token, &attempt])
            .await?;
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
        let claimed_with: Option<String> = row.try_get(5)?;
        // The claim a lost attempt of this very request left (its handler never ran): taken over at
        // once, whoever holds the instance lock.
        let superseded = claim.supersedes.iter().any(|lost| claimed_with.as_deref() == Some(lost.as_str()));
        // A claimant known to live (this store, or one whose instance lock is held) holds its claim
        // however long its request runs or its answer waits to be kept; one that cannot be told (no
        // instance lock) holds it for the lease.
        let held = !superseded
            && match claimed_by {
                Some(claimant) if Some(claimant) == token => true,
                Some(claimant) => {
                    !tx.query_one(&statements.claimant_lock, &[&claimant]).await?.try_get::<_, bool>(0)?
                }
                None => claimed_at > lease_start,
            };
        if held {
            return Ok(IdempotencyBegin::InUse);
        }
        // The claimer's store is gone (it died), or its claim, made without an instance lock, lapsed.
        let taken = tx
            .execute(
                &statements.take_over,
                &[&key.client_id, &key.key, &claimed_at, &now.nanos(), &token, &claimed_by, &attempt, &claimed_with],
            )
            .await?;
        if taken == 1 {
            return Ok(IdempotencyBegin::Claimed);
        }
    }
    // The key keeps changing under us: another request is busy with it.
    Ok(IdempotencyBegin::InUse)
}

/// Records nonces inside the caller's transaction, in one statement, with the forgetting of old ones
/// pipelined beside it: for each, whether it is fresh (see `AccessStore::record_nonces`). A (client,
/// nonce) given twice is sent once (a statement cannot upsert one row twice); the later ones are
/// replays. Sent in the nonces' order, so that two instances' batches lock the rows they share in the
/// same order and wait for each other rather than deadlock.
async fn record_nonces_in(
    tx: &tokio_postgres::Transaction<'_>,
    statements: &mut super::pool::Statements,
    nonces: &[NonceRecord],
    forget_before: Timestamp,
) -> anyhow::Result<Vec<bool>> {
    if nonces.is_empty() {
        return Ok(Vec::new());
    }
    let first = crate::first_in_batch(nonces);
    let mut sent: Vec<&NonceRecord> = nonces.iter().zip(&first).filter(|(_, f)| **f).map(|(n, _)| n).collect();
    sent.sort_by(|a, b| (&a.client_id, &a.nonce).cmp(&(&b.client_id, &b.nonce)));
    let clients: Vec<&str> = sent.iter().map(|n| n.client_id.as_str()).collect();
    let values: Vec<&str> = sent.iter().map(|n| n.nonce.as_str()).collect();
    let times: Vec<i64> = sent.iter().map(|n| n.at.nanos()).collect();
    // A nonce seen before `forget_before` counts as forgotten even while its row waits for the
    // delete below: it is older than the signature window, so reusing it is no replay.
    let record = statements
        .get(
            tx,
            "INSERT INTO api_nonces (client_id, nonce, seen_at) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::int8[]) \
             ON CONFLICT (client_id, nonce) DO UPDATE SET seen_at = excluded.seen_at \
             WHERE api_nonces.seen_at < $4 \
             RETURNING client_id, nonce",
        )
        .await?;
    // Rows another transaction holds are left for a later batch (SKIP LOCKED), so that forgetting
    // never waits for, or deadlocks with, another instance's batch.
    let forget = statements
        .get(
            tx,
            "DELETE FROM api_nonces WHERE (client_id, nonce) IN \
             (SELECT client_id, nonce FROM api_nonces WHERE seen_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .await?;
    let (rows, _) = futures_util::future::try_join(
        tx.query(&record, &[&clients, &values, &times, &forget_before.nanos()]),
        tx.execute(&forget, &[&forget_before.nanos(), &NONCES_FORGOTTEN_PER_BATCH]),
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

/// Claims keys inside the caller's transaction, as `begin_idempotent_batch` describes: the keys no one
/// holds by one statement, each of the others then as `begin_idempotent` looks at one.
async fn claim_keys_in(
    tx: &tokio_postgres::Transaction<'_>,
    statements: &mut super::pool::Statements,
    claims: &[&IdempotencyClaim],
    now: Timestamp,
    token: Option<i64>,
) -> anyhow::Result<Vec<IdempotencyBegin>> {
    if claims.is_empty() {
        return Ok(Vec::new());
    }
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
    let attempts: Vec<&str> = order.iter().map(|&i| claims[i].token.as_str()).collect();
    let claim_all = statements
        .get(
            tx,
            "INSERT INTO idempotency_keys (client_id, key, fingerprint, claimed_at, claimed_by, claim_token) \
             SELECT c, k, f, $4::int8, $5::int8, t FROM UNNEST($1::text[], $2::text[], $3::text[], $6::text[]) \
             AS u(c, k, f, t) ON CONFLICT (client_id, key) DO NOTHING RETURNING client_id, key, claim_token",
        )
        .await?;
    let rows = tx.query(&claim_all, &[&clients, &keys, &fingerprints, &now.nanos(), &token, &attempts]).await?;
    // Each inserted row with the token of the claim that inserted it: a key given twice in the
    // batch is inserted once, for whichever of its claims UNNEST gave first.
    let mut claimed: std::collections::HashSet<(String, String, String)> =
        rows.iter().map(|row| (row.get::<_, String>(0), row.get::<_, String>(1), row.get::<_, String>(2))).collect();
    let mut statements = ClaimStatements::prepare(statements, tx).await?;
    let mut begun = Vec::with_capacity(claims.len());
    for claim in claims {
        // The first of a key in the batch that the statement inserted has it; a later one finds it
        // claimed, by this very store.
        let inserted = (claim.key.client_id.clone(), claim.key.key.clone(), claim.token.as_str().to_owned());
        let begin = if claimed.remove(&inserted) {
            IdempotencyBegin::Claimed
        } else {
            claim_one(tx, &mut statements, claim, now, token).await?
        };
        begun.push(begin);
    }
    Ok(begun)
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
                 FROM UNNEST($1::text[], $2::text[], $3::text[], $4::int4[], $5::bytea[]) AS u(c, k, t, s, b) \
                 WHERE client_id = u.c AND key = u.k AND claim_token = u.t AND status IS NULL",
            )
            .await?;
        // In statements of at most ANSWER_BYTES_PER_STATEMENT of bodies: one bind message (every
        // parameter of a statement) must stay under PostgreSQL's limit of about 1 GiB, and a batch
        // of large answers would pass it.
        for chunk in answer_chunks(&answered) {
            let clients: Vec<&str> = chunk.iter().map(|a| a.key.client_id.as_str()).collect();
            let keys: Vec<&str> = chunk.iter().map(|a| a.key.key.as_str()).collect();
            let tokens: Vec<&str> = chunk.iter().map(|a| a.token.as_str()).collect();
            let statuses: Vec<i32> =
                chunk.iter().filter_map(|a| a.response.as_ref()).map(|r| i32::from(r.status)).collect();
            let bodies: Vec<&[u8]> =
                chunk.iter().filter_map(|a| a.response.as_ref()).map(|r| r.body.as_slice()).collect();
            let updated = tx
                .execute(&update, &[&clients, &keys, &tokens, &statuses, &bodies])
                .await
                .context("store idempotent answers")?;
            if updated as usize != chunk.len() {
                // Another attempt's claim holds the key (this one's was taken over), or it is answered:
                // that claim's request answers it, and this response is dropped, as on SQLite.
                tracing::warn!(answers = chunk.len(), updated, "some answers' claims no longer hold their keys");
            }
        }
    }
    if !released.is_empty() {
        let delete = statements
            .get(
                tx,
                "DELETE FROM idempotency_keys USING UNNEST($1::text[], $2::text[], $3::text[]) AS u(c, k, t) \
                 WHERE client_id = u.c AND key = u.k AND claim_token = u.t AND status IS NULL",
            )
            .await?;
        let clients: Vec<&str> = released.iter().map(|a| a.key.client_id.as_str()).collect();
        let keys: Vec<&str> = released.iter().map(|a| a.key.key.as_str()).collect();
        let tokens: Vec<&str> = released.iter().map(|a| a.token.as_str()).collect();
        tx.execute(&delete, &[&clients, &keys, &tokens]).await.context("release idempotency keys")?;
    }
    Ok(())
}

/// Most bytes of answers' bodies one statement sends: far below PostgreSQL's limit on one message
/// (about 1 GiB), and at least one answer (each is at most `STORED_RESPONSE_BYTES_MAX`).
const ANSWER_BYTES_PER_STATEMENT: usize = 256 * 1024 * 1024;

/// `answered` in consecutive runs whose bodies add up to at most [`ANSWER_BYTES_PER_STATEMENT`] (a
/// run holds one answer at least).
fn answer_chunks<'a>(answered: &'a [&'a IdempotencyAnswer]) -> Vec<&'a [&'a IdempotencyAnswer]> {
    let mut chunks = Vec::new();
    let (mut start, mut bytes) = (0, 0usize);
    for (i, answer) in answered.iter().enumerate() {
        let size = answer.response.as_ref().map_or(0, |r| r.body.len());
        if i > start && bytes + size > ANSWER_BYTES_PER_STATEMENT {
            chunks.push(&answered[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += size;
    }
    if start < answered.len() {
        chunks.push(&answered[start..]);
    }
    chunks
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

    async fn begin_idempotent(&self, claim: &IdempotencyClaim, now: Timestamp) -> anyhow::Result<IdempotencyBegin> {
        let mut begun = self.begin_idempotent_batch(std::slice::from_ref(claim), now).await?;
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
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let tx = conn.client.transaction().await?;
        let claims: Vec<&IdempotencyClaim> = claims.iter().collect();
        let begun = claim_keys_in(&tx, &mut conn.statements, &claims, now, token).await?;
        tx.commit().await.context("commit idempotency claims")?;
        Ok(begun)
    }

    /// One transaction: the nonces by one statement (with the forgetting of old ones, pipelined), then
    /// the claims of the requests whose nonce is fresh as `begin_idempotent_batch` makes them.
    async fn admit_batch(
        &self,
        nonces: &[NonceRecord],
        forget_before: Timestamp,
        claims: &[NoncedClaim],
        now: Timestamp,
    ) -> anyhow::Result<Admitted> {
        // Held before the claims are written, so that no claim of this store is ever seen unlocked.
        let token = if claims.is_empty() { None } else { self.inner.instance.token().await };
        let mut conn = self.inner.general.get().await?;
        let conn = &mut *conn;
        let tx = conn.client.transaction().await?;
        let fresh = record_nonces_in(&tx, &mut conn.statements, nonces, forget_before).await?;
        let made: Vec<(usize, &IdempotencyClaim)> = Admitted::made(&fresh, claims).collect();
        let mut begun = vec![None; claims.len()];
        if !made.is_empty() {
            let to_make: Vec<&IdempotencyClaim> = made.iter().map(|(_, claim)| *claim).collect();
            let outcomes = claim_keys_in(&tx, &mut conn.statements, &to_make, now, token).await?;
            for ((index, _), begin) in made.iter().zip(outcomes) {
                begun[*index] = Some(begin);
            }
        }
        tx.commit().await.context("commit nonces and idempotency claims")?;
        Ok(Admitted { nonces: fresh, claims: begun })
    }

    async fn complete_idempotent(
        &self,
        key: &IdempotencyKey,
        token: &ClaimToken,
        response: &StoredResponse,
    ) -> anyhow::Result<()> {
        let answer = IdempotencyAnswer { key: key.clone(), token: token.clone(), response: Some(response.clone()) };
        check_answer(&answer)?;
        let conn = self.inner.general.get().await?;
        let updated = conn
            .client
            .execute(
                "UPDATE idempotency_keys SET status = $3, body = $4 \
                 WHERE client_id = $1 AND key = $2 AND claim_token = $5 AND status IS NULL",
                &[&key.client_id, &key.key, &(response.status as i32), &response.body, &token.as_str()],
            )
            .await?;
        if updated == 0 {
            // Another attempt's claim holds the key (this one's was taken over), or it is answered:
            // that claim's request answers it, and this response is dropped, as on SQLite.
            tracing::warn!(client = %key.client_id, key = %key.key, "an answer for a claim that no longer holds its key");
        }
        Ok(())
    }

    async fn release_idempotent(&self, key: &IdempotencyKey, token: &ClaimToken) -> anyhow::Result<()> {
        let conn = self.inner.general.get().await?;
        // Only this attempt's own open claim: a stored response must keep answering retries, and
        // another attempt's claim is that attempt's to settle.
        conn.client
            .execute(
                "DELETE FROM idempotency_keys WHERE client_id = $1 AND key = $2 AND claim_token = $3 AND status IS NULL",
                &[&key.client_id, &key.key, &token.as_str()],
            )
            .await?;
        Ok(())
    }
}
