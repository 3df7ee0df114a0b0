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

/// A request body's schema under its name in the OpenAPI document, with the rule its derived schema
/// cannot say: exactly one of `fields` is given (the handler answers `missing_field` for none,
/// `invalid_field` for several).
macro_rules! exactly_one_of {
    ($name:ident = $body:ty, [$($field:literal),+]) => {
        #[doc = concat!(
            "The schema of `", stringify!($body), "` with exactly one of its fields ", $("`", $field, "` "),+, "given."
        )]
        pub struct $name;

        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                $crate::party::exactly_one_of(<$body as utoipa::PartialSchema>::schema(), &[$($field),+])
            }
        }

        impl utoipa::ToSchema for $name {
            fn schemas(schemas: &mut Vec<(String, utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>)>) {
                <$body as utoipa::ToSchema>::schemas(schemas)
            }
        }
    };
}

pub mod accounts;
pub mod authentications;
pub mod bank_cards;
pub mod choices;
pub mod customers;
pub mod enterprises;
pub mod fields;
pub mod franchises;
pub mod identities;
pub mod members;
pub mod merchants;
pub mod one_time_codes;
pub mod operators;
pub mod pay_passwords;
pub mod products;
pub mod providers;
pub mod stores;

use std::future::Future;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use sanhu_core::id::ClientId;
use sanhu_core::ledger::Account;
use sanhu_core::party::operator::OperatorLimits;
use sanhu_core::party::{Actor, Authentication, LoginIdentity};
use sanhu_core::Amount;
use sanhu_service::party::{HistoryEntry, MemberAccount, StoredCustomer, StoredMember, StoredOperator};
use serde::Serialize;
use serde_json::Value;

use crate::error::{code, ApiError};
use crate::ledger::accounts::AccountView;
use crate::principal::AuthenticatedClient;
use crate::query::QueryParams;

/// `schema` with "exactly one of `fields`": every alternative requires one of them.
pub fn exactly_one_of(
    schema: utoipa::openapi::RefOr<utoipa::openapi::schema::Schema>,
    fields: &[&str],
) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{AllOfBuilder, ObjectBuilder, OneOfBuilder, SchemaType};
    let one_of = fields.iter().fold(OneOfBuilder::new(), |one_of, field| {
        one_of.item(ObjectBuilder::new().schema_type(SchemaType::AnyValue).required(*field))
    });
    AllOfBuilder::new().item(schema).item(one_of).into()
}

/// Runs a use case (three-party, wallet) and maps its failure to the API's error.
pub async fn run<T, E, F, Fut>(use_case: F) -> Result<T, ApiError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, E>>,
    ApiError: From<E>,
{
    use_case().await.map_err(ApiError::from)
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
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = Member)]
pub struct MemberView {
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$", examples("mem_01JD7S0M8R4Y3V6QF2K9N5X1TB"))]
    pub id: String,
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub customer_id: String,
    #[schema(value_type = crate::party::choices::Kind, inline)]
    pub kind: &'static str,
    #[schema(value_type = crate::party::choices::MemberStatus, inline)]
    pub status: &'static str,
    // The articles' code: inactive 0, normal 1, dormant 2, cancelled 3.
    #[schema(schema_with = crate::party::choices::member_status_code)]
    pub status_code: u8,
    #[schema(value_type = crate::party::choices::LockStatus, inline)]
    pub lock_status: &'static str,
    // unlocked 0, locked 1.
    #[schema(schema_with = crate::party::choices::lock_status_code)]
    pub lock_status_code: u8,
    /// The name a verified authentication gave the member; null before.
    #[schema(required, min_length = 1, max_length = 100)]
    pub real_name: Option<String>,
    /// Its login identities; phones and emails masked. Empty once cancelled.
    #[schema(inline)]
    pub identities: Vec<IdentityView>,
    /// RFC 3339, UTC, to the nanosecond.
    #[schema(format = DateTime)]
    pub created_at: String,
    /// RFC 3339, UTC, to the nanosecond.
    #[schema(format = DateTime)]
    pub last_active_at: String,
    /// The merchant (a brand or a franchisee) the member was registered for; absent for a member of
    /// the platform as a whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub merchant_id: Option<String>,
    /// The name or nickname its merchant knows it by.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(min_length = 1, max_length = 40)]
    pub name: Option<String>,
}

