//! The configuration and the saved credential as a library beside the `sanhu` binary, so that the
//! fuzz targets (`fuzz/`) read `sanhu.toml` text exactly as `sanhu serve` does ([`config::Config::parse`]).
//! Everything else of the binary stays in `main.rs`.

pub mod config;
pub mod credentials;
pub mod logging;
pub mod reconciliation_config;
pub mod staff;
pub mod wallet_config;
