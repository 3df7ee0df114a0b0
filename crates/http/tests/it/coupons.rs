//! Coupons and the checkout quote over HTTP, on SQLite and on PostgreSQL: templates, coupons issued
//! (one or many, a result each) into the member's coupon wallet, a quote in each stacking order
//! checked to the cent, a card payment with the quote redeeming its coupon once (a second payment
//! refused, a refused payment leaving it unused, a full refund giving it back where the template says);
//! concurrent issues never passing a template's quantity or per-member limit, concurrent payments with
//! one coupon succeeding once; and another merchant's bound client reaching none of it.

use axum::http::StatusCode;
use sanhu_testkit::app::{bound_client, send_to, signed, TestApp};
use sanhu_testkit::on_both_backends;
use serde_json::{json, Value};

use crate::cards::{app, id, merchant, App};

/// A template of `kind` fields over a fixed 10.00 off by default, 100 coupons, one per member.
fn template(stacking: &str, returned: bool, extra: Value) -> Value {
    let mut body = json!({"name": "立减10元", "kind": "fixed_amount", "amount": 1000,
                          "validity": {"days_from_issue": 30}, "quantity": 100, "per_member": 1,
                          "returned_on_refund": returned, "stacking": stacking});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    body
}

async fn create_template(api: &TestApp, body: Value) -> String {
    id(api.post("/v1/coupon-templates", body).await.assert_status(StatusCode::CREATED))
}

/// Issues one coupon of `template` to `member`: its id.
async fn issue(api: &TestApp, template: &str, member: &str) -> String {
    let answer = api.post(&format!("/v1/coupon-templates/{template}/coupons"), json!({"member_ids": [member]})).await;
    let body = answer.assert_status(StatusCode::OK).clone();
    assert_eq!(body["issued"], 1, "{body}");
    body["rows"][0]["coupon"]["id"].as_str().unwrap().to_owned()
}

async fn coupon_status(api: &TestApp, member: &str, coupon: &str) -> String {
    let wallet = api.get(&format!("/v1/members/{member}/coupons")).await.assert_status(StatusCode::OK).clone();
    let found = wallet["data"].as_array().unwrap().iter().find(|c| c["id"] == coupon).cloned();
    found.unwrap_or_else(|| panic!("{coupon} not in {wallet}"))["status"].as_str().unwrap().to_owned()
}

/// Cards of one new approved gold batch (90% by default, 70% for coffee), sold, activated and bound
/// to `member`.
async fn cards_of(app: &App, member: &str, count: usize) -> Vec<String> {
    let gold = app.gold_type().await;
    let segment = app.segment("8601", 0, 999).await;
    let batch = app.batch(&gold, &segment, 10).await;
    app.approve(&batch).await;
    let mut numbers = Vec::new();
    for n in 0..count {
        let number = app.sell(&batch, &format!("SALE-{n}")).await["number"].as_str().unwrap().to_owned();
        app.api.post(&format!("/v1/cards/{number}/activate"), json!({})).await.assert_status(StatusCode::OK);
        let bound = app.api.post(&format!("/v1/cards/{number}/bind"), json!({"member_id": member})).await;
        bound.assert_status(StatusCode::OK);
        numbers.push(number);
    }
    numbers
}

fn quote_body(member: &str, card: &str, lines: Value, coupons: &[&str]) -> Value {
    json!({"member_id": member, "card_number": card, "lines": lines, "coupon_ids": coupons})
}

fn quoted_pay(order: &str, quote: &str, receiver: &str) -> Value {
    json!({"order_number": order, "quote_id": quote, "receiver_account_id": receiver})
}

