//! Webhooks (notify): an API client subscribes a URL to event types, and sanhu posts each event to it,
//! signed, at least once, in order per object, retrying over a day.
//!
//! Events are not written beside the changes they report: every order, member and account change
//! already writes a journal row (the three-party history) in its own transaction, and the deriver
//! (`delivery.rs`) reads the journal after a persisted cursor and writes the events and one delivery
//! per matching subscription. So no event is lost (the journal commits with the change, the cursor
//! moves with the deliveries) and the ledger's batches write nothing more (see `sanhu_store::webhook`).
//!
//! A subscription belongs to the client that made it; another client's subscription answers as
//! absent. A client bound to a member receives the events of what it reaches ([`Parties::reaches`],
//! the one rule) and of the orders it made; the platform's clients receive every event.

mod delivery;
mod events;
mod monitors;
mod target;

use anyhow::Context as _;
use sanhu_core::id::{MemberId, WebhookId};
use sanhu_core::Timestamp;
use sanhu_store::webhook::{StoredAttempt, StoredDelivery, StoredEvent, StoredSubscription, WebhookStore};
use sanhu_store::Store;

pub use delivery::{
    run_webhooks, sign_delivery, sign_delivery_hmac, PostAnswer, WebhookTransport, ATTEMPT_LEASE_S,
    HMAC_SIGNATURE_SCHEME, RETRY_SCHEDULE_S, SIGNATURE_SCHEME,
};
pub use events::{EVENT_TYPES, TEST_EVENT};
pub use monitors::{
    monitor_codes, run_monitors, Condition, Monitor, MonitorTarget, Monitors, NewMonitor, MONITORS_PER_CLIENT_MAX,
    MONITOR_AMOUNT_MAX, MONITOR_CONDITION_INVALID, MONITOR_EVENT, MONITOR_LIMIT_REACHED, MONITOR_NOT_FOUND,
    MONITOR_TARGET_INVALID,
};
pub use target::{check_target_address, TargetRefusal};

use crate::clock;
use crate::failure::Rejection;
use crate::party::Parties;

use_case_failure! {
    /// Why a webhook use case did not succeed.
    pub enum WebhookFailure;
}

/// How many subscriptions one client may have.
pub const SUBSCRIPTIONS_PER_CLIENT_MAX: u32 = 20;
/// The longest subscription URL, in bytes.
pub const URL_BYTES_MAX: usize = 2048;
/// The most event types one subscription names.
pub const EVENTS_PER_SUBSCRIPTION_MAX: usize = 32;
/// The longest description, in characters.
pub const DESCRIPTION_CHARS_MAX: usize = 200;
/// A page of subscriptions, deliveries or attempts holds at most this many.
pub const PAGE_MAX: u32 = 100;
/// How long delivered events are kept by default, in days.
pub const RETENTION_DAYS_DEFAULT: u32 = 30;
/// Events one prune transaction deletes at most (with their deliveries and attempts), so that
/// pruning a large backlog never holds the writer long.
pub const PRUNE_BATCH_EVENTS_MAX: u32 = 500;
/// The random bytes of an HMAC secret.
const HMAC_SECRET_BYTES: usize = 32;
/// Where the signing key is sealed (the associated data binding it there).
const SIGNING_KEY_SEALED_AT: &str = "webhook_signing_key\nseed";

pub const WEBHOOK_NOT_FOUND: Rejection =
    Rejection { code: "webhook_not_found", status: 404, message: "no webhook subscription has this id" };
pub const WEBHOOK_DELIVERY_NOT_FOUND: Rejection = Rejection {
    code: "webhook_delivery_not_found",
    status: 404,
    message: "the subscription has no delivery of this event",
};
pub const WEBHOOK_URL_INVALID: Rejection = Rejection {
    code: "webhook_url_invalid",
    status: 422,
    message:
        "the URL is not an absolute https:// URL with a host, of at most 2048 bytes, without credentials or a fragment",
};
pub const WEBHOOK_URL_NOT_ALLOWED: Rejection = Rejection {
    code: "webhook_url_not_allowed",
    status: 422,
    message: "the URL's host is a loopback, private, link-local or otherwise internal address, which webhooks \
              are not sent to unless the server's configuration allows it",
};
pub const WEBHOOK_EVENTS_INVALID: Rejection = Rejection {
    code: "webhook_events_invalid",
    status: 422,
    message: "events must list 1 to 32 known event types (or \"*\" for all), each once",
};
pub const WEBHOOK_DESCRIPTION_INVALID: Rejection =
    Rejection { code: "webhook_description_invalid", status: 422, message: "a description has at most 200 characters" };
