//! Real names (实名): a person's or an organisation's name as a verified authentication states it and as
//! a bank card's holder is written. Withdrawals go only to a card whose holder is the member's real
//! name, so the comparison must see through the ways one name is written: spacing and, for Latin
//! names, case.

rejection_codes! {
    /// Why a name could not be parsed.
    pub enum RealNameError {
        RealNameInvalid => "real_name_invalid", 422,
            "a person's name is 1 to 64 letters, with spaces, dots, hyphens or apostrophes between them",
        OrganisationNameInvalid => "organisation_name_invalid", 422,
            "an organisation's name is 2 to 100 characters with at least one letter",
    }
}

/// The longest name, in characters.
pub const REAL_NAME_CHARS_MAX: usize = 64;

/// A verified name: a person's (张三, 阿依古丽·买买提, Zhang San) or an organisation's (北京某某科技有限公司).
/// Stored trimmed, with runs of whitespace collapsed to one space, other middle-dot forms written as
/// '·' and full-width parentheses as ASCII ones, so that one name has one form.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RealName(String);

/// The longest organisation name, in characters.
pub const ORGANISATION_NAME_CHARS_MAX: usize = 100;

impl RealName {
    /// A person's name: letters of any script, with the separators names use between them (a space,
    /// the middle dot of transliterated names, a hyphen, an apostrophe, a full stop).
    pub fn person(text: &str) -> Result<RealName, RealNameError> {
        let name = canonical(text);
        let chars = name.chars().count();
        let letters_only = name.chars().all(|c| c.is_alphabetic() || matches!(c, ' ' | '·' | '-' | '\'' | '.'));
        let starts_with_letter = name.chars().next().is_some_and(char::is_alphabetic);
        if !(1..=REAL_NAME_CHARS_MAX).contains(&chars) || !letters_only || !starts_with_letter {
            return Err(RealNameError::RealNameInvalid);
        }
        Ok(RealName(name))
    }

    /// An organisation's registered name: 2 to 100 characters with at least one letter and no control
    /// characters. Registered names hold digits and brackets ("某某（北京）科技有限公司"), so this is
    /// looser than a person's name, and free text enough to be masked
    /// ([`super::mask::mask_sensitive_numbers`]).
    pub fn organisation(text: &str) -> Result<RealName, RealNameError> {
        let name = super::mask::mask_sensitive_numbers(&canonical(text));
        let chars = name.chars().count();
        let ok = (2..=ORGANISATION_NAME_CHARS_MAX).contains(&chars)
            && name.chars().any(char::is_alphabetic)
            && !name.chars().any(char::is_control);
        ok.then_some(RealName(name)).ok_or(RealNameError::OrganisationNameInvalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether two names are the same person's name as written on different documents: case is
    /// ignored, and so is a space next to a non-Latin letter ("张 三" is "张三"), but a space between two
    /// Latin letters is kept ("Li Nan" is not "Lin An").
    pub fn matches(&self, other: &RealName) -> bool {
        self.match_key() == other.match_key()
    }

    fn match_key(&self) -> String {
        let chars: Vec<char> = self.0.chars().flat_map(char::to_lowercase).collect();
        let mut key = String::with_capacity(self.0.len());
        for (i, &c) in chars.iter().enumerate() {
            if c == ' ' {
                let before_latin = chars.get(i + 1).is_some_and(char::is_ascii_alphabetic);
                let after_latin = i > 0 && chars[i - 1].is_ascii_alphabetic();
                if !(before_latin && after_latin) {
                    continue;
                }
            }
            key.push(c);
        }
        key
    }
}

/// Trimmed, whitespace runs as one space, one middle dot, ASCII parentheses.
fn canonical(text: &str) -> String {
    let mut name = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !name.is_empty() {
            name.push(' ');
        }
        name.extend(word.chars().map(|c| match c {
            '\u{2022}' | '\u{2027}' | '\u{30FB}' | '\u{FF65}' => '·',
            '（' => '(',
            '）' => ')',
            c => c,
        }));
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_number_in_an_organisation_name_is_masked() {
        let name = RealName::organisation("某某科技有限公司 91350100M000100Y43").unwrap();
        assert_eq!(name.as_str(), "某某科技有限公司 913***********0Y43");
        assert_eq!(RealName::organisation("某某（北京）科技有限公司").unwrap().as_str(), "某某(北京)科技有限公司");
    }

    fn name(s: &str) -> RealName {
        RealName::person(s).unwrap()
    }

    #[test]
    fn names_are_trimmed_and_their_spacing_collapsed() {
        assert_eq!(name("  Zhang   San ").as_str(), "Zhang San");
        assert_eq!(name("张三").as_str(), "张三");
    }

    #[test]
    fn middle_dot_variants_are_written_as_one_middle_dot() {
        assert_eq!(name("阿依古丽•买买提").as_str(), "阿依古丽·买买提");
        assert_eq!(name("阿依古丽・买买提").as_str(), "阿依古丽·买买提");
    }

    #[test]
    fn digits_symbols_empty_and_overlong_names_are_refused() {
        for bad in ["", "   ", "张三1", "Zhang_San", "·张三", "a@b", &"名".repeat(REAL_NAME_CHARS_MAX + 1)] {
            assert_eq!(RealName::person(bad), Err(RealNameError::RealNameInvalid), "{bad}");
        }
    }

    #[test]
    fn organisation_names_keep_digits_and_brackets_written_one_way() {
        let a = RealName::organisation("某某（北京）科技有限公司").unwrap();
        assert_eq!(a.as_str(), "某某(北京)科技有限公司");
        assert!(a.matches(&RealName::organisation("某某(北京)科技有限公司").unwrap()));
        assert!(RealName::organisation("Apple Inc.").unwrap().matches(&RealName::organisation("APPLE  INC.").unwrap()));
    }

    #[test]
    fn an_organisation_name_without_letters_or_too_short_is_refused() {
        for bad in ["", "公", "123456", "(1)"] {
            assert_eq!(RealName::organisation(bad), Err(RealNameError::OrganisationNameInvalid), "{bad}");
        }
    }

    #[test]
    fn latin_names_match_regardless_of_case_and_spacing() {
        assert!(name("ZHANG SAN").matches(&name("Zhang  San")));
        assert!(name("o'brien").matches(&name("O'Brien")));
    }

    #[test]
    fn a_space_between_latin_letters_is_part_of_the_name() {
        assert!(!name("Li Nan").matches(&name("Lin An")));
        assert!(!name("ZHANG SAN").matches(&name("ZHANGSAN")));
    }

    #[test]
    fn spaces_in_chinese_names_are_ignored() {
        assert!(name("张 三").matches(&name("张三")));
        assert!(!name("张三").matches(&name("张四")));
    }
}
