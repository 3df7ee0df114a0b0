//! Family cards (亲情卡): a member (the owner) authorises another member (the family member) to pay
//! from one of its accounts, within a limit per payment and a limit per platform month (the time
//! zone of core's `time.rs`), until it revokes the card.
//!
//! - **Granting.** The owner names one of its own open accounts of a type that pays (not a type that
//!   is never drawn on, as a margin account), the family member (another member, not the owner) and
//!   the two limits (positive, per payment at most per month). Both members must be able to pay
//!   (their statuses and their customers'). An owner has at most [`FAMILY_CARDS_PER_OWNER_MAX`] cards
//!   in force: a counter of its active cards, bounded, added to in the write that records the card, so
//!   that two grants at once cannot both pass the cap; a revocation gives its place back.
//! - **Paying.** A payment by the family member (`POST /v1/payments` with `family_card_id`) is the
//!   wallet payment as it is, the payer the family member (its pay password, its status), except
//!   that the money comes from the card's account: the chain moves it from the owner's account to the
//!   family member's (`family_card`), then on to the receiver (`pay`), linked, so both members' flows
//!   show it and the owner's names the family member as the counterparty. Only a payment at once to
//!   one receiver (no authorisation, escrow, split or operator).
//! - **Limits, even for payments at once.** What the card paid in a month is a counter
//!   (`family_card_use:fcd_…:month:YYYY-MM`), added to in the write that records the payment with the
//!   monthly limit as its bound: two payments at once cannot both fit (the second's write is refused
//!   and it is decided again, now counting the first). The payment's write also writes the card, so a
//!   revocation and a payment at once are ordered: the payment decided after it is refused.
//!   A payment the ledger refuses gives its use back, and so does a refund, what it gives back (to the
//!   month the payment was counted in), in the write that records the refund succeeded.
//! - **The owner consents as it pays.** A grant carries the owner's pay password where a payment
//!   would (checked when given, required where the platform requires it): after it, payments from
//!   the account need only the family member's password.
//! - **Scope and limits.** The owner's money spends where the owner's would (a franchise member's
//!   wallet at its franchise only, `member_scope_mismatch`); the owner's payment limits count the
//!   payment on its account, and the payer's own count it on the account it passes through.
//! - **Reach.** A card is reached by a client that reaches its owner or its family member (the one
//!   rule, `Parties::reaches`); to any other it is absent (`family_card_not_found`). Either side may
//!   revoke it. A client that reaches the family member but not the owner is not shown the owner's
//!   account (the list of the member's cards, a card read or revoked). Every change is written to the
//!   card's history with who made it.

use sanhu_core::id::{AccountId, FamilyCardId, MemberId};
use sanhu_core::party::account_type::DeductionPriority;
use sanhu_core::party::{Actor, MemberAccountStatus, MemberAction};
use sanhu_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::id_text;
use super::records::{json_document, time_ns};
use super::restriction::Side;
use super::Wallets;
use crate::clock;
use crate::party::accounts::load_account;
use crate::party::work::Work;
use crate::party::{PartyError, Rejection};
use crate::wallet::WalletFailure;

/// The most cards in force one owner may have.
pub const FAMILY_CARDS_PER_OWNER_MAX: i64 = 10;

pub const FAMILY_CARD_NOT_FOUND: Rejection =
    Rejection { code: "family_card_not_found", status: 404, message: "no family card you reach has this id" };
pub const FAMILY_CARD_SAME_MEMBER: Rejection = Rejection {
    code: "family_card_same_member",
    status: 422,
    message: "a family card is granted to another member than its owner",
};
pub const FAMILY_CARD_ACCOUNT_INVALID: Rejection = Rejection {
    code: "family_card_account_invalid",
    status: 422,
    message: "a family card pays from one of the owner's open accounts of a type that pays",
};
pub const FAMILY_CARD_LIMITS_INVALID: Rejection = Rejection {
    code: "family_card_limits_invalid",
    status: 422,
    message: "a family card's limits are positive amounts, the limit per payment at most the limit per month",
};
pub const FAMILY_CARD_LIMIT_REACHED: Rejection = Rejection {
    code: "family_card_limit_reached",
    status: 409,
    message: "the owner has 10 family cards in force, the most one owner may have; revoke one first",
};
pub const FAMILY_CARD_REVOKED: Rejection =
    Rejection { code: "family_card_revoked", status: 409, message: "the family card has been revoked" };
