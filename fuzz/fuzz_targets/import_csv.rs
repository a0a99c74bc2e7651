//! A CSV import (`refuge import people FILE.csv`), through the use case on a small
//! organisation: any bytes, any options, never a panic; refused files write nothing.
#![no_main]

#[path = "common/org.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let org = common::org();
    let (options, file) = options_of(data);
    org.runtime.block_on(async {
        let _ = org
            .state
            .app
            .import_people(&org.admin, file, options, &mut |_| {})
            .await;
    });
});

/// The first byte chooses the options (duplicates allowed, over capacity, date order).
fn options_of(data: &[u8]) -> (refuge_app::ImportOptions, &[u8]) {
    let Some((&choice, file)) = data.split_first() else {
        return (refuge_app::ImportOptions::default(), data);
    };
    let options = refuge_app::ImportOptions {
        allow_duplicates: choice & 1 != 0,
        over_capacity: choice & 2 != 0,
        ignore_columns: if choice & 4 != 0 {
            vec!["phone".into()]
        } else {
            Vec::new()
        },
        date_order: match choice >> 6 {
            1 => Some(refuge_app::DateOrder::DayFirst),
            2 => Some(refuge_app::DateOrder::MonthFirst),
            _ => None,
        },
    };
    (options, file)
}
