//! What a request has written so far, as its use cases tell it: the edge asks when a request fails
//! with the database or the ledger out of reach (503 `not_ready`, `ledger_unavailable`), to tell the
//! caller the truth and to decide whether the request's Idempotency-Key may be released for a retry
//! to run it again (`sanhu_http::idempotency`).
//!
//! - [`Written::Nothing`]: no write of the request was committed. Nothing was applied, and running
//!   the request again is running it for the first time.
//! - [`Written::Resumable`]: the request wrote its own record, named by what the request names (the
//!   caller's order number, bound to the key by the request's fingerprint), with the chain of ledger
//!   transfers it decided, whose ids are derived from that record (`crate::wallet::chain`). Running
//!   the same request again finds the record and finishes it; it never repeats a step. Every wallet
//!   and card use case that moves money reaches the ledger only this way ([`recorded`] is said by
//!   `chain::apply`), and what such a use case writes before its record is either part of that
//!   record's transaction, idempotent (a platform account found by its name), or made unreachable
//!   by the record (a card's serial, taken before its sale is recorded, is never taken again once
//!   the sale is found).
//! - [`Written::Unrecognised`]: something was committed that running the request again might not
//!   recognise (a member registered, a serial taken, a first ledger transfer of a handler without a
//!   record). The request's answer must then be kept, not run again.
//!
//! A commit counts once it is known to have succeeded: a commit that failed is taken as not made
//! (the database rolls a failed transaction back). Its answer lost after a commit (a connection
//! cut at that moment) is the case a run after a crash meets too, which every money movement
//! survives by its derived ids.
//!
//! The state lives in a task-local that the edge sets around each request's handler ([`scope`]);
//! outside one, nothing is tracked and [`current`] is None.

use std::future::Future;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::Arc;

/// What a request has written so far; see the module.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Written {
    Nothing,
    Resumable,
    Unrecognised,
}

const NOTHING: u8 = 0;
const RESUMABLE: u8 = 1;
const UNRECOGNISED: u8 = 2;

tokio::task_local! {
    static WRITTEN: Arc<AtomicU8>;
}

/// Runs `work` (a request's handler) with its writes tracked from nothing.
pub async fn scope<F: Future>(work: F) -> F::Output {
    WRITTEN.scope(Arc::new(AtomicU8::new(NOTHING)), work).await
}

/// What the running request has written; None outside a [`scope`].
pub fn current() -> Option<Written> {
    WRITTEN
        .try_with(|written| match written.load(Ordering::SeqCst) {
            NOTHING => Written::Nothing,
            RESUMABLE => Written::Resumable,
            _ => Written::Unrecognised,
        })
        .ok()
}

/// A write of the running request was committed. After [`recorded`] it belongs to the request's
/// record (its settlement), and changes nothing.
pub fn wrote() {
    let _ =
        WRITTEN.try_with(|written| written.compare_exchange(NOTHING, UNRECOGNISED, Ordering::SeqCst, Ordering::SeqCst));
}

/// Runs `work`, whose writes running the request again would find made and not repeat (a member's
/// activity of the day, a platform account found by its name): they do not count as written.
pub async fn idempotent<F: Future>(work: F) -> F::Output {
    let before = WRITTEN.try_with(|written| written.load(Ordering::SeqCst)).ok();
    let output = work.await;
    if let Some(before) = before {
        let _ = WRITTEN
            .try_with(|written| written.compare_exchange(UNRECOGNISED, before, Ordering::SeqCst, Ordering::SeqCst));
    }
    output
}

/// The running request's own record, with the ledger chain it decided, is committed: running the
/// request again finds it and finishes it (see the module).
pub fn recorded() {
    let _ = WRITTEN.try_with(|written| written.store(RESUMABLE, Ordering::SeqCst));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_request_starts_with_nothing_written_and_its_record_makes_it_resumable() {
        assert_eq!(current(), None, "outside a request nothing is tracked");
        wrote();
        let seen = scope(async {
            let mut seen = vec![current()];
            wrote();
            seen.push(current());
            recorded();
            seen.push(current());
            wrote();
            seen.push(current());
            seen
        })
        .await;
        use Written::*;
        assert_eq!(seen, [Some(Nothing), Some(Unrecognised), Some(Resumable), Some(Resumable)]);
        assert_eq!(scope(async { current() }).await, Some(Nothing), "each request starts afresh");
        let after_idempotent = scope(async {
            idempotent(async { wrote() }).await;
            let first = current();
            wrote();
            idempotent(async { wrote() }).await;
            (first, current())
        })
        .await;
        assert_eq!(after_idempotent, (Some(Nothing), Some(Unrecognised)), "it undoes only its own");
    }
}
