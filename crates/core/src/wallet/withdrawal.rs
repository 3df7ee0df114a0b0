//! Withdrawing from a wallet of several accounts (统一钱包提现), in the articles' four steps:
//!
//! 1. Withdrawable balance (可提余额): each account's available balance if its type is withdrawable and
//!    it reaches the minimum withdrawal, else nothing; the wallet's is the sum.
//! 2. Pre-computation (提现预计算): the amount is allocated over the accounts in the wallet's order,
//!    taking each account's withdrawable balance in turn until the amount is covered. The order is the
//!    member's own if set, else the types' deduction priority, then account id (see `order.rs`): the
//!    articles' "simple sorted allocation", repeated every time the member types an amount.
//! 3. Splitting (拆单): one leg per account, the allocation's result.
//! 4. Deduction (扣款): the legs as one linked chain, so that the wallet never pays out half.
//!
//! The minimum applies to each account's balance (as the articles' table does) and to the amount
//! asked for, not to each split leg: the fee is charged once, on the withdrawal the member sees, so a
//! small leg costs nothing extra.

use super::arith::{positive, sub, sum, take};
use super::chain::{linked_chain, BusinessType, Leg, Settlement, TransferMeta};
use super::fee::{FeePayer, FeeRule};
use super::order::{AccountOrder, NeverDrawn};
use super::payment::Deduction;
use super::view::Wallet;
use super::WalletError;
use crate::ledger::TransferRequest;
use crate::{AccountId, Amount, Currency, TransferId};

/// A platform's withdrawal settings for one currency.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WithdrawalPolicy {
    currency: Currency,
    minimum: i64,
    fee: FeeRule,
    fee_payer: FeePayer,
}

impl WithdrawalPolicy {
    /// `minimum` is in minor units, zero for none.
    pub fn new(currency: Currency, minimum: i64, fee: FeeRule, fee_payer: FeePayer) -> Result<Self, WalletError> {
        if minimum < 0 {
            return Err(WalletError::MinimumWithdrawalInvalid);
        }
        Ok(WithdrawalPolicy { currency, minimum, fee, fee_payer })
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    pub fn minimum(&self) -> i64 {
        self.minimum
    }

    pub fn fee(&self) -> FeeRule {
        self.fee
    }

    pub fn fee_payer(&self) -> FeePayer {
        self.fee_payer
    }
}

/// The platform accounts a withdrawal moves money through.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct WithdrawalAccounts {
    /// Money on its way to members' bank cards (提现在途), paid out by the channel.
    pub clearing: AccountId,
    /// Fee income when the member pays the fee; fee expense when the platform does.
    pub fee: AccountId,
}

/// What a withdrawal of `amount` would do, shown to the member before they confirm.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct WithdrawalPreview {
    pub amount: Amount,
    /// Which account gives how much, in the wallet's order; they add up to `amount`.
    pub allocations: Vec<Deduction>,
    pub fee: i64,
    pub fee_payer: FeePayer,
    /// What reaches the member's bank card: the amount, less the fee if the member pays it.
    pub payout: Amount,
}

/// Allocates a withdrawal of `amount` over the wallet's withdrawable accounts, in `order`.
pub fn preview_withdrawal(
    wallet: &Wallet,
    policy: &WithdrawalPolicy,
    order: &AccountOrder,
    amount: i64,
) -> Result<WithdrawalPreview, WalletError> {
    wallet.check_currency(policy.currency)?;
    let amount = positive(amount)?;
    if amount.get() < policy.minimum {
        return Err(WalletError::BelowMinimumWithdrawal);
    }
    if !wallet.accounts().iter().any(|a| a.account_type().withdrawable()) {
        return Err(WalletError::NotWithdrawable);
    }
    let accounts = order.arrange(wallet, NeverDrawn::Last);
    let withdrawable = sum(accounts.iter().map(|a| a.withdrawable(policy.minimum)))?;
    if amount.get() > withdrawable {
        return Err(WalletError::ExceedsWithdrawable);
    }
    let fee = policy.fee.fee_for(amount);
    let payout = match policy.fee_payer {
        FeePayer::Member => Amount::new(sub(amount.get(), fee)?).ok_or(WalletError::WithdrawalBelowFee)?,
        FeePayer::Platform => amount,
    };

    let mut wanted = amount.get();
    let mut allocations = Vec::new();
    for account in accounts {
        let taken = take(wanted, account.withdrawable(policy.minimum));
        if let Some(taken) = Amount::new(taken) {
            allocations.push(Deduction { account_id: account.id(), amount: taken });
            wanted -= taken.get();
        }
    }
    debug_assert_eq!(wanted, 0, "the amount was checked against the withdrawable sum");
    Ok(WithdrawalPreview { amount, allocations, fee, fee_payer: policy.fee_payer, payout })
}

