//! The PostgreSQL store through the `LedgerStore` trait, each test on a fresh schema. Skipped (with a
//! message) when PostgreSQL is unreachable outside CI.

use std::time::Instant;

use sanhu_core::ledger::{
    Account, AccountFlags, Counters, PendingStatus, Transfer, TransferAction, TransferError, TransferRequest,
};
use sanhu_core::{AccountId, Amount, Timestamp};
use sanhu_store::testing::TestDatabase;
use sanhu_store::{
    AccessStore, ApiClient, DatabaseStore, EntryQuery, IdempotencyBegin, IdempotencyClaim, IdempotencyKey, LedgerStore,
    Store, StoredResponse, IDEMPOTENCY_CLAIM_LEASE_S,
};
use sanhu_testkit::ledger::{self, new_account_id, new_transfer_id, now};

const SECOND: i64 = 1_000_000_000;

fn platform() -> Account {
    ledger::new_platform("basic")
}

fn wallet() -> Account {
    ledger::new_wallet("basic")
}

fn request(action: TransferAction) -> TransferRequest {
    ledger::request(new_transfer_id(), action, "pay")
}

fn post(debit: AccountId, credit: AccountId, amount: i64) -> TransferRequest {
    request(ledger::post_action(debit, credit, amount))
}

fn hold(debit: AccountId, credit: AccountId, amount: i64, timeout_s: Option<u32>) -> TransferRequest {
    request(TransferAction::Hold {
        debit_account_id: debit,
        credit_account_id: credit,
        amount: Amount::new(amount).unwrap(),
        balancing: false,
        timeout_s,
    })
}

async fn create(store: &Store, accounts: &[&Account]) {
    for a in accounts {
        store.create_account(a).await.unwrap();
    }
}

async fn commit(store: &Store, requests: Vec<TransferRequest>) -> Vec<Result<Transfer, TransferError>> {
    store.commit_batch(requests, now()).await.unwrap()
}

async fn commit_one(store: &Store, request: TransferRequest) -> Result<Transfer, TransferError> {
    commit(store, vec![request]).await.pop().unwrap()
}

async fn counters(store: &Store, id: AccountId) -> Counters {
    store.get_account(id).await.unwrap().unwrap().counters
}

async fn assert_verifies(store: &Store) {
    let report = store.verify().await.unwrap();
    assert!(report.problems.is_empty(), "verify found problems: {:#?}", report.problems);
}

/// A raw connection to the test's schema, to corrupt what the store wrote.
async fn raw(db: &TestDatabase) -> tokio_postgres::Client {
    let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    client
}

