//! The crash test for the wallet: client threads pay orders from members' wallets to merchants over
//! the real `sanhu serve`, each payment with its own order number and Idempotency-Key, while the
//! server is killed with SIGKILL at random moments and restarted on the same database. A payment is a
//! record and a linked chain of ledger transfers written in two steps, so a kill can fall between
//! them; then every request that was not answered is retried with its key and body until it is.
//! Afterwards:
//!
//! - every payment answered `paid` is paid once: its record says so, and each merchant's balance is
//!   exactly the sum of the payments answered `paid` to it;
//! - every payment refused moved nothing: each member's balance is its recharge less exactly its paid
//!   payments, and nothing is left frozen;
//! - every key's replay is its first decisive answer; no key stays claimed; `sanhu verify` exits 0.
//!
//! SQLite and PostgreSQL; `SANHU_CRASH_SEED` repeats a run's random choices. Prints its figures for
//! docs/RELIABILITY.md.

use crate::common;

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

/// Members paying, and merchants paid.
const MEMBERS: usize = 4;
const MERCHANTS: usize = 2;
/// Each member's recharge: 4,000.00, about what the payments ask of it in all.
const RECHARGE: i64 = 400_000;
/// Largest payment: some payments find too little money left.
const PAYMENT_MAX: i64 = 15_000;
const CLIENTS: usize = 8;
const OPERATIONS: usize = 240;
const KILLS: usize = 4;
const SETTLE_TIMEOUT: Duration = Duration::from_secs(20);
const CHAOS_TIMEOUT: Duration = Duration::from_secs(60);
const RETRY_PAUSE: Duration = Duration::from_millis(50);

#[derive(Clone, Debug)]
struct Payment {
    key: String,
    number: String,
    member: usize,
    merchant: usize,
    amount: i64,
    body: String,
    acknowledged: bool,
    decided: Option<Answer>,
}

