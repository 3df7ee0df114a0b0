-- sanhu schema for PostgreSQL, version 12: redemption codes (兑换码) of card batches, kept as keyed
-- hashes, as on SQLite (see `crate::card`), and the failed redemptions that limit guessing. A batch
-- counts its codes not yet redeemed: each holds one of its cards, which a sale does not take.

ALTER TABLE card_batches ADD COLUMN codes_unused BIGINT NOT NULL DEFAULT 0 CHECK (codes_unused >= 0);

CREATE TABLE card_codes (
    id          TEXT    COLLATE "C" PRIMARY KEY,        -- ccd_…
    batch_id    TEXT    COLLATE "C" NOT NULL,
    owner       TEXT    COLLATE "C" NOT NULL,           -- the batch's: platform, or the merchant's mch_…
    digest      TEXT    COLLATE "C" NOT NULL UNIQUE,    -- the code's keyed hash (the code itself is kept nowhere)
    status      TEXT    NOT NULL,                       -- unused, redeemed
    expires_at  BIGINT  NOT NULL,
    member_id   TEXT    COLLATE "C",                    -- who redeemed it
    card_index  BIGINT,                                 -- the card of the batch it gave (0 for the first)
    redeemed_at BIGINT,
    data        TEXT    NOT NULL,
    created_at  BIGINT  NOT NULL
);

CREATE INDEX card_codes_by_batch ON card_codes (batch_id, id);

-- One row a failed redemption, per subject (`client:…`, `staff:…`, `member:…`); rows older than the
-- window are forgotten as new ones come.
CREATE TABLE card_code_failures (
    subject TEXT    COLLATE "C" NOT NULL,
    at      BIGINT  NOT NULL
);

CREATE INDEX card_code_failures_by_subject ON card_code_failures (subject, at);
