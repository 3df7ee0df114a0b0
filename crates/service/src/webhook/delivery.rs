//! Deriving events from the journal and delivering them: the background task of every `sanhu serve`.
//!
//! **Deriving.** A pass reads up to [`JOURNAL_ROWS_PER_PASS`] journal rows after the cursor, turns
//! those that report an event into events (`events.rs`), finds the subscriptions each reaches, and
//! keeps the events, their deliveries and the cursor's move in one transaction (which fails, keeping
//! nothing, when another instance moved the cursor first). The ledger's batches are not touched.
//!
//! **Delivering.** A round claims the deliveries due (the earliest pending one of each subscription
//! and object, so one object's events arrive in order: the next is sent only once the one before is
//! delivered or given up), leasing them for [`ATTEMPT_LEASE_S`], posts them at most
//! `deliveries_at_once` at a time, and logs the attempts and settles the deliveries in one
//! transaction. A 2xx answer delivers; anything else is retried after the next wait of the schedule
//! ([`RETRY_SCHEDULE_S`]), and after the last the delivery fails and its subscription is disabled.
//! The task runs beside the API and holds nothing the API waits for: a slow receiver costs one of
//! the task's sending slots for at most the attempt's timeout.
//!
//! **Signing.** Each delivery is signed with sanhu's webhook key over the same canonical form as a
//! request (`SANHU-ED25519-V1`, the method, the URL's path and query, the timestamp, a nonce and the
//! body's SHA-256), in `X-Sanhu-Timestamp`, `X-Sanhu-Nonce` and `X-Sanhu-Signature`; the event's id
//! is in `X-Sanhu-Event-Id` too. A subscription made with `hmac-sha256` is signed instead with
//! HMAC-SHA256 under its own secret, over the same lines but the first (`SANHU-HMAC-SHA256-V1`, so
//! that a signature of one scheme is never taken for the other's).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine as _;
use ed25519_dalek::Signer as _;
use sanhu_core::id::MemberId;
use sanhu_core::Timestamp;
use sanhu_store::party::{PartyRecord, PartyStore};
use sanhu_store::webhook::{
    AttemptResult, AttemptSettles, DueDelivery, StoredAttempt, StoredEvent, StoredSubscription, WebhookStore,
};
use sha2::{Digest, Sha256};

use super::events::{self, Concerned};
use super::Webhooks;
use crate::clock;

/// The waits before each retry, in seconds: 15 retries over about 25 hours, as payment platforms
/// notify (WeChat Pay: 15 times in 24 hours). With the first attempt, 16 attempts.
pub const RETRY_SCHEDULE_S: [u64; 15] =
    [15, 15, 30, 180, 600, 1_200, 1_800, 1_800, 1_800, 3_600, 10_800, 10_800, 10_800, 21_600, 21_600];
/// How long a claimed delivery is kept from other instances: longer than any attempt takes.
pub const ATTEMPT_LEASE_S: u64 = 120;
/// The first line of the signed string, the same as a request's.
pub const SIGNATURE_SCHEME: &str = "SANHU-ED25519-V1";
/// The first line of the string an HMAC-signed delivery signs.
pub const HMAC_SIGNATURE_SCHEME: &str = "SANHU-HMAC-SHA256-V1";
/// Journal rows one derive pass reads.
const JOURNAL_ROWS_PER_PASS: u32 = 500;
/// Deliveries one round claims at most.
const DELIVERIES_PER_ROUND: u32 = 200;
/// Deliveries of one subscription one round claims at most, so that a slow or failing receiver
/// with many objects pending does not fill the round and delay every other subscriber.
const DELIVERIES_PER_SUBSCRIPTION_MAX: u32 = 4;
/// The most of an answer's body the attempt log keeps, in bytes.
pub const RESPONSE_SNIPPET_BYTES_MAX: usize = 512;

