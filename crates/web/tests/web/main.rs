//! The web application over HTTP on a free loopback port, against a small demo organisation.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on what it does not expect"
)]
#![allow(
    clippy::too_many_lines,
    reason = "a test walks one flow from start to end, in the order a user would"
)]

mod access;
mod api;
mod exchange;
mod forms;
mod incidents;
mod language;
mod people;
mod planning;
mod security;
mod support;
