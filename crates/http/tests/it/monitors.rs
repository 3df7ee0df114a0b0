//! Balance monitors over HTTP on SQLite and on PostgreSQL, against the webhooks' receiver on
//! loopback: a crossing fires once, staying beyond does not fire again, coming back and crossing
//! again fires again; a crossing committed while no server evaluated it (a restart between the
//! batch and the event) is fired by the next server; a type's monitor watches the accounts of the
//! type its bound client reaches only; another client's monitors answer 404, an account a bound
//! client does not reach answers as absent; conditions, targets and the per-client limit refused
//! with their codes.

use std::time::Duration;

use axum::http::StatusCode;
use sanhu_http::AppState;
use sanhu_service::party::Parties;
use sanhu_service::{Ledger, LedgerConfig};
use sanhu_testkit::app::{bound_client, new_client, TestApp};
use sanhu_testkit::on_both_backends;
use serde_json::{json, Value};

use super::webhooks::{app, config, pay, payer_and_shop, subscribe, until, Receiver};

async fn monitor(app: &TestApp, body: Value) -> String {
    let created = app.post("/v1/balance-monitors", body).await;
    created.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned()
}

fn below(account: &str, amount: i64) -> Value {
    json!({"account_id": account, "condition": {"field": "balance", "op": "below", "amount": amount}})
}

on_both_backends!(a_crossing_fires_once_and_again_only_after_coming_back_and_crossing_again, |db| {
    let app = app(db, vec![1; 3]).await;
    let receiver = Receiver::start().await;
    subscribe(&app, &receiver.url, json!(["balance_monitor.triggered"])).await;
    let (payer, basic, shop) = payer_and_shop(&app, 21).await;
    let id = monitor(&app, below(&basic, 5_000)).await;
    let shown = app.get(&format!("/v1/balance-monitors/{id}")).await;
    let shown = shown.assert_status(StatusCode::OK);
    assert_eq!(shown["account_id"], basic.as_str());
    assert_eq!(shown["condition"], json!({"field": "balance", "op": "below", "amount": 5_000}));
    assert_eq!(shown["status"], "active");
    let dispatcher = app.state.start_webhooks();
    // 100.00 to 40.00: below 50.00, fired once.
    app.post("/v1/payments", pay("M-1", &payer, 6_000, &shop)).await.assert_status(StatusCode::CREATED);
    until("the crossing", || receiver.events().len() == 1).await;
    let first = receiver.events()[0].clone();
    assert_eq!(first["type"], "balance_monitor.triggered");
    assert_eq!(first["object"]["id"], id.as_str());
    assert_eq!(first["object"]["account_id"], basic.as_str());
    assert_eq!(first["object"]["member_id"], payer.as_str());
    assert_eq!(first["object"]["balance"], 4_000);
    assert_eq!(first["object"]["available"], 4_000);
    assert!(first["object"]["transfer_id"].as_str().is_some_and(|t| !t.is_empty()));
    // Staying below: nothing more.
    app.post("/v1/payments", pay("M-2", &payer, 1_000, &shop)).await.assert_status(StatusCode::CREATED);
    app.post("/v1/payments", pay("M-3", &payer, 500, &shop)).await.assert_status(StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(receiver.events().len(), 1, "{:?}", receiver.events());
    // Back above (25.00 + 50.00), then below again: fired again, with the transfer that crossed.
    app.recharge(&payer, &basic, 5_000, "test", "R-M-2").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.events().len(), 1, "{:?}", receiver.events());
    app.post("/v1/payments", pay("M-4", &payer, 3_000, &shop)).await.assert_status(StatusCode::CREATED);
    until("the second crossing", || receiver.events().len() == 2).await;
    let second = receiver.events()[1].clone();
    assert_eq!(second["object"]["balance"], 4_500);
    assert_ne!(second["id"], first["id"]);
    assert_ne!(second["object"]["transfer_id"], first["object"]["transfer_id"]);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.events().len(), 2, "{:?}", receiver.events());
    // Disabled, nothing fires; deleted, it is gone.
    let disabled = app.post(&format!("/v1/balance-monitors/{id}/disable"), json!({})).await;
    assert_eq!(disabled.assert_status(StatusCode::OK)["status"], "disabled");
    let deleted = app.post(&format!("/v1/balance-monitors/{id}/delete"), json!({})).await;
    assert_eq!(deleted.assert_status(StatusCode::OK)["deleted"], true);
    app.get(&format!("/v1/balance-monitors/{id}"))
        .await
        .assert_error(StatusCode::NOT_FOUND, "balance_monitor_not_found");
    dispatcher.abort();
});

