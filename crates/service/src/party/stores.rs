//! Stores (门店) and terminals (终端) under a merchant, and what a counter's payment names of them.
//!
//! **Kept where.** A store is a record of its own (`sto_…`), filed under its merchant
//! (`merchant_stores`); a terminal likewise (`trm_…`), filed under its store (`store_terminals`), its
//! serial a key unique within the merchant (`terminal_serial`). A store's settings (the payment
//! methods it takes, its pay-password-free threshold) are kept in its record and resolved over its
//! merchant's in the one place settings are resolved (`franchise.rs`, [`Parties::settings_at_store`]).
//!
//! **Limits.** A merchant has at most `stores_per_merchant_max` stores and a store at most
//! `terminals_per_store_max` terminals, closed and disabled ones counted (they are kept, never
//! deleted). Opening a store writes its merchant's record again, adding a terminal writes its store's:
//! two at once meet each other's version and the second is decided again, counting the first.
//!
//! **Reach.** Every route names the merchant in its path, which the access layer checks
//! (`Parties::reaches_for`); a store or terminal id that is not the merchant's (or the store's) is
//! answered as absent (`store_not_found`, `terminal_not_found`). Every change is in the merchant's
//! history (`store.opened`, `store.closed`, `store.settings_changed`, `terminal.added`,
//! `terminal.disabled`) and, as every signed POST, in the audit log.

use sanhu_core::id::{MemberId, MerchantId, OperatorId, StoreId, TerminalId};
use sanhu_core::party::operator::OperatorStatus;
use sanhu_core::party::store::{self, PaymentMethod, StoreError, StoreStatus, TerminalStatus};
use sanhu_core::party::{Actor, Reason};
use sanhu_core::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::error::{PartyError, Rejection};
use super::franchise::{EffectiveSettings, StoreSettings, MERCHANT_SETTING_LOCKED, STORE_SETTING_NAMES};
use super::merchants::{load_merchant, StoredMerchant};
use super::work::{actor_text, Work};
use super::Parties;
use crate::clock;
use crate::wallet::records::{json_document, time_ns};

/// A merchant's stores: merchant → store.
pub(crate) const STORES_OF_MERCHANT: &str = "merchant_stores";
/// A store's terminals: store → terminal.
pub(crate) const TERMINALS_OF_STORE: &str = "store_terminals";
/// A terminal's serial within its merchant: `{merchant}|{serial}` → terminal.
pub(crate) const TERMINAL_SERIAL_KEY: &str = "terminal_serial";

/// How many stores one merchant has unless configured.
pub const STORES_PER_MERCHANT_MAX_DEFAULT: u32 = 200;
/// How many terminals one store has unless configured.
pub const TERMINALS_PER_STORE_MAX_DEFAULT: u32 = 50;

pub const STORE_NOT_FOUND: Rejection =
    Rejection { code: "store_not_found", status: 404, message: "the merchant has no store with this id" };
pub const TERMINAL_NOT_FOUND: Rejection =
    Rejection { code: "terminal_not_found", status: 404, message: "the store has no terminal with this id" };

/// A store as kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredStore {
    pub id: String,
    pub customer_id: String,
    pub merchant_id: String,
    pub name: String,
    pub address: String,
    /// `active` or `closed`.
    pub status: String,
    /// The operator of the merchant's member who keeps its till, if named.
    pub cashier_operator_id: Option<String>,
    pub settings: StoreSettings,
    /// Its terminals, disabled ones included.
    pub terminals: u32,
    pub created_by: String,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    #[serde(with = "time_ns")]
    pub updated_at: Timestamp,
    pub closed_reason: Option<String>,
}
json_document!(StoredStore, "store");

impl StoredStore {
    pub fn status(&self) -> StoreStatus {
        StoreStatus::parse(&self.status).unwrap_or(StoreStatus::Closed)
    }
}

/// A terminal as kept.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoredTerminal {
    pub id: String,
    pub customer_id: String,
    pub merchant_id: String,
    pub store_id: String,
    pub serial: String,
    /// `active` or `disabled`.
    pub status: String,
    pub created_by: String,
    #[serde(with = "time_ns")]
    pub created_at: Timestamp,
    #[serde(with = "time_ns")]
    pub updated_at: Timestamp,
    pub disabled_reason: Option<String>,
}
json_document!(StoredTerminal, "terminal");

