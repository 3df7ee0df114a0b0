//! Login identities (登录标识): the phone numbers, email addresses, nicknames and third-party accounts a
//! member signs in with. A member may have several; each belongs to one member in the whole platform,
//! so each is parsed to one canonical form and compared by its uniqueness key.

use super::mask;

rejection_codes! {
    /// Why a login identity could not be parsed or used.
    pub enum IdentityError {
        PhoneInvalid => "phone_invalid", 422,
            "a phone number is E.164 (+ and 8 to 15 digits) or an 11-digit mainland mobile number",
        EmailInvalid => "email_invalid", 422, "the email address is not of the form mailbox@domain.tld",
        NicknameLengthInvalid => "nickname_length_invalid", 422, "a nickname is 2 to 20 characters",
        NicknameCharacterInvalid => "nickname_character_invalid", 422, "a nickname has only letters, digits, '_' and '-'",
        NicknameAllDigits => "nickname_all_digits", 422,
            "a nickname of digits only could be mistaken for a phone or member number",
        ThirdPartyProviderInvalid => "third_party_provider_invalid", 422,
            "a provider is 2 to 32 lower-case letters, digits or '_'",
        ThirdPartySubjectInvalid => "third_party_subject_invalid", 422, "a subject is 1 to 255 printable ASCII characters",
        /// Another member already signs in with this identity.
        IdentityTaken => "identity_taken", 409, "another member already uses this login identity",
        /// Removing it would leave the member no way to sign in.
        LastIdentity => "last_identity", 409, "a member keeps at least one login identity",
    }
}

/// A mobile phone number in E.164 form (+8613812345678). An 11-digit mainland number (1 then 3 to 9)
/// is read as +86; spaces and hyphens typed between digits are dropped.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    pub fn parse(text: &str) -> Result<PhoneNumber, IdentityError> {
        let compact: String = text.trim().chars().filter(|c| !matches!(c, ' ' | '-')).collect();
        let e164 = match compact.strip_prefix('+') {
            Some(digits) => {
                let ok = (8..=15).contains(&digits.len())
                    && digits.bytes().all(|b| b.is_ascii_digit())
                    && !digits.starts_with('0');
                if !ok {
                    return Err(IdentityError::PhoneInvalid);
                }
                compact
            }
            None if is_mainland_mobile(&compact) => format!("+86{compact}"),
            None => return Err(IdentityError::PhoneInvalid),
        };
        // A +86 login phone must be a mainland mobile: landlines receive no codes by SMS.
        if let Some(national) = e164.strip_prefix("+86") {
            if !is_mainland_mobile(national) {
                return Err(IdentityError::PhoneInvalid);
            }
        }
        Ok(PhoneNumber(e164))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask::mask_phone(self)
    }
}

fn is_mainland_mobile(digits: &str) -> bool {
    let b = digits.as_bytes();
    b.len() == 11 && b[0] == b'1' && (b'3'..=b'9').contains(&b[1]) && b.iter().all(u8::is_ascii_digit)
}

/// An email address: a mailbox of the characters RFC 5322 allows unquoted, '@', and a domain of at
/// least two labels, written in lower case. Deliberately simpler than the RFC (no quoted mailboxes, no
/// IP literals): the address must receive a one-time code, not merely be well-formed.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Email(String);

/// RFC 5321's limits: 64 for the mailbox, 254 for the whole address.
const EMAIL_LOCAL_LEN_MAX: usize = 64;
const EMAIL_LEN_MAX: usize = 254;

