//! Members' bills (用户账单) and the customer bill (客户账单): a member's bill of a month (or of a
//! range) issued on demand or by the monthly run, read with its items a page at a time; a customer's
//! bill of a month, the sum of its members' bills, for printing (see `sanhu_service::bill`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::Json;
use sanhu_core::bill::{AccountStatement, BillItem, BillPeriod, GroupTotal};
use sanhu_core::id::BillId;
use sanhu_core::PlatformMonth;
use sanhu_service::bill::{Bill, BillFailure, CustomerBill, BILL_PAGE_DEFAULT, BILL_PAGE_MAX, BILL_PERIOD_INVALID};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{code, ApiError};
use crate::ids::{CustomerIdPath, MemberIdPath};
use crate::json::parse_body;
use crate::principal::Binding;
use crate::query::QueryParams;
use crate::AppState;

const MEMBER_ID_PARAM: &str = "The member's id.";

/// One account's part of a bill, in minor units of its currency.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = BillAccount)]
pub struct BillAccountJson {
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    /// The account's type (`basic`, `bonus`, `subsidy`, ...).
    pub account_type: String,
    #[schema(value_type = sanhu_core::Currency, inline)]
    pub currency: String,
    /// The balance just before the period.
    pub opening_balance: i64,
    /// The balance at the period's end: the ledger's balance then.
    pub closing_balance: i64,
    /// Of the closing balance, what was frozen (held) at the period's end.
    #[schema(minimum = 0)]
    pub closing_frozen: i64,
    /// The items in, summed.
    #[schema(minimum = 0)]
    pub credits: i64,
    /// The items out, summed.
    #[schema(minimum = 0)]
    pub debits: i64,
    #[schema(minimum = 0)]
    pub item_count: u64,
}

impl From<&AccountStatement> for BillAccountJson {
    fn from(a: &AccountStatement) -> Self {
        BillAccountJson {
            account_id: a.account_id.to_string(),
            account_type: a.account_type.clone(),
            currency: a.currency.clone(),
            opening_balance: a.opening_balance,
            closing_balance: a.closing_balance,
            closing_frozen: a.closing_frozen,
            credits: a.credits,
            debits: a.debits,
            item_count: a.item_count,
        }
    }
}

/// A business type (业务类型) of bill items.
#[derive(Serialize, Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum BusinessType {
    Recharge,
    Payment,
    Refund,
    TransferIn,
    TransferOut,
    Withdrawal,
    Fee,
    Subsidy,
    Adjustment,
    Escrow,
    Seizure,
    Other,
}

/// Which way an item moved its account's balance.
#[derive(Serialize, Debug, ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = BillDirection)]
pub enum DirectionJson {
    In,
    Out,
}

/// A bill's items of one currency, business type and direction, totalled.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = BillTotal)]
pub struct TotalJson {
    #[schema(value_type = sanhu_core::Currency, inline)]
    pub currency: String,
    #[schema(value_type = BusinessType)]
    pub business_type: String,
    #[schema(value_type = DirectionJson)]
    pub direction: String,
    #[schema(minimum = 1)]
    pub count: u64,
    #[schema(minimum = 1)]
    pub amount: i64,
}

impl From<&GroupTotal> for TotalJson {
    fn from(t: &GroupTotal) -> Self {
        TotalJson {
            currency: t.currency.clone(),
            business_type: t.group.as_str().to_owned(),
            direction: t.direction.as_str().to_owned(),
            count: t.count,
            amount: t.amount,
        }
    }
}

/// One item of a bill: an entry of one of the member's accounts that moved its balance.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = BillItem)]
pub struct ItemJson {
    /// The ledger transfer.
    #[schema(pattern = "^tr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub transfer_id: String,
    /// When the ledger recorded it (RFC 3339, UTC).
    pub at: String,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub account_id: String,
    #[schema(value_type = BusinessType)]
    pub business_type: String,
    /// The transfer's business code as the ledger keeps it (`pay`, `recharge`, `refund`, `withdraw_fee`, ...).
    pub code: String,
    #[schema(value_type = DirectionJson)]
    pub direction: String,
    /// How much the balance moved, in minor units.
    #[schema(minimum = 1)]
    pub amount: i64,
    #[schema(pattern = "^acc_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub counterparty_account_id: String,
    /// The order (refund, withdrawal, ...) number the transfer carries.
    pub reference: Option<String>,
    /// The account's balance just after it.
    pub balance_after: i64,
}

