//! Card types (卡种): created for the platform or a merchant, listed, read, and their terms changed.
//! A change of terms is a new version; batches made before it keep the version they copied, and so
//! do their cards.

use anyhow::anyhow;
use sanhu_core::card::{check_grade, check_name, CardOwner, CardTerms};
use sanhu_core::id::{CardTypeId, MemberId};
use sanhu_core::party::Actor;
use sanhu_core::Timestamp;
use sanhu_store::card::{CardStore, StoredCardType};
use serde::{Deserialize, Serialize};

use super::documents::{decode, encode, TermsDoc};
use super::{page_limit, CardFailure, Cards, CARD_OWNER_REQUIRED, CARD_TYPE_NOT_FOUND};
use crate::clock;
use crate::party::work::actor_text;

/// What a new card type is.
#[derive(Clone, Debug)]
pub struct NewCardType {
    pub owner: CardOwner,
    pub name: String,
    pub grade: u32,
    pub terms: CardTerms,
}

/// A card type as kept.
#[derive(Clone, Debug)]
pub struct CardType {
    pub id: CardTypeId,
    pub owner: CardOwner,
    pub name: String,
    /// 1 the highest.
    pub grade: u32,
    /// Moved on by every change of its terms.
    pub version: i64,
    pub terms: CardTerms,
    pub created_by: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct TypeDoc {
    name: String,
    grade: u32,
    terms: TermsDoc,
    created_by: String,
    updated_at: i64,
}

impl CardType {
    fn stored(&self) -> StoredCardType {
        StoredCardType {
            id: self.id.to_string(),
            owner: self.owner.as_text(),
            version: self.version,
            data: encode(&TypeDoc {
                name: self.name.clone(),
                grade: self.grade,
                terms: TermsDoc::from(&self.terms),
                created_by: self.created_by.clone(),
                updated_at: self.updated_at.nanos(),
            }),
            created_at: self.created_at,
        }
    }

    pub(crate) fn restore(stored: StoredCardType) -> anyhow::Result<CardType> {
        let doc: TypeDoc = decode(&stored.data, "card type")?;
        Ok(CardType {
            id: CardTypeId::parse(&stored.id).ok_or_else(|| anyhow!("stored card type id {:?}", stored.id))?,
            owner: CardOwner::parse(&stored.owner).ok_or_else(|| anyhow!("stored card owner {:?}", stored.owner))?,
            name: doc.name,
            grade: doc.grade,
            version: stored.version,
            terms: doc.terms.terms()?,
            created_by: doc.created_by,
            created_at: stored.created_at,
            updated_at: Timestamp::from_nanos(doc.updated_at),
        })
    }
}

impl Cards {
    /// A new card type, version 1. A bound caller makes types for its own member's merchants only.
    pub async fn create_card_type(
        &self,
        new: NewCardType,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<CardType, CardFailure> {
        let name = check_name(&new.name)?;
        let grade = check_grade(new.grade)?;
        let terms = new.terms.check()?;
        if !self.reaches(binding, new.owner).await? {
            return Err(match new.owner {
                CardOwner::Platform => CardFailure::Rejected(CARD_OWNER_REQUIRED),
                CardOwner::Merchant(_) => CardFailure::NotFound(crate::party::error::MERCHANT_NOT_FOUND),
            });
        }
        if let CardOwner::Merchant(merchant) = new.owner {
            // The merchant exists (an unbound caller's too).
            self.parties().merchant_member(merchant).await?;
        }
        let now = clock::now();
        let card_type = CardType {
            id: clock::new_id(),
            owner: new.owner,
            name,
            grade,
            version: 1,
            terms,
            created_by: actor_text(actor),
            created_at: now,
            updated_at: now,
        };
        self.store().create_card_type(&card_type.stored()).await?;
        Ok(card_type)
    }

    /// A card type the caller reaches; `card_type_not_found` otherwise.
    pub async fn card_type(&self, id: CardTypeId, binding: Option<MemberId>) -> Result<CardType, CardFailure> {
        let Some(stored) = self.store().card_type(&id.to_string()).await? else {
            return Err(CardFailure::NotFound(CARD_TYPE_NOT_FOUND));
        };
        let card_type = CardType::restore(stored)?;
        if !self.reaches(binding, card_type.owner).await? {
            return Err(CardFailure::NotFound(CARD_TYPE_NOT_FOUND));
        }
        Ok(card_type)
    }

    /// Card types in id order after `after`: a bound caller's own merchants' only.
    pub async fn card_types(
        &self,
        binding: Option<MemberId>,
        after: Option<CardTypeId>,
        limit: Option<u32>,
    ) -> Result<Vec<CardType>, CardFailure> {
        let limit = page_limit(limit)?;
        let mut found = Vec::new();
        let mut after = after.map(|id| id.to_string());
        let owners = self.owners_reached(binding).await?;
        // A bound caller reads its own merchants' types only (the owner index), each still checked.
        loop {
            let page = self.store().card_types(owners.clone(), after.clone(), limit).await?;
            let done = page.len() < limit as usize;
            after = page.last().map(|t| t.id.clone());
            for stored in page {
                let card_type = CardType::restore(stored)?;
                if self.reaches(binding, card_type.owner).await? {
                    found.push(card_type);
                    if found.len() == limit as usize {
                        return Ok(found);
                    }
                }
            }
            if done {
                return Ok(found);
            }
        }
    }

    /// New terms for a type: its version moves on; batches and cards made before keep theirs.
    pub async fn change_card_terms(
        &self,
        id: CardTypeId,
        terms: CardTerms,
        binding: Option<MemberId>,
    ) -> Result<CardType, CardFailure> {
        let terms = terms.check()?;
        let _turn = self.turn(format!("card_type:{id}")).await;
        let mut retry = crate::party::work::Retry::new();
        loop {
            let current = self.card_type(id, binding).await?;
            let changed =
                CardType { version: current.version + 1, terms: terms.clone(), updated_at: clock::now(), ..current };
            if self.store().update_card_type(&changed.stored(), changed.version - 1).await? {
                return Ok(changed);
            }
            // Another instance changed it meanwhile: decided again on what it left, within the budget.
            if !retry.again().await {
                return Err(CardFailure::Contended);
            }
        }
    }
}
