-- sanhu schema for PostgreSQL, version 1: the SQLite schema table for table and column for column.
-- Ids are UUIDs holding the 128-bit id (time-ordered, so they sort as the ids do), amounts and
-- timestamps are BIGINT (minor units; nanoseconds since the Unix epoch). Names are unqualified: the
-- tables go to the connection's search_path schema.

-- Every batch rewrites its accounts' rows; free room on each page lets those updates stay HOT.
CREATE TABLE IF NOT EXISTS ledger_accounts (
    id               UUID     PRIMARY KEY,
    currency         TEXT     NOT NULL,
    normal_side      SMALLINT NOT NULL,     -- 0 debit, 1 credit
    overdraft        BIGINT,                -- NULL: unlimited; n: balance may reach -n
    flags            INTEGER  NOT NULL,     -- 1 debits blocked, 2 credits blocked, 4 closed
    debits_pending   BIGINT   NOT NULL,
    debits_posted    BIGINT   NOT NULL,
    credits_pending  BIGINT   NOT NULL,
    credits_posted   BIGINT   NOT NULL,
    code             TEXT     NOT NULL,
    metadata         TEXT     NOT NULL,
    created_at       BIGINT   NOT NULL,
    last_transfer_at BIGINT   NOT NULL
) WITH (fillfactor = 70);

-- One row per transfer; it is also the entry of both accounts, carrying each one's counters after it.
CREATE TABLE IF NOT EXISTS ledger_transfers (
    id                 UUID     PRIMARY KEY,
    kind               SMALLINT NOT NULL,   -- 0 posted, 1 pending, 2 post_pending, 3 void_pending, 4 expire_pending
    debit_account_id   UUID     NOT NULL,
    credit_account_id  UUID     NOT NULL,
    amount             BIGINT   NOT NULL,
    pending_id         UUID,
    timeout_s          BIGINT   NOT NULL,
    flags              SMALLINT NOT NULL,   -- 1 linked, 2 balancing
    requested_amount   BIGINT   NOT NULL,
    code               TEXT     NOT NULL,
    reference          TEXT,
    metadata           TEXT     NOT NULL,
    timestamp          BIGINT   NOT NULL,
    dr_debits_pending  BIGINT   NOT NULL,
    dr_debits_posted   BIGINT   NOT NULL,
    dr_credits_pending BIGINT   NOT NULL,
    dr_credits_posted  BIGINT   NOT NULL,
    cr_debits_pending  BIGINT   NOT NULL,
    cr_debits_posted   BIGINT   NOT NULL,
    cr_credits_pending BIGINT   NOT NULL,
    cr_credits_posted  BIGINT   NOT NULL
);

CREATE INDEX IF NOT EXISTS ledger_transfers_by_debit ON ledger_transfers (debit_account_id, timestamp);
CREATE INDEX IF NOT EXISTS ledger_transfers_by_credit ON ledger_transfers (credit_account_id, timestamp);
CREATE INDEX IF NOT EXISTS ledger_transfers_by_reference ON ledger_transfers (reference) WHERE reference IS NOT NULL;

-- Holds and where they stand; the amount and accounts are the pending transfer's.
CREATE TABLE IF NOT EXISTS ledger_pendings (
    id         UUID     PRIMARY KEY,
    status     SMALLINT NOT NULL,           -- 0 pending, 1 posted, 2 voided, 3 expired
    expires_at BIGINT
);

CREATE INDEX IF NOT EXISTS ledger_pendings_due ON ledger_pendings (expires_at) WHERE status = 0 AND expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS api_clients (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    public_key BYTEA   NOT NULL,
    created_at BIGINT  NOT NULL,
    revoked_at BIGINT
);

CREATE TABLE IF NOT EXISTS api_nonces (
    client_id TEXT   NOT NULL,
    nonce     TEXT   NOT NULL,
    seen_at   BIGINT NOT NULL,
    PRIMARY KEY (client_id, nonce)
);

CREATE INDEX IF NOT EXISTS api_nonces_by_time ON api_nonces (seen_at);

CREATE TABLE IF NOT EXISTS idempotency_keys (
    client_id    TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    claimed_at   BIGINT  NOT NULL,
    status       INTEGER,                   -- NULL while the first request runs
    body         BYTEA,
    PRIMARY KEY (client_id, key)
);
