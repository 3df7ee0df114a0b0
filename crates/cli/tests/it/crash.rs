//! A crash test in the manner of Jepsen's bank test: the real `sanhu serve` is killed with SIGKILL at
//! random moments while client threads move money between wallets over the signed HTTP API, and is
//! restarted on the same database and port each time. Afterwards every request that was not answered
//! is retried with its own Idempotency-Key and body until it is answered, and the ledger is checked
//! against what the clients were told (DESIGN.md section 4):
//!
//! - invariant 5: every transfer answered with success exists, once, with its fields;
//! - invariant 6: every key's retries get its first response, and no transfer was applied twice
//!   (each wallet's entries are exactly the successful transfers that touched it);
//! - invariant 7: a transfer answered with a rejection does not exist and moved nothing (the balances
//!   are the funding plus or minus exactly the successful transfers);
//! - invariant 1: the money is conserved (the funding account's balance is the sum of the wallets',
//!   and posted debits equal posted credits), no wallet is below zero, and `sanhu verify` on the
//!   stopped database exits 0.
//!
//! Most requests carry a transfer id the client chose; every fourth leaves the id to the server and
//! relies on its Idempotency-Key alone. A retry must never wait for the lease of a claim whose server
//! was killed: the run fails if the retries take longer than `SETTLE_TIMEOUT`.
//!
//! SIGKILL ends the process, not the machine: what the kernel has accepted survives it, so this test
//! shows that an answer is sent only after the commit, not that the commit reached the disk (a power
//! cut would).
//!
//! Runs on SQLite and on PostgreSQL at `SANHU_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) in a fresh schema; the PostgreSQL run is skipped with a
//! message when PostgreSQL is unreachable, except under `CI=true`, where that is a failure. Each run
//! prints its figures (operations, acknowledged, unacknowledged and retried, kills) for
//! docs/RELIABILITY.md; `SANHU_CRASH_SEED` repeats a run's random choices (not its timing).

use crate::common;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;

/// Wallets the clients move money between.
const WALLETS: usize = 8;
/// What each wallet is funded with, in minor units.
const WALLET_FUNDING: i64 = 10_000;
/// Largest amount of one transfer: large enough that some transfers find too little money.
const TRANSFER_AMOUNT_MAX: i64 = 4_000;
/// Client threads sending transfers at once.
const CLIENTS: usize = 8;
/// Transfers the clients send in all during the chaos.
const OPERATIONS: usize = 400;
/// Every this many transfers, the client leaves the id to the server and relies on its Idempotency-Key
/// alone; the others carry an id the client chose.
const SERVER_CHOSEN_ID_EVERY: usize = 4;
/// SIGKILLs per run, each at a random operation count.
const KILLS: usize = 4;

/// Longest the retries of the unanswered requests may take in all, after the last restart. A claim on
/// an idempotency key whose request died with its server must not make a retry wait for its lease.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Pause between two retries of a request that is not answered yet.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// Longest the whole chaos phase (operations, kills and restarts) may take.
const CHAOS_TIMEOUT: Duration = Duration::from_secs(40);

// ---------------------------------------------------------------------------------------------
// The workload
// ---------------------------------------------------------------------------------------------

/// One transfer request as a client sent it, and what it was told.
#[derive(Clone, Debug)]
struct Operation {
    client: usize,
    idempotency_key: String,
    /// The transfer id the client chose; None when it left the id to the server.
    chosen_id: Option<String>,
    debit: usize,
    credit: usize,
    amount: i64,
    body: String,
    /// The answer to the first attempt, or why there was none.
    first: Result<Answer, String>,
    /// The answer that decided it: the first if that was definite, else the retries'.
    decided: Option<Answer>,
    /// Attempts after the first.
    retries: u32,
    /// For a request with a chosen id not answered at first: whether its transfer existed before it
    /// was retried.
    existed_before_retry: bool,
    /// For a request not answered at first: whether it had committed all the same (its transfer's
    /// timestamp is before the retries began).
    committed_unanswered: bool,
}

impl Operation {
    fn acknowledged(&self) -> bool {
        self.first.as_ref().is_ok_and(Answer::is_definite)
    }

    fn succeeded(&self) -> bool {
        self.decided.as_ref().is_some_and(|a| a.status == 201)
    }

