//! One test binary for the store's integration tests: a module per subject, so the stack is linked once
//! rather than once per file.

mod api_clients;
mod audit_store;
mod card_store;
mod entries;
mod idempotency_claims;
mod ledger_model;
mod nonces;
mod party_store;
mod postgres_failover;
mod postgres_store;
mod sqlite_store;
mod staff_store;