on_both_backends!(a_crossing_committed_before_a_restart_is_fired_by_the_next_server, |db| {
    let app = app(db, vec![1; 3]).await;
    let receiver = Receiver::start().await;
    subscribe(&app, &receiver.url, json!(["*"])).await;
    let (payer, basic, shop) = payer_and_shop(&app, 22).await;
    monitor(&app, below(&basic, 5_000)).await;
    // The first server evaluates, then stops right before the crossing's batch.
    let first = app.state.start_webhooks();
    tokio::time::sleep(Duration::from_millis(300)).await;
    first.abort();
    app.post("/v1/payments", pay("MR-1", &payer, 7_000, &shop)).await.assert_status(StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.of_type("balance_monitor.triggered").is_empty());
    // A new server on the same database: nothing shared in memory with the first.
    let store = app.db.store.clone();
    let second = AppState::new(
        Ledger::start(store.clone(), LedgerConfig::default()),
        Parties::new(store, crate::webhooks::party_config()),
        Default::default(),
    )
    .with_webhooks(config(vec![1; 3]));
    let dispatcher = second.start_webhooks();
    until("the crossing, after the restart", || receiver.of_type("balance_monitor.triggered").len() == 1).await;
    assert_eq!(receiver.of_type("balance_monitor.triggered")[0]["object"]["balance"], 3_000);
    // Once only, however often it sweeps.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.of_type("balance_monitor.triggered").len(), 1);
    dispatcher.abort();
});

on_both_backends!(a_types_monitor_watches_what_its_client_reaches_and_others_ids_answer_as_absent, |db| {
    let app = app(db, vec![1; 3]).await;
    let receiver = Receiver::start().await;
    let (payer, basic, shop) = payer_and_shop(&app, 23).await;
    let (other_payer, other_basic, _) = payer_and_shop(&app, 24).await;
    let bound = bound_client(&app.db.store, &payer, "payer's app").await;
    let created = app
        .send_as(&bound, "POST", "/v1/webhooks", json!({"url": receiver.url, "events": ["balance_monitor.triggered"]}))
        .await;
    created.assert_status(StatusCode::CREATED);
    // A debt monitor on every basic account: the bound client's reaches its member's only.
    let body = json!({"account_type": "basic", "condition": {"field": "available", "op": "below", "amount": 1_000}});
    let created = app.send_as(&bound, "POST", "/v1/balance-monitors", body).await;
    let created = created.assert_status(StatusCode::CREATED).clone();
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(
        (created["account_type"].as_str(), created["bound_member_id"].as_str()),
        (Some("basic"), Some(payer.as_str()))
    );
    // Another member's account: absent for the bound client.
    app.send_as(&bound, "POST", "/v1/balance-monitors", below(&other_basic, 100))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_account_not_found");
    let dispatcher = app.state.start_webhooks();
    app.post("/v1/payments", pay("MT-1", &other_payer, 9_500, &shop)).await.assert_status(StatusCode::CREATED);
    app.post("/v1/payments", pay("MT-2", &payer, 9_500, &shop)).await.assert_status(StatusCode::CREATED);
    until("the bound member's crossing", || receiver.events().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = receiver.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["object"]["account_id"], basic.as_str());
    // Another client: the monitor is not there for it.
    let other = new_client(&app.db.store).await;
    let absent =
        |r: sanhu_testkit::app::TestResponse| r.assert_error(StatusCode::NOT_FOUND, "balance_monitor_not_found");
    absent(app.send_as(&other, "GET", &format!("/v1/balance-monitors/{id}"), Value::Null).await);
    for action in ["disable", "enable", "delete"] {
        absent(app.send_as(&other, "POST", &format!("/v1/balance-monitors/{id}/{action}"), json!({})).await);
    }
    absent(app.get(&format!("/v1/balance-monitors/{id}")).await);
    let listed = app.send_as(&other, "GET", "/v1/balance-monitors", Value::Null).await;
    assert!(listed.assert_status(StatusCode::OK)["data"].as_array().unwrap().is_empty());
    let listed = app.send_as(&bound, "GET", "/v1/balance-monitors", Value::Null).await;
    assert_eq!(listed.assert_status(StatusCode::OK)["data"][0]["id"], id.as_str());
    dispatcher.abort();
});

