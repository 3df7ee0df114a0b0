//! What a use case answers when it does not succeed. Each capability's use cases return their own
//! enum ([`crate::party::PartyError`], [`crate::party::MerchantFailure`],
//! [`crate::wallet::WalletFailure`], [`crate::staff::StaffFailure`]), and each refusal inside one
//! knows its stable code and its HTTP status from where it is declared: a core rule's enum
//! (`Variant => "code", status, "message"`) or a service [`Rejection`] constant. A failure of the
//! store is kept whole, with its source chain, so that the edge can tell an
//! unavailable database (503) from a bug (500).

/// A rule's refusal: a stable code (part of the API contract), the HTTP status the API always answers
/// it with (declared here with the code, as core's rules declare theirs), and a sentence for people.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rejection {
    pub code: &'static str,
    pub status: u16,
    pub message: &'static str,
}

impl Rejection {
    /// A core rule's refusal, with its code, status and message.
    pub fn of<R: sanhu_core::Refusal>(refusal: R) -> Rejection {
        Rejection { code: refusal.code(), status: refusal.status(), message: refusal.message() }
    }
}

/// Other requests kept changing the same records for longer than a use case retries.
pub const CONCURRENT_CHANGE: Rejection = Rejection {
    code: "concurrent_change",
    status: 409,
    message: "other requests kept changing the same records; nothing changed, retry",
};

/// A use case's failure as the edge answers it, whatever the capability: each capability's failure
/// enum comes to one of these ([`UseCaseFailure::into_failure`]), so that the HTTP layer turns them
/// into responses in one place.
#[derive(Debug)]
pub enum Failure {
    /// A rule refused, or the named thing does not exist: the refusal's code, status and message.
    Refused(Rejection),
    /// Other requests kept changing the same records ([`CONCURRENT_CHANGE`]); nothing changed.
    Contended,
    /// The store failed, its source chain kept (an unavailable database is told from a bug by it).
    Internal(anyhow::Error),
}

/// What `transact!` needs of a use case's failure (a store error kept whole, and a contention), and
/// what the edge needs of it ([`Failure`]).
pub trait UseCaseFailure: From<anyhow::Error> {
    /// Other requests kept changing the same records; nothing changed.
    fn contended() -> Self;

    /// What the failure comes to at the edge.
    fn into_failure(self) -> Failure;
}

/// Declares a capability's failure enum: a refusal, an absence, a contention, a store failure.
macro_rules! use_case_failure {
    ($(#[$meta:meta])* pub enum $name:ident;) => {
        $(#[$meta])*
        #[derive(Debug)]
        pub enum $name {
            /// A rule refused; nothing changed.
            Rejected($crate::failure::Rejection),
            /// The named thing does not exist (`member_not_found`, `order_not_found`, ...).
            NotFound($crate::failure::Rejection),
            /// Other requests kept changing the same records; nothing changed, and a retry may succeed.
            Contended,
            /// The store failed; nothing changed (the write is one transaction). The error keeps its
            /// source chain, so that an unavailable database is told from a bug at the edge.
            Internal(anyhow::Error),
        }

        impl $name {
            /// The code of a rejection or absence, for tests and logs.
            pub fn code(&self) -> &'static str {
                match self {
                    $name::Rejected(r) | $name::NotFound(r) => r.code,
                    $name::Contended => $crate::failure::CONCURRENT_CHANGE.code,
                    $name::Internal(_) => "internal_error",
                }
            }

            /// The HTTP status of a rejection or absence, as it was declared; 409 for a
            /// contention; 500 for a failure of the store (the HTTP layer answers 503 when the
            /// database is unavailable, from the source chain).
            pub fn status(&self) -> u16 {
                match self {
                    $name::Rejected(r) | $name::NotFound(r) => r.status,
                    $name::Contended => $crate::failure::CONCURRENT_CHANGE.status,
                    $name::Internal(_) => 500,
                }
            }

            /// The refusal, if it is one (a rejection or an absence).
            pub fn rejection(&self) -> Option<$crate::failure::Rejection> {
                match self {
                    $name::Rejected(r) | $name::NotFound(r) => Some(*r),
                    _ => None,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                match self {
                    $name::Rejected(r) | $name::NotFound(r) => write!(f, "{}: {}", r.code, r.message),
                    $name::Contended => f.write_str($crate::failure::CONCURRENT_CHANGE.message),
                    $name::Internal(e) => write!(f, "{e:#}"),
                }
            }
        }

        impl std::error::Error for $name {
            /// A store failure's own error, so that its cause (an unavailable database) reaches
            /// the edge.
            fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
                match self {
                    $name::Internal(error) => Some(error.as_ref()),
                    _ => None,
                }
            }
        }

        impl From<anyhow::Error> for $name {
            fn from(error: anyhow::Error) -> Self {
                $name::Internal(error)
            }
        }

        impl $crate::failure::UseCaseFailure for $name {
            fn contended() -> Self {
                $name::Contended
            }

            fn into_failure(self) -> $crate::failure::Failure {
                match self {
                    $name::Rejected(r) | $name::NotFound(r) => $crate::failure::Failure::Refused(r),
                    $name::Contended => $crate::failure::Failure::Contended,
                    $name::Internal(error) => $crate::failure::Failure::Internal(error),
                }
            }
        }
    };
}
