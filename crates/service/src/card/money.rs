//! A stored-value card's money: recharges, payments with its discount, refunds to it; and every
//! transaction of a card, listed.
//!
//! Each movement is a transaction record named by the caller's order number (unique per API client
//! and kind; a request sent with an Idempotency-Key and no order number is numbered from the key), so
//! a retry names the same record. The record is written with its chain of ledger transfers (ids
//! derived from the record, `crate::wallet::chain`) before the chain is submitted, and settled with
//! the ledger's answer after: a crash between the two leaves it `in_flight`, and the retry submits the
//! same chain, which the ledger applies once. Every transfer carries the card's number as its
//! reference, and every transaction is listed under the card.
//!
//! - **Recharge**: from a payment channel's clearing account to the card, if its type may be
//!   recharged.
//! - **Payment**: the order's amount times the card's rate for the order's business line (rounded
//!   half up to the minor unit, core's `discounted`), from the card to the receiving member account;
//!   a merchant's card pays only into that merchant's member's accounts. The receiver is checked as a
//!   wallet payment's is (`Wallets::account_may_receive`: a merchant not active, an account or a
//!   member that may not receive), and what it receives is counted against its merchant's limits in
//!   the write that records the payment (`party::merchants::merchant_receives`), given back in the
//!   write that records the ledger's refusal. A refund leaves the counts as a wallet refund does.
//! - **Refund**: part or all of a payment, back from its receiver to the card, if the receiver may pay
//!   (checked as a wallet refund's receiver is) and the card may receive (active or frozen, not
//!   replaced); the refunds of a payment add up to at most what it took, checked in the statement that stores each (concurrent refunds
//!   included), and a refund the ledger refuses gives its share back.

use anyhow::anyhow;
use sanhu_core::card::coupon::CouponError;
use sanhu_core::card::{discounted, CardError, CardKind, CardOwner, CardStatus};
use sanhu_core::id::QuoteId;
use sanhu_core::id::{ClientId, MemberId};
use sanhu_core::party::product::PlatformProduct;
use sanhu_core::party::store::PaymentMethod;
use sanhu_core::party::Actor;
use sanhu_core::{AccountId, Amount, Timestamp, TransferId};
use sanhu_store::card::{CardInsert, CardStore, CounterAdd, QuoteRedemption, StoredCardTransaction};
use serde::{Deserialize, Serialize};

use super::documents::{decode, encode};
use super::{page_limit, CardFailure, Cards, CARD_CURSOR_INVALID, CARD_RECEIVER_OUTSIDE_SCOPE};
use super::{CARD_TRANSACTION_NOT_FOUND, CHECKOUT_QUOTE_EXPIRED, CHECKOUT_QUOTE_MISMATCH, CHECKOUT_QUOTE_USED};
use crate::clock;
use crate::party::merchants::{merchant_receives, MerchantCount};
use crate::party::work::actor_text;
use crate::party::{MemberObject, PartyError};
use crate::wallet::chain::{apply, posted_chain, restore_chain, store_chain, Move, StoredRequest};
use crate::wallet::{
    recorded_refusal, OrderNumber, PlatformAccount, CHANNEL_NOT_CONFIGURED, ORDER_NUMBER_REUSED, RECEIVER_NOT_FOUND,
};

pub const CARD_RECHARGE_CODE: &str = "card_recharge";
pub const CARD_PAYMENT_CODE: &str = "card_payment";
pub const CARD_REFUND_CODE: &str = "card_refund";

/// What a transaction of a card was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CardTransactionKind {
    Sale,
    Recharge,
    Payment,
    Refund,
    /// What a re-issued card held, moved to its successor.
    Reissue,
    /// What an expired card held, forfeited to the platform's income as its type says.
    Forfeit,
    /// What a cancelled card held, refunded.
    Cancel,
}

impl CardTransactionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CardTransactionKind::Sale => "sale",
            CardTransactionKind::Recharge => "recharge",
            CardTransactionKind::Payment => "payment",
            CardTransactionKind::Refund => "refund",
            CardTransactionKind::Reissue => "reissue",
            CardTransactionKind::Forfeit => "forfeit",
            CardTransactionKind::Cancel => "cancel",
        }
    }

    fn parse(text: &str) -> Option<CardTransactionKind> {
        use CardTransactionKind::*;
        [Sale, Recharge, Payment, Refund, Reissue, Forfeit, Cancel].into_iter().find(|k| k.as_str() == text)
    }

    /// Whether it closes a card: all it holds moved out by a balancing transfer, its amount what the
    /// ledger moved.
    pub fn closes(self) -> bool {
        matches!(self, CardTransactionKind::Reissue | CardTransactionKind::Forfeit | CardTransactionKind::Cancel)
    }
}

