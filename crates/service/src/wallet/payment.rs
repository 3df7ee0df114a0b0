//! Paying from the wallet (余额支付), authorise then capture or release (冻结/扣款), and refunds (退款).
//! Escrow payments (担保支付) start here too and are released or returned in `escrow.rs`.
//!
//! A payment is one record (`payment:cli_…:ORDER`) with what it took from which account, so that a
//! refund gives every fen back to where it came from, in the reverse order (core's `plan_refund`).
//!
//! **Refunds never exceed the payment, even concurrent ones.** A refund is decided and written into
//! the payment record (state `processing`, with its chain) in one `transact!`, counting every earlier
//! refund that is not failed, processing ones included. Two refunds at once both write the payment
//! record; the second meets the first's version and decides again, now counting the first. Only then
//! is the refund's chain submitted; its transfer ids are derived from (payment, refund number), so:
//! - a crash after the record was written and before the ledger answered leaves the refund
//!   `processing`: it still counts against the payment (never too much refunded), and the caller's
//!   retry with the same refund number submits the same chain, which the ledger applies once;
//! - a chain the ledger refuses (the merchant's account no longer holds the money) marks the refund
//!   `failed`, and it stops counting.

use sanhu_core::id::{ClientId, FamilyCardId, MemberId, OperatorId, StoreId, TerminalId};
use sanhu_core::party::product::PlatformProduct;
use sanhu_core::party::store::PaymentMethod;
use sanhu_core::party::{Actor, MemberAction, Operation};
use sanhu_core::wallet::{
    plan_capture, plan_payment, plan_refund, release_holds, Deduction, Hold, Shortfall, TransferMeta, Wallet,
};
use sanhu_core::{AccountId, Amount, Timestamp, TransferId};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::{self, id_text, ids_for, posted_chain, restore_chain, store_chain, Move, StoredRequest};
use super::error::*;
use super::family_card::FAMILY_CARD_PAYMENT_INVALID;
use super::pay_code::PayCodeHolder;
use super::platform::PlatformAccount;
use super::records::{json_document, order_record_id, time_ns, OrderNumber};
use super::restriction::Side;
use super::{wallet_key, PayPasswordRule, Wallets};
use crate::clock;

/// The ledger's code for a hold whose timeout passed.
const PENDING_EXPIRED: &str = "pending_expired";
use crate::party::work::Work;
use crate::party::PartyError;
use crate::party::{MemberObject, PayPasswordOwner};
use crate::wallet::WalletFailure;

/// Who makes a refund, or decides where money held between a payer and a receiver goes (escrow,
/// deposits: `escrow.rs`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refunder {
    /// The platform (an API client bound to no member, or staff).
    Platform,
    /// A member's side (an API client bound to it): only the payment's receiver may refund.
    Member(MemberId),
}

/// Who receives a payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Receiver {
    /// A merchant's member account.
    Account(AccountId),
    /// One of the platform's accounts.
    Platform(PlatformAccount),
}

/// Whether the wallet pays at once or authorises first.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PaymentMode {
    Immediate,
    /// Holds (冻结) that expire after `timeout_s` unless captured.
    Authorise {
        timeout_s: u32,
    },
    /// Escrow (担保支付): the receiver is credited as frozen (pending, its incoming balance) until
    /// the payment is released to it or returned to the payer (`escrow.rs`). No timeout: escrow
    /// ends by a decision, never by a clock.
    Escrow,
}

