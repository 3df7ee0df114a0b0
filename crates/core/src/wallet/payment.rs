//! Paying from a wallet (余额支付, 钱包消费): the amount is deducted from the member's accounts in the
//! wallet's order (the member's own, else subsidy first, as the canteen wallet does; accounts of
//! priority `Never` are never drawn on), and the deductions go to the receiving account as one linked
//! chain.
//!
//! The accounts' own money is spent first, in order; only then is any overdraft drawn on, in the same
//! order, so that a payment puts an account into debt only when the whole wallet's money is not enough
//! (the ETC wallet, whose tolls are deducted even when it is empty).
//!
//! When the wallet cannot cover the amount, the caller says what to do ([`Shortfall`]): refuse, or pay
//! what the wallet can and report the remainder for another payment method (一单多付).
//!
//! A payment may also be authorised first: the same deductions as holds (冻结) with a timeout, later
//! captured in full or in part, the rest released.

use super::arith::{positive, sub, sum, take};
use super::chain::{link, linked_chain, BusinessType, Leg, Settlement, TransferMeta};
use super::order::{AccountOrder, NeverDrawn};
use super::view::Wallet;
use super::WalletError;
use crate::ledger::{TransferAction, TransferRequest};
use crate::{AccountId, Amount, TransferId};

/// An amount taken from (or, for a refund, given back to) one account.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Deduction {
    pub account_id: AccountId,
    pub amount: Amount,
}

/// What to do when the wallet cannot cover a payment.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Shortfall {
    /// `insufficient_funds`: the wallet pays all or nothing.
    Refuse,
    /// Split payment: the wallet pays what it can, and the plan's remainder is left for another
    /// method. A wallet that can pay nothing at all is still `insufficient_funds`.
    PayWhatItCan,
}

/// The deductions of a payment, in order.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PaymentPlan {
    /// The amount asked for.
    pub amount: Amount,
    /// One per account drawn on, in the order drawn.
    pub deductions: Vec<Deduction>,
    /// What the wallet does not cover, zero unless the caller allowed a split payment.
    pub remainder: i64,
}

/// Deducts `amount` from the wallet's accounts in `order`.
pub fn plan_payment(
    wallet: &Wallet,
    order: &AccountOrder,
    amount: i64,
    shortfall: Shortfall,
) -> Result<PaymentPlan, WalletError> {
    let amount = positive(amount)?;
    let accounts = order.arrange(wallet, NeverDrawn::Excluded);
    let mut wanted = amount.get();
    let mut deductions: Vec<Deduction> = Vec::new();
    // Own money first, then overdraft; an account drawn on in both passes is one deduction.
    let passes: [fn(&super::WalletAccount) -> i64; 2] = [|a| a.spendable(), |a| a.overdraft_headroom()];
    for room_of in passes {
        for account in &accounts {
            let Some(taken) = Amount::new(take(wanted, room_of(account))) else { continue };
            wanted -= taken.get();
            match deductions.iter_mut().find(|d| d.account_id == account.id()) {
                Some(d) => d.amount = Amount::new(d.amount.get() + taken.get()).expect("a sum of parts of the amount"),
                None => deductions.push(Deduction { account_id: account.id(), amount: taken }),
            }
        }
    }
    if wanted > 0 && (shortfall == Shortfall::Refuse || deductions.is_empty()) {
        return Err(WalletError::InsufficientFunds);
    }
    Ok(PaymentPlan { amount, deductions, remainder: wanted })
}

impl PaymentPlan {
    /// What the wallet pays: the amount less the remainder.
    pub fn paid(&self) -> i64 {
        self.amount.get() - self.remainder
    }

    pub fn legs(&self, receiver: AccountId) -> Vec<Leg> {
        self.deductions
            .iter()
            .map(|d| Leg { debit: d.account_id, credit: receiver, amount: d.amount, business: BusinessType::Pay })
            .collect()
    }

    /// The payment as one linked chain of posted transfers to `receiver`.
    pub fn transfers(
        &self,
        receiver: AccountId,
        meta: &TransferMeta,
        next_id: &mut dyn FnMut() -> TransferId,
    ) -> Vec<TransferRequest> {
        linked_chain(&self.legs(receiver), Settlement::Immediate, meta, next_id)
    }

