//! The identity provider's callback (`/login/{id}/callback`): its query read with
//! `FormParams::parse` and its `state` opened with `Pending::open` under a constant key (no
//! input can forge one: a `state` that opens must be for this provider and browser, and live),
//! and sign-ins sealed into `state` and opened again.
//!
//! The first byte chooses the mode: even, the rest is the callback's query; odd, the rest is
//! decoded with `arbitrary::Unstructured` into a sign-in in flight (where it returns to, at times
//! repeated up to 256 times, then provider, id, browser, verifier, nonce and expiry), the time
//! of the callback and a bit to flip, and the sign-in must come back the same (or not be sealed,
//! when too large to carry).
#![no_main]
use gatehouse_axum::fuzzing::{PendingFields, callback, pending_round_trip};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

fn round_trip(u: &mut Unstructured<'_>) -> Result<()> {
    let then: Option<&str> = u.arbitrary()?;
    // Now and then many times over, so that sign-ins too large to carry are reached without
    // inputs of that size.
    let times = if u.ratio(1, 8)? {
        usize::from(u.arbitrary::<u8>()?) + 1
    } else {
        1
    };
    let then = then.map(|then| then.repeat(times));
    let fields = PendingFields {
        provider: u.arbitrary()?,
        id: u.arbitrary()?,
        browser: u.arbitrary()?,
        verifier: u.arbitrary()?,
        nonce: u.arbitrary()?,
        expires_at: u.arbitrary()?,
        then: then.as_deref(),
    };
    // Half the time around the expiry, so that both sides of it are reached.
    let now = if u.arbitrary()? {
        fields
            .expires_at
            .saturating_add_signed(i64::from(u.arbitrary::<i8>()?))
    } else {
        u.arbitrary()?
    };
    let flip = u.arbitrary()?;
    pending_round_trip(&fields, now, flip);
    Ok(())
}

fuzz_target!(|input: &[u8]| {
    let Some((&mode, rest)) = input.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        callback(rest);
    } else {
        let _ = round_trip(&mut Unstructured::new(rest));
    }
});
