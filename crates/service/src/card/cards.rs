//! A card's life: sold from an approved batch (its number the batch's next serial, its terms the
//! batch's, its face value credited to its own ledger account), activated (its validity starts),
//! bound to a member, frozen or reported lost (its account's debits blocked), unfrozen.
//!
//! **The sale's money.** The buyer pays the sale price through a payment channel; the card holds its
//! face value. So a sale posts, as one linked chain, the sale price from the channel's clearing
//! account to the card's account and the difference (face value less sale price, the platform's
//! discount on the card) from marketing expense. A discount or count card holds no money: its sale
//! moves none in sanhu.

use anyhow::anyhow;
use sanhu_core::card::{check_usable, CardError, CardKind, CardOwner, CardStatus, CardTerms, SalesChannel};
use sanhu_core::id::{CardBatchId, CardTypeId, ClientId, MemberId};
use sanhu_core::ledger::{Account, AccountFlags, Counters, NormalSide};
use sanhu_core::party::Actor;
use sanhu_core::{AccountId, Timestamp};
use sanhu_store::card::{CardStore, StoredCard};
use sanhu_store::LedgerStore;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::batches::{BatchStatus, CardBatch};
use super::documents::{decode, encode, TermsDoc};
use super::life::Closing;
use super::money::{transaction_id, CardTransaction, CardTransactionKind};
use super::{card_account_id, CardFailure, Cards, CARD_NOT_FOUND};
use crate::clock;
use crate::party::work::actor_text;
use crate::wallet::chain::{posted_chain, store_chain, Move};
use crate::wallet::{OrderNumber, PlatformAccount, CHANNEL_NOT_CONFIGURED};

/// Business codes of a card's ledger transfers.
pub const CARD_SALE_CODE: &str = "card_sale";
pub const CARD_SALE_DISCOUNT_CODE: &str = "card_sale_discount";

/// A sale of the next card of a batch.
#[derive(Clone, Debug)]
pub struct SaleRequest {
    pub client: ClientId,
    pub order_number: OrderNumber,
    pub batch_id: CardBatchId,
    /// The payment channel the buyer paid through (a stored-value card sold at a price needs one).
    pub payment_channel: Option<String>,
}

/// A sale's record before its card is made: its id and order number, what makes a retry the same
/// sale, its moves and who made it.
pub(crate) struct SaleRecord {
    pub id: String,
    pub order_number: String,
    pub fingerprint: String,
    pub moves: Vec<(AccountId, i64, &'static str)>,
    pub actor: String,
}

/// A card as kept, with its balance.
#[derive(Clone, Debug)]
pub struct Card {
    pub number: String,
    pub batch_id: CardBatchId,
    pub type_id: CardTypeId,
    /// The type's version whose terms it carries.
    pub type_version: i64,
    pub owner: CardOwner,
    pub member_id: Option<MemberId>,
    pub account_id: AccountId,
    pub status: CardStatus,
    /// Frozen because reported lost (挂失).
    pub lost: bool,
    pub status_reason: Option<String>,
    pub channel: SalesChannel,
    pub terms: CardTerms,
    pub sold_by: String,
    pub sold_at: Timestamp,
    pub activated_at: Option<Timestamp>,
    /// Its validity, once activated.
    pub valid_from: Option<Timestamp>,
    pub valid_until: Option<Timestamp>,
    pub bound_at: Option<Timestamp>,
    pub version: i64,
    /// What its account holds (posted).
    pub balance: i64,
    /// Set while its account's blocks may not agree with its status (a freeze or an unfreeze between
    /// its card's write and the ledger's): since when. [`Cards::repair_card_blocks`] finishes it.
    pub(crate) blocks_pending_since: Option<Timestamp>,
    /// A re-issued card's successor: the card that replaced it (补卡).
    pub replaced_by: Option<String>,
    /// A successor: the card it replaced.
    pub replaces: Option<String>,
    /// When it expired.
    pub expired_at: Option<Timestamp>,
    /// Its closing (a re-issue, a forfeit on expiry, a cancellation), decided: see `life`.
    pub(crate) closing: Option<Closing>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct CardDoc {
    type_version: i64,
    channel: String,
    terms: TermsDoc,
    lost: bool,
    status_reason: Option<String>,
    sold_by: String,
    sold_at: i64,
    activated_at: Option<i64>,
    valid_from: Option<i64>,
    valid_until: Option<i64>,
    bound_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replaced_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    replaces: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    expired_at: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    closing: Option<Closing>,
}

impl Card {
    pub(crate) fn stored(&self) -> StoredCard {
        StoredCard {
            number: self.number.clone(),
            batch_id: self.batch_id.to_string(),
            type_id: self.type_id.to_string(),
            owner: self.owner.as_text(),
            member_id: self.member_id.map(|m| m.to_string()),
            account_id: self.account_id.to_string(),
            status: self.status.as_str().to_owned(),
            version: self.version,
            data: encode(&CardDoc {
                type_version: self.type_version,
                channel: self.channel.as_str().to_owned(),
                terms: TermsDoc::from(&self.terms),
                lost: self.lost,
                status_reason: self.status_reason.clone(),
                sold_by: self.sold_by.clone(),
                sold_at: self.sold_at.nanos(),
                activated_at: self.activated_at.map(Timestamp::nanos),
                valid_from: self.valid_from.map(Timestamp::nanos),
                valid_until: self.valid_until.map(Timestamp::nanos),
                bound_at: self.bound_at.map(Timestamp::nanos),
                replaced_by: self.replaced_by.clone(),
                replaces: self.replaces.clone(),
                expired_at: self.expired_at.map(Timestamp::nanos),
                closing: self.closing.clone(),
            }),
            created_at: self.sold_at,
            blocks_pending_since: self.blocks_pending_since,
            valid_until: self.valid_until,
        }
    }

