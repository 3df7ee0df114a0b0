//! A fixed-size pool of PostgreSQL connections, each with its own prepared statements. Small on
//! purpose: sanhu needs a handful of connections, a wait when all are busy, a fresh connection in
//! place of one the server closed, and all of them given up at once when the database fails over;
//! nothing else.
//!
//! Failover: the URL may name several hosts (`postgres://h1:5432,h2:5432/sanhu?target_session_attrs=
//! read-write`); each new connection tries them in turn and keeps the first that takes writes. When a
//! call finds the database unavailable (`crate::is_unavailable`: the connection lost, the server
//! shutting down, the session read-only), the store [`Pool::discard_all`]s: the idle connections are
//! closed, those on loan are closed when they come back, and the next use connects afresh, to whichever
//! host is the primary now.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use anyhow::Context;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_postgres::{Client, Config, GenericClient, NoTls, Statement};

/// One connection and the statements prepared on it (a statement belongs to its connection).
pub(super) struct Conn {
    pub client: Client,
    pub statements: Statements,
    /// The pool's generation when it was opened: one opened before the last `discard_all` is closed.
    generation: u64,
}

impl Conn {
    async fn open(config: &Config, generation: u64) -> anyhow::Result<Conn> {
        let (client, connection) = config.connect(NoTls).await.context("connect to PostgreSQL")?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "a PostgreSQL connection failed");
            }
        });
        // Set here rather than trusted from the server's configuration: a success answer must mean
        // the batch is flushed to disk, whatever postgresql.conf or the role's defaults say.
        client.batch_execute("SET synchronous_commit = on").await.context("set synchronous_commit")?;
        Ok(Conn { client, statements: Statements::default(), generation })
    }
}

/// Statements prepared on one connection, by their SQL text.
#[derive(Default)]
pub(super) struct Statements(HashMap<&'static str, Statement>);

impl Statements {
    /// The statement for `sql`, prepared on `client` the first time it is asked for. `client` must be
    /// this cache's connection or a transaction on it.
    pub async fn get<C: GenericClient + Sync>(
        &mut self,
        client: &C,
        sql: &'static str,
    ) -> Result<Statement, tokio_postgres::Error> {
        if let Some(statement) = self.0.get(sql) {
            return Ok(statement.clone());
        }
        let statement = client.prepare(sql).await?;
        self.0.insert(sql, statement.clone());
        Ok(statement)
    }
}

struct PoolInner {
    config: Config,
    idle: Mutex<Vec<Conn>>,
    /// Raised by every `discard_all`.
    generation: AtomicU64,
    permits: Arc<Semaphore>,
    size: usize,
}

/// At most `size` connections, opened on first use and reopened when the server closed them.
#[derive(Clone)]
pub(super) struct Pool(Arc<PoolInner>);

impl Pool {
    pub fn new(config: Config, size: usize) -> Pool {
        Pool(Arc::new(PoolInner {
            config,
            idle: Mutex::new(Vec::with_capacity(size)),
            generation: AtomicU64::new(0),
            permits: Arc::new(Semaphore::new(size.max(1))),
            size: size.max(1),
        }))
    }

    /// Its size and the connections on loan now.
    pub fn status(&self) -> crate::PoolStatus {
        crate::PoolStatus { size: self.0.size, in_use: self.0.size.saturating_sub(self.0.permits.available_permits()) }
    }

    /// Waits for a free connection. It goes back to the pool when the returned guard is dropped.
    pub async fn get(&self) -> anyhow::Result<PooledConn> {
        let permit = self.0.permits.clone().acquire_owned().await.context("the connection pool is closed")?;
        let idle = self.0.idle.lock().expect("pool lock").pop();
        let conn = match idle {
            Some(conn) if self.usable(&conn) => conn,
            // A closed connection is dropped here; its permit passes to the fresh one.
            _ => Conn::open(&self.0.config, self.0.generation.load(Ordering::SeqCst)).await?,
        };
        Ok(PooledConn { conn: Some(conn), pool: self.clone(), _permit: permit })
    }

    /// Gives every connection up: the idle ones now, those on loan when they come back. Called when
    /// the database was found unavailable, so that no connection to a host that is gone or no longer
    /// takes writes is used again.
    pub fn discard_all(&self) {
        self.0.generation.fetch_add(1, Ordering::SeqCst);
        let discarded = std::mem::take(&mut *self.0.idle.lock().expect("pool lock"));
        drop(discarded);
    }

    fn usable(&self, conn: &Conn) -> bool {
        !conn.client.is_closed() && conn.generation == self.0.generation.load(Ordering::SeqCst)
    }
}

/// A connection on loan from the pool.
pub(super) struct PooledConn {
    conn: Option<Conn>,
    pool: Pool,
    // Dropped after `drop` has put the connection back, so a waiter always finds it idle.
    _permit: OwnedSemaphorePermit,
}

impl std::ops::Deref for PooledConn {
    type Target = Conn;
    fn deref(&self) -> &Conn {
        self.conn.as_ref().expect("present until dropped")
    }
}

impl std::ops::DerefMut for PooledConn {
    fn deref_mut(&mut self) -> &mut Conn {
        self.conn.as_mut().expect("present until dropped")
    }
}

impl Drop for PooledConn {
    fn drop(&mut self) {
        // A transaction abandoned mid-way (its future dropped) needs no care here: tokio-postgres
        // queues its ROLLBACK before anything the next borrower sends.
        if let Some(conn) = self.conn.take() {
            if self.pool.usable(&conn) {
                self.pool.0.idle.lock().expect("pool lock").push(conn);
            }
        }
    }
}
