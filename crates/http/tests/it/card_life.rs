//! The end of a card's life over HTTP, on SQLite and on PostgreSQL: a card reported lost (it pays
//! nothing and is not unfrozen), re-issued (a new number of its segment carrying its balance to the
//! cent, its terms, validity and member; the old card dead, naming its successor; concurrent
//! re-issues giving one), passed to another member where its type allows it, expired (its balance
//! kept and the card extended, or forfeited to the platform's income with a record), cancelled with
//! its balance refunded; another merchant's client answered 404 for each; `sanhu verify` clean.

use axum::http::StatusCode;
use sanhu_core::party::check_digit::luhn_valid;
use sanhu_testkit::app::{bound_client, TestApp};
use sanhu_testkit::on_both_backends;
use serde_json::{json, Value};

use crate::cards::{app, gold_terms, id, merchant, pay_body, App};

/// A card type with `terms` (gold's, changed by `change`), a batch of it approved, one card sold and
/// activated: its number.
async fn card_of(app: &App, name: &str, prefix: &str, change: impl FnOnce(&mut Value)) -> String {
    let mut terms = gold_terms();
    change(&mut terms);
    let body = json!({"name": name, "grade": 2, "terms": terms});
    let type_id = id(app.api.post("/v1/card-types", body).await.assert_status(StatusCode::CREATED));
    let segment = app.segment(prefix, 0, 999).await;
    let batch = app.batch(&type_id, &segment, 10).await;
    app.approve(&batch).await;
    let number = app.sell(&batch, &format!("SALE-{prefix}")).await["number"].as_str().unwrap().to_owned();
    app.api.post(&format!("/v1/cards/{number}/activate"), json!({})).await.assert_status(StatusCode::OK);
    number
}

async fn card(api: &TestApp, number: &str) -> Value {
    api.get(&format!("/v1/cards/{number}")).await.assert_status(StatusCode::OK).clone()
}

fn balance(card: &Value) -> i64 {
    card["balance"].as_i64().unwrap()
}

/// The number of serial `serial` of a segment `prefix` of 8-digit serials.
fn serial_number(prefix: &str, serial: i64) -> String {
    sanhu_core::card::Segment { prefix: prefix.to_owned(), serial_digits: 8, first: 0, last: 999 }.number(serial)
}

/// The platform's date `days` from now (`YYYY-MM-DD`, Asia/Shanghai).
fn platform_date(days: i64) -> String {
    let at = sanhu_core::Timestamp::from_nanos(sanhu_service::clock::now().nanos() + days * 86_400_000_000_000);
    sanhu_core::PlatformCalendar::china().local_text(at)[..10].to_owned()
}

