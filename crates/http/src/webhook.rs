//! Webhook subscriptions over the API (see `sanhu_service::webhook` and docs/WEBHOOKS.md): a client
//! subscribes URLs to event types, reads each delivery and attempt, sends one again, sends a test
//! event. A subscription is the client's own: another client's id answers 404 `webhook_not_found`.
//! Staff (the back office, the console's webhook pages) read every client's subscriptions, their
//! deliveries and attempts, resend a delivery, disable and enable one; they create and change none.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Json;
use sanhu_service::webhook::{
    Page, SignatureScheme, Subscriber, Subscription, SubscriptionChange, EVENTS_PER_SUBSCRIPTION_MAX, PAGE_MAX,
    URL_BYTES_MAX,
};
use sanhu_store::webhook::{StoredAttempt, StoredDelivery};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::json::{parse_body, parse_body_or_empty};
use crate::principal::{AuthenticatedClient, ClientAccess};
use crate::query::QueryParams;
use crate::wallet::recharges::EmptyBody;
use crate::AppState;

const ID_PARAM: &str = "The subscription's id.";

/// Who a request subscribes for: its client (bound to a member, or the platform's), or staff.
pub struct Subscribing(pub Subscriber);

impl Subscribing {
    /// Where a subscription is pointed: an API client's only. A staff member's subscription would be
    /// the platform's, every tenant's events sent where one person says, with no second person to
    /// approve it; staff read, stop and resume clients' subscriptions (sent where their client
    /// said), and point them through a platform client.
    pub(crate) fn pointing(&self) -> Result<&Subscriber, ApiError> {
        if self.0.is_back_office() {
            return Err(ApiError::new(
                crate::error::code::SCOPE_MISSING,
                "a webhook subscription is created, changed and enabled by an API client, not a staff session",
            ));
        }
        Ok(&self.0)
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Subscribing {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Subscribing, ApiError> {
        let bound = parts.extensions.get::<ClientAccess>().and_then(|a| a.bound_to);
        match parts.extensions.get::<AuthenticatedClient>() {
            Some(AuthenticatedClient(client)) => Ok(Subscribing(Subscriber { owner: client.clone(), bound })),
            // Staff act for the platform: the back office reaches every client's subscriptions.
            None => Ok(Subscribing(Subscriber::back_office())),
        }
    }
}

/// A webhook subscription.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = WebhookSubscription)]
pub struct SubscriptionJson {
    #[schema(pattern = "^whk_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub id: String,
    /// The API client whose subscription it is.
    pub client_id: String,
    pub url: String,
    /// The event types sent (`*`: all).
    pub events: Vec<String>,
    #[schema(required)]
    pub description: Option<String>,
    /// `active`, or `disabled` (nothing is sent; deliveries wait).
    pub status: String,
    /// Why it is disabled: `by_client`, `by_staff` (the back office), or `failing` (a delivery gave
    /// up after its retries).
    #[schema(required)]
    pub disabled_reason: Option<String>,
    /// The member the client was bound to when it subscribed: only events of what it reaches are
    /// sent. Null for the platform's.
    #[schema(required, pattern = "^mem_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub bound_member_id: Option<String>,
    /// sanhu's webhook public key (standard base64 of 32 bytes): deliveries of an `ed25519`
    /// subscription are signed with it (the same canonical form as requests; docs/WEBHOOKS.md).
    pub public_key: String,
    /// How deliveries are signed: `ed25519` (sanhu's key, `public_key`) or `hmac-sha256` (the
    /// subscription's secret, shown once when it was made).
    #[schema(pattern = "^(ed25519|hmac-sha256)$")]
    pub signature: String,
    /// The HMAC secret (`whsec_…`; its text is the key), in the answer that made an `hmac-sha256`
    /// subscription only: it is kept sealed and never shown again.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false, pattern = "^whsec_[A-Za-z0-9_-]{43}$")]
    pub secret: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

fn view(s: &Subscription, public_key: &str) -> SubscriptionJson {
    SubscriptionJson {
        id: s.id.clone(),
        client_id: s.owner.clone(),
        url: s.url.clone(),
        events: s.events.clone(),
        description: s.description.clone(),
        status: s.status.clone(),
        disabled_reason: s.disabled_reason.clone(),
        bound_member_id: s.bound_member.clone(),
        public_key: public_key.to_owned(),
        signature: s.signature.as_str().to_owned(),
        secret: None,
        created_at: s.created_at.to_string(),
        updated_at: s.updated_at.to_string(),
    }
}

#[derive(Serialize, Debug, ToSchema)]
#[schema(as = WebhookSubscriptionPage)]
pub struct SubscriptionPageJson {
    pub data: Vec<SubscriptionJson>,
    #[schema(required, pattern = "^whk_[0-7][0-9A-HJKMNP-TV-Z]{25}$")]
    pub next_cursor: Option<String>,
}

/// One event to one subscription.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = WebhookDelivery)]
pub struct DeliveryJson {
    /// The event's id (`evt_…`): the same in every attempt, for the receiver to de-duplicate by.
    pub event_id: String,
    pub event_type: String,
    /// The object the event is about.
    pub object_id: String,
    /// `pending`, `delivered` or `failed` (gave up after the retries).
    pub status: String,
    #[schema(minimum = 0)]
    pub attempts: i64,
    /// When it is tried next (pending), or was settled.
    pub next_attempt_at: String,
    #[schema(required)]
    pub last_attempt_at: Option<String>,
    /// The receiver's status at the last attempt (null: no answer).
    #[schema(required)]
    pub last_status_code: Option<i64>,
    pub created_at: String,
}

impl From<&StoredDelivery> for DeliveryJson {
    fn from(d: &StoredDelivery) -> Self {
        DeliveryJson {
            event_id: d.event_id.clone(),
            event_type: d.event_type.clone(),
            object_id: d.object_id.clone(),
            status: d.status.clone(),
            attempts: d.attempts,
            next_attempt_at: d.next_attempt_at.to_string(),
            last_attempt_at: d.last_attempt_at.map(|t| t.to_string()),
            last_status_code: d.last_status_code,
            created_at: d.created_at.to_string(),
        }
    }
}

#[derive(Serialize, Debug, ToSchema)]
#[schema(as = WebhookDeliveryPage)]
pub struct DeliveryPageJson {
    pub data: Vec<DeliveryJson>,
    #[schema(required, pattern = "^[0-9]{1,19}$")]
    pub next_cursor: Option<String>,
}

/// One attempt of a delivery, as logged.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = WebhookAttempt)]
pub struct AttemptJson {
    pub event_id: String,
    /// 1 for the first attempt.
    #[schema(minimum = 1)]
    pub attempt: i64,
    pub at: String,
    /// `delivered` (a 2xx answer) or `failed`.
    pub outcome: String,
    /// The receiver's HTTP status; null when it did not answer.
    #[schema(required)]
    pub status_code: Option<i64>,
    #[schema(minimum = 0)]
    pub latency_ms: i64,
    /// Why no answer came (`no answer within 10000 ms`, a refused connection, an internal address).
    #[schema(required)]
    pub error: Option<String>,
    /// The start of the answer's body (at most 512 bytes).
    #[schema(required)]
    pub response_snippet: Option<String>,
}

impl From<&StoredAttempt> for AttemptJson {
    fn from(a: &StoredAttempt) -> Self {
        AttemptJson {
            event_id: a.event_id.clone(),
            attempt: a.attempt,
            at: a.at.to_string(),
            outcome: a.outcome.clone(),
            status_code: a.status_code,
            latency_ms: a.latency_ms,
            error: a.error.clone(),
            response_snippet: a.response_snippet.clone(),
        }
    }
}

#[derive(Serialize, Debug, ToSchema)]
#[schema(as = WebhookAttemptPage)]
pub struct AttemptPageJson {
    pub data: Vec<AttemptJson>,
    #[schema(required, pattern = "^[0-9]{1,19}$")]
    pub next_cursor: Option<String>,
}

/// A subscription deleted.
#[derive(Serialize, Debug, ToSchema)]
#[schema(as = WebhookDeleted)]
pub struct DeletedJson {
    pub id: String,
    pub deleted: bool,
}

#[derive(Serialize, Debug, ToSchema)]
#[schema(as = WebhookTestEvent)]
pub struct TestEventJson {
    /// The test event's id; its delivery is listed with the subscription's.
    pub event_id: String,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = CreateWebhookRequest)]
struct CreateBody {
    /// An absolute `https://` URL, at most 2048 bytes; deliveries are POSTed to it.
    #[schema(examples("https://merchant.example.com/hooks/sanhu"))]
    url: String,
    /// Event types (docs/WEBHOOKS.md), 1 to 32, or `["*"]` for all.
    #[schema(examples(json!(["payment.paid", "payment.refunded"])))]
    events: Vec<String>,
    #[serde(default)]
    #[schema(nullable = false)]
    description: Option<String>,
    /// `ed25519` (the default: sanhu's key) or `hmac-sha256` (a secret of the subscription's own,
    /// answered once, in this response).
    #[serde(default)]
    #[schema(nullable = false, examples("hmac-sha256"))]
    signature: Option<String>,
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = UpdateWebhookRequest)]
struct UpdateBody {
    #[serde(default)]
    #[schema(nullable = false)]
    url: Option<String>,
    #[serde(default)]
    #[schema(nullable = false)]
    events: Option<Vec<String>>,
    #[serde(default)]
    #[schema(nullable = false)]
    description: Option<String>,
}

async fn public_key(state: &AppState) -> Result<String, ApiError> {
    Ok(state.webhooks().public_key().await?)
}

/// POST /v1/webhooks
#[utoipa::path(
    post,
    path = "/v1/webhooks",
    tag = "webhooks",
    operation_id = "createWebhook",
    summary = "Subscribe a URL to events",
    description = "Events of what the client reaches (a bound client: its member's and those of the merchants below; the platform's: all) are POSTed to the URL, signed with sanhu's webhook key (`public_key`), or with `signature: hmac-sha256` by HMAC-SHA256 under a secret of the subscription's own, answered once (`secret`) and kept sealed. A client has at most 20 subscriptions (409 `webhook_limit_reached`). The URL must be `https://` and its host not an internal address (422 `webhook_url_not_allowed`) unless the server's configuration allows it.",
    request_body = CreateBody,
    responses((status = 201, description = "The subscription.", body = SubscriptionJson)),
)]
pub async fn create_webhook(
    State(state): State<AppState>,
    subscribing: Subscribing,
    body: Bytes,
) -> Result<(StatusCode, Json<SubscriptionJson>), ApiError> {
    let body: CreateBody = parse_body(&body)?;
    let subscriber = subscribing.pointing()?;
    if body.url.len() > URL_BYTES_MAX * 2 || body.events.len() > EVENTS_PER_SUBSCRIPTION_MAX * 2 {
        return Err(ApiError::use_case(sanhu_service::webhook::WebhookFailure::Rejected(
            sanhu_service::webhook::WEBHOOK_URL_INVALID,
        )));
    }
    let signature = SignatureScheme::parse(body.signature.as_deref().unwrap_or("ed25519"))?;
    let created = state.webhooks().create(subscriber, &body.url, &body.events, body.description, signature).await?;
    tracing::info!(webhook.id = %created.subscription.id, webhook.signature = signature.as_str(), "webhook subscribed");
    let mut answer = view(&created.subscription, &public_key(&state).await?);
    answer.secret = created.secret;
    Ok((StatusCode::CREATED, Json(answer)))
}

