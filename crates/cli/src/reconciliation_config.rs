//! Channels' statement layouts in `sanhu.toml` (`[[reconciliation.channels]]`), for reconciling a
//! channel's daily file (`sanhu_core::reconciliation`). A wallet channel without one is read with the
//! common layout; a channel that pays out withdrawals is configured here with `payouts = true`.
//! Checked at start: a mistake names its key (`reconciliation.channels[0].amount: ...`).
//!
//! ```toml
//! [[reconciliation.channels]]
//! name = "wechat"                  # as the recharges name it
//! delimiter = ","                  # default ","
//! header_rows = 1                  # default 1; columns named by the last header row
//! footer_rows = 2                  # default 0 (WeChat Pay's totals)
//! order_number = "商户订单号"      # a header name, or a column number (1 is the first)
//! refund_number = "商户退款单号"
//! transaction_id = "微信订单号"
//! amount = "订单金额"
//! refund_amount = "退款金额"       # a refund line's amount, where it is kept apart
//! amount_unit = "yuan"             # or "fen"
//! time = "交易时间"
//! status = "交易状态"
//! success_values = ["SUCCESS", "REFUND"]
//! kind = "交易状态"                # the column telling a refund or a payout from a recharge
//! refund_values = ["REFUND"]
//! payout_values = []
//! default_kind = "recharge"        # or "payout"
//! payouts = false                  # this channel pays out sanhu's withdrawals
//! ```

use anyhow::{bail, Context};
use sanhu_core::reconciliation::{AmountUnit, ChannelLayout, Column, LineKind};
use sanhu_service::wallet::WalletConfig;
use serde::Deserialize;

/// `[reconciliation]`.
#[derive(Deserialize, Default, Debug)]
#[serde(deny_unknown_fields)]
pub struct ReconciliationFile {
    channels: Option<Vec<LayoutFile>>,
}

/// A column: a header name or a number.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum ColumnFile {
    Number(usize),
    Header(String),
}

