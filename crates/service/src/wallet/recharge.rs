//! Recharge orders (充值订单): money comes in through a payment channel, and only the channel's
//! confirmation credits the member ("credit after payment succeeds, never before").
//!
//! An order is created `pending` (or `reviewing`, for a channel whose recharges an administrator
//! checks first, such as a bank transfer) with the caller's order number, amount and channel. Then:
//!
//! - `confirm` (the channel says paid) or `approve` (the administrator checked it) credits the member
//!   as one linked chain: from the channel's clearing account, first repaying any debt in the wallet
//!   (core's `plan_repayment`: the rider who collected cash), then to the target account, plus the
//!   bonus of the recharge tier the amount reaches (from marketing expense to the member's bonus
//!   account, opened if needed), plus the channel's fee when the platform bears it. The chain's ids are
//!   derived from the order (see `chain.rs`): a repeated confirmation credits once.
//! - `fail` (the channel says not paid), `close` (the caller gives up) and `reject` (the administrator
//!   refuses) end it without money moving; each is idempotent.
//! - An order still pending after `recharge_query_after_s` is asked about at its channel's status
//!   endpoint by the compensation job (`compensation.rs`), which confirms or fails it from the answer.
//! - An order still pending after `recharge_expiry_s` is closed as expired by
//!   [`Wallets::expire_recharge_orders`] (a job), unless its channel answers status questions: then
//!   only the channel's answer ends it.
//!
//! A credited order can then be refunded, in parts or whole (`recharge_refund.rs`): the unspent part
//! of its bonus is taken back and the spent part deducted from the refund.

use sanhu_core::id::{ClientId, MemberId};
use sanhu_core::party::product::PlatformProduct;
use sanhu_core::party::{Actor, MemberAction};
use sanhu_core::wallet::{plan_recharge, plan_repayment, FeePayer};
use sanhu_core::{AccountId, Amount, Timestamp};
use sanhu_store::party::PartyStore;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::{self, id_text, posted_chain, restore_chain, store_chain, Move, StoredRequest};
use super::error::*;
use super::platform::PlatformAccount;
use super::recharge_refund::RechargeRefundOrder;
use super::records::{json_document, order_record_id, time_ns, OrderNumber};
use super::restriction::Side;
use super::{ChannelReview, Wallets};
use crate::party::work::Work;
use crate::wallet::WalletFailure;

/// The lookup of orders not yet ended (pending, reviewing or crediting), which the expiry and
/// compensation jobs read.
pub(super) const OPEN_RECHARGES: &str = "open_recharge_orders";
pub(super) const OPEN: &str = "open";
/// The lookups reconciliation reads (`reconciliation.rs`): an order by `channel:order number`, and a
/// channel's orders of a day by `channel:YYYY-MM-DD` (the platform's day it was made).
pub(super) const RECHARGES_BY_NUMBER: &str = "recharge_orders_by_number";
pub(super) const RECHARGES_OF_DAY: &str = "recharge_orders_of_day";
/// A channel's recharge orders with a refund asked on a day, by `channel:YYYY-MM-DD`.
pub(super) const REFUNDS_OF_DAY: &str = "recharge_refunds_of_day";

/// What creating a recharge order takes.
#[derive(Clone, Debug)]
pub struct RechargeRequest {
    pub client: ClientId,
    pub order_number: OrderNumber,
    pub member: MemberId,
    /// The account to credit; the member's account of the configured recharge type when `None`.
    pub account: Option<AccountId>,
    pub amount: i64,
    pub channel: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum RechargeStatus {
    Pending,
    Reviewing,
    /// Decided and being credited: the chain is in the record (a crash here is finished by a retry).
    Crediting,
    Succeeded,
    Failed,
    Closed,
    Expired,
}

/// A recharge order as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RechargeOrder {
    pub id: String,
    pub customer_id: String,
    pub order_number: String,
    #[serde(with = "id_text")]
    pub client: ClientId,
    #[serde(with = "id_text")]
    pub member_id: MemberId,
    #[serde(with = "id_text")]
    pub account_id: AccountId,
    pub amount: i64,
    pub channel: String,
    /// The channel's fee on this recharge.
    pub fee: i64,
    pub fee_paid_by_member: bool,
    pub review_required: bool,
    pub status: RechargeStatus,
    /// Debt repaid, amount credited to the account, bonus granted: set when credited.
    pub repaid: i64,
    pub credited: i64,
    pub bonus: i64,
    /// Why it failed, closed or was rejected.
    pub reason: Option<String>,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    #[serde(with = "time_ns")]
    pub expires_at: Timestamp,
    in_flight: Vec<StoredRequest>,
    /// Its refunds, in the order they were asked for (`recharge_refund.rs`).
    #[serde(default)]
    pub refunds: Vec<RechargeRefundOrder>,
    /// The tiers of the member's merchant when the order was made (`None`: the platform's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tiers: Option<Vec<OrderTier>>,
}

