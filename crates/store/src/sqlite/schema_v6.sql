-- sanhu schema for SQLite, version 6: staff accounts, their sign-in sessions and the approvals of
-- maker-checker (see `crate::staff`). Timestamps are nanoseconds since the Unix epoch; hashes are
-- lower-case hex SHA-256.

-- One row per staff member. The password is an Argon2id PHC string; `failed_logins` and
-- `locked_until` are the sign-in lockout; every write moves `version` on (compare-and-set).
CREATE TABLE IF NOT EXISTS staff_accounts (
    username        TEXT    PRIMARY KEY,    -- a-z 0-9 . _ -
    role            TEXT    NOT NULL,       -- super_admin, finance, operations, customer_service, auditor
    password_hash   TEXT    NOT NULL,
    status          TEXT    NOT NULL,       -- active, disabled
    failed_logins   INTEGER NOT NULL,
    locked_until    INTEGER,
    created_at      INTEGER NOT NULL,
    password_set_at INTEGER NOT NULL,
    version         INTEGER NOT NULL
) WITHOUT ROWID;

-- One row per sign-in, under the SHA-256 of its token (never the token).
CREATE TABLE IF NOT EXISTS staff_sessions (
    token_hash   TEXT    PRIMARY KEY,
    username     TEXT    NOT NULL,
    csrf_hash    TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    last_seen_at INTEGER NOT NULL,
    ended_at     INTEGER
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS staff_sessions_by_username ON staff_sessions (username) WHERE ended_at IS NULL;
CREATE INDEX IF NOT EXISTS staff_sessions_by_age ON staff_sessions (created_at);

-- One row per request waiting for (or decided by) a second staff member, with the request to apply.
CREATE TABLE IF NOT EXISTS staff_approvals (
    id              TEXT    PRIMARY KEY,    -- apr_…, time-ordered
    status          TEXT    NOT NULL,       -- pending, applying, applied, failed, rejected
    maker           TEXT    NOT NULL,
    checker         TEXT,
    method          TEXT    NOT NULL,
    route           TEXT    NOT NULL,       -- the route's template: /v1/freezes
    path            TEXT    NOT NULL,       -- the path with query, as sent
    body            TEXT    NOT NULL,
    reason          TEXT,                   -- why it was rejected
    created_at      INTEGER NOT NULL,
    decided_at      INTEGER,
    response_status INTEGER,                -- what applying it answered
    response_body   TEXT
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS staff_approvals_by_status ON staff_approvals (status, id);
