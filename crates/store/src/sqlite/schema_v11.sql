-- sanhu schema for SQLite, version 11: redemption codes (兑换码) of card batches, kept as keyed hashes
-- (see `crate::card`), and the failed redemptions that limit guessing. A batch counts its codes not
-- yet redeemed: each holds one of its cards, which a sale does not take.

ALTER TABLE card_batches ADD COLUMN codes_unused INTEGER NOT NULL DEFAULT 0 CHECK (codes_unused >= 0);

CREATE TABLE IF NOT EXISTS card_codes (
    id          TEXT    PRIMARY KEY,        -- ccd_…
    batch_id    TEXT    NOT NULL,
    owner       TEXT    NOT NULL,           -- the batch's: platform, or the merchant's mch_…
    digest      TEXT    NOT NULL UNIQUE,    -- the code's keyed hash (the code itself is kept nowhere)
    status      TEXT    NOT NULL,           -- unused, redeemed
    expires_at  INTEGER NOT NULL,
    member_id   TEXT,                       -- who redeemed it
    card_index  INTEGER,                    -- the card of the batch it gave (0 for the first)
    redeemed_at INTEGER,
    data        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS card_codes_by_batch ON card_codes (batch_id, id);

-- One row a failed redemption, per subject (`client:…`, `staff:…`, `member:…`); rows older than the
-- window are forgotten as new ones come.
CREATE TABLE IF NOT EXISTS card_code_failures (
    subject TEXT    NOT NULL,
    at      INTEGER NOT NULL
);

CREATE INDEX IF NOT EXISTS card_code_failures_by_subject ON card_code_failures (subject, at);
