//! Members' bills on both backends: a month's bill opens at the last bill's closing and closes at the
//! ledger's balance at the month's end; the items of every member's bill of a month add up to the
//! ledger's movements of the month on their accounts; the month is the platform's (Asia/Shanghai), so
//! a transfer at 17:00 UTC on 30 November is December's; a bill is issued once and never changes (a
//! correction made later is the next month's item); the monthly run bills last month's members with
//! movements, a page at a time, and goes on where it stopped; the customer bill is the sum of its
//! members' bills.
//!
//! The ledger stamps a transfer when it commits it, so the tests commit at chosen instants through the
//! store (`commit_batch` takes the instant), and give the bill use cases their `now`, as the jobs are
//! given theirs.

use sanhu_core::bill::{BillPeriod, BusinessGroup, Direction};
use sanhu_core::id::MemberId;
use sanhu_core::ledger::Transfer;
use sanhu_core::{AccountId, PlatformCalendar, PlatformMonth, Timestamp};
use sanhu_service::bill::{Bill, Bills, BILL_PAGE_MAX, BILL_RUN_ROUTE};
use sanhu_store::audit::{AuditQuery, AuditStore};
use sanhu_store::bill::{BillRun, BillStore};
use sanhu_store::{EntryQuery, LedgerStore};
use sanhu_testkit::ledger::{new_platform, new_transfer_id, post};
use sanhu_testkit::on_both_backends;
use sanhu_testkit::world::{self, World};

fn ts(text: &str) -> Timestamp {
    Timestamp::parse_rfc3339(text).unwrap()
}

fn month(text: &str) -> PlatformMonth {
    PlatformMonth::parse(text).unwrap()
}

/// Long after every month the tests bill.
fn later() -> Timestamp {
    ts("2027-02-01T00:00:00Z")
}

/// Posts `amount` from `debit` to `credit` at the instant `when`, with a business code and an order
/// number, as the wallet's transfers carry them.
async fn post_at(
    w: &World,
    when: &str,
    debit: AccountId,
    credit: AccountId,
    amount: i64,
    code: &str,
    order: &str,
) -> Transfer {
    let mut request = post(new_transfer_id(), debit, credit, amount);
    request.code = code.to_owned();
    request.reference = Some(order.to_owned());
    let mut results = w.store.commit_batch(vec![request], ts(when)).await.unwrap();
    results.remove(0).unwrap()
}

/// A platform account standing for a channel's clearing account.
async fn channel(w: &World) -> AccountId {
    let account = new_platform("channel_clearing");
    w.store.create_account(&account).await.unwrap();
    account.id
}

async fn world(store: &sanhu_store::Store) -> World {
    World::new(store, world::party_config(), world::wallet_config()).await
}

/// The ledger's balance of `account` at the period's last instant.
async fn balance_at_end(w: &World, account: AccountId, period: &BillPeriod) -> i64 {
    let counters = w.store.counters_at(account, period.last_instant()).await.unwrap();
    counters.credits_posted - counters.debits_posted
}

/// What the ledger moved on `account` in the period: Σ credits − Σ debits of its posted entries.
async fn movement(w: &World, account: AccountId, period: &BillPeriod) -> i64 {
    let query = EntryQuery {
        account_id: account,
        from: Some(period.start()),
        to: Some(period.end()),
        after: None,
        limit: 10_000,
    };
    let entries = w.store.account_entries(&query).await.unwrap();
    entries.iter().map(|t| if t.credit_account_id == account { t.amount } else { -t.amount }).sum()
}

/// Every item of the bill, through its pages.
async fn all_items(bills: &Bills, bill: &Bill) -> Vec<sanhu_core::bill::BillItem> {
    let mut items = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = bills.items(bill.id, None, after.as_deref(), 2).await.unwrap();
        items.extend(page.items);
        match page.next {
            Some(next) => after = Some(next),
            None => return items,
        }
    }
}

/// The bill's part for `account`.
fn part(bill: &Bill, account: AccountId) -> &sanhu_core::bill::AccountStatement {
    bill.accounts.iter().find(|a| a.account_id == account).expect("the account is in the bill")
}

