//! Refunding a recharge (充值退款): money goes back from the recharged account to the channel's
//! clearing account, which pays it back to the member's card, and the recharge's bonus goes with it
//! (core's `plan_recharge_refund`): refunding a share of the recharge forfeits that share of the bonus
//! (rounded up); of what is forfeited, the part still unspent in the bonus account is taken back, and
//! the part already spent is deducted from the cash refunded. The bonus was given on condition that
//! the money stayed.
//!
//! What may be refunded is what the order credited to the account, less earlier refunds: the debt it
//! repaid and a channel fee the member bore never reached the account. A refund is kept in its
//! recharge order (`refunds`), decided and written in one `transact!` counting every earlier refund
//! that did not fail (processing ones included), so concurrent refunds of one order are decided one
//! after the other and never refund more than was credited nor forfeit the bonus twice. Its chain's
//! ids are derived from the order and the refund number (`chain.rs`); a chain the ledger refuses (the
//! recharged money or the bonus was spent meanwhile) marks the refund `failed`, and it stops counting.

use sanhu_core::id::ClientId;
use sanhu_core::party::Actor;
use sanhu_core::wallet::{plan_recharge_refund, Recharge, RechargeRefundAccounts, WalletError};
use sanhu_core::Amount;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::{self, posted_chain, restore_chain, store_chain, Move, StoredRequest};
use super::error::*;
use super::platform::PlatformAccount;
use super::recharge::{load, RechargeStatus};
use super::records::{order_record_id, OrderNumber};
use super::Wallets;
use crate::wallet::WalletFailure;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RechargeRefundStatus {
    /// Decided and being applied: the chain is in the refund (a crash here is finished by a retry).
    Processing,
    Succeeded,
    /// The ledger refused the chain; nothing moved and the refund no longer counts.
    Failed,
}

/// A refund of (part of) a recharge, as kept in its order.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RechargeRefundOrder {
    pub refund_number: String,
    /// Taken from the recharged account.
    pub amount: i64,
    /// Paid back through the channel: the amount less `bonus_deducted`.
    pub payout: i64,
    /// Unspent bonus taken back from the bonus account.
    pub bonus_taken_back: i64,
    /// Spent bonus, deducted from the refund.
    pub bonus_deducted: i64,
    pub status: RechargeRefundStatus,
    pub reason: Option<String>,
    in_flight: Vec<StoredRequest>,
    /// The platform's day it was asked on, `YYYY-MM-DD` (reconciliation's; none before it was kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub day: Option<String>,
}

impl RechargeRefundOrder {
    fn counts(&self) -> bool {
        self.status != RechargeRefundStatus::Failed
    }
}

