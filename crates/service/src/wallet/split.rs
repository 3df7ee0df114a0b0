//! Split payments (分账) and commission: one payment from a member's wallet shared among up to ten
//! receivers as one linked chain (core's `split.rs` decides the shares, the rounding and the legs).
//!
//! A split payment is a [`Payment`] like any other (`payment:cli_…:ORDER`, the same order numbers,
//! the same `GET /v1/payments/{number}`), with its receivers in `splits`: for each, its share, the
//! payer's accounts that paid it, and, for a share held in escrow, its holds. The payment's
//! `receiver` is the first split's.
//!
//! - **Paying** takes the wallet's deductions in its order and pays the shares in theirs, each share
//!   posted to its receiver at once or held (a pending transfer without timeout, as escrow payments
//!   are) until released. Every receiver passes [`Wallets::account_may_receive`], and a merchant
//!   receiver's share counts in its merchant's receipts and limits in the payment's own write (given
//!   back if the ledger refuses the chain). The whole is one chain: every receiver is paid, or none.
//! - **Releasing** one receiver's escrowed share ([`Wallets::release_split`]) posts its holds: the
//!   platform or the payer's side decides, as for an escrow payment.
//! - **Refunding** takes back from each receiver in proportion to what it still holds, or as the
//!   caller names per receiver, never more than it holds (commission included); each receiver's part
//!   goes back to the payer's accounts that paid that share, in the reverse of their order (core's
//!   `plan_refund`). A share still held is taken back from escrow: its holds are voided and what is
//!   left of it held again, in the same chain. Refunds are decided in the payment record in turn (the
//!   payment and every receiver's wallet wait), counting every refund not failed, so concurrent refunds
//!   never take more than the payment or any share. A split payment is refunded by the platform only:
//!   a receiver's bound client would take money from the other receivers too.

use sanhu_core::id::{ClientId, MemberId, OperatorId};
use sanhu_core::ledger::{TransferAction, TransferRequest};
use sanhu_core::party::product::PlatformProduct;
use sanhu_core::party::{Actor, MemberAction, Operation};
use sanhu_core::wallet::{
    allocate_shares, plan_payment, plan_refund, plan_share_refund, plan_shares, BusinessType, Deduction, ShareRule,
    ShareSpec, Shortfall, Wallet, WalletError, SPLIT_RECEIVERS_MAX,
};
use sanhu_core::{AccountId, Amount};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::{self, id_text, ids_for, restore_chain, store_chain, StoredRequest};
use super::error::*;
use super::escrow::{ESCROW_HOLD_CODE, ESCROW_RELEASE_CODE, ESCROW_RETURN_CODE};
use super::payment::{
    deductions, load, parts, HeldPart, Part, Payment, PaymentStatus, Receiver, Refund, RefundStatus, Refunder,
};
use super::records::{order_record_id, OrderNumber};
use super::restriction::Side;
use super::{wallet_key, Wallets};
use crate::party::merchants::{give_back, merchant_receives, MerchantCount};
use crate::party::work::Work;
use crate::party::{MemberObject, PartyError};
use crate::wallet::WalletFailure;

/// Where one receiver's share of a split payment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum ShareStatus {
    /// The receiver's money (paid at once).
    Paid,
    /// Held for the receiver until released.
    Escrowed,
    Releasing,
    /// Released to the receiver: its money.
    Released,
}

/// One receiver of a split payment, as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitShare {
    #[serde(with = "id_text")]
    pub account_id: AccountId,
    pub amount: i64,
    pub escrow: bool,
    pub status: ShareStatus,
    /// The payer's accounts that paid it, in deduction order.
    pub sources: Vec<Part>,
    /// While escrowed: its holds (replaced when a refund takes part of it back).
    pub holds: Vec<HeldPart>,
    /// A release being applied.
    pub(super) in_flight: Vec<StoredRequest>,
    /// What is counted against the receiving merchant's limits.
    #[serde(default)]
    pub(super) counted: Option<MerchantCount>,
}