#[derive(Clone, Debug)]
pub struct PaymentRequest {
    pub client: ClientId,
    pub order_number: OrderNumber,
    pub member: MemberId,
    pub amount: i64,
    pub receiver: Receiver,
    /// Refuse when the wallet falls short, or pay what it can (split payment).
    pub shortfall: Shortfall,
    pub mode: PaymentMode,
    pub pay_password: Option<String>,
    /// The enterprise member's operator who pays (`operator.rs`).
    pub operator: Option<OperatorId>,
    /// The receiving merchant's store and terminal where it is paid (`counter.rs`).
    pub store: Option<StoreId>,
    pub terminal: Option<TerminalId>,
    /// A family card granted to the payer (`family_card.rs`): the money comes from the card's account,
    /// within its limits. Only for a payment at once, by the payer's ids, with no operator.
    pub family_card: Option<FamilyCardId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum PaymentStatus {
    Paying,
    Paid,
    Failed,
    Authorising,
    Authorised,
    Capturing,
    Captured,
    Releasing,
    Released,
    /// Escrow: being held, held (the receiver's incoming balance), being released to the receiver,
    /// released (the receiver's money: refundable like a paid payment), being returned, returned.
    Escrowing,
    Escrowed,
    EscrowReleasing,
    EscrowReleased,
    EscrowReturning,
    EscrowReturned,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RefundStatus {
    Processing,
    Succeeded,
    Failed,
}

/// An amount taken from or given back to one account.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Part {
    #[serde(with = "id_text")]
    pub account_id: AccountId,
    pub amount: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HeldPart {
    #[serde(with = "id_text")]
    pub pending_id: TransferId,
    #[serde(with = "id_text")]
    pub account_id: AccountId,
    pub amount: i64,
}

/// One refund of a payment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Refund {
    pub refund_number: String,
    pub amount: i64,
    pub returns: Vec<Part>,
    pub status: RefundStatus,
    pub reason: Option<String>,
    pub(super) in_flight: Vec<StoredRequest>,
    /// A split payment's refund: what it takes from each receiver (`split.rs`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shares: Vec<super::split::ShareRefund>,
}

/// A payment as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    pub id: String,
    pub customer_id: String,
    pub order_number: String,
    #[serde(with = "id_text")]
    pub client: ClientId,
    #[serde(with = "id_text")]
    pub member_id: MemberId,
    #[serde(with = "id_text")]
    pub receiver: AccountId,
    pub amount: i64,
    /// What the wallet paid (or captured); the amount less the remainder.
    pub paid: i64,
    /// What the wallet did not cover, for another payment method (split payment).
    pub remainder: i64,
    pub status: PaymentStatus,
    /// What was taken from each account, in deduction order.
    pub deductions: Vec<Part>,
    /// An authorisation's (or an escrow's) holds.
    pub holds: Vec<HeldPart>,
    pub refunds: Vec<Refund>,
    pub reason: Option<String>,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    /// The chain being applied, the status it leads to, the status a refusal leaves, and (capture)
    /// the deductions it makes.
    pub(super) in_flight: Vec<StoredRequest>,
    pub(super) on_success: Option<PaymentStatus>,
    pub(super) on_refusal: Option<PaymentStatus>,
    pub(super) capturing: Vec<Part>,
    /// What is counted against the receiving merchant's limits (`party::merchants`): the payment when
    /// it is paid or held in escrow, an authorisation when it is captured; what the merchant does not
    /// receive in the end is given back.
    #[serde(default)]
    pub(super) counted: Option<crate::party::merchants::MerchantCount>,
    /// A split payment's receivers and their shares (`split.rs`); empty for a payment to one receiver.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub splits: Vec<super::split::SplitShare>,
    /// The operator who paid and what counts towards its day (`operator.rs`).
    #[serde(default)]
    pub(super) operator: Option<super::operator::OperatorUse>,
    /// What counts against the payer's payment limits (`limits.rs`).
    #[serde(default)]
    pub(super) limits: super::limits::LimitsUse,
    /// The receiving merchant's store and terminal where it was paid (`counter.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub store_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub terminal_id: Option<String>,
    /// The family card the payment was made with, and what still counts against its month
    /// (`family_card.rs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(super) family_card: Option<super::family_card::FamilyCardUse>,
}
json_document!(Payment, "payment");

impl Payment {
    /// Refunded so far, counting refunds still processing.
    pub fn refunded(&self) -> i64 {
        self.refunds.iter().filter(|r| r.status != RefundStatus::Failed).map(|r| r.amount).sum()
    }

    /// The enterprise member's operator who made the payment, if one did.
    pub fn operator_id(&self) -> Option<OperatorId> {
        super::operator::operator_of(&self.operator)
    }

    /// The family card the payment was made with, if one was.
    pub fn family_card_id(&self) -> Option<&str> {
        self.family_card.as_ref().map(|f| f.card_id.as_str())
    }
}

pub(super) async fn load(work: &mut Work, id: &str) -> Result<Payment, WalletFailure> {
    work.get::<Payment>(id).await?.ok_or(WalletFailure::NotFound(ORDER_NOT_FOUND))
}

pub(super) fn parts(deductions: &[Deduction]) -> Vec<Part> {
    deductions.iter().map(|d| Part { account_id: d.account_id, amount: d.amount.get() }).collect()
}

