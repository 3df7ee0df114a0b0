//! Balance monitors: a condition on the balance (or available, or debt) of one member account or of
//! every account of a type, firing a `balance_monitor.triggered` webhook event **once per crossing**:
//! when an account's entry takes it from outside the condition to beyond it. It fires again only
//! once an entry has taken it back outside and another beyond.
//!
//! **Off the commit path.** The ledger's writer offers the accounts a committed batch touched to a
//! tap ([`crate::writer::LedgerTap`]) while a monitor is active; nothing else is done in the batch.
//! A background pass takes the touched accounts and, for each monitor that watches one, reads the
//! account's entries after the monitor's state (the timestamp of the last entry it evaluated: an
//! account's entries are totally ordered by timestamp, with several writers too), evaluates each
//! entry's counters in order, and keeps the new state with the events of the crossings and their
//! deliveries in one transaction, which fails (keeping nothing) when another instance moved the state
//! first.
//!
//! **Nothing lost across a restart.** The tap is in memory, but what is evaluated is read from the
//! ledger's entries after a state kept in the database: a pass that starts (or a tap that overflowed)
//! sweeps every account a monitor watches, evaluating the entries after each state. A crash between
//! a crossing's batch and its event leaves the state before the entry, and the next server's sweep
//! finds the entry and fires. An account a monitor had not evaluated yet starts from its counters at
//! the monitor's creation (`counters_at`), so an account already beyond when the monitor is made does
//! not fire until it has come back and crossed again. Enabling a disabled monitor forgets its states
//! and starts it the same way from the moment it is enabled: what crossed while it was disabled
//! does not fire.
//!
//! **Who receives.** The monitor's client's subscriptions that name `balance_monitor.triggered` (or
//! `*`). A bound client monitors only accounts it reaches (the one rule, [`Parties::reaches`]); a type
//! monitor of a bound client watches the accounts of the type that it reaches.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use sanhu_core::id::{AccountId, MemberId, MonitorId};
use sanhu_core::ledger::{Account, Counters};
use sanhu_core::party::AccountTypeCode;
use sanhu_store::webhook::{MonitorState, StoredEvent, StoredMonitor, StoredSubscription, WebhookStore};
use sanhu_store::EntryQuery;
use sanhu_store::{LedgerStore, Store};
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{Page, Subscriber, WebhookFailure};
use crate::clock;
use crate::failure::Rejection;
use crate::ledger::Ledger;
use crate::party::Parties;

/// The event a monitor fires.
pub const MONITOR_EVENT: &str = "balance_monitor.triggered";
/// How many monitors one client may have.
pub const MONITORS_PER_CLIENT_MAX: u32 = 50;
/// The largest amount a condition names, in minor units (as the ledger's amounts).
pub const MONITOR_AMOUNT_MAX: i64 = 1_000_000_000_000_000;
/// Entries of one account one monitor evaluates in one step (the rest in the next).
const ENTRIES_PER_STEP: u32 = 256;
/// Accounts a sweep reads per step of the ledger's account list.
const SWEEP_ACCOUNTS_PER_STEP: u32 = 1_000;

pub const MONITOR_NOT_FOUND: Rejection =
    Rejection { code: "balance_monitor_not_found", status: 404, message: "no balance monitor has this id" };
pub const MONITOR_TARGET_INVALID: Rejection = Rejection {
    code: "balance_monitor_target_invalid",
    status: 422,
    message: "a monitor names exactly one of account_id (a member account) and account_type (a configured type)",
};
pub const MONITOR_CONDITION_INVALID: Rejection = Rejection {
    code: "balance_monitor_condition_invalid",
    status: 422,
    message: "the condition is field balance or available with op below, above or equal, or field debt with op \
              deeper; and an amount of at most 10^15 minor units (a debt's at least 0)",
};
pub const MONITOR_LIMIT_REACHED: Rejection = Rejection {
    code: "balance_monitor_limit_reached",
    status: 409,
    message: "the client has 50 balance monitors, the most one client may have; delete one first",
};
pub const MONITOR_DESCRIPTION_INVALID: Rejection = Rejection {
    code: "balance_monitor_description_invalid",
    status: 422,
    message: "a description has at most 200 characters, none a control character",
};