pub const WEBHOOK_LIMIT_REACHED: Rejection = Rejection {
    code: "webhook_limit_reached",
    status: 409,
    message: "the client has 20 webhook subscriptions, the most one client may have; delete one first",
};
pub const WEBHOOK_DISABLED: Rejection =
    Rejection { code: "webhook_disabled", status: 409, message: "the subscription is disabled; enable it first" };
pub const WEBHOOK_DISABLED_BY_CLIENT: Rejection = Rejection {
    code: "webhook_disabled_by_client",
    status: 409,
    message: "the client disabled this subscription itself; only the client enables it again",
};
pub const WEBHOOK_CURSOR_INVALID: Rejection = Rejection {
    code: "webhook_cursor_invalid",
    status: 422,
    message: "the cursor is not one a page of this list returned",
};
pub const WEBHOOK_LIMIT_INVALID: Rejection =
    Rejection { code: "webhook_limit_invalid", status: 422, message: "a page holds 1 to 100" };
pub const WEBHOOK_SECRET_UNAVAILABLE: Rejection = Rejection {
    code: "webhook_secret_unavailable",
    status: 409,
    message: "hmac-sha256 needs the server's data key configured (data_key or data_key_file): a secret sealed \
              under a key made up at start could not be read after a restart",
};
pub const WEBHOOK_SIGNATURE_INVALID: Rejection = Rejection {
    code: "webhook_signature_invalid",
    status: 422,
    message: "signature is ed25519 (sanhu's key, the default) or hmac-sha256 (a secret of the subscription's own)",
};

/// Every code a webhook use case can refuse with.
pub fn webhook_codes() -> Vec<Rejection> {
    vec![
        WEBHOOK_NOT_FOUND,
        WEBHOOK_DELIVERY_NOT_FOUND,
        WEBHOOK_URL_INVALID,
        WEBHOOK_URL_NOT_ALLOWED,
        WEBHOOK_EVENTS_INVALID,
        WEBHOOK_DESCRIPTION_INVALID,
        WEBHOOK_LIMIT_REACHED,
        WEBHOOK_DISABLED,
        WEBHOOK_DISABLED_BY_CLIENT,
        WEBHOOK_CURSOR_INVALID,
        WEBHOOK_LIMIT_INVALID,
        WEBHOOK_SIGNATURE_INVALID,
        WEBHOOK_SECRET_UNAVAILABLE,
    ]
    .into_iter()
    .chain(monitor_codes())
    .collect()
}

/// Where webhooks may go and how they are retried: `[webhooks]` in the configuration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookConfig {
    /// Send to loopback, private and link-local addresses too (development and tests; never in
    /// production, where it lets a client make sanhu call its internal network).
    pub allow_private_targets: bool,
    /// Accept `http://` URLs (development and tests): deliveries are then unencrypted.
    pub allow_plain_http: bool,
    /// The waits before each retry, in seconds; the delivery gives up after the last.
    pub retry_schedule_s: Vec<u64>,
    /// How often the deriver and the deliverer look for work when idle, in milliseconds.
    pub poll_interval_ms: u64,
    /// Deliveries sent at once, over all subscriptions.
    pub deliveries_at_once: usize,
    /// How long one attempt may take, connecting included, in milliseconds.
    pub attempt_timeout_ms: u64,
    /// How long events whose every delivery was delivered are kept, in days; older ones are pruned
    /// with their deliveries and attempts (`prune_once`). An undelivered event is never pruned.
    pub retention_days: u32,
}

impl Default for WebhookConfig {
    fn default() -> WebhookConfig {
        WebhookConfig {
            allow_private_targets: false,
            allow_plain_http: false,
            retry_schedule_s: RETRY_SCHEDULE_S.to_vec(),
            poll_interval_ms: 500,
            deliveries_at_once: 16,
            attempt_timeout_ms: 10_000,
            retention_days: RETENTION_DAYS_DEFAULT,
        }
    }
}

/// Who asks: an API client (bound to a member, or the platform's), whose own subscriptions it
/// reaches, or the back office (staff), which reads and acts on every client's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscriber {
    /// `cli_…`, or [`BACK_OFFICE`].
    pub owner: String,
    pub bound: Option<MemberId>,
}

