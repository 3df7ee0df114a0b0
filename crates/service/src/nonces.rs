//! What requests write before they run, recorded in batches: every signed request, a read too, spends
//! its nonce durably before it is answered, so that a replay is refused by every instance and after a
//! restart; and a POST under an `Idempotency-Key` claims its key ([`crate::idempotency_claims`]). One
//! commit per request would bound every request by the database's commit rate; here concurrent
//! requests' nonces and claims queue to one task, which writes all that are waiting in one
//! transaction (one fsync, `AccessStore::admit_batch`) and answers each. A signed request's nonce and
//! its claim are one entry of the batch, so they are one commit, and the claim is made only if the
//! nonce is fresh: a replayed request leaves no claim behind. Nothing waits to fill a batch: while one
//! commit runs, the next batch gathers, so a batch is as large as the load makes it and a lone request
//! pays one commit.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;

use sanhu_core::Timestamp;
use sanhu_store::{AccessStore, IdempotencyBegin, IdempotencyClaim, NonceRecord, NoncedClaim, Store};
use tokio::sync::{mpsc, oneshot};

use crate::batch_failure::BatchFailure;

/// Limits of the nonce book.
#[derive(Clone, Debug)]
pub struct NonceConfig {
    /// Most requests (a nonce, a claim, or both) written in one transaction.
    pub batch_nonces_max: usize,
    /// Most requests waiting for the writer; past it, requests wait for room.
    pub queue_nonces_max: usize,
}

impl Default for NonceConfig {
    fn default() -> Self {
        NonceConfig { batch_nonces_max: 1024, queue_nonces_max: 16_384 }
    }
}

/// A signed request's nonce, to be spent: the client's nonce as used at `record.at`, and the time
/// before which nonces are forgotten (older than the signature window, so a request that old is
/// refused as stale anyway).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestNonce {
    pub record: NonceRecord,
    pub forget_before: Timestamp,
}

impl RequestNonce {
    pub fn new(client_id: &str, nonce: &str, at: Timestamp, forget_before: Timestamp) -> RequestNonce {
        RequestNonce {
            record: NonceRecord { client_id: client_id.to_owned(), nonce: nonce.to_owned(), at },
            forget_before,
        }
    }
}

/// One request's entry in a batch: its nonce, its claim (with the time it is made at), or both.
struct Pending {
    nonce: Option<RequestNonce>,
    claim: Option<(IdempotencyClaim, Timestamp)>,
    reply: oneshot::Sender<Result<Entered, BatchFailure>>,
}

/// What a request's entry came to once its batch committed.
#[derive(Debug)]
pub(crate) struct Entered {
    /// Whether its nonce was fresh (None: it had none).
    pub(crate) fresh: Option<bool>,
    /// What its key held (None: no claim, or not made because the nonce was a replay).
    pub(crate) begun: Option<IdempotencyBegin>,
}

/// How much the book's writer has written: transactions committed, and the nonces and claims in
/// them. One commit per batch, however many requests' nonces and claims it holds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BookCounts {
    pub commits: u64,
    pub nonces: u64,
    pub claims: u64,
}

#[derive(Default)]
struct Counters {
    commits: AtomicU64,
    nonces: AtomicU64,
    claims: AtomicU64,
}

/// Where signed requests spend their nonces (and, through [`crate::idempotency_claims::ClaimBook`],
/// claim their keys). Cheap to clone.
#[derive(Clone)]
pub struct NonceBook {
    queue: mpsc::Sender<Pending>,
    counters: Arc<Counters>,
    /// A fault for tests: batches holding a claim still to be answered with an error after their
    /// commit.
    answers_to_lose: Arc<AtomicUsize>,
}

impl NonceBook {
    /// Requests waiting for the book's writer (a gauge of `/metrics`).
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// What the book's writer has committed so far.
    pub fn counts(&self) -> BookCounts {
        BookCounts {
            commits: self.counters.commits.load(Ordering::SeqCst),
            nonces: self.counters.nonces.load(Ordering::SeqCst),
            claims: self.counters.claims.load(Ordering::SeqCst),
        }
    }

    /// Starts the book's writer on the current runtime.
    pub fn start(store: Store, config: NonceConfig) -> NonceBook {
        let (queue, receiver) = mpsc::channel(config.queue_nonces_max.max(1));
        let counters = Arc::new(Counters::default());
        let answers_to_lose = Arc::new(AtomicUsize::new(0));
        let writer = Writer { store, counters: counters.clone(), answers_to_lose: answers_to_lose.clone() };
        tokio::spawn(writer.run(config.batch_nonces_max.max(1), receiver));
        NonceBook { queue, counters, answers_to_lose }
    }

