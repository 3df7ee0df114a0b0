-- sanhu schema for SQLite, version 16: a card's validity end as a column, so the expiry job finds the
-- active cards whose validity ended by a partial index (see `crate::card`).

ALTER TABLE cards ADD COLUMN valid_until INTEGER;

UPDATE cards SET valid_until = json_extract(data, '$.valid_until');

CREATE INDEX IF NOT EXISTS cards_expiring ON cards (valid_until)
    WHERE status = 'active' AND valid_until IS NOT NULL;
