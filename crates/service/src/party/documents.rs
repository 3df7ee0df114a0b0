//! How each aggregate is kept as a JSON document in `party_records`, and read back through core's
//! `restore` constructors, so that a stored record that no rule could have produced is an error, not
//! a value.
//!
//! Certificate numbers (a customer's certificate, the credit code and the legal person's certificate
//! in company details) are kept sealed under the data key (`data_key.rs`), never in the clear.
//! Databases written before sealing kept them in the clear: such a document is still read, and the
//! sealing pass (`sealing.rs`) writes it again sealed at the next start.

use anyhow::{anyhow, Context};
use sanhu_core::id::OperatorId;
use sanhu_core::id::{AccountId, CustomerId, MemberId};
use sanhu_core::party::bank_card::CardToken;
use sanhu_core::party::enterprise::{Address, CompanyDetails, CompanyDetailsParts, IndustryCode, LicenceExpiry};
use sanhu_core::party::one_time_code::{CodeDigest, CodePurpose, CodeTarget};
use sanhu_core::party::operator::{
    AccountGrant, Operation, Operations, Operator, OperatorLimits, OperatorRole, OperatorStatus,
};
use sanhu_core::party::{
    Authentication, AuthenticationStatus, AuthenticationType, Certificate, CertificateType, Customer, CustomerScope,
    CustomerStatus, Email, LockStatus, LoginIdentity, Member, MemberAccountStatus, MemberStatus, Nickname, PartyKind,
    PhoneNumber, RealName, ThirdPartyIdentity,
};
use sanhu_core::party::{BankCard, MaskedCardNumber, OneTimeCode, PayPasswordGuard, PhoneChange};
use sanhu_core::{Amount, Currency};
use sanhu_core::{Id128, Timestamp};
use sanhu_store::party::PartyChange;
use serde::{Deserialize, Serialize};

use super::data_key::DataKeys;

/// An aggregate that is stored as one record and keeps no secret.
pub(crate) trait Document: Sized {
    const KIND: &'static str;
    fn record_id(&self) -> String;
    fn customer_id(&self) -> String;
    fn encode(&self) -> String;
    fn decode(data: &str) -> anyhow::Result<Self>;
}

/// An aggregate as the party store keeps it, given the data keys: every [`Document`] is one (it
/// needs no key), and the records that keep certificate numbers (customers, company details)
/// implement it themselves, sealing the numbers as they encode and opening them as they decode.
pub(crate) trait Record: Sized {
    const KIND: &'static str;
    fn record_id(&self) -> String;
    fn customer_id(&self) -> String;
    fn encode_with(&self, keys: &DataKeys) -> String;
    fn decode_with(data: &str, keys: &DataKeys) -> anyhow::Result<Self>;
}

impl<D: Document> Record for D {
    const KIND: &'static str = <D as Document>::KIND;
    fn record_id(&self) -> String {
        Document::record_id(self)
    }
    fn customer_id(&self) -> String {
        Document::customer_id(self)
    }
    fn encode_with(&self, _keys: &DataKeys) -> String {
        Document::encode(self)
    }
    fn decode_with(data: &str, _keys: &DataKeys) -> anyhow::Result<Self> {
        <D as Document>::decode(data)
    }
}

fn id<K: sanhu_core::id::IdKind>(text: &str) -> anyhow::Result<Id128<K>> {
    Id128::parse(text).ok_or_else(|| anyhow!("stored id {text:?} is not a {} id", K::PREFIX))
}

fn kind(text: &str) -> anyhow::Result<PartyKind> {
    PartyKind::parse(text).ok_or_else(|| anyhow!("stored party kind {text:?} is unknown"))
}

fn certificate(certificate_type: &str, number: &str) -> anyhow::Result<Certificate> {
    let certificate_type =
        CertificateType::parse(certificate_type).map_err(|e| anyhow!("stored certificate type: {e}"))?;
    Certificate::parse(certificate_type, number).map_err(|e| anyhow!("stored certificate: {e}"))
}

/// Where a certificate number is kept, as the associated data it is sealed with: the record's kind
/// and id, the field, the certificate's type. A sealed number moved to another place does not open.
fn sealing_context(kind: &str, record_id: &str, field: &str, certificate_type: &str) -> String {
    format!("{kind}\n{record_id}\n{field}\n{certificate_type}")
}

/// A certificate's number sealed for its place.
fn seal_certificate(keys: &DataKeys, kind: &str, record_id: &str, field: &str, certificate: &Certificate) -> String {
    let context = sealing_context(kind, record_id, field, certificate.certificate_type().as_str());
    keys.seal(certificate.number(), &context)
}

