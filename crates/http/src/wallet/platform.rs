//! The platform's own accounts (平台账户): the other side of every movement of members' money
//! (channel clearing, fee income and expense, marketing expense, withdrawals in transit, seized,
//! adjustments, deposits, enterprises' subsidy funding), with their balances.

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::ledger::accounts::AccountView;
use crate::AppState;

/// A platform account: its name and its ledger account.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = PlatformAccount)]
pub struct PlatformAccountView {
    /// `channel:<name>`, `fee_income`, `fee_expense`, `marketing_expense`, `withdrawals_in_transit`,
    /// `seized`, `adjustments`, `deposits` or `subsidy:<mem_…>`.
    #[schema(
        pattern = "^(channel:.+|subsidy:mem_[0-7][0-9A-HJKMNP-TV-Z]{25}|[a-z_]+)$",
        examples("fee_income", "channel:alipay")
    )]
    pub name: String,
    pub account: AccountView,
}

/// Every platform account, by name.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = PlatformAccountList)]
pub struct PlatformAccountList {
    pub data: Vec<PlatformAccountView>,
}

/// GET /v1/platform-accounts: every platform account, by name.
#[utoipa::path(
    get,
    path = "/v1/platform-accounts",
    tag = "wallet",
    operation_id = "listPlatformAccounts",
    summary = "List the platform's accounts",
    description = "Every platform account (channel clearing, fee income and expense, marketing expense, withdrawals in transit, seized, adjustments, subsidy funding) with its balances, by name.",
    responses((status = 200, description = "The accounts.", body = PlatformAccountList)),
)]
pub async fn platform_accounts(State(state): State<AppState>) -> Result<Json<PlatformAccountList>, ApiError> {
    let accounts = state.wallets().platform_accounts().await?;
    Ok(Json(PlatformAccountList {
        data: accounts
            .iter()
            .map(|a| PlatformAccountView { name: a.name.clone(), account: AccountView::from(&a.account) })
            .collect(),
    }))
}
