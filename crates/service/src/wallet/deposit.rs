//! Deposits (押金), the car-rental wallet's guarantee money: "the rental deposit is guarantee money,
//! not the merchant's receivable, so paying it does not credit the merchant's wallet."
//!
//! A deposit is held on the payer's wallet: holds from the payer's accounts (in the wallet's
//! deduction order, as a payment takes them) to the platform's `deposits` account, without a
//! timeout. The payer's money is frozen; nothing reaches the merchant, not even as incoming money.
//! The deposit names a **beneficiary** (the merchant whose car it guarantees). Then, once:
//!
//! - [`Wallets::release_deposit`]: the car came back undamaged; every hold is voided and the money is
//!   the payer's again;
//! - [`Wallets::capture_deposit`]: the car came back damaged; `amount` of the holds is posted to the
//!   `deposits` account and, in the same linked chain, passed on to the beneficiary as compensation;
//!   the rest of the holds is released to the payer. The `deposits` account only passes money on:
//!   its balance is back to zero after every capture.
//!
//! Who decides, as for escrow (`escrow.rs`): the platform either way; a release (back to the payer)
//! the beneficiary's side, never the payer's (`deposit_release_not_allowed`); a capture (to the
//! beneficiary) the payer's side, never the beneficiary's (`deposit_capture_not_allowed`).
//!
//! Each step is one linked chain with transfer ids derived from the deposit (`chain.rs`), recorded in
//! the deposit before it is submitted, so repeating a step, a crash, or two instances at once move
//! the money once. A deposit is released or captured once: the other step is then refused with its
//! own code.

