//! Operators (操作员): the people who act for an enterprise member. Adding them, their roles, their
//! grants per account and operation, their limits, disabling, enabling and removing them, signing in
//! with their own identity, and the check the wallet asks before an operator moves money.
//!
//! Who may manage an enterprise's operators: an active admin operator of the same enterprise
//! (`Actor::Operator`), or the platform (`Actor::Client`, `Actor::Staff`, `Actor::System`). The
//! enterprise member itself (`Actor::Member`) acts through its operators, so it is refused
//! (`operator_not_admin`).
//!
//! Every management change writes the enterprise member's record again, so that two concurrent changes
//! to the same team are decided one after the other: two admins removing each other cannot both count
//! the other as the admin who remains (`last_admin`), and an admin demoted meanwhile cannot still act.
//!
//! What an operator moved today (for its limit per day) is kept in its own record: `authorise_operator`
//! counts the amount it allows in the same write, so two authorisations at once are decided in turn
//! and cannot both fit under the limit. A payment that then does not happen gives its amount back with
//! `release_operator_authorisation`. Authorisations are not changes to the operator and are not written
//! to the history (the ledger's transfers are their record).

use sanhu_core::id::{AccountId, MemberId, OperatorId};
use sanhu_core::party::operator::{Operations, OperatorError, OperatorLimits, OperatorStatus};
use sanhu_core::party::{
    Actor, Change, LoginIdentity, MemberAction, Operation, Operator, OperatorRequest, OperatorRole, Reason,
    StatusChange,
};
use sanhu_core::{Amount, Currency};
use sanhu_store::LedgerStore;
use serde_json::json;

use super::accounts::load_account;
use super::customers::load_customer;
use super::documents::{DailySpend, StoredMember, StoredOperator};
use super::error::{PartyError, MEMBER_ACCOUNT_NOT_FOUND, OPERATOR_NOT_FOUND};
use super::members::load_member;
use super::work::{Work, IDENTITY_KEY, OPERATORS_OF_MEMBER};
use super::Parties;
use crate::clock;

/// An operator's request that was allowed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OperatorAuthorisation {
    pub operator_id: OperatorId,
    pub account_id: AccountId,
    pub request: OperatorRequest,
    /// The account's currency, in which the amount counts.
    pub currency: Currency,
    /// The platform day the amount counts towards.
    pub day: i64,
    /// What the operator has moved that day in this currency, this request included.
    pub spent_today: i64,
}

