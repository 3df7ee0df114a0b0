//! The merchant hierarchy (商户派): a merchant's place (its parent and level, checked against the
//! configured levels and depth), who reaches what, moves, children and subtrees, and sub-merchants
//! (子商户) opened by a special merchant (特约商户).
//!
//! **The place.** Each merchant keeps the merchants above it, the top first (`ancestors`: a
//! materialised path), and two lookups are kept beside it: a parent's children
//! (`merchant_children`) and every merchant below an ancestor (`merchant_descendants`), so that a
//! subtree is one indexed read and never a walk.
//!
//! **Reach.** [`Parties::reaches`] is the one rule of what a client bound to a member reaches: its
//! member's objects, and those of every member that runs a merchant lying below one of its member's
//! merchants; never beside or above. It reads the owner's merchants and the bound member's
//! merchants (two indexed reads and one read of records), whatever the depth. The access layer asks
//! it of every id a request names, and every list filtered for a bound client lists what it reaches
//! ([`Parties::merchants_reached`]).
//!
//! **Moves.** Staff or the platform move a merchant, with its subtree, under another parent (or to
//! the top). The move rewrites the path of every merchant of the subtree and the lookups in one write,
//! and writes the new parent again: a concurrent move of the parent, opening under a merchant of the
//! subtree, or another move of the same merchants meets this write's versions and is decided again
//! on what it left (so no two moves make a cycle). A request is checked against the hierarchy as it
//! stands when the request is checked: one checked before the move commits is answered under the old
//! place, one after under the new.

use std::collections::BTreeSet;

use sanhu_core::id::{MemberId, MerchantId};
use sanhu_core::party::merchant::{MerchantError, MerchantStatus, MerchantTypeCode};
use sanhu_core::party::merchant_level::Parent;
use sanhu_core::party::{Actor, Customer, CustomerScope, Member, Reason};
use serde_json::json;

use super::accounts::open_account_in;
use super::documents::{StoredCustomer, StoredMember};
use super::error::{PartyError, MERCHANT_NOT_FOUND};
use super::merchants::{load_merchant, MerchantApplication, MerchantFailure, StoredMerchant, MERCHANTS_OF_MEMBER};
use super::work::Work;
use super::Parties;
use crate::clock;

/// A parent's children.
pub(crate) const MERCHANT_CHILDREN: &str = "merchant_children";
/// Every merchant below an ancestor.
pub(crate) const MERCHANT_DESCENDANTS: &str = "merchant_descendants";
/// How many merchants one subtree read takes at most.
const SUBTREE_MAX: u32 = 10_000;

/// Files a new merchant under its parent and its ancestors.
pub(crate) fn index_place(work: &mut Work, merchant: &StoredMerchant) {
    if let Some(parent) = &merchant.parent_id {
        work.index(MERCHANT_CHILDREN, parent, &merchant.id);
    }
    for ancestor in &merchant.ancestors {
        work.index(MERCHANT_DESCENDANTS, ancestor, &merchant.id);
    }
}

fn rejected(error: MerchantError) -> MerchantFailure {
    MerchantFailure::from(error)
}

/// A sub-merchant to open under a special merchant: like any merchant, without a member of its own
/// (one is registered with it, with no login).
#[derive(Clone, Debug)]
pub struct SubMerchantApplication {
    pub parent_id: MerchantId,
    /// The merchant (derived from an idempotency key, or new) and everything it is opened with; its
    /// `member_id` is ignored (the sub-merchant's own member is registered with it).
    pub merchant: MerchantApplication,
}

impl Parties {
    /// The one rule of reach: whether a client bound to `bound` reaches what `owner` owns. Its own
    /// member, every member running a merchant below one of `bound`'s merchants, and every member
    /// registered for one of `bound`'s merchants or a merchant below them (a franchisee's members
    /// are reached by the franchisee and its brand); nothing beside or above.
    pub async fn reaches(&self, bound: MemberId, owner: MemberId) -> Result<bool, PartyError> {
        use sanhu_store::party::PartyStore;
        if bound == owner {
            return Ok(true);
        }
        let above = self.places_above(owner).await?;
        if above.is_empty() {
            return Ok(false);
        }
        let runs = self.store.party_index(MERCHANTS_OF_MEMBER, &bound.to_string(), SUBTREE_MAX).await?;
        Ok(runs.iter().any(|m| above.contains(m.as_str())))
    }

