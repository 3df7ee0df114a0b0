//! The wallet's remaining flows on both backends: the canteen case (an enterprise funds its subsidies
//! and pays them to its employees, who spend subsidy money first, pass it to colleagues as subsidy
//! money, and cannot withdraw it), transfers between members within limits per transfer and per day
//! (concurrent ones included), refunding a recharge whose bonus was partly spent, and a member's
//! merged flow with its balances after each line. Every test ends with the ledger's verify checks
//! passing: money was only moved, never made or lost.

use sanhu_core::id::MemberId;
use sanhu_core::party::account_type::AccountTypeSpec;
use sanhu_core::party::{
    AccountType, AccountTypes, CustomerScope, LoginIdentity, MemberAccountStatus, PartyKind, PayPassword, PhoneNumber,
    Reason,
};
use sanhu_core::wallet::{FeePayer, FeeRule, RechargeTier, RechargeTiers, TransferLimits, WithdrawalPolicy};
use sanhu_core::{AccountId, Timestamp};
use sanhu_service::clock;
use sanhu_service::party::{PartyConfig, PayPasswordOwner, Registration};
use sanhu_service::wallet::{
    wallet_codes, Counterparty, FlowCursor, FlowDirection, FlowLine, FlowMovement, FlowQuery, MemberTransferRequest,
    MemberTransferStatus, PayPasswordRule, PayoutResult, PlatformAccount, RechargeRefundStatus, RechargeRequest,
    SubsidyCredit, SubsidyDistributionRequest, SubsidyFundingRequest, SubsidyStatus, WalletConfig, WithdrawalRequest,
};
use sanhu_store::{LedgerStore, Store};
use sanhu_testkit::money::cny;
use sanhu_testkit::on_both_backends;
use sanhu_testkit::world::{self, actor, client, no, World};

fn party_config() -> PartyConfig {
    PartyConfig { account_types: world::riders_account_types(), ..world::party_config() }
}

/// The free `test` channel and a tier "pay 100.00, get 10.00" valid now.
fn wallet_config() -> WalletConfig {
    world::with_bonus_tier(world::wallet_config())
}

async fn world_with(store: &Store, config: WalletConfig) -> World {
    world_with_parties(store, config, party_config()).await
}

async fn world_with_parties(store: &Store, config: WalletConfig, party_config: PartyConfig) -> World {
    World::new(store, party_config, config).await
}

async fn world(store: &Store) -> World {
    world_with(store, wallet_config()).await
}

fn subsidies(number: &str, enterprise: MemberId, credits: &[(MemberId, i64)]) -> SubsidyDistributionRequest {
    SubsidyDistributionRequest {
        client: client(),
        order_number: no(number),
        enterprise,
        credits: credits.iter().map(|&(member, amount)| SubsidyCredit { member, amount }).collect(),
    }
}

fn funding(number: &str, enterprise: MemberId, amount: i64) -> SubsidyFundingRequest {
    SubsidyFundingRequest { client: client(), order_number: no(number), enterprise, account: None, amount }
}

// ---------------------------------------------------------------------------------------------------
// The canteen