/// Checks the two invariants of bills over `bills` of one period, for the accounts of each: each
/// closing balance is the ledger's balance at the period's end, and Σ items = the ledger's movement.
async fn assert_bills_agree_with_the_ledger(w: &World, bills: &Bills, issued: &[&Bill]) {
    for bill in issued {
        let items = all_items(bills, bill).await;
        assert_eq!(items.len() as u64, bill.item_count);
        for account in &bill.accounts {
            assert_eq!(account.closing_balance, balance_at_end(w, account.account_id, &bill.period).await);
            let moved: i64 =
                items.iter().filter(|i| i.account_id == account.account_id).map(|i| i.signed_amount()).sum();
            assert_eq!(moved, movement(w, account.account_id, &bill.period).await, "{}", account.account_id);
            assert_eq!(account.opening_balance + moved, account.closing_balance);
            assert_eq!(account.credits - account.debits, moved);
        }
    }
}

on_both_backends!(
    a_months_bill_opens_at_the_last_closing_and_closes_at_the_ledgers_balance_in_the_platforms_time_zone,
    |db| {
        let w = world(&db.store).await;
        let bills = Bills::new(w.parties.clone());
        let (alice, a) = w.member(1).await;
        let (bob, b) = w.member(2).await;
        let clearing = channel(&w).await;

        post_at(&w, "2026-10-20T02:00:00Z", clearing, a, 10_000, "recharge", "r-1").await;
        post_at(&w, "2026-11-05T03:00:00Z", a, b, 2_500, "pay", "p-1").await;
        post_at(&w, "2026-11-20T04:00:00Z", b, a, 500, "refund", "rf-1").await;
        // 23:59:59 on 30 November in Shanghai: still November.
        let last_of_november = post_at(&w, "2026-11-30T15:59:59Z", a, clearing, 100, "pay", "p-2").await;
        // 01:00 on 1 December in Shanghai, though still 30 November in UTC: December.
        let first_of_december = post_at(&w, "2026-11-30T17:00:00Z", a, b, 1_000, "member_transfer", "t-1").await;
        post_at(&w, "2026-12-03T00:00:00Z", clearing, a, 300, "adjustment_credit", "adj-1").await;

        let china = PlatformCalendar::china();
        assert_eq!(china.month(first_of_december.timestamp), month("2026-12"));
        let october = bills.issue(alice, bills.month(month("2026-10")).unwrap(), later()).await.unwrap();
        let november = bills.issue(alice, bills.month(month("2026-11")).unwrap(), later()).await.unwrap();
        let december = bills.issue(alice, bills.month(month("2026-12")).unwrap(), later()).await.unwrap();
        assert_eq!(november.time_zone, "Asia/Shanghai");
        assert_eq!(november.period.start(), ts("2026-10-31T16:00:00Z"));

        // October: the recharge. November opens where October closed.
        assert_eq!((part(&october, a).opening_balance, part(&october, a).closing_balance), (0, 10_000));
        let nov = part(&november, a);
        assert_eq!(nov.opening_balance, part(&october, a).closing_balance);
        assert_eq!((nov.closing_balance, nov.credits, nov.debits, nov.item_count), (7_900, 500, 2_600, 3));
        let items = all_items(&bills, &november).await;
        assert_eq!(items.last().unwrap().transfer_id, last_of_november.id);
        assert!(items.iter().all(|i| i.transfer_id != first_of_december.id), "17:00Z on 30 November is December's");
        let payments =
            november.totals.iter().find(|t| t.group == BusinessGroup::Payment && t.direction == Direction::Out);
        assert_eq!(payments.map(|t| (t.count, t.amount)), Some((2, 2_600)));
        let refunds = november.totals.iter().find(|t| t.group == BusinessGroup::Refund).unwrap();
        assert_eq!((refunds.direction, refunds.count, refunds.amount), (Direction::In, 1, 500));
        assert_eq!(items[0].reference.as_deref(), Some("p-1"));
        assert_eq!(items[0].counterparty_account_id, b);

        // December: the transfer of 30 November 17:00Z, and the adjustment.
        let dec = part(&december, a);
        assert_eq!(dec.opening_balance, nov.closing_balance);
        assert_eq!(dec.closing_balance, 7_200);
        let groups: Vec<(BusinessGroup, Direction)> =
            all_items(&bills, &december).await.iter().map(|i| (i.group, i.direction)).collect();
        assert_eq!(groups, [(BusinessGroup::TransferOut, Direction::Out), (BusinessGroup::Adjustment, Direction::In)]);

        // Every member's bill of November: the closing balances are the ledger's, and the items are the
        // ledger's movements of the month.
        let bobs = bills.issue(bob, bills.month(month("2026-11")).unwrap(), later()).await.unwrap();
        assert_eq!(part(&bobs, b).closing_balance, 2_000);
        assert_bills_agree_with_the_ledger(&w, &bills, &[&october, &november, &december, &bobs]).await;
        let items_of_month: i64 =
            [&november, &bobs].iter().flat_map(|bill| bill.accounts.iter().map(|a| a.credits - a.debits)).sum();
        let ledger_of_month = movement(&w, a, &november.period).await + movement(&w, b, &november.period).await;
        assert_eq!(items_of_month, ledger_of_month);
        w.verify_clean().await;
    }
);