impl Email {
    pub fn parse(text: &str) -> Result<Email, IdentityError> {
        let text = text.trim();
        let (local, domain) = text.split_once('@').ok_or(IdentityError::EmailInvalid)?;
        let domain = domain.to_ascii_lowercase();
        let ok = text.len() <= EMAIL_LEN_MAX && is_mailbox(local) && is_domain(&domain);
        ok.then(|| Email(format!("{local}@{domain}"))).ok_or(IdentityError::EmailInvalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn masked(&self) -> String {
        mask::mask_email(self)
    }
}

fn is_mailbox(local: &str) -> bool {
    let allowed = |c: u8| c.is_ascii_alphanumeric() || b"!#$%&'*+/=?^_`{|}~.-".contains(&c);
    (1..=EMAIL_LOCAL_LEN_MAX).contains(&local.len())
        && local.bytes().all(allowed)
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
}

fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let label_ok = |l: &&str| {
        (1..=63).contains(&l.len())
            && l.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    let tld_ok = labels.last().is_some_and(|t| t.len() >= 2 && t.bytes().all(|c| c.is_ascii_alphabetic()));
    labels.len() >= 2 && labels.iter().all(label_ok) && tld_ok
}

/// A nickname (昵称): 2 to 20 letters of any script, digits, '_' or '-', not digits only.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct Nickname(String);

pub const NICKNAME_CHARS_MIN: usize = 2;
pub const NICKNAME_CHARS_MAX: usize = 20;

impl Nickname {
    pub fn parse(text: &str) -> Result<Nickname, IdentityError> {
        let text = text.trim();
        if !(NICKNAME_CHARS_MIN..=NICKNAME_CHARS_MAX).contains(&text.chars().count()) {
            return Err(IdentityError::NicknameLengthInvalid);
        }
        if !text.chars().all(|c| c.is_alphabetic() || c.is_ascii_digit() || c == '_' || c == '-') {
            return Err(IdentityError::NicknameCharacterInvalid);
        }
        if text.chars().all(|c| c.is_ascii_digit()) {
            return Err(IdentityError::NicknameAllDigits);
        }
        Ok(Nickname(text.to_owned()))
    }

    /// As the member wrote it; uniqueness ignores case.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An account at another platform the member signs in with: the provider (`wechat`, `alipay`,
/// `apple`) and the provider's stable id for the person (its OpenID, UnionID or `sub`), kept exactly
/// as the provider gives it.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct ThirdPartyIdentity {
    provider: String,
    subject: String,
}

impl ThirdPartyIdentity {
    pub fn parse(provider: &str, subject: &str) -> Result<ThirdPartyIdentity, IdentityError> {
        let provider_ok = (2..=32).contains(&provider.len())
            && provider.bytes().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'_');
        if !provider_ok {
            return Err(IdentityError::ThirdPartyProviderInvalid);
        }
        if !(1..=255).contains(&subject.len()) || !subject.bytes().all(|c| c.is_ascii_graphic()) {
            return Err(IdentityError::ThirdPartySubjectInvalid);
        }
        Ok(ThirdPartyIdentity { provider: provider.to_owned(), subject: subject.to_owned() })
    }

    pub fn provider(&self) -> &str {
        &self.provider
    }

    pub fn subject(&self) -> &str {
        &self.subject
    }
}

/// One way a member signs in.
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub enum LoginIdentity {
    Phone(PhoneNumber),
    Email(Email),
    Nickname(Nickname),
    ThirdParty(ThirdPartyIdentity),
}

impl LoginIdentity {
    pub fn kind(&self) -> &'static str {
        match self {
            LoginIdentity::Phone(_) => "phone",
            LoginIdentity::Email(_) => "email",
            LoginIdentity::Nickname(_) => "nickname",
            LoginIdentity::ThirdParty(_) => "third_party",
        }
    }

    /// The key the platform keeps unique: two identities with the same key cannot belong to two
    /// members. The kind is part of it, so a nickname can never collide with an email. Emails and
    /// nicknames are compared without case: mailboxes are case-sensitive in theory but not at any
    /// provider people use, and "Alice" and "alice" are one name to a person reading it.
    pub fn uniqueness_key(&self) -> String {
        match self {
            LoginIdentity::Phone(p) => format!("phone:{}", p.as_str()),
            LoginIdentity::Email(e) => format!("email:{}", e.as_str().to_lowercase()),
            LoginIdentity::Nickname(n) => format!("nickname:{}", n.as_str().to_lowercase()),
            LoginIdentity::ThirdParty(t) => format!("third_party:{}:{}", t.provider, t.subject),
        }
    }
}