/// A stored certificate: its number sealed (the form written), or in the clear (the form databases
/// written before sealing kept, read until the sealing pass rewrites it).
fn open_certificate(
    keys: &DataKeys,
    (kind, record_id, field): (&str, &str, &str),
    certificate_type: &str,
    sealed: Option<&str>,
    clear: Option<&str>,
) -> anyhow::Result<Certificate> {
    let number = match (sealed, clear) {
        (Some(sealed), _) => keys
            .open(sealed, &sealing_context(kind, record_id, field, certificate_type))
            .with_context(|| format!("stored {kind} {record_id}: {field}"))?,
        (None, Some(clear)) => clear.to_owned(),
        (None, None) => return Err(anyhow!("stored {kind} {record_id} has no {field} number")),
    };
    certificate(certificate_type, &number)
}

/// The fields in which databases written before sealing kept certificate numbers in the clear.
const CLEAR_CERTIFICATE_FIELDS: [&str; 3] = ["certificate_number", "credit_code", "legal_person_certificate_number"];

/// How a stored document keeps its certificate numbers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CertificateForm {
    /// As written now: sealed under the current data key (or it keeps none).
    SealedUnderCurrentKey,
    /// Sealed under a retired data key.
    SealedUnderRetiredKey,
    /// In the clear, as databases written before sealing kept them.
    Clear,
}

/// How a stored document keeps its certificate numbers. A document not kept as written now is
/// written again by the sealing pass.
pub(crate) fn certificate_form(data: &str, keys: &DataKeys) -> anyhow::Result<CertificateForm> {
    let document: serde_json::Value = serde_json::from_str(data).context("a stored document is not JSON")?;
    let Some(fields) = document.as_object() else { return Ok(CertificateForm::SealedUnderCurrentKey) };
    let mut form = CertificateForm::SealedUnderCurrentKey;
    for (name, value) in fields {
        if CLEAR_CERTIFICATE_FIELDS.contains(&name.as_str()) && !value.is_null() {
            return Ok(CertificateForm::Clear);
        }
        if name.ends_with("_sealed") && value.as_str().is_some_and(|sealed| !keys.is_current(sealed)) {
            form = CertificateForm::SealedUnderRetiredKey;
        }
    }
    Ok(form)
}

fn real_name(kind: PartyKind, text: &str) -> anyhow::Result<RealName> {
    match kind {
        PartyKind::Personal => RealName::person(text),
        PartyKind::Enterprise => RealName::organisation(text),
    }
    .map_err(|e| anyhow!("stored real name: {e}"))
}

/// A login identity from its uniqueness key (`phone:+86…`, `email:…`, `nickname:…`,
/// `third_party:provider:subject`), the form in which members keep them.
pub(crate) fn identity_from_key(key: &str) -> anyhow::Result<LoginIdentity> {
    let (kind, value) = key.split_once(':').ok_or_else(|| anyhow!("stored identity {key:?} has no kind"))?;
    let identity = match kind {
        "phone" => PhoneNumber::parse(value).map(LoginIdentity::Phone),
        "email" => Email::parse(value).map(LoginIdentity::Email),
        "nickname" => Nickname::parse(value).map(LoginIdentity::Nickname),
        "third_party" => {
            let (provider, subject) =
                value.split_once(':').ok_or_else(|| anyhow!("stored identity {key:?} has no provider"))?;
            ThirdPartyIdentity::parse(provider, subject).map(LoginIdentity::ThirdParty)
        }
        _ => return Err(anyhow!("stored identity {key:?} is of an unknown kind")),
    };
    identity.map_err(|e| anyhow!("stored identity {key:?}: {e}"))
}

// ---------------------------------------------------------------------------------------------------
// Customers

/// A customer as stored: the core aggregate and the name it is known by (the verified real name of
/// its member, or the company's name), for the customer view and search.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCustomer {
    pub customer: Customer,
    pub name: Option<RealName>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CustomerDoc {
    id: String,
    kind: String,
    scope: String,
    certificate_type: Option<String>,
    /// The number, sealed under the data key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate_sealed: Option<String>,
    /// The number in the clear, as databases written before sealing kept it: read, never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    certificate_number: Option<String>,
    status: String,
    merged_into: Option<String>,
    name: Option<String>,
    created_at: i64,
}

impl Record for StoredCustomer {
    const KIND: &'static str = "customer";

    fn record_id(&self) -> String {
        self.customer.id().to_string()
    }

    fn customer_id(&self) -> String {
        self.customer.id().to_string()
    }

    fn encode_with(&self, keys: &DataKeys) -> String {
        let c = &self.customer;
        let id = c.id().to_string();
        serde_json::to_string(&CustomerDoc {
            certificate_type: c.certificate().map(|x| x.certificate_type().as_str().to_owned()),
            certificate_sealed: c.certificate().map(|x| seal_certificate(keys, "customer", &id, "certificate", x)),
            certificate_number: None,
            id,
            kind: c.kind().as_str().to_owned(),
            scope: c.scope().as_str().to_owned(),
            status: c.status().as_str().to_owned(),
            merged_into: c.status().merged_into().map(|m| m.to_string()),
            name: self.name.as_ref().map(|n| n.as_str().to_owned()),
            created_at: c.created_at().nanos(),
        })
        .expect("a customer encodes")
    }

