//! Enterprise members (企业会员): registration with the company details (企业资质) and the first admin
//! operator, all or nothing, and the company details read back. The unified social credit code is
//! only what the enterprise claims: a verified business-licence authentication gives the customer its
//! certificate (POST /v1/members/{id}/authentications).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::party::enterprise::{Address, CompanyDetailsParts, IndustryCode, LicenceExpiry};
use sanhu_core::party::{Certificate, CertificateType, CompanyDetails, RealName};
use sanhu_service::party::{EnterpriseRegistration, StoredCompany};
use serde::{Deserialize, Serialize};

use super::fields::{self, refused, IdentityBody, ThirdPartyField};
use super::{run, CertificateView, ClientActor, CustomerView, MemberView, OperatorView};
use crate::error::ApiError;
use crate::ids::MemberIdPath;
use crate::json::parse_body;
use crate::AppState;

/// The enterprise member's own login identity (exactly one of `phone`, `email`, `nickname`, `third_party`), its company
/// details and its first admin's identity.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RegisterEnterpriseBody {
    #[schema(value_type = Option<crate::party::choices::Scope>, inline, default = "external")]
    scope: Option<String>,
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
    company: CompanyBody,
    /// The identity the first admin operator signs in with: its own, not the member's (`identity_taken`).
    #[schema(value_type = super::fields::LoginIdentityRequest)]
    admin: IdentityBody,
}

exactly_one_of!(RegisterEnterpriseRequest = RegisterEnterpriseBody, ["phone", "email", "nickname", "third_party"]);

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CompanyDetailsRequest)]
struct CompanyBody {
    /// The registered company name (`organisation_name_invalid` otherwise).
    #[schema(min_length = 1, max_length = 100, examples("某某科技有限公司"))]
    name: String,
    /// The unified social credit code (18 characters, with its check character: `certificate_format_invalid`,
    /// `certificate_check_failed`). Only a claim until a verified business-licence authentication.
    #[schema(min_length = 1, max_length = 64, examples("91110108MA01ABCD0B"))]
    credit_code: String,
    /// The legal person's name (`real_name_invalid` otherwise).
    #[schema(min_length = 1, max_length = 64, examples("张三"))]
    legal_person: String,
    #[schema(value_type = Option<crate::party::choices::PersonCertificateType>, inline, default = "id_card")]
    legal_person_certificate_type: Option<String>,
    /// Read, checked and answered masked only.
    #[schema(min_length = 1, max_length = 64, examples("110101199003071233"))]
    legal_person_certificate_number: String,
    #[schema(min_length = 1, max_length = 64, examples("李四"))]
    contact: String,
    /// A mainland mobile (11 digits, read as +86) or +country and number (`phone_invalid` otherwise).
    #[schema(pattern = "^\\+?[0-9][0-9 -]{6,30}$", examples("13800000001"))]
    contact_phone: String,
    /// A GB/T 4754 code: a section letter A to T, optionally followed by 2 to 4 digits (`industry_invalid`).
    #[schema(pattern = "^[A-T]([0-9]{2,4})?$", examples("I642"))]
    industry: String,
    /// `YYYY-MM-DD` (the last day, in China) or `long_term` (`licence_expiry_invalid`).
    #[schema(pattern = "^([0-9]{4}-[0-9]{2}-[0-9]{2}|long_term)$", examples("2035-06-30", "long_term"))]
    licence_expiry: String,
    /// 1 to 200 characters without control characters (`address_invalid`).
    #[schema(min_length = 1, max_length = 200, examples("北京市海淀区某某路1号"))]
    address: String,
}

impl CompanyBody {
    /// Each part parsed with its rule's code, naming the field; then how they fit together.
    fn details(&self) -> Result<CompanyDetails, ApiError> {
        let person = |field: &str, text: &str| RealName::person(text).map_err(|e| refused(field, e));
        let certificate_type = match &self.legal_person_certificate_type {
            None => CertificateType::IdCard,
            Some(text) => {
                CertificateType::parse(text).map_err(|e| refused("company.legal_person_certificate_type", e))?
            }
        };
        let parts = CompanyDetailsParts {
            name: RealName::organisation(&self.name).map_err(|e| refused("company.name", e))?,
            credit_code: Certificate::parse(CertificateType::UnifiedSocialCreditCode, &self.credit_code)
                .map_err(|e| refused("company.credit_code", e))?,
            legal_person: person("company.legal_person", &self.legal_person)?,
            legal_person_certificate: Certificate::parse(certificate_type, &self.legal_person_certificate_number)
                .map_err(|e| refused("company.legal_person_certificate_number", e))?,
            contact: person("company.contact", &self.contact)?,
            contact_phone: fields::phone("company.contact_phone", &self.contact_phone)?,
            industry: IndustryCode::parse(&self.industry).map_err(|e| refused("company.industry", e))?,
            licence_expiry: LicenceExpiry::parse(&self.licence_expiry)
                .map_err(|e| refused("company.licence_expiry", e))?,
            address: Address::parse(&self.address).map_err(|e| refused("company.address", e))?,
        };
        CompanyDetails::new(parts).map_err(|e| refused("company", e))
    }
}

