//! A payment at a store's counter: the store and terminal it names (`store_id`, `terminal_id`), checked
//! against the receiving merchant (`Parties::counter_of`: the store must be one the receiver runs,
//! active, the terminal the store's and active, the payment method one it takes), the store's
//! pay-password-free threshold deciding whether the pay password is asked (within the platform's
//! ceiling, `pay_password_free_max`, where the platform requires one),
//! and both recorded on the order and in every transfer's metadata, so that the flow shows them.

use sanhu_core::id::{MemberId, StoreId, TerminalId};
use sanhu_core::party::store::{pay_password_needed, PaymentMethod};
use sanhu_core::wallet::TransferMeta;
use serde_json::{json, Map, Value};

use super::payment::Receiver;
use super::{PayPasswordRule, Wallets, PAY_PASSWORD_REQUIRED};
use crate::clock;
use crate::party::{Counter, MemberObject, PartyError, PayPasswordOwner};
use crate::wallet::WalletFailure;

impl Wallets {
    /// The counter a payment names (None when it names no store and no terminal), refusing one that is
    /// not the receiver's or not open (`store_not_receivers`, `terminal_not_stores`, `store_closed`,
    /// `terminal_disabled`) and a method the store does not take (`payment_method_not_accepted`).
    pub(super) async fn counter_at(
        &self,
        store: Option<StoreId>,
        terminal: Option<TerminalId>,
        receiver: &Receiver,
        method: PaymentMethod,
    ) -> Result<Option<Counter>, WalletFailure> {
        if store.is_none() && terminal.is_none() {
            return Ok(None);
        }
        let owner = match receiver {
            Receiver::Account(account) => match self.parties.owning_member(MemberObject::Account(*account)).await {
                Ok(owner) => Some(owner),
                Err(PartyError::NotFound(_)) => None,
                Err(other) => return Err(other.into()),
            },
            Receiver::Platform(_) => None,
        };
        Ok(self.parties.counter_of(owner, store, terminal, method).await?)
    }

    /// The member's pay password for a payment of `amount`, at a counter or not: a password given is
    /// always verified; none given is refused where it is needed: at a store with a threshold in
    /// effect, at or above it; elsewhere, where the platform requires one.
    pub(super) async fn check_pay_password_at(
        &self,
        member: MemberId,
        given: Option<&str>,
        amount: i64,
        counter: Option<&Counter>,
    ) -> Result<(), WalletFailure> {
        let threshold = counter.and_then(|c| c.settings.pay_password_free_below.value);
        let platform_requires = self.config.pay_password == PayPasswordRule::Required;
        match given {
            Some(password) => {
                self.parties.verify_pay_password(PayPasswordOwner::Member(member), password, clock::now()).await?;
                Ok(())
            }
            None if pay_password_needed(threshold, amount, platform_requires, self.config.pay_password_free_max) => {
                Err(WalletFailure::Rejected(PAY_PASSWORD_REQUIRED))
            }
            None => Ok(()),
        }
    }
}

/// The transfers' metadata with the counter's store and terminal added (the flow reads them back).
pub(super) fn meta(meta: TransferMeta, counter: Option<&Counter>) -> TransferMeta {
    let Some(counter) = counter else { return meta };
    let mut object: Map<String, Value> = serde_json::from_str(&meta.metadata).unwrap_or_default();
    object.insert("store_id".to_owned(), json!(counter.store_id.to_string()));
    if let Some(terminal) = counter.terminal_id {
        object.insert("terminal_id".to_owned(), json!(terminal.to_string()));
    }
    TransferMeta { metadata: Value::Object(object).to_string(), ..meta }
}

/// The store and terminal named in a transfer's metadata, for the flow.
pub(super) fn in_metadata(metadata: &str) -> (Option<String>, Option<String>) {
    let Ok(value) = serde_json::from_str::<Value>(metadata) else { return (None, None) };
    let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
    (text("store_id"), text("terminal_id"))
}
