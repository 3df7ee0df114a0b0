//! Field values of three-party requests, parsed into the core's types. A value a core rule refuses
//! is answered with that rule's code (`phone_invalid`, `certificate_check_failed`, `reason_invalid`...,
//! 422); the choices the API itself offers (kind, scope, status, result) have codes of their own.

use sanhu_core::party::authentication::AuthenticationChannel;
use sanhu_core::party::one_time_code::{CodePurpose, CodeTarget};
use sanhu_core::party::operator::Operations;
use sanhu_core::party::{
    AccountTypeCode, AuthenticationSubject, AuthenticationType, CardNumber, Certificate, CertificateType,
    CustomerScope, CustomerStatus, Email, LoginIdentity, MemberAccountStatus, Nickname, Operation, OperatorRole,
    PartyKind, PhoneNumber, RealName, Reason, ThirdPartyIdentity,
};
use sanhu_service::party::{AuthenticationResult, PartyError, Rejection};
use serde::Deserialize;

use crate::error::{code, ApiError};

/// A core rule's refusal of a value, answered with the rule's registered code and naming the field.
pub fn refused(field: &str, error: impl sanhu_core::Refusal) -> ApiError {
    ApiError::refused(Rejection::of(error)).within(field)
}

pub fn reason(text: &str) -> Result<Reason, ApiError> {
    Reason::parse(text).map_err(|e| refused("reason", e))
}

pub fn phone(field: &str, text: &str) -> Result<PhoneNumber, ApiError> {
    PhoneNumber::parse(text).map_err(|e| refused(field, e))
}

/// `personal` (the default) or `enterprise`.
pub fn kind(text: Option<&str>) -> Result<PartyKind, ApiError> {
    match text {
        None => Ok(PartyKind::Personal),
        Some(text) => PartyKind::parse(text)
            .ok_or_else(|| ApiError::new(code::INVALID_KIND, "kind must be \"personal\" or \"enterprise\"")),
    }
}

/// `external` (the default) or `internal` (a group company's own customer).
pub fn scope(text: Option<&str>) -> Result<CustomerScope, ApiError> {
    match text {
        None => Ok(CustomerScope::External),
        Some(text) => CustomerScope::parse(text)
            .ok_or_else(|| ApiError::new(code::INVALID_SCOPE, "scope must be \"external\" or \"internal\"")),
    }
}

/// A third-party login: the provider and its id for the person.
#[derive(Deserialize, Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ThirdPartyField {
    #[schema(pattern = "^[a-z0-9_]{2,32}$", examples("wechat"))]
    provider: String,
    /// The provider's stable id for the person (OpenID, UnionID, sub).
    #[schema(pattern = "^[!-~]{1,255}$")]
    subject: String,
}

/// The one login identity a registration names: exactly one of the four fields.
pub fn login_identity(
    phone_text: Option<&str>,
    email: Option<&str>,
    nickname: Option<&str>,
    third_party: Option<&ThirdPartyField>,
) -> Result<LoginIdentity, ApiError> {
    let given = [phone_text.is_some(), email.is_some(), nickname.is_some(), third_party.is_some()];
    match given.iter().filter(|g| **g).count() {
        0 => {
            return Err(ApiError::new(
                code::MISSING_FIELD,
                "missing field: give one of `phone`, `email`, `nickname`, `third_party`",
            ))
        }
        1 => {}
        _ => {
            return Err(ApiError::new(
                code::INVALID_FIELD,
                "give only one of `phone`, `email`, `nickname`, `third_party`; add others to the member later",
            ))
        }
    }
    if let Some(text) = phone_text {
        return phone("phone", text).map(LoginIdentity::Phone);
    }
    if let Some(text) = email {
        return Email::parse(text).map(LoginIdentity::Email).map_err(|e| refused("email", e));
    }
    if let Some(text) = nickname {
        return Nickname::parse(text).map(LoginIdentity::Nickname).map_err(|e| refused("nickname", e));
    }
    let third_party = third_party.expect("exactly one identity is given");
    ThirdPartyIdentity::parse(&third_party.provider, &third_party.subject)
        .map(LoginIdentity::ThirdParty)
        .map_err(|e| refused("third_party", e))
}

/// At most one login identity (an operator may have none): `None` when no field is given.
pub fn optional_login_identity(
    phone_text: Option<&str>,
    email: Option<&str>,
    nickname: Option<&str>,
    third_party: Option<&ThirdPartyField>,
) -> Result<Option<LoginIdentity>, ApiError> {
    if phone_text.is_none() && email.is_none() && nickname.is_none() && third_party.is_none() {
        return Ok(None);
    }
    login_identity(phone_text, email, nickname, third_party).map(Some)
}