pub(super) fn deductions(parts: &[Part]) -> Vec<Deduction> {
    parts
        .iter()
        .filter_map(|p| Amount::new(p.amount).map(|amount| Deduction { account_id: p.account_id, amount }))
        .collect()
}

impl Wallets {
    /// Pays an order from the member's wallet, in their deduction order, as one linked chain (or holds,
    /// when authorising). The same order number again answers the payment as it is.
    pub async fn pay(&self, request: &PaymentRequest, actor: &Actor) -> Result<Payment, WalletFailure> {
        self.pay_with(request, None, actor).await
    }

    /// Pays an order with a member's pay code (`pay_code.rs`): the payer is the code's holder
    /// (`request.member` must be it, as [`Wallets::pay_code_holder`] answered), the money is taken from
    /// the account the code names if it names one, and the code is spent in the write that records
    /// the payment. A payment refused before it is recorded leaves the code unspent.
    pub async fn pay_by_code(
        &self,
        request: &PaymentRequest,
        code: &PayCodeHolder,
        actor: &Actor,
    ) -> Result<Payment, WalletFailure> {
        if request.member != code.member {
            return Err(WalletFailure::NotFound(super::pay_code::PAY_CODE_NOT_FOUND));
        }
        self.pay_with(request, Some(code), actor).await
    }

    async fn pay_with(
        &self,
        request: &PaymentRequest,
        code: Option<&PayCodeHolder>,
        actor: &Actor,
    ) -> Result<Payment, WalletFailure> {
        let record = order_record_id("payment", request.client, &request.order_number);
        // A family card's payment takes from its owner's wallet: that wallet waits too.
        let owner = match request.family_card {
            Some(card) if self.parties.reader().get::<Payment>(&record).await?.is_none() => {
                if code.is_some()
                    || request.operator.is_some()
                    || request.mode != PaymentMode::Immediate
                    || request.shortfall != Shortfall::Refuse
                {
                    return Err(WalletFailure::Rejected(FAMILY_CARD_PAYMENT_INVALID));
                }
                Some(self.family_card_for_payment(card, request.member).await?)
            }
            _ => None,
        };
        let keys = [wallet_key(request.member), record]
            .into_iter()
            .chain(owner.as_ref().map(|c| wallet_key(c.owner_member_id)));
        let _turn = self.turn(keys).await;
        let payment = self.pay_recorded(request, code, owner.as_ref(), actor).await?;
        // The ledger refused its chain when it was first asked (the answer then was the refusal):
        // asked again, it is refused again.
        if payment.status == PaymentStatus::Failed {
            return Err(recorded_refusal(payment.reason.as_deref()));
        }
        Ok(payment)
    }