/// GET /v1/webhooks
#[utoipa::path(
    get,
    path = "/v1/webhooks",
    tag = "webhooks",
    operation_id = "listWebhooks",
    summary = "List the client's webhook subscriptions",
    description = "In id order. Staff list every client's.",
    params(
        ("after" = Option<String>, Query, nullable = false, pattern = "^whk_[0-7][0-9A-HJKMNP-TV-Z]{25}$", description = "The `next_cursor` of the previous page."),
        ("limit" = Option<i64>, Query, nullable = false, description = "Subscriptions per page, 1 to 100; 50 when absent.", minimum = 1, maximum = 100),
    ),
    responses((status = 200, description = "A page of subscriptions.", body = SubscriptionPageJson)),
)]
pub async fn list_webhooks(
    State(state): State<AppState>,
    Subscribing(subscriber): Subscribing,
    query: QueryParams,
) -> Result<Json<SubscriptionPageJson>, ApiError> {
    let query = query.only(&["after", "limit"])?;
    let limit = query.limit(PAGE_MAX)?;
    let page = state.webhooks().list(&subscriber, query.get("after"), limit).await?;
    let key = public_key(&state).await?;
    Ok(Json(SubscriptionPageJson { data: page.items.iter().map(|s| view(s, &key)).collect(), next_cursor: page.next }))
}

