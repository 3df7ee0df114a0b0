//! Maker-checker for staff: the requests of [`approval_routes`] that a staff member makes are not
//! applied but recorded as approvals (answered 202 with the approval); a second staff member approves
//! one (`POST /v1/approvals/{id}/approve`), and then it is applied, as the maker's request, through
//! the whole API (every rule and layer of its endpoint applies, as if it were made then), or rejects
//! it. The maker can neither approve nor reject their own (`approval_same_staff_member`).
//!
//! Requests from API clients are applied at once: a platform's back-end system answers for its own
//! controls. Manual adjustments have their own approval above a threshold (`/v1/adjustments/{number}/
//! approve`), which for staff is likewise another staff member's.
//!
//! An approved request is applied under an idempotency key of its own approval, so however often the
//! approval is approved again (after a crash, or by two checkers at once), it takes effect at most once.

use axum::body::{to_bytes, Body, Bytes};
use axum::extract::{FromRequestParts, MatchedPath, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sanhu_core::staff::{ApprovalId, ApprovalStatus, Username};
use sanhu_service::free_text::mask_json;
use sanhu_service::staff::HeldRequest;
use sanhu_store::approvals::{Approval, ApprovalQuery};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower::ServiceExt;

use super::sessions::StaffCaller;
use super::AuthenticatedStaff;
use crate::error::{code, code_info, ApiError};
use crate::idempotency::IDEMPOTENCY_KEY_HEADER;
use crate::json::parse_body;
use crate::party::fields;
use crate::principal::ApprovedRequest;
use crate::query::QueryParams;
use crate::routes::required_scope;
use crate::scopes::RouteFacts;
use crate::state::AppState;

/// The requests that, made by a staff member, wait for a second staff member: the route table's
/// entries marked `.held()` ([`crate::routes::Route::held`]), in its order: freezes and unfreezes (of
/// money, of a customer, of an account, of a ledger account), merges, and operators' limits.
pub fn approval_routes() -> Vec<(&'static str, &'static str)> {
    crate::routes::all().iter().filter(|route| route.held).map(|route| (route.method, route.path)).collect()
}

/// The idempotency key an approved request is applied under (among its approval's keys).
const APPLY_KEY: &str = "apply";
/// Largest answer kept from applying a request.
const RESPONSE_BYTES_MAX: usize = 64 * 1024 * 1024;

/// The layer: a staff member's request to one of [`approval_routes`] becomes an approval.
pub async fn hold(State(state): State<AppState>, request: Request, next: Next) -> Result<Response, ApiError> {
    let Some(staff) = request.extensions().get::<AuthenticatedStaff>().cloned() else {
        return Ok(next.run(request).await);
    };
    let held = request.extensions().get::<RouteFacts>().is_some_and(|facts| facts.held);
    if !held || request.extensions().get::<ApprovedRequest>().is_some() {
        return Ok(next.run(request).await);
    }
    let route = request.extensions().get::<MatchedPath>().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let method = request.method().to_string();
    let path = request.uri().path_and_query().map_or(request.uri().path(), |p| p.as_str()).to_owned();
    // Authentication has buffered the body already; this only takes it back out.
    let body = to_bytes(request.into_body(), state.config.body_bytes_max)
        .await
        .map_err(|_| ApiError::new(code::BODY_TOO_LARGE, "the request body is too large"))?;
    let body = held_body(&body)?;
    let request = HeldRequest { method, route, path, body };
    let approval = state.staff.request_approval(&staff.username, request).await.map_err(ApiError::from)?;
    tracing::info!(approval.id = %approval.id, staff.username = %staff.username, route = %approval.route, "held for approval");
    Ok((StatusCode::ACCEPTED, Json(ApprovalView::from(&approval))).into_response())
}

/// The body kept with an approval: a JSON object, or nothing. Anything else would be refused when
/// applied; it is refused now. It is kept as the endpoint would keep its free text: card and
/// certificate numbers in its strings are masked (`sanhu_service::free_text`), except in the order
/// numbers and ids it names, which must reach the endpoint as they were sent.
fn held_body(body: &Bytes) -> Result<String, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(String::new());
    }
    let fields = parse_body::<serde_json::Map<String, Value>>(body)?;
    let names_an_object = |name: &str| name.ends_with("_number") || name.ends_with("_id") || name == "absorbed";
    Ok(mask_json(&Value::Object(fields), &names_an_object).to_string())
}

