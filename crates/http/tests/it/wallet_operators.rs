//! Operators enforced on an enterprise member's money requests, limits on wallet payments per account
//! type and per member, and the forgotten pay password, over HTTP on SQLite and PostgreSQL: an
//! enterprise's cashier pays within its grants and its limits per transaction and per platform day
//! (an authorisation released gives its usage back, a refused request counts nothing, concurrent
//! payments never pass the day's limit); the platform's switch that makes enterprise members name
//! their operator; a member's payment limits at their boundaries, a refund not restoring the day's
//! usage, and staff's audited override; a pay password reset with an SMS code and the real-name
//! check under the lockout rules, and withdrawals that need the pay password.

use axum::http::StatusCode;
use futures_util::future::join_all;
use sanhu_core::party::{AccountTypeCode, OneTimeCodePolicy};
use sanhu_service::party::PartyConfig;
use sanhu_service::wallet::{PayPasswordRule, PaymentLimits, WalletConfig};
use sanhu_testkit::app::{bound_client, TestApp};
use sanhu_testkit::ids::{id_card, CREDIT_CODE, ID_CARD, OTHER_ID_CARD, PAY_PASSWORD};
use sanhu_testkit::{on_both_backends, world, TestDatabase};
use serde_json::{json, Value};

/// A second valid unified social credit code, for a second enterprise.
const OTHER_CREDIT_CODE: &str = "91110108MA01ABCE0C";

fn party_config() -> PartyConfig {
    // Codes may be sent again at once, so that one test can ask for several.
    let codes = OneTimeCodePolicy::new(6, 300, 5, 0).unwrap();
    PartyConfig { one_time_codes: codes, ..world::pay_password_party_config() }
}

async fn app_with(db: TestDatabase, wallet: WalletConfig) -> TestApp {
    TestApp::new(db, party_config(), wallet).await
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().unwrap_or_else(|| panic!("no id in {body}")).to_owned()
}

/// Registers and activates an enterprise; returns (member, its admin operator, its basic account).
async fn enterprise(app: &TestApp, credit_code: &str, legal_person_id: &str, n: u32) -> (String, String, String) {
    let company = json!({
        "name": format!("某某科技有限公司{n}"), "credit_code": credit_code, "legal_person": "张三",
        "legal_person_certificate_number": legal_person_id, "contact": "李四", "contact_phone": "13912345678",
        "industry": "I642", "licence_expiry": "2035-06-30", "address": "北京市海淀区某某路1号"
    });
    let body = json!({"email": format!("finance{n}@example.com"), "company": company,
                      "admin": {"phone": format!("1390000{n:04}")}});
    let registered = app.post("/v1/enterprises", body).await.assert_status(StatusCode::CREATED).clone();
    let member = id_of(&registered["member"]);
    let basic = app.activate(&member).await;
    (member, id_of(&registered["admin"]), basic)
}

/// Adds an operator with `role`, granted `operations` on `account`; returns its id.
async fn operator(app: &TestApp, member: &str, role: &str, phone: &str, account: &str, operations: &[&str]) -> String {
    let added = app
        .post(&format!("/v1/members/{member}/operators"), json!({"role": role, "phone": phone, "reason": "hired"}))
        .await;
    let id = id_of(added.assert_status(StatusCode::CREATED));
    let grant = json!({"account_id": account, "operations": operations, "reason": "till"});
    app.post(&format!("/v1/operators/{id}/grants"), grant).await.assert_status(StatusCode::OK);
    id
}

async fn limit(app: &TestApp, operator: &str, per_transaction: i64, per_day: i64) {
    let body = json!({"limits": {"currency": "CNY", "per_transaction": per_transaction, "per_day": per_day},
                      "reason": "policy"});
    app.post(&format!("/v1/operators/{operator}/limits"), body).await.assert_status(StatusCode::OK);
}

fn pay(number: &str, member: &str, amount: i64, receiver: &str, operator: Option<&str>) -> Value {
    let mut body =
        json!({"order_number": number, "member_id": member, "amount": amount, "receiver_account_id": receiver});
    if let Some(operator) = operator {
        body["operator_id"] = json!(operator);
    }
    body
}