impl From<ColumnFile> for Column {
    fn from(c: ColumnFile) -> Column {
        match c {
            ColumnFile::Number(n) => Column::Number(n),
            ColumnFile::Header(name) => Column::Header(vec![name]),
        }
    }
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct LayoutFile {
    name: String,
    #[serde(default)]
    payouts: bool,
    delimiter: Option<String>,
    header_rows: Option<usize>,
    footer_rows: Option<usize>,
    order_number: Option<ColumnFile>,
    refund_number: Option<ColumnFile>,
    transaction_id: Option<ColumnFile>,
    amount: Option<ColumnFile>,
    refund_amount: Option<ColumnFile>,
    amount_unit: Option<String>,
    time: Option<ColumnFile>,
    status: Option<ColumnFile>,
    success_values: Option<Vec<String>>,
    kind: Option<ColumnFile>,
    refund_values: Option<Vec<String>>,
    payout_values: Option<Vec<String>>,
    default_kind: Option<String>,
}

impl LayoutFile {
    fn into_layout(self) -> anyhow::Result<ChannelLayout> {
        let mut layout = ChannelLayout::default_for(&self.name);
        layout.payouts = self.payouts;
        if let Some(delimiter) = self.delimiter {
            let mut chars = delimiter.chars();
            match (chars.next(), chars.next()) {
                (Some(c), None) => layout.delimiter = c,
                _ => bail!("delimiter: one character (\",\", \"|\", \"\\t\")"),
            }
        }
        layout.header_rows = self.header_rows.unwrap_or(layout.header_rows);
        layout.footer_rows = self.footer_rows.unwrap_or(layout.footer_rows);
        if let Some(c) = self.order_number {
            layout.order_number = c.into();
        }
        if let Some(c) = self.amount {
            layout.amount = c.into();
        }
        // A configured column replaces the common layout's guesses; the others keep them.
        layout.refund_number = self.refund_number.map(Column::from).or(layout.refund_number);
        layout.transaction_id = self.transaction_id.map(Column::from).or(layout.transaction_id);
        layout.refund_amount = self.refund_amount.map(Column::from);
        layout.time = self.time.map(Column::from).or(layout.time);
        layout.status = self.status.map(Column::from).or(layout.status);
        layout.kind = self.kind.map(Column::from).or(layout.kind);
        layout.amount_unit = match self.amount_unit.as_deref() {
            None | Some("yuan") => AmountUnit::Yuan,
            Some("fen") => AmountUnit::Fen,
            Some(other) => bail!("amount_unit: \"yuan\" or \"fen\", not {other:?}"),
        };
        if let Some(values) = self.success_values {
            layout.success_values = values;
        }
        if let Some(values) = self.refund_values {
            layout.refund_values = values;
        }
        if let Some(values) = self.payout_values {
            layout.payout_values = values;
        }
        layout.default_kind = match self.default_kind.as_deref() {
            None => {
                if layout.payouts {
                    LineKind::Payout
                } else {
                    LineKind::Recharge
                }
            }
            Some(text) => match LineKind::parse(text) {
                Some(kind @ (LineKind::Recharge | LineKind::Payout)) => kind,
                _ => bail!("default_kind: \"recharge\" or \"payout\", not {text:?}"),
            },
        };
        layout.check().map_err(anyhow::Error::msg)?;
        Ok(layout)
    }
}

/// Puts the file's layouts into the wallet's configuration, checked: each names a wallet channel or
/// is a payout channel, once.
pub fn apply(file: Option<ReconciliationFile>, wallet: &mut WalletConfig) -> anyhow::Result<()> {
    let Some(channels) = file.and_then(|f| f.channels) else { return Ok(()) };
    let mut layouts: Vec<ChannelLayout> = Vec::with_capacity(channels.len());
    for (i, channel) in channels.into_iter().enumerate() {
        let layout = channel.into_layout().with_context(|| format!("reconciliation.channels[{i}]"))?;
        if !layout.payouts && !wallet.channels.iter().any(|c| c.name == layout.channel) {
            bail!(
                "reconciliation.channels[{i}].name: {:?} is not a wallet channel ([[wallet.channels]]); a channel that \
                 pays out withdrawals says payouts = true",
                layout.channel
            );
        }
        if layouts.iter().any(|l| l.channel == layout.channel) {
            bail!("reconciliation.channels[{i}].name: the channel {:?} is configured twice", layout.channel);
        }
        layouts.push(layout);
    }
    wallet.reconciliation = layouts;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> anyhow::Result<WalletConfig> {
        #[derive(Deserialize)]
        struct Top {
            reconciliation: Option<ReconciliationFile>,
        }
        let top: Top = toml::from_str(text)?;
        let mut wallet = WalletConfig::default_for(sanhu_core::Currency::parse("CNY").unwrap());
        apply(top.reconciliation, &mut wallet)?;
        Ok(wallet)
    }

    #[test]
    fn a_wechat_like_and_a_bank_like_layout_are_read() {
        let wallet = read(
            r#"
            [[reconciliation.channels]]
            name = "wechat"
            footer_rows = 2
            amount = "订单金额"
            refund_amount = "退款金额"
            kind = "交易状态"

            [[reconciliation.channels]]
            name = "icbc_payouts"
            payouts = true
            delimiter = "|"
            order_number = 9
            amount = 7
            amount_unit = "fen"
            "#,
        )
        .unwrap();
        let wechat = &wallet.reconciliation[0];
        assert_eq!((wechat.footer_rows, wechat.default_kind), (2, LineKind::Recharge));
        assert_eq!(wechat.amount, Column::Header(vec!["订单金额".to_owned()]));
        let bank = &wallet.reconciliation[1];
        assert_eq!((bank.delimiter, bank.amount_unit, bank.default_kind), ('|', AmountUnit::Fen, LineKind::Payout));
        assert_eq!(bank.order_number, Column::Number(9));
    }

    #[test]
    fn a_mistake_names_its_key() {
        let cases = [
            ("[[reconciliation.channels]]\nname = \"paypal\"", "reconciliation.channels[0].name"),
            ("[[reconciliation.channels]]\nname = \"wechat\"\namount_unit = \"jiao\"", "reconciliation.channels[0]"),
            ("[[reconciliation.channels]]\nname = \"wechat\"\namount = 0", "reconciliation.channels[0]"),
            ("[[reconciliation.channels]]\nname = \"wechat\"\ndelimiter = \",,\"", "reconciliation.channels[0]"),
            (
                "[[reconciliation.channels]]\nname = \"wechat\"\n[[reconciliation.channels]]\nname = \"wechat\"",
                "reconciliation.channels[1].name",
            ),
        ];
        for (text, key) in cases {
            let error = format!("{:#}", read(text).unwrap_err());
            assert!(error.contains(key), "{text}: {error}");
        }
    }
}
