//! The wallet as a member sees it: one balance over several accounts (钱包余额 = ∑ 各账户余额), with
//! what of it is available, frozen, withdrawable and owed, and each account's part.

use super::arith::{add, debt_of, sum};
use super::withdrawal::WithdrawalPolicy;
use super::WalletError;
use crate::ledger::{Account, NormalSide};
use crate::party::{AccountType, AccountTypeCode, AccountTypes};
use crate::{AccountId, Currency};

/// One of a member's accounts as the ledger holds it, with its configured type.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WalletAccount {
    account: Account,
    account_type: AccountType,
}

impl WalletAccount {
    /// Pairs a ledger account with its type. The account's ledger code must be the type's code (it is
    /// how the service finds the type), and both must be in one currency.
    pub fn new(account: Account, account_type: AccountType) -> Result<WalletAccount, WalletError> {
        if account.code != account_type.code().as_str() {
            return Err(WalletError::AccountTypeMismatch);
        }
        if account.currency != account_type.currency() {
            return Err(WalletError::CurrencyMismatch);
        }
        if account.normal_side != NormalSide::Credit {
            return Err(WalletError::NotWalletAccount);
        }
        Ok(WalletAccount { account, account_type })
    }

    pub fn id(&self) -> AccountId {
        self.account.id
    }

    pub fn account(&self) -> &Account {
        &self.account
    }

    pub fn account_type(&self) -> &AccountType {
        &self.account_type
    }

    /// Posted balance; below zero when the account is in debt.
    pub fn balance(&self) -> i64 {
        self.account.balance()
    }

    /// Balance less what is frozen.
    pub fn available(&self) -> i64 {
        self.account.available()
    }

    /// Frozen (冻结): what pending debits hold.
    pub fn frozen(&self) -> i64 {
        self.account.counters.debits_pending
    }

    /// On its way in: what pending credits will add once posted (rent paid but not yet released to
    /// the merchant, in the rental wallet's words 冻结余额 of the receiving side).
    pub fn incoming(&self) -> i64 {
        self.account.counters.credits_pending
    }

    /// What the account owes: its posted balance below zero, as a positive number.
    pub fn debt(&self) -> Result<i64, WalletError> {
        debt_of(self.balance())
    }

    /// Whether money may leave it: not debit-blocked (frozen, stop-payment) and not closed.
    pub fn can_send(&self) -> bool {
        !self.account.flags.debits_blocked && !self.account.flags.closed
    }

    /// Whether money may arrive: not credit-blocked and not closed.
    pub fn can_receive(&self) -> bool {
        !self.account.flags.credits_blocked && !self.account.flags.closed
    }

    /// What it can pay with out of its own money: its available balance above zero, or nothing when
    /// money may not leave it.
    pub fn spendable(&self) -> i64 {
        if self.can_send() {
            self.available().max(0)
        } else {
            0
        }
    }

    /// What it may draw beyond its own money, down to its overdraft limit.
    pub fn overdraft_headroom(&self) -> i64 {
        if !self.can_send() {
            return 0;
        }
        let headroom = self.account.debit_headroom().unwrap_or(0);
        (headroom - self.spendable()).max(0)
    }

    /// What may be withdrawn from it: its available balance if its type is withdrawable and that
    /// balance reaches `minimum_withdrawal`, else nothing. The articles' reason: a withdrawal carries
    /// a fee, so an account holding less than the minimum cannot pay out on its own (可提余额 excludes
    /// accounts below the minimum).
    pub fn withdrawable(&self, minimum_withdrawal: i64) -> i64 {
        let available = self.spendable();
        if self.account_type.withdrawable() && available > 0 && available >= minimum_withdrawal {
            available
        } else {
            0
        }
    }
}

/// A member's wallet: its accounts, all in one currency, each once.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Wallet {
    currency: Currency,
    accounts: Vec<WalletAccount>,
}

impl Wallet {
    pub fn new(currency: Currency, accounts: Vec<WalletAccount>) -> Result<Wallet, WalletError> {
        for (i, a) in accounts.iter().enumerate() {
            if a.account.currency != currency {
                return Err(WalletError::CurrencyMismatch);
            }
            if accounts[..i].iter().any(|b| b.id() == a.id()) {
                return Err(WalletError::DuplicateAccount);
            }
        }
        Ok(Wallet { currency, accounts })
    }

