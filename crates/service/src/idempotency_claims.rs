//! Claims on idempotency keys, made in batches: a POST under an `Idempotency-Key` claims its key
//! durably before it runs, so that a retry, on this instance or another, finds it in use or answered
//! rather than running it a second time. One commit per claim bounded every such request by the
//! database's commit rate; here concurrent requests' claims queue to one task, which makes all that
//! are waiting in one transaction (one fsync) and answers each, as the nonces are recorded
//! ([`crate::nonces`]). Nothing waits to fill a batch: while one commit runs, the next batch gathers.
//!
//! The other half, the answer kept for replay, is committed with the request's audit event
//! (`sanhu_store::audit::AuditStore::append_audit_answering`), in the audit writer's batches.
//!
//! A batch that fails answers each of its requests with the error, and whether the claims were
//! committed is then unknown (the commit's answer may be what was lost). Each claim carries its
//! attempt's own token (`sanhu_store::ClaimToken`), so the request can release its claim afterwards
//! without any risk to a claim another request (a retry, on this instance or another, or a request of
//! a later batch) made on the same key in the meantime: the store deletes only the claim with that
//! token.
//!
//! **A lost claim does not hold its key.** The book remembers the token of every claim whose batch
//! failed, until that claim's release is committed. A request of the same key on this instance (the
//! caller's retry) names those tokens in its own claim (`IdempotencyClaim::supersedes`), and the store
//! lets it take over a claim that holds one of them: the lost attempt's handler never ran, so nothing
//! is run twice, and the retry after a failover is answered at once instead of `in use` until the
//! background release gets through. A retry on another instance waits for that release (the
//! claimant lives, and its claim does not lapse), which is tried again from 100 ms on.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use sanhu_core::Timestamp;
use sanhu_store::{AccessStore, ClaimToken, IdempotencyBegin, IdempotencyClaim, IdempotencyKey, Store};
use tokio::sync::{mpsc, oneshot};

use crate::batch_failure::BatchFailure;

/// Limits of the claim book.
#[derive(Clone, Debug)]
pub struct ClaimConfig {
    /// Most claims made in one transaction.
    pub batch_claims_max: usize,
    /// Most claims waiting for the writer; past it, requests wait for room.
    pub queue_claims_max: usize,
}

impl Default for ClaimConfig {
    fn default() -> Self {
        ClaimConfig { batch_claims_max: 1024, queue_claims_max: 16_384 }
    }
}

struct Pending {
    claim: IdempotencyClaim,
    now: Timestamp,
    reply: oneshot::Sender<Result<IdempotencyBegin, BatchFailure>>,
}

/// Where requests claim their idempotency keys. Cheap to clone.
#[derive(Clone)]
pub struct ClaimBook {
    queue: mpsc::Sender<Pending>,
    /// The claims whose commit was lost, by key, until each one's release is committed.
    lost: Arc<Mutex<HashMap<IdempotencyKey, Vec<ClaimToken>>>>,
    /// A fault for tests: batches still to be answered with an error after their commit.
    answers_to_lose: Arc<AtomicUsize>,
}

impl ClaimBook {
    /// Starts the book's writer on the current runtime.
    pub fn start(store: Store, config: ClaimConfig) -> ClaimBook {
        let (queue, receiver) = mpsc::channel(config.queue_claims_max.max(1));
        let answers_to_lose = Arc::new(AtomicUsize::new(0));
        tokio::spawn(run(store, config.batch_claims_max.max(1), receiver, answers_to_lose.clone()));
        ClaimBook { queue, lost: Default::default(), answers_to_lose }
    }

