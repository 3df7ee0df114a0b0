//! Member bills (用户账单): what a member's accounts did over a period, read from the ledger. A bill
//! states, per account, the balance at the period's start and at its end, and one item per entry of
//! the period that moved the account's balance, each item named by its business type (recharge,
//! payment, refund, ...) and traceable to its ledger transfer and its order number.
//!
//! Everything here is arithmetic over what the ledger recorded: no IO. The service reads an
//! account's counters at the period's start and its entries of the period, and [`statement`] turns
//! them into items and totals; the closing balance it finds must be the ledger's balance at the
//! period's end, which the service checks before it keeps a bill.
//!
//! **Why a closed period never changes.** The ledger stamps every transfer when it commits it, later
//! than the account's previous entry: a transfer is never backdated. A period that has ended (with a
//! margin for clocks, [`BILL_PERIOD_CLOSED_AFTER_S_DEFAULT`]) gets no new entries, so a bill issued for it
//! stays true; a correction made later (a refund, a reversal, an adjustment) is an entry of the period
//! it is made in, and so an item of that period's bill.

use std::fmt;

use crate::ledger::{Account, Counters, Transfer, TransferKind};
use crate::time::{PlatformCalendar, PlatformMonth};
use crate::{AccountId, Timestamp, TransferId};

/// How long after a period's end its bill may be issued unless configured: writers' clocks (several
/// instances over one database) differ by far less, and a batch in flight commits in far less, so an
/// entry stamped within the period has been committed by then.
pub const BILL_PERIOD_CLOSED_AFTER_S_DEFAULT: u32 = 300;

/// The longest range a bill covers: a year and a day.
pub const BILL_RANGE_NS_MAX: i64 = 367 * 24 * 3600 * 1_000_000_000;

/// The period a bill covers: the instants in `[start, end)`, a calendar month of the platform's
/// calendar or a range the caller gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BillPeriod {
    start: Timestamp,
    end: Timestamp,
    month: Option<PlatformMonth>,
}

/// Why a period cannot be billed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeriodError {
    /// The range is empty, reversed, longer than [`BILL_RANGE_NS_MAX`], or outside the calendar.
    Invalid,
    /// The period has not ended yet (or ended less than the margin for clocks ago).
    NotClosed,
}

impl BillPeriod {
    /// The calendar month `month` of `calendar`: from its first midnight to the next month's.
    pub fn month(calendar: &PlatformCalendar, month: PlatformMonth) -> Result<BillPeriod, PeriodError> {
        let (start, end) = calendar.month_bounds(month).ok_or(PeriodError::Invalid)?;
        Ok(BillPeriod { start, end, month: Some(month) })
    }

    /// The instants in `[from, to)` (a caller's range is [`BillPeriod::days`]).
    pub fn range(from: Timestamp, to: Timestamp) -> Result<BillPeriod, PeriodError> {
        let length = to.nanos().checked_sub(from.nanos()).ok_or(PeriodError::Invalid)?;
        if length <= 0 || length > BILL_RANGE_NS_MAX {
            return Err(PeriodError::Invalid);
        }
        Ok(BillPeriod { start: from, end: to, month: None })
    }

    /// The whole days of `calendar` from `from`'s to the one before `to`'s: each of `from` and `to` must
    /// be the first instant of a day there (a bill of a range covers days, so that asking again for
    /// the same range is the same bill).
    pub fn days(calendar: &PlatformCalendar, from: Timestamp, to: Timestamp) -> Result<BillPeriod, PeriodError> {
        if !calendar.is_day_start(from) || !calendar.is_day_start(to) {
            return Err(PeriodError::Invalid);
        }
        BillPeriod::range(from, to)
    }

    /// Whether the period is a month, or whole days, of `calendar`.
    pub fn is_whole_days(&self, calendar: &PlatformCalendar) -> bool {
        calendar.is_day_start(self.start) && calendar.is_day_start(self.end)
    }

