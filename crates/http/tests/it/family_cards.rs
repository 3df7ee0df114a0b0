//! Family cards (亲情卡) over HTTP on SQLite and PostgreSQL: a member grants another a card on one of
//! its accounts; the family member pays with it (its own pay password) within the limit per payment
//! and per month, from the owner's account, shown in both members' flows; payments over a limit, on a
//! revoked card or someone else's card are refused; concurrent payments never pass the month's limit;
//! a refund gives its use back; the cap on cards per owner; the owner's and the family member's own
//! payment limits, and the owner's franchise scope, held on a card's payment; and what clients bound
//! to members reach: the family member's own client pays and sees the card without the owner's
//! account, another tenant's finds the card and its ids absent.

use axum::http::StatusCode;
use futures_util::future::join_all;
use sanhu_testkit::app::{bound_client, TestApp};
use sanhu_testkit::{on_both_backends, world, TestDatabase};
use serde_json::{json, Value};

use crate::franchises::{account_of, brand, member_of};

async fn app(db: TestDatabase) -> TestApp {
    TestApp::new(db, world::party_config(), world::wallet_config()).await
}

async fn grant(app: &TestApp, owner: &str, account: &str, family: &str, per_payment: i64, monthly: i64) -> Value {
    let body = json!({"account_id": account, "family_member_id": family, "per_payment_limit": per_payment, "monthly_limit": monthly});
    let granted = app.post(&format!("/v1/members/{owner}/family-cards"), body).await;
    granted.assert_status(StatusCode::CREATED).clone()
}

fn pay(number: &str, payer: &str, card: &str, amount: i64, receiver: &str) -> Value {
    json!({"order_number": number, "member_id": payer, "family_card_id": card, "amount": amount, "receiver_account_id": receiver})
}

async fn card(app: &TestApp, id: &str) -> Value {
    app.get(&format!("/v1/family-cards/{id}")).await.assert_status(StatusCode::OK).clone()
}

async fn flow(app: &TestApp, member: &str) -> Vec<Value> {
    let flow = app.get(&format!("/v1/members/{member}/wallet/flow?limit=100")).await;
    flow.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone()
}

