//! Member accounts (账户): opening one of a configured type, reading with balances, the account's own
//! status (reflected in its ledger flags together with the customer's), closing. An account's
//! entries are the ledger's: GET /v1/ledger/accounts/{id}/entries.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::Deserialize;

use super::fields;
use super::members::ReasonBody;
use super::{run, ClientActor, List, MemberAccountView};
use crate::error::ApiError;
use crate::ids::{AccountIdPath, MemberIdPath};
use crate::json::parse_body;
use crate::AppState;

/// GET /v1/members/{id}/accounts: the member's accounts with balances, in the order opened.
pub async fn member_accounts(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<List<MemberAccountView>>, ApiError> {
    let accounts = state.parties.member_accounts(id).await?;
    Ok(Json(List { data: accounts.iter().map(|a| MemberAccountView::of(&a.account, &a.ledger)).collect() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenAccountBody {
    account_type: String,
}

/// POST /v1/members/{id}/accounts: an account of a configured type, for an active member.
pub async fn open_account(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<MemberAccountView>), ApiError> {
    let body: OpenAccountBody = parse_body(&body)?;
    let code = fields::account_type(&body.account_type)?;
    let parties = state.parties.clone();
    let opened = run(move || async move { parties.open_account(id, &code, &actor).await }).await?;
    tracing::info!(member.id = %id, account.id = %opened.account.account_id, account_type = %opened.account.account_type, "member account opened");
    Ok((StatusCode::CREATED, Json(MemberAccountView::of(&opened.account, &opened.ledger))))
}

/// GET /v1/accounts/{id}
pub async fn get_account(
    State(state): State<AppState>,
    AccountIdPath(id): AccountIdPath,
) -> Result<Json<MemberAccountView>, ApiError> {
    let view = state.parties.get_member_account(id).await?;
    Ok(Json(MemberAccountView::of(&view.account, &view.ledger)))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountStatusBody {
    status: String,
    reason: String,
}

/// POST /v1/accounts/{id}/status: normal, frozen or stop_payment.
pub async fn set_account_status(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    AccountIdPath(id): AccountIdPath,
    body: Bytes,
) -> Result<Json<MemberAccountView>, ApiError> {
    let body: AccountStatusBody = parse_body(&body)?;
    let status = fields::account_status(&body.status)?;
    let reason = fields::reason(&body.reason)?;
    let parties = state.parties.clone();
    run(move || async move { parties.change_account_status(id, status, &actor, &reason).await }).await?;
    tracing::info!(account.id = %id, status = status.as_str(), "member account status changed");
    let view = state.parties.get_member_account(id).await?;
    Ok(Json(MemberAccountView::of(&view.account, &view.ledger)))
}

/// POST /v1/accounts/{id}/close: only at zero balance with nothing held.
pub async fn close_account(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    AccountIdPath(id): AccountIdPath,
    body: Bytes,
) -> Result<Json<MemberAccountView>, ApiError> {
    let body: ReasonBody = parse_body(&body)?;
    let (parties, reason) = (state.parties.clone(), fields::reason(&body.reason)?);
    run(move || async move { parties.close_account(id, &actor, &reason).await }).await?;
    tracing::info!(account.id = %id, "member account closed");
    let view = state.parties.get_member_account(id).await?;
    Ok(Json(MemberAccountView::of(&view.account, &view.ledger)))
}
