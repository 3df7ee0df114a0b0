//! The instance lock: how a store tells that another store's claim on an idempotency key is dead.
//!
//! A claim whose request never answered used to hold its key for the whole lease
//! (`IDEMPOTENCY_CLAIM_LEASE_S`), even when the process that made it had been killed and restarted:
//! every retry after a crash waited a minute. Now each store, before its first claim, takes a session
//! advisory lock keyed by a random token on a connection of its own and holds it for as long as it
//! lives; PostgreSQL releases it when that session ends, which it does when the process dies (the
//! kernel closes the socket). A claim records its store's token, so a request on any instance that
//! finds another store's open claim tries that lock: if it gets it, the claimant and its request are
//! gone, and the claim is taken over at once. While the claimant lives the lock is refused and the
//! claim stands, whichever instance asks.
//!
//! The lock lives as long as its session, not as long as the process: a store whose lock connection
//! broke takes the same lock again on its next claim, and in between its open claims look dead to
//! the other instances. Where the session outlives the process (a host that vanished, until TCP
//! keepalive notices) the claim looks alive until the session ends: a live claimant's claim does not
//! lapse with the lease (see `IDEMPOTENCY_CLAIM_LEASE_S`), so the lock's connection must reach
//! PostgreSQL itself, not a pooler in transaction mode, whose server sessions outlive every client.

use anyhow::Context;
use tokio_postgres::{Client, Config, NoTls};

pub(super) struct InstanceLock {
    config: Config,
    /// The token and the connection whose session holds its lock, once taken.
    held: tokio::sync::Mutex<Option<(i64, Client)>>,
    /// Whether a failure to take the lock was logged already (it is tried again at every claim).
    warned: std::sync::atomic::AtomicBool,
    /// Set when the store gave its connections up (the database failed over): the lock is taken
    /// again on a fresh connection, on the primary of the moment, at the next claim.
    stale: std::sync::atomic::AtomicBool,
}

/// Tokens tried before giving up when each is taken (a collision, or a checker holding it a moment).
const TOKEN_TRIES: u32 = 5;

impl InstanceLock {
    /// The instance lock of a store on `url`; nothing is connected until the first claim.
    pub fn new(config: Config) -> InstanceLock {
        InstanceLock {
            config,
            held: tokio::sync::Mutex::new(None),
            warned: Default::default(),
            stale: Default::default(),
        }
    }

    /// Takes the lock again, on a fresh connection, at the next claim.
    pub fn discard(&self) {
        self.stale.store(true, std::sync::atomic::Ordering::SeqCst);
    }

    /// This store's token, taking its lock first if its session does not hold it (any more); None if
    /// the lock cannot be taken, and then this store's claims are recorded without a claimant and wait
    /// for their lease, as before instance locks.
    pub async fn token(&self) -> Option<i64> {
        match self.take().await {
            Ok(token) => Some(token),
            Err(error) => {
                if !self.warned.swap(true, std::sync::atomic::Ordering::Relaxed) {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "no instance lock: idempotency claims of this process will wait for their lease after a crash"
                    );
                }
                None
            }
        }
    }

    async fn take(&self) -> anyhow::Result<i64> {
        let mut held = self.held.lock().await;
        let stale = self.stale.swap(false, std::sync::atomic::Ordering::SeqCst);
        if let Some((token, client)) = held.as_ref() {
            if !client.is_closed() && (!stale || takes_writes(client).await) {
                return Ok(*token);
            }
        }
        let taken = self.take_again(&mut held).await;
        if taken.is_err() && stale {
            // Still the old connection: it is given up at the next claim, whether or not it looks open.
            self.stale.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        taken
    }

    /// Takes the lock on a fresh connection: the token held before if any, else a new one.
    async fn take_again(&self, held: &mut Option<(i64, Client)>) -> anyhow::Result<i64> {
        let (client, connection) =
            self.config.connect(NoTls).await.context("connect the instance lock to PostgreSQL")?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::warn!(%error, "the instance lock's PostgreSQL connection failed");
            }
        });
        // The same token again after a broken connection, so that this store's open claims are its
        // own again; a fresh one if that is taken.
        let mut token = match held.as_ref() {
            Some((token, _)) => *token,
            None => random_token()?,
        };
        for _ in 0..TOKEN_TRIES {
            let taken: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&token])
                .await
                .context("take the instance lock")?
                .get(0);
            if taken {
                *held = Some((token, client));
                return Ok(token);
            }
            token = random_token()?;
        }
        anyhow::bail!("no instance lock could be taken in {TOKEN_TRIES} tries")
    }
}

/// Whether the session is on a primary that takes writes: after a failover the lock must be held on
/// the database the claims are written to.
async fn takes_writes(client: &Client) -> bool {
    let primary = client
        .query_opt("SELECT 1 WHERE NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'", &[])
        .await;
    matches!(primary, Ok(Some(_)))
}

fn random_token() -> anyhow::Result<i64> {
    let mut random = [0u8; 8];
    getrandom::getrandom(&mut random).map_err(|e| anyhow::anyhow!("failed to draw an instance token: {e}"))?;
    Ok(i64::from_le_bytes(random))
}
