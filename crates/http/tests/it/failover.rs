//! The API while its PostgreSQL database fails over, without a second server: the store connects as a
//! role of its own (`sanhu_testkit::failover::WriteSwitch`) through a URL of two hosts that asks for
//! the one taking writes; the role's sessions are cut and made read-only, as the old primary's are,
//! and then take writes again, as the new primary's do. Skipped (with a message) when PostgreSQL is
//! unreachable outside CI.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use sanhu_store::Store;
use sanhu_testkit::app::{Setup, TestApp, TestResponse};
use sanhu_testkit::failover::WriteSwitch;
use sanhu_testkit::TestDatabase;
use serde_json::json;

async fn failover_app() -> Option<(TestApp, WriteSwitch)> {
    let mut db = TestDatabase::postgres().await?;
    let switch = WriteSwitch::create().await;
    db.store = Store::open(&switch.url_of_hosts(&db.url), &Default::default()).await.expect("open through two hosts");
    Some((TestApp::start(db, Setup::default()).await, switch))
}

async fn ready(app: &TestApp) -> TestResponse {
    app.send(Request::builder().uri("/ready").body(Body::empty()).unwrap()).await
}

/// 503 with Retry-After, `ledger_unavailable` (the writer could not commit) or `not_ready` (the
/// request could not even be authenticated or its key claimed): never 500, and a retry is invited.
#[track_caller]
fn assert_retry_later(answer: &TestResponse) {
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{}", answer.body);
    assert!(["ledger_unavailable", "not_ready"].contains(&answer.error_code()), "{}", answer.body);
    assert!(answer.headers.contains_key("retry-after"), "{:?}", answer.headers);
}

/// While no host takes writes, money-moving requests are 503 with Retry-After and readiness is 503;
/// once one does, the same process is ready again by itself, and a request first answered 503,
/// retried with its Idempotency-Key, is applied exactly once (its further retries are replays).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_primary_requests_are_503_and_a_retry_is_decided_once_on_the_next() {
    let Some((app, switch)) = failover_app().await else { return };
    let funding = app.funding().await;
    let wallet = app.open_account(json!({"currency": "CNY"})).await;
    app.transfer(&funding, &wallet, 100).await.assert_status(StatusCode::CREATED);
    assert_eq!(ready(&app).await.status, StatusCode::OK);

    switch.stop_writes().await;
    let body = json!({"debit_account_id": funding, "credit_account_id": wallet, "amount": 25});
    for _ in 0..3 {
        assert_retry_later(&app.post_keyed("/v1/ledger/transfers", "failover-1", body.clone()).await);
        assert_retry_later(&app.transfer(&funding, &wallet, 1).await);
        ready(&app).await.assert_error(StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    }

    switch.take_writes().await;
    assert_eq!(ready(&app).await.status, StatusCode::OK, "ready once a host takes writes");
    let decided = app.post_keyed("/v1/ledger/transfers", "failover-1", body.clone()).await;
    let id = decided.assert_status(StatusCode::CREATED)["id"].clone();
    assert!(!decided.replayed());
    let again = app.post_keyed("/v1/ledger/transfers", "failover-1", body.clone()).await;
    assert_eq!((again.status, &again.body["id"], again.replayed()), (StatusCode::CREATED, &id, true));
    assert_eq!(app.balance(&wallet).await, 125, "the first transfer and the retried one, once");
    app.verify_clean().await;
}

/// Every connection the server ends (as a primary that dies or shuts down does) is answered 503 at
/// most once per connection, never 500, and the next request is served on a fresh connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_the_server_ends_are_503_at_worst_and_service_resumes_at_once() {
    let Some((app, switch)) = failover_app().await else { return };
    let funding = app.funding().await;
    let wallet = app.open_account(json!({"currency": "CNY"})).await;
    let mut applied = 0;
    for round in 0..3 {
        switch.terminate().await;
        let body = json!({"debit_account_id": funding, "credit_account_id": wallet, "amount": 10});
        let key = format!("terminated-{round}");
        let first = app.post_keyed("/v1/ledger/transfers", &key, body.clone()).await;
        if first.status != StatusCode::CREATED {
            assert_retry_later(&first);
            let retried = app.post_keyed("/v1/ledger/transfers", &key, body.clone()).await;
            retried.assert_status(StatusCode::CREATED);
        }
        applied += 10;
        assert_eq!(ready(&app).await.status, StatusCode::OK);
    }
    assert_eq!(app.balance(&wallet).await, applied);
    app.verify_clean().await;
}