    async fn pay_recorded(
        &self,
        request: &PaymentRequest,
        code: Option<&PayCodeHolder>,
        card: Option<&super::family_card::FamilyCard>,
        actor: &Actor,
    ) -> Result<Payment, WalletFailure> {
        let id = order_record_id("payment", request.client, &request.order_number);
        if let Some(existing) = self.parties.reader().get::<Payment>(&id).await? {
            return self.resume_payment(same_payment(existing, request)?, actor).await;
        }
        let member = self.parties.member_acts(request.member, MemberAction::Pay).await?;
        self.customer_may(member.member.customer(), Side::Pays).await?;
        // At a store's counter, the store's settings decide the method and the pay password.
        let method = code.map_or(PaymentMethod::Balance, PayCodeHolder::method);
        let counter = self.counter_at(request.store, request.terminal, &request.receiver, method).await?;
        self.check_pay_password_at(request.member, request.pay_password.as_deref(), request.amount, counter.as_ref())
            .await?;
        let receiver = self.receiver_account(&request.receiver).await?;
        self.not_own_account(request.member, member.member.customer(), receiver).await?;
        self.spent_within_scope(&member, receiver).await?;
        // A family card's owner pays: it must be able to, and is not paid back its own money.
        let family = match card {
            Some(card) => {
                let owner = self.parties.member_acts(card.owner_member_id, MemberAction::Pay).await?;
                self.customer_may(owner.member.customer(), Side::Pays).await?;
                self.not_own_account(card.owner_member_id, owner.member.customer(), receiver).await?;
                // The owner's money spends where the owner's would (a franchise's members' wallets).
                self.spent_within_scope(&owner, receiver).await?;
                Some((card, self.family_through_account(request.member).await?))
            }
            None => None,
        };
        // Escrow is its own product (担保收款); paid or authorised, the balance payment's.
        let product = match request.mode {
            PaymentMode::Escrow => PlatformProduct::EscrowCollection,
            _ => PlatformProduct::BalancePayment,
        };
        self.account_may_receive(receiver, product).await?;
        let order = match family {
            Some((card, _)) => self.deduction_order(card.owner_member_id).await?,
            None => self.deduction_order(request.member).await?,
        };
        let payment = transact!(&self.parties, WalletFailure, |work| {
            if let Some(existing) = work.get::<Payment>(&id).await? {
                return same_payment(existing, request);
            }
            let wallet = match family {
                // A family card pays from its account alone.
                Some((card, _)) => self.load_wallet(card.owner_member_id).await?.only(|a| a == card.account_id),
                None => {
                    let mut wallet = self.load_wallet(request.member).await?;
                    // A pay code that names an account pays from it alone.
                    if let Some(account) = code.and_then(|c| c.account) {
                        wallet = wallet.only(|a| a == account);
                    }
                    self.operator_wallet(work, &member.member, request.operator, Operation::Pay, wallet).await?
                }
            };
            let plan = match plan_payment(&wallet, &order, request.amount, request.shortfall) {
                Ok(plan) => plan,
                Err(refusal) => {
                    let passes = |w: &Wallet| plan_payment(w, &order, request.amount, request.shortfall).is_ok();
                    return Err(self.blocked_cause(&wallet, Side::Pays, refusal, passes).await);
                }
            };
            // A merchant's account receives within its type's limits, counted in this same write: a
            // payment or an escrow now, an authorisation (checked now) when it is captured.
            let count = !matches!(request.mode, PaymentMode::Authorise { .. });
            let counted = crate::party::merchants::merchant_receives(
                &self.parties,
                work,
                receiver,
                request.amount,
                count,
                product,
            )
            .await?;
            let taken = parts(&plan.deductions);
            let accounts: Vec<AccountId> = taken.iter().map(|p| p.account_id).collect();
            let (operator, limits, family_use) = match family {
                // The card's limits, and the owner's own payment limits on its account.
                // The payer's own payment limits count it too, as paid from its account it passes through.
                Some((card, through)) => {
                    let used =
                        super::family_card::family_card_pays(work, self, &card.id, request.amount, through).await?;
                    let owners = self.payment_within_limits(work, card.owner_member_id, &wallet, &taken).await?;
                    let payer_wallet = self.load_wallet(request.member).await?;
                    let passing = [Part { account_id: through, amount: plan.paid() }];
                    let payers = self.payment_within_limits(work, request.member, &payer_wallet, &passing).await?;
                    (None, owners.and(payers), Some(used))
                }
                None => {
                    let operator = self
                        .operator_acts(work, &member.member, request.operator, Operation::Pay, plan.paid(), &accounts)
                        .await?;
                    (operator, self.payment_within_limits(work, request.member, &wallet, &taken).await?, None)
                }
            };
            if let Some(code) = code {
                super::pay_code::spend(work, &self.parties, code, &id).await?;
            }
            let meta =
                super::operator::meta(TransferMeta::new(Some(request.order_number.as_str().to_owned())), &operator);
            let meta = super::counter::meta(meta, counter.as_ref());
            let (status, chain, holds) = match request.mode {
                // The owner's account to the family member's, then on to the receiver: one chain.
                PaymentMode::Immediate if family_use.is_some() => {
                    let through = family_use.as_ref().map(|f| f.through_account_id).expect("a family card's use");
                    let moves: Vec<Move> = plan
                        .deductions
                        .iter()
                        .flat_map(|d| {
                            [
                                Move { debit: d.account_id, credit: through, amount: d.amount, code: "family_card" },
                                Move { debit: through, credit: receiver, amount: d.amount, code: "pay" },
                            ]
                        })
                        .collect();
                    let mut chain = posted_chain(&moves, &id, "pay", request.order_number.as_str());
                    for transfer in &mut chain {
                        transfer.metadata = meta.metadata.clone();
                    }
                    (PaymentStatus::Paying, chain, Vec::new())
                }
                PaymentMode::Immediate => {
                    let chain = plan.transfers(receiver, &meta, &mut ids_for(&id, "pay"));
                    (PaymentStatus::Paying, chain, Vec::new())
                }
                PaymentMode::Authorise { timeout_s } => {
                    let auth = plan.authorise(receiver, timeout_s, &meta, &mut ids_for(&id, "authorise"))?;
                    let holds = auth
                        .holds
                        .iter()
                        .map(|h| HeldPart {
                            pending_id: h.pending_id,
                            account_id: h.account_id,
                            amount: h.amount.get(),
                        })
                        .collect();
                    (PaymentStatus::Authorising, auth.requests, holds)
                }
                PaymentMode::Escrow => {
                    let (chain, holds) = super::escrow::escrow_holds(&plan, receiver, &meta, &id);
                    (PaymentStatus::Escrowing, chain, holds)
                }
            };
            let on_success = match status {
                PaymentStatus::Paying => PaymentStatus::Paid,
                PaymentStatus::Escrowing => PaymentStatus::Escrowed,
                _ => PaymentStatus::Authorised,
            };
            let payment = Payment {
                id: id.clone(),
                customer_id: member.member.customer().to_string(),
                order_number: request.order_number.as_str().to_owned(),
                client: request.client,
                member_id: request.member,
                receiver,
                amount: request.amount,
                paid: plan.paid(),
                remainder: plan.remainder,
                status,
                deductions: if status == PaymentStatus::Paying { parts(&plan.deductions) } else { Vec::new() },
                holds,
                refunds: Vec::new(),
                reason: None,
                created_at: work.now,
                in_flight: store_chain(&chain),
                on_success: Some(on_success),
                on_refusal: Some(PaymentStatus::Failed),
                capturing: Vec::new(),
                counted,
                splits: Vec::new(),
                operator,
                limits,
                store_id: counter.as_ref().map(|c| c.store_id.to_string()),
                terminal_id: counter.as_ref().and_then(|c| c.terminal_id).map(|t| t.to_string()),
                family_card: family_use,
            };
            work.put(&payment);
            work.history(
                &id,
                &payment.customer_id,
                "payment.created",
                actor,
                None,
                json!({ "amount": payment.amount, "paid": payment.paid, "status": status, "pay_code": code.is_some(),
                        "store_id": payment.store_id, "terminal_id": payment.terminal_id,
                        "family_card_id": payment.family_card_id() }),
            );
            Ok(payment)
        })?;
        self.resume_payment(payment, actor).await
    }

