//! Masking for display (脱敏): authentication records, card lists and support screens show enough of
//! a number for its owner to recognise it and not enough for anyone else to use it.

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
}