on_both_backends!(a_bill_is_issued_once_and_a_correction_made_later_is_an_item_of_the_next_months, |db| {
    let w = world(&db.store).await;
    let bills = Bills::new(w.parties.clone());
    let (alice, a) = w.member(1).await;
    let clearing = channel(&w).await;
    post_at(&w, "2026-11-10T02:00:00Z", clearing, a, 5_000, "recharge", "r-1").await;
    post_at(&w, "2026-11-11T02:00:00Z", a, clearing, 1_200, "pay", "p-1").await;

    let november = bills.month(month("2026-11")).unwrap();
    // Not before the month has ended, and the margin for clocks after it.
    let refused = bills.issue(alice, november, ts("2026-11-30T16:04:00Z")).await.unwrap_err();
    assert_eq!(refused.code(), "bill_period_not_closed");
    let first = bills.issue(alice, november, ts("2026-11-30T16:05:00Z")).await.unwrap();

    // The payment is refunded in December: a correction of November's payment, made later.
    post_at(&w, "2026-12-02T02:00:00Z", clearing, a, 1_200, "refund", "rf-1").await;
    let again = bills.issue(alice, november, later()).await.unwrap();
    assert_eq!(again, first, "issuing the same member and month again answers the bill issued");
    assert_eq!(part(&again, a).closing_balance, 3_800);
    let december = bills.issue(alice, bills.month(month("2026-12")).unwrap(), later()).await.unwrap();
    assert_eq!(part(&december, a).opening_balance, 3_800);
    let items = all_items(&bills, &december).await;
    assert_eq!(items.len(), 1);
    assert_eq!((items[0].group, items[0].reference.as_deref()), (BusinessGroup::Refund, Some("rf-1")));

    // A range is billed as well, once; a page of the member's bills lists the latest period first.
    let range = bills.range(ts("2026-11-10T00:00:00+08:00"), ts("2026-11-11T00:00:00+08:00")).unwrap();
    let day = bills.issue(alice, range, later()).await.unwrap();
    assert_eq!((part(&day, a).opening_balance, part(&day, a).closing_balance, day.item_count), (0, 5_000, 1));
    let page = bills.member_bills(alice, None, BILL_PAGE_MAX).await.unwrap();
    let periods: Vec<String> = page.bills.iter().map(|b| b.period.to_string()).collect();
    assert_eq!(periods[0], "2026-12");
    assert_eq!(page.bills.len(), 3);
    let first_page = bills.member_bills(alice, None, 1).await.unwrap();
    let second_page = bills.member_bills(alice, first_page.next.as_deref(), 1).await.unwrap();
    // The range starts after November does: by their starts, December, the range, November.
    assert_eq!(second_page.bills[0].id, day.id);
    let third_page = bills.member_bills(alice, second_page.next.as_deref(), 1).await.unwrap();
    assert_eq!((third_page.bills[0].period.to_string(), third_page.next), ("2026-11".to_owned(), None));
    assert_eq!(bills.member_bills(alice, Some("nonsense"), 1).await.unwrap_err().code(), "bill_cursor_invalid");
});

on_both_backends!(the_monthly_run_bills_last_months_members_with_movements_and_goes_on_where_it_stopped, |db| {
    let w = world(&db.store).await;
    let bills = Bills::new(w.parties.clone());
    let clearing = channel(&w).await;
    let mut members: Vec<(MemberId, AccountId)> = Vec::new();
    for n in 1..=4 {
        members.push(w.member(n).await);
    }
    members.sort();
    // The first three recharge in November; the fourth does nothing.
    for (i, (_, account)) in members.iter().take(3).enumerate() {
        post_at(&w, &format!("2026-11-1{i}T02:00:00Z"), clearing, *account, 1_000, "recharge", &format!("r-{i}")).await;
    }
    // The runs of the months before are done, in this story.
    for earlier in ["2026-09", "2026-10"] {
        let done = BillRun { last_member: None, done: true };
        w.store.set_bill_run(earlier, &done, ts("2026-11-01T00:00:00Z")).await.unwrap();
    }
    // Early on 1 December in Shanghai: November is over, but not yet five minutes ago.
    assert_eq!(bills.issue_last_month(ts("2026-11-30T16:01:00Z"), 2).await.unwrap(), Default::default());

    // A run that stopped after the first member: the next pass goes on from the second.
    let (first, _) = members[0];
    let run = BillRun { last_member: Some(first.to_string()), done: false };
    w.store.set_bill_run("2026-11", &run, ts("2026-12-01T00:00:00Z")).await.unwrap();
    let pass = bills.issue_last_month(ts("2026-12-01T00:10:00Z"), 2).await.unwrap();
    assert_eq!((pass.issued, pass.skipped), (2, 1));
    let november = bills.month(month("2026-11")).unwrap();
    let issued = |member: MemberId| {
        let store = w.store.clone();
        async move { store.bill_of_period(&member.to_string(), november.start(), november.end()).await.unwrap() }
    };
    assert!(issued(members[0].0).await.is_none(), "billed before the run stopped, in this story");
    assert!(issued(members[1].0).await.is_some());
    assert!(issued(members[3].0).await.is_none(), "no movement, no balance: no bill");
    assert_eq!(w.store.bill_run("2026-11").await.unwrap().map(|r| r.done), Some(true));
    // Done: the next passes do nothing.
    assert_eq!(bills.issue_last_month(ts("2026-12-01T01:00:00Z"), 2).await.unwrap(), Default::default());
});