/// What a receiver answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostAnswer {
    pub status: u16,
    /// The start of its body (at most [`RESPONSE_SNIPPET_BYTES_MAX`] bytes read).
    pub body: Vec<u8>,
}

/// Posts a delivery. An `Err` is no answer (refused, unreachable, timed out, a target address not
/// allowed), with why. Implementations bound the time a post takes and the bytes they read.
pub trait WebhookTransport: Send + Sync + 'static {
    fn post(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
        body: &[u8],
    ) -> impl Future<Output = Result<PostAnswer, String>> + Send;
}

/// The string a delivery's signature covers, after its first line `scheme`.
fn signed_text(scheme: &str, path_and_query: &str, body: &[u8], timestamp: i64, nonce: &str) -> String {
    format!("{scheme}\nPOST\n{path_and_query}\n{timestamp}\n{nonce}\n{}", hex::encode(Sha256::digest(body)))
}

/// The signature headers of a delivery of `body` to the path and query `path_and_query`.
pub fn sign_delivery(
    key: &ed25519_dalek::SigningKey,
    path_and_query: &str,
    body: &[u8],
    timestamp: i64,
    nonce: &str,
) -> [(&'static str, String); 3] {
    let signature = key.sign(signed_text(SIGNATURE_SCHEME, path_and_query, body, timestamp, nonce).as_bytes());
    [
        ("x-sanhu-timestamp", timestamp.to_string()),
        ("x-sanhu-nonce", nonce.to_owned()),
        ("x-sanhu-signature", base64::engine::general_purpose::STANDARD.encode(signature.to_bytes())),
    ]
}

/// The signature headers of a delivery signed with HMAC-SHA256 under `secret` (the `whsec_…` text
/// as shown, its bytes the key): standard base64 of the 32-byte tag.
pub fn sign_delivery_hmac(
    secret: &str,
    path_and_query: &str,
    body: &[u8],
    timestamp: i64,
    nonce: &str,
) -> [(&'static str, String); 3] {
    use hmac::Mac as _;
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(signed_text(HMAC_SIGNATURE_SCHEME, path_and_query, body, timestamp, nonce).as_bytes());
    [
        ("x-sanhu-timestamp", timestamp.to_string()),
        ("x-sanhu-nonce", nonce.to_owned()),
        ("x-sanhu-signature", base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())),
    ]
}

/// What a delivery is signed with.
#[derive(Clone)]
enum Signing {
    Ed25519(ed25519_dalek::SigningKey),
    Hmac(String),
}

/// The path and query of a URL (`/` when it has none), as the request line carries it.
fn path_and_query(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    match rest.find(['/', '?']) {
        Some(i) if rest[i..].starts_with('?') => format!("/{}", &rest[i..]),
        Some(i) => rest[i..].to_owned(),
        None => "/".to_owned(),
    }
}

/// Derives and delivers until the process ends.
pub async fn run_webhooks<T: WebhookTransport>(webhooks: Webhooks, transport: Arc<T>) {
    let idle = Duration::from_millis(webhooks.config.poll_interval_ms.max(10));
    loop {
        let derived = match derive(&webhooks).await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "deriving webhook events failed; retrying");
                0
            }
        };
        let delivered = match deliver_round(&webhooks, &transport).await {
            Ok(n) => n,
            Err(error) => {
                tracing::warn!(error = format!("{error:#}"), "a webhook delivery round failed; retrying");
                0
            }
        };
        if derived < JOURNAL_ROWS_PER_PASS as usize && delivered == 0 {
            tokio::time::sleep(idle).await;
        }
    }
}

