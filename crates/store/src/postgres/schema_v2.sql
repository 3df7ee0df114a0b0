-- sanhu schema for PostgreSQL, version 2: append-only transfers with per-account entry chains, as on
-- SQLite, in place of the two indexes by account.
--
-- Version 1 found an account's entries through (debit_account_id, timestamp) and (credit_account_id,
-- timestamp). Every transfer put one entry into each, at a random place: two index pages dirtied per
-- transfer, each written whole to the WAL after every checkpoint, which made those two indexes the
-- largest cost of a batch. Now each transfer row links to the previous entry of its debit account and
-- of its credit account (dr_prev_id, cr_prev_id: transfer ids, so that the links need no index
-- besides the primary key), the account row records its latest entry and how many it has, and every
-- 128th entry of an account is a checkpoint row. A statement or a past balance follows the links back
-- from the nearest checkpoint, in one recursive query. The links are consistent because a batch holds
-- the row locks of all its accounts: two writers never extend one account's chain at once.

ALTER TABLE ledger_accounts
    ADD COLUMN last_entry_id UUID,                 -- the account's latest transfer (NULL: none yet)
    ADD COLUMN entry_count   BIGINT NOT NULL DEFAULT 0;

ALTER TABLE ledger_transfers
    ADD COLUMN dr_prev_id UUID,                    -- the debit account's previous entry (NULL: none)
    ADD COLUMN cr_prev_id UUID;                    -- the credit account's previous entry (NULL: none)

-- Every 128th entry of each account (the 128th, 256th, …), so that a walk along an account's links
-- never takes more than 128 steps to reach any instant.
CREATE TABLE ledger_entry_checkpoints (
    account_id  UUID   NOT NULL,
    timestamp   BIGINT NOT NULL,
    transfer_id UUID   NOT NULL,
    PRIMARY KEY (account_id, timestamp)
);

-- The links, counts and checkpoints of the transfers already stored, in each account's timestamp order.
CREATE TEMPORARY TABLE sanhu_v2_entries ON COMMIT DROP AS
SELECT id, account_id, side, timestamp,
       lag(id) OVER w AS previous,
       row_number() OVER w AS n
FROM (SELECT id, timestamp, debit_account_id AS account_id, 0 AS side FROM ledger_transfers
      UNION ALL
      SELECT id, timestamp, credit_account_id, 1 FROM ledger_transfers) AS sides
WINDOW w AS (PARTITION BY account_id ORDER BY timestamp, id);

UPDATE ledger_transfers t SET dr_prev_id = dr.previous, cr_prev_id = cr.previous
FROM sanhu_v2_entries dr, sanhu_v2_entries cr
WHERE dr.id = t.id AND dr.side = 0 AND cr.id = t.id AND cr.side = 1;

UPDATE ledger_accounts a SET last_entry_id = e.id, entry_count = e.n
FROM (SELECT DISTINCT ON (account_id) account_id, id, n FROM sanhu_v2_entries ORDER BY account_id, n DESC) AS e
WHERE a.id = e.account_id;

INSERT INTO ledger_entry_checkpoints (account_id, timestamp, transfer_id)
SELECT account_id, timestamp, id FROM sanhu_v2_entries WHERE n % 128 = 0;

DROP INDEX ledger_transfers_by_debit;
DROP INDEX ledger_transfers_by_credit;

-- What a batch writes into each account row it changed, as one array of these.
CREATE TYPE ledger_account_change AS (
    id               UUID,
    debits_pending   BIGINT,
    debits_posted    BIGINT,
    credits_pending  BIGINT,
    credits_posted   BIGINT,
    last_transfer_at BIGINT,
    last_entry_id    UUID,
    entry_count      BIGINT
);