on_both_backends!(a_customer_bill_is_the_sum_of_its_members_bills, |db| {
    let w = world(&db.store).await;
    let bills = Bills::new(w.parties.clone());
    let (alice, a) = w.member(1).await;
    let (bob, b) = w.member(2).await;
    let clearing = channel(&w).await;
    post_at(&w, "2026-11-03T02:00:00Z", clearing, a, 4_000, "recharge", "r-1").await;
    post_at(&w, "2026-11-04T02:00:00Z", a, b, 1_500, "member_transfer", "t-1").await;
    let november = bills.month(month("2026-11")).unwrap();
    let alices = bills.issue(alice, november, later()).await.unwrap();
    bills.issue(bob, november, later()).await.unwrap();

    let customer = w.parties.get_member(alice).await.unwrap().member.customer();
    let printed = bills.customer_bill(customer, november).await.unwrap();
    assert_eq!(printed.members, vec![(alice, Some(alices.id))]);
    let cny = &printed.sums[0];
    assert_eq!((cny.opening_balance, cny.closing_balance, cny.credits, cny.debits), (0, 2_500, 4_000, 1_500));
    let unknown = sanhu_core::id::CustomerId::generate(1, 1);
    assert_eq!(bills.customer_bill(unknown, november).await.unwrap_err().code(), "customer_not_found");
});

on_both_backends!(a_range_is_whole_days_and_until_now_ends_at_the_last_closed_day, |db| {
    let w = world(&db.store).await;
    let bills = Bills::new(w.parties.clone());
    let (alice, a) = w.member(1).await;
    let clearing = channel(&w).await;
    post_at(&w, "2026-11-10T02:00:00Z", clearing, a, 5_000, "recharge", "r-1").await;
    let refused = |from: &str, to: &str| {
        let (from, to) = (ts(from), ts(to));
        let bills = bills.clone();
        async move { bills.range(from, to).unwrap_err().code() }
    };
    // Midnight in UTC is 08:00 in Shanghai; a nanosecond past midnight is no day's start.
    assert_eq!(refused("2026-11-10T00:00:00Z", "2026-11-11T00:00:00Z").await, "bill_period_invalid");
    assert_eq!(refused("2026-11-10T00:00:00+08:00", "2026-11-10T12:00:00+08:00").await, "bill_period_invalid");
    let day = ts("2026-11-10T00:00:00+08:00");
    let a_nanosecond_more = Timestamp::from_nanos(ts("2026-11-11T00:00:00+08:00").nanos() + 1);
    assert_eq!(bills.range(day, a_nanosecond_more).unwrap_err().code(), "bill_period_invalid");
    // The service refuses such a period however it is made.
    let utc = BillPeriod::range(ts("2026-11-10T00:00:00Z"), ts("2026-11-11T00:00:00Z")).unwrap();
    assert_eq!(bills.issue(alice, utc, later()).await.unwrap_err().code(), "bill_period_invalid");

    // Until now: to the end of the last day that closed (the margin for clocks, 300 s, after its end),
    // so the same request all day is the same bill.
    let since = ts("2026-11-01T00:00:00+08:00");
    assert_eq!(bills.until_now(ts("2026-11-01T09:30:00+08:00"), later()).unwrap_err().code(), "bill_period_invalid");
    let early = bills.until_now(since, ts("2026-11-12T00:04:59+08:00")).unwrap();
    assert_eq!(early.end(), ts("2026-11-11T00:00:00+08:00"), "12 November has not closed five minutes ago");
    let morning = bills.until_now(since, ts("2026-11-12T00:05:00+08:00")).unwrap();
    let evening = bills.until_now(since, ts("2026-11-12T23:59:59+08:00")).unwrap();
    assert_eq!((morning, morning.end()), (evening, ts("2026-11-12T00:00:00+08:00")));
    let first = bills.issue(alice, morning, ts("2026-11-12T00:05:00+08:00")).await.unwrap();
    let again = bills.issue(alice, evening, ts("2026-11-12T23:59:59+08:00")).await.unwrap();
    assert_eq!(again, first, "the same request later in the day answers the same bill");
    assert_eq!((first.item_count, first.period.start(), first.period.end()), (1, since, morning.end()));
    assert_eq!(bills.member_bills(alice, None, BILL_PAGE_MAX).await.unwrap().bills.len(), 1);
    // From a day that has not closed: nothing to bill yet.
    let today = ts("2026-11-12T00:00:00+08:00");
    assert_eq!(bills.until_now(today, ts("2026-11-12T18:00:00+08:00")).unwrap_err().code(), "bill_period_not_closed");
});

