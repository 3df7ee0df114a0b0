//! `sanhu verify`: recomputes every account's counters from its entries, checks every entry's recorded
//! balance, and checks that each currency sums to zero. Exits non-zero if anything is off.

use std::process::ExitCode;

use sanhu_store::{LedgerStore, VerifyReport};

use crate::config::Config;

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    // Opening a SQLite path creates the file: a check must not leave an empty database behind.
    if let Some(path) = config.sqlite_path() {
        anyhow::ensure!(
            path.exists(),
            "there is no database at {} (`sanhu serve` or `sanhu migrate` creates it)",
            path.display()
        );
    }
    let store = config.open_store().await?;
    let report = store.verify().await?;
    Ok(print(&report))
}

/// Prints the report; the exit code says whether the ledger is consistent.
pub fn print(report: &VerifyReport) -> ExitCode {
    println!("verify: {} accounts, {} transfers checked", report.accounts_checked, report.transfers_checked);
    if report.problems.is_empty() {
        println!("verify: ok: every account equals its entries and every currency balances");
        ExitCode::SUCCESS
    } else {
        for problem in &report.problems {
            println!("verify: problem: {problem}");
        }
        println!("verify: {} problem(s) found", report.problems.len());
        ExitCode::FAILURE
    }
}