/// A change to an operator decided by a rule: the operator after it, the history action and detail.
type Decided = (Operator, &'static str, serde_json::Value);

impl Parties {
    /// Adds an operator with `role` and no grants to an enterprise member, signing in with `identity`
    /// if given (unique in the platform, like a member's).
    pub async fn add_operator(
        &self,
        member_id: MemberId,
        role: OperatorRole,
        identity: Option<&LoginIdentity>,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<StoredOperator, PartyError> {
        transact!(self, |work| {
            let member = load_member(work, member_id).await?;
            let customer = load_customer(work, member.member.customer()).await?;
            member.member.check_action(MemberAction::ManageSecurity, customer.customer.status())?;
            let team: Vec<StoredOperator> = work.indexed(OPERATORS_OF_MEMBER, &member_id.to_string()).await?;
            let operator = Operator::create(clock::new_id(), &member.member, role, work.now)?;
            check_manager(work, actor, &operator, &team).await?;
            let operator_key = operator.id().to_string();
            if let Some(identity) = identity {
                let key = identity.uniqueness_key();
                if work.key_owner(IDENTITY_KEY, &key).await?.is_some() {
                    return Err(sanhu_core::party::identity::IdentityError::IdentityTaken.into());
                }
                work.claim(IDENTITY_KEY, &key, &operator_key);
            }
            let stored = StoredOperator {
                operator,
                customer_id: member.member.customer(),
                identities: identity.into_iter().cloned().collect(),
                spent: DailySpend::default(),
            };
            work.put(&stored);
            work.put(&member);
            work.index(OPERATORS_OF_MEMBER, &member_id.to_string(), &operator_key);
            work.history(
                &operator_key,
                &member.member.customer().to_string(),
                "operator.added",
                actor,
                Some(reason),
                json!({ "member": member_id.to_string(), "role": role.as_str(),
                        "identity": identity.map(LoginIdentity::kind) }),
            );
            Ok(stored)
        })
    }

    pub async fn get_operator(&self, operator_id: OperatorId) -> Result<StoredOperator, PartyError> {
        load_operator(&mut self.reader(), operator_id).await
    }

    /// An enterprise member's operators, removed ones included (kept for the record), oldest first.
    pub async fn member_operators(&self, member_id: MemberId) -> Result<Vec<StoredOperator>, PartyError> {
        let mut work = self.reader();
        load_member(&mut work, member_id).await?;
        Ok(work.indexed(OPERATORS_OF_MEMBER, &member_id.to_string()).await?)
    }

    /// The operator that signs in with `identity` (`operator_not_found` if none does: a member's
    /// identity is not an operator's).
    pub async fn operator_by_identity(&self, identity: &LoginIdentity) -> Result<StoredOperator, PartyError> {
        let mut work = self.reader();
        let owner = work.key_owner(IDENTITY_KEY, &identity.uniqueness_key()).await?;
        let operator_id =
            owner.as_deref().and_then(OperatorId::parse).ok_or(PartyError::NotFound(OPERATOR_NOT_FOUND))?;
        load_operator(&mut work, operator_id).await
    }

    /// Gives an operator another role. The last active admin cannot be demoted, and a role that would
    /// not allow what the operator is granted is refused (revoke those grants first).
    pub async fn change_operator_role(
        &self,
        operator_id: OperatorId,
        role: OperatorRole,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<StoredOperator, PartyError> {
        self.manage(operator_id, actor, reason, |target, team, _| {
            let from = target.role();
            let changed = target.change_role(role, team)?;
            Ok((changed, "operator.role_changed", json!({ "from": from.as_str(), "to": role.as_str() })))
        })
        .await
    }

    /// Authorises an operator for `operations` on one of its enterprise's accounts, replacing what it
    /// had there (nothing revokes).
    pub async fn grant_operator(
        &self,
        operator_id: OperatorId,
        account_id: AccountId,
        operations: Operations,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<StoredOperator, PartyError> {
        transact!(self, |work| {
            let account = load_account(work, account_id).await?;
            let (target, member, _) = load_managed(work, operator_id, actor).await?;
            let granted = target.operator.clone().grant(account_id, account.member_id, operations)?;
            let operations: Vec<&str> = operations.iter().map(Operation::as_str).collect();
            let detail = json!({ "account": account_id.to_string(), "operations": operations });
            Ok(write_managed(work, target, granted, &member, "operator.granted", detail, actor, reason))
        })
    }

    /// Takes away everything an operator may do on an account.
    pub async fn revoke_operator(
        &self,
        operator_id: OperatorId,
        account_id: AccountId,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<StoredOperator, PartyError> {
        self.manage(operator_id, actor, reason, |target, _, _| {
            let revoked = target.revoke(account_id);
            Ok((revoked, "operator.revoked", json!({ "account": account_id.to_string() })))
        })
        .await
    }

    /// Sets (or with `None` clears) an operator's limits per transaction and per day.
    pub async fn set_operator_limits(
        &self,
        operator_id: OperatorId,
        limits: Option<OperatorLimits>,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<StoredOperator, PartyError> {
        self.manage(operator_id, actor, reason, |target, _, _| {
            let detail = json!({ "from": limits_json(target.limits()), "to": limits_json(limits) });
            Ok((target.limit(limits), "operator.limits_set", detail))
        })
        .await
    }

    /// Disables an operator (kept, with its grants, but allowed nothing), unless it is the last active
    /// admin.
    pub async fn disable_operator(
        &self,
        operator_id: OperatorId,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<StoredOperator, PartyError> {
        self.manage(operator_id, actor, reason, |target, team, change| {
            let (disabled, record) = target.disable(team, change)?;
            Ok((disabled, "operator.disabled", status_detail(&record)))
        })
        .await
    }

    pub async fn enable_operator(
        &self,
        operator_id: OperatorId,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<StoredOperator, PartyError> {
        self.manage(operator_id, actor, reason, |target, _, change| {
            let (enabled, record) = target.enable(change)?;
            Ok((enabled, "operator.enabled", status_detail(&record)))
        })
        .await
    }

    /// Removes an operator for good, unless it is the last active admin; its login identities are
    /// released for reuse. The record is kept for the audit trail.
    pub async fn remove_operator(
        &self,
        operator_id: OperatorId,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<StoredOperator, PartyError> {
        transact!(self, |work| {
            let (target, member, team) = load_managed(work, operator_id, actor).await?;
            let team: Vec<Operator> = team.into_iter().map(|o| o.operator).collect();
            let (removed, record) = target.operator.clone().remove(&team, work.change(actor, reason))?;
            let operator_key = operator_id.to_string();
            for identity in &target.identities {
                work.release(IDENTITY_KEY, &identity.uniqueness_key(), &operator_key);
            }
            let released: Vec<&str> = target.identities.iter().map(LoginIdentity::kind).collect();
            let mut detail = status_detail(&record);
            detail["identities_released"] = json!(released);
            let target = StoredOperator { identities: Vec::new(), ..target };
            Ok(write_managed(work, target, removed, &member, "operator.removed", detail, actor, reason))
        })
    }

    /// Whether an operator may do `request` on `account`: its enterprise member may act (customer not
    /// banned, member not locked, cancelled or inactive), and the operator is active, granted this
    /// operation on this account by a role that allows it, and within its limits per transaction and
    /// per day. An allowed amount counts towards the operator's day at once (see the module's note).
    pub async fn authorise_operator(
        &self,
        operator_id: OperatorId,
        account_id: AccountId,
        request: OperatorRequest,
    ) -> Result<OperatorAuthorisation, PartyError> {
        transact!(self, |work| {
            let stored = load_operator(work, operator_id).await?;
            let member = load_member(work, stored.operator.member()).await?;
            let customer = load_customer(work, member.member.customer()).await?;
            member.member.check_action(member_action(request.operation()), customer.customer.status())?;
            load_account(work, account_id).await?;
            let ledger =
                work.store().get_account(account_id).await?.ok_or(PartyError::NotFound(MEMBER_ACCOUNT_NOT_FOUND))?;
            let currency = ledger.currency;
            let day = self.platform_day(work.now);
            let spent_before = stored.spent.on(day, currency);
            stored.operator.authorise(account_id, currency, request, spent_before)?;
            let spent_today = match request_amount(request) {
                None => spent_before,
                Some(amount) => {
                    let spent = stored.spent.add(day, currency, amount.get());
                    let spent_today = spent.on(day, currency);
                    work.put(&StoredOperator { spent, ..stored });
                    spent_today
                }
            };
            Ok(OperatorAuthorisation { operator_id, account_id, request, currency, day, spent_today })
        })
    }

    /// Gives back the amount of an authorisation whose payment did not happen, so it no longer counts
    /// towards the operator's day (nothing to give back once that day is over).
    pub async fn release_operator_authorisation(
        &self,
        authorisation: &OperatorAuthorisation,
    ) -> Result<StoredOperator, PartyError> {
        transact!(self, |work| {
            let stored = load_operator(work, authorisation.operator_id).await?;
            let Some(amount) = request_amount(authorisation.request) else { return Ok(stored) };
            if stored.spent.day != authorisation.day {
                return Ok(stored);
            }
            let spent = stored.spent.add(authorisation.day, authorisation.currency, -amount.get());
            let stored = StoredOperator { spent, ..stored };
            work.put(&stored);
            Ok(stored)
        })
    }

    /// A management change decided by `decide` on the operator and its team (the enterprise's
    /// operators), checked against who acts, and written with its history.
    async fn manage(
        &self,
        operator_id: OperatorId,
        actor: &Actor,
        reason: &Reason,
        decide: impl Fn(Operator, &[Operator], Change) -> Result<Decided, PartyError> + Send + Sync,
    ) -> Result<StoredOperator, PartyError> {
        transact!(self, |work| {
            let (target, member, team) = load_managed(work, operator_id, actor).await?;
            let team: Vec<Operator> = team.into_iter().map(|o| o.operator).collect();
            let (changed, action, detail) = decide(target.operator.clone(), &team, work.change(actor, reason))?;
            Ok(write_managed(work, target, changed, &member, action, detail, actor, reason))
        })
    }
}

pub(crate) async fn load_operator(work: &mut Work, id: OperatorId) -> Result<StoredOperator, PartyError> {
    work.get::<StoredOperator>(&id.to_string()).await?.ok_or(PartyError::NotFound(OPERATOR_NOT_FOUND))
}

/// The operator to change, its enterprise member and its team, once `actor` is found to manage it.
async fn load_managed(
    work: &mut Work,
    operator_id: OperatorId,
    actor: &Actor,
) -> Result<(StoredOperator, StoredMember, Vec<StoredOperator>), PartyError> {
    let target = load_operator(work, operator_id).await?;
    let member = load_member(work, target.operator.member()).await?;
    let team: Vec<StoredOperator> = work.indexed(OPERATORS_OF_MEMBER, &member.member.id().to_string()).await?;
    check_manager(work, actor, &target.operator, &team).await?;
    if matches!(actor, Actor::Operator(_)) {
        let customer = load_customer(work, member.member.customer()).await?;
        member.member.check_action(MemberAction::ManageSecurity, customer.customer.status())?;
    }
    Ok((target, member, team))
}

/// Whether `actor` may manage `target`: an active admin of the same enterprise, or the platform.
async fn check_manager(
    work: &mut Work,
    actor: &Actor,
    target: &Operator,
    team: &[StoredOperator],
) -> Result<(), PartyError> {
    match actor {
        Actor::Operator(acting_id) => {
            let acting = match team.iter().find(|o| o.operator.id() == *acting_id) {
                Some(acting) => acting.operator.clone(),
                None => load_operator(work, *acting_id).await?.operator,
            };
            Ok(acting.check_manages(target)?)
        }
        Actor::Member(_) => Err(OperatorError::OperatorNotAdmin.into()),
        Actor::Client(_) | Actor::Staff(_) | Actor::System => Ok(()),
    }
}

/// Writes a changed operator, the member again (see the module's note) and the history.
#[allow(clippy::too_many_arguments)]
fn write_managed(
    work: &mut Work,
    before: StoredOperator,
    changed: Operator,
    member: &StoredMember,
    action: &str,
    detail: serde_json::Value,
    actor: &Actor,
    reason: &Reason,
) -> StoredOperator {
    let customer_id = member.member.customer();
    let stored = StoredOperator { operator: changed, customer_id, ..before };
    work.put(&stored);
    work.put(member);
    work.history(&stored.operator.id().to_string(), &customer_id.to_string(), action, actor, Some(reason), detail);
    stored
}

fn status_detail(record: &StatusChange<OperatorStatus>) -> serde_json::Value {
    json!({ "from": record.from().as_str(), "to": record.to().as_str() })
}

fn limits_json(limits: Option<OperatorLimits>) -> serde_json::Value {
    match limits {
        None => serde_json::Value::Null,
        Some(l) => json!({
            "currency": l.currency().code(),
            "per_transaction": l.per_transaction().map(Amount::get),
            "per_day": l.per_day().map(Amount::get),
        }),
    }
}

fn request_amount(request: OperatorRequest) -> Option<Amount> {
    match request {
        OperatorRequest::View => None,
        OperatorRequest::Pay(a) | OperatorRequest::Transfer(a) | OperatorRequest::Withdraw(a) => Some(a),
    }
}

/// What the enterprise member must be able to do for its operator to do `operation`.
fn member_action(operation: Operation) -> MemberAction {
    match operation {
        Operation::View => MemberAction::View,
        Operation::Pay => MemberAction::Pay,
        Operation::Transfer => MemberAction::Transfer,
        Operation::Withdraw => MemberAction::Withdraw,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_days_spend_starts_afresh_each_day_and_never_goes_below_zero() {
        let cny = Currency::parse("CNY").unwrap();
        let usd = Currency::parse("USD").unwrap();
        let spent = DailySpend::default().add(10, cny, 500).add(10, usd, 7);
        assert_eq!((spent.on(10, cny), spent.on(10, usd), spent.on(11, cny)), (500, 7, 0));
        let next_day = spent.add(11, cny, 100);
        assert_eq!((next_day.on(11, cny), next_day.on(11, usd)), (100, 0));
        assert_eq!(next_day.add(11, cny, -1_000).on(11, cny), 0);
    }
}
