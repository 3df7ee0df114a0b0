//! Staff in the API: the platform's own people, signed in with a username and password, as a second
//! way to authenticate beside API clients' signatures.
//!
//! A request under `/v1` that carries no signature header and the staff session cookie is the staff
//! member's ([`sessions::authenticate`], called from [`crate::authentication`]): the session must be
//! valid, and a POST must carry the session's CSRF token in `X-CSRF-Token`. The staff member's role is
//! a set of scopes ([`sanhu_core::staff::StaffRole::scopes`]), which the access layer checks like an
//! API client's ([`crate::access`], [`crate::scopes`]); staff are never bound to a member. Handlers then
//! see the actor `Actor::Staff(username)`, the audit log records `staff:<username>`, and idempotency
//! keys are the staff member's own.
//!
//! Orders a staff member makes (a freeze, an adjustment) are numbered in the back office's own space,
//! [`BACK_OFFICE_CLIENT`], shared by all staff: one staff member can read and approve what another
//! made, and no API client's numbers collide with theirs.
//!
//! Some requests need a second staff member ([`approvals::approval_routes`]): made by staff, they
//! are recorded as approvals and answered 202; another staff member approves (and the request is
//! applied then, as the maker's) or rejects them.
//!
//! | file | what |
//! |---|---|
//! | `sessions.rs` | the session cookie and CSRF check; sign in, the current session, sign out |
//! | `approvals.rs` | maker-checker: the layer that holds requests, and the approvals' endpoints |
//! | `roles.rs` | the roles' permission table, as docs/SECURITY.md shows it |

pub mod approvals;
pub mod roles;
pub mod sessions;

use axum::http::Extensions;
use sanhu_core::id::ClientId;
use sanhu_core::staff::Username;
use sanhu_service::party::Rejection;
use sanhu_service::staff::{SignedIn, StaffFailure};

use crate::error::{code, ApiError};

/// The back office's client id: the space in which orders staff make are numbered. Reserved: no
/// generated id is this small (generated ids start with the time of their making).
pub const BACK_OFFICE_CLIENT: u128 = 1;

pub fn back_office_client() -> ClientId {
    ClientId::from_u128(BACK_OFFICE_CLIENT).expect("a non-zero id")
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
    if let Some(approved) = extensions.get::<approvals::ApprovedRequest>() {
        return Some(format!("approval:{}", approved.approval_id));
    }
    extensions.get::<AuthenticatedStaff>().map(|staff| format!("staff:{}", staff.username))
}

/// A staff use case's refusal as the API answers it.
pub fn staff_error(failure: StaffFailure) -> ApiError {
    match failure {
        StaffFailure::Rejected(error) => ApiError::refused(Rejection::of(error)),
        StaffFailure::Contended => ApiError::contended(),
        StaffFailure::Busy => ApiError::new(code::RATE_LIMITED, StaffFailure::Busy.to_string()).with_retry_after(1),
        StaffFailure::Internal(error) => ApiError::from(error),
    }
}

#[cfg(test)]
mod tests {
    use sanhu_core::staff::StaffError;

    use super::*;

    /// The refusals the API can answer with (the others are `sanhu staff`'s) are registered, each
    /// with its own code.
    #[test]
    fn every_staff_refusal_the_api_answers_is_registered() {
        use StaffError::*;
        let answered = [
            InvalidCredentials,
            StaffLocked,
            StaffDisabled,
            StaffSessionInvalid,
            StaffSessionExpired,
            ApprovalNotFound,
            ApprovalSameStaffMember,
            ApprovalDecided,
        ];
        for error in answered {
            let answer = staff_error(StaffFailure::Rejected(error));
            assert_eq!(answer.code(), error.code());
        }
        assert_eq!(back_office_client().to_string(), "cli_00000000000000000000000001");
    }
}
