//! Bank cards (绑卡): binding, listing, unbinding, and whether a card may receive a member's withdrawal.
//!
//! A card number reaches sanhu once, when the card is bound, and is kept only as two derived values:
//! the masked number (first 6 and last 4 digits) to show, and a token to recognise the card by: the
//! keyed hash of the number under the server secret (`PartySecret::card_token`). A platform whose
//! card vault or payment channel issues its own tokens keeps the mapping from ours to theirs. A request
//! carrying the CVV or the expiry date is refused before anything else is read. The number is never
//! logged: `CardNumber`'s `Debug` shows the masked form, and history records only the masked form.

use sanhu_core::id::{BankCardId, MemberId};
use sanhu_core::party::bank_card::{BindCardRequest, CardToken};
use sanhu_core::party::{Actor, BankCard, MemberAction, Reason};
use serde_json::json;

use super::customers::load_customer;
use super::documents::StoredBankCard;
use super::error::{PartyError, BANK_CARD_NOT_FOUND, CARD_ALREADY_BOUND};
use super::members::load_member;
use super::work::{Work, BANK_CARD_KEY, CARDS_OF_MEMBER};
use super::Parties;
use crate::clock;

impl Parties {
    /// Binds a card to a member. The same card (the same token) is bound to a member once.
    pub async fn bind_bank_card(
        &self,
        member_id: MemberId,
        request: BindCardRequest<'_>,
        actor: &Actor,
    ) -> Result<StoredBankCard, PartyError> {
        let to_bind = request.parse()?;
        let token = CardToken::parse(&self.config.secret.card_token(to_bind.number()))
            .expect("a derived token is 68 printable characters");
        transact!(self, |work| {
            let stored = load_member(work, member_id).await?;
            let customer = load_customer(work, stored.member.customer()).await?;
            stored.member.check_action(MemberAction::ManageSecurity, customer.customer.status())?;
            let member_key = member_id.to_string();
            let key = binding_key(member_id, &token);
            if work.key_owner(BANK_CARD_KEY, &key).await?.is_some() {
                return Err(PartyError::Rejected(CARD_ALREADY_BOUND));
            }
            let card_id: BankCardId = clock::new_id();
            let card = BankCard::bind(card_id, member_id, to_bind.clone(), token.clone(), work.now);
            let card = StoredBankCard { card, customer_id: stored.member.customer(), unbound_at: None };
            let card_key = card_id.to_string();
            work.put(&card);
            work.claim(BANK_CARD_KEY, &key, &card_key);
            work.index(CARDS_OF_MEMBER, &member_key, &card_key);
            work.history(
                &card_key,
                &card.customer_id.to_string(),
                "bank_card.bound",
                actor,
                None,
                json!({ "member": member_key, "card": card.card.masked().as_str() }),
            );
            Ok(card)
        })
    }

    /// A member's bound cards, in the order they were bound.
    pub async fn member_bank_cards(&self, member_id: MemberId) -> Result<Vec<StoredBankCard>, PartyError> {
        let mut work = self.reader();
        load_member(&mut work, member_id).await?;
        let cards: Vec<StoredBankCard> = work.indexed(CARDS_OF_MEMBER, &member_id.to_string()).await?;
        Ok(cards.into_iter().filter(|c| c.unbound_at.is_none()).collect())
    }

    /// Unbinds a member's card: it leaves the member's list and may be bound again; the record stays.
    pub async fn unbind_bank_card(
        &self,
        member_id: MemberId,
        card_id: BankCardId,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<StoredBankCard, PartyError> {
        transact!(self, |work| {
            let card = load_bound_card(work, card_id).await?;
            // Another member's card is not this member's to see, nor to unbind.
            if card.card.member() != member_id {
                return Err(PartyError::NotFound(BANK_CARD_NOT_FOUND));
            }
            let stored = load_member(work, member_id).await?;
            let customer = load_customer(work, stored.member.customer()).await?;
            stored.member.check_action(MemberAction::ManageSecurity, customer.customer.status())?;
            let card_key = card_id.to_string();
            let unbound = StoredBankCard { unbound_at: Some(work.now), ..card };
            work.put(&unbound);
            work.release(BANK_CARD_KEY, &binding_key(member_id, unbound.card.token()), &card_key);
            work.unindex(CARDS_OF_MEMBER, &member_id.to_string(), &card_key);
            work.history(
                &card_key,
                &unbound.customer_id.to_string(),
                "bank_card.unbound",
                actor,
                Some(reason),
                json!({ "member": member_id.to_string(), "card": unbound.card.masked().as_str() }),
            );
            Ok(unbound)
        })
    }

    /// Whether a member's withdrawal may go to this card: it is bound to the member, and its holder is
    /// the member's verified real name (同名). Whether the member may withdraw at all is asked
    /// separately (`member_acts` with `MemberAction::Withdraw`).
    pub async fn card_usable_for_withdrawal(&self, member_id: MemberId, card_id: BankCardId) -> Result<(), PartyError> {
        let mut work = self.reader();
        let card = load_bound_card(&mut work, card_id).await?;
        let member = load_member(&mut work, member_id).await?;
        card.card.check_withdrawal(member_id, member.member.real_name())?;
        Ok(())
    }
}

/// The unique key of a card bound to a member.
fn binding_key(member_id: MemberId, token: &CardToken) -> String {
    format!("{member_id}:{}", token.as_str())
}

async fn load_bound_card(work: &mut Work, card_id: BankCardId) -> Result<StoredBankCard, PartyError> {
    match work.get::<StoredBankCard>(&card_id.to_string()).await? {
        Some(card) if card.unbound_at.is_none() => Ok(card),
        _ => Err(PartyError::NotFound(BANK_CARD_NOT_FOUND)),
    }
}
