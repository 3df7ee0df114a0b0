//! Merchants over HTTP, end to end, on SQLite and on PostgreSQL: an enterprise merchant opened from an
//! enterprise member, its onboarding review (documents, a corporate settlement account, submission,
//! staff asking for more, approval) opening its accounts, payments it receives held to its type's
//! limits, a freeze; the same business onboarded twice (one customer), another customer refused, the
//! per-customer cap; a personal merchant (real name, a card); and a bound client reaching its own
//! merchant only.

use axum::http::StatusCode;
use futures_util::future::join_all;
use sanhu_core::party::merchant::{
    DocumentKind, MerchantLimits, MerchantType, MerchantTypeCode, MerchantTypeSpec, MerchantTypes, SettlementKind,
};
use sanhu_core::party::{AccountTypeCode, PartyKind};
use sanhu_service::party::PartyConfig;
use sanhu_service::wallet::WalletConfig;
use sanhu_testkit::app::{bound_client, TestApp, TestResponse};
use sanhu_testkit::ids::{card_number, credit_code, CREDIT_CODE, ID_CARD};
use sanhu_testkit::{on_both_backends, staff, world, TestDatabase};
use serde_json::{json, Value};

/// An enterprise type with small limits (30.00 a payment, 50.00 a day, 80.00 a month) and a personal
/// type, and a cap of 2 merchants per customer.
pub(crate) fn parties() -> PartyConfig {
    let code = |c: &str| AccountTypeCode::parse(c).unwrap();
    let enterprise = MerchantTypeSpec {
        code: MerchantTypeCode::parse("enterprise").unwrap(),
        name: "企业商户".into(),
        member_kind: PartyKind::Enterprise,
        real_name_required: false,
        documents: DocumentKind::ALL.to_vec(),
        settlement_accounts: vec![SettlementKind::Corporate],
        limits: MerchantLimits::new(3000, 5000, 8000).unwrap(),
        accounts: vec![code("settlement"), code("margin")],
    };
    let personal = MerchantTypeSpec {
        code: MerchantTypeCode::parse("personal").unwrap(),
        name: "个人商户".into(),
        member_kind: PartyKind::Personal,
        real_name_required: true,
        documents: Vec::new(),
        settlement_accounts: vec![SettlementKind::PersonalCard],
        limits: MerchantLimits::new(1000, 2000, 3000).unwrap(),
        accounts: vec![code("settlement")],
    };
    // An individual business: no real name needed to open it, a personal card or a corporate account.
    let individual = MerchantTypeSpec {
        code: MerchantTypeCode::parse("individual_business").unwrap(),
        name: "个体工商户".into(),
        member_kind: PartyKind::Personal,
        real_name_required: false,
        documents: vec![DocumentKind::Licence, DocumentKind::Premises],
        settlement_accounts: vec![SettlementKind::PersonalCard, SettlementKind::Corporate],
        limits: MerchantLimits::new(3000, 5000, 8000).unwrap(),
        accounts: vec![code("settlement")],
    };
    let types = [enterprise, personal, individual].into_iter().map(|s| MerchantType::configure(s).unwrap()).collect();
    PartyConfig {
        merchant_types: MerchantTypes::new(types).unwrap(),
        merchants_per_customer_max: 2,
        ..world::party_config()
    }
}

/// The API with an API client, and two staff members who review (maker and checker; cheap password
/// hashing: these tests are about merchants).
async fn app(db: TestDatabase) -> TestApp {
    app_with(db, parties(), world::wallet_config()).await
}

/// [`app`] with these configurations.
pub(crate) async fn app_with(db: TestDatabase, parties: PartyConfig, wallet: WalletConfig) -> TestApp {
    TestApp::staffed(db, parties, wallet, &staff::REVIEWERS).await
}

/// Staff's review of a merchant: made by one staff member (held), approved by another, applied.
/// Returns the applied answer's status and body.
async fn review(app: &TestApp, merchant: &str, decision: Value) -> (u16, Value) {
    app.held_and_approved(&format!("/v1/merchants/{merchant}/review"), decision).await
}

/// A review applied with success; its merchant.
async fn reviewed(app: &TestApp, merchant: &str, decision: Value) -> Value {
    let (status, body) = review(app, merchant, decision).await;
    assert_eq!(status, 200, "{body}");
    body
}

/// A review refused when applied, with `code`.
async fn review_refused(app: &TestApp, merchant: &str, decision: Value, status: StatusCode, code: &str) {
    let (answered, body) = review(app, merchant, decision).await;
    assert_eq!((answered, body["error"]["code"].as_str()), (status.as_u16(), Some(code)), "{body}");
}

const CORPORATE_NUMBER: &str = "1100000000000000000001";

/// The platform's word that the merchant's account `number` is verified.
pub(crate) async fn verify(app: &TestApp, merchant: &str, number: &str) -> TestResponse {
    let body = json!({"verified": true, "account_number": number});
    app.post(&format!("/v1/merchants/{merchant}/settlement-account/verification"), body).await
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().unwrap_or_else(|| panic!("no id in {body}")).to_owned()
}

/// An active enterprise member named `name` with `credit_code`; returns its member id.
pub(crate) async fn enterprise(app: &TestApp, email: &str, admin_phone: &str, name: &str, credit_code: &str) -> String {
    let company = json!({
        "name": name, "credit_code": credit_code, "legal_person": "张三",
        "legal_person_certificate_number": ID_CARD, "contact": "李四", "contact_phone": "13912345678",
        "industry": "I642", "licence_expiry": "2035-06-30", "address": "北京市海淀区某某路1号"
    });
    let registered =
        app.post("/v1/enterprises", json!({"email": email, "company": company, "admin": {"phone": admin_phone}})).await;
    let member = id_of(&registered.assert_status(StatusCode::CREATED)["member"]);
    app.activate(&member).await;
    member
}

