//! Claims on idempotency keys, made in batches: a POST under an `Idempotency-Key` claims its key
//! durably before it runs, so that a retry, on this instance or another, finds it in use or answered
//! rather than running it a second time. One commit per claim bounded every such request by the
//! database's commit rate; here claims are written by the nonce book's writer ([`crate::nonces`]),
//! which makes all that are waiting in one transaction (one fsync) with the concurrent requests'
//! nonces and answers each. A signed request's claim goes with its nonce, in the same entry of the
//! batch ([`ClaimBook::begin_signed`]): one commit for both, and no claim at all when the nonce is a
//! replay. Nothing waits to fill a batch: while one commit runs, the next batch gathers.
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
use std::sync::{Arc, Mutex};

use sanhu_core::Timestamp;
use sanhu_store::{ClaimToken, IdempotencyBegin, IdempotencyClaim, IdempotencyKey};

use crate::nonces::{NonceBook, RequestNonce};

/// Where requests claim their idempotency keys. Cheap to clone.
#[derive(Clone)]
pub struct ClaimBook {
    /// The writer the claims are made by, with the nonces.
    book: NonceBook,
    /// The claims whose commit was lost, by key, until each one's release is committed.
    lost: Arc<Mutex<HashMap<IdempotencyKey, Vec<ClaimToken>>>>,
}

impl ClaimBook {
    /// Claims made through `book`'s writer, in its batches.
    pub fn over(book: NonceBook) -> ClaimBook {
        ClaimBook { book, lost: Default::default() }
    }

    /// Claims `claim`'s key at `now`, or reports what the key holds (see
    /// `AccessStore::begin_idempotent`), for a request that has no nonce (a staff member's). An
    /// error leaves it unknown whether the claim was committed: the claim is then remembered as lost
    /// until [`ClaimBook::released`] says its release is committed, and a later claim of the same key
    /// through this book may take it over.
    pub async fn begin(&self, claim: IdempotencyClaim, now: Timestamp) -> anyhow::Result<IdempotencyBegin> {
        let begun = self.claim(claim, now, None).await?;
        begun.ok_or_else(|| anyhow::anyhow!("a claim without a nonce was not made"))
    }

    /// Spends a signed request's `nonce` and claims its key in the same commit, as [`ClaimBook::begin`]
    /// claims it; None if the nonce was used before (a replay), and then no claim is made.
    pub async fn begin_signed(
        &self,
        claim: IdempotencyClaim,
        now: Timestamp,
        nonce: RequestNonce,
    ) -> anyhow::Result<Option<IdempotencyBegin>> {
        self.claim(claim, now, Some(nonce)).await
    }

    async fn claim(
        &self,
        mut claim: IdempotencyClaim,
        now: Timestamp,
        nonce: Option<RequestNonce>,
    ) -> anyhow::Result<Option<IdempotencyBegin>> {
        claim.supersedes = self.lost().get(&claim.key).cloned().unwrap_or_default();
        let (key, token, superseding) = (claim.key.clone(), claim.token.clone(), claim.supersedes.clone());
        let begun = self.book.enter(nonce, Some((claim, now))).await.map(|entered| entered.begun);
        let mut lost = self.lost();
        match &begun {
            Err(_) => lost.entry(key).or_default().push(token),
            // A replayed nonce: no claim was made, and the lost ones are still to be released.
            Ok(None) => {}
            // Another request's claim holds the key: the lost ones are still to be released.
            Ok(Some(IdempotencyBegin::Mismatch)) => {}
            // Taken over, found gone, answered, or held by a claim that is none of them: the lost
            // claims hold the key no more.
            Ok(Some(_)) if !superseding.is_empty() => {
                if let Some(tokens) = lost.get_mut(&key) {
                    tokens.retain(|t| !superseding.contains(t));
                    if tokens.is_empty() {
                        lost.remove(&key);
                    }
                }
            }
            Ok(Some(_)) => {}
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

    /// A fault for tests, which the database cannot make by itself: the next `batches` batches that
    /// hold a claim are committed and then answered with an error, as when the connection drops
    /// during the commit's answer (a failover).
    #[doc(hidden)]
    pub fn lose_answers_after_commit(&self, batches: usize) {
        self.book.lose_answers_after_commit(batches);
    }

    fn lost(&self) -> std::sync::MutexGuard<'_, HashMap<IdempotencyKey, Vec<ClaimToken>>> {
        self.lost.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}