/// The back office's name as a [`Subscriber`]: staff reach every client's subscriptions (to read
/// them, see their deliveries, resend one, disable and enable them), and own none (a subscription is
/// pointed somewhere by an API client only).
pub const BACK_OFFICE: &str = "staff";

impl Subscriber {
    pub fn back_office() -> Subscriber {
        Subscriber { owner: BACK_OFFICE.to_owned(), bound: None }
    }

    pub fn is_back_office(&self) -> bool {
        self.owner == BACK_OFFICE
    }
}

/// A subscription as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    pub id: String,
    pub owner: String,
    pub bound_member: Option<String>,
    pub url: String,
    pub events: Vec<String>,
    pub description: Option<String>,
    pub status: String,
    pub disabled_reason: Option<String>,
    /// How its deliveries are signed.
    pub signature: SignatureScheme,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How a subscription's deliveries are signed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureScheme {
    /// With sanhu's Ed25519 webhook key (its public key is shown with every subscription).
    Ed25519,
    /// With HMAC-SHA256 under a secret of the subscription's own, shown once when it is made.
    HmacSha256,
}

impl SignatureScheme {
    pub fn parse(text: &str) -> Result<SignatureScheme, WebhookFailure> {
        match text {
            "ed25519" => Ok(SignatureScheme::Ed25519),
            "hmac-sha256" => Ok(SignatureScheme::HmacSha256),
            _ => Err(WebhookFailure::Rejected(WEBHOOK_SIGNATURE_INVALID)),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            SignatureScheme::Ed25519 => "ed25519",
            SignatureScheme::HmacSha256 => "hmac-sha256",
        }
    }
}

/// A subscription just made, with its HMAC secret: the one time it is shown.
#[derive(Clone, Debug)]
pub struct Created {
    pub subscription: Subscription,
    /// `whsec_…` for `hmac-sha256`; None for `ed25519`.
    pub secret: Option<String>,
}

/// Where a subscription's HMAC secret is sealed: bound to the subscription, so that a sealed secret
/// copied to another row does not open there.
pub(crate) fn secret_sealed_at(subscription_id: &str) -> String {
    format!("webhook_subscriptions\n{subscription_id}\nsecret")
}

impl Subscription {
    fn from_stored(s: StoredSubscription) -> Subscription {
        Subscription {
            events: serde_json::from_str(&s.events).unwrap_or_default(),
            id: s.id,
            owner: s.client_id,
            bound_member: s.bound_member,
            url: s.url,
            description: s.description,
            status: s.status,
            disabled_reason: s.disabled_reason,
            // A scheme this version does not know is not written by it; shown as the default.
            signature: SignatureScheme::parse(&s.signature).unwrap_or(SignatureScheme::Ed25519),
            created_at: s.created_at,
            updated_at: s.updated_at,
        }
    }
}

/// What a subscription is made or changed with.
#[derive(Clone, Debug, Default)]
pub struct SubscriptionChange {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub description: Option<Option<String>>,
}

/// A page of a list, and the cursor of the next.
#[derive(Clone, Debug)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<String>,
}

/// The webhooks' use cases, over the store and the parties (for the reach rule).
#[derive(Clone)]
pub struct Webhooks {
    parties: Parties,
    config: std::sync::Arc<WebhookConfig>,
    key: std::sync::Arc<tokio::sync::OnceCell<ed25519_dalek::SigningKey>>,
}

