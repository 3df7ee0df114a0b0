//! `sanhu verify`: recomputes every account's counters from its entries, checks every entry's recorded
//! balance, and checks that each currency sums to zero; then walks the audit log's hash chain from its
//! first event to its head and names the first broken link (an event edited, deleted or moved). Exits
//! non-zero if anything is off.

use std::process::ExitCode;

use sanhu_store::audit::{verify_chain, AuditChainReport};
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
    let ledger = store.verify().await?;
    let ledger_holds = ledger.problems.is_empty();
    print(&ledger);
    let chain = verify_chain(&store).await?;
    let chain_holds = print_audit_chain(&chain);
    Ok(if ledger_holds && chain_holds { ExitCode::SUCCESS } else { ExitCode::FAILURE })
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

/// Prints what the walk of the audit chain found, with the head, which an operator may keep elsewhere
/// to compare later (a chain rewritten from some event on, with every hash recomputed, holds; only a
/// head kept outside the database shows it). Returns whether the chain holds.
fn print_audit_chain(report: &AuditChainReport) -> bool {
    println!(
        "verify: audit chain: {} events checked; head: event {} hash {}",
        report.events_checked, report.head.seq, report.head.hash
    );
    match &report.broken {
        None => {
            println!("verify: ok: every audit event matches its hash and follows the one before");
            true
        }
        Some(broken) => {
            println!("verify: problem: the audit chain is broken at event {}: {broken}", broken.seq());
            false
        }
    }
}
