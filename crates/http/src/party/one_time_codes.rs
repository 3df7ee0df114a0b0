//! One-time codes (验证码): sanhu makes and checks them, the platform delivers them. Issuing answers the
//! code, once, to the caller, which sends it by SMS or email; sanhu keeps only its keyed digest. The
//! code is never logged, and these endpoints take no Idempotency-Key (a stored response would keep
//! the code, a fingerprint of a check would give it up).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::party::one_time_code::CodeTarget;
use sanhu_service::clock;
use sanhu_service::party::IssuedCode;
use serde::{Deserialize, Serialize};

use super::fields;
use super::run;
use crate::error::ApiError;
use crate::json::parse_body;
use crate::AppState;

/// Where a code went: phone or email, masked.
#[derive(Serialize, Debug)]
pub struct CodeTargetView {
    kind: &'static str,
    masked: String,
}

impl From<&CodeTarget> for CodeTargetView {
    fn from(target: &CodeTarget) -> CodeTargetView {
        match target {
            CodeTarget::Phone(phone) => CodeTargetView { kind: "phone", masked: phone.masked() },
            CodeTarget::Email(email) => CodeTargetView { kind: "email", masked: email.masked() },
        }
    }
}

/// A code to deliver. Its `Debug` hides the code.
#[derive(Serialize)]
pub struct IssuedCodeView {
    /// The code, for the platform to deliver and forget.
    code: String,
    purpose: &'static str,
    target: CodeTargetView,
    expires_at: String,
}

impl std::fmt::Debug for IssuedCodeView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCodeView").field("purpose", &self.purpose).finish_non_exhaustive()
    }
}

impl From<&IssuedCode> for IssuedCodeView {
    fn from(issued: &IssuedCode) -> IssuedCodeView {
        IssuedCodeView {
            code: issued.code.as_str().to_owned(),
            purpose: issued.purpose.as_str(),
            target: CodeTargetView::from(&issued.target),
            expires_at: issued.expires_at.to_string(),
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    purpose: String,
    phone: Option<String>,
    email: Option<String>,
}

/// POST /v1/one-time-codes: a new code for `purpose` to a phone or an email, replacing the last one
/// (`code_sent_too_recently` within the resend interval).
pub async fn issue_code(
    State(state): State<AppState>,
    body: Bytes,
) -> Result<(StatusCode, Json<IssuedCodeView>), ApiError> {
    let body: IssueBody = parse_body(&body)?;
    let purpose = fields::code_purpose(&body.purpose)?;
    let target = fields::code_target(body.phone.as_deref(), body.email.as_deref())?;
    let parties = state.parties.clone();
    let issued = run(move || async move { parties.issue_code(purpose, &target, clock::now()).await }).await?;
    tracing::info!(purpose = purpose.as_str(), "one-time code issued");
    Ok((StatusCode::CREATED, Json(IssuedCodeView::from(&issued))))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    purpose: String,
    phone: Option<String>,
    email: Option<String>,
    code: String,
}

#[derive(Serialize)]
pub struct VerifiedCodeView {
    verified: bool,
    purpose: &'static str,
    target: CodeTargetView,
}

/// POST /v1/one-time-codes/verify: a right code is spent and proves its target received it; a wrong
/// one costs an attempt (`code_incorrect`, then `code_attempts_exhausted`).
pub async fn verify_code(State(state): State<AppState>, body: Bytes) -> Result<Json<VerifiedCodeView>, ApiError> {
    let body: VerifyBody = parse_body(&body)?;
    let purpose = fields::code_purpose(&body.purpose)?;
    let target = fields::code_target(body.phone.as_deref(), body.email.as_deref())?;
    let parties = state.parties.clone();
    let submitted = body.code;
    let verified =
        run(move || async move { parties.verify_code(purpose, &target, &submitted, clock::now()).await }).await?;
    Ok(Json(VerifiedCodeView {
        verified: true,
        purpose: verified.purpose().as_str(),
        target: CodeTargetView::from(verified.target()),
    }))
}