impl From<&BillItem> for ItemJson {
    fn from(i: &BillItem) -> Self {
        ItemJson {
            transfer_id: i.transfer_id.to_string(),
            at: i.timestamp.to_string(),
            account_id: i.account_id.to_string(),
            business_type: i.group.as_str().to_owned(),
            code: i.code.clone(),
            direction: i.direction.as_str().to_owned(),
            amount: i.amount,
            counterparty_account_id: i.counterparty_account_id.to_string(),
            reference: i.reference.clone(),
            balance_after: i.balance_after,
        }
    }
}

/// A bill's period: `[from, to)`, and its month when it is a calendar month of the platform's time zone.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = BillPeriod)]
pub struct PeriodJson {
    /// `YYYY-MM`, or null for a range.
    #[schema(required, pattern = "^[0-9]{4}-[0-9]{2}$")]
    pub month: Option<String>,
    pub from: String,
    pub to: String,
}

impl From<&BillPeriod> for PeriodJson {
    fn from(p: &BillPeriod) -> Self {
        PeriodJson {
            month: p.calendar_month().map(|m| m.to_string()),
            from: p.start().to_string(),
            to: p.end().to_string(),
        }
    }
}

/// A member's bill (用户账单), without its items.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = Bill)]
pub struct BillJson {
    #[schema(pattern = "^bil_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub id: String,
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: String,
    /// The member's customer when the bill was issued.
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub customer_id: String,
    pub period: PeriodJson,
    /// The time zone the platform counts its months in.
    pub time_zone: String,
    pub accounts: Vec<BillAccountJson>,
    pub totals: Vec<TotalJson>,
    #[schema(minimum = 0)]
    pub item_count: u64,
    pub issued_at: String,
}

impl From<&Bill> for BillJson {
    fn from(b: &Bill) -> Self {
        BillJson {
            id: b.id.to_string(),
            member_id: b.member_id.to_string(),
            customer_id: b.customer_id.clone(),
            period: PeriodJson::from(&b.period),
            time_zone: b.time_zone.clone(),
            accounts: b.accounts.iter().map(BillAccountJson::from).collect(),
            totals: b.totals.iter().map(TotalJson::from).collect(),
            item_count: b.item_count,
            issued_at: b.issued_at.to_string(),
        }
    }
}

/// A bill with the first page of its items.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = BillWithItems)]
pub struct BillWithItemsJson {
    #[serde(flatten)]
    pub bill: BillJson,
    pub items: Vec<ItemJson>,
    /// Pass as `after` to `GET /v1/bills/{id}/items` for the next items; null when these are all.
    #[schema(required, pattern = "^[0-9]{1,19}$")]
    pub items_next_cursor: Option<String>,
}

/// A page of a bill's items.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = BillItemPage)]
pub struct ItemPageJson {
    pub data: Vec<ItemJson>,
    #[schema(required, pattern = "^[0-9]{1,19}$")]
    pub next_cursor: Option<String>,
}

/// A page of a member's bills, latest period first.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = BillPage)]
pub struct BillPageJson {
    pub data: Vec<BillJson>,
    #[schema(required, pattern = "^[0-9]{1,19}\\.bil_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub next_cursor: Option<String>,
}

/// What a bill is issued for: a month, or a range.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = IssueBillRequest)]
struct IssueBody {
    /// A calendar month of the platform's time zone, `YYYY-MM`. Give it, or `from` and `to`.
    #[serde(default)]
    #[schema(nullable = false, pattern = "^[0-9]{4}-[0-9]{2}$", examples("2026-11"))]
    period: Option<String>,
    /// The range's first day: its first instant (RFC 3339), a midnight of the platform's time zone.
    #[serde(default)]
    #[schema(nullable = false, examples("2026-11-01T00:00:00+08:00"))]
    from: Option<String>,
    /// The day after the range's last: its first instant (RFC 3339), a midnight of the platform's time
    /// zone; at most 367 days after `from`. Absent: the end of the last day that has closed (ended at
    /// least the server's margin for clocks, `bill_period_closed_after_s`, ago), so the same request
    /// is the same bill all day.
    #[serde(default)]
    #[schema(nullable = false, examples("2026-11-16T00:00:00+08:00"))]
    to: Option<String>,
}

