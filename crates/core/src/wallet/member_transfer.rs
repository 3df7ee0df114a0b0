//! Transfers between members (员工间转账) that keep the money's kind: money leaves the sender's
//! accounts whose type sends transfers and lands, part by part, in the receiver's account of the same
//! type, if that type receives transfers. As the canteen wallet puts it, recharged money arrives as
//! recharged money and subsidy money as subsidy money; money with nowhere of its kind to land stays.
//!
//! The sender's accounts are drawn on in the wallet's order (the member's own, else the types'
//! priority), own money only: a transfer never lends the overdraft to another member. Limits are per
//! transfer and per day; what the member sent today is the caller's to look up.

use super::arith::{add, positive, sum, take};
use super::chain::{linked_chain, BusinessType, Leg, Settlement, TransferMeta};
use super::order::{AccountOrder, NeverDrawn};
use super::view::{Wallet, WalletAccount};
use super::WalletError;
use crate::ledger::TransferRequest;
use crate::party::AccountTypeCode;
use crate::{AccountId, Amount, Currency, TransferId};

/// How much a member may send to others, in one currency. `None` is no limit.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TransferLimits {
    currency: Currency,
    per_transfer: Option<Amount>,
    per_day: Option<Amount>,
}

impl TransferLimits {
    pub fn new(currency: Currency, per_transfer: Option<i64>, per_day: Option<i64>) -> Result<Self, WalletError> {
        let limit = |n: Option<i64>| n.map(|n| Amount::new(n).ok_or(WalletError::TransferLimitInvalid)).transpose();
        Ok(TransferLimits { currency, per_transfer: limit(per_transfer)?, per_day: limit(per_day)? })
    }

    pub fn unlimited(currency: Currency) -> TransferLimits {
        TransferLimits { currency, per_transfer: None, per_day: None }
    }
}

/// One part of a transfer: from a sender's account to the receiver's account of the same type.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TransferLeg {
    pub from: AccountId,
    pub to: AccountId,
    pub amount: Amount,
    pub account_type: AccountTypeCode,
}

#[derive(Clone, PartialEq, Eq, Debug)]
pub struct MemberTransferPlan {
    pub amount: Amount,
    pub legs: Vec<TransferLeg>,
}

/// Plans sending `amount` from `sender` to `receiver`, given what the sender already sent `sent_today`.
pub fn plan_member_transfer(
    sender: &Wallet,
    receiver: &Wallet,
    order: &AccountOrder,
    amount: i64,
    limits: &TransferLimits,
    sent_today: i64,
) -> Result<MemberTransferPlan, WalletError> {
    sender.check_currency(receiver.currency())?;
    sender.check_currency(limits.currency)?;
    let amount = positive(amount)?;
    if sent_today < 0 {
        return Err(WalletError::InvalidAmount);
    }
    if sender.accounts().iter().any(|a| receiver.get(a.id()).is_some()) {
        return Err(WalletError::SameWallet);
    }
    if limits.per_transfer.is_some_and(|max| amount > max) {
        return Err(WalletError::TransferLimitExceeded);
    }
    if limits.per_day.is_some_and(|max| add(sent_today, amount.get()).map_or(true, |day| day > max.get())) {
        return Err(WalletError::DailyTransferLimitExceeded);
    }

    // Each sender account that may send, with where its money would land.
    let routes: Vec<(&WalletAccount, &WalletAccount)> = order
        .arrange(sender, NeverDrawn::Last)
        .into_iter()
        .filter(|a| a.account_type().sends_transfers() && a.can_send())
        .filter_map(|a| landing(receiver, a.account_type().code()).map(|to| (a, to)))
        .collect();
    if routes.is_empty() {
        return Err(WalletError::TransferNotAllowed);
    }
    if sum(routes.iter().map(|(from, _)| from.spendable()))? < amount.get() {
        return Err(WalletError::InsufficientFunds);
    }
    let mut wanted = amount.get();
    let mut legs = Vec::new();
    for (from, to) in routes {
        if let Some(sent) = Amount::new(take(wanted, from.spendable())) {
            wanted -= sent.get();
            let account_type = from.account_type().code().clone();
            legs.push(TransferLeg { from: from.id(), to: to.id(), amount: sent, account_type });
        }
    }
    Ok(MemberTransferPlan { amount, legs })
}

/// The receiver's account of type `code` that may receive a transfer: the first opened, if several.
fn landing<'w>(receiver: &'w Wallet, code: &AccountTypeCode) -> Option<&'w WalletAccount> {
    receiver
        .accounts()
        .iter()
        .filter(|a| a.account_type().code() == code && a.account_type().receives_transfers() && a.can_receive())
        .min_by_key(|a| a.id())
}

impl MemberTransferPlan {
    pub fn legs(&self) -> Vec<Leg> {
        self.legs
            .iter()
            .map(|l| Leg { debit: l.from, credit: l.to, amount: l.amount, business: BusinessType::MemberTransfer })
            .collect()
    }

