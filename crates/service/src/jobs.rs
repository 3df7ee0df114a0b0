//! Background jobs: hold expiry, member dormancy, recharge order expiry, recharge compensation, the
//! repair of cards' ledger blocks a crash left pending, the monthly bills, and the pruning of
//! delivered webhook events.
//! Each runs until its task is dropped and survives store errors by logging them and trying again on
//! the next tick.

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
        let started = std::time::Instant::now();
        let pass = expire_due_holds(&ledger).await;
        crate::metrics::job_ran("expire_holds", pass.is_ok(), started.elapsed());
        if let Err(error) = pass {
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

/// Longest the compensation job waits for one channel's answer, whatever the channel adapter's own
/// timeouts: a channel that hangs costs one order's question, never the pass.
pub const CHANNEL_QUERY_TIMEOUT_MS: u64 = 15_000;

/// Most questions to channels one compensation pass has open at once.
pub const CHANNEL_QUERIES_IN_FLIGHT_MAX: usize = 8;

/// What one compensation pass did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CompensationPass {
    /// The channel said paid, for the order's amount: credited (once, however many confirmations raced).
    pub confirmed: usize,
    /// The channel said not paid: the order failed.
    pub failed: usize,
    /// A credit decided before a crash, submitted again.
    pub resumed: usize,
    /// No usable answer (unknown, timed out, an error, an amount that differs): asked again next pass.
    pub unanswered: usize,
    /// The answer could not be applied (the order ended meanwhile, the ledger refused the credit).
    pub refused: usize,
}

enum Compensated {
    Confirmed,
    Failed,
    Resumed,
    Unanswered,
    Refused,
}

/// Asks channels about recharge orders pending too long and completes them, every `interval`
/// (`wallet/compensation.rs` says how).
pub async fn compensate_recharges<Q: crate::wallet::ChannelQuery>(
    wallets: crate::wallet::Wallets,
    channels: std::sync::Arc<Q>,
    interval: Duration,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let started = std::time::Instant::now();
        let pass = compensate_recharge_orders(&wallets, &channels, clock::now()).await;
        crate::metrics::job_ran("compensate_recharges", pass.is_ok(), started.elapsed());
        match pass {
            Ok(pass) if pass == CompensationPass::default() => {}
            Ok(pass) => tracing::info!(
                orders.confirmed = pass.confirmed,
                orders.failed = pass.failed,
                orders.resumed = pass.resumed,
                orders.unanswered = pass.unanswered,
                orders.refused = pass.refused,
                "recharge compensation pass"
            ),
            Err(error) => tracing::warn!(error = %error, "recharge compensation pass failed; retrying next tick"),
        }
    }
}

/// One compensation pass at `now`: every open recharge order the wallet says needs it
/// ([`crate::wallet::Wallets::recharges_to_compensate`]) is asked about or resumed, up to
/// [`CHANNEL_QUERIES_IN_FLIGHT_MAX`] at a time.
pub async fn compensate_recharge_orders<Q: crate::wallet::ChannelQuery>(
    wallets: &crate::wallet::Wallets,
    channels: &std::sync::Arc<Q>,
    now: sanhu_core::Timestamp,
) -> Result<CompensationPass, crate::wallet::WalletFailure> {
    let work = wallets.recharges_to_compensate(now, crate::wallet::COMPENSATION_PASS_ORDERS_MAX).await?;
    let mut pass = CompensationPass::default();
    let mut tasks = tokio::task::JoinSet::new();
    let count = |pass: &mut CompensationPass, done: Result<Compensated, tokio::task::JoinError>| match done {
        Ok(Compensated::Confirmed) => pass.confirmed += 1,
        Ok(Compensated::Failed) => pass.failed += 1,
        Ok(Compensated::Resumed) => pass.resumed += 1,
        Ok(Compensated::Unanswered) => pass.unanswered += 1,
        Ok(Compensated::Refused) => pass.refused += 1,
        Err(error) => {
            tracing::error!(error = %error, "a recharge compensation task ended abnormally");
            pass.refused += 1;
        }
    };
    for (order, step) in work {
        while tasks.len() >= CHANNEL_QUERIES_IN_FLIGHT_MAX {
            if let Some(done) = tasks.join_next().await {
                count(&mut pass, done);
            }
        }
        let (wallets, channels) = (wallets.clone(), channels.clone());
        tasks.spawn(async move { compensate_recharge(&wallets, &*channels, order, step).await });
    }
    while let Some(done) = tasks.join_next().await {
        count(&mut pass, done);
    }
    Ok(pass)
}

