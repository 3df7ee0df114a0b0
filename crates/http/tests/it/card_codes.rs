//! Redemption codes (兑换码) over HTTP, on SQLite and on PostgreSQL: generated for an approved batch
//! (their text in that answer only, each holding a card a sale does not take), redeemed once by a
//! member for an active card bound to it (the same member again answered its card, anyone else
//! `card_code_used`, a late one `card_code_expired`), exactly once under concurrent redemptions,
//! limited against guessing per caller and per member, bound in bulk by staff from a CSV with a result
//! per row, and another tenant's codes and batches answering as if absent. Also: concurrent sales of
//! one batch decided in turn, and a card refund refused while its receiver may not pay.

use axum::http::StatusCode;
use axum::Router;
use sanhu_core::card::redemption::{RedemptionCode, CODE_ENTROPY_BYTES};
use sanhu_http::HttpConfig;
use sanhu_service::wallet::WalletConfig;
use sanhu_testkit::app::{bound_client, create_client, send_to, signed, TestApp};
use sanhu_testkit::on_both_backends;
use serde_json::{json, Value};

use crate::cards::{app, id, merchant, pay_body, App};

/// An RFC 3339 time `seconds` from now.
fn in_seconds(seconds: i64) -> String {
    let now = sanhu_service::clock::now();
    sanhu_core::Timestamp::from_nanos(now.nanos() + seconds * 1_000_000_000).to_string()
}

/// A well-formed code sanhu never generated (its check symbols right).
fn made_up_code(seed: u8) -> String {
    RedemptionCode::from_entropy([seed; CODE_ENTROPY_BYTES]).printed()
}

/// An approved batch of `quantity` gold cards (from a new segment under `prefix`).
async fn approved_batch(app: &App, prefix: &str, quantity: i64) -> String {
    let gold = app.gold_type().await;
    let segment = app.segment(prefix, 0, 999).await;
    let batch = app.batch(&gold, &segment, quantity).await;
    app.approve(&batch).await;
    batch
}

async fn generate(api: &TestApp, batch: &str, quantity: i64) -> Vec<String> {
    let body = json!({"quantity": quantity, "expires_at": in_seconds(86_400), "payment_channel": "alipay"});
    let answer = api.post(&format!("/v1/card-batches/{batch}/codes"), body).await;
    let codes = answer.assert_status(StatusCode::CREATED)["codes"].as_array().unwrap().clone();
    codes.iter().map(|c| c["code"].as_str().unwrap().to_owned()).collect()
}

fn redeem_body(code: &str, member: &str) -> Value {
    json!({"code": code, "member_id": member})
}

/// A second server over the same ledger and parties, its wallet configured otherwise.
fn server_with(app: &App, shape: impl FnOnce(&mut WalletConfig)) -> Router {
    let mut config = app.api.state.wallets().config().clone();
    shape(&mut config);
    let state = sanhu_http::AppState::new(
        app.api.state.ledger().clone(),
        app.api.state.parties().clone(),
        HttpConfig::default(),
    )
    .with_wallet(config);
    sanhu_http::router(state)
}

async fn post_to(router: &Router, app: &App, path: &str, body: Value) -> sanhu_testkit::app::TestResponse {
    send_to(router, signed(&app.api.client, "POST", path, body.to_string().as_bytes(), &[])).await
}

