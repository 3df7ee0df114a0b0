//! What a bill use case answers when it does not succeed: [`BillFailure`], with the bills' own
//! refusals below and the three-party model's on the way (a member or a customer that does not
//! exist).

use sanhu_core::bill::PeriodError;

use crate::party::{PartyError, Rejection};

use_case_failure! {
    /// Why a bill use case did not succeed.
    pub enum BillFailure;
}

impl From<PartyError> for BillFailure {
    fn from(error: PartyError) -> Self {
        match error {
            PartyError::Rejected(r) => BillFailure::Rejected(r),
            PartyError::NotFound(r) => BillFailure::NotFound(r),
            PartyError::Contended => BillFailure::Contended,
            PartyError::Internal(e) => BillFailure::Internal(e),
        }
    }
}

impl From<PeriodError> for BillFailure {
    fn from(error: PeriodError) -> Self {
        BillFailure::Rejected(match error {
            PeriodError::Invalid => BILL_PERIOD_INVALID,
            PeriodError::NotClosed => BILL_PERIOD_NOT_CLOSED,
        })
    }
}

pub const BILL_NOT_FOUND: Rejection = Rejection { code: "bill_not_found", status: 404, message: "no bill has this id" };
pub const BILL_PERIOD_INVALID: Rejection = Rejection {
    code: "bill_period_invalid",
    status: 422,
    message: "the period is neither a month YYYY-MM nor a range of whole days of the platform's time zone \
              (from and to each a midnight there, from before to, at most 367 days apart)",
};
pub const BILL_PERIOD_NOT_CLOSED: Rejection = Rejection {
    code: "bill_period_not_closed",
    status: 409,
    message: "the period has not closed yet: a bill is issued once its period has ended and the margin for \
              instances' clocks after it (`bill_period_closed_after_s`, 300 s unless configured) has passed",
};
pub const BILL_LIMIT_INVALID: Rejection =
    Rejection { code: "bill_limit_invalid", status: 422, message: "a page of bills or bill items holds 1 to 100" };
pub const BILL_CURSOR_INVALID: Rejection = Rejection {
    code: "bill_cursor_invalid",
    status: 422,
    message: "the cursor is not one a page of this list returned",
};
pub const BILL_TOO_LARGE: Rejection = Rejection {
    code: "bill_too_large",
    status: 422,
    message: "the member's accounts have more entries in the period than one bill holds; bill shorter ranges",
};

/// Every code a bill use case can refuse with, besides the three-party model's (`member_not_found`,
/// `customer_not_found`, in [`crate::party::rule_codes`]).
pub fn bill_codes() -> Vec<Rejection> {
    vec![
        BILL_NOT_FOUND,
        BILL_PERIOD_INVALID,
        BILL_PERIOD_NOT_CLOSED,
        BILL_LIMIT_INVALID,
        BILL_CURSOR_INVALID,
        BILL_TOO_LARGE,
    ]
}
