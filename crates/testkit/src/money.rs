//! Money in the tests: one currency, amounts in minor units (fen).

use sanhu_core::{Amount, Currency};

/// CNY, the currency of every test.
pub fn cny() -> Currency {
    Currency::parse("CNY").expect("CNY is a currency")
}

/// `minor` fen as an amount (positive).
pub fn amount(minor: i64) -> Amount {
    Amount::new(minor).expect("a positive amount")
}
