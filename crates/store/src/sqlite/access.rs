//! API clients, request nonces and idempotency keys on SQLite (see `crate::access`). Every write runs
//! on the writer connection, so deciding whether a client may take another key and adding it cannot
//! interleave with another writer, and a claim on an idempotency key is decided in one transaction.

use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};
use sanhu_core::Timestamp;

use super::SqliteStore;
use crate::access::{clients_from_rows, clients_with_keys, ClientKeyRow};
use crate::{
    check_answer, AccessStore, Admitted, ApiClient, ClaimToken, ClientKey, IdempotencyAnswer, IdempotencyBegin,
    IdempotencyClaim, IdempotencyKey, KeyAdded, NonceRecord, NoncedClaim, StoredResponse, CLIENT_ACTIVE_KEYS_MAX,
    IDEMPOTENCY_CLAIM_LEASE_S,
};

impl AccessStore for SqliteStore {
    async fn create_client(&self, client: &ApiClient) -> anyhow::Result<()> {
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

    async fn list_clients(&self) -> anyhow::Result<Vec<ApiClient>> {
        self.read(|c| read_clients(c, "", None)).await
    }

    async fn get_client(&self, id: &str) -> anyhow::Result<Option<ApiClient>> {
        let id = id.to_owned();
        self.read(move |c| Ok(read_clients(c, "WHERE c.id = ?1", Some(&id))?.pop())).await
    }

    async fn revoke_client(&self, id: &str, at: Timestamp) -> anyhow::Result<bool> {
        let id = id.to_owned();
        self.write(move |c| {
            let changed = c.execute(
                "UPDATE api_clients SET revoked_at = COALESCE(revoked_at, ?1) WHERE id = ?2",
                params![at.nanos(), id],
            )?;
            Ok(changed == 1)
        })
        .await
    }

    async fn add_client_key(&self, client_id: &str, public_key: &[u8; 32], at: Timestamp) -> anyhow::Result<KeyAdded> {
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

    async fn revoke_client_key(&self, client_id: &str, number: u32, at: Timestamp) -> anyhow::Result<bool> {
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

    async fn record_nonce(
        &self,
        client_id: &str,
        nonce: &str,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> anyhow::Result<bool> {
        let (client_id, nonce) = (client_id.to_owned(), nonce.to_owned());
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            // Forgetting is bounded per call so that one request never pays for a large backlog.
            tx.prepare_cached(
                "DELETE FROM api_nonces WHERE (client_id, nonce) IN
                 (SELECT client_id, nonce FROM api_nonces WHERE seen_at < ?1 LIMIT 100)",
            )?
            .execute([forget_before.nanos()])?;
            let inserted = tx
                .prepare_cached("INSERT OR IGNORE INTO api_nonces (client_id, nonce, seen_at) VALUES (?1, ?2, ?3)")?
                .execute(params![client_id, nonce, at.nanos()])?;
            tx.commit()?;
            Ok(inserted == 1)
        })
        .await
    }

    async fn record_nonces(&self, nonces: &[NonceRecord], forget_before: Timestamp) -> anyhow::Result<Vec<bool>> {
        let nonces = nonces.to_vec();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let recorded = record_nonces_in(&tx, &nonces, forget_before)?;
            tx.commit()?;
            Ok(recorded)
        })
        .await
    }

