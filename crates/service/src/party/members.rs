//! Members (会员): registration (with its customer), activation (which opens the accounts that open on
//! activation), locking, activity and dormancy, cancellation.

use sanhu_core::id::MemberId;
use sanhu_core::ledger::Account;
use sanhu_core::party::member::DormancyPolicy;
use sanhu_core::party::{
    Actor, Customer, CustomerScope, LoginIdentity, Member, MemberAccountStatus, MemberAction, PartyKind, Reason,
};
use sanhu_core::Timestamp;
use sanhu_store::party::PartyStore;
use sanhu_store::LedgerStore;
use serde_json::json;

use super::accounts::open_account_in;
use super::customers::{load_customer, StoredCustomer};
use super::documents::{MemberAccount, StoredMember};
use super::error::{PartyError, MEMBER_NOT_FOUND};
use super::work::{Work, ACCOUNTS_OF_MEMBER, IDENTITY_KEY, MEMBERS_OF_CUSTOMER};
use super::Parties;
use crate::clock;

/// What registering a member takes.
#[derive(Clone, Debug)]
pub struct Registration {
    pub kind: PartyKind,
    pub scope: CustomerScope,
    /// The identity it signs in with first (on internet platforms, its phone number).
    pub identity: LoginIdentity,
}

/// A registered member and the customer created with it.
#[derive(Clone, Debug)]
pub struct RegisteredMember {
    pub customer: StoredCustomer,
    pub member: StoredMember,
}

impl Parties {
    /// Registers an inactive member under a new customer known only by the member's identity; a
    /// verified authentication later gives the customer its certificate (and merges it with any
    /// customer that already holds that certificate).
    pub async fn register_member(
        &self,
        registration: &Registration,
        actor: &Actor,
    ) -> Result<RegisteredMember, PartyError> {
        transact!(self, |work| {
            let key = registration.identity.uniqueness_key();
            if work.key_owner(IDENTITY_KEY, &key).await?.is_some() {
                return Err(sanhu_core::party::identity::IdentityError::IdentityTaken.into());
            }
            let customer = Customer::register(clock::new_id(), registration.kind, registration.scope, work.now);
            let member = Member::register(clock::new_id(), &customer, registration.kind, work.now)?;
            let customer = StoredCustomer { customer, name: None };
            let member = StoredMember { member, identities: vec![registration.identity.clone()], scope: None };
            let customer_id = customer.customer.id().to_string();
            let member_id = member.member.id().to_string();
            work.put(&customer);
            work.put(&member);
            work.claim(IDENTITY_KEY, &key, &member_id);
            work.index(MEMBERS_OF_CUSTOMER, &customer_id, &member_id);
            work.history(
                &customer_id,
                &customer_id,
                "customer.registered",
                actor,
                None,
                json!({ "kind": registration.kind.as_str(), "scope": registration.scope.as_str() }),
            );
            work.history(
                &member_id,
                &customer_id,
                "member.registered",
                actor,
                None,
                json!({ "identity": registration.identity.kind(), "status": "inactive" }),
            );
            Ok(RegisteredMember { customer, member })
        })
    }

    pub async fn get_member(&self, member_id: MemberId) -> Result<StoredMember, PartyError> {
        load_member(&mut self.reader(), member_id).await
    }

    /// The member whose login phone is `phone` (`member_not_found` when none is).
    pub async fn member_by_phone(&self, phone: &sanhu_core::party::PhoneNumber) -> Result<MemberId, PartyError> {
        let key = sanhu_core::party::LoginIdentity::Phone(phone.clone()).uniqueness_key();
        let owner = self.reader().key_owner(IDENTITY_KEY, &key).await?;
        owner.as_deref().and_then(MemberId::parse).ok_or(PartyError::NotFound(MEMBER_NOT_FOUND))
    }

