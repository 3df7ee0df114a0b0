//! Member cards through the `CardStore` trait, every test on both backends and with two stores on one
//! database (two instances): a segment's serials go to one batch each however many batches are made
//! at once, overlapping segments are never both stored, an approved batch's cards are each taken
//! once, and a payment's refunds never add up to more than it took.

use std::collections::BTreeSet;

use sanhu_core::Timestamp;
use sanhu_store::card::{
    BatchAllocation, CardInsert, CardStore, CounterAdd, ReissueMark, StoredCard, StoredCardBatch, StoredCardSegment,
    StoredCardTransaction, StoredCardType,
};
use sanhu_store::on_both_backends;
use sanhu_store::party::PartyStore;

fn at(n: i64) -> Timestamp {
    Timestamp::from_nanos(1_700_000_000_000_000_000 + n)
}

fn segment(id: &str, prefix: &str, first: i64, last: i64) -> StoredCardSegment {
    StoredCardSegment {
        id: id.to_owned(),
        prefix: prefix.to_owned(),
        serial_digits: 8,
        first_serial: first,
        last_serial: last,
        next_serial: first,
        data: "{}".to_owned(),
        created_at: at(0),
    }
}

fn batch(id: &str, segment: &str, quantity: i64) -> StoredCardBatch {
    StoredCardBatch {
        id: id.to_owned(),
        type_id: "ctp_1".to_owned(),
        owner: "platform".to_owned(),
        segment_id: segment.to_owned(),
        first_serial: 0,
        quantity,
        sold: 0,
        status: "pending".to_owned(),
        version: 1,
        data: "{}".to_owned(),
        created_at: at(1),
    }
}

fn transaction(id: &str, kind: &str, amount: i64) -> StoredCardTransaction {
    StoredCardTransaction {
        id: id.to_owned(),
        card_number: "8601000000001".to_owned(),
        kind: kind.to_owned(),
        amount,
        refunded: 0,
        status: "in_flight".to_owned(),
        data: "{}".to_owned(),
        created_at: at(2),
    }
}

fn same_prefix_overlap(a: &StoredCardSegment, b: &StoredCardSegment) -> bool {
    a.prefix == b.prefix && a.first_serial <= b.last_serial && b.first_serial <= a.last_serial
}

on_both_backends!(a_segments_serials_go_to_one_batch_each_however_many_are_made_at_once, |db| {
    let other = db.open_another().await;
    assert!(db.store.create_card_segment(&segment("csg_a", "8601", 0, 999), same_prefix_overlap).await.unwrap());
    let mut tasks = Vec::new();
    for n in 0..40 {
        let store = if n % 2 == 0 { db.store.clone() } else { other.clone() };
        tasks.push(tokio::spawn(async move {
            let b = batch(&format!("cbt_{n:02}"), "csg_a", 30);
            (b.id.clone(), store.create_card_batch(&b).await.unwrap())
        }));
    }
    let mut ranges = Vec::new();
    let mut full = 0;
    for task in tasks {
        match task.await.unwrap() {
            (id, BatchAllocation::Allocated { first_serial }) => {
                let stored = db.store.card_batch(&id).await.unwrap().unwrap();
                assert_eq!(stored.first_serial, first_serial);
                ranges.push((first_serial, first_serial + 29));
            }
            (_, BatchAllocation::SegmentFull) => full += 1,
            (_, BatchAllocation::NoSegment) => panic!("the segment exists"),
        }
    }
    // 33 batches of 30 fit in 1,000 serials; the 34th would need 1,020.
    assert_eq!((ranges.len(), full), (33, 7));
    ranges.sort();
    for pair in ranges.windows(2) {
        assert!(pair[0].1 < pair[1].0, "{:?} and {:?} share serials", pair[0], pair[1]);
    }
    assert!(ranges.iter().all(|(first, last)| *first >= 0 && *last <= 999));
    let stored = db.store.card_segment("csg_a").await.unwrap().unwrap();
    assert_eq!(stored.next_serial, 990);
    let unknown = db.store.create_card_batch(&batch("cbt_x", "csg_none", 1)).await.unwrap();
    assert_eq!(unknown, BatchAllocation::NoSegment);
});

on_both_backends!(overlapping_segments_are_never_both_stored, |db| {
    let other = db.open_another().await;
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = if n % 2 == 0 { db.store.clone() } else { other.clone() };
        tasks.push(tokio::spawn(async move {
            let s = segment(&format!("csg_{n}"), "8602", n * 10, n * 10 + 500);
            store.create_card_segment(&s, same_prefix_overlap).await.unwrap()
        }));
    }
    let mut stored = 0;
    for task in tasks {
        stored += usize::from(task.await.unwrap());
    }
    assert_eq!(stored, 1);
    assert!(db
        .store
        .create_card_segment(&segment("csg_far", "8602", 10_000, 10_999), same_prefix_overlap)
        .await
        .unwrap());
    assert!(db.store.create_card_segment(&segment("csg_other", "8603", 0, 999), same_prefix_overlap).await.unwrap());
    let listed: Vec<String> = db.store.card_segments(None, 100).await.unwrap().into_iter().map(|s| s.id).collect();
    assert_eq!(listed.len(), 3);
});

