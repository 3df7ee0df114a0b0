//! Staff accounts and their sign-in sessions, the same on both backends. The approvals of
//! maker-checker, which staff members make and decide, are kept apart (`crate::approvals`).
//!
//! The store decides nothing: core's rules (`sanhu_core::staff`) decide, the service hashes, and the
//! store keeps what they decided. Every change to a staff account is a compare-and-set on its
//! `version`, so concurrent failed sign-ins each count.
//!
//! A session is kept under the SHA-256 of its token, never the token: someone who reads the database
//! cannot sign in with what they read. The same holds for its CSRF token.

use sanhu_core::staff::{LoginGuard, StaffRole, StaffStatus, Username};
use sanhu_core::Timestamp;

/// Most ended or lapsed sessions one new session deletes: enough to keep up with sign-ins, small
/// enough that a sign-in never waits on a large delete.
pub const STAFF_SESSIONS_FORGOTTEN_PER_SIGN_IN: i64 = 64;

/// A staff account as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffAccount {
    pub username: Username,
    pub role: StaffRole,
    /// Argon2id, as a PHC string (it names its parameters and salt).
    pub password_hash: String,
    pub status: StaffStatus,
    /// Failed sign-ins in a row and the lock they set.
    pub guard: LoginGuard,
    pub created_at: Timestamp,
    /// When the password was last set; sessions signed in before it are no longer valid.
    pub password_set_at: Timestamp,
    /// Counts the writes to the account: [`StaffStore::update_staff`] writes only over the version it
    /// read.
    pub version: i64,
}

/// A sign-in session as stored: hashes of its tokens, never the tokens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StaffSession {
    /// Lower-case hex SHA-256 of the session token (the cookie's value).
    pub token_hash: String,
    pub username: Username,
    /// Lower-case hex SHA-256 of the CSRF token the session's state-changing requests carry.
    pub csrf_hash: String,
    pub created_at: Timestamp,
    /// When it was last used (written at most once a minute or so: see the service).
    pub last_seen_at: Timestamp,
    /// When it was signed out or ended by a change to its account.
    pub ended_at: Option<Timestamp>,
}

store_trait! {
    /// What every backend provides for staff accounts and their sessions.
    pub trait StaffStore {
        /// Creates an account; false if its username is taken.
        fn create_staff(&self, account: &StaffAccount) -> anyhow::Result<bool>;
        fn staff_account(&self, username: &Username) -> anyhow::Result<Option<StaffAccount>>;
        /// Every account, by username.
        fn staff_accounts(&self) -> anyhow::Result<Vec<StaffAccount>>;
        /// Writes `account` over the stored one if the stored version is still `account.version`,
        /// and moves the version on by one. False if the account changed meanwhile (or is gone).
        fn update_staff(&self, account: &StaffAccount) -> anyhow::Result<bool>;

        /// Stores a new session, and deletes up to [`STAFF_SESSIONS_FORGOTTEN_PER_SIGN_IN`]
        /// sessions that ended, or were signed in before `forget_before` (older than any session
        /// may live).
        fn create_staff_session(&self, session: &StaffSession, forget_before: Timestamp) -> anyhow::Result<()>;
        fn staff_session(&self, token_hash: &str) -> anyhow::Result<Option<StaffSession>>;
        /// Records that the session was used at `at` (never moving it back).
        fn touch_staff_session(&self, token_hash: &str, at: Timestamp) -> anyhow::Result<()>;
        /// Ends the session; false if there is no such session or it had ended already.
        fn end_staff_session(&self, token_hash: &str, at: Timestamp) -> anyhow::Result<bool>;
        /// Ends every open session of `username`; returns how many.
        fn end_staff_sessions(&self, username: &Username, at: Timestamp) -> anyhow::Result<u64>;
    }
}

/// The columns of an account, in the order both backends read them.
pub(crate) const STAFF_COLUMNS: &str =
    "username, role, password_hash, status, failed_logins, locked_until, created_at, password_set_at, version";
pub(crate) const SESSION_COLUMNS: &str = "token_hash, username, csrf_hash, created_at, last_seen_at, ended_at";

/// An account's columns as read, before they are checked.
pub(crate) struct StaffRow {
    pub username: String,
    pub role: String,
    pub password_hash: String,
    pub status: String,
    pub failed_logins: i64,
    pub locked_until: Option<i64>,
    pub created_at: i64,
    pub password_set_at: i64,
    pub version: i64,
}

/// The account a row holds. A stored value no rule could have written is an error, not an account.
pub(crate) fn staff_from_row(row: StaffRow) -> anyhow::Result<StaffAccount> {
    let username = Username::parse(&row.username)
        .map_err(|_| anyhow::anyhow!("a staff account has the username {:?}, which is not one", row.username))?;
    let role =
        StaffRole::parse(&row.role).map_err(|_| anyhow::anyhow!("staff {username} has the role {:?}", row.role))?;
    let status = StaffStatus::parse(&row.status)
        .ok_or_else(|| anyhow::anyhow!("staff {username} has the status {:?}", row.status))?;
    let failures = u32::try_from(row.failed_logins)
        .map_err(|_| anyhow::anyhow!("staff {username} has {} failed sign-ins", row.failed_logins))?;
    Ok(StaffAccount {
        username,
        role,
        password_hash: row.password_hash,
        status,
        guard: LoginGuard::restore(failures, row.locked_until.map(Timestamp::from_nanos)),
        created_at: Timestamp::from_nanos(row.created_at),
        password_set_at: Timestamp::from_nanos(row.password_set_at),
        version: row.version,
    })
}

pub(crate) fn stored_username(text: &str) -> anyhow::Result<Username> {
    Username::parse(text).map_err(|_| anyhow::anyhow!("a stored staff username {text:?} is not one"))
}
