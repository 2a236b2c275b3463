//! RFC 7009 §2.1 revocation request bodies.
#![no_main]
use gatehouse_revocation::RevocationRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(request) = RevocationRequest::from_form(input) {
        assert!(RevocationRequest::from_form(request.to_form().as_bytes()).is_ok());
    }
});