/// An approval as the API shows it.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = Approval)]
pub struct ApprovalView {
    #[schema(value_type = sanhu_core::staff::ApprovalId, inline)]
    pub id: String,
    /// pending, applying, applied, failed or rejected.
    #[schema(value_type = sanhu_core::staff::ApprovalStatus, inline)]
    pub status: &'static str,
    /// The staff member who made the request, and the one who approved or rejected it.
    #[schema(value_type = sanhu_core::staff::Username, inline)]
    pub maker: String,
    #[schema(value_type = Option<sanhu_core::staff::Username>, inline)]
    pub checker: Option<String>,
    /// The request: method, route template, path as sent, and body (null for none). Only POSTs are
    /// held.
    #[schema(pattern = "^POST$")]
    pub method: String,
    #[schema(pattern = "^/v1/[a-z0-9/{}_-]+$")]
    pub route: String,
    #[schema(pattern = "^/v1/")]
    pub path: String,
    pub request: Value,
    /// Why it was rejected.
    #[schema(value_type = Option<sanhu_core::party::change::Reason>, inline)]
    pub reason: Option<String>,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    pub created_at: String,
    #[schema(value_type = Option<sanhu_core::Timestamp>, inline)]
    pub decided_at: Option<String>,
    /// What applying it answered; null until it is applied.
    pub response: Option<AppliedResponse>,
}

#[derive(Serialize, Debug, utoipa::ToSchema)]
pub struct AppliedResponse {
    /// The HTTP status: 2xx when applied, 4xx when refused (nothing changed).
    #[schema(minimum = 200, maximum = 499)]
    pub status: u16,
    pub body: Value,
}

impl From<&Approval> for ApprovalView {
    fn from(a: &Approval) -> ApprovalView {
        let json = |text: &str| {
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
            }
        };
        ApprovalView {
            id: a.id.to_string(),
            status: a.status.as_str(),
            maker: a.maker.to_string(),
            checker: a.checker.as_ref().map(Username::to_string),
            method: a.method.clone(),
            route: a.route.clone(),
            path: a.path.clone(),
            request: json(&a.body),
            reason: a.reason.clone(),
            created_at: a.created_at.to_string(),
            decided_at: a.decided_at.map(|at| at.to_string()),
            response: a
                .response_status
                .map(|status| AppliedResponse { status, body: json(a.response_body.as_deref().unwrap_or_default()) }),
        }
    }
}

/// The `{id}` of an approval path.
pub struct ApprovalIdPath(pub ApprovalId);

impl<S: Send + Sync> FromRequestParts<S> for ApprovalIdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<ApprovalIdPath, ApiError> {
        let invalid = || ApiError::new(code::INVALID_ID, "the approval id in the path is not apr_ and 26 characters");
        let Path(text) = Path::<String>::from_request_parts(parts, state).await.map_err(|_| invalid())?;
        ApprovalId::parse(&text).map(ApprovalIdPath).ok_or_else(invalid)
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ApprovalPage {
    data: Vec<ApprovalView>,
    /// Pass as `after` for the next page; null when this page is the last.
    #[schema(value_type = Option<sanhu_core::staff::ApprovalId>, inline)]
    next_cursor: Option<String>,
}

/// GET /v1/approvals?status=&after=&limit=: approvals, oldest first.
#[utoipa::path(
    get,
    path = "/v1/approvals",
    tag = "staff",
    operation_id = "listApprovals",
    summary = "List approvals",
    description = "Requests staff made that wait for, or were decided by, a second staff member; oldest first, cursor-paginated.",
    params(
        ("status" = inline(Option<sanhu_core::staff::ApprovalStatus>), Query, description = "Only approvals with this status (`invalid_status` otherwise)."),
        crate::query::Paging<sanhu_core::staff::ApprovalId>,
    ),
    responses(
        (status = 200, description = "A page of approvals.", body = ApprovalPage)
    )
)]
pub async fn list_approvals(State(state): State<AppState>, query: QueryParams) -> Result<Json<ApprovalPage>, ApiError> {
    let query = query.only(&["status", "after", "limit"])?;
    let limit = query.limit(state.config.page_size_max)?;
    let status = match query.get("status") {
        None => None,
        Some(text) => Some(ApprovalStatus::parse(text).ok_or_else(|| {
            ApiError::new(code::INVALID_STATUS, "status is pending, applying, applied, failed or rejected")
        })?),
    };
    let after = match query.get("after") {
        None => None,
        Some(text) => Some(ApprovalId::parse(text).ok_or_else(|| {
            ApiError::new(code::INVALID_CURSOR, "after must be a next_cursor this endpoint returned")
        })?),
    };
    let approvals = state.staff.approvals(&ApprovalQuery { status, after, limit }).await.map_err(ApiError::from)?;
    let next_cursor = (approvals.len() == limit as usize).then(|| approvals.last().map(|a| a.id.to_string())).flatten();
    Ok(Json(ApprovalPage { data: approvals.iter().map(ApprovalView::from).collect(), next_cursor }))
}

