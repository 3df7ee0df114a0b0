//! The three-party records (customers, members, operators, member accounts, authentications, bank
//! cards, pay passwords, one-time codes) as the store keeps them.
//!
//! These are aggregates read and changed a few at a time, far from the ledger's hot path, and their
//! rules live in `sanhu_core::party` and the service. So the store keeps them generically, the same
//! way on both backends:
//! - a record is one aggregate: its id (`cus_…`, `mem_…`), kind, owning customer (the distribution
//!   key), a version and the aggregate as a JSON document;
//! - a unique key (a certificate, a login identity) names at most one owner, enforced by the
//!   database's primary key;
//! - an index entry (customer → member, member → account, name → customer) is a lookup, not a rule;
//! - a change is a history row: who, when, what, why, about which record.
//!
//! A [`PartyWrite`] is applied in one transaction, optimistically: every record carries the version
//! it was read at, and a record changed meanwhile (or a key taken meanwhile) refuses the whole write
//! with a [`PartyConflict`], after which the service reads again and re-decides. The same transaction
//! creates ledger accounts and sets their flags, so that opening an account, or a customer's freeze
//! reaching its accounts, is all or nothing.

use sanhu_core::ledger::{Account, AccountCloseError, AccountFlags};
use sanhu_core::{AccountId, Timestamp};

/// One stored aggregate.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyRecord {
    /// The aggregate's prefixed id (`cus_…`, `mem_…`, `opr_…`, `acc_…` for a member account).
    pub id: String,
    /// What it is: `customer`, `member`, `member_account`, `operator`, ... (the service's names).
    pub kind: String,
    /// The customer it belongs to (itself, for a customer).
    pub customer_id: String,
    /// 1 when created, one more on every write.
    pub version: i64,
    /// The aggregate, as JSON.
    pub data: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A record to write: created when `expected_version` is 0, otherwise replacing the stored record only
/// if it still has `expected_version`. The record's `version` must be `expected_version + 1`.
#[derive(Clone, Debug)]
pub struct RecordWrite {
    pub record: PartyRecord,
    pub expected_version: i64,
}

/// A unique key, such as `("certificate", "id_card:<keyed hash>")` or `("identity", "phone:+86…")`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PartyKey {
    pub namespace: String,
    pub key: String,
}

impl PartyKey {
    pub fn new(namespace: &str, key: impl Into<String>) -> PartyKey {
        PartyKey { namespace: namespace.to_owned(), key: key.into() }
    }
}

/// A change recorded in the history: who did what to which record, when and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PartyChange {
    /// Assigned by the store, increasing; 0 in a write.
    pub seq: i64,
    /// The record changed.
    pub record_id: String,
    /// The customer the record belonged to when changed (a merge records on both customers).
    pub customer_id: String,
    /// What happened: `customer.registered`, `member.activated`, `customer.status_changed`, ...
    pub action: String,
    /// Who: `client:cli_…`, `staff:…`, `member:mem_…`, `operator:opr_…`, `system:dormancy`.
    pub actor: String,
    pub reason: Option<String>,
    /// What changed, as JSON (e.g. `{"from":"normal","to":"frozen"}`).
    pub detail: String,
    pub at: Timestamp,
}

/// A ledger account's flags to set in the party write's transaction. `closing` asks the store to
/// check, under the account's lock, that it may close (zero balance, nothing pending).
#[derive(Clone, Debug)]
pub struct LedgerFlagsWrite {
    pub account_id: AccountId,
    pub flags: AccountFlags,
    pub closing: bool,
}

