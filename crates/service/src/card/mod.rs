//! Member cards (会员卡): card types, number segments, issuing batches approved by marketing and
//! finance, and a card's life: sold, activated, bound to a member, recharged, paid with (its type's
//! discount applied), refunded to, frozen or reported lost, unfrozen. The rules are core's
//! (`sanhu_core::card`); the records are the card store's (`sanhu_store::card`); a card's money is
//! the wallet's machinery: every card has a ledger account of its own (credit-normal, never below
//! zero), every movement is a chain of ledger transfers with ids derived from the transaction's
//! record (`crate::wallet::chain`), between the card's account and the platform's accounts (a
//! channel's clearing account, marketing expense) or a member account, so `sanhu verify` counts card
//! money like any other.
//!
//! | file | what |
//! |---|---|
//! | `types.rs` | card types: created, listed, read, their terms changed (a new version) |
//! | `batches.rs` | number segments, batches allocated from them, the two roles' approvals |
//! | `cards.rs` | a card's life: sold, activated, bound, frozen or reported lost, unfrozen, read |
//! | `life.rs` | its end: re-issued, passed to another member, expired (kept and extended, or forfeited), cancelled and refunded |
//! | `codes.rs` | redemption codes: generated (shown once, kept as keyed hashes), redeemed once, bound in bulk |
//! | `money.rs` | recharges, payments with the discount (or with a checkout quote), refunds; a card's transactions |
//! | `coupons.rs` | coupon templates, coupons issued to members' wallets, the checkout quote |
//! | `reports.rs` | the card liability report of a day, by type and issuing merchant |
//! | `documents.rs` | how each record's JSON document is kept |
//! | `error.rs` | the card's rejection codes |
//!
//! **What a sold card gives.** A batch copies its type's terms when it is made (with its own sale
//! price and validity): marketing and finance approve exactly those, and every card of the batch
//! copies them when sold, with the type's version. Changing a type's terms makes a new version,
//! which only batches made after it carry; no sold card changes.
//!
//! **Who reaches what.** A client bound to a member reaches the card types of that member's
//! merchants, their batches and their cards, and nothing else: another's, or the platform's, answer
//! as if absent (`card_type_not_found`, `card_batch_not_found`, `card_not_found`). [`Cards::reaches`]
//! decides it for every use case that names a type, batch or card; a list reads by the store's owner
//! index only the owners [`Cards::owners_reached`] names, and passes what it reads through `reaches`.
//!
//! **Concurrency.** Requests on one card (one batch, one type) are taken in turn (`crate::turns`);
//! a compare-and-set that still meets another instance's write is decided again within the
//! contention budget (`party::work::Retry`), then answered `concurrent_change`, never spun on.
//!
//! **A card's ledger blocks.** Freezing blocks its account's debits, unfreezing lifts the block:
//! the card says so (`blocks_pending_since`) in the write before the ledger's, and clears it in the
//! write after. A crash between leaves it said; [`Cards::repair_card_blocks`] (run at startup and
//! by a job, `crate::jobs::repair_card_blocks`) sets the account's blocks to what the card's status
//! says and clears it.

mod batches;
mod cards;
mod codes;
mod coupons;
mod documents;
mod error;
mod life;
mod money;
mod reports;
mod types;

use sanhu_core::card::CardOwner;
use sanhu_core::id::MemberId;
use sanhu_core::AccountId;
use sha2::{Digest, Sha256};

use crate::party::{Parties, PartyError};
use crate::turns::Turn;
use crate::wallet::Wallets;

pub use batches::{BatchStatus, CardBatch, CardSegment, NewBatch, NewSegment};
pub use cards::{Card, SaleRequest};
pub use codes::{status_text as code_status_text, BulkOutcome, CardCode, GeneratedCodes, NewCodes};
pub use coupons::{
    CheckoutQuote, Coupon, CouponStatus, CouponTemplate, IssueRow, NewCouponTemplate, QuoteRequest, ISSUE_MEMBERS_MAX,
    QUOTE_VALID_SECONDS,
};
pub use error::*;
pub use life::{CancelRefund, CancelRequest, Extension, ReissueRequest, EXPIRY_PAGE_CARDS};
pub use money::{CardPage, CardTransaction, CardTransactionKind, PaymentRequest, RechargeRequest, RefundRequest};
pub use reports::{LiabilityLine, LiabilityReport, REPORT_STATUSES, REPORT_TYPES_MAX};
pub use types::{CardType, NewCardType};

/// The most items a page of a card list holds, and how many when the caller does not say.
pub const CARD_PAGE_MAX: u32 = 100;
pub const CARD_PAGE_DEFAULT: u32 = 50;

/// The card service, over the wallet (its parties, its ledger, its configured channels). Cheap to
/// clone.
#[derive(Clone)]
pub struct Cards {
    wallets: Wallets,
}

impl Cards {
    pub fn new(wallets: Wallets) -> Cards {
        Cards { wallets }
    }

    fn parties(&self) -> &Parties {
        self.wallets.parties()
    }

    fn store(&self) -> &sanhu_store::Store {
        self.wallets.parties().store()
    }

    /// This instance's turn on a card or a batch, held until the answer (`crate::turns`): requests on
    /// one card are decided one after another, each on what the last left.
    async fn turn(&self, key: String) -> Turn {
        self.parties().turns().take([key]).await
    }

    /// The owners (as stored) whose types and batches a caller bound to `binding` lists: None (every
    /// owner) for an unbound caller, its member's merchants for a bound one, so that a list reads by
    /// the store's owner index only what it may show. What it reads is still passed through
    /// [`Cards::reaches`], the one rule.
    pub(crate) async fn owners_reached(&self, binding: Option<MemberId>) -> Result<Option<Vec<String>>, CardFailure> {
        let Some(member) = binding else { return Ok(None) };
        Ok(Some(self.parties().merchants_of_member(member).await?))
    }

    /// Whether a caller bound to `binding` (None: acting for the whole platform) reaches what `owner`
    /// owns: an unbound caller everything, a bound one the cards of the merchants its member reaches
    /// (`Parties::reaches`: its own merchants and those below them in the hierarchy).
    pub async fn reaches(&self, binding: Option<MemberId>, owner: CardOwner) -> Result<bool, CardFailure> {
        let Some(member) = binding else { return Ok(true) };
        match owner {
            CardOwner::Platform => Ok(false),
            CardOwner::Merchant(merchant) => match self.parties().merchant_member(merchant).await {
                Ok(runner) => Ok(self.parties().reaches(member, runner).await?),
                Err(PartyError::NotFound(_)) => Ok(false),
                Err(other) => Err(other.into()),
            },
        }
    }
}

/// A page size as asked (None: the default), checked.
pub fn page_limit(limit: Option<u32>) -> Result<u32, CardFailure> {
    match limit {
        None => Ok(CARD_PAGE_DEFAULT),
        Some(n) if (1..=CARD_PAGE_MAX).contains(&n) => Ok(n),
        Some(_) => Err(CardFailure::Rejected(CARD_LIST_LIMIT_INVALID)),
    }
}

/// The ledger account of card `number`: derived from the number, so every instance names the same one.
pub fn card_account_id(number: &str) -> AccountId {
    let mut hasher = Sha256::new();
    hasher.update(b"sanhu.card_account\n");
    hasher.update(number.as_bytes());
    let digest = hasher.finalize();
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    AccountId::from_u128(u128::from_be_bytes(bytes).max(1)).expect("not zero")
}
