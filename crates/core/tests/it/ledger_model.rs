//! Model-based test of the ledger: random batches (seeded, reproducible) applied both with
//! `apply_batch`, to rows kept the way a store keeps them, and to the reference model in
//! `sanhu_core::ledger::model`. Every result, every row and the ledger's invariants are compared after
//! each batch.
//!
//! `SANHU_MODEL_SEED=n` runs one seed; `SANHU_MODEL_SEEDS=n` and `SANHU_MODEL_BATCHES=n` change how
//! many seeds and batches per seed run.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sanhu_core::ledger::model::{check_invariants, check_pending_counters, Generator, Model};
use sanhu_core::ledger::{
    apply_batch, check_submission, Account, BatchNeeds, BatchOutcome, LedgerState, PendingRecord, Transfer,
    TransferError, TransferKind, TransferRequest,
};
use sanhu_core::{AccountId, Timestamp, TransferId};

const SEEDS: u64 = 300;
const BATCHES: usize = 30;

/// The rows of a ledger, loaded and written as a store does: only what `BatchNeeds` names is loaded
/// (holds first, then their accounts too), and only what the outcome lists is written.
#[derive(Default)]
struct Rows {
    accounts: BTreeMap<AccountId, Account>,
    transfers: HashMap<TransferId, Transfer>,
    pendings: BTreeMap<TransferId, PendingRecord>,
}

impl Rows {
    fn load(&self, requests: &[TransferRequest]) -> LedgerState {
        let needs = BatchNeeds::of(requests);
        let mut state = LedgerState::default();
        for id in &needs.transfer_ids {
            if let Some(t) = self.transfers.get(id) {
                state.transfers.insert(*id, t.clone());
            }
        }
        let mut account_ids = needs.account_ids.clone();
        for id in &needs.pending_ids {
            if let Some(p) = self.pendings.get(id) {
                state.pendings.insert(*id, p.clone());
                account_ids.push(p.debit_account_id);
                account_ids.push(p.credit_account_id);
            }
        }
        for id in account_ids {
            if let Some(a) = self.accounts.get(&id) {
                state.accounts.insert(id, a.clone());
            }
        }
        state
    }

    fn write(&mut self, outcome: &BatchOutcome) -> Result<(), String> {
        for t in &outcome.inserted {
            if self.transfers.insert(t.id, t.clone()).is_some() {
                return Err(format!("transfer {} inserted twice", t.id));
            }
        }
        for p in &outcome.pendings {
            let exists = self.pendings.contains_key(&p.id);
            if p.is_new == exists {
                return Err(format!("hold {} is_new={} but exists={exists}", p.id, p.is_new));
            }
            self.pendings.insert(p.id, PendingRecord { is_new: false, ..p.clone() });
        }
        for a in &outcome.accounts {
            if self.accounts.insert(a.id, a.clone()).is_none() {
                return Err(format!("account {} written but never created", a.id));
            }
        }
        Ok(())
    }
}

/// How often each kind of result came up, over all seeds.
#[derive(Default)]
struct Coverage {
    ok: BTreeMap<&'static str, u64>,
    errors: BTreeMap<&'static str, u64>,
    replays: u64,
    balancing_reduced: u64,
    partial_posts: u64,
    chains_applied: u64,
    chains_failed: u64,
}

