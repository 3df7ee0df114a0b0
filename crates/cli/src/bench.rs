//! `sanhu bench`: drives the ledger writer in-process, modelled on `tigerbeetle benchmark`. It starts
//! from a fresh database, creates accounts with no balance limit (so a default run rejects nothing),
//! submits transfers from concurrent clients, reports throughput and batch latency, and ends with the
//! checks of `sanhu verify`. `sanhu bench http` ([`http`]) drives a running server over signed HTTP.

mod histogram;
mod http;
mod progress;

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use indicatif::ProgressBar;
use sanhu_core::ledger::{
    Account, AccountFlags, BalanceLimit, Counters, NormalSide, TransferAction, TransferRequest, BATCH_TRANSFERS_MAX,
};
use sanhu_core::{AccountId, Amount, Currency, Id128, Timestamp};
use sanhu_service::writer::WriterConfig;
use sanhu_service::{clock, Ledger, LedgerConfig};
use sanhu_store::{DatabaseStore, LedgerStore, Store, StoreOptions};

const DEFAULT_POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
/// The schema a PostgreSQL run works in; dropped and recreated at each start.
const POSTGRES_BENCH_SCHEMA: &str = "sanhu_bench";
/// Accounts created per transaction while setting up.
const SETUP_ACCOUNTS_PER_TRANSACTION: usize = 10_000;

#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