on_both_backends!(an_approved_batchs_cards_are_each_taken_once, |db| {
    let other = db.open_another().await;
    db.store.create_card_segment(&segment("csg_a", "8601", 0, 999), same_prefix_overlap).await.unwrap();
    db.store.create_card_batch(&batch("cbt_a", "csg_a", 5)).await.unwrap();
    assert_eq!(
        db.store.take_card_of_batch("cbt_a", sanhu_core::Timestamp::from_nanos(0)).await.unwrap(),
        None,
        "not approved"
    );
    let pending = db.store.card_batch("cbt_a").await.unwrap().unwrap();
    let approved = StoredCardBatch { status: "approved".to_owned(), version: 2, ..pending };
    assert!(db.store.update_card_batch(&approved, 1).await.unwrap());
    assert!(!db.store.update_card_batch(&approved, 1).await.unwrap(), "over a version moved on");
    let mut tasks = Vec::new();
    for n in 0..12 {
        let store = if n % 2 == 0 { db.store.clone() } else { other.clone() };
        tasks.push(tokio::spawn(async move {
            store.take_card_of_batch("cbt_a", sanhu_core::Timestamp::from_nanos(0)).await.unwrap()
        }));
    }
    let mut taken = BTreeSet::new();
    let mut refused = 0;
    for task in tasks {
        match task.await.unwrap() {
            Some(index) => assert!(taken.insert(index), "card {index} taken twice"),
            None => refused += 1,
        }
    }
    assert_eq!(taken, (0..5).collect());
    assert_eq!(refused, 7);
    assert_eq!(db.store.card_batch("cbt_a").await.unwrap().unwrap().sold, 5);
});

on_both_backends!(a_payments_refunds_never_add_up_to_more_than_it_took, |db| {
    let other = db.open_another().await;
    let card = StoredCard {
        number: "8601000000001".to_owned(),
        batch_id: "cbt_a".to_owned(),
        type_id: "ctp_1".to_owned(),
        owner: "platform".to_owned(),
        member_id: None,
        account_id: "acc_1".to_owned(),
        status: "sold".to_owned(),
        version: 1,
        data: "{}".to_owned(),
        created_at: at(0),
        blocks_pending_since: None,
        valid_until: None,
    };
    assert!(db.store.create_card(&card, &transaction("sale", "sale", 1000)).await.unwrap());
    assert!(!db.store.create_card(&card, &transaction("sale", "sale", 1000)).await.unwrap(), "the same sale");
    assert_eq!(
        db.store.create_card_transaction(&transaction("pay", "payment", 100), vec![], None).await.unwrap(),
        CardInsert::Stored
    );
    assert_eq!(
        db.store.create_card_transaction(&transaction("pay", "payment", 100), vec![], None).await.unwrap(),
        CardInsert::Exists
    );
    let mut tasks = Vec::new();
    for n in 0..10 {
        let store = if n % 2 == 0 { db.store.clone() } else { other.clone() };
        tasks.push(tokio::spawn(async move {
            store.create_card_refund(&transaction(&format!("refund_{n}"), "refund", 30), "pay").await.unwrap()
        }));
    }
    let mut stored = 0;
    for task in tasks {
        stored += usize::from(task.await.unwrap());
    }
    assert_eq!(stored, 3);
    assert_eq!(db.store.card_transaction("pay").await.unwrap().unwrap().refunded, 90);
    // A refund the ledger refused gives its share back, once.
    let mut refused = None;
    for n in 0..10 {
        let id = format!("refund_{n}");
        if db.store.card_transaction(&id).await.unwrap().is_some() {
            refused = Some(id);
            break;
        }
    }
    let refused = refused.unwrap();
    let failed = StoredCardTransaction { status: "failed".to_owned(), ..transaction(&refused, "refund", 30) };
    assert!(db.store.settle_card_transaction(&failed, Some("pay".to_owned()), vec![]).await.unwrap());
    assert!(!db.store.settle_card_transaction(&failed, Some("pay".to_owned()), vec![]).await.unwrap(), "settled once");
    assert_eq!(db.store.card_transaction("pay").await.unwrap().unwrap().refunded, 60);
    let listed = db.store.card_transactions("8601000000001", None, 100).await.unwrap();
    assert_eq!(listed.len(), 5, "the sale, the payment and three refunds");
    let first = db.store.card_transactions("8601000000001", None, 2).await.unwrap();
    let last = &first[1];
    let rest = db
        .store
        .card_transactions("8601000000001", Some((last.created_at.nanos(), last.id.clone())), 100)
        .await
        .unwrap();
    assert_eq!(first.len() + rest.len(), 5);
});