impl Webhooks {
    pub fn new(parties: Parties, config: WebhookConfig) -> Webhooks {
        Webhooks {
            parties,
            config: std::sync::Arc::new(config),
            key: std::sync::Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    pub fn config(&self) -> &WebhookConfig {
        &self.config
    }

    fn store(&self) -> &Store {
        self.parties.store()
    }

    pub(crate) fn parties(&self) -> &Parties {
        &self.parties
    }

    /// sanhu's webhook signing key: made once per database (the first instance to ask keeps one),
    /// so that every instance signs with the same key and a restart keeps it. It is kept sealed under
    /// the data key, as certificate numbers are (`party::data_key`); a key an older version kept in
    /// the clear, or one sealed under a retired data key, is sealed under the current key when first
    /// read (`serve` reads it at start), and the space the old form held is erased.
    pub async fn signing_key(&self) -> anyhow::Result<ed25519_dalek::SigningKey> {
        let key = self
            .key
            .get_or_try_init(|| async {
                let data_keys = &self.parties.config().data_keys;
                let seed = clock::random_bytes::<32>();
                // Under a data key made up at start the key is kept as it was: sealed under that one,
                // the next start (or another instance) could never open it again.
                let candidate = if data_keys.is_ephemeral() {
                    seed.to_vec()
                } else {
                    data_keys.seal(&hex::encode(seed), SIGNING_KEY_SEALED_AT).into_bytes()
                };
                let kept = self.store().webhook_signing_key(&candidate).await?;
                let seed = self.open_signing_key(&kept).await?;
                Ok::<_, anyhow::Error>(ed25519_dalek::SigningKey::from_bytes(&seed))
            })
            .await?;
        Ok(key.clone())
    }

    /// The seed of the signing key as kept, sealed again under the current data key when it was not.
    async fn open_signing_key(&self, kept: &[u8]) -> anyhow::Result<[u8; 32]> {
        let data_keys = &self.parties.config().data_keys;
        // Kept in the clear by a version before sealing: the 32-byte seed itself (a sealed one is
        // text of about 130 bytes).
        let (seed, current) = match <[u8; 32]>::try_from(kept) {
            Ok(clear) if data_keys.is_ephemeral() => {
                tracing::warn!(
                    "no data key configured: the webhook signing key stays in the clear in the database; configure \
                     data_key (or data_key_file) and it is sealed at the next start"
                );
                (clear, true)
            }
            Ok(clear) => (clear, false),
            Err(_) => {
                let sealed = std::str::from_utf8(kept).context("the stored webhook signing key is not sealed text")?;
                let text = data_keys.open(sealed, SIGNING_KEY_SEALED_AT).context("the webhook signing key")?;
                let seed = hex::decode(text).ok().and_then(|b| <[u8; 32]>::try_from(b).ok());
                (seed.context("the sealed webhook signing key is not 32 bytes")?, data_keys.is_current(sealed))
            }
        };
        if !current {
            let resealed = data_keys.seal(&hex::encode(seed), SIGNING_KEY_SEALED_AT);
            if self.store().webhook_signing_key_replace(kept, resealed.as_bytes()).await? {
                tracing::info!(data_key = %data_keys.current_id(), "the webhook signing key is sealed under the current data key");
            }
        }
        Ok(seed)
    }

    /// The public key receivers verify deliveries with: standard base64 of its 32 bytes.
    pub async fn public_key(&self) -> Result<String, WebhookFailure> {
        use base64::Engine as _;
        let key = self.signing_key().await?;
        Ok(base64::engine::general_purpose::STANDARD.encode(key.verifying_key().to_bytes()))
    }

    /// Subscribes `url` to `events` for `subscriber`, signed as `signature` says; an HMAC secret is
    /// made for it, kept sealed under the data key, and answered this once.
    pub async fn create(
        &self,
        subscriber: &Subscriber,
        url: &str,
        events: &[String],
        description: Option<String>,
        signature: SignatureScheme,
    ) -> Result<Created, WebhookFailure> {
        let url = target::check_url(url, &self.config)?;
        let events = events::check_events(events)?;
        let description = check_description(description)?;
        if signature == SignatureScheme::HmacSha256 && self.parties.config().data_keys.is_ephemeral() {
            return Err(WebhookFailure::Rejected(WEBHOOK_SECRET_UNAVAILABLE));
        }
        let now = clock::now();
        let id = clock::new_id::<sanhu_core::id::WebhookTag>().to_string();
        let secret = match signature {
            SignatureScheme::Ed25519 => None,
            SignatureScheme::HmacSha256 => {
                use base64::Engine as _;
                let bytes = clock::random_bytes::<HMAC_SECRET_BYTES>();
                Some(format!("whsec_{}", base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)))
            }
        };
        let sealed = secret.as_deref().map(|s| self.parties.config().data_keys.seal(s, &secret_sealed_at(&id)));
        let stored = StoredSubscription {
            signature: signature.as_str().to_owned(),
            secret: sealed,
            id,
            client_id: subscriber.owner.clone(),
            bound_member: subscriber.bound.map(|m| m.to_string()),
            url,
            events: serde_json::to_string(&events).expect("strings encode"),
            description,
            status: "active".to_owned(),
            disabled_reason: None,
            created_at: now,
            updated_at: now,
        };
        if !self.store().webhook_create(&stored, SUBSCRIPTIONS_PER_CLIENT_MAX).await? {
            return Err(WebhookFailure::Rejected(WEBHOOK_LIMIT_REACHED));
        }
        Ok(Created { subscription: Subscription::from_stored(stored), secret })
    }

    /// The subscriber's subscription `id`; another's answers as absent.
    pub async fn get(&self, subscriber: &Subscriber, id: &str) -> Result<Subscription, WebhookFailure> {
        self.owned(subscriber, id).await.map(Subscription::from_stored)
    }

    async fn owned(&self, subscriber: &Subscriber, id: &str) -> Result<StoredSubscription, WebhookFailure> {
        if WebhookId::parse(id).is_none() {
            return Err(WebhookFailure::NotFound(WEBHOOK_NOT_FOUND));
        }
        match self.store().webhook_subscription(id).await? {
            Some(s) if s.client_id == subscriber.owner || subscriber.is_back_office() => Ok(s),
            _ => Err(WebhookFailure::NotFound(WEBHOOK_NOT_FOUND)),
        }
    }

    pub async fn list(
        &self,
        subscriber: &Subscriber,
        after: Option<&str>,
        limit: u32,
    ) -> Result<Page<Subscription>, WebhookFailure> {
        let limit = check_limit(limit)?;
        if after.is_some_and(|a| WebhookId::parse(a).is_none()) {
            return Err(WebhookFailure::Rejected(WEBHOOK_CURSOR_INVALID));
        }
        let rows = if subscriber.is_back_office() {
            self.store().webhook_subscriptions_all(after, limit + 1).await?
        } else {
            self.store().webhook_subscriptions_of_client(&subscriber.owner, after, limit + 1).await?
        };
        let more = rows.len() > limit as usize;
        let items: Vec<Subscription> = rows.into_iter().take(limit as usize).map(Subscription::from_stored).collect();
        let next = if more { items.last().map(|s| s.id.clone()) } else { None };
        Ok(Page { items, next })
    }

    /// Changes a subscription's URL, events or description.
    pub async fn update(
        &self,
        subscriber: &Subscriber,
        id: &str,
        change: SubscriptionChange,
    ) -> Result<Subscription, WebhookFailure> {
        let mut stored = self.owned(subscriber, id).await?;
        if let Some(url) = &change.url {
            stored.url = target::check_url(url, &self.config)?;
        }
        if let Some(events) = &change.events {
            stored.events = serde_json::to_string(&events::check_events(events)?).expect("strings encode");
        }
        if let Some(description) = change.description {
            stored.description = check_description(description)?;
        }
        self.save(stored).await
    }

    /// Stops deliveries (they wait, and resume when enabled) or resumes them. The back office's
    /// disabling is told from the client's (`by_staff`, `by_client`); the back office enables one
    /// disabled by staff or for failing, never one its client disabled itself
    /// ([`WEBHOOK_DISABLED_BY_CLIENT`]): that is the client's decision.
    pub async fn set_enabled(
        &self,
        subscriber: &Subscriber,
        id: &str,
        enabled: bool,
    ) -> Result<Subscription, WebhookFailure> {
        let mut stored = self.owned(subscriber, id).await?;
        let back_office = subscriber.is_back_office() && stored.client_id != subscriber.owner;
        if enabled && back_office && stored.disabled_reason.as_deref() == Some("by_client") {
            return Err(WebhookFailure::Rejected(WEBHOOK_DISABLED_BY_CLIENT));
        }
        (stored.status, stored.disabled_reason) = match (enabled, back_office) {
            (true, _) => ("active".to_owned(), None),
            (false, false) => ("disabled".to_owned(), Some("by_client".to_owned())),
            (false, true) => ("disabled".to_owned(), Some("by_staff".to_owned())),
        };
        self.save(stored).await
    }

    async fn save(&self, mut stored: StoredSubscription) -> Result<Subscription, WebhookFailure> {
        stored.updated_at = clock::now();
        if !self.store().webhook_update(&stored).await? {
            return Err(WebhookFailure::NotFound(WEBHOOK_NOT_FOUND));
        }
        Ok(Subscription::from_stored(stored))
    }

    /// Deletes a subscription with its deliveries and their log.
    pub async fn delete(&self, subscriber: &Subscriber, id: &str) -> Result<(), WebhookFailure> {
        self.owned(subscriber, id).await?;
        if !self.store().webhook_delete(id).await? {
            return Err(WebhookFailure::NotFound(WEBHOOK_NOT_FOUND));
        }
        Ok(())
    }

    /// A subscription's deliveries, latest first.
    pub async fn deliveries(
        &self,
        subscriber: &Subscriber,
        id: &str,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Page<StoredDelivery>, WebhookFailure> {
        self.owned(subscriber, id).await?;
        let limit = check_limit(limit)?;
        let before = seq_cursor(before)?;
        let mut rows = self.store().webhook_deliveries(id, before, limit + 1).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more { rows.last().map(|d| d.seq.to_string()) } else { None };
        Ok(Page { items: rows, next })
    }

    /// A subscription's attempts (of one event, or all), latest first.
    pub async fn attempts(
        &self,
        subscriber: &Subscriber,
        id: &str,
        event_id: Option<&str>,
        before: Option<&str>,
        limit: u32,
    ) -> Result<Page<StoredAttempt>, WebhookFailure> {
        self.owned(subscriber, id).await?;
        let limit = check_limit(limit)?;
        let before = seq_cursor(before)?;
        let mut rows = self.store().webhook_attempts(id, event_id, before, limit + 1).await?;
        let more = rows.len() > limit as usize;
        rows.truncate(limit as usize);
        let next = if more { rows.last().map(|a| a.seq.to_string()) } else { None };
        Ok(Page { items: rows, next })
    }

    /// Sends an event's delivery again, now (however it went before).
    pub async fn resend(&self, subscriber: &Subscriber, id: &str, event_id: &str) -> Result<(), WebhookFailure> {
        let stored = self.owned(subscriber, id).await?;
        if stored.status != "active" {
            return Err(WebhookFailure::Rejected(WEBHOOK_DISABLED));
        }
        if event_id.len() > 64 || !self.store().webhook_resend(id, event_id, clock::now()).await? {
            return Err(WebhookFailure::NotFound(WEBHOOK_DELIVERY_NOT_FOUND));
        }
        Ok(())
    }

    /// Queues a `webhook.test` event to this subscription only, answered with its id.
    pub async fn send_test(&self, subscriber: &Subscriber, id: &str) -> Result<String, WebhookFailure> {
        let stored = self.owned(subscriber, id).await?;
        if stored.status != "active" {
            return Err(WebhookFailure::Rejected(WEBHOOK_DISABLED));
        }
        let event = events::test_event(&stored.id, clock::now());
        self.store().webhook_add_event(&event, &[(stored.id.clone(), event.id.clone())]).await?;
        Ok(event.id)
    }

    /// Derives the events of the journal rows written since the last pass (see `delivery.rs`);
    /// how many rows were read.
    pub async fn derive_once(&self) -> anyhow::Result<usize> {
        delivery::derive(self).await
    }

    /// Deletes the events older than the retention whose every delivery was delivered, with their
    /// deliveries and attempts, in transactions of at most [`PRUNE_BATCH_EVENTS_MAX`] events; how
    /// many events it deleted. An event with a delivery pending or failed is kept, however old.
    pub async fn prune_once(&self) -> anyhow::Result<u64> {
        let retention_ns = i64::from(self.config.retention_days) * 86_400 * 1_000_000_000;
        let before = Timestamp::from_nanos(clock::now().nanos().saturating_sub(retention_ns));
        let mut pruned = 0;
        loop {
            let batch = self.store().webhook_prune(before, PRUNE_BATCH_EVENTS_MAX).await?;
            pruned += batch;
            if batch < u64::from(PRUNE_BATCH_EVENTS_MAX) {
                return Ok(pruned);
            }
            // Other writers take the writer between batches.
            tokio::task::yield_now().await;
        }
    }
}

fn check_description(description: Option<String>) -> Result<Option<String>, WebhookFailure> {
    match description {
        Some(d) if d.chars().count() > DESCRIPTION_CHARS_MAX || d.chars().any(char::is_control) => {
            Err(WebhookFailure::Rejected(WEBHOOK_DESCRIPTION_INVALID))
        }
        other => Ok(other),
    }
}

fn check_limit(limit: u32) -> Result<u32, WebhookFailure> {
    if (1..=PAGE_MAX).contains(&limit) {
        Ok(limit)
    } else {
        Err(WebhookFailure::Rejected(WEBHOOK_LIMIT_INVALID))
    }
}

fn seq_cursor(text: Option<&str>) -> Result<Option<i64>, WebhookFailure> {
    match text {
        None => Ok(None),
        Some(t) => t
            .parse::<i64>()
            .ok()
            .filter(|n| *n > 0 && t.len() <= 19 && t.bytes().all(|b| b.is_ascii_digit()))
            .map(Some)
            .ok_or(WebhookFailure::Rejected(WEBHOOK_CURSOR_INVALID)),
    }
}

/// An event as the store keeps it, for the deliverer and the tests.
pub type Event = StoredEvent;