#[derive(clap::Args, Debug)]
#[command(args_conflicts_with_subcommands = true)]
pub struct BenchArgs {
    #[command(subcommand)]
    command: Option<BenchCommand>,
    #[arg(long, value_enum, default_value = "sqlite")]
    backend: Backend,
    /// SQLite: a file that must not exist yet (default: a fresh file in the temporary directory, removed
    /// afterwards). PostgreSQL: the database in which the schema `sanhu_bench` is recreated.
    #[arg(long)]
    database_url: Option<String>,
    #[arg(long, default_value_t = 10_000)]
    accounts: usize,
    /// Accounts that take a share of all transfers (`--hot-percent`).
    #[arg(long, default_value_t = 0)]
    hot_accounts: usize,
    /// Share of transfers, in percent, with a hot account on one side.
    #[arg(long, default_value_t = 0)]
    hot_percent: u8,
    #[arg(long, default_value_t = 1_000_000)]
    transfers: u64,
    /// Transfers per submission and per ledger transaction.
    #[arg(long, default_value_t = BATCH_TRANSFERS_MAX)]
    batch: usize,
    /// Share of transfers, in percent, that are holds (pending).
    #[arg(long, default_value_t = 0)]
    pending_percent: u8,
    /// Concurrent submitters.
    #[arg(long, default_value_t = 2)]
    clients: usize,
    /// Seed of the pseudo-random transfer generator, for repeatable runs.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Print one JSON object instead of the summary.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Subcommand, Debug)]
pub enum BenchCommand {
    /// Drives a running server over signed HTTP, as its callers do, and reports requests/s, latency
    /// and errors by code. Raise the server's rate limits first (see `sanhu bench http --help`).
    #[command(long_about = http::LONG_ABOUT)]
    Http(http::HttpBenchArgs),
}

pub async fn run(args: BenchArgs) -> anyhow::Result<ExitCode> {
    if let Some(BenchCommand::Http(args)) = args.command {
        return http::run(args).await;
    }
    anyhow::ensure!(args.accounts >= 2, "--accounts must be at least 2");
    anyhow::ensure!(args.hot_accounts < args.accounts, "--hot-accounts must be fewer than --accounts");
    anyhow::ensure!(args.hot_percent <= 100 && args.pending_percent <= 100, "percentages are 0..=100");
    anyhow::ensure!((1..=BATCH_TRANSFERS_MAX).contains(&args.batch), "--batch must be 1..={BATCH_TRANSFERS_MAX}");
    anyhow::ensure!(args.clients >= 1, "--clients must be at least 1");

    let database = FreshDatabase::create(args.backend, args.database_url.as_deref()).await?;
    let store = database.store.clone();
    let currency = Currency::parse("CNY").expect("CNY is known");
    let accounts = create_accounts(&store, args.accounts, currency).await?;
    let accounts = Arc::new(accounts);

    let ledger = Ledger::start(
        store.clone(),
        LedgerConfig {
            writer: WriterConfig { batch_transfers_max: args.batch, batch_wait_us: 0, ..WriterConfig::default() },
        },
    );
    let progress = progress::bar(args.transfers, "{bar:40} {percent:>3}% {human_pos}/{human_len} transfers, {elapsed}");

    let started = Instant::now();
    let mut clients = Vec::new();
    let per_client = args.transfers / args.clients as u64;
    for client in 0..args.clients {
        let share = if client == args.clients - 1 { args.transfers - per_client * client as u64 } else { per_client };
        let generator = Generator {
            random: SplitMix64(args.seed.wrapping_add(client as u64 * 0x9E37_79B9)),
            accounts: accounts.clone(),
            hot_accounts: args.hot_accounts,
            hot_percent: args.hot_percent,
            pending_percent: args.pending_percent,
        };
        clients.push(tokio::spawn(drive_client(ledger.clone(), generator, share, args.batch, progress.clone())));
    }
    let mut latencies_us = Vec::new();
    let mut failed = 0u64;
    for client in clients {
        let (mut client_latencies, client_failed) = client.await.context("a bench client panicked")??;
        latencies_us.append(&mut client_latencies);
        failed += client_failed;
    }
    let elapsed = started.elapsed();
    progress.finish();

    latencies_us.sort_unstable();
    let percentile = |p: f64| -> f64 {
        if latencies_us.is_empty() {
            return 0.0;
        }
        let index = ((latencies_us.len() as f64 - 1.0) * p).round() as usize;
        latencies_us[index] as f64 / 1000.0
    };
    let transfers_per_second = (args.transfers as f64 / elapsed.as_secs_f64()).round() as u64;
    let verify_started = Instant::now();
    let report = store.verify().await?;
    let verify_seconds = verify_started.elapsed().as_secs_f64();
    let durability = store.durability().await?;

    if args.json {
        let summary = serde_json::json!({
            "backend": store.backend(),
            "durability": durability.setting,
            "accounts": args.accounts,
            "hot_accounts": args.hot_accounts,
            "hot_percent": args.hot_percent,
            "pending_percent": args.pending_percent,
            "transfers": args.transfers,
            "failed": failed,
            "batch": args.batch,
            "clients": args.clients,
            "seconds": elapsed.as_secs_f64(),
            "transfers_per_second": transfers_per_second,
            "batches": latencies_us.len(),
            "batch_latency_ms_p50": percentile(0.50),
            "batch_latency_ms_p99": percentile(0.99),
            "batch_latency_ms_max": percentile(1.0),
            "verify_ok": report.problems.is_empty(),
            "verify_problems": report.problems.len(),
            "verify_seconds": verify_seconds,
        });
        println!("{summary}");
    } else {
        println!("backend            {} ({})", store.backend(), durability.setting);
        println!(
            "accounts           {} ({} hot, taking {}% of transfers)",
            args.accounts, args.hot_accounts, args.hot_percent
        );
        println!("transfers          {} ({}% pending), {} failed", args.transfers, args.pending_percent, failed);
        println!("batch / clients    {} / {}", args.batch, args.clients);
        println!("time               {:.2} s", elapsed.as_secs_f64());
        println!("throughput         {transfers_per_second} transfers/s");
        println!(
            "batch latency      p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} batches)",
            percentile(0.50),
            percentile(0.99),
            percentile(1.0),
            latencies_us.len()
        );
        println!("verify ({verify_seconds:.1} s)");
    }
    let code = if args.json {
        if report.problems.is_empty() {
            ExitCode::SUCCESS
        } else {
            ExitCode::FAILURE
        }
    } else {
        crate::verify::print(&report)
    };
    drop(store);
    database.remove().await;
    Ok(code)
}

async fn drive_client(
    ledger: Ledger,
    mut generator: Generator,
    transfers: u64,
    batch: usize,
    progress: ProgressBar,
) -> anyhow::Result<(Vec<u64>, u64)> {
    let mut latencies_us = Vec::new();
    let mut failed = 0;
    let mut left = transfers;
    while left > 0 {
        let n = left.min(batch as u64) as usize;
        let requests: Vec<TransferRequest> = (0..n).map(|_| generator.next_request()).collect();
        let started = Instant::now();
        let results = ledger.submit(requests).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        latencies_us.push(started.elapsed().as_micros() as u64);
        failed += results.iter().filter(|r| r.is_err()).count() as u64;
        left -= n as u64;
        progress.inc(n as u64);
    }
    Ok((latencies_us, failed))
}

async fn create_accounts(store: &Store, count: usize, currency: Currency) -> anyhow::Result<Vec<AccountId>> {
    let mut random = SplitMix64(0x5EED);
    let now = clock::now();
    let unix_ms = (now.nanos() / 1_000_000) as u64;
    let accounts: Vec<Account> = (0..count)
        .map(|_| Account {
            id: Id128::generate(unix_ms, random.next_u128()),
            currency,
            normal_side: NormalSide::Credit,
            limit: BalanceLimit::Unlimited,
            flags: AccountFlags::default(),
            counters: Counters::default(),
            code: "bench".to_owned(),
            metadata: "{}".to_owned(),
            created_at: now,
            last_transfer_at: Timestamp::default(),
        })
        .collect();
    for chunk in accounts.chunks(SETUP_ACCOUNTS_PER_TRANSACTION) {
        store.create_accounts(chunk).await?;
    }
    Ok(accounts.iter().map(|a| a.id).collect())
}

/// The transfers a bench client submits: random accounts, random amounts, time-ordered ids.
struct Generator {
    random: SplitMix64,
    accounts: Arc<Vec<AccountId>>,
    hot_accounts: usize,
    hot_percent: u8,
    pending_percent: u8,
}

impl Generator {
    fn next_request(&mut self) -> TransferRequest {
        let cold = &self.accounts[self.hot_accounts..];
        let pick_cold = |r: &mut SplitMix64| cold[r.below(cold.len() as u64) as usize];
        let hot = self.hot_accounts > 0 && self.random.below(100) < self.hot_percent as u64;
        let (debit, credit) = if hot {
            let hot_account = self.accounts[self.random.below(self.hot_accounts as u64) as usize];
            let other = pick_cold(&mut self.random);
            if self.random.below(2) == 0 {
                (hot_account, other)
            } else {
                (other, hot_account)
            }
        } else {
            let debit = pick_cold(&mut self.random);
            let mut credit = pick_cold(&mut self.random);
            while credit == debit {
                credit = pick_cold(&mut self.random);
            }
            (debit, credit)
        };
        let amount = Amount::new(1 + self.random.below(10_000) as i64).expect("positive");
        let pending = self.random.below(100) < self.pending_percent as u64;
        let action = if pending {
            TransferAction::Hold {
                debit_account_id: debit,
                credit_account_id: credit,
                amount,
                balancing: false,
                timeout_s: None,
            }
        } else {
            TransferAction::Post { debit_account_id: debit, credit_account_id: credit, amount, balancing: false }
        };
        let unix_ms = (clock::now().nanos() / 1_000_000) as u64;
        TransferRequest {
            id: Id128::generate(unix_ms, self.random.next_u128()),
            action,
            linked: false,
            code: "bench".to_owned(),
            reference: None,
            metadata: "{}".to_owned(),
        }
    }
}

/// splitmix64: a small, fast, well-distributed generator; quality enough for workloads, not for keys.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn next_u128(&mut self) -> u128 {
        ((self.next_u64() as u128) << 64) | self.next_u64() as u128
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}

