//! Fixtures shared by the wallet tests, and the checks that span every file: the codes, and the
//! articles' stories end to end through the ledger's own state machine.

use super::*;
use crate::ledger::{Account, AccountFlags, BalanceLimit, Counters, NormalSide};
use crate::party::AccountTypes;
use crate::{AccountId, Amount, Currency, Timestamp, TransferId};

const SECOND: i64 = 1_000_000_000;

/// `seconds` after the tests' epoch.
pub(crate) fn at(seconds: i64) -> Timestamp {
    Timestamp(1_763_784_000 * SECOND + seconds * SECOND)
}

pub(crate) fn cny() -> Currency {
    Currency::parse("CNY").unwrap()
}

pub(crate) fn acc(n: u128) -> AccountId {
    AccountId::from_u128(n).unwrap()
}

pub(crate) fn tr(n: u128) -> TransferId {
    TransferId::from_u128(n).unwrap()
}

pub(crate) fn money(n: i64) -> Amount {
    Amount::new(n).unwrap()
}

/// Transfer ids from `first` up.
pub(crate) fn ids(first: u128) -> impl FnMut() -> TransferId {
    let mut next = first;
    move || {
        next += 1;
        tr(next - 1)
    }
}

/// The articles' account types (basic, settlement, margin, bonus, subsidy) in CNY.
pub(crate) fn types() -> AccountTypes {
    AccountTypes::default_set(cny())
}

/// A member's CNY account of type `code` with a posted `balance` (negative: in debt), nothing pending.
pub(crate) fn account(id: u128, code: &str, balance: i64) -> Account {
    let counters = if balance >= 0 {
        Counters { credits_posted: balance, ..Counters::default() }
    } else {
        Counters { debits_posted: -balance, ..Counters::default() }
    };
    Account {
        id: acc(id),
        currency: cny(),
        normal_side: NormalSide::Credit,
        limit: BalanceLimit::Floor(0),
        flags: AccountFlags::default(),
        counters,
        code: code.to_owned(),
        metadata: "{}".to_owned(),
        created_at: at(0),
        last_transfer_at: at(0),
    }
}

/// `account` with `amount` of it frozen by a pending debit.
pub(crate) fn held(mut account: Account, amount: i64) -> Account {
    account.counters.debits_pending += amount;
    account
}

pub(crate) fn with_flags(mut account: Account, set: impl FnOnce(&mut AccountFlags)) -> Account {
    set(&mut account.flags);
    account
}

/// A CNY wallet of `accounts`, each of the default type its code names.
pub(crate) fn wallet(accounts: Vec<Account>) -> Wallet {
    Wallet::from_ledger(cny(), accounts, &types()).unwrap()
}

/// Free withdrawals with a minimum of `minimum` fen.
pub(crate) fn policy(minimum: i64) -> WithdrawalPolicy {
    WithdrawalPolicy::new(cny(), minimum, FeeRule::Free, FeePayer::Member).unwrap()
}

#[test]
fn every_wallet_code_is_snake_case_and_unique() {
    let mut seen = std::collections::HashSet::new();
    for e in WalletError::ALL {
        let code = e.code();
        let snake = code.starts_with(|c: char| c.is_ascii_lowercase())
            && code.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && !code.ends_with('_')
            && !code.contains("__");
        assert!(snake, "{code}");
        assert!(seen.insert(code), "{code} twice");
        assert!(!e.message().is_empty(), "{code}");
    }
}

#[test]
fn the_issues_named_codes_exist() {
    let named = [
        WalletError::BelowMinimumWithdrawal,
        WalletError::NotWithdrawable,
        WalletError::InsufficientFunds,
        WalletError::ExceedsWithdrawable,
        WalletError::InvalidAmount,
        WalletError::RefundExceedsPayment,
        WalletError::TransferLimitExceeded,
        WalletError::DailyTransferLimitExceeded,
        WalletError::CurrencyMismatch,
    ]
    .map(WalletError::code);
    assert_eq!(
        named,
        [
            "below_minimum_withdrawal",
            "not_withdrawable",
            "insufficient_funds",
            "exceeds_withdrawable",
            "invalid_amount",
            "refund_exceeds_payment",
            "transfer_limit_exceeded",
            "daily_transfer_limit_exceeded",
            "currency_mismatch",
        ]
    );
}

/// The wallet's plans are applied by the ledger's own state machine here, so that a plan the ledger
/// would refuse (a chain left open, an account overdrawn) fails a test rather than a customer.
mod through_the_ledger {
    use super::*;
    use crate::ledger::{apply_batch, check_submission, LedgerState, TransferRequest};

    fn platform(id: u128) -> Account {
        Account {
            normal_side: NormalSide::Debit,
            limit: BalanceLimit::Unlimited,
            code: "platform".to_owned(),
            ..account(id, "", 0)
        }
    }

    fn ledger(accounts: &[Account]) -> LedgerState {
        let mut state = LedgerState::default();
        for a in accounts {
            state.accounts.insert(a.id, a.clone());
        }
        state
    }

    /// Applies `requests` and answers whether all succeeded, with the accounts after.
    fn apply(state: &mut LedgerState, requests: &[TransferRequest], seconds: i64) -> bool {
        assert!(check_submission(requests).is_none(), "the chain closes");
        let outcome = apply_batch(state, requests, at(seconds));
        outcome.results.iter().all(Result::is_ok)
    }

    fn wallet_of(state: &LedgerState, ids: &[u128]) -> Wallet {
        wallet(ids.iter().map(|id| state.accounts[&acc(*id)].clone()).collect())
    }

