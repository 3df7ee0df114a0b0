//! `sanhu serve` and `sanhu migrate`.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;

use sanhu_core::scope::Scopes;
use sanhu_http::channel_status::HttpChannelQuery;
use sanhu_service::party::Parties;
use sanhu_service::{jobs, Ledger, LedgerConfig};
use sanhu_store::{AccessStore, DatabaseStore, Store};

use crate::config::Config;
use sanhu_store::redact_url;

/// How often unpaid recharge orders past their expiry are closed.
const RECHARGE_EXPIRY_INTERVAL_S: u64 = 30;
/// How often the monthly bill run looks whether last month's bills are to be issued: a pass does
/// nothing until the month has closed, and nothing once its run is done.
const MONTHLY_BILLS_INTERVAL_S: u64 = 600;

pub async fn migrate(config: &Config) -> anyhow::Result<ExitCode> {
    let store = config.open_store().await?;
    store.migrate().await?;
    println!("migrated {} ({})", redact_url(&config.database_url), store.backend());
    Ok(ExitCode::SUCCESS)
}

pub async fn run(config: &Config) -> anyhow::Result<ExitCode> {
    let store = config.open_store().await?;
    store.migrate().await?;
    check_durability(&store).await?;
    first_start_client(config, &store).await?;

    let ledger = Ledger::start(store.clone(), LedgerConfig { writer: config.writer() });
    tokio::spawn(jobs::expire_holds(ledger.clone(), Duration::from_millis(config.hold_expiry_interval_ms)));
    let parties = Parties::new(store.clone(), config.parties.clone());
    seal_certificates(&parties).await?;
    tokio::spawn(jobs::mark_dormant_members(parties.clone(), Duration::from_secs(config.dormancy_interval_s.max(1))));
    let http = sanhu_http::HttpConfig {
        trusted_proxy_header: config.trusted_proxy_header.clone(),
        rate_limit_per_s: config.rate_limit_per_s,
        rate_limit_burst: config.rate_limit_burst,
        staff_cookie_secure: config.staff_cookie_secure,
        sign_ins_per_address_per_min: config.sign_in_limits.per_address_per_min,
        sign_ins_per_address_burst: config.sign_in_limits.per_address_burst,
        ..sanhu_http::HttpConfig::default()
    };
    let hashing = sanhu_service::hashing::HashingPermits::new(config.sign_in_limits.hashes_at_once);
    let replicas = config.open_replicas()?;
    if !replicas.is_empty() {
        tracing::info!(
            replicas = %config.read_replica_urls.iter().map(|url| redact_url(url)).collect::<Vec<_>>().join(", "),
            max_staleness_ms = config.read_replicas.max_staleness.as_millis() as u64,
            "statements, flows, bills and reports may read the read replicas within the staleness bound"
        );
        tokio::spawn(replicas.clone().run(store.clone()));
    }
    let state = sanhu_http::AppState::new(ledger, parties, http)
        .with_wallet(config.wallet.clone())
        .with_staff_hashing(config.staff, hashing)
        .with_webhooks(config.webhooks.clone())
        .with_replicas(replicas)
        .with_settings(&[
            ("server", "database_url", redact_url(&config.database_url), false),
            ("server", "listen", config.listen.clone(), false),
            ("server", "metrics_listen", config.metrics_listen.clone().unwrap_or_default(), false),
            ("server", "batch_transfers_max", config.batch_transfers_max.to_string(), false),
            ("server", "batch_wait_us", config.batch_wait_us.to_string(), false),
            ("server", "hold_expiry_interval_ms", config.hold_expiry_interval_ms.to_string(), false),
            ("server", "dormancy_interval_s", config.dormancy_interval_s.to_string(), false),
            ("server", "recharge_compensation_interval_s", config.recharge_compensation_interval_s.to_string(), false),
            (
                "wallet",
                "channel_status_allow_private_targets",
                config.channel_status.allow_private_targets.to_string(),
                false,
            ),
            ("wallet", "channel_status_allow_plain_http", config.channel_status.allow_plain_http.to_string(), false),
        ]);
    state.wallets().ensure_platform_accounts().await?;
    // Made, or sealed under the current data key when an older version kept it in the clear, before
    // anything is answered (docs/WEBHOOKS.md).
    state.webhooks().signing_key().await.context("failed to read the webhook signing key")?;
    tokio::spawn(jobs::expire_recharge_orders(
        state.wallets().clone(),
        Duration::from_secs(RECHARGE_EXPIRY_INTERVAL_S),
    ));
    // Cards whose ledger blocks a crash left pending are finished at startup, then every minute.
    tokio::spawn(jobs::repair_card_blocks(state.cards(), jobs::CARD_BLOCKS_PENDING_REPAIRED_AFTER));
    // Cards whose validity ended are expired (their balances kept or forfeited as their types say).
    tokio::spawn(jobs::expire_cards(state.cards(), jobs::CARD_EXPIRY_INTERVAL));
    // Webhook events are derived from the journal and delivered in the background.
    state.start_webhooks();
    tokio::spawn(jobs::prune_webhook_events(state.webhooks().clone(), jobs::WEBHOOK_PRUNE_INTERVAL));
    tokio::spawn(jobs::issue_monthly_bills(state.bills(), Duration::from_secs(MONTHLY_BILLS_INTERVAL_S)));
    let channels = Arc::new(HttpChannelQuery::new(config.channel_status));
    // Merchants' settlement statements of the periods that have closed, every 600 s.
    tokio::spawn(jobs::settle_merchants(state.wallets().clone(), Duration::from_secs(jobs::SETTLEMENT_RUN_INTERVAL_S)));
    tokio::spawn(jobs::compensate_recharges(
        state.wallets().clone(),
        channels,
        Duration::from_secs(config.recharge_compensation_interval_s.max(1)),
    ));
    if let Some(address) = &config.metrics_listen {
        let metrics = tokio::net::TcpListener::bind(address)
            .await
            .map_err(|e| anyhow::anyhow!("failed to listen for /metrics on {address}: {e}"))?;
        tracing::info!(metrics_listen = %address, "metrics are served at /metrics");
        let router = sanhu_http::metrics::router(state.clone());
        tokio::spawn(async move {
            if let Err(error) = axum::serve(metrics, router).await {
                tracing::error!(error = %error, "the metrics listener stopped");
            }
        });
    }
    let app = sanhu_http::router(state.clone());
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .map_err(|e| anyhow::anyhow!("failed to listen on {}: {e}", config.listen))?;
    tracing::info!(
        listen = %config.listen,
        database = %redact_url(&config.database_url),
        backend = store.backend(),
        "sanhu is serving; the API is under /v1, its OpenAPI document at /openapi.json"
    );
    // With the peer's address, which the audit log records as each request's source.
    let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
    axum::serve(listener, app).with_graceful_shutdown(shutdown_signal()).await?;
    // Answers of idempotency keys still being kept in the background (their database failed them
    // at first): each holds its key, and once this process is gone the key's retry would run its
    // request again.
    state.keeps_settled(KEEPS_SETTLE_TIMEOUT).await;
    tracing::info!("sanhu stopped");
    Ok(ExitCode::SUCCESS)
}