fn wallet_payments_survive_sigkill(database: Database) {
    let started = Instant::now();
    let seed = seed();
    eprintln!("wallet crash test on {}: seed {seed}", database.name());
    let mut random = Random::new(seed);
    let work = WorkDir::new(&format!("wallet-crash-{}", database.name()));
    let mut server = Server::new(&work.path, &database);
    server.start();
    let port = server.port;
    let credential = Arc::new(Credential::load(&work.path));

    let mut members = Vec::new();
    for i in 0..MEMBERS {
        let (member, basic) = active_member(port, &credential, &format!("1340013{i:04}"));
        let number = format!("R-{i}");
        let body = json!({ "order_number": number, "member_id": member, "amount": RECHARGE, "channel": "alipay" });
        post_ok(port, &credential, "/v1/recharges", body);
        post_ok(port, &credential, &format!("/v1/recharges/{number}/confirm"), json!({}));
        members.push((member, basic));
    }
    let merchants: Vec<String> =
        (0..MERCHANTS).map(|i| active_member(port, &credential, &format!("1340014{i:04}")).1).collect();

    let kill_points = kill_points(&mut random, OPERATIONS, KILLS);
    let next = Arc::new(AtomicUsize::new(0));
    let up = Arc::new(AtomicBool::new(true));
    let (members, merchants) = (Arc::new(members), Arc::new(merchants));
    let chaos_started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            let mut random = Random::new(random.next());
            let (next, up, credential) = (next.clone(), up.clone(), credential.clone());
            let (members, merchants) = (members.clone(), merchants.clone());
            std::thread::spawn(move || {
                let mut sent = Vec::new();
                loop {
                    while !up.load(Ordering::SeqCst) {
                        assert!(chaos_started.elapsed() < CHAOS_TIMEOUT, "the server stayed down");
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    let index = next.fetch_add(1, Ordering::SeqCst);
                    if index >= OPERATIONS {
                        return sent;
                    }
                    let member = random.below(MEMBERS as u64) as usize;
                    let merchant = random.below(MERCHANTS as u64) as usize;
                    let amount = 1 + random.below(PAYMENT_MAX as u64) as i64;
                    let number = format!("P-{index}");
                    let body = json!({ "order_number": number, "member_id": members[member].0, "amount": amount,
                                       "receiver_account_id": merchants[merchant] })
                    .to_string();
                    let key = format!("pay-{index}");
                    let first = send(port, "POST", "/v1/payments", Some(&body), Some(&key), Some(&credential));
                    let decided = first.ok().filter(Answer::is_definite);
                    let acknowledged = decided.is_some();
                    sent.push(Payment { key, number, member, merchant, amount, body, acknowledged, decided });
                }
            })
        })
        .collect();
    let mut kills = 0;
    for &point in &kill_points {
        while next.load(Ordering::SeqCst) < point.min(OPERATIONS) {
            assert!(chaos_started.elapsed() < CHAOS_TIMEOUT, "the clients stalled:\n{}", server.output());
            std::thread::sleep(Duration::from_millis(1));
        }
        std::thread::sleep(Duration::from_millis(random.below(10)));
        up.store(false, Ordering::SeqCst);
        server.kill();
        kills += 1;
        std::thread::sleep(Duration::from_millis(random.below(100)));
        server.start();
        up.store(true, Ordering::SeqCst);
    }
    let mut payments: Vec<Payment> = Vec::new();
    for client in clients {
        payments.extend(client.join().expect("a client thread panicked"));
    }
    assert_eq!(payments.len(), OPERATIONS);
    let chaos_ms = chaos_started.elapsed().as_millis();

    // Every payment not answered is retried with its key and body until it is.
    let settle_started = Instant::now();
    let mut retries = 0;
    for payment in payments.iter_mut().filter(|p| p.decided.is_none()) {
        loop {
            assert!(
                settle_started.elapsed() < SETTLE_TIMEOUT,
                "the retries did not settle: {payment:?}\n{}",
                server.output()
            );
            retries += 1;
            match send(port, "POST", "/v1/payments", Some(&payment.body), Some(&payment.key), Some(&credential)) {
                Ok(answer) if answer.is_definite() => {
                    payment.decided = Some(answer);
                    break;
                }
                Ok(answer) => assert!(
                    answer.status >= 500 || answer.code() == "idempotency_key_in_use",
                    "an unexpected answer to a retry: {answer:?}"
                ),
                Err(_) => {}
            }
            std::thread::sleep(RETRY_PAUSE);
        }
    }
    let settle_ms = settle_started.elapsed().as_millis();
    assert_eq!(database.open_claims(&work.path), 0, "a key is still claimed after every payment was answered");

    // Each decided as paid or refused; its record agrees; a replay of its key is its answer.
    let mut paid_by_member = [0i64; MEMBERS];
    let mut paid_to_merchant = [0i64; MERCHANTS];
    let (mut paid, mut refused) = (0, 0);
    for payment in &payments {
        let decided = payment.decided.as_ref().expect("decided");
        match decided.status {
            201 => {
                assert_eq!(decided.json()["status"], "paid", "{payment:?}");
                paid += 1;
                paid_by_member[payment.member] += payment.amount;
                paid_to_merchant[payment.merchant] += payment.amount;
                let record = get_ok(port, &credential, &format!("/v1/payments/{}", payment.number));
                assert_eq!((record["status"].as_str(), record["paid"].as_i64()), (Some("paid"), Some(payment.amount)));
            }
            422 => {
                assert_eq!(decided.code(), "insufficient_funds", "{payment:?}");
                refused += 1;
            }
            _ => panic!("an unexpected decision: {payment:?}"),
        }
        let replay = send(port, "POST", "/v1/payments", Some(&payment.body), Some(&payment.key), Some(&credential))
            .expect("replay a key");
        assert_eq!((replay.status, &replay.body), (decided.status, &decided.body), "the replay of {}", payment.key);
    }
    for (i, (member, _)) in members.iter().enumerate() {
        let wallet = get_ok(port, &credential, &format!("/v1/members/{member}/wallet"));
        assert_eq!(
            (wallet["balance"].as_i64(), wallet["frozen"].as_i64()),
            (Some(RECHARGE - paid_by_member[i]), Some(0)),
            "member {i}: {wallet}"
        );
    }
    for (i, merchant) in merchants.iter().enumerate() {
        let balance = get_ok(port, &credential, &format!("/v1/ledger/accounts/{merchant}"))["balance"].as_i64();
        assert_eq!(balance, Some(paid_to_merchant[i]), "merchant {i}");
    }
    server.stop();
    let mut args = vec!["verify".to_owned()];
    args.extend(database.args());
    let (status, stdout, stderr) = run_bounded(sanhu(&work.path, &args), COMMAND_TIMEOUT);
    assert!(status.success(), "sanhu verify failed:\n{stdout}\n{stderr}");
    let acknowledged = payments.iter().filter(|p| p.acknowledged).count();
    println!(
        "wallet crash test on {}: {OPERATIONS} payments from {CLIENTS} threads, {acknowledged} answered at first, {} \
         retried ({retries} attempts, settled in {settle_ms} ms), {kills} kills; {paid} paid once, {refused} refused \
         insufficient_funds, balances exact, verify clean; chaos {chaos_ms} ms, whole run {} ms; seed {seed}",
        database.name(),
        OPERATIONS - acknowledged,
        started.elapsed().as_millis()
    );
}

#[test]
fn wallet_payments_survive_sigkill_on_sqlite() {
    wallet_payments_survive_sigkill(Database::Sqlite);
}

#[test]
fn wallet_payments_survive_sigkill_on_postgres() {
    let Some(schema) = PostgresSchema::create("t_cli") else { return };
    wallet_payments_survive_sigkill(Database::Postgres(schema));
}
