//! A member's wallet (钱包): its figures (balance, available, frozen, incoming, withdrawable, debt)
//! and each account's part; its merged flow (资金流水); the member's own deduction order (扣款顺序);
//! a withdrawal's preview.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use sanhu_core::wallet::{AccountOrder, FeePayer, WalletView};
use sanhu_service::wallet::{Counterparty, FlowCursor, FlowQuery, FLOW_PAGE_LINES_MAX};
use serde::{Deserialize, Serialize};

use super::amount;
use crate::error::ApiError;
use crate::ids::{self, MemberIdPath};
use crate::json::parse_body;
use crate::party::{run, ClientActor};
use crate::query::QueryParams;
use crate::AppState;

/// A member's wallet, in minor units of its currency.
#[derive(Serialize, Debug)]
pub struct WalletJson {
    pub member_id: String,
    pub currency: String,
    /// The sum of the accounts' balances; an account in debt lowers it.
    pub balance: i64,
    /// Balance less frozen.
    pub available: i64,
    /// Held by pending debits (payments authorised, withdrawals applied for, freezes).
    pub frozen: i64,
    /// Pending credits not yet the member's.
    pub incoming: i64,
    /// What may be withdrawn now: accounts of withdrawable types holding at least the minimum.
    pub withdrawable: i64,
    /// What the member owes, as a positive amount.
    pub debt: i64,
    pub accounts: Vec<WalletAccountJson>,
}

/// One account's part of the wallet.
#[derive(Serialize, Debug)]
pub struct WalletAccountJson {
    pub account_id: String,
    pub account_type: String,
    pub balance: i64,
    pub available: i64,
    pub frozen: i64,
    pub incoming: i64,
    pub withdrawable: i64,
    pub debt: i64,
}

impl WalletJson {
    fn of(member_id: String, view: &WalletView) -> WalletJson {
        WalletJson {
            member_id,
            currency: view.currency.code().to_owned(),
            balance: view.balance,
            available: view.available,
            frozen: view.frozen,
            incoming: view.incoming,
            withdrawable: view.withdrawable,
            debt: view.debt,
            accounts: view
                .parts
                .iter()
                .map(|p| WalletAccountJson {
                    account_id: p.account_id.to_string(),
                    account_type: p.account_type.as_str().to_owned(),
                    balance: p.balance,
                    available: p.available,
                    frozen: p.frozen,
                    incoming: p.incoming,
                    withdrawable: p.withdrawable,
                    debt: p.debt,
                })
                .collect(),
        }
    }
}

/// GET /v1/members/{id}/wallet
pub async fn get_wallet(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<WalletJson>, ApiError> {
    let view = state.wallets().wallet(id).await?;
    Ok(Json(WalletJson::of(id.to_string(), &view)))
}

/// The member's deduction order: the accounts it chose, first to last; empty when it follows the
/// account types' default priority.
#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct DeductionOrderJson {
    pub account_ids: Vec<String>,
}

impl From<&AccountOrder> for DeductionOrderJson {
    fn from(order: &AccountOrder) -> DeductionOrderJson {
        DeductionOrderJson { account_ids: order.accounts().iter().map(ToString::to_string).collect() }
    }
}