    /// Activates an inactive member: it becomes normal, and every account type that opens on
    /// activation (the basic account) is opened for it. Returns the member and the accounts opened.
    pub async fn activate_member(
        &self,
        member_id: MemberId,
        actor: &Actor,
    ) -> Result<(StoredMember, Vec<(MemberAccount, Account)>), PartyError> {
        transact!(self, |work| {
            let stored = load_member(work, member_id).await?;
            let customer = load_customer(work, stored.member.customer()).await?;
            let reason = Reason::parse("activation").expect("a short reason");
            let (member, record) = stored.member.activate(customer.customer.status(), work.change(actor, &reason))?;
            let stored = StoredMember { member, ..stored };
            work.put(&stored);
            let member_key = member_id.to_string();
            let customer_key = stored.member.customer().to_string();
            work.history(
                &member_key,
                &customer_key,
                "member.activated",
                actor,
                None,
                json!({ "from": record.from().as_str(), "to": record.to().as_str() }),
            );
            let mut opened = Vec::new();
            let mut types: Vec<_> = self.config.account_types.opened_on_activation().cloned().collect();
            // A member of a merchant is given only the types its merchant offers.
            if let Some(scope) = &stored.scope {
                let merchant = super::franchise::load_scope_merchant(work, scope).await?;
                let offered = self.settings_of(work, &merchant).await?.account_types.value;
                types.retain(|t| offered.iter().any(|code| code == t.code().as_str()));
            }
            for account_type in &types {
                opened.push(open_account_in(work, &stored.member, &customer, account_type, actor));
            }
            Ok((stored, opened))
        })
    }

