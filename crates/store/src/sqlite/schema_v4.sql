-- sanhu schema for SQLite, version 4: the audit log (see `crate::audit`). Every state-changing request
-- is an event; events form a hash chain in sequence order, and the chain's head is kept in a row of
-- its own, written in the same transaction as the events it ends with. Timestamps are nanoseconds
-- since the Unix epoch; hashes are lower-case hex SHA-256.

-- One row per event, append-only. `seq` is assigned by the appending transaction (the head's plus
-- one), so it has no gaps; `hash` covers every column and `prev_hash` (`crate::audit::event_hash`).
CREATE TABLE IF NOT EXISTS audit_events (
    seq        INTEGER PRIMARY KEY,
    at         INTEGER NOT NULL,
    actor      TEXT    NOT NULL,            -- client:cli_…, staff:…
    request_id TEXT    NOT NULL,            -- req_…
    source     TEXT,                        -- the caller's address, when known
    method     TEXT    NOT NULL,
    route      TEXT    NOT NULL,            -- the route's template: /v1/members/{id}/lock
    target_ids TEXT    NOT NULL,            -- space-separated ids the request was about
    status     INTEGER NOT NULL,            -- the HTTP status answered
    error_code TEXT,                        -- the refusal's code
    reason     TEXT,
    changes    TEXT,                        -- the request's JSON, secrets redacted
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);

CREATE INDEX IF NOT EXISTS audit_events_by_actor ON audit_events (actor, seq);
CREATE INDEX IF NOT EXISTS audit_events_by_route ON audit_events (route, seq);
CREATE INDEX IF NOT EXISTS audit_events_by_request ON audit_events (request_id);
CREATE INDEX IF NOT EXISTS audit_events_by_time ON audit_events (at);

-- A lookup from an id to the events that name it: not part of the chain (the ids are, in
-- `audit_events.target_ids`), only a way to find them.
CREATE TABLE IF NOT EXISTS audit_targets (
    target_id TEXT    NOT NULL,
    seq       INTEGER NOT NULL,
    PRIMARY KEY (target_id, seq)
) WITHOUT ROWID;

-- The chain's head: its last event's seq and hash (0 and 64 zeros while empty). One row.
CREATE TABLE IF NOT EXISTS audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  INTEGER NOT NULL,
    hash TEXT    NOT NULL
);

INSERT OR IGNORE INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only: sanhu never updates or deletes an event, and the database refuses it too, so that a
-- mistake in code cannot. Someone with write access to the file can drop these triggers; the hash
-- chain is what shows that they then changed something.
CREATE TRIGGER IF NOT EXISTS audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TRIGGER IF NOT EXISTS audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TRIGGER IF NOT EXISTS audit_head_no_delete BEFORE DELETE ON audit_head
BEGIN
    SELECT RAISE(ABORT, 'the audit chain head is never deleted');
END;
