//! The audit log's batching writer, shaped like the ledger's (`crate::writer`): concurrent events
//! queue here; one task appends up to `batch_events_max` of them in one transaction (one fsync) and
//! then answers each caller with its own event as stored. A request under an idempotency key brings
//! its answer along, which is kept (or the key released) in the same transaction as its event. A batch
//! the store refuses for one of its items is tried again in halves (see [`append`]), so that only that
//! item's caller is answered with the failure.

use std::time::{Duration, Instant};

use sanhu_store::audit::{AuditEvent, AuditStore, NewAuditEvent};
use sanhu_store::{IdempotencyAnswer, Store};
use tokio::sync::{mpsc, oneshot};

use crate::batch_failure::BatchFailure;

#[derive(Clone, Debug)]
pub struct AuditConfig {
    /// Most events appended in one transaction.
    pub batch_events_max: usize,
    /// Longest the writer waits for more events to fill a batch once it has one, in microseconds.
    pub batch_wait_us: u64,
    /// Most events waiting for the writer; past it, callers wait for room.
    pub queue_events_max: usize,
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig { batch_events_max: 1024, batch_wait_us: 200, queue_events_max: 16_384 }
    }
}

/// Why an event was not recorded. Nothing of it was written.
#[derive(Debug)]
pub enum AuditError {
    /// The database failed the batch (unreachable, disk full...): the store's error, shared by the
    /// batch's events, is this error's source.
    Storage(BatchFailure),
    /// The writer has stopped (shutting down).
    Stopped,
}

impl std::fmt::Display for AuditError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AuditError::Storage(_) => f.write_str("the audit log could not append"),
            AuditError::Stopped => f.write_str("the audit log's writer has stopped"),
        }
    }
}

impl std::error::Error for AuditError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            AuditError::Storage(failure) => Some(failure),
            AuditError::Stopped => None,
        }
    }
}

struct Pending {
    event: NewAuditEvent,
    /// The request's idempotency key, settled in the same transaction as its event.
    answer: Option<IdempotencyAnswer>,
    reply: oneshot::Sender<Result<AuditEvent, AuditError>>,
}

#[derive(Clone)]
pub(super) struct AuditWriter {
    queue: mpsc::Sender<Pending>,
}

impl AuditWriter {
    pub(super) fn start(store: Store, config: AuditConfig) -> AuditWriter {
        let (queue, receiver) = mpsc::channel(config.queue_events_max.max(1));
        tokio::spawn(run(store, config, receiver));
        AuditWriter { queue }
    }

    pub(super) async fn append(
        &self,
        event: NewAuditEvent,
        answer: Option<IdempotencyAnswer>,
    ) -> Result<AuditEvent, AuditError> {
        let (reply, appended) = oneshot::channel();
        self.queue.send(Pending { event, answer, reply }).await.map_err(|_| AuditError::Stopped)?;
        appended.await.map_err(|_| AuditError::Stopped)?
    }
}

async fn run(store: Store, config: AuditConfig, mut receiver: mpsc::Receiver<Pending>) {
    let batch_max = config.batch_events_max.max(1);
    let wait = Duration::from_micros(config.batch_wait_us);
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        let deadline = Instant::now() + wait;
        while batch.len() < batch_max {
            let next = match receiver.try_recv() {
                Ok(pending) => Some(pending),
                Err(mpsc::error::TryRecvError::Disconnected) => None,
                Err(mpsc::error::TryRecvError::Empty) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        None
                    } else {
                        tokio::time::timeout(left, receiver.recv()).await.ok().flatten()
                    }
                }
            };
            let Some(next) = next else { break };
            batch.push(next);
        }
        append(&store, batch).await;
    }
}

/// Appends `batch` in one transaction. When that fails for something other than the database's state
/// ([`sanhu_store::is_batch_wide`]: out of reach, a lock timeout...), the failure may be one item's (an
/// event or an answer the store refuses): the batch is tried again in halves, in order, and so on
/// down to single items, so that only an item that cannot be stored fails its own request and every
/// other is appended.
async fn append(store: &Store, batch: Vec<Pending>) {
    // Batches left to append, the next one last.
    let mut work = vec![batch];
    while let Some(batch) = work.pop() {
        let count = batch.len();
        let events: Vec<NewAuditEvent> = batch.iter().map(|p| p.event.clone()).collect();
        let answers: Vec<IdempotencyAnswer> = batch.iter().filter_map(|p| p.answer.clone()).collect();
        let started = Instant::now();
        match store.append_audit_answering(events, answers).await {
            Ok(stored) => {
                tracing::debug!(
                    batch.events = count,
                    duration_us = started.elapsed().as_micros() as u64,
                    "audit events appended"
                );
                for (pending, event) in batch.into_iter().zip(stored) {
                    let _ = pending.reply.send(Ok(event));
                }
            }
            Err(error) if count > 1 && !sanhu_store::is_batch_wide(&error) => {
                tracing::warn!(
                    batch.events = count,
                    error = format!("{error:#}"),
                    "audit events could not be appended together; trying them in halves"
                );
                let mut first = batch;
                let second = first.split_off(count / 2);
                work.push(second);
                work.push(first);
            }
            Err(error) => {
                tracing::error!(
                    batch.events = count,
                    error = format!("{error:#}"),
                    "audit events could not be appended"
                );
                let error = BatchFailure::new(error);
                for pending in batch {
                    let _ = pending.reply.send(Err(AuditError::Storage(error.clone())));
                }
            }
        }
    }
}