impl StoredTerminal {
    pub fn status(&self) -> TerminalStatus {
        TerminalStatus::parse(&self.status).unwrap_or(TerminalStatus::Disabled)
    }
}

/// A store to open.
#[derive(Clone, Debug)]
pub struct NewStore {
    /// Derived from the request's Idempotency-Key, or new.
    pub id: Option<StoreId>,
    pub name: String,
    pub address: String,
    pub cashier: Option<OperatorId>,
    pub settings: StoreSettings,
}

/// A change of a store's own settings: values to set, settings given back to its merchant's.
#[derive(Clone, Debug, Default)]
pub struct StoreSettingsChange {
    pub set: StoreSettings,
    pub unset: Vec<String>,
}

/// Where a counter's payment is made: the store and terminal it names, with the settings in effect
/// there.
#[derive(Clone, Debug)]
pub struct Counter {
    pub store_id: StoreId,
    pub terminal_id: Option<TerminalId>,
    pub settings: EffectiveSettings,
}

fn rejected(error: StoreError) -> PartyError {
    PartyError::Rejected(Rejection::of(error))
}

/// The store `store` of the merchant `merchant`: absent when it is another's.
async fn load_store(work: &mut Work, merchant: MerchantId, store: StoreId) -> Result<StoredStore, PartyError> {
    match work.get::<StoredStore>(&store.to_string()).await? {
        Some(found) if found.merchant_id == merchant.to_string() => Ok(found),
        _ => Err(PartyError::NotFound(STORE_NOT_FOUND)),
    }
}

async fn load_terminal(
    work: &mut Work,
    store: &StoredStore,
    terminal: TerminalId,
) -> Result<StoredTerminal, PartyError> {
    match work.get::<StoredTerminal>(&terminal.to_string()).await? {
        Some(found) if found.store_id == store.id => Ok(found),
        _ => Err(PartyError::NotFound(TERMINAL_NOT_FOUND)),
    }
}

impl Parties {
    fn check_store_settings(&self, settings: &StoreSettings) -> Result<(), PartyError> {
        if let Some(methods) = &settings.payment_methods {
            store::check_methods(methods).map_err(rejected)?;
        }
        if let Some(threshold) = settings.pay_password_free_below {
            store::check_threshold(threshold).map_err(rejected)?;
        }
        Ok(())
    }

    /// Refuses store settings the merchant or a merchant above it locked.
    fn check_unlocked(effective: &EffectiveSettings, touched: &[&str]) -> Result<(), PartyError> {
        let locked = |name: &str| effective.locked.contains_key(name) || effective.own.locked.iter().any(|l| l == name);
        if touched.iter().any(|name| locked(name)) {
            return Err(PartyError::Rejected(MERCHANT_SETTING_LOCKED));
        }
        Ok(())
    }

