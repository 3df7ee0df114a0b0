//! An account's statement and past balances on both backends, over enough entries to cross many
//! entry checkpoints: every page of every range, and the balance at every instant, equal what a plain
//! scan of the committed transfers gives.

use sanhu_core::ledger::{Account, BalanceLimit, Counters, NormalSide, Transfer, TransferRequest};
use sanhu_core::{AccountId, Timestamp, TransferId};
use sanhu_store::{on_both_backends, EntryQuery, LedgerStore};
use sanhu_testkit::ledger;

fn account(n: u128, side: NormalSide) -> Account {
    ledger::account(n, side, BalanceLimit::Unlimited)
}

fn post(n: u128, debit: AccountId, credit: AccountId, amount: i64) -> TransferRequest {
    ledger::post(TransferId::from_u128(n).unwrap(), debit, credit, amount)
}

on_both_backends!(statements_and_past_balances_match_a_plain_scan_across_checkpoints, |db| {
    // A hot account (1) on one side of every transfer, four others taking turns on the other side.
    let accounts: Vec<Account> = (1..=5).map(|n| account(n, NormalSide::Credit)).collect();
    db.store.create_accounts(&accounts).await.unwrap();
    let hot = accounts[0].id;
    let mut committed: Vec<Transfer> = Vec::new();
    let mut n = 0u128;
    for batch in 0..9 {
        let requests: Vec<TransferRequest> = (0..97)
            .map(|i| {
                n += 1;
                let other = accounts[1 + (i % 4)].id;
                if i % 3 == 0 {
                    post(n, hot, other, 1 + i as i64)
                } else {
                    post(n, other, hot, 2 + i as i64)
                }
            })
            .collect();
        let now = Timestamp(1_000_000 * (batch + 1));
        for result in db.store.commit_batch(requests, now).await.unwrap() {
            committed.push(result.unwrap());
        }
    }
    let hot_entries: Vec<&Transfer> =
        committed.iter().filter(|t| t.debit_account_id == hot || t.credit_account_id == hot).collect();
    assert_eq!(hot_entries.len(), 9 * 97);

    // Every page of several ranges, walked with the cursor, equals the scan.
    let first = hot_entries[0].timestamp.nanos();
    let last = hot_entries.last().unwrap().timestamp.nanos();
    let ranges = [
        (None, None),
        (Some(first), Some(last + 1)),
        (Some(first + 300), Some(last - 300)),
        (Some(hot_entries[200].timestamp.nanos()), Some(hot_entries[201].timestamp.nanos())),
        (Some(last + 1), None),
    ];
    for (from, to) in ranges {
        for limit in [1u32, 50, 128, 1000] {
            let expected: Vec<TransferId> = hot_entries
                .iter()
                .filter(|t| from.is_none_or(|f| t.timestamp.nanos() >= f) && to.is_none_or(|u| t.timestamp.nanos() < u))
                .map(|t| t.id)
                .collect();
            let mut got = Vec::new();
            let mut after = None;
            loop {
                let page = db
                    .store
                    .account_entries(&EntryQuery {
                        account_id: hot,
                        from: from.map(Timestamp),
                        to: to.map(Timestamp),
                        after,
                        limit,
                    })
                    .await
                    .unwrap();
                assert!(page.len() <= limit as usize);
                got.extend(page.iter().map(|t| t.id));
                match page.last() {
                    Some(t) if page.len() == limit as usize => after = Some(t.timestamp),
                    _ => break,
                }
                assert!(got.len() <= expected.len(), "more entries than exist for {from:?}..{to:?}");
            }
            assert_eq!(got, expected, "range {from:?}..{to:?} with pages of {limit}");
        }
    }

    // The balance at every instant: just before, at and just after each entry.
    let mut running = Counters::default();
    let side = |t: &Transfer| if t.debit_account_id == hot { t.debit_account_after } else { t.credit_account_after };
    assert_eq!(db.store.counters_at(hot, Timestamp(first - 1)).await.unwrap(), Counters::default());
    for (i, t) in hot_entries.iter().enumerate() {
        if i % 7 != 0 && i + 1 != hot_entries.len() {
            running = side(t);
            continue;
        }
        assert_eq!(db.store.counters_at(hot, Timestamp(t.timestamp.nanos() - 1)).await.unwrap(), running);
        running = side(t);
        assert_eq!(db.store.counters_at(hot, t.timestamp).await.unwrap(), running);
    }
    let now = db.store.get_account(hot).await.unwrap().unwrap().counters;
    assert_eq!(db.store.counters_at(hot, Timestamp(i64::MAX)).await.unwrap(), now);
    assert!(db.store.verify().await.unwrap().problems.is_empty());
});
