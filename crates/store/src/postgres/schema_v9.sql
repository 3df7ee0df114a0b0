-- sanhu schema for PostgreSQL, version 9: which attempt claimed an idempotency key.
--
-- 128 random bits in hex, drawn by each request that claims a key (and again by one that takes a dead
-- claim over). An answer or a release names it, and settles the key only while that claim holds it
-- unanswered: a request whose claim was lost or taken over can no longer delete or answer the claim
-- another request holds while it runs. NULL for claims made before version 9.
ALTER TABLE idempotency_keys ADD COLUMN claim_token TEXT;
