-- The journal by time: the console's daily figures (and any question of a period) read the transfers
-- of a time range. A BRIN index fits an append-only table whose timestamps grow with its rows: a few
-- pages for the whole journal, next to nothing to keep up on each insert.
CREATE INDEX IF NOT EXISTS ledger_transfers_by_time ON ledger_transfers USING brin (timestamp);