on_both_backends!(a_quoted_payment_with_a_discount_and_a_coupon_in_both_stacking_orders, |db| {
    let app = app(db).await;
    let api = &app.api;
    let (_, shop_account) = api.active_member("13800000001").await;
    let (buyer, _) = api.active_member("13800000002").await;
    let card = cards_of(&app, &buyer, 1).await.remove(0);

    // Bad templates are told as such.
    api.post("/v1/coupon-templates", template("coupon_then_discount", true, json!({"off_bp": 500})))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "coupon_kind_invalid");
    api.post("/v1/coupon-templates", template("coupon_then_discount", true, json!({"quantity": 0})))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "coupon_quantity_invalid");

    let first = create_template(api, template("coupon_then_discount", true, json!({}))).await;
    let second = create_template(api, template("discount_then_coupon", false, json!({}))).await;
    let coupon_a = issue(api, &first, &buyer).await;
    let coupon_b = issue(api, &second, &buyer).await;
    // One per member: a second is refused on its row; 1 to 500 members a request.
    let again = api.post(&format!("/v1/coupon-templates/{first}/coupons"), json!({"member_ids": [buyer]})).await;
    let again = again.assert_status(StatusCode::OK).clone();
    assert_eq!((again["issued"].clone(), again["refused"].clone()), (json!(0), json!(1)));
    assert_eq!(again["rows"][0]["error"]["code"], "coupon_member_limit_reached");
    api.post(&format!("/v1/coupon-templates/{first}/coupons"), json!({"member_ids": []}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "coupon_issue_members_invalid");
    assert_eq!(coupon_status(api, &buyer, &coupon_a).await, "unused");

    // 100.00 of coffee (70%) and 35.00 of cake (90%), 10.00 off.
    let lines = json!([{"amount": 10000, "category": "coffee"}, {"amount": 3500, "category": "cake"}]);
    // Coupon then discount: 10.00 shared 7.41 / 2.59 (7.407 and 2.592 rounded down, the cent left to the
    // first line); 92.59 x 70% = 64.813 -> 64.81, 32.41 x 90% = 29.169 -> 29.17; 93.98 to pay.
    let quoted = api.post("/v1/checkout/quote", quote_body(&buyer, &card, lines.clone(), &[&coupon_a])).await;
    let quote_a = quoted.assert_status(StatusCode::CREATED).clone();
    assert_eq!(quote_a["stacking"], "coupon_then_discount");
    assert_eq!(
        (
            &quote_a["order_amount"],
            &quote_a["member_price"],
            &quote_a["coupon_deduction"],
            &quote_a["discount"],
            &quote_a["to_pay"]
        ),
        (&json!(13500), &json!(10150), &json!(1000), &json!(3102), &json!(9398))
    );
    assert_eq!(quote_a["lines"][0]["coupon_deduction"], 741);
    assert_eq!(quote_a["lines"][0]["to_pay"], 6481);
    assert_eq!(quote_a["lines"][1]["to_pay"], 2917);
    assert_eq!(quote_a["steps"][0]["kind"], "coupon");
    assert_eq!(quote_a["steps"][0]["remaining"], 12500);
    assert_eq!(quote_a["steps"][1]["kind"], "card_discount");
    assert_eq!(quote_a["steps"][1]["remaining"], 9398);
    // Discount then coupon: 70.00 + 31.50 = 101.50, less 10.00: 91.50 to pay.
    let quoted = api.post("/v1/checkout/quote", quote_body(&buyer, &card, lines.clone(), &[&coupon_b])).await;
    let quote_b = quoted.assert_status(StatusCode::CREATED).clone();
    assert_eq!(
        (&quote_b["discount"], &quote_b["coupon_deduction"], &quote_b["to_pay"]),
        (&json!(3350), &json!(1000), &json!(9150))
    );
    assert_eq!(quote_b["steps"][0]["kind"], "card_discount");
    assert_eq!(quote_b["steps"][0]["remaining"], 10150);
    // Two coupons whose templates stack in different orders do not go together.
    api.post("/v1/checkout/quote", quote_body(&buyer, &card, lines.clone(), &[&coupon_a, &coupon_b]))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "coupon_stacking_conflict");

    // The card pays the quote's amount; the coupon is redeemed with it.
    let path = format!("/v1/cards/{card}/payments");
    let paid = api.post(&path, quoted_pay("P-A", quote_a["id"].as_str().unwrap(), &shop_account)).await;
    let paid = paid.assert_status(StatusCode::CREATED).clone();
    assert_eq!(
        (&paid["amount"], &paid["order_amount"], &paid["discount"]),
        (&json!(9398), &json!(13500), &json!(3102))
    );
    assert_eq!((&paid["coupon_deduction"], &paid["coupon_ids"]), (&json!(1000), &json!([coupon_a])));
    assert_eq!(coupon_status(api, &buyer, &coupon_a).await, "redeemed");
    // The same request again answers the same payment; the quote pays nothing else.
    let replay = api.post(&path, quoted_pay("P-A", quote_a["id"].as_str().unwrap(), &shop_account)).await;
    assert_eq!(replay.assert_status(StatusCode::CREATED)["amount"], 9398);
    api.post(&path, quoted_pay("P-A2", quote_a["id"].as_str().unwrap(), &shop_account))
        .await
        .assert_error(StatusCode::CONFLICT, "checkout_quote_used");
    api.post("/v1/checkout/quote", quote_body(&buyer, &card, lines.clone(), &[&coupon_a]))
        .await
        .assert_error(StatusCode::CONFLICT, "coupon_used");
    // A quote pays its own order: no other amount, no business line.
    let mut mismatched = quoted_pay("P-B0", quote_b["id"].as_str().unwrap(), &shop_account);
    mismatched["amount"] = json!(100);
    api.post(&path, mismatched).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "checkout_quote_mismatch");
    let paid = api.post(&path, quoted_pay("P-B", quote_b["id"].as_str().unwrap(), &shop_account)).await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["amount"], 9150);
    assert_eq!(
        api.get(&format!("/v1/cards/{card}")).await.assert_status(StatusCode::OK)["balance"],
        500000 - 9398 - 9150
    );

    // Refunded in full, the first payment gives its coupon back (its template says so); the second's
    // template does not.
    let refunds = format!("/v1/cards/{card}/refunds");
    let refund = json!({"order_number": "R-A1", "payment_number": "P-A", "amount": 9000});
    api.post(&refunds, refund).await.assert_status(StatusCode::CREATED);
    assert_eq!(coupon_status(api, &buyer, &coupon_a).await, "redeemed", "a partial refund keeps it");
    let refund = json!({"order_number": "R-A2", "payment_number": "P-A", "amount": 398});
    api.post(&refunds, refund).await.assert_status(StatusCode::CREATED);
    assert_eq!(coupon_status(api, &buyer, &coupon_a).await, "unused");
    let refund = json!({"order_number": "R-B", "payment_number": "P-B", "amount": 9150});
    api.post(&refunds, refund).await.assert_status(StatusCode::CREATED);
    assert_eq!(coupon_status(api, &buyer, &coupon_b).await, "redeemed");
    // The coupon given back is used again.
    let quoted = api.post("/v1/checkout/quote", quote_body(&buyer, &card, lines, &[&coupon_a])).await;
    assert_eq!(quoted.assert_status(StatusCode::CREATED)["to_pay"], 9398);
    api.verify_clean().await;
});

