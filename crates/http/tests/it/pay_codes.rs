//! Pay codes at the counter, over HTTP on SQLite and PostgreSQL: a member's one-time code issued and
//! paid at a merchant, reused, expired, unknown and malformed codes refused with their codes; a code
//! spent exactly once by payments presenting it at once; a payment refused before it is recorded
//! leaving the code unspent; a code bound to one account paying from it alone; guessing limited per
//! client; and what clients bound to a member reach: the member's own client issues, a merchant's
//! client presents any member's code to be paid itself, and no more. And payments by phone and SMS
//! code where the platform allows them.

use std::time::Duration;

use axum::http::StatusCode;
use futures_util::future::join_all;
use sanhu_core::party::OneTimeCodePolicy;
use sanhu_service::party::PartyConfig;
use sanhu_service::wallet::{WalletConfig, PAY_CODE_MISSES_MAX};
use sanhu_testkit::app::{bound_client, TestApp};
use sanhu_testkit::{on_both_backends, world, TestDatabase};
use serde_json::{json, Value};

async fn app(db: TestDatabase) -> TestApp {
    TestApp::new(db, world::party_config(), world::wallet_config()).await
}

async fn issue(app: &TestApp, member: &str) -> String {
    let issued = app.post(&format!("/v1/members/{member}/pay-codes"), json!({})).await;
    let issued = issued.assert_status(StatusCode::CREATED);
    issued["code"].as_str().unwrap().to_owned()
}

fn pay(number: &str, code: &str, amount: i64, receiver: &str) -> Value {
    json!({"order_number": number, "pay_code": code, "amount": amount, "receiver_account_id": receiver})
}

