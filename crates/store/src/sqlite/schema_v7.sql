-- sanhu schema for SQLite, version 7: counters moved inside a party write's own transaction (see
-- `crate::party::CounterAdd`): a merchant's receipts per platform day and month, added to by every
-- payment it receives without rewriting the merchant's record.

CREATE TABLE IF NOT EXISTS party_counters (
    key   TEXT    PRIMARY KEY,  -- merchant_receipts:mch_…:day:20430 / :month:2026-12
    total INTEGER NOT NULL
) WITHOUT ROWID;
