//! Why money may not leave or enter a member's accounts, answered with the restriction's own code:
//! the customer frozen (`customer_frozen`) or stopped from paying (`customer_stop_payment`), banned or
//! merged; the member locked, cancelled or not active; the account frozen (`account_frozen`), stopped
//! from paying (`account_stop_payment`) or closed. The ledger's account flags enforce the money side
//! of these statuses on their own, but answer `debits_blocked`, `credits_blocked` or, through a wallet
//! whose blocked accounts count as empty, `insufficient_funds`: a caller told to top up a frozen
//! wallet. So every money use case checks the payer and the receiver here before it decides, and a
//! block the ledger still meets (a status set between the check and the chain) is named here after.

use sanhu_core::id::{CustomerId, MemberId};
use sanhu_core::ledger::{TransferAction, TransferError, TransferRequest};
use sanhu_core::party::product::PlatformProduct;
use sanhu_core::wallet::{Wallet, WalletError};
use sanhu_core::AccountId;
use sanhu_store::LedgerStore;

use super::Wallets;
use crate::party::accounts::load_account;
use crate::party::customers::load_customer;
use crate::party::Parties;
use crate::party::PartyError;
use crate::wallet::WalletFailure;

/// Which way money goes for the party checked.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Side {
    /// Money leaves its accounts.
    Pays,
    /// Money arrives in its accounts.
    Receives,
}

impl Wallets {
    /// Refuses a customer whose status blocks money going `side` (frozen; stop-payment when paying).
    /// The member's own checks (banned, locked, cancelled) are `member_acts`' and
    /// `member_may_receive`'s.
    pub(crate) async fn customer_may(&self, customer: CustomerId, side: Side) -> Result<(), WalletFailure> {
        let status = load_customer(&mut self.parties.reader(), customer).await?.customer.status();
        match side {
            Side::Pays => status.check_pays()?,
            Side::Receives => status.check_receives()?,
        }
        Ok(())
    }

    /// Refuses a member's account that may not receive: its member's (locked, cancelled, its customer
    /// banned), its customer's (frozen), its own status (frozen, closed) and, for a merchant's account,
    /// its merchant's (not active, or without `product` signed: the product the way money comes uses).
    /// Not a member account: nothing to refuse here. Every way money
    /// reaches a member's account (a payment, a capture, an escrow released, a deposit captured) asks
    /// this one place.
    pub(crate) async fn account_may_receive(
        &self,
        account: AccountId,
        product: PlatformProduct,
    ) -> Result<(), WalletFailure> {
        let mut reader = self.parties.reader();
        let record = match load_account(&mut reader, account).await {
            Ok(record) => record,
            Err(PartyError::NotFound(_)) => return Ok(()),
            Err(other) => return Err(other.into()),
        };
        crate::party::merchants::merchant_may_receive(&mut reader, account, product).await?;
        self.member_may_receive(record.member_id).await?;
        match self.account_restriction(account, Side::Receives).await? {
            Some(restriction) => Err(restriction),
            None => Ok(()),
        }
    }

    /// Refuses a member's account that may not pay (its customer frozen or stopped from paying, the
    /// account frozen, stopped from paying or closed), as a wallet refund's receiver is checked before
    /// it pays the refund back. Not a member account: nothing to refuse here.
    pub(crate) async fn account_may_pay(&self, account: AccountId) -> Result<(), WalletFailure> {
        match self.account_restriction(account, Side::Pays).await? {
            Some(restriction) => Err(restriction),
            None => Ok(()),
        }
    }

    pub(crate) async fn account_restriction(
        &self,
        account: AccountId,
        side: Side,
    ) -> Result<Option<WalletFailure>, WalletFailure> {
        account_restriction(&self.parties, account, side).await
    }

    pub(crate) async fn name_ledger_block(
        &self,
        refusal: Option<WalletFailure>,
        chain: &[TransferRequest],
    ) -> Result<Option<WalletFailure>, WalletFailure> {
        name_ledger_block(&self.parties, refusal, chain).await
    }

    /// A wallet rule's refusal (`refusal`) of `member`'s wallet, named by the restriction behind it
    /// when the blocks are why: `passes` (the same rule) passes on the wallet with its blocks lifted.
    /// Then the first blocked account's restriction is the answer; otherwise the rule's own refusal.
    pub(crate) async fn blocked_cause(
        &self,
        wallet: &Wallet,
        side: Side,
        refusal: WalletError,
        passes: impl Fn(&Wallet) -> bool,
    ) -> WalletFailure {
        if !passes(&wallet.without_blocks()) {
            return refusal.into();
        }
        for account in wallet.accounts() {
            let flags = account.account().flags;
            let blocked = match side {
                Side::Pays => flags.debits_blocked,
                Side::Receives => flags.credits_blocked,
            };
            if !blocked {
                continue;
            }
            match self.account_restriction(account.id(), side).await {
                Ok(Some(restriction)) => return restriction,
                Ok(None) => {}
                Err(other) => return other,
            }
        }
        refusal.into()
    }

