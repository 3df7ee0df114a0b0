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
use super::{run, ClientActor, IdentityView, List, MemberView};
use crate::error::ApiError;
use crate::ids::MemberIdPath;
use crate::json::{parse_body, parse_body_or_empty};
use crate::AppState;

/// GET /v1/members/{id}/identities: in the order added, masked.
pub async fn member_identities(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<List<IdentityView>>, ApiError> {
    let identities = state.parties.member_identities(id).await?;
    Ok(Json(List { data: identities.iter().map(IdentityView::from).collect() }))
}

/// POST /v1/members/{id}/identities: one more identity the member signs in with. The platform proves
/// a phone or email first (a verified one-time code).
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StartBody {
    old_phone: String,
    new_phone: String,
}

#[derive(Serialize)]
pub struct PhoneChangeStartedView {
    /// To deliver to the old number.
    old_code: IssuedCodeView,
    /// To deliver to the new number.
    new_code: IssuedCodeView,
    /// Both codes verified and the change completed before this.
    expires_at: String,
}

/// POST /v1/members/{id}/phone-change: starts moving the member from one of its phones to a free one
/// (replacing a change in progress), and issues a code to each number for the platform to deliver.
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VerifyBody {
    phone: String,
    code: String,
}

#[derive(Serialize)]
pub struct PhoneChangeProgressView {
    old_verified: bool,
    new_verified: bool,
    expires_at: String,
}

/// POST /v1/members/{id}/phone-change/verify: the code sent to the old or the new number; a wrong one
/// costs one of that code's attempts.
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

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct CompleteBody {}

/// POST /v1/members/{id}/phone-change/complete: once both numbers are verified
/// (`phone_change_unverified` before), the member signs in with the new number instead of the old.
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
