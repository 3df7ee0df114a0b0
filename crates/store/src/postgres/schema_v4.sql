-- sanhu schema for PostgreSQL, version 4: the three-party records (customers, members, operators,
-- member accounts, ...), kept generically, as on SQLite: the rules that govern them live in core and
-- the service, and the store only keeps documents, unique keys, lookups and history (see
-- `crate::party`). Ids are the aggregates' prefixed text ids (`cus_…`, `mem_…`); timestamps are
-- nanoseconds since the Unix epoch. Ids, kinds and keys compare byte by byte (COLLATE "C"), as on
-- SQLite, so that "in id order" and a page's cursor mean the same on both backends whatever the
-- database's locale, and the indexes need no locale-aware comparisons.

-- One aggregate per row, as a JSON document. TEXT rather than JSONB: the document is read back
-- exactly as written, and the database never looks inside it. `version` is 1 when created and one
-- more on every write: a write names the version it read, and is refused if the row has moved on
-- (optimistic concurrency). `customer_id` is the customer the aggregate belongs to (itself, for a
-- customer).
CREATE TABLE party_records (
    id          TEXT   COLLATE "C" PRIMARY KEY,
    kind        TEXT   COLLATE "C" NOT NULL, -- customer, member, member_account, operator, ...
    customer_id TEXT   COLLATE "C" NOT NULL,
    version     BIGINT NOT NULL,
    data        TEXT   NOT NULL,            -- the aggregate, as JSON
    created_at  BIGINT NOT NULL,
    updated_at  BIGINT NOT NULL
);

CREATE INDEX party_records_by_customer ON party_records (customer_id, kind, id);
CREATE INDEX party_records_by_kind ON party_records (kind, id);

-- Unique keys (a certificate, a login identity): the primary key is what makes a key name at most one
-- owner, whichever sanhu instance claims it.
CREATE TABLE party_keys (
    namespace TEXT COLLATE "C" NOT NULL,    -- certificate, identity, ...
    key       TEXT COLLATE "C" NOT NULL,
    owner     TEXT NOT NULL,                -- the id of the record that holds the key
    PRIMARY KEY (namespace, key)
);

-- Lookups (customer → members, member → accounts, name → customers): not rules, only a way to find
-- records by something other than their id. Adding a row twice leaves one.
CREATE TABLE party_index (
    name      TEXT COLLATE "C" NOT NULL,    -- which lookup
    key       TEXT COLLATE "C" NOT NULL,
    record_id TEXT COLLATE "C" NOT NULL,
    PRIMARY KEY (name, key, record_id)
);

-- The history: who did what to which record, when and why. Append-only; `seq` is assigned here and
-- never reused. Seqs are taken in each write's transaction, so two writes that run at once may
-- commit in the other order than their seqs; a record's own changes do not, when the write that
-- records them also changes the record (it holds the record's row lock until it commits).
CREATE TABLE party_changes (
    seq         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    record_id   TEXT   COLLATE "C" NOT NULL,
    customer_id TEXT   COLLATE "C" NOT NULL, -- the record's customer when it changed
    action      TEXT   NOT NULL,            -- customer.registered, member.activated, ...
    actor       TEXT   NOT NULL,            -- client:cli_…, staff:…, system:…
    reason      TEXT,
    detail      TEXT   NOT NULL,            -- what changed, as JSON
    at          BIGINT NOT NULL
);

CREATE INDEX party_changes_by_record ON party_changes (record_id, seq);
CREATE INDEX party_changes_by_customer ON party_changes (customer_id, seq);
