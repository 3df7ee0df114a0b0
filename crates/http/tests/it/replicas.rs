//! Read replicas over HTTP (docs/OPERATIONS.md, "Read replicas"). Without standbys every read is the
//! primary's, on both backends. On PostgreSQL a "standby" is played by a database of its own that
//! lacks everything the test writes (the most a standby can lag): a read routed to it finds nothing,
//! which shows where it was read; its freshness is set as the sampler would set it. Money decisions
//! are never affected, and reads asked `strong`, or made while the standby is beyond the bound, are
//! the primary's and fresh. The sampler itself is run against a database that is no standby and
//! against one that does not answer: neither is used.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use sanhu_service::reads::{ReadFrom, ReplicaConfig, Replicas};
use sanhu_store::Store;
use sanhu_testkit::app::{TestApp, TestResponse};
use sanhu_testkit::{on_both_backends, world, TestDatabase};
use serde_json::json;

const CONFIG: ReplicaConfig =
    ReplicaConfig { max_staleness: Duration::from_millis(1_000), sample_every: Duration::from_millis(50) };

fn read_from(answer: &TestResponse) -> &str {
    answer.headers.get("sanhu-read-from").and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// A member with 100.00 recharged and a shop to pay; returns (member, its account, the shop's account).
async fn member_with_money(app: &TestApp) -> (String, String, String) {
    let (member, account) = app.active_member("13800000001").await;
    let (_, shop) = app.active_member("13800000002").await;
    app.recharge(&member, &account, 10_000, "alipay", "R-1").await;
    (member, account, shop)
}

fn pay(number: &str, member: &str, amount: i64, receiver: &str) -> serde_json::Value {
    json!({"order_number": number, "member_id": member, "amount": amount, "receiver_account_id": receiver})
}

on_both_backends!(without_standbys_every_read_is_the_primarys_and_a_bad_consistency_is_400, |db| {
    let app = TestApp::new(db, world::party_config(), world::wallet_config()).await;
    let (member, account, _) = member_with_money(&app).await;
    let reads = [
        format!("/v1/members/{member}/wallet/flow"),
        format!("/v1/ledger/accounts/{account}/entries"),
        format!("/v1/members/{member}/bills"),
        "/v1/statistics/daily".to_owned(),
        format!("/v1/orders?kind=recharge&member_id={member}"),
        "/v1/audit-events".to_owned(),
    ];
    for path in &reads {
        let answer = app.get(path).await;
        answer.assert_status(StatusCode::OK);
        assert_eq!(read_from(&answer), "primary", "{path}");
        let strong = app.send_with("GET", path, b"", &[("sanhu-consistency", "strong")]).await;
        assert_eq!((strong.status, read_from(&strong)), (StatusCode::OK, "primary"), "{path}");
        let bad = app.send_with("GET", path, b"", &[("sanhu-consistency", "fresh")]).await;
        bad.assert_error(StatusCode::BAD_REQUEST, "invalid_consistency");
    }
    let flow = app.get(&format!("/v1/members/{member}/wallet/flow")).await;
    assert_eq!(flow.assert_status(StatusCode::OK)["data"].as_array().unwrap().len(), 1, "the recharge");
    // A write's answer never says where it read: it read the primary.
    let account_answer = app.get(&format!("/v1/ledger/accounts/{account}")).await;
    assert_eq!(read_from(&account_answer), "");
});

/// The app of `db` with one standby played by `standby`.
fn with_standby(mut app: TestApp, standby: Store) -> (TestApp, Replicas) {
    let replicas = Replicas::new(CONFIG, vec![("the standby".to_owned(), standby)]);
    app.state = app.state.clone().with_replicas(replicas.clone());
    app.router = sanhu_http::router(app.state.clone());
    (app, replicas)
}

/// A standby within the bound serves flows and statements (here: a copy that has none of the
/// writes, so the member is unknown there); a read asked `strong` and a standby past the bound go to
/// the primary and see every write; a payment right after a recharge decides on the primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_within_the_bound_go_to_the_standby_and_money_decisions_and_strong_reads_to_the_primary() {
    let Some(db) = TestDatabase::postgres().await else { return };
    let Some(lagging) = TestDatabase::postgres().await else { return };
    sanhu_store::DatabaseStore::migrate(&lagging.store).await.unwrap();
    let app = TestApp::new(db, world::party_config(), world::wallet_config()).await;
    let (app, replicas) = with_standby(app, lagging.store.clone());
    let (member, account, shop) = member_with_money(&app).await;
    let flow = format!("/v1/members/{member}/wallet/flow");
    let entries = format!("/v1/ledger/accounts/{account}/entries");

    // Not yet sampled: the primary.
    assert_eq!(replicas.route(false), ReadFrom::PrimaryNoFreshReplica);
    let answer = app.get(&flow).await;
    assert_eq!((answer.status, read_from(&answer)), (StatusCode::OK, "primary"));

    // Fresh as of now: the standby answers, and it has not seen the member or its account.
    replicas.set_fresh_as_of(0, Some(Instant::now()));
    app.get(&flow).await.assert_error(StatusCode::NOT_FOUND, "member_not_found");
    app.get(&entries).await.assert_error(StatusCode::NOT_FOUND, "account_not_found");
    let bills = app.get(&format!("/v1/members/{member}/bills")).await;
    bills.assert_error(StatusCode::NOT_FOUND, "member_not_found");
    let daily = app.get("/v1/statistics/daily").await;
    assert_eq!((daily.status, read_from(&daily)), (StatusCode::OK, "replica"));
    assert_eq!(daily.body["total"]["recharges"]["count"], 0, "{}", daily.body);

    // The money decision after the write reads the primary: the payment is decided on the recharge.
    let paid = app.post("/v1/payments", pay("P-1", &member, 3_000, &shop)).await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["status"], "paid", "{}", paid.body);
    let too_much = app.post("/v1/payments", pay("P-2", &member, 7_001, &shop)).await;
    assert_eq!(too_much.status.as_u16() / 100, 4, "{}", too_much.body);
    // The balances a caller decides on are the primary's, never a standby's.
    let wallet = app.get(&format!("/v1/members/{member}/wallet")).await;
    assert_eq!(read_from(&wallet), "", "not a read a standby may serve");
    assert_eq!(wallet.assert_status(StatusCode::OK)["available"], 7_000, "{}", wallet.body);

    // Asked strong: the primary, with both movements.
    let strong = app.send_with("GET", &flow, b"", &[("sanhu-consistency", "strong")]).await;
    assert_eq!(read_from(&strong), "primary");
    assert_eq!(strong.assert_status(StatusCode::OK)["data"].as_array().unwrap().len(), 2, "{}", strong.body);

    // Past the bound: the primary again, fresh.
    replicas.set_fresh_as_of(0, Some(Instant::now() - Duration::from_millis(1_500)));
    let stale = app.get(&entries).await;
    assert_eq!(read_from(&stale), "primary");
    assert_eq!(stale.assert_status(StatusCode::OK)["data"].as_array().unwrap().len(), 2, "{}", stale.body);
    app.verify_clean().await;
}