on_both_backends!(an_enterprise_cashier_pays_within_its_grants_and_its_limits, |db| {
    let app = app_with(db, world::wallet_config()).await;
    let (member, _, basic) = enterprise(&app, CREDIT_CODE, ID_CARD, 1).await;
    let (_, shop) = app.active_member("13700000001").await;
    app.recharge(&member, &basic, 100_000, "test", "R-1").await;
    let cashier = operator(&app, &member, "cashier", "13900000012", &basic, &["pay"]).await;
    limit(&app, &cashier, 10_000, 15_000).await;

    // Above the limit per transaction: refused, naming the limit.
    let over = app.post("/v1/payments", pay("P-1", &member, 10_001, &shop, Some(&cashier))).await;
    over.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "operator_limit_exceeded");
    assert!(over.text.contains("per_transaction"), "{}", over.text);
    // At it: paid, the operator recorded on the order and shown with it.
    let paid = app.post("/v1/payments", pay("P-2", &member, 10_000, &shop, Some(&cashier))).await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["operator_id"], cashier.as_str());
    let read = app.get("/v1/payments/P-2").await;
    assert_eq!(read.assert_status(StatusCode::OK)["operator_id"], cashier.as_str());
    // Without an operator (not required here), the payment shows none.
    let plain = app.post("/v1/payments", pay("P-0", &member, 100, &shop, None)).await;
    assert_eq!(plain.assert_status(StatusCode::CREATED)["operator_id"], Value::Null);
    // The member's flow shows who paid, on the payment's own line.
    let flow = app.get(&format!("/v1/members/{member}/wallet/flow")).await.assert_status(StatusCode::OK).clone();
    let line = |reference: &str| {
        flow["data"].as_array().unwrap().iter().find(|l| l["reference"] == reference).cloned().unwrap()
    };
    assert_eq!(line("P-2")["operator_id"], cashier.as_str(), "{flow}");
    assert_eq!(line("P-0")["operator_id"], Value::Null);

    // The day's limit: an authorisation of 5,000 takes the rest of the day; one more fen is refused.
    let mut held = pay("A-1", &member, 5_000, &shop, Some(&cashier));
    held["authorise_timeout_s"] = json!(600);
    app.post("/v1/payments", held).await.assert_status(StatusCode::CREATED);
    let over_day = app.post("/v1/payments", pay("P-3", &member, 1, &shop, Some(&cashier))).await;
    over_day.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "operator_limit_exceeded");
    assert!(over_day.text.contains("per_day"), "{}", over_day.text);
    // Released, the authorisation paid nothing: its 5,000 no longer counts, and a refused request
    // counted nothing either.
    app.post("/v1/payments/A-1/release", json!({})).await.assert_status(StatusCode::OK);
    app.post("/v1/payments", pay("P-4", &member, 5_000, &shop, Some(&cashier)))
        .await
        .assert_status(StatusCode::CREATED);
    app.post("/v1/payments", pay("P-5", &member, 1, &shop, Some(&cashier)))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "operator_limit_exceeded");
    // A refund does not give the operator's day back: it did pay.
    app.post("/v1/payments/P-4/refunds", json!({"refund_number": "RF-1", "amount": 5_000}))
        .await
        .assert_status(StatusCode::CREATED);
    app.post("/v1/payments", pay("P-6", &member, 1, &shop, Some(&cashier)))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "operator_limit_exceeded");

    // A role that may not pay, or an account not granted: not authorised.
    let viewer = operator(&app, &member, "staff", "13900000013", &basic, &["view"]).await;
    app.post("/v1/payments", pay("P-7", &member, 100, &shop, Some(&viewer)))
        .await
        .assert_error(StatusCode::FORBIDDEN, "operator_not_authorised");
    // Another enterprise's operator is as if absent, for the payer; and an operator id that exists
    // nowhere the same.
    let (other, _, other_basic) = enterprise(&app, OTHER_CREDIT_CODE, OTHER_ID_CARD, 2).await;
    let stranger = operator(&app, &other, "cashier", "13900000014", &other_basic, &["pay"]).await;
    app.post("/v1/payments", pay("P-8", &member, 100, &shop, Some(&stranger)))
        .await
        .assert_error(StatusCode::NOT_FOUND, "operator_not_found");
    // A personal member names no operator it could have.
    let (person, person_basic) = app.active_member("13700000002").await;
    app.recharge(&person, &person_basic, 1_000, "test", "R-2").await;
    app.post("/v1/payments", pay("P-9", &person, 100, &shop, Some(&cashier)))
        .await
        .assert_error(StatusCode::NOT_FOUND, "operator_not_found");
    // A client bound to the enterprise pays with its own cashier, and reaches no other's.
    let bound = bound_client(&app.db.store, &member, "till").await;
    let answer = app.send_as(&bound, "POST", "/v1/payments", pay("P-10", &member, 100, &shop, Some(&stranger))).await;
    answer.assert_error(StatusCode::NOT_FOUND, "operator_not_found");
    app.verify_clean().await;
});

