//! Withdrawing to a bank card (提现): preview, application, review, payout result.
//!
//! The application allocates the amount over the wallet's withdrawable accounts (core's
//! `preview_withdrawal`: the articles' 1.50 / 10.00 / 0.80 example), makes one withdrawal order per
//! account touched, and freezes all of them at once: one linked chain of holds from each account to
//! withdrawals in transit (and the fee's hold between in transit and fee income or expense), so the
//! money is set aside the moment the member applies (the travel store's 提现申请即冻结). Then review
//! (automatic below `withdrawal_auto_approve_below`), then the channel's payout result: success posts
//! every hold, failure (or a rejected review) voids them and the money is the member's again. Only to
//! a bank card bound to the member in their verified real name (`card_usable_for_withdrawal`).
//!
//! Each step's chain has ids derived from the withdrawal and the step (`chain.rs`), so a retried step
//! moves money once. The holds expire after `withdrawal_hold_timeout_s` if nothing resolves them.

use anyhow::anyhow;
use sanhu_core::id::{BankCardId, ClientId, MemberId, OperatorId};
use sanhu_core::ledger::{TransferAction, TransferRequest};
use sanhu_core::party::product::PlatformProduct;
use sanhu_core::party::{Actor, MemberAction, Operation};
use sanhu_core::wallet::{
    preview_withdrawal, FeePayer, Settlement, TransferMeta, Wallet, WalletError, WithdrawalAccounts, WithdrawalPreview,
};
use sanhu_core::{AccountId, Timestamp, TransferId};
use sanhu_store::party::PartyStore;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::{self, id_text, ids_for, restore_chain, store_chain, StoredRequest};
use super::error::*;
use super::platform::PlatformAccount;
use super::records::{json_document, order_record_id, time_ns, OrderNumber};
use super::restriction::Side;
use super::Wallets;
use crate::party::work::Work;
use crate::wallet::WalletFailure;

#[derive(Clone, Debug)]
pub struct WithdrawalRequest {
    pub client: ClientId,
    pub order_number: OrderNumber,
    pub member: MemberId,
    pub amount: i64,
    pub card: BankCardId,
    /// The member's pay password: checked when given, required where the platform says
    /// (`WalletConfig::withdrawal_pay_password`).
    pub pay_password: Option<String>,
    /// The enterprise member's operator who withdraws (`operator.rs`).
    pub operator: Option<OperatorId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Review {
    Approve,
    Reject,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PayoutResult {
    Succeeded,
    Failed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum WithdrawalStatus {
    /// The holds are being made.
    Freezing,
    /// Frozen, waiting for review.
    Reviewing,
    /// Frozen, approved, waiting for the channel's payout.
    Approved,
    /// The payout succeeded and the holds are being posted.
    PayingOut,
    Paid,
    /// The holds are being released (rejected, or the payout failed).
    Releasing,
    Rejected,
    PayoutFailed,
    /// The ledger refused to freeze the money (it was spent meanwhile); nothing moved.
    Refused,
}

/// One withdrawal order: the part of a withdrawal taken from one account, and the hold that freezes it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WithdrawalOrder {
    /// The caller's order number with `-1`, `-2`, ... per account.
    pub number: String,
    #[serde(with = "id_text")]
    pub account_id: AccountId,
    pub amount: i64,
    #[serde(with = "id_text")]
    pub hold_id: TransferId,
}

/// A withdrawal application as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Withdrawal {
    pub id: String,
    pub customer_id: String,
    pub order_number: String,
    #[serde(with = "id_text")]
    pub client: ClientId,
    #[serde(with = "id_text")]
    pub member_id: MemberId,
    #[serde(with = "id_text")]
    pub card_id: BankCardId,
    pub amount: i64,
    pub fee: i64,
    pub fee_paid_by_member: bool,
    /// What reaches the card.
    pub payout: i64,
    pub status: WithdrawalStatus,
    pub orders: Vec<WithdrawalOrder>,
    /// Every hold of the withdrawal (the orders' and the fee's), in chain order.
    holds: Vec<String>,
    pub reason: Option<String>,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    in_flight: Vec<StoredRequest>,
    on_success: Option<WithdrawalStatus>,
    on_refusal: Option<WithdrawalStatus>,
    /// The operator who applied and what counts towards its day (`operator.rs`).
    #[serde(default)]
    operator: Option<super::operator::OperatorUse>,
}
json_document!(Withdrawal, "withdrawal");

/// The lookups reconciliation reads (`reconciliation.rs`): a withdrawal by its order number, and the
/// withdrawals of a day by `YYYY-MM-DD` (the platform's day it was applied for).
pub(super) const WITHDRAWALS_BY_NUMBER: &str = "withdrawals_by_number";
pub(super) const WITHDRAWALS_OF_DAY: &str = "withdrawals_of_day";

async fn load(work: &mut Work, id: &str) -> Result<Withdrawal, WalletFailure> {
    work.get::<Withdrawal>(id).await?.ok_or(WalletFailure::NotFound(ORDER_NOT_FOUND))
}

impl Withdrawal {
    /// The enterprise member's operator who applied, if one did.
    pub fn operator_id(&self) -> Option<OperatorId> {
        super::operator::operator_of(&self.operator)
    }

