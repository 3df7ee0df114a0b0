//! Money: amounts are i64 minor units (分, cents) of one ISO 4217 currency. No floats anywhere.

use std::fmt;

/// An ISO 4217 currency with its minor-unit scale. Only currencies in [`CURRENCIES`] exist.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency {
    code: [u8; 3],
    scale: u8,
}

/// The currencies sanhu accepts: (code, minor-unit digits). Kept to ISO 4217's active codes that a
/// wallet platform plausibly holds; adding one is a one-line change.
pub const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MOP", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PHP", 2),
    ("PLN", 2),
    ("RUB", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TRY", 2),
    ("TWD", 2),
    ("USD", 2),
    ("VND", 0),
    ("ZAR", 2),
];

impl Currency {
    /// Parses an upper-case ISO 4217 code that sanhu knows.
    pub fn parse(code: &str) -> Option<Currency> {
        CURRENCIES.iter().find(|(c, _)| *c == code).map(|(c, scale)| {
            let b = c.as_bytes();
            Currency { code: [b[0], b[1], b[2]], scale: *scale }
        })
    }

    pub fn code(&self) -> &str {
        // The bytes come from CURRENCIES, which is ASCII.
        std::str::from_utf8(&self.code).expect("currency codes are ASCII")
    }

    /// Number of minor-unit digits: 2 for CNY (fen), 0 for JPY.
    pub fn scale(&self) -> u8 {
        self.scale
    }
}

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A strictly positive amount in minor units. Zero and negative amounts cannot be built.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct Amount(i64);

impl Amount {
    pub fn new(minor_units: i64) -> Option<Amount> {
        (minor_units > 0).then_some(Amount(minor_units))
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

/// Formats minor units as a decimal string in the currency's scale, for people (CLI output, docs).
pub fn format_minor(value: i64, currency: Currency) -> String {
    let scale = currency.scale() as u32;
    if scale == 0 {
        return value.to_string();
    }
    let unit = 10i64.pow(scale);
    let sign = if value < 0 { "-" } else { "" };
    let abs = value.unsigned_abs();
    format!("{sign}{}.{:0width$}", abs / unit as u64, abs % unit as u64, width = scale as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_currencies_parse_with_their_scale() {
        assert_eq!(Currency::parse("CNY").unwrap().scale(), 2);
        assert_eq!(Currency::parse("JPY").unwrap().scale(), 0);
        assert_eq!(Currency::parse("KWD").unwrap().scale(), 3);
        assert_eq!(Currency::parse("CNY").unwrap().code(), "CNY");
    }

    #[test]
    fn unknown_or_lower_case_currencies_are_refused() {
        assert!(Currency::parse("XXX").is_none());
        assert!(Currency::parse("cny").is_none());
        assert!(Currency::parse("").is_none());
    }

    #[test]
    fn amounts_are_strictly_positive() {
        assert!(Amount::new(0).is_none());
        assert!(Amount::new(-1).is_none());
        assert_eq!(Amount::new(1).unwrap().get(), 1);
    }

    #[test]
    fn minor_units_format_in_the_currency_scale() {
        let cny = Currency::parse("CNY").unwrap();
        assert_eq!(format_minor(1230, cny), "12.30");
        assert_eq!(format_minor(-5, cny), "-0.05");
        assert_eq!(format_minor(7, Currency::parse("JPY").unwrap()), "7");
    }
}
