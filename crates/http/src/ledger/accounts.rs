//! Accounts: open, read, list, close, block and unblock.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::ledger::Account;
use sanhu_service::NewAccount;
use sanhu_store::LedgerStore;
use serde::{Deserialize, Serialize};
use serde_json::{Number, Value};

use super::{fields, metadata_object, optional_code};
use crate::error::{code, ApiError};
use crate::ids::{self, AccountIdPath};
use crate::json::{double_option, parse_body, parse_body_or_empty};
use crate::query::QueryParams;
use crate::state::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = OpenAccountRequest)]
struct OpenAccountBody {
    #[schema(value_type = sanhu_core::Currency, inline)]
    currency: String,
    #[schema(value_type = Option<NormalSideName>, inline)]
    normal_side: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    #[schema(value_type = Option<i64>, minimum = 0)]
    overdraft_limit: Option<Option<Number>>,
    #[schema(pattern = "^[a-z0-9_.]{1,32}$")]
    code: Option<String>,
    metadata: Option<Value>,
}

/// An account as the API shows it.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = Account)]
pub struct AccountView {
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$", examples("acc_01JD7S0M8R4Y3V6QF2K9N5X1TB"))]
    pub id: String,
    #[schema(value_type = sanhu_core::Currency, inline, examples("CNY"))]
    pub currency: String,
    #[schema(inline, value_type = NormalSideName)]
    pub normal_side: &'static str,
    /// The overdraft allowed in minor units; null for unlimited.
    #[schema(required, minimum = 0)]
    pub overdraft_limit: Option<i64>,
    pub debits_blocked: bool,
    pub credits_blocked: bool,
    pub closed: bool,
    #[schema(minimum = 0)]
    pub debits_pending: i64,
    #[schema(minimum = 0)]
    pub debits_posted: i64,
    #[schema(minimum = 0)]
    pub credits_pending: i64,
    #[schema(minimum = 0)]
    pub credits_posted: i64,
    /// Posted balance on the normal side: credits_posted - debits_posted for credit-normal accounts.
    pub balance: i64,
    /// Balance less what pending transfers hold against the normal side.
    pub available: i64,
    /// Business code of the account; null when unset.
    #[schema(required, pattern = "^[a-z0-9_.]{1,32}$")]
    pub code: Option<String>,
    /// The caller's metadata: a JSON object.
    #[schema(value_type = std::collections::HashMap<String, Value>, additional_properties = true)]
    pub metadata: Value,
    /// RFC 3339, UTC, to the nanosecond (the ledger's resolution), e.g. `2026-11-22T04:18:27.123456789Z`.
    #[schema(format = DateTime)]
    pub created_at: String,
}

/// An account's normal side: `credit` or `debit`.
#[derive(utoipa::ToSchema)]
#[schema(rename_all = "snake_case")]
#[allow(dead_code)]
enum NormalSideName {
    Credit,
    Debit,
}

impl From<&Account> for AccountView {
    fn from(a: &Account) -> AccountView {
        AccountView {
            id: a.id.to_string(),
            currency: a.currency.code().to_owned(),
            normal_side: a.normal_side.as_str(),
            overdraft_limit: a.limit.overdraft(),
            debits_blocked: a.flags.debits_blocked,
            credits_blocked: a.flags.credits_blocked,
            closed: a.flags.closed,
            debits_pending: a.counters.debits_pending,
            debits_posted: a.counters.debits_posted,
            credits_pending: a.counters.credits_pending,
            credits_posted: a.counters.credits_posted,
            balance: a.balance(),
            available: a.available(),
            code: optional_code(&a.code),
            metadata: metadata_object(&a.metadata),
            created_at: a.created_at.to_string(),
        }
    }
}

/// POST /v1/ledger/accounts
#[utoipa::path(
    post,
    path = "/v1/ledger/accounts",
    tag = "accounts",
    operation_id = "openAccount",
    summary = "Open an account",
    description = "Opens a ledger account with zero counters.",
    request_body = OpenAccountBody,
    responses(
        (status = 201, description = "The new account.", body = AccountView)
    )
)]
pub async fn open_account(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<AccountView>), ApiError> {
    let body: OpenAccountBody = parse_body(&body)?;
    let new = NewAccount {
        currency: fields::currency(&body.currency)?,
        normal_side: fields::normal_side(body.normal_side.as_deref())?,
        limit: fields::overdraft_limit(body.overdraft_limit.as_ref().map(Option::as_ref))?,
        code: fields::business_code(body.code.as_deref())?,
        metadata: fields::metadata(body.metadata.as_ref())?,
    };
    let account = state.ledger.open_account(new).await?;
    tracing::info!(account.id = %account.id, "account opened");
    Ok((StatusCode::CREATED, Json(AccountView::from(&account))))
}