    #[test]
    fn the_articles_withdrawal_leaves_the_accounts_as_the_table_says() {
        let accounts =
            [account(1, "settlement", 150), account(2, "settlement", 1000), account(3, "settlement", 80), platform(90)];
        let mut state = ledger(&accounts);
        let w = wallet_of(&state, &[1, 2, 3]);
        let preview = preview_withdrawal(&w, &policy(100), &AccountOrder::by_type_priority(), 800).unwrap();
        let requests = preview.transfers(
            &WithdrawalAccounts { clearing: acc(90), fee: acc(91) },
            Settlement::Immediate,
            &TransferMeta::new(Some("w-1".into())),
            &mut ids(1),
        );
        assert!(apply(&mut state, &requests, 1));
        let after = wallet_of(&state, &[1, 2, 3]).view(&policy(100)).unwrap();
        let balances: Vec<i64> = after.parts.iter().map(|p| p.balance).collect();
        assert_eq!(balances, [0, 350, 80]);
        assert_eq!((after.balance, after.withdrawable), (430, 350));
    }

    #[test]
    fn a_payment_then_two_refunds_return_every_fen_to_where_it_came_from() {
        let accounts = [account(1, "basic", 5000), account(2, "subsidy", 1200), account(50, "basic", 0)];
        let mut state = ledger(&accounts);
        let w = wallet_of(&state, &[1, 2]);
        let plan = plan_payment(&w, &AccountOrder::by_type_priority(), 1500, Shortfall::Refuse).unwrap();
        assert!(apply(&mut state, &plan.transfers(acc(50), &TransferMeta::new(None), &mut ids(1)), 1));
        assert_eq!(wallet_of(&state, &[1, 2]).view(&policy(0)).unwrap().balance, 4700);

        let first = plan_refund(&plan.deductions, &[], 400).unwrap();
        assert!(apply(&mut state, &first.transfers(acc(50), &TransferMeta::new(None), &mut ids(10)), 2));
        let second = plan_refund(&plan.deductions, &first.returns, 1100).unwrap();
        assert!(apply(&mut state, &second.transfers(acc(50), &TransferMeta::new(None), &mut ids(20)), 3));
        let balances: Vec<i64> = [1, 2, 50].iter().map(|id| state.accounts[&acc(*id)].balance()).collect();
        assert_eq!(balances, [5000, 1200, 0]);
    }

    #[test]
    fn an_authorised_payment_captured_in_part_leaves_the_rest_available() {
        let accounts = [account(1, "basic", 5000), account(2, "subsidy", 1200), account(50, "basic", 0)];
        let mut state = ledger(&accounts);
        let w = wallet_of(&state, &[1, 2]);
        let plan = plan_payment(&w, &AccountOrder::by_type_priority(), 1500, Shortfall::Refuse).unwrap();
        let auth = plan.authorise(acc(50), 600, &TransferMeta::new(None), &mut ids(1)).unwrap();
        assert!(apply(&mut state, &auth.requests, 1));
        let frozen = wallet_of(&state, &[1, 2]).view(&policy(0)).unwrap();
        assert_eq!((frozen.balance, frozen.frozen, frozen.available), (6200, 1500, 4700));

        let capture = plan_capture(&auth.holds, 1300, &TransferMeta::new(None), &mut ids(10)).unwrap();
        assert!(apply(&mut state, &capture.requests, 2));
        let after = wallet_of(&state, &[1, 2]).view(&policy(0)).unwrap();
        assert_eq!((after.balance, after.frozen, after.available), (4900, 0, 4900));
        assert_eq!(state.accounts[&acc(50)].balance(), 1300);
    }

    #[test]
    fn a_member_transfer_lands_each_kind_of_money_in_its_own_account() {
        let accounts = [
            account(1, "basic", 3000),
            account(2, "subsidy", 1000),
            account(11, "basic", 0),
            account(12, "subsidy", 0),
        ];
        let mut state = ledger(&accounts);
        let plan = plan_member_transfer(
            &wallet_of(&state, &[1, 2]),
            &wallet_of(&state, &[11, 12]),
            &AccountOrder::by_type_priority(),
            2500,
            &TransferLimits::unlimited(cny()),
            0,
        )
        .unwrap();
        assert!(apply(&mut state, &plan.transfers(&TransferMeta::new(None), &mut ids(1)), 1));
        let balances: Vec<i64> = [1, 2, 11, 12].iter().map(|id| state.accounts[&acc(*id)].balance()).collect();
        assert_eq!(balances, [1500, 0, 1500, 1000]);
    }

    #[test]
    fn a_recharge_repays_the_riders_debt_and_grants_the_tiers_bonus() {
        let mut rider = account(1, "settlement", -3000);
        rider.limit = BalanceLimit::Floor(5000);
        let accounts = [rider, account(2, "bonus", 0), platform(90), platform(91)];
        let mut state = ledger(&accounts);
        let tiers = RechargeTiers::new(cny(), vec![RechargeTier::new(10_000, 1000, at(0), at(86_400)).unwrap()]);
        let w = wallet_of(&state, &[1, 2]);
        let plan = plan_recharge(&w, acc(1), 10_000, &tiers, at(5), Some(acc(2))).unwrap();
        assert!(apply(&mut state, &plan.transfers(acc(90), acc(91), &TransferMeta::new(None), &mut ids(1)), 5));
        let view = wallet_of(&state, &[1, 2]).view(&policy(0)).unwrap();
        assert_eq!((view.balance, view.debt, view.withdrawable), (8000, 0, 7000));
    }
}