impl WithdrawalPreview {
    /// The withdrawal's legs: each account to the clearing account, then the fee between clearing and
    /// the fee account (from clearing when the member pays it, into clearing when the platform does,
    /// so that clearing always holds what the channel is paid: the payout plus any fee it charges).
    pub fn legs(&self, accounts: &WithdrawalAccounts) -> Vec<Leg> {
        let mut legs: Vec<Leg> = self
            .allocations
            .iter()
            .map(|a| Leg {
                debit: a.account_id,
                credit: accounts.clearing,
                amount: a.amount,
                business: BusinessType::Withdraw,
            })
            .collect();
        if let Some(fee) = Amount::new(self.fee) {
            let (debit, credit) = match self.fee_payer {
                FeePayer::Member => (accounts.clearing, accounts.fee),
                FeePayer::Platform => (accounts.fee, accounts.clearing),
            };
            legs.push(Leg { debit, credit, amount: fee, business: BusinessType::WithdrawFee });
        }
        legs
    }

    /// The withdrawal as one linked chain: posted at once (扣款成功以后提交渠道出款), or held until
    /// the channel confirms the payout, as the store wallet freezes a withdrawal under review.
    pub fn transfers(
        &self,
        accounts: &WithdrawalAccounts,
        settlement: Settlement,
        meta: &TransferMeta,
        next_id: &mut dyn FnMut() -> TransferId,
    ) -> Vec<TransferRequest> {
        linked_chain(&self.legs(accounts), settlement, meta, next_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::TransferAction;
    use crate::wallet::tests::{acc, account, cny, held, ids, money, policy, wallet, with_flags};

    fn articles_wallet() -> Wallet {
        wallet(vec![account(1, "settlement", 150), account(2, "settlement", 1000), account(3, "settlement", 80)])
    }

    fn allocation(preview: &WithdrawalPreview) -> Vec<(u128, i64)> {
        preview.allocations.iter().map(|d| (d.account_id.as_u128(), d.amount.get())).collect()
    }

    #[test]
    fn the_articles_withdrawal_of_8_takes_1_50_from_the_first_account_and_6_50_from_the_second() {
        let w = articles_wallet();
        let view = w.view(&policy(100)).unwrap();
        assert_eq!((view.balance, view.withdrawable), (1230, 1150));
        let preview = preview_withdrawal(&w, &policy(100), &AccountOrder::by_type_priority(), 800).unwrap();
        assert_eq!(allocation(&preview), [(1, 150), (2, 650)]);
        assert_eq!((preview.fee, preview.payout.get()), (0, 800));
    }

    #[test]
    fn all_that_is_withdrawable_can_be_withdrawn_and_not_a_fen_more() {
        let w = articles_wallet();
        let order = AccountOrder::by_type_priority();
        let all = preview_withdrawal(&w, &policy(100), &order, 1150).unwrap();
        assert_eq!(allocation(&all), [(1, 150), (2, 1000)]);
        let more = preview_withdrawal(&w, &policy(100), &order, 1151);
        assert_eq!(more, Err(WalletError::ExceedsWithdrawable));
    }

    #[test]
    fn the_members_order_decides_which_account_gives_first() {
        let order = AccountOrder::chosen(vec![acc(2)]).unwrap();
        let preview = preview_withdrawal(&articles_wallet(), &policy(100), &order, 800).unwrap();
        assert_eq!(allocation(&preview), [(2, 800)]);
    }

    #[test]
    fn an_amount_below_the_minimum_is_refused() {
        let order = AccountOrder::by_type_priority();
        assert_eq!(
            preview_withdrawal(&articles_wallet(), &policy(100), &order, 99),
            Err(WalletError::BelowMinimumWithdrawal)
        );
    }

    #[test]
    fn zero_or_negative_amounts_are_invalid() {
        let order = AccountOrder::by_type_priority();
        for bad in [0, -100] {
            assert_eq!(
                preview_withdrawal(&articles_wallet(), &policy(0), &order, bad),
                Err(WalletError::InvalidAmount)
            );
        }
    }

    #[test]
    fn a_wallet_of_bonus_and_subsidy_money_is_not_withdrawable() {
        let w = wallet(vec![account(1, "bonus", 5000), account(2, "subsidy", 5000)]);
        let refused = preview_withdrawal(&w, &policy(0), &AccountOrder::by_type_priority(), 100);
        assert_eq!(refused, Err(WalletError::NotWithdrawable));
    }

    #[test]
    fn non_withdrawable_money_is_passed_over_in_the_allocation() {
        let w = wallet(vec![account(1, "subsidy", 5000), account(2, "basic", 300), account(3, "bonus", 900)]);
        let preview = preview_withdrawal(&w, &policy(0), &AccountOrder::by_type_priority(), 300).unwrap();
        assert_eq!(allocation(&preview), [(2, 300)]);
        let refused = preview_withdrawal(&w, &policy(0), &AccountOrder::by_type_priority(), 301);
        assert_eq!(refused, Err(WalletError::ExceedsWithdrawable));
    }

    #[test]
    fn frozen_money_and_blocked_accounts_cannot_be_withdrawn() {
        let w = wallet(vec![
            held(account(1, "basic", 1000), 400),
            with_flags(account(2, "settlement", 1000), |f| f.debits_blocked = true),
        ]);
        let view = w.view(&policy(0)).unwrap();
        assert_eq!(view.withdrawable, 600);
        let refused = preview_withdrawal(&w, &policy(0), &AccountOrder::by_type_priority(), 601);
        assert_eq!(refused, Err(WalletError::ExceedsWithdrawable));
    }

    #[test]
    fn a_member_paid_fee_comes_out_of_the_amount() {
        let rule = FeeRule::rate(10, 10, None).unwrap();
        let policy = WithdrawalPolicy::new(cny(), 100, rule, FeePayer::Member).unwrap();
        let preview = preview_withdrawal(&articles_wallet(), &policy, &AccountOrder::by_type_priority(), 800).unwrap();
        assert_eq!((preview.amount.get(), preview.fee, preview.payout.get()), (800, 10, 790));
        assert_eq!(allocation(&preview), [(1, 150), (2, 650)], "the wallet gives the amount, fee included");
    }

    #[test]
    fn a_member_paid_fee_must_leave_something_to_pay_out() {
        // The articles: if the fee is 0.50, a withdrawal must be more than 0.50.
        let policy = WithdrawalPolicy::new(cny(), 0, FeeRule::fixed(50).unwrap(), FeePayer::Member).unwrap();
        let order = AccountOrder::by_type_priority();
        assert_eq!(preview_withdrawal(&articles_wallet(), &policy, &order, 50), Err(WalletError::WithdrawalBelowFee));
        assert_eq!(preview_withdrawal(&articles_wallet(), &policy, &order, 51).unwrap().payout.get(), 1);
    }

    #[test]
    fn a_platform_paid_fee_leaves_the_payout_whole() {
        let policy = WithdrawalPolicy::new(cny(), 0, FeeRule::fixed(50).unwrap(), FeePayer::Platform).unwrap();
        let preview = preview_withdrawal(&articles_wallet(), &policy, &AccountOrder::by_type_priority(), 50).unwrap();
        assert_eq!((preview.fee, preview.payout.get()), (50, 50));
    }

    #[test]
    fn the_withdrawal_is_one_chain_to_clearing_with_the_fee_moved_by_who_pays_it() {
        let platform = WithdrawalAccounts { clearing: acc(90), fee: acc(91) };
        let rule = FeeRule::fixed(20).unwrap();
        for (payer, fee_leg) in [(FeePayer::Member, (90, 91)), (FeePayer::Platform, (91, 90))] {
            let policy = WithdrawalPolicy::new(cny(), 100, rule, payer).unwrap();
            let preview =
                preview_withdrawal(&articles_wallet(), &policy, &AccountOrder::by_type_priority(), 800).unwrap();
            let requests = preview.transfers(&platform, Settlement::Immediate, &TransferMeta::new(None), &mut ids(1));
            let moves: Vec<(u128, u128, i64, &str, bool)> = requests
                .iter()
                .map(|r| match &r.action {
                    TransferAction::Post { debit_account_id, credit_account_id, amount, .. } => (
                        debit_account_id.as_u128(),
                        credit_account_id.as_u128(),
                        amount.get(),
                        r.code.as_str(),
                        r.linked,
                    ),
                    other => panic!("{other:?}"),
                })
                .collect();
            assert_eq!(
                moves,
                [
                    (1, 90, 150, "withdraw", true),
                    (2, 90, 650, "withdraw", true),
                    (fee_leg.0, fee_leg.1, 20, "withdraw_fee", false)
                ]
            );
        }
    }

    #[test]
    fn a_free_withdrawal_has_no_fee_leg() {
        let preview =
            preview_withdrawal(&articles_wallet(), &policy(0), &AccountOrder::by_type_priority(), 100).unwrap();
        let legs = preview.legs(&WithdrawalAccounts { clearing: acc(90), fee: acc(91) });
        assert_eq!(legs.len(), 1);
        assert_eq!(legs[0].amount, money(100));
    }

    #[test]
    fn a_negative_minimum_is_refused() {
        assert_eq!(
            WithdrawalPolicy::new(cny(), -1, FeeRule::Free, FeePayer::Member),
            Err(WalletError::MinimumWithdrawalInvalid)
        );
    }

    #[test]
    fn a_policy_in_another_currency_is_refused() {
        let usd =
            WithdrawalPolicy::new(crate::Currency::parse("USD").unwrap(), 0, FeeRule::Free, FeePayer::Member).unwrap();
        let refused = preview_withdrawal(&articles_wallet(), &usd, &AccountOrder::by_type_priority(), 100);
        assert_eq!(refused, Err(WalletError::CurrencyMismatch));
    }
}
