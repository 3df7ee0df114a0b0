//! Members (会员): registration with a new customer, activation (which opens the basic account),
//! locking, cancellation, reads and history.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::party::Registration;
use serde::{Deserialize, Serialize};

use super::fields::{self, ThirdPartyField};
use super::merchants;
use super::{history_window, run, ClientActor, CustomerView, HistoryPage, MemberAccountView, MemberView};
use crate::error::ApiError;
use crate::ids::MemberIdPath;
use crate::json::parse_body;
use crate::principal::Binding;
use crate::query::QueryParams;
use crate::AppState;

/// Exactly one login identity: `phone`, `email`, `nickname` or `third_party` (none: `missing_field`; several:
/// `invalid_field`).
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    #[schema(value_type = Option<crate::party::choices::Kind>, inline, default = "personal")]
    kind: Option<String>,
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
    /// The merchant (a brand or a franchisee) the member is registered for: its identity is then
    /// unique at that merchant, its wallet spent there. Required of a client bound to a member.
    #[schema(nullable = false, pattern = "^mch_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    merchant_id: Option<String>,
    /// The name or nickname the merchant knows the member by (with `merchant_id` only).
    #[schema(nullable = false, min_length = 1, max_length = 40)]
    name: Option<String>,
}

exactly_one_of!(RegisterMemberRequest = RegisterBody, ["phone", "email", "nickname", "third_party"]);

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = RegisteredMember)]
pub struct Registered {
    member: MemberView,
    customer: CustomerView,
}

/// POST /v1/members: an inactive member under a new customer, known by one login identity.
#[utoipa::path(
    post,
    path = "/v1/members",
    tag = "members",
    operation_id = "registerMember",
    summary = "Register a member",
    description = "An inactive member under a new customer, known by one login identity (unique in the platform: \
        `identity_taken`). A verified authentication later gives the customer its certificate. With `merchant_id`, a \
        member of that merchant: its identity unique at the merchant (the member it already names there is answered, \
        200), under the customer its phone names if any; a client bound to a member registers members for the \
        merchants it reaches only (without `merchant_id`, 403 `client_bound`).",
    request_body = RegisterMemberRequest,
    responses(
        (status = 201, description = "The member and its new customer.", body = Registered),
        (status = 200, description = "The member the identity already names at the merchant.", body = Registered),
    )
)]
pub async fn register_member(
    State(state): State<AppState>,
    ClientActor(actor): ClientActor,
    Binding(bound): Binding,
    body: Bytes,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let body: RegisterBody = parse_body(&body)?;
    let merchant = body.merchant_id.as_deref().map(|m| merchants::merchant_id("merchant_id", m)).transpose()?;
    let name = body.name.map(|n| super::franchises::member_name("name", n)).transpose()?;
    if let (Some(bound), None) = (bound, merchant) {
        return Err(ApiError::new(
            crate::error::code::CLIENT_BOUND,
            format!("this client is bound to the member {bound}: it registers members for a merchant it reaches (merchant_id)"),
        ));
    }
    if merchant.is_none() && name.is_some() {
        return Err(ApiError::new(crate::error::code::INVALID_FIELD, "name is given with merchant_id only"));
    }
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
    let trusted = bound.is_none();
    if let Some(merchant) = merchant {
        let (registered, new) = run(move || async move {
            parties.register_member_for(merchant, &registration, name, false, trusted, &actor).await
        })
        .await?;
        tracing::info!(member.id = %registered.member.member.id(), merchant.id = %merchant, new, "member registered for a merchant");
        let mut customer = CustomerView::from(&registered.customer);
        // The customer may be known from elsewhere (another franchisee, the platform): a merchant's
        // client is told its id, never what others verified of it.
        if bound.is_some() {
            (customer.certificate, customer.name) = (None, None);
        }
        let view = Registered { member: MemberView::from(&registered.member), customer };
        let status = if new { StatusCode::CREATED } else { StatusCode::OK };
        return Ok((status, Json(view)));
    }
    let registered = run(move || async move { parties.register_member(&registration, &actor).await }).await?;
    tracing::info!(member.id = %registered.member.member.id(), customer.id = %registered.customer.customer.id(), "member registered");
    let view =
        Registered { member: MemberView::from(&registered.member), customer: CustomerView::from(&registered.customer) };
    Ok((StatusCode::CREATED, Json(view)))
}

