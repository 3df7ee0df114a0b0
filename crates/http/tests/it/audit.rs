//! The audit log over HTTP, end to end, on SQLite and on PostgreSQL: every POST that reaches a handler
//! is an event committed before its answer (successes and refusals, not reads, not idempotent
//! replays); secrets sent in requests leave no trace in the audit table; the source address; an answer
//! withheld when its event cannot be written; `GET /v1/audit-events` and its filters; and concurrent
//! requests through two instances forming one chain.

use std::net::SocketAddr;

use axum::extract::ConnectInfo;
use axum::http::StatusCode;
use axum::Router;
use sanhu_http::signature;
use sanhu_http::{router, AppState, HttpConfig};
use sanhu_service::party::Parties;
use sanhu_service::{Ledger, LedgerConfig};
use sanhu_store::audit::verify_chain;
use sanhu_store::Store;
use sanhu_testkit::app::{create_client_with_id, new_client, send_to, signed, Setup, TestApp};
use sanhu_testkit::ids::{CARD, CARD_DIGITS, ID_CARD, PAY_PASSWORD};
use sanhu_testkit::{on_both_backends, world, Backend, TestDatabase};
use serde_json::{json, Value};

const NEW_PAY_PASSWORD: &str = "246813";
const CVV: &str = "987";

/// One sanhu instance over a store.
fn instance(store: &Store, config: HttpConfig) -> Router {
    let ledger = Ledger::start(store.clone(), LedgerConfig::default());
    router(AppState::new(ledger, Parties::new(store.clone(), world::pay_password_party_config()), config))
}

async fn app(db: TestDatabase) -> TestApp {
    app_with(db, HttpConfig::default()).await
}

async fn app_with(db: TestDatabase, http: HttpConfig) -> TestApp {
    TestApp::start(db, Setup { parties: world::pay_password_party_config(), http, ..Setup::default() }).await
}

async fn register(app: &TestApp, phone: &str) -> String {
    app.register(phone).await.0
}

/// Every event, through the API.
async fn events(app: &TestApp, query: &str) -> Vec<Value> {
    let page = app.get(&format!("/v1/audit-events?limit=1000{query}")).await;
    page.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone()
}

/// Every audit event and target row as the database holds them, as text.
async fn audit_table(app: &TestApp) -> Vec<String> {
    let events = "SELECT seq, at, actor, request_id, coalesce(source, ''), method, route, target_ids, status, \
                  coalesce(error_code, ''), coalesce(reason, ''), coalesce(changes, ''), prev_hash, hash \
                  FROM audit_events ORDER BY seq";
    let targets = "SELECT target_id, seq FROM audit_targets";
    match app.db.backend {
        Backend::Sqlite => {
            let path = app.db.url.strip_prefix("sqlite://").unwrap().to_owned();
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
            let (client, connection) = tokio_postgres::connect(&app.db.url, tokio_postgres::NoTls).await.unwrap();
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

on_both_backends!(every_post_is_an_event_committed_before_its_answer_and_reads_are_not, |db| {
    let app = app(db).await;
    let registered = app.post("/v1/members", json!({"phone": "13700000001"})).await;
    let member = registered.assert_status(StatusCode::CREATED)["member"]["id"].as_str().unwrap().to_owned();
    let customer = registered.body["member"]["customer_id"].as_str().unwrap().to_owned();
    // The event is there as soon as the answer is.
    let found = events(&app, &format!("&request_id={}", registered.request_id())).await;
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
        send_to(&app.router, signed(&app.client, "POST", &format!("/v1/members/{member}/lock"), b"{not json", &[]))
            .await;
    malformed.assert_status(StatusCode::BAD_REQUEST);

    let events = events(&app, "").await;
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
    let app = app(db).await;
    let body = json!({"currency": "CNY", "code": "wallet"}).to_string();
    let path = "/v1/ledger/accounts";
    for _ in 0..2 {
        let request = signed(&app.client, "POST", path, body.as_bytes(), &[("idempotency-key", "open-1")]);
        send_to(&app.router, request).await.assert_status(StatusCode::CREATED);
    }
    let events = events(&app, "&route=/v1/ledger/accounts").await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert!(events[0]["target_ids"][0].as_str().unwrap().starts_with("acc_"), "the account opened");
});

on_both_backends!(secrets_sent_in_requests_leave_no_trace_in_the_audit_table, |db| {
    let app = app(db).await;
    let member = register(&app, "13700000002").await;
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

    let rows = audit_table(&app).await;
    assert!(rows.len() >= 10, "{rows:?}");
    let table = rows.join("\n");
    for secret in [CARD, CARD_DIGITS, ID_CARD, "0200 0000 0000"] {
        assert!(!table.contains(secret), "{secret} is in the audit table:\n{table}");
    }
    // Short secrets, in what the requests gave (hashes and times are digits and hex of their own).
    let events = events(&app, "").await;
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
    let app = app_with(db, config).await;
    let body = json!({"phone": "13700000003"}).to_string();
    let mut request = signed(&app.client, "POST", "/v1/members", body.as_bytes(), &[]);
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([192, 0, 2, 10], 41_000))));
    let direct = send_to(&app.router, request).await;
    let body = json!({"phone": "13700000004"}).to_string();
    let forwarded = [("x-forwarded-for", "203.0.113.66, 198.51.100.23")];
    let mut request = signed(&app.client, "POST", "/v1/members", body.as_bytes(), &forwarded);
    request.extensions_mut().insert(ConnectInfo(SocketAddr::from(([10, 0, 0, 2], 41_001))));
    let proxied = send_to(&app.router, request).await;
    let source = |id: String| {
        let app = &app;
        async move { events(app, &format!("&request_id={id}")).await[0]["source"].clone() }
    };
    assert_eq!(source(direct.request_id()).await, "192.0.2.10");
    assert_eq!(source(proxied.request_id()).await, "198.51.100.23", "the entry the proxy added, not the client's");
});

