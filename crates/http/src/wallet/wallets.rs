//! A member's wallet (钱包): its figures (balance, available, frozen, incoming, withdrawable, debt)
//! and each account's part; its merged flow (资金流水); the member's own deduction order (扣款顺序);
//! a withdrawal's preview.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use sanhu_core::wallet::{AccountOrder, FeePayer, WalletView};
use sanhu_service::wallet::{Counterparty, FlowCursor, FlowDirection, FlowMovement, FlowQuery, FLOW_PAGE_LINES_MAX};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::amount;
use crate::error::ApiError;
use crate::ids::{self, MemberIdPath};
use crate::json::parse_body;
use crate::party::{run, ClientActor};
use crate::query::QueryParams;
use crate::AppState;

/// A member's wallet (钱包), in minor units of its currency.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Wallet)]
pub struct WalletJson {
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: String,
    #[schema(value_type = sanhu_core::Currency, inline)]
    pub currency: String,
    /// The sum of the accounts' balances; an account in debt lowers it.
    pub balance: i64,
    /// Balance less frozen.
    pub available: i64,
    /// Held by pending debits (payments authorised, withdrawals applied for, freezes).
    #[schema(minimum = 0)]
    pub frozen: i64,
    /// Pending credits not yet the member's.
    #[schema(minimum = 0)]
    pub incoming: i64,
    /// What may be withdrawn now: accounts of withdrawable types holding at least the minimum.
    #[schema(minimum = 0)]
    pub withdrawable: i64,
    /// What the member owes, as a positive amount.
    #[schema(minimum = 0)]
    pub debt: i64,
    pub accounts: Vec<WalletAccountJson>,
}

/// One account's part of the wallet.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = WalletAccount)]
pub struct WalletAccountJson {
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    #[schema(pattern = "^[a-z][a-z0-9_]{0,31}$")]
    pub account_type: String,
    pub balance: i64,
    pub available: i64,
    #[schema(minimum = 0)]
    pub frozen: i64,
    #[schema(minimum = 0)]
    pub incoming: i64,
    #[schema(minimum = 0)]
    pub withdrawable: i64,
    #[schema(minimum = 0)]
    pub debt: i64,
}