on_both_backends!(concurrent_payments_by_one_operator_never_pass_its_days_limit, |db| {
    let app = app_with(db, world::wallet_config()).await;
    let (member, _, basic) = enterprise(&app, CREDIT_CODE, ID_CARD, 1).await;
    let (_, shop) = app.active_member("13700000001").await;
    app.recharge(&member, &basic, 100_000, "test", "R-1").await;
    let cashier = operator(&app, &member, "cashier", "13900000002", &basic, &["pay"]).await;
    limit(&app, &cashier, 4_000, 15_000).await;
    let answers = join_all(
        (0..8).map(|n| app.post("/v1/payments", pay(&format!("HOT-{n}"), &member, 4_000, &shop, Some(&cashier)))),
    )
    .await;
    let mut paid = 0;
    for answer in &answers {
        match (answer.status, answer.code()) {
            (StatusCode::CREATED, _) => paid += 1,
            (StatusCode::UNPROCESSABLE_ENTITY, "operator_limit_exceeded") => {}
            _ => panic!("answered {} {}", answer.status, answer.body),
        }
    }
    assert_eq!(paid, 3, "three payments of 4,000 fit under 15,000, never a fourth");
    assert_eq!(app.balance(&shop).await, 12_000);
    app.verify_clean().await;
});

on_both_backends!(where_the_platform_requires_it_an_enterprise_names_its_operator, |db| {
    let config = WalletConfig { operators_required: true, ..world::wallet_config() };
    let app = app_with(db, config).await;
    let (member, _, basic) = enterprise(&app, CREDIT_CODE, ID_CARD, 1).await;
    let (shopper, shopper_basic) = app.active_member("13700000001").await;
    let (_, shop) = app.active_member("13700000002").await;
    app.recharge(&member, &basic, 10_000, "test", "R-1").await;
    app.recharge(&shopper, &shopper_basic, 1_000, "test", "R-2").await;
    app.post("/v1/payments", pay("P-1", &member, 100, &shop, None))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "operator_required");
    // A personal member has no operators: the switch is for enterprise members only.
    app.post("/v1/payments", pay("P-2", &shopper, 100, &shop, None)).await.assert_status(StatusCode::CREATED);
    let cashier = operator(&app, &member, "cashier", "13900000002", &basic, &["pay"]).await;
    let paid = app.post("/v1/payments", pay("P-3", &member, 100, &shop, Some(&cashier))).await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["operator_id"], cashier.as_str());
    // A deposit is a payment held: the same operator rules.
    let deposit = json!({"order_number": "D-1", "member_id": member, "amount": 500, "beneficiary_account_id": shop});
    app.post("/v1/deposits", deposit.clone()).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "operator_required");
    let mut named = deposit;
    named["operator_id"] = json!(cashier);
    let held = app.post("/v1/deposits", named).await;
    assert_eq!(held.assert_status(StatusCode::CREATED)["operator_id"], cashier.as_str());
    app.verify_clean().await;
});

