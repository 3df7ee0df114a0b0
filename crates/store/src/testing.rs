//! Test databases: a fresh SQLite file or a fresh PostgreSQL schema per test, so tests share nothing.
//! Used by every crate's tests; small enough to compile always.
//!
//! PostgreSQL is found at `SANHU_TEST_POSTGRES_URL` (default: the local server's `test` database).
//! When it cannot be reached the PostgreSQL variants are skipped with a message, except under
//! `CI=true`, where a skipped PostgreSQL suite is a failure.

use std::path::PathBuf;

use crate::{DatabaseStore, Store, StoreOptions};

pub const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, migrated database that is removed when dropped.
pub struct TestDatabase {
    pub backend: Backend,
    /// The URL a `sanhu` process or a second store can open to reach the same database.
    pub url: String,
    pub store: Store,
    sqlite_dir: Option<PathBuf>,
    postgres_schema: Option<(String, String)>,
}

impl TestDatabase {
    /// A fresh database on `backend`, or None when PostgreSQL is unreachable outside CI.
    pub async fn new(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::Postgres => Self::postgres().await,
        }
    }

    pub async fn sqlite() -> TestDatabase {
        let dir = std::env::temp_dir().join(format!("sanhu-test-{}", unique_suffix()));
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        let url = format!("sqlite://{}", dir.join("sanhu.db").display());
        let store = Store::open(&url, &test_options()).await.expect("open the SQLite test database");
        store.migrate().await.expect("migrate the SQLite test database");
        TestDatabase { backend: Backend::Sqlite, url, store, sqlite_dir: Some(dir), postgres_schema: None }
    }

    pub async fn postgres() -> Option<TestDatabase> {
        let base = std::env::var("SANHU_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned());
        let schema = format!("t_{}", unique_suffix());
        let admin = match tokio_postgres::connect(&base, tokio_postgres::NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                client
            }
            Err(error) => {
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!("CI=true and PostgreSQL at {base} is unreachable ({error}): the PostgreSQL suite must run");
                }
                eprintln!("skipping a PostgreSQL test: {base} is unreachable ({error}); set SANHU_TEST_POSTGRES_URL");
                return None;
            }
        };
        admin.batch_execute(&format!("CREATE SCHEMA {schema}")).await.expect("create the test schema");
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        let store = Store::open(&url, &test_options()).await.expect("open the PostgreSQL test database");
        store.migrate().await.expect("migrate the PostgreSQL test database");
        Some(TestDatabase {
            backend: Backend::Postgres,
            url,
            store,
            sqlite_dir: None,
            postgres_schema: Some((base, schema)),
        })
    }

    /// Opens a second, independent store on the same database (a second sanhu instance).
    pub async fn open_another(&self) -> Store {
        Store::open(&self.url, &test_options()).await.expect("open the test database again")
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        if let Some(dir) = &self.sqlite_dir {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Some((base, schema)) = self.postgres_schema.take() {
            // Dropped on a plain thread: Drop cannot await, and the test's runtime may be ending.
            let _ = std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build();
                if let Ok(runtime) = runtime {
                    runtime.block_on(async move {
                        if let Ok((client, connection)) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await {
                            tokio::spawn(connection);
                            let _ = client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await;
                        }
                    });
                }
            })
            .join();
        }
    }
}

fn test_options() -> StoreOptions {
    StoreOptions {
        read_connections: 2,
        sqlite_cache_kib: 16 * 1024,
        sqlite_read_cache_kib: 4 * 1024,
        ..StoreOptions::default()
    }
}

/// A name part no other test of any process running now has: the process, the time and a counter.
pub fn unique_suffix() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}_{}_{}", std::process::id(), nanos % 1_000_000_000_000, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// Runs `test` on SQLite and then on PostgreSQL (where reachable): the same body on both backends.
#[macro_export]
macro_rules! on_both_backends {
    ($(#[$meta:meta])* $name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let $db = $crate::testing::TestDatabase::sqlite().await;
                $body
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some($db) = $crate::testing::TestDatabase::postgres().await else { return };
                $body
            }
        }
    };
}
