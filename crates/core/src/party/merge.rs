//! Merging customers (客户归并): two customers found to be one identity become one. The members and
//! accounts of the absorbed customer move to the survivor; the absorbed customer is kept, merged, with
//! a pointer to the survivor, and the merge is recorded: who, when, why, what moved.
//!
//! A merge hands one customer's money to another's control, so it needs proof (归并是有风险的, 需要
//! 鉴权): a verified authentication showing that a member of the absorbed customer holds the survivor's
//! certificate, or an administrator's explicit decision with a reason.

use super::authentication::CertificateProof;
use super::change::{Actor, Reason};
use super::customer::{Customer, CustomerStatus};
use super::member::Member;
use crate::id::{AccountId, AuthenticationId, CustomerId, MemberId};
use crate::Timestamp;

rejection_codes! {
    /// Why a merge was refused.
    pub enum MergeError {
        MergeSameCustomer => "merge_same_customer", 422, "a customer cannot be merged into itself",
        /// Neither side of a merge may already be merged: follow the pointer to the survivor.
        CustomerMerged => "customer_merged", 409, "one of the customers was already merged",
        CustomerKindMismatch => "customer_kind_mismatch", 409,
            "a personal and an enterprise customer cannot be one identity",
        /// The authentication proved a certificate the survivor does not hold.
        CertificateMismatch => "merge_certificate_mismatch", 409, "the verified certificate is not the surviving customer's",
        /// The authentication was not made by a member of the customer being absorbed.
        AuthenticationOtherCustomer => "merge_authentication_other_customer", 409,
            "the verified authentication is not by a member of the customer being merged",
        /// Both hold certificates, and they differ: two identities, not one.
        CertificateConflict => "certificate_conflict", 409, "both customers hold certificates, and they differ",
        MergeRequiresAdministrator => "merge_requires_administrator", 403,
            "only platform staff or the platform's back end may merge without a verified authentication",
        /// The absorbed customer's status restricts more than the survivor's: moving its accounts would
        /// lift a ban or a freeze.
        MergeWouldLiftRestriction => "merge_would_lift_restriction", 409,
            "the merge would lift a restriction of the customer being merged",
        MemberNotOfCustomer => "merge_member_not_of_customer", 409,
            "a member to move does not belong to the customer being merged",
    }
}

/// Why two customers may merge.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum MergeGround {
    /// A member of the absorbed customer verified the survivor's certificate.
    Authentication(CertificateProof),
    /// An administrator decided, and said why.
    Administrator(Reason),
}

/// The ground as recorded.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum MergeBasis {
    Authentication(AuthenticationId),
    Administrator(Reason),
}

/// The audit record of a merge.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MergeRecord {
    pub survivor: CustomerId,
    pub absorbed: CustomerId,
    pub basis: MergeBasis,
    pub actor: Actor,
    pub at: Timestamp,
    pub members_moved: Vec<MemberId>,
    pub accounts_moved: Vec<AccountId>,
    /// The absorbed customer's certificate, when the survivor had none and took it.
    pub certificate_moved: bool,
}

/// A merge decided: the customers and members as they become, and its record.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Merge {
    pub survivor: Customer,
    pub absorbed: Customer,
    pub members: Vec<Member>,
    pub record: MergeRecord,
}

