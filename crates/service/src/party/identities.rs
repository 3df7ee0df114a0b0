//! Login identities (登录标识): adding one (unique in the platform), removing one (never the last),
//! listing; and changing the phone (更换手机号), which needs a one-time code verified on the old number
//! and one on the new.

use sanhu_core::id::MemberId;
use sanhu_core::party::identity::{check_remove_identity, IdentityError};
use sanhu_core::party::one_time_code::{CodePurpose, CodeTarget};
use sanhu_core::party::phone_change::PhoneChangeError;
use sanhu_core::party::{Actor, LoginIdentity, MemberAction, PhoneChange, PhoneNumber};
use sanhu_core::Timestamp;
use serde_json::json;

use super::customers::load_customer;
use super::documents::{phone_change_id, StoredMember, StoredPhoneChange};
use super::error::{PartyError, IDENTITY_NOT_FOUND, PHONE_CHANGE_NOT_FOUND};
use super::members::load_member;
use super::one_time_codes::{check_in, issue_in, IssuedCode};
use super::work::{Work, IDENTITY_KEY};
use super::Parties;

/// A started phone change: the codes to deliver, one to each number.
#[derive(Clone, Debug)]
pub struct PhoneChangeStarted {
    pub old_code: IssuedCode,
    pub new_code: IssuedCode,
    /// Both must be verified, and the change completed, before this.
    pub expires_at: Timestamp,
}

/// Where a phone change stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PhoneChangeProgress {
    pub old_verified: bool,
    pub new_verified: bool,
    pub expires_at: Timestamp,
}

impl Parties {
    /// Adds a login identity to a member; refused if any member (itself included) already has it. The
    /// platform proves the member controls a phone or an email (a verified code) before asking.
    pub async fn add_identity(
        &self,
        member_id: MemberId,
        identity: &LoginIdentity,
        actor: &Actor,
    ) -> Result<StoredMember, PartyError> {
        transact!(self, |work| {
            let stored = may_manage(work, member_id).await?;
            let key = identity.uniqueness_key();
            if work.key_owner(IDENTITY_KEY, &key).await?.is_some() {
                return Err(IdentityError::IdentityTaken.into());
            }
            let mut identities = stored.identities.clone();
            identities.push(identity.clone());
            let stored = StoredMember { identities, ..stored };
            let member_key = member_id.to_string();
            work.put(&stored);
            work.claim(IDENTITY_KEY, &key, &member_key);
            work.history(
                &member_key,
                &stored.member.customer().to_string(),
                "member.identity_added",
                actor,
                None,
                json!({ "identity": identity.kind() }),
            );
            Ok(stored)
        })
    }

    /// Removes one of a member's login identities, which another member may then take; the last one
    /// stays.
    pub async fn remove_identity(
        &self,
        member_id: MemberId,
        identity: &LoginIdentity,
        actor: &Actor,
    ) -> Result<StoredMember, PartyError> {
        transact!(self, |work| {
            let stored = may_manage(work, member_id).await?;
            let key = identity.uniqueness_key();
            if !stored.identities.iter().any(|i| i.uniqueness_key() == key) {
                return Err(PartyError::NotFound(IDENTITY_NOT_FOUND));
            }
            check_remove_identity(stored.identities.len())?;
            let identities = stored.identities.iter().filter(|i| i.uniqueness_key() != key).cloned().collect();
            let stored = StoredMember { identities, ..stored };
            let member_key = member_id.to_string();
            work.put(&stored);
            work.release(IDENTITY_KEY, &key, &member_key);
            work.history(
                &member_key,
                &stored.member.customer().to_string(),
                "member.identity_removed",
                actor,
                None,
                json!({ "identity": identity.kind() }),
            );
            Ok(stored)
        })
    }

    /// A member's login identities, in the order they were added.
    pub async fn member_identities(&self, member_id: MemberId) -> Result<Vec<LoginIdentity>, PartyError> {
        Ok(self.get_member(member_id).await?.identities)
    }

