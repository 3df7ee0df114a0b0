//! The wallet over the API, on SQLite and PostgreSQL, with the articles' cases end to end: home
//! services (the 1.50 / 10.00 / 0.80 withdrawal), the rider's cash debt repaid by a recharge, pet B2B
//! (a recharge with a tier's bonus into a prepaid type that cannot be withdrawn), the travel store
//! (fund and profit wallets; a withdrawal frozen at application and reviewed), the canteen (subsidy
//! money spent first; subsidy not withdrawable), ETC tolls (nothing credited before the channel's
//! confirmation; the toll deducted before success is answered; red-packet money not withdrawable);
//! then payments, refunds, freezes and adjustments with every refusal's code. Each case ends with the
//! ledger's verify checks passing.

use crate::common;

use axum::http::StatusCode;
use common::TestApp;
use sanhu_core::party::account_type::AccountTypeSpec;
use sanhu_core::party::{AccountType, AccountTypeCode, AccountTypes};
use sanhu_core::wallet::{FeePayer, FeeRule, RechargeTier, RechargeTiers, WithdrawalPolicy};
use sanhu_core::{Currency, Timestamp};
use sanhu_service::clock;
use sanhu_service::party::{PartyConfig, PayPasswordHashing};
use sanhu_service::wallet::{Channel, ChannelReview, PayPasswordRule, WalletConfig};
use sanhu_store::on_both_backends;
use sanhu_store::testing::TestDatabase;
use serde_json::{json, Value};

fn cny() -> Currency {
    Currency::parse("CNY").unwrap()
}

/// The default account types, with riders' settlement accounts allowed 50.00 of debt, and the
/// travel store's fund and profit wallets and the pet shop's prepaid deposit besides.
fn account_types() -> AccountTypes {
    let defaults = AccountTypes::default_set(cny());
    let mut types: Vec<AccountType> = defaults
        .iter()
        .map(|t| {
            if t.code().as_str() == "settlement" {
                AccountType::configure(AccountTypeSpec { overdraft_limit: 5000, ..t.spec().clone() }).unwrap()
            } else {
                t.clone()
            }
        })
        .collect();
    let settlement = defaults.get(&AccountTypeCode::parse("settlement").unwrap()).unwrap().spec().clone();
    let custom = |code: &str, name: &str, withdrawable: bool| {
        AccountType::configure(AccountTypeSpec {
            code: AccountTypeCode::parse(code).unwrap(),
            name: name.to_owned(),
            withdrawable,
            sends_transfers: withdrawable,
            receives_transfers: withdrawable,
            ..settlement.clone()
        })
        .unwrap()
    };
    types.push(custom("fund", "资金钱包", true));
    types.push(custom("profit", "利润钱包", true));
    types.push(custom("prepaid", "预存款", false));
    AccountTypes::new(types).unwrap()
}

fn party_config() -> PartyConfig {
    PartyConfig {
        account_types: account_types(),
        pay_password_hashing: PayPasswordHashing { memory_kib: 256, iterations: 1, parallelism: 1 },
        ..PartyConfig::default()
    }
}

/// The defaults with a free `test` channel, withdrawals of at least 1.00 reviewed from 100.00, and a
/// tier "pay 100.00, get 10.00" valid now.
fn wallet_config() -> WalletConfig {
    let mut config = WalletConfig::default_for(cny());
    config.channels.push(Channel {
        name: "test".into(),
        review: ChannelReview::NotRequired,
        fee: FeeRule::Free,
        fee_payer: FeePayer::Platform,
        status_url: None,
    });
    config.withdrawal = WithdrawalPolicy::new(cny(), 100, FeeRule::Free, FeePayer::Member).unwrap();
    config.withdrawal_auto_approve_below = 10_000;
    let now = clock::now();
    let tier = RechargeTier::new(
        10_000,
        1000,
        Timestamp::from_nanos(now.nanos() - 3_600_000_000_000),
        now.add_seconds(86_400).unwrap(),
    );
    config.recharge_tiers = RechargeTiers::new(cny(), vec![tier.unwrap()]);
    config
}

async fn app(db: TestDatabase) -> TestApp {
    TestApp::new(db, party_config(), wallet_config()).await
}

fn amounts(parts: &Value) -> Vec<(String, i64)> {
    parts
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["account_id"].as_str().unwrap().to_owned(), p["amount"].as_i64().unwrap()))
        .collect()
}

fn pay(number: &str, member: &str, amount: i64, receiver: &str) -> Value {
    json!({"order_number": number, "member_id": member, "amount": amount, "receiver_account_id": receiver})
}

// ---------------------------------------------------------------------------------------------------
// The articles' cases

on_both_backends!(home_services_withdrawal_of_8_takes_1_50_and_6_50_and_is_paid_out, |db| {
    let app = app(db).await;
    let (worker, _) = app.active_member("13700000001").await;
    let mut accounts = Vec::new();
    for _ in 0..3 {
        accounts.push(app.open(&worker, "settlement").await);
    }
    // Accounts of one type are taken in id order; ids made in the same millisecond are not in the
    // order they were made.
    accounts.sort();
    for (i, (account, amount)) in accounts.iter().zip([150, 1000, 80]).enumerate() {
        app.recharge(&worker, account, amount, "test", &format!("F-{i}")).await;
    }
    let wallet = app.wallet(&worker).await;
    assert_eq!((wallet["balance"].as_i64(), wallet["withdrawable"].as_i64()), (Some(1230), Some(1150)));

    let preview = app.get(&format!("/v1/members/{worker}/wallet/withdrawal-preview?amount=800")).await;
    let preview = preview.assert_status(StatusCode::OK).clone();
    assert_eq!(amounts(&preview["allocations"]), [(accounts[0].clone(), 150), (accounts[1].clone(), 650)]);
    assert_eq!((preview["fee"].as_i64(), preview["payout"].as_i64()), (Some(0), Some(800)));
    let below = app.get(&format!("/v1/members/{worker}/wallet/withdrawal-preview?amount=99")).await;
    below.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "below_minimum_withdrawal");
    let beyond = app.get(&format!("/v1/members/{worker}/wallet/withdrawal-preview?amount=1151")).await;
    beyond.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "exceeds_withdrawable");

    // Only to a card in the member's verified name.
    app.real_name(&worker, "张三", 1).await;
    let someone_elses = app.bind_card(&worker, "李四", 1).await;
    let mismatch = app
        .post(
            "/v1/withdrawals",
            json!({"order_number": "W-0", "member_id": worker, "amount": 800, "bank_card_id": someone_elses}),
        )
        .await;
    mismatch.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "card_holder_mismatch");
    let card = app.bind_card(&worker, "张三", 2).await;
    let applied = app
        .post(
            "/v1/withdrawals",
            json!({"order_number": "W-1", "member_id": worker, "amount": 800, "bank_card_id": card}),
        )
        .await;
    let applied = applied.assert_status(StatusCode::CREATED).clone();
    // Under the review threshold: approved at once, one order per account, all frozen.
    assert_eq!(applied["status"], "approved");
    let orders: Vec<(String, String, i64)> = applied["orders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["number"].as_str().unwrap().into(),
                o["account_id"].as_str().unwrap().into(),
                o["amount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(orders, [("W-1-1".into(), accounts[0].clone(), 150), ("W-1-2".into(), accounts[1].clone(), 650)]);
    let wallet = app.wallet(&worker).await;
    assert_eq!((wallet["frozen"].as_i64(), wallet["withdrawable"].as_i64()), (Some(800), Some(350)));

    let paid = app.post("/v1/withdrawals/W-1/payout", json!({"result": "succeeded"})).await;
    assert_eq!(paid.assert_status(StatusCode::OK)["status"], "paid");
    // The payout result again changes nothing.
    let again = app.post("/v1/withdrawals/W-1/payout", json!({"result": "succeeded"})).await;
    assert_eq!(again.assert_status(StatusCode::OK)["status"], "paid");
    let balances = [app.balance(&accounts[0]).await, app.balance(&accounts[1]).await, app.balance(&accounts[2]).await];
    assert_eq!(balances, [0, 350, 80]);
    assert_eq!(app.platform_balance("withdrawals_in_transit").await, 800);
    app.verify_clean().await;
});