    /// The merchants whose members' clients reach `owner`: those above the merchants it runs, and
    /// the merchant it is registered for with those above it.
    async fn places_above(&self, owner: MemberId) -> Result<BTreeSet<String>, PartyError> {
        use sanhu_store::party::PartyStore;
        let mut work = self.reader();
        let mut above: BTreeSet<String> = BTreeSet::new();
        if let Some(member) = work.get::<StoredMember>(&owner.to_string()).await? {
            if let Some(scope) = &member.scope {
                if let Some(merchant) = work.get::<StoredMerchant>(&scope.merchant_id).await? {
                    above.extend(merchant.ancestors.iter().cloned());
                    above.insert(merchant.id);
                }
            }
        }
        let owned = self.store.party_index(MERCHANTS_OF_MEMBER, &owner.to_string(), SUBTREE_MAX).await?;
        if !owned.is_empty() {
            let merchants: Vec<StoredMerchant> = work.get_many(&owned).await?;
            above.extend(merchants.into_iter().flat_map(|m| m.ancestors));
        }
        Ok(above)
    }

    /// Whether a client bound to `bound` runs a merchant above `merchant` (its brand, say): who,
    /// besides the platform, sets a merchant's settings.
    pub async fn runs_above(&self, bound: MemberId, merchant: MerchantId) -> Result<bool, PartyError> {
        use sanhu_store::party::PartyStore;
        let merchant = load_merchant(&mut self.reader(), merchant).await?;
        let runs = self.store.party_index(MERCHANTS_OF_MEMBER, &bound.to_string(), SUBTREE_MAX).await?;
        Ok(runs.iter().any(|m| merchant.ancestors.contains(m)))
    }