impl WalletJson {
    pub(crate) fn of(member_id: String, view: &WalletView) -> WalletJson {
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
#[utoipa::path(
    get,
    path = "/v1/members/{id}/wallet",
    tag = "wallet",
    operation_id = "getWallet",
    summary = "Read a member's wallet",
    description = "Balance, available, frozen, incoming, withdrawable and debt, and each account's part.",
    params(
        ("id" = String, Path, description = super::MEMBER_ID_PARAM, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The wallet.", body = WalletJson)),
)]
pub async fn get_wallet(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<WalletJson>, ApiError> {
    let view = state.wallets().wallet(id).await?;
    Ok(Json(WalletJson::of(id.to_string(), &view)))
}

/// The member's deduction order: the accounts it chose, first to last; empty when it follows the
/// account types' default priority.
#[derive(Serialize, Deserialize, Debug, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DeductionOrder)]
pub struct DeductionOrderJson {
    /// The accounts payments take from first, in order; empty: the account types' default priority.
    #[schema(inline, value_type = Vec<AccountIdText>)]
    pub account_ids: Vec<String>,
}

impl From<&AccountOrder> for DeductionOrderJson {
    fn from(order: &AccountOrder) -> DeductionOrderJson {
        DeductionOrderJson { account_ids: order.accounts().iter().map(ToString::to_string).collect() }
    }
}

/// An account's id (the schema of an item of a list of them).
#[derive(ToSchema)]
#[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
#[allow(dead_code)]
pub struct AccountIdText(String);

/// GET /v1/members/{id}/wallet/deduction-order
#[utoipa::path(
    get,
    path = "/v1/members/{id}/wallet/deduction-order",
    tag = "wallet",
    operation_id = "getDeductionOrder",
    summary = "Read a member's deduction order",
    description = "The accounts the member chose to pay from first; empty when it follows the account types' priority.",
    params(
        ("id" = String, Path, description = super::MEMBER_ID_PARAM, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses((status = 200, description = "The order.", body = DeductionOrderJson)),
)]
pub async fn get_deduction_order(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<DeductionOrderJson>, ApiError> {
    let order = state.wallets().deduction_order(id).await?;
    Ok(Json(DeductionOrderJson::from(&order)))
}

/// POST /v1/members/{id}/wallet/deduction-order: the accounts payments take from first, in order;
/// an empty list returns to the types' default priority.
#[utoipa::path(
    post,
    path = "/v1/members/{id}/wallet/deduction-order",
    tag = "wallet",
    operation_id = "setDeductionOrder",
    summary = "Set a member's deduction order",
    description = "Each account at most once, each one of the wallet's (`deduction_order_invalid`, `account_not_in_wallet`); an empty list returns to the types' priority.",
    params(
        ("id" = String, Path, description = super::MEMBER_ID_PARAM, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = DeductionOrderJson,
    responses((status = 200, description = "The order.", body = DeductionOrderJson)),
)]
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
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = WithdrawalPreview)]
pub struct WithdrawalPreviewJson {
    #[schema(minimum = 0)]
    pub amount: i64,
    pub allocations: Vec<PartJson>,
    #[schema(minimum = 0)]
    pub fee: i64,
    pub fee_paid_by: FeePaidBy,
    /// What reaches the bank card.
    #[schema(minimum = 0)]
    pub payout: i64,
}

/// An amount taken from or given back to one account, in minor units.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Part)]
pub struct PartJson {
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    #[schema(minimum = 0)]
    pub amount: i64,
}

/// Who bears a fee: `member` (taken from the amount, or credited the amount less the fee) or
/// `platform`.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FeePaidBy {
    Member,
    Platform,
}

pub fn fee_payer(payer: FeePayer) -> FeePaidBy {
    match payer {
        FeePayer::Member => FeePaidBy::Member,
        FeePayer::Platform => FeePaidBy::Platform,
    }
}

impl FeePaidBy {
    /// Who bore the fee of an order that recorded whether the member did.
    pub fn member_if(by_member: bool) -> FeePaidBy {
        if by_member {
            FeePaidBy::Member
        } else {
            FeePaidBy::Platform
        }
    }
}

/// GET /v1/members/{id}/wallet/withdrawal-preview?amount=800
#[utoipa::path(
    get,
    path = "/v1/members/{id}/wallet/withdrawal-preview",
    tag = "wallet",
    operation_id = "previewWithdrawal",
    summary = "Preview a withdrawal",
    description = "Which account gives how much, in the wallet's withdrawal order, and the fee (`below_minimum_withdrawal`, `not_withdrawable`, `exceeds_withdrawable`).",
    params(
        ("id" = String, Path, description = super::MEMBER_ID_PARAM, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("amount" = i64, Query, description = "The amount to withdraw, in minor units.", minimum = 1, maximum = 9223372036854775807i64),
    ),
    responses((status = 200, description = "The allocation.", body = WithdrawalPreviewJson)),
)]
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

/// One line of a member's merged flow (资金流水): one movement of one of the wallet's accounts.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = FlowLine)]
pub struct FlowLineJson {
    #[schema(pattern = "^tr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub transfer_id: String,
    #[schema(format = DateTime)]
    pub at: String,
    /// The member's account the line is about, and its type.
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    #[schema(pattern = "^[a-z][a-z0-9_]{0,31}$")]
    pub account_type: String,
    /// The business code of the movement: `recharge`, `pay`, `refund`, `withdraw`, `transfer`, ...
    #[schema(pattern = "^[a-z0-9_.]{1,32}$")]
    pub business_type: String,
    /// posted, frozen, frozen_posted, released or expired.
    pub movement: FlowMovement,
    /// in or out.
    pub direction: FlowDirection,
    #[schema(minimum = 0)]
    pub amount: i64,
    /// The fee the member paid on it (a withdrawal's).
    #[schema(minimum = 0)]
    pub fee: i64,
    pub counterparty: CounterpartyJson,
    /// The caller's order number (a withdrawal's with its `-1`, `-2`... per account).
    #[schema(required, pattern = "^[!-~]{1,68}$")]
    pub reference: Option<String>,
    /// The enterprise member's operator who made the order; null when none was named.
    #[schema(required, pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub operator_id: Option<String>,
    /// The receiving merchant's store where the order was paid; null when it named none.
    #[schema(required, pattern = "^sto_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub store_id: Option<String>,
    /// The store's terminal that sent the order; null when it named none.
    #[schema(required, pattern = "^trm_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub terminal_id: Option<String>,
    pub balance_after: i64,
    pub available_after: i64,
}