/// Where a transaction's money is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransactionStatus {
    /// Decided and submitted; the ledger's answer not yet recorded (a retry finishes it).
    InFlight,
    Succeeded,
    Failed,
}

impl TransactionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            TransactionStatus::InFlight => "in_flight",
            TransactionStatus::Succeeded => "succeeded",
            TransactionStatus::Failed => "failed",
        }
    }

    fn parse(text: &str) -> Option<TransactionStatus> {
        use TransactionStatus::*;
        [InFlight, Succeeded, Failed].into_iter().find(|s| s.as_str() == text)
    }
}

/// One transaction of a card.
#[derive(Clone, Debug)]
pub struct CardTransaction {
    pub(crate) id: String,
    /// The caller's order number.
    pub order_number: String,
    pub kind: CardTransactionKind,
    pub card_number: String,
    /// What it moved into or out of the card (a payment: what it took, after the discount).
    pub amount: i64,
    /// A payment: the order's amount before the discount; a sale: the price paid for the card.
    pub order_amount: Option<i64>,
    /// A payment: the order's amount less what it took.
    pub discount: i64,
    /// A payment: the rate applied, in basis points of the price.
    pub rate_bp: Option<u32>,
    pub business_line: Option<String>,
    /// The account on the other side: a recharge's channel clearing account, a payment's receiver.
    pub counter_account: Option<AccountId>,
    /// A refund: the payment's order number.
    pub payment_number: Option<String>,
    /// A payment: what its refunds gave back.
    pub refunded: i64,
    pub status: TransactionStatus,
    /// The code it was refused with (`insufficient_funds`, ...).
    pub refusal: Option<String>,
    pub transfers: Vec<TransferId>,
    pub(crate) fingerprint: String,
    pub actor: String,
    pub created_at: Timestamp,
    pub(crate) chain: Vec<StoredRequest>,
    /// A payment to a merchant: what is counted against its limits.
    pub(crate) counted: Option<MerchantCount>,
    /// A payment with a checkout quote: the quote, the coupons it redeemed and what they took off.
    pub quote_id: Option<String>,
    pub coupons: Vec<String>,
    pub coupon_deduction: i64,
    /// A payment at a store's counter: the receiving merchant's store and terminal.
    pub store_id: Option<String>,
    pub terminal_id: Option<String>,
    /// A re-issue: the successor's number.
    pub successor: Option<String>,
    /// A cancellation: how its balance was refunded (`wallet`, `cash`, `none`).
    pub refund_method: Option<String>,
    /// A refund of a payment whose card was re-issued since: the card that received it (the last
    /// of the card's successors), the record keeping the paying card's number.
    pub refunded_to_card: Option<String>,
    /// A refund of a payment whose card (or its last successor) was cancelled since: the account
    /// the cancellation refunded the card's balance to, which received it.
    pub refunded_to_account: Option<AccountId>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TransactionDoc {
    order_number: String,
    order_amount: Option<i64>,
    discount: i64,
    rate_bp: Option<u32>,
    business_line: Option<String>,
    counter_account: Option<String>,
    payment_number: Option<String>,
    refusal: Option<String>,
    transfers: Vec<String>,
    fingerprint: String,
    actor: String,
    chain: Vec<StoredRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    counted: Option<MerchantCount>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    quote_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    coupons: Vec<String>,
    #[serde(default, skip_serializing_if = "is_zero")]
    coupon_deduction: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    store_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    terminal_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    successor: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refund_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refunded_to_card: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refunded_to_account: Option<String>,
}

fn is_zero(n: &i64) -> bool {
    *n == 0
}

impl CardTransaction {
    /// A transaction about to be recorded with its chain, before the ledger decides it: nothing moved
    /// yet, nothing refunded or refused. The kinds' own fields are set over it.
    #[allow(clippy::too_many_arguments)] // the fields every kind sets, each named at its call
    pub(crate) fn in_flight(
        id: &str,
        kind: CardTransactionKind,
        order_number: &str,
        card_number: &str,
        amount: i64,
        fingerprint: String,
        actor: String,
        created_at: Timestamp,
        chain: Vec<StoredRequest>,
    ) -> CardTransaction {
        CardTransaction {
            id: id.to_owned(),
            order_number: order_number.to_owned(),
            kind,
            card_number: card_number.to_owned(),
            amount,
            order_amount: None,
            discount: 0,
            rate_bp: None,
            business_line: None,
            counter_account: None,
            payment_number: None,
            refunded: 0,
            status: TransactionStatus::InFlight,
            refusal: None,
            transfers: Vec::new(),
            fingerprint,
            actor,
            created_at,
            chain,
            counted: None,
            quote_id: None,
            coupons: Vec::new(),
            coupon_deduction: 0,
            store_id: None,
            terminal_id: None,
            successor: None,
            refund_method: None,
            refunded_to_card: None,
            refunded_to_account: None,
        }
    }