on_both_backends!(a_code_is_shown_once_redeemed_once_for_its_card_and_refused_after, |db| {
    let app = app(db).await;
    let api = &app.api;
    let gold = app.gold_type().await;
    let segment = app.segment("8601", 0, 999).await;
    let batch = app.batch(&gold, &segment, 5).await;
    let generate_path = format!("/v1/card-batches/{batch}/codes");
    let body = json!({"quantity": 3, "expires_at": in_seconds(86_400), "payment_channel": "alipay"});
    api.post(&generate_path, body.clone()).await.assert_error(StatusCode::CONFLICT, "card_batch_not_approved");
    app.approve(&batch).await;
    // Bad requests change nothing.
    for (bad, code) in [
        (
            json!({"quantity": 0, "expires_at": in_seconds(60), "payment_channel": "alipay"}),
            "card_code_quantity_invalid",
        ),
        (
            json!({"quantity": 1001, "expires_at": in_seconds(60), "payment_channel": "alipay"}),
            "card_code_quantity_invalid",
        ),
        (
            json!({"quantity": 1, "expires_at": in_seconds(-60), "payment_channel": "alipay"}),
            "card_code_expiry_invalid",
        ),
        (json!({"quantity": 1, "expires_at": in_seconds(60)}), "channel_not_configured"),
    ] {
        let answer = api.post(&generate_path, bad).await;
        assert_eq!(answer.error_code(), code, "{}", answer.body);
    }
    // An Idempotency-Key is not taken: the answer carries the codes.
    api.post_keyed(&generate_path, "k-1", body.clone())
        .await
        .assert_error(StatusCode::BAD_REQUEST, "idempotency_key_not_accepted");

    let generated = api.post(&generate_path, body.clone()).await.assert_status(StatusCode::CREATED).clone();
    let codes: Vec<String> =
        generated["codes"].as_array().unwrap().iter().map(|c| c["code"].as_str().unwrap().to_owned()).collect();
    assert_eq!(codes.len(), 3);
    for code in &codes {
        assert_eq!(code.len(), 19, "{code}");
        assert!(RedemptionCode::parse(code).is_ok(), "{code}");
    }
    assert!(codes[0] != codes[1] && codes[1] != codes[2] && codes[0] != codes[2]);
    // Three cards held, two left: three more would pass the batch's quantity.
    api.post(&generate_path, body.clone()).await.assert_error(StatusCode::CONFLICT, "card_codes_exceed_batch");
    // A sale takes only the cards no code holds.
    app.sell(&batch, "S-1").await;
    app.sell(&batch, "S-2").await;
    let sale = json!({"order_number": "S-3", "batch_id": batch, "payment_channel": "alipay"});
    api.post("/v1/cards", sale).await.assert_error(StatusCode::CONFLICT, "card_batch_sold_out");

    // Listed without their text.
    let listed = api.get(&generate_path).await.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["data"].as_array().unwrap().len(), 3);
    assert!(!listed.to_string().contains(&codes[0]) && !listed.to_string().contains(&codes[0].replace('-', "")));
    assert_eq!(listed["data"][0]["status"], "unused");

    // Redeemed, typed in lower case without hyphens: the card active, bound, holding its face value.
    let (buyer, _) = api.active_member("13800000002").await;
    let (other, _) = api.active_member("13800000003").await;
    let alipay_before = api.platform_balance("channel:alipay").await;
    let typed = codes[0].replace('-', "").to_lowercase();
    let card =
        api.post("/v1/card-codes/redeem", redeem_body(&typed, &buyer)).await.assert_status(StatusCode::OK).clone();
    assert_eq!((card["status"].as_str(), card["member_id"].as_str()), (Some("active"), Some(buyer.as_str())));
    assert_eq!(card["balance"], 500_000);
    assert!(card["valid_until"].is_string());
    assert_eq!(api.platform_balance("channel:alipay").await - alipay_before, 450_000);
    let number = card["number"].as_str().unwrap().to_owned();
    // The same member again: its card (a retry), nothing moved twice.
    let again =
        api.post("/v1/card-codes/redeem", redeem_body(&codes[0], &buyer)).await.assert_status(StatusCode::OK).clone();
    assert_eq!(again["number"], number);
    assert_eq!(api.platform_balance("channel:alipay").await - alipay_before, 450_000);
    // Anyone else: used. A typing mistake: invalid.
    api.post("/v1/card-codes/redeem", redeem_body(&codes[0], &other))
        .await
        .assert_error(StatusCode::CONFLICT, "card_code_used");
    let mut typo = codes[1].clone().into_bytes();
    typo[0] = if typo[0] == b'A' { b'B' } else { b'A' };
    api.post("/v1/card-codes/redeem", redeem_body(&String::from_utf8(typo).unwrap(), &other))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_code_invalid");

    // The list says who redeemed which code for which card; the card's sale is named by the code.
    let listed = api.get(&generate_path).await.assert_status(StatusCode::OK).clone();
    let redeemed: Vec<&Value> =
        listed["data"].as_array().unwrap().iter().filter(|c| c["status"] == "redeemed").collect();
    assert_eq!(redeemed.len(), 1);
    assert_eq!(
        (redeemed[0]["member_id"].as_str(), redeemed[0]["card_number"].as_str()),
        (Some(buyer.as_str()), Some(number.as_str()))
    );
    let history = api.get(&format!("/v1/cards/{number}/transactions")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(history["data"][0]["kind"], "sale");
    assert_eq!(history["data"][0]["order_number"], redeemed[0]["id"]);
    let batch_now = api.get(&format!("/v1/card-batches/{batch}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(batch_now["sold"], 3);

    // A code past its expiry does not redeem.
    let short = approved_batch(&app, "8602", 2).await;
    let body = json!({"quantity": 1, "expires_at": in_seconds(2), "payment_channel": "alipay"});
    let late = api.post(&format!("/v1/card-batches/{short}/codes"), body).await.assert_status(StatusCode::CREATED)
        ["codes"][0]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    api.post("/v1/card-codes/redeem", redeem_body(&late, &other))
        .await
        .assert_error(StatusCode::CONFLICT, "card_code_expired");
    api.verify_clean().await;
});

on_both_backends!(failed_redemptions_are_limited_without_locking_anyone_out, |db| {
    let app = app(db).await;
    let api = &app.api;
    let batch = approved_batch(&app, "8601", 10).await;
    let codes = generate(api, &batch, 4).await;
    let (alice, _) = api.active_member("13800000002").await;
    let (bob, _) = api.active_member("13800000003").await;
    let (carol, _) = api.active_member("13800000004").await;
    // An app's back end (an unbound client) guessing for alice is stopped for alice only.
    for seed in 0..5 {
        api.post("/v1/card-codes/redeem", redeem_body(&made_up_code(seed), &alice))
            .await
            .assert_error(StatusCode::NOT_FOUND, "card_code_not_found");
    }
    api.post("/v1/card-codes/redeem", redeem_body(&codes[0], &alice))
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "card_code_attempts_exceeded");
    // The same caller for another member, and another caller for alice, redeem.
    let card = api.post("/v1/card-codes/redeem", redeem_body(&codes[0], &bob)).await;
    assert_eq!(card.assert_status(StatusCode::OK)["member_id"], bob.as_str());
    let other = create_client(&api.db.store, "partner", |client| client).await;
    let card = api.send_as(&other, "POST", "/v1/card-codes/redeem", redeem_body(&codes[1], &alice)).await;
    let number = card.assert_status(StatusCode::OK)["number"].clone();
    // Alice's own code again (a retry) answers its card, whatever the caller's failures.
    let again = api.post("/v1/card-codes/redeem", redeem_body(&codes[1], &alice)).await;
    assert_eq!(again.assert_status(StatusCode::OK)["number"], number);
    // A client bound to a member: its failures count for the member, and stop only its own.
    let alices_app = bound_client(&api.db.store, &alice, "alice-app").await;
    for seed in 10..15 {
        api.send_as(&alices_app, "POST", "/v1/card-codes/redeem", redeem_body(&made_up_code(seed), &alice))
            .await
            .assert_error(StatusCode::NOT_FOUND, "card_code_not_found");
    }
    api.send_as(&alices_app, "POST", "/v1/card-codes/redeem", redeem_body(&codes[2], &alice))
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "card_code_attempts_exceeded");
    let card = api.send_as(&other, "POST", "/v1/card-codes/redeem", redeem_body(&codes[2], &alice)).await;
    assert_eq!(card.assert_status(StatusCode::OK)["member_id"], alice.as_str());
    // Across members a caller has the platform's higher ceiling (here 7): 5 failures for alice, 2
    // for carol, and the caller is stopped for everyone.
    let server = server_with(&app, |config| config.card_code_caller_attempts = 7);
    for seed in 20..22 {
        post_to(&server, &app, "/v1/card-codes/redeem", redeem_body(&made_up_code(seed), &carol))
            .await
            .assert_error(StatusCode::NOT_FOUND, "card_code_not_found");
    }
    post_to(&server, &app, "/v1/card-codes/redeem", redeem_body(&codes[3], &bob))
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "card_code_attempts_exceeded");
    api.post("/v1/card-codes/redeem", redeem_body(&codes[3], &bob)).await.assert_status(StatusCode::OK);
    api.verify_clean().await;
});

