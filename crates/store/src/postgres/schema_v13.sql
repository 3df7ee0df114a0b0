-- sanhu schema for PostgreSQL, version 13: members' bills, as on SQLite (see `crate::bill`). A bill is
-- issued once per member and period, and never changed: its items are the ledger's entries of the
-- period, copied when it is issued.

CREATE TABLE member_bills (
    id            TEXT    PRIMARY KEY,
    member_id     TEXT    NOT NULL,
    customer_id   TEXT    NOT NULL,
    period_start  BIGINT  NOT NULL,
    period_end    BIGINT  NOT NULL,
    period_month  TEXT,
    item_count    BIGINT  NOT NULL,
    data          TEXT    NOT NULL,
    issued_at     BIGINT  NOT NULL,
    UNIQUE (member_id, period_start, period_end)
);

CREATE INDEX member_bills_by_member ON member_bills (member_id, period_start, id);

CREATE TABLE member_bill_items (
    bill_id TEXT    NOT NULL,
    seq     BIGINT  NOT NULL,
    data    TEXT    NOT NULL,
    PRIMARY KEY (bill_id, seq)
);

CREATE TABLE bill_runs (
    period      TEXT    PRIMARY KEY,
    last_member TEXT,
    done        BOOLEAN NOT NULL,
    updated_at  BIGINT  NOT NULL
);