fn opening(member: &str, name: &str, credit_code: &str) -> Value {
    json!({
        "member_id": member, "merchant_type": "enterprise", "name": name,
        "scenario": {"kind": "offline_store", "address": "北京市海淀区某某路1号"},
        "contact": {"name": "李四", "phone": "13912345678"},
        "business": {"registered_name": "某某科技有限公司", "credit_code": credit_code}
    })
}

fn corporate(name: &str) -> Value {
    json!({"kind": "corporate", "account_name": name, "account_number": "1100000000000000000001",
           "bank_code": "102", "branch_code": "102100000012"})
}

fn pay(number: &str, member: &str, amount: i64, receiver: &str) -> Value {
    json!({"order_number": number, "member_id": member, "amount": amount, "receiver_account_id": receiver})
}

/// A merchant of `member` taken through the review to active; returns (merchant id, its settlement
/// account id).
pub(crate) async fn active_merchant(app: &TestApp, member: &str, credit_code: &str) -> (String, String) {
    let merchant = id_of(
        app.post("/v1/merchants", opening(member, "某某咖啡", credit_code)).await.assert_status(StatusCode::CREATED),
    );
    let path = format!("/v1/merchants/{merchant}");
    let documents = json!({"licence_number": credit_code, "legal_person": {"name": "张三", "certificate_number": ID_CARD},
                           "premises_photos": ["file:premises-1"]});
    app.post(&format!("{path}/documents"), documents).await.assert_status(StatusCode::OK);
    app.post(&format!("{path}/settlement-account"), corporate("某某科技有限公司")).await.assert_status(StatusCode::OK);
    verify(app, &merchant, CORPORATE_NUMBER).await.assert_status(StatusCode::OK);
    app.post(&format!("{path}/submit"), json!({})).await.assert_status(StatusCode::OK);
    let approved = reviewed(app, &merchant, json!({"decision": "approve"})).await;
    let settlement = approved["accounts"][0]["account_id"].as_str().unwrap().to_owned();
    // Paid, authorised and captured, held in escrow: the products it receives with.
    app.sign_products(&merchant, &["balance_payment", "escrow_collection"]).await;
    (merchant, settlement)
}

