//! Member cards' records, the same on both backends: card types, number segments, issuing batches,
//! cards and each card's transactions. The columns the store queries or counts on are columns; the
//! rest of each record is a JSON document the service writes and reads (`data`), as the party
//! records are kept.
//!
//! What must hold under concurrency is decided here, each in one statement or one transaction:
//! - a segment's serials are handed out by moving its `next_serial` on in the statement that checks
//!   there is room, so a range is never allocated twice (several instances included), and a new
//!   segment that could give a number another gives is refused in the transaction that inserts it;
//! - a batch's cards are taken by moving `sold` on in the statement that checks it is approved and
//!   not sold out;
//! - a batch's redemption codes each hold one of its cards (`codes_unused`), which a sale does not
//!   take; a code is redeemed, and takes its card, in the statement that checks it is unused and not
//!   expired, so a code gives one card however many redeem it at once;
//! - a card payment's refunds are added to its `refunded` in the statement that checks they fit;
//! - every other change is a compare-and-set on the record's `version`.
//!
//! Which changes are allowed is the service's and core's (`sanhu_core::card`); the store keeps what
//! they decided.

use sanhu_core::Timestamp;

pub use crate::party::CounterAdd;

/// A card type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCardType {
    pub id: String,
    /// `platform` or the merchant's id.
    pub owner: String,
    /// Moved on by every change of its terms.
    pub version: i64,
    pub data: String,
    pub created_at: Timestamp,
}

/// A number segment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCardSegment {
    pub id: String,
    pub prefix: String,
    pub serial_digits: i64,
    pub first_serial: i64,
    pub last_serial: i64,
    /// The first serial not yet allocated to a batch.
    pub next_serial: i64,
    pub data: String,
    pub created_at: Timestamp,
}

/// An issuing batch.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCardBatch {
    pub id: String,
    pub type_id: String,
    pub owner: String,
    pub segment_id: String,
    /// Its serials: `first_serial .. first_serial + quantity`, allocated from the segment.
    pub first_serial: i64,
    pub quantity: i64,
    /// Cards sold so far; the next card sold is serial `first_serial + sold`.
    pub sold: i64,
    /// `pending` or `approved`.
    pub status: String,
    pub version: i64,
    pub data: String,
    pub created_at: Timestamp,
}

/// A card.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCard {
    pub number: String,
    pub batch_id: String,
    pub type_id: String,
    pub owner: String,
    pub member_id: Option<String>,
    /// Its ledger account.
    pub account_id: String,
    pub status: String,
    pub version: i64,
    pub data: String,
    pub created_at: Timestamp,
    /// Set while its ledger account's blocks may not yet agree with its status (a freeze or an
    /// unfreeze between its writes): since when. The repair (`cards_blocks_pending`) finishes it.
    pub blocks_pending_since: Option<Timestamp>,
    /// When its validity ends (once activated): the expiry job finds active cards past it by an index.
    pub valid_until: Option<Timestamp>,
}

/// One of a card's transactions: its sale, an activation's credit, a recharge, a payment, a refund.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCardTransaction {
    /// Derived from the caller and its order number, so a retry names the same one.
    pub id: String,
    pub card_number: String,
    pub kind: String,
    /// What it moved (for a payment, what it took from the card).
    pub amount: i64,
    /// For a payment: what its refunds gave back so far.
    pub refunded: i64,
    /// `in_flight` (its chain decided, the ledger's answer not yet recorded), `succeeded`, `failed`.
    pub status: String,
    pub data: String,
    pub created_at: Timestamp,
}

/// A redemption code of a batch: its keyed hash, never the code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCardCode {
    pub id: String,
    pub batch_id: String,
    /// The batch's owner.
    pub owner: String,
    /// The code's keyed hash, unique.
    pub digest: String,
    /// `unused` or `redeemed`.
    pub status: String,
    pub expires_at: Timestamp,
    pub member_id: Option<String>,
    /// The card of the batch it gave (its index, 0 for the first).
    pub card_index: Option<i64>,
    pub redeemed_at: Option<Timestamp>,
    pub data: String,
    pub created_at: Timestamp,
}