fn count(key: &str, amount: i64, limit: Option<i64>) -> CounterAdd {
    CounterAdd { key: key.to_owned(), amount, limit }
}

on_both_backends!(a_card_payment_moves_its_merchants_counters_in_its_own_write_within_their_limits, |db| {
    let other = db.open_another().await;
    let day = "merchant_receipts:mch_a:day:1";
    // Concurrent payments of 30 against a limit of 100, on two instances: three fit, the rest store
    // nothing at all (neither the transaction nor any count).
    let mut tasks = Vec::new();
    for n in 0..8 {
        let store = if n % 2 == 0 { db.store.clone() } else { other.clone() };
        tasks.push(tokio::spawn(async move {
            let pay = transaction(&format!("pay_{n}"), "payment", 30);
            store.create_card_transaction(&pay, vec![count(day, 30, Some(100))], None).await.unwrap()
        }));
    }
    let mut stored = 0;
    for (n, task) in tasks.into_iter().enumerate() {
        match task.await.unwrap() {
            CardInsert::Stored => stored += 1,
            CardInsert::CounterOverLimit { key } => {
                assert_eq!(key, day);
                assert!(db.store.card_transaction(&format!("pay_{n}")).await.unwrap().is_none(), "nothing stored");
            }
            other => panic!("each payment is new, with no quote: {other:?}"),
        }
    }
    assert_eq!(stored, 3);
    assert_eq!(db.store.party_counter(day).await.unwrap(), 90);
    // A payment the ledger refused gives its count back when it is settled, once.
    let mut refused = None;
    for n in 0..8 {
        if db.store.card_transaction(&format!("pay_{n}")).await.unwrap().is_some() {
            refused = Some(format!("pay_{n}"));
            break;
        }
    }
    let failed = StoredCardTransaction { status: "failed".to_owned(), ..transaction(&refused.unwrap(), "payment", 30) };
    assert!(db.store.settle_card_transaction(&failed, None, vec![count(day, -30, None)]).await.unwrap());
    assert!(!db.store.settle_card_transaction(&failed, None, vec![count(day, -30, None)]).await.unwrap());
    assert_eq!(db.store.party_counter(day).await.unwrap(), 60);
});

on_both_backends!(card_lists_read_only_the_owners_asked_for, |db| {
    for (id, owner) in
        [("ctp_1", "mch_a"), ("ctp_2", "platform"), ("ctp_3", "mch_b"), ("ctp_4", "mch_a"), ("ctp_5", "mch_c")]
    {
        let card_type = StoredCardType {
            id: id.to_owned(),
            owner: owner.to_owned(),
            version: 1,
            data: "{}".to_owned(),
            created_at: at(0),
        };
        db.store.create_card_type(&card_type).await.unwrap();
    }
    let ids = |types: Vec<StoredCardType>| types.into_iter().map(|t| t.id).collect::<Vec<_>>();
    let owners = |o: &[&str]| Some(o.iter().map(|s| s.to_string()).collect::<Vec<_>>());
    assert_eq!(ids(db.store.card_types(owners(&["mch_a"]), None, 10).await.unwrap()), ["ctp_1", "ctp_4"]);
    assert_eq!(
        ids(db.store.card_types(owners(&["mch_a", "mch_c"]), Some("ctp_1".into()), 10).await.unwrap()),
        ["ctp_4", "ctp_5"]
    );
    assert_eq!(ids(db.store.card_types(owners(&["mch_a", "mch_b"]), None, 2).await.unwrap()), ["ctp_1", "ctp_3"]);
    assert!(db.store.card_types(owners(&[]), None, 10).await.unwrap().is_empty(), "no merchant, nothing");
    assert_eq!(db.store.card_types(None, None, 10).await.unwrap().len(), 5);
    db.store.create_card_segment(&segment("csg_a", "8601", 0, 999), same_prefix_overlap).await.unwrap();
    db.store.create_card_batch(&batch("cbt_a", "csg_a", 5)).await.unwrap();
    let theirs = db.store.card_batches(owners(&["mch_z"]), None, 10).await.unwrap();
    assert!(theirs.is_empty());
    let owner = db.store.card_batch("cbt_a").await.unwrap().unwrap().owner;
    assert_eq!(db.store.card_batches(owners(&[&owner]), None, 10).await.unwrap().len(), 1);
});

