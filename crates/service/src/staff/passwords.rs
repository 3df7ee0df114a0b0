//! Staff passwords: Argon2id with explicit parameters, stored as PHC strings (which name their
//! parameters and salt, so a change of parameters leaves older hashes verifiable). Hashing costs tens of
//! milliseconds of CPU and its memory (19 MiB) by design, so it runs on the blocking pool, at most
//! a few at once ([`HashingPermits`]), and before any write: a sign-in hashes once, then records its
//! verdict.

use std::sync::OnceLock;

use argon2::password_hash::{Error as HashError, PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use sanhu_core::staff::{LoginVerdict, StaffPassword, PASSWORD_CHARS_MAX};

use super::StaffFailure;
use crate::clock;
use crate::hashing::HashingPermits;

/// Argon2id's cost parameters for new staff password hashes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordHashing {
    /// Memory per hash, in KiB.
    pub memory_kib: u32,
    /// Passes over the memory.
    pub iterations: u32,
    /// Lanes (threads' worth of parallel work).
    pub parallelism: u32,
}

/// Salt and hash lengths, in bytes: the values RFC 9106 recommends.
const SALT_BYTES: usize = 16;
const HASH_BYTES: usize = 32;
/// Longest submitted password that is hashed at all, in bytes: 4 per character of the longest
/// password that can be set. A longer one cannot be right, and is not worth the CPU.
const SUBMITTED_BYTES_MAX: usize = 4 * PASSWORD_CHARS_MAX;

impl PasswordHashing {
    /// OWASP's first recommended setting for Argon2id: 19 MiB, 2 passes, 1 lane.
    pub const RECOMMENDED: PasswordHashing = PasswordHashing { memory_kib: 19 * 1024, iterations: 2, parallelism: 1 };

    /// Checks the parameters (Argon2's own bounds), for configuration.
    pub fn check(self) -> anyhow::Result<()> {
        self.argon2().map(|_| ())
    }

    fn argon2(self) -> anyhow::Result<Argon2<'static>> {
        let params = Params::new(self.memory_kib, self.iterations, self.parallelism, Some(HASH_BYTES))
            .map_err(|e| anyhow::anyhow!("invalid Argon2 parameters {self:?}: {e}"))?;
        Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
    }
}

/// Runs a hash under the permits: refused (`StaffFailure::Busy`) when as many run and wait as they
/// allow.
async fn under<T: Send + 'static>(
    permits: &HashingPermits,
    hash: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, StaffFailure> {
    match permits.run(hash).await {
        Ok(result) => result.map_err(StaffFailure::Internal),
        Err(crate::hashing::Busy) => Err(StaffFailure::Busy),
    }
}

/// The PHC string of `password` under a fresh salt, computed on the blocking pool.
pub(super) async fn hash(
    permits: &HashingPermits,
    hashing: PasswordHashing,
    password: StaffPassword,
) -> Result<String, StaffFailure> {
    under(permits, move || {
        let salt = SaltString::encode_b64(&clock::random_bytes::<SALT_BYTES>())
            .map_err(|e| anyhow::anyhow!("failed to encode a salt: {e}"))?;
        let hashed = hashing
            .argon2()?
            .hash_password(password.expose_for_hashing(), &salt)
            .map_err(|e| anyhow::anyhow!("failed to hash a staff password: {e}"))?;
        Ok(hashed.to_string())
    })
    .await
}

/// Whether `submitted` is the password hashed in `phc` (with the parameters written in it), computed
/// on the blocking pool.
pub(super) async fn verify(
    permits: &HashingPermits,
    phc: String,
    submitted: &str,
) -> Result<LoginVerdict, StaffFailure> {
    if submitted.len() > SUBMITTED_BYTES_MAX {
        return Ok(LoginVerdict::Incorrect);
    }
    let submitted = submitted.to_owned();
    under(permits, move || {
        let parsed = PasswordHash::new(&phc).map_err(|e| anyhow::anyhow!("a stored staff password hash: {e}"))?;
        match Argon2::default().verify_password(submitted.as_bytes(), &parsed) {
            Ok(()) => Ok(LoginVerdict::Correct),
            Err(HashError::Password) => Ok(LoginVerdict::Incorrect),
            Err(e) => Err(anyhow::anyhow!("failed to verify a staff password: {e}")),
        }
    })
    .await
}

/// Spends the time a real verification would, for a sign-in whose username is unknown or malformed:
/// answering it faster would tell an attacker which usernames exist.
pub(super) async fn verify_nobody(
    permits: &HashingPermits,
    hashing: PasswordHashing,
    submitted: &str,
) -> Result<(), StaffFailure> {
    static NOBODY: OnceLock<String> = OnceLock::new();
    let phc = match NOBODY.get() {
        Some(phc) => phc.clone(),
        None => {
            let password = StaffPassword::parse("nobody signs in with this").expect("a valid password");
            let phc = hash(permits, hashing, password).await?;
            NOBODY.get_or_init(|| phc).clone()
        }
    };
    verify(permits, phc, submitted).await.map(|_| ())
}