    fn decode_with(data: &str, keys: &DataKeys) -> anyhow::Result<Self> {
        let d: CustomerDoc = serde_json::from_str(data).context("stored customer")?;
        let kind = kind(&d.kind)?;
        let (sealed, clear) = (d.certificate_sealed.as_deref(), d.certificate_number.as_deref());
        let certificate = match (&d.certificate_type, sealed.or(clear)) {
            (Some(t), Some(_)) => Some(open_certificate(keys, ("customer", &d.id, "certificate"), t, sealed, clear)?),
            (None, None) => None,
            _ => return Err(anyhow!("stored customer {} has half a certificate", d.id)),
        };
        let merged_into = d.merged_into.as_deref().map(id::<sanhu_core::id::CustomerTag>).transpose()?;
        let status = CustomerStatus::parse(&d.status, merged_into)
            .ok_or_else(|| anyhow!("stored customer status {:?} is unknown", d.status))?;
        let scope = CustomerScope::parse(&d.scope).ok_or_else(|| anyhow!("stored scope {:?} is unknown", d.scope))?;
        let customer =
            Customer::restore(id(&d.id)?, kind, scope, certificate, status, Timestamp::from_nanos(d.created_at))
                .map_err(|e| anyhow!("stored customer {}: {e}", d.id))?;
        let name = d.name.as_deref().map(|n| real_name(kind, n)).transpose()?;
        Ok(StoredCustomer { customer, name })
    }
}

// ---------------------------------------------------------------------------------------------------
// Members

/// A member as stored: the core aggregate and its login identities.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMember {
    pub member: Member,
    pub identities: Vec<LoginIdentity>,
    /// The merchant (a brand or a franchisee) the member was registered for, and the name it is
    /// known by there; `None` for a member of the platform as a whole.
    pub scope: Option<MemberScope>,
}

/// Whose member a merchant-scoped member is: registered for one merchant, served by the clients that
/// reach that merchant, its wallet spent within that merchant's subtree (or its wallet group).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberScope {
    pub merchant_id: String,
    /// The name or nickname given at the counter, as the merchant knows the member.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberDoc {
    id: String,
    customer_id: String,
    kind: String,
    status: u8,
    lock_status: u8,
    real_name: Option<String>,
    identities: Vec<String>,
    created_at: i64,
    last_active_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    scope: Option<MemberScope>,
}

impl Document for StoredMember {
    const KIND: &'static str = "member";

    fn record_id(&self) -> String {
        self.member.id().to_string()
    }

    fn customer_id(&self) -> String {
        self.member.customer().to_string()
    }

    fn encode(&self) -> String {
        let m = &self.member;
        serde_json::to_string(&MemberDoc {
            id: m.id().to_string(),
            customer_id: m.customer().to_string(),
            kind: m.kind().as_str().to_owned(),
            status: m.status().code(),
            lock_status: m.lock().code(),
            real_name: m.real_name().map(|n| n.as_str().to_owned()),
            identities: self.identities.iter().map(LoginIdentity::uniqueness_key).collect(),
            created_at: m.created_at().nanos(),
            last_active_at: m.last_active_at().nanos(),
            scope: self.scope.clone(),
        })
        .expect("a member encodes")
    }

    fn decode(data: &str) -> anyhow::Result<Self> {
        let d: MemberDoc = serde_json::from_str(data).context("stored member")?;
        let kind = kind(&d.kind)?;
        let member = Member::restore(
            id(&d.id)?,
            id(&d.customer_id)?,
            kind,
            MemberStatus::from_code(d.status).ok_or_else(|| anyhow!("stored member status {}", d.status))?,
            LockStatus::from_code(d.lock_status).ok_or_else(|| anyhow!("stored lock status {}", d.lock_status))?,
            d.real_name.as_deref().map(|n| real_name(kind, n)).transpose()?,
            Timestamp::from_nanos(d.created_at),
            Timestamp::from_nanos(d.last_active_at),
        );
        let identities = d.identities.iter().map(|k| identity_from_key(k)).collect::<anyhow::Result<_>>()?;
        Ok(StoredMember { member, identities, scope: d.scope })
    }
}

// ---------------------------------------------------------------------------------------------------
// Member accounts

/// A member's account: the relation between a member and a ledger account (账户), with the account's
/// type and its own status. The money is in the ledger account of the same id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberAccount {
    pub account_id: AccountId,
    pub member_id: MemberId,
    pub customer_id: CustomerId,
    pub account_type: String,
    pub status: MemberAccountStatus,
    pub opened_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct MemberAccountDoc {
    account_id: String,
    member_id: String,
    customer_id: String,
    account_type: String,
    status: String,
    opened_at: i64,
}

impl Document for MemberAccount {
    const KIND: &'static str = "member_account";

    fn record_id(&self) -> String {
        self.account_id.to_string()
    }

    fn customer_id(&self) -> String {
        self.customer_id.to_string()
    }

