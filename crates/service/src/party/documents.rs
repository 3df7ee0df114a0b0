//! How each aggregate is kept as a JSON document in `party_records`, and read back through core's
//! `restore` constructors, so that a stored record that no rule could have produced is an error, not
//! a value.

use anyhow::{anyhow, Context};
use sanhu_core::id::{AccountId, CustomerId, MemberId};
use sanhu_core::party::{
    Authentication, AuthenticationStatus, AuthenticationType, Certificate, CertificateType, Customer, CustomerScope,
    CustomerStatus, Email, LockStatus, LoginIdentity, Member, MemberAccountStatus, MemberStatus, Nickname, PartyKind,
    PhoneNumber, RealName, ThirdPartyIdentity,
};
use sanhu_core::{Id128, Timestamp};
use sanhu_store::party::PartyChange;
use serde::{Deserialize, Serialize};

/// An aggregate that is stored as one record.
pub(crate) trait Document: Sized {
    const KIND: &'static str;
    fn record_id(&self) -> String;
    fn customer_id(&self) -> String;
    fn encode(&self) -> String;
    fn decode(data: &str) -> anyhow::Result<Self>;
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
    certificate_number: Option<String>,
    status: String,
    merged_into: Option<String>,
    name: Option<String>,
    created_at: i64,
}

impl Document for StoredCustomer {
    const KIND: &'static str = "customer";

    fn record_id(&self) -> String {
        self.customer.id().to_string()
    }

    fn customer_id(&self) -> String {
        self.customer.id().to_string()
    }

    fn encode(&self) -> String {
        let c = &self.customer;
        serde_json::to_string(&CustomerDoc {
            id: c.id().to_string(),
            kind: c.kind().as_str().to_owned(),
            scope: c.scope().as_str().to_owned(),
            certificate_type: c.certificate().map(|x| x.certificate_type().as_str().to_owned()),
            certificate_number: c.certificate().map(|x| x.number().to_owned()),
            status: c.status().as_str().to_owned(),
            merged_into: c.status().merged_into().map(|m| m.to_string()),
            name: self.name.as_ref().map(|n| n.as_str().to_owned()),
            created_at: c.created_at().nanos(),
        })
        .expect("a customer encodes")
    }

    fn decode(data: &str) -> anyhow::Result<Self> {
        let d: CustomerDoc = serde_json::from_str(data).context("stored customer")?;
        let kind = kind(&d.kind)?;
        let certificate = match (&d.certificate_type, &d.certificate_number) {
            (Some(t), Some(n)) => Some(certificate(t, n)?),
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
        Ok(StoredMember { member, identities })
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
