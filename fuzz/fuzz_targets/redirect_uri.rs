//! `RedirectUri::new` and matching on arbitrary strings.
#![no_main]
use gatehouse_types::RedirectUri;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(uri) = RedirectUri::new(input) {
        assert!(uri.matches(&uri));
        assert_eq!(uri.as_str(), input);
        let _ = uri.host();
    }
});
