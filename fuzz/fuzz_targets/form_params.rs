//! `FormParams::parse` on arbitrary bodies.
#![no_main]
use gatehouse_types::form::FormParams;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(form) = FormParams::parse(input) {
        let _ = form.refuse_repeats(&["resource"]);
        let _ = form.single("token");
    }
});
