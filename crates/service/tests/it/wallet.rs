//! The wallet's money flows on both backends, with the articles' cases: the withdrawal worked example
//! (1.50 / 10.00 / 0.80, minimum 1.00: withdrawing 8.00 takes 1.50 and 6.50), a recharge confirmed
//! twice credits once, a recharge with a tier's bonus, a rider's debt repaid by a recharge, a canteen
//! payment spending subsidy money first, refunds never exceeding the payment even when concurrent, a
//! withdrawal frozen at application then reviewed, paid out or failed. Each ends with the ledger's
//! verify checks passing.

use sanhu_core::id::MemberId;
use sanhu_core::ledger::NormalSide;
use sanhu_core::party::{Actor, PayPassword};
use sanhu_core::wallet::{FeePayer, FeeRule, Shortfall};
use sanhu_core::AccountId;
use sanhu_service::clock;
use sanhu_service::party::{PartyConfig, PayPasswordOwner};
use sanhu_service::wallet::{
    wallet_codes, AdjustmentDirection, AdjustmentStatus, FreezeStatus, PayPasswordRule, PaymentMode, PaymentRequest,
    PaymentStatus, PayoutResult, PlatformAccount, RechargeRequest, RechargeStatus, Review, WalletConfig,
    WithdrawalRequest, WithdrawalStatus,
};
use sanhu_store::Store;
use sanhu_testkit::money::cny;
use sanhu_testkit::on_both_backends;
use sanhu_testkit::world::{self, actor, client, no, World};

fn party_config() -> PartyConfig {
    PartyConfig { account_types: world::riders_account_types(), ..world::party_config() }
}

/// The free `test` channel, withdrawals of at least 1.00 reviewed from 100.00, and a tier "pay
/// 100.00, get 10.00" valid now.
fn wallet_config() -> WalletConfig {
    world::with_bonus_tier(world::with_withdrawals(world::wallet_config(), 100, 10_000))
}

async fn world_with(store: &Store, config: WalletConfig) -> World {
    World::new(store, party_config(), config).await
}

async fn world(store: &Store) -> World {
    world_with(store, wallet_config()).await
}

// ---------------------------------------------------------------------------------------------------
// Platform accounts

on_both_backends!(platform_accounts_are_created_once_even_by_two_instances_and_listed_with_balances, |db| {
    let w = world(&db.store).await;
    let other = world(&db.open_another().await).await;
    let (a, b) = tokio::join!(w.wallets.ensure_platform_accounts(), other.wallets.ensure_platform_accounts());
    assert_eq!(a.unwrap(), b.unwrap());
    let listed = w.wallets.platform_accounts().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "adjustments",
            "channel:alipay",
            "channel:bank_transfer",
            "channel:test",
            "channel:wechat",
            "fee_expense",
            "fee_income",
            "marketing_expense",
            "seized",
            "withdrawals_in_transit"
        ]
    );
    let side = |name: &str| listed.iter().find(|p| p.name == name).unwrap().account.normal_side;
    assert_eq!(side("channel:alipay"), NormalSide::Debit);
    assert_eq!(side("withdrawals_in_transit"), NormalSide::Credit);
    assert!(listed.iter().all(|p| p.account.balance() == 0));
    // A subsidy funding account is made when first asked for.
    let (enterprise, _) = w.member(1).await;
    let id = w.wallets.ensure_platform_account(&PlatformAccount::SubsidyFunding(enterprise)).await.unwrap();
    assert_eq!(id, PlatformAccount::SubsidyFunding(enterprise).id(cny()));
    assert_eq!(w.wallets.platform_accounts().await.unwrap().len(), 11);
    assert!(wallet_codes().iter().any(|c| c.code == "refund_exceeds_payment"));
    assert!(wallet_codes().iter().any(|c| c.code == "order_not_found"));
    w.verify_clean().await;
});

// ---------------------------------------------------------------------------------------------------
// Recharge

