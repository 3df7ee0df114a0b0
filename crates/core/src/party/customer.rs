//! Customers (客户): who someone really is, a person or an organisation, behind every member and
//! account. Back-office only: end users never see a customer. Identified by a certificate, which on an
//! internet platform arrives later than the customer does: a customer starts with none (known only by
//! its first member's phone) and gains one from a verified real-name authentication.
//!
//! A customer is never closed, so that its history stays whole; its status controls every member and
//! account under it at once (统一风险管理), which is why a ban or a judicial freeze is set here.

use super::authentication::CertificateProof;
use super::certificate::Certificate;
use super::change::{Change, StatusChange};
use crate::id::CustomerId;
use crate::Timestamp;

rejection_codes! {
    /// Why a customer rule refused.
    pub enum CustomerError {
        /// The customer was merged into another: act on the survivor instead.
        CustomerMerged => "customer_merged", 409, "the customer was merged into another customer",
        /// Merged is reached only by a merge, with its proof and record.
        CustomerMergeRequired => "customer_merge_required", 422, "a customer becomes merged only through a merge",
        CustomerStatusUnchanged => "customer_status_unchanged", 409, "the customer already has this status",
        /// A frozen customer's accounts neither pay nor receive.
        CustomerFrozen => "customer_frozen", 403, "the customer is frozen: no money leaves or enters its accounts",
        /// A stop-payment customer's accounts receive but do not pay.
        CustomerStopPayment => "customer_stop_payment", 403, "the customer is stopped from paying: no money leaves its accounts",
        /// A person's certificate on an enterprise customer, or the reverse.
        CertificateKindMismatch => "certificate_kind_mismatch", 409,
            "the certificate is not of the customer's kind (personal or enterprise)",
        /// The customer already holds a different certificate; one identity has one certificate.
        CertificateConflict => "certificate_conflict", 409, "the customer already holds a different certificate",
        /// A stored customer whose parts contradict each other.
        CustomerInconsistent => "customer_inconsistent", 500, "the customer's stored fields contradict each other",
    }
}

/// Whether a customer, or a member, is a person or an organisation.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum PartyKind {
    Personal,
    Enterprise,
}

impl PartyKind {
    pub const ALL: [PartyKind; 2] = [PartyKind::Personal, PartyKind::Enterprise];

    pub fn as_str(self) -> &'static str {
        match self {
            PartyKind::Personal => "personal",
            PartyKind::Enterprise => "enterprise",
        }
    }

    pub fn parse(text: &str) -> Option<PartyKind> {
        PartyKind::ALL.into_iter().find(|k| k.as_str() == text)
    }
}

/// Internal customers are the group's own companies and people; external ones are everyone else.
/// Platforms serve them differently (lighter risk rules, products not offered outside), which the
/// layers above decide; here it is recorded.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CustomerScope {
    Internal,
    External,
}

impl CustomerScope {
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerScope::Internal => "internal",
            CustomerScope::External => "external",
        }
    }

    pub fn parse(text: &str) -> Option<CustomerScope> {
        [CustomerScope::Internal, CustomerScope::External].into_iter().find(|s| s.as_str() == text)
    }
}

/// A customer's status. There is no closed status: a customer is kept for its history.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CustomerStatus {
    Normal,
    /// Banned (禁入): its members cannot act; its money is untouched.
    Banned,
    /// Frozen (冻结), typically a judicial freeze: no money leaves or enters any of its accounts.
    Frozen,
    /// Stop-payment (止付): no money leaves any of its accounts; money may still come in.
    StopPayment,
    /// Merged (归并) into the survivor named: final. Its members and accounts moved to the survivor.
    Merged(CustomerId),
}

/// What a customer's status takes away from everything under it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct CustomerRestriction {
    /// Its members may take no action.
    pub members_barred: bool,
    /// Its accounts may not be debited.
    pub debits_blocked: bool,
    /// Its accounts may not be credited.
    pub credits_blocked: bool,
}