on_both_backends!(a_riders_cash_order_goes_into_debt_and_a_recharge_repays_it_first, |db| {
    let app = app(db).await;
    let (rider, basic) = app.active_member("13700000002").await;
    let settlement = app.open(&rider, "settlement").await;
    let (_, shop) = app.active_member("13700000003").await;
    // The rider collected 30.00 in cash for an order: the platform takes it from the settlement
    // account, which goes into debt (its type allows 50.00).
    let paid = app.post("/v1/payments", pay("CASH-1", &rider, 3000, &shop)).await;
    assert_eq!(paid.assert_status(StatusCode::CREATED)["status"], "paid");
    assert_eq!(app.balance(&settlement).await, -3000);
    let wallet = app.wallet(&rider).await;
    assert_eq!((wallet["balance"].as_i64(), wallet["debt"].as_i64()), (Some(-3000), Some(3000)));
    // Beyond the type's 50.00 of debt: refused, nothing moved.
    let beyond = app.post("/v1/payments", pay("CASH-2", &rider, 2001, &shop)).await;
    beyond.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");
    assert_eq!(app.balance(&settlement).await, -3000);

    // A recharge of 50.00 repays the 30.00 first and credits 20.00.
    let order = app.recharge(&rider, &basic, 5000, "test", "RR-1").await;
    assert_eq!((order["repaid"].as_i64(), order["credited"].as_i64()), (Some(3000), Some(2000)));
    let wallet = app.wallet(&rider).await;
    assert_eq!((wallet["balance"].as_i64(), wallet["debt"].as_i64()), (Some(2000), Some(0)));
    assert_eq!(app.balance(&settlement).await, 0);
    app.verify_clean().await;
});

on_both_backends!(pet_b2b_recharge_earns_the_tier_bonus_and_prepaid_money_is_not_withdrawable, |db| {
    let app = app(db).await;
    let (shop, _) = app.active_member("13700000004").await;
    let prepaid = app.open(&shop, "prepaid").await;
    // Pay 100.00, get 10.00: the bonus lands in the bonus account, opened for it.
    let order = app.recharge(&shop, &prepaid, 10_000, "test", "PET-1").await;
    assert_eq!((order["credited"].as_i64(), order["bonus"].as_i64()), (Some(10_000), Some(1000)));
    assert_eq!(order["status"], "succeeded");
    let wallet = app.wallet(&shop).await;
    assert_eq!(wallet["balance"].as_i64(), Some(11_000));
    let bonus = wallet["accounts"].as_array().unwrap().iter().find(|a| a["account_type"] == "bonus").unwrap().clone();
    assert_eq!(bonus["balance"].as_i64(), Some(1000));
    // Neither prepaid money nor the bonus may be withdrawn.
    assert_eq!(wallet["withdrawable"].as_i64(), Some(0));
    let preview = app.get(&format!("/v1/members/{shop}/wallet/withdrawal-preview?amount=500")).await;
    assert!(["not_withdrawable", "exceeds_withdrawable"].contains(&preview.code()), "{}", preview.body);
    assert_eq!(preview.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.platform_balance("marketing_expense").await, 1000);
    app.verify_clean().await;
});

on_both_backends!(travel_store_withdraws_from_its_profit_wallet_frozen_at_application_then_reviewed, |db| {
    let app = app(db).await;
    let (store, _) = app.active_member("13700000005").await;
    let fund = app.open(&store, "fund").await;
    let profit = app.open(&store, "profit").await;
    app.recharge(&store, &fund, 30_000, "test", "T-F").await;
    app.recharge(&store, &profit, 50_000, "test", "T-P").await;
    // The store chooses to withdraw (and pay) from its profit wallet first.
    let order =
        app.post(&format!("/v1/members/{store}/wallet/deduction-order"), json!({"account_ids": [profit, fund]})).await;
    assert_eq!(order.assert_status(StatusCode::OK)["account_ids"][0], profit.as_str());
    app.real_name(&store, "王五", 3).await;
    let card = app.bind_card(&store, "王五", 3).await;

    // 200.00 is above the review threshold: frozen at once, waiting for review.
    let applied = app
        .post(
            "/v1/withdrawals",
            json!({"order_number": "TW-1", "member_id": store, "amount": 20_000, "bank_card_id": card}),
        )
        .await;
    let applied = applied.assert_status(StatusCode::CREATED).clone();
    assert_eq!(applied["status"], "reviewing");
    assert_eq!(amounts(&json!(applied["orders"])).len(), 1);
    assert_eq!(applied["orders"][0]["account_id"], profit.as_str());
    let wallet = app.wallet(&store).await;
    // Each recharge earned the tier's 10.00 bonus: 820.00 in all.
    assert_eq!((wallet["frozen"].as_i64(), wallet["available"].as_i64()), (Some(20_000), Some(62_000)));
    // The frozen money cannot be spent meanwhile: 700.00 of 820.00 is more than is available.
    let (_, shop) = app.active_member("13700000006").await;
    let spent = app.post("/v1/payments", pay("T-PAY", &store, 70_000, &shop)).await;
    spent.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");

    // Payout before review is refused; a wrong decision word has its own code.
    let early = app.post("/v1/withdrawals/TW-1/payout", json!({"result": "succeeded"})).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "{}", early.body);
    let wrong = app.post("/v1/withdrawals/TW-1/review", json!({"decision": "maybe"})).await;
    wrong.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_decision");
    let approved = app.post("/v1/withdrawals/TW-1/review", json!({"decision": "approve"})).await;
    assert_eq!(approved.assert_status(StatusCode::OK)["status"], "approved");
    let failed = app.post("/v1/withdrawals/TW-1/payout", json!({"result": "failed"})).await;
    assert_eq!(failed.assert_status(StatusCode::OK)["status"], "payout_failed");
    // The failed payout released the money.
    let wallet = app.wallet(&store).await;
    assert_eq!((wallet["frozen"].as_i64(), wallet["balance"].as_i64()), (Some(0), Some(82_000)));

    // A second application is rejected at review: released too.
    let applied = app
        .post(
            "/v1/withdrawals",
            json!({"order_number": "TW-2", "member_id": store, "amount": 20_000, "bank_card_id": card}),
        )
        .await;
    applied.assert_status(StatusCode::CREATED);
    let rejected = app.post("/v1/withdrawals/TW-2/review", json!({"decision": "reject"})).await;
    assert_eq!(rejected.assert_status(StatusCode::OK)["status"], "rejected");
    assert_eq!(app.wallet(&store).await["frozen"].as_i64(), Some(0));
    let got = app.get("/v1/withdrawals/TW-2").await;
    assert_eq!(got.assert_status(StatusCode::OK)["status"], "rejected");
    app.verify_clean().await;
});

on_both_backends!(canteen_payment_spends_subsidy_money_first_and_subsidy_is_not_withdrawable, |db| {
    let app = app(db).await;
    let (employee, basic) = app.active_member("13700000007").await;
    let subsidy = app.open(&employee, "subsidy").await;
    let (_, canteen) = app.active_member("13700000008").await;
    app.recharge(&employee, &basic, 5000, "test", "C-B").await;
    // The enterprise's monthly subsidy, credited by an adjustment here (funding is its own flow).
    let credited = app
        .post(
            "/v1/adjustments",
            json!({"adjustment_number": "SUB-1", "account_id": subsidy, "direction": "credit", "amount": 2000,
                   "reason": "monthly meal subsidy"}),
        )
        .await;
    assert_eq!(credited.assert_status(StatusCode::CREATED)["status"], "applied");
    let wallet = app.wallet(&employee).await;
    assert_eq!((wallet["balance"].as_i64(), wallet["withdrawable"].as_i64()), (Some(7000), Some(5000)));

    // A 25.00 meal: 20.00 from the subsidy first, 5.00 from the basic account, one chain.
    let meal = app.post("/v1/payments", pay("MEAL-1", &employee, 2500, &canteen)).await;
    let meal = meal.assert_status(StatusCode::CREATED).clone();
    assert_eq!(meal["status"], "paid");
    assert_eq!(amounts(&meal["deductions"]), [(subsidy.clone(), 2000), (basic.clone(), 500)]);
    assert_eq!((app.balance(&subsidy).await, app.balance(&basic).await, app.balance(&canteen).await), (0, 4500, 2500));
    app.verify_clean().await;
});

