-- sanhu schema for SQLite, version 3: the three-party records (customers, members, operators, member
-- accounts, ...), kept generically: the rules that govern them live in core and the service, and the
-- store only keeps documents, unique keys, lookups and history (see `crate::party`). Ids are the
-- aggregates' prefixed text ids (`cus_…`, `mem_…`); timestamps are nanoseconds since the Unix epoch.

-- One aggregate per row, as a JSON document. `version` is 1 when created and one more on every write:
-- a write names the version it read, and is refused if the row has moved on (optimistic concurrency).
-- `customer_id` is the customer the aggregate belongs to (itself, for a customer).
CREATE TABLE IF NOT EXISTS party_records (
    id          TEXT    PRIMARY KEY,
    kind        TEXT    NOT NULL,           -- customer, member, member_account, operator, ...
    customer_id TEXT    NOT NULL,
    version     INTEGER NOT NULL,
    data        TEXT    NOT NULL,           -- the aggregate, as JSON
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS party_records_by_customer ON party_records (customer_id, kind, id);
CREATE INDEX IF NOT EXISTS party_records_by_kind ON party_records (kind, id);

-- Unique keys (a certificate, a login identity): the primary key is what makes a key name at most one
-- owner, whichever store claims it.
CREATE TABLE IF NOT EXISTS party_keys (
    namespace TEXT NOT NULL,                -- certificate, identity, ...
    key       TEXT NOT NULL,
    owner     TEXT NOT NULL,                -- the id of the record that holds the key
    PRIMARY KEY (namespace, key)
) WITHOUT ROWID;

-- Lookups (customer → members, member → accounts, name → customers): not rules, only a way to find
-- records by something other than their id. Adding a row twice leaves one.
CREATE TABLE IF NOT EXISTS party_index (
    name      TEXT NOT NULL,                -- which lookup
    key       TEXT NOT NULL,
    record_id TEXT NOT NULL,
    PRIMARY KEY (name, key, record_id)
) WITHOUT ROWID;

-- The history: who did what to which record, when and why. Append-only; `seq` is assigned here and
-- never reused, so it orders a record's changes and is a cursor for reading them.
CREATE TABLE IF NOT EXISTS party_changes (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,
    record_id   TEXT    NOT NULL,
    customer_id TEXT    NOT NULL,           -- the record's customer when it changed
    action      TEXT    NOT NULL,           -- customer.registered, member.activated, ...
    actor       TEXT    NOT NULL,           -- client:cli_…, staff:…, system:…
    reason      TEXT,
    detail      TEXT    NOT NULL,           -- what changed, as JSON
    at          INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS party_changes_by_record ON party_changes (record_id, seq);
CREATE INDEX IF NOT EXISTS party_changes_by_customer ON party_changes (customer_id, seq);