/// GET /v1/ledger/accounts/{id}
#[utoipa::path(
    get,
    path = "/v1/ledger/accounts/{id}",
    tag = "accounts",
    operation_id = "getAccount",
    summary = "Get an account",
    description = "The account with its counters and balances.",
    params(
        ("id" = String, Path, description = "The account's id.", pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")
    ),
    responses(
        (status = 200, description = "The account.", body = AccountView)
    )
)]
pub async fn get_account(
    State(state): State<AppState>,
    AccountIdPath(id): AccountIdPath,
) -> Result<Json<AccountView>, ApiError> {
    let account = state.ledger.store().get_account(id).await?.ok_or_else(|| account_not_found(&id.to_string()))?;
    Ok(Json(AccountView::from(&account)))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct AccountPage {
    data: Vec<AccountView>,
    /// Pass as `after` for the next page; null when this page is the last.
    #[schema(value_type = Option<sanhu_core::AccountId>, inline)]
    next_cursor: Option<String>,
}

/// GET /v1/ledger/accounts?after=&limit=
#[utoipa::path(
    get,
    path = "/v1/ledger/accounts",
    tag = "accounts",
    operation_id = "listAccounts",
    summary = "List accounts",
    description = "Accounts in id order (which is creation order), cursor-paginated.",
    params(
        crate::query::Paging<sanhu_core::AccountId>,
    ),
    responses(
        (status = 200, description = "A page of accounts.", body = AccountPage)
    )
)]
pub async fn list_accounts(State(state): State<AppState>, query: QueryParams) -> Result<Json<AccountPage>, ApiError> {
    let query = query.only(&["after", "limit"])?;
    let limit = query.limit(state.config.page_size_max)?;
    let after = query
        .get("after")
        .map(|text| {
            ids::account_id("after", text)
                .map_err(|_| ApiError::new(code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned"))
        })
        .transpose()?;
    let accounts = state.ledger.store().list_accounts(after, limit).await?;
    let next_cursor = (accounts.len() == limit as usize).then(|| accounts.last().map(|a| a.id.to_string())).flatten();
    Ok(Json(AccountPage { data: accounts.iter().map(AccountView::from).collect(), next_cursor }))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CloseAccountRequest)]
struct CloseAccountBody {}

/// POST /v1/ledger/accounts/{id}/close: only at zero balance with nothing pending.
#[utoipa::path(
    post,
    path = "/v1/ledger/accounts/{id}/close",
    tag = "accounts",
    operation_id = "closeAccount",
    summary = "Close an account",
    description = "Closes the account; only at zero balance with nothing pending (409 `account_not_empty`, `account_has_pending`, `account_closed` otherwise). A closed account takes no transfers.",
    params(
        ("id" = String, Path, description = "The account's id.", pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")
    ),
    request_body(content = Option<CloseAccountBody>, description = "May be empty."),
    responses(
        (status = 200, description = "The closed account.", body = AccountView)
    )
)]
pub async fn close_account(
    State(state): State<AppState>,
    AccountIdPath(id): AccountIdPath,
    body: Bytes,
) -> Result<Json<AccountView>, ApiError> {
    let CloseAccountBody {} = parse_body_or_empty(&body)?;
    let outcome = state.ledger.close_account(id).await?.ok_or_else(|| account_not_found(&id.to_string()))?;
    let account = outcome.map_err(ApiError::account_close)?;
    tracing::info!(account.id = %account.id, "account closed");
    Ok(Json(AccountView::from(&account)))
}

#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AccountBlocksRequest)]
struct AccountBlocksBody {
    debits_blocked: Option<bool>,
    credits_blocked: Option<bool>,
}

/// POST /v1/ledger/accounts/{id}/blocks: blocks or unblocks debits and credits; an omitted flag is
/// left as it is.
#[utoipa::path(
    post,
    path = "/v1/ledger/accounts/{id}/blocks",
    tag = "accounts",
    operation_id = "setAccountBlocks",
    summary = "Block or unblock an account",
    description = "Blocks or unblocks debits and credits of the account. A closed account: 409 `account_closed`.

Made by a staff member, it waits for a second staff member's approval (202, an approval).",
    params(
        ("id" = String, Path, description = "The account's id.", pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")
    ),
    request_body = AccountBlocksBody,
    responses(
        (status = 200, description = "The account with its new flags.", body = AccountView)
    )
)]
pub async fn set_account_blocks(
    State(state): State<AppState>,
    AccountIdPath(id): AccountIdPath,
    body: Bytes,
) -> Result<Json<AccountView>, ApiError> {
    let body: AccountBlocksBody = parse_body(&body)?;
    let outcome = state
        .ledger
        .set_account_blocks(id, body.debits_blocked, body.credits_blocked)
        .await?
        .ok_or_else(|| account_not_found(&id.to_string()))?;
    let account = outcome.map_err(ApiError::account_close)?;
    tracing::info!(
        account.id = %account.id,
        debits_blocked = account.flags.debits_blocked,
        credits_blocked = account.flags.credits_blocked,
        "account blocks set"
    );
    Ok(Json(AccountView::from(&account)))
}

pub fn account_not_found(id: &str) -> ApiError {
    ApiError::new(code::ACCOUNT_NOT_FOUND, format!("no account has the id {id}"))
}
