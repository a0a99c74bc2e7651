//! refuge-plan: choose who goes on the next transfers.
//!
//! Pure: no I/O, no clock, no randomness. The input is an [`Instance`] (batches, households,
//! policy); the output is a [`Plan`]: the manifest per batch, the objective, a proven bound
//! and gap, and one [`Explanation`] per household.
//!
//! The rules: a household travels whole on one batch or not at all; a batch never carries
//! more people than seats; a household only boards a batch whose origins include its
//! location; pins are hard constraints. The objective is the weighted person-days of waiting
//! saved, `Σ priority_h × size_h × (end_day − day_b)`. See `solver` for the method.

mod instance;
mod solver;

pub use instance::*;
pub use solver::solve;