/// What storing a batch's new codes did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CodesInsert {
    Stored,
    /// The batch is not approved (or not stored).
    NotApproved,
    /// Its cards sold and held by codes, these added, would pass its quantity.
    OverQuantity,
}

/// What storing a new transaction did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CardInsert {
    /// Stored, with its counters moved.
    Stored,
    /// Its id is stored already; nothing was written.
    Exists,
    /// The quote it pays with is used or expired; nothing was written.
    QuoteUnavailable,
    /// A coupon of its quote is redeemed already or expired; nothing was written.
    CouponUnavailable { id: String },
    /// A counter would pass its limit (another write added to it meanwhile); nothing was written.
    CounterOverLimit { key: String },
}

/// A coupon template (券模板): its quantity and what it issued, counted in the statement that checks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCouponTemplate {
    pub id: String,
    /// `platform` or the merchant's id.
    pub owner: String,
    pub quantity: i64,
    /// Coupons issued so far.
    pub issued: i64,
    /// Coupons one member holds at most.
    pub per_member: i64,
    pub data: String,
    pub created_at: Timestamp,
}

/// A coupon issued to a member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredCoupon {
    pub id: String,
    pub template_id: String,
    /// The template's owner.
    pub owner: String,
    pub member_id: String,
    /// `unused` or `redeemed`.
    pub status: String,
    pub valid_from: Timestamp,
    pub expires_at: Timestamp,
    /// Whether a payment refunded in full gives it back.
    pub returnable: bool,
    /// The card payment (its record id) that redeemed it.
    pub payment_id: Option<String>,
    pub redeemed_at: Option<Timestamp>,
    pub data: String,
    pub created_at: Timestamp,
}

/// A checkout quote: what an order costs a member, valid until `expires_at`, used by one payment.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredQuote {
    pub id: String,
    pub member_id: String,
    pub card_number: Option<String>,
    /// The card payment (its record id) that used it.
    pub payment_id: Option<String>,
    pub expires_at: Timestamp,
    pub data: String,
    pub created_at: Timestamp,
}

/// What issuing a coupon did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CouponIssue {
    Issued,
    /// The template issued its quantity already (or is not stored).
    SoldOut,
    /// The member holds the template's per-member limit already.
    MemberLimit,
}

/// What a payment redeems in its own write: the quote it uses and the coupons the quote names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuoteRedemption {
    pub quote_id: String,
    pub coupon_ids: Vec<String>,
    pub at: Timestamp,
}

/// What a card type's cards' transactions that succeeded add up to, of one kind (`sale`,
/// `recharge`, `payment`, `refund`, `reissue`, `forfeit`, `cancel`; a refund credited to a wallet
/// account rather than a card, its card cancelled, is `refund_to_wallet`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardTransactionTotal {
    pub type_id: String,
    /// `platform` or the merchant's id.
    pub owner: String,
    pub kind: String,
    pub amount: i64,
    pub count: i64,
}

/// How many cards of a type are in a status.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CardStatusCount {
    pub type_id: String,
    pub owner: String,
    pub status: String,
    pub count: i64,
}

/// What marking a card re-issued did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReissueMark {
    /// The card written and the serial taken.
    Marked,
    /// The serial is not the segment's next any more (taken meanwhile), or the segment is full or
    /// not stored; nothing was written.
    SerialTaken,
    /// The card's stored version is not the expected one; nothing was written.
    CardChanged,
}

/// What allocating a batch's numbers found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BatchAllocation {
    /// Stored, its serials from this one on.
    Allocated { first_serial: i64 },
    /// No such segment.
    NoSegment,
    /// The segment has fewer serials left than the batch's quantity.
    SegmentFull,
}

