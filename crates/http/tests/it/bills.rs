//! Bills over HTTP on SQLite and on PostgreSQL: a member's bill issued (once: the same period again
//! answers the same bill) after a recharge, two payments and a refund, its closing balance the
//! ledger's, its items read a page at a time with their orders; the member's bills listed; the
//! customer bill summing its members'; periods refused when malformed or not closed; and a client
//! bound to a member reading its own member's bills only (another's answer as if absent).
//!
//! The server's margin for clocks is 0 here (one instance), so a bill may end at today's midnight.

use axum::http::StatusCode;
use sanhu_core::{AccountId, PlatformCalendar, PlatformDay, Timestamp};
use sanhu_service::clock;
use sanhu_service::party::PartyConfig;
use sanhu_store::LedgerStore;
use sanhu_testkit::app::{bound_client, TestApp};
use sanhu_testkit::ledger::{new_platform, new_transfer_id, post};
use sanhu_testkit::{on_both_backends, world, TestDatabase};
use serde_json::{json, Value};

async fn app(db: TestDatabase) -> TestApp {
    let parties = PartyConfig { bill_period_closed_after_s: 0, ..world::party_config() };
    let api = TestApp::new(db, parties, world::wallet_config()).await;
    api.state.wallets().clock().set(now());
    api
}

/// What the server's business clock reads in these tests: the last noon in Shanghai before the
/// system's now, so that "today" and "yesterday" are the same days for the test and the server
/// whatever the hour (none is a second from a midnight).
fn now() -> Timestamp {
    let calendar = PlatformCalendar::china();
    let real = clock::now();
    let today = calendar.day(real);
    let noon = |day: i64| calendar.day_start(PlatformDay(day)).unwrap().nanos() + 12 * 3_600_000_000_000;
    let at = if noon(today.0) <= real.nanos() { noon(today.0) } else { noon(today.0 - 1) };
    Timestamp::from_nanos(at)
}

/// The first instant of the platform's day `days` days before today's (of [`now`]).
fn day_start(days_ago: i64) -> Timestamp {
    let calendar = PlatformCalendar::china();
    let today = calendar.day(now());
    calendar.day_start(PlatformDay(today.0 - days_ago)).unwrap()
}

/// A member's month, the day before yesterday (committed through the store at chosen instants, as a
/// bill covers days that have ended): a recharge of 100.00, payments of 30.00 and 15.00 to a shop,
/// 10.00 of the first refunded. Returns (member, its basic account, its customer).
async fn a_members_month(api: &TestApp, phone: &str, shop_basic: &str, n: u32) -> (String, String, String) {
    let (member, customer) = api.register(phone).await;
    let basic = api.activate(&member).await;
    let clearing = new_platform("channel_clearing");
    api.db.store.create_account(&clearing).await.unwrap();
    let (account, shop) = (AccountId::parse(&basic).unwrap(), AccountId::parse(shop_basic).unwrap());
    let moves = [
        (clearing.id, account, 10_000, "recharge", format!("R-{n}")),
        (account, shop, 3_000, "pay", format!("P-{n}")),
        (account, shop, 1_500, "pay", format!("Q-{n}")),
        (shop, account, 1_000, "refund", format!("P-{n}-R1")),
    ];
    let start = day_start(2).nanos();
    for (i, (debit, credit, amount, code, reference)) in moves.into_iter().enumerate() {
        let mut request = post(new_transfer_id(), debit, credit, amount);
        request.code = code.to_owned();
        request.reference = Some(reference);
        let at = Timestamp::from_nanos(start + (i as i64 + 1) * 3_600_000_000_000 + i64::from(n) * 1_000_000_000);
        api.db.store.commit_batch(vec![request], at).await.unwrap().remove(0).unwrap();
    }
    (member, basic, customer)
}

fn text(value: &Value) -> String {
    value.as_str().unwrap_or_else(|| panic!("{value} is not a string")).to_owned()
}

