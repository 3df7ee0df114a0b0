//! Split payments (分账) over the signed API on SQLite and PostgreSQL: a payment shared among receivers
//! (the worker and the platform's commission), shares that do not add up refused with nothing moved,
//! the payment's view with its splits, refunds in proportion and as named, an escrowed share released
//! per receiver; bound clients of other members reaching none of it (404), the receiver's and the
//! payer's sides refused what is not theirs (403); and an account type that refuses recharges (the
//! travel store's profit wallet).

use axum::http::StatusCode;
use sanhu_core::party::account_type::{AccountType, AccountTypeSpec};
use sanhu_core::party::{AccountTypeCode, AccountTypes};
use sanhu_service::party::PartyConfig;
use sanhu_testkit::app::{bound_client, TestApp};
use sanhu_testkit::money::cny;
use sanhu_testkit::world;
use sanhu_testkit::{on_both_backends, TestDatabase};
use serde_json::{json, Value};

/// The default types and the travel store's profit wallet, withdrawable and never recharged.
fn party_config() -> PartyConfig {
    let defaults = AccountTypes::default_set(cny());
    let settlement = defaults.get(&AccountTypeCode::parse("settlement").unwrap()).unwrap().spec().clone();
    let profit = AccountType::configure(AccountTypeSpec {
        code: AccountTypeCode::parse("profit").unwrap(),
        name: "利润钱包".to_owned(),
        rechargeable: false,
        ..settlement
    })
    .unwrap();
    let mut types: Vec<AccountType> = defaults.iter().cloned().collect();
    types.push(profit);
    PartyConfig { account_types: AccountTypes::new(types).unwrap(), ..world::cheap_party_config() }
}

async fn app(db: TestDatabase) -> TestApp {
    TestApp::new(db, party_config(), world::wallet_config()).await
}

fn parts(list: &Value) -> Vec<(String, i64)> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|p| (p["account_id"].as_str().unwrap().to_owned(), p["amount"].as_i64().unwrap()))
        .collect()
}

on_both_backends!(a_profit_wallet_refuses_recharges_and_receives_a_split_share, |db| {
    let app = app(db).await;
    let (store, basic) = app.active_member("13700000901").await;
    let profit = app.open(&store, "profit").await;
    let refused = app
        .post(
            "/v1/recharges",
            json!({"order_number": "RP-1", "member_id": store, "account_id": profit, "amount": 1000, "channel": "test"}),
        )
        .await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "account_not_rechargeable");
    assert_eq!(app.get("/v1/recharges/RP-1").await.status, StatusCode::NOT_FOUND, "no order was made");
    // The fund (basic) account is recharged as ever.
    app.recharge(&store, &basic, 1000, "test", "RP-2").await;
    // The profit wallet still receives: a traveller's payment's margin.
    let (traveller, traveller_basic) = app.active_member("13700000902").await;
    app.recharge(&traveller, &traveller_basic, 5000, "test", "RP-3").await;
    let paid = app
        .post(
            "/v1/payments",
            json!({"order_number": "TRIP-1", "member_id": traveller, "amount": 3000,
                "splits": [{"receiver_account_id": basic, "amount": 2500}, {"receiver_account_id": profit, "rest": true}]}),
        )
        .await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["status"], "paid");
    assert_eq!((app.balance(&basic).await, app.balance(&profit).await), (3500, 500));
    app.verify_clean().await;
});

