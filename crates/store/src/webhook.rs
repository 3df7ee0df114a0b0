//! Webhooks as the store keeps them, the same on both backends: subscriptions, the events derived
//! from the three-party history (the journal every order, member and account change writes in its
//! own transaction), one delivery per event and subscription, and each attempt's log.
//!
//! No event is lost because none is written beside the change it reports: the journal
//! (`party_changes`) is written in the change's own transaction, and the webhook deriver reads it
//! after a persisted cursor, writing the events, their deliveries and the cursor's move in one
//! transaction. A crash before that transaction leaves the cursor where it was; the next deriver
//! reads the same rows again and derives the same events (their ids come from the journal's seqs).
//!
//! On PostgreSQL a journal row's seq is taken inside its transaction, so rows may commit out of seq
//! order; a cursor on seq alone would pass a row still uncommitted. Each row therefore keeps the id
//! of the transaction that wrote it (`xact`), and the deriver reads only rows of transactions older
//! than every transaction still running (`txid_snapshot_xmin`), in (xact, seq) order: no row can
//! appear later before the cursor. SQLite has one writer, so its seqs commit in order (xact is 0).

use sanhu_core::Timestamp;

/// The rows a subscription owns, as (table, the column naming it), in the order they are deleted:
/// its deliveries' attempts and deliveries first, the subscription last (the count of the last
/// delete says whether it was there).
pub(crate) const SUBSCRIPTION_ROWS: [(&str, &str); 3] = [
    ("webhook_attempts", "subscription_id"),
    ("webhook_deliveries", "subscription_id"),
    ("webhook_subscriptions", "id"),
];

/// The rows an event owns, as (table, the column naming it), in the order a pruned event's are
/// deleted (SQLite's one writer: no delivery can be made pending between its reading and these).
pub(crate) const EVENT_ROWS: [(&str, &str); 3] =
    [("webhook_attempts", "event_id"), ("webhook_deliveries", "event_id"), ("webhook_events", "id")];

/// How far the deriver has read the journal: the last (transaction, seq) derived.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct JournalCursor {
    pub xact: i64,
    pub seq: i64,
}

/// One row of the journal (the three-party history), with where it stands for the cursor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JournalRow {
    pub cursor: JournalCursor,
    pub record_id: String,
    pub customer_id: String,
    pub action: String,
    pub actor: String,
    pub detail: String,
    pub at: Timestamp,
}

/// A subscription: where to post which events, for whom.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSubscription {
    /// `whk_…`.
    pub id: String,
    /// The API client that made it and owns it.
    pub client_id: String,
    /// The member the client was bound to when it subscribed (None: the platform's).
    pub bound_member: Option<String>,
    pub url: String,
    /// The event types, as a JSON array of strings.
    pub events: String,
    pub description: Option<String>,
    /// `active` or `disabled`.
    pub status: String,
    /// Why it is disabled: `by_client`, or `failing` (a delivery gave up).
    pub disabled_reason: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    /// How deliveries are signed: `ed25519` (sanhu's key) or `hmac-sha256` (the secret below).
    pub signature: String,
    /// The HMAC secret, sealed under the data key by the service; None for `ed25519`.
    pub secret: Option<String>,
}

/// An event, as delivered: its id (`evt_…`), type, the object it is about and the JSON body posted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredEvent {
    pub id: String,
    pub event_type: String,
    pub object_id: String,
    pub payload: String,
    pub created_at: Timestamp,
}

/// One event to one subscription, and where its delivery stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredDelivery {
    /// Increasing: the order in which deliveries of one subscription and object are made.
    pub seq: i64,
    pub subscription_id: String,
    pub event_id: String,
    pub event_type: String,
    pub object_id: String,
    /// `pending`, `delivered` or `failed` (the retries gave up).
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: Timestamp,
    pub last_attempt_at: Option<Timestamp>,
    pub last_status_code: Option<i64>,
    pub created_at: Timestamp,
}

/// A delivery due now, with what sending it needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DueDelivery {
    pub delivery: StoredDelivery,
    pub url: String,
    pub payload: String,
    /// The subscription's signature scheme and sealed secret (see [`StoredSubscription`]).
    pub signature: String,
    pub secret: Option<String>,
}

/// One attempt of a delivery, as logged.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAttempt {
    /// Assigned by the store; 0 in a write.
    pub seq: i64,
    pub subscription_id: String,
    pub event_id: String,
    /// 1 for the first attempt.
    pub attempt: i64,
    pub at: Timestamp,
    /// The receiver's HTTP status (None: no answer: refused, timed out, unreachable).
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    /// `delivered` (a 2xx answer) or `failed`.
    pub outcome: String,
    /// Why it failed without an answer (`timeout`, `connect: …`).
    pub error: Option<String>,
    /// The start of the answer's body.
    pub response_snippet: Option<String>,
}

