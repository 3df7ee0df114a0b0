//! Recharging (充值) with tiers and their bonus (充值返利, 充值赠送), and refunding a recharge.
//!
//! Tiers (充值档位) are thresholds with a validity window: "pay 100, get 10, from the 1st to the 7th"
//! (the franchise wallet adds start and end times for short promotions). A recharge earns the bonus
//! of the highest tier it reaches among those valid at its time, once: paying 250 against "100 → 10"
//! earns 10, not 20, because tiers are the fixed steps a member picks from, not a rate. The bonus
//! lands in the member's bonus account, which cannot be withdrawn (the ETC wallet's 红包).
//!
//! Refunding a recharge takes back its bonus, in proportion to the part refunded: what of it is
//! unspent is taken back from the bonus account, and what was spent is deducted from the cash refund,
//! since the bonus was given on condition that the money stayed.

use super::arith::{add, positive, sub};
use super::chain::{linked_chain, BusinessType, Leg, Settlement, TransferMeta};
use super::debt::{plan_repayment, Repayment};
use super::payment::Deduction;
use super::view::Wallet;
use super::WalletError;
use crate::ledger::TransferRequest;
use crate::{AccountId, Amount, Currency, Timestamp, TransferId};

/// A tier: recharging at least `pay` between `starts_at` (inclusive) and `ends_at` (exclusive) earns
/// `bonus`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RechargeTier {
    pay: Amount,
    bonus: i64,
    starts_at: Timestamp,
    ends_at: Timestamp,
}

impl RechargeTier {
    pub fn new(pay: i64, bonus: i64, starts_at: Timestamp, ends_at: Timestamp) -> Result<RechargeTier, WalletError> {
        let pay = Amount::new(pay).ok_or(WalletError::RechargeTierInvalid)?;
        if bonus < 0 || ends_at <= starts_at {
            return Err(WalletError::RechargeTierInvalid);
        }
        Ok(RechargeTier { pay, bonus, starts_at, ends_at })
    }

    pub fn pay(&self) -> Amount {
        self.pay
    }

    pub fn bonus(&self) -> i64 {
        self.bonus
    }

    pub fn starts_at(&self) -> Timestamp {
        self.starts_at
    }

    pub fn ends_at(&self) -> Timestamp {
        self.ends_at
    }

    pub fn is_valid_at(&self, at: Timestamp) -> bool {
        self.starts_at <= at && at < self.ends_at
    }
}

/// A platform's (or a franchisee's) recharge tiers in one currency.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RechargeTiers {
    currency: Currency,
    tiers: Vec<RechargeTier>,
}

impl RechargeTiers {
    pub fn new(currency: Currency, tiers: Vec<RechargeTier>) -> RechargeTiers {
        RechargeTiers { currency, tiers }
    }

    pub fn currency(&self) -> Currency {
        self.currency
    }

    /// The tiers, in the order configured.
    pub fn tiers(&self) -> &[RechargeTier] {
        &self.tiers
    }

    /// The tier a recharge of `amount` at `at` earns: among those valid then and reached by the
    /// amount, the one with the highest threshold (then the larger bonus, should two share one).
    pub fn applicable(&self, amount: Amount, at: Timestamp) -> Option<&RechargeTier> {
        self.tiers.iter().filter(|t| t.is_valid_at(at) && t.pay <= amount).max_by_key(|t| (t.pay, t.bonus))
    }
}

/// A recharge as recorded, which its refunds read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Recharge {
    pub amount: Amount,
    pub bonus: i64,
    /// Cash refunded so far, counting what was deducted for spent bonus.
    pub refunded: i64,
    /// Bonus forfeited by refunds so far, taken back or deducted.
    pub bonus_forfeited: i64,
}

/// What a recharge does: repay debt, credit the account, grant a bonus.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RechargePlan {
    pub amount: Amount,
    pub target: AccountId,
    pub repayment: Repayment,
    pub tier: Option<RechargeTier>,
    /// The bonus and the account it lands in; `None` when no tier applies or its bonus is zero.
    pub bonus: Option<Deduction>,
}