/// Exactly one login identity: `phone`, `email`, `nickname` or `third_party` (none: `missing_field`; several:
/// `invalid_field`).
#[derive(Deserialize, Debug, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IdentityBody {
    /// A mainland mobile (11 digits, read as +86) or +country and number (`phone_invalid` otherwise).
    #[schema(pattern = "^\\+?[0-9][0-9 -]{6,30}$", examples("13800000001"))]
    phone: Option<String>,
    #[schema(pattern = "^[^@\\s]{1,64}@[^@\\s]+\\.[^@\\s]+$", max_length = 254, examples("zhang.san@example.cn"))]
    email: Option<String>,
    /// 2 to 20 letters, digits, '_' or '-', not all digits.
    #[schema(min_length = 2, max_length = 20)]
    nickname: Option<String>,
    #[schema(inline)]
    third_party: Option<ThirdPartyField>,
}

exactly_one_of!(LoginIdentityRequest = IdentityBody, ["phone", "email", "nickname", "third_party"]);

impl IdentityBody {
    pub fn identity(&self) -> Result<LoginIdentity, ApiError> {
        login_identity(
            self.phone.as_deref(),
            self.email.as_deref(),
            self.nickname.as_deref(),
            self.third_party.as_ref(),
        )
    }
}

/// An operator's role: admin, staff, cashier or operator.
pub fn role(text: &str) -> Result<OperatorRole, ApiError> {
    OperatorRole::parse(text).ok_or_else(|| {
        ApiError::new(code::INVALID_ROLE, "role must be one of \"admin\", \"staff\", \"cashier\", \"operator\"")
    })
}

pub fn operation(text: &str) -> Result<Operation, ApiError> {
    Operation::parse(text).ok_or_else(|| {
        ApiError::new(code::INVALID_OPERATION, "an operation is one of \"view\", \"pay\", \"transfer\", \"withdraw\"")
    })
}

/// A set of operations, each named once or more; none at all grants nothing.
pub fn operations(texts: &[String]) -> Result<Operations, ApiError> {
    let parsed = texts.iter().map(|text| operation(text)).collect::<Result<Vec<_>, _>>()?;
    Ok(Operations::of(&parsed))
}

/// The purposes a code may be issued and checked for through /v1/one-time-codes. A phone change's
/// codes are issued and checked by the phone change's own endpoints, which record their progress.
pub fn code_purpose(text: &str) -> Result<CodePurpose, ApiError> {
    match text {
        "register" => Ok(CodePurpose::Register),
        "sign_in" => Ok(CodePurpose::SignIn),
        "pay_password_reset" => Ok(CodePurpose::PayPasswordReset),
        "authentication" => Ok(CodePurpose::Authentication),
        "payment" => Ok(CodePurpose::Payment),
        "phone_change_old" | "phone_change_new" => Err(ApiError::new(
            code::INVALID_PURPOSE,
            "a phone change's codes are issued and checked by POST /v1/members/{id}/phone-change and its /verify",
        )),
        _ => Err(ApiError::new(
            code::INVALID_PURPOSE,
            "purpose must be one of \"register\", \"sign_in\", \"pay_password_reset\", \"authentication\", \"payment\"",
        )),
    }
}

/// Where a code goes: exactly one of a phone and an email.
pub fn code_target(phone_text: Option<&str>, email: Option<&str>) -> Result<CodeTarget, ApiError> {
    match (phone_text, email) {
        (Some(text), None) => phone("phone", text).map(CodeTarget::Phone),
        (None, Some(text)) => Email::parse(text).map(CodeTarget::Email).map_err(|e| refused("email", e)),
        (None, None) => Err(ApiError::new(code::MISSING_FIELD, "missing field: give one of `phone`, `email`")),
        (Some(_), Some(_)) => Err(ApiError::new(code::INVALID_FIELD, "give only one of `phone`, `email`")),
    }
}

pub fn account_type(text: &str) -> Result<AccountTypeCode, ApiError> {
    AccountTypeCode::parse(text).map_err(|e| refused("account_type", e))
}

/// A status a customer can be set to: normal, banned, frozen, stop_payment. (`merged` is reached only
/// by a merge, and is answered `customer_merge_required` by the rule.)
pub fn customer_status(text: &str) -> Result<CustomerStatus, ApiError> {
    match text {
        "normal" => Ok(CustomerStatus::Normal),
        "banned" => Ok(CustomerStatus::Banned),
        "frozen" => Ok(CustomerStatus::Frozen),
        "stop_payment" => Ok(CustomerStatus::StopPayment),
        "merged" => {
            Err(ApiError::from(PartyError::from(sanhu_core::party::customer::CustomerError::CustomerMergeRequired)))
        }
        _ => Err(ApiError::new(
            code::INVALID_STATUS,
            "status must be one of \"normal\", \"banned\", \"frozen\", \"stop_payment\"",
        )),
    }
}

