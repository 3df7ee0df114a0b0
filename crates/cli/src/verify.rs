//! `sanhu verify`: recomputes every account's counters from its entries, checks every entry's recorded
//! balance, and checks that each currency sums to zero; then walks the audit log's hash chain from its
//! first event to its head and names the first broken link (an event edited, deleted or moved). Exits
//! non-zero if anything is off.
//!
//! The result is recorded in the database (`sanhu_store::audit::VerificationRecord`: when, what was
//! checked, how many findings and the first in words), and the console's audit page and
//! `GET /v1/verifications/latest` show the last one. `sanhu serve` does not run it on a schedule: the
//! recount reads every account and every transfer of the ledger (minutes on a large one, on the
//! primary), so it is run where and when the operator decides, from cron or a timer (docs/OPERATIONS.md).
//! A result that cannot be recorded (a database not yet migrated to it) is said on stderr; the exit
//! code stays the verification's.

use std::process::ExitCode;

use sanhu_store::audit::{verify_chain, AuditChainReport, AuditStore, VerificationRecord};
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
    let started_at = sanhu_service::clock::now();
    let ledger = store.verify().await?;
    let ledger_holds = ledger.problems.is_empty();
    print(&ledger);
    let chain = verify_chain(&store).await?;
    let chain_holds = print_audit_chain(&chain);
    let record = record_of(started_at, sanhu_service::clock::now(), &ledger, &chain);
    match store.record_verification(record).await {
        Ok(id) => println!("verify: recorded as verification {id}"),
        Err(error) => eprintln!("verify: the result could not be recorded (is the schema migrated?): {error:#}"),
    }
    Ok(if ledger_holds && chain_holds { ExitCode::SUCCESS } else { ExitCode::FAILURE })
}

/// What a run found, as it is recorded: the ledger's problems and the chain's broken link are its
/// findings.
pub fn record_of(
    started_at: sanhu_core::Timestamp,
    finished_at: sanhu_core::Timestamp,
    ledger: &VerifyReport,
    chain: &AuditChainReport,
) -> VerificationRecord {
    // Every finding is counted; the first few are kept in words (the store bounds them too).
    let findings = ledger.problems.len() + usize::from(chain.broken.is_some());
    let mut details: Vec<String> =
        ledger.problems.iter().take(sanhu_store::audit::VERIFICATION_DETAILS_MAX).cloned().collect();
    if let Some(broken) = &chain.broken {
        details.push(format!("the audit chain is broken at event {}: {broken}", broken.seq()));
    }
    let host = std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty());
    VerificationRecord {
        id: 0,
        started_at,
        finished_at,
        accounts_checked: i64::try_from(ledger.accounts_checked).unwrap_or(i64::MAX),
        transfers_checked: i64::try_from(ledger.transfers_checked).unwrap_or(i64::MAX),
        audit_events_checked: chain.events_checked,
        findings: i64::try_from(findings).unwrap_or(i64::MAX),
        details,
        ran_by: match host {
            Some(host) => format!("sanhu verify ({host})"),
            None => "sanhu verify".to_owned(),
        },
    }
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
