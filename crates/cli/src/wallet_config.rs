//! The wallet's settings in `sanhu.toml` (`[wallet]`): currency, payment channels, recharge tiers and
//! expiry, the accounts recharges and bonuses land in, withdrawals, pay password, transfer limits,
//! adjustment approval, and the recharge compensation job. Every key is optional; an absent section
//! is `WalletConfig::default_for(CNY)`. A value no rule accepts stops `sanhu serve` with a message
//! naming its key (`wallet.channels[1].fee: ...`).
//!
//! ```toml
//! [wallet]
//! currency = "CNY"
//! recharge_expiry_s = 1800              # an unpaid recharge order expires
//! recharge_query_after_s = 300          # a pending one is asked about at its channel
//! recharge_compensation_interval_s = 60 # how often the compensation job runs
//! recharge_account_type = "basic"
//! bonus_account_type = "bonus"
//! pay_password_required = false
//! adjustment_approval_from = 100000     # an adjustment of this much waits for a second person
//! payment_receivers = ["fee_income"]    # the platform accounts payments may be made to
//! operators_required = false            # an enterprise member's money requests name their operator
//! withdrawal_pay_password_required = false
//! pay_code_ttl_s = 60                   # how long a member's pay code lives (15 to 600)
//! pay_by_phone = false                  # payments may name the payer by phone and an SMS code
//! pay_password_free_max = 0            # where the pay password is required, the most a store's threshold waives it below
//! card_code_caller_attempts = 1000      # failed card code redemptions a caller may make for others' members in 15 minutes (5 to 100000)
//! channel_status_allow_private_targets = true  # status_url may be on the platform's own network
//! channel_status_allow_plain_http = true       # and on plain http (both refused by default)
//! settlement_monthly_types = []         # merchant types settled monthly; every other type daily
//!
//! [wallet.payment_limits.b2b]           # per account type: what a member's payments take from it
//! per_payment = 50000000                # each may be left out (no limit)
//! per_day = 100000000
//! per_month = 1000000000
//!
//! [wallet.withdrawal]
//! minimum = 100
//! fee = { rate_basis_points = 10, minimum = 10, maximum = 2500 }  # or { fixed = 50 }; absent: free
//! fee_payer = "member"                  # or "platform"
//! auto_approve_below = 50000
//! hold_timeout_s = 2592000
//!
//! [wallet.transfer_limits]
//! per_transfer = 500000
//! per_day = 2000000
//!
//! [[wallet.channels]]                   # when given, they replace the default channels
//! name = "alipay"
//! review_required = false
//! fee = { rate_basis_points = 60 }
//! fee_payer = "platform"
//! status_url = "http://gateway.internal:9000/alipay/status"
//!
//! [[wallet.recharge_tiers]]
//! pay = 10000
//! bonus = 1000
//! starts_at = 2025-01-01T00:00:00+08:00
//! ends_at = 2025-02-01T00:00:00+08:00
//! ```

use anyhow::{anyhow, bail, ensure, Context};
use sanhu_core::ledger::PENDING_TIMEOUT_S_MAX;
use sanhu_core::party::{AccountTypeCode, AccountTypes};
use sanhu_core::wallet::{FeePayer, FeeRule, RechargeTier, RechargeTiers, TransferLimits, WithdrawalPolicy};
use sanhu_core::{Currency, Timestamp};
use sanhu_http::channel_status::ChannelQueryConfig;
use sanhu_service::wallet::{Channel, ChannelReview, PayPasswordRule, PaymentLimits, PlatformAccount, WalletConfig};
use serde::Deserialize;

/// How often the compensation job runs when the file does not say, in seconds.
pub const DEFAULT_RECHARGE_COMPENSATION_INTERVAL_S: u64 = 60;

/// The longest a recharge order may wait to be paid: 30 days.
pub const RECHARGE_EXPIRY_S_MAX: u32 = 30 * 24 * 3600;

/// The longest channel name, in characters (it names the channel's clearing account).
pub const CHANNEL_NAME_CHARS_MAX: usize = 32;