on_both_backends!(a_members_bill_is_issued_once_closes_at_the_ledgers_balance_and_lists_its_orders, |db| {
    let api = app(db).await;
    let (_, shop_basic) = api.active_member("13800000009").await;
    // From three days ago until now: to the end of yesterday, the last day that has ended.
    let from = day_start(3).to_string();
    let (alice, basic, customer) = a_members_month(&api, "13800000001", &shop_basic, 1).await;

    let issued = api.post(&format!("/v1/members/{alice}/bills"), json!({"from": from})).await;
    let bill = issued.assert_status(StatusCode::OK).clone();
    let id = text(&bill["id"]);
    assert_eq!(bill["member_id"], json!(alice));
    assert_eq!(bill["customer_id"], json!(customer));
    assert_eq!(bill["time_zone"], json!("Asia/Shanghai"));
    assert_eq!(bill["period"]["month"], Value::Null);
    let account = &bill["accounts"][0];
    assert_eq!(account["account_id"], json!(basic));
    assert_eq!((account["opening_balance"].as_i64(), account["closing_balance"].as_i64()), (Some(0), Some(6_500)));
    assert_eq!((account["credits"].as_i64(), account["debits"].as_i64()), (Some(11_000), Some(4_500)));
    assert_eq!(bill["item_count"], json!(4));
    assert_eq!(api.balance(&basic).await, 6_500, "the closing balance is the ledger's");
    let totals: Vec<(String, String, i64, i64)> = bill["totals"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                text(&t["business_type"]),
                text(&t["direction"]),
                t["count"].as_i64().unwrap(),
                t["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert!(totals.contains(&("recharge".into(), "in".into(), 1, 10_000)), "{totals:?}");
    assert!(totals.contains(&("payment".into(), "out".into(), 2, 4_500)), "{totals:?}");
    assert!(totals.contains(&("refund".into(), "in".into(), 1, 1_000)), "{totals:?}");

    // The items, a page at a time, each with its ledger transfer and its order.
    let first = api.get(&format!("/v1/bills/{id}?limit=2")).await;
    let first = first.assert_status(StatusCode::OK).clone();
    assert_eq!(first["id"], json!(id));
    let mut items = first["items"].as_array().unwrap().clone();
    let cursor = text(&first["items_next_cursor"]);
    let rest = api.get(&format!("/v1/bills/{id}/items?after={cursor}&limit=2")).await;
    let rest = rest.assert_status(StatusCode::OK).clone();
    assert_eq!(rest["next_cursor"], Value::Null);
    items.extend(rest["data"].as_array().unwrap().iter().cloned());
    let orders: Vec<(String, String, i64)> = items
        .iter()
        .map(|i| (text(&i["business_type"]), text(&i["reference"]), i["amount"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        orders,
        [
            ("recharge".into(), "R-1".into(), 10_000),
            ("payment".into(), "P-1".into(), 3_000),
            ("payment".into(), "Q-1".into(), 1_500),
            ("refund".into(), "P-1-R1".into(), 1_000)
        ]
    );
    let transfer = text(&items[1]["transfer_id"]);
    api.get(&format!("/v1/ledger/transfers/{transfer}")).await.assert_status(StatusCode::OK);
    assert_eq!(items[3]["balance_after"], json!(6_500));

    // The same period again answers the same bill.
    let period = json!({"from": bill["period"]["from"], "to": bill["period"]["to"]});
    let again = api.post(&format!("/v1/members/{alice}/bills"), period).await;
    assert_eq!(again.assert_status(StatusCode::OK)["id"], json!(id));
    let listed = api.get(&format!("/v1/members/{alice}/bills")).await;
    let listed = listed.assert_status(StatusCode::OK);
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    assert_eq!(listed["data"][0]["id"], json!(id));

    // The customer bill of the same period: its one member's bill.
    let (from, to) = (text(&bill["period"]["from"]), text(&bill["period"]["to"]));
    let printed = api.get(&format!("/v1/customers/{customer}/bills?from={from}&to={to}")).await;
    let printed = printed.assert_status(StatusCode::OK);
    assert_eq!(printed["members"], json!([{"member_id": alice, "bill_id": id}]));
    assert_eq!(printed["sums"][0]["closing_balance"], json!(6_500));
    assert_eq!(printed["sums"][0]["item_count"], json!(4));

    // Periods refused.
    let bills = format!("/v1/members/{alice}/bills");
    api.post(&bills, json!({"period": "2026-13"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "bill_period_invalid");
    api.post(&bills, json!({"period": "2099-12"})).await.assert_error(StatusCode::CONFLICT, "bill_period_not_closed");
    api.post(&bills, json!({"from": to, "to": from}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "bill_period_invalid");
    api.post(&bills, json!({"period": "2026-11", "from": from}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    // A range is whole days of the platform's time zone: an instant that is no midnight there is
    // refused, and so is a range from today (no day of it has ended).
    api.post(&bills, json!({"from": now().to_string()}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "bill_period_invalid");
    api.post(&bills, json!({"from": from, "to": "2026-11-02T00:00:00Z"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "bill_period_invalid");
    api.post(&bills, json!({"from": day_start(0).to_string()}))
        .await
        .assert_error(StatusCode::CONFLICT, "bill_period_not_closed");
    api.post(&bills, json!({"from": "yesterday"})).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_time");
    api.get(&format!("/v1/customers/{customer}/bills"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "missing_parameter");
    api.get(&format!("{bills}?after=nonsense"))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "bill_cursor_invalid");
    api.verify_clean().await;
});

on_both_backends!(a_client_bound_to_a_member_reads_its_own_members_bills_only, |db| {
    let api = app(db).await;
    let (_, shop_basic) = api.active_member("13800000009").await;
    // From three days ago until now: to the end of yesterday, the last day that has ended.
    let from = day_start(3).to_string();
    let (alice, _, alice_customer) = a_members_month(&api, "13800000001", &shop_basic, 1).await;
    let (bob, _, _) = a_members_month(&api, "13800000002", &shop_basic, 2).await;
    let issue = |member: String| {
        let api = &api;
        let from = from.clone();
        async move {
            let issued = api.post(&format!("/v1/members/{member}/bills"), json!({"from": from})).await;
            text(&issued.assert_status(StatusCode::OK)["id"])
        }
    };
    let alices = issue(alice.clone()).await;
    let bobs = issue(bob.clone()).await;

    let ours = bound_client(&api.db.store, &alice, "alice's app").await;
    let get = |path: String| {
        let (api, ours) = (&api, &ours);
        async move { api.send_as(ours, "GET", &path, Value::Null).await }
    };
    get(format!("/v1/bills/{alices}")).await.assert_status(StatusCode::OK);
    get(format!("/v1/bills/{alices}/items")).await.assert_status(StatusCode::OK);
    get(format!("/v1/members/{alice}/bills")).await.assert_status(StatusCode::OK);
    let issued = api.send_as(&ours, "POST", &format!("/v1/members/{alice}/bills"), json!({"from": from})).await;
    issued.assert_status(StatusCode::OK);

    // Another member's bill, by its id or its member: as if absent.
    get(format!("/v1/bills/{bobs}")).await.assert_error(StatusCode::NOT_FOUND, "bill_not_found");
    get(format!("/v1/bills/{bobs}/items")).await.assert_error(StatusCode::NOT_FOUND, "bill_not_found");
    get(format!("/v1/members/{bob}/bills")).await.assert_error(StatusCode::NOT_FOUND, "member_not_found");
    let theirs = api.send_as(&ours, "POST", &format!("/v1/members/{bob}/bills"), json!({"from": from})).await;
    theirs.assert_error(StatusCode::NOT_FOUND, "member_not_found");
    // The customer bill is the back office's: a bound client holds no admin scope.
    get(format!("/v1/customers/{alice_customer}/bills?period=2026-11"))
        .await
        .assert_error(StatusCode::FORBIDDEN, "scope_missing");
    // A bill that does not exist, and one that cannot.
    get("/v1/bills/bil_01JD0000000000000000000000".to_owned())
        .await
        .assert_error(StatusCode::NOT_FOUND, "bill_not_found");
    get("/v1/bills/nonsense".to_owned()).await.assert_error(StatusCode::BAD_REQUEST, "invalid_id");
});
