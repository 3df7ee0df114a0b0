//! Enterprise members' company details (企业资质): what the articles list as an enterprise member's key
//! fields (company name, unified social credit code, legal person and their ID, contact, industry,
//! licence expiry, address), each parsed, so that an enterprise's file is complete and well-formed
//! before it is reviewed.

use super::certificate::{Certificate, CertificateType};
use super::customer::PartyKind;
use super::identity::PhoneNumber;
use super::real_name::RealName;
use crate::{PlatformCalendar, Timestamp};

rejection_codes! {
    /// Why company details were refused.
    pub enum EnterpriseError {
        CreditCodeRequired => "company_credit_code_required", 422,
            "the company's certificate must be its unified social credit code",
        LegalPersonCertificateNotPersonal => "legal_person_certificate_not_personal", 422,
            "the legal person's certificate must be a person's",
        IndustryInvalid => "industry_invalid", 422,
            "an industry is a GB/T 4754 code: a section letter A to T, optionally followed by 2 to 4 digits",
        LicenceExpiryInvalid => "licence_expiry_invalid", 422, "a licence expiry is a date YYYY-MM-DD or long_term",
        AddressInvalid => "address_invalid", 422, "an address is 1 to 200 characters without control characters",
        /// Operators act only for enterprise members.
        MemberNotEnterprise => "member_not_enterprise", 409, "only an enterprise member has company details and operators",
    }
}

/// An industry code from the national classification of economic activities (GB/T 4754): a section
/// letter (A agriculture … T international organisations) and optionally the division, group or class
/// digits ("I", "I64", "I642", "I6421").
#[derive(Clone, PartialEq, Eq, Hash, Debug)]
pub struct IndustryCode(String);

