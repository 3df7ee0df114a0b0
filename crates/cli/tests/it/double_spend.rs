//! Double spend: a wallet that can fund exactly one of many concurrent requests gets them all at
//! once, from several threads, over the real `sanhu serve` (two instances on one PostgreSQL database).
//! Each round recharges a member's wallet with `AMOUNT` through a channel and then races payments of
//! `AMOUNT` to a merchant against withdrawals of `AMOUNT` to the member's card, each request with its
//! own order number. Whatever the interleaving:
//!
//! - exactly one request of the round succeeds (a payment `paid`, or a withdrawal `approved`, its
//!   money frozen); every other one is refused with `insufficient_funds` or `exceeds_withdrawable`,
//!   never a 5xx, and its record moved nothing;
//! - the wallet ends the round empty (nothing available, nothing frozen once the payout is recorded);
//! - over all rounds, what the merchant received plus what went to withdrawals in transit is exactly
//!   what was recharged, and `sanhu verify` exits 0 on the stopped database.
//!
//! Runs on SQLite (one instance) and PostgreSQL (two instances, requests alternating between them);
//! prints its figures for docs/RELIABILITY.md.

use crate::common;

use std::sync::{Arc, Barrier};
use std::time::Instant;

use common::*;
use serde_json::{json, Value};

/// What each round's recharge brings and each racing request asks for: 100.00.
const AMOUNT: i64 = 10_000;
/// Rounds per run.
const ROUNDS: usize = 12;
/// Requests racing in each round, half payments and half withdrawals.
const RACERS: usize = 8;