on_both_backends!(a_recharge_credits_only_when_confirmed_and_once_however_often_confirmed, |db| {
    let w = world(&db.store).await;
    let (m, basic) = w.member(1).await;
    let request = RechargeRequest {
        client: client(),
        order_number: no("R-1"),
        member: m,
        account: None,
        amount: 5000,
        channel: "alipay".into(),
    };
    let order = w.wallets.create_recharge(&request, &actor()).await.unwrap();
    assert_eq!((order.status, order.account_id, order.fee), (RechargeStatus::Pending, basic, 30));
    assert_eq!(w.balance(basic).await, 0, "no credit before the channel confirms");
    // The same order number: the same order; with another amount: refused.
    assert_eq!(w.wallets.create_recharge(&request, &actor()).await.unwrap().id, order.id);
    let other = RechargeRequest { amount: 6000, ..request.clone() };
    assert_eq!(w.wallets.create_recharge(&other, &actor()).await.unwrap_err().code(), "order_number_reused");

    // Confirmed by two instances at once and again later: credited once.
    let second = world(&db.open_another().await).await;
    let (r1, who) = (no("R-1"), actor());
    let (a, b) = tokio::join!(
        w.wallets.confirm_recharge(client(), &r1, &who),
        second.wallets.confirm_recharge(client(), &r1, &who)
    );
    assert_eq!(a.unwrap().status, RechargeStatus::Succeeded);
    assert_eq!(b.unwrap().status, RechargeStatus::Succeeded);
    w.wallets.confirm_recharge(client(), &no("R-1"), &actor()).await.unwrap();
    assert_eq!(w.balance(basic).await, 5000);
    // The platform bore alipay's 0.6%: the channel owes it 49.70.
    assert_eq!(w.platform_balance(PlatformAccount::Clearing("alipay".into())).await, 4970);
    assert_eq!(w.platform_balance(PlatformAccount::FeeExpense).await, 30);
    // A confirmed order cannot fail or close.
    let refused = w.wallets.fail_recharge(client(), &no("R-1"), "late", &actor()).await.unwrap_err();
    assert_eq!(refused.code(), "order_state_invalid");

    // Failing and closing are idempotent and credit nothing; a failed order cannot be confirmed.
    for (n, close) in [("R-2", false), ("R-3", true)] {
        let request = RechargeRequest { order_number: no(n), ..request.clone() };
        w.wallets.create_recharge(&request, &actor()).await.unwrap();
        for _ in 0..2 {
            let ended = if close {
                w.wallets.close_recharge(client(), &no(n), &actor()).await.unwrap()
            } else {
                w.wallets.fail_recharge(client(), &no(n), "declined", &actor()).await.unwrap()
            };
            assert_eq!(ended.status, if close { RechargeStatus::Closed } else { RechargeStatus::Failed });
        }
        let refused = w.wallets.confirm_recharge(client(), &no(n), &actor()).await.unwrap_err();
        assert_eq!(refused.code(), "order_closed");
    }
    assert_eq!(w.balance(basic).await, 5000);
    let missing = w.wallets.confirm_recharge(client(), &no("R-404"), &actor()).await.unwrap_err();
    assert_eq!(missing.code(), "order_not_found");
    w.verify_clean().await;
});

on_both_backends!(unpaid_recharges_expire_and_reviewed_ones_wait_for_approval, |db| {
    let w = world(&db.store).await;
    let (m, basic) = w.member(1).await;
    let request = |n: &str, channel: &str| RechargeRequest {
        client: client(),
        order_number: no(n),
        member: m,
        account: None,
        amount: 2000,
        channel: channel.into(),
    };
    w.wallets.create_recharge(&request("E-1", "alipay"), &actor()).await.unwrap();
    let reviewed = w.wallets.create_recharge(&request("B-1", "bank_transfer"), &actor()).await.unwrap();
    assert_eq!(reviewed.status, RechargeStatus::Reviewing);
    // Nothing is due yet; an hour later the alipay order is, the reviewed one waits.
    assert_eq!(w.wallets.expire_recharge_orders(clock::now(), 100).await.unwrap(), 0);
    let later = clock::now().add_seconds(3600).unwrap();
    assert_eq!(w.wallets.expire_recharge_orders(later, 100).await.unwrap(), 1);
    let expired = w.wallets.get_recharge(client(), &no("E-1")).await.unwrap();
    assert_eq!(expired.status, RechargeStatus::Expired);
    assert_eq!(w.wallets.confirm_recharge(client(), &no("E-1"), &actor()).await.unwrap_err().code(), "order_closed");

    let refused = w.wallets.confirm_recharge(client(), &no("B-1"), &actor()).await.unwrap_err();
    assert_eq!(refused.code(), "order_under_review");
    let approved = w.wallets.approve_recharge(client(), &no("B-1"), &actor()).await.unwrap();
    assert_eq!(approved.status, RechargeStatus::Succeeded);
    w.wallets.create_recharge(&request("B-2", "bank_transfer"), &actor()).await.unwrap();
    let rejected = w.wallets.reject_recharge(client(), &no("B-2"), "no such transfer", &actor()).await.unwrap();
    assert_eq!(rejected.status, RechargeStatus::Failed);
    assert_eq!(w.balance(basic).await, 2000);
    w.verify_clean().await;
});

