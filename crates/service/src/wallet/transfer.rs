//! Transfers between members (员工间转账), keeping the money's kind: core's `plan_member_transfer`
//! takes the sender's accounts whose type sends transfers, in the sender's deduction order, and lands
//! each part in the receiver's account of the same type (the canteen wallet: recharged money arrives
//! in the basic account, subsidy money in the subsidy account; bonus money does not move at all).
//!
//! A transfer is one record (`member_transfer:cli_…:ORDER`) and one linked chain whose ids are derived
//! from it (`chain.rs`): the same order number again answers the transfer as it is, and a retry after
//! a crash submits the same chain, which the ledger applies once.
//!
//! **The day's total under concurrent transfers.** What a member sent today (the platform's day,
//! China's calendar as for operators) is kept in one record per member (`transfer_day:mem_…`), and a
//! transfer adds its amount to it in the same write that creates the transfer. Two transfers at once
//! both write that record; the second meets the first's version and decides again, now counting the
//! first, so together they never pass `WalletConfig::transfer_limits`' daily limit. A transfer the
//! ledger then refuses (the money was spent meanwhile) gives its amount back to its day.

use sanhu_core::id::{ClientId, MemberId, OperatorId};
use sanhu_core::party::{Actor, MemberAction, Operation};
use sanhu_core::wallet::{plan_member_transfer, TransferMeta, Wallet, WalletError};
use sanhu_core::{AccountId, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::{self, id_text, ids_for, restore_chain, store_chain, StoredRequest};
use super::error::*;
use super::records::{json_document, order_record_id, time_ns, OrderNumber};
use super::restriction::Side;
use super::Wallets;
use crate::clock;
use crate::party::customers::load_customer;
use crate::party::members::load_member;
use crate::party::work::Work;
use crate::wallet::WalletFailure;

/// What a transfer to another member takes.
#[derive(Clone, Debug)]
pub struct MemberTransferRequest {
    pub client: ClientId,
    pub order_number: OrderNumber,
    pub sender: MemberId,
    pub receiver: MemberId,
    pub amount: i64,
    /// The sender's pay password, when the platform requires one (`WalletConfig::pay_password`).
    pub pay_password: Option<String>,
    /// The enterprise sender's operator who transfers (`operator.rs`).
    pub operator: Option<OperatorId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum MemberTransferStatus {
    /// Decided and being applied: the chain is in the record (a crash here is finished by a retry).
    Transferring,
    Transferred,
    /// The ledger refused the chain (the money was spent or an account blocked meanwhile); nothing
    /// moved, and the amount no longer counts towards the sender's day.
    Refused,
}

/// One part of a transfer: from a sender's account to the receiver's account of the same type.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TransferPart {
    #[serde(with = "id_text")]
    pub from_account: AccountId,
    #[serde(with = "id_text")]
    pub to_account: AccountId,
    pub account_type: String,
    pub amount: i64,
}

/// A transfer between members as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemberTransfer {
    pub id: String,
    /// The sender's customer.
    pub customer_id: String,
    pub order_number: String,
    #[serde(with = "id_text")]
    pub client: ClientId,
    #[serde(with = "id_text")]
    pub sender_id: MemberId,
    #[serde(with = "id_text")]
    pub receiver_id: MemberId,
    pub amount: i64,
    /// Where each part went, by the money's kind, in the sender's deduction order.
    pub parts: Vec<TransferPart>,
    /// The platform day (days since 1970-01-01, China's calendar) the amount counts towards.
    pub day: i64,
    pub status: MemberTransferStatus,
    pub reason: Option<String>,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    in_flight: Vec<StoredRequest>,
    /// The operator who transferred and what counts towards its day (`operator.rs`).
    #[serde(default)]
    operator: Option<super::operator::OperatorUse>,
}
json_document!(MemberTransfer, "member_transfer");

impl MemberTransfer {
    /// The enterprise sender's operator who made the transfer, if one did.
    pub fn operator_id(&self) -> Option<OperatorId> {
        super::operator::operator_of(&self.operator)
    }
}

/// What a member sent to others on one platform day: one record per member, rewritten by every
/// transfer it makes, which is what decides concurrent transfers one after the other.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransferDay {
    id: String,
    customer_id: String,
    #[serde(with = "id_text")]
    member_id: MemberId,
    day: i64,
    /// Minor units sent on `day`, counting transfers still being applied.
    sent: i64,
}
json_document!(TransferDay, "transfer_day");

fn transfer_day_id(member: MemberId) -> String {
    format!("transfer_day:{member}")
}