/// What one refund of a split payment takes from one receiver.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShareRefund {
    #[serde(with = "id_text")]
    pub account_id: AccountId,
    pub amount: i64,
    /// Back to the payer's accounts.
    pub returns: Vec<Part>,
    /// A held share's holds once the refund succeeds (what is left of it, held again).
    pub(super) holds: Option<Vec<HeldPart>>,
}

/// One receiver as a split payment's request names it.
#[derive(Clone, Debug)]
pub struct SplitReceiver {
    pub receiver: Receiver,
    pub rule: ShareRule,
    pub escrow: bool,
}

/// A payment from a member's wallet split among receivers.
#[derive(Clone, Debug)]
pub struct SplitPaymentRequest {
    pub client: ClientId,
    pub order_number: OrderNumber,
    pub member: MemberId,
    pub amount: i64,
    pub splits: Vec<SplitReceiver>,
    pub pay_password: Option<String>,
    /// The enterprise member's operator who pays (`operator.rs`), as for a payment to one receiver.
    pub operator: Option<OperatorId>,
}

impl SplitShare {
    /// Taken back from this receiver so far by `payment`'s refunds, counting those still processing.
    pub fn refunded(&self, payment: &Payment) -> i64 {
        counting_refunds(payment)
            .flat_map(|r| &r.shares)
            .filter(|s| s.account_id == self.account_id)
            .map(|s| s.amount)
            .sum()
    }
}

fn counting_refunds(payment: &Payment) -> impl Iterator<Item = &Refund> {
    payment.refunds.iter().filter(|r| r.status != RefundStatus::Failed)
}

/// A held share's holds as the refunds decided so far leave them: those of the last refund not
/// failed that took part of it back from escrow (its chain applied, or to be applied before any later
/// one: `finish_split_refund`), else the payment's.
fn current_holds<'a>(payment: &'a Payment, share: &'a SplitShare) -> &'a [HeldPart] {
    counting_refunds(payment)
        .flat_map(|r| &r.shares)
        .filter(|s| s.account_id == share.account_id)
        .filter_map(|s| s.holds.as_deref())
        .last()
        .unwrap_or(&share.holds)
}

/// A failed split payment's receivers received nothing: their merchants' counts are given back.
pub(super) fn give_back_shares(work: &mut Work, payment: &mut Payment) {
    if payment.status == PaymentStatus::Failed {
        for share in &mut payment.splits {
            give_back(work, &mut share.counted, 0);
        }
    }
}

fn same_split(existing: Payment, request: &SplitPaymentRequest) -> Result<Payment, WalletFailure> {
    if existing.member_id == request.member
        && existing.amount == request.amount
        && existing.splits.len() == request.splits.len()
        && (request.operator.is_none() || existing.operator_id() == request.operator)
    {
        Ok(existing)
    } else {
        Err(WalletFailure::Rejected(ORDER_NUMBER_REUSED))
    }
}

/// The metadata of a split payment's share paid at once (`settlement.rs` reads it).
pub(crate) const SPLIT_METADATA: &str = r#"{"split":true}"#;

fn transfer_request(
    next: &mut dyn FnMut() -> sanhu_core::TransferId,
    action: TransferAction,
    code: &str,
    reference: &str,
) -> TransferRequest {
    TransferRequest {
        id: next(),
        action,
        linked: true,
        code: code.to_owned(),
        reference: Some(reference.to_owned()),
        metadata: "{}".to_owned(),
    }
}

/// Closes a chain: every request linked to the next but the last.
fn close(mut chain: Vec<TransferRequest>) -> Vec<TransferRequest> {
    if let Some(last) = chain.last_mut() {
        last.linked = false;
    }
    chain
}