/// GET /v1/approvals/{id}
#[utoipa::path(
    get,
    path = "/v1/approvals/{id}",
    tag = "staff",
    operation_id = "getApproval",
    summary = "Get an approval",
    description = "One approval, with the request it holds and, once applied, its answer.",
    params(
        ("id" = String, Path, description = "The approval's id.", pattern = "^apr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")
    ),
    responses(
        (status = 200, description = "The approval.", body = ApprovalView)
    )
)]
pub async fn get_approval(
    State(state): State<AppState>,
    ApprovalIdPath(id): ApprovalIdPath,
) -> Result<Json<ApprovalView>, ApiError> {
    let approval = state.staff.approval(id).await.map_err(ApiError::from)?;
    Ok(Json(ApprovalView::from(&approval)))
}

/// POST /v1/approvals/{id}/approve: another staff member than the maker, whose role grants what the
/// request needs, approves it; it is applied, and the approval answers with what applying it answered.
#[utoipa::path(
    post,
    path = "/v1/approvals/{id}/approve",
    tag = "staff",
    operation_id = "approveApproval",
    summary = "Approve a request",
    description = "Another staff member than the maker (`approval_same_staff_member`), whose role grants the scope the held request needs (`scope_missing`), approves it: the request is applied then, as the maker's, through its endpoint with all its rules, and the approval answers with what that endpoint answered (`applied`, or `failed` when refused: nothing changed). An approval already `applying` (a crash interrupted it) is finished, at most once; a decided one is `approval_decided`. For staff only (`staff_session_required`).",
    params(
        ("id" = String, Path, description = "The approval's id.", pattern = "^apr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")
    ),
    responses(
        (status = 200, description = "The approval.", body = ApprovalView)
    )
)]
pub async fn approve(
    State(state): State<AppState>,
    StaffCaller(checker): StaffCaller,
    ApprovalIdPath(id): ApprovalIdPath,
) -> Result<Json<ApprovalView>, ApiError> {
    check_role_grants(&state, &checker, id).await?;
    let approval = state.staff.approve(id, &checker.username).await.map_err(ApiError::from)?;
    let (status, body) = apply(&state, &approval).await?;
    let approval = state.staff.finish_approval(id, status, body).await.map_err(ApiError::from)?;
    tracing::info!(approval.id = %id, staff.username = %checker.username, status = approval.status.as_str(), "approval applied");
    Ok(Json(ApprovalView::from(&approval)))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = RejectApprovalRequest)]
struct RejectBody {
    #[schema(value_type = sanhu_core::party::change::Reason, inline)]
    reason: String,
}

/// POST /v1/approvals/{id}/reject: another staff member than the maker rejects a pending approval;
/// nothing is applied.
#[utoipa::path(
    post,
    path = "/v1/approvals/{id}/reject",
    tag = "staff",
    operation_id = "rejectApproval",
    summary = "Reject a request",
    description = "Another staff member than the maker (`approval_same_staff_member`), whose role grants the scope the held request needs, rejects a pending approval with a reason; nothing is applied (`approval_decided` once decided). For staff only (`staff_session_required`).",
    params(
        ("id" = String, Path, description = "The approval's id.", pattern = "^apr_[0-7][0-9A-HJKMNP-TV-Z]{25}$")
    ),
    request_body = RejectBody,
    responses(
        (status = 200, description = "The approval.", body = ApprovalView)
    )
)]
pub async fn reject(
    State(state): State<AppState>,
    StaffCaller(checker): StaffCaller,
    ApprovalIdPath(id): ApprovalIdPath,
    body: Bytes,
) -> Result<Json<ApprovalView>, ApiError> {
    let body: RejectBody = parse_body(&body)?;
    let reason = fields::reason(&body.reason)?;
    check_role_grants(&state, &checker, id).await?;
    let approval = state.staff.reject(id, &checker.username, reason.as_str()).await.map_err(ApiError::from)?;
    tracing::info!(approval.id = %id, staff.username = %checker.username, "approval rejected");
    Ok(Json(ApprovalView::from(&approval)))
}

