//! `uri::check_web_url` and well-known URL derivation on arbitrary strings.
#![no_main]
use gatehouse_types::uri;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let _ = uri::check_web_url(input);
    if let Ok(derived) = uri::insert_well_known(input, "oauth-authorization-server") {
        assert!(uri::check_web_url(&derived).is_ok(), "{derived}");
    }
});
