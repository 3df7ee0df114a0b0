//! The end of a card's life, and what may happen before it: reported lost (挂失), re-issued (补卡),
//! passed to another member (转让), expired (过期) and extended (延期), cancelled with its balance
//! refunded (退卡).
//!
//! **Closing a card's money.** A re-issue, a forfeit on expiry and a cancellation each move all a
//! card holds out of its account, to the successor's account, the platform's card-forfeit income or
//! the account the refund goes to. Each is a *closing*, done in this order, every step safe to run
//! again:
//! 1. the card is written in its new status (re-issued, expired, cancelled), naming the closing's
//!    record, with its ledger blocks said pending: from here no payment, recharge or refund is
//!    decided on it;
//! 2. its account's credits are blocked (nothing arrives after what is read) and its debits opened
//!    (for the closing's transfer);
//! 3. the closing's record is written with its chain: one transfer of what the account holds,
//!    *balancing* (at most what it holds when the ledger applies it, so a payment decided on another
//!    instance before step 1 and posted meanwhile leaves no overdraft), or no transfer when it holds
//!    nothing;
//! 4. the chain is submitted and its outcome recorded (the record's amount is what moved);
//! 5. the account's debits are blocked again: a dead card's account takes nothing in and gives
//!    nothing out;
//! 6. the pending mark is cleared.
//!
//! A crash anywhere leaves the card saying its closing is pending; the same request again, or the
//! repair job (`Cards::repair_card_blocks`), runs the rest from step 2 (the ledger applies the
//! chain's derived ids once).
//!
//! **Re-issue.** The successor's number is one serial of the old card's segment taken for it (the
//! same prefix: it tells where the card was issued), not one of its batch's cards (the batch's sales
//! figures do not count it twice). It carries the type, its version and terms, the validity, the
//! channel and the member; its `replaces` names the old card, whose `replaced_by` names it. Requests
//! on one card are taken in turn and the old card's status is a compare-and-set, so concurrent
//! re-issues of one card give one successor: the same request number answers it, another is 409
//! `card_reissued`.

use anyhow::anyhow;
use sanhu_core::card::{CardError, CardKind, CardOwner, CardStatus, ExpiryPolicy};
use sanhu_core::id::{ClientId, MemberId};
use sanhu_core::ledger::TransferAction;
use sanhu_core::party::member::MemberStatus;
use sanhu_core::party::product::PlatformProduct;
use sanhu_core::party::Actor;
use sanhu_core::{AccountId, Amount, Timestamp};
use sanhu_store::card::{CardInsert, CardStore, ReissueMark};
use sanhu_store::LedgerStore;
use serde::{Deserialize, Serialize};

use super::cards::Card;
use super::money::{transaction_id, CardTransaction, CardTransactionKind, TransactionStatus};
use super::{CardFailure, Cards, CARD_CANCEL_ACCOUNT_OUTSIDE, CARD_SEGMENT_FULL};
use crate::clock;
use crate::party::work::actor_text;
use crate::party::{MemberObject, PartyError};
use crate::wallet::chain::{posted_chain, store_chain, Move};
use crate::wallet::{OrderNumber, PlatformAccount, ORDER_NUMBER_REUSED, RECEIVER_NOT_FOUND};

/// Business codes of the closings' ledger transfers.
pub const CARD_REISSUE_CODE: &str = "card_reissue";
pub const CARD_FORFEIT_CODE: &str = "card_forfeit";
pub const CARD_CANCEL_REFUND_CODE: &str = "card_cancel_refund";

/// Expired cards one pass of the expiry job takes at most (the next pass takes more).
pub const EXPIRY_PAGE_CARDS: u32 = 200;

/// A re-issue of a card (补卡).
#[derive(Clone, Debug)]
pub struct ReissueRequest {
    pub client: ClientId,
    pub order_number: OrderNumber,
    pub reason: String,
}

/// Where a cancelled card's balance is refunded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CancelRefund {
    /// To a wallet account of the member the card is bound to.
    Wallet(AccountId),
    /// In cash at the issuer's counter: out of the card to the issuing merchant's member's account
    /// (its settlement account, which the card's payments go to), which pays the cash.
    Cash(AccountId),
}

