//! The audit log over HTTP, end to end, on SQLite and on PostgreSQL: every POST that reaches a handler
//! is an event committed before its answer (successes and refusals, not reads, not idempotent
//! replays); secrets sent in requests leave no trace in the audit table; the source address; an answer
//! withheld when its event cannot be written; `GET /v1/audit-events` and its filters; and concurrent
//! requests through two instances forming one chain.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Request, StatusCode};
use axum::Router;
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use sanhu_core::id::ClientTag;
use sanhu_core::party::PayPasswordPolicy;
use sanhu_http::signature;
use sanhu_http::{router, AppState, HttpConfig};
use sanhu_service::party::{Parties, PartyConfig, PayPasswordHashing};
use sanhu_service::{clock, Ledger, LedgerConfig};
use sanhu_store::audit::verify_chain;
use sanhu_store::on_both_backends;
use sanhu_store::testing::{Backend, TestDatabase};
use sanhu_store::{AccessStore, ApiClient, Store};
use serde_json::{json, Value};
use tower::ServiceExt;

const PAY_PASSWORD: &str = "135790";
const NEW_PAY_PASSWORD: &str = "246813";
const CARD: &str = "6222 0200 0000 0000 018";
const CARD_DIGITS: &str = "6222020000000000018";
const ID_CARD: &str = "110101199003071233";
const CVV: &str = "987";

fn party_config() -> PartyConfig {
    // Cheap hashing: these tests set and check pay passwords.
    PartyConfig {
        pay_password: PayPasswordPolicy::new(5, 60).unwrap(),
        pay_password_hashing: PayPasswordHashing { memory_kib: 256, iterations: 1, parallelism: 1 },
        ..PartyConfig::default()
    }
}

/// An API client: its id and key.
struct Client {
    id: String,
    key: SigningKey,
}

async fn create_client(store: &Store) -> Client {
    create_client_with_id(store, clock::new_id::<ClientTag>().to_string()).await
}

async fn create_client_with_id(store: &Store, id: String) -> Client {
    let key = SigningKey::from_bytes(&clock::random_bytes());
    let client = ApiClient::new(id.clone(), "audit test".to_owned(), key.verifying_key().to_bytes(), clock::now());
    store.create_client(&client).await.expect("create the API client");
    Client { id, key }
}

/// One sanhu instance over a store.
fn instance(store: &Store, config: HttpConfig) -> Router {
    let ledger = Ledger::start(store.clone(), LedgerConfig::default());
    router(AppState::new(ledger, Parties::new(store.clone(), party_config()), config))
}

struct TestApp {
    db: TestDatabase,
    router: Router,
    client: Client,
}

struct TestResponse {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
}

impl TestResponse {
    #[track_caller]
    fn assert_status(&self, expected: StatusCode) -> &Value {
        assert_eq!(self.status, expected, "{}", self.body);
        &self.body
    }

    fn request_id(&self) -> String {
        self.headers.get("x-request-id").expect("X-Request-Id").to_str().unwrap().to_owned()
    }

    fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or_default()
    }
}

/// A signed request; `extra` headers added, `peer` as the connection's address.
fn signed(client: &Client, method: &str, path: &str, body: &[u8], extra: &[(&str, &str)]) -> Request<Body> {
    let now_s = clock::now().nanos() / 1_000_000_000;
    let headers = signature::sign(&client.key, method, path, body, now_s, &signature::new_nonce());
    let mut builder = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("content-length", body.len());
    for (name, value) in headers.with_client(&client.id) {
        builder = builder.header(name, value);
    }
    for (name, value) in extra {
        builder = builder.header(*name, *value);
    }
    builder.body(Body::from(body.to_vec())).unwrap()
}

async fn send(router: &Router, request: Request<Body>) -> TestResponse {
    let response = router.clone().oneshot(request).await.expect("the router is infallible");
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.expect("read the body").to_bytes();
    let body = if bytes.is_empty() { Value::Null } else { serde_json::from_slice(&bytes).expect("JSON") };
    TestResponse { status, headers, body }
}

impl TestApp {
    async fn new(db: TestDatabase) -> TestApp {
        TestApp::with_config(db, HttpConfig::default()).await
    }

    async fn with_config(db: TestDatabase, config: HttpConfig) -> TestApp {
        let client = create_client(&db.store).await;
        let router = instance(&db.store, config);
        TestApp { db, router, client }
    }

    async fn get(&self, path: &str) -> TestResponse {
        send(&self.router, signed(&self.client, "GET", path, b"", &[])).await
    }

