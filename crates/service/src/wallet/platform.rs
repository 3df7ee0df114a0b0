//! The platform's own accounts (平台账户): the other side of every movement of members' money.
//!
//! | name | side | what its balance is |
//! |---|---|---|
//! | `channel:<name>` | debit | money a payment channel (Alipay, WeChat Pay, a bank) holds for the platform: recharges in, fees out |
//! | `fee_income` | credit | fees the platform earned (withdrawal fees members pay) |
//! | `fee_expense` | debit | fees the platform bore (channel fees it pays, withdrawal fees it waives) |
//! | `marketing_expense` | debit | bonuses given (recharge tiers), less bonuses taken back |
//! | `withdrawals_in_transit` | credit | money owed to members' bank cards, paid out by the channel |
//! | `seized` | credit | frozen money seized (judicial deduction), owed to whoever ordered it |
//! | `adjustments` | debit | manual corrections' net effect |
//! | `deposits` | credit | renters' deposits: held on their wallets, and what a capture takes passed on to the beneficiary in the same chain (zero between captures) |
//! | `subsidy:<mem_…>` | debit | subsidies an enterprise funded for its members (created when first needed) |
//!
//! Debit-normal accounts are what the platform has or spent (assets, expenses): a debit raises them.
//! Credit-normal accounts are what it owes or earned (liabilities, income), like members' accounts.
//! None of them is limited: a platform account never refuses a movement for want of balance (a
//! credit-normal one is debited by holds before the credit that balances it is posted).
//!
//! **Ids.** A platform account's id is derived from its name and currency (SHA-256), so every instance
//! knows it without reading anything; its record (`platform_account:<name>`) is created in the same
//! party write as its ledger account, and a second instance creating it at the same time meets the
//! record's version and finds it made.

use anyhow::anyhow;
use sanhu_core::id::MemberId;
use sanhu_core::ledger::{Account, AccountFlags, BalanceLimit, Counters, NormalSide};
use sanhu_core::party::Actor;
use sanhu_core::{AccountId, Currency, Timestamp};
use sanhu_store::party::PartyStore;
use sanhu_store::LedgerStore;
use serde::{Deserialize, Serialize};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::records::json_document;
use super::Wallets;
use crate::wallet::WalletFailure;

/// One of the platform's accounts, by what it is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PlatformAccount {
    /// A payment channel's clearing account.
    Clearing(String),
    FeeIncome,
    FeeExpense,
    MarketingExpense,
    WithdrawalsInTransit,
    Seized,
    Adjustments,
    /// Deposits (押金) held on payers' wallets, and captures on their way to the beneficiary.
    Deposits,
    /// An enterprise's subsidy funding.
    SubsidyFunding(MemberId),
    /// Income from expired member cards' balances forfeited as their types say (过期余额).
    CardForfeits,
}

impl PlatformAccount {
    pub fn name(&self) -> String {
        match self {
            PlatformAccount::Clearing(channel) => format!("channel:{channel}"),
            PlatformAccount::FeeIncome => "fee_income".to_owned(),
            PlatformAccount::FeeExpense => "fee_expense".to_owned(),
            PlatformAccount::MarketingExpense => "marketing_expense".to_owned(),
            PlatformAccount::WithdrawalsInTransit => "withdrawals_in_transit".to_owned(),
            PlatformAccount::Seized => "seized".to_owned(),
            PlatformAccount::Adjustments => "adjustments".to_owned(),
            PlatformAccount::Deposits => "deposits".to_owned(),
            PlatformAccount::SubsidyFunding(member) => format!("subsidy:{member}"),
            PlatformAccount::CardForfeits => "card_forfeits".to_owned(),
        }
    }

    /// The account [`PlatformAccount::name`] names, if it names one.
    pub fn parse(name: &str) -> Option<PlatformAccount> {
        if let Some(channel) = name.strip_prefix("channel:") {
            return (!channel.is_empty()).then(|| PlatformAccount::Clearing(channel.to_owned()));
        }
        if let Some(member) = name.strip_prefix("subsidy:") {
            return MemberId::parse(member).map(PlatformAccount::SubsidyFunding);
        }
        Some(match name {
            "fee_income" => PlatformAccount::FeeIncome,
            "fee_expense" => PlatformAccount::FeeExpense,
            "marketing_expense" => PlatformAccount::MarketingExpense,
            "withdrawals_in_transit" => PlatformAccount::WithdrawalsInTransit,
            "seized" => PlatformAccount::Seized,
            "adjustments" => PlatformAccount::Adjustments,
            "card_forfeits" => PlatformAccount::CardForfeits,
            _ => return None,
        })
    }

