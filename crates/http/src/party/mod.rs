//! The three-party model's endpoints (三户模型): members, customers, member accounts, real-name
//! authentications, enterprises and their operators, and members' security (login identities, phone
//! changes, one-time codes, bank cards, pay passwords). Each file holds its handlers with their request types; the views below are the
//! API's own shapes of the service's records, so the core's types never take a shape from serde.
//!
//! Every change is made by the API client that signed the request ([`ClientActor`]) and recorded in
//! the history with it, except where an admin operator manages its team (`acting_operator_id`).
//! Certificate and card numbers are read from requests and never shown again, nor logged: views carry
//! masked subjects. Pay passwords and submitted codes are never shown at all; an issued one-time code
//! is answered once, to the platform that delivers it, and kept by sanhu only as a keyed digest (the
//! endpoints that carry these take no Idempotency-Key: see [`crate::SECRET_BEARING_ROUTES`]).

pub mod accounts;
pub mod authentications;
pub mod bank_cards;
pub mod customers;
pub mod enterprises;
pub mod fields;
pub mod identities;
pub mod members;
pub mod one_time_codes;
pub mod operators;
pub mod pay_passwords;

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sanhu_core::id::ClientId;
use sanhu_core::ledger::Account;
use sanhu_core::party::operator::OperatorLimits;
use sanhu_core::party::{Actor, Authentication, LoginIdentity};
use sanhu_core::Amount;
use sanhu_service::party::{HistoryEntry, MemberAccount, PartyError, StoredCustomer, StoredMember, StoredOperator};
use serde::Serialize;
use serde_json::Value;

use crate::authentication::AuthenticatedClient;
use crate::error::{code, ApiError};
use crate::ledger::accounts::AccountView;
use crate::query::QueryParams;

/// Runs a three-party use case and maps its refusal to the API's error.
pub async fn run<T, F, Fut>(use_case: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, PartyError>>,
{
    use_case().await.map_err(ApiError::party)
}

/// The actor of a change: the API client that signed the request, or the staff member whose session
/// it came with.
pub struct ClientActor(pub Actor);

impl<S: Send + Sync> FromRequestParts<S> for ClientActor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<ClientActor, ApiError> {
        if let Some(staff) = parts.extensions.get::<crate::staff::AuthenticatedStaff>() {
            return Ok(ClientActor(staff.username.actor()));
        }
        let Some(AuthenticatedClient(id)) = parts.extensions.get::<AuthenticatedClient>() else {
            return Err(ApiError::internal(anyhow::anyhow!(
                "a three-party handler ran without an authenticated client"
            )));
        };
        // Clients are made with cli_ ids (`sanhu client create`); anything else was written by hand.
        let id = ClientId::parse(id)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the API client id {id:?} is not a cli_ id")))?;
        Ok(ClientActor(Actor::Client(id)))
    }
}

/// A member (会员) as the API shows it.
#[derive(Serialize, Debug)]
pub struct MemberView {
    pub id: String,
    pub customer_id: String,
    pub kind: &'static str,
    pub status: &'static str,
    /// The articles' code: inactive 0, normal 1, dormant 2, cancelled 3.
    pub status_code: u8,
    pub lock_status: &'static str,
    /// unlocked 0, locked 1.
    pub lock_status_code: u8,
    /// The name a verified authentication gave it; null before.
    pub real_name: Option<String>,
    pub identities: Vec<IdentityView>,
    pub created_at: String,
    pub last_active_at: String,
}

/// A login identity, masked where it is personal data (phone, email).
#[derive(Serialize, Debug)]
pub struct IdentityView {
    pub kind: &'static str,
    pub masked: String,
}

impl From<&LoginIdentity> for IdentityView {
    fn from(identity: &LoginIdentity) -> IdentityView {
        let masked = match identity {
            LoginIdentity::Phone(phone) => phone.masked(),
            LoginIdentity::Email(email) => email.masked(),
            LoginIdentity::Nickname(nickname) => nickname.as_str().to_owned(),
            LoginIdentity::ThirdParty(third) => format!("{}:{}", third.provider(), third.subject()),
        };
        IdentityView { kind: identity.kind(), masked }
    }
}