    async fn post(&self, path: &str, body: Value) -> TestResponse {
        send(&self.router, signed(&self.client, "POST", path, body.to_string().as_bytes(), &[])).await
    }

    async fn register(&self, phone: &str) -> String {
        let registered = self.post("/v1/members", json!({"phone": phone})).await;
        registered.assert_status(StatusCode::CREATED)["member"]["id"].as_str().unwrap().to_owned()
    }

    /// Every event, through the API.
    async fn events(&self, query: &str) -> Vec<Value> {
        let page = self.get(&format!("/v1/audit-events?limit=1000{query}")).await;
        page.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone()
    }

    /// Every audit event and target row as the database holds them, as text.
    async fn audit_table(&self) -> Vec<String> {
        let events = "SELECT seq, at, actor, request_id, coalesce(source, ''), method, route, target_ids, status, \
                      coalesce(error_code, ''), coalesce(reason, ''), coalesce(changes, ''), prev_hash, hash \
                      FROM audit_events ORDER BY seq";
        let targets = "SELECT target_id, seq FROM audit_targets";
        match self.db.backend {
            Backend::Sqlite => {
                let path = self.db.url.strip_prefix("sqlite://").unwrap().to_owned();
                tokio::task::spawn_blocking(move || {
                    let connection = rusqlite::Connection::open(path).unwrap();
                    let mut rows = Vec::new();
                    for (sql, columns) in [(events, 14), (targets, 2)] {
                        let mut statement = connection.prepare(sql).unwrap();
                        let mut found = statement.query([]).unwrap();
                        while let Some(row) = found.next().unwrap() {
                            let fields: Vec<String> = (0..columns)
                                .map(|i| match row.get_ref(i).unwrap() {
                                    rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                                    other => panic!("an unexpected column type: {other:?}"),
                                })
                                .collect();
                            rows.push(fields.join("|"));
                        }
                    }
                    rows
                })
                .await
                .unwrap()
            }
            Backend::Postgres => {
                let (client, connection) = tokio_postgres::connect(&self.db.url, tokio_postgres::NoTls).await.unwrap();
                tokio::spawn(connection);
                let mut rows = Vec::new();
                for sql in [events, targets] {
                    let sql = format!("SELECT row_to_json(r)::text FROM ({sql}) r");
                    for row in client.query(&sql, &[]).await.unwrap() {
                        rows.push(row.get::<_, String>(0));
                    }
                }
                rows
            }
        }
    }
}

on_both_backends!(every_post_is_an_event_committed_before_its_answer_and_reads_are_not, |db| {
    let app = TestApp::new(db).await;
    let registered = app.post("/v1/members", json!({"phone": "13700000001"})).await;
    let member = registered.assert_status(StatusCode::CREATED)["member"]["id"].as_str().unwrap().to_owned();
    let customer = registered.body["member"]["customer_id"].as_str().unwrap().to_owned();
    // The event is there as soon as the answer is.
    let found = app.events(&format!("&request_id={}", registered.request_id())).await;
    assert_eq!(found.len(), 1, "{found:?}");
    let event = &found[0];
    assert_eq!(event["actor"], format!("client:{}", app.client.id));
    assert_eq!((event["method"].as_str(), event["route"].as_str()), (Some("POST"), Some("/v1/members")));
    assert_eq!((event["status"].as_u64(), &event["error_code"]), (Some(201), &Value::Null));
    assert_eq!(event["changes"], json!({"phone": "13700000001"}));
    let targets: Vec<&str> = event["target_ids"].as_array().unwrap().iter().map(|t| t.as_str().unwrap()).collect();
    assert!(targets.contains(&member.as_str()) && targets.contains(&customer.as_str()), "{targets:?}");
    assert_eq!(event["source"], Value::Null, "no listener, no peer address");
    assert_eq!(event["seq"], 1);

    app.get(&format!("/v1/members/{member}")).await.assert_status(StatusCode::OK);
    let lock = format!("/v1/members/{member}/lock");
    app.post(&lock, json!({"reason": "fraud review"})).await.assert_status(StatusCode::OK);
    let locked = app.post(&lock, json!({"reason": "fraud review"})).await;
    assert!(locked.status.is_client_error() && !locked.code().is_empty(), "locked twice: {}", locked.body);
    let malformed =
        send(&app.router, signed(&app.client, "POST", &format!("/v1/members/{member}/lock"), b"{not json", &[])).await;
    malformed.assert_status(StatusCode::BAD_REQUEST);

    let events = app.events("").await;
    assert_eq!(events.len(), 4, "the GET is not recorded: {events:?}");
    assert_eq!((events[1]["status"].as_u64(), events[1]["reason"].as_str()), (Some(200), Some("fraud review")));
    let refused = &events[2];
    assert_eq!(refused["request_id"], locked.request_id().as_str());
    assert_eq!(refused["route"], "/v1/members/{id}/lock");
    assert_eq!(refused["status"].as_u64(), Some(u64::from(locked.status.as_u16())));
    assert_eq!(refused["error_code"], locked.code());
    assert_eq!(refused["reason"], "fraud review");
    assert_eq!(refused["target_ids"], json!([member]));
    assert_eq!(events[3]["error_code"], "invalid_json");
    assert_eq!(events[3]["changes"], json!({"unreadable_body_bytes": 9}));
    assert_eq!(events[1]["prev_hash"], events[0]["hash"]);
    let report = verify_chain(&app.db.store).await.unwrap();
    assert_eq!((report.events_checked, report.broken), (4, None));
});