pub const FAMILY_CARD_PER_PAYMENT_EXCEEDED: Rejection = Rejection {
    code: "family_card_per_payment_limit_exceeded",
    status: 422,
    message: "the payment is more than the family card's limit per payment (per_payment_limit)",
};
pub const FAMILY_CARD_MONTHLY_EXCEEDED: Rejection = Rejection {
    code: "family_card_monthly_limit_exceeded",
    status: 422,
    message: "the payment would take what the family card paid this month past its limit per month (monthly_limit)",
};
pub const FAMILY_CARD_PAYMENT_INVALID: Rejection = Rejection {
    code: "family_card_payment_invalid",
    status: 422,
    message: "a family card pays at once, one receiver, by the family member's id: no pay code, operator, authorisation, escrow, split or allow_split",
};
pub const FAMILY_CARD_HOLDER_NO_ACCOUNT: Rejection = Rejection {
    code: "family_card_holder_no_account",
    status: 422,
    message: "the family member has no open account that can pass the card's payment on",
};

/// Whether a card is in force.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FamilyCardStatus {
    Active,
    Revoked,
}

/// A family card as kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyCard {
    pub id: String,
    /// The owner's customer.
    pub customer_id: String,
    #[serde(with = "id_text")]
    pub owner_member_id: MemberId,
    #[serde(with = "id_text")]
    pub account_id: AccountId,
    #[serde(with = "id_text")]
    pub family_member_id: MemberId,
    pub per_payment_limit: i64,
    pub monthly_limit: i64,
    pub status: FamilyCardStatus,
    /// Payments made with it (written by each payment's write).
    pub payments: u64,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    #[serde(default, with = "opt_time_ns")]
    pub revoked_at: Option<Timestamp>,
}
json_document!(FamilyCard, "family_card");

mod opt_time_ns {
    use sanhu_core::Timestamp;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(t: &Option<Timestamp>, s: S) -> Result<S::Ok, S::Error> {
        t.map(|t| t.nanos()).serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Timestamp>, D::Error> {
        Ok(Option::<i64>::deserialize(d)?.map(Timestamp::from_nanos))
    }
}

impl FamilyCard {
    pub fn card_id(&self) -> Option<FamilyCardId> {
        FamilyCardId::parse(&self.id)
    }
}

/// A card and what it paid in the current platform month.
#[derive(Clone, Debug)]
pub struct FamilyCardView {
    pub card: FamilyCard,
    /// What it paid this month (refunds given back).
    pub used_this_month: i64,
    /// The month, `YYYY-MM` in the platform's time zone.
    pub month: String,
    /// Whether the caller reaches the card's owner: one that reaches only the family member is not
    /// shown the owner's account.
    pub owner_reached: bool,
}

impl FamilyCardView {
    pub fn remaining_this_month(&self) -> i64 {
        (self.card.monthly_limit - self.used_this_month).max(0)
    }
}

/// A member's cards: those it owns and those granted to it.
#[derive(Clone, Debug)]
pub struct FamilyCards {
    pub owned: Vec<FamilyCardView>,
    pub granted: Vec<FamilyCardView>,
}

/// What a grant asks for.
#[derive(Clone, Debug)]
pub struct FamilyCardGrant {
    pub owner: MemberId,
    pub account: AccountId,
    pub family_member: MemberId,
    pub per_payment_limit: i64,
    pub monthly_limit: i64,
    /// The owner's pay password: it hands its money to another's password, so it consents as it
    /// would pay (checked when given; required where the platform requires it for payments).
    pub pay_password: Option<String>,
}

/// What a payment counted against its card's month, to give back on a refusal or a refund.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyCardUse {
    pub card_id: String,
    #[serde(with = "id_text")]
    pub owner_member_id: MemberId,
    /// The family member's account the money passed through.
    #[serde(with = "id_text")]
    pub through_account_id: AccountId,
    key: String,
    /// What still counts (less what was given back).
    amount: i64,
}