on_both_backends!(a_family_member_pays_from_the_owners_account_within_the_cards_limits, |db| {
    let app = app(db).await;
    let (alice, alice_basic) = app.active_member("13800000001").await;
    let (bob, bob_basic) = app.active_member("13800000002").await;
    let (_, shop) = app.active_member("13800000003").await;
    app.recharge(&alice, &alice_basic, 100_000, "test", "R-1").await;
    app.post(&format!("/v1/members/{bob}/pay-password"), json!({"pay_password": "135790"}))
        .await
        .assert_status(StatusCode::CREATED);

    // What a grant must be.
    let grants = format!("/v1/members/{alice}/family-cards");
    let body = |account: &str, family: &str, per: i64, month: i64| json!({"account_id": account, "family_member_id": family, "per_payment_limit": per, "monthly_limit": month});
    app.post(&grants, body(&alice_basic, &alice, 100, 1_000))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "family_card_same_member");
    app.post(&grants, body(&bob_basic, &bob, 100, 1_000))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "family_card_account_invalid");
    app.post(&grants, body(&alice_basic, &bob, 2_000, 1_000))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "family_card_limits_invalid");

    let granted = grant(&app, &alice, &alice_basic, &bob, 5_000, 12_000).await;
    let id = granted["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("fcd_"), "{granted}");
    assert_eq!(granted["status"], "active");
    assert_eq!(
        (granted["used_this_month"].as_i64(), granted["remaining_this_month"].as_i64()),
        (Some(0), Some(12_000))
    );

    // Bob pays with his own pay password; the money is Alice's.
    let mut first = pay("FAM-1", &bob, &id, 4_000, &shop);
    first["pay_password"] = json!("000000");
    app.post("/v1/payments", first.clone()).await.assert_error(StatusCode::FORBIDDEN, "pay_password_incorrect");
    first["pay_password"] = json!("135790");
    let paid = app.post("/v1/payments", first).await;
    let paid = paid.assert_status(StatusCode::CREATED).clone();
    assert_eq!((paid["status"].as_str(), paid["member_id"].as_str()), (Some("paid"), Some(bob.as_str())), "{paid}");
    assert_eq!(paid["family_card_id"], id.as_str());
    assert_eq!(paid["deductions"], json!([{"account_id": alice_basic, "amount": 4_000}]));
    assert_eq!(
        (app.balance(&alice_basic).await, app.balance(&bob_basic).await, app.balance(&shop).await),
        (96_000, 0, 4_000)
    );

    // Over the limit per payment, then over what remains of the month: refused, nothing moves.
    app.post("/v1/payments", pay("FAM-2", &bob, &id, 5_001, &shop))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "family_card_per_payment_limit_exceeded");
    app.post("/v1/payments", pay("FAM-3", &bob, &id, 5_000, &shop)).await.assert_status(StatusCode::CREATED);
    app.post("/v1/payments", pay("FAM-4", &bob, &id, 3_001, &shop))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "family_card_monthly_limit_exceeded");
    let read = card(&app, &id).await;
    assert_eq!((read["used_this_month"].as_i64(), read["remaining_this_month"].as_i64()), (Some(9_000), Some(3_000)));
    assert_eq!(read["payments"], 2);

    // Only the family member pays with it, at once, to one receiver.
    app.post("/v1/payments", pay("FAM-5", &alice, &id, 100, &shop))
        .await
        .assert_error(StatusCode::NOT_FOUND, "family_card_not_found");
    let mut escrow = pay("FAM-6", &bob, &id, 100, &shop);
    escrow["escrow"] = json!(true);
    app.post("/v1/payments", escrow)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "family_card_payment_invalid");

    // A refund goes back to Alice's account and gives the month its use back.
    let refund = json!({"refund_number": "FAM-1-R1", "amount": 3_000});
    app.post("/v1/payments/FAM-1/refunds", refund).await.assert_status(StatusCode::CREATED);
    assert_eq!(app.balance(&alice_basic).await, 94_000);
    assert_eq!(card(&app, &id).await["used_this_month"], 6_000);
    app.post("/v1/payments", pay("FAM-7", &bob, &id, 5_000, &shop)).await.assert_status(StatusCode::CREATED);
    assert_eq!(card(&app, &id).await["remaining_this_month"], 1_000);

    // Both flows show it: Alice's names Bob, Bob's shows the money passing through.
    let alice_lines = flow(&app, &alice).await;
    let alice_out: Vec<&Value> = alice_lines.iter().filter(|l| l["business_type"] == "family_card").collect();
    assert_eq!(alice_out.len(), 3, "{alice_lines:?}");
    assert!(alice_out.iter().all(|l| l["direction"] == "out" && l["counterparty"]["member_id"] == bob.as_str()));
    let bob_lines = flow(&app, &bob).await;
    let of = |code: &str, direction: &str| {
        bob_lines.iter().filter(|l| l["business_type"] == code && l["direction"] == direction).count()
    };
    assert_eq!((of("family_card", "in"), of("pay", "out")), (3, 3), "{bob_lines:?}");
    assert!(bob_lines.iter().any(|l| l["reference"] == "FAM-7" && l["counterparty"]["account_id"] == shop.as_str()));

    // Both members list it.
    let owned = app.get(&format!("/v1/members/{alice}/family-cards")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(
        (owned["owned"][0]["id"].as_str(), owned["granted"].as_array().map(Vec::len)),
        (Some(id.as_str()), Some(0))
    );
    let held = app.get(&format!("/v1/members/{bob}/family-cards")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(
        (held["granted"][0]["id"].as_str(), held["owned"].as_array().map(Vec::len)),
        (Some(id.as_str()), Some(0))
    );

    // Revoked, at once.
    let revoked = app.post(&format!("/v1/family-cards/{id}/revoke"), json!({})).await;
    assert_eq!(revoked.assert_status(StatusCode::OK)["status"], "revoked");
    app.post("/v1/payments", pay("FAM-8", &bob, &id, 100, &shop))
        .await
        .assert_error(StatusCode::CONFLICT, "family_card_revoked");
    assert_eq!(app.balance(&alice_basic).await, 89_000);
    app.verify_clean().await;
});