/// What an attempt leaves of its delivery.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AttemptSettles {
    Delivered,
    /// Tried again at this time.
    Retry(Timestamp),
    /// The retries gave up: the delivery fails and its subscription is disabled (`failing`).
    GaveUp,
}

/// The attempt to log and what it settles, for [`WebhookStore::webhook_settle`].
#[derive(Clone, Debug)]
pub struct AttemptResult {
    pub attempt: StoredAttempt,
    pub settles: AttemptSettles,
    /// The lease the delivery was claimed with: a delivery whose lease ran out (and was claimed
    /// again) is not settled by this attempt, which is still logged.
    pub lease_until: Timestamp,
}

/// A balance monitor: a condition on the balance of one account, or of every account of a type
/// (those its client reaches), firing `balance_monitor.triggered` once per crossing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMonitor {
    /// `bmn_…`.
    pub id: String,
    /// The API client that made it and owns it (its subscriptions receive the events).
    pub client_id: String,
    /// The member the client was bound to (None: the platform's).
    pub bound_member: Option<String>,
    /// `account` (target: an `acc_…` id) or `account_type` (target: the type's code).
    pub target_kind: String,
    pub target: String,
    /// `balance`, `available` or `debt`.
    pub field: String,
    /// `below`, `above` or `equal` (`deeper` for a debt).
    pub op: String,
    /// In minor units.
    pub amount: i64,
    pub description: Option<String>,
    /// `active` or `disabled`.
    pub status: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// Where a monitor stands on one account: beyond its condition or not, as of the ledger entry at
/// `last_at` (the entries after it are evaluated next).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MonitorState {
    pub monitor_id: String,
    /// The account's id (`acc_…`).
    pub account_id: String,
    pub beyond: bool,
    pub last_at: Timestamp,
}

