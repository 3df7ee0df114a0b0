//! Staff sessions: signing in (`POST /v1/staff/sessions`, the one endpoint under `/v1` that needs no
//! credential), the session cookie and CSRF check every staff request passes, the current session,
//! and signing out.
//!
//! The session token travels only in a cookie the browser keeps from scripts (`HttpOnly`), sends only
//! to sanhu's own pages (`SameSite=Strict`), to the API and the console, and, where sanhu is served over
//! HTTPS (`staff_cookie_secure`), only over HTTPS (`Secure`). The CSRF token is answered in the
//! sign-in's body, for the console to keep in memory and send in `X-CSRF-Token` with every POST: a
//! page on another site can make the browser send the cookie, but cannot read the token.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use sanhu_core::scope::Scopes;
use sanhu_core::staff::{StaffRole, StaffStatus, Username};
use sanhu_core::Timestamp;
use sanhu_service::audit::RequestRecord;
use sanhu_service::clock;
use sanhu_service::staff::{NewSession, SignedIn, StaffFailure};
use sanhu_store::staff::StaffAccount;
use serde::{Deserialize, Serialize};
use serde_json::json;

use crate::audit;
use crate::body::read_limited;
use crate::error::{code, ApiError};
use crate::json::parse_body;
use crate::principal::ClientAccess;
use crate::principal::{ApprovedRequest, AuthenticatedStaff};
use crate::request_id::{self, RequestContext};
use crate::signature::{CLIENT_HEADER, NONCE_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER};
use crate::state::AppState;

/// The cookie that carries the session token.
pub const SESSION_COOKIE: &str = "sanhu_staff_session";
/// The header that carries the session's CSRF token on every POST.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// The cookie's path: the whole site, so that the browser sends it to the API (`/v1`) and to the
/// operations console (`/console`), whose pages call the API with it.
const COOKIE_PATH: &str = "/";
/// The sign-in's route, which needs no credential.
pub const SIGN_IN_ROUTE: &str = "/v1/staff/sessions";
/// The routes of a staff member's own session, which need no scope: signing in, and every signed-in
/// staff member, whatever their role, may see and end their session.
pub const SESSION_ROUTES: &[&str] = &[SIGN_IN_ROUTE, "/v1/staff/sessions/current", "/v1/staff/sessions/current/logout"];
/// Largest sign-in body: a username and a password fit many times over.
const SIGN_IN_BODY_BYTES_MAX: usize = 4 * 1024;

/// Whether the authentication layer should take `request` as a staff member's: a request applied on
/// approval, or one that carries the session cookie and no signature header at all.
pub fn is_staff_request(request: &Request) -> bool {
    let headers = request.headers();
    let signed =
        [CLIENT_HEADER, TIMESTAMP_HEADER, NONCE_HEADER, SIGNATURE_HEADER].iter().any(|h| headers.contains_key(*h));
    request.extensions().get::<ApprovedRequest>().is_some() || (!signed && session_token(headers).is_some())
}

/// The session cookie's value, from any `Cookie` header.
fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == SESSION_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
}

/// The staff half of the authentication layer: the session, and its CSRF token on a POST; then the
/// body within its limit, and for the layers after it the staff member and what their role may do
/// (the access layer checks the endpoint's scope against it, as for an API client).
pub async fn authenticate(state: &AppState, request: Request, next: Next) -> Result<Response, ApiError> {
    let (parts, body) = request.into_parts();
    if let Some(approved) = parts.extensions.get::<ApprovedRequest>().cloned() {
        // Applied as the maker's request, with what the maker's role grants now: a maker disabled or
        // given a narrower role since is refused, and the approval records that.
        let (scopes, role) = match state.staff.account(&approved.maker).await {
            Ok(account) if account.status == StaffStatus::Active => (account.role.scopes(), Some(account.role)),
            Ok(_) | Err(StaffFailure::Rejected(_)) => (Scopes::none(), None),
            Err(failure) => return Err(ApiError::from(failure)),
        };
        let staff = AuthenticatedStaff { username: approved.maker, signed_in: None };
        return Ok(run_as(staff, scopes, role, parts, body, next).await);
    }

    let token = session_token(&parts.headers).unwrap_or_default();
    let signed_in = state.staff.session(&token, clock::now()).await.map_err(ApiError::from)?;
    if parts.method == Method::POST {
        check_csrf(&parts.headers, &signed_in)?;
    }
    let body = read_limited(&parts.headers, body, state.config.body_bytes_max).await?;
    let scopes = signed_in.account.role.scopes();
    let role = Some(signed_in.account.role);
    let staff = AuthenticatedStaff { username: signed_in.account.username.clone(), signed_in: Some(signed_in) };
    Ok(run_as(staff, scopes, role, parts, Body::from(body), next).await)
}

