-- Webhooks (see `crate::webhook`): subscriptions, events derived from the three-party history, one
-- delivery per event and subscription, each attempt's log, the deriver's cursor and the signing key.

-- The transaction that wrote each journal row, so that the deriver reads only rows no uncommitted
-- row can precede. Rows written before this version keep 0 (the cursor starts past them); the
-- column is added with a constant default (no table rewrite), then takes the writer's id.
ALTER TABLE party_changes ADD COLUMN xact BIGINT NOT NULL DEFAULT 0;
ALTER TABLE party_changes ALTER COLUMN xact SET DEFAULT txid_current();
CREATE INDEX party_changes_by_xact ON party_changes (xact, seq);

CREATE TABLE webhook_subscriptions (
    id              TEXT   COLLATE "C" PRIMARY KEY,
    client_id       TEXT   COLLATE "C" NOT NULL,
    bound_member    TEXT   COLLATE "C",
    url             TEXT   NOT NULL,
    events          TEXT   NOT NULL,
    description     TEXT,
    status          TEXT   NOT NULL,
    disabled_reason TEXT,
    created_at      BIGINT NOT NULL,
    updated_at      BIGINT NOT NULL
);
CREATE INDEX webhook_subscriptions_by_client ON webhook_subscriptions (client_id, id);

CREATE TABLE webhook_events (
    id          TEXT   COLLATE "C" PRIMARY KEY,
    event_type  TEXT   NOT NULL,
    object_id   TEXT   COLLATE "C" NOT NULL,
    payload     TEXT   NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE webhook_deliveries (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id  TEXT   COLLATE "C" NOT NULL,
    event_id         TEXT   COLLATE "C" NOT NULL,
    object_id        TEXT   COLLATE "C" NOT NULL,
    status           TEXT   NOT NULL,
    attempts         BIGINT NOT NULL,
    next_attempt_at  BIGINT NOT NULL,
    last_attempt_at  BIGINT,
    last_status_code BIGINT,
    created_at       BIGINT NOT NULL,
    UNIQUE (subscription_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (status, next_attempt_at);
CREATE INDEX webhook_deliveries_by_object ON webhook_deliveries (subscription_id, object_id, seq);

CREATE TABLE webhook_attempts (
    seq              BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    subscription_id  TEXT   COLLATE "C" NOT NULL,
    event_id         TEXT   COLLATE "C" NOT NULL,
    attempt          BIGINT NOT NULL,
    at               BIGINT NOT NULL,
    status_code      BIGINT,
    latency_ms       BIGINT NOT NULL,
    outcome          TEXT   NOT NULL,
    error            TEXT,
    response_snippet TEXT
);
CREATE INDEX webhook_attempts_by_subscription ON webhook_attempts (subscription_id, seq);

CREATE TABLE webhook_cursor (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    xact BIGINT  NOT NULL,
    seq  BIGINT  NOT NULL
);
INSERT INTO webhook_cursor (id, xact, seq) SELECT 1, 0, coalesce(max(seq), 0) FROM party_changes;

CREATE TABLE webhook_signing_key (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    seed       BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL
);
