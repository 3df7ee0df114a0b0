//! API clients remembered by the instance, on SQLite and PostgreSQL: a client or key revoked in the
//! store (as another instance or `sanhu client revoke` does) is refused by every request sent a
//! second after the revocation, and accepted before it; a key added verifies at once; a client created
//! after a refused call is accepted within a second; a flood of made-up client ids holds no more
//! entries than the bound.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::Router;
use ed25519_dalek::SigningKey;
use sanhu_core::id::ClientTag;
use sanhu_http::client_cache::CLIENT_TRUSTED_FOR;
use sanhu_http::{router, AppState, HttpConfig};
use sanhu_service::clock;
use sanhu_service::party::{Parties, PartyConfig};
use sanhu_service::{Ledger, LedgerConfig};
use sanhu_store::{AccessStore, ApiClient, KeyAdded};
use sanhu_testkit::app::{send_to, signed, Client, TestResponse};
use sanhu_testkit::{on_both_backends, TestDatabase};

/// How long after a change the tests keep sending: the promise's second and a little more, so that
/// some requests are sent after it.
const WATCHED_FOR: Duration = Duration::from_millis(1400);

fn app(db: &TestDatabase, config: HttpConfig) -> (Router, AppState) {
    let ledger = Ledger::start(db.store.clone(), LedgerConfig::default());
    let parties = Parties::new(db.store.clone(), PartyConfig::default());
    let state = AppState::new(ledger, parties, config);
    (router(state.clone()), state)
}

fn new_key() -> SigningKey {
    SigningKey::from_bytes(&clock::random_bytes())
}

fn new_client_id() -> String {
    clock::new_id::<ClientTag>().to_string()
}

/// A signed `GET /v1/ledger/accounts` as `client_id`, signed with `key`.
async fn read(router: &Router, client_id: &str, key: &SigningKey) -> TestResponse {
    let client = Client { id: client_id.to_owned(), key: key.clone() };
    send_to(router, signed(&client, "GET", "/v1/ledger/accounts", b"", &[])).await
}

/// Sends reads for [`WATCHED_FOR`] after `changed` (the instant the change in the store was done),
/// and answers, for each, how long after the change it was sent and its status and code.
async fn watch(router: &Router, client_id: &str, key: &SigningKey, changed: Instant) -> Vec<(Duration, String)> {
    let mut seen = Vec::new();
    while changed.elapsed() < WATCHED_FOR {
        let sent = changed.elapsed();
        let answer = read(router, client_id, key).await;
        let outcome = if answer.status == StatusCode::OK { "200".to_owned() } else { answer.code().to_owned() };
        seen.push((sent, outcome));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    seen
}

/// Every request sent a second after the change was answered `after`; the ones before it either
/// way (`before` or `after`).
#[track_caller]
fn changed_within_a_second(seen: &[(Duration, String)], before: &str, after: &str) {
    let late: Vec<_> = seen.iter().filter(|(sent, _)| *sent >= CLIENT_TRUSTED_FOR).collect();
    assert!(!late.is_empty(), "some requests were sent after the second: {seen:?}");
    assert!(late.iter().all(|(_, outcome)| outcome == after), "a second after the change: {seen:?}");
    assert!(seen.iter().all(|(_, outcome)| outcome == before || outcome == after), "{seen:?}");
}

on_both_backends!(a_revoked_key_or_client_is_refused_within_a_second_and_accepted_before, |db| {
    let (router, _) = app(&db, HttpConfig::default());
    let (first, second) = (new_key(), new_key());
    let id = new_client_id();
    let client = ApiClient::new(id.clone(), "cache test".to_owned(), first.verifying_key().to_bytes(), clock::now());
    db.store.create_client(&client).await.unwrap();
    assert_eq!(read(&router, &id, &first).await.status, StatusCode::OK, "accepted before");
    // A key added verifies at once, though the client is remembered without it.
    let added = db.store.add_client_key(&id, &second.verifying_key().to_bytes(), clock::now()).await.unwrap();
    assert_eq!(added, KeyAdded::Added { number: 2 });
    assert_eq!(read(&router, &id, &second).await.status, StatusCode::OK, "a new key at once");

    // Key 1 revoked behind the instance's back, as another instance or the CLI does.
    assert_eq!(read(&router, &id, &first).await.status, StatusCode::OK);
    assert!(db.store.revoke_client_key(&id, 1, clock::now()).await.unwrap());
    let seen = watch(&router, &id, &first, Instant::now()).await;
    changed_within_a_second(&seen, "200", "invalid_signature");
    assert_eq!(read(&router, &id, &second).await.status, StatusCode::OK, "the other key goes on");

    // The client revoked: refused whatever key signs.
    assert!(db.store.revoke_client(&id, clock::now()).await.unwrap());
    let seen = watch(&router, &id, &second, Instant::now()).await;
    changed_within_a_second(&seen, "200", "client_revoked");
});

on_both_backends!(a_client_created_after_a_refused_call_is_accepted_within_a_second, |db| {
    let (router, _) = app(&db, HttpConfig::default());
    let key = new_key();
    let id = new_client_id();
    read(&router, &id, &key).await.assert_error(StatusCode::UNAUTHORIZED, "unknown_client");
    let client = ApiClient::new(id.clone(), "cache test".to_owned(), key.verifying_key().to_bytes(), clock::now());
    db.store.create_client(&client).await.unwrap();
    let seen = watch(&router, &id, &key, Instant::now()).await;
    changed_within_a_second(&seen, "unknown_client", "200");
});

on_both_backends!(a_flood_of_made_up_client_ids_holds_no_more_than_the_bound, |db| {
    let bound = 50;
    let (router, state) = app(&db, HttpConfig { clients_cached_max: bound, ..HttpConfig::default() });
    let key = new_key();
    let id = new_client_id();
    let client = ApiClient::new(id.clone(), "cache test".to_owned(), key.verifying_key().to_bytes(), clock::now());
    db.store.create_client(&client).await.unwrap();
    assert_eq!(read(&router, &id, &key).await.status, StatusCode::OK);
    for n in 0..4 * bound {
        read(&router, &new_client_id(), &key).await.assert_error(StatusCode::UNAUTHORIZED, "unknown_client");
        assert!(state.clients().len() <= bound, "{} clients remembered after {n} made-up ids", state.clients().len());
    }
    // The real client, pushed out or not, is still served.
    assert_eq!(read(&router, &id, &key).await.status, StatusCode::OK);
});
