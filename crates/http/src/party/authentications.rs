//! Real-name authentications (实名认证): the platform reports a verification it made (or will decide
//! later); a verified ID card or business licence gives the customer its certificate, or merges the
//! customer into the one that already holds it. The subject's numbers are read here and go no
//! further than the service: responses and logs carry the masked subject only.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::party::{AuthenticationOutcome, AuthenticationResult};
use serde::{Deserialize, Serialize};

use super::fields::{self, SubjectFields};
use super::{run, AuthenticationList, AuthenticationView, ClientActor};
use crate::error::{code, ApiError};
use crate::ids::{AuthenticationIdPath, MemberIdPath};
use crate::json::parse_body;
use crate::AppState;

/// The subject's fields depend on `type`: id_card and business_licence take `name`, `certificate_type`,
/// `certificate_number`; phone `phone`; email `email`; bank_card `name` and `card_number`. A field of another type is
/// `invalid_field`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AuthenticateRequest)]
struct AuthenticateBody {
    #[serde(rename = "type")]
    #[schema(value_type = crate::party::choices::AuthenticationType, inline)]
    authentication_type: String,
    /// The channel that verified, as the platform names it.
    #[schema(pattern = "^[a-z0-9_]{2,32}$", examples("police_id_check"))]
    channel: String,
    #[schema(value_type = crate::party::choices::AuthenticationResult, inline)]
    result: String,
    /// id_card and bank_card: the person's name; business_licence: the company's registered name.
    #[schema(min_length = 1, max_length = 100)]
    name: Option<String>,
    #[schema(value_type = Option<crate::party::choices::AuthenticatedCertificateType>, inline)]
    certificate_type: Option<String>,
    /// id_card and business_licence: the number, checked (check digit included). Never shown again: responses carry it
    /// masked.
    #[schema(min_length = 1, max_length = 64, examples("110101199003071233"))]
    certificate_number: Option<String>,
    /// phone authentications.
    #[schema(pattern = "^\\+?[0-9][0-9 -]{6,30}$")]
    phone: Option<String>,
    /// email authentications.
    #[schema(pattern = "^[^@\\s]{1,64}@[^@\\s]+\\.[^@\\s]+$", max_length = 254)]
    email: Option<String>,
    /// bank_card authentications: 13 to 19 digits; kept only masked (BIN and last 4).
    #[schema(pattern = "^[0-9][0-9 -]{11,40}[0-9]$")]
    card_number: Option<String>,
}

/// The subject's fields of a body: serde's `flatten` would lose `deny_unknown_fields`, so each body
/// lists them and hands them over.
macro_rules! subject_fields {
    ($body:expr) => {
        SubjectFields {
            name: $body.name,
            certificate_type: $body.certificate_type,
            certificate_number: $body.certificate_number,
            phone: $body.phone,
            email: $body.email,
            card_number: $body.card_number,
        }
    };
}

/// An authentication and what it caused.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = AuthenticationOutcome)]
pub struct OutcomeView {
    authentication: AuthenticationView,
    /// The member's customer afterwards (the survivor, after a merge).
    #[schema(pattern = "^cus_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    customer_id: String,
    /// The customer gained the certificate.
    certificate_assigned: bool,
    /// The customer that already held the certificate, into which the member's customer merged; null if none.
    #[schema(required, value_type = Option<sanhu_core::id::CustomerId>, inline)]
    merged_into: Option<String>,
}

impl From<&AuthenticationOutcome> for OutcomeView {
    fn from(o: &AuthenticationOutcome) -> OutcomeView {
        OutcomeView {
            authentication: AuthenticationView::from(&o.authentication),
            customer_id: o.customer_id.to_string(),
            certificate_assigned: o.certificate_assigned,
            merged_into: o.merged_into.map(|id| id.to_string()),
        }
    }
}

fn log_outcome(outcome: &AuthenticationOutcome, what: &str) {
    let a = &outcome.authentication;
    tracing::info!(
        authentication.id = %a.id(),
        member.id = %a.member(),
        customer.id = %outcome.customer_id,
        authentication.subject = a.masked_subject(),
        authentication.status = a.status().as_str(),
        certificate_assigned = outcome.certificate_assigned,
        merged_into = outcome.merged_into.map(|id| id.to_string()),
        "{what}"
    );
}