/// An enterprise's company details (企业资质). Certificate numbers, the unified social credit code included, are masked to
/// their first 3 and last 4 characters; the contact's phone is masked.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = Company)]
pub struct CompanyView {
    #[schema(min_length = 2, max_length = 100)]
    name: String,
    #[schema(inline)]
    credit_code: CertificateView,
    #[schema(min_length = 1, max_length = 100)]
    legal_person: String,
    #[schema(inline)]
    legal_person_certificate: CertificateView,
    #[schema(min_length = 1, max_length = 100)]
    contact: String,
    /// Masked.
    #[schema(pattern = "\\*", examples("139****5678"))]
    contact_phone: String,
    /// A GB/T 4754 code.
    #[schema(pattern = "^[A-T]([0-9]{2,4})?$")]
    industry: String,
    /// `YYYY-MM-DD` or `long_term`.
    #[schema(pattern = "^([0-9]{4}-[0-9]{2}-[0-9]{2}|long_term)$")]
    licence_expiry: String,
    /// Whether the business licence is valid now.
    licence_valid: bool,
    #[schema(min_length = 1, max_length = 200)]
    address: String,
}

fn certificate_view(certificate: &Certificate) -> CertificateView {
    CertificateView { certificate_type: certificate.certificate_type().as_str(), masked_number: certificate.masked() }
}

impl From<&CompanyDetails> for CompanyView {
    fn from(details: &CompanyDetails) -> CompanyView {
        let p = details.parts();
        CompanyView {
            name: p.name.as_str().to_owned(),
            credit_code: certificate_view(&p.credit_code),
            legal_person: p.legal_person.as_str().to_owned(),
            legal_person_certificate: certificate_view(&p.legal_person_certificate),
            contact: p.contact.as_str().to_owned(),
            contact_phone: p.contact_phone.masked(),
            industry: p.industry.as_str().to_owned(),
            licence_expiry: match p.licence_expiry {
                LicenceExpiry::LongTerm => "long_term".to_owned(),
                LicenceExpiry::Through { year, month, day } => format!("{year:04}-{month:02}-{day:02}"),
            },
            licence_valid: details.licence_valid_at(sanhu_service::clock::now()),
            address: p.address.as_str().to_owned(),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = RegisteredEnterprise)]
pub struct RegisteredEnterpriseView {
    member: MemberView,
    customer: CustomerView,
    company: CompanyView,
    admin: OperatorView,
}

/// POST /v1/enterprises: an inactive enterprise member under a new enterprise customer (named after the
/// company), with its company details and its first admin operator, who signs in with its own identity.
#[utoipa::path(
    post,
    path = "/v1/enterprises",
    tag = "enterprises",
    operation_id = "registerEnterprise",
    summary = "Register an enterprise member",
    description = "An inactive enterprise member under a new enterprise customer named after the company, with its \
        company details and its first admin operator, all or nothing. The unified social credit code is a claim: a \
        verified business-licence authentication gives the customer its certificate.",
    request_body = RegisterEnterpriseRequest,
    responses(
        (
            status = 201,
            description = "The member, its customer, its company details and its admin.",
            body = RegisteredEnterpriseView,
        ),
    )
)]
pub async fn register_enterprise(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    body: Bytes,
) -> Result<(StatusCode, Json<RegisteredEnterpriseView>), ApiError> {
    let body: RegisterEnterpriseBody = parse_body(&body)?;
    let registration = EnterpriseRegistration {
        scope: fields::scope(body.scope.as_deref())?,
        identity: fields::login_identity(
            body.phone.as_deref(),
            body.email.as_deref(),
            body.nickname.as_deref(),
            body.third_party.as_ref(),
        )?,
        company: body.company.details()?,
        admin_identity: body.admin.identity().map_err(|e| e.within("admin"))?,
    };
    let parties = state.parties.clone();
    let registered = run(move || async move { parties.register_enterprise(&registration, &actor).await }).await?;
    tracing::info!(
        member.id = %registered.member.member.id(),
        customer.id = %registered.customer.customer.id(),
        operator.id = %registered.admin.operator.id(),
        "enterprise registered"
    );
    Ok((
        StatusCode::CREATED,
        Json(RegisteredEnterpriseView {
            member: MemberView::from(&registered.member),
            customer: CustomerView::from(&registered.customer),
            company: CompanyView::from(&registered.company.details),
            admin: OperatorView::from(&registered.admin),
        }),
    ))
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = CompanyOfMember)]
pub struct CompanyOfMember {
    #[schema(pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    member_id: String,
    /// Null for an enterprise member registered without company details.
    #[schema(required = true)]
    company: Option<CompanyView>,
}

/// GET /v1/members/{id}/company: `member_not_enterprise` for a personal member.
#[utoipa::path(
    get,
    path = "/v1/members/{id}/company",
    tag = "enterprises",
    operation_id = "getMemberCompany",
    summary = "Get an enterprise member's company details",
    description = "`member_not_enterprise` (409) for a personal member; `company` null for an enterprise member \
        registered without details.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses(
        (status = 200, description = "The company details.", body = CompanyOfMember),
    )
)]
pub async fn member_company(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<CompanyOfMember>, ApiError> {
    let company: Option<StoredCompany> = state.parties.company_details(id).await?;
    Ok(Json(CompanyOfMember {
        member_id: id.to_string(),
        company: company.as_ref().map(|c| CompanyView::from(&c.details)),
    }))
}