/// A merchant's recharge tier as an order keeps it.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrderTier {
    pub pay: i64,
    pub bonus: i64,
    #[serde(with = "time_ns")]
    pub starts_at: Timestamp,
    #[serde(with = "time_ns")]
    pub ends_at: Timestamp,
}

/// A merchant's tiers as an order keeps them; a tier that does not hold is left out (settings are
/// checked when set, so none is).
pub(crate) fn order_tiers(tiers: &[crate::party::TierSetting]) -> Vec<OrderTier> {
    tiers
        .iter()
        .filter_map(|t| {
            let (starts_at, ends_at) = t.window()?;
            Some(OrderTier { pay: t.pay, bonus: t.bonus, starts_at, ends_at })
        })
        .collect()
}
json_document!(RechargeOrder, "recharge_order");

pub(super) async fn load(work: &mut Work, id: &str) -> Result<RechargeOrder, WalletFailure> {
    work.get::<RechargeOrder>(id).await?.ok_or(WalletFailure::NotFound(ORDER_NOT_FOUND))
}

impl Wallets {
    /// Creates a recharge order, pending (or reviewing, for a reviewed channel). The same order number
    /// with the same details answers the order as it is; with other details, `order_number_reused`.
    pub async fn create_recharge(
        &self,
        request: &RechargeRequest,
        actor: &Actor,
    ) -> Result<RechargeOrder, WalletFailure> {
        let amount = Amount::new(request.amount).ok_or(sanhu_core::wallet::WalletError::InvalidAmount)?;
        let channel = self.config.channel(&request.channel).ok_or(WalletFailure::Rejected(CHANNEL_NOT_CONFIGURED))?;
        let fee = channel.fee.fee_for(amount);
        if channel.fee_payer == FeePayer::Member && fee >= amount.get() {
            return Err(WalletFailure::Rejected(RECHARGE_BELOW_FEE));
        }
        let id = order_record_id("recharge_order", request.client, &request.order_number);
        let _turn = self.turn([id.clone()]).await;
        if let Some(existing) = self.parties.reader().get::<RechargeOrder>(&id).await? {
            return same_recharge(existing, request);
        }
        let member = self.parties.member_acts(request.member, MemberAction::Recharge).await?;
        // A merchant's member recharges at its merchant's tiers, as they are now.
        let tiers = match self.parties.member_settings(&member).await? {
            Some(settings) => settings.recharge_tiers.value.as_deref().map(order_tiers),
            None => None,
        };
        let wallet = self.load_wallet(request.member).await?;
        let account = match request.account {
            Some(account) => wallet.get(account).ok_or(WalletFailure::Rejected(ACCOUNT_NOT_MEMBERS))?,
            None => wallet
                .accounts()
                .iter()
                .filter(|a| a.account_type().code() == &self.config.recharge_account_type)
                .min_by_key(|a| a.id())
                .ok_or(WalletFailure::Rejected(ACCOUNT_NOT_MEMBERS))?,
        };
        // A type configured not rechargeable (a profit wallet) receives its money otherwise only.
        if !account.account_type().rechargeable() {
            return Err(WalletFailure::Rejected(ACCOUNT_NOT_RECHARGEABLE));
        }
        let account_id = account.id();
        if let Some(restriction) = self.account_restriction(account_id, Side::Receives).await? {
            return Err(restriction);
        }
        // A merchant's account is recharged only with the product signed.
        let mut reader = self.parties.reader();
        crate::party::products::account_uses(&mut reader, account_id, PlatformProduct::Recharge).await?;
        let review_required = channel.review == ChannelReview::Required;
        transact!(&self.parties, |work| {
            if let Some(existing) = work.get::<RechargeOrder>(&id).await? {
                return same_recharge(existing, request);
            }
            let order = RechargeOrder {
                id: id.clone(),
                customer_id: member.member.customer().to_string(),
                order_number: request.order_number.as_str().to_owned(),
                client: request.client,
                member_id: request.member,
                account_id,
                amount: amount.get(),
                channel: channel.name.clone(),
                fee,
                fee_paid_by_member: channel.fee_payer == FeePayer::Member,
                review_required,
                status: if review_required { RechargeStatus::Reviewing } else { RechargeStatus::Pending },
                repaid: 0,
                credited: 0,
                bonus: 0,
                reason: None,
                created_at: work.now,
                expires_at: work.now.add_seconds(self.config.recharge_expiry_s).unwrap_or(work.now),
                in_flight: Vec::new(),
                refunds: Vec::new(),
                tiers: tiers.clone(),
            };
            work.put(&order);
            work.index(OPEN_RECHARGES, OPEN, &id);
            // Found by reconciliation: by its number, and among its channel's orders of its day.
            let day = super::reconciliation::day_text(&self.parties.config().calendar, work.now);
            work.index(RECHARGES_BY_NUMBER, &format!("{}:{}", order.channel, order.order_number), &id);
            work.index(RECHARGES_OF_DAY, &format!("{}:{day}", order.channel), &id);
            work.history(
                &id,
                &order.customer_id,
                "recharge.created",
                actor,
                None,
                json!({ "amount": order.amount, "channel": order.channel, "status": order.status }),
            );
            Ok(order)
        })
    }