on_both_backends!(the_canteen_subsidy_is_funded_paid_spent_first_passed_on_as_subsidy_and_never_withdrawn, |db| {
    let w = world(&db.store).await;
    let (enterprise, enterprise_basic) = w.enterprise().await;
    let (alice, alice_basic) = w.member(1).await;
    let (bob, _) = w.member(2).await;
    let (_, canteen) = w.member(3).await;
    // The enterprise pays 1,000.00 into its wallet (and earns the tier's 10.00 of bonus).
    w.fund(enterprise, enterprise_basic, 100_000, "E-IN-1").await;

    // It funds 600.00 of subsidies from its basic account; once, however often asked.
    for _ in 0..2 {
        let funded = w.wallets.fund_subsidies(&funding("SF-1", enterprise, 60_000), &actor()).await.unwrap();
        assert_eq!(
            (funded.status, funded.account_id, funded.amount),
            (SubsidyStatus::Applied, enterprise_basic, 60_000)
        );
    }
    assert_eq!(w.balance(enterprise_basic).await, 40_000);
    let fund = w.wallets.subsidy_fund(enterprise).await.unwrap();
    assert_eq!((fund.funded, fund.distributed, fund.available()), (60_000, 0, 60_000));

    // November's subsidies: 300.00 to Alice, 200.00 to Bob, into subsidy accounts opened for them.
    let november = subsidies("SUB-2025-11", enterprise, &[(alice, 30_000), (bob, 20_000)]);
    let paid = w.wallets.distribute_subsidies(&november, &actor()).await.unwrap();
    assert_eq!((paid.status, paid.total, paid.grants.len()), (SubsidyStatus::Applied, 50_000, 2));
    let alice_subsidy = w.account_of(alice, "subsidy").await;
    let bob_subsidy = w.account_of(bob, "subsidy").await;
    assert_eq!(paid.grants[0].account_id, alice_subsidy);
    assert_eq!((w.balance(alice_subsidy).await, w.balance(bob_subsidy).await), (30_000, 20_000));
    // The same order number: the same distribution, paid once; with other credits: refused.
    let again = w.wallets.distribute_subsidies(&november, &actor()).await.unwrap();
    assert_eq!((again.id, again.status), (paid.id.clone(), SubsidyStatus::Applied));
    let changed = subsidies("SUB-2025-11", enterprise, &[(alice, 30_000), (bob, 20_001)]);
    assert_eq!(w.wallets.distribute_subsidies(&changed, &actor()).await.unwrap_err().code(), "order_number_reused");
    // The fund has 100.00 left, and the ledger's funding account agrees: credited 600.00, debited 500.00.
    assert_eq!(w.wallets.subsidy_fund(enterprise).await.unwrap().available(), 10_000);
    let funding_account = w.store.get_account(PlatformAccount::SubsidyFunding(enterprise).id(cny())).await.unwrap();
    let counters = funding_account.unwrap().counters;
    assert_eq!((counters.credits_posted, counters.debits_posted), (60_000, 50_000));
    let over = subsidies("SUB-2025-12", enterprise, &[(alice, 5_000), (bob, 5_001)]);
    assert_eq!(w.wallets.distribute_subsidies(&over, &actor()).await.unwrap_err().code(), "subsidy_fund_insufficient");
    // A round the fund cannot pay changes nothing: not even a new employee's subsidy account is opened.
    let (carol, _) = w.member(9).await;
    let beyond = subsidies("SUB-2025-12B", enterprise, &[(carol, 10_001)]);
    assert_eq!(
        w.wallets.distribute_subsidies(&beyond, &actor()).await.unwrap_err().code(),
        "subsidy_fund_insufficient"
    );
    let carols = w.wallets.load_wallet(carol).await.unwrap();
    assert!(carols.accounts().iter().all(|a| a.account_type().code().as_str() != "subsidy"));

    // Alice also recharged 50.00 of her own. Lunch of 120.00 is paid from subsidy money first.
    w.fund(alice, alice_basic, 5_000, "A-IN-1").await;
    let lunch = w.wallets.pay(&w.payment("LUNCH-1", alice, 12_000, canteen), &actor()).await.unwrap();
    let parts: Vec<(AccountId, i64)> = lunch.deductions.iter().map(|d| (d.account_id, d.amount)).collect();
    assert_eq!(parts, [(alice_subsidy, 12_000)]);

    // She sends Bob 200.00: her 180.00 of subsidy money lands in his subsidy account, 20.00 of her
    // recharged money in his basic account.
    let sent = w.wallets.transfer_to_member(&w.transfer("T-1", alice, bob, 20_000), &actor()).await.unwrap();
    assert_eq!(sent.status, MemberTransferStatus::Transferred);
    let bob_basic = w.account_of(bob, "basic").await;
    let parts: Vec<(&str, AccountId, i64)> =
        sent.parts.iter().map(|p| (p.account_type.as_str(), p.to_account, p.amount)).collect();
    assert_eq!(parts, [("subsidy", bob_subsidy, 18_000), ("basic", bob_basic, 2_000)]);
    assert_eq!((w.balance(alice_subsidy).await, w.balance(alice_basic).await), (0, 3_000));
    assert_eq!((w.balance(bob_subsidy).await, w.balance(bob_basic).await), (38_000, 2_000));

    // Subsidy money is not withdrawable: of Bob's 400.00 only the 20.00 of recharged money is.
    let view = w.wallets.wallet(bob).await.unwrap();
    assert_eq!((view.balance, view.withdrawable), (40_000, 2_000));
    assert_eq!(w.wallets.preview_withdrawal(bob, 2_001).await.unwrap_err().code(), "exceeds_withdrawable");
    assert_eq!(w.wallets.preview_withdrawal(bob, 2_000).await.unwrap().payout.get(), 2_000);

    // Refusals: a person is no enterprise; the enterprise's bonus is no money it paid in; credits
    // are each employee once; the enterprise pays no subsidy to itself.
    let personal = w.wallets.fund_subsidies(&funding("SF-P", alice, 100), &actor()).await.unwrap_err();
    assert_eq!(personal.code(), "subsidy_enterprise_only");
    let from_bonus = SubsidyFundingRequest {
        account: Some(w.account_of(enterprise, "bonus").await),
        ..funding("SF-B", enterprise, 100)
    };
    let refused = w.wallets.fund_subsidies(&from_bonus, &actor()).await.unwrap_err();
    assert_eq!(refused.code(), "subsidy_funding_source_invalid");
    let too_much = w.wallets.fund_subsidies(&funding("SF-2", enterprise, 40_001), &actor()).await.unwrap_err();
    assert_eq!(too_much.code(), "insufficient_funds");
    assert_eq!(w.wallets.subsidy_fund(enterprise).await.unwrap().funded, 60_000, "a refused funding adds nothing");
    let twice = subsidies("SUB-X", enterprise, &[(alice, 100), (alice, 100)]);
    assert_eq!(w.wallets.distribute_subsidies(&twice, &actor()).await.unwrap_err().code(), "subsidy_credits_invalid");
    let none = subsidies("SUB-Y", enterprise, &[]);
    assert_eq!(w.wallets.distribute_subsidies(&none, &actor()).await.unwrap_err().code(), "subsidy_credits_invalid");
    let itself = subsidies("SUB-Z", enterprise, &[(enterprise, 100)]);
    assert_eq!(w.wallets.distribute_subsidies(&itself, &actor()).await.unwrap_err().code(), "same_wallet");
    let zero = subsidies("SUB-0", enterprise, &[(alice, 0)]);
    assert_eq!(w.wallets.distribute_subsidies(&zero, &actor()).await.unwrap_err().code(), "invalid_amount");
    let stranger = MemberId::from_u128(404).unwrap();
    let unknown = subsidies("SUB-U", enterprise, &[(stranger, 100)]);
    assert_eq!(w.wallets.distribute_subsidies(&unknown, &actor()).await.unwrap_err().code(), "member_not_found");
    let missing = w.wallets.get_subsidy_distribution(client(), &no("SUB-404")).await.unwrap_err();
    assert_eq!(missing.code(), "order_not_found");
    w.verify_clean().await;
});

