//! Claims on idempotency keys across store instances, on both backends: a claim whose store is gone
//! (its process died) is taken over at once, not after the lease; a claim whose store lives is not,
//! whichever instance asks.

use std::time::{Duration, Instant};

use sanhu_core::Timestamp;
use sanhu_store::audit::{AuditStore, NewAuditEvent};
use sanhu_store::{
    on_both_backends, AccessStore, ClaimToken, IdempotencyAnswer, IdempotencyBegin, IdempotencyClaim, IdempotencyKey,
    Store, StoredResponse,
};

/// Longest PostgreSQL may take to end the session of a store that went away (it notices the closed
/// socket at once; this is slack for a loaded machine). Far below the lease.
const SESSION_END_TIMEOUT: Duration = Duration::from_secs(10);

fn key(name: &str) -> IdempotencyKey {
    IdempotencyKey { client_id: "cli_1".to_owned(), key: name.to_owned() }
}

/// A fresh attempt's claim on `key`.
fn claim(key: &IdempotencyKey, fingerprint: &str) -> IdempotencyClaim {
    IdempotencyClaim::new(key.clone(), fingerprint)
}

fn start() -> Timestamp {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    Timestamp(nanos as i64)
}

/// Asks `store` for `key` at `at` until it is claimed, as a client retries after a crash.
async fn claim_once_its_claimant_is_gone(store: &Store, key: &IdempotencyKey, at: Timestamp) -> IdempotencyClaim {
    let started = Instant::now();
    loop {
        let attempt = claim(key, "fp");
        match store.begin_idempotent(&attempt, at).await.unwrap() {
            IdempotencyBegin::Claimed => return attempt,
            IdempotencyBegin::InUse if started.elapsed() < SESSION_END_TIMEOUT => {
                tokio::time::sleep(Duration::from_millis(20)).await
            }
            other => panic!("the claim of a store that is gone was not taken over: {other:?}"),
        }
    }
}