on_both_backends!(an_idempotent_replay_adds_no_event, |db| {
    let app = TestApp::new(db).await;
    let body = json!({"currency": "CNY", "code": "wallet"}).to_string();
    let path = "/v1/ledger/accounts";
    for _ in 0..2 {
        let request = signed(&app.client, "POST", path, body.as_bytes(), &[("idempotency-key", "open-1")]);
        send(&app.router, request).await.assert_status(StatusCode::CREATED);
    }
    let events = app.events("&route=/v1/ledger/accounts").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(events[0]["target_ids"][0].as_str().unwrap().starts_with("acc_"), "the account opened");
});

on_both_backends!(secrets_sent_in_requests_leave_no_trace_in_the_audit_table, |db| {
    let app = TestApp::new(db).await;
    let member = app.register("13700000002").await;
    let pay_password = format!("/v1/members/{member}/pay-password");
    app.post(&pay_password, json!({"pay_password": PAY_PASSWORD})).await.assert_status(StatusCode::CREATED);
    app.post(&format!("{pay_password}/verify"), json!({"pay_password": PAY_PASSWORD}))
        .await
        .assert_status(StatusCode::OK);
    app.post(&format!("{pay_password}/verify"), json!({"pay_password": NEW_PAY_PASSWORD}))
        .await
        .assert_status(StatusCode::FORBIDDEN);
    app.post(
        &format!("{pay_password}/change"),
        json!({"current_pay_password": PAY_PASSWORD, "new_pay_password": NEW_PAY_PASSWORD}),
    )
    .await
    .assert_status(StatusCode::OK);
    let cards = format!("/v1/members/{member}/bank-cards");
    app.post(&cards, json!({"card_number": CARD, "holder": "张三", "cvv": CVV}))
        .await
        .assert_status(StatusCode::UNPROCESSABLE_ENTITY);
    app.post(&cards, json!({"card_number": CARD, "holder": "张三"})).await.assert_status(StatusCode::CREATED);
    app.post(
        &format!("/v1/members/{member}/authentications"),
        json!({"type": "id_card", "channel": "police_id_check", "name": "张三", "certificate_type": "id_card",
               "certificate_number": ID_CARD, "result": "verified"}),
    )
    .await
    .assert_status(StatusCode::CREATED);
    let issued = app.post("/v1/one-time-codes", json!({"purpose": "sign_in", "phone": "13700000002"})).await;
    let code = issued.assert_status(StatusCode::CREATED)["code"].as_str().unwrap().to_owned();
    app.post("/v1/one-time-codes/verify", json!({"purpose": "sign_in", "phone": "13700000002", "code": code}))
        .await
        .assert_status(StatusCode::OK);
    // A card number where no card number belongs.
    let body = json!({"currency": "CNY", "code": "wallet", "metadata": {"note": format!("card {CARD_DIGITS}")}});
    app.post("/v1/ledger/accounts", body).await.assert_status(StatusCode::CREATED);

    let rows = app.audit_table().await;
    assert!(rows.len() >= 10, "{rows:?}");
    let table = rows.join("\n");
    for secret in [CARD, CARD_DIGITS, ID_CARD, "0200 0000 0000"] {
        assert!(!table.contains(secret), "{secret} is in the audit table:\n{table}");
    }
    // Short secrets, in what the requests gave (hashes and times are digits and hex of their own).
    let events = app.events("").await;
    let given: String = events
        .iter()
        .map(|e| format!("{}|{}|{}|{}", e["changes"], e["reason"], e["target_ids"], e["route"]))
        .collect::<Vec<_>>()
        .join("\n");
    for secret in [PAY_PASSWORD, NEW_PAY_PASSWORD, CVV, code.as_str()] {
        assert!(!given.contains(secret), "{secret} is in the audit log:\n{given}");
    }
    let changes = |route: &str| -> Vec<Value> {
        events.iter().filter(|e| e["route"] == route).map(|e| e["changes"].clone()).collect()
    };
    assert_eq!(changes("/v1/members/{id}/pay-password"), [json!({"pay_password": "[redacted]"})]);
    assert_eq!(
        changes("/v1/members/{id}/bank-cards"),
        [
            json!({"card_number": "[redacted]", "holder": "张三", "cvv": "[redacted]"}),
            json!({"card_number": "[redacted]", "holder": "张三"})
        ]
    );
    assert_eq!(changes("/v1/one-time-codes/verify")[0]["code"], "[redacted]");
    assert_eq!(changes("/v1/members/{id}/authentications")[0]["certificate_number"], "[redacted]");
    assert_eq!(changes("/v1/ledger/accounts")[0]["metadata"]["note"], "card 622202*********0018");
    assert_eq!(verify_chain(&app.db.store).await.unwrap().broken, None);
});

