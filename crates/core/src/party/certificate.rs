//! Certificates (证件): what identifies a customer. Two customers with the same (type, number) are the
//! same person or organisation, so a number is parsed to one canonical form per type, and checked
//! where its type has a check character, before it is ever compared.

use super::check_digit::{resident_id_check_char, uscc_check_char, USCC_CHARSET};
use super::customer::PartyKind;
use super::mask;
use crate::Timestamp;

rejection_codes! {
    /// Why a certificate could not be parsed.
    pub enum CertificateError {
        CertificateTypeUnknown => "certificate_type_unknown", 422, "the certificate type is not one sanhu knows",
        CertificateFormatInvalid => "certificate_format_invalid", 422,
            "the certificate number does not have the format of its type",
        CertificateCheckFailed => "certificate_check_failed", 422,
            "the certificate number's check character does not match; it was probably mistyped",
    }
}

/// The certificates sanhu identifies customers by.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum CertificateType {
    /// PRC resident identity card (居民身份证): 18 characters, the last an ISO 7064 MOD 11-2 check.
    IdCard,
    /// A passport, PRC or foreign: 5 to 20 letters and digits.
    Passport,
    /// Mainland travel permit for Hong Kong and Macao residents (港澳居民来往内地通行证): H or M and 8
    /// digits (10 on older permits).
    HkMacaoPermit,
    /// Mainland travel permit for Taiwan residents (台湾居民来往大陆通行证): 8 digits (10 on older
    /// permits).
    TaiwanPermit,
    /// Foreign permanent resident ID card (外国人永久居留身份证): since 2023 18 digits starting with 9
    /// with the resident ID's check digit; before, 3 letters and 12 digits.
    ForeignPermanentResident,
    /// Unified social credit code (统一社会信用代码), the enterprise's certificate since the business
    /// licence, organisation code and tax registration were merged into one (三证合一).
    UnifiedSocialCreditCode,
}

impl CertificateType {
    pub const ALL: [CertificateType; 6] = [
        CertificateType::IdCard,
        CertificateType::Passport,
        CertificateType::HkMacaoPermit,
        CertificateType::TaiwanPermit,
        CertificateType::ForeignPermanentResident,
        CertificateType::UnifiedSocialCreditCode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            CertificateType::IdCard => "id_card",
            CertificateType::Passport => "passport",
            CertificateType::HkMacaoPermit => "hk_macao_permit",
            CertificateType::TaiwanPermit => "taiwan_permit",
            CertificateType::ForeignPermanentResident => "foreign_permanent_resident",
            CertificateType::UnifiedSocialCreditCode => "unified_social_credit_code",
        }
    }

    pub fn parse(text: &str) -> Result<CertificateType, CertificateError> {
        CertificateType::ALL.into_iter().find(|t| t.as_str() == text).ok_or(CertificateError::CertificateTypeUnknown)
    }

    /// Whose certificate this is: a person's or an enterprise's. A customer's certificate must be of
    /// its own kind.
    pub fn holder_kind(self) -> PartyKind {
        match self {
            CertificateType::UnifiedSocialCreditCode => PartyKind::Enterprise,
            _ => PartyKind::Personal,
        }
    }
}

/// A certificate: its type and its number in canonical form (trimmed, ASCII letters upper-case).
/// Equality is identity: equal certificates are one customer. Its `Debug` shows the masked number, so
/// that a certificate logged by mistake does not put the number in a log.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Certificate {
    certificate_type: CertificateType,
    number: String,
}

impl Certificate {
    pub fn parse(certificate_type: CertificateType, number: &str) -> Result<Certificate, CertificateError> {
        let number = number.trim().to_ascii_uppercase();
        match certificate_type {
            CertificateType::IdCard => check_resident_id(&number)?,
            CertificateType::Passport => check_passport(&number)?,
            CertificateType::HkMacaoPermit => check_hk_macao_permit(&number)?,
            CertificateType::TaiwanPermit => check_taiwan_permit(&number)?,
            CertificateType::ForeignPermanentResident => check_foreign_permanent_resident(&number)?,
            CertificateType::UnifiedSocialCreditCode => check_uscc(&number)?,
        }
        Ok(Certificate { certificate_type, number })
    }

    pub fn certificate_type(&self) -> CertificateType {
        self.certificate_type
    }

    pub fn number(&self) -> &str {
        &self.number
    }

    pub fn holder_kind(&self) -> PartyKind {
        self.certificate_type.holder_kind()
    }

