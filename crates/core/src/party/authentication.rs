//! Real-name authentication (实名认证): a member asks for a fact about itself (its identity document,
//! its phone, its email, its bank card, its business licence) to be verified by a channel, and the
//! result is recorded: type, channel, status, time. The record keeps only the masked subject, for
//! display; the full numbers go to the channel and, for an identity, onto the customer.
//!
//! A verified identity document or business licence is what makes a customer who it is: it gives the
//! customer its certificate, possibly merging it with the customer that already held it, and gives the
//! member its real name. That is why only a verified authentication can produce a [`CertificateProof`].

use super::bank_card::MaskedCardNumber;
use super::certificate::{Certificate, CertificateType};
use super::customer::PartyKind;
use super::identity::{Email, PhoneNumber};
use super::real_name::RealName;
use crate::id::{AuthenticationId, MemberId};
use crate::Timestamp;

rejection_codes! {
    /// Why an authentication rule refused.
    pub enum AuthenticationError {
        AuthenticationTypeUnknown => "authentication_type_unknown", 422, "the authentication type is not one sanhu knows",
        ChannelInvalid => "authentication_channel_invalid", 422, "a channel is 2 to 32 lower-case letters, digits or '_'",
        /// An identity-document authentication needs a person's certificate, a licence one a unified
        /// social credit code.
        CertificateNotAccepted => "authentication_certificate_not_accepted", 422,
            "this certificate type cannot be verified by this authentication type",
        /// Only a pending authentication can be decided, and only once.
        AuthenticationNotPending => "authentication_not_pending", 409, "the authentication was already decided",
        /// The verified subject is not the one that was submitted.
        SubjectMismatch => "authentication_subject_mismatch", 422,
            "the verified subject is not the one the authentication was requested for",
        AuthenticationInconsistent => "authentication_inconsistent", 500,
            "the authentication's stored fields contradict each other",
    }
}

/// What an authentication verifies.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AuthenticationType {
    /// A person's identity document with their name (ID card, or a passport or permit for people
    /// without one).
    IdCard,
    Phone,
    Email,
    /// A bank card with its holder's name.
    BankCard,
    /// An enterprise's business licence: its unified social credit code and registered name.
    BusinessLicence,
}

impl AuthenticationType {
    pub const ALL: [AuthenticationType; 5] = [
        AuthenticationType::IdCard,
        AuthenticationType::Phone,
        AuthenticationType::Email,
        AuthenticationType::BankCard,
        AuthenticationType::BusinessLicence,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthenticationType::IdCard => "id_card",
            AuthenticationType::Phone => "phone",
            AuthenticationType::Email => "email",
            AuthenticationType::BankCard => "bank_card",
            AuthenticationType::BusinessLicence => "business_licence",
        }
    }

    pub fn parse(text: &str) -> Result<AuthenticationType, AuthenticationError> {
        Self::ALL.into_iter().find(|t| t.as_str() == text).ok_or(AuthenticationError::AuthenticationTypeUnknown)
    }
}

/// Pending until the channel answers; then verified or failed, for good.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum AuthenticationStatus {
    Pending,
    Verified,
    Failed,
}

impl AuthenticationStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AuthenticationStatus::Pending => "pending",
            AuthenticationStatus::Verified => "verified",
            AuthenticationStatus::Failed => "failed",
        }
    }

    pub fn parse(text: &str) -> Option<AuthenticationStatus> {
        [AuthenticationStatus::Pending, AuthenticationStatus::Verified, AuthenticationStatus::Failed]
            .into_iter()
            .find(|s| s.as_str() == text)
    }
}

/// The channel (认证渠道) that verified: a code for the provider and method the platform configured
/// (`police_id_check`, `unionpay_four_factor`, `sms`).
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct AuthenticationChannel(String);