on_both_backends!(concurrent_distributions_never_pay_out_more_than_the_enterprise_funded, |db| {
    let w = world(&db.store).await;
    let second = world(&db.open_another().await).await;
    let (enterprise, basic) = w.enterprise().await;
    let (alice, _) = w.member(1).await;
    let (bob, _) = w.member(2).await;
    w.fund(enterprise, basic, 50_000, "E-IN-1").await;
    w.wallets.fund_subsidies(&funding("SF-1", enterprise, 30_000), &actor()).await.unwrap();
    // Two rounds of 200.00 at once, from two instances, against 300.00: one is paid, one refused.
    let first = subsidies("SUB-A", enterprise, &[(alice, 10_000), (bob, 10_000)]);
    let other = subsidies("SUB-B", enterprise, &[(alice, 10_000), (bob, 10_000)]);
    let who = actor();
    let (a, b) =
        tokio::join!(w.wallets.distribute_subsidies(&first, &who), second.wallets.distribute_subsidies(&other, &who));
    let results = [a, b];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    let refusal = results.iter().find_map(|r| r.as_ref().err()).unwrap();
    assert_eq!(refusal.code(), "subsidy_fund_insufficient");
    let fund = w.wallets.subsidy_fund(enterprise).await.unwrap();
    assert_eq!((fund.funded, fund.distributed), (30_000, 20_000));
    let view = (w.wallets.wallet(alice).await.unwrap().balance, w.wallets.wallet(bob).await.unwrap().balance);
    assert_eq!(view, (10_000, 10_000));
    // The rest can still be paid, and a further funding adds to the fund.
    w.wallets.distribute_subsidies(&subsidies("SUB-C", enterprise, &[(alice, 10_000)]), &actor()).await.unwrap();
    w.wallets.fund_subsidies(&funding("SF-2", enterprise, 5_000), &actor()).await.unwrap();
    let fund = w.wallets.subsidy_fund(enterprise).await.unwrap();
    assert_eq!((fund.funded, fund.distributed, fund.available()), (35_000, 30_000, 5_000));
    assert_eq!(w.platform_balance(PlatformAccount::SubsidyFunding(enterprise)).await, -5_000);
    w.verify_clean().await;
});

on_both_backends!(subsidies_are_refused_where_the_subsidy_type_is_configured_withdrawable, |db| {
    // A platform that made subsidy accounts withdrawable would let subsidy money out as cash.
    let types = AccountTypes::new(
        world::riders_account_types()
            .iter()
            .map(|t| {
                if t.code().as_str() == "subsidy" {
                    AccountType::configure(AccountTypeSpec { withdrawable: true, ..t.spec().clone() }).unwrap()
                } else {
                    t.clone()
                }
            })
            .collect(),
    )
    .unwrap();
    let w =
        world_with_parties(&db.store, wallet_config(), PartyConfig { account_types: types, ..party_config() }).await;
    let (enterprise, basic) = w.enterprise().await;
    let (alice, _) = w.member(1).await;
    w.fund(enterprise, basic, 5_000, "E-IN-1").await;
    w.wallets.fund_subsidies(&funding("SF-1", enterprise, 5_000), &actor()).await.unwrap();
    let refused = w.wallets.distribute_subsidies(&subsidies("SUB-1", enterprise, &[(alice, 100)]), &actor()).await;
    assert_eq!(refused.unwrap_err().code(), "subsidy_account_withdrawable");
    assert_eq!(w.wallets.subsidy_fund(enterprise).await.unwrap().available(), 5_000);
    w.verify_clean().await;
});

// ---------------------------------------------------------------------------------------------------
// Transfers between members

