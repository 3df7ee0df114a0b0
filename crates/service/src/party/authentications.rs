//! Real-name authentication (实名认证): the record of each verification, and what a verified ID card or
//! business licence does: the member takes the real name, the customer takes the certificate, and if
//! another customer already holds that certificate the two merge (归并).
//!
//! sanhu does not call verification channels itself: the platform verifies (a police ID check, a bank
//! card four-factor check) and reports the outcome. The full subject (the certificate number) is needed
//! when a verification is decided and is never stored; the record keeps it masked.

use sanhu_core::id::{AuthenticationId, CustomerId, MemberId};
use sanhu_core::party::authentication::AuthenticationChannel;
use sanhu_core::party::{
    Actor, Authentication, AuthenticationSubject, CertificateOutcome, CertificateProof, MemberAction, MergeGround,
};
use serde_json::json;

use super::customers::{certificate_key, load_customer, merge, name_key, StoredCustomer};
use super::documents::{StoredAuthentication, StoredMember};
use super::error::{PartyError, AUTHENTICATION_NOT_FOUND};
use super::members::load_member;
use super::merchants::MERCHANT_BUSINESS_KEY;
use super::work::{Work, AUTHENTICATIONS_OF_MEMBER, CERTIFICATE_KEY, CUSTOMERS_BY_NAME};
use super::Parties;
use crate::clock;
use sanhu_core::party::merchant::MerchantError;

/// What the platform reports of a verification.
#[derive(Clone, Debug)]
pub enum AuthenticationResult {
    /// Not decided yet; decided later with [`Parties::decide_authentication`].
    Pending,
    /// The channel confirmed the subject.
    Verified,
    /// The channel refused the subject.
    Failed,
}

/// An authentication and what it caused.
#[derive(Clone, Debug)]
pub struct AuthenticationOutcome {
    pub authentication: Authentication,
    /// The customer the member belongs to afterwards (the survivor, after a merge).
    pub customer_id: CustomerId,
    /// The customer gained the certificate.
    pub certificate_assigned: bool,
    /// The member's former customer merged into this one.
    pub merged_into: Option<CustomerId>,
}

impl Parties {
    /// Records an authentication of `subject` for a member, through `channel`, with the result the
    /// platform has (or pending, to be decided later).
    pub async fn authenticate(
        &self,
        member_id: MemberId,
        subject: &AuthenticationSubject,
        channel: &AuthenticationChannel,
        result: AuthenticationResult,
        actor: &Actor,
    ) -> Result<AuthenticationOutcome, PartyError> {
        transact!(self, |work| {
            let stored = load_member(work, member_id).await?;
            let customer = load_customer(work, stored.member.customer()).await?;
            stored.member.check_action(MemberAction::ManageSecurity, customer.customer.status())?;
            let id: AuthenticationId = clock::new_id();
            let requested = Authentication::request(id, member_id, subject, channel.clone(), work.now);
            let member_key = member_id.to_string();
            work.index(AUTHENTICATIONS_OF_MEMBER, &member_key, &id.to_string());
            work.history(
                &id.to_string(),
                &customer.customer.id().to_string(),
                "authentication.requested",
                actor,
                None,
                json!({ "member": member_key, "type": requested.authentication_type().as_str(),
                        "channel": channel.as_str(), "subject": requested.masked_subject() }),
            );
            decide(work, requested, customer.customer.id(), Some(subject), result.clone(), actor).await
        })
    }

    /// Decides a pending authentication: verified (with the subject it was requested for, which
    /// sanhu did not keep in full) or failed.
    pub async fn decide_authentication(
        &self,
        authentication_id: AuthenticationId,
        subject: Option<&AuthenticationSubject>,
        result: AuthenticationResult,
        actor: &Actor,
    ) -> Result<AuthenticationOutcome, PartyError> {
        transact!(self, |work| {
            let stored = load_authentication(work, authentication_id).await?;
            let member = load_member(work, stored.authentication.member()).await?;
            decide(work, stored.authentication, member.member.customer(), subject, result.clone(), actor).await
        })
    }

    pub async fn get_authentication(&self, id: AuthenticationId) -> Result<Authentication, PartyError> {
        Ok(load_authentication(&mut self.reader(), id).await?.authentication)
    }

    /// A member's authentications, oldest first.
    pub async fn member_authentications(&self, member_id: MemberId) -> Result<Vec<Authentication>, PartyError> {
        let mut work = self.reader();
        load_member(&mut work, member_id).await?;
        let stored: Vec<StoredAuthentication> = work.indexed(AUTHENTICATIONS_OF_MEMBER, &member_id.to_string()).await?;
        Ok(stored.into_iter().map(|s| s.authentication).collect())
    }
}

