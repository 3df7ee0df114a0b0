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
    if now >= expires_at {
        return Err(RedeemRefusal::Expired);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;

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
    }
}
