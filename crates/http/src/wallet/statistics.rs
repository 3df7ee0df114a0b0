//! The back office's reads across members: the money that moved per platform day of a month, and
//! orders of each kind searched by member, number, status and date (`sanhu_service::wallet`'s
//! `month_figures` and `search_orders`). Platform routes: a client bound to a member never reaches
//! them.

use axum::extract::State;
use axum::Json;
use sanhu_core::PlatformMonth;
use sanhu_service::wallet::{FlowFigures, OrderKind, OrderSearch, OrderSummary};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{code, ApiError};
use crate::query::QueryParams;
use crate::AppState;

/// How many orders and how much money (minor units).
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = FlowFigure)]
pub struct FigureJson {
    #[schema(minimum = 0)]
    count: i64,
    amount: i64,
}

/// The four flows' figures of a period.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = FlowFigures)]
pub struct FiguresJson {
    recharges: FigureJson,
    payments: FigureJson,
    refunds: FigureJson,
    withdrawals: FigureJson,
}

impl From<&FlowFigures> for FiguresJson {
    fn from(f: &FlowFigures) -> FiguresJson {
        let one = |f: sanhu_service::wallet::Figure| FigureJson { count: f.count, amount: f.amount };
        FiguresJson {
            recharges: one(f.recharges),
            payments: one(f.payments),
            refunds: one(f.refunds),
            withdrawals: one(f.withdrawals),
        }
    }
}

/// One platform day's figures.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = DayFigures)]
pub struct DayJson {
    /// The platform's date.
    #[schema(format = Date, examples("2026-12-07"))]
    date: String,
    #[serde(flatten)]
    figures: FiguresJson,
}

/// A month's figures, day by day, and the whole month's.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = MonthFigures)]
pub struct MonthJson {
    #[schema(pattern = "^[0-9]{4}-[0-9]{2}$", examples("2026-12"))]
    month: String,
    days: Vec<DayJson>,
    total: FiguresJson,
}

/// GET /v1/statistics/daily?month=2026-12
#[utoipa::path(
    get,
    path = "/v1/statistics/daily",
    tag = "wallet",
    operation_id = "dailyFigures",
    summary = "Recharges, payments, refunds and withdrawals per day",
    description = "For each day of a month of the platform's calendar (its time zone), how many recharges, payments, refunds and withdrawals moved money and how much (the ledger's posted transfers by business code, counted by order), and the month's totals. The current month when `month` is absent.",
    params(
        ("month" = Option<String>, Query, nullable = false, pattern = "^[0-9]{4}-[0-9]{2}$", description = "The month, `2026-12`; the platform's current month when absent."),
        ("Sanhu-Consistency" = Option<String>, Header, description = "`strong`: read the primary, never a read replica; `eventual` (the default): a read replica within the configured staleness may answer (its answer's `Sanhu-Read-From` says `replica`)."),
    ),
    responses((status = 200, description = "The month's figures.", body = MonthJson)),
)]
pub async fn daily_figures(
    State(state): State<AppState>,
    crate::reads::ReadsFrom(reads): crate::reads::ReadsFrom,
    query: QueryParams,
) -> Result<(crate::reads::ReadFromHeader, Json<MonthJson>), ApiError> {
    let query = query.only(&["month"])?;
    let calendar = &state.parties.config().calendar;
    let month = match query.get("month") {
        None => calendar.month(sanhu_service::clock::now()),
        Some(text) => parse_month(text).ok_or_else(|| {
            ApiError::new(code::INVALID_QUERY, "month is a month of the calendar, 2026-12 (2000-01 to 2999-12)")
        })?,
    };
    let figures = reads.month_figures(month).await?;
    Ok((
        crate::reads::ReadFromHeader::of(&reads),
        Json(MonthJson {
            month: month.to_string(),
            days: figures.days.iter().map(|d| DayJson { date: d.date.clone(), figures: (&d.figures).into() }).collect(),
            total: (&figures.total).into(),
        }),
    ))
}

fn parse_month(text: &str) -> Option<PlatformMonth> {
    let (year, month) = text.split_once('-')?;
    if year.len() != 4 || month.len() != 2 {
        return None;
    }
    let year: i16 = year.parse().ok()?;
    let month: i8 = month.parse().ok()?;
    ((2000..=2999).contains(&year) && (1..=12).contains(&month)).then_some(PlatformMonth { year, month })
}

/// An order found.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = OrderSummary)]
pub struct OrderJson {
    #[schema(examples("payment"))]
    kind: &'static str,
    /// The API client whose numbering the order is in.
    #[schema(value_type = sanhu_core::id::ClientId, inline)]
    client_id: String,
    /// The order's number (a refund's own number).
    #[schema(max_length = 64)]
    order_number: String,
    /// A refund's payment's number; null for other kinds.
    #[schema(required = true, max_length = 64)]
    payment_number: Option<String>,
    #[schema(value_type = sanhu_core::id::MemberId, inline)]
    member_id: String,
    amount: i64,
    /// The order's status, as its own endpoint answers it.
    status: String,
    /// When the order (a refund's payment) was created.
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    created_at: String,
}

impl From<&OrderSummary> for OrderJson {
    fn from(o: &OrderSummary) -> OrderJson {
        OrderJson {
            kind: o.kind.as_str(),
            client_id: o.client.clone(),
            order_number: o.number.clone(),
            payment_number: o.payment_number.clone(),
            member_id: o.member_id.clone(),
            amount: o.amount,
            status: o.status.clone(),
            created_at: o.created_at.to_string(),
        }
    }
}