/// A login identity, masked where it is personal data (phone, email).
#[derive(Serialize, Debug, utoipa::ToSchema)]
pub struct IdentityView {
    #[schema(value_type = crate::party::choices::IdentityKind, inline)]
    pub kind: &'static str,
    /// A phone or an email masked, a nickname, or a third party's `provider:subject`.
    #[schema(min_length = 1, max_length = 288, examples("+86138****0001"))]
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
            merchant_id: stored.scope.as_ref().map(|s| s.merchant_id.clone()),
            name: stored.scope.as_ref().and_then(|s| s.name.clone()),
        }
    }
}

/// An operator (操作员) of an enterprise member.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = Operator)]
pub struct OperatorView {
    #[schema(pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$", examples("opr_01JD7S0M8R4Y3V6QF2K9N5X1TB"))]
    pub id: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: String,
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub customer_id: String,
    // admin, staff, cashier or operator.
    #[schema(value_type = crate::party::choices::Role, inline)]
    pub role: &'static str,
    // active, disabled or removed.
    #[schema(value_type = crate::party::choices::OperatorStatus, inline)]
    pub status: &'static str,
    #[schema(inline)]
    pub grants: Vec<GrantView>,
    /// Its own limits, in one currency; null: none.
    #[schema(required = true, inline)]
    pub limits: Option<LimitsView>,
    /// The identities it signs in with, masked; empty once removed.
    #[schema(inline)]
    pub identities: Vec<IdentityView>,
    /// RFC 3339, UTC, to the nanosecond.
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// The operations an operator may perform on one account.
#[derive(Serialize, Debug, utoipa::ToSchema)]
pub struct GrantView {
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    #[schema(value_type = Vec<crate::party::choices::Operation>, inline)]
    pub operations: Vec<&'static str>,
}

/// An operator's limits, in minor units of one currency; null where there is none.
#[derive(Serialize, Debug, utoipa::ToSchema)]
pub struct LimitsView {
    #[schema(pattern = "^[A-Z]{3}$")]
    pub currency: String,
    #[schema(required = true, minimum = 1)]
    pub per_transaction: Option<i64>,
    #[schema(required = true, minimum = 1)]
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
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = Customer)]
pub struct CustomerView {
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$", examples("cus_01JD7S0M8R4Y3V6QF2K9N5X1TB"))]
    pub id: String,
    #[schema(value_type = crate::party::choices::Kind, inline)]
    pub kind: &'static str,
    #[schema(value_type = crate::party::choices::Scope, inline)]
    pub scope: &'static str,
    // normal, banned, frozen, stop_payment, or merged (then `merged_into` names the survivor).
    #[schema(value_type = crate::party::choices::CustomerStatus, inline)]
    pub status: &'static str,
    /// The survivor, when merged.
    #[schema(required, value_type = Option<sanhu_core::id::CustomerId>, inline)]
    pub merged_into: Option<String>,
    /// Given by a verified authentication; null before.
    #[schema(required = true, inline)]
    pub certificate: Option<CertificateView>,
    /// The verified real name, or the company's registered name; null before.
    #[schema(required, min_length = 1, max_length = 100)]
    pub name: Option<String>,
    /// RFC 3339, UTC, to the nanosecond.
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// A certificate, its number masked (a person's ID number shows its first 3 and last 4 characters).
#[derive(Serialize, Debug, utoipa::ToSchema)]
pub struct CertificateView {
    #[serde(rename = "type")]
    #[schema(value_type = crate::party::choices::CertificateType, inline)]
    pub certificate_type: &'static str,
    /// A person's number shows its first 3 and last 4 characters.
    #[schema(pattern = "^[^*]{1,3}\\*+[^*]{0,4}$", examples("110***********1233"))]
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
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = MemberAccount)]
pub struct MemberAccountView {
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub id: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: String,
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub customer_id: String,
    /// A configured account type's code: basic, settlement, margin, bonus, subsidy, points...
    #[schema(pattern = "^[a-z][a-z0-9_]{0,31}$", examples("basic"))]
    pub account_type: String,
    // The account's own status: normal, frozen, stop_payment, closed. What the ledger enforces
    // (with the customer's status) is in `ledger`'s flags.
    #[schema(value_type = crate::party::choices::AccountStatus, inline)]
    pub status: &'static str,
    #[schema(value_type = sanhu_core::Currency, inline, examples("CNY"))]
    pub currency: String,
    /// Posted balance in minor units.
    pub balance: i64,
    /// Balance less holds, in minor units.
    pub available: i64,
    /// RFC 3339, UTC, to the nanosecond.
    #[schema(format = DateTime)]
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
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = Authentication)]
pub struct AuthenticationView {
    #[schema(pattern = "^aut_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub id: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: String,
    #[serde(rename = "type")]
    #[schema(value_type = crate::party::choices::AuthenticationType, inline)]
    pub authentication_type: &'static str,
    #[schema(pattern = "^[a-z0-9_]{2,32}$", examples("police_id_check"))]
    pub channel: String,
    /// What was verified, numbers masked.
    #[schema(min_length = 1, max_length = 400, examples("张三 id_card 110***********1233"))]
    pub masked_subject: String,
    // pending, verified or failed.
    #[schema(value_type = crate::party::choices::AuthenticationStatus, inline)]
    pub status: &'static str,
    /// RFC 3339, UTC, to the nanosecond.
    #[schema(format = DateTime)]
    pub requested_at: String,
    #[schema(required = true, format = DateTime)]
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
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = HistoryEntry)]
pub struct HistoryEntryView {
    #[schema(minimum = 1)]
    pub seq: i64,
    /// The record changed: a customer, member, account or authentication id; or a record's kind and
    /// key (`company:mem_…`, `recharge_order:cli_…:R-1`, `deduction_order:mem_…`).
    #[schema(pattern = "^([a-z]{1,8}_[0-7][0-9A-HJKMNP-TV-Z]{25}|[a-z_]+:[!-~]+)$")]
    pub record_id: String,
    #[schema(value_type = sanhu_core::id::CustomerId, inline)]
    pub customer_id: String,
    #[schema(
        pattern = "^[a-z_]+\\.[a-z_]+$",
        examples("member.activated", "customer.status_changed", "customer.merged_in")
    )]
    pub action: String,
    /// `client:cli_…`, `staff:name`, `member:mem_…`, `operator:opr_…` or `system`.
    #[schema(value_type = ActorText, inline)]
    pub actor: String,
    #[schema(required, value_type = Option<sanhu_core::party::change::Reason>, inline)]
    pub reason: Option<String>,
    /// What changed (from, to, what moved...), as a JSON value.
    #[schema(value_type = Value)]
    pub detail: Value,
    /// RFC 3339, UTC, to the nanosecond.
    #[schema(format = DateTime)]
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

