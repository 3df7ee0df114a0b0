//! A reference model for tests: the ledger's rules written as plainly as possible, independently of
//! [`apply_batch`](super::apply_batch)'s implementation, and a seeded generator of random batches to
//! run against both. It is small and pure, so it is compiled always and the stores' tests can drive a
//! real store with the same generator and compare it with the same model.
//!
//! The model keeps every account, transfer and hold in memory. It applies a linked chain (a single
//! request is a chain of one) to a copy of itself and keeps the copy only if every request of the
//! chain succeeded. Its arithmetic is done in `i128`, so it cannot overflow where the ledger must
//! refuse to.

use std::collections::BTreeMap;
use std::sync::Arc;

use super::{
    Account, AccountFlags, BalanceLimit, Counters, NormalSide, PendingStatus, Transfer, TransferAction, TransferError,
    TransferKind, TransferRequest,
};
use crate::{AccountId, Amount, Currency, Timestamp, TransferId};

const NANOS_PER_SECOND: i64 = 1_000_000_000;

/// A hold as the model tracks it.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Hold {
    pub id: TransferId,
    pub debit_account_id: AccountId,
    pub credit_account_id: AccountId,
    pub amount: i64,
    pub status: PendingStatus,
    pub expires_at: Option<Timestamp>,
}

/// An applied transfer and the request that made it, for answering resubmissions.
#[derive(Debug)]
pub struct Stored {
    pub request: TransferRequest,
    pub transfer: Transfer,
}

/// The reference ledger.
#[derive(Clone, Default, Debug)]
pub struct Model {
    pub accounts: BTreeMap<AccountId, Account>,
    /// Every applied transfer. Shared, so that copying the model for a chain stays cheap.
    pub transfers: BTreeMap<TransferId, Arc<Stored>>,
    pub holds: BTreeMap<TransferId, Hold>,
}

/// The four counters, wide enough that no sum of them overflows.
#[derive(Clone, Copy)]
struct Wide {
    debits_pending: i128,
    debits_posted: i128,
    credits_pending: i128,
    credits_posted: i128,
}

impl Wide {
    fn of(c: Counters) -> Wide {
        Wide {
            debits_pending: c.debits_pending as i128,
            debits_posted: c.debits_posted as i128,
            credits_pending: c.credits_pending as i128,
            credits_posted: c.credits_posted as i128,
        }
    }

    /// The counters if they, and the totals of pending and posted on each side, fit in an i64.
    fn narrow(self) -> Option<Counters> {
        let max = i64::MAX as i128;
        let fits = [self.debits_pending, self.debits_posted, self.credits_pending, self.credits_posted]
            .iter()
            .all(|v| (0..=max).contains(v))
            && self.debits_pending + self.debits_posted <= max
            && self.credits_pending + self.credits_posted <= max;
        fits.then_some(Counters {
            debits_pending: self.debits_pending as i64,
            debits_posted: self.debits_posted as i64,
            credits_pending: self.credits_pending as i64,
            credits_posted: self.credits_posted as i64,
        })
    }

    /// Posted balance on `side`, less what pending transfers hold against that side.
    fn available(self, side: NormalSide) -> i128 {
        match side {
            NormalSide::Credit => self.credits_posted - self.debits_posted - self.debits_pending,
            NormalSide::Debit => self.debits_posted - self.credits_posted - self.credits_pending,
        }
    }
}

/// How far below zero the account's available balance may go, if it is limited.
fn overdraft(a: &Account) -> Option<i128> {
    match a.limit {
        BalanceLimit::Unlimited => None,
        BalanceLimit::Floor(n) => Some(n as i128),
    }
}

/// Whether the account, limited on the side that shrinks its balance, would stay within its limit
/// with counters `after`. A credit-normal account shrinks by debits, a debit-normal one by credits.
fn within_limit(a: &Account, after: Wide) -> bool {
    overdraft(a).is_none_or(|n| after.available(a.normal_side) >= -n)
}

/// Two requests ask for the same thing (a hold with a zero timeout has none).
fn same_request(a: &TransferRequest, b: &TransferRequest) -> bool {
    fn normal(r: &TransferRequest) -> TransferRequest {
        let mut r = r.clone();
        if let TransferAction::Hold { timeout_s, .. } = &mut r.action {
            if *timeout_s == Some(0) {
                *timeout_s = None;
            }
        }
        r
    }
    normal(a) == normal(b)
}

impl Model {
    pub fn new(accounts: impl IntoIterator<Item = Account>) -> Model {
        Model { accounts: accounts.into_iter().map(|a| (a.id, a)).collect(), ..Model::default() }
    }