impl Wallets {
    /// Pays an order from the member's wallet split among receivers (the module's rules). The same
    /// order number again answers the payment as it is.
    pub async fn pay_split(&self, request: &SplitPaymentRequest, actor: &Actor) -> Result<Payment, WalletFailure> {
        let id = order_record_id("payment", request.client, &request.order_number);
        let _turn = self.turn([wallet_key(request.member), id.clone()]).await;
        let payment = self.pay_split_recorded(&id, request, actor).await?;
        if payment.status == PaymentStatus::Failed {
            return Err(recorded_refusal(payment.reason.as_deref()));
        }
        Ok(payment)
    }

    async fn pay_split_recorded(
        &self,
        id: &str,
        request: &SplitPaymentRequest,
        actor: &Actor,
    ) -> Result<Payment, WalletFailure> {
        if let Some(existing) = self.parties.reader().get::<Payment>(id).await? {
            return self.resume_payment(same_split(existing, request)?, actor).await;
        }
        if request.splits.is_empty() || request.splits.len() > SPLIT_RECEIVERS_MAX {
            return Err(WalletError::SplitReceiversInvalid.into());
        }
        let member = self.parties.member_acts(request.member, MemberAction::Pay).await?;
        self.customer_may(member.member.customer(), Side::Pays).await?;
        self.check_pay_password(request.member, request.pay_password.as_deref()).await?;
        let mut specs = Vec::with_capacity(request.splits.len());
        for split in &request.splits {
            let account = self.receiver_account(&split.receiver).await?;
            self.not_own_account(request.member, member.member.customer(), account).await?;
            self.spent_within_scope(&member, account).await?;
            self.account_may_receive(account, PlatformProduct::SplitPayment).await?;
            specs.push(ShareSpec { receiver: account, rule: split.rule, escrow: split.escrow });
        }
        let shares = plan_shares(request.amount, &specs)?;
        let order = self.deduction_order(request.member).await?;
        let reference = request.order_number.as_str();
        let payment = transact!(&self.parties, WalletFailure, |work| {
            if let Some(existing) = work.get::<Payment>(id).await? {
                return same_split(existing, request);
            }
            let wallet = self.load_wallet(request.member).await?;
            let wallet = self.operator_wallet(work, &member.member, request.operator, Operation::Pay, wallet).await?;
            let plan = match plan_payment(&wallet, &order, request.amount, Shortfall::Refuse) {
                Ok(plan) => plan,
                Err(refusal) => {
                    let passes = |w: &Wallet| plan_payment(w, &order, request.amount, Shortfall::Refuse).is_ok();
                    return Err(self.blocked_cause(&wallet, Side::Pays, refusal, passes).await);
                }
            };
            let legs = allocate_shares(&plan.deductions, &shares)?;
            // The operator's grants and limits and the payer's payment limits, as for a payment to one
            // receiver, counted in this same write.
            let taken = parts(&plan.deductions);
            let accounts: Vec<AccountId> = taken.iter().map(|p| p.account_id).collect();
            let operator = self
                .operator_acts(work, &member.member, request.operator, Operation::Pay, plan.paid(), &accounts)
                .await?;
            let limits = self.payment_within_limits(work, request.member, &wallet, &taken).await?;
            let mut splits = Vec::with_capacity(shares.len());
            for share in &shares {
                // Each merchant receiver within its limits, counted in this same write.
                let counted = merchant_receives(
                    &self.parties,
                    work,
                    share.receiver,
                    share.amount.get(),
                    true,
                    PlatformProduct::SplitPayment,
                )
                .await?;
                splits.push(SplitShare {
                    account_id: share.receiver,
                    amount: share.amount.get(),
                    escrow: share.escrow,
                    status: if share.escrow { ShareStatus::Escrowed } else { ShareStatus::Paid },
                    sources: Vec::new(),
                    holds: Vec::new(),
                    in_flight: Vec::new(),
                    counted,
                });
            }
            let mut next = ids_for(id, "split");
            let mut chain = Vec::with_capacity(legs.len());
            for leg in &legs {
                let share = &mut splits[leg.share];
                let (debit_account_id, credit_account_id, amount) = (leg.from, share.account_id, leg.amount);
                let (action, code) = if share.escrow {
                    let action = TransferAction::Hold {
                        debit_account_id,
                        credit_account_id,
                        amount,
                        balancing: false,
                        timeout_s: None,
                    };
                    (action, ESCROW_HOLD_CODE)
                } else {
                    let action = TransferAction::Post { debit_account_id, credit_account_id, amount, balancing: false };
                    (action, BusinessType::Pay.as_str())
                };
                let mut transfer = transfer_request(&mut next, action, code, reference);
                if !share.escrow {
                    // A share paid at once says so: a merchant's settlement takes no commission on it
                    // (the platform's share was taken at payment).
                    transfer.metadata = SPLIT_METADATA.to_owned();
                }
                share.sources.push(Part { account_id: leg.from, amount: amount.get() });
                if share.escrow {
                    share.holds.push(HeldPart { pending_id: transfer.id, account_id: leg.from, amount: amount.get() });
                }
                chain.push(transfer);
            }
            let chain = close(chain);
            let payment = Payment {
                id: id.to_owned(),
                customer_id: member.member.customer().to_string(),
                order_number: reference.to_owned(),
                client: request.client,
                member_id: request.member,
                receiver: shares[0].receiver,
                amount: request.amount,
                paid: request.amount,
                remainder: 0,
                status: PaymentStatus::Paying,
                deductions: parts(&plan.deductions),
                holds: Vec::new(),
                refunds: Vec::new(),
                reason: None,
                created_at: work.now,
                in_flight: store_chain(&chain),
                on_success: Some(PaymentStatus::Paid),
                on_refusal: Some(PaymentStatus::Failed),
                capturing: Vec::new(),
                counted: None,
                splits,
                operator,
                limits,
                store_id: None,
                terminal_id: None,
                family_card: None,
            };
            work.put(&payment);
            let shares: Vec<_> = payment
                .splits
                .iter()
                .map(|s| json!({ "account_id": s.account_id.to_string(), "amount": s.amount, "escrow": s.escrow }))
                .collect();
            work.history(
                id,
                &payment.customer_id,
                "payment.created",
                actor,
                None,
                json!({ "amount": payment.amount, "paid": payment.paid, "status": payment.status, "splits": shares }),
            );
            Ok(payment)
        })?;
        self.resume_payment(payment, actor).await
    }