    pub(crate) fn stored(&self) -> StoredCardTransaction {
        StoredCardTransaction {
            id: self.id.clone(),
            card_number: self.card_number.clone(),
            kind: self.kind.as_str().to_owned(),
            amount: self.amount,
            refunded: self.refunded,
            status: self.status.as_str().to_owned(),
            data: encode(&TransactionDoc {
                order_number: self.order_number.clone(),
                order_amount: self.order_amount,
                discount: self.discount,
                rate_bp: self.rate_bp,
                business_line: self.business_line.clone(),
                counter_account: self.counter_account.map(|a| a.to_string()),
                payment_number: self.payment_number.clone(),
                refusal: self.refusal.clone(),
                transfers: self.transfers.iter().map(|t| t.to_string()).collect(),
                fingerprint: self.fingerprint.clone(),
                actor: self.actor.clone(),
                chain: self.chain.clone(),
                counted: self.counted.clone(),
                quote_id: self.quote_id.clone(),
                coupons: self.coupons.clone(),
                coupon_deduction: self.coupon_deduction,
                store_id: self.store_id.clone(),
                terminal_id: self.terminal_id.clone(),
                successor: self.successor.clone(),
                refund_method: self.refund_method.clone(),
                refunded_to_card: self.refunded_to_card.clone(),
                refunded_to_account: self.refunded_to_account.map(|a| a.to_string()),
            }),
            created_at: self.created_at,
        }
    }

