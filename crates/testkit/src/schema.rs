//! A fresh PostgreSQL schema with no store on it: for a `sanhu` process, which migrates it itself.
//! (A test that opens the store in-process takes a [`crate::TestDatabase`] instead.)

use sanhu_store::testing::{unique_suffix, DEFAULT_TEST_POSTGRES_URL};

/// A fresh schema at `SANHU_TEST_POSTGRES_URL`, dropped when dropped.
pub struct PostgresSchema {
    pub base: String,
    pub schema: String,
    /// The URL sanhu is given: the base with the schema as its search path.
    pub url: String,
}

/// A runtime for a plain (not async) test's few database calls.
pub fn postgres_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

impl PostgresSchema {
    /// A fresh schema named `{prefix}_…`, or None (with a message) when PostgreSQL is unreachable
    /// outside CI; under `CI=true` an unreachable PostgreSQL is a failure.
    pub fn create(prefix: &str) -> Option<PostgresSchema> {
        let base = std::env::var("SANHU_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned());
        let schema = format!("{prefix}_{}", unique_suffix());
        let created = postgres_runtime().block_on(async {
            let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client.batch_execute(&format!("CREATE SCHEMA {schema}")).await
        });
        if let Err(error) = created {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true and PostgreSQL at {base} is unreachable ({error}): the PostgreSQL tests must run");
            }
            eprintln!("skipping a PostgreSQL test: {base} is unreachable ({error}); set SANHU_TEST_POSTGRES_URL");
            return None;
        }
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        Some(PostgresSchema { base, schema, url })
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        let (base, schema) = (self.base.clone(), self.schema.clone());
        let _ = postgres_runtime().block_on(async move {
            let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await
        });
    }
}