    /// The number as shown in every answer, record and log line: its first 3 and last 4 characters.
    /// An enterprise's code is masked too, although it is printed on its licence and in the national
    /// enterprise credit register: sanhu keeps certificate numbers of every type the same way, so that
    /// no view has to know which ones are public.
    pub fn masked(&self) -> String {
        mask::mask_id_number(&self.number)
    }
}

impl std::fmt::Debug for Certificate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Certificate({} {})", self.certificate_type.as_str(), self.masked())
    }
}

fn format_invalid() -> CertificateError {
    CertificateError::CertificateFormatInvalid
}

/// 6-digit region, 8-digit birth date, 3-digit sequence, check character.
fn check_resident_id(number: &str) -> Result<(), CertificateError> {
    let b = number.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) || b[0] == b'0' {
        return Err(format_invalid());
    }
    if !is_birth_date(&number[6..14]) {
        return Err(format_invalid());
    }
    if resident_id_check_char(&number[..17]) != Some(b[17] as char) {
        return Err(CertificateError::CertificateCheckFailed);
    }
    Ok(())
}

/// Whether `YYYYMMDD` is a real date from 1900 on.
fn is_birth_date(yyyymmdd: &str) -> bool {
    let (y, m, d) = (&yyyymmdd[..4], &yyyymmdd[4..6], &yyyymmdd[6..]);
    y >= "1900" && Timestamp::parse_rfc3339(&format!("{y}-{m}-{d}T00:00:00Z")).is_some()
}

fn check_passport(number: &str) -> Result<(), CertificateError> {
    let ok = (5..=20).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_alphanumeric());
    ok.then_some(()).ok_or_else(format_invalid)
}

fn check_hk_macao_permit(number: &str) -> Result<(), CertificateError> {
    let ok = matches!(number.as_bytes().first(), Some(b'H' | b'M'))
        && matches!(number.len(), 9 | 11)
        && number[1..].bytes().all(|b| b.is_ascii_digit());
    ok.then_some(()).ok_or_else(format_invalid)
}

fn check_taiwan_permit(number: &str) -> Result<(), CertificateError> {
    let ok = matches!(number.len(), 8 | 10) && number.bytes().all(|b| b.is_ascii_digit());
    ok.then_some(()).ok_or_else(format_invalid)
}

fn check_foreign_permanent_resident(number: &str) -> Result<(), CertificateError> {
    let b = number.as_bytes();
    match b.len() {
        15 if b[..3].iter().all(u8::is_ascii_uppercase) && b[3..].iter().all(u8::is_ascii_digit) => Ok(()),
        18 if b[0] == b'9' && b[..17].iter().all(u8::is_ascii_digit) => {
            if resident_id_check_char(&number[..17]) == Some(b[17] as char) {
                Ok(())
            } else {
                Err(CertificateError::CertificateCheckFailed)
            }
        }
        _ => Err(format_invalid()),
    }
}