    /// The transfer as one linked chain: every part arrives, or none.
    pub fn transfers(&self, meta: &TransferMeta, next_id: &mut dyn FnMut() -> TransferId) -> Vec<TransferRequest> {
        linked_chain(&self.legs(), Settlement::Immediate, meta, next_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wallet::tests::{account, cny, ids, wallet, with_flags};

    fn legs(plan: &MemberTransferPlan) -> Vec<(u128, u128, i64, &str)> {
        plan.legs.iter().map(|l| (l.from.as_u128(), l.to.as_u128(), l.amount.get(), l.account_type.as_str())).collect()
    }

    fn alice() -> Wallet {
        wallet(vec![account(1, "basic", 3000), account(2, "subsidy", 1000), account(3, "bonus", 5000)])
    }

    fn bob() -> Wallet {
        wallet(vec![account(11, "basic", 0), account(12, "subsidy", 0), account(13, "bonus", 0)])
    }

    fn send(sender: &Wallet, receiver: &Wallet, amount: i64) -> Result<MemberTransferPlan, WalletError> {
        let limits = TransferLimits::unlimited(cny());
        plan_member_transfer(sender, receiver, &AccountOrder::by_type_priority(), amount, &limits, 0)
    }

    #[test]
    fn subsidy_money_lands_as_subsidy_and_recharged_money_as_basic() {
        let plan = send(&alice(), &bob(), 2500).unwrap();
        assert_eq!(legs(&plan), [(2, 12, 1000, "subsidy"), (1, 11, 1500, "basic")]);
    }

    #[test]
    fn bonus_money_does_not_move_between_members() {
        let only_bonus = wallet(vec![account(3, "bonus", 5000)]);
        assert_eq!(send(&only_bonus, &bob(), 100), Err(WalletError::TransferNotAllowed));
        assert_eq!(send(&alice(), &bob(), 4001), Err(WalletError::InsufficientFunds));
    }

    #[test]
    fn money_with_no_account_of_its_kind_at_the_receiver_stays() {
        let no_subsidy = wallet(vec![account(11, "basic", 0)]);
        let plan = send(&alice(), &no_subsidy, 2000).unwrap();
        assert_eq!(legs(&plan), [(1, 11, 2000, "basic")]);
        assert_eq!(send(&alice(), &no_subsidy, 3001), Err(WalletError::InsufficientFunds));
    }

    #[test]
    fn settlement_money_has_nowhere_to_land_since_settlement_accounts_receive_no_transfers() {
        let merchant = wallet(vec![account(1, "settlement", 9000)]);
        let other = wallet(vec![account(11, "settlement", 0), account(12, "basic", 0)]);
        assert_eq!(send(&merchant, &other, 100), Err(WalletError::TransferNotAllowed));
    }

    #[test]
    fn a_receivers_blocked_account_receives_nothing() {
        let frozen = wallet(vec![with_flags(account(11, "basic", 0), |f| f.credits_blocked = true)]);
        let only_basic = wallet(vec![account(1, "basic", 3000)]);
        assert_eq!(send(&only_basic, &frozen, 100), Err(WalletError::TransferNotAllowed));
    }

    #[test]
    fn the_members_order_decides_which_money_goes_first() {
        let order = AccountOrder::chosen(vec![crate::wallet::tests::acc(1)]).unwrap();
        let limits = TransferLimits::unlimited(cny());
        let plan = plan_member_transfer(&alice(), &bob(), &order, 500, &limits, 0).unwrap();
        assert_eq!(legs(&plan), [(1, 11, 500, "basic")]);
    }

    #[test]
    fn one_transfer_may_not_exceed_the_per_transfer_limit() {
        let limits = TransferLimits::new(cny(), Some(2000), None).unwrap();
        let order = AccountOrder::by_type_priority();
        assert!(plan_member_transfer(&alice(), &bob(), &order, 2000, &limits, 0).is_ok());
        let refused = plan_member_transfer(&alice(), &bob(), &order, 2001, &limits, 0);
        assert_eq!(refused, Err(WalletError::TransferLimitExceeded));
    }

    #[test]
    fn the_days_transfers_may_not_exceed_the_daily_limit() {
        let limits = TransferLimits::new(cny(), None, Some(3000)).unwrap();
        let order = AccountOrder::by_type_priority();
        assert!(plan_member_transfer(&alice(), &bob(), &order, 1000, &limits, 2000).is_ok());
        let refused = plan_member_transfer(&alice(), &bob(), &order, 1001, &limits, 2000);
        assert_eq!(refused, Err(WalletError::DailyTransferLimitExceeded));
        let overflow = plan_member_transfer(&alice(), &bob(), &order, 1, &limits, i64::MAX);
        assert_eq!(overflow, Err(WalletError::DailyTransferLimitExceeded));
    }

    #[test]
    fn limits_are_positive() {
        assert_eq!(TransferLimits::new(cny(), Some(0), None), Err(WalletError::TransferLimitInvalid));
        assert_eq!(TransferLimits::new(cny(), None, Some(-1)), Err(WalletError::TransferLimitInvalid));
    }

    #[test]
    fn a_member_cannot_transfer_to_their_own_wallet() {
        assert_eq!(send(&alice(), &alice(), 100), Err(WalletError::SameWallet));
    }

    #[test]
    fn wallets_and_limits_must_share_a_currency() {
        let usd = crate::Currency::parse("USD").unwrap();
        let limits = TransferLimits::unlimited(usd);
        let refused = plan_member_transfer(&alice(), &bob(), &AccountOrder::by_type_priority(), 100, &limits, 0);
        assert_eq!(refused, Err(WalletError::CurrencyMismatch));
    }

    #[test]
    fn invalid_amounts_are_refused() {
        assert_eq!(send(&alice(), &bob(), 0), Err(WalletError::InvalidAmount));
    }

    #[test]
    fn the_transfer_is_one_chain_of_member_transfers() {
        let plan = send(&alice(), &bob(), 2500).unwrap();
        let requests = plan.transfers(&TransferMeta::new(None), &mut ids(1));
        assert_eq!(requests.len(), 2);
        assert!(requests.iter().all(|r| r.code == "member_transfer"));
        assert!(requests[0].linked && !requests[1].linked);
    }
}
