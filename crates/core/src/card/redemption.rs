//! Redemption codes (兑换码): printed on a card or a voucher, typed in once by a member to get its
//! card. These are the code's rules; the service keeps only a keyed hash of each code (so a code is
//! shown once, when its batch is generated) and decides one redemption per code.
//!
//! **The text.** 16 symbols of Crockford's base32 (digits and upper-case letters, no I, L, O or U):
//! 14 random symbols (70 bits) and two check symbols, printed in groups of four
//! (`7K3M-Q9ZD-4RTW-8B2C`).
//! Typed back, case, spaces and hyphens do not matter, and the letters Crockford reads as digits (I
//! and L as 1, O as 0) are read so; the check symbols catch any one symbol mistyped and any two
//! adjacent random symbols swapped (a weighted sum modulo a prime larger than any weighted change), so a
//! typing mistake is answered as such (`code invalid`) rather than
//! costing one of the member's guesses against a real code.

/// The symbols of a code, in value order (Crockford's base32).
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Random symbols in a code, and symbols in all (with the two check symbols).
pub const CODE_RANDOM_SYMBOLS: usize = 14;
pub const CODE_SYMBOLS: usize = CODE_RANDOM_SYMBOLS + 2;
/// The check's modulus: a prime above every weighted change of one symbol (31 × 14) and below 32².
const CHECK_MODULUS: u32 = 1021;
/// Bytes of entropy a code is made from (80 bits; the first 70 are used).
pub const CODE_ENTROPY_BYTES: usize = 10;

/// A redemption code, checked: its 16 symbols, without separators.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct RedemptionCode(String);

/// Why a typed code is not one sanhu could have made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeTextError {
    /// Not 16 symbols of the alphabet (after separators are removed).
    Malformed,
    /// The check symbols do not match: a symbol mistyped.
    CheckFailed,
}

fn value(symbol: u8) -> Option<u32> {
    let symbol = match symbol.to_ascii_uppercase() {
        b'I' | b'L' => b'1',
        b'O' => b'0',
        other => other,
    };
    ALPHABET.iter().position(|&s| s == symbol).map(|v| v as u32)
}

/// The check's value for `values` (0 to 1020, written as two symbols): their sum weighted 1 to 14
/// modulo a prime, so one changed symbol (a change of at most 31 times at most 14) and two swapped
/// neighbours (a change of their difference) always change it.
fn check_value(values: &[u32]) -> u32 {
    values.iter().enumerate().map(|(i, v)| (i as u32 + 1) * v).sum::<u32>() % CHECK_MODULUS
}

fn check_symbols(values: &[u32]) -> [u32; 2] {
    let check = check_value(values);
    [check / 32, check % 32]
}

impl RedemptionCode {
    /// The code made from `entropy` (from the operating system's random source).
    pub fn from_entropy(entropy: [u8; CODE_ENTROPY_BYTES]) -> RedemptionCode {
        let mut bits = u128::from_be_bytes({
            let mut wide = [0u8; 16];
            wide[..CODE_ENTROPY_BYTES].copy_from_slice(&entropy);
            wide
        });
        let mut values = Vec::with_capacity(CODE_SYMBOLS);
        for _ in 0..CODE_RANDOM_SYMBOLS {
            values.push((bits >> 123) as u32 & 31);
            bits <<= 5;
        }
        values.extend(check_symbols(&values));
        RedemptionCode(values.iter().map(|&v| ALPHABET[v as usize] as char).collect())
    }

