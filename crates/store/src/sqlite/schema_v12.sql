-- sanhu schema for SQLite, version 12: members' bills (see `crate::bill`). A bill is issued once per
-- member and period, and never changed: its items are the ledger's entries of the period, copied when
-- it is issued. Ids are prefixed text (`bil_…`, `mem_…`); times are nanoseconds since the Unix epoch.

CREATE TABLE IF NOT EXISTS member_bills (
    id            TEXT    PRIMARY KEY,
    member_id     TEXT    NOT NULL,
    customer_id   TEXT    NOT NULL,          -- the member's customer when the bill was issued
    period_start  INTEGER NOT NULL,
    period_end    INTEGER NOT NULL,
    period_month  TEXT,                      -- 2026-11 for a calendar month, NULL for a range
    item_count    INTEGER NOT NULL,
    data          TEXT    NOT NULL,          -- the accounts' balances and the totals, as JSON
    issued_at     INTEGER NOT NULL,
    UNIQUE (member_id, period_start, period_end)
);

CREATE INDEX IF NOT EXISTS member_bills_by_member ON member_bills (member_id, period_start, id);

-- A bill's items in its order (account by account, oldest first), one JSON document each.
CREATE TABLE IF NOT EXISTS member_bill_items (
    bill_id TEXT    NOT NULL,
    seq     INTEGER NOT NULL,
    data    TEXT    NOT NULL,
    PRIMARY KEY (bill_id, seq)
) WITHOUT ROWID;

-- How far the monthly bill run of each month has gone: the last member it finished, so that a run
-- interrupted goes on from there.
CREATE TABLE IF NOT EXISTS bill_runs (
    period      TEXT    PRIMARY KEY,
    last_member TEXT,
    done        INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL
) WITHOUT ROWID;
