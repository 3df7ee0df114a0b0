use super::account::Counters;
use crate::{AccountId, Amount, Timestamp, TransferId};

/// What a transfer request asks the ledger to do.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum TransferAction {
    /// Move `amount` at once. With `balancing`, move at most `amount`: as much as the debit account
    /// has available ("withdraw everything", deductions spread over several accounts).
    Post { debit_account_id: AccountId, credit_account_id: AccountId, amount: Amount, balancing: bool },
    /// Hold `amount` (a pending transfer), to be posted, voided, or expired after `timeout_s`.
    Hold {
        debit_account_id: AccountId,
        credit_account_id: AccountId,
        amount: Amount,
        balancing: bool,
        timeout_s: Option<u32>,
    },
    /// Post a hold: all of it, or `amount` of it, releasing the rest.
    PostPending { pending_id: TransferId, amount: Option<Amount> },
    /// Release a hold.
    VoidPending { pending_id: TransferId },
    /// Release a hold whose timeout has passed; only the expiry job asks for this.
    ExpirePending { pending_id: TransferId },
}

/// One transfer request, as parsed at the edge: every field is already valid on its own.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TransferRequest {
    pub id: TransferId,
    pub action: TransferAction,
    /// Linked with the next request of the same submission: the chain succeeds or fails as one.
    pub linked: bool,
    /// Business type, e.g. `recharge`, `pay`, `withdraw`; "" when unset.
    pub code: String,
    /// The caller's business reference (order number).
    pub reference: Option<String>,
    /// A JSON object as text; "{}" when unset.
    pub metadata: String,
}

/// What a stored transfer row is.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum TransferKind {
    Posted,
    Pending,
    PostPending,
    VoidPending,
    ExpirePending,
}

impl TransferKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Posted => "posted",
            TransferKind::Pending => "pending",
            TransferKind::PostPending => "post_pending",
            TransferKind::VoidPending => "void_pending",
            TransferKind::ExpirePending => "expire_pending",
        }
    }

    pub fn as_i16(self) -> i16 {
        match self {
            TransferKind::Posted => 0,
            TransferKind::Pending => 1,
            TransferKind::PostPending => 2,
            TransferKind::VoidPending => 3,
            TransferKind::ExpirePending => 4,
        }
    }

    pub fn from_i16(v: i16) -> Option<TransferKind> {
        Some(match v {
            0 => TransferKind::Posted,
            1 => TransferKind::Pending,
            2 => TransferKind::PostPending,
            3 => TransferKind::VoidPending,
            4 => TransferKind::ExpirePending,
            _ => return None,
        })
    }
}

/// A transfer as the ledger recorded it. It is also the entry of both its accounts: it carries each
/// account's counters after it, so statements and past balances need no recomputation, and there is
/// one row per transfer rather than two entry rows.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Transfer {
    pub id: TransferId,
    pub kind: TransferKind,
    pub debit_account_id: AccountId,
    pub credit_account_id: AccountId,
    /// Minor units moved (posted, held, posted from a hold, or released by a void/expiry).
    pub amount: i64,
    /// For post/void/expire: the hold it resolves.
    pub pending_id: Option<TransferId>,
    /// For holds: seconds until expiry, 0 for none.
    pub timeout_s: u32,
    pub linked: bool,
    pub balancing: bool,
    /// The amount the caller asked for: differs from `amount` for a balancing debit, and for a post
    /// or void that named no amount (then 0).
    pub requested_amount: i64,
    pub code: String,
    pub reference: Option<String>,
    pub metadata: String,
    pub timestamp: Timestamp,
    pub debit_account_after: Counters,
    pub credit_account_after: Counters,
}

impl Transfer {
    /// Whether `request` asks for exactly what this stored transfer is: then resubmitting it returns
    /// this transfer again; otherwise the id is taken (`exists_with_different_fields`).
    pub fn matches(&self, request: &TransferRequest) -> bool {
        let same_business = self.code == request.code
            && self.reference == request.reference
            && self.metadata == request.metadata
            && self.linked == request.linked;
        if !same_business {
            return false;
        }
        match request.action {
            TransferAction::Post { debit_account_id, credit_account_id, amount, balancing } => {
                self.kind == TransferKind::Posted
                    && self.debit_account_id == debit_account_id
                    && self.credit_account_id == credit_account_id
                    && self.requested_amount == amount.get()
                    && self.balancing == balancing
            }
            TransferAction::Hold { debit_account_id, credit_account_id, amount, balancing, timeout_s } => {
                self.kind == TransferKind::Pending
                    && self.debit_account_id == debit_account_id
                    && self.credit_account_id == credit_account_id
                    && self.requested_amount == amount.get()
                    && self.balancing == balancing
                    && self.timeout_s == timeout_s.unwrap_or(0)
            }
            TransferAction::PostPending { pending_id, amount } => {
                self.kind == TransferKind::PostPending
                    && self.pending_id == Some(pending_id)
                    && self.requested_amount == amount.map_or(0, Amount::get)
            }
            TransferAction::VoidPending { pending_id } => {
                self.kind == TransferKind::VoidPending && self.pending_id == Some(pending_id)
            }
            TransferAction::ExpirePending { pending_id } => {
                self.kind == TransferKind::ExpirePending && self.pending_id == Some(pending_id)
            }
        }
    }
}
