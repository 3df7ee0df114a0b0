//! Products and signing over HTTP, on SQLite and on PostgreSQL: the configured products; a merchant's
//! application, staff's review (maker-checker; an API client refused), suspension, resumption and
//! termination, each with its code; a payment to a merchant refused until the product it uses is
//! signed (`product_not_signed`, naming it) and received once it is, a member that is no merchant
//! unaffected; types not allowed and internal-only products; and the authorisation of products down a
//! hierarchy of three levels (nothing below that is not approved above, nothing leaking to a sibling,
//! a suspension above taking the product from everything below), with bound clients at each level
//! trying every new endpoint with the ids of the others (404, as if absent).

use axum::http::StatusCode;
use sanhu_core::id::MemberId;
use sanhu_core::party::merchant::{
    DocumentKind, MerchantLimits, MerchantType, MerchantTypeCode, MerchantTypeSpec, MerchantTypes, SettlementKind,
};
use sanhu_core::party::merchant_level::{MerchantLevelSpec, MerchantLevels};
use sanhu_core::party::product::{ProductSpec, Products};
use sanhu_core::party::{AccountTypeCode, PartyKind};
use sanhu_service::party::PartyConfig;
use sanhu_testkit::app::{bound_client, Client, TestApp, TestResponse};
use sanhu_testkit::ids::{credit_code_of, ID_CARD};
use sanhu_testkit::staff::{CHECKER, MAKER};
use sanhu_testkit::{on_both_backends, world, TestDatabase};

use crate::merchant_hierarchy::app_with;
use serde_json::{json, Value};

/// A unified social credit code whose first 17 characters end in `n`, with its check character.
fn credit_code(n: u32) -> String {
    credit_code_of(3, n)
}

/// One enterprise type (receipts into its settlement account) at three levels (channel partner, agent,
/// merchant); the default products and an internal-only one (`withholding`, 代扣) and one only
/// personal merchants sign (`collection_code`).
pub(crate) fn parties() -> PartyConfig {
    let code = |c: &str| AccountTypeCode::parse(c).unwrap();
    let enterprise = MerchantTypeSpec {
        code: MerchantTypeCode::parse("enterprise").unwrap(),
        name: "企业商户".into(),
        member_kind: PartyKind::Enterprise,
        real_name_required: false,
        documents: DocumentKind::ALL.to_vec(),
        settlement_accounts: vec![SettlementKind::Corporate],
        limits: MerchantLimits::new(300_000, 500_000, 800_000).unwrap(),
        accounts: vec![code("settlement")],
    };
    let level = |c: &str, top: bool, under: &[&str]| MerchantLevelSpec {
        code: c.to_owned(),
        name: c.to_owned(),
        top,
        under: under.iter().map(|u| (*u).to_owned()).collect(),
        merchant_types: Vec::new(),
        special: false,
        sub_merchant: false,
        service_provider: c == "service_provider",
    };
    let levels = vec![
        level("channel_partner", true, &[]),
        level("agent", false, &["channel_partner"]),
        level("merchant", true, &["agent"]),
    ];
    let mut products: Vec<ProductSpec> = Products::default_set().iter().cloned().collect();
    products.push(ProductSpec {
        code: "withholding".into(),
        name: "代扣".into(),
        fee_rate_bp: 0,
        merchant_types: vec![MerchantTypeCode::parse("enterprise").unwrap()],
        internal_only: true,
    });
    PartyConfig {
        merchant_types: MerchantTypes::new(vec![MerchantType::configure(enterprise).unwrap()]).unwrap(),
        merchant_levels: MerchantLevels::new(levels, 4).unwrap(),
        merchants_per_customer_max: 5,
        products: Products::new(products).unwrap(),
        ..world::party_config()
    }
}

/// The API with an API client and the hierarchy tests' two staff members, under this module's
/// products.
async fn app(db: TestDatabase) -> TestApp {
    app_with(db, parties()).await
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().unwrap_or_else(|| panic!("no id in {body}")).to_owned()
}

fn business(n: u32) -> String {
    format!("某某商贸{n}有限公司")
}