    pub async fn get_recharge(&self, client: ClientId, number: &OrderNumber) -> Result<RechargeOrder, WalletFailure> {
        load(&mut self.parties.reader(), &order_record_id("recharge_order", client, number)).await
    }

    /// The channel confirms payment: the member is credited, once however often this is called.
    pub async fn confirm_recharge(
        &self,
        client: ClientId,
        number: &OrderNumber,
        actor: &Actor,
    ) -> Result<RechargeOrder, WalletFailure> {
        self.credit_recharge(client, number, actor, RechargeStatus::Pending).await
    }

    /// An administrator approves a reviewed recharge: the member is credited.
    pub async fn approve_recharge(
        &self,
        client: ClientId,
        number: &OrderNumber,
        actor: &Actor,
    ) -> Result<RechargeOrder, WalletFailure> {
        self.credit_recharge(client, number, actor, RechargeStatus::Reviewing).await
    }

    /// The channel reports the payment failed. Idempotent.
    pub async fn fail_recharge(
        &self,
        client: ClientId,
        number: &OrderNumber,
        reason: &str,
        actor: &Actor,
    ) -> Result<RechargeOrder, WalletFailure> {
        self.end_recharge(client, number, RechargeStatus::Failed, &[RechargeStatus::Pending], reason, actor).await
    }

    /// The caller closes an unpaid order. Idempotent.
    pub async fn close_recharge(
        &self,
        client: ClientId,
        number: &OrderNumber,
        actor: &Actor,
    ) -> Result<RechargeOrder, WalletFailure> {
        let from = [RechargeStatus::Pending, RechargeStatus::Reviewing];
        self.end_recharge(client, number, RechargeStatus::Closed, &from, "closed", actor).await
    }

    /// An administrator rejects a reviewed recharge. Idempotent.
    pub async fn reject_recharge(
        &self,
        client: ClientId,
        number: &OrderNumber,
        reason: &str,
        actor: &Actor,
    ) -> Result<RechargeOrder, WalletFailure> {
        self.end_recharge(client, number, RechargeStatus::Failed, &[RechargeStatus::Reviewing], reason, actor).await
    }

    /// Closes as expired every pending order whose time is up at `now`, reading the open orders `page`
    /// at a time; returns how many it closed. Reviewed orders wait for their reviewer, and orders of a
    /// channel with a status endpoint for the compensation job, and do not expire here.
    pub async fn expire_recharge_orders(&self, now: Timestamp, page: u32) -> Result<usize, WalletFailure> {
        let store = self.parties.store();
        let mut expired = 0;
        let mut ids = store.party_index(OPEN_RECHARGES, OPEN, page).await?;
        // Every open order is looked at, a page at a time: the oldest are not always first in id order.
        while let Some(last) = ids.last().cloned() {
            for id in &ids {
                expired += usize::from(self.expire_recharge_order(id, now).await?);
            }
            if ids.len() < page as usize {
                break;
            }
            ids = store.party_index_after(OPEN_RECHARGES, OPEN, &last, page).await?;
        }
        Ok(expired)
    }