on_both_backends!(transfers_keep_within_the_per_transfer_and_daily_limits_even_when_concurrent, |db| {
    let config = WalletConfig {
        transfer_limits: TransferLimits::new(cny(), Some(50_000), Some(100_000)).unwrap(),
        ..wallet_config()
    };
    let w = world_with(&db.store, config.clone()).await;
    let second = world_with(&db.open_another().await, config).await;
    let (sender, basic) = w.member(1).await;
    let (receiver, receiver_basic) = w.member(2).await;
    w.fund(sender, basic, 300_000, "IN-1").await;

    let over = w.wallets.transfer_to_member(&w.transfer("T-0", sender, receiver, 50_001), &actor()).await;
    assert_eq!(over.unwrap_err().code(), "transfer_limit_exceeded");
    let first = w.wallets.transfer_to_member(&w.transfer("T-1", sender, receiver, 40_000), &actor()).await.unwrap();
    assert_eq!(first.status, MemberTransferStatus::Transferred);
    assert_eq!(w.wallets.sent_today(sender).await.unwrap(), 40_000);

    // Six transfers of 150.00 at once from two instances against the 600.00 left of the day's
    // 1,000.00: four go through, two are refused, and the day's total is exactly the limit.
    let attempts = (0..6).map(|i| {
        let wallets = if i % 2 == 0 { w.wallets.clone() } else { second.wallets.clone() };
        let request = w.transfer(&format!("T-C{i}"), sender, receiver, 15_000);
        async move { wallets.transfer_to_member(&request, &actor()).await }
    });
    let results = futures_util::future::join_all(attempts).await;
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 4, "{results:?}");
    assert!(results.iter().filter_map(|r| r.as_ref().err()).all(|e| e.code() == "daily_transfer_limit_exceeded"));
    assert_eq!(w.wallets.sent_today(sender).await.unwrap(), 100_000);
    assert_eq!(w.balance(receiver_basic).await, 100_000);
    assert_eq!(w.balance(basic).await, 200_000);
    let last = w.wallets.transfer_to_member(&w.transfer("T-9", sender, receiver, 1), &actor()).await;
    assert_eq!(last.unwrap_err().code(), "daily_transfer_limit_exceeded");
    // A repeated order number answers the transfer as it is and moves nothing more.
    let again = w.wallets.transfer_to_member(&w.transfer("T-1", sender, receiver, 40_000), &actor()).await.unwrap();
    assert_eq!((again.id, again.status), (first.id, MemberTransferStatus::Transferred));
    assert_eq!(w.balance(receiver_basic).await, 100_000);
    // The receiver's own limit is untouched.
    assert_eq!(w.wallets.sent_today(receiver).await.unwrap(), 0);
    w.verify_clean().await;
});

on_both_backends!(every_refused_transfer_has_its_code_and_moves_nothing, |db| {
    let w = world(&db.store).await;
    let (sender, basic) = w.member(1).await;
    let (receiver, receiver_basic) = w.member(2).await;
    // 100.00 recharged earns 10.00 of bonus, which never moves between members.
    w.fund(sender, basic, 10_000, "IN-1").await;
    let send = |n: &str, to: MemberId, amount: i64| w.transfer(n, sender, to, amount);
    let code = |r: Result<_, sanhu_service::wallet::WalletFailure>| r.unwrap_err().code();

    assert_eq!(
        code(w.wallets.transfer_to_member(&send("T-1", receiver, 10_001), &actor()).await),
        "insufficient_funds"
    );
    assert_eq!(code(w.wallets.transfer_to_member(&send("T-2", receiver, 0), &actor()).await), "invalid_amount");
    assert_eq!(code(w.wallets.transfer_to_member(&send("T-3", sender, 100), &actor()).await), "same_wallet");
    let stranger = MemberId::from_u128(404).unwrap();
    assert_eq!(code(w.wallets.transfer_to_member(&send("T-4", stranger, 100), &actor()).await), "member_not_found");
    // Once the recharged money is sent, only bonus money is left, and it never moves between members.
    w.wallets.transfer_to_member(&send("T-5", receiver, 10_000), &actor()).await.unwrap();
    assert_eq!(code(w.wallets.transfer_to_member(&send("T-6", receiver, 100), &actor()).await), "insufficient_funds");
    // A frozen account takes no money in: with the sender's basic account frozen, the receiver's
    // recharged money has nowhere of its kind to land, and the refusal says why.
    let frozen = MemberAccountStatus::Frozen;
    let why = Reason::parse("suspected fraud").unwrap();
    w.parties.change_account_status(basic, frozen, &actor(), &why).await.unwrap();
    let back = w.transfer("T-8", receiver, sender, 100);
    assert_eq!(code(w.wallets.transfer_to_member(&back, &actor()).await), "account_frozen");
    // An inactive member receives nothing.
    let registration = Registration {
        kind: PartyKind::Personal,
        scope: CustomerScope::External,
        identity: LoginIdentity::Phone(PhoneNumber::parse("13700000099").unwrap()),
    };
    let inactive = w.parties.register_member(&registration, &actor()).await.unwrap().member.member.id();
    let back = w.transfer("T-7", receiver, inactive, 100);
    assert_eq!(code(w.wallets.transfer_to_member(&back, &actor()).await), "member_not_active");
    // The order number is the caller's: the same with other details is refused.
    assert_eq!(
        code(w.wallets.transfer_to_member(&send("T-5", receiver, 9_999), &actor()).await),
        "order_number_reused"
    );
    assert_eq!(code(w.wallets.get_member_transfer(client(), &no("T-404")).await), "order_not_found");
    assert_eq!((w.balance(basic).await, w.balance(receiver_basic).await), (0, 10_000));
    w.verify_clean().await;
});