/// Who the money came from or went to.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Counterparty)]
pub struct CounterpartyJson {
    pub kind: CounterpartyKind,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    #[schema(required, value_type = Option<sanhu_core::id::MemberId>, inline)]
    pub member_id: Option<String>,
    /// A platform account's name.
    #[schema(required, pattern = "^(channel:.+|subsidy:mem_[0-7][0-9A-HJKMNP-TV-Z]{25}|[a-z_]+)$")]
    pub name: Option<String>,
}

/// What the other side of a movement is: a member's account, a platform account, or another
/// account of the ledger.
#[derive(Serialize, Debug, Clone, Copy, PartialEq, Eq, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CounterpartyKind {
    Member,
    Platform,
    Account,
}

/// A page of the flow, newest first.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = FlowPage)]
pub struct FlowPageJson {
    pub data: Vec<FlowLineJson>,
    /// Pass as `after` for the next (older) page; null when this page is the last.
    #[schema(required, pattern = "^[0-9]{1,19}\\.acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub next_cursor: Option<String>,
}

/// The flow's page size when `limit` is not given.
const FLOW_PAGE_DEFAULT: u32 = 20;

/// GET /v1/members/{id}/wallet/flow?account_id=&after=&limit=: every movement of the wallet's accounts
/// (or of one of them), newest first.
#[utoipa::path(
    get,
    path = "/v1/members/{id}/wallet/flow",
    tag = "wallet",
    operation_id = "getWalletFlow",
    summary = "Read a member's flow",
    description = "Every movement of the wallet's accounts, newest first, with business type, counterparty, direction, amount, fee and balances after.",
    params(
        ("id" = String, Path, description = super::MEMBER_ID_PARAM, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("account_id" = Option<String>, Query, nullable = false, pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$", description = "Only this account's lines: one of the member's wallet accounts (`flow_account_not_found` otherwise)."),
        ("after" = Option<String>, Query, nullable = false, pattern = "^[0-9]{1,19}\\.acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$", description = "The `next_cursor` of the previous page."),
        ("limit" = Option<i64>, Query, nullable = false, description = "Lines per page, 1 to 100; 20 when absent.", minimum = 1, maximum = 100),
        ("Sanhu-Consistency" = Option<String>, Header, description = "`strong`: read the primary, never a read replica; `eventual` (the default): a read replica within the configured staleness may answer (its answer's `Sanhu-Read-From` says `replica`)."),
    ),
    responses((status = 200, description = "A page of the flow.", body = FlowPageJson)),
)]
pub async fn wallet_flow(
    crate::reads::ReadsFrom(reads): crate::reads::ReadsFrom,
    MemberIdPath(id): MemberIdPath,
    query: QueryParams,
) -> Result<(crate::reads::ReadFromHeader, Json<FlowPageJson>), ApiError> {
    let query = query.only(&["account_id", "after", "limit"])?;
    let account = query.get("account_id").map(|text| crate::ids::account_id("account_id", text)).transpose()?;
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
    let page = reads.wallet_flow(id, &FlowQuery { account, after, limit }).await?;
    Ok((
        crate::reads::ReadFromHeader::of(&reads),
        Json(FlowPageJson {
            data: page
                .lines
                .iter()
                .map(|l| FlowLineJson {
                    transfer_id: l.transfer_id.to_string(),
                    at: l.timestamp.to_string(),
                    account_id: l.account_id.to_string(),
                    account_type: l.account_type.clone(),
                    business_type: l.business_type.clone(),
                    movement: l.movement,
                    direction: l.direction,
                    amount: l.amount,
                    fee: l.fee,
                    counterparty: match &l.counterparty {
                        Counterparty::Member { member_id, account_id } => CounterpartyJson {
                            kind: CounterpartyKind::Member,
                            account_id: account_id.to_string(),
                            member_id: Some(member_id.to_string()),
                            name: None,
                        },
                        Counterparty::Platform { name, account_id } => CounterpartyJson {
                            kind: CounterpartyKind::Platform,
                            account_id: account_id.to_string(),
                            member_id: None,
                            name: Some(name.clone()),
                        },
                        Counterparty::Account { account_id } => CounterpartyJson {
                            kind: CounterpartyKind::Account,
                            account_id: account_id.to_string(),
                            member_id: None,
                            name: None,
                        },
                    },
                    reference: l.reference.clone(),
                    operator_id: l.operator_id.clone(),
                    store_id: l.store_id.clone(),
                    terminal_id: l.terminal_id.clone(),
                    balance_after: l.balance_after,
                    available_after: l.available_after,
                })
                .collect(),
            next_cursor: page.next.map(|c| c.to_string()),
        }),
    ))
}
