//! Debt repayment (还款): an account below zero (allowed down to its type's overdraft limit: a rider's
//! settlement account after cash orders, an ETC wallet after tolls) is repaid first by a recharge, and
//! only what is left adds to the balance.
//!
//! A recharge into an account repays that account's debt first; what remains then repays the
//! wallet's other indebted accounts, in the wallet's order, and the rest is credit. Debt is the posted
//! balance below zero: money held by a pending debit is not owed until it posts.

use super::arith::{positive, take};
use super::order::{AccountOrder, NeverDrawn};
use super::payment::Deduction;
use super::view::Wallet;
use super::WalletError;
use crate::{AccountId, Amount};

/// A recharge split into repayments and credit.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Repayment {
    /// Each indebted account and what it is repaid, the recharged account first.
    pub repayments: Vec<Deduction>,
    /// What the recharged account gains beyond repaying debt; zero when the recharge only repays.
    pub credit: i64,
}

impl Repayment {
    pub fn repaid(&self) -> i64 {
        self.repayments.iter().map(|r| r.amount.get()).sum()
    }
}

/// Splits a recharge of `amount` into `target` into repayment and credit.
pub fn plan_repayment(wallet: &Wallet, target: AccountId, amount: i64) -> Result<Repayment, WalletError> {
    let amount = positive(amount)?;
    let target_account = wallet.get(target).ok_or(WalletError::AccountNotInWallet)?;
    let others = AccountOrder::by_type_priority().arrange(wallet, NeverDrawn::Last);
    let indebted =
        std::iter::once(target_account).chain(others.into_iter().filter(|a| a.id() != target && a.can_receive()));
    let mut left = amount.get();
    let mut repayments = Vec::new();
    for account in indebted {
        if let Some(repaid) = Amount::new(take(left, account.debt()?)) {
            repayments.push(Deduction { account_id: account.id(), amount: repaid });
            left -= repaid.get();
        }
    }
    Ok(Repayment { repayments, credit: left })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::BalanceLimit;
    use crate::wallet::tests::{acc, account, held, wallet, with_flags};

    fn in_debt(id: u128, code: &str, balance: i64) -> crate::ledger::Account {
        let mut a = account(id, code, balance);
        a.limit = BalanceLimit::Floor(10_000);
        a
    }

    fn repaid(r: &Repayment) -> Vec<(u128, i64)> {
        r.repayments.iter().map(|d| (d.account_id.as_u128(), d.amount.get())).collect()
    }

    #[test]
    fn a_recharge_repays_the_accounts_debt_before_it_adds_credit() {
        // A rider owes 35.00 of cash collected; recharging 50.00 repays it and leaves 15.00.
        let w = wallet(vec![in_debt(1, "settlement", -3500)]);
        let r = plan_repayment(&w, acc(1), 5000).unwrap();
        assert_eq!((repaid(&r), r.credit), (vec![(1, 3500)], 1500));
        assert_eq!(r.repaid(), 3500);
    }

    #[test]
    fn a_recharge_smaller_than_the_debt_only_repays() {
        let w = wallet(vec![in_debt(1, "basic", -3500)]);
        let r = plan_repayment(&w, acc(1), 2000).unwrap();
        assert_eq!((repaid(&r), r.credit), (vec![(1, 2000)], 0));
    }

    #[test]
    fn an_account_not_in_debt_takes_it_all_as_credit() {
        let w = wallet(vec![account(1, "basic", 100)]);
        let r = plan_repayment(&w, acc(1), 2000).unwrap();
        assert_eq!((repaid(&r), r.credit), (vec![], 2000));
    }

    #[test]
    fn the_rest_repays_the_wallets_other_debts_before_it_is_credit() {
        // Recharging the basic account repays the settlement account's debt too.
        let w = wallet(vec![account(1, "basic", 0), in_debt(2, "settlement", -1200), in_debt(3, "bonus", -300)]);
        let r = plan_repayment(&w, acc(1), 2000).unwrap();
        assert_eq!((repaid(&r), r.credit), (vec![(3, 300), (2, 1200)], 500));
    }

    #[test]
    fn a_frozen_account_is_not_repaid_by_another_accounts_recharge() {
        let blocked = with_flags(in_debt(2, "settlement", -1200), |f| f.credits_blocked = true);
        let w = wallet(vec![account(1, "basic", 0), blocked]);
        let r = plan_repayment(&w, acc(1), 2000).unwrap();
        assert_eq!((repaid(&r), r.credit), (vec![], 2000));
    }

    #[test]
    fn money_on_hold_is_not_debt() {
        let w = wallet(vec![held(account(1, "basic", 100), 500)]);
        let r = plan_repayment(&w, acc(1), 1000).unwrap();
        assert_eq!((repaid(&r), r.credit), (vec![], 1000));
    }

    #[test]
    fn the_target_must_be_the_wallets_and_the_amount_positive() {
        let w = wallet(vec![account(1, "basic", 0)]);
        assert_eq!(plan_repayment(&w, acc(9), 100), Err(WalletError::AccountNotInWallet));
        assert_eq!(plan_repayment(&w, acc(1), 0), Err(WalletError::InvalidAmount));
    }
}
