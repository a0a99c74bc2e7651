//! refuge-sim: a Monte Carlo simulator of the refugee pipeline, and the backlog forecast built
//! on it.
//!
//! Pure: no I/O, no clock. Randomness comes only from the scenario's seed: replication r of
//! seed s always draws the same stream, and replications are combined in their own order, so
//! the same scenario gives bit-identical output whatever the number of threads.

pub mod chart;
mod engine;
mod forecast;
mod rng;
mod scenario;

pub use engine::{Replication, WAIT_BIN_DAYS, replicate};
pub use forecast::*;
pub use scenario::*;
