//! API clients as the store keeps them, on both backends: scopes and the member a client is bound to
//! read back as written; keys are numbered per client, at most two active at once however many are
//! added concurrently, and revoked by number; a database of the schema before scopes keeps its clients,
//! each with every scope and its key as key 1.

use sanhu_core::id::MemberId;
use sanhu_core::scope::{Scope, Scopes};
use sanhu_core::Timestamp;
use sanhu_store::testing::DEFAULT_TEST_POSTGRES_URL;
use sanhu_store::{
    on_both_backends, AccessStore, ApiClient, ClientKey, DatabaseStore, KeyAdded, Store, StoreOptions,
    CLIENT_ACTIVE_KEYS_MAX,
};

fn now() -> Timestamp {
    let since = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("after 1970");
    Timestamp(since.as_nanos() as i64)
}

fn unique() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    format!("{}_{}_{}", std::process::id(), now().nanos() % 1_000_000_000_000, COUNTER.fetch_add(1, Ordering::Relaxed))
}

on_both_backends!(a_client_reads_back_with_its_scopes_binding_and_keys, |db| {
    let store = &db.store;
    let start = now();
    let member = MemberId::parse("mem_01JBQ8Z5S3M4V7X9Y2A6C8E0G1").expect("a member id");
    let bound = ApiClient {
        scopes: Scopes::none().with(Scope::WalletRead).with(Scope::PartiesWrite),
        bound_to: Some(member),
        ..ApiClient::new("cli_bound".to_owned(), "merchant".to_owned(), [1; 32], start)
    };
    let plain = ApiClient::new("cli_plain".to_owned(), "platform".to_owned(), [2; 32], Timestamp(start.nanos() + 1));
    let scopeless = ApiClient {
        scopes: Scopes::none(),
        ..ApiClient::new("cli_none".to_owned(), "nothing".to_owned(), [3; 32], Timestamp(start.nanos() + 2))
    };
    for client in [&bound, &plain, &scopeless] {
        store.create_client(client).await.unwrap();
    }
    assert_eq!(store.get_client("cli_bound").await.unwrap(), Some(bound.clone()));
    assert_eq!(store.get_client("cli_plain").await.unwrap().unwrap().scopes, Scopes::all());
    assert_eq!(store.get_client("cli_none").await.unwrap().unwrap().scopes, Scopes::none());
    assert_eq!(store.list_clients().await.unwrap(), vec![bound, plain, scopeless]);

    // More than two active keys cannot be created at once either.
    let key = |number| ClientKey { number, public_key: [number as u8; 32], added_at: start, revoked_at: None };
    let crowded = ApiClient {
        keys: vec![key(1), key(2), key(3)],
        ..ApiClient::new("cli_crowded".to_owned(), "x".to_owned(), [0; 32], start)
    };
    assert!(store.create_client(&crowded).await.is_err());
    assert_eq!(store.get_client("cli_crowded").await.unwrap(), None, "nothing of it was written");
});

on_both_backends!(keys_are_numbered_at_most_two_active_and_revoked_by_number, |db| {
    let store = &db.store;
    let start = now();
    store.create_client(&ApiClient::new("cli_k".to_owned(), "k".to_owned(), [1; 32], start)).await.unwrap();
    let second = Timestamp(start.nanos() + 5);
    assert_eq!(store.add_client_key("cli_k", &[2; 32], second).await.unwrap(), KeyAdded::Added { number: 2 });
    assert_eq!(store.add_client_key("cli_k", &[3; 32], second).await.unwrap(), KeyAdded::TooManyActive);
    assert_eq!(store.add_client_key("cli_x", &[3; 32], second).await.unwrap(), KeyAdded::NoClient);

    let revoked_at = Timestamp(start.nanos() + 10);
    assert!(store.revoke_client_key("cli_k", 1, revoked_at).await.unwrap());
    assert!(store.revoke_client_key("cli_k", 1, Timestamp(start.nanos() + 20)).await.unwrap());
    assert!(!store.revoke_client_key("cli_k", 7, revoked_at).await.unwrap(), "no key 7");
    assert!(!store.revoke_client_key("cli_x", 1, revoked_at).await.unwrap(), "no client");
    assert_eq!(store.add_client_key("cli_k", &[3; 32], second).await.unwrap(), KeyAdded::Added { number: 3 });

    let client = store.get_client("cli_k").await.unwrap().unwrap();
    let numbers: Vec<(u32, u8, Option<Timestamp>)> =
        client.keys.iter().map(|k| (k.number, k.public_key[0], k.revoked_at)).collect();
    assert_eq!(numbers, [(1, 1, Some(revoked_at)), (2, 2, None), (3, 3, None)], "the first revocation's time stays");
    let active: Vec<u32> = client.active_keys().map(|k| k.number).collect();
    assert_eq!(active, [2, 3]);
    assert_eq!(client.keys[1].added_at, second);
});