on_both_backends!(expiry_looks_at_every_open_order_and_leaves_channels_that_answer_to_compensation, |db| {
    let mut config = wallet_config();
    config.channels.push(sanhu_service::wallet::Channel {
        name: "asked".into(),
        review: sanhu_service::wallet::ChannelReview::NotRequired,
        fee: FeeRule::Free,
        fee_payer: FeePayer::Platform,
        status_url: Some("http://127.0.0.1:9/status".into()),
    });
    let w = world_with(&db.store, config).await;
    let (m, _) = w.member(1).await;
    let request = |number: &str, channel: &str| RechargeRequest {
        client: client(),
        order_number: no(number),
        member: m,
        account: None,
        amount: 1000,
        channel: channel.into(),
    };
    // The oldest order sorts last by number; a pass reading two open orders at a time still finds it.
    let oldest = w.wallets.create_recharge(&request("Z-1", "test"), &actor()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    for number in ["A-1", "A-2", "A-3"] {
        w.wallets.create_recharge(&request(number, "test"), &actor()).await.unwrap();
    }
    w.wallets.create_recharge(&request("Q-1", "asked"), &actor()).await.unwrap();
    assert_eq!(w.wallets.expire_recharge_orders(oldest.expires_at, 2).await.unwrap(), 1);
    assert_eq!(w.wallets.get_recharge(client(), &no("Z-1")).await.unwrap().status, RechargeStatus::Expired);
    assert_eq!(w.wallets.get_recharge(client(), &no("A-1")).await.unwrap().status, RechargeStatus::Pending);
    // Long after: the others expire, but not the order whose channel answers status questions.
    let later = clock::now().add_seconds(86_400).unwrap();
    assert_eq!(w.wallets.expire_recharge_orders(later, 2).await.unwrap(), 3);
    assert_eq!(w.wallets.get_recharge(client(), &no("Q-1")).await.unwrap().status, RechargeStatus::Pending);
    let due = w.wallets.recharges_to_compensate(later, 10).await.unwrap();
    assert_eq!(due.iter().map(|(o, _)| o.order_number.as_str()).collect::<Vec<_>>(), ["Q-1"]);
    w.verify_clean().await;
});

on_both_backends!(a_recharge_of_100_earns_the_tiers_10_of_bonus_which_is_not_withdrawable, |db| {
    let w = world(&db.store).await;
    let (m, basic) = w.member(1).await;
    w.fund(m, basic, 10_000, "P-1").await;
    let view = w.wallets.wallet(m).await.unwrap();
    assert_eq!((view.balance, view.withdrawable), (11_000, 10_000));
    let bonus = view.parts.iter().find(|p| p.account_type.as_str() == "bonus").unwrap();
    assert_eq!(bonus.balance, 1000);
    assert_eq!(w.platform_balance(PlatformAccount::MarketingExpense).await, 1000);
    // Below the tier: no bonus.
    w.fund(m, basic, 5000, "P-2").await;
    assert_eq!(w.wallets.wallet(m).await.unwrap().balance, 16_000);
    w.verify_clean().await;
});

on_both_backends!(a_riders_cash_debt_is_repaid_first_by_a_recharge, |db| {
    let w = world(&db.store).await;
    let (rider, _) = w.member(1).await;
    let settlement = w.open(rider, "settlement").await;
    let (merchant, shop) = w.member(2).await;
    let _ = merchant;
    // The rider collected 30.00 in cash for an order: the platform takes it from the settlement
    // account, which goes into debt (its type allows 50.00).
    let paid = w.wallets.pay(&w.payment("CASH-1", rider, 3000, shop), &actor()).await.unwrap();
    assert_eq!(paid.status, PaymentStatus::Paid);
    assert_eq!(w.balance(settlement).await, -3000);
    assert_eq!(w.wallets.wallet(rider).await.unwrap().debt, 3000);
    // A recharge of 20.00 into the basic account repays the debt first: nothing is credited.
    w.fund(rider, w.wallets.load_wallet(rider).await.unwrap().accounts()[0].id(), 2000, "RR-1").await;
    let view = w.wallets.wallet(rider).await.unwrap();
    assert_eq!((view.balance, view.debt), (-1000, 1000));
    // And 50.00 more repays the rest and credits 40.00.
    let request = RechargeRequest {
        client: client(),
        order_number: no("RR-2"),
        member: rider,
        account: None,
        amount: 5000,
        channel: "test".into(),
    };
    w.wallets.create_recharge(&request, &actor()).await.unwrap();
    let order = w.wallets.confirm_recharge(client(), &no("RR-2"), &actor()).await.unwrap();
    assert_eq!((order.repaid, order.credited), (1000, 4000));
    let view = w.wallets.wallet(rider).await.unwrap();
    assert_eq!((view.balance, view.debt), (4000, 0));
    assert_eq!(w.balance(settlement).await, 0);
    w.verify_clean().await;
});

// ---------------------------------------------------------------------------------------------------
// Pay and refund

/// An employee with 50.00 in its basic account and 12.00 in its subsidy account, and a canteen's
/// account: (employee, basic, subsidy, canteen).
async fn canteen(w: &World) -> (MemberId, AccountId, AccountId, AccountId) {
    let (employee, basic) = w.member(1).await;
    let subsidy = w.open(employee, "subsidy").await;
    let (_, canteen) = w.member(2).await;
    w.fund(employee, basic, 5000, "F-1").await;
    w.fund(employee, subsidy, 1200, "F-2").await;
    (employee, basic, subsidy, canteen)
}

on_both_backends!(a_canteen_payment_spends_subsidy_money_first_as_one_chain, |db| {
    let w = world(&db.store).await;
    let (employee, basic, subsidy, canteen) = canteen(&w).await;
    let paid = w.wallets.pay(&w.payment("LUNCH-1", employee, 1500, canteen), &actor()).await.unwrap();
    let parts: Vec<(AccountId, i64)> = paid.deductions.iter().map(|d| (d.account_id, d.amount)).collect();
    assert_eq!(parts, [(subsidy, 1200), (basic, 300)]);
    assert_eq!((w.balance(subsidy).await, w.balance(basic).await, w.balance(canteen).await), (0, 4700, 1500));
    // The same order number again: the same payment, paid once.
    let again = w.wallets.pay(&w.payment("LUNCH-1", employee, 1500, canteen), &actor()).await.unwrap();
    assert_eq!((again.id, again.status), (paid.id, PaymentStatus::Paid));
    assert_eq!(w.balance(canteen).await, 1500);
    // More than the wallet holds: refused, nothing moves; a split payment pays what it can.
    let refused = w.wallets.pay(&w.payment("LUNCH-2", employee, 10_000, canteen), &actor()).await.unwrap_err();
    assert_eq!(refused.code(), "insufficient_funds");
    let split =
        PaymentRequest { shortfall: Shortfall::PayWhatItCan, ..w.payment("LUNCH-3", employee, 10_000, canteen) };
    let split = w.wallets.pay(&split, &actor()).await.unwrap();
    assert_eq!((split.paid, split.remainder), (4700, 5300));
    assert_eq!(w.wallets.wallet(employee).await.unwrap().balance, 0);
    w.verify_clean().await;
});

on_both_backends!(refunds_never_exceed_the_payment_even_when_concurrent, |db| {
    let w = world(&db.store).await;
    let (employee, basic, subsidy, canteen) = canteen(&w).await;
    w.wallets.pay(&w.payment("LUNCH-1", employee, 1500, canteen), &actor()).await.unwrap();
    // A partial refund goes back to the last account drawn on first.
    let first = w.wallets.refund(client(), &no("LUNCH-1"), &no("RF-1"), 400, &actor()).await.unwrap();
    assert_eq!(
        first.returns.iter().map(|r| (r.account_id, r.amount)).collect::<Vec<_>>(),
        [(basic, 300), (subsidy, 100)]
    );
    // Repeated: the same refund, once.
    w.wallets.refund(client(), &no("LUNCH-1"), &no("RF-1"), 400, &actor()).await.unwrap();
    let reused = w.wallets.refund(client(), &no("LUNCH-1"), &no("RF-1"), 500, &actor()).await.unwrap_err();
    assert_eq!(reused.code(), "refund_number_reused");
    // Eight refunds of 3.00 at once against the 11.00 left: three succeed, the rest are refused.
    let second = world(&db.open_another().await).await;
    let attempts = (0..8).map(|i| {
        let wallets = if i % 2 == 0 { w.wallets.clone() } else { second.wallets.clone() };
        async move { wallets.refund(client(), &no("LUNCH-1"), &no(&format!("RF-C{i}")), 300, &actor()).await }
    });
    let results = futures_util::future::join_all(attempts).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(ok, 3);
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| e.code() == "refund_exceeds_payment"));
    let payment = w.wallets.get_payment(client(), &no("LUNCH-1")).await.unwrap();
    assert_eq!(payment.refunded(), 1300);
    assert_eq!(w.balance(canteen).await, 200);
    w.wallets.refund(client(), &no("LUNCH-1"), &no("RF-LAST"), 200, &actor()).await.unwrap();
    let over = w.wallets.refund(client(), &no("LUNCH-1"), &no("RF-OVER"), 1, &actor()).await.unwrap_err();
    assert_eq!(over.code(), "refund_exceeds_payment");
    assert_eq!((w.balance(basic).await, w.balance(subsidy).await, w.balance(canteen).await), (5000, 1200, 0));
    w.verify_clean().await;
});

