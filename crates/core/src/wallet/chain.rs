//! From a plan to the ledger: each wallet rule decides legs (from which account, to which, how much),
//! and this file turns them into transfer requests linked into one chain, so that the ledger applies
//! all of them or none (a payment over three accounts never takes from two).

use super::WalletError;
use crate::ledger::{TransferAction, TransferRequest, PENDING_TIMEOUT_S_MAX};
use crate::{AccountId, Amount, TransferId};

/// The business type a wallet transfer carries (the ledger's `code`), so that statements and bills can
/// tell a payment from a refund without reading metadata.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum BusinessType {
    Withdraw,
    WithdrawFee,
    Pay,
    Refund,
    MemberTransfer,
    Recharge,
    RechargeBonus,
    DebtRepayment,
    RechargeRefund,
    BonusClawback,
    /// A family card's payment: the owner's account to the family member's, on its way to the receiver.
    FamilyCard,
}

impl BusinessType {
    pub const ALL: [BusinessType; 11] = [
        BusinessType::Withdraw,
        BusinessType::WithdrawFee,
        BusinessType::Pay,
        BusinessType::Refund,
        BusinessType::MemberTransfer,
        BusinessType::Recharge,
        BusinessType::RechargeBonus,
        BusinessType::DebtRepayment,
        BusinessType::RechargeRefund,
        BusinessType::BonusClawback,
        BusinessType::FamilyCard,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            BusinessType::Withdraw => "withdraw",
            BusinessType::WithdrawFee => "withdraw_fee",
            BusinessType::Pay => "pay",
            BusinessType::Refund => "refund",
            BusinessType::MemberTransfer => "member_transfer",
            BusinessType::Recharge => "recharge",
            BusinessType::RechargeBonus => "recharge_bonus",
            BusinessType::DebtRepayment => "debt_repayment",
            BusinessType::RechargeRefund => "recharge_refund",
            BusinessType::BonusClawback => "bonus_clawback",
            BusinessType::FamilyCard => "family_card",
        }
    }
}

/// One movement of a plan: `amount` from `debit` to `credit`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Leg {
    pub debit: AccountId,
    pub credit: AccountId,
    pub amount: Amount,
    pub business: BusinessType,
}

/// Whether a plan's money moves at once or is held (冻结) to be captured or released later.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Settlement {
    Immediate,
    Hold { timeout_s: u32 },
}

impl Settlement {
    /// A hold that expires after `timeout_s`, within the ledger's bound (30 days). A hold without a
    /// timeout is not offered: money set aside for a payment nobody captures would stay frozen forever.
    pub fn hold(timeout_s: u32) -> Result<Settlement, WalletError> {
        if (1..=PENDING_TIMEOUT_S_MAX).contains(&timeout_s) {
            Ok(Settlement::Hold { timeout_s })
        } else {
            Err(WalletError::HoldTimeoutInvalid)
        }
    }
}

/// What every transfer of one business operation carries: the caller's reference (order number) and
/// metadata, already checked at the edge like any transfer's.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TransferMeta {
    pub reference: Option<String>,
    /// A JSON object as text; "{}" when unset.
    pub metadata: String,
}

impl TransferMeta {
    pub fn new(reference: Option<String>) -> TransferMeta {
        TransferMeta { reference, metadata: "{}".to_owned() }
    }
}

/// The legs as transfer requests, in order, each linked to the next but the last: one chain.
pub fn linked_chain(
    legs: &[Leg],
    settlement: Settlement,
    meta: &TransferMeta,
    next_id: &mut dyn FnMut() -> TransferId,
) -> Vec<TransferRequest> {
    let actions = legs.iter().map(|leg| {
        let action = match settlement {
            Settlement::Immediate => TransferAction::Post {
                debit_account_id: leg.debit,
                credit_account_id: leg.credit,
                amount: leg.amount,
                balancing: false,
            },
            Settlement::Hold { timeout_s } => TransferAction::Hold {
                debit_account_id: leg.debit,
                credit_account_id: leg.credit,
                amount: leg.amount,
                balancing: false,
                timeout_s: Some(timeout_s),
            },
        };
        (action, leg.business)
    });
    link(actions.collect(), meta, next_id)
}

/// Requests for `actions` in order, linked but the last.
pub(crate) fn link(
    actions: Vec<(TransferAction, BusinessType)>,
    meta: &TransferMeta,
    next_id: &mut dyn FnMut() -> TransferId,
) -> Vec<TransferRequest> {
    let last = actions.len().saturating_sub(1);
    actions
        .into_iter()
        .enumerate()
        .map(|(i, (action, business))| TransferRequest {
            id: next_id(),
            action,
            linked: i < last,
            code: business.as_str().to_owned(),
            reference: meta.reference.clone(),
            metadata: meta.metadata.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wallet::tests::{acc, ids, money};

    #[test]
    fn a_chain_links_every_request_but_the_last() {
        let legs = [
            Leg { debit: acc(1), credit: acc(9), amount: money(150), business: BusinessType::Pay },
            Leg { debit: acc(2), credit: acc(9), amount: money(650), business: BusinessType::Pay },
            Leg { debit: acc(3), credit: acc(9), amount: money(50), business: BusinessType::Pay },
        ];
        let requests =
            linked_chain(&legs, Settlement::Immediate, &TransferMeta::new(Some("o-1".into())), &mut ids(100));
        assert_eq!(requests.iter().map(|r| r.linked).collect::<Vec<_>>(), [true, true, false]);
        assert!(requests.iter().all(|r| r.code == "pay" && r.reference.as_deref() == Some("o-1")));
        assert_eq!(requests[1].id, TransferId::from_u128(101).unwrap());
        assert_eq!(
            requests[1].action,
            TransferAction::Post {
                debit_account_id: acc(2),
                credit_account_id: acc(9),
                amount: money(650),
                balancing: false
            }
        );
        assert!(crate::ledger::check_submission(&requests).is_none(), "the chain closes");
    }

    #[test]
    fn a_single_leg_is_not_linked() {
        let legs = [Leg { debit: acc(1), credit: acc(9), amount: money(1), business: BusinessType::Refund }];
        let requests = linked_chain(&legs, Settlement::Immediate, &TransferMeta::new(None), &mut ids(1));
        assert!(!requests[0].linked);
    }

    #[test]
    fn held_legs_become_pending_transfers_with_their_timeout() {
        let legs = [Leg { debit: acc(1), credit: acc(9), amount: money(10), business: BusinessType::Pay }];
        let hold = Settlement::hold(900).unwrap();
        let requests = linked_chain(&legs, hold, &TransferMeta::new(None), &mut ids(1));
        assert!(matches!(requests[0].action, TransferAction::Hold { timeout_s: Some(900), .. }));
    }

    #[test]
    fn a_hold_lasts_from_a_second_to_thirty_days() {
        assert_eq!(Settlement::hold(0), Err(WalletError::HoldTimeoutInvalid));
        assert_eq!(Settlement::hold(PENDING_TIMEOUT_S_MAX + 1), Err(WalletError::HoldTimeoutInvalid));
        assert!(Settlement::hold(PENDING_TIMEOUT_S_MAX).is_ok());
    }

    #[test]
    fn business_types_fit_the_ledgers_code_column() {
        for b in BusinessType::ALL {
            let code = b.as_str();
            assert!(code.len() <= crate::ledger::CODE_LEN_MAX, "{code}");
            assert!(code.bytes().all(|c| c.is_ascii_lowercase() || c == b'_'), "{code}");
        }
    }
}