const OWNER_INDEX: &str = "family_cards_of_owner";
const HOLDER_INDEX: &str = "family_cards_of_holder";

fn active_key(owner: MemberId) -> String {
    format!("family_cards_active:{owner}")
}

fn month_text(month: &sanhu_core::time::PlatformMonth) -> String {
    format!("{:04}-{:02}", month.year, month.month)
}

fn use_key(card: &str, month: &str) -> String {
    format!("family_card_use:{card}:month:{month}")
}

impl Wallets {
    /// Grants a family card, audited in its history.
    pub async fn grant_family_card(
        &self,
        grant: &FamilyCardGrant,
        actor: &Actor,
    ) -> Result<FamilyCardView, WalletFailure> {
        if grant.owner == grant.family_member {
            return Err(WalletFailure::Rejected(FAMILY_CARD_SAME_MEMBER));
        }
        if grant.per_payment_limit <= 0 || grant.monthly_limit <= 0 || grant.per_payment_limit > grant.monthly_limit {
            return Err(WalletFailure::Rejected(FAMILY_CARD_LIMITS_INVALID));
        }
        let owner = self.parties.member_acts(grant.owner, MemberAction::Pay).await?;
        self.customer_may(owner.member.customer(), Side::Pays).await?;
        let family = self.parties.member_acts(grant.family_member, MemberAction::Pay).await?;
        self.customer_may(family.member.customer(), Side::Pays).await?;
        self.pays_from(grant.owner, grant.account).await?;
        self.check_pay_password(grant.owner, grant.pay_password.as_deref()).await?;
        let customer_id = owner.member.customer().to_string();
        let id = clock::new_id::<sanhu_core::id::FamilyCardTag>().to_string();
        let card = transact!(&self.parties, WalletFailure, |work| {
            let card = FamilyCard {
                id: id.clone(),
                customer_id: customer_id.clone(),
                owner_member_id: grant.owner,
                account_id: grant.account,
                family_member_id: grant.family_member,
                per_payment_limit: grant.per_payment_limit,
                monthly_limit: grant.monthly_limit,
                status: FamilyCardStatus::Active,
                payments: 0,
                created_at: work.now,
                revoked_at: None,
            };
            let key = active_key(grant.owner);
            if work.counter(&key).await? >= FAMILY_CARDS_PER_OWNER_MAX {
                return Err(WalletFailure::Rejected(FAMILY_CARD_LIMIT_REACHED));
            }
            work.add_to_counter(&key, 1, Some(FAMILY_CARDS_PER_OWNER_MAX));
            work.put(&card);
            work.index(OWNER_INDEX, &grant.owner.to_string(), &id);
            work.index(HOLDER_INDEX, &grant.family_member.to_string(), &id);
            work.history(
                &id,
                &customer_id,
                "family_card.granted",
                actor,
                None,
                json!({
                    "owner_member_id": grant.owner.to_string(),
                    "account_id": grant.account.to_string(),
                    "family_member_id": grant.family_member.to_string(),
                    "per_payment_limit": grant.per_payment_limit,
                    "monthly_limit": grant.monthly_limit,
                }),
            );
            Ok(card)
        })?;
        self.family_card_view(card, true).await
    }