    fn hold_ids(&self) -> anyhow::Result<Vec<TransferId>> {
        self.holds.iter().map(|h| TransferId::parse(h).ok_or_else(|| anyhow!("stored hold id {h:?}"))).collect()
    }

    /// A linked chain resolving every hold: posting them, or voiding them.
    fn resolve_chain(&self, step: &str, post: bool) -> anyhow::Result<Vec<TransferRequest>> {
        let holds = self.hold_ids()?;
        let mut next = ids_for(&self.id, step);
        let last = holds.len().saturating_sub(1);
        Ok(holds
            .into_iter()
            .enumerate()
            .map(|(i, pending_id)| TransferRequest {
                id: next(),
                action: if post {
                    TransferAction::PostPending { pending_id, amount: None }
                } else {
                    TransferAction::VoidPending { pending_id }
                },
                linked: i < last,
                code: if post { "withdraw" } else { "withdraw_release" }.to_owned(),
                reference: Some(self.order_number.clone()),
                metadata: "{}".to_owned(),
            })
            .collect())
    }
}

impl Wallets {
    /// What withdrawing `amount` would take from which account, the fee and the payout.
    pub async fn preview_withdrawal(&self, member: MemberId, amount: i64) -> Result<WithdrawalPreview, WalletFailure> {
        let wallet = self.load_wallet(member).await?;
        let order = self.deduction_order(member).await?;
        Ok(preview_withdrawal(&wallet, &self.config.withdrawal, &order, amount)?)
    }

    /// Applies for a withdrawal: every account's part frozen at once, then reviewed (or approved at
    /// once below the configured amount). The same order number again answers it as it is.
    pub async fn withdraw(&self, request: &WithdrawalRequest, actor: &Actor) -> Result<Withdrawal, WalletFailure> {
        let record = order_record_id("withdrawal", request.client, &request.order_number);
        let _turn = self.turn([super::wallet_key(request.member), record]).await;
        let withdrawal = self.withdraw_recorded(request, actor).await?;
        // The ledger refused to freeze the money when first asked: asked again, refused again.
        if withdrawal.status == WithdrawalStatus::Refused {
            return Err(recorded_refusal(withdrawal.reason.as_deref()));
        }
        Ok(withdrawal)
    }