/// An active enterprise member, business `n`, of an external customer unless `internal`; its id.
async fn enterprise(app: &TestApp, n: u32, internal: bool) -> String {
    let company = json!({
        "name": business(n), "credit_code": credit_code(n), "legal_person": "张三",
        "legal_person_certificate_number": ID_CARD, "contact": "李四", "contact_phone": "13912345678",
        "industry": "I642", "licence_expiry": "2035-06-30", "address": "北京市海淀区某某路1号"
    });
    let mut body = json!({"email": format!("p{n}@example.com"), "company": company,
                          "admin": {"phone": format!("137{n:08}")}});
    if internal {
        body["scope"] = json!("internal");
    }
    let registered = app.post("/v1/enterprises", body).await;
    let member = id_of(&registered.assert_status(StatusCode::CREATED)["member"]);
    app.activate(&member).await;
    member
}

/// An active merchant of business `n` at `level` under `parent`: (member, merchant, its settlement
/// account, which receives payments).
pub(crate) async fn placed(
    app: &TestApp,
    n: u32,
    level: &str,
    parent: Option<&str>,
    internal: bool,
) -> (String, String, String) {
    let member = enterprise(app, n, internal).await;
    let mut opening = json!({
        "member_id": member, "merchant_type": "enterprise", "name": format!("商户{n}"),
        "scenario": {"kind": "offline_store", "address": "北京市海淀区某某路1号"},
        "contact": {"name": "李四", "phone": "13912345678"},
        "business": {"registered_name": business(n), "credit_code": credit_code(n)},
        "level": level,
    });
    if let Some(parent) = parent {
        opening["parent_id"] = json!(parent);
    }
    let merchant = id_of(app.post("/v1/merchants", opening).await.assert_status(StatusCode::CREATED));
    let path = format!("/v1/merchants/{merchant}");
    let documents = json!({"licence_number": credit_code(n),
                           "legal_person": {"name": "张三", "certificate_number": ID_CARD},
                           "premises_photos": ["file:premises-1"]});
    app.post(&format!("{path}/documents"), documents).await.assert_status(StatusCode::OK);
    let account = json!({"kind": "corporate", "account_name": business(n), "account_number": "1100000000000000000001",
                         "bank_code": "102", "branch_code": "102100000012"});
    app.post(&format!("{path}/settlement-account"), account).await.assert_status(StatusCode::OK);
    let verification = json!({"verified": true, "account_number": "1100000000000000000001"});
    app.post(&format!("{path}/settlement-account/verification"), verification).await.assert_status(StatusCode::OK);
    app.post(&format!("{path}/submit"), json!({})).await.assert_status(StatusCode::OK);
    let (status, body) = app.held_and_approved(&format!("{path}/review"), json!({"decision": "approve"})).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("active")), "{body}");
    let receipts = body["accounts"][0]["account_id"].as_str().unwrap().to_owned();
    (member, merchant, receipts)
}

/// A funded buyer: (member id, its basic account).
pub(crate) async fn buyer(app: &TestApp, phone: &str) -> String {
    let (member, basic) = app.active_member(phone).await;
    app.recharge(&member, &basic, 1_000_000, "wechat", &format!("R-{phone}")).await;
    member
}

async fn pay(app: &TestApp, order: &str, member: &str, amount: i64, receiver: &str) -> TestResponse {
    let body = json!({"order_number": order, "member_id": member, "amount": amount, "receiver_account_id": receiver});
    app.post("/v1/payments", body).await
}

/// The merchant's signing of `product` as listed (Null if none).
async fn signing(app: &TestApp, merchant: &str, product: &str) -> Value {
    let listed = app.get(&format!("/v1/merchants/{merchant}/products")).await;
    let listed = listed.assert_status(StatusCode::OK).clone();
    listed["data"].as_array().unwrap().iter().find(|s| s["product"] == product).cloned().unwrap_or(Value::Null)
}

on_both_backends!(the_platform_lists_its_products_with_fee_rates_types_and_internal_only, |db| {
    let app = app(db).await;
    let listed = app.get("/v1/products").await.assert_status(StatusCode::OK).clone();
    let codes: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|p| p["code"].as_str().unwrap()).collect();
    assert_eq!(
        codes,
        [
            "balance_payment",
            "recharge",
            "withdrawal",
            "escrow_collection",
            "split_payment",
            "member_cards",
            "collection_code",
            "withholding"
        ]
    );
    let balance = &listed["data"][0];
    assert_eq!(balance["name"], "余额支付");
    assert_eq!(balance["fee_rate_bp"], 60);
    assert_eq!(balance["internal_only"], false);
    assert_eq!(listed["data"][7]["internal_only"], true);
    assert_eq!(listed["data"][6]["merchant_types"], json!(["personal", "individual_business"]));
});

