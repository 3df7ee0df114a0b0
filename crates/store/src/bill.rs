//! Members' bills, the same on both backends: a bill per member and period with its items, and how far
//! the monthly run of each month has gone. A bill is written once with all its items in one
//! transaction and never changed; what it says is the service's (`sanhu_service::bill`), kept as JSON
//! documents beside the columns the store looks bills up by.
//!
//! What must hold under concurrency is decided here, in one transaction: a member has at most one
//! bill per period (the unique key on member and period), and issuing one that exists already keeps
//! the first and answers it, so two requests (or two instances' runs) issuing the same bill at once
//! issue it once.

use sanhu_core::Timestamp;

/// A bill as kept.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBill {
    pub id: String,
    pub member_id: String,
    /// The member's customer when the bill was issued.
    pub customer_id: String,
    pub period_start: Timestamp,
    pub period_end: Timestamp,
    /// `2026-11` for a calendar month, None for a range.
    pub period_month: Option<String>,
    pub item_count: i64,
    pub data: String,
    pub issued_at: Timestamp,
}

/// One item of a bill, in the bill's order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredBillItem {
    pub seq: i64,
    pub data: String,
}

/// Where a month's bill run stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillRun {
    /// The last member whose bill the run has issued (members are visited in id order).
    pub last_member: Option<String>,
    pub done: bool,
}

store_trait! {
    /// What every backend provides for bills.
    pub trait BillStore {
        /// Keeps `bill` with its items, unless the member has a bill for the same period already;
        /// answers the bill kept (the new one, or the one that was there).
        fn issue_bill(&self, bill: &StoredBill, items: &[StoredBillItem]) -> anyhow::Result<StoredBill>;
        fn bill(&self, id: &str) -> anyhow::Result<Option<StoredBill>>;
        /// The member's bill of exactly `[start, end)`, if issued.
        fn bill_of_period(&self, member_id: &str, start: Timestamp, end: Timestamp) -> anyhow::Result<Option<StoredBill>>;
        /// The member's bills, latest period first, those strictly before the cursor (a period start
        /// and a bill id) when given.
        fn member_bills(
            &self,
            member_id: &str,
            before: Option<(Timestamp, String)>,
            limit: u32,
        ) -> anyhow::Result<Vec<StoredBill>>;
        /// A bill's items after `after` (a seq) in order.
        fn bill_items(&self, bill_id: &str, after: Option<i64>, limit: u32) -> anyhow::Result<Vec<StoredBillItem>>;
        /// Where the run of `period` stands (None: not started).
        fn bill_run(&self, period: &str) -> anyhow::Result<Option<BillRun>>;
        /// Records where the run of `period` stands.
        fn set_bill_run(&self, period: &str, run: &BillRun, at: Timestamp) -> anyhow::Result<()>;
    }
}