    pub async fn get_payment(&self, client: ClientId, number: &OrderNumber) -> Result<Payment, WalletFailure> {
        load(&mut self.parties.reader(), &order_record_id("payment", client, number)).await
    }

    /// Captures `amount` of an authorised payment; what is not captured is released.
    pub async fn capture(
        &self,
        client: ClientId,
        number: &OrderNumber,
        amount: i64,
        actor: &Actor,
    ) -> Result<Payment, WalletFailure> {
        let id = order_record_id("payment", client, number);
        let _turn = self.turn([id.clone()]).await;
        // Captured, the money becomes the receiver's: a receiver that may not receive is refused now.
        let seen = load(&mut self.parties.reader(), &id).await?;
        if seen.status == PaymentStatus::Authorised {
            self.account_may_receive(seen.receiver, PlatformProduct::BalancePayment).await?;
        }
        let payment = transact!(&self.parties, WalletFailure, |work| {
            let mut payment = load(work, &id).await?;
            match payment.status {
                PaymentStatus::Capturing | PaymentStatus::Captured => return Ok(payment),
                PaymentStatus::Authorised => {}
                _ => return Err(WalletFailure::Rejected(ORDER_STATE_INVALID)),
            }
            let holds = held(&payment);
            let meta = TransferMeta::new(Some(payment.order_number.clone()));
            let capture = plan_capture(&holds, amount, &meta, &mut ids_for(&id, "capture"))?;
            // What is captured is what the merchant receives: counted now, within its limits.
            let captured: i64 = capture.captured.iter().map(|c| c.amount.get()).sum();
            payment.counted = crate::party::merchants::merchant_receives(
                &self.parties,
                work,
                payment.receiver,
                captured,
                true,
                PlatformProduct::BalancePayment,
            )
            .await?;
            payment.status = PaymentStatus::Capturing;
            payment.in_flight = store_chain(&capture.requests);
            payment.on_success = Some(PaymentStatus::Captured);
            payment.on_refusal = Some(PaymentStatus::Authorised);
            payment.capturing = parts(&capture.captured);
            work.put(&payment);
            Ok(payment)
        })?;
        self.resume_payment(payment, actor).await
    }

