//! Configuration: flags, then environment (`SANHU_*`), then the file (`sanhu.toml` or `--config`),
//! then defaults. Every value has a default, so `sanhu serve` with nothing set just works.

use std::path::PathBuf;

use anyhow::Context;
use sanhu_core::party::member::DormancyPolicy;
use sanhu_core::party::{AccountType, AccountTypes};
use sanhu_core::PlatformCalendar;
use sanhu_service::party::{DataKeys, PartyConfig, PartySecret};
use sanhu_service::wallet::WalletConfig;
use sanhu_store::redact_url;
use serde::Deserialize;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://sanhu.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_CONFIG_FILE: &str = "sanhu.toml";

#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    /// Configuration file (TOML). Default: sanhu.toml in the working directory, if present.
    #[arg(long, env = "SANHU_CONFIG")]
    pub config: Option<PathBuf>,
    /// sqlite://path or postgres://user@host/db (postgresql:// too); any other form is refused. A
    /// PostgreSQL primary and its standbys: postgres://user@h1:5432,h2:5432/db?target_session_attrs=read-write.
    #[arg(long, env = "SANHU_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address the HTTP API listens on.
    #[arg(long, env = "SANHU_LISTEN")]
    pub listen: Option<String>,
    /// Address `/metrics` (Prometheus) is served on, apart from the API. Default: not served.
    #[arg(long, env = "SANHU_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// The server secret (64 or more hex digits) behind one-time codes and card tokens. Every
    /// instance sharing a database needs the same one. Default: the file `secret_file` names.
    #[arg(long, env = "SANHU_SECRET", hide_env_values = true)]
    pub secret: Option<String>,
    /// The data key (64 hex digits) certificate numbers are sealed under, then any retired keys still
    /// to be read, separated by commas. Every instance sharing a database needs the same. Default:
    /// the file `data_key_file` names.
    #[arg(long, env = "SANHU_DATA_KEY", hide_env_values = true)]
    pub data_key: Option<String>,
    /// Most transfers one ledger transaction applies.
    #[arg(long, env = "SANHU_BATCH_TRANSFERS_MAX")]
    pub batch_transfers_max: Option<usize>,
    /// Longest the ledger writer waits to fill a batch, in microseconds.
    #[arg(long, env = "SANHU_BATCH_WAIT_US")]
    pub batch_wait_us: Option<u64>,
}

/// The file's shape; every field optional.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    database_url: Option<String>,
    listen: Option<String>,
    /// Where `/metrics` is served (docs/OPERATIONS.md); absent: nowhere.
    metrics_listen: Option<String>,
    batch_transfers_max: Option<usize>,
    batch_wait_us: Option<u64>,
    hold_expiry_interval_ms: Option<u64>,
    credentials_file: Option<PathBuf>,
    /// Where the server secret is kept when SANHU_SECRET is not set (created on first start).
    secret_file: Option<PathBuf>,
    /// Where the data keys are kept when SANHU_DATA_KEY is not set (created on first start): the
    /// current key on the first line, retired keys still to be read on the lines after it.
    data_key_file: Option<PathBuf>,
    /// Days without activity after which a member is marked dormant.
    dormancy_days: Option<u16>,
    /// How often the dormancy pass runs, in seconds.
    dormancy_interval_s: Option<u64>,
    /// The IANA time zone whose days and months are the platform's (daily limits, bills); absent:
    /// Asia/Shanghai.
    time_zone: Option<String>,
    /// The account types members may open; when given, they replace the default set entirely.
    account_types: Option<Vec<AccountTypeFile>>,
    /// The merchant types merchants are opened as; when given, they replace the default three.
    merchant_types: Option<Vec<MerchantTypeFile>>,
    /// How many merchants (not rejected or closed) one customer may have.
    merchants_per_customer_max: Option<u32>,
    /// How many stores one merchant may have, closed ones counted; absent: 200.
    stores_per_merchant_max: Option<u32>,
    /// How many terminals one store may have, disabled ones counted; absent: 50.
    terminals_per_store_max: Option<u32>,
    /// How long after a period ends its bills may be issued, in seconds (the margin for several
    /// instances' clocks); absent: 300.
    bill_period_closed_after_s: Option<u32>,
    /// The merchant hierarchy's levels; when given, they replace the default five.
    merchant_levels: Option<Vec<MerchantLevelFile>>,
    /// How many levels of merchants deep the hierarchy may be (5 unless given).
    merchant_depth_max: Option<usize>,
    /// The products merchants sign; when given, they replace the default seven.
    products: Option<Vec<ProductFile>>,
    /// The wallet (`[wallet]`, see `wallet_config.rs`); absent: the default wallet in CNY.
    wallet: Option<crate::wallet_config::WalletFile>,
    /// Channels' statement layouts (`[[reconciliation.channels]]`, see `reconciliation_config.rs`).
    reconciliation: Option<crate::reconciliation_config::ReconciliationFile>,
    /// The header in which a trusted reverse proxy in front of sanhu passes the caller's address
    /// (`x-forwarded-for`): its last entry is what the audit log records as a request's source.
    /// Absent: the connection's peer address is recorded. Set it only behind such a proxy, or callers
    /// could name any address they like.
    trusted_proxy_header: Option<String>,
    /// Staff passwords, lockout and sessions (`[staff]`, see `staff.rs`).
    staff: Option<crate::staff::StaffFile>,
    /// Requests per second each API client may send to this instance, on average.
    rate_limit_per_s: Option<u32>,
    /// Requests a client may send at once after being idle.
    rate_limit_burst: Option<u32>,
    /// The bound on SQLite's write-ahead log file, in MiB.
    sqlite_wal_max_mib: Option<u64>,
    /// SQLite's page cache of the writer connection, in MiB.
    sqlite_cache_mib: Option<u32>,
    /// SQLite's page cache of each reader connection, in MiB.
    sqlite_read_cache_mib: Option<u32>,
    /// Connections for reads: SQLite readers kept open (each with its page cache), PostgreSQL's pool.
    read_connections: Option<u32>,
    /// Ledger accounts the SQLite writer keeps in memory.
    sqlite_account_cache_entries: Option<usize>,
    /// `[log]`: the log's format and filter (`crate::logging`), read before the rest of the file so
    /// that what loading the configuration logs is logged as asked.
    #[allow(dead_code)]
    log: Option<crate::logging::LogFile>,
    /// Webhook deliveries (`[webhooks]`, docs/WEBHOOKS.md).
    webhooks: Option<WebhooksFile>,
    /// `[database]`: read replicas (docs/OPERATIONS.md, "Read replicas").
    database: Option<DatabaseFile>,
}