fn month(text: &str) -> Result<PlatformMonth, ApiError> {
    PlatformMonth::parse(text).ok_or_else(|| ApiError::use_case(BillFailure::Rejected(BILL_PERIOD_INVALID)))
}

fn time(field: &str, text: &str) -> Result<sanhu_core::Timestamp, ApiError> {
    text.is_ascii().then(|| sanhu_core::Timestamp::parse_rfc3339(text)).flatten().ok_or_else(|| {
        ApiError::new(code::INVALID_TIME, format!("{field} must be an RFC 3339 time such as 2026-11-01T00:00:00+08:00"))
    })
}

/// POST /v1/members/{id}/bills
#[utoipa::path(
    post,
    path = "/v1/members/{id}/bills",
    tag = "bills",
    operation_id = "issueBill",
    summary = "Issue a member's bill",
    description = "The member's bill of a calendar month of the platform's time zone (`period`), or of a range of whole days (`from`, and `to` or until the last day closed; each a midnight of the platform's time zone, 422 `bill_period_invalid` otherwise), once the period has ended (409 `bill_period_not_closed` before, and for `bill_period_closed_after_s` after: 300 s unless configured). Issuing the same member and period again answers the bill issued: a bill never changes, and a correction made after the period is an item of a later bill.",
    params(("id" = String, Path, description = MEMBER_ID_PARAM, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = IssueBody,
    responses((status = 200, description = "The bill (issued now, or before).", body = BillJson)),
)]
pub async fn issue_bill(
    State(state): State<AppState>,
    MemberIdPath(member): MemberIdPath,
    body: Bytes,
) -> Result<Json<BillJson>, ApiError> {
    let body: IssueBody = parse_body(&body)?;
    let bills = state.bills();
    // The business clock (the system's, unless a test set it), as settlement's.
    let now = state.wallets().clock().now();
    let period = match (&body.period, &body.from, &body.to) {
        (Some(text), None, None) => bills.month(month(text)?)?,
        (None, Some(from), Some(to)) => bills.range(time("from", from)?, time("to", to)?)?,
        (None, Some(from), None) => bills.until_now(time("from", from)?, now)?,
        _ => return Err(ApiError::new(code::INVALID_FIELD, "give either period (YYYY-MM) or from (and to), not both")),
    };
    let bill = bills.issue(member, period, now).await?;
    tracing::info!(bill.id = %bill.id, member.id = %member, period = %bill.period, "bill issued");
    Ok(Json(BillJson::from(&bill)))
}

/// GET /v1/members/{id}/bills
#[utoipa::path(
    get,
    path = "/v1/members/{id}/bills",
    tag = "bills",
    operation_id = "listMemberBills",
    summary = "List a member's bills",
    description = "Latest period first, without their items.",
    params(
        ("id" = String, Path, description = MEMBER_ID_PARAM, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("after" = Option<String>, Query, nullable = false, pattern = "^[0-9]{1,19}\\.bil_[0-7][0-9A-HJKMNP-TV-Z]{25}$", description = "The `next_cursor` of the previous page."),
        ("limit" = Option<i64>, Query, nullable = false, description = "Bills per page, 1 to 100; 50 when absent.", minimum = 1, maximum = 100),
        ("Sanhu-Consistency" = Option<String>, Header, description = "`strong`: read the primary, never a read replica; `eventual` (the default): a read replica within the configured staleness may answer (its answer's `Sanhu-Read-From` says `replica`)."),
    ),
    responses((status = 200, description = "A page of the member's bills.", body = BillPageJson)),
)]
pub async fn member_bills(
    crate::reads::ReadsFrom(reads): crate::reads::ReadsFrom,
    MemberIdPath(member): MemberIdPath,
    query: QueryParams,
) -> Result<(crate::reads::ReadFromHeader, Json<BillPageJson>), ApiError> {
    let query = query.only(&["after", "limit"])?;
    let limit = page_limit(&query)?;
    let page = reads.member_bills(member, query.get("after"), limit).await?;
    Ok((
        crate::reads::ReadFromHeader::of(&reads),
        Json(BillPageJson { data: page.bills.iter().map(BillJson::from).collect(), next_cursor: page.next }),
    ))
}