    /// The account `account` is `owner`'s, open, in the wallet's currency, of a type that pays.
    async fn pays_from(&self, owner: MemberId, account: AccountId) -> Result<(), WalletFailure> {
        let invalid = || WalletFailure::Rejected(FAMILY_CARD_ACCOUNT_INVALID);
        let record = match load_account(&mut self.parties.reader(), account).await {
            Ok(record) => record,
            Err(PartyError::NotFound(_)) => return Err(invalid()),
            Err(other) => return Err(other.into()),
        };
        if record.member_id != owner || record.status == MemberAccountStatus::Closed {
            return Err(invalid());
        }
        let wallet = self.load_wallet(owner).await?;
        match wallet.get(account) {
            Some(found) if found.account_type().spec().deduction != DeductionPriority::Never => Ok(()),
            _ => Err(invalid()),
        }
    }

    /// A card as `bound` reaches it (every card when `None`, the platform): its owner or its family
    /// member must be reached, else it is absent.
    pub async fn family_card(
        &self,
        id: FamilyCardId,
        bound: Option<MemberId>,
    ) -> Result<FamilyCardView, WalletFailure> {
        let (card, owner_reached) = self.reached_card(id, bound).await?;
        self.family_card_view(card, owner_reached).await
    }

    /// The card `bound` reaches (else absent), and whether it reaches its owner.
    async fn reached_card(
        &self,
        id: FamilyCardId,
        bound: Option<MemberId>,
    ) -> Result<(FamilyCard, bool), WalletFailure> {
        let card = self
            .parties
            .reader()
            .get::<FamilyCard>(&id.to_string())
            .await?
            .ok_or(WalletFailure::NotFound(FAMILY_CARD_NOT_FOUND))?;
        let owner_reached = self.owner_reached(bound, &card).await?;
        if let Some(bound) = bound {
            if !owner_reached && !self.parties.reaches(bound, card.family_member_id).await? {
                return Err(WalletFailure::NotFound(FAMILY_CARD_NOT_FOUND));
            }
        }
        Ok((card, owner_reached))
    }

    /// Whether `bound` reaches the card's owner (the platform, `None`, reaches every owner).
    async fn owner_reached(&self, bound: Option<MemberId>, card: &FamilyCard) -> Result<bool, WalletFailure> {
        match bound {
            None => Ok(true),
            Some(bound) => Ok(self.parties.reaches(bound, card.owner_member_id).await?),
        }
    }

    /// The member's cards: those it owns and those granted to it, oldest first, as `bound` (which
    /// reaches `member`) sees them: a card granted to the member by an owner `bound` does not reach
    /// hides the owner's account.
    pub async fn family_cards_of(
        &self,
        member: MemberId,
        bound: Option<MemberId>,
    ) -> Result<FamilyCards, WalletFailure> {
        let mut work = self.parties.reader();
        crate::party::members::load_member(&mut work, member).await?;
        let mut owned: Vec<FamilyCard> = work.indexed(OWNER_INDEX, &member.to_string()).await?;
        let mut granted: Vec<FamilyCard> = work.indexed(HOLDER_INDEX, &member.to_string()).await?;
        owned.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        granted.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
        let mut views = FamilyCards { owned: Vec::new(), granted: Vec::new() };
        for card in owned {
            views.owned.push(self.family_card_view(card, true).await?);
        }
        for card in granted {
            let owner_reached = self.owner_reached(bound, &card).await?;
            views.granted.push(self.family_card_view(card, owner_reached).await?);
        }
        Ok(views)
    }

    async fn family_card_view(&self, card: FamilyCard, owner_reached: bool) -> Result<FamilyCardView, WalletFailure> {
        let month = month_text(&self.parties.config().calendar.month(clock::now()));
        let used_this_month = self.parties.reader().counter(&use_key(&card.id, &month)).await?;
        Ok(FamilyCardView { card, used_this_month, month, owner_reached })
    }

