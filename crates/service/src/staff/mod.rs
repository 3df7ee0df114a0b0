//! The platform's staff: their accounts (created, listed, disabled, enabled, given a new password),
//! their sign-ins and sessions, and the approvals of maker-checker. The rules are core's
//! (`sanhu_core::staff`); this module hashes passwords, makes tokens and keeps the records through
//! the store (`sanhu_store::staff`).
//!
//! | file | what |
//! |---|---|
//! | `passwords.rs` | Argon2id with explicit parameters, on the blocking pool, outside any write |
//! | `accounts.rs` | create, list, disable, enable, reset a password |
//! | `sessions.rs` | sign in (with the lockout), find a session by its token, sign out |
//! | `approvals.rs` | a request recorded for approval; approved (then applied by the caller), or rejected |

mod accounts;
mod approvals;
mod passwords;
mod sessions;

use sanhu_core::staff::{LoginPolicy, SessionPolicy, StaffError};
use sanhu_store::Store;

use crate::failure::{Failure, Rejection, UseCaseFailure};
use crate::hashing::HashingPermits;

pub use approvals::HeldRequest;
pub use passwords::PasswordHashing;
pub use sessions::{NewSession, SignedIn, TOKEN_HEX_LEN};

/// How staff passwords are hashed, when failed sign-ins lock an account, and how long sessions last.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaffConfig {
    pub hashing: PasswordHashing,
    pub login: LoginPolicy,
    pub session: SessionPolicy,
}

impl Default for StaffConfig {
    fn default() -> Self {
        StaffConfig {
            hashing: PasswordHashing::RECOMMENDED,
            login: LoginPolicy::DEFAULT,
            session: SessionPolicy::DEFAULT,
        }
    }
}

/// Why a staff use case did not do what it was asked.
#[derive(Debug)]
pub enum StaffFailure {
    /// A rule refused it (core's code and message).
    Rejected(StaffError),
    /// Other requests kept changing the same record; nothing changed, and the caller may retry.
    Contended,
    /// As many password hashes run and wait as the bound allows ([`crate::hashing`]); nothing was
    /// done, and the caller may retry shortly.
    Busy,
    /// The store or the hashing failed.
    Internal(anyhow::Error),
}

impl From<StaffError> for StaffFailure {
    fn from(error: StaffError) -> StaffFailure {
        StaffFailure::Rejected(error)
    }
}

impl From<anyhow::Error> for StaffFailure {
    fn from(error: anyhow::Error) -> StaffFailure {
        StaffFailure::Internal(error)
    }
}

impl std::fmt::Display for StaffFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StaffFailure::Rejected(error) => write!(f, "{} ({})", error.message(), error.code()),
            StaffFailure::Contended => f.write_str("other requests kept changing the same staff record; retry"),
            StaffFailure::Busy => write!(f, "{}", crate::hashing::Busy),
            StaffFailure::Internal(error) => write!(f, "{error:#}"),
        }
    }
}

impl std::error::Error for StaffFailure {}

/// Refused when as many staff password hashes run and wait as the bound allows
/// ([`StaffFailure::Busy`]): nothing was done, and the HTTP layer answers 429 with `Retry-After`.
pub const HASHING_BUSY: Rejection = Rejection {
    code: "rate_limited",
    status: 429,
    message: "the server is hashing as many passwords as it allows at once; retry shortly",
};

impl UseCaseFailure for StaffFailure {
    fn contended() -> Self {
        StaffFailure::Contended
    }

    fn into_failure(self) -> Failure {
        match self {
            StaffFailure::Rejected(error) => Failure::Refused(Rejection::of(error)),
            StaffFailure::Contended => Failure::Contended,
            StaffFailure::Busy => Failure::Refused(HASHING_BUSY),
            StaffFailure::Internal(error) => Failure::Internal(error),
        }
    }
}

/// How many times a use case reads again and retries its compare-and-set after losing it to a
/// concurrent change, before it answers [`StaffFailure::Contended`].
const ATTEMPTS: usize = 8;

/// The staff use cases. Cheap to clone.
#[derive(Clone)]
pub struct Staff {
    store: Store,
    config: StaffConfig,
    /// Staff password hashes at once, and their queue.
    permits: HashingPermits,
}

impl Staff {
    /// Hashing as many staff passwords at once as this machine has cores.
    pub fn new(store: Store, config: StaffConfig) -> Staff {
        Staff::with_permits(store, config, HashingPermits::for_this_machine())
    }

    /// Hashing under `permits`.
    pub fn with_permits(store: Store, config: StaffConfig, permits: HashingPermits) -> Staff {
        Staff { store, config, permits }
    }

    pub fn config(&self) -> &StaffConfig {
        &self.config
    }
}
