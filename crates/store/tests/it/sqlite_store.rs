//! What is particular to the SQLite store: its writer keeps the accounts it has seen in memory, which
//! must never hide a change another connection (another process) committed.

use sanhu_core::ledger::{AccountFlags, BalanceLimit, NormalSide, TransferError, TransferRequest};
use sanhu_core::{AccountId, Timestamp, TransferId};
use sanhu_store::testing::TestDatabase;
use sanhu_store::{DatabaseStore, LedgerStore};
use sanhu_testkit::ledger::{self, account};

fn post(n: u128, debit: u128, credit: u128, amount: i64) -> TransferRequest {
    let (debit, credit) = (AccountId::from_u128(debit).unwrap(), AccountId::from_u128(credit).unwrap());
    ledger::request(TransferId::from_u128(n).unwrap(), ledger::post_action(debit, credit, amount), "")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_writer_on_the_same_file_is_never_hidden_by_the_first_writers_cache() {
    let db = TestDatabase::sqlite().await;
    let first = &db.store;
    let second = db.open_another().await;
    let funding = account(1, NormalSide::Debit, BalanceLimit::Unlimited);
    let wallet = account(2, NormalSide::Credit, BalanceLimit::Floor(0));
    let other = account(3, NormalSide::Credit, BalanceLimit::Floor(0));
    first.create_accounts(&[funding, wallet, other]).await.unwrap();

    // The first writer funds the wallet with 100 (and now has both accounts in its cache).
    assert!(first.commit_batch(vec![post(1, 1, 2, 100)], Timestamp(10)).await.unwrap()[0].is_ok());
    // The second writer spends 80 of it.
    assert!(second.commit_batch(vec![post(2, 2, 3, 80)], Timestamp(20)).await.unwrap()[0].is_ok());
    // The first writer must see 20 left, not the 100 it cached.
    let results = first.commit_batch(vec![post(3, 2, 3, 30), post(4, 2, 3, 20)], Timestamp(30)).await.unwrap();
    assert_eq!(results[0], Err(TransferError::InsufficientFunds));
    assert!(results[1].is_ok());
    // A flag change through the second writer holds for the first writer too.
    second
        .update_account_flags::<std::convert::Infallible>(
            AccountId::from_u128(3).unwrap(),
            Box::new(|a| Ok(AccountFlags { credits_blocked: true, ..a.flags })),
        )
        .await
        .unwrap();
    let results = first.commit_batch(vec![post(5, 1, 3, 1)], Timestamp(40)).await.unwrap();
    assert_eq!(results[0], Err(TransferError::CreditsBlocked));

    let report = first.verify().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
    let accounts =
        first.get_accounts(&[AccountId::from_u128(2).unwrap(), AccountId::from_u128(3).unwrap()]).await.unwrap();
    assert_eq!(accounts.iter().map(|a| a.balance()).collect::<Vec<_>>(), [0, 100]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flag_change_through_the_same_writer_takes_effect_at_once() {
    let db = TestDatabase::sqlite().await;
    let store = &db.store;
    store
        .create_accounts(&[
            account(1, NormalSide::Debit, BalanceLimit::Unlimited),
            account(2, NormalSide::Credit, BalanceLimit::Floor(0)),
        ])
        .await
        .unwrap();
    assert!(store.commit_batch(vec![post(1, 1, 2, 100)], Timestamp(10)).await.unwrap()[0].is_ok());
    store
        .update_account_flags::<std::convert::Infallible>(
            AccountId::from_u128(2).unwrap(),
            Box::new(|a| Ok(AccountFlags { debits_blocked: true, ..a.flags })),
        )
        .await
        .unwrap();
    let results = store.commit_batch(vec![post(2, 2, 1, 1)], Timestamp(20)).await.unwrap();
    assert_eq!(results[0], Err(TransferError::DebitsBlocked));
}

/// SQLite's write-ahead log stays under its configured bound (checked on disk) while batches are
/// written without pause and readers keep reading: the readers stop a PASSIVE checkpoint from ever
/// letting the log start over, so without the truncations the log grows with every batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_wal_stays_under_its_bound_under_sustained_writes_and_reads() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;

    const BOUND: u64 = 4 * 1024 * 1024;
    const ACCOUNTS: u128 = 1_000;
    const BATCHES: u128 = 120;
    const PER_BATCH: u128 = 2_000;
    let dir = std::env::temp_dir().join(format!("sanhu-wal-bound-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("sanhu.db");
    let wal = dir.join("sanhu.db-wal");
    let options = sanhu_store::StoreOptions { sqlite_wal_bytes_max: BOUND, ..Default::default() };
    let store = sanhu_store::Store::open(&format!("sqlite://{}", path.display()), &options).await.unwrap();
    store.migrate().await.unwrap();
    let mut accounts = vec![account(1, NormalSide::Debit, BalanceLimit::Unlimited)];
    accounts.extend((2..=ACCOUNTS).map(|n| account(n, NormalSide::Credit, BalanceLimit::Floor(0))));
    store.create_accounts(&accounts).await.unwrap();

    // Readers reading without pause, and a watcher of the WAL's size on disk.
    let stop = Arc::new(AtomicBool::new(false));
    let largest = Arc::new(AtomicU64::new(0));
    let mut readers = Vec::new();
    for r in 0..4u128 {
        let (store, stop) = (store.clone(), stop.clone());
        readers.push(tokio::spawn(async move {
            let mut reads = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let id = AccountId::from_u128(2 + (reads as u128 * 7 + r) % (ACCOUNTS - 1)).unwrap();
                store.get_account(id).await.unwrap();
                reads += 1;
            }
            reads
        }));
    }
    let watcher = {
        let (stop, largest, wal) = (stop.clone(), largest.clone(), wal.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
                largest.fetch_max(size, Ordering::Relaxed);
                std::thread::sleep(std::time::Duration::from_millis(2));
            }
        })
    };

    let mut next_id = 1u128;
    for batch in 0..BATCHES {
        let requests: Vec<TransferRequest> = (0..PER_BATCH)
            .map(|i| {
                next_id += 1;
                post(next_id, 1, 2 + (batch * PER_BATCH + i) % (ACCOUNTS - 1), 1)
            })
            .collect();
        let results = store.commit_batch(requests, Timestamp(1_000 + batch as i64)).await.unwrap();
        assert!(results.iter().all(Result::is_ok));
        let size = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        largest.fetch_max(size, Ordering::Relaxed);
    }
    stop.store(true, Ordering::Relaxed);
    let mut reads = 0;
    for reader in readers {
        reads += reader.await.unwrap();
    }
    watcher.join().unwrap();

    // Enough was written to pass the bound many times over, while the readers read.
    let database = std::fs::metadata(&path).unwrap().len();
    let largest = largest.load(Ordering::Relaxed);
    eprintln!("database {database} bytes, largest WAL {largest} bytes, bound {BOUND}, {reads} reads");
    assert!(database > 5 * BOUND, "the database holds {database} bytes, not enough to test a bound of {BOUND}");
    assert!(reads > 1_000, "the readers read {reads} times");
    assert!(largest > 0, "the WAL was seen");
    assert!(largest <= BOUND, "the WAL reached {largest} bytes on disk, past its bound of {BOUND}");
    drop(store);
    let _ = std::fs::remove_dir_all(&dir);
}
