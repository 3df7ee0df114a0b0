//! The batch-apply state machine: given the rows a batch touches, decide every request's result and
//! every row to write. Pure: the store loads `LedgerState`, calls [`apply_batch`], writes the outcome.

use super::account::{Account, Counters, NormalSide};
use super::result::TransferError;
use super::transfer::{Transfer, TransferAction, TransferKind, TransferRequest};
use crate::id_hash::{IdMap, IdSet};
use crate::{AccountId, Amount, Timestamp, TransferId};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum PendingStatus {
    Pending,
    Posted,
    Voided,
    Expired,
}

impl PendingStatus {
    pub fn as_i16(self) -> i16 {
        match self {
            PendingStatus::Pending => 0,
            PendingStatus::Posted => 1,
            PendingStatus::Voided => 2,
            PendingStatus::Expired => 3,
        }
    }

    pub fn from_i16(v: i16) -> Option<PendingStatus> {
        Some(match v {
            0 => PendingStatus::Pending,
            1 => PendingStatus::Posted,
            2 => PendingStatus::Voided,
            3 => PendingStatus::Expired,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            PendingStatus::Pending => "pending",
            PendingStatus::Posted => "posted",
            PendingStatus::Voided => "voided",
            PendingStatus::Expired => "expired",
        }
    }
}

/// A hold and where it stands.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PendingRecord {
    pub id: TransferId,
    pub debit_account_id: AccountId,
    pub credit_account_id: AccountId,
    pub amount: i64,
    pub status: PendingStatus,
    pub expires_at: Option<Timestamp>,
    /// Created by this batch (to insert) rather than loaded (to update).
    pub is_new: bool,
}

/// The rows a batch reads: its accounts, the stored transfers whose ids it reuses, and the holds it
/// resolves. The store fills it; `apply_batch` updates it in place.
#[derive(Default, Debug)]
pub struct LedgerState {
    pub accounts: IdMap<AccountId, Account>,
    pub transfers: IdMap<TransferId, Transfer>,
    pub pendings: IdMap<TransferId, PendingRecord>,
}

/// What the store must load before applying a batch.
#[derive(Default, Debug)]
pub struct BatchNeeds {
    /// Every request's own id: a stored transfer with it makes the request a resubmission.
    pub transfer_ids: Vec<TransferId>,
    /// Holds that requests post, void or expire. Their accounts are needed too, once loaded.
    pub pending_ids: Vec<TransferId>,
    /// Accounts named directly by requests.
    pub account_ids: Vec<AccountId>,
}

impl BatchNeeds {
    pub fn of(requests: &[TransferRequest]) -> BatchNeeds {
        let mut needs = BatchNeeds::default();
        let mut accounts = IdSet::default();
        let mut pendings = IdSet::default();
        for r in requests {
            needs.transfer_ids.push(r.id);
            match r.action {
                TransferAction::Post { debit_account_id, credit_account_id, .. }
                | TransferAction::Hold { debit_account_id, credit_account_id, .. } => {
                    accounts.insert(debit_account_id);
                    accounts.insert(credit_account_id);
                }
                TransferAction::PostPending { pending_id, .. }
                | TransferAction::VoidPending { pending_id }
                | TransferAction::ExpirePending { pending_id } => {
                    pendings.insert(pending_id);
                }
            }
        }
        needs.account_ids = accounts.into_iter().collect();
        needs.account_ids.sort();
        needs.pending_ids = pendings.into_iter().collect();
        needs.pending_ids.sort();
        needs
    }
}

/// The decisions of one batch: a result per request, in order, and the rows to write.
#[derive(Debug, Default)]
pub struct BatchOutcome {
    pub results: Vec<Result<Transfer, TransferError>>,
    /// New transfer rows, in timestamp order.
    pub inserted: Vec<Transfer>,
    /// Holds created or resolved, in their final state.
    pub pendings: Vec<PendingRecord>,
    /// Accounts that applied requests touched, with their final counters, in id order (the order the
    /// store writes them in). An account touched only by a rolled-back chain is listed unchanged.
    pub accounts: Vec<Account>,
}

/// Checks a submission before it joins a batch: a submission whose last request is linked leaves a
/// chain open. Returns the results to answer at once if the submission cannot be applied.
pub fn check_submission(requests: &[TransferRequest]) -> Option<Vec<Result<Transfer, TransferError>>> {
    // The whole submission is refused: it is a malformed request, and applying part of it would
    // surprise a caller who meant the chain to cover more.
    let last = requests.last()?;
    last.linked.then(|| requests.iter().map(|_| Err(TransferError::LinkedEventChainOpen)).collect())
}

