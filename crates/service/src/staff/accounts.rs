//! Staff accounts: created with a role and a password, listed, disabled (their sessions end) and
//! enabled again, given a new password (their sessions end, their lock is lifted). These are the
//! `sanhu staff` commands: someone with the server's configuration manages staff, not the API.

use sanhu_core::staff::{LoginGuard, StaffError, StaffPassword, StaffRole, StaffStatus, Username};
use sanhu_store::staff::{StaffAccount, StaffStore};

use super::{passwords, Staff, StaffFailure, ATTEMPTS};
use crate::clock;

impl Staff {
    /// A new active account. Refused if the username is taken.
    pub async fn create(
        &self,
        username: &Username,
        role: StaffRole,
        password: &StaffPassword,
    ) -> Result<StaffAccount, StaffFailure> {
        if self.store.staff_account(username).await?.is_some() {
            return Err(StaffError::StaffUsernameTaken.into());
        }
        let password_hash = passwords::hash(&self.permits, self.config.hashing, password.clone()).await?;
        let now = clock::now();
        let account = StaffAccount {
            username: username.clone(),
            role,
            password_hash,
            status: StaffStatus::Active,
            guard: LoginGuard::default(),
            created_at: now,
            password_set_at: now,
            version: 1,
        };
        if !self.store.create_staff(&account).await? {
            return Err(StaffError::StaffUsernameTaken.into());
        }
        Ok(account)
    }

    /// Every account, by username.
    pub async fn list(&self) -> Result<Vec<StaffAccount>, StaffFailure> {
        Ok(self.store.staff_accounts().await?)
    }

    pub async fn account(&self, username: &Username) -> Result<StaffAccount, StaffFailure> {
        self.store.staff_account(username).await?.ok_or(StaffFailure::Rejected(StaffError::StaffNotFound))
    }

    /// Disables an account and ends its sessions; returns how many ended. Disabling a disabled
    /// account changes nothing.
    pub async fn disable(&self, username: &Username) -> Result<u64, StaffFailure> {
        self.change(username, |account| StaffAccount { status: StaffStatus::Disabled, ..account }).await?;
        // Each request checks its account's status too, so a session this misses is refused anyway.
        Ok(self.store.end_staff_sessions(username, clock::now()).await?)
    }

    /// Lets a disabled account sign in again.
    pub async fn enable(&self, username: &Username) -> Result<(), StaffFailure> {
        self.change(username, |account| StaffAccount { status: StaffStatus::Active, ..account }).await
    }

    /// Sets a new password: the lock is lifted and every session signed in before ends. Returns how
    /// many sessions ended.
    pub async fn reset_password(&self, username: &Username, password: &StaffPassword) -> Result<u64, StaffFailure> {
        self.account(username).await?;
        let password_hash = passwords::hash(&self.permits, self.config.hashing, password.clone()).await?;
        let now = clock::now();
        self.change(username, |account| StaffAccount {
            password_hash: password_hash.clone(),
            password_set_at: now,
            guard: LoginGuard::default(),
            ..account
        })
        .await?;
        Ok(self.store.end_staff_sessions(username, now).await?)
    }

    /// Reads the account, applies `change` and writes it over the version read, again if another
    /// write came between.
    async fn change(
        &self,
        username: &Username,
        change: impl Fn(StaffAccount) -> StaffAccount,
    ) -> Result<(), StaffFailure> {
        for _ in 0..ATTEMPTS {
            let account = self.account(username).await?;
            let changed = change(account.clone());
            if changed == account || self.store.update_staff(&changed).await? {
                return Ok(());
            }
        }
        Err(StaffFailure::Contended)
    }
}
