-- sanhu schema for SQLite, version 13: coupons (券) and checkout quotes (see `crate::card`). A template
-- counts the coupons it issued, moved on in the statement that checks its quantity; a coupon is
-- redeemed by the payment that uses it (its id) in the payment's own write, and a quote is used by one
-- payment. Times are nanoseconds since the Unix epoch.

CREATE TABLE IF NOT EXISTS coupon_templates (
    id          TEXT    PRIMARY KEY,        -- cpt_…
    owner       TEXT    NOT NULL,           -- platform, or the merchant's mch_…
    quantity    INTEGER NOT NULL,
    issued      INTEGER NOT NULL DEFAULT 0 CHECK (issued >= 0 AND issued <= quantity),
    per_member  INTEGER NOT NULL,
    data        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS coupon_templates_by_owner ON coupon_templates (owner, id);

CREATE TABLE IF NOT EXISTS coupons (
    id          TEXT    PRIMARY KEY,        -- cpn_…
    template_id TEXT    NOT NULL,
    owner       TEXT    NOT NULL,           -- the template's
    member_id   TEXT    NOT NULL,
    status      TEXT    NOT NULL,           -- unused, redeemed
    valid_from  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    returnable  INTEGER NOT NULL,           -- 1: a payment refunded in full gives it back
    payment_id  TEXT,                       -- the card payment that redeemed it
    redeemed_at INTEGER,
    data        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS coupons_by_member ON coupons (member_id, id);
CREATE INDEX IF NOT EXISTS coupons_by_template_member ON coupons (template_id, member_id);
CREATE INDEX IF NOT EXISTS coupons_by_payment ON coupons (payment_id) WHERE payment_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS checkout_quotes (
    id          TEXT    PRIMARY KEY,        -- quo_…
    member_id   TEXT    NOT NULL,
    card_number TEXT,
    payment_id  TEXT,                       -- the card payment that used it
    expires_at  INTEGER NOT NULL,
    data        TEXT    NOT NULL,
    created_at  INTEGER NOT NULL
) WITHOUT ROWID;

CREATE INDEX IF NOT EXISTS checkout_quotes_by_payment ON checkout_quotes (payment_id) WHERE payment_id IS NOT NULL;
