-- sanhu schema for PostgreSQL, version 5: the audit log, as on SQLite (see `crate::audit`). Every
-- state-changing request is an event; events form a hash chain in sequence order, and the chain's head
-- is a row of its own, locked (`FOR UPDATE`) by every appending transaction, so that several sanhu
-- instances on this database append one after another to one chain. Timestamps are nanoseconds since
-- the Unix epoch; hashes are lower-case hex SHA-256. Text compares byte by byte (COLLATE "C"), as on
-- SQLite.

-- One row per event, append-only. `seq` is assigned by the appending transaction under the head's
-- lock (the head's plus one), so it has no gaps; `hash` covers every column and `prev_hash`.
CREATE TABLE audit_events (
    seq        BIGINT  PRIMARY KEY,
    at         BIGINT  NOT NULL,
    actor      TEXT    COLLATE "C" NOT NULL, -- client:cli_…, staff:…
    request_id TEXT    COLLATE "C" NOT NULL, -- req_…
    source     TEXT,                         -- the caller's address, when known
    method     TEXT    NOT NULL,
    route      TEXT    COLLATE "C" NOT NULL, -- the route's template: /v1/members/{id}/lock
    target_ids TEXT    NOT NULL,             -- space-separated ids the request was about
    status     INTEGER NOT NULL,             -- the HTTP status answered
    error_code TEXT,                         -- the refusal's code
    reason     TEXT,
    changes    TEXT,                         -- the request's JSON, secrets redacted
    prev_hash  TEXT    NOT NULL,
    hash       TEXT    NOT NULL
);

CREATE INDEX audit_events_by_actor ON audit_events (actor, seq);
CREATE INDEX audit_events_by_route ON audit_events (route, seq);
CREATE INDEX audit_events_by_request ON audit_events (request_id);
CREATE INDEX audit_events_by_time ON audit_events (at);

-- A lookup from an id to the events that name it: not part of the chain (the ids are, in
-- `audit_events.target_ids`), only a way to find them.
CREATE TABLE audit_targets (
    target_id TEXT   COLLATE "C" NOT NULL,
    seq       BIGINT NOT NULL,
    PRIMARY KEY (target_id, seq)
);

-- The chain's head: its last event's seq and hash (0 and 64 zeros while empty). One row, the lock
-- every append takes.
CREATE TABLE audit_head (
    id   INTEGER PRIMARY KEY CHECK (id = 1),
    seq  BIGINT  NOT NULL,
    hash TEXT    NOT NULL
);

INSERT INTO audit_head (id, seq, hash)
VALUES (1, 0, '0000000000000000000000000000000000000000000000000000000000000000');

-- Append-only: sanhu never updates, deletes or truncates events, and the database refuses it too, so
-- that a mistake in code cannot. Someone who owns the tables can drop these triggers; the hash chain
-- is what shows that they then changed something.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only (% on %)', TG_OP, TG_TABLE_NAME;
END;
$$;

CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