    pub(crate) fn restore(t: StoredCardTransaction) -> anyhow::Result<CardTransaction> {
        let doc: TransactionDoc = decode(&t.data, "card transaction")?;
        Ok(CardTransaction {
            kind: CardTransactionKind::parse(&t.kind).ok_or_else(|| anyhow!("stored transaction kind {:?}", t.kind))?,
            status: TransactionStatus::parse(&t.status)
                .ok_or_else(|| anyhow!("stored transaction status {:?}", t.status))?,
            id: t.id,
            order_number: doc.order_number,
            card_number: t.card_number,
            amount: t.amount,
            order_amount: doc.order_amount,
            discount: doc.discount,
            rate_bp: doc.rate_bp,
            business_line: doc.business_line,
            counter_account: doc
                .counter_account
                .as_deref()
                .map(|a| AccountId::parse(a).ok_or_else(|| anyhow!("stored account {a:?}")))
                .transpose()?,
            payment_number: doc.payment_number,
            refunded: t.refunded,
            refusal: doc.refusal,
            transfers: doc
                .transfers
                .iter()
                .map(|id| TransferId::parse(id).ok_or_else(|| anyhow!("stored transfer {id:?}")))
                .collect::<anyhow::Result<_>>()?,
            fingerprint: doc.fingerprint,
            actor: doc.actor,
            created_at: t.created_at,
            chain: doc.chain,
            counted: doc.counted,
            quote_id: doc.quote_id,
            coupons: doc.coupons,
            coupon_deduction: doc.coupon_deduction,
            store_id: doc.store_id,
            terminal_id: doc.terminal_id,
            successor: doc.successor,
            refund_method: doc.refund_method,
            refunded_to_card: doc.refunded_to_card,
            refunded_to_account: doc
                .refunded_to_account
                .as_deref()
                .map(|a| AccountId::parse(a).ok_or_else(|| anyhow!("stored account {a:?}")))
                .transpose()?,
        })
    }
}

/// The record id of `kind`'s order `number` of `client`: a retry names the same one.
pub(crate) fn transaction_id(kind: CardTransactionKind, client: ClientId, number: &OrderNumber) -> String {
    format!("card_{}:{client}:{}", kind.as_str(), number.as_str())
}

/// A recharge of a card.
#[derive(Clone, Debug)]
pub struct RechargeRequest {
    pub client: ClientId,
    pub order_number: OrderNumber,
    pub amount: i64,
    /// The payment channel the member paid through.
    pub channel: String,
}

/// A payment with a card.
#[derive(Clone, Debug)]
pub struct PaymentRequest {
    pub client: ClientId,
    pub order_number: OrderNumber,
    /// The order's amount, before the discount (with a quote: the quote's, when not given).
    pub amount: Option<i64>,
    /// The order's business line, which names its rate; the default rate when absent or not named.
    pub business_line: Option<String>,
    /// The member account the money goes to.
    pub receiver: AccountId,
    /// The checkout quote it pays: the card pays what the quote left to pay, and the quote's coupons
    /// are redeemed in the write that records the payment.
    pub quote: Option<QuoteId>,
    /// The receiving merchant's store and terminal where the card pays (`party::stores`): the store
    /// must take cards.
    pub store: Option<sanhu_core::id::StoreId>,
    pub terminal: Option<sanhu_core::id::TerminalId>,
}

/// A refund to a card of (part of) one of its payments, made by the same client.
#[derive(Clone, Debug)]
pub struct RefundRequest {
    pub client: ClientId,
    pub order_number: OrderNumber,
    pub payment_number: OrderNumber,
    pub amount: i64,
}

/// The longest chain of re-issues a refund follows to the card that receives it.
pub const REFUND_CHAIN_MAX: usize = 64;

/// Where a refund of a card's payment is credited.
enum RefundDestination {
    /// The card, or its last successor.
    Card(Box<super::Card>),
    /// The wallet account a cancellation refunded the card's balance to.
    Account(AccountId),
}

/// A page of a card's transactions, newest first.
#[derive(Clone, Debug)]
pub struct CardPage {
    pub transactions: Vec<CardTransaction>,
    /// Where the next page starts; None on the last.
    pub next_cursor: Option<String>,
}

fn positive(amount: i64) -> Result<Amount, CardFailure> {
    Amount::new(amount).ok_or_else(|| CardError::AmountInvalid.into())
}

impl Cards {
    /// A transaction stored under `id`, if any: answered as it was when `fingerprint` matches (an
    /// unfinished one finished first, a refused one refused again), `order_number_reused` otherwise.
    pub(crate) async fn replay(&self, id: &str, fingerprint: &str) -> Result<Option<CardTransaction>, CardFailure> {
        let Some(stored) = self.store().card_transaction(id).await? else { return Ok(None) };
        let done = CardTransaction::restore(stored)?;
        if done.fingerprint != fingerprint {
            return Err(CardFailure::Rejected(ORDER_NUMBER_REUSED));
        }
        match done.status {
            TransactionStatus::Succeeded => Ok(Some(done)),
            TransactionStatus::Failed => Err(recorded_refusal(done.refusal.as_deref()).into()),
            TransactionStatus::InFlight => {
                let payment = self.refunded_payment(&done);
                Ok(Some(self.settle(done, payment).await?))
            }
        }
    }

    /// The payment a refund gives back part of (its record id), for giving the share back if the
    /// ledger refuses the refund.
    fn refunded_payment(&self, refund: &CardTransaction) -> Option<String> {
        if refund.kind != CardTransactionKind::Refund {
            return None;
        }
        let (_, rest) = refund.id.split_once(':')?;
        let (client, _) = rest.split_once(':')?;
        let number = refund.payment_number.as_deref()?;
        Some(format!("card_payment:{client}:{number}"))
    }