/// Asks about (or resumes) one order and applies the answer through the recharge use cases.
async fn compensate_recharge<Q: crate::wallet::ChannelQuery>(
    wallets: &crate::wallet::Wallets,
    channels: &Q,
    order: crate::wallet::RechargeOrder,
    step: crate::wallet::Compensation,
) -> Compensated {
    use crate::wallet::{ChannelAnswer, Compensation, OrderNumber};
    let actor = sanhu_core::party::Actor::System;
    let Ok(number) = OrderNumber::parse(&order.order_number) else {
        tracing::error!(order.id = %order.id, "a stored recharge order has an invalid order number");
        return Compensated::Refused;
    };
    let query = match step {
        Compensation::Resume => {
            return match wallets.confirm_recharge(order.client, &number, &actor).await {
                Ok(_) => Compensated::Resumed,
                Err(error) => {
                    tracing::warn!(order.id = %order.id, error = %error, "resuming a recharge credit failed");
                    Compensated::Refused
                }
            };
        }
        Compensation::Ask(query) => query,
    };
    let timeout = Duration::from_millis(CHANNEL_QUERY_TIMEOUT_MS);
    let answer = match tokio::time::timeout(timeout, channels.order_status(&query)).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(error)) => {
            let error = format!("{error:#}");
            tracing::warn!(order.id = %order.id, channel = %query.channel, error, "the channel gave no answer");
            return Compensated::Unanswered;
        }
        Err(_) => {
            let timeout_ms = CHANNEL_QUERY_TIMEOUT_MS;
            tracing::warn!(order.id = %order.id, channel = %query.channel, timeout_ms, "the channel answered too late");
            return Compensated::Unanswered;
        }
    };
    match answer {
        ChannelAnswer::Unknown => Compensated::Unanswered,
        ChannelAnswer::Paid { amount } if amount != order.amount => {
            // Money is never credited on a doubt: the order stays pending, and expires, for a person to
            // settle with the channel.
            tracing::warn!(
                order.id = %order.id,
                channel = %query.channel,
                order.amount = order.amount,
                paid.amount = amount,
                "the channel reports another amount paid than the order's; not credited"
            );
            Compensated::Unanswered
        }
        ChannelAnswer::Paid { .. } => match wallets.confirm_recharge(order.client, &number, &actor).await {
            Ok(_) => Compensated::Confirmed,
            Err(error) => {
                // Paid at the channel but not creditable here (closed meanwhile): a person refunds it there.
                tracing::warn!(order.id = %order.id, error = %error, "a recharge paid at the channel was not credited");
                Compensated::Refused
            }
        },
        ChannelAnswer::NotPaid => {
            let reason = "the channel reports the order not paid";
            match wallets.fail_recharge(order.client, &number, reason, &actor).await {
                Ok(_) => Compensated::Failed,
                Err(error) => {
                    tracing::warn!(order.id = %order.id, error = %error, "an unpaid recharge could not be failed");
                    Compensated::Refused
                }
            }
        }
    }
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
        let started = std::time::Instant::now();
        let pass = parties.mark_dormant_members(clock::now(), DORMANCY_PAGE_MEMBERS).await;
        crate::metrics::job_ran("mark_dormant_members", pass.is_ok(), started.elapsed());
        match pass {
            Ok(0) => {}
            Ok(marked) => tracing::info!(members.marked = marked, "marked members dormant"),
            Err(error) => tracing::warn!(error = %error, "dormancy pass failed; retrying next tick"),
        }
    }
}

/// How often delivered webhook events past their retention are pruned: the retention is days.
pub const WEBHOOK_PRUNE_INTERVAL: Duration = Duration::from_secs(3_600);

/// Prunes delivered webhook events older than the retention (`[webhooks] retention_days`) with
/// their deliveries and attempts, in batches, every `interval`; never an undelivered one.
pub async fn prune_webhook_events(webhooks: crate::webhook::Webhooks, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let started = std::time::Instant::now();
        let pass = webhooks.prune_once().await;
        crate::metrics::job_ran("prune_webhook_events", pass.is_ok(), started.elapsed());
        match pass {
            Ok(0) => {}
            Ok(pruned) => {
                tracing::info!(events.pruned = pruned, "pruned delivered webhook events past their retention")
            }
            Err(error) => tracing::warn!(error = format!("{error:#}"), "webhook pruning failed; retrying next tick"),
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
        let started = std::time::Instant::now();
        let pass = wallets.expire_recharge_orders(clock::now(), RECHARGE_EXPIRY_PAGE_ORDERS).await;
        crate::metrics::job_ran("expire_recharge_orders", pass.is_ok(), started.elapsed());
        match pass {
            Ok(0) => {}
            Ok(expired) => tracing::info!(orders.expired = expired, "expired recharge orders"),
            Err(error) => tracing::warn!(error = %error, "recharge expiry pass failed; retrying next tick"),
        }
    }
}

/// How long a card's ledger blocks may be pending (a freeze or an unfreeze between its writes)
/// before the repair takes it for one a crash left: far longer than a freeze takes, so another
/// instance's in progress is left to finish.
pub const CARD_BLOCKS_PENDING_REPAIRED_AFTER: Duration = Duration::from_secs(60);

