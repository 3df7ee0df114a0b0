//! Card payments to a merchant, over HTTP, on SQLite and on PostgreSQL: the receiver is checked as a
//! wallet payment's is (a frozen merchant refused with the same code), and what the merchant receives
//! by card counts in its receipts with its wallet payments, so its type's limits hold across both; a
//! card payment the ledger refuses gives its count back, and a refund leaves the counts as a wallet
//! refund does.

use axum::http::StatusCode;
use sanhu_core::party::merchant::{
    DocumentKind, MerchantLimits, MerchantType, MerchantTypeCode, MerchantTypeSpec, MerchantTypes, SettlementKind,
};
use sanhu_core::party::{AccountTypeCode, PartyKind};
use sanhu_core::staff::StaffRole;
use sanhu_service::party::PartyConfig;
use sanhu_testkit::app::TestApp;
use sanhu_testkit::ids::{credit_code, ID_CARD};
use sanhu_testkit::staff::REVIEWERS;
use sanhu_testkit::{on_both_backends, world, TestDatabase};
use serde_json::{json, Value};

const CORPORATE_NUMBER: &str = "1100000000000000000001";

/// An enterprise merchant type with small limits: 30.00 a payment, 50.00 a day, 80.00 a month.
fn parties() -> PartyConfig {
    let enterprise = MerchantTypeSpec {
        code: MerchantTypeCode::parse("enterprise").unwrap(),
        name: "企业商户".into(),
        member_kind: PartyKind::Enterprise,
        real_name_required: false,
        documents: DocumentKind::ALL.to_vec(),
        settlement_accounts: vec![SettlementKind::Corporate],
        limits: MerchantLimits::new(3000, 5000, 8000).unwrap(),
        accounts: vec![AccountTypeCode::parse("settlement").unwrap()],
    };
    let types = vec![MerchantType::configure(enterprise).unwrap()];
    PartyConfig { merchant_types: MerchantTypes::new(types).unwrap(), ..world::party_config() }
}

/// The API with staff: two super admins (a merchant's review, maker and checker), marketing and
/// finance (a card batch's approvals).
async fn app(db: TestDatabase) -> TestApp {
    let staff = [REVIEWERS[0], REVIEWERS[1], ("mei.lin", StaffRole::Marketing), ("qian.yu", StaffRole::Finance)];
    TestApp::staffed(db, parties(), world::wallet_config(), &staff).await
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().unwrap_or_else(|| panic!("no id in {body}")).to_owned()
}

/// An active enterprise merchant, reviewed and approved: (merchant id, its settlement account).
async fn active_merchant(app: &TestApp) -> (String, String) {
    let code = credit_code(1);
    let company = json!({
        "name": "某某科技有限公司", "credit_code": code, "legal_person": "张三",
        "legal_person_certificate_number": ID_CARD, "contact": "李四", "contact_phone": "13912345678",
        "industry": "I642", "licence_expiry": "2035-06-30", "address": "北京市海淀区某某路1号"
    });
    let body = json!({"email": "finance@example.com", "company": company, "admin": {"phone": "13900000001"}});
    let registered = app.post("/v1/enterprises", body).await;
    let member = id_of(&registered.assert_status(StatusCode::CREATED)["member"]);
    app.activate(&member).await;
    let opening = json!({
        "member_id": member, "merchant_type": "enterprise", "name": "某某咖啡",
        "scenario": {"kind": "offline_store", "address": "北京市海淀区某某路1号"},
        "contact": {"name": "李四", "phone": "13912345678"},
        "business": {"registered_name": "某某科技有限公司", "credit_code": code}
    });
    let merchant = id_of(app.post("/v1/merchants", opening).await.assert_status(StatusCode::CREATED));
    let path = format!("/v1/merchants/{merchant}");
    let documents = json!({"licence_number": code, "legal_person": {"name": "张三", "certificate_number": ID_CARD},
                           "premises_photos": ["file:premises-1"]});
    app.post(&format!("{path}/documents"), documents).await.assert_status(StatusCode::OK);
    let account = json!({"kind": "corporate", "account_name": "某某科技有限公司", "account_number": CORPORATE_NUMBER,
                         "bank_code": "102", "branch_code": "102100000012"});
    app.post(&format!("{path}/settlement-account"), account).await.assert_status(StatusCode::OK);
    let verified = json!({"verified": true, "account_number": CORPORATE_NUMBER});
    app.post(&format!("{path}/settlement-account/verification"), verified).await.assert_status(StatusCode::OK);
    app.post(&format!("{path}/submit"), json!({})).await.assert_status(StatusCode::OK);
    let (status, approved) = app.held_and_approved(&format!("{path}/review"), json!({"decision": "approve"})).await;
    assert_eq!(status, 200, "{approved}");
    assert_eq!(approved["status"], "active", "{approved}");
    // Paid by card and from a wallet: the products it receives with.
    app.sign_products(&merchant, &["member_cards", "balance_payment"]).await;
    (merchant, approved["accounts"][0]["account_id"].as_str().unwrap().to_owned())
}

