//! A planning instance (`refuge plan --input FILE.json`): parsed, checked, and when valid and
//! small, solved: the planner must not panic on any instance it accepts.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Above these, a valid instance is only checked: solving is bounded by its node limit, but a
/// fuzzer needs each input to take milliseconds.
const SOLVED_HOUSEHOLDS: usize = 40;
const SOLVED_NODES: u64 = 2_000;

fuzz_target!(|data: &[u8]| {
    let Ok(mut instance) = serde_json::from_slice::<refuge_plan::Instance>(data) else {
        return;
    };
    if instance.validate().is_err() || instance.households.len() > SOLVED_HOUSEHOLDS {
        return;
    }
    instance.policy.node_limit = instance.policy.node_limit.min(SOLVED_NODES);
    let _ = refuge_plan::solve(&instance);
});
