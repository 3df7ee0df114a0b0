-- sanhu schema for PostgreSQL, version 6: API clients' scopes, their binding to one member, and their
-- keys, as on SQLite (see `crate::ApiClient`). A client held one public key in
-- `api_clients.public_key`; it now holds any number, at most two active at once, each in a row of its
-- own, numbered from 1 per client. Adding a key locks the client's row (`FOR UPDATE`), so that two
-- instances adding keys at once cannot both count one active key.

-- The scopes' names separated by spaces (`ledger:read wallet:write`).
ALTER TABLE api_clients ADD COLUMN scopes TEXT NOT NULL DEFAULT '';
-- The enterprise member (`mem_…`) the client acts for; NULL: not bound.
ALTER TABLE api_clients ADD COLUMN bound_to TEXT;

CREATE TABLE api_client_keys (
    client_id  TEXT    NOT NULL,
    number     INTEGER NOT NULL,
    public_key BYTEA   NOT NULL,             -- Ed25519, 32 bytes
    added_at   BIGINT  NOT NULL,
    revoked_at BIGINT,
    PRIMARY KEY (client_id, number)
);

-- A client made before scopes could do everything: it keeps every scope, and its key is its key 1.
INSERT INTO api_client_keys (client_id, number, public_key, added_at, revoked_at)
    SELECT id, 1, public_key, created_at, NULL FROM api_clients;
UPDATE api_clients
    SET scopes = 'ledger:read ledger:write parties:read parties:write wallet:read wallet:write admin:read admin:write audit:read';
ALTER TABLE api_clients DROP COLUMN public_key;