on_both_backends!(etc_tolls_nothing_is_credited_before_confirmation_and_red_packets_stay_unwithdrawable, |db| {
    let app = app(db).await;
    let (driver, basic) = app.active_member("13700000009").await;
    let created = app
        .post(
            "/v1/recharges",
            json!({"order_number": "ETC-R1", "member_id": driver, "amount": 10_000, "channel": "test"}),
        )
        .await;
    let created = created.assert_status(StatusCode::CREATED).clone();
    assert_eq!(created["status"], "pending");
    assert_eq!(created["account_id"], basic.as_str());
    // Credit after payment succeeds, never before.
    assert_eq!(app.balance(&basic).await, 0);
    let read = app.get("/v1/recharges/ETC-R1").await;
    assert_eq!(read.assert_status(StatusCode::OK)["status"], "pending");
    // Confirmed twice, by two callbacks at once: credited once.
    let (a, b) = tokio::join!(
        app.post("/v1/recharges/ETC-R1/confirm", json!({})),
        app.post("/v1/recharges/ETC-R1/confirm", json!({}))
    );
    assert_eq!(a.assert_status(StatusCode::OK)["status"], "succeeded");
    assert_eq!(b.assert_status(StatusCode::OK)["status"], "succeeded");
    assert_eq!(app.balance(&basic).await, 10_000);
    // The tier's red packet (bonus): spendable, not withdrawable.
    let wallet = app.wallet(&driver).await;
    assert_eq!((wallet["balance"].as_i64(), wallet["withdrawable"].as_i64()), (Some(11_000), Some(10_000)));

    // The toll is deducted before success is answered: the answer is the payment, paid, and the
    // money is already at the toll operator.
    let (_, toll_operator) = app.active_member("13700000010").await;
    let toll = app.post("/v1/payments", pay("TOLL-1", &driver, 3550, &toll_operator)).await;
    assert_eq!(toll.assert_status(StatusCode::CREATED)["status"], "paid");
    assert_eq!(app.balance(&toll_operator).await, 3550);

    // A failed and a closed order credit nothing, and stay ended.
    for (number, action) in [("ETC-R2", "fail"), ("ETC-R3", "close")] {
        let body = json!({"order_number": number, "member_id": driver, "amount": 5000, "channel": "test"});
        app.post("/v1/recharges", body).await.assert_status(StatusCode::CREATED);
        let ended = if action == "fail" {
            app.post(&format!("/v1/recharges/{number}/fail"), json!({"reason": "the bank declined"})).await
        } else {
            app.post(&format!("/v1/recharges/{number}/close"), json!({})).await
        };
        ended.assert_status(StatusCode::OK);
        let late = app.post(&format!("/v1/recharges/{number}/confirm"), json!({})).await;
        late.assert_error(StatusCode::CONFLICT, "order_closed");
    }
    assert_eq!(app.wallet(&driver).await["balance"].as_i64(), Some(11_000 - 3550));
    app.verify_clean().await;
});

// ---------------------------------------------------------------------------------------------------
// Recharge review, payments, refunds, freezes, adjustments

on_both_backends!(a_bank_transfer_recharge_waits_for_review_and_only_approval_credits_it, |db| {
    let app = app(db).await;
    let (member, basic) = app.active_member("13700000011").await;
    let body = json!({"order_number": "BT-1", "member_id": member, "amount": 20_000, "channel": "bank_transfer"});
    let created = app.post("/v1/recharges", body.clone()).await;
    assert_eq!(created.assert_status(StatusCode::CREATED)["status"], "reviewing");
    // The same number with the same details answers the order; with others, it is refused.
    let again = app.post("/v1/recharges", body).await;
    assert_eq!(again.assert_status(StatusCode::CREATED)["status"], "reviewing");
    let other = json!({"order_number": "BT-1", "member_id": member, "amount": 1, "channel": "bank_transfer"});
    app.post("/v1/recharges", other).await.assert_error(StatusCode::CONFLICT, "order_number_reused");
    // The channel's callback cannot credit it before review.
    app.post("/v1/recharges/BT-1/confirm", json!({})).await.assert_error(StatusCode::CONFLICT, "order_under_review");
    let approved = app.post("/v1/recharges/BT-1/approve", json!({})).await;
    assert_eq!(approved.assert_status(StatusCode::OK)["status"], "succeeded");
    assert_eq!(app.balance(&basic).await, 20_000);
    // A rejected one credits nothing.
    let body = json!({"order_number": "BT-2", "member_id": member, "amount": 5000, "channel": "bank_transfer"});
    app.post("/v1/recharges", body).await.assert_status(StatusCode::CREATED);
    let rejected = app.post("/v1/recharges/BT-2/reject", json!({"reason": "not on the statement"})).await;
    assert_eq!(rejected.assert_status(StatusCode::OK)["status"], "failed");
    assert_eq!(app.balance(&basic).await, 20_000);
    // Unknown channels, orders and bad numbers have their codes.
    let unknown = json!({"order_number": "X-1", "member_id": member, "amount": 100, "channel": "carrier_pigeon"});
    app.post("/v1/recharges", unknown).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "channel_not_configured");
    app.get("/v1/recharges/NOPE").await.assert_error(StatusCode::NOT_FOUND, "order_not_found");
    let bad = json!({"order_number": "has space", "member_id": member, "amount": 100, "channel": "test"});
    app.post("/v1/recharges", bad).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "order_number_invalid");
    let zero = json!({"order_number": "Z-1", "member_id": member, "amount": 0, "channel": "test"});
    app.post("/v1/recharges", zero).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_amount");
    app.verify_clean().await;
});

on_both_backends!(payments_split_authorise_capture_release_and_refunds_never_exceed_the_payment, |db| {
    let app = app(db).await;
    let (member, basic) = app.active_member("13700000012").await;
    let (_, merchant) = app.active_member("13700000013").await;
    app.recharge(&member, &basic, 10_000, "test", "P-F").await;

    // Short of money: all or nothing by default; with allow_split, what the wallet can and the rest.
    let short = app.post("/v1/payments", pay("P-0", &member, 15_000, &merchant)).await;
    short.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");
    let mut split = pay("P-1", &member, 15_000, &merchant);
    split["allow_split"] = json!(true);
    let split = app.post("/v1/payments", split).await;
    let split = split.assert_status(StatusCode::CREATED).clone();
    assert_eq!((split["paid"].as_i64(), split["remainder"].as_i64()), (Some(11_000), Some(4000)));

    // Refunds: in parts, concurrent, never beyond what was paid.
    let refund = |n: &str, amount: i64| json!({"refund_number": n, "amount": amount});
    let (a, b, c) = tokio::join!(
        app.post("/v1/payments/P-1/refunds", refund("R-1", 5000)),
        app.post("/v1/payments/P-1/refunds", refund("R-2", 5000)),
        app.post("/v1/payments/P-1/refunds", refund("R-3", 5000)),
    );
    let succeeded = [&a, &b, &c].iter().filter(|r| r.status == StatusCode::CREATED).count();
    assert_eq!(succeeded, 2, "{} {} {}", a.body, b.body, c.body);
    for refused in [&a, &b, &c].into_iter().filter(|r| r.status != StatusCode::CREATED) {
        refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "refund_exceeds_payment");
    }
    let payment = app.get("/v1/payments/P-1").await.assert_status(StatusCode::OK).clone();
    assert_eq!(payment["refunded"].as_i64(), Some(10_000));
    app.post("/v1/payments/P-1/refunds", refund("R-4", 1001))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "refund_exceeds_payment");
    // The same refund number again answers that refund; with another amount it is refused.
    let repeated = app.post("/v1/payments/P-1/refunds", refund("R-X", 1000)).await;
    repeated.assert_status(StatusCode::CREATED);
    let again = app.post("/v1/payments/P-1/refunds", refund("R-X", 1000)).await;
    assert_eq!(again.assert_status(StatusCode::CREATED)["amount"].as_i64(), Some(1000));
    app.post("/v1/payments/P-1/refunds", refund("R-X", 999))
        .await
        .assert_error(StatusCode::CONFLICT, "refund_number_reused");
    assert_eq!(app.wallet(&member).await["balance"].as_i64(), Some(11_000));

    // Authorise, then capture part: the rest is released.
    let mut authorise = pay("P-2", &member, 6000, &merchant);
    authorise["authorise_timeout_s"] = json!(600);
    let held = app.post("/v1/payments", authorise).await.assert_status(StatusCode::CREATED).clone();
    assert_eq!(held["status"], "authorised");
    assert_eq!(app.wallet(&member).await["frozen"].as_i64(), Some(6000));
    app.post("/v1/payments/P-2/capture", json!({"amount": 6001}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "capture_exceeds_holds");
    let captured = app.post("/v1/payments/P-2/capture", json!({"amount": 4000})).await;
    let captured = captured.assert_status(StatusCode::OK).clone();
    assert_eq!((captured["status"].as_str(), captured["paid"].as_i64()), (Some("captured"), Some(4000)));
    let wallet = app.wallet(&member).await;
    assert_eq!((wallet["frozen"].as_i64(), wallet["balance"].as_i64()), (Some(0), Some(7000)));
    // Another authorised and released: nothing paid.
    let mut authorise = pay("P-3", &member, 1000, &merchant);
    authorise["authorise_timeout_s"] = json!(600);
    app.post("/v1/payments", authorise).await.assert_status(StatusCode::CREATED);
    let released = app.post("/v1/payments/P-3/release", json!({})).await;
    assert_eq!(released.assert_status(StatusCode::OK)["status"], "released");
    app.post("/v1/payments/P-3/capture", json!({"amount": 1}))
        .await
        .assert_error(StatusCode::CONFLICT, "order_state_invalid");
    app.post("/v1/payments/P-3/refunds", refund("R-9", 1))
        .await
        .assert_error(StatusCode::CONFLICT, "payment_not_refundable");
    assert_eq!(app.wallet(&member).await["balance"].as_i64(), Some(7000));

    // A receiver that is a platform account; exactly one receiver.
    let mut to_platform = json!({"order_number": "P-4", "member_id": member, "amount": 100,
                                 "receiver_platform_account": "fee_income"});
    app.post("/v1/payments", to_platform.clone()).await.assert_status(StatusCode::CREATED);
    assert_eq!(app.platform_balance("fee_income").await, 100);
    to_platform["order_number"] = json!("P-5");
    to_platform["receiver_platform_account"] = json!("no_such_account");
    app.post("/v1/payments", to_platform).await.assert_error(StatusCode::NOT_FOUND, "platform_account_not_found");
    let mut both = pay("P-6", &member, 100, &merchant);
    both["receiver_platform_account"] = json!("fee_income");
    app.post("/v1/payments", both).await.assert_error(StatusCode::BAD_REQUEST, "invalid_field");
    app.verify_clean().await;
});