    /// The period as kept: `[start, end)` and its month, if it is one.
    pub fn stored(start: Timestamp, end: Timestamp, month: Option<PlatformMonth>) -> BillPeriod {
        BillPeriod { start, end, month }
    }

    pub fn start(&self) -> Timestamp {
        self.start
    }

    pub fn end(&self) -> Timestamp {
        self.end
    }

    pub fn calendar_month(&self) -> Option<PlatformMonth> {
        self.month
    }

    /// The last instant of the period, at which its closing balances are read.
    pub fn last_instant(&self) -> Timestamp {
        Timestamp::from_nanos(self.end.nanos() - 1)
    }

    /// The last instant before the period, at which its opening balances are read.
    pub fn before_start(&self) -> Timestamp {
        Timestamp::from_nanos(self.start.nanos().saturating_sub(1))
    }

    /// Refused unless the period had ended `closed_after_s` before `now` (the margin for clocks).
    pub fn check_closed(&self, now: Timestamp, closed_after_s: u32) -> Result<(), PeriodError> {
        match self.end.nanos().checked_add(i64::from(closed_after_s) * 1_000_000_000) {
            Some(closed_at) if closed_at <= now.nanos() => Ok(()),
            _ => Err(PeriodError::NotClosed),
        }
    }
}

impl fmt::Display for BillPeriod {
    /// `2026-11` for a calendar month, `<start>/<end>` (RFC 3339) for a range.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.month {
            Some(month) => write!(f, "{month}"),
            None => write!(f, "{}/{}", self.start, self.end),
        }
    }
}

/// What kind of business a bill item is, from the business code its ledger transfer carries and the
/// way money moved for the member's account. Codes the wallet does not write (a transfer made through
/// the raw ledger API, say) are `other`, with the code kept on the item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BusinessGroup {
    /// Money in from a channel: recharges, their bonus, a card recharged.
    Recharge,
    /// A payment made (out) or received (in), a deposit captured.
    Payment,
    /// A payment given back: a refund, an escrow returned.
    Refund,
    /// A transfer from another member.
    TransferIn,
    /// A transfer to another member.
    TransferOut,
    /// A withdrawal to a bank card, or a recharge paid back to its channel.
    Withdrawal,
    /// A fee the member paid.
    Fee,
    /// A subsidy granted, or an enterprise's subsidy fund.
    Subsidy,
    /// An adjustment by the platform, a bonus clawed back, a debt repaid.
    Adjustment,
    /// Money in escrow released to its receiver.
    Escrow,
    /// Frozen money seized.
    Seizure,
    /// Any other business code.
    Other,
}