on_both_backends!(keys_added_at_once_by_two_instances_stop_at_two_active, |db| {
    let store = db.store.clone();
    let other = db.open_another().await;
    store.create_client(&ApiClient::new("cli_r".to_owned(), "r".to_owned(), [1; 32], now())).await.unwrap();
    let mut tasks = Vec::new();
    for i in 0..8u8 {
        let store = if i % 2 == 0 { store.clone() } else { other.clone() };
        tasks.push(tokio::spawn(async move { store.add_client_key("cli_r", &[10 + i; 32], now()).await.unwrap() }));
    }
    let mut added = 0;
    for task in tasks {
        match task.await.unwrap() {
            KeyAdded::Added { .. } => added += 1,
            KeyAdded::TooManyActive => {}
            KeyAdded::NoClient => panic!("the client exists"),
        }
    }
    assert_eq!(added, CLIENT_ACTIVE_KEYS_MAX - 1, "one key was there already");
    assert_eq!(store.get_client("cli_r").await.unwrap().unwrap().active_keys().count(), CLIENT_ACTIVE_KEYS_MAX);
});

/// The statements that made a database of the schema before scopes: each backend's migrations up to
/// then, in order, and the versions they record.
const SQLITE_BEFORE_SCOPES: &[&str] = &[
    include_str!("../../src/sqlite/schema.sql"),
    "ALTER TABLE idempotency_keys ADD COLUMN claimed_by TEXT;",
    include_str!("../../src/sqlite/schema_v3.sql"),
    include_str!("../../src/sqlite/schema_v4.sql"),
];
const POSTGRES_BEFORE_SCOPES: &[&str] = &[
    include_str!("../../src/postgres/schema.sql"),
    include_str!("../../src/postgres/schema_v2.sql"),
    include_str!("../../src/postgres/schema_v3.sql"),
    include_str!("../../src/postgres/schema_v4.sql"),
    include_str!("../../src/postgres/schema_v5.sql"),
];

/// The client an older sanhu made: one key in `api_clients`, no scopes.
fn old_client_rows(placeholder: fn(usize) -> String) -> String {
    format!(
        "CREATE TABLE sanhu_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL); \
         INSERT INTO api_clients (id, name, public_key, created_at, revoked_at) VALUES ('cli_old', 'old', {}, 1000, NULL); \
         INSERT INTO api_clients (id, name, public_key, created_at, revoked_at) VALUES ('cli_gone', 'gone', {}, 2000, 3000);",
        placeholder(7),
        placeholder(8),
    )
}

async fn the_old_clients_keep_their_keys_and_every_scope(store: &Store) {
    store.migrate().await.expect("migrate the old database");
    store.migrate().await.expect("migrating again changes nothing");
    let key =
        |byte: u8, at: i64| ClientKey { number: 1, public_key: [byte; 32], added_at: Timestamp(at), revoked_at: None };
    let old = ApiClient::new("cli_old".to_owned(), "old".to_owned(), [7; 32], Timestamp(1000));
    let gone = ApiClient {
        keys: vec![key(8, 2000)],
        revoked_at: Some(Timestamp(3000)),
        ..ApiClient::new("cli_gone".to_owned(), "gone".to_owned(), [8; 32], Timestamp(2000))
    };
    assert_eq!(old.keys, [key(7, 1000)]);
    assert_eq!(store.list_clients().await.unwrap(), [old, gone], "every scope, unbound, the key as key 1");
    assert_eq!(store.add_client_key("cli_old", &[9; 32], now()).await.unwrap(), KeyAdded::Added { number: 2 });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sqlite_database_from_before_scopes_keeps_its_clients() {
    let dir = std::env::temp_dir().join(format!("sanhu-test-clients-{}", unique()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sanhu.db");
    {
        let connection = rusqlite::Connection::open(&path).unwrap();
        for sql in SQLITE_BEFORE_SCOPES {
            connection.execute_batch(sql).unwrap();
        }
        connection.execute_batch(&old_client_rows(|byte| format!("x'{}'", format!("{byte:02x}").repeat(32)))).unwrap();
        for version in 1..=SQLITE_BEFORE_SCOPES.len() {
            connection.execute("INSERT INTO sanhu_migrations VALUES (?1, 0)", [version as i64]).unwrap();
        }
    }
    let store = Store::open(&format!("sqlite://{}", path.display()), &StoreOptions::default()).await.unwrap();
    the_old_clients_keep_their_keys_and_every_scope(&store).await;
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_database_from_before_scopes_keeps_its_clients() {
    let base = std::env::var("SANHU_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned());
    let Ok((admin, connection)) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await else {
        assert!(!std::env::var("CI").is_ok_and(|v| v == "true"), "CI=true and PostgreSQL at {base} is unreachable");
        eprintln!("skipping a PostgreSQL test: {base} is unreachable");
        return;
    };
    tokio::spawn(connection);
    let schema = format!("t_old_{}", unique());
    admin.batch_execute(&format!("CREATE SCHEMA {schema}; SET search_path TO {schema};")).await.unwrap();
    for sql in POSTGRES_BEFORE_SCOPES {
        admin.batch_execute(sql).await.unwrap();
    }
    admin
        .batch_execute(&old_client_rows(|byte| format!("'\\x{}'::bytea", format!("{byte:02x}").repeat(32))))
        .await
        .unwrap();
    for version in 1..=POSTGRES_BEFORE_SCOPES.len() as i32 {
        admin.execute("INSERT INTO sanhu_migrations VALUES ($1, 0)", &[&version]).await.unwrap();
    }
    let separator = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
    let store = Store::open(&url, &StoreOptions { read_connections: 2, ..StoreOptions::default() }).await.unwrap();
    the_old_clients_keep_their_keys_and_every_scope(&store).await;
    drop(store);
    admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
}
