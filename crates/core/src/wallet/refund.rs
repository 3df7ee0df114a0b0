//! Refunding a payment (退款), in part or whole, possibly several times: never more than was paid
//! less what was refunded already, and always back to the accounts the money came from, so that a
//! refund never turns subsidy or bonus money into withdrawable money.
//!
//! Order: a refund gives back in the **reverse** of the deduction order. The last account drawn on is
//! refilled first, and the first drawn on (subsidy, bonus: the money spent first by default) last.
//! Then what a payment has taken after a partial refund is exactly what a payment of the smaller
//! amount would have taken in the first place: a refund undoes the payment from its end, as if less
//! had been asked. It also means the member's own money comes back before the platform's marketing
//! money, which is the direction the articles' bonus rules lean (a refunded recharge forfeits its
//! bonus; spent bonus is not given back as cash).

use super::arith::{add, positive, sub, sum, take};
use super::chain::{linked_chain, BusinessType, Leg, Settlement, TransferMeta};
use super::payment::Deduction;
use super::WalletError;
use crate::ledger::TransferRequest;
use crate::{AccountId, Amount, TransferId};

/// What a refund gives back to each account, in the order given.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RefundPlan {
    pub amount: Amount,
    pub returns: Vec<Deduction>,
}

/// Refunds `amount` of a payment that made `deductions` (in deduction order) and has already had
/// `refunded` given back (the earlier refunds' returns, in any order).
pub fn plan_refund(deductions: &[Deduction], refunded: &[Deduction], amount: i64) -> Result<RefundPlan, WalletError> {
    let amount = positive(amount)?;
    // What each account may still get back: what it gave, less what it got back already.
    let mut left: Vec<(AccountId, i64)> = Vec::with_capacity(deductions.len());
    for d in deductions {
        match left.iter_mut().find(|(id, _)| *id == d.account_id) {
            Some((_, n)) => *n = add(*n, d.amount.get())?,
            None => left.push((d.account_id, d.amount.get())),
        }
    }
    for r in refunded {
        let (_, n) = left.iter_mut().find(|(id, _)| *id == r.account_id).ok_or(WalletError::RefundExceedsPayment)?;
        *n = sub(*n, r.amount.get())?;
        if *n < 0 {
            return Err(WalletError::RefundExceedsPayment);
        }
    }
    if amount.get() > sum(left.iter().map(|(_, n)| *n))? {
        return Err(WalletError::RefundExceedsPayment);
    }
    let mut wanted = amount.get();
    let mut returns = Vec::new();
    for (account_id, room) in left.into_iter().rev() {
        if let Some(given) = Amount::new(take(wanted, room)) {
            returns.push(Deduction { account_id, amount: given });
            wanted -= given.get();
        }
    }
    Ok(RefundPlan { amount, returns })
}

impl RefundPlan {
    /// The refund's legs: from the account that received the payment back to each account.
    pub fn legs(&self, receiver: AccountId) -> Vec<Leg> {
        self.returns
            .iter()
            .map(|r| Leg { debit: receiver, credit: r.account_id, amount: r.amount, business: BusinessType::Refund })
            .collect()
    }

    pub fn transfers(
        &self,
        receiver: AccountId,
        meta: &TransferMeta,
        next_id: &mut dyn FnMut() -> TransferId,
    ) -> Vec<TransferRequest> {
        linked_chain(&self.legs(receiver), Settlement::Immediate, meta, next_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::TransferAction;
    use crate::wallet::tests::{acc, ids, money};

    fn d(account: u128, amount: i64) -> Deduction {
        Deduction { account_id: acc(account), amount: money(amount) }
    }

    fn returns(plan: &RefundPlan) -> Vec<(u128, i64)> {
        plan.returns.iter().map(|r| (r.account_id.as_u128(), r.amount.get())).collect()
    }

    /// A canteen payment of 15.00: 12.00 of subsidy (account 2), then 3.00 of recharged money (1).
    fn paid() -> Vec<Deduction> {
        vec![d(2, 1200), d(1, 300)]
    }

    #[test]
    fn a_full_refund_gives_every_account_back_what_it_gave() {
        let plan = plan_refund(&paid(), &[], 1500).unwrap();
        assert_eq!(returns(&plan), [(1, 300), (2, 1200)]);
    }

    #[test]
    fn a_partial_refund_refills_the_last_account_drawn_on_first() {
        let plan = plan_refund(&paid(), &[], 500).unwrap();
        assert_eq!(returns(&plan), [(1, 300), (2, 200)]);
        // What the payment still holds, 10.00 of subsidy, is what a payment of 10.00 would have taken.
        let small = plan_refund(&paid(), &[], 200).unwrap();
        assert_eq!(returns(&small), [(1, 200)]);
    }

    #[test]
    fn refunds_in_several_parts_add_up_to_the_payment_and_no_more() {
        let first = plan_refund(&paid(), &[], 200).unwrap();
        let second = plan_refund(&paid(), &first.returns, 600).unwrap();
        assert_eq!(returns(&second), [(1, 100), (2, 500)]);
        let so_far: Vec<Deduction> = first.returns.iter().chain(&second.returns).copied().collect();
        let third = plan_refund(&paid(), &so_far, 700).unwrap();
        assert_eq!(returns(&third), [(2, 700)]);
        let all: Vec<Deduction> = so_far.iter().chain(&third.returns).copied().collect();
        assert_eq!(plan_refund(&paid(), &all, 1), Err(WalletError::RefundExceedsPayment));
    }

    #[test]
    fn a_refund_beyond_what_is_left_is_refused() {
        assert_eq!(plan_refund(&paid(), &[], 1501), Err(WalletError::RefundExceedsPayment));
        assert_eq!(plan_refund(&paid(), &[d(1, 300)], 1201), Err(WalletError::RefundExceedsPayment));
        assert!(plan_refund(&paid(), &[d(1, 300)], 1200).is_ok());
    }

    #[test]
    fn earlier_refunds_that_the_payment_cannot_explain_are_refused() {
        assert_eq!(plan_refund(&paid(), &[d(9, 1)], 1), Err(WalletError::RefundExceedsPayment));
        assert_eq!(plan_refund(&paid(), &[d(1, 301)], 1), Err(WalletError::RefundExceedsPayment));
    }

    #[test]
    fn an_invalid_amount_is_refused() {
        assert_eq!(plan_refund(&paid(), &[], 0), Err(WalletError::InvalidAmount));
    }

    #[test]
    fn the_refund_is_one_chain_from_the_receiving_account() {
        let plan = plan_refund(&paid(), &[], 500).unwrap();
        let requests = plan.transfers(acc(50), &TransferMeta::new(Some("refund-1".into())), &mut ids(1));
        assert_eq!(
            requests[0].action,
            TransferAction::Post {
                debit_account_id: acc(50),
                credit_account_id: acc(1),
                amount: money(300),
                balancing: false
            }
        );
        assert_eq!(requests[1].code, "refund");
        assert!(requests[0].linked && !requests[1].linked);
    }
}
