//! The ledger service on both backends: the batched writer answers each submitter with its own results,
//! holds expire, resubmissions are idempotent, and accounts close only when empty.

use std::time::Duration;

use sanhu_core::ledger::{BalanceLimit, NormalSide, TransferAction, TransferError, TransferKind, TransferRequest};
use sanhu_core::{AccountId, Amount};
use sanhu_service::writer::WriterConfig;
use sanhu_service::{clock, jobs, Ledger, LedgerConfig, NewAccount};
use sanhu_store::LedgerStore;
use sanhu_testkit::ledger;
use sanhu_testkit::money::cny;
use sanhu_testkit::on_both_backends;

async fn open(ledger: &Ledger, side: NormalSide, limit: Option<BalanceLimit>) -> AccountId {
    ledger
        .open_account(NewAccount {
            currency: cny(),
            normal_side: side,
            limit,
            code: String::new(),
            metadata: "{}".into(),
        })
        .await
        .unwrap()
        .id
}

fn post(debit: AccountId, credit: AccountId, amount: i64) -> TransferRequest {
    ledger::post(clock::new_id(), debit, credit, amount)
}

fn hold(debit: AccountId, credit: AccountId, amount: i64, timeout_s: Option<u32>) -> TransferRequest {
    TransferRequest {
        action: TransferAction::Hold {
            debit_account_id: debit,
            credit_account_id: credit,
            amount: Amount::new(amount).unwrap(),
            balancing: false,
            timeout_s,
        },
        ..post(debit, credit, amount)
    }
}

fn ledger_with_wait(db: &sanhu_testkit::TestDatabase, batch_wait_us: u64) -> Ledger {
    Ledger::start(
        db.store.clone(),
        LedgerConfig { writer: WriterConfig { batch_wait_us, batch_transfers_max: 64, ..WriterConfig::default() } },
    )
}

on_both_backends!(concurrent_submitters_each_get_their_own_results, |db| {
    let ledger = ledger_with_wait(&db, 2_000);
    let funding = open(&ledger, NormalSide::Debit, None).await;
    let wallets: Vec<AccountId> = {
        let mut v = Vec::new();
        for _ in 0..4 {
            v.push(open(&ledger, NormalSide::Credit, None).await);
        }
        v
    };
    // 40 submitters at once, each sending two transfers into its own wallet; the writer batches them
    // (at most 64 requests per transaction) and must route every result back to its submitter.
    let mut tasks = Vec::new();
    for i in 0..40 {
        let ledger = ledger.clone();
        let wallet = wallets[i % 4];
        tasks.push(tokio::spawn(async move {
            let requests = vec![post(funding, wallet, 100 + i as i64), post(funding, wallet, 1)];
            let ids: Vec<_> = requests.iter().map(|r| r.id).collect();
            let results = ledger.submit(requests).await.unwrap();
            (ids, results, i)
        }));
    }
    for task in tasks {
        let (ids, results, i) = task.await.unwrap();
        assert_eq!(results.len(), 2);
        let first = results[0].as_ref().unwrap();
        assert_eq!(first.id, ids[0]);
        assert_eq!(first.amount, 100 + i as i64);
        assert_eq!(results[1].as_ref().unwrap().id, ids[1]);
    }
    let total: i64 = (0..40).map(|i| 101 + i).sum();
    let balances = db.store.get_accounts(&wallets).await.unwrap();
    assert_eq!(balances.iter().map(|a| a.balance()).sum::<i64>(), total);
    assert!(db.store.verify().await.unwrap().problems.is_empty());
});

on_both_backends!(a_rejected_transfer_changes_nothing_and_others_in_the_batch_still_apply, |db| {
    let ledger = ledger_with_wait(&db, 0);
    let funding = open(&ledger, NormalSide::Debit, None).await;
    let wallet = open(&ledger, NormalSide::Credit, None).await;
    let other = open(&ledger, NormalSide::Credit, None).await;
    let results = ledger
        .submit(vec![post(funding, wallet, 500), post(wallet, other, 501), post(wallet, other, 200)])
        .await
        .unwrap();
    assert!(results[0].is_ok());
    assert_eq!(results[1].as_ref().unwrap_err(), &TransferError::InsufficientFunds);
    assert!(results[2].is_ok());
    let accounts = db.store.get_accounts(&[wallet, other]).await.unwrap();
    let by_id = |id| accounts.iter().find(|a| a.id == id).unwrap().balance();
    assert_eq!(by_id(wallet), 300);
    assert_eq!(by_id(other), 200);
});