    /// Submits a transaction's chain and records the ledger's answer; a refusal is then the error.
    /// When the ledger could not answer, the transaction stays in flight for a retry.
    pub(crate) async fn settle(
        &self,
        mut transaction: CardTransaction,
        refunded_payment: Option<String>,
    ) -> Result<CardTransaction, CardFailure> {
        let chain = restore_chain(&transaction.chain)?;
        let outcome = apply(self.wallets.ledger(), chain).await?;
        let refusal = match outcome {
            Ok(transfers) => {
                transaction.status = TransactionStatus::Succeeded;
                transaction.transfers = transfers.iter().map(|t| t.id).collect();
                if transaction.kind.closes() {
                    // A balancing transfer: what it moved, which is at most what was read.
                    transaction.amount = transfers.iter().map(|t| t.amount).sum();
                }
                None
            }
            Err(refusal) => {
                transaction.status = TransactionStatus::Failed;
                transaction.refusal = Some(refusal.code().to_owned());
                Some(refusal)
            }
        };
        // A refund names its payment either way: refused, its share is given back; succeeded, a
        // payment refunded in full gives its returnable coupons back.
        let release = refunded_payment;
        // What a refused payment counted against its merchant's limits is given back in this write.
        let mut give_back = Vec::new();
        if refusal.is_some() {
            if let Some(counted) = transaction.counted.as_mut() {
                give_back = counted
                    .keys
                    .iter()
                    .map(|key| CounterAdd { key: key.clone(), amount: -counted.amount, limit: None })
                    .collect();
                counted.amount = 0;
            }
        }
        self.store().settle_card_transaction(&transaction.stored(), release, give_back).await?;
        match refusal {
            Some(refusal) => Err(refusal.into()),
            None => Ok(transaction),
        }
    }

    /// A card's account, checked to move money now: active, valid, stored value.
    async fn money_card(&self, number: &str, binding: Option<MemberId>) -> Result<super::Card, CardFailure> {
        let card = self.load_card(number, binding).await?;
        if card.terms.kind != CardKind::StoredValue {
            return Err(CardError::NotStoredValue.into());
        }
        card.check_usable(clock::now())?;
        Ok(card)
    }

    /// A new transaction's record, then its chain submitted and settled. With `receives` (a
    /// payment's receiver and what it receives), a merchant's account is checked against its limits
    /// and counted in the write that records it; a count another write took the room of meanwhile is
    /// decided again on the counters then (within the contention budget).
    async fn record_and_settle(
        &self,
        mut transaction: CardTransaction,
        receives: Option<(AccountId, i64)>,
        redeems: Option<QuoteRedemption>,
    ) -> Result<CardTransaction, CardFailure> {
        let mut retry = crate::party::work::Retry::new();
        loop {
            let mut counters = Vec::new();
            if let Some((receiver, amount)) = receives {
                let mut work = self.parties().reader();
                transaction.counted =
                    merchant_receives(self.parties(), &mut work, receiver, amount, true, PlatformProduct::MemberCards)
                        .await?;
                counters = work.take_counters();
            }
            match self.store().create_card_transaction(&transaction.stored(), counters, redeems.clone()).await? {
                CardInsert::Stored => return self.settle(transaction, None).await,
                CardInsert::Exists => {
                    return self
                        .replay(&transaction.id, &transaction.fingerprint)
                        .await?
                        .ok_or_else(|| anyhow!("card transaction {} vanished", transaction.id).into());
                }
                CardInsert::QuoteUnavailable => return Err(CardFailure::Rejected(CHECKOUT_QUOTE_USED)),
                CardInsert::CouponUnavailable { .. } => return Err(CouponError::Used.into()),
                CardInsert::CounterOverLimit { .. } => {
                    if !retry.again().await {
                        return Err(CardFailure::Contended);
                    }
                }
            }
        }
    }

