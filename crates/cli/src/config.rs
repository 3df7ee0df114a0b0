//! Configuration: flags, then environment (`SANHU_*`), then the file (`sanhu.toml` or `--config`),
//! then defaults. Every value has a default, so `sanhu serve` with nothing set just works.

use std::path::PathBuf;

use anyhow::Context;
use serde::Deserialize;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://sanhu.db";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";
pub const DEFAULT_CONFIG_FILE: &str = "sanhu.toml";

#[derive(clap::Args, Debug)]
pub struct ConfigArgs {
    /// Configuration file (TOML). Default: sanhu.toml in the working directory, if present.
    #[arg(long, env = "SANHU_CONFIG")]
    pub config: Option<PathBuf>,
    /// sqlite://path or postgres://user@host/db.
    #[arg(long, env = "SANHU_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address the HTTP API listens on.
    #[arg(long, env = "SANHU_LISTEN")]
    pub listen: Option<String>,
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
    batch_transfers_max: Option<usize>,
    batch_wait_us: Option<u64>,
    hold_expiry_interval_ms: Option<u64>,
    credentials_file: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub database_url: String,
    pub listen: String,
    pub batch_transfers_max: usize,
    pub batch_wait_us: u64,
    pub hold_expiry_interval_ms: u64,
    /// Where `serve` saves the first API client's credential and `call` reads it.
    pub credentials_file: PathBuf,
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
        let writer_defaults = sanhu_service::writer::WriterConfig::default();
        let config = Config {
            database_url: args
                .database_url
                .clone()
                .or(file.database_url)
                .unwrap_or_else(|| DEFAULT_DATABASE_URL.into()),
            listen: args.listen.clone().or(file.listen).unwrap_or_else(|| DEFAULT_LISTEN.into()),
            batch_transfers_max: args
                .batch_transfers_max
                .or(file.batch_transfers_max)
                .unwrap_or(writer_defaults.batch_transfers_max),
            batch_wait_us: args.batch_wait_us.or(file.batch_wait_us).unwrap_or(writer_defaults.batch_wait_us),
            hold_expiry_interval_ms: file.hold_expiry_interval_ms.unwrap_or(1_000),
            credentials_file: file.credentials_file.unwrap_or_else(crate::credentials::default_path),
        };
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
        let url = self.database_url.as_str();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return None;
        }
        Some(std::path::Path::new(url.strip_prefix("sqlite://").unwrap_or(url)))
    }

    pub async fn open_store(&self) -> anyhow::Result<sanhu_store::Store> {
        sanhu_store::Store::open(&self.database_url, &sanhu_store::StoreOptions::default())
            .await
            .with_context(|| format!("failed to open the database {}", redact(&self.database_url)))
    }
}

fn read_file(path: &std::path::Path) -> anyhow::Result<FileConfig> {
    let text = std::fs::read_to_string(path).with_context(|| format!("failed to read {}", path.display()))?;
    toml::from_str(&text).with_context(|| format!("{} is not a valid sanhu configuration", path.display()))
}

/// A database URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!("{}{}:***{}", &url[..scheme + 3], &userinfo[..colon], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_from_database_urls() {
        assert_eq!(redact("postgres://app:secret@db/sanhu"), "postgres://app:***@db/sanhu");
        assert_eq!(redact("postgres://app@db/sanhu"), "postgres://app@db/sanhu");
        assert_eq!(redact("sqlite://sanhu.db"), "sqlite://sanhu.db");
    }
}
