//! Operators enforced (操作员) on money requests from an enterprise member's wallet: payments,
//! deposits, withdrawals and member transfers may name the operator who makes them (`operator_id`),
//! and must where the platform requires it for enterprise members (`WalletConfig::operators_required`,
//! `operator_required` otherwise). The named operator must be one of the paying member's (any other id
//! is `operator_not_found`, as if absent), active, granted the operation (pay, withdraw, transfer) on
//! every account the money is taken from by a role that allows it (`operator_not_authorised`), and
//! within its limits: per transaction and per platform day (the time zone of core's `time.rs`), both
//! `operator_limit_exceeded` with the limit named in the message.
//!
//! What the operator moved on a platform day is a counter (`operator_spend:opr_…:day:N:CNY`) added to
//! in the request's own write, the write that records the order, with the limit per day as the
//! counter's bound: two requests at once cannot both fit under the limit (the second's write is
//! refused and it is decided again on the new total), and a request refused before that write counts
//! nothing. The amount counted is kept on the order ([`OperatorUse`]); an order that then does not
//! happen (the ledger refused it, a withdrawal rejected or its payout failed, an authorisation
//! released) gives it back in the write that says so. A refund does not: the operator did pay.
//!
//! The operator is recorded on the order and shown with it, and in the member's flow: the order's
//! transfers carry it in their metadata.

use sanhu_core::id::OperatorId;
use sanhu_core::party::operator::OperatorError;
use sanhu_core::party::{Member, Operation, OperatorRequest, PartyKind};
use sanhu_core::wallet::{TransferMeta, Wallet};
use sanhu_core::{AccountId, Amount};
use serde::{Deserialize, Serialize};

use super::chain::id_text;
use super::Wallets;
use crate::party::error::OPERATOR_NOT_FOUND;
use crate::party::work::Work;
use crate::party::{PartyError, Rejection};
use crate::wallet::WalletFailure;

pub const OPERATOR_REQUIRED: Rejection = Rejection {
    code: "operator_required",
    status: 422,
    message: "the platform requires an enterprise member's money requests to name the operator (operator_id)",
};
pub const OPERATOR_LIMIT_PER_TRANSACTION: Rejection = Rejection {
    code: "operator_limit_exceeded",
    status: 422,
    message: "the amount exceeds the operator's limit per transaction (per_transaction)",
};
pub const OPERATOR_LIMIT_PER_DAY: Rejection = Rejection {
    code: "operator_limit_exceeded",
    status: 422,
    message: "the amount would take what the operator moved today past its limit per day (per_day)",
};

/// The operator who made an order, and what of the order still counts towards its day.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OperatorUse {
    #[serde(with = "id_text")]
    pub operator_id: OperatorId,
    /// The counter of the operator's platform day the amount counts in.
    key: String,
    /// What still counts (0 once given back).
    amount: i64,
}

impl Wallets {
    /// Checks the operator a money request names (or that none is named where none is required)
    /// and counts `amount` towards its day, in `work`: the request's own write. `accounts` are the
    /// accounts the money is taken from, on each of which the operator must be granted `operation`.
    pub(super) async fn operator_acts(
        &self,
        work: &mut Work,
        member: &Member,
        operator: Option<OperatorId>,
        operation: Operation,
        amount: i64,
        accounts: &[AccountId],
    ) -> Result<Option<OperatorUse>, WalletFailure> {
        let Some(operator_id) = operator else {
            if self.config.operators_required && member.kind() == PartyKind::Enterprise {
                return Err(WalletFailure::Rejected(OPERATOR_REQUIRED));
            }
            return Ok(None);
        };
        let stored = match crate::party::operators::load_operator(work, operator_id).await {
            Ok(stored) if stored.operator.member() == member.id() => stored,
            Ok(_) | Err(PartyError::NotFound(_)) => return Err(WalletFailure::NotFound(OPERATOR_NOT_FOUND)),
            Err(other) => return Err(other.into()),
        };
        let currency = self.config.currency;
        // Nothing leaves the wallet (a split payment of an empty wallet): nothing to authorise.
        let Some(moved) = Amount::new(amount) else {
            return Ok(Some(OperatorUse { operator_id, key: String::new(), amount: 0 }));
        };
        let request = match operation {
            Operation::View | Operation::Pay => OperatorRequest::Pay(moved),
            Operation::Transfer => OperatorRequest::Transfer(moved),
            Operation::Withdraw => OperatorRequest::Withdraw(moved),
        };
        let day = self.parties.config().calendar.day(work.now);
        let key = format!("operator_spend:{operator_id}:day:{}:{}", day.0, currency.code());
        let spent = work.counter(&key).await?;
        for account in accounts {
            stored.operator.authorise(*account, currency, request, spent).map_err(refusal)?;
        }
        let per_day = stored.operator.limits().and_then(|l| l.per_day()).map(Amount::get);
        work.add_to_counter(&key, amount, per_day);
        Ok(Some(OperatorUse { operator_id, key, amount }))
    }
}