// Two instances on one database, each deciding its own requests in turn: what they decide at once is
// ordered by the payment record's version (decided again after a pause, for as long as it takes) and
// by the ledger's batches. No request is answered concurrent_change.
on_both_backends!(two_instances_decide_fifty_payments_and_twenty_refunds_on_one_wallet_at_first_answer, |db| {
    let w = world(&db.store).await;
    let second = world(&db.open_another().await).await;
    let (payer, basic) = w.member(1).await;
    let (_, shop) = w.member(2).await;
    w.fund(payer, basic, 3000, "F-1").await;
    let instance = |i: usize| if i.is_multiple_of(2) { w.wallets.clone() } else { second.wallets.clone() };
    let payments = (0..50).map(|i| {
        let (wallets, request) = (instance(i), w.payment(&format!("HOT-{i}"), payer, 100, shop));
        async move { wallets.pay(&request, &actor()).await }
    });
    let results = futures_util::future::join_all(payments).await;
    let paid = results.iter().filter(|r| r.as_ref().is_ok_and(|p| p.status == PaymentStatus::Paid)).count();
    let refused: Vec<&str> = results.iter().filter_map(|r| r.as_ref().err()).map(|e| e.code()).collect();
    assert_eq!(paid, 30, "refused: {refused:?}");
    assert_eq!(refused, ["insufficient_funds"; 20]);
    assert_eq!((w.balance(basic).await, w.balance(shop).await), (0, 3000));

    // Twenty refunds of 10.00 of a payment of 100.00, half through each instance.
    let (payer, basic) = w.member(3).await;
    w.fund(payer, basic, 10_000, "F-2").await;
    w.wallets.pay(&w.payment("BIG", payer, 10_000, shop), &actor()).await.unwrap();
    let refunds = (0..20).map(|i| {
        let wallets = instance(i);
        async move { wallets.refund(client(), &no("BIG"), &no(&format!("RF-{i}")), 1000, &actor()).await }
    });
    let results = futures_util::future::join_all(refunds).await;
    let mut succeeded: Vec<String> =
        results.iter().filter_map(|r| r.as_ref().ok()).map(|r| r.refund_number.clone()).collect();
    let refused: Vec<&str> = results.iter().filter_map(|r| r.as_ref().err()).map(|e| e.code()).collect();
    assert_eq!(refused, ["refund_exceeds_payment"; 10]);
    // Exactly the refunds answered as succeeded were applied.
    let payment = w.wallets.get_payment(client(), &no("BIG")).await.unwrap();
    let mut recorded: Vec<String> = payment.refunds.iter().map(|r| r.refund_number.clone()).collect();
    assert!(payment.refunds.iter().all(|r| r.status == sanhu_service::wallet::RefundStatus::Succeeded));
    succeeded.sort();
    recorded.sort();
    assert_eq!(succeeded, recorded);
    assert_eq!((payment.refunded(), w.balance(basic).await, w.balance(shop).await), (10_000, 10_000, 3000));
    w.verify_clean().await;
});