    /// Records `nonce` of `client_id` used at `at`; false if the client used it before (a replay).
    /// Nonces older than `forget_before` (older than the signature window) are forgotten.
    pub async fn record(
        &self,
        client_id: &str,
        nonce: &str,
        at: Timestamp,
        forget_before: Timestamp,
    ) -> anyhow::Result<bool> {
        let entered = self.enter(Some(RequestNonce::new(client_id, nonce, at, forget_before)), None).await?;
        Ok(entered.fresh.unwrap_or(false))
    }

    /// Writes a request's nonce and claim (either may be absent) in the next batch, one commit with
    /// the concurrent requests'.
    pub(crate) async fn enter(
        &self,
        nonce: Option<RequestNonce>,
        claim: Option<(IdempotencyClaim, Timestamp)>,
    ) -> anyhow::Result<Entered> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { nonce, claim, reply })
            .await
            .map_err(|_| anyhow::anyhow!("the nonce book's writer has stopped"))?;
        let entered = answer.await.map_err(|_| anyhow::anyhow!("the nonce book's writer has stopped"))?;
        Ok(entered?)
    }

    /// See [`crate::idempotency_claims::ClaimBook::lose_answers_after_commit`].
    pub(crate) fn lose_answers_after_commit(&self, batches: usize) {
        self.answers_to_lose.store(batches, Ordering::SeqCst);
    }
}

struct Writer {
    store: Store,
    counters: Arc<Counters>,
    answers_to_lose: Arc<AtomicUsize>,
}

impl Writer {
    async fn run(self, batch_max: usize, mut receiver: mpsc::Receiver<Pending>) {
        let mut batch = Vec::with_capacity(batch_max);
        while receiver.recv_many(&mut batch, batch_max).await > 0 {
            self.write(&mut batch).await;
        }
    }