    /// Releases one receiver's escrowed share of a split payment: its held money becomes the
    /// receiver's. Decided by the platform or the payer's side (the receiver's side is refused
    /// `escrow_release_not_allowed`). Repeating it answers the payment as it is.
    pub async fn release_split(
        &self,
        client: ClientId,
        number: &OrderNumber,
        receiver: AccountId,
        by: Refunder,
        actor: &Actor,
    ) -> Result<Payment, WalletFailure> {
        let id = order_record_id("payment", client, number);
        let _turn = self.turn([id.clone()]).await;
        let seen = load(&mut self.parties.reader(), &id).await?;
        self.may_decide(by, seen.member_id, receiver, true, ESCROW_RELEASE_NOT_ALLOWED, ORDER_NOT_FOUND).await?;
        if seen.splits.is_empty() {
            return Err(WalletFailure::Rejected(PAYMENT_NOT_SPLIT));
        }
        let Some(share) = seen.splits.iter().find(|s| s.account_id == receiver) else {
            return Err(WalletFailure::NotFound(SPLIT_RECEIVER_NOT_FOUND));
        };
        if !share.escrow {
            return Err(WalletFailure::Rejected(PAYMENT_NOT_ESCROWED));
        }
        self.settle_split(&id, actor).await?;
        let seen = load(&mut self.parties.reader(), &id).await?;
        if seen.status != PaymentStatus::Paid {
            return Err(WalletFailure::Rejected(ORDER_STATE_INVALID));
        }
        if seen.splits.iter().any(|s| s.account_id == receiver && s.status == ShareStatus::Escrowed) {
            self.account_may_receive(receiver, PlatformProduct::SplitPayment).await?;
        }
        let step = format!("split_release:{receiver}:{}", seen.refunds.len());
        transact!(&self.parties, |work| {
            let mut payment = load(work, &id).await?;
            let reference = payment.order_number.clone();
            let Some(index) = payment.splits.iter().position(|s| s.account_id == receiver) else {
                return Err(WalletFailure::NotFound(SPLIT_RECEIVER_NOT_FOUND));
            };
            if payment.splits[index].status != ShareStatus::Escrowed {
                return Ok(());
            }
            let mut next = ids_for(&id, &step);
            let holds = current_holds(&payment, &payment.splits[index]).to_vec();
            let share = &mut payment.splits[index];
            share.holds = holds;
            let chain: Vec<TransferRequest> = share
                .holds
                .iter()
                .map(|h| {
                    let action = TransferAction::PostPending { pending_id: h.pending_id, amount: None };
                    let mut transfer = transfer_request(&mut next, action, ESCROW_RELEASE_CODE, &reference);
                    transfer.metadata = SPLIT_METADATA.to_owned();
                    transfer
                })
                .collect();
            // A share refunded whole holds nothing: released with nothing to move.
            share.status = if chain.is_empty() { ShareStatus::Released } else { ShareStatus::Releasing };
            share.in_flight = store_chain(&close(chain));
            let customer = payment.customer_id.clone();
            work.put(&payment);
            work.history(
                &id,
                &customer,
                "payment.split_release_requested",
                actor,
                None,
                json!({ "account_id": receiver.to_string() }),
            );
            Ok(())
        })?;
        // Refunds another instance decided meanwhile go first: the release posts the holds they leave.
        let processing: Vec<String> = load(&mut self.parties.reader(), &id)
            .await?
            .refunds
            .iter()
            .filter(|r| r.status == RefundStatus::Processing)
            .map(|r| r.refund_number.clone())
            .collect();
        for number in processing {
            match self.finish_split_refund(&id, &number, actor).await {
                Ok(_) | Err(WalletFailure::Rejected(_)) => {}
                Err(other) => return Err(other),
            }
        }
        self.resume_share(&id, receiver, actor).await
    }

