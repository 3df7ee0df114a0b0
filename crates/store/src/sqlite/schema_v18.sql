-- Runs of `sanhu verify` (see `crate::audit::VerificationRecord`): when each ran, what it checked and
-- how many findings it had, so that the console's audit page shows the last one. Not part of the
-- audit chain, which the run checks. Timestamps are nanoseconds since the Unix epoch.
CREATE TABLE IF NOT EXISTS verifications (
    id                   INTEGER PRIMARY KEY,
    started_at           INTEGER NOT NULL,
    finished_at          INTEGER NOT NULL,
    accounts_checked     INTEGER NOT NULL,
    transfers_checked    INTEGER NOT NULL,
    audit_events_checked INTEGER NOT NULL,
    findings             INTEGER NOT NULL,      -- 0: clean
    details              TEXT    NOT NULL,      -- JSON array of the first findings in words
    ran_by               TEXT    NOT NULL       -- sanhu verify (host)
);
