//! Balances: one account's, now or at a past instant, and several accounts' read together.

use axum::extract::State;
use axum::Json;
use sanhu_core::ledger::{Account, Counters};
use sanhu_core::AccountId;
use sanhu_service::clock;
use sanhu_store::LedgerStore;
use serde::Serialize;

use super::accounts::account_not_found;
use crate::error::{code, ApiError};
use crate::ids::{self, AccountIdPath};
use crate::query::QueryParams;
use crate::state::AppState;

/// Most accounts one multi-account balance read names.
pub const BALANCES_ACCOUNTS_MAX: usize = 100;

#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = Balance)]
pub struct BalanceView {
    #[schema(value_type = sanhu_core::AccountId, inline)]
    account_id: String,
    #[schema(value_type = sanhu_core::Currency, inline)]
    currency: String,
    /// The instant the balance is of (RFC 3339).
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    at: String,
    balance: i64,
    available: i64,
    #[schema(minimum = 0)]
    debits_pending: i64,
    #[schema(minimum = 0)]
    debits_posted: i64,
    #[schema(minimum = 0)]
    credits_pending: i64,
    #[schema(minimum = 0)]
    credits_posted: i64,
}

impl BalanceView {
    fn of(account: &Account, counters: Counters, at: String) -> BalanceView {
        BalanceView {
            account_id: account.id.to_string(),
            currency: account.currency.code().to_owned(),
            at,
            balance: counters.balance(account.normal_side),
            available: counters.available(account.normal_side),
            debits_pending: counters.debits_pending,
            debits_posted: counters.debits_posted,
            credits_pending: counters.credits_pending,
            credits_posted: counters.credits_posted,
        }
    }
}

/// GET /v1/ledger/accounts/{id}/balance?at=: the balance just after the last transfer at or before
/// `at`, or now. Read from the entries' stored counters, not recomputed.
#[utoipa::path(
    get,
    path = "/v1/ledger/accounts/{id}/balance",
    tag = "balances",
    operation_id = "getAccountBalance",
    summary = "Get an account's balance",
    description = "The balance now, or at a past instant (just after the last transfer at or before it), read from the stored entries.",
    params(
        ("id" = String, Path, description = "The account's id.", pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("at" = Option<String>, Query, format = DateTime, description = "RFC 3339 instant; omitted: now.")
    ),
    responses(
        (status = 200, description = "The balance.", body = BalanceView)
    )
)]
pub async fn account_balance(
    State(state): State<AppState>,
    AccountIdPath(id): AccountIdPath,
    query: QueryParams,
) -> Result<Json<BalanceView>, ApiError> {
    let query = query.only(&["at"])?;
    let at = query.time("at")?;
    let store = state.ledger.store();
    let read_at = clock::now();
    let account = store.get_account(id).await?.ok_or_else(|| account_not_found(&id.to_string()))?;
    let view = match at {
        Some(at) => BalanceView::of(&account, store.counters_at(id, at).await?, at.to_string()),
        None => BalanceView::of(&account, account.counters, read_at.to_string()),
    };
    Ok(Json(view))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct BalanceList {
    data: Vec<BalanceView>,
    /// When the snapshot was read; every balance is as of that one instant.
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    read_at: String,
}

/// GET /v1/ledger/balances?account_ids=acc_1,acc_2: several balances consistent with each other
/// (read in one snapshot), in the order asked for.
#[utoipa::path(
    get,
    path = "/v1/ledger/balances",
    tag = "balances",
    operation_id = "getBalances",
    summary = "Get several balances",
    description = "The current balances of 1 to 100 accounts, read in one snapshot so that they are consistent with each other. An unknown id: 404 `account_not_found` naming the first.",
    params(
        ("account_ids" = String, Query, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}(,acc_[0-7][0-9A-HJKMNP-TV-Z]{25}){0,99}$", description = "Comma-separated account ids, 1 to 100 (`invalid_account_ids` otherwise).")
    ),
    responses(
        (status = 200, description = "The balances, in the order asked for.", body = BalanceList)
    )
)]
pub async fn balances(State(state): State<AppState>, query: QueryParams) -> Result<Json<BalanceList>, ApiError> {
    let query = query.only(&["account_ids"])?;
    let text = query.required("account_ids")?;
    let parts: Vec<&str> = if text.is_empty() { Vec::new() } else { text.split(',').collect() };
    if !(1..=BALANCES_ACCOUNTS_MAX).contains(&parts.len()) {
        return Err(ApiError::new(
            code::INVALID_ACCOUNT_IDS,
            format!(
                "account_ids must list 1 to {BALANCES_ACCOUNTS_MAX} comma-separated account ids, not {}",
                parts.len()
            ),
        ));
    }
    let requested = parts
        .iter()
        .enumerate()
        .map(|(index, part)| ids::account_id(&format!("account_ids[{index}]"), part))
        .collect::<Result<Vec<AccountId>, ApiError>>()?;
    let mut distinct = requested.clone();
    distinct.sort();
    distinct.dedup();

    let read_at = clock::now();
    let accounts = state.ledger.store().get_accounts(&distinct).await?;
    let mut data = Vec::with_capacity(requested.len());
    for id in &requested {
        let account = accounts.iter().find(|a| a.id == *id).ok_or_else(|| account_not_found(&id.to_string()))?;
        data.push(BalanceView::of(account, account.counters, read_at.to_string()));
    }
    Ok(Json(BalanceList { data, read_at: read_at.to_string() }))
}
