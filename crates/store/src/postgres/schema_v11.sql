-- sanhu schema for PostgreSQL, version 11: a card whose ledger account's blocks may not yet agree with
-- its status (a freeze or an unfreeze between its writes) says since when, so the repair finds it by a
-- partial index, as on SQLite (see `crate::card`).

ALTER TABLE cards ADD COLUMN blocks_pending_since BIGINT;

CREATE INDEX cards_blocks_pending ON cards (blocks_pending_since) WHERE blocks_pending_since IS NOT NULL;