/// Brings every stored certificate number to the form written now (sealed under the current data key,
/// looked up by its keyed hash) before anything is answered; refuses to serve under a server secret
/// other than the one the certificates were indexed with.
async fn seal_certificates(parties: &Parties) -> anyhow::Result<()> {
    let report = parties.seal_certificates().await.context("failed to seal the stored certificate numbers")?;
    if !report.up_to_date {
        tracing::info!(
            data_key = %parties.config().data_keys.current_id(),
            customers = report.customers_sealed,
            companies = report.companies_sealed,
            in_clear = report.records_in_clear,
            keys_replaced = report.keys_replaced,
            authentications_masked = report.authentications_masked,
            history_masked = report.history_masked,
            freed_space_erased = report.freed_space_erased,
            "certificate numbers sealed under the current data key"
        );
    }
    Ok(())
}

/// Warns when the database runs with weaker durability than sanhu sets: a success answer would then
/// not mean the data is on disk.
async fn check_durability(store: &Store) -> anyhow::Result<()> {
    let durability = store.durability().await?;
    if durability.durable {
        tracing::info!(setting = %durability.setting, "durable commits");
    } else {
        tracing::warn!(setting = %durability.setting, "the database runs with weaker durability than sanhu requires: acknowledged transfers may be lost on a crash");
    }
    Ok(())
}

/// On the very first start (no API client exists), creates one, prints its credential once and saves
/// it for `sanhu call`, so that a new user can call the API at once.
async fn first_start_client(config: &Config, store: &Store) -> anyhow::Result<()> {
    if !store.list_clients().await?.is_empty() {
        return Ok(());
    }
    let (client, seed) = crate::client::create(store, "first client", Scopes::all(), None).await?;
    let credential = crate::client::credential_for(config, &client.id, &seed);
    println!("First start: created API client {}", client.id);
    println!("  private key (shown once): {}", credential.private_key);
    match credential.save_new(&config.credentials_file) {
        Ok(()) => println!("  saved for `sanhu call` in {}", config.credentials_file.display()),
        Err(error) => println!("  not saved ({error:#}); keep the key above"),
    }
    println!("  try: sanhu call GET /v1/ledger/accounts");
    Ok(())
}

/// Longest a stopping server waits for the idempotent answers it is still keeping in the background.
const KEEPS_SETTLE_TIMEOUT: Duration = Duration::from_secs(30);

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => {
                let _ = interrupt.await;
                return;
            }
        };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