    /// Releases every hold of an authorised payment (the order is cancelled).
    pub async fn release(
        &self,
        client: ClientId,
        number: &OrderNumber,
        actor: &Actor,
    ) -> Result<Payment, WalletFailure> {
        let id = order_record_id("payment", client, number);
        let _turn = self.turn([id.clone()]).await;
        let payment = transact!(&self.parties, WalletFailure, |work| {
            let mut payment = load(work, &id).await?;
            match payment.status {
                PaymentStatus::Releasing | PaymentStatus::Released => return Ok(payment),
                PaymentStatus::Authorised => {}
                _ => return Err(WalletFailure::Rejected(ORDER_STATE_INVALID)),
            }
            let meta = TransferMeta::new(Some(payment.order_number.clone()));
            let chain = release_holds(&held(&payment), &meta, &mut ids_for(&id, "release"))?;
            payment.status = PaymentStatus::Releasing;
            payment.in_flight = store_chain(&chain);
            payment.on_success = Some(PaymentStatus::Released);
            payment.on_refusal = Some(PaymentStatus::Authorised);
            work.put(&payment);
            Ok(payment)
        })?;
        self.resume_payment(payment, actor).await
    }

    /// Refunds `amount` of a paid or captured payment under the caller's refund number, back to the
    /// accounts the money came from, made by the platform. The same refund number again answers that
    /// refund as it is.
    pub async fn refund(
        &self,
        client: ClientId,
        number: &OrderNumber,
        refund_number: &OrderNumber,
        amount: i64,
        actor: &Actor,
    ) -> Result<Refund, WalletFailure> {
        self.refund_by(client, number, refund_number, amount, Refunder::Platform, actor).await
    }