/// A status an account can be set to: normal, frozen, stop_payment. (`closed` is reached by closing
/// it, and is answered `account_close_required` by the rule.)
pub fn account_status(text: &str) -> Result<MemberAccountStatus, ApiError> {
    MemberAccountStatus::parse(text).ok_or_else(|| {
        ApiError::new(code::INVALID_STATUS, "status must be one of \"normal\", \"frozen\", \"stop_payment\"")
    })
}

/// An authentication's result: `verified`, `failed`, and where the decision may wait, `pending`.
pub fn authentication_result(text: &str, pending_allowed: bool) -> Result<AuthenticationResult, ApiError> {
    match text {
        "verified" => Ok(AuthenticationResult::Verified),
        "failed" => Ok(AuthenticationResult::Failed),
        "pending" if pending_allowed => Ok(AuthenticationResult::Pending),
        _ if pending_allowed => {
            Err(ApiError::new(code::INVALID_RESULT, "result must be \"verified\", \"failed\" or \"pending\""))
        }
        _ => Err(ApiError::new(code::INVALID_RESULT, "result must be \"verified\" or \"failed\"")),
    }
}

pub fn authentication_type(text: &str) -> Result<AuthenticationType, ApiError> {
    AuthenticationType::parse(text).map_err(|e| refused("type", e))
}

pub fn channel(text: &str) -> Result<AuthenticationChannel, ApiError> {
    AuthenticationChannel::parse(text).map_err(|e| refused("channel", e))
}

/// The fields that name what an authentication verifies; which of them apply depends on its type.
/// The certificate and card numbers are read here and never shown again: views carry the masked
/// subject only.
#[derive(Default)]
pub struct SubjectFields {
    pub name: Option<String>,
    pub certificate_type: Option<String>,
    pub certificate_number: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub card_number: Option<String>,
}

impl std::fmt::Debug for SubjectFields {
    /// Never the numbers, even in a debug print.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SubjectFields { .. }")
    }
}

impl SubjectFields {
    pub fn is_empty(&self) -> bool {
        self.given().is_empty()
    }

    fn given(&self) -> Vec<&'static str> {
        let fields = [
            ("name", self.name.is_some()),
            ("certificate_type", self.certificate_type.is_some()),
            ("certificate_number", self.certificate_number.is_some()),
            ("phone", self.phone.is_some()),
            ("email", self.email.is_some()),
            ("card_number", self.card_number.is_some()),
        ];
        fields.into_iter().filter(|(_, given)| *given).map(|(name, _)| name).collect()
    }

    /// The subject of an authentication of `authentication_type`: every field it needs, none other.
    pub fn subject(&self, authentication_type: AuthenticationType) -> Result<AuthenticationSubject, ApiError> {
        let applies: &[&str] = match authentication_type {
            AuthenticationType::IdCard | AuthenticationType::BusinessLicence => {
                &["name", "certificate_type", "certificate_number"]
            }
            AuthenticationType::Phone => &["phone"],
            AuthenticationType::Email => &["email"],
            AuthenticationType::BankCard => &["name", "card_number"],
        };
        if let Some(field) = self.given().into_iter().find(|f| !applies.contains(f)) {
            return Err(ApiError::new(
                code::INVALID_FIELD,
                format!("`{field}` does not apply to a {} authentication", authentication_type.as_str()),
            ));
        }
        match authentication_type {
            AuthenticationType::IdCard => {
                let name = RealName::person(required("name", &self.name)?).map_err(|e| refused("name", e))?;
                let certificate = self.certificate(CertificateType::IdCard)?;
                AuthenticationSubject::id_card(name, certificate).map_err(|e| refused("certificate_type", e))
            }
            AuthenticationType::BusinessLicence => {
                let company = RealName::organisation(required("name", &self.name)?).map_err(|e| refused("name", e))?;
                let code = self.certificate(CertificateType::UnifiedSocialCreditCode)?;
                AuthenticationSubject::business_licence(company, code).map_err(|e| refused("certificate_type", e))
            }
            AuthenticationType::Phone => {
                Ok(AuthenticationSubject::Phone(phone("phone", required("phone", &self.phone)?)?))
            }
            AuthenticationType::Email => {
                let email = Email::parse(required("email", &self.email)?).map_err(|e| refused("email", e))?;
                Ok(AuthenticationSubject::Email(email))
            }
            AuthenticationType::BankCard => {
                let holder = RealName::person(required("name", &self.name)?).map_err(|e| refused("name", e))?;
                let card = CardNumber::parse(required("card_number", &self.card_number)?)
                    .map_err(|e| refused("card_number", e))?;
                Ok(AuthenticationSubject::BankCard { holder, card: card.masked() })
            }
        }
    }

    /// The certificate: its type (by default the one the authentication type expects) and number.
    fn certificate(&self, default_type: CertificateType) -> Result<Certificate, ApiError> {
        let certificate_type = match &self.certificate_type {
            None => default_type,
            Some(text) => CertificateType::parse(text).map_err(|e| refused("certificate_type", e))?,
        };
        let number = required("certificate_number", &self.certificate_number)?;
        Certificate::parse(certificate_type, number).map_err(|e| refused("certificate_number", e))
    }
}