on_both_backends!(a_transfer_needs_the_pay_password_when_the_platform_requires_it, |db| {
    let config = WalletConfig { pay_password: PayPasswordRule::Required, ..wallet_config() };
    let w = world_with(&db.store, config).await;
    let (sender, basic) = w.member(1).await;
    let (receiver, receiver_basic) = w.member(2).await;
    w.fund(sender, basic, 5_000, "IN-1").await;
    let password = PayPassword::parse("135790").unwrap();
    w.parties.set_pay_password(PayPasswordOwner::Member(sender), &password, &actor()).await.unwrap();
    let none = w.wallets.transfer_to_member(&w.transfer("T-1", sender, receiver, 100), &actor()).await;
    assert_eq!(none.unwrap_err().code(), "pay_password_required");
    let wrong =
        MemberTransferRequest { pay_password: Some("111222".into()), ..w.transfer("T-1", sender, receiver, 100) };
    assert_eq!(w.wallets.transfer_to_member(&wrong, &actor()).await.unwrap_err().code(), "pay_password_incorrect");
    let right =
        MemberTransferRequest { pay_password: Some("135790".into()), ..w.transfer("T-1", sender, receiver, 100) };
    assert_eq!(w.wallets.transfer_to_member(&right, &actor()).await.unwrap().status, MemberTransferStatus::Transferred);
    assert_eq!(w.balance(receiver_basic).await, 100);
    w.verify_clean().await;
});

// ---------------------------------------------------------------------------------------------------
// Recharge refunds

on_both_backends!(refunding_a_recharge_takes_back_its_unspent_bonus_and_deducts_the_spent_part, |db| {
    let w = world(&db.store).await;
    let (m, basic) = w.member(1).await;
    let (_, shop) = w.member(2).await;
    // 100.00 recharged earns 10.00 of bonus; a 6.00 purchase spends bonus first (bonus before basic).
    w.fund(m, basic, 10_000, "R-1").await;
    let bonus = w.account_of(m, "bonus").await;
    w.wallets.pay(&w.payment("P-1", m, 600, shop), &actor()).await.unwrap();
    assert_eq!((w.balance(basic).await, w.balance(bonus).await), (10_000, 400));
    let clearing = PlatformAccount::Clearing("test".into());
    assert_eq!(w.platform_balance(clearing.clone()).await, 10_000);

    // Refunding 50.00 forfeits half the bonus, 5.00: the 4.00 unspent is taken back, the 1.00 spent
    // is deducted, and 49.00 goes back through the channel.
    let half = w.wallets.refund_recharge(client(), &no("R-1"), &no("RF-1"), 5_000, &actor()).await.unwrap();
    assert_eq!(half.status, RechargeRefundStatus::Succeeded);
    assert_eq!((half.payout, half.bonus_taken_back, half.bonus_deducted), (4_900, 400, 100));
    assert_eq!((w.balance(basic).await, w.balance(bonus).await), (5_000, 0));
    assert_eq!(w.platform_balance(clearing.clone()).await, 5_100);
    assert_eq!(w.platform_balance(PlatformAccount::MarketingExpense).await, 500);
    // The same refund number: the same refund, once; with another amount: refused.
    let again = w.wallets.refund_recharge(client(), &no("R-1"), &no("RF-1"), 5_000, &actor()).await.unwrap();
    assert_eq!(again, half);
    let reused = w.wallets.refund_recharge(client(), &no("R-1"), &no("RF-1"), 4_000, &actor()).await.unwrap_err();
    assert_eq!(reused.code(), "refund_number_reused");

    // The other 50.00 forfeits the other 5.00, all of it spent: 45.00 goes back. The member paid
    // 100.00, bought 6.00 of goods and got 94.00 back: the bonus bought nothing, and marketing is even.
    let rest = w.wallets.refund_recharge(client(), &no("R-1"), &no("RF-2"), 5_000, &actor()).await.unwrap();
    assert_eq!((rest.payout, rest.bonus_taken_back, rest.bonus_deducted), (4_500, 0, 500));
    assert_eq!((w.balance(basic).await, w.balance(bonus).await), (0, 0));
    assert_eq!(w.platform_balance(clearing).await, 600);
    assert_eq!(w.platform_balance(PlatformAccount::MarketingExpense).await, 0);
    let order = w.wallets.get_recharge(client(), &no("R-1")).await.unwrap();
    assert_eq!(order.refunds.iter().map(|r| r.payout).sum::<i64>(), 9_400);
    let over = w.wallets.refund_recharge(client(), &no("R-1"), &no("RF-3"), 1, &actor()).await.unwrap_err();
    assert_eq!(over.code(), "refund_exceeds_recharge");
    w.verify_clean().await;
});