    /// Closes one order as expired if it is still pending past its expiry. An order whose channel
    /// answers status questions is left to the compensation job, which asks before closing: a
    /// payment made at the last moment must not be closed unseen.
    async fn expire_recharge_order(&self, id: &str, now: Timestamp) -> Result<bool, WalletFailure> {
        let _turn = self.turn([id.to_owned()]).await;
        transact!(&self.parties, |work| {
            let mut order = load(work, id).await?;
            if order.status != RechargeStatus::Pending || order.expires_at > now {
                return Ok(false);
            }
            if self.config.channel(&order.channel).is_some_and(|c| c.status_url.is_some()) {
                return Ok(false);
            }
            order.status = RechargeStatus::Expired;
            order.reason = Some("expired".to_owned());
            work.put(&order);
            work.unindex(OPEN_RECHARGES, OPEN, id);
            work.history(id, &order.customer_id, "recharge.expired", &Actor::System, None, json!({}));
            Ok(true)
        })
    }

    async fn end_recharge(
        &self,
        client: ClientId,
        number: &OrderNumber,
        to: RechargeStatus,
        from: &[RechargeStatus],
        reason: &str,
        actor: &Actor,
    ) -> Result<RechargeOrder, WalletFailure> {
        let id = order_record_id("recharge_order", client, number);
        let _turn = self.turn([id.clone()]).await;
        transact!(&self.parties, |work| {
            let mut order = load(work, &id).await?;
            if order.status == to {
                return Ok(order);
            }
            if !from.contains(&order.status) {
                return Err(WalletFailure::Rejected(ORDER_STATE_INVALID));
            }
            let was = order.status;
            order.status = to;
            order.reason = Some(reason.to_owned());
            work.put(&order);
            work.unindex(OPEN_RECHARGES, OPEN, &id);
            work.history(&id, &order.customer_id, "recharge.ended", actor, None, json!({ "from": was, "to": to }));
            Ok(order)
        })
    }

    async fn credit_recharge(
        &self,
        client: ClientId,
        number: &OrderNumber,
        actor: &Actor,
        from: RechargeStatus,
    ) -> Result<RechargeOrder, WalletFailure> {
        let id = order_record_id("recharge_order", client, number);
        let seen = load(&mut self.parties.reader(), &id).await?;
        // A member in debt repays it first out of the credit, planned on the wallet's balances.
        let _turn = self.turn([super::wallet_key(seen.member_id), id.clone()]).await;
        let seen = load(&mut self.parties.reader(), &id).await?;
        if seen.status == from {
            self.ensure_bonus_account(&seen, actor).await?;
        }
        let clearing = self.ensure_platform_account(&PlatformAccount::Clearing(seen.channel.clone())).await?;
        let currency = self.config.currency;
        let marketing = PlatformAccount::MarketingExpense.id(currency);
        let fee_expense = PlatformAccount::FeeExpense.id(currency);
        let order = transact!(&self.parties, WalletFailure, |work| {
            let mut order = load(work, &id).await?;
            match order.status {
                RechargeStatus::Succeeded | RechargeStatus::Crediting => return Ok(order),
                status if status == from => {}
                RechargeStatus::Reviewing => return Err(WalletFailure::Rejected(ORDER_UNDER_REVIEW)),
                RechargeStatus::Pending => return Err(WalletFailure::Rejected(ORDER_NOT_UNDER_REVIEW)),
                _ => return Err(WalletFailure::Rejected(ORDER_CLOSED)),
            }
            let wallet = self.load_wallet(order.member_id).await?;
            let bonus_account = wallet
                .accounts()
                .iter()
                .filter(|a| a.account_type().code() == &self.config.bonus_account_type)
                .map(|a| a.id())
                .min();
            // The tier is the one offered when the member chose to recharge.
            let mut plan = plan_recharge(
                &wallet,
                order.account_id,
                order.amount,
                &self.tiers_of(&order),
                order.created_at,
                bonus_account,
            )?;
            if order.fee_paid_by_member {
                plan.repayment = plan_repayment(&wallet, order.account_id, order.amount - order.fee)?;
            }
            let mut moves: Vec<Move> = plan.legs(clearing, marketing).into_iter().map(Move::from).collect();
            if !order.fee_paid_by_member {
                if let Some(fee) = Amount::new(order.fee) {
                    moves.push(Move { debit: fee_expense, credit: clearing, amount: fee, code: "recharge_fee" });
                }
            }
            let chain = posted_chain(&moves, &id, "credit", &order.order_number);
            order.repaid = plan.repayment.repaid();
            order.credited = plan.repayment.credit;
            order.bonus = plan.bonus.map_or(0, |b| b.amount.get());
            order.status = RechargeStatus::Crediting;
            order.in_flight = store_chain(&chain);
            work.put(&order);
            Ok(order)
        })?;
        self.finish_credit(order, actor).await
    }