    /// Whether a payer's wallet may be spent at what `receiver` (the member owning the receiving
    /// account) runs. A member of the platform spends anywhere; a member registered for a merchant
    /// spends at that merchant and the merchants below it, and, when its merchant's settings name a
    /// wallet group, at the merchants under the same top whose settings name the same group.
    pub async fn spends_at(&self, payer: &StoredMember, receiver: MemberId) -> Result<bool, PartyError> {
        let Some(scope) = &payer.scope else { return Ok(true) };
        let mut work = self.reader();
        let home = super::franchise::load_scope_merchant(&mut work, scope).await?;
        let runs = super::franchise::merchants_run_by(&mut work, receiver).await?;
        if runs.iter().any(|m| m.id == home.id || m.ancestors.contains(&home.id)) {
            return Ok(true);
        }
        let settings = self.settings_of(&mut work, &home).await?;
        let Some(group) = settings.wallet_group.value else { return Ok(false) };
        for merchant in &runs {
            let theirs = self.settings_of(&mut work, merchant).await?;
            if theirs.top == settings.top && theirs.wallet_group.value.as_deref() == Some(group.as_str()) {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The ids of the merchants a client bound to `bound` reaches, in id order: its member's and
    /// every merchant below them.
    pub async fn merchants_reached(&self, bound: MemberId) -> Result<Vec<String>, PartyError> {
        use sanhu_store::party::PartyStore;
        let runs = self.store.party_index(MERCHANTS_OF_MEMBER, &bound.to_string(), SUBTREE_MAX).await?;
        let mut reached: BTreeSet<String> = runs.iter().cloned().collect();
        for merchant in &runs {
            reached.extend(self.store.party_index(MERCHANT_DESCENDANTS, merchant, SUBTREE_MAX).await?);
        }
        Ok(reached.into_iter().collect())
    }

    /// Checks a merchant's place: its level (None: outside the hierarchy) mounting its type, under
    /// `parent` (which must exist and be active, of a level it may sit under), no deeper than the
    /// platform allows. Writes the parent again, so that a move of it meanwhile is met. Answers the
    /// merchant's ancestors, the top first.
    pub(crate) async fn place_merchant(
        &self,
        work: &mut Work,
        level: Option<&str>,
        merchant_type: &MerchantTypeCode,
        parent: Option<MerchantId>,
        as_sub_merchant: bool,
    ) -> Result<Vec<String>, MerchantFailure> {
        let levels = &self.config.merchant_levels;
        let Some(parent_id) = parent else {
            levels.place(level, merchant_type, None, as_sub_merchant, 0)?;
            return Ok(Vec::new());
        };
        let parent = work
            .get::<StoredMerchant>(&parent_id.to_string())
            .await?
            .ok_or_else(|| rejected(MerchantError::ParentUnknown))?;
        let place = Parent { level: parent.level.as_deref(), depth: parent.ancestors.len() + 1 };
        levels.place(level, merchant_type, Some(place), as_sub_merchant, 0)?;
        if parent.status() != MerchantStatus::Active {
            return Err(rejected(MerchantError::ParentNotActive));
        }
        work.put(&parent);
        let mut ancestors = parent.ancestors.clone();
        ancestors.push(parent.id.clone());
        Ok(ancestors)
    }

    /// Opens a sub-merchant (子商户) under a special merchant (特约商户), through the special
    /// merchant's client: its own customer and member are registered with it, active and with no
    /// login identity (nothing signs in as it, and no client is bound to it:
    /// `sub_merchant_client_refused`); it is operated only through its parent's client. Its level is
    /// a sub-merchant level under the parent's (the only one, unless named), and it has nothing under
    /// it: the member school's two levels.
    pub async fn open_sub_merchant(
        &self,
        application: &SubMerchantApplication,
        actor: &Actor,
    ) -> Result<StoredMerchant, MerchantFailure> {
        let merchant_type = self.config.merchant_types.find(&application.merchant.merchant_type)?;
        let kind = merchant_type.spec().member_kind;
        let id: MerchantId = application.merchant.id.unwrap_or_else(clock::new_id);
        let parent_text = application.parent_id.to_string();
        transact!(self, |work| {
            if let Some(opened) = work.get::<StoredMerchant>(&id.to_string()).await? {
                if opened.parent_id.as_deref() != Some(parent_text.as_str()) {
                    return Err(MerchantFailure::NotFound(MERCHANT_NOT_FOUND));
                }
                return Ok(opened);
            }
            let parent = load_merchant(work, application.parent_id).await?;
            let levels = &self.config.merchant_levels;
            if !levels.is_special(parent.level.as_deref()) {
                return Err(rejected(MerchantError::NotSpecial));
            }
            let level = match &application.merchant.level {
                Some(level) => level.clone(),
                None => {
                    let parent_level = parent.level.as_deref().unwrap_or_default();
                    let mut candidates = levels.sub_merchant_levels(parent_level);
                    match (candidates.next(), candidates.next()) {
                        (Some(only), None) => only.code.clone(),
                        _ => return Err(rejected(MerchantError::LevelRequired)),
                    }
                }
            };
            // Its own customer and member, active, with no login identity.
            let customer = Customer::register(clock::new_id(), kind, CustomerScope::External, work.now);
            let member = Member::register(clock::new_id(), &customer, kind, work.now).map_err(PartyError::from)?;
            let reason = Reason::parse("sub-merchant").expect("a short reason");
            let (member, _) =
                member.activate(customer.status(), work.change(actor, &reason)).map_err(PartyError::from)?;
            let name = application.merchant.business.as_ref().map(|(name, _)| name.clone());
            let customer = StoredCustomer { customer, name };
            let member = StoredMember { member, identities: Vec::new(), scope: None };
            let customer_id = customer.customer.id().to_string();
            let member_id = member.member.id().to_string();
            work.put(&member);
            work.index(super::work::MEMBERS_OF_CUSTOMER, &customer_id, &member_id);
            let detail = json!({ "kind": kind.as_str(), "scope": "external", "sub_merchant_of": parent.id });
            work.history(&customer_id, &customer_id, "customer.registered", actor, None, detail);
            let detail = json!({ "identity": null, "status": "normal", "sub_merchant_of": parent.id });
            work.history(&member_id, &customer_id, "member.registered", actor, None, detail);
            let types: Vec<_> = self.config.account_types.opened_on_activation().cloned().collect();
            for account_type in &types {
                open_account_in(work, &member.member, &customer, account_type, actor);
            }
            let opening = MerchantApplication {
                id: Some(id),
                member_id: member.member.id(),
                parent_id: Some(application.parent_id),
                level: Some(level),
                ..application.merchant.clone()
            };
            self.open_merchant_in(work, id, &opening, &member, &customer, true, actor).await
        })
    }

    /// Refuses a client bound to `member` when the member runs a sub-merchant: a sub-merchant has no
    /// client of its own (`sub_merchant_client_refused`).
    pub async fn check_client_binding(&self, member: MemberId) -> Result<(), PartyError> {
        let mut work = self.reader();
        let merchants: Vec<StoredMerchant> = work.indexed(MERCHANTS_OF_MEMBER, &member.to_string()).await?;
        let levels = &self.config.merchant_levels;
        let sub = merchants
            .iter()
            .any(|m| m.level.as_deref().and_then(|l| levels.find(l).ok()).is_some_and(|l| l.sub_merchant));
        if sub {
            return Err(PartyError::from(MerchantFailure::from(MerchantError::SubMerchantClientRefused)));
        }
        Ok(())
    }

    /// A merchant's children (`subtree`: every merchant below it) in id order after `after`, at
    /// most `limit`.
    pub async fn merchants_below(
        &self,
        id: MerchantId,
        subtree: bool,
        after: Option<MerchantId>,
        limit: u32,
    ) -> Result<Vec<StoredMerchant>, MerchantFailure> {
        use sanhu_store::party::PartyStore;
        let mut work = self.reader();
        load_merchant(&mut work, id).await?;
        let index = if subtree { MERCHANT_DESCENDANTS } else { MERCHANT_CHILDREN };
        let key = id.to_string();
        let ids = match after {
            Some(after) => self.store.party_index_after(index, &key, &after.to_string(), limit).await?,
            None => self.store.party_index(index, &key, limit).await?,
        };
        Ok(work.get_many(&ids).await?)
    }

    /// Moves a merchant, with everything below it, under `to` (None: to the top), with a reason:
    /// staff's or the platform's. The new parent must exist, be active, not be the merchant or below
    /// it (`merchant_move_into_own_subtree`), be of a level the merchant's may sit under, and leave
    /// the subtree no deeper than allowed. Kept in the merchant's history.
    pub async fn move_merchant(
        &self,
        id: MerchantId,
        to: Option<MerchantId>,
        reason: &Reason,
        actor: &Actor,
    ) -> Result<StoredMerchant, MerchantFailure> {
        // Moves on one instance are taken one at a time; across instances the versions decide.
        let _turn = self.turns.take(["merchant_hierarchy".to_owned()]).await;
        transact!(self, |work| {
            let mut merchant = load_merchant(work, id).await?;
            if to.is_some_and(|p| p == id) {
                return Err(rejected(MerchantError::MoveIntoOwnSubtree));
            }
            let below: Vec<StoredMerchant> = work.indexed(MERCHANT_DESCENDANTS, &merchant.id).await?;
            if let Some(parent) = to {
                if below.iter().any(|m| m.id == parent.to_string()) {
                    return Err(rejected(MerchantError::MoveIntoOwnSubtree));
                }
            }
            let levels = &self.config.merchant_levels;
            let sub_merchant =
                merchant.level.as_deref().and_then(|l| levels.find(l).ok()).is_some_and(|l| l.sub_merchant);
            let depth = merchant.ancestors.len();
            let height = below.iter().map(|m| m.ancestors.len() - depth).max().unwrap_or(0);
            let merchant_type = sanhu_core::party::merchant::MerchantTypeCode::parse(&merchant.merchant_type)?;
            let new_ancestors = match to {
                None => {
                    levels.place(merchant.level.as_deref(), &merchant_type, None, sub_merchant, height)?;
                    Vec::new()
                }
                Some(parent_id) => {
                    let parent = work
                        .get::<StoredMerchant>(&parent_id.to_string())
                        .await?
                        .ok_or_else(|| rejected(MerchantError::ParentUnknown))?;
                    let place = Parent { level: parent.level.as_deref(), depth: parent.ancestors.len() + 1 };
                    levels.place(merchant.level.as_deref(), &merchant_type, Some(place), sub_merchant, height)?;
                    if parent.status() != MerchantStatus::Active {
                        return Err(rejected(MerchantError::ParentNotActive));
                    }
                    work.put(&parent);
                    let mut ancestors = parent.ancestors.clone();
                    ancestors.push(parent.id.clone());
                    ancestors
                }
            };
            let from = merchant.parent_id.clone();
            let old_above: Vec<String> = merchant.ancestors.clone();
            let gone: Vec<&String> = old_above.iter().filter(|a| !new_ancestors.contains(a)).collect();
            let added: Vec<&String> = new_ancestors.iter().filter(|a| !old_above.contains(a)).collect();
            if let Some(old) = &from {
                work.unindex(MERCHANT_CHILDREN, old, &merchant.id);
            }
            if let Some(new) = to {
                work.index(MERCHANT_CHILDREN, &new.to_string(), &merchant.id);
            }
            // The merchant and its subtree: the path above the merchant replaced.
            for mut m in below.into_iter() {
                let tail: Vec<String> = m.ancestors[depth..].to_vec();
                m.ancestors = new_ancestors.iter().cloned().chain(tail).collect();
                m.updated_at = work.now;
                for a in &gone {
                    work.unindex(MERCHANT_DESCENDANTS, a, &m.id);
                }
                for a in &added {
                    work.index(MERCHANT_DESCENDANTS, a, &m.id);
                }
                work.put(&m);
            }
            for a in &gone {
                work.unindex(MERCHANT_DESCENDANTS, a, &merchant.id);
            }
            for a in &added {
                work.index(MERCHANT_DESCENDANTS, a, &merchant.id);
            }
            merchant.parent_id = to.map(|p| p.to_string());
            merchant.ancestors = new_ancestors;
            merchant.updated_at = work.now;
            work.put(&merchant);
            let detail = json!({ "from": from, "to": merchant.parent_id, "level": merchant.level });
            work.history(&merchant.id, &merchant.customer_id, "merchant.moved", actor, Some(reason), detail);
            Ok(merchant)
        })
    }
}