on_both_backends!(resubmitting_a_transfer_returns_its_first_result_and_moves_money_once, |db| {
    let ledger = ledger_with_wait(&db, 0);
    let funding = open(&ledger, NormalSide::Debit, None).await;
    let wallet = open(&ledger, NormalSide::Credit, None).await;
    let request = post(funding, wallet, 700);
    let first = ledger.submit_one(request.clone()).await.unwrap().unwrap();
    let again = ledger.submit_one(request.clone()).await.unwrap().unwrap();
    assert_eq!(first, again);
    let mut changed = request.clone();
    changed.code = "other".into();
    assert_eq!(ledger.submit_one(changed).await.unwrap(), Err(TransferError::ExistsWithDifferentFields));
    assert_eq!(db.store.get_account(wallet).await.unwrap().unwrap().balance(), 700);
});

on_both_backends!(a_hold_past_its_timeout_is_expired_by_the_job_and_its_money_released, |db| {
    let ledger = ledger_with_wait(&db, 0);
    let funding = open(&ledger, NormalSide::Debit, None).await;
    let wallet = open(&ledger, NormalSide::Credit, None).await;
    let merchant = open(&ledger, NormalSide::Credit, None).await;
    ledger.submit_one(post(funding, wallet, 1_000)).await.unwrap().unwrap();
    let held = ledger.submit_one(hold(wallet, merchant, 400, Some(1))).await.unwrap().unwrap();
    let kept = ledger.submit_one(hold(wallet, merchant, 100, None)).await.unwrap().unwrap();
    assert_eq!(db.store.get_account(wallet).await.unwrap().unwrap().available(), 500);
    assert_eq!(jobs::expire_due_holds(&ledger).await.unwrap(), 0, "nothing is due yet");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    assert_eq!(jobs::expire_due_holds(&ledger).await.unwrap(), 1);
    let wallet_now = db.store.get_account(wallet).await.unwrap().unwrap();
    assert_eq!(wallet_now.available(), 900, "the expired hold is released, the other still held");
    assert_eq!(wallet_now.balance(), 1_000);
    let record = db.store.pending_status(held.id).await.unwrap().unwrap();
    assert_eq!(record.status, sanhu_core::ledger::PendingStatus::Expired);
    // Posting an expired hold is refused; the hold without a timeout still posts.
    let post_expired = TransferRequest {
        action: TransferAction::PostPending { pending_id: held.id, amount: None },
        ..post(wallet, merchant, 1)
    };
    assert_eq!(ledger.submit_one(post_expired).await.unwrap(), Err(TransferError::PendingExpired));
    let post_kept = TransferRequest {
        action: TransferAction::PostPending { pending_id: kept.id, amount: None },
        ..post(wallet, merchant, 1)
    };
    let posted = ledger.submit_one(post_kept).await.unwrap().unwrap();
    assert_eq!(posted.kind, TransferKind::PostPending);
    assert_eq!(db.store.get_account(merchant).await.unwrap().unwrap().balance(), 100);
    assert!(db.store.verify().await.unwrap().problems.is_empty());
});

on_both_backends!(an_account_closes_only_at_zero_with_nothing_pending, |db| {
    let ledger = ledger_with_wait(&db, 0);
    let funding = open(&ledger, NormalSide::Debit, None).await;
    let wallet = open(&ledger, NormalSide::Credit, None).await;
    ledger.submit_one(post(funding, wallet, 10)).await.unwrap().unwrap();
    let refused = ledger.close_account(wallet).await.unwrap().unwrap();
    assert_eq!(refused.unwrap_err().code(), "account_not_empty");
    let held = ledger.submit_one(hold(wallet, funding, 10, None)).await.unwrap().unwrap();
    assert_eq!(ledger.close_account(wallet).await.unwrap().unwrap().unwrap_err().code(), "account_has_pending");
    let post_it = TransferRequest {
        action: TransferAction::PostPending { pending_id: held.id, amount: None },
        ..post(wallet, funding, 1)
    };
    ledger.submit_one(post_it).await.unwrap().unwrap();
    let closed = ledger.close_account(wallet).await.unwrap().unwrap().unwrap();
    assert!(closed.flags.closed);
    assert_eq!(ledger.submit_one(post(funding, wallet, 1)).await.unwrap(), Err(TransferError::AccountClosed));
    assert!(ledger.close_account(clock::new_id()).await.unwrap().is_none(), "an unknown account is None");
});