    /// Submits a share's release chain, if any, and records its outcome.
    async fn resume_share(&self, id: &str, receiver: AccountId, actor: &Actor) -> Result<Payment, WalletFailure> {
        let seen = load(&mut self.parties.reader(), id).await?;
        let Some(share) = seen.splits.iter().find(|s| s.account_id == receiver) else {
            return Err(WalletFailure::NotFound(SPLIT_RECEIVER_NOT_FOUND));
        };
        if share.in_flight.is_empty() {
            return Ok(seen);
        }
        let requests = restore_chain(&share.in_flight)?;
        let outcome = chain::apply(&self.ledger, requests.clone()).await?;
        let refusal = self.name_ledger_block(outcome.err(), &requests).await?;
        let payment = transact!(&self.parties, |work| {
            let mut payment = load(work, id).await?;
            let customer = payment.customer_id.clone();
            let Some(share) = payment.splits.iter_mut().find(|s| s.account_id == receiver) else {
                return Err(WalletFailure::NotFound(SPLIT_RECEIVER_NOT_FOUND));
            };
            if share.in_flight.is_empty() {
                return Ok(payment);
            }
            share.in_flight = Vec::new();
            share.status = if refusal.is_none() { ShareStatus::Released } else { ShareStatus::Escrowed };
            let detail = json!({ "account_id": receiver.to_string(), "status": share.status });
            work.put(&payment);
            work.history(id, &customer, "payment.split_released", actor, None, detail);
            Ok(payment)
        })?;
        match refusal {
            Some(refusal) => Err(refusal),
            None => Ok(payment),
        }
    }

