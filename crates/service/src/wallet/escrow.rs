//! Escrow payments (担保支付), the car-rental wallet's rent: "after the renter pays, the rent is
//! credited to the merchant's wallet at once as frozen balance; once both sides have signed and the
//! renter has picked up the car, it is released to the merchant, and the frozen balance becomes
//! available, and withdrawable."
//!
//! An escrow payment is a [`Payment`] made with [`PaymentMode::Escrow`](super::PaymentMode): the
//! same deductions from the payer's wallet, in the same order, with the same pay password and split
//! payment rules, but as **holds from the payer's accounts to the receiver's**. The ledger counts
//! them as the payer's frozen money and the receiver's incoming money (its pending credits,
//! `WalletAccount::incoming`), so neither can spend them and the merchant sees what is coming. Then:
//!
//! - [`Wallets::release_escrow`] posts every hold in full: the money is the receiver's available
//!   balance, and the payment is refundable from then on like a paid one (`escrow_released`);
//! - [`Wallets::return_escrow`] voids them: the money is the payer's again (`escrow_returned`).
//!
//! The holds have no timeout. An expiry would hand the rent back to the renter while the car is out;
//! escrow ends by a decision, and each decision is one linked chain with ids derived from the payment
//! (`chain.rs`), so repeating it, or two instances deciding at once, moves the money once. Releasing a
//! returned escrow, or returning a released one, is refused with its own code.
//!
//! **Who decides** (`Wallets::may_decide`, for deposits too): the platform (an unbound client or
//! staff) either way. Money going forward to the receiver is let go by the payer's side; money going
//! back to the payer is given up by the receiver's side. The other side is refused with the step's own
//! code (`escrow_release_not_allowed`, `escrow_return_not_allowed`): a payer's client cannot claw back
//! what it promised, a receiver's client cannot take what the payer has not let go. A member's client
//! that is neither payer nor receiver finds no such order.

use sanhu_core::id::{ClientId, MemberId};
use sanhu_core::ledger::{TransferAction, TransferRequest};
use sanhu_core::party::product::PlatformProduct;
use sanhu_core::party::Actor;
use sanhu_core::wallet::{plan_capture, release_holds, PaymentPlan, TransferMeta};
use sanhu_core::AccountId;

use super::chain::{ids_for, store_chain};
use super::error::*;
use super::payment::{held, load, parts, HeldPart, Payment, PaymentStatus, Refunder};
use super::records::{order_record_id, OrderNumber};
use super::Wallets;
use crate::party::PartyError;
use crate::party::{MemberObject, Rejection};
use crate::wallet::WalletFailure;

/// Business codes of an escrow's transfers: the holds, their release to the receiver, their return.
pub const ESCROW_HOLD_CODE: &str = "escrow";
pub const ESCROW_RELEASE_CODE: &str = "escrow_release";
pub const ESCROW_RETURN_CODE: &str = "escrow_return";

/// The holds of an escrow payment: one per deduction, from the payer's account to the receiver,
/// without a timeout, as one linked chain with ids derived from the payment record.
pub(super) fn escrow_holds(
    plan: &PaymentPlan,
    receiver: AccountId,
    meta: &TransferMeta,
    record: &str,
) -> (Vec<TransferRequest>, Vec<HeldPart>) {
    let mut next = ids_for(record, "escrow");
    let last = plan.deductions.len().saturating_sub(1);
    let requests: Vec<TransferRequest> = plan
        .deductions
        .iter()
        .enumerate()
        .map(|(i, d)| TransferRequest {
            id: next(),
            action: TransferAction::Hold {
                debit_account_id: d.account_id,
                credit_account_id: receiver,
                amount: d.amount,
                balancing: false,
                timeout_s: None,
            },
            linked: i < last,
            code: ESCROW_HOLD_CODE.to_owned(),
            reference: meta.reference.clone(),
            metadata: meta.metadata.clone(),
        })
        .collect();
    let holds = requests
        .iter()
        .zip(&plan.deductions)
        .map(|(r, d)| HeldPart { pending_id: r.id, account_id: d.account_id, amount: d.amount.get() })
        .collect();
    (requests, holds)
}

/// Which way an escrow ends.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    ToReceiver,
    ToPayer,
}

impl Wallets {
    /// Releases an escrow payment to its receiver: the frozen money becomes the receiver's available
    /// balance (分账给商户). Repeating it answers the payment as it is.
    pub async fn release_escrow(
        &self,
        client: ClientId,
        number: &OrderNumber,
        actor: &Actor,
    ) -> Result<Payment, WalletFailure> {
        self.release_escrow_by(client, number, Refunder::Platform, actor).await
    }

    /// [`Wallets::release_escrow`] decided by `by`: the platform or the payer's side; the receiver's
    /// side is refused `escrow_release_not_allowed`.
    pub async fn release_escrow_by(
        &self,
        client: ClientId,
        number: &OrderNumber,
        by: Refunder,
        actor: &Actor,
    ) -> Result<Payment, WalletFailure> {
        self.end_escrow(client, number, Outcome::ToReceiver, by, actor).await
    }