impl Wallets {
    /// Refunds `amount` of a credited recharge under the caller's refund number: the payout goes back
    /// to the channel, the bonus it forfeits back to marketing. The same refund number again answers
    /// that refund as it is.
    pub async fn refund_recharge(
        &self,
        client: ClientId,
        number: &OrderNumber,
        refund_number: &OrderNumber,
        amount: i64,
        actor: &Actor,
    ) -> Result<RechargeRefundOrder, WalletFailure> {
        let id = order_record_id("recharge_order", client, number);
        let step = format!("refund:{}", refund_number.as_str());
        let seen = load(&mut self.parties.reader(), &id).await?;
        let _turn = self.turn([super::wallet_key(seen.member_id), id.clone()]).await;
        let clearing = self.ensure_platform_account(&PlatformAccount::Clearing(seen.channel.clone())).await?;
        let marketing = PlatformAccount::MarketingExpense.id(self.config.currency);
        let refund = transact!(&self.parties, |work| {
            let mut order = load(work, &id).await?;
            if let Some(refund) = order.refunds.iter().find(|r| r.refund_number == refund_number.as_str()) {
                if refund.amount != amount {
                    return Err(WalletFailure::Rejected(REFUND_NUMBER_REUSED));
                }
                return Ok(refund.clone());
            }
            if order.status != RechargeStatus::Succeeded {
                return Err(WalletFailure::Rejected(RECHARGE_NOT_REFUNDABLE));
            }
            let counted = || order.refunds.iter().filter(|r| r.counts());
            let refunded: i64 = counted().map(|r| r.amount).sum();
            if amount > 0 && amount > order.credited - refunded {
                return Err(WalletError::RefundExceedsRecharge.into());
            }
            let recharge = Recharge {
                amount: Amount::new(order.amount).ok_or(WalletError::InvalidAmount)?,
                bonus: order.bonus,
                refunded,
                bonus_forfeited: counted().map(|r| r.bonus_taken_back + r.bonus_deducted).sum(),
            };
            let wallet = self.load_wallet(order.member_id).await?;
            let bonus_account = wallet
                .accounts()
                .iter()
                .filter(|a| a.account_type().code() == &self.config.bonus_account_type)
                .min_by_key(|a| a.id());
            let bonus_unspent = bonus_account.map_or(0, |a| a.spendable());
            let plan = plan_recharge_refund(&recharge, amount, bonus_unspent)?;
            let accounts = RechargeRefundAccounts {
                recharged: order.account_id,
                // Only read when bonus is taken back, which needs unspent bonus in this account.
                bonus: bonus_account.map_or(order.account_id, |a| a.id()),
                clearing,
                marketing,
            };
            let moves: Vec<Move> = plan.legs(&accounts).into_iter().map(Move::from).collect();
            let chain = posted_chain(&moves, &id, &step, refund_number.as_str());
            let refund = RechargeRefundOrder {
                refund_number: refund_number.as_str().to_owned(),
                amount,
                payout: plan.payout,
                bonus_taken_back: plan.bonus_taken_back,
                bonus_deducted: plan.bonus_deducted,
                status: RechargeRefundStatus::Processing,
                reason: None,
                in_flight: store_chain(&chain),
                day: Some(super::reconciliation::day_text(&self.parties.config().calendar, work.now)),
            };
            order.refunds.push(refund.clone());
            work.put(&order);
            let day = refund.day.clone().unwrap_or_default();
            work.index(super::recharge::REFUNDS_OF_DAY, &format!("{}:{day}", order.channel), &id);
            work.history(
                &id,
                &order.customer_id,
                "recharge.refund_requested",
                actor,
                None,
                json!({
                    "refund": refund.refund_number,
                    "amount": amount,
                    "payout": refund.payout,
                    "bonus_taken_back": refund.bonus_taken_back,
                    "bonus_deducted": refund.bonus_deducted,
                }),
            );
            Ok(refund)
        })?;
        if refund.status != RechargeRefundStatus::Processing {
            return Ok(refund);
        }
        let requests = restore_chain(&refund.in_flight)?;
        let outcome = chain::apply(&self.ledger, requests.clone()).await?;
        let refusal = self.name_ledger_block(outcome.err(), &requests).await?;
        let refund = transact!(&self.parties, |work| {
            let mut order = load(work, &id).await?;
            let customer_id = order.customer_id.clone();
            let Some(refund) = order.refunds.iter_mut().find(|r| r.refund_number == refund_number.as_str()) else {
                return Err(WalletFailure::NotFound(ORDER_NOT_FOUND));
            };
            if refund.status != RechargeRefundStatus::Processing {
                return Ok(refund.clone());
            }
            refund.in_flight = Vec::new();
            refund.status =
                if refusal.is_none() { RechargeRefundStatus::Succeeded } else { RechargeRefundStatus::Failed };
            refund.reason = refusal.as_ref().map(|r| r.code().to_owned());
            let action = if refusal.is_none() { "recharge.refunded" } else { "recharge.refund_failed" };
            let detail = json!({ "refund": refund.refund_number, "amount": refund.amount, "reason": refund.reason });
            let refund = refund.clone();
            work.put(&order);
            work.history(&id, &customer_id, action, actor, None, detail);
            Ok(refund)
        })?;
        match refusal {
            Some(refusal) if refund.status == RechargeRefundStatus::Failed => Err(refusal),
            _ => Ok(refund),
        }
    }
}