/// `[database]` in the file: the standbys that statements, flows, bills and reports may read.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct DatabaseFile {
    /// PostgreSQL standbys of the primary (`postgres://…`); none: every read goes to the primary.
    read_replica_urls: Option<Vec<String>>,
    /// How old a standby's data may be for a read to go to it, in milliseconds; 1000 unless given.
    read_max_staleness_ms: Option<u64>,
    /// How often the primary's and the standbys' log positions are asked, in milliseconds; 100
    /// unless given; less than `read_max_staleness_ms`.
    read_replica_sample_ms: Option<u64>,
}

/// The largest staleness bound accepted: an hour.
const READ_MAX_STALENESS_MS_MAX: u64 = 3_600_000;
/// The sampling interval's bounds.
const READ_REPLICA_SAMPLE_MS_MIN: u64 = 10;
const READ_REPLICA_SAMPLE_MS_MAX: u64 = 60_000;

/// The read replicas of `[database]` for a primary at `primary_url`, each refused naming its key:
/// a URL that is not PostgreSQL's, any replica under a SQLite primary (SQLite has no standbys), a
/// bound or an interval out of range.
fn read_replicas(
    file: Option<DatabaseFile>,
    primary_url: &str,
) -> anyhow::Result<(Vec<String>, sanhu_service::reads::ReplicaConfig)> {
    let file = file.unwrap_or_default();
    let defaults = sanhu_service::reads::ReplicaConfig::default();
    let urls = file.read_replica_urls.unwrap_or_default();
    for (index, url) in urls.iter().enumerate() {
        match sanhu_store::DatabaseUrl::parse(url) {
            Ok(sanhu_store::DatabaseUrl::Postgres(_)) => {}
            Ok(sanhu_store::DatabaseUrl::Sqlite(_)) => anyhow::bail!(
                "database.read_replica_urls[{index}]: a read replica is a PostgreSQL standby (postgres://…), not a SQLite file"
            ),
            Err(error) => anyhow::bail!("database.read_replica_urls[{index}]: {error:#}"),
        }
    }
    if !urls.is_empty()
        && matches!(sanhu_store::DatabaseUrl::parse(primary_url), Ok(sanhu_store::DatabaseUrl::Sqlite(_)))
    {
        anyhow::bail!(
            "database.read_replica_urls: SQLite has no read replicas (it is one file on one machine); remove them, or \
             serve from PostgreSQL"
        );
    }
    let sample_ms = file.read_replica_sample_ms.unwrap_or(defaults.sample_every.as_millis() as u64);
    anyhow::ensure!(
        (READ_REPLICA_SAMPLE_MS_MIN..=READ_REPLICA_SAMPLE_MS_MAX).contains(&sample_ms),
        "database.read_replica_sample_ms must be from {READ_REPLICA_SAMPLE_MS_MIN} to {READ_REPLICA_SAMPLE_MS_MAX}"
    );
    let staleness_ms = file.read_max_staleness_ms.unwrap_or(defaults.max_staleness.as_millis() as u64);
    anyhow::ensure!(
        (1..=READ_MAX_STALENESS_MS_MAX).contains(&staleness_ms),
        "database.read_max_staleness_ms must be from 1 to {READ_MAX_STALENESS_MS_MAX}"
    );
    anyhow::ensure!(
        staleness_ms > sample_ms,
        "database.read_max_staleness_ms ({staleness_ms}) must be more than database.read_replica_sample_ms \
         ({sample_ms}): a standby is known fresh only as of its last sample"
    );
    Ok((
        urls,
        sanhu_service::reads::ReplicaConfig {
            max_staleness: std::time::Duration::from_millis(staleness_ms),
            sample_every: std::time::Duration::from_millis(sample_ms),
        },
    ))
}

/// The `[log]` table of the configuration file `args` name (or `sanhu.toml` in the working directory),
/// if there is a file and it has one. Read on its own, before logging starts and the rest of the file
/// is read: a file this cannot read is left for [`Config::load`] to report.
pub fn log_settings(args: &ConfigArgs) -> anyhow::Result<Option<crate::logging::LogFile>> {
    #[derive(Deserialize)]
    struct OnlyLog {
        log: Option<crate::logging::LogFile>,
    }
    let path = match &args.config {
        Some(path) => path.clone(),
        None => PathBuf::from(DEFAULT_CONFIG_FILE),
    };
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(None);
    };
    // A file that is not TOML at all is Config::load's to report, with its own context.
    if toml::from_str::<toml::Table>(&text).is_err() {
        return Ok(None);
    }
    // Every other key is passed over here, so a fault found now is in `[log]`.
    let file: OnlyLog =
        toml::from_str(&text).with_context(|| format!("{} is not a valid sanhu configuration", path.display()))?;
    Ok(file.log)
}

/// `[webhooks]`: where deliveries may go and how they are retried.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct WebhooksFile {
    /// Deliver to loopback, private and link-local addresses too (development and tests only).
    allow_private_targets: Option<bool>,
    /// Accept `http://` URLs (development and tests only: deliveries are then unencrypted).
    allow_plain_http: Option<bool>,
    /// The waits before each retry, in seconds; absent: the schedule of docs/WEBHOOKS.md.
    retry_schedule_s: Option<Vec<u64>>,
    /// Deliveries sent at once.
    deliveries_at_once: Option<usize>,
    /// How long one attempt may take, in milliseconds.
    attempt_timeout_ms: Option<u64>,
    /// How long delivered events are kept, in days (then pruned with their deliveries and attempts).
    retention_days: Option<u32>,
}

