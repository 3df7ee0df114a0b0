//! Number segments (号段) and issuing batches (发行批次).
//!
//! A segment is a range of serials under a prefix that names a region or an issuing branch; every
//! number is the prefix, the serial and a Luhn check digit, so a number tells where it was issued
//! and a mistyped one is refused. A batch takes `quantity` serials from a segment when it is made
//! (the store hands them out in the statement that checks there is room, so no serial goes to two
//! batches), copies its type's terms with its own sale price and validity, and waits for two
//! approvals, one by a marketing and one by a finance staff member (neither its maker), before any
//! card of it is sold or activated.

use anyhow::anyhow;
use sanhu_core::card::{
    approve, check_quantity, fully_approved, ApproverRole, BatchApproval, CardOwner, CardTerms, SalesChannel, Segment,
    Validity,
};
use sanhu_core::id::{CardBatchId, CardSegmentId, CardTypeId, MemberId};
use sanhu_core::party::Actor;
use sanhu_core::Timestamp;
use sanhu_store::card::{BatchAllocation, CardStore, StoredCardBatch, StoredCardSegment};
use serde::{Deserialize, Serialize};

use super::documents::{decode, encode, ApprovalDoc, TermsDoc};
use super::CARD_SEGMENT_OVERLAPS;
use super::{page_limit, CardFailure, Cards, CARD_BATCH_NOT_FOUND, CARD_SEGMENT_FULL, CARD_SEGMENT_NOT_FOUND};
use crate::clock;
use crate::party::work::actor_text;

/// What a new segment is.
#[derive(Clone, Debug)]
pub struct NewSegment {
    pub segment: Segment,
    /// The region or issuing branch its numbers belong to (free text, 1 to 50 characters).
    pub region: String,
}

/// A number segment as kept.
#[derive(Clone, Debug)]
pub struct CardSegment {
    pub id: CardSegmentId,
    pub segment: Segment,
    pub region: String,
    /// The first serial not yet allocated to a batch.
    pub next_serial: i64,
    pub created_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SegmentDoc {
    region: String,
}

impl CardSegment {
    fn restore(s: StoredCardSegment) -> anyhow::Result<CardSegment> {
        let doc: SegmentDoc = decode(&s.data, "card segment")?;
        let segment = Segment {
            prefix: s.prefix,
            serial_digits: u32::try_from(s.serial_digits)?,
            first: s.first_serial,
            last: s.last_serial,
        };
        Ok(CardSegment {
            id: CardSegmentId::parse(&s.id).ok_or_else(|| anyhow!("stored card segment id {:?}", s.id))?,
            segment,
            region: doc.region,
            next_serial: s.next_serial,
            created_at: s.created_at,
        })
    }
}

/// Two stored segments that could give the same number.
fn stored_overlap(a: &StoredCardSegment, b: &StoredCardSegment) -> bool {
    let shape = |s: &StoredCardSegment| Segment {
        prefix: s.prefix.clone(),
        serial_digits: u32::try_from(s.serial_digits).unwrap_or(u32::MAX),
        first: s.first_serial,
        last: s.last_serial,
    };
    shape(a).overlaps(&shape(b))
}

/// Whether a batch's cards may be sold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchStatus {
    /// Waiting for marketing's and finance's approvals.
    Pending,
    Approved,
}

impl BatchStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            BatchStatus::Pending => "pending",
            BatchStatus::Approved => "approved",
        }
    }
}

/// What a new batch is.
#[derive(Clone, Debug)]
pub struct NewBatch {
    pub type_id: CardTypeId,
    pub segment_id: CardSegmentId,
    pub channel: SalesChannel,
    /// None: the type's.
    pub sale_price: Option<i64>,
    /// None: the type's.
    pub validity: Option<Validity>,
    pub quantity: i64,
}