    /// A code as typed: case, spaces and hyphens ignored, I/L read as 1 and O as 0.
    pub fn parse(typed: &str) -> Result<RedemptionCode, CodeTextError> {
        let mut values = Vec::with_capacity(CODE_SYMBOLS);
        for byte in typed.bytes().filter(|b| !matches!(b, b' ' | b'-')) {
            values.push(value(byte).ok_or(CodeTextError::Malformed)?);
            if values.len() > CODE_SYMBOLS {
                return Err(CodeTextError::Malformed);
            }
        }
        if values.len() != CODE_SYMBOLS {
            return Err(CodeTextError::Malformed);
        }
        if check_symbols(&values[..CODE_RANDOM_SYMBOLS]) != values[CODE_RANDOM_SYMBOLS..] {
            return Err(CodeTextError::CheckFailed);
        }
        Ok(RedemptionCode(values.iter().map(|&v| ALPHABET[v as usize] as char).collect()))
    }

    /// Its 16 symbols, as hashed and compared.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// As printed: four groups of four, joined by hyphens.
    pub fn printed(&self) -> String {
        let symbols: Vec<&str> = (0..4).map(|g| &self.0[g * 4..g * 4 + 4]).collect();
        symbols.join("-")
    }
}

/// Where a code is in its life: it redeems once, before it expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodeStatus {
    Unused,
    Redeemed,
    /// Its expiry passed unredeemed, and the card it held was given back to its batch's sales.
    Expired,
}

/// Why a code does not redeem now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RedeemRefusal {
    /// Redeemed already (by anyone).
    Used,
    /// Its expiry passed.
    Expired,
}

/// Whether a code with `status`, expiring at `expires_at` (exclusive), redeems at `now`: used first
/// (a redeemed code stays redeemed, expired or not), then expired.
pub fn check_redeemable(
    status: CodeStatus,
    expires_at: crate::Timestamp,
    now: crate::Timestamp,
) -> Result<(), RedeemRefusal> {
    if status == CodeStatus::Redeemed {
        return Err(RedeemRefusal::Used);
    }
    if status == CodeStatus::Expired || now >= expires_at {
        return Err(RedeemRefusal::Expired);
    }
    Ok(())
}

/// Codes generated in one request, at most.
pub const CODES_PER_REQUEST_MAX: i64 = 1000;
/// How far away a code's expiry may be, in days.
pub const CODE_DAYS_MAX: i64 = 3650;
/// Failed redemptions a subject (a member for itself, or a caller for one member) may make in
/// [`FAILED_REDEMPTIONS_WINDOW_SECONDS`] before its redemptions are refused until older ones leave
/// the window: with 70 random bits a code, five guesses a quarter of an hour find nothing.
pub const FAILED_REDEMPTIONS_MAX: i64 = 5;
pub const FAILED_REDEMPTIONS_WINDOW_SECONDS: i64 = 900;
/// Failed redemptions a caller redeeming for members other than its own (an app's back end, staff)
/// may make in the window across all members, by default; the platform may set another
/// ([`check_caller_attempts`]). With 70 random bits a code, a thousand guesses find nothing either.
pub const CALLER_FAILED_REDEMPTIONS_DEFAULT: i64 = 1000;
/// The bounds of that ceiling.
pub const CALLER_FAILED_REDEMPTIONS_MAX: i64 = 100_000;
/// Rows of a bulk binding, at most.
pub const BULK_ROWS_MAX: usize = 500;

use super::CardError;

/// How many codes to generate, checked.
pub fn check_code_quantity(quantity: i64) -> Result<i64, CardError> {
    (1..=CODES_PER_REQUEST_MAX).contains(&quantity).then_some(quantity).ok_or(CardError::CodeQuantityInvalid)
}

/// A code's expiry, checked at `now`: later, and at most [`CODE_DAYS_MAX`] days away.
pub fn check_expiry(expires_at: crate::Timestamp, now: crate::Timestamp) -> Result<crate::Timestamp, CardError> {
    let latest = now.nanos().saturating_add(CODE_DAYS_MAX * 86_400 * 1_000_000_000);
    (now < expires_at && expires_at.nanos() <= latest).then_some(expires_at).ok_or(CardError::CodeExpiryInvalid)
}

