//! Split payments (分账) and commission: one payment from a member's wallet shared among several
//! receivers, as one linked chain, and its refunds taken back from each receiver.
//!
//! The home-services case: the employer pays 300.00; the worker gets 270.00 and the platform keeps
//! 30.00 as commission. The travel case: the supplier's base price is paid at once and the store's
//! margin is held (escrow) until the trip ends.
//!
//! **Shares.** A payment names 1 to [`SPLIT_RECEIVERS_MAX`] receivers, each once, each with its rule:
//! a fixed amount, a rate in basis points of the payment's amount (commission by rate), or the rest.
//! A rate's share is **rounded down** to the cent (minor unit); the cents rounding drops go to the
//! receiver named `rest` (at most one), which gets the amount less every other share. Without a
//! `rest` receiver the shares must add up to the amount exactly (`split_shares_mismatch`). Every share
//! is positive (`split_share_invalid`).
//!
//! **Legs.** The payer's deductions (in the wallet's deduction order) are matched to the shares in
//! their order: the first deduction pays the first share until either runs out, and so on, so a
//! payment over D accounts to S receivers is at most D + S - 1 transfers, and each share knows which
//! of the payer's accounts paid it (a refund of that share goes back there).
//!
//! **Refunds.** A refund takes from each receiver either what the caller names, or **in proportion to
//! what each still holds** of the payment: each receiver's part is the refund × its holding ÷ the total
//! held, rounded down to the cent, and the cents left over go one each to the receivers with the
//! largest dropped fractions (ties: in the order of the splits). A part never exceeds what the
//! receiver still holds, commission included, so refunds never take more from a receiver than it got.

use super::arith::{add, positive, sub, sum, take};
use super::payment::Deduction;
use super::WalletError;
use crate::{AccountId, Amount};

/// The most receivers one payment is split among.
pub const SPLIT_RECEIVERS_MAX: usize = 10;
/// A rate is 1 to 10000 basis points (0.01% to 100%).
pub const RATE_BP_MAX: u32 = 10_000;

/// How a receiver's share is decided.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ShareRule {
    /// A fixed amount, in minor units.
    Amount(i64),
    /// A rate of the payment's amount in basis points, rounded down to the minor unit.
    RateBp(u32),
    /// The amount less every other share (what rates' rounding drops ends here).
    Rest,
}

/// A receiver as the caller names it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ShareSpec {
    pub receiver: AccountId,
    pub rule: ShareRule,
    /// Held (escrow) until released to the receiver, else the receiver's money at once.
    pub escrow: bool,
}

/// A receiver's decided share.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Share {
    pub receiver: AccountId,
    pub amount: Amount,
    pub escrow: bool,
}

/// Decides each receiver's share of `amount` (the module's rules).
pub fn plan_shares(amount: i64, specs: &[ShareSpec]) -> Result<Vec<Share>, WalletError> {
    let amount = positive(amount)?;
    if specs.is_empty() || specs.len() > SPLIT_RECEIVERS_MAX {
        return Err(WalletError::SplitReceiversInvalid);
    }
    for (i, s) in specs.iter().enumerate() {
        if specs[..i].iter().any(|t| t.receiver == s.receiver) {
            return Err(WalletError::SplitReceiversInvalid);
        }
    }
    if specs.iter().filter(|s| s.rule == ShareRule::Rest).count() > 1 {
        return Err(WalletError::SplitReceiversInvalid);
    }
    let mut amounts: Vec<Option<i64>> = Vec::with_capacity(specs.len());
    for spec in specs {
        amounts.push(match spec.rule {
            ShareRule::Amount(n) => Some(n),
            ShareRule::RateBp(bp) if (1..=RATE_BP_MAX).contains(&bp) => {
                let share = i128::from(amount.get()) * i128::from(bp) / i128::from(RATE_BP_MAX);
                Some(i64::try_from(share).map_err(|_| WalletError::AmountOverflow)?)
            }
            ShareRule::RateBp(_) => return Err(WalletError::SplitShareInvalid),
            ShareRule::Rest => None,
        });
    }
    if amounts.iter().flatten().any(|n| *n <= 0) {
        return Err(WalletError::SplitShareInvalid);
    }
    let named = sum(amounts.iter().flatten().copied())?;
    let rest = sub(amount.get(), named)?;
    let mut shares = Vec::with_capacity(specs.len());
    for (spec, decided) in specs.iter().zip(amounts) {
        let n = match decided {
            Some(n) => n,
            None if rest > 0 => rest,
            None => return Err(WalletError::SplitSharesMismatch),
        };
        shares.push(Share { receiver: spec.receiver, amount: Amount::new(n).expect("positive"), escrow: spec.escrow });
    }
    if sum(shares.iter().map(|s| s.amount.get()))? != amount.get() {
        return Err(WalletError::SplitSharesMismatch);
    }
    Ok(shares)
}