    /// Opens a store under an active merchant, within its cap; its cashier, when named, must be an
    /// active operator of the merchant's member. The same id again (the request's retry) answers the
    /// store as it is.
    pub async fn open_store(
        &self,
        merchant: MerchantId,
        new: &NewStore,
        actor: &Actor,
    ) -> Result<(StoredStore, EffectiveSettings), PartyError> {
        let name = store::check_name(&new.name).map_err(rejected)?;
        let address = store::check_address(&new.address).map_err(rejected)?;
        self.check_store_settings(&new.settings)?;
        let id = new.id.unwrap_or_else(clock::new_id);
        let opened = transact!(self, PartyError, |work| {
            if let Some(found) = work.get::<StoredStore>(&id.to_string()).await? {
                if found.merchant_id != merchant.to_string() {
                    return Err(PartyError::NotFound(STORE_NOT_FOUND));
                }
                return Ok(found);
            }
            let stored_merchant = load_merchant(work, merchant).await?;
            // Only an active merchant opens stores (`merchant_not_receiving`).
            stored_merchant.status().check_receives()?;
            let touched: Vec<&str> = STORE_SETTING_NAMES.iter().copied().filter(|n| new.settings.sets(n)).collect();
            let effective = self.settings_of(work, &stored_merchant).await?;
            Self::check_unlocked(&effective, &touched)?;
            // Read beside the work: the cap holds because the merchant's record is written again below,
            // so a store opened meanwhile makes this write meet its version and be decided again.
            let count = sanhu_store::party::PartyStore::party_index(
                &self.store,
                STORES_OF_MERCHANT,
                &stored_merchant.id,
                self.config.stores_per_merchant_max + 1,
            )
            .await?
            .len();
            if count >= self.config.stores_per_merchant_max as usize {
                return Err(rejected(StoreError::CapReached));
            }
            if let Some(cashier) = new.cashier {
                self.check_cashier(work, &stored_merchant, cashier).await?;
            }
            let stored = StoredStore {
                id: id.to_string(),
                customer_id: stored_merchant.customer_id.clone(),
                merchant_id: stored_merchant.id.clone(),
                name: name.clone(),
                address: address.clone(),
                status: StoreStatus::Active.as_str().to_owned(),
                cashier_operator_id: new.cashier.map(|c| c.to_string()),
                settings: new.settings.clone(),
                terminals: 0,
                created_by: actor_text(actor),
                created_at: work.now,
                updated_at: work.now,
                closed_reason: None,
            };
            // The merchant written again: two stores opened at once are counted in turn.
            work.put(&stored_merchant);
            work.put(&stored);
            work.index(STORES_OF_MERCHANT, &stored_merchant.id, &stored.id);
            let detail = json!({ "store_id": stored.id, "name": stored.name, "cashier_operator_id": stored.cashier_operator_id,
                                 "settings": touched });
            work.history(&stored_merchant.id, &stored_merchant.customer_id, "store.opened", actor, None, detail);
            Ok(stored)
        })?;
        let settings = self.store_settings(&opened).await?;
        Ok((opened, settings))
    }

    async fn check_cashier(
        &self,
        work: &mut Work,
        merchant: &StoredMerchant,
        cashier: OperatorId,
    ) -> Result<(), PartyError> {
        let found = work.get::<super::StoredOperator>(&cashier.to_string()).await?;
        let ok = found.is_some_and(|o| {
            o.operator.member().to_string() == merchant.member_id && o.operator.status() == OperatorStatus::Active
        });
        ok.then_some(()).ok_or_else(|| rejected(StoreError::CashierNotMerchants))
    }

    /// A merchant's stores in the order they were opened, after `after`, at most `limit`; each with the
    /// settings in effect there.
    pub async fn stores_of(
        &self,
        merchant: MerchantId,
        after: Option<StoreId>,
        limit: u32,
    ) -> Result<Vec<(StoredStore, EffectiveSettings)>, PartyError> {
        use sanhu_store::party::PartyStore;
        let mut work = self.reader();
        let stored_merchant = load_merchant(&mut work, merchant).await?;
        let key = stored_merchant.id.clone();
        let ids = match after {
            Some(after) => self.store.party_index_after(STORES_OF_MERCHANT, &key, &after.to_string(), limit).await?,
            None => self.store.party_index(STORES_OF_MERCHANT, &key, limit).await?,
        };
        let stores: Vec<StoredStore> = work.get_many(&ids).await?;
        let effective = self.settings_of(&mut work, &stored_merchant).await?;
        Ok(stores
            .into_iter()
            .map(|s| {
                let settings = Self::settings_at_store(&effective, &s);
                (s, settings)
            })
            .collect())
    }

    /// One store of a merchant, with the settings in effect there.
    pub async fn get_store(
        &self,
        merchant: MerchantId,
        store: StoreId,
    ) -> Result<(StoredStore, EffectiveSettings), PartyError> {
        let found = load_store(&mut self.reader(), merchant, store).await?;
        let settings = self.store_settings(&found).await?;
        Ok((found, settings))
    }

    /// The settings in effect at a store: its merchant's, with the store's own over them.
    pub async fn store_settings(&self, store: &StoredStore) -> Result<EffectiveSettings, PartyError> {
        let mut work = self.reader();
        let merchant = MerchantId::parse(&store.merchant_id).ok_or(PartyError::NotFound(STORE_NOT_FOUND))?;
        let merchant = load_merchant(&mut work, merchant).await?;
        let effective = self.settings_of(&mut work, &merchant).await?;
        Ok(Self::settings_at_store(&effective, store))
    }