    /// Returns an escrow payment to the payer: the holds are voided and the money is available to the
    /// payer again (the rental is cancelled before pick-up). Repeating it answers the payment as it is.
    pub async fn return_escrow(
        &self,
        client: ClientId,
        number: &OrderNumber,
        actor: &Actor,
    ) -> Result<Payment, WalletFailure> {
        self.return_escrow_by(client, number, Refunder::Platform, actor).await
    }

    /// [`Wallets::return_escrow`] decided by `by`: the platform or the receiver's side; the payer's
    /// side is refused `escrow_return_not_allowed`.
    pub async fn return_escrow_by(
        &self,
        client: ClientId,
        number: &OrderNumber,
        by: Refunder,
        actor: &Actor,
    ) -> Result<Payment, WalletFailure> {
        self.end_escrow(client, number, Outcome::ToPayer, by, actor).await
    }

    /// Whether `by` may decide that money held from `payer` for `receiver` goes forward to the
    /// receiver (`forward`) or back to the payer: the platform either way; a member's side only the
    /// way that gives up its own claim (the payer's forward, the receiver's back). The other side is
    /// refused `refused`; a member that is neither finds no such order (`missing`, the order's
    /// not-found code).
    pub(super) async fn may_decide(
        &self,
        by: Refunder,
        payer: MemberId,
        receiver: AccountId,
        forward: bool,
        refused: Rejection,
        missing: Rejection,
    ) -> Result<(), WalletFailure> {
        let Refunder::Member(member) = by else {
            return Ok(());
        };
        // A platform account belongs to no member.
        let receiving = match self.parties.owning_member(MemberObject::Account(receiver)).await {
            Ok(owner) => owner == member,
            Err(PartyError::NotFound(_)) => false,
            Err(other) => return Err(other.into()),
        };
        let paying = payer == member;
        if (forward && paying) || (!forward && receiving) {
            Ok(())
        } else if paying || receiving {
            Err(WalletFailure::Rejected(refused))
        } else {
            Err(WalletFailure::NotFound(missing))
        }
    }

    async fn end_escrow(
        &self,
        client: ClientId,
        number: &OrderNumber,
        outcome: Outcome,
        by: Refunder,
        actor: &Actor,
    ) -> Result<Payment, WalletFailure> {
        let id = order_record_id("payment", client, number);
        let _turn = self.turn([id.clone()]).await;
        // Holds still being placed (a crash, or a retry racing the first call) are finished first, so
        // that the decision below meets the escrow held or refused, never half-made.
        let seen = load(&mut self.parties.reader(), &id).await?;
        // Who decides, before anything moves (the module's documentation).
        let (forward, refused) = match outcome {
            Outcome::ToReceiver => (true, ESCROW_RELEASE_NOT_ALLOWED),
            Outcome::ToPayer => (false, ESCROW_RETURN_NOT_ALLOWED),
        };
        self.may_decide(by, seen.member_id, seen.receiver, forward, refused, ORDER_NOT_FOUND).await?;
        if seen.status == PaymentStatus::Escrowing {
            match self.resume_payment(seen, actor).await {
                Ok(_) | Err(WalletFailure::Rejected(_)) => {}
                Err(other) => return Err(other),
            }
        }
        // Released, the money becomes the receiver's: a receiver that may not receive is refused now.
        if outcome == Outcome::ToReceiver {
            let seen = load(&mut self.parties.reader(), &id).await?;
            if seen.status == PaymentStatus::Escrowed {
                self.account_may_receive(seen.receiver, PlatformProduct::EscrowCollection).await?;
            }
        }
        let (during, done, refused) = match outcome {
            Outcome::ToReceiver => (PaymentStatus::EscrowReleasing, PaymentStatus::EscrowReleased, ESCROW_RETURNED),
            Outcome::ToPayer => (PaymentStatus::EscrowReturning, PaymentStatus::EscrowReturned, ESCROW_RELEASED),
        };
        let payment = transact!(&self.parties, |work| {
            let mut payment = load(work, &id).await?;
            match payment.status {
                status if status == during || status == done => return Ok(payment),
                PaymentStatus::Escrowed => {}
                PaymentStatus::EscrowReleasing
                | PaymentStatus::EscrowReleased
                | PaymentStatus::EscrowReturning
                | PaymentStatus::EscrowReturned => return Err(WalletFailure::Rejected(refused)),
                _ => return Err(WalletFailure::Rejected(PAYMENT_NOT_ESCROWED)),
            }
            let holds = held(&payment);
            let meta = TransferMeta::new(Some(payment.order_number.clone()));
            let (mut chain, capturing) = match outcome {
                Outcome::ToReceiver => {
                    let capture = plan_capture(&holds, payment.paid, &meta, &mut ids_for(&id, "escrow_release"))?;
                    (capture.requests, parts(&capture.captured))
                }
                Outcome::ToPayer => (release_holds(&holds, &meta, &mut ids_for(&id, "escrow_return"))?, Vec::new()),
            };
            let code = if outcome == Outcome::ToReceiver { ESCROW_RELEASE_CODE } else { ESCROW_RETURN_CODE };
            for request in &mut chain {
                request.code = code.to_owned();
            }
            payment.status = during;
            payment.in_flight = store_chain(&chain);
            payment.on_success = Some(done);
            payment.on_refusal = Some(PaymentStatus::Escrowed);
            payment.capturing = capturing;
            work.put(&payment);
            Ok(payment)
        })?;
        self.resume_payment(payment, actor).await
    }
}