store_trait! {
    /// What every backend provides for member cards.
    pub trait CardStore {
        fn create_card_type(&self, card_type: &StoredCardType) -> anyhow::Result<()>;
        fn card_type(&self, id: &str) -> anyhow::Result<Option<StoredCardType>>;
        /// Types after `after` in id order; only those of `owners` when given (by the owner index).
        fn card_types(&self, owners: Option<Vec<String>>, after: Option<String>, limit: u32) -> anyhow::Result<Vec<StoredCardType>>;
        /// Writes `card_type` if the stored version is still `expected`.
        fn update_card_type(&self, card_type: &StoredCardType, expected: i64) -> anyhow::Result<bool>;

        /// Stores the segment unless one stored could give one of its numbers (`overlaps` says);
        /// false then. Decided under a lock, so two overlapping segments are never both stored.
        fn create_card_segment(&self, segment: &StoredCardSegment, overlaps: fn(&StoredCardSegment, &StoredCardSegment) -> bool) -> anyhow::Result<bool>;
        fn card_segment(&self, id: &str) -> anyhow::Result<Option<StoredCardSegment>>;
        fn card_segments(&self, after: Option<String>, limit: u32) -> anyhow::Result<Vec<StoredCardSegment>>;

        /// Allocates the batch's quantity of serials from its segment and stores it with the first
        /// of them, in one transaction.
        fn create_card_batch(&self, batch: &StoredCardBatch) -> anyhow::Result<BatchAllocation>;
        fn card_batch(&self, id: &str) -> anyhow::Result<Option<StoredCardBatch>>;
        /// Batches after `after` in id order; only those of `owners` when given (by the owner index).
        fn card_batches(&self, owners: Option<Vec<String>>, after: Option<String>, limit: u32) -> anyhow::Result<Vec<StoredCardBatch>>;
        /// Writes the batch's status and data if the stored version is still `expected`.
        fn update_card_batch(&self, batch: &StoredCardBatch, expected: i64) -> anyhow::Result<bool>;
        /// Takes the next card of an approved batch that is not sold out: its index in the batch
        /// (0 for the first card), or None. First, in the same transaction, the batch's codes expired
        /// at `at` give their cards back (see `create_card_codes`).
        fn take_card_of_batch(&self, batch_id: &str, at: Timestamp) -> anyhow::Result<Option<i64>>;

        /// Stores a card and its first transaction (its sale) together; false if the transaction's
        /// id is stored already (the same sale, made meanwhile) and nothing was stored.
        fn create_card(&self, card: &StoredCard, sale: &StoredCardTransaction) -> anyhow::Result<bool>;
        fn card(&self, number: &str) -> anyhow::Result<Option<StoredCard>>;
        /// Writes the card's member, status, data and pending blocks if the stored version is still
        /// `expected`.
        fn update_card(&self, card: &StoredCard, expected: i64) -> anyhow::Result<bool>;
        /// Cards whose blocks were left pending before `before`, oldest first (by their partial index).
        fn cards_blocks_pending(&self, before: Timestamp, limit: u32) -> anyhow::Result<Vec<StoredCard>>;
        /// Active cards whose validity ended at or before `before`, soonest first (by their partial
        /// index), for the expiry job.
        fn cards_expiring(&self, before: Timestamp, limit: u32) -> anyhow::Result<Vec<StoredCard>>;
        /// Writes a card re-issued (its data naming its successor, numbered by serial `serial` of
        /// segment `segment_id`) if its stored version is still `expected`, and takes that serial in
        /// the same transaction by moving the segment's `next_serial` on from it, checked to be still
        /// the next and within the segment. Nothing is written otherwise: a re-issue refused, or lost
        /// to another, takes no serial, and a segment's numbers have no gap. A serial is never given
        /// twice, to a batch or to a re-issue.
        fn mark_card_reissued(&self, card: &StoredCard, expected: i64, segment_id: &str, serial: i64) -> anyhow::Result<ReissueMark>;

        /// The totals of the cards' transactions that succeeded, created in `[from, until)` (from the
        /// first when `from` is None), by the card's type and owner and the transaction's kind; only
        /// the cards of `owners` when given. At most `limit` groups, in type, owner and kind order.
        fn card_transaction_totals(&self, owners: Option<Vec<String>>, from: Option<Timestamp>, until: Timestamp, limit: u32) -> anyhow::Result<Vec<CardTransactionTotal>>;
        /// How many cards there are by type, owner and status; only those of `owners` when given. At
        /// most `limit` groups, in type, owner and status order.
        fn card_status_counts(&self, owners: Option<Vec<String>>, limit: u32) -> anyhow::Result<Vec<CardStatusCount>>;

        /// Stores a transaction and moves `counters` (a merchant's receipts, `crate::party::CounterAdd`:
        /// added in key order, each within its limit) in the same transaction; nothing is written if its
        /// id is stored already or a counter would pass its limit. With `redeems` (a payment with a
        /// quote), in the same transaction, the quote is marked used by it if unused and not expired,
        /// and each of its coupons redeemed by it if unused and valid at `at`: of two payments with
        /// one coupon at once, exactly one stores.
        fn create_card_transaction(&self, transaction: &StoredCardTransaction, counters: Vec<CounterAdd>, redeems: Option<QuoteRedemption>) -> anyhow::Result<CardInsert>;
        /// Stores a refund of `payment_id` if the payment's refunds, this one added, stay within what
        /// it took (and adds it to them); false and nothing stored otherwise, or if the refund's id is
        /// stored already.
        fn create_card_refund(&self, refund: &StoredCardTransaction, payment_id: &str) -> anyhow::Result<bool>;
        fn card_transaction(&self, id: &str) -> anyhow::Result<Option<StoredCardTransaction>>;
        /// Writes a transaction's status and data (its outcome) if it is still in flight; and then, for
        /// a refund the ledger refused, gives its amount back to the refunds of `released_from` (the
        /// payment); for a refund that succeeded and leaves `released_from` refunded in full, gives the
        /// payment's returnable coupons back (unused); for a payment the ledger refused, gives back
        /// its quote and coupons (unused); and moves `counters` (what a refused payment counted, given
        /// back). False if it was settled already (nothing written).
        fn settle_card_transaction(&self, transaction: &StoredCardTransaction, released_from: Option<String>, counters: Vec<CounterAdd>) -> anyhow::Result<bool>;
        /// A card's transactions, newest first, before `before` (a page's cursor: created_at, id).
        fn card_transactions(&self, number: &str, before: Option<(i64, String)>, limit: u32) -> anyhow::Result<Vec<StoredCardTransaction>>;

        /// Stores a batch's new codes, each holding one of its cards (`codes_unused`), if the batch is
        /// approved and its cards sold and held, these added, stay within its quantity; in one
        /// transaction, nothing stored otherwise. First, in the same transaction, up to
        /// [`EXPIRED_CODES_RELEASED_MAX`] of the batch's unused codes expired at `at` are marked
        /// `expired` and give their cards back (`codes_unused` down by as many).
        fn create_card_codes(&self, batch_id: &str, codes: Vec<StoredCardCode>, at: Timestamp) -> anyhow::Result<CodesInsert>;
        fn card_code_by_digest(&self, digest: &str) -> anyhow::Result<Option<StoredCardCode>>;
        /// A batch's codes after `after`, in id order.
        fn card_codes(&self, batch_id: &str, after: Option<String>, limit: u32) -> anyhow::Result<Vec<StoredCardCode>>;
        /// Redeems the code `id` for `member_id` if it is unused and not expired at `at`: marks it
        /// redeemed and gives it the batch's next card (the one it held), in one transaction. The
        /// card's index in the batch, or None (used or expired: nothing written). Of two redemptions
        /// of one code at once, exactly one is answered an index.
        fn redeem_card_code(&self, id: &str, member_id: &str, at: Timestamp) -> anyhow::Result<Option<i64>>;
        /// Records a failed redemption of each subject at `at`, forgetting theirs before `forget_before`.
        fn record_card_code_failure(&self, subjects: Vec<String>, at: Timestamp, forget_before: Timestamp) -> anyhow::Result<()>;
        /// Records a redemption attempt at `at` as a failure of each subject, unless a subject has
        /// already as many failures as its ceiling at or after `forget_before` (the window's start,
        /// before which its failures are forgotten): decided and recorded in one transaction, under a
        /// lock per subject, so a burst of attempts at once never passes a ceiling. False (nothing
        /// recorded) when refused.
        fn record_card_code_attempt(&self, subjects: Vec<(String, i64)>, at: Timestamp, forget_before: Timestamp) -> anyhow::Result<bool>;
        /// Forgets one attempt of each subject recorded at `at` (it did not fail).
        fn forget_card_code_attempt(&self, subjects: Vec<String>, at: Timestamp) -> anyhow::Result<()>;
        /// How many failed redemptions `subject` made at or after `since`.
        fn card_code_failures(&self, subject: &str, since: Timestamp) -> anyhow::Result<i64>;

        fn create_coupon_template(&self, template: &StoredCouponTemplate) -> anyhow::Result<()>;
        fn coupon_template(&self, id: &str) -> anyhow::Result<Option<StoredCouponTemplate>>;
        /// Templates after `after` in id order; only those of `owners` when given (by the owner index).
        fn coupon_templates(&self, owners: Option<Vec<String>>, after: Option<String>, limit: u32) -> anyhow::Result<Vec<StoredCouponTemplate>>;
        /// Issues `coupon` of its template, in one transaction: the template's `issued` moved on in the
        /// statement that checks its quantity (so concurrent issues never pass it), then the member's
        /// coupons of the template counted against its per-member limit (the template's row lock held).
        fn issue_coupon(&self, coupon: &StoredCoupon) -> anyhow::Result<CouponIssue>;
        fn coupon(&self, id: &str) -> anyhow::Result<Option<StoredCoupon>>;
        /// A member's coupons after `after` in id order.
        fn member_coupons(&self, member_id: &str, after: Option<String>, limit: u32) -> anyhow::Result<Vec<StoredCoupon>>;
        fn create_quote(&self, quote: &StoredQuote) -> anyhow::Result<()>;
        fn quote(&self, id: &str) -> anyhow::Result<Option<StoredQuote>>;
    }
}