    fn encode(&self) -> String {
        serde_json::to_string(&MemberAccountDoc {
            account_id: self.account_id.to_string(),
            member_id: self.member_id.to_string(),
            customer_id: self.customer_id.to_string(),
            account_type: self.account_type.clone(),
            status: self.status.as_str().to_owned(),
            opened_at: self.opened_at.nanos(),
        })
        .expect("a member account encodes")
    }

    fn decode(data: &str) -> anyhow::Result<Self> {
        let d: MemberAccountDoc = serde_json::from_str(data).context("stored member account")?;
        Ok(MemberAccount {
            account_id: id(&d.account_id)?,
            member_id: id(&d.member_id)?,
            customer_id: id(&d.customer_id)?,
            account_type: d.account_type,
            status: MemberAccountStatus::parse(&d.status)
                .ok_or_else(|| anyhow!("stored account status {:?}", d.status))?,
            opened_at: Timestamp::from_nanos(d.opened_at),
        })
    }
}

// ---------------------------------------------------------------------------------------------------
// Authentications

/// An authentication record and the customer its member belonged to when it was made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredAuthentication {
    pub authentication: Authentication,
    pub customer_id: CustomerId,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthenticationDoc {
    id: String,
    member_id: String,
    customer_id: String,
    #[serde(rename = "type")]
    authentication_type: String,
    channel: String,
    masked_subject: String,
    status: String,
    requested_at: i64,
    decided_at: Option<i64>,
}

impl Document for StoredAuthentication {
    const KIND: &'static str = "authentication";

    fn record_id(&self) -> String {
        self.authentication.id().to_string()
    }

    fn customer_id(&self) -> String {
        self.customer_id.to_string()
    }

    fn encode(&self) -> String {
        let a = &self.authentication;
        serde_json::to_string(&AuthenticationDoc {
            id: a.id().to_string(),
            member_id: a.member().to_string(),
            customer_id: self.customer_id.to_string(),
            authentication_type: a.authentication_type().as_str().to_owned(),
            channel: a.channel().as_str().to_owned(),
            masked_subject: a.masked_subject().to_owned(),
            status: a.status().as_str().to_owned(),
            requested_at: a.requested_at().nanos(),
            decided_at: a.decided_at().map(Timestamp::nanos),
        })
        .expect("an authentication encodes")
    }

    fn decode(data: &str) -> anyhow::Result<Self> {
        let d: AuthenticationDoc = serde_json::from_str(data).context("stored authentication")?;
        let authentication = Authentication::restore(
            id::<sanhu_core::id::AuthenticationTag>(&d.id)?,
            id(&d.member_id)?,
            AuthenticationType::parse(&d.authentication_type).map_err(|e| anyhow!("stored type: {e}"))?,
            sanhu_core::party::authentication::AuthenticationChannel::parse(&d.channel)
                .map_err(|e| anyhow!("stored channel: {e}"))?,
            d.masked_subject,
            AuthenticationStatus::parse(&d.status).ok_or_else(|| anyhow!("stored status {:?}", d.status))?,
            Timestamp::from_nanos(d.requested_at),
            d.decided_at.map(Timestamp::from_nanos),
        )
        .map_err(|e| anyhow!("stored authentication {}: {e}", d.id))?;
        Ok(StoredAuthentication { authentication, customer_id: id(&d.customer_id)? })
    }
}

// ---------------------------------------------------------------------------------------------------
// One-time codes

/// An issued one-time code: its keyed digest, never the code. One record per purpose and target, so a
/// new code for the same purpose and target replaces the last (which stops working).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredOneTimeCode {
    pub code: OneTimeCode,
}

/// The record id of the code for `purpose` sent to `target`.
pub(crate) fn one_time_code_id(purpose: CodePurpose, target: &CodeTarget) -> String {
    format!("otp:{}:{}", purpose.as_str(), target.key())
}

const CODE_PURPOSES: [CodePurpose; 7] = [
    CodePurpose::Register,
    CodePurpose::SignIn,
    CodePurpose::PhoneChangeOld,
    CodePurpose::PhoneChangeNew,
    CodePurpose::PayPasswordReset,
    CodePurpose::Authentication,
    CodePurpose::Payment,
];

pub(crate) fn code_purpose(text: &str) -> Option<CodePurpose> {
    CODE_PURPOSES.into_iter().find(|p| p.as_str() == text)
}

fn code_target(key: &str) -> anyhow::Result<CodeTarget> {
    match key.split_once(':') {
        Some(("phone", p)) => PhoneNumber::parse(p).map(CodeTarget::Phone),
        Some(("email", e)) => Email::parse(e).map(CodeTarget::Email),
        _ => return Err(anyhow!("stored code target {key:?} is of an unknown kind")),
    }
    .map_err(|e| anyhow!("stored code target {key:?}: {e}"))
}