    /// Changes an account's flags, as the account service would between batches.
    pub fn set_flags(&mut self, id: AccountId, flags: AccountFlags) {
        self.accounts.get_mut(&id).expect("a known account").flags = flags;
    }

    /// Holds still pending whose expiry is at or before `now`: what the expiry job would expire.
    pub fn due_holds(&self, now: Timestamp) -> Vec<TransferId> {
        self.holds
            .values()
            .filter(|h| h.status == PendingStatus::Pending && h.expires_at.is_some_and(|at| at <= now))
            .map(|h| h.id)
            .collect()
    }

    /// The answer to a submission that cannot join a batch: one whose last request is linked.
    pub fn check_submission(requests: &[TransferRequest]) -> Option<Vec<Result<Transfer, TransferError>>> {
        match requests.last() {
            Some(last) if last.linked => Some(vec![Err(TransferError::LinkedEventChainOpen); requests.len()]),
            _ => None,
        }
    }

    /// Applies a batch at `now`: one result per request, in order. Every submission in it has passed
    /// [`Model::check_submission`].
    pub fn apply_batch(
        &mut self,
        requests: &[TransferRequest],
        now: Timestamp,
    ) -> Vec<Result<Transfer, TransferError>> {
        // The last timestamp given out. A transfer is timestamped after it and after both accounts'
        // last transfers. Timestamps are never given out twice, not even a rolled-back chain's.
        let mut clock = now;
        let mut results = Vec::with_capacity(requests.len());
        let mut chain = Vec::new();
        for request in requests {
            chain.push(request);
            if !request.linked {
                results.extend(self.apply_chain(&chain, &mut clock));
                chain.clear();
            }
        }
        assert!(chain.is_empty(), "a batch must not end in an open chain");
        results
    }

    fn apply_chain(
        &mut self,
        chain: &[&TransferRequest],
        clock: &mut Timestamp,
    ) -> Vec<Result<Transfer, TransferError>> {
        let mut copy = self.clone();
        let mut results = Vec::with_capacity(chain.len());
        for (i, request) in chain.iter().enumerate() {
            match copy.apply_one(request, clock) {
                Ok(t) => results.push(Ok(t)),
                Err(e) => {
                    // Nothing of the chain applies; `self` is untouched.
                    let mut results = vec![Err(TransferError::LinkedEventFailed); chain.len()];
                    results[i] = Err(e);
                    return results;
                }
            }
        }
        *self = copy;
        results
    }

    /// Applies one request. On error the model may be left half-changed: callers discard the copy.
    fn apply_one(&mut self, r: &TransferRequest, clock: &mut Timestamp) -> Result<Transfer, TransferError> {
        if let Some(stored) = self.transfers.get(&r.id) {
            return if same_request(&stored.request, r) {
                Ok(stored.transfer.clone())
            } else {
                Err(TransferError::ExistsWithDifferentFields)
            };
        }
        let transfer = match r.action {
            TransferAction::Post { debit_account_id, credit_account_id, amount, balancing } => {
                self.move_money(r, debit_account_id, credit_account_id, amount, balancing, None, clock)?
            }
            TransferAction::Hold { debit_account_id, credit_account_id, amount, balancing, timeout_s } => self
                .move_money(
                    r,
                    debit_account_id,
                    credit_account_id,
                    amount,
                    balancing,
                    Some(timeout_s.unwrap_or(0)),
                    clock,
                )?,
            TransferAction::PostPending { pending_id, amount } => {
                self.resolve(r, pending_id, TransferKind::PostPending, amount, clock)?
            }
            TransferAction::VoidPending { pending_id } => {
                self.resolve(r, pending_id, TransferKind::VoidPending, None, clock)?
            }
            TransferAction::ExpirePending { pending_id } => {
                self.resolve(r, pending_id, TransferKind::ExpirePending, None, clock)?
            }
        };
        for (id, after) in [
            (transfer.debit_account_id, transfer.debit_account_after),
            (transfer.credit_account_id, transfer.credit_account_after),
        ] {
            let account = self.accounts.get_mut(&id).expect("checked");
            account.counters = after;
            account.last_transfer_at = transfer.timestamp;
        }
        self.transfers.insert(r.id, Arc::new(Stored { request: r.clone(), transfer: transfer.clone() }));
        Ok(transfer)
    }

