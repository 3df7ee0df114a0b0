//! The ledger's use cases: open accounts, move money, change account flags, read balances.

use sanhu_core::ledger::{
    Account, AccountCloseError, AccountFlags, BalanceLimit, Counters, NormalSide, Transfer, TransferRequest,
};
use sanhu_core::{AccountId, Currency, Timestamp};
use sanhu_store::{LedgerStore, Store};

use crate::clock;
use crate::writer::{TransferResults, Writer, WriterConfig, WriterError};

#[derive(Clone, Debug, Default)]
pub struct LedgerConfig {
    pub writer: WriterConfig,
}

/// What opening a ledger account takes; the id and counters are the ledger's.
#[derive(Clone, Debug)]
pub struct NewAccount {
    pub currency: Currency,
    pub normal_side: NormalSide,
    /// None: the side's default (no overdraft for credit-normal, unlimited for debit-normal).
    pub limit: Option<BalanceLimit>,
    pub code: String,
    pub metadata: String,
}

pub type SubmitError = WriterError;

/// The ledger service. Cheap to clone; clones share the store and the writer.
#[derive(Clone)]
pub struct Ledger {
    store: Store,
    writer: Writer,
}

impl Ledger {
    /// Starts the ledger's writer on the current runtime.
    pub fn start(store: Store, config: LedgerConfig) -> Ledger {
        let writer = Writer::start(store.clone(), config.writer);
        Ledger { store, writer }
    }

    /// The accounts the committed batches touched (for the balance monitors).
    pub fn tap(&self) -> &std::sync::Arc<crate::writer::LedgerTap> {
        self.writer.tap()
    }

    /// Submissions waiting for the batched writer.
    pub fn writer_queued(&self) -> usize {
        self.writer.queued()
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The same ledger reading from `store` (a standby): for [`crate::reads::Reads`] only, which
    /// reads through it and never submits.
    pub(crate) fn reading_from(&self, store: Store) -> Ledger {
        Ledger { store, writer: self.writer.clone() }
    }

    pub async fn open_account(&self, new: NewAccount) -> anyhow::Result<Account> {
        let now = clock::now();
        let account = Account {
            id: clock::new_id(),
            currency: new.currency,
            normal_side: new.normal_side,
            limit: new.limit.unwrap_or(Account::default_limit(new.normal_side)),
            flags: AccountFlags::default(),
            counters: Counters::default(),
            code: new.code,
            metadata: new.metadata,
            created_at: now,
            last_transfer_at: Timestamp::default(),
        };
        self.store.create_account(&account).await?;
        crate::effects::wrote();
        Ok(account)
    }

    /// Applies transfer requests through the batched writer; one result per request, in order.
    pub async fn submit(&self, requests: Vec<TransferRequest>) -> Result<TransferResults, SubmitError> {
        let results = self.writer.submit(requests).await?;
        if results.iter().any(Result::is_ok) {
            crate::effects::wrote();
        }
        Ok(results)
    }

    /// Submits one request.
    pub async fn submit_one(
        &self,
        request: TransferRequest,
    ) -> Result<Result<Transfer, sanhu_core::ledger::TransferError>, SubmitError> {
        let mut results = self.submit(vec![request]).await?;
        Ok(results.pop().expect("one result per request"))
    }

    /// Closes an account: only at zero balance with nothing pending. None if it does not exist.
    pub async fn close_account(&self, id: AccountId) -> anyhow::Result<Option<Result<Account, AccountCloseError>>> {
        self.store
            .update_account_flags(
                id,
                Box::new(|account: &Account| {
                    account.check_can_close()?;
                    Ok(AccountFlags { closed: true, ..account.flags })
                }),
            )
            .await
    }

    /// Blocks or unblocks debits and credits; `None` leaves a flag as it is. A closed account stays
    /// closed. None if the account does not exist.
    pub async fn set_account_blocks(
        &self,
        id: AccountId,
        debits_blocked: Option<bool>,
        credits_blocked: Option<bool>,
    ) -> anyhow::Result<Option<Result<Account, AccountCloseError>>> {
        self.store
            .update_account_flags(
                id,
                Box::new(move |account: &Account| {
                    if account.flags.closed {
                        return Err(AccountCloseError::AlreadyClosed);
                    }
                    Ok(AccountFlags {
                        debits_blocked: debits_blocked.unwrap_or(account.flags.debits_blocked),
                        credits_blocked: credits_blocked.unwrap_or(account.flags.credits_blocked),
                        closed: false,
                    })
                }),
            )
            .await
    }
}
