//! `sanhu bench http`: a load generator built into the binary, like wrk or oha, that signs every request
//! with a saved credential as `sanhu call` does, so that what is measured is the path every caller
//! takes: signature, nonce, idempotency, audit, the service and the ledger. It sets up the members,
//! accounts and money its workloads need through the API itself, then drives the server over keep-alive
//! connections (one task per connection, one request at a time on each) and reports requests/s,
//! latency percentiles and errors by status and code.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context;
use ed25519_dalek::SigningKey;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use indicatif::ProgressBar;
use serde::Serialize;
use serde_json::{json, Value};

use super::histogram::Histogram;
use super::{progress, SplitMix64};
use crate::credentials::{self, Credential};

pub const LONG_ABOUT: &str = "\
Drives a running `sanhu serve` over signed HTTP, as its callers do: every request is signed with the \
saved credential (as `sanhu call` signs), sent over keep-alive HTTP/1.1 connections, one task per \
connection and one request at a time on each. Before each workload it sets up what the workload \
needs through the API (members, activated, with money recharged and confirmed; ledger accounts funded \
from a funding account), sends load for the warm-up (not counted), then measures for the duration and \
reports requests/s, p50/p99/p99.9 latency and errors by HTTP status and code, as text or, with --json, \
one JSON object. With `health` in the same run, each workload's successful requests/s is also given as \
a share of /health's.

Workloads:
  health      GET /health: no signature, no database; the server's ceiling
  read        signed GET /v1/ledger/accounts/{id} and GET /v1/members/{id}/wallet, in turn, over
              --accounts members
  transfer    signed POST /v1/ledger/transfers with an Idempotency-Key, between --accounts funded
              ledger accounts
  payment     signed POST /v1/payments: --accounts members with money paying one merchant
  hot-wallet  signed POST /v1/payments from one enterprise member's wallet to --accounts members;
              afterwards the wallet's balance is checked against the payments answered

Every request counts its answer: a non-2xx answer, or a payment answered other than `paid`, is an \
error, reported by status and code (409 concurrent_change, say), and the run goes on.

The server limits each API client's requests (rate_limit_per_s 5000, rate_limit_burst 10000 by \
default) and answers 429 rate_limited beyond: raise both in the server's sanhu.toml for a run, e.g.

    rate_limit_per_s = 1000000
    rate_limit_burst = 1000000

The bench creates members, accounts and money in the server's database: run it against a database \
made for it, never one that holds real members.";