on_both_backends!(a_lost_card_is_reissued_with_its_balance_terms_and_member_and_the_old_card_is_dead, |db| {
    let app = app(db).await;
    let api = &app.api;
    let number = app.active_card().await;
    let path = format!("/v1/cards/{number}");
    let (holder, _) = api.active_member("13800000002").await;
    let (_, shop) = api.active_member("13800000001").await;
    api.post(&format!("{path}/bind"), json!({"member_id": holder})).await.assert_status(StatusCode::OK);
    let recharge = json!({"order_number": "R-1", "amount": 10000, "channel": "alipay"});
    api.post(&format!("{path}/recharges"), recharge).await.assert_status(StatusCode::CREATED);
    api.post(&format!("{path}/payments"), pay_body("P-1", 1235, "coffee", &shop))
        .await
        .assert_status(StatusCode::CREATED);
    let before = card(api, &number).await;
    assert_eq!(balance(&before), 500_000 + 10_000 - 865);

    // Reported lost: it pays, is recharged and is unfrozen no more.
    let lost = api.post(&format!("{path}/report-lost"), json!({"reason": "钱包丢了"})).await;
    assert_eq!(
        (lost.assert_status(StatusCode::OK)["status"].as_str(), lost.body["lost"].as_bool()),
        (Some("lost"), Some(true))
    );
    api.post(&format!("{path}/payments"), pay_body("P-2", 100, "coffee", &shop))
        .await
        .assert_error(StatusCode::CONFLICT, "card_lost");
    api.post(&format!("{path}/recharges"), json!({"order_number": "R-2", "amount": 100, "channel": "alipay"}))
        .await
        .assert_error(StatusCode::CONFLICT, "card_lost");
    api.post(&format!("{path}/unfreeze"), json!({"reason": "找到了"}))
        .await
        .assert_error(StatusCode::CONFLICT, "card_lost");
    api.post(&format!("{path}/report-lost"), json!({"reason": "again"}))
        .await
        .assert_error(StatusCode::CONFLICT, "card_lost");

    // Re-issued: a new number of the same segment, the balance to the cent, the terms, the validity
    // and the member carried over.
    let reissue = json!({"order_number": "RE-1", "reason": "补卡"});
    let new = api.post(&format!("{path}/reissue"), reissue.clone()).await.assert_status(StatusCode::CREATED).clone();
    let successor = new["number"].as_str().unwrap().to_owned();
    assert!(successor != number && successor.starts_with("8601") && luhn_valid(&successor), "{successor}");
    assert_eq!((new["status"].as_str(), balance(&new)), (Some("active"), 509_135));
    for field in
        ["member_id", "type_id", "type_version", "batch_id", "terms", "valid_from", "valid_until", "channel", "owner"]
    {
        assert_eq!(new[field], before[field], "{field}");
    }
    assert_eq!(new["replaces"], number.as_str());
    assert_ne!(new["account_id"], before["account_id"]);
    let old = card(api, &number).await;
    assert_eq!(
        (old["status"].as_str(), balance(&old), old["replaced_by"].as_str()),
        (Some("reissued"), 0, Some(successor.as_str()))
    );
    let old_account = api.account(old["account_id"].as_str().unwrap()).await;
    assert!(old_account["debits_blocked"].as_bool().unwrap() && old_account["credits_blocked"].as_bool().unwrap());
    // The same request answers the same card; another re-issue of the dead card is refused.
    let again = api.post(&format!("{path}/reissue"), reissue).await;
    assert_eq!(again.assert_status(StatusCode::CREATED)["number"], successor.as_str());
    api.post(&format!("{path}/reissue"), json!({"order_number": "RE-2", "reason": "补卡"}))
        .await
        .assert_error(StatusCode::CONFLICT, "card_reissued");

    // The dead card pays, is recharged, refunded to and unfrozen nothing.
    api.post(&format!("{path}/payments"), pay_body("P-3", 100, "coffee", &shop))
        .await
        .assert_error(StatusCode::CONFLICT, "card_reissued");
    api.post(&format!("{path}/recharges"), json!({"order_number": "R-3", "amount": 100, "channel": "alipay"}))
        .await
        .assert_error(StatusCode::CONFLICT, "card_reissued");

    // The new card pays: coffee 10.00 at 70%.
    let new_path = format!("/v1/cards/{successor}");
    let paid = api.post(&format!("{new_path}/payments"), pay_body("P-4", 1000, "coffee", &shop)).await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["amount"], 700);
    assert_eq!(balance(&card(api, &successor).await), 509_135 - 700);
    assert_eq!(api.balance(&shop).await, 865 + 700);

    // The old card's history ends with the move to its successor.
    let listed = api.get(&format!("{path}/transactions")).await.assert_status(StatusCode::OK).clone();
    let last = &listed["data"][0];
    assert_eq!(
        (last["kind"].as_str(), last["amount"].as_i64(), last["successor"].as_str(), last["status"].as_str()),
        (Some("reissue"), Some(509_135), Some(successor.as_str()), Some("succeeded"))
    );
    assert_eq!(last["counter_account_id"], new["account_id"]);
    api.verify_clean().await;
});

on_both_backends!(concurrent_reissues_of_one_card_give_one_successor, |db| {
    let app = app(db).await;
    let api = &app.api;
    let number = app.active_card().await;
    let path = format!("/v1/cards/{number}/reissue");
    let bodies: Vec<Value> = (0..6).map(|i| json!({"order_number": format!("RE-{i}"), "reason": "补卡"})).collect();
    let answers = futures_util::future::join_all(bodies.iter().map(|b| api.post(&path, b.clone()))).await;
    let made: Vec<&Value> = answers.iter().filter(|a| a.status == StatusCode::CREATED).map(|a| &a.body).collect();
    assert_eq!(made.len(), 1, "{:?}", answers.iter().map(|a| a.body.to_string()).collect::<Vec<_>>());
    for refused in answers.iter().filter(|a| a.status != StatusCode::CREATED) {
        refused.assert_error(StatusCode::CONFLICT, "card_reissued");
    }
    let successor = made[0]["number"].as_str().unwrap();
    // The batch of 10 took serials 0 to 9; the five refused re-issues took none: the successor is 10.
    assert_eq!(successor, serial_number("8601", 10));
    assert_eq!(balance(&card(api, successor).await), 500_000);
    assert_eq!(balance(&card(api, &number).await), 0);
    assert_eq!(card(api, &number).await["replaced_by"], successor);
    api.verify_clean().await;
});