/// An issuing batch as kept.
#[derive(Clone, Debug)]
pub struct CardBatch {
    pub id: CardBatchId,
    pub type_id: CardTypeId,
    /// The type's version whose terms it copied.
    pub type_version: i64,
    pub owner: CardOwner,
    pub segment_id: CardSegmentId,
    pub channel: SalesChannel,
    /// What its cards give: the type's terms with the batch's sale price and validity.
    pub terms: CardTerms,
    pub quantity: i64,
    pub first_serial: i64,
    pub sold: i64,
    pub status: BatchStatus,
    /// Who made it (`client:…`, `staff:…`).
    pub maker: String,
    pub approvals: Vec<BatchApproval>,
    pub version: i64,
    pub created_at: Timestamp,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct BatchDoc {
    type_version: i64,
    channel: String,
    terms: TermsDoc,
    maker: String,
    approvals: Vec<ApprovalDoc>,
}

impl CardBatch {
    fn stored(&self) -> StoredCardBatch {
        StoredCardBatch {
            id: self.id.to_string(),
            type_id: self.type_id.to_string(),
            owner: self.owner.as_text(),
            segment_id: self.segment_id.to_string(),
            first_serial: self.first_serial,
            quantity: self.quantity,
            sold: self.sold,
            status: self.status.as_str().to_owned(),
            version: self.version,
            data: encode(&BatchDoc {
                type_version: self.type_version,
                channel: self.channel.as_str().to_owned(),
                terms: TermsDoc::from(&self.terms),
                maker: self.maker.clone(),
                approvals: self.approvals.iter().map(ApprovalDoc::from).collect(),
            }),
            created_at: self.created_at,
        }
    }

    fn restore(b: StoredCardBatch) -> anyhow::Result<CardBatch> {
        let doc: BatchDoc = decode(&b.data, "card batch")?;
        let approvals = doc.approvals.iter().map(ApprovalDoc::approval).collect::<anyhow::Result<Vec<_>>>()?;
        let status = match b.status.as_str() {
            "pending" => BatchStatus::Pending,
            "approved" => BatchStatus::Approved,
            other => anyhow::bail!("stored batch status {other:?}"),
        };
        Ok(CardBatch {
            id: CardBatchId::parse(&b.id).ok_or_else(|| anyhow!("stored card batch id {:?}", b.id))?,
            type_id: CardTypeId::parse(&b.type_id).ok_or_else(|| anyhow!("stored card type id {:?}", b.type_id))?,
            type_version: doc.type_version,
            owner: CardOwner::parse(&b.owner).ok_or_else(|| anyhow!("stored card owner {:?}", b.owner))?,
            segment_id: CardSegmentId::parse(&b.segment_id)
                .ok_or_else(|| anyhow!("stored card segment id {:?}", b.segment_id))?,
            channel: SalesChannel::parse(&doc.channel).map_err(|_| anyhow!("stored channel {:?}", doc.channel))?,
            terms: doc.terms.terms()?,
            quantity: b.quantity,
            first_serial: b.first_serial,
            sold: b.sold,
            status,
            maker: doc.maker,
            approvals,
            version: b.version,
            created_at: b.created_at,
        })
    }
}

impl Cards {
    /// A new segment, refused when it could give a number another segment gives.
    pub async fn create_segment(&self, new: NewSegment) -> Result<CardSegment, CardFailure> {
        let segment = new.segment.check()?;
        let region = new.region.trim().to_owned();
        if !(1..=50).contains(&region.chars().count()) || region.chars().any(char::is_control) {
            return Err(sanhu_core::card::CardError::SegmentInvalid.into());
        }
        let created =
            CardSegment { id: clock::new_id(), next_serial: segment.first, segment, region, created_at: clock::now() };
        let stored = StoredCardSegment {
            id: created.id.to_string(),
            prefix: created.segment.prefix.clone(),
            serial_digits: i64::from(created.segment.serial_digits),
            first_serial: created.segment.first,
            last_serial: created.segment.last,
            next_serial: created.next_serial,
            data: encode(&SegmentDoc { region: created.region.clone() }),
            created_at: created.created_at,
        };
        if !self.store().create_card_segment(&stored, stored_overlap).await? {
            return Err(CardFailure::Rejected(CARD_SEGMENT_OVERLAPS));
        }
        Ok(created)
    }

    pub async fn segment(&self, id: CardSegmentId) -> Result<CardSegment, CardFailure> {
        match self.store().card_segment(&id.to_string()).await? {
            Some(stored) => Ok(CardSegment::restore(stored)?),
            None => Err(CardFailure::NotFound(CARD_SEGMENT_NOT_FOUND)),
        }
    }

    pub async fn segments(
        &self,
        after: Option<CardSegmentId>,
        limit: Option<u32>,
    ) -> Result<Vec<CardSegment>, CardFailure> {
        let limit = page_limit(limit)?;
        let page = self.store().card_segments(after.map(|id| id.to_string()), limit).await?;
        Ok(page.into_iter().map(CardSegment::restore).collect::<anyhow::Result<Vec<_>>>()?)
    }

