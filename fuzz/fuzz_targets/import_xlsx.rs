//! An XLSX import, through the use case on a small organisation: any bytes, never a panic.
#![no_main]

#[path = "common/org.rs"]
mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let org = common::org();
    org.runtime.block_on(async {
        let _ = org
            .state
            .app
            .import_people_xlsx(
                &org.admin,
                data,
                refuge_app::ImportOptions::default(),
                &mut |_| {},
            )
            .await;
    });
});