/// Every code a monitor use case can refuse with.
pub fn monitor_codes() -> Vec<Rejection> {
    vec![
        MONITOR_NOT_FOUND,
        MONITOR_TARGET_INVALID,
        MONITOR_CONDITION_INVALID,
        MONITOR_LIMIT_REACHED,
        MONITOR_DESCRIPTION_INVALID,
    ]
}

/// What a monitor watches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MonitorTarget {
    /// One member account.
    Account(AccountId),
    /// Every member account of a type (that the client reaches).
    AccountType(String),
}

/// When a monitor's account is beyond it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Condition {
    pub field: Field,
    pub op: Op,
    pub amount: i64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Field {
    Balance,
    Available,
    /// What the account owes: the negative of a balance below zero.
    Debt,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    Below,
    Above,
    Equal,
    /// A debt deeper than the amount.
    Deeper,
}

impl Condition {
    /// Checks a condition as given: `field`, `op`, `amount`.
    pub fn parse(field: &str, op: &str, amount: i64) -> Result<Condition, WebhookFailure> {
        let invalid = WebhookFailure::Rejected(MONITOR_CONDITION_INVALID);
        let field = match field {
            "balance" => Field::Balance,
            "available" => Field::Available,
            "debt" => Field::Debt,
            _ => return Err(invalid),
        };
        let op = match (field, op) {
            (Field::Debt, "deeper") => Op::Deeper,
            (Field::Debt, _) => return Err(invalid),
            (_, "below") => Op::Below,
            (_, "above") => Op::Above,
            (_, "equal") => Op::Equal,
            _ => return Err(invalid),
        };
        if amount.abs() > MONITOR_AMOUNT_MAX || (field == Field::Debt && amount < 0) {
            return Err(invalid);
        }
        Ok(Condition { field, op, amount })
    }

    fn of(stored: &StoredMonitor) -> Option<Condition> {
        Condition::parse(&stored.field, &stored.op, stored.amount).ok()
    }

    /// The watched figure of an account with these counters.
    pub fn value(&self, account: &Account, counters: &Counters) -> i64 {
        match self.field {
            Field::Balance => counters.balance(account.normal_side),
            Field::Available => counters.available(account.normal_side),
            Field::Debt => (-counters.balance(account.normal_side)).max(0),
        }
    }

    /// Whether an account with these counters is beyond the condition.
    pub fn beyond(&self, account: &Account, counters: &Counters) -> bool {
        let value = self.value(account, counters);
        match self.op {
            Op::Below => value < self.amount,
            Op::Above => value > self.amount,
            Op::Equal => value == self.amount,
            Op::Deeper => value > self.amount,
        }
    }

    pub fn field_name(&self) -> &'static str {
        match self.field {
            Field::Balance => "balance",
            Field::Available => "available",
            Field::Debt => "debt",
        }
    }

    pub fn op_name(&self) -> &'static str {
        match self.op {
            Op::Below => "below",
            Op::Above => "above",
            Op::Equal => "equal",
            Op::Deeper => "deeper",
        }
    }
}

/// A monitor as the API shows it.
pub type Monitor = StoredMonitor;

/// What a monitor is made with.
#[derive(Clone, Debug)]
pub struct NewMonitor {
    pub target: MonitorTarget,
    pub condition: Condition,
    pub description: Option<String>,
}

/// The balance monitors' use cases and their evaluation.
#[derive(Clone)]
pub struct Monitors {
    parties: Parties,
    ledger: Ledger,
    sweep: Arc<std::sync::Mutex<Sweep>>,
}

/// Where a sweep of every watched account stands.
#[derive(Default)]
struct Sweep {
    /// Whether the next pass starts a sweep (a pass of a new server, an overflowed tap, a new monitor).
    wanted: bool,
    /// A sweep in progress: the ledger's account list is read after this account.
    after: Option<Option<AccountId>>,
    /// The active monitors of the last pass: a monitor this instance has not seen (made through
    /// another instance, whose tap alone saw the batches since) starts a sweep.
    known: BTreeSet<String>,
}