on_both_backends!(a_redemption_refused_by_configuration_leaves_the_code_unused, |db| {
    let app = app(db).await;
    let api = &app.api;
    let batch = approved_batch(&app, "8601", 2).await;
    let codes = generate(api, &batch, 1).await;
    let (alice, _) = api.active_member("13800000002").await;
    // The codes' channel is no longer configured: refused, nothing spent.
    let server = server_with(&app, |config| config.channels.retain(|c| c.name != "alipay"));
    post_to(&server, &app, "/v1/card-codes/redeem", redeem_body(&codes[0], &alice))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "channel_not_configured");
    let listed = api.get(&format!("/v1/card-batches/{batch}/codes")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["data"][0]["status"], "unused");
    // Configured again, the code redeems.
    let card = api.post("/v1/card-codes/redeem", redeem_body(&codes[0], &alice)).await;
    assert_eq!(card.assert_status(StatusCode::OK)["member_id"], alice.as_str());
    api.verify_clean().await;
});

on_both_backends!(concurrent_redemptions_of_one_code_give_exactly_one_card, |db| {
    let app = app(db).await;
    let api = &app.api;
    let batch = approved_batch(&app, "8601", 10).await;
    let code = generate(api, &batch, 1).await.remove(0);
    let mut members = Vec::new();
    for n in 0..8 {
        members.push(api.active_member(&format!("1380000010{n}")).await.0);
    }
    let alipay_before = api.platform_balance("channel:alipay").await;
    let mut tasks = Vec::new();
    for member in &members {
        let (router, client) = (api.router.clone(), api.client.clone());
        let body = redeem_body(&code, member).to_string();
        tasks.push(tokio::spawn(async move {
            send_to(&router, signed(&client, "POST", "/v1/card-codes/redeem", body.as_bytes(), &[])).await
        }));
    }
    let mut winners = Vec::new();
    for task in tasks {
        let answer = task.await.unwrap();
        match answer.status {
            StatusCode::OK => winners.push(answer.body.clone()),
            // The losers are refused as used, or (their failures counted) as guessing.
            StatusCode::CONFLICT => answer.assert_error(StatusCode::CONFLICT, "card_code_used"),
            _ => answer.assert_error(StatusCode::TOO_MANY_REQUESTS, "card_code_attempts_exceeded"),
        }
    }
    assert_eq!(winners.len(), 1, "{winners:?}");
    assert!(members.iter().any(|m| winners[0]["member_id"] == m.as_str()));
    let batch_now = api.get(&format!("/v1/card-batches/{batch}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(batch_now["sold"], 1);
    assert_eq!(api.platform_balance("channel:alipay").await - alipay_before, 450_000);
    api.verify_clean().await;
});

on_both_backends!(staff_bind_codes_in_bulk_with_a_result_per_row, |db| {
    let app = app(db).await;
    let api = &app.api;
    let batch = approved_batch(&app, "8601", 10).await;
    let codes = generate(api, &batch, 3).await;
    let (alice, _) = api.active_member("13800000002").await;
    let (bob, _) = api.active_member("13800000003").await;
    let staff = app.sign_in("mei.lin").await;
    // A client bound to a member (or a merchant) may not bind in bulk.
    let bound = bound_client(&api.db.store, &alice, "alice-app").await;
    api.send_as(&bound, "POST", "/v1/card-codes/bind", json!({"codes_csv": format!("13800000002,{}", codes[0])}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "client_bound");
    let csv = format!(
        "phone,code\n13800000002,{}\n13900000009,{}\n13800000003,NOT-A-CODE\n\n13800000003,\"{}\"\n13800000003,{}\n",
        codes[0], codes[1], codes[1], codes[0]
    );
    let answer = app.staff_post(&staff, "/v1/card-codes/bind", json!({"codes_csv": csv})).await;
    let result = answer.assert_status(StatusCode::OK).clone();
    assert_eq!((result["bound"].as_u64(), result["refused"].as_u64()), (Some(2), Some(3)), "{result}");
    let rows = result["rows"].as_array().unwrap();
    let row = |n: usize| {
        (rows[n]["line"].as_u64().unwrap(), rows[n]["status"].as_str().unwrap(), rows[n]["error"]["code"].as_str())
    };
    assert_eq!(row(0), (2, "bound", None));
    assert_eq!(row(1), (3, "refused", Some("member_not_found")));
    assert_eq!(row(2), (4, "refused", Some("card_code_invalid")));
    assert_eq!(row(3), (6, "bound", None));
    assert_eq!(row(4), (7, "refused", Some("card_code_used")));
    for (n, member) in [(0, &alice), (3, &bob)] {
        let number = rows[n]["card_number"].as_str().unwrap();
        let card = api.get(&format!("/v1/cards/{number}")).await.assert_status(StatusCode::OK).clone();
        assert_eq!((card["member_id"].as_str(), card["status"].as_str()), (Some(member.as_str()), Some("active")));
    }
    // One at a time from the back office: the same redemption.
    let (carol, _) = api.active_member("13800000004").await;
    let one = app.staff_post(&staff, "/v1/card-codes/redeem", redeem_body(&codes[2], &carol)).await;
    assert_eq!(one.assert_status(StatusCode::OK)["member_id"], carol.as_str());
    // A row's code is checked before its phone: a made-up code answers the same for a member's phone
    // and anyone's; and a row whose code or phone is no one's counts against the caller (here with a
    // ceiling of 5), so the rows cannot be used to learn which phones are members'.
    let server = server_with(&app, |config| config.card_code_caller_attempts = 5);
    let more = generate(api, &batch, 1).await;
    let csv = format!(
        "{}\n13800000002,{}\n13900000010,{}\n13900000011,{}\n13900000012,{}\n13800000004,{}\n",
        format_args!("13800000002,{}", made_up_code(1)),
        made_up_code(2),
        made_up_code(3),
        more[0],
        more[0],
        more[0]
    );
    let result = post_to(&server, &app, "/v1/card-codes/bind", json!({"codes_csv": csv})).await;
    let result = result.assert_status(StatusCode::OK).clone();
    let errors: Vec<&str> =
        result["rows"].as_array().unwrap().iter().map(|r| r["error"]["code"].as_str().unwrap()).collect();
    assert_eq!(
        errors,
        [
            "card_code_not_found",
            "card_code_not_found",
            "card_code_not_found",
            "member_not_found",
            "member_not_found",
            "card_code_attempts_exceeded"
        ]
    );
    // Limits on rows; the codes are kept out of the audit log.
    let many: String = (0..501).map(|n| format!("1380000{n:04},{}\n", codes[0])).collect();
    app.staff_post(&staff, "/v1/card-codes/bind", json!({"codes_csv": many}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_code_rows_invalid");
    app.staff_post(&staff, "/v1/card-codes/bind", json!({"codes_csv": "phone,code\n"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_code_rows_invalid");
    let events = api.get("/v1/audit-events?limit=100").await.assert_status(StatusCode::OK).to_string();
    for code in &codes {
        assert!(!events.contains(code.as_str()), "a code in the audit log");
    }
    api.verify_clean().await;
});

on_both_backends!(another_tenants_codes_and_batches_answer_as_if_absent, |db| {
    let app = app(db).await;
    let api = &app.api;
    let (cafe, cafe_member, _) = merchant(api, "13800000001", 1).await;
    let (_, bakery_member, _) = merchant(api, "13800000005", 2).await;
    let ours = bound_client(&api.db.store, &cafe_member, "cafe").await;
    let theirs = bound_client(&api.db.store, &bakery_member, "bakery").await;
    let body = json!({"merchant_id": cafe, "name": "咖啡卡", "grade": 2, "terms": crate::cards::gold_terms()});
    let cafe_type = id(api.send_as(&ours, "POST", "/v1/card-types", body).await.assert_status(StatusCode::CREATED));
    let segment = app.segment("8601", 0, 999).await;
    let batch_body = json!({"type_id": cafe_type, "segment_id": segment, "channel": "store", "quantity": 5});
    let batch = id(api.send_as(&ours, "POST", "/v1/card-batches", batch_body).await.assert_status(StatusCode::CREATED));
    app.approve(&batch).await;
    let path = format!("/v1/card-batches/{batch}/codes");
    let body = json!({"quantity": 2, "expires_at": in_seconds(3600), "payment_channel": "alipay"});
    api.send_as(&theirs, "POST", &path, body.clone()).await.assert_error(StatusCode::NOT_FOUND, "card_batch_not_found");
    let generated = api.send_as(&ours, "POST", &path, body).await.assert_status(StatusCode::CREATED).clone();
    let code = generated["codes"][0]["code"].as_str().unwrap().to_owned();
    api.send_as(&theirs, "GET", &path, Value::Null).await.assert_error(StatusCode::NOT_FOUND, "card_batch_not_found");
    let (buyer, _) = api.active_member("13800000002").await;
    api.send_as(&theirs, "POST", "/v1/card-codes/redeem", redeem_body(&code, &buyer))
        .await
        .assert_error(StatusCode::NOT_FOUND, "card_code_not_found");
    let listed = api.send_as(&ours, "GET", &path, Value::Null).await.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2);
    let card = api.send_as(&ours, "POST", "/v1/card-codes/redeem", redeem_body(&code, &buyer)).await;
    assert_eq!(card.assert_status(StatusCode::OK)["owner"], cafe.as_str());
    api.verify_clean().await;
});

on_both_backends!(concurrent_sales_of_one_batch_are_decided_in_turn_around_its_codes, |db| {
    let app = app(db).await;
    let api = &app.api;
    let batch = approved_batch(&app, "8601", 4).await;
    let codes = generate(api, &batch, 2).await;
    let mut sales = Vec::new();
    for n in 0..6 {
        let (router, client) = (api.router.clone(), api.client.clone());
        let body = json!({"order_number": format!("S-{n}"), "batch_id": batch, "payment_channel": "alipay"});
        sales.push(tokio::spawn(async move {
            send_to(&router, signed(&client, "POST", "/v1/cards", body.to_string().as_bytes(), &[])).await
        }));
    }
    let mut numbers = std::collections::BTreeSet::new();
    for sale in sales {
        let answer = sale.await.unwrap();
        if answer.status == StatusCode::CREATED {
            numbers.insert(answer.body["number"].as_str().unwrap().to_owned());
        } else {
            answer.assert_error(StatusCode::CONFLICT, "card_batch_sold_out");
        }
    }
    // The two cards no code holds, the batch's first two numbers (taken in turn, no gap).
    let first = api.get(&format!("/v1/card-batches/{batch}")).await.assert_status(StatusCode::OK)["first_number"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(numbers.len(), 2);
    assert_eq!(numbers.iter().next().unwrap(), &first);
    // The codes still redeem the other two.
    let (buyer, _) = api.active_member("13800000002").await;
    for code in &codes {
        let card =
            api.post("/v1/card-codes/redeem", redeem_body(code, &buyer)).await.assert_status(StatusCode::OK).clone();
        assert!(numbers.insert(card["number"].as_str().unwrap().to_owned()));
    }
    let batch_now = api.get(&format!("/v1/card-batches/{batch}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(batch_now["sold"], 4);
    api.verify_clean().await;
});

on_both_backends!(a_card_refund_is_refused_while_its_receiver_may_not_pay, |db| {
    let app = app(db).await;
    let api = &app.api;
    let number = app.active_card().await;
    let (_, shop_account) = api.active_member("13800000001").await;
    let path = format!("/v1/cards/{number}");
    api.post(&format!("{path}/payments"), pay_body("P-1", 1000, "coffee", &shop_account))
        .await
        .assert_status(StatusCode::CREATED);
    let status = |status: &str| json!({"status": status, "reason": "disputed payment"});
    api.post(&format!("/v1/accounts/{shop_account}/status"), status("frozen")).await.assert_status(StatusCode::OK);
    let refund = json!({"order_number": "RF-1", "payment_number": "P-1", "amount": 300});
    api.post(&format!("{path}/refunds"), refund.clone()).await.assert_error(StatusCode::FORBIDDEN, "account_frozen");
    api.post(&format!("/v1/accounts/{shop_account}/status"), status("normal")).await.assert_status(StatusCode::OK);
    // A card reported lost still receives a refund (its account blocks only what leaves it).
    api.post(&format!("{path}/freeze"), json!({"reason": "挂失", "lost": true})).await.assert_status(StatusCode::OK);
    let done = api.post(&format!("{path}/refunds"), refund).await.assert_status(StatusCode::CREATED).clone();
    assert_eq!(done["status"], "succeeded");
    api.verify_clean().await;
});

on_both_backends!(expired_codes_give_their_cards_back_to_the_batch, |db| {
    let app = app(db).await;
    let api = &app.api;
    let batch = approved_batch(&app, "8601", 3).await;
    let path = format!("/v1/card-batches/{batch}/codes");
    let body = json!({"quantity": 2, "expires_at": in_seconds(2), "payment_channel": "alipay"});
    let short =
        api.post(&path, body).await.assert_status(StatusCode::CREATED)["codes"][0]["code"].as_str().unwrap().to_owned();
    app.sell(&batch, "S-1").await;
    let sale = |n: &str| json!({"order_number": n, "batch_id": batch, "payment_channel": "alipay"});
    api.post("/v1/cards", sale("S-2")).await.assert_error(StatusCode::CONFLICT, "card_batch_sold_out");
    let one = json!({"quantity": 1, "expires_at": in_seconds(3600), "payment_channel": "alipay"});
    api.post(&path, one.clone()).await.assert_error(StatusCode::CONFLICT, "card_codes_exceed_batch");
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    // Expired, the two codes hold nothing: one card goes to a new code, the other to a sale.
    api.post(&path, one).await.assert_status(StatusCode::CREATED);
    api.post("/v1/cards", sale("S-2")).await.assert_status(StatusCode::CREATED);
    api.post("/v1/cards", sale("S-3")).await.assert_error(StatusCode::CONFLICT, "card_batch_sold_out");
    let listed = api.get(&path).await.assert_status(StatusCode::OK).clone();
    let statuses: Vec<&str> =
        listed["data"].as_array().unwrap().iter().map(|c| c["status"].as_str().unwrap()).collect();
    assert_eq!(statuses.iter().filter(|s| **s == "expired").count(), 2, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == "unused").count(), 1, "{statuses:?}");
    let (alice, _) = api.active_member("13800000002").await;
    api.post("/v1/card-codes/redeem", redeem_body(&short, &alice))
        .await
        .assert_error(StatusCode::CONFLICT, "card_code_expired");
    let batch_now = api.get(&format!("/v1/card-batches/{batch}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(batch_now["sold"], 2);
    api.verify_clean().await;
});

on_both_backends!(a_burst_of_wrong_guesses_at_once_never_passes_the_ceiling, |db| {
    let app = app(db).await;
    let api = &app.api;
    let batch = approved_batch(&app, "8601", 10).await;
    let codes = generate(api, &batch, 1).await;
    let (alice, _) = api.active_member("13800000002").await;
    // Twelve wrong guesses for alice at once: each is counted before it is decided, in the
    // transaction that checks the ceiling, so five are looked up and the rest refused.
    let mut tasks = Vec::new();
    for seed in 0..12 {
        let (router, client) = (api.router.clone(), api.client.clone());
        let body = redeem_body(&made_up_code(seed), &alice).to_string();
        tasks.push(tokio::spawn(async move {
            send_to(&router, signed(&client, "POST", "/v1/card-codes/redeem", body.as_bytes(), &[])).await
        }));
    }
    let mut looked_up = 0;
    for task in tasks {
        let answer = task.await.unwrap();
        if answer.status == StatusCode::NOT_FOUND {
            answer.assert_error(StatusCode::NOT_FOUND, "card_code_not_found");
            looked_up += 1;
        } else {
            answer.assert_error(StatusCode::TOO_MANY_REQUESTS, "card_code_attempts_exceeded");
        }
    }
    assert_eq!(looked_up, 5);
    api.post("/v1/card-codes/redeem", redeem_body(&codes[0], &alice))
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "card_code_attempts_exceeded");
    // A redemption that succeeds gives its attempt back: bob's count stays clean.
    let (bob, _) = api.active_member("13800000003").await;
    api.post("/v1/card-codes/redeem", redeem_body(&codes[0], &bob)).await.assert_status(StatusCode::OK);
    for seed in 20..25 {
        api.post("/v1/card-codes/redeem", redeem_body(&made_up_code(seed), &bob))
            .await
            .assert_error(StatusCode::NOT_FOUND, "card_code_not_found");
    }
    api.post("/v1/card-codes/redeem", redeem_body(&made_up_code(30), &bob))
        .await
        .assert_error(StatusCode::TOO_MANY_REQUESTS, "card_code_attempts_exceeded");
});
