//! RFC 8414 metadata: parse, validate, and round-trip what parses.
#![no_main]
use gatehouse_as_metadata::AuthorizationServerMetadata;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(metadata) = AuthorizationServerMetadata::from_json(input) {
        let _ = metadata.validate();
        let _ = metadata.validate_for_mcp();
        let again = AuthorizationServerMetadata::from_json(metadata.to_json().as_bytes());
        assert_eq!(again.ok(), Some(metadata));
    }
});