/// GET /v1/members/{id}
#[utoipa::path(
    get,
    path = "/v1/members/{id}",
    tag = "members",
    operation_id = "getMember",
    summary = "Get a member",
    description = "The member with its statuses (and their codes) and masked login identities.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    responses(
        (status = 200, description = "The member.", body = MemberView),
    )
)]
pub async fn get_member(
    State(state): State<AppState>,
    MemberIdPath(id): MemberIdPath,
) -> Result<Json<MemberView>, ApiError> {
    Ok(Json(MemberView::from(&state.parties.get_member(id).await?)))
}

/// No fields; the body may be empty.
#[derive(Deserialize, Default, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ActivateMemberRequest)]
pub struct ActivateBody {}

#[derive(Serialize, utoipa::ToSchema)]
#[schema(as = ActivatedMember)]
pub struct Activated {
    member: MemberView,
    /// The accounts activation opened (the basic account).
    accounts: Vec<MemberAccountView>,
}

/// POST /v1/members/{id}/activate
#[utoipa::path(
    post,
    path = "/v1/members/{id}/activate",
    tag = "members",
    operation_id = "activateMember",
    summary = "Activate a member",
    description = "An inactive member becomes normal, and the account types that open on activation (the basic \
        account) are opened for it.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body(content = ref("#/components/schemas/ActivateMemberRequest"), content_type = "application/json"),
    responses(
        (status = 200, description = "The member and the accounts opened.", body = Activated),
    )
)]
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
#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = ReasonRequest)]
pub struct ReasonBody {
    /// Why, for the history: 1 to 200 characters without control characters (`reason_invalid` otherwise).
    #[schema(min_length = 1, max_length = 200, examples("judicial freeze, case 2026-01"))]
    pub reason: String,
}

/// POST /v1/members/{id}/lock
#[utoipa::path(
    post,
    path = "/v1/members/{id}/lock",
    tag = "members",
    operation_id = "lockMember",
    summary = "Lock a member",
    description = "Lock status 1: the member cannot act until unlocked. Its accounts are untouched.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = ReasonBody,
    responses(
        (status = 200, description = "The locked member.", body = MemberView),
    )
)]
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
#[utoipa::path(
    post,
    path = "/v1/members/{id}/unlock",
    tag = "members",
    operation_id = "unlockMember",
    summary = "Unlock a member",
    description = "Lock status 0 again.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = ReasonBody,
    responses(
        (status = 200, description = "The unlocked member.", body = MemberView),
    )
)]
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
#[utoipa::path(
    post,
    path = "/v1/members/{id}/cancel",
    tag = "members",
    operation_id = "cancelMember",
    summary = "Cancel a member",
    description = "Cancels the member (销户): refused while any of its accounts holds money (`account_not_empty`) or a \
        hold (`account_has_pending`); otherwise its accounts are closed and its login identities freed for reuse. \
        Final.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
    ),
    request_body = ReasonBody,
    responses(
        (status = 200, description = "The cancelled member.", body = MemberView),
    )
)]
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
#[utoipa::path(
    get,
    path = "/v1/members/{id}/history",
    tag = "members",
    operation_id = "getMemberHistory",
    summary = "A member's history",
    description = "Every change of the member's record (registered, activated, locked, moved by a merge, cancelled...) \
        with its actor and reason, oldest first, cursor-paginated.",
    params(
        ("id" = String, Path, description = "The member's id.", pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        crate::query::Paging<crate::query::SequenceCursor>,
    ),
    responses(
        (status = 200, description = "A page of history.", body = HistoryPage),
    )
)]
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
