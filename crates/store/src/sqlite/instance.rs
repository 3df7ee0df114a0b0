//! The instance lock: how a store tells that another store's claim on an idempotency key is dead.
//!
//! A claim whose request never answered used to hold its key for the whole lease
//! (`IDEMPOTENCY_CLAIM_LEASE_S`), even when the process that made it had been killed and restarted:
//! every retry after a crash waited a minute. Now each store, before its first claim, creates a file
//! named by a random token in `<database>-instances/` and holds an exclusive SQLite lock on it for as
//! long as it lives; the operating system releases that lock when the process ends, however it ends.
//! A claim records its store's token, so a request that finds another store's open claim tries that
//! store's lock: if it gets it, the claimant and its request are gone, and the claim is taken over at
//! once. While the claimant lives the lock is refused and the claim stands. SQLite's WAL needs every
//! process on the database to be on one host, so every claimant's lock file is visible here.

use std::path::{Path, PathBuf};

use anyhow::Context;
use rusqlite::{Connection, OpenFlags};

/// Hex digits of a token: 128 random bits.
const TOKEN_LEN: usize = 32;

pub(super) struct InstanceLock {
    dir: PathBuf,
    /// This store's token and the connection holding its lock, once it has claimed a key.
    held: Option<(String, Connection)>,
    /// Whether a failure to take the lock was logged already (it is tried again at every claim).
    warned: bool,
}

impl InstanceLock {
    /// The instance lock of a store on `database`; nothing is created until the first claim.
    pub fn new(database: &Path) -> InstanceLock {
        let mut dir = database.as_os_str().to_owned();
        dir.push("-instances");
        InstanceLock { dir: PathBuf::from(dir), held: None, warned: false }
    }

    /// This store's token, taking its lock first if it does not hold it yet; None if the lock cannot
    /// be taken, and then this store's claims are recorded without a claimant and wait for their
    /// lease, as before instance locks.
    pub fn token(&mut self) -> Option<String> {
        match self.take() {
            Ok(token) => Some(token),
            Err(error) => {
                if !std::mem::replace(&mut self.warned, true) {
                    tracing::warn!(
                        error = format!("{error:#}"),
                        "no instance lock: idempotency claims of this process will wait for their lease after a crash"
                    );
                }
                None
            }
        }
    }

    fn take(&mut self) -> anyhow::Result<String> {
        if let Some((token, _)) = &self.held {
            return Ok(token.clone());
        }
        std::fs::create_dir_all(&self.dir).with_context(|| format!("failed to create {}", self.dir.display()))?;
        self.forget_gone_instances();
        let mut random = [0u8; TOKEN_LEN / 2];
        getrandom::getrandom(&mut random).map_err(|e| anyhow::anyhow!("failed to draw an instance token: {e}"))?;
        let token = hex::encode(random);
        // Locked under a name no other store reads, then renamed: a lock file is never seen unlocked,
        // so another store's sweep cannot take a live instance for a gone one.
        let fresh = self.dir.join(format!(".{token}.new"));
        let connection = Connection::open_with_flags(
            &fresh,
            OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_CREATE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .with_context(|| format!("failed to create the instance lock {}", fresh.display()))?;
        connection.execute_batch("BEGIN EXCLUSIVE").context("failed to take the instance lock")?;
        std::fs::rename(&fresh, self.dir.join(&token)).context("failed to name the instance lock")?;
        self.held = Some((token.clone(), connection));
        Ok(token)
    }

    /// Whether the store with `token` is certainly gone: its lock file is missing or its lock free.
    /// False while it lives, and whenever that cannot be told (the claim then stands: a claim whose
    /// claimant may live is never taken over, see `IDEMPOTENCY_CLAIM_LEASE_S`).
    pub fn is_gone(&self, token: &str) -> bool {
        if self.held.as_ref().is_some_and(|(mine, _)| mine == token) {
            return false;
        }
        if token.len() != TOKEN_LEN || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return false;
        }
        let path = self.dir.join(token);
        if !path.exists() {
            // Its store removed it on a clean close, or a sweep removed it once the store was gone.
            return self.dir.exists();
        }
        lock_is_free(&path)
    }

    /// Removes the lock files of stores that are gone, so that crashes do not leave files behind.
    fn forget_gone_instances(&self) {
        let Ok(entries) = std::fs::read_dir(&self.dir) else { return };
        for entry in entries.flatten() {
            let path = entry.path();
            let named_by_token = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.len() == TOKEN_LEN && n.bytes().all(|b| b.is_ascii_hexdigit()));
            if named_by_token && lock_is_free(&path) {
                let _ = std::fs::remove_file(&path);
            }
        }
    }
}

/// Whether nobody holds the lock on the file at `path`. Never creates the file; any doubt is "held".
fn lock_is_free(path: &Path) -> bool {
    let flags = OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let Ok(connection) = Connection::open_with_flags(path, flags) else {
        return false;
    };
    if connection.busy_timeout(std::time::Duration::ZERO).is_err() {
        return false;
    }
    // Refused (SQLITE_BUSY) while its store holds it; any other failure is doubt too.
    let free = connection.execute_batch("BEGIN EXCLUSIVE").is_ok();
    if free {
        let _ = connection.execute_batch("ROLLBACK");
    }
    free
}

impl Drop for InstanceLock {
    fn drop(&mut self) {
        if let Some((token, connection)) = self.held.take() {
            // Removed while still locked, so no other store ever finds the file unlocked and named.
            let _ = std::fs::remove_file(self.dir.join(&token));
            drop(connection);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch() -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "sanhu-instance-lock-{}-{}",
            std::process::id(),
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn a_live_instance_is_not_gone_and_a_dropped_one_is() {
        let dir = scratch();
        let database = dir.join("sanhu.db");
        let mut one = InstanceLock::new(&database);
        let mut two = InstanceLock::new(&database);
        let token = one.token().unwrap();
        assert_eq!(one.token().unwrap(), token, "a store keeps its token");
        assert_ne!(two.token().unwrap(), token);
        assert!(!two.is_gone(&token), "a live instance is gone");
        assert!(!two.is_gone(&token), "looking at a live instance's lock released it");
        assert!(!one.is_gone(&token), "a store takes itself for gone");
        drop(one);
        assert!(two.is_gone(&token), "a dropped instance is still alive");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_lock_file_left_by_a_dead_process_is_free_and_swept_at_the_next_first_claim() {
        let dir = scratch();
        let database = dir.join("sanhu.db");
        // What a killed process leaves: its file, with no lock on it.
        let left = "0123456789abcdef0123456789abcdef";
        std::fs::create_dir_all(dir.join("sanhu.db-instances")).unwrap();
        std::fs::write(dir.join("sanhu.db-instances").join(left), b"").unwrap();
        let mut lock = InstanceLock::new(&database);
        assert!(lock.is_gone(left));
        lock.token().unwrap();
        assert!(!dir.join("sanhu.db-instances").join(left).exists(), "the dead instance's file is swept");
        assert!(lock.is_gone(left), "a swept instance is gone");
        assert!(!lock.is_gone("../../etc/passwd"), "a token that is no token is never taken for gone");
        let _ = std::fs::remove_dir_all(dir);
    }
}
