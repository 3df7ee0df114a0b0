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

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

const SANHU: &str = env!("CARGO_BIN_EXE_sanhu");
const DEFAULT_TEST_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Environment that would make a child process read something other than what the test set up.
const SANHU_ENVIRONMENT: &[&str] = &[
    "SANHU_CONFIG",
    "SANHU_DATABASE_URL",
    "SANHU_LISTEN",
    "SANHU_BATCH_TRANSFERS_MAX",
    "SANHU_BATCH_WAIT_US",
    "SANHU_CREDENTIALS",
    "SANHU_URL",
    "SANHU_LOG",
];

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

/// Longest a server may take to answer GET /health after it is started.
const SERVER_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest a one-shot command (verify) may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the client waits to connect, and for a whole answer once connected.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest the retries of the unanswered requests may take in all, after the last restart. A claim on
/// an idempotency key whose request died with its server must not make a retry wait for its lease.
const SETTLE_TIMEOUT: Duration = Duration::from_secs(15);
/// Pause between two retries of a request that is not answered yet.
const RETRY_PAUSE: Duration = Duration::from_millis(50);
/// Longest the whole chaos phase (operations, kills and restarts) may take.
const CHAOS_TIMEOUT: Duration = Duration::from_secs(40);

// ---------------------------------------------------------------------------------------------
// Harness: working directory, PostgreSQL schema, the server under test
// ---------------------------------------------------------------------------------------------

fn unique_suffix() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0);
    format!("{}_{}_{}", std::process::id(), nanos % 1_000_000_000_000, COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A fresh, empty working directory, removed when dropped.
struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    fn new(test: &str) -> WorkDir {
        let path = std::env::temp_dir().join(format!("sanhu-crash-{test}-{}", unique_suffix()));
        std::fs::create_dir_all(&path).expect("create the test's working directory");
        WorkDir { path }
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `sanhu ARGS` in `dir`, with no `SANHU_*` setting inherited from the test's environment.
fn sanhu(dir: &Path, args: &[String]) -> Command {
    let mut command = Command::new(SANHU);
    command.args(args).current_dir(dir).stdin(Stdio::null());
    for name in SANHU_ENVIRONMENT {
        command.env_remove(name);
    }
    command
}

/// Runs a command to its end (killing it, and failing, if it outlives `timeout`): status and output.
fn run_bounded(mut command: Command, timeout: Duration) -> (ExitStatus, String, String) {
    let mut child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("start sanhu");
    let mut stdout = child.stdout.take().expect("piped stdout");
    let mut stderr = child.stderr.take().expect("piped stderr");
    let out = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stdout.read_to_string(&mut text);
        text
    });
    let err = std::thread::spawn(move || {
        let mut text = String::new();
        let _ = stderr.read_to_string(&mut text);
        text
    });
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll sanhu") {
            break Some(status);
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (stdout, stderr) = (out.join().unwrap_or_default(), err.join().unwrap_or_default());
    match status {
        Some(status) => (status, stdout, stderr),
        None => {
            panic!("{command:?} did not finish within {timeout:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{stderr}")
        }
    }
}

/// A port nobody listens on right now.
fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("the ephemeral port").port()
}

/// Which database a run uses, and the flags that reach it.
enum Database {
    Sqlite,
    Postgres(PostgresSchema),
}

impl Database {
    /// Flags every sanhu command of the run passes: none for SQLite (./sanhu.db, the default).
    fn args(&self) -> Vec<String> {
        match self {
            Database::Sqlite => Vec::new(),
            Database::Postgres(schema) => vec!["--database-url".to_owned(), schema.url.clone()],
        }
    }

