//! One test binary for the HTTP API's integration tests: a module per subject, so the stack is linked once
//! rather than once per file.

mod access;
mod api;
mod audit;
mod bills;
mod card_codes;
mod card_merchants;
mod cards;
mod client_cache;
mod console;
mod coupons;
mod enterprises_and_security;
mod failover;
mod franchises;
mod idempotency_after_crash;
mod idempotency_outcomes;
mod merchant_hierarchy;
mod merchants;
mod monitors;
mod operations;
mod parties;
mod pay_codes;
mod products;
mod providers;
mod recharge_compensation;
mod replicas;
mod settlements;
mod split_payments;
mod staff;
mod wallet;
mod wallet_held_money;
mod wallet_model;
mod wallet_operators;
mod wallet_turns;
mod webhooks;