store_trait! {
    /// What every backend provides for webhooks.
    pub trait WebhookStore {
        /// Creates `subscription` unless its client has `per_client_max` already; whether it did.
        fn webhook_create(&self, subscription: &StoredSubscription, per_client_max: u32) -> anyhow::Result<bool>;
        fn webhook_subscription(&self, id: &str) -> anyhow::Result<Option<StoredSubscription>>;
        /// A client's subscriptions in id order after `after`.
        fn webhook_subscriptions_of_client(&self, client_id: &str, after: Option<&str>, limit: u32) -> anyhow::Result<Vec<StoredSubscription>>;
        /// Every client's subscriptions after `after`, in id order (the back office's list).
        fn webhook_subscriptions_all(&self, after: Option<&str>, limit: u32) -> anyhow::Result<Vec<StoredSubscription>>;
        /// Every active subscription of a client not revoked (the deriver's; bounded by the
        /// per-client limit and the clients).
        fn webhook_active_subscriptions(&self) -> anyhow::Result<Vec<StoredSubscription>>;
        /// Replaces the subscription's url, events, description, status and reason; whether it exists.
        fn webhook_update(&self, subscription: &StoredSubscription) -> anyhow::Result<bool>;
        /// Deletes the subscription, its deliveries and their attempts' log; whether it existed.
        fn webhook_delete(&self, id: &str) -> anyhow::Result<bool>;
        /// Where the deriver stands.
        fn webhook_cursor(&self) -> anyhow::Result<JournalCursor>;
        /// Journal rows after `after` that can no longer be preceded by a row committed later, in
        /// cursor order, at most `limit`.
        fn webhook_journal(&self, after: JournalCursor, limit: u32) -> anyhow::Result<Vec<JournalRow>>;
        /// Keeps events and their deliveries (each delivery a subscription and an event id) and moves
        /// the cursor from `from` to `to`, in one transaction; false (nothing written) when the cursor
        /// is no longer at `from` (another instance derived them).
        fn webhook_derive(
            &self,
            from: JournalCursor,
            to: JournalCursor,
            events: &[StoredEvent],
            deliveries: &[(String, String)],
        ) -> anyhow::Result<bool>;
        /// Keeps an event outside the journal (a test event) with its deliveries.
        fn webhook_add_event(&self, event: &StoredEvent, deliveries: &[(String, String)]) -> anyhow::Result<()>;
        /// Claims up to `limit` deliveries due at `now` of active subscriptions of clients not
        /// revoked, each the earliest pending of its subscription and object, at most
        /// `per_subscription_max` of one subscription (so that one slow receiver cannot fill a round), by moving their next attempt to `lease_until` (so
        /// that no other instance takes them meanwhile), and answers them.
        fn webhook_claim_due(
            &self,
            now: Timestamp,
            lease_until: Timestamp,
            limit: u32,
            per_subscription_max: u32,
        ) -> anyhow::Result<Vec<DueDelivery>>;
        /// Logs the attempts and settles their deliveries, in one transaction.
        fn webhook_settle(&self, results: &[AttemptResult]) -> anyhow::Result<()>;
        /// A subscription's deliveries, latest first, before the seq `before`.
        fn webhook_deliveries(&self, subscription_id: &str, before: Option<i64>, limit: u32) -> anyhow::Result<Vec<StoredDelivery>>;
        /// A subscription's attempts (of one event, or all), latest first, before the seq `before`.
        fn webhook_attempts(
            &self,
            subscription_id: &str,
            event_id: Option<&str>,
            before: Option<i64>,
            limit: u32,
        ) -> anyhow::Result<Vec<StoredAttempt>>;
        /// Makes a delivery pending again, due at `now`; whether it exists.
        fn webhook_resend(&self, subscription_id: &str, event_id: &str, now: Timestamp) -> anyhow::Result<bool>;
        /// sanhu's webhook signing key as kept (sealed by the service), or `candidate` kept now when
        /// there is none.
        fn webhook_signing_key(&self, candidate: &[u8]) -> anyhow::Result<Vec<u8>>;
        /// Replaces the kept signing key `old` by `new` (the same key sealed again: a key kept in the
        /// clear by an older version, or sealed under a retired data key) and erases the space the old
        /// form held; false (nothing written) when the key kept is no longer `old`.
        fn webhook_signing_key_replace(&self, old: &[u8], new: &[u8]) -> anyhow::Result<bool>;
        /// Deletes up to `limit` events created before `before` none of whose deliveries is still
        /// undelivered (every one delivered, or none left), with their deliveries and attempts, in one
        /// transaction; how many events it deleted.
        fn webhook_prune(&self, before: Timestamp, limit: u32) -> anyhow::Result<u64>;
        /// Creates `monitor` unless its client has `per_client_max` already; whether it did.
        fn monitor_create(&self, monitor: &StoredMonitor, per_client_max: u32) -> anyhow::Result<bool>;
        fn monitor_get(&self, id: &str) -> anyhow::Result<Option<StoredMonitor>>;
        /// A client's monitors in id order after `after`.
        fn monitors_of_client(&self, client_id: &str, after: Option<&str>, limit: u32) -> anyhow::Result<Vec<StoredMonitor>>;
        /// Every active monitor (bounded by the per-client limit and the clients).
        fn monitors_active(&self) -> anyhow::Result<Vec<StoredMonitor>>;
        /// Sets a monitor's status; whether it exists.
        fn monitor_set_status(&self, id: &str, status: &str, at: Timestamp) -> anyhow::Result<bool>;
        /// Enables a disabled monitor as of `at`, forgetting its states (it evaluates the entries
        /// after `at` only, from the counters then, so a crossing made while it was disabled does not
        /// fire), in one transaction; whether it was disabled.
        fn monitor_resume(&self, id: &str, at: Timestamp) -> anyhow::Result<bool>;
        /// Deletes a monitor and its states; whether it existed.
        fn monitor_delete(&self, id: &str) -> anyhow::Result<bool>;
        /// The states of every monitor on one account.
        fn monitor_states(&self, account_id: &str) -> anyhow::Result<Vec<MonitorState>>;
        /// Moves a monitor's state on an account from `before` (None: it has none yet) to `after`,
        /// keeping the events of the crossings between them and their deliveries, in one
        /// transaction; false (nothing written) when the state is no longer `before` (another
        /// instance evaluated these entries first).
        fn monitor_advance(
            &self,
            before: Option<&MonitorState>,
            after: &MonitorState,
            events: &[StoredEvent],
            deliveries: &[(String, String)],
        ) -> anyhow::Result<bool>;
    }
}

/// Keeps at most `per_subscription_max` of each subscription's due deliveries, and `limit` in all, in
/// the order given.
pub(crate) fn cap_per_subscription(due: Vec<DueDelivery>, limit: u32, per_subscription_max: u32) -> Vec<DueDelivery> {
    let mut taken: std::collections::HashMap<String, u32> = std::collections::HashMap::new();
    let mut kept = Vec::new();
    for d in due {
        if kept.len() >= limit as usize {
            break;
        }
        let count = taken.entry(d.delivery.subscription_id.clone()).or_default();
        if *count < per_subscription_max {
            *count += 1;
            kept.push(d);
        }
    }
    kept
}
