//! `ClientId::new` on arbitrary strings.
#![no_main]
use gatehouse_types::ClientId;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(id) = ClientId::new(input) {
        let _ = id.is_metadata_document_url();
    }
});
