//! Withdrawal fees (提现手续费): a fixed amount, or a rate with a floor and a ceiling, charged once
//! per withdrawal as the member sees it, and paid by the member (out of the amount) or the platform.

use super::WalletError;
use crate::Amount;

/// Basis points in a whole: 10000 bp = 100%.
pub const BASIS_POINTS_PER_WHOLE: u32 = 10_000;

/// How a withdrawal's fee is computed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FeeRule {
    Free,
    Fixed(Amount),
    /// `basis_points` of the amount, rounded up to a whole minor unit, then raised to `minimum` and
    /// lowered to `maximum` (when there is one). Build with [`FeeRule::rate`].
    Rate {
        basis_points: u32,
        minimum: i64,
        maximum: Option<i64>,
    },
}

impl FeeRule {
    pub fn fixed(minor_units: i64) -> Result<FeeRule, WalletError> {
        Amount::new(minor_units).map(FeeRule::Fixed).ok_or(WalletError::FeeRuleInvalid)
    }

    /// A rate of 1 to 10000 basis points, with 0 <= minimum <= maximum.
    pub fn rate(basis_points: u32, minimum: i64, maximum: Option<i64>) -> Result<FeeRule, WalletError> {
        let rate_ok = (1..=BASIS_POINTS_PER_WHOLE).contains(&basis_points);
        let bounds_ok = minimum >= 0 && maximum.is_none_or(|max| max >= minimum);
        if rate_ok && bounds_ok {
            Ok(FeeRule::Rate { basis_points, minimum, maximum })
        } else {
            Err(WalletError::FeeRuleInvalid)
        }
    }

    /// The fee on withdrawing `amount`.
    ///
    /// A rate is rounded **up** to the next minor unit: a withdrawal split into many small ones then
    /// pays at least what it would have paid whole, where rounding down or to nearest would let
    /// amounts small enough to round to zero go out free. Computed in i128, so no amount overflows;
    /// the result never exceeds the amount itself before the floor is applied.
    pub fn fee_for(self, amount: Amount) -> i64 {
        match self {
            FeeRule::Free => 0,
            FeeRule::Fixed(fee) => fee.get(),
            FeeRule::Rate { basis_points, minimum, maximum } => {
                let whole = BASIS_POINTS_PER_WHOLE as i128;
                let product = amount.get() as i128 * basis_points as i128;
                // Ceiling division of non-negative numbers; at most `amount`, so it fits in i64.
                let by_rate = ((product + whole - 1) / whole) as i64;
                let floored = by_rate.max(minimum);
                maximum.map_or(floored, |max| floored.min(max))
            }
        }
    }
}

/// Who bears a withdrawal's fee.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum FeePayer {
    /// Out of the amount: the member's card receives the amount less the fee. The articles' rule "if
    /// the fee is 0.50 the withdrawal must be more than 0.50" is this case.
    Member,
    /// The platform's fee expense account pays it; the member's card receives the whole amount.
    Platform,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wallet::tests::money;

    #[test]
    fn a_free_rule_charges_nothing_and_a_fixed_one_its_amount() {
        assert_eq!(FeeRule::Free.fee_for(money(800)), 0);
        assert_eq!(FeeRule::fixed(50).unwrap().fee_for(money(800)), 50);
        assert_eq!(FeeRule::fixed(0), Err(WalletError::FeeRuleInvalid));
    }

    #[test]
    fn a_rate_is_rounded_up_to_the_next_minor_unit() {
        // 0.1% of 4.99 is 0.00499: one fen, not zero.
        let rule = FeeRule::rate(10, 0, None).unwrap();
        assert_eq!(rule.fee_for(money(499)), 1);
        // 0.6% of 100.00 is exactly 0.60.
        assert_eq!(FeeRule::rate(60, 0, None).unwrap().fee_for(money(10_000)), 60);
        // 0.6% of 100.01 is 0.60006: 0.61.
        assert_eq!(FeeRule::rate(60, 0, None).unwrap().fee_for(money(10_001)), 61);
    }

    #[test]
    fn a_rate_is_raised_to_its_minimum_and_lowered_to_its_maximum() {
        // 0.1%, at least 0.10, at most 25.00: WeChat Pay's change withdrawal fee, with a cap.
        let rule = FeeRule::rate(10, 10, Some(2500)).unwrap();
        assert_eq!(rule.fee_for(money(800)), 10);
        assert_eq!(rule.fee_for(money(50_000)), 50);
        assert_eq!(rule.fee_for(money(10_000_000)), 2500);
    }

    #[test]
    fn a_rate_on_the_largest_amount_does_not_overflow() {
        assert_eq!(FeeRule::rate(10_000, 0, None).unwrap().fee_for(money(i64::MAX)), i64::MAX);
        assert_eq!(FeeRule::rate(1, 0, None).unwrap().fee_for(money(i64::MAX)), i64::MAX / 10_000 + 1);
    }

    #[test]
    fn malformed_rates_are_refused() {
        assert_eq!(FeeRule::rate(0, 0, None), Err(WalletError::FeeRuleInvalid));
        assert_eq!(FeeRule::rate(10_001, 0, None), Err(WalletError::FeeRuleInvalid));
        assert_eq!(FeeRule::rate(10, -1, None), Err(WalletError::FeeRuleInvalid));
        assert_eq!(FeeRule::rate(10, 100, Some(99)), Err(WalletError::FeeRuleInvalid));
        assert!(FeeRule::rate(10, 100, Some(100)).is_ok());
    }
}
