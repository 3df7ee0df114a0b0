//! The configuration file (`sanhu.toml`: crates/cli/src/config.rs, wallet_config.rs, staff.rs), read
//! as `sanhu serve` reads it, with the secret and data key given so that no file is touched.
//!
//! Input: the file's text. Holds: reading never panics and never overflows; what it accepts keeps the
//! limits start-up promises (batch size, rate limits, channel status URLs), and reading the same text
//! again gives the same configuration.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sanhu::config::{Config, ConfigArgs};

fn args() -> ConfigArgs {
    ConfigArgs {
        config: None,
        database_url: None,
        listen: None,
        metrics_listen: None,
        secret: Some("ab".repeat(32)),
        data_key: Some("cd".repeat(32)),
        batch_transfers_max: None,
        batch_wait_us: None,
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let Ok(config) = Config::parse(text, &args()) else { return };
    assert!((1..=sanhu_core::ledger::BATCH_TRANSFERS_MAX).contains(&config.batch_transfers_max));
    assert!(config.rate_limit_per_s >= 1 && config.rate_limit_burst >= 1);
    for channel in &config.wallet.channels {
        if let Some(url) = &channel.status_url {
            let plain = config.channel_status.allow_plain_http;
            assert!(sanhu_http::channel_status::parse_status_url(url, plain).is_ok(), "{url:?}");
        }
    }
    let again = Config::parse(text, &args()).expect("the same text is read the same");
    assert_eq!(format!("{config:?}"), format!("{again:?}"));
});