on_both_backends!(a_refused_payment_leaves_its_coupon_unused_and_of_two_payments_with_one_coupon_one_succeeds, |db| {
    let app = app(db).await;
    let api = &app.api;
    let (_, shop_account) = api.active_member("13800000001").await;
    let (buyer, _) = api.active_member("13800000002").await;
    let cards = cards_of(&app, &buyer, 2).await;
    let threshold = json!({"kind": "threshold", "threshold": 8000, "amount": 2000, "name": "满80减20"});
    let template = create_template(api, template("coupon_then_discount", false, threshold)).await;
    let coupon = issue(api, &template, &buyer).await;

    // More than the card holds (10,000.00 at 70% is 7,000.00 > 5,000.00): refused, the coupon unused.
    let big = json!([{"amount": 1_000_000, "category": "coffee"}]);
    let quoted = api.post("/v1/checkout/quote", quote_body(&buyer, &cards[0], big, &[&coupon])).await;
    let quote = quoted.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    api.post(&format!("/v1/cards/{}/payments", cards[0]), quoted_pay("BIG", &quote, &shop_account))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");
    assert_eq!(coupon_status(api, &buyer, &coupon).await, "unused");

    // Below the threshold, the coupon does not apply.
    let small = json!([{"amount": 7999, "category": "coffee"}]);
    api.post("/v1/checkout/quote", quote_body(&buyer, &cards[0], small, &[&coupon]))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "coupon_threshold_not_met");

    // Two quotes with the one coupon, one per card, paid at once: exactly one succeeds.
    let lines = json!([{"amount": 10000, "category": "coffee"}]);
    let mut payments = Vec::new();
    for (n, card) in cards.iter().enumerate() {
        let quoted = api.post("/v1/checkout/quote", quote_body(&buyer, card, lines.clone(), &[&coupon])).await;
        let quote = quoted.assert_status(StatusCode::CREATED).clone();
        assert_eq!(quote["to_pay"], 5600, "(100.00 - 20.00) x 70%");
        let body = quoted_pay(&format!("P-{n}"), quote["id"].as_str().unwrap(), &shop_account);
        payments.push((format!("/v1/cards/{card}/payments"), body));
    }
    let mut tasks = Vec::new();
    for (path, body) in payments {
        let (router, client) = (api.router.clone(), api.client.clone());
        tasks.push(tokio::spawn(async move {
            send_to(&router, signed(&client, "POST", &path, body.to_string().as_bytes(), &[])).await
        }));
    }
    let mut paid = 0;
    for task in tasks {
        let answer = task.await.unwrap();
        if answer.status == StatusCode::CREATED {
            paid += 1;
        } else {
            answer.assert_error(StatusCode::CONFLICT, "coupon_used");
        }
    }
    assert_eq!(paid, 1);
    assert_eq!(coupon_status(api, &buyer, &coupon).await, "redeemed");
    let balances: i64 = {
        let mut sum = 0;
        for card in &cards {
            sum +=
                api.get(&format!("/v1/cards/{card}")).await.assert_status(StatusCode::OK)["balance"].as_i64().unwrap();
        }
        sum
    };
    assert_eq!(balances, 2 * 500000 - 5600);
    api.verify_clean().await;
});

