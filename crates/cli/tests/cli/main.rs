//! Drives the real `refuge` binary in a temporary directory.
#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on what it does not expect"
)]

mod commands;
mod durability;
mod keys;
mod secrecy;
mod serve;
mod support;
