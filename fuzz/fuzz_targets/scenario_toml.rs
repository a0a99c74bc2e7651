//! A forecast scenario file (`refuge forecast --scenario`): parsed, checked, held to the work
//! budget; never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(scenario) = toml::from_str::<refuge_sim::Scenario>(text)
        && scenario.validate().is_ok()
    {
        let _ = refuge_app::FORECAST_BUDGET.check(&scenario);
    }
});
