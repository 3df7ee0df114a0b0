//! What the back office reads across members: the money that moved per platform day of a month
//! (recharges, payments, refunds, withdrawals), and orders of each kind found by member, number,
//! status and date. Read-only: nothing here changes a record.
//!
//! The day's and month's figures come from the ledger's transfers by their business code (posted
//! transfers and posted holds: money that moved), counted by order, in one query for the month
//! ([`sanhu_store::LedgerStore::transfer_totals`]) whose quarter-hour totals are added up per platform
//! day here (every time zone's day starts on a quarter hour). An order is counted once, on the day of
//! its first transfer of the month, however many quarter hours its transfers span (a split payment,
//! a withdrawal from several accounts: one order each). Orders are told apart by their number (the
//! transfers' reference): the journal keeps no API client, so two clients' orders of one number in a
//! month count as one.

use sanhu_core::id::MemberId;
use sanhu_core::{PlatformDay, PlatformMonth, Timestamp};
use sanhu_store::party::{PartyRecord, PartyStore};
use sanhu_store::LedgerStore;
use serde_json::Value;

use super::Wallets;
use crate::wallet::WalletFailure;

/// The business codes of the four flows the statistics count, with their names.
pub const STATISTICS_FLOWS: [(&str, &str); 4] =
    [("recharges", "recharge"), ("payments", "pay"), ("refunds", "refund"), ("withdrawals", "withdraw")];

/// The span the ledger's totals are read by: a quarter of an hour.
const BUCKET_S: u32 = 900;

/// How many orders and how much money.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Figure {
    pub count: i64,
    pub amount: i64,
}

/// The four flows' figures of one period.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FlowFigures {
    pub recharges: Figure,
    pub payments: Figure,
    pub refunds: Figure,
    pub withdrawals: Figure,
}

impl FlowFigures {
    fn figure_mut(&mut self, code: &str) -> Option<&mut Figure> {
        match code {
            "recharge" => Some(&mut self.recharges),
            "pay" => Some(&mut self.payments),
            "refund" => Some(&mut self.refunds),
            "withdraw" => Some(&mut self.withdrawals),
            _ => None,
        }
    }

    fn add(&mut self, other: &FlowFigures) {
        for (mine, theirs) in [
            (&mut self.recharges, other.recharges),
            (&mut self.payments, other.payments),
            (&mut self.refunds, other.refunds),
            (&mut self.withdrawals, other.withdrawals),
        ] {
            mine.count += theirs.count;
            mine.amount = mine.amount.saturating_add(theirs.amount);
        }
    }
}

/// One platform day's figures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DayFigures {
    /// `2026-12-07`, the platform's date.
    pub date: String,
    pub figures: FlowFigures,
}

/// A month's figures, day by day, and the whole month's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonthFigures {
    pub month: PlatformMonth,
    pub days: Vec<DayFigures>,
    pub total: FlowFigures,
}

impl Wallets {
    /// What was recharged, paid, refunded and withdrawn on each platform day of `month` (up to now).
    pub async fn month_figures(&self, month: PlatformMonth) -> Result<MonthFigures, WalletFailure> {
        let calendar = &self.parties.config().calendar;
        let (start, end) = calendar
            .month_bounds(month)
            .ok_or_else(|| WalletFailure::Internal(anyhow::anyhow!("the month {month} has no bounds")))?;
        let totals = self.ledger.store().transfer_totals(start, end, BUCKET_S).await?;
        let first = calendar.day(start);
        let last = calendar.day(Timestamp::from_nanos(end.nanos() - 1));
        let mut days: Vec<DayFigures> = (first.0..=last.0)
            .map(|day| DayFigures {
                date: calendar
                    .day_start(PlatformDay(day))
                    .map(|at| calendar.local_text(at)[..10].to_owned())
                    .unwrap_or_default(),
                figures: FlowFigures::default(),
            })
            .collect();
        let mut total = FlowFigures::default();
        for line in totals {
            let index = (calendar.day(line.bucket_start).0 - first.0) as usize;
            let Some(day) = days.get_mut(index) else { continue };
            let mut one = FlowFigures::default();
            if let Some(figure) = one.figure_mut(&line.code) {
                *figure = Figure { count: line.count, amount: line.amount };
                day.figures.add(&one);
                total.add(&one);
            }
        }
        Ok(MonthFigures { month, days, total })
    }
}

/// The kinds of order the back office searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrderKind {
    Payment,
    Recharge,
    Withdrawal,
    /// A payment's refunds (kept in the payment's record).
    Refund,
}

impl OrderKind {
    pub const ALL: [OrderKind; 4] = [OrderKind::Payment, OrderKind::Recharge, OrderKind::Withdrawal, OrderKind::Refund];

