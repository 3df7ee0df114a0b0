//! Staff accounts, their sign-in sessions and the approvals of maker-checker, the same on both
//! backends.
//!
//! The store decides nothing: core's rules (`sanhu_core::staff`) decide, the service hashes, and the
//! store keeps what they decided. Every change to a staff account is a compare-and-set on its
//! `version`, and every change to an approval a compare-and-set on its status, so concurrent failed
//! sign-ins each count and two staff members approving at once cannot both apply a request.
//!
//! A session is kept under the SHA-256 of its token, never the token: someone who reads the database
//! cannot sign in with what they read. The same holds for its CSRF token.

use std::future::Future;

use sanhu_core::staff::{ApprovalId, ApprovalStatus, LoginGuard, StaffRole, StaffStatus, Username};
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

/// A staff member's request that waits for a second one's approval, with what it takes to apply it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Approval {
    pub id: ApprovalId,
    pub status: ApprovalStatus,
    /// Who asked.
    pub maker: Username,
    /// Who approved or rejected it.
    pub checker: Option<Username>,
    /// The request to apply: its method, route template, path with query as sent, and body.
    pub method: String,
    pub route: String,
    pub path: String,
    pub body: String,
    /// Why it was rejected.
    pub reason: Option<String>,
    pub created_at: Timestamp,
    /// When it was approved or rejected.
    pub decided_at: Option<Timestamp>,
    /// The answer applying it gave: its HTTP status and body.
    pub response_status: Option<u16>,
    pub response_body: Option<String>,
}

/// Which approvals to list, oldest first.
#[derive(Clone, Debug, Default)]
pub struct ApprovalQuery {
    pub status: Option<ApprovalStatus>,
    /// Approvals after this one (a page's cursor).
    pub after: Option<ApprovalId>,
    pub limit: u32,
}

/// What every backend provides for staff.
pub trait StaffStore: Send + Sync {
    /// Creates an account; false if its username is taken.
    fn create_staff(&self, account: &StaffAccount) -> impl Future<Output = anyhow::Result<bool>> + Send;
    fn staff_account(&self, username: &Username) -> impl Future<Output = anyhow::Result<Option<StaffAccount>>> + Send;
    /// Every account, by username.
    fn staff_accounts(&self) -> impl Future<Output = anyhow::Result<Vec<StaffAccount>>> + Send;
    /// Writes `account` over the stored one if the stored version is still `account.version`, and
    /// moves the version on by one. False if the account changed meanwhile (or is gone).
    fn update_staff(&self, account: &StaffAccount) -> impl Future<Output = anyhow::Result<bool>> + Send;

    /// Stores a new session, and deletes up to [`STAFF_SESSIONS_FORGOTTEN_PER_SIGN_IN`] sessions that
    /// ended, or were signed in before `forget_before` (older than any session may live).
    fn create_staff_session(
        &self,
        session: &StaffSession,
        forget_before: Timestamp,
    ) -> impl Future<Output = anyhow::Result<()>> + Send;
    fn staff_session(&self, token_hash: &str) -> impl Future<Output = anyhow::Result<Option<StaffSession>>> + Send;
    /// Records that the session was used at `at` (never moving it back).
    fn touch_staff_session(&self, token_hash: &str, at: Timestamp) -> impl Future<Output = anyhow::Result<()>> + Send;
    /// Ends the session; false if there is no such session or it had ended already.
    fn end_staff_session(&self, token_hash: &str, at: Timestamp) -> impl Future<Output = anyhow::Result<bool>> + Send;
    /// Ends every open session of `username`; returns how many.
    fn end_staff_sessions(
        &self,
        username: &Username,
        at: Timestamp,
    ) -> impl Future<Output = anyhow::Result<u64>> + Send;

    fn create_approval(&self, approval: &Approval) -> impl Future<Output = anyhow::Result<()>> + Send;
    fn approval(&self, id: ApprovalId) -> impl Future<Output = anyhow::Result<Option<Approval>>> + Send;
    fn approvals(&self, query: &ApprovalQuery) -> impl Future<Output = anyhow::Result<Vec<Approval>>> + Send;
    /// Writes `approval` over the stored one if the stored status is still `expected`. False if it
    /// moved on meanwhile (another staff member decided it).
    fn update_approval(
        &self,
        approval: &Approval,
        expected: ApprovalStatus,
    ) -> impl Future<Output = anyhow::Result<bool>> + Send;
}

