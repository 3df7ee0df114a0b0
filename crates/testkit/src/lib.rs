//! The integration tests' kit: what the tests of every crate set up, written once. A dev-dependency
//! only (`publish = false`); nothing here reaches the binary.
//!
//! - [`on_both_backends!`], [`TestDatabase`], [`Backend`]: a fresh SQLite file or PostgreSQL schema per
//!   test (from `sanhu_store::testing`, re-exported so a test needs one import).
//! - [`app`]: the HTTP server over such a database with an API client whose key the test holds;
//!   requests are signed as a client signs them and sent through the router.
//! - [`staff`]: staff who sign in on that server, their sessions, requests with a session's cookie and
//!   CSRF token, and a request held for a second staff member (maker-checker).
//! - [`world`]: the wallet world of the service tests: account types, party and wallet configurations,
//!   members with money, the free `test` channel.
//! - [`money`]: the currency and amounts; [`ids`]: ID card, bank card and credit code numbers that pass
//!   their check characters; [`ledger`]: accounts and transfers for the store's and ledger's tests.
//! - [`schema`]: a fresh PostgreSQL schema without a store, for a `sanhu` process to migrate.
//! - [`failover`]: a PostgreSQL database that stops taking writes and takes them again, as a primary
//!   does when it fails over.
//! - [`openapi_check`]: every response [`app::send_to`] receives, checked against the OpenAPI document.
//! - [`faults`]: the database made to refuse some rows, as a failing disk or a row it cannot store would.

pub mod app;
pub mod failover;
pub mod faults;
pub mod ids;
pub mod ledger;
pub mod money;
pub mod openapi_check;
pub mod schema;
pub mod staff;
pub mod world;

pub use sanhu_store::on_both_backends;
pub use sanhu_store::testing::{unique_suffix, Backend, TestDatabase};