fn required<'a>(field: &str, value: &'a Option<String>) -> Result<&'a str, ApiError> {
    value.as_deref().ok_or_else(|| ApiError::new(code::MISSING_FIELD, format!("missing field `{field}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id_card(number: &str) -> SubjectFields {
        SubjectFields {
            name: Some("张三".into()), certificate_number: Some(number.into()), ..SubjectFields::default()
        }
    }

    #[test]
    fn each_bad_value_has_its_code() {
        assert_eq!(phone("phone", "12345").unwrap_err().code(), "phone_invalid");
        assert_eq!(reason(" ").unwrap_err().code(), "reason_invalid");
        assert_eq!(kind(Some("robot")).unwrap_err().code(), "invalid_kind");
        assert_eq!(scope(Some("galactic")).unwrap_err().code(), "invalid_scope");
        assert_eq!(customer_status("asleep").unwrap_err().code(), "invalid_status");
        assert_eq!(customer_status("merged").unwrap_err().code(), "customer_merge_required");
        assert_eq!(account_status("asleep").unwrap_err().code(), "invalid_status");
        assert_eq!(authentication_result("pending", false).unwrap_err().code(), "invalid_result");
        assert_eq!(authentication_type("dna").unwrap_err().code(), "authentication_type_unknown");
        assert_eq!(channel("Police Check").unwrap_err().code(), "authentication_channel_invalid");
        assert_eq!(account_type("Basic Account!").unwrap_err().code(), "account_type_code_invalid");
        assert_eq!(role("boss").unwrap_err().code(), "invalid_role");
        assert_eq!(operations(&["pay".into(), "steal".into()]).unwrap_err().code(), "invalid_operation");
        assert_eq!(code_purpose("phone_change_old").unwrap_err().code(), "invalid_purpose");
        assert_eq!(code_target(None, None).unwrap_err().code(), "missing_field");
        assert_eq!(code_target(Some("13800000001"), Some("a@b.cn")).unwrap_err().code(), "invalid_field");
    }

    #[test]
    fn exactly_one_login_identity_is_given() {
        assert_eq!(login_identity(None, None, None, None).unwrap_err().code(), "missing_field");
        assert_eq!(
            login_identity(Some("13800000001"), Some("a@b.cn"), None, None).unwrap_err().code(),
            "invalid_field"
        );
        assert_eq!(login_identity(Some("13800000001"), None, None, None).unwrap().kind(), "phone");
        assert_eq!(login_identity(None, None, Some("x"), None).unwrap_err().code(), "nickname_length_invalid");
    }

    #[test]
    fn an_id_card_subject_needs_a_valid_number_and_only_its_fields() {
        let subject = id_card("110101199003071233").subject(AuthenticationType::IdCard).unwrap();
        assert!(!subject.masked().contains("199003071233"), "{}", subject.masked());
        let error = id_card("110101199003071234").subject(AuthenticationType::IdCard).unwrap_err();
        assert_eq!(error.code(), "certificate_check_failed");
        assert!(!error.message().contains("110101199003071234"));
        let with_phone = SubjectFields { phone: Some("13800000001".into()), ..id_card("110101199003071233") };
        assert_eq!(with_phone.subject(AuthenticationType::IdCard).unwrap_err().code(), "invalid_field");
        let no_number = SubjectFields { name: Some("张三".into()), ..SubjectFields::default() };
        assert_eq!(no_number.subject(AuthenticationType::IdCard).unwrap_err().code(), "missing_field");
        assert!(SubjectFields::default().is_empty());
    }
}