    async fn withdraw_recorded(&self, request: &WithdrawalRequest, actor: &Actor) -> Result<Withdrawal, WalletFailure> {
        let id = order_record_id("withdrawal", request.client, &request.order_number);
        if let Some(existing) = self.parties.reader().get::<Withdrawal>(&id).await? {
            return self.resume_withdrawal(same_withdrawal(existing, request)?, actor).await;
        }
        let member = self.parties.member_acts(request.member, MemberAction::Withdraw).await?;
        self.customer_may(member.member.customer(), Side::Pays).await?;
        // A merchant's member withdraws where its merchant's settings allow it.
        if let Some(settings) = self.parties.member_settings(&member).await? {
            if !settings.withdrawal_allowed.value {
                return Err(WalletFailure::Rejected(WITHDRAWAL_NOT_OFFERED));
            }
        }
        self.check_withdrawal_pay_password(request.member, request.pay_password.as_deref()).await?;
        let currency = self.config.currency;
        let policy = self.config.withdrawal;
        let accounts = WithdrawalAccounts {
            clearing: PlatformAccount::WithdrawalsInTransit.id(currency),
            fee: match policy.fee_payer() {
                FeePayer::Member => PlatformAccount::FeeIncome.id(currency),
                FeePayer::Platform => PlatformAccount::FeeExpense.id(currency),
            },
        };
        let settlement = Settlement::hold(self.config.withdrawal_hold_timeout_s)?;
        let order = self.deduction_order(request.member).await?;
        let withdrawal = transact!(&self.parties, WalletFailure, |work| {
            if let Some(existing) = work.get::<Withdrawal>(&id).await? {
                return same_withdrawal(existing, request);
            }
            let wallet = self.load_wallet(request.member).await?;
            let wallet =
                self.operator_wallet(work, &member.member, request.operator, Operation::Withdraw, wallet).await?;
            let preview = match preview_withdrawal(&wallet, &policy, &order, request.amount) {
                Ok(preview) => preview,
                Err(refusal @ (WalletError::ExceedsWithdrawable | WalletError::NotWithdrawable)) => {
                    let passes = |w: &Wallet| preview_withdrawal(w, &policy, &order, request.amount).is_ok();
                    return Err(self.blocked_cause(&wallet, Side::Pays, refusal, passes).await);
                }
                Err(refusal) => return Err(refusal.into()),
            };
            let taken: Vec<AccountId> = preview.allocations.iter().map(|a| a.account_id).collect();
            let to = PayoutTo::Card { member: request.member, card: request.card };
            let needs_review = self.check_bank_payout(work, to, &taken, request.amount).await?;
            let operator = self
                .operator_acts(work, &member.member, request.operator, Operation::Withdraw, request.amount, &taken)
                .await?;
            let meta =
                super::operator::meta(TransferMeta::new(Some(request.order_number.as_str().to_owned())), &operator);
            let chain = preview.transfers(&accounts, settlement, &meta, &mut ids_for(&id, "freeze"));
            let orders = preview
                .allocations
                .iter()
                .zip(&chain)
                .enumerate()
                .map(|(i, (a, r))| WithdrawalOrder {
                    number: format!("{}-{}", request.order_number.as_str(), i + 1),
                    account_id: a.account_id,
                    amount: a.amount.get(),
                    hold_id: r.id,
                })
                .collect();
            let review = if needs_review { WithdrawalStatus::Reviewing } else { WithdrawalStatus::Approved };
            let withdrawal = Withdrawal {
                id: id.clone(),
                customer_id: member.member.customer().to_string(),
                order_number: request.order_number.as_str().to_owned(),
                client: request.client,
                member_id: request.member,
                card_id: request.card,
                amount: preview.amount.get(),
                fee: preview.fee,
                fee_paid_by_member: preview.fee_payer == FeePayer::Member,
                payout: preview.payout.get(),
                status: WithdrawalStatus::Freezing,
                orders,
                holds: chain.iter().map(|r| r.id.to_string()).collect(),
                reason: None,
                created_at: work.now,
                in_flight: store_chain(&chain),
                on_success: Some(review),
                on_refusal: Some(WithdrawalStatus::Refused),
                operator,
            };
            work.put(&withdrawal);
            // Found by reconciliation with a payout channel's file: by number, and by its day.
            let day = super::reconciliation::day_text(&self.parties.config().calendar, work.now);
            work.index(WITHDRAWALS_BY_NUMBER, &withdrawal.order_number, &id);
            work.index(WITHDRAWALS_OF_DAY, &day, &id);
            work.history(
                &id,
                &withdrawal.customer_id,
                "withdrawal.applied",
                actor,
                None,
                json!({ "amount": withdrawal.amount, "fee": withdrawal.fee, "orders": withdrawal.orders.len() }),
            );
            Ok(withdrawal)
        })?;
        self.resume_withdrawal(withdrawal, actor).await
    }

    /// The withdrawals waiting for review, a page of at most `limit` after the record id `after` (in
    /// record id order: by API client, then order number).
    pub async fn withdrawals_in_review(
        &self,
        after: Option<&str>,
        limit: u32,
    ) -> Result<WithdrawalsInReview, WalletFailure> {
        let store = self.parties.store();
        let ids = match after {
            Some(after) => store.party_index_after(WITHDRAWALS_IN_REVIEW, REVIEWING, after, limit).await?,
            None => store.party_index(WITHDRAWALS_IN_REVIEW, REVIEWING, limit).await?,
        };
        let next = (ids.len() == limit as usize).then(|| ids.last().cloned()).flatten();
        let found: Vec<Withdrawal> = self.parties.reader().get_many(&ids).await?;
        // The index is kept in the writes that change the status; a record read between them is
        // shown only while it still waits.
        let withdrawals = found.into_iter().filter(|w| w.status == WithdrawalStatus::Reviewing).collect();
        Ok(WithdrawalsInReview { withdrawals, next })
    }