/// GET /v1/webhooks/{id}
#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    operation_id = "getWebhook",
    summary = "Read a webhook subscription",
    params(("id" = String, Path, description = ID_PARAM, pattern = "^whk_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    responses((status = 200, description = "The subscription.", body = SubscriptionJson)),
)]
pub async fn get_webhook(
    State(state): State<AppState>,
    Subscribing(subscriber): Subscribing,
    Path(id): Path<String>,
) -> Result<Json<SubscriptionJson>, ApiError> {
    let subscription = state.webhooks().get(&subscriber, &id).await?;
    Ok(Json(view(&subscription, &public_key(&state).await?)))
}

/// POST /v1/webhooks/{id}
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}",
    tag = "webhooks",
    operation_id = "updateWebhook",
    summary = "Change a webhook subscription",
    description = "Its URL, events or description; what is not given stays.",
    params(("id" = String, Path, description = ID_PARAM, pattern = "^whk_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = UpdateBody,
    responses((status = 200, description = "The subscription.", body = SubscriptionJson)),
)]
pub async fn update_webhook(
    State(state): State<AppState>,
    subscribing: Subscribing,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<SubscriptionJson>, ApiError> {
    let body: UpdateBody = parse_body(&body)?;
    let change = SubscriptionChange { url: body.url, events: body.events, description: body.description.map(Some) };
    let subscriber = subscribing.pointing()?;
    let subscription = state.webhooks().update(subscriber, &id, change).await?;
    Ok(Json(view(&subscription, &public_key(&state).await?)))
}

/// POST /v1/webhooks/{id}/disable
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/disable",
    tag = "webhooks",
    operation_id = "disableWebhook",
    summary = "Disable a webhook subscription",
    description = "Nothing is sent while disabled; events go on being kept for it and are sent, in order, once enabled.",
    params(("id" = String, Path, description = ID_PARAM, pattern = "^whk_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The subscription.", body = SubscriptionJson)),
)]
pub async fn disable_webhook(
    State(state): State<AppState>,
    Subscribing(subscriber): Subscribing,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<SubscriptionJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let subscription = state.webhooks().set_enabled(&subscriber, &id, false).await?;
    Ok(Json(view(&subscription, &public_key(&state).await?)))
}

