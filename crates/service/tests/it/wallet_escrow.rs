//! Escrow and deposits on both backends, with the car-rental wallet's cases: the rent is credited to
//! the merchant as frozen (incoming) money and released to its available balance once the car is
//! picked up, or returned to the renter; the deposit is frozen on the renter's wallet without ever
//! being the merchant's money, then released, or captured in part for damage and the rest released.
//! Every decision moves the money once, even repeated, raced, or made by two instances. Each test ends
//! with the ledger's verify checks passing (every currency balances, every account equals its entries).

use sanhu_core::id::MemberId;
use sanhu_core::party::Reason;
use sanhu_core::AccountId;
use sanhu_service::wallet::{
    wallet_codes, DepositRequest, DepositStatus, PaymentMode, PaymentRequest, PaymentStatus, PlatformAccount, Receiver,
    RefundStatus,
};
use sanhu_store::{LedgerStore, Store};
use sanhu_testkit::money::cny;
use sanhu_testkit::on_both_backends;
use sanhu_testkit::world::{self, actor, client, no, World};

fn damage(text: &str) -> Reason {
    Reason::parse(text).unwrap()
}

async fn world(store: &Store) -> World {
    World::new(store, world::party_config(), world::wallet_config()).await
}

/// What the escrow tests ask of the world besides.
trait Escrow {
    async fn figures(&self, member: MemberId) -> (i64, i64, i64, i64);
    async fn deposits_account(&self) -> (i64, i64);
    fn rent(&self, number: &str, renter: MemberId, amount: i64, merchant: AccountId) -> PaymentRequest;
    fn deposit(&self, number: &str, renter: MemberId, amount: i64, merchant: AccountId) -> DepositRequest;
}

impl Escrow for World {
    /// (balance, available, frozen, incoming) of a member's wallet.
    async fn figures(&self, member: MemberId) -> (i64, i64, i64, i64) {
        let view = self.wallets.wallet(member).await.unwrap();
        (view.balance, view.available, view.frozen, view.incoming)
    }

    /// The `deposits` platform account's (posted balance, pending credits).
    async fn deposits_account(&self) -> (i64, i64) {
        match self.store.get_account(PlatformAccount::Deposits.id(cny())).await.unwrap() {
            Some(account) => (account.balance(), account.counters.credits_pending),
            None => (0, 0),
        }
    }

    fn rent(&self, number: &str, renter: MemberId, amount: i64, merchant: AccountId) -> PaymentRequest {
        PaymentRequest { mode: PaymentMode::Escrow, ..self.payment(number, renter, amount, merchant) }
    }

