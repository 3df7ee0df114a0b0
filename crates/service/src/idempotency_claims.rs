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

use sanhu_core::Timestamp;
use sanhu_store::{AccessStore, IdempotencyBegin, IdempotencyClaim, Store};
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
}

impl ClaimBook {
    /// Starts the book's writer on the current runtime.
    pub fn start(store: Store, config: ClaimConfig) -> ClaimBook {
        let (queue, receiver) = mpsc::channel(config.queue_claims_max.max(1));
        tokio::spawn(run(store, config.batch_claims_max.max(1), receiver));
        ClaimBook { queue }
    }

    /// Claims `claim`'s key at `now`, or reports what the key holds (see
    /// `AccessStore::begin_idempotent`). An error leaves it unknown whether the claim was committed.
    pub async fn begin(&self, claim: IdempotencyClaim, now: Timestamp) -> anyhow::Result<IdempotencyBegin> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending { claim, now, reply })
            .await
            .map_err(|_| anyhow::anyhow!("the idempotency claims' writer has stopped"))?;
        let begun = answer.await.map_err(|_| anyhow::anyhow!("the idempotency claims' writer has stopped"))?;
        Ok(begun?)
    }
}

async fn run(store: Store, batch_max: usize, mut receiver: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(batch_max);
    while receiver.recv_many(&mut batch, batch_max).await > 0 {
        let claims: Vec<IdempotencyClaim> = batch.iter().map(|p| p.claim.clone()).collect();
        // The latest time of the batch: what a lease is measured against (the requests' times are
        // within moments of each other, and the claim is made now).
        let now = batch.iter().map(|p| p.now).max().unwrap_or_default();
        match store.begin_idempotent_batch(&claims, now).await {
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
