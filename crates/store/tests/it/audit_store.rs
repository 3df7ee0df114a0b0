//! The audit log through the `AuditStore` trait, every test on both backends: appends form one chain
//! (from one store, and from two stores on one database appending at once), the filters, the
//! database's refusal to update or delete events, and `verify_chain` naming the first broken link
//! after an event is edited, deleted or moved with SQL behind sanhu's back.

use sanhu_core::Timestamp;
use sanhu_store::audit::{verify_chain, AuditQuery, AuditStore, BrokenLink, NewAuditEvent, GENESIS_HASH};
use sanhu_store::on_both_backends;
use sanhu_store::testing::{Backend, TestDatabase};

fn event(n: u32, actor: &str, route: &str, targets: &[&str]) -> NewAuditEvent {
    NewAuditEvent {
        at: Timestamp::from_nanos(1_700_000_000_000_000_000 + i64::from(n) * 1_000),
        actor: actor.to_owned(),
        request_id: format!("req_{n:04}"),
        source: Some("192.0.2.7".to_owned()),
        method: "POST".to_owned(),
        route: route.to_owned(),
        target_ids: targets.iter().map(|t| t.to_string()).collect(),
        status: 200,
        error_code: None,
        reason: None,
        changes: Some(format!(r#"{{"n":{n}}}"#)),
    }
}

fn lock_event(n: u32) -> NewAuditEvent {
    event(n, "client:cli_a", "/v1/members/{id}/lock", &["mem_1"])
}

fn all() -> AuditQuery {
    AuditQuery { limit: 1000, ..AuditQuery::default() }
}

/// Runs SQL on the test database behind the store's back, as someone with access to it would.
async fn sql(db: &TestDatabase, statements: &str) {
    match db.backend {
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap().to_owned();
            let statements = statements.to_owned();
            tokio::task::spawn_blocking(move || {
                let connection = rusqlite::Connection::open(path).unwrap();
                connection.execute_batch(&statements)
            })
            .await
            .unwrap()
            .unwrap_or_else(|e| panic!("{e}"));
        }
        Backend::Postgres => {
            let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            client.batch_execute(statements).await.unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

/// The statements that lift the database's append-only guard, on this backend.
fn drop_guard(db: &TestDatabase) -> &'static str {
    match db.backend {
        Backend::Sqlite => "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete;",
        Backend::Postgres => "DROP TRIGGER audit_events_append_only ON audit_events;",
    }
}

/// Whether SQL behind the store's back fails.
async fn sql_fails(db: &TestDatabase, statements: &str) -> bool {
    let statements = statements.to_owned();
    match db.backend {
        Backend::Sqlite => {
            let path = db.url.strip_prefix("sqlite://").unwrap().to_owned();
            tokio::task::spawn_blocking(move || {
                rusqlite::Connection::open(path).unwrap().execute_batch(&statements).is_err()
            })
            .await
            .unwrap()
        }
        Backend::Postgres => {
            let (client, connection) = tokio_postgres::connect(&db.url, tokio_postgres::NoTls).await.unwrap();
            tokio::spawn(connection);
            client.batch_execute(&statements).await.is_err()
        }
    }
}

on_both_backends!(appended_events_form_one_chain_that_verifies, |db| {
    let store = &db.store;
    let empty = verify_chain(store).await.unwrap();
    assert_eq!((empty.events_checked, empty.head.seq, empty.head.hash.as_str()), (0, 0, GENESIS_HASH));
    assert_eq!(empty.broken, None);

    let first = store.append_audit(vec![lock_event(1), lock_event(2)]).await.unwrap();
    let second = store.append_audit(vec![lock_event(3)]).await.unwrap();
    assert_eq!(first.iter().chain(&second).map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert_eq!(first[0].prev_hash, GENESIS_HASH);
    assert_eq!(second[0].prev_hash, first[1].hash, "the second append continues the first");
    assert_eq!(store.append_audit(Vec::new()).await.unwrap(), Vec::new());

    let stored = store.audit_events(&all()).await.unwrap();
    assert_eq!(stored, [first, second].concat(), "read back as appended");
    let head = store.audit_head().await.unwrap();
    assert_eq!((head.seq, &head.hash), (3, &stored[2].hash));
    let report = verify_chain(store).await.unwrap();
    assert_eq!((report.events_checked, report.broken), (3, None));
});

on_both_backends!(two_stores_appending_at_once_form_one_chain, |db| {
    let other = db.open_another().await;
    const APPENDS: u32 = 40;
    let append = |store: sanhu_store::Store, instance: u32| async move {
        for n in 0..APPENDS {
            let batch = (0..3).map(|i| lock_event(instance * 10_000 + n * 10 + i)).collect();
            store.append_audit(batch).await.unwrap();
        }
    };
    let (a, b) = tokio::join!(tokio::spawn(append(db.store.clone(), 1)), tokio::spawn(append(other.clone(), 2)));
    a.unwrap();
    b.unwrap();

    let events = db.store.audit_events(&AuditQuery { limit: 10_000, ..AuditQuery::default() }).await.unwrap();
    let count = (2 * APPENDS * 3) as usize;
    assert_eq!(events.len(), count);
    assert!(events.iter().enumerate().all(|(i, e)| e.seq == i as i64 + 1), "sequence numbers without gaps");
    // Each append's three events stay together, in order.
    for batch in events.chunks(3) {
        let ids: Vec<&str> = batch.iter().map(|e| e.event.request_id.as_str()).collect();
        let n: Vec<u32> = ids.iter().map(|id| id[4..].parse().unwrap()).collect();
        assert_eq!((n[1], n[2]), (n[0] + 1, n[0] + 2), "{ids:?}");
    }
    for store in [&db.store, &other] {
        let report = verify_chain(store).await.unwrap();
        assert_eq!((report.events_checked, report.broken), (count as i64, None));
    }
});

on_both_backends!(events_are_found_by_actor_route_target_request_and_time, |db| {
    let store = &db.store;
    let lock = "/v1/members/{id}/lock";
    let transfer = "/v1/ledger/transfers";
    store
        .append_audit(vec![
            event(1, "client:cli_a", lock, &["mem_1"]),
            event(2, "client:cli_b", transfer, &["acc_1", "acc_2", "tr_1"]),
            event(3, "client:cli_a", transfer, &["acc_2", "acc_3"]),
            event(4, "client:cli_b", lock, &["mem_2"]),
            event(5, "client:cli_a", "/v1/members", &[]),
        ])
        .await
        .unwrap();
    let seqs = |query: AuditQuery| async move {
        store.audit_events(&query).await.unwrap().iter().map(|e| e.seq).collect::<Vec<_>>()
    };
    let q = AuditQuery { limit: 100, ..AuditQuery::default() };
    assert_eq!(seqs(AuditQuery { actor: Some("client:cli_a".into()), ..q.clone() }).await, [1, 3, 5]);
    assert_eq!(seqs(AuditQuery { route: Some(transfer.into()), ..q.clone() }).await, [2, 3]);
    assert_eq!(seqs(AuditQuery { target_id: Some("acc_2".into()), ..q.clone() }).await, [2, 3]);
    assert_eq!(seqs(AuditQuery { target_id: Some("mem_2".into()), ..q.clone() }).await, [4]);
    assert_eq!(seqs(AuditQuery { target_id: Some("acc_9".into()), ..q.clone() }).await, Vec::<i64>::new());
    assert_eq!(seqs(AuditQuery { request_id: Some("req_0004".into()), ..q.clone() }).await, [4]);
    let at = |n: i64| Some(Timestamp::from_nanos(1_700_000_000_000_000_000 + n * 1_000));
    assert_eq!(seqs(AuditQuery { from: at(2), to: at(4), ..q.clone() }).await, [2, 3], "from inclusive, to not");
    // Filters combine, and the cursor pages.
    let both = AuditQuery { actor: Some("client:cli_b".into()), target_id: Some("acc_1".into()), ..q.clone() };
    assert_eq!(seqs(both).await, [2]);
    assert_eq!(seqs(AuditQuery { limit: 2, ..q.clone() }).await, [1, 2]);
    assert_eq!(seqs(AuditQuery { after_seq: 2, limit: 2, ..q.clone() }).await, [3, 4]);
    assert_eq!(seqs(AuditQuery { after_seq: 3, actor: Some("client:cli_a".into()), ..q }).await, [5]);

    let found = store.audit_events(&AuditQuery { request_id: Some("req_0002".into()), ..all() }).await.unwrap();
    assert_eq!(found[0].event.target_ids, ["acc_1", "acc_2", "tr_1"]);
    assert_eq!(found[0].event.source.as_deref(), Some("192.0.2.7"));
});

on_both_backends!(the_database_refuses_to_update_or_delete_an_event, |db| {
    db.store.append_audit(vec![lock_event(1)]).await.unwrap();
    assert!(sql_fails(&db, "UPDATE audit_events SET status = 500 WHERE seq = 1").await);
    assert!(sql_fails(&db, "DELETE FROM audit_events WHERE seq = 1").await);
    assert!(sql_fails(&db, "DELETE FROM audit_head").await);
    assert_eq!(db.store.audit_events(&all()).await.unwrap().len(), 1);
    assert_eq!(verify_chain(&db.store).await.unwrap().broken, None);
});

on_both_backends!(an_event_edited_behind_sanhus_back_is_named, |db| {
    db.store.append_audit((1..=5).map(lock_event).collect()).await.unwrap();
    sql(&db, drop_guard(&db)).await;
    sql(&db, "UPDATE audit_events SET changes = '{\"n\":99}' WHERE seq = 3").await;
    let report = verify_chain(&db.store).await.unwrap();
    assert_eq!(report.broken, Some(BrokenLink::Edited { seq: 3 }));
    assert_eq!(report.events_checked, 2, "the events before it hold");
});

on_both_backends!(an_event_edited_and_rehashed_breaks_the_link_after_it, |db| {
    let events = db.store.append_audit((1..=4).map(lock_event).collect()).await.unwrap();
    sql(&db, drop_guard(&db)).await;
    // Someone who knows the encoding recomputes the edited event's hash; the next event still names
    // the old one.
    let mut edited = events[1].event.clone();
    edited.status = 403;
    let hash = sanhu_store::audit::event_hash(2, &edited, &events[1].prev_hash);
    sql(&db, &format!("UPDATE audit_events SET status = 403, hash = '{hash}' WHERE seq = 2")).await;
    let report = verify_chain(&db.store).await.unwrap();
    assert_eq!(report.broken, Some(BrokenLink::NotLinked { seq: 3 }));
});

on_both_backends!(a_deleted_event_is_named, |db| {
    db.store.append_audit((1..=5).map(lock_event).collect()).await.unwrap();
    sql(&db, drop_guard(&db)).await;
    sql(&db, "DELETE FROM audit_events WHERE seq = 2").await;
    let report = verify_chain(&db.store).await.unwrap();
    assert_eq!(report.broken, Some(BrokenLink::Missing { seq: 2, found: 3 }));
    assert!(report.broken.unwrap().to_string().contains("audit event 2 is missing"));
});

on_both_backends!(events_deleted_from_the_end_are_named, |db| {
    db.store.append_audit((1..=5).map(lock_event).collect()).await.unwrap();
    sql(&db, drop_guard(&db)).await;
    sql(&db, "DELETE FROM audit_events WHERE seq >= 4").await;
    let report = verify_chain(&db.store).await.unwrap();
    assert_eq!(report.broken, Some(BrokenLink::EndMissing { last: 3, head: 5 }));
    assert_eq!(report.broken.unwrap().seq(), 4);
});

on_both_backends!(events_moved_out_of_order_are_named, |db| {
    db.store.append_audit((1..=5).map(lock_event).collect()).await.unwrap();
    sql(&db, drop_guard(&db)).await;
    // Events 3 and 4 swap places: each keeps what it records, under the other's number.
    sql(
        &db,
        "UPDATE audit_events SET seq = -3 WHERE seq = 3;
         UPDATE audit_events SET seq = 3 WHERE seq = 4;
         UPDATE audit_events SET seq = 4 WHERE seq = -3;",
    )
    .await;
    let report = verify_chain(&db.store).await.unwrap();
    assert_eq!(report.broken, Some(BrokenLink::NotLinked { seq: 3 }));
});

on_both_backends!(appending_after_a_broken_link_keeps_the_break_visible, |db| {
    db.store.append_audit((1..=3).map(lock_event).collect()).await.unwrap();
    sql(&db, drop_guard(&db)).await;
    sql(&db, "DELETE FROM audit_events WHERE seq = 3").await;
    // The head still says 3, so the next append is 4 and the gap stays where it was made.
    let appended = db.store.append_audit(vec![lock_event(4)]).await.unwrap();
    assert_eq!(appended[0].seq, 4);
    assert_eq!(verify_chain(&db.store).await.unwrap().broken, Some(BrokenLink::Missing { seq: 3, found: 4 }));
});
