//! Database loss: the database becomes unreachable while `sanhu serve` is under load, and comes back.
//!
//! - PostgreSQL: the shared server cannot be stopped by a test, so the server under test reaches it
//!   through a small TCP proxy in this test, which is cut (every connection dropped, new ones closed
//!   at once) for a few seconds and then restored.
//! - SQLite: the database lives on a small tmpfs, which is filled (a file takes every free byte)
//!   for a few seconds and then emptied: the disk is full. That needs root (`mount -t tmpfs`); without
//!   it the SQLite half is skipped with a message, except under `CI=true`, where it fails.
//!
//! Client threads move money between the bank's wallets all along, and others pay a merchant from
//! members' wallets (`POST /v1/payments`, whose chain goes through the ledger's writer like a
//! transfer), and the test requires:
//!
//! - while the database is gone, money-moving requests are answered 503 (`ledger_unavailable` or
//!   `not_ready`; `audit_unavailable` for one whose transfer committed but whose audit event could
//!   not be written) with a `Retry-After` header, never a 500 or a dropped connection, and readiness
//!   (`GET /ready`) answers 503;
//! - when it is back, the same process (no restart) becomes ready and moves money again by itself;
//! - no batch is half-written: every request answered 503 is retried with its Idempotency-Key until
//!   it is decided, and then each wallet's entries are exactly its funding and the transfers answered
//!   with success (each once), the balances follow from them, every consistent read of the balances
//!   that succeeded was conserved, and `sanhu verify` on the stopped database exits 0;
//! - the same for payments: never a 500 (a payment whose chain the writer could not commit is 503
//!   `ledger_unavailable`), every one answered 503 is retried with its key until it is paid or refused
//!   `insufficient_funds`, and then each member's balance is its recharge less exactly its payments
//!   answered paid, the merchant holds exactly those, and nothing is left frozen.
//!
//! - PostgreSQL failover: the server reaches a primary and its synchronous standby, managed by
//!   pg_auto_failover, through a URL of both hosts (`target_session_attrs=read-write`); the primary's
//!   postmaster is killed with SIGKILL, the monitor promotes the standby, and the server follows by
//!   itself. The clusters are made by `tests/failover/run.sh`, which runs this test with
//!   `SANHU_FAILOVER_URL` (the URL) and `SANHU_FAILOVER_KILL` (a command that kills the primary's
//!   postmaster and prints its `host:port`); without them the test is skipped. The same requirements
//!   hold as for a loss (the database is not held away: it is back when the standby is promoted), and
//!   the time without a primary and until the server moves money again are measured.
//!
//! Each run prints its figures for docs/RELIABILITY.md; `SANHU_CRASH_SEED` repeats its random choices.

use crate::common;

use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const WALLETS: usize = 5;
const FUNDING: i64 = 10_000;
const AMOUNT_MAX: i64 = 6_000;
/// Client threads sending transfers, one after another, for the whole run.
const CLIENTS: usize = 4;
/// Members paying one merchant from their wallets, each recharged `PAYER_RECHARGE` through Alipay
/// (the platform pays its fee: two transfers), by `PAYING_CLIENTS` threads.
const PAYERS: usize = 2;
const PAYER_RECHARGE: i64 = 200_000;
const PAYMENT_MAX: i64 = 5_000;
const PAYING_CLIENTS: usize = 2;
/// Load before the database goes, and after it is back.
const LOAD_BEFORE: Duration = Duration::from_millis(1_000);
const LOAD_AFTER: Duration = Duration::from_millis(1_000);
/// After a failover: a client may wait a moment on the old primary, restarted, before it is demoted.
const FAILOVER_LOAD_AFTER: Duration = Duration::from_millis(3_000);
/// How long the database stays gone once the server has noticed.
const OUTAGE: Duration = Duration::from_secs(3);
/// Longest the server may take to notice that the database is gone, and to recover once it is back.
const NOTICE_TIMEOUT: Duration = Duration::from_secs(10);
const RECOVERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest the retries of the requests answered 503 may take in all.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(15);
/// The same after a failover, and how long the promotion may take. A request claimed on the old
/// primary whose answer could not be kept there waits up to the claim's lease (60 s) before its key is
/// taken over on the new one.
const FAILOVER_SETTLE_TIMEOUT: Duration = Duration::from_secs(90);
const FAILOVER_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two requests of one client while the database is gone (it honours no Retry-After
/// during the load, so as to see many refusals) and between retries afterwards.
const PAUSE_WHILE_DOWN: Duration = Duration::from_millis(20);
const RETRY_PAUSE: Duration = Duration::from_millis(50);

/// The SQLite test's disk. Under steady load the WAL is seldom fully checkpointed when a write
/// begins, so it grows (up to `WAL_BYTES_MAX`, 1 GiB, before the writer restarts it): about 16 MB a
/// second here. The disk must hold what the run's WAL reaches, or the WAL itself fills it, and then
/// nothing the test removes gives the checkpoint room (see docs/RELIABILITY.md).
const TMPFS_SIZE: &str = "256m";

// ---------------------------------------------------------------------------------------------
// The faults
// ---------------------------------------------------------------------------------------------

/// A TCP proxy to PostgreSQL that the test can cut and restore. One thread accepts; each connection
/// is copied both ways by two threads.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    /// Both ends of every live connection, to drop them all at once.
    streams: Arc<Mutex<Vec<TcpStream>>>,
    stopped: Arc<AtomicBool>,
}