macro_rules! postgres_or_skip {
    () => {
        match TestDatabase::postgres().await {
            Some(db) => db,
            None => return,
        }
    };
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_again_or_from_two_instances_at_once_is_harmless() {
    let db = postgres_or_skip!();
    assert_eq!(db.store.backend(), "postgres");
    db.store.migrate().await.unwrap();
    let other = db.open_another().await;
    let (a, b) = tokio::join!(db.store.migrate(), other.migrate());
    a.unwrap();
    b.unwrap();
    let row = raw(&db).await.query_one("SELECT count(*), max(version) FROM sanhu_migrations", &[]).await.unwrap();
    let (versions, last): (i64, i32) = (row.get(0), row.get(1));
    assert!(last >= 6, "the schema is at version {last}");
    assert_eq!(versions, i64::from(last), "versions 1 to {last}, each applied once");
    db.store.ping().await.unwrap();
    let durability = db.store.durability().await.unwrap();
    assert!(durability.durable, "{}", durability.setting);
    assert_eq!(durability.setting, "synchronous_commit=on fsync=on");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accounts_are_created_listed_and_their_flags_changed() {
    let db = postgres_or_skip!();
    let store = &db.store;
    let (a, b, c) = (wallet(), platform(), wallet());
    create(store, &[&a, &b]).await;
    store.create_accounts(std::slice::from_ref(&c)).await.unwrap();
    assert!(store.create_account(&a).await.is_err(), "an account id is unique");

    assert_eq!(store.get_account(a.id).await.unwrap(), Some(a.clone()));
    assert_eq!(store.get_account(b.id).await.unwrap(), Some(b.clone()));
    assert_eq!(store.get_account(new_account_id()).await.unwrap(), None);

    let all = store.list_accounts(None, 10).await.unwrap();
    assert_eq!(all, vec![a.clone(), b.clone(), c.clone()], "id order, which is creation order here");
    assert_eq!(store.list_accounts(Some(a.id), 1).await.unwrap(), vec![b.clone()]);
    assert!(store.list_accounts(Some(c.id), 10).await.unwrap().is_empty());

    let got = store.get_accounts(&[c.id, new_account_id(), a.id]).await.unwrap();
    assert_eq!(got, vec![c.clone(), a.clone()], "in the order asked, missing ones left out");

    let closed = store
        .update_account_flags::<&str>(a.id, Box::new(|account| Ok(AccountFlags { closed: true, ..account.flags })))
        .await
        .unwrap();
    assert!(closed.unwrap().unwrap().flags.closed);
    assert!(store.get_account(a.id).await.unwrap().unwrap().flags.closed);
    let refused = store.update_account_flags::<&str>(a.id, Box::new(|_| Err("already closed"))).await.unwrap();
    assert_eq!(refused.unwrap().unwrap_err(), "already closed");
    assert!(store.get_account(a.id).await.unwrap().unwrap().flags.closed, "a refusal changes nothing");
    let missing = store
        .update_account_flags::<&str>(new_account_id(), Box::new(|_| unreachable!("no account to show")))
        .await
        .unwrap();
    assert!(missing.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_posted_transfer_moves_money_and_is_read_back() {
    let db = postgres_or_skip!();
    let store = &db.store;
    let (bank, member) = (platform(), wallet());
    create(store, &[&bank, &member]).await;
    let mut recharge = post(bank.id, member.id, 1000);
    recharge.reference = Some("order-1".to_owned());
    recharge.code = "recharge".to_owned();
    recharge.metadata = r#"{"channel":"alipay"}"#.to_owned();
    let transfer = commit_one(store, recharge.clone()).await.unwrap();
    assert_eq!(transfer.amount, 1000);
    assert_eq!(transfer.credit_account_after.credits_posted, 1000);
    assert_eq!(store.get_account(member.id).await.unwrap().unwrap().balance(), 1000);
    assert_eq!(store.get_account(bank.id).await.unwrap().unwrap().balance(), 1000);
    assert_eq!(store.get_account(member.id).await.unwrap().unwrap().last_transfer_at, transfer.timestamp);
    assert_eq!(store.get_transfer(transfer.id).await.unwrap(), Some(transfer.clone()));
    assert_eq!(store.get_transfer(new_transfer_id()).await.unwrap(), None);
    assert_eq!(store.transfers_by_reference("order-1", 10).await.unwrap(), vec![transfer.clone()]);
    assert!(store.transfers_by_reference("order-2", 10).await.unwrap().is_empty());

    // More than the wallet holds is refused and changes nothing.
    let refused = commit_one(store, post(member.id, bank.id, 1001)).await;
    assert_eq!(refused, Err(TransferError::InsufficientFunds));
    assert_eq!(counters(store, member.id).await.credits_posted, 1000);
    assert_verifies(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hold_is_posted_in_part_or_voided() {
    let db = postgres_or_skip!();
    let store = &db.store;
    let (bank, member, merchant) = (platform(), wallet(), wallet());
    create(store, &[&bank, &member, &merchant]).await;
    commit_one(store, post(bank.id, member.id, 1000)).await.unwrap();

    let held = commit_one(store, hold(member.id, merchant.id, 600, None)).await.unwrap();
    let member_account = store.get_account(member.id).await.unwrap().unwrap();
    assert_eq!((member_account.balance(), member_account.available()), (1000, 400));
    let record = store.pending_status(held.id).await.unwrap().unwrap();
    assert_eq!(
        (record.status, record.amount, record.debit_account_id, record.credit_account_id, record.expires_at),
        (PendingStatus::Pending, 600, member.id, merchant.id, None)
    );
    assert_eq!(store.pending_status(new_transfer_id()).await.unwrap(), None);

    // Post 250 of the 600: the rest goes back to the member.
    let posted = commit_one(
        store,
        request(TransferAction::PostPending { pending_id: held.id, amount: Some(Amount::new(250).unwrap()) }),
    )
    .await
    .unwrap();
    assert_eq!(posted.amount, 250);
    let member_account = store.get_account(member.id).await.unwrap().unwrap();
    assert_eq!((member_account.balance(), member_account.available()), (750, 750));
    assert_eq!(counters(store, merchant.id).await, Counters { credits_posted: 250, ..Counters::default() });
    assert_eq!(store.pending_status(held.id).await.unwrap().unwrap().status, PendingStatus::Posted);
    let again = commit_one(store, request(TransferAction::VoidPending { pending_id: held.id })).await;
    assert_eq!(again, Err(TransferError::PendingAlreadyPosted));

    // A second hold, voided: everything held comes back.
    let held = commit_one(store, hold(member.id, merchant.id, 700, Some(3600))).await.unwrap();
    assert_eq!(store.get_account(member.id).await.unwrap().unwrap().available(), 50);
    let voided = commit_one(store, request(TransferAction::VoidPending { pending_id: held.id })).await.unwrap();
    assert_eq!(voided.amount, 700);
    assert_eq!(store.get_account(member.id).await.unwrap().unwrap().available(), 750);
    assert_eq!(store.pending_status(held.id).await.unwrap().unwrap().status, PendingStatus::Voided);
    assert_eq!(counters(store, merchant.id).await, Counters { credits_posted: 250, ..Counters::default() });
    assert_verifies(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_due_hold_is_listed_and_expires() {
    let db = postgres_or_skip!();
    let store = &db.store;
    let (bank, member) = (platform(), wallet());
    create(store, &[&bank, &member]).await;
    let start = now();
    let held = store.commit_batch(vec![hold(bank.id, member.id, 90, Some(10))], start).await.unwrap().pop();
    let held = held.unwrap().unwrap();
    let expires_at = held.timestamp.add_seconds(10).unwrap();
    assert_eq!(store.pending_status(held.id).await.unwrap().unwrap().expires_at, Some(expires_at));
    assert!(store.due_pendings(Timestamp(expires_at.nanos() - 1), 10).await.unwrap().is_empty());
    assert_eq!(store.due_pendings(expires_at, 10).await.unwrap(), vec![held.id]);

    let later = Timestamp(start.nanos() + 11 * SECOND);
    let late_post = request(TransferAction::PostPending { pending_id: held.id, amount: None });
    let results = store.commit_batch(vec![late_post], later).await.unwrap();
    assert_eq!(results, vec![Err(TransferError::PendingExpired)]);
    let expire = request(TransferAction::ExpirePending { pending_id: held.id });
    let expired = store.commit_batch(vec![expire], later).await.unwrap().pop().unwrap().unwrap();
    assert_eq!(expired.amount, 90);
    assert_eq!(store.pending_status(held.id).await.unwrap().unwrap().status, PendingStatus::Expired);
    assert!(store.due_pendings(later, 10).await.unwrap().is_empty());
    assert_eq!(counters(store, member.id).await, Counters::default());
    assert_verifies(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubmitted_transfer_returns_the_first_and_a_changed_one_is_refused() {
    let db = postgres_or_skip!();
    let store = &db.store;
    let (bank, member) = (platform(), wallet());
    create(store, &[&bank, &member]).await;
    let first = post(bank.id, member.id, 500);
    let transfer = commit_one(store, first.clone()).await.unwrap();
    let again = commit_one(store, first.clone()).await.unwrap();
    assert_eq!(again, transfer, "the stored transfer, timestamp and counters included");
    let mut changed = first.clone();
    changed.action = TransferAction::Post {
        debit_account_id: bank.id,
        credit_account_id: member.id,
        amount: Amount::new(501).unwrap(),
        balancing: false,
    };
    assert_eq!(commit_one(store, changed).await, Err(TransferError::ExistsWithDifferentFields));
    let mut other_reference = first.clone();
    other_reference.reference = Some("another order".to_owned());
    assert_eq!(commit_one(store, other_reference).await, Err(TransferError::ExistsWithDifferentFields));
    assert_eq!(counters(store, member.id).await.credits_posted, 500, "applied once");

    // A resubmitted hold and its post, in one batch with a new transfer.
    let held = hold(member.id, bank.id, 100, None);
    let held_transfer = commit_one(store, held.clone()).await.unwrap();
    let post_hold = request(TransferAction::PostPending { pending_id: held_transfer.id, amount: None });
    let results = commit(store, vec![held.clone(), post_hold, post(bank.id, member.id, 7)]).await;
    assert_eq!(results[0], Ok(held_transfer));
    assert_eq!(results[1].as_ref().unwrap().amount, 100);
    assert!(results[2].is_ok());
    assert_eq!(
        counters(store, member.id).await,
        Counters { debits_posted: 100, credits_posted: 507, ..Counters::default() }
    );
    assert_verifies(store).await;
}

/// A batch is first tried without looking its ids up; a resubmission must still be answered with the
/// stored transfer, also where applying it afresh would fail, alone or among new transfers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resubmission_that_would_now_fail_returns_the_stored_transfer() {
    let db = postgres_or_skip!();
    let store = &db.store;
    let (bank, member, merchant) = (platform(), wallet(), wallet());
    create(store, &[&bank, &member, &merchant]).await;
    commit_one(store, post(bank.id, member.id, 100)).await.unwrap();
    let pay = post(member.id, merchant.id, 100);
    let paid = commit_one(store, pay.clone()).await.unwrap();
    let held = commit_one(store, hold(merchant.id, bank.id, 40, None)).await.unwrap();
    let settle = request(TransferAction::PostPending { pending_id: held.id, amount: None });
    let settled = commit_one(store, settle.clone()).await.unwrap();

    // Applied afresh, the payment would find the member empty and the post the hold posted.
    assert_eq!(commit_one(store, pay.clone()).await, Ok(paid.clone()));
    assert_eq!(commit_one(store, settle.clone()).await, Ok(settled.clone()));
    let fresh = post(bank.id, member.id, 7);
    let results = commit(store, vec![pay, fresh, settle]).await;
    assert_eq!(results[0], Ok(paid));
    assert!(results[1].is_ok());
    assert_eq!(results[2], Ok(settled));
    assert_eq!(
        counters(store, member.id).await,
        Counters { debits_posted: 100, credits_posted: 107, ..Counters::default() }
    );
    assert_eq!(
        counters(store, merchant.id).await,
        Counters { debits_posted: 40, credits_posted: 100, ..Counters::default() }
    );
    assert_verifies(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_linked_chain_whose_second_member_fails_changes_nothing() {
    let db = postgres_or_skip!();
    let store = &db.store;
    let (bank, member, merchant) = (platform(), wallet(), wallet());
    create(store, &[&bank, &member, &merchant]).await;
    commit_one(store, post(bank.id, member.id, 100)).await.unwrap();
    let before = (counters(store, member.id).await, counters(store, merchant.id).await);

    let mut first = post(member.id, merchant.id, 60);
    first.linked = true;
    let mut first_hold = hold(member.id, merchant.id, 10, None);
    first_hold.linked = true;
    let second = post(member.id, merchant.id, 60);
    let unrelated = post(bank.id, merchant.id, 5);
    let results = commit(store, vec![first.clone(), first_hold.clone(), second.clone(), unrelated.clone()]).await;
    assert_eq!(results[0], Err(TransferError::LinkedEventFailed));
    assert_eq!(results[1], Err(TransferError::LinkedEventFailed));
    assert_eq!(results[2], Err(TransferError::InsufficientFunds));
    assert!(results[3].is_ok(), "outside the chain");
    assert_eq!(counters(store, member.id).await, before.0);
    assert_eq!(counters(store, merchant.id).await.credits_posted, before.1.credits_posted + 5);
    for id in [first.id, first_hold.id, second.id] {
        assert_eq!(store.get_transfer(id).await.unwrap(), None);
    }
    assert_eq!(store.pending_status(first_hold.id).await.unwrap(), None, "the chain's hold was never written");
    assert_verifies(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn entries_list_an_accounts_transfers_and_counters_at_give_past_balances() {
    let db = postgres_or_skip!();
    let store = &db.store;
    let (bank, member, merchant) = (platform(), wallet(), wallet());
    create(store, &[&bank, &member, &merchant]).await;
    let mut transfers = Vec::new();
    for amount in [100, 200, 300] {
        transfers.push(commit_one(store, post(bank.id, member.id, amount)).await.unwrap());
        transfers.push(commit_one(store, post(member.id, merchant.id, amount / 2)).await.unwrap());
    }
    // Another account's transfer is not the member's entry.
    commit_one(store, post(bank.id, merchant.id, 1)).await.unwrap();

    let query = |from, to, after, limit| EntryQuery { account_id: member.id, from, to, after, limit };
    let all = store.account_entries(&query(None, None, None, 100)).await.unwrap();
    assert_eq!(all, transfers, "debit and credit entries merged in timestamp order");
    let page = store.account_entries(&query(None, None, None, 4)).await.unwrap();
    assert_eq!(page, transfers[..4]);
    let next = store.account_entries(&query(None, None, Some(page[3].timestamp), 4)).await.unwrap();
    assert_eq!(next, transfers[4..]);
    let window =
        store.account_entries(&query(Some(transfers[1].timestamp), Some(transfers[4].timestamp), None, 100)).await;
    assert_eq!(window.unwrap(), transfers[1..4], "from is inclusive, to exclusive");

    let zero = Timestamp(transfers[0].timestamp.nanos() - 1);
    assert_eq!(store.counters_at(member.id, zero).await.unwrap(), Counters::default());
    for t in &transfers {
        let expected = if t.debit_account_id == member.id { t.debit_account_after } else { t.credit_account_after };
        assert_eq!(store.counters_at(member.id, t.timestamp).await.unwrap(), expected);
        let just_after = Timestamp(t.timestamp.nanos() + 1);
        assert_eq!(store.counters_at(member.id, just_after).await.unwrap(), expected);
    }
    assert_eq!(store.counters_at(member.id, now()).await.unwrap(), counters(store, member.id).await);
    assert_eq!(
        counters(store, member.id).await,
        Counters { debits_posted: 300, credits_posted: 600, ..Counters::default() }
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_is_clean_after_transfers_and_finds_corruption() {
    let db = postgres_or_skip!();
    let store = &db.store;
    let (bank, member, merchant) = (platform(), wallet(), wallet());
    create(store, &[&bank, &member, &merchant]).await;
    assert_verifies(store).await;
    commit_one(store, post(bank.id, member.id, 1000)).await.unwrap();
    let held = commit_one(store, hold(member.id, merchant.id, 400, None)).await.unwrap();
    commit_one(
        store,
        request(TransferAction::PostPending { pending_id: held.id, amount: Some(Amount::new(100).unwrap()) }),
    )
    .await
    .unwrap();
    let voided = commit_one(store, hold(member.id, merchant.id, 50, None)).await.unwrap();
    commit_one(store, request(TransferAction::VoidPending { pending_id: voided.id })).await.unwrap();
    commit_one(store, hold(member.id, merchant.id, 30, None)).await.unwrap();
    let report = store.verify().await.unwrap();
    assert!(report.problems.is_empty(), "{:#?}", report.problems);
    assert_eq!((report.accounts_checked, report.transfers_checked), (3, 6));

    let sql = raw(&db).await;
    let member_uuid = uuid::Uuid::from_u128(member.id.as_u128());
    sql.execute("UPDATE ledger_accounts SET credits_posted = credits_posted + 1 WHERE id = $1", &[&member_uuid])
        .await
        .unwrap();
    let problems = store.verify().await.unwrap().problems;
    assert!(problems.iter().any(|p| p.contains(&member.id.to_string())), "{problems:#?}");
    assert!(problems.iter().any(|p| p.contains("CNY: posted debits")), "{problems:#?}");
    sql.execute("UPDATE ledger_accounts SET credits_posted = credits_posted - 1 WHERE id = $1", &[&member_uuid])
        .await
        .unwrap();
    assert_verifies(store).await;

    // An entry's recorded balance after it, wrong in the middle of the account's history.
    let held_uuid = uuid::Uuid::from_u128(held.id.as_u128());
    sql.execute("UPDATE ledger_transfers SET dr_debits_pending = 1 WHERE id = $1", &[&held_uuid]).await.unwrap();
    let problems = store.verify().await.unwrap().problems;
    assert!(problems.iter().any(|p| p.contains(&held.id.to_string())), "{problems:#?}");
    sql.execute("UPDATE ledger_transfers SET dr_debits_pending = 400 WHERE id = $1", &[&held_uuid]).await.unwrap();
    assert_verifies(store).await;

    // A link that skips an entry of the account: the entry chain is broken there.
    let (previous,): (Option<uuid::Uuid>,) = {
        let row = sql.query_one("SELECT dr_prev_id FROM ledger_transfers WHERE id = $1", &[&held_uuid]).await.unwrap();
        (row.get(0),)
    };
    assert!(previous.is_some(), "the hold follows the member's first entry");
    sql.execute("UPDATE ledger_transfers SET dr_prev_id = NULL WHERE id = $1", &[&held_uuid]).await.unwrap();
    let problems = store.verify().await.unwrap().problems;
    assert!(problems.iter().any(|p| p.contains(&held.id.to_string()) && p.contains("previous entry")), "{problems:#?}");
    sql.execute("UPDATE ledger_transfers SET dr_prev_id = $2 WHERE id = $1", &[&held_uuid, &previous]).await.unwrap();
    assert_verifies(store).await;

    // The account row's end of its chain, or its count, disagreeing with its entries.
    sql.execute("UPDATE ledger_accounts SET entry_count = entry_count + 1 WHERE id = $1", &[&member_uuid])
        .await
        .unwrap();
    let problems = store.verify().await.unwrap().problems;
    assert!(problems.iter().any(|p| p.contains(&member.id.to_string()) && p.contains("entries")), "{problems:#?}");
    sql.execute("UPDATE ledger_accounts SET entry_count = entry_count - 1 WHERE id = $1", &[&member_uuid])
        .await
        .unwrap();
    sql.execute("UPDATE ledger_accounts SET last_entry_id = $2 WHERE id = $1", &[&member_uuid, &held_uuid])
        .await
        .unwrap();
    let problems = store.verify().await.unwrap().problems;
    assert!(problems.iter().any(|p| p.contains(&member.id.to_string()) && p.contains("entries")), "{problems:#?}");

    // A checkpoint where there should be none.
    let mut checkpoint_store = raw(&db).await;
    let tx = checkpoint_store.transaction().await.unwrap();
    tx.execute(
        "INSERT INTO ledger_entry_checkpoints (account_id, timestamp, transfer_id) SELECT $1, timestamp, id \
         FROM ledger_transfers WHERE id = $2",
        &[&member_uuid, &held_uuid],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let problems = store.verify().await.unwrap().problems;
    assert!(problems.iter().any(|p| p.contains("checkpoint") && p.contains(&held.id.to_string())), "{problems:#?}");
}

/// Places `n` posts in batches of `per_batch`, alternating direction, between `hot` and the others.
async fn posts_around(
    store: &Store,
    hot: AccountId,
    others: &[AccountId],
    n: usize,
    per_batch: usize,
) -> Vec<Transfer> {
    let mut committed = Vec::new();
    let mut i = 0;
    while i < n {
        let requests: Vec<TransferRequest> = (i..n.min(i + per_batch))
            .map(|k| {
                let other = others[k % others.len()];
                if k % 3 == 0 {
                    post(other, hot, 5 + k as i64)
                } else {
                    post(hot, other, 1 + (k % 4) as i64)
                }
            })
            .collect();
        i += requests.len();
        for result in commit(store, requests).await {
            committed.push(result.unwrap());
        }
    }
    committed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migrating_a_version_1_ledger_links_its_entries_as_the_writer_does() {
    let db = postgres_or_skip!();
    let store = &db.store;
    let (bank, hot, a, b) = (platform(), platform(), wallet(), wallet());
    create(store, &[&bank, &hot, &a, &b]).await;
    commit(store, vec![post(bank.id, a.id, 100_000), post(bank.id, b.id, 100_000)]).await;
    posts_around(store, hot.id, &[a.id, b.id], 300, 70).await;
    let held = commit_one(store, hold(a.id, hot.id, 10, None)).await.unwrap();
    commit_one(store, request(TransferAction::PostPending { pending_id: held.id, amount: None })).await.unwrap();

    // The same ledger in a schema of version 1: its tables and the columns they had.
    let sql = raw(&db).await;
    let current: String = sql.query_one("SELECT current_schema()", &[]).await.unwrap().get(0);
    let old = format!("{current}_v1");
    let old_url = db.url.replace(&format!("search_path%3D{current}"), &format!("search_path%3D{old}"));
    assert_ne!(old_url, db.url);
    sql.batch_execute(&format!("CREATE SCHEMA {old}")).await.unwrap();
    let (old_sql, connection) = tokio_postgres::connect(&old_url, tokio_postgres::NoTls).await.unwrap();
    tokio::spawn(connection);
    old_sql.batch_execute(include_str!("../../src/postgres/schema.sql")).await.unwrap();
    old_sql
        .batch_execute(&format!(
            "CREATE TABLE sanhu_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL);
             INSERT INTO sanhu_migrations VALUES (1, 0);
             INSERT INTO ledger_accounts SELECT id, currency, normal_side, overdraft, flags, debits_pending,
                 debits_posted, credits_pending, credits_posted, code, metadata, created_at, last_transfer_at
                 FROM {current}.ledger_accounts;
             INSERT INTO ledger_transfers SELECT id, kind, debit_account_id, credit_account_id, amount, pending_id,
                 timeout_s, flags, requested_amount, code, reference, metadata, timestamp, dr_debits_pending,
                 dr_debits_posted, dr_credits_pending, dr_credits_posted, cr_debits_pending, cr_debits_posted,
                 cr_credits_pending, cr_credits_posted FROM {current}.ledger_transfers;
             INSERT INTO ledger_pendings SELECT * FROM {current}.ledger_pendings;"
        ))
        .await
        .unwrap();
    let migrated = Store::open(&old_url, &Default::default()).await.unwrap();
    migrated.migrate().await.unwrap();

    // Links, chain ends, counts and checkpoints: what the writer recorded, entry for entry.
    for query in [
        "SELECT id::text, dr_prev_id::text, cr_prev_id::text FROM ledger_transfers ORDER BY id",
        "SELECT id::text, last_entry_id::text, entry_count::text FROM ledger_accounts ORDER BY id",
        "SELECT account_id::text, timestamp::text, transfer_id::text FROM ledger_entry_checkpoints ORDER BY 1, 2",
    ] {
        let rows = |rows: Vec<tokio_postgres::Row>| -> Vec<[Option<String>; 3]> {
            rows.iter().map(|r| [r.get(0), r.get(1), r.get(2)]).collect()
        };
        let written = rows(sql.query(query, &[]).await.unwrap());
        let backfilled = rows(old_sql.query(query, &[]).await.unwrap());
        assert!(!written.is_empty(), "{query}");
        assert_eq!(backfilled, written, "{query}");
    }
    let checkpoints: i64 =
        old_sql.query_one("SELECT count(*) FROM ledger_entry_checkpoints", &[]).await.unwrap().get(0);
    assert_eq!(checkpoints, 4, "the hot account's 128th and 256th entries, and the 128th of a and of b");
    assert_verifies(&migrated).await;
    let all = EntryQuery { account_id: hot.id, from: None, to: None, after: None, limit: 1000 };
    assert_eq!(migrated.account_entries(&all).await.unwrap(), store.account_entries(&all).await.unwrap());
    assert_eq!(migrated.account_entries(&all).await.unwrap().len(), 302);

    // The migrated ledger takes new batches where it left off.
    posts_around(&migrated, hot.id, &[a.id, b.id], 40, 40).await;
    assert_verifies(&migrated).await;
    drop(migrated);
    sql.batch_execute(&format!("DROP SCHEMA {old} CASCADE")).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_move_money_both_ways_between_two_accounts_at_once() {
    let db = postgres_or_skip!();
    let (one, two) = (db.store.clone(), db.open_another().await);
    let (bank, a, b) = (platform(), wallet(), wallet());
    create(&one, &[&bank, &a, &b]).await;
    const FUNDS: i64 = 1_000_000;
    commit(&one, vec![post(bank.id, a.id, FUNDS), post(bank.id, b.id, FUNDS)]).await;

    const BATCHES: usize = 200;
    const PER_BATCH: i64 = 10;
    let run = |store: Store, from: AccountId, to: AccountId| {
        tokio::spawn(async move {
            for _ in 0..BATCHES {
                let requests = (1..=PER_BATCH).map(|amount| post(from, to, amount)).collect();
                for result in store.commit_batch(requests, now()).await.unwrap() {
                    result.unwrap();
                }
            }
        })
    };
    let started = Instant::now();
    let forth = run(one.clone(), a.id, b.id);
    let back = run(two.clone(), b.id, a.id);
    forth.await.unwrap();
    back.await.unwrap();
    eprintln!("{} batches each way in {:?}", BATCHES, started.elapsed());

    let moved = BATCHES as i64 * (1..=PER_BATCH).sum::<i64>();
    let (a_now, b_now) = (counters(&two, a.id).await, counters(&two, b.id).await);
    assert_eq!(a_now, Counters { debits_posted: moved, credits_posted: FUNDS + moved, ..Counters::default() });
    assert_eq!(b_now, Counters { debits_posted: moved, credits_posted: FUNDS + moved, ..Counters::default() });
    let query = EntryQuery { account_id: a.id, from: None, to: None, after: None, limit: 10_000 };
    let entries = one.account_entries(&query).await.unwrap();
    assert_eq!(entries.len(), 1 + 2 * BATCHES * PER_BATCH as usize);
    assert!(entries.windows(2).all(|w| w[0].timestamp < w[1].timestamp), "one order per account");
    // Both instances extended one chain of entries per account: read in pages from the other
    // instance, and balances at past instants, it is the same history.
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = two.account_entries(&EntryQuery { after, limit: 300, ..query.clone() }).await.unwrap();
        paged.extend(page.iter().cloned());
        match page.last() {
            Some(last) if page.len() == 300 => after = Some(last.timestamp),
            _ => break,
        }
    }
    assert_eq!(paged, entries);
    for entry in entries.iter().step_by(97) {
        let side = if entry.debit_account_id == a.id { entry.debit_account_after } else { entry.credit_account_after };
        assert_eq!(two.counters_at(a.id, entry.timestamp).await.unwrap(), side);
    }
    assert_verifies(&two).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_submitting_the_same_transfers_at_once_apply_them_once() {
    let db = postgres_or_skip!();
    let (one, two) = (db.store.clone(), db.open_another().await);
    let (bank, member) = (platform(), wallet());
    create(&one, &[&bank, &member]).await;
    const ROUNDS: usize = 30;
    for _ in 0..ROUNDS {
        let requests: Vec<TransferRequest> = (0..20).map(|_| post(bank.id, member.id, 3)).collect();
        let (first, second) =
            tokio::join!(one.commit_batch(requests.clone(), now()), two.commit_batch(requests.clone(), now()));
        let (first, second) = (first.unwrap(), second.unwrap());
        assert!(first.iter().all(Result::is_ok), "{first:?}");
        assert_eq!(first, second, "the later one is answered as a resubmission");
    }
    assert_eq!(counters(&one, member.id).await.credits_posted, ROUNDS as i64 * 20 * 3);
    assert_verifies(&one).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_using_one_id_for_different_transfers_apply_one() {
    let db = postgres_or_skip!();
    let (one, two) = (db.store.clone(), db.open_another().await);
    // Disjoint accounts, so that neither batch waits for the other's locks: they race to insert the
    // same transfer ids, and the loser must see the winner's rows on its retry.
    let (bank, member, other_bank, other_member) = (platform(), wallet(), platform(), wallet());
    create(&one, &[&bank, &member, &other_bank, &other_member]).await;
    const ROUNDS: usize = 30;
    for _ in 0..ROUNDS {
        let mine: Vec<TransferRequest> = (0..20).map(|_| post(bank.id, member.id, 3)).collect();
        let theirs: Vec<TransferRequest> =
            mine.iter().map(|r| TransferRequest { id: r.id, ..post(other_bank.id, other_member.id, 3) }).collect();
        let (first, second) = tokio::join!(one.commit_batch(mine, now()), two.commit_batch(theirs, now()));
        let (first, second) = (first.unwrap(), second.unwrap());
        for (a, b) in first.iter().zip(&second) {
            match (a, b) {
                (Ok(_), Err(TransferError::ExistsWithDifferentFields))
                | (Err(TransferError::ExistsWithDifferentFields), Ok(_)) => {}
                other => panic!("exactly one of a pair applies: {other:?}"),
            }
        }
    }
    let applied = counters(&one, member.id).await.credits_posted + counters(&one, other_member.id).await.credits_posted;
    assert_eq!(applied, ROUNDS as i64 * 20 * 3);
    assert_verifies(&one).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotency_keys_claim_replay_mismatch_and_lapse() {
    let db = postgres_or_skip!();
    let store = &db.store;
    let key = IdempotencyKey { client_id: "cli_1".to_owned(), key: "k1".to_owned() };
    let claim = |key: &IdempotencyKey, fingerprint: &str| IdempotencyClaim::new(key.clone(), fingerprint);
    let start = now();
    let first = claim(&key, "fp");
    assert_eq!(store.begin_idempotent(&first, start).await.unwrap(), IdempotencyBegin::Claimed);
    assert_eq!(store.begin_idempotent(&claim(&key, "fp"), start).await.unwrap(), IdempotencyBegin::InUse);
    assert_eq!(store.begin_idempotent(&claim(&key, "other"), start).await.unwrap(), IdempotencyBegin::Mismatch);
    let response = StoredResponse { status: 201, body: br#"{"id":"tr_1"}"#.to_vec() };
    store.complete_idempotent(&key, &first.token, &response).await.unwrap();
    assert_eq!(
        store.begin_idempotent(&claim(&key, "fp"), start).await.unwrap(),
        IdempotencyBegin::Replay(response.clone())
    );
    assert_eq!(store.begin_idempotent(&claim(&key, "other"), start).await.unwrap(), IdempotencyBegin::Mismatch);
    store.release_idempotent(&key, &first.token).await.unwrap();
    let much_later = Timestamp(start.nanos() + 3600 * SECOND);
    assert_eq!(
        store.begin_idempotent(&claim(&key, "fp"), much_later).await.unwrap(),
        IdempotencyBegin::Replay(response),
        "a completed key is not released, and its response does not lapse"
    );

    // The same key of another client is another key.
    let theirs = IdempotencyKey { client_id: "cli_2".to_owned(), key: "k1".to_owned() };
    assert_eq!(store.begin_idempotent(&claim(&theirs, "fp"), start).await.unwrap(), IdempotencyBegin::Claimed);

    // A released claim can be claimed again at once.
    let released = IdempotencyKey { client_id: "cli_1".to_owned(), key: "k2".to_owned() };
    let first = claim(&released, "fp");
    assert_eq!(store.begin_idempotent(&first, start).await.unwrap(), IdempotencyBegin::Claimed);
    store.release_idempotent(&released, &first.token).await.unwrap();
    assert_eq!(store.begin_idempotent(&claim(&released, "fp2"), start).await.unwrap(), IdempotencyBegin::Claimed);

    // A claim of a live store holds past the lease: its request may still run, or its answer wait to
    // be kept.
    let lapsing = IdempotencyKey { client_id: "cli_1".to_owned(), key: "k3".to_owned() };
    let lease = IDEMPOTENCY_CLAIM_LEASE_S as i64 * SECOND;
    assert_eq!(store.begin_idempotent(&claim(&lapsing, "fp"), start).await.unwrap(), IdempotencyBegin::Claimed);
    let lapsed = Timestamp(start.nanos() + lease);
    assert_eq!(store.begin_idempotent(&claim(&lapsing, "fp"), lapsed).await.unwrap(), IdempotencyBegin::InUse);
    // A claim whose claimant cannot be told (made without an instance lock) lapses after the lease.
    raw(&db).await.execute("UPDATE idempotency_keys SET claimed_by = NULL WHERE key = 'k3'", &[]).await.unwrap();
    let within = Timestamp(start.nanos() + lease - 1);
    assert_eq!(store.begin_idempotent(&claim(&lapsing, "fp"), within).await.unwrap(), IdempotencyBegin::InUse);
    assert_eq!(store.begin_idempotent(&claim(&lapsing, "fp"), lapsed).await.unwrap(), IdempotencyBegin::Claimed);
    assert_eq!(
        store.begin_idempotent(&claim(&lapsing, "fp"), lapsed).await.unwrap(),
        IdempotencyBegin::InUse,
        "re-claimed"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replayed_nonce_is_refused_until_forgotten() {
    let db = postgres_or_skip!();
    let store = &db.store;
    let start = now();
    let window_start = Timestamp(start.nanos() - 300 * SECOND);
    assert!(store.record_nonce("cli_1", "n1", start, window_start).await.unwrap());
    assert!(!store.record_nonce("cli_1", "n1", start, window_start).await.unwrap(), "a replay");
    assert!(store.record_nonce("cli_2", "n1", start, window_start).await.unwrap(), "another client's nonce");
    assert!(store.record_nonce("cli_1", "n2", start, window_start).await.unwrap());
    // Once the window has moved past it, the nonce is forgotten.
    let later = Timestamp(start.nanos() + 600 * SECOND);
    let later_window = Timestamp(later.nanos() - 300 * SECOND);
    assert!(store.record_nonce("cli_1", "n3", later, later_window).await.unwrap());
    assert!(store.record_nonce("cli_1", "n1", later, later_window).await.unwrap());
    assert!(!store.record_nonce("cli_1", "n1", later, later_window).await.unwrap());
    let left: i64 = raw(&db)
        .await
        .query_one("SELECT count(*) FROM api_nonces WHERE seen_at < $1", &[&later_window.nanos()])
        .await
        .unwrap()
        .get(0);
    assert_eq!(left, 0, "old nonces are deleted");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_clients_are_created_listed_and_revoked() {
    let db = postgres_or_skip!();
    let store = &db.store;
    let start = now();
    let first = ApiClient::new("cli_a".to_owned(), "shop back-end".to_owned(), [7; 32], start);
    let second = ApiClient { id: "cli_b".to_owned(), created_at: Timestamp(start.nanos() + 1), ..first.clone() };
    store.create_client(&first).await.unwrap();
    store.create_client(&second).await.unwrap();
    assert!(store.create_client(&first).await.is_err());
    assert_eq!(store.get_client("cli_a").await.unwrap(), Some(first.clone()));
    assert_eq!(store.get_client("cli_x").await.unwrap(), None);
    assert_eq!(store.list_clients().await.unwrap(), vec![first.clone(), second.clone()]);
    let revoked_at = Timestamp(start.nanos() + 10);
    assert!(store.revoke_client("cli_a", revoked_at).await.unwrap());
    assert!(store.revoke_client("cli_a", Timestamp(start.nanos() + 20)).await.unwrap());
    assert_eq!(store.get_client("cli_a").await.unwrap().unwrap().revoked_at, Some(revoked_at), "the first revocation");
    assert!(!store.revoke_client("cli_x", revoked_at).await.unwrap());
}

/// Throughput of full batches on this machine: `cargo test --release -p sanhu-store --test
/// postgres_store -- --ignored --nocapture throughput`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a benchmark; run it in release mode"]
async fn throughput_of_full_batches() {
    let db = postgres_or_skip!();
    let store = &db.store;
    let accounts: usize = std::env::var("SANHU_BENCH_ACCOUNTS").ok().and_then(|v| v.parse().ok()).unwrap_or(10_000);
    let batches: usize = std::env::var("SANHU_BENCH_BATCHES").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    let all: Vec<Account> = (0..accounts).map(|_| platform()).collect();
    store.create_accounts(&all).await.unwrap();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut pick = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        (seed % accounts as u64) as usize
    };
    let batch_size = sanhu_core::ledger::BATCH_TRANSFERS_MAX;
    let started = Instant::now();
    for _ in 0..batches {
        let requests: Vec<TransferRequest> = (0..batch_size)
            .map(|_| {
                let debit = pick();
                let credit = (debit + 1 + pick() % (accounts - 1)) % accounts;
                post(all[debit].id, all[credit].id, 1)
            })
            .collect();
        let batch_started = Instant::now();
        let results = store.commit_batch(requests, now()).await.unwrap();
        assert!(results.iter().all(Result::is_ok));
        eprintln!("batch of {batch_size} in {:?}", batch_started.elapsed());
    }
    let elapsed = started.elapsed();
    let rate = (batches * batch_size) as f64 / elapsed.as_secs_f64();
    eprintln!("{} transfers in {elapsed:?}: {rate:.0} transfers/s", batches * batch_size);
    assert_verifies(store).await;
}
