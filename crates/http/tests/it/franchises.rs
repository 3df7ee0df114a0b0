//! Franchises over HTTP (002 case 08), on SQLite and on PostgreSQL: a brand with two franchisees,
//! members registered for each (one person a member of both, under one customer), bound clients of
//! one franchisee tried against the other's ids (404, as if absent), a member's wallet spent at its
//! franchisee and refused at the other (`member_scope_mismatch`) unless the brand put both in one
//! wallet group, settings inherited down the path (set from above, locked, with their sources), the
//! counter's one-step opening with the franchisee's tiers and SMS verification, and the customer's
//! unified view of its wallets.

use axum::http::StatusCode;
use sanhu_testkit::app::{bound_client, Client, TestApp};
use sanhu_testkit::on_both_backends;
use serde_json::{json, Value};

use crate::merchant_hierarchy::{app, id_of, placed, sub_merchant};

const PHONE: &str = "13800000088";

/// A brand (a channel partner) with two franchisees (merchants under it): the members, the merchants
/// and a bound client of each.
pub(crate) struct Brand {
    pub(crate) brand: String,
    pub(crate) a: String,
    pub(crate) b: String,
    pub(crate) a_member: String,
    pub(crate) b_member: String,
    pub(crate) at_brand: Client,
    pub(crate) at_a: Client,
    pub(crate) at_b: Client,
}

pub(crate) async fn brand(app: &TestApp) -> Brand {
    let (brand_member, brand) = placed(app, 1, "channel_partner", None).await;
    let (a_member, a) = placed(app, 2, "merchant", Some(&brand)).await;
    let (b_member, b) = placed(app, 3, "merchant", Some(&brand)).await;
    let at_brand = bound_client(&app.db.store, &brand_member, "brand").await;
    let at_a = bound_client(&app.db.store, &a_member, "franchisee-a").await;
    let at_b = bound_client(&app.db.store, &b_member, "franchisee-b").await;
    // The brand signs the balance payment and authorises it to its franchisees, which receive payments.
    for merchant in [&brand, &a, &b] {
        app.sign_products(merchant, &["balance_payment"]).await;
    }
    Brand { brand, a, b, a_member, b_member, at_brand, at_a, at_b }
}

/// The first account of `member` of `account_type`.
pub(crate) async fn account_of(app: &TestApp, member: &str, account_type: &str) -> String {
    let accounts = app.get(&format!("/v1/members/{member}/accounts")).await;
    let list = accounts.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone();
    let found = list.iter().find(|a| a["account_type"] == account_type);
    found.unwrap_or_else(|| panic!("no {account_type} account in {list:?}"))["id"].as_str().unwrap().to_owned()
}

/// Registers and activates a member of `merchant` through `client`: (member, customer).
pub(crate) async fn member_of(app: &TestApp, client: &Client, merchant: &str, phone: &str) -> (String, String) {
    let body = json!({"phone": phone, "merchant_id": merchant, "name": "小王"});
    let registered = app.send_as(client, "POST", "/v1/members", body).await;
    let registered = registered.assert_status(StatusCode::CREATED).clone();
    let member = id_of(&registered["member"]);
    assert_eq!(registered["member"]["merchant_id"], merchant);
    let activated = app.send_as(client, "POST", &format!("/v1/members/{member}/activate"), json!({})).await;
    activated.assert_status(StatusCode::OK);
    (member, registered["customer"]["id"].as_str().unwrap().to_owned())
}

fn payment(number: &str, member: &str, amount: i64, receiver: &str) -> Value {
    json!({"order_number": number, "member_id": member, "amount": amount, "receiver_account_id": receiver})
}