    pub fn normal_side(&self) -> NormalSide {
        match self {
            PlatformAccount::FeeIncome
            | PlatformAccount::WithdrawalsInTransit
            | PlatformAccount::Seized
            | PlatformAccount::Deposits
            | PlatformAccount::CardForfeits => NormalSide::Credit,
            _ => NormalSide::Debit,
        }
    }

    /// The account's id in `currency`, derived from its name.
    pub fn id(&self, currency: Currency) -> AccountId {
        let mut hasher = Sha256::new();
        hasher.update(b"sanhu.platform_account\n");
        hasher.update(self.name().as_bytes());
        hasher.update(b"\n");
        hasher.update(currency.code().as_bytes());
        let digest = hasher.finalize();
        let mut bytes = [0u8; 16];
        bytes.copy_from_slice(&digest[..16]);
        AccountId::from_u128(u128::from_be_bytes(bytes).max(1)).expect("not zero")
    }
}

/// A platform account as listed: its name and its ledger account (balances).
#[derive(Clone, Debug)]
pub struct PlatformAccountView {
    pub name: String,
    pub account: Account,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct PlatformAccountRecord {
    id: String,
    customer_id: String,
    name: String,
    account_id: String,
    normal_side: String,
    currency: String,
}
json_document!(PlatformAccountRecord, "platform_account");

impl Wallets {
    /// Creates the platform's accounts that every platform has (a clearing account per configured
    /// channel, fee income and expense, marketing expense, withdrawals in transit, seized, adjustments),
    /// those that exist being left as they are. Call at start; safe on several instances at once.
    pub async fn ensure_platform_accounts(&self) -> Result<Vec<AccountId>, WalletFailure> {
        let mut all: Vec<PlatformAccount> =
            self.config.channels.iter().map(|c| PlatformAccount::Clearing(c.name.clone())).collect();
        all.extend([
            PlatformAccount::FeeIncome,
            PlatformAccount::FeeExpense,
            PlatformAccount::MarketingExpense,
            PlatformAccount::WithdrawalsInTransit,
            PlatformAccount::Seized,
            PlatformAccount::Adjustments,
        ]);
        let mut ids = Vec::with_capacity(all.len());
        for account in &all {
            ids.push(self.ensure_platform_account(account).await?);
        }
        Ok(ids)
    }

    /// The platform account's id, creating it first if it does not exist yet.
    pub async fn ensure_platform_account(&self, which: &PlatformAccount) -> Result<AccountId, WalletFailure> {
        let currency = self.config.currency;
        let account_id = which.id(currency);
        if self.parties.store().get_account(account_id).await?.is_some() {
            return Ok(account_id);
        }
        let name = which.name();
        let record_id = format!("platform_account:{name}");
        transact!(&self.parties, |work| {
            if work.get::<PlatformAccountRecord>(&record_id).await?.is_some() {
                return Ok(account_id);
            }
            let side = which.normal_side();
            work.create_ledger_account(Account {
                id: account_id,
                currency,
                normal_side: side,
                limit: BalanceLimit::Unlimited,
                flags: AccountFlags::default(),
                counters: Counters::default(),
                code: "platform".to_owned(),
                metadata: json!({ "platform_account": name }).to_string(),
                created_at: work.now,
                last_transfer_at: Timestamp::default(),
            });
            work.put(&PlatformAccountRecord {
                id: record_id.clone(),
                customer_id: String::new(),
                name: name.clone(),
                account_id: account_id.to_string(),
                normal_side: side.as_str().to_owned(),
                currency: currency.code().to_owned(),
            });
            work.history(
                &record_id,
                "",
                "platform_account.created",
                &Actor::System,
                None,
                json!({ "name": name, "account": account_id.to_string(), "side": side.as_str() }),
            );
            Ok(account_id)
        })
    }

    /// The platform's accounts with their balances, by name.
    pub async fn platform_accounts(&self) -> Result<Vec<PlatformAccountView>, WalletFailure> {
        let store = self.parties.store();
        let mut records = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = store.party_list("platform_account", after.as_deref(), 500).await?;
            let done = page.len() < 500;
            after = page.last().map(|r| r.id.clone());
            for record in page {
                let doc: PlatformAccountRecord =
                    <PlatformAccountRecord as crate::party::documents::Document>::decode(&record.data)?;
                records.push(doc);
            }
            if done {
                break;
            }
        }
        let ids = records
            .iter()
            .map(|r| AccountId::parse(&r.account_id).ok_or_else(|| anyhow!("stored account id {:?}", r.account_id)))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let accounts = store.get_accounts(&ids).await?;
        let mut views: Vec<PlatformAccountView> = records
            .into_iter()
            .zip(ids)
            .filter_map(|(r, id)| {
                let account = accounts.iter().find(|a| a.id == id)?.clone();
                Some(PlatformAccountView { name: r.name, account })
            })
            .collect();
        views.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(views)
    }
}
