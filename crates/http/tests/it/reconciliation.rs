//! Channel reconciliation over HTTP on SQLite and on PostgreSQL: a WeChat Pay-like file of the day
//! against the day's recharges and a refund gives one of each kind of difference (matched, missing in
//! sanhu, missing in the channel, amount and status mismatch); the same file again answers the first
//! import; a difference is explained once; a recharge the channel paid that sanhu has pending is
//! credited by one staff member's request approved by another (refused for the maker, and for an API
//! client alone), through the recharge's own completion, once. A bank's `|`-separated payout file in
//! fen is matched with the day's withdrawals. A file that cannot be read is refused with its line and
//! column, and changes nothing; a bound client reaches none of it. The ledger's checks stay clean.

use axum::http::StatusCode;
use sanhu_core::reconciliation::{AmountUnit, ChannelLayout, Column, LineKind};
use sanhu_core::PlatformCalendar;
use sanhu_service::clock;
use sanhu_service::wallet::WalletConfig;
use sanhu_testkit::app::{bound_client, TestApp};
use sanhu_testkit::{on_both_backends, world, TestDatabase};
use serde_json::{json, Value};

use super::merchants;
use sanhu_testkit::staff::{CHECKER, MAKER};

/// The wallet with withdrawals reviewed from 1,000.00, a WeChat Pay-like layout (its totals as two
/// footer rows, refunds told by their status) and a bank that pays out withdrawals.
fn wallet() -> WalletConfig {
    let mut wallet = world::with_withdrawals(world::wallet_config(), 100, 100_000);
    wallet.reconciliation = vec![
        ChannelLayout {
            footer_rows: 2,
            amount: Column::header(&["订单金额"]),
            refund_amount: Some(Column::header(&["退款金额"])),
            kind: Some(Column::header(&["交易状态"])),
            ..ChannelLayout::default_for("wechat")
        },
        ChannelLayout {
            payouts: true,
            delimiter: '|',
            order_number: Column::Number(5),
            amount: Column::Number(3),
            amount_unit: AmountUnit::Fen,
            time: Some(Column::Number(1)),
            status: Some(Column::Number(4)),
            success_values: vec!["成功".to_owned()],
            kind: None,
            refund_number: None,
            transaction_id: Some(Column::Number(2)),
            default_kind: LineKind::Payout,
            ..ChannelLayout::default_for("bank_payouts")
        },
    ];
    wallet
}

async fn app(db: TestDatabase) -> TestApp {
    merchants::app_with(db, merchants::parties(), wallet()).await
}

/// Today in the platform's calendar, `YYYY-MM-DD`.
fn today() -> String {
    PlatformCalendar::china().local_text(clock::now()).chars().take(10).collect()
}

async fn recharge(api: &TestApp, member: &str, account: &str, number: &str, amount: i64, confirm: bool) {
    let body = json!({"order_number": number, "member_id": member, "account_id": account, "amount": amount,
                      "channel": "wechat"});
    api.post("/v1/recharges", body).await.assert_status(StatusCode::CREATED);
    if confirm {
        api.post(&format!("/v1/recharges/{number}/confirm"), json!({})).await.assert_status(StatusCode::OK);
    }
}

/// The WeChat Pay-like file of `day`: header, lines with their backticks, two rows of totals.
fn wechat_file(day: &str, lines: &[(&str, &str, &str, &str, &str, &str)]) -> String {
    let mut text = "交易时间,微信订单号,商户订单号,交易状态,订单金额,商户退款单号,退款金额\n".to_owned();
    for (i, (number, status, amount, refund, refund_amount, hour)) in lines.iter().enumerate() {
        text.push_str(&format!(
            "`{day} {hour}:00:00,`42000{i:05},`{number},`{status},`{amount},`{refund},`{refund_amount}\n"
        ));
    }
    text.push_str("总交易单数,应结订单总金额\n`6,`250.00\n");
    text
}

