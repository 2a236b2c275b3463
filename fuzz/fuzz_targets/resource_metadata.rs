//! RFC 9728 metadata: parse, validate, and round-trip what parses.
#![no_main]
use gatehouse_resource_metadata::ProtectedResourceMetadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(metadata) = ProtectedResourceMetadata::from_json(input) {
        let _ = metadata.validate();
        let again = ProtectedResourceMetadata::from_json(metadata.to_json().as_bytes());
        assert_eq!(again.ok(), Some(metadata));
    }
});