    pub fn parse(text: &str) -> Option<OrderKind> {
        OrderKind::ALL.into_iter().find(|k| k.as_str() == text)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            OrderKind::Payment => "payment",
            OrderKind::Recharge => "recharge",
            OrderKind::Withdrawal => "withdrawal",
            OrderKind::Refund => "refund",
        }
    }

    /// The kind of the party record the orders are kept in.
    fn record_kind(self) -> &'static str {
        match self {
            OrderKind::Payment | OrderKind::Refund => "payment",
            OrderKind::Recharge => "recharge_order",
            OrderKind::Withdrawal => "withdrawal",
        }
    }
}

/// What the back office searches orders by; the API requires at least one criterion besides the kind.
#[derive(Clone, Debug)]
pub struct OrderSearch {
    pub kind: OrderKind,
    pub member: Option<MemberId>,
    /// The order's number (a refund's own number), exactly.
    pub number: Option<String>,
    pub status: Option<String>,
    /// Created at or after.
    pub from: Option<Timestamp>,
    /// Created before.
    pub to: Option<Timestamp>,
    /// The cursor of the last page: the record id the search stopped after.
    pub after: Option<String>,
    pub limit: u32,
}

/// An order found, as the lists show it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OrderSummary {
    pub kind: OrderKind,
    pub client: String,
    /// The order's number (a refund's own).
    pub number: String,
    /// A refund's payment's number.
    pub payment_number: Option<String>,
    pub member_id: String,
    pub amount: i64,
    pub status: String,
    /// When the order (a refund's payment) was created.
    pub created_at: Timestamp,
}

/// A page of a search.
#[derive(Clone, Debug)]
pub struct OrderPage {
    pub orders: Vec<OrderSummary>,
    /// Where the next page starts, if the search has not reached the end.
    pub next: Option<String>,
}

/// The most records one page of a search reads: a search without a member is a walk through the
/// records of its kind, so a page may end before `limit` orders are found, with a cursor to go on.
pub const ORDER_SEARCH_RECORDS_MAX: u32 = 1000;
const SEARCH_READ: u32 = 200;

impl Wallets {
    /// Orders of one kind that meet every criterion, in record id order (by API client, then number),
    /// reading at most [`ORDER_SEARCH_RECORDS_MAX`] records: a member's orders through the index by
    /// customer and kind, others through the records of the kind.
    pub async fn search_orders(&self, search: &OrderSearch) -> Result<OrderPage, WalletFailure> {
        let store = self.parties.store();
        let customer = match search.member {
            Some(member) => Some(self.parties.get_member(member).await?.member.customer().to_string()),
            None => None,
        };
        let kind = search.kind.record_kind();
        let mut cursor = search.after.clone();
        let mut orders = Vec::new();
        let mut read = 0;
        loop {
            let page: Vec<PartyRecord> = match &customer {
                Some(customer) => {
                    store.party_records_of_customer_after(customer, kind, cursor.as_deref(), SEARCH_READ).await?
                }
                None => store.party_list(kind, cursor.as_deref(), SEARCH_READ).await?,
            };
            let full = page.len() as u32 == SEARCH_READ;
            for record in &page {
                read += 1;
                cursor = Some(record.id.clone());
                let Ok(data) = serde_json::from_str::<Value>(&record.data) else { continue };
                orders.extend(matches(search, &data));
                if orders.len() >= search.limit as usize || read >= ORDER_SEARCH_RECORDS_MAX {
                    return Ok(OrderPage { orders, next: cursor });
                }
            }
            if !full {
                return Ok(OrderPage { orders, next: None });
            }
        }
    }
}

/// The orders of one record that meet the search's criteria (a payment's refunds: several).
fn matches(search: &OrderSearch, data: &Value) -> Vec<OrderSummary> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    let created_at = Timestamp::from_nanos(data["created_at"].as_i64().unwrap_or_default());
    let member_id = text(&data["member_id"]);
    if search.member.is_some_and(|m| m.to_string() != member_id)
        || search.from.is_some_and(|from| created_at < from)
        || search.to.is_some_and(|to| created_at >= to)
    {
        return Vec::new();
    }
    let client = text(&data["client"]);
    let candidates: Vec<OrderSummary> = match search.kind {
        OrderKind::Refund => data["refunds"]
            .as_array()
            .map(|refunds| {
                refunds
                    .iter()
                    .map(|r| OrderSummary {
                        kind: OrderKind::Refund,
                        client: client.clone(),
                        number: text(&r["refund_number"]),
                        payment_number: Some(text(&data["order_number"])),
                        member_id: member_id.clone(),
                        amount: r["amount"].as_i64().unwrap_or_default(),
                        status: text(&r["status"]),
                        created_at,
                    })
                    .collect()
            })
            .unwrap_or_default(),
        kind => vec![OrderSummary {
            kind,
            client,
            number: text(&data["order_number"]),
            payment_number: None,
            member_id: member_id.clone(),
            amount: data["amount"].as_i64().unwrap_or_default(),
            status: text(&data["status"]),
            created_at,
        }],
    };
    candidates
        .into_iter()
        .filter(|o| search.number.as_deref().is_none_or(|n| n == o.number))
        .filter(|o| search.status.as_deref().is_none_or(|s| s == o.status))
        .collect()
}