enum Undo {
    Account(Account),
    Pending(TransferId, Option<PendingRecord>),
    Transfer(TransferId),
}

struct Applier<'a> {
    state: &'a mut LedgerState,
    clock: Timestamp,
    /// What to undo if the current linked chain fails; recorded only inside a chain, where it is
    /// needed, so that a plain transfer costs no copies.
    undo: Vec<Undo>,
    in_chain: bool,
    touched: IdSet<AccountId>,
    pendings_touched: IdSet<TransferId>,
    inserted: Vec<Transfer>,
}

/// Applies `requests` in order against `state` at time `now`. Each request succeeds or fails on its
/// own, except within a linked chain, which succeeds or fails whole: the failing request gets its own
/// error and the others `linked_event_failed`. Submissions must have passed [`check_submission`].
pub fn apply_batch(state: &mut LedgerState, requests: &[TransferRequest], now: Timestamp) -> BatchOutcome {
    #[cfg(debug_assertions)]
    let before = tripwire::Snapshot::of(state);
    // Every applied request adds a transfer; reserving at once saves growing the map step by step.
    state.transfers.reserve(requests.len());
    let mut applier = Applier {
        state,
        clock: now,
        undo: Vec::new(),
        in_chain: false,
        touched: IdSet::with_capacity_and_hasher(requests.len() * 2, Default::default()),
        pendings_touched: IdSet::default(),
        inserted: Vec::with_capacity(requests.len()),
    };
    let mut results: Vec<Result<Transfer, TransferError>> = Vec::with_capacity(requests.len());
    let mut chain_start: Option<usize> = None;
    let mut chain_failed = false;
    for (index, request) in requests.iter().enumerate() {
        if chain_start.is_none() && request.linked {
            chain_start = Some(index);
            chain_failed = false;
            applier.undo.clear();
        }
        let in_chain = chain_start.is_some();
        applier.in_chain = in_chain;
        let result =
            if in_chain && chain_failed { Err(TransferError::LinkedEventFailed) } else { applier.apply(request) };
        if in_chain && result.is_err() && !chain_failed {
            chain_failed = true;
            applier.roll_back();
            let start = chain_start.expect("in a chain");
            for earlier in &mut results[start..index] {
                *earlier = Err(TransferError::LinkedEventFailed);
            }
        }
        results.push(result);
        if in_chain && !request.linked {
            chain_start = None;
        }
    }
    let Applier { state, inserted, touched, pendings_touched, .. } = applier;
    let mut accounts: Vec<Account> = touched.iter().map(|id| state.accounts[id].clone()).collect();
    accounts.sort_by_key(|a| a.id);
    // A hold created and rolled back in a chain is gone from the state; one resolved and rolled back
    // is written back unchanged, which is harmless.
    let mut pendings: Vec<PendingRecord> =
        pendings_touched.iter().filter_map(|id| state.pendings.get(id)).cloned().collect();
    pendings.sort_by_key(|p| p.id);
    let outcome = BatchOutcome { results, inserted, pendings, accounts };
    #[cfg(debug_assertions)]
    before.check(state, requests, &outcome);
    outcome
}