on_both_backends!(a_payment_under_an_idempotency_key_with_a_pay_password_pays_once, |db| {
    let mut wallet = wallet_config();
    wallet.pay_password = PayPasswordRule::Required;
    let app = TestApp::new(db, party_config(), wallet).await;
    let (member, basic) = app.active_member("13700000014").await;
    let (_, merchant) = app.active_member("13700000015").await;
    app.recharge(&member, &basic, 10_000, "test", "PP-F").await;
    app.post(&format!("/v1/members/{member}/pay-password"), json!({"pay_password": "135790"}))
        .await
        .assert_status(StatusCode::CREATED);

    let without = app.post("/v1/payments", pay("PP-0", &member, 100, &merchant)).await;
    without.assert_error(StatusCode::FORBIDDEN, "pay_password_required");
    let mut wrong = pay("PP-1", &member, 100, &merchant);
    wrong["pay_password"] = json!("000000");
    app.post("/v1/payments", wrong).await.assert_error(StatusCode::FORBIDDEN, "pay_password_incorrect");

    let mut body = pay("PP-2", &member, 2500, &merchant);
    body["pay_password"] = json!("135790");
    let first = app.post_keyed("/v1/payments", "pay-PP-2", body.clone()).await;
    assert_eq!(first.assert_status(StatusCode::CREATED)["status"], "paid");
    let replayed = app.post_keyed("/v1/payments", "pay-PP-2", body).await;
    replayed.assert_status(StatusCode::CREATED);
    assert_eq!(replayed.headers.get("idempotent-replayed").map(|v| v.to_str().unwrap()), Some("true"));
    assert!(!replayed.text.contains("135790"));
    assert_eq!(app.balance(&merchant).await, 2500);
    app.verify_clean().await;
});

