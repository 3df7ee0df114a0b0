//! Clearing a member's wallet offline (002 case 08): the franchisee has refunded the member in cash
//! and asks the platform to zero the member's wallet at it. The request (with its reason) sets the
//! wallet's money aside at once, as holds from each account to the franchisee's account that receives
//! it (its receipts, or the account type its settings name), so that nothing is spent meanwhile; the
//! platform reviews it (a staff member's review waits for a second one): approved, the holds are
//! posted (the wallet is zero, the franchisee's account credited); rejected, they are voided (the
//! member has its money back). Both sides' flows show the money's moves (`clearance_hold`, then
//! `clearance` or nothing moved).
//!
//! A wallet with money held already (an authorised or escrowed payment, a freeze, another clearance
//! under review) is not cleared (`wallet_has_held_money`): what is held is not the member's to give
//! up yet. Only the merchant's own members' wallets are cleared there (`wallet_not_merchants`).
//!
//! The record is `wallet_clearance:{merchant}:{number}`: the same number again answers the clearance
//! as it is (another member under it is `order_number_reused`).

use sanhu_core::id::{MemberId, MerchantId};
use sanhu_core::ledger::{TransferAction, TransferRequest};
use sanhu_core::party::{Actor, Reason};
use sanhu_core::{AccountId, Amount, Timestamp, TransferId};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::{self, id_text, ids_for, store_chain, InFlight, StoredRequest};
use super::error::*;
use super::records::{json_document, time_ns, OrderNumber};
use super::{wallet_key, Wallets};
use crate::party::work::{actor_text, Work};
use crate::party::Rejection;
use crate::wallet::WalletFailure;

/// The business code of the holds that set a cleared wallet's money aside.
pub const CLEARANCE_HOLD_CODE: &str = "clearance_hold";
/// The business code of the holds posted when a clearance is approved.
pub const CLEARANCE_CODE: &str = "clearance";
/// The business code of the holds voided when a clearance is rejected.
pub const CLEARANCE_VOID_CODE: &str = "clearance_rejected";

pub const WALLET_NOT_MERCHANTS: Rejection = Rejection {
    code: "wallet_not_merchants",
    status: 422,
    message: "the member is not the merchant's: a merchant clears the wallets of its own members only",
};
pub const WALLET_HAS_HELD_MONEY: Rejection = Rejection {
    code: "wallet_has_held_money",
    status: 409,
    message: "the wallet has money held (an authorised or escrowed payment, a freeze, a clearance under review) or owes a debt: it is not cleared until that ends",
};
pub const WALLET_MONEY_NOT_CLEARABLE: Rejection = Rejection {
    code: "wallet_money_not_clearable",
    status: 409,
    message: "the wallet holds money of another kind than recharged money and bonus (a subsidy, say): it is not cleared offline",
};
pub const WALLET_ALREADY_CLEAR: Rejection =
    Rejection { code: "wallet_already_clear", status: 409, message: "the wallet holds no money to clear" };
pub const CLEARANCE_ACCOUNT_UNAVAILABLE: Rejection = Rejection {
    code: "clearance_account_unavailable",
    status: 422,
    message: "the merchant's member holds no account of the type a clearance pays into (its settings' clearance_account_type, else its merchant type's first account)",
};
pub const CLEARANCE_NOT_UNDER_REVIEW: Rejection =
    Rejection { code: "clearance_not_under_review", status: 409, message: "the clearance was reviewed already" };
pub const CLEARANCE_SAME_ACTOR: Rejection = Rejection {
    code: "clearance_same_actor",
    status: 403,
    message: "a clearance is reviewed through another API client or staff session than the one that asked for it",
};
pub const CLEARANCE_REVIEW_STAFF_ONLY: Rejection = Rejection {
    code: "clearance_review_staff_only",
    status: 403,
    message: "a clearance is reviewed by a staff member and approved by a second one (maker-checker)",
};
pub const CLEARANCE_NOT_FOUND: Rejection =
    Rejection { code: "clearance_not_found", status: 404, message: "no clearance of this number at the merchant" };

/// Where a clearance stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ClearanceStatus {
    /// The money is being set aside.
    Holding,
    /// Set aside, waiting for the platform's review.
    UnderReview,
    /// Approved: the holds are being posted.
    Clearing,
    /// The wallet's money is the merchant's.
    Cleared,
    /// Rejected: the holds are being voided.
    Rejecting,
    /// The member has its money back.
    Rejected,
    /// The ledger refused to set the money aside (it was spent, or an account blocked); nothing moved.
    Refused,
}