/// Whether a subject with `failures` failed redemptions in the window may try again.
pub fn may_try(failures: i64) -> bool {
    failures < FAILED_REDEMPTIONS_MAX
}

/// A caller-wide ceiling of failed redemptions, checked: 5 to [`CALLER_FAILED_REDEMPTIONS_MAX`].
pub fn check_caller_attempts(ceiling: i64) -> Option<i64> {
    (FAILED_REDEMPTIONS_MAX..=CALLER_FAILED_REDEMPTIONS_MAX).contains(&ceiling).then_some(ceiling)
}

/// A row of a bulk binding: its line in the text (1 for the first), a phone number and a code, as
/// given (each checked when its row is bound).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BulkRow {
    pub line: usize,
    pub phone: String,
    pub code: String,
}

/// The rows of a bulk binding's CSV text: lines of `phone,code` (fields trimmed, a field in double
/// quotes unquoted), blank lines skipped, a first line `phone,code` taken as a header. 1 to
/// [`BULK_ROWS_MAX`] rows, each of two fields; otherwise the whole text is refused.
pub fn parse_bulk(text: &str) -> Result<Vec<BulkRow>, CardError> {
    let field = |f: &str| {
        let f = f.trim();
        f.strip_prefix('"').and_then(|f| f.strip_suffix('"')).unwrap_or(f).to_owned()
    };
    let mut rows = Vec::new();
    for (at, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let fields: Vec<String> = line.split(',').map(field).collect();
        if fields.len() != 2 {
            return Err(CardError::CodeRowsInvalid);
        }
        if rows.is_empty() && fields[0].eq_ignore_ascii_case("phone") && fields[1].eq_ignore_ascii_case("code") {
            continue;
        }
        if rows.len() == BULK_ROWS_MAX {
            return Err(CardError::CodeRowsInvalid);
        }
        let mut fields = fields.into_iter();
        let (phone, code) = (fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
        rows.push(BulkRow { line: at + 1, phone, code });
    }
    if rows.is_empty() {
        return Err(CardError::CodeRowsInvalid);
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

    #[test]
    fn a_bulk_text_is_rows_of_a_phone_and_a_code() {
        let rows = parse_bulk("phone,code\n13800000001, 7K3M-Q9ZD-4RTW-8B2C\n\n\"13800000002\",\"ABCD\"\n").unwrap();
        assert_eq!(
            rows,
            [
                BulkRow { line: 2, phone: "13800000001".into(), code: "7K3M-Q9ZD-4RTW-8B2C".into() },
                BulkRow { line: 4, phone: "13800000002".into(), code: "ABCD".into() },
            ]
        );
        assert_eq!(parse_bulk("13800000001,X").unwrap()[0].line, 1);
        for bad in ["", "phone,code\n", "13800000001", "1,2,3"] {
            assert_eq!(parse_bulk(bad), Err(CardError::CodeRowsInvalid), "{bad:?}");
        }
        let many: String = (0..=BULK_ROWS_MAX).map(|n| format!("1380000{n:04},C\n")).collect();
        assert_eq!(parse_bulk(&many), Err(CardError::CodeRowsInvalid));
        assert_eq!(parse_bulk(&many[many.find('\n').unwrap() + 1..]).unwrap().len(), BULK_ROWS_MAX);
    }

    #[test]
    fn quantities_expiries_and_tries_are_bounded() {
        assert_eq!(check_code_quantity(0), Err(CardError::CodeQuantityInvalid));
        assert_eq!(check_code_quantity(1000), Ok(1000));
        assert_eq!(check_code_quantity(1001), Err(CardError::CodeQuantityInvalid));
        let now = Timestamp::from_nanos(1_000);
        assert_eq!(check_expiry(now, now), Err(CardError::CodeExpiryInvalid));
        assert_eq!(check_expiry(Timestamp::from_nanos(1_001), now), Ok(Timestamp::from_nanos(1_001)));
        let far = Timestamp::from_nanos(1_000 + CODE_DAYS_MAX * 86_400 * 1_000_000_000 + 1);
        assert_eq!(check_expiry(far, now), Err(CardError::CodeExpiryInvalid));
        assert!(may_try(FAILED_REDEMPTIONS_MAX - 1) && !may_try(FAILED_REDEMPTIONS_MAX));
    }

    fn entropy(seed: u8) -> [u8; CODE_ENTROPY_BYTES] {
        std::array::from_fn(|i| seed.wrapping_mul(37).wrapping_add((i as u8).wrapping_mul(101)))
    }

    #[test]
    fn a_made_code_parses_back_however_it_is_typed() {
        for seed in 0..=255u8 {
            let code = RedemptionCode::from_entropy(entropy(seed));
            assert_eq!(code.as_str().len(), CODE_SYMBOLS);
            assert_eq!(RedemptionCode::parse(code.as_str()), Ok(code.clone()));
            assert_eq!(RedemptionCode::parse(&code.printed()), Ok(code.clone()));
            let typed = code.printed().to_lowercase().replace('-', " ");
            assert_eq!(RedemptionCode::parse(&typed), Ok(code.clone()));
            let misread = code.as_str().replace('1', "l").replace('0', "O");
            assert_eq!(RedemptionCode::parse(&misread), Ok(code.clone()));
        }
        let code = RedemptionCode::from_entropy([0xff; CODE_ENTROPY_BYTES]);
        assert_eq!(&code.as_str()[..CODE_RANDOM_SYMBOLS], "ZZZZZZZZZZZZZZ");
        assert_eq!(code.printed().len(), 19);
    }

    #[test]
    fn a_mistyped_symbol_or_two_swapped_neighbours_are_caught() {
        for seed in 0..=63u8 {
            let code = RedemptionCode::from_entropy(entropy(seed));
            let symbols: Vec<u8> = code.as_str().bytes().collect();
            for at in 0..CODE_SYMBOLS {
                for &other in ALPHABET.iter().filter(|&&s| s != symbols[at]) {
                    let mut typo = symbols.clone();
                    typo[at] = other;
                    let typo = String::from_utf8(typo).unwrap();
                    assert_eq!(RedemptionCode::parse(&typo), Err(CodeTextError::CheckFailed), "{typo}");
                }
            }
            for at in 0..CODE_RANDOM_SYMBOLS - 1 {
                if symbols[at] == symbols[at + 1] {
                    continue;
                }
                let mut swapped = symbols.clone();
                swapped.swap(at, at + 1);
                let swapped = String::from_utf8(swapped).unwrap();
                assert_eq!(RedemptionCode::parse(&swapped), Err(CodeTextError::CheckFailed), "{swapped}");
            }
        }
    }

    #[test]
    fn text_that_is_not_a_code_is_malformed() {
        let code = RedemptionCode::from_entropy(entropy(7));
        for text in ["", "ABCD", &format!("{}0", code.as_str()), &code.as_str().replacen(|_| true, "U", 1), "7K3M_Q9ZD"]
        {
            assert_eq!(RedemptionCode::parse(text), Err(CodeTextError::Malformed), "{text:?}");
        }
    }

    #[test]
    fn a_code_redeems_once_before_it_expires() {
        let (now, later) = (Timestamp::from_nanos(1_000), Timestamp::from_nanos(2_000));
        assert_eq!(check_redeemable(CodeStatus::Unused, later, now), Ok(()));
        assert_eq!(check_redeemable(CodeStatus::Unused, now, now), Err(RedeemRefusal::Expired));
        assert_eq!(check_redeemable(CodeStatus::Redeemed, later, now), Err(RedeemRefusal::Used));
        assert_eq!(check_redeemable(CodeStatus::Redeemed, now, later), Err(RedeemRefusal::Used));
        assert_eq!(check_redeemable(CodeStatus::Expired, later, now), Err(RedeemRefusal::Expired));
    }
}
