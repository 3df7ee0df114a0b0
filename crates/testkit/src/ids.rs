//! Test numbers that pass their check characters: resident ID cards (GB 11643), bank cards (Luhn), a
//! unified social credit code (GB 32100). Synthetic: real-format region codes, made-up sequences.

use sanhu_core::party::check_digit::{luhn_valid, resident_id_check_char, uscc_check_char};

/// The ID card number most tests give a person: [`id_card`]`(123)`.
pub const ID_CARD: &str = "110101199003071233";
/// A second person's ID card number.
pub const OTHER_ID_CARD: &str = "310115198511114560";
/// An enterprise's unified social credit code.
pub const CREDIT_CODE: &str = "91110108MA01ABCD0B";
/// A bank card number as a member types it, with spaces; [`CARD_DIGITS`] without.
pub const CARD: &str = "6222 0200 0000 0000 018";
pub const CARD_DIGITS: &str = "6222020000000000018";
/// A pay password the tests set.
pub const PAY_PASSWORD: &str = "135790";

/// The `n`th test ID card number (17 digits and a check character).
pub fn id_card(n: u32) -> String {
    let body = format!("11010119900307{:03}", n % 1000);
    let check = resident_id_check_char(&body).expect("17 digits");
    format!("{body}{check}")
}

/// The `n`th test bank card number (19 digits passing the Luhn check).
pub fn card_number(n: u32) -> String {
    let body = format!("622202{n:012}");
    (0..10).map(|check| format!("{body}{check}")).find(|number| luhn_valid(number)).expect("one check digit fits")
}

/// The `n`th test unified social credit code (up to 99,999) of the first series: [`credit_code_of`]`(1, n)`.
pub fn credit_code(n: u32) -> String {
    credit_code_of(1, n)
}

/// The `n`th test unified social credit code of `series` (a test module's own, apart from the others'):
/// 17 characters ending in `series` and `n`, and the check character.
pub fn credit_code_of(series: u32, n: u32) -> String {
    let first17 = format!("91110108MA{series:02}{n:05}");
    format!("{first17}{}", uscc_check_char(&first17).expect("a valid stem"))
}