/// How long an extension of a card reaches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Extension {
    /// Through this date (`YYYY-MM-DD`, the platform's calendar).
    Through(String),
    /// This many of the platform's days more (1 to 3,650).
    Days(u32),
}

/// A cancellation of a card (退卡).
#[derive(Clone, Debug)]
pub struct CancelRequest {
    pub client: ClientId,
    pub order_number: OrderNumber,
    pub reason: String,
    /// Where its balance goes; None for a card that holds no money (a discount or count card).
    pub refund: Option<CancelRefund>,
}

/// A card's closing as its record keeps it from step 1: what the rest of it needs, so that the
/// same request again or the repair job finishes it as it was decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Closing {
    /// The closing's transaction record.
    pub id: String,
    pub order_number: String,
    pub fingerprint: String,
    /// The account that receives the card's balance.
    pub to: String,
    pub actor: String,
    /// A cancellation: how its balance was refunded (`wallet`, `cash`, or `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
}

impl Closing {
    fn destination(&self) -> anyhow::Result<AccountId> {
        AccountId::parse(&self.to).ok_or_else(|| anyhow!("stored closing account {:?}", self.to))
    }
}

/// What a closing of a card in `status` is.
fn closing_kind(status: CardStatus) -> anyhow::Result<(CardTransactionKind, &'static str)> {
    match status {
        CardStatus::Reissued => Ok((CardTransactionKind::Reissue, CARD_REISSUE_CODE)),
        CardStatus::Expired => Ok((CardTransactionKind::Forfeit, CARD_FORFEIT_CODE)),
        CardStatus::Cancelled => Ok((CardTransactionKind::Cancel, CARD_CANCEL_REFUND_CODE)),
        other => Err(anyhow!("a card {} has no closing", other.as_str())),
    }
}

impl Cards {
    /// Reports an active or frozen card lost (挂失): its status is `lost`, its account's debits
    /// blocked; it pays nothing and is not unfrozen, but re-issued (or cancelled).
    pub async fn report_lost(
        &self,
        number: &str,
        reason: String,
        binding: Option<MemberId>,
    ) -> Result<Card, CardFailure> {
        self.freeze_card(number, true, reason, binding).await
    }