    pub async fn get_withdrawal(&self, client: ClientId, number: &OrderNumber) -> Result<Withdrawal, WalletFailure> {
        load(&mut self.parties.reader(), &order_record_id("withdrawal", client, number)).await
    }

    /// An administrator approves (the money stays frozen until the payout) or rejects (the money is
    /// released) a withdrawal under review.
    pub async fn review_withdrawal(
        &self,
        client: ClientId,
        number: &OrderNumber,
        review: Review,
        actor: &Actor,
    ) -> Result<Withdrawal, WalletFailure> {
        let id = order_record_id("withdrawal", client, number);
        let _turn = self.turn([id.clone()]).await;
        let withdrawal = transact!(&self.parties, WalletFailure, |work| {
            let mut w = load(work, &id).await?;
            match (review, w.status) {
                (Review::Approve, WithdrawalStatus::Approved) => return Ok(w),
                (Review::Reject, WithdrawalStatus::Releasing | WithdrawalStatus::Rejected) => return Ok(w),
                (_, WithdrawalStatus::Reviewing) => {}
                _ => return Err(WalletFailure::Rejected(ORDER_NOT_UNDER_REVIEW)),
            }
            match review {
                Review::Approve => w.status = WithdrawalStatus::Approved,
                Review::Reject => {
                    w.in_flight = store_chain(&w.resolve_chain("reject", false)?);
                    w.status = WithdrawalStatus::Releasing;
                    w.on_success = Some(WithdrawalStatus::Rejected);
                    w.on_refusal = Some(WithdrawalStatus::Reviewing);
                }
            }
            index_review(work, &w);
            work.put(&w);
            let action = if review == Review::Approve { "withdrawal.approved" } else { "withdrawal.rejected" };
            work.history(&id, &w.customer_id, action, actor, None, json!({}));
            Ok(w)
        })?;
        self.resume_withdrawal(withdrawal, actor).await
    }

    /// The channel's payout result for an approved withdrawal: success posts the frozen money (it has
    /// left), failure releases it. Idempotent.
    pub async fn payout_result(
        &self,
        client: ClientId,
        number: &OrderNumber,
        result: PayoutResult,
        actor: &Actor,
    ) -> Result<Withdrawal, WalletFailure> {
        let id = order_record_id("withdrawal", client, number);
        let _turn = self.turn([id.clone()]).await;
        let withdrawal = transact!(&self.parties, WalletFailure, |work| {
            let mut w = load(work, &id).await?;
            match (result, w.status) {
                (PayoutResult::Succeeded, WithdrawalStatus::PayingOut | WithdrawalStatus::Paid) => return Ok(w),
                (PayoutResult::Failed, WithdrawalStatus::Releasing | WithdrawalStatus::PayoutFailed) => return Ok(w),
                (_, WithdrawalStatus::Approved) => {}
                (_, WithdrawalStatus::Reviewing) => return Err(WalletFailure::Rejected(ORDER_UNDER_REVIEW)),
                _ => return Err(WalletFailure::Rejected(ORDER_STATE_INVALID)),
            }
            let (step, post, to) = match result {
                PayoutResult::Succeeded => ("payout", true, (WithdrawalStatus::PayingOut, WithdrawalStatus::Paid)),
                PayoutResult::Failed => {
                    ("payout_failed", false, (WithdrawalStatus::Releasing, WithdrawalStatus::PayoutFailed))
                }
            };
            w.in_flight = store_chain(&w.resolve_chain(step, post)?);
            w.status = to.0;
            w.on_success = Some(to.1);
            w.on_refusal = Some(WithdrawalStatus::Approved);
            work.put(&w);
            Ok(w)
        })?;
        self.resume_withdrawal(withdrawal, actor).await
    }

