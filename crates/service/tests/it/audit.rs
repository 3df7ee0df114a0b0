//! The audit log's use case on both backends: many concurrent callers and two sanhu instances on one
//! database append to one chain, each caller answered with its own event once it is committed; and
//! what the log keeps of a request holds none of its secrets.

use std::collections::HashSet;

use sanhu_service::audit::{client_actor, AuditConfig, AuditLog, RequestRecord};
use sanhu_service::clock;
use sanhu_store::audit::{verify_chain, AuditQuery, AuditStore};
use sanhu_store::{
    AccessStore, IdempotencyAnswer, IdempotencyBegin, IdempotencyClaim, IdempotencyKey, StoredResponse,
    STORED_RESPONSE_BYTES_MAX,
};
use sanhu_testkit::{faults, on_both_backends};
use serde_json::{json, Value};

fn record(request_id: String, request: Value) -> RequestRecord {
    RequestRecord {
        at: clock::now(),
        actor: client_actor("cli_01JD0000000000000000000000"),
        request_id,
        source: Some("198.51.100.4".to_owned()),
        method: "POST".to_owned(),
        route: "/v1/members/{id}/pay-password".to_owned(),
        target_ids: vec!["mem_01JD0000000000000000000000".to_owned()],
        status: 204,
        error_code: None,
        request: Some(request),
        unreadable_body_bytes: None,
    }
}

on_both_backends!(concurrent_records_from_two_instances_form_one_chain, |db| {
    const CALLERS: usize = 200;
    let first = AuditLog::start(db.store.clone(), AuditConfig::default());
    let second = AuditLog::start(db.open_another().await, AuditConfig::default());
    let mut tasks = Vec::new();
    for n in 0..CALLERS {
        let log = if n % 2 == 0 { first.clone() } else { second.clone() };
        tasks.push(tokio::spawn(async move { log.record(record(format!("req_{n}"), json!({"n": n}))).await }));
    }
    let mut answered = Vec::new();
    for task in tasks {
        answered.push(task.await.unwrap().unwrap());
    }
    // Each caller got its own event, as committed.
    let seqs: HashSet<i64> = answered.iter().map(|e| e.seq).collect();
    assert_eq!(seqs.len(), CALLERS);
    for (n, event) in answered.iter().enumerate() {
        assert_eq!(event.event.request_id, format!("req_{n}"));
    }
    let stored = db.store.audit_events(&AuditQuery { limit: 1000, ..AuditQuery::default() }).await.unwrap();
    assert_eq!(stored.len(), CALLERS);
    for event in &answered {
        assert_eq!(&stored[event.seq as usize - 1], event, "answered as stored");
    }
    let report = verify_chain(&db.store).await.unwrap();
    assert_eq!((report.events_checked, report.broken), (CALLERS as i64, None));
});

on_both_backends!(a_recorded_request_keeps_none_of_its_secrets, |db| {
    let log = AuditLog::start(db.store.clone(), AuditConfig::default());
    let secrets = ["135790", "246802", "6222020000000000018", "110101199003071233", "482913"];
    let request = json!({
        "current_pay_password": secrets[0],
        "new_pay_password": secrets[1],
        "card_number": secrets[2],
        "certificate_number": secrets[3],
        "code": secrets[4],
        "reference": format!("card {}", secrets[2]),
        "reason": "changed at the counter",
    });
    let event = log.record(record("req_secret".to_owned(), request)).await.unwrap();
    assert_eq!(event.event.reason.as_deref(), Some("changed at the counter"));
    let stored = db.store.audit_events(&AuditQuery { limit: 10, ..AuditQuery::default() }).await.unwrap();
    let text = format!("{stored:?}");
    for secret in secrets {
        assert!(!text.contains(secret), "{secret} is in the audit log: {text}");
    }
    assert!(text.contains("622202*********0018"), "the card number is kept masked: {text}");
});

// The writer appends concurrent events (and the answers kept with them) in one transaction. One item
// the store refuses (an event the database rejects, an answer larger than a key keeps) fails its own
// request only: a failed batch is tried again in halves, down to single items, so that every other
// event of the batch is appended and every other answer kept.
on_both_backends!(an_item_the_store_refuses_fails_alone_and_the_rest_of_its_batch_is_kept, |db| {
    const CALLERS: usize = 8;
    const REFUSED_EVENT: usize = 5;
    const OVERSIZED_ANSWER: usize = 2;
    faults::refuse_rows(&db, "refuse_one_event", "audit_events", "NEW.request_id = 'req_5'").await;
    // A long gathering, so that the callers below share one batch.
    let config = AuditConfig { batch_wait_us: 300_000, ..AuditConfig::default() };
    let log = AuditLog::start(db.store.clone(), config);
    let at = clock::now();
    let claims: Vec<IdempotencyClaim> = (0..CALLERS)
        .map(|n| {
            let key = IdempotencyKey { client_id: "cli_01JD0000000000000000000000".to_owned(), key: format!("k{n}") };
            IdempotencyClaim::new(key, "fp")
        })
        .collect();
    let begun = db.store.begin_idempotent_batch(&claims, at).await.unwrap();
    assert!(begun.iter().all(|b| *b == IdempotencyBegin::Claimed));

    let mut tasks = Vec::new();
    for (n, claim) in claims.iter().enumerate() {
        let log = log.clone();
        let size = if n == OVERSIZED_ANSWER { STORED_RESPONSE_BYTES_MAX + 1 } else { 16 };
        let answer = IdempotencyAnswer {
            key: claim.key.clone(),
            token: claim.token.clone(),
            response: Some(StoredResponse { status: 201, body: vec![b' '; size] }),
        };
        tasks.push(tokio::spawn(async move {
            log.record_answering(record(format!("req_{n}"), json!({"n": n})), answer).await
        }));
    }
    let mut answered = Vec::new();
    for task in tasks {
        answered.push(task.await.unwrap());
    }
    for (n, outcome) in answered.iter().enumerate() {
        let refused = n == REFUSED_EVENT || n == OVERSIZED_ANSWER;
        assert_eq!(outcome.is_err(), refused, "caller {n}: {outcome:?}");
    }

    // Every other event is in the chain, and every other answer is kept; the refused
    // requests' keys hold neither an answer nor a release (their claims stand).
    let stored = db.store.audit_events(&AuditQuery { limit: 100, ..AuditQuery::default() }).await.unwrap();
    let mut ids: Vec<&str> = stored.iter().map(|e| e.event.request_id.as_str()).collect();
    ids.sort();
    assert_eq!(ids, ["req_0", "req_1", "req_3", "req_4", "req_6", "req_7"]);
    let report = verify_chain(&db.store).await.unwrap();
    assert_eq!((report.events_checked, report.broken), (6, None));
    for (n, claim) in claims.iter().enumerate() {
        let again = IdempotencyClaim::new(claim.key.clone(), "fp");
        let begin = db.store.begin_idempotent(&again, at).await.unwrap();
        if n == REFUSED_EVENT || n == OVERSIZED_ANSWER {
            assert_eq!(begin, IdempotencyBegin::InUse, "key {n}");
        } else {
            assert_eq!(
                begin,
                IdempotencyBegin::Replay(StoredResponse { status: 201, body: vec![b' '; 16] }),
                "key {n}"
            );
        }
    }
    faults::allow_rows(&db, "refuse_one_event", "audit_events").await;
});