    /// Refuses paying `member`'s money into an account of `member` itself or of another member of
    /// its customer (`same_wallet`): that would turn money that may not be withdrawn (a bonus, a
    /// subsidy) into money that may. A platform account is nobody's.
    pub(crate) async fn not_own_account(
        &self,
        member: MemberId,
        customer: CustomerId,
        receiver: AccountId,
    ) -> Result<(), WalletFailure> {
        let record = match load_account(&mut self.parties.reader(), receiver).await {
            Ok(record) => record,
            Err(PartyError::NotFound(_)) => return Ok(()),
            Err(other) => return Err(other.into()),
        };
        if record.member_id == member || record.customer_id == customer {
            return Err(WalletError::SameWallet.into());
        }
        Ok(())
    }

    /// Refuses money from a merchant's member to an account outside what its wallet is spent at
    /// (`member_scope_mismatch`: [`Parties::spends_at`]). A platform account receives from anyone.
    pub(crate) async fn spent_within_scope(
        &self,
        payer: &crate::party::StoredMember,
        receiver: AccountId,
    ) -> Result<(), WalletFailure> {
        if payer.scope.is_none() {
            return Ok(());
        }
        let record = match load_account(&mut self.parties.reader(), receiver).await {
            Ok(record) => record,
            Err(PartyError::NotFound(_)) => return Ok(()),
            Err(other) => return Err(other.into()),
        };
        if self.parties.spends_at(payer, record.member_id).await? {
            Ok(())
        } else {
            Err(WalletFailure::Rejected(super::MEMBER_SCOPE_MISMATCH))
        }
    }
}

/// What stops money going `side` through one member account, as its code: the customer's status
/// first (it covers every account), then the account's own. `None` for an account the statuses
/// let through, or one that is not a member account (a platform account is never blocked).
pub(crate) async fn account_restriction(
    parties: &Parties,
    account: AccountId,
    side: Side,
) -> Result<Option<WalletFailure>, WalletFailure> {
    let mut work = parties.reader();
    let record = match load_account(&mut work, account).await {
        Ok(record) => record,
        Err(PartyError::NotFound(_)) => return Ok(None),
        Err(other) => return Err(other.into()),
    };
    let customer = load_customer(&mut work, record.customer_id).await?.customer.status();
    let refused = match side {
        Side::Pays => customer
            .check_pays()
            .err()
            .map(WalletFailure::from)
            .or_else(|| record.status.check_pays().err().map(WalletFailure::from)),
        Side::Receives => customer
            .check_receives()
            .err()
            .map(WalletFailure::from)
            .or_else(|| record.status.check_receives().err().map(WalletFailure::from)),
    };
    Ok(refused)
}

/// The ledger's refusal of a chain, `debits_blocked` or `credits_blocked` named by the refused
/// party's restriction (a status set after the use case checked it): the first account of the
/// chain on the refused side whose statuses block it. Any other refusal, or a block no status
/// explains (flags set through the ledger's own API), is kept as it is.
pub(crate) async fn name_ledger_block(
    parties: &Parties,
    refusal: Option<WalletFailure>,
    chain: &[TransferRequest],
) -> Result<Option<WalletFailure>, WalletFailure> {
    let side = match refusal.as_ref().map(WalletFailure::code) {
        Some(code) if code == TransferError::DebitsBlocked.code() => Side::Pays,
        Some(code) if code == TransferError::CreditsBlocked.code() => Side::Receives,
        _ => return Ok(refusal),
    };
    for request in chain {
        let (debit, credit) = match request.action {
            TransferAction::Post { debit_account_id, credit_account_id, .. }
            | TransferAction::Hold { debit_account_id, credit_account_id, .. } => (debit_account_id, credit_account_id),
            TransferAction::PostPending { pending_id, .. }
            | TransferAction::VoidPending { pending_id }
            | TransferAction::ExpirePending { pending_id } => match parties.store().get_transfer(pending_id).await? {
                Some(hold) => (hold.debit_account_id, hold.credit_account_id),
                None => continue,
            },
        };
        let account = if side == Side::Pays { debit } else { credit };
        if let Some(restriction) = account_restriction(parties, account, side).await? {
            return Ok(Some(restriction));
        }
    }
    Ok(refusal)
}