impl Proxy {
    fn start(upstream: SocketAddr) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind the proxy");
        let port = listener.local_addr().expect("the proxy's address").port();
        let (cut, streams, stopped) =
            (Arc::new(AtomicBool::new(false)), Arc::new(Mutex::new(Vec::new())), Arc::new(AtomicBool::new(false)));
        let (cut2, streams2, stopped2) = (cut.clone(), streams.clone(), stopped.clone());
        std::thread::spawn(move || {
            for client in listener.incoming() {
                if stopped2.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = client else { continue };
                // While cut, a new connection is closed at once: PostgreSQL is unreachable.
                if cut2.load(Ordering::SeqCst) {
                    let _ = client.shutdown(Shutdown::Both);
                    continue;
                }
                let Ok(server) = TcpStream::connect(upstream) else { continue };
                let _ = client.set_nodelay(true);
                let _ = server.set_nodelay(true);
                let mut live = streams2.lock().expect("proxy lock");
                for (from, to) in [(&client, &server), (&server, &client)] {
                    let (mut from, mut to) = (from.try_clone().expect("clone"), to.try_clone().expect("clone"));
                    std::thread::spawn(move || {
                        let _ = std::io::copy(&mut from, &mut to);
                        let _ = to.shutdown(Shutdown::Both);
                        let _ = from.shutdown(Shutdown::Both);
                    });
                }
                live.push(client);
                live.push(server);
            }
        });
        Proxy { port, cut, streams, stopped }
    }

    /// Drops every connection and refuses new ones.
    fn cut(&self) {
        self.cut.store(true, Ordering::SeqCst);
        for stream in self.streams.lock().expect("proxy lock").drain(..) {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::SeqCst);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.stopped.store(true, Ordering::SeqCst);
        self.cut();
        // Wakes the accepting thread so that it sees `stopped`.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    /// Mounts a tmpfs of `size` (mount's syntax: `8m`) at `path`; None (with a message) where the test
    /// may not mount, except under CI=true, where that is a failure.
    fn mount(path: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(path).expect("create the mount point");
        let output =
            Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(path).output();
        match output {
            Ok(output) if output.status.success() => Some(Tmpfs { path: path.to_owned() }),
            other => {
                let why = match other {
                    Ok(output) => String::from_utf8_lossy(&output.stderr).trim().to_owned(),
                    Err(error) => error.to_string(),
                };
                if std::env::var("CI").is_ok_and(|v| v == "true") {
                    panic!(
                        "CI=true and a tmpfs cannot be mounted ({why}): the SQLite database-loss test must run as root"
                    );
                }
                eprintln!("skipping the SQLite database-loss test: a tmpfs cannot be mounted ({why}); it needs root");
                None
            }
        }
    }

    /// Fills the filesystem: a file takes every byte left. Returns the file and its size.
    fn fill(&self) -> (PathBuf, u64) {
        use std::io::Write;
        let path = self.path.join("filler");
        let mut file = std::fs::File::create(&path).expect("create the filler");
        let chunk = vec![0u8; 64 * 1024];
        loop {
            match file.write(&chunk) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) if error.raw_os_error() == Some(28) => break, // ENOSPC
                Err(error) => panic!("fill the tmpfs: {error}"),
            }
        }
        // The last pages, smaller than a chunk.
        while file.write(&[0u8; 512]).is_ok_and(|n| n > 0) {}
        let _ = file.sync_all();
        let size = file.metadata().map_or(0, |m| m.len());
        (path, size)
    }

    /// What the database's files take on the disk, in bytes.
    fn database_bytes(&self) -> u64 {
        let files = std::fs::read_dir(&self.path).expect("list the tmpfs");
        files
            .flatten()
            .filter(|f| f.file_name().to_string_lossy().starts_with("sanhu.db"))
            .filter_map(|f| f.metadata().ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// How the database is taken away and given back.
enum Fault {
    Proxy(Proxy),
    /// The primary's postmaster killed; the standby is promoted by the high-availability manager.
    Failover {
        /// The command that kills the primary's postmaster and prints its `host:port`.
        kill: String,
        /// Each host of the URL: its `host:port` and a URL of it alone.
        hosts: Vec<(String, String)>,
        /// The host killed, the host promoted, and how long after the kill it took writes (ms).
        killed: Mutex<String>,
        promoted: Arc<Mutex<Result<(String, u128), String>>>,
        /// Replication is asynchronous: acknowledged commits may be lost, and are counted.
        asynchronous: bool,
    },
    /// The filler while the disk is full, and what the filler and the database took when it was filled.
    DiskFull {
        tmpfs: Tmpfs,
        filler: Mutex<Option<PathBuf>>,
        sizes: Mutex<(u64, u64)>,
    },
}

impl Fault {
    fn take_away(&self) {
        match self {
            Fault::Proxy(proxy) => proxy.cut(),
            Fault::Failover { kill, hosts, killed, promoted, .. } => {
                let killed_at = Instant::now();
                let output = Command::new("sh").arg("-c").arg(kill).output().expect("run the kill command");
                assert!(output.status.success(), "the kill command failed: {output:?}");
                let host = String::from_utf8_lossy(&output.stdout).trim().to_owned();
                assert!(
                    hosts.iter().any(|(h, _)| *h == host),
                    "the kill command printed {host:?}, not a host of the URL"
                );
                *killed.lock().expect("lock") = host.clone();
                // The others are asked, a few times a second, until one takes writes: the new primary.
                let (others, promoted) =
                    (hosts.iter().filter(|(h, _)| *h != host).cloned().collect::<Vec<_>>(), promoted.clone());
                std::thread::spawn(move || {
                    let mut last = String::new();
                    while killed_at.elapsed() < FAILOVER_TIMEOUT {
                        for (host, url) in &others {
                            match takes_writes(url) {
                                Ok(()) => {
                                    *promoted.lock().expect("lock") =
                                        Ok((host.clone(), killed_at.elapsed().as_millis()));
                                    return;
                                }
                                Err(answer) => last = answer,
                            }
                        }
                        *promoted.lock().expect("lock") = Err(last.clone());
                        std::thread::sleep(Duration::from_millis(50));
                    }
                });
            }
            Fault::DiskFull { tmpfs, filler, sizes } => {
                let (path, size) = tmpfs.fill();
                *filler.lock().expect("lock") = Some(path);
                *sizes.lock().expect("lock") = (size, tmpfs.database_bytes());
            }
        }
    }

    fn give_back(&self) {
        match self {
            Fault::Proxy(proxy) => proxy.restore(),
            Fault::Failover { .. } => {}
            Fault::DiskFull { filler, .. } => {
                if let Some(path) = filler.lock().expect("lock").take() {
                    std::fs::remove_file(&path).expect("remove the filler");
                }
            }
        }
    }

    /// How the fault was made, for the figures.
    fn detail(&self) -> String {
        match self {
            Fault::Proxy(_) => "every PostgreSQL connection dropped, new ones closed at once".to_owned(),
            Fault::Failover { killed, promoted, .. } => {
                let killed = killed.lock().expect("lock").clone();
                match promoted.lock().expect("lock").clone() {
                    Ok((host, ms)) => {
                        format!("the postmaster of {killed} killed (SIGKILL); {host} took writes {ms} ms later")
                    }
                    Err(last) => {
                        format!("the postmaster of {killed} killed (SIGKILL); no other host took writes (last: {last})")
                    }
                }
            }
            Fault::DiskFull { sizes, .. } => {
                let (filler, database) = *sizes.lock().expect("lock");
                format!("the filler took {} KiB; the database's files then took {} KiB", filler / 1024, database / 1024)
            }
        }
    }

    fn is_failover(&self) -> bool {
        matches!(self, Fault::Failover { .. })
    }

    fn name(&self) -> &'static str {
        match self {
            Fault::Proxy(_) => "postgres (proxy cut)",
            Fault::Failover { .. } => "postgres (failover)",
            Fault::DiskFull { .. } => "sqlite (disk full)",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The load
// ---------------------------------------------------------------------------------------------

/// Where the run is: the clients count their answers by phase.
const BEFORE: usize = 0;
const DOWN: usize = 1;
const AFTER: usize = 2;

/// One transfer request and its fate.
#[derive(Clone, Debug)]
struct Request {
    key: String,
    chosen_id: Option<String>,
    debit: usize,
    credit: usize,
    amount: i64,
    body: String,
    /// The phase it was first sent in, and its first answer's status.
    phase: usize,
    first_status: u16,
    /// The answer that decided it (201 or 422), first or after retries.
    decided: Option<Answer>,
    retries: u32,
}

/// One payment and its fate.
#[derive(Clone, Debug)]
struct Payment {
    key: String,
    number: String,
    payer: usize,
    amount: i64,
    body: String,
    phase: usize,
    first_status: u16,
    first_code: String,
    decided: Option<Answer>,
}

/// Whether a first answer is a 503 that asks for a retry, as the test requires of a request the
/// database's loss kept from being decided.
fn retry_later(answer: &Answer) -> bool {
    answer.status == 503
        && answer.retry_after.is_some()
        && ["ledger_unavailable", "not_ready", "audit_unavailable"].contains(&answer.code().as_str())
}

/// Pays the merchant from the payers' wallets until `stop`, under Idempotency-Keys.
#[allow(clippy::too_many_arguments)]
fn pay_until_stopped(
    port: u16,
    credential: &Credential,
    payers: &[(String, String)],
    merchant: &str,
    client: usize,
    mut random: Random,
    phase: &AtomicUsize,
    stop: &AtomicBool,
) -> (Vec<Payment>, Vec<String>) {
    let (mut payments, mut failures) = (Vec::new(), Vec::new());
    for index in 0.. {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let payer = random.below(PAYERS as u64) as usize;
        let amount = 1 + random.below(PAYMENT_MAX as u64) as i64;
        let number = format!("LP-{client}-{index}");
        let body = json!({ "order_number": number, "member_id": payers[payer].0, "amount": amount,
                           "receiver_account_id": merchant })
        .to_string();
        let key = format!("loss-pay-{client}-{index}");
        let sent_in = phase.load(Ordering::SeqCst);
        let answer = send(port, "POST", "/v1/payments", Some(&body), Some(&key), Some(credential));
        let mut payment = Payment {
            key,
            number,
            payer,
            amount,
            body,
            phase: sent_in,
            first_status: 0,
            first_code: String::new(),
            decided: None,
        };
        match answer {
            Ok(answer) if answer.status == 201 || (answer.status == 422 && answer.code() == "insufficient_funds") => {
                payment.first_status = answer.status;
                payment.decided = Some(answer);
            }
            Ok(answer) if retry_later(&answer) => {
                payment.first_status = 503;
                payment.first_code = answer.code();
                if phase.load(Ordering::SeqCst) == DOWN {
                    std::thread::sleep(PAUSE_WHILE_DOWN);
                }
            }
            other => {
                failures.push(format!("payment {} in phase {sent_in}: {other:?}", payment.key));
                continue;
            }
        }
        payments.push(payment);
    }
    (payments, failures)
}

#[derive(Debug, Default)]
struct Figures {
    requests: usize,
    /// First answers by phase: (201, 422, 503).
    answers: [(usize, usize, usize); 3],
    reads_ok: usize,
    reads_unavailable: usize,
    ready_503: usize,
    noticed_ms: u128,
    outage_ms: u128,
    recovered_ms: u128,
    /// From the database's going: until readiness answered 200 again, and until the first transfer
    /// sent since the server noticed was answered 201.
    ready_again_ms: u128,
    served_again_ms: Option<u128>,
    retried: usize,
    retries: u32,
    settle_ms: u128,
    total_ms: u128,
    /// Payments: first answers by phase (201, 422, 503), how many of the 503s were
    /// `ledger_unavailable`, and how many were retried.
    payments: [(usize, usize, usize); 3],
    payments_ledger_unavailable: usize,
    payments_retried: usize,
}

fn database_loss_test(database_args: Vec<String>, fault: Fault, verify_args: Vec<String>, work: &WorkDir) {
    let started = Instant::now();
    let seed = seed();
    eprintln!("database loss on {}: seed {seed}", fault.name());
    let mut random = Random::new(seed);
    let mut server = Server::with_database_args(&work.path, database_args);
    server.start();
    let port = server.port;
    let credential = Arc::new(Credential::load(&work.path));
    let bank = Arc::new(Bank::open(port, &credential, WALLETS, FUNDING));
    let mut payers = Vec::new();
    for i in 0..PAYERS {
        let (member, basic) = active_member(port, &credential, &format!("1340021{i:04}"));
        let number = format!("LR-{i}");
        let body =
            json!({ "order_number": number, "member_id": member, "amount": PAYER_RECHARGE, "channel": "alipay" });
        post_ok(port, &credential, "/v1/recharges", body);
        post_ok(port, &credential, &format!("/v1/recharges/{number}/confirm"), json!({}));
        payers.push((member, basic));
    }
    let payers = Arc::new(payers);
    let merchant = Arc::new(active_member(port, &credential, "13400220000").1);

    let phase = Arc::new(AtomicUsize::new(BEFORE));
    let stop = Arc::new(AtomicBool::new(false));
    // When the server noticed that the database went (readiness 503), and when the first transfer
    // sent since was answered 201. Not from the kill: a killed postmaster's backends (and the
    // walsender) live on for a moment, and commit what they were given.
    let gone_at = Arc::new(std::sync::OnceLock::<Instant>::new());
    let served_again = Arc::new(Mutex::new(None::<Instant>));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|client| {
            let (credential, bank, phase, stop) = (credential.clone(), bank.clone(), phase.clone(), stop.clone());
            let (gone_at, served_again) = (gone_at.clone(), served_again.clone());
            let mut random = Random::new(random.next());
            std::thread::spawn(move || {
                let (mut requests, mut failures) = (Vec::new(), Vec::new());
                let (mut reads_ok, mut reads_unavailable) = (0, 0);
                for index in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    // Every fourth request is a consistent read of every balance.
                    if index % 4 == 2 {
                        match send(port, "GET", &bank.balances_path(), None, None, Some(&credential)) {
                            Ok(answer) if answer.status == 200 => {
                                reads_ok += 1;
                                if let Err(problem) = bank.check_snapshot(&answer.json()) {
                                    failures.push(format!("read: {problem}"));
                                }
                            }
                            Ok(answer) if answer.status == 503 && answer.retry_after.is_some() => {
                                reads_unavailable += 1
                            }
                            other => failures.push(format!("read: {other:?}")),
                        }
                        continue;
                    }
                    let debit = random.below(WALLETS as u64) as usize;
                    let credit = (debit + 1 + random.below(WALLETS as u64 - 1) as usize) % WALLETS;
                    let amount = 1 + random.below(AMOUNT_MAX as u64) as i64;
                    let chosen_id = (index % 3 != 0)
                        .then(|| sanhu_service::clock::new_id::<sanhu_core::id::TransferTag>().to_string());
                    let body = transfer_body(chosen_id.as_deref(), &bank.wallets[debit], &bank.wallets[credit], amount);
                    let key = format!("loss-{client}-{index}");
                    let sent_in = phase.load(Ordering::SeqCst);
                    let sent_at = Instant::now();
                    let answer = send(port, "POST", "/v1/ledger/transfers", Some(&body), Some(&key), Some(&credential));
                    if let (Some(gone), Ok(answer)) = (gone_at.get(), &answer) {
                        if sent_at > *gone && answer.status == 201 {
                            let now = Instant::now();
                            let mut first = served_again.lock().expect("lock");
                            *first = Some(first.map_or(now, |f| f.min(now)));
                        }
                    }
                    let mut request = Request {
                        key,
                        chosen_id,
                        debit,
                        credit,
                        amount,
                        body,
                        phase: sent_in,
                        first_status: 0,
                        decided: None,
                        retries: 0,
                    };
                    match answer {
                        Ok(answer)
                            if answer.status == 201
                                || (answer.status == 422 && answer.code() == "insufficient_funds") =>
                        {
                            request.first_status = answer.status;
                            request.decided = Some(answer);
                        }
                        Ok(answer)
                            if answer.status == 503
                                && answer.retry_after.is_some()
                                && ["ledger_unavailable", "not_ready", "audit_unavailable"]
                                    .contains(&answer.code().as_str()) =>
                        {
                            request.first_status = 503;
                            if phase.load(Ordering::SeqCst) == DOWN {
                                std::thread::sleep(PAUSE_WHILE_DOWN);
                            }
                        }
                        other => {
                            failures.push(format!("transfer {} in phase {sent_in}: {other:?}", request.key));
                            continue;
                        }
                    }
                    requests.push(request);
                }
                (requests, failures, reads_ok, reads_unavailable)
            })
        })
        .collect();

    let paying: Vec<_> = (0..PAYING_CLIENTS)
        .map(|client| {
            let (credential, payers, merchant) = (credential.clone(), payers.clone(), merchant.clone());
            let (phase, stop) = (phase.clone(), stop.clone());
            let random = Random::new(random.next());
            std::thread::spawn(move || {
                pay_until_stopped(port, &credential, &payers, &merchant, client, random, &phase, &stop)
            })
        })
        .collect();

    let mut figures = Figures::default();
    std::thread::sleep(LOAD_BEFORE);

    // The database goes. The server notices: readiness answers 503.
    let outage_started = Instant::now();
    phase.store(DOWN, Ordering::SeqCst);
    fault.take_away();
    loop {
        let ready = send(port, "GET", "/ready", None, None, None);
        if ready.as_ref().is_ok_and(|a| a.status == 503) {
            figures.ready_503 += 1;
            break;
        }
        assert!(
            outage_started.elapsed() < NOTICE_TIMEOUT,
            "readiness did not answer 503 within {NOTICE_TIMEOUT:?} of the database going: {ready:?}\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    figures.noticed_ms = outage_started.elapsed().as_millis();
    gone_at.set(Instant::now()).expect("the database goes once");
    let held = Instant::now();
    // A failover gives the database back by itself: nothing is held away.
    while held.elapsed() < OUTAGE && !fault.is_failover() {
        let ready =
            send(port, "GET", "/ready", None, None, None).expect("readiness answers while the database is gone");
        assert_eq!(ready.status, 503, "readiness while the database is gone: {ready:?}");
        assert_eq!(ready.code(), "not_ready", "{ready:?}");
        figures.ready_503 += 1;
        std::thread::sleep(Duration::from_millis(200));
    }

    // It comes back: the same process becomes ready and moves money again, by itself.
    fault.give_back();
    figures.outage_ms = outage_started.elapsed().as_millis();
    let back = Instant::now();
    let recovery_timeout = if fault.is_failover() { FAILOVER_TIMEOUT } else { RECOVERY_TIMEOUT };
    // A failover's time without a primary counts as down until the server is ready again.
    if !fault.is_failover() {
        phase.store(AFTER, Ordering::SeqCst);
    }
    loop {
        let ready = send(port, "GET", "/ready", None, None, None);
        if ready.as_ref().is_ok_and(|a| a.status == 200) {
            break;
        }
        assert!(
            back.elapsed() < recovery_timeout,
            "readiness did not answer 200 within {RECOVERY_TIMEOUT:?} of the database's return: {ready:?}\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    figures.recovered_ms = back.elapsed().as_millis();
    figures.ready_again_ms = outage_started.elapsed().as_millis();
    // After a failover, ready is not yet serving: the old primary, restarted by its manager, may answer
    // as a primary for a moment before it is demoted (its commits wait for a standby that no longer
    // follows it, and are never acknowledged). Serving is a transfer sent since answered 201.
    while fault.is_failover() && served_again.lock().expect("lock").is_none() {
        assert!(
            outage_started.elapsed() < FAILOVER_TIMEOUT,
            "no transfer succeeded within {FAILOVER_TIMEOUT:?} of the failover\n{}",
            server.output()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    phase.store(AFTER, Ordering::SeqCst);
    std::thread::sleep(if fault.is_failover() { FAILOVER_LOAD_AFTER } else { LOAD_AFTER });
    stop.store(true, Ordering::SeqCst);
    let (mut requests, mut failures) = (Vec::new(), Vec::new());
    for client in clients {
        let (r, f, ok, unavailable) = client.join().expect("a client thread panicked");
        requests.extend(r);
        failures.extend(f);
        figures.reads_ok += ok;
        figures.reads_unavailable += unavailable;
    }
    let mut payments = Vec::new();
    for client in paying {
        let (p, f) = client.join().expect("a paying thread panicked");
        payments.extend(p);
        failures.extend(f);
    }
    assert!(
        failures.is_empty(),
        "{} wrong answers, the first ones:\n{}\n{}",
        failures.len(),
        failures[..failures.len().min(10)].join("\n"),
        server.output()
    );
    assert!(server.child.as_mut().expect("running").try_wait().expect("poll").is_none(), "the server exited");
    for request in &requests {
        let (ok, refused, unavailable) = &mut figures.answers[request.phase];
        match request.first_status {
            201 => *ok += 1,
            422 => *refused += 1,
            _ => *unavailable += 1,
        }
    }
    figures.served_again_ms =
        served_again.lock().expect("lock").map(|at| at.duration_since(outage_started).as_millis());
    let down = figures.answers[DOWN];
    assert!(down.2 > 0, "no money-moving request was answered 503 while the database was gone: {figures:?}");
    let after = requests.iter().filter(|r| r.phase == AFTER && r.first_status == 201).count();
    assert!(after > 0, "no transfer succeeded after the database came back: {figures:?}");

    // Every request answered 503 is retried with its key until it is decided.
    let settle = Instant::now();
    let settle_timeout = if fault.is_failover() { FAILOVER_SETTLE_TIMEOUT } else { SETTLE_TIMEOUT };
    for request in requests.iter_mut().filter(|r| r.decided.is_none()) {
        figures.retried += 1;
        loop {
            assert!(settle.elapsed() < settle_timeout, "the retries did not settle: {request:?}\n{}", server.output());
            request.retries += 1;
            let answer =
                send(port, "POST", "/v1/ledger/transfers", Some(&request.body), Some(&request.key), Some(&credential));
            match answer {
                Ok(answer)
                    if answer.status == 201 || (answer.status == 422 && answer.code() == "insufficient_funds") =>
                {
                    request.decided = Some(answer);
                    break;
                }
                // A claim whose outcome is still being recorded in the background, or the database
                // still settling.
                Ok(answer) if answer.code() == "idempotency_key_in_use" || answer.status == 503 => {}
                other => panic!("an unexpected answer to a retry of {request:?}: {other:?}"),
            }
            std::thread::sleep(RETRY_PAUSE);
        }
        figures.retries += request.retries;
    }
    let settle_payments = Instant::now();
    for payment in payments.iter_mut().filter(|p| p.decided.is_none()) {
        figures.payments_retried += 1;
        let mut last = None;
        loop {
            assert!(
                settle_payments.elapsed() < settle_timeout,
                "the retries did not settle: {payment:?}, last answered {last:?}\n{}",
                server.output()
            );
            let answer = send(port, "POST", "/v1/payments", Some(&payment.body), Some(&payment.key), Some(&credential));
            last = Some(answer.as_ref().map(|a| (a.status, a.code())).map_err(|e| e.to_string()));
            match answer {
                Ok(answer)
                    if answer.status == 201 || (answer.status == 422 && answer.code() == "insufficient_funds") =>
                {
                    payment.decided = Some(answer);
                    break;
                }
                Ok(answer) if answer.code() == "idempotency_key_in_use" || retry_later(&answer) => {}
                other => panic!("an unexpected answer to a retry of {payment:?}: {other:?}"),
            }
            std::thread::sleep(RETRY_PAUSE);
        }
    }
    figures.settle_ms = settle.elapsed().as_millis();

    for payment in &payments {
        let (ok, refused, unavailable) = &mut figures.payments[payment.phase];
        match payment.first_status {
            201 => *ok += 1,
            422 => *refused += 1,
            _ => *unavailable += 1,
        }
        figures.payments_ledger_unavailable += usize::from(payment.first_code == "ledger_unavailable");
    }
    let asynchronous = matches!(&fault, Fault::Failover { asynchronous: true, .. });
    let (paid, succeeded) = if asynchronous {
        // Asynchronous replication: what was acknowledged and is not on the new primary is counted,
        // not refused; the ledger must still be whole (`sanhu verify`).
        let acknowledged: Vec<String> = requests
            .iter()
            .filter_map(|r| r.decided.as_ref().filter(|d| d.status == 201))
            .map(|decided| decided.json()["id"].as_str().expect("id").to_owned())
            .collect();
        let lost_transfers = acknowledged
            .iter()
            .filter(|id| {
                let answer = send(port, "GET", &format!("/v1/ledger/transfers/{id}"), None, None, Some(&credential));
                answer.expect("look a transfer up").status == 404
            })
            .count();
        let paid_payments: Vec<_> =
            payments.iter().filter(|p| p.decided.as_ref().is_some_and(|d| d.status == 201)).collect();
        let lost_payments = paid_payments
            .iter()
            .filter(|p| {
                let answer = send(port, "GET", &format!("/v1/payments/{}", p.number), None, None, Some(&credential));
                let answer = answer.expect("look a payment up");
                answer.status == 404 || answer.json()["status"] != "paid"
            })
            .count();
        server.stop();
        let mut args = vec!["verify".to_owned()];
        args.extend(verify_args);
        let (status, stdout, stderr) = run_bounded(sanhu(&work.path, &args), Duration::from_secs(60));
        assert!(status.success(), "sanhu verify failed after an asynchronous failover:\n{stdout}\n{stderr}");
        println!(
            "database loss on {}: asynchronous replication: {lost_transfers} of {} transfers answered 201 and \
             {lost_payments} of {} payments answered paid are not on the new primary; sanhu verify clean",
            fault.name(),
            acknowledged.len(),
            paid_payments.len(),
        );
        (paid_payments.len(), acknowledged.len())
    } else {
        // Payments: each member's wallet lost exactly its payments answered paid, which the merchant holds.
        let mut paid_by = [0i64; PAYERS];
        let mut paid = 0;
        for payment in &payments {
            let decided = payment.decided.as_ref().expect("decided");
            if decided.status == 201 {
                assert_eq!(decided.json()["status"], "paid", "{payment:?}");
                let record = get_ok(port, &credential, &format!("/v1/payments/{}", payment.number));
                assert_eq!(record["status"], "paid", "{payment:?}: {record}");
                paid_by[payment.payer] += payment.amount;
                paid += 1;
            }
        }
        for (i, (member, _)) in payers.iter().enumerate() {
            let wallet = get_ok(port, &credential, &format!("/v1/members/{member}/wallet"));
            assert_eq!(
                (wallet["balance"].as_i64(), wallet["frozen"].as_i64()),
                (Some(PAYER_RECHARGE - paid_by[i]), Some(0)),
                "payer {i}: {wallet}"
            );
        }
        let merchant_balance =
            get_ok(port, &credential, &format!("/v1/ledger/accounts/{merchant}"))["balance"].as_i64();
        assert_eq!(merchant_balance, Some(paid_by.iter().sum::<i64>()), "the merchant");

        // Exactly once: the ledger holds the funding and the successes, nothing else.
        let mut moved = Vec::new();
        for request in &requests {
            let decided = request.decided.as_ref().expect("decided");
            if decided.status != 201 {
                if let Some(id) = &request.chosen_id {
                    let answer =
                        send(port, "GET", &format!("/v1/ledger/transfers/{id}"), None, None, Some(&credential))
                            .expect("look a transfer up");
                    assert_eq!(answer.status, 404, "a refused transfer exists: {request:?}");
                }
                continue;
            }
            let id = decided.json()["id"].as_str().expect("id").to_owned();
            if let Some(chosen) = &request.chosen_id {
                assert_eq!(&id, chosen, "{request:?}");
            }
            moved.push(Moved { id, debit: request.debit, credit: request.credit, amount: request.amount });
        }
        check_ledger_matches(port, &credential, &bank, &moved);
        server.stop();
        // Besides the bank: the payers' and the merchant's basic accounts; each recharge's two transfers
        // and each payment paid (one transfer from one account).
        verify_clean(&work.path, verify_args, WALLETS + 1 + PAYERS + 1, WALLETS + moved.len() + 2 * PAYERS + paid);
        (paid, moved.len())
    };

    if let Fault::Failover { promoted, .. } = &fault {
        let promoted = promoted.lock().expect("lock").clone();
        assert!(promoted.is_ok(), "no failover: no other host took writes ({promoted:?})");
    }
    figures.requests = requests.len();
    figures.total_ms = started.elapsed().as_millis();
    let f = &figures;
    println!("database loss on {}: {}", fault.name(), fault.detail());
    println!(
        "database loss on {}: {} transfers from {CLIENTS} clients; first answers (201 / 422 / 503) before {:?}, \
         while down {:?}, after {:?}; consistent reads {} ok, {} answered 503; the server noticed in {} ms, the \
         database was gone {} ms, ready again {} ms after its return; {} requests retried ({} retries, settled in \
         {} ms); {} succeeded in all; whole run {} ms; seed {seed}",
        fault.name(),
        f.requests,
        f.answers[BEFORE],
        f.answers[DOWN],
        f.answers[AFTER],
        f.reads_ok,
        f.reads_unavailable,
        f.noticed_ms,
        f.outage_ms,
        f.recovered_ms,
        f.retried,
        f.retries,
        f.settle_ms,
        succeeded,
        f.total_ms,
    );
    println!(
        "database loss on {}: ready again {} ms after the database went, the first transfer sent since it was noticed answered \
         201 after {} ms",
        fault.name(),
        f.ready_again_ms,
        f.served_again_ms.map_or("(none)".to_owned(), |ms| ms.to_string()),
    );
    println!(
        "database loss on {}: {} payments from {PAYING_CLIENTS} clients; first answers (201 / 422 / 503) before {:?}, \
         while down {:?}, after {:?} ({} of the 503s ledger_unavailable); {} retried; {paid} paid in all; seed {seed}",
        fault.name(),
        payments.len(),
        f.payments[BEFORE],
        f.payments[DOWN],
        f.payments[AFTER],
        f.payments_ledger_unavailable,
        f.payments_retried,
    );
}

#[test]
fn postgres_loss_is_answered_503_and_service_resumes_when_it_returns() {
    let Some(schema) = PostgresSchema::create("t_cli") else { return };
    // The server reaches PostgreSQL through the proxy: the schema's URL with the proxy's address.
    let (host_port, upstream) = postgres_address(&schema.url);
    let proxy = Proxy::start(upstream);
    let through_proxy = schema.url.replacen(&host_port, &format!("127.0.0.1:{}", proxy.port), 1);
    let work = WorkDir::new("loss-postgres");
    let args = vec!["--database-url".to_owned(), through_proxy];
    // verify goes straight to PostgreSQL.
    let verify = Database::Postgres(schema);
    database_loss_test(args, Fault::Proxy(proxy), verify.args(), &work);
}

#[test]
fn sqlite_disk_full_is_answered_503_and_service_resumes_when_it_has_room() {
    let work = WorkDir::new("loss-sqlite");
    let Some(tmpfs) = Tmpfs::mount(&work.path.join("disk"), TMPFS_SIZE) else { return };
    let url = format!("sqlite://{}", tmpfs.path.join("sanhu.db").display());
    let args = vec!["--database-url".to_owned(), url];
    let fault = Fault::DiskFull { tmpfs, filler: Mutex::new(None), sizes: Mutex::new((0, 0)) };
    database_loss_test(args.clone(), fault, args, &work);
}

/// The `host:port` of a PostgreSQL URL (`postgres://user@host:port/db…`), as written and resolved.
fn postgres_address(url: &str) -> (String, SocketAddr) {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.rsplit_once('@').map_or(rest, |(_, rest)| rest);
    let host_port = rest.split(['/', '?']).next().unwrap_or(rest).to_owned();
    let with_port = if host_port.contains(':') { host_port.clone() } else { format!("{host_port}:5432") };
    let address = std::net::ToSocketAddrs::to_socket_addrs(&with_port)
        .ok()
        .and_then(|mut a| a.next())
        .unwrap_or_else(|| panic!("resolve {with_port}"));
    (host_port, address)
}

/// Whether the PostgreSQL server at `url` is a primary that takes writes (asked with psql); else what
/// it answered.
fn takes_writes(url: &str) -> Result<(), String> {
    let output = Command::new("psql")
        .arg(url)
        .args(["-Atc", "SELECT NOT pg_is_in_recovery() AND current_setting('transaction_read_only') = 'off'"])
        .env("PGCONNECT_TIMEOUT", "1")
        .output()
        .map_err(|e| format!("psql: {e}"))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    match output.status.success() && stdout.trim() == "t" {
        true => Ok(()),
        false => Err(format!("{} {}", stdout.trim(), String::from_utf8_lossy(&output.stderr).trim())),
    }
}

/// Each host of a PostgreSQL URL of several (`postgres://user@h1:p1,h2:p2/db?…`): its `host:port` and a
/// URL of it alone, without the URL's query.
fn hosts_of(url: &str) -> Vec<(String, String)> {
    let (scheme, rest) = url.split_once("://").expect("a URL");
    let (user, rest) = rest.rsplit_once('@').map_or(("", rest), |(user, rest)| (user, rest));
    let (hosts, path) = rest.split_once('/').unwrap_or((rest, ""));
    let database = path.split('?').next().unwrap_or("");
    let at = if user.is_empty() { String::new() } else { format!("{user}@") };
    hosts
        .split(',')
        .map(|host| {
            let host = if host.contains(':') { host.to_owned() } else { format!("{host}:5432") };
            (host.clone(), format!("{scheme}://{at}{host}/{database}"))
        })
        .collect()
}

/// PostgreSQL failover under load: run by `tests/failover/run.sh`, which makes a monitor, a primary
/// and its synchronous standby with pg_auto_failover and gives their URL (`SANHU_FAILOVER_URL`) and
/// the command that kills the primary's postmaster (`SANHU_FAILOVER_KILL`). Skipped without them.
#[test]
fn postgres_failover_loses_nothing_acknowledged_and_service_follows_the_new_primary() {
    let (Ok(url), Ok(kill)) = (std::env::var("SANHU_FAILOVER_URL"), std::env::var("SANHU_FAILOVER_KILL")) else {
        eprintln!("skipping the failover test: run tests/failover/run.sh (SANHU_FAILOVER_URL, SANHU_FAILOVER_KILL)");
        return;
    };
    let work = WorkDir::new("failover");
    let args = vec!["--database-url".to_owned(), url.clone()];
    let hosts = hosts_of(&url);
    // tests/failover/run.sh sets it when the standby is asynchronous (SANHU_FAILOVER_ASYNC).
    let asynchronous = std::env::var("SANHU_FAILOVER_ASYNC").is_ok_and(|v| !v.is_empty());
    let fault = Fault::Failover {
        kill,
        hosts,
        killed: Mutex::new(String::new()),
        promoted: Arc::new(Mutex::new(Err(String::new()))),
        asynchronous,
    };
    database_loss_test(args.clone(), fault, args, &work);
}

#[test]
fn the_hosts_of_a_url_of_several_are_each_reached_alone() {
    assert_eq!(
        hosts_of("postgres://postgres@127.0.0.1:55433,127.0.0.1:55434/sanhu?target_session_attrs=read-write"),
        [
            ("127.0.0.1:55433".to_owned(), "postgres://postgres@127.0.0.1:55433/sanhu".to_owned()),
            ("127.0.0.1:55434".to_owned(), "postgres://postgres@127.0.0.1:55434/sanhu".to_owned()),
        ]
    );
}
