//! Merchant settlement over HTTP on SQLite and on PostgreSQL: the canteen case (002 case 06). A month
//! of employees' payments and a refund to a canteen give its statement to the cent (commission 0.6%
//! per item rounded half up, a refund giving its part back, a split share none); a daily period for a
//! monthly merchant and a period issued twice are refused; the statement is confirmed by the
//! merchant's bound client and paid out to the bank (reviewed above the threshold, then the channel's
//! result). Another canteen disputes its statement, staff adjust it (maker-checker) and the corrected
//! statement replaces it, paid to the balance once of two payouts at once; a negative net is carried
//! into the next month with the commission and adjustments that did not move, every cent moving once.
//! Another merchant's bound client reaches none of it. The ledger's checks stay clean.
//!
//! The payments are committed through the store at instants of past months (a statement covers
//! periods that have ended); the server's margin for clocks is 0 here, and its settlement clock is
//! set to noon in Shanghai on 18 November 2026 ([`NOW`]): the months and days the tests name are of
//! that instant, whatever the hour the tests run at (none is a second from a midnight).

use axum::http::StatusCode;
use futures_util::future::join_all;
use sanhu_core::{AccountId, PlatformCalendar, PlatformDay, PlatformMonth, Timestamp};
use sanhu_service::clock;
use sanhu_service::party::PartyConfig;
use sanhu_store::LedgerStore;
use sanhu_testkit::app::{bound_client, TestApp, TestResponse};
use sanhu_testkit::ledger::{new_platform, new_transfer_id, post};
use sanhu_testkit::{on_both_backends, world, TestDatabase};
use serde_json::{json, Value};

use super::merchants::{self, active_merchant, enterprise};
use sanhu_testkit::ids::credit_code;

/// Payouts from 20.00 wait for review.
const AUTO_APPROVE_BELOW: i64 = 2_000;

/// A bank payout's withdrawal fee: 2.00, paid by the merchant (out of the amount).
const PAYOUT_FEE: i64 = 200;

/// What the tests' settlement clock reads: noon in Shanghai, 18 November 2026.
#[allow(non_snake_case)]
fn NOW() -> Timestamp {
    let midnight = PlatformCalendar::china().date_start(2026, 11, 18).unwrap();
    Timestamp::from_nanos(midnight.nanos() + 12 * 3_600_000_000_000)
}

/// The merchants tests' API (two staff members), with enterprises settled monthly, no margin for
/// clocks, a fixed withdrawal fee, and its settlement clock at [`NOW`].
pub(crate) async fn app(db: TestDatabase) -> TestApp {
    let parties = PartyConfig { bill_period_closed_after_s: 0, ..merchants::parties() };
    let mut wallet = world::with_withdrawals(world::wallet_config(), 100, AUTO_APPROVE_BELOW);
    wallet.withdrawal = sanhu_core::wallet::WithdrawalPolicy::new(
        wallet.withdrawal.currency(),
        100,
        sanhu_core::wallet::FeeRule::fixed(PAYOUT_FEE).unwrap(),
        sanhu_core::wallet::FeePayer::Member,
    )
    .unwrap();
    wallet.settlement_monthly_types = vec!["enterprise".to_owned()];
    let api = merchants::app_with(db, parties, wallet).await;
    api.state.wallets().clock().set(NOW());
    api
}

/// The month `back` months before [`NOW`]'s, and its first instant.
pub(crate) fn month(back: u32) -> (String, Timestamp) {
    let calendar = PlatformCalendar::china();
    let mut m: PlatformMonth = calendar.month(NOW());
    for _ in 0..back {
        m = m.previous();
    }
    (m.to_string(), calendar.month_bounds(m).unwrap().0)
}

/// Commits `moves` (debit, credit, amount, code, reference, metadata) at `start` + 1 h, + 2 h, ...
pub(crate) async fn commit(api: &TestApp, start: Timestamp, moves: &[(AccountId, AccountId, i64, &str, &str, &str)]) {
    for (i, (debit, credit, amount, code, reference, metadata)) in moves.iter().enumerate() {
        let mut request = post(new_transfer_id(), *debit, *credit, *amount);
        request.code = (*code).to_owned();
        request.reference = Some((*reference).to_owned());
        request.metadata = (*metadata).to_owned();
        let at = Timestamp::from_nanos(start.nanos() + (i as i64 + 1) * 3_600_000_000_000);
        api.db.store.commit_batch(vec![request], at).await.unwrap().remove(0).unwrap();
    }
}

/// An employee's account funded with 1,000.00 before `at`.
pub(crate) async fn employee(api: &TestApp, phone: &str, at: Timestamp) -> AccountId {
    let (_, basic) = api.active_member(phone).await;
    let clearing = new_platform("channel_clearing");
    api.db.store.create_account(&clearing).await.unwrap();
    let basic = AccountId::parse(&basic).unwrap();
    let before = Timestamp::from_nanos(at.nanos() - 2 * 3_600_000_000_000);
    commit(api, before, &[(clearing.id, basic, 100_000, "recharge", "R-1", "{}")]).await;
    basic
}

/// An active canteen (an enterprise merchant) `n`: (its member, merchant id, receipts account).
pub(crate) async fn canteen(api: &TestApp, n: u32) -> (String, String, AccountId) {
    let code = credit_code(100 + n);
    let member =
        enterprise(api, &format!("canteen{n}@example.com"), &format!("1390000010{n}"), "某某科技有限公司", &code).await;
    let (merchant, receipts) = active_merchant(api, &member, &code).await;
    (member, merchant, AccountId::parse(&receipts).unwrap())
}

