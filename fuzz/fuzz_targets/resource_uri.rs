//! RFC 8707 resource URIs: the canonical form parses to itself.
#![no_main]
use gatehouse_resource_indicators::ResourceUri;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(resource) = ResourceUri::parse(input) {
        assert_eq!(ResourceUri::parse(resource.as_str()).ok(), Some(resource));
    }
});
