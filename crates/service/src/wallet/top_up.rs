//! Cross-wallet top-up (002 case 08): one person, a member of two franchisees under one brand, moves
//! money from its wallet at franchisee A to its wallet at franchisee B, where both franchisees'
//! settings allow it (`cross_wallet_top_up`, set by the brand).
//!
//! **The money.** The recharged money only (the accounts of the recharge account type, `basic`): a
//! bonus is the franchisee's promotion and stays where it was given. One linked chain, from A's
//! member's account to B's member's account (`wallet_top_up`), with ids derived from the order record
//! (`chain.rs`): a retry or a crash moves it once.
//!
//! **The settlement between the franchisees** is a recorded settlement item, not a ledger transfer
//! between their accounts: a member's unspent money is held by the platform (its recharge went to
//! the channel's account, never to A's receipts), so no money of A's moves when the member's float
//! moves to B; what A owes B is the franchisees' own arrangement (A took the cash at its counter) and
//! is settled between them. The item (A owes B the amount, for this order) is kept on the top-up and
//! in both merchants' histories (`merchant.settlement_recorded`). A transfer from A's receipts would
//! take A's earnings for money it never held, and refuse the member's top-up whenever A's receipts
//! were short.
//!
//! **In turn.** The top-up takes the turns of both wallets and of its order: turns are taken in the
//! keys' order (`crate::turns`), so two opposite top-ups (A to B and B to A at once) wait for each
//! other, never in a cycle.

use sanhu_core::id::{ClientId, MemberId};
use sanhu_core::party::{Actor, MemberAction};
use sanhu_core::wallet::WalletError;
use sanhu_core::{AccountId, Amount, Timestamp};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::{self, id_text, posted_chain, store_chain, InFlight, Move, StoredRequest};
use super::error::*;
use super::records::{json_document, order_record_id, time_ns, OrderNumber};
use super::restriction::Side;
use super::{wallet_key, Wallets};
use crate::party::work::Work;
use crate::party::Rejection;
use crate::wallet::WalletFailure;

/// The business code of a top-up's transfer.
pub const TOP_UP_CODE: &str = "wallet_top_up";

pub const CROSS_WALLET_TOP_UP_NOT_ALLOWED: Rejection = Rejection {
    code: "cross_wallet_top_up_not_allowed",
    status: 422,
    message: "both members must be merchants' members under one top whose settings allow cross-wallet top-ups",
};
pub const TOP_UP_MEMBERS_DIFFER: Rejection = Rejection {
    code: "top_up_members_differ",
    status: 422,
    message: "a top-up moves money between two wallets of one person (members of one customer)",
};
pub const TOP_UP_SAME_WALLET: Rejection = Rejection {
    code: "top_up_same_wallet",
    status: 422,
    message: "a top-up moves money between two different wallets",
};

/// Where a top-up stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TopUpStatus {
    Moving,
    Moved,
    /// The ledger refused it; nothing moved.
    Failed,
}

/// What the franchisee the money left owes the one it reached.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SettlementItem {
    /// A: the merchant the money left.
    pub debtor_merchant_id: String,
    /// B: the merchant it reached.
    pub creditor_merchant_id: String,
    pub amount: i64,
    /// The merchants' customers, whose histories the item is recorded in.
    pub debtor_customer_id: String,
    pub creditor_customer_id: String,
}

/// A top-up as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WalletTopUp {
    pub id: String,
    pub customer_id: String,
    pub order_number: String,
    #[serde(with = "id_text")]
    pub client: ClientId,
    #[serde(with = "id_text")]
    pub from_member_id: MemberId,
    #[serde(with = "id_text")]
    pub to_member_id: MemberId,
    #[serde(with = "id_text")]
    pub from_account_id: AccountId,
    #[serde(with = "id_text")]
    pub to_account_id: AccountId,
    pub amount: i64,
    pub settlement: SettlementItem,
    pub status: TopUpStatus,
    pub reason: Option<String>,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    in_flight: Vec<StoredRequest>,
}
json_document!(WalletTopUp, "wallet_top_up");

