//! Masking for display (脱敏): authentication records, card lists and support screens show enough of
//! a number for its owner to recognise it and not enough for anyone else to use it. And masking of
//! free text ([`mask_sensitive_numbers`]): a reason, a reference or metadata a person typed may hold a
//! card or certificate number, which no record may keep whole.

use super::certificate::{Certificate, CertificateType};
use super::check_digit::luhn_valid;
use super::identity::{Email, PhoneNumber};

/// Keeps the first `first` and last `last` characters and writes '*' for each one between, so the
/// masked form has the original's length. A value too short to hide anything between them keeps only
/// its first character.
pub fn mask_middle(value: &str, first: usize, last: usize) -> String {
    let chars: Vec<char> = value.chars().collect();
    let (first, last) = if chars.len() > first + last { (first, last) } else { (1.min(chars.len()), 0) };
    let hidden = chars.len() - first - last;
    let mut masked: String = chars[..first].iter().collect();
    masked.extend(std::iter::repeat_n('*', hidden));
    masked.extend(&chars[chars.len() - last..]);
    masked
}

/// An identity number (ID card and other personal certificates): first 3 and last 4 characters.
pub fn mask_id_number(number: &str) -> String {
    mask_middle(number, 3, 4)
}

/// A phone number: first 3 and last 4 digits, as Chinese apps show them (138****5678). A mainland
/// number is shown without its +86; any other keeps its '+' and country code's leading digits.
pub fn mask_phone(phone: &PhoneNumber) -> String {
    match phone.as_str().strip_prefix("+86") {
        Some(national) => mask_middle(national, 3, 4),
        None => format!("+{}", mask_middle(&phone.as_str()[1..], 3, 4)),
    }
}

/// A card number: the first 6 (the issuer's BIN) and last 4 digits, the form card schemes allow to be
/// shown and stored.
pub fn mask_card_number(digits: &str) -> String {
    mask_middle(digits, 6, 4)
}

/// An email address: the first character of the mailbox and the whole domain (z***@example.com).
pub fn mask_email(email: &Email) -> String {
    let (local, domain) = email.as_str().split_once('@').expect("a parsed email has an @");
    let first: String = local.chars().take(1).collect();
    format!("{first}***@{domain}")
}

/// Shortest and longest card number found in free text (ISO/IEC 7812), in digits.
const CARD_DIGITS_MIN: usize = 13;
const CARD_DIGITS_MAX: usize = 19;
/// Fewest digits in a group of a card number written in groups ("6222 0200 0000 0000 018",
/// "3782 822463 10005"), and in its first group (the start of the issuer's BIN). Groups of one or two
/// digits are dates, lists and versions, never a card.
const CARD_GROUP_DIGITS_MIN: usize = 3;
const CARD_FIRST_GROUP_DIGITS_MIN: usize = 4;
/// Characters of a certificate number found in free text: the resident ID card and the unified
/// social credit code both have 18.
const CERTIFICATE_CHARS: usize = 18;
/// Fewest digits in a credit code: its category and its 6-digit region.
const CREDIT_CODE_DIGITS_MIN: usize = 7;

