-- sanhu schema for PostgreSQL, version 3: which store claimed an idempotency key.
--
-- The token of the claiming store's instance lock (a session advisory lock; see instance.rs). A claim
-- whose store is gone (its lock is free) is taken over at once instead of after its lease. NULL for
-- claims made before version 3: those wait for their lease.
ALTER TABLE idempotency_keys ADD COLUMN claimed_by BIGINT;