/// One account's money set aside.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClearedPart {
    #[serde(with = "id_text")]
    pub account_id: AccountId,
    pub amount: i64,
    #[serde(with = "id_text")]
    pub pending_id: TransferId,
    /// The merchant's account (the recharged money), or the platform's marketing expense (a bonus).
    #[serde(with = "id_text")]
    pub receiver_account_id: AccountId,
}

/// A clearance as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalletClearance {
    pub id: String,
    /// The member's customer.
    pub customer_id: String,
    pub merchant_id: String,
    pub number: String,
    pub member_id: String,
    /// The merchant's member's account that receives the money.
    #[serde(with = "id_text")]
    pub receiver_account_id: AccountId,
    pub amount: i64,
    pub parts: Vec<ClearedPart>,
    pub reason: String,
    pub maker: String,
    pub made_through: String,
    pub reviewer: Option<String>,
    /// The second staff member who approved the review.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checker: Option<String>,
    pub review_reason: Option<String>,
    pub status: ClearanceStatus,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none", with = "time_ns_opt")]
    pub reviewed_at: Option<Timestamp>,
    /// The ledger's last refusal of the clearance's chain, as its code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// The status the chain in flight ends in when the ledger applies it.
    on_success: ClearanceStatus,
    in_flight: Vec<StoredRequest>,
}
json_document!(WalletClearance, "wallet_clearance");

mod time_ns_opt {
    use sanhu_core::Timestamp;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        match t {
            Some(t) => s.serialize_some(&t.nanos()),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.map(Timestamp::from_nanos))
    }
}

impl InFlight for WalletClearance {
    fn in_flight(&self) -> &[StoredRequest] {
        &self.in_flight
    }
    fn settle(&mut self, refusal: Option<&WalletFailure>) {
        self.refusal = refusal.map(|r| r.code().to_owned());
        self.status = match (refusal, self.status) {
            (None, _) => self.on_success,
            // The holds were refused: nothing was set aside.
            (Some(_), ClearanceStatus::Holding) => ClearanceStatus::Refused,
            // Posting or voiding the holds was refused (an account blocked since): the money stays
            // set aside and the clearance under review again, for staff to decide again.
            (Some(_), _) => {
                self.reviewer = None;
                self.checker = None;
                self.review_reason = None;
                self.reviewed_at = None;
                ClearanceStatus::UnderReview
            }
        };
        self.in_flight = Vec::new();
    }
    fn customer(&self) -> String {
        self.customer_id.clone()
    }
}

fn record_id(merchant: MerchantId, number: &OrderNumber) -> String {
    format!("wallet_clearance:{merchant}:{}", number.as_str())
}

async fn load(work: &mut Work, id: &str) -> Result<WalletClearance, WalletFailure> {
    work.get::<WalletClearance>(id).await?.ok_or(WalletFailure::NotFound(CLEARANCE_NOT_FOUND))
}

/// What asking for a clearance takes.
#[derive(Clone, Debug)]
pub struct ClearanceRequest {
    pub merchant: MerchantId,
    pub number: OrderNumber,
    pub member: MemberId,
    pub reason: Reason,
}

/// A review's decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClearanceDecision {
    Approve,
    Reject,
}