/// The `[wallet]` section as written; every field optional.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct WalletFile {
    currency: Option<String>,
    channels: Option<Vec<ChannelFile>>,
    recharge_tiers: Option<Vec<TierFile>>,
    recharge_expiry_s: Option<u32>,
    recharge_query_after_s: Option<u32>,
    recharge_compensation_interval_s: Option<u64>,
    recharge_account_type: Option<String>,
    bonus_account_type: Option<String>,
    withdrawal: Option<WithdrawalFile>,
    pay_password_required: Option<bool>,
    transfer_limits: Option<TransferLimitsFile>,
    adjustment_approval_from: Option<i64>,
    payment_receivers: Option<Vec<String>>,
    operators_required: Option<bool>,
    withdrawal_pay_password_required: Option<bool>,
    pay_code_ttl_s: Option<u32>,
    card_code_caller_attempts: Option<i64>,
    pay_by_phone: Option<bool>,
    /// Where the pay password is required, the most a store's pay-password-free threshold waives it
    /// below, in minor units; absent: 0 (never).
    pay_password_free_max: Option<i64>,
    settlement_monthly_types: Option<Vec<String>>,
    payment_limits: Option<std::collections::BTreeMap<String, PaymentLimitsFile>>,
    /// Ask channel status endpoints on loopback, private and link-local addresses (a gateway on the
    /// platform's own network); refused otherwise.
    channel_status_allow_private_targets: Option<bool>,
    /// Ask channel status endpoints on plain `http://` (unencrypted); refused otherwise.
    channel_status_allow_plain_http: Option<bool>,
}

/// `[wallet.payment_limits.TYPE]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct PaymentLimitsFile {
    per_payment: Option<i64>,
    per_day: Option<i64>,
    per_month: Option<i64>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ChannelFile {
    name: String,
    #[serde(default)]
    review_required: bool,
    fee: Option<FeeFile>,
    /// "member" or "platform" (the default).
    fee_payer: Option<String>,
    status_url: Option<String>,
}

/// A fee: `{ fixed = 50 }`, or `{ rate_basis_points = 60, minimum = 0, maximum = 500 }`; absent: free.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct FeeFile {
    fixed: Option<i64>,
    rate_basis_points: Option<u32>,
    minimum: Option<i64>,
    maximum: Option<i64>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct TierFile {
    pay: i64,
    bonus: i64,
    /// RFC 3339, as a TOML date-time or a string.
    starts_at: toml::Value,
    ends_at: toml::Value,
}

