//! Jepsen's bank test against the real `sanhu serve`: a platform account funds a few wallets that may
//! not go below zero, client threads move random amounts between random pairs of them (many refused
//! for lack of money), and reader threads read all the balances at once through the multi-account
//! balance endpoint (`GET /v1/ledger/balances`, one snapshot) while they do. Every read must show the
//! money conserved and no wallet below its floor (DESIGN.md invariants 1 and 4); afterwards each
//! wallet's entries are exactly its funding and the transfers answered with success, the balances
//! follow from them, and `sanhu verify` on the stopped database exits 0.
//!
//! - `…_on_sqlite`, `…_on_postgres`: one server.
//! - `two_instances_…`: two `sanhu serve` processes on one PostgreSQL database (two ports; the API
//!   client, created by the first, is in the database, so both know it), the load split across both.
//!   Besides the same checks, no answer may be a 5xx: the instances lock in one order and retry a
//!   batch that lost a race, so no deadlock or serialization failure reaches a caller.
//!
//! Every answer to a transfer must be 201 or 422 `insufficient_funds`, and every read 200. Each run
//! prints its figures for docs/RELIABILITY.md; `SANHU_CRASH_SEED` repeats a run's random choices.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// Wallets the money moves between, and what each is funded with.
const WALLETS: usize = 5;
const FUNDING: i64 = 10_000;
/// Largest amount of one transfer: more than a wallet's share, so that many are refused.
const AMOUNT_MAX: i64 = 6_000;
/// Client threads sending transfers, and how many each sends.
const WRITERS: usize = 6;
const TRANSFERS_PER_WRITER: usize = 100;
/// Client threads reading every balance at once, for as long as the writers run.
const READERS: usize = 2;
/// Longest the load may take.
const LOAD_TIMEOUT: Duration = Duration::from_secs(40);

/// What a run counted.
#[derive(Debug, Default)]
struct Figures {
    transfers: usize,
    succeeded: usize,
    insufficient_funds: usize,
    reads: usize,
    load_ms: u128,
    total_ms: u128,
}

/// Runs the bank's load through the servers on `ports` (each request to the next port in turn) and
/// checks every answer and every read; returns the successful transfers and the figures.
fn run_load(ports: &[u16], credential: &Arc<Credential>, bank: &Arc<Bank>, seed: u64) -> (Vec<Moved>, Figures) {
    let mut random = Random::new(seed);
    let writers_done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let (ports, credential, bank) = (ports.to_vec(), credential.clone(), bank.clone());
            let mut random = Random::new(random.next());
            std::thread::spawn(move || {
                let (mut moved, mut refused, mut failures) = (Vec::new(), 0, Vec::new());
                for index in 0..TRANSFERS_PER_WRITER {
                    let port = ports[(writer + index) % ports.len()];
                    let debit = random.below(WALLETS as u64) as usize;
                    let credit = (debit + 1 + random.below(WALLETS as u64 - 1) as usize) % WALLETS;
                    let amount = 1 + random.below(AMOUNT_MAX as u64) as i64;
                    // One in four leaves the id to the server.
                    let chosen_id = (index % 4 != 3)
                        .then(|| sanhu_service::clock::new_id::<sanhu_core::id::TransferTag>().to_string());
                    let body = transfer_body(chosen_id.as_deref(), &bank.wallets[debit], &bank.wallets[credit], amount);
                    let key = format!("bank-{writer}-{index}");
                    let answer = send(port, "POST", "/v1/ledger/transfers", Some(&body), Some(&key), Some(&credential));
                    match answer {
                        Ok(answer) if answer.status == 201 => {
                            let id = answer.json()["id"].as_str().expect("the transfer's id").to_owned();
                            if let Some(chosen) = &chosen_id {
                                assert_eq!(&id, chosen, "the server answered another transfer");
                            }
                            moved.push(Moved { id, debit, credit, amount });
                        }
                        Ok(answer) if answer.status == 422 && answer.code() == "insufficient_funds" => refused += 1,
                        other => failures.push(format!("transfer {key} on port {port}: {other:?}")),
                    }
                }
                (moved, refused, failures)
            })
        })
        .collect();
    let readers: Vec<_> = (0..READERS)
        .map(|reader| {
            let (ports, credential, bank, done) =
                (ports.to_vec(), credential.clone(), bank.clone(), writers_done.clone());
            std::thread::spawn(move || {
                let (mut reads, mut failures) = (0usize, Vec::new());
                let path = bank.balances_path();
                // At least one read after the writers stop, so that even a fast run reads.
                loop {
                    let last = done.load(Ordering::SeqCst);
                    let port = ports[(reader + reads) % ports.len()];
                    match send(port, "GET", &path, None, None, Some(&credential)) {
                        Ok(answer) if answer.status == 200 => {
                            if let Err(problem) = bank.check_snapshot(&answer.json()) {
                                failures.push(format!("read {reads} on port {port}: {problem}"));
                            }
                        }
                        other => failures.push(format!("read {reads} on port {port}: {other:?}")),
                    }
                    reads += 1;
                    if last || started.elapsed() > LOAD_TIMEOUT {
                        return (reads, failures);
                    }
                }
            })
        })
        .collect();

    let mut figures = Figures::default();
    let (mut moved, mut failures) = (Vec::new(), Vec::new());
    for writer in writers {
        let (m, refused, f) = writer.join().expect("a writer thread panicked");
        moved.extend(m);
        figures.insufficient_funds += refused;
        failures.extend(f);
    }
    writers_done.store(true, Ordering::SeqCst);
    for reader in readers {
        let (reads, f) = reader.join().expect("a reader thread panicked");
        figures.reads += reads;
        failures.extend(f);
    }
    figures.load_ms = started.elapsed().as_millis();
    assert!(started.elapsed() < LOAD_TIMEOUT, "the load took longer than {LOAD_TIMEOUT:?}");
    assert!(
        failures.is_empty(),
        "{} wrong answers or reads, the first ones:\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n")
    );
    figures.transfers = WRITERS * TRANSFERS_PER_WRITER;
    figures.succeeded = moved.len();
    assert_eq!(figures.succeeded + figures.insufficient_funds, figures.transfers);
    assert!(figures.succeeded > 0 && figures.insufficient_funds > 0, "both outcomes occur: {figures:?}");
    (moved, figures)
}

