//! One test binary for core's integration tests: a module per subject, so the stack is linked once
//! rather than once per file.

mod ledger_model;