/// `text` with every card and certificate number in it masked, the one rule for every free-text field
/// a record keeps (reasons, references, metadata, addresses, names of organisations). It finds:
///
/// - **card numbers**: 13 to 19 digits that pass the Luhn check, written whole or in groups of 3 or
///   more digits (the first 4 or more) with single spaces or hyphens between them; masked to the first
///   6 and last 4 digits (`411111******1111`), separators dropped. A run of more than 19 digits is
///   another kind of number and is left alone.
/// - **resident ID card numbers** (and the 18-digit foreign permanent resident ID, built the same way):
///   17 digits and a check character (a digit or X, either case) standing alone as a run of digits,
///   that [`Certificate::parse`] accepts (a region that does not start with 0, a real birth date from
///   1900, the ISO 7064 check); masked to the first 3 and last 4 characters.
/// - **unified social credit codes**: 18 letters and digits standing alone (no ASCII letter or digit
///   either side), either case, that [`Certificate::parse`] accepts (GB 32100's characters, a 6-digit
///   region, the check character) and whose registration authority, category and province are ones
///   the standard assigns; masked to the first 3 and last 4 characters.
///
/// Full-width digits (０-９), which Chinese input methods type, count as digits. What it leaves:
/// phone numbers (too short, or after a '+', or 86 and a mainland mobile number), amounts (too short), order numbers that fail these checks (a date-prefixed
/// "2026013112345678901" has no birth date where an ID card has one, nor a category a credit code
/// has). A number of the right length that passes a check is masked whatever it was meant to be: a
/// caller's 16-digit reference that passes the Luhn check is, to anyone reading it, a card number.
/// Masking masked text changes nothing.
pub fn mask_sensitive_numbers(text: &str) -> String {
    // Nothing to find with fewer digits than the fewest a credit code has (its category and region).
    if text.chars().filter(|c| digit_value(*c).is_some()).count() < CREDIT_CODE_DIGITS_MIN {
        return text.to_owned();
    }
    let chars: Vec<char> = text.chars().collect();
    let mut found: Vec<Found> = certificates_in(&chars);
    found.extend(cards_in(&chars, &found));
    if found.is_empty() {
        return text.to_owned();
    }
    found.sort_by_key(|f| f.start);
    let mut masked = String::with_capacity(text.len());
    let mut at = 0;
    for f in found {
        masked.extend(&chars[at..f.start]);
        masked.push_str(&f.masked);
        at = f.end;
    }
    masked.extend(&chars[at..]);
    masked
}

/// A number found in free text: its characters `start..end` and what they become.
struct Found {
    start: usize,
    end: usize,
    masked: String,
}

/// A digit's value: ASCII or full-width.
fn digit_value(c: char) -> Option<u8> {
    match c {
        '0'..='9' => Some(c as u8 - b'0'),
        '０'..='９' => Some((c as u32 - '０' as u32) as u8),
        _ => None,
    }
}

/// A character as ASCII, full-width digits and letters written as their ASCII forms; upper-case.
fn ascii_upper(c: char) -> Option<char> {
    match c {
        c if c.is_ascii_alphanumeric() => Some(c.to_ascii_uppercase()),
        '０'..='９' | 'Ａ'..='Ｚ' | 'ａ'..='ｚ' => {
            char::from_u32(c as u32 - 0xFEE0).map(|c| c.to_ascii_uppercase())
        }
        _ => None,
    }
}

/// Whether a character is a letter or digit that continues a code (ASCII or full-width).
fn is_code_char(c: char) -> bool {
    ascii_upper(c).is_some()
}

/// Registration authorities of GB 32100 (the first character) with the categories each assigns (the
/// second character).
const USCC_AUTHORITY_CATEGORIES: &[(char, &str)] = &[
    ('1', "1239"),   // institutional staffing: organs of state, public institutions, mass organisations
    ('2', "19"),     // foreign affairs
    ('3', "123459"), // justice: law firms, notaries, legal services, forensic institutions, arbitration
    ('4', "19"),     // culture
    ('5', "1239"),   // civil affairs: social organisations, private non-enterprise units, foundations
    ('6', "129"),    // tourism
    ('7', "129"),    // religion
    ('8', "19"),     // trade unions
    ('9', "123"),    // industry and commerce: enterprises, individual businesses, cooperatives
    ('A', "19"),     // the Central Military Commission's staffing office
    ('N', "1239"),   // agriculture: collective economic organisations
    ('Y', "1"),      // others
];

/// First two digits of the region codes (GB/T 2260) a credit code can carry: the provinces, and 10
/// for registrations at the national level.
const REGION_PREFIXES: &[&str] = &[
    "10", "11", "12", "13", "14", "15", "21", "22", "23", "31", "32", "33", "34", "35", "36", "37", "41", "42", "43",
    "44", "45", "46", "50", "51", "52", "53", "54", "61", "62", "63", "64", "65", "71", "81", "82",
];

