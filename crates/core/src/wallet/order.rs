//! The order in which a wallet's accounts are drawn on. A member may set their own (the ETC wallet's
//! drag-to-reorder deduction settings, the canteen's 员工自行设置的扣款优先级); without one, the
//! account types' configured priority decides, lowest first, so that subsidy money is spent before
//! recharged money (默认优先扣补贴钱包的钱). Accounts of equal priority go by account id, which is
//! time-ordered: the account opened first is drawn on first, the same answer every time.

use super::view::{Wallet, WalletAccount};
use super::WalletError;
use crate::party::account_type::DeductionPriority;
use crate::AccountId;

/// Which accounts of priority `Never` an ordering keeps.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum NeverDrawn {
    /// Payments never draw on them (a margin deposit is the platform's security, not spending money),
    /// whatever order the member chose.
    Excluded,
    /// Withdrawals and transfers have their own test (the type's withdrawable or sends-transfers
    /// flag), so such accounts come last rather than not at all.
    Last,
}

/// A wallet's order of accounts: the member's own choice, else the types' priority.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct AccountOrder {
    chosen: Vec<AccountId>,
}

impl AccountOrder {
    /// The account types' default priority, then account id.
    pub fn by_type_priority() -> AccountOrder {
        AccountOrder { chosen: Vec::new() }
    }

    /// The member's order: these accounts first, in this order; accounts it does not name (opened
    /// after the member chose) follow in the default order. Each account at most once.
    pub fn chosen(accounts: Vec<AccountId>) -> Result<AccountOrder, WalletError> {
        for (i, a) in accounts.iter().enumerate() {
            if accounts[..i].contains(a) {
                return Err(WalletError::DeductionOrderInvalid);
            }
        }
        Ok(AccountOrder { chosen: accounts })
    }

    pub fn accounts(&self) -> &[AccountId] {
        &self.chosen
    }

    /// Checks, when a member sets an order, that it names only the wallet's accounts. When the order
    /// is used later, an account no longer in the wallet is passed over rather than refused, so that
    /// closing an account does not break every payment.
    pub fn check_against(&self, wallet: &Wallet) -> Result<(), WalletError> {
        match self.chosen.iter().all(|id| wallet.get(*id).is_some()) {
            true => Ok(()),
            false => Err(WalletError::AccountNotInWallet),
        }
    }

    /// The wallet's accounts in this order.
    pub(crate) fn arrange<'w>(&self, wallet: &'w Wallet, never: NeverDrawn) -> Vec<&'w WalletAccount> {
        let chosen = self.chosen.iter().filter_map(|id| wallet.get(*id));
        let mut rest: Vec<&WalletAccount> =
            wallet.accounts().iter().filter(|a| !self.chosen.contains(&a.id())).collect();
        // `DeductionPriority` orders `Order(_)` before `Never`, which puts never-drawn accounts last.
        rest.sort_by_key(|a| (a.account_type().deduction(), a.id()));
        chosen
            .chain(rest)
            .filter(|a| never == NeverDrawn::Last || a.account_type().deduction() != DeductionPriority::Never)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wallet::tests::{acc, account, wallet};

    fn ids(accounts: Vec<&WalletAccount>) -> Vec<u128> {
        accounts.iter().map(|a| a.id().as_u128()).collect()
    }

    fn canteen() -> Wallet {
        // basic (3), margin (never), bonus (2), subsidy (1), settlement (4), and a second settlement.
        wallet(vec![
            account(1, "basic", 100),
            account(2, "margin", 100),
            account(3, "bonus", 100),
            account(4, "subsidy", 100),
            account(6, "settlement", 100),
            account(5, "settlement", 100),
        ])
    }

    #[test]
    fn by_default_subsidy_comes_first_then_bonus_basic_settlement_by_id() {
        let order = AccountOrder::by_type_priority();
        assert_eq!(ids(order.arrange(&canteen(), NeverDrawn::Excluded)), [4, 3, 1, 5, 6]);
    }

    #[test]
    fn never_drawn_accounts_are_left_out_of_payments_and_put_last_otherwise() {
        let order = AccountOrder::by_type_priority();
        assert_eq!(ids(order.arrange(&canteen(), NeverDrawn::Last)), [4, 3, 1, 5, 6, 2]);
    }

    #[test]
    fn the_members_order_comes_first_and_the_rest_follow_by_priority() {
        let order = AccountOrder::chosen(vec![acc(1), acc(6)]).unwrap();
        assert_eq!(ids(order.arrange(&canteen(), NeverDrawn::Excluded)), [1, 6, 4, 3, 5]);
    }

    #[test]
    fn a_member_cannot_make_a_never_drawn_account_pay() {
        let order = AccountOrder::chosen(vec![acc(2), acc(1)]).unwrap();
        assert_eq!(ids(order.arrange(&canteen(), NeverDrawn::Excluded)), [1, 4, 3, 5, 6]);
    }

    #[test]
    fn an_order_names_each_account_once_and_only_the_wallets() {
        assert_eq!(AccountOrder::chosen(vec![acc(1), acc(1)]), Err(WalletError::DeductionOrderInvalid));
        let stray = AccountOrder::chosen(vec![acc(1), acc(99)]).unwrap();
        assert_eq!(stray.check_against(&canteen()), Err(WalletError::AccountNotInWallet));
        assert_eq!(AccountOrder::chosen(vec![acc(3)]).unwrap().check_against(&canteen()), Ok(()));
    }

    #[test]
    fn an_account_gone_from_the_wallet_is_passed_over_when_the_order_is_used() {
        let order = AccountOrder::chosen(vec![acc(99), acc(1)]).unwrap();
        assert_eq!(ids(order.arrange(&canteen(), NeverDrawn::Excluded))[0], 1);
    }
}
