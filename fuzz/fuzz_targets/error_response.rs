//! `ErrorResponse::from_json`: what parses serializes and parses again to the same value.
#![no_main]
use gatehouse_types::ErrorResponse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(response) = ErrorResponse::from_json(input) {
        let json = serde_json::to_vec(&response).unwrap_or_default();
        assert_eq!(ErrorResponse::from_json(&json).ok(), Some(response));
    }
});
