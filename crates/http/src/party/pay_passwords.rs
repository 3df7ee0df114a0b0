//! Pay passwords (支付密码), one per member and one per operator: set, changed with the current one,
//! verified; locked after the configured number of wrong tries (`pay_password_locked`, 403).
//!
//! A pay password is read here, handed to the service (which keeps an Argon2id hash) and dropped: it
//! is never logged, never in a response, and these endpoints take no Idempotency-Key, because the
//! idempotency layer keeps a plain SHA-256 fingerprint of the body, from which a 6-digit password is
//! recovered by trying a million candidates. The request bodies have no `Debug`.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_core::party::{Actor, PayPassword};
use sanhu_service::clock;
use sanhu_service::party::PayPasswordOwner;
use serde::{Deserialize, Serialize};

use super::fields::refused;
use super::{run, ClientActor};
use crate::error::ApiError;
use crate::ids::{MemberIdPath, OperatorIdPath};
use crate::json::parse_body;
use crate::AppState;

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = PayPasswordRequest)]
struct PasswordBody {
    /// 6 digits. Never logged, never answered.
    #[schema(pattern = "^[0-9]{6}$", examples("135790"))]
    pay_password: String,
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ChangePayPasswordRequest)]
struct ChangeBody {
    /// 6 digits. Never logged, never answered.
    #[schema(pattern = "^[0-9]{6}$", examples("135790"))]
    current_pay_password: String,
    /// 6 digits, not one digit repeated (`pay_password_repeated`), not a run (`pay_password_sequence`).
    #[schema(pattern = "^[0-9]{6}$", examples("135790"))]
    new_pay_password: String,
}

/// What happened; never the password.
#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = PayPasswordOutcome)]
pub struct PayPasswordOutcome {
    #[schema(pattern = "^(mem|opr)_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    owner_id: String,
    // set, changed, verified or reset.
    #[schema(value_type = crate::party::choices::PayPasswordOutcomeKind, inline)]
    outcome: &'static str,
}

fn outcome(owner: PayPasswordOwner, outcome: &'static str) -> PayPasswordOutcome {
    PayPasswordOutcome { owner_id: owner.to_string(), outcome }
}

async fn set(
    state: AppState,
    owner: PayPasswordOwner,
    actor: Actor,
    body: &[u8],
) -> Result<(StatusCode, Json<PayPasswordOutcome>), ApiError> {
    let body: PasswordBody = parse_body(body)?;
    let password = PayPassword::parse(&body.pay_password).map_err(|e| refused("pay_password", e))?;
    let parties = state.parties.clone();
    run(move || async move { parties.set_pay_password(owner, &password, &actor).await }).await?;
    tracing::info!(owner.id = %owner, "pay password set");
    Ok((StatusCode::CREATED, Json(outcome(owner, "set"))))
}

async fn change(
    state: AppState,
    owner: PayPasswordOwner,
    actor: Actor,
    body: &[u8],
) -> Result<Json<PayPasswordOutcome>, ApiError> {
    let body: ChangeBody = parse_body(body)?;
    let new = PayPassword::parse(&body.new_pay_password).map_err(|e| refused("new_pay_password", e))?;
    let parties = state.parties.clone();
    let current = body.current_pay_password;
    run(move || async move { parties.change_pay_password(owner, &current, &new, &actor, clock::now()).await }).await?;
    tracing::info!(owner.id = %owner, "pay password changed");
    Ok(Json(outcome(owner, "changed")))
}

async fn verify(state: AppState, owner: PayPasswordOwner, body: &[u8]) -> Result<Json<PayPasswordOutcome>, ApiError> {
    let body: PasswordBody = parse_body(body)?;
    let parties = state.parties.clone();
    let submitted = body.pay_password;
    run(move || async move { parties.verify_pay_password(owner, &submitted, clock::now()).await }).await?;
    Ok(Json(outcome(owner, "verified")))
}

/// POST /v1/members/{id}/pay-password: the member's first pay password (6 digits, not one repeated,
/// not a run).
#[utoipa::path(
    post,
    path = "/v1/members/{id}/pay-password",
    tag = "security",
    operation_id = "setMemberPayPassword",
    summary = "Set a member's pay password",
    description = "The member's first pay password (a set one: `pay_password_already_set`), kept as an Argon2id hash.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = PasswordBody,
    responses(
        (status = 201, description = "Set.", body = PayPasswordOutcome),
    )
)]
pub async fn set_member_pay_password(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<PayPasswordOutcome>), ApiError> {
    set(state, PayPasswordOwner::Member(id), actor, &body).await
}