/// Everything one use case changes, applied in one transaction or not at all.
///
/// The parts are applied in this order, so that one write can move a key or a lookup from one record
/// to another: records; released keys; claimed keys (in key order); lookups removed; lookups added;
/// changes (their seqs in the order given); ledger accounts created; ledger flags set (so a flag may be
/// set on an account the same write creates); counters moved (in key order). An updated record keeps
/// its stored `created_at`.
#[derive(Clone, Debug, Default)]
pub struct PartyWrite {
    pub records: Vec<RecordWrite>,
    /// Keys to hold for an owner; a key already held by the same owner is left as it is.
    pub claim_keys: Vec<(PartyKey, String)>,
    /// Keys to give up; only the given owner's hold is removed.
    pub release_keys: Vec<(PartyKey, String)>,
    /// Lookups to add: (index, key, record id).
    pub add_index: Vec<(String, String, String)>,
    /// Lookups to remove.
    pub remove_index: Vec<(String, String, String)>,
    pub changes: Vec<PartyChange>,
    /// Ledger accounts to create (opening a member account).
    pub ledger_accounts: Vec<Account>,
    pub ledger_flags: Vec<LedgerFlagsWrite>,
    /// Counters to move: each an amount added to a named total in the write's own transaction, with no
    /// record read and rewritten, so that concurrent writes adding to one counter never conflict.
    pub counters: Vec<CounterAdd>,
}

/// An amount added to a named counter (created at zero): a merchant's receipts in a day, say. With a
/// `limit`, the write is refused ([`PartyConflict::CounterOverLimit`]) when the total would pass it;
/// the check and the addition are one statement, so two writes at once cannot both pass a limit that
/// has room for one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CounterAdd {
    pub key: String,
    pub amount: i64,
    pub limit: Option<i64>,
}

/// Why a write was refused as a whole. Nothing of it was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PartyConflict {
    /// The record is not at the expected version (or exists, when it was to be created).
    RecordChanged { id: String },
    /// The key is held by another owner.
    KeyTaken { key: PartyKey, owner: String },
    /// A ledger account in `ledger_flags` does not exist.
    LedgerAccountMissing { id: AccountId },
    /// A ledger account being closed may not close.
    LedgerAccountNotClosable { id: AccountId, why: AccountCloseError },
    /// A counter would pass its limit (another write added to it meanwhile).
    CounterOverLimit { key: String },
}

impl std::fmt::Display for PartyConflict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            PartyConflict::RecordChanged { id } => write!(f, "record {id} changed meanwhile"),
            PartyConflict::KeyTaken { key, owner } => {
                write!(f, "key {}:{} is held by {owner}", key.namespace, key.key)
            }
            PartyConflict::LedgerAccountMissing { id } => write!(f, "ledger account {id} does not exist"),
            PartyConflict::LedgerAccountNotClosable { id, why } => {
                write!(f, "ledger account {id} may not close: {why:?}")
            }
            PartyConflict::CounterOverLimit { key } => write!(f, "counter {key} would pass its limit"),
        }
    }
}

/// Which history rows to list: those of one record or one customer, after a cursor, oldest first.
#[derive(Clone, Debug)]
pub struct ChangeQuery {
    pub record_id: Option<String>,
    pub customer_id: Option<String>,
    pub after_seq: i64,
    pub limit: u32,
}