on_both_backends!(franchisees_serve_their_own_members_and_their_wallets_are_spent_at_home, |db| {
    let app = app(db).await;
    let f = brand(&app).await;

    // A franchisee's client registers members for its own merchant only.
    let (at_a_member, customer) = member_of(&app, &f.at_a, &f.a, PHONE).await;
    app.send_as(&f.at_a, "POST", "/v1/members", json!({"phone": "13800000089"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "client_bound");
    app.send_as(&f.at_a, "POST", "/v1/members", json!({"phone": "13800000089", "merchant_id": f.b}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    // Registered again at the same franchisee, the phone finds its member.
    let again =
        app.send_as(&f.at_a, "POST", "/v1/members", json!({"phone": PHONE, "merchant_id": f.a, "name": "小王"})).await;
    assert_eq!(id_of(&again.assert_status(StatusCode::OK)["member"]), at_a_member);
    // The same person at the other franchisee, registered by the platform: a member of its own,
    // under the same customer. B's client, proving nothing, does not join a customer known elsewhere.
    let registered = app.post("/v1/members", json!({"phone": PHONE, "merchant_id": f.b})).await;
    let registered = registered.assert_status(StatusCode::CREATED).clone();
    let at_b_member = id_of(&registered["member"]);
    app.send_as(&f.at_b, "POST", &format!("/v1/members/{at_b_member}/activate"), json!({}))
        .await
        .assert_status(StatusCode::OK);
    assert_ne!(at_a_member, at_b_member);
    assert_eq!(registered["customer"]["id"], customer.as_str());
    let (platform_person, platform_customer) = app.register("13800000033").await;
    let (_, apart) = member_of(&app, &f.at_b, &f.b, "13800000033").await;
    assert_ne!(apart, platform_customer, "{platform_person}");

    // Each franchisee's client reaches its members, never the other's; the brand reaches both.
    let get = |m: &str| format!("/v1/members/{m}");
    app.send_as(&f.at_a, "GET", &get(&at_a_member), Value::Null).await.assert_status(StatusCode::OK);
    for (client, other) in [(&f.at_a, &at_b_member), (&f.at_b, &at_a_member)] {
        for path in [get(other), format!("{}/wallet", get(other)), format!("{}/accounts", get(other))] {
            app.send_as(client, "GET", &path, Value::Null)
                .await
                .assert_error(StatusCode::NOT_FOUND, "member_not_found");
        }
        let activate = app.send_as(client, "POST", &format!("{}/lock", get(other)), json!({"reason": "x"})).await;
        activate.assert_error(StatusCode::NOT_FOUND, "member_not_found");
    }
    for member in [&at_a_member, &at_b_member] {
        app.send_as(&f.at_brand, "GET", &get(member), Value::Null).await.assert_status(StatusCode::OK);
    }

    // Money recharged at A is spent at A (and at A's store), refused at B.
    let basic = account_of(&app, &at_a_member, "basic").await;
    app.recharge(&at_a_member, &basic, 50_000, "test", "R-A-1").await;
    let a_receipts = account_of(&app, &f.a_member, "settlement").await;
    let b_receipts = account_of(&app, &f.b_member, "settlement").await;
    let paid = app.send_as(&f.at_a, "POST", "/v1/payments", payment("P-A-1", &at_a_member, 10_000, &a_receipts)).await;
    paid.assert_status(StatusCode::CREATED);
    let refused =
        app.send_as(&f.at_a, "POST", "/v1/payments", payment("P-B-1", &at_a_member, 10_000, &b_receipts)).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "member_scope_mismatch");
    let refused = app.post("/v1/payments", payment("P-B-2", &at_a_member, 10_000, &b_receipts)).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "member_scope_mismatch");
    // B's client cannot name A's member at all.
    let foreign = app.send_as(&f.at_b, "POST", "/v1/payments", payment("P-B-3", &at_a_member, 100, &b_receipts)).await;
    foreign.assert_error(StatusCode::NOT_FOUND, "member_not_found");
    // Nor does it leave A by a member transfer, to B's member or the platform's.
    let (platform_member, _) = app.active_member("13800000066").await;
    for receiver in [&at_b_member, &platform_member] {
        let transfer = json!({"order_number": format!("T-{receiver}"), "sender_member_id": at_a_member,
                              "receiver_member_id": receiver, "amount": 100});
        app.post("/v1/member-transfers", transfer)
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "member_scope_mismatch");
    }
    // Its identities are its merchant's: not changed into platform-wide ones.
    let added = app.post(&format!("/v1/members/{at_a_member}/identities"), json!({"email": "wang@example.com"})).await;
    added.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_member_identities_fixed");
    // A store below A receives from A's members.
    let store = app.send_as(&f.at_a, "POST", &format!("/v1/merchants/{}/sub-merchants", f.a), sub_merchant(6)).await;
    let store = store.assert_status(StatusCode::CREATED);
    let store_member = store["member_id"].as_str().unwrap().to_owned();
    app.sign_products(store["id"].as_str().unwrap(), &["balance_payment"]).await;
    let store_basic = account_of(&app, &store_member, "basic").await;
    app.send_as(&f.at_a, "POST", "/v1/payments", payment("P-S-1", &at_a_member, 5_000, &store_basic))
        .await
        .assert_status(StatusCode::CREATED);
    assert_eq!(app.wallet(&at_a_member).await["balance"], 35_000);

    // The brand puts both franchisees in one wallet group: A's members spend at B too.
    for merchant in [&f.a, &f.b] {
        let set = app
            .send_as(
                &f.at_brand,
                "POST",
                &format!("/v1/merchants/{merchant}/settings"),
                json!({"wallet_group": "east"}),
            )
            .await;
        assert_eq!(set.assert_status(StatusCode::OK)["wallet_group"]["source"], merchant.as_str());
    }
    app.send_as(&f.at_a, "POST", "/v1/payments", payment("P-B-4", &at_a_member, 5_000, &b_receipts))
        .await
        .assert_status(StatusCode::CREATED);

    // The unified view: the platform and the brand see both wallets, each franchisee its own.
    let path = format!("/v1/customers/{customer}/wallets");
    for client in [None, Some(&f.at_brand)] {
        let view = match client {
            None => app.get(&path).await,
            Some(client) => app.send_as(client, "GET", &path, Value::Null).await,
        };
        let view = view.assert_status(StatusCode::OK).clone();
        assert_eq!(view["data"].as_array().unwrap().len(), 2, "{view}");
        assert_eq!(view["balance"], 30_000);
    }
    let own = app.send_as(&f.at_b, "GET", &path, Value::Null).await;
    let own = own.assert_status(StatusCode::OK).clone();
    assert_eq!(own["data"].as_array().unwrap().len(), 1);
    assert_eq!((own["data"][0]["merchant_id"].as_str(), own["balance"].as_i64()), (Some(f.b.as_str()), Some(0)));
    // A customer with no member a client reaches is not there for it.
    let (_, stranger_customer) = app.register("13800000077").await;
    app.send_as(&f.at_a, "GET", &format!("/v1/customers/{stranger_customer}/wallets"), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "customer_not_found");
    let _ = (&f.brand, &f.at_b);
    app.verify_clean().await;
});

/// A tier from an hour ago until a day from now.
fn tier(code: &str, pay: i64, bonus: i64) -> Value {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let at = |s: i64| sanhu_core::Timestamp::from_nanos(s * 1_000_000_000).to_string();
    json!({"code": code, "pay": pay, "bonus": bonus, "starts_at": at(now - 3600), "ends_at": at(now + 86_400)})
}

on_both_backends!(settings_are_inherited_set_from_above_and_used_at_the_counter, |db| {
    let app = app(db).await;
    let f = brand(&app).await;
    let settings = |m: &str| format!("/v1/merchants/{m}/settings");

    // The platform's, until the brand sets its own, locking the tiers for its franchisees.
    let platform = app.get(&settings(&f.a)).await;
    let platform = platform.assert_status(StatusCode::OK).clone();
    assert_eq!(platform["recharge_tiers"]["source"], "platform");
    assert_eq!(platform["sms_verification_to_open"], json!({"value": false, "source": "platform"}));
    let body = json!({"recharge_tiers": [tier("gold", 10_000, 1_000)], "sms_verification_to_open": true,
                      "locked": ["recharge_tiers"]});
    app.send_as(&f.at_brand, "POST", &settings(&f.brand), body.clone())
        .await
        .assert_error(StatusCode::FORBIDDEN, "merchant_settings_from_above");
    app.post(&settings(&f.brand), body).await.assert_status(StatusCode::OK);
    let inherited = app.send_as(&f.at_a, "GET", &settings(&f.a), Value::Null).await;
    let inherited = inherited.assert_status(StatusCode::OK).clone();
    assert_eq!(inherited["recharge_tiers"]["source"], f.brand.as_str());
    assert_eq!(inherited["recharge_tiers"]["value"][0]["code"], "gold");
    assert_eq!(inherited["sms_verification_to_open"]["value"], true);
    assert_eq!(inherited["locked"], json!([{"setting": "recharge_tiers", "by": f.brand}]));

    // The brand's client sets a franchisee's; the franchisee's own client does not; a locked one
    // nobody overrides below; the other franchisee's client reaches neither.
    let no_withdrawals = json!({"withdrawal_allowed": false, "account_types": ["basic", "bonus"]});
    let set = app.send_as(&f.at_brand, "POST", &settings(&f.a), no_withdrawals.clone()).await;
    let set = set.assert_status(StatusCode::OK).clone();
    assert_eq!(set["withdrawal_allowed"], json!({"value": false, "source": f.a}));
    app.send_as(&f.at_a, "POST", &settings(&f.a), no_withdrawals.clone())
        .await
        .assert_error(StatusCode::FORBIDDEN, "merchant_settings_from_above");
    let bonus = json!({"recharge_tiers": [tier("silver", 5_000, 100)]});
    app.send_as(&f.at_brand, "POST", &settings(&f.b), bonus)
        .await
        .assert_error(StatusCode::FORBIDDEN, "merchant_tier_bonus_platform_only");
    let tiers = json!({"recharge_tiers": [tier("silver", 5_000, 0)]});
    app.send_as(&f.at_brand, "POST", &settings(&f.a), tiers.clone())
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_setting_locked");
    app.post(&settings(&f.a), tiers).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_setting_locked");
    for path in [settings(&f.a)] {
        app.send_as(&f.at_b, "GET", &path, Value::Null).await.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
        app.send_as(&f.at_b, "POST", &path, no_withdrawals.clone())
            .await
            .assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    }
    for bad in [
        json!({"account_types": ["nonexistent"]}),
        json!({"recharge_tiers": [tier("a", 100, 1), tier("a", 200, 2)]}),
        json!({"unset": ["colour"]}),
        json!({"wallet_group": ""}),
        json!({"recharge_tiers": [tier("b", 100, 101)]}),
    ] {
        app.post(&settings(&f.b), bad).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_setting_invalid");
    }

    // Registered around the counter, the code is not skipped.
    let around = json!({"phone": "13800000055", "merchant_id": f.a});
    app.send_as(&f.at_a, "POST", "/v1/members", around)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "merchant_requires_counter_opening");
    // A refused opening opens nothing: an unknown channel leaves the phone unknown at A.
    let unknown_channel = json!({"phone": "13800000044", "tier": "gold", "channel": "nope", "order_number": "C-9"});
    app.send_as(&f.at_a, "POST", &format!("/v1/merchants/{}/counter-openings", f.a), unknown_channel)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "channel_not_configured");
    // The counter at A: the SMS code the brand requires, then one step opens and recharges at the
    // brand's tier; run again under its Idempotency-Key, it answers the same.
    let counter = format!("/v1/merchants/{}/counter-openings", f.a);
    let mut opening = json!({"phone": PHONE, "name": "老李", "tier": "gold", "channel": "test", "order_number": "C-1"});
    app.send_as(&f.at_a, "POST", &counter, opening.clone())
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "sms_verification_required");
    let unknown = json!({"phone": PHONE, "tier": "platinum", "channel": "test", "order_number": "C-0"});
    app.send_as(&f.at_a, "POST", &counter, unknown)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "recharge_tier_unavailable");
    let issued = app.post("/v1/one-time-codes", json!({"purpose": "register", "phone": PHONE})).await;
    opening["sms_code"] = issued.assert_status(StatusCode::CREATED)["code"].clone();
    app.send_as(&f.at_b, "POST", &counter, opening.clone())
        .await
        .assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    let body = serde_json::to_vec(&opening).unwrap();
    let first = app.send_signed(&f.at_a, "POST", &counter, &body, &[("idempotency-key", "counter-1")]).await;
    let first = first.assert_status(StatusCode::CREATED).clone();
    let member = id_of(&first["member"]);
    assert_eq!(first["registered"], true);
    assert_eq!((first["member"]["status"].as_str(), first["member"]["name"].as_str()), (Some("normal"), Some("老李")));
    assert_eq!(
        (first["recharge"]["amount"].as_i64(), first["recharge"]["status"].as_str()),
        (Some(10_000), Some("pending"))
    );
    let replay = app.send_signed(&f.at_a, "POST", &counter, &body, &[("idempotency-key", "counter-1")]).await;
    assert!(replay.replayed());
    assert_eq!(replay.assert_status(StatusCode::CREATED)["member"]["id"], member.as_str());
    // Without the key, the same opening finds the member and the order: nothing twice.
    let again = app.send_as(&f.at_a, "POST", &counter, opening).await;
    let again = again.assert_status(StatusCode::CREATED).clone();
    assert_eq!((again["registered"].as_bool(), again["member"]["id"].as_str()), (Some(false), Some(member.as_str())));

    // The channel confirms: the brand's tier's bonus is credited.
    let confirmed = app.post(&format!("/v1/recharges/C-1/confirm?client_id={}", f.at_a.id), json!({})).await;
    assert_eq!(confirmed.assert_status(StatusCode::OK)["bonus"], 1_000);
    let wallet = app.send_as(&f.at_a, "GET", &format!("/v1/members/{member}/wallet"), Value::Null).await;
    assert_eq!(wallet.assert_status(StatusCode::OK)["balance"], 11_000);
    // Withdrawals are not A's members' to make.
    let card = "bcd_01M983V8F0B4NM9NX4D4E4YB3Z";
    let withdrawal = json!({"order_number": "W-1", "member_id": member, "amount": 100, "bank_card_id": card});
    app.post("/v1/withdrawals", withdrawal)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "withdrawal_not_offered");
    // A's members are offered the types A offers.
    let margin = app
        .send_as(&f.at_a, "POST", &format!("/v1/members/{member}/accounts"), json!({"account_type": "margin"}))
        .await;
    margin.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "account_type_not_offered");
    let _ = (&f.b_member, &f.a_member);
});

