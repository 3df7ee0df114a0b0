//! Split payments (分账) on both backends: the home-services case (the worker 270.00, the platform's
//! commission 30.00, in one chain), the travel case (the supplier paid at once, the store's margin in
//! escrow, released per receiver), refunds taken back from each receiver in proportion or as named,
//! from escrow for a held share, and concurrent refunds from two instances never taking more than the
//! payment or any receiver's share.

use sanhu_core::id::MemberId;
use sanhu_core::party::Actor;
use sanhu_core::wallet::ShareRule;
use sanhu_core::AccountId;
use sanhu_service::wallet::{
    PaymentStatus, PlatformAccount, Receiver, RefundStatus, Refunder, ShareStatus, SplitPaymentRequest, SplitReceiver,
};
use sanhu_store::Store;
use sanhu_testkit::on_both_backends;
use sanhu_testkit::world::{self, actor, client, no, World};

async fn world(store: &Store) -> World {
    World::new(store, world::party_config(), world::wallet_config()).await
}

fn to(account: AccountId, rule: ShareRule, escrow: bool) -> SplitReceiver {
    SplitReceiver { receiver: Receiver::Account(account), rule, escrow }
}

fn split(number: &str, member: MemberId, amount: i64, splits: Vec<SplitReceiver>) -> SplitPaymentRequest {
    SplitPaymentRequest {
        client: client(),
        order_number: no(number),
        member,
        amount,
        splits,
        pay_password: None,
        operator: None,
    }
}

fn act() -> Actor {
    actor()
}

on_both_backends!(home_services_the_worker_gets_270_and_the_platform_keeps_30_in_one_chain, |db| {
    let w = world(&db.store).await;
    let (employer, basic) = w.member(1).await;
    let (_, worker) = w.member(2).await;
    w.fund(employer, basic, 50_000, "F-1").await;
    let commission = SplitReceiver {
        receiver: Receiver::Platform(PlatformAccount::FeeIncome),
        rule: ShareRule::RateBp(1000),
        escrow: false,
    };
    let request = split("HS-1", employer, 30_000, vec![to(worker, ShareRule::Rest, false), commission]);
    let payment = w.wallets.pay_split(&request, &act()).await.unwrap();
    assert_eq!(payment.status, PaymentStatus::Paid);
    let shares: Vec<(i64, ShareStatus)> = payment.splits.iter().map(|s| (s.amount, s.status)).collect();
    assert_eq!(shares, [(27_000, ShareStatus::Paid), (3000, ShareStatus::Paid)]);
    assert_eq!(w.balance(worker).await, 27_000);
    assert_eq!(w.platform_balance(PlatformAccount::FeeIncome).await, 3000);
    assert_eq!(w.balance(basic).await, 20_000);
    // Again: the same payment, nothing moves twice.
    let again = w.wallets.pay_split(&request, &act()).await.unwrap();
    assert_eq!(again.splits.len(), 2);
    assert_eq!(w.balance(basic).await, 20_000);

    // Shares that do not add up, and too many receivers: refused, nothing moved.
    let short = split("HS-2", employer, 30_000, vec![to(worker, ShareRule::Amount(20_000), false)]);
    assert_eq!(w.wallets.pay_split(&short, &act()).await.unwrap_err().code(), "split_shares_mismatch");
    let none = split("HS-3", employer, 100, vec![]);
    assert_eq!(w.wallets.pay_split(&none, &act()).await.unwrap_err().code(), "split_receivers_invalid");
    // More than the wallet holds: nobody is paid.
    let over = split("HS-4", employer, 20_001, vec![to(worker, ShareRule::Rest, false)]);
    assert_eq!(w.wallets.pay_split(&over, &act()).await.unwrap_err().code(), "insufficient_funds");
    assert_eq!((w.balance(basic).await, w.balance(worker).await), (20_000, 27_000));

    // A refund of 100.00 in proportion: 90.00 from the worker, 10.00 of the commission.
    let refund = w.wallets.refund(client(), &no("HS-1"), &no("HS-1-R1"), 10_000, &act()).await.unwrap();
    let taken: Vec<i64> = refund.shares.iter().map(|s| s.amount).collect();
    assert_eq!(taken, [9000, 1000]);
    assert_eq!(refund.status, RefundStatus::Succeeded);
    // As named: the rest of the commission only, then more than the commission holds.
    let named = Some(vec![(PlatformAccount::FeeIncome.id(sanhu_testkit::money::cny()), 2000)]);
    let refund = w
        .wallets
        .refund_split_by(client(), &no("HS-1"), &no("HS-1-R2"), 2000, named, Refunder::Platform, &act())
        .await
        .unwrap();
    assert_eq!(refund.shares.iter().map(|s| s.amount).collect::<Vec<_>>(), [2000]);
    let beyond = Some(vec![(PlatformAccount::FeeIncome.id(sanhu_testkit::money::cny()), 1)]);
    let refused = w
        .wallets
        .refund_split_by(client(), &no("HS-1"), &no("HS-1-R3"), 1, beyond, Refunder::Platform, &act())
        .await
        .unwrap_err();
    assert_eq!(refused.code(), "split_refund_exceeds_share");
    assert_eq!(w.platform_balance(PlatformAccount::FeeIncome).await, 0);
    assert_eq!((w.balance(worker).await, w.balance(basic).await), (18_000, 32_000));
    w.verify_clean().await;
});

