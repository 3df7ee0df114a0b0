//! The platform's own accounts (平台账户): the other side of every movement of members' money
//! (channel clearing, fee income and expense, marketing expense, withdrawals in transit, seized,
//! adjustments, deposits, enterprises' subsidy funding), with their balances.

use axum::extract::State;
use axum::Json;
use serde::Serialize;

use crate::error::ApiError;
use crate::ledger::accounts::AccountView;
use crate::party::List;
use crate::AppState;

/// A platform account: its name and its ledger account.
#[derive(Serialize, Debug)]
pub struct PlatformAccountView {
    /// `channel:<name>`, `fee_income`, `fee_expense`, `marketing_expense`, `withdrawals_in_transit`,
    /// `seized`, `adjustments`, `deposits` or `subsidy:<mem_…>`.
    pub name: String,
    pub account: AccountView,
}

/// GET /v1/platform-accounts: every platform account, by name.
pub async fn platform_accounts(State(state): State<AppState>) -> Result<Json<List<PlatformAccountView>>, ApiError> {
    let accounts = state.wallets().platform_accounts().await?;
    Ok(Json(List {
        data: accounts
            .iter()
            .map(|a| PlatformAccountView { name: a.name.clone(), account: AccountView::from(&a.account) })
            .collect(),
    }))
}
