-- sanhu schema for PostgreSQL, version 8: counters moved inside a party write's own transaction, as
-- on SQLite (see `crate::party::CounterAdd`): a merchant's receipts per platform day and month, added
-- to by every payment it receives without rewriting the merchant's record.

CREATE TABLE party_counters (
    key   TEXT   COLLATE "C" PRIMARY KEY,  -- merchant_receipts:mch_…:day:20430 / :month:2026-12
    total BIGINT NOT NULL
);
