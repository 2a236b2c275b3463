//! RFC 7591 §3.2.1 / RFC 7592 §3 client information response.
#![no_main]
use gatehouse_registration::RegistrationResponse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(response) = RegistrationResponse::from_json(input) {
        let _ = response.validate();
        assert!(RegistrationResponse::from_json(response.to_json().as_bytes()).is_ok());
    }
});