on_both_backends!(a_freeze_holds_money_until_unfrozen_or_seized, |db| {
    let app = app(db).await;
    let (member, basic) = app.active_member("13700000016").await;
    app.recharge(&member, &basic, 9000, "test", "FZ-F").await;
    let freeze = |n: &str, amount: i64| json!({"freeze_number": n, "account_id": basic, "amount": amount, "reason": "court order 2026-118"});
    let frozen = app.post("/v1/freezes", freeze("FZ-1", 3000)).await;
    assert_eq!(frozen.assert_status(StatusCode::CREATED)["status"], "frozen");
    assert_eq!(app.wallet(&member).await["available"].as_i64(), Some(6000));
    app.post("/v1/freezes", freeze("FZ-2", 6001))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");
    let unfrozen = app.post("/v1/freezes/FZ-1/unfreeze", json!({})).await;
    assert_eq!(unfrozen.assert_status(StatusCode::OK)["status"], "unfrozen");
    assert_eq!(app.wallet(&member).await["available"].as_i64(), Some(9000));

    app.post("/v1/freezes", freeze("FZ-3", 4000)).await.assert_status(StatusCode::CREATED);
    let seized = app.post("/v1/freezes/FZ-3/seize", json!({})).await;
    assert_eq!(seized.assert_status(StatusCode::OK)["status"], "seized");
    assert_eq!(app.get("/v1/freezes/FZ-3").await.assert_status(StatusCode::OK)["status"], "seized");
    assert_eq!(app.balance(&basic).await, 5000);
    assert_eq!(app.platform_balance("seized").await, 4000);
    app.get("/v1/freezes/FZ-9").await.assert_error(StatusCode::NOT_FOUND, "freeze_not_found");
    app.post("/v1/freezes", json!({"freeze_number": "FZ-4", "account_id": basic, "amount": 1, "reason": ""}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "reason_invalid");
    app.verify_clean().await;
});

on_both_backends!(an_adjustment_above_the_threshold_needs_a_second_person, |db| {
    let app = app(db).await;
    let (member, basic) = app.active_member("13700000017").await;
    let adjust = |n: &str, direction: &str, amount: i64, staff: &str| {
        json!({"adjustment_number": n, "account_id": basic, "direction": direction, "amount": amount,
               "reason": "compensation for a lost order", "acting_staff": staff})
    };
    // Below 1,000.00: applied at once.
    let small = app.post("/v1/adjustments", adjust("ADJ-1", "credit", 5000, "alice")).await;
    assert_eq!(small.assert_status(StatusCode::CREATED)["status"], "applied");
    // From 1,000.00: waits; the maker cannot approve it; another person can.
    let large = app.post("/v1/adjustments", adjust("ADJ-2", "credit", 100_000, "alice")).await;
    assert_eq!(large.assert_status(StatusCode::CREATED)["status"], "awaiting_approval");
    assert_eq!(app.balance(&basic).await, 5000);
    let same = app.post("/v1/adjustments/ADJ-2/approve", json!({"acting_staff": "alice"})).await;
    same.assert_error(StatusCode::FORBIDDEN, "adjustment_same_actor");
    // The client that made it cannot approve it, whichever person it names: one key is one principal.
    for body in [json!({"acting_staff": "bob"}), json!({})] {
        let own = app.post("/v1/adjustments/ADJ-2/approve", body).await;
        own.assert_error(StatusCode::FORBIDDEN, "adjustment_same_actor");
    }
    let waiting = app.get("/v1/adjustments/ADJ-2").await;
    assert_eq!(waiting.assert_status(StatusCode::OK)["status"], "awaiting_approval");
    assert_eq!(app.balance(&basic).await, 5000);
    // Another client of the platform approves it, naming the maker's orders.
    let checker_client = common::new_client(&app.db.store).await;
    let approve = format!("/v1/adjustments/ADJ-2/approve?client_id={}", app.client_id);
    let approved = app.send_as(&checker_client, "POST", &approve, json!({"acting_staff": "bob"})).await;
    let approved = approved.assert_status(StatusCode::OK).clone();
    assert_eq!((approved["status"].as_str(), approved["checker"].as_str()), (Some("applied"), Some("staff:bob")));
    assert_eq!(app.balance(&basic).await, 105_000);
    // A debit beyond the balance is refused by the ledger: nothing moved.
    let debit = app.post("/v1/adjustments", adjust("ADJ-3", "debit", 99_999, "alice")).await;
    let debit = debit.assert_status(StatusCode::CREATED).clone();
    assert_eq!(debit["status"], "applied");
    let too_much = app.post("/v1/adjustments", adjust("ADJ-4", "debit", 50_000, "alice")).await;
    assert!(
        too_much.status == StatusCode::UNPROCESSABLE_ENTITY || too_much.body["status"] == "refused",
        "{}",
        too_much.body
    );
    assert_eq!(app.balance(&basic).await, 5001);
    app.post("/v1/adjustments", adjust("ADJ-5", "sideways", 1, "alice"))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_direction");
    let _ = member;
    app.verify_clean().await;
});

on_both_backends!(the_platform_accounts_are_listed_and_a_wallet_of_an_unknown_member_is_not_found, |db| {
    let app = app(db).await;
    let listed = app.get("/v1/platform-accounts").await.assert_status(StatusCode::OK).clone();
    let names: Vec<&str> = listed["data"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    for name in
        ["channel:alipay", "channel:test", "fee_income", "marketing_expense", "seized", "withdrawals_in_transit"]
    {
        assert!(names.contains(&name), "{name} in {names:?}");
    }
    let unknown = app.get("/v1/members/mem_01JD7S2P3Q4R5S6T7V8W9X0Y1Z/wallet").await;
    unknown.assert_error(StatusCode::NOT_FOUND, "member_not_found");
    app.get("/v1/members/nope/wallet").await.assert_error(StatusCode::BAD_REQUEST, "invalid_id");
    let (member, _) = app.active_member("13700000018").await;
    let bad = app.get(&format!("/v1/members/{member}/wallet/withdrawal-preview?amount=abc")).await;
    bad.assert_error(StatusCode::BAD_REQUEST, "invalid_query");
    let missing = app.get(&format!("/v1/members/{member}/wallet/withdrawal-preview")).await;
    assert_eq!(missing.status, StatusCode::BAD_REQUEST);
    app.verify_clean().await;
});

// ---------------------------------------------------------------------------------------------------
// The enterprise's subsidies, transfers between members, escrow and deposits, recharge refunds, the flow

/// An enterprise member with its company details and a first admin, activated; (member, basic).
async fn enterprise(app: &TestApp, phone: &str) -> (String, String) {
    let company = json!({
        "name": "某某科技有限公司", "credit_code": "91110108MA01ABCD0B", "legal_person": "张三",
        "legal_person_certificate_number": common::id_card(900), "contact": "李四",
        "contact_phone": "13912345678", "industry": "I642", "licence_expiry": "2035-06-30",
        "address": "北京市海淀区某某路1号"
    });
    let registered = app
        .post(
            "/v1/enterprises",
            json!({"email": format!("finance{phone}@example.com"), "company": company, "admin": {"phone": phone}}),
        )
        .await;
    let member = registered.assert_status(StatusCode::CREATED)["member"]["id"].as_str().unwrap().to_owned();
    let activated = app.post(&format!("/v1/members/{member}/activate"), json!({})).await;
    let basic = activated.assert_status(StatusCode::OK)["accounts"][0]["id"].as_str().unwrap().to_owned();
    (member, basic)
}

on_both_backends!(canteen_subsidies_come_from_the_enterprise_are_spent_first_and_keep_their_kind, |db| {
    let app = app(db).await;
    let (company, company_basic) = enterprise(&app, "13900000101").await;
    app.recharge(&company, &company_basic, 9000, "test", "CO-R").await;
    let (alice, alice_basic) = app.active_member("13700000101").await;
    let (bob, _) = app.active_member("13700000102").await;
    let (_, canteen) = app.active_member("13700000103").await;
    app.recharge(&alice, &alice_basic, 3000, "test", "A-R").await;

    // The enterprise funds 60.00 of subsidies from its own money, then pays 40.00 to Alice.
    let funded = app
        .post("/v1/subsidy-fundings", json!({"order_number": "SF-1", "enterprise_member_id": company, "amount": 6000}))
        .await;
    assert_eq!(funded.assert_status(StatusCode::CREATED)["status"], "applied");
    let round = json!({"order_number": "SD-1", "enterprise_member_id": company,
                       "credits": [{"member_id": alice, "amount": 4000}]});
    let paid = app.post("/v1/subsidy-distributions", round).await.assert_status(StatusCode::CREATED).clone();
    assert_eq!((paid["status"].as_str(), paid["total"].as_i64()), (Some("applied"), Some(4000)));
    let fund = app.get(&format!("/v1/members/{company}/subsidy-fund")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(
        (fund["funded"].as_i64(), fund["distributed"].as_i64(), fund["available"].as_i64()),
        (Some(6000), Some(4000), Some(2000))
    );
    // Never more than funded.
    let greedy = json!({"order_number": "SD-2", "enterprise_member_id": company,
                        "credits": [{"member_id": bob, "amount": 2001}]});
    app.post("/v1/subsidy-distributions", greedy)
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "subsidy_fund_insufficient");
    // The refused round changed nothing: Bob has no subsidy account yet; he opens one.
    let bobs = app.wallet(&bob).await;
    assert!(bobs["accounts"].as_array().unwrap().iter().all(|a| a["account_type"] != "subsidy"), "{bobs}");
    app.open(&bob, "subsidy").await;
    // A personal member has no subsidies to fund.
    let personal = json!({"order_number": "SF-9", "enterprise_member_id": alice, "amount": 100});
    app.post("/v1/subsidy-fundings", personal).await.assert_error(StatusCode::FORBIDDEN, "subsidy_enterprise_only");

    // Subsidy money is not withdrawable, and is spent first.
    let wallet = app.wallet(&alice).await;
    assert_eq!((wallet["balance"].as_i64(), wallet["withdrawable"].as_i64()), (Some(7000), Some(3000)));
    let meal = app
        .post("/v1/payments", pay("MEAL-9", &alice, 1500, &canteen))
        .await
        .assert_status(StatusCode::CREATED)
        .clone();
    let subsidy = paid["grants"][0]["account_id"].as_str().unwrap().to_owned();
    assert_eq!(amounts(&meal["deductions"]), [(subsidy.clone(), 1500)]);

    // Alice gives Bob 30.00: 25.00 of it subsidy (which lands in Bob's subsidy account), 5.00 recharged money.
    let sent = app
        .post(
            "/v1/member-transfers",
            json!({"order_number": "T-1", "sender_member_id": alice, "receiver_member_id": bob, "amount": 3000}),
        )
        .await;
    let sent = sent.assert_status(StatusCode::CREATED).clone();
    assert_eq!(sent["status"], "transferred");
    let kinds: Vec<(String, i64)> = sent["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["account_type"].as_str().unwrap().to_owned(), p["amount"].as_i64().unwrap()))
        .collect();
    assert_eq!(kinds, [("subsidy".to_owned(), 2500), ("basic".to_owned(), 500)]);
    let bob_wallet = app.wallet(&bob).await;
    assert_eq!((bob_wallet["balance"].as_i64(), bob_wallet["withdrawable"].as_i64()), (Some(3000), Some(500)));
    let read = app.get("/v1/member-transfers/T-1").await.assert_status(StatusCode::OK).clone();
    assert_eq!(read["amount"].as_i64(), Some(3000));
    let to_self = json!({"order_number": "T-2", "sender_member_id": alice, "receiver_member_id": alice, "amount": 1});
    app.post("/v1/member-transfers", to_self).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "same_wallet");
    app.verify_clean().await;
});

on_both_backends!(car_rental_rent_is_held_in_escrow_until_pickup_and_the_deposit_is_never_the_merchants, |db| {
    let app = app(db).await;
    let (renter, basic) = app.active_member("13700000201").await;
    let (_, rental_company) = app.active_member("13700000202").await;
    app.recharge(&renter, &basic, 9000, "test", "CR-R").await;
    // The rent: credited to the company as frozen (incoming), frozen on the renter's side.
    let mut rent = pay("RENT-1", &renter, 3000, &rental_company);
    rent["escrow"] = json!(true);
    let held = app.post("/v1/payments", rent).await.assert_status(StatusCode::CREATED).clone();
    assert_eq!(held["status"], "escrowed");
    assert_eq!(app.wallet(&renter).await["frozen"].as_i64(), Some(3000));
    assert_eq!(app.balance(&rental_company).await, 0);
    // The deposit: held on the renter's wallet, toward the company only if there is damage.
    let deposit =
        json!({"order_number": "DEP-1", "member_id": renter, "amount": 5000, "beneficiary_account_id": rental_company});
    let deposit = app.post("/v1/deposits", deposit).await.assert_status(StatusCode::CREATED).clone();
    assert_eq!(deposit["status"], "held");
    let wallet = app.wallet(&renter).await;
    assert_eq!((wallet["frozen"].as_i64(), wallet["available"].as_i64()), (Some(8000), Some(1000)));

    // Picked up: the rent is the company's; returning it now is refused.
    let released = app.post("/v1/payments/RENT-1/escrow-release", json!({})).await;
    assert_eq!(released.assert_status(StatusCode::OK)["status"], "escrow_released");
    assert_eq!(app.balance(&rental_company).await, 3000);
    app.post("/v1/payments/RENT-1/escrow-return", json!({}))
        .await
        .assert_error(StatusCode::CONFLICT, "escrow_released");
    // Returned with a scratch: 8.00 of the deposit goes to the company, the rest back to the renter.
    let captured =
        app.post("/v1/deposits/DEP-1/capture", json!({"amount": 800, "reason": "scratch on the door"})).await;
    let captured = captured.assert_status(StatusCode::OK).clone();
    assert_eq!((captured["status"].as_str(), captured["captured"].as_i64()), (Some("captured"), Some(800)));
    assert_eq!(app.balance(&rental_company).await, 3800);
    let wallet = app.wallet(&renter).await;
    assert_eq!((wallet["frozen"].as_i64(), wallet["balance"].as_i64()), (Some(0), Some(5200)));
    app.post("/v1/deposits/DEP-1/release", json!({})).await.assert_error(StatusCode::CONFLICT, "deposit_captured");
    assert_eq!(app.get("/v1/deposits/DEP-1").await.assert_status(StatusCode::OK)["captured"].as_i64(), Some(800));

    // Another rent returned to the renter (the booking was cancelled).
    let mut rent = pay("RENT-2", &renter, 1000, &rental_company);
    rent["escrow"] = json!(true);
    app.post("/v1/payments", rent).await.assert_status(StatusCode::CREATED);
    let returned = app.post("/v1/payments/RENT-2/escrow-return", json!({})).await;
    assert_eq!(returned.assert_status(StatusCode::OK)["status"], "escrow_returned");
    assert_eq!(app.wallet(&renter).await["balance"].as_i64(), Some(5200));
    app.verify_clean().await;
});

on_both_backends!(a_recharge_refund_takes_back_the_unspent_bonus_and_the_flow_shows_every_movement, |db| {
    let app = app(db).await;
    let (shop, basic) = app.active_member("13700000301").await;
    let (_, supplier) = app.active_member("13700000302").await;
    // Pay 100.00, get 10.00; spend 6.00 of the bonus (bonus money goes first).
    let order = app.recharge(&shop, &basic, 10_000, "test", "PR-1").await;
    assert_eq!(order["bonus"].as_i64(), Some(1000));
    app.post("/v1/payments", pay("PAY-B", &shop, 600, &supplier)).await.assert_status(StatusCode::CREATED);
    // Refunding half the recharge forfeits half its bonus, 5.00: the 4.00 of bonus left is taken back
    // and the 1.00 spent is deducted from the payout.
    let refund = app.post("/v1/recharges/PR-1/refunds", json!({"refund_number": "PR-1-R1", "amount": 5000})).await;
    let refund = refund.assert_status(StatusCode::CREATED).clone();
    assert_eq!(
        (refund["payout"].as_i64(), refund["bonus_taken_back"].as_i64(), refund["bonus_deducted"].as_i64()),
        (Some(4900), Some(400), Some(100))
    );
    let read = app.get("/v1/recharges/PR-1").await.assert_status(StatusCode::OK).clone();
    assert_eq!(read["refunds"][0]["refund_number"], "PR-1-R1");
    app.post("/v1/recharges/PR-1/refunds", json!({"refund_number": "PR-1-R2", "amount": 5001}))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "refund_exceeds_recharge");
    assert_eq!(app.wallet(&shop).await["balance"].as_i64(), Some(5000));

    // The flow: newest first, over both accounts, with balances after.
    let flow = app.get(&format!("/v1/members/{shop}/wallet/flow?limit=2")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(flow["data"].as_array().unwrap().len(), 2);
    let cursor = flow["next_cursor"].as_str().unwrap().to_owned();
    let rest = app.get(&format!("/v1/members/{shop}/wallet/flow?limit=100&after={cursor}")).await;
    let rest = rest.assert_status(StatusCode::OK).clone();
    let mut lines: Vec<Value> = flow["data"].as_array().unwrap().clone();
    lines.extend(rest["data"].as_array().unwrap().iter().cloned());
    assert_eq!(rest["next_cursor"], Value::Null);
    let times: Vec<&str> = lines.iter().map(|l| l["at"].as_str().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");
    let payment = lines.iter().find(|l| l["reference"] == "PAY-B").unwrap();
    assert_eq!((payment["direction"].as_str(), payment["amount"].as_i64()), (Some("out"), Some(600)));
    assert_eq!(payment["counterparty"]["kind"], "member");
    let recharge_in = lines
        .iter()
        .find(|l| l["reference"] == "PR-1" && l["account_type"] == "basic" && l["direction"] == "in")
        .unwrap();
    assert_eq!(recharge_in["balance_after"].as_i64(), Some(10_000));
    app.get(&format!("/v1/members/{shop}/wallet/flow?after=nonsense"))
        .await
        .assert_error(StatusCode::BAD_REQUEST, "invalid_cursor");
    app.get(&format!("/v1/members/{shop}/wallet/flow?limit=101"))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "invalid_limit");
    app.verify_clean().await;
});

on_both_backends!(the_platform_reaches_another_clients_orders_by_naming_the_client, |db| {
    let app = app(db).await;
    let (member, basic) = app.active_member("13700000401").await;
    // A merchant's own client (bound to its enterprise member) makes a recharge order for it.
    let (merchant, _) = enterprise(&app, "13900000401").await;
    let key = ed25519_dalek::SigningKey::from_bytes(&clock::random_bytes());
    let id = clock::new_id::<sanhu_core::id::ClientTag>().to_string();
    let client = sanhu_store::ApiClient {
        bound_to: Some(sanhu_core::id::MemberId::parse(&merchant).unwrap()),
        ..sanhu_store::ApiClient::new(id.clone(), "merchant".to_owned(), key.verifying_key().to_bytes(), clock::now())
    };
    sanhu_store::AccessStore::create_client(&app.db.store, &client).await.unwrap();
    let bound = (id, key);
    let _ = member;
    let order = json!({"order_number": "M-1", "member_id": merchant, "amount": 5000, "channel": "test"});
    app.send_as(&bound, "POST", "/v1/recharges", order).await.assert_status(StatusCode::CREATED);
    // In the platform's own numbering there is no M-1; naming the merchant's client reaches it.
    app.get("/v1/recharges/M-1").await.assert_error(StatusCode::NOT_FOUND, "order_not_found");
    let path = format!("/v1/recharges/M-1?client_id={}", bound.0);
    assert_eq!(app.get(&path).await.assert_status(StatusCode::OK)["status"], "pending");
    let confirm = format!("/v1/recharges/M-1/confirm?client_id={}", bound.0);
    assert_eq!(app.post(&confirm, json!({})).await.assert_status(StatusCode::OK)["status"], "succeeded");
    // The bound client sees its order credited, and may not name another client.
    let own = app.send_as(&bound, "GET", "/v1/recharges/M-1", Value::Null).await;
    assert_eq!(own.assert_status(StatusCode::OK)["status"], "succeeded");
    let other = format!("/v1/recharges/M-1?client_id={}", app.client_id);
    app.send_as(&bound, "GET", &other, Value::Null).await.assert_error(StatusCode::FORBIDDEN, "client_bound");
    app.get("/v1/recharges/M-1?client_id=nope").await.assert_error(StatusCode::BAD_REQUEST, "invalid_id");
    let _ = basic;
    app.verify_clean().await;
});

// ---------------------------------------------------------------------------------------------------
// Money-safety: paying oneself, refunds by the payer, receivers, restricted parties

/// An API client bound to `member`, created straight in the store.
async fn bound_client(app: &TestApp, member: &str) -> (String, ed25519_dalek::SigningKey) {
    let key = ed25519_dalek::SigningKey::from_bytes(&clock::random_bytes());
    let id = clock::new_id::<sanhu_core::id::ClientTag>().to_string();
    let client = sanhu_store::ApiClient {
        bound_to: Some(sanhu_core::id::MemberId::parse(member).unwrap()),
        ..sanhu_store::ApiClient::new(id.clone(), "merchant".to_owned(), key.verifying_key().to_bytes(), clock::now())
    };
    sanhu_store::AccessStore::create_client(&app.db.store, &client).await.unwrap();
    (id, key)
}

on_both_backends!(paying_oneself_or_ones_own_customer_is_refused_and_the_bonus_stays_unwithdrawable, |db| {
    let app = app(db).await;
    let (member, basic) = app.active_member("13700000501").await;
    let (other, other_basic) = app.active_member("13700000502").await;
    // The tier: pay 100.00, get 10.00 of bonus, which may not be withdrawn.
    app.recharge(&member, &basic, 10_000, "test", "SP-F").await;
    app.real_name(&member, "张三", 501).await;
    let card = app.bind_card(&member, "张三", 501).await;
    let withdraw = |n: &str| json!({"order_number": n, "member_id": member, "amount": 10_500, "bank_card_id": card});
    app.post("/v1/withdrawals", withdraw("SP-W0"))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "exceeds_withdrawable");
    let before = app.wallet(&member).await;

    // To its own basic account: at once, in escrow, or as a deposit's beneficiary.
    let own = app.post("/v1/payments", pay("SP-1", &member, 1000, &basic)).await;
    own.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "same_wallet");
    let mut escrow = pay("SP-2", &member, 1000, &basic);
    escrow["escrow"] = json!(true);
    app.post("/v1/payments", escrow).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "same_wallet");
    let deposit = json!({"order_number": "SP-3", "member_id": member, "amount": 1000, "beneficiary_account_id": basic});
    app.post("/v1/deposits", deposit).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "same_wallet");
    // Through a client bound to the member itself.
    let bound = bound_client(&app, &member).await;
    let through = app.send_as(&bound, "POST", "/v1/payments", pay("SP-4", &member, 1000, &basic)).await;
    through.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "same_wallet");

    // Another member of the same customer (the same verified certificate merged the two customers).
    app.real_name(&other, "张三", 501).await;
    let merged = app.get(&format!("/v1/accounts/{other_basic}")).await.assert_status(StatusCode::OK).clone();
    let mine = app.get(&format!("/v1/accounts/{basic}")).await.assert_status(StatusCode::OK).clone();
    assert_eq!(merged["customer_id"], mine["customer_id"]);
    let sibling = app.post("/v1/payments", pay("SP-5", &member, 1000, &other_basic)).await;
    sibling.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "same_wallet");

    // Nothing moved, and the bonus is still not withdrawable.
    let after = app.wallet(&member).await;
    assert_eq!(after, before);
    assert_eq!(app.balance(&other_basic).await, 0);
    app.post("/v1/withdrawals", withdraw("SP-W1"))
        .await
        .assert_error(StatusCode::UNPROCESSABLE_ENTITY, "exceeds_withdrawable");
    app.verify_clean().await;
});