    /// The timestamp a transfer between these accounts gets now.
    fn next_timestamp(&self, clock: Timestamp, debit: AccountId, credit: AccountId) -> Timestamp {
        let latest = clock.max(self.accounts[&debit].last_transfer_at).max(self.accounts[&credit].last_transfer_at);
        Timestamp(latest.nanos() + 1)
    }

    #[allow(clippy::too_many_arguments)]
    fn move_money(
        &mut self,
        r: &TransferRequest,
        debit_id: AccountId,
        credit_id: AccountId,
        requested: Amount,
        balancing: bool,
        hold_timeout_s: Option<u32>,
        clock: &mut Timestamp,
    ) -> Result<Transfer, TransferError> {
        use TransferError::*;
        if debit_id == credit_id {
            return Err(SameAccount);
        }
        let (Some(debit), Some(credit)) = (self.accounts.get(&debit_id), self.accounts.get(&credit_id)) else {
            return Err(AccountNotFound);
        };
        if debit.currency != credit.currency {
            return Err(CurrencyMismatch);
        }
        if debit.flags.closed || credit.flags.closed {
            return Err(AccountClosed);
        }
        if debit.flags.debits_blocked {
            return Err(DebitsBlocked);
        }
        if credit.flags.credits_blocked {
            return Err(CreditsBlocked);
        }
        let before = Wide::of(debit.counters);
        let mut amount = requested.get() as i128;
        if balancing && debit.normal_side == NormalSide::Credit {
            // At most the available balance, whatever the overdraft.
            amount = amount.min(before.available(NormalSide::Credit).max(0));
        }
        if amount == 0 {
            return Err(InsufficientFunds);
        }
        let (mut debit_after, mut credit_after) = (Wide::of(debit.counters), Wide::of(credit.counters));
        if hold_timeout_s.is_some() {
            debit_after.debits_pending += amount;
            credit_after.credits_pending += amount;
        } else {
            debit_after.debits_posted += amount;
            credit_after.credits_posted += amount;
        }
        // A debit shrinks only a credit-normal account's balance, a credit only a debit-normal one's.
        let debit_shrinks = debit.normal_side == NormalSide::Credit;
        let credit_shrinks = credit.normal_side == NormalSide::Debit;
        if (debit_shrinks && !within_limit(debit, debit_after))
            || (credit_shrinks && !within_limit(credit, credit_after))
        {
            return Err(InsufficientFunds);
        }
        let (Some(debit_after), Some(credit_after)) = (debit_after.narrow(), credit_after.narrow()) else {
            return Err(Overflow);
        };
        let timestamp = self.next_timestamp(*clock, debit_id, credit_id);
        *clock = timestamp;
        let amount = amount as i64;
        if let Some(timeout_s) = hold_timeout_s {
            let expires_at =
                (timeout_s > 0).then(|| Timestamp(timestamp.nanos() + timeout_s as i64 * NANOS_PER_SECOND));
            let hold = Hold {
                id: r.id,
                debit_account_id: debit_id,
                credit_account_id: credit_id,
                amount,
                status: PendingStatus::Pending,
                expires_at,
            };
            self.holds.insert(r.id, hold);
        }
        Ok(Transfer {
            id: r.id,
            kind: if hold_timeout_s.is_some() { TransferKind::Pending } else { TransferKind::Posted },
            debit_account_id: debit_id,
            credit_account_id: credit_id,
            amount,
            pending_id: None,
            timeout_s: hold_timeout_s.unwrap_or(0),
            linked: r.linked,
            balancing,
            requested_amount: requested.get(),
            code: r.code.clone(),
            reference: r.reference.clone(),
            metadata: r.metadata.clone(),
            timestamp,
            debit_account_after: debit_after,
            credit_account_after: credit_after,
        })
    }

