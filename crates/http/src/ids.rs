//! Ids at the edge: parsed once, from the path or a body field, into the core's typed ids.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use sanhu_core::id::{AuthenticationId, BankCardId, CustomerId, MemberId, OperatorId};
use sanhu_core::{AccountId, TransferId};

use crate::error::{code, ApiError};

pub fn account_id(field: &str, text: &str) -> Result<AccountId, ApiError> {
    AccountId::parse(text).ok_or_else(|| invalid(field, "an account id (acc_ and 26 characters)"))
}

pub fn transfer_id(field: &str, text: &str) -> Result<TransferId, ApiError> {
    TransferId::parse(text).ok_or_else(|| invalid(field, "a transfer id (tr_ and 26 characters)"))
}

pub fn customer_id(field: &str, text: &str) -> Result<CustomerId, ApiError> {
    CustomerId::parse(text).ok_or_else(|| invalid(field, "a customer id (cus_ and 26 characters)"))
}

pub fn member_id(field: &str, text: &str) -> Result<MemberId, ApiError> {
    MemberId::parse(text).ok_or_else(|| invalid(field, "a member id (mem_ and 26 characters)"))
}

pub fn authentication_id(field: &str, text: &str) -> Result<AuthenticationId, ApiError> {
    AuthenticationId::parse(text).ok_or_else(|| invalid(field, "an authentication id (aut_ and 26 characters)"))
}

pub fn operator_id(field: &str, text: &str) -> Result<OperatorId, ApiError> {
    OperatorId::parse(text).ok_or_else(|| invalid(field, "an operator id (opr_ and 26 characters)"))
}

pub fn store_id(field: &str, text: &str) -> Result<sanhu_core::id::StoreId, ApiError> {
    sanhu_core::id::StoreId::parse(text).ok_or_else(|| invalid(field, "a store id (sto_ and 26 characters)"))
}

pub fn terminal_id(field: &str, text: &str) -> Result<sanhu_core::id::TerminalId, ApiError> {
    sanhu_core::id::TerminalId::parse(text).ok_or_else(|| invalid(field, "a terminal id (trm_ and 26 characters)"))
}

pub fn bank_card_id(field: &str, text: &str) -> Result<BankCardId, ApiError> {
    BankCardId::parse(text).ok_or_else(|| invalid(field, "a bank card id (bcd_ and 26 characters)"))
}

fn invalid(field: &str, expected: &str) -> ApiError {
    ApiError::new(code::INVALID_ID, format!("{field} is not {expected}"))
}

/// The `{id}` (or `{pending_id}`) of an account path.
pub struct AccountIdPath(pub AccountId);

/// The `{id}` (or `{pending_id}`) of a transfer path.
pub struct TransferIdPath(pub TransferId);

/// The `{id}` of a customer path.
pub struct CustomerIdPath(pub CustomerId);

/// The `{id}` of a member path.
pub struct MemberIdPath(pub MemberId);

/// The `{id}` of an authentication path.
pub struct AuthenticationIdPath(pub AuthenticationId);

/// The `{id}` of an operator path.
pub struct OperatorIdPath(pub OperatorId);

/// The `{id}` of a bank card path.
pub struct BankCardIdPath(pub BankCardId);

async fn path_text<S: Send + Sync>(parts: &mut Parts, state: &S) -> Result<String, ApiError> {
    let Path(text) = Path::<String>::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::new(code::INVALID_ID, "the id in the path cannot be read"))?;
    Ok(text)
}

impl<S: Send + Sync> FromRequestParts<S> for AccountIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<AccountIdPath, ApiError> {
        account_id("the account id in the path", &path_text(parts, state).await?).map(AccountIdPath)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for TransferIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<TransferIdPath, ApiError> {
        transfer_id("the transfer id in the path", &path_text(parts, state).await?).map(TransferIdPath)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for CustomerIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<CustomerIdPath, ApiError> {
        customer_id("the customer id in the path", &path_text(parts, state).await?).map(CustomerIdPath)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for MemberIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<MemberIdPath, ApiError> {
        member_id("the member id in the path", &path_text(parts, state).await?).map(MemberIdPath)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for AuthenticationIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<AuthenticationIdPath, ApiError> {
        authentication_id("the authentication id in the path", &path_text(parts, state).await?)
            .map(AuthenticationIdPath)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for OperatorIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<OperatorIdPath, ApiError> {
        operator_id("the operator id in the path", &path_text(parts, state).await?).map(OperatorIdPath)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for BankCardIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<BankCardIdPath, ApiError> {
        bank_card_id("the bank card id in the path", &path_text(parts, state).await?).map(BankCardIdPath)
    }
}
