//! Who may call the API and what their calls have already done: API clients and their keys, the
//! nonces of signed requests (replays), and idempotency keys with the responses they replay. These
//! are read or written on every signed request, far from the ledger's rules and the same on both
//! backends.

use sanhu_core::id::MemberId;
use sanhu_core::scope::Scopes;
use sanhu_core::Timestamp;

store_trait! {
    /// What every backend provides for API access. Each method is one transaction.
    pub trait AccessStore {
        fn create_client(&self, client: &ApiClient) -> anyhow::Result<()>;
        fn list_clients(&self) -> anyhow::Result<Vec<ApiClient>>;
        fn get_client(&self, id: &str) -> anyhow::Result<Option<ApiClient>>;
        /// Marks a client revoked; returns false if there is no such client.
        fn revoke_client(&self, id: &str, at: Timestamp) -> anyhow::Result<bool>;
        /// Adds an active public key to a client, numbered one more than its last, unless it holds
        /// [`CLIENT_ACTIVE_KEYS_MAX`] active keys already (decided in the same transaction as the
        /// insert).
        fn add_client_key(&self, client_id: &str, public_key: &[u8; 32], at: Timestamp) -> anyhow::Result<KeyAdded>;
        /// Revokes a client's key by its number; returns false if the client has no such key. A
        /// second revocation keeps the first time.
        fn revoke_client_key(&self, client_id: &str, number: u32, at: Timestamp) -> anyhow::Result<bool>;

        /// Records a request nonce; false if the client used it before (a replay). Forgets nonces
        /// older than `forget_before`, which must be older than the signature window.
        fn record_nonce(
            &self,
            client_id: &str,
            nonce: &str,
            at: Timestamp,
            forget_before: Timestamp,
        ) -> anyhow::Result<bool>;
        /// Records many requests' nonces in one transaction (one commit): for each, in order, false
        /// if its client used it before (a replay), an earlier one of the same batch included.
        /// Forgets nonces older than `forget_before`, as [`AccessStore::record_nonce`] does.
        fn record_nonces(&self, nonces: &[NonceRecord], forget_before: Timestamp) -> anyhow::Result<Vec<bool>>;

        /// Claims an idempotency key for a request (`claim`: the key, the request's fingerprint and
        /// the attempt's own token), or reports what the key holds.
        fn begin_idempotent(&self, claim: &IdempotencyClaim, now: Timestamp) -> anyhow::Result<IdempotencyBegin>;
        /// Claims many keys in one transaction (one commit), each as [`AccessStore::begin_idempotent`]
        /// would, in the order given: a key given twice in the batch is claimed by the first and
        /// found in use (or a mismatch) by the later ones.
        fn begin_idempotent_batch(
            &self,
            claims: &[IdempotencyClaim],
            now: Timestamp,
        ) -> anyhow::Result<Vec<IdempotencyBegin>>;
        /// What signed requests write before they run, in one transaction (one commit): `nonces` are
        /// recorded as [`AccessStore::record_nonces`] records them, then `claims` are made as
        /// [`AccessStore::begin_idempotent_batch`] makes them, in order, except that a claim whose
        /// request's nonce (`NoncedClaim::nonce`, an index into `nonces`) is not fresh is not made at
        /// all (its answer is None): a replayed request leaves no claim behind. A failure commits
        /// none of it.
        fn admit_batch(
            &self,
            nonces: &[NonceRecord],
            forget_before: Timestamp,
            claims: &[NoncedClaim],
            now: Timestamp,
        ) -> anyhow::Result<Admitted>;
        /// Stores the response of the claim `token` made on `key`: only while that claim holds the
        /// key unanswered (another attempt's claim, or an answer, is left as it is).
        fn complete_idempotent(
            &self,
            key: &IdempotencyKey,
            token: &ClaimToken,
            response: &StoredResponse,
        ) -> anyhow::Result<()>;
        /// Releases the claim `token` made on `key`, if it still holds the key without a response, so
        /// that a retry runs afresh. Only for a request that provably had no effect (it never ran, or
        /// it answered that nothing was applied); another attempt's claim is never released.
        fn release_idempotent(&self, key: &IdempotencyKey, token: &ClaimToken) -> anyhow::Result<()>;
    }
}

/// A server-to-server API client: it signs requests with an Ed25519 key whose public half is here,
/// holds scopes, and may be bound to one enterprise member (a merchant) whose objects alone it reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiClient {
    /// `cli_…`
    pub id: String,
    pub name: String,
    /// Its public keys, revoked ones included, in the order they were added (numbered from 1). A
    /// request verifies against any active one; at most [`CLIENT_ACTIVE_KEYS_MAX`] are active.
    pub keys: Vec<ClientKey>,
    /// What it may do.
    pub scopes: Scopes,
    /// The enterprise member it acts for, if it is bound to one.
    pub bound_to: Option<MemberId>,
    pub created_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