fn run(seed: u64, batches: usize, coverage: &mut Coverage) -> Result<(), String> {
    let mut generator = Generator::new(seed);
    let mut now = Timestamp(1_763_784_000_000_000_000 + (seed as i64 % 1000) * 1_000_000_007);
    let accounts = generator.accounts(now);
    let mut model = Model::new(accounts.clone());
    let mut rows = Rows { accounts: accounts.into_iter().map(|a| (a.id, a)).collect(), ..Rows::default() };
    check_invariants(rows.accounts.values()).map_err(|e| format!("initial accounts: {e}"))?;

    for batch_index in 0..batches {
        let at = |i: usize| format!("batch {batch_index}, request {i}");
        if let Some((id, flags)) = generator.flag_change(&model) {
            model.set_flags(id, flags);
            rows.accounts.get_mut(&id).expect("known").flags = flags;
        }
        now = generator.next_now(now);
        let submissions = generator.batch(&model, now);

        // Submissions with an open chain are answered at once; the rest form the batch.
        let mut requests = Vec::new();
        for submission in &submissions {
            let real = check_submission(submission);
            let expected = Model::check_submission(submission);
            if real != expected {
                return Err(format!("batch {batch_index}: check_submission gave {real:?}, the model {expected:?}"));
            }
            if real.is_none() {
                requests.extend(submission.iter().cloned());
            } else {
                *coverage.errors.entry(TransferError::LinkedEventChainOpen.code()).or_default() += 1;
            }
        }

        let stored_before: BTreeSet<TransferId> = rows.transfers.keys().copied().collect();
        let mut state = rows.load(&requests);
        let outcome = apply_batch(&mut state, &requests, now);
        let expected = model.apply_batch(&requests, now);

        if outcome.results.len() != requests.len() {
            return Err(format!(
                "batch {batch_index}: {} results for {} requests",
                outcome.results.len(),
                requests.len()
            ));
        }
        for (i, ((real, model_result), request)) in outcome.results.iter().zip(&expected).zip(&requests).enumerate() {
            if real != model_result {
                return Err(format!(
                    "{}: {request:?}\n  apply_batch: {real:?}\n  model:       {model_result:?}",
                    at(i)
                ));
            }
            match real {
                Ok(t) => {
                    *coverage.ok.entry(t.kind.as_str()).or_default() += 1;
                    if t.balancing && t.amount < t.requested_amount {
                        coverage.balancing_reduced += 1;
                    }
                    if t.kind == TransferKind::PostPending && t.requested_amount != 0 {
                        coverage.partial_posts += 1;
                    }
                }
                Err(e) => *coverage.errors.entry(e.code()).or_default() += 1,
            }
        }
        let mut chain_results = Vec::new();
        for (request, result) in requests.iter().zip(&outcome.results) {
            chain_results.push(result.is_ok());
            if !request.linked {
                if chain_results.len() > 1 {
                    if chain_results.iter().all(|ok| *ok) {
                        coverage.chains_applied += 1;
                    } else {
                        coverage.chains_failed += 1;
                    }
                }
                chain_results.clear();
            }
        }

        check_outcome(&outcome, &stored_before, now, batch_index, &mut coverage.replays)?;
        rows.write(&outcome).map_err(|e| format!("batch {batch_index}: {e}"))?;
        compare(&rows, &model).map_err(|e| format!("batch {batch_index}: {e}"))?;
        check_invariants(rows.accounts.values()).map_err(|e| format!("batch {batch_index}: {e}"))?;
        check_pending_counters(
            rows.accounts.values(),
            rows.pendings.values().map(|p| (p.debit_account_id, p.credit_account_id, p.amount, p.status)),
        )
        .map_err(|e| format!("batch {batch_index}: {e}"))?;
    }
    Ok(())
}

/// Checks the outcome's own shape: new transfers once each, in timestamp order, exactly the applied
/// ones that were not stored already, after `now`; accounts and holds in strict id order; each changed
/// account listed with the counters its last entry records.
fn check_outcome(
    outcome: &BatchOutcome,
    stored_before: &BTreeSet<TransferId>,
    now: Timestamp,
    batch_index: usize,
    replays: &mut u64,
) -> Result<(), String> {
    let mut expected_new: Vec<&Transfer> = Vec::new();
    for t in outcome.results.iter().flatten() {
        if stored_before.contains(&t.id) || expected_new.iter().any(|n| n.id == t.id) {
            *replays += 1;
        } else {
            expected_new.push(t);
        }
    }
    let inserted: Vec<&Transfer> = outcome.inserted.iter().collect();
    if inserted != expected_new {
        return Err(format!(
            "batch {batch_index}: inserted {:?}, but the new applied transfers are {:?}",
            inserted.iter().map(|t| t.id).collect::<Vec<_>>(),
            expected_new.iter().map(|t| t.id).collect::<Vec<_>>()
        ));
    }
    if outcome.inserted.first().is_some_and(|t| t.timestamp <= now) {
        return Err(format!("batch {batch_index}: a new transfer is timestamped at or before now"));
    }
    if !outcome.inserted.windows(2).all(|w| w[0].timestamp < w[1].timestamp) {
        return Err(format!("batch {batch_index}: inserted transfers are not in strict timestamp order"));
    }
    if !outcome.accounts.windows(2).all(|w| w[0].id < w[1].id) {
        return Err(format!("batch {batch_index}: accounts are not in strict id order"));
    }
    if !outcome.pendings.windows(2).all(|w| w[0].id < w[1].id) {
        return Err(format!("batch {batch_index}: holds are not in strict id order"));
    }
    // The last entry of each account records its final counters.
    let mut last: HashMap<AccountId, &Transfer> = HashMap::new();
    for t in &outcome.inserted {
        last.insert(t.debit_account_id, t);
        last.insert(t.credit_account_id, t);
    }
    for (id, t) in last {
        let Some(account) = outcome.accounts.iter().find(|a| a.id == id) else {
            return Err(format!("batch {batch_index}: account {id} changed but is not in the outcome"));
        };
        let recorded = if t.debit_account_id == id { t.debit_account_after } else { t.credit_account_after };
        if recorded != account.counters || t.timestamp != account.last_transfer_at {
            return Err(format!("batch {batch_index}: account {id} ends at {account:?} but its last entry is {t:?}"));
        }
    }
    Ok(())
}