impl Applier<'_> {
    fn apply(&mut self, request: &TransferRequest) -> Result<Transfer, TransferError> {
        if let Some(existing) = self.state.transfers.get(&request.id) {
            return if existing.matches(request) {
                Ok(existing.clone())
            } else {
                Err(TransferError::ExistsWithDifferentFields)
            };
        }
        match request.action {
            TransferAction::Post { debit_account_id, credit_account_id, amount, balancing } => {
                self.move_money(request, debit_account_id, credit_account_id, amount, balancing, None)
            }
            TransferAction::Hold { debit_account_id, credit_account_id, amount, balancing, timeout_s } => {
                let timeout = Some(timeout_s.unwrap_or(0));
                self.move_money(request, debit_account_id, credit_account_id, amount, balancing, timeout)
            }
            TransferAction::PostPending { pending_id, amount } => {
                self.resolve(request, pending_id, TransferKind::PostPending, amount)
            }
            TransferAction::VoidPending { pending_id } => {
                self.resolve(request, pending_id, TransferKind::VoidPending, None)
            }
            TransferAction::ExpirePending { pending_id } => {
                self.resolve(request, pending_id, TransferKind::ExpirePending, None)
            }
        }
    }

    /// A posted transfer (`hold_timeout_s` None) or a hold (Some, 0 for no timeout).
    fn move_money(
        &mut self,
        request: &TransferRequest,
        debit_id: AccountId,
        credit_id: AccountId,
        requested: Amount,
        balancing: bool,
        hold_timeout_s: Option<u32>,
    ) -> Result<Transfer, TransferError> {
        if debit_id == credit_id {
            return Err(TransferError::SameAccount);
        }
        let debit = self.state.accounts.get(&debit_id).ok_or(TransferError::AccountNotFound)?;
        let credit = self.state.accounts.get(&credit_id).ok_or(TransferError::AccountNotFound)?;
        if debit.currency != credit.currency {
            return Err(TransferError::CurrencyMismatch);
        }
        if debit.flags.closed || credit.flags.closed {
            return Err(TransferError::AccountClosed);
        }
        if debit.flags.debits_blocked {
            return Err(TransferError::DebitsBlocked);
        }
        if credit.flags.credits_blocked {
            return Err(TransferError::CreditsBlocked);
        }
        let mut amount = requested.get();
        if balancing && debit.normal_side == NormalSide::Credit {
            // At most what the account holds: "withdraw everything" never draws on an overdraft.
            amount = amount.min(debit.available().max(0));
        }
        if amount == 0 {
            return Err(TransferError::InsufficientFunds);
        }
        if let Some(headroom) = debit.debit_headroom() {
            if amount > headroom {
                return Err(TransferError::InsufficientFunds);
            }
        }
        if let Some(headroom) = credit.credit_headroom() {
            if amount > headroom {
                return Err(TransferError::InsufficientFunds);
            }
        }
        let mut debit_after = debit.counters;
        let mut credit_after = credit.counters;
        if hold_timeout_s.is_some() {
            debit_after.debits_pending = add(debit_after.debits_pending, amount)?;
            credit_after.credits_pending = add(credit_after.credits_pending, amount)?;
        } else {
            debit_after.debits_posted = add(debit_after.debits_posted, amount)?;
            credit_after.credits_posted = add(credit_after.credits_posted, amount)?;
        }
        // Totals must fit too, so that balances and sums over counters never overflow downstream.
        check_total(&debit_after)?;
        check_total(&credit_after)?;
        let timestamp = self.next_timestamp(debit_id, credit_id);
        let expires_at = match hold_timeout_s {
            Some(t) if t > 0 => Some(timestamp.add_seconds(t).ok_or(TransferError::Overflow)?),
            _ => None,
        };
        let transfer = Transfer {
            id: request.id,
            kind: if hold_timeout_s.is_some() { TransferKind::Pending } else { TransferKind::Posted },
            debit_account_id: debit_id,
            credit_account_id: credit_id,
            amount,
            pending_id: None,
            timeout_s: hold_timeout_s.unwrap_or(0),
            linked: request.linked,
            balancing,
            requested_amount: requested.get(),
            code: request.code.clone(),
            reference: request.reference.clone(),
            metadata: request.metadata.clone(),
            timestamp,
            debit_account_after: debit_after,
            credit_account_after: credit_after,
        };
        if hold_timeout_s.is_some() {
            self.set_pending(PendingRecord {
                id: request.id,
                debit_account_id: debit_id,
                credit_account_id: credit_id,
                amount,
                status: PendingStatus::Pending,
                expires_at,
                is_new: true,
            });
        }
        self.commit(transfer, debit_after, credit_after)
    }

    /// Posts, voids or expires a hold.
    fn resolve(
        &mut self,
        request: &TransferRequest,
        pending_id: TransferId,
        kind: TransferKind,
        post_amount: Option<Amount>,
    ) -> Result<Transfer, TransferError> {
        let pending = self.state.pendings.get(&pending_id).ok_or(TransferError::PendingNotFound)?.clone();
        match pending.status {
            PendingStatus::Pending => {}
            PendingStatus::Posted => return Err(TransferError::PendingAlreadyPosted),
            PendingStatus::Voided => return Err(TransferError::PendingAlreadyVoided),
            PendingStatus::Expired => return Err(TransferError::PendingExpired),
        }
        let debit = self.state.accounts.get(&pending.debit_account_id).ok_or(TransferError::AccountNotFound)?;
        let credit = self.state.accounts.get(&pending.credit_account_id).ok_or(TransferError::AccountNotFound)?;
        let timestamp_floor = self.peek_timestamp(debit, credit);
        let due = pending.expires_at.is_some_and(|at| at <= timestamp_floor);
        if kind == TransferKind::ExpirePending {
            if !due {
                // Only the expiry job asks for this, and only for holds it found due.
                return Err(TransferError::PendingNotFound);
            }
        } else if due {
            return Err(TransferError::PendingExpired);
        }
        let posted = match (kind, post_amount) {
            (TransferKind::PostPending, Some(a)) if a.get() > pending.amount => {
                return Err(TransferError::AmountExceedsPending)
            }
            (TransferKind::PostPending, Some(a)) => a.get(),
            (TransferKind::PostPending, None) => pending.amount,
            _ => 0,
        };
        if posted > 0 {
            if debit.flags.debits_blocked {
                return Err(TransferError::DebitsBlocked);
            }
            if credit.flags.credits_blocked {
                return Err(TransferError::CreditsBlocked);
            }
        }
        let mut debit_after = debit.counters;
        let mut credit_after = credit.counters;
        debit_after.debits_pending -= pending.amount;
        credit_after.credits_pending -= pending.amount;
        debit_after.debits_posted = add(debit_after.debits_posted, posted)?;
        credit_after.credits_posted = add(credit_after.credits_posted, posted)?;
        check_total(&debit_after)?;
        check_total(&credit_after)?;
        let timestamp = self.next_timestamp(pending.debit_account_id, pending.credit_account_id);
        let status = match kind {
            TransferKind::PostPending => PendingStatus::Posted,
            TransferKind::VoidPending => PendingStatus::Voided,
            _ => PendingStatus::Expired,
        };
        let transfer = Transfer {
            id: request.id,
            kind,
            debit_account_id: pending.debit_account_id,
            credit_account_id: pending.credit_account_id,
            amount: if kind == TransferKind::PostPending { posted } else { pending.amount },
            pending_id: Some(pending_id),
            timeout_s: 0,
            linked: request.linked,
            balancing: false,
            requested_amount: post_amount.map_or(0, Amount::get),
            code: request.code.clone(),
            reference: request.reference.clone(),
            metadata: request.metadata.clone(),
            timestamp,
            debit_account_after: debit_after,
            credit_account_after: credit_after,
        };
        self.set_pending(PendingRecord { status, ..pending });
        self.commit(transfer, debit_after, credit_after)
    }

    /// The timestamp the next transfer between these accounts would get.
    fn peek_timestamp(&self, debit: &Account, credit: &Account) -> Timestamp {
        let floor = debit.last_transfer_at.max(credit.last_transfer_at).nanos() + 1;
        Timestamp((self.clock.nanos() + 1).max(floor))
    }

    fn next_timestamp(&mut self, debit_id: AccountId, credit_id: AccountId) -> Timestamp {
        let t = self.peek_timestamp(&self.state.accounts[&debit_id], &self.state.accounts[&credit_id]);
        self.clock = t;
        t
    }

    fn set_pending(&mut self, record: PendingRecord) {
        let previous = self.state.pendings.insert(record.id, record.clone());
        self.pendings_touched.insert(record.id);
        if self.in_chain {
            self.undo.push(Undo::Pending(record.id, previous));
        }
    }

    fn commit(
        &mut self,
        transfer: Transfer,
        debit_after: Counters,
        credit_after: Counters,
    ) -> Result<Transfer, TransferError> {
        for (id, counters) in [(transfer.debit_account_id, debit_after), (transfer.credit_account_id, credit_after)] {
            let account = self.state.accounts.get_mut(&id).expect("loaded");
            if self.in_chain {
                self.undo.push(Undo::Account(account.clone()));
            }
            account.counters = counters;
            account.last_transfer_at = transfer.timestamp;
            self.touched.insert(id);
        }
        if self.in_chain {
            self.undo.push(Undo::Transfer(transfer.id));
        }
        self.state.transfers.insert(transfer.id, transfer.clone());
        self.inserted.push(transfer.clone());
        Ok(transfer)
    }

    /// Undoes everything applied since the chain began.
    fn roll_back(&mut self) {
        while let Some(undo) = self.undo.pop() {
            match undo {
                Undo::Account(previous) => {
                    self.state.accounts.insert(previous.id, previous);
                }
                Undo::Pending(id, Some(previous)) => {
                    self.state.pendings.insert(id, previous);
                }
                Undo::Pending(id, None) => {
                    self.state.pendings.remove(&id);
                }
                Undo::Transfer(id) => {
                    self.state.transfers.remove(&id);
                    let position = self.inserted.iter().rposition(|t| t.id == id).expect("inserted");
                    self.inserted.remove(position);
                }
            }
        }
    }
}