    /// Starts changing a member's phone from `old` (one of its identities) to `new` (free), replacing
    /// any change in progress, and issues a code to each number for the platform to deliver.
    pub async fn start_phone_change(
        &self,
        member_id: MemberId,
        old: &PhoneNumber,
        new: &PhoneNumber,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<PhoneChangeStarted, PartyError> {
        transact!(self, |work| {
            work.now = now;
            let stored = may_manage(work, member_id).await?;
            if !stored.identities.contains(&LoginIdentity::Phone(old.clone())) {
                return Err(PartyError::NotFound(IDENTITY_NOT_FOUND));
            }
            let change = PhoneChange::start(member_id, old.clone(), new.clone(), now)?;
            if work.key_owner(IDENTITY_KEY, &LoginIdentity::Phone(new.clone()).uniqueness_key()).await?.is_some() {
                return Err(IdentityError::IdentityTaken.into());
            }
            // Read so that the write replaces it at its version.
            work.get::<StoredPhoneChange>(&phone_change_id(member_id)).await?;
            let expires_at = change.expires_at();
            let customer_id = stored.member.customer();
            work.put(&StoredPhoneChange { change, customer_id, completed_at: None });
            let old_code = issue_in(work, self, CodePurpose::PhoneChangeOld, CodeTarget::Phone(old.clone())).await?;
            let new_code = issue_in(work, self, CodePurpose::PhoneChangeNew, CodeTarget::Phone(new.clone())).await?;
            work.history(
                &member_id.to_string(),
                &customer_id.to_string(),
                "member.phone_change_started",
                actor,
                None,
                json!({ "old": old.masked(), "new": new.masked() }),
            );
            Ok(PhoneChangeStarted { old_code, new_code, expires_at })
        })
    }

    /// Checks the code sent to `phone` (the old or the new number of the change in progress) and
    /// records that number as verified. A wrong code costs one of the code's attempts.
    pub async fn verify_phone_change_code(
        &self,
        member_id: MemberId,
        phone: &PhoneNumber,
        submitted: &str,
        now: Timestamp,
    ) -> Result<PhoneChangeProgress, PartyError> {
        transact!(self, |work| {
            work.now = now;
            let stored = load_phone_change(work, member_id).await?;
            let purpose = if phone == stored.change.old() {
                CodePurpose::PhoneChangeOld
            } else if phone == stored.change.new_phone() {
                CodePurpose::PhoneChangeNew
            } else {
                return Err(PhoneChangeError::PhoneChangeCodeMismatch.into());
            };
            let verified = match check_in(work, self, purpose, &CodeTarget::Phone(phone.clone()), submitted).await? {
                Ok(verified) => verified,
                Err(refused) => return Ok(Err(refused)),
            };
            let change = match stored.change.clone().record(&verified, now) {
                Ok(change) => change,
                // The code is spent all the same: it was right, and is written as used.
                Err(refused) => return Ok(Err(refused.into())),
            };
            let progress = PhoneChangeProgress {
                old_verified: change.old_verified(),
                new_verified: change.new_verified(),
                expires_at: change.expires_at(),
            };
            work.put(&StoredPhoneChange { change, ..stored });
            Ok(Ok(progress))
        })
        .and_then(|verdict| verdict)
    }

    /// Completes a phone change whose two numbers are verified: the member signs in with the new
    /// number instead of the old, which is released.
    pub async fn complete_phone_change(
        &self,
        member_id: MemberId,
        actor: &Actor,
        now: Timestamp,
    ) -> Result<StoredMember, PartyError> {
        transact!(self, |work| {
            work.now = now;
            let stored = load_phone_change(work, member_id).await?;
            let member = may_manage(work, member_id).await?;
            let changed = stored.change.clone().complete(now)?;
            let old = LoginIdentity::Phone(changed.old.clone());
            let new = LoginIdentity::Phone(changed.new.clone());
            let Some(position) = member.identities.iter().position(|i| *i == old) else {
                return Err(PartyError::NotFound(IDENTITY_NOT_FOUND));
            };
            let (old_key, new_key) = (old.uniqueness_key(), new.uniqueness_key());
            if work.key_owner(IDENTITY_KEY, &new_key).await?.is_some() {
                return Err(IdentityError::IdentityTaken.into());
            }
            let mut identities = member.identities.clone();
            identities[position] = new;
            let member = StoredMember { identities, ..member };
            let member_key = member_id.to_string();
            work.put(&member);
            work.put(&StoredPhoneChange { completed_at: Some(now), ..stored });
            work.release(IDENTITY_KEY, &old_key, &member_key);
            work.claim(IDENTITY_KEY, &new_key, &member_key);
            work.history(
                &member_key,
                &member.member.customer().to_string(),
                "member.phone_changed",
                actor,
                None,
                json!({ "old": changed.old.masked(), "new": changed.new.masked() }),
            );
            Ok(member)
        })
    }
}

/// The member, if it may manage its security (its customer not banned, itself not locked or
/// cancelled).
async fn may_manage(work: &mut Work, member_id: MemberId) -> Result<StoredMember, PartyError> {
    let stored = load_member(work, member_id).await?;
    let customer = load_customer(work, stored.member.customer()).await?;
    stored.member.check_action(MemberAction::ManageSecurity, customer.customer.status())?;
    // A merchant's member holds its identities at its merchant only (`franchise.rs`): changed here, they
    // would be claimed platform-wide.
    if stored.scope.is_some() {
        return Err(PartyError::Rejected(super::franchise::MERCHANT_MEMBER_IDENTITIES_FIXED));
    }
    Ok(stored)
}

/// The member's phone change in progress.
async fn load_phone_change(work: &mut Work, member_id: MemberId) -> Result<StoredPhoneChange, PartyError> {
    match work.get::<StoredPhoneChange>(&phone_change_id(member_id)).await? {
        Some(stored) if stored.completed_at.is_none() => Ok(stored),
        _ => Err(PartyError::NotFound(PHONE_CHANGE_NOT_FOUND)),
    }
}
