//! Drives the real `refuge` binary in a temporary directory.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on what it does not expect"
)]
#![allow(
    clippy::too_many_lines,
    reason = "a test walks one flow from start to end, in the order a user would"
)]

mod commands;
mod durability;
mod exchange;
mod keys;
mod secrecy;
mod serve;
mod support;
