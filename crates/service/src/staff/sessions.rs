//! Signing in, sessions and signing out.
//!
//! A sign-in checks the account's lock before hashing (a locked account's password is not even
//! compared), hashes once on the blocking pool, then records the verdict on the account with a
//! compare-and-set, so that concurrent wrong passwords each count, on every instance. An unknown
//! username, and a locked account whatever the password, cost the same hash and get the same answer
//! as a wrong password: from outside, a username that exists cannot be told from one that does not.
//!
//! A session is two random 256-bit tokens: the session token (the cookie) and the CSRF token (a
//! header on every state-changing request). The store keeps their SHA-256, never the tokens. A
//! session ends when signed out, after `idle_s` without a request or `absolute_s` after sign-in,
//! and when its account is disabled or given a new password.

use sanhu_core::staff::{LoginVerdict, StaffError, StaffStatus, Username};
use sanhu_core::Timestamp;
use sanhu_store::staff::{StaffAccount, StaffSession, StaffStore};
use sha2::{Digest, Sha256};

use super::{passwords, Staff, StaffFailure, ATTEMPTS};
use crate::clock;

/// Random bytes in a token, and the length of its text (lower-case hex).
const TOKEN_BYTES: usize = 32;
pub const TOKEN_HEX_LEN: usize = 2 * TOKEN_BYTES;
/// A session's last use is written at most this often: a request a second does not cost a write a
/// second. So a session may expire up to this much before `idle_s` after its last request.
const SESSION_TOUCH_INTERVAL_S: u32 = 60;

/// A session just signed in: its tokens, shown to the staff member once.
#[derive(Debug)]
pub struct NewSession {
    /// The session token: the cookie's value.
    pub token: String,
    /// The CSRF token: the `X-CSRF-Token` header of every state-changing request.
    pub csrf_token: String,
    pub account: StaffAccount,
    pub expires_at: Timestamp,
}

/// A request's session, found by its token and still valid, with its account as it is now.
#[derive(Clone, Debug)]
pub struct SignedIn {
    pub account: StaffAccount,
    pub session: StaffSession,
    /// When it expires if not used again.
    pub expires_at: Timestamp,
}

impl SignedIn {
    /// Whether `submitted` is the session's CSRF token.
    pub fn csrf_matches(&self, submitted: &str) -> bool {
        sha256_hex(submitted) == self.session.csrf_hash
    }
}

impl Staff {
    /// Signs a staff member in at `now` with a username and password as typed.
    pub async fn sign_in(&self, username: &str, password: &str, now: Timestamp) -> Result<NewSession, StaffFailure> {
        let Ok(username) = Username::parse(username) else {
            passwords::verify_nobody(&self.permits, self.config.hashing, password).await?;
            return Err(StaffError::InvalidCredentials.into());
        };
        // The verdict on the hash it was computed against: computed again only if the password changed.
        let mut verdict: Option<(String, LoginVerdict)> = None;
        for _ in 0..ATTEMPTS {
            let Some(account) = self.store.staff_account(&username).await? else {
                passwords::verify_nobody(&self.permits, self.config.hashing, password).await?;
                return Err(StaffError::InvalidCredentials.into());
            };
            if account.guard.check_may_try(now).is_err() {
                // Answered as a wrong password, after the same work: a locked account must not tell
                // anyone outside that its username exists.
                passwords::verify_nobody(&self.permits, self.config.hashing, password).await?;
                return Err(StaffError::InvalidCredentials.into());
            }
            if verdict.as_ref().is_none_or(|(phc, _)| *phc != account.password_hash) {
                let computed = passwords::verify(&self.permits, account.password_hash.clone(), password).await?;
                verdict = Some((account.password_hash.clone(), computed));
            }
            let (_, computed) = verdict.clone().expect("computed above");
            let (guard, answer) = account.guard.after_attempt(computed, self.config.login, now);
            if guard != account.guard && !self.store.update_staff(&StaffAccount { guard, ..account.clone() }).await? {
                continue;
            }
            if let Err(error) = answer {
                if error == StaffError::StaffLocked {
                    tracing::warn!(staff.username = %username, "a staff account is locked after too many failed sign-ins");
                    return Err(StaffError::InvalidCredentials.into());
                }
                return Err(error.into());
            }
            // Told only to whoever knows the password.
            if account.status == StaffStatus::Disabled {
                return Err(StaffError::StaffDisabled.into());
            }
            return self.open_session(StaffAccount { guard, ..account }, now).await;
        }
        Err(StaffFailure::Contended)
    }

    async fn open_session(&self, account: StaffAccount, now: Timestamp) -> Result<NewSession, StaffFailure> {
        let token = hex::encode(clock::random_bytes::<TOKEN_BYTES>());
        let csrf_token = hex::encode(clock::random_bytes::<TOKEN_BYTES>());
        let session = StaffSession {
            token_hash: sha256_hex(&token),
            username: account.username.clone(),
            csrf_hash: sha256_hex(&csrf_token),
            created_at: now,
            last_seen_at: now,
            ended_at: None,
        };
        // Sessions older than the longest any lives are dead: the sign-in forgets a few of them.
        let lifetime_ns = i64::from(self.config.session.absolute_s()) * 1_000_000_000;
        let forget_before = Timestamp::from_nanos(now.nanos().saturating_sub(lifetime_ns));
        self.store.create_staff_session(&session, forget_before).await?;
        let expires_at = self.config.session.expires_at(now, now);
        Ok(NewSession { token, csrf_token, account, expires_at })
    }

    /// The session whose token is `token`, if it may be used at `now`: not ended, not expired, its
    /// account active and its password unchanged since. Records its use (at most once a minute).
    pub async fn session(&self, token: &str, now: Timestamp) -> Result<SignedIn, StaffFailure> {
        let well_formed = token.len() == TOKEN_HEX_LEN && token.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        if !well_formed {
            return Err(StaffError::StaffSessionInvalid.into());
        }
        let invalid = || StaffFailure::Rejected(StaffError::StaffSessionInvalid);
        let session = self.store.staff_session(&sha256_hex(token)).await?.ok_or_else(invalid)?;
        if session.ended_at.is_some() {
            return Err(invalid());
        }
        let account = self.store.staff_account(&session.username).await?.ok_or_else(invalid)?;
        if account.status == StaffStatus::Disabled || session.created_at < account.password_set_at {
            return Err(invalid());
        }
        let policy = self.config.session;
        policy.check_live(session.created_at, session.last_seen_at, now)?;
        let mut session = session;
        if session.last_seen_at.add_seconds(SESSION_TOUCH_INTERVAL_S).is_some_and(|due| now >= due) {
            self.store.touch_staff_session(&session.token_hash, now).await?;
            session.last_seen_at = now;
        }
        let expires_at = policy.expires_at(session.created_at, session.last_seen_at);
        Ok(SignedIn { account, session, expires_at })
    }

    /// Ends a session (signing out). Ending an ended session changes nothing.
    pub async fn sign_out(&self, session: &StaffSession, now: Timestamp) -> Result<(), StaffFailure> {
        self.store.end_staff_session(&session.token_hash, now).await?;
        Ok(())
    }
}

/// Lower-case hex SHA-256 of a token: what the store keeps of it.
fn sha256_hex(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}
