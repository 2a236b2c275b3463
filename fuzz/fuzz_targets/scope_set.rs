//! `ScopeSet::parse`: display then parse gives the same set.
#![no_main]
use gatehouse_types::ScopeSet;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &str| {
    if let Ok(set) = ScopeSet::parse(input) {
        assert_eq!(ScopeSet::parse(&set.to_string()).ok(), Some(set));
    }
});
