//! Who a request acts as, once the authentication layer has verified it: the API client that signed
//! it ([`AuthenticatedClient`]), what that client may do ([`ClientAccess`]) and the member it is bound
//! to, for handlers ([`Binding`]); or the staff member whose session it came with
//! ([`AuthenticatedStaff`]), or whose request is applied on approval ([`ApprovedRequest`]). A module of its own, depending on nothing of the crate but its
//! error type, so that the layers and the handlers share these without depending on each other.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::Extensions;
use sanhu_core::id::MemberId;
use sanhu_core::scope::Scopes;
use sanhu_core::staff::{ApprovalId, Username};
use sanhu_service::staff::SignedIn;
use sanhu_store::ApiClient;

use crate::error::ApiError;

/// A signed request's nonce, verified and not yet spent: the authentication layer leaves it on a POST
/// that carries an `Idempotency-Key`, so that the idempotency layer spends it in the same commit as
/// the key's claim (`sanhu_service::idempotency_claims::ClaimBook::begin_signed`), or alone when it
/// makes no claim. No handler runs while it is on the request: the access layer refuses one that
/// still carries it.
#[derive(Clone, Debug)]
pub(crate) struct UnspentNonce(pub(crate) sanhu_service::nonces::RequestNonce);

/// The answer to a request whose nonce its client used before.
pub(crate) fn replayed_nonce() -> ApiError {
    ApiError::new(crate::error::code::REPLAYED_NONCE, "this nonce was already used; sign each request with a new one")
}

/// The API client that signed the request, for the handlers and the idempotency layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthenticatedClient(pub String);

/// What the client that signed a request may do, as the authentication layer found it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ClientAccess {
    /// The client's scopes; a bound client's are only ever the bindable ones, whatever was stored.
    pub scopes: Scopes,
    /// The member the client is bound to.
    pub bound_to: Option<MemberId>,
}

impl ClientAccess {
    pub fn of(client: &ApiClient) -> ClientAccess {
        let scopes = match client.bound_to {
            Some(_) => client.scopes.and(Scopes::bindable()),
            None => client.scopes,
        };
        ClientAccess { scopes, bound_to: client.bound_to }
    }
}

/// The member a request's client is bound to, if any: for handlers that search every member's
/// objects ([`Reach::Filtered`]) and leave out what is not the bound member's.
pub struct Binding(pub Option<MemberId>);

impl<S: Send + Sync> FromRequestParts<S> for Binding {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Binding, ApiError> {
        match parts.extensions.get::<ClientAccess>() {
            Some(access) => Ok(Binding(access.bound_to)),
            None => Err(ApiError::internal(anyhow::anyhow!("a handler asked for the binding of an unsigned request"))),
        }
    }
}

/// The staff member a request is from, for the handlers and the layers after authentication.
#[derive(Clone, Debug)]
pub struct AuthenticatedStaff {
    pub username: Username,
    /// The session it came with; None for a request applied on approval (it is the maker's request,
    /// applied when another staff member approved it).
    pub signed_in: Option<SignedIn>,
}

/// The actor the audit log records for a request: `staff:<username>` for staff, None otherwise.
pub fn audit_actor(extensions: &Extensions) -> Option<String> {
    extensions.get::<AuthenticatedStaff>().map(|staff| format!("staff:{}", staff.username))
}

/// Whose idempotency keys a staff request's key is among: the staff member's own; a request applied
/// on approval, its approval's, which no caller can send a key in.
pub fn idempotency_principal(extensions: &Extensions) -> Option<String> {
    if let Some(approved) = extensions.get::<ApprovedRequest>() {
        return Some(format!("approval:{}", approved.approval_id));
    }
    extensions.get::<AuthenticatedStaff>().map(|staff| format!("staff:{}", staff.username))
}

/// Marks a request being applied on approval: the authentication layer takes it as the maker's, and
/// the approval layer lets it through. Only this module makes one; no caller can send it.
#[derive(Clone, Debug)]
pub struct ApprovedRequest {
    pub approval_id: ApprovalId,
    pub maker: Username,
    /// The staff member who approved it.
    pub checker: Option<Username>,
}