on_both_backends!(a_card_passes_to_another_member_only_where_its_type_allows_it, |db| {
    let app = app(db).await;
    let api = &app.api;
    let (holder, _) = api.active_member("13800000002").await;
    let (other, _) = api.active_member("13800000003").await;
    let (inactive, _) = api.register("13800000004").await;
    let gold = app.active_card().await;
    api.post(&format!("/v1/cards/{gold}/bind"), json!({"member_id": holder})).await.assert_status(StatusCode::OK);
    api.post(&format!("/v1/cards/{gold}/transfer"), json!({"member_id": other}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_not_transferable");

    let giftable = card_of(&app, "礼品卡", "8602", |t| t["transferable"] = json!(true)).await;
    let path = format!("/v1/cards/{giftable}");
    assert_eq!(card(api, &giftable).await["terms"]["transferable"], true);
    api.post(&format!("{path}/bind"), json!({"member_id": holder})).await.assert_status(StatusCode::OK);
    for refused in [&inactive, &holder] {
        api.post(&format!("{path}/transfer"), json!({"member_id": refused}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_transfer_member_not_active");
    }
    let passed = api.post(&format!("{path}/transfer"), json!({"member_id": other})).await;
    assert_eq!(passed.assert_status(StatusCode::OK)["member_id"], other.as_str());
    assert_eq!(balance(&passed.body), 500_000, "the balance goes with the card");
    api.verify_clean().await;
});

on_both_backends!(an_expired_card_keeps_its_balance_and_is_extended_or_forfeits_it_as_its_type_says, |db| {
    let app = app(db).await;
    let api = &app.api;
    let (_, shop) = api.active_member("13800000001").await;
    // A card still valid is not expired.
    let gold = app.active_card().await;
    api.post(&format!("/v1/cards/{gold}/expire"), json!({}))
        .await
        .assert_error(StatusCode::CONFLICT, "card_still_valid");

    // Two cards valid for a moment: one keeps its balance, one forfeits it.
    let now = sanhu_service::clock::now().nanos();
    let window = |t: &mut Value| {
        let from = sanhu_core::Timestamp::from_nanos(now - 86_400_000_000_000).to_string();
        let until = sanhu_core::Timestamp::from_nanos(now + 3_000_000_000).to_string();
        t["validity"] = json!({"from": from, "until": until});
    };
    let kept = card_of(&app, "短期卡", "8603", window).await;
    let forfeited = card_of(&app, "过期作废卡", "8604", |t| {
        window(t);
        t["on_expiry"] = json!("forfeit");
    })
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(3_200)).await;

    // Its validity over, a card pays nothing even before it is expired.
    api.post(&format!("/v1/cards/{kept}/payments"), pay_body("P-1", 100, "coffee", &shop))
        .await
        .assert_error(StatusCode::CONFLICT, "card_expired");
    // The back office expires one; the job the rest.
    let expired = api.post(&format!("/v1/cards/{kept}/expire"), json!({})).await.assert_status(StatusCode::OK).clone();
    assert_eq!((expired["status"].as_str(), balance(&expired)), (Some("expired"), 500_000));
    assert!(expired["expired_at"].is_string());
    let cards = api.state.cards();
    let pass = cards.expire_due_cards(sanhu_service::clock::now(), 100).await.unwrap();
    assert_eq!(pass, 1, "the forfeiting card; the gold card is valid, the kept one expired already");
    let gone = card(api, &forfeited).await;
    assert_eq!((gone["status"].as_str(), balance(&gone)), (Some("expired"), 0));
    assert_eq!(api.platform_balance("card_forfeits").await, 500_000, "the platform's income from forfeits");
    let record =
        api.get(&format!("/v1/cards/{forfeited}/transactions")).await.assert_status(StatusCode::OK)["data"][0].clone();
    assert_eq!((record["kind"].as_str(), record["amount"].as_i64()), (Some("forfeit"), Some(500_000)));
    assert!(record["order_number"].as_str().unwrap().starts_with("expiry-"));
    assert_eq!(cards.expire_due_cards(sanhu_service::clock::now(), 100).await.unwrap(), 0, "nothing left");
    // Expiring again answers the card as it is.
    api.post(&format!("/v1/cards/{forfeited}/expire"), json!({})).await.assert_status(StatusCode::OK);

    // The kept balance is extended through a date in the platform's time zone; the forfeited one not.
    for bad in ["2020-01-01", "tomorrow", &platform_date(4000)] {
        api.post(&format!("/v1/cards/{kept}/extend"), json!({"valid_through": bad}))
            .await
            .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_extension_invalid");
    }
    let through = platform_date(30);
    let extended = api.post(&format!("/v1/cards/{kept}/extend"), json!({"valid_through": through})).await;
    let extended = extended.assert_status(StatusCode::OK).clone();
    assert_eq!((extended["status"].as_str(), balance(&extended)), (Some("active"), 500_000));
    // Valid until the next day starts in Asia/Shanghai: 16:00 UTC on the date.
    assert_eq!(extended["valid_until"].as_str().unwrap()[..19], format!("{through}T16:00:00"));
    let paid = api.post(&format!("/v1/cards/{kept}/payments"), pay_body("P-2", 1000, "coffee", &shop)).await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["amount"], 700);
    api.post(&format!("/v1/cards/{forfeited}/extend"), json!({"valid_through": through}))
        .await
        .assert_error(StatusCode::CONFLICT, "card_expiry_forfeited");
    api.post(&format!("/v1/cards/{forfeited}/payments"), pay_body("P-3", 100, "coffee", &shop))
        .await
        .assert_error(StatusCode::CONFLICT, "card_expired");
    api.verify_clean().await;
});

on_both_backends!(a_cancelled_card_refunds_its_balance_to_the_members_wallet_and_is_dead, |db| {
    let app = app(db).await;
    let api = &app.api;
    let (holder, wallet) = api.active_member("13800000002").await;
    let (_, shop) = api.active_member("13800000001").await;
    let number = app.active_card().await;
    let path = format!("/v1/cards/{number}");
    api.post(&format!("{path}/bind"), json!({"member_id": holder})).await.assert_status(StatusCode::OK);
    api.post(&format!("{path}/payments"), pay_body("P-1", 1235, "coffee", &shop))
        .await
        .assert_status(StatusCode::CREATED);

    // A frozen card is neither re-issued nor cancelled: its freeze is lifted by an unfreeze only.
    api.post(&format!("{path}/freeze"), json!({"reason": "冻结"})).await.assert_status(StatusCode::OK);
    api.post(&format!("{path}/reissue"), json!({"order_number": "RE-0", "reason": "补卡"}))
        .await
        .assert_error(StatusCode::CONFLICT, "card_not_active");
    let frozen_cancel = json!({"order_number": "C-F", "reason": "退卡", "refund_to": "wallet", "account_id": wallet});
    api.post(&format!("{path}/cancel"), frozen_cancel).await.assert_error(StatusCode::CONFLICT, "card_not_active");
    api.post(&format!("{path}/unfreeze"), json!({"reason": "解冻"})).await.assert_status(StatusCode::OK);

    let cancel = |order: &str, to: &str, account: &str| json!({"order_number": order, "reason": "退卡", "refund_to": to, "account_id": account});
    api.post(&format!("{path}/cancel"), json!({"order_number": "C-0", "reason": "退卡"}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_cancel_refund_invalid");
    api.post(&format!("{path}/cancel"), cancel("C-0", "wallet", &shop))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_cancel_account_outside");
    // A platform card is not refunded in cash.
    api.post(&format!("{path}/cancel"), cancel("C-0", "cash", &shop))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_cancel_refund_invalid");
    assert_eq!(card(api, &number).await["status"], "active", "a refused cancellation changed nothing");

    let done = api
        .post(&format!("{path}/cancel"), cancel("C-1", "wallet", &wallet))
        .await
        .assert_status(StatusCode::OK)
        .clone();
    assert_eq!((done["card"]["status"].as_str(), balance(&done["card"])), (Some("cancelled"), 0));
    assert_eq!(
        (done["refund"]["kind"].as_str(), done["refund"]["amount"].as_i64(), done["refund"]["refund_method"].as_str()),
        (Some("cancel"), Some(500_000 - 865), Some("wallet"))
    );
    assert_eq!(api.balance(&wallet).await, 500_000 - 865);
    // The same request answers the same; the dead card does nothing more.
    let again = api.post(&format!("{path}/cancel"), cancel("C-1", "wallet", &wallet)).await;
    assert_eq!(again.assert_status(StatusCode::OK)["refund"]["amount"], 500_000 - 865);
    assert_eq!(api.balance(&wallet).await, 500_000 - 865);
    api.post(&format!("{path}/cancel"), cancel("C-2", "wallet", &wallet))
        .await
        .assert_error(StatusCode::CONFLICT, "card_cancelled");
    api.post(&format!("{path}/payments"), pay_body("P-2", 100, "coffee", &shop))
        .await
        .assert_error(StatusCode::CONFLICT, "card_cancelled");
    api.post(&format!("{path}/recharges"), json!({"order_number": "R-1", "amount": 100, "channel": "alipay"}))
        .await
        .assert_error(StatusCode::CONFLICT, "card_cancelled");
    api.post(&format!("{path}/reissue"), json!({"order_number": "RE-1", "reason": "补卡"}))
        .await
        .assert_error(StatusCode::CONFLICT, "card_cancelled");
    api.verify_clean().await;
});

on_both_backends!(
    another_merchants_client_reaches_none_of_a_cards_life_and_a_merchants_card_is_refunded_in_cash,
    |db| {
        let app = app(db).await;
        let api = &app.api;
        let (cafe, cafe_member, cafe_account) = merchant(api, "13800000001", 1).await;
        let (_, bakery_member, _) = merchant(api, "13800000002", 2).await;
        let ours = bound_client(&api.db.store, &cafe_member, "cafe").await;
        let theirs = bound_client(&api.db.store, &bakery_member, "bakery").await;
        let mut terms = gold_terms();
        terms["transferable"] = json!(true);
        let body = json!({"name": "咖啡卡", "grade": 2, "terms": terms, "merchant_id": cafe});
        let cafe_type = id(api.send_as(&ours, "POST", "/v1/card-types", body).await.assert_status(StatusCode::CREATED));
        let segment = app.segment("8605", 0, 999).await;
        let batch_body = json!({"type_id": cafe_type, "segment_id": segment, "channel": "store", "quantity": 5});
        let batch =
            id(api.send_as(&ours, "POST", "/v1/card-batches", batch_body).await.assert_status(StatusCode::CREATED));
        app.approve(&batch).await;
        let sale = json!({"order_number": "S-1", "batch_id": batch, "payment_channel": "alipay"});
        let sold = api.send_as(&ours, "POST", "/v1/cards", sale).await;
        let number = sold.assert_status(StatusCode::CREATED)["number"].as_str().unwrap().to_owned();
        let path = format!("/v1/cards/{number}");
        api.send_as(&ours, "POST", &format!("{path}/activate"), json!({})).await.assert_status(StatusCode::OK);
        let (holder, _) = api.active_member("13800000003").await;

        for (route, body) in [
            ("report-lost", json!({"reason": "x"})),
            ("reissue", json!({"order_number": "X-1", "reason": "x"})),
            ("transfer", json!({"member_id": holder})),
            ("expire", json!({})),
            ("extend", json!({"valid_through": platform_date(30)})),
            ("cancel", json!({"order_number": "X-2", "reason": "x", "refund_to": "cash", "account_id": cafe_account})),
        ] {
            api.send_as(&theirs, "POST", &format!("{path}/{route}"), body)
                .await
                .assert_error(StatusCode::NOT_FOUND, "card_not_found");
        }
        // Nor does its own client pass the card to a member it does not reach.
        api.send_as(&ours, "POST", &format!("{path}/transfer"), json!({"member_id": bakery_member}))
            .await
            .assert_error(StatusCode::NOT_FOUND, "member_not_found");
        assert_eq!(card(api, &number).await["status"], "active", "nothing changed");

        // Its own client cancels it, refunded in cash through the merchant's own account.
        api.send_as(&ours, "POST", &format!("{path}/payments"), pay_body("P-1", 1000, "coffee", &cafe_account))
            .await
            .assert_status(StatusCode::CREATED);
        let cash = json!({"order_number": "C-1", "reason": "退卡", "refund_to": "cash", "account_id": cafe_account});
        let done = api.send_as(&ours, "POST", &format!("{path}/cancel"), cash).await;
        assert_eq!(done.assert_status(StatusCode::OK)["refund"]["refund_method"], "cash");
        assert_eq!(api.balance(&cafe_account).await, 700 + 499_300);
        // Its balance went out in cash: a refund of its payment has nowhere to go, and moves nothing.
        let refund = json!({"order_number": "F-1", "payment_number": "P-1", "amount": 100});
        api.send_as(&ours, "POST", &format!("{path}/refunds"), refund)
            .await
            .assert_error(StatusCode::CONFLICT, "card_refund_no_destination");
        assert_eq!(api.balance(&cafe_account).await, 500_000);
        api.verify_clean().await;
    }
);

on_both_backends!(a_refund_of_a_payment_follows_its_card_to_the_last_successor_or_to_the_cancellations_wallet, |db| {
    let app = app(db).await;
    let api = &app.api;
    let (holder, wallet) = api.active_member("13800000002").await;
    let (_, shop) = api.active_member("13800000001").await;
    let first = app.active_card().await;
    let path = format!("/v1/cards/{first}");
    api.post(&format!("{path}/bind"), json!({"member_id": holder})).await.assert_status(StatusCode::OK);
    // Coffee at 70%: 12.35 takes 8.65, 20.00 takes 14.00.
    for (order, amount) in [("P-1", 1235), ("P-2", 2000)] {
        api.post(&format!("{path}/payments"), pay_body(order, amount, "coffee", &shop))
            .await
            .assert_status(StatusCode::CREATED);
    }
    let held = 500_000 - 865 - 1400;
    let reissue = |order: &str| json!({"order_number": order, "reason": "补卡"});
    let second = api.post(&format!("{path}/reissue"), reissue("RE-1")).await.assert_status(StatusCode::CREATED)
        ["number"]
        .as_str()
        .unwrap()
        .to_owned();

    // Refunded through the card the payment was made with: to its successor.
    let refund = |order: &str, payment: &str, amount: i64| json!({"order_number": order, "payment_number": payment, "amount": amount});
    let done = api.post(&format!("{path}/refunds"), refund("F-1", "P-1", 300)).await;
    let done = done.assert_status(StatusCode::CREATED).clone();
    assert_eq!(
        (done["card_number"].as_str(), done["refunded_to_card"].as_str(), done["kind"].as_str()),
        (Some(first.as_str()), Some(second.as_str()), Some("refund"))
    );
    assert!(done["refunded_to_account_id"].is_null());
    assert_eq!(balance(&card(api, &second).await), held + 300);
    assert_eq!(balance(&card(api, &first).await), 0, "the dead card holds nothing");
    assert_eq!(api.balance(&shop).await, 865 + 1400 - 300);

    // Re-issued again: the chain is followed to the last card.
    let third =
        api.post(&format!("/v1/cards/{second}/reissue"), reissue("RE-2")).await.assert_status(StatusCode::CREATED)
            ["number"]
            .as_str()
            .unwrap()
            .to_owned();
    let done = api.post(&format!("{path}/refunds"), refund("F-2", "P-1", 565)).await;
    assert_eq!(done.assert_status(StatusCode::CREATED)["refunded_to_card"], third.as_str());
    assert_eq!(balance(&card(api, &third).await), held + 300 + 565);
    // Still no more than the payment took.
    api.post(&format!("{path}/refunds"), refund("F-3", "P-1", 1))
        .await
        .assert_error(StatusCode::CONFLICT, "card_refund_exceeds_payment");
    // The refund is listed under the card paid with, naming where it went.
    let listed = api.get(&format!("{path}/transactions")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(
        (listed["data"][0]["order_number"].as_str(), listed["data"][0]["refunded_to_card"].as_str()),
        (Some("F-2"), Some(third.as_str()))
    );

    // The last card cancelled to the member's wallet: a refund goes where its balance went.
    let cancel = json!({"order_number": "C-1", "reason": "退卡", "refund_to": "wallet", "account_id": wallet});
    api.post(&format!("/v1/cards/{third}/cancel"), cancel).await.assert_status(StatusCode::OK);
    let cancelled_with = held + 300 + 565;
    assert_eq!(api.balance(&wallet).await, cancelled_with);
    let done = api.post(&format!("{path}/refunds"), refund("F-4", "P-2", 400)).await;
    let done = done.assert_status(StatusCode::CREATED).clone();
    assert_eq!(
        (done["refunded_to_account_id"].as_str(), done["refunded_to_card"].as_str()),
        (Some(wallet.as_str()), None)
    );
    assert_eq!(api.balance(&wallet).await, cancelled_with + 400);
    // The same refund again answers the same and moves nothing more.
    let again = api.post(&format!("{path}/refunds"), refund("F-4", "P-2", 400)).await;
    assert_eq!(again.assert_status(StatusCode::CREATED)["refunded_to_account_id"], wallet.as_str());
    assert_eq!(api.balance(&wallet).await, cancelled_with + 400);
    assert_eq!(api.balance(&shop).await, 865 + 1400 - 300 - 565 - 400);
    for dead in [&first, &second, &third] {
        assert_eq!(balance(&card(api, dead).await), 0);
    }
    api.verify_clean().await;
});

on_both_backends!(a_refused_reissue_takes_no_serial_and_a_segments_numbers_have_no_gap, |db| {
    let app = app(db).await;
    let api = &app.api;
    let number = app.active_card().await;
    let path = format!("/v1/cards/{number}");
    // Refused: frozen; then the same card's re-issue refused again once it is re-issued.
    api.post(&format!("{path}/freeze"), json!({"reason": "冻结"})).await.assert_status(StatusCode::OK);
    for order in ["RE-0", "RE-1"] {
        api.post(&format!("{path}/reissue"), json!({"order_number": order, "reason": "补卡"}))
            .await
            .assert_error(StatusCode::CONFLICT, "card_not_active");
    }
    api.post(&format!("{path}/unfreeze"), json!({"reason": "解冻"})).await.assert_status(StatusCode::OK);
    let made = api.post(&format!("{path}/reissue"), json!({"order_number": "RE-2", "reason": "补卡"})).await;
    let successor = made.assert_status(StatusCode::CREATED)["number"].as_str().unwrap().to_owned();
    assert_eq!(successor, serial_number("8601", 10), "the batch took 0 to 9; nothing refused took one");
    api.post(&format!("{path}/reissue"), json!({"order_number": "RE-3", "reason": "补卡"}))
        .await
        .assert_error(StatusCode::CONFLICT, "card_reissued");
    let next =
        api.post(&format!("/v1/cards/{successor}/reissue"), json!({"order_number": "RE-4", "reason": "补卡"})).await;
    assert_eq!(next.assert_status(StatusCode::CREATED)["number"], serial_number("8601", 11).as_str());
    api.verify_clean().await;
});

on_both_backends!(a_validity_in_days_and_an_extension_in_days_end_at_the_end_of_the_platforms_day, |db| {
    let app = app(db).await;
    let api = &app.api;
    let monthly = card_of(&app, "月卡", "8606", |t| t["validity"] = json!({"days_from_activation": 30})).await;
    let read = card(api, &monthly).await;
    // Valid through the platform's day 30 days after today: until the next day starts in
    // Asia/Shanghai, 16:00 UTC on that date; not 30 x 24 hours from the activation.
    assert_eq!(read["valid_until"].as_str().unwrap()[..19], format!("{}T16:00:00", platform_date(30)));
    let path = format!("/v1/cards/{monthly}/extend");
    // 10 days more, counted from its last valid day.
    let extended = api.post(&path, json!({"days": 10})).await.assert_status(StatusCode::OK).clone();
    assert_eq!(extended["valid_until"].as_str().unwrap()[..19], format!("{}T16:00:00", platform_date(40)));
    for bad in
        [json!({"days": 0}), json!({"days": 3651}), json!({}), json!({"days": 5, "valid_through": platform_date(50)})]
    {
        api.post(&path, bad).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_extension_invalid");
    }
    // Past the longest extension from today: refused, the card as it was.
    api.post(&path, json!({"days": 3640}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_extension_invalid");
    assert_eq!(card(api, &monthly).await["valid_until"], extended["valid_until"]);
    api.verify_clean().await;
});

fn report_path(date: &str) -> String {
    format!("/v1/card-reports/liability?date={date}")
}

on_both_backends!(the_liability_report_of_a_day_is_the_ledgers_card_balances_and_the_days_movements, |db| {
    let app = app(db).await;
    let api = &app.api;
    let (holder, wallet) = api.active_member("13800000002").await;
    let (_, shop) = api.active_member("13800000001").await;
    // Gold: sold (5,000.00), recharged 100.00, paid 8.65, refunded 1.00, re-issued.
    let gold = app.active_card().await;
    let path = format!("/v1/cards/{gold}");
    api.post(&format!("{path}/bind"), json!({"member_id": holder})).await.assert_status(StatusCode::OK);
    let recharge = json!({"order_number": "R-1", "amount": 10000, "channel": "alipay"});
    api.post(&format!("{path}/recharges"), recharge).await.assert_status(StatusCode::CREATED);
    api.post(&format!("{path}/payments"), pay_body("P-1", 1235, "coffee", &shop))
        .await
        .assert_status(StatusCode::CREATED);
    let refund = json!({"order_number": "F-1", "payment_number": "P-1", "amount": 100});
    api.post(&format!("{path}/refunds"), refund).await.assert_status(StatusCode::CREATED);
    let successor = api
        .post(&format!("{path}/reissue"), json!({"order_number": "RE-1", "reason": "补卡"}))
        .await
        .assert_status(StatusCode::CREATED)["number"]
        .as_str()
        .unwrap()
        .to_owned();
    // Another type: one card cancelled to the wallet, one forfeited on expiry.
    let now = sanhu_service::clock::now().nanos();
    let short = |t: &mut Value| {
        let from = sanhu_core::Timestamp::from_nanos(now - 86_400_000_000_000).to_string();
        let until = sanhu_core::Timestamp::from_nanos(now + 3_000_000_000).to_string();
        t["validity"] = json!({"from": from, "until": until});
        t["on_expiry"] = json!("forfeit");
    };
    let forfeiting = card_of(&app, "作废卡", "8604", short).await;
    let cancelled = card_of(&app, "退卡", "8602", |_| {}).await;
    api.post(&format!("/v1/cards/{cancelled}/bind"), json!({"member_id": holder})).await.assert_status(StatusCode::OK);
    let cancel = json!({"order_number": "C-1", "reason": "退卡", "refund_to": "wallet", "account_id": wallet});
    api.post(&format!("/v1/cards/{cancelled}/cancel"), cancel).await.assert_status(StatusCode::OK);
    tokio::time::sleep(std::time::Duration::from_millis(3_200)).await;
    api.post(&format!("/v1/cards/{forfeiting}/expire"), json!({})).await.assert_status(StatusCode::OK);

    let today = platform_date(0);
    let report = api.get(&report_path(&today)).await.assert_status(StatusCode::OK).clone();
    assert_eq!((report["date"].as_str(), report["time_zone"].as_str()), (Some(today.as_str()), Some("Asia/Shanghai")));
    assert_eq!(report["lines"].as_array().unwrap().len(), 3, "{report}");
    // The outstanding balance is what the ledger holds in the card accounts, to the cent.
    let mut ledger = 0;
    for number in [&gold, &successor, &forfeiting, &cancelled] {
        ledger += balance(&card(api, number).await);
    }
    let total = &report["total"];
    assert_eq!(total["outstanding"].as_i64(), Some(ledger));
    assert_eq!(ledger, 500_000 + 10_000 - 865 + 100);
    let gold_type = card(api, &successor).await["type_id"].clone();
    let gold_line = report["lines"].as_array().unwrap().iter().find(|l| l["type_id"] == gold_type).unwrap().clone();
    assert_eq!(gold_line["outstanding"].as_i64(), Some(balance(&card(api, &successor).await)));
    assert_eq!((gold_line["cards"]["active"].as_i64(), gold_line["cards"]["reissued"].as_i64()), (Some(1), Some(1)));
    assert_eq!(gold_line["type_name"], "金卡");
    assert!(gold_line["merchant_id"].is_null());
    // The day's movements.
    let figures = |l: &Value| -> Vec<i64> {
        ["issued_cards", "issued", "recharged", "spent", "refunded", "refunded_to_wallet", "forfeited", "cancelled"]
            .iter()
            .map(|f| l[*f].as_i64().unwrap())
            .collect()
    };
    assert_eq!(figures(total), [3, 1_500_000, 10_000, 865, 100, 0, 500_000, 500_000]);
    assert_eq!(
        (total["cards"]["active"].as_i64(), total["cards"]["expired"].as_i64(), total["cards"]["cancelled"].as_i64()),
        (Some(1), Some(1), Some(1))
    );

    // Yesterday saw nothing move and nothing outstanding; tomorrow is not reported yet.
    let yesterday = api.get(&report_path(&platform_date(-1))).await.assert_status(StatusCode::OK).clone();
    assert_eq!(figures(&yesterday["total"]), [0; 8]);
    assert_eq!(yesterday["total"]["outstanding"], 0);
    for bad in [platform_date(1), "2026-13-01".to_owned(), "today".to_owned()] {
        api.get(&report_path(&bad)).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_report_date_invalid");
    }

    // As CSV: a byte order mark, a line per type and the total, in yuan.
    let csv = api.get(&format!("/v1/card-reports/liability.csv?date={today}")).await;
    assert_eq!(csv.status, StatusCode::OK, "{}", csv.text);
    assert!(csv.headers[axum::http::header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.text.starts_with('\u{feff}'));
    assert_eq!(csv.text.lines().count(), 1 + 3 + 1);
    let last = csv.text.lines().last().unwrap();
    assert!(
        last.contains("\"total\"") && last.contains(&format!("\"{}.{:02}\"", ledger / 100, ledger % 100)),
        "{last}"
    );
    api.verify_clean().await;
});

on_both_backends!(a_merchants_client_sees_its_own_cards_in_the_liability_report_only, |db| {
    let app = app(db).await;
    let api = &app.api;
    let (cafe, cafe_member, _) = merchant(api, "13800000001", 1).await;
    let (bakery, bakery_member, _) = merchant(api, "13800000002", 2).await;
    let ours = bound_client(&api.db.store, &cafe_member, "cafe").await;
    let theirs = bound_client(&api.db.store, &bakery_member, "bakery").await;
    app.active_card().await;
    let body = json!({"name": "咖啡卡", "grade": 2, "terms": gold_terms(), "merchant_id": cafe});
    let cafe_type = id(api.send_as(&ours, "POST", "/v1/card-types", body).await.assert_status(StatusCode::CREATED));
    let segment = app.segment("8605", 0, 999).await;
    let batch_body = json!({"type_id": cafe_type, "segment_id": segment, "channel": "store", "quantity": 5});
    let batch = id(api.send_as(&ours, "POST", "/v1/card-batches", batch_body).await.assert_status(StatusCode::CREATED));
    app.approve(&batch).await;
    let sale = json!({"order_number": "S-1", "batch_id": batch, "payment_channel": "alipay"});
    api.send_as(&ours, "POST", "/v1/cards", sale).await.assert_status(StatusCode::CREATED);

    let today = platform_date(0);
    // The platform sees both types; the cafe its own; the bakery none, and the cafe's not at all.
    let all = api.get(&report_path(&today)).await.assert_status(StatusCode::OK).clone();
    assert_eq!(all["lines"].as_array().unwrap().len(), 2);
    let own = api.send_as(&ours, "GET", &report_path(&today), Value::Null).await.assert_status(StatusCode::OK).clone();
    let lines = own["lines"].as_array().unwrap();
    assert_eq!((lines.len(), lines[0]["merchant_id"].as_str()), (1, Some(cafe.as_str())));
    assert_eq!((lines[0]["issued"].as_i64(), lines[0]["outstanding"].as_i64()), (Some(500_000), Some(500_000)));
    let narrowed = format!("{}&merchant_id={cafe}", report_path(&today));
    let own = api.send_as(&ours, "GET", &narrowed, Value::Null).await.assert_status(StatusCode::OK).clone();
    assert_eq!(own["lines"].as_array().unwrap().len(), 1);
    let none =
        api.send_as(&theirs, "GET", &report_path(&today), Value::Null).await.assert_status(StatusCode::OK).clone();
    assert_eq!(none["lines"], json!([]));
    api.send_as(&theirs, "GET", &narrowed, Value::Null).await.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    let csv = format!("/v1/card-reports/liability.csv?date={today}&merchant_id={cafe}");
    api.send_as(&theirs, "GET", &csv, Value::Null).await.assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    let bakery_only = format!("{}&merchant_id={bakery}", report_path(&today));
    api.send_as(&ours, "GET", &bakery_only, Value::Null)
        .await
        .assert_error(StatusCode::NOT_FOUND, "merchant_not_found");
    api.verify_clean().await;
});
