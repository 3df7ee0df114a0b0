//! Model-based test of the real stores: random batches (seeded, reproducible) are committed with
//! `commit_batch` on SQLite and on PostgreSQL and applied to the reference model in
//! `sanhu_core::ledger::model`. Every result is compared, the stored accounts, transfers and holds
//! are compared with the model, and after each batch the invariants are checked: per currency debits
//! equal credits (1), every account equals its entries (2, by `verify`), no limited account below its
//! floor (4).
//!
//! `SANHU_STORE_MODEL_SEEDS=n` and `SANHU_STORE_MODEL_BATCHES=n` widen the run.

use sanhu_core::ledger::model::{check_invariants, Generator, Model};
use sanhu_core::ledger::{check_submission, Account, Counters};
use sanhu_core::{AccountId, Timestamp};
use sanhu_store::testing::TestDatabase;
use sanhu_store::{on_both_backends, LedgerStore};

const SEEDS: u64 = 12;
const BATCHES: usize = 25;

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

async fn run(db: &TestDatabase, seed: u64, batches: usize) -> Result<(), String> {
    let mut generator = Generator::new(seed);
    let mut now = Timestamp::from_nanos(1_800_000_000_000_000_000 + seed as i64 * 1_000_000_000_000);
    // The stores start every account at zero: an account's counters are the sum of its entries.
    let accounts: Vec<Account> = generator
        .accounts(now)
        .into_iter()
        .map(|mut a| {
            a.counters = Counters::default();
            a
        })
        .collect();
    let ids: Vec<AccountId> = accounts.iter().map(|a| a.id).collect();
    db.store.create_accounts(&accounts).await.map_err(|e| format!("create accounts: {e:#}"))?;
    let mut model = Model::new(accounts);

    for batch_index in 0..batches {
        let at = |i: usize| format!("seed {seed}, batch {batch_index}, request {i}");
        if let Some((id, flags)) = generator.flag_change(&model) {
            model.set_flags(id, flags);
            db.store
                .update_account_flags::<std::convert::Infallible>(id, Box::new(move |_| Ok(flags)))
                .await
                .map_err(|e| format!("set flags: {e:#}"))?;
        }
        now = generator.next_now(now);
        let submissions = generator.batch(&model, now);
        let mut requests = Vec::new();
        for submission in &submissions {
            if check_submission(submission).is_none() {
                requests.extend(submission.iter().cloned());
            }
        }
        let real = db.store.commit_batch(requests.clone(), now).await.map_err(|e| format!("commit: {e:#}"))?;
        let expected = model.apply_batch(&requests, now);
        for (i, ((r, m), request)) in real.iter().zip(&expected).zip(&requests).enumerate() {
            if r != m {
                return Err(format!("{}: {request:?}\n  store: {r:?}\n  model: {m:?}", at(i)));
            }
            if let Ok(t) = r {
                let stored = db.store.get_transfer(t.id).await.map_err(|e| format!("{e:#}"))?;
                if stored.as_ref() != Some(&model.transfers[&t.id].transfer) {
                    return Err(format!("{}: stored {stored:?}\n  model {:?}", at(i), model.transfers[&t.id]));
                }
            }
        }
        if real.len() != requests.len() {
            return Err(format!(
                "seed {seed}, batch {batch_index}: {} results for {} requests",
                real.len(),
                requests.len()
            ));
        }
        let stored = db.store.get_accounts(&ids).await.map_err(|e| format!("{e:#}"))?;
        for account in &stored {
            if Some(account) != model.accounts.get(&account.id) {
                return Err(format!(
                    "seed {seed}, batch {batch_index}: account {}\n  store: {account:?}\n  model: {:?}",
                    account.id,
                    model.accounts.get(&account.id)
                ));
            }
        }
        check_invariants(stored.iter()).map_err(|e| format!("seed {seed}, batch {batch_index}: {e}"))?;
        let report = db.store.verify().await.map_err(|e| format!("{e:#}"))?;
        if !report.problems.is_empty() {
            return Err(format!("seed {seed}, batch {batch_index}: verify found {:?}", report.problems));
        }
    }
    for (id, hold) in &model.holds {
        let stored = db.store.pending_status(*id).await.map_err(|e| format!("{e:#}"))?;
        let Some(p) = stored else { return Err(format!("seed {seed}: hold {id} missing")) };
        if (p.status, p.amount, p.expires_at) != (hold.status, hold.amount, hold.expires_at) {
            return Err(format!("seed {seed}: hold {id}: store {p:?}, model {hold:?}"));
        }
    }
    Ok(())
}

on_both_backends!(the_store_agrees_with_the_reference_model, |db| {
    let seeds = env_number("SANHU_STORE_MODEL_SEEDS", SEEDS);
    let batches = env_number("SANHU_STORE_MODEL_BATCHES", BATCHES as u64) as usize;
    for seed in 0..seeds {
        // A fresh database per seed: the generator's account ids repeat across seeds.
        let fresh;
        let current = if seed == 0 {
            &db
        } else {
            fresh = TestDatabase::new(db.backend).await.expect("the backend was reachable a moment ago");
            &fresh
        };
        if let Err(failure) = run(current, seed, batches).await {
            panic!("{failure}");
        }
    }
});
