//! `WWW-Authenticate` parsing (RFC 9110 §11.6.1, RFC 6750 §3): a parsed Bearer challenge, built
//! again, parses to the same challenge.
#![no_main]
use gatehouse_resource_metadata::{BearerChallenge, parse_challenges};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    let _ = parse_challenges(input);
    if let Ok(challenge) = BearerChallenge::parse(input) {
        let header = challenge.to_header_value();
        assert!(!header.contains(['\r', '\n']), "{header:?}");
        assert_eq!(BearerChallenge::parse(&header).ok(), Some(challenge));
    }
});
