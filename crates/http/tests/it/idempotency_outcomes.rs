//! What a request under an Idempotency-Key comes to when the database or the ledger fails it part way:
//! a money request that recorded its order and then could not move the money is answered truthfully
//! (not "nothing was applied"), its key is released, and the retry finishes it, moving the money once;
//! a claim whose commit's answer was lost does not hold its key against the retry; and an answer kept
//! in the background is timed where it stands in the audit log.

use axum::http::StatusCode;
use sanhu_core::Timestamp;
use sanhu_testkit::app::{Setup, TestApp, TestResponse};
use sanhu_testkit::faults;
use sanhu_testkit::{on_both_backends, world, TestDatabase};
use serde_json::{json, Value};

async fn wallet_app(db: TestDatabase) -> TestApp {
    TestApp::new(db, world::party_config(), world::wallet_config()).await
}

fn pay(number: &str, member: &str, amount: i64, receiver: &str) -> Value {
    json!({"order_number": number, "member_id": member, "amount": amount, "receiver_account_id": receiver})
}

/// Sends the keyed request until its key is no longer in use (an answer being settled), at most 20 s.
async fn retried(app: &TestApp, path: &str, key: &str, body: &Value) -> TestResponse {
    let started = std::time::Instant::now();
    loop {
        let answer = app.post_keyed(path, key, body.clone()).await;
        if answer.status != StatusCode::CONFLICT || answer.error_code() != "idempotency_key_in_use" {
            return answer;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(20), "the key stayed in use");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

/// A 503 of a request that recorded its order and could not finish: it says so, and invites the retry
/// that finishes it.
#[track_caller]
fn assert_unfinished(answer: &TestResponse) {
    answer.assert_error(StatusCode::SERVICE_UNAVAILABLE, "ledger_unavailable");
    let message = answer.body["error"]["message"].as_str().unwrap();
    assert!(!message.contains("nothing was applied"), "the order was recorded: {message}");
    assert!(message.contains("not finished"), "{message}");
    assert!(answer.headers.contains_key("retry-after"), "{:?}", answer.headers);
}

// A payment writes its order (with the chain it decided) and then submits the chain. When the ledger
// cannot commit that second step, the answer does not claim that nothing was applied (the order is
// there, `paying`); the key is released, because the retry finds the order and submits the same chain
// (ids derived from the order): the retry's answer is the payment, paid, final; the money moved once;
// and a further retry replays it.
on_both_backends!(a_payment_whose_ledger_step_failed_is_finished_by_its_retry_and_moves_the_money_once, |db| {
    let app = wallet_app(db).await;
    let (payer, payer_basic) = app.active_member("13700000101").await;
    let (_, shop) = app.active_member("13700000102").await;
    app.recharge(&payer, &payer_basic, 10_000, "test", "R-1").await;
    let body = pay("P-1", &payer, 3000, &shop);

    faults::refuse_rows(&app.db, "refuse_transfers", "ledger_transfers", "TRUE").await;
    let failed = app.post_keyed("/v1/payments", "pay-1", body.clone()).await;
    assert_unfinished(&failed);
    let recorded = app.get("/v1/payments/P-1").await;
    assert_eq!(recorded.assert_status(StatusCode::OK)["status"], "paying", "the first step was written");
    assert_eq!((app.balance(&payer_basic).await, app.balance(&shop).await), (10_000, 0), "no money moved yet");
    faults::allow_rows(&app.db, "refuse_transfers", "ledger_transfers").await;

    let finished = retried(&app, "/v1/payments", "pay-1", &body).await;
    assert!(!finished.replayed(), "the key was released: the retry ran and finished the order");
    let paid = finished.assert_status(StatusCode::CREATED).clone();
    assert_eq!((paid["status"].as_str(), paid["amount"].as_i64()), (Some("paid"), Some(3000)));
    assert_eq!((app.balance(&payer_basic).await, app.balance(&shop).await), (7000, 3000), "once");
    let again = app.post_keyed("/v1/payments", "pay-1", body.clone()).await;
    assert!(again.replayed());
    assert_eq!(again.assert_status(StatusCode::CREATED)["status"], "paid");
    assert_eq!((app.balance(&payer_basic).await, app.balance(&shop).await), (7000, 3000));
    app.verify_clean().await;
});

// A refund writes itself into its payment (processing, with its chain) before the chain: the same as
// a payment when the ledger fails it then.
on_both_backends!(a_refund_whose_ledger_step_failed_is_finished_by_its_retry_and_gives_the_money_back_once, |db| {
    let app = wallet_app(db).await;
    let (payer, payer_basic) = app.active_member("13700000111").await;
    let (_, shop) = app.active_member("13700000112").await;
    app.recharge(&payer, &payer_basic, 5000, "test", "R-1").await;
    app.post("/v1/payments", pay("P-1", &payer, 4000, &shop)).await.assert_status(StatusCode::CREATED);
    let body = json!({"refund_number": "RF-1", "amount": 1500});

    faults::refuse_rows(&app.db, "refuse_transfers", "ledger_transfers", "TRUE").await;
    let failed = app.post_keyed("/v1/payments/P-1/refunds", "refund-1", body.clone()).await;
    assert_unfinished(&failed);
    assert_eq!((app.balance(&payer_basic).await, app.balance(&shop).await), (1000, 4000));
    faults::allow_rows(&app.db, "refuse_transfers", "ledger_transfers").await;

    let finished = retried(&app, "/v1/payments/P-1/refunds", "refund-1", &body).await;
    assert!(!finished.replayed());
    assert!(finished.status.is_success(), "{}", finished.body);
    assert_eq!(finished.body["status"], "succeeded", "{}", finished.body);
    assert_eq!((app.balance(&payer_basic).await, app.balance(&shop).await), (2500, 2500), "given back once");
    let again = app.post_keyed("/v1/payments/P-1/refunds", "refund-1", body.clone()).await;
    assert!(again.replayed());
    assert_eq!((app.balance(&payer_basic).await, app.balance(&shop).await), (2500, 2500));
    let payment = app.get("/v1/payments/P-1").await;
    assert_eq!(payment.assert_status(StatusCode::OK)["refunds"].as_array().unwrap().len(), 1, "one refund");
    app.verify_clean().await;
});

// A transfer between members: its record, then its chain.
on_both_backends!(a_member_transfer_whose_ledger_step_failed_is_finished_by_its_retry_once, |db| {
    let app = wallet_app(db).await;
    let (sender, sender_basic) = app.active_member("13700000121").await;
    let (receiver, receiver_basic) = app.active_member("13700000122").await;
    app.recharge(&sender, &sender_basic, 5000, "test", "R-1").await;
    let body =
        json!({"order_number": "T-1", "sender_member_id": sender, "receiver_member_id": receiver, "amount": 1200});

    faults::refuse_rows(&app.db, "refuse_transfers", "ledger_transfers", "TRUE").await;
    let failed = app.post_keyed("/v1/member-transfers", "transfer-1", body.clone()).await;
    assert_unfinished(&failed);
    faults::allow_rows(&app.db, "refuse_transfers", "ledger_transfers").await;

    let finished = retried(&app, "/v1/member-transfers", "transfer-1", &body).await;
    assert!(!finished.replayed());
    assert!(finished.status.is_success(), "{}", finished.body);
    assert_eq!(finished.body["status"], "transferred", "{}", finished.body);
    assert_eq!((app.balance(&sender_basic).await, app.balance(&receiver_basic).await), (3800, 1200), "once");
    let again = app.post_keyed("/v1/member-transfers", "transfer-1", body.clone()).await;
    assert!(again.replayed());
    assert_eq!((app.balance(&sender_basic).await, app.balance(&receiver_basic).await), (3800, 1200));
    app.verify_clean().await;
});

// A request that wrote nothing before the ledger failed it is still answered "nothing was applied",
// and its retry runs afresh.
on_both_backends!(a_request_that_wrote_nothing_is_still_answered_nothing_applied, |db| {
    let app = wallet_app(db).await;
    let funding = app.funding().await;
    let wallet = app.open_account(json!({"currency": "CNY"})).await;
    let body = json!({"debit_account_id": funding, "credit_account_id": wallet, "amount": 700});
    faults::refuse_rows(&app.db, "refuse_transfers", "ledger_transfers", "TRUE").await;
    let failed = app.post_keyed("/v1/ledger/transfers", "plain-1", body.clone()).await;
    failed.assert_error(StatusCode::SERVICE_UNAVAILABLE, "ledger_unavailable");
    assert!(failed.body["error"]["message"].as_str().unwrap().contains("nothing was applied"), "{}", failed.body);
    faults::allow_rows(&app.db, "refuse_transfers", "ledger_transfers").await;
    let ran = retried(&app, "/v1/ledger/transfers", "plain-1", &body).await;
    ran.assert_status(StatusCode::CREATED);
    assert!(!ran.replayed());
    assert_eq!(app.balance(&wallet).await, 700);
});

// The claim of a request is committed but its answer is lost (a connection cut during the commit, as
// in a failover): the request is answered 503 and its handler never runs. The claim's release cannot be
// committed either (the database refuses deletes of claims here), so before, every retry met the claim
// and was answered `idempotency_key_in_use` for as long as the instance lived. Now the retry takes the
// lost claim over at once (its attempt never ran) and gets the real answer; the request runs once, and
// its further retries replay it. Another request under the same key is still refused.
on_both_backends!(a_claim_whose_commit_answer_was_lost_does_not_hold_its_key_against_the_retry, |db| {
    let app = wallet_app(db).await;
    let funding = app.funding().await;
    let wallet = app.open_account(json!({"currency": "CNY"})).await;
    let body = json!({"debit_account_id": funding, "credit_account_id": wallet, "amount": 25});

    faults::refuse_deletes(&app.db, "keep_claims", "idempotency_keys", "TRUE").await;
    app.state.claim_book().lose_answers_after_commit(1);
    let lost = app.post_keyed("/v1/ledger/transfers", "lost-1", body.clone()).await;
    lost.assert_error(StatusCode::SERVICE_UNAVAILABLE, "not_ready");
    assert_eq!(app.balance(&wallet).await, 0, "the handler never ran");

    let other = json!({"debit_account_id": funding, "credit_account_id": wallet, "amount": 26});
    let reused = app.post_keyed("/v1/ledger/transfers", "lost-1", other).await;
    reused.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "idempotency_key_reused");

    let retried = app.post_keyed("/v1/ledger/transfers", "lost-1", body.clone()).await;
    let id = retried.assert_status(StatusCode::CREATED)["id"].clone();
    assert!(!retried.replayed(), "the retry ran, at once");
    let again = app.post_keyed("/v1/ledger/transfers", "lost-1", body.clone()).await;
    assert_eq!((again.status, &again.body["id"], again.replayed()), (StatusCode::CREATED, &id, true));

    // The lost claim's release, kept trying in the background, settles without touching the answer.
    faults::allow_deletes(&app.db, "keep_claims", "idempotency_keys").await;
    assert!(app.state.keeps_settled(std::time::Duration::from_secs(20)).await);
    let after = app.post_keyed("/v1/ledger/transfers", "lost-1", body.clone()).await;
    assert_eq!((after.status, &after.body["id"], after.replayed()), (StatusCode::CREATED, &id, true));
    assert_eq!(app.balance(&wallet).await, 25, "applied once");
    app.verify_clean().await;
});

async fn audit_events(app: &TestApp) -> Vec<Value> {
    let page = app.get("/v1/audit-events?limit=1000").await;
    page.assert_status(StatusCode::OK)["data"].as_array().unwrap().clone()
}

// An answer whose audit event cannot be written is answered 503 audit_unavailable and kept in the
// background with its event. Other requests' events are appended meanwhile; the kept event comes
// after them in the log, and its time is when it was appended: the log's times follow its order.
on_both_backends!(an_event_kept_in_the_background_is_timed_where_it_stands_in_the_log, |db| {
    let app = TestApp::start(db, Setup { parties: world::party_config(), ..Setup::default() }).await;
    faults::refuse_rows(&app.db, "refuse_account_events", "audit_events", "NEW.route = '/v1/ledger/accounts'").await;
    let withheld = app.post_keyed("/v1/ledger/accounts", "kept-1", json!({"currency": "CNY"})).await;
    withheld.assert_error(StatusCode::SERVICE_UNAVAILABLE, "audit_unavailable");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    app.register("13700000131").await;
    app.register("13700000132").await;
    faults::allow_rows(&app.db, "refuse_account_events", "audit_events").await;
    assert!(app.state.keeps_settled(std::time::Duration::from_secs(20)).await);

    let events = audit_events(&app).await;
    let routes: Vec<&str> = events.iter().map(|e| e["route"].as_str().unwrap()).collect();
    assert_eq!(routes, ["/v1/members", "/v1/members", "/v1/ledger/accounts"], "{events:?}");
    let times: Vec<Timestamp> =
        events.iter().map(|e| Timestamp::parse_rfc3339(e["at"].as_str().unwrap()).unwrap()).collect();
    assert!(times.windows(2).all(|pair| pair[0] <= pair[1]), "times out of the log's order: {events:?}");
    assert_eq!(events[2]["request_id"], withheld.request_id(), "the first run's event");
    let replay = retried(&app, "/v1/ledger/accounts", "kept-1", &json!({"currency": "CNY"})).await;
    assert!(replay.replayed());
    replay.assert_status(StatusCode::CREATED);
    let report = sanhu_store::audit::verify_chain(&app.db.store).await.unwrap();
    assert_eq!(report.broken, None);
});

// A keyed POST's nonce and its claim are written in one commit of the nonce book (the book counts its
// commits: one for both, where the nonce and the claim were two before). A replay of the signed
// request under another key is refused replayed_nonce and claims nothing: that key stays free for a
// request of its own, and the first key still answers its first request.
on_both_backends!(a_keyed_posts_nonce_and_claim_are_one_commit_and_a_replayed_nonce_claims_nothing, |db| {
    let app = TestApp::start(db, Setup { parties: world::party_config(), ..Setup::default() }).await;
    let path = "/v1/ledger/accounts";
    let body = json!({"currency": "CNY"});
    let bytes = body.to_string().into_bytes();
    let keyed = |headers: &sanhu_http::signature::SignedHeaders, key: &str| {
        sanhu_testkit::app::request(&app.client.id, "POST", path, &bytes, headers, &[("idempotency-key", key)])
    };
    // Nothing but this test's requests writes through this app's nonce book (no background task of
    // the server signs a request), so its counts between two points are this request's.
    let book = app.state.nonce_book();
    let before = book.counts();
    let headers = app.sign("POST", path, &bytes);
    let first = app.send(keyed(&headers, "one-commit-1")).await;
    let id = first.assert_status(StatusCode::CREATED)["id"].clone();
    let after = book.counts();
    assert_eq!(
        (after.commits - before.commits, after.nonces - before.nonces, after.claims - before.claims),
        (1, 1, 1),
        "the nonce and the claim in one commit"
    );

    let replay = app.send(keyed(&headers, "one-commit-2")).await;
    replay.assert_error(StatusCode::UNAUTHORIZED, "replayed_nonce");
    let own = app.post_keyed(path, "one-commit-2", body.clone()).await;
    let other = own.assert_status(StatusCode::CREATED)["id"].clone();
    assert!(!own.replayed(), "the replay left no claim on the key: its own request ran");
    assert_ne!(other, id);

    let replay = app.send(keyed(&headers, "one-commit-1")).await;
    replay.assert_error(StatusCode::UNAUTHORIZED, "replayed_nonce");
    let again = app.post_keyed(path, "one-commit-1", body).await;
    assert_eq!((again.status, &again.body["id"], again.replayed()), (StatusCode::CREATED, &id, true));
    app.verify_clean().await;
});