on_both_backends!(the_source_is_the_peer_or_the_trusted_proxys_last_entry, |db| {
    let config = HttpConfig { trusted_proxy_header: Some("x-forwarded-for".to_owned()), ..HttpConfig::default() };
    let app = TestApp::with_config(db, config).await;
    let body = json!({"phone": "13700000003"}).to_string();
    let mut request = signed(&app.client, "POST", "/v1/members", body.as_bytes(), &[]);
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 10], 41_000))));
    let direct = send(&app.router, request).await;
    let body = json!({"phone": "13700000004"}).to_string();
    let forwarded = [("x-forwarded-for", "203.0.113.66, 198.51.100.23")];
    let mut request = signed(&app.client, "POST", "/v1/members", body.as_bytes(), &forwarded);
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 2], 41_001))));
    let proxied = send(&app.router, request).await;
    let source = |id: String| {
        let app = &app;
        async move { app.events(&format!("&request_id={id}")).await[0]["source"].clone() }
    };
    assert_eq!(source(direct.request_id()).await, "192.0.2.10");
    assert_eq!(source(proxied.request_id()).await, "198.51.100.23", "the entry the proxy added, not the client's");
});

on_both_backends!(an_answer_is_withheld_when_its_event_cannot_be_written, |db| {
    let app = TestApp::new(db).await;
    app.register("13700000005").await;
    // The database refuses new audit events from now on.
    let refuse = match app.db.backend {
        Backend::Sqlite => {
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk says no'); END;"
        }
        Backend::Postgres => {
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no'; END; $$;
             CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit();"
        }
    };
    match app.db.backend {
        Backend::Sqlite => {
            let path = app.db.url.strip_prefix("sqlite://").unwrap().to_owned();
            rusqlite::Connection::open(path).unwrap().execute_batch(refuse).unwrap();
        }
        Backend::Postgres => {
            let (client, connection) = tokio_postgres::connect(&app.db.url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            client.batch_execute(refuse).await.unwrap();
        }
    }
    let withheld = app.post("/v1/members", json!({"phone": "13700000006"})).await;
    withheld.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(withheld.code(), "audit_unavailable");
    assert_eq!(withheld.headers.get("retry-after").unwrap(), "1");
    // Reads go on, and show that the registration took effect: the answer was withheld, not the change.
    let page = app.get("/v1/customers?phone=13700000006").await;
    assert_eq!(page.assert_status(StatusCode::OK)["data"].as_array().unwrap().len(), 1, "{}", page.body);
    assert_eq!(app.events("").await.len(), 1);
});

on_both_backends!(events_are_listed_by_actor_route_target_request_and_time, |db| {
    let app = TestApp::new(db).await;
    let other = create_client(&app.db.store).await;
    let first = app.register("13700000011").await;
    let second = app.register("13700000012").await;
    app.post(&format!("/v1/members/{first}/activate"), json!({})).await.assert_status(StatusCode::OK);
    let by_other =
        send(&app.router, signed(&other, "POST", &format!("/v1/members/{second}/activate"), b"{}", &[])).await;
    by_other.assert_status(StatusCode::OK);
    let seqs = |events: Vec<Value>| events.iter().map(|e| e["seq"].as_i64().unwrap()).collect::<Vec<_>>();

    assert_eq!(seqs(app.events(&format!("&actor=client:{}", other.id)).await), [4]);
    assert_eq!(seqs(app.events(&format!("&actor=client:{}", app.client.id)).await), [1, 2, 3]);
    assert_eq!(seqs(app.events("&route=/v1/members/%7Bid%7D/activate").await), [3, 4]);
    assert_eq!(seqs(app.events(&format!("&target_id={second}")).await), [2, 4]);
    assert_eq!(seqs(app.events(&format!("&request_id={}", by_other.request_id())).await), [4]);
    assert_eq!(seqs(app.events(&format!("&target_id={first}&route=/v1/members")).await), [1]);

    let all = app.events("").await;
    let at = |i: usize| all[i]["at"].as_str().unwrap().to_owned();
    let window = format!("&from={}&to={}", at(1), at(3));
    assert_eq!(seqs(app.events(&window).await), [2, 3], "from inclusive, to exclusive");

    // Pages follow the cursor.
    let page = app.get("/v1/audit-events?limit=3").await;
    let page = page.assert_status(StatusCode::OK).clone();
    assert_eq!(seqs(page["data"].as_array().unwrap().clone()), [1, 2, 3]);
    let cursor = page["next_cursor"].as_str().unwrap();
    let next = app.get(&format!("/v1/audit-events?limit=3&after={cursor}")).await;
    let next = next.assert_status(StatusCode::OK);
    assert_eq!(seqs(next["data"].as_array().unwrap().clone()), [4]);
    assert_eq!(next["next_cursor"], Value::Null);

    // Any client that signs is an actor, whether or not its id is shaped like the ids sanhu makes.
    let hex = create_client_with_id(&app.db.store, format!("cli_{}", signature::new_nonce())).await;
    let body = json!({"currency": "CNY", "code": "wallet"}).to_string();
    send(&app.router, signed(&hex, "POST", "/v1/ledger/accounts", body.as_bytes(), &[]))
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(seqs(app.events(&format!("&actor=client:{}", hex.id)).await), [5]);

    // Refusals, each with its code.
    for (query, status, code) in [
        ("colour=red", StatusCode::BAD_REQUEST, "unknown_parameter"),
        ("after=-1", StatusCode::BAD_REQUEST, "invalid_cursor"),
        ("after=x", StatusCode::BAD_REQUEST, "invalid_cursor"),
        ("limit=0", StatusCode::UNPROCESSABLE_ENTITY, "invalid_limit"),
        ("from=yesterday", StatusCode::UNPROCESSABLE_ENTITY, "invalid_time"),
        ("from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z", StatusCode::UNPROCESSABLE_ENTITY, "invalid_time"),
        ("actor=", StatusCode::BAD_REQUEST, "invalid_query"),
    ] {
        let refused = app.get(&format!("/v1/audit-events?{query}")).await;
        assert_eq!((refused.status, refused.code()), (status, code), "{query}: {}", refused.body);
    }
});

on_both_backends!(concurrent_requests_through_two_instances_form_one_chain, |db| {
    let app = TestApp::new(db).await;
    let second_store = app.db.open_another().await;
    let second = instance(&second_store, HttpConfig::default());
    const REQUESTS: usize = 40;
    let mut tasks = Vec::new();
    for n in 0..REQUESTS {
        let router = if n % 2 == 0 { app.router.clone() } else { second.clone() };
        let body = json!({"phone": format!("1370001{n:04}")}).to_string();
        let request = signed(&app.client, "POST", "/v1/members", body.as_bytes(), &[]);
        tasks.push(tokio::spawn(async move { send(&router, request).await }));
    }
    let mut request_ids = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        answer.assert_status(StatusCode::CREATED);
        request_ids.push(answer.request_id());
    }
    let events = app.events("").await;
    assert_eq!(events.len(), REQUESTS);
    let mut recorded: Vec<String> = events.iter().map(|e| e["request_id"].as_str().unwrap().to_owned()).collect();
    recorded.sort();
    request_ids.sort();
    assert_eq!(recorded, request_ids, "one event per answered request");
    for store in [&app.db.store, &second_store] {
        let report = verify_chain(store).await.unwrap();
        assert_eq!((report.events_checked, report.broken), (REQUESTS as i64, None));
    }
});
