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
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = CodeTarget)]
pub struct CodeTargetView {
    #[schema(value_type = crate::party::choices::CodeTargetKind, inline)]
    kind: &'static str,
    /// A phone's first 3 and last 4 digits, or an email's first character and domain.
    #[schema(pattern = "\\*", examples("138****0001"))]
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
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = IssuedCode)]
pub struct IssuedCodeView {
    /// The code, for the platform to deliver and forget. sanhu keeps only its keyed digest.
    #[schema(pattern = "^[0-9]+$")]
    code: String,
    #[schema(value_type = crate::party::choices::CodePurpose, inline)]
    purpose: &'static str,
    target: CodeTargetView,
    /// RFC 3339, UTC, to the nanosecond.
    #[schema(format = DateTime)]
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

/// Exactly one of `phone` and `email`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct IssueBody {
    #[schema(value_type = crate::party::choices::RequestedCodePurpose, inline)]
    purpose: String,
    /// A mainland mobile (11 digits, read as +86) or +country and number (`phone_invalid` otherwise).
    #[schema(pattern = "^\\+?[0-9][0-9 -]{6,30}$", examples("13800000001"))]
    phone: Option<String>,
    #[schema(pattern = "^[^@\\s]{1,64}@[^@\\s]+\\.[^@\\s]+$", max_length = 254, examples("zhang.san@example.cn"))]
    email: Option<String>,
}

exactly_one_of!(IssueCodeRequest = IssueBody, ["phone", "email"]);

/// POST /v1/one-time-codes: a new code for `purpose` to a phone or an email, replacing the last one
/// (`code_sent_too_recently` within the resend interval).
#[utoipa::path(
    post,
    path = "/v1/one-time-codes",
    tag = "security",
    operation_id = "issueOneTimeCode",
    summary = "Issue a one-time code",
    description = "A new code for the purpose to a phone or an email, replacing the last (`code_sent_too_recently` \
        within the resend interval). The answer carries the code for the platform to deliver; sanhu sends no messages \
        and keeps only a keyed digest.",
    request_body = IssueCodeRequest,
    responses(
        (status = 201, description = "The code to deliver.", body = IssuedCodeView),
    )
)]
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

/// Exactly one of `phone` and `email`.
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    #[schema(value_type = crate::party::choices::RequestedCodePurpose, inline)]
    purpose: String,
    /// A mainland mobile (11 digits, read as +86) or +country and number (`phone_invalid` otherwise).
    #[schema(pattern = "^\\+?[0-9][0-9 -]{6,30}$", examples("13800000001"))]
    phone: Option<String>,
    #[schema(pattern = "^[^@\\s]{1,64}@[^@\\s]+\\.[^@\\s]+$", max_length = 254, examples("zhang.san@example.cn"))]
    email: Option<String>,
    /// The code as the person typed it. Never logged, never answered.
    #[schema(pattern = "^[0-9]{4,8}$", examples("482915"))]
    code: String,
}

exactly_one_of!(VerifyCodeRequest = VerifyBody, ["phone", "email"]);

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = VerifiedCode)]
pub struct VerifiedCodeView {
    #[schema(schema_with = crate::party::choices::always_true)]
    verified: bool,
    #[schema(value_type = crate::party::choices::RequestedCodePurpose, inline)]
    purpose: &'static str,
    target: CodeTargetView,
}

/// POST /v1/one-time-codes/verify: a right code is spent and proves its target received it; a wrong
/// one costs an attempt (`code_incorrect`, then `code_attempts_exhausted`).
#[utoipa::path(
    post,
    path = "/v1/one-time-codes/verify",
    tag = "security",
    operation_id = "verifyOneTimeCode",
    summary = "Verify a one-time code",
    description = "A right code is spent (`code_used` after) and proves its target received it; a wrong one costs an \
        attempt (`code_incorrect`, then `code_attempts_exhausted`); `code_expired` after its lifetime. No code issued \
        answers as a wrong one.",
    request_body = VerifyCodeRequest,
    responses(
        (status = 200, description = "Verified.", body = VerifiedCodeView),
    )
)]
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