on_both_backends!(monitors_refuse_bad_conditions_and_targets_and_a_client_has_at_most_fifty, |db| {
    let app = app(db, vec![1; 3]).await;
    let (_, basic, _) = payer_and_shop(&app, 25).await;
    let refused = |body: Value, code: &'static str| {
        let app = &app;
        async move { app.post("/v1/balance-monitors", body).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, code) }
    };
    let condition = |field: &str, op: &str, amount: i64| json!({"field": field, "op": op, "amount": amount});
    for c in [
        condition("debt", "below", 1),
        condition("debt", "deeper", -1),
        condition("balance", "deeper", 1),
        condition("limit", "below", 1),
        condition("balance", "below", 1_000_000_000_000_001),
    ] {
        refused(json!({"account_id": basic, "condition": c}), "balance_monitor_condition_invalid").await;
    }
    let ok = condition("debt", "deeper", 100);
    refused(json!({"condition": ok}), "balance_monitor_target_invalid").await;
    refused(json!({"account_id": basic, "account_type": "basic", "condition": ok}), "balance_monitor_target_invalid")
        .await;
    refused(json!({"account_type": "no_such_type", "condition": ok}), "balance_monitor_target_invalid").await;
    refused(json!({"account_id": "acc_x", "condition": ok}), "balance_monitor_target_invalid").await;
    let absent_account = sanhu_service::clock::new_id::<sanhu_core::id::AccountTag>().to_string();
    app.post("/v1/balance-monitors", json!({"account_id": absent_account, "condition": ok}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_account_not_found");
    for _ in 0..50 {
        monitor(&app, json!({"account_id": basic, "condition": ok})).await;
    }
    app.post("/v1/balance-monitors", json!({"account_id": basic, "condition": ok}))
        .await
        .assert_error(StatusCode::CONFLICT, "balance_monitor_limit_reached");
    let page = app.get("/v1/balance-monitors?limit=20").await;
    let page = page.assert_status(StatusCode::OK).clone();
    assert_eq!(page["data"].as_array().unwrap().len(), 20);
    let next = page["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("/v1/balance-monitors?limit=100&after={next}")).await;
    assert_eq!(rest.assert_status(StatusCode::OK)["data"].as_array().unwrap().len(), 30);
    app.get("/v1/balance-monitors?limit=101").await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_limit");
});

on_both_backends!(a_disabled_monitor_stays_silent_across_a_crossing_and_fires_after_enable_only_on_a_new_one, |db| {
    let app = app(db, vec![1; 3]).await;
    let receiver = Receiver::start().await;
    subscribe(&app, &receiver.url, json!(["balance_monitor.triggered"])).await;
    let (payer, basic, shop) = payer_and_shop(&app, 26).await;
    let id = monitor(&app, below(&basic, 5_000)).await;
    let dispatcher = app.state.start_webhooks();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let disabled = app.post(&format!("/v1/balance-monitors/{id}/disable"), json!({})).await;
    assert_eq!(disabled.assert_status(StatusCode::OK)["status"], "disabled");
    // 100.00 to 40.00 while disabled: silent.
    app.post("/v1/payments", pay("MD-1", &payer, 6_000, &shop)).await.assert_status(StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(receiver.events().is_empty(), "{:?}", receiver.events());
    // Enabled: the crossing made while disabled does not fire, nor does staying below (35.00).
    let enabled = app.post(&format!("/v1/balance-monitors/{id}/enable"), json!({})).await;
    assert_eq!(enabled.assert_status(StatusCode::OK)["status"], "active");
    tokio::time::sleep(Duration::from_millis(500)).await;
    app.post("/v1/payments", pay("MD-2", &payer, 500, &shop)).await.assert_status(StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(receiver.events().is_empty(), "{:?}", receiver.events());
    // Enabling it again while active changes nothing.
    let again = app.post(&format!("/v1/balance-monitors/{id}/enable"), json!({})).await;
    assert_eq!(again.assert_status(StatusCode::OK)["status"], "active");
    // Back above (85.00), then a new crossing (45.00): fired, once.
    app.recharge(&payer, &basic, 5_000, "test", "R-MD-2").await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(receiver.events().is_empty(), "{:?}", receiver.events());
    app.post("/v1/payments", pay("MD-3", &payer, 4_000, &shop)).await.assert_status(StatusCode::CREATED);
    until("the new crossing", || receiver.events().len() == 1).await;
    assert_eq!(receiver.events()[0]["object"]["balance"], 4_500);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(receiver.events().len(), 1, "{:?}", receiver.events());
    dispatcher.abort();
    // Each change of the monitor is an audit event of its own, by its route, about the monitor.
    app.post(&format!("/v1/balance-monitors/{id}/delete"), json!({})).await.assert_status(StatusCode::OK);
    let audit = app.get(&format!("/v1/audit-events?limit=100&target_id={id}")).await;
    let audit = audit.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone();
    let seen: Vec<(String, String, u64)> = audit
        .iter()
        .map(|e| {
            (
                e["method"].as_str().unwrap().to_owned(),
                e["route"].as_str().unwrap().to_owned(),
                e["status"].as_u64().unwrap(),
            )
        })
        .collect();
    let expected = |route: &str, status: u64| ("POST".to_owned(), route.to_owned(), status);
    assert_eq!(
        seen,
        vec![
            expected("/v1/balance-monitors", 201),
            expected("/v1/balance-monitors/{id}/disable", 200),
            expected("/v1/balance-monitors/{id}/enable", 200),
            expected("/v1/balance-monitors/{id}/enable", 200),
            expected("/v1/balance-monitors/{id}/delete", 200),
        ],
        "{audit:?}"
    );
    let actor = format!("client:{}", app.client.id);
    assert!(audit.iter().all(|e| e["actor"] == actor.as_str()), "{audit:?}");
});