/// One derive pass; how many journal rows it read.
pub(super) async fn derive(webhooks: &Webhooks) -> anyhow::Result<usize> {
    let store = webhooks.store();
    let from = store.webhook_cursor().await?;
    let rows = store.webhook_journal(from, JOURNAL_ROWS_PER_PASS).await?;
    let Some(last) = rows.last() else { return Ok(0) };
    let to = last.cursor;
    let typed: Vec<_> = rows.iter().filter_map(|row| events::event_type(row).map(|t| (row, t))).collect();
    let mut events = Vec::new();
    let mut deliveries = Vec::new();
    if !typed.is_empty() {
        let subscriptions = store.webhook_active_subscriptions().await?;
        if !subscriptions.is_empty() {
            let records = records_of(webhooks, typed.iter().map(|(row, _)| row.record_id.clone())).await?;
            let mut reach = ReachCache::default();
            for (row, event_type) in &typed {
                let record = records.get(&row.record_id);
                let (event, mut concerned) = events::event_of(row, event_type, record);
                if let Some(account) = events::receiving_account(record) {
                    if let Some(owner) = account_member(webhooks, &account).await? {
                        concerned.members.push(owner);
                    }
                }
                let mut any = false;
                for subscription in &subscriptions {
                    if wants(subscription, &event) && reach.reaches(webhooks, subscription, &concerned).await? {
                        deliveries.push((subscription.id.clone(), event.id.clone()));
                        any = true;
                    }
                }
                if any {
                    events.push(event);
                }
            }
        }
    }
    if !store.webhook_derive(from, to, &events, &deliveries).await? {
        tracing::debug!("another instance derived these webhook events first");
    }
    Ok(rows.len())
}

async fn records_of(
    webhooks: &Webhooks,
    ids: impl Iterator<Item = String>,
) -> anyhow::Result<HashMap<String, PartyRecord>> {
    let mut ids: Vec<String> = ids.collect();
    ids.sort();
    ids.dedup();
    let records = webhooks.parties().store().party_records(&ids).await?;
    Ok(records.into_iter().map(|r| (r.id.clone(), r)).collect())
}

async fn account_member(webhooks: &Webhooks, account: &str) -> anyhow::Result<Option<String>> {
    let records = webhooks.parties().store().party_records(&[account.to_owned()]).await?;
    Ok(records.first().and_then(|r| {
        let data: serde_json::Value = serde_json::from_str(&r.data).ok()?;
        data.get("member_id").and_then(serde_json::Value::as_str).map(str::to_owned)
    }))
}

/// Whether the subscription names the event's type (and, for a test event, is its subscription).
fn wants(subscription: &StoredSubscription, event: &StoredEvent) -> bool {
    if event.event_type == events::TEST_EVENT {
        return false;
    }
    let names: Vec<String> = serde_json::from_str(&subscription.events).unwrap_or_default();
    // An event of a change made before the subscription is not its.
    event.created_at >= subscription.created_at && names.iter().any(|n| n == "*" || n == &event.event_type)
}

/// The reach rule's answers within one pass, asked once per bound member and owner.
#[derive(Default)]
struct ReachCache {
    known: HashMap<(String, String), bool>,
}

