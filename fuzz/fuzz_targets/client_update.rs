//! RFC 7592 §2.2 client update request and the policy's decision on it.
#![no_main]
use gatehouse_registration::{ClientMetadataPolicy, ClientUpdateRequest};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(request) = ClientUpdateRequest::from_json(input) {
        let _ = request.validate();
        let _ = ClientMetadataPolicy::new().check_update(&request, &request.client_id);
    }
});