/// One transfer of a split payment: `amount` from the payer's account `from` to share `share`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct ShareLeg {
    pub share: usize,
    pub from: AccountId,
    pub amount: Amount,
}

/// Matches the payer's deductions to the shares in order (the module's legs). The deductions must add
/// up to the shares' total.
pub fn allocate_shares(deductions: &[Deduction], shares: &[Share]) -> Result<Vec<ShareLeg>, WalletError> {
    if sum(deductions.iter().map(|d| d.amount.get()))? != sum(shares.iter().map(|s| s.amount.get()))? {
        return Err(WalletError::SplitSharesMismatch);
    }
    let mut legs = Vec::new();
    let mut left: Vec<i64> = deductions.iter().map(|d| d.amount.get()).collect();
    let mut d = 0;
    for (i, share) in shares.iter().enumerate() {
        let mut wanted = share.amount.get();
        while wanted > 0 {
            let taken = take(wanted, left[d]);
            if let Some(amount) = Amount::new(taken) {
                legs.push(ShareLeg { share: i, from: deductions[d].account_id, amount });
                wanted -= taken;
                left[d] -= taken;
            }
            if left[d] == 0 {
                d += 1;
            }
        }
    }
    Ok(legs)
}

/// What a refund of `amount` takes from each receiver: `holding[i]` is what receiver `i` still holds
/// of the payment (its share less what refunds took already). `named`, when given, is the caller's
/// part per receiver (same order; 0 for none): they must add up to the amount
/// (`split_shares_mismatch`) and none may exceed the holding (`split_refund_exceeds_share`).
/// Otherwise, in proportion (the module's rounding rule).
pub fn plan_share_refund(holding: &[i64], amount: i64, named: Option<&[i64]>) -> Result<Vec<i64>, WalletError> {
    let amount = positive(amount)?.get();
    if holding.iter().any(|h| *h < 0) {
        return Err(WalletError::RefundExceedsPayment);
    }
    let held = sum(holding.iter().copied())?;
    if amount > held {
        return Err(WalletError::RefundExceedsPayment);
    }
    if let Some(named) = named {
        if named.len() != holding.len() || named.iter().any(|n| *n < 0) || sum(named.iter().copied())? != amount {
            return Err(WalletError::SplitSharesMismatch);
        }
        if named.iter().zip(holding).any(|(n, h)| n > h) {
            return Err(WalletError::SplitRefundExceedsShare);
        }
        return Ok(named.to_vec());
    }
    let (amount, held) = (i128::from(amount), i128::from(held));
    let mut parts: Vec<i64> = Vec::with_capacity(holding.len());
    let mut dropped: Vec<(i128, usize)> = Vec::with_capacity(holding.len());
    for (i, h) in holding.iter().enumerate() {
        let exact = amount * i128::from(*h);
        parts.push(i64::try_from(exact / held).map_err(|_| WalletError::AmountOverflow)?);
        dropped.push((exact % held, i));
    }
    let mut left = amount as i64 - sum(parts.iter().copied())?;
    // Largest dropped fraction first; ties in the order of the splits.
    dropped.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
    for (fraction, i) in dropped {
        if left == 0 {
            break;
        }
        if fraction > 0 {
            parts[i] = add(parts[i], 1)?;
            left -= 1;
        }
    }
    debug_assert_eq!(left, 0, "the dropped fractions add up to the cents left");
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wallet::tests::{acc, money};

    fn spec(receiver: u128, rule: ShareRule) -> ShareSpec {
        ShareSpec { receiver: acc(receiver), rule, escrow: false }
    }

    fn amounts(shares: &[Share]) -> Vec<i64> {
        shares.iter().map(|s| s.amount.get()).collect()
    }

    #[test]
    fn home_services_the_worker_gets_270_and_the_platform_keeps_30() {
        let shares = plan_shares(30_000, &[spec(1, ShareRule::Rest), spec(2, ShareRule::RateBp(1000))]).unwrap();
        assert_eq!(amounts(&shares), [27_000, 3000]);
        let fixed =
            plan_shares(30_000, &[spec(1, ShareRule::Amount(27_000)), spec(2, ShareRule::Amount(3000))]).unwrap();
        assert_eq!(amounts(&fixed), [27_000, 3000]);
    }

    #[test]
    fn a_rate_is_rounded_down_and_the_rest_gets_the_cents() {
        // 3.33% of 100.01 is 3.330333: 3.33 to the platform, the worker 96.68.
        let shares = plan_shares(10_001, &[spec(1, ShareRule::Rest), spec(2, ShareRule::RateBp(333))]).unwrap();
        assert_eq!(amounts(&shares), [9668, 333]);
    }

    #[test]
    fn shares_must_add_up_to_the_amount() {
        let short = plan_shares(30_000, &[spec(1, ShareRule::Amount(27_000)), spec(2, ShareRule::RateBp(999))]);
        assert_eq!(short, Err(WalletError::SplitSharesMismatch));
        let over = plan_shares(100, &[spec(1, ShareRule::Amount(101))]);
        assert!(over.is_err());
        let no_rest = plan_shares(100, &[spec(1, ShareRule::Amount(100)), spec(2, ShareRule::Rest)]);
        assert_eq!(no_rest, Err(WalletError::SplitSharesMismatch));
    }

    #[test]
    fn receivers_are_one_to_ten_each_once_with_positive_shares() {
        assert_eq!(plan_shares(100, &[]), Err(WalletError::SplitReceiversInvalid));
        let eleven: Vec<ShareSpec> = (1..=11).map(|i| spec(i, ShareRule::Amount(1))).collect();
        assert_eq!(plan_shares(11, &eleven), Err(WalletError::SplitReceiversInvalid));
        assert!(plan_shares(10, &eleven[..10]).is_ok());
        let twice = [spec(1, ShareRule::Amount(50)), spec(1, ShareRule::Amount(50))];
        assert_eq!(plan_shares(100, &twice), Err(WalletError::SplitReceiversInvalid));
        let two_rests = [spec(1, ShareRule::Rest), spec(2, ShareRule::Rest)];
        assert_eq!(plan_shares(100, &two_rests), Err(WalletError::SplitReceiversInvalid));
        // A rate that rounds to nothing, a zero amount, a rate beyond 100%.
        assert_eq!(
            plan_shares(99, &[spec(1, ShareRule::Rest), spec(2, ShareRule::RateBp(1))]),
            Err(WalletError::SplitShareInvalid)
        );
        assert_eq!(plan_shares(99, &[spec(1, ShareRule::Amount(0))]), Err(WalletError::SplitShareInvalid));
        assert_eq!(plan_shares(99, &[spec(1, ShareRule::RateBp(10_001))]), Err(WalletError::SplitShareInvalid));
    }

    #[test]
    fn deductions_pay_the_shares_in_order() {
        let deductions = [
            Deduction { account_id: acc(10), amount: money(1200) },
            Deduction { account_id: acc(11), amount: money(300) },
        ];
        let shares = plan_shares(1500, &[spec(1, ShareRule::Amount(1000)), spec(2, ShareRule::Rest)]).unwrap();
        let legs = allocate_shares(&deductions, &shares).unwrap();
        let legs: Vec<(usize, u128, i64)> = legs.iter().map(|l| (l.share, l.from.as_u128(), l.amount.get())).collect();
        assert_eq!(legs, [(0, 10, 1000), (1, 10, 200), (1, 11, 300)]);
        assert_eq!(allocate_shares(&deductions[..1], &shares), Err(WalletError::SplitSharesMismatch));
    }

    #[test]
    fn a_refund_takes_in_proportion_and_the_cents_go_by_largest_fraction() {
        // 270.00 and 30.00: a refund of 100.00 takes 90.00 and 10.00.
        assert_eq!(plan_share_refund(&[27_000, 3000], 10_000, None).unwrap(), [9000, 1000]);
        // 0.01 of three equal holdings: the first in order.
        assert_eq!(plan_share_refund(&[100, 100, 100], 1, None).unwrap(), [1, 0, 0]);
        // 1.00 of 2/3 and 1/3: 66.67 and 33.33 (0.666... is the larger fraction).
        assert_eq!(plan_share_refund(&[200, 100], 100, None).unwrap(), [67, 33]);
        // Everything held is refundable, and no more.
        assert_eq!(plan_share_refund(&[7, 0, 5], 12, None).unwrap(), [7, 0, 5]);
        assert_eq!(plan_share_refund(&[7, 5], 13, None), Err(WalletError::RefundExceedsPayment));
    }

    #[test]
    fn proportional_parts_never_exceed_the_holding_and_add_up_exactly() {
        let holdings = [[1, 2, 3], [9999, 1, 0], [333, 333, 334], [1, 1, 1]];
        for holding in holdings {
            let total: i64 = holding.iter().sum();
            for amount in 1..=total.min(500) {
                let parts = plan_share_refund(&holding, amount, None).unwrap();
                assert_eq!(parts.iter().sum::<i64>(), amount);
                assert!(parts.iter().zip(&holding).all(|(p, h)| p <= h && *p >= 0), "{holding:?} {amount} {parts:?}");
            }
        }
    }

    #[test]
    fn a_named_refund_is_taken_as_named_within_each_holding() {
        assert_eq!(plan_share_refund(&[27_000, 3000], 3000, Some(&[0, 3000])).unwrap(), [0, 3000]);
        assert_eq!(
            plan_share_refund(&[27_000, 3000], 3001, Some(&[0, 3001])),
            Err(WalletError::SplitRefundExceedsShare)
        );
        assert_eq!(plan_share_refund(&[27_000, 3000], 3000, Some(&[1, 3000])), Err(WalletError::SplitSharesMismatch));
    }
}