impl Wallets {
    /// What of `wallet` a money request may take from: all of it when no operator is named; with an
    /// operator, only the accounts it is granted `operation` on by a role that allows it, in the
    /// wallet's deduction order. An enterprise's other accounts (a bonus received, a subsidy) are
    /// not drawn by an operator who was not granted them; an operator granted none of the wallet's
    /// accounts is refused `operator_not_authorised` (a disabled or removed one by its status), and
    /// granted ones that do not hold enough are `insufficient_funds`.
    pub(super) async fn operator_wallet(
        &self,
        work: &mut Work,
        member: &Member,
        operator: Option<OperatorId>,
        operation: Operation,
        wallet: Wallet,
    ) -> Result<Wallet, WalletFailure> {
        let Some(operator_id) = operator else { return Ok(wallet) };
        let stored = match crate::party::operators::load_operator(work, operator_id).await {
            Ok(stored) if stored.operator.member() == member.id() => stored,
            Ok(_) | Err(PartyError::NotFound(_)) => return Err(WalletFailure::NotFound(OPERATOR_NOT_FOUND)),
            Err(other) => return Err(other.into()),
        };
        stored.operator.check_acts().map_err(refusal)?;
        let operation = if operation == Operation::View { Operation::Pay } else { operation };
        let granted = wallet.only(|account| stored.operator.may(account, operation));
        if granted.accounts().is_empty() {
            return Err(refusal(OperatorError::OperatorNotAuthorised));
        }
        Ok(granted)
    }
}

/// Gives back what an order that did not happen counted towards its operator's day, in the write
/// that records it did not happen.
pub(super) fn give_back(work: &mut Work, used: &mut Option<OperatorUse>) {
    if let Some(used) = used.as_mut().filter(|u| u.amount > 0) {
        work.add_to_counter(&used.key, -used.amount, None);
        used.amount = 0;
    }
}

/// `meta` carrying the operator who made the order in its metadata (`{"operator_id": "opr_…"}`), so
/// that the member's flow shows it on the order's transfers.
pub(super) fn meta(meta: TransferMeta, used: &Option<OperatorUse>) -> TransferMeta {
    match used {
        Some(used) => TransferMeta {
            metadata: serde_json::json!({ "operator_id": used.operator_id.to_string() }).to_string(),
            ..meta
        },
        None => meta,
    }
}

/// The operator named in a transfer's metadata, for the flow.
pub(super) fn in_metadata(metadata: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(metadata).ok()?;
    value.get("operator_id")?.as_str().map(str::to_owned)
}

/// The operator of an order, if one made it.
pub fn operator_of(used: &Option<OperatorUse>) -> Option<OperatorId> {
    used.as_ref().map(|u| u.operator_id)
}

fn refusal(error: OperatorError) -> WalletFailure {
    match error {
        OperatorError::LimitPerTransaction => WalletFailure::Rejected(OPERATOR_LIMIT_PER_TRANSACTION),
        OperatorError::LimitPerDay => WalletFailure::Rejected(OPERATOR_LIMIT_PER_DAY),
        other => WalletFailure::Rejected(Rejection::of(other)),
    }
}