    /// Claims `claim`'s key at `now`, or reports what the key holds (see
    /// `AccessStore::begin_idempotent`). An error leaves it unknown whether the claim was committed:
    /// the claim is then remembered as lost until [`ClaimBook::released`] says its release is
    /// committed, and a later claim of the same key through this book may take it over.
    pub async fn begin(&self, mut claim: IdempotencyClaim, now: Timestamp) -> anyhow::Result<IdempotencyBegin> {
        claim.supersedes = self.lost().get(&claim.key).cloned().unwrap_or_default();
        let (key, token, superseding) = (claim.key.clone(), claim.token.clone(), claim.supersedes.clone());
        let begun = self.send(claim, now).await;
        let mut lost = self.lost();
        match &begun {
            Err(_) => lost.entry(key).or_default().push(token),
            // Another request's claim holds the key: the lost ones are still to be released.
            Ok(IdempotencyBegin::Mismatch) => {}
            // Taken over, found gone, answered, or held by a claim that is none of them: the lost
            // claims hold the key no more.
            Ok(_) if !superseding.is_empty() => {
                if let Some(tokens) = lost.get_mut(&key) {
                    tokens.retain(|t| !superseding.contains(t));
                    if tokens.is_empty() {
                        lost.remove(&key);
                    }
                }
            }
            Ok(_) => {}
        }
        begun
    }

    /// Says that the release of the lost claim `token` on `key` is committed.
    pub fn released(&self, key: &IdempotencyKey, token: &ClaimToken) {
        let mut lost = self.lost();
        if let Some(tokens) = lost.get_mut(key) {
            tokens.retain(|t| t != token);
            if tokens.is_empty() {
                lost.remove(key);
            }
        }
    }

    /// A fault for tests, which the database cannot make by itself: the next `batches` batches are
    /// committed and then answered with an error, as when the connection drops during the commit's
    /// answer (a failover).
    #[doc(hidden)]
    pub fn lose_answers_after_commit(&self, batches: usize) {
        self.answers_to_lose.store(batches, Ordering::SeqCst);
    }

    fn lost(&self) -> std::sync::MutexGuard<'_, HashMap<IdempotencyKey, Vec<ClaimToken>>> {
        self.lost.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    async fn send(&self, claim: IdempotencyClaim, now: Timestamp) -> anyhow::Result<IdempotencyBegin> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { claim, now, reply })
            .await
            .map_err(|_| anyhow::anyhow!("the idempotency claims' writer has stopped"))?;
        let begun = answer.await.map_err(|_| anyhow::anyhow!("the idempotency claims' writer has stopped"))?;
        Ok(begun?)
    }
}

async fn run(store: Store, batch_max: usize, mut receiver: mpsc::Receiver<Pending>, answers_to_lose: Arc<AtomicUsize>) {
    let mut batch = Vec::with_capacity(batch_max);
    while receiver.recv_many(&mut batch, batch_max).await > 0 {
        let claims: Vec<IdempotencyClaim> = batch.iter().map(|p| p.claim.clone()).collect();
        // The latest time of the batch: what a lease is measured against (the requests' times are
        // within moments of each other, and the claim is made now).
        let now = batch.iter().map(|p| p.now).max().unwrap_or_default();
        let mut outcome = store.begin_idempotent_batch(&claims, now).await;
        let lose = answers_to_lose.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok();
        if lose && outcome.is_ok() {
            let lost = std::io::Error::new(
                std::io::ErrorKind::ConnectionReset,
                "the commit's answer was lost (a fault for tests)",
            );
            outcome = Err(anyhow::Error::new(lost));
        }
        match outcome {
            Ok(begun) => {
                debug_assert_eq!(begun.len(), batch.len(), "one answer a claim");
                for (pending, begin) in batch.drain(..).zip(begun) {
                    let _ = pending.reply.send(Ok(begin));
                }
            }
            Err(error) => {
                tracing::warn!(
                    error = format!("{error:#}"),
                    claims = batch.len(),
                    "a batch of idempotency claims failed"
                );
                let failed = BatchFailure::new(error);
                for pending in batch.drain(..) {
                    let _ = pending.reply.send(Err(failed.clone()));
                }
            }
        }
    }
}