fn post(port: u16, credential: &Credential, path: &str, body: Value) -> Answer {
    send(port, "POST", path, Some(&body.to_string()), None, Some(credential))
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

#[derive(Debug, Default)]
struct Figures {
    requests: usize,
    paid: usize,
    withdrawn: usize,
    refused: usize,
}

fn double_spend(database: Database, instances: usize) {
    let started = Instant::now();
    let work = WorkDir::new(&format!("double-spend-{}", database.name()));
    let mut servers: Vec<Server> = (0..instances).map(|_| Server::new(&work.path, &database)).collect();
    for server in &mut servers {
        server.start();
    }
    let ports: Vec<u16> = servers.iter().map(|s| s.port).collect();
    let credential = Arc::new(Credential::load(&work.path));
    let port = ports[0];

    let (member, basic) = active_member(port, &credential, "13600136001");
    let (_, merchant) = active_member(port, &credential, "13600136002");
    let authentication = json!({"type": "id_card", "channel": "police_id_check", "name": "张三",
        "certificate_type": "id_card", "certificate_number": "110101199003071233", "result": "verified"});
    post_ok(port, &credential, &format!("/v1/members/{member}/authentications"), authentication);
    let card = post_ok(
        port,
        &credential,
        &format!("/v1/members/{member}/bank-cards"),
        json!({ "card_number": "6222020000000000018", "holder": "张三" }),
    );
    let card = card["id"].as_str().expect("the card's id").to_owned();

    let mut figures = Figures::default();
    for round in 0..ROUNDS {
        let recharge = format!("R-{round}");
        let body = json!({ "order_number": recharge, "member_id": member, "amount": AMOUNT, "channel": "alipay" });
        post_ok(port, &credential, "/v1/recharges", body);
        let credited = post_ok(port, &credential, &format!("/v1/recharges/{recharge}/confirm"), json!({}));
        assert_eq!(credited["status"], "succeeded", "{credited}");

        let barrier = Arc::new(Barrier::new(RACERS));
        let racers: Vec<_> = (0..RACERS)
            .map(|racer| {
                let (credential, barrier) = (credential.clone(), barrier.clone());
                let port = ports[racer % ports.len()];
                let (member, merchant, card) = (member.clone(), merchant.clone(), card.clone());
                std::thread::spawn(move || {
                    let number = format!("D-{round}-{racer}");
                    let (path, body) = if racer % 2 == 0 {
                        let body = json!({ "order_number": number, "member_id": member, "amount": AMOUNT,
                                           "receiver_account_id": merchant });
                        ("/v1/payments", body)
                    } else {
                        let body = json!({ "order_number": number, "member_id": member, "amount": AMOUNT,
                                           "bank_card_id": card });
                        ("/v1/withdrawals", body)
                    };
                    barrier.wait();
                    (racer, number, post(port, &credential, path, body))
                })
            })
            .collect();
        let answers: Vec<(usize, String, Answer)> =
            racers.into_iter().map(|r| r.join().expect("a racer panicked")).collect();
        figures.requests += answers.len();
        let winners: Vec<&(usize, String, Answer)> = answers.iter().filter(|(_, _, a)| a.status == 201).collect();
        assert_eq!(winners.len(), 1, "round {round}: exactly one request is funded: {answers:#?}");
        for (_, _, answer) in answers.iter().filter(|(_, _, a)| a.status != 201) {
            assert_eq!(answer.status, 422, "round {round}: {answer:?}");
            assert!(
                ["insufficient_funds", "exceeds_withdrawable"].contains(&answer.code().as_str()),
                "round {round}: {answer:?}"
            );
        }
        figures.refused += answers.len() - 1;
        let (racer, number, answer) = winners[0];
        if racer % 2 == 0 {
            assert_eq!(answer.json()["status"], "paid", "{answer:?}");
            figures.paid += 1;
        } else {
            assert_eq!(answer.json()["status"], "approved", "{answer:?}");
            let paid_out =
                post_ok(port, &credential, &format!("/v1/withdrawals/{number}/payout"), json!({"result": "succeeded"}));
            assert_eq!(paid_out["status"], "paid", "{paid_out}");
            figures.withdrawn += 1;
        }
        // A refused request's record moved nothing: the wallet is empty, nothing is held.
        let wallet = get_ok(ports[round % ports.len()], &credential, &format!("/v1/members/{member}/wallet"));
        assert_eq!(
            (wallet["balance"].as_i64(), wallet["frozen"].as_i64()),
            (Some(0), Some(0)),
            "round {round}: {wallet}"
        );
    }

    let merchant_balance = get_ok(port, &credential, &format!("/v1/ledger/accounts/{merchant}"))["balance"].as_i64();
    assert_eq!(merchant_balance, Some(figures.paid as i64 * AMOUNT));
    let platform = get_ok(port, &credential, "/v1/platform-accounts");
    let in_transit = platform["data"]
        .as_array()
        .expect("the platform accounts")
        .iter()
        .find(|a| a["name"] == "withdrawals_in_transit")
        .map(|a| a["account"]["balance"].as_i64().expect("a balance"));
    assert_eq!(in_transit, Some(figures.withdrawn as i64 * AMOUNT));
    assert_eq!(get_ok(port, &credential, &format!("/v1/ledger/accounts/{basic}"))["balance"].as_i64(), Some(0));
    let logs: String = servers.iter().map(Server::output).collect();
    for server in &mut servers {
        server.stop();
    }
    let mut args = vec!["verify".to_owned()];
    args.extend(database.args());
    let (status, stdout, stderr) = run_bounded(sanhu(&work.path, &args), COMMAND_TIMEOUT);
    assert!(status.success(), "sanhu verify failed:\n{stdout}\n{stderr}");
    assert!(!logs.contains(" ERROR "), "a server logged an error:\n{logs}");
    println!(
        "double spend on {} with {instances} instance(s): {ROUNDS} rounds of {RACERS} racing requests ({} in all): \
         {} paid, {} withdrawn, {} refused, none funded twice; {} ms",
        database.name(),
        figures.requests,
        figures.paid,
        figures.withdrawn,
        figures.refused,
        started.elapsed().as_millis()
    );
}

#[test]
fn a_wallet_that_can_fund_one_request_funds_exactly_one_on_sqlite() {
    double_spend(Database::Sqlite, 1);
}

#[test]
fn a_wallet_that_can_fund_one_request_funds_exactly_one_on_two_postgres_instances() {
    let Some(schema) = PostgresSchema::create("t_cli") else { return };
    double_spend(Database::Postgres(schema), 2);
}
