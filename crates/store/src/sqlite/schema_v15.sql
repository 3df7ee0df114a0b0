-- Balance monitors (see `crate::webhook`): a condition on an account's balance or available, on one
-- account or every account of a type, and each watched account's state (beyond the condition or
-- not, and the timestamp of the last ledger entry evaluated), so that a monitor fires once per
-- crossing and a restart evaluates from where the last pass ended.
CREATE TABLE IF NOT EXISTS balance_monitors (
    id           TEXT    PRIMARY KEY,
    client_id    TEXT    NOT NULL,
    bound_member TEXT,
    target_kind  TEXT    NOT NULL,      -- account, account_type
    target       TEXT    NOT NULL,      -- acc_…, or the type's code
    field        TEXT    NOT NULL,      -- balance, available, debt
    op           TEXT    NOT NULL,      -- below, above, equal (debt: deeper)
    amount       INTEGER NOT NULL,
    description  TEXT,
    status       TEXT    NOT NULL,      -- active, disabled
    created_at   INTEGER NOT NULL,
    updated_at   INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS balance_monitors_by_client ON balance_monitors (client_id, id);

CREATE TABLE IF NOT EXISTS balance_monitor_states (
    monitor_id TEXT    NOT NULL,
    account_id TEXT    NOT NULL,
    beyond     INTEGER NOT NULL,
    last_at    INTEGER NOT NULL,
    PRIMARY KEY (monitor_id, account_id)
);
CREATE INDEX IF NOT EXISTS balance_monitor_states_by_account ON balance_monitor_states (account_id);
