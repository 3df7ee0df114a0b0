//! One test binary for the binary's end-to-end tests: a module per subject, so the stack is linked once
//! rather than once per file.

mod audit;
mod bank;
mod bills_guide;
mod cards_guide;
mod cli;
mod clients;
mod common;
mod crash;
mod database_loss;
mod double_spend;
mod franchises_guide;
mod merchants_guide;
mod operations;
mod secrets;
mod security;
mod split_payments_guide;
mod staff;
mod wallet_crash;
mod wallet_guide;
mod webhooks_guide;