    async fn resume_withdrawal(&self, withdrawal: Withdrawal, actor: &Actor) -> Result<Withdrawal, WalletFailure> {
        if withdrawal.in_flight.is_empty() {
            return Ok(withdrawal);
        }
        let requests = restore_chain(&withdrawal.in_flight)?;
        let outcome = chain::apply(&self.ledger, requests.clone()).await?;
        let refusal = self.name_ledger_block(outcome.err(), &requests).await?;
        let id = withdrawal.id.clone();
        let withdrawal = transact!(&self.parties, WalletFailure, |work| {
            let mut w = load(work, &id).await?;
            if w.in_flight.is_empty() {
                return Ok(w);
            }
            let was = w.status;
            w.in_flight = Vec::new();
            w.status = match &refusal {
                None => w.on_success.unwrap_or(was),
                Some(r) => {
                    w.reason = Some(r.code().to_owned());
                    w.on_refusal.unwrap_or(was)
                }
            };
            (w.on_success, w.on_refusal) = (None, None);
            index_review(work, &w);
            // A withdrawal whose money did not leave stops counting for its operator.
            if matches!(
                w.status,
                WithdrawalStatus::Refused | WithdrawalStatus::Rejected | WithdrawalStatus::PayoutFailed
            ) {
                super::operator::give_back(work, &mut w.operator);
            }
            work.put(&w);
            work.history(
                &id,
                &w.customer_id,
                "withdrawal.status_changed",
                actor,
                None,
                json!({ "from": was, "to": w.status }),
            );
            Ok(w)
        })?;
        match refusal {
            Some(refusal) => Err(refusal),
            None => Ok(withdrawal),
        }
    }
}

/// Where a payout to a bank goes: a member's withdrawal to its card, or a merchant's settlement
/// statement to its settlement account.
pub(crate) enum PayoutTo<'a> {
    /// A bank card bound to the member in its verified real name.
    Card { member: MemberId, card: BankCardId },
    /// The merchant's settlement account, verified as this very account.
    Settlement(&'a crate::party::merchants::StoredMerchant),
}

impl Wallets {
    /// The checks every payout to a bank makes, a member's withdrawal as a merchant's settlement: the
    /// destination is one the money may go to, money leaving a merchant's account needs the
    /// `withdrawal` product signed (`accounts`: the accounts the money leaves), and a payout of at least
    /// `withdrawal_auto_approve_below` waits for review. Answers whether it waits for review.
    pub(crate) async fn check_bank_payout(
        &self,
        work: &mut Work,
        to: PayoutTo<'_>,
        accounts: &[AccountId],
        amount: i64,
    ) -> Result<bool, WalletFailure> {
        match to {
            PayoutTo::Card { member, card } => self.parties.card_usable_for_withdrawal(member, card).await?,
            PayoutTo::Settlement(merchant) => {
                if !merchant.settlement_account.as_ref().is_some_and(|a| a.is_verified()) {
                    return Err(sanhu_core::party::merchant::MerchantError::SettlementAccountUnverified.into());
                }
            }
        }
        for account in accounts {
            crate::party::products::account_uses(work, *account, PlatformProduct::Withdrawal).await?;
        }
        Ok(amount >= self.config.withdrawal_auto_approve_below)
    }
}

/// The index of the withdrawals waiting for review: a withdrawal is in it while its status is
/// `reviewing`, put there and taken out by the writes that change its status.
const WITHDRAWALS_IN_REVIEW: &str = "withdrawals_in_review";
const REVIEWING: &str = "reviewing";

fn index_review(work: &mut Work, w: &Withdrawal) {
    if w.status == WithdrawalStatus::Reviewing {
        work.index(WITHDRAWALS_IN_REVIEW, REVIEWING, &w.id);
    } else {
        work.unindex(WITHDRAWALS_IN_REVIEW, REVIEWING, &w.id);
    }
}

/// A page of the withdrawals waiting for review.
#[derive(Debug)]
pub struct WithdrawalsInReview {
    pub withdrawals: Vec<Withdrawal>,
    /// The cursor of the next page (a record id), if this page was full.
    pub next: Option<String>,
}

impl Wallets {
    /// The member's pay password before a withdrawal: a password given is always verified (with the
    /// lockout rules), and none given is refused where the platform requires one for withdrawals.
    async fn check_withdrawal_pay_password(&self, member: MemberId, given: Option<&str>) -> Result<(), WalletFailure> {
        match given {
            Some(password) => {
                let owner = crate::party::PayPasswordOwner::Member(member);
                Ok(self.parties.verify_pay_password(owner, password, crate::clock::now()).await?)
            }
            None if self.config.withdrawal_pay_password == super::PayPasswordRule::Required => {
                Err(WalletFailure::Rejected(PAY_PASSWORD_REQUIRED))
            }
            None => Ok(()),
        }
    }
}

fn same_withdrawal(existing: Withdrawal, request: &WithdrawalRequest) -> Result<Withdrawal, WalletFailure> {
    if existing.member_id == request.member
        && existing.amount == request.amount
        && existing.card_id == request.card
        && (request.operator.is_none() || existing.operator_id() == request.operator)
    {
        Ok(existing)
    } else {
        Err(WalletFailure::Rejected(ORDER_NUMBER_REUSED))
    }
}