    /// Writes one batch in one transaction and answers each of its requests.
    async fn write(&self, batch: &mut Vec<Pending>) {
        let mut nonces = Vec::new();
        let mut claims = Vec::new();
        // Each request's place in `nonces` and in `claims`.
        let mut places = Vec::with_capacity(batch.len());
        for pending in batch.iter() {
            let nonce = pending.nonce.as_ref().map(|n| {
                nonces.push(n.record.clone());
                nonces.len() - 1
            });
            let claim = pending.claim.as_ref().map(|(claim, _)| {
                claims.push(NoncedClaim { claim: claim.clone(), nonce });
                claims.len() - 1
            });
            places.push((nonce, claim));
        }
        // The oldest bound of the batch (each request's is its time less two signature windows, all
        // within moments of each other): what every request in it would forget.
        let forget_before = batch.iter().filter_map(|p| p.nonce.as_ref().map(|n| n.forget_before)).min();
        // The latest time of the batch: what a claim's lease is measured against (the requests' times
        // are within moments of each other, and the claims are made now).
        let now = batch.iter().filter_map(|p| p.claim.as_ref().map(|(_, now)| *now)).max();
        let started = std::time::Instant::now();
        let mut outcome =
            self.store.admit_batch(&nonces, forget_before.unwrap_or_default(), &claims, now.unwrap_or_default()).await;
        let metrics = crate::metrics::global();
        if !nonces.is_empty() {
            metrics.nonce_batch_size.observe(nonces.len() as f64);
        }
        metrics.nonce_batch_seconds.observe_duration(started.elapsed());
        if outcome.is_ok() {
            self.counters.commits.fetch_add(1, Ordering::SeqCst);
            self.counters.nonces.fetch_add(nonces.len() as u64, Ordering::SeqCst);
            self.counters.claims.fetch_add(claims.len() as u64, Ordering::SeqCst);
        }
        let lose = !claims.is_empty()
            && self.answers_to_lose.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if lose && outcome.is_ok() {
            let lost = std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "the commit's answer was lost (a fault for tests)",
            );
            outcome = Err(anyhow::Error::new(lost));
        }
        match outcome {
            Ok(admitted) => {
                let fresh = admitted.nonces.iter().filter(|fresh| **fresh).count() as u64;
                metrics.nonces.with(["fresh"]).add(fresh);
                metrics.nonces.with(["replayed"]).add(admitted.nonces.len() as u64 - fresh);
                debug_assert_eq!(admitted.nonces.len(), nonces.len(), "one answer a nonce");
                debug_assert_eq!(admitted.claims.len(), claims.len(), "one answer a claim");
                for (pending, (nonce, claim)) in batch.drain(..).zip(places) {
                    let entered = Entered {
                        fresh: nonce.and_then(|n| admitted.nonces.get(n).copied()),
                        begun: claim.and_then(|c| admitted.claims.get(c).cloned().flatten()),
                    };
                    let _ = pending.reply.send(Ok(entered));
                }
            }
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    nonces = nonces.len(),
                    claims = claims.len(),
                    "a batch of nonces and idempotency claims failed"
                );
                let failed = BatchFailure::new(error);
                for pending in batch.drain(..) {
                    let _ = pending.reply.send(Err(failed.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sanhu_store::testing::{Backend, TestDatabase};
    use sanhu_store::IdempotencyKey;

    use super::*;
    use crate::idempotency_claims::ClaimBook;

    fn key(name: &str) -> IdempotencyKey {
        IdempotencyKey { client_id: "cli_book".to_owned(), key: name.to_owned() }
    }

    #[tokio::test]
    async fn a_signed_requests_nonce_and_claim_are_one_commit_and_a_replay_leaves_no_claim() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            // None: PostgreSQL is out of reach outside CI (said by `TestDatabase`).
            let Some(db) = TestDatabase::new(backend).await else { continue };
            let nonces = NonceBook::start(db.store.clone(), NonceConfig::default());
            let claims = ClaimBook::over(nonces.clone());
            let now = crate::clock::now();
            let nonce = RequestNonce::new("cli_book", "nonce-one-0123456789", now, Timestamp::from_nanos(0));

            // The nonce and the claim of one request: one commit holding both.
            let begun = claims.begin_signed(IdempotencyClaim::new(key("k1"), "f1"), now, nonce.clone()).await.unwrap();
            assert_eq!(begun, Some(IdempotencyBegin::Claimed), "{backend:?}");
            assert_eq!(nonces.counts(), BookCounts { commits: 1, nonces: 1, claims: 1 }, "{backend:?}");

            // The same nonce again, with a claim on another key: refused, and no claim is made.
            let replayed = claims.begin_signed(IdempotencyClaim::new(key("k2"), "f2"), now, nonce.clone()).await;
            assert_eq!(replayed.unwrap(), None, "{backend:?}: a replayed nonce makes no claim");
            let fresh = RequestNonce::new("cli_book", "nonce-two-0123456789", now, Timestamp::from_nanos(0));
            let after = claims.begin_signed(IdempotencyClaim::new(key("k2"), "f2"), now, fresh).await.unwrap();
            assert_eq!(after, Some(IdempotencyBegin::Claimed), "{backend:?}: the key was left free");
            // The first claim holds its key: a retry finds it in use.
            let retry = RequestNonce::new("cli_book", "nonce-three-012345678", now, Timestamp::from_nanos(0));
            let held = claims.begin_signed(IdempotencyClaim::new(key("k1"), "f1"), now, retry).await.unwrap();
            assert_eq!(held, Some(IdempotencyBegin::InUse), "{backend:?}");
            // And the nonce is spent for every later request (a read's, say).
            assert!(!nonces.record("cli_book", "nonce-one-0123456789", now, Timestamp::from_nanos(0)).await.unwrap());
            assert_eq!(nonces.counts().commits, 5, "{backend:?}: one commit a request");
        }
    }

    #[tokio::test]
    async fn concurrent_requests_nonces_and_claims_are_each_written_once() {
        for backend in [Backend::Sqlite, Backend::Postgres] {
            let Some(db) = TestDatabase::new(backend).await else { continue };
            let nonces = NonceBook::start(db.store.clone(), NonceConfig::default());
            let claims = ClaimBook::over(nonces.clone());
            let now = crate::clock::now();
            let requests = 64;
            let mut tasks = tokio::task::JoinSet::new();
            for i in 0..requests {
                let (claims, nonces) = (claims.clone(), nonces.clone());
                tasks.spawn(async move {
                    let nonce = RequestNonce::new("cli_book", &format!("nonce-{i:016}"), now, Timestamp::from_nanos(0));
                    if i % 2 == 0 {
                        let claim = IdempotencyClaim::new(key(&format!("many-{i}")), "f");
                        claims.begin_signed(claim, now, nonce).await.unwrap() == Some(IdempotencyBegin::Claimed)
                    } else {
                        nonces.record("cli_book", &nonce.record.nonce, now, Timestamp::from_nanos(0)).await.unwrap()
                    }
                });
            }
            while let Some(done) = tasks.join_next().await {
                assert!(done.unwrap(), "{backend:?}: every nonce fresh, every key claimed");
            }
            // However the requests fell into batches, each was written once: its nonce, and its claim
            // with it.
            let counts = nonces.counts();
            assert_eq!((counts.nonces, counts.claims), (requests, requests / 2), "{backend:?}");
            assert!((1..=requests).contains(&counts.commits), "{backend:?}: {counts:?}");
        }
    }
}