impl From<&StoredMember> for MemberView {
    fn from(stored: &StoredMember) -> MemberView {
        let m = &stored.member;
        MemberView {
            id: m.id().to_string(),
            customer_id: m.customer().to_string(),
            kind: m.kind().as_str(),
            status: m.status().as_str(),
            status_code: m.status().code(),
            lock_status: m.lock().as_str(),
            lock_status_code: m.lock().code(),
            real_name: m.real_name().map(|n| n.as_str().to_owned()),
            identities: stored.identities.iter().map(IdentityView::from).collect(),
            created_at: m.created_at().to_string(),
            last_active_at: m.last_active_at().to_string(),
        }
    }
}

/// An operator (操作员) of an enterprise member: its role, status, grants and limits.
#[derive(Serialize, Debug)]
pub struct OperatorView {
    pub id: String,
    pub member_id: String,
    pub customer_id: String,
    /// admin, staff, cashier or operator.
    pub role: &'static str,
    /// active, disabled or removed.
    pub status: &'static str,
    pub grants: Vec<GrantView>,
    /// Null: no limits of its own.
    pub limits: Option<LimitsView>,
    /// The identities it signs in with, masked; empty once removed.
    pub identities: Vec<IdentityView>,
    pub created_at: String,
}

/// The operations an operator may perform on one account.
#[derive(Serialize, Debug)]
pub struct GrantView {
    pub account_id: String,
    pub operations: Vec<&'static str>,
}

/// An operator's limits, in minor units of one currency; null where there is none.
#[derive(Serialize, Debug)]
pub struct LimitsView {
    pub currency: String,
    pub per_transaction: Option<i64>,
    pub per_day: Option<i64>,
}

impl From<OperatorLimits> for LimitsView {
    fn from(limits: OperatorLimits) -> LimitsView {
        LimitsView {
            currency: limits.currency().code().to_owned(),
            per_transaction: limits.per_transaction().map(Amount::get),
            per_day: limits.per_day().map(Amount::get),
        }
    }
}

impl From<&StoredOperator> for OperatorView {
    fn from(stored: &StoredOperator) -> OperatorView {
        let o = &stored.operator;
        OperatorView {
            id: o.id().to_string(),
            member_id: o.member().to_string(),
            customer_id: stored.customer_id.to_string(),
            role: o.role().as_str(),
            status: o.status().as_str(),
            grants: o
                .grants()
                .iter()
                .map(|g| GrantView {
                    account_id: g.account.to_string(),
                    operations: g.operations.iter().map(|op| op.as_str()).collect(),
                })
                .collect(),
            limits: o.limits().map(LimitsView::from),
            identities: stored.identities.iter().map(IdentityView::from).collect(),
            created_at: o.created_at().to_string(),
        }
    }
}

/// A customer (客户) as the API shows it.
#[derive(Serialize, Debug)]
pub struct CustomerView {
    pub id: String,
    pub kind: &'static str,
    pub scope: &'static str,
    /// normal, banned, frozen, stop_payment, or merged (then `merged_into` names the survivor).
    pub status: &'static str,
    pub merged_into: Option<String>,
    /// Given by a verified authentication; null before.
    pub certificate: Option<CertificateView>,
    /// The verified real name, or the company's registered name; null before.
    pub name: Option<String>,
    pub created_at: String,
}

/// A certificate, its number masked (a person's ID number shows its first 3 and last 4 characters).
#[derive(Serialize, Debug)]
pub struct CertificateView {
    #[serde(rename = "type")]
    pub certificate_type: &'static str,
    pub masked_number: String,
}

impl From<&StoredCustomer> for CustomerView {
    fn from(stored: &StoredCustomer) -> CustomerView {
        let c = &stored.customer;
        CustomerView {
            id: c.id().to_string(),
            kind: c.kind().as_str(),
            scope: c.scope().as_str(),
            status: c.status().as_str(),
            merged_into: c.status().merged_into().map(|id| id.to_string()),
            certificate: c.certificate().map(|certificate| CertificateView {
                certificate_type: certificate.certificate_type().as_str(),
                masked_number: certificate.masked(),
            }),
            name: stored.name.as_ref().map(|n| n.as_str().to_owned()),
            created_at: c.created_at().to_string(),
        }
    }
}