    /// Closes a store, for good, with a reason: it takes no payments and no new terminals. A closed
    /// store asked again is answered as it is.
    pub async fn close_store(
        &self,
        merchant: MerchantId,
        store: StoreId,
        reason: &Reason,
        actor: &Actor,
    ) -> Result<(StoredStore, EffectiveSettings), PartyError> {
        let closed = transact!(self, PartyError, |work| {
            let mut found = load_store(work, merchant, store).await?;
            if found.status() == StoreStatus::Closed {
                return Ok(found);
            }
            found.status = StoreStatus::Closed.as_str().to_owned();
            found.closed_reason = Some(reason.as_str().to_owned());
            found.updated_at = work.now;
            work.put(&found);
            let detail = json!({ "store_id": found.id });
            work.history(&found.merchant_id, &found.customer_id, "store.closed", actor, Some(reason), detail);
            Ok(found)
        })?;
        let settings = self.store_settings(&closed).await?;
        Ok((closed, settings))
    }

    /// Changes a store's own settings (over its merchant's); a setting its merchant or a merchant above
    /// locked is refused (`merchant_setting_locked`).
    pub async fn set_store_settings(
        &self,
        merchant: MerchantId,
        store: StoreId,
        change: &StoreSettingsChange,
        actor: &Actor,
    ) -> Result<(StoredStore, EffectiveSettings), PartyError> {
        self.check_store_settings(&change.set)?;
        if change.unset.iter().any(|n| !STORE_SETTING_NAMES.contains(&n.as_str())) {
            return Err(rejected(StoreError::SettingsInvalid));
        }
        let changed = transact!(self, PartyError, |work| {
            let mut found = load_store(work, merchant, store).await?;
            let stored_merchant = load_merchant(work, merchant).await?;
            let effective = self.settings_of(work, &stored_merchant).await?;
            let touched: Vec<&str> = STORE_SETTING_NAMES
                .iter()
                .copied()
                .filter(|n| change.set.sets(n) || change.unset.iter().any(|u| u == n))
                .collect();
            Self::check_unlocked(&effective, &touched)?;
            for name in &change.unset {
                found.settings.unset(name);
            }
            found.settings.payment_methods = change.set.payment_methods.clone().or(found.settings.payment_methods);
            found.settings.pay_password_free_below =
                change.set.pay_password_free_below.or(found.settings.pay_password_free_below);
            found.updated_at = work.now;
            work.put(&found);
            let detail = json!({ "store_id": found.id,
                                 "set": touched.iter().filter(|n| change.set.sets(n)).collect::<Vec<_>>(),
                                 "unset": change.unset });
            work.history(&found.merchant_id, &found.customer_id, "store.settings_changed", actor, None, detail);
            Ok(found)
        })?;
        let settings = self.store_settings(&changed).await?;
        Ok((changed, settings))
    }

    /// Adds a terminal to an active store, within its cap, its serial unique within the merchant.
    pub async fn add_terminal(
        &self,
        merchant: MerchantId,
        store: StoreId,
        id: Option<TerminalId>,
        serial: &str,
        actor: &Actor,
    ) -> Result<StoredTerminal, PartyError> {
        let serial = store::check_serial(serial).map_err(rejected)?;
        let id = id.unwrap_or_else(clock::new_id);
        transact!(self, PartyError, |work| {
            let mut found = load_store(work, merchant, store).await?;
            if let Some(added) = work.get::<StoredTerminal>(&id.to_string()).await? {
                if added.store_id != found.id {
                    return Err(PartyError::NotFound(TERMINAL_NOT_FOUND));
                }
                return Ok(added);
            }
            found.status().check_open().map_err(rejected)?;
            if found.terminals >= self.config.terminals_per_store_max {
                return Err(rejected(StoreError::TerminalCapReached));
            }
            let key = format!("{}|{serial}", found.merchant_id);
            if work.key_owner(TERMINAL_SERIAL_KEY, &key).await?.is_some() {
                return Err(rejected(StoreError::SerialTaken));
            }
            let terminal = StoredTerminal {
                id: id.to_string(),
                customer_id: found.customer_id.clone(),
                merchant_id: found.merchant_id.clone(),
                store_id: found.id.clone(),
                serial: serial.clone(),
                status: TerminalStatus::Active.as_str().to_owned(),
                created_by: actor_text(actor),
                created_at: work.now,
                updated_at: work.now,
                disabled_reason: None,
            };
            // The store written again: two terminals added at once are counted in turn.
            found.terminals += 1;
            found.updated_at = work.now;
            work.put(&found);
            work.put(&terminal);
            work.claim(TERMINAL_SERIAL_KEY, &key, &terminal.id);
            work.index(TERMINALS_OF_STORE, &found.id, &terminal.id);
            let detail = json!({ "store_id": found.id, "terminal_id": terminal.id, "serial": terminal.serial });
            work.history(&found.merchant_id, &found.customer_id, "terminal.added", actor, None, detail);
            Ok(terminal)
        })
    }