on_both_backends!(a_claim_whose_store_is_gone_is_taken_over_at_once_and_a_live_ones_claim_is_not, |db| {
    // Every request below is made at one instant, so no lease can lapse: only the claimant's fate
    // decides.
    let at = start();
    let k = key("k1");
    let claimant = db.open_another().await;
    assert_eq!(claimant.begin_idempotent(&claim(&k, "fp"), at).await.unwrap(), IdempotencyBegin::Claimed);
    assert_eq!(
        db.store.begin_idempotent(&claim(&k, "fp"), at).await.unwrap(),
        IdempotencyBegin::InUse,
        "another instance"
    );
    assert_eq!(
        claimant.begin_idempotent(&claim(&k, "fp"), at).await.unwrap(),
        IdempotencyBegin::InUse,
        "its own instance"
    );
    assert_eq!(db.store.begin_idempotent(&claim(&k, "other"), at).await.unwrap(), IdempotencyBegin::Mismatch);

    // The claimant goes away with its request unanswered, as a killed process does.
    drop(claimant);
    let taken_over = claim_once_its_claimant_is_gone(&db.store, &k, at).await;

    // Taken over, the claim is the live store's: in use for everyone else, and for it.
    let third = db.open_another().await;
    assert_eq!(third.begin_idempotent(&claim(&k, "fp"), at).await.unwrap(), IdempotencyBegin::InUse);
    assert_eq!(db.store.begin_idempotent(&claim(&k, "fp"), at).await.unwrap(), IdempotencyBegin::InUse);
    let response = StoredResponse { status: 201, body: br#"{"id":"tr_1"}"#.to_vec() };
    db.store.complete_idempotent(&k, &taken_over.token, &response).await.unwrap();
    assert_eq!(third.begin_idempotent(&claim(&k, "fp"), at).await.unwrap(), IdempotencyBegin::Replay(response));

    // A claimant that answered before it went away leaves its answer, not a claim to take over.
    let answered = key("k2");
    let claimant = db.open_another().await;
    let first = claim(&answered, "fp");
    assert_eq!(claimant.begin_idempotent(&first, at).await.unwrap(), IdempotencyBegin::Claimed);
    let response = StoredResponse { status: 422, body: br#"{"error":{}}"#.to_vec() };
    claimant.complete_idempotent(&answered, &first.token, &response).await.unwrap();
    drop(claimant);
    assert_eq!(
        db.store.begin_idempotent(&claim(&answered, "fp"), at).await.unwrap(),
        IdempotencyBegin::Replay(response)
    );
});

on_both_backends!(two_live_stores_racing_for_a_dead_claim_take_it_over_once, |db| {
    let at = start();
    let k = key("k3");
    let claimant = db.open_another().await;
    assert_eq!(claimant.begin_idempotent(&claim(&k, "fp"), at).await.unwrap(), IdempotencyBegin::Claimed);
    drop(claimant);
    let other = db.open_another().await;
    let started = Instant::now();
    loop {
        let (mine, theirs) = (claim(&k, "fp"), claim(&k, "fp"));
        let (a, b) = tokio::join!(db.store.begin_idempotent(&mine, at), other.begin_idempotent(&theirs, at));
        let (a, b) = (a.unwrap(), b.unwrap());
        let claimed = [&a, &b].iter().filter(|r| ***r == IdempotencyBegin::Claimed).count();
        assert!(claimed <= 1, "both stores took the claim over: {a:?} {b:?}");
        if claimed == 1 {
            assert!(a == IdempotencyBegin::InUse || b == IdempotencyBegin::InUse, "{a:?} {b:?}");
            break;
        }
        assert!(started.elapsed() < SESSION_END_TIMEOUT, "the dead claim was never taken over");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
});

on_both_backends!(a_batch_of_claims_answers_each_as_one_claim_would_and_answers_settle_with_audit_events, |db| {
    let at = start();
    let answered = key("answered");
    let first = claim(&answered, "fp");
    assert_eq!(db.store.begin_idempotent(&first, at).await.unwrap(), IdempotencyBegin::Claimed);
    let stored = StoredResponse { status: 201, body: br#"{"id":"tr_1"}"#.to_vec() };
    db.store.complete_idempotent(&answered, &first.token, &stored).await.unwrap();
    let held = key("held");
    assert_eq!(db.store.begin_idempotent(&claim(&held, "fp"), at).await.unwrap(), IdempotencyBegin::Claimed);
    let (fresh, other_client) =
        (key("fresh"), IdempotencyKey { client_id: "cli_2".to_owned(), key: "fresh".to_owned() });
    let claims = [
        claim(&fresh, "fp"),
        claim(&answered, "fp"),
        claim(&held, "fp"),
        claim(&answered, "other request"),
        // The same key twice in one batch: the first claims it, the later ones find it in use or
        // another request's.
        claim(&fresh, "fp"),
        claim(&fresh, "other request"),
        claim(&other_client, "fp"),
    ];
    let begun = db.store.begin_idempotent_batch(&claims, at).await.unwrap();
    assert_eq!(
        begun,
        [
            IdempotencyBegin::Claimed,
            IdempotencyBegin::Replay(stored.clone()),
            IdempotencyBegin::InUse,
            IdempotencyBegin::Mismatch,
            IdempotencyBegin::InUse,
            IdempotencyBegin::Mismatch,
            IdempotencyBegin::Claimed,
        ]
    );
    assert_eq!(db.store.begin_idempotent_batch(&[], at).await.unwrap(), []);

    // Answers committed with the audit events that record their requests: kept for replay, or (a 5xx)
    // the key released for a retry to run afresh. An answered key is never released.
    let event = |n: u16| NewAuditEvent {
        at,
        actor: "client:cli_1".to_owned(),
        request_id: format!("req_{n}"),
        source: None,
        method: "POST".to_owned(),
        route: "/v1/ledger/transfers".to_owned(),
        target_ids: Vec::new(),
        status: n,
        error_code: None,
        reason: None,
        changes: None,
    };
    let kept = StoredResponse { status: 201, body: br#"{"id":"tr_2"}"#.to_vec() };
    let answer = |i: usize, response: Option<StoredResponse>| IdempotencyAnswer {
        key: claims[i].key.clone(),
        token: claims[i].token.clone(),
        response,
    };
    let answers = vec![
        answer(0, Some(kept.clone())),
        answer(6, None),
        // The very claim that answered this key: an answered key is never released.
        IdempotencyAnswer { key: answered.clone(), token: first.token.clone(), response: None },
    ];
    let head = db.store.audit_head().await.unwrap();
    let events = db.store.append_audit_answering(vec![event(201), event(500)], answers).await.unwrap();
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [head.seq + 1, head.seq + 2]);
    assert_eq!(db.store.begin_idempotent(&claim(&fresh, "fp"), at).await.unwrap(), IdempotencyBegin::Replay(kept));
    assert_eq!(
        db.store.begin_idempotent(&claim(&other_client, "another"), at).await.unwrap(),
        IdempotencyBegin::Claimed
    );
    assert_eq!(db.store.begin_idempotent(&claim(&answered, "fp"), at).await.unwrap(), IdempotencyBegin::Replay(stored));
    let report = sanhu_store::audit::verify_chain(&db.store).await.unwrap();
    assert_eq!((report.broken, report.events_checked), (None, head.seq + 2));
});

// A claim batch whose commit's answer was lost leaves its requests unsure whether their claims were
// made; each releases its own in the background. The release names the attempt's token, so it never
// deletes the claim another attempt holds while it runs (a retry on another instance, or a request of
// a later batch): without that, a third request would find the key free and run it a second time. An
// answer likewise settles only its own claim.
on_both_backends!(a_claim_is_released_or_answered_only_by_the_attempt_that_made_it, |db| {
    let at = start();
    let k = key("lost-batch");
    // The first attempt's claim was never committed (its batch failed); a retry on another instance
    // claims the key and runs.
    let lost = claim(&k, "fp");
    let other = db.open_another().await;
    let retry = claim(&k, "fp");
    assert_eq!(other.begin_idempotent(&retry, at).await.unwrap(), IdempotencyBegin::Claimed);
    // The first attempt's background release, and a late answer of it, leave the retry's claim alone.
    db.store.release_idempotent(&k, &lost.token).await.unwrap();
    let wrong = StoredResponse { status: 201, body: br#"{"id":"not_this"}"#.to_vec() };
    db.store.complete_idempotent(&k, &lost.token, &wrong).await.unwrap();
    let answer = IdempotencyAnswer { key: k.clone(), token: lost.token.clone(), response: None };
    db.store.append_audit_answering(Vec::new(), vec![answer]).await.unwrap();
    assert_eq!(db.store.begin_idempotent(&claim(&k, "fp"), at).await.unwrap(), IdempotencyBegin::InUse);
    assert_eq!(other.begin_idempotent(&claim(&k, "fp"), at).await.unwrap(), IdempotencyBegin::InUse);

    // The retry's own answer is kept, and replayed.
    let kept = StoredResponse { status: 201, body: br#"{"id":"tr_9"}"#.to_vec() };
    other.complete_idempotent(&k, &retry.token, &kept).await.unwrap();
    assert_eq!(db.store.begin_idempotent(&claim(&k, "fp"), at).await.unwrap(), IdempotencyBegin::Replay(kept.clone()));
    // And once answered, no token releases it, the claimant's own neither.
    other.release_idempotent(&k, &retry.token).await.unwrap();
    assert_eq!(db.store.begin_idempotent(&claim(&k, "fp"), at).await.unwrap(), IdempotencyBegin::Replay(kept));

    // A claim that was committed after all is released by its own attempt: the key is free again.
    let released = key("committed-after-all");
    let first = claim(&released, "fp");
    assert_eq!(
        db.store.begin_idempotent_batch(std::slice::from_ref(&first), at).await.unwrap(),
        [IdempotencyBegin::Claimed]
    );
    db.store.release_idempotent(&released, &ClaimToken::new()).await.unwrap();
    assert_eq!(
        other.begin_idempotent(&claim(&released, "fp"), at).await.unwrap(),
        IdempotencyBegin::InUse,
        "another token"
    );
    db.store.release_idempotent(&released, &first.token).await.unwrap();
    assert_eq!(other.begin_idempotent(&claim(&released, "fp"), at).await.unwrap(), IdempotencyBegin::Claimed);
});

// A claim taken over from a store that is gone takes the new attempt's token: the dead attempt's
// settles it no more.
on_both_backends!(a_claim_taken_over_is_the_new_attempts_to_settle, |db| {
    let at = start();
    let k = key("taken-over");
    let claimant = db.open_another().await;
    let dead = claim(&k, "fp");
    assert_eq!(claimant.begin_idempotent(&dead, at).await.unwrap(), IdempotencyBegin::Claimed);
    drop(claimant);
    let taken_over = claim_once_its_claimant_is_gone(&db.store, &k, at).await;
    db.store.release_idempotent(&k, &dead.token).await.unwrap();
    assert_eq!(db.store.begin_idempotent(&claim(&k, "fp"), at).await.unwrap(), IdempotencyBegin::InUse);
    let kept = StoredResponse { status: 201, body: br#"{"id":"tr_1"}"#.to_vec() };
    db.store.complete_idempotent(&k, &taken_over.token, &kept).await.unwrap();
    assert_eq!(db.store.begin_idempotent(&claim(&k, "fp"), at).await.unwrap(), IdempotencyBegin::Replay(kept));
});

/// `claim` superseding the lost attempts `lost`.
fn superseding(key: &IdempotencyKey, fingerprint: &str, lost: &[&IdempotencyClaim]) -> IdempotencyClaim {
    IdempotencyClaim { supersedes: lost.iter().map(|c| c.token.clone()).collect(), ..claim(key, fingerprint) }
}

on_both_backends!(a_claim_takes_over_only_the_unanswered_claim_of_a_lost_attempt_it_names, |db| {
    let at = start();
    let k = key("lost");
    // An attempt whose claim was committed though its answer was lost: its store lives, so the claim
    // holds against any other attempt.
    let lost = claim(&k, "fp");
    assert_eq!(db.store.begin_idempotent(&lost, at).await.unwrap(), IdempotencyBegin::Claimed);
    assert_eq!(db.store.begin_idempotent(&claim(&k, "fp"), at).await.unwrap(), IdempotencyBegin::InUse);
    // Naming another token takes nothing; another request (fingerprint) under the key is refused.
    let stranger = claim(&k, "fp");
    assert_eq!(
        db.store.begin_idempotent(&superseding(&k, "fp", &[&stranger]), at).await.unwrap(),
        IdempotencyBegin::InUse
    );
    assert_eq!(
        db.store.begin_idempotent(&superseding(&k, "other", &[&lost]), at).await.unwrap(),
        IdempotencyBegin::Mismatch
    );
    // The retry naming it takes it over, from another instance too, in a batch with others.
    let other = db.open_another().await;
    let retry = superseding(&k, "fp", &[&stranger, &lost]);
    let begun = other.begin_idempotent_batch(&[claim(&key("beside"), "fp"), retry.clone()], at).await.unwrap();
    assert_eq!(begun, [IdempotencyBegin::Claimed, IdempotencyBegin::Claimed]);
    // Now the retry's: the lost attempt can settle it no more, and naming the lost token again takes
    // nothing (the retry runs once).
    let response = StoredResponse { status: 201, body: br#"{"id":"tr_1"}"#.to_vec() };
    db.store.complete_idempotent(&k, &lost.token, &response).await.unwrap();
    db.store.release_idempotent(&k, &lost.token).await.unwrap();
    assert_eq!(db.store.begin_idempotent(&superseding(&k, "fp", &[&lost]), at).await.unwrap(), IdempotencyBegin::InUse);
    other.complete_idempotent(&k, &retry.token, &response).await.unwrap();
    // Answered, the key replays, whatever a claim names.
    assert_eq!(
        db.store.begin_idempotent(&superseding(&k, "fp", &[&lost, &retry]), at).await.unwrap(),
        IdempotencyBegin::Replay(response)
    );
});