impl InFlight for WalletTopUp {
    fn in_flight(&self) -> &[StoredRequest] {
        &self.in_flight
    }
    fn settle(&mut self, refusal: Option<&WalletFailure>) {
        match refusal {
            None => self.status = TopUpStatus::Moved,
            Some(refusal) => {
                self.status = TopUpStatus::Failed;
                self.reason = Some(refusal.code().to_owned());
            }
        }
        self.in_flight = Vec::new();
    }
    fn customer(&self) -> String {
        self.customer_id.clone()
    }
    fn after_settle(&mut self, work: &mut Work) {
        if self.status != TopUpStatus::Moved {
            return;
        }
        // The settlement item, in both franchisees' histories once the money moved.
        let item = &self.settlement;
        let detail = |other: &str, side: &str| json!({ "order_number": self.order_number, side: other, "amount": item.amount, "top_up": self.id });
        let system = Actor::System;
        for (merchant, customer, detail) in [
            (&item.debtor_merchant_id, &item.debtor_customer_id, detail(&item.creditor_merchant_id, "owes_to")),
            (&item.creditor_merchant_id, &item.creditor_customer_id, detail(&item.debtor_merchant_id, "owed_by")),
        ] {
            work.history(merchant, customer, "merchant.settlement_recorded", &system, None, detail);
        }
    }
}

/// What a top-up takes.
#[derive(Clone, Debug)]
pub struct TopUpRequest {
    pub client: ClientId,
    pub order_number: OrderNumber,
    pub from: MemberId,
    pub to: MemberId,
    pub amount: i64,
    /// The member's pay password at A, where the platform requires one.
    pub pay_password: Option<String>,
}

