//! Webhooks over HTTP on SQLite and on PostgreSQL, against a receiver served by the test on
//! loopback: a receiver down for a while gets every event once it is back, in order per object;
//! deliveries verify with the documented signature and keep their event ids (a receiver can
//! de-duplicate); an event whose change committed before a restart is delivered by the next server;
//! a slow receiver does not slow payments; a delivery that keeps failing gives up and disables its
//! subscription; the delivery log, resend and the test event; internal targets refused; another
//! client's subscriptions answer 404; a bound client receives only what it reaches.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use base64::Engine as _;
use sanhu_http::outbound::{OutboundClient, OutboundConfig};
use sanhu_http::AppState;
use sanhu_service::party::Parties;
use sanhu_service::webhook::WebhookConfig;
use sanhu_service::{Ledger, LedgerConfig};
use sanhu_store::AccessStore;
use sanhu_testkit::app::{bound_client, new_client, TestApp};
use sanhu_testkit::{on_both_backends, world, TestDatabase};
use serde_json::{json, Value};

/// What tests allow: plain http to loopback, and retries a second apart.
pub(crate) fn config(retry_schedule_s: Vec<u64>) -> WebhookConfig {
    WebhookConfig {
        allow_private_targets: true,
        allow_plain_http: true,
        retry_schedule_s,
        poll_interval_ms: 50,
        deliveries_at_once: 8,
        attempt_timeout_ms: 5_000,
        retention_days: 30,
    }
}

/// The parties' configuration with a data key configured, as a production server has it (secrets
/// sealed under it open after a restart).
pub(crate) fn party_config() -> sanhu_service::party::PartyConfig {
    let data_keys = sanhu_service::party::DataKeys::new(&[5; 32], &[]).expect("a 32-byte data key");
    sanhu_service::party::PartyConfig { data_keys, ..world::party_config() }
}

pub(crate) async fn app(db: TestDatabase, retry_schedule_s: Vec<u64>) -> TestApp {
    TestApp::new(db, party_config(), world::wallet_config()).await.with_webhooks(config(retry_schedule_s))
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Up,
    Down,
    Slow(Duration),
}

/// One delivery as the receiver got it.
#[derive(Clone)]
struct Received {
    path_and_query: String,
    headers: HeaderMap,
    body: Bytes,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap()
    }
}

/// A receiver on loopback that records what it is sent while up.
#[derive(Clone)]
pub(crate) struct Receiver {
    mode: Arc<Mutex<Mode>>,
    received: Arc<Mutex<Vec<Received>>>,
    pub(crate) url: String,
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hooks/sanhu?tenant=t1", listener.local_addr().unwrap());
        let receiver = Receiver { mode: Arc::new(Mutex::new(Mode::Up)), received: Arc::default(), url };
        let router =
            axum::Router::new().route("/hooks/sanhu", axum::routing::post(receive)).with_state(receiver.clone());
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        receiver
    }

    pub(crate) fn set(&self, mode: Mode) {
        *self.mode.lock().unwrap() = mode;
    }

    pub(crate) fn events(&self) -> Vec<Value> {
        self.received.lock().unwrap().iter().map(Received::json).collect()
    }

    pub(crate) fn of_type(&self, event_type: &str) -> Vec<Value> {
        self.events().into_iter().filter(|e| e["type"] == event_type).collect()
    }
}

async fn receive(
    State(receiver): State<Receiver>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let mode = *receiver.mode.lock().unwrap();
    match mode {
        Mode::Down => return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance"),
        Mode::Slow(delay) => tokio::time::sleep(delay).await,
        Mode::Up => {}
    }
    let path_and_query = uri.path_and_query().map(|p| p.to_string()).unwrap_or_default();
    receiver.received.lock().unwrap().push(Received { path_and_query, headers, body });
    (StatusCode::OK, "ok")
}

/// Waits until `done` holds, at most 20 s.
pub(crate) async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < Duration::from_secs(20), "waited 20 s for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

