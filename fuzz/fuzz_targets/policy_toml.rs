//! A planner policy file (`--policy FILE.toml`): parsed and checked inside an instance.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(policy) = toml::from_str::<refuge_plan::Policy>(text) {
        let instance = refuge_plan::Instance {
            end_day: None,
            batches: Vec::new(),
            households: Vec::new(),
            policy,
        };
        let _ = instance.validate();
    }
});