    fn resolve(
        &mut self,
        r: &TransferRequest,
        pending_id: TransferId,
        kind: TransferKind,
        post_amount: Option<Amount>,
        clock: &mut Timestamp,
    ) -> Result<Transfer, TransferError> {
        use TransferError::*;
        let hold = self.holds.get(&pending_id).ok_or(PendingNotFound)?.clone();
        match hold.status {
            PendingStatus::Pending => {}
            PendingStatus::Posted => return Err(PendingAlreadyPosted),
            PendingStatus::Voided => return Err(PendingAlreadyVoided),
            PendingStatus::Expired => return Err(PendingExpired),
        }
        let (Some(debit), Some(credit)) =
            (self.accounts.get(&hold.debit_account_id), self.accounts.get(&hold.credit_account_id))
        else {
            return Err(AccountNotFound);
        };
        // A hold is due when the transfer resolving it would be timestamped at or after its expiry.
        let timestamp = self.next_timestamp(*clock, hold.debit_account_id, hold.credit_account_id);
        let due = hold.expires_at.is_some_and(|at| at <= timestamp);
        match kind {
            // Only the expiry job expires holds, and only due ones; others it cannot find.
            TransferKind::ExpirePending if !due => return Err(PendingNotFound),
            TransferKind::PostPending | TransferKind::VoidPending if due => return Err(PendingExpired),
            _ => {}
        }
        let posted = match kind {
            TransferKind::PostPending => post_amount.map_or(hold.amount, Amount::get),
            _ => 0,
        };
        if posted > hold.amount {
            return Err(AmountExceedsPending);
        }
        if posted > 0 && debit.flags.debits_blocked {
            return Err(DebitsBlocked);
        }
        if posted > 0 && credit.flags.credits_blocked {
            return Err(CreditsBlocked);
        }
        let (mut debit_after, mut credit_after) = (Wide::of(debit.counters), Wide::of(credit.counters));
        debit_after.debits_pending -= hold.amount as i128;
        credit_after.credits_pending -= hold.amount as i128;
        debit_after.debits_posted += posted as i128;
        credit_after.credits_posted += posted as i128;
        let (Some(debit_after), Some(credit_after)) = (debit_after.narrow(), credit_after.narrow()) else {
            return Err(Overflow);
        };
        *clock = timestamp;
        let status = match kind {
            TransferKind::PostPending => PendingStatus::Posted,
            TransferKind::VoidPending => PendingStatus::Voided,
            _ => PendingStatus::Expired,
        };
        self.holds.get_mut(&pending_id).expect("found above").status = status;
        Ok(Transfer {
            id: r.id,
            kind,
            debit_account_id: hold.debit_account_id,
            credit_account_id: hold.credit_account_id,
            amount: if kind == TransferKind::PostPending { posted } else { hold.amount },
            pending_id: Some(pending_id),
            timeout_s: 0,
            linked: r.linked,
            balancing: false,
            requested_amount: post_amount.map_or(0, Amount::get),
            code: r.code.clone(),
            reference: r.reference.clone(),
            metadata: r.metadata.clone(),
            timestamp,
            debit_account_after: debit_after,
            credit_account_after: credit_after,
        })
    }
}

/// Checks the ledger's invariants over every account: per currency, posted debits equal posted
/// credits and pending debits equal pending credits; no counter is negative; every limited account is
/// within its limit.
pub fn check_invariants<'a>(accounts: impl IntoIterator<Item = &'a Account>) -> Result<(), String> {
    let mut sums: BTreeMap<Currency, [i128; 4]> = BTreeMap::new();
    for a in accounts {
        let c = a.counters;
        if [c.debits_pending, c.debits_posted, c.credits_pending, c.credits_posted].iter().any(|v| *v < 0) {
            return Err(format!("account {} has a negative counter: {c:?}", a.id));
        }
        if !within_limit(a, Wide::of(c)) {
            return Err(format!("account {} is beyond its limit {:?}: {c:?}", a.id, a.limit));
        }
        let s = sums.entry(a.currency).or_default();
        s[0] += c.debits_pending as i128;
        s[1] += c.debits_posted as i128;
        s[2] += c.credits_pending as i128;
        s[3] += c.credits_posted as i128;
    }
    for (currency, [debits_pending, debits_posted, credits_pending, credits_posted]) in sums {
        if debits_posted != credits_posted || debits_pending != credits_pending {
            return Err(format!(
                "{currency}: posted debits {debits_posted} vs credits {credits_posted}, \
                 pending debits {debits_pending} vs credits {credits_pending}"
            ));
        }
    }
    Ok(())
}

/// Checks that each account's pending counters are the sum of its holds still pending.
pub fn check_pending_counters<'a>(
    accounts: impl IntoIterator<Item = &'a Account>,
    holds: impl IntoIterator<Item = (AccountId, AccountId, i64, PendingStatus)>,
) -> Result<(), String> {
    let mut held: BTreeMap<AccountId, (i128, i128)> = BTreeMap::new();
    for (debit, credit, amount, status) in holds {
        if status == PendingStatus::Pending {
            held.entry(debit).or_default().0 += amount as i128;
            held.entry(credit).or_default().1 += amount as i128;
        }
    }
    for a in accounts {
        let (debits, credits) = held.remove(&a.id).unwrap_or_default();
        if (a.counters.debits_pending as i128, a.counters.credits_pending as i128) != (debits, credits) {
            return Err(format!(
                "account {} has pending counters {:?} but holds of {debits}/{credits}",
                a.id, a.counters
            ));
        }
    }
    match held.into_keys().next() {
        Some(id) => Err(format!("a hold names account {id}, which does not exist")),
        None => Ok(()),
    }
}