    /// Recharges a card whose type may be recharged.
    pub async fn recharge_card(
        &self,
        number: &str,
        request: RechargeRequest,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<CardTransaction, CardFailure> {
        let amount = positive(request.amount)?;
        let id = transaction_id(CardTransactionKind::Recharge, request.client, &request.order_number);
        let fingerprint = format!("recharge|{number}|{}|{}", request.amount, request.channel);
        let _turn = self.turn(format!("card:{number}")).await;
        if let Some(done) = self.replay(&id, &fingerprint).await? {
            return Ok(done);
        }
        let card = self.money_card(number, binding).await?;
        if !card.terms.rechargeable {
            return Err(CardError::NotRechargeable.into());
        }
        let channel =
            self.wallets.config().channel(&request.channel).ok_or(CardFailure::Rejected(CHANNEL_NOT_CONFIGURED))?;
        let clearing = self.wallets.ensure_platform_account(&PlatformAccount::Clearing(channel.name.clone())).await?;
        let moves = [Move { debit: clearing, credit: card.account_id, amount, code: CARD_RECHARGE_CODE }];
        let chain = posted_chain(&moves, &id, "recharge", number);
        self.record_and_settle(
            CardTransaction {
                counter_account: Some(clearing),
                ..CardTransaction::in_flight(
                    &id,
                    CardTransactionKind::Recharge,
                    request.order_number.as_str(),
                    number,
                    request.amount,
                    fingerprint,
                    actor_text(actor),
                    clock::now(),
                    store_chain(&chain),
                )
            },
            None,
            None,
        )
        .await
    }

    /// Pays an order with a card: the card's rate for the order's line applied, the rest of the
    /// order's amount being the discount.
    pub async fn pay_with_card(
        &self,
        number: &str,
        request: PaymentRequest,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<CardTransaction, CardFailure> {
        if request.quote.is_none() {
            positive(request.amount.unwrap_or(0))?;
        }
        let id = transaction_id(CardTransactionKind::Payment, request.client, &request.order_number);
        let line = request.business_line.clone();
        let quoted = request.quote.map(|q| q.to_string()).unwrap_or_default();
        let counter_named = match (request.store, request.terminal) {
            (None, None) => String::new(),
            (store, terminal) => format!(
                "|at:{}:{}",
                store.map(|s| s.to_string()).unwrap_or_default(),
                terminal.map(|t| t.to_string()).unwrap_or_default()
            ),
        };
        let fingerprint = format!(
            "payment|{number}|{}|{}|{}{}{counter_named}",
            request.amount.map(|a| a.to_string()).unwrap_or_default(),
            line.as_deref().unwrap_or(""),
            request.receiver,
            if quoted.is_empty() { String::new() } else { format!("|{quoted}") }
        );
        let _turn = self.turn(format!("card:{number}")).await;
        if let Some(done) = self.replay(&id, &fingerprint).await? {
            return Ok(done);
        }
        let card = self.money_card(number, binding).await?;
        let receiver_member = match self.parties().owning_member(MemberObject::Account(request.receiver)).await {
            Ok(member) => member,
            Err(PartyError::NotFound(_)) => return Err(CardFailure::NotFound(RECEIVER_NOT_FOUND)),
            Err(other) => return Err(other.into()),
        };
        if let CardOwner::Merchant(merchant) = card.owner {
            if self.parties().merchant_member(merchant).await? != receiver_member {
                return Err(CardFailure::Rejected(CARD_RECEIVER_OUTSIDE_SCOPE));
            }
        }
        // At a store's counter: the receiver's store, open, taking cards.
        let counter = self
            .parties()
            .counter_of(Some(receiver_member), request.store, request.terminal, PaymentMethod::Card)
            .await?;
        // The receiver may receive, as a wallet payment's must (a merchant not active, an account or
        // a member restricted: the same codes).
        self.wallets.account_may_receive(request.receiver, PlatformProduct::MemberCards).await?;
        let now = clock::now();
        let (order_amount, paid, discount, rate, quote) = match request.quote {
            None => {
                let order_amount = request.amount.unwrap_or(0);
                let rate = card.terms.rate_for(line.as_deref());
                let (paid, discount) = discounted(order_amount, rate).ok_or(CardError::AmountInvalid)?;
                (order_amount, paid, discount, Some(rate), None)
            }
            Some(quote_id) => {
                let quote = self.quote_for_card(quote_id, number).await?;
                // The coupons are the card's holder's (the card may have changed hands since).
                if card.member_id != Some(quote.member_id) {
                    return Err(CouponError::NotMembers.into());
                }
                // A line of a merchant is paid to that merchant: a coupon scoped to it is not spent
                // on a payment to another.
                for merchant in quote.quote.lines.iter().filter_map(|l| l.merchant) {
                    let runner = match self.parties().merchant_member(merchant).await {
                        Ok(runner) => Some(runner),
                        Err(PartyError::NotFound(_)) => None,
                        Err(other) => return Err(other.into()),
                    };
                    if runner != Some(receiver_member) {
                        return Err(CardFailure::Rejected(CHECKOUT_QUOTE_MISMATCH));
                    }
                }
                // A merchant's coupon is spent only on a payment to that merchant or one below it.
                for coupon in &quote.coupon_ids {
                    let Some(stored) = self.store().coupon(&coupon.to_string()).await? else { continue };
                    if let Some(CardOwner::Merchant(owner)) = CardOwner::parse(&stored.owner) {
                        let runner = self.parties().merchant_member(owner).await?;
                        if !self.parties().reaches(runner, receiver_member).await? {
                            return Err(CardFailure::Rejected(CHECKOUT_QUOTE_MISMATCH));
                        }
                    }
                }
                if line.is_some() || request.amount.is_some_and(|a| a != quote.quote.order_amount) {
                    return Err(CardFailure::Rejected(CHECKOUT_QUOTE_MISMATCH));
                }
                if quote.payment_id.is_some() {
                    return Err(CardFailure::Rejected(CHECKOUT_QUOTE_USED));
                }
                if quote.expires_at <= now {
                    return Err(CardFailure::Rejected(CHECKOUT_QUOTE_EXPIRED));
                }
                let q = &quote.quote;
                (q.order_amount, q.to_pay, q.discount, None, Some(quote))
            }
        };
        let moves = [Move {
            debit: card.account_id,
            credit: request.receiver,
            amount: positive(paid)?,
            code: CARD_PAYMENT_CODE,
        }];
        let chain = posted_chain(&moves, &id, "payment", number);
        let redeems = quote.as_ref().map(|q| QuoteRedemption {
            quote_id: q.id.to_string(),
            coupon_ids: q.coupon_ids.iter().map(|c| c.to_string()).collect(),
            at: now,
        });
        self.record_and_settle(
            CardTransaction {
                order_amount: Some(order_amount),
                discount,
                rate_bp: rate,
                business_line: line,
                counter_account: Some(request.receiver),
                quote_id: quote.as_ref().map(|q| q.id.to_string()),
                coupons: quote
                    .as_ref()
                    .map(|q| q.coupon_ids.iter().map(|c| c.to_string()).collect())
                    .unwrap_or_default(),
                coupon_deduction: quote.as_ref().map_or(0, |q| q.quote.coupon_deduction),
                store_id: counter.as_ref().map(|c| c.store_id.to_string()),
                terminal_id: counter.as_ref().and_then(|c| c.terminal_id).map(|t| t.to_string()),
                ..CardTransaction::in_flight(
                    &id,
                    CardTransactionKind::Payment,
                    request.order_number.as_str(),
                    number,
                    paid,
                    fingerprint,
                    actor_text(actor),
                    now,
                    store_chain(&chain),
                )
            },
            Some((request.receiver, paid)),
            redeems,
        )
        .await
    }

    /// Refunds (part of) a payment to the card it was paid with, from its receiver.
    pub async fn refund_to_card(
        &self,
        number: &str,
        request: RefundRequest,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<CardTransaction, CardFailure> {
        let amount = positive(request.amount)?;
        let id = transaction_id(CardTransactionKind::Refund, request.client, &request.order_number);
        let fingerprint = format!("refund|{number}|{}|{}", request.amount, request.payment_number.as_str());
        let _turn = self.turn(format!("card:{number}")).await;
        if let Some(done) = self.replay(&id, &fingerprint).await? {
            return Ok(done);
        }
        let card = self.load_card(number, binding).await?;
        let payment_id = transaction_id(CardTransactionKind::Payment, request.client, &request.payment_number);
        let payment = match self.store().card_transaction(&payment_id).await? {
            Some(stored) if stored.card_number == card.number => CardTransaction::restore(stored)?,
            _ => return Err(CardFailure::NotFound(CARD_TRANSACTION_NOT_FOUND)),
        };
        if payment.status != TransactionStatus::Succeeded {
            return Err(CardFailure::NotFound(CARD_TRANSACTION_NOT_FOUND));
        }
        let receiver = payment.counter_account.ok_or_else(|| anyhow!("card payment {payment_id} has no receiver"))?;
        // The receiver pays the refund back, as a wallet refund's receiver does (its customer or
        // account frozen, stopped from paying or closed: theirs), and the card may receive it: the
        // card, its last successor if it was re-issued, or where a cancellation sent its balance.
        self.wallets.account_may_pay(receiver).await?;
        let destination = self.refund_destination(&card).await?;
        let credit = match &destination {
            RefundDestination::Card(to) => to.account_id,
            RefundDestination::Account(account) => *account,
        };
        let moves = [Move { debit: receiver, credit, amount, code: CARD_REFUND_CODE }];
        let chain = posted_chain(&moves, &id, "refund", number);
        let refund = CardTransaction {
            counter_account: Some(receiver),
            payment_number: Some(request.payment_number.as_str().to_owned()),
            refunded_to_card: match &destination {
                RefundDestination::Card(to) if to.number != card.number => Some(to.number.clone()),
                _ => None,
            },
            refunded_to_account: match destination {
                RefundDestination::Account(account) => Some(account),
                RefundDestination::Card(_) => None,
            },
            ..CardTransaction::in_flight(
                &id,
                CardTransactionKind::Refund,
                request.order_number.as_str(),
                number,
                request.amount,
                fingerprint,
                actor_text(actor),
                clock::now(),
                store_chain(&chain),
            )
        };
        if !self.store().create_card_refund(&refund.stored(), &payment_id).await? {
            // Either the same refund, made meanwhile, or more than the payment has left.
            return match self.replay(&id, &refund.fingerprint).await? {
                Some(done) => Ok(done),
                None => Err(CardError::RefundExceedsPayment.into()),
            };
        }
        self.settle(refund, Some(payment_id)).await
    }

    /// Where a refund to `card` goes: the card itself while it receives (active, frozen, lost or
    /// expired); once re-issued, its successor, following the chain of successors to the last; once
    /// cancelled (it, or the last successor), the account the cancellation refunded its balance to,
    /// if that was the member's wallet (409 `card_refund_no_destination` for a balance paid in cash
    /// or a card that held none). The chain is at most [`REFUND_CHAIN_MAX`] re-issues long.
    async fn refund_destination(&self, card: &super::Card) -> Result<RefundDestination, CardFailure> {
        let mut current = card.clone();
        for _ in 0..=REFUND_CHAIN_MAX {
            match current.status {
                CardStatus::Reissued => {
                    let next = current
                        .replaced_by
                        .clone()
                        .ok_or_else(|| anyhow!("re-issued card {} names no successor", current.number))?;
                    // The successor is the same owner's: reached as the card was.
                    current = self.load_card(&next, None).await?;
                }
                CardStatus::Cancelled => {
                    let closing = current
                        .closing
                        .as_ref()
                        .ok_or_else(|| anyhow!("cancelled card {} has no closing", current.number))?;
                    if closing.method.as_deref() != Some("wallet") {
                        return Err(CardError::RefundNoDestination.into());
                    }
                    let account = AccountId::parse(&closing.to)
                        .ok_or_else(|| anyhow!("stored closing account {:?}", closing.to))?;
                    self.wallets.account_may_receive(account, PlatformProduct::MemberCards).await?;
                    return Ok(RefundDestination::Account(account));
                }
                _ => {
                    current.check_receives()?;
                    return Ok(RefundDestination::Card(Box::new(current)));
                }
            }
        }
        Err(anyhow!("card {} is re-issued more than {REFUND_CHAIN_MAX} times over", card.number).into())
    }

    /// A card's transactions, newest first, a page at a time.
    pub async fn card_transactions(
        &self,
        number: &str,
        binding: Option<MemberId>,
        cursor: Option<&str>,
        limit: Option<u32>,
    ) -> Result<CardPage, CardFailure> {
        let limit = page_limit(limit)?;
        self.load_card(number, binding).await?;
        let before = match cursor {
            None => None,
            Some(text) => {
                let (at, id) = text.split_once('.').ok_or(CardFailure::Rejected(CARD_CURSOR_INVALID))?;
                let at: i64 = at.parse().map_err(|_| CardFailure::Rejected(CARD_CURSOR_INVALID))?;
                Some((at, id.to_owned()))
            }
        };
        let page = self.store().card_transactions(number, before, limit + 1).await?;
        let more = page.len() > limit as usize;
        let transactions =
            page.into_iter().take(limit as usize).map(CardTransaction::restore).collect::<anyhow::Result<Vec<_>>>()?;
        let next_cursor =
            more.then(|| transactions.last().map(|t| format!("{}.{}", t.created_at.nanos(), t.id))).flatten();
        Ok(CardPage { transactions, next_cursor })
    }
}