    /// The successful transfer's field from its answer.
    fn transferred(&self, field: &str) -> Option<String> {
        let decided = self.decided.as_ref().filter(|_| self.succeeded())?;
        Some(decided.json()[field].as_str().expect("a transfer field").to_owned())
    }

    /// The id of the transfer: the chosen one, or the one the server answered with.
    fn transfer_id(&self) -> Option<String> {
        self.chosen_id.clone().or_else(|| self.transferred("id"))
    }
}

/// What a run counted, for docs/RELIABILITY.md.
#[derive(Debug)]
struct Figures {
    operations: usize,
    server_chosen_ids: usize,
    acknowledged: usize,
    acknowledged_succeeded: usize,
    acknowledged_rejected: usize,
    unacknowledged: usize,
    unacknowledged_refused: usize,
    unacknowledged_committed: usize,
    unacknowledged_committed_server_chosen_id: usize,
    open_claims: i64,
    retries: u32,
    retries_in_use: u32,
    succeeded: usize,
    rejected: usize,
    kills: usize,
    chaos_ms: u128,
    settle_ms: u128,
    total_ms: u128,
}

fn bank_test_survives_sigkill(database: Database) {
    let started = Instant::now();
    let seed = seed();
    eprintln!("crash test on {}: seed {seed} (SANHU_CRASH_SEED={seed} repeats the random choices)", database.name());
    let mut random = Random::new(seed);
    let work = WorkDir::new(database.name());
    let mut server = Server::new(&work.path, &database);
    server.start();
    let port = server.port;
    let credential = Arc::new(Credential::load(&work.path));

    // The bank: a funding account and wallets that may not go below zero, each funded once.
    let funding = open_account(port, &credential, r#"{"currency":"CNY","normal_side":"debit","code":"funding"}"#);
    let wallets: Vec<String> =
        (0..WALLETS).map(|_| open_account(port, &credential, r#"{"currency":"CNY","code":"wallet"}"#)).collect();
    let mut funding_transfers = Vec::new();
    for (index, wallet) in wallets.iter().enumerate() {
        let id = sanhu_service::clock::new_id::<sanhu_core::id::TransferTag>().to_string();
        let body = transfer_body(Some(&id), &funding, wallet, WALLET_FUNDING);
        let key = format!("fund-{index}");
        let answer = send(port, "POST", "/v1/ledger/transfers", Some(&body), Some(&key), Some(&credential))
            .expect("fund a wallet");
        assert_eq!(answer.status, 201, "fund a wallet: {answer:?}\n{}", server.output());
        funding_transfers.push(id);
    }

    // The chaos: clients send transfers while the server is killed at random operation counts.
    let kill_points = kill_points(&mut random, OPERATIONS, KILLS);
    let next_operation = Arc::new(AtomicUsize::new(0));
    let server_up = Arc::new(AtomicBool::new(true));
    let wallets = Arc::new(wallets);
    let chaos_started = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let mut random = Random::new(random.next());
            let (next_operation, server_up) = (next_operation.clone(), server_up.clone());
            let (wallets, credential) = (wallets.clone(), credential.clone());
            std::thread::spawn(move || {
                let mut operations = Vec::new();
                loop {
                    // Nobody sends to a server known to be down: what is cut off is what was in flight.
                    while !server_up.load(Ordering::SeqCst) {
                        assert!(chaos_started.elapsed() < CHAOS_TIMEOUT, "the server stayed down");
                        std::thread::sleep(Duration::from_millis(2));
                    }
                    let index = next_operation.fetch_add(1, Ordering::SeqCst);
                    if index >= OPERATIONS {
                        return operations;
                    }
                    let debit = random.below(WALLETS as u64) as usize;
                    let credit = (debit + 1 + random.below(WALLETS as u64 - 1) as usize) % WALLETS;
                    let amount = 1 + random.below(TRANSFER_AMOUNT_MAX as u64) as i64;
                    let chosen_id = (index % SERVER_CHOSEN_ID_EVERY != SERVER_CHOSEN_ID_EVERY - 1)
                        .then(|| sanhu_service::clock::new_id::<sanhu_core::id::TransferTag>().to_string());
                    let body = transfer_body(chosen_id.as_deref(), &wallets[debit], &wallets[credit], amount);
                    let idempotency_key = format!("crash-{index}");
                    let first = send(
                        port,
                        "POST",
                        "/v1/ledger/transfers",
                        Some(&body),
                        Some(&idempotency_key),
                        Some(&credential),
                    )
                    .map_err(|e| format!("{:?}: {e}", e.kind()));
                    let decided = first.as_ref().ok().filter(|a| a.is_definite()).cloned();
                    operations.push(Operation {
                        client,
                        idempotency_key,
                        chosen_id,
                        debit,
                        credit,
                        amount,
                        body,
                        first,
                        decided,
                        retries: 0,
                        existed_before_retry: false,
                        committed_unanswered: false,
                    });
                }
            })
        })
        .collect();

    let mut kills = 0;
    for &point in &kill_points {
        while next_operation.load(Ordering::SeqCst) < point && next_operation.load(Ordering::SeqCst) < OPERATIONS {
            assert!(chaos_started.elapsed() < CHAOS_TIMEOUT, "the clients stalled:\n{}", server.output());
            std::thread::sleep(Duration::from_millis(1));
        }
        // A moment into the requests now in flight, then the kill.
        std::thread::sleep(Duration::from_millis(random.below(10)));
        server_up.store(false, Ordering::SeqCst);
        server.kill();
        kills += 1;
        std::thread::sleep(Duration::from_millis(random.below(100)));
        server.start();
        server_up.store(true, Ordering::SeqCst);
    }
    let mut operations: Vec<Operation> = Vec::new();
    for client in clients {
        operations.extend(client.join().expect("a client thread panicked"));
    }
    let chaos_ms = chaos_started.elapsed().as_millis();
    assert_eq!(operations.len(), OPERATIONS);
    assert_eq!(kills, KILLS, "every kill happened while operations ran");

    // Before the retries: which unanswered requests with a chosen id had committed all the same.
    for op in operations.iter_mut().filter(|op| op.decided.is_none()) {
        let Some(id) = &op.chosen_id else { continue };
        let answer = send(port, "GET", &format!("/v1/ledger/transfers/{id}"), None, None, Some(&credential))
            .expect("look a transfer up");
        assert!(matches!(answer.status, 200 | 404), "GET a transfer: {answer:?}");
        op.existed_before_retry = answer.status == 200;
    }

    // The kills left claims open: their requests died with their server. A retry must not wait for
    // their lease.
    let open_claims = database.open_claims(&work.path);

    // Every request not answered definitely is retried, same key and body, until it is.
    let settle_started = Instant::now();
    let retries_began = sanhu_service::clock::now().to_string();
    let mut retries_in_use = 0;
    for op in operations.iter_mut().filter(|op| op.decided.is_none()) {
        loop {
            assert!(
                settle_started.elapsed() < SETTLE_TIMEOUT,
                "the retries of the unanswered requests did not settle within {SETTLE_TIMEOUT:?}: {} of them were \
                 answered idempotency_key_in_use ({op:?}); a claim whose server died holds its key until its lease \
                 lapses\n{}",
                retries_in_use,
                server.output()
            );
            op.retries += 1;
            let answer = send(
                port,
                "POST",
                "/v1/ledger/transfers",
                Some(&op.body),
                Some(&op.idempotency_key),
                Some(&credential),
            );
            match answer {
                Ok(answer) if answer.is_definite() => {
                    op.decided = Some(answer);
                    break;
                }
                Ok(answer) if answer.code() == "idempotency_key_in_use" => retries_in_use += 1,
                Ok(answer) => assert!(answer.status >= 500, "an unexpected answer to a retry: {answer:?}"),
                Err(_) => {}
            }
            std::thread::sleep(RETRY_PAUSE);
        }
    }
    let settle_ms = settle_started.elapsed().as_millis();
    assert_eq!(database.open_claims(&work.path), 0, "a key is still claimed after every request was answered");

    // Every request is decided: a success (201) or a refusal for lack of money (422).
    for op in &operations {
        let decided = op.decided.as_ref().expect("decided");
        assert!(
            decided.status == 201 || (decided.status == 422 && decided.code() == "insufficient_funds"),
            "a transfer was answered neither success nor insufficient_funds: {op:?}"
        );
        if op.existed_before_retry {
            assert_eq!(decided.status, 201, "a transfer that had committed was answered a refusal on retry: {op:?}");
        }
    }
    // Timestamps are RFC 3339 in UTC with nine digits: their text sorts as their instants.
    for op in operations.iter_mut().filter(|op| !op.acknowledged()) {
        op.committed_unanswered = op.transferred("timestamp").is_some_and(|at| at < retries_began);
        assert!(op.committed_unanswered || !op.existed_before_retry, "found before the retries, dated after: {op:?}");
    }

    // Invariant 6: each key's retries get its first response, byte for byte.
    for op in &operations {
        let replay =
            send(port, "POST", "/v1/ledger/transfers", Some(&op.body), Some(&op.idempotency_key), Some(&credential))
                .expect("replay a request");
        let decided = op.decided.as_ref().expect("decided");
        assert!(replay.replayed, "a retry of a decided key was not a replay: {replay:?} for {op:?}");
        assert_eq!((replay.status, &replay.body), (decided.status, &decided.body), "a replay differs: {op:?}");
    }

    // Invariants 5 and 7: a success exists with its fields, a refusal does not exist at all (nor
    // anything else: see the entries below).
    for op in &operations {
        let Some(id) = op.transfer_id() else { continue };
        let path = format!("/v1/ledger/transfers/{id}");
        let answer = send(port, "GET", &path, None, None, Some(&credential)).expect("look a transfer up");
        if op.succeeded() {
            assert_eq!(answer.status, 200, "an acknowledged transfer is missing: {op:?}\n{answer:?}");
            let transfer = answer.json();
            assert_eq!(transfer["debit_account_id"], wallets[op.debit].as_str(), "{transfer}");
            assert_eq!(transfer["credit_account_id"], wallets[op.credit].as_str(), "{transfer}");
            assert_eq!(transfer["amount"], op.amount, "{transfer}");
        } else {
            assert_eq!(answer.status, 404, "a refused transfer exists: {op:?}\n{answer:?}");
        }
    }

    // Exactly once: each wallet's entries are its funding and the successful transfers that touched
    // it, each once.
    for (index, wallet) in wallets.iter().enumerate() {
        let mut expected: Vec<String> = operations
            .iter()
            .filter(|op| op.succeeded() && (op.debit == index || op.credit == index))
            .map(|op| op.transfer_id().expect("a success has an id"))
            .collect();
        expected.push(funding_transfers[index].clone());
        expected.sort();
        let mut found = entry_transfer_ids(port, &credential, wallet);
        found.sort();
        assert_eq!(found, expected, "wallet {index} ({wallet}) has other entries than the successful transfers");
    }

    // The balances are the funding plus and minus exactly the successful transfers, and the money is
    // conserved.
    let mut expected_balance: BTreeMap<usize, i64> = (0..WALLETS).map(|w| (w, WALLET_FUNDING)).collect();
    for op in operations.iter().filter(|op| op.succeeded()) {
        *expected_balance.get_mut(&op.debit).expect("a wallet") -= op.amount;
        *expected_balance.get_mut(&op.credit).expect("a wallet") += op.amount;
    }
    let ids: Vec<&str> = std::iter::once(funding.as_str()).chain(wallets.iter().map(String::as_str)).collect();
    let balances = get_ok(port, &credential, &format!("/v1/ledger/balances?account_ids={}", ids.join(",")));
    let balances = balances["data"].as_array().expect("balances").clone();
    let (mut debits, mut credits, mut wallet_total) = (0i64, 0i64, 0i64);
    for (position, balance) in balances.iter().enumerate() {
        debits += balance["debits_posted"].as_i64().expect("debits_posted");
        credits += balance["credits_posted"].as_i64().expect("credits_posted");
        assert_eq!(balance["debits_pending"], 0, "{balance}");
        assert_eq!(balance["credits_pending"], 0, "{balance}");
        if position == 0 {
            assert_eq!(balance["balance"], WALLET_FUNDING * WALLETS as i64, "the funding account: {balance}");
            continue;
        }
        let wallet = position - 1;
        let amount = balance["balance"].as_i64().expect("balance");
        assert_eq!(amount, expected_balance[&wallet], "wallet {wallet}'s balance: {balance}");
        let available = balance["available"].as_i64().expect("available");
        assert!(amount >= 0 && available >= 0, "wallet {wallet} is below zero: {balance}");
        wallet_total += amount;
    }
    assert_eq!(debits, credits, "posted debits and credits differ over all accounts");
    assert_eq!(wallet_total, WALLET_FUNDING * WALLETS as i64, "the wallets' total is not what was funded");

    // The ledger on disk recounts: `sanhu verify` on the stopped database.
    server.stop();
    let mut verify = vec!["verify".to_owned()];
    verify.extend(database.args());
    let (status, stdout, stderr) = run_bounded(sanhu(&work.path, &verify), COMMAND_TIMEOUT);
    assert!(status.success(), "sanhu verify failed after the crashes:\n{stdout}\n{stderr}");
    let successes = operations.iter().filter(|op| op.succeeded()).count();
    let summary = format!("{} accounts, {} transfers checked", WALLETS + 1 + PLATFORM_ACCOUNTS, WALLETS + successes);
    assert!(stdout.contains(&summary), "verify did not check {summary}:\n{stdout}");

    let unacknowledged: Vec<&Operation> = operations.iter().filter(|op| !op.acknowledged()).collect();
    let figures = Figures {
        operations: operations.len(),
        server_chosen_ids: operations.iter().filter(|op| op.chosen_id.is_none()).count(),
        acknowledged: operations.len() - unacknowledged.len(),
        acknowledged_succeeded: operations.iter().filter(|op| op.acknowledged() && op.succeeded()).count(),
        acknowledged_rejected: operations.iter().filter(|op| op.acknowledged() && !op.succeeded()).count(),
        unacknowledged: unacknowledged.len(),
        unacknowledged_refused: unacknowledged
            .iter()
            .filter(|op| op.first.as_ref().is_err_and(|e| e.starts_with("ConnectionRefused")))
            .count(),
        unacknowledged_committed: unacknowledged.iter().filter(|op| op.committed_unanswered).count(),
        unacknowledged_committed_server_chosen_id: unacknowledged
            .iter()
            .filter(|op| op.committed_unanswered && op.chosen_id.is_none())
            .count(),
        open_claims,
        retries: operations.iter().map(|op| op.retries).sum(),
        retries_in_use,
        succeeded: successes,
        rejected: operations.len() - successes,
        kills,
        chaos_ms,
        settle_ms,
        total_ms: started.elapsed().as_millis(),
    };
    let clients_seen: BTreeSet<usize> = operations.iter().map(|op| op.client).collect();
    assert_eq!(clients_seen.len(), CLIENTS, "every client sent transfers");
    let f = &figures;
    println!(
        "crash test on {}: {} operations from {CLIENTS} clients ({} with the id left to the server), {} kills \
         (SIGKILL) at operations {kill_points:?}; acknowledged at first {} ({} succeeded, {} insufficient_funds); \
         unacknowledged {} ({} refused connections; {} had committed unanswered, {} of them with the id left to the \
         server; {} keys left claimed by a killed server), all retried ({} retries, {} answered \
         idempotency_key_in_use); finally {} succeeded, {} refused; chaos {} ms, retries settled in {} ms, whole run \
         {} ms; seed {seed}",
        database.name(),
        f.operations,
        f.server_chosen_ids,
        f.kills,
        f.acknowledged,
        f.acknowledged_succeeded,
        f.acknowledged_rejected,
        f.unacknowledged,
        f.unacknowledged_refused,
        f.unacknowledged_committed,
        f.unacknowledged_committed_server_chosen_id,
        f.open_claims,
        f.retries,
        f.retries_in_use,
        f.succeeded,
        f.rejected,
        f.chaos_ms,
        f.settle_ms,
        f.total_ms,
    );
    println!("figures: {figures:?}");
}

#[test]
fn the_bank_keeps_its_invariants_when_the_server_is_killed_on_sqlite() {
    bank_test_survives_sigkill(Database::Sqlite);
}

#[test]
fn the_bank_keeps_its_invariants_when_the_server_is_killed_on_postgres() {
    let Some(schema) = PostgresSchema::create("t_cli") else { return };
    bank_test_survives_sigkill(Database::Postgres(schema));
}