/// Whether an 18-character upper-case ASCII code is a unified social credit code as free text would
/// hold one.
fn is_credit_code(code: &str) -> bool {
    let b = code.as_bytes();
    let assigned = USCC_AUTHORITY_CATEGORIES
        .iter()
        .any(|(authority, categories)| b[0] as char == *authority && categories.contains(b[1] as char));
    assigned
        && REGION_PREFIXES.contains(&&code[2..4])
        && Certificate::parse(CertificateType::UnifiedSocialCreditCode, code).is_ok()
}

/// The resident ID card numbers and credit codes in `chars`.
fn certificates_in(chars: &[char]) -> Vec<Found> {
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_code_char(chars[i]) || (i > 0 && is_code_char(chars[i - 1])) {
            i += 1;
            continue;
        }
        // A run of letters and digits: a credit code when it is 18 of them.
        let run_end = (i..chars.len()).find(|&k| !is_code_char(chars[k])).unwrap_or(chars.len());
        if run_end - i == CERTIFICATE_CHARS {
            let code: String = chars[i..run_end].iter().filter_map(|c| ascii_upper(*c)).collect();
            if is_credit_code(&code) {
                found.push(Found { start: i, end: run_end, masked: mask_id_number(&code) });
                i = run_end;
                continue;
            }
        }
        i += 1;
    }
    // ID card numbers: 18 digits, or 17 and an X, with no digit either side (letters may touch them:
    // "ID110101199003071233").
    let mut i = 0;
    while i < chars.len() {
        let starts_run = digit_value(chars[i]).is_some() && (i == 0 || digit_value(chars[i - 1]).is_none());
        if !starts_run || found.iter().any(|f| (f.start..f.end).contains(&i)) {
            i += 1;
            continue;
        }
        let run_end = (i..chars.len()).find(|&k| digit_value(chars[k]).is_none()).unwrap_or(chars.len());
        let end = match run_end - i {
            18 => Some(run_end),
            17 if matches!(chars.get(run_end), Some('X' | 'x' | 'Ｘ' | 'ｘ'))
                && chars.get(run_end + 1).is_none_or(|c| digit_value(*c).is_none()) =>
            {
                Some(run_end + 1)
            }
            _ => None,
        };
        if let Some(end) = end {
            let number: String = chars[i..end].iter().filter_map(|c| ascii_upper(*c)).collect();
            if Certificate::parse(CertificateType::IdCard, &number).is_ok() {
                found.push(Found { start: i, end, masked: mask_id_number(&number) });
            }
        }
        i = run_end.max(i + 1);
    }
    found
}

/// The card numbers in `chars`, outside the certificates found already.
fn cards_in(chars: &[char], certificates: &[Found]) -> Vec<Found> {
    let taken = |k: usize| certificates.iter().any(|f| (f.start..f.end).contains(&k));
    let is_digit = |k: usize| digit_value(chars[k]).is_some() && !taken(k);
    let mut found = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        if !is_digit(i) || (i > 0 && is_digit(i - 1)) {
            i += 1;
            continue;
        }
        // Groups of digits joined by single spaces or hyphens: (start, end) of each.
        let mut groups: Vec<(usize, usize)> = Vec::new();
        let mut k = i;
        loop {
            let start = k;
            while k < chars.len() && is_digit(k) {
                k += 1;
            }
            groups.push((start, k));
            let joined = k + 1 < chars.len() && matches!(chars[k], ' ' | '-') && is_digit(k + 1);
            if !joined {
                break;
            }
            k += 1;
        }
        // A number after '+' is a phone number in international form, never a card.
        let mut g = usize::from(i > 0 && chars[i - 1] == '+');
        while g < groups.len() {
            match card_from(chars, &groups[g..]) {
                Some((used, digits)) => {
                    let (start, end) = (groups[g].0, groups[g + used - 1].1);
                    found.push(Found { start, end, masked: mask_card_number(&digits) });
                    g += used;
                }
                None => g += 1,
            }
        }
        i = k.max(i + 1);
    }
    found
}

