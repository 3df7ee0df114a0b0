//! Checked arithmetic on minor units: every rule in the wallet adds and subtracts through these, so
//! that an overflow is `amount_overflow` rather than a wrap (DESIGN.md §4, invariant 8).

use super::WalletError;
use crate::Amount;

pub(crate) fn add(a: i64, b: i64) -> Result<i64, WalletError> {
    a.checked_add(b).ok_or(WalletError::AmountOverflow)
}

pub(crate) fn sub(a: i64, b: i64) -> Result<i64, WalletError> {
    a.checked_sub(b).ok_or(WalletError::AmountOverflow)
}

pub(crate) fn sum(values: impl IntoIterator<Item = i64>) -> Result<i64, WalletError> {
    values.into_iter().try_fold(0i64, add)
}

/// An amount the caller asked for: strictly positive, else `invalid_amount`.
pub(crate) fn positive(minor_units: i64) -> Result<Amount, WalletError> {
    Amount::new(minor_units).ok_or(WalletError::InvalidAmount)
}

/// What is owed when `balance` is below zero, as a non-negative number.
pub(crate) fn debt_of(balance: i64) -> Result<i64, WalletError> {
    if balance < 0 {
        balance.checked_neg().ok_or(WalletError::AmountOverflow)
    } else {
        Ok(0)
    }
}

/// Takes up to `room` from what is still `wanted`: the step every allocation in the wallet repeats.
pub(crate) fn take(wanted: i64, room: i64) -> i64 {
    wanted.min(room).max(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sums_that_would_overflow_are_errors_not_wraps() {
        assert_eq!(add(i64::MAX, 1), Err(WalletError::AmountOverflow));
        assert_eq!(sub(i64::MIN, 1), Err(WalletError::AmountOverflow));
        assert_eq!(sum([i64::MAX, 1]), Err(WalletError::AmountOverflow));
        assert_eq!(sum([1, 2, 3]), Ok(6));
    }

    #[test]
    fn an_amount_asked_for_is_strictly_positive() {
        assert_eq!(positive(0), Err(WalletError::InvalidAmount));
        assert_eq!(positive(-5), Err(WalletError::InvalidAmount));
        assert_eq!(positive(5).unwrap().get(), 5);
    }

    #[test]
    fn debt_is_the_negative_part_of_a_balance() {
        assert_eq!(debt_of(-250), Ok(250));
        assert_eq!(debt_of(0), Ok(0));
        assert_eq!(debt_of(100), Ok(0));
        assert_eq!(debt_of(i64::MIN), Err(WalletError::AmountOverflow));
    }

    #[test]
    fn taking_never_goes_beyond_the_room_or_below_zero() {
        assert_eq!(take(500, 150), 150);
        assert_eq!(take(100, 150), 100);
        assert_eq!(take(100, -3), 0);
    }
}