on_both_backends!(an_answer_is_withheld_when_its_event_cannot_be_written, |db| {
    let app = app(db).await;
    register(&app, "13700000005").await;
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
    assert_eq!(events(&app, "").await.len(), 1);
});

/// Makes the database refuse new audit events (`on`) or accept them again.
async fn refuse_audit_events(db: &TestDatabase, on: bool) {
    let sql = match (db.backend, on) {
        (Backend::Sqlite, true) => {
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events BEGIN SELECT RAISE(ABORT, 'disk says no'); END;"
        }
        (Backend::Sqlite, false) => "DROP TRIGGER refuse_audit;",
        (Backend::Postgres, true) => {
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no'; END; $$;
             CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_events FOR EACH ROW EXECUTE FUNCTION refuse_audit();"
        }
        (Backend::Postgres, false) => "DROP TRIGGER refuse_audit ON audit_events; DROP FUNCTION refuse_audit();",
    };
    match db.backend {
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap().to_owned();
            rusqlite::Connection::open(path).unwrap().execute_batch(sql).unwrap();
        }
        Backend::Postgres => {
            let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            client.batch_execute(sql).await.unwrap();
        }
    }
}

/// The ledger accounts, through the API.
async fn ledger_accounts(app: &TestApp) -> Vec<Value> {
    let page = app.get("/v1/ledger/accounts?limit=1000").await;
    page.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone()
}