fn add(a: i64, b: i64) -> Result<i64, TransferError> {
    a.checked_add(b).ok_or(TransferError::Overflow)
}

fn check_total(c: &Counters) -> Result<(), TransferError> {
    add(c.debits_pending, c.debits_posted)?;
    add(c.credits_pending, c.credits_posted)?;
    Ok(())
}

/// Tripwires where money is decided, in debug and test builds: after every batch, each account's
/// counters equal its counters before plus the batch's transfers, no counter is negative, no hold is
/// posted for more than it held, the batch moved as much into credits as into debits, and every linked
/// chain was applied whole or not at all. The model tests catch much of this from outside; a tripwire
/// fails at the spot, on every batch any test makes, store and service tests included.
#[cfg(debug_assertions)]
mod tripwire {
    use super::*;

    pub(super) struct Snapshot {
        counters: IdMap<AccountId, Counters>,
        /// Each known hold's amount, for the holds posted, voided or expired in the batch.
        hold_amounts: IdMap<TransferId, i64>,
    }

    impl Snapshot {
        pub(super) fn of(state: &LedgerState) -> Snapshot {
            Snapshot {
                counters: state.accounts.iter().map(|(id, a)| (*id, a.counters)).collect(),
                hold_amounts: state.pendings.iter().map(|(id, p)| (*id, p.amount)).collect(),
            }
        }