on_both_backends!(concurrent_payments_with_one_card_never_pass_the_months_limit, |db| {
    let app = app(db).await;
    let (alice, alice_basic) = app.active_member("13800000001").await;
    let (bob, _) = app.active_member("13800000002").await;
    let (_, shop) = app.active_member("13800000003").await;
    app.recharge(&alice, &alice_basic, 100_000, "test", "R-1").await;
    let id = grant(&app, &alice, &alice_basic, &bob, 3_000, 10_000).await["id"].as_str().unwrap().to_owned();

    let answers =
        join_all((0..8).map(|n| app.post("/v1/payments", pay(&format!("RACE-{n}"), &bob, &id, 2_000, &shop)))).await;
    let mut paid = 0;
    for answer in &answers {
        match (answer.status, answer.code()) {
            (StatusCode::CREATED, _) => paid += 1,
            (StatusCode::UNPROCESSABLE_ENTITY, "family_card_monthly_limit_exceeded") => {}
            _ => panic!("answered {} {}", answer.status, answer.body),
        }
    }
    assert_eq!(paid, 5, "10,000 a month pays five payments of 2,000");
    assert_eq!(card(&app, &id).await["used_this_month"], 10_000);
    assert_eq!((app.balance(&alice_basic).await, app.balance(&shop).await), (90_000, 10_000));
    app.verify_clean().await;
});

on_both_backends!(an_owner_has_at_most_ten_cards_in_force, |db| {
    let app = app(db).await;
    let (alice, alice_basic) = app.active_member("13800000001").await;
    let (bob, _) = app.active_member("13800000002").await;
    let mut ids = Vec::new();
    for _ in 0..10 {
        ids.push(grant(&app, &alice, &alice_basic, &bob, 100, 1_000).await["id"].as_str().unwrap().to_owned());
    }
    let body =
        json!({"account_id": alice_basic, "family_member_id": bob, "per_payment_limit": 100, "monthly_limit": 1_000});
    let path = format!("/v1/members/{alice}/family-cards");
    app.post(&path, body.clone()).await.assert_error(StatusCode::CONFLICT, "family_card_limit_reached");
    app.post(&format!("/v1/family-cards/{}/revoke", ids[0]), json!({})).await.assert_status(StatusCode::OK);
    // Revoking again answers it as it is, and gives no second place back.
    app.post(&format!("/v1/family-cards/{}/revoke", ids[0]), json!({})).await.assert_status(StatusCode::OK);
    app.post(&path, body.clone()).await.assert_status(StatusCode::CREATED);
    app.post(&path, body).await.assert_error(StatusCode::CONFLICT, "family_card_limit_reached");
});