on_both_backends!(an_authorised_payment_is_captured_in_part_or_released, |db| {
    let w = world(&db.store).await;
    let (m, basic) = w.member(1).await;
    let (_, shop) = w.member(2).await;
    w.fund(m, basic, 5000, "F-1").await;
    let authorise =
        |n: &str| PaymentRequest { mode: PaymentMode::Authorise { timeout_s: 600 }, ..w.payment(n, m, 2000, shop) };
    let auth = w.wallets.pay(&authorise("A-1"), &actor()).await.unwrap();
    assert_eq!(auth.status, PaymentStatus::Authorised);
    let view = w.wallets.wallet(m).await.unwrap();
    assert_eq!((view.balance, view.frozen, view.available), (5000, 2000, 3000));
    let captured = w.wallets.capture(client(), &no("A-1"), 1500, &actor()).await.unwrap();
    assert_eq!((captured.status, captured.paid), (PaymentStatus::Captured, 1500));
    w.wallets.capture(client(), &no("A-1"), 1500, &actor()).await.unwrap();
    assert_eq!((w.balance(basic).await, w.balance(shop).await), (3500, 1500));
    w.wallets.pay(&authorise("A-2"), &actor()).await.unwrap();
    let released = w.wallets.release(client(), &no("A-2"), &actor()).await.unwrap();
    assert_eq!(released.status, PaymentStatus::Released);
    let view = w.wallets.wallet(m).await.unwrap();
    assert_eq!((view.balance, view.frozen), (3500, 0));
    // A captured payment refunds like any other.
    w.wallets.refund(client(), &no("A-1"), &no("RF-1"), 1500, &actor()).await.unwrap();
    assert_eq!(w.balance(basic).await, 5000);
    w.verify_clean().await;
});

on_both_backends!(an_authorisation_whose_holds_expired_is_released_and_cannot_be_captured, |db| {
    let w = world(&db.store).await;
    let (m, basic) = w.member(1).await;
    let (_, shop) = w.member(2).await;
    w.fund(m, basic, 5000, "F-1").await;
    let authorise =
        |n: &str| PaymentRequest { mode: PaymentMode::Authorise { timeout_s: 1 }, ..w.payment(n, m, 2000, shop) };
    w.wallets.pay(&authorise("X-1"), &actor()).await.unwrap();
    w.wallets.pay(&authorise("X-2"), &actor()).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    // Capturing an expired authorisation is refused, and the payment says what happened.
    let late = w.wallets.capture(client(), &no("X-1"), 1000, &actor()).await.unwrap_err();
    assert_eq!(late.code(), "pending_expired");
    let payment = w.wallets.get_payment(client(), &no("X-1")).await.unwrap();
    assert_eq!((payment.status, payment.reason.as_deref()), (PaymentStatus::Released, Some("pending_expired")));
    // Releasing one has what it asked for.
    let released = w.wallets.release(client(), &no("X-2"), &actor()).await.unwrap();
    assert_eq!(released.status, PaymentStatus::Released);
    // The ledger's expiry job gives the money back (it runs every few seconds in `sanhu serve`).
    sanhu_service::jobs::expire_due_holds(w.wallets.ledger()).await.unwrap();
    let view = w.wallets.wallet(m).await.unwrap();
    assert_eq!((view.balance, view.frozen), (5000, 0));
    assert_eq!(w.balance(shop).await, 0);
    w.verify_clean().await;
});

