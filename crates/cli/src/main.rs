//! `sanhu`: the server and its tools.

mod bench;
mod call;
mod client;
mod serve;
mod verify;

use sanhu::{config, credentials, staff};

use clap::{Parser, Subcommand};

/// mimalloc keeps freed memory for reuse where glibc's malloc returns a batch's worth of rows to the
/// kernel and faults it back in on the next batch: about 10% of the SQLite writer's time.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(name = "sanhu", version, about = "Customers, members and accounts, on a batched double-entry ledger")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Runs the HTTP API (migrating the database first).
    Serve(config::ConfigArgs),
    /// Creates or upgrades the database schema.
    Migrate(config::ConfigArgs),
    /// Manages API clients and their keys.
    Client {
        #[command(flatten)]
        config: config::ConfigArgs,
        #[command(subcommand)]
        command: client::ClientCommand,
    },
    /// Manages staff accounts (the admin console's users), their roles and passwords.
    Staff {
        #[command(flatten)]
        config: config::ConfigArgs,
        #[command(subcommand)]
        command: staff::StaffCommand,
    },
    /// Sends a signed request with a saved credential and prints the response.
    Call(call::CallArgs),
    /// Recomputes every account from its entries and checks that each currency balances.
    Verify(config::ConfigArgs),
    /// Drives the ledger writer in-process and reports its throughput; `sanhu bench http` drives a
    /// running server over signed HTTP.
    Bench(bench::BenchArgs),
}

impl Command {
    /// The configuration a command reads, if it reads one (its `[log]` is read before logging starts).
    fn config_args(&self) -> Option<&config::ConfigArgs> {
        match self {
            Command::Serve(args) | Command::Migrate(args) | Command::Verify(args) => Some(args),
            Command::Client { config, .. } | Command::Staff { config, .. } => Some(config),
            Command::Call(_) | Command::Bench(_) => None,
        }
    }
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    // A log setting that is not understood stops the start: logs quietly not as asked are worse.
    let log_file = match cli.command.config_args().map(config::log_settings).transpose() {
        Ok(file) => file.flatten(),
        Err(error) => {
            eprintln!("error: {error:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    if let Err(error) = sanhu::logging::init(log_file.as_ref()) {
        eprintln!("error: {error:#}");
        return std::process::ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(error) => {
            eprintln!("error: failed to start the async runtime: {error}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve(args) => serve::run(&config::Config::load(&args)?).await,
            Command::Migrate(args) => serve::migrate(&config::Config::load(&args)?).await,
            Command::Client { config, command } => client::run(&config::Config::load(&config)?, command).await,
            Command::Staff { config, command } => staff::run(&config::Config::load(&config)?, command).await,
            Command::Call(args) => call::run(args).await,
            Command::Verify(args) => verify::run(&config::Config::load(&args)?).await,
            Command::Bench(args) => bench::run(args).await,
        }
    });
    match result {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