/// The bench's own database, fresh at start and removed at the end (SQLite files; the PostgreSQL
/// schema is left for inspection and dropped by the next run).
struct FreshDatabase {
    store: Store,
    sqlite_files: Vec<std::path::PathBuf>,
}

impl FreshDatabase {
    async fn create(backend: Backend, url: Option<&str>) -> anyhow::Result<FreshDatabase> {
        let options = StoreOptions::default();
        match backend {
            Backend::Sqlite => {
                let (path, remove_after) = match url {
                    Some(url) => {
                        let path = std::path::PathBuf::from(url.strip_prefix("sqlite://").unwrap_or(url));
                        anyhow::ensure!(
                            !path.exists(),
                            "{} exists; the bench starts from a fresh database and will not touch an existing one",
                            path.display()
                        );
                        (path, false)
                    }
                    None => (std::env::temp_dir().join(format!("sanhu-bench-{}.db", std::process::id())), true),
                };
                let store = Store::open(&format!("sqlite://{}", path.display()), &options).await?;
                store.migrate().await?;
                let sqlite_files = if remove_after {
                    ["", "-wal", "-shm"]
                        .iter()
                        .map(|s| std::path::PathBuf::from(format!("{}{s}", path.display())))
                        .collect()
                } else {
                    Vec::new()
                };
                Ok(FreshDatabase { store, sqlite_files })
            }
            Backend::Postgres => {
                let base = url.unwrap_or(DEFAULT_POSTGRES_URL);
                anyhow::ensure!(base.starts_with("postgres"), "--database-url must be a postgres:// URL");
                let (client, connection) = tokio_postgres_connect(base).await?;
                let connection = tokio::spawn(connection);
                client
                    .batch_execute(&format!(
                        "DROP SCHEMA IF EXISTS {POSTGRES_BENCH_SCHEMA} CASCADE; CREATE SCHEMA {POSTGRES_BENCH_SCHEMA};"
                    ))
                    .await
                    .context("failed to recreate the bench schema")?;
                drop(client);
                let _ = connection.await;
                let separator = if base.contains('?') { '&' } else { '?' };
                let url = format!("{base}{separator}options=-c%20search_path%3D{POSTGRES_BENCH_SCHEMA}");
                let store = Store::open(&url, &options).await?;
                store.migrate().await?;
                Ok(FreshDatabase { store, sqlite_files: Vec::new() })
            }
        }
    }

    async fn remove(self) {
        drop(self.store);
        for file in &self.sqlite_files {
            let _ = std::fs::remove_file(file);
        }
    }
}

async fn tokio_postgres_connect(
    url: &str,
) -> anyhow::Result<(
    tokio_postgres::Client,
    tokio_postgres::Connection<tokio_postgres::Socket, tokio_postgres::tls::NoTlsStream>,
)> {
    tokio_postgres::connect(url, tokio_postgres::NoTls).await.with_context(|| format!("failed to connect to {url}"))
}