/// POST /v1/webhooks/{id}/enable
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/enable",
    tag = "webhooks",
    operation_id = "enableWebhook",
    summary = "Enable a webhook subscription",
    description = "Also after it was disabled for failing: the deliveries waiting are sent, in order. Staff enable one disabled for failing or by staff, never one its client disabled itself (409 `webhook_disabled_by_client`).",
    params(("id" = String, Path, description = ID_PARAM, pattern = "^whk_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "The subscription.", body = SubscriptionJson)),
)]
pub async fn enable_webhook(
    State(state): State<AppState>,
    subscribing: Subscribing,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<SubscriptionJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let subscription = state.webhooks().set_enabled(&subscribing.0, &id, true).await?;
    Ok(Json(view(&subscription, &public_key(&state).await?)))
}

/// POST /v1/webhooks/{id}/delete
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/delete",
    tag = "webhooks",
    operation_id = "deleteWebhook",
    summary = "Delete a webhook subscription",
    description = "With its deliveries and their log; nothing more is sent to it.",
    params(("id" = String, Path, description = ID_PARAM, pattern = "^whk_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = Option<EmptyBody>,
    responses((status = 200, description = "Deleted.", body = DeletedJson)),
)]
pub async fn delete_webhook(
    State(state): State<AppState>,
    Subscribing(subscriber): Subscribing,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Json<DeletedJson>, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    state.webhooks().delete(&subscriber, &id).await?;
    tracing::info!(webhook.id = %id, "webhook deleted");
    Ok(Json(DeletedJson { id, deleted: true }))
}

/// POST /v1/webhooks/{id}/test
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/test",
    tag = "webhooks",
    operation_id = "testWebhook",
    summary = "Send a test event",
    description = "A `webhook.test` event to this subscription only, signed and retried like any other.",
    params(("id" = String, Path, description = ID_PARAM, pattern = "^whk_[0-7][0-9A-HJKMNP-TV-Z]{25}$")),
    request_body = Option<EmptyBody>,
    responses((status = 202, description = "Queued.", body = TestEventJson)),
)]
pub async fn test_webhook(
    State(state): State<AppState>,
    Subscribing(subscriber): Subscribing,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<(StatusCode, Json<TestEventJson>), ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    let event_id = state.webhooks().send_test(&subscriber, &id).await?;
    Ok((StatusCode::ACCEPTED, Json(TestEventJson { event_id })))
}