async fn load_authentication(work: &mut Work, id: AuthenticationId) -> Result<StoredAuthentication, PartyError> {
    work.get::<StoredAuthentication>(&id.to_string()).await?.ok_or(PartyError::NotFound(AUTHENTICATION_NOT_FOUND))
}

/// Applies a result to a pending authentication, and a verified certificate's consequences.
async fn decide(
    work: &mut Work,
    authentication: Authentication,
    customer_id: CustomerId,
    subject: Option<&AuthenticationSubject>,
    result: AuthenticationResult,
    actor: &Actor,
) -> Result<AuthenticationOutcome, PartyError> {
    let id = authentication.id().to_string();
    let customer_key = customer_id.to_string();
    let mut outcome = AuthenticationOutcome {
        authentication: authentication.clone(),
        customer_id,
        certificate_assigned: false,
        merged_into: None,
    };
    let (decided, proof) = match result {
        AuthenticationResult::Pending => {
            work.put(&StoredAuthentication { authentication, customer_id });
            return Ok(outcome);
        }
        AuthenticationResult::Failed => (authentication.fail(work.now)?, None),
        AuthenticationResult::Verified => {
            let subject = subject.ok_or(PartyError::Rejected(super::error::AUTHENTICATION_SUBJECT_REQUIRED))?;
            authentication.verify(subject, work.now)?
        }
    };
    work.put(&StoredAuthentication { authentication: decided.clone(), customer_id });
    work.history(
        &id,
        &customer_key,
        if proof.is_some() || decided.status() == sanhu_core::party::AuthenticationStatus::Verified {
            "authentication.verified"
        } else {
            "authentication.failed"
        },
        actor,
        None,
        json!({ "member": decided.member().to_string(), "status": decided.status().as_str() }),
    );
    outcome.authentication = decided;
    if let Some(proof) = proof {
        apply_certificate(work, &proof, &mut outcome).await?;
    }
    Ok(outcome)
}

/// What a verified certificate does: assign it, or merge with its holder; the member takes the name.
async fn apply_certificate(
    work: &mut Work,
    proof: &CertificateProof,
    outcome: &mut AuthenticationOutcome,
) -> Result<(), PartyError> {
    let member = load_member(work, proof.member()).await?;
    let customer = load_customer(work, member.member.customer()).await?;
    let key = certificate_key(work.secret(), proof.certificate());
    let holder_key = work.key_owner(CERTIFICATE_KEY, &key).await?;
    let holder = holder_key.as_deref().and_then(sanhu_core::id::CustomerId::parse);
    let customer_key = customer.customer.id().to_string();
    // A credit code is one customer across enterprises and merchants: one an approved merchant's
    // customer holds as its business is not another enterprise's (unless that customer holds it as
    // its certificate too: this one is then found to be that customer, and merges into it), and an
    // enterprise that proves its code holds it as a business too (one key that both claim, so two at
    // once cannot both have it).
    let credit_code =
        proof.certificate().certificate_type() == sanhu_core::party::CertificateType::UnifiedSocialCreditCode;
    if credit_code {
        let business = work.key_owner(MERCHANT_BUSINESS_KEY, &key).await?;
        if business.is_some_and(|owner| owner != customer_key && Some(&owner) != holder_key.as_ref()) {
            return Err(PartyError::from(MerchantError::BusinessOfAnotherCustomer));
        }
    }
    match customer.customer.certificate_outcome(proof.certificate(), holder)? {
        CertificateOutcome::Assign => {
            let assigned = customer.customer.clone().assign_certificate(proof)?;
            let name = customer.name.clone().or_else(|| Some(proof.real_name().clone()));
            if customer.name.is_none() {
                work.index(CUSTOMERS_BY_NAME, &name_key(proof.real_name().as_str()), &customer_key);
            }
            work.put(&StoredCustomer { customer: assigned, name });
            work.claim(CERTIFICATE_KEY, &key, &customer_key);
            if credit_code {
                work.claim(MERCHANT_BUSINESS_KEY, &key, &customer_key);
            }
            work.put(&StoredMember { member: member.member.clone().take_real_name(proof)?, ..member });
            work.history(
                &customer_key,
                &customer_key,
                "customer.certificate_assigned",
                &Actor::System,
                None,
                json!({ "certificate_type": proof.certificate().certificate_type().as_str(),
                        "certificate": proof.certificate().masked(),
                        "authentication": proof.authentication().to_string() }),
            );
            outcome.certificate_assigned = true;
        }
        CertificateOutcome::AlreadyHeld => {
            work.put(&StoredMember { member: member.member.clone().take_real_name(proof)?, ..member });
        }
        CertificateOutcome::MergeInto(survivor) => {
            merge(work, survivor, customer.customer.id(), MergeGround::Authentication(proof.clone()), &Actor::System)
                .await?;
            outcome.merged_into = Some(survivor);
            outcome.customer_id = survivor;
        }
    }
    Ok(())
}
