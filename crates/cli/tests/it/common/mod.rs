//! What the binary's tests share: the `sanhu` binary run on a fresh database (SQLite in a working
//! directory, or a fresh PostgreSQL schema from the test kit), a small signed HTTP/1.1 client, and a
//! seeded random generator. Each test module uses it as `use crate::common;`, and none uses all of it.

#![allow(dead_code)]

use std::ffi::OsStr;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use ed25519_dalek::SigningKey;
use serde_json::{json, Value};

pub use sanhu_testkit::schema::{postgres_runtime, PostgresSchema};
pub use sanhu_testkit::unique_suffix;

pub const SANHU: &str = env!("CARGO_BIN_EXE_sanhu");
/// Environment that would make a child process read something other than what the test set up.
pub const SANHU_ENVIRONMENT: &[&str] = &[
    "SANHU_CONFIG",
    "SANHU_DATABASE_URL",
    "SANHU_LISTEN",
    "SANHU_BATCH_TRANSFERS_MAX",
    "SANHU_BATCH_WAIT_US",
    "SANHU_CREDENTIALS",
    "SANHU_URL",
    "SANHU_LOG",
    "SANHU_LOG_FORMAT",
    "SANHU_METRICS_LISTEN",
    "SANHU_SECRET",
];

/// Longest a server may take to answer GET /health after it is started.
pub const SERVER_READY_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest a one-shot command (verify) may run.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Longest the client waits to connect, and for a whole answer once connected.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------------
// Harness: working directory, PostgreSQL schema, the server under test
// ---------------------------------------------------------------------------------------------

/// A fresh, empty working directory, removed when dropped.
pub struct WorkDir {
    pub path: PathBuf,
}