on_both_backends!(a_refused_payment_asked_again_is_refused_again, |db| {
    let w = world(&db.store).await;
    let (m, basic) = w.member(1).await;
    let (_, shop) = w.member(2).await;
    w.fund(m, basic, 5000, "F-1").await;
    // Ten payments of everything at once: one is paid; the others are refused, some by the wallet's
    // rule before a record exists, some by the ledger after their record was written.
    let tasks: Vec<_> = (0..10)
        .map(|i| {
            let (wallets, request) = (w.wallets.clone(), w.payment(&format!("ALL-{i}"), m, 5000, shop));
            tokio::spawn(async move { wallets.pay(&request, &actor()).await.map(|p| p.status) })
        })
        .collect();
    let mut first = Vec::new();
    for task in tasks {
        first.push(task.await.unwrap().map_err(|e| e.code()));
    }
    assert_eq!(first.iter().filter(|r| r.is_ok()).count(), 1, "{first:?}");
    // Asked again, each is answered as it was (one that met only contention, concurrent_change, did
    // nothing and now finds the wallet empty).
    for (i, answer) in first.iter().enumerate() {
        let again = w.wallets.pay(&w.payment(&format!("ALL-{i}"), m, 5000, shop), &actor()).await;
        let expected = match answer {
            Err("concurrent_change") => &Err("insufficient_funds"),
            answer => answer,
        };
        assert_eq!(&again.map(|p| p.status).map_err(|e| e.code()), expected, "ALL-{i}");
    }
    assert_eq!((w.balance(basic).await, w.balance(shop).await), (0, 5000));
    w.verify_clean().await;
});

on_both_backends!(a_payment_needs_the_pay_password_when_the_platform_requires_it, |db| {
    let config = WalletConfig { pay_password: PayPasswordRule::Required, ..wallet_config() };
    let w = world_with(&db.store, config).await;
    let (m, basic) = w.member(1).await;
    let (_, shop) = w.member(2).await;
    w.fund(m, basic, 5000, "F-1").await;
    let password = PayPassword::parse("135790").unwrap();
    w.parties.set_pay_password(PayPasswordOwner::Member(m), &password, &actor()).await.unwrap();
    let none = w.wallets.pay(&w.payment("P-1", m, 100, shop), &actor()).await.unwrap_err();
    assert_eq!(none.code(), "pay_password_required");
    let wrong = PaymentRequest { pay_password: Some("111222".into()), ..w.payment("P-1", m, 100, shop) };
    assert_eq!(w.wallets.pay(&wrong, &actor()).await.unwrap_err().code(), "pay_password_incorrect");
    let right = PaymentRequest { pay_password: Some("135790".into()), ..w.payment("P-1", m, 100, shop) };
    assert_eq!(w.wallets.pay(&right, &actor()).await.unwrap().status, PaymentStatus::Paid);
    w.verify_clean().await;
});

on_both_backends!(a_pay_password_given_is_checked_even_where_the_platform_does_not_require_one, |db| {
    let w = world(&db.store).await;
    let (m, basic) = w.member(1).await;
    let (_, shop) = w.member(2).await;
    w.fund(m, basic, 5000, "F-1").await;
    let password = PayPassword::parse("135790").unwrap();
    w.parties.set_pay_password(PayPasswordOwner::Member(m), &password, &actor()).await.unwrap();
    let wrong = PaymentRequest { pay_password: Some("111222".into()), ..w.payment("P-1", m, 100, shop) };
    assert_eq!(w.wallets.pay(&wrong, &actor()).await.unwrap_err().code(), "pay_password_incorrect");
    assert_eq!(w.balance(basic).await, 5000);
    let right = PaymentRequest { pay_password: Some("135790".into()), ..w.payment("P-2", m, 100, shop) };
    assert_eq!(w.wallets.pay(&right, &actor()).await.unwrap().status, PaymentStatus::Paid);
    // None given: paid, as the platform does not require one.
    assert_eq!(w.wallets.pay(&w.payment("P-3", m, 100, shop), &actor()).await.unwrap().status, PaymentStatus::Paid);
    w.verify_clean().await;
});

// ---------------------------------------------------------------------------------------------------
// Withdraw

