//! What webhooks keep secret is sealed at rest, on SQLite and on PostgreSQL: the raw rows hold
//! neither sanhu's signing key nor an endpoint's HMAC secret, and a key an older version kept in the
//! clear is sealed when first read, the same key signing on.

use base64::Engine as _;
use sanhu_service::party::Parties;
use sanhu_service::webhook::Webhooks;
use sanhu_testkit::app::TestApp;
use sanhu_testkit::{on_both_backends, world, Backend};
use serde_json::json;

use crate::webhooks::app;

/// The values of one column of every row `sql` selects, as bytes (text or blob).
pub(crate) async fn raw_column(app: &TestApp, sql: &str) -> Vec<Vec<u8>> {
    match app.db.backend {
        Backend::Sqlite => {
            let path = app.db.url.strip_prefix("sqlite://").unwrap().to_owned();
            let sql = sql.to_owned();
            tokio::task::spawn_blocking(move || {
                let connection = rusqlite::Connection::open(path).unwrap();
                let mut statement = connection.prepare(&sql).unwrap();
                let mut rows = statement.query([]).unwrap();
                let mut found = Vec::new();
                while let Some(row) = rows.next().unwrap() {
                    found.push(match row.get_ref(0).unwrap() {
                        rusqlite::types::ValueRef::Text(t) | rusqlite::types::ValueRef::Blob(t) => t.to_vec(),
                        rusqlite::types::ValueRef::Null => Vec::new(),
                        other => panic!("an unexpected column type: {other:?}"),
                    });
                }
                found
            })
            .await
            .unwrap()
        }
        Backend::Postgres => {
            let (client, connection) = tokio_postgres::connect(&app.db.url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            let rows = client.query(sql, &[]).await.unwrap();
            rows.iter()
                .map(|row| match row.try_get::<_, Option<Vec<u8>>>(0) {
                    Ok(bytes) => bytes.unwrap_or_default(),
                    Err(_) => row.get::<_, Option<String>>(0).unwrap_or_default().into_bytes(),
                })
                .collect()
        }
    }
}

/// Runs one statement on the database directly (what an older version wrote).
pub(crate) async fn raw_execute(app: &TestApp, sqlite: &str, postgres: &str) {
    match app.db.backend {
        Backend::Sqlite => {
            let path = app.db.url.strip_prefix("sqlite://").unwrap().to_owned();
            let sql = sqlite.to_owned();
            tokio::task::spawn_blocking(move || rusqlite::Connection::open(path).unwrap().execute_batch(&sql).unwrap())
                .await
                .unwrap();
        }
        Backend::Postgres => {
            let (client, connection) = tokio_postgres::connect(&app.db.url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            client.batch_execute(postgres).await.unwrap();
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

on_both_backends!(the_signing_key_is_kept_sealed_and_the_raw_row_holds_no_key, |db| {
    let app = app(db, vec![1]).await;
    let key = app.state.webhooks().signing_key().await.unwrap();
    let seed = key.to_bytes();
    let rows = raw_column(&app, "SELECT seed FROM webhook_signing_key").await;
    assert_eq!(rows.len(), 1);
    let raw = &rows[0];
    assert!(raw.starts_with(b"s1."), "sealed under the data key: {}", String::from_utf8_lossy(raw));
    assert!(!contains(raw, &seed), "the raw row holds the seed");
    assert!(!contains(raw, hex::encode(seed).as_bytes()), "the raw row holds the seed in hex");
    assert!(!contains(raw, base64::engine::general_purpose::STANDARD.encode(seed).as_bytes()));
});

on_both_backends!(a_signing_key_kept_in_the_clear_is_sealed_on_first_read_and_signs_on, |db| {
    let app = app(db, vec![1]).await;
    // As a version before sealing kept it: the 32-byte seed itself.
    let seed = [7u8; 32];
    raw_execute(
        &app,
        &format!("INSERT INTO webhook_signing_key (id, seed, created_at) VALUES (1, X'{}', 1)", hex::encode(seed)),
        &format!("INSERT INTO webhook_signing_key (id, seed, created_at) VALUES (1, '\\x{}', 1)", hex::encode(seed)),
    )
    .await;
    let public = app.state.webhooks().public_key().await.unwrap();
    let expected = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key().to_bytes();
    assert_eq!(public, base64::engine::general_purpose::STANDARD.encode(expected), "the same key signs on");
    let raw = &raw_column(&app, "SELECT seed FROM webhook_signing_key").await[0];
    assert!(raw.starts_with(b"s1.") && !contains(raw, &seed), "{}", String::from_utf8_lossy(raw));
    // A second server (a restart) opens the sealed key: the same public key.
    let parties = Parties::new(app.db.open_another().await, crate::webhooks::party_config());
    let again = Webhooks::new(parties, crate::webhooks::config(vec![1]));
    assert_eq!(again.public_key().await.unwrap(), public);
});

on_both_backends!(without_a_data_key_the_signing_key_is_kept_as_it_was_and_hmac_is_refused, |db| {
    // The defaults: a data key made up at start, which a restart would not have.
    let app = TestApp::new(db, world::party_config(), world::wallet_config())
        .await
        .with_webhooks(crate::webhooks::config(vec![1]));
    let public = app.state.webhooks().public_key().await.unwrap();
    // A second server (another made-up key) signs with the same key: it was not sealed.
    let parties = Parties::new(app.db.open_another().await, world::party_config());
    let again = Webhooks::new(parties, crate::webhooks::config(vec![1]));
    assert_eq!(again.public_key().await.unwrap(), public);
    assert_eq!(raw_column(&app, "SELECT seed FROM webhook_signing_key").await[0].len(), 32);
    // An HMAC secret could not be read after a restart: refused, with its code.
    let body = json!({"url": "http://127.0.0.1:9/h", "events": ["payment.paid"], "signature": "hmac-sha256"});
    app.post("/v1/webhooks", body).await.assert_error(axum::http::StatusCode::CONFLICT, "webhook_secret_unavailable");
});
