//! Members' bills (用户账单) and the customer bill that sums them. A member's bill of a period says,
//! for each of its accounts, the balance before the period and at its end, and lists every entry of
//! the period that moved a balance as an item (its business type, its ledger transfer, its order
//! number); totals by currency, business type and direction sum the items. The arithmetic is core's
//! (`sanhu_core::bill`); the records are the bill store's (`sanhu_store::bill`).
//!
//! **Issued once, never changed.** A bill is issued on demand or by the monthly run
//! ([`Bills::issue_last_month`], the job `crate::jobs::issue_monthly_bills`), only for a period that
//! has ended, and is kept with its items: issuing the same member and period again answers the bill
//! kept. The ledger stamps a transfer when it commits it and never before the account's last entry,
//! so a period that has ended gets no new entries: a correction made later is an item of the bill of
//! the period it is made in. Before a bill is kept, its closing balances are checked against the
//! ledger's balances at the period's last instant.
//!
//! **The customer bill** is the arithmetic sum of the bills of the customer's members (those it has
//! now, so a merged customer's members count under the survivor), for printing; it is not kept.
//!
//! **Who reaches what.** A client bound to a member reaches that member's bills only; another's bill
//! answers `bill_not_found`, as if absent ([`Bills::bill`] takes the binding).

mod error;

use sanhu_core::bill::{
    add_to_totals, add_total, statement, AccountStatement, BillItem, BillPeriod, BusinessGroup, Direction, GroupTotal,
};
use sanhu_core::id::{BillId, CustomerId, MemberId};
use sanhu_core::ledger::Counters;
use sanhu_core::party::change::REASON_CHARS_MAX;
use sanhu_core::{AccountId, PlatformMonth, Timestamp, TransferId};
use sanhu_store::audit::{AuditStore, NewAuditEvent};
use sanhu_store::bill::{BillRun, BillStore, StoredBill, StoredBillItem};
use sanhu_store::party::PartyStore;
use sanhu_store::{EntryQuery, LedgerStore};
use serde::{Deserialize, Serialize};

use crate::clock;
use crate::party::Parties;

pub use error::*;

/// The most items one bill holds: a member with more entries in a month bills shorter ranges.
pub const BILL_ITEMS_MAX: usize = 200_000;

/// The most bills or items one page holds, and how many when the caller does not say.
pub const BILL_PAGE_MAX: u32 = 100;
pub const BILL_PAGE_DEFAULT: u32 = 50;

/// Entries read from the ledger at a time while a bill is made.
const ENTRY_READ_PAGE: u32 = 1000;

/// Members the monthly run visits at a time; where it has got to is recorded after each page.
pub const BILL_RUN_PAGE_MEMBERS: u32 = 200;

/// The bill service, over the three-party model (its members, accounts and store). Cheap to clone.
#[derive(Clone)]
pub struct Bills {
    parties: Parties,
    items_max: usize,
}

/// A member's bill, as issued.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bill {
    pub id: BillId,
    pub member_id: MemberId,
    /// The member's customer when the bill was issued.
    pub customer_id: String,
    pub period: BillPeriod,
    /// The time zone its month was counted in.
    pub time_zone: String,
    pub accounts: Vec<AccountStatement>,
    pub totals: Vec<GroupTotal>,
    pub item_count: u64,
    pub issued_at: Timestamp,
}

/// A page of a member's bills, latest period first.
#[derive(Clone, Debug)]
pub struct BillPage {
    pub bills: Vec<Bill>,
    pub next: Option<String>,
}

/// A page of a bill's items, in the bill's order (account by account, oldest first).
#[derive(Clone, Debug)]
pub struct ItemPage {
    pub items: Vec<BillItem>,
    pub next: Option<String>,
}

/// One currency's sums in a customer bill.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct CurrencySums {
    pub currency: String,
    pub opening_balance: i64,
    pub closing_balance: i64,
    pub closing_frozen: i64,
    pub credits: i64,
    pub debits: i64,
    pub item_count: u64,
}

