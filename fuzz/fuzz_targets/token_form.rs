//! `TokenForm::from_form` (RFC 7662 §2.1 / RFC 7009 §2.1 bodies): what parses re-encodes to a body
//! that parses to the same form.
#![no_main]
use gatehouse_types::TokenForm;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: &[u8]| {
    if let Ok(form) = TokenForm::from_form(input) {
        let again = TokenForm::from_form(form.to_form().as_bytes());
        assert!(again.is_ok_and(|again| again == form));
    }
});
