//! RFC 7591 registration request: parse, validate, and the default policy's decision.
#![no_main]
use gatehouse_registration::{ClientMetadata, ClientMetadataPolicy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(metadata) = ClientMetadata::from_json(input) {
        let _ = metadata.validate();
        if let Ok(registered) = ClientMetadataPolicy::new().check(&metadata) {
            // What the policy accepted, it accepts again (a store re-checks on load).
            assert!(
                ClientMetadataPolicy::new()
                    .check(&registered.to_metadata())
                    .is_ok()
            );
        }
        let again = ClientMetadata::from_json(metadata.to_json().as_bytes());
        assert_eq!(again.ok(), Some(metadata));
    }
});
