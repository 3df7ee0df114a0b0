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
//! | `admin.rs` | the back office's reads: API clients, staff accounts, the effective configuration |
//! | `roles.rs` | the roles' permission table, as docs/SECURITY.md shows it |

pub mod admin;
pub mod approvals;
pub mod roles;
pub mod sessions;

pub use crate::principal::{audit_actor, idempotency_principal, ApprovedRequest, AuthenticatedStaff};

use sanhu_core::id::ClientId;

/// The back office's client id: the space in which orders staff make are numbered. Reserved: no
/// generated id is this small (generated ids start with the time of their making).
pub const BACK_OFFICE_CLIENT: u128 = 1;

pub fn back_office_client() -> ClientId {
    ClientId::from_u128(BACK_OFFICE_CLIENT).expect("a non-zero id")
}

#[cfg(test)]
mod tests {
    use sanhu_core::staff::StaffError;
    use sanhu_service::staff::StaffFailure;

    use super::*;
    use crate::error::ApiError;

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
            let answer = ApiError::from(StaffFailure::Rejected(error));
            assert_eq!(answer.code(), error.code());
        }
        assert_eq!(back_office_client().to_string(), "cli_00000000000000000000000001");
    }

    /// Beyond the password hashes run at once: 429 `rate_limited`, retry after a second, as before the
    /// staff's failures converted like every other use case's.
    #[test]
    fn a_busy_hashing_is_answered_429_with_retry_after() {
        use axum::response::IntoResponse;
        let response = ApiError::from(StaffFailure::Busy).into_response();
        assert_eq!(response.status().as_u16(), 429);
        assert_eq!(response.headers()["retry-after"], "1");
        let contended = ApiError::from(StaffFailure::Contended);
        assert_eq!((contended.code(), contended.status().as_u16()), ("concurrent_change", 409));
    }
}