    fn restore(k: StoredCard) -> anyhow::Result<Card> {
        let doc: CardDoc = decode(&k.data, "card")?;
        let ts = |n: Option<i64>| n.map(Timestamp::from_nanos);
        Ok(Card {
            batch_id: CardBatchId::parse(&k.batch_id).ok_or_else(|| anyhow!("stored batch id {:?}", k.batch_id))?,
            type_id: CardTypeId::parse(&k.type_id).ok_or_else(|| anyhow!("stored type id {:?}", k.type_id))?,
            type_version: doc.type_version,
            owner: CardOwner::parse(&k.owner).ok_or_else(|| anyhow!("stored card owner {:?}", k.owner))?,
            member_id: k
                .member_id
                .as_deref()
                .map(|m| MemberId::parse(m).ok_or_else(|| anyhow!("stored member id {m:?}")))
                .transpose()?,
            account_id: AccountId::parse(&k.account_id).ok_or_else(|| anyhow!("stored account {:?}", k.account_id))?,
            status: CardStatus::parse(&k.status).ok_or_else(|| anyhow!("stored card status {:?}", k.status))?,
            lost: doc.lost,
            status_reason: doc.status_reason,
            channel: SalesChannel::parse(&doc.channel).map_err(|_| anyhow!("stored channel {:?}", doc.channel))?,
            terms: doc.terms.terms()?,
            sold_by: doc.sold_by,
            sold_at: Timestamp::from_nanos(doc.sold_at),
            activated_at: ts(doc.activated_at),
            valid_from: ts(doc.valid_from),
            valid_until: ts(doc.valid_until),
            bound_at: ts(doc.bound_at),
            version: k.version,
            number: k.number,
            balance: 0,
            blocks_pending_since: k.blocks_pending_since,
            replaced_by: doc.replaced_by,
            replaces: doc.replaces,
            expired_at: ts(doc.expired_at),
            closing: doc.closing,
        })
    }

    /// Its validity window, once activated.
    pub fn window(&self) -> Option<(Timestamp, Timestamp)> {
        self.valid_from.zip(self.valid_until)
    }

    /// Whether it may receive a refund now.
    pub(crate) fn check_receives(&self) -> Result<(), CardError> {
        sanhu_core::card::check_receives(self.status)
    }

    /// Whether it may move money now.
    pub(crate) fn check_usable(&self, now: Timestamp) -> Result<(), CardError> {
        check_usable(self.status, self.window(), now)
    }
}

impl Cards {
    /// The card `number` as the caller reaches it, with its balance; `card_not_found` otherwise.
    pub async fn card(&self, number: &str, binding: Option<MemberId>) -> Result<Card, CardFailure> {
        let mut card = self.load_card(number, binding).await?;
        card.balance = self.store().get_account(card.account_id).await?.map_or(0, |a| a.balance());
        Ok(card)
    }

    pub(crate) async fn load_card(&self, number: &str, binding: Option<MemberId>) -> Result<Card, CardFailure> {
        let Some(stored) = self.store().card(number).await? else {
            return Err(CardFailure::NotFound(CARD_NOT_FOUND));
        };
        let card = Card::restore(stored)?;
        if !self.reaches(binding, card.owner).await? {
            return Err(CardFailure::NotFound(CARD_NOT_FOUND));
        }
        Ok(card)
    }