on_both_backends!(cards_with_blocks_pending_are_found_until_cleared, |db| {
    let card = |number: &str, pending: Option<Timestamp>| StoredCard {
        number: number.to_owned(),
        batch_id: "cbt_a".to_owned(),
        type_id: "ctp_1".to_owned(),
        owner: "platform".to_owned(),
        member_id: None,
        account_id: format!("acc_{number}"),
        status: "active".to_owned(),
        version: 1,
        data: "{}".to_owned(),
        created_at: at(0),
        blocks_pending_since: pending,
        valid_until: None,
    };
    db.store.create_card(&card("1", None), &transaction("sale_1", "sale", 0)).await.unwrap();
    db.store.create_card(&card("2", None), &transaction("sale_2", "sale", 0)).await.unwrap();
    assert!(db.store.update_card(&StoredCard { version: 2, ..card("2", Some(at(10))) }, 1).await.unwrap());
    let numbers = |cards: Vec<StoredCard>| cards.into_iter().map(|c| c.number).collect::<Vec<_>>();
    assert_eq!(numbers(db.store.cards_blocks_pending(at(11), 10).await.unwrap()), ["2"]);
    assert!(db.store.cards_blocks_pending(at(10), 10).await.unwrap().is_empty(), "not yet due");
    assert_eq!(db.store.card("2").await.unwrap().unwrap().blocks_pending_since, Some(at(10)));
    assert!(db.store.update_card(&StoredCard { version: 3, ..card("2", None) }, 2).await.unwrap());
    assert!(db.store.cards_blocks_pending(at(11), 10).await.unwrap().is_empty());
});

on_both_backends!(a_cards_reissue_takes_its_serial_in_its_own_write_and_a_refused_one_takes_none, |db| {
    let other = db.open_another().await;
    assert!(db.store.create_card_segment(&segment("csg_r", "8607", 0, 2), same_prefix_overlap).await.unwrap());
    let card = StoredCard {
        number: "1".to_owned(),
        batch_id: "cbt_a".to_owned(),
        type_id: "ctp_1".to_owned(),
        owner: "platform".to_owned(),
        member_id: None,
        account_id: "acc_1".to_owned(),
        status: "active".to_owned(),
        version: 1,
        data: "{}".to_owned(),
        created_at: at(0),
        blocks_pending_since: None,
        valid_until: None,
    };
    db.store.create_card(&card, &transaction("sale_1", "sale", 0)).await.unwrap();
    let next =
        |store: sanhu_store::Store| async move { store.card_segment("csg_r").await.unwrap().unwrap().next_serial };
    let marked = |version: i64| StoredCard { status: "reissued".to_owned(), version, ..card.clone() };

    // The card changed meanwhile (a stale version): nothing written, the serial not taken.
    assert_eq!(db.store.mark_card_reissued(&marked(3), 2, "csg_r", 0).await.unwrap(), ReissueMark::CardChanged);
    assert_eq!(next(db.store.clone()).await, 0);
    assert_eq!(db.store.card("1").await.unwrap().unwrap().status, "active");
    // Not the next serial: nothing written.
    assert_eq!(db.store.mark_card_reissued(&marked(2), 1, "csg_r", 1).await.unwrap(), ReissueMark::SerialTaken);
    assert_eq!(next(db.store.clone()).await, 0);

    // Two instances mark the card with the same serial at once: one does, the other writes nothing.
    let (a, b) = (db.store.clone(), other.clone());
    let (one, two) = (marked(2), marked(2));
    let (x, y) = tokio::join!(async move { a.mark_card_reissued(&one, 1, "csg_r", 0).await.unwrap() }, async move {
        b.mark_card_reissued(&two, 1, "csg_r", 0).await.unwrap()
    });
    let mut outcomes = [x, y];
    outcomes.sort_by_key(|o| format!("{o:?}"));
    assert!(
        outcomes == [ReissueMark::Marked, ReissueMark::SerialTaken]
            || outcomes == [ReissueMark::CardChanged, ReissueMark::Marked],
        "{outcomes:?}"
    );
    assert_eq!(next(db.store.clone()).await, 1);
    assert_eq!(db.store.card("1").await.unwrap().unwrap().status, "reissued");
    // A full segment gives nothing.
    let full =
        |version: i64| StoredCard { number: "2".to_owned(), account_id: "acc_2".to_owned(), version, ..card.clone() };
    db.store.create_card(&full(1), &transaction("sale_2", "sale", 0)).await.unwrap();
    assert_eq!(db.store.mark_card_reissued(&full(2), 1, "csg_r", 3).await.unwrap(), ReissueMark::SerialTaken);
});