/// A member account (账户): its type and own status, whose it is, and its ledger account.
#[derive(Serialize, Debug)]
pub struct MemberAccountView {
    pub id: String,
    pub member_id: String,
    pub customer_id: String,
    pub account_type: String,
    /// The account's own status: normal, frozen, stop_payment, closed. What the ledger enforces
    /// (with the customer's status) is in `ledger`'s flags.
    pub status: &'static str,
    pub currency: String,
    /// Posted balance in minor units.
    pub balance: i64,
    /// Balance less holds, in minor units.
    pub available: i64,
    pub opened_at: String,
    pub ledger: AccountView,
}

impl MemberAccountView {
    pub fn of(account: &MemberAccount, ledger: &Account) -> MemberAccountView {
        MemberAccountView {
            id: account.account_id.to_string(),
            member_id: account.member_id.to_string(),
            customer_id: account.customer_id.to_string(),
            account_type: account.account_type.clone(),
            status: account.status.as_str(),
            currency: ledger.currency.code().to_owned(),
            balance: ledger.balance(),
            available: ledger.available(),
            opened_at: account.opened_at.to_string(),
            ledger: AccountView::from(ledger),
        }
    }
}

/// A real-name authentication (实名认证): only its masked subject.
#[derive(Serialize, Debug)]
pub struct AuthenticationView {
    pub id: String,
    pub member_id: String,
    #[serde(rename = "type")]
    pub authentication_type: &'static str,
    pub channel: String,
    pub masked_subject: String,
    /// pending, verified or failed.
    pub status: &'static str,
    pub requested_at: String,
    pub decided_at: Option<String>,
}

impl From<&Authentication> for AuthenticationView {
    fn from(a: &Authentication) -> AuthenticationView {
        AuthenticationView {
            id: a.id().to_string(),
            member_id: a.member().to_string(),
            authentication_type: a.authentication_type().as_str(),
            channel: a.channel().as_str().to_owned(),
            masked_subject: a.masked_subject().to_owned(),
            status: a.status().as_str(),
            requested_at: a.requested_at().to_string(),
            decided_at: a.decided_at().map(|t| t.to_string()),
        }
    }
}

/// One recorded change: who did what to which record, when and why.
#[derive(Serialize, Debug)]
pub struct HistoryEntryView {
    pub seq: i64,
    pub record_id: String,
    pub customer_id: String,
    pub action: String,
    /// `client:cli_…`, `staff:name`, `member:mem_…`, `operator:opr_…` or `system`.
    pub actor: String,
    pub reason: Option<String>,
    pub detail: Value,
    pub at: String,
}

impl From<&HistoryEntry> for HistoryEntryView {
    fn from(h: &HistoryEntry) -> HistoryEntryView {
        HistoryEntryView {
            seq: h.seq,
            record_id: h.record_id.clone(),
            customer_id: h.customer_id.clone(),
            action: h.action.clone(),
            actor: h.actor.clone(),
            reason: h.reason.clone(),
            detail: h.detail.clone(),
            at: h.at.to_string(),
        }
    }
}

/// A page of history, oldest first.
#[derive(Serialize)]
pub struct HistoryPage {
    data: Vec<HistoryEntryView>,
    /// Pass as `after` for the next page; null when this page is the last.
    next_cursor: Option<String>,
}

/// A list that is not paginated (a member's accounts or authentications: a handful each).
#[derive(Serialize)]
pub struct List<T> {
    pub data: Vec<T>,
}

/// `after` and `limit` of a history endpoint: the cursor is the last entry's sequence number.
pub fn history_window(query: QueryParams, page_size_max: u32) -> Result<(i64, u32), ApiError> {
    let query = query.only(&["after", "limit"])?;
    let limit = query.limit(page_size_max)?;
    let after =
        match query.get("after") {
            None => 0,
            Some(text) => text.parse::<i64>().ok().filter(|seq| *seq >= 0).ok_or_else(|| {
                ApiError::new(code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned")
            })?,
        };
    Ok((after, limit))
}

impl HistoryPage {
    pub fn of(entries: &[HistoryEntry], limit: u32) -> HistoryPage {
        let next_cursor =
            (entries.len() == limit as usize).then(|| entries.last().map(|h| h.seq.to_string())).flatten();
        HistoryPage { data: entries.iter().map(HistoryEntryView::from).collect(), next_cursor }
    }
}