impl Wallets {
    /// Moves money from one of a person's wallets at a franchisee to its wallet at another. The same
    /// number again answers the top-up as it is (a refused one, its refusal).
    pub async fn top_up(&self, request: &TopUpRequest, actor: &Actor) -> Result<WalletTopUp, WalletFailure> {
        let amount = Amount::new(request.amount).ok_or(WalletError::InvalidAmount)?;
        let id = order_record_id("wallet_top_up", request.client, &request.order_number);
        let _turn = self.turn([wallet_key(request.from), wallet_key(request.to), id.clone()]).await;
        if let Some(existing) = self.parties.reader().get::<WalletTopUp>(&id).await? {
            let existing = same_top_up(existing, request)?;
            return answered(chain::resume(&self.parties, &self.ledger, existing, "wallet_top_up.moved", actor).await?);
        }
        if request.from == request.to {
            return Err(WalletFailure::Rejected(TOP_UP_SAME_WALLET));
        }
        let from = self.parties.member_acts(request.from, MemberAction::Transfer).await?;
        let to = self.parties.get_member(request.to).await?;
        self.member_may_receive(request.to).await?;
        self.check_pay_password(request.from, request.pay_password.as_deref()).await?;
        if from.member.customer() != to.member.customer() {
            return Err(WalletFailure::Rejected(TOP_UP_MEMBERS_DIFFER));
        }
        let (Some(from_scope), Some(to_scope)) = (&from.scope, &to.scope) else {
            return Err(WalletFailure::Rejected(CROSS_WALLET_TOP_UP_NOT_ALLOWED));
        };
        let merchant_id = |text: &str| {
            sanhu_core::id::MerchantId::parse(text).ok_or_else(|| anyhow::anyhow!("a stored scope's merchant"))
        };
        let (from_merchant, to_merchant) = (merchant_id(&from_scope.merchant_id)?, merchant_id(&to_scope.merchant_id)?);
        let from_settings = self.parties.effective_settings(from_merchant).await?;
        let to_settings = self.parties.effective_settings(to_merchant).await?;
        if !from_settings.cross_wallet_top_up.value
            || !to_settings.cross_wallet_top_up.value
            || from_settings.top != to_settings.top
        {
            return Err(WalletFailure::Rejected(CROSS_WALLET_TOP_UP_NOT_ALLOWED));
        }
        self.customer_may(from.member.customer(), Side::Pays).await?;
        let recharge_account = |wallet: &sanhu_core::wallet::Wallet| {
            wallet
                .accounts()
                .iter()
                .filter(|a| a.account_type().code() == &self.config.recharge_account_type)
                .map(|a| a.id())
                .min()
                .ok_or(WalletFailure::Rejected(ACCOUNT_NOT_MEMBERS))
        };
        let from_account = recharge_account(&self.load_wallet(request.from).await?)?;
        let to_account = recharge_account(&self.load_wallet(request.to).await?)?;
        for (account, side) in [(from_account, Side::Pays), (to_account, Side::Receives)] {
            if let Some(restriction) = self.account_restriction(account, side).await? {
                return Err(restriction);
            }
        }
        let debtor_customer_id = self.parties.get_merchant(from_merchant).await?.customer_id;
        let creditor_customer_id = self.parties.get_merchant(to_merchant).await?.customer_id;
        let view = self.wallet(request.from).await?;
        let available = view.parts.iter().find(|p| p.account_id == from_account).map_or(0, |p| p.available);
        if available < amount.get() {
            return Err(WalletError::InsufficientFunds.into());
        }
        let top_up = transact!(&self.parties, WalletFailure, |work| {
            if let Some(existing) = work.get::<WalletTopUp>(&id).await? {
                return same_top_up(existing, request);
            }
            let moves = [Move { debit: from_account, credit: to_account, amount, code: TOP_UP_CODE }];
            let chain = posted_chain(&moves, &id, "move", request.order_number.as_str());
            let top_up = WalletTopUp {
                id: id.clone(),
                customer_id: from.member.customer().to_string(),
                order_number: request.order_number.as_str().to_owned(),
                client: request.client,
                from_member_id: request.from,
                to_member_id: request.to,
                from_account_id: from_account,
                to_account_id: to_account,
                amount: amount.get(),
                settlement: SettlementItem {
                    debtor_merchant_id: from_scope.merchant_id.clone(),
                    creditor_merchant_id: to_scope.merchant_id.clone(),
                    amount: amount.get(),
                    debtor_customer_id: debtor_customer_id.clone(),
                    creditor_customer_id: creditor_customer_id.clone(),
                },
                status: TopUpStatus::Moving,
                reason: None,
                created_at: work.now,
                in_flight: store_chain(&chain),
            };
            work.put(&top_up);
            let detail = json!({ "from": top_up.from_member_id.to_string(), "to": top_up.to_member_id.to_string(),
                                 "amount": top_up.amount });
            work.history(&id, &top_up.customer_id, "wallet_top_up.created", actor, None, detail);
            Ok(top_up)
        })?;
        answered(chain::resume(&self.parties, &self.ledger, top_up, "wallet_top_up.moved", actor).await?)
    }

    /// The top-up under the caller's number.
    pub async fn get_top_up(&self, client: ClientId, number: &OrderNumber) -> Result<WalletTopUp, WalletFailure> {
        let id = order_record_id("wallet_top_up", client, number);
        self.parties.reader().get::<WalletTopUp>(&id).await?.ok_or(WalletFailure::NotFound(ORDER_NOT_FOUND))
    }
}

fn answered(top_up: WalletTopUp) -> Result<WalletTopUp, WalletFailure> {
    if top_up.status == TopUpStatus::Failed {
        return Err(recorded_refusal(top_up.reason.as_deref()));
    }
    Ok(top_up)
}

fn same_top_up(existing: WalletTopUp, request: &TopUpRequest) -> Result<WalletTopUp, WalletFailure> {
    let same = existing.from_member_id == request.from
        && existing.to_member_id == request.to
        && existing.amount == request.amount;
    if same {
        Ok(existing)
    } else {
        Err(WalletFailure::Rejected(ORDER_NUMBER_REUSED))
    }
}
