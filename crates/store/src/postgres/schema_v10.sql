-- sanhu schema for PostgreSQL, version 10: member cards, as on SQLite (see `crate::card`): card types,
-- number segments, issuing batches, cards and their transactions. Timestamps are nanoseconds since the
-- Unix epoch; `data` is the rest of the record as the service writes it (JSON). Text compares byte by
-- byte (COLLATE "C"), as on SQLite.

CREATE TABLE card_types (
    id         TEXT    COLLATE "C" PRIMARY KEY,         -- ctp_…
    owner      TEXT    COLLATE "C" NOT NULL,            -- platform, or the merchant's mch_…
    version    BIGINT  NOT NULL,            -- moved on by every change of its terms
    data       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);

CREATE INDEX card_types_by_owner ON card_types (owner, id);

-- Serials `first_serial..=last_serial` under `prefix`; `next_serial` is the first not yet allocated.
CREATE TABLE card_segments (
    id            TEXT    COLLATE "C" PRIMARY KEY,      -- csg_…
    prefix        TEXT    NOT NULL,
    serial_digits BIGINT  NOT NULL,
    first_serial  BIGINT  NOT NULL,
    last_serial   BIGINT  NOT NULL,
    next_serial   BIGINT  NOT NULL,
    data          TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    CHECK (next_serial >= first_serial AND next_serial <= last_serial + 1)
);

CREATE TABLE card_batches (
    id           TEXT    COLLATE "C" PRIMARY KEY,       -- cbt_…
    type_id      TEXT    NOT NULL,
    owner        TEXT    COLLATE "C" NOT NULL,
    segment_id   TEXT    NOT NULL,
    first_serial BIGINT  NOT NULL,
    quantity     BIGINT  NOT NULL,
    sold         BIGINT  NOT NULL,
    status       TEXT    NOT NULL,          -- pending, approved
    version      BIGINT  NOT NULL,
    data         TEXT    NOT NULL,
    created_at   BIGINT  NOT NULL,
    CHECK (sold >= 0 AND sold <= quantity)
);

CREATE INDEX card_batches_by_owner ON card_batches (owner, id);
-- No two batches hold the same serial of one segment: their first serials differ, and allocation
-- never hands out a serial twice.
CREATE UNIQUE INDEX card_batches_by_segment ON card_batches (segment_id, first_serial);

CREATE TABLE cards (
    number     TEXT    COLLATE "C" PRIMARY KEY,
    batch_id   TEXT    NOT NULL,
    type_id    TEXT    NOT NULL,
    owner      TEXT    COLLATE "C" NOT NULL,
    member_id  TEXT,
    account_id TEXT    NOT NULL UNIQUE,     -- its ledger account
    status     TEXT    NOT NULL,            -- sold, active, frozen
    version    BIGINT  NOT NULL,
    data       TEXT    NOT NULL,
    created_at BIGINT  NOT NULL
);

CREATE INDEX cards_by_member ON cards (member_id) WHERE member_id IS NOT NULL;
CREATE INDEX cards_by_batch ON cards (batch_id);

CREATE TABLE card_transactions (
    id          TEXT    COLLATE "C" PRIMARY KEY,        -- derived from the caller and its order number
    card_number TEXT    COLLATE "C" NOT NULL,
    kind        TEXT    NOT NULL,           -- sale, recharge, payment, refund
    amount      BIGINT  NOT NULL,
    refunded    BIGINT  NOT NULL,
    status      TEXT    NOT NULL,           -- in_flight, succeeded, failed
    data        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL,
    CHECK (refunded >= 0 AND refunded <= amount)
);

CREATE INDEX card_transactions_by_card ON card_transactions (card_number, created_at, id);

-- A client that held every scope, or every scope a bound client may hold, before cards existed holds
-- the cards' scopes too, as a client made now would.
UPDATE api_clients SET scopes = scopes || ' cards:read cards:write'
    WHERE scopes IN ('ledger:read ledger:write parties:read parties:write wallet:read wallet:write admin:read admin:write audit:read',
                     'parties:read parties:write wallet:read wallet:write');
