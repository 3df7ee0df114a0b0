//! The batched ledger writer. Concurrent submissions queue here; one task applies up to
//! `batch_transfers_max` requests of them in one database transaction (one fsync), then answers each
//! submitter with its own results. This is what makes a hot account cost what a cold one does: its row
//! is written once per batch, not once per transfer.

use std::time::{Duration, Instant};

use sanhu_core::ledger::{check_submission, Transfer, TransferError, TransferRequest, BATCH_TRANSFERS_MAX};
use sanhu_store::{LedgerStore, Store};
use tokio::sync::{mpsc, oneshot};

use crate::batch_failure::BatchFailure;
use crate::clock;

pub type TransferResults = Vec<Result<Transfer, TransferError>>;

#[derive(Clone, Debug)]
pub struct WriterConfig {
    /// Most requests applied in one transaction; at most `BATCH_TRANSFERS_MAX`.
    pub batch_transfers_max: usize,
    /// Longest the writer waits for more submissions to fill a batch once it has one, in microseconds.
    pub batch_wait_us: u64,
    /// Most submissions waiting for the writer; past it, submitters wait for room.
    pub queue_submissions_max: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig { batch_transfers_max: BATCH_TRANSFERS_MAX, batch_wait_us: 200, queue_submissions_max: 16_384 }
    }
}

/// Why a submission got no results. Nothing of it was applied in either case.
#[derive(Debug)]
pub enum WriterError {
    /// The database failed the batch (unreachable, disk full...). The caller may retry. The store's
    /// error, shared by every submission of the batch, is this error's source.
    Storage(BatchFailure),
    /// The writer has stopped (shutting down).
    Stopped,
}

impl std::fmt::Display for WriterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            WriterError::Storage(_) => f.write_str("the ledger store failed the batch"),
            WriterError::Stopped => f.write_str("the ledger writer has stopped"),
        }
    }
}

impl std::error::Error for WriterError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            WriterError::Storage(failure) => Some(failure),
            WriterError::Stopped => None,
        }
    }
}

struct Submission {
    requests: Vec<TransferRequest>,
    reply: oneshot::Sender<Result<TransferResults, WriterError>>,
}

/// The accounts the committed batches touched, for the balance monitors (`crate::webhook`), which
/// evaluate them off the commit path. The writer offers a batch's accounts only while someone watches
/// (a monitor is active), after the batch is committed; the set is bounded: past its size it is
/// dropped and marked overflowed, and the watcher then sweeps every watched account (which it can, as
/// what it evaluates is read from the ledger's entries, not from here).
#[derive(Default)]
pub struct LedgerTap {
    watching: std::sync::atomic::AtomicBool,
    touched: std::sync::Mutex<Touched>,
    notify: tokio::sync::Notify,
}

#[derive(Default)]
struct Touched {
    accounts: sanhu_core::id_hash::IdSet<sanhu_core::AccountId>,
    overflowed: bool,
}

/// The most accounts the tap holds before it overflows.
const TAP_ACCOUNTS_MAX: usize = 100_000;

impl LedgerTap {
    /// Starts or stops offering the batches' accounts.
    pub fn watch(&self, on: bool) {
        self.watching.store(on, std::sync::atomic::Ordering::Relaxed);
    }

    pub fn watching(&self) -> bool {
        self.watching.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn offer(&self, accounts: Vec<sanhu_core::AccountId>) {
        if accounts.is_empty() {
            return;
        }
        {
            let mut touched = self.touched.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            if touched.accounts.len() + accounts.len() > TAP_ACCOUNTS_MAX {
                touched.accounts.clear();
                touched.overflowed = true;
            } else if !touched.overflowed {
                touched.accounts.extend(accounts);
            }
        }
        self.notify.notify_one();
    }

    /// The accounts touched since the last take, and whether some were dropped (overflow).
    pub fn take(&self) -> (Vec<sanhu_core::AccountId>, bool) {
        let mut touched = self.touched.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let taken = std::mem::take(&mut *touched);
        let mut accounts: Vec<_> = taken.accounts.into_iter().collect();
        accounts.sort();
        (accounts, taken.overflowed)
    }

    /// Waits until a batch is offered, at most `within`.
    pub async fn offered(&self, within: Duration) {
        let _ = tokio::time::timeout(within, self.notify.notified()).await;
    }
}

/// A handle to the writer task; clones share it.
#[derive(Clone)]
pub struct Writer {
    queue: mpsc::Sender<Submission>,
    tap: std::sync::Arc<LedgerTap>,
}

impl Writer {
    /// Submissions waiting for the writer (a gauge of `/metrics`).
    pub fn queued(&self) -> usize {
        self.queue.max_capacity() - self.queue.capacity()
    }

