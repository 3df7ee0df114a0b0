//! Concurrent requests on one wallet and one payment are decided in turn by the server, over the
//! signed API on SQLite and PostgreSQL: every first answer is final and true, and no caller is
//! answered `concurrent_change` for a request it could not have ordered differently.
//!
//! - 50 payments of 1.00 at once from a wallet holding 30.00 (10.00 in its bonus account, drawn on
//!   first, and 20.00 in its basic account): exactly 30 paid and 20 `insufficient_funds`;
//! - 20 refunds of 10.00 at once of a payment of 100.00: exactly 10 succeeded and 10
//!   `refund_exceeds_payment`, and the payment holds exactly the refunds answered as succeeded.

use axum::http::StatusCode;

use futures_util::future::join_all;
use sanhu_testkit::app::TestApp;
use sanhu_testkit::{on_both_backends, world, TestDatabase};
use serde_json::json;

async fn app(db: TestDatabase) -> TestApp {
    TestApp::new(db, world::cheap_party_config(), world::wallet_config()).await
}

/// A member whose wallet holds 10.00 in its bonus account and 20.00 in its basic account.
async fn wallet_of_30(app: &TestApp, phone: &str) -> (String, String, String) {
    let (member, basic) = app.active_member(phone).await;
    let bonus = app.open(&member, "bonus").await;
    app.recharge(&member, &basic, 2000, "test", &format!("R-{phone}")).await;
    let credit = json!({"adjustment_number": format!("A-{phone}"), "account_id": bonus, "direction": "credit",
                        "amount": 1000, "reason": "a red packet", "acting_staff": "alice"});
    app.post("/v1/adjustments", credit).await.assert_status(StatusCode::CREATED);
    assert_eq!(app.wallet(&member).await["available"].as_i64(), Some(3000));
    (member, basic, bonus)
}