    /// Submits a decided credit and records its outcome; a refused one goes back to waiting.
    async fn finish_credit(&self, order: RechargeOrder, actor: &Actor) -> Result<RechargeOrder, WalletFailure> {
        if order.status != RechargeStatus::Crediting {
            return Ok(order);
        }
        let requests = restore_chain(&order.in_flight)?;
        let outcome = chain::apply(&self.ledger, requests.clone()).await?;
        let id = order.id.clone();
        let refusal = self.name_ledger_block(outcome.err(), &requests).await?;
        let order = transact!(&self.parties, WalletFailure, |work| {
            let mut order = load(work, &id).await?;
            if order.status != RechargeStatus::Crediting {
                return Ok(order);
            }
            order.in_flight = Vec::new();
            match &refusal {
                None => {
                    order.status = RechargeStatus::Succeeded;
                    work.unindex(OPEN_RECHARGES, OPEN, &id);
                    work.history(
                        &id,
                        &order.customer_id,
                        "recharge.credited",
                        actor,
                        None,
                        json!({ "repaid": order.repaid, "credited": order.credited, "bonus": order.bonus }),
                    );
                }
                Some(_) => {
                    order.status =
                        if order.review_required { RechargeStatus::Reviewing } else { RechargeStatus::Pending };
                    (order.repaid, order.credited, order.bonus) = (0, 0, 0);
                }
            }
            work.put(&order);
            Ok(order)
        })?;
        match refusal {
            None => Ok(order),
            Some(refusal) => Err(refusal),
        }
    }

    /// The tiers an order is credited at: its merchant's, kept with it, or the platform's.
    fn tiers_of(&self, order: &RechargeOrder) -> sanhu_core::wallet::RechargeTiers {
        match &order.tiers {
            None => self.config.recharge_tiers.clone(),
            Some(tiers) => sanhu_core::wallet::RechargeTiers::new(
                self.config.currency,
                tiers
                    .iter()
                    .filter_map(|t| sanhu_core::wallet::RechargeTier::new(t.pay, t.bonus, t.starts_at, t.ends_at).ok())
                    .collect(),
            ),
        }
    }

    /// Opens the member's bonus account before a recharge whose tier grants a bonus, if they have none.
    async fn ensure_bonus_account(&self, order: &RechargeOrder, actor: &Actor) -> Result<(), WalletFailure> {
        let amount = Amount::new(order.amount).expect("a stored order's amount is positive");
        let earns = self.tiers_of(order).applicable(amount, order.created_at).is_some_and(|t| t.bonus() > 0);
        if !earns {
            return Ok(());
        }
        let wallet = self.load_wallet(order.member_id).await?;
        let has = wallet.accounts().iter().any(|a| a.account_type().code() == &self.config.bonus_account_type);
        if !has {
            match self.parties.open_account(order.member_id, &self.config.bonus_account_type, actor).await {
                Ok(_) => {}
                // A concurrent confirmation of this order (or another recharge) opened it first.
                Err(error) if error.code() == "account_type_limit_reached" => {}
                Err(error) => return Err(error.into()),
            }
        }
        Ok(())
    }
}

fn same_recharge(existing: RechargeOrder, request: &RechargeRequest) -> Result<RechargeOrder, WalletFailure> {
    let same = existing.member_id == request.member
        && existing.amount == request.amount
        && existing.channel == request.channel
        && request.account.is_none_or(|a| a == existing.account_id);
    if same {
        Ok(existing)
    } else {
        Err(WalletFailure::Rejected(ORDER_NUMBER_REUSED))
    }
}