/// SplitMix64: a tiny, good-enough, seeded pseudo-random generator.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo) as u64 + 1) as i64
    }

    /// True with probability `percent`/100.
    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// Generates random but reproducible ledger activity: accounts of two currencies with assorted limits
/// and flags, then batches of submissions mixing posts, holds with and without timeouts, posts in
/// full and in part, voids, expiries, balancing debits, linked chains (some with a failing member),
/// resubmissions (identical, or with a field changed), unknown accounts and holds, and open chains.
pub struct Generator {
    pub rng: Rng,
    next_id: u128,
    accounts: Vec<AccountId>,
    /// The accounts that are not closed.
    open: Vec<AccountId>,
    /// Ids of the funding accounts, which debits favour so that wallets have money to move.
    funders: Vec<AccountId>,
    /// Every hold requested, applied or not.
    holds: Vec<(TransferId, i64)>,
    /// Every submission generated, for resubmitting.
    submissions: Vec<Vec<TransferRequest>>,
}

/// First id of accounts that do not exist.
const UNKNOWN_ACCOUNT: u128 = 1_000_000;
/// First id of holds that do not exist.
const UNKNOWN_TRANSFER: u128 = 1 << 100;

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator {
            rng: Rng::new(seed),
            next_id: 1,
            accounts: Vec::new(),
            open: Vec::new(),
            funders: Vec::new(),
            holds: Vec::new(),
            submissions: Vec::new(),
        }
    }

    /// The accounts to start with, created at `now`. Per currency they balance (the big pair's
    /// counters are close to `i64::MAX`, so that transfers touching them overflow).
    pub fn accounts(&mut self, now: Timestamp) -> Vec<Account> {
        let cny = Currency::parse("CNY").expect("known");
        let usd = Currency::parse("USD").expect("known");
        let rng = &mut self.rng;
        let mut accounts = Vec::new();
        let mut add = |rng: &mut Rng, currency, normal_side, limit| {
            let id = AccountId::from_u128(accounts.len() as u128 + 1).expect("not zero");
            // Some accounts were last touched by a writer whose clock is ahead of ours.
            let last_transfer_at =
                if rng.chance(20) { Timestamp(now.nanos() + rng.range(1, 3 * NANOS_PER_SECOND)) } else { Timestamp(0) };
            accounts.push(Account {
                id,
                currency,
                normal_side,
                limit,
                flags: AccountFlags::default(),
                counters: Counters::default(),
                code: String::new(),
                metadata: "{}".into(),
                created_at: now,
                last_transfer_at,
            });
        };
        add(rng, cny, NormalSide::Debit, BalanceLimit::Unlimited);
        add(rng, usd, NormalSide::Debit, BalanceLimit::Unlimited);
        for _ in 0..6 {
            let currency = if rng.chance(70) { cny } else { usd };
            let (side, limit) = match rng.below(8) {
                0..=2 => (NormalSide::Credit, BalanceLimit::Floor(0)),
                3 | 4 => (NormalSide::Credit, BalanceLimit::Floor(rng.range(1, 100))),
                5 => (NormalSide::Credit, BalanceLimit::Unlimited),
                6 => (NormalSide::Debit, BalanceLimit::Floor(rng.range(0, 50))),
                _ => (NormalSide::Debit, BalanceLimit::Unlimited),
            };
            add(rng, currency, side, limit);
        }
        // A closed wallet.
        add(rng, cny, NormalSide::Credit, BalanceLimit::Floor(0));
        // The big pair: debits to the first and credits to the second overflow soon.
        let big_currency = if rng.chance(50) { cny } else { usd };
        let big = i64::MAX - rng.range(0, 400);
        add(rng, big_currency, NormalSide::Debit, BalanceLimit::Unlimited);
        let limit = if rng.chance(50) { BalanceLimit::Floor(0) } else { BalanceLimit::Unlimited };
        add(rng, big_currency, NormalSide::Credit, limit);
        let n = accounts.len();
        accounts[n - 3].flags.closed = true;
        accounts[n - 2].counters.debits_posted = big;
        accounts[n - 1].counters.credits_posted = big;
        for a in &mut accounts[2..n - 3] {
            a.flags.debits_blocked = rng.chance(4);
            a.flags.credits_blocked = rng.chance(4);
        }
        self.accounts = accounts.iter().map(|a| a.id).collect();
        self.open = accounts.iter().filter(|a| !a.flags.closed).map(|a| a.id).collect();
        self.funders = vec![accounts[0].id, accounts[1].id, accounts[n - 1].id];
        accounts
    }

    /// The time of the next batch: usually later, sometimes much later (holds expire), sometimes
    /// earlier (this writer's clock is behind another's).
    pub fn next_now(&mut self, now: Timestamp) -> Timestamp {
        let step = match self.rng.below(20) {
            0..=12 => self.rng.range(0, 2 * NANOS_PER_SECOND),
            13..=15 => self.rng.range(0, 10_000_000),
            16 | 17 => -self.rng.range(0, NANOS_PER_SECOND),
            _ => self.rng.range(5, 7) * NANOS_PER_SECOND,
        };
        Timestamp(now.nanos() + step)
    }

    /// Sometimes blocks or unblocks debits or credits of a wallet, as the account service would.
    pub fn flag_change(&mut self, model: &Model) -> Option<(AccountId, AccountFlags)> {
        if !self.rng.chance(15) {
            return None;
        }
        // Funding accounts stay unblocked, or little else would succeed.
        let id = *self.rng.pick(&self.open);
        let mut flags = model.accounts[&id].flags;
        if self.funders.contains(&id) {
            return None;
        }
        if (flags.debits_blocked || flags.credits_blocked) && self.rng.chance(70) {
            (flags.debits_blocked, flags.credits_blocked) = (false, false);
        } else if self.rng.chance(50) {
            flags.debits_blocked = !flags.debits_blocked;
        } else {
            flags.credits_blocked = !flags.credits_blocked;
        }
        Some((id, flags))
    }

    /// The submissions of the next batch, at `now`. Some end in a linked request, which
    /// `check_submission` must refuse.
    pub fn batch(&mut self, model: &Model, now: Timestamp) -> Vec<Vec<TransferRequest>> {
        let mut batch: Vec<Vec<TransferRequest>> = Vec::new();
        let count = self.rng.range(1, 12);
        for _ in 0..count {
            let submission = match self.rng.below(100) {
                0..=54 => vec![self.fresh(model)],
                55..=74 => self.chain(model),
                75..=82 if !self.submissions.is_empty() => self.rng.pick(&self.submissions).clone(),
                83..=90 if !self.submissions.is_empty() => vec![self.changed()],
                91..=93 => {
                    let mut chain = self.chain(model);
                    chain.last_mut().expect("not empty").linked = true;
                    chain
                }
                94..=97 => {
                    // The expiry job: the holds the model finds due (and some it does not).
                    let mut due = model.due_holds(now);
                    due.truncate(4);
                    if due.is_empty() || self.rng.chance(20) {
                        due.push(self.hold_id(model));
                    }
                    due.into_iter().map(|id| self.request(TransferAction::ExpirePending { pending_id: id })).collect()
                }
                _ => vec![self.fresh(model)],
            };
            self.submissions.push(submission.clone());
            batch.push(submission);
        }
        batch
    }

    fn id(&mut self) -> TransferId {
        let id = TransferId::from_u128(self.next_id).expect("not zero");
        self.next_id += 1;
        id
    }

    fn request(&mut self, action: TransferAction) -> TransferRequest {
        let id = self.id();
        let code = (*self.rng.pick(&["pay", "refund", "recharge", ""])).to_owned();
        let reference = self.rng.chance(60).then(|| format!("order-{}", id.as_u128()));
        let metadata = if self.rng.chance(80) { "{}".to_owned() } else { format!(r#"{{"n":{}}}"#, self.rng.below(3)) };
        TransferRequest { id, action, linked: false, code, reference, metadata }
    }

    /// Any account: mostly an open one, sometimes the closed one or one that does not exist.
    fn account(&mut self, debit: bool) -> AccountId {
        match self.rng.below(100) {
            0..=2 => AccountId::from_u128(UNKNOWN_ACCOUNT + self.rng.below(3) as u128).expect("not zero"),
            3..=5 => *self.rng.pick(&self.accounts),
            6..=40 if debit => *self.rng.pick(&self.funders),
            _ => *self.rng.pick(&self.open),
        }
    }

    /// A debit and a credit account, mostly of the same currency.
    fn pair(&mut self, model: &Model) -> (AccountId, AccountId) {
        let debit = self.account(true);
        let same_currency: Vec<AccountId> = match model.accounts.get(&debit) {
            Some(d) => self
                .open
                .iter()
                .copied()
                .filter(|id| *id != debit && model.accounts[id].currency == d.currency)
                .collect(),
            None => Vec::new(),
        };
        let credit = match self.rng.below(100) {
            0..=2 => debit,
            3..=12 => self.account(false),
            _ if same_currency.is_empty() => self.account(false),
            _ => *self.rng.pick(&same_currency),
        };
        (debit, credit)
    }

    fn amount(&mut self) -> Amount {
        let n = match self.rng.below(10) {
            0..=6 => self.rng.range(1, 100),
            7 | 8 => self.rng.range(100, 1000),
            _ => self.rng.range(1, 5),
        };
        Amount::new(n).expect("positive")
    }

    /// A hold still pending (most of the time), one already resolved, one requested but never
    /// applied, or one that never existed.
    fn hold_id(&mut self, model: &Model) -> TransferId {
        let pending: Vec<TransferId> =
            model.holds.values().filter(|h| h.status == PendingStatus::Pending).map(|h| h.id).collect();
        if !pending.is_empty() && self.rng.chance(70) {
            return *self.rng.pick(&pending);
        }
        if !model.holds.is_empty() && self.rng.chance(50) {
            let all: Vec<TransferId> = model.holds.keys().copied().collect();
            return *self.rng.pick(&all);
        }
        if self.holds.is_empty() || self.rng.chance(20) {
            TransferId::from_u128(UNKNOWN_TRANSFER + self.rng.below(3) as u128).expect("not zero")
        } else if self.rng.chance(3) {
            // A transfer that is not a hold.
            TransferId::from_u128(self.rng.range(1, self.next_id as i64 - 1) as u128).expect("not zero")
        } else {
            // Favour recent holds: they are more likely still pending.
            let n = self.holds.len();
            let i = if self.rng.chance(70) {
                n - 1 - (self.rng.below(n.min(6) as u64) as usize)
            } else {
                self.rng.below(n as u64) as usize
            };
            self.holds[i].0
        }
    }

    fn fresh(&mut self, model: &Model) -> TransferRequest {
        match self.rng.below(100) {
            0..=34 => {
                let ((debit, credit), amount) = (self.pair(model), self.amount());
                let balancing = self.rng.chance(20);
                self.request(TransferAction::Post {
                    debit_account_id: debit,
                    credit_account_id: credit,
                    amount,
                    balancing,
                })
            }
            35..=59 => {
                let ((debit, credit), amount) = (self.pair(model), self.amount());
                let balancing = self.rng.chance(15);
                let timeout_s = match self.rng.below(10) {
                    0..=3 => None,
                    4 => Some(0),
                    _ => Some(self.rng.range(1, 5) as u32),
                };
                let r = self.request(TransferAction::Hold {
                    debit_account_id: debit,
                    credit_account_id: credit,
                    amount,
                    balancing,
                    timeout_s,
                });
                self.holds.push((r.id, amount.get()));
                r
            }
            60..=81 => {
                let pending_id = self.hold_id(model);
                let held = model
                    .holds
                    .get(&pending_id)
                    .map(|h| h.amount)
                    .or_else(|| self.holds.iter().find(|(id, _)| *id == pending_id).map(|(_, amount)| *amount));
                let amount = match (self.rng.below(10), held) {
                    (0..=3, _) | (_, None) => None,
                    (4..=7, Some(held)) => Amount::new(self.rng.range(1, held)),
                    (_, Some(held)) => Amount::new(held + self.rng.range(0, 2)),
                };
                self.request(TransferAction::PostPending { pending_id, amount })
            }
            82..=93 => {
                let pending_id = self.hold_id(model);
                self.request(TransferAction::VoidPending { pending_id })
            }
            _ => {
                let pending_id = self.hold_id(model);
                self.request(TransferAction::ExpirePending { pending_id })
            }
        }
    }

    /// A request likely to succeed: a transfer between open accounts of the same currency, funded
    /// from a funding account half the time, or the resolution of a hold still pending.
    fn likely(&mut self, model: &Model) -> TransferRequest {
        let pending: Vec<&Hold> = model.holds.values().filter(|h| h.status == PendingStatus::Pending).collect();
        if !pending.is_empty() && self.rng.chance(25) {
            let hold = (*self.rng.pick(&pending)).clone();
            let action = if self.rng.chance(70) {
                let amount = if self.rng.chance(50) { None } else { Amount::new(self.rng.range(1, hold.amount)) };
                TransferAction::PostPending { pending_id: hold.id, amount }
            } else {
                TransferAction::VoidPending { pending_id: hold.id }
            };
            return self.request(action);
        }
        let debit = if self.rng.chance(50) { *self.rng.pick(&self.funders) } else { *self.rng.pick(&self.open) };
        let currency = model.accounts[&debit].currency;
        let credits: Vec<AccountId> =
            self.open.iter().copied().filter(|id| *id != debit && model.accounts[id].currency == currency).collect();
        let credit = if credits.is_empty() { *self.rng.pick(&self.open) } else { *self.rng.pick(&credits) };
        let amount = Amount::new(self.rng.range(1, 50)).expect("positive");
        let action = if self.rng.chance(70) {
            TransferAction::Post {
                debit_account_id: debit,
                credit_account_id: credit,
                amount,
                balancing: self.rng.chance(10),
            }
        } else {
            let timeout_s = if self.rng.chance(50) { None } else { Some(self.rng.range(1, 5) as u32) };
            TransferAction::Hold {
                debit_account_id: debit,
                credit_account_id: credit,
                amount,
                balancing: false,
                timeout_s,
            }
        };
        let r = self.request(action);
        if let TransferAction::Hold { amount, .. } = r.action {
            self.holds.push((r.id, amount.get()));
        }
        r
    }

    /// A linked chain of two to four requests; in some, one member is sure to fail.
    fn chain(&mut self, model: &Model) -> Vec<TransferRequest> {
        let n = self.rng.range(2, 4) as usize;
        let mut chain: Vec<TransferRequest> = (0..n).map(|_| self.likely(model)).collect();
        if self.rng.chance(25) {
            let i = self.rng.below(n as u64) as usize;
            let nobody = AccountId::from_u128(UNKNOWN_ACCOUNT).expect("not zero");
            let (debit, amount) = (*self.rng.pick(&self.funders), self.amount());
            chain[i].action =
                TransferAction::Post { debit_account_id: debit, credit_account_id: nobody, amount, balancing: false };
        }
        for r in &mut chain[..n - 1] {
            r.linked = true;
        }
        chain
    }

    /// An earlier request's id with one field changed.
    fn changed(&mut self) -> TransferRequest {
        let submission = self.rng.pick(&self.submissions).clone();
        let mut r = self.rng.pick(&submission).clone();
        r.linked = false;
        let other_account = *self.rng.pick(&self.accounts);
        match self.rng.below(6) {
            0 => r.code.push('x'),
            1 => r.reference = if r.reference.is_some() { None } else { Some("changed".into()) },
            2 => r.metadata = r#"{"changed":true}"#.into(),
            _ => {}
        }
        let delta = Amount::new(1).expect("positive");
        r.action = match r.action {
            TransferAction::Post { debit_account_id, credit_account_id, amount, balancing } => {
                match self.rng.below(4) {
                    0 => TransferAction::Post {
                        debit_account_id,
                        credit_account_id,
                        amount: Amount::new(amount.get() + 1).unwrap_or(delta),
                        balancing,
                    },
                    1 => TransferAction::Post { debit_account_id: other_account, credit_account_id, amount, balancing },
                    2 => TransferAction::Post { debit_account_id, credit_account_id, amount, balancing: !balancing },
                    _ => {
                        TransferAction::Hold { debit_account_id, credit_account_id, amount, balancing, timeout_s: None }
                    }
                }
            }
            TransferAction::Hold { debit_account_id, credit_account_id, amount, balancing, timeout_s } => {
                match self.rng.below(3) {
                    0 => TransferAction::Hold {
                        debit_account_id,
                        credit_account_id: other_account,
                        amount,
                        balancing,
                        timeout_s,
                    },
                    1 => TransferAction::Hold {
                        debit_account_id,
                        credit_account_id,
                        amount,
                        balancing,
                        timeout_s: Some(timeout_s.unwrap_or(0) + 1),
                    },
                    _ => TransferAction::Post { debit_account_id, credit_account_id, amount, balancing },
                }
            }
            TransferAction::PostPending { pending_id, amount } => match (self.rng.below(2), amount) {
                (0, Some(_)) => TransferAction::PostPending { pending_id, amount: None },
                (0, None) => TransferAction::PostPending { pending_id, amount: Some(delta) },
                _ => TransferAction::VoidPending { pending_id },
            },
            TransferAction::VoidPending { pending_id } => TransferAction::ExpirePending { pending_id },
            TransferAction::ExpirePending { pending_id } => TransferAction::VoidPending { pending_id },
        };
        r
    }
}
