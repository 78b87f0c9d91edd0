//! What a learner types: one prompt line, and the same text as a script.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for line in text.lines() {
        match pgdrill::action::parse(line) {
            Ok(action) => {
                let _ = format!("{action:?}");
            }
            Err(e) => {
                let _ = e.to_string();
            }
        }
    }
    let _ = pgdrill::action::parse_script(text);
});