/// Whether 13 digits are a mainland mobile number with its country code (86 1xx xxxx xxxx); no card
/// number starts with 86.
fn is_mainland_mobile(digits: &str) -> bool {
    digits.len() == 13 && digits.starts_with("861")
}

/// The longest card number made of the first groups of `groups`: how many groups it takes and its
/// digits. One group is a card by itself; several must each look like a card's groups.
fn card_from(chars: &[char], groups: &[(usize, usize)]) -> Option<(usize, String)> {
    let digits_of = |(start, end): (usize, usize)| -> String {
        chars[start..end].iter().filter_map(|c| digit_value(*c)).map(|d| (b'0' + d) as char).collect()
    };
    let is_card = |digits: &str| {
        (CARD_DIGITS_MIN..=CARD_DIGITS_MAX).contains(&digits.len()) && luhn_valid(digits) && !is_mainland_mobile(digits)
    };
    let first = digits_of(groups[0]);
    if is_card(&first) {
        return Some((1, first));
    }
    if first.len() < CARD_FIRST_GROUP_DIGITS_MIN {
        return None;
    }
    let mut digits = first;
    let mut longest = None;
    for (used, &group) in groups.iter().enumerate().skip(1) {
        let group = digits_of(group);
        if group.len() < CARD_GROUP_DIGITS_MIN || digits.len() + group.len() > CARD_DIGITS_MAX {
            break;
        }
        digits.push_str(&group);
        if is_card(&digits) {
            longest = Some((used + 1, digits.clone()));
        }
    }
    longest
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_number_keeps_its_first_three_and_last_four_characters() {
        assert_eq!(mask_id_number("110101199003071233"), "110***********1233");
    }

    #[test]
    fn a_mainland_phone_keeps_three_and_four_digits_without_its_country_code() {
        let phone = PhoneNumber::parse("13812345678").unwrap();
        assert_eq!(mask_phone(&phone), "138****5678");
    }

    #[test]
    fn a_foreign_phone_keeps_its_plus_and_three_and_four_digits() {
        let phone = PhoneNumber::parse("+447700900123").unwrap();
        assert_eq!(mask_phone(&phone), "+447*****0123");
    }

    #[test]
    fn a_card_number_keeps_its_bin_and_last_four_digits() {
        assert_eq!(mask_card_number("6222020000000000018"), "622202*********0018");
        assert_eq!(mask_card_number("4111111111111111"), "411111******1111");
    }

    #[test]
    fn an_email_keeps_its_first_character_and_domain() {
        let email = Email::parse("zhang.san@Example.COM").unwrap();
        assert_eq!(mask_email(&email), "z***@example.com");
    }

    #[test]
    fn a_value_too_short_to_mask_in_the_middle_keeps_only_its_first_character() {
        assert_eq!(mask_middle("AB12", 3, 4), "A***");
        assert_eq!(mask_middle("", 3, 4), "");
    }

    // Synthetic numbers: test cards the schemes publish, ID numbers and credit codes with computed
    // check characters.
    const VISA: &str = "4111111111111111";
    const UNIONPAY: &str = "6222020000000000018";
    const ID_NUMBER: &str = "110101199003071233";
    const ID_NUMBER_X: &str = "44030520000229007X";
    const CREDIT_CODE: &str = "91350100M000100Y43";

    #[test]
    fn a_card_number_in_free_text_keeps_its_bin_and_last_four_digits() {
        assert_eq!(mask_sensitive_numbers(&format!("refund to {VISA} today")), "refund to 411111******1111 today");
        assert_eq!(mask_sensitive_numbers(&format!("卡号{UNIONPAY}已冻结")), "卡号622202*********0018已冻结");
        assert_eq!(mask_sensitive_numbers("card:4111111111111111."), "card:411111******1111.");
    }

    #[test]
    fn a_card_number_written_in_groups_is_masked_whole() {
        assert_eq!(mask_sensitive_numbers("card 4111 1111 1111 1111 lost"), "card 411111******1111 lost");
        assert_eq!(mask_sensitive_numbers("4111-1111-1111-1111"), "411111******1111");
        assert_eq!(mask_sensitive_numbers("6222 0200 0000 0000 018"), "622202*********0018");
        assert_eq!(mask_sensitive_numbers("amex 3782 822463 10005"), "amex 378282*****0005");
        assert_eq!(mask_sensitive_numbers("+86 4111 1111 1111 1111"), "+86 411111******1111");
    }

    #[test]
    fn a_card_number_in_full_width_digits_is_masked() {
        assert_eq!(mask_sensitive_numbers("卡号４１１１１１１１１１１１１１１１"), "卡号411111******1111");
    }

    #[test]
    fn an_id_card_number_in_free_text_keeps_its_first_three_and_last_four_characters() {
        assert_eq!(mask_sensitive_numbers(&format!("身份证{ID_NUMBER}冒用")), "身份证110***********1233冒用");
        assert_eq!(mask_sensitive_numbers(&format!("ID {ID_NUMBER}")), "ID 110***********1233");
        assert_eq!(mask_sensitive_numbers(&format!("ID{ID_NUMBER}")), "ID110***********1233");
        assert_eq!(mask_sensitive_numbers(&format!("id {ID_NUMBER_X}.")), "id 440***********007X.");
        let lower = ID_NUMBER_X.to_ascii_lowercase();
        assert_eq!(mask_sensitive_numbers(&format!("id {lower}")), "id 440***********007X");
    }

    #[test]
    fn a_credit_code_in_free_text_keeps_its_first_three_and_last_four_characters() {
        assert_eq!(mask_sensitive_numbers(&format!("代码{CREDIT_CODE}。")), "代码913***********0Y43。");
        let lower = CREDIT_CODE.to_ascii_lowercase();
        assert_eq!(mask_sensitive_numbers(&format!("uscc: {lower}")), "uscc: 913***********0Y43");
        assert_eq!(mask_sensitive_numbers("91310115MA1K000016"), "913***********0016");
    }

    #[test]
    fn several_numbers_in_one_text_are_each_masked() {
        let text = format!("card {VISA}, owner {ID_NUMBER}, company {CREDIT_CODE}, card {UNIONPAY}");
        assert_eq!(
            mask_sensitive_numbers(&text),
            "card 411111******1111, owner 110***********1233, company 913***********0Y43, card 622202*********0018"
        );
    }

    #[test]
    fn numbers_that_are_not_cards_or_certificates_are_kept() {
        for text in [
            // Order numbers: a date and a sequence (fails Luhn; no birth date where an ID card has
            // one; no category a credit code has), and one too long to be a card.
            "order 20260131123456789",
            "order 2026013112345678901",
            "202601311234567890",
            "order 41111111111111110000",
            // Phone numbers, with and without their country code and groups.
            "13812345678",
            "+86 138 1234 5678",
            "+8613812345678",
            "8613812345678",
            // Amounts, dates, lists, versions.
            "10000",
            "100.00 CNY",
            "1,000,000.00",
            "2026-01-31 12:00:00",
            "10 20 30 40 50 60 70",
            "v1.2.3-4",
            // A card number with a wrong check digit, an ID number with a wrong check character or an
            // impossible birth date, a credit code with a wrong check character.
            "4111111111111112",
            "110101199003071234",
            "110101200102290019",
            "91350100M000100Y44",
            // Ids sanhu makes.
            "mem_01JH3K5ZQ8W9X7Y6V5T4S3R2Q1",
        ] {
            assert_eq!(mask_sensitive_numbers(text), text, "{text}");
        }
    }

    #[test]
    fn masking_masked_text_changes_nothing() {
        let text = format!("card {VISA}, id {ID_NUMBER}, code {CREDIT_CODE}, 4111 1111 1111 1111");
        let once = mask_sensitive_numbers(&text);
        assert_eq!(mask_sensitive_numbers(&once), once);
    }
}