async fn load(work: &mut Work, id: &str) -> Result<MemberTransfer, WalletFailure> {
    work.get::<MemberTransfer>(id).await?.ok_or(WalletFailure::NotFound(ORDER_NOT_FOUND))
}

impl Wallets {
    /// Sends money to another member as one linked chain, each part landing in the receiver's account
    /// of its kind, within the per-transfer and daily limits. The same order number again answers the
    /// transfer as it is (and finishes it, if a crash interrupted it).
    pub async fn transfer_to_member(
        &self,
        request: &MemberTransferRequest,
        actor: &Actor,
    ) -> Result<MemberTransfer, WalletFailure> {
        let record = order_record_id("member_transfer", request.client, &request.order_number);
        let _turn = self.turn([super::wallet_key(request.sender), record]).await;
        let transfer = self.transfer_recorded(request, actor).await?;
        // The ledger refused the chain when first asked: asked again, refused again.
        if transfer.status == MemberTransferStatus::Refused {
            return Err(recorded_refusal(transfer.reason.as_deref()));
        }
        Ok(transfer)
    }

    async fn transfer_recorded(
        &self,
        request: &MemberTransferRequest,
        actor: &Actor,
    ) -> Result<MemberTransfer, WalletFailure> {
        let id = order_record_id("member_transfer", request.client, &request.order_number);
        if let Some(existing) = self.parties.reader().get::<MemberTransfer>(&id).await? {
            return self.resume_member_transfer(same_transfer(existing, request)?, actor).await;
        }
        if request.amount <= 0 {
            return Err(WalletError::InvalidAmount.into());
        }
        if request.sender == request.receiver {
            return Err(WalletError::SameWallet.into());
        }
        let sender = self.parties.member_acts(request.sender, MemberAction::Transfer).await?;
        self.customer_may(sender.member.customer(), Side::Pays).await?;
        self.check_pay_password(request.sender, request.pay_password.as_deref()).await?;
        self.member_may_receive(request.receiver).await?;
        // A merchant's member's money stays within its merchant (and wallet group).
        if !self.parties.spends_at(&sender, request.receiver).await? {
            return Err(WalletFailure::Rejected(super::MEMBER_SCOPE_MISMATCH));
        }
        let receiver_customer = load_member(&mut self.parties.reader(), request.receiver).await?.member.customer();
        self.customer_may(receiver_customer, Side::Receives).await?;
        let order = self.deduction_order(request.sender).await?;
        let transfer = transact!(&self.parties, WalletFailure, |work| {
            if let Some(existing) = work.get::<MemberTransfer>(&id).await? {
                return same_transfer(existing, request);
            }
            let day = self.parties.platform_day(work.now);
            let day_id = transfer_day_id(request.sender);
            let sent_today = match work.get::<TransferDay>(&day_id).await? {
                Some(record) if record.day == day => record.sent,
                _ => 0,
            };
            let from = self.load_wallet(request.sender).await?;
            let from = self.operator_wallet(work, &sender.member, request.operator, Operation::Transfer, from).await?;
            let to = self.load_wallet(request.receiver).await?;
            let limits = &self.config.transfer_limits;
            let plan = match plan_member_transfer(&from, &to, &order, request.amount, limits, sent_today) {
                Ok(plan) => plan,
                Err(refusal @ (WalletError::InsufficientFunds | WalletError::TransferNotAllowed)) => {
                    // Blocked accounts: the sender's first, then the receiver's.
                    let sends = |w: &Wallet| plan_member_transfer(w, &to, &order, request.amount, limits, sent_today);
                    let cause = self.blocked_cause(&from, Side::Pays, refusal, |w| sends(w).is_ok()).await;
                    if cause.code() != refusal.code() {
                        return Err(cause);
                    }
                    let receives =
                        |w: &Wallet| plan_member_transfer(&from, w, &order, request.amount, limits, sent_today).is_ok();
                    return Err(self.blocked_cause(&to, Side::Receives, refusal, receives).await);
                }
                Err(refusal) => return Err(refusal.into()),
            };
            let accounts: Vec<AccountId> = plan.legs.iter().map(|l| l.from).collect();
            let operator = self
                .operator_acts(work, &sender.member, request.operator, Operation::Transfer, request.amount, &accounts)
                .await?;
            let meta =
                super::operator::meta(TransferMeta::new(Some(request.order_number.as_str().to_owned())), &operator);
            let chain = plan.transfers(&meta, &mut ids_for(&id, "transfer"));
            let customer_id = sender.member.customer().to_string();
            let sent = sent_today.checked_add(request.amount).ok_or(WalletError::AmountOverflow)?;
            work.put(&TransferDay {
                id: day_id,
                customer_id: customer_id.clone(),
                member_id: request.sender,
                day,
                sent,
            });
            let transfer = MemberTransfer {
                id: id.clone(),
                customer_id,
                order_number: request.order_number.as_str().to_owned(),
                client: request.client,
                sender_id: request.sender,
                receiver_id: request.receiver,
                amount: request.amount,
                parts: plan
                    .legs
                    .iter()
                    .map(|l| TransferPart {
                        from_account: l.from,
                        to_account: l.to,
                        account_type: l.account_type.as_str().to_owned(),
                        amount: l.amount.get(),
                    })
                    .collect(),
                day,
                status: MemberTransferStatus::Transferring,
                reason: None,
                created_at: work.now,
                in_flight: store_chain(&chain),
                operator,
            };
            work.put(&transfer);
            work.history(
                &id,
                &transfer.customer_id,
                "member_transfer.created",
                actor,
                None,
                json!({ "receiver": request.receiver.to_string(), "amount": request.amount, "sent_today": sent }),
            );
            Ok(transfer)
        })?;
        self.resume_member_transfer(transfer, actor).await
    }