impl Monitors {
    pub fn new(parties: Parties, ledger: Ledger) -> Monitors {
        // A new server sweeps first: what a server before it left unevaluated is evaluated.
        let sweep = Sweep { wanted: true, after: None, known: BTreeSet::new() };
        Monitors { parties, ledger, sweep: Arc::new(std::sync::Mutex::new(sweep)) }
    }

    fn store(&self) -> &Store {
        self.parties.store()
    }

    fn want_sweep(&self) {
        self.sweep.lock().unwrap_or_else(std::sync::PoisonError::into_inner).wanted = true;
    }

    /// Makes a monitor for `subscriber`.
    pub async fn create(&self, subscriber: &Subscriber, new: NewMonitor) -> Result<Monitor, WebhookFailure> {
        let description = check_description(new.description)?;
        let (target_kind, target) = match &new.target {
            MonitorTarget::Account(account) => {
                let view = self.parties.get_member_account(*account).await.map_err(|_| not_found_account())?;
                if let Some(bound) = subscriber.bound {
                    let reached = self
                        .parties
                        .reaches(bound, view.account.member_id)
                        .await
                        .map_err(|e| WebhookFailure::Internal(anyhow::anyhow!("the reach rule failed: {e}")))?;
                    if !reached {
                        return Err(not_found_account());
                    }
                }
                ("account", account.to_string())
            }
            MonitorTarget::AccountType(code) => {
                let parsed =
                    AccountTypeCode::parse(code).map_err(|_| WebhookFailure::Rejected(MONITOR_TARGET_INVALID))?;
                if self.parties.config().account_types.get(&parsed).is_none() {
                    return Err(WebhookFailure::Rejected(MONITOR_TARGET_INVALID));
                }
                ("account_type", parsed.as_str().to_owned())
            }
        };
        let now = clock::now();
        let stored = StoredMonitor {
            id: clock::new_id::<sanhu_core::id::MonitorTag>().to_string(),
            client_id: subscriber.owner.clone(),
            bound_member: subscriber.bound.map(|m| m.to_string()),
            target_kind: target_kind.to_owned(),
            target,
            field: new.condition.field_name().to_owned(),
            op: new.condition.op_name().to_owned(),
            amount: new.condition.amount,
            description,
            status: "active".to_owned(),
            created_at: now,
            updated_at: now,
        };
        if !self.store().monitor_create(&stored, MONITORS_PER_CLIENT_MAX).await? {
            return Err(WebhookFailure::Rejected(MONITOR_LIMIT_REACHED));
        }
        self.ledger.tap().watch(true);
        Ok(stored)
    }

    /// The subscriber's monitor `id`; another's answers as absent.
    pub async fn get(&self, subscriber: &Subscriber, id: &str) -> Result<Monitor, WebhookFailure> {
        if MonitorId::parse(id).is_none() {
            return Err(WebhookFailure::NotFound(MONITOR_NOT_FOUND));
        }
        match self.store().monitor_get(id).await? {
            Some(m) if m.client_id == subscriber.owner => Ok(m),
            _ => Err(WebhookFailure::NotFound(MONITOR_NOT_FOUND)),
        }
    }

