//! End-to-end tests of the `sanhu` binary, run as a user runs it: each test works in a fresh
//! temporary directory, starts `sanhu serve` on a free port when it needs a server, talks to it with
//! `sanhu call`, and kills every server it started even when an assertion fails.
//!
//! The ledger test also runs on PostgreSQL at `SANHU_TEST_POSTGRES_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) in a fresh schema; it is skipped with a message when
//! PostgreSQL is unreachable, except under `CI=true`, where that is a failure.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::common::SERVER_READY_TIMEOUT;
use crate::common::{
    free_port, sanhu, start_paying_channel, terminate, unique_suffix, Database, PostgresSchema, WorkDir,
};

/// Longest a server may take to exit after SIGTERM.
const SERVER_STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest a one-shot command (call, verify, client, migrate) may run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------------------------
// Harness (the rest is in tests/it/common)
// ---------------------------------------------------------------------------------------------

/// What a finished command printed.
struct Finished {
    status: ExitStatus,
    stdout: String,
    stderr: String,
}

impl Finished {
    fn describe(&self) -> String {
        format!("exit {:?}\n--- stdout ---\n{}\n--- stderr ---\n{}", self.status, self.stdout, self.stderr)
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not one JSON value ({error}):\n{}", self.describe()))
    }
}

/// Runs a command to its end, killing it (and failing) if it outlives `timeout`.
fn run_bounded(command: Command, timeout: Duration) -> Finished {
    let (status, stdout, stderr) = crate::common::run_bounded(command, timeout);
    Finished { status, stdout, stderr }
}

/// `sanhu ARGS` in `dir`, run to its end.
fn run(dir: &Path, args: &[&str]) -> Finished {
    run_bounded(sanhu(dir, args), COMMAND_TIMEOUT)
}

/// `sanhu ARGS` in `dir`, which must succeed.
fn run_ok(dir: &Path, args: &[&str]) -> Finished {
    let finished = run(dir, args);
    assert!(finished.status.success(), "sanhu {args:?} failed:\n{}", finished.describe());
    finished
}

/// A plain HTTP/1.1 GET of an unauthenticated endpoint: (status, body).
fn http_get(port: u16, path: &str) -> std::io::Result<(u16, String)> {
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = TcpStream::connect_timeout(&address, Duration::from_secs(1))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    stream.set_write_timeout(Some(Duration::from_secs(5)))?;
    write!(stream, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n")?;
    let mut response = String::new();
    stream.read_to_string(&mut response)?;
    let bad = || std::io::Error::new(std::io::ErrorKind::InvalidData, "not an HTTP response");
    let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).ok_or_else(bad)?;
    let body = response.split_once("\r\n\r\n").map(|(_, body)| body.to_owned()).ok_or_else(bad)?;
    Ok((status, body))
}

/// A running `sanhu serve`, killed when dropped (so a failing assertion never leaves it behind).
struct Server {
    child: Option<Child>,
    port: u16,
    stdout_path: PathBuf,
    stderr_path: PathBuf,
}

impl Server {
    /// Starts `sanhu serve --listen 127.0.0.1:PORT EXTRA` in `dir` and waits until it is healthy.
    fn start(dir: &Path, extra: &[&str]) -> Server {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let mut args = vec!["serve", "--listen", &listen];
        args.extend_from_slice(extra);
        Server::start_with(dir, &args, port)
    }

    /// Starts `sanhu ARGS` (a serve) in `dir` and waits until it answers GET /health on `port`.
    fn start_with(dir: &Path, args: &[&str], port: u16) -> Server {
        let name = format!("serve-{}", unique_suffix());
        let stdout_path = dir.join(format!("{name}.stdout"));
        let stderr_path = dir.join(format!("{name}.stderr"));
        let mut command = sanhu(dir, args);
        command.stdout(std::fs::File::create(&stdout_path).expect("create the server's stdout file"));
        command.stderr(std::fs::File::create(&stderr_path).expect("create the server's stderr file"));
        let child = command.spawn().expect("start sanhu serve");
        let mut server = Server { child: Some(child), port, stdout_path, stderr_path };
        server.wait_until_healthy();
        server
    }

