//! Claims on idempotency keys across store instances, on both backends: a claim whose store is gone
//! (its process died) is taken over at once, not after the lease; a claim whose store lives is not,
//! whichever instance asks.

use std::time::{Duration, Instant};

use sanhu_core::Timestamp;
use sanhu_store::{on_both_backends, AccessStore, IdempotencyBegin, IdempotencyKey, Store, StoredResponse};

/// Longest PostgreSQL may take to end the session of a store that went away (it notices the closed
/// socket at once; this is slack for a loaded machine). Far below the lease.
const SESSION_END_TIMEOUT: Duration = Duration::from_secs(10);

fn key(name: &str) -> IdempotencyKey {
    IdempotencyKey { client_id: "cli_1".to_owned(), key: name.to_owned() }
}

fn start() -> Timestamp {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    Timestamp(nanos as i64)
}

/// Asks `store` for `key` at `at` until it is claimed, as a client retries after a crash.
async fn claim_once_its_claimant_is_gone(store: &Store, key: &IdempotencyKey, at: Timestamp) {
    let started = Instant::now();
    loop {
        match store.begin_idempotent(key, "fp", at).await.unwrap() {
            IdempotencyBegin::Claimed => return,
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
    assert_eq!(claimant.begin_idempotent(&k, "fp", at).await.unwrap(), IdempotencyBegin::Claimed);
    assert_eq!(db.store.begin_idempotent(&k, "fp", at).await.unwrap(), IdempotencyBegin::InUse, "another instance");
    assert_eq!(claimant.begin_idempotent(&k, "fp", at).await.unwrap(), IdempotencyBegin::InUse, "its own instance");
    assert_eq!(db.store.begin_idempotent(&k, "other", at).await.unwrap(), IdempotencyBegin::Mismatch);

    // The claimant goes away with its request unanswered, as a killed process does.
    drop(claimant);
    claim_once_its_claimant_is_gone(&db.store, &k, at).await;

    // Taken over, the claim is the live store's: in use for everyone else, and for it.
    let third = db.open_another().await;
    assert_eq!(third.begin_idempotent(&k, "fp", at).await.unwrap(), IdempotencyBegin::InUse);
    assert_eq!(db.store.begin_idempotent(&k, "fp", at).await.unwrap(), IdempotencyBegin::InUse);
    let response = StoredResponse { status: 201, body: br#"{"id":"tr_1"}"#.to_vec() };
    db.store.complete_idempotent(&k, &response).await.unwrap();
    assert_eq!(third.begin_idempotent(&k, "fp", at).await.unwrap(), IdempotencyBegin::Replay(response));

    // A claimant that answered before it went away leaves its answer, not a claim to take over.
    let answered = key("k2");
    let claimant = db.open_another().await;
    assert_eq!(claimant.begin_idempotent(&answered, "fp", at).await.unwrap(), IdempotencyBegin::Claimed);
    let response = StoredResponse { status: 422, body: br#"{"error":{}}"#.to_vec() };
    claimant.complete_idempotent(&answered, &response).await.unwrap();
    drop(claimant);
    assert_eq!(db.store.begin_idempotent(&answered, "fp", at).await.unwrap(), IdempotencyBegin::Replay(response));
});

on_both_backends!(two_live_stores_racing_for_a_dead_claim_take_it_over_once, |db| {
    let at = start();
    let k = key("k3");
    let claimant = db.open_another().await;
    assert_eq!(claimant.begin_idempotent(&k, "fp", at).await.unwrap(), IdempotencyBegin::Claimed);
    drop(claimant);
    let other = db.open_another().await;
    let started = Instant::now();
    loop {
        let (a, b) = tokio::join!(db.store.begin_idempotent(&k, "fp", at), other.begin_idempotent(&k, "fp", at));
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