/// Decides whether `absorbed` may merge into `survivor`, and what that does. `members` are all the
/// absorbed customer's members and `accounts` all their accounts: everything moves, or the customer
/// would be split.
///
/// The rules: never a customer into itself, never with a merged customer on either side; both of one
/// kind; proof (a verified authentication, by a member of the absorbed customer, of the survivor's
/// certificate) or an administrator's decision with a reason; never two different certificates; and
/// never so that a restriction is lifted: the survivor's status must take away at least what the
/// absorbed customer's did, or a frozen customer's money would thaw by merging into a normal one.
pub fn plan_merge(
    survivor: Customer,
    absorbed: Customer,
    members: Vec<Member>,
    accounts: Vec<AccountId>,
    ground: MergeGround,
    actor: Actor,
    at: Timestamp,
) -> Result<Merge, MergeError> {
    if survivor.id() == absorbed.id() {
        return Err(MergeError::MergeSameCustomer);
    }
    if matches!(survivor.status(), CustomerStatus::Merged(_)) || matches!(absorbed.status(), CustomerStatus::Merged(_))
    {
        return Err(MergeError::CustomerMerged);
    }
    if survivor.kind() != absorbed.kind() {
        return Err(MergeError::CustomerKindMismatch);
    }
    if members.iter().any(|m| m.customer() != absorbed.id()) {
        return Err(MergeError::MemberNotOfCustomer);
    }
    let basis = match ground {
        MergeGround::Authentication(proof) => {
            if survivor.certificate() != Some(proof.certificate()) {
                return Err(MergeError::CertificateMismatch);
            }
            if !members.iter().any(|m| m.id() == proof.member()) {
                return Err(MergeError::AuthenticationOtherCustomer);
            }
            MergeBasis::Authentication(proof.authentication())
        }
        MergeGround::Administrator(reason) => {
            if !actor.is_administrator() {
                return Err(MergeError::MergeRequiresAdministrator);
            }
            MergeBasis::Administrator(reason)
        }
    };
    let certificate_moved = match (survivor.certificate(), absorbed.certificate()) {
        (Some(a), Some(b)) if a != b => return Err(MergeError::CertificateConflict),
        (None, Some(_)) => true,
        _ => false,
    };
    if !survivor.status().takes_away().covers(absorbed.status().takes_away()) {
        return Err(MergeError::MergeWouldLiftRestriction);
    }

    let record = MergeRecord {
        survivor: survivor.id(),
        absorbed: absorbed.id(),
        basis,
        actor,
        at,
        members_moved: members.iter().map(Member::id).collect(),
        accounts_moved: accounts,
        certificate_moved,
    };
    let survivor_id = survivor.id();
    let moved_certificate = if certificate_moved { absorbed.certificate().cloned() } else { None };
    Ok(Merge {
        survivor: survivor.surviving_with(moved_certificate),
        absorbed: absorbed.absorbed_into(survivor_id),
        members: members.into_iter().map(|m| m.moved_to_customer(survivor_id)).collect(),
        record,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::{AuthenticationId, ClientId};
    use crate::party::authentication::{Authentication, AuthenticationChannel, AuthenticationSubject};
    use crate::party::certificate::Certificate;
    use crate::party::customer::{CustomerScope, PartyKind};
    use crate::party::member::{LockStatus, MemberStatus};
    use crate::party::tests::{acc, at, cus, id_card, mem, other_id_card, person, staff, uscc};

    fn customer(n: u128, certificate: Option<Certificate>, status: CustomerStatus) -> Customer {
        let kind = certificate.as_ref().map_or(PartyKind::Personal, |c| c.holder_kind());
        Customer::restore(cus(n), kind, CustomerScope::External, certificate, status, at(0)).unwrap()
    }

    fn holder() -> Customer {
        customer(1, Some(id_card()), CustomerStatus::Normal)
    }

    fn newcomer() -> Customer {
        customer(2, None, CustomerStatus::Normal)
    }

    fn member_of(customer: u128, n: u128) -> Member {
        Member::restore(
            mem(n),
            cus(customer),
            PartyKind::Personal,
            MemberStatus::Normal,
            LockStatus::Unlocked,
            None,
            at(0),
            at(0),
        )
    }

    /// A verified ID-card authentication of `id_card()` by member `member`.
    fn proof(member: u128) -> CertificateProof {
        let subject = AuthenticationSubject::id_card(person("张三"), id_card()).unwrap();
        let channel = AuthenticationChannel::parse("police_id_check").unwrap();
        let a = Authentication::request(AuthenticationId::from_u128(7).unwrap(), mem(member), &subject, channel, at(0));
        a.verify(&subject, at(1)).unwrap().1.unwrap()
    }

    fn by_proof(survivor: Customer, absorbed: Customer) -> Result<Merge, MergeError> {
        let members = vec![member_of(absorbed.id().as_u128(), 20)];
        plan_merge(
            survivor,
            absorbed,
            members,
            vec![acc(30)],
            MergeGround::Authentication(proof(20)),
            Actor::System,
            at(5),
        )
    }

    fn by_admin(survivor: Customer, absorbed: Customer, actor: Actor) -> Result<Merge, MergeError> {
        let members = vec![member_of(absorbed.id().as_u128(), 20)];
        let reason = Reason::parse("same person, two phone numbers").unwrap();
        plan_merge(survivor, absorbed, members, vec![acc(30)], MergeGround::Administrator(reason), actor, at(5))
    }

    #[test]
    fn a_verified_authentication_of_anothers_certificate_merges_the_customers() {
        let merge = by_proof(holder(), newcomer()).unwrap();
        assert_eq!(merge.absorbed.status(), CustomerStatus::Merged(cus(1)));
        assert_eq!(merge.survivor.status(), CustomerStatus::Normal);
        assert_eq!(merge.survivor.certificate(), Some(&id_card()));
        assert!(merge.members.iter().all(|m| m.customer() == cus(1)), "the members move to the survivor");
    }

    #[test]
    fn a_merge_is_recorded_with_who_when_why_and_what_moved() {
        let record = by_proof(holder(), newcomer()).unwrap().record;
        assert_eq!((record.survivor, record.absorbed), (cus(1), cus(2)));
        assert_eq!(record.basis, MergeBasis::Authentication(AuthenticationId::from_u128(7).unwrap()));
        assert_eq!((record.actor, record.at), (Actor::System, at(5)));
        assert_eq!(record.members_moved, [mem(20)]);
        assert_eq!(record.accounts_moved, [acc(30)]);
        assert!(!record.certificate_moved);
    }

    #[test]
    fn a_customer_is_never_merged_into_itself() {
        assert_eq!(by_admin(holder(), holder(), staff()), Err(MergeError::MergeSameCustomer));
    }

    #[test]
    fn nothing_merges_into_or_out_of_a_merged_customer() {
        let merged = customer(1, None, CustomerStatus::Merged(cus(9)));
        assert_eq!(by_admin(merged.clone(), newcomer(), staff()), Err(MergeError::CustomerMerged));
        assert_eq!(
            by_admin(holder(), customer(3, None, CustomerStatus::Merged(cus(9))), staff()),
            Err(MergeError::CustomerMerged)
        );
    }

    #[test]
    fn an_authentication_of_a_certificate_the_survivor_does_not_hold_is_no_ground() {
        let survivor = customer(1, Some(other_id_card()), CustomerStatus::Normal);
        assert_eq!(by_proof(survivor, newcomer()), Err(MergeError::CertificateMismatch));
    }

    #[test]
    fn an_authentication_by_a_member_of_another_customer_is_no_ground() {
        let members = vec![member_of(2, 21)];
        let merged = plan_merge(
            holder(),
            newcomer(),
            members,
            vec![],
            MergeGround::Authentication(proof(20)),
            Actor::System,
            at(5),
        );
        assert_eq!(merged, Err(MergeError::AuthenticationOtherCustomer));
    }

    #[test]
    fn an_administrator_may_merge_with_a_reason() {
        let merge = by_admin(holder(), newcomer(), staff()).unwrap();
        assert!(matches!(merge.record.basis, MergeBasis::Administrator(_)));
        let client = Actor::Client(ClientId::from_u128(1).unwrap());
        assert!(by_admin(holder(), newcomer(), client).is_ok());
    }

    #[test]
    fn a_member_or_a_job_cannot_merge_without_proof() {
        assert_eq!(by_admin(holder(), newcomer(), Actor::Member(mem(20))), Err(MergeError::MergeRequiresAdministrator));
        assert_eq!(by_admin(holder(), newcomer(), Actor::System), Err(MergeError::MergeRequiresAdministrator));
    }

    #[test]
    fn customers_with_two_different_certificates_are_not_merged() {
        let other = customer(2, Some(other_id_card()), CustomerStatus::Normal);
        assert_eq!(by_admin(holder(), other, staff()), Err(MergeError::CertificateConflict));
    }

    #[test]
    fn a_survivor_without_a_certificate_takes_the_absorbed_customers() {
        let merge = by_admin(newcomer(), holder(), staff()).unwrap();
        assert_eq!(merge.survivor.certificate(), Some(&id_card()));
        assert_eq!(merge.absorbed.certificate(), None, "a certificate belongs to one customer");
        assert!(merge.record.certificate_moved);
    }

    #[test]
    fn a_person_and_an_enterprise_are_never_merged() {
        let enterprise = customer(2, Some(uscc()), CustomerStatus::Normal);
        assert_eq!(by_admin(holder(), enterprise, staff()), Err(MergeError::CustomerKindMismatch));
    }

    #[test]
    fn a_frozen_customer_cannot_merge_into_a_normal_one_and_thaw_its_money() {
        let frozen = customer(2, None, CustomerStatus::Frozen);
        assert_eq!(by_proof(holder(), frozen), Err(MergeError::MergeWouldLiftRestriction));
        let banned = customer(2, None, CustomerStatus::Banned);
        assert_eq!(by_proof(holder(), banned), Err(MergeError::MergeWouldLiftRestriction));
    }

    #[test]
    fn a_customer_may_merge_into_one_restricted_at_least_as_much() {
        let frozen_holder = customer(1, Some(id_card()), CustomerStatus::Frozen);
        let stop_payment = customer(2, None, CustomerStatus::StopPayment);
        assert!(by_proof(frozen_holder.clone(), stop_payment).is_ok());
        assert!(by_proof(frozen_holder, newcomer()).is_ok(), "its accounts become frozen with the survivor's");
    }

    #[test]
    fn a_member_of_a_third_customer_cannot_be_moved() {
        let members = vec![member_of(2, 20), member_of(3, 21)];
        let reason = Reason::parse("same person").unwrap();
        let merged =
            plan_merge(holder(), newcomer(), members, vec![], MergeGround::Administrator(reason), staff(), at(5));
        assert_eq!(merged, Err(MergeError::MemberNotOfCustomer));
    }
}