    pub async fn list(
        &self,
        subscriber: &Subscriber,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Monitor>, WebhookFailure> {
        let limit = super::check_limit(limit)?;
        if after.is_some_and(|a| MonitorId::parse(a).is_none()) {
            return Err(WebhookFailure::Rejected(super::WEBHOOK_CURSOR_INVALID));
        }
        let rows = self.store().monitors_of_client(&subscriber.owner, after, limit + 1).await?;
        let more = rows.len() > limit as usize;
        let items: Vec<Monitor> = rows.into_iter().take(limit as usize).collect();
        let next = if more { items.last().map(|m| m.id.clone()) } else { None };
        Ok(Page { items, next })
    }

    /// Stops (or resumes) a monitor. A resumed monitor starts again from the balances it finds: a
    /// crossing made while it was disabled does not fire (it was not watching), and an account
    /// beyond the condition then fires only once it has come back and crossed again. Enabling an
    /// active monitor, or disabling a disabled one, changes nothing.
    pub async fn set_enabled(
        &self,
        subscriber: &Subscriber,
        id: &str,
        enabled: bool,
    ) -> Result<Monitor, WebhookFailure> {
        let mut monitor = self.get(subscriber, id).await?;
        let status = if enabled { "active" } else { "disabled" };
        if monitor.status == status {
            return Ok(monitor);
        }
        monitor.status = status.to_owned();
        monitor.updated_at = clock::now();
        let changed = if enabled {
            self.store().monitor_resume(id, monitor.updated_at).await?
        } else {
            self.store().monitor_set_status(id, status, monitor.updated_at).await?
        };
        if !changed {
            // Deleted, or changed by another request meanwhile: answered as it now is.
            return self.get(subscriber, id).await;
        }
        if enabled {
            self.ledger.tap().watch(true);
            self.want_sweep();
        }
        Ok(monitor)
    }

    /// Deletes a monitor and its states.
    pub async fn delete(&self, subscriber: &Subscriber, id: &str) -> Result<(), WebhookFailure> {
        self.get(subscriber, id).await?;
        if !self.store().monitor_delete(id).await? {
            return Err(WebhookFailure::NotFound(MONITOR_NOT_FOUND));
        }
        Ok(())
    }

    /// One evaluation pass: the accounts the batches touched since the last (or a step of a sweep of
    /// every watched account); how many accounts it evaluated.
    pub async fn evaluate_once(&self) -> anyhow::Result<usize> {
        let monitors: Vec<(StoredMonitor, Condition)> = self
            .store()
            .monitors_active()
            .await?
            .into_iter()
            .filter_map(|m| Condition::of(&m).map(|c| (m, c)))
            .collect();
        let tap = self.ledger.tap();
        tap.watch(!monitors.is_empty());
        let (touched, overflowed) = tap.take();
        if monitors.is_empty() {
            return Ok(0);
        }
        let sweeping = {
            let mut sweep = self.sweep.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
            let ids: BTreeSet<String> = monitors.iter().map(|(m, _)| m.id.clone()).collect();
            if !ids.is_subset(&sweep.known) {
                sweep.wanted = true;
            }
            sweep.known = ids;
            if (sweep.wanted || overflowed) && sweep.after.is_none() {
                sweep.after = Some(None);
                sweep.wanted = false;
            }
            sweep.after
        };
        // Only the touched accounts a monitor watches are read further: those an account monitor
        // names, and those of a watched type (their codes read in one query).
        let named: BTreeSet<String> =
            monitors.iter().filter(|(m, _)| m.target_kind == "account").map(|(m, _)| m.target.clone()).collect();
        let types: BTreeSet<String> =
            monitors.iter().filter(|(m, _)| m.target_kind == "account_type").map(|(m, _)| m.target.clone()).collect();
        let mut accounts: BTreeSet<AccountId> = BTreeSet::new();
        if types.is_empty() {
            accounts.extend(touched.into_iter().filter(|a| named.contains(&a.to_string())));
        } else {
            for chunk in touched.chunks(SWEEP_ACCOUNTS_PER_STEP as usize) {
                let read = self.store().get_accounts(chunk).await?;
                accounts.extend(
                    read.iter().filter(|a| types.contains(&a.code) || named.contains(&a.id.to_string())).map(|a| a.id),
                );
            }
        }
        if let Some(after) = sweeping {
            // Every account named by a monitor, and a page of the ledger's accounts for the types.
            for (m, _) in &monitors {
                if m.target_kind == "account" {
                    accounts.extend(AccountId::parse(&m.target));
                }
            }
            let next = if monitors.iter().any(|(m, _)| m.target_kind == "account_type") {
                let page = self.store().list_accounts(after, SWEEP_ACCOUNTS_PER_STEP).await?;
                let last = page.last().map(|a| a.id);
                accounts.extend(page.iter().filter(|a| types.contains(&a.code)).map(|a| a.id));
                if page.len() < SWEEP_ACCOUNTS_PER_STEP as usize {
                    None
                } else {
                    Some(last)
                }
            } else {
                None
            };
            self.sweep.lock().unwrap_or_else(std::sync::PoisonError::into_inner).after = next;
        }
        if accounts.is_empty() {
            return Ok(0);
        }
        let subscriptions = self.store().webhook_active_subscriptions().await?;
        let mut evaluated = 0;
        for account in accounts {
            match self.evaluate_account(account, &monitors, &subscriptions).await {
                Ok(true) => evaluated += 1,
                Ok(false) => {}
                Err(error) => {
                    // Evaluated again by the next sweep.
                    tracing::warn!(account.id = %account, error = format!("{error:#}"), "a balance monitor pass failed");
                    self.want_sweep();
                }
            }
        }
        Ok(evaluated)
    }

    /// Evaluates the monitors that watch `account` over its entries after each one's state.
    async fn evaluate_account(
        &self,
        account_id: AccountId,
        monitors: &[(StoredMonitor, Condition)],
        subscriptions: &[StoredSubscription],
    ) -> anyhow::Result<bool> {
        let text = account_id.to_string();
        let Some(account) = self.store().get_account(account_id).await? else { return Ok(false) };
        let watching: Vec<&(StoredMonitor, Condition)> = monitors
            .iter()
            .filter(|(m, _)| match m.target_kind.as_str() {
                "account" => m.target == text,
                "account_type" => m.target == account.code,
                _ => false,
            })
            .collect();
        if watching.is_empty() {
            return Ok(false);
        }
        let Ok(member_account) = self.parties.get_member_account(account_id).await else { return Ok(false) };
        let member = member_account.account.member_id;
        let states: HashMap<String, MonitorState> =
            self.store().monitor_states(&text).await?.into_iter().map(|s| (s.monitor_id.clone(), s)).collect();
        let mut more = false;
        for (monitor, condition) in watching {
            if !self.reaches(monitor, member).await? {
                continue;
            }
            let before = states.get(&monitor.id).cloned();
            let mut state = match &before {
                Some(s) => s.clone(),
                None => {
                    // From when it was made, or last enabled (an active monitor's `updated_at`).
                    let since = monitor.updated_at.max(monitor.created_at);
                    let counters = self.store().counters_at(account_id, since).await?;
                    MonitorState {
                        monitor_id: monitor.id.clone(),
                        account_id: text.clone(),
                        beyond: condition.beyond(&account, &counters),
                        last_at: since,
                    }
                }
            };
            let entries = self
                .store()
                .account_entries(&EntryQuery {
                    account_id,
                    from: None,
                    to: None,
                    after: Some(state.last_at),
                    limit: ENTRIES_PER_STEP,
                })
                .await?;
            if entries.is_empty() {
                continue;
            }
            more |= entries.len() == ENTRIES_PER_STEP as usize;
            let mut events = Vec::new();
            for transfer in &entries {
                let counters = if transfer.debit_account_id == account_id {
                    transfer.debit_account_after
                } else {
                    transfer.credit_account_after
                };
                let beyond = condition.beyond(&account, &counters);
                if beyond && !state.beyond {
                    events.push(triggered_event(monitor, condition, &account, member, &counters, transfer));
                }
                state.beyond = beyond;
                state.last_at = transfer.timestamp;
            }
            let deliveries: Vec<(String, String)> = events
                .iter()
                .flat_map(|event| {
                    subscriptions
                        .iter()
                        .filter(|s| s.client_id == monitor.client_id && wants(s, event))
                        .map(|s| (s.id.clone(), event.id.clone()))
                })
                .collect();
            if !self.store().monitor_advance(before.as_ref(), &state, &events, &deliveries).await? {
                tracing::debug!(monitor.id = %monitor.id, "another instance evaluated these entries first");
            }
        }
        if more {
            self.want_sweep();
        }
        Ok(true)
    }

    /// Whether the monitor's client reaches the account's member (a platform's reaches all).
    async fn reaches(&self, monitor: &StoredMonitor, member: MemberId) -> anyhow::Result<bool> {
        let Some(bound) = monitor.bound_member.as_deref().and_then(MemberId::parse) else {
            return Ok(monitor.bound_member.is_none());
        };
        self.parties.reaches(bound, member).await.map_err(|e| anyhow::anyhow!("the reach rule failed: {e}"))
    }
}

/// Evaluates the monitors until the process ends: after each batch the writer offers, or every
/// `idle` when none comes.
pub async fn run_monitors(monitors: Monitors, idle: Duration) {
    loop {
        let evaluated = match monitors.evaluate_once().await {
            Ok(n) => n,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "evaluating balance monitors failed; retrying");
                monitors.want_sweep();
                0
            }
        };
        if evaluated == 0 {
            monitors.ledger.tap().offered(idle).await;
        }
    }
}