impl IndustryCode {
    pub fn parse(text: &str) -> Result<IndustryCode, EnterpriseError> {
        let text = text.trim().to_ascii_uppercase();
        let b = text.as_bytes();
        let ok = matches!(b.first(), Some(b'A'..=b'T'))
            && matches!(b.len(), 1 | 3 | 4 | 5)
            && b[1..].iter().all(u8::is_ascii_digit);
        ok.then_some(IndustryCode(text)).ok_or(EnterpriseError::IndustryInvalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// When the business licence expires: a date, or long-term (长期), as licences print it.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum LicenceExpiry {
    LongTerm,
    /// Valid through the named day in China (UTC+8); expired from the next midnight there.
    Through {
        year: u16,
        month: u8,
        day: u8,
    },
}

impl LicenceExpiry {
    /// Parses `YYYY-MM-DD`, or `long_term` / `长期`.
    pub fn parse(text: &str) -> Result<LicenceExpiry, EnterpriseError> {
        let text = text.trim();
        if text == "long_term" || text == "长期" {
            return Ok(LicenceExpiry::LongTerm);
        }
        let b = text.as_bytes();
        let shaped = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && [0..4, 5..7, 8..10].into_iter().all(|r| b[r].iter().all(u8::is_ascii_digit));
        if !shaped {
            return Err(EnterpriseError::LicenceExpiryInvalid);
        }
        let num = |r: std::ops::Range<usize>| text[r].parse::<u16>().map_err(|_| EnterpriseError::LicenceExpiryInvalid);
        let expiry = LicenceExpiry::Through { year: num(0..4)?, month: num(5..7)? as u8, day: num(8..10)? as u8 };
        if expiry.starts_of_last_day().is_none() {
            return Err(EnterpriseError::LicenceExpiryInvalid);
        }
        Ok(expiry)
    }

    /// The instant the licence stops being valid, if it ever does.
    pub fn ends_at(self) -> Option<Timestamp> {
        match self {
            LicenceExpiry::LongTerm => None,
            LicenceExpiry::Through { .. } => self.starts_of_last_day()?.add_seconds(86_400),
        }
    }

    /// Midnight in China starting the last valid day (a licence is a Chinese document, so its days are
    /// China's whatever the platform's time zone), or `None` for a date that does not exist.
    fn starts_of_last_day(self) -> Option<Timestamp> {
        match self {
            LicenceExpiry::LongTerm => None,
            LicenceExpiry::Through { year, month, day } => PlatformCalendar::china().date_start(
                i16::try_from(year).ok()?,
                i8::try_from(month).ok()?,
                i8::try_from(day).ok()?,
            ),
        }
    }

    pub fn is_expired(self, now: Timestamp) -> bool {
        self.ends_at().is_some_and(|end| now >= end)
    }
}

/// A postal address, as one line, with any card or certificate number in it masked: it is free text.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Address(String);

impl Address {
    pub fn parse(text: &str) -> Result<Address, EnterpriseError> {
        let text = text.trim();
        let ok = (1..=200).contains(&text.chars().count()) && !text.chars().any(char::is_control);
        ok.then(|| Address(super::mask::mask_sensitive_numbers(text))).ok_or(EnterpriseError::AddressInvalid)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Company details as entered, each part already parsed; [`CompanyDetails::new`] checks how they fit.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CompanyDetailsParts {
    pub name: RealName,
    pub credit_code: Certificate,
    pub legal_person: RealName,
    pub legal_person_certificate: Certificate,
    pub contact: RealName,
    pub contact_phone: PhoneNumber,
    pub industry: IndustryCode,
    pub licence_expiry: LicenceExpiry,
    pub address: Address,
}

/// An enterprise member's company details.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CompanyDetails(CompanyDetailsParts);

impl CompanyDetails {
    pub fn new(parts: CompanyDetailsParts) -> Result<CompanyDetails, EnterpriseError> {
        if parts.credit_code.certificate_type() != CertificateType::UnifiedSocialCreditCode {
            return Err(EnterpriseError::CreditCodeRequired);
        }
        if parts.legal_person_certificate.holder_kind() != PartyKind::Personal {
            return Err(EnterpriseError::LegalPersonCertificateNotPersonal);
        }
        Ok(CompanyDetails(parts))
    }

    pub fn parts(&self) -> &CompanyDetailsParts {
        &self.0
    }

    pub fn name(&self) -> &RealName {
        &self.0.name
    }

    pub fn credit_code(&self) -> &Certificate {
        &self.0.credit_code
    }

    /// Whether the business licence is valid at `now`. An expired licence is for the layers above to
    /// act on (ask for the renewed one); the details stay recorded.
    pub fn licence_valid_at(&self, now: Timestamp) -> bool {
        !self.0.licence_expiry.is_expired(now)
    }
}

/// Company details and operators belong only to enterprise members.
pub fn check_enterprise(kind: PartyKind) -> Result<(), EnterpriseError> {
    if kind != PartyKind::Enterprise {
        return Err(EnterpriseError::MemberNotEnterprise);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::party::tests::{id_card, person, uscc};

    #[test]
    fn a_card_or_certificate_number_in_an_address_is_masked() {
        let address = Address::parse("北京市海淀区某某路1号 (card 4111111111111111)").unwrap();
        assert_eq!(address.as_str(), "北京市海淀区某某路1号 (card 411111******1111)");
        assert_eq!(Address::parse("北京市海淀区某某路100号").unwrap().as_str(), "北京市海淀区某某路100号");
    }

    fn parts() -> CompanyDetailsParts {
        CompanyDetailsParts {
            name: RealName::organisation("某某（北京）科技有限公司").unwrap(),
            credit_code: uscc(),
            legal_person: person("张三"),
            legal_person_certificate: id_card(),
            contact: person("李四"),
            contact_phone: PhoneNumber::parse("13812345678").unwrap(),
            industry: IndustryCode::parse("I642").unwrap(),
            licence_expiry: LicenceExpiry::parse("2035-06-30").unwrap(),
            address: Address::parse("北京市海淀区某某路1号").unwrap(),
        }
    }

    #[test]
    fn complete_company_details_are_accepted() {
        let details = CompanyDetails::new(parts()).unwrap();
        assert_eq!(details.name().as_str(), "某某(北京)科技有限公司");
        assert_eq!(details.credit_code(), &uscc());
    }

    #[test]
    fn the_company_certificate_must_be_a_unified_social_credit_code() {
        let refused = CompanyDetails::new(CompanyDetailsParts { credit_code: id_card(), ..parts() });
        assert_eq!(refused, Err(EnterpriseError::CreditCodeRequired));
    }

    #[test]
    fn the_legal_person_certificate_must_be_a_persons() {
        let refused = CompanyDetails::new(CompanyDetailsParts { legal_person_certificate: uscc(), ..parts() });
        assert_eq!(refused, Err(EnterpriseError::LegalPersonCertificateNotPersonal));
    }

    #[test]
    fn industry_codes_are_a_section_letter_and_optional_digits() {
        for ok in ["I", "i64", "I642", "I6421", "A01"] {
            assert!(IndustryCode::parse(ok).is_ok(), "{ok}");
        }
        for bad in ["", "U", "I6", "I64211", "64", "I6A"] {
            assert_eq!(IndustryCode::parse(bad), Err(EnterpriseError::IndustryInvalid), "{bad}");
        }
    }

    #[test]
    fn a_licence_is_valid_through_its_last_day_in_china() {
        let expiry = LicenceExpiry::parse("2035-06-30").unwrap();
        let last_evening = Timestamp::parse_rfc3339("2035-06-30T23:59:59+08:00").unwrap();
        let next_midnight = Timestamp::parse_rfc3339("2035-07-01T00:00:00+08:00").unwrap();
        assert!(!expiry.is_expired(last_evening));
        assert!(expiry.is_expired(next_midnight));
        let details = CompanyDetails::new(parts()).unwrap();
        assert!(details.licence_valid_at(last_evening) && !details.licence_valid_at(next_midnight));
    }

    #[test]
    fn a_long_term_licence_never_expires() {
        for text in ["long_term", "长期"] {
            let expiry = LicenceExpiry::parse(text).unwrap();
            assert_eq!(expiry, LicenceExpiry::LongTerm);
            assert!(!expiry.is_expired(Timestamp(i64::MAX)));
        }
    }

    #[test]
    fn an_impossible_or_malformed_licence_date_is_refused() {
        for bad in ["2035-02-30", "2035-6-30", "30/06/2035", ""] {
            assert_eq!(LicenceExpiry::parse(bad), Err(EnterpriseError::LicenceExpiryInvalid), "{bad}");
        }
    }

    #[test]
    fn an_address_is_one_line_of_text() {
        assert_eq!(Address::parse(" 北京市 ").unwrap().as_str(), "北京市");
        assert_eq!(Address::parse(""), Err(EnterpriseError::AddressInvalid));
        assert_eq!(Address::parse("a\nb"), Err(EnterpriseError::AddressInvalid));
    }

    #[test]
    fn only_enterprise_members_have_company_details_and_operators() {
        assert_eq!(check_enterprise(PartyKind::Enterprise), Ok(()));
        assert_eq!(check_enterprise(PartyKind::Personal), Err(EnterpriseError::MemberNotEnterprise));
    }
}