/// Staff's adjustment of `amount` to `merchant`'s settlement: made by one, approved by another.
async fn adjust(api: &TestApp, merchant: &str, amount: i64, reason: &str) -> Value {
    adjust_for(api, merchant, amount, reason, None).await
}

/// The same, made for the disputed statement `statement` (its corrected re-issue).
async fn adjust_for(api: &TestApp, merchant: &str, amount: i64, reason: &str, statement: Option<&str>) -> Value {
    let answer = adjusted(api, merchant, amount, reason, statement).await;
    assert_eq!(answer["status"], json!(200), "{answer}");
    assert!(answer["body"]["id"].as_str().unwrap().starts_with("sad_"), "{answer}");
    answer["body"].clone()
}

/// The answer (`status`, `body`) the approval of such an adjustment gave.
async fn adjusted(api: &TestApp, merchant: &str, amount: i64, reason: &str, statement: Option<&str>) -> Value {
    let path = format!("/v1/merchants/{merchant}/settlement-adjustments");
    let mut body = json!({"amount": amount, "reason": reason});
    if let Some(statement) = statement {
        body["statement"] = json!(statement);
    }
    let (status, body) = api.held_and_approved(&path, body).await;
    json!({"status": status, "body": body})
}

fn figures(statement: &Value) -> [i64; 5] {
    ["gross", "refunds", "commission", "adjustments", "net"].map(|f| statement[f].as_i64().unwrap())
}

async fn ok(answer: TestResponse) -> Value {
    answer.assert_status(StatusCode::OK).clone()
}

