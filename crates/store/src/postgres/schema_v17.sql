-- Balance monitors (see `crate::webhook`): a condition on an account's balance or available, on one
-- account or every account of a type, and each watched account's state (beyond the condition or
-- not, and the timestamp of the last ledger entry evaluated), so that a monitor fires once per
-- crossing and a restart evaluates from where the last pass ended.
CREATE TABLE balance_monitors (
    id           TEXT   COLLATE "C" PRIMARY KEY,
    client_id    TEXT   COLLATE "C" NOT NULL,
    bound_member TEXT   COLLATE "C",
    target_kind  TEXT   NOT NULL,
    target       TEXT   COLLATE "C" NOT NULL,
    field        TEXT   NOT NULL,
    op           TEXT   NOT NULL,
    amount       BIGINT NOT NULL,
    description  TEXT,
    status       TEXT   NOT NULL,
    created_at   BIGINT NOT NULL,
    updated_at   BIGINT NOT NULL
);
CREATE INDEX balance_monitors_by_client ON balance_monitors (client_id, id);

CREATE TABLE balance_monitor_states (
    monitor_id TEXT    COLLATE "C" NOT NULL,
    account_id TEXT    COLLATE "C" NOT NULL,
    beyond     BOOLEAN NOT NULL,
    last_at    BIGINT  NOT NULL,
    PRIMARY KEY (monitor_id, account_id)
);
CREATE INDEX balance_monitor_states_by_account ON balance_monitor_states (account_id);
