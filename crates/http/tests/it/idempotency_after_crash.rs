//! A request under an Idempotency-Key that runs again because its first run's process died after
//! committing but before recording the response (its claim is dead and taken over): what the first
//! run applied is recognised, not applied a second time, also for transfers whose id the server
//! chose (DESIGN.md invariant 6). On SQLite and on PostgreSQL.
//!
//! The crash is reproduced in the database: the key's stored response is removed and its claim made
//! dead, which is what a process killed between the commit and the response leaves behind.

use sanhu_service::party::PartyConfig;
use sanhu_testkit::app::{body_bytes, TestApp};
use sanhu_testkit::{on_both_backends, Backend, TestDatabase};
use serde_json::{json, Value};

async fn app(db: TestDatabase) -> TestApp {
    TestApp::plain(db, PartyConfig::default()).await
}

/// A signed request; POSTs carry `idempotency_key` when given. (status, replayed, body)
async fn send(
    app: &TestApp,
    method: &str,
    path: &str,
    body: &Value,
    idempotency_key: Option<&str>,
) -> (u16, bool, Value) {
    let extra: Vec<(&str, &str)> = idempotency_key.map(|key| ("idempotency-key", key)).into_iter().collect();
    let response = app.send_with(method, path, &body_bytes(body), &extra).await;
    (response.status.as_u16(), response.replayed(), response.body)
}

async fn balance(app: &TestApp, account: &str) -> i64 {
    let (status, _, balance) =
        send(app, "GET", &format!("/v1/ledger/accounts/{account}/balance"), &Value::Null, None).await;
    assert_eq!(status, 200, "{balance}");
    balance["balance"].as_i64().unwrap()
}

async fn entry_count(app: &TestApp, account: &str) -> usize {
    let path = format!("/v1/ledger/accounts/{account}/entries");
    let (status, _, entries) = send(app, "GET", &path, &Value::Null, None).await;
    assert_eq!(status, 200, "{entries}");
    entries["data"].as_array().unwrap().len()
}

/// Leaves `key` as a process killed after its request committed leaves it: claimed, with no response,
/// by a claimant that is gone (here: a claim older than any lease, of no known instance).
pub(crate) async fn reopen_as_if_crashed(db: &TestDatabase, key: &str) {
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
    let app = app(db).await;
    let platform = app.open_account(json!({"currency": "CNY", "normal_side": "debit"})).await;
    let wallet = app.open_account(json!({"currency": "CNY"})).await;
    let body = json!({"debit_account_id": platform, "credit_account_id": wallet, "amount": 1000});

    let (status, _, first) = send(&app, "POST", "/v1/ledger/transfers", &body, Some("recharge-1")).await;
    assert_eq!(status, 201, "{first}");
    reopen_as_if_crashed(&app.db, "recharge-1").await;

    let (status, replayed, again) = send(&app, "POST", "/v1/ledger/transfers", &body, Some("recharge-1")).await;
    assert_eq!(status, 201, "{again}");
    assert!(!replayed, "the request ran again: nothing was stored to replay");
    assert_eq!(again["id"], first["id"], "the second run names the transfer the first one applied");
    assert_eq!(balance(&app, &wallet).await, 1000, "the money moved once");
    assert_eq!(entry_count(&app, &wallet).await, 1);
    let (_, replayed, replay) = send(&app, "POST", "/v1/ledger/transfers", &body, Some("recharge-1")).await;
    assert!(replayed);
    assert_eq!(replay, again, "its retries get the recorded response");
});

on_both_backends!(a_batch_and_a_post_of_a_hold_left_to_the_server_are_not_applied_again_when_run_again, |db| {
    let app = app(db).await;
    let platform = app.open_account(json!({"currency": "CNY", "normal_side": "debit"})).await;
    let wallet = app.open_account(json!({"currency": "CNY"})).await;

    let batch = json!({"transfers": [
        {"debit_account_id": platform, "credit_account_id": wallet, "amount": 100},
        {"debit_account_id": platform, "credit_account_id": wallet, "amount": 200},
    ]});
    let (status, _, first) = send(&app, "POST", "/v1/ledger/transfers/batch", &batch, Some("batch-1")).await;
    assert_eq!(status, 200, "{first}");
    reopen_as_if_crashed(&app.db, "batch-1").await;
    let (status, _, again) = send(&app, "POST", "/v1/ledger/transfers/batch", &batch, Some("batch-1")).await;
    assert_eq!(status, 200, "{again}");
    for index in 0..2 {
        assert_eq!(again["results"][index]["status"], "ok", "{again}");
        assert_eq!(again["results"][index]["transfer"]["id"], first["results"][index]["transfer"]["id"], "{again}");
    }
    assert_eq!(balance(&app, &wallet).await, 300, "the batch applied once");

    let hold = json!({"debit_account_id": platform, "credit_account_id": wallet, "amount": 50, "pending": true});
    let (status, _, hold) = send(&app, "POST", "/v1/ledger/transfers", &hold, None).await;
    assert_eq!(status, 201, "{hold}");
    let path = format!("/v1/ledger/transfers/{}/post", hold["id"].as_str().unwrap());
    let (status, _, first) = send(&app, "POST", &path, &json!({}), Some("post-1")).await;
    assert_eq!(status, 201, "{first}");
    reopen_as_if_crashed(&app.db, "post-1").await;
    let (status, _, again) = send(&app, "POST", &path, &json!({}), Some("post-1")).await;
    assert_eq!((status, &again["id"]), (201, &first["id"]), "the post is found, not refused as already posted");
    assert_eq!(balance(&app, &wallet).await, 350);
});