    /// Claims on idempotency keys whose request never answered, read from the database itself.
    fn open_claims(&self, dir: &Path) -> i64 {
        let sql = "SELECT count(*) FROM idempotency_keys WHERE status IS NULL";
        match self {
            Database::Sqlite => {
                let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY;
                let connection =
                    rusqlite::Connection::open_with_flags(dir.join("sanhu.db"), flags).expect("open sanhu.db");
                connection.query_row(sql, [], |row| row.get(0)).expect("count the open claims")
            }
            Database::Postgres(schema) => postgres_runtime().block_on(async {
                let (client, connection) =
                    tokio_postgres::connect(&schema.url, tokio_postgres::NoTls).await.expect("connect to PostgreSQL");
                tokio::spawn(connection);
                client.query_one(sql, &[]).await.expect("count the open claims").get(0)
            }),
        }
    }

    fn name(&self) -> &'static str {
        match self {
            Database::Sqlite => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }
}

/// A fresh PostgreSQL schema, dropped when dropped.
struct PostgresSchema {
    base: String,
    schema: String,
    /// The URL sanhu is given: the base with the schema as its search path.
    url: String,
}

fn postgres_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("a tokio runtime")
}

impl PostgresSchema {
    /// A fresh schema, or None (with a message) when PostgreSQL is unreachable outside CI.
    fn create() -> Option<PostgresSchema> {
        let base = std::env::var("SANHU_TEST_POSTGRES_URL").unwrap_or_else(|_| DEFAULT_TEST_POSTGRES_URL.to_owned());
        let schema = format!("t_crash_{}", unique_suffix());
        let created = postgres_runtime().block_on(async {
            let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client.batch_execute(&format!("CREATE SCHEMA {schema}")).await
        });
        if let Err(error) = created {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("CI=true and PostgreSQL at {base} is unreachable ({error}): the PostgreSQL tests must run");
            }
            eprintln!("skipping a PostgreSQL test: {base} is unreachable ({error}); set SANHU_TEST_POSTGRES_URL");
            return None;
        }
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!("{base}{separator}options=-c%20search_path%3D{schema}");
        Some(PostgresSchema { base, schema, url })
    }
}

impl Drop for PostgresSchema {
    fn drop(&mut self) {
        let (base, schema) = (self.base.clone(), self.schema.clone());
        let _ = postgres_runtime().block_on(async move {
            let (client, connection) = tokio_postgres::connect(&base, tokio_postgres::NoTls).await?;
            tokio::spawn(connection);
            client.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await
        });
    }
}

/// The server under test: `sanhu serve` on one database and one port, started again after each kill.
/// Every start writes its own log files; the running one is killed when this is dropped.
struct Server {
    dir: PathBuf,
    args: Vec<String>,
    port: u16,
    child: Option<Child>,
    /// (stdout, stderr) of every start, oldest first.
    logs: Vec<(PathBuf, PathBuf)>,
}

impl Server {
    fn new(dir: &Path, database: &Database) -> Server {
        let port = free_port();
        let mut args = vec!["serve".to_owned(), "--listen".to_owned(), format!("127.0.0.1:{port}")];
        args.extend(database.args());
        Server { dir: dir.to_owned(), args, port, child: None, logs: Vec::new() }
    }