impl AuthenticationChannel {
    pub fn parse(text: &str) -> Result<AuthenticationChannel, AuthenticationError> {
        let ok = (2..=32).contains(&text.len())
            && text.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        ok.then(|| AuthenticationChannel(text.to_owned())).ok_or(AuthenticationError::ChannelInvalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What is being verified, in full. Exists while the request is made and when the channel answers;
/// the record keeps only [`AuthenticationSubject::masked`].
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum AuthenticationSubject {
    IdCard { name: RealName, certificate: Certificate },
    Phone(PhoneNumber),
    Email(Email),
    BankCard { holder: RealName, card: MaskedCardNumber },
    BusinessLicence { company: RealName, code: Certificate },
}

impl AuthenticationSubject {
    /// A person's identity document and name. Any personal certificate will do: people without a
    /// resident ID card authenticate with their passport or permit.
    pub fn id_card(name: RealName, certificate: Certificate) -> Result<AuthenticationSubject, AuthenticationError> {
        if certificate.holder_kind() != PartyKind::Personal {
            return Err(AuthenticationError::CertificateNotAccepted);
        }
        Ok(AuthenticationSubject::IdCard { name, certificate })
    }

    /// An enterprise's registered name and unified social credit code.
    pub fn business_licence(
        company: RealName,
        code: Certificate,
    ) -> Result<AuthenticationSubject, AuthenticationError> {
        if code.certificate_type() != CertificateType::UnifiedSocialCreditCode {
            return Err(AuthenticationError::CertificateNotAccepted);
        }
        Ok(AuthenticationSubject::BusinessLicence { company, code })
    }

    pub fn authentication_type(&self) -> AuthenticationType {
        match self {
            AuthenticationSubject::IdCard { .. } => AuthenticationType::IdCard,
            AuthenticationSubject::Phone(_) => AuthenticationType::Phone,
            AuthenticationSubject::Email(_) => AuthenticationType::Email,
            AuthenticationSubject::BankCard { .. } => AuthenticationType::BankCard,
            AuthenticationSubject::BusinessLicence { .. } => AuthenticationType::BusinessLicence,
        }
    }

    /// The subject as recorded and displayed: numbers masked (certificates 3+4, a credit code too,
    /// phone 3+4, card 6+4, email first character and domain), names kept, since the member's own
    /// screens show its real name.
    pub fn masked(&self) -> String {
        match self {
            AuthenticationSubject::IdCard { name, certificate } => {
                format!("{} {} {}", name.as_str(), certificate.certificate_type().as_str(), certificate.masked())
            }
            AuthenticationSubject::Phone(phone) => phone.masked(),
            AuthenticationSubject::Email(email) => email.masked(),
            AuthenticationSubject::BankCard { holder, card } => format!("{} {}", holder.as_str(), card.as_str()),
            AuthenticationSubject::BusinessLicence { company, code } => {
                format!("{} {}", company.as_str(), code.masked())
            }
        }
    }
}

/// An authentication record.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Authentication {
    id: AuthenticationId,
    member: MemberId,
    authentication_type: AuthenticationType,
    channel: AuthenticationChannel,
    masked_subject: String,
    status: AuthenticationStatus,
    requested_at: Timestamp,
    decided_at: Option<Timestamp>,
}

/// A verified authentication's proof of a certificate and the name that goes with it: the only way
/// to give a customer a certificate, to merge it with the customer that held the certificate
/// already, or to give a member its real name.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CertificateProof {
    authentication: AuthenticationId,
    member: MemberId,
    certificate: Certificate,
    real_name: RealName,
}

impl CertificateProof {
    pub fn authentication(&self) -> AuthenticationId {
        self.authentication
    }

    /// The member whose authentication this was.
    pub fn member(&self) -> MemberId {
        self.member
    }

    pub fn certificate(&self) -> &Certificate {
        &self.certificate
    }

    /// The person's name, or the enterprise's registered name.
    pub fn real_name(&self) -> &RealName {
        &self.real_name
    }
}

impl Authentication {
    /// Records a request, pending until the channel answers.
    pub fn request(
        id: AuthenticationId,
        member: MemberId,
        subject: &AuthenticationSubject,
        channel: AuthenticationChannel,
        at: Timestamp,
    ) -> Authentication {
        Authentication {
            id,
            member,
            authentication_type: subject.authentication_type(),
            channel,
            masked_subject: subject.masked(),
            status: AuthenticationStatus::Pending,
            requested_at: at,
            decided_at: None,
        }
    }