/// Plans a recharge of `amount` into `target` at `at`: repayment of any debt first (`debt.rs`), then
/// credit, and the bonus of the tier it reaches into `bonus_account`.
pub fn plan_recharge(
    wallet: &Wallet,
    target: AccountId,
    amount: i64,
    tiers: &RechargeTiers,
    at: Timestamp,
    bonus_account: Option<AccountId>,
) -> Result<RechargePlan, WalletError> {
    wallet.check_currency(tiers.currency)?;
    let amount = positive(amount)?;
    let repayment = plan_repayment(wallet, target, amount.get())?;
    let tier = tiers.applicable(amount, at).copied();
    let bonus = match tier.and_then(|t| Amount::new(t.bonus)) {
        None => None,
        Some(bonus) => {
            let account_id = bonus_account.ok_or(WalletError::NoBonusAccount)?;
            wallet.get(account_id).ok_or(WalletError::AccountNotInWallet)?;
            Some(Deduction { account_id, amount: bonus })
        }
    };
    Ok(RechargePlan { amount, target, repayment, tier, bonus })
}

impl RechargePlan {
    /// The recharge's record, for its refunds.
    pub fn record(&self) -> Recharge {
        Recharge {
            amount: self.amount,
            bonus: self.bonus.map_or(0, |b| b.amount.get()),
            refunded: 0,
            bonus_forfeited: 0,
        }
    }

    /// Legs from `clearing` (the channel's money received) to the repaid accounts and the target, and
    /// the bonus from `marketing` (the platform's marketing expense).
    pub fn legs(&self, clearing: AccountId, marketing: AccountId) -> Vec<Leg> {
        let mut legs: Vec<Leg> = self
            .repayment
            .repayments
            .iter()
            .map(|r| Leg {
                debit: clearing,
                credit: r.account_id,
                amount: r.amount,
                business: BusinessType::DebtRepayment,
            })
            .collect();
        if let Some(credit) = Amount::new(self.repayment.credit) {
            legs.push(Leg { debit: clearing, credit: self.target, amount: credit, business: BusinessType::Recharge });
        }
        if let Some(bonus) = self.bonus {
            legs.push(Leg {
                debit: marketing,
                credit: bonus.account_id,
                amount: bonus.amount,
                business: BusinessType::RechargeBonus,
            });
        }
        legs
    }

    pub fn transfers(
        &self,
        clearing: AccountId,
        marketing: AccountId,
        meta: &TransferMeta,
        next_id: &mut dyn FnMut() -> TransferId,
    ) -> Vec<TransferRequest> {
        linked_chain(&self.legs(clearing, marketing), Settlement::Immediate, meta, next_id)
    }
}

/// What refunding part of a recharge does.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RechargeRefund {
    /// Taken from the recharged account.
    pub amount: Amount,
    /// Paid back to the member's card: the amount less `bonus_deducted`.
    pub payout: i64,
    /// Unspent bonus taken back from the bonus account.
    pub bonus_taken_back: i64,
    /// Spent bonus, deducted from the refund.
    pub bonus_deducted: i64,
    /// The recharge's record after this refund.
    pub after: Recharge,
}

/// Refunds `amount` of `recharge`, given what of the bonus account is unspent (`bonus_unspent`: its
/// available balance, which may hold other recharges' bonus too, so only up to the forfeited part of
/// this one is taken).
///
/// The bonus forfeited grows with the share refunded: after refunding `r` of a recharge of `R` with
/// bonus `B`, ⌈B·r/R⌉ is forfeited in all (rounded up, so no fraction of a bonus outlives the money
/// that earned it; counted cumulatively, so refunds in parts forfeit exactly `B` once all is
/// refunded). Of what this refund forfeits, the unspent part is taken back from the bonus account and
/// the rest, which was spent, is deducted from the cash paid out.
pub fn plan_recharge_refund(
    recharge: &Recharge,
    amount: i64,
    bonus_unspent: i64,
) -> Result<RechargeRefund, WalletError> {
    let amount = positive(amount)?;
    let left = sub(recharge.amount.get(), recharge.refunded)?;
    if amount.get() > left {
        return Err(WalletError::RefundExceedsRecharge);
    }
    let refunded = recharge.refunded + amount.get();
    let whole = recharge.amount.get() as i128;
    let forfeited_total = ((recharge.bonus as i128 * refunded as i128 + whole - 1) / whole) as i64;
    let forfeited = (forfeited_total - recharge.bonus_forfeited).max(0);
    let bonus_taken_back = forfeited.min(bonus_unspent.max(0));
    let bonus_deducted = forfeited - bonus_taken_back;
    let payout = amount.get() - bonus_deducted;
    if payout < 0 {
        return Err(WalletError::BonusSpentExceedsRefund);
    }
    let after = Recharge { refunded, bonus_forfeited: add(recharge.bonus_forfeited, forfeited)?, ..*recharge };
    Ok(RechargeRefund { amount, payout, bonus_taken_back, bonus_deducted, after })
}

