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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterEnterpriseBody {
    scope: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    nickname: Option<String>,
    third_party: Option<ThirdPartyField>,
    company: CompanyBody,
    admin: IdentityBody,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CompanyBody {
    name: String,
    credit_code: String,
    legal_person: String,
    legal_person_certificate_type: Option<String>,
    legal_person_certificate_number: String,
    contact: String,
    contact_phone: String,
    industry: String,
    licence_expiry: String,
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

/// An enterprise's company details. Certificate numbers are masked (the unified social credit code
/// too, to its first 3 and last 4 characters); the contact's phone is masked.
#[derive(Serialize, Debug)]
pub struct CompanyView {
    name: String,
    credit_code: CertificateView,
    legal_person: String,
    legal_person_certificate: CertificateView,
    contact: String,
    contact_phone: String,
    industry: String,
    /// `YYYY-MM-DD` or `long_term`.
    licence_expiry: String,
    /// Whether the business licence is valid now.
    licence_valid: bool,
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

#[derive(Serialize)]
pub struct RegisteredEnterpriseView {
    member: MemberView,
    customer: CustomerView,
    company: CompanyView,
    admin: OperatorView,
}

/// POST /v1/enterprises: an inactive enterprise member under a new enterprise customer (named after the
/// company), with its company details and its first admin operator, who signs in with its own identity.
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

#[derive(Serialize)]
pub struct CompanyOfMember {
    member_id: String,
    /// Null for an enterprise member registered without them (POST /v1/members with kind enterprise).
    company: Option<CompanyView>,
}

/// GET /v1/members/{id}/company: `member_not_enterprise` for a personal member.
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
