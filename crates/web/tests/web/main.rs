//! The web application over HTTP on a free loopback port, against a small demo organisation.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on what it does not expect"
)]

mod access;
mod api;
mod forms;
mod incidents;
mod language;
mod people;
mod planning;
mod security;
mod support;