impl WorkDir {
    pub fn new(test: &str) -> WorkDir {
        let path = std::env::temp_dir().join(format!("sanhu-cli-{test}-{}", unique_suffix()));
        std::fs::create_dir_all(&path).expect("create the test's working directory");
        WorkDir { path }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The path of `name` in the directory.
    pub fn file(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `sanhu ARGS` in `dir`, with no `SANHU_*` setting inherited from the test's environment.
pub fn sanhu<A: AsRef<OsStr>>(dir: &Path, args: &[A]) -> Command {
    let mut command = Command::new(SANHU);
    command.args(args).current_dir(dir).stdin(Stdio::null());
    for name in SANHU_ENVIRONMENT {
        command.env_remove(name);
    }
    command
}

/// Runs a command to its end (killing it, and failing, if it outlives `timeout`): status and output.
pub fn run_bounded(mut command: Command, timeout: Duration) -> (ExitStatus, String, String) {
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
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind an ephemeral port");
    listener.local_addr().expect("the ephemeral port").port()
}

/// Which database a run uses, and the flags that reach it.
pub enum Database {
    Sqlite,
    Postgres(PostgresSchema),
}

impl Database {
    /// Flags every sanhu command of the run passes: none for SQLite (./sanhu.db, the default).
    pub fn args(&self) -> Vec<String> {
        match self {
            Database::Sqlite => Vec::new(),
            Database::Postgres(schema) => vec!["--database-url".to_owned(), schema.url.clone()],
        }
    }

    /// The same flags, borrowed.
    pub fn flags(&self) -> Vec<&str> {
        match self {
            Database::Sqlite => Vec::new(),
            Database::Postgres(schema) => vec!["--database-url", &schema.url],
        }
    }

    /// Claims on idempotency keys whose request never answered, read from the database itself.
    pub fn open_claims(&self, dir: &Path) -> i64 {
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

    pub fn name(&self) -> &'static str {
        match self {
            Database::Sqlite => "sqlite",
            Database::Postgres(_) => "postgres",
        }
    }
}

/// The server under test: `sanhu serve` on one database and one port, started again after each kill.
/// Every start writes its own log files; the running one is killed when this is dropped.
pub struct Server {
    pub dir: PathBuf,
    pub args: Vec<String>,
    pub port: u16,
    pub child: Option<Child>,
    /// (stdout, stderr) of every start, oldest first.
    pub logs: Vec<(PathBuf, PathBuf)>,
    /// Environment every start is given on top of the cleared `SANHU_*` (`SANHU_LOG`, say).
    pub env: Vec<(String, String)>,
}

impl Server {
    pub fn new(dir: &Path, database: &Database) -> Server {
        Server::with_database_args(dir, database.args())
    }

    /// A server run in `dir` with these database flags (a URL other than the run's, say).
    pub fn with_database_args(dir: &Path, database_args: Vec<String>) -> Server {
        let port = free_port();
        let mut args = vec!["serve".to_owned(), "--listen".to_owned(), format!("127.0.0.1:{port}")];
        args.extend(database_args);
        Server { dir: dir.to_owned(), args, port, child: None, logs: Vec::new(), env: Vec::new() }
    }

    /// Starts `sanhu serve` and waits until it answers GET /health.
    pub fn start(&mut self) {
        assert!(self.child.is_none(), "the server is already running");
        let generation = self.logs.len();
        // Named by port too: several servers may share one working directory.
        let stdout_path = self.dir.join(format!("serve-{}-{generation}.stdout", self.port));
        let stderr_path = self.dir.join(format!("serve-{}-{generation}.stderr", self.port));
        let mut command = sanhu(&self.dir, &self.args);
        command.envs(self.env.iter().map(|(name, value)| (name, value)));
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
    pub fn kill(&mut self) {
        let mut child = self.child.take().expect("the server is running");
        child.kill().expect("SIGKILL the server");
        child.wait().expect("reap the killed server");
    }

    /// SIGTERM, as an operator stops it; it must exit cleanly.
    pub fn stop(&mut self) {
        let child = self.child.take().expect("the server is running");
        terminate(child, Duration::from_secs(10), || self.output());
    }

    /// The logs of every start (the tail of each), for a failure message.
    pub fn output(&self) -> String {
        let mut text = String::new();
        for (generation, (stdout, stderr)) in self.logs.iter().enumerate() {
            let stdout = std::fs::read_to_string(stdout).unwrap_or_default();
            let stderr = std::fs::read_to_string(stderr).unwrap_or_default();
            // SANHU_TEST_LOG_LINES shows more of each log.
            let lines = std::env::var("SANHU_TEST_LOG_LINES").ok().and_then(|n| n.parse().ok()).unwrap_or(40);
            let tail: Vec<&str> = stderr.lines().rev().take(lines).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            text.push_str(&format!(
                "--- start {generation}: stdout ---\n{stdout}\n--- start {generation}: stderr (last {lines} lines) ---\n{}\n",
                tail.join("\n")
            ));
        }
        text
    }
}

/// Stops a `sanhu serve` as an operator does (SIGTERM) and checks that it exits cleanly within
/// `timeout`; `output` tells what the server printed, for a failure.
pub fn terminate(mut child: Child, timeout: Duration, output: impl Fn() -> String) {
    let terminated = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    assert!(terminated.is_ok_and(|s| s.success()), "kill -TERM the server");
    let started = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("poll the server") {
            break status;
        }
        if started.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("sanhu serve did not stop within {timeout:?} of SIGTERM:\n{}", output());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "sanhu serve exited with {status:?} on SIGTERM:\n{}", output());
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
pub struct Credential {
    pub client_id: String,
    pub key: SigningKey,
}

impl Credential {
    pub fn load(dir: &Path) -> Credential {
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
pub struct Answer {
    pub status: u16,
    pub body: String,
    /// Whether the answer carried `Idempotent-Replayed: true`.
    pub replayed: bool,
    /// The `Retry-After` header, if any.
    pub retry_after: Option<String>,
}

impl Answer {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("the answer is not JSON ({e}): {self:?}"))
    }

    /// The error code of a non-2xx answer.
    pub fn code(&self) -> String {
        serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["error"]["code"].as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Whether this answer decides the request: a success, or a refusal other than "the key's first
    /// request is still running". A 5xx decided nothing (the key was released, or the request timed
    /// out and its outcome is to be asked for again).
    pub fn is_definite(&self) -> bool {
        (200..300).contains(&self.status)
            || ((400..500).contains(&self.status) && self.code() != "idempotency_key_in_use")
    }
}

/// Sends one request on a fresh connection (`Connection: close`), signed when `credential` is given,
/// and reads the whole answer. Any failure to get a complete answer is an error: the request's fate
/// is then unknown to the client.
pub fn send(
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
pub fn parse_answer(response: &[u8]) -> std::io::Result<Answer> {
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
    let mut retry_after = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else { continue };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "content-length" {
            length = value.parse::<usize>().ok();
        } else if name == "idempotent-replayed" {
            replayed = value.eq_ignore_ascii_case("true");
        } else if name == "retry-after" {
            retry_after = Some(value.to_owned());
        }
    }
    let length = length.ok_or_else(|| bad("no Content-Length"))?;
    if body.len() != length {
        return Err(bad(&format!("a body of {} bytes, not the {length} announced", body.len())));
    }
    Ok(Answer { status, body: body.to_owned(), replayed, retry_after })
}

/// A small deterministic generator (xorshift64*), so that a seed repeats a run's choices.
pub struct Random(u64);

impl Random {
    pub fn new(seed: u64) -> Random {
        Random(seed.max(1))
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `0..bound` (small bounds; the bias is negligible).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.next() % bound
    }
}

pub fn seed() -> u64 {
    match std::env::var("SANHU_CRASH_SEED") {
        Ok(text) => text.parse().expect("SANHU_CRASH_SEED is an unsigned integer"),
        Err(_) => u64::from_le_bytes(sanhu_service::clock::random_bytes::<8>()),
    }
}

pub fn transfer_body(id: Option<&str>, debit: &str, credit: &str, amount: i64) -> String {
    let mut body = json!({"debit_account_id": debit, "credit_account_id": credit, "amount": amount, "code": "p2p"});
    if let Some(id) = id {
        body["id"] = json!(id);
    }
    body.to_string()
}

/// Opens an account; its id.
pub fn open_account(port: u16, credential: &Credential, body: &str) -> String {
    let answer =
        send(port, "POST", "/v1/ledger/accounts", Some(body), None, Some(credential)).expect("open an account");
    assert_eq!(answer.status, 201, "open an account: {answer:?}");
    answer.json()["id"].as_str().expect("the account's id").to_owned()
}

/// A signed GET that must answer 200; its JSON.
pub fn get_ok(port: u16, credential: &Credential, path: &str) -> Value {
    let answer = send(port, "GET", path, None, None, Some(credential)).unwrap_or_else(|e| panic!("GET {path}: {e}"));
    assert_eq!(answer.status, 200, "GET {path}: {answer:?}");
    answer.json()
}

/// Every transfer id in an account's entries, each as often as it appears, following the cursor.
pub fn entry_transfer_ids(port: u16, credential: &Credential, account: &str) -> Vec<String> {
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

// ---------------------------------------------------------------------------------------------
// The bank: a platform account funding a few wallets, and the checks on a consistent read of them
// ---------------------------------------------------------------------------------------------

/// A debit-normal platform account and credit-normal wallets (floor 0), each wallet funded once from
/// the platform: whatever moves between the wallets, they always hold `total()` together.
pub struct Bank {
    pub platform: String,
    pub wallets: Vec<String>,
    pub funding: i64,
    /// The funding transfers' ids, one per wallet.
    pub funding_transfers: Vec<String>,
}

impl Bank {
    /// Opens and funds the bank through the server on `port`.
    pub fn open(port: u16, credential: &Credential, wallets: usize, funding: i64) -> Bank {
        let platform = open_account(port, credential, r#"{"currency":"CNY","normal_side":"debit","code":"platform"}"#);
        let wallets: Vec<String> =
            (0..wallets).map(|_| open_account(port, credential, r#"{"currency":"CNY","code":"wallet"}"#)).collect();
        let mut funding_transfers = Vec::new();
        for (index, wallet) in wallets.iter().enumerate() {
            let id = sanhu_service::clock::new_id::<sanhu_core::id::TransferTag>().to_string();
            let body = transfer_body(Some(&id), &platform, wallet, funding);
            let key = format!("fund-{index}");
            let answer = send(port, "POST", "/v1/ledger/transfers", Some(&body), Some(&key), Some(credential))
                .expect("fund a wallet");
            assert_eq!(answer.status, 201, "fund a wallet: {answer:?}");
            funding_transfers.push(id);
        }
        Bank { platform, wallets, funding, funding_transfers }
    }

    pub fn total(&self) -> i64 {
        self.funding * self.wallets.len() as i64
    }

    /// GET /v1/ledger/balances of the platform and every wallet, read in one snapshot.
    pub fn balances_path(&self) -> String {
        let ids: Vec<&str> =
            std::iter::once(self.platform.as_str()).chain(self.wallets.iter().map(String::as_str)).collect();
        format!("/v1/ledger/balances?account_ids={}", ids.join(","))
    }

    /// Checks one answer of `balances_path()`: the wallets sum to the total, the platform is owed
    /// exactly that, no wallet is below its floor (0), nothing is pending, and posted debits equal
    /// posted credits over all the accounts. Returns the wallets' balances.
    pub fn check_snapshot(&self, snapshot: &Value) -> Result<Vec<i64>, String> {
        let data = snapshot["data"].as_array().ok_or_else(|| format!("no data: {snapshot}"))?;
        if data.len() != self.wallets.len() + 1 {
            return Err(format!("{} balances for {} accounts: {snapshot}", data.len(), self.wallets.len() + 1));
        }
        let number =
            |balance: &Value, field: &str| balance[field].as_i64().ok_or_else(|| format!("no {field} in {balance}"));
        let (mut debits, mut credits, mut wallets) = (0i64, 0i64, Vec::new());
        for (position, balance) in data.iter().enumerate() {
            debits += number(balance, "debits_posted")?;
            credits += number(balance, "credits_posted")?;
            if number(balance, "debits_pending")? != 0 || number(balance, "credits_pending")? != 0 {
                return Err(format!("money is pending: {balance}"));
            }
            if position == 0 {
                if number(balance, "balance")? != self.total() {
                    return Err(format!(
                        "the platform account is owed {}, not {}: {snapshot}",
                        balance["balance"],
                        self.total()
                    ));
                }
                continue;
            }
            let (amount, available) = (number(balance, "balance")?, number(balance, "available")?);
            if amount < 0 || available < 0 {
                return Err(format!("wallet {} is below its floor of 0: {snapshot}", position - 1));
            }
            wallets.push(amount);
        }
        if debits != credits {
            return Err(format!("posted debits {debits} and credits {credits} differ: {snapshot}"));
        }
        let sum: i64 = wallets.iter().sum();
        if sum != self.total() {
            return Err(format!("the wallets hold {sum} together, not {}: {snapshot}", self.total()));
        }
        Ok(wallets)
    }
}

/// The platform's own accounts `sanhu serve` creates at its first start with the default wallet: a
/// clearing account for each of the three default channels, fee income and expense, marketing,
/// withdrawals in transit, seized, adjustments.
pub const PLATFORM_ACCOUNTS: usize = 9;

/// `sanhu verify` on the database of `database_args`; panics unless it exits 0 having checked
/// `accounts` accounts besides the platform's and `transfers` transfers.
pub fn verify_clean(dir: &Path, database_args: Vec<String>, accounts: usize, transfers: usize) -> String {
    let accounts = accounts + PLATFORM_ACCOUNTS;
    let mut args = vec!["verify".to_owned()];
    args.extend(database_args);
    let (status, stdout, stderr) = run_bounded(sanhu(dir, &args), COMMAND_TIMEOUT);
    assert!(status.success(), "sanhu verify failed:\n{stdout}\n{stderr}");
    let summary = format!("{accounts} accounts, {transfers} transfers checked");
    assert!(stdout.contains(&summary), "verify did not check {summary}:\n{stdout}");
    stdout
}

/// A transfer between two wallets (their indexes) that the server answered with success.
#[derive(Clone, Debug)]
pub struct Moved {
    pub id: String,
    pub debit: usize,
    pub credit: usize,
    pub amount: i64,
}

/// Checks the ledger against what the clients were told, through the server on `port`: each wallet's
/// entries are its funding and exactly the successful transfers that touched it, each once (so no
/// refused or unanswered request moved anything, and none was applied twice); each wallet's balance
/// is its funding plus and minus those transfers; and a last consistent read passes
/// `Bank::check_snapshot`.
pub fn check_ledger_matches(port: u16, credential: &Credential, bank: &Bank, moved: &[Moved]) {
    for (index, wallet) in bank.wallets.iter().enumerate() {
        let mut expected: Vec<String> = moved
            .iter()
            .filter(|m| m.debit == index || m.credit == index)
            .map(|m| m.id.clone())
            .chain(std::iter::once(bank.funding_transfers[index].clone()))
            .collect();
        expected.sort();
        let mut found = entry_transfer_ids(port, credential, wallet);
        found.sort();
        assert_eq!(
            found, expected,
            "wallet {index} ({wallet}) has other entries than its funding and successful transfers"
        );
    }
    let mut expected = vec![bank.funding; bank.wallets.len()];
    for m in moved {
        expected[m.debit] -= m.amount;
        expected[m.credit] += m.amount;
    }
    let snapshot = get_ok(port, credential, &bank.balances_path());
    let balances = bank.check_snapshot(&snapshot).unwrap_or_else(|problem| panic!("the last read: {problem}"));
    assert_eq!(balances, expected, "the wallets' balances are not their funding and successful transfers");
}

/// `kills` operation counts at which a chaos run kills the server: within the middle 80% of
/// `operations`, at least a twentieth of them apart, in order.
pub fn kill_points(random: &mut Random, operations: usize, kills: usize) -> Vec<usize> {
    let mut points: Vec<usize> = Vec::new();
    while points.len() < kills {
        let point = operations / 10 + random.below((operations * 8 / 10) as u64) as usize;
        if !points.iter().any(|p| p.abs_diff(point) < operations / 20) {
            points.push(point);
        }
    }
    points.sort();
    points
}

/// A signed POST that must succeed (2xx); its JSON.
pub fn post_ok(port: u16, credential: &Credential, path: &str, body: Value) -> Value {
    let answer = send(port, "POST", path, Some(&body.to_string()), None, Some(credential))
        .unwrap_or_else(|e| panic!("POST {path}: {e}"));
    assert!((200..300).contains(&answer.status), "POST {path}: {answer:?}");
    answer.json()
}

/// A registered, activated member; (member id, basic account id).
pub fn active_member(port: u16, credential: &Credential, phone: &str) -> (String, String) {
    let registered = post_ok(port, credential, "/v1/members", json!({ "phone": phone }));
    let member = registered["member"]["id"].as_str().expect("the member's id").to_owned();
    let activated = post_ok(port, credential, &format!("/v1/members/{member}/activate"), json!({}));
    (member, activated["accounts"][0]["id"].as_str().expect("the basic account").to_owned())
}

/// A payment channel's status endpoint on a free port, in a thread: it answers every question that
/// the order was paid, for the amount asked about (`sanhu_http::channel_status`'s protocol), and
/// counts the questions.
pub fn start_paying_channel() -> (u16, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{BufRead, BufReader};
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind the channel");
    let port = listener.local_addr().expect("the channel's address").port();
    let asked = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = asked.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone the stream"));
            let mut request_line = String::new();
            if reader.read_line(&mut request_line).is_err() {
                continue;
            }
            let mut header = String::new();
            while reader.read_line(&mut header).is_ok_and(|n| n > 2) {
                header.clear();
            }
            let target = request_line.split(' ').nth(1).unwrap_or_default();
            let query = target.split_once('?').map(|(_, q)| q).unwrap_or_default();
            let param = |name: &str| {
                query.split('&').find_map(|pair| pair.strip_prefix(&format!("{name}="))).unwrap_or_default().to_owned()
            };
            counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let body = json!({
                "order_number": param("order_number"),
                "status": "paid",
                "amount": param("amount").parse::<i64>().unwrap_or(0),
            })
            .to_string();
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    (port, asked)
}