/// A page of orders found.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = OrderPage)]
pub struct OrderPageJson {
    data: Vec<OrderJson>,
    /// Pass as `after` to go on; null when the search reached the end. A page may hold fewer than
    /// `limit` orders (even none) and still have a cursor: each page reads at most 1000 records.
    #[schema(max_length = 200)]
    next_cursor: Option<String>,
}

/// The longest cursor: a record id (`payment:cli_…:<number>`).
const ORDER_CURSOR_CHARS_MAX: usize = 200;

/// GET /v1/orders?kind=payment&member_id=&number=&status=&from=&to=
#[utoipa::path(
    get,
    path = "/v1/orders",
    tag = "wallet",
    operation_id = "searchOrders",
    summary = "Search orders of one kind",
    description = "The back office's search: payments, recharges, withdrawals or refunds meeting every criterion given (at least one besides the kind: `missing_parameter` otherwise), in the order of API client and order number. A member's orders are read through the index by member; otherwise the orders of the kind are read in turn, at most 1000 per page, so a page may hold fewer than `limit` orders and a cursor to go on.",
    params(
        ("kind" = String, Query, description = "`payment`, `recharge`, `withdrawal` or `refund`."),
        ("member_id" = inline(Option<sanhu_core::id::MemberId>), Query, nullable = false, description = "The member's orders."),
        ("number" = Option<String>, Query, nullable = false, max_length = 64, description = "The order's number (a refund's own), exactly."),
        ("status" = Option<String>, Query, nullable = false, max_length = 32, description = "The orders in this status (as each kind's own endpoint answers it)."),
        ("from" = inline(Option<sanhu_core::Timestamp>), Query, nullable = false, description = "Created at or after."),
        ("to" = inline(Option<sanhu_core::Timestamp>), Query, nullable = false, description = "Created before."),
        ("after" = Option<String>, Query, nullable = false, max_length = 200, description = "The `next_cursor` of the previous page."),
        ("limit" = Option<i64>, Query, nullable = false, description = "Orders per page, 1 to the page size maximum.", minimum = 1),
        ("Sanhu-Consistency" = Option<String>, Header, description = "`strong`: read the primary, never a read replica; `eventual` (the default): a read replica within the configured staleness may answer (its answer's `Sanhu-Read-From` says `replica`)."),
    ),
    responses((status = 200, description = "A page of the orders found.", body = OrderPageJson)),
)]
pub async fn search_orders(
    State(state): State<AppState>,
    crate::reads::ReadsFrom(reads): crate::reads::ReadsFrom,
    query: QueryParams,
) -> Result<(crate::reads::ReadFromHeader, Json<OrderPageJson>), ApiError> {
    let query = query.only(&["kind", "member_id", "number", "status", "from", "to", "after", "limit"])?;
    let kind = OrderKind::parse(query.required("kind")?)
        .ok_or_else(|| ApiError::new(code::INVALID_QUERY, "kind is payment, recharge, withdrawal or refund"))?;
    let member = query.get("member_id").map(|m| crate::ids::member_id("member_id", m)).transpose()?;
    let short_text = |name: &str, max: usize| -> Result<Option<String>, ApiError> {
        match query.get(name) {
            None => Ok(None),
            Some(text) if (1..=max).contains(&text.len()) && text.bytes().all(|b| b.is_ascii_graphic()) => {
                Ok(Some(text.to_owned()))
            }
            Some(_) => {
                Err(ApiError::new(code::INVALID_QUERY, format!("{name} is 1 to {max} printable ASCII characters")))
            }
        }
    };
    let number = short_text("number", 64)?;
    let status = short_text("status", 32)?;
    let (from, to) = (query.time("from")?, query.time("to")?);
    if let (Some(from), Some(to)) = (from, to) {
        if from >= to {
            return Err(ApiError::new(code::INVALID_TIME, "from must be before to"));
        }
    }
    if member.is_none() && number.is_none() && status.is_none() && from.is_none() && to.is_none() {
        return Err(ApiError::new(
            code::MISSING_PARAMETER,
            "give at least one of member_id, number, status, from and to: the search lists nothing without a criterion",
        ));
    }
    let after = query.get("after");
    if let Some(after) = after {
        let well_formed = after.starts_with(&format!("{}:", record_kind_prefix(kind)))
            && after.len() <= ORDER_CURSOR_CHARS_MAX
            && after.bytes().all(|b| b.is_ascii_graphic());
        if !well_formed {
            return Err(ApiError::new(code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned"));
        }
    }
    let limit = query.limit(state.config.page_size_max)?;
    let search = OrderSearch { kind, member, number, status, from, to, after: after.map(str::to_owned), limit };
    let page = reads.search_orders(&search).await?;
    Ok((
        crate::reads::ReadFromHeader::of(&reads),
        Json(OrderPageJson { data: page.orders.iter().map(OrderJson::from).collect(), next_cursor: page.next }),
    ))
}

/// The prefix of the record ids of a kind's orders (a cursor names one).
fn record_kind_prefix(kind: OrderKind) -> &'static str {
    match kind {
        OrderKind::Payment | OrderKind::Refund => "payment",
        OrderKind::Recharge => "recharge_order",
        OrderKind::Withdrawal => "withdrawal",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn months_are_read_as_the_calendar_writes_them() {
        assert_eq!(parse_month("2026-12"), Some(PlatformMonth { year: 2026, month: 12 }));
        for bad in ["2026-13", "2026-00", "26-12", "2026-1", "1999-12", "２０２６-12", "2026-12-01"] {
            assert_eq!(parse_month(bad), None, "{bad}");
        }
    }
}