on_both_backends!(travel_the_supplier_is_paid_at_once_and_the_margin_escrowed_until_released, |db| {
    let w = world(&db.store).await;
    let (store, fund) = w.member(1).await;
    let (_, supplier) = w.member(2).await;
    let (margin_owner, _) = w.member(3).await;
    let margin = w.open(margin_owner, "settlement").await;
    w.fund(store, fund, 200_000, "F-1").await;
    let request = split(
        "TRIP-1",
        store,
        120_000,
        vec![to(supplier, ShareRule::Amount(100_000), false), to(margin, ShareRule::Rest, true)],
    );
    let payment = w.wallets.pay_split(&request, &act()).await.unwrap();
    assert_eq!(payment.splits[1].status, ShareStatus::Escrowed);
    assert_eq!(w.balance(supplier).await, 100_000);
    assert_eq!(w.balance(margin).await, 0, "held, not yet the margin's");
    let wallet = w.wallets.wallet(store).await.unwrap();
    assert_eq!((wallet.balance, wallet.frozen), (100_000, 20_000));

    // A refund of 12,000 in proportion: 10,000 from the supplier, 2,000 from escrow.
    let refund = w.wallets.refund(client(), &no("TRIP-1"), &no("TRIP-1-R1"), 12_000, &act()).await.unwrap();
    assert_eq!(refund.shares.iter().map(|s| s.amount).collect::<Vec<_>>(), [10_000, 2000]);
    let wallet = w.wallets.wallet(store).await.unwrap();
    assert_eq!((wallet.balance, wallet.frozen), (110_000, 18_000));
    let payment = w.wallets.get_payment(client(), &no("TRIP-1")).await.unwrap();
    assert_eq!(payment.splits[1].holds.iter().map(|h| h.amount).sum::<i64>(), 18_000);

    // The trip ended: the margin is released to the store's margin account, once.
    let (_, other) = w.member(4).await;
    let missing = w.wallets.release_split(client(), &no("TRIP-1"), other, Refunder::Platform, &act()).await;
    assert_eq!(missing.unwrap_err().code(), "split_receiver_not_found");
    let not_held = w.wallets.release_split(client(), &no("TRIP-1"), supplier, Refunder::Platform, &act()).await;
    assert_eq!(not_held.unwrap_err().code(), "payment_not_escrowed");
    // The receiver's side may not release to itself.
    let own = w.wallets.release_split(client(), &no("TRIP-1"), margin, Refunder::Member(margin_owner), &act()).await;
    assert_eq!(own.unwrap_err().code(), "escrow_release_not_allowed");
    let released = w.wallets.release_split(client(), &no("TRIP-1"), margin, Refunder::Member(store), &act()).await;
    assert_eq!(released.unwrap().splits[1].status, ShareStatus::Released);
    w.wallets.release_split(client(), &no("TRIP-1"), margin, Refunder::Platform, &act()).await.unwrap();
    assert_eq!(w.balance(margin).await, 18_000);
    let wallet = w.wallets.wallet(store).await.unwrap();
    assert_eq!((wallet.balance, wallet.frozen), (92_000, 0));
    // Released, the margin is refunded from the account like paid money.
    let named = Some(vec![(margin, 8000)]);
    w.wallets
        .refund_split_by(client(), &no("TRIP-1"), &no("TRIP-1-R2"), 8000, named, Refunder::Platform, &act())
        .await
        .unwrap();
    assert_eq!((w.balance(margin).await, w.balance(fund).await), (10_000, 100_000));
    // Only the platform refunds a split payment.
    let by_receiver = w
        .wallets
        .refund_by(client(), &no("TRIP-1"), &no("TRIP-1-R3"), 100, Refunder::Member(margin_owner), &act())
        .await;
    assert_eq!(by_receiver.unwrap_err().code(), "refund_not_allowed");
    w.verify_clean().await;
});