impl BusinessGroup {
    pub const ALL: [BusinessGroup; 12] = [
        BusinessGroup::Recharge,
        BusinessGroup::Payment,
        BusinessGroup::Refund,
        BusinessGroup::TransferIn,
        BusinessGroup::TransferOut,
        BusinessGroup::Withdrawal,
        BusinessGroup::Fee,
        BusinessGroup::Subsidy,
        BusinessGroup::Adjustment,
        BusinessGroup::Escrow,
        BusinessGroup::Seizure,
        BusinessGroup::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BusinessGroup::Recharge => "recharge",
            BusinessGroup::Payment => "payment",
            BusinessGroup::Refund => "refund",
            BusinessGroup::TransferIn => "transfer_in",
            BusinessGroup::TransferOut => "transfer_out",
            BusinessGroup::Withdrawal => "withdrawal",
            BusinessGroup::Fee => "fee",
            BusinessGroup::Subsidy => "subsidy",
            BusinessGroup::Adjustment => "adjustment",
            BusinessGroup::Escrow => "escrow",
            BusinessGroup::Seizure => "seizure",
            BusinessGroup::Other => "other",
        }
    }

    pub fn parse(text: &str) -> Option<BusinessGroup> {
        BusinessGroup::ALL.into_iter().find(|g| g.as_str() == text)
    }

    /// The group of a transfer with business code `code` that moved money `direction` for the
    /// member's account.
    pub fn of(code: &str, direction: Direction) -> BusinessGroup {
        match code {
            "recharge" | "recharge_bonus" | "card_recharge" | "card_sale" | "card_sale_discount" => {
                BusinessGroup::Recharge
            }
            "pay" | "family_card" | "card_payment" | "deposit" | "deposit_capture" | "deposit_compensation" => {
                BusinessGroup::Payment
            }
            "refund" | "card_refund" | "escrow_return" | "deposit_release" => BusinessGroup::Refund,
            "member_transfer" => match direction {
                Direction::In => BusinessGroup::TransferIn,
                Direction::Out => BusinessGroup::TransferOut,
            },
            "withdraw" | "withdraw_release" | "recharge_refund" => BusinessGroup::Withdrawal,
            "withdraw_fee" | "recharge_fee" => BusinessGroup::Fee,
            "subsidy_grant" | "subsidy_fund" => BusinessGroup::Subsidy,
            "adjustment_credit" | "adjustment_debit" | "bonus_clawback" | "debt_repayment" => BusinessGroup::Adjustment,
            "escrow" | "escrow_release" => BusinessGroup::Escrow,
            "seize" => BusinessGroup::Seizure,
            _ => BusinessGroup::Other,
        }
    }
}

/// Which way an item moved the member's account's balance.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Direction {
    /// The balance grew.
    In,
    /// The balance shrank.
    Out,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::In => "in",
            Direction::Out => "out",
        }
    }

    pub fn parse(text: &str) -> Option<Direction> {
        match text {
            "in" => Some(Direction::In),
            "out" => Some(Direction::Out),
            _ => None,
        }
    }
}

/// One item of a bill: one entry of one of the member's accounts that moved its balance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BillItem {
    pub transfer_id: TransferId,
    pub timestamp: Timestamp,
    pub account_id: AccountId,
    pub group: BusinessGroup,
    /// The transfer's business code, as the ledger keeps it (`pay`, `recharge`, ...).
    pub code: String,
    pub direction: Direction,
    /// How much the balance moved, in minor units, always positive.
    pub amount: i64,
    /// The account on the other side of the transfer.
    pub counterparty_account_id: AccountId,
    /// The order (or refund, withdrawal...) number the transfer carries.
    pub reference: Option<String>,
    /// The account's balance just after the entry.
    pub balance_after: i64,
}

impl BillItem {
    /// The balance change, signed: positive in, negative out.
    pub fn signed_amount(&self) -> i64 {
        match self.direction {
            Direction::In => self.amount,
            Direction::Out => -self.amount,
        }
    }
}

/// One account's part of a bill.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountStatement {
    pub account_id: AccountId,
    /// The account's type code (`basic`, `bonus`, ...).
    pub account_type: String,
    pub currency: String,
    /// The balance just before the period.
    pub opening_balance: i64,
    /// The balance at the period's last instant.
    pub closing_balance: i64,
    /// Money frozen (held) at the period's last instant: part of the balance, not available.
    pub closing_frozen: i64,
    /// Σ of the items in.
    pub credits: i64,
    /// Σ of the items out.
    pub debits: i64,
    pub item_count: u64,
}

/// What an account's entries of a period make: its statement (with the counters it closed at) and
/// its items, oldest first.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountPeriod {
    pub statement: AccountStatement,
    pub closing: Counters,
    pub items: Vec<BillItem>,
}

/// A bill's arithmetic went wrong: an amount overflowed, or the entries do not follow on from the
/// counters given (a stored record contradicts itself; the bill is not issued).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StatementError(pub String);

impl fmt::Display for StatementError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for StatementError {}