/// Runs the request as the staff member: their scopes (and role, for the areas a role reaches, which
/// the access layer checks) in place of a client's.
async fn run_as(
    staff: AuthenticatedStaff,
    scopes: Scopes,
    role: Option<StaffRole>,
    mut parts: Parts,
    body: Body,
    next: Next,
) -> Response {
    if let Some(role) = role {
        parts.extensions.insert(role);
    }
    if let Some(context) = parts.extensions.get::<Arc<RequestContext>>() {
        context.set_client_id(&format!("staff:{}", staff.username));
    }
    // Staff act for the platform: never bound to one member.
    parts.extensions.insert(ClientAccess { scopes, bound_to: None });
    parts.extensions.insert(staff);
    next.run(Request::from_parts(parts, body)).await
}

fn check_csrf(headers: &HeaderMap, signed_in: &SignedIn) -> Result<(), ApiError> {
    let Some(value) = headers.get(CSRF_HEADER) else {
        return Err(ApiError::new(
            code::CSRF_TOKEN_MISSING,
            "a staff session's POST carries the session's CSRF token in the X-CSRF-Token header",
        ));
    };
    match value.to_str() {
        Ok(submitted) if signed_in.csrf_matches(submitted) => Ok(()),
        _ => Err(ApiError::new(code::CSRF_TOKEN_INVALID, "X-CSRF-Token is not this session's CSRF token")),
    }
}

/// The staff member a handler runs for; an API client is refused `staff_session_required`.
pub struct StaffCaller(pub AuthenticatedStaff);

impl<S: Send + Sync> FromRequestParts<S> for StaffCaller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<StaffCaller, ApiError> {
        match parts.extensions.get::<AuthenticatedStaff>() {
            Some(staff) => Ok(StaffCaller(staff.clone())),
            None => Err(ApiError::new(
                code::STAFF_SESSION_REQUIRED,
                "this endpoint is for staff members signed in; an API client cannot use it",
            )),
        }
    }
}

/// A staff session as the API shows it.
#[derive(Serialize, Debug, utoipa::ToSchema)]
#[schema(as = StaffSession)]
pub struct StaffSessionView {
    #[schema(value_type = sanhu_core::staff::Username, inline)]
    pub username: String,
    /// super_admin, finance, operations, customer_service, auditor or marketing.
    #[schema(value_type = sanhu_core::staff::StaffRole, inline)]
    pub role: &'static str,
    /// What the role may do.
    #[schema(value_type = Vec<sanhu_core::scope::Scope>, inline)]
    pub scopes: Vec<&'static str>,
    /// Send it in `X-CSRF-Token` with every POST. Answered once, at sign-in; kept by sanhu only as a
    /// hash.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, pattern = "^[0-9a-f]{64}$")]
    pub csrf_token: Option<String>,
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    pub signed_in_at: String,
    /// When the session ends if it is not used again (at the latest, `absolute_timeout_s` after
    /// sign-in).
    #[schema(value_type = sanhu_core::Timestamp, inline)]
    pub expires_at: String,
    pub idle_timeout_s: u32,
    pub absolute_timeout_s: u32,
}

impl StaffSessionView {
    fn of(state: &AppState, account: &StaffAccount, signed_in_at: Timestamp, expires_at: Timestamp) -> Self {
        let policy = state.staff.config().session;
        StaffSessionView {
            username: account.username.to_string(),
            role: account.role.as_str(),
            scopes: account.role.scopes().iter().map(|scope| scope.as_str()).collect(),
            csrf_token: None,
            signed_in_at: signed_in_at.to_string(),
            expires_at: expires_at.to_string(),
            idle_timeout_s: policy.idle_s(),
            absolute_timeout_s: policy.absolute_s(),
        }
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = StaffSignInRequest)]
struct SignInBody {
    /// Read in either case.
    #[schema(min_length = 1, max_length = 256)]
    username: String,
    #[schema(min_length = 1, max_length = 1024)]
    password: String,
}