    /// An authentication as stored: decided ones have a decision time, pending ones none.
    #[allow(clippy::too_many_arguments)]
    pub fn restore(
        id: AuthenticationId,
        member: MemberId,
        authentication_type: AuthenticationType,
        channel: AuthenticationChannel,
        masked_subject: String,
        status: AuthenticationStatus,
        requested_at: Timestamp,
        decided_at: Option<Timestamp>,
    ) -> Result<Authentication, AuthenticationError> {
        if (status == AuthenticationStatus::Pending) != decided_at.is_none() {
            return Err(AuthenticationError::AuthenticationInconsistent);
        }
        Ok(Authentication {
            id,
            member,
            authentication_type,
            channel,
            masked_subject,
            status,
            requested_at,
            decided_at,
        })
    }

    pub fn id(&self) -> AuthenticationId {
        self.id
    }

    pub fn member(&self) -> MemberId {
        self.member
    }

    pub fn authentication_type(&self) -> AuthenticationType {
        self.authentication_type
    }

    pub fn channel(&self) -> &AuthenticationChannel {
        &self.channel
    }

    pub fn masked_subject(&self) -> &str {
        &self.masked_subject
    }

    pub fn status(&self) -> AuthenticationStatus {
        self.status
    }

    pub fn requested_at(&self) -> Timestamp {
        self.requested_at
    }

    pub fn decided_at(&self) -> Option<Timestamp> {
        self.decided_at
    }

    /// The channel verified `subject`, which must be the one requested (the same masked form). For an
    /// identity document or a business licence, the answer carries the proof that sets the customer's
    /// certificate and the member's real name; other types prove nothing about the customer.
    pub fn verify(
        self,
        subject: &AuthenticationSubject,
        at: Timestamp,
    ) -> Result<(Authentication, Option<CertificateProof>), AuthenticationError> {
        self.check_pending()?;
        if subject.authentication_type() != self.authentication_type || subject.masked() != self.masked_subject {
            return Err(AuthenticationError::SubjectMismatch);
        }
        let proof = match subject {
            AuthenticationSubject::IdCard { name, certificate } => Some((certificate, name)),
            AuthenticationSubject::BusinessLicence { company, code } => Some((code, company)),
            _ => None,
        }
        .map(|(certificate, real_name)| CertificateProof {
            authentication: self.id,
            member: self.member,
            certificate: certificate.clone(),
            real_name: real_name.clone(),
        });
        let verified = Authentication { status: AuthenticationStatus::Verified, decided_at: Some(at), ..self };
        Ok((verified, proof))
    }

    /// The channel could not verify the subject. Final: a new attempt is a new authentication.
    pub fn fail(self, at: Timestamp) -> Result<Authentication, AuthenticationError> {
        self.check_pending()?;
        Ok(Authentication { status: AuthenticationStatus::Failed, decided_at: Some(at), ..self })
    }