/// The lines of `member`'s flow (as `client`) with the business code `code`: (direction, amount).
async fn flow_lines(app: &TestApp, client: Option<&Client>, member: &str, code: &str) -> Vec<(String, i64)> {
    let path = format!("/v1/members/{member}/wallet/flow?limit=100");
    let flow = match client {
        Some(client) => app.send_as(client, "GET", &path, Value::Null).await,
        None => app.get(&path).await,
    };
    let flow = flow.assert_status(StatusCode::OK).clone();
    let lines = flow["data"].as_array().unwrap().iter().filter(|l| l["business_type"] == code);
    lines.map(|l| (l["direction"].as_str().unwrap().to_owned(), l["amount"].as_i64().unwrap())).collect()
}

async fn balance(app: &TestApp, member: &str) -> (i64, i64) {
    let wallet = app.get(&format!("/v1/members/{member}/wallet")).await;
    let wallet = wallet.assert_status(StatusCode::OK).clone();
    (wallet["balance"].as_i64().unwrap(), wallet["available"].as_i64().unwrap())
}

on_both_backends!(a_franchisee_clears_its_members_wallet_offline_after_a_staff_review, |db| {
    let app = app(db).await;
    let f = brand(&app).await;
    let brand_settings = json!({"clearance_account_type": "settlement"});
    app.post(&format!("/v1/merchants/{}/settings", f.brand), brand_settings).await.assert_status(StatusCode::OK);
    let (member, _) = member_of(&app, &f.at_a, &f.a, PHONE).await;
    let (at_b_member, _) = member_of(&app, &f.at_b, &f.b, "13800000077").await;
    let basic = account_of(&app, &member, "basic").await;
    app.recharge(&member, &basic, 50_000, "test", "R-C-1").await;
    let a_receipts = account_of(&app, &f.a_member, "settlement").await;
    let clear = |m: &str| format!("/v1/merchants/{m}/wallet-clearances");
    let body = |number: &str, m: &str| json!({"clearance_number": number, "member_id": m, "reason": "现金退卡"});

    // B's client reaches neither A nor A's member; a member not the merchant's is not cleared there.
    app.send_as(&f.at_b, "POST", &clear(&f.a), body("C-1", &member))
        .await
        .assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    app.send_as(&f.at_b, "POST", &clear(&f.b), body("C-1", &member))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    app.post(&clear(&f.b), body("C-1", &member))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "wallet_not_merchants");
    app.send_as(&f.at_a, "POST", &clear(&f.a), body("C-1", &at_b_member))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    // Money held (an authorised payment) is not given up.
    let mut authorise = payment("P-H-1", &member, 1_000, &a_receipts);
    authorise["authorise_timeout_s"] = json!(600);
    app.post("/v1/payments", authorise).await.assert_status(StatusCode::CREATED);
    app.send_as(&f.at_a, "POST", &clear(&f.a), body("C-1", &member))
        .await
        .assert_error(StatusCode::CONFLICT, "wallet_has_held_money");
    app.post("/v1/payments/P-H-1/release", json!({})).await.assert_status(StatusCode::OK);

    // A asks; the money is set aside at once, under review.
    let asked = app.send_as(&f.at_a, "POST", &clear(&f.a), body("C-1", &member)).await;
    let asked = asked.assert_status(StatusCode::CREATED).clone();
    assert_eq!((asked["status"].as_str(), asked["amount"].as_i64()), (Some("under_review"), Some(50_000)), "{asked}");
    assert_eq!(asked["receiver_account_id"], a_receipts.as_str());
    assert_eq!(balance(&app, &member).await, (50_000, 0));
    let again = app.send_as(&f.at_a, "POST", &clear(&f.a), body("C-1", &member)).await;
    assert_eq!(again.assert_status(StatusCode::CREATED)["status"], "under_review");
    app.send_as(&f.at_a, "POST", "/v1/payments", payment("P-C-1", &member, 100, &a_receipts))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");
    let one = format!("{}/C-1", clear(&f.a));
    app.send_as(&f.at_a, "GET", &one, Value::Null).await.assert_status(StatusCode::OK);
    app.send_as(&f.at_b, "GET", &one, Value::Null).await.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    app.send_as(&f.at_a, "GET", &format!("{}/C-9", clear(&f.a)), Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "clearance_not_found");

    // Reviewed by staff, two of them; never by a client.
    let review = format!("{one}/review");
    app.send_as(&f.at_a, "POST", &review, json!({"decision": "approve"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "scope_missing");
    app.post(&review, json!({"decision": "approve"}))
        .await
        .assert_error(StatusCode::FORBIDDEN, "clearance_review_staff_only");
    let (status, cleared) = app.held_and_approved(&review, json!({"decision": "approve", "reason": "已核实"})).await;
    assert_eq!((status, cleared["status"].as_str()), (200, Some("cleared")), "{cleared}");
    assert!(cleared["checker"].is_string(), "{cleared}");
    assert_eq!(balance(&app, &member).await, (0, 0));
    // In both flows: the member's money out, A's account's in.
    assert_eq!(flow_lines(&app, Some(&f.at_a), &member, "clearance").await, [("out".to_owned(), 50_000)]);
    assert_eq!(flow_lines(&app, Some(&f.at_a), &f.a_member, "clearance").await, [("in".to_owned(), 50_000)]);
    // Decided once; a clear wallet is not cleared again.
    let (status, twice) = app.held_and_approved(&review, json!({"decision": "reject"})).await;
    assert_eq!((status, twice["error"]["code"].as_str()), (409, Some("clearance_not_under_review")), "{twice}");
    app.send_as(&f.at_a, "POST", &clear(&f.a), body("C-2", &member))
        .await
        .assert_error(StatusCode::CONFLICT, "wallet_already_clear");

    // A rejected clearance gives the member its money back.
    app.recharge(&member, &basic, 2_000, "test", "R-C-2").await;
    app.send_as(&f.at_a, "POST", &clear(&f.a), body("C-3", &member)).await.assert_status(StatusCode::CREATED);
    let path = format!("{}/C-3/review", clear(&f.a));
    let (status, rejected) = app.held_and_approved(&path, json!({"decision": "reject", "reason": "未退现金"})).await;
    assert_eq!((status, rejected["status"].as_str()), (200, Some("rejected")), "{rejected}");
    assert_eq!(balance(&app, &member).await, (2_000, 2_000));

    // A bonus goes back to the platform's marketing expense, which paid it; the franchisee gets what
    // the member paid in only.
    let tier = json!({"recharge_tiers": [{"code": "t20", "pay": 2_000, "bonus": 500,
        "starts_at": "2026-01-01T00:00:00+08:00", "ends_at": "2036-01-01T00:00:00+08:00"}]});
    app.post(&format!("/v1/merchants/{}/settings", f.brand), tier).await.assert_status(StatusCode::OK);
    app.recharge(&member, &basic, 2_000, "test", "R-C-3").await;
    assert_eq!(balance(&app, &member).await, (4_500, 4_500));
    let before = balance(&app, &f.a_member).await.0;
    let asked = app.send_as(&f.at_a, "POST", &clear(&f.a), body("C-4", &member)).await;
    let asked = asked.assert_status(StatusCode::CREATED).clone();
    let to_merchant: i64 = asked["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["receiver_account_id"] == a_receipts.as_str())
        .map(|p| p["amount"].as_i64().unwrap())
        .sum();
    assert_eq!((asked["amount"].as_i64(), to_merchant), (Some(4_500), 4_000), "{asked}");
    let path = format!("{}/C-4/review", clear(&f.a));
    let (status, cleared) = app.held_and_approved(&path, json!({"decision": "approve"})).await;
    assert_eq!((status, cleared["status"].as_str()), (200, Some("cleared")), "{cleared}");
    assert_eq!(balance(&app, &member).await, (0, 0));
    assert_eq!(balance(&app, &f.a_member).await.0 - before, 4_000);
});

on_both_backends!(cross_wallet_top_ups_move_a_persons_money_between_franchisees_where_the_brand_allows, |db| {
    let app = app(db).await;
    let f = brand(&app).await;
    let (at_a, customer) = member_of(&app, &f.at_a, &f.a, PHONE).await;
    let registered = app.post("/v1/members", json!({"phone": PHONE, "merchant_id": f.b})).await;
    let at_b = id_of(&registered.assert_status(StatusCode::CREATED)["member"]);
    app.activate(&at_b).await;
    let (stranger, _) = member_of(&app, &f.at_b, &f.b, "13800000066").await;
    for (member, number) in [(&at_a, "R-T-1"), (&at_b, "R-T-2")] {
        let basic = account_of(&app, member, "basic").await;
        app.recharge(member, &basic, 10_000, "test", number).await;
    }
    let top_up = |number: &str, from: &str, to: &str, amount: i64| json!({"order_number": number, "from_member_id": from, "to_member_id": to, "amount": amount});

    // Not until the brand allows it.
    app.send_as(&f.at_brand, "POST", "/v1/wallet-top-ups", top_up("T-1", &at_a, &at_b, 3_000))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "cross_wallet_top_up_not_allowed");
    let allow = json!({"cross_wallet_top_up": true});
    app.post(&format!("/v1/merchants/{}/settings", f.brand), allow).await.assert_status(StatusCode::OK);
    // A franchisee's client reaches one of the two wallets only; another person's wallet is refused.
    app.send_as(&f.at_a, "POST", "/v1/wallet-top-ups", top_up("T-1", &at_a, &at_b, 3_000))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    app.send_as(&f.at_b, "POST", "/v1/wallet-top-ups", top_up("T-1", &at_a, &at_b, 3_000))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    app.send_as(&f.at_brand, "POST", "/v1/wallet-top-ups", top_up("T-1", &at_a, &stranger, 3_000))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "top_up_members_differ");
    app.send_as(&f.at_brand, "POST", "/v1/wallet-top-ups", top_up("T-1", &at_a, &at_b, 30_000))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");

    // The brand's client moves 30.00 from A to B: one chain, the settlement between them recorded.
    let moved = app.send_as(&f.at_brand, "POST", "/v1/wallet-top-ups", top_up("T-1", &at_a, &at_b, 3_000)).await;
    let moved = moved.assert_status(StatusCode::CREATED).clone();
    assert_eq!(moved["status"], "moved", "{moved}");
    assert_eq!(moved["customer_id"], customer.as_str());
    assert_eq!(moved["settlement"], json!({"debtor_merchant_id": f.a, "creditor_merchant_id": f.b, "amount": 3_000}));
    let again = app.send_as(&f.at_brand, "POST", "/v1/wallet-top-ups", top_up("T-1", &at_a, &at_b, 3_000)).await;
    assert_eq!(again.assert_status(StatusCode::CREATED)["status"], "moved");
    app.send_as(&f.at_brand, "POST", "/v1/wallet-top-ups", top_up("T-1", &at_a, &at_b, 3_001))
        .await
        .assert_error(StatusCode::CONFLICT, "order_number_reused");
    assert_eq!(balance(&app, &at_a).await.0, 7_000);
    assert_eq!(balance(&app, &at_b).await.0, 13_000);
    assert_eq!(flow_lines(&app, None, &at_a, "wallet_top_up").await, [("out".to_owned(), 3_000)]);
    assert_eq!(flow_lines(&app, None, &at_b, "wallet_top_up").await, [("in".to_owned(), 3_000)]);
    let history = app.send_as(&f.at_b, "GET", &format!("/v1/merchants/{}/history", f.b), Value::Null).await;
    let history = history.assert_status(StatusCode::OK).to_string();
    assert!(history.contains("merchant.settlement_recorded"), "{history}");
    let read = app.send_as(&f.at_brand, "GET", "/v1/wallet-top-ups/T-1", Value::Null).await;
    assert_eq!(read.assert_status(StatusCode::OK)["amount"], 3_000);

    // A locked wallet at B receives nothing.
    app.post(&format!("/v1/members/{at_b}/lock"), json!({"reason": "挂失"})).await.assert_status(StatusCode::OK);
    let refused = app.send_as(&f.at_brand, "POST", "/v1/wallet-top-ups", top_up("T-L", &at_a, &at_b, 100)).await;
    assert!(refused.status.is_client_error(), "{}", refused.text);
    assert_eq!(balance(&app, &at_a).await.0, 7_000);
    app.post(&format!("/v1/members/{at_b}/unlock"), json!({"reason": "找回"})).await.assert_status(StatusCode::OK);

    // Opposite top-ups at once: each taken in turn on both wallets, none deadlocked, money conserved.
    let answers = futures_util::future::join_all((0..8).map(|n| {
        let (from, to) = if n % 2 == 0 { (&at_a, &at_b) } else { (&at_b, &at_a) };
        let body = top_up(&format!("X-{n}"), from, to, 500);
        let (app, client) = (&app, &f.at_brand);
        async move { app.send_as(client, "POST", "/v1/wallet-top-ups", body).await }
    }))
    .await;
    for answer in answers {
        assert_eq!(answer.assert_status(StatusCode::CREATED)["status"], "moved");
    }
    assert_eq!(balance(&app, &at_a).await.0 + balance(&app, &at_b).await.0, 20_000);
    assert_eq!(balance(&app, &at_a).await.0, 7_000);
});