    /// A refund made by `by`: the platform, or the receiver's side. A refund takes money out of the
    /// receiver's account, so a member's side other than the receiver's (the payer's) is refused
    /// `refund_not_allowed`; one that is neither payer nor receiver finds no such payment.
    pub async fn refund_by(
        &self,
        client: ClientId,
        number: &OrderNumber,
        refund_number: &OrderNumber,
        amount: i64,
        by: Refunder,
        actor: &Actor,
    ) -> Result<Refund, WalletFailure> {
        let id = order_record_id("payment", client, number);
        // The money comes out of the receiver's account: the receiver's wallet waits too.
        let receiver = match self.parties.reader().get::<Payment>(&id).await? {
            Some(payment) => self.account_wallet_key(payment.receiver).await?,
            None => None,
        };
        let _turn = self.turn([id.clone()].into_iter().chain(receiver)).await;
        let step = format!("refund:{}", refund_number.as_str());
        let seen = load(&mut self.parties.reader(), &id).await?;
        // A split payment is taken back from each receiver (`split.rs`).
        if !seen.splits.is_empty() {
            drop(_turn);
            return self.refund_split_by(client, number, refund_number, amount, None, by, actor).await;
        }
        if let Refunder::Member(member) = by {
            let receiver = self.parties.owning_member(MemberObject::Account(seen.receiver)).await;
            match receiver {
                Ok(owner) if owner == member => {}
                Ok(_) | Err(PartyError::NotFound(_)) if seen.member_id == member => {
                    return Err(WalletFailure::Rejected(REFUND_NOT_ALLOWED));
                }
                Ok(_) | Err(PartyError::NotFound(_)) => return Err(WalletFailure::NotFound(ORDER_NOT_FOUND)),
                Err(other) => return Err(other.into()),
            }
        }
        // The receiver pays the refund back, the payer's accounts receive it (a refund asked again is
        // answered as it is, whatever the statuses are now).
        if !seen.refunds.iter().any(|r| r.refund_number == refund_number.as_str()) {
            if let Some(restriction) = self.account_restriction(seen.receiver, Side::Pays).await? {
                return Err(restriction);
            }
            for part in &seen.deductions {
                if let Some(restriction) = self.account_restriction(part.account_id, Side::Receives).await? {
                    return Err(restriction);
                }
            }
        }
        let refund = transact!(&self.parties, |work| {
            let mut payment = load(work, &id).await?;
            if let Some(refund) = payment.refunds.iter().find(|r| r.refund_number == refund_number.as_str()) {
                if refund.amount != amount {
                    return Err(WalletFailure::Rejected(REFUND_NUMBER_REUSED));
                }
                return Ok(refund.clone());
            }
            if !matches!(payment.status, PaymentStatus::Paid | PaymentStatus::Captured | PaymentStatus::EscrowReleased)
            {
                return Err(WalletFailure::Rejected(PAYMENT_NOT_REFUNDABLE));
            }
            let refunded: Vec<Deduction> = payment
                .refunds
                .iter()
                .filter(|r| r.status != RefundStatus::Failed)
                .flat_map(|r| deductions(&r.returns))
                .collect();
            let plan = plan_refund(&deductions(&payment.deductions), &refunded, amount)?;
            let moves: Vec<Move> = plan.legs(payment.receiver).into_iter().map(Move::from).collect();
            let chain = posted_chain(&moves, &id, &step, refund_number.as_str());
            let refund = Refund {
                refund_number: refund_number.as_str().to_owned(),
                amount,
                returns: parts(&plan.returns),
                status: RefundStatus::Processing,
                reason: None,
                in_flight: store_chain(&chain),
                shares: Vec::new(),
            };
            payment.refunds.push(refund.clone());
            work.put(&payment);
            work.history(
                &id,
                &payment.customer_id,
                "payment.refund_requested",
                actor,
                None,
                json!({ "refund": refund.refund_number, "amount": amount }),
            );
            Ok(refund)
        })?;
        if refund.status != RefundStatus::Processing {
            return Ok(refund);
        }
        let requests = restore_chain(&refund.in_flight)?;
        let outcome = chain::apply(&self.ledger, requests.clone()).await?;
        let refusal = self.name_ledger_block(outcome.err(), &requests).await?;
        let refund = transact!(&self.parties, |work| {
            let mut payment = load(work, &id).await?;
            let customer_id = payment.customer_id.clone();
            let Some(refund) = payment.refunds.iter_mut().find(|r| r.refund_number == refund_number.as_str()) else {
                return Err(WalletFailure::NotFound(ORDER_NOT_FOUND));
            };
            if refund.status == RefundStatus::Processing {
                refund.in_flight = Vec::new();
                refund.status = if refusal.is_none() { RefundStatus::Succeeded } else { RefundStatus::Failed };
                refund.reason = refusal.as_ref().map(|r| r.code().to_owned());
                let action = if refusal.is_none() { "payment.refunded" } else { "payment.refund_failed" };
                let detail = json!({ "refund": refund.refund_number, "amount": refund.amount });
                let refund = refund.clone();
                // A family card's month gets back what was refunded.
                if refund.status == RefundStatus::Succeeded {
                    super::family_card::give_back(work, &mut payment.family_card, Some(refund.amount));
                }
                work.put(&payment);
                work.history(&id, &customer_id, action, actor, None, detail);
                return Ok(refund);
            }
            Ok(refund.clone())
        })?;
        match refusal {
            Some(refusal) if refund.status == RefundStatus::Failed => Err(refusal),
            _ => Ok(refund),
        }
    }

