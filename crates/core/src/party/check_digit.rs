//! Check characters of the numbers the model parses. Each catches a mistyped digit before the number
//! reaches an authentication channel or a bank, which would charge for the failed attempt.

/// The ISO 7064 MOD 11-2 check character of the first 17 digits of a PRC resident identity number
/// (GB 11643): '0'..'9' or 'X' (for 10). `None` when the input is not 17 ASCII digits.
pub fn resident_id_check_char(first17: &str) -> Option<char> {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    if first17.len() != 17 || !first17.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let sum: u32 = first17.bytes().zip(WEIGHTS).map(|(b, w)| (b - b'0') as u32 * w).sum();
    Some(CHECK[(sum % 11) as usize] as char)
}

/// The characters of a unified social credit code (统一社会信用代码, GB 32100): digits and the capital
/// letters without I, O, Z, S and V, which are too easily read as digits or each other. A character's
/// value is its position here.
pub const USCC_CHARSET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The GB 32100 check character of the first 17 characters of a unified social credit code: weights
/// 3^i mod 31, check = 31 − (Σ mod 31), with 31 written as '0'. `None` when a character is outside
/// [`USCC_CHARSET`] or the length is not 17.
pub fn uscc_check_char(first17: &str) -> Option<char> {
    if first17.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    let mut weight = 1u32;
    for b in first17.bytes() {
        let value = USCC_CHARSET.bytes().position(|c| c == b)? as u32;
        sum += value * weight;
        weight = weight * 3 % 31;
    }
    let check = (31 - sum % 31) % 31;
    USCC_CHARSET.chars().nth(check as usize)
}

/// Whether a string of ASCII digits passes the Luhn check (ISO/IEC 7812), as every card number does.
/// False for an empty string or any non-digit.
pub fn luhn_valid(digits: &str) -> bool {
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = (b - b'0') as u32;
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 {
                    doubled - 9
                } else {
                    doubled
                }
            } else {
                d
            }
        })
        .sum();
    // Not `is_multiple_of`: it is newer than the workspace's rust-version (1.85).
    #[allow(clippy::manual_is_multiple_of)]
    let valid = sum % 10 == 0;
    valid
}

/// The digit that, appended to `payload` (ASCII digits), makes it pass [`luhn_valid`]. None for an
/// empty payload or any non-digit.
pub fn luhn_check_digit(payload: &str) -> Option<char> {
    if payload.is_empty() || !payload.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    (b'0'..=b'9').map(char::from).find(|d| luhn_valid(&format!("{payload}{d}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    // Synthetic numbers: real-format region and registration codes with made-up sequence digits, their
    // check characters computed independently (Python) when the tests were written.

    #[test]
    fn the_resident_id_check_digit_follows_iso_7064_mod_11_2() {
        assert_eq!(resident_id_check_char("11010119900307123"), Some('3'));
        assert_eq!(resident_id_check_char("31011519851111456"), Some('0'));
        assert_eq!(resident_id_check_char("11010119800101002"), Some('9'));
    }

    #[test]
    fn a_remainder_of_two_gives_the_resident_id_check_character_x() {
        assert_eq!(resident_id_check_char("44030520000229007"), Some('X'));
    }

    #[test]
    fn a_resident_id_prefix_that_is_not_seventeen_digits_has_no_check_digit() {
        assert_eq!(resident_id_check_char("1101011990030712"), None);
        assert_eq!(resident_id_check_char("1101011990030712A"), None);
    }

    #[test]
    fn the_uscc_check_character_follows_gb_32100() {
        assert_eq!(uscc_check_char("91110108MA01ABCD0"), Some('B'));
        assert_eq!(uscc_check_char("91310115MA1K00001"), Some('6'));
        assert_eq!(uscc_check_char("12100000400012345"), Some('P'));
        assert_eq!(uscc_check_char("5244030006000000A"), Some('T'));
    }

    #[test]
    fn a_uscc_prefix_with_a_letter_outside_the_charset_has_no_check_character() {
        assert_eq!(uscc_check_char("91110108MA01ABCS0"), None, "S is not used");
        assert_eq!(uscc_check_char("91110108MA01abcd0"), None, "lower case is not the charset");
        assert_eq!(uscc_check_char("91110108MA01ABCD"), None);
    }

    #[test]
    fn the_uscc_charset_has_thirty_one_characters() {
        assert_eq!(USCC_CHARSET.len(), 31);
    }

    #[test]
    fn card_numbers_pass_or_fail_the_luhn_check() {
        for valid in ["4111111111111111", "5555555555554444", "6222020000000000018", "378282246310005"] {
            assert!(luhn_valid(valid), "{valid}");
        }
        for invalid in ["4111111111111112", "6222020000000000017", "", "4111 1111 1111 1111"] {
            assert!(!luhn_valid(invalid), "{invalid}");
        }
    }
}
