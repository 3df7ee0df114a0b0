//! PostgreSQL store: production. Several sanhu instances may share one database, so the ledger
//! writer never assumes it is alone: it locks what a batch touches (holds, then accounts, each in id
//! order, the one global order every writer follows) and retries a batch that lost a race.
//!
//! All SQL is unqualified: the tables live in the connection's `search_path` schema, which the URL
//! may choose (`?options=-c%20search_path%3D<schema>`), as the tests do for a fresh schema each.
//!
//! The URL may name several hosts, the primary and its standbys, with `target_session_attrs=read-write`
//! (`postgres://h1:5432,h2:5432/sanhu?target_session_attrs=read-write`): a connection goes to the one
//! that takes writes. When the database is found unavailable every connection is given up and the
//! next use connects again, to the primary of the moment (see `pool`).

mod access;
mod approvals;
mod audit;
mod bill;
mod card;
mod database;
mod instance;
mod ledger;
mod party;
mod pool;
mod rows;
mod staff;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use crate::{redact_url, DatabaseStore, StoreOptions};
use anyhow::Context;
use pool::Pool;
use tokio_postgres::Config;

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
        let config = connect_config(url).with_context(|| format!("read the PostgreSQL URL {}", redact_url(url)))?;
        let store = PostgresStore {
            inner: Arc::new(Inner {
                writer: Pool::new(config.clone(), 1),
                general: Pool::new(config.clone(), options.read_connections.max(1) as usize),
                instance: instance::InstanceLock::new(config),
            }),
        };
        store.ping().await.with_context(|| format!("open PostgreSQL at {}", redact_url(url)))?;
        Ok(store)
    }

    /// A standby's store, for reads only (docs/OPERATIONS.md, "Read replicas"): a pool of
    /// `read_connections` connections to `url`, opened on first use, so that a standby down at
    /// start-up stops nothing (reads go to the primary until it answers). Nothing checks here that it
    /// is a standby: [`PostgresStore::replay_position`] says, and the read router asks it.
    pub fn replica(url: &str, options: &StoreOptions) -> anyhow::Result<PostgresStore> {
        let config = connect_config(url).with_context(|| format!("read the PostgreSQL URL {}", redact_url(url)))?;
        Ok(PostgresStore {
            inner: Arc::new(Inner {
                // Never used on a standby (it takes no writes); a pool of one opens nothing until asked.
                writer: Pool::new(config.clone(), 1),
                general: Pool::new(config.clone(), options.read_connections.max(1) as usize),
                instance: instance::InstanceLock::new(config),
            }),
        })
    }

    /// Where the primary's write-ahead log is now (`pg_current_wal_lsn()`, as a byte position): a
    /// standby that has replayed up to it has everything committed before this was asked.
    pub async fn wal_position(&self) -> anyhow::Result<u64> {
        let conn = self.inner.general.get().await?;
        let row = conn.client.query_one("SELECT (pg_current_wal_lsn() - '0/0'::pg_lsn)::bigint", &[]).await?;
        Ok(row.get::<_, i64>(0) as u64)
    }

    /// How far a standby has replayed the primary's write-ahead log (`pg_last_wal_replay_lsn()`, as a
    /// byte position); None when the server is not in recovery (a primary, or a standby promoted),
    /// whose data may be of another history than the primary's.
    pub async fn replay_position(&self) -> anyhow::Result<Option<u64>> {
        let conn = self.inner.general.get().await?;
        let row = conn
            .client
            .query_one(
                "SELECT pg_is_in_recovery(), coalesce((pg_last_wal_replay_lsn() - '0/0'::pg_lsn)::bigint, 0)",
                &[],
            )
            .await?;
        Ok(row.get::<_, bool>(0).then(|| row.get::<_, i64>(1) as u64))
    }

    /// Gives up every connection after the database was found unavailable (`crate::is_unavailable`):
    /// the next use connects again, to whichever host takes writes now.
    pub(crate) fn discard_connections(&self) {
        self.inner.writer.discard_all();
        self.inner.general.discard_all();
        self.inner.instance.discard();
    }
}

/// How long a connection attempt waits for each host, unless the URL says (`connect_timeout`).
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// A connection whose host vanished without closing it (a machine or network gone) is given up after
/// about `KEEPALIVE_IDLE + KEEPALIVE_RETRIES * KEEPALIVE_INTERVAL` idle, or `TCP_USER_TIMEOUT` with data
/// unacknowledged, unless the URL says (`keepalives_idle`, `keepalives_interval`, `keepalives_retries`,
/// `tcp_user_timeout`). The operating system's defaults would wait two hours.
const KEEPALIVE_IDLE: Duration = Duration::from_secs(10);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(2);
const KEEPALIVE_RETRIES: u32 = 3;
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(15);

/// The connection settings of `url`, with sanhu's timeouts where the URL names none.
fn connect_config(url: &str) -> anyhow::Result<Config> {
    let mut config: Config = url.parse()?;
    let query = url.split_once('?').map_or("", |(_, query)| query);
    let names = |parameter: &str| query.split('&').any(|pair| pair.split('=').next() == Some(parameter));
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(CONNECT_TIMEOUT);
    }
    if !names("keepalives_idle") {
        config.keepalives_idle(KEEPALIVE_IDLE);
    }
    if config.get_keepalives_interval().is_none() {
        config.keepalives_interval(KEEPALIVE_INTERVAL);
    }
    if config.get_keepalives_retries().is_none() {
        config.keepalives_retries(KEEPALIVE_RETRIES);
    }
    if config.get_tcp_user_timeout().is_none() {
        config.tcp_user_timeout(TCP_USER_TIMEOUT);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::connect_config;
    use std::time::Duration;
    use tokio_postgres::config::{Host, TargetSessionAttrs};

    #[test]
    fn a_url_may_name_several_hosts_and_ask_for_the_one_that_takes_writes() {
        let config =
            connect_config("postgres://sanhu@db1:5433,db2:5434,db3/sanhu?target_session_attrs=read-write").unwrap();
        let hosts: Vec<_> = config
            .get_hosts()
            .iter()
            .map(|host| match host {
                Host::Tcp(name) => name.clone(),
                #[cfg(unix)]
                Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        assert_eq!(hosts, ["db1", "db2", "db3"]);
        assert_eq!(config.get_ports(), [5433, 5434, 5432]);
        assert_eq!(config.get_target_session_attrs(), TargetSessionAttrs::ReadWrite);
        assert_eq!(config.get_dbname(), Some("sanhu"));
    }

    #[test]
    fn timeouts_are_sanhus_unless_the_url_gives_them() {
        let config = connect_config("postgres://sanhu@db/sanhu").unwrap();
        assert_eq!(config.get_connect_timeout(), Some(&super::CONNECT_TIMEOUT));
        assert_eq!(config.get_keepalives_idle(), super::KEEPALIVE_IDLE);
        assert_eq!(config.get_tcp_user_timeout(), Some(&super::TCP_USER_TIMEOUT));
        let config = connect_config(
            "postgres://sanhu@db/sanhu?connect_timeout=2&keepalives_idle=60&keepalives_interval=7&tcp_user_timeout=3",
        )
        .unwrap();
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(2)));
        assert_eq!(config.get_keepalives_idle(), Duration::from_secs(60));
        assert_eq!(config.get_keepalives_interval(), Some(Duration::from_secs(7)));
        assert_eq!(config.get_tcp_user_timeout(), Some(&Duration::from_secs(3)));
        assert!(connect_config("postgres://sanhu@db/sanhu?target_session_attrs=primary").is_err());
    }
}