    /// Submits a payment's decided chain, if any, and records its outcome.
    pub(super) async fn resume_payment(&self, payment: Payment, actor: &Actor) -> Result<Payment, WalletFailure> {
        if payment.in_flight.is_empty() {
            return Ok(payment);
        }
        let requests = restore_chain(&payment.in_flight)?;
        let outcome = chain::apply(&self.ledger, requests.clone()).await?;
        let refusal = self.name_ledger_block(outcome.err(), &requests).await?;
        let id = payment.id.clone();
        let asked = payment.status;
        let payment = transact!(&self.parties, WalletFailure, |work| {
            let mut payment = load(work, &id).await?;
            if payment.in_flight.is_empty() {
                return Ok(payment);
            }
            let was = payment.status;
            payment.in_flight = Vec::new();
            match &refusal {
                None => {
                    payment.status = payment.on_success.unwrap_or(was);
                    if matches!(was, PaymentStatus::Capturing | PaymentStatus::EscrowReleasing) {
                        payment.deductions = std::mem::take(&mut payment.capturing);
                        payment.paid = payment.deductions.iter().map(|d| d.amount).sum();
                    }
                }
                // The authorisation's holds expired: the ledger gave the money back already, so the
                // payment is released, whatever was asked.
                Some(refusal)
                    if refusal.code() == PENDING_EXPIRED
                        && matches!(was, PaymentStatus::Capturing | PaymentStatus::Releasing) =>
                {
                    payment.status = PaymentStatus::Released;
                    payment.capturing = Vec::new();
                    payment.reason = Some(PENDING_EXPIRED.to_owned());
                }
                Some(refusal) => {
                    payment.status = payment.on_refusal.unwrap_or(was);
                    payment.capturing = Vec::new();
                    payment.reason = Some(refusal.code().to_owned());
                }
            }
            (payment.on_success, payment.on_refusal) = (None, None);
            // What the receiving merchant did not receive in the end stops counting against its limits.
            let received = match payment.status {
                PaymentStatus::Failed
                | PaymentStatus::Authorised
                | PaymentStatus::Released
                | PaymentStatus::EscrowReturned => 0,
                PaymentStatus::Captured => payment.paid,
                _ => payment.counted.as_ref().map_or(0, |c| c.amount),
            };
            crate::party::merchants::give_back(work, &mut payment.counted, received);
            super::split::give_back_shares(work, &mut payment);
            // A payment that did not happen stops counting for its operator and its payer's limits.
            if matches!(payment.status, PaymentStatus::Failed | PaymentStatus::Released) {
                super::operator::give_back(work, &mut payment.operator);
                super::limits::give_back(work, &mut payment.limits);
                super::family_card::give_back(work, &mut payment.family_card, None);
            }
            work.put(&payment);
            work.history(
                &id,
                &payment.customer_id,
                "payment.status_changed",
                actor,
                None,
                json!({ "from": was, "to": payment.status }),
            );
            Ok(payment)
        })?;
        match refusal {
            // A release that finds its holds expired has what it asked for: the money is back.
            Some(refusal) if refusal.code() == PENDING_EXPIRED && asked == PaymentStatus::Releasing => Ok(payment),
            Some(refusal) => Err(refusal),
            None => Ok(payment),
        }
    }

    /// The member's pay password, checked before money leaves its wallet: a password given is always
    /// verified (a caller that asked its user for one expects it checked), and none given is refused
    /// where the platform requires one.
    pub(super) async fn check_pay_password(&self, member: MemberId, given: Option<&str>) -> Result<(), WalletFailure> {
        match given {
            Some(password) => {
                self.parties.verify_pay_password(PayPasswordOwner::Member(member), password, clock::now()).await?;
                Ok(())
            }
            None if self.config.pay_password == PayPasswordRule::Required => {
                Err(WalletFailure::Rejected(PAY_PASSWORD_REQUIRED))
            }
            None => Ok(()),
        }
    }

    pub(super) async fn receiver_account(&self, receiver: &Receiver) -> Result<AccountId, WalletFailure> {
        match receiver {
            Receiver::Platform(which) if !self.config.payment_receivers.contains(which) => {
                Err(WalletFailure::Rejected(RECEIVER_NOT_ALLOWED))
            }
            Receiver::Platform(which) => self.ensure_platform_account(which).await,
            Receiver::Account(id) => match self.parties.get_member_account(*id).await {
                Ok(view) if view.ledger.currency == self.config.currency => Ok(*id),
                Ok(_) | Err(PartyError::NotFound(_)) => Err(WalletFailure::Rejected(RECEIVER_NOT_FOUND)),
                Err(other) => Err(other.into()),
            },
        }
    }
}

pub(super) fn held(payment: &Payment) -> Vec<Hold> {
    payment
        .holds
        .iter()
        .filter_map(|h| {
            Amount::new(h.amount).map(|amount| Hold { pending_id: h.pending_id, account_id: h.account_id, amount })
        })
        .collect()
}

fn same_payment(existing: Payment, request: &PaymentRequest) -> Result<Payment, WalletFailure> {
    let card = request.family_card.map(|c| c.to_string());
    if existing.member_id == request.member
        && existing.amount == request.amount
        && existing.family_card_id() == card.as_deref()
        && (request.operator.is_none() || existing.operator_id() == request.operator)
        && (request.store.is_none() || existing.store_id == request.store.map(|s| s.to_string()))
        && (request.terminal.is_none() || existing.terminal_id == request.terminal.map(|t| t.to_string()))
    {
        Ok(existing)
    } else {
        Err(WalletFailure::Rejected(ORDER_NUMBER_REUSED))
    }
}