on_both_backends!(a_refund_is_made_by_the_receivers_side_or_the_platform_never_the_payers, |db| {
    let app = app(db).await;
    let (payer, payer_basic) = enterprise(&app, "13900000511").await;
    let (merchant, merchant_basic) = app.active_member("13700000512").await;
    let (stranger, _) = app.active_member("13700000513").await;
    app.recharge(&payer, &payer_basic, 20_000, "test", "RF-F").await;
    app.recharge(&merchant, &merchant_basic, 99_900, "test", "RF-M").await;
    let payer_client = bound_client(&app, &payer).await;
    let merchant_client = bound_client(&app, &merchant).await;
    let stranger_client = bound_client(&app, &stranger).await;

    // The payer's bound client pays the merchant, then tries to take it back.
    let paid = app.send_as(&payer_client, "POST", "/v1/payments", pay("RF-1", &payer, 5000, &merchant_basic)).await;
    paid.assert_status(StatusCode::CREATED);
    assert_eq!(app.balance(&merchant_basic).await, 104_900);
    let refund = |n: &str, amount: i64| json!({"refund_number": n, "amount": amount});
    let clawback = app.send_as(&payer_client, "POST", "/v1/payments/RF-1/refunds", refund("R-1", 5000)).await;
    clawback.assert_error(StatusCode::FORBIDDEN, "refund_not_allowed");
    assert_eq!(app.balance(&merchant_basic).await, 104_900);

    // The merchant's own client reaches the payment in the payer's client's numbering and refunds it.
    let path = format!("/v1/payments/RF-1/refunds?client_id={}", payer_client.0);
    let strangers = app.send_as(&stranger_client, "POST", &path, refund("R-2", 1000)).await;
    strangers.assert_error(StatusCode::NOT_FOUND, "order_not_found");
    let by_merchant = app.send_as(&merchant_client, "POST", &path, refund("R-3", 1000)).await;
    assert_eq!(by_merchant.assert_status(StatusCode::CREATED)["status"], "succeeded");
    assert_eq!(app.balance(&merchant_basic).await, 103_900);
    // The platform (an unbound client) refunds any payment, naming its client.
    let by_platform = app.post(&path, refund("R-4", 1000)).await;
    assert_eq!(by_platform.assert_status(StatusCode::CREATED)["status"], "succeeded");
    let payment = app.get(&format!("/v1/payments/RF-1?client_id={}", payer_client.0)).await;
    assert_eq!(payment.assert_status(StatusCode::OK)["refunded"].as_i64(), Some(2000));
    // 200.00 and the tier's 10.00 of bonus, less the 50.00 paid, plus the 20.00 refunded.
    assert_eq!(app.wallet(&payer).await["balance"].as_i64(), Some(21_000 - 5000 + 2000));
    app.verify_clean().await;
});