    async fn admit_batch(
        &self,
        nonces: &[NonceRecord],
        forget_before: Timestamp,
        claims: &[NoncedClaim],
        now: Timestamp,
    ) -> anyhow::Result<Admitted> {
        let (nonces, claims) = (nonces.to_vec(), claims.to_vec());
        let inner = self.inner.clone();
        self.write(move |c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let fresh = record_nonces_in(&tx, &nonces, forget_before)?;
            let mut begun = vec![None; claims.len()];
            let made: Vec<(usize, &IdempotencyClaim)> = Admitted::made(&fresh, &claims).collect();
            if !made.is_empty() {
                let mut instance = inner.instance.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
                let token = instance.token();
                for (index, claim) in made {
                    begun[index] = Some(claim_key(&tx, &mut instance, token.as_deref(), claim, now)?);
                }
            }
            tx.commit()?;
            Ok(Admitted { nonces: fresh, claims: begun })
        })
        .await
    }

    async fn begin_idempotent(&self, claim: &IdempotencyClaim, now: Timestamp) -> anyhow::Result<IdempotencyBegin> {
        let mut begun = self.begin_idempotent_batch(std::slice::from_ref(claim), now).await?;
        begun.pop().context("one answer for one claim")
    }

    async fn begin_idempotent_batch(
        &self,
        claims: &[IdempotencyClaim],
        now: Timestamp,
    ) -> anyhow::Result<Vec<IdempotencyBegin>> {
        if claims.is_empty() {
            return Ok(Vec::new());
        }
        let claims = claims.to_vec();
        let inner = self.inner.clone();
        self.write(move |c| {
            let mut instance = inner.instance.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let token = instance.token();
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let mut begun = Vec::with_capacity(claims.len());
            for claim in &claims {
                begun.push(claim_key(&tx, &mut instance, token.as_deref(), claim, now)?);
            }
            tx.commit()?;
            Ok(begun)
        })
        .await
    }

    async fn complete_idempotent(
        &self,
        key: &IdempotencyKey,
        token: &ClaimToken,
        response: &StoredResponse,
    ) -> anyhow::Result<()> {
        let answer = IdempotencyAnswer { key: key.clone(), token: token.clone(), response: Some(response.clone()) };
        check_answer(&answer)?;
        self.write(move |c| settle_key(c, &answer)).await
    }

    async fn release_idempotent(&self, key: &IdempotencyKey, token: &ClaimToken) -> anyhow::Result<()> {
        let answer = IdempotencyAnswer { key: key.clone(), token: token.clone(), response: None };
        self.write(move |c| settle_key(c, &answer)).await
    }
}

/// Records nonces inside the caller's transaction: for each, whether it is fresh (see
/// `AccessStore::record_nonces`).
fn record_nonces_in(tx: &Connection, nonces: &[NonceRecord], forget_before: Timestamp) -> anyhow::Result<Vec<bool>> {
    if nonces.is_empty() {
        return Ok(Vec::new());
    }
    // Forgetting is bounded per batch so that one batch never pays for a large backlog; a nonce
    // older than `forget_before` still in the table is taken as new (its row is renewed).
    tx.prepare_cached(
        "DELETE FROM api_nonces WHERE (client_id, nonce) IN
         (SELECT client_id, nonce FROM api_nonces WHERE seen_at < ?1 LIMIT 1000)",
    )?
    .execute([forget_before.nanos()])?;
    let mut insert = tx.prepare_cached(
        "INSERT INTO api_nonces (client_id, nonce, seen_at) VALUES (?1, ?2, ?3)
         ON CONFLICT (client_id, nonce) DO UPDATE SET seen_at = excluded.seen_at
         WHERE api_nonces.seen_at < ?4",
    )?;
    let mut recorded = Vec::with_capacity(nonces.len());
    for n in nonces {
        let changed = insert.execute(params![n.client_id, n.nonce, n.at.nanos(), forget_before.nanos()])?;
        recorded.push(changed == 1);
    }
    Ok(recorded)
}