    /// Starts `sanhu serve` and waits until it answers GET /health.
    fn start(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let generation = self.logs.len();
        let stdout_path = self.dir.join(format!("serve-{generation}.stdout"));
        let stderr_path = self.dir.join(format!("serve-{generation}.stderr"));
        let mut command = sanhu(&self.dir, &self.args);
        command.stdout(std::fs::File::create(&stdout_path).expect("create the server's stdout file"));
        command.stderr(std::fs::File::create(&stderr_path).expect("create the server's stderr file"));
        self.logs.push((stdout_path, stderr_path));
        self.child = Some(command.spawn().expect("start sanhu serve"));
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().expect("poll the server")) {
                panic!("sanhu serve exited before it was healthy ({status:?}):\n{}", self.output());
            }
            if let Ok(answer) = send(self.port, "GET", "/health", None, None, None) {
                if answer.status == 200 {
                    return;
                }
            }
            if started.elapsed() > SERVER_READY_TIMEOUT {
                panic!("sanhu serve was not healthy within {SERVER_READY_TIMEOUT:?}:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// SIGKILL (`Child::kill` on Unix): no shutdown, no flush, no answer to what is in flight.
    fn kill(&mut self) {
        let mut child = self.child.take().expect("the server is running");
        child.kill().expect("SIGKILL the server");
        child.wait().expect("reap the killed server");
    }

    /// SIGTERM, as an operator stops it; it must exit cleanly.
    fn stop(&mut self) {
        let mut child = self.child.take().expect("the server is running");
        let terminated = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
        assert!(terminated.is_ok_and(|s| s.success()), "kill -TERM the server");
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().expect("poll the server") {
                break status;
            }
            if started.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("sanhu serve did not stop within 10 s of SIGTERM:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "sanhu serve exited with {status:?} on SIGTERM:\n{}", self.output());
    }

    /// The logs of every start (the tail of each), for a failure message.
    fn output(&self) -> String {
        let mut text = String::new();
        for (generation, (stdout, stderr)) in self.logs.iter().enumerate() {
            let stdout = std::fs::read_to_string(stdout).unwrap_or_default();
            let stderr = std::fs::read_to_string(stderr).unwrap_or_default();
            let tail: Vec<&str> = stderr.lines().rev().take(40).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            text.push_str(&format!(
                "--- start {generation}: stdout ---\n{stdout}\n--- start {generation}: stderr (last 40 lines) ---\n{}\n",
                tail.join("\n")
            ));
        }
        text
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// A small signed HTTP/1.1 client
// ---------------------------------------------------------------------------------------------

/// The saved API credential that `sanhu serve` wrote on first start.
struct Credential {
    client_id: String,
    key: SigningKey,
}

impl Credential {
    fn load(dir: &Path) -> Credential {
        let text = std::fs::read_to_string(dir.join("sanhu-credentials.json")).expect("read the saved credential");
        let saved: Value = serde_json::from_str(&text).expect("the credential is JSON");
        let seed = base64::engine::general_purpose::STANDARD
            .decode(saved["private_key"].as_str().expect("private_key"))
            .expect("the private key is base64");
        let seed: [u8; 32] = seed.try_into().expect("the private key is 32 bytes");
        Credential {
            client_id: saved["client_id"].as_str().expect("client_id").to_owned(),
            key: SigningKey::from_bytes(&seed),
        }
    }
}

/// A complete HTTP answer.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Answer {
    status: u16,
    body: String,
    /// Whether the answer carried `Idempotent-Replayed: true`.
    replayed: bool,
}

impl Answer {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {self:?}"))
    }

    /// The error code of a non-2xx answer.
    fn code(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Whether this answer decides the request: a success, or a refusal other than "the key's first
    /// request is still running". A 5xx decided nothing (the key was released, or the request timed
    /// out and its outcome is to be asked for again).
    fn is_definite(&self) -> bool {
        (200..300).contains(&self.status)
            || ((400..500).contains(&self.status) && self.code() != "idempotency_key_in_use")
    }
}

/// Sends one request on a fresh connection (`Connection: close`), signed when `credential` is given,
/// and reads the whole answer. Any failure to get a complete answer is an error: the request's fate
/// is then unknown to the client.
fn send(
    port: u16,
    method: &str,
    path: &str,
    body: Option<&str>,
    idempotency_key: Option<&str>,
    credential: Option<&Credential>,
) -> std::io::Result<Answer> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, CONNECT_TIMEOUT)?;
    stream.set_read_timeout(Some(RESPONSE_TIMEOUT))?;
    stream.set_write_timeout(Some(RESPONSE_TIMEOUT))?;
    let body = body.unwrap_or("");
    let mut request = format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    if let Some(credential) = credential {
        let timestamp = sanhu_service::clock::now().nanos() / 1_000_000_000;
        let nonce = sanhu_http::signature::new_nonce();
        let signed = sanhu_http::signature::sign(&credential.key, method, path, body.as_bytes(), timestamp, &nonce);
        for (name, value) in signed.with_client(&credential.client_id) {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    if let Some(key) = idempotency_key {
        request.push_str(&format!("Idempotency-Key: {key}\r\n"));
    }
    if !body.is_empty() {
        request.push_str("Content-Type: application/json\r\n");
    }
    request.push_str(&format!("Content-Length: {}\r\n\r\n{body}", body.len()));
    stream.write_all(request.as_bytes())?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response)?;
    parse_answer(&response)
}

/// Parses a whole HTTP/1.1 response; a truncated one (cut off by a kill) is an error.
fn parse_answer(response: &[u8]) -> std::io::Result<Answer> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let text = String::from_utf8_lossy(response);
    let (head, body) = text.split_once("\r\n\r\n").ok_or_else(|| bad("no complete response head"))?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status line"))?;
    let mut length = None;
    let mut replayed = false;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "content-length" {
            length = value.parse::<usize>().ok();
        } else if name == "idempotent-replayed" {
            replayed = value.eq_ignore_ascii_case("true");
        }
    }
    let length = length.ok_or_else(|| bad("no Content-Length"))?;
    if body.len() != length {
        return Err(bad(&format!("a body of {} bytes, not the {length} announced", body.len())));
    }
    Ok(Answer { status, body: body.to_owned(), replayed })
}

/// A small deterministic generator (xorshift64*), so that a seed repeats a run's choices.
struct Random(u64);

impl Random {
    fn new(seed: u64) -> Random {
        Random(seed.max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..bound` (small bounds; the bias is negligible).
    fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

fn seed() -> u64 {
    match std::env::var("SANHU_CRASH_SEED") {
        Ok(text) => text.parse().expect("SANHU_CRASH_SEED is an unsigned integer"),
        Err(_) => u64::from_le_bytes(sanhu_service::clock::random_bytes::<8>()),
    }
}

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

fn transfer_body(id: Option<&str>, debit: &str, credit: &str, amount: i64) -> String {
    let mut body = json!({"debit_account_id": debit, "credit_account_id": credit, "amount": amount, "code": "p2p"});
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    body.to_string()
}

/// Opens an account; its id.
fn open_account(port: u16, credential: &Credential, body: &str) -> String {
    let answer =
        send(port, "POST", "/v1/ledger/accounts", Some(body), None, Some(credential)).expect("open an account");
    assert_eq!(answer.status, 201, "open an account: {answer:?}");
    answer.json()["id"].as_str().expect("the account's id").to_owned()
}

/// A signed GET that must answer 200; its JSON.
fn get_ok(port: u16, credential: &Credential, path: &str) -> Value {
    let answer = send(port, "GET", path, None, None, Some(credential)).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(answer.status, 200, "GET {path}: {answer:?}");
    answer.json()
}

/// Every transfer id in an account's entries, each as often as it appears, following the cursor.
fn entry_transfer_ids(port: u16, credential: &Credential, account: &str) -> Vec<String> {
    let mut ids = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let path = match &after {
            Some(cursor) => format!("/v1/ledger/accounts/{account}/entries?limit=1000&after={cursor}"),
            None => format!("/v1/ledger/accounts/{account}/entries?limit=1000"),
        };
        let page = get_ok(port, credential, &path);
        for entry in page["data"].as_array().expect("entries") {
            ids.push(entry["transfer_id"].as_str().expect("transfer_id").to_owned());
        }
        match page["next_cursor"].as_str() {
            Some(cursor) => after = Some(cursor.to_owned()),
            None => return ids,
        }
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
    let mut kill_points: Vec<usize> = Vec::new();
    while kill_points.len() < KILLS {
        let point = OPERATIONS / 10 + random.below((OPERATIONS * 8 / 10) as u64) as usize;
        if !kill_points.iter().any(|p| p.abs_diff(point) < OPERATIONS / 20) {
            kill_points.push(point);
        }
    }
    kill_points.sort();
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
    let summary = format!("{} accounts, {} transfers checked", WALLETS + 1, WALLETS + successes);
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
    let Some(schema) = PostgresSchema::create() else { return };
    bank_test_survives_sigkill(Database::Postgres(schema));
}