/// An active platform card holding 40.00, paying at 100% (no discount), rechargeable.
async fn active_card(app: &TestApp) -> String {
    let terms = json!({"kind": "stored_value", "face_value": 4000, "sale_price": 4000,
                       "validity": {"days_from_activation": 365}, "rechargeable": true, "default_rate_bp": 10000});
    let card_type = id_of(
        app.post("/v1/card-types", json!({"name": "储值卡", "grade": 1, "terms": terms}))
            .await
            .assert_status(StatusCode::CREATED),
    );
    let segment = json!({"prefix": "8601", "serial_digits": 8, "first_serial": 0, "last_serial": 99, "region": "北京"});
    let segment = id_of(app.post("/v1/card-segments", segment).await.assert_status(StatusCode::CREATED));
    let batch = json!({"type_id": card_type, "segment_id": segment, "channel": "app", "quantity": 5});
    let batch = id_of(app.post("/v1/card-batches", batch).await.assert_status(StatusCode::CREATED));
    for name in ["mei.lin", "qian.yu"] {
        app.staff_post_as(name, &format!("/v1/card-batches/{batch}/approve"), json!({}))
            .await
            .assert_status(StatusCode::OK);
    }
    let sale = json!({"order_number": "SALE-1", "batch_id": batch, "payment_channel": "alipay"});
    let sold = app.post("/v1/cards", sale).await.assert_status(StatusCode::CREATED).clone();
    let number = sold["number"].as_str().unwrap().to_owned();
    app.post(&format!("/v1/cards/{number}/activate"), json!({})).await.assert_status(StatusCode::OK);
    number
}

fn card_pay(order: &str, amount: i64, receiver: &str) -> Value {
    json!({"order_number": order, "amount": amount, "receiver_account_id": receiver})
}

fn wallet_pay(order: &str, member: &str, amount: i64, receiver: &str) -> Value {
    json!({"order_number": order, "member_id": member, "amount": amount, "receiver_account_id": receiver})
}

async fn receipts(app: &TestApp, merchant: &str) -> (i64, i64) {
    let read = app.get(&format!("/v1/merchants/{merchant}")).await.assert_status(StatusCode::OK).clone();
    (read["receipts"]["today"].as_i64().unwrap(), read["receipts"]["this_month"].as_i64().unwrap())
}

on_both_backends!(a_card_payment_to_a_merchant_is_checked_and_counted_as_a_wallet_payment_is, |db| {
    let app = app(db).await;
    let (merchant, settlement) = active_merchant(&app).await;
    let number = active_card(&app).await;
    let pay_path = format!("/v1/cards/{number}/payments");

    // 30.00 a payment: more is refused, naming the limit, and moves nothing.
    let over = app.post(&pay_path, card_pay("P-1", 3001, &settlement)).await;
    over.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_limit_exceeded");
    assert!(over.text.contains("per_payment"), "{}", over.text);
    app.post(&pay_path, card_pay("P-2", 3000, &settlement)).await.assert_status(StatusCode::CREATED);
    assert_eq!(receipts(&app, &merchant).await, (3000, 3000));
    // Refused by the ledger (the card holds 10.00): its count is given back.
    app.post(&pay_path, card_pay("P-3", 2000, &settlement))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");
    assert_eq!(receipts(&app, &merchant).await, (3000, 3000));
    app.post(&pay_path, card_pay("P-3", 2000, &settlement))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");
    assert_eq!(receipts(&app, &merchant).await, (3000, 3000), "given back once");
    let recharge = json!({"order_number": "R-1", "amount": 10000, "channel": "alipay"});
    app.post(&format!("/v1/cards/{number}/recharges"), recharge).await.assert_status(StatusCode::CREATED);
    app.post(&pay_path, card_pay("P-4", 2000, &settlement)).await.assert_status(StatusCode::CREATED);
    assert_eq!(receipts(&app, &merchant).await, (5000, 5000));

    // 50.00 a day, card and wallet payments together: both are refused now.
    let day = app.post(&pay_path, card_pay("P-5", 1, &settlement)).await;
    day.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_limit_exceeded");
    assert!(day.text.contains("per_day"), "{}", day.text);
    let (payer, basic) = app.active_member("13800000009").await;
    app.recharge(&payer, &basic, 100_000, "test", "WR-1").await;
    app.post("/v1/payments", wallet_pay("W-1", &payer, 1, &settlement))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_limit_exceeded");

    // A refund to the card does not give the limit back, as a wallet refund does not.
    let refund = json!({"order_number": "F-1", "payment_number": "P-2", "amount": 1000});
    app.post(&format!("/v1/cards/{number}/refunds"), refund).await.assert_status(StatusCode::CREATED);
    assert_eq!(receipts(&app, &merchant).await, (5000, 5000));
    assert_eq!(app.balance(&settlement).await, 4000);

    // Frozen, the merchant receives nothing by card either, refused with the wallet's code.
    let path = format!("/v1/merchants/{merchant}/status");
    app.post(&path, json!({"status": "frozen", "reason": "风险排查"})).await.assert_status(StatusCode::OK);
    let wallet = app.post("/v1/payments", wallet_pay("W-2", &payer, 1, &settlement)).await;
    let code = wallet.body["error"]["code"].as_str().unwrap().to_owned();
    assert_eq!((wallet.status, code.as_str()), (StatusCode::UNPROCESSABLE_ENTITY, "merchant_not_receiving"));
    app.post(&pay_path, card_pay("P-6", 1, &settlement)).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, &code);
    assert_eq!(app.balance(&settlement).await, 4000, "nothing reached the frozen merchant");
    app.verify_clean().await;
});