    /// The payment as holds that expire after `timeout_s` unless captured: the first step of
    /// authorise-then-capture.
    pub fn authorise(
        &self,
        receiver: AccountId,
        timeout_s: u32,
        meta: &TransferMeta,
        next_id: &mut dyn FnMut() -> TransferId,
    ) -> Result<Authorisation, WalletError> {
        let settlement = Settlement::hold(timeout_s)?;
        let requests = linked_chain(&self.legs(receiver), settlement, meta, next_id);
        let holds = requests
            .iter()
            .zip(&self.deductions)
            .map(|(r, d)| Hold { pending_id: r.id, account_id: d.account_id, amount: d.amount })
            .collect();
        Ok(Authorisation { holds, requests })
    }
}

/// One account's money set aside by an authorisation: the pending transfer that holds it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Hold {
    pub pending_id: TransferId,
    pub account_id: AccountId,
    pub amount: Amount,
}

/// An authorised payment: its holds, in deduction order, and the requests that make them.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Authorisation {
    pub holds: Vec<Hold>,
    pub requests: Vec<TransferRequest>,
}

/// A capture: what was taken from each account (the payment's deductions, which a refund later
/// reads) and the requests that post and release the holds.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Capture {
    pub captured: Vec<Deduction>,
    /// Held but not captured: given back to the accounts.
    pub released: i64,
    pub requests: Vec<TransferRequest>,
}

/// Captures `amount` of an authorisation's holds: allocated over the holds in their order (the
/// deduction order), each posted in full or in part; a part post releases the rest of its hold, and
/// holds the amount does not reach are voided. One linked chain.
pub fn plan_capture(
    holds: &[Hold],
    amount: i64,
    meta: &TransferMeta,
    next_id: &mut dyn FnMut() -> TransferId,
) -> Result<Capture, WalletError> {
    if holds.is_empty() {
        return Err(WalletError::NoHolds);
    }
    let amount = positive(amount)?;
    let held = sum(holds.iter().map(|h| h.amount.get()))?;
    if amount.get() > held {
        return Err(WalletError::CaptureExceedsHolds);
    }
    let mut wanted = amount.get();
    let mut captured = Vec::new();
    let mut actions = Vec::with_capacity(holds.len());
    for hold in holds {
        let taken = take(wanted, hold.amount.get());
        wanted -= taken;
        let action = match Amount::new(taken) {
            None => TransferAction::VoidPending { pending_id: hold.pending_id },
            Some(all) if all == hold.amount => {
                TransferAction::PostPending { pending_id: hold.pending_id, amount: None }
            }
            Some(part) => TransferAction::PostPending { pending_id: hold.pending_id, amount: Some(part) },
        };
        if let Some(taken) = Amount::new(taken) {
            captured.push(Deduction { account_id: hold.account_id, amount: taken });
        }
        actions.push((action, BusinessType::Pay));
    }
    let released = sub(held, amount.get())?;
    Ok(Capture { captured, released, requests: link(actions, meta, next_id) })
}

