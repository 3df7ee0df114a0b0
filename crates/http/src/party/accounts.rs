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
use super::{run, ClientActor, MemberAccountList, MemberAccountView};
use crate::error::ApiError;
use crate::ids::{AccountIdPath, MemberIdPath};
use crate::json::parse_body;
use crate::AppState;

/// GET /v1/members/{id}/accounts: the member's accounts with balances, in the order opened.
#[utoipa::path(
    get,
    path = "/v1/members/{id}/accounts",
    tag = "member accounts",
    operation_id = "listMemberAccounts",
    summary = "List a member's accounts",
    description = "The member's accounts with their balances, in the order opened.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses(
        (status = 200, description = "The accounts.", body = MemberAccountList),
    )
)]
pub async fn member_accounts(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<MemberAccountList>, ApiError> {
    let accounts = state.parties.member_accounts(id).await?;
    Ok(Json(MemberAccountList {
        data: accounts.iter().map(|a| MemberAccountView::of(&a.account, &a.ledger)).collect(),
    }))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OpenMemberAccountRequest)]
struct OpenAccountBody {
    /// A configured account type (`account_type_not_configured` otherwise). The basic account opens on activation, one
    /// per member.
    #[schema(pattern = "^[a-z][a-z0-9_]{0,31}$", examples("settlement"))]
    account_type: String,
}

/// POST /v1/members/{id}/accounts: an account of a configured type, for an active member.
#[utoipa::path(
    post,
    path = "/v1/members/{id}/accounts",
    tag = "member accounts",
    operation_id = "openMemberAccount",
    summary = "Open a member account",
    description = "An account of a configured type for an active member: a ledger account of the type's currency and \
        limits. One basic account per member (`basic_account_exists`); other types up to their limit \
        (`account_type_limit_reached`).",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = OpenAccountBody,
    responses(
        (status = 201, description = "The new account.", body = MemberAccountView),
    )
)]
pub async fn open_account(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<MemberAccountView>), ApiError> {
    let body: OpenAccountBody = parse_body(&body)?;
    let code = fields::account_type(&body.account_type)?;
    let parties = state.parties.clone();
    let opened = run(move || async move {
        // A merchant's member is opened the types its merchant offers only.
        parties.check_account_type_offered(id, code.as_str()).await?;
        parties.open_account(id, &code, &actor).await
    })
    .await?;
    tracing::info!(member.id = %id, account.id = %opened.account.account_id, account_type = %opened.account.account_type, "member account opened");
    Ok((StatusCode::CREATED, Json(MemberAccountView::of(&opened.account, &opened.ledger))))
}

/// GET /v1/accounts/{id}
#[utoipa::path(
    get,
    path = "/v1/accounts/{id}",
    tag = "member accounts",
    operation_id = "getMemberAccount",
    summary = "Get a member account",
    description = "A member account with its type, its own status, its member and customer, and its ledger account \
        (counters, balances, flags). Its entries are GET /v1/ledger/accounts/{id}/entries.",
    params(
        ("id" = String, Path, description = "The account's id.", pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses(
        (status = 200, description = "The account.", body = MemberAccountView),
    )
)]
pub async fn get_account(
    State(state): State<AppState>,
    AccountIdPath(id): AccountIdPath,
) -> Result<Json<MemberAccountView>, ApiError> {
    let view = state.parties.get_member_account(id).await?;
    Ok(Json(MemberAccountView::of(&view.account, &view.ledger)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AccountStatusRequest)]
struct AccountStatusBody {
    #[schema(value_type = crate::party::choices::AccountStatusChange, inline)]
    status: String,
    /// Why, for the history: 1 to 200 characters without control characters (`reason_invalid` otherwise).
    #[schema(min_length = 1, max_length = 200, examples("judicial freeze, case 2026-01"))]
    reason: String,
}

/// POST /v1/accounts/{id}/status: normal, frozen or stop_payment.
#[utoipa::path(
    post,
    path = "/v1/accounts/{id}/status",
    tag = "member accounts",
    operation_id = "setMemberAccountStatus",
    summary = "Set a member account's status",
    description = "normal, frozen or stop_payment; the ledger's flags become what this status and the customer's make \
        together.\n\nMade by a staff member, it waits for a second staff member's approval (202, an approval).",
    params(
        ("id" = String, Path, description = "The account's id.", pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = AccountStatusBody,
    responses(
        (status = 200, description = "The account.", body = MemberAccountView),
    )
)]
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
#[utoipa::path(
    post,
    path = "/v1/accounts/{id}/close",
    tag = "member accounts",
    operation_id = "closeMemberAccount",
    summary = "Close a member account",
    description = "Only at zero balance with nothing held (`account_not_empty`, `account_has_pending`). Final.",
    params(
        ("id" = String, Path, description = "The account's id.", pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = ReasonBody,
    responses(
        (status = 200, description = "The closed account.", body = MemberAccountView),
    )
)]
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