on_both_backends!(a_pay_code_pays_once_at_a_merchant_and_is_refused_after, |db| {
    let app = app(db).await;
    let (alice, alice_basic) = app.active_member("13800000001").await;
    let (_, shop) = app.active_member("13800000003").await;
    app.recharge(&alice, &alice_basic, 10_000, "test", "R-1").await;

    let issued = app.post(&format!("/v1/members/{alice}/pay-codes"), json!({})).await;
    let issued = issued.assert_status(StatusCode::CREATED).clone();
    let code = issued["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 18, "{issued}");
    assert!(code.bytes().all(|b| b.is_ascii_digit()), "{issued}");
    assert_eq!(issued["member_id"], alice.as_str());
    assert_eq!(issued["account_id"], Value::Null);
    assert_eq!(issued["expires_in_s"], 60);
    // Codes differ, one per request; the route takes no Idempotency-Key (the answer is a secret).
    assert_ne!(issue(&app, &alice).await, code);

    let paid = app.post("/v1/payments", pay("COUNTER-1", &code, 1_500, &shop)).await;
    let paid = paid.assert_status(StatusCode::CREATED).clone();
    assert_eq!((paid["member_id"].as_str(), paid["status"].as_str()), (Some(alice.as_str()), Some("paid")), "{paid}");
    // The same order again answers the payment as it is; another order with the code is refused.
    let again = app.post("/v1/payments", pay("COUNTER-1", &code, 1_500, &shop)).await;
    assert_eq!(again.assert_status(StatusCode::CREATED)["paid"], 1_500);
    app.post("/v1/payments", pay("COUNTER-2", &code, 100, &shop))
        .await
        .assert_error(StatusCode::CONFLICT, "pay_code_used");
    assert_eq!(app.balance(&shop).await, 1_500);
    assert_eq!(app.balance(&alice_basic).await, 8_500);

    // Unknown and malformed codes are as if absent; a payer named twice is a caller's mistake.
    app.post("/v1/payments", pay("COUNTER-3", "000000000000000000", 100, &shop))
        .await
        .assert_error(StatusCode::NOT_FOUND, "pay_code_not_found");
    app.post("/v1/payments", pay("COUNTER-4", "12345", 100, &shop))
        .await
        .assert_error(StatusCode::NOT_FOUND, "pay_code_not_found");
    let mut both = pay("COUNTER-5", &issue(&app, &alice).await, 100, &shop);
    both["member_id"] = json!(alice);
    app.post("/v1/payments", both).await.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    app.post("/v1/payments", json!({"order_number": "COUNTER-6", "amount": 100, "receiver_account_id": shop}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "missing_field");
    app.verify_clean().await;
});

on_both_backends!(an_expired_pay_code_is_refused, |db| {
    let config = WalletConfig { pay_code_ttl_s: 1, ..world::wallet_config() };
    let app = TestApp::new(db, world::party_config(), config).await;
    let (alice, alice_basic) = app.active_member("13800000001").await;
    let (_, shop) = app.active_member("13800000003").await;
    app.recharge(&alice, &alice_basic, 10_000, "test", "R-1").await;
    let code = issue(&app, &alice).await;
    tokio::time::sleep(Duration::from_millis(1_200)).await;
    app.post("/v1/payments", pay("LATE-1", &code, 100, &shop))
        .await
        .assert_error(StatusCode::CONFLICT, "pay_code_expired");
    assert_eq!(app.balance(&alice_basic).await, 10_000);
});

on_both_backends!(payments_presenting_one_code_at_once_spend_it_once, |db| {
    let app = app(db).await;
    let (alice, alice_basic) = app.active_member("13800000001").await;
    let (_, shop) = app.active_member("13800000003").await;
    app.recharge(&alice, &alice_basic, 10_000, "test", "R-1").await;
    let code = issue(&app, &alice).await;
    let answers =
        join_all((0..8).map(|n| app.post("/v1/payments", pay(&format!("RACE-{n}"), &code, 1_000, &shop)))).await;
    let mut paid = 0;
    for answer in &answers {
        match (answer.status, answer.code()) {
            (StatusCode::CREATED, _) => paid += 1,
            (StatusCode::CONFLICT, "pay_code_used") => {}
            _ => panic!("answered {} {}", answer.status, answer.body),
        }
    }
    assert_eq!(paid, 1, "one code, one payment");
    assert_eq!(app.balance(&shop).await, 1_000);
    assert_eq!(app.balance(&alice_basic).await, 9_000);
    app.verify_clean().await;
});

on_both_backends!(a_payment_refused_before_it_is_recorded_leaves_the_code_unspent, |db| {
    let app = app(db).await;
    let (alice, alice_basic) = app.active_member("13800000001").await;
    let (_, shop) = app.active_member("13800000003").await;
    app.recharge(&alice, &alice_basic, 1_000, "test", "R-1").await;
    let code = issue(&app, &alice).await;
    app.post("/v1/payments", pay("SHORT-1", &code, 2_000, &shop))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");
    // Alice tops up at the counter; the same code pays.
    app.recharge(&alice, &alice_basic, 1_000, "test", "R-2").await;
    app.post("/v1/payments", pay("SHORT-2", &code, 2_000, &shop)).await.assert_status(StatusCode::CREATED);
    app.post("/v1/payments", pay("SHORT-3", &code, 1, &shop)).await.assert_error(StatusCode::CONFLICT, "pay_code_used");
    app.verify_clean().await;
});

on_both_backends!(a_code_bound_to_one_account_pays_from_it_alone, |db| {
    let app = TestApp::new(db, world::party_config(), world::with_bonus_tier(world::wallet_config())).await;
    let (alice, alice_basic) = app.active_member("13800000001").await;
    let (_, shop) = app.active_member("13800000003").await;
    // 100.00 earns a 10.00 bonus, which Alice's deduction order spends first.
    app.recharge(&alice, &alice_basic, 10_000, "test", "R-1").await;
    let issued = app.post(&format!("/v1/members/{alice}/pay-codes"), json!({"account_id": alice_basic})).await;
    let issued = issued.assert_status(StatusCode::CREATED).clone();
    assert_eq!(issued["account_id"], alice_basic.as_str());
    let paid = app.post("/v1/payments", pay("BASIC-1", issued["code"].as_str().unwrap(), 500, &shop)).await;
    let paid = paid.assert_status(StatusCode::CREATED);
    assert_eq!(paid["deductions"], json!([{"account_id": alice_basic, "amount": 500}]), "{paid}");
    // Another member's account is not Alice's to bind.
    let (_, bob_basic) = app.active_member("13800000002").await;
    app.post(&format!("/v1/members/{alice}/pay-codes"), json!({"account_id": bob_basic}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "account_not_members");
    app.verify_clean().await;
});

on_both_backends!(unknown_pay_codes_are_limited_per_client, |db| {
    let app = app(db).await;
    let (alice, alice_basic) = app.active_member("13800000001").await;
    let (shop_member, shop) = app.active_member("13800000003").await;
    app.recharge(&alice, &alice_basic, 1_000, "test", "R-1").await;
    let code = issue(&app, &alice).await;
    for n in 0..PAY_CODE_MISSES_MAX {
        app.post("/v1/payments", pay(&format!("GUESS-{n}"), &format!("{n:018}"), 100, &shop))
            .await
            .assert_error(StatusCode::NOT_FOUND, "pay_code_not_found");
    }
    // Past the limit even a real code is not looked up for this client...
    app.post("/v1/payments", pay("GUESS-X", &code, 100, &shop))
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "pay_code_lookups_limited");
    // ...while another client's lookups are its own.
    let till = bound_client(&app.db.store, &shop_member, "till").await;
    app.send_as(&till, "POST", "/v1/payments", pay("GUESS-Y", &code, 100, &shop))
        .await
        .assert_status(StatusCode::CREATED);
    app.verify_clean().await;
});

on_both_backends!(bound_clients_issue_their_own_codes_and_present_codes_to_be_paid_themselves, |db| {
    let app = app(db).await;
    let (alice, alice_basic) = app.active_member("13800000001").await;
    let (bob, bob_basic) = app.active_member("13800000002").await;
    let (shop_member, shop) = app.active_member("13800000003").await;
    app.recharge(&alice, &alice_basic, 10_000, "test", "R-1").await;
    let alice_app = bound_client(&app.db.store, &alice, "alice's app").await;
    let till = bound_client(&app.db.store, &shop_member, "the shop's till").await;

    // The member's own client issues its codes; another member's client reaches no member here.
    let issued = app.send_as(&alice_app, "POST", &format!("/v1/members/{alice}/pay-codes"), json!({})).await;
    let code = issued.assert_status(StatusCode::CREATED)["code"].as_str().unwrap().to_owned();
    app.send_as(&till, "POST", &format!("/v1/members/{alice}/pay-codes"), json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    app.send_as(&alice_app, "POST", &format!("/v1/members/{alice}/pay-codes"), json!({"account_id": bob_basic}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_account_not_found");

    // The shop's till presents Alice's code to be paid into the shop's account, and nowhere else.
    app.send_as(&till, "POST", "/v1/payments", pay("TILL-0", &code, 100, &bob_basic))
        .await
        .assert_error(StatusCode::NOT_FOUND, "receiver_not_found");
    let paid = app.send_as(&till, "POST", "/v1/payments", pay("TILL-1", &code, 100, &shop)).await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["member_id"], alice.as_str());
    // Alice's own app cannot take Bob's code to pay itself, nor pay another with it.
    let bob_code = issue(&app, &bob).await;
    app.send_as(&alice_app, "POST", "/v1/payments", pay("APP-1", &bob_code, 100, &shop))
        .await
        .assert_error(StatusCode::NOT_FOUND, "receiver_not_found");
    // The refusals spent nothing: Bob's code still pays at the till.
    app.recharge(&bob, &bob_basic, 1_000, "test", "R-2").await;
    app.send_as(&till, "POST", "/v1/payments", pay("TILL-2", &bob_code, 100, &shop))
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(app.balance(&shop).await, 200);
    app.verify_clean().await;
});

async fn sms_code(app: &TestApp, phone: &str) -> String {
    let issued = app.post("/v1/one-time-codes", json!({"purpose": "payment", "phone": phone})).await;
    issued.assert_status(StatusCode::CREATED)["code"].as_str().unwrap().to_owned()
}

fn pay_by_phone(number: &str, phone: &str, code: &str, amount: i64, receiver: &str) -> Value {
    json!({"order_number": number, "phone": phone, "sms_code": code, "amount": amount, "receiver_account_id": receiver})
}

/// A code different from `code` (of six digits).
fn wrong(code: &str) -> String {
    if code == "000000" {
        "111111".to_owned()
    } else {
        "000000".to_owned()
    }
}

on_both_backends!(a_payer_named_by_phone_and_sms_code_where_the_platform_allows_it, |db| {
    // Codes may be sent again at once, so that one test can ask for several.
    let parties =
        PartyConfig { one_time_codes: OneTimeCodePolicy::new(6, 300, 5, 0).unwrap(), ..world::party_config() };
    let config = WalletConfig { pay_by_phone: true, ..world::wallet_config() };
    let app = TestApp::new(db, parties.clone(), config).await;
    let phone = "13800000001";
    let (alice, alice_basic) = app.active_member(phone).await;
    let (shop_member, shop) = app.active_member("13800000003").await;
    app.recharge(&alice, &alice_basic, 1_000, "test", "R-1").await;

    // A wrong code costs an attempt and pays nothing; a payment refused for want of money leaves the
    // right code unspent; the same code then pays once, and a retry of its order answers it as it is.
    let code = sms_code(&app, phone).await;
    app.post("/v1/payments", pay_by_phone("PHONE-1", phone, &wrong(&code), 100, &shop))
        .await
        .assert_error(StatusCode::FORBIDDEN, "code_incorrect");
    app.post("/v1/payments", pay_by_phone("PHONE-2", phone, &code, 5_000, &shop))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");
    let paid = app.post("/v1/payments", pay_by_phone("PHONE-3", phone, &code, 300, &shop)).await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["member_id"], alice.as_str());
    app.post("/v1/payments", pay_by_phone("PHONE-3", phone, &code, 300, &shop))
        .await
        .assert_status(StatusCode::CREATED);
    app.post("/v1/payments", pay_by_phone("PHONE-4", phone, &code, 300, &shop))
        .await
        .assert_error(StatusCode::CONFLICT, "code_used");
    assert_eq!(app.balance(&alice_basic).await, 700);
    // Wrong codes use the code up.
    let code = sms_code(&app, phone).await;
    for n in 0..5 {
        app.post("/v1/payments", pay_by_phone(&format!("GUESS-{n}"), phone, &wrong(&code), 100, &shop))
            .await
            .assert_error(StatusCode::FORBIDDEN, "code_incorrect");
    }
    app.post("/v1/payments", pay_by_phone("GUESS-5", phone, &code, 100, &shop))
        .await
        .assert_error(StatusCode::FORBIDDEN, "code_attempts_exhausted");
    // A phone that is no member's, once its code is right.
    let stranger = "13900009999";
    let code = sms_code(&app, stranger).await;
    app.post("/v1/payments", pay_by_phone("NOBODY-1", stranger, &code, 100, &shop))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    // The shop's till is paid itself, and only itself.
    let till = bound_client(&app.db.store, &shop_member, "till").await;
    let code = sms_code(&app, phone).await;
    let (_, bob_basic) = app.active_member("13800000002").await;
    app.send_as(&till, "POST", "/v1/payments", pay_by_phone("TILL-1", phone, &code, 100, &bob_basic))
        .await
        .assert_error(StatusCode::NOT_FOUND, "receiver_not_found");
    app.send_as(&till, "POST", "/v1/payments", pay_by_phone("TILL-2", phone, &code, 100, &shop))
        .await
        .assert_status(StatusCode::CREATED);
    // Without sms_code, or beside member_id: the caller's mistake.
    let mut without = pay_by_phone("BAD-1", phone, "123456", 100, &shop);
    without.as_object_mut().unwrap().remove("sms_code");
    app.post("/v1/payments", without).await.assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let mut both = pay_by_phone("BAD-2", phone, "123456", 100, &shop);
    both["member_id"] = json!(alice);
    app.post("/v1/payments", both).await.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    app.verify_clean().await;
});

on_both_backends!(where_the_platform_does_not_allow_it_no_payment_names_its_payer_by_phone, |db| {
    let app = app(db).await;
    let phone = "13800000001";
    let (alice, alice_basic) = app.active_member(phone).await;
    let (_, shop) = app.active_member("13800000003").await;
    app.recharge(&alice, &alice_basic, 1_000, "test", "R-1").await;
    let code = sms_code(&app, phone).await;
    app.post("/v1/payments", pay_by_phone("PHONE-1", phone, &code, 100, &shop))
        .await
        .assert_error(StatusCode::FORBIDDEN, "pay_by_phone_not_allowed");
    assert_eq!(app.balance(&alice_basic).await, 1_000);
});
