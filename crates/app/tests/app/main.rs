//! The conformance suite: every use case of refuge-app, and every `Store` operation, against
//! SQLite and, when `REFUGE_TEST_POSTGRES` names a PostgreSQL server (scripts/test starts a
//! throw-away one), against PostgreSQL too — each test in its own fresh database.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on what it does not expect"
)]

mod access;
mod compartments;
mod import;
mod integrity;
mod people;
mod planning;
mod retention;
mod support;
mod upgrade;
