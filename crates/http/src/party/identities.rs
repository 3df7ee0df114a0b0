//! Login identities (登录标识) of a member: listed, added (unique in the platform), removed (never the
//! last); and the phone change (更换手机号), which completes only once a code sent to the old number
//! and one sent to the new are both verified.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::clock;
use serde::{Deserialize, Serialize};

use super::fields::{self, IdentityBody};
use super::one_time_codes::IssuedCodeView;
use super::{run, ClientActor, IdentityList, IdentityView, MemberView};
use crate::error::ApiError;
use crate::ids::MemberIdPath;
use crate::json::{parse_body, parse_body_or_empty};
use crate::AppState;

/// GET /v1/members/{id}/identities: in the order added, masked.
#[utoipa::path(
    get,
    path = "/v1/members/{id}/identities",
    tag = "security",
    operation_id = "listMemberIdentities",
    summary = "List a member's login identities",
    description = "In the order added; phones and emails masked.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses(
        (status = 200, description = "The identities.", body = IdentityList),
    )
)]
pub async fn member_identities(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<IdentityList>, ApiError> {
    let identities = state.parties.member_identities(id).await?;
    Ok(Json(IdentityList { data: identities.iter().map(IdentityView::from).collect() }))
}

/// POST /v1/members/{id}/identities: one more identity the member signs in with. The platform proves
/// a phone or email first (a verified one-time code).
#[utoipa::path(
    post,
    path = "/v1/members/{id}/identities",
    tag = "security",
    operation_id = "addMemberIdentity",
    summary = "Add a login identity",
    description = "Unique in the platform (`identity_taken`). The platform proves a phone or an email first (a \
        verified one-time code).",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = super::fields::LoginIdentityRequest,
    responses(
        (status = 201, description = "The member.", body = MemberView),
    )
)]
pub async fn add_identity(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<MemberView>), ApiError> {
    let body: IdentityBody = parse_body(&body)?;
    let identity = body.identity()?;
    let parties = state.parties.clone();
    let member = run(move || async move { parties.add_identity(id, &identity, &actor).await }).await?;
    tracing::info!(member.id = %id, "login identity added");
    Ok((StatusCode::CREATED, Json(MemberView::from(&member))))
}

/// POST /v1/members/{id}/identities/remove: one of the member's identities, which is then free for
/// others; never the last one.
#[utoipa::path(
    post,
    path = "/v1/members/{id}/identities/remove",
    tag = "security",
    operation_id = "removeMemberIdentity",
    summary = "Remove a login identity",
    description = "One of the member's (`identity_not_found`), never the last (`last_identity`); it is then free for \
        others.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = super::fields::LoginIdentityRequest,
    responses(
        (status = 200, description = "The member.", body = MemberView),
    )
)]
pub async fn remove_identity(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<Json<MemberView>, ApiError> {
    let body: IdentityBody = parse_body(&body)?;
    let identity = body.identity()?;
    let parties = state.parties.clone();
    let member = run(move || async move { parties.remove_identity(id, &identity, &actor).await }).await?;
    tracing::info!(member.id = %id, "login identity removed");
    Ok(Json(MemberView::from(&member)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StartPhoneChangeRequest)]
struct StartBody {
    /// One of the member's login phones (`identity_not_found` otherwise).
    #[schema(pattern = "^\\+?[0-9][0-9 -]{6,30}$", examples("13800000001"))]
    old_phone: String,
    /// A phone no member uses (`identity_taken`), not the old one (`phone_unchanged`).
    #[schema(pattern = "^\\+?[0-9][0-9 -]{6,30}$", examples("13800000001"))]
    new_phone: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PhoneChangeStarted)]
pub struct PhoneChangeStartedView {
    /// To deliver to the old number.
    old_code: IssuedCodeView,
    /// To deliver to the new number.
    new_code: IssuedCodeView,
    /// Both codes verified and the change completed before this.
    #[schema(format = DateTime)]
    expires_at: String,
}

/// POST /v1/members/{id}/phone-change: starts moving the member from one of its phones to a free one
/// (replacing a change in progress), and issues a code to each number for the platform to deliver.
#[utoipa::path(
    post,
    path = "/v1/members/{id}/phone-change",
    tag = "security",
    operation_id = "startPhoneChange",
    summary = "Start a phone change",
    description = "From one of the member's phones to a free one, replacing a change in progress; a code is issued to \
        each number for the platform to deliver (`code_sent_too_recently` within the resend interval).",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = StartBody,
    responses(
        (status = 201, description = "The two codes to deliver.", body = PhoneChangeStartedView),
    )
)]
pub async fn start_phone_change(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<PhoneChangeStartedView>), ApiError> {
    let body: StartBody = parse_body(&body)?;
    let old = fields::phone("old_phone", &body.old_phone)?;
    let new = fields::phone("new_phone", &body.new_phone)?;
    let parties = state.parties.clone();
    let started =
        run(move || async move { parties.start_phone_change(id, &old, &new, &actor, clock::now()).await }).await?;
    tracing::info!(member.id = %id, "phone change started");
    Ok((
        StatusCode::CREATED,
        Json(PhoneChangeStartedView {
            old_code: IssuedCodeView::from(&started.old_code),
            new_code: IssuedCodeView::from(&started.new_code),
            expires_at: started.expires_at.to_string(),
        }),
    ))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = VerifyPhoneChangeRequest)]