    /// A new batch of a type the caller reaches, its serials allocated from the segment, pending
    /// approval.
    pub async fn create_batch(
        &self,
        new: NewBatch,
        binding: Option<MemberId>,
        actor: &Actor,
    ) -> Result<CardBatch, CardFailure> {
        let quantity = check_quantity(new.quantity)?;
        let card_type = self.card_type(new.type_id, binding).await?;
        let terms = CardTerms {
            sale_price: new.sale_price.unwrap_or(card_type.terms.sale_price),
            validity: new.validity.unwrap_or(card_type.terms.validity),
            ..card_type.terms.clone()
        }
        .check()?;
        let mut batch = CardBatch {
            id: clock::new_id(),
            type_id: card_type.id,
            type_version: card_type.version,
            owner: card_type.owner,
            segment_id: new.segment_id,
            channel: new.channel,
            terms,
            quantity,
            first_serial: 0,
            sold: 0,
            status: BatchStatus::Pending,
            maker: actor_text(actor),
            approvals: Vec::new(),
            version: 1,
            created_at: clock::now(),
        };
        match self.store().create_card_batch(&batch.stored()).await? {
            BatchAllocation::Allocated { first_serial } => batch.first_serial = first_serial,
            BatchAllocation::NoSegment => return Err(CardFailure::NotFound(CARD_SEGMENT_NOT_FOUND)),
            BatchAllocation::SegmentFull => return Err(CardFailure::Rejected(CARD_SEGMENT_FULL)),
        }
        Ok(batch)
    }

    /// A batch the caller reaches; `card_batch_not_found` otherwise.
    pub async fn batch(&self, id: CardBatchId, binding: Option<MemberId>) -> Result<CardBatch, CardFailure> {
        let Some(stored) = self.store().card_batch(&id.to_string()).await? else {
            return Err(CardFailure::NotFound(CARD_BATCH_NOT_FOUND));
        };
        let batch = CardBatch::restore(stored)?;
        if !self.reaches(binding, batch.owner).await? {
            return Err(CardFailure::NotFound(CARD_BATCH_NOT_FOUND));
        }
        Ok(batch)
    }

    /// Batches in id order after `after`: a bound caller's own merchants' only.
    pub async fn batches(
        &self,
        binding: Option<MemberId>,
        after: Option<CardBatchId>,
        limit: Option<u32>,
    ) -> Result<Vec<CardBatch>, CardFailure> {
        let limit = page_limit(limit)?;
        let mut found = Vec::new();
        let mut after = after.map(|id| id.to_string());
        let owners = self.owners_reached(binding).await?;
        loop {
            let page = self.store().card_batches(owners.clone(), after.clone(), limit).await?;
            let done = page.len() < limit as usize;
            after = page.last().map(|b| b.id.clone());
            for stored in page {
                let batch = CardBatch::restore(stored)?;
                if self.reaches(binding, batch.owner).await? {
                    found.push(batch);
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

    /// A staff member's approval of a batch in the role `role` (None: a role that approves no batch,
    /// or no staff member at all). Once marketing and finance have both approved, its cards may be
    /// sold and activated.
    pub async fn approve_batch(
        &self,
        id: CardBatchId,
        role: Option<ApproverRole>,
        actor: &Actor,
    ) -> Result<CardBatch, CardFailure> {
        let (Some(role), Actor::Staff(_)) = (role, actor) else {
            return Err(sanhu_core::card::CardError::ApproverRoleInvalid.into());
        };
        let _turn = self.turn(format!("card_batch:{id}")).await;
        let mut retry = crate::party::work::Retry::new();
        loop {
            let current = self.batch(id, None).await?;
            let approval = BatchApproval { role, by: actor_text(actor), at: clock::now() };
            let approvals = approve(&current.approvals, &current.maker, approval)?;
            let status = if fully_approved(&approvals) { BatchStatus::Approved } else { BatchStatus::Pending };
            let changed = CardBatch { approvals, status, version: current.version + 1, ..current };
            if self.store().update_card_batch(&changed.stored(), changed.version - 1).await? {
                return Ok(changed);
            }
            // Another instance changed it meanwhile: decided again on what it left, within the budget.
            if !retry.again().await {
                return Err(CardFailure::Contended);
            }
        }
    }
}