impl ApiClient {
    /// A client with one key (number 1), every scope, bound to no member.
    pub fn new(id: String, name: String, public_key: [u8; 32], created_at: Timestamp) -> ApiClient {
        ApiClient {
            id,
            name,
            keys: vec![ClientKey { number: 1, public_key, added_at: created_at, revoked_at: None }],
            scopes: Scopes::all(),
            bound_to: None,
            created_at,
            revoked_at: None,
        }
    }

    /// The keys a signature may verify against.
    pub fn active_keys(&self) -> impl Iterator<Item = &ClientKey> {
        self.keys.iter().filter(|key| key.revoked_at.is_none())
    }
}

/// One public key of an API client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientKey {
    /// 1 for the key the client was created with, one more for each key added.
    pub number: u32,
    /// Ed25519 public key, 32 bytes.
    pub public_key: [u8; 32],
    pub added_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// Most keys a client holds active at once: two, so that a key is rotated by adding the new one,
/// moving the callers over, then revoking the old one, without a moment when no key works.
pub const CLIENT_ACTIVE_KEYS_MAX: usize = 2;

/// What adding a key to a client did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyAdded {
    /// The key is active under this number.
    Added { number: u32 },
    /// No client has this id.
    NoClient,
    /// The client holds [`CLIENT_ACTIVE_KEYS_MAX`] active keys already: revoke one first.
    TooManyActive,
}

/// A signed request's nonce, as its client used it at `at`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NonceRecord {
    pub client_id: String,
    pub nonce: String,
    pub at: Timestamp,
}

/// Which of `nonces` are the first of their (client, nonce) in the batch: a later one is a replay of
/// the earlier whatever the database holds.
pub fn first_in_batch(nonces: &[NonceRecord]) -> Vec<bool> {
    let mut seen = std::collections::HashSet::with_capacity(nonces.len());
    nonces.iter().map(|n| seen.insert((n.client_id.as_str(), n.nonce.as_str()))).collect()
}

/// An idempotency key is scoped to the client that sent it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IdempotencyKey {
    pub client_id: String,
    pub key: String,
}

/// A request's claim on an idempotency key, for [`AccessStore::begin_idempotent_batch`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyClaim {
    pub key: IdempotencyKey,
    /// Keyed hash of the request (method, path, body): the same key with another is a mismatch.
    pub fingerprint: String,
    /// This attempt's own token, kept in the claim: only the attempt that holds it can answer or
    /// release the claim (see [`ClaimToken`]).
    pub token: ClaimToken,
    /// The tokens of earlier attempts of this request on the same key whose claims' commits were
    /// lost (failed, or their outcome unknown) before their requests ran: their handlers never ran,
    /// so a claim one of them left holds nothing, and this claim takes it over at once instead of
    /// finding the key in use. Only an unanswered claim with one of exactly these tokens and this
    /// claim's fingerprint is taken; any other claim is looked at as usual.
    pub supersedes: Vec<ClaimToken>,
}

impl IdempotencyClaim {
    /// A claim on `key` for a request with `fingerprint`, under a fresh token.
    pub fn new(key: IdempotencyKey, fingerprint: impl Into<String>) -> IdempotencyClaim {
        IdempotencyClaim { key, fingerprint: fingerprint.into(), token: ClaimToken::new(), supersedes: Vec::new() }
    }
}

/// A claim in [`AccessStore::admit_batch`], with the request's nonce if it is a signed request's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NoncedClaim {
    pub claim: IdempotencyClaim,
    /// The index of the request's nonce in the batch's nonces: the claim is made only if that nonce
    /// is fresh. None for a request without a nonce (a staff member's).
    pub nonce: Option<usize>,
}

/// What [`AccessStore::admit_batch`] did: for each nonce, whether it was fresh; for each claim, what
/// the key held (None: not made, its request's nonce being a replay).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Admitted {
    pub nonces: Vec<bool>,
    pub claims: Vec<Option<IdempotencyBegin>>,
}

impl Admitted {
    /// The claims to make, in order: those whose request's nonce is fresh (or that have none).
    pub fn made<'a>(
        nonces: &'a [bool],
        claims: &'a [NoncedClaim],
    ) -> impl Iterator<Item = (usize, &'a IdempotencyClaim)> {
        claims
            .iter()
            .enumerate()
            .filter(|(_, c)| c.nonce.is_none_or(|n| nonces.get(n).copied().unwrap_or(false)))
            .map(|(i, c)| (i, &c.claim))
    }
}

/// What tells one attempt's claim on a key from every other's: 128 random bits (32 hex digits),
/// drawn for each request that claims a key and kept in its claim (and again when a claim is taken
/// over). An answer or a release names the token of the claim it settles, and the store settles the
/// key only while that claim holds it unanswered: a request whose claim was lost, never made, or
/// taken over by a retry cannot delete or answer the claim another request holds while it runs.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ClaimToken(String);