fn not_found_account() -> WebhookFailure {
    WebhookFailure::NotFound(crate::party::error::MEMBER_ACCOUNT_NOT_FOUND)
}

fn check_description(description: Option<String>) -> Result<Option<String>, WebhookFailure> {
    match description {
        Some(d) if d.chars().count() > super::DESCRIPTION_CHARS_MAX || d.chars().any(char::is_control) => {
            Err(WebhookFailure::Rejected(MONITOR_DESCRIPTION_INVALID))
        }
        other => Ok(other),
    }
}

fn wants(subscription: &StoredSubscription, event: &StoredEvent) -> bool {
    let names: Vec<String> = serde_json::from_str(&subscription.events).unwrap_or_default();
    event.created_at >= subscription.created_at && names.iter().any(|n| n == "*" || n == MONITOR_EVENT)
}

/// The event of a crossing: its id is derived from the monitor and the entry, so that an
/// evaluation run again makes the same event, which the store keeps once.
fn triggered_event(
    monitor: &StoredMonitor,
    condition: &Condition,
    account: &Account,
    member: MemberId,
    counters: &Counters,
    transfer: &sanhu_core::ledger::Transfer,
) -> StoredEvent {
    let digest = Sha256::digest(format!("{}|{}|{}", monitor.id, account.id, transfer.id).as_bytes());
    let id = format!("evt_bm_{}", hex::encode(&digest[..16]));
    let balance = counters.balance(account.normal_side);
    let available = counters.available(account.normal_side);
    let body = json!({
        "id": id,
        "type": MONITOR_EVENT,
        "created_at": transfer.timestamp.to_string(),
        "object": {
            "kind": "balance_monitor",
            "id": monitor.id,
            "account_id": account.id.to_string(),
            "member_id": member.to_string(),
            "account_type": account.code,
            "condition": {"field": condition.field_name(), "op": condition.op_name(), "amount": condition.amount},
            "balance": balance,
            "available": available,
            "transfer_id": transfer.id.to_string(),
        },
        "change": {
            "action": MONITOR_EVENT,
            "detail": {"transfer_id": transfer.id.to_string(), "balance": balance, "available": available},
        },
    });
    StoredEvent {
        id,
        event_type: MONITOR_EVENT.to_owned(),
        object_id: format!("{}:{}", monitor.id, account.id),
        payload: body.to_string(),
        created_at: transfer.timestamp,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_parse_as_documented() {
        assert!(Condition::parse("balance", "below", 1_000).is_ok());
        assert!(Condition::parse("available", "equal", 0).is_ok());
        assert!(Condition::parse("debt", "deeper", 500).is_ok());
        assert!(Condition::parse("debt", "below", 500).is_err());
        assert!(Condition::parse("debt", "deeper", -1).is_err());
        assert!(Condition::parse("balance", "deeper", 1).is_err());
        assert!(Condition::parse("limit", "below", 1).is_err());
        assert!(Condition::parse("balance", "below", MONITOR_AMOUNT_MAX + 1).is_err());
    }
}