/// The rows equal the model: accounts, transfers and holds.
fn compare(rows: &Rows, model: &Model) -> Result<(), String> {
    if rows.accounts.len() != model.accounts.len() {
        return Err("account count differs".into());
    }
    for (id, account) in &rows.accounts {
        if Some(account) != model.accounts.get(id) {
            return Err(format!("account {id}:\n  rows:  {account:?}\n  model: {:?}", model.accounts.get(id)));
        }
    }
    if rows.transfers.len() != model.transfers.len() {
        return Err(format!("{} transfers stored, the model has {}", rows.transfers.len(), model.transfers.len()));
    }
    for (id, stored) in &model.transfers {
        if rows.transfers.get(id) != Some(&stored.transfer) {
            return Err(format!(
                "transfer {id}:\n  rows:  {:?}\n  model: {:?}",
                rows.transfers.get(id),
                stored.transfer
            ));
        }
    }
    if rows.pendings.len() != model.holds.len() {
        return Err(format!("{} holds stored, the model has {}", rows.pendings.len(), model.holds.len()));
    }
    for (id, hold) in &model.holds {
        let Some(p) = rows.pendings.get(id) else { return Err(format!("hold {id} missing")) };
        let row = (p.debit_account_id, p.credit_account_id, p.amount, p.status, p.expires_at);
        let modelled = (hold.debit_account_id, hold.credit_account_id, hold.amount, hold.status, hold.expires_at);
        if row != modelled {
            return Err(format!("hold {id}:\n  rows:  {row:?}\n  model: {modelled:?}"));
        }
    }
    Ok(())
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name).ok().map(|v| v.parse().unwrap_or_else(|_| panic!("{name} must be a number")))
}

#[test]
fn apply_batch_agrees_with_the_reference_model() {
    let batches = env_number("SANHU_MODEL_BATCHES").map_or(BATCHES, |n| n as usize);
    let seeds: Vec<u64> = match env_number("SANHU_MODEL_SEED") {
        Some(seed) => vec![seed],
        None => (0..env_number("SANHU_MODEL_SEEDS").unwrap_or(SEEDS)).collect(),
    };
    let mut coverage = Coverage::default();
    for &seed in &seeds {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(seed, batches, &mut coverage)));
        match outcome {
            Ok(Ok(())) => {}
            Ok(Err(failure)) => panic!("seed {seed} failed (rerun with SANHU_MODEL_SEED={seed}):\n{failure}"),
            Err(_) => panic!("seed {seed} panicked (rerun with SANHU_MODEL_SEED={seed})"),
        }
    }
    println!("results over {} seeds x {batches} batches:", seeds.len());
    for (kind, n) in &coverage.ok {
        println!("  ok {kind}: {n}");
    }
    for (code, n) in &coverage.errors {
        println!("  {code}: {n}");
    }
    println!(
        "  replays: {}, balancing reduced: {}, posts of part: {}, chains applied: {}, chains failed: {}",
        coverage.replays,
        coverage.balancing_reduced,
        coverage.partial_posts,
        coverage.chains_applied,
        coverage.chains_failed
    );
    // The generator must reach every rule, or a passing run proves little.
    if seeds.len() >= 50 {
        for kind in [
            TransferKind::Posted,
            TransferKind::Pending,
            TransferKind::PostPending,
            TransferKind::VoidPending,
            TransferKind::ExpirePending,
        ] {
            assert!(coverage.ok.contains_key(kind.as_str()), "no {} transfer was applied", kind.as_str());
        }
        for error in TransferError::ALL {
            if error == TransferError::DuplicateIdInBatch {
                continue; // the HTTP edge refuses it; apply_batch answers a repeated id with the first result
            }
            assert!(coverage.errors.contains_key(error.code()), "no request failed with {}", error.code());
        }
        assert!(coverage.replays > 0 && coverage.balancing_reduced > 0 && coverage.partial_posts > 0);
        assert!(coverage.chains_applied > 0 && coverage.chains_failed > 0);
    }
}
