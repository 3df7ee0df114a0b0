//! PostgreSQL store: production. Several sanhu instances may share one database, so the ledger
//! writer never assumes it is alone: it locks what a batch touches (holds, then accounts, each in id
//! order, the one global order every writer follows) and retries a batch that lost a race.
//!
//! All SQL is unqualified: the tables live in the connection's `search_path` schema, which the URL
//! may choose (`?options=-c%20search_path%3D<schema>`), as the tests do for a fresh schema each.

mod access;
mod approvals;
mod audit;
mod card;
mod database;
mod instance;
mod ledger;
mod party;
mod pool;
mod rows;
mod staff;

use std::sync::Arc;

use crate::{DatabaseStore, StoreOptions};
use anyhow::Context;
use pool::Pool;

/// A PostgreSQL database. Clones share the connections.
#[derive(Clone)]
pub struct PostgresStore {
    inner: Arc<Inner>,
}

struct Inner {
    /// The ledger writer's own connection, so that batches never wait behind reads.
    writer: Pool,
    /// Everything else: reads, account creation, API clients, idempotency keys.
    general: Pool,
    /// Shows other stores that this one's claims on idempotency keys are alive (see `instance`).
    instance: instance::InstanceLock,
}

impl PostgresStore {
    pub(crate) fn pool_status(&self) -> crate::PoolStatus {
        self.inner.general.status()
    }

    /// Opens a pool of `read_connections + 1` connections to `url` and checks that the server
    /// answers. Does not migrate.
    pub async fn connect(url: &str, options: &StoreOptions) -> anyhow::Result<PostgresStore> {
        let store = PostgresStore {
            inner: Arc::new(Inner {
                writer: Pool::new(url, 1),
                general: Pool::new(url, options.read_connections.max(1) as usize),
                instance: instance::InstanceLock::new(url),
            }),
        };
        store.ping().await.with_context(|| format!("open PostgreSQL at {}", redact(url)))?;
        Ok(store)
    }
}

/// `url` without its password, for error messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme_end + 3], &userinfo[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::redact;

    #[test]
    fn passwords_are_left_out_of_messages() {
        assert_eq!(redact("postgres://sanhu:secret@db:5432/sanhu"), "postgres://sanhu:***@db:5432/sanhu");
        assert_eq!(redact("postgres://postgres@127.0.0.1/test"), "postgres://postgres@127.0.0.1/test");
    }
}