    fn check_pending(&self) -> Result<(), AuthenticationError> {
        if self.status != AuthenticationStatus::Pending {
            return Err(AuthenticationError::AuthenticationNotPending);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::party::tests::{at, id_card, mem, person, uscc};

    fn aut(n: u128) -> AuthenticationId {
        AuthenticationId::from_u128(n).unwrap()
    }

    fn channel() -> AuthenticationChannel {
        AuthenticationChannel::parse("police_id_check").unwrap()
    }

    fn id_subject() -> AuthenticationSubject {
        AuthenticationSubject::id_card(person("张三"), id_card()).unwrap()
    }

    fn licence_subject() -> AuthenticationSubject {
        let company = RealName::organisation("某某（北京）科技有限公司").unwrap();
        AuthenticationSubject::business_licence(company, uscc()).unwrap()
    }

    #[test]
    fn a_request_is_pending_and_keeps_only_the_masked_subject() {
        let a = Authentication::request(aut(1), mem(1), &id_subject(), channel(), at(0));
        assert_eq!(a.status(), AuthenticationStatus::Pending);
        assert_eq!(a.authentication_type(), AuthenticationType::IdCard);
        assert_eq!(a.masked_subject(), "张三 id_card 110***********1233");
        assert_eq!(a.decided_at(), None);
    }

    #[test]
    fn subjects_are_masked_for_display() {
        let phone = AuthenticationSubject::Phone(PhoneNumber::parse("13812345678").unwrap());
        assert_eq!(phone.masked(), "138****5678");
        let email = AuthenticationSubject::Email(Email::parse("zhang@example.com").unwrap());
        assert_eq!(email.masked(), "z***@example.com");
        let card = MaskedCardNumber::parse("622202*********0018").unwrap();
        let card = AuthenticationSubject::BankCard { holder: person("张三"), card };
        assert_eq!(card.masked(), "张三 622202*********0018");
        assert_eq!(licence_subject().masked(), "某某(北京)科技有限公司 911***********CD0B");
    }

    #[test]
    fn a_verified_id_card_proves_the_certificate_and_the_real_name() {
        let a = Authentication::request(aut(1), mem(1), &id_subject(), channel(), at(0));
        let (a, proof) = a.verify(&id_subject(), at(5)).unwrap();
        assert_eq!((a.status(), a.decided_at()), (AuthenticationStatus::Verified, Some(at(5))));
        let proof = proof.expect("an ID card proves a certificate");
        assert_eq!((proof.authentication(), proof.member()), (aut(1), mem(1)));
        assert_eq!(proof.certificate(), &id_card());
        assert_eq!(proof.real_name(), &person("张三"));
    }

    #[test]
    fn a_verified_business_licence_proves_the_code_and_the_registered_name() {
        let a = Authentication::request(aut(1), mem(1), &licence_subject(), channel(), at(0));
        let (_, proof) = a.verify(&licence_subject(), at(5)).unwrap();
        let proof = proof.unwrap();
        assert_eq!(proof.certificate(), &uscc());
        assert_eq!(proof.real_name().as_str(), "某某(北京)科技有限公司");
    }

    #[test]
    fn a_verified_phone_proves_nothing_about_the_customer() {
        let phone = AuthenticationSubject::Phone(PhoneNumber::parse("13812345678").unwrap());
        let a = Authentication::request(aut(1), mem(1), &phone, channel(), at(0));
        let (a, proof) = a.verify(&phone, at(1)).unwrap();
        assert_eq!(a.status(), AuthenticationStatus::Verified);
        assert_eq!(proof, None);
    }

    #[test]
    fn verifying_a_subject_other_than_the_requested_one_is_refused() {
        let a = Authentication::request(aut(1), mem(1), &id_subject(), channel(), at(0));
        let other = AuthenticationSubject::id_card(person("李四"), id_card()).unwrap();
        assert_eq!(a.clone().verify(&other, at(1)), Err(AuthenticationError::SubjectMismatch));
        assert_eq!(a.verify(&licence_subject(), at(1)), Err(AuthenticationError::SubjectMismatch));
    }

    #[test]
    fn a_decided_authentication_cannot_be_decided_again() {
        let a = Authentication::request(aut(1), mem(1), &id_subject(), channel(), at(0));
        let failed = a.clone().fail(at(1)).unwrap();
        assert_eq!(failed.status(), AuthenticationStatus::Failed);
        assert_eq!(failed.clone().verify(&id_subject(), at(2)), Err(AuthenticationError::AuthenticationNotPending));
        let (verified, _) = a.verify(&id_subject(), at(1)).unwrap();
        assert_eq!(verified.fail(at(2)), Err(AuthenticationError::AuthenticationNotPending));
    }

    #[test]
    fn an_id_card_authentication_refuses_an_enterprise_code_and_a_licence_a_personal_one() {
        assert_eq!(
            AuthenticationSubject::id_card(person("张三"), uscc()),
            Err(AuthenticationError::CertificateNotAccepted)
        );
        let company = RealName::organisation("某某科技有限公司").unwrap();
        assert_eq!(
            AuthenticationSubject::business_licence(company, id_card()),
            Err(AuthenticationError::CertificateNotAccepted)
        );
    }

    #[test]
    fn a_stored_decided_authentication_without_a_decision_time_is_inconsistent() {
        let restored = Authentication::restore(
            aut(1),
            mem(1),
            AuthenticationType::Phone,
            channel(),
            "138****5678".into(),
            AuthenticationStatus::Verified,
            at(0),
            None,
        );
        assert_eq!(restored, Err(AuthenticationError::AuthenticationInconsistent));
    }

    #[test]
    fn types_statuses_and_channels_parse_from_their_codes() {
        for t in AuthenticationType::ALL {
            assert_eq!(AuthenticationType::parse(t.as_str()), Ok(t));
        }
        assert_eq!(AuthenticationStatus::parse("verified"), Some(AuthenticationStatus::Verified));
        assert_eq!(AuthenticationChannel::parse("Police"), Err(AuthenticationError::ChannelInvalid));
    }
}