    /// Revokes a card at once: a payment decided after this write is refused. Either side may; a card
    /// revoked already is answered as it is.
    pub async fn revoke_family_card(
        &self,
        id: FamilyCardId,
        bound: Option<MemberId>,
        actor: &Actor,
    ) -> Result<FamilyCardView, WalletFailure> {
        let (_, owner_reached) = self.reached_card(id, bound).await?;
        let card = transact!(&self.parties, WalletFailure, |work| {
            let mut card =
                work.get::<FamilyCard>(&id.to_string()).await?.ok_or(WalletFailure::NotFound(FAMILY_CARD_NOT_FOUND))?;
            if card.status == FamilyCardStatus::Revoked {
                return Ok(card);
            }
            card.status = FamilyCardStatus::Revoked;
            card.revoked_at = Some(work.now);
            work.add_to_counter(&active_key(card.owner_member_id), -1, None);
            work.put(&card);
            work.history(&card.id, &card.customer_id, "family_card.revoked", actor, None, json!({}));
            Ok(card)
        })?;
        self.family_card_view(card, owner_reached).await
    }

    /// The card a payment by `payer` names, read before the payment's turn: it must be the payer's
    /// (else absent) and in force.
    pub(super) async fn family_card_for_payment(
        &self,
        id: FamilyCardId,
        payer: MemberId,
    ) -> Result<FamilyCard, WalletFailure> {
        let card = self
            .parties
            .reader()
            .get::<FamilyCard>(&id.to_string())
            .await?
            .filter(|c| c.family_member_id == payer)
            .ok_or(WalletFailure::NotFound(FAMILY_CARD_NOT_FOUND))?;
        if card.status != FamilyCardStatus::Active {
            return Err(WalletFailure::Rejected(FAMILY_CARD_REVOKED));
        }
        Ok(card)
    }

    /// The family member's account a card's payment passes through: its open account first in the
    /// types' deduction order that may both receive and send.
    pub(super) async fn family_through_account(&self, member: MemberId) -> Result<AccountId, WalletFailure> {
        let wallet = self.load_wallet(member).await?;
        wallet
            .accounts()
            .iter()
            .filter(|a| a.account_type().spec().deduction != DeductionPriority::Never)
            .filter(|a| a.can_receive() && a.can_send())
            .min_by_key(|a| (a.account_type().spec().deduction, a.id()))
            .map(|a| a.id())
            .ok_or(WalletFailure::Rejected(FAMILY_CARD_HOLDER_NO_ACCOUNT))
    }
}

/// Checks a payment of `amount` on the card against its limits and counts it, in `work`: the
/// payment's own write. The card is read again and written, so a revocation is met.
pub(super) async fn family_card_pays(
    work: &mut Work,
    wallets: &Wallets,
    card_id: &str,
    amount: i64,
    through: AccountId,
) -> Result<FamilyCardUse, WalletFailure> {
    let mut card = work.get::<FamilyCard>(card_id).await?.ok_or(WalletFailure::NotFound(FAMILY_CARD_NOT_FOUND))?;
    if card.status != FamilyCardStatus::Active {
        return Err(WalletFailure::Rejected(FAMILY_CARD_REVOKED));
    }
    if amount > card.per_payment_limit {
        return Err(WalletFailure::Rejected(FAMILY_CARD_PER_PAYMENT_EXCEEDED));
    }
    let month = month_text(&wallets.parties.config().calendar.month(work.now));
    let key = use_key(card_id, &month);
    let total = work.counter(&key).await?.checked_add(amount);
    if total.is_none_or(|t| t > card.monthly_limit) {
        return Err(WalletFailure::Rejected(FAMILY_CARD_MONTHLY_EXCEEDED));
    }
    work.add_to_counter(&key, amount, Some(card.monthly_limit));
    card.payments += 1;
    work.put(&card);
    Ok(FamilyCardUse {
        card_id: card_id.to_owned(),
        owner_member_id: card.owner_member_id,
        through_account_id: through,
        key,
        amount,
    })
}

/// Gives back up to `amount` of what a payment counted against its card's month (all of it for a
/// payment that did not happen), in the write that says so.
pub(super) fn give_back(work: &mut Work, used: &mut Option<FamilyCardUse>, amount: Option<i64>) {
    let Some(used) = used.as_mut() else { return };
    let back = amount.map_or(used.amount, |a| a.min(used.amount));
    if back > 0 {
        work.add_to_counter(&used.key, -back, None);
        used.amount -= back;
    }
}