impl CustomerRestriction {
    /// Whether this restriction takes away at least everything `other` does.
    pub fn covers(self, other: CustomerRestriction) -> bool {
        (self.members_barred || !other.members_barred)
            && (self.debits_blocked || !other.debits_blocked)
            && (self.credits_blocked || !other.credits_blocked)
    }
}

impl CustomerStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CustomerStatus::Normal => "normal",
            CustomerStatus::Banned => "banned",
            CustomerStatus::Frozen => "frozen",
            CustomerStatus::StopPayment => "stop_payment",
            CustomerStatus::Merged(_) => "merged",
        }
    }

    /// Parses a stored status; `merged_into` is the survivor, required with "merged" and only then.
    pub fn parse(text: &str, merged_into: Option<CustomerId>) -> Option<CustomerStatus> {
        match (text, merged_into) {
            ("normal", None) => Some(CustomerStatus::Normal),
            ("banned", None) => Some(CustomerStatus::Banned),
            ("frozen", None) => Some(CustomerStatus::Frozen),
            ("stop_payment", None) => Some(CustomerStatus::StopPayment),
            ("merged", Some(survivor)) => Some(CustomerStatus::Merged(survivor)),
            _ => None,
        }
    }

    pub fn merged_into(self) -> Option<CustomerId> {
        match self {
            CustomerStatus::Merged(survivor) => Some(survivor),
            _ => None,
        }
    }

    /// Refuses money leaving the customer's accounts when its status blocks it, with the status's own
    /// code (the ledger's flags would refuse it too, as `debits_blocked`, or as a shortfall).
    pub fn check_pays(self) -> Result<(), CustomerError> {
        match self {
            CustomerStatus::Frozen => Err(CustomerError::CustomerFrozen),
            CustomerStatus::StopPayment => Err(CustomerError::CustomerStopPayment),
            _ => Ok(()),
        }
    }

    /// Refuses money arriving in the customer's accounts when its status blocks it.
    pub fn check_receives(self) -> Result<(), CustomerError> {
        match self {
            CustomerStatus::Frozen => Err(CustomerError::CustomerFrozen),
            _ => Ok(()),
        }
    }

    /// The cascade: what this status takes away from the customer's members and accounts. Nothing
    /// else is changed by it, so returning to normal gives back exactly this and no more; an account's
    /// own status is kept apart (see `account::effective_blocks`).
    pub fn takes_away(self) -> CustomerRestriction {
        match self {
            CustomerStatus::Normal => CustomerRestriction::default(),
            CustomerStatus::Banned => CustomerRestriction { members_barred: true, ..Default::default() },
            CustomerStatus::Frozen => {
                CustomerRestriction { members_barred: false, debits_blocked: true, credits_blocked: true }
            }
            CustomerStatus::StopPayment => CustomerRestriction { debits_blocked: true, ..Default::default() },
            // A merged customer has no members or accounts left; should a reference to it remain, it is
            // followed to the survivor, whose status then applies.
            CustomerStatus::Merged(_) => CustomerRestriction::default(),
        }
    }
}

/// A customer. Built by registration or restored from storage; changed only by the rules below.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Customer {
    id: CustomerId,
    kind: PartyKind,
    scope: CustomerScope,
    certificate: Option<Certificate>,
    status: CustomerStatus,
    created_at: Timestamp,
}

/// What a verified certificate means for the customer whose member proved it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum CertificateOutcome {
    /// No one holds it: it becomes this customer's.
    Assign,
    /// The customer already holds it: nothing changes.
    AlreadyHeld,
    /// Another customer holds it: they are the same identity, and this customer merges into that one
    /// (see `merge::plan_merge`).
    MergeInto(CustomerId),
}

impl Customer {
    /// A new customer, created with its first member: normal, with no certificate yet.
    pub fn register(id: CustomerId, kind: PartyKind, scope: CustomerScope, at: Timestamp) -> Customer {
        Customer { id, kind, scope, certificate: None, status: CustomerStatus::Normal, created_at: at }
    }