pub(crate) async fn subscribe(app: &TestApp, url: &str, events: Value) -> Value {
    let created = app.post("/v1/webhooks", json!({"url": url, "events": events})).await;
    created.assert_status(StatusCode::CREATED).clone()
}

/// A payer with 100.00 and a shop: (payer, payer's basic account, shop's basic account).
pub(crate) async fn payer_and_shop(app: &TestApp, n: u32) -> (String, String, String) {
    let (payer, basic) = app.active_member(&format!("1370000{n:04}")).await;
    let (_, shop) = app.active_member(&format!("1370001{n:04}")).await;
    app.recharge(&payer, &basic, 10_000, "test", &format!("R-{n}")).await;
    (payer, basic, shop)
}

pub(crate) fn pay(number: &str, member: &str, amount: i64, receiver: &str) -> Value {
    json!({"order_number": number, "member_id": member, "amount": amount, "receiver_account_id": receiver})
}

on_both_backends!(a_receiver_down_for_a_while_gets_every_event_once_it_is_back_in_order, |db| {
    let app = app(db, vec![1; 10]).await;
    let receiver = Receiver::start().await;
    let subscription = subscribe(&app, &receiver.url, json!(["*"])).await;
    let id = subscription["id"].as_str().unwrap().to_owned();
    let dispatcher = app.state.start_webhooks();
    receiver.set(Mode::Down);
    let (payer, _, shop) = payer_and_shop(&app, 1).await;
    app.post("/v1/payments", pay("P-1", &payer, 3_000, &shop)).await.assert_status(StatusCode::CREATED);
    let refund = json!({"refund_number": "RF-1", "amount": 1_000});
    app.post("/v1/payments/P-1/refunds", refund).await.assert_status(StatusCode::CREATED);
    // Down: the attempts fail and are logged with the receiver's answer.
    let mut failed = Value::Null;
    for _ in 0..200 {
        failed = app.get(&format!("/v1/webhooks/{id}/attempts")).await.assert_status(StatusCode::OK).clone();
        if failed["data"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let attempt = &failed["data"][0];
    assert_eq!((attempt["outcome"].as_str(), attempt["status_code"].as_i64()), (Some("failed"), Some(503)));
    assert_eq!(attempt["response_snippet"], "down for maintenance");
    assert!(attempt["latency_ms"].as_i64().unwrap() >= 0);
    assert!(receiver.events().is_empty());
    // Back: every event arrives, the payment's in the order they happened.
    receiver.set(Mode::Up);
    until("the recharge, the payment and its refund", || {
        !receiver.of_type("recharge.credited").is_empty()
            && !receiver.of_type("payment.paid").is_empty()
            && !receiver.of_type("payment.refunded").is_empty()
    })
    .await;
    let events = receiver.events();
    let position = |t: &str| events.iter().position(|e| e["type"] == t).unwrap();
    assert!(position("payment.paid") < position("payment.refunded"), "{events:?}");
    let paid = &receiver.of_type("payment.paid")[0];
    assert_eq!(paid["object"]["order_number"], "P-1");
    assert_eq!(paid["object"]["amount"], 3_000);
    assert_eq!(paid["object"]["status"], "paid");
    assert_eq!(paid["object"]["member_id"], payer.as_str());
    let paid_id = paid["id"].as_str().unwrap();
    let deliveries = app.get(&format!("/v1/webhooks/{id}/deliveries")).await.assert_status(StatusCode::OK).clone();
    let delivery = deliveries["data"].as_array().unwrap().iter().find(|d| d["event_id"] == paid_id).unwrap();
    assert_eq!(delivery["status"], "delivered");
    // Each event once: the receiver's ids are unique (at least once allows a repeat, which a
    // receiver de-duplicates by id; none happens here).
    let mut ids: Vec<&str> = events.iter().map(|e| e["id"].as_str().unwrap()).collect();
    let count = ids.len();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), count);
    // The members' activations in the setup came after the subscription: they are sent too.
    until("the members' activations", || receiver.of_type("member.status_changed").len() >= 2).await;
    dispatcher.abort();
});