fn digest_from_hex(text: &str) -> anyhow::Result<[u8; 32]> {
    let mut digest = [0u8; 32];
    hex::decode_to_slice(text, &mut digest).map_err(|e| anyhow!("stored digest is not 32 bytes of hex: {e}"))?;
    Ok(digest)
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OneTimeCodeDoc {
    purpose: String,
    target: String,
    digest: String,
    issued_at: i64,
    expires_at: i64,
    attempts_left: u8,
    used: bool,
}

impl Document for StoredOneTimeCode {
    const KIND: &'static str = "one_time_code";

    fn record_id(&self) -> String {
        one_time_code_id(self.code.purpose(), self.code.target())
    }

    /// A code is sent to an address, which may belong to no customer yet (registration).
    fn customer_id(&self) -> String {
        String::new()
    }

    fn encode(&self) -> String {
        let c = &self.code;
        serde_json::to_string(&OneTimeCodeDoc {
            purpose: c.purpose().as_str().to_owned(),
            target: c.target().key(),
            digest: hex::encode(c.digest().0),
            issued_at: c.issued_at().nanos(),
            expires_at: c.expires_at().nanos(),
            attempts_left: c.attempts_left(),
            used: c.used(),
        })
        .expect("a one-time code encodes")
    }

    fn decode(data: &str) -> anyhow::Result<Self> {
        let d: OneTimeCodeDoc = serde_json::from_str(data).context("stored one-time code")?;
        let purpose = code_purpose(&d.purpose).ok_or_else(|| anyhow!("stored code purpose {:?}", d.purpose))?;
        let code = OneTimeCode::restore(
            purpose,
            code_target(&d.target)?,
            CodeDigest(digest_from_hex(&d.digest)?),
            Timestamp::from_nanos(d.issued_at),
            Timestamp::from_nanos(d.expires_at),
            d.attempts_left,
            d.used,
        );
        Ok(StoredOneTimeCode { code })
    }
}

// ---------------------------------------------------------------------------------------------------
// Phone changes

/// A member's phone change: in progress, or done (`completed_at`). One record per member: starting a
/// new change replaces the last.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredPhoneChange {
    pub change: PhoneChange,
    pub customer_id: CustomerId,
    pub completed_at: Option<Timestamp>,
}

pub(crate) fn phone_change_id(member: MemberId) -> String {
    format!("phone_change:{member}")
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PhoneChangeDoc {
    member_id: String,
    customer_id: String,
    old: String,
    new: String,
    old_verified: bool,
    new_verified: bool,
    expires_at: i64,
    completed_at: Option<i64>,
}

impl Document for StoredPhoneChange {
    const KIND: &'static str = "phone_change";

    fn record_id(&self) -> String {
        phone_change_id(self.change.member())
    }

    fn customer_id(&self) -> String {
        self.customer_id.to_string()
    }

    fn encode(&self) -> String {
        let c = &self.change;
        serde_json::to_string(&PhoneChangeDoc {
            member_id: c.member().to_string(),
            customer_id: self.customer_id.to_string(),
            old: c.old().as_str().to_owned(),
            new: c.new_phone().as_str().to_owned(),
            old_verified: c.old_verified(),
            new_verified: c.new_verified(),
            expires_at: c.expires_at().nanos(),
            completed_at: self.completed_at.map(Timestamp::nanos),
        })
        .expect("a phone change encodes")
    }

    fn decode(data: &str) -> anyhow::Result<Self> {
        let d: PhoneChangeDoc = serde_json::from_str(data).context("stored phone change")?;
        let phone = |p: &str| PhoneNumber::parse(p).map_err(|e| anyhow!("stored phone {p:?}: {e}"));
        let change = PhoneChange::restore(
            id(&d.member_id)?,
            phone(&d.old)?,
            phone(&d.new)?,
            d.old_verified,
            d.new_verified,
            Timestamp::from_nanos(d.expires_at),
        );
        Ok(StoredPhoneChange {
            change,
            customer_id: id(&d.customer_id)?,
            completed_at: d.completed_at.map(Timestamp::from_nanos),
        })
    }
}

// ---------------------------------------------------------------------------------------------------
// Bank cards

/// A bank card as stored: masked number, token and holder, never the number; and when it was unbound,
/// if it was (an unbound card is kept for the record, out of the member's list).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBankCard {
    pub card: BankCard,
    pub customer_id: CustomerId,
    pub unbound_at: Option<Timestamp>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BankCardDoc {
    id: String,
    member_id: String,
    customer_id: String,
    masked_number: String,
    token: String,
    holder: String,
    bound_at: i64,
    unbound_at: Option<i64>,
}

impl Document for StoredBankCard {
    const KIND: &'static str = "bank_card";

    fn record_id(&self) -> String {
        self.card.id().to_string()
    }

    fn customer_id(&self) -> String {
        self.customer_id.to_string()
    }

    fn encode(&self) -> String {
        let c = &self.card;
        serde_json::to_string(&BankCardDoc {
            id: c.id().to_string(),
            member_id: c.member().to_string(),
            customer_id: self.customer_id.to_string(),
            masked_number: c.masked().as_str().to_owned(),
            token: c.token().as_str().to_owned(),
            holder: c.holder().as_str().to_owned(),
            bound_at: c.bound_at().nanos(),
            unbound_at: self.unbound_at.map(Timestamp::nanos),
        })
        .expect("a bank card encodes")
    }

    fn decode(data: &str) -> anyhow::Result<Self> {
        let d: BankCardDoc = serde_json::from_str(data).context("stored bank card")?;
        let holder = RealName::person(&d.holder)
            .or_else(|_| RealName::organisation(&d.holder))
            .map_err(|e| anyhow!("stored card holder: {e}"))?;
        let card = BankCard::restore(
            id::<sanhu_core::id::BankCardTag>(&d.id)?,
            id(&d.member_id)?,
            MaskedCardNumber::parse(&d.masked_number).map_err(|e| anyhow!("stored masked number: {e}"))?,
            CardToken::parse(&d.token).map_err(|e| anyhow!("stored card token: {e}"))?,
            holder,
            Timestamp::from_nanos(d.bound_at),
        );
        Ok(StoredBankCard {
            card,
            customer_id: id(&d.customer_id)?,
            unbound_at: d.unbound_at.map(Timestamp::from_nanos),
        })
    }
}

// ---------------------------------------------------------------------------------------------------
// Pay passwords

/// Whose pay password it is: a member's, or an operator's (who confirms the payments it makes for its
/// enterprise with its own).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PayPasswordOwner {
    Member(MemberId),
    Operator(OperatorId),
}