/// The statement of `account` for a period: `opening` is its counters just before the period,
/// `entries` its entries of the period, oldest first. Entries that moved no balance (a hold made,
/// released or expired) are not items: the money they set aside shows in `closing_frozen`; a hold
/// posted is an item, when its money moves.
pub fn statement(
    account: &Account,
    account_type: &str,
    opening: Counters,
    entries: &[Transfer],
) -> Result<AccountPeriod, StatementError> {
    let side = account.normal_side;
    let mut counters = opening;
    let mut items = Vec::new();
    let (mut credits, mut debits) = (0i64, 0i64);
    let overflow = || StatementError(format!("account {}'s bill overflows", account.id));
    for entry in entries {
        let out_side = entry.debit_account_id == account.id;
        if !out_side && entry.credit_account_id != account.id {
            return Err(StatementError(format!("transfer {} is not an entry of account {}", entry.id, account.id)));
        }
        let after = if out_side { entry.debit_account_after } else { entry.credit_account_after };
        let before_balance = counters.balance(side);
        let after_balance = after.balance(side);
        counters = after;
        let change = after_balance.checked_sub(before_balance).ok_or_else(overflow)?;
        if change == 0 {
            debug_assert!(
                !matches!(entry.kind, TransferKind::Posted | TransferKind::PostPending) || entry.amount == 0,
                "a posted entry moves the balance"
            );
            continue;
        }
        let direction = if change > 0 { Direction::In } else { Direction::Out };
        let amount = change.checked_abs().ok_or_else(overflow)?;
        match direction {
            Direction::In => credits = credits.checked_add(amount).ok_or_else(overflow)?,
            Direction::Out => debits = debits.checked_add(amount).ok_or_else(overflow)?,
        }
        items.push(BillItem {
            transfer_id: entry.id,
            timestamp: entry.timestamp,
            account_id: account.id,
            group: BusinessGroup::of(&entry.code, direction),
            code: entry.code.clone(),
            direction,
            amount,
            counterparty_account_id: if out_side { entry.credit_account_id } else { entry.debit_account_id },
            reference: entry.reference.clone(),
            balance_after: after_balance,
        });
    }
    let opening_balance = opening.balance(side);
    let closing_balance = counters.balance(side);
    // The items account for the whole change of the balance.
    let moved = credits.checked_sub(debits).ok_or_else(overflow)?;
    if opening_balance.checked_add(moved) != Some(closing_balance) {
        return Err(StatementError(format!("account {}'s items do not add up to its balances", account.id)));
    }
    let closing_frozen = closing_balance.checked_sub(counters.available(side)).ok_or_else(overflow)?;
    Ok(AccountPeriod {
        statement: AccountStatement {
            account_id: account.id,
            account_type: account_type.to_owned(),
            currency: account.currency.to_string(),
            opening_balance,
            closing_balance,
            closing_frozen,
            credits,
            debits,
            item_count: items.len() as u64,
        },
        closing: counters,
        items,
    })
}

/// A bill's items totalled by currency, business group and direction.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupTotal {
    pub currency: String,
    pub group: BusinessGroup,
    pub direction: Direction,
    pub count: u64,
    pub amount: i64,
}

/// Adds `item` (of an account in `currency`) to `totals`, kept sorted.
pub fn add_to_totals(totals: &mut Vec<GroupTotal>, currency: &str, item: &BillItem) -> Result<(), StatementError> {
    add_total(totals, currency, item.group, item.direction, 1, item.amount)
}