on_both_backends!(a_recharge_refund_is_refused_beyond_what_the_order_credited_or_before_it_is_credited, |db| {
    let w = world(&db.store).await;
    let second = world(&db.open_another().await).await;
    let (m, basic) = w.member(1).await;
    w.fund(m, basic, 8_000, "R-1").await;
    // Two refunds of 50.00 at once against the 80.00 credited: one succeeds.
    let (who, order, refund_a, refund_b) = (actor(), no("R-1"), no("RF-A"), no("RF-B"));
    let (a, b) = tokio::join!(
        w.wallets.refund_recharge(client(), &order, &refund_a, 5_000, &who),
        second.wallets.refund_recharge(client(), &order, &refund_b, 5_000, &who)
    );
    let results = [a, b];
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 1);
    assert_eq!(results.iter().find_map(|r| r.as_ref().err()).unwrap().code(), "refund_exceeds_recharge");
    assert_eq!(w.balance(basic).await, 3_000);

    // A pending order is not refundable; nor an unknown one.
    let request = RechargeRequest {
        client: client(),
        order_number: no("R-2"),
        member: m,
        account: None,
        amount: 2_000,
        channel: "test".into(),
    };
    w.wallets.create_recharge(&request, &actor()).await.unwrap();
    let pending = w.wallets.refund_recharge(client(), &no("R-2"), &no("RF-C"), 100, &actor()).await.unwrap_err();
    assert_eq!(pending.code(), "recharge_not_refundable");
    let unknown = w.wallets.refund_recharge(client(), &no("R-404"), &no("RF-D"), 100, &actor()).await.unwrap_err();
    assert_eq!(unknown.code(), "order_not_found");
    let zero = w.wallets.refund_recharge(client(), &no("R-1"), &no("RF-E"), 0, &actor()).await.unwrap_err();
    assert_eq!(zero.code(), "invalid_amount");

    // Recharged money already spent cannot be refunded: the ledger refuses, the refund is failed and
    // no longer counts, and nothing moved.
    let (_, shop) = w.member(2).await;
    w.wallets.pay(&w.payment("P-1", m, 2_500, shop), &actor()).await.unwrap();
    let spent = w.wallets.refund_recharge(client(), &no("R-1"), &no("RF-F"), 3_000, &actor()).await.unwrap_err();
    assert_eq!(spent.code(), "insufficient_funds");
    let order = w.wallets.get_recharge(client(), &no("R-1")).await.unwrap();
    let failed = order.refunds.iter().find(|r| r.refund_number == "RF-F").unwrap();
    assert_eq!((failed.status, failed.reason.as_deref()), (RechargeRefundStatus::Failed, Some("insufficient_funds")));
    assert_eq!(w.balance(basic).await, 500);
    w.wallets.refund_recharge(client(), &no("R-1"), &no("RF-G"), 500, &actor()).await.unwrap();
    assert_eq!(w.balance(basic).await, 0);
    w.verify_clean().await;
});

on_both_backends!(a_recharge_that_repaid_debt_refunds_only_what_it_credited, |db| {
    let w = world(&db.store).await;
    let (rider, basic) = w.member(1).await;
    let settlement = w.open(rider, "settlement").await;
    let (_, shop) = w.member(2).await;
    // The rider collected 30.00 in cash: the settlement account goes 30.00 into debt.
    w.wallets.pay(&w.payment("CASH-1", rider, 3_000, shop), &actor()).await.unwrap();
    assert_eq!(w.balance(settlement).await, -3_000);
    // A recharge of 50.00 repays the 30.00 first and credits 20.00: only those 20.00 can go back.
    w.fund(rider, basic, 5_000, "R-1").await;
    let order = w.wallets.get_recharge(client(), &no("R-1")).await.unwrap();
    assert_eq!((order.repaid, order.credited), (3_000, 2_000));
    let over = w.wallets.refund_recharge(client(), &no("R-1"), &no("RF-1"), 2_001, &actor()).await.unwrap_err();
    assert_eq!(over.code(), "refund_exceeds_recharge");
    let refund = w.wallets.refund_recharge(client(), &no("R-1"), &no("RF-2"), 2_000, &actor()).await.unwrap();
    assert_eq!((refund.payout, refund.bonus_taken_back, refund.bonus_deducted), (2_000, 0, 0));
    assert_eq!((w.balance(basic).await, w.balance(settlement).await), (0, 0));
    assert_eq!(w.platform_balance(PlatformAccount::Clearing("test".into())).await, 3_000);
    w.verify_clean().await;
});