    /// A customer as stored. Refuses parts that no sequence of rules could have produced.
    pub fn restore(
        id: CustomerId,
        kind: PartyKind,
        scope: CustomerScope,
        certificate: Option<Certificate>,
        status: CustomerStatus,
        created_at: Timestamp,
    ) -> Result<Customer, CustomerError> {
        let kind_ok = certificate.as_ref().is_none_or(|c| c.holder_kind() == kind);
        let not_merged_into_itself = status.merged_into() != Some(id);
        if !kind_ok || !not_merged_into_itself {
            return Err(CustomerError::CustomerInconsistent);
        }
        Ok(Customer { id, kind, scope, certificate, status, created_at })
    }

    pub fn id(&self) -> CustomerId {
        self.id
    }

    pub fn kind(&self) -> PartyKind {
        self.kind
    }

    pub fn scope(&self) -> CustomerScope {
        self.scope
    }

    pub fn certificate(&self) -> Option<&Certificate> {
        self.certificate.as_ref()
    }

    pub fn status(&self) -> CustomerStatus {
        self.status
    }

    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }

    /// Sets normal, banned, frozen or stop-payment. Any of these may follow any other (a judicial
    /// freeze may be eased to stop-payment, a ban may end in a freeze): the effect is always exactly
    /// the new status's, because an account's own status is kept apart. Merged is final.
    pub fn change_status(
        self,
        to: CustomerStatus,
        change: Change,
    ) -> Result<(Customer, StatusChange<CustomerStatus>), CustomerError> {
        if self.status.merged_into().is_some() {
            return Err(CustomerError::CustomerMerged);
        }
        if to.merged_into().is_some() {
            return Err(CustomerError::CustomerMergeRequired);
        }
        if to == self.status {
            return Err(CustomerError::CustomerStatusUnchanged);
        }
        let record = StatusChange::new(self.status, to, change);
        Ok((Customer { status: to, ..self }, record))
    }

    /// What a certificate proved by one of this customer's members means for it, given the customer
    /// that already holds that certificate, if any (certificates are unique, so at most one does).
    pub fn certificate_outcome(
        &self,
        certificate: &Certificate,
        holder: Option<CustomerId>,
    ) -> Result<CertificateOutcome, CustomerError> {
        if self.status.merged_into().is_some() {
            return Err(CustomerError::CustomerMerged);
        }
        if certificate.holder_kind() != self.kind {
            return Err(CustomerError::CertificateKindMismatch);
        }
        match (&self.certificate, holder) {
            (Some(own), _) if own == certificate => Ok(CertificateOutcome::AlreadyHeld),
            // One identity, one certificate: a second one needs a person to look at it.
            (Some(_), _) => Err(CustomerError::CertificateConflict),
            (None, Some(other)) if other == self.id => Ok(CertificateOutcome::AlreadyHeld),
            (None, Some(other)) => Ok(CertificateOutcome::MergeInto(other)),
            (None, None) => Ok(CertificateOutcome::Assign),
        }
    }

    /// Gives the customer the certificate a verified authentication proved. Only a proof can do this:
    /// a certificate typed into a form is a claim, not an identity. The caller has found that no other
    /// customer holds it (`certificate_outcome` is `Assign`).
    pub fn assign_certificate(self, proof: &CertificateProof) -> Result<Customer, CustomerError> {
        match self.certificate_outcome(proof.certificate(), None)? {
            CertificateOutcome::AlreadyHeld => Ok(self),
            _ => Ok(Customer { certificate: Some(proof.certificate().clone()), ..self }),
        }
    }

    /// The customer after a merge: absorbed into `survivor`, holding no certificate (it had none, or
    /// the survivor took it, since a certificate names one customer). Only `merge::plan_merge` calls
    /// this, after checking the merge is allowed.
    pub(crate) fn absorbed_into(self, survivor: CustomerId) -> Customer {
        Customer { status: CustomerStatus::Merged(survivor), certificate: None, ..self }
    }

    /// The survivor of a merge, holding `certificate` if it had none. Only `merge::plan_merge`
    /// calls this.
    pub(crate) fn surviving_with(self, certificate: Option<Certificate>) -> Customer {
        Customer { certificate: self.certificate.or(certificate), ..self }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::AuthenticationId;
    use crate::party::authentication::{Authentication, AuthenticationChannel, AuthenticationSubject};
    use crate::party::change::{Actor, Reason};
    use crate::party::tests::{at, change, cus, id_card, mem, other_id_card, person, uscc};

    fn personal() -> Customer {
        Customer::register(cus(1), PartyKind::Personal, CustomerScope::External, at(0))
    }

    fn with_status(status: CustomerStatus) -> Customer {
        Customer::restore(cus(1), PartyKind::Personal, CustomerScope::External, None, status, at(0)).unwrap()
    }

    fn with_certificate(certificate: Certificate) -> Customer {
        let kind = certificate.holder_kind();
        Customer::restore(cus(1), kind, CustomerScope::Internal, Some(certificate), CustomerStatus::Normal, at(0))
            .unwrap()
    }

    fn proof() -> CertificateProof {
        let subject = AuthenticationSubject::id_card(person("张三"), id_card()).unwrap();
        let channel = AuthenticationChannel::parse("police_id_check").unwrap();
        let a = Authentication::request(AuthenticationId::from_u128(1).unwrap(), mem(1), &subject, channel, at(0));
        a.verify(&subject, at(1)).unwrap().1.unwrap()
    }

    #[test]
    fn a_new_customer_is_normal_and_known_by_no_certificate_yet() {
        let c = personal();
        assert_eq!((c.status(), c.certificate(), c.kind()), (CustomerStatus::Normal, None, PartyKind::Personal));
    }

    #[test]
    fn a_frozen_customer_takes_debits_and_credits_from_its_accounts() {
        let r = CustomerStatus::Frozen.takes_away();
        assert_eq!((r.members_barred, r.debits_blocked, r.credits_blocked), (false, true, true));
    }

    #[test]
    fn a_stop_payment_customer_takes_only_debits() {
        let r = CustomerStatus::StopPayment.takes_away();
        assert_eq!((r.members_barred, r.debits_blocked, r.credits_blocked), (false, true, false));
    }

    #[test]
    fn a_banned_customer_bars_its_members_and_leaves_its_money_alone() {
        let r = CustomerStatus::Banned.takes_away();
        assert_eq!((r.members_barred, r.debits_blocked, r.credits_blocked), (true, false, false));
    }

    #[test]
    fn a_normal_customer_takes_nothing_away() {
        assert_eq!(CustomerStatus::Normal.takes_away(), CustomerRestriction::default());
    }

    #[test]
    fn a_frozen_restriction_covers_stop_payment_but_not_a_ban() {
        let frozen = CustomerStatus::Frozen.takes_away();
        assert!(frozen.covers(CustomerStatus::StopPayment.takes_away()));
        assert!(!frozen.covers(CustomerStatus::Banned.takes_away()));
        assert!(!CustomerStatus::StopPayment.takes_away().covers(frozen));
    }

    #[test]
    fn a_status_change_is_recorded_with_its_actor_and_reason() {
        let (c, record) = personal().change_status(CustomerStatus::Frozen, change(7)).unwrap();
        assert_eq!(c.status(), CustomerStatus::Frozen);
        assert_eq!((record.from(), record.to()), (CustomerStatus::Normal, CustomerStatus::Frozen));
        assert_eq!(record.change().at, at(7));
        assert!(matches!(record.change().actor, Actor::Staff(_)));
        assert_eq!(record.change().reason, Reason::parse("test").unwrap());
    }

    #[test]
    fn any_status_but_merged_may_follow_any_other() {
        let all = [CustomerStatus::Normal, CustomerStatus::Banned, CustomerStatus::Frozen, CustomerStatus::StopPayment];
        for from in all {
            for to in all.into_iter().filter(|to| *to != from) {
                assert!(with_status(from).change_status(to, change(1)).is_ok(), "{from:?} -> {to:?}");
            }
        }
    }

    #[test]
    fn setting_the_status_a_customer_has_is_refused() {
        let refused = personal().change_status(CustomerStatus::Normal, change(1));
        assert_eq!(refused, Err(CustomerError::CustomerStatusUnchanged));
    }

    #[test]
    fn merged_is_reached_only_by_a_merge_and_is_final() {
        let refused = personal().change_status(CustomerStatus::Merged(cus(2)), change(1));
        assert_eq!(refused, Err(CustomerError::CustomerMergeRequired));
        let merged = with_status(CustomerStatus::Merged(cus(2)));
        assert_eq!(merged.change_status(CustomerStatus::Normal, change(1)), Err(CustomerError::CustomerMerged));
    }

    #[test]
    fn statuses_round_trip_through_their_codes() {
        for s in [CustomerStatus::Normal, CustomerStatus::Banned, CustomerStatus::Frozen, CustomerStatus::StopPayment] {
            assert_eq!(CustomerStatus::parse(s.as_str(), None), Some(s));
        }
        let merged = CustomerStatus::Merged(cus(2));
        assert_eq!(CustomerStatus::parse("merged", Some(cus(2))), Some(merged));
        assert_eq!(CustomerStatus::parse("merged", None), None, "a merged customer names its survivor");
        assert_eq!(CustomerStatus::parse("normal", Some(cus(2))), None);
        assert_eq!(CustomerStatus::parse("closed", None), None, "customers are never closed");
    }

    #[test]
    fn kinds_and_scopes_round_trip_through_their_codes() {
        assert_eq!(PartyKind::parse("enterprise"), Some(PartyKind::Enterprise));
        assert_eq!(CustomerScope::parse("internal"), Some(CustomerScope::Internal));
        assert_eq!(CustomerScope::parse("partner"), None);
    }

    #[test]
    fn a_certificate_no_one_holds_is_assigned() {
        assert_eq!(personal().certificate_outcome(&id_card(), None), Ok(CertificateOutcome::Assign));
        let c = personal().assign_certificate(&proof()).unwrap();
        assert_eq!(c.certificate(), Some(&id_card()));
    }

    #[test]
    fn a_certificate_another_customer_holds_means_merging_into_that_customer() {
        assert_eq!(personal().certificate_outcome(&id_card(), Some(cus(9))), Ok(CertificateOutcome::MergeInto(cus(9))));
    }

    #[test]
    fn the_customers_own_certificate_changes_nothing() {
        let c = with_certificate(id_card());
        assert_eq!(c.certificate_outcome(&id_card(), Some(cus(1))), Ok(CertificateOutcome::AlreadyHeld));
        assert_eq!(c.clone().assign_certificate(&proof()), Ok(c));
    }

    #[test]
    fn a_second_different_certificate_is_a_conflict() {
        let c = with_certificate(other_id_card());
        assert_eq!(c.certificate_outcome(&id_card(), None), Err(CustomerError::CertificateConflict));
        assert_eq!(c.assign_certificate(&proof()), Err(CustomerError::CertificateConflict));
    }

    #[test]
    fn a_certificate_of_the_other_kind_is_refused() {
        assert_eq!(personal().certificate_outcome(&uscc(), None), Err(CustomerError::CertificateKindMismatch));
    }

    #[test]
    fn a_stored_customer_with_a_certificate_of_the_other_kind_is_inconsistent() {
        let restored = Customer::restore(
            cus(1),
            PartyKind::Personal,
            CustomerScope::External,
            Some(uscc()),
            CustomerStatus::Normal,
            at(0),
        );
        assert_eq!(restored, Err(CustomerError::CustomerInconsistent));
        let into_itself = Customer::restore(
            cus(1),
            PartyKind::Personal,
            CustomerScope::External,
            None,
            CustomerStatus::Merged(cus(1)),
            at(0),
        );
        assert_eq!(into_itself, Err(CustomerError::CustomerInconsistent));
    }
}