/// Releases every hold of an authorisation (the payment is cancelled): one linked chain of voids.
pub fn release_holds(
    holds: &[Hold],
    meta: &TransferMeta,
    next_id: &mut dyn FnMut() -> TransferId,
) -> Result<Vec<TransferRequest>, WalletError> {
    if holds.is_empty() {
        return Err(WalletError::NoHolds);
    }
    let actions =
        holds.iter().map(|h| (TransferAction::VoidPending { pending_id: h.pending_id }, BusinessType::Pay)).collect();
    Ok(link(actions, meta, next_id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::BalanceLimit;
    use crate::wallet::tests::{acc, account, held, ids, money, tr, wallet, with_flags};

    fn deductions(plan: &PaymentPlan) -> Vec<(u128, i64)> {
        plan.deductions.iter().map(|d| (d.account_id.as_u128(), d.amount.get())).collect()
    }

    fn canteen() -> Wallet {
        wallet(vec![account(1, "basic", 5000), account(2, "subsidy", 1200), account(3, "margin", 100_000)])
    }

    #[test]
    fn a_canteen_payment_spends_subsidy_money_first() {
        let plan = plan_payment(&canteen(), &AccountOrder::by_type_priority(), 1500, Shortfall::Refuse).unwrap();
        assert_eq!(deductions(&plan), [(2, 1200), (1, 300)]);
        assert_eq!((plan.paid(), plan.remainder), (1500, 0));
    }

    #[test]
    fn a_payment_the_first_account_covers_takes_only_from_it() {
        let plan = plan_payment(&canteen(), &AccountOrder::by_type_priority(), 800, Shortfall::Refuse).unwrap();
        assert_eq!(deductions(&plan), [(2, 800)]);
    }

    #[test]
    fn the_members_own_order_wins_over_the_types_priority() {
        let order = AccountOrder::chosen(vec![acc(1)]).unwrap();
        let plan = plan_payment(&canteen(), &order, 5500, Shortfall::Refuse).unwrap();
        assert_eq!(deductions(&plan), [(1, 5000), (2, 500)]);
    }

    #[test]
    fn a_margin_deposit_is_never_spent_even_when_the_rest_falls_short() {
        let refused = plan_payment(&canteen(), &AccountOrder::by_type_priority(), 6201, Shortfall::Refuse);
        assert_eq!(refused, Err(WalletError::InsufficientFunds));
        let order = AccountOrder::chosen(vec![acc(3)]).unwrap();
        let plan = plan_payment(&canteen(), &order, 100, Shortfall::Refuse).unwrap();
        assert_eq!(deductions(&plan), [(2, 100)]);
    }

    #[test]
    fn a_split_payment_pays_what_the_wallet_can_and_reports_the_rest() {
        let plan =
            plan_payment(&canteen(), &AccountOrder::by_type_priority(), 10_000, Shortfall::PayWhatItCan).unwrap();
        assert_eq!(deductions(&plan), [(2, 1200), (1, 5000)]);
        assert_eq!((plan.paid(), plan.remainder), (6200, 3800));
    }

    #[test]
    fn an_empty_wallet_pays_nothing_even_in_a_split_payment() {
        let empty = wallet(vec![account(1, "basic", 0)]);
        let refused = plan_payment(&empty, &AccountOrder::by_type_priority(), 100, Shortfall::PayWhatItCan);
        assert_eq!(refused, Err(WalletError::InsufficientFunds));
    }

    #[test]
    fn frozen_money_and_blocked_accounts_do_not_pay() {
        let w = wallet(vec![
            held(account(1, "basic", 1000), 600),
            with_flags(account(2, "subsidy", 1000), |f| f.debits_blocked = true),
        ]);
        let plan = plan_payment(&w, &AccountOrder::by_type_priority(), 1000, Shortfall::PayWhatItCan).unwrap();
        assert_eq!(deductions(&plan), [(1, 400)]);
    }

    #[test]
    fn an_overdraft_is_drawn_on_only_after_all_the_wallets_own_money() {
        let mut etc = account(1, "basic", 300);
        etc.limit = BalanceLimit::Floor(10_000);
        let w = wallet(vec![etc, account(2, "bonus", 200)]);
        // bonus (2) before basic (3); own money 200 + 300, then basic's overdraft for the rest.
        let plan = plan_payment(&w, &AccountOrder::by_type_priority(), 1000, Shortfall::Refuse).unwrap();
        assert_eq!(deductions(&plan), [(2, 200), (1, 800)]);
        let over = plan_payment(&w, &AccountOrder::by_type_priority(), 10_501, Shortfall::Refuse);
        assert_eq!(over, Err(WalletError::InsufficientFunds));
    }

    #[test]
    fn invalid_amounts_are_refused() {
        for bad in [0, -1] {
            let refused = plan_payment(&canteen(), &AccountOrder::by_type_priority(), bad, Shortfall::Refuse);
            assert_eq!(refused, Err(WalletError::InvalidAmount));
        }
    }

    #[test]
    fn the_payment_is_one_chain_to_the_receiving_account() {
        let plan = plan_payment(&canteen(), &AccountOrder::by_type_priority(), 1500, Shortfall::Refuse).unwrap();
        let requests = plan.transfers(acc(50), &TransferMeta::new(Some("order-7".into())), &mut ids(10));
        assert_eq!(requests.len(), 2);
        assert!(requests[0].linked && !requests[1].linked);
        assert_eq!(
            requests[0].action,
            TransferAction::Post {
                debit_account_id: acc(2),
                credit_account_id: acc(50),
                amount: money(1200),
                balancing: false
            }
        );
        assert_eq!(requests[1].code, "pay");
    }

    fn authorised() -> Authorisation {
        let plan = plan_payment(&canteen(), &AccountOrder::by_type_priority(), 1500, Shortfall::Refuse).unwrap();
        plan.authorise(acc(50), 600, &TransferMeta::new(None), &mut ids(10)).unwrap()
    }

    #[test]
    fn an_authorisation_holds_the_same_deductions_with_a_timeout() {
        let auth = authorised();
        assert_eq!(
            auth.holds,
            [
                Hold { pending_id: tr(10), account_id: acc(2), amount: money(1200) },
                Hold { pending_id: tr(11), account_id: acc(1), amount: money(300) }
            ]
        );
        assert!(matches!(auth.requests[0].action, TransferAction::Hold { timeout_s: Some(600), .. }));
        assert!(auth.requests[0].linked && !auth.requests[1].linked);
        let plan = plan_payment(&canteen(), &AccountOrder::by_type_priority(), 1, Shortfall::Refuse).unwrap();
        assert_eq!(
            plan.authorise(acc(50), 0, &TransferMeta::new(None), &mut ids(1)),
            Err(WalletError::HoldTimeoutInvalid)
        );
    }

    #[test]
    fn capturing_all_posts_every_hold_whole() {
        let capture = plan_capture(&authorised().holds, 1500, &TransferMeta::new(None), &mut ids(20)).unwrap();
        let actions: Vec<&TransferAction> = capture.requests.iter().map(|r| &r.action).collect();
        assert_eq!(
            actions,
            [
                &TransferAction::PostPending { pending_id: tr(10), amount: None },
                &TransferAction::PostPending { pending_id: tr(11), amount: None }
            ]
        );
        assert_eq!(capture.released, 0);
    }

    #[test]
    fn capturing_part_takes_the_holds_in_order_and_releases_the_rest() {
        let holds = authorised().holds;
        let capture = plan_capture(&holds, 1000, &TransferMeta::new(None), &mut ids(20)).unwrap();
        let actions: Vec<&TransferAction> = capture.requests.iter().map(|r| &r.action).collect();
        assert_eq!(
            actions,
            [
                &TransferAction::PostPending { pending_id: tr(10), amount: Some(money(1000)) },
                &TransferAction::VoidPending { pending_id: tr(11) }
            ]
        );
        assert_eq!(capture.captured, [Deduction { account_id: acc(2), amount: money(1000) }]);
        assert_eq!(capture.released, 500);
        assert!(capture.requests[0].linked && !capture.requests[1].linked);

        let capture = plan_capture(&holds, 1300, &TransferMeta::new(None), &mut ids(20)).unwrap();
        assert_eq!(
            capture.requests[1].action,
            TransferAction::PostPending { pending_id: tr(11), amount: Some(money(100)) }
        );
        assert_eq!(capture.released, 200);
    }

    #[test]
    fn a_capture_beyond_the_holds_or_of_nothing_is_refused() {
        let holds = authorised().holds;
        let meta = TransferMeta::new(None);
        assert_eq!(plan_capture(&holds, 1501, &meta, &mut ids(20)), Err(WalletError::CaptureExceedsHolds));
        assert_eq!(plan_capture(&holds, 0, &meta, &mut ids(20)), Err(WalletError::InvalidAmount));
        assert_eq!(plan_capture(&[], 10, &meta, &mut ids(20)), Err(WalletError::NoHolds));
    }

    #[test]
    fn releasing_voids_every_hold_in_one_chain() {
        let requests = release_holds(&authorised().holds, &TransferMeta::new(None), &mut ids(30)).unwrap();
        assert_eq!(requests[0].action, TransferAction::VoidPending { pending_id: tr(10) });
        assert_eq!(requests[1].action, TransferAction::VoidPending { pending_id: tr(11) });
        assert!(requests[0].linked && !requests[1].linked);
        assert_eq!(release_holds(&[], &TransferMeta::new(None), &mut ids(30)), Err(WalletError::NoHolds));
    }
}