on_both_backends!(a_card_pays_at_a_store_that_takes_cards_and_the_store_is_kept_on_its_payment, |db| {
    let app = app(db).await;
    let (merchant, receipts) = active_merchant(&app).await;
    let number = active_card(&app).await;
    let stores = format!("/v1/merchants/{merchant}/stores");
    let store = |name: &str, methods: Value| json!({"name": name, "address": "北京市海淀区某某路1号", "payment_methods": methods});
    let takes_cards = id_of(app.post(&stores, store("卡店", json!(["card"]))).await.assert_status(StatusCode::CREATED));
    let no_cards =
        id_of(app.post(&stores, store("码店", json!(["pay_code"]))).await.assert_status(StatusCode::CREATED));
    let pay = format!("/v1/cards/{number}/payments");

    let mut at = card_pay("CARD-S-1", 1_000, &receipts);
    at["store_id"] = json!(no_cards);
    app.post(&pay, at).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "payment_method_not_accepted");
    let mut at = card_pay("CARD-S-1", 1_000, &receipts);
    at["store_id"] = json!(takes_cards);
    let paid = app.post(&pay, at).await.assert_status(StatusCode::CREATED).clone();
    assert_eq!(
        (paid["store_id"].as_str(), paid["amount"].as_i64()),
        (Some(takes_cards.as_str()), Some(1_000)),
        "{paid}"
    );

    app.post(&format!("{stores}/{takes_cards}/close"), json!({"reason": "closed"})).await.assert_status(StatusCode::OK);
    let mut at = card_pay("CARD-S-2", 1_000, &receipts);
    at["store_id"] = json!(takes_cards);
    app.post(&pay, at).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "store_closed");
    assert_eq!(app.balance(&receipts).await, 1_000);
    app.verify_clean().await;
});

on_both_backends!(a_card_payment_to_a_merchant_without_member_cards_in_effect_is_refused_product_not_signed, |db| {
    let app = app(db).await;
    let (merchant, settlement) = active_merchant(&app).await;
    let number = active_card(&app).await;
    let pay_path = format!("/v1/cards/{number}/payments");
    let suspend = format!("/v1/merchants/{merchant}/products/member_cards/suspend");
    app.post(&suspend, json!({"reason": "风险排查"})).await.assert_status(StatusCode::OK);
    let refused = app.post(&pay_path, card_pay("NS-1", 1000, &settlement)).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    assert!(refused.text.contains("member_cards"), "{}", refused.text);
    assert_eq!(app.balance(&settlement).await, 0, "nothing received");
    let resume = format!("/v1/merchants/{merchant}/products/member_cards/resume");
    app.post(&resume, json!({"reason": "排查完毕"})).await.assert_status(StatusCode::OK);
    app.post(&pay_path, card_pay("NS-2", 1000, &settlement)).await.assert_status(StatusCode::CREATED);
    assert_eq!(app.balance(&settlement).await, 1000);
    app.verify_clean().await;
});
