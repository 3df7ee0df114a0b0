//! Member cards over HTTP, end to end, on SQLite and on PostgreSQL: a card type, a number segment, a
//! batch approved by a marketing and a finance staff member (no one else), a stored-value card sold
//! (its face value in its own ledger account), activated, bound, recharged, paid with its discount
//! (rounded half up), refunded to within its payment, frozen and unfrozen; a type's change leaving sold
//! cards as they were; money requests idempotent by order number and by key; a bound merchant client
//! reaching its own merchant's cards only; concurrent batches and sales never sharing a number; and
//! `sanhu verify` clean after all of it.

use axum::http::StatusCode;
use sanhu_core::party::check_digit::luhn_valid;
use sanhu_core::staff::StaffRole;
use sanhu_testkit::app::{bound_client, send_to, signed, TestApp};
use sanhu_testkit::ids::credit_code;
use sanhu_testkit::{on_both_backends, world, TestDatabase};
use serde_json::{json, Value};

/// The API with an API client, and staff who sign in (the test kit's: `app.sign_in(name)`,
/// `app.staff_post(&session, path, body)` reach them through [`App`]'s API).
pub(crate) struct App {
    pub(crate) api: TestApp,
}

impl std::ops::Deref for App {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.api
    }
}

pub(crate) async fn app(db: TestDatabase) -> App {
    let staff = [
        ("mei.lin", StaffRole::Marketing),
        ("qian.yu", StaffRole::Finance),
        ("zhao.lei", StaffRole::Operations),
        ("sun.li", StaffRole::Marketing),
        ("wu.gang", StaffRole::SuperAdmin),
    ];
    App { api: TestApp::staffed(db, world::party_config(), world::wallet_config(), &staff).await }
}

impl App {
    /// A platform card type: 金卡, stored value 5,000.00 sold at 4,500.00, a year from activation,
    /// rechargeable, 90% by default and 70% for coffee.
    pub(crate) async fn gold_type(&self) -> String {
        let body = json!({"name": "金卡", "grade": 1, "terms": gold_terms()});
        id(self.api.post("/v1/card-types", body).await.assert_status(StatusCode::CREATED))
    }

    pub(crate) async fn segment(&self, prefix: &str, first: i64, last: i64) -> String {
        let body = json!({"prefix": prefix, "serial_digits": 8, "first_serial": first, "last_serial": last, "region": "北京分公司"});
        id(self.api.post("/v1/card-segments", body).await.assert_status(StatusCode::CREATED))
    }

    pub(crate) async fn batch(&self, type_id: &str, segment: &str, quantity: i64) -> String {
        let body = json!({"type_id": type_id, "segment_id": segment, "channel": "app", "quantity": quantity});
        id(self.api.post("/v1/card-batches", body).await.assert_status(StatusCode::CREATED))
    }

    /// The batch approved by marketing (mei.lin) and finance (qian.yu).
    pub(crate) async fn approve(&self, batch: &str) {
        let path = format!("/v1/card-batches/{batch}/approve");
        for name in ["mei.lin", "qian.yu"] {
            let console = self.sign_in(name).await;
            self.staff_post(&console, &path, json!({})).await.assert_status(StatusCode::OK);
        }
    }

    pub(crate) async fn sell(&self, batch: &str, order: &str) -> Value {
        let body = json!({"order_number": order, "batch_id": batch, "payment_channel": "alipay"});
        self.api.post("/v1/cards", body).await.assert_status(StatusCode::CREATED).clone()
    }

    /// An active card of a new approved batch of the gold type.
    pub(crate) async fn active_card(&self) -> String {
        let gold = self.gold_type().await;
        let segment = self.segment("8601", 0, 999).await;
        let batch = self.batch(&gold, &segment, 10).await;
        self.approve(&batch).await;
        let number = self.sell(&batch, "SALE-1").await["number"].as_str().unwrap().to_owned();
        self.api.post(&format!("/v1/cards/{number}/activate"), json!({})).await.assert_status(StatusCode::OK);
        number
    }
}

pub(crate) fn gold_terms() -> Value {
    json!({"kind": "stored_value", "face_value": 500000, "sale_price": 450000,
           "validity": {"days_from_activation": 365}, "rechargeable": true,
           "default_rate_bp": 9000, "line_rates": [{"line": "coffee", "rate_bp": 7000}]})
}