/// Adds `count` items of `amount` in all to `totals`' line for (currency, group, direction).
pub fn add_total(
    totals: &mut Vec<GroupTotal>,
    currency: &str,
    group: BusinessGroup,
    direction: Direction,
    count: u64,
    amount: i64,
) -> Result<(), StatementError> {
    let overflow = || StatementError("a bill's totals overflow".to_owned());
    match totals.iter_mut().find(|t| t.currency == currency && t.group == group && t.direction == direction) {
        Some(total) => {
            total.count = total.count.checked_add(count).ok_or_else(overflow)?;
            total.amount = total.amount.checked_add(amount).ok_or_else(overflow)?;
        }
        None => {
            totals.push(GroupTotal { currency: currency.to_owned(), group, direction, count, amount });
            totals.sort();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::{AccountFlags, NormalSide};
    use crate::Currency;

    fn ts(text: &str) -> Timestamp {
        Timestamp::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn a_month_is_the_platform_calendars_and_a_transfer_late_on_the_last_utc_day_is_the_next_month() {
        let china = PlatformCalendar::china();
        let november = BillPeriod::month(&china, PlatformMonth { year: 2026, month: 11 }).unwrap();
        assert_eq!(november.start(), ts("2026-10-31T16:00:00Z"));
        assert_eq!(november.end(), ts("2026-11-30T16:00:00Z"));
        let late = ts("2026-11-30T17:00:00Z");
        assert!(late >= november.end(), "17:00Z on 30 November is 1 December in Shanghai");
        assert_eq!(china.month(late), PlatformMonth { year: 2026, month: 12 });
        assert_eq!(november.to_string(), "2026-11");
    }

    #[test]
    fn a_range_is_whole_days_of_the_platforms_calendar() {
        let china = PlatformCalendar::china();
        let day = BillPeriod::days(&china, ts("2026-11-10T00:00:00+08:00"), ts("2026-11-11T00:00:00+08:00")).unwrap();
        assert_eq!(day.start(), ts("2026-11-09T16:00:00Z"));
        assert!(day.is_whole_days(&china));
        // Midnight in UTC is 08:00 in Shanghai: not a day's start there.
        let utc = BillPeriod::days(&china, ts("2026-11-10T00:00:00Z"), ts("2026-11-11T00:00:00Z"));
        assert_eq!(utc, Err(PeriodError::Invalid));
        let nanosecond = BillPeriod::days(
            &china,
            ts("2026-11-10T00:00:00+08:00"),
            Timestamp::from_nanos(ts("2026-11-11T00:00:00+08:00").nanos() + 1),
        );
        assert_eq!(nanosecond, Err(PeriodError::Invalid));
        let utc_calendar = PlatformCalendar::new("UTC").unwrap();
        assert!(BillPeriod::days(&utc_calendar, ts("2026-11-10T00:00:00Z"), ts("2026-11-11T00:00:00Z")).is_ok());
    }

    #[test]
    fn a_period_is_billed_only_once_it_has_closed() {
        let period = BillPeriod::range(ts("2026-11-01T00:00:00Z"), ts("2026-11-02T00:00:00Z")).unwrap();
        let margin = BILL_PERIOD_CLOSED_AFTER_S_DEFAULT;
        assert_eq!(period.check_closed(ts("2026-11-02T00:00:00Z"), margin), Err(PeriodError::NotClosed));
        assert_eq!(period.check_closed(ts("2026-11-02T00:04:59Z"), margin), Err(PeriodError::NotClosed));
        assert_eq!(period.check_closed(ts("2026-11-02T00:05:00Z"), margin), Ok(()));
        assert_eq!(period.check_closed(ts("2026-11-02T00:00:00Z"), 0), Ok(()));
        assert_eq!(
            BillPeriod::range(ts("2026-11-02T00:00:00Z"), ts("2026-11-02T00:00:00Z")),
            Err(PeriodError::Invalid)
        );
        assert_eq!(
            BillPeriod::range(ts("2026-11-02T00:00:00Z"), ts("2026-11-01T00:00:00Z")),
            Err(PeriodError::Invalid)
        );
        assert_eq!(
            BillPeriod::range(ts("2025-01-01T00:00:00Z"), ts("2026-11-01T00:00:00Z")),
            Err(PeriodError::Invalid)
        );
    }

    #[test]
    fn business_codes_fall_into_groups_and_a_transfer_between_members_by_its_direction() {
        assert_eq!(BusinessGroup::of("recharge", Direction::In), BusinessGroup::Recharge);
        assert_eq!(BusinessGroup::of("pay", Direction::Out), BusinessGroup::Payment);
        assert_eq!(BusinessGroup::of("member_transfer", Direction::In), BusinessGroup::TransferIn);
        assert_eq!(BusinessGroup::of("member_transfer", Direction::Out), BusinessGroup::TransferOut);
        assert_eq!(BusinessGroup::of("withdraw_fee", Direction::Out), BusinessGroup::Fee);
        assert_eq!(BusinessGroup::of("something_else", Direction::Out), BusinessGroup::Other);
        for group in BusinessGroup::ALL {
            assert_eq!(BusinessGroup::parse(group.as_str()), Some(group));
        }
    }

    fn account(id: u128) -> Account {
        Account {
            id: AccountId::from_u128(id).unwrap(),
            currency: Currency::parse("CNY").unwrap(),
            normal_side: NormalSide::Credit,
            limit: Account::default_limit(NormalSide::Credit),
            flags: AccountFlags::default(),
            code: "basic".to_owned(),
            metadata: "{}".to_owned(),
            created_at: Timestamp(0),
            counters: Counters::default(),
            last_transfer_at: Timestamp(0),
        }
    }

    fn entry(
        n: u128,
        kind: TransferKind,
        debit: u128,
        credit: u128,
        amount: i64,
        code: &str,
        after: Counters,
    ) -> Transfer {
        Transfer {
            id: TransferId::from_u128(n).unwrap(),
            kind,
            debit_account_id: AccountId::from_u128(debit).unwrap(),
            credit_account_id: AccountId::from_u128(credit).unwrap(),
            amount,
            pending_id: None,
            timeout_s: 0,
            linked: false,
            balancing: false,
            requested_amount: amount,
            code: code.to_owned(),
            reference: Some(format!("o-{n}")),
            metadata: "{}".to_owned(),
            timestamp: Timestamp(n as i64),
            debit_account_after: after,
            credit_account_after: after,
        }
    }

    fn counters(debits_pending: i64, debits_posted: i64, credits_posted: i64) -> Counters {
        Counters { debits_pending, debits_posted, credits_pending: 0, credits_posted }
    }

    #[test]
    fn a_statement_lists_what_moved_the_balance_and_adds_up_to_the_closing_balance() {
        let member = account(1);
        let opening = counters(0, 0, 1000);
        let entries = [
            entry(10, TransferKind::Posted, 9, 1, 5000, "recharge", counters(0, 0, 6000)),
            entry(11, TransferKind::Posted, 1, 8, 1200, "pay", counters(0, 1200, 6000)),
            entry(12, TransferKind::Pending, 1, 8, 300, "escrow", counters(300, 1200, 6000)),
            entry(13, TransferKind::Posted, 8, 1, 200, "refund", counters(300, 1200, 6200)),
        ];
        let period = statement(&member, "basic", opening, &entries).unwrap();
        let s = &period.statement;
        assert_eq!((s.opening_balance, s.closing_balance, s.closing_frozen), (1000, 5000, 300));
        assert_eq!((s.credits, s.debits, s.item_count), (5200, 1200, 3));
        let groups: Vec<BusinessGroup> = period.items.iter().map(|i| i.group).collect();
        assert_eq!(groups, [BusinessGroup::Recharge, BusinessGroup::Payment, BusinessGroup::Refund]);
        assert_eq!(period.items[1].signed_amount(), -1200);
        assert_eq!(period.items[1].reference.as_deref(), Some("o-11"));
        assert_eq!(period.items[2].balance_after, 5000);
    }

    #[test]
    fn entries_that_do_not_follow_the_counters_are_refused() {
        let member = account(1);
        let stranger = entry(10, TransferKind::Posted, 9, 7, 5000, "recharge", counters(0, 0, 5000));
        assert!(statement(&member, "basic", Counters::default(), &[stranger]).is_err());
    }
}
