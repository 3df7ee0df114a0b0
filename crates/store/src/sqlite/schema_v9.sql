-- sanhu schema for SQLite, version 9: member cards (see `crate::card`): card types, number segments,
-- issuing batches, cards and their transactions. Timestamps are nanoseconds since the Unix epoch;
-- `data` is the rest of the record as the service writes it (JSON).

CREATE TABLE IF NOT EXISTS card_types (
    id         TEXT    PRIMARY KEY,         -- ctp_…
    owner      TEXT    NOT NULL,            -- platform, or the merchant's mch_…
    version    INTEGER NOT NULL,            -- moved on by every change of its terms
    data       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS card_types_by_owner ON card_types (owner, id);

-- Serials `first_serial..=last_serial` under `prefix`; `next_serial` is the first not yet allocated.
CREATE TABLE IF NOT EXISTS card_segments (
    id            TEXT    PRIMARY KEY,      -- csg_…
    prefix        TEXT    NOT NULL,
    serial_digits INTEGER NOT NULL,
    first_serial  INTEGER NOT NULL,
    last_serial   INTEGER NOT NULL,
    next_serial   INTEGER NOT NULL,
    data          TEXT    NOT NULL,
    created_at    INTEGER NOT NULL,
    CHECK (next_serial >= first_serial AND next_serial <= last_serial + 1)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS card_batches (
    id           TEXT    PRIMARY KEY,       -- cbt_…
    type_id      TEXT    NOT NULL,
    owner        TEXT    NOT NULL,
    segment_id   TEXT    NOT NULL,
    first_serial INTEGER NOT NULL,
    quantity     INTEGER NOT NULL,
    sold         INTEGER NOT NULL,
    status       TEXT    NOT NULL,          -- pending, approved
    version      INTEGER NOT NULL,
    data         TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    CHECK (sold >= 0 AND sold <= quantity)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS card_batches_by_owner ON card_batches (owner, id);
-- No two batches hold the same serial of one segment: their first serials differ, and allocation
-- never hands out a serial twice.
CREATE UNIQUE INDEX IF NOT EXISTS card_batches_by_segment ON card_batches (segment_id, first_serial);

CREATE TABLE IF NOT EXISTS cards (
    number     TEXT    PRIMARY KEY,
    batch_id   TEXT    NOT NULL,
    type_id    TEXT    NOT NULL,
    owner      TEXT    NOT NULL,
    member_id  TEXT,
    account_id TEXT    NOT NULL UNIQUE,     -- its ledger account
    status     TEXT    NOT NULL,            -- sold, active, frozen
    version    INTEGER NOT NULL,
    data       TEXT    NOT NULL,
    created_at INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS cards_by_member ON cards (member_id) WHERE member_id IS NOT NULL;
CREATE INDEX IF NOT EXISTS cards_by_batch ON cards (batch_id);

CREATE TABLE IF NOT EXISTS card_transactions (
    id          TEXT    PRIMARY KEY,        -- derived from the caller and its order number
    card_number TEXT    NOT NULL,
    kind        TEXT    NOT NULL,           -- sale, recharge, payment, refund
    amount      INTEGER NOT NULL,
    refunded    INTEGER NOT NULL,
    status      TEXT    NOT NULL,           -- in_flight, succeeded, failed
    data        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL,
    CHECK (refunded >= 0 AND refunded <= amount)
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS card_transactions_by_card ON card_transactions (card_number, created_at, id);

-- A client that held every scope, or every scope a bound client may hold, before cards existed holds
-- the cards' scopes too, as a client made now would.
UPDATE api_clients SET scopes = scopes || ' cards:read cards:write'
    WHERE scopes IN ('ledger:read ledger:write parties:read parties:write wallet:read wallet:write admin:read admin:write audit:read',
                     'parties:read parties:write wallet:read wallet:write');