on_both_backends!(an_enterprise_merchant_is_reviewed_opens_its_accounts_and_receives_within_its_limits, |db| {
    let app = app(db).await;
    let member = enterprise(&app, "finance@example.com", "13900000001", "某某科技有限公司", CREDIT_CODE).await;

    // Opened, applying, under the member's customer: one customer number for member and merchant.
    let opened = app.post("/v1/merchants", opening(&member, "某某咖啡", CREDIT_CODE)).await;
    assert!(!opened.text.contains(CREDIT_CODE), "the credit code is shown masked only");
    let opened = opened.assert_status(StatusCode::CREATED).clone();
    let merchant = id_of(&opened);
    assert!(merchant.starts_with("mch_"));
    let member_read = app.get(&format!("/v1/members/{member}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(opened["customer_id"], member_read["customer_id"]);
    assert_eq!((opened["status"].clone(), opened["merchant_type"].clone()), (json!("applying"), json!("enterprise")));
    assert_eq!(opened["business_certificate"], "911***********CD0B");
    assert_eq!(opened["contact"]["phone"], "139****5678");
    assert_eq!(opened["settlement_cycle"], "t1");
    let path = format!("/v1/merchants/{merchant}");

    // Submitting needs the documents the type requires, then a settlement account.
    app.post(&format!("{path}/submit"), json!({}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_documents_missing");
    let wrong_licence = json!({"licence_number": credit_code(7)});
    app.post(&format!("{path}/documents"), wrong_licence)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_document_invalid");
    let documents = json!({"licence_number": CREDIT_CODE, "legal_person": {"name": "张三", "certificate_number": ID_CARD},
                           "premises_photos": ["file:premises-1", "file:premises-2"]});
    let given = app.post(&format!("{path}/documents"), documents).await;
    assert!(!given.text.contains(ID_CARD), "the legal person's certificate is shown masked only");
    let given = given.assert_status(StatusCode::OK).clone();
    assert_eq!(given["documents"]["legal_person"]["masked_number"], "110***********1233");
    app.post(&format!("{path}/submit"), json!({}))
        .await
        .assert_error(StatusCode::CONFLICT, "settlement_account_missing");

    // The enterprise type settles to a corporate account bearing the company's name, never a card.
    let card = json!({"kind": "personal_card", "account_name": "张三", "account_number": card_number(1)});
    app.post(&format!("{path}/settlement-account"), card)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "settlement_account_kind_not_accepted");
    app.post(&format!("{path}/settlement-account"), corporate("某某商贸有限公司"))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "settlement_account_name_mismatch");
    let mut short = corporate("某某科技有限公司");
    short["branch_code"] = json!("1021");
    app.post(&format!("{path}/settlement-account"), short)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "settlement_account_invalid");
    let set = app.post(&format!("{path}/settlement-account"), corporate("某某科技有限公司")).await;
    assert!(!set.text.contains("1100000000000000000001"), "the account number is shown masked only");
    let set = set.assert_status(StatusCode::OK).clone();
    assert_eq!(set["settlement_account"]["verification"], "unverified");
    assert_eq!(set["settlement_account"]["masked_number"], "1100**************0001");
    let verified = verify(&app, &merchant, CORPORATE_NUMBER).await;
    assert_eq!(verified.assert_status(StatusCode::OK)["settlement_account"]["verification"], "verified");

    // Reviewed by staff: asked for more (with a reason), submitted again, approved; accounts open on
    // approval.
    review_refused(&app, &merchant, json!({"decision": "approve"}), StatusCode::CONFLICT, "merchant_not_under_review")
        .await;
    assert_eq!(
        app.post(&format!("{path}/submit"), json!({})).await.assert_status(StatusCode::OK)["status"],
        "under_review"
    );
    let (status, body) = review(&app, &merchant, json!({"decision": "request_more"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("merchant_review_reason_required")));
    let more = reviewed(&app, &merchant, json!({"decision": "request_more", "reason": "门头照不清晰"})).await;
    assert_eq!((more["status"].clone(), more["status_reason"].clone()), (json!("applying"), json!("门头照不清晰")));
    assert!(more["accounts"].as_array().unwrap().is_empty());
    app.post(&format!("{path}/documents"), json!({"premises_photos": ["file:premises-3"]}))
        .await
        .assert_status(StatusCode::OK);
    app.post(&format!("{path}/submit"), json!({})).await.assert_status(StatusCode::OK);
    let approved = reviewed(&app, &merchant, json!({"decision": "approve"})).await;
    assert_eq!(approved["status"], "active");
    let types: Vec<&str> =
        approved["accounts"].as_array().unwrap().iter().map(|a| a["account_type"].as_str().unwrap()).collect();
    assert_eq!(types, ["settlement", "margin"]);
    let reviews: Vec<&str> =
        approved["reviews"].as_array().unwrap().iter().map(|r| r["decision"].as_str().unwrap()).collect();
    assert_eq!(reviews, ["request_more", "approve"]);
    let settlement = approved["accounts"][0]["account_id"].as_str().unwrap().to_owned();
    let accounts = app.get(&format!("/v1/members/{member}/accounts")).await.assert_status(StatusCode::OK).clone();
    assert!(
        accounts["data"].as_array().unwrap().iter().any(|a| a["id"] == settlement.as_str()),
        "the member's own account"
    );

    // Payments received, once balance payment is signed (`tests/it/products.rs`): 30.00 a payment,
    // 50.00 a day; each refusal names its limit and moves nothing.
    app.sign_products(&merchant, &["balance_payment"]).await;
    let (payer, basic) = app.active_member("13800000009").await;
    app.recharge(&payer, &basic, 100_000, "test", "R-1").await;
    let over = app.post("/v1/payments", pay("P-0", &payer, 3001, &settlement)).await;
    over.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_limit_exceeded");
    assert!(over.text.contains("per_payment"), "{}", over.text);
    app.post("/v1/payments", pay("P-1", &payer, 3000, &settlement)).await.assert_status(StatusCode::CREATED);
    app.post("/v1/payments", pay("P-2", &payer, 2000, &settlement)).await.assert_status(StatusCode::CREATED);
    let today = app.post("/v1/payments", pay("P-3", &payer, 1, &settlement)).await;
    today.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_limit_exceeded");
    assert!(today.text.contains("per_day"), "{}", today.text);
    assert_eq!(app.balance(&settlement).await, 5000);
    let read = app.get(&path).await.assert_status(StatusCode::OK).clone();
    assert_eq!((read["receipts"]["today"].clone(), read["receipts"]["this_month"].clone()), (json!(5000), json!(5000)));

    // Frozen (staff, with a reason), it receives nothing; the history has every step.
    app.post(&format!("{path}/status"), json!({"status": "frozen"}))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "missing_field");
    let frozen = app.post(&format!("{path}/status"), json!({"status": "frozen", "reason": "风险排查"})).await;
    assert_eq!(frozen.assert_status(StatusCode::OK)["status"], "frozen");
    app.post("/v1/payments", pay("P-4", &payer, 1, &settlement))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_not_receiving");
    app.post(&format!("{path}/status"), json!({"status": "frozen", "reason": "again"}))
        .await
        .assert_error(StatusCode::CONFLICT, "merchant_status_change_not_allowed");
    let history = app.get(&format!("{path}/history")).await.assert_status(StatusCode::OK).clone();
    let actions: Vec<&str> =
        history["data"].as_array().unwrap().iter().map(|h| h["action"].as_str().unwrap()).collect();
    assert_eq!(
        actions,
        [
            "merchant.opened",
            "merchant.documents_given",
            "merchant.settlement_account_set",
            "merchant.settlement_account_verified",
            "merchant.submitted",
            "merchant.reviewed",
            "merchant.documents_given",
            "merchant.submitted",
            "merchant.reviewed",
            "merchant.product_applied",
            "merchant.product_reviewed",
            "merchant.status_changed",
        ]
    );
    assert_eq!(history["data"][11]["reason"], "风险排查");
    app.verify_clean().await;
});

on_both_backends!(the_same_business_onboarded_twice_is_one_customer_and_a_customer_has_a_cap, |db| {
    let app = app(db).await;
    let member = enterprise(&app, "finance@example.com", "13900000001", "某某科技有限公司", CREDIT_CODE).await;
    let first = app
        .post("/v1/merchants", opening(&member, "某某咖啡 线上", CREDIT_CODE))
        .await
        .assert_status(StatusCode::CREATED)
        .clone();
    // Through another channel: the same business, the same customer.
    let second = app
        .post("/v1/merchants", opening(&member, "某某咖啡 门店", CREDIT_CODE))
        .await
        .assert_status(StatusCode::CREATED)
        .clone();
    assert_eq!(first["customer_id"], second["customer_id"]);
    assert_ne!(first["id"], second["id"]);
    let history =
        app.get(&format!("/v1/merchants/{}/history", id_of(&second))).await.assert_status(StatusCode::OK).clone();
    assert_eq!(history["data"][0]["detail"]["same_business_merchants"], 1);
    // The cap (2 here) counts merchants not rejected or closed.
    app.post("/v1/merchants", opening(&member, "某某咖啡 三店", CREDIT_CODE))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_cap_reached");
    app.post(&format!("/v1/merchants/{}/status", id_of(&second)), json!({"status": "closed", "reason": "重复进件"}))
        .await
        .assert_status(StatusCode::OK);
    app.post("/v1/merchants", opening(&member, "某某咖啡 三店", CREDIT_CODE)).await.assert_status(StatusCode::CREATED);

    // An application claims nothing: another customer may apply with the code while none is approved
    // (`an_approved_merchant_holds_its_credit_code_and_closing_gives_it_back`). It counts to its cap.
    let other = enterprise(&app, "other@example.com", "13900000002", "某某商贸有限公司", &credit_code(2)).await;
    app.post("/v1/merchants", opening(&other, "冒名商户", CREDIT_CODE)).await.assert_status(StatusCode::CREATED);
    // A personal member may not open an enterprise merchant; an unknown type is refused.
    let (person, _) = app.active_member("13800000001").await;
    app.post("/v1/merchants", opening(&person, "个人", &credit_code(3)))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_member_kind_not_allowed");
    let mut unknown = opening(&other, "x", &credit_code(2));
    unknown["merchant_type"] = json!("reseller");
    app.post("/v1/merchants", unknown).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_type_unknown");

    // Lists filter by customer, status and type, with a cursor.
    let customer = first["customer_id"].as_str().unwrap();
    let listed = app.get(&format!("/v1/merchants?customer_id={customer}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);
    let page = app.get("/v1/merchants?limit=3").await.assert_status(StatusCode::OK).clone();
    assert_eq!(page["data"].as_array().unwrap().len(), 3);
    let cursor = page["next_cursor"].as_str().unwrap();
    let rest = app.get(&format!("/v1/merchants?limit=3&after={cursor}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(rest["data"].as_array().unwrap().len(), 1);
    let closed = app.get("/v1/merchants?status=closed").await.assert_status(StatusCode::OK).clone();
    assert_eq!(closed["data"].as_array().unwrap().len(), 1);
    assert_eq!(closed["data"][0]["id"], second["id"]);
    let types = app.get("/v1/merchant-types").await.assert_status(StatusCode::OK).clone();
    assert_eq!(types["data"][0]["code"], "enterprise");
    assert_eq!(types["data"][1]["per_payment"], 1000);
});

on_both_backends!(a_personal_merchant_needs_a_real_name_and_settles_to_its_own_card, |db| {
    let app = app(db).await;
    let (member, _) = app.active_member("13800000001").await;
    let body = json!({
        "member_id": member, "merchant_type": "personal", "name": "张三的小店",
        "scenario": {"kind": "mini_program", "url": "https://example.cn/shop"},
        "contact": {"name": "张三", "phone": "13800000001"}, "settlement_cycle": "d1"
    });
    app.post("/v1/merchants", body.clone())
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_real_name_required");
    app.real_name(&member, "张三", 1).await;
    let opened = app.post("/v1/merchants", body).await.assert_status(StatusCode::CREATED).clone();
    let path = format!("/v1/merchants/{}", id_of(&opened));
    assert_eq!(opened["business_name"], "张三");
    assert_eq!(opened["scenario"]["url"], "https://example.cn/shop");
    let corporate_account = corporate("张三");
    app.post(&format!("{path}/settlement-account"), corporate_account)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "settlement_account_kind_not_accepted");
    let someone_else = json!({"kind": "personal_card", "account_name": "李四", "account_number": card_number(1)});
    app.post(&format!("{path}/settlement-account"), someone_else)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "settlement_account_name_mismatch");
    let not_luhn = json!({"kind": "personal_card", "account_name": "张三", "account_number": "6222020000000000019"});
    let refused = app.post(&format!("{path}/settlement-account"), not_luhn).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    let own = json!({"kind": "personal_card", "account_name": "张三", "account_number": card_number(1)});
    let set = app.post(&format!("{path}/settlement-account"), own).await.assert_status(StatusCode::OK).clone();
    assert_eq!(set["settlement_account"]["kind"], "personal_card");
    // No documents for a personal merchant: submitted, rejected with a reason, for good.
    app.post(&format!("{path}/submit"), json!({})).await.assert_status(StatusCode::OK);
    let id = id_of(&opened);
    let decision = json!({"decision": "reject"});
    review_refused(&app, &id, decision, StatusCode::UNPROCESSABLE_ENTITY, "merchant_review_reason_required").await;
    let rejected = reviewed(&app, &id, json!({"decision": "reject", "reason": "经营范围不符"})).await;
    assert_eq!(
        (rejected["status"].clone(), rejected["status_reason"].clone()),
        (json!("rejected"), json!("经营范围不符"))
    );
    app.post(&format!("{path}/submit"), json!({})).await.assert_error(StatusCode::CONFLICT, "merchant_not_applying");
});

on_both_backends!(a_merchants_member_withdraws_its_receipts_only_with_the_withdrawal_product_in_effect, |db| {
    // A personal merchant: its member has a real name and a card in it, so that its withdrawal reaches
    // the product's check (an enterprise's member is refused `member_not_real_named` before it).
    let app = app(db).await;
    let (member, basic) = app.active_member("13800000001").await;
    app.real_name(&member, "张三", 1).await;
    let body = json!({
        "member_id": member, "merchant_type": "personal", "name": "张三的小店",
        "scenario": {"kind": "mini_program", "url": "https://example.cn/shop"},
        "contact": {"name": "张三", "phone": "13800000001"}
    });
    let merchant = id_of(app.post("/v1/merchants", body).await.assert_status(StatusCode::CREATED));
    let path = format!("/v1/merchants/{merchant}");
    let own = json!({"kind": "personal_card", "account_name": "张三", "account_number": card_number(1)});
    app.post(&format!("{path}/settlement-account"), own).await.assert_status(StatusCode::OK);
    verify(&app, &merchant, &card_number(1)).await.assert_status(StatusCode::OK);
    app.post(&format!("{path}/submit"), json!({})).await.assert_status(StatusCode::OK);
    let approved = reviewed(&app, &merchant, json!({"decision": "approve"})).await;
    let settlement = approved["accounts"][0]["account_id"].as_str().unwrap().to_owned();
    app.sign_products(&merchant, &["balance_payment"]).await;
    let payer = funded_payer(&app, "13800000009", 1).await;
    app.post("/v1/payments", pay("P-1", &payer, 1000, &settlement)).await.assert_status(StatusCode::CREATED);
    let card = app.bind_card(&member, "张三", 2).await;
    let withdraw =
        |number: &str| json!({"order_number": number, "member_id": member, "amount": 1000, "bank_card_id": card});

    // Without the withdrawal product signed, the money in its account stays.
    let refused = app.post("/v1/withdrawals", withdraw("W-1")).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    assert!(refused.text.contains("withdrawal"), "the refusal names the product: {}", refused.text);
    assert_eq!((app.balance(&settlement).await, app.balance(&basic).await), (1000, 0), "nothing moved");

    // Signed, the same withdrawal goes through.
    app.sign_products(&merchant, &["withdrawal"]).await;
    let applied = app.post("/v1/withdrawals", withdraw("W-2")).await;
    applied.assert_status(StatusCode::CREATED);
    assert_eq!(app.account(&settlement).await["available"], 0, "{}", applied.body);
    app.verify_clean().await;
});

on_both_backends!(a_bound_client_reaches_only_its_own_merchant, |db| {
    let app = app(db).await;
    let mine = enterprise(&app, "a@example.com", "13900000001", "某某科技有限公司", CREDIT_CODE).await;
    let theirs = enterprise(&app, "b@example.com", "13900000002", "某某商贸有限公司", &credit_code(2)).await;
    let (my_merchant, _) = active_merchant(&app, &mine, CREDIT_CODE).await;
    let their_merchant = {
        let mut body = opening(&theirs, "别家", &credit_code(2));
        body["business"]["registered_name"] = json!("某某商贸有限公司");
        id_of(app.post("/v1/merchants", body).await.assert_status(StatusCode::CREATED))
    };
    let bound = bound_client(&app.db.store, &mine, "merchant-a").await;

    let own = app.send_as(&bound, "GET", &format!("/v1/merchants/{my_merchant}"), Value::Null).await;
    assert_eq!(own.assert_status(StatusCode::OK)["id"], my_merchant.as_str());
    for (method, path, body) in [
        ("GET", format!("/v1/merchants/{their_merchant}"), Value::Null),
        ("GET", format!("/v1/merchants/{their_merchant}/history"), Value::Null),
        ("POST", format!("/v1/merchants/{their_merchant}/documents"), json!({"premises_photos": ["file:x"]})),
        ("POST", format!("/v1/merchants/{their_merchant}/settlement-account"), corporate("某某商贸有限公司")),
        ("POST", format!("/v1/merchants/{their_merchant}/submit"), json!({})),
    ] {
        app.send_as(&bound, method, &path, body).await.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    }
    // Opening a merchant for another member answers as if that member did not exist.
    let opening_theirs = opening(&theirs, "借壳", &credit_code(2));
    app.send_as(&bound, "POST", "/v1/merchants", opening_theirs)
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    // Lists hold its own merchants only, whatever it asks for.
    let listed = app.send_as(&bound, "GET", "/v1/merchants", Value::Null).await.assert_status(StatusCode::OK).clone();
    let ids: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [my_merchant.as_str()]);
    let asked = app.send_as(&bound, "GET", &format!("/v1/merchants?member_id={theirs}"), Value::Null).await;
    asked.assert_error(StatusCode::NOT_FOUND, "member_not_found");
    // Staff's decisions are the platform's: a bound client holds no admin scope.
    let review = app
        .send_as(&bound, "POST", &format!("/v1/merchants/{my_merchant}/review"), json!({"decision": "approve"}))
        .await;
    review.assert_error(StatusCode::FORBIDDEN, "scope_missing");
    // A well-formed id of nothing answers the same.
    let nothing = format!("mch_{}", &their_merchant[4..].chars().rev().collect::<String>());
    if sanhu_core::id::MerchantId::parse(&nothing).is_some() {
        app.get(&format!("/v1/merchants/{nothing}")).await.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    }
});

fn receipts(merchant: &Value) -> (i64, i64) {
    (merchant["receipts"]["today"].as_i64().unwrap(), merchant["receipts"]["this_month"].as_i64().unwrap())
}

async fn read(app: &TestApp, merchant: &str) -> Value {
    app.get(&format!("/v1/merchants/{merchant}")).await.assert_status(StatusCode::OK).clone()
}

/// A personal member with 1,000.00 in its basic account: (member, basic account).
async fn funded_payer(app: &TestApp, phone: &str, n: u32) -> String {
    let (payer, basic) = app.active_member(phone).await;
    app.recharge(&payer, &basic, 100_000, "test", &format!("R-{n}")).await;
    payer
}

on_both_backends!(a_released_authorisation_or_a_returned_escrow_gives_the_merchants_limits_back, |db| {
    // 30.00 a payment, 50.00 a day: what is held and given back must not use the day up.
    let app = app(db).await;
    let member = enterprise(&app, "finance@example.com", "13900000001", "某某科技有限公司", CREDIT_CODE).await;
    let (merchant, receipts_account) = active_merchant(&app, &member, CREDIT_CODE).await;
    let payer = funded_payer(&app, "13800000009", 1).await;
    for n in 0..4 {
        let mut authorise = pay(&format!("A-{n}"), &payer, 3000, &receipts_account);
        authorise["authorise_timeout_s"] = json!(600);
        let held = app.post("/v1/payments", authorise).await;
        assert_eq!(held.assert_status(StatusCode::CREATED)["status"], "authorised", "authorisation {n}");
        let released = app.post(&format!("/v1/payments/A-{n}/release"), json!({})).await;
        assert_eq!(released.assert_status(StatusCode::OK)["status"], "released");
    }
    for n in 0..3 {
        let mut escrow = pay(&format!("E-{n}"), &payer, 3000, &receipts_account);
        escrow["escrow"] = json!(true);
        let held = app.post("/v1/payments", escrow).await;
        assert_eq!(held.assert_status(StatusCode::CREATED)["status"], "escrowed", "escrow {n}");
        let returned = app.post(&format!("/v1/payments/E-{n}/escrow-return"), json!({})).await;
        assert_eq!(returned.assert_status(StatusCode::OK)["status"], "escrow_returned");
    }
    assert_eq!(receipts(&read(&app, &merchant).await), (0, 0), "nothing was received");

    // An authorisation counts what is captured, when it is captured.
    let mut authorise = pay("A-9", &payer, 3000, &receipts_account);
    authorise["authorise_timeout_s"] = json!(600);
    app.post("/v1/payments", authorise).await.assert_status(StatusCode::CREATED);
    assert_eq!(receipts(&read(&app, &merchant).await), (0, 0));
    app.post("/v1/payments/A-9/capture", json!({"amount": 1000})).await.assert_status(StatusCode::OK);
    assert_eq!(receipts(&read(&app, &merchant).await), (1000, 1000));
    // A refund does not give a limit back: the money was received.
    app.post("/v1/payments", pay("P-1", &payer, 3000, &receipts_account)).await.assert_status(StatusCode::CREATED);
    let refund = json!({"refund_number": "RF-1", "amount": 3000});
    app.post("/v1/payments/P-1/refunds", refund).await.assert_status(StatusCode::CREATED);
    assert_eq!(receipts(&read(&app, &merchant).await), (4000, 4000));
    let over = app.post("/v1/payments", pay("P-2", &payer, 1001, &receipts_account)).await;
    over.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_limit_exceeded");
    assert!(over.text.contains("per_day"), "{}", over.text);
    app.post("/v1/payments", pay("P-3", &payer, 1000, &receipts_account)).await.assert_status(StatusCode::CREATED);
    app.verify_clean().await;
});

on_both_backends!(fifty_payments_to_one_merchant_at_once_all_succeed_and_are_counted_exactly, |db| {
    let app = app(db).await;
    let member = enterprise(&app, "finance@example.com", "13900000001", "某某科技有限公司", CREDIT_CODE).await;
    let (merchant, receipts_account) = active_merchant(&app, &member, CREDIT_CODE).await;
    let mut payers = Vec::new();
    for n in 0..10 {
        payers.push(funded_payer(&app, &format!("138000001{n:02}"), n).await);
    }
    // 50 payments of 1.00 from 10 wallets at once: the day's limit (50.00) has room for all of them.
    let answers = join_all((0..50).map(|n| {
        let body = pay(&format!("C-{n}"), &payers[n % 10], 100, &receipts_account);
        let app = &app;
        async move { app.post("/v1/payments", body).await }
    }))
    .await;
    for answer in &answers {
        assert_eq!(answer.assert_status(StatusCode::CREATED)["status"], "paid");
    }
    assert_eq!(receipts(&read(&app, &merchant).await), (5000, 5000), "each payment counted once");
    assert_eq!(app.balance(&receipts_account).await, 5000);
    app.post("/v1/payments", pay("C-50", &payers[0], 1, &receipts_account))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_limit_exceeded");

    // Requests on one merchant's own record at once are taken in turn: every one applied.
    let applying = id_of(
        app.post("/v1/merchants", opening(&member, "某某咖啡 二店", CREDIT_CODE))
            .await
            .assert_status(StatusCode::CREATED),
    );
    let path = format!("/v1/merchants/{applying}");
    let answers = join_all((0..20).map(|n| {
        let (app, path) = (&app, &path);
        async move {
            match n % 3 {
                0 => app.post(&format!("{path}/documents"), json!({"premises_photos": [format!("file:p-{n}")]})).await,
                1 => app.post(&format!("{path}/settlement-account"), corporate("某某科技有限公司")).await,
                _ => app.post(&format!("{path}/documents"), json!({"licence_number": CREDIT_CODE})).await,
            }
        }
    }))
    .await;
    for answer in &answers {
        answer.assert_status(StatusCode::OK);
    }
    let history = app.get(&format!("{path}/history?limit=100")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(history["data"].as_array().unwrap().len(), 21, "opened, then each of the 20 requests");
    app.verify_clean().await;
});

on_both_backends!(an_opening_run_again_under_its_idempotency_key_finds_the_merchant_it_opened, |db| {
    let app = app(db).await;
    let member = enterprise(&app, "finance@example.com", "13900000001", "某某科技有限公司", CREDIT_CODE).await;
    let body = opening(&member, "某某咖啡", CREDIT_CODE);
    let first = app.post_keyed("/v1/merchants", "open-cafe", body.clone()).await;
    let first = first.assert_status(StatusCode::CREATED).clone();
    // The process died after opening it and before recording the answer: the request runs again.
    crate::idempotency_after_crash::reopen_as_if_crashed(&app.db, "open-cafe").await;
    let again = app.post_keyed("/v1/merchants", "open-cafe", body.clone()).await;
    assert!(!again.replayed(), "the request ran again");
    assert_eq!(again.assert_status(StatusCode::CREATED)["id"], first["id"], "the same merchant, found");
    let listed = app.get(&format!("/v1/merchants?member_id={member}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["data"].as_array().unwrap().len(), 1, "one merchant opened");
    // Another key opens another.
    let other = app.post_keyed("/v1/merchants", "open-cafe-2", body).await;
    assert_ne!(other.assert_status(StatusCode::CREATED)["id"], first["id"]);
});

on_both_backends!(an_approved_merchant_holds_its_credit_code_and_closing_gives_it_back, |db| {
    let app = app(db).await;
    let owner = enterprise(&app, "a@example.com", "13900000001", "某某科技有限公司", CREDIT_CODE).await;
    let squatter = enterprise(&app, "b@example.com", "13900000002", "某某商贸有限公司", &credit_code(2)).await;
    // An application claims nothing: the squatter's does not keep the owner out.
    let squatted = id_of(
        app.post("/v1/merchants", opening(&squatter, "冒名商户", CREDIT_CODE)).await.assert_status(StatusCode::CREATED),
    );
    let (owned, _) = active_merchant(&app, &owner, CREDIT_CODE).await;
    // Approved, the code is the owner's customer's: another customer's opening, approval and
    // enterprise authentication are refused.
    app.post("/v1/merchants", opening(&squatter, "冒名商户 二", CREDIT_CODE))
        .await
        .assert_error(StatusCode::CONFLICT, "merchant_business_of_another_customer");
    let path = format!("/v1/merchants/{squatted}");
    let documents = json!({"licence_number": CREDIT_CODE, "legal_person": {"name": "张三", "certificate_number": ID_CARD},
                           "premises_photos": ["file:premises-1"]});
    app.post(&format!("{path}/documents"), documents).await.assert_status(StatusCode::OK);
    app.post(&format!("{path}/settlement-account"), corporate("某某科技有限公司")).await.assert_status(StatusCode::OK);
    verify(&app, &squatted, CORPORATE_NUMBER).await.assert_status(StatusCode::OK);
    app.post(&format!("{path}/submit"), json!({})).await.assert_status(StatusCode::OK);
    let approve = json!({"decision": "approve"});
    review_refused(&app, &squatted, approve, StatusCode::CONFLICT, "merchant_business_of_another_customer").await;
    let licence = json!({"type": "business_licence", "channel": "business_registry", "name": "某某科技有限公司",
                         "certificate_type": "unified_social_credit_code", "certificate_number": CREDIT_CODE,
                         "result": "verified"});
    app.post(&format!("/v1/members/{squatter}/authentications"), licence.clone())
        .await
        .assert_error(StatusCode::CONFLICT, "merchant_business_of_another_customer");
    // The owner's own enterprise authentication is its business's customer already.
    app.post(&format!("/v1/members/{owner}/authentications"), licence).await.assert_status(StatusCode::CREATED);

    // Closed, the merchant gives the code up unless its customer holds it as its own certificate:
    // here it does (the authentication above), so the code stays the owner's.
    let close = json!({"status": "closed", "reason": "停业"});
    app.post(&format!("/v1/merchants/{owned}/status"), close.clone()).await.assert_status(StatusCode::OK);
    app.post("/v1/merchants", opening(&squatter, "冒名商户 三", CREDIT_CODE))
        .await
        .assert_error(StatusCode::CONFLICT, "merchant_business_of_another_customer");

    // A business whose only approved merchant closes is free again.
    let third = enterprise(&app, "c@example.com", "13900000003", "某某科技有限公司", &credit_code(3)).await;
    let (first_of_third, _) = active_merchant(&app, &third, &credit_code(3)).await;
    app.post("/v1/merchants", opening(&squatter, "x", &credit_code(3)))
        .await
        .assert_error(StatusCode::CONFLICT, "merchant_business_of_another_customer");
    app.post(&format!("/v1/merchants/{first_of_third}/status"), close).await.assert_status(StatusCode::OK);
    app.post("/v1/merchants", opening(&squatter, "x", &credit_code(3))).await.assert_status(StatusCode::CREATED);
});

on_both_backends!(the_settlement_account_is_fixed_once_submitted_and_its_verification_is_bound_to_it, |db| {
    let app = app(db).await;
    let member = enterprise(&app, "finance@example.com", "13900000001", "某某科技有限公司", CREDIT_CODE).await;
    let merchant = id_of(
        app.post("/v1/merchants", opening(&member, "某某咖啡", CREDIT_CODE)).await.assert_status(StatusCode::CREATED),
    );
    let path = format!("/v1/merchants/{merchant}");
    let documents = json!({"licence_number": CREDIT_CODE, "legal_person": {"name": "张三", "certificate_number": ID_CARD},
                           "premises_photos": ["file:premises-1"]});
    app.post(&format!("{path}/documents"), documents).await.assert_status(StatusCode::OK);
    app.post(&format!("{path}/settlement-account"), corporate("某某科技有限公司")).await.assert_status(StatusCode::OK);
    let verified = verify(&app, &merchant, CORPORATE_NUMBER).await;
    assert_eq!(verified.assert_status(StatusCode::OK)["settlement_account"]["verification"], "verified");
    // Another account: the verification was of the first, and is void for this one.
    let mut other = corporate("某某科技有限公司");
    other["account_number"] = json!("1100000000000000000002");
    let swapped = app.post(&format!("{path}/settlement-account"), other).await;
    assert_eq!(swapped.assert_status(StatusCode::OK)["settlement_account"]["verification"], "unverified");
    verify(&app, &merchant, CORPORATE_NUMBER).await.assert_error(StatusCode::CONFLICT, "settlement_account_changed");

    // Submitted, the account is the one the review sees: fixed.
    app.post(&format!("{path}/submit"), json!({})).await.assert_status(StatusCode::OK);
    app.post(&format!("{path}/settlement-account"), corporate("某某科技有限公司"))
        .await
        .assert_error(StatusCode::CONFLICT, "settlement_account_fixed");
    // Approval needs it verified.
    let approve = json!({"decision": "approve"});
    review_refused(&app, &merchant, approve.clone(), StatusCode::CONFLICT, "settlement_account_unverified").await;
    assert_eq!(read(&app, &merchant).await["status"], "under_review");
    verify(&app, &merchant, "1100000000000000000002").await.assert_status(StatusCode::OK);

    // An API client never decides a review, bound or not; staff's decision waits for a second one.
    app.post(&format!("{path}/review"), approve.clone())
        .await
        .assert_error(StatusCode::FORBIDDEN, "merchant_review_staff_only");
    let approved = reviewed(&app, &merchant, approve).await;
    assert_eq!(approved["status"], "active");
    let review = &approved["reviews"][0];
    assert_eq!(
        (review["by"].as_str(), review["checker"].as_str()),
        (Some("staff:mei.review"), Some("staff:chen.check"))
    );
    assert_eq!(review["submitted_by"], format!("client:{}", app.client.id));
    assert!(review["submitted_at"].as_str().is_some_and(|at| at <= review["at"].as_str().unwrap()), "{review}");
    app.post(&format!("{path}/settlement-account"), corporate("某某科技有限公司"))
        .await
        .assert_error(StatusCode::CONFLICT, "settlement_account_fixed");
    // An unknown status to set is the caller's mistake.
    app.post(&format!("{path}/status"), json!({"status": "paused", "reason": "x"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_status_invalid");
});

on_both_backends!(a_personal_card_settles_only_in_the_members_verified_real_name, |db| {
    let app = app(db).await;
    let (member, _) = app.active_member("13800000001").await;
    let body = json!({
        "member_id": member, "merchant_type": "individual_business", "name": "张三小吃",
        "scenario": {"kind": "offline_store", "address": "北京市海淀区某某路2号"},
        "contact": {"name": "张三", "phone": "13800000001"},
        "business": {"registered_name": "张三小吃店", "credit_code": credit_code(5)}
    });
    let merchant = id_of(app.post("/v1/merchants", body).await.assert_status(StatusCode::CREATED));
    let path = format!("/v1/merchants/{merchant}/settlement-account");
    let card = |name: &str| json!({"kind": "personal_card", "account_name": name, "account_number": card_number(1)});
    // No real name: no name to check the card's against.
    app.post(&path, card("张三"))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "settlement_account_real_name_required");
    app.real_name(&member, "张三", 1).await;
    app.post(&path, card("李四"))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "settlement_account_name_mismatch");
    let set = app.post(&path, card("张三")).await;
    assert_eq!(set.assert_status(StatusCode::OK)["settlement_account"]["kind"], "personal_card");
});

on_both_backends!(a_frozen_merchant_receives_no_capture_escrow_release_or_deposit_capture, |db| {
    let app = app(db).await;
    let member = enterprise(&app, "finance@example.com", "13900000001", "某某科技有限公司", CREDIT_CODE).await;
    let (merchant, receipts_account) = active_merchant(&app, &member, CREDIT_CODE).await;
    let payer = funded_payer(&app, "13800000009", 1).await;
    let mut authorise = pay("A-1", &payer, 1000, &receipts_account);
    authorise["authorise_timeout_s"] = json!(600);
    app.post("/v1/payments", authorise).await.assert_status(StatusCode::CREATED);
    let mut escrow = pay("E-1", &payer, 1000, &receipts_account);
    escrow["escrow"] = json!(true);
    app.post("/v1/payments", escrow).await.assert_status(StatusCode::CREATED);
    let deposit = json!({"order_number": "D-1", "member_id": payer, "amount": 1000,
                         "beneficiary_account_id": receipts_account});
    app.post("/v1/deposits", deposit).await.assert_status(StatusCode::CREATED);

    let freeze = json!({"status": "frozen", "reason": "风险排查"});
    app.post(&format!("/v1/merchants/{merchant}/status"), freeze).await.assert_status(StatusCode::OK);
    for (path, body) in [
        ("/v1/payments/A-1/capture", json!({"amount": 1000})),
        ("/v1/payments/E-1/escrow-release", json!({})),
        ("/v1/deposits/D-1/capture", json!({"amount": 500, "reason": "损坏"})),
    ] {
        app.post(path, body).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_not_receiving");
    }
    assert_eq!(app.balance(&receipts_account).await, 0, "nothing reached the frozen merchant");
    // Giving money back to the payer is not receiving: still allowed.
    app.post("/v1/payments/A-1/release", json!({})).await.assert_status(StatusCode::OK);
    app.post("/v1/payments/E-1/escrow-return", json!({})).await.assert_status(StatusCode::OK);
    app.post("/v1/deposits/D-1/release", json!({})).await.assert_status(StatusCode::OK);
    app.verify_clean().await;
});