    /// The wallet of `accounts`, each paired with the configured type its ledger code names.
    pub fn from_ledger(
        currency: Currency,
        accounts: Vec<Account>,
        types: &AccountTypes,
    ) -> Result<Wallet, WalletError> {
        let paired = accounts
            .into_iter()
            .map(|account| {
                let code = AccountTypeCode::parse(&account.code).map_err(|_| WalletError::AccountTypeNotConfigured)?;
                let account_type = types.get(&code).ok_or(WalletError::AccountTypeNotConfigured)?.clone();
                WalletAccount::new(account, account_type)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Wallet::new(currency, paired)
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn accounts(&self) -> &[WalletAccount] {
        &self.accounts
    }

    /// The same wallet with no account's debits or credits blocked (closed ones stay closed): a rule
    /// that passes on it and not on the wallet as it is was refused by the blocks, which the caller
    /// then names by the status behind them.
    pub fn without_blocks(&self) -> Wallet {
        let accounts = self
            .accounts
            .iter()
            .map(|a| {
                let mut account = a.clone();
                account.account.flags.debits_blocked = false;
                account.account.flags.credits_blocked = false;
                account
            })
            .collect();
        Wallet { currency: self.currency, accounts }
    }

    /// The same wallet with only the accounts `keep` keeps: what an operator may take from, or the
    /// one account a pay code is bound to.
    pub fn only(&self, keep: impl Fn(AccountId) -> bool) -> Wallet {
        let accounts = self.accounts.iter().filter(|a| keep(a.id())).cloned().collect();
        Wallet { currency: self.currency, accounts }
    }

    pub fn get(&self, id: AccountId) -> Option<&WalletAccount> {
        self.accounts.iter().find(|a| a.id() == id)
    }

    pub(crate) fn check_currency(&self, currency: Currency) -> Result<(), WalletError> {
        (self.currency == currency).then_some(()).ok_or(WalletError::CurrencyMismatch)
    }

    /// The wallet's figures and each account's part. `policy` gives the minimum withdrawal that
    /// decides what is withdrawable.
    pub fn view(&self, policy: &WithdrawalPolicy) -> Result<WalletView, WalletError> {
        self.check_currency(policy.currency())?;
        let parts = self
            .accounts
            .iter()
            .map(|a| {
                Ok(AccountPart {
                    account_id: a.id(),
                    account_type: a.account_type.code().clone(),
                    balance: a.balance(),
                    available: a.available(),
                    frozen: a.frozen(),
                    incoming: a.incoming(),
                    withdrawable: a.withdrawable(policy.minimum()),
                    debt: a.debt()?,
                })
            })
            .collect::<Result<Vec<AccountPart>, WalletError>>()?;
        Ok(WalletView {
            currency: self.currency,
            balance: sum(parts.iter().map(|p| p.balance))?,
            available: sum(parts.iter().map(|p| p.available))?,
            frozen: sum(parts.iter().map(|p| p.frozen))?,
            incoming: sum(parts.iter().map(|p| p.incoming))?,
            withdrawable: sum(parts.iter().map(|p| p.withdrawable))?,
            debt: sum(parts.iter().map(|p| p.debt))?,
            parts,
        })
    }

    /// The sum of what each account may pay with from its own money.
    pub fn spendable(&self) -> Result<i64, WalletError> {
        self.accounts.iter().map(WalletAccount::spendable).try_fold(0, add)
    }
}

/// The wallet's figures, in minor units of `currency`: each is the sum of the accounts' parts.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WalletView {
    pub currency: Currency,
    /// ∑ balances: an account in debt lowers it.
    pub balance: i64,
    /// ∑ available: balance less frozen.
    pub available: i64,
    /// ∑ pending debits.
    pub frozen: i64,
    /// ∑ pending credits.
    pub incoming: i64,
    /// ∑ withdrawable: accounts of withdrawable types holding at least the minimum withdrawal.
    pub withdrawable: i64,
    /// ∑ debts, shown as a positive amount owed.
    pub debt: i64,
    pub parts: Vec<AccountPart>,
}

/// One account's part of the wallet's figures.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AccountPart {
    pub account_id: AccountId,
    pub account_type: AccountTypeCode,
    pub balance: i64,
    pub available: i64,
    pub frozen: i64,
    pub incoming: i64,
    pub withdrawable: i64,
    pub debt: i64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Counters;
    use crate::wallet::tests::{acc, account, cny, held, policy, types, wallet, with_flags};

    #[test]
    fn the_articles_wallet_balance_is_the_sum_and_its_withdrawable_leaves_out_the_small_account() {
        // 主体001: accounts of 1.50, 10.00 and 0.80 with a minimum withdrawal of 1.00.
        let w =
            wallet(vec![account(1, "settlement", 150), account(2, "settlement", 1000), account(3, "settlement", 80)]);
        let view = w.view(&policy(100)).unwrap();
        assert_eq!(view.balance, 1230);
        assert_eq!(view.available, 1230);
        assert_eq!(view.withdrawable, 1150);
        let parts: Vec<(i64, i64)> = view.parts.iter().map(|p| (p.balance, p.withdrawable)).collect();
        assert_eq!(parts, [(150, 150), (1000, 1000), (80, 0)]);
    }

    #[test]
    fn frozen_money_counts_in_the_balance_but_not_in_available_or_withdrawable() {
        let w = wallet(vec![held(account(1, "basic", 1000), 300)]);
        let view = w.view(&policy(0)).unwrap();
        assert_eq!((view.balance, view.available, view.frozen, view.withdrawable), (1000, 700, 300, 700));
    }

    #[test]
    fn money_on_its_way_in_is_shown_apart() {
        let mut a = account(1, "settlement", 0);
        a.counters.credits_pending = 5000;
        let view = wallet(vec![a]).view(&policy(0)).unwrap();
        assert_eq!((view.balance, view.incoming, view.withdrawable), (0, 5000, 0));
    }

    #[test]
    fn a_negative_balance_is_shown_as_debt_and_lowers_the_wallet_balance() {
        let w = wallet(vec![account(1, "basic", 2000), account(2, "settlement", -500)]);
        let view = w.view(&policy(100)).unwrap();
        assert_eq!((view.balance, view.debt, view.withdrawable), (1500, 500, 2000));
        assert_eq!(view.parts[1].debt, 500);
        assert_eq!(view.parts[1].withdrawable, 0);
    }

    #[test]
    fn money_of_types_that_cannot_be_withdrawn_counts_in_the_balance_only() {
        let w = wallet(vec![account(1, "basic", 500), account(2, "bonus", 300), account(3, "subsidy", 200)]);
        let view = w.view(&policy(0)).unwrap();
        assert_eq!((view.balance, view.withdrawable), (1000, 500));
    }

    #[test]
    fn a_frozen_account_has_nothing_to_spend_or_withdraw() {
        let blocked = with_flags(account(1, "basic", 500), |f| f.debits_blocked = true);
        let w = wallet(vec![blocked]);
        assert_eq!(w.view(&policy(0)).unwrap().withdrawable, 0);
        assert_eq!(w.spendable(), Ok(0));
        assert_eq!(w.view(&policy(0)).unwrap().balance, 500);
    }

    #[test]
    fn the_wallet_holds_each_account_once_in_its_currency() {
        let a = WalletAccount::new(account(1, "basic", 0), types().get(&code("basic")).unwrap().clone()).unwrap();
        assert_eq!(Wallet::new(cny(), vec![a.clone(), a.clone()]), Err(WalletError::DuplicateAccount));
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(Wallet::new(usd, vec![a]), Err(WalletError::CurrencyMismatch));
    }

    #[test]
    fn an_account_must_be_of_the_type_given_for_it() {
        let bonus = types().get(&code("bonus")).unwrap().clone();
        assert_eq!(WalletAccount::new(account(1, "basic", 0), bonus), Err(WalletError::AccountTypeMismatch));
    }

    #[test]
    fn a_platform_account_is_not_a_wallet_account() {
        let mut a = account(1, "basic", 0);
        a.normal_side = NormalSide::Debit;
        let basic = types().get(&code("basic")).unwrap().clone();
        assert_eq!(WalletAccount::new(a, basic), Err(WalletError::NotWalletAccount));
    }

    #[test]
    fn from_ledger_finds_each_accounts_type_by_its_code() {
        let w = Wallet::from_ledger(cny(), vec![account(1, "basic", 10), account(2, "subsidy", 5)], &types()).unwrap();
        assert_eq!(w.get(acc(2)).unwrap().account_type().code().as_str(), "subsidy");
        let unknown = Wallet::from_ledger(cny(), vec![account(1, "points", 10)], &types());
        assert_eq!(unknown, Err(WalletError::AccountTypeNotConfigured));
        let uncoded = Wallet::from_ledger(cny(), vec![account(1, "", 10)], &types());
        assert_eq!(uncoded, Err(WalletError::AccountTypeNotConfigured));
    }

    #[test]
    fn a_view_in_another_currency_than_the_policy_is_refused() {
        let w = wallet(vec![account(1, "basic", 10)]);
        let usd = Currency::parse("USD").unwrap();
        let usd = WithdrawalPolicy::new(usd, 0, crate::wallet::FeeRule::Free, crate::wallet::FeePayer::Member).unwrap();
        assert_eq!(w.view(&usd), Err(WalletError::CurrencyMismatch));
    }

    #[test]
    fn sums_beyond_i64_are_an_error() {
        let mut a = account(1, "basic", 0);
        a.counters = Counters { credits_posted: i64::MAX, ..Counters::default() };
        let mut b = account(2, "settlement", 0);
        b.counters = Counters { credits_posted: i64::MAX, ..Counters::default() };
        assert_eq!(wallet(vec![a, b]).view(&policy(0)), Err(WalletError::AmountOverflow));
    }

    #[test]
    fn overdraft_headroom_is_what_lies_beyond_the_own_money() {
        let mut a = account(1, "basic", 300);
        a.limit = crate::ledger::BalanceLimit::Floor(1000);
        let w = wallet(vec![a]);
        assert_eq!((w.accounts()[0].spendable(), w.accounts()[0].overdraft_headroom()), (300, 1000));
        let mut b = account(1, "basic", -400);
        b.limit = crate::ledger::BalanceLimit::Floor(1000);
        let w = wallet(vec![b]);
        assert_eq!((w.accounts()[0].spendable(), w.accounts()[0].overdraft_headroom()), (0, 600));
    }

    fn code(s: &str) -> AccountTypeCode {
        AccountTypeCode::parse(s).unwrap()
    }
}