pub(crate) fn id(body: &Value) -> String {
    body["id"].as_str().unwrap_or_else(|| panic!("no id in {body}")).to_owned()
}

pub(crate) fn pay_body(order: &str, amount: i64, line: &str, receiver: &str) -> Value {
    json!({"order_number": order, "amount": amount, "business_line": line, "receiver_account_id": receiver})
}

on_both_backends!(a_stored_value_card_lives_from_sale_to_freeze_with_its_discount_and_its_money_in_the_ledger, |db| {
    let app = app(db).await;
    let api = &app.api;
    let gold = app.gold_type().await;
    let segment = app.segment("8601", 0, 999).await;
    let batch = app.batch(&gold, &segment, 3).await;

    // Nothing is sold before marketing and finance have both approved.
    let sale = json!({"order_number": "SALE-1", "batch_id": batch, "payment_channel": "alipay"});
    api.post("/v1/cards", sale.clone()).await.assert_error(StatusCode::CONFLICT, "card_batch_not_approved");
    let approve = format!("/v1/card-batches/{batch}/approve");
    api.post(&approve, json!({})).await.assert_error(StatusCode::FORBIDDEN, "card_batch_approver_not_authorised");
    // Operations does not hold cards:write; the super admin does, but approves for neither role.
    let operations = app.sign_in("zhao.lei").await;
    app.staff_post(&operations, &approve, json!({})).await.assert_error(StatusCode::FORBIDDEN, "scope_missing");
    let admin = app.sign_in("wu.gang").await;
    app.staff_post(&admin, &approve, json!({}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "card_batch_approver_not_authorised");
    let marketing = app.sign_in("mei.lin").await;
    let once = app.staff_post(&marketing, &approve, json!({})).await.assert_status(StatusCode::OK).clone();
    assert_eq!(once["status"], "pending");
    let other_marketing = app.sign_in("sun.li").await;
    app.staff_post(&other_marketing, &approve, json!({}))
        .await
        .assert_error(StatusCode::CONFLICT, "card_batch_already_approved_by_role");
    api.post("/v1/cards", sale.clone()).await.assert_error(StatusCode::CONFLICT, "card_batch_not_approved");
    let finance = app.sign_in("qian.yu").await;
    let approved = app.staff_post(&finance, &approve, json!({})).await.assert_status(StatusCode::OK).clone();
    assert_eq!(approved["status"], "approved");
    assert_eq!(approved["approvals"][0]["role"], "marketing");
    assert_eq!(approved["approvals"][1]["by"], "staff:qian.yu");

    // Sold: the face value in the card's own account, 4,500.00 from Alipay, 500.00 from marketing.
    let marketing_before = api.platform_balance("marketing_expense").await;
    let alipay_before = api.platform_balance("channel:alipay").await;
    let card = app.sell(&batch, "SALE-1").await;
    let number = card["number"].as_str().unwrap().to_owned();
    assert!(luhn_valid(&number) && number.starts_with("8601") && number.len() == 13, "{number}");
    assert_eq!(number, approved["first_number"]);
    assert_eq!((card["status"].as_str(), card["balance"].as_i64()), (Some("sold"), Some(500_000)));
    assert_eq!(api.balance(card["account_id"].as_str().unwrap()).await, 500_000);
    assert_eq!(api.platform_balance("marketing_expense").await - marketing_before, 50_000);
    assert_eq!(api.platform_balance("channel:alipay").await - alipay_before, 450_000);
    // The same sale answers the same card.
    assert_eq!(app.sell(&batch, "SALE-1").await["number"], number);

    // Nothing is paid before activation; activated, it is valid for 365 days.
    let (shop, shop_account) = api.active_member("13800000001").await;
    let card_path = format!("/v1/cards/{number}");
    api.post(&format!("{card_path}/payments"), pay_body("P-0", 1000, "coffee", &shop_account))
        .await
        .assert_error(StatusCode::CONFLICT, "card_not_active");
    let active = api.post(&format!("{card_path}/activate"), json!({})).await.assert_status(StatusCode::OK).clone();
    assert_eq!(active["status"], "active");
    assert!(active["valid_until"].as_str().unwrap() > active["valid_from"].as_str().unwrap());
    api.post(&format!("{card_path}/activate"), json!({})).await.assert_error(StatusCode::CONFLICT, "card_not_sold");

    let (buyer, _) = api.active_member("13800000002").await;
    let bound = api.post(&format!("{card_path}/bind"), json!({"member_id": buyer})).await;
    assert_eq!(bound.assert_status(StatusCode::OK)["member_id"], buyer.as_str());
    api.post(&format!("{card_path}/bind"), json!({"member_id": shop}))
        .await
        .assert_error(StatusCode::CONFLICT, "card_member_already_bound");

    // A recharge.
    let recharge = json!({"order_number": "R-1", "amount": 10000, "channel": "alipay"});
    let recharged =
        api.post(&format!("{card_path}/recharges"), recharge).await.assert_status(StatusCode::CREATED).clone();
    assert_eq!((recharged["kind"].as_str(), recharged["amount"].as_i64()), (Some("recharge"), Some(10_000)));
    api.post(&format!("{card_path}/recharges"), json!({"order_number": "R-2", "amount": 1, "channel": "nowhere"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "channel_not_configured");

    // Coffee at 70%: 12.35 pays 8.65 (8.645 rounded half up), the discount 3.70. Bakery at the default 90%.
    let coffee = api.post(&format!("{card_path}/payments"), pay_body("P-1", 1235, "coffee", &shop_account)).await;
    let coffee = coffee.assert_status(StatusCode::CREATED).clone();
    assert_eq!(
        (coffee["amount"].as_i64(), coffee["discount"].as_i64(), coffee["rate_bp"].as_i64()),
        (Some(865), Some(370), Some(7000))
    );
    let bakery = api.post(&format!("{card_path}/payments"), pay_body("P-2", 10000, "bakery", &shop_account)).await;
    assert_eq!(bakery.assert_status(StatusCode::CREATED)["amount"], 9000);
    assert_eq!(api.balance(&shop_account).await, 9865);
    let balance = |v: &Value| v["balance"].as_i64().unwrap();
    assert_eq!(balance(api.get(&card_path).await.assert_status(StatusCode::OK)), 500_000 + 10_000 - 865 - 9000);
    // More than it holds.
    api.post(&format!("{card_path}/payments"), pay_body("P-3", 10_000_000, "toys", &shop_account))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");

    // Refunds within the payment.
    let refund = |order: &str, amount: i64| json!({"order_number": order, "payment_number": "P-1", "amount": amount});
    api.post(&format!("{card_path}/refunds"), refund("F-1", 500)).await.assert_status(StatusCode::CREATED);
    api.post(&format!("{card_path}/refunds"), refund("F-2", 400))
        .await
        .assert_error(StatusCode::CONFLICT, "card_refund_exceeds_payment");
    api.post(&format!("{card_path}/refunds"), refund("F-3", 365)).await.assert_status(StatusCode::CREATED);
    api.post(&format!("{card_path}/refunds"), json!({"order_number": "F-4", "payment_number": "P-404", "amount": 1}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "card_transaction_not_found");
    assert_eq!(api.balance(&shop_account).await, 9000);

    // Frozen: nothing is paid or recharged with it; unfrozen, it pays again. (Reported lost, it is
    // never unfrozen but re-issued: `card_life`.)
    let lost = api.post(&format!("{card_path}/freeze"), json!({"reason": "冻结"})).await;
    assert_eq!(
        (lost.assert_status(StatusCode::OK)["status"].as_str(), lost.body["lost"].as_bool()),
        (Some("frozen"), Some(false))
    );
    api.post(&format!("{card_path}/payments"), pay_body("P-4", 100, "coffee", &shop_account))
        .await
        .assert_error(StatusCode::CONFLICT, "card_not_active");
    assert!(api.account(active["account_id"].as_str().unwrap()).await["debits_blocked"].as_bool().unwrap());
    api.post(&format!("{card_path}/unfreeze"), json!({"reason": "找到了"})).await.assert_status(StatusCode::OK);
    api.post(&format!("{card_path}/payments"), pay_body("P-4", 100, "coffee", &shop_account))
        .await
        .assert_status(StatusCode::CREATED);

    // Every use of the card is linked to it, newest first, a page at a time.
    let listed = api.get(&format!("{card_path}/transactions?limit=3")).await.assert_status(StatusCode::OK).clone();
    let kinds: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["payment", "refund", "refund"]);
    let cursor = listed["next_cursor"].as_str().unwrap();
    let rest =
        api.get(&format!("{card_path}/transactions?cursor={cursor}")).await.assert_status(StatusCode::OK).clone();
    let kinds: Vec<&str> = rest["data"].as_array().unwrap().iter().map(|t| t["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["payment", "payment", "payment", "recharge", "sale"]);
    let refused = &rest["data"][0];
    assert_eq!((refused["status"].as_str(), refused["refusal"].as_str()), (Some("failed"), Some("insufficient_funds")));
    assert_eq!(refused["transfer_ids"], json!([]), "the refused payment moved nothing");
    assert_eq!(rest["next_cursor"], Value::Null);
    let transfer = listed["data"][0]["transfer_ids"][0].as_str().unwrap();
    let transfer = api.get(&format!("/v1/ledger/transfers/{transfer}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(
        (transfer["reference"].as_str(), transfer["code"].as_str()),
        (Some(number.as_str()), Some("card_payment"))
    );
    api.get(&format!("{card_path}/transactions?limit=101"))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_list_limit_invalid");

    // Every change is in the audit log, the approvals under their staff members.
    let events =
        api.get("/v1/audit-events?route=/v1/card-batches/{id}/approve").await.assert_status(StatusCode::OK).clone();
    let actors: Vec<&str> = events["data"].as_array().unwrap().iter().map(|e| e["actor"].as_str().unwrap()).collect();
    assert!(actors.contains(&"staff:mei.lin") && actors.contains(&"staff:qian.yu"), "{actors:?}");
    api.verify_clean().await;
});

on_both_backends!(a_sold_card_keeps_the_terms_it_was_sold_with_when_its_type_changes, |db| {
    let app = app(db).await;
    let api = &app.api;
    let number = app.active_card().await;
    let card = api.get(&format!("/v1/cards/{number}")).await.assert_status(StatusCode::OK).clone();
    let gold = card["type_id"].as_str().unwrap().to_owned();
    let mut cheaper = gold_terms();
    cheaper["line_rates"] = json!([{"line": "coffee", "rate_bp": 5000}]);
    cheaper["rechargeable"] = json!(false);
    let changed =
        api.post(&format!("/v1/card-types/{gold}/terms"), cheaper).await.assert_status(StatusCode::OK).clone();
    assert_eq!(changed["version"], 2);
    assert_eq!(changed["terms"]["line_rates"][0]["rate_bp"], 5000);
    // The sold card still gives 70% on coffee and may still be recharged.
    let (_, shop) = api.active_member("13800000001").await;
    let paid = api.post(&format!("/v1/cards/{number}/payments"), pay_body("P-1", 10000, "coffee", &shop)).await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["amount"], 7000);
    api.post(
        &format!("/v1/cards/{number}/recharges"),
        json!({"order_number": "R-1", "amount": 100, "channel": "alipay"}),
    )
    .await
    .assert_status(StatusCode::CREATED);
    let card = api.get(&format!("/v1/cards/{number}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(card["type_version"], 1);
    // A batch made now carries version 2.
    let segment = app.segment("8602", 0, 99).await;
    let body = json!({"type_id": gold, "segment_id": segment, "channel": "store", "quantity": 5, "sale_price": 400000});
    let batch = api.post("/v1/card-batches", body).await.assert_status(StatusCode::CREATED).clone();
    assert_eq!((batch["type_version"].as_i64(), batch["terms"]["rechargeable"].as_bool()), (Some(2), Some(false)));
    assert_eq!(batch["terms"]["sale_price"], 400000);
    api.verify_clean().await;
});

on_both_backends!(a_cards_money_requests_move_money_once_by_order_number_or_key, |db| {
    let app = app(db).await;
    let api = &app.api;
    let number = app.active_card().await;
    let (_, shop) = api.active_member("13800000001").await;
    let path = format!("/v1/cards/{number}/payments");
    let body = json!({"amount": 1000, "receiver_account_id": shop});
    api.post(&path, body.clone()).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_order_number_required");
    let first = api.post_keyed(&path, "pay-key-1", body.clone()).await;
    let first = first.assert_status(StatusCode::CREATED).clone();
    assert!(first["order_number"].as_str().unwrap().starts_with("key-"));
    let again = api.post_keyed(&path, "pay-key-1", body.clone()).await;
    assert!(again.replayed());
    assert_eq!(again.body, first);
    // By order number: the same request answers the same payment; another under it is refused.
    let numbered = pay_body("P-1", 2000, "tea", &shop);
    let one = api.post(&path, numbered.clone()).await.assert_status(StatusCode::CREATED).clone();
    let two = api.post(&path, numbered).await.assert_status(StatusCode::CREATED).clone();
    assert_eq!(one["transfer_ids"], two["transfer_ids"]);
    api.post(&path, pay_body("P-1", 3000, "tea", &shop))
        .await
        .assert_error(StatusCode::CONFLICT, "order_number_reused");
    assert_eq!(api.balance(&shop).await, 900 + 1800);
    api.verify_clean().await;
});

/// A merchant (individual business) opened from a new active member; (merchant, member, its basic account).
pub(crate) async fn merchant(api: &TestApp, phone: &str, n: u32) -> (String, String, String) {
    let (member, basic) = api.active_member(phone).await;
    let body = json!({
        "member_id": member, "merchant_type": "individual_business", "name": format!("咖啡店{n}"),
        "scenario": {"kind": "offline_store", "address": "北京市海淀区某某路1号"},
        "contact": {"name": "李四", "phone": "13912345678"},
        "business": {"registered_name": format!("某某咖啡店{n}"), "credit_code": credit_code(n)}
    });
    let opened = api.post("/v1/merchants", body).await;
    (id(opened.assert_status(StatusCode::CREATED)), member, basic)
}

on_both_backends!(a_bound_merchant_client_reaches_its_own_merchants_cards_only, |db| {
    let app = app(db).await;
    let api = &app.api;
    let (cafe, cafe_member, cafe_account) = merchant(api, "13800000001", 1).await;
    let (bakery, bakery_member, bakery_account) = merchant(api, "13800000002", 2).await;
    let ours = bound_client(&api.db.store, &cafe_member, "cafe").await;
    let theirs = bound_client(&api.db.store, &bakery_member, "bakery").await;
    let type_body = |merchant: Option<&str>| {
        let mut body = json!({"name": "咖啡卡", "grade": 2, "terms": gold_terms()});
        if let Some(m) = merchant {
            body["merchant_id"] = json!(m);
        }
        body
    };
    api.send_as(&ours, "POST", "/v1/card-types", type_body(None))
        .await
        .assert_error(StatusCode::FORBIDDEN, "card_owner_required");
    api.send_as(&ours, "POST", "/v1/card-types", type_body(Some(&bakery)))
        .await
        .assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    let created = api.send_as(&ours, "POST", "/v1/card-types", type_body(Some(&cafe))).await;
    let cafe_type = id(created.assert_status(StatusCode::CREATED));
    let platform_type = app.gold_type().await;
    let segment = app.segment("8601", 0, 999).await;
    let batch_body = |t: &str| json!({"type_id": t, "segment_id": segment, "channel": "store", "quantity": 5});
    api.send_as(&ours, "POST", "/v1/card-batches", batch_body(&platform_type))
        .await
        .assert_error(StatusCode::NOT_FOUND, "card_type_not_found");
    let batch = id(api
        .send_as(&ours, "POST", "/v1/card-batches", batch_body(&cafe_type))
        .await
        .assert_status(StatusCode::CREATED));
    // A bound client is not a staff member: it cannot approve its own batch.
    api.send_as(&ours, "POST", &format!("/v1/card-batches/{batch}/approve"), json!({}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "client_bound");
    app.approve(&batch).await;
    let sold = api
        .send_as(
            &ours,
            "POST",
            "/v1/cards",
            json!({"order_number": "S-1", "batch_id": batch, "payment_channel": "alipay"}),
        )
        .await;
    let number = sold.assert_status(StatusCode::CREATED)["number"].as_str().unwrap().to_owned();
    api.send_as(&ours, "POST", &format!("/v1/cards/{number}/activate"), json!({})).await.assert_status(StatusCode::OK);

    // The other merchant's client sees none of it, as if absent.
    api.send_as(&theirs, "GET", &format!("/v1/card-types/{cafe_type}"), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "card_type_not_found");
    api.send_as(&theirs, "GET", &format!("/v1/card-batches/{batch}"), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "card_batch_not_found");
    api.send_as(&theirs, "GET", &format!("/v1/cards/{number}"), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "card_not_found");
    api.send_as(
        &theirs,
        "POST",
        &format!("/v1/cards/{number}/payments"),
        pay_body("X-1", 100, "coffee", &bakery_account),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "card_not_found");
    api.send_as(&theirs, "GET", &format!("/v1/card-types/{platform_type}"), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "card_type_not_found");
    let listed = api.send_as(&theirs, "GET", "/v1/card-types", Value::Null).await.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["data"], json!([]));
    let listed = api.send_as(&ours, "GET", "/v1/card-types", Value::Null).await.assert_status(StatusCode::OK).clone();
    let ids: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [cafe_type.as_str()]);
    let everything = api.get("/v1/card-types").await.assert_status(StatusCode::OK).clone();
    assert_eq!(everything["data"].as_array().unwrap().len(), 2);

    // Its card pays into its own member's accounts only.
    let path = format!("/v1/cards/{number}/payments");
    api.send_as(&ours, "POST", &path, pay_body("P-1", 100, "coffee", &bakery_account))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_receiver_outside_scope");
    api.send_as(&ours, "POST", &path, pay_body("P-2", 100, "coffee", &cafe_account))
        .await
        .assert_status(StatusCode::CREATED);
    api.verify_clean().await;
});

on_both_backends!(concurrent_batches_never_share_a_number_and_concurrent_sales_take_each_card_once, |db| {
    let app = app(db).await;
    let gold = app.gold_type().await;
    let segment = app.segment("8601", 0, 999).await;
    let mut tasks = Vec::new();
    for _ in 0..12 {
        let (router, client) = (app.api.router.clone(), app.api.client.clone());
        let body = json!({"type_id": gold, "segment_id": segment, "channel": "app", "quantity": 100});
        tasks.push(tokio::spawn(async move {
            send_to(&router, signed(&client, "POST", "/v1/card-batches", body.to_string().as_bytes(), &[])).await
        }));
    }
    let mut ranges = Vec::new();
    let mut full = 0;
    for task in tasks {
        let answer = task.await.unwrap();
        if answer.status == StatusCode::CREATED {
            ranges.push((
                answer.body["first_number"].as_str().unwrap()[4..12].parse::<i64>().unwrap(),
                answer.body["id"].as_str().unwrap().to_owned(),
            ));
        } else {
            answer.assert_error(StatusCode::CONFLICT, "card_segment_full");
            full += 1;
        }
    }
    assert_eq!((ranges.len(), full), (10, 2));
    ranges.sort();
    let firsts: Vec<i64> = ranges.iter().map(|(first, _)| *first).collect();
    assert_eq!(firsts, (0..10).map(|n| n * 100).collect::<Vec<_>>());

    let small = app.batch(&gold, &app.segment("8602", 0, 99).await, 4).await;
    app.approve(&small).await;
    let mut sales = Vec::new();
    for n in 0..7 {
        let (router, client) = (app.api.router.clone(), app.api.client.clone());
        let body = json!({"order_number": format!("S-{n}"), "batch_id": small, "payment_channel": "alipay"});
        sales.push(tokio::spawn(async move {
            send_to(&router, signed(&client, "POST", "/v1/cards", body.to_string().as_bytes(), &[])).await
        }));
    }
    let mut numbers = std::collections::BTreeSet::new();
    let mut sold_out = 0;
    for sale in sales {
        let answer = sale.await.unwrap();
        if answer.status == StatusCode::CREATED {
            assert!(numbers.insert(answer.body["number"].as_str().unwrap().to_owned()));
        } else {
            answer.assert_error(StatusCode::CONFLICT, "card_batch_sold_out");
            sold_out += 1;
        }
    }
    assert_eq!((numbers.len(), sold_out), (4, 3));
    let batch = app.api.get(&format!("/v1/card-batches/{small}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(batch["sold"], 4);
    app.api.verify_clean().await;
});

on_both_backends!(concurrent_requests_on_one_card_are_taken_in_turn_and_each_answered_truly, |db| {
    let app = app(db).await;
    let api = &app.api;
    let number = app.active_card().await;
    let (_, shop) = api.active_member("13800000001").await;
    let path = format!("/v1/cards/{number}/payments");
    // 30 payments of 200.00 at 90% (180.00 each) at once from a card holding 5,000.00: 27 paid, 3
    // refused, none answered anything else (never `concurrent_change`).
    let answers = futures_util::future::join_all(
        (0..30).map(|n| api.post(&path, pay_body(&format!("HOT-{n}"), 20_000, "bakery", &shop))),
    )
    .await;
    let (mut paid, mut refused) = (Vec::new(), 0);
    for (n, answer) in answers.iter().enumerate() {
        match (answer.status, answer.code()) {
            (StatusCode::CREATED, _) => paid.push(answer.body["amount"].as_i64().unwrap()),
            (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds") => refused += 1,
            _ => panic!("payment HOT-{n} was answered {} {}", answer.status, answer.body),
        }
    }
    assert_eq!((paid.len(), refused), (27, 3));
    let sum: i64 = paid.iter().sum();
    assert!(sum <= 500_000);
    assert_eq!(api.balance(&shop).await, sum, "what was answered paid, and nothing else, was paid");
    let card = api.get(&format!("/v1/cards/{number}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(card["balance"].as_i64().unwrap(), 500_000 - sum);
    // Each answer is final: asked again, each is answered the same.
    for (n, answer) in answers.iter().enumerate() {
        let again = api.post(&path, pay_body(&format!("HOT-{n}"), 20_000, "bakery", &shop)).await;
        assert_eq!((again.status, again.code()), (answer.status, answer.code()), "HOT-{n}");
    }
    // Binds at once: one member bound, every other answered `card_member_already_bound`.
    let mut members = Vec::new();
    for n in 0..6 {
        members.push(api.active_member(&format!("1380000010{n}")).await.0);
    }
    let bind = format!("/v1/cards/{number}/bind");
    let answers =
        futures_util::future::join_all(members.iter().map(|m| api.post(&bind, json!({"member_id": m})))).await;
    let bound = answers.iter().filter(|a| a.status == StatusCode::OK).count();
    for answer in &answers {
        if answer.status != StatusCode::OK {
            answer.assert_error(StatusCode::CONFLICT, "card_member_already_bound");
        }
    }
    assert_eq!(bound, 1);
    api.verify_clean().await;
});

/// The card's stored record with its ledger blocks said pending since two minutes ago and `status`:
/// what a crash between a freeze's or an unfreeze's writes leaves.
async fn leave_blocks_pending(api: &TestApp, number: &str, status: &str, blocked: bool) {
    use sanhu_store::card::{CardStore, StoredCard};
    let stored = api.db.store.card(number).await.unwrap().unwrap();
    let since = sanhu_core::Timestamp::from_nanos(sanhu_service::clock::now().nanos() - 120_000_000_000);
    let half_done = StoredCard {
        status: status.to_owned(),
        version: stored.version + 1,
        blocks_pending_since: Some(since),
        ..stored.clone()
    };
    assert!(api.db.store.update_card(&half_done, stored.version).await.unwrap());
    let account = sanhu_core::AccountId::parse(&stored.account_id).unwrap();
    api.state.ledger().set_account_blocks(account, Some(blocked), None).await.unwrap();
}

on_both_backends!(a_card_left_active_with_its_account_blocked_by_a_crash_is_repaired_once, |db| {
    let app = app(db).await;
    let api = &app.api;
    let number = app.active_card().await;
    let (_, shop) = api.active_member("13800000001").await;
    let card_path = format!("/v1/cards/{number}");
    let account = api.get(&card_path).await.assert_status(StatusCode::OK)["account_id"].as_str().unwrap().to_owned();
    let cards = api.state.cards();
    let repair = || sanhu_service::jobs::repair_card_blocks_pass(&cards, sanhu_service::clock::now());
    assert_eq!(repair().await.unwrap(), 0, "nothing pending");

    // A freeze and an unfreeze that finish leave nothing pending.
    api.post(&format!("{card_path}/freeze"), json!({"reason": "冻结"})).await.assert_status(StatusCode::OK);
    assert!(api.account(&account).await["debits_blocked"].as_bool().unwrap());
    api.post(&format!("{card_path}/unfreeze"), json!({"reason": "找到了"})).await.assert_status(StatusCode::OK);
    assert!(!api.account(&account).await["debits_blocked"].as_bool().unwrap());
    assert_eq!(repair().await.unwrap(), 0);

    // An unfreeze that crashed after the card became active, before the ledger unblocked its account:
    // the card is active but nothing is paid with it.
    leave_blocks_pending(api, &number, "active", true).await;
    let refused = api.post(&format!("{card_path}/payments"), pay_body("P-1", 100, "coffee", &shop)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.body);
    // Too recent for the job (another instance may be in the middle of it): left alone.
    let early = sanhu_core::Timestamp::from_nanos(sanhu_service::clock::now().nanos() - 180_000_000_000);
    assert_eq!(cards.repair_card_blocks(early, 10).await.unwrap(), 0);
    // Repaired once: unblocked, no longer pending; the next pass finds nothing.
    assert_eq!(repair().await.unwrap(), 1);
    assert!(!api.account(&account).await["debits_blocked"].as_bool().unwrap());
    assert_eq!(repair().await.unwrap(), 0);
    api.post(&format!("{card_path}/payments"), pay_body("P-2", 100, "coffee", &shop))
        .await
        .assert_status(StatusCode::CREATED);

    // A freeze that crashed after its card was frozen would be blocked; one frozen and left pending is
    // blocked by the repair, to agree with its status.
    leave_blocks_pending(api, &number, "frozen", false).await;
    assert_eq!(repair().await.unwrap(), 1);
    assert!(api.account(&account).await["debits_blocked"].as_bool().unwrap());
    assert_eq!(api.get(&card_path).await.assert_status(StatusCode::OK)["status"], "frozen");
    api.post(&format!("{card_path}/unfreeze"), json!({"reason": "找到了"})).await.assert_status(StatusCode::OK);
    api.post(&format!("{card_path}/payments"), pay_body("P-3", 100, "coffee", &shop))
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(repair().await.unwrap(), 0);
    api.verify_clean().await;
});

on_both_backends!(a_bound_clients_lists_hold_its_own_merchants_types_and_batches_only, |db| {
    let app = app(db).await;
    let api = &app.api;
    let (cafe, cafe_member, _) = merchant(api, "13800000001", 1).await;
    let (bakery, bakery_member, _) = merchant(api, "13800000002", 2).await;
    let ours = bound_client(&api.db.store, &cafe_member, "cafe").await;
    let theirs = bound_client(&api.db.store, &bakery_member, "bakery").await;
    let segment = app.segment("8601", 0, 999).await;
    let mut made = std::collections::BTreeMap::new();
    for (client, merchant) in [(&ours, &cafe), (&theirs, &bakery), (&ours, &cafe), (&theirs, &bakery)] {
        let body = json!({"name": "咖啡卡", "grade": 2, "terms": gold_terms(), "merchant_id": merchant});
        let card_type =
            id(api.send_as(client, "POST", "/v1/card-types", body).await.assert_status(StatusCode::CREATED));
        let body = json!({"type_id": card_type, "segment_id": segment, "channel": "store", "quantity": 5});
        let batch = id(api.send_as(client, "POST", "/v1/card-batches", body).await.assert_status(StatusCode::CREATED));
        made.entry(merchant.clone()).or_insert_with(Vec::new).push((card_type, batch));
    }
    app.gold_type().await;
    let listed = |client, path: &'static str| async move {
        let answer = api.send_as(client, "GET", path, Value::Null).await.assert_status(StatusCode::OK).clone();
        answer["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>()
    };
    for (client, merchant) in [(&ours, &cafe), (&theirs, &bakery)] {
        let mut types: Vec<String> = made[merchant].iter().map(|(t, _)| t.clone()).collect();
        let mut batches: Vec<String> = made[merchant].iter().map(|(_, b)| b.clone()).collect();
        types.sort();
        batches.sort();
        assert_eq!(listed(client, "/v1/card-types").await, types);
        assert_eq!(listed(client, "/v1/card-batches").await, batches);
        // A page at a time, its own still.
        let first = api
            .send_as(client, "GET", "/v1/card-types?limit=1", Value::Null)
            .await
            .assert_status(StatusCode::OK)
            .clone();
        assert_eq!(first["data"][0]["id"].as_str().unwrap(), types[0]);
    }
    // Another tenant's ids are absent.
    let (their_type, their_batch) = made[&bakery][0].clone();
    api.send_as(&ours, "GET", &format!("/v1/card-types/{their_type}"), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "card_type_not_found");
    api.send_as(&ours, "GET", &format!("/v1/card-batches/{their_batch}"), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "card_batch_not_found");
    // The platform lists everything.
    assert_eq!(api.get("/v1/card-types").await.assert_status(StatusCode::OK)["data"].as_array().unwrap().len(), 5);
});
