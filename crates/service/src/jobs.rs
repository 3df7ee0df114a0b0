//! Background jobs: hold expiry, member dormancy and recharge order expiry. Each runs until its task is dropped and survives
//! store errors by logging them and trying again on the next tick.

use std::time::Duration;

use sanhu_core::ledger::{TransferAction, TransferRequest};
use sanhu_store::LedgerStore;

use crate::clock;
use crate::ledger::Ledger;

/// Most holds one expiry pass releases.
pub const EXPIRY_PASS_HOLDS_MAX: u32 = 4096;

/// Expires holds whose timeout has passed, every `interval`. An expiry is recorded like a void, with
/// the business code `expire`.
pub async fn expire_holds(ledger: Ledger, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(error) = expire_due_holds(&ledger).await {
            tracing::warn!(error = format!("{error:#}"), "hold expiry pass failed; retrying next tick");
        }
    }
}

/// One expiry pass; returns how many holds it expired.
pub async fn expire_due_holds(ledger: &Ledger) -> anyhow::Result<usize> {
    let due = ledger.store().due_pendings(clock::now(), EXPIRY_PASS_HOLDS_MAX).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let requests: Vec<TransferRequest> = due
        .into_iter()
        .map(|pending_id| TransferRequest {
            id: clock::new_id(),
            action: TransferAction::ExpirePending { pending_id },
            linked: false,
            code: "expire".to_owned(),
            reference: None,
            metadata: "{}".to_owned(),
        })
        .collect();
    let mut expired = 0;
    for chunk in requests.chunks(sanhu_core::ledger::BATCH_TRANSFERS_MAX) {
        let results = ledger.submit(chunk.to_vec()).await?;
        expired += results.iter().filter(|r| r.is_ok()).count();
    }
    tracing::info!(holds.expired = expired, "expired holds");
    Ok(expired)
}

/// Members the dormancy pass reads at a time.
pub const DORMANCY_PAGE_MEMBERS: u32 = 500;

/// Marks members dormant after the configured days without activity, every `interval` (the period
/// is days, so an hourly pass is plenty). A member that acts meanwhile is not marked.
pub async fn mark_dormant_members(parties: crate::party::Parties, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match parties.mark_dormant_members(clock::now(), DORMANCY_PAGE_MEMBERS).await {
            Ok(0) => {}
            Ok(marked) => tracing::info!(members.marked = marked, "marked members dormant"),
            Err(error) => tracing::warn!(error = %error, "dormancy pass failed; retrying next tick"),
        }
    }
}

/// Recharge orders one expiry pass closes at a time.
pub const RECHARGE_EXPIRY_PAGE_ORDERS: u32 = 500;

/// Closes recharge orders left unpaid past their expiry as `expired`, every `interval`.
pub async fn expire_recharge_orders(wallets: crate::wallet::Wallets, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        match wallets.expire_recharge_orders(clock::now(), RECHARGE_EXPIRY_PAGE_ORDERS).await {
            Ok(0) => {}
            Ok(expired) => tracing::info!(orders.expired = expired, "expired recharge orders"),
            Err(error) => tracing::warn!(error = %error, "recharge expiry pass failed; retrying next tick"),
        }
    }
}