/// POST /v1/staff/sessions: signs a staff member in. Answers the session with its CSRF token and
/// sets the session cookie. Every attempt with a well-formed username is an audit event (never with
/// the password), whatever its answer.
#[utoipa::path(
    post,
    path = "/v1/staff/sessions",
    tag = "staff",
    operation_id = "signInStaff",
    summary = "Sign a staff member in",
    description = "Checks the username and password (Argon2id) and opens a session: the answer sets the session cookie and carries the CSRF token. A wrong username, a wrong password and a locked account get the same answer (`invalid_credentials`), after the same work; `lockout_failures` wrong ones in a row lock the account for `lockout_s`, during which even the right password is answered `invalid_credentials`. Sign-ins from one address beyond `sign_ins_per_address_per_min`, or beyond the password hashes the server runs at once and their queue, are answered 429 `rate_limited` with Retry-After, and change nothing (no failure counted, no audit event). Every attempt with a well-formed username is an audit event with actor `staff:<username>` and never the password. Needs no credential.",
    request_body = SignInBody,
    responses(
        (status = 201, description = "Signed in: the session, with its CSRF token.", body = StaffSessionView)
    )
)]
pub async fn sign_in(State(state): State<AppState>, request: Request) -> Result<Response, ApiError> {
    let source = audit::source_address(&request, state.config.trusted_proxy_header.as_deref());
    // Limited per address before anything is read or hashed; a refused attempt is not recorded (it
    // changed nothing, and recording it would let a flood write to the database).
    if let Err(wait) = state.sign_in_limits.admit(&address_key(source.as_deref())) {
        let retry_after_s = crate::rate_limit::retry_after_s(wait);
        return Err(ApiError::new(
            code::RATE_LIMITED,
            format!("too many sign-ins from this address; retry in {retry_after_s} s"),
        )
        .with_retry_after(retry_after_s));
    }
    let (parts, body) = request.into_parts();
    let body = read_limited(&parts.headers, body, SIGN_IN_BODY_BYTES_MAX).await?;
    let body: SignInBody = parse_body(&body)?;
    let now = clock::now();
    let outcome = state.staff.sign_in(&body.username, &body.password, now).await;
    // Refused beyond the hashes run at once: nothing was checked or changed, and, as with the limit
    // per address, no event is recorded, so that a flood writes nothing to the database.
    if let Err(StaffFailure::Busy) = outcome {
        return Err(ApiError::from(StaffFailure::Busy));
    }
    let outcome = outcome.map_err(ApiError::from);
    if let Ok(username) = Username::parse(&body.username) {
        let (status, error_code) = match &outcome {
            Ok(_) => (StatusCode::CREATED.as_u16(), None),
            Err(error) => (error.status().as_u16(), Some(error.code().to_owned())),
        };
        let record = RequestRecord {
            at: now,
            actor: format!("staff:{username}"),
            request_id: request_id::current(),
            source,
            method: Method::POST.to_string(),
            route: SIGN_IN_ROUTE.to_owned(),
            target_ids: Vec::new(),
            status,
            error_code,
            request: Some(json!({ "username": username.as_str() })),
            unreadable_body_bytes: None,
        };
        if let Err(error) = state.audit.record(record).await {
            // The new session's token is never shown, so it cannot be used: it is as if not made.
            tracing::error!(error = %error, "a staff sign-in's audit event could not be written; the answer is withheld");
            return Ok(audit::audit_unavailable());
        }
    }
    let NewSession { token, csrf_token, account, expires_at } = outcome?;
    tracing::info!(staff.username = %account.username, "staff signed in");
    let view =
        StaffSessionView { csrf_token: Some(csrf_token), ..StaffSessionView::of(&state, &account, now, expires_at) };
    let max_age_s = state.staff.config().session.absolute_s();
    let cookie = cookie(&state, &token, max_age_s)?;
    Ok((StatusCode::CREATED, [(header::SET_COOKIE, cookie)], Json(view)).into_response())
}