/// Registration authority, organisation category, 6-digit region, 9-character organisation code,
/// check character.
fn check_uscc(number: &str) -> Result<(), CertificateError> {
    let b = number.as_bytes();
    if b.len() != 18 || !number.bytes().all(|c| USCC_CHARSET.as_bytes().contains(&c)) {
        return Err(format_invalid());
    }
    if !b[2..8].iter().all(u8::is_ascii_digit) {
        return Err(format_invalid());
    }
    if uscc_check_char(&number[..17]) != Some(b[17] as char) {
        return Err(CertificateError::CertificateCheckFailed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: CertificateType, n: &str) -> Result<Certificate, CertificateError> {
        Certificate::parse(t, n)
    }

    // All numbers below are synthetic: made-up sequence digits with computed check characters.

    #[test]
    fn a_resident_id_with_its_check_digit_parses() {
        let c = parse(CertificateType::IdCard, "110101199003071233").unwrap();
        assert_eq!(c.number(), "110101199003071233");
        assert_eq!(c.holder_kind(), PartyKind::Personal);
    }

    #[test]
    fn a_resident_id_ending_in_a_lower_case_x_is_written_with_a_capital() {
        let c = parse(CertificateType::IdCard, " 44030520000229007x ").unwrap();
        assert_eq!(c.number(), "44030520000229007X");
    }

    #[test]
    fn a_resident_id_with_a_wrong_check_digit_is_refused() {
        assert_eq!(parse(CertificateType::IdCard, "110101199003071234"), Err(CertificateError::CertificateCheckFailed));
    }

    #[test]
    fn a_resident_id_with_an_impossible_birth_date_is_refused() {
        // 2001-02-29 does not exist; the check digit is right for these 17 digits.
        let first17 = "11010120010229001";
        let number = format!("{first17}{}", resident_id_check_char(first17).unwrap());
        assert_eq!(parse(CertificateType::IdCard, &number), Err(CertificateError::CertificateFormatInvalid));
    }

    #[test]
    fn a_fifteen_digit_first_generation_id_is_refused() {
        assert_eq!(parse(CertificateType::IdCard, "110101900307123"), Err(CertificateError::CertificateFormatInvalid));
    }

    #[test]
    fn a_unified_social_credit_code_with_its_check_character_parses() {
        let c = parse(CertificateType::UnifiedSocialCreditCode, "91110108ma01abcd0b").unwrap();
        assert_eq!(c.number(), "91110108MA01ABCD0B");
        assert_eq!(c.holder_kind(), PartyKind::Enterprise);
        assert!(parse(CertificateType::UnifiedSocialCreditCode, "91310115MA1K000016").is_ok());
    }

    #[test]
    fn a_unified_social_credit_code_with_a_wrong_check_character_is_refused() {
        assert_eq!(
            parse(CertificateType::UnifiedSocialCreditCode, "91110108MA01ABCD0C"),
            Err(CertificateError::CertificateCheckFailed)
        );
    }

    #[test]
    fn a_unified_social_credit_code_with_letters_it_never_uses_is_refused() {
        assert_eq!(
            parse(CertificateType::UnifiedSocialCreditCode, "91110108MA01ABCS0B"),
            Err(CertificateError::CertificateFormatInvalid)
        );
        assert_eq!(
            parse(CertificateType::UnifiedSocialCreditCode, "91X10108MA01ABCD0B"),
            Err(CertificateError::CertificateFormatInvalid),
            "the region is digits"
        );
    }

    #[test]
    fn passports_are_five_to_twenty_letters_and_digits() {
        assert_eq!(parse(CertificateType::Passport, "e12345678").unwrap().number(), "E12345678");
        for bad in ["E123", "E1234-5678", &"A".repeat(21)] {
            assert_eq!(parse(CertificateType::Passport, bad), Err(CertificateError::CertificateFormatInvalid), "{bad}");
        }
    }

    #[test]
    fn hong_kong_and_macao_permits_are_h_or_m_and_eight_or_ten_digits() {
        assert!(parse(CertificateType::HkMacaoPermit, "H12345678").is_ok());
        assert!(parse(CertificateType::HkMacaoPermit, "M1234567890").is_ok());
        assert!(parse(CertificateType::HkMacaoPermit, "K12345678").is_err());
        assert!(parse(CertificateType::HkMacaoPermit, "H1234567").is_err());
    }

    #[test]
    fn taiwan_permits_are_eight_or_ten_digits() {
        assert!(parse(CertificateType::TaiwanPermit, "12345678").is_ok());
        assert!(parse(CertificateType::TaiwanPermit, "1234567890").is_ok());
        assert!(parse(CertificateType::TaiwanPermit, "1234567A").is_err());
    }

    #[test]
    fn foreign_permanent_resident_cards_of_both_generations_parse() {
        assert!(parse(CertificateType::ForeignPermanentResident, "USA123456789012").is_ok());
        assert!(parse(CertificateType::ForeignPermanentResident, "910000199506151232").is_ok());
        assert_eq!(
            parse(CertificateType::ForeignPermanentResident, "910000199506151233"),
            Err(CertificateError::CertificateCheckFailed)
        );
        assert!(parse(CertificateType::ForeignPermanentResident, "110101199003071233").is_err(), "starts with 9");
    }

    #[test]
    fn certificate_types_round_trip_through_their_codes() {
        for t in CertificateType::ALL {
            assert_eq!(CertificateType::parse(t.as_str()), Ok(t));
        }
        assert_eq!(CertificateType::parse("driving_licence"), Err(CertificateError::CertificateTypeUnknown));
    }

    #[test]
    fn every_certificate_is_masked_to_its_first_three_and_last_four_characters() {
        let id = parse(CertificateType::IdCard, "110101199003071233").unwrap();
        assert_eq!(id.masked(), "110***********1233");
        let uscc = parse(CertificateType::UnifiedSocialCreditCode, "91110108MA01ABCD0B").unwrap();
        assert_eq!(uscc.masked(), "911***********CD0B");
        let passport = parse(CertificateType::Passport, "E12345678").unwrap();
        assert_eq!(passport.masked(), "E12**5678");
    }

    #[test]
    fn a_certificate_debugged_shows_only_its_masked_number() {
        let id = parse(CertificateType::IdCard, "110101199003071233").unwrap();
        let debugged = format!("{id:?} {:?}", Some(&id));
        assert!(!debugged.contains("110101199003071233"), "{debugged}");
        assert!(debugged.contains("Certificate(id_card 110***********1233)"), "{debugged}");
    }
}