/// Cards one repair pass finishes at a time.
pub const CARD_BLOCKS_REPAIR_PAGE: u32 = 500;

/// Finishes the cards whose ledger blocks a crash left pending ([`crate::card::Cards::repair_card_blocks`]),
/// at startup (the first tick is at once) and every `interval`.
pub async fn repair_card_blocks(cards: crate::card::Cards, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let started = std::time::Instant::now();
        let pass = repair_card_blocks_pass(&cards, clock::now()).await;
        crate::metrics::job_ran("repair_card_blocks", pass.is_ok(), started.elapsed());
        match pass {
            Ok(0) => {}
            Ok(repaired) => tracing::info!(cards.repaired = repaired, "repaired cards' ledger blocks"),
            Err(error) => tracing::warn!(error = %error, "card blocks repair pass failed; retrying next tick"),
        }
    }
}

/// One repair pass at `now`: the cards pending since before `now` less
/// [`CARD_BLOCKS_PENDING_REPAIRED_AFTER`]; returns how many it finished.
pub async fn repair_card_blocks_pass(
    cards: &crate::card::Cards,
    now: sanhu_core::Timestamp,
) -> Result<usize, crate::card::CardFailure> {
    let grace = CARD_BLOCKS_PENDING_REPAIRED_AFTER.as_nanos() as i64;
    let before = sanhu_core::Timestamp::from_nanos(now.nanos().saturating_sub(grace));
    cards.repair_card_blocks(before, CARD_BLOCKS_REPAIR_PAGE).await
}

/// How often the card expiry job looks for cards whose validity ended.
pub const CARD_EXPIRY_INTERVAL: Duration = Duration::from_secs(60);

/// Expires the active cards whose validity ended ([`crate::card::Cards::expire_due_cards`]: each
/// `expired`, a stored-value card whose type forfeits its balance with it moved to the platform's
/// card-forfeit income), at startup and every `interval`. An extended card's validity ends when the
/// platform day after its date starts (in the platform's time zone), so the pass after midnight
/// there expires it.
pub async fn expire_cards(cards: crate::card::Cards, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let started = std::time::Instant::now();
        let pass = cards.expire_due_cards(clock::now(), crate::card::EXPIRY_PAGE_CARDS).await;
        crate::metrics::job_ran("expire_cards", pass.is_ok(), started.elapsed());
        match pass {
            Ok(0) => {}
            Ok(expired) => tracing::info!(cards.expired = expired, "expired cards whose validity ended"),
            Err(error) => tracing::warn!(error = %error, "card expiry pass failed; retrying next tick"),
        }
    }
}

/// Issues last month's bills after each month closes ([`crate::bill::Bills::issue_last_month`]),
/// checking every `interval` (hourly is plenty: a pass does nothing until the month has closed, and
/// nothing once its run is done). An interrupted run goes on where it stopped.
pub async fn issue_monthly_bills(bills: crate::bill::Bills, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let started = std::time::Instant::now();
        let pass = bills.issue_last_month(clock::now(), crate::bill::BILL_RUN_PAGE_MEMBERS).await;
        crate::metrics::job_ran("issue_monthly_bills", pass.is_ok(), started.elapsed());
        match pass {
            Ok(pass) if pass == crate::bill::BillRunPass::default() => {}
            Ok(pass) => {
                tracing::info!(
                    bills.issued = pass.issued,
                    members.skipped = pass.skipped,
                    bills.refused = pass.refused,
                    "issued monthly bills"
                )
            }
            Err(error) => tracing::warn!(error = %error, "monthly bill run failed; retrying next tick"),
        }
    }
}

/// How often the settlement run looks for merchants' closed periods.
pub const SETTLEMENT_RUN_INTERVAL_S: u64 = 600;

/// Issues every active merchant's settlement statements of the periods closed since its last
/// ([`crate::wallet::Wallets::settle_merchants`]), every `interval`. One merchant's refusal is logged
/// and the run goes on with the next.
pub async fn settle_merchants(wallets: crate::wallet::Wallets, interval: Duration) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let started = std::time::Instant::now();
        let pass = wallets.settle_merchants(wallets.clock().now()).await;
        crate::metrics::job_ran("settle_merchants", pass.is_ok(), started.elapsed());
        match pass {
            Ok(pass) if pass.issued == 0 && pass.failed == 0 => {}
            Ok(pass) => tracing::info!(
                merchants = pass.merchants,
                statements.issued = pass.issued,
                statements.short = pass.short,
                merchants.failed = pass.failed,
                "issued settlement statements"
            ),
            Err(error) => tracing::warn!(error = %error, "settlement run failed; retrying next tick"),
        }
    }
}