/// The sampler uses only a standby: a database that is not in recovery, or one that does not answer,
/// is never fresh, and reads go to the primary.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sampler_passes_over_a_database_that_is_no_standby_and_one_that_does_not_answer() {
    let Some(db) = TestDatabase::postgres().await else { return };
    let primary_itself = db.open_another().await;
    let unreachable =
        Store::open_replica("postgres://postgres@127.0.0.1:1/test?connect_timeout=1", &Default::default())
            .expect("a replica store connects on first use");
    let replicas = Replicas::new(
        CONFIG,
        vec![("the primary itself".to_owned(), primary_itself), ("nothing there".to_owned(), unreachable)],
    );
    let mut positions = Default::default();
    replicas.set_fresh_as_of(0, Some(Instant::now()));
    replicas.set_fresh_as_of(1, Some(Instant::now()));
    replicas.sample(&db.store, &mut positions).await;
    assert_eq!(replicas.route(false), ReadFrom::PrimaryNoFreshReplica);
    assert_eq!(replicas.route(true), ReadFrom::PrimaryAsked);
    assert!(db.store.wal_position().await.unwrap().is_some());
    assert_eq!(db.store.replay_position().await.unwrap(), None, "the primary is not in recovery");
}

/// SQLite has no standbys: a replica URL is refused, and positions are unknown.
#[tokio::test]
async fn sqlite_has_no_standbys() {
    let db = TestDatabase::sqlite().await;
    assert!(Store::open_replica(&db.url, &Default::default()).is_err());
    assert_eq!(db.store.wal_position().await.unwrap(), None);
    assert_eq!(db.store.replay_position().await.unwrap(), None);
}
