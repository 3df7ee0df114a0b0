//! The nonces of signed requests, recorded in batches: every signed request, a read too, spends its
//! nonce durably before it is answered, so that a replay is refused by every instance and after a
//! restart. One commit per request would bound every request by the database's commit rate; here
//! concurrent requests' nonces queue to one task, which records all that are waiting in one
//! transaction (one fsync) and answers each. Nothing waits to fill a batch: while one commit runs, the
//! next batch gathers, so a batch is as large as the load makes it and a lone request pays one commit.

use sanhu_core::Timestamp;
use sanhu_store::{AccessStore, NonceRecord, Store};
use tokio::sync::{mpsc, oneshot};

use crate::batch_failure::BatchFailure;

/// Limits of the nonce book.
#[derive(Clone, Debug)]
pub struct NonceConfig {
    /// Most nonces recorded in one transaction.
    pub batch_nonces_max: usize,
    /// Most nonces waiting for the writer; past it, requests wait for room.
    pub queue_nonces_max: usize,
}

impl Default for NonceConfig {
    fn default() -> Self {
        NonceConfig { batch_nonces_max: 1024, queue_nonces_max: 16_384 }
    }
}

struct Pending {
    nonce: NonceRecord,
    forget_before: Timestamp,
    reply: oneshot::Sender<Result<bool, BatchFailure>>,
}

/// Where signed requests spend their nonces. Cheap to clone.
#[derive(Clone)]
pub struct NonceBook {
    queue: mpsc::Sender<Pending>,
}

impl NonceBook {
    /// Nonces waiting for the book's writer (a gauge of `/metrics`).
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Starts the book's writer on the current runtime.
    pub fn start(store: Store, config: NonceConfig) -> NonceBook {
        let (queue, receiver) = mpsc::channel(config.queue_nonces_max.max(1));
        tokio::spawn(run(store, config.batch_nonces_max.max(1), receiver));
        NonceBook { queue }
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
        let (reply, answer) = oneshot::channel();
        let nonce = NonceRecord { client_id: client_id.to_owned(), nonce: nonce.to_owned(), at };
        self.queue
            .send(Pending { nonce, forget_before, reply })
            .await
            .map_err(|_| anyhow::anyhow!("the nonce book's writer has stopped"))?;
        let recorded = answer.await.map_err(|_| anyhow::anyhow!("the nonce book's writer has stopped"))?;
        Ok(recorded?)
    }
}

async fn run(store: Store, batch_max: usize, mut receiver: mpsc::Receiver<Pending>) {
    let mut batch = Vec::with_capacity(batch_max);
    while receiver.recv_many(&mut batch, batch_max).await > 0 {
        let nonces: Vec<NonceRecord> = batch.iter().map(|p| p.nonce.clone()).collect();
        // The oldest bound of the batch (each request's is its time less two signature windows, all
        // within moments of each other): what every request in it would forget.
        let forget_before = batch.iter().map(|p| p.forget_before).min().unwrap_or_default();
        let started = std::time::Instant::now();
        let outcome = store.record_nonces(&nonces, forget_before).await;
        let metrics = crate::metrics::global();
        metrics.nonce_batch_size.observe(nonces.len() as f64);
        metrics.nonce_batch_seconds.observe_duration(started.elapsed());
        match outcome {
            Ok(recorded) => {
                let fresh = recorded.iter().filter(|fresh| **fresh).count() as u64;
                metrics.nonces.with(["fresh"]).add(fresh);
                metrics.nonces.with(["replayed"]).add(recorded.len() as u64 - fresh);
                debug_assert_eq!(recorded.len(), batch.len(), "one answer a nonce");
                for (pending, recorded) in batch.drain(..).zip(recorded) {
                    let _ = pending.reply.send(Ok(recorded));
                }
            }
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), nonces = batch.len(), "a batch of nonces failed");
                let failed = BatchFailure::new(error);
                for pending in batch.drain(..) {
                    let _ = pending.reply.send(Err(failed.clone()));
                }
            }
        }
    }
}