on_both_backends!(a_refund_the_spent_bonus_outweighs_is_refused_and_moves_nothing, |db| {
    // A generous promotion: pay 10.00, get 20.00.
    let mut config = wallet_config();
    let now = clock::now();
    let starts = Timestamp::from_nanos(now.nanos() - 3_600_000_000_000);
    let tier = RechargeTier::new(1_000, 2_000, starts, now.add_seconds(86_400).unwrap()).unwrap();
    config.recharge_tiers = RechargeTiers::new(cny(), vec![tier]);
    let w = world_with(&db.store, config).await;
    let (m, basic) = w.member(1).await;
    let (_, shop) = w.member(2).await;
    w.fund(m, basic, 1_000, "R-1").await;
    // The 20.00 of bonus is spent; the 10.00 recharged is still there.
    w.wallets.pay(&w.payment("P-1", m, 2_000, shop), &actor()).await.unwrap();
    assert_eq!(w.balance(basic).await, 1_000);
    // Refunding 1.00 forfeits 2.00 of spent bonus, more than the refund: refused, and so is all of it.
    for (refund, amount) in [("RF-1", 100), ("RF-2", 1_000)] {
        let refused = w.wallets.refund_recharge(client(), &no("R-1"), &no(refund), amount, &actor()).await;
        assert_eq!(refused.unwrap_err().code(), "bonus_spent_exceeds_refund");
    }
    assert_eq!(w.balance(basic).await, 1_000);
    assert!(w.wallets.get_recharge(client(), &no("R-1")).await.unwrap().refunds.is_empty());
    w.verify_clean().await;
});

// ---------------------------------------------------------------------------------------------------
// The merged flow

fn summary(line: &FlowLine) -> (&str, &str, FlowMovement, FlowDirection, i64, i64, i64) {
    (
        line.account_type.as_str(),
        line.business_type.as_str(),
        line.movement,
        line.direction,
        line.amount,
        line.fee,
        line.balance_after,
    )
}

on_both_backends!(the_flow_lists_every_accounts_lines_newest_first_with_balances_after_and_pages, |db| {
    let mut config = wallet_config();
    config.withdrawal = WithdrawalPolicy::new(cny(), 100, FeeRule::fixed(200).unwrap(), FeePayer::Member).unwrap();
    let w = world_with(&db.store, config).await;
    let (m, basic) = w.member(1).await;
    let (friend, friend_basic) = w.member(2).await;
    let (shop_member, shop) = w.member(3).await;
    w.fund(m, basic, 10_000, "R-1").await; // 100.00 in, 10.00 of bonus
    w.wallets.pay(&w.payment("P-1", m, 1_500, shop), &actor()).await.unwrap(); // bonus 10.00, basic 5.00
    w.wallets.transfer_to_member(&w.transfer("T-1", m, friend, 2_000), &actor()).await.unwrap();
    let card = w.card(m).await;
    let request = WithdrawalRequest {
        client: client(),
        order_number: no("W-1"),
        member: m,
        amount: 3_000,
        card,
        pay_password: None,
        operator: None,
    };
    w.wallets.withdraw(&request, &actor()).await.unwrap(); // frozen, the 2.00 fee out of it
    w.wallets.payout_result(client(), &no("W-1"), PayoutResult::Succeeded, &actor()).await.unwrap();

    let all = w.wallets.wallet_flow(m, &FlowQuery { account: None, after: None, limit: 100 }).await.unwrap();
    assert_eq!(all.next, None);
    let lines: Vec<_> = all.lines.iter().map(summary).collect();
    use FlowDirection::{In, Out};
    use FlowMovement::{Frozen, FrozenPosted, Posted};
    assert_eq!(
        lines,
        [
            ("basic", "withdraw", FrozenPosted, Out, 3_000, 200, 4_500),
            ("basic", "withdraw", Frozen, Out, 3_000, 200, 7_500),
            ("basic", "member_transfer", Posted, Out, 2_000, 0, 7_500),
            ("basic", "pay", Posted, Out, 500, 0, 9_500),
            ("bonus", "pay", Posted, Out, 1_000, 0, 0),
            ("bonus", "recharge_bonus", Posted, In, 1_000, 0, 1_000),
            ("basic", "recharge", Posted, In, 10_000, 0, 10_000),
        ]
    );
    // Available balances after: the freeze set 30.00 aside until the payout.
    let available: Vec<i64> = all.lines.iter().map(|l| l.available_after).collect();
    assert_eq!(available, [4_500, 4_500, 7_500, 9_500, 0, 1_000, 10_000]);
    // Counterparties: the platform's accounts by name, other members by id; references are the orders'.
    let bonus = w.account_of(m, "bonus").await;
    let counterparty = |i: usize| all.lines[i].counterparty.clone();
    let platform = |name: &str, which: PlatformAccount| Counterparty::Platform {
        name: name.to_owned(),
        account_id: which.id(cny()),
    };
    assert_eq!(counterparty(0), platform("withdrawals_in_transit", PlatformAccount::WithdrawalsInTransit));
    assert_eq!(counterparty(2), Counterparty::Member { member_id: friend, account_id: friend_basic });
    assert_eq!(counterparty(3), Counterparty::Member { member_id: shop_member, account_id: shop });
    assert_eq!(counterparty(5), platform("marketing_expense", PlatformAccount::MarketingExpense));
    assert_eq!(counterparty(6), platform("channel:test", PlatformAccount::Clearing("test".into())));
    assert_eq!(all.lines[4].account_id, bonus);
    let references: Vec<&str> = all.lines.iter().map(|l| l.reference.as_deref().unwrap()).collect();
    assert_eq!(references, ["W-1", "W-1", "T-1", "P-1", "P-1", "R-1", "R-1"]);
    // The two lines of one payment are one instant apart at most, ordered by time then account.
    assert!(all.lines.windows(2).all(|p| (p[0].timestamp, p[0].account_id) > (p[1].timestamp, p[1].account_id)));

    // Pages of 3 read the same lines, each once, through the cursor's text form.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = w.wallets.wallet_flow(m, &FlowQuery { account: None, after, limit: 3 }).await.unwrap();
        assert!(page.lines.len() <= 3);
        paged.extend(page.lines);
        match page.next {
            Some(cursor) => after = Some(FlowCursor::parse(&cursor.to_string()).unwrap()),
            None => break,
        }
    }
    assert_eq!(paged, all.lines);

    // The friend's flow: one line in, from m.
    let theirs = w.wallets.wallet_flow(friend, &FlowQuery { account: None, after: None, limit: 10 }).await.unwrap();
    assert_eq!(
        theirs.lines.iter().map(summary).collect::<Vec<_>>(),
        [("basic", "member_transfer", Posted, In, 2_000, 0, 2_000)]
    );
    assert_eq!(theirs.lines[0].counterparty, Counterparty::Member { member_id: m, account_id: basic });

    // Refusals: page sizes, cursors, members.
    for limit in [0, 101] {
        let refused = w.wallets.wallet_flow(m, &FlowQuery { account: None, after: None, limit }).await.unwrap_err();
        assert_eq!(refused.code(), "flow_limit_invalid");
    }
    for text in ["", "12", "x.acc_1", "12.mem_1"] {
        assert_eq!(FlowCursor::parse(text).unwrap_err().code(), "flow_cursor_invalid");
    }
    let stranger = MemberId::from_u128(404).unwrap();
    let unknown =
        w.wallets.wallet_flow(stranger, &FlowQuery { account: None, after: None, limit: 10 }).await.unwrap_err();
    assert_eq!(unknown.code(), "member_not_found");
    w.verify_clean().await;
});