    /// Finishes what a crash (or another instance) left in flight on a split payment: refunds still
    /// processing and releases being applied, each resubmitting its decided chain (applied once).
    async fn settle_split(&self, id: &str, actor: &Actor) -> Result<(), WalletFailure> {
        let seen = load(&mut self.parties.reader(), id).await?;
        for refund in seen.refunds.iter().filter(|r| r.status == RefundStatus::Processing) {
            match self.finish_split_refund(id, &refund.refund_number, actor).await {
                Ok(_) | Err(WalletFailure::Rejected(_)) => {}
                Err(other) => return Err(other),
            }
        }
        for share in seen.splits.iter().filter(|s| !s.in_flight.is_empty()) {
            match self.resume_share(id, share.account_id, actor).await {
                Ok(_) | Err(WalletFailure::Rejected(_)) => {}
                Err(other) => return Err(other),
            }
        }
        Ok(())
    }

    /// Refunds `amount` of a split payment under the caller's refund number: in proportion to what
    /// each receiver still holds, or as `named` (receiver account, amount) says. Made by the platform
    /// only (the module's documentation). The same refund number again answers that refund as it is.
    #[allow(clippy::too_many_arguments)]
    pub async fn refund_split_by(
        &self,
        client: ClientId,
        number: &OrderNumber,
        refund_number: &OrderNumber,
        amount: i64,
        named: Option<Vec<(AccountId, i64)>>,
        by: Refunder,
        actor: &Actor,
    ) -> Result<Refund, WalletFailure> {
        let id = order_record_id("payment", client, number);
        // The money comes out of the receivers' accounts: their wallets wait too.
        let mut keys = vec![id.clone()];
        if let Some(payment) = self.parties.reader().get::<Payment>(&id).await? {
            for share in &payment.splits {
                keys.extend(self.account_wallet_key(share.account_id).await?);
            }
        }
        let _turn = self.turn(keys).await;
        let seen = load(&mut self.parties.reader(), &id).await?;
        if let Refunder::Member(member) = by {
            let mut involved = seen.member_id == member;
            for share in &seen.splits {
                match self.parties.owning_member(MemberObject::Account(share.account_id)).await {
                    Ok(owner) => involved |= owner == member,
                    Err(PartyError::NotFound(_)) => {}
                    Err(other) => return Err(other.into()),
                }
            }
            return Err(if involved {
                WalletFailure::Rejected(REFUND_NOT_ALLOWED)
            } else {
                WalletFailure::NotFound(ORDER_NOT_FOUND)
            });
        }
        if seen.splits.is_empty() {
            return Err(WalletFailure::Rejected(PAYMENT_NOT_SPLIT));
        }
        self.settle_split(&id, actor).await?;
        let seen = load(&mut self.parties.reader(), &id).await?;
        if !seen.refunds.iter().any(|r| r.refund_number == refund_number.as_str()) {
            for share in &seen.splits {
                if let Some(restriction) = self.account_restriction(share.account_id, Side::Pays).await? {
                    return Err(restriction);
                }
            }
            for part in &seen.deductions {
                if let Some(restriction) = self.account_restriction(part.account_id, Side::Receives).await? {
                    return Err(restriction);
                }
            }
        }
        let step = format!("split_refund:{}", refund_number.as_str());
        let refund = transact!(&self.parties, |work| {
            let mut payment = load(work, &id).await?;
            if let Some(refund) = payment.refunds.iter().find(|r| r.refund_number == refund_number.as_str()) {
                if refund.amount != amount {
                    return Err(WalletFailure::Rejected(REFUND_NUMBER_REUSED));
                }
                return Ok(refund.clone());
            }
            if payment.status != PaymentStatus::Paid {
                return Err(WalletFailure::Rejected(PAYMENT_NOT_REFUNDABLE));
            }
            let holding: Vec<i64> = payment.splits.iter().map(|s| s.amount - s.refunded(&payment)).collect();
            let named: Option<Vec<i64>> = match &named {
                None => None,
                Some(named) => {
                    let mut per_share = vec![0i64; payment.splits.len()];
                    for (i, (account, part)) in named.iter().enumerate() {
                        let index = payment.splits.iter().position(|s| s.account_id == *account);
                        let Some(index) = index.filter(|_| !named[..i].iter().any(|(a, _)| a == account)) else {
                            return Err(WalletError::SplitReceiversInvalid.into());
                        };
                        per_share[index] = *part;
                    }
                    Some(per_share)
                }
            };
            let takes = plan_share_refund(&holding, amount, named.as_deref())?;
            let mut next = ids_for(&id, &step);
            let reference = payment.order_number.clone();
            let mut chain = Vec::new();
            let mut shares = Vec::new();
            for (share, take) in payment.splits.iter().zip(takes) {
                if take == 0 {
                    continue;
                }
                let returned: Vec<Deduction> = counting_refunds(&payment)
                    .flat_map(|r| &r.shares)
                    .filter(|s| s.account_id == share.account_id)
                    .flat_map(|s| deductions(&s.returns))
                    .collect();
                let plan = plan_refund(&deductions(&share.sources), &returned, take)?;
                let holds = match share.status {
                    ShareStatus::Paid | ShareStatus::Released => {
                        for r in &plan.returns {
                            let action = TransferAction::Post {
                                debit_account_id: share.account_id,
                                credit_account_id: r.account_id,
                                amount: r.amount,
                                balancing: false,
                            };
                            chain.push(transfer_request(&mut next, action, BusinessType::Refund.as_str(), &reference));
                        }
                        None
                    }
                    ShareStatus::Escrowed => {
                        // Taken back from escrow: every hold voided, what is left of the share held again.
                        for h in current_holds(&payment, share) {
                            let action = TransferAction::VoidPending { pending_id: h.pending_id };
                            chain.push(transfer_request(&mut next, action, ESCROW_RETURN_CODE, &reference));
                        }
                        let mut holds = Vec::new();
                        for source in &share.sources {
                            let back: i64 = returned
                                .iter()
                                .chain(&plan.returns)
                                .filter(|r| r.account_id == source.account_id)
                                .map(|r| r.amount.get())
                                .sum();
                            let Some(left) = Amount::new(source.amount - back) else { continue };
                            let action = TransferAction::Hold {
                                debit_account_id: source.account_id,
                                credit_account_id: share.account_id,
                                amount: left,
                                balancing: false,
                                timeout_s: None,
                            };
                            let transfer = transfer_request(&mut next, action, ESCROW_HOLD_CODE, &reference);
                            holds.push(HeldPart {
                                pending_id: transfer.id,
                                account_id: source.account_id,
                                amount: left.get(),
                            });
                            chain.push(transfer);
                        }
                        Some(holds)
                    }
                    ShareStatus::Releasing => return Err(WalletFailure::Rejected(ORDER_STATE_INVALID)),
                };
                shares.push(ShareRefund {
                    account_id: share.account_id,
                    amount: take,
                    returns: parts(&plan.returns),
                    holds,
                });
            }
            // What goes back to each of the payer's accounts, all receivers together.
            let mut returns: Vec<Part> = Vec::new();
            for part in shares.iter().flat_map(|s| &s.returns) {
                match returns.iter_mut().find(|r| r.account_id == part.account_id) {
                    Some(r) => r.amount += part.amount,
                    None => returns.push(*part),
                }
            }
            let refund = Refund {
                refund_number: refund_number.as_str().to_owned(),
                amount,
                returns,
                status: RefundStatus::Processing,
                reason: None,
                in_flight: store_chain(&close(chain)),
                shares,
            };
            payment.refunds.push(refund.clone());
            work.put(&payment);
            let taken: Vec<_> = refund
                .shares
                .iter()
                .map(|s| json!({ "account_id": s.account_id.to_string(), "amount": s.amount }))
                .collect();
            work.history(
                &id,
                &payment.customer_id,
                "payment.refund_requested",
                actor,
                None,
                json!({ "refund": refund.refund_number, "amount": amount, "splits": taken }),
            );
            Ok(refund)
        })?;
        if refund.status != RefundStatus::Processing {
            return Ok(refund);
        }
        self.finish_split_refund(&id, refund_number.as_str(), actor).await
    }