impl PayPasswordOwner {
    fn parse(text: &str) -> Option<PayPasswordOwner> {
        MemberId::parse(text)
            .map(PayPasswordOwner::Member)
            .or_else(|| OperatorId::parse(text).map(PayPasswordOwner::Operator))
    }
}

impl std::fmt::Display for PayPasswordOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PayPasswordOwner::Member(id) => write!(f, "{id}"),
            PayPasswordOwner::Operator(id) => write!(f, "{id}"),
        }
    }
}

/// A pay password as stored: its Argon2id hash as a PHC string (algorithm, parameters, salt and hash
/// in one), and its failures and lock. One record per owner, keyed by the owner's id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct StoredPayPassword {
    pub owner: PayPasswordOwner,
    pub customer_id: CustomerId,
    pub phc: String,
    pub guard: PayPasswordGuard,
    pub set_at: Timestamp,
}

pub(crate) fn pay_password_id(owner: PayPasswordOwner) -> String {
    format!("pay_password:{owner}")
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PayPasswordDoc {
    owner: String,
    customer_id: String,
    phc: String,
    failures: u8,
    locked_until: Option<i64>,
    set_at: i64,
}

impl Document for StoredPayPassword {
    const KIND: &'static str = "pay_password";

    fn record_id(&self) -> String {
        pay_password_id(self.owner)
    }

    fn customer_id(&self) -> String {
        self.customer_id.to_string()
    }

    fn encode(&self) -> String {
        serde_json::to_string(&PayPasswordDoc {
            owner: self.owner.to_string(),
            customer_id: self.customer_id.to_string(),
            phc: self.phc.clone(),
            failures: self.guard.failures(),
            locked_until: self.guard.locked_until().map(Timestamp::nanos),
            set_at: self.set_at.nanos(),
        })
        .expect("a pay password encodes")
    }

    fn decode(data: &str) -> anyhow::Result<Self> {
        let d: PayPasswordDoc = serde_json::from_str(data).context("stored pay password")?;
        Ok(StoredPayPassword {
            owner: PayPasswordOwner::parse(&d.owner).ok_or_else(|| anyhow!("stored owner {:?}", d.owner))?,
            customer_id: id(&d.customer_id)?,
            phc: d.phc,
            guard: PayPasswordGuard::restore(d.failures, d.locked_until.map(Timestamp::from_nanos)),
            set_at: Timestamp::from_nanos(d.set_at),
        })
    }
}

// ---------------------------------------------------------------------------------------------------
// Company details

/// An enterprise member's company details (企业资质), one record per member (`company:mem_…`). The
/// credit code here is what the enterprise claims; the customer's certificate comes only from a
/// verified business-licence authentication.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCompany {
    pub member_id: MemberId,
    pub customer_id: CustomerId,
    pub details: CompanyDetails,
}