impl ClaimToken {
    /// A fresh token from the operating system's randomness.
    pub fn new() -> ClaimToken {
        let mut random = [0u8; 16];
        // The operating system's randomness does not fail on the platforms sanhu runs on; were it to,
        // a token from the time and a counter is still unique to this attempt within this process,
        // and the instance's own claims are never taken over while it lives.
        if getrandom::getrandom(&mut random).is_err() {
            use std::sync::atomic::{AtomicU64, Ordering};
            static COUNTER: AtomicU64 = AtomicU64::new(0);
            random[..8].copy_from_slice(&crate::now_nanos().to_le_bytes());
            random[8..].copy_from_slice(&COUNTER.fetch_add(1, Ordering::Relaxed).to_le_bytes());
        }
        ClaimToken(hex::encode(random))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Default for ClaimToken {
    fn default() -> Self {
        ClaimToken::new()
    }
}

/// What a claimed key's request came to, written with the audit event that records the request
/// (`audit::AuditStore::append_audit_answering`): its response, kept for replay, or None for the
/// key's release (only for a request that provably had no effect), so that a retry runs afresh.
/// Settles only the claim `token` made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyAnswer {
    pub key: IdempotencyKey,
    pub token: ClaimToken,
    pub response: Option<StoredResponse>,
}

/// Largest response body a key keeps for replay, in bytes. The store refuses a larger one (that
/// answer's request alone fails; see [`check_answer`]).
pub const STORED_RESPONSE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// Checks what an answer promises before a backend stores it: its body is within
/// [`STORED_RESPONSE_BYTES_MAX`].
pub(crate) fn check_answer(answer: &IdempotencyAnswer) -> anyhow::Result<()> {
    if let Some(response) = &answer.response {
        anyhow::ensure!(
            response.body.len() <= STORED_RESPONSE_BYTES_MAX,
            "refusing to keep an answer of {} bytes for idempotency key {:?} (at most {STORED_RESPONSE_BYTES_MAX})",
            response.body.len(),
            answer.key.key
        );
    }
    Ok(())
}

/// How long a claim whose claimant cannot be told holds, in seconds. A claim records the store that
/// made it (its instance lock's token). While that store is known to live (its lock is held), its
/// claim holds for as long as its request runs and its answer waits to be kept: the request may have
/// had effects, and a second run could repeat one that is not itself idempotent. Once the store is
/// known to be gone (its lock is free: the process ended), the claim is taken over at once. Only a
/// claim made without an instance lock, whose claimant can never be told apart from a live one,
/// lapses after this lease.
pub const IDEMPOTENCY_CLAIM_LEASE_S: u32 = 60;

/// A response kept for replay.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredResponse {
    pub status: u16,
    pub body: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdempotencyBegin {
    /// The key is now claimed by this request: run it, then complete or release the key.
    Claimed,
    /// The key has a stored response for the same request: replay it.
    Replay(StoredResponse),
    /// The key was used for a different request.
    Mismatch,
    /// The key's first request is still running.
    InUse,
}

/// One row of the query both backends read clients with: a client's columns and one of its keys
/// (none for a client without keys), ordered by client, then key number.
pub(crate) struct ClientKeyRow {
    pub id: String,
    pub name: String,
    /// The scopes' names, separated by spaces.
    pub scopes: String,
    pub bound_to: Option<String>,
    pub created_at: i64,
    pub revoked_at: Option<i64>,
    pub key: Option<ClientKey>,
}

/// The query's columns, in `ClientKeyRow`'s order, then the key's: number, public key, added at,
/// revoked at; the caller appends its condition and order. A macro, so that `concat!` can make a
/// `&'static str` of the whole statement (PostgreSQL's statement cache takes one).
macro_rules! clients_with_keys {
    () => {
        "SELECT c.id, c.name, c.scopes, c.bound_to, c.created_at, c.revoked_at, \
         k.number, k.public_key, k.added_at, k.revoked_at \
         FROM api_clients c LEFT JOIN api_client_keys k ON k.client_id = c.id"
    };
}
pub(crate) use clients_with_keys;

/// Folds consecutive rows of one client into one [`ApiClient`]. A stored value no client could have
/// (an unknown scope, a malformed member id) is an error, not a client with less.
pub(crate) fn clients_from_rows(rows: impl IntoIterator<Item = ClientKeyRow>) -> anyhow::Result<Vec<ApiClient>> {
    let mut clients: Vec<ApiClient> = Vec::new();
    for row in rows {
        if clients.last().is_none_or(|client| client.id != row.id) {
            let scopes = Scopes::parse_list(&row.scopes)
                .map_err(|unknown| anyhow::anyhow!("API client {} has a stored scope that {unknown}", row.id))?;
            let bound_to = match &row.bound_to {
                None => None,
                Some(text) => Some(
                    MemberId::parse(text)
                        .ok_or_else(|| anyhow::anyhow!("API client {} is bound to {text:?}, no member id", row.id))?,
                ),
            };
            clients.push(ApiClient {
                id: row.id,
                name: row.name,
                keys: Vec::new(),
                scopes,
                bound_to,
                created_at: Timestamp::from_nanos(row.created_at),
                revoked_at: row.revoked_at.map(Timestamp::from_nanos),
            });
        }
        if let (Some(key), Some(client)) = (row.key, clients.last_mut()) {
            client.keys.push(key);
        }
    }
    Ok(clients)
}