impl Wallets {
    /// Asks for a member's wallet at `request.merchant` to be cleared: sets its money aside (held
    /// for the merchant's account) until the platform reviews it. The same number again answers the
    /// clearance as it is.
    pub async fn request_clearance(
        &self,
        request: &ClearanceRequest,
        actor: &Actor,
    ) -> Result<WalletClearance, WalletFailure> {
        let id = record_id(request.merchant, &request.number);
        let _turn = self.turn([wallet_key(request.member), id.clone()]).await;
        if let Some(existing) = self.parties.reader().get::<WalletClearance>(&id).await? {
            let existing = same_clearance(existing, request)?;
            return answered(
                chain::resume(&self.parties, &self.ledger, existing, "wallet_clearance.held", actor).await?,
            );
        }
        let merchant = self.parties.get_merchant(request.merchant).await?;
        let member = self.parties.get_member(request.member).await?;
        if member.scope.as_ref().map(|s| s.merchant_id.as_str()) != Some(merchant.id.as_str()) {
            return Err(WalletFailure::Rejected(WALLET_NOT_MERCHANTS));
        }
        let receiver = self.clearance_account(&merchant).await?;
        self.account_may_receive(receiver, sanhu_core::party::product::PlatformProduct::BalancePayment).await?;
        let wallet = self.wallet(request.member).await?;
        if wallet.frozen > 0 || wallet.incoming > 0 || wallet.debt > 0 {
            return Err(WalletFailure::Rejected(WALLET_HAS_HELD_MONEY));
        }
        // What the member paid in (the recharge account type's money) is the merchant's, who refunded
        // it; a bonus goes back to the platform's marketing expense it was paid from.
        let marketing = super::platform::PlatformAccount::MarketingExpense.id(self.config.currency);
        let mut taken: Vec<(AccountId, Amount, AccountId)> = Vec::new();
        for part in &wallet.parts {
            let Some(amount) = Amount::new(part.available) else { continue };
            let to = if part.account_type == self.config.recharge_account_type {
                receiver
            } else if part.account_type == self.config.bonus_account_type {
                marketing
            } else {
                return Err(WalletFailure::Rejected(WALLET_MONEY_NOT_CLEARABLE));
            };
            taken.push((part.account_id, amount, to));
        }
        if taken.is_empty() {
            return Err(WalletFailure::Rejected(WALLET_ALREADY_CLEAR));
        }
        let clearance = transact!(&self.parties, WalletFailure, |work| {
            if let Some(existing) = work.get::<WalletClearance>(&id).await? {
                return same_clearance(existing, request);
            }
            let mut next = ids_for(&id, "hold");
            let last = taken.len() - 1;
            let chain: Vec<TransferRequest> = taken
                .iter()
                .enumerate()
                .map(|(i, (account, amount, to))| TransferRequest {
                    id: next(),
                    action: TransferAction::Hold {
                        debit_account_id: *account,
                        credit_account_id: *to,
                        amount: *amount,
                        balancing: false,
                        timeout_s: None,
                    },
                    linked: i < last,
                    code: CLEARANCE_HOLD_CODE.to_owned(),
                    reference: Some(request.number.as_str().to_owned()),
                    metadata: "{}".to_owned(),
                })
                .collect();
            let parts: Vec<ClearedPart> = chain
                .iter()
                .zip(&taken)
                .map(|(r, (account, amount, to))| ClearedPart {
                    account_id: *account,
                    amount: amount.get(),
                    pending_id: r.id,
                    receiver_account_id: *to,
                })
                .collect();
            let clearance = WalletClearance {
                id: id.clone(),
                customer_id: member.member.customer().to_string(),
                merchant_id: merchant.id.clone(),
                number: request.number.as_str().to_owned(),
                member_id: request.member.to_string(),
                receiver_account_id: receiver,
                amount: parts.iter().map(|p| p.amount).sum(),
                parts,
                reason: request.reason.as_str().to_owned(),
                maker: actor_text(actor),
                made_through: actor_text(actor),
                reviewer: None,
                checker: None,
                review_reason: None,
                status: ClearanceStatus::Holding,
                created_at: work.now,
                reviewed_at: None,
                refusal: None,
                on_success: ClearanceStatus::UnderReview,
                in_flight: store_chain(&chain),
            };
            work.put(&clearance);
            let detail = json!({ "member_id": clearance.member_id, "amount": clearance.amount });
            work.history(
                &id,
                &clearance.customer_id,
                "wallet_clearance.requested",
                actor,
                Some(&request.reason),
                detail,
            );
            work.history(
                &merchant.id,
                &merchant.customer_id,
                "merchant.wallet_clearance_requested",
                actor,
                Some(&request.reason),
                json!({ "number": clearance.number, "member_id": clearance.member_id, "amount": clearance.amount }),
            );
            Ok(clearance)
        })?;
        answered(chain::resume(&self.parties, &self.ledger, clearance, "wallet_clearance.held", actor).await?)
    }

    /// A merchant's clearance under its number.
    pub async fn get_clearance(
        &self,
        merchant: MerchantId,
        number: &OrderNumber,
    ) -> Result<WalletClearance, WalletFailure> {
        load(&mut self.parties.reader(), &record_id(merchant, number)).await
    }