#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
struct WithdrawalFile {
    minimum: Option<i64>,
    fee: Option<FeeFile>,
    fee_payer: Option<String>,
    auto_approve_below: Option<i64>,
    hold_timeout_s: Option<u32>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct TransferLimitsFile {
    per_transfer: Option<i64>,
    per_day: Option<i64>,
}

/// The wallet's configuration, the compensation job's interval (seconds) and where its channel status
/// questions may go, from the file's `[wallet]` section (or its absence), checked against the
/// configured account types.
pub fn wallet_config(
    file: Option<WalletFile>,
    account_types: &AccountTypes,
) -> anyhow::Result<(WalletConfig, u64, ChannelQueryConfig)> {
    let file = file.unwrap_or_default();
    let channel_status = ChannelQueryConfig {
        allow_private_targets: file.channel_status_allow_private_targets.unwrap_or(false),
        allow_plain_http: file.channel_status_allow_plain_http.unwrap_or(false),
        ..ChannelQueryConfig::default()
    };
    let currency = match &file.currency {
        Some(code) => Currency::parse(code).ok_or_else(|| anyhow!("wallet.currency: unknown currency {code:?}"))?,
        None => Currency::parse("CNY").expect("CNY is a currency"),
    };
    let mut config = WalletConfig::default_for(currency);
    if let Some(channels) = file.channels {
        config.channels = channels
            .into_iter()
            .enumerate()
            .map(|(i, c)| {
                c.into_channel(channel_status.allow_plain_http).with_context(|| format!("wallet.channels[{i}]"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        for (i, channel) in config.channels.iter().enumerate() {
            if config.channels[..i].iter().any(|c| c.name == channel.name) {
                bail!("wallet.channels[{i}].name: the channel {:?} is configured twice", channel.name);
            }
        }
    }
    if let Some(tiers) = file.recharge_tiers {
        let tiers = tiers
            .into_iter()
            .enumerate()
            .map(|(i, t)| t.into_tier().with_context(|| format!("wallet.recharge_tiers[{i}]")))
            .collect::<anyhow::Result<Vec<_>>>()?;
        config.recharge_tiers = RechargeTiers::new(currency, tiers);
    }
    if let Some(expiry) = file.recharge_expiry_s {
        ensure!(
            (1..=RECHARGE_EXPIRY_S_MAX).contains(&expiry),
            "wallet.recharge_expiry_s: {expiry} is not between 1 and {RECHARGE_EXPIRY_S_MAX} seconds"
        );
        config.recharge_expiry_s = expiry;
    }
    if let Some(after) = file.recharge_query_after_s {
        ensure!(after >= 1, "wallet.recharge_query_after_s: at least 1 second");
        config.recharge_query_after_s = after;
    }
    ensure!(
        config.recharge_query_after_s < config.recharge_expiry_s,
        "wallet.recharge_query_after_s ({}) must be less than wallet.recharge_expiry_s ({}), so that an order is \
         asked about at its channel before it expires",
        config.recharge_query_after_s,
        config.recharge_expiry_s
    );
    let interval = file.recharge_compensation_interval_s.unwrap_or(DEFAULT_RECHARGE_COMPENSATION_INTERVAL_S);
    ensure!(interval >= 1, "wallet.recharge_compensation_interval_s: at least 1 second");
    if let Some(code) = &file.recharge_account_type {
        config.recharge_account_type = account_type(code, currency, account_types, "wallet.recharge_account_type")?;
    }
    if let Some(code) = &file.bonus_account_type {
        config.bonus_account_type = account_type(code, currency, account_types, "wallet.bonus_account_type")?;
    }
    if let Some(withdrawal) = file.withdrawal {
        withdrawal.apply(&mut config)?;
    }
    if let Some(required) = file.pay_password_required {
        config.pay_password = if required { PayPasswordRule::Required } else { PayPasswordRule::NotRequired };
    }
    if let Some(limits) = file.transfer_limits {
        config.transfer_limits = TransferLimits::new(currency, limits.per_transfer, limits.per_day)
            .map_err(|e| anyhow!("wallet.transfer_limits: {}", e.message()))?;
    }
    if let Some(from) = file.adjustment_approval_from {
        ensure!(from >= 0, "wallet.adjustment_approval_from: {from} is below zero");
        config.adjustment_approval_from = from;
    }
    if let Some(names) = file.payment_receivers {
        config.payment_receivers = payment_receivers(&names)?;
    }
    if let Some(required) = file.operators_required {
        config.operators_required = required;
    }
    if let Some(required) = file.withdrawal_pay_password_required {
        config.withdrawal_pay_password =
            if required { PayPasswordRule::Required } else { PayPasswordRule::NotRequired };
    }
    if let Some(max) = file.pay_password_free_max {
        anyhow::ensure!(max >= 0, "wallet.pay_password_free_max: 0 or more minor units");
        config.pay_password_free_max = max;
    }
    if let Some(types) = file.settlement_monthly_types {
        for code in &types {
            sanhu_core::party::merchant::MerchantTypeCode::parse(code)
                .map_err(|_| anyhow!("wallet.settlement_monthly_types: {code:?} is not a merchant type code"))?;
        }
        config.settlement_monthly_types = types;
    }
    if let Some(allowed) = file.pay_by_phone {
        config.pay_by_phone = allowed;
    }
    if let Some(ceiling) = file.card_code_caller_attempts {
        config.card_code_caller_attempts = sanhu_core::card::redemption::check_caller_attempts(ceiling)
            .ok_or_else(|| anyhow!("wallet.card_code_caller_attempts: 5 to 100000"))?;
    }
    if let Some(ttl_s) = file.pay_code_ttl_s {
        config.pay_code_ttl_s = sanhu_core::wallet::pay_code::check_ttl(ttl_s)
            .map_err(|e| anyhow!("wallet.pay_code_ttl_s: {}", e.message()))?;
    }
    for (code, limits) in file.payment_limits.unwrap_or_default() {
        let key = format!("wallet.payment_limits.{code}");
        let code = account_type(&code, currency, account_types, &key)?;
        let limits =
            PaymentLimits { per_payment: limits.per_payment, per_day: limits.per_day, per_month: limits.per_month }
                .check()
                .map_err(|e| anyhow!("{key}: {}", e.message))?;
        config.payment_limits.push((code, limits));
    }
    Ok((config, interval, channel_status))
}

impl ChannelFile {
    fn into_channel(self, allow_plain_http: bool) -> anyhow::Result<Channel> {
        let name_ok = (1..=CHANNEL_NAME_CHARS_MAX).contains(&self.name.len())
            && self.name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-');
        ensure!(name_ok, "name: {:?} is not 1 to {CHANNEL_NAME_CHARS_MAX} of a-z, 0-9, _ and -", self.name);
        let fee = fee_rule(self.fee).context("fee")?;
        let fee_payer = fee_payer(self.fee_payer.as_deref(), FeePayer::Platform).context("fee_payer")?;
        let status_url = match self.status_url {
            Some(url) => {
                sanhu_http::channel_status::parse_status_url(&url, allow_plain_http)
                    .map_err(|e| anyhow!("status_url: {e}"))?;
                Some(url)
            }
            None => None,
        };
        Ok(Channel {
            name: self.name,
            review: if self.review_required { ChannelReview::Required } else { ChannelReview::NotRequired },
            fee,
            fee_payer,
            status_url,
        })
    }
}

impl TierFile {
    fn into_tier(self) -> anyhow::Result<RechargeTier> {
        let starts_at = timestamp(&self.starts_at).context("starts_at")?;
        let ends_at = timestamp(&self.ends_at).context("ends_at")?;
        RechargeTier::new(self.pay, self.bonus, starts_at, ends_at).map_err(|e| anyhow!("{}", e.message()))
    }
}

impl WithdrawalFile {
    fn apply(self, config: &mut WalletConfig) -> anyhow::Result<()> {
        let defaults = config.withdrawal;
        let fee = match self.fee {
            Some(fee) => fee_rule(Some(fee)).context("wallet.withdrawal.fee")?,
            None => defaults.fee(),
        };
        let payer =
            fee_payer(self.fee_payer.as_deref(), defaults.fee_payer()).context("wallet.withdrawal.fee_payer")?;
        let minimum = self.minimum.unwrap_or(defaults.minimum());
        config.withdrawal = WithdrawalPolicy::new(config.currency, minimum, fee, payer)
            .map_err(|e| anyhow!("wallet.withdrawal.minimum: {}", e.message()))?;
        if let Some(below) = self.auto_approve_below {
            ensure!(below >= 0, "wallet.withdrawal.auto_approve_below: {below} is below zero");
            config.withdrawal_auto_approve_below = below;
        }
        if let Some(timeout) = self.hold_timeout_s {
            ensure!(
                (1..=PENDING_TIMEOUT_S_MAX).contains(&timeout),
                "wallet.withdrawal.hold_timeout_s: {timeout} is not between 1 and {PENDING_TIMEOUT_S_MAX} seconds"
            );
            config.withdrawal_hold_timeout_s = timeout;
        }
        Ok(())
    }
}

/// The platform accounts payments may name as their receiver, by name; an enterprise's subsidy fund
/// is counted apart from its ledger account, so it is not one.
fn payment_receivers(names: &[String]) -> anyhow::Result<Vec<PlatformAccount>> {
    let mut receivers = Vec::with_capacity(names.len());
    for (i, name) in names.iter().enumerate() {
        let account = PlatformAccount::parse(name)
            .ok_or_else(|| anyhow!("wallet.payment_receivers[{i}]: {name:?} is not a platform account's name"))?;
        ensure!(
            !matches!(account, PlatformAccount::SubsidyFunding(_)),
            "wallet.payment_receivers[{i}]: an enterprise's subsidy fund does not receive payments"
        );
        ensure!(!receivers.contains(&account), "wallet.payment_receivers[{i}]: {name:?} is listed twice");
        receivers.push(account);
    }
    Ok(receivers)
}

fn fee_rule(fee: Option<FeeFile>) -> anyhow::Result<FeeRule> {
    let Some(fee) = fee else { return Ok(FeeRule::Free) };
    let rule = match (fee.fixed, fee.rate_basis_points) {
        (Some(fixed), None) => {
            ensure!(fee.minimum.is_none() && fee.maximum.is_none(), "a fixed fee has no minimum or maximum");
            FeeRule::fixed(fixed)
        }
        (None, Some(bp)) => FeeRule::rate(bp, fee.minimum.unwrap_or(0), fee.maximum),
        (Some(_), Some(_)) => bail!("a fee is fixed or a rate, not both"),
        (None, None) => bail!("a fee gives fixed or rate_basis_points (leave the fee out for none)"),
    };
    rule.map_err(|e| anyhow!("{}", e.message()))
}

fn fee_payer(text: Option<&str>, default: FeePayer) -> anyhow::Result<FeePayer> {
    match text {
        None => Ok(default),
        Some("member") => Ok(FeePayer::Member),
        Some("platform") => Ok(FeePayer::Platform),
        Some(other) => bail!("{other:?} is not \"member\" or \"platform\""),
    }
}

/// A configured account type in the wallet's currency.
fn account_type(
    code: &str,
    currency: Currency,
    account_types: &AccountTypes,
    key: &str,
) -> anyhow::Result<AccountTypeCode> {
    let parsed = AccountTypeCode::parse(code).map_err(|e| anyhow!("{key}: {}", e.message()))?;
    match account_types.get(&parsed) {
        Some(t) if t.currency() == currency => Ok(parsed),
        Some(t) => bail!(
            "{key}: the account type {code:?} holds {}, not the wallet's {}",
            t.currency().code(),
            currency.code()
        ),
        None => bail!("{key}: no account type {code:?} is configured ([[account_types]])"),
    }
}

/// An RFC 3339 instant, as a TOML offset date-time or a string.
fn timestamp(value: &toml::Value) -> anyhow::Result<Timestamp> {
    let text = match value {
        toml::Value::String(s) => s.clone(),
        toml::Value::Datetime(d) => d.to_string(),
        other => bail!("{} is not a date-time", other.type_str()),
    };
    Timestamp::parse_rfc3339(&text)
        .ok_or_else(|| anyhow!("{text:?} is not an RFC 3339 date-time with an offset (2025-01-01T00:00:00+08:00)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> anyhow::Result<(WalletConfig, u64)> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct File {
            wallet: Option<WalletFile>,
        }
        let file: File = toml::from_str(text).map_err(|e| anyhow!("{e}"))?;
        wallet_config(file.wallet, &AccountTypes::default_set(Currency::parse("CNY").unwrap()))
            .map(|(config, interval, _)| (config, interval))
    }

    fn refusal(text: &str) -> String {
        format!("{:#}", parse(text).expect_err("refused"))
    }

    #[test]
    fn no_section_is_the_default_wallet_in_cny() {
        let (config, interval) = parse("").unwrap();
        let default = WalletConfig::default_for(Currency::parse("CNY").unwrap());
        assert_eq!(config.currency, default.currency);
        let names: Vec<&str> = config.channels.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["alipay", "wechat", "bank_transfer"]);
        assert_eq!((config.recharge_expiry_s, config.recharge_query_after_s), (1800, 300));
        assert_eq!(config.withdrawal, default.withdrawal);
        assert_eq!(config.pay_password, PayPasswordRule::NotRequired);
        assert_eq!(config.payment_receivers, [PlatformAccount::FeeIncome], "the platform's revenue account");
        assert_eq!(interval, DEFAULT_RECHARGE_COMPENSATION_INTERVAL_S);
    }

    #[test]
    fn every_key_of_the_section_is_read() {
        let (config, interval) = parse(
            r#"
[wallet]
currency = "CNY"
recharge_expiry_s = 900
recharge_query_after_s = 120
recharge_compensation_interval_s = 15
recharge_account_type = "settlement"
bonus_account_type = "subsidy"
pay_password_required = true
adjustment_approval_from = 0
payment_receivers = ["fee_income", "channel:alipay"]
channel_status_allow_private_targets = true
channel_status_allow_plain_http = true

[wallet.withdrawal]
minimum = 200
fee = { rate_basis_points = 10, minimum = 10, maximum = 2500 }
fee_payer = "platform"
auto_approve_below = 0
hold_timeout_s = 86400

[wallet.transfer_limits]
per_transfer = 500000
per_day = 2000000

[[wallet.channels]]
name = "alipay"
fee = { rate_basis_points = 60 }
status_url = "http://gateway.internal:9000/alipay/status"

[[wallet.channels]]
name = "bank_transfer"
review_required = true
fee = { fixed = 50 }
fee_payer = "member"

[[wallet.recharge_tiers]]
pay = 10000
bonus = 1000
starts_at = 2025-01-01T00:00:00+08:00
ends_at = "2025-02-01T00:00:00+08:00"
"#,
        )
        .unwrap();
        assert_eq!(interval, 15);
        assert_eq!((config.recharge_expiry_s, config.recharge_query_after_s), (900, 120));
        assert_eq!(config.recharge_account_type.as_str(), "settlement");
        assert_eq!(config.bonus_account_type.as_str(), "subsidy");
        assert_eq!(config.pay_password, PayPasswordRule::Required);
        assert_eq!(config.adjustment_approval_from, 0);
        let receivers = [PlatformAccount::FeeIncome, PlatformAccount::Clearing("alipay".to_owned())];
        assert_eq!(config.payment_receivers, receivers);
        let cny = Currency::parse("CNY").unwrap();
        let fee = FeeRule::rate(10, 10, Some(2500)).unwrap();
        assert_eq!(config.withdrawal, WithdrawalPolicy::new(cny, 200, fee, FeePayer::Platform).unwrap());
        assert_eq!((config.withdrawal_auto_approve_below, config.withdrawal_hold_timeout_s), (0, 86_400));
        assert_eq!(config.transfer_limits, TransferLimits::new(cny, Some(500_000), Some(2_000_000)).unwrap());
        assert_eq!(config.channels.len(), 2, "the file's channels replace the defaults");
        let alipay = &config.channels[0];
        assert_eq!(alipay.fee, FeeRule::rate(60, 0, None).unwrap());
        assert_eq!((alipay.review, alipay.fee_payer), (ChannelReview::NotRequired, FeePayer::Platform));
        assert_eq!(alipay.status_url.as_deref(), Some("http://gateway.internal:9000/alipay/status"));
        let bank = &config.channels[1];
        assert_eq!(
            (bank.review, bank.fee, bank.fee_payer),
            (ChannelReview::Required, FeeRule::fixed(50).unwrap(), FeePayer::Member)
        );
        assert_eq!(bank.status_url, None);
        // 2025-01-01T00:00:00+08:00 is 2024-12-31T16:00:00Z.
        let inside = Timestamp::parse_rfc3339("2024-12-31T16:00:00Z").unwrap();
        let before = Timestamp::from_nanos(inside.nanos() - 1);
        let ten = sanhu_core::Amount::new(10_000).unwrap();
        assert_eq!(config.recharge_tiers.applicable(ten, inside).map(|t| t.bonus()), Some(1000));
        assert!(config.recharge_tiers.applicable(ten, before).is_none());
    }

    #[test]
    fn an_enterprise_subsidy_fund_is_not_a_payment_receiver() {
        let member = sanhu_core::id::MemberId::from_u128(1).unwrap();
        let refused = refusal(&format!("[wallet]\npayment_receivers = [\"subsidy:{member}\"]"));
        assert!(refused.contains("wallet.payment_receivers[0]: an enterprise's subsidy fund"), "{refused}");
    }

    #[test]
    fn a_value_no_rule_accepts_is_refused_naming_its_key() {
        let cases = [
            ("[wallet]\ncurrency = \"XXX\"", "wallet.currency"),
            ("[wallet]\nrecharge_expiry_s = 0", "wallet.recharge_expiry_s"),
            ("[wallet]\nrecharge_query_after_s = 1800", "wallet.recharge_query_after_s"),
            ("[wallet]\nrecharge_compensation_interval_s = 0", "wallet.recharge_compensation_interval_s"),
            ("[wallet]\nrecharge_account_type = \"points\"", "wallet.recharge_account_type"),
            ("[wallet]\nbonus_account_type = \"Bonus!\"", "wallet.bonus_account_type"),
            ("[wallet]\nadjustment_approval_from = -1", "wallet.adjustment_approval_from"),
            ("[wallet]\npayment_receivers = [\"till\"]", "wallet.payment_receivers[0]"),
            ("[wallet]\npayment_receivers = [\"fee_income\", \"fee_income\"]", "wallet.payment_receivers[1]"),

            ("[wallet.withdrawal]\nminimum = -1", "wallet.withdrawal.minimum"),
            ("[wallet.withdrawal]\nfee = { fixed = 0 }", "wallet.withdrawal.fee"),
            ("[wallet.withdrawal]\nfee_payer = \"merchant\"", "wallet.withdrawal.fee_payer"),
            ("[wallet.withdrawal]\nhold_timeout_s = 2592001", "wallet.withdrawal.hold_timeout_s"),
            ("[wallet.withdrawal]\nauto_approve_below = -5", "wallet.withdrawal.auto_approve_below"),
            ("[wallet.transfer_limits]\nper_day = 0", "wallet.transfer_limits"),
            ("[[wallet.channels]]\nname = \"Ali Pay\"", "wallet.channels[0]: name"),
            ("[[wallet.channels]]\nname = \"a\"\n[[wallet.channels]]\nname = \"a\"", "wallet.channels[1].name"),
            ("[[wallet.channels]]\nname = \"a\"\nfee = { rate_basis_points = 0 }", "wallet.channels[0]: fee"),
            ("[[wallet.channels]]\nname = \"a\"\nfee = { fixed = 5, rate_basis_points = 5 }", "wallet.channels[0]: fee"),
            ("[[wallet.channels]]\nname = \"a\"\nfee = {}", "wallet.channels[0]: fee"),
            ("[[wallet.channels]]\nname = \"a\"\nstatus_url = \"http://x/status\"", "wallet.channels[0]: status_url"),
            ("[[wallet.channels]]\nname = \"a\"\nstatus_url = \"gateway/status\"", "wallet.channels[0]: status_url"),
            (
                "[[wallet.recharge_tiers]]\npay = 100\nbonus = 1\nstarts_at = \"soon\"\nends_at = \"2025-01-01T00:00:00Z\"",
                "wallet.recharge_tiers[0]: starts_at",
            ),
            (
                "[[wallet.recharge_tiers]]\npay = 100\nbonus = -1\nstarts_at = 2025-01-01T00:00:00Z\nends_at = 2025-02-01T00:00:00Z",
                "wallet.recharge_tiers[0]",
            ),
        ];
        for (text, key) in cases {
            let message = refusal(text);
            assert!(message.contains(key), "{text:?} names {key}: {message}");
        }
        // A misspelt key is named by the file's parser.
        assert!(refusal("[wallet]\nrecharge_expiry = 60").contains("recharge_expiry"));
        assert!(refusal("[wallet.withdrawal]\nfees = 1").contains("fees"));
    }
}