/// Expired codes one sale or generation gives back at most (the next gives back more).
pub const EXPIRED_CODES_RELEASED_MAX: i64 = 1000;

pub(crate) const TYPE_COLUMNS: &str = "id, owner, version, data, created_at";
pub(crate) const SEGMENT_COLUMNS: &str =
    "id, prefix, serial_digits, first_serial, last_serial, next_serial, data, created_at";
pub(crate) const BATCH_COLUMNS: &str =
    "id, type_id, owner, segment_id, first_serial, quantity, sold, status, version, data, created_at";
pub(crate) const CARD_COLUMNS: &str =
    "number, batch_id, type_id, owner, member_id, account_id, status, version, data, created_at, blocks_pending_since, valid_until";
pub(crate) const CODE_COLUMNS: &str =
    "id, batch_id, owner, digest, status, expires_at, member_id, card_index, redeemed_at, data, created_at";
pub(crate) const COUPON_TEMPLATE_COLUMNS: &str = "id, owner, quantity, issued, per_member, data, created_at";
pub(crate) const COUPON_COLUMNS: &str = "id, template_id, owner, member_id, status, valid_from, expires_at, returnable, payment_id, redeemed_at, data, created_at";
pub(crate) const QUOTE_COLUMNS: &str = "id, member_id, card_number, payment_id, expires_at, data, created_at";
/// The kind a card transaction is totalled under: a refund credited to a wallet account (its card
/// cancelled; its record names the account) is `refund_to_wallet`, not a card's money.
pub(crate) const TOTAL_KIND: &str =
    "CASE WHEN t.kind = 'refund' AND t.data LIKE '%\"refunded_to_account\":%' THEN 'refund_to_wallet' ELSE t.kind END";

pub(crate) const TRANSACTION_COLUMNS: &str = "id, card_number, kind, amount, refunded, status, data, created_at";