/// GET /v1/bills/{id}
#[utoipa::path(
    get,
    path = "/v1/bills/{id}",
    tag = "bills",
    operation_id = "getBill",
    summary = "Read a bill",
    description = "With its first items (`limit`, 50 when absent); `GET /v1/bills/{id}/items` reads the rest. A client bound to a member reads that member's bills only: another's answers `bill_not_found`.",
    params(
        ("id" = String, Path, description = "The bill's id.", pattern = "^bil_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("limit" = Option<i64>, Query, nullable = false, description = "Items shown, 1 to 100; 50 when absent.", minimum = 1, maximum = 100),
        ("Sanhu-Consistency" = Option<String>, Header, description = "`strong`: read the primary, never a read replica; `eventual` (the default): a read replica within the configured staleness may answer (its answer's `Sanhu-Read-From` says `replica`)."),
    ),
    responses((status = 200, description = "The bill and its first items.", body = BillWithItemsJson)),
)]
pub async fn get_bill(
    crate::reads::ReadsFrom(reads): crate::reads::ReadsFrom,
    Binding(binding): Binding,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<(crate::reads::ReadFromHeader, Json<BillWithItemsJson>), ApiError> {
    let query = query.only(&["limit"])?;
    let limit = page_limit(&query)?;
    let id = bill_id(&id)?;
    let bill = reads.bill(id, binding).await?;
    let page = reads.bill_items(id, binding, None, limit).await?;
    Ok((
        crate::reads::ReadFromHeader::of(&reads),
        Json(BillWithItemsJson {
            bill: BillJson::from(&bill),
            items: page.items.iter().map(ItemJson::from).collect(),
            items_next_cursor: page.next,
        }),
    ))
}

/// GET /v1/bills/{id}/items
#[utoipa::path(
    get,
    path = "/v1/bills/{id}/items",
    tag = "bills",
    operation_id = "listBillItems",
    summary = "Read a bill's items",
    description = "In the bill's order: account by account (by account id), each account's oldest first.",
    params(
        ("id" = String, Path, description = "The bill's id.", pattern = "^bil_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("after" = Option<String>, Query, nullable = false, pattern = "^[0-9]{1,19}$", description = "The `next_cursor` (or `items_next_cursor`) of the previous page."),
        ("limit" = Option<i64>, Query, nullable = false, description = "Items per page, 1 to 100; 50 when absent.", minimum = 1, maximum = 100),
        ("Sanhu-Consistency" = Option<String>, Header, description = "`strong`: read the primary, never a read replica; `eventual` (the default): a read replica within the configured staleness may answer (its answer's `Sanhu-Read-From` says `replica`)."),
    ),
    responses((status = 200, description = "A page of the bill's items.", body = ItemPageJson)),
)]
pub async fn bill_items(
    crate::reads::ReadsFrom(reads): crate::reads::ReadsFrom,
    Binding(binding): Binding,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<(crate::reads::ReadFromHeader, Json<ItemPageJson>), ApiError> {
    let query = query.only(&["after", "limit"])?;
    let limit = page_limit(&query)?;
    let id = bill_id(&id)?;
    let page = reads.bill_items(id, binding, query.get("after"), limit).await?;
    Ok((
        crate::reads::ReadFromHeader::of(&reads),
        Json(ItemPageJson { data: page.items.iter().map(ItemJson::from).collect(), next_cursor: page.next }),
    ))
}

/// One currency's sums in a customer bill.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CustomerBillSums)]
pub struct SumsJson {
    #[schema(value_type = sanhu_core::Currency, inline)]
    pub currency: String,
    pub opening_balance: i64,
    pub closing_balance: i64,
    #[schema(minimum = 0)]
    pub closing_frozen: i64,
    #[schema(minimum = 0)]
    pub credits: i64,
    #[schema(minimum = 0)]
    pub debits: i64,
    #[schema(minimum = 0)]
    pub item_count: u64,
}

/// A member of the customer and its bill of the month.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CustomerBillMember)]
pub struct CustomerBillMemberJson {
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub member_id: String,
    /// Its bill of the month; null when none was issued (no movement and no money in the month, or
    /// not issued yet): it is then not in the sums.
    #[schema(required, pattern = "^bil_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub bill_id: Option<String>,
}

/// A customer bill (客户账单): the arithmetic sum of its members' bills of a month, for printing.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = CustomerBill)]
pub struct CustomerBillJson {
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub customer_id: String,
    pub period: PeriodJson,
    pub members: Vec<CustomerBillMemberJson>,
    /// The members' accounts' balances and items, summed per currency.
    pub sums: Vec<SumsJson>,
    /// The members' bills' totals, summed.
    pub totals: Vec<TotalJson>,
}

impl From<&CustomerBill> for CustomerBillJson {
    fn from(c: &CustomerBill) -> Self {
        CustomerBillJson {
            customer_id: c.customer_id.to_string(),
            period: PeriodJson::from(&c.period),
            members: c
                .members
                .iter()
                .map(|(member, bill)| CustomerBillMemberJson {
                    member_id: member.to_string(),
                    bill_id: bill.map(|b| b.to_string()),
                })
                .collect(),
            sums: c
                .sums
                .iter()
                .map(|s| SumsJson {
                    currency: s.currency.clone(),
                    opening_balance: s.opening_balance,
                    closing_balance: s.closing_balance,
                    closing_frozen: s.closing_frozen,
                    credits: s.credits,
                    debits: s.debits,
                    item_count: s.item_count,
                })
                .collect(),
            totals: c.totals.iter().map(TotalJson::from).collect(),
        }
    }
}

/// GET /v1/customers/{id}/bills?period=YYYY-MM (or from=&to=)
#[utoipa::path(
    get,
    path = "/v1/customers/{id}/bills",
    tag = "bills",
    operation_id = "getCustomerBill",
    summary = "Read a customer's bill of a month",
    description = "The sum of the bills its members (those it has now: after a merge, the merged members too) have for the month, for printing; not kept. Members without a bill of the month are listed with `bill_id` null and left out of the sums.",
    params(
        ("id" = String, Path, description = "The customer's id.", pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("period" = Option<String>, Query, nullable = false, description = "A calendar month of the platform's time zone, `YYYY-MM`. Give it, or `from` and `to`.", pattern = "^[0-9]{4}-[0-9]{2}$"),
        ("from" = Option<String>, Query, nullable = false, description = "A range's first instant (RFC 3339, a midnight of the platform's time zone): the members' bills of exactly this range are summed."),
        ("to" = Option<String>, Query, nullable = false, description = "The instant after the range's last (RFC 3339, a midnight of the platform's time zone)."),
    ),
    responses((status = 200, description = "The customer bill.", body = CustomerBillJson)),
)]
pub async fn customer_bill(
    State(state): State<AppState>,
    CustomerIdPath(customer): CustomerIdPath,
    query: QueryParams,
) -> Result<Json<CustomerBillJson>, ApiError> {
    let query = query.only(&["period", "from", "to"])?;
    let bills = state.bills();
    let period = match (query.get("period"), query.time("from")?, query.time("to")?) {
        (Some(text), None, None) => bills.month(month(text)?)?,
        (None, Some(from), Some(to)) => bills.range(from, to)?,
        (None, None, None) => {
            return Err(ApiError::new(
                code::MISSING_PARAMETER,
                "the query parameter `period` (or `from` and `to`) is required",
            ))
        }
        _ => return Err(ApiError::new(code::INVALID_QUERY, "give either period or both from and to")),
    };
    let bill = bills.customer_bill(customer, period).await?;
    Ok(Json(CustomerBillJson::from(&bill)))
}

fn bill_id(text: &str) -> Result<BillId, ApiError> {
    BillId::parse(text)
        .ok_or_else(|| ApiError::new(code::INVALID_ID, "the bill id in the path is not bil_ and 26 characters"))
}

fn page_limit(query: &QueryParams) -> Result<u32, ApiError> {
    match query.get("limit") {
        None => Ok(BILL_PAGE_DEFAULT),
        Some(_) => query.limit(BILL_PAGE_MAX),
    }
}