// The answer under an Idempotency-Key is kept in the transaction of the request's event. When the
// event cannot be written, the handler has run and may have had effects a second run would repeat
// (opening an account makes a new id each run): the key is not released. The caller is answered
// audit_unavailable; the event and the answer are kept in the background until they are committed,
// retries are answered in use meanwhile, and then replay the first run's answer. One account opened,
// one event.
on_both_backends!(an_answer_withheld_for_its_event_is_kept_in_the_background_and_the_request_never_runs_twice, |db| {
    let app = app(db).await;
    let before = ledger_accounts(&app).await.len();
    let body = serde_json::to_vec(&json!({"currency": "CNY"})).unwrap();
    let key = [("idempotency-key", "withheld-1")];
    refuse_audit_events(&app.db, true).await;
    let withheld = app.send_with("POST", "/v1/ledger/accounts", &body, &key).await;
    withheld.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(withheld.code(), "audit_unavailable");
    let meanwhile = app.send_with("POST", "/v1/ledger/accounts", &body, &key).await;
    meanwhile.assert_error(StatusCode::CONFLICT, "idempotency_key_in_use");
    let short = std::time::Duration::from_millis(300);
    assert!(!app.state.keeps_settled(short).await, "a server stopping now waits for the answer being kept");
    refuse_audit_events(&app.db, false).await;
    assert!(app.state.keeps_settled(std::time::Duration::from_secs(20)).await, "kept once the events are taken");

    // Retried as a client retries, until the kept answer is there.
    let started = std::time::Instant::now();
    let replay = loop {
        let retried = app.send_with("POST", "/v1/ledger/accounts", &body, &key).await;
        if retried.status != StatusCode::CONFLICT {
            break retried;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "the answer was never kept");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(replay.replayed(), "the first run's answer, not a second run");
    let opened = replay.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    let accounts = ledger_accounts(&app).await;
    assert_eq!(accounts.len(), before + 1, "the request ran once: {accounts:?}");
    assert!(accounts.iter().any(|account| account["id"] == opened.as_str()));
    let again = app.send_with("POST", "/v1/ledger/accounts", &body, &key).await;
    assert!(again.replayed());
    assert_eq!(again.assert_status(StatusCode::CREATED)["id"], opened.as_str());
    let recorded = events(&app, "&route=/v1/ledger/accounts").await;
    let keyed: Vec<&Value> =
        recorded.iter().filter(|e| e["target_ids"].as_array().unwrap().contains(&json!(opened))).collect();
    assert_eq!(keyed.len(), 1, "the first run's event, kept in the background: {recorded:?}");
    assert_eq!(keyed[0]["status"], 201);
    assert_eq!(keyed[0]["request_id"], withheld.request_id(), "the event is the first run's");
    let report = verify_chain(&app.db.store).await.unwrap();
    assert_eq!(report.broken, None);
});

// A 5xx that decided nothing (the ledger could not commit: nothing was applied) releases its key, so
// that the retry runs afresh; any other answer of a request that ran is kept, a 500 too.
on_both_backends!(only_an_answer_that_decided_nothing_releases_its_key, |db| {
    let app = app(db).await;
    let platform = app.open_account(json!({"currency": "CNY", "normal_side": "debit"})).await;
    let wallet = app.open_account(json!({"currency": "CNY"})).await;
    let body =
        serde_json::to_vec(&json!({"debit_account_id": platform, "credit_account_id": wallet, "amount": 700})).unwrap();
    let key = [("idempotency-key", "unapplied-1")];
    // The ledger's writer cannot commit: nothing of the transfer is applied.
    sanhu_testkit::faults::refuse_rows(&app.db, "refuse_transfers", "ledger_transfers", "TRUE").await;
    let unapplied = app.send_with("POST", "/v1/ledger/transfers", &body, &key).await;
    unapplied.assert_status(StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(unapplied.code(), "ledger_unavailable");
    sanhu_testkit::faults::allow_rows(&app.db, "refuse_transfers", "ledger_transfers").await;
    let started = std::time::Instant::now();
    let retried = loop {
        let retried = app.send_with("POST", "/v1/ledger/transfers", &body, &key).await;
        if retried.status != StatusCode::CONFLICT {
            break retried;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "the key was never released");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    retried.assert_status(StatusCode::CREATED);
    assert!(!retried.replayed(), "the key was released: the retry ran");
    assert_eq!(app.balance(&wallet).await, 700);
});

on_both_backends!(events_are_listed_by_actor_route_target_request_and_time, |db| {
    let app = app(db).await;
    let other = new_client(&app.db.store).await;
    let first = register(&app, "13700000011").await;
    let second = register(&app, "13700000012").await;
    app.post(&format!("/v1/members/{first}/activate"), json!({})).await.assert_status(StatusCode::OK);
    let by_other =
        send_to(&app.router, signed(&other, "POST", &format!("/v1/members/{second}/activate"), b"{}", &[])).await;
    by_other.assert_status(StatusCode::OK);
    let seqs = |events: Vec<Value>| events.iter().map(|e| e["seq"].as_i64().unwrap()).collect::<Vec<_>>();

    assert_eq!(seqs(events(&app, &format!("&actor=client:{}", other.id)).await), [4]);
    assert_eq!(seqs(events(&app, &format!("&actor=client:{}", app.client.id)).await), [1, 2, 3]);
    assert_eq!(seqs(events(&app, "&route=/v1/members/%7Bid%7D/activate").await), [3, 4]);
    assert_eq!(seqs(events(&app, &format!("&target_id={second}")).await), [2, 4]);
    assert_eq!(seqs(events(&app, &format!("&request_id={}", by_other.request_id())).await), [4]);
    assert_eq!(seqs(events(&app, &format!("&target_id={first}&route=/v1/members")).await), [1]);

    let all = events(&app, "").await;
    let at = |i: usize| all[i]["at"].as_str().unwrap().to_owned();
    let window = format!("&from={}&to={}", at(1), at(3));
    assert_eq!(seqs(events(&app, &window).await), [2, 3], "from inclusive, to exclusive");

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
    let hex = create_client_with_id(&app.db.store, format!("cli_{}", signature::new_nonce()), "test", |c| c).await;
    let body = json!({"currency": "CNY", "code": "wallet"}).to_string();
    send_to(&app.router, signed(&hex, "POST", "/v1/ledger/accounts", body.as_bytes(), &[]))
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(seqs(events(&app, &format!("&actor=client:{}", hex.id)).await), [5]);

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
    let app = app(db).await;
    let second_store = app.db.open_another().await;
    let second = instance(&second_store, HttpConfig::default());
    const REQUESTS: usize = 40;
    let mut tasks = Vec::new();
    for n in 0..REQUESTS {
        let router = if n % 2 == 0 { app.router.clone() } else { second.clone() };
        let body = json!({"phone": format!("1370001{n:04}")}).to_string();
        let request = signed(&app.client, "POST", "/v1/members", body.as_bytes(), &[]);
        tasks.push(tokio::spawn(async move { send_to(&router, request).await }));
    }
    let mut request_ids = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        answer.assert_status(StatusCode::CREATED);
        request_ids.push(answer.request_id());
    }
    let events = events(&app, "").await;
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