on_both_backends!(a_split_payment_pays_the_worker_and_the_commission_and_is_refunded_per_receiver, |db| {
    let app = app(db).await;
    let (employer, employer_basic) = app.active_member("13700000911").await;
    let (_, worker) = app.active_member("13700000912").await;
    app.recharge(&employer, &employer_basic, 50_000, "test", "F-1").await;
    let body = |number: &str, splits: Value| json!({"order_number": number, "member_id": employer, "amount": 30_000, "splits": splits});
    // Shares that do not add up; an amount and a rate at once; a split payment escrowed as a whole.
    let short =
        app.post("/v1/payments", body("HS-0", json!([{"receiver_account_id": worker, "amount": 29_999}]))).await;
    short.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "split_shares_mismatch");
    let both = app
        .post("/v1/payments", body("HS-0", json!([{"receiver_account_id": worker, "amount": 1, "rate_bp": 1}])))
        .await;
    both.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    let mut whole = body("HS-0", json!([{"receiver_account_id": worker, "rest": true}]));
    whole["escrow"] = json!(true);
    app.post("/v1/payments", whole).await.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    let eleven: Vec<Value> = (0..11).map(|_| json!({"receiver_account_id": worker, "amount": 1})).collect();
    let many = app.post("/v1/payments", body("HS-0", json!(eleven))).await;
    many.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "split_receivers_invalid");
    let own =
        app.post("/v1/payments", body("HS-0", json!([{"receiver_account_id": employer_basic, "rest": true}]))).await;
    own.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "same_wallet");
    assert_eq!(app.balance(&employer_basic).await, 50_000);

    let paid = app
        .post(
            "/v1/payments",
            body(
                "HS-1",
                json!([{"receiver_account_id": worker, "rest": true},
                       {"receiver_platform_account": "fee_income", "rate_bp": 1000}]),
            ),
        )
        .await;
    let paid = paid.assert_status(StatusCode::CREATED).clone();
    assert_eq!(paid["status"], "paid");
    assert_eq!(paid["receiver_account_id"], worker.as_str());
    let fee_income = paid["splits"][1]["account_id"].as_str().unwrap().to_owned();
    assert_eq!(parts(&paid["splits"]), [(worker.clone(), 27_000), (fee_income.clone(), 3000)]);
    assert_eq!(app.balance(&worker).await, 27_000);
    assert_eq!(app.platform_balance("fee_income").await, 3000);

    // In proportion: 90.00 and 10.00.
    let refund = app.post("/v1/payments/HS-1/refunds", json!({"refund_number": "R1", "amount": 10_000})).await;
    let refund = refund.assert_status(StatusCode::CREATED).clone();
    assert_eq!(parts(&refund["splits"]), [(worker.clone(), 9000), (fee_income.clone(), 1000)]);
    assert_eq!(parts(&refund["returns"]), [(employer_basic.clone(), 10_000)]);
    // As named, within what each still holds.
    let named = |number: &str, amount: i64| json!({"refund_number": number, "amount": amount, "splits": [{"account_id": fee_income, "amount": amount}]});
    let waived = app.post("/v1/payments/HS-1/refunds", named("R2", 2000)).await;
    assert_eq!(parts(&waived.assert_status(StatusCode::CREATED)["splits"]), [(fee_income.clone(), 2000)]);
    let beyond = app.post("/v1/payments/HS-1/refunds", named("R3", 1)).await;
    beyond.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "split_refund_exceeds_share");
    let mismatch = app
        .post(
            "/v1/payments/HS-1/refunds",
            json!({"refund_number": "R4", "amount": 2, "splits": [{"account_id": worker, "amount": 1}]}),
        )
        .await;
    mismatch.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "split_shares_mismatch");
    let view = app.get("/v1/payments/HS-1").await.assert_status(StatusCode::OK).clone();
    assert_eq!(view["refunded"].as_i64(), Some(12_000));
    let refunded: Vec<i64> =
        view["splits"].as_array().unwrap().iter().map(|s| s["refunded"].as_i64().unwrap()).collect();
    assert_eq!(refunded, [9000, 3000]);
    // Everything left, and not a fen more.
    let rest = app.post("/v1/payments/HS-1/refunds", json!({"refund_number": "R5", "amount": 18_000})).await;
    rest.assert_status(StatusCode::CREATED);
    let over = app.post("/v1/payments/HS-1/refunds", json!({"refund_number": "R6", "amount": 1})).await;
    over.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "refund_exceeds_payment");
    assert_eq!((app.balance(&employer_basic).await, app.balance(&worker).await), (50_000, 0));
    // A payment to one receiver takes no named split refund.
    app.post(
        "/v1/payments",
        json!({"order_number": "ONE", "member_id": employer, "amount": 100, "receiver_account_id": worker}),
    )
    .await
    .assert_status(StatusCode::CREATED);
    let not_split = app
        .post(
            "/v1/payments/ONE/refunds",
            json!({"refund_number": "R1", "amount": 100, "splits": [{"account_id": worker, "amount": 100}]}),
        )
        .await;
    not_split.assert_error(StatusCode::CONFLICT, "payment_not_split");
    app.verify_clean().await;
});