/// Who acted, as a record's history and its decisions name them: `client:cli_…`, `staff:name`,
/// `member:mem_…`, `operator:opr_…` or `system`.
pub struct ActorText;

impl utoipa::PartialSchema for ActorText {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::Schema> {
        utoipa::openapi::schema::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .pattern(Some(
                "^(client:cli_[A-Za-z0-9_-]{1,60}|staff:.{1,64}|member:mem_[0-7][0-9A-HJKMNP-TV-Z]{25}\
                 |operator:opr_[0-7][0-9A-HJKMNP-TV-Z]{25}|system)$",
            ))
            .into()
    }
}

impl utoipa::ToSchema for ActorText {}

/// A page of history, oldest first.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = HistoryPage)]
pub struct HistoryPage {
    data: Vec<HistoryEntryView>,
    /// Pass as `after` for the next page; null on the last page.
    #[schema(required, value_type = Option<crate::query::SequenceCursor>, inline)]
    next_cursor: Option<String>,
}

/// A member's accounts with balances, in the order opened.
#[derive(Serialize, utoipa::ToSchema)]
pub struct MemberAccountList {
    pub data: Vec<MemberAccountView>,
}

/// A member's authentications, oldest first.
#[derive(Serialize, utoipa::ToSchema)]
pub struct AuthenticationList {
    pub data: Vec<AuthenticationView>,
}

/// The customers a search found.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CustomerList {
    pub data: Vec<CustomerView>,
}

/// Operators: a member's, or the one found by a login identity.
#[derive(Serialize, utoipa::ToSchema)]
pub struct OperatorList {
    pub data: Vec<OperatorView>,
}

/// A member's login identities, masked, in the order added.
#[derive(Serialize, utoipa::ToSchema)]
pub struct IdentityList {
    #[schema(inline)]
    pub data: Vec<IdentityView>,
}

/// A member's bound cards, in the order bound.
#[derive(Serialize, utoipa::ToSchema)]
pub struct BankCardList {
    pub data: Vec<bank_cards::BankCardView>,
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