fn webhook_config(file: Option<WebhooksFile>) -> anyhow::Result<sanhu_service::webhook::WebhookConfig> {
    let defaults = sanhu_service::webhook::WebhookConfig::default();
    let file = file.unwrap_or_default();
    let config = sanhu_service::webhook::WebhookConfig {
        allow_private_targets: file.allow_private_targets.unwrap_or(defaults.allow_private_targets),
        allow_plain_http: file.allow_plain_http.unwrap_or(defaults.allow_plain_http),
        retry_schedule_s: file.retry_schedule_s.unwrap_or(defaults.retry_schedule_s),
        deliveries_at_once: file.deliveries_at_once.unwrap_or(defaults.deliveries_at_once),
        attempt_timeout_ms: file.attempt_timeout_ms.unwrap_or(defaults.attempt_timeout_ms),
        retention_days: file.retention_days.unwrap_or(defaults.retention_days),
        ..defaults
    };
    anyhow::ensure!(config.retry_schedule_s.len() <= 64, "webhooks.retry_schedule_s lists at most 64 waits");
    anyhow::ensure!((1..=256).contains(&config.deliveries_at_once), "webhooks.deliveries_at_once is 1 to 256");
    anyhow::ensure!((100..=60_000).contains(&config.attempt_timeout_ms), "webhooks.attempt_timeout_ms is 100 to 60000");
    // At least a day past the retry schedule (about 25 hours), so that an event is never pruned while
    // its deliveries could still be retried or resent from the log the same week.
    anyhow::ensure!((2..=3_650).contains(&config.retention_days), "webhooks.retention_days is 2 to 3650");
    Ok(config)
}

/// One configured account type in the file (`[[account_types]]`), as the articles' account
/// configuration table has it.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct AccountTypeFile {
    code: String,
    name: String,
    currency: String,
    /// "credit" (a member's money, the default) or "debit".
    normal_side: Option<String>,
    #[serde(default)]
    withdrawable: bool,
    #[serde(default)]
    sends_transfers: bool,
    #[serde(default)]
    receives_transfers: bool,
    /// How far below zero it may go, in minor units.
    #[serde(default)]
    overdraft_limit: i64,
    /// Order among the member's accounts when a payment draws on several (lower first); absent:
    /// never drawn on.
    deduction_priority: Option<u16>,
    /// "exactly_one" (the basic account, opened on activation) or a maximum per member (default 1).
    per_member: Option<toml::Value>,
    #[serde(default)]
    opens_on_activation: bool,
    /// May it be recharged (default true); a profit wallet that receives profit only is not.
    rechargeable: Option<bool>,
}

impl AccountTypeFile {
    fn into_type(self) -> anyhow::Result<AccountType> {
        use sanhu_core::party::account_type::{AccountTypeSpec, DeductionPriority, PerMember};
        let code = self.code.clone();
        let per_member = match self.per_member {
            None => PerMember::AtMost(1),
            Some(toml::Value::String(s)) if s == "exactly_one" => PerMember::ExactlyOne,
            Some(toml::Value::Integer(n)) => PerMember::AtMost(
                u16::try_from(n).map_err(|_| anyhow::anyhow!("account type {code}: per_member {n} is out of range"))?,
            ),
            Some(other) => {
                anyhow::bail!("account type {code}: per_member must be \"exactly_one\" or a number, not {other:?}")
            }
        };
        let spec = AccountTypeSpec {
            code: sanhu_core::party::AccountTypeCode::parse(&self.code)
                .map_err(|e| anyhow::anyhow!("account type {code}: {}", e.message()))?,
            name: self.name,
            currency: sanhu_core::Currency::parse(&self.currency)
                .ok_or_else(|| anyhow::anyhow!("account type {code}: unknown currency {}", self.currency))?,
            normal_side: sanhu_core::ledger::NormalSide::parse(self.normal_side.as_deref().unwrap_or("credit"))
                .ok_or_else(|| anyhow::anyhow!("account type {code}: normal_side is \"credit\" or \"debit\""))?,
            withdrawable: self.withdrawable,
            sends_transfers: self.sends_transfers,
            receives_transfers: self.receives_transfers,
            overdraft_limit: self.overdraft_limit,
            deduction: self.deduction_priority.map_or(DeductionPriority::Never, DeductionPriority::Order),
            per_member,
            opens_on_activation: self.opens_on_activation,
            rechargeable: self.rechargeable.unwrap_or(true),
        };
        AccountType::configure(spec).map_err(|e| anyhow::anyhow!("account type {code}: {}", e.message()))
    }
}

/// One level of the merchant hierarchy in the file (`[[merchant_levels]]`).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct MerchantLevelFile {
    code: String,
    name: String,
    /// A merchant of it may stand at the top; by default when `under` is empty.
    top: Option<bool>,
    /// The levels a merchant of it may sit under.
    #[serde(default)]
    under: Vec<String>,
    /// The merchant types it mounts; empty: every type.
    #[serde(default)]
    merchant_types: Vec<String>,
    /// Its merchants open sub-merchants (特约商户).
    #[serde(default)]
    special: bool,
    /// Its merchants are sub-merchants (子商户): no login or client of their own.
    #[serde(default)]
    sub_merchant: bool,
    /// Its merchants are service providers (服务商), which other merchants authorise for named
    /// products; absent: the level `service_provider` is one, no other.
    service_provider: Option<bool>,
}

