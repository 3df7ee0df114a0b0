//! The PostgreSQL store when its database fails over, without a second server: the store connects
//! as a role of its own (`sanhu_testkit::failover::WriteSwitch`) whose sessions are cut and made
//! read-only, as the old primary's are, and then take writes again, as the new primary's do. Skipped
//! (with a message) when PostgreSQL is unreachable outside CI.

use sanhu_core::ledger::{Account, Transfer, TransferError};
use sanhu_store::testing::TestDatabase;
use sanhu_store::{DatabaseStore, LedgerStore, NotPrimary, Store, StoreOptions};
use sanhu_testkit::failover::WriteSwitch;
use sanhu_testkit::ledger::{self, new_transfer_id, now};

macro_rules! postgres_or_skip {
    () => {
        match TestDatabase::postgres().await {
            Some(db) => db,
            None => return,
        }
    };
}

async fn open(url: &str) -> Store {
    Store::open(url, &StoreOptions { read_connections: 2, ..StoreOptions::default() }).await.expect("open the store")
}

async fn pay(store: &Store, from: &Account, to: &Account, amount: i64) -> anyhow::Result<Transfer> {
    let request = ledger::request(new_transfer_id(), ledger::post_action(from.id, to.id, amount), "pay");
    let mut results: Vec<Result<Transfer, TransferError>> = store.commit_batch(vec![request], now()).await?;
    Ok(results.pop().expect("one result").expect("the transfer is applied"))
}

fn sqlstate(error: &anyhow::Error) -> Option<String> {
    error.chain().find_map(|cause| cause.downcast_ref::<tokio_postgres::Error>()?.code().map(|c| c.code().to_owned()))
}

/// A connection the server cut (`admin_shutdown`) and then sessions that take no writes
/// (`read_only_sql_transaction`, 25006) are unavailable, not bugs; a read-only session is given up
/// like a cut one, so once the server takes writes again the very next write succeeds on a fresh
/// connection, with no restart and nothing applied in between.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_that_no_longer_takes_writes_is_given_up_and_the_next_use_connects_again() {
    let db = postgres_or_skip!();
    let switch = WriteSwitch::create().await;
    let store = open(&switch.url(&db.url)).await;
    let (funding, wallet) = (ledger::new_platform("basic"), ledger::new_wallet("basic"));
    store.create_accounts(&[funding.clone(), wallet.clone()]).await.unwrap();
    pay(&store, &funding, &wallet, 100).await.unwrap();
    store.ping().await.unwrap();

    switch.stop_writes().await;
    // The cut connections, then a fresh one that takes no writes: every write is refused as
    // unavailable, and a read-only session is met at least once.
    let mut codes = Vec::new();
    for _ in 0..4 {
        let error = pay(&store, &funding, &wallet, 7).await.expect_err("no write while the server takes none");
        assert!(sanhu_store::is_unavailable(&error), "{error:#}");
        codes.push(sqlstate(&error));
    }
    assert!(codes.contains(&Some("25006".to_owned())), "a read-only session was met: {codes:?}");
    let not_ready = store.ping().await.expect_err("not ready without a primary");
    assert!(not_ready.chain().any(|c| c.downcast_ref::<NotPrimary>().is_some()), "{not_ready:#}");
    assert!(sanhu_store::is_unavailable(&not_ready));
    // Reads still answer from a read-only session.
    assert_eq!(store.get_account(wallet.id).await.unwrap().unwrap().counters.credits_posted, 100);

    // The server takes writes again. Nothing cuts the read-only sessions: the store gave them up itself.
    let failed = pay(&store, &funding, &wallet, 7).await.expect_err("read-only still");
    assert!(sanhu_store::is_unavailable(&failed));
    switch.take_writes().await;
    store.ping().await.expect("ready once the server takes writes");
    pay(&store, &funding, &wallet, 11).await.expect("the next write succeeds");
    let counters = store.get_account(wallet.id).await.unwrap().unwrap().counters;
    assert_eq!(counters.credits_posted, 111, "nothing refused was applied");
    let report = store.verify().await.unwrap();
    assert!(report.problems.is_empty(), "{:?}", report.problems);
}

/// The URL names two hosts, the first where nothing listens, and asks for the one that takes writes
/// (`target_session_attrs=read-write`): the store reaches the second; when no host takes writes every
/// call is unavailable (503, never 500) and readiness fails; when one takes writes again the store
/// uses it without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_url_of_several_hosts_reaches_the_one_that_takes_writes() {
    let db = postgres_or_skip!();
    let switch = WriteSwitch::create().await;
    let url = switch.url_of_hosts(&db.url);
    let store = open(&url).await;
    let (funding, wallet) = (ledger::new_platform("basic"), ledger::new_wallet("basic"));
    store.create_accounts(&[funding.clone(), wallet.clone()]).await.unwrap();
    pay(&store, &funding, &wallet, 100).await.unwrap();

    switch.stop_writes().await;
    for _ in 0..3 {
        let error = pay(&store, &funding, &wallet, 7).await.expect_err("no host takes writes");
        assert!(sanhu_store::is_unavailable(&error), "{error:#}");
        let error = store.get_account(wallet.id).await.expect_err("no host is connected to");
        assert!(sanhu_store::is_unavailable(&error), "{error:#}");
    }
    assert!(store.ping().await.is_err(), "not ready without a primary");
    assert!(Store::open(&url, &StoreOptions::default()).await.is_err(), "no store opens without a primary");

    switch.take_writes().await;
    store.ping().await.expect("ready once a host takes writes");
    pay(&store, &funding, &wallet, 11).await.expect("the next write succeeds");
    assert_eq!(store.get_account(wallet.id).await.unwrap().unwrap().counters.credits_posted, 111);
}