impl ReachCache {
    async fn reaches(
        &mut self,
        webhooks: &Webhooks,
        subscription: &StoredSubscription,
        concerned: &Concerned,
    ) -> anyhow::Result<bool> {
        let Some(bound) = &subscription.bound_member else {
            // The platform's subscriptions (an unbound client, or staff) receive every event.
            return Ok(true);
        };
        if concerned.client.as_deref() == Some(subscription.client_id.as_str()) {
            return Ok(true);
        }
        let Some(bound_id) = MemberId::parse(bound) else { return Ok(false) };
        for owner in &concerned.members {
            let key = (bound.clone(), owner.clone());
            let reached = match self.known.get(&key) {
                Some(known) => *known,
                None => {
                    let reached = match MemberId::parse(owner) {
                        Some(owner_id) => webhooks
                            .parties()
                            .reaches(bound_id, owner_id)
                            .await
                            .map_err(|e| anyhow::anyhow!("the reach rule failed: {e}"))?,
                        None => false,
                    };
                    self.known.insert(key, reached);
                    reached
                }
            };
            if reached {
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// One delivery round; how many deliveries it attempted.
async fn deliver_round<T: WebhookTransport>(webhooks: &Webhooks, transport: &Arc<T>) -> anyhow::Result<usize> {
    let now = clock::now();
    let lease_until = add_seconds(now, ATTEMPT_LEASE_S);
    // A round settles once all its attempts have ended, so it claims no more than its sending
    // slots can attempt within half the lease, each taking at most the attempt timeout: the lease
    // then never runs out before the settle (and another instance never sends them meanwhile).
    let at_once_max = webhooks.config.deliveries_at_once.max(1) as u64;
    let timeout_s = webhooks.config.attempt_timeout_ms.max(1).div_ceil(1_000);
    let waves = (ATTEMPT_LEASE_S / 2 / timeout_s).max(1);
    let round = (at_once_max * waves).min(u64::from(DELIVERIES_PER_ROUND)) as u32;
    let due = webhooks.store().webhook_claim_due(now, lease_until, round, DELIVERIES_PER_SUBSCRIPTION_MAX).await?;
    if due.is_empty() {
        return Ok(0);
    }
    let key = webhooks.signing_key().await?;
    let data_keys = &webhooks.parties().config().data_keys;
    let at_once = Arc::new(tokio::sync::Semaphore::new(webhooks.config.deliveries_at_once.max(1)));
    let timeout = Duration::from_millis(webhooks.config.attempt_timeout_ms.max(1));
    let mut sending = tokio::task::JoinSet::new();
    let mut count = 0;
    for delivery in due {
        let signing = match (delivery.signature.as_str(), &delivery.secret) {
            ("hmac-sha256", Some(sealed)) => {
                match data_keys.open(sealed, &super::secret_sealed_at(&delivery.delivery.subscription_id)) {
                    Ok(secret) => Some(Signing::Hmac(secret)),
                    Err(error) => {
                        tracing::warn!(webhook.id = %delivery.delivery.subscription_id, error = format!("{error:#}"), "a webhook subscription's secret does not open; its delivery waits");
                        None
                    }
                }
            }
            ("hmac-sha256", None) => None,
            _ => Some(Signing::Ed25519(key.clone())),
        };
        // A secret that does not open is this server's configuration (a data key missing here), not
        // the receiver's doing: nothing goes out unsigned and no attempt is spent; the delivery is
        // due again when its lease ends, for an instance that has the key.
        let Some(signing) = signing else { continue };
        count += 1;
        let (transport, at_once) = (transport.clone(), at_once.clone());
        sending.spawn(async move {
            let _slot = at_once.acquire_owned().await.expect("the semaphore is never closed");
            attempt(&*transport, &signing, delivery, timeout).await
        });
    }
    let mut results = Vec::with_capacity(count);
    let schedule = &webhooks.config.retry_schedule_s;
    while let Some(done) = sending.join_next().await {
        let (delivery, attempt) = done.map_err(|e| anyhow::anyhow!("a webhook attempt panicked: {e}"))?;
        let settles = if attempt.outcome == "delivered" {
            AttemptSettles::Delivered
        } else {
            match schedule.get(delivery.delivery.attempts as usize) {
                Some(wait) => AttemptSettles::Retry(add_seconds(attempt.at, *wait)),
                None => AttemptSettles::GaveUp,
            }
        };
        if settles == AttemptSettles::GaveUp {
            tracing::warn!(
                webhook.id = %delivery.delivery.subscription_id,
                event.id = %delivery.delivery.event_id,
                "a webhook delivery gave up after its retries; its subscription is disabled"
            );
        }
        results.push(AttemptResult { attempt, settles, lease_until });
    }
    webhooks.store().webhook_settle(&results).await?;
    Ok(count)
}

/// Posts one delivery and says how it went.
async fn attempt<T: WebhookTransport>(
    transport: &T,
    signing: &Signing,
    due: DueDelivery,
    timeout: Duration,
) -> (DueDelivery, StoredAttempt) {
    let at = clock::now();
    let nonce = hex::encode(clock::random_bytes::<16>());
    let body = due.payload.as_bytes();
    let (path, seconds) = (path_and_query(&due.url), at.nanos() / 1_000_000_000);
    let [timestamp, nonce, signature] = match signing {
        Signing::Ed25519(key) => sign_delivery(key, &path, body, seconds, &nonce),
        Signing::Hmac(secret) => sign_delivery_hmac(secret, &path, body, seconds, &nonce),
    };
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("x-sanhu-event-id", due.delivery.event_id.clone()),
        ("x-sanhu-event-type", due.delivery.event_type.clone()),
        timestamp,
        nonce,
        signature,
    ];
    let started = Instant::now();
    let answer = match tokio::time::timeout(timeout, transport.post(&due.url, &headers, body)).await {
        Ok(answer) => answer,
        Err(_) => Err(format!("no answer within {} ms", timeout.as_millis())),
    };
    let latency_ms = started.elapsed().as_millis().min(i64::MAX as u128) as i64;
    let (status_code, outcome, error, snippet) = match answer {
        Ok(answer) => {
            let outcome = if (200..300).contains(&answer.status) { "delivered" } else { "failed" };
            let mut body = answer.body;
            body.truncate(RESPONSE_SNIPPET_BYTES_MAX);
            (Some(i64::from(answer.status)), outcome, None, Some(String::from_utf8_lossy(&body).into_owned()))
        }
        Err(why) => (None, "failed", Some(why), None),
    };
    let attempt = StoredAttempt {
        seq: 0,
        subscription_id: due.delivery.subscription_id.clone(),
        event_id: due.delivery.event_id.clone(),
        attempt: due.delivery.attempts + 1,
        at,
        status_code,
        latency_ms,
        outcome: outcome.to_owned(),
        error,
        response_snippet: snippet,
    };
    (due, attempt)
}

fn add_seconds(t: Timestamp, seconds: u64) -> Timestamp {
    Timestamp::from_nanos(
        t.nanos().saturating_add((seconds.min(i64::MAX as u64 / 1_000_000_000) as i64) * 1_000_000_000),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signed_path_is_the_urls_path_and_query() {
        assert_eq!(path_and_query("https://example.com/hooks/sanhu?x=1"), "/hooks/sanhu?x=1");
        assert_eq!(path_and_query("https://example.com"), "/");
        assert_eq!(path_and_query("https://example.com?x=1"), "/?x=1");
        assert_eq!(path_and_query("http://127.0.0.1:8080/h"), "/h");
    }

    #[test]
    fn an_hmac_delivery_signs_the_documented_example() {
        let example: serde_json::Value =
            serde_json::from_str(include_str!("../../../../docs/webhook-hmac-example.json")).unwrap();
        let text = |k: &str| example[k].as_str().unwrap().to_owned();
        let signed = signed_text(
            HMAC_SIGNATURE_SCHEME,
            &text("path_and_query"),
            text("body").as_bytes(),
            example["timestamp"].as_i64().unwrap(),
            &text("nonce"),
        );
        assert_eq!(signed, text("signed_string"));
        let [timestamp, nonce, signature] = sign_delivery_hmac(
            &text("secret"),
            &text("path_and_query"),
            text("body").as_bytes(),
            example["timestamp"].as_i64().unwrap(),
            &text("nonce"),
        );
        assert_eq!(timestamp.1, example["headers"]["X-Sanhu-Timestamp"]);
        assert_eq!(nonce.1, example["headers"]["X-Sanhu-Nonce"]);
        assert_eq!(signature, ("x-sanhu-signature", text("signature_base64")));
    }

    #[test]
    fn the_schedule_retries_over_a_day() {
        let total: u64 = RETRY_SCHEDULE_S.iter().sum();
        assert!(total >= 24 * 3600, "{total}");
        assert_eq!(RETRY_SCHEDULE_S.len(), 15);
    }
}