/// The accounts a recharge refund moves money between.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct RechargeRefundAccounts {
    /// The member's account the recharge went into.
    pub recharged: AccountId,
    /// The member's bonus account.
    pub bonus: AccountId,
    /// Money on its way back to the member's card.
    pub clearing: AccountId,
    /// The platform's marketing expense, which paid the bonus and now gets it back.
    pub marketing: AccountId,
}

impl RechargeRefund {
    pub fn legs(&self, accounts: &RechargeRefundAccounts) -> Vec<Leg> {
        let candidates = [
            (accounts.recharged, accounts.clearing, self.payout, BusinessType::RechargeRefund),
            (accounts.recharged, accounts.marketing, self.bonus_deducted, BusinessType::BonusClawback),
            (accounts.bonus, accounts.marketing, self.bonus_taken_back, BusinessType::BonusClawback),
        ];
        candidates
            .into_iter()
            .filter_map(|(debit, credit, n, business)| {
                Amount::new(n).map(|amount| Leg { debit, credit, amount, business })
            })
            .collect()
    }

    pub fn transfers(
        &self,
        accounts: &RechargeRefundAccounts,
        meta: &TransferMeta,
        next_id: &mut dyn FnMut() -> TransferId,
    ) -> Vec<TransferRequest> {
        linked_chain(&self.legs(accounts), Settlement::Immediate, meta, next_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::BalanceLimit;
    use crate::wallet::tests::{acc, account, at, cny, ids, money, wallet};

    const DAY: i64 = 86_400;

    fn tier(pay: i64, bonus: i64) -> RechargeTier {
        RechargeTier::new(pay, bonus, at(0), at(7 * DAY)).unwrap()
    }

    fn tiers() -> RechargeTiers {
        RechargeTiers::new(cny(), vec![tier(10_000, 1000), tier(50_000, 8000), tier(20_000, 2500)])
    }

    #[test]
    fn the_highest_tier_reached_applies_once() {
        assert_eq!(tiers().applicable(money(9_999), at(1)), None);
        assert_eq!(tiers().applicable(money(10_000), at(1)).unwrap().bonus(), 1000);
        assert_eq!(tiers().applicable(money(25_000), at(1)).unwrap().bonus(), 2500);
        assert_eq!(tiers().applicable(money(1_000_000), at(1)).unwrap().bonus(), 8000);
    }

    #[test]
    fn a_tier_applies_from_its_start_until_its_end() {
        assert!(tiers().applicable(money(10_000), at(0)).is_some());
        assert!(tiers().applicable(money(10_000), at(7 * DAY - 1)).is_some());
        assert!(tiers().applicable(money(10_000), at(7 * DAY)).is_none());
        assert!(tiers().applicable(money(10_000), at(-1)).is_none());
    }

    #[test]
    fn an_expired_promotion_gives_way_to_the_standing_tier() {
        let standing = RechargeTier::new(10_000, 500, at(0), at(365 * DAY)).unwrap();
        let promotion = RechargeTier::new(10_000, 1500, at(10 * DAY), at(17 * DAY)).unwrap();
        let tiers = RechargeTiers::new(cny(), vec![standing, promotion]);
        assert_eq!(tiers.applicable(money(10_000), at(12 * DAY)).unwrap().bonus(), 1500);
        assert_eq!(tiers.applicable(money(10_000), at(20 * DAY)).unwrap().bonus(), 500);
    }

    #[test]
    fn malformed_tiers_are_refused() {
        assert_eq!(RechargeTier::new(0, 10, at(0), at(1)), Err(WalletError::RechargeTierInvalid));
        assert_eq!(RechargeTier::new(100, -1, at(0), at(1)), Err(WalletError::RechargeTierInvalid));
        assert_eq!(RechargeTier::new(100, 10, at(1), at(1)), Err(WalletError::RechargeTierInvalid));
    }

    fn member() -> Wallet {
        wallet(vec![account(1, "basic", 0), account(2, "bonus", 0)])
    }

    #[test]
    fn a_recharge_of_100_earns_10_into_the_bonus_account() {
        let plan = plan_recharge(&member(), acc(1), 10_000, &tiers(), at(1), Some(acc(2))).unwrap();
        assert_eq!(plan.repayment.credit, 10_000);
        assert_eq!(plan.bonus, Some(Deduction { account_id: acc(2), amount: money(1000) }));
        let requests = plan.transfers(acc(90), acc(91), &TransferMeta::new(None), &mut ids(1));
        let codes: Vec<&str> = requests.iter().map(|r| r.code.as_str()).collect();
        assert_eq!(codes, ["recharge", "recharge_bonus"]);
        assert!(requests[0].linked && !requests[1].linked);
        assert_eq!(plan.record(), Recharge { amount: money(10_000), bonus: 1000, refunded: 0, bonus_forfeited: 0 });
    }

    #[test]
    fn a_recharge_below_every_tier_earns_nothing_and_needs_no_bonus_account() {
        let plan = plan_recharge(&member(), acc(1), 5000, &tiers(), at(1), None).unwrap();
        assert_eq!((plan.tier, plan.bonus), (None, None));
    }

    #[test]
    fn a_bonus_needs_an_account_of_the_wallet_to_land_in() {
        let refused = plan_recharge(&member(), acc(1), 10_000, &tiers(), at(1), None);
        assert_eq!(refused, Err(WalletError::NoBonusAccount));
        let stray = plan_recharge(&member(), acc(1), 10_000, &tiers(), at(1), Some(acc(9)));
        assert_eq!(stray, Err(WalletError::AccountNotInWallet));
    }

    #[test]
    fn a_recharge_into_an_account_in_debt_repays_it_first() {
        let mut etc = account(1, "basic", -3000);
        etc.limit = BalanceLimit::Floor(5000);
        let w = wallet(vec![etc, account(2, "bonus", 0)]);
        let plan = plan_recharge(&w, acc(1), 10_000, &tiers(), at(1), Some(acc(2))).unwrap();
        assert_eq!((plan.repayment.repaid(), plan.repayment.credit), (3000, 7000));
        let codes: Vec<String> = plan
            .transfers(acc(90), acc(91), &TransferMeta::new(None), &mut ids(1))
            .into_iter()
            .map(|r| r.code)
            .collect();
        assert_eq!(codes, ["debt_repayment", "recharge", "recharge_bonus"]);
    }

    #[test]
    fn tiers_in_another_currency_are_refused() {
        let usd = RechargeTiers::new(crate::Currency::parse("USD").unwrap(), vec![]);
        assert_eq!(plan_recharge(&member(), acc(1), 100, &usd, at(1), None), Err(WalletError::CurrencyMismatch));
    }

    fn recharged() -> Recharge {
        // Paid 100.00, got 10.00 of bonus.
        Recharge { amount: money(10_000), bonus: 1000, refunded: 0, bonus_forfeited: 0 }
    }

    #[test]
    fn refunding_a_recharge_whose_bonus_is_untouched_takes_the_bonus_back_and_pays_out_in_full() {
        let r = plan_recharge_refund(&recharged(), 10_000, 1000).unwrap();
        assert_eq!((r.payout, r.bonus_taken_back, r.bonus_deducted), (10_000, 1000, 0));
    }

    #[test]
    fn refunding_a_recharge_deducts_the_spent_bonus_from_the_refund() {
        // 4.00 of the 10.00 bonus was spent; 6.00 is left in the bonus account. A full refund takes
        // back the 6.00 and pays 100.00 - 4.00 = 96.00 to the card.
        let r = plan_recharge_refund(&recharged(), 10_000, 600).unwrap();
        assert_eq!((r.amount.get(), r.payout, r.bonus_taken_back, r.bonus_deducted), (10_000, 9600, 600, 400));
        // Member paid 100.00, consumed 4.00 of goods, got 96.00 back: the bonus bought nothing.
        let accounts =
            RechargeRefundAccounts { recharged: acc(1), bonus: acc(2), clearing: acc(90), marketing: acc(91) };
        let legs: Vec<(u128, u128, i64)> =
            r.legs(&accounts).iter().map(|l| (l.debit.as_u128(), l.credit.as_u128(), l.amount.get())).collect();
        assert_eq!(legs, [(1, 90, 9600), (1, 91, 400), (2, 91, 600)]);
    }

    #[test]
    fn refunding_what_is_left_after_spending_bonus_and_recharge_alike() {
        // Spent 30.00: the 10.00 bonus first (bonus before basic), then 20.00 of recharged money.
        // Refunding the 80.00 left forfeits 8.00 of bonus, all spent: 72.00 reaches the card.
        let r = plan_recharge_refund(&recharged(), 8000, 0).unwrap();
        assert_eq!((r.payout, r.bonus_taken_back, r.bonus_deducted), (7200, 0, 800));
        assert_eq!(r.after, Recharge { refunded: 8000, bonus_forfeited: 800, ..recharged() });
    }

    #[test]
    fn refunding_part_of_a_recharge_forfeits_that_share_of_the_bonus() {
        // Spent 30.00 of recharged money, bonus untouched; refunding 70.00 forfeits 7.00 of the 10.00.
        let r = plan_recharge_refund(&recharged(), 7000, 1000).unwrap();
        assert_eq!((r.payout, r.bonus_taken_back, r.bonus_deducted), (7000, 700, 0));
        let legs =
            r.legs(&RechargeRefundAccounts { recharged: acc(1), bonus: acc(2), clearing: acc(90), marketing: acc(91) });
        assert_eq!(legs.len(), 2, "no zero leg for the nothing deducted");
    }

    #[test]
    fn refunds_in_parts_forfeit_the_whole_bonus_exactly_once() {
        let odd = Recharge { amount: money(10_000), bonus: 1001, refunded: 0, bonus_forfeited: 0 };
        let first = plan_recharge_refund(&odd, 3333, 1001).unwrap();
        assert_eq!(first.bonus_taken_back, 334, "⌈1001 × 3333 / 10000⌉ = ⌈333.63⌉");
        let second = plan_recharge_refund(&first.after, 3333, 1001 - 334).unwrap();
        let third = plan_recharge_refund(&second.after, 3334, 1001 - 334 - second.bonus_taken_back).unwrap();
        assert_eq!(third.after.bonus_forfeited, 1001);
        assert_eq!(first.bonus_taken_back + second.bonus_taken_back + third.bonus_taken_back, 1001);
        assert_eq!(plan_recharge_refund(&third.after, 1, 0), Err(WalletError::RefundExceedsRecharge));
    }

    #[test]
    fn a_refund_beyond_the_recharge_is_refused() {
        assert_eq!(plan_recharge_refund(&recharged(), 10_001, 1000), Err(WalletError::RefundExceedsRecharge));
        assert_eq!(plan_recharge_refund(&recharged(), 0, 1000), Err(WalletError::InvalidAmount));
    }

    #[test]
    fn spent_bonus_larger_than_the_refund_is_refused() {
        // A generous promotion: pay 10.00, get 20.00; all of it spent, then 1.00 refunded.
        let generous = Recharge { amount: money(1000), bonus: 2000, refunded: 0, bonus_forfeited: 0 };
        assert_eq!(plan_recharge_refund(&generous, 100, 0), Err(WalletError::BonusSpentExceedsRefund));
    }
}
