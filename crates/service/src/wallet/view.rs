//! A member's wallet (钱包): its accounts in the wallet's currency, with core's figures (balance,
//! available, frozen, withdrawable, debt, each account's part), and the member's own deduction order.

use sanhu_core::id::MemberId;
use sanhu_core::party::{Actor, MemberAccountStatus};
use sanhu_core::wallet::{AccountOrder, Wallet, WalletView};
use sanhu_core::AccountId;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::id_text;
use super::records::json_document;
use super::Wallets;
use crate::party::members::load_member;
use crate::wallet::WalletFailure;

/// A member's chosen deduction order (扣款顺序), one record per member.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct DeductionOrderRecord {
    id: String,
    customer_id: String,
    #[serde(with = "id_text")]
    member_id: MemberId,
    accounts: Vec<String>,
}
json_document!(DeductionOrderRecord, "deduction_order");

fn deduction_order_id(member: MemberId) -> String {
    format!("deduction_order:{member}")
}

impl Wallets {
    /// The member's wallet: its open accounts in the wallet's currency, as the ledger holds them now.
    pub async fn load_wallet(&self, member: MemberId) -> Result<Wallet, WalletFailure> {
        let accounts = self.parties.member_accounts(member).await?;
        let ledger = accounts
            .into_iter()
            .filter(|a| a.account.status != MemberAccountStatus::Closed && a.ledger.currency == self.config.currency)
            .map(|a| a.ledger)
            .collect();
        Ok(Wallet::from_ledger(self.config.currency, ledger, &self.parties.config().account_types)?)
    }

    /// The member's wallet as they see it: total balance, available, frozen, withdrawable, debt, and
    /// each account's part.
    pub async fn wallet(&self, member: MemberId) -> Result<WalletView, WalletFailure> {
        Ok(self.load_wallet(member).await?.view(&self.config.withdrawal)?)
    }

    /// The member's deduction order: their own if they set one, else the account types' priority.
    pub async fn deduction_order(&self, member: MemberId) -> Result<AccountOrder, WalletFailure> {
        let mut work = self.parties.reader();
        match work.get::<DeductionOrderRecord>(&deduction_order_id(member)).await? {
            None => Ok(AccountOrder::by_type_priority()),
            Some(record) => {
                let ids = record.accounts.iter().filter_map(|a| AccountId::parse(a)).collect::<Vec<_>>();
                Ok(AccountOrder::chosen(ids)?)
            }
        }
    }

    /// Sets the member's own deduction order: these of their accounts first, in this order.
    pub async fn set_deduction_order(
        &self,
        member: MemberId,
        accounts: Vec<AccountId>,
        actor: &Actor,
    ) -> Result<AccountOrder, WalletFailure> {
        let order = AccountOrder::chosen(accounts.clone())?;
        let _turn = self.turn([super::wallet_key(member)]).await;
        order.check_against(&self.load_wallet(member).await?)?;
        transact!(&self.parties, |work| {
            let stored = load_member(work, member).await?;
            let id = deduction_order_id(member);
            work.get::<DeductionOrderRecord>(&id).await?;
            let record = DeductionOrderRecord {
                id: id.clone(),
                customer_id: stored.member.customer().to_string(),
                member_id: member,
                accounts: accounts.iter().map(ToString::to_string).collect(),
            };
            work.put(&record);
            work.history(
                &id,
                &record.customer_id,
                "wallet.deduction_order_set",
                actor,
                None,
                json!({ "accounts": record.accounts }),
            );
            Ok(order.clone())
        })
    }
}