    fn wait_until_healthy(&mut self) {
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.as_mut().and_then(|c| c.try_wait().expect("poll the server")) {
                panic!("sanhu serve exited before it was healthy ({status:?}):\n{}", self.output());
            }
            if let Ok((200, body)) = http_get(self.port, "/health") {
                let health: Value = serde_json::from_str(&body).expect("GET /health answers JSON");
                assert_eq!(health["status"], "ok", "GET /health: {body}");
                return;
            }
            if started.elapsed() > SERVER_READY_TIMEOUT {
                panic!("sanhu serve was not healthy within {SERVER_READY_TIMEOUT:?}:\n{}", self.output());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(&self.stdout_path).unwrap_or_default()
    }

    /// The server's log (standard error).
    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr_path).unwrap_or_default()
    }

    fn output(&self) -> String {
        format!("--- server stdout ---\n{}\n--- server stderr ---\n{}", self.stdout(), self.log())
    }

    /// Stops the server as an operator does (SIGTERM) and checks that it exits cleanly.
    fn stop(mut self) {
        let child = self.child.take().expect("the server is running");
        terminate(child, SERVER_STOP_TIMEOUT, || self.output());
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

/// `sanhu call ARGS` in `dir` with the saved credential: (succeeded, the JSON it printed, output).
fn call(dir: &Path, args: &[&str]) -> (bool, Value, Finished) {
    let mut full = vec!["call"];
    full.extend_from_slice(args);
    let finished = run(dir, &full);
    let json = finished.json();
    (finished.status.success(), json, finished)
}

/// `sanhu call ARGS`, which must succeed; its JSON answer.
fn call_ok(dir: &Path, args: &[&str]) -> Value {
    let (ok, json, finished) = call(dir, args);
    assert!(ok, "sanhu call {args:?} failed:\n{}", finished.describe());
    json
}

fn as_str(value: &Value) -> &str {
    value.as_str().unwrap_or_else(|| panic!("{value} is not a string"))
}

/// Opens a debit-normal funding account and a credit-normal wallet; their ids.
fn open_funding_and_wallet(dir: &Path) -> (String, String) {
    let funding = call_ok(
        dir,
        &["POST", "/v1/ledger/accounts", "--data", r#"{"currency":"CNY","normal_side":"debit","code":"funding"}"#],
    );
    assert_eq!(funding["normal_side"], "debit", "{funding}");
    assert_eq!(funding["currency"], "CNY", "{funding}");
    assert_eq!(funding["balance"], 0, "{funding}");
    let wallet = call_ok(dir, &["POST", "/v1/ledger/accounts", "--data", r#"{"currency":"CNY"}"#]);
    assert_eq!(wallet["normal_side"], "credit", "{wallet}");
    let (funding, wallet) = (as_str(&funding["id"]).to_owned(), as_str(&wallet["id"]).to_owned());
    assert!(funding.starts_with("acc_") && wallet.starts_with("acc_"), "{funding} {wallet}");
    assert_ne!(funding, wallet);
    (funding, wallet)
}

fn transfer_body(debit: &str, credit: &str, amount: i64) -> String {
    json!({"debit_account_id": debit, "credit_account_id": credit, "amount": amount, "code": "recharge"}).to_string()
}

// ---------------------------------------------------------------------------------------------
// 1. First start
// ---------------------------------------------------------------------------------------------

#[test]
fn serve_in_an_empty_directory_creates_the_database_and_prints_the_first_credential_once() {
    let dir = WorkDir::new("first-start");
    let server = Server::start(dir.path(), &[]);

    assert!(dir.file("sanhu.db").is_file(), "serve creates ./sanhu.db");
    let stdout = server.stdout();
    let credential_path = dir.file("sanhu-credentials.json");
    let credential: Value =
        serde_json::from_str(&std::fs::read_to_string(&credential_path).expect("serve saves ./sanhu-credentials.json"))
            .expect("the credential file is JSON");
    let client_id = as_str(&credential["client_id"]);
    let private_key = as_str(&credential["private_key"]);
    assert!(client_id.starts_with("cli_"), "{credential}");
    assert_eq!(credential["url"], server.url().as_str(), "the credential points at the server");
    assert!(stdout.contains(&format!("created API client {client_id}")), "stdout names the client:\n{stdout}");
    assert_eq!(stdout.matches(private_key).count(), 1, "the private key is printed exactly once:\n{stdout}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&credential_path).expect("stat the credential").permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "the credential file is readable by its owner only (mode {mode:o})");
    }
    // The printed credential works as saved.
    // A new database holds only the platform's own accounts, made at the first start.
    let accounts = call_ok(dir.path(), &["GET", "/v1/ledger/accounts"]);
    let accounts = accounts["data"].as_array().unwrap_or_else(|| panic!("{accounts}"));
    assert!(!accounts.is_empty() && accounts.iter().all(|a| a["code"] == "platform"), "{accounts:?}");
    let platform = call_ok(dir.path(), &["GET", "/v1/platform-accounts"]);
    assert_eq!(platform["data"].as_array().map(Vec::len), Some(accounts.len()), "{platform}");
    let log = server.log();
    assert!(log.contains("sanhu is serving"), "the log goes to standard error:\n{log}");
    assert!(!log.contains('\u{1b}'), "a log written to a file has no terminal colour codes:\n{log}");
    server.stop();

    let saved = std::fs::read_to_string(&credential_path).expect("read the credential");
    let again = Server::start(dir.path(), &[]);
    let stdout = again.stdout();
    assert!(!stdout.contains("private key") && !stdout.contains("First start"), "a second start prints:\n{stdout}");
    assert_eq!(std::fs::read_to_string(&credential_path).expect("read the credential"), saved);
    again.stop();
    let clients = run_ok(dir.path(), &["client", "list"]).stdout;
    assert_eq!(clients.lines().filter(|l| l.starts_with("cli_")).count(), 1, "one client in all:\n{clients}");
}

// ---------------------------------------------------------------------------------------------
// 2. The ledger through `sanhu call`, then `sanhu verify`
// ---------------------------------------------------------------------------------------------

fn call_moves_money_once_per_idempotency_key_and_verify_then_passes(database: Database) {
    let dir = WorkDir::new("ledger");
    let dir = dir.path();
    let server = Server::start(dir, &database.flags());
    let (funding, wallet) = open_funding_and_wallet(dir);

    let body = transfer_body(&funding, &wallet, 1000);
    let transfer = call_ok(dir, &["POST", "/v1/ledger/transfers", "--idempotency-key", "e2e-1", "--data", &body]);
    let transfer_id = as_str(&transfer["id"]).to_owned();
    assert!(transfer_id.starts_with("tr_"), "{transfer}");
    assert_eq!(transfer["amount"], 1000, "{transfer}");
    assert_eq!(transfer["debit_account_id"], funding.as_str(), "{transfer}");
    assert_eq!(transfer["credit_account_id"], wallet.as_str(), "{transfer}");

    // The same key and request again: the stored answer, not a second transfer.
    let (ok, replayed, finished) =
        call(dir, &["POST", "/v1/ledger/transfers", "--idempotency-key", "e2e-1", "--include", "--data", &body]);
    assert!(ok, "the replay succeeds:\n{}", finished.describe());
    assert_eq!(replayed["id"], transfer_id.as_str(), "the replay answers the same transfer");
    assert!(
        finished.stderr.to_ascii_lowercase().contains("idempotent-replayed: true"),
        "the replay is marked:\n{}",
        finished.stderr
    );

    let entries = call_ok(dir, &["GET", &format!("/v1/ledger/accounts/{wallet}/entries")]);
    let data = entries["data"].as_array().unwrap_or_else(|| panic!("entries: {entries}"));
    assert_eq!(data.len(), 1, "the money moved once: {entries}");
    assert_eq!(data[0]["transfer_id"], transfer_id.as_str(), "{entries}");
    assert_eq!(data[0]["direction"], "credit", "{entries}");
    assert_eq!(data[0]["amount"], 1000, "{entries}");
    assert_eq!(data[0]["counterparty_account_id"], funding.as_str(), "{entries}");
    assert_eq!(data[0]["balance_after"], 1000, "{entries}");

    let balance = call_ok(dir, &["GET", &format!("/v1/ledger/accounts/{wallet}/balance")]);
    assert_eq!(balance["account_id"], wallet.as_str(), "{balance}");
    assert_eq!(balance["balance"], 1000, "{balance}");
    assert_eq!(balance["credits_posted"], 1000, "{balance}");
    let balance = call_ok(dir, &["GET", &format!("/v1/ledger/accounts/{funding}/balance")]);
    assert_eq!(balance["balance"], 1000, "a debit-normal account grows with debits: {balance}");

    // A refused request: non-zero exit, and the API's JSON error on stdout.
    let (ok, error, finished) =
        call(dir, &["POST", "/v1/ledger/transfers", "--include", "--data", &transfer_body(&funding, &wallet, 0)]);
    assert!(!ok, "a 4xx makes `sanhu call` exit non-zero:\n{}", finished.describe());
    assert_eq!(error["error"]["code"], "invalid_amount", "{error}");
    assert!(error["error"]["message"].is_string(), "{error}");
    assert!(finished.stderr.contains(" 422 "), "the status is 422:\n{}", finished.stderr);

    server.stop();
    let mut args = vec!["verify"];
    args.extend(database.flags());
    let verified = run(dir, &args);
    assert!(verified.status.success(), "verify fails on a good ledger:\n{}", verified.describe());
    assert!(verified.stdout.contains("ok"), "{}", verified.describe());
    // The two accounts the test opened, and the platform's nine (three channels, fee income and
    // expense, marketing, withdrawals in transit, seized, adjustments).
    assert!(verified.stdout.contains("11 accounts, 1 transfers checked"), "{}", verified.describe());
}

#[test]
fn call_moves_money_once_per_idempotency_key_and_verify_then_passes_on_sqlite() {
    call_moves_money_once_per_idempotency_key_and_verify_then_passes(Database::Sqlite);
}

#[test]
fn call_moves_money_once_per_idempotency_key_and_verify_then_passes_on_postgres() {
    let Some(schema) = PostgresSchema::create("t_cli") else { return };
    call_moves_money_once_per_idempotency_key_and_verify_then_passes(Database::Postgres(schema));
}

// ---------------------------------------------------------------------------------------------
// 3. `sanhu verify` finds a corrupted counter
// ---------------------------------------------------------------------------------------------

#[test]
fn verify_exits_non_zero_and_names_the_account_when_a_counter_was_corrupted() {
    let dir = WorkDir::new("corrupt");
    let dir = dir.path();
    let server = Server::start(dir, &[]);
    let (funding, wallet) = open_funding_and_wallet(dir);
    call_ok(dir, &["POST", "/v1/ledger/transfers", "--data", &transfer_body(&funding, &wallet, 250)]);
    server.stop();
    let verified = run(dir, &["verify"]);
    assert!(verified.status.success(), "verify before the corruption:\n{}", verified.describe());

    let sqlite3_present = Command::new("which").arg("sqlite3").output().is_ok_and(|o| o.status.success());
    if !sqlite3_present {
        eprintln!("skipping the corruption part: the sqlite3 command-line tool is not installed");
        return;
    }
    let corrupted = Command::new("sqlite3")
        .current_dir(dir)
        .args(["sanhu.db", "UPDATE ledger_balances SET credits_posted = credits_posted + 1"])
        .output()
        .expect("run sqlite3");
    assert!(corrupted.status.success(), "sqlite3: {}", String::from_utf8_lossy(&corrupted.stderr));

    let verified = run(dir, &["verify"]);
    assert!(!verified.status.success(), "verify passes a corrupted ledger:\n{}", verified.describe());
    for account in [&funding, &wallet] {
        assert!(
            verified.stdout.lines().any(|l| l.contains("problem") && l.contains(account.as_str())),
            "verify does not name {account}:\n{}",
            verified.describe()
        );
    }
}

#[test]
fn verify_without_a_database_fails_with_a_message_and_creates_no_database() {
    let dir = WorkDir::new("no-database");
    let verified = run(dir.path(), &["verify"]);
    assert!(!verified.status.success(), "verify passes with no database:\n{}", verified.describe());
    assert!(verified.stderr.contains("no database at sanhu.db"), "{}", verified.describe());
    assert!(!dir.file("sanhu.db").exists(), "verify created ./sanhu.db");
}

// ---------------------------------------------------------------------------------------------
// 4. API clients
// ---------------------------------------------------------------------------------------------

#[test]
fn a_revoked_client_is_listed_as_revoked_and_its_calls_are_refused_with_client_revoked() {
    let dir = WorkDir::new("clients");
    let dir = dir.path();
    let server = Server::start(dir, &[]);

    let created = run_ok(dir, &["client", "create", "--name", "x"]).stdout;
    let field = |name: &str| -> String {
        created
            .lines()
            .find_map(|line| line.strip_prefix(name))
            .map(|value| value.trim().to_owned())
            .unwrap_or_else(|| panic!("`client create` prints no {name}:\n{created}"))
    };
    let (client_id, private_key) = (field("client_id:"), field("private_key:"));
    assert!(client_id.starts_with("cli_"), "{created}");
    assert!(!private_key.is_empty(), "{created}");

    let status_in_list = |client_id: &str| -> String {
        let listed = run_ok(dir, &["client", "list"]).stdout;
        let line = listed
            .lines()
            .find(|l| l.starts_with(client_id))
            .unwrap_or_else(|| panic!("`client list` does not list {client_id}:\n{listed}"));
        assert!(line.trim_end().ends_with(" x"), "the name is listed: {line}");
        line.split_whitespace().nth(1).unwrap_or_default().to_owned()
    };
    assert_eq!(status_in_list(&client_id), "active");

    // A credential file of this client, as `client create --save` would write it.
    let credential = json!({"url": server.url(), "client_id": client_id, "private_key": private_key});
    std::fs::write(dir.join("x-credentials.json"), credential.to_string()).expect("write the credential");
    let with_x = |extra: &[&str]| {
        let mut args = vec!["--credentials", "x-credentials.json", "--include", "GET", "/v1/ledger/accounts"];
        args.extend_from_slice(extra);
        call(dir, &args)
    };
    let (ok, _, finished) = with_x(&[]);
    assert!(ok, "the new client can call before it is revoked:\n{}", finished.describe());

    let revoked = run_ok(dir, &["client", "revoke", &client_id]).stdout;
    assert!(revoked.contains(&client_id), "{revoked}");
    assert_eq!(status_in_list(&client_id), "revoked");

    // The server trusts a client as read for up to a second (docs/SECURITY.md, "Keys").
    std::thread::sleep(sanhu_http::client_cache::CLIENT_TRUSTED_FOR);
    let (ok, error, finished) = with_x(&[]);
    assert!(!ok, "a revoked client's call succeeds:\n{}", finished.describe());
    assert_eq!(error["error"]["code"], "client_revoked", "{error}");
    assert!(finished.stderr.contains(" 401 "), "the status is 401:\n{}", finished.stderr);
    // The first client is untouched.
    call_ok(dir, &["GET", "/v1/ledger/accounts"]);

    // --save never overwrites the saved credential, and a refused create leaves no client behind.
    let refused = run(dir, &["client", "create", "--name", "y", "--save"]);
    assert!(!refused.status.success(), "create --save overwrote a credential:\n{}", refused.describe());
    assert!(refused.stderr.contains("sanhu-credentials.json"), "{}", refused.describe());
    let listed = run_ok(dir, &["client", "list"]).stdout;
    assert!(!listed.lines().any(|l| l.trim_end().ends_with(" y")), "a refused create left a client:\n{listed}");
    drop(server);
}

// ---------------------------------------------------------------------------------------------
// 5. `sanhu bench`
// ---------------------------------------------------------------------------------------------

/// Runs `sanhu bench --json ARGS` with its temporary files in `dir`; the JSON object it printed.
fn bench(dir: &Path, args: &[&str]) -> Value {
    let mut full = vec!["bench", "--json"];
    full.extend_from_slice(args);
    let mut command = sanhu(dir, &full);
    // The bench's default SQLite file goes to the temporary directory: keep it in the test's.
    command.env("TMPDIR", dir);
    let finished = run_bounded(command, COMMAND_TIMEOUT);
    assert!(finished.status.success(), "sanhu {full:?} failed:\n{}", finished.describe());
    let report = finished.json();
    assert!(report.is_object(), "{}", finished.describe());
    report
}

#[test]
fn bench_prints_one_json_report_with_no_failures_and_a_verified_ledger() {
    let dir = WorkDir::new("bench");
    let report = bench(dir.path(), &["--transfers", "20000", "--accounts", "1000"]);
    assert_eq!(report["backend"], "sqlite", "{report}");
    assert_eq!(report["transfers"], 20000, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert!(report["transfers_per_second"].as_u64().is_some_and(|t| t > 0), "{report}");
    let p50 = report["batch_latency_ms_p50"].as_f64().unwrap_or_else(|| panic!("no p50: {report}"));
    let p99 = report["batch_latency_ms_p99"].as_f64().unwrap_or_else(|| panic!("no p99: {report}"));
    assert!(0.0 < p50 && p50 <= p99, "{report}");
    assert_eq!(report["verify_ok"], true, "{report}");

    let report = bench(
        dir.path(),
        &[
            "--transfers",
            "20000",
            "--accounts",
            "1000",
            "--hot-accounts",
            "1",
            "--hot-percent",
            "100",
            "--pending-percent",
            "10",
        ],
    );
    assert_eq!(report["transfers"], 20000, "{report}");
    assert_eq!(report["failed"], 0, "{report}");
    assert_eq!(report["verify_ok"], true, "{report}");
    let left: Vec<_> = std::fs::read_dir(dir.path()).expect("list the directory").flatten().map(|e| e.path()).collect();
    assert!(left.is_empty(), "the bench leaves its database behind: {left:?}");
}

#[test]
fn bench_writes_its_summary_and_no_progress_into_redirected_output() {
    let dir = WorkDir::new("bench-redirected");
    let mut command = sanhu(dir.path(), &["bench", "--transfers", "20000", "--accounts", "1000"]);
    command.env("TMPDIR", dir.path());
    let finished = run_bounded(command, COMMAND_TIMEOUT);
    assert!(finished.status.success(), "{}", finished.describe());
    assert!(finished.stdout.contains("throughput"), "the summary goes to standard output:\n{}", finished.describe());
    // A progress bar is for a terminal: redirected, standard error holds no bar and no percentage.
    assert!(finished.stderr.is_empty(), "progress written into redirected output:\n{}", finished.describe());
}

/// The server's per-client rate limit, raised for a bench run as `sanhu bench http --help` says.
const BENCH_RATE_LIMITS: &str = "rate_limit_per_s = 1000000\nrate_limit_burst = 1000000\n";

/// `sanhu bench http` against a real server: every workload sets itself up through the API, runs for
/// about a second, and reports requests and no errors; the ledger verifies afterwards.
fn bench_http_runs_every_workload_without_errors(database: Database) {
    let dir = WorkDir::new("bench-http");
    let dir = dir.path();
    std::fs::write(dir.join("sanhu.toml"), BENCH_RATE_LIMITS).expect("write sanhu.toml");
    let server = Server::start(dir, &database.flags());
    let workloads = ["health", "read", "transfer", "payment", "hot-wallet"];
    let mut args = vec!["bench", "http"];
    args.extend(workloads);
    args.extend(["--duration", "1s", "--warm-up", "200ms", "--connections", "4", "--accounts", "10", "--json"]);
    let finished = run_bounded(sanhu(dir, &args), Duration::from_secs(180));
    assert!(finished.status.success(), "sanhu {args:?} failed:\n{}\n{}", finished.describe(), server.output());
    assert!(finished.stderr.is_empty(), "progress written into redirected output:\n{}", finished.describe());
    let report = finished.json();
    assert_eq!(report["connections"], 4, "{report}");
    let reports = report["workloads"].as_array().unwrap_or_else(|| panic!("no workloads: {report}"));
    let names: Vec<&str> = reports.iter().map(|r| as_str(&r["workload"])).collect();
    assert_eq!(names, workloads, "{report}");
    for run in reports {
        let name = as_str(&run["workload"]);
        let requests = run["requests"].as_u64().unwrap_or_else(|| panic!("{name}: no requests: {run}"));
        let errors = run["errors_total"].as_u64().unwrap_or_else(|| panic!("{name}: no errors_total: {run}"));
        assert!(requests > 0 && run["ok"].as_u64() == Some(requests - errors), "{name}: {run}");
        assert!(run["requests_per_second"].as_f64().is_some_and(|r| r > 0.0), "{name}: {run}");
        let latency = |q: &str| run["latency_ms"][q].as_f64().unwrap_or_else(|| panic!("{name}: no {q}: {run}"));
        assert!(
            0.0 < latency("p50") && latency("p50") <= latency("p99") && latency("p99") <= latency("p99.9"),
            "{name}: {run}"
        );
        assert!(latency("p99.9") <= latency("max"), "{name}: {run}");
        // Payments racing for one wallet are decided in turn: every one paid, none refused for contention.
        assert_eq!(run["errors_total"], 0, "{name} had errors: {run}");
        assert_eq!(run["errors"], json!([]), "{name}: {run}");
        if name == "hot-wallet" {
            // The wallet lost exactly what the answers paid.
            assert_eq!(run["wallet_check"]["exact"], true, "{run}");
            assert!(run["wallet_check"]["paid"].as_i64().is_some_and(|p| p > 0), "{run}");
        }
        if name != "health" {
            assert!(run["share_of_health"].as_f64().is_some_and(|s| s > 0.0), "{name}: {run}");
        }
    }
    server.stop();
    let mut verify = vec!["verify"];
    verify.extend(database.flags());
    let verified = run_ok(dir, &verify).stdout;
    assert!(verified.contains("verify: ok"), "{verified}");
}

#[test]
fn bench_http_runs_every_workload_without_errors_on_sqlite() {
    bench_http_runs_every_workload_without_errors(Database::Sqlite);
}

#[test]
fn bench_http_runs_every_workload_without_errors_on_postgres() {
    let Some(schema) = PostgresSchema::create("t_cli") else { return };
    bench_http_runs_every_workload_without_errors(Database::Postgres(schema));
}

// ---------------------------------------------------------------------------------------------
// 6. The configuration file
// ---------------------------------------------------------------------------------------------

#[test]
fn serve_honours_sanhu_toml_and_refuses_an_unknown_key_naming_the_file() {
    let dir = WorkDir::new("config");
    let dir = dir.path();
    let port = free_port();
    std::fs::write(dir.join("sanhu.toml"), format!("listen = \"127.0.0.1:{port}\"\n")).expect("write sanhu.toml");
    let server = Server::start_with(dir, &["serve"], port);
    let credential: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("sanhu-credentials.json")).expect("the credential"))
            .expect("the credential is JSON");
    assert_eq!(credential["url"], server.url().as_str(), "the credential uses the configured address");
    call_ok(dir, &["GET", "/v1/ledger/accounts"]);
    server.stop();

    std::fs::write(dir.join("sanhu.toml"), format!("listen = \"127.0.0.1:{port}\"\ncolour = \"blue\"\n"))
        .expect("write sanhu.toml");
    let refused = run_bounded(sanhu(dir, &["serve"]), SERVER_READY_TIMEOUT);
    assert!(!refused.status.success(), "serve starts with an unknown key:\n{}", refused.describe());
    assert!(refused.stderr.contains("sanhu.toml"), "the message names the file:\n{}", refused.describe());
    assert!(refused.stderr.contains("colour"), "the message names the key:\n{}", refused.describe());
}

// ---------------------------------------------------------------------------------------------
// The three-party model from the shell
// ---------------------------------------------------------------------------------------------

/// Registers a personal member by phone and activates it; (member id, customer id, basic account id).
fn register_and_activate(dir: &Path, phone: &str) -> (String, String, String) {
    let registered = call_ok(dir, &["POST", "/v1/members", "--data", &json!({ "phone": phone }).to_string()]);
    assert_eq!(registered["member"]["status"], "inactive", "{registered}");
    assert_eq!(registered["member"]["status_code"], 0, "{registered}");
    let member = as_str(&registered["member"]["id"]).to_owned();
    let customer = as_str(&registered["customer"]["id"]).to_owned();
    let activated = call_ok(dir, &["POST", &format!("/v1/members/{member}/activate")]);
    assert_eq!(activated["member"]["status"], "normal", "{activated}");
    let accounts = activated["accounts"].as_array().unwrap_or_else(|| panic!("{activated}"));
    assert_eq!(accounts.len(), 1, "activation opens the basic account: {activated}");
    assert_eq!(accounts[0]["account_type"], "basic", "{activated}");
    (member, customer, as_str(&accounts[0]["id"]).to_owned())
}

fn id_card_authentication(result: &str) -> String {
    json!({
        "type": "id_card", "channel": "police_id_check", "name": "张三",
        "certificate_type": "id_card", "certificate_number": "110101199003071233", "result": result,
    })
    .to_string()
}

fn reason(text: &str) -> String {
    json!({ "reason": text }).to_string()
}

/// The issue's walk through the three-party model with `sanhu call`: register by phone, activate
/// (the basic account opens), authenticate the ID card (the customer gains its certificate), register a
/// second member with the same ID card and see the customers merge with members and balances intact;
/// freeze the customer and see every account blocked; cancel a member only once its accounts are empty.
fn three_party_model_from_the_shell(database: Database) {
    let dir = WorkDir::new("parties");
    let dir = dir.path();
    let server = Server::start(dir, &database.flags());
    let (funding, _) = open_funding_and_wallet(dir);

    let (first, first_customer, first_basic) = register_and_activate(dir, "13800138001");
    call_ok(dir, &["POST", "/v1/ledger/transfers", "--data", &transfer_body(&funding, &first_basic, 1_000)]);
    let verified = call_ok(
        dir,
        &["POST", &format!("/v1/members/{first}/authentications"), "--data", &id_card_authentication("verified")],
    );
    assert_eq!(verified["certificate_assigned"], true, "{verified}");
    let customer = call_ok(dir, &["GET", &format!("/v1/customers/{first_customer}")]);
    assert_eq!(customer["customer"]["certificate"]["type"], "id_card", "{customer}");
    assert_eq!(customer["customer"]["name"], "张三", "{customer}");
    assert!(!customer.to_string().contains("110101199003071233"), "the number is shown masked: {customer}");

    // A second member proves the same ID card: its customer merges into the first.
    let (second, second_customer, second_basic) = register_and_activate(dir, "13800138002");
    call_ok(dir, &["POST", "/v1/ledger/transfers", "--data", &transfer_body(&funding, &second_basic, 2_500)]);
    let merged = call_ok(
        dir,
        &["POST", &format!("/v1/members/{second}/authentications"), "--data", &id_card_authentication("verified")],
    );
    assert_eq!(merged["merged_into"], first_customer.as_str(), "{merged}");
    let absorbed = call_ok(dir, &["GET", &format!("/v1/customers/{second_customer}")]);
    assert_eq!(absorbed["customer"]["status"], "merged", "{absorbed}");
    let view = call_ok(dir, &["GET", &format!("/v1/customers/{first_customer}")]);
    let members = view["members"].as_array().unwrap_or_else(|| panic!("{view}"));
    assert_eq!(members.len(), 2, "both members under the survivor: {view}");
    let accounts = view["accounts"].as_array().unwrap_or_else(|| panic!("{view}"));
    let balance_of = |id: &str| -> i64 {
        let account = accounts.iter().find(|a| a["id"] == id).unwrap_or_else(|| panic!("{id} in {view}"));
        account["balance"].as_i64().unwrap_or_else(|| panic!("{account}"))
    };
    assert_eq!((balance_of(&first_basic), balance_of(&second_basic)), (1_000, 2_500), "balances intact");

    // An enterprise member with its company details and a first admin; the admin adds a cashier
    // who may pay from the basic account only, up to 100.00 a time.
    let company = json!({
        "name": "某某科技有限公司", "credit_code": "91110108MA01ABCD0B", "legal_person": "张三",
        "legal_person_certificate_number": "110101199003071233", "contact": "李四",
        "contact_phone": "13912345678", "industry": "I642", "licence_expiry": "2035-06-30",
        "address": "北京市海淀区某某路1号"
    });
    let enterprise = call_ok(
        dir,
        &[
            "POST",
            "/v1/enterprises",
            "--data",
            &json!({ "email": "finance@example.com", "company": company, "admin": { "phone": "13900139001" } })
                .to_string(),
        ],
    );
    let enterprise_member = enterprise["member"]["id"].as_str().unwrap_or_else(|| panic!("{enterprise}")).to_owned();
    let admin = enterprise["admin"]["id"].as_str().unwrap_or_else(|| panic!("{enterprise}")).to_owned();
    assert_eq!(enterprise["admin"]["role"], "admin", "{enterprise}");
    let activated = call_ok(dir, &["POST", &format!("/v1/members/{enterprise_member}/activate"), "--data", "{}"]);
    let enterprise_basic = activated["accounts"][0]["id"].as_str().unwrap_or_else(|| panic!("{activated}")).to_owned();
    let settlement = call_ok(
        dir,
        &["POST", &format!("/v1/members/{enterprise_member}/accounts"), "--data", r#"{"account_type":"settlement"}"#],
    );
    let settlement = settlement["id"].as_str().unwrap_or_else(|| panic!("{settlement}")).to_owned();
    let cashier = call_ok(
        dir,
        &[
            "POST",
            &format!("/v1/members/{enterprise_member}/operators"),
            "--data",
            &json!({ "role": "cashier", "phone": "13900139002", "reason": "new hire", "acting_operator_id": admin })
                .to_string(),
        ],
    );
    let cashier = cashier["id"].as_str().unwrap_or_else(|| panic!("{cashier}")).to_owned();
    let granted = call_ok(
        dir,
        &[
            "POST",
            &format!("/v1/operators/{cashier}/grants"),
            "--data",
            &json!({ "account_id": enterprise_basic, "operations": ["pay"], "reason": "till",
                     "acting_operator_id": admin })
            .to_string(),
        ],
    );
    assert_eq!(granted["grants"], json!([{ "account_id": enterprise_basic, "operations": ["pay"] }]), "{granted}");
    call_ok(
        dir,
        &[
            "POST",
            &format!("/v1/operators/{cashier}/limits"),
            "--data",
            &json!({ "limits": { "currency": "CNY", "per_transaction": 10_000 }, "reason": "policy",
                     "acting_operator_id": admin })
            .to_string(),
        ],
    );
    let authorise = format!("/v1/operators/{cashier}/authorise");
    let allowed = call_ok(
        dir,
        &[
            "POST",
            &authorise,
            "--data",
            &json!({ "account_id": enterprise_basic, "operation": "pay", "amount": 5_000 }).to_string(),
        ],
    );
    assert_eq!(allowed["allowed"], true, "{allowed}");
    for (account, amount, code) in
        [(&enterprise_basic, 10_001, "operator_limit_per_transaction"), (&settlement, 100, "operator_not_authorised")]
    {
        let body = json!({ "account_id": account, "operation": "pay", "amount": amount }).to_string();
        let (ok, error, _) = call(dir, &["POST", &authorise, "--data", &body]);
        assert!(!ok);
        assert_eq!(error["error"]["code"], code, "{error}");
    }

    // Frozen: no account of the customer moves money either way.
    let frozen = call_ok(
        dir,
        &[
            "POST",
            &format!("/v1/customers/{first_customer}/status"),
            "--data",
            &json!({ "status": "frozen", "reason": "court order" }).to_string(),
        ],
    );
    assert_eq!(frozen["status"], "frozen", "{frozen}");
    for account in [&first_basic, &second_basic] {
        let (ok, error, finished) =
            call(dir, &["POST", "/v1/ledger/transfers", "--data", &transfer_body(account, &funding, 1)]);
        assert!(!ok, "a frozen account pays nothing:\n{}", finished.describe());
        assert_eq!(error["error"]["code"], "debits_blocked", "{error}");
        let (ok, error, _) =
            call(dir, &["POST", "/v1/ledger/transfers", "--data", &transfer_body(&funding, account, 1)]);
        assert!(!ok);
        assert_eq!(error["error"]["code"], "credits_blocked", "{error}");
    }
    call_ok(
        dir,
        &[
            "POST",
            &format!("/v1/customers/{first_customer}/status"),
            "--data",
            &json!({ "status": "normal", "reason": "lifted" }).to_string(),
        ],
    );

    // Cancel: refused while the account holds money, done once it is emptied.
    let (ok, error, _) = call(dir, &["POST", &format!("/v1/members/{second}/cancel"), "--data", &reason("leaving")]);
    assert!(!ok);
    assert_eq!(error["error"]["code"], "account_not_empty", "{error}");
    call_ok(dir, &["POST", "/v1/ledger/transfers", "--data", &transfer_body(&second_basic, &funding, 2_500)]);
    let cancelled = call_ok(dir, &["POST", &format!("/v1/members/{second}/cancel"), "--data", &reason("leaving")]);
    assert_eq!(cancelled["status"], "cancelled", "{cancelled}");
    assert_eq!(cancelled["status_code"], 3, "{cancelled}");
    let closed = call_ok(dir, &["GET", &format!("/v1/accounts/{second_basic}")]);
    assert_eq!(closed["status"], "closed", "{closed}");
    // Its phone is free again.
    register_and_activate(dir, "13800138002");

    server.stop();
    let mut args = vec!["verify"];
    args.extend(database.flags());
    let verified = run(dir, &args);
    assert!(verified.status.success(), "verify after the walk:\n{}", verified.describe());
}

#[test]
fn three_party_model_from_the_shell_on_sqlite() {
    three_party_model_from_the_shell(Database::Sqlite);
}

#[test]
fn three_party_model_from_the_shell_on_postgres() {
    if let Some(schema) = PostgresSchema::create("t_cli") {
        three_party_model_from_the_shell(Database::Postgres(schema));
    }
}

/// Account types are configuration: the file's types replace the default set, so only they open; a
/// type the file gets wrong stops the server with a message naming it. The server secret is created
/// on first start, readable by its owner only, and kept across restarts.
#[test]
fn account_types_and_the_server_secret_come_from_the_configuration() {
    let dir = WorkDir::new("account-types");
    let dir = dir.path();
    let port = free_port();
    let types = r#"
[[account_types]]
code = "basic"
name = "基本户"
currency = "CNY"
withdrawable = true
sends_transfers = true
receives_transfers = true
deduction_priority = 2
per_member = "exactly_one"
opens_on_activation = true

[[account_types]]
code = "points"
name = "积分户"
currency = "CNY"
per_member = 2
"#;
    std::fs::write(dir.join("sanhu.toml"), format!("listen = \"127.0.0.1:{port}\"\ndormancy_days = 30\n{types}"))
        .expect("write sanhu.toml");
    let server = Server::start_with(dir, &["serve"], port);
    let secret = std::fs::read_to_string(dir.join("sanhu-secret.key")).expect("the secret file exists");
    assert_eq!(secret.trim().len(), 64, "32 bytes in hex: {secret:?}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("sanhu-secret.key")).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "only its owner may read the secret: {mode:o}");
    }
    let (member, _, _) = register_and_activate(dir, "13800138009");
    let points =
        call_ok(dir, &["POST", &format!("/v1/members/{member}/accounts"), "--data", r#"{"account_type":"points"}"#]);
    assert_eq!(points["account_type"], "points", "{points}");
    let (ok, error, _) =
        call(dir, &["POST", &format!("/v1/members/{member}/accounts"), "--data", r#"{"account_type":"settlement"}"#]);
    assert!(!ok);
    assert_eq!(error["error"]["code"], "account_type_not_configured", "{error}");
    server.stop();
    let server = Server::start_with(dir, &["serve"], port);
    let again = std::fs::read_to_string(dir.join("sanhu-secret.key")).expect("the secret file");
    assert_eq!(again, secret, "a restart keeps the secret");
    server.stop();

    let broken = types.replace("per_member = 2", "per_member = 0");
    std::fs::write(dir.join("sanhu.toml"), format!("listen = \"127.0.0.1:{port}\"\n{broken}")).expect("write");
    let refused = run_bounded(sanhu(dir, &["serve"]), SERVER_READY_TIMEOUT);
    assert!(!refused.status.success(), "serve starts with a bad account type:\n{}", refused.describe());
    assert!(refused.stderr.contains("points"), "the message names the type:\n{}", refused.describe());
}

/// The wallet comes from `[wallet]`: its channels replace the default ones, and a recharge left
/// pending on a channel with a status endpoint is completed by the compensation job, which asks the
/// channel; a wallet value no rule accepts stops the server with a message naming its key.
#[test]
fn the_wallet_and_its_recharge_compensation_come_from_the_configuration() {
    let dir = WorkDir::new("wallet-config");
    let dir = dir.path();
    let port = free_port();
    let (channel_port, asked) = start_paying_channel();
    let wallet = format!(
        r#"
[wallet]
currency = "CNY"
recharge_query_after_s = 1
recharge_compensation_interval_s = 1
channel_status_allow_private_targets = true
channel_status_allow_plain_http = true

[[wallet.channels]]
name = "gateway"
fee = {{ rate_basis_points = 60 }}
fee_payer = "platform"
status_url = "http://127.0.0.1:{channel_port}/gateway/status"
"#
    );
    std::fs::write(dir.join("sanhu.toml"), format!("listen = \"127.0.0.1:{port}\"\n{wallet}"))
        .expect("write sanhu.toml");
    let server = Server::start_with(dir, &["serve"], port);
    let (member, _, _) = register_and_activate(dir, "13800138077");
    let order = |number: &str, channel: &str| {
        json!({ "order_number": number, "member_id": member, "amount": 10_000, "channel": channel }).to_string()
    };
    let (ok, refused, _) = call(dir, &["POST", "/v1/recharges", "--data", &order("R-ALIPAY", "alipay")]);
    assert!(!ok);
    assert_eq!(refused["error"]["code"], "channel_not_configured", "the file's channels replace the defaults");
    let created = call_ok(dir, &["POST", "/v1/recharges", "--data", &order("R-1", "gateway")]);
    assert_eq!(created["status"], "pending", "{created}");
    // Nobody confirms it: the job asks the channel, which says paid, and the member is credited.
    let started = Instant::now();
    let credited = loop {
        let order = call_ok(dir, &["GET", "/v1/recharges/R-1"]);
        if order["status"] == "succeeded" {
            break order;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "not completed by the job: {order}");
        std::thread::sleep(Duration::from_millis(250));
    };
    assert_eq!(credited["credited"], 10_000, "{credited}");
    assert!(asked.load(std::sync::atomic::Ordering::SeqCst) >= 1);
    server.stop();

    let broken = wallet.replace("recharge_query_after_s = 1", "recharge_query_after_s = 1800");
    std::fs::write(dir.join("sanhu.toml"), format!("listen = \"127.0.0.1:{port}\"\n{broken}")).expect("write");
    let refused = run_bounded(sanhu(dir, &["serve"]), SERVER_READY_TIMEOUT);
    assert!(!refused.status.success(), "serve starts with a bad wallet:\n{}", refused.describe());
    assert!(
        refused.stderr.contains("wallet.recharge_query_after_s"),
        "the message names the key:\n{}",
        refused.describe()
    );
    // A plain http status URL not allowed by the configuration is refused at start, naming the key
    // that would allow it.
    let plain = wallet.replace("channel_status_allow_plain_http = true\n", "");
    std::fs::write(dir.join("sanhu.toml"), format!("listen = \"127.0.0.1:{port}\"\n{plain}")).expect("write");
    let refused = run_bounded(sanhu(dir, &["serve"]), SERVER_READY_TIMEOUT);
    assert!(!refused.status.success(), "serve starts with a plain http status URL:\n{}", refused.describe());
    assert!(
        refused.stderr.contains("wallet.channels[0]: status_url")
            && refused.stderr.contains("channel_status_allow_plain_http"),
        "the message names the keys:\n{}",
        refused.describe()
    );
}