on_both_backends!(a_delivery_is_signed_by_the_documented_scheme_and_keeps_its_event_id_when_sent_again, |db| {
    let app = app(db, vec![1; 3]).await;
    let receiver = Receiver::start().await;
    let subscription = subscribe(&app, &receiver.url, json!(["payment.paid"])).await;
    let id = subscription["id"].as_str().unwrap().to_owned();
    let dispatcher = app.state.start_webhooks();
    let (payer, _, shop) = payer_and_shop(&app, 2).await;
    app.post("/v1/payments", pay("P-2", &payer, 1_000, &shop)).await.assert_status(StatusCode::CREATED);
    until("the payment", || receiver.events().len() == 1).await;
    let delivery = receiver.received.lock().unwrap()[0].clone();
    // Only what was subscribed: no recharge, no status change.
    assert_eq!(delivery.json()["type"], "payment.paid");
    // The signature verifies with the subscription's public key over the canonical form of a
    // request: the path and query as sent, the timestamp, the nonce and the body's hash.
    let key = base64::engine::general_purpose::STANDARD.decode(subscription["public_key"].as_str().unwrap()).unwrap();
    let key = ed25519_dalek::VerifyingKey::from_bytes(&key.try_into().unwrap()).unwrap();
    let header = |name: &str| delivery.headers.get(name).unwrap().to_str().unwrap().to_owned();
    let (timestamp, nonce) = (header("x-sanhu-timestamp"), header("x-sanhu-nonce"));
    assert_eq!(delivery.path_and_query, "/hooks/sanhu?tenant=t1");
    let text = sanhu_http::signature::signed_string(
        "POST",
        &delivery.path_and_query,
        &delivery.body,
        timestamp.parse().unwrap(),
        &nonce,
    );
    let signature = base64::engine::general_purpose::STANDARD.decode(header("x-sanhu-signature")).unwrap();
    let signature = ed25519_dalek::Signature::from_slice(&signature).unwrap();
    key.verify_strict(text.as_bytes(), &signature).expect("the delivery verifies");
    // Another body under the same headers does not.
    let forged = sanhu_http::signature::signed_string(
        "POST",
        &delivery.path_and_query,
        b"{}",
        timestamp.parse().unwrap(),
        &nonce,
    );
    assert!(key.verify_strict(forged.as_bytes(), &signature).is_err());
    let event_id = delivery.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(header("x-sanhu-event-id"), event_id);
    // Sent again on request: the same event, the same id, so the receiver can tell.
    app.post(&format!("/v1/webhooks/{id}/deliveries/{event_id}/resend"), json!({}))
        .await
        .assert_status(StatusCode::ACCEPTED);
    until("the resend", || receiver.events().len() == 2).await;
    assert_eq!(receiver.events()[1]["id"], event_id.as_str());
    assert_ne!(receiver.received.lock().unwrap()[1].headers["x-sanhu-nonce"], delivery.headers["x-sanhu-nonce"]);
    let attempts = app.get(&format!("/v1/webhooks/{id}/attempts?event_id={event_id}")).await;
    assert_eq!(attempts.assert_status(StatusCode::OK)["data"].as_array().unwrap().len(), 2);
    // The test event goes to this subscription, whatever it names.
    let test = app.post(&format!("/v1/webhooks/{id}/test"), json!({})).await;
    let test_id = test.assert_status(StatusCode::ACCEPTED)["event_id"].as_str().unwrap().to_owned();
    until("the test event", || receiver.events().iter().any(|e| e["id"] == test_id.as_str())).await;
    dispatcher.abort();
});