on_both_backends!(blocking_debits_refuses_debits_but_not_credits, |db| {
    let ledger = ledger_with_wait(&db, 0);
    let funding = open(&ledger, NormalSide::Debit, None).await;
    let wallet = open(&ledger, NormalSide::Credit, None).await;
    ledger.submit_one(post(funding, wallet, 10)).await.unwrap().unwrap();
    ledger.set_account_blocks(wallet, Some(true), None).await.unwrap().unwrap().unwrap();
    assert_eq!(ledger.submit_one(post(wallet, funding, 1)).await.unwrap(), Err(TransferError::DebitsBlocked));
    assert!(ledger.submit_one(post(funding, wallet, 1)).await.unwrap().is_ok());
    ledger.set_account_blocks(wallet, Some(false), Some(true)).await.unwrap().unwrap().unwrap();
    assert_eq!(ledger.submit_one(post(funding, wallet, 1)).await.unwrap(), Err(TransferError::CreditsBlocked));
    assert!(ledger.submit_one(post(wallet, funding, 1)).await.unwrap().is_ok());
});

on_both_backends!(resubmitting_a_transfer_that_would_now_be_refused_still_returns_the_stored_transfer, |db| {
    let ledger = ledger_with_wait(&db, 0);
    let funding = open(&ledger, NormalSide::Debit, None).await;
    let wallet = open(&ledger, NormalSide::Credit, None).await;
    let merchant = open(&ledger, NormalSide::Credit, None).await;
    ledger.submit_one(post(funding, wallet, 100)).await.unwrap().unwrap();
    let spend = post(wallet, merchant, 100);
    let first = ledger.submit_one(spend.clone()).await.unwrap().unwrap();
    // The wallet is empty now: applied afresh the request would be refused, but it is a resubmission.
    let again = ledger.submit(vec![post(funding, merchant, 1), spend.clone()]).await.unwrap();
    assert!(again[0].is_ok());
    assert_eq!(again[1].as_ref().unwrap(), &first);
    let mut different = spend;
    different.code = "changed".into();
    assert_eq!(ledger.submit_one(different).await.unwrap(), Err(TransferError::ExistsWithDifferentFields));
    assert_eq!(db.store.get_account(merchant).await.unwrap().unwrap().balance(), 101);
});

on_both_backends!(two_instances_moving_money_both_ways_between_the_same_accounts_conserve_it_without_errors, |db| {
    // Two service instances, each with its own store (connections) and writer, on one database.
    let first = ledger_with_wait(&db, 500);
    let second = Ledger::start(
        db.open_another().await,
        LedgerConfig {
            writer: WriterConfig { batch_wait_us: 500, batch_transfers_max: 64, ..WriterConfig::default() },
        },
    );
    let funding = open(&first, NormalSide::Debit, None).await;
    let alice = open(&first, NormalSide::Credit, None).await;
    let bob = open(&first, NormalSide::Credit, None).await;
    first.submit(vec![post(funding, alice, 10_000), post(funding, bob, 10_000)]).await.unwrap();
    let mut tasks = Vec::new();
    for task in 0..8 {
        let (ledger, from, to) = match task % 2 {
            0 => (first.clone(), alice, bob),
            _ => (second.clone(), bob, alice),
        };
        tasks.push(tokio::spawn(async move {
            let mut applied = 0;
            for round in 0..25 {
                let requests = vec![post(from, to, 1 + round % 7), post(to, from, 1 + round % 5)];
                // No storage error may reach a caller: a lock conflict between the instances is the
                // store's to resolve (PostgreSQL retries; SQLite waits for the lock).
                let results = ledger.submit(requests).await.expect("no storage error reaches the caller");
                applied += results.iter().filter(|r| r.is_ok()).count();
            }
            applied
        }));
    }
    let mut applied = 0;
    for task in tasks {
        applied += task.await.unwrap();
    }
    assert_eq!(applied, 8 * 25 * 2, "both wallets hold plenty: every transfer applies");
    let accounts = db.store.get_accounts(&[alice, bob]).await.unwrap();
    assert_eq!(accounts.iter().map(|a| a.balance()).sum::<i64>(), 20_000, "money is only moved");
    let report = db.store.verify().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
});
