//! Manual adjustments (调账): an administrator credits or debits a member's account with a reason,
//! against the platform's `adjustments` account. An adjustment of at least `adjustment_approval_from`
//! waits for a second, different person to approve it (maker-checker) before any money moves.

use sanhu_core::id::ClientId;
use sanhu_core::party::{Actor, Reason};
use sanhu_core::{AccountId, Amount, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::{self, id_text, posted_chain, store_chain, InFlight, Move, StoredRequest};
use super::error::*;
use super::platform::PlatformAccount;
use super::records::{json_document, order_record_id, time_ns, OrderNumber};
use super::Wallets;
use crate::party::work::{actor_text, Work};
use crate::party::PartyError;
use crate::wallet::WalletFailure;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentDirection {
    /// Money into the member's account.
    Credit,
    /// Money out of it.
    Debit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum AdjustmentStatus {
    AwaitingApproval,
    Applying,
    Applied,
    /// The ledger refused it (a debit beyond the available balance); nothing moved.
    Refused,
}

/// An adjustment as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Adjustment {
    pub id: String,
    pub customer_id: String,
    pub number: String,
    #[serde(with = "id_text")]
    pub account_id: AccountId,
    pub direction: AdjustmentDirection,
    pub amount: i64,
    pub reason: String,
    /// Who made it, and who approved it (when it needed approval).
    pub maker: String,
    pub checker: Option<String>,
    /// Who sent the request that made it (the API client that signed it, or the staff member signed
    /// in), whoever it names as the maker: its approval must come from another. Absent from
    /// adjustments made before it was kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_through: Option<String>,
    pub status: AdjustmentStatus,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    in_flight: Vec<StoredRequest>,
}
json_document!(Adjustment, "adjustment");

impl InFlight for Adjustment {
    fn in_flight(&self) -> &[StoredRequest] {
        &self.in_flight
    }
    fn settle(&mut self, refusal: Option<&WalletFailure>) {
        self.status = if refusal.is_none() { AdjustmentStatus::Applied } else { AdjustmentStatus::Refused };
        self.in_flight = Vec::new();
    }
    fn customer(&self) -> String {
        self.customer_id.clone()
    }
}

async fn load(work: &mut Work, id: &str) -> Result<Adjustment, WalletFailure> {
    work.get::<Adjustment>(id).await?.ok_or(WalletFailure::NotFound(ORDER_NOT_FOUND))
}

impl Wallets {
    /// Makes an adjustment: applied at once below the approval threshold, else waiting for approval.
    /// The same number again answers the adjustment as it is. `maker` is the person who makes it;
    /// `principal` is who sent the request (the same, or the system that names the person).
    #[allow(clippy::too_many_arguments)]
    pub async fn adjust(
        &self,
        client: ClientId,
        number: &OrderNumber,
        account: AccountId,
        direction: AdjustmentDirection,
        amount: i64,
        reason: &Reason,
        maker: &Actor,
        principal: &Actor,
    ) -> Result<Adjustment, WalletFailure> {
        let amount = Amount::new(amount).ok_or(sanhu_core::wallet::WalletError::InvalidAmount)?;
        let member_account = match self.parties.get_member_account(account).await {
            Ok(view) => view.account,
            Err(PartyError::NotFound(_)) => return Err(WalletFailure::Rejected(ACCOUNT_NOT_MEMBERS)),
            Err(other) => return Err(other.into()),
        };
        let platform = PlatformAccount::Adjustments.id(self.config.currency);
        let needs_approval = amount.get() >= self.config.adjustment_approval_from;
        let id = order_record_id("adjustment", client, number);
        let _turn = self.turn([super::wallet_key(member_account.member_id), id.clone()]).await;
        let adjustment = transact!(&self.parties, |work| {
            if let Some(existing) = work.get::<Adjustment>(&id).await? {
                let same = existing.account_id == account
                    && existing.amount == amount.get()
                    && existing.direction == direction;
                return if same { Ok(existing) } else { Err(WalletFailure::Rejected(ORDER_NUMBER_REUSED)) };
            }
            let mut adjustment = Adjustment {
                id: id.clone(),
                customer_id: member_account.customer_id.to_string(),
                number: number.as_str().to_owned(),
                account_id: account,
                direction,
                amount: amount.get(),
                reason: reason.as_str().to_owned(),
                maker: actor_text(maker),
                checker: None,
                made_through: Some(actor_text(principal)),
                status: AdjustmentStatus::AwaitingApproval,
                created_at: work.now,
                in_flight: Vec::new(),
            };
            if !needs_approval {
                adjustment.in_flight = store_chain(&adjustment_chain(&adjustment, platform));
                adjustment.status = AdjustmentStatus::Applying;
            }
            work.put(&adjustment);
            let detail = json!({ "direction": direction, "amount": adjustment.amount, "status": adjustment.status });
            work.history(&id, &adjustment.customer_id, "adjustment.made", maker, Some(reason), detail);
            Ok(adjustment)
        })?;
        chain::resume(&self.parties, &self.ledger, adjustment, "adjustment.applied", maker).await
    }

    /// The adjustment under the caller's number, as it is.
    pub async fn get_adjustment(&self, client: ClientId, number: &OrderNumber) -> Result<Adjustment, WalletFailure> {
        load(&mut self.parties.reader(), &order_record_id("adjustment", client, number)).await
    }

    /// A second person approves an adjustment that waits for approval; then it is applied. Neither the
    /// person who made it nor the principal it was made through (`principal`, who sends this request)
    /// may approve it: one API key naming two staff members is still one.
    pub async fn approve_adjustment(
        &self,
        client: ClientId,
        number: &OrderNumber,
        checker: &Actor,
        principal: &Actor,
    ) -> Result<Adjustment, WalletFailure> {
        let platform = PlatformAccount::Adjustments.id(self.config.currency);
        let id = order_record_id("adjustment", client, number);
        let wallet = self.account_wallet_key(load(&mut self.parties.reader(), &id).await?.account_id).await?;
        let _turn = self.turn([id.clone()].into_iter().chain(wallet)).await;
        let adjustment = transact!(&self.parties, |work| {
            let mut adjustment = load(work, &id).await?;
            match adjustment.status {
                AdjustmentStatus::AwaitingApproval => {}
                AdjustmentStatus::Applying | AdjustmentStatus::Applied => return Ok(adjustment),
                AdjustmentStatus::Refused => return Err(WalletFailure::Rejected(ORDER_CLOSED)),
            }
            let same_principal = adjustment.made_through.as_deref() == Some(actor_text(principal).as_str());
            if adjustment.maker == actor_text(checker) || same_principal {
                return Err(WalletFailure::Rejected(ADJUSTMENT_SAME_ACTOR));
            }
            adjustment.checker = Some(actor_text(checker));
            adjustment.in_flight = store_chain(&adjustment_chain(&adjustment, platform));
            adjustment.status = AdjustmentStatus::Applying;
            work.put(&adjustment);
            work.history(&id, &adjustment.customer_id, "adjustment.approved", checker, None, json!({}));
            Ok(adjustment)
        })?;
        chain::resume(&self.parties, &self.ledger, adjustment, "adjustment.applied", checker).await
    }
}

fn adjustment_chain(adjustment: &Adjustment, platform: AccountId) -> Vec<sanhu_core::ledger::TransferRequest> {
    let amount = Amount::new(adjustment.amount).expect("a stored adjustment's amount is positive");
    let (debit, credit, code) = match adjustment.direction {
        AdjustmentDirection::Credit => (platform, adjustment.account_id, "adjustment_credit"),
        AdjustmentDirection::Debit => (adjustment.account_id, platform, "adjustment_debit"),
    };
    posted_chain(&[Move { debit, credit, amount, code }], &adjustment.id, "apply", &adjustment.number)
}