on_both_backends!(a_merchant_applies_staff_review_and_it_receives_only_what_it_has_signed, |db| {
    let app = app(db).await;
    let (cafe_member, cafe, receipts) = placed(&app, 1, "merchant", None, false).await;
    let buyer = buyer(&app, "13800000001").await;
    let path = format!("/v1/merchants/{cafe}/products");

    // Active, but without balance payment signed: nothing is received, the refusal names the product.
    let refused = pay(&app, "P-1", &buyer, 1000, &receipts).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("balance_payment"), "{}", refused.body);
    // A member that is no merchant receives as before.
    let (_, friend_basic) = app.active_member("13800000002").await;
    pay(&app, "P-2", &buyer, 1000, &friend_basic).await.assert_status(StatusCode::CREATED);

    // Applications: a product of nothing, one not for its type, one for internal customers only.
    app.post(&path, json!({"product": "nothing"})).await.assert_error(StatusCode::NOT_FOUND, "product_not_found");
    app.post(&path, json!({"product": "collection_code"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_type_not_allowed");
    app.post(&path, json!({"product": "withholding"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_internal_only");
    let applied = app.post(&path, json!({"product": "balance_payment"})).await;
    let applied = applied.assert_status(StatusCode::CREATED).clone();
    assert_eq!((applied["status"].as_str(), applied["in_effect"].as_bool()), (Some("under_review"), Some(false)));
    assert_eq!(applied["fee_rate_bp"], 60);
    app.post(&path, json!({"product": "balance_payment"}))
        .await
        .assert_error(StatusCode::CONFLICT, "product_already_signed");
    pay(&app, "P-3", &buyer, 1000, &receipts)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");

    // The review is staff's, two of them; the platform's client does not decide.
    let review = format!("{path}/balance_payment/review");
    app.post(&review, json!({"decision": "approve"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "product_review_staff_only");
    let (status, body) = app.held_and_approved(&review, json!({"decision": "reject"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (422, Some("product_review_reason_required")), "{body}");
    let (status, body) = app.held_and_approved(&review, json!({"decision": "approve"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["status"].as_str(), body["in_effect"].as_bool()), (Some("signed"), Some(true)));
    assert_eq!(body["reviews"][0]["by"], format!("staff:{MAKER}"));
    assert_eq!(body["reviews"][0]["checker"], format!("staff:{CHECKER}"));
    let (status, body) = app.held_and_approved(&review, json!({"decision": "approve"})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (409, Some("product_signing_not_under_review")));

    // Signed: the first payment is received.
    let paid = pay(&app, "P-4", &buyer, 1000, &receipts).await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["status"], "paid");

    // Escrow is a product of its own.
    let escrow = json!({"order_number": "P-5", "member_id": buyer, "amount": 1000, "receiver_account_id": receipts,
                        "escrow": true});
    app.post("/v1/payments", escrow).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    // So is a recharge into the merchant's account.
    let recharge = json!({"order_number": "R-M1", "member_id": cafe_member, "account_id": receipts, "amount": 1000,
                          "channel": "wechat"});
    let refused = app.post("/v1/recharges", recharge.clone()).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    assert!(refused.body["error"]["message"].as_str().unwrap().contains("recharge"), "{}", refused.body);
    app.sign_products(&cafe, &["recharge"]).await;
    app.post("/v1/recharges", recharge).await.assert_status(StatusCode::CREATED);

    // Suspended, nothing is received; resumed, again; terminated, for good (a new application may follow).
    let reason = json!({"reason": "风险排查"});
    let suspended = app.post(&format!("{path}/balance_payment/suspend"), reason.clone()).await;
    assert_eq!(suspended.assert_status(StatusCode::OK)["status"], "suspended");
    app.post(&format!("{path}/balance_payment/suspend"), reason.clone())
        .await
        .assert_error(StatusCode::CONFLICT, "product_signing_status_change_not_allowed");
    pay(&app, "P-6", &buyer, 1000, &receipts)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    let resumed = app.post(&format!("{path}/balance_payment/resume"), reason.clone()).await;
    assert_eq!(resumed.assert_status(StatusCode::OK)["in_effect"], true);
    pay(&app, "P-7", &buyer, 1000, &receipts).await.assert_status(StatusCode::CREATED);
    app.post(&format!("{path}/balance_payment/terminate"), reason.clone()).await.assert_status(StatusCode::OK);
    pay(&app, "P-8", &buyer, 1000, &receipts)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    app.post(&format!("{path}/balance_payment/resume"), reason.clone())
        .await
        .assert_error(StatusCode::CONFLICT, "product_signing_status_change_not_allowed");
    app.post(&format!("{path}/member_cards/suspend"), reason.clone())
        .await
        .assert_error(StatusCode::NOT_FOUND, "product_signing_not_found");
    let again = app.post(&path, json!({"product": "balance_payment"})).await;
    assert_eq!(again.assert_status(StatusCode::CREATED)["serial"], 3, "serials count every signing of the merchant");

    // A staff member's suspension waits for a second one.
    app.sign_products(&cafe, &["escrow_collection"]).await;
    let (status, body) =
        app.held_and_approved(&format!("{path}/escrow_collection/suspend"), json!({"reason": "投诉"})).await;
    assert_eq!((status, body["status"].as_str()), (200, Some("suspended")));

    // The history keeps every step.
    let history =
        app.get(&format!("/v1/merchants/{cafe}/history?limit=100")).await.assert_status(StatusCode::OK).clone();
    let actions: Vec<&str> =
        history["data"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    for action in ["merchant.product_applied", "merchant.product_reviewed", "merchant.product_status_changed"] {
        assert!(actions.contains(&action), "{action} in {actions:?}");
    }
    // What was paid is the ledger's, and the ledger is clean.
    app.verify_clean().await;
});

on_both_backends!(an_internal_customer_signs_an_internal_only_product, |db| {
    let app = app(db).await;
    let (_, own, _) = placed(&app, 2, "merchant", None, true).await;
    let applied = app.post(&format!("/v1/merchants/{own}/products"), json!({"product": "withholding"})).await;
    assert_eq!(applied.assert_status(StatusCode::CREATED)["status"], "under_review");
});

/// Whether `client` (None: the platform's) is answered 404 `merchant_not_found` on `path`.
async fn not_found(app: &TestApp, client: &Client, method: &str, path: &str, body: Value) {
    let answer = app.send_as(client, method, path, body).await;
    answer.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
}

on_both_backends!(products_go_down_the_hierarchy_only_as_authorised_and_never_to_a_sibling, |db| {
    let app = app(db).await;
    // A channel partner C; agents A and its sibling A2 under it; a merchant M under A.
    let (c_member, c, _) = placed(&app, 10, "channel_partner", None, false).await;
    let (a_member, a, a_receipts) = placed(&app, 11, "agent", Some(&c), false).await;
    let (a2_member, a2, a2_receipts) = placed(&app, 12, "agent", Some(&c), false).await;
    let (m_member, m, m_receipts) = placed(&app, 13, "merchant", Some(&a), false).await;
    let buyer = buyer(&app, "13800000009").await;
    let store = app.state.parties().store().clone();
    let c_client = bound_client(&store, &c_member, "channel").await;
    let a_client = bound_client(&store, &a_member, "agent").await;
    let a2_client = bound_client(&store, &a2_member, "sibling").await;
    let m_client = bound_client(&store, &m_member, "merchant").await;
    let _ = MemberId::parse(&c_member).unwrap();

    // Below a parent, a merchant does not apply: its parent authorises.
    let apply = json!({"product": "balance_payment"});
    let answer = app.send_as(&a_client, "POST", &format!("/v1/merchants/{a}/products"), apply.clone()).await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_from_parent");
    // Nothing the parent has not had approved: the channel partner applied, not yet reviewed.
    let applied = app.send_as(&c_client, "POST", &format!("/v1/merchants/{c}/products"), apply.clone()).await;
    applied.assert_status(StatusCode::CREATED);
    let authorise = |child: &str| json!({"merchant_id": child});
    let c_auth = format!("/v1/merchants/{c}/products/balance_payment/authorise");
    let answer = app.send_as(&c_client, "POST", &c_auth, authorise(&a)).await;
    answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_parent_not_signed");
    let (status, _) = app
        .held_and_approved(
            &format!("/v1/merchants/{c}/products/balance_payment/review"),
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(status, 200);

    // Approved at the top, authorised to A by C's client; A2, A's sibling, gets nothing from it.
    let authorised = app.send_as(&c_client, "POST", &c_auth, authorise(&a)).await;
    let authorised = authorised.assert_status(StatusCode::OK).clone();
    assert_eq!(authorised["authorised_by"]["merchant_id"], c.as_str());
    assert_eq!((authorised["status"].as_str(), authorised["in_effect"].as_bool()), (Some("signed"), Some(true)));
    app.send_as(&c_client, "POST", &c_auth, authorise(&a))
        .await
        .assert_error(StatusCode::CONFLICT, "product_already_signed");
    pay(&app, "H-1", &buyer, 100, &a_receipts).await.assert_status(StatusCode::CREATED);
    pay(&app, "H-2", &buyer, 100, &a2_receipts)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    assert_eq!(signing(&app, &a2, "balance_payment").await, Value::Null);
    // C authorises its own children only: M is A's.
    app.send_as(&c_client, "POST", &c_auth, authorise(&m))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_authorisation_not_child");
    // Third level: A authorises M, with its own client.
    let a_auth = format!("/v1/merchants/{a}/products/balance_payment/authorise");
    app.send_as(&a_client, "POST", &a_auth, authorise(&m)).await.assert_status(StatusCode::OK);
    pay(&app, "H-3", &buyer, 100, &m_receipts).await.assert_status(StatusCode::CREATED);

    // Bound clients beside or below, with others' ids: 404 as if absent, on every new endpoint.
    let a2_auth = format!("/v1/merchants/{a2}/products/balance_payment/authorise");
    for (client, path, body) in [
        (&a2_client, format!("/v1/merchants/{a}/products"), Value::Null),
        (&m_client, format!("/v1/merchants/{a}/products"), Value::Null),
        (&a_client, format!("/v1/merchants/{c}/products"), Value::Null),
        (&a_client, format!("/v1/merchants/{a2}/products"), Value::Null),
    ] {
        not_found(&app, client, "GET", &path, body).await;
    }
    for (client, path, body) in [
        (&a2_client, format!("/v1/merchants/{a}/products"), apply.clone()),
        (&a2_client, a_auth.clone(), authorise(&m)),
        (&a2_client, a2_auth.clone(), authorise(&m)),
        (&m_client, a_auth.clone(), authorise(&m)),
        (&a_client, c_auth.clone(), authorise(&a)),
        (&a_client, a2_auth.clone(), authorise(&a2)),
        (
            &a2_client,
            format!("/v1/merchants/{a}/products/balance_payment/revoke"),
            json!({"merchant_id": m, "reason": "x"}),
        ),
        (
            &m_client,
            format!("/v1/merchants/{c}/products/balance_payment/revoke"),
            json!({"merchant_id": a, "reason": "x"}),
        ),
    ] {
        not_found(&app, client, "POST", &path, body).await;
    }
    // The back office's endpoints are no bound client's (a bound client holds no admin scope).
    for step in ["review", "suspend", "resume", "terminate"] {
        let path = format!("/v1/merchants/{m}/products/balance_payment/{step}");
        let answer = app.send_as(&m_client, "POST", &path, json!({"reason": "x", "decision": "approve"})).await;
        answer.assert_error(StatusCode::FORBIDDEN, "scope_missing");
    }
    // From above, the channel partner's client reads them all.
    for merchant in [&a, &a2, &m] {
        let answer = app.send_as(&c_client, "GET", &format!("/v1/merchants/{merchant}/products"), Value::Null).await;
        answer.assert_status(StatusCode::OK);
    }

    // Suspended at the top, nothing below has it; resumed, everything has it again.
    let reason = json!({"reason": "风险排查"});
    app.post(&format!("/v1/merchants/{c}/products/balance_payment/suspend"), reason.clone())
        .await
        .assert_status(StatusCode::OK);
    for (order, receipts) in [("H-4", &a_receipts), ("H-5", &m_receipts)] {
        pay(&app, order, &buyer, 100, receipts)
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    }
    let below = signing(&app, &m, "balance_payment").await;
    assert_eq!((below["status"].as_str(), below["in_effect"].as_bool()), (Some("signed"), Some(false)));
    // Nor can it be passed on meanwhile.
    app.send_as(&c_client, "POST", &c_auth, authorise(&a2))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_parent_not_signed");
    app.post(&format!("/v1/merchants/{c}/products/balance_payment/resume"), reason.clone())
        .await
        .assert_status(StatusCode::OK);
    pay(&app, "H-6", &buyer, 100, &m_receipts).await.assert_status(StatusCode::CREATED);

    // Revoked from A by its authoriser (not by A's own child's side), M loses it too, for good: A
    // authorised again, M stands on nothing until authorised again itself.
    let revoke = format!("/v1/merchants/{c}/products/balance_payment/revoke");
    let answer = app
        .send_as(
            &a_client,
            "POST",
            &format!("/v1/merchants/{a}/products/balance_payment/revoke"),
            json!({"merchant_id": m, "reason": "合作终止"}),
        )
        .await;
    assert_eq!(answer.assert_status(StatusCode::OK)["status"], "terminated");
    app.send_as(&a_client, "POST", &a_auth, authorise(&m)).await.assert_status(StatusCode::OK);
    let revoked = app.send_as(&c_client, "POST", &revoke, json!({"merchant_id": a, "reason": "合作终止"})).await;
    assert_eq!(revoked.assert_status(StatusCode::OK)["status"], "terminated");
    app.send_as(&c_client, "POST", &revoke, json!({"merchant_id": a2, "reason": "合作终止"}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "product_signing_not_found");
    pay(&app, "H-7", &buyer, 100, &m_receipts)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    app.send_as(&c_client, "POST", &c_auth, authorise(&a)).await.assert_status(StatusCode::OK);
    pay(&app, "H-8", &buyer, 100, &a_receipts).await.assert_status(StatusCode::CREATED);
    pay(&app, "H-9", &buyer, 100, &m_receipts)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    app.send_as(&a_client, "POST", &a_auth, authorise(&m)).await.assert_status(StatusCode::OK);
    pay(&app, "H-10", &buyer, 100, &m_receipts).await.assert_status(StatusCode::CREATED);

    // Moved to the top, M keeps nothing A authorised; it applies as any merchant at the top.
    let moved = app.post(&format!("/v1/merchants/{m}/move"), json!({"parent_id": null, "reason": "转为直营"})).await;
    moved.assert_status(StatusCode::OK);
    pay(&app, "H-11", &buyer, 100, &m_receipts)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    app.post(&format!("/v1/merchants/{m}/products"), apply.clone()).await.assert_status(StatusCode::CREATED);
    let review = format!("/v1/merchants/{m}/products/balance_payment/review");
    assert_eq!(app.held_and_approved(&review, json!({"decision": "approve"})).await.0, 200);
    pay(&app, "H-12", &buyer, 100, &m_receipts).await.assert_status(StatusCode::CREATED);
    // Moved under A2, which has not the product, it does not keep staff's approval: what it has comes
    // from its parent, once the parent has it.
    let moved = app.post(&format!("/v1/merchants/{m}/move"), json!({"parent_id": a2, "reason": "并入"})).await;
    moved.assert_status(StatusCode::OK);
    pay(&app, "H-13", &buyer, 100, &m_receipts)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    app.send_as(&a2_client, "POST", &a2_auth, authorise(&m))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_parent_not_signed");
    app.send_as(&c_client, "POST", &c_auth, authorise(&a2)).await.assert_status(StatusCode::OK);
    app.send_as(&a2_client, "POST", &a2_auth, authorise(&m)).await.assert_status(StatusCode::OK);
    pay(&app, "H-14", &buyer, 100, &m_receipts).await.assert_status(StatusCode::CREATED);
    app.verify_clean().await;
});

on_both_backends!(a_merchant_opened_before_products_keeps_receiving_until_its_signings_change, |db| {
    use sanhu_store::party::{PartyStore, PartyWrite, RecordWrite};
    let app = app(db).await;
    let (_, old, receipts) = placed(&app, 3, "merchant", None, false).await;
    // Its record as written before products were signed: neither its signings nor the flag.
    let store = app.state.parties().store().clone();
    let mut record = store.party_records(std::slice::from_ref(&old)).await.unwrap().pop().unwrap();
    let mut data: Value = serde_json::from_str(&record.data).unwrap();
    data.as_object_mut().unwrap().remove("products");
    data.as_object_mut().unwrap().remove("signs_products");
    let expected_version = record.version;
    record.version += 1;
    record.data = data.to_string();
    let write = PartyWrite { records: vec![RecordWrite { record, expected_version }], ..PartyWrite::default() };
    store.party_write(&write).await.unwrap().unwrap();

    // The upgrade takes nothing from it.
    let buyer = buyer(&app, "13800000005").await;
    pay(&app, "G-1", &buyer, 100, &receipts).await.assert_status(StatusCode::CREATED);
    // Its first change writes out what it held, every product its type signs; then its signings rule.
    let suspended =
        app.post(&format!("/v1/merchants/{old}/products/balance_payment/suspend"), json!({"reason": "检查"})).await;
    assert_eq!(suspended.assert_status(StatusCode::OK)["status"], "suspended");
    pay(&app, "G-2", &buyer, 100, &receipts).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
    let escrow = json!({"order_number": "G-3", "member_id": buyer, "amount": 100, "receiver_account_id": receipts,
                        "escrow": true});
    app.post("/v1/payments", escrow).await.assert_status(StatusCode::CREATED);
    assert_eq!(signing(&app, &old, "split_payment").await["status"], "signed");
    assert_eq!(signing(&app, &old, "collection_code").await, Value::Null);
    app.verify_clean().await;
});

on_both_backends!(every_money_way_refuses_a_merchant_that_has_not_signed_the_product_it_uses, |db| {
    let app = app(db).await;
    let (_, merchant, receipts) = placed(&app, 3, "merchant", None, false).await;
    let buyer = buyer(&app, "13800000001").await;
    let (_, friend_basic) = app.active_member("13800000002").await;
    app.sign_products(&merchant, &["balance_payment"]).await;
    pay(&app, "M-1", &buyer, 10_000, &receipts).await.assert_status(StatusCode::CREATED);
    let refused = |answer: TestResponse, product: &str| {
        answer.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "product_not_signed");
        let message = answer.body["error"]["message"].as_str().unwrap().to_owned();
        assert!(message.contains(product), "{product} named in {message}");
    };

    // A receiver of a split payment receives its share only with split payment signed.
    let split = json!({"order_number": "S-1", "member_id": buyer, "amount": 1_000, "splits": [
        {"receiver_account_id": receipts, "amount": 600}, {"receiver_account_id": friend_basic, "rest": true}]});
    refused(app.post("/v1/payments", split.clone()).await, "split_payment");
    assert_eq!(app.balance(&friend_basic).await, 0, "no share paid to anyone");
    app.sign_products(&merchant, &["split_payment"]).await;
    app.post("/v1/payments", split).await.assert_status(StatusCode::CREATED);

    // A deposit held for the merchant is captured only while balance payment is in effect.
    let deposit =
        json!({"order_number": "D-1", "member_id": buyer, "amount": 2_000, "beneficiary_account_id": receipts});
    app.post("/v1/deposits", deposit).await.assert_status(StatusCode::CREATED);
    let suspend = format!("/v1/merchants/{merchant}/products/balance_payment/suspend");
    app.post(&suspend, json!({"reason": "风险排查"})).await.assert_status(StatusCode::OK);
    let capture = json!({"amount": 500, "reason": "损坏赔偿"});
    refused(app.post("/v1/deposits/D-1/capture", capture.clone()).await, "balance_payment");
    let resume = format!("/v1/merchants/{merchant}/products/balance_payment/resume");
    app.post(&resume, json!({"reason": "排查完毕"})).await.assert_status(StatusCode::OK);
    let captured = app.post("/v1/deposits/D-1/capture", capture).await;
    assert_eq!(captured.assert_status(StatusCode::OK)["status"], "captured");
    app.verify_clean().await;
});