/// GET /v1/webhooks/{id}/deliveries
#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}/deliveries",
    tag = "webhooks",
    operation_id = "listWebhookDeliveries",
    summary = "List a subscription's deliveries",
    description = "Latest first.",
    params(
        ("id" = String, Path, description = ID_PARAM, pattern = "^whk_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("after" = Option<String>, Query, nullable = false, pattern = "^[0-9]{1,19}$", description = "The `next_cursor` of the previous page."),
        ("limit" = Option<i64>, Query, nullable = false, description = "Deliveries per page, 1 to 100; 50 when absent.", minimum = 1, maximum = 100),
    ),
    responses((status = 200, description = "A page of deliveries.", body = DeliveryPageJson)),
)]
pub async fn list_webhook_deliveries(
    State(state): State<AppState>,
    Subscribing(subscriber): Subscribing,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Json<DeliveryPageJson>, ApiError> {
    let query = query.only(&["after", "limit"])?;
    let limit = query.limit(PAGE_MAX)?;
    let Page { items, next } = state.webhooks().deliveries(&subscriber, &id, query.get("after"), limit).await?;
    Ok(Json(DeliveryPageJson { data: items.iter().map(DeliveryJson::from).collect(), next_cursor: next }))
}

/// GET /v1/webhooks/{id}/attempts
#[utoipa::path(
    get,
    path = "/v1/webhooks/{id}/attempts",
    tag = "webhooks",
    operation_id = "listWebhookAttempts",
    summary = "Read a subscription's delivery log",
    description = "Each attempt: when, the receiver's status, the latency, the start of its answer or why none came. Latest first; of one event with `event_id`.",
    params(
        ("id" = String, Path, description = ID_PARAM, pattern = "^whk_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("event_id" = Option<String>, Query, nullable = false, description = "Only this event's attempts."),
        ("after" = Option<String>, Query, nullable = false, pattern = "^[0-9]{1,19}$", description = "The `next_cursor` of the previous page."),
        ("limit" = Option<i64>, Query, nullable = false, description = "Attempts per page, 1 to 100; 50 when absent.", minimum = 1, maximum = 100),
    ),
    responses((status = 200, description = "A page of attempts.", body = AttemptPageJson)),
)]
pub async fn list_webhook_attempts(
    State(state): State<AppState>,
    Subscribing(subscriber): Subscribing,
    Path(id): Path<String>,
    query: QueryParams,
) -> Result<Json<AttemptPageJson>, ApiError> {
    let query = query.only(&["event_id", "after", "limit"])?;
    let limit = query.limit(PAGE_MAX)?;
    let Page { items, next } =
        state.webhooks().attempts(&subscriber, &id, query.get("event_id"), query.get("after"), limit).await?;
    Ok(Json(AttemptPageJson { data: items.iter().map(AttemptJson::from).collect(), next_cursor: next }))
}

/// POST /v1/webhooks/{id}/deliveries/{event_id}/resend
#[utoipa::path(
    post,
    path = "/v1/webhooks/{id}/deliveries/{event_id}/resend",
    tag = "webhooks",
    operation_id = "resendWebhookDelivery",
    summary = "Send a delivery again",
    description = "Now, whether it was delivered, failed or is waiting for its next retry; the same event, with the same id.",
    params(
        ("id" = String, Path, description = ID_PARAM, pattern = "^whk_[0-7][0-9A-HJKMNP-TV-Z]{25}$"),
        ("event_id" = String, Path, description = "The event's id."),
    ),
    request_body = Option<EmptyBody>,
    responses((status = 202, description = "Queued.")),
)]
pub async fn resend_webhook_delivery(
    State(state): State<AppState>,
    Subscribing(subscriber): Subscribing,
    Path((id, event_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<StatusCode, ApiError> {
    let _: EmptyBody = parse_body_or_empty(&body)?;
    state.webhooks().resend(&subscriber, &id, &event_id).await?;
    Ok(StatusCode::ACCEPTED)
}
