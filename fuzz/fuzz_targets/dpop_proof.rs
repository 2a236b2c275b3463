//! DPoP proof checking (`gatehouse_jose::verify_proof`, RFC 9449 §4.3): a proof is read from
//! every unauthenticated request that sends one, so no input may panic it, and whatever it
//! accepts must be for the request it was checked against. Seeded with the RFC's example proof,
//! which verifies at its `iat`.
#![no_main]
use gatehouse_jose::{ProofExpectations, verify_proof};
use libfuzzer_sys::fuzz_target;

/// The RFC example's request and time.
const URI: &str = "https://server.example.com/token";
const IAT: u64 = 1_562_262_616;

fuzz_target!(|input: &str| {
    let expected = ProofExpectations::new("POST", URI, IAT);
    if let Ok(proof) = verify_proof(input, &expected) {
        assert!(!proof.jti().is_empty());
        assert!(proof.iat() <= IAT + ProofExpectations::DEFAULT_LEEWAY_SECS);
        assert!(!proof.jkt().is_empty());
        // The same proof for another method or URI is refused.
        assert!(verify_proof(input, &ProofExpectations::new("GET", URI, IAT)).is_err());
        let other = ProofExpectations::new("POST", "https://server.example.com/other", IAT);
        assert!(verify_proof(input, &other).is_err());
    }
});
