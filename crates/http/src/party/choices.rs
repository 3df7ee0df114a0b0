//! The values an API string field takes from a fixed set, as schemas for the OpenAPI document.
//! The handlers write them with the core's `as_str()` and read them with `fields`; these types
//! only name the set, inline where a field uses them.

use utoipa::openapi::schema::{Object, ObjectBuilder, Type};

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Kind {
    Personal,
    Enterprise,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum MemberStatus {
    Inactive,
    Normal,
    Dormant,
    Cancelled,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum LockStatus {
    Unlocked,
    Locked,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum IdentityKind {
    Phone,
    Email,
    Nickname,
    ThirdParty,
}

/// admin manages operators and may be granted anything; cashier: anything; operator: view, pay, transfer; staff: view
/// (`invalid_role` otherwise).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Staff,
    Cashier,
    Operator,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum OperatorStatus {
    Active,
    Disabled,
    Removed,
}

/// What the operator may do on the account, within its role (`operation_not_allowed_for_role`); replaces what it had
/// there; empty: nothing.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Operation {
    View,
    Pay,
    Transfer,
    Withdraw,
}

/// internal: a group company's own customer.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Scope {
    External,
    Internal,
}

/// banned: its members cannot act; frozen: no money leaves or enters its accounts; stop_payment: no money leaves them;
/// merged: final, see merged_into.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum CustomerStatus {
    Normal,
    Banned,
    Frozen,
    StopPayment,
    Merged,
}

/// The certificate's type.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum CertificateType {
    IdCard,
    Passport,
    HkMacaoPermit,
    TaiwanPermit,
    ForeignPermanentResident,
    UnifiedSocialCreditCode,
}

/// The account's own status. What the ledger enforces, this and the customer's status together, is in `ledger`'s flags.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AccountStatus {
    Normal,
    Frozen,
    StopPayment,
    Closed,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AuthenticationType {
    IdCard,
    Phone,
    Email,
    BankCard,
    BusinessLicence,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AuthenticationStatus {
    Pending,
    Verified,
    Failed,
}

/// frozen: no money leaves or enters; stop_payment: no money leaves. Closing is POST /v1/accounts/{id}/close.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AccountStatusChange {
    Normal,
    Frozen,
    StopPayment,
}

/// pending: decided later with POST /v1/authentications/{id}/decide.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AuthenticationResult {
    Verified,
    Failed,
    Pending,
}

/// id_card authentications: a person's certificate (default `id_card`); business_licence: `unified_social_credit_code`
/// (the default).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AuthenticatedCertificateType {
    IdCard,
    Passport,
    HkMacaoPermit,
    TaiwanPermit,
    ForeignPermanentResident,
    UnifiedSocialCreditCode,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum Decision {
    Verified,
    Failed,
}

/// banned: its members cannot act; frozen: no money leaves or enters any of its accounts; stop_payment: no money leaves
/// them.
/// What staff set a merchant's status to: `frozen` (from active), `active` (from frozen) or `closed`.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum MerchantStatusChange {
    Frozen,
    Active,
    Closed,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum CustomerStatusChange {
    Normal,
    Banned,
    Frozen,
    StopPayment,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum MergeBasis {
    Administrator,
    Authentication,
}

/// A person's certificate (`legal_person_certificate_not_personal` for a company's).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum PersonCertificateType {
    IdCard,
    Passport,
    HkMacaoPermit,
    TaiwanPermit,
    ForeignPermanentResident,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum CodeTargetKind {
    Phone,
    Email,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum CodePurpose {
    Register,
    SignIn,
    PhoneChangeOld,
    PhoneChangeNew,
    PayPasswordReset,
    Authentication,
    Payment,
}

/// What the code proves; part of what is hashed, so a code never passes for another purpose. A phone change's codes
/// come from its own endpoints (`invalid_purpose`).
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum RequestedCodePurpose {
    Register,
    SignIn,
    PayPasswordReset,
    Authentication,
    Payment,
}

#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum PayPasswordOutcomeKind {
    Set,
    Changed,
    Verified,
    Reset,
}

/// The status's code: inactive 0, normal 1, dormant 2, cancelled 3.
pub fn member_status_code() -> Object {
    codes(&[0, 1, 2, 3], "The status's code: inactive 0, normal 1, dormant 2, cancelled 3.")
}

/// The lock status's code: unlocked 0, locked 1.
pub fn lock_status_code() -> Object {
    codes(&[0, 1], "unlocked 0, locked 1.")
}

fn codes(values: &[u8], description: &str) -> Object {
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some(values.iter().copied()))
        .description(Some(description))
        .build()
}

/// A flag an answer carries only as `true` (a refusal is an error instead).
pub fn always_true() -> Object {
    ObjectBuilder::new().schema_type(Type::Boolean).enum_values(Some([true])).build()
}
