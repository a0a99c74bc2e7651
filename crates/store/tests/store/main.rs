//! The store's own conformance suite: every test against SQLite and, when
//! `REFUGE_TEST_POSTGRES` names a PostgreSQL server (scripts/test starts a throw-away one),
//! against PostgreSQL too, each in its own fresh database. Events are written as refuge-app
//! would write them, without refuge-app: what the `Store` trait promises, said once here.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on what it does not expect"
)]
#![allow(
    clippy::too_many_lines,
    reason = "a test walks one flow from start to end, in the order a user would"
)]

mod copy;
mod reads;
mod support;
mod writes;
