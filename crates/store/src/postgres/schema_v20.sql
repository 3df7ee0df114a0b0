-- Runs of `sanhu verify` (see `crate::audit::VerificationRecord`), as on SQLite: when each ran, what
-- it checked and how many findings it had, so that the console's audit page shows the last one. Not
-- part of the audit chain, which the run checks. Timestamps are nanoseconds since the Unix epoch.
CREATE TABLE verifications (
    id                   BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at           BIGINT NOT NULL,
    finished_at          BIGINT NOT NULL,
    accounts_checked     BIGINT NOT NULL,
    transfers_checked    BIGINT NOT NULL,
    audit_events_checked BIGINT NOT NULL,
    findings             BIGINT NOT NULL,
    details              TEXT   NOT NULL,
    ran_by               TEXT   NOT NULL
);