on_both_backends!(an_operator_pays_only_from_the_accounts_it_was_granted, |db| {
    // A recharge of 100.00 earns a bonus of 10.00, which the deduction order spends first.
    let app = app_with(db, world::with_bonus_tier(world::wallet_config())).await;
    let (member, _, basic) = enterprise(&app, CREDIT_CODE, ID_CARD, 1).await;
    let (_, shop) = app.active_member("13700000001").await;
    app.recharge(&member, &basic, 10_000, "test", "R-1").await;
    let wallet = app.get(&format!("/v1/members/{member}/wallet")).await.assert_status(StatusCode::OK).clone();
    let bonus = wallet["accounts"].as_array().unwrap().iter().find(|a| a["account_type"] == "bonus").unwrap()
        ["account_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let cashier = operator(&app, &member, "cashier", "13900000002", &basic, &["pay"]).await;

    // The cashier granted the basic account pays from it alone: the bonus stays.
    let paid = app.post("/v1/payments", pay("P-1", &member, 3_000, &shop, Some(&cashier))).await;
    let paid = paid.assert_status(StatusCode::CREATED);
    assert_eq!(paid["deductions"], json!([{"account_id": basic, "amount": 3_000}]), "{paid}");
    // Its granted account short of the amount: insufficient, though the wallet holds it with the bonus.
    app.post("/v1/payments", pay("P-2", &member, 7_500, &shop, Some(&cashier)))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");
    // With allow_split, the remainder is what the granted account does not cover.
    let mut split = pay("P-3", &member, 7_500, &shop, Some(&cashier));
    split["allow_split"] = json!(true);
    let partly = app.post("/v1/payments", split).await;
    let partly = partly.assert_status(StatusCode::CREATED);
    assert_eq!((partly["paid"].as_i64(), partly["remainder"].as_i64()), (Some(7_000), Some(500)), "{partly}");
    // Granted the bonus account too, the cashier spends it first, as the deduction order says.
    let grant = json!({"account_id": bonus, "operations": ["pay"], "reason": "the bonus too"});
    app.post(&format!("/v1/operators/{cashier}/grants"), grant).await.assert_status(StatusCode::OK);
    let from_bonus = app.post("/v1/payments", pay("P-4", &member, 500, &shop, Some(&cashier))).await;
    let from_bonus = from_bonus.assert_status(StatusCode::CREATED);
    assert_eq!(from_bonus["deductions"], json!([{"account_id": bonus, "amount": 500}]), "{from_bonus}");
    // Without an operator (none required here), the whole wallet pays, in its deduction order.
    let plain = app.post("/v1/payments", pay("P-5", &member, 500, &shop, None)).await;
    assert_eq!(plain.assert_status(StatusCode::CREATED)["deductions"][0]["account_id"], bonus.as_str());
    // An operator granted nothing on the wallet to pay: not authorised, before anything else.
    let transferrer = operator(&app, &member, "cashier", "13900000003", &basic, &["transfer"]).await;
    app.post("/v1/payments", pay("P-6", &member, 100, &shop, Some(&transferrer)))
        .await
        .assert_error(StatusCode::FORBIDDEN, "operator_not_authorised");
    // A deposit and a member transfer take from the granted accounts the same way.
    let deposit = json!({"order_number": "D-1", "member_id": member, "amount": 100,
                         "beneficiary_account_id": shop, "operator_id": transferrer});
    app.post("/v1/deposits", deposit).await.assert_error(StatusCode::FORBIDDEN, "operator_not_authorised");
    app.recharge(&member, &basic, 5_000, "test", "R-2").await;
    let (friend, _) = app.active_member("13700000002").await;
    let sent = app
        .post(
            "/v1/member-transfers",
            json!({"order_number": "T-1", "sender_member_id": member, "receiver_member_id": friend,
                   "amount": 100, "operator_id": transferrer}),
        )
        .await;
    let sent = sent.assert_status(StatusCode::CREATED);
    assert_eq!(sent["parts"][0]["from_account_id"], basic.as_str(), "{sent}");
    app.verify_clean().await;
});

/// Basic accounts limited to 500.00 a payment, 1,000.00 a day and 1,500.00 a month.
fn limited_config() -> WalletConfig {
    let limits = PaymentLimits { per_payment: Some(50_000), per_day: Some(100_000), per_month: Some(150_000) };
    WalletConfig { payment_limits: vec![(AccountTypeCode::parse("basic").unwrap(), limits)], ..world::wallet_config() }
}

on_both_backends!(payment_limits_hold_at_their_boundaries_and_a_refund_gives_no_room_back, |db| {
    let app = app_with(db, limited_config()).await;
    let (member, basic) = app.active_member("13700000001").await;
    let (_, shop) = app.active_member("13700000002").await;
    app.recharge(&member, &basic, 300_000, "test", "R-1").await;
    let limits = app.get(&format!("/v1/members/{member}/payment-limits")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(
        limits["data"],
        json!([{"account_type": "basic", "overridden": false,
                "limits": {"per_payment": 50_000, "per_day": 100_000, "per_month": 150_000}}])
    );

    let over = app.post("/v1/payments", pay("P-1", &member, 50_001, &shop, None)).await;
    over.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "payment_limit_exceeded");
    assert!(over.text.contains("per_payment"), "{}", over.text);
    app.post("/v1/payments", pay("P-2", &member, 50_000, &shop, None)).await.assert_status(StatusCode::CREATED);
    app.post("/v1/payments", pay("P-3", &member, 50_000, &shop, None)).await.assert_status(StatusCode::CREATED);
    let over_day = app.post("/v1/payments", pay("P-4", &member, 1, &shop, None)).await;
    over_day.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "payment_limit_exceeded");
    assert!(over_day.text.contains("per_day"), "{}", over_day.text);
    // A refund is money back, not a payment undone: the day's usage stays.
    app.post("/v1/payments/P-3/refunds", json!({"refund_number": "RF-1", "amount": 50_000}))
        .await
        .assert_status(StatusCode::CREATED);
    app.post("/v1/payments", pay("P-5", &member, 1, &shop, None))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "payment_limit_exceeded");

    // Staff lift this member's limits per payment and per day, and set its month to 1,500.01; what
    // was paid this month counts.
    let body = json!({"account_type": "basic", "reason": "B2B buyer, contract 7",
                      "limits": {"per_payment": null, "per_day": null, "per_month": 150_001}});
    let set = app.post(&format!("/v1/members/{member}/payment-limits"), body).await;
    assert_eq!(
        set.assert_status(StatusCode::OK)["data"],
        json!([{"account_type": "basic", "overridden": true,
                "limits": {"per_payment": null, "per_day": null, "per_month": 150_001}}])
    );
    app.post("/v1/payments", pay("P-6", &member, 50_001, &shop, None)).await.assert_status(StatusCode::CREATED);
    let over_month = app.post("/v1/payments", pay("P-7", &member, 1, &shop, None)).await;
    over_month.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "payment_limit_exceeded");
    assert!(over_month.text.contains("per_month"), "{}", over_month.text);
    let history = app.get(&format!("/v1/members/{member}/history")).await.assert_status(StatusCode::OK).clone();
    let entry = history["data"].as_array().unwrap().iter().find(|h| h["action"] == "member.payment_limits_set");
    assert_eq!(entry.unwrap()["reason"], "B2B buyer, contract 7", "{history}");

    // Refusals: an unknown type, limits out of order; a client bound to a member may not set them,
    // and reads only its own member's.
    let bad = json!({"account_type": "nope", "limits": null, "reason": "x"});
    app.post(&format!("/v1/members/{member}/payment-limits"), bad)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "account_type_not_configured");
    let bad =
        json!({"account_type": "basic", "limits": {"per_payment": 2, "per_day": 1, "per_month": null}, "reason": "x"});
    app.post(&format!("/v1/members/{member}/payment-limits"), bad)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "payment_limits_invalid");
    let (other, _) = app.active_member("13700000003").await;
    let bound = bound_client(&app.db.store, &other, "app").await;
    let clear = json!({"account_type": "basic", "limits": null, "reason": "x"});
    let refused = app.send_as(&bound, "POST", &format!("/v1/members/{other}/payment-limits"), clear).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.body);
    let elsewhere = app.send_as(&bound, "GET", &format!("/v1/members/{member}/payment-limits"), Value::Null).await;
    assert_eq!(elsewhere.status, StatusCode::NOT_FOUND, "{}", elsewhere.body);
    let own = app.send_as(&bound, "GET", &format!("/v1/members/{other}/payment-limits"), Value::Null).await;
    assert_eq!(own.assert_status(StatusCode::OK)["data"][0]["overridden"], false);
    app.verify_clean().await;
});

