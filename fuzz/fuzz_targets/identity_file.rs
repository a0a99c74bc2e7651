//! An identity file (`refuge person add --identity-file`): any text, never a panic, and an
//! error that never repeats what the line holds.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    // The problem is one of the parser's own sentences: nothing of the line comes back.
    if let Err(wrong) = refuge_core::parse_identity_text(text) {
        assert!(
            wrong.problem == "expected field=value"
                || wrong
                    .problem
                    .starts_with("unknown field (expected one of: "),
            "the error says more than the parser's own words"
        );
        assert!(wrong.line >= 1 && wrong.line <= text.lines().count());
    }
});
