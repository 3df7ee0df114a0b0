//! A reference model for tests.
