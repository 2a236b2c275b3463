//! The guard's Server-Sent Events splitter (`tools/list` filtering): chunking never changes the
//! events, and a rewritten event stays one event. The first byte says how many of the rest are
//! chunk sizes.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    let Some((&n, rest)) = input.split_first() else {
        return;
    };
    let (cuts, stream) = rest.split_at(usize::from(n % 16).min(rest.len()));
    gatehouse_guard::fuzzing::sse(stream, cuts);
});