on_both_backends!(the_articles_withdrawal_of_8_takes_1_50_and_6_50_and_is_paid_out, |db| {
    let w = world(&db.store).await;
    let (m, basic) = w.member(1).await;
    let _ = basic;
    let mut accounts = [w.open(m, "settlement").await, w.open(m, "settlement").await, w.open(m, "settlement").await];
    // Accounts of one type are taken in id order; ids made in the same millisecond are not in the
    // order they were made.
    accounts.sort();
    for (i, (account, amount)) in accounts.iter().zip([150, 1000, 80]).enumerate() {
        w.fund(m, *account, amount, &format!("F-{i}")).await;
    }
    let view = w.wallets.wallet(m).await.unwrap();
    assert_eq!((view.balance, view.withdrawable), (1230, 1150));
    let preview = w.wallets.preview_withdrawal(m, 800).await.unwrap();
    let allocation: Vec<(AccountId, i64)> =
        preview.allocations.iter().map(|a| (a.account_id, a.amount.get())).collect();
    assert_eq!(allocation, [(accounts[0], 150), (accounts[1], 650)]);
    assert_eq!(w.wallets.preview_withdrawal(m, 99).await.unwrap_err().code(), "below_minimum_withdrawal");
    assert_eq!(w.wallets.preview_withdrawal(m, 1151).await.unwrap_err().code(), "exceeds_withdrawable");

    let card = w.card(m).await;
    let request = WithdrawalRequest {
        client: client(),
        order_number: no("W-1"),
        member: m,
        amount: 800,
        card,
        pay_password: None,
        operator: None,
    };
    let withdrawal = w.wallets.withdraw(&request, &actor()).await.unwrap();
    // Under the review threshold: approved at once, one order per account, all frozen.
    assert_eq!(withdrawal.status, WithdrawalStatus::Approved);
    let orders: Vec<(&str, AccountId, i64)> =
        withdrawal.orders.iter().map(|o| (o.number.as_str(), o.account_id, o.amount)).collect();
    assert_eq!(orders, [("W-1-1", accounts[0], 150), ("W-1-2", accounts[1], 650)]);
    let view = w.wallets.wallet(m).await.unwrap();
    assert_eq!((view.balance, view.frozen, view.withdrawable), (1230, 800, 350));
    let paid = w.wallets.payout_result(client(), &no("W-1"), PayoutResult::Succeeded, &actor()).await.unwrap();
    assert_eq!(paid.status, WithdrawalStatus::Paid);
    w.wallets.payout_result(client(), &no("W-1"), PayoutResult::Succeeded, &actor()).await.unwrap();
    let balances = [w.balance(accounts[0]).await, w.balance(accounts[1]).await, w.balance(accounts[2]).await];
    assert_eq!(balances, [0, 350, 80]);
    assert_eq!(w.platform_balance(PlatformAccount::WithdrawalsInTransit).await, 800);
    w.verify_clean().await;
});

on_both_backends!(a_withdrawal_is_frozen_at_application_then_reviewed_and_released_if_refused_or_failed, |db| {
    let w = world(&db.store).await;
    let (m, basic) = w.member(1).await;
    w.fund(m, basic, 50_000, "F-1").await;
    let withdraw = |n: &str, card| WithdrawalRequest {
        client: client(),
        order_number: no(n),
        member: m,
        amount: 20_000,
        card,
        pay_password: None,
        operator: None,
    };
    // Only to a card in the member's verified name.
    let (other, _) = w.member(2).await;
    let others_card = w.card(other).await;
    let refused = w.wallets.withdraw(&withdraw("W-0", others_card), &actor()).await.unwrap_err();
    assert_eq!(refused.code(), "card_not_members");
    let card = w.card(m).await;

    let applied = w.wallets.withdraw(&withdraw("W-1", card), &actor()).await.unwrap();
    assert_eq!(applied.status, WithdrawalStatus::Reviewing);
    assert_eq!(w.wallets.wallet(m).await.unwrap().frozen, 20_000);
    let early = w.wallets.payout_result(client(), &no("W-1"), PayoutResult::Succeeded, &actor()).await.unwrap_err();
    assert_eq!(early.code(), "order_under_review");
    let rejected = w.wallets.review_withdrawal(client(), &no("W-1"), Review::Reject, &actor()).await.unwrap();
    assert_eq!(rejected.status, WithdrawalStatus::Rejected);
    assert_eq!(w.wallets.wallet(m).await.unwrap().frozen, 0);

    w.wallets.withdraw(&withdraw("W-2", card), &actor()).await.unwrap();
    let approved = w.wallets.review_withdrawal(client(), &no("W-2"), Review::Approve, &actor()).await.unwrap();
    assert_eq!(approved.status, WithdrawalStatus::Approved);
    let failed = w.wallets.payout_result(client(), &no("W-2"), PayoutResult::Failed, &actor()).await.unwrap();
    assert_eq!(failed.status, WithdrawalStatus::PayoutFailed);
    // 50.00 in, and the tier's 10.00 of bonus: all of it available again.
    let view = w.wallets.wallet(m).await.unwrap();
    assert_eq!((view.balance, view.frozen, view.available), (51_000, 0, 51_000));
    assert_eq!(w.balance(basic).await, 50_000);
    w.verify_clean().await;
});

// ---------------------------------------------------------------------------------------------------
// Freeze and adjustments

fn reason(text: &str) -> sanhu_core::party::Reason {
    sanhu_core::party::Reason::parse(text).unwrap()
}