macro_rules! dispatch {
    ($self:ident, $s:ident => $e:expr) => {
        match $self {
            crate::Store::Sqlite($s) => $e.await,
            crate::Store::Postgres($s) => $e.await,
        }
    };
}

impl StaffStore for crate::Store {
    async fn create_staff(&self, account: &StaffAccount) -> anyhow::Result<bool> {
        dispatch!(self, s => s.create_staff(account))
    }
    async fn staff_account(&self, username: &Username) -> anyhow::Result<Option<StaffAccount>> {
        dispatch!(self, s => s.staff_account(username))
    }
    async fn staff_accounts(&self) -> anyhow::Result<Vec<StaffAccount>> {
        dispatch!(self, s => s.staff_accounts())
    }
    async fn update_staff(&self, account: &StaffAccount) -> anyhow::Result<bool> {
        dispatch!(self, s => s.update_staff(account))
    }
    async fn create_staff_session(&self, session: &StaffSession, forget_before: Timestamp) -> anyhow::Result<()> {
        dispatch!(self, s => s.create_staff_session(session, forget_before))
    }
    async fn staff_session(&self, token_hash: &str) -> anyhow::Result<Option<StaffSession>> {
        dispatch!(self, s => s.staff_session(token_hash))
    }
    async fn touch_staff_session(&self, token_hash: &str, at: Timestamp) -> anyhow::Result<()> {
        dispatch!(self, s => s.touch_staff_session(token_hash, at))
    }
    async fn end_staff_session(&self, token_hash: &str, at: Timestamp) -> anyhow::Result<bool> {
        dispatch!(self, s => s.end_staff_session(token_hash, at))
    }
    async fn end_staff_sessions(&self, username: &Username, at: Timestamp) -> anyhow::Result<u64> {
        dispatch!(self, s => s.end_staff_sessions(username, at))
    }
    async fn create_approval(&self, approval: &Approval) -> anyhow::Result<()> {
        dispatch!(self, s => s.create_approval(approval))
    }
    async fn approval(&self, id: ApprovalId) -> anyhow::Result<Option<Approval>> {
        dispatch!(self, s => s.approval(id))
    }
    async fn approvals(&self, query: &ApprovalQuery) -> anyhow::Result<Vec<Approval>> {
        dispatch!(self, s => s.approvals(query))
    }
    async fn update_approval(&self, approval: &Approval, expected: ApprovalStatus) -> anyhow::Result<bool> {
        dispatch!(self, s => s.update_approval(approval, expected))
    }
}

/// The columns of an account, in the order both backends read them.
pub(crate) const STAFF_COLUMNS: &str =
    "username, role, password_hash, status, failed_logins, locked_until, created_at, password_set_at, version";
pub(crate) const SESSION_COLUMNS: &str = "token_hash, username, csrf_hash, created_at, last_seen_at, ended_at";
pub(crate) const APPROVAL_COLUMNS: &str = "id, status, maker, checker, method, route, path, body, reason, \
     created_at, decided_at, response_status, response_body";

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

/// An approval's columns as read, before they are checked.
pub(crate) struct ApprovalRow {
    pub id: String,
    pub status: String,
    pub maker: String,
    pub checker: Option<String>,
    pub method: String,
    pub route: String,
    pub path: String,
    pub body: String,
    pub reason: Option<String>,
    pub created_at: i64,
    pub decided_at: Option<i64>,
    pub response_status: Option<i64>,
    pub response_body: Option<String>,
}

pub(crate) fn approval_from_row(row: ApprovalRow) -> anyhow::Result<Approval> {
    let id = ApprovalId::parse(&row.id).ok_or_else(|| anyhow::anyhow!("a stored approval id {:?}", row.id))?;
    let status = ApprovalStatus::parse(&row.status)
        .ok_or_else(|| anyhow::anyhow!("approval {id} has status {:?}", row.status))?;
    let response_status = match row.response_status {
        None => None,
        Some(status) => {
            Some(u16::try_from(status).map_err(|_| anyhow::anyhow!("approval {id} has response status {status}"))?)
        }
    };
    Ok(Approval {
        id,
        status,
        maker: stored_username(&row.maker)?,
        checker: row.checker.as_deref().map(stored_username).transpose()?,
        method: row.method,
        route: row.route,
        path: row.path,
        body: row.body,
        reason: row.reason,
        created_at: Timestamp::from_nanos(row.created_at),
        decided_at: row.decided_at.map(Timestamp::from_nanos),
        response_status,
        response_body: row.response_body,
    })
}
