//! RFC 7662 §2.1 introspection request bodies.
#![no_main]
use gatehouse_introspection::IntrospectionRequest;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(request) = IntrospectionRequest::from_form(input) {
        assert!(IntrospectionRequest::from_form(request.to_form().as_bytes()).is_ok());
    }
});