    /// Re-issues an active or lost card (补卡): a new number carrying its balance, terms, validity and member; the
    /// old card dead (`reissued`), naming its successor. The same request number answers the same
    /// successor.
    pub async fn reissue_card(
        &self,
        number: &str,
        request: ReissueRequest,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<Card, CardFailure> {
        let id = transaction_id(CardTransactionKind::Reissue, request.client, &request.order_number);
        let fingerprint = format!("reissue|{number}");
        let _turn = self.turn(format!("card:{number}")).await;
        let old = self.load_card(number, binding).await?;
        if old.closing.as_ref().is_some_and(|c| c.id == id) {
            // This request, again: finish what it began.
            let successor =
                old.replaced_by.clone().ok_or_else(|| anyhow!("re-issued card {number} names no successor"))?;
            self.close(number).await?;
            drop(_turn);
            return self.card(&successor, binding).await;
        }
        if self.store().card_transaction(&id).await?.is_some() {
            // The request number was used for another card's re-issue.
            return Err(CardFailure::Rejected(ORDER_NUMBER_REUSED));
        }
        reissuable(old.status)?;
        if old.window().is_none() {
            return Err(CardError::NotActive.into());
        }
        // The successor's number: the next serial of the old card's segment, taken in the write that
        // marks the old card re-issued (`mark_card_reissued`), so a re-issue refused or lost to
        // another takes none and the segment's numbers have no gap; a serial taken meanwhile (a
        // batch, another re-issue) is met by deciding again on the next.
        let batch = self.batch(old.batch_id, None).await?;
        let mut retry = crate::party::work::Retry::new();
        let successor = loop {
            let segment = self.segment(batch.segment_id).await?;
            let serial = segment.next_serial;
            if serial > segment.segment.last {
                return Err(CardFailure::Rejected(CARD_SEGMENT_FULL));
            }
            let successor = segment.segment.number(serial);
            let successor_account = self.ensure_card_account(&successor).await?;
            let current = self.load_card(number, binding).await?;
            reissuable(current.status)?;
            let mut marked = current.clone();
            marked.status = CardStatus::Reissued;
            marked.status_reason = Some(request.reason.clone());
            marked.replaced_by = Some(successor.clone());
            marked.closing = Some(Closing {
                id: id.clone(),
                order_number: request.order_number.as_str().to_owned(),
                fingerprint: fingerprint.clone(),
                to: successor_account.to_string(),
                actor: actor_text(actor),
                method: None,
            });
            marked.blocks_pending_since = Some(clock::now());
            marked.version = current.version + 1;
            let outcome = self
                .store()
                .mark_card_reissued(&marked.stored(), current.version, &batch.segment_id.to_string(), serial)
                .await?;
            match outcome {
                ReissueMark::Marked => break successor,
                ReissueMark::SerialTaken | ReissueMark::CardChanged => {
                    if !retry.again().await {
                        return Err(CardFailure::Contended);
                    }
                }
            }
        };
        crate::effects::wrote();
        self.close(number).await?;
        drop(_turn);
        self.card(&successor, binding).await
    }

    /// Passes a card to another member (转让), if its type allows it: an active card, to an active
    /// member (normal or dormant) other than its holder.
    pub async fn transfer_card(
        &self,
        number: &str,
        member: MemberId,
        binding: Option<MemberId>,
    ) -> Result<Card, CardFailure> {
        // The card first: another's answers as if absent, whatever the member.
        self.load_card(number, binding).await?;
        // The member is one the caller reaches (a bound client: its own member and those below it),
        // else absent to it, as the access layer answers any other member id.
        if let Some(bound) = binding {
            if !self.parties().reaches(bound, member).await? {
                return Err(CardFailure::NotFound(crate::party::error::MEMBER_NOT_FOUND));
            }
        }
        let stored = self.parties().get_member(member).await?;
        let active = matches!(stored.member.status(), MemberStatus::Normal | MemberStatus::Dormant);
        self.change_card(number, binding, move |card, now| {
            if let Some(refusal) = card.status.refusal() {
                return Err(refusal);
            }
            if !card.terms.transferable {
                return Err(CardError::NotTransferable);
            }
            if !active || card.member_id == Some(member) {
                return Err(CardError::TransferMemberNotActive);
            }
            card.member_id = Some(member);
            card.bound_at = Some(now);
            Ok(())
        })
        .await
    }

    /// Expires an active card whose validity ended (the job's work, done now for the back office):
    /// `expired`; a stored-value card whose type forfeits its balance has it moved to the platform's
    /// card-forfeit income, with a record. An expired card answers as it is.
    pub async fn expire_card(
        &self,
        number: &str,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<Card, CardFailure> {
        let _turn = self.turn(format!("card:{number}")).await;
        self.expire_in_turn(number, binding, &actor_text(actor)).await?;
        drop(_turn);
        self.card(number, binding).await
    }

    async fn expire_in_turn(&self, number: &str, binding: Option<MemberId>, actor: &str) -> Result<(), CardFailure> {
        let card = self.load_card(number, binding).await?;
        if card.status == CardStatus::Expired {
            if card.closing.is_some() && card.blocks_pending_since.is_some() {
                self.close(number).await?;
            }
            return Ok(());
        }
        if card.status != CardStatus::Active {
            return Err(card.status.refusal().unwrap_or(CardError::NotActive).into());
        }
        let now = clock::now();
        if card.valid_until.is_some_and(|until| until > now) {
            return Err(CardError::StillValid.into());
        }
        let forfeits = card.terms.kind == CardKind::StoredValue && card.terms.on_expiry == ExpiryPolicy::Forfeit;
        let closing = if forfeits {
            let income = self.wallets.ensure_platform_account(&PlatformAccount::CardForfeits).await?;
            let day = self.parties().config().calendar.local_text(now);
            Some(Closing {
                id: format!("card_forfeit:{number}"),
                order_number: format!("expiry-{}", &day[..10]),
                fingerprint: format!("forfeit|{number}"),
                to: income.to_string(),
                actor: actor.to_owned(),
                method: None,
            })
        } else {
            None
        };
        self.change_card_in_turn(number, binding, move |card, now| {
            if card.status != CardStatus::Active {
                return Err(card.status.refusal().unwrap_or(CardError::NotActive));
            }
            card.status = CardStatus::Expired;
            card.expired_at = Some(now);
            if closing.is_some() {
                card.closing = closing.clone();
                card.blocks_pending_since = Some(now);
            }
            Ok(())
        })
        .await?;
        if forfeits {
            self.close(number).await?;
        }
        Ok(())
    }

    /// Extends an active card, or an expired one whose type keeps its balance (延期): through a date
    /// (`YYYY-MM-DD`, in the platform's time zone: valid until the next day starts there), or by a
    /// number of the platform's days counted from its last valid day (today, if that has passed),
    /// ending at the end of the last of them; active again, its balance as it was.
    pub async fn extend_card(
        &self,
        number: &str,
        extension: Extension,
        binding: Option<MemberId>,
    ) -> Result<Card, CardFailure> {
        let calendar = self.parties().config().calendar.clone();
        let now = clock::now();
        let through = match &extension {
            Extension::Through(date) => Some(extension_end(&calendar, date, now)?),
            Extension::Days(days) => {
                sanhu_core::card::check_extension(*days)?;
                None
            }
        };
        self.change_card(number, binding, move |card, _| {
            match card.status {
                CardStatus::Active => {}
                CardStatus::Expired if card.closing.is_some() => return Err(CardError::Forfeited),
                CardStatus::Expired => {}
                _ => return Err(CardError::NotExpiredOrActive),
            }
            let Some(valid_until) = card.valid_until else {
                return Err(CardError::NotExpiredOrActive);
            };
            let until = match (through, &extension) {
                (Some(until), _) => until,
                (None, Extension::Days(days)) => {
                    // From the card's last valid day, or today if that is over.
                    let last = Timestamp::from_nanos(valid_until.nanos().saturating_sub(1)).max(now);
                    let until = sanhu_core::card::days_end(&calendar, last, *days);
                    if until > latest_extension(&calendar, now) {
                        return Err(CardError::ExtensionInvalid);
                    }
                    until
                }
                (None, Extension::Through(_)) => return Err(CardError::ExtensionInvalid),
            };
            card.status = CardStatus::Active;
            card.valid_until = Some(until);
            card.expired_at = None;
            Ok(())
        })
        .await
    }

    /// Cancels an active, lost or expired card (退卡): its remaining balance refunded (to its member's wallet account, or in
    /// cash through the issuing merchant's member's account), the card dead (`cancelled`).
    pub async fn cancel_card(
        &self,
        number: &str,
        request: CancelRequest,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<(Card, CardTransaction), CardFailure> {
        let id = transaction_id(CardTransactionKind::Cancel, request.client, &request.order_number);
        let (method, destination) = match request.refund {
            Some(CancelRefund::Wallet(account)) => ("wallet", Some(account)),
            Some(CancelRefund::Cash(account)) => ("cash", Some(account)),
            None => ("none", None),
        };
        let fingerprint =
            format!("cancel|{number}|{method}|{}", destination.map(|a| a.to_string()).unwrap_or_default());
        let _turn = self.turn(format!("card:{number}")).await;
        let card = self.load_card(number, binding).await?;
        if let Some(closing) = card.closing.as_ref().filter(|c| c.id == id) {
            if closing.fingerprint != fingerprint {
                return Err(CardFailure::Rejected(ORDER_NUMBER_REUSED));
            }
            let done = self.close(number).await?;
            drop(_turn);
            return Ok((self.card(number, binding).await?, done));
        }
        if self.store().card_transaction(&id).await?.is_some() {
            return Err(CardFailure::Rejected(ORDER_NUMBER_REUSED));
        }
        cancellable(card.status)?;
        let holds_money = card.terms.kind == CardKind::StoredValue;
        let to = match (holds_money, request.refund) {
            (false, _) => card.account_id,
            (true, None) => return Err(CardError::CancelMethodInvalid.into()),
            (true, Some(CancelRefund::Wallet(account))) => {
                if card.member_id != Some(self.account_owner(account).await?) {
                    return Err(CardFailure::Rejected(CARD_CANCEL_ACCOUNT_OUTSIDE));
                }
                self.wallets.account_may_receive(account, PlatformProduct::MemberCards).await?;
                account
            }
            (true, Some(CancelRefund::Cash(account))) => {
                let CardOwner::Merchant(merchant) = card.owner else {
                    return Err(CardError::CancelMethodInvalid.into());
                };
                if self.parties().merchant_member(merchant).await? != self.account_owner(account).await? {
                    return Err(CardFailure::Rejected(CARD_CANCEL_ACCOUNT_OUTSIDE));
                }
                self.wallets.account_may_receive(account, PlatformProduct::MemberCards).await?;
                account
            }
        };
        // A card that holds no money closes with a record and no transfer: its own account stands in
        // as the destination, never used.
        let closing = Closing {
            id,
            order_number: request.order_number.as_str().to_owned(),
            fingerprint,
            to: to.to_string(),
            actor: actor_text(actor),
            method: Some(method.to_owned()),
        };
        let reason = request.reason.clone();
        self.change_card_in_turn(number, binding, move |card, now| {
            cancellable(card.status)?;
            card.status = CardStatus::Cancelled;
            card.status_reason = Some(reason.clone());
            card.closing = Some(closing.clone());
            card.blocks_pending_since = Some(now);
            Ok(())
        })
        .await?;
        let done = self.close(number).await?;
        drop(_turn);
        Ok((self.card(number, binding).await?, done))
    }

    async fn account_owner(&self, account: AccountId) -> Result<MemberId, CardFailure> {
        match self.parties().owning_member(MemberObject::Account(account)).await {
            Ok(member) => Ok(member),
            Err(PartyError::NotFound(_)) => Err(CardFailure::NotFound(RECEIVER_NOT_FOUND)),
            Err(other) => Err(other.into()),
        }
    }

    /// Steps 2 to 6 of the closing card `number` names (written in step 1), its turn held by the
    /// caller: see the module's notes. Safe to run again; the closing's record.
    pub(crate) async fn close(&self, number: &str) -> Result<CardTransaction, CardFailure> {
        let card = self.load_card(number, None).await?;
        let closing = card.closing.clone().ok_or_else(|| anyhow!("card {number} has no closing"))?;
        let (kind, code) = closing_kind(card.status)?;
        let destination = closing.destination()?;
        // 2: nothing arrives after what is read; the closing's transfer may leave.
        self.wallets.ledger().set_account_blocks(card.account_id, Some(false), Some(true)).await?;
        let record = match self.store().card_transaction(&closing.id).await? {
            Some(stored) => CardTransaction::restore(stored)?,
            None => {
                let balance = self.store().get_account(card.account_id).await?.map_or(0, |a| a.balance());
                let moves: Vec<Move> = match Amount::new(balance) {
                    Some(amount) if destination != card.account_id => {
                        vec![Move { debit: card.account_id, credit: destination, amount, code }]
                    }
                    _ => Vec::new(),
                };
                let mut chain = posted_chain(&moves, &closing.id, kind.as_str(), number);
                for request in &mut chain {
                    if let TransferAction::Post { balancing, .. } = &mut request.action {
                        *balancing = true;
                    }
                }
                let mut record = CardTransaction {
                    counter_account: (!moves.is_empty()).then_some(destination),
                    successor: card.replaced_by.clone().filter(|_| kind == CardTransactionKind::Reissue),
                    refund_method: closing.method.clone(),
                    ..CardTransaction::in_flight(
                        &closing.id,
                        kind,
                        &closing.order_number,
                        number,
                        if moves.is_empty() { 0 } else { balance },
                        closing.fingerprint.clone(),
                        closing.actor.clone(),
                        clock::now(),
                        store_chain(&chain),
                    )
                };
                if moves.is_empty() {
                    record.status = TransactionStatus::Succeeded;
                }
                // 3: the record, with the successor when it is one (stored together).
                let stored = match card.replaced_by.as_deref().filter(|_| kind == CardTransactionKind::Reissue) {
                    Some(successor) => {
                        let new = self.successor_card(&card, successor).await?;
                        self.store().create_card(&new.stored(), &record.stored()).await?
                    }
                    None => matches!(
                        self.store().create_card_transaction(&record.stored(), Vec::new(), None).await?,
                        CardInsert::Stored
                    ),
                };
                if stored {
                    record
                } else {
                    let stored = self
                        .store()
                        .card_transaction(&closing.id)
                        .await?
                        .ok_or_else(|| anyhow!("card closing {} vanished", closing.id))?;
                    CardTransaction::restore(stored)?
                }
            }
        };
        // 4: the money, once.
        let record = match record.status {
            TransactionStatus::InFlight => self.settle(record, None).await?,
            _ => record,
        };
        // 5 and 6.
        self.wallets.ledger().set_account_blocks(card.account_id, Some(true), Some(true)).await?;
        self.change_card_in_turn(number, None, |card, _| {
            card.blocks_pending_since = None;
            Ok(())
        })
        .await?;
        Ok(record)
    }

    /// The successor of a card being re-issued: its terms, validity, channel and member, active.
    async fn successor_card(&self, old: &Card, number: &str) -> Result<Card, CardFailure> {
        let account_id = self.ensure_card_account(number).await?;
        Ok(Card {
            number: number.to_owned(),
            account_id,
            status: CardStatus::Active,
            lost: false,
            status_reason: None,
            version: 1,
            balance: 0,
            blocks_pending_since: None,
            replaces: Some(old.number.clone()),
            replaced_by: None,
            closing: None,
            expired_at: None,
            ..old.clone()
        })
    }

    /// One pass of the expiry job: the active cards whose validity ended by `now` expired (each in
    /// its turn, as `expire_card` does), up to `limit`. Returns how many.
    pub async fn expire_due_cards(&self, now: Timestamp, limit: u32) -> Result<usize, CardFailure> {
        let mut expired = 0;
        for stored in self.store().cards_expiring(now, limit).await? {
            let number = stored.number;
            let _turn = self.turn(format!("card:{number}")).await;
            match self.expire_in_turn(&number, None, "system").await {
                Ok(()) => expired += 1,
                // Changed meanwhile (extended, frozen, re-issued): not this pass's to expire.
                Err(CardFailure::Rejected(_)) => {}
                // One card that fails does not stop the others; the next pass tries it again.
                Err(error) => tracing::warn!(card.number = %number, error = %error, "a card's expiry failed"),
            }
        }
        Ok(expired)
    }
}

/// An active or lost card is re-issued; a frozen one is not (a freeze is lifted by an unfreeze, not
/// escaped by a new card).
fn reissuable(status: CardStatus) -> Result<(), CardError> {
    match status {
        CardStatus::Active | CardStatus::Lost => Ok(()),
        other => Err(other.refusal().unwrap_or(CardError::NotActive)),
    }
}

/// An active, lost or expired card is cancelled; a frozen one is not (its balance stays where the
/// freeze holds it).
fn cancellable(status: CardStatus) -> Result<(), CardError> {
    match status {
        CardStatus::Active | CardStatus::Lost | CardStatus::Expired => Ok(()),
        other => Err(other.refusal().unwrap_or(CardError::NotActive)),
    }
}

/// The end of an extension through `date` (`YYYY-MM-DD`): the start of the next day in the
/// platform's calendar, after `now` and at most [`sanhu_core::card::EXTENSION_DAYS_MAX`] of the
/// platform's days away.
fn extension_end(calendar: &sanhu_core::PlatformCalendar, date: &str, now: Timestamp) -> Result<Timestamp, CardError> {
    let invalid = CardError::ExtensionInvalid;
    let parts: Vec<&str> = date.split('-').collect();
    let [y, m, d] = parts[..] else { return Err(invalid) };
    let well_formed =
        y.len() == 4 && m.len() == 2 && d.len() == 2 && date.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    if !well_formed {
        return Err(invalid);
    }
    let (y, m, d) = (y.parse().map_err(|_| invalid)?, m.parse().map_err(|_| invalid)?, d.parse().map_err(|_| invalid)?);
    let start = calendar.date_start(y, m, d).ok_or(invalid)?;
    let end = sanhu_core::card::days_end(calendar, start, 0);
    if end <= now || end > latest_extension(calendar, now) {
        return Err(invalid);
    }
    Ok(end)
}

/// The latest an extension made at `now` reaches: the end of the platform's day
/// [`sanhu_core::card::EXTENSION_DAYS_MAX`] days after today.
fn latest_extension(calendar: &sanhu_core::PlatformCalendar, now: Timestamp) -> Timestamp {
    sanhu_core::card::days_end(calendar, now, sanhu_core::card::EXTENSION_DAYS_MAX)
}