on_both_backends!(an_event_committed_before_a_restart_is_delivered_by_the_next_server, |db| {
    let app = app(db, vec![1; 3]).await;
    let receiver = Receiver::start().await;
    subscribe(&app, &receiver.url, json!(["payment.paid"])).await;
    // The first server stops (its background task with it) right after the change commits.
    let first = app.state.start_webhooks();
    first.abort();
    let (payer, _, shop) = payer_and_shop(&app, 3).await;
    app.post("/v1/payments", pay("P-3", &payer, 500, &shop)).await.assert_status(StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(receiver.events().is_empty());
    // A new server on the same database: new ledger, parties and state, nothing shared in memory.
    let store = app.db.store.clone();
    let second = AppState::new(
        Ledger::start(store.clone(), LedgerConfig::default()),
        Parties::new(store, party_config()),
        Default::default(),
    )
    .with_webhooks(config(vec![1; 3]));
    let dispatcher = second.start_webhooks();
    until("the payment, after the restart", || receiver.of_type("payment.paid").len() == 1).await;
    assert_eq!(receiver.of_type("payment.paid")[0]["object"]["order_number"], "P-3");
    dispatcher.abort();
});

on_both_backends!(a_slow_receiver_does_not_slow_payments, |db| {
    let app = app(db, vec![1; 3]).await;
    let receiver = Receiver::start().await;
    subscribe(&app, &receiver.url, json!(["*"])).await;
    receiver.set(Mode::Slow(Duration::from_secs(3)));
    let dispatcher = app.state.start_webhooks();
    let (payer, _, shop) = payer_and_shop(&app, 4).await;
    let started = Instant::now();
    for n in 0..10 {
        let paid = app.post("/v1/payments", pay(&format!("S-{n}"), &payer, 100, &shop)).await;
        paid.assert_status(StatusCode::CREATED);
    }
    // Ten payments while every delivery takes 3 s: the API does not wait for them.
    let took = started.elapsed();
    assert!(took < Duration::from_secs(3), "ten payments took {took:?}");
    until("the slow receiver's first deliveries", || receiver.of_type("payment.paid").len() >= 10).await;
    dispatcher.abort();
});

on_both_backends!(a_delivery_that_keeps_failing_gives_up_and_disables_its_subscription, |db| {
    let app = app(db, vec![1, 1]).await;
    let receiver = Receiver::start().await;
    receiver.set(Mode::Down);
    let subscription = subscribe(&app, &receiver.url, json!(["webhook.test"])).await;
    let id = subscription["id"].as_str().unwrap().to_owned();
    let dispatcher = app.state.start_webhooks();
    app.post(&format!("/v1/webhooks/{id}/test"), json!({})).await.assert_status(StatusCode::ACCEPTED);
    let mut disabled = Value::Null;
    for _ in 0..200 {
        disabled = app.get(&format!("/v1/webhooks/{id}")).await.assert_status(StatusCode::OK).clone();
        if disabled["status"] == "disabled" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        (disabled["status"].as_str(), disabled["disabled_reason"].as_str()),
        (Some("disabled"), Some("failing"))
    );
    let deliveries = app.get(&format!("/v1/webhooks/{id}/deliveries")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(deliveries["data"][0]["status"], "failed");
    // The first attempt and the two retries of the schedule.
    assert_eq!(deliveries["data"][0]["attempts"], 3);
    // A resend waits for the subscription to be enabled; enabled, it is delivered.
    let event_id = deliveries["data"][0]["event_id"].as_str().unwrap().to_owned();
    let resend = format!("/v1/webhooks/{id}/deliveries/{event_id}/resend");
    app.post(&resend, json!({})).await.assert_error(StatusCode::CONFLICT, "webhook_disabled");
    receiver.set(Mode::Up);
    app.post(&format!("/v1/webhooks/{id}/enable"), json!({})).await.assert_status(StatusCode::OK);
    app.post(&resend, json!({})).await.assert_status(StatusCode::ACCEPTED);
    until("the resent test event", || receiver.events().len() == 1).await;
    dispatcher.abort();
});

on_both_backends!(subscriptions_are_checked_limited_and_internal_targets_refused_unless_allowed, |db| {
    let strict = TestApp::new(db, world::party_config(), world::wallet_config()).await;
    let refused = |url: &str| json!({"url": url, "events": ["payment.paid"]});
    for (url, code) in [
        ("http://example.com/h", "webhook_url_invalid"),
        ("https://127.0.0.1/h", "webhook_url_not_allowed"),
        ("https://10.0.0.8/h", "webhook_url_not_allowed"),
        ("https://169.254.169.254/latest", "webhook_url_not_allowed"),
        ("https://[::1]/h", "webhook_url_not_allowed"),
        ("https://localhost:8443/h", "webhook_url_not_allowed"),
        ("https://user:pw@example.com/h", "webhook_url_invalid"),
    ] {
        strict.post("/v1/webhooks", refused(url)).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    let long = format!("https://example.com/{}", "a".repeat(2_100));
    strict
        .post("/v1/webhooks", refused(&long))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "webhook_url_invalid");
    for events in [json!([]), json!(["payment.unknown"]), json!(["payment.paid", "payment.paid"])] {
        let body = json!({"url": "https://example.com/h", "events": events});
        strict
            .post("/v1/webhooks", body)
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "webhook_events_invalid");
    }
    for n in 0..20 {
        subscribe(&strict, &format!("https://example.com/h{n}"), json!(["*"])).await;
    }
    let over = json!({"url": "https://example.com/h20", "events": ["*"]});
    strict.post("/v1/webhooks", over).await.assert_error(StatusCode::CONFLICT, "webhook_limit_reached");
    let page = strict.get("/v1/webhooks?limit=15").await.assert_status(StatusCode::OK).clone();
    assert_eq!(page["data"].as_array().unwrap().len(), 15);
    let next = page["next_cursor"].as_str().unwrap().to_owned();
    let rest = strict.get(&format!("/v1/webhooks?after={next}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!((rest["data"].as_array().unwrap().len(), rest["next_cursor"].is_null()), (5, true));
    // A change is checked as a creation is; what is not given stays.
    let id = page["data"][0]["id"].as_str().unwrap().to_owned();
    let changed = strict.post(&format!("/v1/webhooks/{id}"), json!({"events": ["payment.refunded"]})).await;
    assert_eq!(changed.assert_status(StatusCode::OK)["events"], json!(["payment.refunded"]));
    let inside = strict.post(&format!("/v1/webhooks/{id}"), json!({"url": "https://192.168.0.1/h"})).await;
    inside.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "webhook_url_not_allowed");
    let deleted = strict.post(&format!("/v1/webhooks/{id}/delete"), json!({})).await;
    assert_eq!(deleted.assert_status(StatusCode::OK)["deleted"], true);
    strict.get(&format!("/v1/webhooks/{id}")).await.assert_error(StatusCode::NOT_FOUND, "webhook_not_found");
});

#[tokio::test]
async fn the_outbound_client_refuses_internal_addresses_unless_allowed_and_follows_no_redirect() {
    let receiver = Receiver::start().await;
    let strict = OutboundClient::new(OutboundConfig { allow_plain_http: true, ..OutboundConfig::default() });
    for url in [receiver.url.clone(), receiver.url.replace("127.0.0.1", "localhost")] {
        let refused = strict.post(&url, &[], b"{}").await.unwrap_err();
        assert!(refused.contains("internal"), "{refused}");
    }
    assert!(receiver.events().is_empty());
    let https_only = OutboundClient::new(OutboundConfig::default());
    assert!(https_only.post(&receiver.url, &[], b"{}").await.unwrap_err().contains("https"));
    let open = OutboundClient::new(OutboundConfig {
        allow_plain_http: true,
        allow_private_targets: true,
        ..OutboundConfig::default()
    });
    let answer = open.post(&receiver.url, &[], b"{\"id\":1}").await.unwrap();
    assert_eq!((answer.status, &answer.body[..]), (200, &b"ok"[..]));
    // A redirect is an answer, not followed.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let moved = format!("http://{}/", listener.local_addr().unwrap());
    let target = receiver.url.clone();
    let router = axum::Router::new().route(
        "/",
        axum::routing::post(move || {
            let target = target.clone();
            async move { (StatusCode::TEMPORARY_REDIRECT, [("location", target)], "moved") }
        }),
    );
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    let answer = open.post(&moved, &[], b"{}").await.unwrap();
    assert_eq!(answer.status, 307);
    assert_eq!(receiver.events().len(), 1);
}

on_both_backends!(another_clients_subscriptions_answer_as_absent_and_a_bound_client_gets_only_what_it_reaches, |db| {
    let app = app(db, vec![1; 3]).await;
    let receiver = Receiver::start().await;
    let (payer, _, shop) = payer_and_shop(&app, 5).await;
    let (other_payer, _, _) = payer_and_shop(&app, 6).await;
    // The payer's own client subscribes to payments: its member's only.
    let bound = bound_client(&app.db.store, &payer, "payer's app").await;
    let created =
        app.send_as(&bound, "POST", "/v1/webhooks", json!({"url": receiver.url, "events": ["payment.paid"]})).await;
    let body = created.assert_status(StatusCode::CREATED).clone();
    let id = body["id"].as_str().unwrap().to_owned();
    assert_eq!(body["bound_member_id"], payer.as_str());
    // Another client: the subscription is not there for it, whatever it asks.
    let other = new_client(&app.db.store).await;
    let absent =
        |response: sanhu_testkit::app::TestResponse| response.assert_error(StatusCode::NOT_FOUND, "webhook_not_found");
    absent(app.send_as(&other, "GET", &format!("/v1/webhooks/{id}"), Value::Null).await);
    absent(app.send_as(&other, "POST", &format!("/v1/webhooks/{id}"), json!({"events": ["*"]})).await);
    for action in ["disable", "enable", "delete", "test"] {
        absent(app.send_as(&other, "POST", &format!("/v1/webhooks/{id}/{action}"), json!({})).await);
    }
    absent(app.send_as(&other, "GET", &format!("/v1/webhooks/{id}/deliveries"), Value::Null).await);
    absent(app.send_as(&other, "GET", &format!("/v1/webhooks/{id}/attempts"), Value::Null).await);
    absent(
        app.send_as(&other, "POST", &format!("/v1/webhooks/{id}/deliveries/evt_0000000000000001/resend"), json!({}))
            .await,
    );
    absent(app.get(&format!("/v1/webhooks/{id}")).await);
    let listed = app.send_as(&other, "GET", "/v1/webhooks", Value::Null).await;
    assert!(listed.assert_status(StatusCode::OK)["data"].as_array().unwrap().is_empty());
    absent(app.send_as(&other, "GET", "/v1/webhooks/whk_00000000000000000000000000", Value::Null).await);
    // Two payments, one of another member: the bound client's subscription gets its member's only.
    let dispatcher = app.state.start_webhooks();
    app.post("/v1/payments", pay("B-1", &other_payer, 100, &shop)).await.assert_status(StatusCode::CREATED);
    app.post("/v1/payments", pay("B-2", &payer, 100, &shop)).await.assert_status(StatusCode::CREATED);
    until("the bound member's payment", || receiver.events().len() == 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let events = receiver.events();
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["object"]["order_number"], "B-2");
    // Its client revoked (a merchant off-boarded, a key leaked): nothing more is sent to it.
    assert!(app.db.store.revoke_client(&bound.id, sanhu_service::clock::now()).await.unwrap());
    app.post("/v1/payments", pay("B-3", &payer, 100, &shop)).await.assert_status(StatusCode::CREATED);
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(receiver.events().len(), 1, "{:?}", receiver.events());
    dispatcher.abort();
});

/// HMAC-SHA256 as RFC 2104 defines it, written here from SHA-256 alone so that the test does not
/// check sanhu's signer against itself.
fn hmac_sha256(key: &[u8], message: &[u8]) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut block = [0u8; 64];
    if key.len() > 64 {
        block[..32].copy_from_slice(&Sha256::digest(key));
    } else {
        block[..key.len()].copy_from_slice(key);
    }
    let inner: Vec<u8> = block.iter().map(|b| b ^ 0x36).chain(message.iter().copied()).collect();
    let inner = Sha256::digest(inner);
    let outer: Vec<u8> = block.iter().map(|b| b ^ 0x5c).chain(inner.iter().copied()).collect();
    Sha256::digest(outer).into()
}

on_both_backends!(an_hmac_subscription_shows_its_secret_once_keeps_it_sealed_and_signs_with_it, |db| {
    let app = app(db, vec![1; 3]).await;
    let receiver = Receiver::start().await;
    app.post("/v1/webhooks", json!({"url": receiver.url, "events": ["payment.paid"], "signature": "rsa"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "webhook_signature_invalid");
    let body = json!({"url": receiver.url, "events": ["payment.paid"], "signature": "hmac-sha256"});
    // The answer carries the secret: it is never kept for a replay, so no Idempotency-Key is taken.
    app.post_keyed("/v1/webhooks", "hook-1", body.clone())
        .await
        .assert_error(StatusCode::BAD_REQUEST, "idempotency_key_not_accepted");
    let created = app.post("/v1/webhooks", body).await.assert_status(StatusCode::CREATED).clone();
    assert_eq!(created["signature"], "hmac-sha256");
    let secret = created["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_") && secret.len() == "whsec_".len() + 43, "{secret}");
    let id = created["id"].as_str().unwrap().to_owned();
    // Shown once: a read and the list show the scheme, never the secret.
    let read = app.get(&format!("/v1/webhooks/{id}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(read["signature"], "hmac-sha256");
    assert!(read.get("secret").is_none(), "{read}");
    let listed = app.get("/v1/webhooks").await.assert_status(StatusCode::OK).clone();
    assert!(listed["data"][0].get("secret").is_none());
    // Kept sealed under the data key: the raw row holds no secret.
    let raw = crate::webhook_secrets::raw_column(&app, "SELECT secret FROM webhook_subscriptions").await;
    let raw = String::from_utf8(raw[0].clone()).unwrap();
    assert!(raw.starts_with("s1.") && !raw.contains(&secret) && !raw.contains(&secret["whsec_".len()..]), "{raw}");
    // Nor does any other table: the idempotency answers, the audit log.
    for (table, column) in [("idempotency_keys", "body"), ("audit_events", "changes")] {
        let rows = crate::webhook_secrets::raw_column(&app, &format!("SELECT {column} FROM {table}")).await;
        assert!(rows.iter().all(|r| !String::from_utf8_lossy(r).contains(&secret["whsec_".len()..])), "{table}");
    }
    // A delivery is signed with HMAC-SHA256 under the secret's text over the canonical lines.
    let dispatcher = app.state.start_webhooks();
    let (payer, _, shop) = payer_and_shop(&app, 9).await;
    app.post("/v1/payments", pay("P-9", &payer, 1_000, &shop)).await.assert_status(StatusCode::CREATED);
    until("the payment", || receiver.events().len() == 1).await;
    let delivery = receiver.received.lock().unwrap()[0].clone();
    let header = |name: &str| delivery.headers.get(name).unwrap().to_str().unwrap().to_owned();
    let text = format!(
        "SANHU-HMAC-SHA256-V1\nPOST\n{}\n{}\n{}\n{}",
        delivery.path_and_query,
        header("x-sanhu-timestamp"),
        header("x-sanhu-nonce"),
        hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&delivery.body))
    );
    let expected = base64::engine::general_purpose::STANDARD.encode(hmac_sha256(secret.as_bytes(), text.as_bytes()));
    assert_eq!(header("x-sanhu-signature"), expected);
    let other = hmac_sha256(b"whsec_another", text.as_bytes());
    assert_ne!(header("x-sanhu-signature"), base64::engine::general_purpose::STANDARD.encode(other));
    // A 32-byte tag, not an Ed25519 signature (64 bytes).
    let signature = base64::engine::general_purpose::STANDARD.decode(header("x-sanhu-signature")).unwrap();
    assert_eq!(signature.len(), 32);
    dispatcher.abort();
});

/// How many rows `table` has (matching `filter`).
async fn count(app: &TestApp, table: &str, filter: &str) -> usize {
    let sql = format!("SELECT CAST(count(*) AS TEXT) FROM {table} WHERE {filter}");
    let rows = crate::webhook_secrets::raw_column(app, &sql).await;
    String::from_utf8(rows[0].clone()).unwrap().parse().unwrap()
}

/// Waits until all deliveries but `pending` are delivered (settled, not only received).
async fn settled(app: &TestApp, pending: usize) {
    let started = Instant::now();
    while count(app, "webhook_deliveries", "status <> 'delivered'").await != pending {
        assert!(started.elapsed() < Duration::from_secs(20), "waited 20 s for the deliveries to settle");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

on_both_backends!(delivered_events_past_the_retention_are_pruned_in_batches_and_undelivered_ones_never, |db| {
    use sanhu_store::webhook::WebhookStore as _;
    let app = app(db, vec![1; 50]).await;
    let up = Receiver::start().await;
    let down = Receiver::start().await;
    down.set(Mode::Down);
    subscribe(&app, &up.url, json!(["*"])).await;
    let down_id = subscribe(&app, &down.url, json!(["payment.paid"])).await["id"].as_str().unwrap().to_owned();
    let dispatcher = app.state.start_webhooks();
    let (payer, _, shop) = payer_and_shop(&app, 10).await;
    app.post("/v1/payments", pay("P-10", &payer, 1_000, &shop)).await.assert_status(StatusCode::CREATED);
    until("every event at the receiver that is up", || {
        !up.of_type("payment.paid").is_empty()
            && !up.of_type("recharge.credited").is_empty()
            && up.of_type("member.status_changed").len() >= 2
    })
    .await;
    // The receiver that is down has been tried: its delivery of the payment is pending.
    for _ in 0..200 {
        let attempts = app.get(&format!("/v1/webhooks/{down_id}/attempts")).await;
        if attempts.assert_status(StatusCode::OK)["data"].as_array().is_some_and(|a| !a.is_empty()) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    settled(&app, 1).await;
    dispatcher.abort();
    let events = count(&app, "webhook_events", "1 = 1").await;
    assert!(events >= 4, "{events}");
    assert!(count(&app, "webhook_attempts", "1 = 1").await >= events);
    // A month and more ago: every event is past the retention of 30 days.
    crate::webhook_secrets::raw_execute(
        &app,
        "UPDATE webhook_events SET created_at = 1",
        "UPDATE webhook_events SET created_at = 1",
    )
    .await;
    // A recent event, delivered, is kept.
    let recent = app.db.store.webhook_subscriptions_of_client(&app.client.id, None, 10).await.unwrap();
    let recent_id = recent.iter().find(|s| s.url == up.url).unwrap().id.clone();
    let test = app.post(&format!("/v1/webhooks/{recent_id}/test"), json!({})).await;
    let test_id = test.assert_status(StatusCode::ACCEPTED)["event_id"].as_str().unwrap().to_owned();
    let dispatcher = app.state.start_webhooks();
    until("the test event", || up.events().iter().any(|e| e["id"] == test_id.as_str())).await;
    settled(&app, 1).await;
    dispatcher.abort();
    // One batch deletes at most its limit.
    assert_eq!(app.db.store.webhook_prune(sanhu_core::Timestamp::from_nanos(1_000), 1).await.unwrap(), 1);
    let pruned = app.state.webhooks().prune_once().await.unwrap();
    assert_eq!(pruned as usize, events - 1 - 1, "all but the payment's (undelivered to one) and the one pruned first");
    // Left: the payment's event, undelivered to the receiver that is down, with both its deliveries
    // and their attempts; and the recent test event.
    let paid = up.of_type("payment.paid")[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(count(&app, "webhook_events", &format!("id NOT IN ('{paid}', '{test_id}')")).await, 0);
    assert_eq!(count(&app, "webhook_events", "1 = 1").await, 2);
    assert_eq!(count(&app, "webhook_deliveries", &format!("event_id NOT IN ('{paid}', '{test_id}')")).await, 0);
    assert_eq!(count(&app, "webhook_deliveries", &format!("event_id = '{paid}'")).await, 2);
    assert_eq!(count(&app, "webhook_attempts", &format!("event_id NOT IN ('{paid}', '{test_id}')")).await, 0);
    assert!(count(&app, "webhook_attempts", &format!("event_id = '{paid}'")).await >= 2);
    // Nothing more to prune.
    assert_eq!(app.state.webhooks().prune_once().await.unwrap(), 0);
});
