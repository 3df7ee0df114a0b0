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
use super::{run, AuthenticationView, ClientActor, List};
use crate::error::{code, ApiError};
use crate::ids::{AuthenticationIdPath, MemberIdPath};
use crate::json::parse_body;
use crate::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthenticateBody {
    #[serde(rename = "type")]
    authentication_type: String,
    channel: String,
    result: String,
    name: Option<String>,
    certificate_type: Option<String>,
    certificate_number: Option<String>,
    phone: Option<String>,
    email: Option<String>,
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
#[derive(Serialize)]
pub struct OutcomeView {
    authentication: AuthenticationView,
    /// The member's customer afterwards (the survivor, after a merge).
    customer_id: String,
    /// The customer gained the certificate.
    certificate_assigned: bool,
    /// The customer the member's former customer merged into; null if none.
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
pub async fn member_authentications(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<List<AuthenticationView>>, ApiError> {
    let authentications = state.parties.member_authentications(id).await?;
    Ok(Json(List { data: authentications.iter().map(AuthenticationView::from).collect() }))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecideBody {
    result: String,
    name: Option<String>,
    certificate_type: Option<String>,
    certificate_number: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    card_number: Option<String>,
}

/// POST /v1/authentications/{id}/decide: verified (with the subject it was requested for, which sanhu
/// kept only masked) or failed (with no subject).
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