struct VerifyBody {
    /// The old or the new number of the change (`phone_change_code_mismatch` otherwise).
    #[schema(pattern = "^\\+?[0-9][0-9 -]{6,30}$", examples("13800000001"))]
    phone: String,
    /// The code as the person typed it. Never logged, never answered.
    #[schema(pattern = "^[0-9]{4,8}$", examples("482915"))]
    code: String,
}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PhoneChangeProgress)]
pub struct PhoneChangeProgressView {
    old_verified: bool,
    new_verified: bool,
    /// RFC 3339, UTC, to the nanosecond.
    #[schema(format = DateTime)]
    expires_at: String,
}

/// POST /v1/members/{id}/phone-change/verify: the code sent to the old or the new number; a wrong one
/// costs one of that code's attempts.
#[utoipa::path(
    post,
    path = "/v1/members/{id}/phone-change/verify",
    tag = "security",
    operation_id = "verifyPhoneChange",
    summary = "Verify a phone change's code",
    description = "The code sent to the old or the new number; a wrong one costs one of its attempts \
        (`code_incorrect`, then `code_attempts_exhausted`).",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = VerifyBody,
    responses(
        (status = 200, description = "Where the change stands.", body = PhoneChangeProgressView),
    )
)]
pub async fn verify_phone_change(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<Json<PhoneChangeProgressView>, ApiError> {
    let body: VerifyBody = parse_body(&body)?;
    let phone = fields::phone("phone", &body.phone)?;
    let submitted = body.code;
    let parties = state.parties.clone();
    let progress =
        run(move || async move { parties.verify_phone_change_code(id, &phone, &submitted, clock::now()).await })
            .await?;
    Ok(Json(PhoneChangeProgressView {
        old_verified: progress.old_verified,
        new_verified: progress.new_verified,
        expires_at: progress.expires_at.to_string(),
    }))
}

/// No fields; the body may be empty.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CompletePhoneChangeRequest)]
pub struct CompleteBody {}

/// POST /v1/members/{id}/phone-change/complete: once both numbers are verified
/// (`phone_change_unverified` before), the member signs in with the new number instead of the old.
#[utoipa::path(
    post,
    path = "/v1/members/{id}/phone-change/complete",
    tag = "security",
    operation_id = "completePhoneChange",
    summary = "Complete a phone change",
    description = "Only once both numbers are verified (`phone_change_unverified`) and before it expires \
        (`phone_change_expired`): the member signs in with the new number, and the old one is freed.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body(content = ref("#/components/schemas/CompletePhoneChangeRequest"), content_type = "application/json"),
    responses(
        (status = 200, description = "The member.", body = MemberView),
    )
)]
pub async fn complete_phone_change(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<Json<MemberView>, ApiError> {
    let CompleteBody {} = parse_body_or_empty(&body)?;
    let parties = state.parties.clone();
    let member = run(move || async move { parties.complete_phone_change(id, &actor, clock::now()).await }).await?;
    tracing::info!(member.id = %id, "phone changed");
    Ok(Json(MemberView::from(&member)))
}