    pub async fn get_member_transfer(
        &self,
        client: ClientId,
        number: &OrderNumber,
    ) -> Result<MemberTransfer, WalletFailure> {
        load(&mut self.parties.reader(), &order_record_id("member_transfer", client, number)).await
    }

    /// What the member has sent to other members today (the platform's day), transfers still being
    /// applied included.
    pub async fn sent_today(&self, member: MemberId) -> Result<i64, WalletFailure> {
        let day = self.parties.platform_day(clock::now());
        let record = self.parties.reader().get::<TransferDay>(&transfer_day_id(member)).await?;
        Ok(record.filter(|r| r.day == day).map_or(0, |r| r.sent))
    }

    /// Refuses money for a member who may not receive it: unknown, cancelled, locked, not yet active,
    /// or under a banned or merged customer. Read only: receiving is not the member's own activity.
    pub(crate) async fn member_may_receive(&self, member: MemberId) -> Result<(), WalletFailure> {
        let mut work = self.parties.reader();
        let stored = load_member(&mut work, member).await?;
        let customer = load_customer(&mut work, stored.member.customer()).await?;
        stored.member.check_action(MemberAction::Recharge, customer.customer.status())?;
        Ok(())
    }

    /// Submits a transfer's decided chain, if any, and records its outcome; a refused transfer gives
    /// its amount back to the sender's day.
    async fn resume_member_transfer(
        &self,
        transfer: MemberTransfer,
        actor: &Actor,
    ) -> Result<MemberTransfer, WalletFailure> {
        if transfer.in_flight.is_empty() {
            return Ok(transfer);
        }
        let requests = restore_chain(&transfer.in_flight)?;
        let outcome = chain::apply(&self.ledger, requests.clone()).await?;
        let refusal = self.name_ledger_block(outcome.err(), &requests).await?;
        let id = transfer.id.clone();
        let transfer = transact!(&self.parties, WalletFailure, |work| {
            let mut transfer = load(work, &id).await?;
            if transfer.in_flight.is_empty() {
                return Ok(transfer);
            }
            transfer.in_flight = Vec::new();
            match &refusal {
                None => transfer.status = MemberTransferStatus::Transferred,
                Some(refusal) => {
                    transfer.status = MemberTransferStatus::Refused;
                    transfer.reason = Some(refusal.code().to_owned());
                    super::operator::give_back(work, &mut transfer.operator);
                    let day_id = transfer_day_id(transfer.sender_id);
                    if let Some(mut day) = work.get::<TransferDay>(&day_id).await? {
                        if day.day == transfer.day {
                            day.sent = (day.sent - transfer.amount).max(0);
                            work.put(&day);
                        }
                    }
                }
            }
            work.put(&transfer);
            let action = if refusal.is_none() { "member_transfer.transferred" } else { "member_transfer.refused" };
            work.history(&id, &transfer.customer_id, action, actor, None, json!({ "reason": transfer.reason }));
            Ok(transfer)
        })?;
        match refusal {
            Some(refusal) => Err(refusal),
            None => Ok(transfer),
        }
    }
}

fn same_transfer(existing: MemberTransfer, request: &MemberTransferRequest) -> Result<MemberTransfer, WalletFailure> {
    let same = existing.sender_id == request.sender
        && existing.receiver_id == request.receiver
        && existing.amount == request.amount
        && (request.operator.is_none() || existing.operator_id() == request.operator);
    if same {
        Ok(existing)
    } else {
        Err(WalletFailure::Rejected(ORDER_NUMBER_REUSED))
    }
}