/// POST /v1/members/{id}/pay-password/change: with the current one, which counts as an attempt.
#[utoipa::path(
    post,
    path = "/v1/members/{id}/pay-password/change",
    tag = "security",
    operation_id = "changeMemberPayPassword",
    summary = "Change a member's pay password",
    description = "With the current one, which counts as an attempt: wrong is `pay_password_incorrect` (403), and the \
        5th wrong try in a row locks it (`pay_password_locked`, 403).",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = ChangeBody,
    responses(
        (status = 200, description = "Changed.", body = PayPasswordOutcome),
    )
)]
pub async fn change_member_pay_password(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<Json<PayPasswordOutcome>, ApiError> {
    change(state, PayPasswordOwner::Member(id), actor, &body).await
}

/// POST /v1/members/{id}/pay-password/verify
#[utoipa::path(
    post,
    path = "/v1/members/{id}/pay-password/verify",
    tag = "security",
    operation_id = "verifyMemberPayPassword",
    summary = "Verify a member's pay password",
    description = "Wrong: `pay_password_incorrect` (403); the 5th wrong try in a row locks it for the configured time \
        (`pay_password_locked`, 403), across restarts and instances; a locked one is refused without being compared.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = PasswordBody,
    responses(
        (status = 200, description = "Right.", body = PayPasswordOutcome),
    )
)]
pub async fn verify_member_pay_password(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<Json<PayPasswordOutcome>, ApiError> {
    verify(state, PayPasswordOwner::Member(id), &body).await
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ResetPayPasswordRequest)]
struct ResetBody {
    /// The one-time code sent to the member's bound phone for `pay_password_reset`
    /// (`POST /v1/one-time-codes`). Never logged, never answered.
    #[schema(pattern = "^[0-9]{4,10}$", examples("123456"))]
    code: String,
    /// The number of the member's customer's verified certificate: the real-name check.
    #[schema(min_length = 1, max_length = 64)]
    certificate_number: String,
    /// 6 digits, not one digit repeated, not a run.
    #[schema(pattern = "^[0-9]{6}$", examples("135790"))]
    new_pay_password: String,
}

/// POST /v1/members/{id}/pay-password/reset: a forgotten pay password replaced with an SMS code and
/// the real-name check.
#[utoipa::path(
    post,
    path = "/v1/members/{id}/pay-password/reset",
    tag = "security",
    operation_id = "resetMemberPayPassword",
    summary = "Reset a member's forgotten pay password",
    description = "With the one-time code sent to the member's bound phone for the purpose `pay_password_reset`         (`code_incorrect`, `code_expired`, `code_used`, `code_attempts_exhausted`) and the number of its customer's         verified certificate (`pay_password_reset_real_name_required` without one). A locked pay password is not         reset until its lock ends (`pay_password_locked`). A wrong certificate number spends the code and counts         towards the lock like a wrong pay password (`pay_password_reset_certificate_mismatch`, 403;         `pay_password_locked` on the try that locks). Success replaces the password and clears the failures.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = ResetBody,
    responses(
        (status = 200, description = "Reset.", body = PayPasswordOutcome),
    )
)]
pub async fn reset_member_pay_password(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<Json<PayPasswordOutcome>, ApiError> {
    let body: ResetBody = parse_body(&body)?;
    let new = PayPassword::parse(&body.new_pay_password).map_err(|e| refused("new_pay_password", e))?;
    let parties = state.parties.clone();
    let (code, certificate) = (body.code, body.certificate_number);
    run(move || async move { parties.reset_pay_password(id, &code, &certificate, &new, &actor, clock::now()).await })
        .await?;
    tracing::info!(owner.id = %id, "pay password reset");
    Ok(Json(outcome(PayPasswordOwner::Member(id), "reset")))
}

/// POST /v1/operators/{id}/pay-password
#[utoipa::path(
    post,
    path = "/v1/operators/{id}/pay-password",
    tag = "security",
    operation_id = "setOperatorPayPassword",
    summary = "Set an operator's pay password",
    description = "The operator's first pay password (a set one: `pay_password_already_set`), kept as an Argon2id \
        hash.",
    params(
        ("id" = String, Path, description = "The operator's id.", pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = PasswordBody,
    responses(
        (status = 201, description = "Set.", body = PayPasswordOutcome),
    )
)]
pub async fn set_operator_pay_password(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OperatorIdPath(id): OperatorIdPath,
    body: Bytes,
) -> Result<(StatusCode, Json<PayPasswordOutcome>), ApiError> {
    set(state, PayPasswordOwner::Operator(id), actor, &body).await
}

/// POST /v1/operators/{id}/pay-password/change
#[utoipa::path(
    post,
    path = "/v1/operators/{id}/pay-password/change",
    tag = "security",
    operation_id = "changeOperatorPayPassword",
    summary = "Change an operator's pay password",
    description = "With the current one, which counts as an attempt: wrong is `pay_password_incorrect` (403), and the \
        5th wrong try in a row locks it (`pay_password_locked`, 403).",
    params(
        ("id" = String, Path, description = "The operator's id.", pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = ChangeBody,
    responses(
        (status = 200, description = "Changed.", body = PayPasswordOutcome),
    )
)]
pub async fn change_operator_pay_password(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    OperatorIdPath(id): OperatorIdPath,
    body: Bytes,
) -> Result<Json<PayPasswordOutcome>, ApiError> {
    change(state, PayPasswordOwner::Operator(id), actor, &body).await
}

/// POST /v1/operators/{id}/pay-password/verify
#[utoipa::path(
    post,
    path = "/v1/operators/{id}/pay-password/verify",
    tag = "security",
    operation_id = "verifyOperatorPayPassword",
    summary = "Verify an operator's pay password",
    description = "Wrong: `pay_password_incorrect` (403); the 5th wrong try in a row locks it for the configured time \
        (`pay_password_locked`, 403), across restarts and instances; a locked one is refused without being compared.",
    params(
        ("id" = String, Path, description = "The operator's id.", pattern = "^opr_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = PasswordBody,
    responses(
        (status = 200, description = "Right.", body = PayPasswordOutcome),
    )
)]
pub async fn verify_operator_pay_password(
    State(state): State<AppState>,
    OperatorIdPath(id): OperatorIdPath,
    body: Bytes,
) -> Result<Json<PayPasswordOutcome>, ApiError> {
    verify(state, PayPasswordOwner::Operator(id), &body).await
}