on_both_backends!(fifty_payments_at_once_from_a_wallet_of_thirty_are_thirty_paid_and_twenty_refused, |db| {
    let app = app(db).await;
    let (payer, basic, bonus) = wallet_of_30(&app, "13700000401").await;
    let (_, merchant) = app.active_member("13700000402").await;

    let answers = join_all((0..50).map(|n| {
        let body = json!({"order_number": format!("HOT-{n}"), "member_id": payer, "amount": 100,
                          "receiver_account_id": merchant});
        app.post("/v1/payments", body)
    }))
    .await;
    let (mut paid, mut refused) = (Vec::new(), Vec::new());
    for (n, answer) in answers.iter().enumerate() {
        match (answer.status, answer.code()) {
            (StatusCode::CREATED, _) => {
                assert_eq!(answer.body["status"], "paid", "{}", answer.body);
                paid.push(n);
            }
            (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds") => refused.push(n),
            _ => panic!("payment HOT-{n} was answered {} {}", answer.status, answer.body),
        }
    }
    assert_eq!((paid.len(), refused.len()), (30, 20), "paid {paid:?}, refused {refused:?}");
    // The answers are true: what was paid left the wallet (bonus first), what was refused moved nothing.
    assert_eq!(app.balance(&bonus).await, 0);
    assert_eq!(app.balance(&basic).await, 0);
    assert_eq!(app.balance(&merchant).await, 3000);
    for n in &paid {
        let payment = app.get(&format!("/v1/payments/HOT-{n}")).await;
        assert_eq!(payment.assert_status(StatusCode::OK)["status"], "paid");
    }
    for n in &refused {
        // Asked again, a refused payment is refused again: the first answer was final.
        let body = json!({"order_number": format!("HOT-{n}"), "member_id": payer, "amount": 100,
                          "receiver_account_id": merchant});
        app.post("/v1/payments", body).await.assert_error(StatusCode::UNPROCESSABLE_ENTITY, "insufficient_funds");
    }
    assert_eq!(app.state.parties().turns().queues(), 0, "no queue is kept once the requests are answered");
    app.verify_clean().await;
});

on_both_backends!(twenty_refunds_at_once_of_a_payment_of_one_hundred_are_ten_refunds_and_ten_refused, |db| {
    let app = app(db).await;
    let (payer, basic) = app.active_member("13700000403").await;
    let (_, merchant) = app.active_member("13700000404").await;
    app.recharge(&payer, &basic, 10_000, "test", "R-403").await;
    let body = json!({"order_number": "BIG", "member_id": payer, "amount": 10_000, "receiver_account_id": merchant});
    app.post("/v1/payments", body).await.assert_status(StatusCode::CREATED);

    let answers =
        join_all((0..20).map(|n| {
            app.post("/v1/payments/BIG/refunds", json!({"refund_number": format!("RF-{n}"), "amount": 1000}))
        }))
        .await;
    let mut succeeded = Vec::new();
    for (n, answer) in answers.iter().enumerate() {
        match (answer.status, answer.code()) {
            (StatusCode::CREATED, _) => {
                assert_eq!(answer.body["status"], "succeeded", "{}", answer.body);
                succeeded.push(format!("RF-{n}"));
            }
            (StatusCode::UNPROCESSABLE_ENTITY, "refund_exceeds_payment") => {}
            _ => panic!("refund RF-{n} was answered {} {}", answer.status, answer.body),
        }
    }
    assert_eq!(succeeded.len(), 10, "{succeeded:?}");
    // Exactly the refunds answered as succeeded were applied, and nothing else.
    let payment = app.get("/v1/payments/BIG").await.assert_status(StatusCode::OK).clone();
    assert_eq!(payment["refunded"].as_i64(), Some(10_000));
    let mut recorded: Vec<String> = payment["refunds"]
        .as_array()
        .unwrap()
        .iter()
        .inspect(|r| assert_eq!(r["status"], "succeeded", "{r}"))
        .map(|r| r["refund_number"].as_str().unwrap().to_owned())
        .collect();
    recorded.sort();
    succeeded.sort();
    assert_eq!(recorded, succeeded);
    assert_eq!(app.balance(&basic).await, 10_000);
    assert_eq!(app.balance(&merchant).await, 0);
    app.verify_clean().await;
});

/// The throughput of one hot wallet (docs/BENCHMARKS.md): `CALLERS` callers pay 0.01 at once from
/// one wallet, each its next payment as soon as the last is answered, for `SANHU_HOT_WALLET_S`
/// seconds (3 by default). Run on purpose, in release:
/// `cargo test --release -p sanhu-http --test it wallet_turns::hot_wallet -- --ignored --nocapture`.
mod hot_wallet_throughput {
    use super::*;
    use std::time::{Duration, Instant};

    const CALLERS: usize = 50;

    async fn run(db: TestDatabase, backend: &str) {
        let seconds: u64 = std::env::var("SANHU_HOT_WALLET_S").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
        let app = app(db).await;
        let (payer, basic) = app.active_member("13700000405").await;
        let (_, merchant) = app.active_member("13700000406").await;
        app.recharge(&payer, &basic, 100_000_000, "test", "R-HOT").await;
        let started = Instant::now();
        let until = started + Duration::from_secs(seconds);
        let callers = (0..CALLERS).map(|caller| {
            let (app, payer, merchant) = (&app, &payer, &merchant);
            async move {
                let mut latencies = Vec::new();
                for n in 0.. {
                    if Instant::now() >= until {
                        break;
                    }
                    let body = json!({"order_number": format!("HOT-{caller}-{n}"), "member_id": payer,
                                      "amount": 1, "receiver_account_id": merchant});
                    let sent = Instant::now();
                    app.post("/v1/payments", body).await.assert_status(StatusCode::CREATED);
                    latencies.push(sent.elapsed());
                }
                latencies
            }
        });
        let mut latencies: Vec<Duration> = join_all(callers).await.into_iter().flatten().collect();
        let elapsed = started.elapsed();
        latencies.sort();
        let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(latencies.len() - 1)];
        assert_eq!(app.balance(&merchant).await, latencies.len() as i64);
        println!(
            "hot wallet on {backend}: {} payments from one wallet by {CALLERS} callers in {:.1} s: {:.0} payments/s, \
             latency p50 {:.1} ms, p99 {:.1} ms",
            latencies.len(),
            elapsed.as_secs_f64(),
            latencies.len() as f64 / elapsed.as_secs_f64(),
            at(0.5).as_secs_f64() * 1000.0,
            at(0.99).as_secs_f64() * 1000.0,
        );
        app.verify_clean().await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement, run on purpose"]
    async fn sqlite() {
        run(TestDatabase::sqlite().await, "sqlite").await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[ignore = "a measurement, run on purpose"]
    async fn postgres() {
        let Some(db) = TestDatabase::postgres().await else { return };
        run(db, "postgres").await;
    }
}