/// A member's money for `payment`, and each account's for `transfer`: far more than a run spends.
const FUNDING: i64 = 10_000_000_000;
/// The enterprise wallet's money for `hot-wallet`.
const HOT_WALLET_FUNDING: i64 = 100_000_000_000;
/// Largest amount a request moves (minor units); each moves 1 to this.
const AMOUNT_MAX: u64 = 100;
/// Times a set-up request refused 429 rate_limited is tried again, a second apart.
const SETUP_RATE_LIMITED_TRIES: u32 = 60;
/// Phone numbers tried for one member before set-up gives up (each taken one is `identity_taken`).
const SETUP_PHONE_TRIES: u64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Workload {
    Health,
    Read,
    Transfer,
    Payment,
    HotWallet,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Health => "health",
            Workload::Read => "read",
            Workload::Transfer => "transfer",
            Workload::Payment => "payment",
            Workload::HotWallet => "hot-wallet",
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct HttpBenchArgs {
    /// The workloads, run one after another: health, read, transfer, payment, hot-wallet.
    #[arg(value_enum, required = true)]
    workloads: Vec<Workload>,
    /// Keep-alive connections, each sending one request at a time.
    #[arg(long, short = 'c', default_value_t = 32)]
    connections: usize,
    /// How long each workload is measured, after its warm-up: 10s, 500ms, 2m, or seconds.
    #[arg(long, short = 'd', default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// How long each workload sends load before it is measured (not counted).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warm_up: Duration,
    /// Members (read, payment, hot-wallet) or ledger accounts (transfer) each workload sets up and
    /// spreads its requests over.
    #[arg(long, visible_alias = "members", default_value_t = 1000)]
    accounts: usize,
    /// The recharge channel that funds members (one the server has, without review).
    #[arg(long, default_value = "wechat")]
    channel: String,
    /// The currency of `transfer`'s ledger accounts (the wallet's currency for the others).
    #[arg(long, default_value = "CNY")]
    currency: String,
    /// Longest a request waits for its answer; then it counts as an error (`timeout`) and its
    /// connection is replaced.
    #[arg(long, default_value = "30s", value_parser = parse_duration)]
    timeout: Duration,
    /// The saved credential to sign with.
    #[arg(long, env = "SANHU_CREDENTIALS", default_value = credentials::DEFAULT_CREDENTIALS_FILE)]
    credentials: PathBuf,
    /// Server base URL (http://host:port); default: the credential's.
    #[arg(long, env = "SANHU_URL")]
    url: Option<String>,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

/// `10s`, `500ms`, `2m` or plain seconds (`1.5`).
fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = match text.find(|c: char| c.is_ascii_alphabetic()) {
        Some(at) => text.split_at(at),
        None => (text, "s"),
    };
    let number: f64 = number.trim().parse().map_err(|_| format!("{text:?} is not a duration (10s, 500ms, 2m)"))?;
    let seconds = match unit {
        "ms" => number / 1000.0,
        "s" => number,
        "m" => number * 60.0,
        _ => return Err(format!("{text:?}: the unit is ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| format!("{text:?} is not a duration of zero or more"))
}

pub async fn run(args: HttpBenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(args.connections >= 1, "--connections must be at least 1");
    anyhow::ensure!(args.accounts >= 2, "--accounts must be at least 2");
    anyhow::ensure!(!args.duration.is_zero(), "--duration must be more than zero");
    let credential = Credential::load(&args.credentials)?;
    let url = args.url.clone().unwrap_or_else(|| credential.url.clone());
    let target = Arc::new(Target::parse(&url)?);
    let signer = Arc::new(Signer {
        key: credential.signing_key()?,
        client_id: credential.client_id.clone(),
        authority: target.authority.clone(),
    });
    let mut random = SplitMix64(u64::from_le_bytes(sanhu_service::clock::random_bytes()));
    let bench = Bench { args: &args, target, signer };

    let mut reports: Vec<WorkloadReport> = Vec::new();
    for &workload in &args.workloads {
        // Each workload's orders, keys and phone numbers start from a number of its own.
        let tag = format!("{:08x}", random.next_u64() as u32);
        let plan = bench.set_up(workload, &tag, &mut random).await.with_context(|| {
            format!(
                "setting up the {} workload against {url} failed (is `sanhu serve` running there?)",
                workload.name()
            )
        })?;
        let mut report = bench.measure(workload, Arc::new(plan), &tag).await?;
        report.wallet_check = match &report.plan_check {
            Some((payer, before)) => Some(bench.check_wallet(payer, *before, &report).await?),
            None => None,
        };
        reports.push(report);
    }
    let health = reports.iter().find(|r| r.workload == "health").map(|r| r.ok_per_second);
    for report in &mut reports {
        if report.workload != "health" {
            report.share_of_health = health.filter(|h| *h > 0.0).map(|h| report.ok_per_second / h);
        }
    }

    if args.json {
        let summary = json!({
            "url": url,
            "connections": args.connections,
            "duration_s": args.duration.as_secs_f64(),
            "warm_up_s": args.warm_up.as_secs_f64(),
            "accounts": args.accounts,
            "workloads": reports,
        });
        println!("{summary}");
    } else {
        print_summary(&args, &url, &reports);
    }
    Ok(ExitCode::SUCCESS)
}

fn print_summary(args: &HttpBenchArgs, url: &str, reports: &[WorkloadReport]) {
    println!(
        "{url}: {} connections, {:.1} s warm-up, {:.1} s measured per workload, {} accounts",
        args.connections,
        args.warm_up.as_secs_f64(),
        args.duration.as_secs_f64(),
        args.accounts
    );
    println!();
    println!(
        "{:<11} {:>10} {:>10} {:>9} {:>9} {:>9} {:>9} {:>8} {:>10}",
        "workload", "requests/s", "ok/s", "p50 ms", "p99 ms", "p99.9 ms", "max ms", "errors", "of /health"
    );
    for report in reports {
        let share = report.share_of_health.map(|s| format!("{:.1}%", s * 100.0)).unwrap_or_default();
        println!(
            "{:<11} {:>10.0} {:>10.0} {:>9.2} {:>9.2} {:>9.2} {:>9.2} {:>8} {:>10}",
            report.workload,
            report.requests_per_second,
            report.ok_per_second,
            report.latency_ms.p50,
            report.latency_ms.p99,
            report.latency_ms.p99_9,
            report.latency_ms.max,
            report.errors_total,
            share
        );
    }
    for report in reports {
        for error in &report.errors {
            let status = error.status.map(|s| s.to_string()).unwrap_or_else(|| "-".to_owned());
            println!("{}: {} × {status} {}", report.workload, error.count, error.code);
        }
        if let Some(check) = &report.wallet_check {
            let verdict = match check.exact {
                Some(true) => "exact".to_owned(),
                Some(false) => format!("NOT EXACT: {} expected", check.balance_before - check.paid),
                None => format!("not checked: {} payments' outcome unknown", check.unknown_outcomes),
            };
            println!(
                "{}: the wallet held {} before, the answers paid {}, it holds {}: {verdict}",
                report.workload, check.balance_before, check.paid, check.balance_after
            );
        }
    }
    if reports.iter().flat_map(|r| &r.errors).any(|e| e.code == "rate_limited") {
        println!(
            "The server's rate limit refused requests: raise rate_limit_per_s and rate_limit_burst in its sanhu.toml \
             (see `sanhu bench http --help`)."
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Connections and signing
// ---------------------------------------------------------------------------------------------

/// Where the server is: the Host header's value and the address to connect to.
struct Target {
    authority: String,
    address: String,
}

impl Target {
    fn parse(url: &str) -> anyhow::Result<Target> {
        let uri: hyper::Uri = url.parse().with_context(|| format!("{url} is not a URL"))?;
        anyhow::ensure!(uri.scheme_str() == Some("http"), "{url}: the bench speaks plain http:// only");
        anyhow::ensure!(matches!(uri.path(), "" | "/"), "{url}: give the server's base URL, without a path");
        let authority = uri.authority().with_context(|| format!("{url} names no host"))?.clone();
        let address =
            if authority.port_u16().is_some() { authority.to_string() } else { format!("{}:80", authority.host()) };
        Ok(Target { authority: authority.to_string(), address })
    }
}

/// One keep-alive connection, opened again when the server closes it.
struct Connection {
    target: Arc<Target>,
    sender: Option<SendRequest<Full<Bytes>>>,
}

impl Connection {
    fn new(target: Arc<Target>) -> Connection {
        Connection { target, sender: None }
    }

    async fn connect(&mut self) -> Result<(), String> {
        let stream = tokio::net::TcpStream::connect(&self.target.address)
            .await
            .map_err(|e| format!("failed to connect to {}: {e}", self.target.address))?;
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
        tokio::spawn(async move {
            let _ = connection.await;
        });
        self.sender = Some(sender);
        Ok(())
    }

    /// Sends one request and reads its whole answer: (status, body).
    async fn exchange(&mut self, request: hyper::Request<Full<Bytes>>) -> Result<(u16, Bytes), String> {
        if self.sender.as_ref().is_none_or(SendRequest::is_closed) {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().expect("connected");
        if sender.ready().await.is_err() {
            self.connect().await?;
        }
        let sender = self.sender.as_mut().expect("connected");
        let answer = async {
            let response = sender.send_request(request).await?;
            let status = response.status().as_u16();
            let body = response.into_body().collect().await?.to_bytes();
            Ok::<_, hyper::Error>((status, body))
        };
        answer.await.map_err(|e| {
            self.sender = None;
            e.to_string()
        })
    }

    /// Drops the connection (after a timeout, when an answer may still be on its way).
    fn reset(&mut self) {
        self.sender = None;
    }
}

/// Signs requests with the credential's key.
struct Signer {
    key: SigningKey,
    client_id: String,
    authority: String,
}

/// One request to send.
struct Call {
    method: &'static str,
    /// Path and query, exactly as signed.
    path: String,
    body: Bytes,
    idempotency_key: Option<String>,
    signed: bool,
    /// A payment: its answer must say `paid`, and what it paid is summed.
    payment: bool,
}

impl Call {
    fn get(path: String) -> Call {
        Call { method: "GET", path, body: Bytes::new(), idempotency_key: None, signed: true, payment: false }
    }

    fn post(path: String, body: &Value) -> Call {
        Call {
            method: "POST",
            path,
            body: Bytes::from(body.to_string()),
            idempotency_key: None,
            signed: true,
            payment: false,
        }
    }
}

impl Signer {
    fn request(&self, call: &Call) -> hyper::Request<Full<Bytes>> {
        let mut request =
            hyper::Request::builder().method(call.method).uri(call.path.as_str()).header("host", &self.authority);
        if call.signed {
            let timestamp = sanhu_service::clock::now().nanos() / 1_000_000_000;
            let nonce = sanhu_http::signature::new_nonce();
            let signed = sanhu_http::signature::sign(&self.key, call.method, &call.path, &call.body, timestamp, &nonce);
            for (name, value) in signed.with_client(&self.client_id) {
                request = request.header(name, value);
            }
        }
        if !call.body.is_empty() {
            request = request.header("content-type", "application/json");
        }
        if let Some(key) = &call.idempotency_key {
            request = request.header("idempotency-key", key);
        }
        request.body(Full::new(call.body.clone())).expect("a request of a valid method, path and headers")
    }
}

// ---------------------------------------------------------------------------------------------
// Set-up through the API
// ---------------------------------------------------------------------------------------------

/// A signed client for set-up: one connection, requests that must succeed.
struct Api {
    connection: Connection,
    signer: Arc<Signer>,
}

impl Api {
    /// Sends `call`, trying again while the rate limit refuses it; (status, JSON answer).
    async fn send(&mut self, call: &Call) -> anyhow::Result<(u16, Value)> {
        for _ in 0..SETUP_RATE_LIMITED_TRIES {
            let (status, body) = self
                .connection
                .exchange(self.signer.request(call))
                .await
                .map_err(|e| anyhow::anyhow!("{} {}: {e}", call.method, call.path))?;
            let json: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            if status == 429 {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
            return Ok((status, json));
        }
        anyhow::bail!(
            "{} {}: refused rate_limited for a minute; raise the server's rate limits",
            call.method,
            call.path
        )
    }

    /// A request that must answer 2xx; its JSON.
    async fn ok(&mut self, call: Call) -> anyhow::Result<Value> {
        let (status, json) = self.send(&call).await?;
        anyhow::ensure!((200..300).contains(&status), "{} {} answered {status}: {json}", call.method, call.path);
        Ok(json)
    }

    async fn post(&mut self, path: &str, body: Value) -> anyhow::Result<Value> {
        self.ok(Call::post(path.to_owned(), &body)).await
    }

    /// Registers and activates a member (an enterprise one known by `email`, or a personal one by a
    /// phone number drawn from `phone_seed`): (member id, basic account id).
    async fn open_member(&mut self, phone_seed: u64, email: Option<&str>) -> anyhow::Result<Opened> {
        let mut member = None;
        for attempt in 0..SETUP_PHONE_TRIES {
            let body = match email {
                Some(email) => json!({"kind": "enterprise", "email": email}),
                None => json!({"phone": format!("19{:09}", (phone_seed + attempt * 104_729) % 1_000_000_000)}),
            };
            let call = Call::post("/v1/members".to_owned(), &body);
            let (status, json) = self.send(&call).await?;
            if status == 409 && json["error"]["code"] == "identity_taken" && email.is_none() {
                continue;
            }
            anyhow::ensure!((200..300).contains(&status), "POST /v1/members answered {status}: {json}");
            member = Some(text(&json["member"]["id"])?);
            break;
        }
        let member = member.context("every phone number tried for a member was taken")?;
        let activated = self.post(&format!("/v1/members/{member}/activate"), json!({})).await?;
        let account = text(&activated["accounts"][0]["id"]).context("activation opened no basic account")?;
        Ok(Opened { member, account })
    }

    /// Recharges `amount` into the member's wallet and confirms it, as the channel would.
    async fn recharge(&mut self, member: &str, amount: i64, order_number: &str, channel: &str) -> anyhow::Result<()> {
        let body = json!({"order_number": order_number, "member_id": member, "amount": amount, "channel": channel});
        let order = self.post("/v1/recharges", body).await?;
        anyhow::ensure!(
            order["status"] == "pending",
            "the recharge channel {channel} made the order {} (give --channel one without review): {order}",
            order["status"]
        );
        let confirmed = self.post(&format!("/v1/recharges/{order_number}/confirm"), json!({})).await?;
        anyhow::ensure!(confirmed["status"] == "succeeded", "the recharge was not credited: {confirmed}");
        Ok(())
    }

    /// The balance of a member's wallet.
    async fn wallet_balance(&mut self, member: &str) -> anyhow::Result<i64> {
        let wallet = self.ok(Call::get(format!("/v1/members/{member}/wallet"))).await?;
        wallet["balance"].as_i64().with_context(|| format!("the wallet has no balance: {wallet}"))
    }
}

fn text(value: &Value) -> anyhow::Result<String> {
    value.as_str().map(str::to_owned).with_context(|| format!("{value} is not a string"))
}

/// A member set up for a workload, or a ledger account (whose `member` is empty).
#[derive(Clone, Debug)]
struct Opened {
    member: String,
    account: String,
}

/// What one set-up step makes, for each index of a set-up.
#[derive(Clone)]
enum Step {
    /// A personal member, with `fund` recharged when given.
    Member { fund: Option<i64> },
    /// A credit-normal ledger account in `currency` funded from `funding`.
    LedgerAccount { funding: String, currency: String },
}

/// What a workload's requests need, made by its set-up.
enum Plan {
    Health,
    Read { members: Vec<Opened> },
    Transfer { accounts: Vec<String> },
    Payment { payers: Vec<String>, receiver: String },
    HotWallet { payer: String, receivers: Vec<String> },
}

impl Plan {
    /// The request a connection sends as its `sequence`th.
    fn call(&self, random: &mut SplitMix64, tag: &str, connection: usize, sequence: u64) -> Call {
        let amount = 1 + random.below(AMOUNT_MAX) as i64;
        // An order number or idempotency key of its own (the tag is the workload's in this run).
        let unique = || format!("b{tag}-{connection}-{sequence}");
        match self {
            Plan::Health => Call { signed: false, ..Call::get("/health".to_owned()) },
            Plan::Read { members } => {
                let member = &members[random.below(members.len() as u64) as usize];
                if sequence & 1 == 0 {
                    Call::get(format!("/v1/ledger/accounts/{}", member.account))
                } else {
                    Call::get(format!("/v1/members/{}/wallet", member.member))
                }
            }
            Plan::Transfer { accounts } => {
                let debit = random.below(accounts.len() as u64) as usize;
                let credit = (debit + 1 + random.below(accounts.len() as u64 - 1) as usize) % accounts.len();
                let body = json!({
                    "debit_account_id": accounts[debit],
                    "credit_account_id": accounts[credit],
                    "amount": amount,
                    "code": "bench",
                });
                Call { idempotency_key: Some(unique()), ..Call::post("/v1/ledger/transfers".to_owned(), &body) }
            }
            Plan::Payment { payers, receiver } => {
                let payer = &payers[random.below(payers.len() as u64) as usize];
                let body = json!({
                    "order_number": unique(), "member_id": payer, "amount": amount, "receiver_account_id": receiver,
                });
                Call { payment: true, ..Call::post("/v1/payments".to_owned(), &body) }
            }
            Plan::HotWallet { payer, receivers } => {
                let receiver = &receivers[random.below(receivers.len() as u64) as usize];
                let body = json!({
                    "order_number": unique(), "member_id": payer, "amount": amount, "receiver_account_id": receiver,
                });
                Call { payment: true, ..Call::post("/v1/payments".to_owned(), &body) }
            }
        }
    }
}

struct Bench<'a> {
    args: &'a HttpBenchArgs,
    target: Arc<Target>,
    signer: Arc<Signer>,
}

impl Bench<'_> {
    fn api(&self) -> Api {
        Api { connection: Connection::new(self.target.clone()), signer: self.signer.clone() }
    }

    async fn set_up(&self, workload: Workload, tag: &str, random: &mut SplitMix64) -> anyhow::Result<Plan> {
        let accounts = self.args.accounts;
        let phones = random.below(1_000_000_000);
        let mut api = self.api();
        Ok(match workload {
            Workload::Health => Plan::Health,
            Workload::Read => {
                Plan::Read { members: self.set_up_many(workload, Step::Member { fund: None }, tag, phones).await? }
            }
            Workload::Transfer => {
                let body = json!({"currency": self.args.currency, "normal_side": "debit", "code": "bench_funding"});
                let funding = text(&api.post("/v1/ledger/accounts", body).await?["id"])?;
                let opened = self
                    .set_up_many(
                        workload,
                        Step::LedgerAccount { funding, currency: self.args.currency.clone() },
                        tag,
                        phones,
                    )
                    .await?;
                Plan::Transfer { accounts: opened.into_iter().map(|o| o.account).collect() }
            }
            Workload::Payment => {
                let merchant = api.open_member(phones + accounts as u64, None).await?;
                let payers = self.set_up_many(workload, Step::Member { fund: Some(FUNDING) }, tag, phones).await?;
                Plan::Payment { payers: payers.into_iter().map(|o| o.member).collect(), receiver: merchant.account }
            }
            Workload::HotWallet => {
                let email = format!("bench-{tag}@example.com");
                let enterprise = api.open_member(0, Some(&email)).await?;
                api.recharge(&enterprise.member, HOT_WALLET_FUNDING, &format!("b{tag}-fund"), &self.args.channel)
                    .await?;
                let receivers = self.set_up_many(workload, Step::Member { fund: None }, tag, phones).await?;
                Plan::HotWallet {
                    payer: enterprise.member,
                    receivers: receivers.into_iter().map(|o| o.account).collect(),
                }
            }
        })
    }

    /// `--accounts` members or accounts made by `step`, over the bench's connections at once.
    async fn set_up_many(&self, workload: Workload, step: Step, tag: &str, phones: u64) -> anyhow::Result<Vec<Opened>> {
        let count = self.args.accounts;
        let what = if matches!(step, Step::LedgerAccount { .. }) { "ledger accounts" } else { "members" };
        let bar = progress::bar(
            count as u64,
            &format!("{:<10} setting up {{len}} {what} [{{bar:30}}] {{pos}}", workload.name()),
        );
        let workers = self.args.connections.min(count);
        let mut tasks = Vec::new();
        for worker in 0..workers {
            let (mut api, step, tag, bar, channel) =
                (self.api(), step.clone(), tag.to_owned(), bar.clone(), self.args.channel.clone());
            tasks.push(tokio::spawn(async move {
                let mut opened = Vec::new();
                for index in (worker..count).step_by(workers) {
                    let one = match &step {
                        Step::Member { fund } => {
                            let member = api.open_member(phones + index as u64, None).await?;
                            if let Some(amount) = fund {
                                api.recharge(&member.member, *amount, &format!("b{tag}-fund-{index}"), &channel)
                                    .await?;
                            }
                            member
                        }
                        Step::LedgerAccount { funding, currency } => {
                            let body = json!({"currency": currency, "code": "bench"});
                            let account = text(&api.post("/v1/ledger/accounts", body).await?["id"])?;
                            let transfer = json!({
                                "debit_account_id": funding, "credit_account_id": account, "amount": FUNDING,
                                "code": "bench_funding",
                            });
                            api.post("/v1/ledger/transfers", transfer).await?;
                            Opened { member: String::new(), account }
                        }
                    };
                    opened.push((index, one));
                    bar.inc(1);
                }
                Ok::<_, anyhow::Error>(opened)
            }));
        }
        let mut all = Vec::with_capacity(count);
        for task in tasks {
            all.extend(task.await.context("a set-up task panicked")??);
        }
        bar.finish_and_clear();
        all.sort_by_key(|(index, _)| *index);
        Ok(all.into_iter().map(|(_, opened)| opened).collect())
    }

    /// Runs `plan` over the connections for the warm-up and the duration; the report of the measured part.
    async fn measure(&self, workload: Workload, plan: Arc<Plan>, tag: &str) -> anyhow::Result<WorkloadReport> {
        let balance_before = match plan.as_ref() {
            Plan::HotWallet { payer, .. } => Some((payer.clone(), self.api().wallet_balance(payer).await?)),
            _ => None,
        };
        let (warm_up, duration) = (self.args.warm_up, self.args.duration);
        let started = Instant::now();
        let measure_from = started + warm_up;
        let deadline = measure_from + duration;
        let answered = Arc::new(AtomicU64::new(0));
        let failed = Arc::new(AtomicU64::new(0));
        let bar = progress::bar(
            (warm_up + duration).as_millis() as u64,
            &format!("{:<10} [{{bar:30}}] {{msg}}", workload.name()),
        );
        let ticker = tokio::spawn(show_progress(bar.clone(), started, measure_from, answered.clone(), failed.clone()));

        let mut tasks = Vec::new();
        for index in 0..self.args.connections {
            let seed = u64::from_le_bytes(sanhu_service::clock::random_bytes());
            let driver = Driver {
                connection: Connection::new(self.target.clone()),
                signer: self.signer.clone(),
                plan: plan.clone(),
                tag: tag.to_owned(),
                index,
                random: SplitMix64(seed),
                timeout: self.args.timeout,
                measure_from,
                deadline,
                answered: answered.clone(),
                failed: failed.clone(),
            };
            tasks.push(tokio::spawn(driver.run()));
        }
        let mut tally = Tally::default();
        for task in tasks {
            tally.add(task.await.context("a bench connection panicked")?);
        }
        ticker.abort();
        bar.finish();

        let seconds = tally.last_answer.map_or(duration, |last| last.saturating_duration_since(measure_from));
        let seconds = seconds.as_secs_f64().max(f64::EPSILON);
        let latency = |quantile: f64| tally.latency_us.value_at(quantile) as f64 / 1000.0;
        let mut errors: Vec<ErrorCount> = tally
            .errors
            .iter()
            .map(|((status, code), count)| ErrorCount { status: *status, code: code.clone(), count: *count })
            .collect();
        errors.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.code.cmp(&b.code)));
        Ok(WorkloadReport {
            workload: workload.name(),
            seconds,
            requests: tally.latency_us.count(),
            ok: tally.ok,
            requests_per_second: tally.latency_us.count() as f64 / seconds,
            ok_per_second: tally.ok as f64 / seconds,
            latency_ms: Latency { p50: latency(0.50), p99: latency(0.99), p99_9: latency(0.999), max: latency(1.0) },
            errors_total: errors.iter().map(|e| e.count).sum(),
            errors,
            share_of_health: None,
            wallet_check: None,
            plan_check: balance_before,
            paid: tally.paid,
            unknown_outcomes: tally.unknown_outcomes,
        })
    }

    /// Whether the hot wallet's balance is what it held less what the payments' answers paid.
    async fn check_wallet(&self, payer: &str, before: i64, report: &WorkloadReport) -> anyhow::Result<WalletCheck> {
        let after = self.api().wallet_balance(payer).await?;
        Ok(WalletCheck {
            balance_before: before,
            paid: report.paid,
            balance_after: after,
            unknown_outcomes: report.unknown_outcomes,
            exact: (report.unknown_outcomes == 0).then_some(after == before - report.paid),
        })
    }
}

async fn show_progress(
    bar: ProgressBar,
    started: Instant,
    measure_from: Instant,
    answered: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
) {
    let mut last = (Instant::now(), 0u64);
    loop {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = Instant::now();
        let count = answered.load(Ordering::Relaxed);
        let rate = (count - last.1) as f64 / now.duration_since(last.0).as_secs_f64();
        last = (now, count);
        bar.set_position(now.duration_since(started).as_millis() as u64);
        let phase = if now < measure_from { "warm-up, " } else { "" };
        bar.set_message(format!("{phase}{rate:.0} requests/s, {} errors", failed.load(Ordering::Relaxed)));
    }
}

// ---------------------------------------------------------------------------------------------
// The load: one driver per connection
// ---------------------------------------------------------------------------------------------

struct Driver {
    connection: Connection,
    signer: Arc<Signer>,
    plan: Arc<Plan>,
    tag: String,
    index: usize,
    random: SplitMix64,
    timeout: Duration,
    measure_from: Instant,
    deadline: Instant,
    /// Answers and errors so far, warm-up included, for the progress bar.
    answered: Arc<AtomicU64>,
    failed: Arc<AtomicU64>,
}

/// When a driver sends and which answers it counts. Requests are sent until the deadline; an answer
/// counts when it arrives at or after the end of the warm-up, so each connection's last answer (which
/// arrives at or after the deadline) always counts, and the window's requests/s is the answers counted
/// over the time from its start to its last answer. Counting by the time a request was *sent* instead
/// counted nothing when every connection's request was in flight across the whole window (a short
/// window on a loaded machine), though answers arrived in it.
#[derive(Clone, Copy, Debug)]
struct Window {
    measure_from: Instant,
    deadline: Instant,
}

impl Window {
    /// Whether a driver sends another request at `now`.
    fn sends_at(&self, now: Instant) -> bool {
        now < self.deadline
    }

    /// Whether an answer that arrived at `answered` is measured.
    fn counts(&self, answered: Instant) -> bool {
        answered >= self.measure_from
    }
}

/// What one connection saw (measured requests only, except `paid` and `unknown_outcomes`, which
/// count every payment, for the wallet's check).
#[derive(Default)]
struct Tally {
    latency_us: Histogram,
    ok: u64,
    errors: BTreeMap<(Option<u16>, String), u64>,
    last_answer: Option<Instant>,
    paid: i64,
    unknown_outcomes: u64,
}

impl Tally {
    fn add(&mut self, other: Tally) {
        self.latency_us.add(&other.latency_us);
        self.ok += other.ok;
        for (key, count) in other.errors {
            *self.errors.entry(key).or_default() += count;
        }
        self.last_answer = self.last_answer.max(other.last_answer);
        self.paid += other.paid;
        self.unknown_outcomes += other.unknown_outcomes;
    }
}

impl Driver {
    /// Sends one request after another until the deadline. An answer counts when it arrives in the
    /// measured window, whenever its request was sent ([`Window::counts`]): on a loaded machine one
    /// request may take longer than the whole window, and counting by the time a request was sent
    /// would then count nothing at all, however many were answered.
    async fn run(mut self) -> Tally {
        let mut tally = Tally::default();
        let window = Window { measure_from: self.measure_from, deadline: self.deadline };
        let mut sequence = 0u64;
        let mut now = Instant::now();
        while window.sends_at(now) {
            let call = self.plan.call(&mut self.random, &self.tag, self.index, sequence);
            sequence += 1;
            let request = self.signer.request(&call);
            let sent = Instant::now();
            let answer = tokio::time::timeout(self.timeout, self.connection.exchange(request)).await;
            let answered = Instant::now();
            let took = answered.saturating_duration_since(sent);
            let outcome = match answer {
                Err(_) => {
                    self.connection.reset();
                    Err((None, "timeout".to_owned()))
                }
                Ok(Err(_)) => {
                    // The server is unreachable or closed the connection: do not spin.
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    Err((None, "connection_error".to_owned()))
                }
                Ok(Ok((status, body))) => judge(&call, status, &body),
            };
            self.answered.fetch_add(1, Ordering::Relaxed);
            match &outcome {
                Ok(paid) => tally.paid += paid,
                Err((None, _)) if call.payment => tally.unknown_outcomes += 1,
                Err(_) => {}
            }
            if outcome.is_err() {
                self.failed.fetch_add(1, Ordering::Relaxed);
            }
            now = answered;
            if !window.counts(answered) {
                continue;
            }
            tally.latency_us.record(took.as_micros() as u64);
            tally.last_answer = Some(answered);
            match outcome {
                Ok(_) => tally.ok += 1,
                Err(key) => *tally.errors.entry(key).or_default() += 1,
            }
        }
        tally
    }
}

/// Whether an answer is a success (with what a payment paid) or an error (its status and code).
fn judge(call: &Call, status: u16, body: &[u8]) -> Result<i64, (Option<u16>, String)> {
    if !(200..300).contains(&status) {
        let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
        let code = json["error"]["code"].as_str().unwrap_or("no_code").to_owned();
        return Err((Some(status), code));
    }
    if !call.payment {
        return Ok(0);
    }
    let json: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    match (json["status"].as_str(), json["paid"].as_i64()) {
        (Some("paid"), Some(paid)) => Ok(paid),
        (payment, _) => Err((Some(status), format!("payment_{}", payment.unwrap_or("unreadable")))),
    }
}

// ---------------------------------------------------------------------------------------------
// The report
// ---------------------------------------------------------------------------------------------

#[derive(Serialize)]
struct WorkloadReport {
    workload: &'static str,
    /// The measured time: from the end of the warm-up to the last measured answer.
    seconds: f64,
    /// Requests answered (or failed) after the warm-up, whenever they were sent.
    requests: u64,
    ok: u64,
    requests_per_second: f64,
    ok_per_second: f64,
    latency_ms: Latency,
    errors_total: u64,
    errors: Vec<ErrorCount>,
    /// `ok_per_second` over /health's, when `health` ran in the same run.
    #[serde(skip_serializing_if = "Option::is_none")]
    share_of_health: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wallet_check: Option<WalletCheck>,
    #[serde(skip)]
    plan_check: Option<(String, i64)>,
    #[serde(skip)]
    paid: i64,
    #[serde(skip)]
    unknown_outcomes: u64,
}

#[derive(Serialize)]
struct Latency {
    p50: f64,
    p99: f64,
    #[serde(rename = "p99.9")]
    p99_9: f64,
    max: f64,
}

#[derive(Serialize)]
struct ErrorCount {
    /// None for a request that got no answer (`timeout`, `connection_error`).
    status: Option<u16>,
    code: String,
    count: u64,
}

/// The hot wallet after a run: what it held, what the payments answered `paid` took, what it holds.
#[derive(Serialize)]
struct WalletCheck {
    balance_before: i64,
    paid: i64,
    balance_after: i64,
    /// Payments sent without an answer (timeouts, lost connections): whether they paid is unknown.
    unknown_outcomes: u64,
    /// Whether `balance_after` is `balance_before - paid`; none when an outcome is unknown.
    exact: Option<bool>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_read_with_their_units() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1.5"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("10h").is_err());
        assert!(parse_duration("-1s").is_err());
        assert!(parse_duration("soon").is_err());
    }

    #[test]
    fn an_answer_is_judged_by_its_status_code_and_a_payment_by_its_status() {
        let payment = Call { payment: true, ..Call::post("/v1/payments".to_owned(), &json!({})) };
        let transfer = Call::post("/v1/ledger/transfers".to_owned(), &json!({}));
        let refused = br#"{"error":{"code":"concurrent_change","message":"try again","request_id":"r"}}"#;
        assert_eq!(judge(&payment, 409, refused), Err((Some(409), "concurrent_change".to_owned())));
        assert_eq!(judge(&transfer, 502, b"bad gateway"), Err((Some(502), "no_code".to_owned())));
        assert_eq!(judge(&transfer, 201, b"{}"), Ok(0));
        assert_eq!(judge(&payment, 201, br#"{"status":"paid","paid":42}"#), Ok(42));
        assert_eq!(
            judge(&payment, 201, br#"{"status":"paying","paid":0}"#),
            Err((Some(201), "payment_paying".to_owned()))
        );
    }

    #[test]
    fn an_answer_in_the_window_counts_though_its_request_was_sent_before_it() {
        let start = Instant::now();
        let window =
            Window { measure_from: start + Duration::from_millis(200), deadline: start + Duration::from_secs(1) };
        // Sent during the warm-up and answered after the deadline (a loaded machine): counted, and the
        // driver sends no more.
        let answered = start + Duration::from_secs(3);
        assert!(window.counts(answered));
        assert!(!window.sends_at(answered));
        // Answered within the warm-up: not counted; the driver sends again.
        let early = start + Duration::from_millis(100);
        assert!(!window.counts(early) && window.sends_at(early));
        // Answered in the window: counted; the driver sends again.
        let inside = start + Duration::from_millis(500);
        assert!(window.counts(inside) && window.sends_at(inside));
        // A connection stops sending only at an answer at or after the deadline, which counts: every
        // connection contributes at least its last answer.
        for at in [window.deadline, window.deadline + Duration::from_millis(1)] {
            assert!(!window.sends_at(at) && window.counts(at));
        }
    }

    #[test]
    fn a_base_url_names_the_host_and_port_to_connect_to() {
        let target = Target::parse("http://127.0.0.1:8080").unwrap();
        assert_eq!((target.authority.as_str(), target.address.as_str()), ("127.0.0.1:8080", "127.0.0.1:8080"));
        assert_eq!(Target::parse("http://localhost/").unwrap().address, "localhost:80");
        assert!(Target::parse("https://127.0.0.1:8080").is_err());
        assert!(Target::parse("http://127.0.0.1:8080/v1").is_err());
    }
}