on_both_backends!(the_family_members_client_pays_and_another_tenants_finds_the_card_absent, |db| {
    let app = app(db).await;
    let (alice, alice_basic) = app.active_member("13800000001").await;
    let (bob, _) = app.active_member("13800000002").await;
    let (_, shop) = app.active_member("13800000003").await;
    let (carol, carol_basic) = app.active_member("13800000004").await;
    app.recharge(&alice, &alice_basic, 10_000, "test", "R-1").await;
    app.recharge(&carol, &carol_basic, 10_000, "test", "R-2").await;
    let alice_app = bound_client(&app.db.store, &alice, "alice's app").await;
    let bob_app = bound_client(&app.db.store, &bob, "bob's app").await;
    let carol_app = bound_client(&app.db.store, &carol, "carol's app").await;

    // Alice's own client grants on her account, to a member it reaches; Bob is not one.
    let body =
        json!({"account_id": alice_basic, "family_member_id": bob, "per_payment_limit": 1_000, "monthly_limit": 5_000});
    let path = format!("/v1/members/{alice}/family-cards");
    app.send_as(&alice_app, "POST", &path, body.clone()).await.assert_error(StatusCode::NOT_FOUND, "member_not_found");
    let id = grant(&app, &alice, &alice_basic, &bob, 1_000, 5_000).await["id"].as_str().unwrap().to_owned();

    // Bob's client pays with it and reads it; so does Alice's, reaching the owner.
    let paid = app.send_as(&bob_app, "POST", "/v1/payments", pay("APP-1", &bob, &id, 800, &shop)).await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["family_card_id"], id.as_str());
    let card_path = format!("/v1/family-cards/{id}");
    app.send_as(&bob_app, "GET", &card_path, json!(null)).await.assert_status(StatusCode::OK);
    app.send_as(&alice_app, "GET", &card_path, json!(null)).await.assert_status(StatusCode::OK);

    // Alice's account is hers to show: Bob's client, reaching Bob only, sees the card without it, in
    // Bob's list and read by its id; Alice's client and the platform see it.
    let account_seen = |card: &Value| card["account_id"].as_str().map(str::to_owned);
    let bobs = format!("/v1/members/{bob}/family-cards");
    let listed = app.send_as(&bob_app, "GET", &bobs, json!(null)).await.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["granted"][0]["id"], id.as_str());
    assert_eq!(listed["granted"][0]["account_id"], Value::Null, "{listed}");
    assert_eq!(listed["granted"][0]["owner_member_id"], alice.as_str());
    let read = app.send_as(&bob_app, "GET", &card_path, json!(null)).await;
    assert_eq!(account_seen(read.assert_status(StatusCode::OK)), None);
    let read = app.send_as(&alice_app, "GET", &card_path, json!(null)).await;
    assert_eq!(account_seen(read.assert_status(StatusCode::OK)), Some(alice_basic.clone()));
    let alices = format!("/v1/members/{alice}/family-cards");
    let listed = app.send_as(&alice_app, "GET", &alices, json!(null)).await.assert_status(StatusCode::OK).clone();
    assert_eq!(account_seen(&listed["owned"][0]), Some(alice_basic.clone()));
    assert_eq!(
        account_seen(&app.get(&bobs).await.assert_status(StatusCode::OK)["granted"][0]),
        Some(alice_basic.clone())
    );

    // Carol's client finds the card, its owner, its account and its family member absent.
    app.send_as(&carol_app, "GET", &card_path, json!(null))
        .await
        .assert_error(StatusCode::NOT_FOUND, "family_card_not_found");
    app.send_as(&carol_app, "POST", &format!("{card_path}/revoke"), json!({}))
        .await
        .assert_error(StatusCode::NOT_FOUND, "family_card_not_found");
    app.send_as(&carol_app, "GET", &format!("/v1/members/{alice}/family-cards"), json!(null))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    app.send_as(&carol_app, "POST", &path, body).await.assert_error(StatusCode::NOT_FOUND, "member_not_found");
    app.send_as(&carol_app, "POST", "/v1/payments", pay("APP-2", &bob, &id, 100, &shop))
        .await
        .assert_error(StatusCode::NOT_FOUND, "member_not_found");
    app.send_as(&carol_app, "POST", "/v1/payments", pay("APP-3", &carol, &id, 100, &shop))
        .await
        .assert_error(StatusCode::NOT_FOUND, "family_card_not_found");
    assert_eq!((app.balance(&alice_basic).await, app.balance(&carol_basic).await), (9_200, 10_000));

    // Bob's client may give the card up (answered without Alice's account); after that it pays no more.
    let revoked = app.send_as(&bob_app, "POST", &format!("{card_path}/revoke"), json!({})).await;
    assert_eq!(account_seen(revoked.assert_status(StatusCode::OK)), None);
    app.send_as(&bob_app, "POST", "/v1/payments", pay("APP-4", &bob, &id, 100, &shop))
        .await
        .assert_error(StatusCode::CONFLICT, "family_card_revoked");
    app.verify_clean().await;
});

on_both_backends!(the_owner_grants_with_its_pay_password_where_payments_require_one, |db| {
    let wallet = sanhu_service::wallet::WalletConfig {
        pay_password: sanhu_service::wallet::PayPasswordRule::Required,
        ..world::wallet_config()
    };
    let app = TestApp::new(db, world::party_config(), wallet).await;
    let (alice, alice_basic) = app.active_member("13800000001").await;
    let (bob, _) = app.active_member("13800000002").await;
    app.post(&format!("/v1/members/{alice}/pay-password"), json!({"pay_password": "135790"}))
        .await
        .assert_status(StatusCode::CREATED);
    let path = format!("/v1/members/{alice}/family-cards");
    let mut body =
        json!({"account_id": alice_basic, "family_member_id": bob, "per_payment_limit": 100, "monthly_limit": 1_000});
    app.post(&path, body.clone()).await.assert_error(StatusCode::FORBIDDEN, "pay_password_required");
    body["pay_password"] = json!("000000");
    app.post(&path, body.clone()).await.assert_error(StatusCode::FORBIDDEN, "pay_password_incorrect");
    let listed = app.get(&path).await.assert_status(StatusCode::OK).clone();
    assert_eq!(listed["owned"], json!([]), "nothing granted");
    body["pay_password"] = json!("135790");
    app.post(&path, body).await.assert_status(StatusCode::CREATED);
});

