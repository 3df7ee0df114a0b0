-- Webhooks (see `crate::webhook`): subscriptions, events derived from the three-party history, one
-- delivery per event and subscription, each attempt's log, the deriver's cursor and the signing key.
CREATE TABLE IF NOT EXISTS webhook_subscriptions (
    id              TEXT    PRIMARY KEY,
    client_id       TEXT    NOT NULL,
    bound_member    TEXT,
    url             TEXT    NOT NULL,
    events          TEXT    NOT NULL,           -- a JSON array of event types
    description     TEXT,
    status          TEXT    NOT NULL,           -- active, disabled
    disabled_reason TEXT,                       -- by_client, failing
    created_at      INTEGER NOT NULL,
    updated_at      INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS webhook_subscriptions_by_client ON webhook_subscriptions (client_id, id);

CREATE TABLE IF NOT EXISTS webhook_events (
    id          TEXT    PRIMARY KEY,            -- evt_…, derived from the journal's seq
    event_type  TEXT    NOT NULL,
    object_id   TEXT    NOT NULL,
    payload     TEXT    NOT NULL,               -- the JSON body posted
    created_at  INTEGER NOT NULL
);

CREATE TABLE IF NOT EXISTS webhook_deliveries (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    object_id       TEXT    NOT NULL,
    status          TEXT    NOT NULL,           -- pending, delivered, failed
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    last_attempt_at INTEGER,
    last_status_code INTEGER,
    created_at      INTEGER NOT NULL,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX IF NOT EXISTS webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX IF NOT EXISTS webhook_deliveries_by_object ON webhook_deliveries (subscription_id, object_id, seq);

CREATE TABLE IF NOT EXISTS webhook_attempts (
    seq              INTEGER PRIMARY KEY AUTOINCREMENT,
    subscription_id  TEXT    NOT NULL,
    event_id         TEXT    NOT NULL,
    attempt          INTEGER NOT NULL,
    at               INTEGER NOT NULL,
    status_code      INTEGER,
    latency_ms       INTEGER NOT NULL,
    outcome          TEXT    NOT NULL,          -- delivered, failed
    error            TEXT,
    response_snippet TEXT
);
CREATE INDEX IF NOT EXISTS webhook_attempts_by_subscription ON webhook_attempts (subscription_id, seq);

-- One row: how far the deriver has read the journal. A database that existed before webhooks starts
-- at its history's end: events are of changes made once webhooks exist.
CREATE TABLE IF NOT EXISTS webhook_cursor (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    xact INTEGER NOT NULL,
    seq  INTEGER NOT NULL
);
INSERT OR IGNORE INTO webhook_cursor (id, xact, seq) SELECT 1, 0, coalesce(max(seq), 0) FROM party_changes;

-- sanhu's Ed25519 webhook signing key (its 32-byte seed), made on first use.
CREATE TABLE IF NOT EXISTS webhook_signing_key (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    seed       BLOB    NOT NULL,
    created_at INTEGER NOT NULL
);