    /// A store's terminals in the order they were added (at most `terminals_per_store_max`).
    pub async fn terminals_of(&self, merchant: MerchantId, store: StoreId) -> Result<Vec<StoredTerminal>, PartyError> {
        let mut work = self.reader();
        let found = load_store(&mut work, merchant, store).await?;
        Ok(work.indexed(TERMINALS_OF_STORE, &found.id).await?)
    }

    /// Disables a terminal, for good, with a reason. A disabled terminal asked again is answered as it is.
    pub async fn disable_terminal(
        &self,
        merchant: MerchantId,
        store: StoreId,
        terminal: TerminalId,
        reason: &Reason,
        actor: &Actor,
    ) -> Result<StoredTerminal, PartyError> {
        transact!(self, PartyError, |work| {
            let found = load_store(work, merchant, store).await?;
            let mut terminal = load_terminal(work, &found, terminal).await?;
            if terminal.status() == TerminalStatus::Disabled {
                return Ok(terminal);
            }
            terminal.status = TerminalStatus::Disabled.as_str().to_owned();
            terminal.disabled_reason = Some(reason.as_str().to_owned());
            terminal.updated_at = work.now;
            work.put(&terminal);
            let detail = json!({ "store_id": found.id, "terminal_id": terminal.id });
            work.history(&found.merchant_id, &found.customer_id, "terminal.disabled", actor, Some(reason), detail);
            Ok(terminal)
        })
    }

    /// The counter a payment names: its store (given, or the terminal's) must be a store of a merchant
    /// `receiver` (the member owning the receiving account) runs, and active; its terminal, when given,
    /// the store's and active; and the store must take `method` (`payment_method_not_accepted`). The
    /// one check of a counter, for wallet and card payments alike. Answers the settings in effect at
    /// the store.
    pub async fn counter_of(
        &self,
        receiver: Option<MemberId>,
        store: Option<StoreId>,
        terminal: Option<TerminalId>,
        method: PaymentMethod,
    ) -> Result<Option<Counter>, PartyError> {
        if store.is_none() && terminal.is_none() {
            return Ok(None);
        }
        let mut work = self.reader();
        let found_terminal = match terminal {
            Some(t) => match work.get::<StoredTerminal>(&t.to_string()).await? {
                Some(found) => Some(found),
                None => return Err(rejected(StoreError::TerminalNotStores)),
            },
            None => None,
        };
        let store_id = match (store, &found_terminal) {
            (Some(s), _) => s,
            (None, Some(t)) => StoreId::parse(&t.store_id).ok_or_else(|| rejected(StoreError::TerminalNotStores))?,
            (None, None) => return Ok(None),
        };
        let found = work.get::<StoredStore>(&store_id.to_string()).await?;
        let Some(found) = found else { return Err(rejected(StoreError::NotReceivers)) };
        let merchant = work.get::<StoredMerchant>(&found.merchant_id).await?;
        let receives = match (merchant.as_ref(), receiver) {
            (Some(m), Some(r)) => m.member_id == r.to_string(),
            _ => false,
        };
        if !receives {
            return Err(rejected(StoreError::NotReceivers));
        }
        if let Some(t) = &found_terminal {
            if t.store_id != found.id {
                return Err(rejected(StoreError::TerminalNotStores));
            }
        }
        found.status().check_open().map_err(rejected)?;
        if let Some(t) = &found_terminal {
            t.status().check_active().map_err(rejected)?;
        }
        let merchant = merchant.expect("the receiving merchant was read");
        let effective = self.settings_of(&mut work, &merchant).await?;
        let settings = Self::settings_at_store(&effective, &found);
        if !settings.payment_methods.value.iter().any(|m| m == method.as_str()) {
            return Err(rejected(StoreError::MethodNotAccepted));
        }
        Ok(Some(Counter { store_id, terminal_id: terminal, settings }))
    }
}