    /// The card's ledger account, opened if it is not yet (its id derived from the number, so a
    /// retry or another instance opens the same one).
    pub(crate) async fn ensure_card_account(&self, number: &str) -> Result<AccountId, CardFailure> {
        let id = card_account_id(number);
        if self.store().get_account(id).await?.is_some() {
            return Ok(id);
        }
        let account = Account {
            id,
            currency: self.wallets.config().currency,
            normal_side: NormalSide::Credit,
            limit: Account::default_limit(NormalSide::Credit),
            flags: AccountFlags::default(),
            counters: Counters::default(),
            code: "card".to_owned(),
            metadata: json!({ "card": number }).to_string(),
            created_at: clock::now(),
            last_transfer_at: Timestamp::default(),
        };
        if let Err(error) = self.store().create_account(&account).await {
            // Opened meanwhile by another request for the same number.
            if self.store().get_account(id).await?.is_none() {
                return Err(error.into());
            }
        }
        Ok(id)
    }

    /// Sells the next card of an approved batch. The same order number answers the same card.
    pub async fn sell_card(
        &self,
        request: SaleRequest,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<Card, CardFailure> {
        let id = transaction_id(CardTransactionKind::Sale, request.client, &request.order_number);
        let fingerprint = format!("sale|{}|{}", request.batch_id, request.payment_channel.as_deref().unwrap_or(""));
        // The batch's turn: concurrent sales of one batch are decided one after another, each on the
        // count the last left.
        let _turn = self.turn(format!("card_batch:{}", request.batch_id)).await;
        if let Some(done) = self.replay(&id, &fingerprint).await? {
            return self.card(&done.card_number, binding).await;
        }
        let batch = self.batch(request.batch_id, binding).await?;
        if batch.status != BatchStatus::Approved {
            return Err(CardError::BatchNotApproved.into());
        }
        let moves = self.sale_moves(&batch.terms, request.payment_channel.as_deref()).await?;
        let Some(index) = self.store().take_card_of_batch(&batch.id.to_string(), clock::now()).await? else {
            // Approved (a batch stays so): every card is sold or held by a redemption code.
            return Err(CardError::BatchSoldOut.into());
        };
        // A serial taken: until the sale's record is written, running the sale again would take another.
        crate::effects::wrote();
        let sale = SaleRecord {
            id,
            order_number: request.order_number.as_str().to_owned(),
            fingerprint,
            moves,
            actor: actor_text(actor),
        };
        self.issue_card(&batch, index, sale, None, binding).await
    }

    /// What the sale of a card with `terms` moves, paid through `payment_channel`: a stored-value
    /// card's sale price from the channel's clearing account, the rest of its face value from
    /// marketing expense; nothing for the other kinds.
    pub(crate) async fn sale_moves(
        &self,
        terms: &CardTerms,
        payment_channel: Option<&str>,
    ) -> Result<Vec<(AccountId, i64, &'static str)>, CardFailure> {
        let mut moves = Vec::new();
        if terms.kind == CardKind::StoredValue {
            if terms.sale_price > 0 {
                let channel = payment_channel
                    .and_then(|c| self.wallets.config().channel(c))
                    .ok_or(CardFailure::Rejected(CHANNEL_NOT_CONFIGURED))?;
                let clearing =
                    self.wallets.ensure_platform_account(&PlatformAccount::Clearing(channel.name.clone())).await?;
                moves.push((clearing, terms.sale_price, CARD_SALE_CODE));
            }
            let given = terms.face_value - terms.sale_price;
            if given > 0 {
                let marketing = self.wallets.ensure_platform_account(&PlatformAccount::MarketingExpense).await?;
                moves.push((marketing, given, CARD_SALE_DISCOUNT_CODE));
            }
        }
        Ok(moves)
    }

    /// Makes card `index` of `batch` with its sale (`sale`), then submits and settles the sale's
    /// money: the card, as the caller reaches it. With `holder` (a redeemed code's member), the card
    /// is activated and bound to it at once. A sale stored already (a retry, or the same sale made
    /// meanwhile) answers its card: the serial taken here, if another, is left unused (a gap in the
    /// batch's numbers, never a number given twice).
    pub(crate) async fn issue_card(
        &self,
        batch: &CardBatch,
        index: i64,
        sale: SaleRecord,
        holder: Option<MemberId>,
        binding: Option<MemberId>,
    ) -> Result<Card, CardFailure> {
        let terms = batch.terms.clone();
        let segment = self.segment(batch.segment_id).await?;
        let number = segment.segment.number(batch.first_serial + index);
        let account_id = self.ensure_card_account(&number).await?;
        let now = clock::now();
        let calendar = self.parties().config().calendar.clone();
        let window = holder.map(|_| terms.validity.window(now, &calendar));
        let card = Card {
            number: number.clone(),
            batch_id: batch.id,
            type_id: batch.type_id,
            type_version: batch.type_version,
            owner: batch.owner,
            member_id: holder,
            account_id,
            status: if holder.is_some() { CardStatus::Active } else { CardStatus::Sold },
            lost: false,
            status_reason: None,
            channel: batch.channel,
            terms: terms.clone(),
            sold_by: sale.actor.clone(),
            sold_at: now,
            activated_at: holder.map(|_| now),
            valid_from: window.map(|w| w.0),
            valid_until: window.map(|w| w.1),
            bound_at: holder.map(|_| now),
            version: 1,
            balance: 0,
            blocks_pending_since: None,
            replaced_by: None,
            replaces: None,
            expired_at: None,
            closing: None,
        };
        let moves: Vec<Move> = sale
            .moves
            .into_iter()
            .map(|(debit, amount, code)| Move {
                debit,
                credit: account_id,
                amount: sanhu_core::Amount::new(amount).expect("a positive amount"),
                code,
            })
            .collect();
        let chain = posted_chain(&moves, &sale.id, "sale", &number);
        let record = CardTransaction {
            order_amount: Some(terms.sale_price),
            ..CardTransaction::in_flight(
                &sale.id,
                CardTransactionKind::Sale,
                &sale.order_number,
                &number,
                if terms.kind == CardKind::StoredValue { terms.face_value } else { 0 },
                sale.fingerprint,
                sale.actor,
                now,
                store_chain(&chain),
            )
        };
        if !self.store().create_card(&card.stored(), &record.stored()).await? {
            let done = self
                .replay(&record.id, &record.fingerprint)
                .await?
                .ok_or_else(|| anyhow!("card sale {} vanished", record.id))?;
            return self.card(&done.card_number, binding).await;
        }
        self.settle(record, None).await?;
        self.card(&number, binding).await
    }

    /// Activates a sold card: its validity starts (or is its fixed dates).
    pub async fn activate_card(&self, number: &str, binding: Option<MemberId>) -> Result<Card, CardFailure> {
        let calendar = self.parties().config().calendar.clone();
        self.change_card(number, binding, move |card, now| {
            if card.status != CardStatus::Sold {
                return Err(CardError::NotSold);
            }
            let (from, until) = card.terms.validity.window(now, &calendar);
            if now >= until {
                return Err(CardError::Expired);
            }
            card.status = CardStatus::Active;
            card.activated_at = Some(now);
            card.valid_from = Some(from);
            card.valid_until = Some(until);
            Ok(())
        })
        .await
    }

    /// Binds a card to a member (once).
    pub async fn bind_card(
        &self,
        number: &str,
        member: MemberId,
        binding: Option<MemberId>,
    ) -> Result<Card, CardFailure> {
        // The member exists.
        self.parties().get_member(member).await?;
        self.change_card(number, binding, |card, now| {
            if card.member_id.is_some() {
                return Err(CardError::AlreadyBound);
            }
            card.member_id = Some(member);
            card.bound_at = Some(now);
            Ok(())
        })
        .await
    }

    /// Freezes an active card, or reports it lost (挂失): nothing is paid with it until it is
    /// unfrozen. Its ledger account's debits are blocked first, so a payment decided before on
    /// another instance cannot post after: the card says its blocks are pending, the ledger blocks,
    /// then the card is frozen and says so no more (a crash between: `repair_card_blocks`).
    pub async fn freeze_card(
        &self,
        number: &str,
        lost: bool,
        reason: String,
        binding: Option<MemberId>,
    ) -> Result<Card, CardFailure> {
        let _turn = self.turn(format!("card:{number}")).await;
        let card = self
            .change_card_in_turn(number, binding, move |card, now| {
                freezable(card.status, lost)?;
                card.blocks_pending_since = Some(now);
                Ok(())
            })
            .await?;
        self.wallets.ledger().set_account_blocks(card.account_id, Some(true), None).await?;
        self.change_card_in_turn(number, binding, move |card, _| {
            freezable(card.status, lost)?;
            card.status = if lost { CardStatus::Lost } else { CardStatus::Frozen };
            card.lost = lost;
            card.status_reason = Some(reason.clone());
            card.blocks_pending_since = None;
            Ok(())
        })
        .await?;
        drop(_turn);
        self.card(number, binding).await
    }

    /// Unfreezes a frozen card: active again, its account's debits unblocked (the card says the
    /// unblock is pending until the ledger has done it; a crash between: `repair_card_blocks`).
    pub async fn unfreeze_card(
        &self,
        number: &str,
        reason: String,
        binding: Option<MemberId>,
    ) -> Result<Card, CardFailure> {
        let _turn = self.turn(format!("card:{number}")).await;
        let card = self
            .change_card_in_turn(number, binding, move |card, now| {
                match card.status {
                    CardStatus::Frozen => {}
                    CardStatus::Lost => return Err(CardError::Lost),
                    _ => return Err(CardError::NotFrozen),
                }
                card.status = CardStatus::Active;
                card.lost = false;
                card.status_reason = Some(reason.clone());
                card.blocks_pending_since = Some(now);
                Ok(())
            })
            .await?;
        self.wallets.ledger().set_account_blocks(card.account_id, Some(false), None).await?;
        self.change_card_in_turn(number, binding, |card, _| {
            card.blocks_pending_since = None;
            Ok(())
        })
        .await?;
        drop(_turn);
        self.card(number, binding).await
    }

    /// Finishes every card whose ledger blocks were left pending before `before` (a crash between a
    /// freeze's or an unfreeze's writes), up to `limit`: its account's debits blocked if it is frozen,
    /// unblocked otherwise (a freeze that did not finish left it active: it was never answered, and
    /// its caller asks again), and the pending mark cleared. Each under the card's turn, so a freeze
    /// or an unfreeze of this instance in progress is never taken for a crashed one; `before` leaves
    /// time to another instance's. Returns how many it finished.
    pub async fn repair_card_blocks(&self, before: Timestamp, limit: u32) -> Result<usize, CardFailure> {
        let mut repaired = 0;
        for stored in self.store().cards_blocks_pending(before, limit).await? {
            let number = stored.number;
            let _turn = self.turn(format!("card:{number}")).await;
            let card = self.load_card(&number, None).await?;
            if card.blocks_pending_since.is_none_or(|since| since >= before) {
                continue;
            }
            if card.closing.is_some() && card.status != CardStatus::Active {
                // A closing a crash left unfinished: its rest, as the same request again would.
                self.close(&number).await?;
                tracing::info!(card.number = %number, "finished a card's closing");
                repaired += 1;
                continue;
            }
            let blocked = card.status.debits_blocked();
            self.wallets.ledger().set_account_blocks(card.account_id, Some(blocked), None).await?;
            self.change_card_in_turn(&number, None, |card, _| {
                card.blocks_pending_since = None;
                Ok(())
            })
            .await?;
            tracing::info!(card.number = %number, debits_blocked = blocked, "repaired a card's ledger blocks");
            repaired += 1;
        }
        Ok(repaired)
    }

    /// Applies `change` to the card under its turn, by compare-and-set on its version.
    pub(crate) async fn change_card(
        &self,
        number: &str,
        binding: Option<MemberId>,
        change: impl Fn(&mut Card, Timestamp) -> Result<(), CardError>,
    ) -> Result<Card, CardFailure> {
        let _turn = self.turn(format!("card:{number}")).await;
        self.change_card_in_turn(number, binding, change).await?;
        drop(_turn);
        self.card(number, binding).await
    }

    /// Applies `change` to the card, its turn held by the caller, by compare-and-set on its version:
    /// a write that meets another instance's is decided again on what it left, within the contention
    /// budget, then answered `concurrent_change`. Returns the card as written.
    pub(crate) async fn change_card_in_turn(
        &self,
        number: &str,
        binding: Option<MemberId>,
        change: impl Fn(&mut Card, Timestamp) -> Result<(), CardError>,
    ) -> Result<Card, CardFailure> {
        let mut retry = crate::party::work::Retry::new();
        loop {
            let current = self.load_card(number, binding).await?;
            let mut changed = current.clone();
            change(&mut changed, clock::now())?;
            changed.version = current.version + 1;
            if self.store().update_card(&changed.stored(), current.version).await? {
                return Ok(changed);
            }
            if !retry.again().await {
                return Err(CardFailure::Contended);
            }
        }
    }
}

/// Whether a card in `status` may be frozen (an active card) or reported lost (an active or frozen
/// one).
fn freezable(status: CardStatus, lost: bool) -> Result<(), CardError> {
    match status {
        CardStatus::Active => Ok(()),
        CardStatus::Frozen if lost => Ok(()),
        other => Err(other.refusal().unwrap_or(CardError::NotActive)),
    }
}