on_both_backends!(the_monthly_run_passes_over_a_refused_member_and_completes_earlier_months, |db| {
    let w = world(&db.store).await;
    // At most two items a bill, so that a member with three is refused `bill_too_large`.
    let bills = Bills::new(w.parties.clone()).with_items_max(2);
    let clearing = channel(&w).await;
    let mut members: Vec<(MemberId, AccountId)> = Vec::new();
    for n in 1..=3 {
        members.push(w.member(n).await);
    }
    members.sort();
    let (busy, busy_account) = members[0];
    for i in 0..3 {
        post_at(
            &w,
            &format!("2026-11-0{}T02:00:00Z", i + 2),
            clearing,
            busy_account,
            100,
            "recharge",
            &format!("b-{i}"),
        )
        .await;
    }
    post_at(&w, "2026-11-12T02:00:00Z", clearing, members[1].1, 1_000, "recharge", "r-1").await;
    post_at(&w, "2026-11-13T02:00:00Z", clearing, members[2].1, 1_000, "recharge", "r-2").await;
    // October's run stopped after the first member when November began, and no pass finished it;
    // September's is done.
    w.store.set_bill_run("2026-09", &BillRun { last_member: None, done: true }, later()).await.unwrap();
    let stopped = BillRun { last_member: Some(busy.to_string()), done: false };
    w.store.set_bill_run("2026-10", &stopped, ts("2026-11-01T00:00:00Z")).await.unwrap();

    let pass = bills.issue_last_month(ts("2026-12-01T00:10:00+08:00"), 2).await.unwrap();
    // October: the two others, nothing in it (their accounts opened later). November: two bills, one refused.
    assert_eq!((pass.issued, pass.skipped, pass.refused), (2, 2, 1));
    assert_eq!(w.store.bill_run("2026-10").await.unwrap().map(|r| r.done), Some(true));
    assert_eq!(w.store.bill_run("2026-11").await.unwrap().map(|r| r.done), Some(true));
    let november = bills.month(month("2026-11")).unwrap();
    for (member, _) in &members[1..] {
        let bill = w.store.bill_of_period(&member.to_string(), november.start(), november.end()).await.unwrap();
        assert!(bill.is_some(), "the members after the refused one are billed");
    }
    let none = w.store.bill_of_period(&busy.to_string(), november.start(), november.end()).await.unwrap();
    assert!(none.is_none());
    // The refusal is kept: which member, which month, and why.
    let query = AuditQuery {
        actor: None,
        route: Some(BILL_RUN_ROUTE.to_owned()),
        target_id: Some(busy.to_string()),
        request_id: None,
        from: None,
        to: None,
        after_seq: 0,
        limit: 10,
    };
    let kept = w.store.audit_events(&query).await.unwrap();
    assert_eq!(kept.len(), 1);
    let event = &kept[0].event;
    assert_eq!(event.error_code.as_deref(), Some("bill_too_large"));
    assert!(event.target_ids.contains(&"2026-11".to_owned()));
    assert!(event.reason.as_deref().is_some_and(|r| r.contains("shorter ranges")));
    // Done: the next passes do nothing, and do not refuse it again.
    assert_eq!(bills.issue_last_month(ts("2026-12-01T01:00:00+08:00"), 2).await.unwrap(), Default::default());
    assert_eq!(w.store.audit_events(&query).await.unwrap().len(), 1);
});
