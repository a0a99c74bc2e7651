//! The conformance suite: every use case of refuge-app, and every `Store` operation, against
//! SQLite and, when `REFUGE_TEST_POSTGRES` names a PostgreSQL server (scripts/test starts a
//! throw-away one), against PostgreSQL too — each test in its own fresh database.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on what it does not expect"
)]
#![allow(
    clippy::too_many_lines,
    reason = "a test walks one flow from start to end, in the order a user would"
)]

mod access;
mod compartments;
mod exchange;
mod import;
mod integrity;
mod people;
mod planning;
mod retention;
mod support;
mod upgrade;
mod welfare;
