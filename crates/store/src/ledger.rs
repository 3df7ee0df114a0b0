//! The ledger: accounts, transfers, holds and each account's entries.
//!
//! Architecture invariant: the store decides nothing about money. It loads the rows a batch needs,
//! hands them to `sanhu_core::ledger::apply_batch`, and writes the outcome in one transaction; every
//! rule lives in core. What it does own is durability (a batch is on disk before `commit_batch`
//! returns) and isolation (two writers never apply to the same account at once).

use sanhu_core::ledger::{Account, Counters, PendingRecord, Transfer, TransferError, TransferRequest};
use sanhu_core::{AccountId, Timestamp, TransferId};

store_trait! {
    /// What every backend provides for the ledger. All methods are cancel-safe at the transaction
    /// boundary: a dropped future leaves nothing half-written.
    pub trait LedgerStore {
        fn create_account(&self, account: &Account) -> anyhow::Result<()>;
        /// Creates many accounts in one transaction (bulk set-up: benchmarks, imports).
        fn create_accounts(&self, accounts: &[Account]) -> anyhow::Result<()>;
        fn get_account(&self, id: AccountId) -> anyhow::Result<Option<Account>>;
        /// Accounts in id order after `after`.
        fn list_accounts(&self, after: Option<AccountId>, limit: u32) -> anyhow::Result<Vec<Account>>;
        /// Several accounts read in one snapshot, so that their balances are consistent with each
        /// other.
        fn get_accounts(&self, ids: &[AccountId]) -> anyhow::Result<Vec<Account>>;
        /// Changes an account's flags under its row lock; `change` sees the current account and
        /// returns the new flags or a refusal. Returns None if the account does not exist.
        fn update_account_flags<E: Send + 'static>(
            &self,
            id: AccountId,
            change: FlagChange<E>,
        ) -> anyhow::Result<Option<Result<Account, E>>>;

        /// Applies a batch of transfer requests in one transaction and one fsync. Each result is in
        /// the order of `requests`. Submissions in the batch must have passed `check_submission`.
        fn commit_batch(
            &self,
            requests: Vec<TransferRequest>,
            now: Timestamp,
        ) -> anyhow::Result<Vec<Result<Transfer, TransferError>>>;

        fn get_transfer(&self, id: TransferId) -> anyhow::Result<Option<Transfer>>;
        fn transfers_by_reference(&self, reference: &str, limit: u32) -> anyhow::Result<Vec<Transfer>>;
        /// The hold's current status, for a pending transfer.
        fn pending_status(&self, id: TransferId) -> anyhow::Result<Option<PendingRecord>>;
        /// An account's entries (the transfers that touched it) in timestamp order.
        fn account_entries(&self, query: &EntryQuery) -> anyhow::Result<Vec<Transfer>>;
        /// An account's counters just after the last transfer at or before `at` (zeros before its
        /// first).
        fn counters_at(&self, id: AccountId, at: Timestamp) -> anyhow::Result<Counters>;
        /// Holds whose timeout has passed by `now`, oldest first.
        fn due_pendings(&self, now: Timestamp, limit: u32) -> anyhow::Result<Vec<TransferId>>;
        /// Recomputes every account's counters from its transfers and checks each currency
        /// balances.
        fn verify(&self) -> anyhow::Result<VerifyReport>;
        /// What the posted transfers (and posted holds) with a timestamp in `[from, to)` moved, by
        /// code and by `bucket_s`-second span of time: statistics. SQLite finds the span's first
        /// and last transfer by their sequence (appended in timestamp order) and reads those only;
        /// PostgreSQL has no index by time on the journal, so it reads the journal filtered by
        /// timestamp.
        fn transfer_totals(&self, from: Timestamp, to: Timestamp, bucket_s: u32) -> anyhow::Result<Vec<TransferTotal>>;
    }
}

/// A change of an account's flags, decided under the account's row lock.
pub type FlagChange<E> = Box<dyn FnOnce(&Account) -> Result<sanhu_core::ledger::AccountFlags, E> + Send>;

/// Which entries of an account to list: timestamps in `[from, to)`, after the cursor `after`
/// (a timestamp, exclusive), oldest first, at most `limit`.
#[derive(Clone, Debug)]
pub struct EntryQuery {
    pub account_id: AccountId,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub after: Option<Timestamp>,
    pub limit: u32,
}

/// What moved under one transfer code in one span of time ([`LedgerStore::transfer_totals`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransferTotal {
    pub code: String,
    /// The span's start: a multiple of its length since the Unix epoch.
    pub bucket_start: Timestamp,
    /// How many orders moved money of the code for the first time in the span `[from, to)` in this
    /// bucket: an order moved in several transfers is one, counted in the bucket of its first (a
    /// transfer without a reference is one of its own). An order is its reference (its number): the
    /// journal keeps no API client, so two clients' orders of one number are one here.
    pub count: i64,
    /// The money the bucket's transfers moved.
    pub amount: i64,
}

/// What `verify` found. Empty `problems` means the ledger is consistent.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub accounts_checked: u64,
    pub transfers_checked: u64,
    pub problems: Vec<String>,
}

/// The accounts a batch must load, sorted and without repeats: those its requests name, and those of
/// the holds it resolves. Both backends lock and load in this order.
pub fn pending_account_ids(pendings: &[PendingRecord], mut account_ids: Vec<AccountId>) -> Vec<AccountId> {
    for p in pendings {
        account_ids.push(p.debit_account_id);
        account_ids.push(p.credit_account_id);
    }
    account_ids.sort();
    account_ids.dedup();
    account_ids
}

/// Checks a batch's outcome before it is written (TigerBeetle's "assert before you write"): no counter
/// is negative, and the last transfer that touched each account records exactly the account's final
/// counters, so what is written is consistent with itself. A failure aborts the batch.
pub fn assert_batch_balances(outcome: &sanhu_core::ledger::BatchOutcome) -> anyhow::Result<()> {
    let mut last: sanhu_core::id_hash::IdMap<AccountId, Counters> =
        sanhu_core::id_hash::IdMap::with_capacity_and_hasher(outcome.accounts.len(), Default::default());
    for t in &outcome.inserted {
        last.insert(t.debit_account_id, t.debit_account_after);
        last.insert(t.credit_account_id, t.credit_account_after);
    }
    for account in &outcome.accounts {
        let c = &account.counters;
        anyhow::ensure!(
            c.debits_pending >= 0 && c.debits_posted >= 0 && c.credits_pending >= 0 && c.credits_posted >= 0,
            "refusing to write a batch: account {} would have a negative counter {:?}",
            account.id,
            c
        );
        if let Some(recorded) = last.get(&account.id) {
            anyhow::ensure!(
                recorded == c,
                "refusing to write a batch: account {} ends at {:?} but its last entry records {:?}",
                account.id,
                c,
                recorded
            );
        }
    }
    Ok(())
}
