//! Member accounts (账户): opening one of a configured type (member → ledger account → member–account
//! relation → both ids), status changes reflected in the ledger's flags, closing, and listing with
//! balances.

use sanhu_core::id::{AccountId, MemberId};
use sanhu_core::ledger::{Account, AccountFlags, Counters};
use sanhu_core::party::{
    check_open_account, effective_flags, AccountType, AccountTypeCode, Actor, Member, MemberAccountStatus,
    MemberAction, Reason,
};
use sanhu_core::Timestamp;
use sanhu_store::LedgerStore;
use serde_json::json;

use super::customers::{load_customer, StoredCustomer};
pub use super::documents::MemberAccount;
use super::documents::StoredMember;
use super::error::{PartyError, MEMBER_ACCOUNT_NOT_FOUND};
use super::members::load_member;
use super::work::{Work, ACCOUNTS_OF_MEMBER};
use super::Parties;
use crate::clock;

/// A member account with its ledger account (counters and flags).
#[derive(Clone, Debug)]
pub struct AccountView {
    pub account: MemberAccount,
    pub ledger: Account,
}

impl Parties {
    /// Opens an account of a configured type for an active member: a ledger account of the type's
    /// currency, side and limit, then the member–account relation, in one transaction.
    pub async fn open_account(
        &self,
        member_id: MemberId,
        code: &AccountTypeCode,
        actor: &Actor,
    ) -> Result<AccountView, PartyError> {
        transact!(self, |work| {
            let stored = load_member(work, member_id).await?;
            let customer = load_customer(work, stored.member.customer()).await?;
            stored.member.check_action(MemberAction::OpenAccount, customer.customer.status())?;
            let accounts: Vec<MemberAccount> = work.indexed(ACCOUNTS_OF_MEMBER, &member_id.to_string()).await?;
            let open_of_type = accounts
                .iter()
                .filter(|a| a.account_type == code.as_str() && a.status != MemberAccountStatus::Closed)
                .count();
            let account_type =
                check_open_account(&self.config.account_types, code, &stored.member, open_of_type as u16)?;
            // Written again (its activity recorded) so that two openings at once cannot both count the
            // same accounts: the second write meets the first's version and decides again.
            let (member, _) = stored.member.clone().record_activity(work.now);
            let member = StoredMember { member, ..stored };
            work.put(&member);
            let (account, ledger) = open_account_in(work, &member.member, &customer, account_type, actor);
            Ok(AccountView { account, ledger })
        })
    }

    /// A member's accounts with their balances, in the order they were opened.
    pub async fn member_accounts(&self, member_id: MemberId) -> Result<Vec<AccountView>, PartyError> {
        let mut work = self.reader();
        load_member(&mut work, member_id).await?;
        let accounts: Vec<MemberAccount> = work.indexed(ACCOUNTS_OF_MEMBER, &member_id.to_string()).await?;
        let ids: Vec<AccountId> = accounts.iter().map(|a| a.account_id).collect();
        let ledger = self.store.get_accounts(&ids).await?;
        Ok(accounts
            .into_iter()
            .filter_map(|account| {
                let ledger = ledger.iter().find(|l| l.id == account.account_id)?.clone();
                Some(AccountView { account, ledger })
            })
            .collect())
    }

    pub async fn get_member_account(&self, account_id: AccountId) -> Result<AccountView, PartyError> {
        let mut work = self.reader();
        let account = load_account(&mut work, account_id).await?;
        let ledger = self.store.get_account(account_id).await?.ok_or(PartyError::NotFound(MEMBER_ACCOUNT_NOT_FOUND))?;
        Ok(AccountView { account, ledger })
    }

    /// Sets an account's own status (normal, frozen, stop-payment); the ledger's flags become what
    /// this status and the customer's make together.
    pub async fn change_account_status(
        &self,
        account_id: AccountId,
        to: MemberAccountStatus,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<MemberAccount, PartyError> {
        transact!(self, |work| {
            let account = load_account(work, account_id).await?;
            let customer = load_customer(work, account.customer_id).await?;
            let record = account.status.change_to(to, work.change(actor, reason))?;
            let account = MemberAccount { status: to, ..account };
            work.put(&account);
            work.set_ledger_flags(account_id, effective_flags(to, customer.customer.status()), false);
            work.history(
                &account_id.to_string(),
                &account.customer_id.to_string(),
                "account.status_changed",
                actor,
                Some(reason),
                json!({ "from": record.from().as_str(), "to": record.to().as_str() }),
            );
            Ok(account)
        })
    }

    /// Closes an account: only at zero balance with nothing pending (checked again by the store under
    /// the account's lock, so money arriving meanwhile stops the close).
    pub async fn close_account(
        &self,
        account_id: AccountId,
        actor: &Actor,
        reason: &Reason,
    ) -> Result<MemberAccount, PartyError> {
        transact!(self, |work| {
            let account = load_account(work, account_id).await?;
            let customer = load_customer(work, account.customer_id).await?;
            let ledger =
                work.store().get_account(account_id).await?.ok_or(PartyError::NotFound(MEMBER_ACCOUNT_NOT_FOUND))?;
            let record = account.status.close(&ledger, work.change(actor, reason))?;
            let account = MemberAccount { status: MemberAccountStatus::Closed, ..account };
            work.put(&account);
            let flags = effective_flags(MemberAccountStatus::Closed, customer.customer.status());
            work.set_ledger_flags(account_id, flags, true);
            work.history(
                &account_id.to_string(),
                &account.customer_id.to_string(),
                "account.closed",
                actor,
                Some(reason),
                json!({ "from": record.from().as_str(), "to": "closed" }),
            );
            Ok(account)
        })
    }
}

pub(crate) async fn load_account(work: &mut Work, id: AccountId) -> Result<MemberAccount, PartyError> {
    work.get::<MemberAccount>(&id.to_string()).await?.ok_or(PartyError::NotFound(MEMBER_ACCOUNT_NOT_FOUND))
}

/// Adds to `work` the opening of an account of `account_type` for `member`: the ledger account (with
/// the flags the customer's status calls for), the relation, its lookup and its history.
pub(crate) fn open_account_in(
    work: &mut Work,
    member: &Member,
    customer: &StoredCustomer,
    account_type: &AccountType,
    actor: &Actor,
) -> (MemberAccount, Account) {
    let account_id: AccountId = clock::new_id();
    let status = MemberAccountStatus::Normal;
    let flags: AccountFlags = effective_flags(status, customer.customer.status());
    let ledger = Account {
        id: account_id,
        currency: account_type.currency(),
        normal_side: account_type.normal_side(),
        limit: account_type.ledger_limit(),
        flags,
        counters: Counters::default(),
        code: account_type.code().as_str().to_owned(),
        metadata: json!({ "member_id": member.id().to_string() }).to_string(),
        created_at: work.now,
        last_transfer_at: Timestamp::default(),
    };
    let account = MemberAccount {
        account_id,
        member_id: member.id(),
        customer_id: member.customer(),
        account_type: account_type.code().as_str().to_owned(),
        status,
        opened_at: work.now,
    };
    work.create_ledger_account(ledger.clone());
    work.put(&account);
    let member_key = member.id().to_string();
    work.index(ACCOUNTS_OF_MEMBER, &member_key, &account_id.to_string());
    work.history(
        &account_id.to_string(),
        &member.customer().to_string(),
        "account.opened",
        actor,
        None,
        json!({ "member": member_key, "type": account_type.code().as_str(), "currency": account_type.currency().code() }),
    );
    (account, ledger)
}