/// Claims one key inside the caller's transaction, or reports what it holds (see
/// `AccessStore::begin_idempotent`). Claims earlier in the same transaction are seen.
fn claim_key(
    tx: &Connection,
    instance: &mut super::instance::InstanceLock,
    token: Option<&str>,
    claim: &IdempotencyClaim,
    now: Timestamp,
) -> anyhow::Result<IdempotencyBegin> {
    let (key, fingerprint, attempt) = (&claim.key, &claim.fingerprint, claim.token.as_str());
    let existing = tx
        .prepare_cached(
            "SELECT fingerprint, claimed_at, status, body, claimed_by, claim_token FROM idempotency_keys \
             WHERE client_id = ?1 AND key = ?2",
        )?
        .query_row(params![key.client_id, key.key], |r| {
            Ok((
                r.get::<_, String>(0)?,
                r.get::<_, i64>(1)?,
                r.get::<_, Option<u16>>(2)?,
                r.get::<_, Option<Vec<u8>>>(3)?,
                r.get::<_, Option<String>>(4)?,
            ))
            .and_then(|row| Ok((row, r.get::<_, Option<String>>(5)?)))
        })
        .optional()?;
    // The claim a lost attempt of this very request left (its handler never ran): taken over at once.
    if let Some(((stored, _, None, _, _), Some(held))) = &existing {
        if stored == fingerprint && claim.supersedes.iter().any(|lost| lost.as_str() == held) {
            let taken = tx
                .prepare_cached(
                    "UPDATE idempotency_keys SET claimed_at = ?1, claimed_by = ?2, claim_token = ?3 \
                     WHERE client_id = ?4 AND key = ?5 AND claim_token = ?6 AND status IS NULL",
                )?
                .execute(params![now.nanos(), token, attempt, key.client_id, key.key, held])?;
            if taken == 1 {
                return Ok(IdempotencyBegin::Claimed);
            }
        }
    }
    let existing = existing.map(|(row, _)| row);
    Ok(match existing {
        None => {
            tx.prepare_cached(
                "INSERT INTO idempotency_keys (client_id, key, fingerprint, claimed_at, claimed_by, claim_token) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?
            .execute(params![key.client_id, key.key, fingerprint, now.nanos(), token, attempt])?;
            IdempotencyBegin::Claimed
        }
        Some((stored, _, _, _, _)) if &stored != fingerprint => IdempotencyBegin::Mismatch,
        Some((_, _, Some(status), body, _)) => {
            IdempotencyBegin::Replay(StoredResponse { status, body: body.unwrap_or_default() })
        }
        // A claimant known to live (this store, or one whose instance lock is held) holds its claim
        // however long its request runs or its answer waits to be kept; one that cannot be told (no
        // instance lock) holds it for the lease.
        Some((_, _, None, _, Some(by))) if !instance.is_gone(&by) => IdempotencyBegin::InUse,
        Some((_, claimed_at, None, _, None)) if !claim_lapsed(claimed_at, now) => IdempotencyBegin::InUse,
        Some(_) => {
            // The first request's store is gone (its process died) before answering, or its claim,
            // made without an instance lock, lapsed. Whatever it did was either committed in full or
            // not at all, so running afresh is safe only because every money movement below is itself
            // idempotent (a transfer's id, the caller's or one derived from the key, finds what the
            // first run applied) or was rolled back. The claim takes this attempt's token: the dead
            // one's can settle it no more.
            tx.prepare_cached(
                "UPDATE idempotency_keys SET claimed_at = ?1, claimed_by = ?2, claim_token = ?3 \
                 WHERE client_id = ?4 AND key = ?5",
            )?
            .execute(params![now.nanos(), token, attempt, key.client_id, key.key])?;
            IdempotencyBegin::Claimed
        }
    })
}

/// Settles a claimed key inside the caller's transaction: stores its response, or (None) releases
/// it; either only while the claim `answer.token` made holds the key without a response. The audit
/// log's append calls it, so that a request's event and its answer are one commit.
pub(super) fn settle_key(c: &Connection, answer: &IdempotencyAnswer) -> anyhow::Result<()> {
    let (key, token) = (&answer.key, answer.token.as_str());
    let settled = match &answer.response {
        Some(response) => c
            .prepare_cached(
                "UPDATE idempotency_keys SET status = ?1, body = ?2 \
                 WHERE client_id = ?3 AND key = ?4 AND claim_token = ?5 AND status IS NULL",
            )?
            .execute(params![response.status, response.body, key.client_id, key.key, token])?,
        None => c
            .prepare_cached(
                "DELETE FROM idempotency_keys WHERE client_id = ?1 AND key = ?2 AND claim_token = ?3 AND status IS NULL",
            )?
            .execute(params![key.client_id, key.key, token])?,
    };
    if settled == 0 && answer.response.is_some() {
        // Another attempt's claim holds the key (this one's was taken over), or it is answered: that
        // claim's request answers it, and this response is dropped.
        tracing::warn!(client = %key.client_id, key = %key.key, "an answer for a claim that no longer holds its key");
    }
    Ok(())
}

fn claim_lapsed(claimed_at: i64, now: Timestamp) -> bool {
    now.nanos().saturating_sub(claimed_at) >= IDEMPOTENCY_CLAIM_LEASE_S as i64 * 1_000_000_000
}

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