on_both_backends!(a_judicial_freeze_holds_money_until_lifted_or_seized, |db| {
    let w = world(&db.store).await;
    let (m, basic) = w.member(1).await;
    w.fund(m, basic, 5000, "F-1").await;
    let court = reason("court order 2025-001");
    let frozen = w.wallets.freeze(client(), &no("FZ-1"), basic, 2000, &court, &actor()).await.unwrap();
    assert_eq!(frozen.status, FreezeStatus::Frozen);
    let view = w.wallets.wallet(m).await.unwrap();
    assert_eq!((view.balance, view.frozen, view.withdrawable), (5000, 2000, 3000));
    // More than is available cannot be frozen; nothing is held.
    let refused = w.wallets.freeze(client(), &no("FZ-2"), basic, 3001, &court, &actor()).await.unwrap_err();
    assert_eq!(refused.code(), "insufficient_funds");
    assert_eq!(w.wallets.unfreeze(client(), &no("FZ-2"), &actor()).await.unwrap_err().code(), "order_state_invalid");
    // Lifted: available again. Seized: posted to the platform's account, once.
    w.wallets.unfreeze(client(), &no("FZ-1"), &actor()).await.unwrap();
    assert_eq!(w.wallets.wallet(m).await.unwrap().frozen, 0);
    w.wallets.freeze(client(), &no("FZ-3"), basic, 1500, &court, &actor()).await.unwrap();
    for _ in 0..2 {
        assert_eq!(w.wallets.seize(client(), &no("FZ-3"), &actor()).await.unwrap().status, FreezeStatus::Seized);
    }
    assert_eq!(w.balance(basic).await, 3500);
    assert_eq!(w.platform_balance(PlatformAccount::Seized).await, 1500);
    w.verify_clean().await;
});

on_both_backends!(a_large_adjustment_waits_for_a_second_person, |db| {
    let w = world(&db.store).await;
    let (_, basic) = w.member(1).await;
    let maker = Actor::Staff(sanhu_core::party::change::StaffName::parse("li").unwrap());
    let checker = Actor::Staff(sanhu_core::party::change::StaffName::parse("wang").unwrap());
    let why = reason("compensation for ticket 88");
    let small = w
        .wallets
        .adjust(client(), &no("ADJ-1"), basic, AdjustmentDirection::Credit, 500, &why, &maker, &maker)
        .await
        .unwrap();
    assert_eq!(small.status, AdjustmentStatus::Applied);
    let large = w
        .wallets
        .adjust(client(), &no("ADJ-2"), basic, AdjustmentDirection::Credit, 200_000, &why, &maker, &maker)
        .await
        .unwrap();
    assert_eq!(large.status, AdjustmentStatus::AwaitingApproval);
    assert_eq!(w.balance(basic).await, 500);
    let same = w.wallets.approve_adjustment(client(), &no("ADJ-2"), &maker, &maker).await.unwrap_err();
    assert_eq!(same.code(), "adjustment_same_actor");
    let approved = w.wallets.approve_adjustment(client(), &no("ADJ-2"), &checker, &checker).await.unwrap();
    assert_eq!(approved.status, AdjustmentStatus::Applied);
    w.wallets.approve_adjustment(client(), &no("ADJ-2"), &checker, &checker).await.unwrap();
    assert_eq!(w.balance(basic).await, 200_500);
    // Debits take money out; one beyond the balance is refused by the ledger, and nothing moves.
    for n in ["ADJ-3", "ADJ-4"] {
        let debit = AdjustmentDirection::Debit;
        let applied = w.wallets.adjust(client(), &no(n), basic, debit, 99_999, &why, &maker, &maker).await.unwrap();
        assert_eq!(applied.status, AdjustmentStatus::Applied);
    }
    assert_eq!(w.balance(basic).await, 502);
    let over =
        w.wallets.adjust(client(), &no("ADJ-5"), basic, AdjustmentDirection::Debit, 503, &why, &maker, &maker).await;
    assert_eq!(over.unwrap_err().code(), "insufficient_funds");
    assert_eq!(w.balance(basic).await, 502);
    assert_eq!(w.platform_balance(PlatformAccount::Adjustments).await, 502);

    // One API client naming one staff member as maker and another as checker is still one principal:
    // refused, and nothing moves; another client approves it.
    let system = Actor::Client(client());
    let large = w
        .wallets
        .adjust(client(), &no("ADJ-6"), basic, AdjustmentDirection::Credit, 300_000, &why, &maker, &system)
        .await
        .unwrap();
    assert_eq!(large.status, AdjustmentStatus::AwaitingApproval);
    let same_key = w.wallets.approve_adjustment(client(), &no("ADJ-6"), &checker, &system).await.unwrap_err();
    assert_eq!(same_key.code(), "adjustment_same_actor");
    let unnamed = w.wallets.approve_adjustment(client(), &no("ADJ-6"), &system, &system).await.unwrap_err();
    assert_eq!(unnamed.code(), "adjustment_same_actor");
    assert_eq!(w.balance(basic).await, 502);
    let other = Actor::Client(sanhu_service::clock::new_id::<sanhu_core::id::ClientTag>());
    let approved = w.wallets.approve_adjustment(client(), &no("ADJ-6"), &checker, &other).await.unwrap();
    assert_eq!(approved.status, AdjustmentStatus::Applied);
    assert_eq!(w.balance(basic).await, 300_502);
    w.verify_clean().await;
});