/// A checker's role must grant the scope the held request needs: approving a freeze is for someone
/// who may freeze.
async fn check_role_grants(state: &AppState, checker: &AuthenticatedStaff, id: ApprovalId) -> Result<(), ApiError> {
    let approval = state.staff.approval(id).await.map_err(ApiError::from)?;
    let role = checker.signed_in.as_ref().map(|s| s.account.role).ok_or_else(|| {
        ApiError::new(code::STAFF_SESSION_REQUIRED, "an approval is decided by a staff member signed in")
    })?;
    let scope = required_scope(&approval.method, &approval.route);
    if let Some(area) = crate::scopes::staff_area(&approval.route).filter(|area| !role.reaches(*area)) {
        return Err(ApiError::new(
            code::SCOPE_MISSING,
            format!(
                "the role {} does not reach the {} area, which the request to approve is of",
                role.as_str(),
                area.as_str()
            ),
        ));
    }
    if role.scopes().contains(scope) {
        Ok(())
    } else {
        Err(ApiError::new(
            code::SCOPE_MISSING,
            format!("the role {} does not grant {scope}, which the request to approve needs", role.as_str()),
        ))
    }
}

/// Applies an approved request through the API, as its maker's, and returns its answer's status and
/// body. An answer that decides nothing yet (the request is still running elsewhere, or the server
/// failed) leaves the approval `applying`, for a later approval to finish.
async fn apply(state: &AppState, approval: &Approval) -> Result<(u16, String), ApiError> {
    let method = Method::from_bytes(approval.method.as_bytes()).map_err(|_| {
        ApiError::internal(anyhow::anyhow!("approval {} holds the method {}", approval.id, approval.method))
    })?;
    let mut request = Request::builder()
        .method(method)
        .uri(approval.path.as_str())
        .header(header::CONTENT_TYPE, "application/json")
        .header(IDEMPOTENCY_KEY_HEADER, APPLY_KEY)
        .body(Body::from(approval.body.clone()))
        .map_err(|e| {
            ApiError::internal(anyhow::anyhow!("approval {} holds a request that cannot be built: {e}", approval.id))
        })?;
    request.extensions_mut().insert(ApprovedRequest {
        approval_id: approval.id,
        maker: approval.maker.clone(),
        checker: approval.checker.clone(),
    });
    let response = crate::router(state.clone()).oneshot(request).await.unwrap_or_else(|never| match never {});
    let status = response.status().as_u16();
    let body = to_bytes(response.into_body(), RESPONSE_BYTES_MAX)
        .await
        .map_err(|e| ApiError::internal(anyhow::anyhow!("the answer of approval {}: {e}", approval.id)))?;
    let body = String::from_utf8_lossy(&body).into_owned();
    let error_code = serde_json::from_str::<Value>(&body)
        .ok()
        .and_then(|answer| answer["error"]["code"].as_str().map(str::to_owned));
    match error_code.as_deref() {
        Some("idempotency_key_in_use") => Err(ApiError::new(
            code::APPROVAL_IN_PROGRESS,
            "the approved request is being applied right now; ask for the approval again shortly",
        )),
        Some(error_code) if status >= 500 => {
            let message = format!(
                "applying the approved request answered {error_code}; the approval stays applying: approve it again to \
                 finish"
            );
            match code_info(error_code) {
                Some(info) => Err(ApiError::new(*info, message)),
                None => Err(ApiError::internal(anyhow::anyhow!("{message}"))),
            }
        }
        _ if status >= 500 => {
            Err(ApiError::internal(anyhow::anyhow!("applying approval {} answered {status}", approval.id)))
        }
        _ => Ok((status, body)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_body_keeps_its_free_text_masked_and_the_objects_it_names_as_sent() {
        let body = Bytes::from_static(
            br#"{"freeze_number": "4111111111111111", "account_id": "acc_1", "amount": 100,
                "reason": "card 4111111111111111 of 110101199003071233"}"#,
        );
        let held: Value = serde_json::from_str(&held_body(&body).unwrap()).unwrap();
        assert_eq!(
            held,
            serde_json::json!({"freeze_number": "4111111111111111", "account_id": "acc_1", "amount": 100,
                               "reason": "card 411111******1111 of 110***********1233"})
        );
        assert_eq!(held_body(&Bytes::from_static(b"  ")).unwrap(), "");
        assert!(held_body(&Bytes::from_static(b"[1]")).is_err());
    }
}
