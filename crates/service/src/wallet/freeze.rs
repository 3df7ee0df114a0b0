//! Freezing an amount of a member's account (冻结) by an administrator or a judicial order, with a
//! reason: a hold from the account to the platform's `seized` account, without a timeout (a judicial
//! freeze lasts until lifted). Unfreezing voids it; seizing (扣划) posts it, and the money is the
//! platform's to hand over. Each step's transfer id is derived from the freeze and the step.

use sanhu_core::id::ClientId;
use sanhu_core::ledger::{TransferAction, TransferRequest};
use sanhu_core::party::{Actor, Reason};
use sanhu_core::{AccountId, Amount, Timestamp, TransferId};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::chain::{self, derived_id, id_text, store_chain, InFlight, StoredRequest};
use super::error::*;
use super::platform::PlatformAccount;
use super::records::{json_document, order_record_id, time_ns, OrderNumber};
use super::Wallets;
use crate::party::work::Work;
use crate::party::PartyError;
use crate::wallet::WalletFailure;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum FreezeStatus {
    Freezing,
    Frozen,
    Unfreezing,
    Unfrozen,
    Seizing,
    Seized,
    /// The ledger refused the hold (not enough available); nothing is frozen.
    Refused,
}

/// A freeze as stored.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Freeze {
    pub id: String,
    pub customer_id: String,
    pub number: String,
    #[serde(with = "id_text")]
    pub account_id: AccountId,
    pub amount: i64,
    pub reason: String,
    pub status: FreezeStatus,
    #[serde(with = "id_text")]
    pub hold_id: TransferId,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    in_flight: Vec<StoredRequest>,
    next: Option<(FreezeStatus, FreezeStatus)>,
}
json_document!(Freeze, "freeze");

impl InFlight for Freeze {
    fn in_flight(&self) -> &[StoredRequest] {
        &self.in_flight
    }
    fn settle(&mut self, refusal: Option<&WalletFailure>) {
        if let Some((success, refused)) = self.next.take() {
            self.status = if refusal.is_none() { success } else { refused };
        }
        self.in_flight = Vec::new();
    }
    fn customer(&self) -> String {
        self.customer_id.clone()
    }
}

async fn load(work: &mut Work, id: &str) -> Result<Freeze, WalletFailure> {
    work.get::<Freeze>(id).await?.ok_or(WalletFailure::NotFound(FREEZE_NOT_FOUND))
}

fn request(id: TransferId, action: TransferAction, code: &str, reference: &str) -> TransferRequest {
    TransferRequest {
        id,
        action,
        linked: false,
        code: code.to_owned(),
        reference: Some(reference.to_owned()),
        metadata: "{}".to_owned(),
    }
}

impl Wallets {
    /// Freezes `amount` of a member's account under the caller's freeze number. The same number again
    /// answers the freeze as it is.
    pub async fn freeze(
        &self,
        client: ClientId,
        number: &OrderNumber,
        account: AccountId,
        amount: i64,
        reason: &Reason,
        actor: &Actor,
    ) -> Result<Freeze, WalletFailure> {
        let amount = Amount::new(amount).ok_or(sanhu_core::wallet::WalletError::InvalidAmount)?;
        let member_account = match self.parties.get_member_account(account).await {
            Ok(view) => view.account,
            Err(PartyError::NotFound(_)) => return Err(WalletFailure::Rejected(ACCOUNT_NOT_MEMBERS)),
            Err(other) => return Err(other.into()),
        };
        let seized = PlatformAccount::Seized.id(self.config.currency);
        let id = order_record_id("freeze", client, number);
        let _turn = self.turn([super::wallet_key(member_account.member_id), id.clone()]).await;
        let freeze = transact!(&self.parties, |work| {
            if let Some(existing) = work.get::<Freeze>(&id).await? {
                if existing.account_id != account || existing.amount != amount.get() {
                    return Err(WalletFailure::Rejected(ORDER_NUMBER_REUSED));
                }
                return Ok(existing);
            }
            let hold_id = derived_id(&id, "freeze", 0);
            let hold = TransferAction::Hold {
                debit_account_id: account,
                credit_account_id: seized,
                amount,
                balancing: false,
                timeout_s: None,
            };
            let freeze = Freeze {
                id: id.clone(),
                customer_id: member_account.customer_id.to_string(),
                number: number.as_str().to_owned(),
                account_id: account,
                amount: amount.get(),
                reason: reason.as_str().to_owned(),
                status: FreezeStatus::Freezing,
                hold_id,
                created_at: work.now,
                in_flight: store_chain(&[request(hold_id, hold, "freeze", number.as_str())]),
                next: Some((FreezeStatus::Frozen, FreezeStatus::Refused)),
            };
            work.put(&freeze);
            work.history(
                &id,
                &freeze.customer_id,
                "freeze.requested",
                actor,
                Some(reason),
                json!({ "amount": freeze.amount }),
            );
            Ok(freeze)
        })?;
        chain::resume(&self.parties, &self.ledger, freeze, "freeze.settled", actor).await
    }

    /// The freeze under the caller's number, as it is.
    pub async fn get_freeze(&self, client: ClientId, number: &OrderNumber) -> Result<Freeze, WalletFailure> {
        load(&mut self.parties.reader(), &order_record_id("freeze", client, number)).await
    }

    /// Lifts a freeze: the money is the member's again.
    pub async fn unfreeze(
        &self,
        client: ClientId,
        number: &OrderNumber,
        actor: &Actor,
    ) -> Result<Freeze, WalletFailure> {
        self.resolve_freeze(client, number, false, actor).await
    }

    /// Seizes the frozen money (扣划): posted to the platform's `seized` account.
    pub async fn seize(&self, client: ClientId, number: &OrderNumber, actor: &Actor) -> Result<Freeze, WalletFailure> {
        self.resolve_freeze(client, number, true, actor).await
    }

    async fn resolve_freeze(
        &self,
        client: ClientId,
        number: &OrderNumber,
        seize: bool,
        actor: &Actor,
    ) -> Result<Freeze, WalletFailure> {
        let id = order_record_id("freeze", client, number);
        let _turn = self.turn([id.clone()]).await;
        let (during, done) = if seize {
            (FreezeStatus::Seizing, FreezeStatus::Seized)
        } else {
            (FreezeStatus::Unfreezing, FreezeStatus::Unfrozen)
        };
        let freeze = transact!(&self.parties, |work| {
            let mut freeze = load(work, &id).await?;
            if freeze.status == during || freeze.status == done {
                return Ok(freeze);
            }
            if freeze.status != FreezeStatus::Frozen {
                return Err(WalletFailure::Rejected(ORDER_STATE_INVALID));
            }
            let (step, action, code) = if seize {
                ("seize", TransferAction::PostPending { pending_id: freeze.hold_id, amount: None }, "seize")
            } else {
                ("unfreeze", TransferAction::VoidPending { pending_id: freeze.hold_id }, "unfreeze")
            };
            freeze.in_flight = store_chain(&[request(derived_id(&id, step, 0), action, code, &freeze.number)]);
            freeze.status = during;
            freeze.next = Some((done, FreezeStatus::Frozen));
            work.put(&freeze);
            Ok(freeze)
        })?;
        chain::resume(&self.parties, &self.ledger, freeze, "freeze.settled", actor).await
    }
}