    /// Starts the writer task on the current runtime.
    pub fn start(store: Store, config: WriterConfig) -> Writer {
        let (queue, receiver) = mpsc::channel(config.queue_submissions_max.max(1));
        let tap = std::sync::Arc::new(LedgerTap::default());
        tokio::spawn(run(store, config, receiver, tap.clone()));
        Writer { queue, tap }
    }

    /// The accounts the committed batches touched (for the balance monitors).
    pub fn tap(&self) -> &std::sync::Arc<LedgerTap> {
        &self.tap
    }

    /// Applies `requests` (at most `BATCH_TRANSFERS_MAX`) and returns a result for each, in order.
    pub async fn submit(&self, requests: Vec<TransferRequest>) -> Result<TransferResults, WriterError> {
        assert!(requests.len() <= BATCH_TRANSFERS_MAX, "the edge limits a submission to one batch");
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(refused) = check_submission(&requests) {
            return Ok(refused);
        }
        let (reply, answer) = oneshot::channel();
        self.queue.send(Submission { requests, reply }).await.map_err(|_| WriterError::Stopped)?;
        answer.await.map_err(|_| WriterError::Stopped)?
    }
}

async fn run(
    store: Store,
    config: WriterConfig,
    mut receiver: mpsc::Receiver<Submission>,
    tap: std::sync::Arc<LedgerTap>,
) {
    let batch_max = config.batch_transfers_max.clamp(1, BATCH_TRANSFERS_MAX);
    let wait = Duration::from_micros(config.batch_wait_us);
    let mut carried: Option<Submission> = None;
    loop {
        let first = match carried.take() {
            Some(s) => s,
            None => match receiver.recv().await {
                Some(s) => s,
                None => return,
            },
        };
        let mut count = first.requests.len();
        let mut batch = vec![first];
        let deadline = Instant::now() + wait;
        while count < batch_max {
            let next = match receiver.try_recv() {
                Ok(s) => Some(s),
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
            if count + next.requests.len() > batch_max {
                carried = Some(next);
                break;
            }
            count += next.requests.len();
            batch.push(next);
        }
        commit(&store, batch, count, &tap).await;
    }
}

async fn commit(store: &Store, batch: Vec<Submission>, count: usize, tap: &LedgerTap) {
    let mut requests = Vec::with_capacity(count);
    let mut replies = Vec::with_capacity(batch.len());
    for submission in batch {
        replies.push((submission.reply, submission.requests.len()));
        requests.extend(submission.requests);
    }
    let started = Instant::now();
    match store.commit_batch(requests, clock::now()).await {
        Ok(results) => {
            let metrics = crate::metrics::global();
            metrics.ledger_batches.with(["committed"]).inc();
            metrics.ledger_batch_transfers.observe(count as f64);
            metrics.ledger_batch_commit.observe_duration(started.elapsed());
            tracing::debug!(
                batch.transfers = count,
                duration_us = started.elapsed().as_micros() as u64,
                "batch committed"
            );
            // The accounts the batch moved, for the balance monitors: nothing while none watches.
            let touched: Vec<sanhu_core::AccountId> = if tap.watching() {
                results.iter().flatten().flat_map(|t| [t.debit_account_id, t.credit_account_id]).collect()
            } else {
                Vec::new()
            };
            let mut results = results.into_iter();
            for (reply, n) in replies {
                let _ = reply.send(Ok(results.by_ref().take(n).collect()));
            }
            tap.offer(touched);
        }
        Err(error) => {
            crate::metrics::global().ledger_batches.with(["failed"]).inc();
            tracing::error!(
                batch.transfers = count,
                error = format!("{error:#}"),
                "batch failed; nothing of it was applied"
            );
            let error = BatchFailure::new(error);
            for (reply, _) in replies {
                let _ = reply.send(Err(WriterError::Storage(error.clone())));
            }
        }
    }
}
