//! RFC 7662 §2.2 introspection responses: round-trip what parses.
#![no_main]
use gatehouse_introspection::IntrospectionResponse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(response) = IntrospectionResponse::from_json(input) {
        let again = IntrospectionResponse::from_json(response.to_json().as_bytes());
        assert_eq!(again.ok(), Some(response));
    }
});
