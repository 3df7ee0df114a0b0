-- sanhu schema for SQLite, version 1. Ids are 16-byte big-endian blobs (time-ordered), amounts and
-- timestamps are integers (minor units; nanoseconds since the Unix epoch).

-- An account's identity and settings. `number` is internal: the key of its balances row.
CREATE TABLE IF NOT EXISTS ledger_accounts (
    number           INTEGER PRIMARY KEY,
    id               BLOB    NOT NULL UNIQUE,
    currency         TEXT    NOT NULL,
    normal_side      INTEGER NOT NULL,      -- 0 debit, 1 credit
    overdraft        INTEGER,               -- NULL: unlimited; n: balance may reach -n
    flags            INTEGER NOT NULL,      -- 1 debits blocked, 2 credits blocked, 4 closed
    code             TEXT    NOT NULL,
    metadata         TEXT    NOT NULL,
    created_at       INTEGER NOT NULL
);

-- What every batch rewrites, kept narrow and keyed by an integer: rewriting thousands of these rows
-- per batch costs a fraction of rewriting the wide, blob-keyed account rows.
CREATE TABLE IF NOT EXISTS ledger_balances (
    account_number   INTEGER PRIMARY KEY,
    debits_pending   INTEGER NOT NULL,
    debits_posted    INTEGER NOT NULL,
    credits_pending  INTEGER NOT NULL,
    credits_posted   INTEGER NOT NULL,
    last_transfer_at INTEGER NOT NULL,
    last_entry_seq   INTEGER NOT NULL,      -- seq of the account's latest transfer (0: none)
    entry_count      INTEGER NOT NULL
);

-- One row per transfer, appended in commit order (seq). It is also the entry of both accounts: it
-- carries each one's counters after it, and a link to that account's previous entry (dr_prev_seq,
-- cr_prev_seq). An account's entries are found by following those links back from the account's
-- last_entry_seq, starting from the nearest checkpoint. There is no index by account: an index keyed
-- by account takes each insert to a random page, and SQLite's WAL writes every dirtied page whole, so
-- its cost per batch grows with the table. Appending keeps a batch's writes to the pages it adds.
CREATE TABLE IF NOT EXISTS ledger_transfers (
    seq               INTEGER PRIMARY KEY,
    id                BLOB    NOT NULL UNIQUE,
    kind              INTEGER NOT NULL,     -- 0 posted, 1 pending, 2 post_pending, 3 void_pending, 4 expire_pending
    debit_account_id  BLOB    NOT NULL,
    credit_account_id BLOB    NOT NULL,
    amount            INTEGER NOT NULL,
    pending_id        BLOB,
    timeout_s         INTEGER NOT NULL,
    flags             INTEGER NOT NULL,     -- 1 linked, 2 balancing
    requested_amount  INTEGER NOT NULL,
    code              TEXT    NOT NULL,
    reference         TEXT,
    metadata          TEXT    NOT NULL,
    timestamp         INTEGER NOT NULL,
    dr_debits_pending  INTEGER NOT NULL,
    dr_debits_posted   INTEGER NOT NULL,
    dr_credits_pending INTEGER NOT NULL,
    dr_credits_posted  INTEGER NOT NULL,
    cr_debits_pending  INTEGER NOT NULL,
    cr_debits_posted   INTEGER NOT NULL,
    cr_credits_pending INTEGER NOT NULL,
    cr_credits_posted  INTEGER NOT NULL,
    dr_prev_seq        INTEGER NOT NULL,    -- the debit account's previous entry (0: none)
    cr_prev_seq        INTEGER NOT NULL     -- the credit account's previous entry (0: none)
);

CREATE INDEX IF NOT EXISTS ledger_transfers_by_reference ON ledger_transfers (reference) WHERE reference IS NOT NULL;

-- Every ENTRY_CHECKPOINT_INTERVAL-th entry of each account, so that a walk along an account's links
-- never takes more than that many steps to reach any instant.
CREATE TABLE IF NOT EXISTS ledger_entry_checkpoints (
    account_id BLOB    NOT NULL,
    timestamp  INTEGER NOT NULL,
    seq        INTEGER NOT NULL,
    PRIMARY KEY (account_id, timestamp)
) WITHOUT ROWID;

-- Holds and where they stand; the amount and accounts are the pending transfer's.
CREATE TABLE IF NOT EXISTS ledger_pendings (
    id         BLOB    PRIMARY KEY,
    status     INTEGER NOT NULL,            -- 0 pending, 1 posted, 2 voided, 3 expired
    expires_at INTEGER
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS ledger_pendings_due ON ledger_pendings (expires_at) WHERE status = 0 AND expires_at IS NOT NULL;

CREATE TABLE IF NOT EXISTS api_clients (
    id         TEXT    PRIMARY KEY,
    name       TEXT    NOT NULL,
    public_key BLOB    NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER
);

CREATE TABLE IF NOT EXISTS api_nonces (
    client_id TEXT    NOT NULL,
    nonce     TEXT    NOT NULL,
    seen_at   INTEGER NOT NULL,
    PRIMARY KEY (client_id, nonce)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS api_nonces_by_time ON api_nonces (seen_at);

CREATE TABLE IF NOT EXISTS idempotency_keys (
    client_id    TEXT    NOT NULL,
    key          TEXT    NOT NULL,
    fingerprint  TEXT    NOT NULL,
    claimed_at   INTEGER NOT NULL,
    status       INTEGER,                   -- NULL while the first request runs
    body         BLOB,
    PRIMARY KEY (client_id, key)
) WITHOUT ROWID;
