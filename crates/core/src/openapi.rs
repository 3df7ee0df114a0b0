//! The schemas of the core's values as the API shows them, for the generated OpenAPI document: an
//! id's pattern from its prefix, a time's format, a currency's codes, an amount's minimum. A field of
//! the API's views that holds one as text or a number names it once
//! (`#[schema(value_type = AccountId, inline)]`), so that every use is as precise as the value.

use std::borrow::Cow;

use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
use utoipa::openapi::{RefOr, Schema};
use utoipa::{PartialSchema, ToSchema};

use crate::card::{ApproverRole, CardStatus};
use crate::id::{Id128, IdKind};
use crate::ledger::CODE_LEN_MAX;
use crate::money::{Amount, Currency, CURRENCIES};
use crate::party::account_type::AccountTypeCode;
use crate::party::certificate::CertificateType;
use crate::party::change::{Reason, StaffName, REASON_CHARS_MAX, STAFF_NAME_CHARS_MAX};
use crate::party::customer::PartyKind;
use crate::party::merchant::{
    DocumentKind, MerchantStatus, MerchantTypeCode, ReviewDecision, ScenarioKind, SettlementKind, NAME_CHARS_MAX,
    SETTLEMENT_CYCLES, VERIFICATIONS,
};
use crate::party::product::SigningStatus;
use crate::scope::Scope;
use crate::staff::{ApprovalStatus, StaffRole, Username, USERNAME_CHARS_MAX, USERNAME_CHARS_MIN};
use crate::time::Timestamp;

/// The pattern of an id's text: its prefix, `_`, then 26 upper-case Crockford base32 digits of which
/// the first holds 3 bits (as [`Id128`]'s `Display` writes it).
pub fn id_pattern(prefix: &str) -> String {
    format!("^{prefix}_[0-7][0-9A-HJKMNP-TV-Z]{{25}}$")
}

impl<K: IdKind> PartialSchema for Id128<K> {
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).pattern(Some(id_pattern(K::PREFIX))).into()
    }
}

impl<K: IdKind> ToSchema for Id128<K> {
    /// `Id_acc`, `Id_tr`...: one name per kind, should a view refer to the schema rather than inline it.
    fn name() -> Cow<'static, str> {
        Cow::Owned(format!("Id_{}", K::PREFIX))
    }
}

impl PartialSchema for Timestamp {
    /// RFC 3339, UTC, to the nanosecond (`2026-11-22T04:18:27.123456789Z`).
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime)))
            .into()
    }
}

impl ToSchema for Timestamp {}

impl PartialSchema for Currency {
    /// The ISO 4217 codes sanhu knows ([`CURRENCIES`]).
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::String)
            .enum_values(Some(CURRENCIES.iter().map(|(code, _)| *code)))
            .into()
    }
}

impl ToSchema for Currency {}

impl PartialSchema for Amount {
    /// Minor units, strictly positive.
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new()
            .schema_type(Type::Integer)
            .format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64)))
            .minimum(Some(1))
            .into()
    }
}

impl ToSchema for Amount {}

/// Text a person wrote, trimmed: 1 to `chars_max` characters.
fn bounded_text(chars_max: usize) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).min_length(Some(1)).max_length(Some(chars_max)).into()
}

/// One of `values`.
fn one_of<'a>(values: impl IntoIterator<Item = &'a str>) -> RefOr<Schema> {
    ObjectBuilder::new().schema_type(Type::String).enum_values(Some(values)).into()
}

impl PartialSchema for Reason {
    fn schema() -> RefOr<Schema> {
        bounded_text(REASON_CHARS_MAX)
    }
}

impl ToSchema for Reason {}

impl PartialSchema for StaffName {
    fn schema() -> RefOr<Schema> {
        bounded_text(STAFF_NAME_CHARS_MAX)
    }
}

impl ToSchema for StaffName {}

impl PartialSchema for Username {
    /// As stored and shown: lower case (a sign-in's may be in either case).
    fn schema() -> RefOr<Schema> {
        let pattern = format!("^[a-z][a-z0-9._-]{{{},{}}}$", USERNAME_CHARS_MIN - 1, USERNAME_CHARS_MAX - 1);
        ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).into()
    }
}

impl ToSchema for Username {}

impl PartialSchema for StaffRole {
    fn schema() -> RefOr<Schema> {
        one_of(StaffRole::ALL.iter().map(|role| role.as_str()))
    }
}

impl ToSchema for StaffRole {}

impl PartialSchema for ApprovalStatus {
    fn schema() -> RefOr<Schema> {
        one_of(ApprovalStatus::ALL.iter().map(|status| status.as_str()))
    }
}

impl ToSchema for ApprovalStatus {}

impl PartialSchema for Scope {
    fn schema() -> RefOr<Schema> {
        one_of(Scope::ALL.iter().map(|scope| scope.as_str()))
    }
}

impl ToSchema for Scope {}

/// The schema of a set of values named by their `as_str()`, from the type's `ALL` list.
macro_rules! one_of_all {
    ($($ty:ty),+ $(,)?) => {
        $(
            impl PartialSchema for $ty {
                fn schema() -> RefOr<Schema> {
                    one_of(<$ty>::ALL.iter().map(|value| value.as_str()))
                }
            }

            impl ToSchema for $ty {}
        )+
    };
}

one_of_all!(
    MerchantStatus,
    ScenarioKind,
    SettlementKind,
    DocumentKind,
    ReviewDecision,
    SigningStatus,
    PartyKind,
    CertificateType,
    CardStatus,
    ApproverRole,
);

impl PartialSchema for MerchantTypeCode {
    /// 1 to 32 lower-case letters, digits or `_`.
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[a-z0-9_]{1,32}$")).into()
    }
}

impl ToSchema for MerchantTypeCode {}

/// A product's code, as configured (`[[products]]`).
pub struct ProductCode;

impl PartialSchema for ProductCode {
    /// 1 to 32 lower-case letters, digits or `_`.
    fn schema() -> RefOr<Schema> {
        ObjectBuilder::new().schema_type(Type::String).pattern(Some("^[a-z0-9_]{1,32}$")).into()
    }
}

impl ToSchema for ProductCode {}

impl PartialSchema for AccountTypeCode {
    /// A lower-case letter, then lower-case letters, digits or `_`: 1 to [`CODE_LEN_MAX`] in all.
    fn schema() -> RefOr<Schema> {
        let pattern = format!("^[a-z][a-z0-9_]{{0,{}}}$", CODE_LEN_MAX - 1);
        ObjectBuilder::new().schema_type(Type::String).pattern(Some(pattern)).into()
    }
}

impl ToSchema for AccountTypeCode {}

/// A merchant's name as payers see it, or a business's registered name.
pub struct MerchantName;

impl PartialSchema for MerchantName {
    fn schema() -> RefOr<Schema> {
        bounded_text(NAME_CHARS_MAX)
    }
}

impl ToSchema for MerchantName {}

/// When a merchant's receipts are settled ([`SETTLEMENT_CYCLES`]).
pub struct SettlementCycle;

impl PartialSchema for SettlementCycle {
    fn schema() -> RefOr<Schema> {
        one_of(SETTLEMENT_CYCLES)
    }
}

impl ToSchema for SettlementCycle {}

/// A settlement account's verification as shown ([`VERIFICATIONS`]).
pub struct SettlementVerification;

impl PartialSchema for SettlementVerification {
    fn schema() -> RefOr<Schema> {
        one_of(VERIFICATIONS)
    }
}

impl ToSchema for SettlementVerification {}
