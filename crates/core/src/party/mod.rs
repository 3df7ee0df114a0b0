//! The three-party model (三户模型): customers, members and their accounts, as pure rules.
//!
//! A customer (客户) is who someone really is, identified by a certificate; a member (会员) is how they
//! use the platform, with login identities; an account (账户) is where their money is. This module holds
//! the rules that tie the three together: which statuses each may have and how they change, what a
//! customer's status takes away from its accounts, when two customers merge (归并), which actions a
//! member or an operator (操作员) may take, and the values those rules read (certificates, phone
//! numbers, card numbers, account types) parsed into types that cannot be invalid.
//!
//! Nothing here does IO: the clock, randomness and hashing are passed in, and whatever must be looked up
//! (another customer holding a certificate, the balances of a member's accounts, what an operator spent
//! today) is an argument. Every refusal is a stable snake_case code, listed once per file in its error
//! enum, part of the API contract: never rename one.

pub mod account;
pub mod account_type;
pub mod authentication;
pub mod bank_card;
pub mod certificate;
pub mod change;
pub mod check_digit;
pub mod customer;
pub mod enterprise;
pub mod identity;
pub mod mask;
pub mod member;
pub mod merchant;
pub mod merchant_level;
pub mod merge;
pub mod one_time_code;
pub mod operator;
pub mod pay_password;
pub mod phone_change;
pub mod product;
pub mod real_name;
pub mod store;

pub use account::{check_open_account, effective_blocks, effective_flags, LedgerBlocks, MemberAccountStatus};
pub use account_type::{AccountType, AccountTypeCode, AccountTypes};
pub use authentication::{
    Authentication, AuthenticationStatus, AuthenticationSubject, AuthenticationType, CertificateProof,
};
pub use bank_card::{BankCard, CardNumber, MaskedCardNumber};
pub use certificate::{Certificate, CertificateType};
pub use change::{Actor, Change, Reason, StatusChange};
pub use customer::{CertificateOutcome, Customer, CustomerScope, CustomerStatus, PartyKind};
pub use enterprise::CompanyDetails;
pub use identity::{Email, LoginIdentity, Nickname, PhoneNumber, ThirdPartyIdentity};
pub use member::{LockStatus, Member, MemberAction, MemberStatus};
pub use merge::{plan_merge, Merge, MergeGround, MergeRecord};
pub use one_time_code::{OneTimeCode, OneTimeCodePolicy};
pub use operator::{Operation, Operator, OperatorRequest, OperatorRole};
pub use pay_password::{PayPassword, PayPasswordGuard, PayPasswordPolicy};
pub use phone_change::PhoneChange;
pub use real_name::RealName;

#[cfg(test)]
mod tests;
