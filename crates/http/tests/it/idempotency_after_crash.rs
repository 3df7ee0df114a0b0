//! A request under an Idempotency-Key that runs again because its first run's process died after
//! committing but before recording the response (its claim is dead and taken over): what the first
//! run applied is recognised, not applied a second time, also for transfers whose id the server
//! chose (DESIGN.md invariant 6). On SQLite and on PostgreSQL.
//!
//! The crash is reproduced in the database: the key's stored response is removed and its claim made
//! dead, which is what a process killed between the commit and the response leaves behind.

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use sanhu_http::signature;
use sanhu_http::{router, AppState, HttpConfig};
use sanhu_service::party::{Parties, PartyConfig};
use sanhu_service::{clock, Ledger, LedgerConfig};
use sanhu_store::testing::{Backend, TestDatabase};
use sanhu_store::{on_both_backends, AccessStore, ApiClient};
use serde_json::{json, Value};
use tower::ServiceExt;

struct App {
    router: Router,
    client_id: String,
    key: SigningKey,
}

impl App {
    async fn new(db: &TestDatabase) -> App {
        let key = SigningKey::from_bytes(&clock::random_bytes());
        let client_id = format!("cli_{}", signature::new_nonce());
        let client = ApiClient::new(client_id.clone(), "test".to_owned(), key.verifying_key().to_bytes(), clock::now());
        db.store.create_client(&client).await.expect("create the API client");
        let ledger = Ledger::start(db.store.clone(), LedgerConfig::default());
        let parties = Parties::new(db.store.clone(), PartyConfig::default());
        App { router: router(AppState::new(ledger, parties, HttpConfig::default())), client_id, key }
    }

    /// A signed request; POSTs carry `idempotency_key` when given. (status, replayed, body)
    async fn send(&self, method: &str, path: &str, body: &Value, idempotency_key: Option<&str>) -> (u16, bool, Value) {
        let body = if body.is_null() { Vec::new() } else { body.to_string().into_bytes() };
        let now_s = clock::now().nanos() / 1_000_000_000;
        let signed = signature::sign(&self.key, method, path, &body, now_s, &signature::new_nonce());
        let mut builder = Request::builder().method(method).uri(path).header("content-type", "application/json");
        for (name, value) in signed.with_client(&self.client_id) {
            builder = builder.header(name, value);
        }
        if let Some(key) = idempotency_key {
            builder = builder.header("idempotency-key", key);
        }
        let response = self.router.clone().oneshot(builder.body(Body::from(body)).unwrap()).await.unwrap();
        let status = response.status().as_u16();
        let replayed = response.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        (status, replayed, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn open_account(&self, body: Value) -> String {
        let (status, _, account) = self.send("POST", "/v1/ledger/accounts", &body, None).await;
        assert_eq!(status, 201, "{account}");
        account["id"].as_str().unwrap().to_owned()
    }

    async fn balance(&self, account: &str) -> i64 {
        let (status, _, balance) =
            self.send("GET", &format!("/v1/ledger/accounts/{account}/balance"), &Value::Null, None).await;
        assert_eq!(status, 200, "{balance}");
        balance["balance"].as_i64().unwrap()
    }

    async fn entry_count(&self, account: &str) -> usize {
        let path = format!("/v1/ledger/accounts/{account}/entries");
        let (status, _, entries) = self.send("GET", &path, &Value::Null, None).await;
        assert_eq!(status, 200, "{entries}");
        entries["data"].as_array().unwrap().len()
    }
}

/// Leaves `key` as a process killed after its request committed leaves it: claimed, with no response,
/// by a claimant that is gone (here: a claim older than any lease, of no known instance).
async fn reopen_as_if_crashed(db: &TestDatabase, key: &str) {
    let sql = "UPDATE idempotency_keys SET status = NULL, body = NULL, claimed_at = 0, claimed_by = NULL WHERE key = ";
    match db.backend {
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap();
            let connection = rusqlite::Connection::open(path).unwrap();
            let updated = connection.execute(&format!("{sql}?1"), [key]).unwrap();
            assert_eq!(updated, 1);
        }
        Backend::Postgres => {
            let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let updated = client.execute(&format!("{sql}$1"), &[&key]).await.unwrap();
            assert_eq!(updated, 1);
        }
    }
}

on_both_backends!(a_transfer_left_to_the_server_is_not_applied_again_when_its_request_runs_again, |db| {
    let app = App::new(&db).await;
    let platform = app.open_account(json!({"currency": "CNY", "normal_side": "debit"})).await;
    let wallet = app.open_account(json!({"currency": "CNY"})).await;
    let body = json!({"debit_account_id": platform, "credit_account_id": wallet, "amount": 1000});

    let (status, _, first) = app.send("POST", "/v1/ledger/transfers", &body, Some("recharge-1")).await;
    assert_eq!(status, 201, "{first}");
    reopen_as_if_crashed(&db, "recharge-1").await;

    let (status, replayed, again) = app.send("POST", "/v1/ledger/transfers", &body, Some("recharge-1")).await;
    assert_eq!(status, 201, "{again}");
    assert!(!replayed, "the request ran again: nothing was stored to replay");
    assert_eq!(again["id"], first["id"], "the second run names the transfer the first one applied");
    assert_eq!(app.balance(&wallet).await, 1000, "the money moved once");
    assert_eq!(app.entry_count(&wallet).await, 1);
    let (_, replayed, replay) = app.send("POST", "/v1/ledger/transfers", &body, Some("recharge-1")).await;
    assert!(replayed);
    assert_eq!(replay, again, "its retries get the recorded response");
});

on_both_backends!(a_batch_and_a_post_of_a_hold_left_to_the_server_are_not_applied_again_when_run_again, |db| {
    let app = App::new(&db).await;
    let platform = app.open_account(json!({"currency": "CNY", "normal_side": "debit"})).await;
    let wallet = app.open_account(json!({"currency": "CNY"})).await;

    let batch = json!({"transfers": [
        {"debit_account_id": platform, "credit_account_id": wallet, "amount": 100},
        {"debit_account_id": platform, "credit_account_id": wallet, "amount": 200},
    ]});
    let (status, _, first) = app.send("POST", "/v1/ledger/transfers/batch", &batch, Some("batch-1")).await;
    assert_eq!(status, 200, "{first}");
    reopen_as_if_crashed(&db, "batch-1").await;
    let (status, _, again) = app.send("POST", "/v1/ledger/transfers/batch", &batch, Some("batch-1")).await;
    assert_eq!(status, 200, "{again}");
    for index in 0..2 {
        assert_eq!(again["results"][index]["status"], "ok", "{again}");
        assert_eq!(again["results"][index]["transfer"]["id"], first["results"][index]["transfer"]["id"], "{again}");
    }
    assert_eq!(app.balance(&wallet).await, 300, "the batch applied once");

    let hold = json!({"debit_account_id": platform, "credit_account_id": wallet, "amount": 50, "pending": true});
    let (status, _, hold) = app.send("POST", "/v1/ledger/transfers", &hold, None).await;
    assert_eq!(status, 201, "{hold}");
    let path = format!("/v1/ledger/transfers/{}/post", hold["id"].as_str().unwrap());
    let (status, _, first) = app.send("POST", &path, &json!({}), Some("post-1")).await;
    assert_eq!(status, 201, "{first}");
    reopen_as_if_crashed(&db, "post-1").await;
    let (status, _, again) = app.send("POST", &path, &json!({}), Some("post-1")).await;
    assert_eq!((status, &again["id"]), (201, &first["id"]), "the post is found, not refused as already posted");
    assert_eq!(app.balance(&wallet).await, 350);
});