    /// Submits a split refund's decided chain and records its outcome: a held share's new holds on
    /// success; nothing moved on a refusal (the refund is `failed` and stops counting).
    async fn finish_split_refund(&self, id: &str, refund_number: &str, actor: &Actor) -> Result<Refund, WalletFailure> {
        // Refunds decided before it (by another instance) go first: its chain may void the holds
        // theirs make. Each is applied once however often it is submitted.
        let seen = load(&mut self.parties.reader(), id).await?;
        let earlier: Vec<String> = seen
            .refunds
            .iter()
            .take_while(|r| r.refund_number != refund_number)
            .filter(|r| r.status == RefundStatus::Processing)
            .map(|r| r.refund_number.clone())
            .collect();
        for number in earlier {
            match self.finish_one_split_refund(id, &number, actor).await {
                Ok(_) | Err(WalletFailure::Rejected(_)) => {}
                Err(other) => return Err(other),
            }
        }
        self.finish_one_split_refund(id, refund_number, actor).await
    }

    async fn finish_one_split_refund(
        &self,
        id: &str,
        refund_number: &str,
        actor: &Actor,
    ) -> Result<Refund, WalletFailure> {
        let seen = load(&mut self.parties.reader(), id).await?;
        let Some(refund) = seen.refunds.iter().find(|r| r.refund_number == refund_number) else {
            return Err(WalletFailure::NotFound(ORDER_NOT_FOUND));
        };
        if refund.status != RefundStatus::Processing {
            return Ok(refund.clone());
        }
        let requests = restore_chain(&refund.in_flight)?;
        let outcome = chain::apply(&self.ledger, requests.clone()).await?;
        let refusal = self.name_ledger_block(outcome.err(), &requests).await?;
        let refund = transact!(&self.parties, |work| {
            let mut payment = load(work, id).await?;
            let customer = payment.customer_id.clone();
            let Some(index) = payment.refunds.iter().position(|r| r.refund_number == refund_number) else {
                return Err(WalletFailure::NotFound(ORDER_NOT_FOUND));
            };
            if payment.refunds[index].status != RefundStatus::Processing {
                return Ok(payment.refunds[index].clone());
            }
            let refund = &mut payment.refunds[index];
            refund.in_flight = Vec::new();
            refund.status = if refusal.is_none() { RefundStatus::Succeeded } else { RefundStatus::Failed };
            refund.reason = refusal.as_ref().map(|r| r.code().to_owned());
            let refund = refund.clone();
            // A held share's holds: those the last succeeded refund that took part of it left.
            for share in &mut payment.splits {
                let last = payment
                    .refunds
                    .iter()
                    .filter(|r| r.status == RefundStatus::Succeeded)
                    .flat_map(|r| &r.shares)
                    .filter(|s| s.account_id == share.account_id)
                    .filter_map(|s| s.holds.as_ref())
                    .next_back();
                if let Some(holds) = last {
                    share.holds = holds.clone();
                }
            }
            let action = if refusal.is_none() { "payment.refunded" } else { "payment.refund_failed" };
            let detail = json!({ "refund": refund.refund_number, "amount": refund.amount });
            work.put(&payment);
            work.history(id, &customer, action, actor, None, detail);
            Ok(refund)
        })?;
        match refusal {
            Some(refusal) if refund.status == RefundStatus::Failed => Err(refusal),
            _ => Ok(refund),
        }
    }
}
