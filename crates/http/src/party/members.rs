//! Members (会员): registration with a new customer, activation (which opens the basic account),
//! locking, cancellation, reads and history.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::party::Registration;
use serde::{Deserialize, Serialize};

use super::fields::{self, ThirdPartyField};
use super::{history_window, run, ClientActor, CustomerView, HistoryPage, MemberAccountView, MemberView};
use crate::error::ApiError;
use crate::ids::MemberIdPath;
use crate::json::parse_body;
use crate::query::QueryParams;
use crate::AppState;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    kind: Option<String>,
    scope: Option<String>,
    phone: Option<String>,
    email: Option<String>,
    nickname: Option<String>,
    third_party: Option<ThirdPartyField>,
}

#[derive(Serialize)]
pub struct Registered {
    member: MemberView,
    customer: CustomerView,
}

/// POST /v1/members: an inactive member under a new customer, known by one login identity.
pub async fn register_member(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    body: Bytes,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let body: RegisterBody = parse_body(&body)?;
    let registration = Registration {
        kind: fields::kind(body.kind.as_deref())?,
        scope: fields::scope(body.scope.as_deref())?,
        identity: fields::login_identity(
            body.phone.as_deref(),
            body.email.as_deref(),
            body.nickname.as_deref(),
            body.third_party.as_ref(),
        )?,
    };
    let parties = state.parties.clone();
    let registered = run(move || async move { parties.register_member(&registration, &actor).await }).await?;
    tracing::info!(member.id = %registered.member.member.id(), customer.id = %registered.customer.customer.id(), "member registered");
    let view =
        Registered { member: MemberView::from(&registered.member), customer: CustomerView::from(&registered.customer) };
    Ok((StatusCode::CREATED, Json(view)))
}

/// GET /v1/members/{id}
pub async fn get_member(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<MemberView>, ApiError> {
    Ok(Json(MemberView::from(&state.parties.get_member(id).await?)))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct ActivateBody {}

#[derive(Serialize)]
pub struct Activated {
    member: MemberView,
    /// The accounts activation opened (the basic account).
    accounts: Vec<MemberAccountView>,
}

/// POST /v1/members/{id}/activate
pub async fn activate_member(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<Json<Activated>, ApiError> {
    let ActivateBody {} = crate::json::parse_body_or_empty(&body)?;
    let parties = state.parties.clone();
    let (member, opened) = run(move || async move { parties.activate_member(id, &actor).await }).await?;
    tracing::info!(member.id = %id, accounts_opened = opened.len(), "member activated");
    Ok(Json(Activated {
        member: MemberView::from(&member),
        accounts: opened.iter().map(|(account, ledger)| MemberAccountView::of(account, ledger)).collect(),
    }))
}

/// The body of a change that needs only a reason.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReasonBody {
    pub reason: String,
}

/// POST /v1/members/{id}/lock
pub async fn lock_member(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<Json<MemberView>, ApiError> {
    let body: ReasonBody = parse_body(&body)?;
    let (parties, reason) = (state.parties.clone(), fields::reason(&body.reason)?);
    let member = run(move || async move { parties.lock_member(id, &actor, &reason).await }).await?;
    tracing::info!(member.id = %id, "member locked");
    Ok(Json(MemberView::from(&member)))
}

/// POST /v1/members/{id}/unlock
pub async fn unlock_member(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<Json<MemberView>, ApiError> {
    let body: ReasonBody = parse_body(&body)?;
    let (parties, reason) = (state.parties.clone(), fields::reason(&body.reason)?);
    let member = run(move || async move { parties.unlock_member(id, &actor, &reason).await }).await?;
    tracing::info!(member.id = %id, "member unlocked");
    Ok(Json(MemberView::from(&member)))
}

/// POST /v1/members/{id}/cancel: only once every account of the member is empty with nothing held;
/// its accounts are closed and its login identities freed.
pub async fn cancel_member(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    MemberIdPath(id): MemberIdPath,
    body: Bytes,
) -> Result<Json<MemberView>, ApiError> {
    let body: ReasonBody = parse_body(&body)?;
    let (parties, reason) = (state.parties.clone(), fields::reason(&body.reason)?);
    let member = run(move || async move { parties.cancel_member(id, &actor, &reason).await }).await?;
    tracing::info!(member.id = %id, "member cancelled");
    Ok(Json(MemberView::from(&member)))
}

/// GET /v1/members/{id}/history?after=&limit=: the member's own record's changes, oldest first.
pub async fn member_history(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
    query: QueryParams,
) -> Result<Json<HistoryPage>, ApiError> {
    let (after, limit) = history_window(query, state.config.page_size_max)?;
    // A member that does not exist has no history: say so rather than answer an empty page.
    state.parties.get_member(id).await?;
    let entries = state.parties.record_history(&id.to_string(), after, limit).await?;
    Ok(Json(HistoryPage::of(&entries, limit)))
}