on_both_backends!(a_long_flow_of_many_lines_in_a_moment_pages_back_in_order, |db| {
    let w = world(&db.store).await;
    let (m, basic) = w.member(1).await;
    let (_, shop) = w.member(2).await;
    w.fund(m, basic, 9_000, "R-1").await;
    for i in 0..40 {
        w.wallets.pay(&w.payment(&format!("P-{i}"), m, 100 + i, shop), &actor()).await.unwrap();
    }
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = w.wallets.wallet_flow(m, &FlowQuery { account: None, after, limit: 7 }).await.unwrap();
        paged.extend(page.lines);
        match page.next {
            Some(cursor) => after = Some(cursor),
            None => break,
        }
    }
    assert_eq!(paged.len(), 41);
    let amounts: Vec<i64> = paged.iter().map(|l| l.amount).collect();
    let expected: Vec<i64> = (0..40).rev().map(|i| 100 + i).chain([9_000]).collect();
    assert_eq!(amounts, expected);
    // Each line's balance after is the one before it less what it paid.
    for pair in paged.windows(2) {
        assert_eq!(pair[1].balance_after - pair[0].amount, pair[0].balance_after);
    }
    assert_eq!(paged[0].balance_after, w.balance(basic).await);
    w.verify_clean().await;
});

// ---------------------------------------------------------------------------------------------------
// The codes

on_both_backends!(the_new_refusals_are_listed_among_the_wallets_codes, |db| {
    let w = world(&db.store).await;
    let codes: Vec<&str> = wallet_codes().iter().map(|c| c.code).collect();
    for expected in [
        "recharge_not_refundable",
        "subsidy_enterprise_only",
        "subsidy_funding_source_invalid",
        "subsidy_fund_insufficient",
        "subsidy_credits_invalid",
        "subsidy_account_withdrawable",
        "flow_limit_invalid",
        "flow_cursor_invalid",
        "transfer_not_allowed",
        "daily_transfer_limit_exceeded",
        "bonus_spent_exceeds_refund",
    ] {
        assert!(codes.contains(&expected), "{expected}");
    }
    w.verify_clean().await;
});