    /// Locks a member (lock status 1): it cannot act until unlocked. Its accounts are untouched.
    pub async fn lock_member(
        &self,
        member_id: MemberId,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<StoredMember, PartyError> {
        self.set_lock(member_id, actor, reason, true).await
    }

    pub async fn unlock_member(
        &self,
        member_id: MemberId,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<StoredMember, PartyError> {
        self.set_lock(member_id, actor, reason, false).await
    }

    async fn set_lock(
        &self,
        member_id: MemberId,
        actor: &Actor,
        reason: &Reason,
        lock: bool,
    ) -> Result<StoredMember, PartyError> {
        transact!(self, |work| {
            let stored = load_member(work, member_id).await?;
            let change = work.change(actor, reason);
            let (member, record) =
                if lock { stored.member.lock_member(change)? } else { stored.member.unlock_member(change)? };
            let stored = StoredMember { member, ..stored };
            work.put(&stored);
            work.history(
                &member_id.to_string(),
                &stored.member.customer().to_string(),
                if lock { "member.locked" } else { "member.unlocked" },
                actor,
                Some(reason),
                json!({ "from": record.from().as_str(), "to": record.to().as_str() }),
            );
            Ok(stored)
        })
    }

    /// Checks that a member may take `action` (its customer not banned, itself not locked, cancelled or,
    /// for money, inactive), and records the activity, which wakes a dormant member. The activity is
    /// written only when it wakes the member or the last one written is a day old
    /// (`Member::activity_worth_recording`): payments from one wallet do not all write its member.
    pub async fn member_acts(&self, member_id: MemberId, action: MemberAction) -> Result<StoredMember, PartyError> {
        // The day's activity, once recorded, is found by a rerun and not recorded again.
        crate::effects::idempotent(self.record_act(member_id, action)).await
    }

    async fn record_act(&self, member_id: MemberId, action: MemberAction) -> Result<StoredMember, PartyError> {
        transact!(self, |work| {
            let stored = load_member(work, member_id).await?;
            let customer = load_customer(work, stored.member.customer()).await?;
            stored.member.check_action(action, customer.customer.status())?;
            if !stored.member.activity_worth_recording(work.now) {
                return Ok(stored);
            }
            let (member, woke) = stored.member.clone().record_activity(work.now);
            let stored = StoredMember { member, ..stored };
            if let Some(record) = woke {
                work.history(
                    &member_id.to_string(),
                    &stored.member.customer().to_string(),
                    "member.woke",
                    &Actor::Member(member_id),
                    Some(&record.change().reason),
                    json!({ "from": record.from().as_str(), "to": record.to().as_str() }),
                );
            }
            work.put(&stored);
            Ok(stored)
        })
    }

    /// Cancels a member (销户): refused while any of its accounts holds money or a hold; otherwise its
    /// accounts are closed, then the member, and its login identities are released for reuse.
    pub async fn cancel_member(
        &self,
        member_id: MemberId,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<StoredMember, PartyError> {
        transact!(self, |work| {
            let stored = load_member(work, member_id).await?;
            let customer = load_customer(work, stored.member.customer()).await?;
            let member_key = member_id.to_string();
            let customer_key = stored.member.customer().to_string();
            let accounts: Vec<MemberAccount> = work.indexed(ACCOUNTS_OF_MEMBER, &member_key).await?;
            let ids: Vec<_> = accounts.iter().map(|a| a.account_id).collect();
            let ledger = work.store().get_accounts(&ids).await?;
            let cancellation =
                stored.member.clone().cancel(customer.customer.status(), &ledger, 0, work.change(actor, reason))?;
            for account in accounts.iter().filter(|a| cancellation.accounts_to_close.contains(&a.account_id)) {
                let flags = sanhu_core::party::effective_flags(MemberAccountStatus::Closed, customer.customer.status());
                work.set_ledger_flags(account.account_id, flags, true);
                work.put(&MemberAccount { status: MemberAccountStatus::Closed, ..account.clone() });
                work.history(
                    &account.account_id.to_string(),
                    &customer_key,
                    "account.closed",
                    actor,
                    Some(reason),
                    json!({ "from": account.status.as_str(), "to": "closed", "cause": "member.cancelled" }),
                );
            }
            for identity in &stored.identities {
                work.release(IDENTITY_KEY, &identity.uniqueness_key(), &member_key);
                if let Some(scope) = &stored.scope {
                    let key = format!("{}|{}", scope.merchant_id, identity.uniqueness_key());
                    work.release(super::franchise::MERCHANT_IDENTITY_KEY, &key, &member_key);
                }
            }
            let released: Vec<&str> = stored.identities.iter().map(LoginIdentity::kind).collect();
            let cancelled =
                StoredMember { member: cancellation.member, identities: Vec::new(), scope: stored.scope.clone() };
            work.put(&cancelled);
            work.history(
                &member_key,
                &customer_key,
                "member.cancelled",
                actor,
                Some(reason),
                json!({
                    "from": cancellation.change.from().as_str(),
                    "to": "cancelled",
                    "accounts_closed": cancellation.accounts_to_close.iter().map(ToString::to_string).collect::<Vec<_>>(),
                    "identities_released": released,
                }),
            );
            Ok(cancelled)
        })
    }

    /// Marks dormant every normal member without activity for the configured period; returns how many.
    /// Members are visited in id order, `page` at a time; each is decided and written on its own, so a
    /// member that acts meanwhile is not marked.
    pub async fn mark_dormant_members(&self, now: Timestamp, page: u32) -> Result<u64, PartyError> {
        let policy: DormancyPolicy = self.config.dormancy;
        let mut after: Option<String> = None;
        let mut marked = 0;
        loop {
            let records = self.store.party_list("member", after.as_deref(), page).await?;
            let Some(last) = records.last() else { break };
            after = Some(last.id.clone());
            for record in &records {
                let Ok(stored) = <StoredMember as super::documents::Document>::decode(&record.data) else {
                    tracing::error!(member = %record.id, "a stored member does not decode; skipped by the dormancy job");
                    continue;
                };
                if stored.member.status() != sanhu_core::party::MemberStatus::Normal
                    || !policy.is_due(stored.member.last_active_at(), now)
                {
                    continue;
                }
                let member_id = stored.member.id();
                let result = transact!(self, |work| {
                    let stored = load_member(work, member_id).await?;
                    let (member, record) = stored.member.mark_dormant(policy, now)?;
                    let stored = StoredMember { member, ..stored };
                    work.put(&stored);
                    work.history(
                        &member_id.to_string(),
                        &stored.member.customer().to_string(),
                        "member.dormant",
                        &Actor::System,
                        Some(&record.change().reason),
                        json!({ "from": record.from().as_str(), "to": record.to().as_str() }),
                    );
                    Ok(())
                });
                match result {
                    Ok(()) => marked += 1,
                    // It acted or changed meanwhile: no longer due.
                    Err(PartyError::Rejected(_)) => {}
                    Err(other) => return Err(other),
                }
            }
        }
        Ok(marked)
    }
}

pub(crate) async fn load_member(work: &mut Work, id: MemberId) -> Result<StoredMember, PartyError> {
    work.get::<StoredMember>(&id.to_string()).await?.ok_or(PartyError::NotFound(MEMBER_NOT_FOUND))
}