on_both_backends!(concurrent_issues_never_pass_a_templates_quantity_or_its_per_member_limit, |db| {
    let app = app(db).await;
    let api = &app.api;
    let mut members = Vec::new();
    for n in 0..4 {
        members.push(api.active_member(&format!("1380000001{n}")).await.0);
    }
    let scarce =
        create_template(api, template("coupon_then_discount", false, json!({"quantity": 5, "per_member": 2}))).await;
    let single = create_template(api, template("coupon_then_discount", false, json!({"per_member": 1}))).await;
    let mut tasks = Vec::new();
    for n in 0..16 {
        // Twelve requests for the scarce template across four members, four for the single one to one member.
        let (template, member) =
            if n < 12 { (scarce.clone(), members[n % 4].clone()) } else { (single.clone(), members[0].clone()) };
        let (router, client) = (api.router.clone(), api.client.clone());
        let path = format!("/v1/coupon-templates/{template}/coupons");
        let body = json!({"member_ids": [member]});
        tasks.push(tokio::spawn(async move {
            send_to(&router, signed(&client, "POST", &path, body.to_string().as_bytes(), &[])).await
        }));
    }
    let mut issued = [0, 0];
    for (n, task) in tasks.into_iter().enumerate() {
        let answer = task.await.unwrap();
        let body = answer.assert_status(StatusCode::OK).clone();
        if body["issued"] == 1 {
            issued[usize::from(n >= 12)] += 1;
        } else {
            let code = body["rows"][0]["error"]["code"].as_str().unwrap().to_owned();
            assert!(["coupon_template_sold_out", "coupon_member_limit_reached"].contains(&code.as_str()), "{body}");
        }
    }
    assert_eq!(issued, [5, 1]);
    let read = api.get(&format!("/v1/coupon-templates/{scarce}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(read["issued"], 5);
    for member in &members {
        let wallet = api.get(&format!("/v1/members/{member}/coupons")).await.assert_status(StatusCode::OK).clone();
        let held = wallet["data"].as_array().unwrap().iter().filter(|c| c["template_id"] == scarce.as_str()).count();
        assert!(held <= 2, "{wallet}");
    }
    let sold_out =
        api.post(&format!("/v1/coupon-templates/{scarce}/coupons"), json!({"member_ids": [members[3]]})).await;
    assert_eq!(sold_out.assert_status(StatusCode::OK)["rows"][0]["error"]["code"], "coupon_template_sold_out");
});

on_both_backends!(another_merchants_bound_client_reaches_none_of_a_merchants_coupons, |db| {
    let app = app(db).await;
    let api = &app.api;
    let (cafe, cafe_member, _) = merchant(api, "13800000001", 1).await;
    let (_bakery, bakery_member, bakery_account) = merchant(api, "13800000002", 2).await;
    let ours = bound_client(&api.db.store, &cafe_member, "cafe").await;
    let theirs = bound_client(&api.db.store, &bakery_member, "bakery").await;
    let mut body = template("coupon_then_discount", true, json!({}));
    api.send_as(&ours, "POST", "/v1/coupon-templates", body.clone())
        .await
        .assert_error(StatusCode::FORBIDDEN, "card_owner_required");
    body["merchant_id"] = json!(cafe);
    let created = api.send_as(&ours, "POST", "/v1/coupon-templates", body).await;
    let ours_template = id(created.assert_status(StatusCode::CREATED));
    let issued = api
        .send_as(
            &ours,
            "POST",
            &format!("/v1/coupon-templates/{ours_template}/coupons"),
            json!({"member_ids": [cafe_member]}),
        )
        .await;
    let coupon = issued.assert_status(StatusCode::OK)["rows"][0]["coupon"]["id"].as_str().unwrap().to_owned();
    let cards = cards_of(&app, &cafe_member, 1).await;

    // The other merchant's client: each new endpoint with the first's ids, as if absent.
    api.send_as(&theirs, "GET", &format!("/v1/coupon-templates/{ours_template}"), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "coupon_template_not_found");
    api.send_as(
        &theirs,
        "POST",
        &format!("/v1/coupon-templates/{ours_template}/coupons"),
        json!({"member_ids": [bakery_member]}),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "coupon_template_not_found");
    let listed = api.send_as(&theirs, "GET", "/v1/coupon-templates", Value::Null).await;
    assert_eq!(listed.assert_status(StatusCode::OK)["data"], json!([]));
    api.send_as(&theirs, "GET", &format!("/v1/members/{cafe_member}/coupons"), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    let lines = json!([{"amount": 1000, "category": "coffee"}]);
    api.send_as(
        &theirs,
        "POST",
        "/v1/checkout/quote",
        json!({"member_id": cafe_member, "lines": lines, "coupon_ids": [coupon]}),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "coupon_not_found");
    api.send_as(&theirs, "POST", "/v1/checkout/quote", quote_body(&cafe_member, &cards[0], lines.clone(), &[]))
        .await
        .assert_error(StatusCode::NOT_FOUND, "card_not_found");
    api.send_as(&theirs, "POST", "/v1/checkout/quote", json!({"member_id": cafe_member, "lines": lines}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    // Ours sees its own; a quote made by the platform for the card is paid only through the card,
    // which the other client does not reach either.
    let listed = api.send_as(&ours, "GET", "/v1/coupon-templates", Value::Null).await;
    assert_eq!(listed.assert_status(StatusCode::OK)["data"].as_array().unwrap().len(), 1);
    let quote = api.post("/v1/checkout/quote", quote_body(&cafe_member, &cards[0], lines, &[])).await;
    let quote = quote.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    api.send_as(
        &theirs,
        "POST",
        &format!("/v1/cards/{}/payments", cards[0]),
        quoted_pay("X-1", &quote, &bakery_account),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "card_not_found");
    // A quote whose lines are the cafe's is paid to the cafe only: not into the bakery's account.
    let cafe_lines = json!([{"amount": 1000, "category": "coffee", "merchant_id": cafe}]);
    let quote = api.post("/v1/checkout/quote", quote_body(&cafe_member, &cards[0], cafe_lines, &[])).await;
    let quote = quote.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned();
    api.post(&format!("/v1/cards/{}/payments", cards[0]), quoted_pay("X-2", &quote, &bakery_account))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "checkout_quote_mismatch");
});