/// A customer bill: its members' bills of a month, summed.
#[derive(Clone, Debug)]
pub struct CustomerBill {
    pub customer_id: CustomerId,
    pub period: BillPeriod,
    /// Each member of the customer and its bill of the period, if issued.
    pub members: Vec<(MemberId, Option<BillId>)>,
    pub sums: Vec<CurrencySums>,
    pub totals: Vec<GroupTotal>,
}

/// What the monthly run did in one pass.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BillRunPass {
    /// Bills issued (or found issued already) for members with movements or money.
    pub issued: usize,
    /// Members without an account, a movement or a balance in the month: no bill.
    pub skipped: usize,
    /// Members whose bill was refused (too many items, entries that do not add up): each kept in
    /// the audit log, and passed over.
    pub refused: usize,
}

/// How many months the monthly run looks at: last month and the two before it, whose runs it
/// completes if they are not done.
pub const BILL_RUN_MONTHS: usize = 3;

/// The route the monthly run's refusals are kept under in the audit log.
pub const BILL_RUN_ROUTE: &str = "job:issue_monthly_bills";

/// A bill made from entries that do not add up to the ledger's balances: the member's bill is
/// refused, the monthly run goes on with the next member.
#[derive(Debug)]
struct EntriesDoNotAddUp(String);

impl std::fmt::Display for EntriesDoNotAddUp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for EntriesDoNotAddUp {}

fn mismatch(text: String) -> BillFailure {
    BillFailure::Internal(anyhow::Error::new(EntriesDoNotAddUp(text)))
}

/// The code and the reason of a failure that refuses one member's bill, not the run (None: a failure
/// of the store, or one the run cannot pass over).
fn member_refusal(failure: &BillFailure) -> Option<(&'static str, String)> {
    match failure {
        BillFailure::Rejected(r) | BillFailure::NotFound(r) => Some((r.code, r.message.to_owned())),
        BillFailure::Internal(e) if e.is::<EntriesDoNotAddUp>() => Some(("bill_entries_mismatch", e.to_string())),
        _ => None,
    }
}

impl Bills {
    pub fn new(parties: Parties) -> Bills {
        Bills { parties, items_max: BILL_ITEMS_MAX }
    }

    /// The same service, holding at most `max` items a bill (fewer than [`BILL_ITEMS_MAX`]: for tests
    /// of what a bill too large does).
    pub fn with_items_max(mut self, max: usize) -> Bills {
        self.items_max = max.min(BILL_ITEMS_MAX);
        self
    }

    fn store(&self) -> &sanhu_store::Store {
        self.parties.store()
    }

    fn closed_after_s(&self) -> u32 {
        self.parties.config().bill_period_closed_after_s
    }

    /// The whole days of the platform's calendar from `from` to `to` (each the first instant of a day
    /// there; refused `bill_period_invalid` otherwise).
    pub fn range(&self, from: Timestamp, to: Timestamp) -> Result<BillPeriod, BillFailure> {
        Ok(BillPeriod::days(&self.parties.config().calendar, from, to)?)
    }

    /// The whole days from `from` (a day's first instant) to the end of the last day that had closed
    /// at `now` (ended the margin for clocks ago), so that the same request all day is the same bill.
    /// Refused `bill_period_not_closed` when no day from `from` on has closed.
    pub fn until_now(&self, from: Timestamp, now: Timestamp) -> Result<BillPeriod, BillFailure> {
        let calendar = &self.parties.config().calendar;
        if !calendar.is_day_start(from) {
            return Err(BillFailure::Rejected(BILL_PERIOD_INVALID));
        }
        let closed =
            Timestamp::from_nanos(now.nanos().saturating_sub(i64::from(self.closed_after_s()) * 1_000_000_000));
        let to = calendar.day_start(calendar.day(closed)).ok_or(BillFailure::Rejected(BILL_PERIOD_INVALID))?;
        if to <= from {
            return Err(BillFailure::Rejected(BILL_PERIOD_NOT_CLOSED));
        }
        self.range(from, to)
    }

