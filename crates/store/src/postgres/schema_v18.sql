-- sanhu schema for PostgreSQL, version 18: a card's validity end as a column, so the expiry job finds
-- the active cards whose validity ended by a partial index, as on SQLite (see `crate::card`).

ALTER TABLE cards ADD COLUMN valid_until BIGINT;

UPDATE cards SET valid_until = (data::jsonb ->> 'valid_until')::bigint;

CREATE INDEX cards_expiring ON cards (valid_until) WHERE status = 'active' AND valid_until IS NOT NULL;