pub(crate) fn company_id(member: MemberId) -> String {
    format!("company:{member}")
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CompanyDoc {
    member_id: String,
    customer_id: String,
    name: String,
    /// The unified social credit code, sealed under the data key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    credit_code_sealed: Option<String>,
    /// The code in the clear, as databases written before sealing kept it: read, never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    credit_code: Option<String>,
    legal_person: String,
    legal_person_certificate_type: String,
    /// The legal person's certificate number, sealed under the data key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    legal_person_certificate_sealed: Option<String>,
    /// The number in the clear, as databases written before sealing kept it: read, never written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    legal_person_certificate_number: Option<String>,
    contact: String,
    contact_phone: String,
    industry: String,
    /// `YYYY-MM-DD` or `long_term`.
    licence_expiry: String,
    address: String,
}

fn licence_expiry_text(expiry: LicenceExpiry) -> String {
    match expiry {
        LicenceExpiry::LongTerm => "long_term".to_owned(),
        LicenceExpiry::Through { year, month, day } => format!("{year:04}-{month:02}-{day:02}"),
    }
}

impl Record for StoredCompany {
    const KIND: &'static str = "company";

    fn record_id(&self) -> String {
        company_id(self.member_id)
    }

    fn customer_id(&self) -> String {
        self.customer_id.to_string()
    }

    fn encode_with(&self, keys: &DataKeys) -> String {
        let p = self.details.parts();
        let id = company_id(self.member_id);
        serde_json::to_string(&CompanyDoc {
            member_id: self.member_id.to_string(),
            customer_id: self.customer_id.to_string(),
            name: p.name.as_str().to_owned(),
            credit_code_sealed: Some(seal_certificate(keys, "company", &id, "credit_code", &p.credit_code)),
            credit_code: None,
            legal_person: p.legal_person.as_str().to_owned(),
            legal_person_certificate_type: p.legal_person_certificate.certificate_type().as_str().to_owned(),
            legal_person_certificate_sealed: Some(seal_certificate(
                keys,
                "company",
                &id,
                "legal_person_certificate",
                &p.legal_person_certificate,
            )),
            legal_person_certificate_number: None,
            contact: p.contact.as_str().to_owned(),
            contact_phone: p.contact_phone.as_str().to_owned(),
            industry: p.industry.as_str().to_owned(),
            licence_expiry: licence_expiry_text(p.licence_expiry),
            address: p.address.as_str().to_owned(),
        })
        .expect("company details encode")
    }

    fn decode_with(data: &str, keys: &DataKeys) -> anyhow::Result<Self> {
        let d: CompanyDoc = serde_json::from_str(data).context("stored company details")?;
        let stored = |what: &str, e: &dyn std::fmt::Display| anyhow!("stored company {what}: {e}");
        let record_id = format!("company:{}", d.member_id);
        let parts = CompanyDetailsParts {
            name: real_name(PartyKind::Enterprise, &d.name)?,
            credit_code: open_certificate(
                keys,
                ("company", &record_id, "credit_code"),
                CertificateType::UnifiedSocialCreditCode.as_str(),
                d.credit_code_sealed.as_deref(),
                d.credit_code.as_deref(),
            )?,
            legal_person: real_name(PartyKind::Personal, &d.legal_person)?,
            legal_person_certificate: open_certificate(
                keys,
                ("company", &record_id, "legal_person_certificate"),
                &d.legal_person_certificate_type,
                d.legal_person_certificate_sealed.as_deref(),
                d.legal_person_certificate_number.as_deref(),
            )?,
            contact: real_name(PartyKind::Personal, &d.contact)?,
            contact_phone: PhoneNumber::parse(&d.contact_phone).map_err(|e| stored("contact phone", &e))?,
            industry: IndustryCode::parse(&d.industry).map_err(|e| stored("industry", &e))?,
            licence_expiry: LicenceExpiry::parse(&d.licence_expiry).map_err(|e| stored("licence expiry", &e))?,
            address: Address::parse(&d.address).map_err(|e| stored("address", &e))?,
        };
        let details = CompanyDetails::new(parts).map_err(|e| stored("details", &e))?;
        Ok(StoredCompany { member_id: id(&d.member_id)?, customer_id: id(&d.customer_id)?, details })
    }
}

// ---------------------------------------------------------------------------------------------------
// Operators

/// An operator as stored: the core aggregate, the customer of its enterprise member (the record's
/// distribution key), the login identities it signs in with, and what it has moved today, which its
/// limit per day is checked against.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredOperator {
    pub operator: Operator,
    pub customer_id: CustomerId,
    pub identities: Vec<LoginIdentity>,
    pub spent: DailySpend,
}

/// The money an operator was authorised to move on one platform day, per currency, in minor units.
/// A new day starts from nothing.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DailySpend {
    /// Days since 1970-01-01 on the platform's calendar (China, UTC+8).
    pub day: i64,
    pub totals: Vec<(Currency, i64)>,
}

impl DailySpend {
    /// What was moved in `currency` on `day`.
    pub fn on(&self, day: i64, currency: Currency) -> i64 {
        if self.day != day {
            return 0;
        }
        self.totals.iter().find(|(c, _)| *c == currency).map_or(0, |(_, total)| *total)
    }