    /// The period of the calendar month `month` of the platform's calendar.
    pub fn month(&self, month: PlatformMonth) -> Result<BillPeriod, BillFailure> {
        Ok(BillPeriod::month(&self.parties.config().calendar, month)?)
    }

    /// Issues the member's bill of `period` (refused unless the period had ended by `now`), or answers
    /// the one issued already.
    pub async fn issue(&self, member: MemberId, period: BillPeriod, now: Timestamp) -> Result<Bill, BillFailure> {
        if !period.is_whole_days(&self.parties.config().calendar) {
            return Err(BillFailure::Rejected(BILL_PERIOD_INVALID));
        }
        period.check_closed(now, self.closed_after_s())?;
        let stored = self.parties.get_member(member).await?;
        if let Some(kept) = self.store().bill_of_period(&member.to_string(), period.start(), period.end()).await? {
            return decode_bill(&kept);
        }
        let customer = stored.member.customer().to_string();
        let made = self.make(member, &customer, period, now).await?;
        let kept = self.store().issue_bill(&made.bill, &made.items).await?;
        decode_bill(&kept)
    }

    /// The bill of `member` for `period` read from the ledger, not kept.
    async fn make(
        &self,
        member: MemberId,
        customer: &str,
        period: BillPeriod,
        now: Timestamp,
    ) -> Result<MadeBill, BillFailure> {
        let store = self.store();
        let mut accounts = Vec::new();
        let mut items: Vec<BillItem> = Vec::new();
        let mut totals: Vec<GroupTotal> = Vec::new();
        let mut views = self.parties.member_accounts(member).await?;
        views.sort_by_key(|v| v.ledger.id);
        for view in &views {
            let account = &view.ledger;
            let opening = store.counters_at(account.id, period.before_start()).await?;
            let entries = self.entries_of(account.id, period, items.len()).await?;
            let made = statement(account, &account.code, opening, &entries)
                .map_err(|e| mismatch(format!("account {}'s entries of {period}: {e}", account.id)))?;
            // What the items add up to must be what the ledger says the account held at the end.
            let closing = store.counters_at(account.id, period.last_instant()).await?;
            if closing != made.closing {
                return Err(mismatch(format!(
                    "account {}'s entries of {period} do not end at its balance at the period's end",
                    account.id
                )));
            }
            let untouched =
                made.items.is_empty() && made.statement.opening_balance == 0 && closing == Counters::default();
            if untouched && account.created_at >= period.end() {
                // Opened after the period: not part of it.
                continue;
            }
            for item in &made.items {
                add_to_totals(&mut totals, &made.statement.currency, item)
                    .map_err(|e| mismatch(format!("the totals of {period}: {e}")))?;
            }
            items.extend(made.items);
            accounts.push(made.statement);
        }
        let doc = BillDoc {
            time_zone: self.parties.config().calendar.time_zone().to_owned(),
            accounts: accounts.iter().map(AccountDoc::from).collect(),
            totals: totals.iter().map(TotalDoc::from).collect(),
        };
        let id: BillId = clock::new_id();
        let bill = StoredBill {
            id: id.to_string(),
            member_id: member.to_string(),
            customer_id: customer.to_owned(),
            period_start: period.start(),
            period_end: period.end(),
            period_month: period.calendar_month().map(|m| m.to_string()),
            item_count: items.len() as i64,
            data: serde_json::to_string(&doc).map_err(anyhow::Error::from)?,
            issued_at: now,
        };
        let moved = !items.is_empty() || accounts.iter().any(|a| a.opening_balance != 0 || a.closing_balance != 0);
        let items = items
            .iter()
            .enumerate()
            .map(|(seq, item)| {
                Ok(StoredBillItem { seq: seq as i64, data: serde_json::to_string(&ItemDoc::from(item))? })
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()
            .map_err(anyhow::Error::from)?;
        Ok(MadeBill { bill, items, moved })
    }

    /// The account's entries of the period, oldest first; refused past [`BILL_ITEMS_MAX`] with the
    /// `already` items of the bill's other accounts.
    async fn entries_of(
        &self,
        account: AccountId,
        period: BillPeriod,
        already: usize,
    ) -> Result<Vec<sanhu_core::ledger::Transfer>, BillFailure> {
        let mut entries = Vec::new();
        let mut after = None;
        loop {
            let query = EntryQuery {
                account_id: account,
                from: Some(period.start()),
                to: Some(period.end()),
                after,
                limit: ENTRY_READ_PAGE,
            };
            let page = self.store().account_entries(&query).await?;
            let full = page.len() == ENTRY_READ_PAGE as usize;
            after = page.last().map(|t| t.timestamp);
            entries.extend(page);
            if already + entries.len() > self.items_max {
                return Err(BillFailure::Rejected(BILL_TOO_LARGE));
            }
            if !full {
                return Ok(entries);
            }
        }
    }

    /// A bill by its id. A caller bound to a member (`binding`) reaches only that member's bills.
    pub async fn bill(&self, id: BillId, binding: Option<MemberId>) -> Result<Bill, BillFailure> {
        let stored = self.store().bill(&id.to_string()).await?.ok_or(BillFailure::NotFound(BILL_NOT_FOUND))?;
        let bill = decode_bill(&stored)?;
        if binding.is_some_and(|member| member != bill.member_id) {
            return Err(BillFailure::NotFound(BILL_NOT_FOUND));
        }
        Ok(bill)
    }

    /// A page of a bill's items, after the cursor `after` (a page's `next`).
    pub async fn items(
        &self,
        id: BillId,
        binding: Option<MemberId>,
        after: Option<&str>,
        limit: u32,
    ) -> Result<ItemPage, BillFailure> {
        check_limit(limit)?;
        let bill = self.bill(id, binding).await?;
        let after = match after {
            None => None,
            Some(text) => {
                Some(text.parse::<i64>().ok().filter(|n| *n >= 0).ok_or(BillFailure::Rejected(BILL_CURSOR_INVALID))?)
            }
        };
        let rows = self.store().bill_items(&bill.id.to_string(), after, limit + 1).await?;
        let more = rows.len() > limit as usize;
        let rows = &rows[..rows.len().min(limit as usize)];
        let items = rows.iter().map(decode_item).collect::<Result<Vec<_>, _>>()?;
        let next = if more { rows.last().map(|r| r.seq.to_string()) } else { None };
        Ok(ItemPage { items, next })
    }

    /// A page of the member's bills, latest period first.
    pub async fn member_bills(
        &self,
        member: MemberId,
        after: Option<&str>,
        limit: u32,
    ) -> Result<BillPage, BillFailure> {
        check_limit(limit)?;
        self.parties.get_member(member).await?;
        let before = match after {
            None => None,
            Some(text) => Some(parse_bill_cursor(text).ok_or(BillFailure::Rejected(BILL_CURSOR_INVALID))?),
        };
        let rows = self.store().member_bills(&member.to_string(), before, limit + 1).await?;
        let more = rows.len() > limit as usize;
        let rows = &rows[..rows.len().min(limit as usize)];
        let bills = rows.iter().map(decode_bill).collect::<Result<Vec<_>, _>>()?;
        let next = if more { rows.last().map(|b| format!("{}.{}", b.period_start.nanos(), b.id)) } else { None };
        Ok(BillPage { bills, next })
    }

    /// The customer's bill of `period`: the sum of the bills its members have for it.
    pub async fn customer_bill(&self, customer: CustomerId, period: BillPeriod) -> Result<CustomerBill, BillFailure> {
        self.parties.get_customer(customer).await?;
        let records = self.store().party_records_of_customer(&customer.to_string(), Some("member")).await?;
        let mut members = Vec::new();
        let mut sums: Vec<CurrencySums> = Vec::new();
        let mut totals: Vec<GroupTotal> = Vec::new();
        let overflow = || BillFailure::Internal(anyhow::anyhow!("customer {customer}'s bill overflows"));
        for record in &records {
            let Some(member) = MemberId::parse(&record.id) else { continue };
            let Some(stored) = self.store().bill_of_period(&record.id, period.start(), period.end()).await? else {
                members.push((member, None));
                continue;
            };
            let bill = decode_bill(&stored)?;
            for a in &bill.accounts {
                let i = match sums.iter().position(|s| s.currency == a.currency) {
                    Some(i) => i,
                    None => {
                        sums.push(CurrencySums { currency: a.currency.clone(), ..CurrencySums::default() });
                        sums.len() - 1
                    }
                };
                let s = &mut sums[i];
                s.opening_balance = s.opening_balance.checked_add(a.opening_balance).ok_or_else(overflow)?;
                s.closing_balance = s.closing_balance.checked_add(a.closing_balance).ok_or_else(overflow)?;
                s.closing_frozen = s.closing_frozen.checked_add(a.closing_frozen).ok_or_else(overflow)?;
                s.credits = s.credits.checked_add(a.credits).ok_or_else(overflow)?;
                s.debits = s.debits.checked_add(a.debits).ok_or_else(overflow)?;
                s.item_count = s.item_count.checked_add(a.item_count).ok_or_else(overflow)?;
            }
            for t in &bill.totals {
                add_total(&mut totals, &t.currency, t.group, t.direction, t.count, t.amount)
                    .map_err(anyhow::Error::from)?;
            }
            members.push((member, Some(bill.id)));
        }
        sums.sort_by(|a, b| a.currency.cmp(&b.currency));
        Ok(CustomerBill { customer_id: customer, period, members, sums, totals })
    }

    /// One pass of the monthly run at `now`: issues last month's bill (of the platform's calendar) of
    /// every member with an entry or a balance in it, `page` members at a time in id order, recording
    /// after each page how far it has got, so that a pass interrupted (a restart, a failure) goes on
    /// where it stopped; members already billed are answered their bill. Does nothing for a month
    /// until it has closed (`bill_period_closed_after_s` after its end), and once its run is done. Before last month,
    /// it completes the runs of the [`BILL_RUN_MONTHS`] − 1 months before it that are not done (a run
    /// a failure or a restart left behind when the next month began).
    ///
    /// A member whose bill is refused (`bill_too_large`, or entries that do not add up to the ledger's
    /// balances) is not billed: the refusal is logged and kept in the audit log (actor `system`, route
    /// `job:issue_monthly_bills`, the member and the month as targets, the code and why), and the run
    /// goes on with the next member. Only a failure of the store stops the pass (the next tick goes
    /// on where it stopped).
    pub async fn issue_last_month(&self, now: Timestamp, page: u32) -> Result<BillRunPass, BillFailure> {
        let calendar = &self.parties.config().calendar;
        let last = calendar.month(now).previous();
        let mut months = vec![last];
        for _ in 1..BILL_RUN_MONTHS {
            let earlier = months.last().expect("a month").previous();
            months.push(earlier);
        }
        let mut pass = BillRunPass::default();
        for month in months.into_iter().rev() {
            let one = self.run_month(month, now, page).await?;
            pass.issued += one.issued;
            pass.skipped += one.skipped;
            pass.refused += one.refused;
        }
        Ok(pass)
    }

    /// The run of `month` (see [`Bills::issue_last_month`]).
    async fn run_month(&self, month: PlatformMonth, now: Timestamp, page: u32) -> Result<BillRunPass, BillFailure> {
        let period = self.month(month)?;
        if period.check_closed(now, self.closed_after_s()).is_err() {
            return Ok(BillRunPass::default());
        }
        let key = month.to_string();
        let store = self.store();
        let mut run = store.bill_run(&key).await?.unwrap_or(BillRun { last_member: None, done: false });
        let mut pass = BillRunPass::default();
        while !run.done {
            let records = store.party_list("member", run.last_member.as_deref(), page).await?;
            for record in &records {
                let Some(member) = MemberId::parse(&record.id) else { continue };
                match self.issue_if_moved(member, &record.customer_id, period, now).await {
                    Ok(true) => pass.issued += 1,
                    Ok(false) => pass.skipped += 1,
                    Err(failure) => {
                        let Some((code, why)) = member_refusal(&failure) else { return Err(failure) };
                        tracing::warn!(member.id = %member, month = %key, code, reason = %why, "monthly bill refused");
                        self.keep_refusal(member, &key, code, &why, now).await?;
                        pass.refused += 1;
                    }
                }
            }
            match records.last() {
                Some(last) => run.last_member = Some(last.id.clone()),
                None => run.done = true,
            }
            store.set_bill_run(&key, &run, now).await?;
        }
        Ok(pass)
    }

    /// Keeps in the audit log that the monthly run of `month` refused `member`'s bill.
    async fn keep_refusal(
        &self,
        member: MemberId,
        month: &str,
        code: &str,
        why: &str,
        now: Timestamp,
    ) -> Result<(), BillFailure> {
        let event = NewAuditEvent {
            at: now,
            actor: "system".to_owned(),
            request_id: format!("job_issue_monthly_bills_{month}_{member}"),
            source: None,
            method: "JOB".to_owned(),
            route: BILL_RUN_ROUTE.to_owned(),
            target_ids: vec![member.to_string(), month.to_owned()],
            status: 422,
            error_code: Some(code.to_owned()),
            reason: Some(why.chars().take(REASON_CHARS_MAX).collect()),
            changes: None,
        };
        self.store().append_audit(vec![event]).await?;
        Ok(())
    }

    /// Issues the member's bill of `period` if it had an entry or a balance in it; whether it has one.
    async fn issue_if_moved(
        &self,
        member: MemberId,
        customer: &str,
        period: BillPeriod,
        now: Timestamp,
    ) -> Result<bool, BillFailure> {
        if self.store().bill_of_period(&member.to_string(), period.start(), period.end()).await?.is_some() {
            return Ok(true);
        }
        let made = self.make(member, customer, period, now).await?;
        if !made.moved {
            return Ok(false);
        }
        self.store().issue_bill(&made.bill, &made.items).await?;
        Ok(true)
    }
}

/// A bill made from the ledger, before it is kept.
struct MadeBill {
    bill: StoredBill,
    items: Vec<StoredBillItem>,
    /// Whether any account had an item or a balance in the period.
    moved: bool,
}

fn check_limit(limit: u32) -> Result<(), BillFailure> {
    if (1..=BILL_PAGE_MAX).contains(&limit) {
        Ok(())
    } else {
        Err(BillFailure::Rejected(BILL_LIMIT_INVALID))
    }
}

/// `<period start in nanoseconds>.<bil_…>`, as a page of a member's bills ends.
fn parse_bill_cursor(text: &str) -> Option<(Timestamp, String)> {
    let (nanos, id) = text.split_once('.')?;
    let nanos: i64 = nanos.parse().ok()?;
    BillId::parse(id)?;
    Some((Timestamp::from_nanos(nanos), id.to_owned()))
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BillDoc {
    time_zone: String,
    accounts: Vec<AccountDoc>,
    totals: Vec<TotalDoc>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AccountDoc {
    account_id: String,
    account_type: String,
    currency: String,
    opening_balance: i64,
    closing_balance: i64,
    closing_frozen: i64,
    credits: i64,
    debits: i64,
    item_count: u64,
}

impl From<&AccountStatement> for AccountDoc {
    fn from(a: &AccountStatement) -> Self {
        AccountDoc {
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

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TotalDoc {
    currency: String,
    business_type: String,
    direction: String,
    count: u64,
    amount: i64,
}

impl From<&GroupTotal> for TotalDoc {
    fn from(t: &GroupTotal) -> Self {
        TotalDoc {
            currency: t.currency.clone(),
            business_type: t.group.as_str().to_owned(),
            direction: t.direction.as_str().to_owned(),
            count: t.count,
            amount: t.amount,
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemDoc {
    transfer_id: String,
    timestamp: i64,
    account_id: String,
    business_type: String,
    code: String,
    direction: String,
    amount: i64,
    counterparty_account_id: String,
    reference: Option<String>,
    balance_after: i64,
}

impl From<&BillItem> for ItemDoc {
    fn from(i: &BillItem) -> Self {
        ItemDoc {
            transfer_id: i.transfer_id.to_string(),
            timestamp: i.timestamp.nanos(),
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

fn corrupt(what: &str, id: &str) -> BillFailure {
    BillFailure::Internal(anyhow::anyhow!("a stored {what} of bill {id} does not decode"))
}

fn decode_bill(stored: &StoredBill) -> Result<Bill, BillFailure> {
    let bad = || corrupt("bill", &stored.id);
    let doc: BillDoc = serde_json::from_str(&stored.data).map_err(|_| bad())?;
    let month = match &stored.period_month {
        Some(text) => Some(PlatformMonth::parse(text).ok_or_else(bad)?),
        None => None,
    };
    let accounts = doc
        .accounts
        .into_iter()
        .map(|a| {
            Some(AccountStatement {
                account_id: AccountId::parse(&a.account_id)?,
                account_type: a.account_type,
                currency: a.currency,
                opening_balance: a.opening_balance,
                closing_balance: a.closing_balance,
                closing_frozen: a.closing_frozen,
                credits: a.credits,
                debits: a.debits,
                item_count: a.item_count,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    let totals = doc
        .totals
        .into_iter()
        .map(|t| {
            Some(GroupTotal {
                currency: t.currency,
                group: BusinessGroup::parse(&t.business_type)?,
                direction: Direction::parse(&t.direction)?,
                count: t.count,
                amount: t.amount,
            })
        })
        .collect::<Option<Vec<_>>>()
        .ok_or_else(bad)?;
    Ok(Bill {
        id: BillId::parse(&stored.id).ok_or_else(bad)?,
        member_id: MemberId::parse(&stored.member_id).ok_or_else(bad)?,
        customer_id: stored.customer_id.clone(),
        period: BillPeriod::stored(stored.period_start, stored.period_end, month),
        time_zone: doc.time_zone,
        accounts,
        totals,
        item_count: u64::try_from(stored.item_count).map_err(|_| bad())?,
        issued_at: stored.issued_at,
    })
}

fn decode_item(stored: &StoredBillItem) -> Result<BillItem, BillFailure> {
    let bad = || BillFailure::Internal(anyhow::anyhow!("a stored bill item (seq {}) does not decode", stored.seq));
    let i: ItemDoc = serde_json::from_str(&stored.data).map_err(|_| bad())?;
    Ok(BillItem {
        transfer_id: TransferId::parse(&i.transfer_id).ok_or_else(bad)?,
        timestamp: Timestamp::from_nanos(i.timestamp),
        account_id: AccountId::parse(&i.account_id).ok_or_else(bad)?,
        group: BusinessGroup::parse(&i.business_type).ok_or_else(bad)?,
        code: i.code,
        direction: Direction::parse(&i.direction).ok_or_else(bad)?,
        amount: i.amount,
        counterparty_account_id: AccountId::parse(&i.counterparty_account_id).ok_or_else(bad)?,
        reference: i.reference,
        balance_after: i.balance_after,
    })
}