on_both_backends!(only_the_configured_platform_accounts_receive_payments, |db| {
    let mut config = wallet_config();
    config.payment_receivers.push(sanhu_service::wallet::PlatformAccount::MarketingExpense);
    let app = TestApp::new(db, party_config(), config).await;
    let (member, basic) = app.active_member("13700000521").await;
    app.recharge(&member, &basic, 5000, "test", "PR-F").await;
    let to = |n: &str, name: &str| json!({"order_number": n, "member_id": member, "amount": 100, "receiver_platform_account": name});
    for (i, name) in
        ["channel:wechat", "channel:test", "withdrawals_in_transit", "seized", "adjustments", "fee_expense"]
            .iter()
            .enumerate()
    {
        let before = app.platform_balance(name).await;
        let refused = app.post("/v1/payments", to(&format!("PR-{i}"), name)).await;
        refused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "receiver_not_allowed");
        assert_eq!(app.platform_balance(name).await, before, "{name}");
    }
    let mut escrow = to("PR-E", "seized");
    escrow["escrow"] = json!(true);
    app.post("/v1/payments", escrow).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "receiver_not_allowed");
    let deposit = json!({"order_number": "PR-D", "member_id": member, "amount": 100, "beneficiary_platform_account": "withdrawals_in_transit"});
    app.post("/v1/deposits", deposit).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "receiver_not_allowed");
    assert_eq!(app.wallet(&member).await["available"].as_i64(), Some(5000));
    // The configured ones do.
    app.post("/v1/payments", to("PR-7", "fee_income")).await.assert_status(StatusCode::CREATED);
    app.post("/v1/payments", to("PR-8", "marketing_expense")).await.assert_status(StatusCode::CREATED);
    assert_eq!(app.platform_balance("fee_income").await, 100);
    app.verify_clean().await;
});