/// GET /v1/members/{id}/wallet/deduction-order
pub async fn get_deduction_order(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<DeductionOrderJson>, ApiError> {
    let order = state.wallets().deduction_order(id).await?;
    Ok(Json(DeductionOrderJson::from(&order)))
}

/// POST /v1/members/{id}/wallet/deduction-order: the accounts payments take from first, in order;
/// an empty list returns to the types' default priority.
pub async fn set_deduction_order(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<Json<DeductionOrderJson>, ApiError> {
    let body: DeductionOrderJson = parse_body(&body)?;
    let accounts = body
        .account_ids
        .iter()
        .enumerate()
        .map(|(i, text)| ids::account_id(&format!("account_ids[{i}]"), text))
        .collect::<Result<Vec<_>, _>>()?;
    let wallets = state.wallets().clone();
    let order = run(move || async move { wallets.set_deduction_order(id, accounts, &actor).await }).await?;
    tracing::info!(member.id = %id, accounts = order.accounts().len(), "deduction order set");
    Ok(Json(DeductionOrderJson::from(&order)))
}

/// What a withdrawal of an amount would take from which account, and its fee.
#[derive(Serialize, Debug)]
pub struct WithdrawalPreviewJson {
    pub amount: i64,
    pub allocations: Vec<PartJson>,
    pub fee: i64,
    /// `member` (taken from the amount) or `platform`.
    pub fee_paid_by: &'static str,
    /// What reaches the bank card.
    pub payout: i64,
}

/// An amount taken from or given back to one account.
#[derive(Serialize, Debug)]
pub struct PartJson {
    pub account_id: String,
    pub amount: i64,
}

pub fn fee_payer(payer: FeePayer) -> &'static str {
    match payer {
        FeePayer::Member => "member",
        FeePayer::Platform => "platform",
    }
}

/// GET /v1/members/{id}/wallet/withdrawal-preview?amount=800
pub async fn withdrawal_preview(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
    query: QueryParams,
) -> Result<Json<WithdrawalPreviewJson>, ApiError> {
    let query = query.only(&["amount"])?;
    let text = query.required("amount")?;
    let number: serde_json::Number = text
        .parse()
        .map_err(|_| ApiError::new(crate::error::code::INVALID_QUERY, "amount must be an integer of minor units"))?;
    let amount = amount("amount", &number)?;
    let preview = state.wallets().preview_withdrawal(id, amount).await?;
    Ok(Json(WithdrawalPreviewJson {
        amount: preview.amount.get(),
        allocations: preview
            .allocations
            .iter()
            .map(|d| PartJson { account_id: d.account_id.to_string(), amount: d.amount.get() })
            .collect(),
        fee: preview.fee,
        fee_paid_by: fee_payer(preview.fee_payer),
        payout: preview.payout.get(),
    }))
}

/// One line of a member's merged flow (资金流水).
#[derive(Serialize, Debug)]
pub struct FlowLineJson {
    pub transfer_id: String,
    pub at: String,
    /// The member's account the line is about, and its type.
    pub account_id: String,
    pub account_type: String,
    /// The business code of the movement: `recharge`, `pay`, `refund`, `withdraw`, `transfer`, ...
    pub business_type: String,
    /// posted, frozen, frozen_posted, released or expired.
    pub movement: &'static str,
    /// in or out.
    pub direction: &'static str,
    pub amount: i64,
    /// The fee the member paid on it (a withdrawal's).
    pub fee: i64,
    pub counterparty: CounterpartyJson,
    /// The caller's order number.
    pub reference: Option<String>,
    pub balance_after: i64,
    pub available_after: i64,
}

/// Who the money came from or went to.
#[derive(Serialize, Debug)]
pub struct CounterpartyJson {
    /// member, platform or account.
    pub kind: &'static str,
    pub account_id: String,
    pub member_id: Option<String>,
    /// A platform account's name.
    pub name: Option<String>,
}

/// A page of the flow, newest first.
#[derive(Serialize, Debug)]
pub struct FlowPageJson {
    pub data: Vec<FlowLineJson>,
    /// Pass as `after` for the next (older) page; null when this page is the last.
    pub next_cursor: Option<String>,
}

/// The flow's page size when `limit` is not given.
const FLOW_PAGE_DEFAULT: u32 = 20;

/// GET /v1/members/{id}/wallet/flow?after=&limit=: every movement of the wallet's accounts, newest
/// first.
pub async fn wallet_flow(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
    query: QueryParams,
) -> Result<Json<FlowPageJson>, ApiError> {
    let query = query.only(&["after", "limit"])?;
    let limit = match query.get("limit") {
        None => FLOW_PAGE_DEFAULT,
        Some(_) => query.limit(FLOW_PAGE_LINES_MAX)?,
    };
    let after = query
        .get("after")
        .map(|text| {
            FlowCursor::parse(text).map_err(|_| {
                ApiError::new(crate::error::code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned")
            })
        })
        .transpose()?;
    let page = state.wallets().wallet_flow(id, &FlowQuery { after, limit }).await?;
    Ok(Json(FlowPageJson {
        data: page
            .lines
            .iter()
            .map(|l| FlowLineJson {
                transfer_id: l.transfer_id.to_string(),
                at: l.timestamp.to_string(),
                account_id: l.account_id.to_string(),
                account_type: l.account_type.clone(),
                business_type: l.business_type.clone(),
                movement: l.movement.as_str(),
                direction: l.direction.as_str(),
                amount: l.amount,
                fee: l.fee,
                counterparty: match &l.counterparty {
                    Counterparty::Member { member_id, account_id } => CounterpartyJson {
                        kind: "member",
                        account_id: account_id.to_string(),
                        member_id: Some(member_id.to_string()),
                        name: None,
                    },
                    Counterparty::Platform { name, account_id } => CounterpartyJson {
                        kind: "platform",
                        account_id: account_id.to_string(),
                        member_id: None,
                        name: Some(name.clone()),
                    },
                    Counterparty::Account { account_id } => CounterpartyJson {
                        kind: "account",
                        account_id: account_id.to_string(),
                        member_id: None,
                        name: None,
                    },
                },
                reference: l.reference.clone(),
                balance_after: l.balance_after,
                available_after: l.available_after,
            })
            .collect(),
        next_cursor: page.next.map(|c| c.to_string()),
    }))
}