store_trait! {
    /// What every backend provides for the three-party records. Reads outside a write see committed
    /// data only; `party_write` is one transaction.
    pub trait PartyStore {
        /// The records with these ids that exist, read in one snapshot, in no particular order.
        fn party_records(&self, ids: &[String]) -> anyhow::Result<Vec<PartyRecord>>;
        /// A customer's records (of one kind, or all), in id order.
        fn party_records_of_customer(&self, customer_id: &str, kind: Option<&str>) -> anyhow::Result<Vec<PartyRecord>>;
        /// A page of a customer's records of one kind, in id order after `after` (through the
        /// index by customer and kind).
        fn party_records_of_customer_after(
            &self,
            customer_id: &str,
            kind: &str,
            after: Option<&str>,
            limit: u32,
        ) -> anyhow::Result<Vec<PartyRecord>>;
        /// Records of one kind in id order after `after`.
        fn party_list(&self, kind: &str, after: Option<&str>, limit: u32) -> anyhow::Result<Vec<PartyRecord>>;
        /// Who holds a unique key.
        fn party_key_owner(&self, key: &PartyKey) -> anyhow::Result<Option<String>>;
        /// The record ids filed under `key` in `index`, in id order, at most `limit`.
        fn party_index(&self, index: &str, key: &str, limit: u32) -> anyhow::Result<Vec<String>>;
        /// The record ids filed under `key` in `index` after the id `after`, in id order, at most
        /// `limit`: the next page of [`PartyStore::party_index`].
        fn party_index_after(&self, index: &str, key: &str, after: &str, limit: u32) -> anyhow::Result<Vec<String>>;
        /// Applies `write` in one transaction, or refuses all of it with the first conflict found.
        fn party_write(&self, write: &PartyWrite) -> anyhow::Result<Result<(), PartyConflict>>;
        /// A counter's total now (0 for one never moved).
        fn party_counter(&self, key: &str) -> anyhow::Result<i64>;
        /// History rows, oldest first.
        fn party_changes(&self, query: &ChangeQuery) -> anyhow::Result<Vec<PartyChange>>;
        /// Replaces the detail of history row `seq`; whether it exists. The history is otherwise
        /// never changed: this is for the sealing pass, which masks the certificate numbers that
        /// databases written before sealing kept in the clear in it.
        fn party_rewrite_change_detail(&self, seq: i64, detail: &str) -> anyhow::Result<bool>;
        /// Rewrites the party tables so that the space freed by rows deleted or replaced keeps
        /// nothing of them (SQLite: VACUUM, then a checkpoint that truncates the WAL; PostgreSQL:
        /// VACUUM FULL of the party tables, which locks them while it runs). For the sealing pass,
        /// once it has replaced certificate numbers kept in the clear.
        fn party_erase_freed_space(&self) -> anyhow::Result<()>;
    }
}

/// Checks what a write promises about itself before any backend applies it: every record's version
/// is one more than the version it was read at. A write that breaks this is a fault in the caller,
/// refused as an error rather than a conflict.
pub(crate) fn check_write(write: &PartyWrite) -> anyhow::Result<()> {
    for w in &write.records {
        anyhow::ensure!(
            w.expected_version >= 0 && w.record.version == w.expected_version + 1,
            "refusing a party write: record {} has version {} but was read at version {}",
            w.record.id,
            w.record.version,
            w.expected_version
        );
    }
    Ok(())
}

/// The write's claims in key order, on both backends: the same key is reported first when several
/// are taken, and two writes claiming the same keys on PostgreSQL take them in the same order, so the
/// second waits for the first rather than deadlocking with it.
/// The write's counters in key order, on both backends, so that two writes moving the same counters
/// on PostgreSQL lock them in one order.
pub(crate) fn counters_in_key_order(write: &PartyWrite) -> Vec<&CounterAdd> {
    let mut counters: Vec<&CounterAdd> = write.counters.iter().collect();
    counters.sort_by(|a, b| a.key.cmp(&b.key));
    counters
}

pub(crate) fn claims_in_key_order(write: &PartyWrite) -> Vec<(&PartyKey, &String)> {
    let mut claims: Vec<(&PartyKey, &String)> = write.claim_keys.iter().map(|(key, owner)| (key, owner)).collect();
    claims.sort_by(|a, b| a.0.cmp(b.0));
    claims
}

/// Why a backend stopped applying a write part way through its transaction: the write was refused
/// (the transaction is rolled back and the conflict answered), or a statement failed.
pub(crate) enum WriteStop {
    Conflict(PartyConflict),
    Failed(anyhow::Error),
}

impl From<anyhow::Error> for WriteStop {
    fn from(error: anyhow::Error) -> WriteStop {
        WriteStop::Failed(error)
    }
}

impl From<rusqlite::Error> for WriteStop {
    fn from(error: rusqlite::Error) -> WriteStop {
        WriteStop::Failed(error.into())
    }
}

impl From<tokio_postgres::Error> for WriteStop {
    fn from(error: tokio_postgres::Error) -> WriteStop {
        WriteStop::Failed(error.into())
    }
}
