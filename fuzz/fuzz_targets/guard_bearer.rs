//! The guard's bearer credential reader (RFC 6750 §2.1, §2.3): any `Authorization` value and
//! query string get an answer; an accepted token is a b64token. A NUL byte separates the header
//! value from the query.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let (authorization, query) = match input.iter().position(|&b| b == 0) {
        Some(at) => (&input[..at], &input[at + 1..]),
        None => (input, &[][..]),
    };
    gatehouse_guard::fuzzing::bearer(authorization, &String::from_utf8_lossy(query));
});