/// The sign-in limit's key for a source address: an IPv4 address, or an IPv6 address's /64 (one
/// host is usually given a whole /64); no address (no peer known) is one key of its own.
fn address_key(source: Option<&str>) -> String {
    match source.and_then(|text| text.parse::<std::net::IpAddr>().ok()) {
        Some(std::net::IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(ip) => ip.to_string(),
        None => String::new(),
    }
}

/// GET /v1/staff/sessions/current: who is signed in, with what role, until when.
#[utoipa::path(
    get,
    path = "/v1/staff/sessions/current",
    tag = "staff",
    operation_id = "currentStaffSession",
    summary = "The current staff session",
    description = "Who is signed in, with what role and scopes, until when. For staff only (`staff_session_required`); every role may use it.",
    responses(
        (status = 200, description = "The session (without its CSRF token).", body = StaffSessionView)
    )
)]
pub async fn current_session(
    State(state): State<AppState>,
    StaffCaller(staff): StaffCaller,
) -> Result<Json<StaffSessionView>, ApiError> {
    let signed_in = signed_in(&staff)?;
    let view = StaffSessionView::of(&state, &signed_in.account, signed_in.session.created_at, signed_in.expires_at);
    Ok(Json(view))
}

/// POST /v1/staff/sessions/current/logout: ends the session and clears the cookie.
#[utoipa::path(
    post,
    path = "/v1/staff/sessions/current/logout",
    tag = "staff",
    operation_id = "signOutStaff",
    summary = "Sign out",
    description = "Ends the session and clears its cookie. For staff only (`staff_session_required`); every role may use it.",
    responses(
        (status = 204, description = "Signed out; the cookie is cleared.")
    )
)]
pub async fn sign_out(State(state): State<AppState>, StaffCaller(staff): StaffCaller) -> Result<Response, ApiError> {
    let signed_in = signed_in(&staff)?;
    state.staff.sign_out(&signed_in.session, clock::now()).await.map_err(ApiError::from)?;
    tracing::info!(staff.username = %staff.username, "staff signed out");
    let cookie = cookie(&state, "", 0)?;
    Ok((StatusCode::NO_CONTENT, [(header::SET_COOKIE, cookie)]).into_response())
}

fn signed_in(staff: &AuthenticatedStaff) -> Result<&SignedIn, ApiError> {
    staff.signed_in.as_ref().ok_or_else(|| {
        ApiError::new(code::STAFF_SESSION_REQUIRED, "a request applied on approval has no session of its own")
    })
}

/// The session cookie with `value`, kept `max_age_s` (0: removed).
fn cookie(state: &AppState, value: &str, max_age_s: u32) -> Result<HeaderValue, ApiError> {
    let secure = if state.config.staff_cookie_secure { "; Secure" } else { "" };
    let text =
        format!("{SESSION_COOKIE}={value}; Path={COOKIE_PATH}; Max-Age={max_age_s}; HttpOnly; SameSite=Strict{secure}");
    HeaderValue::from_str(&text).map_err(|e| ApiError::internal(anyhow::anyhow!("a session cookie: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_session_cookie_is_found_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(header::COOKIE, "theme=dark; sanhu_staff_session=abc ; lang=zh".parse().unwrap());
        assert_eq!(session_token(&headers).as_deref(), Some("abc"));
        let mut split = HeaderMap::new();
        split.append(header::COOKIE, "theme=dark".parse().unwrap());
        split.append(header::COOKIE, "sanhu_staff_session=def".parse().unwrap());
        assert_eq!(session_token(&split).as_deref(), Some("def"));
        let mut none = HeaderMap::new();
        none.append(header::COOKIE, "sanhu_staff_session_old=x; other=y".parse().unwrap());
        assert_eq!(session_token(&none), None);
    }

    #[test]
    fn a_signature_header_makes_it_a_client_request_whatever_the_cookies() {
        let request = |extra: Option<(&str, &str)>| {
            let mut builder = Request::builder().uri("/v1/members").header(header::COOKIE, "sanhu_staff_session=abc");
            if let Some((name, value)) = extra {
                builder = builder.header(name, value);
            }
            builder.body(Body::empty()).unwrap()
        };
        assert!(is_staff_request(&request(None)));
        assert!(!is_staff_request(&request(Some((CLIENT_HEADER, "cli_x")))));
        assert!(!is_staff_request(&request(Some((SIGNATURE_HEADER, "x")))));
        assert!(!is_staff_request(&Request::builder().uri("/v1/members").body(Body::empty()).unwrap()));
    }
}