on_both_backends!(bound_clients_reach_only_their_own_split_payments_and_sides, |db| {
    let app = app(db).await;
    let (traveller, traveller_basic) = app.active_member("13700000921").await;
    let (supplier, supplier_basic) = app.active_member("13700000922").await;
    let (store, _) = app.active_member("13700000923").await;
    let profit = app.open(&store, "profit").await;
    let (stranger, _) = app.active_member("13700000924").await;
    app.recharge(&traveller, &traveller_basic, 20_000, "test", "F-1").await;
    let traveller_client = bound_client(&app.db.store, &traveller, "traveller").await;
    let store_client = bound_client(&app.db.store, &store, "store").await;
    let stranger_client = bound_client(&app.db.store, &stranger, "stranger").await;
    let _ = supplier;
    let body = |member: &str| {
        json!({"order_number": "TRIP-1", "member_id": member, "amount": 12_000,
            "splits": [{"receiver_account_id": supplier_basic, "amount": 10_000},
                       {"receiver_account_id": profit, "rest": true, "escrow": true}]})
    };
    // Another member's client cannot pay from the traveller's wallet.
    let foreign = app.send_as(&stranger_client, "POST", "/v1/payments", body(&traveller)).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND, "{}", foreign.body);
    let paid = app.send_as(&traveller_client, "POST", "/v1/payments", body(&traveller)).await;
    let paid = paid.assert_status(StatusCode::CREATED).clone();
    assert_eq!(paid["splits"][1]["status"], "escrowed");
    let named = |path: &str| format!("{path}?client_id={}", traveller_client.id);

    // A stranger's client finds none of it, however it names it (reading another client's numbering
    // is the platform's: client_bound, as for every order).
    let stranger_reads = app.send_as(&stranger_client, "GET", &named("/v1/payments/TRIP-1"), Value::Null).await;
    stranger_reads.assert_error(StatusCode::FORBIDDEN, "client_bound");
    let release = json!({"account_id": profit});
    let stranger_releases =
        app.send_as(&stranger_client, "POST", &named("/v1/payments/TRIP-1/split-release"), release.clone()).await;
    stranger_releases.assert_error(StatusCode::NOT_FOUND, "order_not_found");
    let stranger_refunds = app
        .send_as(
            &stranger_client,
            "POST",
            &named("/v1/payments/TRIP-1/refunds"),
            json!({"refund_number": "S1", "amount": 100}),
        )
        .await;
    stranger_refunds.assert_error(StatusCode::NOT_FOUND, "order_not_found");
    // Its own numbering holds no such payment either.
    let own_numbering = app.send_as(&stranger_client, "GET", "/v1/payments/TRIP-1", Value::Null).await;
    own_numbering.assert_error(StatusCode::NOT_FOUND, "order_not_found");

    // The receiver's side may not release to itself nor refund a split payment; the payer's may not refund.
    let taken = app.send_as(&store_client, "POST", &named("/v1/payments/TRIP-1/split-release"), release.clone()).await;
    taken.assert_error(StatusCode::FORBIDDEN, "escrow_release_not_allowed");
    let refund = json!({"refund_number": "X1", "amount": 100});
    let by_store = app.send_as(&store_client, "POST", &named("/v1/payments/TRIP-1/refunds"), refund.clone()).await;
    by_store.assert_error(StatusCode::FORBIDDEN, "refund_not_allowed");
    let by_payer = app.send_as(&traveller_client, "POST", "/v1/payments/TRIP-1/refunds", refund).await;
    by_payer.assert_error(StatusCode::FORBIDDEN, "refund_not_allowed");
    assert_eq!(app.wallet(&traveller).await["frozen"].as_i64(), Some(2000));

    // The payer's side lets the margin go; an account that is no receiver is not found.
    let nobody = app
        .send_as(&traveller_client, "POST", "/v1/payments/TRIP-1/split-release", json!({"account_id": traveller_basic}))
        .await;
    nobody.assert_error(StatusCode::NOT_FOUND, "split_receiver_not_found");
    let released = app.send_as(&traveller_client, "POST", "/v1/payments/TRIP-1/split-release", release).await;
    assert_eq!(released.assert_status(StatusCode::OK)["splits"][1]["status"], "released");
    assert_eq!(app.balance(&profit).await, 2000);
    assert_eq!(app.wallet(&traveller).await["frozen"].as_i64(), Some(0));
    // The platform refunds it, the released margin from the profit wallet.
    let refund = app.post(&named("/v1/payments/TRIP-1/refunds"), json!({"refund_number": "P1", "amount": 1200})).await;
    assert_eq!(
        parts(&refund.assert_status(StatusCode::CREATED)["splits"]),
        [(supplier_basic.clone(), 1000), (profit.clone(), 200)]
    );
    assert_eq!(app.balance(&profit).await, 1800);
    app.verify_clean().await;
});