fn differences_by_kind(page: &Value) -> Vec<(String, String)> {
    page["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["kind"].as_str().unwrap().to_owned(), d["order_number"].as_str().unwrap().to_owned()))
        .collect()
}

fn difference_number(page: &Value, kind: &str, order: &str) -> u64 {
    let found = page["data"].as_array().unwrap().iter().find(|d| d["kind"] == kind && d["order_number"] == order);
    found.unwrap_or_else(|| panic!("no {kind} of {order}: {page}"))["number"].as_u64().unwrap()
}

on_both_backends!(a_channels_file_gives_each_kind_of_difference_explained_or_credited_by_two_staff_members, |db| {
    let api = app(db).await;
    let day = today();
    let (alice, basic) = api.active_member("13800000001").await;
    // Sanhu's day: R-1 credited and 10.00 of it refunded, R-2 credited 50.00, R-3 credited, R-4 still
    // pending, R-6 credited; R-5 sanhu never saw.
    recharge(&api, &alice, &basic, "R-1", 10_000, true).await;
    let refund = api.post("/v1/recharges/R-1/refunds", json!({"refund_number": "RF-1", "amount": 1_000})).await;
    refund.assert_status(StatusCode::CREATED);
    recharge(&api, &alice, &basic, "R-2", 5_000, true).await;
    recharge(&api, &alice, &basic, "R-3", 3_000, true).await;
    recharge(&api, &alice, &basic, "R-4", 2_000, false).await;
    recharge(&api, &alice, &basic, "R-6", 4_000, true).await;
    let file = wechat_file(
        &day,
        &[
            ("R-1", "SUCCESS", "100.00", "", "0.00", "09"),
            ("R-1", "REFUND", "100.00", "RF-1", "10.00", "10"),
            ("R-2", "SUCCESS", "49.00", "", "0.00", "11"),
            ("R-3", "CLOSED", "30.00", "", "0.00", "12"),
            ("R-4", "SUCCESS", "20.00", "", "0.00", "13"),
            ("R-5", "SUCCESS", "10.00", "", "0.00", "14"),
        ],
    );
    let body = json!({"channel": "wechat", "date": day, "csv": file});
    let imported = api.post("/v1/reconciliation/imports", body.clone()).await;
    let imported = imported.assert_status(StatusCode::OK).clone();
    assert_eq!(imported["lines"], 6);
    assert_eq!(
        imported["counts"],
        json!({"matched": 2, "missing_in_sanhu": 2, "missing_in_channel": 1, "amount_mismatch": 1, "status_mismatch": 1})
    );
    assert_eq!(imported["open_differences"], 5);
    let id = imported["id"].as_str().unwrap().to_owned();

    // The same file again is the same import; listed once for the channel and the day.
    let again = api.post("/v1/reconciliation/imports", body).await;
    assert_eq!(again.assert_status(StatusCode::OK)["id"], id.as_str());
    let listed = api.get(&format!("/v1/reconciliation/imports?channel=wechat&date={day}")).await;
    let listed = listed.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "{listed}");
    let read = api.get(&format!("/v1/reconciliation/imports/{id}")).await;
    assert_eq!(read.assert_status(StatusCode::OK)["counts"], imported["counts"]);

    let differences = api.get(&format!("/v1/reconciliation/imports/{id}/differences?status=open")).await;
    let differences = differences.assert_status(StatusCode::OK).clone();
    let mut kinds = differences_by_kind(&differences);
    kinds.sort();
    let expected = [
        ("amount_mismatch", "R-2"),
        ("missing_in_channel", "R-6"),
        ("missing_in_sanhu", "R-4"),
        ("missing_in_sanhu", "R-5"),
        ("status_mismatch", "R-3"),
    ];
    assert_eq!(kinds, expected.map(|(k, n)| (k.to_owned(), n.to_owned())));
    let mismatch = difference_number(&differences, "amount_mismatch", "R-2");
    let pending = difference_number(&differences, "missing_in_sanhu", "R-4");
    let unknown = difference_number(&differences, "missing_in_sanhu", "R-5");
    let row = differences["data"].as_array().unwrap().iter().find(|d| d["number"] == mismatch).unwrap().clone();
    assert_eq!((row["channel_amount"].as_i64(), row["sanhu_amount"].as_i64()), (Some(4_900), Some(5_000)));
    assert_eq!(row["line"], 4);

    // Explained once, with its reason.
    let path = format!("/v1/reconciliation/imports/{id}/differences");
    let explained =
        api.post(&format!("{path}/{mismatch}/explain"), json!({"reason": "渠道少结 1.00，已联系渠道"})).await;
    let explained = explained.assert_status(StatusCode::OK).clone();
    assert_eq!(
        (explained["status"].as_str(), explained["resolution"]["action"].as_str()),
        (Some("resolved"), Some("explain"))
    );
    api.post(&format!("{path}/{mismatch}/explain"), json!({"reason": "again"}))
        .await
        .assert_error(StatusCode::CONFLICT, "reconciliation_difference_resolved");
    api.post(&format!("{path}/{mismatch}/explain"), json!({"reason": " "}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "reconciliation_reason_invalid");
    api.post(&format!("{path}/999/explain"), json!({"reason": "x"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "reconciliation_difference_not_found");
    let resolved = api.get(&format!("{path}?status=resolved")).await;
    assert_eq!(resolved.assert_status(StatusCode::OK)["data"].as_array().unwrap().len(), 1);

    // Crediting R-4: an API client alone is refused; a staff member's request waits for another's.
    let before = api.wallet(&alice).await["balance"].as_i64().unwrap();
    api.post(&format!("{path}/{pending}/credit"), json!({"reason": "渠道已付款"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "reconciliation_credit_staff_only");
    let (maker, checker) = (api.sign_in(MAKER).await, api.sign_in(CHECKER).await);
    let held = api.staff_post(&maker, &format!("{path}/{pending}/credit"), json!({"reason": "渠道已付款"})).await;
    let approval = held.assert_status(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_owned();
    assert_eq!(api.wallet(&alice).await["balance"].as_i64(), Some(before), "nothing moves while held");
    let own = api.staff_post(&maker, &format!("/v1/approvals/{approval}/approve"), json!({})).await;
    own.assert_error(StatusCode::FORBIDDEN, "approval_same_staff_member");
    let applied = api.staff_post(&checker, &format!("/v1/approvals/{approval}/approve"), json!({})).await;
    let response = applied.assert_status(StatusCode::OK)["response"].clone();
    assert_eq!(response["status"], json!(200), "{response}");
    let credited = &response["body"];
    assert_eq!(credited["resolution"]["action"], "credit");
    assert_eq!(credited["resolution"]["by"], format!("staff:{MAKER}"));
    assert_eq!(credited["resolution"]["approved_by"], format!("staff:{CHECKER}"));
    assert_eq!(api.wallet(&alice).await["balance"].as_i64(), Some(before + 2_000));
    assert_eq!(api.get("/v1/recharges/R-4").await.assert_status(StatusCode::OK)["status"], "succeeded");

    // R-5 has no order in sanhu: nothing to credit.
    let held = api.staff_post(&maker, &format!("{path}/{unknown}/credit"), json!({"reason": "渠道已付款"})).await;
    let approval = held.assert_status(StatusCode::ACCEPTED)["id"].as_str().unwrap().to_owned();
    let applied = api.staff_post(&checker, &format!("/v1/approvals/{approval}/approve"), json!({})).await;
    let response = applied.assert_status(StatusCode::OK)["response"].clone();
    assert_eq!(response["status"], json!(409), "{response}");
    assert_eq!(response["body"]["error"]["code"], "reconciliation_not_creditable");
    assert_eq!(api.wallet(&alice).await["balance"].as_i64(), Some(before + 2_000));
    let open = api.get(&format!("{path}?status=open&limit=2")).await;
    let open = open.assert_status(StatusCode::OK).clone();
    assert_eq!(open["data"].as_array().unwrap().len(), 2);
    let next = open["next_cursor"].as_str().unwrap().to_owned();
    let rest = api.get(&format!("{path}?status=open&limit=2&after={next}")).await;
    assert_eq!(rest.assert_status(StatusCode::OK)["data"].as_array().unwrap().len(), 1);
    assert_eq!(api.get(&format!("/v1/reconciliation/imports/{id}")).await.body["open_differences"], 3);

    // Not the reach of a client bound to a member (which never holds an admin scope); an unknown
    // import is absent.
    let bound = bound_client(&api.db.store, &alice, "alice's app").await;
    api.send_as(&bound, "GET", &format!("/v1/reconciliation/imports/{id}"), Value::Null)
        .await
        .assert_error(StatusCode::FORBIDDEN, "scope_missing");
    let body = json!({"channel": "wechat", "date": day, "csv": file});
    api.send_as(&bound, "POST", "/v1/reconciliation/imports", body)
        .await
        .assert_error(StatusCode::FORBIDDEN, "scope_missing");
    api.get("/v1/reconciliation/imports/rcn_000000000000000000000000")
        .await
        .assert_error(StatusCode::NOT_FOUND, "reconciliation_import_not_found");
    api.get("/v1/reconciliation/imports/nothing")
        .await
        .assert_error(StatusCode::NOT_FOUND, "reconciliation_import_not_found");
    api.verify_clean().await;
});

on_both_backends!(a_banks_payout_file_in_fen_is_matched_with_the_days_withdrawals, |db| {
    let api = app(db).await;
    let day = today();
    let (bob, basic) = api.active_member("13800000002").await;
    recharge(&api, &bob, &basic, "RB-1", 10_000, true).await;
    api.real_name(&bob, "张三", 1).await;
    let card = api.bind_card(&bob, "张三", 2).await;
    for (number, amount) in [("W-1", 3_000), ("W-2", 2_000)] {
        let body = json!({"order_number": number, "member_id": bob, "amount": amount, "bank_card_id": card});
        api.post("/v1/withdrawals", body).await.assert_status(StatusCode::CREATED);
        let paid = api.post(&format!("/v1/withdrawals/{number}/payout"), json!({"result": "succeeded"})).await;
        assert_eq!(paid.assert_status(StatusCode::OK)["status"], "paid");
    }
    // The bank's file: W-1 paid, W-3 (not sanhu's) paid; W-2 is not in it.
    let compact = day.replace('-', "/");
    let file = format!(
        "日期|流水号|金额(分)|状态|备注\n{compact} 10:00:00|B0001|3000|成功|W-1\n{compact} 11:00:00|B0002|500|成功|W-3\n"
    );
    let imported =
        api.post("/v1/reconciliation/imports", json!({"channel": "bank_payouts", "date": day, "csv": file})).await;
    let imported = imported.assert_status(StatusCode::OK).clone();
    assert_eq!(
        imported["counts"],
        json!({"matched": 1, "missing_in_sanhu": 1, "missing_in_channel": 1, "amount_mismatch": 0, "status_mismatch": 0})
    );
    let id = imported["id"].as_str().unwrap();
    let differences = api.get(&format!("/v1/reconciliation/imports/{id}/differences")).await;
    let differences = differences.assert_status(StatusCode::OK).clone();
    let mut kinds = differences_by_kind(&differences);
    kinds.sort();
    assert_eq!(
        kinds,
        [("missing_in_channel".to_owned(), "W-2".to_owned()), ("missing_in_sanhu".to_owned(), "W-3".to_owned())]
    );
    assert_eq!(differences["data"][0]["order_kind"], "payout");
    api.verify_clean().await;
});

on_both_backends!(a_file_that_cannot_be_read_is_refused_with_its_line_and_column_and_changes_nothing, |db| {
    let api = app(db).await;
    let day = today();
    let import = |channel: &str, date: &str, csv: &str| json!({"channel": channel, "date": date, "csv": csv});
    let header = "交易时间,微信订单号,商户订单号,交易状态,订单金额,商户退款单号,退款金额\n";
    let totals = "总交易单数\n`0\n";
    let bad_amount = format!(
        "{header}`{day} 10:00:00,`1,`R-1,`SUCCESS,`1.00,,\n`{day} 10:00:00,`2,`R-2,`SUCCESS,`1.0.0,,\n{totals}"
    );
    let refused = api.post("/v1/reconciliation/imports", import("wechat", &day, &bad_amount)).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "reconciliation_file_invalid");
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("line 3, column 5"), "{}", refused.text);
    let other_day = format!("{header}`2020-01-01 10:00:00,`1,`R-1,`SUCCESS,`1.00,,\n{totals}");
    let refused = api.post("/v1/reconciliation/imports", import("wechat", &day, &other_day)).await;
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("line 2, column 1"), "{}", refused.text);
    let no_column = format!("交易时间,订单金额\n`{day} 10:00:00,`1.00\n{totals}");
    let refused = api.post("/v1/reconciliation/imports", import("wechat", &day, &no_column)).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "reconciliation_file_invalid");
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("line 1"), "{}", refused.text);
    let unclosed = format!("{header}\"{day} 10:00:00,1,R-1,SUCCESS,1.00,,\n{totals}");
    api.post("/v1/reconciliation/imports", import("wechat", &day, &unclosed))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "reconciliation_file_invalid");
    let huge = "x\n".repeat(10_002);
    api.post("/v1/reconciliation/imports", import("wechat", &day, &huge))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "reconciliation_file_too_large");
    api.post("/v1/reconciliation/imports", import("paypal", &day, &bad_amount))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "reconciliation_channel_not_configured");
    for date in ["2026-13-01", "yesterday", "2999-01-01"] {
        api.post("/v1/reconciliation/imports", import("wechat", date, &bad_amount))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "reconciliation_date_invalid");
    }
    api.post("/v1/reconciliation/imports", json!({"channel": "wechat", "date": day, "csv": "", "extra": 1}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "unknown_field");
    // Nothing was kept.
    let listed = api.get("/v1/reconciliation/imports?channel=wechat").await;
    assert_eq!(listed.assert_status(StatusCode::OK)["data"], json!([]));
    api.get("/v1/reconciliation/imports").await.assert_error(StatusCode::BAD_REQUEST, "missing_parameter");
});
