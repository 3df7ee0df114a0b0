//! Stores and terminals at the counter, over HTTP on SQLite and PostgreSQL: a franchisee opens stores
//! and adds terminals, within its limits, its brand and the platform reach them and another
//! franchisee's client finds every one of them absent (404, its own merchant's path with the other's
//! ids too); a store closed and a terminal disabled for good; a store's settings over its merchant's
//! (the methods it takes, the pay-password-free threshold), locked from above; and payments at a
//! store: its methods enforced, the threshold deciding the pay password, a closed store and a
//! disabled terminal refused, another merchant's store refused, and the store and terminal recorded
//! on the payment and in both flows, by pay code and by phone and SMS code; and stores and terminals
//! opened at once at their limits, stopping exactly there.

use axum::http::StatusCode;
use futures_util::future::join_all;
use sanhu_core::party::OneTimeCodePolicy;
use sanhu_service::party::PartyConfig;
use sanhu_service::wallet::WalletConfig;
use sanhu_testkit::app::{Client, TestApp, TestResponse};
use sanhu_testkit::{on_both_backends, world};
use serde_json::{json, Value};

use crate::franchises::{account_of, brand, member_of, Brand};
use crate::merchant_hierarchy::{app_with, app_with_wallet, parties};

async fn app(db: sanhu_testkit::TestDatabase) -> TestApp {
    app_with(db, PartyConfig { stores_per_merchant_max: 3, terminals_per_store_max: 2, ..parties() }).await
}

async fn open_store(app: &TestApp, client: &Client, merchant: &str, body: Value) -> Value {
    let opened = app.send_as(client, "POST", &format!("/v1/merchants/{merchant}/stores"), body).await;
    opened.assert_status(StatusCode::CREATED).clone()
}

async fn add_terminal(app: &TestApp, client: &Client, merchant: &str, store: &str, serial: &str) -> String {
    let path = format!("/v1/merchants/{merchant}/stores/{store}/terminals");
    let added = app.send_as(client, "POST", &path, json!({"serial": serial})).await;
    added.assert_status(StatusCode::CREATED)["id"].as_str().unwrap().to_owned()
}

fn id(value: &Value) -> String {
    value["id"].as_str().unwrap().to_owned()
}