    /// The platform reviews a clearance: approved, the held money becomes the merchant's; rejected,
    /// the member's again. Reviewed through the API client or staff session that asked for it, it is
    /// refused (`clearance_same_actor`). Reviewed again with the decision it was given, it answers the
    /// clearance as it is; with the other, `clearance_not_under_review`.
    pub async fn review_clearance(
        &self,
        merchant: MerchantId,
        number: &OrderNumber,
        decision: ClearanceDecision,
        reason: Option<&Reason>,
        actor: &Actor,
        checker: Option<&Actor>,
    ) -> Result<WalletClearance, WalletFailure> {
        let id = record_id(merchant, number);
        let seen = load(&mut self.parties.reader(), &id).await?;
        let member = MemberId::parse(&seen.member_id).ok_or_else(|| anyhow::anyhow!("a stored clearance's member"))?;
        let _turn = self.turn([wallet_key(member), id.clone()]).await;
        let clearance = transact!(&self.parties, WalletFailure, |work| {
            let mut clearance = load(work, &id).await?;
            let approved = matches!(clearance.status, ClearanceStatus::Clearing | ClearanceStatus::Cleared);
            let rejected = matches!(clearance.status, ClearanceStatus::Rejecting | ClearanceStatus::Rejected);
            match (clearance.status, decision) {
                (ClearanceStatus::UnderReview, _) => {}
                (_, ClearanceDecision::Approve) if approved => return Ok(clearance),
                (_, ClearanceDecision::Reject) if rejected => return Ok(clearance),
                _ => return Err(WalletFailure::Rejected(CLEARANCE_NOT_UNDER_REVIEW)),
            }
            let same = |a: &Actor| clearance.made_through == actor_text(a);
            if same(actor) || checker.is_some_and(same) {
                return Err(WalletFailure::Rejected(CLEARANCE_SAME_ACTOR));
            }
            let step = if decision == ClearanceDecision::Approve { "post" } else { "void" };
            let mut next = ids_for(&id, step);
            let last = clearance.parts.len().saturating_sub(1);
            let chain: Vec<TransferRequest> = clearance
                .parts
                .iter()
                .enumerate()
                .map(|(i, part)| TransferRequest {
                    id: next(),
                    action: match decision {
                        ClearanceDecision::Approve => {
                            TransferAction::PostPending { pending_id: part.pending_id, amount: None }
                        }
                        ClearanceDecision::Reject => TransferAction::VoidPending { pending_id: part.pending_id },
                    },
                    linked: i < last,
                    code: if decision == ClearanceDecision::Approve { CLEARANCE_CODE } else { CLEARANCE_VOID_CODE }
                        .to_owned(),
                    reference: Some(clearance.number.clone()),
                    metadata: "{}".to_owned(),
                })
                .collect();
            let (now, then) = match decision {
                ClearanceDecision::Approve => (ClearanceStatus::Clearing, ClearanceStatus::Cleared),
                ClearanceDecision::Reject => (ClearanceStatus::Rejecting, ClearanceStatus::Rejected),
            };
            clearance.status = now;
            clearance.on_success = then;
            clearance.in_flight = store_chain(&chain);
            clearance.reviewer = Some(actor_text(actor));
            clearance.checker = checker.map(actor_text);
            clearance.review_reason = reason.map(|r| r.as_str().to_owned());
            clearance.reviewed_at = Some(work.now);
            work.put(&clearance);
            let action = if decision == ClearanceDecision::Approve {
                "wallet_clearance.approved"
            } else {
                "wallet_clearance.rejected"
            };
            work.history(&id, &clearance.customer_id, action, actor, reason, json!({ "amount": clearance.amount }));
            Ok(clearance)
        })?;
        let action = if decision == ClearanceDecision::Approve {
            "wallet_clearance.cleared"
        } else {
            "wallet_clearance.released"
        };
        chain::resume(&self.parties, &self.ledger, clearance, action, actor).await
    }

    /// The account a clearance at `merchant` pays into: its member's account of the type its settings
    /// name, else the first account its merchant type opens (its receipts).
    async fn clearance_account(&self, merchant: &crate::party::StoredMerchant) -> Result<AccountId, WalletFailure> {
        let merchant_id = MerchantId::parse(&merchant.id).ok_or_else(|| anyhow::anyhow!("a stored merchant's id"))?;
        let settings = self.parties.effective_settings(merchant_id).await?;
        let wanted = match settings.clearance_account_type.value {
            Some(code) => Some(code),
            None => merchant.accounts.first().map(|a| a.account_type.clone()),
        };
        let Some(wanted) = wanted else { return Err(WalletFailure::Rejected(CLEARANCE_ACCOUNT_UNAVAILABLE)) };
        let owner =
            MemberId::parse(&merchant.member_id).ok_or_else(|| anyhow::anyhow!("a stored merchant's member"))?;
        let accounts = self.parties.member_accounts(owner).await?;
        accounts
            .iter()
            .find(|a| {
                a.account.account_type.as_str() == wanted
                    && a.account.status != sanhu_core::party::MemberAccountStatus::Closed
                    && a.ledger.currency == self.config.currency
            })
            .map(|a| a.account.account_id)
            .ok_or(WalletFailure::Rejected(CLEARANCE_ACCOUNT_UNAVAILABLE))
    }
}

fn answered(clearance: WalletClearance) -> Result<WalletClearance, WalletFailure> {
    if clearance.status == ClearanceStatus::Refused {
        return Err(recorded_refusal(clearance.refusal.as_deref()));
    }
    Ok(clearance)
}

fn same_clearance(existing: WalletClearance, request: &ClearanceRequest) -> Result<WalletClearance, WalletFailure> {
    if existing.member_id == request.member.to_string() {
        Ok(existing)
    } else {
        Err(WalletFailure::Rejected(ORDER_NUMBER_REUSED))
    }
}
