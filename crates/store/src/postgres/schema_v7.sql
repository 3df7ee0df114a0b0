-- sanhu schema for PostgreSQL, version 7: staff accounts, their sign-in sessions and the approvals of
-- maker-checker, as on SQLite (see `crate::staff`). Timestamps are nanoseconds since the Unix epoch;
-- hashes are lower-case hex SHA-256. Text compares byte by byte (COLLATE "C"), as on SQLite.

-- One row per staff member. The password is an Argon2id PHC string; `failed_logins` and
-- `locked_until` are the sign-in lockout; every write moves `version` on (compare-and-set).
CREATE TABLE staff_accounts (
    username        TEXT    COLLATE "C" PRIMARY KEY, -- a-z 0-9 . _ -
    role            TEXT    NOT NULL,                -- super_admin, finance, operations, customer_service, auditor
    password_hash   TEXT    NOT NULL,
    status          TEXT    NOT NULL,                -- active, disabled
    failed_logins   BIGINT  NOT NULL,
    locked_until    BIGINT,
    created_at      BIGINT  NOT NULL,
    password_set_at BIGINT  NOT NULL,
    version         BIGINT  NOT NULL
);

-- One row per sign-in, under the SHA-256 of its token (never the token).
CREATE TABLE staff_sessions (
    token_hash   TEXT   COLLATE "C" PRIMARY KEY,
    username     TEXT   COLLATE "C" NOT NULL,
    csrf_hash    TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    last_seen_at BIGINT NOT NULL,
    ended_at     BIGINT
);

CREATE INDEX staff_sessions_by_username ON staff_sessions (username) WHERE ended_at IS NULL;
CREATE INDEX staff_sessions_by_age ON staff_sessions (created_at);

-- One row per request waiting for (or decided by) a second staff member, with the request to apply.
CREATE TABLE staff_approvals (
    id              TEXT    COLLATE "C" PRIMARY KEY, -- apr_…, time-ordered
    status          TEXT    COLLATE "C" NOT NULL,    -- pending, applying, applied, failed, rejected
    maker           TEXT    NOT NULL,
    checker         TEXT,
    method          TEXT    NOT NULL,
    route           TEXT    NOT NULL,                -- the route's template: /v1/freezes
    path            TEXT    NOT NULL,                -- the path with query, as sent
    body            TEXT    NOT NULL,
    reason          TEXT,                            -- why it was rejected
    created_at      BIGINT  NOT NULL,
    decided_at      BIGINT,
    response_status INTEGER,                         -- what applying it answered
    response_body   TEXT
);

CREATE INDEX staff_approvals_by_status ON staff_approvals (status, id);