use sanhu_core::id::{ClientId, MemberId, OperatorId};
use sanhu_core::ledger::{TransferAction, TransferRequest};
use sanhu_core::party::product::PlatformProduct;
use sanhu_core::party::{Actor, MemberAction, Operation, Reason};
use sanhu_core::wallet::{plan_capture, plan_payment, release_holds, Shortfall, TransferMeta, Wallet, WalletError};
use sanhu_core::{AccountId, Amount, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::{self, id_text, ids_for, store_chain, InFlight, StoredRequest};
use super::error::*;
use super::payment::{parts, HeldPart, Part, Receiver, Refunder};
use super::platform::PlatformAccount;
use super::records::{json_document, order_record_id, time_ns, OrderNumber};
use super::restriction::Side;
use super::Wallets;
use crate::party::work::Work;
use crate::wallet::WalletFailure;

/// Business codes of a deposit's transfers.
pub const DEPOSIT_HOLD_CODE: &str = "deposit";
pub const DEPOSIT_RELEASE_CODE: &str = "deposit_release";
pub const DEPOSIT_CAPTURE_CODE: &str = "deposit_capture";
/// The captured money passed on from the `deposits` account to the beneficiary.
pub const DEPOSIT_COMPENSATION_CODE: &str = "deposit_compensation";

/// What holding a deposit takes.
#[derive(Clone, Debug)]
pub struct DepositRequest {
    pub client: ClientId,
    /// The caller's number for the deposit, unique per client.
    pub order_number: OrderNumber,
    /// The payer (the renter), whose wallet holds the deposit.
    pub member: MemberId,
    pub amount: i64,
    /// Who receives what a capture takes (the merchant whose car the deposit guarantees).
    pub beneficiary: Receiver,
    pub pay_password: Option<String>,
    /// The enterprise payer's operator who holds the deposit (`operator.rs`).
    pub operator: Option<OperatorId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum DepositStatus {
    Holding,
    /// Frozen on the payer's wallet.
    Held,
    /// The ledger refused the holds (the wallet could not cover them); nothing is held.
    Refused,
    Releasing,
    /// Given back to the payer whole.
    Released,
    Capturing,
    /// `captured` went to the beneficiary, the rest back to the payer.
    Captured,
}

/// A deposit as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deposit {
    pub id: String,
    pub customer_id: String,
    pub order_number: String,
    #[serde(with = "id_text")]
    pub client: ClientId,
    #[serde(with = "id_text")]
    pub member_id: MemberId,
    #[serde(with = "id_text")]
    pub beneficiary: AccountId,
    pub amount: i64,
    pub status: DepositStatus,
    /// The holds on the payer's accounts, in deduction order.
    pub holds: Vec<HeldPart>,
    /// What a capture took and gave the beneficiary (zero until captured).
    pub captured: i64,
    /// What the capture took from each of the payer's accounts.
    pub captured_parts: Vec<Part>,
    /// Why it was captured (the damage), or the ledger's code when the holds were refused.
    pub reason: Option<String>,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    in_flight: Vec<StoredRequest>,
    /// The status the chain in flight leads to, and the one a refusal leaves.
    next: Option<(DepositStatus, DepositStatus)>,
    /// What the capture in flight takes from each account.
    capturing: Vec<Part>,
    /// The operator who held it and what counts towards its day (`operator.rs`).
    #[serde(default)]
    operator: Option<super::operator::OperatorUse>,
}
json_document!(Deposit, "deposit");

impl Deposit {
    /// The enterprise payer's operator who held the deposit, if one did.
    pub fn operator_id(&self) -> Option<OperatorId> {
        super::operator::operator_of(&self.operator)
    }

    /// What the capture in flight, or the capture made, takes.
    fn capture_amount(&self) -> i64 {
        if self.status == DepositStatus::Capturing {
            self.capturing.iter().map(|p| p.amount).sum()
        } else {
            self.captured
        }
    }
}

impl InFlight for Deposit {
    fn in_flight(&self) -> &[StoredRequest] {
        &self.in_flight
    }

    fn settle(&mut self, refusal: Option<&WalletFailure>) {
        if let Some((success, refused)) = self.next.take() {
            let capturing = std::mem::take(&mut self.capturing);
            match refusal {
                None => {
                    if success == DepositStatus::Captured {
                        self.captured = capturing.iter().map(|p| p.amount).sum();
                        self.captured_parts = capturing;
                    }
                    self.status = success;
                }
                Some(refusal) => {
                    if refused == DepositStatus::Refused {
                        self.reason = Some(refusal.code().to_owned());
                    } else if !capturing.is_empty() {
                        // A refused capture leaves the deposit held, with no damage recorded.
                        self.reason = None;
                    }
                    self.status = refused;
                }
            }
        }
        self.in_flight = Vec::new();
    }

    fn after_settle(&mut self, work: &mut Work) {
        // Nothing was held, or all of it went back: it stops counting for the operator.
        if matches!(self.status, DepositStatus::Refused | DepositStatus::Released) {
            super::operator::give_back(work, &mut self.operator);
        }
    }

    fn customer(&self) -> String {
        self.customer_id.clone()
    }
}

async fn load(work: &mut Work, id: &str) -> Result<Deposit, WalletFailure> {
    work.get::<Deposit>(id).await?.ok_or(WalletFailure::NotFound(DEPOSIT_NOT_FOUND))
}

fn same_deposit(existing: Deposit, request: &DepositRequest, beneficiary: AccountId) -> Result<Deposit, WalletFailure> {
    let same = existing.member_id == request.member
        && existing.amount == request.amount
        && existing.beneficiary == beneficiary;
    if same {
        Ok(existing)
    } else {
        Err(WalletFailure::Rejected(ORDER_NUMBER_REUSED))
    }
}

impl Wallets {
    /// Holds a deposit on the payer's wallet under the caller's number. The same number with the same
    /// details answers the deposit as it is; with other details, `order_number_reused`.
    pub async fn hold_deposit(&self, request: &DepositRequest, actor: &Actor) -> Result<Deposit, WalletFailure> {
        let record = order_record_id("deposit", request.client, &request.order_number);
        let _turn = self.turn([super::wallet_key(request.member), record]).await;
        let deposit = self.hold_deposit_recorded(request, actor).await?;
        // The ledger refused the holds when first asked: asked again, refused again.
        if deposit.status == DepositStatus::Refused {
            return Err(recorded_refusal(deposit.reason.as_deref()));
        }
        Ok(deposit)
    }

    async fn hold_deposit_recorded(&self, request: &DepositRequest, actor: &Actor) -> Result<Deposit, WalletFailure> {
        let amount = Amount::new(request.amount).ok_or(WalletError::InvalidAmount)?;
        let id = order_record_id("deposit", request.client, &request.order_number);
        let deposits = PlatformAccount::Deposits.id(self.config.currency);
        if request.beneficiary == Receiver::Platform(PlatformAccount::Deposits) {
            return Err(WalletFailure::Rejected(DEPOSIT_BENEFICIARY_INVALID));
        }
        let beneficiary = self.receiver_account(&request.beneficiary).await?;
        if let Some(existing) = self.parties.reader().get::<Deposit>(&id).await? {
            let existing = same_deposit(existing, request, beneficiary)?;
            return chain::resume(&self.parties, &self.ledger, existing, "deposit.settled", actor).await;
        }
        let member = self.parties.member_acts(request.member, MemberAction::Pay).await?;
        self.customer_may(member.member.customer(), Side::Pays).await?;
        self.not_own_account(request.member, member.member.customer(), beneficiary).await?;
        self.spent_within_scope(&member, beneficiary).await?;
        self.account_may_receive(beneficiary, PlatformProduct::BalancePayment).await?;
        self.check_pay_password(request.member, request.pay_password.as_deref()).await?;
        self.ensure_platform_account(&PlatformAccount::Deposits).await?;
        let order = self.deduction_order(request.member).await?;
        let deposit = transact!(&self.parties, |work| {
            if let Some(existing) = work.get::<Deposit>(&id).await? {
                return same_deposit(existing, request, beneficiary);
            }
            let wallet = self.load_wallet(request.member).await?;
            let wallet = self.operator_wallet(work, &member.member, request.operator, Operation::Pay, wallet).await?;
            let plan = match plan_payment(&wallet, &order, amount.get(), Shortfall::Refuse) {
                Ok(plan) => plan,
                Err(refusal) => {
                    let passes = |w: &Wallet| plan_payment(w, &order, amount.get(), Shortfall::Refuse).is_ok();
                    return Err(self.blocked_cause(&wallet, Side::Pays, refusal, passes).await);
                }
            };
            let accounts: Vec<AccountId> = plan.deductions.iter().map(|d| d.account_id).collect();
            let operator = self
                .operator_acts(work, &member.member, request.operator, Operation::Pay, amount.get(), &accounts)
                .await?;
            let metadata = super::operator::meta(TransferMeta::new(None), &operator).metadata;
            let mut next = ids_for(&id, "hold");
            let last = plan.deductions.len().saturating_sub(1);
            let chain: Vec<TransferRequest> = plan
                .deductions
                .iter()
                .enumerate()
                .map(|(i, d)| TransferRequest {
                    id: next(),
                    action: TransferAction::Hold {
                        debit_account_id: d.account_id,
                        credit_account_id: deposits,
                        amount: d.amount,
                        balancing: false,
                        timeout_s: None,
                    },
                    linked: i < last,
                    code: DEPOSIT_HOLD_CODE.to_owned(),
                    reference: Some(request.order_number.as_str().to_owned()),
                    metadata: metadata.clone(),
                })
                .collect();
            let holds = chain
                .iter()
                .zip(&plan.deductions)
                .map(|(r, d)| HeldPart { pending_id: r.id, account_id: d.account_id, amount: d.amount.get() })
                .collect();
            let deposit = Deposit {
                id: id.clone(),
                customer_id: member.member.customer().to_string(),
                order_number: request.order_number.as_str().to_owned(),
                client: request.client,
                member_id: request.member,
                beneficiary,
                amount: amount.get(),
                status: DepositStatus::Holding,
                holds,
                captured: 0,
                captured_parts: Vec::new(),
                reason: None,
                created_at: work.now,
                in_flight: store_chain(&chain),
                next: Some((DepositStatus::Held, DepositStatus::Refused)),
                capturing: Vec::new(),
                operator,
            };
            work.put(&deposit);
            work.history(
                &id,
                &deposit.customer_id,
                "deposit.requested",
                actor,
                None,
                json!({ "amount": deposit.amount, "beneficiary": beneficiary.to_string() }),
            );
            Ok(deposit)
        })?;
        chain::resume(&self.parties, &self.ledger, deposit, "deposit.settled", actor).await
    }

    /// The deposit under the caller's number, as it is.
    pub async fn get_deposit(&self, client: ClientId, number: &OrderNumber) -> Result<Deposit, WalletFailure> {
        load(&mut self.parties.reader(), &order_record_id("deposit", client, number)).await
    }

    /// Releases a deposit whole to the payer (the car came back undamaged). Repeating it answers the
    /// deposit as it is.
    pub async fn release_deposit(
        &self,
        client: ClientId,
        number: &OrderNumber,
        actor: &Actor,
    ) -> Result<Deposit, WalletFailure> {
        self.release_deposit_by(client, number, Refunder::Platform, actor).await
    }

    /// [`Wallets::release_deposit`] decided by `by`: the platform or the beneficiary's side; the
    /// payer's side is refused `deposit_release_not_allowed`.
    pub async fn release_deposit_by(
        &self,
        client: ClientId,
        number: &OrderNumber,
        by: Refunder,
        actor: &Actor,
    ) -> Result<Deposit, WalletFailure> {
        let id = order_record_id("deposit", client, number);
        let _turn = self.turn([id.clone()]).await;
        let seen = load(&mut self.parties.reader(), &id).await?;
        self.may_decide(by, seen.member_id, seen.beneficiary, false, DEPOSIT_RELEASE_NOT_ALLOWED, DEPOSIT_NOT_FOUND)
            .await?;
        self.finish_holding(&id, actor).await?;
        let deposit = transact!(&self.parties, |work| {
            let mut deposit = load(work, &id).await?;
            match deposit.status {
                DepositStatus::Releasing | DepositStatus::Released => return Ok(deposit),
                DepositStatus::Held => {}
                DepositStatus::Capturing | DepositStatus::Captured => {
                    return Err(WalletFailure::Rejected(DEPOSIT_CAPTURED))
                }
                DepositStatus::Holding | DepositStatus::Refused => {
                    return Err(WalletFailure::Rejected(DEPOSIT_NOT_HELD))
                }
            }
            let meta = TransferMeta::new(Some(deposit.order_number.clone()));
            let mut chain = release_holds(&held(&deposit), &meta, &mut ids_for(&id, "release"))?;
            for request in &mut chain {
                request.code = DEPOSIT_RELEASE_CODE.to_owned();
            }
            deposit.status = DepositStatus::Releasing;
            deposit.in_flight = store_chain(&chain);
            deposit.next = Some((DepositStatus::Released, DepositStatus::Held));
            work.put(&deposit);
            work.history(&id, &deposit.customer_id, "deposit.release_requested", actor, None, json!({}));
            Ok(deposit)
        })?;
        chain::resume(&self.parties, &self.ledger, deposit, "deposit.settled", actor).await
    }

    /// Captures `amount` of a deposit for damage (`reason`): that much goes to the beneficiary, the
    /// rest back to the payer, in one linked chain. Repeating it with the same amount answers the
    /// deposit as it is; a deposit is captured once.
    pub async fn capture_deposit(
        &self,
        client: ClientId,
        number: &OrderNumber,
        amount: i64,
        reason: &Reason,
        actor: &Actor,
    ) -> Result<Deposit, WalletFailure> {
        self.capture_deposit_by(client, number, amount, reason, Refunder::Platform, actor).await
    }

    /// [`Wallets::capture_deposit`] decided by `by`: the platform or the payer's side; the
    /// beneficiary's side is refused `deposit_capture_not_allowed`.
    pub async fn capture_deposit_by(
        &self,
        client: ClientId,
        number: &OrderNumber,
        amount: i64,
        reason: &Reason,
        by: Refunder,
        actor: &Actor,
    ) -> Result<Deposit, WalletFailure> {
        let id = order_record_id("deposit", client, number);
        let _turn = self.turn([id.clone()]).await;
        let seen = load(&mut self.parties.reader(), &id).await?;
        self.may_decide(by, seen.member_id, seen.beneficiary, true, DEPOSIT_CAPTURE_NOT_ALLOWED, DEPOSIT_NOT_FOUND)
            .await?;
        self.finish_holding(&id, actor).await?;
        let seen = load(&mut self.parties.reader(), &id).await?;
        if seen.status == DepositStatus::Held {
            self.account_may_receive(seen.beneficiary, PlatformProduct::BalancePayment).await?;
        }
        let deposits = PlatformAccount::Deposits.id(self.config.currency);
        let deposit = transact!(&self.parties, |work| {
            let mut deposit = load(work, &id).await?;
            match deposit.status {
                DepositStatus::Capturing | DepositStatus::Captured if deposit.capture_amount() == amount => {
                    return Ok(deposit)
                }
                DepositStatus::Capturing | DepositStatus::Captured => {
                    return Err(WalletFailure::Rejected(DEPOSIT_CAPTURED))
                }
                DepositStatus::Releasing | DepositStatus::Released => {
                    return Err(WalletFailure::Rejected(DEPOSIT_RELEASED))
                }
                DepositStatus::Holding | DepositStatus::Refused => {
                    return Err(WalletFailure::Rejected(DEPOSIT_NOT_HELD))
                }
                DepositStatus::Held => {}
            }
            let meta = TransferMeta::new(Some(deposit.order_number.clone()));
            let mut next = ids_for(&id, "capture");
            let capture = plan_capture(&held(&deposit), amount, &meta, &mut next)?;
            let captured = Amount::new(amount).ok_or(WalletError::InvalidAmount)?;
            let mut chain = capture.requests;
            for request in &mut chain {
                request.code = DEPOSIT_CAPTURE_CODE.to_owned();
                request.linked = true;
            }
            chain.push(TransferRequest {
                id: next(),
                action: TransferAction::Post {
                    debit_account_id: deposits,
                    credit_account_id: deposit.beneficiary,
                    amount: captured,
                    balancing: false,
                },
                linked: false,
                code: DEPOSIT_COMPENSATION_CODE.to_owned(),
                reference: meta.reference.clone(),
                metadata: meta.metadata.clone(),
            });
            deposit.status = DepositStatus::Capturing;
            deposit.in_flight = store_chain(&chain);
            deposit.next = Some((DepositStatus::Captured, DepositStatus::Held));
            deposit.capturing = parts(&capture.captured);
            deposit.reason = Some(reason.as_str().to_owned());
            work.put(&deposit);
            work.history(
                &id,
                &deposit.customer_id,
                "deposit.capture_requested",
                actor,
                Some(reason),
                json!({ "amount": amount, "released": capture.released }),
            );
            Ok(deposit)
        })?;
        chain::resume(&self.parties, &self.ledger, deposit, "deposit.settled", actor).await
    }

    /// Finishes holds still being placed (a crash, or a retry racing the first call), so that a
    /// release or capture meets the deposit held or refused, never half-made. A refusal of the holds
    /// is recorded in the deposit and answered by the step that follows.
    async fn finish_holding(&self, id: &str, actor: &Actor) -> Result<(), WalletFailure> {
        let seen = load(&mut self.parties.reader(), id).await?;
        if seen.status != DepositStatus::Holding {
            return Ok(());
        }
        match chain::resume(&self.parties, &self.ledger, seen, "deposit.settled", actor).await {
            Ok(_) | Err(WalletFailure::Rejected(_)) => Ok(()),
            Err(other) => Err(other),
        }
    }
}

fn held(deposit: &Deposit) -> Vec<sanhu_core::wallet::Hold> {
    deposit
        .holds
        .iter()
        .filter_map(|h| {
            Amount::new(h.amount).map(|amount| sanhu_core::wallet::Hold {
                pending_id: h.pending_id,
                account_id: h.account_id,
                amount,
            })
        })
        .collect()
}