        pub(super) fn check(self, state: &LedgerState, requests: &[TransferRequest], outcome: &BatchOutcome) {
            assert_eq!(outcome.results.len(), requests.len(), "one result a request");
            let mut expected = self.counters;
            let mut hold_amounts = self.hold_amounts;
            let (mut debited, mut credited) = ([0i128; 2], [0i128; 2]);
            for transfer in &outcome.inserted {
                let (posted, pending) = match transfer.kind {
                    TransferKind::Posted => (transfer.amount, 0),
                    TransferKind::Pending => {
                        hold_amounts.insert(transfer.id, transfer.amount);
                        (0, transfer.amount)
                    }
                    TransferKind::PostPending | TransferKind::VoidPending | TransferKind::ExpirePending => {
                        let pending_id = transfer.pending_id.expect("a resolution names its hold");
                        let held = *hold_amounts.get(&pending_id).expect("a resolved hold was loaded or made");
                        let posted = if transfer.kind == TransferKind::PostPending { transfer.amount } else { 0 };
                        assert!(posted <= held, "hold {pending_id} posted {posted}, more than its {held}");
                        (posted, -held)
                    }
                };
                let debit = expected.get_mut(&transfer.debit_account_id).expect("the debit account was loaded");
                debit.debits_posted += posted;
                debit.debits_pending += pending;
                let credit = expected.get_mut(&transfer.credit_account_id).expect("the credit account was loaded");
                credit.credits_posted += posted;
                credit.credits_pending += pending;
                debited[0] += i128::from(posted);
                debited[1] += i128::from(pending);
                credited[0] += i128::from(posted);
                credited[1] += i128::from(pending);
            }
            assert_eq!(debited, credited, "a batch moves as much into credits as into debits");
            for (id, account) in state.accounts.iter() {
                let c = account.counters;
                assert_eq!(
                    c, expected[id],
                    "account {id}: counters after the batch are not those before plus its transfers"
                );
                assert!(
                    c.debits_pending >= 0 && c.debits_posted >= 0 && c.credits_pending >= 0 && c.credits_posted >= 0,
                    "account {id}: a negative counter {c:?}"
                );
            }
            for account in &outcome.accounts {
                assert_eq!(account.counters, state.accounts[&account.id].counters, "the outcome lists final counters");
            }
            let mut start = 0;
            for (index, request) in requests.iter().enumerate() {
                if request.linked {
                    continue;
                }
                let chain = &outcome.results[start..=index];
                let applied = chain.iter().filter(|r| r.is_ok()).count();
                assert!(
                    applied == 0 || applied == chain.len(),
                    "a linked chain of {} was applied in part ({applied})",
                    chain.len()
                );
                start = index + 1;
            }
        }
    }
}