    fn deposit(&self, number: &str, renter: MemberId, amount: i64, merchant: AccountId) -> DepositRequest {
        DepositRequest {
            client: client(),
            order_number: no(number),
            member: renter,
            amount,
            beneficiary: Receiver::Account(merchant),
            pay_password: None,
            operator: None,
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Escrow: the rent

on_both_backends!(rent_in_escrow_is_the_merchants_incoming_money_until_released, |db| {
    let w = world(&db.store).await;
    let (renter, wallet) = w.member(1).await;
    let (merchant, shop) = w.member(2).await;
    w.fund(renter, wallet, 50_000, "F-1").await;

    let paid = w.wallets.pay(&w.rent("RENT-1", renter, 30_000, shop), &actor()).await.unwrap();
    assert_eq!(paid.status, PaymentStatus::Escrowed);
    assert_eq!((paid.paid, paid.holds.len()), (30_000, 1));
    // The renter's money is frozen, not gone; the merchant sees it coming and cannot spend it.
    assert_eq!(w.figures(renter).await, (50_000, 20_000, 30_000, 0));
    assert_eq!(w.figures(merchant).await, (0, 0, 0, 30_000));
    assert_eq!(w.wallets.wallet(merchant).await.unwrap().withdrawable, 0);

    // The car is picked up: released once, however often asked.
    for _ in 0..2 {
        let released = w.wallets.release_escrow(client(), &no("RENT-1"), &actor()).await.unwrap();
        assert_eq!(released.status, PaymentStatus::EscrowReleased);
        assert_eq!(released.paid, 30_000);
    }
    assert_eq!(w.figures(renter).await, (20_000, 20_000, 0, 0));
    assert_eq!(w.figures(merchant).await, (30_000, 30_000, 0, 0));
    assert_eq!(w.wallets.wallet(merchant).await.unwrap().withdrawable, 30_000, "released money is withdrawable");

    // Released money is the merchant's: it cannot be returned, only refunded, back to the renter.
    let late = w.wallets.return_escrow(client(), &no("RENT-1"), &actor()).await.unwrap_err();
    assert_eq!(late.code(), "escrow_released");
    let refund = w.wallets.refund(client(), &no("RENT-1"), &no("RENT-1-R1"), 5_000, &actor()).await.unwrap();
    assert_eq!(refund.status, RefundStatus::Succeeded);
    assert_eq!((w.balance(wallet).await, w.balance(shop).await), (25_000, 25_000));
    w.verify_clean().await;
});

on_both_backends!(rent_in_escrow_goes_back_to_the_renter_when_the_rental_is_cancelled, |db| {
    let w = world(&db.store).await;
    let (renter, wallet) = w.member(1).await;
    let (merchant, shop) = w.member(2).await;
    w.fund(renter, wallet, 50_000, "F-1").await;
    w.wallets.pay(&w.rent("RENT-2", renter, 30_000, shop), &actor()).await.unwrap();
    for _ in 0..2 {
        let returned = w.wallets.return_escrow(client(), &no("RENT-2"), &actor()).await.unwrap();
        assert_eq!(returned.status, PaymentStatus::EscrowReturned);
    }
    assert_eq!(w.figures(renter).await, (50_000, 50_000, 0, 0));
    assert_eq!(w.figures(merchant).await, (0, 0, 0, 0));
    let late = w.wallets.release_escrow(client(), &no("RENT-2"), &actor()).await.unwrap_err();
    assert_eq!(late.code(), "escrow_returned");
    let refund = w.wallets.refund(client(), &no("RENT-2"), &no("RENT-2-R1"), 100, &actor()).await.unwrap_err();
    assert_eq!(refund.code(), "payment_not_refundable");
    assert_eq!(w.balance(shop).await, 0);
    w.verify_clean().await;
});

on_both_backends!(only_an_escrow_payment_is_released_or_returned_and_an_uncovered_one_holds_nothing, |db| {
    let w = world(&db.store).await;
    let (renter, wallet) = w.member(1).await;
    let (_, shop) = w.member(2).await;
    w.fund(renter, wallet, 10_000, "F-1").await;
    let immediate = PaymentRequest { mode: PaymentMode::Immediate, ..w.rent("PAY-1", renter, 1_000, shop) };
    w.wallets.pay(&immediate, &actor()).await.unwrap();
    for refused in [
        w.wallets.release_escrow(client(), &no("PAY-1"), &actor()).await.unwrap_err(),
        w.wallets.return_escrow(client(), &no("PAY-1"), &actor()).await.unwrap_err(),
    ] {
        assert_eq!(refused.code(), "payment_not_escrowed");
    }
    let short = w.wallets.pay(&w.rent("RENT-3", renter, 9_001, shop), &actor()).await.unwrap_err();
    assert_eq!(short.code(), "insufficient_funds");
    assert_eq!(
        w.wallets.release_escrow(client(), &no("RENT-3"), &actor()).await.unwrap_err().code(),
        "order_not_found"
    );
    assert_eq!(w.figures(renter).await, (9_000, 9_000, 0, 0));
    w.verify_clean().await;
});

on_both_backends!(releasing_and_returning_one_escrow_at_once_moves_the_money_one_way_only, |db| {
    let w = world(&db.store).await;
    let other = world(&db.open_another().await).await;
    let (renter, wallet) = w.member(1).await;
    let (merchant, shop) = w.member(2).await;
    w.fund(renter, wallet, 100_000, "F-1").await;
    for round in 0..6 {
        let number = format!("RENT-R{round}");
        w.wallets.pay(&w.rent(&number, renter, 10_000, shop), &actor()).await.unwrap();
        // Two instances decide at once: each asks both ways, in the other order.
        let (number, by) = (no(&number), actor());
        let (a, b, c, d) = tokio::join!(
            w.wallets.release_escrow(client(), &number, &by),
            other.wallets.return_escrow(client(), &number, &by),
            other.wallets.release_escrow(client(), &number, &by),
            w.wallets.return_escrow(client(), &number, &by),
        );
        let released = [&a, &c].iter().filter(|r| r.is_ok()).count();
        let returned = [&b, &d].iter().filter(|r| r.is_ok()).count();
        assert!(
            (released == 2 && returned == 0) || (released == 0 && returned == 2),
            "one way only: {a:?} {b:?} {c:?} {d:?}"
        );
        for refusal in [a, b, c, d].into_iter().filter_map(Result::err) {
            assert!(["escrow_released", "escrow_returned"].contains(&refusal.code()), "{refusal:?}");
        }
        let payment = w.wallets.get_payment(client(), &number).await.unwrap();
        let expected = if released == 2 { PaymentStatus::EscrowReleased } else { PaymentStatus::EscrowReturned };
        assert_eq!(payment.status, expected);
    }
    let (shop_balance, renter_balance) = (w.balance(shop).await, w.balance(wallet).await);
    assert_eq!(shop_balance + renter_balance, 100_000, "nothing made or lost");
    assert_eq!(shop_balance % 10_000, 0, "every escrow moved whole");
    assert_eq!(w.figures(merchant).await.3, 0, "nothing left incoming");
    assert_eq!(w.figures(renter).await.2, 0, "nothing left frozen");
    w.verify_clean().await;
});

// ---------------------------------------------------------------------------------------------------
// Deposits

on_both_backends!(a_deposit_is_frozen_on_the_renters_wallet_and_never_the_merchants_money, |db| {
    let w = world(&db.store).await;
    let (renter, wallet) = w.member(1).await;
    let (merchant, shop) = w.member(2).await;
    w.fund(renter, wallet, 50_000, "F-1").await;

    let held = w.wallets.hold_deposit(&w.deposit("DEP-1", renter, 20_000, shop), &actor()).await.unwrap();
    assert_eq!(held.status, DepositStatus::Held);
    assert_eq!(held.beneficiary, shop);
    assert_eq!(w.figures(renter).await, (50_000, 30_000, 20_000, 0));
    assert_eq!(w.figures(merchant).await, (0, 0, 0, 0), "not even incoming for the merchant");
    assert_eq!(w.deposits_account().await, (0, 20_000));
    // The same number again is the same deposit; with other details it is refused.
    let again = w.wallets.hold_deposit(&w.deposit("DEP-1", renter, 20_000, shop), &actor()).await.unwrap();
    assert_eq!(again.status, DepositStatus::Held);
    let reused = w.wallets.hold_deposit(&w.deposit("DEP-1", renter, 20_001, shop), &actor()).await.unwrap_err();
    assert_eq!(reused.code(), "order_number_reused");
    assert_eq!(w.figures(renter).await.2, 20_000);

    // The car came back undamaged: released whole, once.
    for _ in 0..2 {
        let released = w.wallets.release_deposit(client(), &no("DEP-1"), &actor()).await.unwrap();
        assert_eq!(released.status, DepositStatus::Released);
    }
    assert_eq!(w.figures(renter).await, (50_000, 50_000, 0, 0));
    assert_eq!(w.deposits_account().await, (0, 0));
    let late = w.wallets.capture_deposit(client(), &no("DEP-1"), 1_000, &damage("scratch"), &actor()).await;
    assert_eq!(late.unwrap_err().code(), "deposit_released");
    assert_eq!(w.balance(shop).await, 0);
    assert_eq!(w.wallets.get_deposit(client(), &no("DEP-9")).await.unwrap_err().code(), "deposit_not_found");
    w.verify_clean().await;
});

on_both_backends!(a_damaged_car_takes_part_of_the_deposit_for_the_merchant_and_releases_the_rest, |db| {
    let w = world(&db.store).await;
    let (renter, basic) = w.member(1).await;
    let bonus = w.open(renter, "bonus").await;
    let (merchant, shop) = w.member(2).await;
    w.fund(renter, basic, 40_000, "F-1").await;
    w.fund(renter, bonus, 3_000, "F-2").await;

    // Held in the wallet's order: the bonus account first, then the basic account.
    let held = w.wallets.hold_deposit(&w.deposit("DEP-2", renter, 10_000, shop), &actor()).await.unwrap();
    let holds: Vec<(AccountId, i64)> = held.holds.iter().map(|h| (h.account_id, h.amount)).collect();
    assert_eq!(holds, [(bonus, 3_000), (basic, 7_000)]);

    let why = damage("rear bumper dented");
    for _ in 0..2 {
        let captured = w.wallets.capture_deposit(client(), &no("DEP-2"), 5_000, &why, &actor()).await.unwrap();
        assert_eq!(captured.status, DepositStatus::Captured);
        assert_eq!(captured.captured, 5_000);
        assert_eq!(captured.reason.as_deref(), Some("rear bumper dented"));
        let taken: Vec<(AccountId, i64)> = captured.captured_parts.iter().map(|p| (p.account_id, p.amount)).collect();
        assert_eq!(taken, [(bonus, 3_000), (basic, 2_000)]);
    }
    assert_eq!((w.balance(bonus).await, w.balance(basic).await), (0, 38_000));
    assert_eq!(w.figures(renter).await, (38_000, 38_000, 0, 0), "the rest is released");
    assert_eq!(w.figures(merchant).await, (5_000, 5_000, 0, 0), "the compensation is the merchant's");
    assert_eq!(w.deposits_account().await, (0, 0), "the deposits account only passes money on");

    // Captured once: another amount, or a release, is refused.
    let more = w.wallets.capture_deposit(client(), &no("DEP-2"), 6_000, &why, &actor()).await.unwrap_err();
    assert_eq!(more.code(), "deposit_captured");
    let release = w.wallets.release_deposit(client(), &no("DEP-2"), &actor()).await.unwrap_err();
    assert_eq!(release.code(), "deposit_captured");
    assert_eq!(w.balance(shop).await, 5_000);
    w.verify_clean().await;
});

on_both_backends!(a_capture_larger_than_the_deposit_is_refused_and_changes_nothing, |db| {
    let w = world(&db.store).await;
    let (renter, wallet) = w.member(1).await;
    let (_, shop) = w.member(2).await;
    w.fund(renter, wallet, 50_000, "F-1").await;
    w.wallets.hold_deposit(&w.deposit("DEP-3", renter, 10_000, shop), &actor()).await.unwrap();
    let why = damage("windscreen");
    let over = w.wallets.capture_deposit(client(), &no("DEP-3"), 10_001, &why, &actor()).await.unwrap_err();
    assert_eq!(over.code(), "capture_exceeds_holds");
    let zero = w.wallets.capture_deposit(client(), &no("DEP-3"), 0, &why, &actor()).await.unwrap_err();
    assert_eq!(zero.code(), "invalid_amount");
    let deposit = w.wallets.get_deposit(client(), &no("DEP-3")).await.unwrap();
    assert_eq!((deposit.status, deposit.captured), (DepositStatus::Held, 0));
    assert_eq!(w.figures(renter).await, (50_000, 40_000, 10_000, 0));
    // The whole deposit may be taken.
    let all = w.wallets.capture_deposit(client(), &no("DEP-3"), 10_000, &why, &actor()).await.unwrap();
    assert_eq!(all.captured, 10_000);
    assert_eq!((w.balance(wallet).await, w.balance(shop).await), (40_000, 10_000));
    w.verify_clean().await;
});

on_both_backends!(a_deposit_the_wallet_cannot_cover_or_for_the_deposits_account_is_refused, |db| {
    let w = world(&db.store).await;
    let (renter, wallet) = w.member(1).await;
    let (_, shop) = w.member(2).await;
    w.fund(renter, wallet, 5_000, "F-1").await;
    let short = w.wallets.hold_deposit(&w.deposit("DEP-4", renter, 5_001, shop), &actor()).await.unwrap_err();
    assert_eq!(short.code(), "insufficient_funds");
    let to_itself = DepositRequest {
        beneficiary: Receiver::Platform(PlatformAccount::Deposits),
        ..w.deposit("DEP-5", renter, 1_000, shop)
    };
    let refused = w.wallets.hold_deposit(&to_itself, &actor()).await.unwrap_err();
    assert_eq!(refused.code(), "deposit_beneficiary_invalid");
    let nowhere = DepositRequest { beneficiary: Receiver::Account(AccountId::from_u128(99).unwrap()), ..to_itself };
    let refused = w.wallets.hold_deposit(&nowhere, &actor()).await.unwrap_err();
    assert_eq!(refused.code(), "receiver_not_found");
    assert_eq!(w.figures(renter).await, (5_000, 5_000, 0, 0));
    w.verify_clean().await;
});

on_both_backends!(two_deposits_racing_for_one_balance_hold_once_and_the_other_holds_nothing, |db| {
    let w = world(&db.store).await;
    let other = world(&db.open_another().await).await;
    let (renter, wallet) = w.member(1).await;
    let (_, shop) = w.member(2).await;
    w.fund(renter, wallet, 8_000, "F-1").await;
    let (first, second, by) =
        (w.deposit("DEP-A", renter, 8_000, shop), w.deposit("DEP-B", renter, 8_000, shop), actor());
    let (a, b) = tokio::join!(w.wallets.hold_deposit(&first, &by), other.wallets.hold_deposit(&second, &by));
    assert_eq!([&a, &b].iter().filter(|r| r.is_ok()).count(), 1, "{a:?} {b:?}");
    let (won, lost) = if a.is_ok() { ("DEP-A", "DEP-B") } else { ("DEP-B", "DEP-A") };
    assert_eq!(w.wallets.get_deposit(client(), &no(won)).await.unwrap().status, DepositStatus::Held);
    // The loser was either refused before anything was written, or written and refused by the ledger.
    if let Ok(lost) = w.wallets.get_deposit(client(), &no(lost)).await {
        assert_eq!(lost.status, DepositStatus::Refused);
        assert_eq!(lost.reason.as_deref(), Some("insufficient_funds"));
        let release = w.wallets.release_deposit(client(), &no(&lost.order_number), &actor()).await.unwrap_err();
        assert_eq!(release.code(), "deposit_not_held");
    }
    assert_eq!(w.figures(renter).await, (8_000, 0, 8_000, 0));
    w.verify_clean().await;
});

on_both_backends!(captures_and_a_release_of_one_deposit_at_once_settle_it_once, |db| {
    let w = world(&db.store).await;
    let other = world(&db.open_another().await).await;
    let (renter, wallet) = w.member(1).await;
    let (_, shop) = w.member(2).await;
    w.fund(renter, wallet, 100_000, "F-1").await;
    let why = damage("door mirror");
    for round in 0..5 {
        let number = format!("DEP-R{round}");
        w.wallets.hold_deposit(&w.deposit(&number, renter, 10_000, shop), &actor()).await.unwrap();
        let (number, by) = (no(&number), actor());
        let (a, b, c) = tokio::join!(
            w.wallets.capture_deposit(client(), &number, 3_000, &why, &by),
            other.wallets.capture_deposit(client(), &number, 4_000, &why, &by),
            other.wallets.release_deposit(client(), &number, &by),
        );
        assert_eq!([&a, &b, &c].iter().filter(|r| r.is_ok()).count(), 1, "{a:?} {b:?} {c:?}");
        for refusal in [a, b, c].into_iter().filter_map(Result::err) {
            assert!(["deposit_captured", "deposit_released"].contains(&refusal.code()), "{refusal:?}");
        }
    }
    let (renter_balance, shop_balance) = (w.balance(wallet).await, w.balance(shop).await);
    assert_eq!(renter_balance + shop_balance, 100_000, "nothing made or lost");
    let mut captured = 0;
    for round in 0..5 {
        let deposit = w.wallets.get_deposit(client(), &no(&format!("DEP-R{round}"))).await.unwrap();
        assert!(matches!(deposit.status, DepositStatus::Captured | DepositStatus::Released), "{deposit:?}");
        captured += deposit.captured;
    }
    assert_eq!(shop_balance, captured, "the merchant has exactly what was captured");
    assert_eq!(w.figures(renter).await.2, 0, "nothing left frozen");
    assert_eq!(w.deposits_account().await, (0, 0));
    w.verify_clean().await;
});

#[test]
fn the_escrow_and_deposit_codes_are_listed_for_the_api() {
    let codes: Vec<&str> = wallet_codes().iter().map(|r| r.code).collect();
    for code in [
        "payment_not_escrowed",
        "escrow_released",
        "escrow_returned",
        "deposit_not_found",
        "deposit_not_held",
        "deposit_released",
        "deposit_captured",
        "deposit_beneficiary_invalid",
        "capture_exceeds_holds",
    ] {
        assert!(codes.contains(&code), "{code} is listed");
    }
}