/// The merchant levels of the file (their types configured), or the default five; and the depth.
fn merchant_levels(
    file: Option<Vec<MerchantLevelFile>>,
    depth_max: Option<usize>,
    types: &sanhu_core::party::merchant::MerchantTypes,
) -> anyhow::Result<sanhu_core::party::merchant_level::MerchantLevels> {
    use sanhu_core::party::merchant_level::{MerchantLevelSpec, MerchantLevels, DEPTH_MAX_DEFAULT};
    let depth_max = depth_max.unwrap_or(DEPTH_MAX_DEFAULT);
    let levels = match file {
        None => MerchantLevels::default_set().iter().cloned().collect(),
        Some(levels) => levels
            .into_iter()
            .map(|l| {
                let merchant_types = l
                    .merchant_types
                    .iter()
                    .map(|t| {
                        types.find(t).map(|t| t.code().clone()).map_err(|_| {
                            anyhow::anyhow!("merchant level {}: merchant type {t:?} is not configured", l.code)
                        })
                    })
                    .collect::<anyhow::Result<Vec<_>>>()?;
                Ok(MerchantLevelSpec {
                    top: l.top.unwrap_or(l.under.is_empty()),
                    service_provider: l.service_provider.unwrap_or(l.code == "service_provider"),
                    code: l.code,
                    name: l.name,
                    under: l.under,
                    merchant_types,
                    special: l.special,
                    sub_merchant: l.sub_merchant,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?,
    };
    MerchantLevels::new(levels, depth_max).map_err(|e| anyhow::anyhow!("merchant_levels: {e}"))
}

/// One product in the file (`[[products]]`).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ProductFile {
    code: String,
    name: String,
    /// Basis points (万分之), 0 to 10000.
    #[serde(default)]
    fee_rate_bp: u32,
    /// The merchant types that may sign it (configured ones).
    merchant_types: Vec<String>,
    /// Only merchants of internal customers may sign it.
    #[serde(default)]
    internal_only: bool,
}

/// The products of the file (their merchant types configured), or the default seven.
fn products(
    file: Option<Vec<ProductFile>>,
    types: &sanhu_core::party::merchant::MerchantTypes,
) -> anyhow::Result<sanhu_core::party::product::Products> {
    use sanhu_core::party::product::{ProductSpec, Products};
    let Some(file) = file else { return Ok(Products::default_set()) };
    let specs =
        file.into_iter()
            .map(|p| {
                let merchant_types =
                    p.merchant_types
                        .iter()
                        .map(|t| {
                            types.find(t).map(|t| t.code().clone()).map_err(|_| {
                                anyhow::anyhow!("product {}: merchant type {t:?} is not configured", p.code)
                            })
                        })
                        .collect::<anyhow::Result<Vec<_>>>()?;
                Ok(ProductSpec {
                    code: p.code,
                    name: p.name,
                    fee_rate_bp: p.fee_rate_bp,
                    merchant_types,
                    internal_only: p.internal_only,
                })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
    let products = Products::new(specs).map_err(|e| anyhow::anyhow!("products: {}", e.message()))?;
    // A money flow whose product is left out could never be used by any merchant.
    for used in sanhu_core::party::product::PlatformProduct::ALL {
        anyhow::ensure!(
            products.find(used.code()).is_ok(),
            "products: {} is used by the platform's money flows and must be configured",
            used.code()
        );
    }
    Ok(products)
}

/// One configured merchant type in the file (`[[merchant_types]]`).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct MerchantTypeFile {
    code: String,
    name: String,
    /// "personal" (the default) or "enterprise": the kind of member it is opened from.
    member_kind: Option<String>,
    #[serde(default)]
    real_name_required: bool,
    /// Of "licence", "legal_person", "premises".
    #[serde(default)]
    documents: Vec<String>,
    /// Of "corporate", "personal_card".
    settlement_accounts: Vec<String>,
    /// Minor units.
    per_payment: i64,
    per_day: i64,
    per_month: i64,
    /// Account type codes opened when a merchant of this type becomes active.
    #[serde(default)]
    accounts: Vec<String>,
}

impl MerchantTypeFile {
    fn into_type(self, account_types: &AccountTypes) -> anyhow::Result<sanhu_core::party::merchant::MerchantType> {
        use sanhu_core::party::merchant::{
            DocumentKind, MerchantLimits, MerchantType, MerchantTypeCode, MerchantTypeSpec, SettlementKind,
        };
        let code = self.code.clone();
        let fail = |what: String| anyhow::anyhow!("merchant type {code}: {what}");
        let member_kind = match self.member_kind.as_deref() {
            None => sanhu_core::party::PartyKind::Personal,
            Some(text) => sanhu_core::party::PartyKind::parse(text)
                .ok_or_else(|| fail("member_kind is \"personal\" or \"enterprise\"".into()))?,
        };
        let documents = self
            .documents
            .iter()
            .map(|d| DocumentKind::parse(d).ok_or_else(|| fail(format!("unknown document {d:?}"))))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let settlement_accounts = self
            .settlement_accounts
            .iter()
            .map(|k| SettlementKind::parse(k).ok_or_else(|| fail(format!("unknown settlement account kind {k:?}"))))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let accounts = self
            .accounts
            .iter()
            .map(|a| {
                let code = sanhu_core::party::AccountTypeCode::parse(a).map_err(|e| fail(e.message().into()))?;
                account_types.get(&code).ok_or_else(|| fail(format!("account type {a:?} is not configured")))?;
                Ok(code)
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let spec = MerchantTypeSpec {
            code: MerchantTypeCode::parse(&self.code).map_err(|e| fail(e.message().into()))?,
            name: self.name,
            member_kind,
            real_name_required: self.real_name_required,
            documents,
            settlement_accounts,
            limits: MerchantLimits::new(self.per_payment, self.per_day, self.per_month)
                .map_err(|e| fail(e.message().into()))?,
            accounts,
        };
        MerchantType::configure(spec).map_err(|e| fail(e.message().into()))
    }
}

/// The merchant types of the file, whose accounts must be configured; or the default three, opening
/// those of their accounts that are.
fn merchant_types(
    file: Option<Vec<MerchantTypeFile>>,
    account_types: &AccountTypes,
) -> anyhow::Result<sanhu_core::party::merchant::MerchantTypes> {
    use sanhu_core::party::merchant::MerchantTypes;
    let types = match file {
        Some(types) => {
            let types = types.into_iter().map(|t| t.into_type(account_types)).collect::<anyhow::Result<Vec<_>>>()?;
            MerchantTypes::new(types).map_err(|e| anyhow::anyhow!("merchant_types: {}", e.message()))?
        }
        // The default three open those of their accounts (settlement, margin) that the platform has
        // configured: a platform with account types of its own and no [[merchant_types]] still starts,
        // and its merchants open what exists.
        None => {
            let types = MerchantTypes::default_set()
                .iter()
                .map(|merchant_type| {
                    let mut spec = merchant_type.spec().clone();
                    spec.accounts.retain(|code| account_types.get(code).is_some());
                    sanhu_core::party::merchant::MerchantType::configure(spec)
                })
                .collect::<Result<Vec<_>, _>>()
                .and_then(MerchantTypes::new)
                .map_err(|e| anyhow::anyhow!("merchant_types: {}", e.message()))?;
            types
        }
    };
    for merchant_type in types.iter() {
        for code in &merchant_type.spec().accounts {
            anyhow::ensure!(
                account_types.get(code).is_some(),
                "merchant type {}: account type {} is not configured",
                merchant_type.code().as_str(),
                code.as_str()
            );
        }
    }
    Ok(types)
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub listen: String,
    /// The metrics listener's address, if `/metrics` is served.
    pub metrics_listen: Option<String>,
    pub batch_transfers_max: usize,
    pub batch_wait_us: u64,
    pub hold_expiry_interval_ms: u64,
    /// Where `serve` saves the first API client's credential and `call` reads it.
    pub credentials_file: PathBuf,
    /// Account types and dormancy.
    pub parties: PartyConfig,
    pub dormancy_interval_s: u64,
    /// Currency, channels, recharges, withdrawals, limits (`[wallet]`).
    pub wallet: WalletConfig,
    /// How often the recharge compensation job asks channels about pending orders, in seconds.
    pub recharge_compensation_interval_s: u64,
    /// Where the compensation job's channel status questions may go (`[wallet]
    /// channel_status_allow_*`).
    pub channel_status: sanhu_http::channel_status::ChannelQueryConfig,
    /// See `trusted_proxy_header` in the file.
    pub trusted_proxy_header: Option<String>,
    /// Each API client's rate limit on this instance: requests per second and burst.
    pub rate_limit_per_s: u32,
    pub rate_limit_burst: u32,
    /// Staff passwords, lockout and sessions (`[staff]`).
    pub staff: sanhu_service::staff::StaffConfig,
    /// Whether the staff session cookie is `Secure`.
    pub staff_cookie_secure: bool,
    /// The store's bounds: SQLite's WAL, page caches, readers and account cache.
    pub store: sanhu_store::StoreOptions,
    /// Staff password hashes at once, and sign-ins per address (`[staff]`).
    pub sign_in_limits: crate::staff::SignInLimits,
    /// Webhook deliveries (`[webhooks]`).
    pub webhooks: sanhu_service::webhook::WebhookConfig,
    /// The standbys reads may go to (`[database] read_replica_urls`) and their staleness bound.
    pub read_replica_urls: Vec<String>,
    pub read_replicas: sanhu_service::reads::ReplicaConfig,
}

impl Config {
    pub fn load(args: &ConfigArgs) -> anyhow::Result<Config> {
        let file = match &args.config {
            Some(path) => Some(read_file(path)?),
            None if std::path::Path::new(DEFAULT_CONFIG_FILE).exists() => {
                Some(read_file(std::path::Path::new(DEFAULT_CONFIG_FILE))?)
            }
            None => None,
        }
        .unwrap_or_default();
        Config::from_file(file, args)
    }

    /// The configuration of the file text `text` (TOML) under `args`. Reads or creates the secret and
    /// data key files only when `args` does not give them.
    pub fn parse(text: &str, args: &ConfigArgs) -> anyhow::Result<Config> {
        Config::from_file(toml::from_str(text)?, args)
    }

    fn from_file(file: FileConfig, args: &ConfigArgs) -> anyhow::Result<Config> {
        let store = store_options(&file)?;
        let writer_defaults = sanhu_service::writer::WriterConfig::default();
        let http_defaults = sanhu_http::HttpConfig::default();
        let party_defaults = party_config(file.dormancy_days, file.account_types)?;
        let types = merchant_types(file.merchant_types, &party_defaults.account_types)?;
        let parties = PartyConfig {
            merchant_levels: merchant_levels(file.merchant_levels, file.merchant_depth_max, &types)?,
            products: products(file.products, &types)?,
            merchant_types: types,
            merchants_per_customer_max: file
                .merchants_per_customer_max
                .unwrap_or(sanhu_service::party::MERCHANTS_PER_CUSTOMER_MAX_DEFAULT),
            stores_per_merchant_max: file
                .stores_per_merchant_max
                .unwrap_or(sanhu_service::party::STORES_PER_MERCHANT_MAX_DEFAULT),
            terminals_per_store_max: file
                .terminals_per_store_max
                .unwrap_or(sanhu_service::party::TERMINALS_PER_STORE_MAX_DEFAULT),
            secret: party_secret(args.secret.as_deref(), file.secret_file.as_deref())?,
            data_keys: data_keys(args.data_key.as_deref(), file.data_key_file.as_deref())?,
            calendar: match file.time_zone.as_deref() {
                Some(name) => PlatformCalendar::new(name).map_err(|e| anyhow::anyhow!("time_zone: {e}"))?,
                None => PlatformCalendar::default(),
            },
            bill_period_closed_after_s: file
                .bill_period_closed_after_s
                .unwrap_or(sanhu_core::bill::BILL_PERIOD_CLOSED_AFTER_S_DEFAULT),
            ..party_defaults
        };
        let sign_in_limits = crate::staff::sign_in_limits(file.staff.as_ref())?;
        let (staff, staff_cookie_secure) = crate::staff::staff_config(file.staff)?;
        let (mut wallet, recharge_compensation_interval_s, channel_status) =
            crate::wallet_config::wallet_config(file.wallet, &parties.account_types)?;
        crate::reconciliation_config::apply(file.reconciliation, &mut wallet)?;
        let database_url =
            args.database_url.clone().or(file.database_url).unwrap_or_else(|| DEFAULT_DATABASE_URL.into());
        let (read_replica_urls, read_replicas) = read_replicas(file.database, &database_url)?;
        let config = Config {
            database_url,
            read_replica_urls,
            read_replicas,
            listen: args.listen.clone().or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into()),
            metrics_listen: args.metrics_listen.clone().or(file.metrics_listen),
            batch_transfers_max: args
                .batch_transfers_max
                .or(file.batch_transfers_max)
                .unwrap_or(writer_defaults.batch_transfers_max),
            batch_wait_us: args.batch_wait_us.or(file.batch_wait_us).unwrap_or(writer_defaults.batch_wait_us),
            hold_expiry_interval_ms: file.hold_expiry_interval_ms.unwrap_or(1_000),
            credentials_file: file.credentials_file.unwrap_or_else(crate::credentials::default_path),
            parties,
            dormancy_interval_s: file.dormancy_interval_s.unwrap_or(3_600),
            wallet,
            recharge_compensation_interval_s,
            channel_status,
            trusted_proxy_header: file.trusted_proxy_header.map(|name| name.to_ascii_lowercase()),
            rate_limit_per_s: file.rate_limit_per_s.unwrap_or(http_defaults.rate_limit_per_s),
            rate_limit_burst: file.rate_limit_burst.unwrap_or(http_defaults.rate_limit_burst),
            staff,
            staff_cookie_secure,
            store,
            sign_in_limits,
            webhooks: webhook_config(file.webhooks)?,
        };
        sanhu_store::DatabaseUrl::parse(&config.database_url)
            .map_err(|e| anyhow::anyhow!("database_url (--database-url, SANHU_DATABASE_URL or sanhu.toml): {e:#}"))?;
        anyhow::ensure!(config.rate_limit_per_s >= 1, "rate_limit_per_s must be at least 1");
        anyhow::ensure!(config.rate_limit_burst >= 1, "rate_limit_burst must be at least 1");
        if let Some(name) = &config.trusted_proxy_header {
            anyhow::ensure!(
                axum::http::HeaderName::from_bytes(name.as_bytes()).is_ok(),
                "trusted_proxy_header {name:?} is not a header name"
            );
        }
        anyhow::ensure!(
            (1..=sanhu_core::ledger::BATCH_TRANSFERS_MAX).contains(&config.batch_transfers_max),
            "batch_transfers_max must be between 1 and {}",
            sanhu_core::ledger::BATCH_TRANSFERS_MAX
        );
        Ok(config)
    }

    pub fn writer(&self) -> sanhu_service::writer::WriterConfig {
        sanhu_service::writer::WriterConfig {
            batch_transfers_max: self.batch_transfers_max,
            batch_wait_us: self.batch_wait_us,
            ..Default::default()
        }
    }

    /// The SQLite file the database URL names (as `sanhu_store::Store::open` reads it), or None for
    /// PostgreSQL.
    pub fn sqlite_path(&self) -> Option<&std::path::Path> {
        match sanhu_store::DatabaseUrl::parse(&self.database_url) {
            Ok(sanhu_store::DatabaseUrl::Sqlite(path)) => Some(std::path::Path::new(path)),
            _ => None,
        }
    }

    /// The read replicas, connected on first use (a standby down at start-up stops nothing).
    pub fn open_replicas(&self) -> anyhow::Result<sanhu_service::reads::Replicas> {
        let mut replicas = Vec::with_capacity(self.read_replica_urls.len());
        for (index, url) in self.read_replica_urls.iter().enumerate() {
            let store = sanhu_store::Store::open_replica(url, &self.store)
                .with_context(|| format!("database.read_replica_urls[{index}] {}", redact_url(url)))?;
            replicas.push((redact_url(url), store));
        }
        Ok(sanhu_service::reads::Replicas::new(self.read_replicas, replicas))
    }

    pub async fn open_store(&self) -> anyhow::Result<sanhu_store::Store> {
        sanhu_store::Store::open(&self.database_url, &self.store)
            .await
            .with_context(|| format!("failed to open the database {}", redact_url(&self.database_url)))
    }
}

const MIB: u64 = 1024 * 1024;

/// The store's bounds from the file (`sqlite_*`), each at least 1 of its unit.
fn store_options(file: &FileConfig) -> anyhow::Result<sanhu_store::StoreOptions> {
    let defaults = sanhu_store::StoreOptions::default();
    let at_least_one = |key: &str, value: Option<u64>| -> anyhow::Result<Option<u64>> {
        anyhow::ensure!(value.is_none_or(|v| v >= 1), "{key} must be at least 1");
        Ok(value)
    };
    let mib_as_kib = |key: &str, value: Option<u32>| -> anyhow::Result<Option<u32>> {
        Ok(match at_least_one(key, value.map(u64::from))? {
            Some(mib) => Some(u32::try_from(mib * 1024).map_err(|_| anyhow::anyhow!("{key} is too large"))?),
            None => None,
        })
    };
    let wal_mib = at_least_one("sqlite_wal_max_mib", file.sqlite_wal_max_mib)?;
    Ok(sanhu_store::StoreOptions {
        read_connections: at_least_one("read_connections", file.read_connections.map(u64::from))?
            .map_or(defaults.read_connections, |n| n as u32),
        sqlite_cache_kib: mib_as_kib("sqlite_cache_mib", file.sqlite_cache_mib)?.unwrap_or(defaults.sqlite_cache_kib),
        sqlite_read_cache_kib: mib_as_kib("sqlite_read_cache_mib", file.sqlite_read_cache_mib)?
            .unwrap_or(defaults.sqlite_read_cache_kib),
        sqlite_wal_bytes_max: match wal_mib {
            Some(mib) => mib.checked_mul(MIB).ok_or_else(|| anyhow::anyhow!("sqlite_wal_max_mib is too large"))?,
            None => defaults.sqlite_wal_bytes_max,
        },
        sqlite_account_cache_entries: at_least_one(
            "sqlite_account_cache_entries",
            file.sqlite_account_cache_entries.map(|n| n as u64),
        )?
        .map_or(defaults.sqlite_account_cache_entries, |n| n as usize),
        ..defaults
    })
}

/// The default file of the server secret, in the working directory beside the SQLite database.
pub const DEFAULT_SECRET_FILE: &str = "sanhu-secret.key";

/// The server secret: given as hex (flag or SANHU_SECRET), or read from its file, which is created
/// with 32 random bytes (readable by its owner only) when it does not exist yet, so that the embedded
/// default keeps one secret across restarts with nothing configured.
fn party_secret(hex: Option<&str>, file: Option<&std::path::Path>) -> anyhow::Result<PartySecret> {
    if let Some(hex) = hex {
        return PartySecret::from_bytes(&decode_hex(hex.trim()).context("SANHU_SECRET is not hex")?);
    }
    let path = file.unwrap_or(std::path::Path::new(DEFAULT_SECRET_FILE));
    create_key_file(path, "the server secret")?;
    let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
    PartySecret::from_bytes(&decode_hex(text.trim()).with_context(|| format!("{} is not hex", path.display()))?)
}

/// The default file of the data keys, beside the server secret's.
pub const DEFAULT_DATA_KEY_FILE: &str = "sanhu-data.key";

/// The data keys: given as hex (flag or SANHU_DATA_KEY: the current key, then retired ones after
/// commas), or read from their file (the current key on its first line, retired ones on the lines
/// after it; blank lines and lines starting with `#` are skipped), which is created with one random
/// key (readable by its owner only) when it does not exist yet.
fn data_keys(hex: Option<&str>, file: Option<&std::path::Path>) -> anyhow::Result<DataKeys> {
    let (keys, source) = match hex {
        Some(hex) => (hex.split(',').map(str::to_owned).collect::<Vec<_>>(), "SANHU_DATA_KEY".to_owned()),
        None => {
            let path = file.unwrap_or(std::path::Path::new(DEFAULT_DATA_KEY_FILE));
            create_key_file(path, "the data key")?;
            let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
            let lines = text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#'));
            (lines.map(str::to_owned).collect(), path.display().to_string())
        }
    };
    let decoded = keys
        .iter()
        .enumerate()
        .map(|(i, key)| decode_hex(key.trim()).with_context(|| format!("key {} of {source} is not hex", i + 1)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (current, retired) = decoded.split_first().ok_or_else(|| anyhow::anyhow!("{source} holds no data key"))?;
    DataKeys::new(current, retired).with_context(|| format!("the data keys of {source}"))
}

/// Creates a key file with 32 random bytes in hex, readable by its owner only, unless it exists.
fn create_key_file(path: &std::path::Path, what: &str) -> anyhow::Result<()> {
    if path.exists() {
        return Ok(());
    }
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut bytes = [0u8; 32];
    getrandom::getrandom(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for {what}: {e}"))?;
    let hex = hex::encode(bytes);
    match options.open(path) {
        Ok(mut created) => {
            created.write_all(format!("{hex}\n").as_bytes())?;
            created.sync_all()?;
            tracing::info!(file = %path.display(), "created {what}");
        }
        // Another process created it first: read theirs.
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(error) => return Err(error).with_context(|| format!("failed to create {}", path.display())),
    }
    Ok(())
}

fn decode_hex(text: &str) -> anyhow::Result<Vec<u8>> {
    hex::decode(text).map_err(|e| match e {
        hex::FromHexError::OddLength => anyhow::anyhow!("an odd number of hex digits"),
        _ => anyhow::anyhow!("not a hex digit"),
    })
}

/// The three-party configuration: the file's account types (or the default set) and dormancy period.
fn party_config(
    dormancy_days: Option<u16>,
    account_types: Option<Vec<AccountTypeFile>>,
) -> anyhow::Result<PartyConfig> {
    let defaults = PartyConfig::default();
    let dormancy = match dormancy_days {
        Some(days) => DormancyPolicy::new(days).map_err(|e| anyhow::anyhow!("dormancy_days: {}", e.message()))?,
        None => defaults.dormancy,
    };
    let account_types = match account_types {
        Some(types) => {
            let types = types.into_iter().map(AccountTypeFile::into_type).collect::<anyhow::Result<Vec<_>>>()?;
            AccountTypes::new(types).map_err(|e| anyhow::anyhow!("account_types: {}", e.message()))?
        }
        None => defaults.account_types,
    };
    Ok(PartyConfig { account_types, dormancy, ..defaults })
}

fn read_file(path: &std::path::Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{} is not a valid sanhu configuration", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A fresh folder for a test's `sanhu.toml`.
    fn config_dir(test: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("sanhu-config-{test}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// The configuration `Config::load` reads from `toml` written as `dir/sanhu.toml`, with the
    /// secret and data key given (so no key file is made).
    fn load_file(dir: &std::path::Path, toml: &str) -> anyhow::Result<Config> {
        let path = dir.join("sanhu.toml");
        std::fs::write(&path, toml).unwrap();
        let args = ConfigArgs {
            config: Some(path),
            database_url: None,
            listen: None,
            metrics_listen: None,
            secret: Some("ab".repeat(32)),
            data_key: Some("cd".repeat(32)),
            batch_transfers_max: None,
            batch_wait_us: None,
        };
        Config::load(&args)
    }

    #[test]
    fn the_time_zone_is_asia_shanghai_unless_configured_and_an_unknown_one_stops_start_up() {
        let dir = config_dir("time-zone");
        let load = |toml: &str| load_file(&dir, toml);
        assert_eq!(load("").unwrap().parties.calendar.time_zone(), "Asia/Shanghai");
        assert_eq!(load("time_zone = \"Asia/Hong_Kong\"").unwrap().parties.calendar.time_zone(), "Asia/Hong_Kong");
        let refused = load("time_zone = \"Mars/Olympus\"").unwrap_err();
        assert!(format!("{refused:#}").contains("time_zone"), "{refused:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn products_are_the_default_seven_unless_configured_and_each_money_flow_keeps_its_own() {
        let dir = config_dir("products");
        let load = |toml: &str| load_file(&dir, toml);
        assert_eq!(load("").unwrap().parties.products.iter().count(), 7);
        let used = ["balance_payment", "recharge", "withdrawal", "escrow_collection", "split_payment", "member_cards"];
        let mut toml = String::new();
        for code in used {
            toml.push_str(&format!(
                "[[products]]\ncode = \"{code}\"\nname = \"{code}\"\nmerchant_types = [\"enterprise\"]\n"
            ));
        }
        let config = load(&format!("{toml}[[products]]\ncode = \"withholding\"\nname = \"代扣\"\nfee_rate_bp = 5\nmerchant_types = [\"enterprise\"]\ninternal_only = true\n")).unwrap();
        let withholding = config.parties.products.find("withholding").unwrap();
        assert!(withholding.internal_only);
        assert_eq!(withholding.fee_rate_bp, 5);
        let without_recharge = toml.replace("code = \"recharge\"", "code = \"top_up\"");
        let refused = load(&without_recharge).unwrap_err();
        assert!(format!("{refused:#}").contains("recharge"), "{refused:#}");
        let unknown_type = toml.replacen("[\"enterprise\"]", "[\"shop\"]", 1);
        assert!(format!("{:#}", load(&unknown_type).unwrap_err()).contains("not configured"));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_trusted_proxy_header_is_a_header_name_and_absent_by_default() {
        let dir = config_dir("proxy");
        let load = |toml: &str| load_file(&dir, toml);
        assert_eq!(load("").unwrap().trusted_proxy_header, None);
        let config = load("trusted_proxy_header = \"X-Forwarded-For\"").unwrap();
        assert_eq!(config.trusted_proxy_header.as_deref(), Some("x-forwarded-for"));
        let refused = load("trusted_proxy_header = \"not a header\"").unwrap_err();
        assert!(format!("{refused:#}").contains("is not a header name"), "{refused:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn read_replicas_are_postgresql_standbys_with_a_bound_and_anything_else_stops_start_up_naming_its_key() {
        let dir = config_dir("replicas");
        let load = |toml: &str| load_file(&dir, toml);
        let refused = |toml: &str| format!("{:#}", load(toml).unwrap_err());
        let none = load("").unwrap();
        assert!(none.read_replica_urls.is_empty());
        assert_eq!(none.read_replicas, sanhu_service::reads::ReplicaConfig::default());
        let pg = "database_url = \"postgres://sanhu@db1/sanhu\"\n";
        let set = load(&format!(
            "{pg}[database]\nread_replica_urls = [\"postgres://sanhu@db2/sanhu\", \"postgresql://sanhu@db3/sanhu\"]\n\
             read_max_staleness_ms = 2500\nread_replica_sample_ms = 50\n"
        ))
        .unwrap();
        assert_eq!(set.read_replica_urls, ["postgres://sanhu@db2/sanhu", "postgresql://sanhu@db3/sanhu"]);
        assert_eq!(set.read_replicas.max_staleness, std::time::Duration::from_millis(2500));
        assert_eq!(set.read_replicas.sample_every, std::time::Duration::from_millis(50));
        assert!(!set.open_replicas().unwrap().is_empty());

        let message = refused("[database]\nread_replica_urls = [\"postgres://sanhu@db2/sanhu\"]\n");
        assert!(message.contains("database.read_replica_urls: SQLite has no read replicas"), "{message}");
        let message = refused(&format!("{pg}[database]\nread_replica_urls = [\"sqlite://standby.db\"]\n"));
        assert!(message.contains("database.read_replica_urls[0]"), "{message}");
        let message = refused(&format!("{pg}[database]\nread_replica_urls = [\"mysql://db2/sanhu\"]\n"));
        assert!(message.contains("database.read_replica_urls[0]"), "{message}");
        let message = refused(&format!("{pg}[database]\nread_max_staleness_ms = 0\n"));
        assert!(message.contains("database.read_max_staleness_ms must be"), "{message}");
        let message = refused(&format!("{pg}[database]\nread_max_staleness_ms = 100\nread_replica_sample_ms = 100\n"));
        assert!(message.contains("must be more than database.read_replica_sample_ms"), "{message}");
        let message = refused(&format!("{pg}[database]\nread_replica_sample_ms = 1\n"));
        assert!(message.contains("database.read_replica_sample_ms must be"), "{message}");
        let message = refused(&format!("{pg}[database]\nread_replicas = []\n"));
        assert!(message.contains("read_replicas"), "{message}");
        let message = refused(&format!("{pg}[database]\nread_max_staleness_ms = -5\n"));
        assert!(message.contains("read_max_staleness_ms"), "{message}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_stores_bounds_come_from_the_file_in_their_units_and_default_to_the_stated_ones() {
        let dir = config_dir("store");
        let load = |toml: &str| load_file(&dir, toml);
        let defaults = load("").unwrap().store;
        assert_eq!(defaults.sqlite_wal_bytes_max, 64 * 1024 * 1024);
        assert_eq!((defaults.sqlite_cache_kib, defaults.sqlite_read_cache_kib), (64 * 1024, 16 * 1024));
        assert_eq!((defaults.read_connections, defaults.sqlite_account_cache_entries), (4, 100_000));
        let set = load(
            "sqlite_wal_max_mib = 8\nsqlite_cache_mib = 32\nsqlite_read_cache_mib = 4\nread_connections = 2\n\
             sqlite_account_cache_entries = 5000",
        )
        .unwrap()
        .store;
        assert_eq!(set.sqlite_wal_bytes_max, 8 * 1024 * 1024);
        assert_eq!((set.sqlite_cache_kib, set.sqlite_read_cache_kib), (32 * 1024, 4 * 1024));
        assert_eq!((set.read_connections, set.sqlite_account_cache_entries), (2, 5000));
        let refused = load("sqlite_wal_max_mib = 0").unwrap_err();
        assert!(format!("{refused:#}").contains("sqlite_wal_max_mib must be at least 1"), "{refused:#}");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_data_key_file_is_made_once_for_its_owner_only_and_lists_retired_keys_after_the_current_one() {
        let dir = std::env::temp_dir().join(format!("sanhu-config-data-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(DEFAULT_DATA_KEY_FILE);
        let _ = std::fs::remove_file(&path);
        let first = data_keys(None, Some(&path)).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600, "the data key is readable by its owner only (mode {mode:o})");
        }
        assert_eq!(data_keys(None, Some(&path)).unwrap().current_id(), first.current_id(), "made once");

        // A new key on the first line; the one it replaces stays below it until it has sealed nothing.
        let old = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, format!("# replaced the data key\n{}\n\n{old}", "ef".repeat(32))).unwrap();
        let rotated = data_keys(None, Some(&path)).unwrap();
        assert_ne!(rotated.current_id(), first.current_id());
        assert!(format!("{rotated:?}").contains(&format!("retired: [\"{}\"]", first.current_id())), "{rotated:?}");

        let given = data_keys(Some(&format!("{},{}", "ef".repeat(32), "12".repeat(32))), None).unwrap();
        assert_eq!(given.current_id(), rotated.current_id());
        assert!(data_keys(Some("not hex"), None).is_err());
        assert!(data_keys(Some(&"ab".repeat(31)), None).is_err(), "31 bytes are not an AES-256 key");
        std::fs::write(&path, "# nothing\n").unwrap();
        assert!(format!("{:#}", data_keys(None, Some(&path)).unwrap_err()).contains("holds no data key"));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