async fn reset_code(app: &TestApp, phone: &str) -> String {
    let issued = app.post("/v1/one-time-codes", json!({"purpose": "pay_password_reset", "phone": phone})).await;
    issued.assert_status(StatusCode::CREATED)["code"].as_str().unwrap().to_owned()
}

on_both_backends!(a_forgotten_pay_password_is_reset_with_an_sms_code_and_the_real_name_check, |db| {
    let app = app_with(db, world::wallet_config()).await;
    let phone = "13700000001";
    let (member, _) = app.active_member(phone).await;
    let reset = format!("/v1/members/{member}/pay-password/reset");
    app.post(&format!("/v1/members/{member}/pay-password"), json!({"pay_password": PAY_PASSWORD}))
        .await
        .assert_status(StatusCode::CREATED);
    // No verified real name: nothing to check the certificate against.
    let code = reset_code(&app, phone).await;
    app.post(&reset, json!({"code": code, "certificate_number": id_card(1), "new_pay_password": "246801"}))
        .await
        .assert_error(StatusCode::CONFLICT, "pay_password_reset_real_name_required");
    app.real_name(&member, "张三", 1).await;

    // A wrong code uses an attempt of the code; a wrong certificate number spends the code and counts
    // towards the pay password's lock.
    let code = reset_code(&app, phone).await;
    let wrong = if code == "000000" { "000001" } else { "000000" };
    app.post(&reset, json!({"code": wrong, "certificate_number": id_card(1), "new_pay_password": "246801"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "code_incorrect");
    app.post(&reset, json!({"code": code, "certificate_number": id_card(2), "new_pay_password": "246801"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "pay_password_reset_certificate_mismatch");
    app.post(&reset, json!({"code": code, "certificate_number": id_card(1), "new_pay_password": "246801"}))
        .await
        .assert_error(StatusCode::CONFLICT, "code_used");
    // Right code, right certificate: reset; the old password is wrong now, the new one right.
    let code = reset_code(&app, phone).await;
    let done =
        app.post(&reset, json!({"code": code, "certificate_number": id_card(1), "new_pay_password": "246801"})).await;
    assert_eq!(done.assert_status(StatusCode::OK)["outcome"], "reset");
    assert!(!done.text.contains("246801"));
    let verify = format!("/v1/members/{member}/pay-password/verify");
    app.post(&verify, json!({"pay_password": "246801"})).await.assert_status(StatusCode::OK);
    app.post(&verify, json!({"pay_password": PAY_PASSWORD}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "pay_password_incorrect");

    // Wrong certificates count with wrong passwords: the 5th failure in a row locks, and a locked
    // password is not reset, even with everything right.
    for n in 0..4 {
        let code = reset_code(&app, phone).await;
        let answer = app
            .post(&reset, json!({"code": code, "certificate_number": id_card(2), "new_pay_password": "246801"}))
            .await;
        let expected = if n < 3 { "pay_password_reset_certificate_mismatch" } else { "pay_password_locked" };
        answer.assert_error(StatusCode::FORBIDDEN, expected);
    }
    let code = reset_code(&app, phone).await;
    app.post(&reset, json!({"code": code, "certificate_number": id_card(1), "new_pay_password": "246801"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "pay_password_locked");
    let history = app.get(&format!("/v1/members/{member}/history")).await.assert_status(StatusCode::OK).clone();
    assert!(!history.to_string().contains(&id_card(1)), "no certificate number in the history");

    // A client bound to another member finds no such member to reset.
    let (other, _) = app.active_member("13700000002").await;
    let bound = bound_client(&app.db.store, &other, "app").await;
    let body = json!({"code": "123456", "certificate_number": id_card(1), "new_pay_password": "246801"});
    let answer = app.send_as(&bound, "POST", &reset, body).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND, "{}", answer.body);
});

on_both_backends!(where_the_platform_requires_it_a_withdrawal_takes_the_pay_password, |db| {
    let config = WalletConfig { withdrawal_pay_password: PayPasswordRule::Required, ..world::wallet_config() };
    let app = app_with(db, config).await;
    let (member, basic) = app.active_member("13700000001").await;
    app.real_name(&member, "张三", 1).await;
    let card = app.bind_card(&member, "张三", 1).await;
    app.recharge(&member, &basic, 10_000, "test", "R-1").await;
    app.post(&format!("/v1/members/{member}/pay-password"), json!({"pay_password": PAY_PASSWORD}))
        .await
        .assert_status(StatusCode::CREATED);
    let withdraw = |number: &str, password: Option<&str>| {
        let mut body = json!({"order_number": number, "member_id": member, "amount": 1_000, "bank_card_id": card});
        if let Some(password) = password {
            body["pay_password"] = json!(password);
        }
        body
    };
    app.post("/v1/withdrawals", withdraw("W-1", None))
        .await
        .assert_error(StatusCode::FORBIDDEN, "pay_password_required");
    app.post("/v1/withdrawals", withdraw("W-1", Some("111222")))
        .await
        .assert_error(StatusCode::FORBIDDEN, "pay_password_incorrect");
    let applied = app.post("/v1/withdrawals", withdraw("W-1", Some(PAY_PASSWORD))).await;
    assert_eq!(applied.assert_status(StatusCode::CREATED)["amount"], 1_000);
    app.verify_clean().await;
});
