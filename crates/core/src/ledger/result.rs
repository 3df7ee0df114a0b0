use std::fmt;

/// Why a transfer was not applied. Each has a stable snake_case code, part of the API contract and
/// listed in the OpenAPI document: never rename one.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TransferError {
    /// The id was already used by a transfer with different fields.
    ExistsWithDifferentFields,
    /// The id appears twice in one submission.
    DuplicateIdInBatch,
    AccountNotFound,
    SameAccount,
    CurrencyMismatch,
    AccountClosed,
    DebitsBlocked,
    CreditsBlocked,
    InsufficientFunds,
    Overflow,
    PendingNotFound,
    PendingAlreadyPosted,
    PendingAlreadyVoided,
    PendingExpired,
    AmountExceedsPending,
    /// Another transfer of the same linked chain failed, so this one was not applied.
    LinkedEventFailed,
    /// The last transfer of a submission is marked linked: its chain never closes.
    LinkedEventChainOpen,
}

impl TransferError {
    pub const ALL: [TransferError; 17] = [
        TransferError::ExistsWithDifferentFields,
        TransferError::DuplicateIdInBatch,
        TransferError::AccountNotFound,
        TransferError::SameAccount,
        TransferError::CurrencyMismatch,
        TransferError::AccountClosed,
        TransferError::DebitsBlocked,
        TransferError::CreditsBlocked,
        TransferError::InsufficientFunds,
        TransferError::Overflow,
        TransferError::PendingNotFound,
        TransferError::PendingAlreadyPosted,
        TransferError::PendingAlreadyVoided,
        TransferError::PendingExpired,
        TransferError::AmountExceedsPending,
        TransferError::LinkedEventFailed,
        TransferError::LinkedEventChainOpen,
    ];

    pub fn code(self) -> &'static str {
        use TransferError::*;
        match self {
            ExistsWithDifferentFields => "exists_with_different_fields",
            DuplicateIdInBatch => "duplicate_id_in_batch",
            AccountNotFound => "account_not_found",
            SameAccount => "same_account",
            CurrencyMismatch => "currency_mismatch",
            AccountClosed => "account_closed",
            DebitsBlocked => "debits_blocked",
            CreditsBlocked => "credits_blocked",
            InsufficientFunds => "insufficient_funds",
            Overflow => "overflow",
            PendingNotFound => "pending_not_found",
            PendingAlreadyPosted => "pending_already_posted",
            PendingAlreadyVoided => "pending_already_voided",
            PendingExpired => "pending_expired",
            AmountExceedsPending => "amount_exceeds_pending",
            LinkedEventFailed => "linked_event_failed",
            LinkedEventChainOpen => "linked_event_chain_open",
        }
    }

    /// The HTTP status the API answers this result with: an absent account or hold is 404, a
    /// conflict with what exists (an id reused with other fields, a closed account) 409, the rest 422.
    pub fn status(self) -> u16 {
        use TransferError::*;
        match self {
            AccountNotFound | PendingNotFound => 404,
            ExistsWithDifferentFields | AccountClosed => 409,
            _ => 422,
        }
    }

    pub fn message(self) -> &'static str {
        use TransferError::*;
        match self {
            ExistsWithDifferentFields => "a transfer with this id exists with different fields",
            DuplicateIdInBatch => "this transfer id appears more than once in the request",
            AccountNotFound => "the debit or credit account does not exist",
            SameAccount => "the debit and credit accounts are the same",
            CurrencyMismatch => "the two accounts hold different currencies",
            AccountClosed => "the debit or credit account is closed",
            DebitsBlocked => "the debit account has debits blocked",
            CreditsBlocked => "the credit account has credits blocked",
            InsufficientFunds => "the debit account's available balance does not cover the amount",
            Overflow => "the transfer would overflow an account counter",
            PendingNotFound => "no pending transfer has this id",
            PendingAlreadyPosted => "the pending transfer was already posted",
            PendingAlreadyVoided => "the pending transfer was already voided",
            PendingExpired => "the pending transfer has expired",
            AmountExceedsPending => "the amount exceeds the pending amount",
            LinkedEventFailed => "another transfer in the linked chain failed",
            LinkedEventChainOpen => "the last transfer of the request is marked linked",
        }
    }
}

impl fmt::Display for TransferError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Why an account cannot be closed.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AccountCloseError {
    AlreadyClosed,
    HasPending,
    NotEmpty,
}

impl AccountCloseError {
    pub fn code(self) -> &'static str {
        match self {
            AccountCloseError::AlreadyClosed => "account_closed",
            AccountCloseError::HasPending => "account_has_pending",
            AccountCloseError::NotEmpty => "account_not_empty",
        }
    }

    /// Each is a conflict with the account's state: 409.
    pub fn status(self) -> u16 {
        409
    }

    pub fn message(self) -> &'static str {
        match self {
            AccountCloseError::AlreadyClosed => "the account is closed",
            AccountCloseError::HasPending => "the account has pending transfers; post or void them first",
            AccountCloseError::NotEmpty => "the account's balance is not zero",
        }
    }
}

impl crate::Refusal for TransferError {
    fn code(self) -> &'static str {
        TransferError::code(self)
    }
    fn status(self) -> u16 {
        TransferError::status(self)
    }
    fn message(self) -> &'static str {
        TransferError::message(self)
    }
}

impl crate::Refusal for AccountCloseError {
    fn code(self) -> &'static str {
        AccountCloseError::code(self)
    }
    fn status(self) -> u16 {
        AccountCloseError::status(self)
    }
    fn message(self) -> &'static str {
        AccountCloseError::message(self)
    }
}