    /// The spend after adding `delta` (negative to give back) in `currency` on `day`, never below zero.
    pub fn add(&self, day: i64, currency: Currency, delta: i64) -> DailySpend {
        let mut totals = if self.day == day { self.totals.clone() } else { Vec::new() };
        let total = (self.on(day, currency).saturating_add(delta)).max(0);
        totals.retain(|(c, _)| *c != currency);
        if total > 0 {
            totals.push((currency, total));
            totals.sort_by_key(|(c, _)| *c);
        }
        DailySpend { day, totals }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct OperatorDoc {
    id: String,
    member_id: String,
    customer_id: String,
    role: String,
    status: String,
    grants: Vec<GrantDoc>,
    limits: Option<LimitsDoc>,
    identities: Vec<String>,
    #[serde(default)]
    spent_day: i64,
    /// Currency code → minor units moved on `spent_day`.
    #[serde(default)]
    spent: std::collections::BTreeMap<String, i64>,
    created_at: i64,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct GrantDoc {
    account_id: String,
    operations: Vec<String>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsDoc {
    currency: String,
    per_transaction: Option<i64>,
    per_day: Option<i64>,
}

fn currency(code: &str) -> anyhow::Result<Currency> {
    Currency::parse(code).ok_or_else(|| anyhow!("stored currency {code:?} is unknown"))
}

fn amount(minor: Option<i64>) -> anyhow::Result<Option<Amount>> {
    minor.map(|m| Amount::new(m).ok_or_else(|| anyhow!("stored amount {m} is not positive"))).transpose()
}

impl Document for StoredOperator {
    const KIND: &'static str = "operator";

    fn record_id(&self) -> String {
        self.operator.id().to_string()
    }

    fn customer_id(&self) -> String {
        self.customer_id.to_string()
    }

    fn encode(&self) -> String {
        let o = &self.operator;
        serde_json::to_string(&OperatorDoc {
            id: o.id().to_string(),
            member_id: o.member().to_string(),
            customer_id: self.customer_id.to_string(),
            role: o.role().as_str().to_owned(),
            status: o.status().as_str().to_owned(),
            grants: o
                .grants()
                .iter()
                .map(|g| GrantDoc {
                    account_id: g.account.to_string(),
                    operations: g.operations.iter().map(|op| op.as_str().to_owned()).collect(),
                })
                .collect(),
            limits: o.limits().map(|l| LimitsDoc {
                currency: l.currency().code().to_owned(),
                per_transaction: l.per_transaction().map(Amount::get),
                per_day: l.per_day().map(Amount::get),
            }),
            identities: self.identities.iter().map(LoginIdentity::uniqueness_key).collect(),
            spent_day: self.spent.day,
            spent: self.spent.totals.iter().map(|(c, t)| (c.code().to_owned(), *t)).collect(),
            created_at: o.created_at().nanos(),
        })
        .expect("an operator encodes")
    }

    fn decode(data: &str) -> anyhow::Result<Self> {
        let d: OperatorDoc = serde_json::from_str(data).context("stored operator")?;
        let grants = d
            .grants
            .iter()
            .map(|g| {
                let operations = g
                    .operations
                    .iter()
                    .map(|op| Operation::parse(op).ok_or_else(|| anyhow!("stored operation {op:?} is unknown")))
                    .collect::<anyhow::Result<Vec<_>>>()?;
                Ok(AccountGrant { account: id(&g.account_id)?, operations: Operations::of(&operations) })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let limits = d
            .limits
            .as_ref()
            .map(|l| {
                OperatorLimits::new(currency(&l.currency)?, amount(l.per_transaction)?, amount(l.per_day)?)
                    .map_err(|e| anyhow!("stored operator limits: {e}"))
            })
            .transpose()?;
        let operator = Operator::restore(
            id(&d.id)?,
            id(&d.member_id)?,
            OperatorRole::parse(&d.role).ok_or_else(|| anyhow!("stored operator role {:?}", d.role))?,
            OperatorStatus::parse(&d.status).ok_or_else(|| anyhow!("stored operator status {:?}", d.status))?,
            grants,
            limits,
            Timestamp::from_nanos(d.created_at),
        );
        let identities = d.identities.iter().map(|k| identity_from_key(k)).collect::<anyhow::Result<_>>()?;
        let totals = d.spent.iter().map(|(c, t)| Ok((currency(c)?, *t))).collect::<anyhow::Result<Vec<_>>>()?;
        Ok(StoredOperator {
            operator,
            customer_id: id(&d.customer_id)?,
            identities,
            spent: DailySpend { day: d.spent_day, totals },
        })
    }
}

// ---------------------------------------------------------------------------------------------------
// History

/// One recorded change: who did what to which record, when and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HistoryEntry {
    pub seq: i64,
    pub record_id: String,
    pub customer_id: String,
    pub action: String,
    pub actor: String,
    pub reason: Option<String>,
    pub detail: serde_json::Value,
    pub at: Timestamp,
}

impl From<PartyChange> for HistoryEntry {
    fn from(c: PartyChange) -> Self {
        HistoryEntry {
            seq: c.seq,
            record_id: c.record_id,
            customer_id: c.customer_id,
            action: c.action,
            actor: c.actor,
            reason: c.reason,
            detail: serde_json::from_str(&c.detail).unwrap_or(serde_json::Value::String(c.detail)),
            at: c.at,
        }
    }
}