on_both_backends!(concurrent_refunds_of_a_split_payment_never_exceed_the_payment_nor_any_share, |db| {
    let w = world(&db.store).await;
    let second = world(&db.open_another().await).await;
    let (payer, basic) = w.member(1).await;
    let (_, a) = w.member(2).await;
    let (_, b) = w.member(3).await;
    let (_, c) = w.member(4).await;
    w.fund(payer, basic, 10_000, "F-1").await;
    let request = split(
        "CC-1",
        payer,
        10_000,
        vec![
            to(a, ShareRule::Amount(5000), false),
            to(b, ShareRule::RateBp(3000), true),
            to(c, ShareRule::Rest, false),
        ],
    );
    w.wallets.pay_split(&request, &act()).await.unwrap();
    // Sixteen refunds at once from two instances, some in proportion, some naming the held share only.
    let attempts = (0..16).map(|i| {
        let wallets = if i % 2 == 0 { w.wallets.clone() } else { second.wallets.clone() };
        async move {
            let number = no(&format!("CC-R{i}"));
            if i % 3 == 0 {
                let named = Some(vec![(b, 700)]);
                wallets.refund_split_by(client(), &no("CC-1"), &number, 700, named, Refunder::Platform, &actor()).await
            } else {
                wallets.refund(client(), &no("CC-1"), &number, 1300, &actor()).await
            }
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    for error in results.iter().filter_map(|r| r.as_ref().err()) {
        assert!(["refund_exceeds_payment", "split_refund_exceeds_share"].contains(&error.code()), "{}", error.code());
    }
    let refunded: i64 = results.iter().filter_map(|r| r.as_ref().ok()).map(|r| r.amount).sum();
    let payment = w.wallets.get_payment(client(), &no("CC-1")).await.unwrap();
    assert_eq!(payment.refunded(), refunded);
    assert!(refunded <= 10_000 && refunded > 0);
    for share in &payment.splits {
        let taken = share.refunded(&payment);
        assert!(taken <= share.amount, "{taken} > {}", share.amount);
        let held: i64 = share.holds.iter().map(|h| h.amount).sum();
        if share.escrow {
            assert_eq!(held, share.amount - taken, "the held share is what is left of it");
        }
    }
    assert_eq!(
        w.balance(a).await + w.balance(c).await,
        7000 - (payment.splits[0].refunded(&payment) + payment.splits[2].refunded(&payment))
    );
    assert_eq!(w.wallets.wallet(payer).await.unwrap().available, refunded);
    // What is left can still be refunded whole, and not a fen more.
    let left = 10_000 - refunded;
    if left > 0 {
        w.wallets.refund(client(), &no("CC-1"), &no("CC-LAST"), left, &act()).await.unwrap();
    }
    let over = w.wallets.refund(client(), &no("CC-1"), &no("CC-OVER"), 1, &act()).await.unwrap_err();
    assert_eq!(over.code(), "refund_exceeds_payment");
    assert_eq!((w.balance(basic).await, w.balance(a).await, w.balance(b).await, w.balance(c).await), (10_000, 0, 0, 0));
    let wallet = w.wallets.wallet(payer).await.unwrap();
    assert_eq!(wallet.frozen, 0);
    w.verify_clean().await;
});