on_both_backends!(stores_and_terminals_are_kept_by_those_who_reach_their_merchant_and_no_one_else, |db| {
    let app = app(db).await;
    let Brand { a, b, a_member, b_member, at_brand, at_a, at_b, .. } = brand(&app).await;

    // A's client opens a store, with its cashier (the first admin of A's enterprise member).
    let operators = app.get(&format!("/v1/members/{a_member}/operators")).await;
    let cashier = id(&operators.assert_status(StatusCode::OK)["data"][0]);
    let body = json!({"name": " 朝阳店 ", "address": "北京市朝阳区某某路1号", "cashier_operator_id": cashier});
    let store = open_store(&app, &at_a, &a, body).await;
    let s1 = id(&store);
    assert!(s1.starts_with("sto_"), "{store}");
    assert_eq!((store["name"].as_str(), store["status"].as_str()), (Some("朝阳店"), Some("active")), "{store}");
    assert_eq!(store["cashier_operator_id"], cashier.as_str());
    assert_eq!(store["settings"]["payment_methods"]["value"], json!(["pay_code", "phone_sms", "card", "balance"]));
    assert_eq!(store["settings"]["payment_methods"]["source"], "platform");
    assert_eq!(store["settings"]["pay_password_free_below"], json!({"value": null, "source": "platform"}));
    // Its own settings over A's, at once.
    let body = json!({"name": "国贸店", "address": "北京市朝阳区某某路2号", "payment_methods": ["pay_code"],
                      "pay_password_free_below": 5_000});
    let s2 = open_store(&app, &at_a, &a, body).await;
    assert_eq!(s2["settings"]["payment_methods"], json!({"value": ["pay_code"], "source": id(&s2)}));
    assert_eq!(s2["own_settings"], json!({"payment_methods": ["pay_code"], "pay_password_free_below": 5_000}));
    let s2 = id(&s2);

    // What does not hold is refused, and changes nothing.
    let path = format!("/v1/merchants/{a}/stores");
    for (body, code) in [
        (json!({"name": "", "address": "x"}), "store_name_invalid"),
        (json!({"name": "x", "address": "a\u{0007}b"}), "store_address_invalid"),
        (json!({"name": "x", "address": "y", "payment_methods": ["cash"]}), "store_settings_invalid"),
        (json!({"name": "x", "address": "y", "payment_methods": []}), "store_settings_invalid"),
        (json!({"name": "x", "address": "y", "pay_password_free_below": -1}), "store_settings_invalid"),
    ] {
        app.send_as(&at_a, "POST", &path, body).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, code);
    }
    // B's operator is not A's cashier: absent to A's client, refused to the platform, as an unknown one.
    let b_operators = app.get(&format!("/v1/members/{b_member}/operators")).await;
    let b_cashier = id(&b_operators.assert_status(StatusCode::OK)["data"][0]);
    app.send_as(&at_a, "POST", &path, json!({"name": "x", "address": "y", "cashier_operator_id": b_cashier}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "operator_not_found");
    for cashier in [b_cashier.as_str(), "opr_01JD0000000000000000000000"] {
        app.post(&path, json!({"name": "x", "address": "y", "cashier_operator_id": cashier}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "store_cashier_not_merchants");
    }

    // Listed in the order opened, with a cursor; read by A, by its brand and by the platform.
    let list = app.send_as(&at_a, "GET", &format!("{path}?limit=1"), Value::Null).await;
    let list = list.assert_status(StatusCode::OK).clone();
    assert_eq!((list["data"].as_array().unwrap().len(), list["next_cursor"].as_str()), (1, Some(s1.as_str())));
    let rest = app.send_as(&at_a, "GET", &format!("{path}?after={s1}"), Value::Null).await;
    assert_eq!(rest.assert_status(StatusCode::OK)["data"][0]["id"], s2.as_str());
    let one = format!("/v1/merchants/{a}/stores/{s1}");
    app.send_as(&at_brand, "GET", &one, Value::Null).await.assert_status(StatusCode::OK);
    app.get(&one).await.assert_status(StatusCode::OK);

    // Terminals: added with a serial unique within the merchant, listed, disabled for good.
    let t1 = add_terminal(&app, &at_a, &a, &s1, "SN-0001").await;
    assert!(t1.starts_with("trm_"));
    let terminals = format!("/v1/merchants/{a}/stores/{s2}/terminals");
    app.send_as(&at_a, "POST", &terminals, json!({"serial": "SN-0001"}))
        .await
        .assert_error(StatusCode::CONFLICT, "terminal_serial_taken");
    app.send_as(&at_a, "POST", &terminals, json!({"serial": "SN 2"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "terminal_serial_invalid");
    add_terminal(&app, &at_brand, &a, &s1, "SN-0002").await;
    // The store's cap (2 here), disabled ones counted.
    app.send_as(&at_a, "POST", &format!("/v1/merchants/{a}/stores/{s1}/terminals"), json!({"serial": "SN-0003"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "terminal_limit_reached");
    let listed = app.send_as(&at_a, "GET", &format!("/v1/merchants/{a}/stores/{s1}/terminals"), Value::Null).await;
    let listed = listed.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");
    assert_eq!(
        (listed["data"][0]["id"].as_str(), listed["data"][0]["status"].as_str()),
        (Some(t1.as_str()), Some("active"))
    );
    let disable = format!("/v1/merchants/{a}/stores/{s1}/terminals/{t1}/disable");
    let disabled = app.send_as(&at_a, "POST", &disable, json!({"reason": "lost"})).await;
    assert_eq!(disabled.assert_status(StatusCode::OK)["status"], "disabled");
    let again = app.send_as(&at_a, "POST", &disable, json!({"reason": "lost"})).await;
    assert_eq!(again.assert_status(StatusCode::OK)["disabled_reason"], "lost");
    let read = app.send_as(&at_a, "GET", &one, Value::Null).await;
    assert_eq!(read.assert_status(StatusCode::OK)["terminals"], 2);

    // B's client finds every one of A's stores and terminals absent: under A's path...
    let b_store = id(&open_store(&app, &at_b, &b, json!({"name": "东城店", "address": "北京市东城区某某路3号"})).await);
    for (method, route, body) in [
        ("GET", path.clone(), Value::Null),
        ("POST", path.clone(), json!({"name": "x", "address": "y"})),
        ("GET", one.clone(), Value::Null),
        ("POST", format!("{one}/close"), json!({"reason": "x"})),
        ("POST", format!("{one}/settings"), json!({"payment_methods": ["balance"]})),
        ("GET", format!("{one}/terminals"), Value::Null),
        ("POST", format!("{one}/terminals"), json!({"serial": "SN-B"})),
        ("POST", disable.clone(), json!({"reason": "x"})),
    ] {
        app.send_as(&at_b, method, &route, body).await.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    }
    // ... and under its own merchant's path, with A's ids.
    let b_one = format!("/v1/merchants/{b}/stores/{s1}");
    for (method, route, body) in [
        ("GET", b_one.clone(), Value::Null),
        ("POST", format!("{b_one}/close"), json!({"reason": "x"})),
        ("POST", format!("{b_one}/settings"), json!({"payment_methods": ["balance"]})),
        ("GET", format!("{b_one}/terminals"), Value::Null),
        ("POST", format!("{b_one}/terminals"), json!({"serial": "SN-B"})),
        ("POST", format!("{b_one}/terminals/{t1}/disable"), json!({"reason": "x"})),
    ] {
        app.send_as(&at_b, method, &route, body).await.assert_error(StatusCode::NOT_FOUND, "store_not_found");
    }
    app.send_as(
        &at_b,
        "POST",
        &format!("/v1/merchants/{b}/stores/{b_store}/terminals/{t1}/disable"),
        json!({"reason": "x"}),
    )
    .await
    .assert_error(StatusCode::NOT_FOUND, "terminal_not_found");
    // B's serials are its own.
    add_terminal(&app, &at_b, &b, &b_store, "SN-0001").await;
    let terminal = app.send_as(&at_a, "GET", &format!("/v1/merchants/{a}/stores/{s1}/terminals"), Value::Null).await;
    assert_eq!(terminal.assert_status(StatusCode::OK)["data"][0]["status"], "disabled");

    // Closed for good: no new terminals; asked again, answered as it is. The merchant's cap counts it.
    let closed = app
        .send_as(&at_a, "POST", &format!("/v1/merchants/{a}/stores/{s2}/close"), json!({"reason": "租约到期"}))
        .await;
    let closed = closed.assert_status(StatusCode::OK).clone();
    assert_eq!((closed["status"].as_str(), closed["closed_reason"].as_str()), (Some("closed"), Some("租约到期")));
    app.send_as(&at_a, "POST", &terminals, json!({"serial": "SN-0009"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "store_closed");
    app.send_as(&at_a, "POST", &format!("/v1/merchants/{a}/stores/{s2}/close"), json!({"reason": "again"}))
        .await
        .assert_status(StatusCode::OK);
    open_store(&app, &at_a, &a, json!({"name": "三店", "address": "北京市朝阳区某某路3号"})).await;
    app.send_as(&at_a, "POST", &path, json!({"name": "四店", "address": "北京市朝阳区某某路4号"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "store_limit_reached");

    // Every change is in A's history.
    let history = app.get(&format!("/v1/merchants/{a}/history?limit=100")).await.assert_status(StatusCode::OK).clone();
    let actions: Vec<&str> = history["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .filter(|a| a.starts_with("store.") || a.starts_with("terminal."))
        .collect();
    assert_eq!(
        actions,
        [
            "store.opened",
            "store.opened",
            "terminal.added",
            "terminal.added",
            "terminal.disabled",
            "store.closed",
            "store.opened"
        ],
        "{history}"
    );
    app.verify_clean().await;
});

on_both_backends!(a_store_sets_its_settings_over_its_merchants_unless_locked_from_above, |db| {
    let app = app(db).await;
    let f = brand(&app).await;
    let store =
        id(&open_store(&app, &f.at_a, &f.a, json!({"name": "朝阳店", "address": "北京市朝阳区某某路1号"})).await);
    let settings = format!("/v1/merchants/{}/stores/{store}/settings", f.a);

    // The brand's settings (the platform sets them) reach its franchisees' stores.
    let body = json!({"payment_methods": ["pay_code", "balance"], "pay_password_free_below": 10_000});
    let set = app.post(&format!("/v1/merchants/{}/settings", f.brand), body).await;
    let set = set.assert_status(StatusCode::OK).clone();
    assert_eq!(set["payment_methods"], json!({"value": ["pay_code", "balance"], "source": f.brand}));
    let read = app.send_as(&f.at_a, "GET", &format!("/v1/merchants/{}/stores/{store}", f.a), Value::Null).await;
    let read = read.assert_status(StatusCode::OK).clone();
    assert_eq!(read["settings"]["pay_password_free_below"], json!({"value": 10_000, "source": f.brand}), "{read}");

    // The store's own, over them; given back with unset.
    let own = app.send_as(&f.at_a, "POST", &settings, json!({"payment_methods": ["pay_code"]})).await;
    let own = own.assert_status(StatusCode::OK).clone();
    assert_eq!(own["settings"]["payment_methods"], json!({"value": ["pay_code"], "source": store}));
    assert_eq!(own["settings"]["pay_password_free_below"]["source"], f.brand.as_str());
    let back = app.send_as(&f.at_a, "POST", &settings, json!({"unset": ["payment_methods"]})).await;
    assert_eq!(back.assert_status(StatusCode::OK)["settings"]["payment_methods"]["source"], f.brand.as_str());
    app.send_as(&f.at_a, "POST", &settings, json!({"unset": ["wallet_group"]}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "store_settings_invalid");

    // Locked by the brand: not set at the store.
    let lock = json!({"locked": ["payment_methods"]});
    app.post(&format!("/v1/merchants/{}/settings", f.brand), lock).await.assert_status(StatusCode::OK);
    app.send_as(&f.at_a, "POST", &settings, json!({"payment_methods": ["balance"]}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_setting_locked");
    app.send_as(&f.at_a, "POST", &settings, json!({"pay_password_free_below": 0})).await.assert_status(StatusCode::OK);
});

fn by_code(number: &str, code: &str, amount: i64, receiver: &str, store: &str) -> Value {
    json!({"order_number": number, "pay_code": code, "amount": amount, "receiver_account_id": receiver, "store_id": store})
}

fn paid_s4_body(code: &str, receiver: &str, terminal: &str) -> Value {
    json!({"order_number": "S-4", "pay_code": code, "amount": 1_000, "receiver_account_id": receiver,
           "terminal_id": terminal})
}

async fn pay_code(app: &TestApp, member: &str) -> String {
    let issued = app.post(&format!("/v1/members/{member}/pay-codes"), json!({})).await;
    issued.assert_status(StatusCode::CREATED)["code"].as_str().unwrap().to_owned()
}

on_both_backends!(a_payment_at_a_store_takes_its_methods_and_threshold_and_is_recorded, |db| {
    let app = app(db).await;
    let f = brand(&app).await;
    let (member, _) = member_of(&app, &f.at_a, &f.a, "13800000077").await;
    let basic = account_of(&app, &member, "basic").await;
    app.recharge(&member, &basic, 100_000, "test", "R-1").await;
    app.post(&format!("/v1/members/{member}/pay-password"), json!({"pay_password": "135790"}))
        .await
        .assert_status(StatusCode::CREATED);
    let a_receipts = account_of(&app, &f.a_member, "settlement").await;
    let b_receipts = account_of(&app, &f.b_member, "settlement").await;
    // A's store takes pay codes only; below 100.00 no pay password is asked.
    let body = json!({"name": "朝阳店", "address": "北京市朝阳区某某路1号", "payment_methods": ["pay_code"],
                      "pay_password_free_below": 10_000});
    let store = id(&open_store(&app, &f.at_a, &f.a, body).await);
    let terminal = add_terminal(&app, &f.at_a, &f.a, &store, "SN-A1").await;

    // By member id (balance) the store refuses.
    let balance = json!({"order_number": "S-0", "member_id": member, "amount": 100, "receiver_account_id": a_receipts,
                         "store_id": store});
    app.send_as(&f.at_a, "POST", "/v1/payments", balance)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "payment_method_not_accepted");

    // By pay code, below the threshold: no pay password; the store and terminal recorded.
    let code = pay_code(&app, &member).await;
    let mut body = by_code("S-1", &code, 5_000, &a_receipts, &store);
    body["terminal_id"] = json!(terminal);
    let paid = app.send_as(&f.at_a, "POST", "/v1/payments", body).await.assert_status(StatusCode::CREATED).clone();
    assert_eq!((paid["status"].as_str(), paid["store_id"].as_str()), (Some("paid"), Some(store.as_str())), "{paid}");
    assert_eq!(paid["terminal_id"], terminal.as_str());
    let read = app.send_as(&f.at_a, "GET", "/v1/payments/S-1", Value::Null).await;
    assert_eq!(read.assert_status(StatusCode::OK)["store_id"], store.as_str());
    // In the payer's flow and the merchant's.
    for who in [&member, &f.a_member] {
        let flow = app.get(&format!("/v1/members/{who}/wallet/flow")).await.assert_status(StatusCode::OK).clone();
        let line = flow["data"].as_array().unwrap().iter().find(|l| l["reference"] == "S-1").cloned().unwrap();
        assert_eq!(
            (line["store_id"].as_str(), line["terminal_id"].as_str()),
            (Some(store.as_str()), Some(terminal.as_str()))
        );
    }

    // At or above the threshold the pay password is asked; the code is left unspent by the refusal.
    let code = pay_code(&app, &member).await;
    app.send_as(&f.at_a, "POST", "/v1/payments", by_code("S-2", &code, 10_000, &a_receipts, &store))
        .await
        .assert_error(StatusCode::FORBIDDEN, "pay_password_required");
    let mut body = by_code("S-2", &code, 10_000, &a_receipts, &store);
    body["pay_password"] = json!("135790");
    app.send_as(&f.at_a, "POST", "/v1/payments", body).await.assert_status(StatusCode::CREATED);
    // The same amount with no store: the platform asks none.
    let plain =
        json!({"order_number": "S-3", "member_id": member, "amount": 10_000, "receiver_account_id": a_receipts});
    app.send_as(&f.at_a, "POST", "/v1/payments", plain).await.assert_status(StatusCode::CREATED);

    // The terminal alone names its store.
    let paid_code_s4 = pay_code(&app, &member).await;
    let body = paid_s4_body(&paid_code_s4, &a_receipts, &terminal);
    let paid = app.send_as(&f.at_a, "POST", "/v1/payments", body).await.assert_status(StatusCode::CREATED).clone();
    assert_eq!(paid["store_id"], store.as_str());

    // Another merchant's store, or a terminal of another store: refused, nothing paid.
    let b_store =
        id(&open_store(&app, &f.at_b, &f.b, json!({"name": "东城店", "address": "北京市东城区某某路3号"})).await);
    let b_terminal = add_terminal(&app, &f.at_b, &f.b, &b_store, "SN-B1").await;
    let code = pay_code(&app, &member).await;
    app.post("/v1/payments", by_code("S-5", &code, 1_000, &a_receipts, &b_store))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "store_not_receivers");
    let mut body = by_code("S-5", &code, 1_000, &a_receipts, &store);
    body["terminal_id"] = json!(b_terminal);
    app.post("/v1/payments", body).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "terminal_not_stores");
    app.post(
        "/v1/payments",
        json!({"order_number": "S-5", "pay_code": code, "amount": 1_000,
                                    "receiver_platform_account": "fee_income", "store_id": store}),
    )
    .await
    .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "store_not_receivers");
    // A's member at B's store, by pay code: its wallet is A's, refused at B.
    app.send_as(&f.at_b, "POST", "/v1/payments", by_code("S-6", &code, 1_000, &b_receipts, &b_store))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "member_scope_mismatch");

    // A disabled terminal, a closed store: refused.
    let disable = format!("/v1/merchants/{}/stores/{store}/terminals/{terminal}/disable", f.a);
    app.send_as(&f.at_a, "POST", &disable, json!({"reason": "broken"})).await.assert_status(StatusCode::OK);
    let mut body = by_code("S-7", &code, 1_000, &a_receipts, &store);
    body["terminal_id"] = json!(terminal);
    app.post("/v1/payments", body).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "terminal_disabled");
    let close = format!("/v1/merchants/{}/stores/{store}/close", f.a);
    app.send_as(&f.at_a, "POST", &close, json!({"reason": "closed down"})).await.assert_status(StatusCode::OK);
    app.post("/v1/payments", by_code("S-8", &code, 1_000, &a_receipts, &store))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "store_closed");

    // A payment made at the store, asked again after it closed, is answered as it was.
    let again = app.send_as(&f.at_a, "POST", "/v1/payments", paid_s4_body(&paid_code_s4, &a_receipts, &terminal)).await;
    assert_eq!(again.assert_status(StatusCode::CREATED)["store_id"], store.as_str());

    // What was paid: 50.00 + 100.00 + 100.00 + 10.00; the code refused throughout is still live.
    assert_eq!(app.balance(&basic).await, 100_000 - 26_000);
    assert_eq!(app.balance(&a_receipts).await, 26_000);
    app.post(
        "/v1/payments",
        json!({"order_number": "S-9", "pay_code": code, "amount": 100, "receiver_account_id": a_receipts}),
    )
    .await
    .assert_status(StatusCode::CREATED);
    app.verify_clean().await;
});

on_both_backends!(
    where_the_platform_requires_the_pay_password_a_store_waives_it_only_under_the_platforms_ceiling,
    |db| {
        let wallet = sanhu_service::wallet::WalletConfig {
            pay_password: sanhu_service::wallet::PayPasswordRule::Required,
            pay_password_free_max: 5_000,
            ..sanhu_testkit::world::wallet_config()
        };
        let parties = PartyConfig { stores_per_merchant_max: 3, terminals_per_store_max: 2, ..parties() };
        let app = app_with_wallet(db, parties, wallet).await;
        let f = brand(&app).await;
        let (member, _) = member_of(&app, &f.at_a, &f.a, "13800000078").await;
        let basic = account_of(&app, &member, "basic").await;
        app.recharge(&member, &basic, 100_000, "test", "R-1").await;
        let a_receipts = account_of(&app, &f.a_member, "settlement").await;
        // The merchant's own client sets a threshold far above the platform's ceiling.
        let body = json!({"name": "朝阳店", "address": "北京市朝阳区某某路1号", "pay_password_free_below": 1_000_000});
        let store = id(&open_store(&app, &f.at_a, &f.a, body).await);
        let pay = |number: &str, amount: i64| {
            json!({"order_number": number, "member_id": member, "amount": amount, "receiver_account_id": a_receipts,
               "store_id": store})
        };
        // Below the ceiling: waived. At or above it: asked, whatever the store says; nothing moved.
        app.send_as(&f.at_a, "POST", "/v1/payments", pay("W-1", 4_999)).await.assert_status(StatusCode::CREATED);
        app.send_as(&f.at_a, "POST", "/v1/payments", pay("W-2", 5_000))
            .await
            .assert_error(StatusCode::FORBIDDEN, "pay_password_required");
        // Away from the store the platform's rule stands.
        let plain =
            json!({"order_number": "W-3", "member_id": member, "amount": 100, "receiver_account_id": a_receipts});
        app.send_as(&f.at_a, "POST", "/v1/payments", plain)
            .await
            .assert_error(StatusCode::FORBIDDEN, "pay_password_required");
        assert_eq!(app.balance(&a_receipts).await, 4_999);
        app.verify_clean().await;
    }
);

/// The ids of the answers that created something (201); every other answer must be a refusal 422
/// `code` (never a conflict the caller could not have avoided).
fn created_or_refused(answers: &[TestResponse], code: &str) -> Vec<String> {
    let mut created = Vec::new();
    for answer in answers {
        match (answer.status, answer.code()) {
            (StatusCode::CREATED, _) => created.push(id(&answer.body)),
            (StatusCode::UNPROCESSABLE_ENTITY, refused) if refused == code => {}
            _ => panic!("answered {} {}", answer.status, answer.body),
        }
    }
    created
}

on_both_backends!(stores_and_terminals_opened_at_once_at_the_limits_stop_exactly_there, |db| {
    // At most 3 stores a merchant, 2 terminals a store.
    let app = app(db).await;
    let f = brand(&app).await;
    let stores = format!("/v1/merchants/{}/stores", f.a);
    let opening = |n: usize| json!({"name": format!("分店{n}"), "address": format!("北京市朝阳区某某路{n}号")});
    let answers = join_all((0..8).map(|n| app.send_as(&f.at_a, "POST", &stores, opening(n)))).await;
    let opened = created_or_refused(&answers, "store_limit_reached");
    assert_eq!(opened.len(), 3, "exactly the limit opens");
    let listed = app.send_as(&f.at_a, "GET", &stores, Value::Null).await.assert_status(StatusCode::OK).clone();
    let mut listed: Vec<String> = listed["data"].as_array().unwrap().iter().map(id).collect();
    let mut expected = opened.clone();
    listed.sort();
    expected.sort();
    assert_eq!(listed, expected);

    let terminals = format!("{stores}/{}/terminals", opened[0]);
    let adding = |n: usize| json!({"serial": format!("SN-{n:04}")});
    let answers = join_all((0..6).map(|n| app.send_as(&f.at_a, "POST", &terminals, adding(n)))).await;
    let added = created_or_refused(&answers, "terminal_limit_reached");
    assert_eq!(added.len(), 2, "exactly the limit is added");
    let store = app.send_as(&f.at_a, "GET", &format!("{stores}/{}", opened[0]), Value::Null).await;
    assert_eq!(store.assert_status(StatusCode::OK)["terminals"], 2);
    let listed = app.send_as(&f.at_a, "GET", &terminals, Value::Null).await.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["data"].as_array().unwrap().len(), 2, "{listed}");

    // The history has one entry for each that was made, and none for the refused.
    let history =
        app.get(&format!("/v1/merchants/{}/history?limit=100", f.a)).await.assert_status(StatusCode::OK).clone();
    let count = |action: &str| history["data"].as_array().unwrap().iter().filter(|e| e["action"] == action).count();
    assert_eq!((count("store.opened"), count("terminal.added")), (3, 2), "{history}");
});

async fn sms_code(app: &TestApp, phone: &str) -> String {
    let issued = app.post("/v1/one-time-codes", json!({"purpose": "payment", "phone": phone})).await;
    issued.assert_status(StatusCode::CREATED)["code"].as_str().unwrap().to_owned()
}

on_both_backends!(a_payment_by_phone_and_sms_code_at_a_store_keeps_its_store_and_terminal, |db| {
    // Payments by phone allowed; codes may be sent again at once.
    let parties = PartyConfig {
        stores_per_merchant_max: 3,
        terminals_per_store_max: 2,
        one_time_codes: OneTimeCodePolicy::new(6, 300, 5, 0).unwrap(),
        ..parties()
    };
    let app = app_with_wallet(db, parties, WalletConfig { pay_by_phone: true, ..world::wallet_config() }).await;
    let f = brand(&app).await;
    let phone = "13800000001";
    let (member, basic) = app.active_member(phone).await;
    app.recharge(&member, &basic, 10_000, "test", "R-1").await;
    let a_receipts = account_of(&app, &f.a_member, "settlement").await;
    // A's store takes phone and SMS codes only.
    let body = json!({"name": "朝阳店", "address": "北京市朝阳区某某路1号", "payment_methods": ["phone_sms"]});
    let store = id(&open_store(&app, &f.at_a, &f.a, body).await);
    let terminal = add_terminal(&app, &f.at_a, &f.a, &store, "SN-P1").await;
    let by_phone = |number: &str, code: &str| {
        json!({"order_number": number, "phone": phone, "sms_code": code, "amount": 1_000,
               "receiver_account_id": a_receipts, "store_id": store, "terminal_id": terminal})
    };

    // The payer is the platform's member, whom A's client does not reach: the platform's client pays.
    // By member id the store refuses; by phone and code it is paid, its store and terminal kept.
    let balance = json!({"order_number": "PH-0", "member_id": member, "amount": 1_000,
                         "receiver_account_id": a_receipts, "store_id": store});
    app.post("/v1/payments", balance)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "payment_method_not_accepted");
    let code = sms_code(&app, phone).await;
    let paid = app.post("/v1/payments", by_phone("PH-1", &code)).await;
    let paid = paid.assert_status(StatusCode::CREATED).clone();
    assert_eq!(
        (paid["member_id"].as_str(), paid["store_id"].as_str(), paid["terminal_id"].as_str()),
        (Some(member.as_str()), Some(store.as_str()), Some(terminal.as_str())),
        "{paid}"
    );
    let read = app.get("/v1/payments/PH-1").await;
    let read = read.assert_status(StatusCode::OK).clone();
    assert_eq!(
        (read["store_id"].as_str(), read["terminal_id"].as_str()),
        (Some(store.as_str()), Some(terminal.as_str()))
    );
    for who in [&member, &f.a_member] {
        let flow = app.get(&format!("/v1/members/{who}/wallet/flow")).await.assert_status(StatusCode::OK).clone();
        let line = flow["data"].as_array().unwrap().iter().find(|l| l["reference"] == "PH-1").cloned().unwrap();
        assert_eq!(
            (line["store_id"].as_str(), line["terminal_id"].as_str()),
            (Some(store.as_str()), Some(terminal.as_str())),
            "{line}"
        );
    }

    // Closed, the store is refused, and the refusal leaves the code unspent: it pays away from it.
    let close = format!("/v1/merchants/{}/stores/{store}/close", f.a);
    app.send_as(&f.at_a, "POST", &close, json!({"reason": "装修"})).await.assert_status(StatusCode::OK);
    let code = sms_code(&app, phone).await;
    app.post("/v1/payments", by_phone("PH-2", &code))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "store_closed");
    assert_eq!((app.balance(&basic).await, app.balance(&a_receipts).await), (9_000, 1_000));
    let away = json!({"order_number": "PH-3", "phone": phone, "sms_code": code, "amount": 500,
                      "receiver_account_id": a_receipts});
    let paid = app.post("/v1/payments", away).await.assert_status(StatusCode::CREATED).clone();
    assert_eq!(paid["store_id"], Value::Null);
    assert_eq!((app.balance(&basic).await, app.balance(&a_receipts).await), (8_500, 1_500));
    app.verify_clean().await;
});