on_both_backends!(a_restricted_payer_or_receiver_is_refused_with_the_restrictions_own_code, |db| {
    let app = app(db).await;
    let (member, basic) = app.active_member("13700000531").await;
    let (merchant, merchant_basic) = app.active_member("13700000532").await;
    app.recharge(&member, &basic, 2000, "test", "RS-F").await;
    app.recharge(&merchant, &merchant_basic, 2000, "test", "RS-M").await;
    app.real_name(&member, "张三", 531).await;
    let card = app.bind_card(&member, "张三", 531).await;
    let customer_of = |account: &str| {
        let account = account.to_owned();
        let app = &app;
        async move {
            let view = app.get(&format!("/v1/accounts/{account}")).await;
            view.assert_status(StatusCode::OK)["customer_id"].as_str().unwrap().to_owned()
        }
    };
    let (customer, merchant_customer) = (customer_of(&basic).await, customer_of(&merchant_basic).await);
    let set = |who: &str, status: &str| {
        let path = format!("/v1/customers/{who}/status");
        let app = &app;
        let status = status.to_owned();
        async move {
            let body = json!({"status": status, "reason": "court order 2026-7"});
            app.post(&path, body).await.assert_status(StatusCode::OK);
        }
    };
    let transfer = |n: &str, from: &str, to: &str| json!({"order_number": n, "sender_member_id": from, "receiver_member_id": to, "amount": 100});
    let withdraw = |n: &str| json!({"order_number": n, "member_id": member, "amount": 100, "bank_card_id": card});
    let deposit = |n: &str| json!({"order_number": n, "member_id": member, "amount": 100, "beneficiary_account_id": merchant_basic});
    let refund = |n: &str| json!({"refund_number": n, "amount": 100});
    app.post("/v1/payments", pay("RS-P0", &member, 500, &merchant_basic)).await.assert_status(StatusCode::CREATED);

    // The payer's customer frozen: every way money would leave says so, not insufficient_funds.
    set(&customer, "frozen").await;
    let frozen = |r: common::TestResponse| r.assert_error(StatusCode::FORBIDDEN, "customer_frozen");
    frozen(app.post("/v1/payments", pay("RS-1", &member, 100, &merchant_basic)).await);
    frozen(app.post("/v1/member-transfers", transfer("RS-2", &member, &merchant)).await);
    frozen(app.post("/v1/withdrawals", withdraw("RS-3")).await);
    frozen(app.post("/v1/deposits", deposit("RS-4")).await);
    // ... and every way money would arrive.
    frozen(app.post("/v1/payments", pay("RS-5", &merchant, 100, &basic)).await);
    frozen(app.post("/v1/member-transfers", transfer("RS-6", &merchant, &member)).await);
    let recharge =
        json!({"order_number": "RS-7", "member_id": member, "account_id": basic, "amount": 100, "channel": "test"});
    frozen(app.post("/v1/recharges", recharge).await);
    frozen(app.post("/v1/payments/RS-P0/refunds", refund("RS-R1")).await);
    set(&customer, "normal").await;

    // Stopped from paying: nothing leaves, money still arrives.
    set(&customer, "stop_payment").await;
    let stopped = |r: common::TestResponse| r.assert_error(StatusCode::FORBIDDEN, "customer_stop_payment");
    stopped(app.post("/v1/payments", pay("RS-11", &member, 100, &merchant_basic)).await);
    stopped(app.post("/v1/member-transfers", transfer("RS-12", &member, &merchant)).await);
    stopped(app.post("/v1/withdrawals", withdraw("RS-13")).await);
    app.post("/v1/payments", pay("RS-14", &merchant, 100, &basic)).await.assert_status(StatusCode::CREATED);
    set(&customer, "normal").await;

    // The receiving merchant's customer frozen: paying it, and its refunds, say so.
    set(&merchant_customer, "frozen").await;
    frozen(app.post("/v1/payments", pay("RS-21", &member, 100, &merchant_basic)).await);
    frozen(app.post("/v1/member-transfers", transfer("RS-22", &member, &merchant)).await);
    frozen(app.post("/v1/payments/RS-P0/refunds", refund("RS-R2")).await);
    set(&merchant_customer, "normal").await;

    // An account frozen or stopped on its own.
    let account_status = |account: &str, status: &str| {
        let path = format!("/v1/accounts/{account}/status");
        let body = json!({"status": status, "reason": "disputed payment"});
        let app = &app;
        async move {
            app.post(&path, body).await.assert_status(StatusCode::OK);
        }
    };
    account_status(&basic, "frozen").await;
    let account_frozen = |r: common::TestResponse| r.assert_error(StatusCode::FORBIDDEN, "account_frozen");
    account_frozen(app.post("/v1/payments", pay("RS-31", &member, 100, &merchant_basic)).await);
    account_frozen(app.post("/v1/member-transfers", transfer("RS-32", &member, &merchant)).await);
    account_frozen(app.post("/v1/withdrawals", withdraw("RS-33")).await);
    account_frozen(app.post("/v1/payments", pay("RS-34", &merchant, 100, &basic)).await);
    account_status(&basic, "stop_payment").await;
    let account_stopped = |r: common::TestResponse| r.assert_error(StatusCode::FORBIDDEN, "account_stop_payment");
    account_stopped(app.post("/v1/payments", pay("RS-35", &member, 100, &merchant_basic)).await);
    account_stopped(app.post("/v1/withdrawals", withdraw("RS-36")).await);
    app.post("/v1/payments", pay("RS-37", &merchant, 100, &basic)).await.assert_status(StatusCode::CREATED);
    account_status(&basic, "normal").await;

    // A locked receiver.
    app.post(&format!("/v1/members/{merchant}/lock"), json!({"reason": "investigation"}))
        .await
        .assert_status(StatusCode::OK);
    let locked = app.post("/v1/payments", pay("RS-41", &member, 100, &merchant_basic)).await;
    locked.assert_error(StatusCode::FORBIDDEN, "member_locked");
    app.post(&format!("/v1/members/{merchant}/unlock"), json!({"reason": "cleared"}))
        .await
        .assert_status(StatusCode::OK);

    // Lifted, everything goes through, and nothing refused moved money.
    app.post("/v1/payments", pay("RS-51", &member, 100, &merchant_basic)).await.assert_status(StatusCode::CREATED);
    assert_eq!(app.balance(&basic).await, 2000 - 500 + 100 + 100 - 100);
    assert_eq!(app.balance(&merchant_basic).await, 2000 + 500 - 100 - 100 + 100);
    app.verify_clean().await;
});

on_both_backends!(a_status_set_after_the_order_was_made_is_named_when_the_ledger_refuses, |db| {
    let app = app(db).await;
    let (member, basic) = app.active_member("13700000541").await;
    let order =
        json!({"order_number": "LB-1", "member_id": member, "account_id": basic, "amount": 1000, "channel": "test"});
    app.post("/v1/recharges", order).await.assert_status(StatusCode::CREATED);
    let view = app.get(&format!("/v1/accounts/{basic}")).await.assert_status(StatusCode::OK).clone();
    let customer = view["customer_id"].as_str().unwrap().to_owned();
    let body = json!({"status": "frozen", "reason": "court order 2026-8"});
    app.post(&format!("/v1/customers/{customer}/status"), body).await.assert_status(StatusCode::OK);
    // The channel confirms: the ledger's credits_blocked is answered as the customer's freeze, now and
    // when asked again.
    for _ in 0..2 {
        let confirmed = app.post("/v1/recharges/LB-1/confirm", json!({})).await;
        confirmed.assert_error(StatusCode::FORBIDDEN, "customer_frozen");
    }
    assert_eq!(app.balance(&basic).await, 0);
    app.verify_clean().await;
});

on_both_backends!(escrow_deposits_and_subsidies_name_a_restricted_receiver_or_payer, |db| {
    let app = app(db).await;
    let (renter, basic) = app.active_member("13700000551").await;
    let (_, company_basic) = app.active_member("13700000552").await;
    let (employer, employer_basic) = enterprise(&app, "13900000553").await;
    app.recharge(&renter, &basic, 9000, "test", "ER-R").await;
    app.recharge(&employer, &employer_basic, 9000, "test", "ER-E").await;
    let customer_of = |account: String| {
        let app = &app;
        async move {
            let view = app.get(&format!("/v1/accounts/{account}")).await;
            view.assert_status(StatusCode::OK)["customer_id"].as_str().unwrap().to_owned()
        }
    };
    let set = |customer: String, status: &'static str| {
        let app = &app;
        async move {
            let body = json!({"status": status, "reason": "court order 2026-9"});
            app.post(&format!("/v1/customers/{customer}/status"), body).await.assert_status(StatusCode::OK);
        }
    };
    let (renters, companys, employers) = (
        customer_of(basic.clone()).await,
        customer_of(company_basic.clone()).await,
        customer_of(employer_basic.clone()).await,
    );
    let mut rent = pay("ER-1", &renter, 3000, &company_basic);
    rent["escrow"] = json!(true);
    app.post("/v1/payments", rent).await.assert_status(StatusCode::CREATED);
    let deposit =
        json!({"order_number": "ER-D", "member_id": renter, "amount": 2000, "beneficiary_account_id": company_basic});
    app.post("/v1/deposits", deposit).await.assert_status(StatusCode::CREATED);

    // The company frozen: the rent is not released to it, nor a deposit captured for it.
    set(companys.clone(), "frozen").await;
    let release = app.post("/v1/payments/ER-1/escrow-release", json!({})).await;
    release.assert_error(StatusCode::FORBIDDEN, "customer_frozen");
    let capture = app.post("/v1/deposits/ER-D/capture", json!({"amount": 500, "reason": "dent"})).await;
    capture.assert_error(StatusCode::FORBIDDEN, "customer_frozen");
    set(companys, "normal").await;
    // The renter stopped from paying: a new escrow or deposit says so.
    set(renters.clone(), "stop_payment").await;
    let mut rent = pay("ER-2", &renter, 100, &company_basic);
    rent["escrow"] = json!(true);
    app.post("/v1/payments", rent).await.assert_error(StatusCode::FORBIDDEN, "customer_stop_payment");
    let deposit =
        json!({"order_number": "ER-D2", "member_id": renter, "amount": 100, "beneficiary_account_id": company_basic});
    app.post("/v1/deposits", deposit).await.assert_error(StatusCode::FORBIDDEN, "customer_stop_payment");
    set(renters, "normal").await;
    let released = app.post("/v1/payments/ER-1/escrow-release", json!({})).await;
    assert_eq!(released.assert_status(StatusCode::OK)["status"], "escrow_released");

    // Subsidies: a frozen enterprise funds nothing; a frozen employee's subsidy account takes none.
    set(employers.clone(), "frozen").await;
    let funding = json!({"order_number": "ER-F1", "enterprise_member_id": employer, "amount": 3000});
    app.post("/v1/subsidy-fundings", funding).await.assert_error(StatusCode::FORBIDDEN, "customer_frozen");
    set(employers, "normal").await;
    let funding = json!({"order_number": "ER-F2", "enterprise_member_id": employer, "amount": 3000});
    app.post("/v1/subsidy-fundings", funding).await.assert_status(StatusCode::CREATED);
    let subsidy = app.open(&renter, "subsidy").await;
    let body = json!({"status": "frozen", "reason": "disputed"});
    app.post(&format!("/v1/accounts/{subsidy}/status"), body).await.assert_status(StatusCode::OK);
    let round = json!({"order_number": "ER-S1", "enterprise_member_id": employer,
                       "credits": [{"member_id": renter, "amount": 1000}]});
    app.post("/v1/subsidy-distributions", round).await.assert_error(StatusCode::FORBIDDEN, "account_frozen");
    assert_eq!(app.balance(&subsidy).await, 0);
    assert_eq!(app.balance(&company_basic).await, 3000);
    app.verify_clean().await;
});