/// The bank test with `instances` servers on one database.
fn bank_test(database: Database, instances: usize) {
    let started = Instant::now();
    let seed = seed();
    eprintln!("bank test on {} with {instances} instance(s): seed {seed}", database.name());
    let work = WorkDir::new(&format!("bank-{}", database.name()));
    let mut servers: Vec<Server> = Vec::new();
    for _ in 0..instances {
        // The first start creates the API client; the others find it in the database.
        let mut server = Server::new(&work.path, &database);
        server.start();
        servers.push(server);
    }
    let ports: Vec<u16> = servers.iter().map(|s| s.port).collect();
    let credential = Arc::new(Credential::load(&work.path));
    let bank = Arc::new(Bank::open(ports[0], &credential, WALLETS, FUNDING));

    let (moved, mut figures) = run_load(&ports, &credential, &bank, seed);
    for &port in &ports {
        check_ledger_matches(port, &credential, &bank, &moved);
    }
    let logs: String = servers.iter().map(Server::output).collect();
    for server in &mut servers {
        server.stop();
    }
    verify_clean(&work.path, database.args(), WALLETS + 1, WALLETS + moved.len());
    // Neither instance logged an error (a batch that failed, a 500), though none reached a caller.
    assert!(!logs.contains(" ERROR "), "a server logged an error:\n{logs}");
    figures.total_ms = started.elapsed().as_millis();
    println!(
        "bank test on {} with {instances} instance(s): {} transfers from {WRITERS} threads ({} succeeded, {} \
         insufficient_funds), {} consistent reads from {READERS} threads, all conserved and none below its floor; \
         load {} ms, whole run {} ms; seed {seed}",
        database.name(),
        figures.transfers,
        figures.succeeded,
        figures.insufficient_funds,
        figures.reads,
        figures.load_ms,
        figures.total_ms,
    );
}

#[test]
fn bank_reads_stay_consistent_under_concurrent_transfers_on_sqlite() {
    bank_test(Database::Sqlite, 1);
}

#[test]
fn bank_reads_stay_consistent_under_concurrent_transfers_on_postgres() {
    let Some(schema) = PostgresSchema::create("t_cli") else { return };
    bank_test(Database::Postgres(schema), 1);
}

#[test]
fn two_instances_on_one_postgres_database_keep_the_bank_consistent() {
    let Some(schema) = PostgresSchema::create("t_cli") else { return };
    bank_test(Database::Postgres(schema), 2);
}
