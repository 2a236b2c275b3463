//! The engine driven by arbitrary operation sequences: authorize, redeem (right or wrong
//! verifier, redirect URI or client), refresh (narrowed, widened or retargeted), replays,
//! concurrent retries and redemptions with an input-chosen interleaving, revoke, introspect and
//! clock steps and the store's purge, checked after every step against the reference model of
//! `crates/gatehouse-engine/tests/support/engine_model/` (the one `tests/model.rs` uses, in its
//! light mode, which verifies fewer signatures so that more inputs run per second). Any
//! panic is a bug: the engine and the model disagree, or an invariant broke (a code redeemed
//! twice, a token accepted after expiry or revocation, a family revoked without reuse, a scope
//! widened).
//!
//! Input: operations decoded with `arbitrary::Unstructured`, one byte choosing the operation
//! (`byte % 11`) and the following ones its fields (indices are taken modulo what exists), at
//! most `MAX_OPS` of them. The signing key is constant and the random source seeded, so an input
//! always replays the same run.
#![no_main]

use std::sync::OnceLock;

use gatehouse_jose::{Jwk, SigningKey};
use libfuzzer_sys::arbitrary::{Result, Unstructured};
use libfuzzer_sys::fuzz_target;

#[path = "shared/keys.rs"]
mod test_keys;

#[path = "../../crates/gatehouse-engine/tests/support/mod.rs"]
mod support;

#[path = "../../crates/gatehouse-engine/tests/support/engine_model/mod.rs"]
mod engine_model;

use engine_model::{
    Ask, Aud, By, CLOCK_STEPS, Harness, Op, Proof, RESOURCE_REQUESTS, SCOPE_REQUESTS, Tok,
};
use support::World;

/// Long enough for rotation chains, replays after them and expiry; short enough to stay fast.
const MAX_OPS: usize = 48;

/// The constant key, Ed25519 rather than the server's default ES256: signatures dominate a run
/// (P-256 took 55% of it under coverage instrumentation, `perf`, 2026-12-06), the engine's logic
/// does not depend on the algorithm, and `tests/model.rs` runs the same model with ES256.
/// `SigningKey` is not `Clone` and the world owns its key, so each input rebuilds it from the
/// parsed JWK: one hash and scalar multiplication, less than a token costs.
fn key() -> SigningKey {
    static JWK: OnceLock<Jwk> = OnceLock::new();
    let jwk =
        JWK.get_or_init(|| Jwk::from_json(test_keys::ED25519.as_bytes()).expect("constant JWK"));
    SigningKey::from_jwk(jwk).expect("constant key")
}

fn by(u: &mut Unstructured<'_>) -> Result<By> {
    Ok(match u.int_in_range(0..=5u8)? {
        0..=2 => By::Owner,
        k @ 3..=4 => By::Other(k),
        _ => By::ResourceServer,
    })
}

fn ask(u: &mut Unstructured<'_>) -> Result<Ask> {
    Ok(match u.int_in_range(0..=3u8)? {
        0 | 1 => Ask::Omitted,
        2 => Ask::Subset(u.arbitrary()?),
        _ => Ask::Widened,
    })
}

fn aud(u: &mut Unstructured<'_>) -> Result<Aud> {
    Ok(*u.choose(&[Aud::Grant, Aud::Grant, Aud::Mcp, Aud::Files])?)
}

fn proof(u: &mut Unstructured<'_>) -> Result<Proof> {
    Ok(*u.choose(&[
        Proof::Correct,
        Proof::Correct,
        Proof::Correct,
        Proof::WrongVerifier,
        Proof::WrongRedirect,
        Proof::WrongClient,
    ])?)
}

fn tok(u: &mut Unstructured<'_>) -> Result<Tok> {
    let index = u.arbitrary()?;
    Ok(if u.arbitrary()? {
        Tok::Access(index)
    } else {
        Tok::Refresh(index)
    })
}

fn op(u: &mut Unstructured<'_>) -> Result<Op> {
    Ok(match u.int_in_range(0..=10u8)? {
        0 => Op::Authorize {
            client: u.arbitrary()?,
            scope: *u.choose(SCOPE_REQUESTS)?,
            resources: *u.choose(RESOURCE_REQUESTS)?,
        },
        1 => Op::Redeem {
            code: u.arbitrary()?,
            proof: proof(u)?,
        },
        2 => Op::Refresh {
            token: u.arbitrary()?,
            scope: ask(u)?,
            aud: aud(u)?,
            by: by(u)?,
        },
        3 => Op::ReplayRotated {
            token: u.arbitrary()?,
        },
        4 => Op::ReplayCode {
            code: u.arbitrary()?,
            proof: proof(u)?,
        },
        5 => Op::ConcurrentRetry {
            token: u.arbitrary()?,
            scope: ask(u)?,
            aud: aud(u)?,
            schedule: u.arbitrary()?,
        },
        6 => Op::ConcurrentRedeem {
            code: u.arbitrary()?,
            schedule: u.arbitrary()?,
        },
        7 => Op::Revoke {
            token: tok(u)?,
            by: by(u)?,
        },
        8 => Op::Introspect {
            token: tok(u)?,
            by: by(u)?,
        },
        9 => Op::Advance {
            secs: *u.choose(CLOCK_STEPS)?,
        },
        _ => Op::Purge,
    })
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let mut ops = Vec::new();
    while ops.len() < MAX_OPS && !u.is_empty() {
        match op(&mut u) {
            Ok(op) => ops.push(op),
            Err(_) => break,
        }
    }
    Harness::new(World::with_key(key())).light().run(&ops);
});