on_both_backends!(a_canteens_month_is_settled_to_the_cent_confirmed_and_paid_out_to_the_bank, |db| {
    let api = app(db).await;
    let (last, start) = month(1);
    let (a_member, a, receipts) = canteen(&api, 1).await;
    let (b_member, b, _) = canteen(&api, 2).await;
    let alice = employee(&api, "13800000001", start).await;
    // Payments of 30.00, 12.50 and 9.99, a split payment's share of 5.00, and 10.00 of the first refunded.
    commit(
        &api,
        start,
        &[
            (alice, receipts, 3_000, "pay", "M-1", "{}"),
            (alice, receipts, 1_250, "pay", "M-2", "{}"),
            (alice, receipts, 999, "pay", "M-3", "{}"),
            (alice, receipts, 500, "pay", "M-4", r#"{"split":true}"#),
            (receipts, alice, 1_000, "refund", "M-1", "{}"),
        ],
    )
    .await;
    let path = format!("/v1/merchants/{a}/settlements");

    // A monthly merchant issues months only.
    let calendar = PlatformCalendar::china();
    let yesterday = calendar.day_start(PlatformDay(calendar.day(NOW()).0 - 1)).unwrap();
    let yesterday = &calendar.local_text(yesterday)[..10];
    assert_eq!(yesterday, "2026-11-17");
    api.post(&path, json!({"date": yesterday}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "settlement_cycle_mismatch");
    let (this_month, _) = month(0);
    api.post(&path, json!({"month": this_month}))
        .await
        .assert_error(StatusCode::CONFLICT, "settlement_period_not_closed");

    let fee_income = api.platform_balance("fee_income").await;
    let statement = ok(api.post(&path, json!({"month": last})).await).await;
    assert_eq!((statement["number"].as_str(), statement["status"].as_str()), (Some("S000001"), Some("issued")));
    assert_eq!(statement["fee_rate_bp"], json!(60));
    // Commission per item, half up: 18 + 8 (7.5) + 6 (5.994) + 0 (split) − 6 (a third of 18 back).
    assert_eq!(figures(&statement), [5_749, 1_000, 26, 0, 4_723]);
    assert_eq!(statement["held"], json!(4_723));
    assert_eq!(api.platform_balance("fee_income").await - fee_income, 26, "the commission moved at issue");
    assert_eq!(api.balance(&receipts.to_string()).await, 5_749 - 1_000 - 26, "the net is held, not gone");

    // The same month again overlaps: its receipts are settled once.
    api.post(&path, json!({"month": last})).await.assert_error(StatusCode::CONFLICT, "settlement_period_overlaps");

    // Item by item, each with its order and its ledger transfer.
    let first = ok(api.get(&format!("{path}/S000001/items?limit=3")).await).await;
    let mut items = first["data"].as_array().unwrap().clone();
    let rest =
        ok(api.get(&format!("{path}/S000001/items?after={}", first["next_cursor"].as_str().unwrap())).await).await;
    items.extend(rest["data"].as_array().unwrap().iter().cloned());
    let seen: Vec<(String, String, i64, i64)> = items
        .iter()
        .map(|i| {
            assert_eq!(i["transfer_ids"].as_array().unwrap().len(), 1);
            (
                i["kind"].as_str().unwrap().to_owned(),
                i["order_number"].as_str().unwrap().to_owned(),
                i["amount"].as_i64().unwrap(),
                i["commission"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("payment".into(), "M-1".into(), 3_000, 18),
            ("payment".into(), "M-2".into(), 1_250, 8),
            ("payment".into(), "M-3".into(), 999, 6),
            ("payment".into(), "M-4".into(), 500, 0),
            ("refund".into(), "M-1".into(), -1_000, -6),
        ]
    );

    // Another canteen's client reaches none of it; canteen A's own client confirms.
    let store = api.state.parties().store().clone();
    let b_client = bound_client(&store, &b_member, "canteen-b").await;
    for (method, suffix, body) in [
        ("GET", "", Value::Null),
        ("GET", "/S000001", Value::Null),
        ("GET", "/S000001/items", Value::Null),
        ("POST", "/S000001/confirm", json!({})),
        ("POST", "/S000001/dispute", json!({"reason": "not ours"})),
        ("POST", "/S000001/payout", json!({"to": "balance"})),
    ] {
        let answer = api.send_as(&b_client, method, &format!("{path}{suffix}"), body).await;
        answer.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    }
    let b_path = format!("/v1/merchants/{b}/settlements");
    let none = api.send_as(&b_client, "GET", &format!("{b_path}/S000001"), Value::Null).await;
    none.assert_error(StatusCode::NOT_FOUND, "settlement_not_found");
    let a_client = bound_client(&store, &a_member, "canteen-a").await;
    let confirmed = api.send_as(&a_client, "POST", &format!("{path}/S000001/confirm"), json!({})).await;
    assert_eq!(confirmed.assert_status(StatusCode::OK)["status"], "confirmed");

    // To the bank: the withdrawal product first, then review (47.23 is above 20.00), then the result.
    let payout = format!("{path}/S000001/payout");
    api.post(&payout, json!({"to": "bank"})).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    api.sign_products(&a, &["withdrawal"]).await;
    let paying = ok(api.post(&payout, json!({"to": "bank"})).await).await;
    assert_eq!((paying["status"].as_str(), paying["payout"]["status"].as_str()), (Some("paying"), Some("reviewing")));
    // The withdrawal's fee, paid by the merchant out of the amount: 47.23 − 2.00 reach its bank.
    assert_eq!(
        paying["payout"],
        json!({"to": "bank", "amount": 4_723, "status": "reviewing", "fee": PAYOUT_FEE, "fee_paid_by_merchant": true,
               "paid_to_account": 4_723 - PAYOUT_FEE})
    );
    let result = format!("{path}/S000001/payout/result");
    api.post(&result, json!({"result": "succeeded"}))
        .await
        .assert_error(StatusCode::CONFLICT, "settlement_not_paying_out");
    let reviewed = ok(api.post(&format!("{path}/S000001/payout/review"), json!({"decision": "approve"})).await).await;
    assert_eq!(reviewed["payout"]["status"], "approved");
    let in_transit = api.platform_balance("withdrawals_in_transit").await;
    let fee_before = api.platform_balance("fee_income").await;
    let paid = ok(api.post(&result, json!({"result": "succeeded"})).await).await;
    assert_eq!(paid["status"], "paid");
    // In transit holds what the channel pays the bank; the fee is the platform's income.
    assert_eq!(api.platform_balance("withdrawals_in_transit").await - in_transit, 4_723 - PAYOUT_FEE);
    assert_eq!(api.platform_balance("fee_income").await - fee_before, PAYOUT_FEE);
    assert_eq!(api.balance(&receipts.to_string()).await, 0, "every cent of the month has moved once");
    // Again: answered as it is.
    assert_eq!(ok(api.post(&result, json!({"result": "succeeded"})).await).await["status"], "paid");
    let listed = ok(api.get(&path).await).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);

    // Every change is in the audit log.
    let audit =
        ok(api.get("/v1/audit-events?route=/v1/merchants/%7Bid%7D/settlements/%7Bnumber%7D/payout").await).await;
    // The other canteen's client's refused attempt, the refusal without the product, the payout.
    let codes: Vec<Value> = audit["data"].as_array().unwrap().iter().map(|e| e["error_code"].clone()).collect();
    assert_eq!(codes, [json!("merchant_not_found"), json!("product_not_signed"), Value::Null], "{audit}");
    api.verify_clean().await;
});

on_both_backends!(a_disputed_statement_is_corrected_and_a_negative_net_is_carried_to_the_cent, |db| {
    let api = app(db).await;
    let ((third, start3), (second, start2), (last, start1)) = (month(3), month(2), month(1));
    let (_, b, receipts) = canteen(&api, 2).await;
    let bob = employee(&api, "13800000002", start3).await;
    commit(&api, start3, &[(bob, receipts, 1_000, "pay", "N-1", "{}")]).await;
    commit(&api, start2, &[(bob, receipts, 2_000, "pay", "N-2", "{}")]).await;
    commit(&api, start1, &[(bob, receipts, 4_000, "pay", "N-3", "{}")]).await;
    let path = format!("/v1/merchants/{b}/settlements");
    let fee_income = api.platform_balance("fee_income").await;

    // Disputed: held still; a correction needs an adjustment first.
    let issued = ok(api.post(&path, json!({"month": third})).await).await;
    assert_eq!(figures(&issued), [1_000, 0, 6, 0, 994]);
    api.post(&format!("{path}/S000001/dispute"), json!({"reason": ""}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "settlement_dispute_reason_invalid");
    let disputed =
        ok(api.post(&format!("{path}/S000001/dispute"), json!({"reason": "三天停业未扣场地费"})).await).await;
    assert_eq!(disputed["status"], "disputed");
    api.post(&path, json!({"month": third})).await.assert_error(StatusCode::CONFLICT, "settlement_no_correction");
    // An API client alone does not adjust.
    api.post(&format!("/v1/merchants/{b}/settlement-adjustments"), json!({"amount": -300, "reason": "x"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "settlement_adjustment_staff_only");
    let adjustment = adjust_for(&api, &b, -300, "场地费 3.00", Some("S000001")).await;
    assert_eq!((adjustment["amount"].as_i64(), adjustment["checker"].is_string()), (Some(-300), true));
    assert_eq!(adjustment["statement"], "S000001");
    let corrected = ok(api.post(&path, json!({"month": third})).await).await;
    assert_eq!((corrected["number"].as_str(), corrected["corrects"].as_str()), (Some("S000002"), Some("S000001")));
    assert_eq!(figures(&corrected), [1_000, 0, 6, -300, 694]);
    let old = ok(api.get(&format!("{path}/S000001")).await).await;
    assert_eq!((old["status"].as_str(), old["corrected_by"].as_str()), (Some("corrected"), Some("S000002")));
    assert_eq!(api.balance(&receipts.to_string()).await, 7_000 - 6 - 300, "the commission moved once");

    // Two payouts at once: one pays, the other meets a statement no longer confirmed.
    ok(api.post(&format!("{path}/S000002/confirm"), json!({})).await).await;
    let payout = format!("{path}/S000002/payout");
    let answers =
        join_all([api.post(&payout, json!({"to": "balance"})), api.post(&payout, json!({"to": "balance"}))]).await;
    let mut statuses: Vec<u16> = answers.iter().map(|a| a.status.as_u16()).collect();
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{:?}", answers.iter().map(|a| a.text.clone()).collect::<Vec<_>>());
    assert_eq!(ok(api.get(&format!("{path}/S000002")).await).await["status"], "paid");

    // The next month: 20.00 received, 50.00 owed: a negative net, nothing moves, all of it carried.
    adjust(&api, &b, -5_000, "设备租金").await;
    let negative = ok(api.post(&path, json!({"month": second})).await).await;
    assert_eq!(figures(&negative), [2_000, 0, 12, -5_000, -3_012]);
    assert_eq!(negative["status"], "carried_forward");
    assert_eq!(negative["carried_out"], json!({"net": -3_012, "commission": 12, "adjustments": -5_000}));
    api.post(&format!("{path}/S000003/confirm"), json!({}))
        .await
        .assert_error(StatusCode::CONFLICT, "settlement_status_conflict");
    assert_eq!(api.balance(&receipts.to_string()).await, 7_000 - 6 - 300);

    // The month after: 40.00 received less 0.24, and the carried −30.12.
    let next = ok(api.post(&path, json!({"month": last})).await).await;
    assert_eq!(figures(&next), [4_000, 0, 24, -3_012, 964]);
    assert_eq!(next["held"], json!(964));
    // Every cent once: commission 6 + 12 + 24, adjustments 300 + 5,000, the nets 6.94 and 9.64.
    assert_eq!(api.platform_balance("fee_income").await - fee_income, 42);
    assert_eq!(api.balance(&receipts.to_string()).await, 694 + 964);
    assert_eq!(7_000 - 42 - 5_300, 694 + 964);
    ok(api.post(&format!("{path}/S000004/confirm"), json!({})).await).await;
    assert_eq!(ok(api.post(&format!("{path}/S000004/payout"), json!({"to": "balance"})).await).await["status"], "paid");
    let page = ok(api.get(&format!("{path}?limit=2")).await).await;
    let next_page = ok(api.get(&format!("{path}?after={}", page["next_cursor"].as_str().unwrap())).await).await;
    let numbers: Vec<&str> = page["data"]
        .as_array()
        .unwrap()
        .iter()
        .chain(next_page["data"].as_array().unwrap())
        .map(|s| s["number"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["S000001", "S000002", "S000003", "S000004"]);
    // S000004 took the carried net over: the month after carries nothing (it is not taken twice).
    let (this_month, _) = month(0);
    let (_, end0) = PlatformCalendar::china().month_bounds(PlatformMonth::parse(&this_month).unwrap()).unwrap();
    api.state.wallets().clock().set(Timestamp::from_nanos(end0.nanos() + 1));
    let after = ok(api.post(&path, json!({"month": this_month})).await).await;
    assert_eq!((figures(&after), after["item_count"].as_i64()), ([0, 0, 0, 0, 0], Some(0)));
    api.verify_clean().await;
});

on_both_backends!(the_run_issues_every_closed_period_since_the_last_statement, |db| {
    let api = app(db).await;
    let (_, start1) = month(1);
    let (_, a, receipts) = canteen(&api, 1).await;
    let carol = employee(&api, "13800000003", start1).await;
    commit(&api, start1, &[(carol, receipts, 1_000, "pay", "K-1", "{}")]).await;
    let pass = api.state.wallets().settle_merchants(NOW()).await.unwrap();
    assert_eq!((pass.issued, pass.failed), (1, 0));
    let listed = ok(api.get(&format!("/v1/merchants/{a}/settlements")).await).await;
    assert_eq!(figures(&listed["data"][0]), [1_000, 0, 6, 0, 994]);
    // Nothing more has closed: the next pass issues nothing.
    let again = api.state.wallets().settle_merchants(NOW()).await.unwrap();
    assert_eq!(again.issued, 0);
});

on_both_backends!(an_issue_cut_off_after_the_ledger_moved_is_finished_by_the_rerun_to_the_cent, |db| {
    let api = app(db).await;
    let (last, start1) = month(1);
    let (_, a, receipts) = canteen(&api, 1).await;
    let dave = employee(&api, "13800000004", start1).await;
    commit(&api, start1, &[(dave, receipts, 3_000, "pay", "C-1", "{}"), (dave, receipts, 1_250, "pay", "C-2", "{}")])
        .await;
    let path = format!("/v1/merchants/{a}/settlements");
    let fee_income = api.platform_balance("fee_income").await;
    // The book cannot be written: the run records the statement and the ledger moves its chain, the
    // end is not written (as a crash between them).
    sanhu_testkit::faults::refuse_rows(&api.db, "refuse_books", "party_records", "NEW.kind = 'settlement_book'").await;
    let pass = api.state.wallets().settle_merchants(NOW()).await.unwrap();
    assert_eq!((pass.issued, pass.failed), (0, 1));
    let recorded = ok(api.get(&format!("{path}/S000001")).await).await;
    assert_eq!(recorded["status"], "issuing");
    assert_eq!(api.platform_balance("fee_income").await - fee_income, 18 + 8, "the ledger moved");
    sanhu_testkit::faults::allow_rows(&api.db, "refuse_books", "party_records").await;
    // The rerun finishes it with the same transfers: nothing moves twice, the figures to the cent.
    let issued = ok(api.post(&path, json!({"month": last})).await).await;
    assert_eq!((issued["number"].as_str(), issued["status"].as_str()), (Some("S000001"), Some("issued")));
    assert_eq!(figures(&issued), [4_250, 0, 26, 0, 4_224]);
    assert_eq!(issued["held"], json!(4_224));
    assert_eq!(api.platform_balance("fee_income").await - fee_income, 26);
    assert_eq!(api.balance(&receipts.to_string()).await, 4_224);
    api.post(&path, json!({"month": last})).await.assert_error(StatusCode::CONFLICT, "settlement_period_overlaps");
    let again = api.state.wallets().settle_merchants(NOW()).await.unwrap();
    assert_eq!((again.issued, again.failed), (0, 0));
    let listed = ok(api.get(&path).await).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 1);
    api.verify_clean().await;
});

on_both_backends!(a_correction_of_an_older_period_adds_to_the_carried_net_it_does_not_replace_it, |db| {
    let api = app(db).await;
    let ((third, start3), (second, start2), (last, start1)) = (month(3), month(2), month(1));
    let (_, b, receipts) = canteen(&api, 2).await;
    let erin = employee(&api, "13800000005", start3).await;
    commit(&api, start3, &[(erin, receipts, 1_000, "pay", "D-1", "{}")]).await;
    commit(&api, start2, &[(erin, receipts, 2_000, "pay", "D-2", "{}")]).await;
    commit(&api, start1, &[(erin, receipts, 4_000, "pay", "D-3", "{}")]).await;
    let path = format!("/v1/merchants/{b}/settlements");
    let fee_income = api.platform_balance("fee_income").await;
    ok(api.post(&path, json!({"month": third})).await).await;
    ok(api.post(&format!("{path}/S000001/dispute"), json!({"reason": "场地费未扣"})).await).await;
    // The next period is issued meanwhile, with a negative net carried: −30.12.
    adjust(&api, &b, -5_000, "设备租金").await;
    let negative = ok(api.post(&path, json!({"month": second})).await).await;
    assert_eq!(figures(&negative), [2_000, 0, 12, -5_000, -3_012]);
    assert_eq!(negative["carried_out"]["net"], json!(-3_012));
    // The correction of the first period has a negative net too (10.00 − 0.06 − 15.00 = −5.06).
    adjust_for(&api, &b, -1_500, "场地费 15.00", Some("S000001")).await;
    let corrected = ok(api.post(&path, json!({"month": third})).await).await;
    assert_eq!((corrected["number"].as_str(), corrected["corrects"].as_str()), (Some("S000003"), Some("S000001")));
    assert_eq!(figures(&corrected), [1_000, 0, 6, -1_500, -506]);
    assert_eq!(corrected["status"], "carried_forward");
    // Both carried: −30.12 − 5.06 = −35.18 into the next.
    let next = ok(api.post(&path, json!({"month": last})).await).await;
    assert_eq!(figures(&next), [4_000, 0, 24, -3_518, 458]);
    assert_eq!(next["held"], json!(458));
    assert_eq!(api.platform_balance("fee_income").await - fee_income, 6 + 12 + 24);
    assert_eq!(api.balance(&receipts.to_string()).await, 7_000 - 42 - 6_500);
    api.verify_clean().await;
});

on_both_backends!(a_payout_whose_ledger_call_got_no_answer_is_finished_by_its_retry_or_by_the_run, |db| {
    let api = app(db).await;
    let ((second, start2), (last, start1)) = (month(2), month(1));
    let (_, a, receipts) = canteen(&api, 1).await;
    let frank = employee(&api, "13800000006", start2).await;
    commit(&api, start2, &[(frank, receipts, 1_000, "pay", "P-1", "{}")]).await;
    commit(&api, start1, &[(frank, receipts, 2_000, "pay", "P-2", "{}")]).await;
    let path = format!("/v1/merchants/{a}/settlements");
    for month in [&second, &last] {
        ok(api.post(&path, json!({"month": month})).await).await;
    }
    for n in ["S000001", "S000002"] {
        ok(api.post(&format!("{path}/{n}/confirm"), json!({})).await).await;
    }
    // The ledger writes nothing: the payouts' chains get no answer; they stay `paying`.
    sanhu_testkit::faults::refuse_rows(&api.db, "refuse_transfers", "ledger_transfers", "TRUE").await;
    for n in ["S000001", "S000002"] {
        let lost = api.post(&format!("{path}/{n}/payout"), json!({"to": "balance"})).await;
        assert!(lost.status.is_server_error(), "{} {}", lost.status, lost.text);
        assert_eq!(ok(api.get(&format!("{path}/{n}")).await).await["status"], "paying");
    }
    sanhu_testkit::faults::allow_rows(&api.db, "refuse_transfers", "ledger_transfers").await;
    // The retry of the payout finishes it.
    let paid = ok(api.post(&format!("{path}/S000001/payout"), json!({"to": "balance"})).await).await;
    assert_eq!(paid["status"], "paid");
    // The run finishes the other once it has been in flight for over a minute (not before): the
    // run's clock is the system's here, as the payouts' records are (it also issues the months
    // between NOW and today, with nothing received).
    let now = clock::now();
    api.state.wallets().settle_merchants(now).await.unwrap();
    assert_eq!(ok(api.get(&format!("{path}/S000002")).await).await["status"], "paying");
    api.state.wallets().settle_merchants(Timestamp::from_nanos(now.nanos() + 120_000_000_000)).await.unwrap();
    assert_eq!(ok(api.get(&format!("{path}/S000002")).await).await["status"], "paid");
    // Both nets are the merchant's balance, once: 9.94 + 19.88.
    assert_eq!(api.balance(&receipts.to_string()).await, 994 + 1_988);
    api.verify_clean().await;
});

on_both_backends!(three_partial_refunds_give_back_no_more_commission_than_the_payment_paid, |db| {
    let api = app(db).await;
    let (last, start1) = month(1);
    let (_, a, receipts) = canteen(&api, 1).await;
    let gina = employee(&api, "13800000007", start1).await;
    // 12.50 (commission 0.075 → 0.08) refunded in three parts 4.17 + 4.17 + 4.16: each on its own would
    // give back 0.03 three times (0.09); counted cumulatively 0.03 + 0.02 + 0.03 = 0.08.
    commit(
        &api,
        start1,
        &[
            (gina, receipts, 1_250, "pay", "R-9", "{}"),
            (receipts, gina, 417, "refund", "R-9", "{}"),
            (receipts, gina, 417, "refund", "R-9", "{}"),
            (receipts, gina, 416, "refund", "R-9", "{}"),
        ],
    )
    .await;
    let path = format!("/v1/merchants/{a}/settlements");
    let fee_income = api.platform_balance("fee_income").await;
    let issued = ok(api.post(&path, json!({"month": last})).await).await;
    assert_eq!(figures(&issued), [1_250, 1_250, 0, 0, 0]);
    let items = ok(api.get(&format!("{path}/S000001/items")).await).await;
    let back: Vec<i64> = items["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "refund")
        .map(|i| i["commission"].as_i64().unwrap())
        .collect();
    assert_eq!(back, [-3, -2, -3]);
    assert_eq!(api.platform_balance("fee_income").await, fee_income);
    api.verify_clean().await;
});

on_both_backends!(a_correction_made_for_a_disputed_statement_waits_for_its_reissue_the_run_does_not_take_it, |db| {
    let api = app(db).await;
    let ((third, start3), (second, start2), (_, start1)) = (month(3), month(2), month(1));
    let (b_member, b, receipts) = canteen(&api, 2).await;
    let hank = employee(&api, "13800000008", start3).await;
    commit(&api, start3, &[(hank, receipts, 1_000, "pay", "H-1", "{}")]).await;
    commit(&api, start2, &[(hank, receipts, 2_000, "pay", "H-2", "{}")]).await;
    commit(&api, start1, &[(hank, receipts, 4_000, "pay", "H-3", "{}")]).await;
    let path = format!("/v1/merchants/{b}/settlements");

    // In order: the merchant's own client cannot issue a later period first, leaving a gap.
    let store = api.state.parties().store().clone();
    let client = bound_client(&store, &b_member, "canteen-b").await;
    ok(api.send_as(&client, "POST", &path, json!({"month": third})).await).await;
    let (last, _) = month(1);
    api.send_as(&client, "POST", &path, json!({"month": last}))
        .await
        .assert_error(StatusCode::CONFLICT, "settlement_period_out_of_order");
    ok(api.send_as(&client, "POST", &format!("{path}/S000001/dispute"), json!({"reason": "场地费未扣"})).await).await;

    // A correction is made for a disputed statement only; an unknown one is not found.
    let refused = adjusted(&api, &b, -300, "场地费 3.00", Some("S000009")).await;
    assert_eq!(
        (refused["status"].as_i64(), refused["body"]["error"]["code"].as_str()),
        (Some(404), Some("settlement_not_found"))
    );
    // The correction for S000001 and, for the next statement, a rebate of 1.00.
    let correction = adjust_for(&api, &b, -300, "场地费 3.00", Some("S000001")).await;
    let rebate = adjust(&api, &b, 100, "返还 1.00").await;
    assert_eq!(rebate["statement"], Value::Null);

    // The run issues the next two months: they take the rebate, never the correction.
    let pass = api.state.wallets().settle_merchants(NOW()).await.unwrap();
    assert_eq!((pass.issued, pass.failed, pass.short), (2, 0, 0));
    let s2 = ok(api.get(&format!("{path}/S000002")).await).await;
    assert_eq!(s2["period"], json!(second));
    assert_eq!(figures(&s2), [2_000, 0, 12, 100, 2_088]);
    let items = ok(api.get(&format!("{path}/S000002/items")).await).await;
    let rebate_item = items["data"].as_array().unwrap().iter().find(|i| i["kind"] == "adjustment").unwrap().clone();
    assert_eq!(rebate_item["adjustment_id"], rebate["id"], "the item names its adjustment");
    assert_eq!(figures(&ok(api.get(&format!("{path}/S000003")).await).await), [4_000, 0, 24, 0, 3_976]);
    // An adjustment for a statement that is not disputed is refused.
    let refused = adjusted(&api, &b, -100, "x", Some("S000002")).await;
    assert_eq!(refused["body"]["error"]["code"], "settlement_status_conflict", "{refused}");

    // The re-issue of the disputed month takes the correction, and only it.
    let corrected = ok(api.post(&path, json!({"month": third})).await).await;
    assert_eq!((corrected["number"].as_str(), corrected["corrects"].as_str()), (Some("S000004"), Some("S000001")));
    assert_eq!(figures(&corrected), [1_000, 0, 6, -300, 694]);
    let items = ok(api.get(&format!("{path}/S000004/items")).await).await;
    let ids: Vec<&Value> = items["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["kind"] == "adjustment")
        .map(|i| &i["adjustment_id"])
        .collect();
    assert_eq!(ids, [&correction["id"]]);
    // Every cent once: commission 6 + 12 + 24, the rebate in, the correction out.
    assert_eq!(api.balance(&receipts.to_string()).await, 7_000 - 42 + 100 - 300);
    api.verify_clean().await;
});

on_both_backends!(a_merchant_that_withdrew_its_receipts_is_settled_short_and_the_run_goes_on_never_overdrawing, |db| {
    let api = app(db).await;
    let ((second, start2), (last, start1)) = (month(2), month(1));
    let (_, a, receipts) = canteen(&api, 1).await;
    let (_, b, b_receipts) = canteen(&api, 2).await;
    let ivan = employee(&api, "13800000009", start2).await;
    let bank = new_platform("channel_clearing");
    api.db.store.create_account(&bank).await.unwrap();
    // Canteen A withdraws (through the withdrawal flow) all it received before it is settled, two
    // months running, leaving 0.05; canteen B leaves 1.00 of its 10.00.
    commit(
        &api,
        start2,
        &[(ivan, receipts, 1_000, "pay", "W-1", "{}"), (receipts, bank.id, 1_000, "withdraw", "W-OUT1", "{}")],
    )
    .await;
    commit(
        &api,
        start1,
        &[(ivan, receipts, 2_000, "pay", "W-2", "{}"), (receipts, bank.id, 1_995, "withdraw", "W-OUT2", "{}")],
    )
    .await;
    commit(
        &api,
        start1,
        &[(ivan, b_receipts, 1_000, "pay", "X-1", "{}"), (b_receipts, bank.id, 900, "withdraw", "X-OUT", "{}")],
    )
    .await;
    let path = format!("/v1/merchants/{a}/settlements");
    let fee_income = api.platform_balance("fee_income").await;

    // A's first month is short: nothing moved (0.05 does not cover the commission), its receipts
    // the merchant's as what it withdrew was, its commission carried.
    let short = ok(api.post(&path, json!({"month": second})).await).await;
    assert_eq!((short["status"].as_str(), short["held"].as_i64()), (Some("short"), Some(0)));
    assert_eq!(figures(&short), [1_000, 0, 6, 0, 994]);
    assert_eq!(short["carried_out"], json!({"net": -6, "commission": 6, "adjustments": 0}));
    api.post(&format!("{path}/S000001/confirm"), json!({}))
        .await
        .assert_error(StatusCode::CONFLICT, "settlement_status_conflict");

    // The run does not stop at either: A's next month is short again (its commission and the one
    // carried, carried); B's is short but its commission is taken from the 1.00 left, nothing carried.
    let pass = api.state.wallets().settle_merchants(NOW()).await.unwrap();
    assert_eq!((pass.issued, pass.short, pass.failed), (2, 2, 0));
    let again = ok(api.get(&format!("{path}/S000002")).await).await;
    assert_eq!((again["period"].as_str(), again["status"].as_str()), (Some(last.as_str()), Some("short")));
    assert_eq!(figures(&again), [2_000, 0, 12, -6, 1_982]);
    assert_eq!(again["carried_out"], json!({"net": -18, "commission": 18, "adjustments": 0}));
    assert_eq!(api.balance(&receipts.to_string()).await, 5, "nothing moved, nothing overdrawn");
    let b_short = ok(api.get(&format!("/v1/merchants/{b}/settlements/S000001")).await).await;
    assert_eq!((b_short["status"].as_str(), b_short["held"].as_i64()), (Some("short"), Some(0)));
    assert_eq!(b_short["carried_out"], json!({"net": 0, "commission": 0, "adjustments": 0}));
    assert_eq!(api.balance(&b_receipts.to_string()).await, 100 - 6);
    assert_eq!(api.platform_balance("fee_income").await - fee_income, 6);

    // A month later A keeps its 20.00: its statement takes its commission and the two carried.
    let calendar = PlatformCalendar::china();
    let (this_month, _) = month(0);
    let (start0, end0) = calendar.month_bounds(PlatformMonth::parse(&this_month).unwrap()).unwrap();
    commit(&api, start0, &[(ivan, receipts, 2_000, "pay", "W-3", "{}")]).await;
    let later = Timestamp::from_nanos(end0.nanos() + 3_600_000_000_000);
    let pass = api.state.wallets().settle_merchants(later).await.unwrap();
    assert_eq!((pass.issued, pass.short, pass.failed), (2, 0, 0));
    let next = ok(api.get(&format!("{path}/S000003")).await).await;
    assert_eq!((figures(&next), next["status"].as_str()), ([2_000, 0, 12, -18, 1_970], Some("issued")));
    assert_eq!(api.platform_balance("fee_income").await - fee_income, 6 + 6 + 12 + 12, "every commission once");
    assert_eq!(api.balance(&receipts.to_string()).await, 5 + 1_970);
    api.verify_clean().await;
});

on_both_backends!(a_short_statement_cut_off_after_its_commission_moved_takes_it_once_when_finished, |db| {
    let api = app(db).await;
    let (last, start1) = month(1);
    let (_, b, receipts) = canteen(&api, 2).await;
    let ivan = employee(&api, "13800000009", start1).await;
    let bank = new_platform("channel_clearing");
    api.db.store.create_account(&bank).await.unwrap();
    // 10.00 received, 9.00 withdrawn: the 1.00 left covers the commission, not the hold.
    commit(
        &api,
        start1,
        &[(ivan, receipts, 1_000, "pay", "Y-1", "{}"), (receipts, bank.id, 900, "withdraw", "Y-OUT", "{}")],
    )
    .await;
    let path = format!("/v1/merchants/{b}/settlements");
    let fee_income = api.platform_balance("fee_income").await;
    // The statement is found short and its commission moves; the end is not written (as a crash).
    sanhu_testkit::faults::refuse_rows(&api.db, "refuse_books", "party_records", "NEW.kind = 'settlement_book'").await;
    let pass = api.state.wallets().settle_merchants(NOW()).await.unwrap();
    assert_eq!((pass.issued, pass.short, pass.failed), (0, 0, 1));
    let recorded = ok(api.get(&format!("{path}/S000001")).await).await;
    assert_eq!(recorded["status"], "issuing");
    assert_eq!(api.platform_balance("fee_income").await - fee_income, 6, "the commission moved");
    sanhu_testkit::faults::allow_rows(&api.db, "refuse_books", "party_records").await;
    // Receipts come in meanwhile, enough for the statement's own chain: finishing it must not apply
    // that chain (the commission again, and a hold), only the one recorded when it was found short.
    let (this_month, _) = month(0);
    let (start0, _) = PlatformCalendar::china().month_bounds(PlatformMonth::parse(&this_month).unwrap()).unwrap();
    commit(&api, start0, &[(ivan, receipts, 5_000, "pay", "Y-2", "{}")]).await;
    let finished = ok(api.post(&path, json!({"month": last})).await).await;
    assert_eq!((finished["number"].as_str(), finished["status"].as_str()), (Some("S000001"), Some("short")));
    assert_eq!(
        (finished["held"].as_i64(), finished["carried_out"].clone()),
        (Some(0), json!({"net": 0, "commission": 0, "adjustments": 0}))
    );
    assert_eq!(api.platform_balance("fee_income").await - fee_income, 6, "the commission taken once");
    assert_eq!(api.balance(&receipts.to_string()).await, 100 - 6 + 5_000);
    api.verify_clean().await;
});

on_both_backends!(a_refund_gives_back_the_commission_its_payment_was_charged_not_the_current_rate, |db| {
    use sanhu_store::party::{PartyStore, PartyWrite, RecordWrite};
    let api = app(db).await;
    let ((second, start2), (last, start1)) = (month(2), month(1));
    let (_, a, receipts) = canteen(&api, 1).await;
    let judy = employee(&api, "13800000010", start2).await;
    commit(&api, start2, &[(judy, receipts, 3_000, "pay", "V-1", "{}")]).await;
    // The next month: 10.00 of the payment refunded, and a new payment of 10.00 (committed before the
    // first month's statement holds its net).
    commit(
        &api,
        start1,
        &[(receipts, judy, 1_000, "refund", "V-1", "{}"), (judy, receipts, 1_000, "pay", "V-2", "{}")],
    )
    .await;
    let path = format!("/v1/merchants/{a}/settlements");
    let first = ok(api.post(&path, json!({"month": second})).await).await;
    assert_eq!((first["fee_rate_bp"].as_i64(), first["commission"].as_i64()), (Some(60), Some(18)));

    // The merchant's rate of the balance payment becomes 1% (its signing's rate, as re-signed).
    let store = api.state.parties().store().clone();
    let mut record = store.party_records(std::slice::from_ref(&a)).await.unwrap().pop().unwrap();
    let mut data: Value = serde_json::from_str(&record.data).unwrap();
    for signing in data["products"].as_array_mut().unwrap() {
        if signing["product"] == "balance_payment" {
            signing["fee_rate_bp"] = json!(100);
        }
    }
    let expected_version = record.version;
    record.version += 1;
    record.data = data.to_string();
    store
        .party_write(&PartyWrite { records: vec![RecordWrite { record, expected_version }], ..PartyWrite::default() })
        .await
        .unwrap()
        .unwrap();
    let next = ok(api.post(&path, json!({"month": last})).await).await;
    assert_eq!(next["fee_rate_bp"], json!(100));
    // The new payment at 1%: 0.10; the refund gives back a third of the 0.18 taken (0.06), not 0.10.
    let items = ok(api.get(&format!("{path}/S000002/items")).await).await;
    let seen: Vec<(&str, i64, i64)> = items["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["kind"].as_str().unwrap(), i["amount"].as_i64().unwrap(), i["commission"].as_i64().unwrap()))
        .collect();
    assert_eq!(seen, [("refund", -1_000, -6), ("payment", 1_000, 10)]);
    assert_eq!(figures(&next), [1_000, 1_000, 4, 0, -4]);
    api.verify_clean().await;
});