on_both_backends!(a_family_card_payment_counts_in_the_owners_and_the_family_members_own_payment_limits, |db| {
    let app = app(db).await;
    let (alice, alice_basic) = app.active_member("13800000001").await;
    let (bob, bob_basic) = app.active_member("13800000002").await;
    let (_, shop) = app.active_member("13800000003").await;
    app.recharge(&alice, &alice_basic, 100_000, "test", "R-1").await;
    let id = grant(&app, &alice, &alice_basic, &bob, 5_000, 50_000).await["id"].as_str().unwrap().to_owned();
    // Alice may pay 30.00 a day from her basic account; Bob 20.00 a payment from his.
    for (member, limits) in [
        (&alice, json!({"per_payment": null, "per_day": 3_000, "per_month": null})),
        (&bob, json!({"per_payment": 2_000, "per_day": null, "per_month": null})),
    ] {
        let body = json!({"account_type": "basic", "reason": "family card test", "limits": limits});
        app.post(&format!("/v1/members/{member}/payment-limits"), body).await.assert_status(StatusCode::OK);
    }

    // Within the card's limit per payment, over Bob's own: refused, and nothing counts or moves.
    let over_bobs = app.post("/v1/payments", pay("LIM-1", &bob, &id, 2_500, &shop)).await;
    over_bobs.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "payment_limit_exceeded");
    assert!(over_bobs.text.contains("per_payment"), "{}", over_bobs.text);
    assert_eq!(card(&app, &id).await["used_this_month"], 0);
    app.post("/v1/payments", pay("LIM-2", &bob, &id, 2_000, &shop)).await.assert_status(StatusCode::CREATED);
    // Over what Alice may still pay today: refused, though Bob's own limits and the card's allow it.
    let over_alices = app.post("/v1/payments", pay("LIM-3", &bob, &id, 1_500, &shop)).await;
    over_alices.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "payment_limit_exceeded");
    assert!(over_alices.text.contains("per_day"), "{}", over_alices.text);
    app.post("/v1/payments", pay("LIM-4", &bob, &id, 1_000, &shop)).await.assert_status(StatusCode::CREATED);
    assert_eq!(card(&app, &id).await["used_this_month"], 3_000);
    assert_eq!(
        (app.balance(&alice_basic).await, app.balance(&bob_basic).await, app.balance(&shop).await),
        (97_000, 0, 3_000)
    );
    app.verify_clean().await;
});

on_both_backends!(a_franchise_members_card_spends_only_where_its_owners_money_would, |db| {
    let app = crate::merchant_hierarchy::app(db).await;
    let f = brand(&app).await;
    // Alice is a member of franchisee A, with money recharged there; Bob is the platform's.
    let (alice, _) = member_of(&app, &f.at_a, &f.a, "13800000001").await;
    let alice_basic = account_of(&app, &alice, "basic").await;
    app.recharge(&alice, &alice_basic, 10_000, "test", "R-1").await;
    let (bob, _) = app.active_member("13800000002").await;
    let id = grant(&app, &alice, &alice_basic, &bob, 5_000, 50_000).await["id"].as_str().unwrap().to_owned();
    let a_receipts = account_of(&app, &f.a_member, "settlement").await;
    let b_receipts = account_of(&app, &f.b_member, "settlement").await;

    // Bob could pay B with his own money; Alice's, through her card, is spent at A only.
    let refused = app.post("/v1/payments", pay("SCOPE-1", &bob, &id, 1_000, &b_receipts)).await;
    refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "member_scope_mismatch");
    assert_eq!((app.balance(&alice_basic).await, card(&app, &id).await["used_this_month"].as_i64()), (10_000, Some(0)));
    app.post("/v1/payments", pay("SCOPE-2", &bob, &id, 1_000, &a_receipts)).await.assert_status(StatusCode::CREATED);
    assert_eq!((app.balance(&alice_basic).await, app.balance(&a_receipts).await), (9_000, 1_000));
    app.verify_clean().await;
});