/// Whether a member may remove one of its login identities, given how many it has. The last one
/// stays: without it the member could not sign in, and its accounts would be out of reach.
pub fn check_remove_identity(identities: usize) -> Result<(), IdentityError> {
    if identities <= 1 {
        Err(IdentityError::LastIdentity)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_mainland_eleven_digit_number_is_written_with_plus_eighty_six() {
        assert_eq!(PhoneNumber::parse("13812345678").unwrap().as_str(), "+8613812345678");
        assert_eq!(PhoneNumber::parse(" 138-1234-5678 ").unwrap().as_str(), "+8613812345678");
        assert_eq!(PhoneNumber::parse("+86 138 1234 5678").unwrap().as_str(), "+8613812345678");
    }

    #[test]
    fn an_e164_number_of_another_country_is_kept() {
        assert_eq!(PhoneNumber::parse("+447700900123").unwrap().as_str(), "+447700900123");
        assert_eq!(PhoneNumber::parse("+85291234567").unwrap().as_str(), "+85291234567");
    }

    #[test]
    fn malformed_phone_numbers_are_refused() {
        for bad in ["", "12812345678", "1381234567", "138123456789", "+0123456789", "+1234567", "+1234567890123456"] {
            assert_eq!(PhoneNumber::parse(bad), Err(IdentityError::PhoneInvalid), "{bad}");
        }
    }

    #[test]
    fn a_plus_eighty_six_number_must_be_a_mainland_mobile() {
        assert_eq!(PhoneNumber::parse("+861012345678"), Err(IdentityError::PhoneInvalid), "a Beijing landline");
    }

    #[test]
    fn an_email_domain_is_written_in_lower_case_and_its_mailbox_kept() {
        assert_eq!(Email::parse(" Zhang.San@Example.COM ").unwrap().as_str(), "Zhang.San@example.com");
    }

    #[test]
    fn malformed_emails_are_refused() {
        for bad in [
            "",
            "a",
            "a@b",
            "@example.com",
            "a@@example.com",
            "a..b@example.com",
            ".a@example.com",
            "a@-example.com",
            "a@example.c",
            "a b@example.com",
            "a@example.123",
        ] {
            assert_eq!(Email::parse(bad), Err(IdentityError::EmailInvalid), "{bad}");
        }
    }

    #[test]
    fn nicknames_are_letters_digits_underscores_and_hyphens() {
        assert_eq!(Nickname::parse(" 小明_2026 ").unwrap().as_str(), "小明_2026");
        assert_eq!(Nickname::parse("a"), Err(IdentityError::NicknameLengthInvalid));
        assert_eq!(Nickname::parse(&"a".repeat(21)), Err(IdentityError::NicknameLengthInvalid));
        assert_eq!(Nickname::parse("a b"), Err(IdentityError::NicknameCharacterInvalid));
        assert_eq!(Nickname::parse("a@b"), Err(IdentityError::NicknameCharacterInvalid));
    }

    #[test]
    fn a_nickname_of_digits_only_is_refused() {
        assert_eq!(Nickname::parse("13812345678"), Err(IdentityError::NicknameAllDigits));
    }

    #[test]
    fn a_third_party_identity_is_a_provider_code_and_the_providers_subject() {
        let t = ThirdPartyIdentity::parse("wechat", "oAbC-123_xyz").unwrap();
        assert_eq!((t.provider(), t.subject()), ("wechat", "oAbC-123_xyz"));
        assert_eq!(ThirdPartyIdentity::parse("WeChat", "x"), Err(IdentityError::ThirdPartyProviderInvalid));
        assert_eq!(ThirdPartyIdentity::parse("wechat", ""), Err(IdentityError::ThirdPartySubjectInvalid));
        assert_eq!(ThirdPartyIdentity::parse("wechat", "a b"), Err(IdentityError::ThirdPartySubjectInvalid));
    }

    #[test]
    fn the_same_phone_typed_two_ways_has_one_uniqueness_key() {
        let a = LoginIdentity::Phone(PhoneNumber::parse("13812345678").unwrap());
        let b = LoginIdentity::Phone(PhoneNumber::parse("+86 138-1234-5678").unwrap());
        assert_eq!(a.uniqueness_key(), b.uniqueness_key());
        assert_eq!(a.uniqueness_key(), "phone:+8613812345678");
    }

    #[test]
    fn emails_and_nicknames_are_unique_without_regard_to_case() {
        let a = LoginIdentity::Email(Email::parse("Alice@example.com").unwrap());
        let b = LoginIdentity::Email(Email::parse("alice@EXAMPLE.com").unwrap());
        assert_eq!(a.uniqueness_key(), b.uniqueness_key());
        let n = LoginIdentity::Nickname(Nickname::parse("Alice").unwrap());
        let m = LoginIdentity::Nickname(Nickname::parse("ALICE").unwrap());
        assert_eq!(n.uniqueness_key(), m.uniqueness_key());
    }

    #[test]
    fn identities_of_different_kinds_never_share_a_key() {
        let nickname = LoginIdentity::Nickname(Nickname::parse("wechat").unwrap());
        let third = LoginIdentity::ThirdParty(ThirdPartyIdentity::parse("wechat", "wechat").unwrap());
        assert_ne!(nickname.uniqueness_key(), third.uniqueness_key());
        assert_eq!(third.uniqueness_key(), "third_party:wechat:wechat");
    }

    #[test]
    fn third_party_subjects_are_unique_with_their_case() {
        let a = LoginIdentity::ThirdParty(ThirdPartyIdentity::parse("apple", "AbC").unwrap());
        let b = LoginIdentity::ThirdParty(ThirdPartyIdentity::parse("apple", "abc").unwrap());
        assert_ne!(a.uniqueness_key(), b.uniqueness_key());
    }

    #[test]
    fn a_member_cannot_remove_its_last_login_identity() {
        assert_eq!(check_remove_identity(1), Err(IdentityError::LastIdentity));
        assert_eq!(check_remove_identity(2), Ok(()));
    }
}
