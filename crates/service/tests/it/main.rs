//! One test binary for the service's integration tests: a module per subject, so the stack is linked once
//! rather than once per file.

mod audit;
mod bills;
mod enterprises;
mod ledger;
mod parties;
mod sealing;
mod security;
mod wallet;
mod wallet_escrow;
mod wallet_flows;
mod wallet_split;