/// POST /v1/members/{id}/authentications: records a verification of the member's ID card, business
/// licence, phone, email or bank card, with its result (or pending).
#[utoipa::path(
    post,
    path = "/v1/members/{id}/authentications",
    tag = "authentications",
    operation_id = "authenticateMember",
    summary = "Record an authentication",
    description = "Records a verification the platform made through a channel, with its result (or pending). A \
        verified ID card or business licence gives the member its real name and the customer its certificate; if \
        another customer holds that certificate already, the member's customer merges into it, with its members and \
        accounts. Certificate and card numbers are never shown again, nor logged: the record keeps the masked subject.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = AuthenticateBody,
    responses(
        (status = 201, description = "The authentication and what it caused.", body = OutcomeView),
    )
)]
pub async fn authenticate(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<OutcomeView>), ApiError> {
    let body: AuthenticateBody = parse_body(&body)?;
    let authentication_type = fields::authentication_type(&body.authentication_type)?;
    let channel = fields::channel(&body.channel)?;
    let result = fields::authentication_result(&body.result, true)?;
    let subject = subject_fields!(body).subject(authentication_type)?;
    let parties = state.parties.clone();
    let outcome =
        run(move || async move { parties.authenticate(id, &subject, &channel, result, &actor).await }).await?;
    log_outcome(&outcome, "authentication recorded");
    Ok((StatusCode::CREATED, Json(OutcomeView::from(&outcome))))
}

/// GET /v1/members/{id}/authentications: oldest first.
#[utoipa::path(
    get,
    path = "/v1/members/{id}/authentications",
    tag = "authentications",
    operation_id = "listMemberAuthentications",
    summary = "List a member's authentications",
    description = "Oldest first, subjects masked.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses(
        (status = 200, description = "The authentications.", body = AuthenticationList),
    )
)]
pub async fn member_authentications(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<AuthenticationList>, ApiError> {
    let authentications = state.parties.member_authentications(id).await?;
    Ok(Json(AuthenticationList { data: authentications.iter().map(AuthenticationView::from).collect() }))
}

/// verified: with the subject it was requested for (sanhu kept it only masked), in the fields of the authentication's
/// type; failed: no subject fields.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = DecideAuthenticationRequest)]
struct DecideBody {
    #[schema(value_type = crate::party::choices::Decision, inline)]
    result: String,
    /// id_card and bank_card: the person's name; business_licence: the company's registered name.
    #[schema(min_length = 1, max_length = 100)]
    name: Option<String>,
    #[schema(value_type = Option<crate::party::choices::AuthenticatedCertificateType>, inline)]
    certificate_type: Option<String>,
    /// id_card and business_licence: the number, checked (check digit included). Never shown again: responses carry it
    /// masked.
    #[schema(min_length = 1, max_length = 64, examples("110101199003071233"))]
    certificate_number: Option<String>,
    /// phone authentications.
    #[schema(pattern = "^\\+?[0-9][0-9 -]{6,30}$")]
    phone: Option<String>,
    /// email authentications.
    #[schema(pattern = "^[^@\\s]{1,64}@[^@\\s]+\\.[^@\\s]+$", max_length = 254)]
    email: Option<String>,
    /// bank_card authentications: 13 to 19 digits; kept only masked (BIN and last 4).
    #[schema(pattern = "^[0-9][0-9 -]{11,40}[0-9]$")]
    card_number: Option<String>,
}

/// POST /v1/authentications/{id}/decide: verified (with the subject it was requested for, which sanhu
/// kept only masked) or failed (with no subject).
#[utoipa::path(
    post,
    path = "/v1/authentications/{id}/decide",
    tag = "authentications",
    operation_id = "decideAuthentication",
    summary = "Decide a pending authentication",
    description = "verified (with the subject it was requested for) or failed; only once \
        (`authentication_not_pending`). Verified has the same consequences as when recorded verified.",
    params(
        ("id" = String, Path, description = "The authentication's id.", pattern = "^aut_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = DecideBody,
    responses(
        (status = 200, description = "The authentication and what it caused.", body = OutcomeView),
    )
)]
pub async fn decide_authentication(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    AuthenticationIdPath(id): AuthenticationIdPath,
    body: Bytes,
) -> Result<Json<OutcomeView>, ApiError> {
    let body: DecideBody = parse_body(&body)?;
    let result = fields::authentication_result(&body.result, false)?;
    let fields = subject_fields!(body);
    let subject = match result {
        _ if fields.is_empty() => None,
        AuthenticationResult::Verified => {
            // The subject's fields are those of the authentication's type.
            let authentication = state.parties.get_authentication(id).await?;
            Some(fields.subject(authentication.authentication_type())?)
        }
        _ => {
            return Err(ApiError::new(code::INVALID_FIELD, "a failed result takes no subject fields"));
        }
    };
    let parties = state.parties.clone();
    let outcome =
        run(move || async move { parties.decide_authentication(id, subject.as_ref(), result, &actor).await }).await?;
    log_outcome(&outcome, "authentication decided");
    Ok(Json(OutcomeView::from(&outcome)))
}
