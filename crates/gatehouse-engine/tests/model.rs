//! Model-based property test: random sequences of authorize, redeem, refresh, replay, concurrent
//! retry and redemption, revoke, introspect, clock steps and purges, run against the engine and a
//! reference model (`support/engine_model/`), which checks the invariants after every step. A
//! failure shrinks to a short sequence of `Op`s printed with `Debug`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

#[path = "support/engine_model/mod.rs"]
mod engine_model;
mod support;

use engine_model::{
    Ask, Aud, By, CLOCK_STEPS, Coverage, Harness, Op, Proof, RESOURCE_REQUESTS, SCOPE_REQUESTS, Tok,
};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::ValueTree;
use proptest::test_runner::{FileFailurePersistence, TestRunner};
use support::World;

const REGRESSIONS: FileFailurePersistence =
    FileFailurePersistence::WithSource("proptest-regressions");

fn by() -> impl Strategy<Value = By> {
    prop_oneof![
        4 => Just(By::Owner),
        2 => (0..3u8).prop_map(By::Other),
        1 => Just(By::ResourceServer),
    ]
}

/// Refreshes come mostly from the owner: others only ever get refused.
fn refresh_by() -> impl Strategy<Value = By> {
    prop_oneof![
        8 => Just(By::Owner),
        1 => (0..3u8).prop_map(By::Other),
        1 => Just(By::ResourceServer),
    ]
}

fn ask() -> impl Strategy<Value = Ask> {
    prop_oneof![
        4 => Just(Ask::Omitted),
        2 => any::<u8>().prop_map(Ask::Subset),
        1 => Just(Ask::Widened),
    ]
}

fn aud() -> impl Strategy<Value = Aud> {
    prop_oneof![6 => Just(Aud::Grant), 1 => Just(Aud::Mcp), 1 => Just(Aud::Files)]
}

fn proof() -> impl Strategy<Value = Proof> {
    prop_oneof![
        6 => Just(Proof::Correct),
        1 => Just(Proof::WrongVerifier),
        1 => Just(Proof::WrongRedirect),
        1 => Just(Proof::WrongClient),
    ]
}

fn tok() -> impl Strategy<Value = Tok> {
    prop_oneof![
        any::<u8>().prop_map(Tok::Refresh),
        any::<u8>().prop_map(Tok::Access)
    ]
}

fn ops() -> impl Strategy<Value = Vec<Op>> {
    prop::collection::vec(op(), 1..=40)
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0..4u8, select(SCOPE_REQUESTS), select(RESOURCE_REQUESTS))
            .prop_map(|(client, scope, resources)| Op::Authorize { client, scope, resources }),
        4 => (any::<u8>(), proof()).prop_map(|(code, proof)| Op::Redeem { code, proof }),
        5 => (any::<u8>(), ask(), aud(), refresh_by())
            .prop_map(|(token, scope, aud, by)| Op::Refresh { token, scope, aud, by }),
        4 => any::<u8>().prop_map(|token| Op::ReplayRotated { token }),
        1 => (any::<u8>(), proof()).prop_map(|(code, proof)| Op::ReplayCode { code, proof }),
        2 => (any::<u8>(), ask(), aud(), any::<u32>()).prop_map(|(token, scope, aud, schedule)| {
            Op::ConcurrentRetry { token, scope, aud, schedule }
        }),
        1 => (any::<u8>(), any::<u32>())
            .prop_map(|(code, schedule)| Op::ConcurrentRedeem { code, schedule }),
        2 => (tok(), by()).prop_map(|(token, by)| Op::Revoke { token, by }),
        3 => (tok(), by()).prop_map(|(token, by)| Op::Introspect { token, by }),
        4 => prop_oneof![
            // Mostly around the grace period and the access-token lifetime; seldom past the
            // refresh lifetime, which ends every grant.
            12 => select(&CLOCK_STEPS[..CLOCK_STEPS.len() - 3]),
            1 => select(&CLOCK_STEPS[CLOCK_STEPS.len() - 3..]),
        ]
        .prop_map(|secs| Op::Advance { secs }),
        1 => Just(Op::Purge),
    ]
}

proptest! {
    // 256 cases of up to 40 steps take about four seconds in a debug build. A failing case is
    // saved in `tests/model.proptest-regressions` and replayed first on later runs.
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: Some(Box::new(REGRESSIONS)),
        ..ProptestConfig::default()
    })]

    #[test]
    fn model_random_operation_sequences_keep_the_invariants(ops in ops()) {
        Harness::new(World::new()).run(&ops);
    }
}

/// The generator is not vacuous: a fixed sample of its sequences reaches every outcome the model
/// tells apart (rotations, benign retries, reuse revocations, code replays, …).
#[test]
fn model_random_sequences_reach_every_outcome() {
    let mut runner = TestRunner::deterministic();
    let mut total = Coverage::default();
    for _ in 0..128 {
        let ops = ops().new_tree(&mut runner).unwrap().current();
        let mut harness = Harness::new(World::new());
        harness.run(&ops);
        total.add(&harness.coverage);
    }
    assert_eq!(total.missing(), Vec::<&str>::new(), "{total:#?}");
}

// ---- Fixed sequences: each reaches a state the random ones find only sometimes ----

fn authorize(client: u8) -> Op {
    Op::Authorize {
        client,
        scope: "mcp:tools mcp:admin",
        resources: &[],
    }
}

const REDEEM: Op = Op::Redeem {
    code: 0,
    proof: Proof::Correct,
};

fn refresh(token: u8) -> Op {
    Op::Refresh {
        token,
        scope: Ask::Omitted,
        aud: Aud::Grant,
        by: By::Owner,
    }
}

#[test]
fn model_concurrent_retry_in_lockstep_returns_one_successor() {
    // 0b1010…: strict alternation, so both requests read the token as active and the second
    // loses the compare-and-set.
    for schedule in [0, u32::MAX, 0xAAAA_AAAA, 0x5555_5555, 0xCCCC_CCCC] {
        let mut harness = Harness::new(World::new());
        harness.run(&[
            authorize(0),
            REDEEM,
            Op::ConcurrentRetry {
                token: 0,
                scope: Ask::Subset(1),
                aud: Aud::Mcp,
                schedule,
            },
            refresh(1),
            Op::Advance { secs: 11 },
            Op::ReplayRotated { token: 0 },
        ]);
        let (_, families, revoked, refresh_tokens, access_tokens) = harness.counts();
        assert_eq!((families, revoked), (1, 1), "schedule {schedule:#x}");
        assert_eq!(
            refresh_tokens, 3,
            "one successor for the two retries, then one more"
        );
        assert_eq!(access_tokens, 4);
    }
}

#[test]
fn model_concurrent_redemption_of_one_code_revokes_its_family() {
    for schedule in [0, u32::MAX, 0xAAAA_AAAA, 0x5555_5555, 0x0F0F_0F0F] {
        let mut harness = Harness::new(World::new());
        harness.run(&[
            authorize(1),
            Op::ConcurrentRedeem { code: 0, schedule },
            refresh(0),
            Op::Introspect {
                token: Tok::Access(0),
                by: By::Owner,
            },
        ]);
        let (_, families, revoked, _, _) = harness.counts();
        assert_eq!((families, revoked), (1, 1), "schedule {schedule:#x}");
    }
}

#[test]
fn model_retries_within_grace_never_revoke() {
    let mut harness = Harness::new(World::new());
    harness.run(&[
        authorize(0),
        REDEEM,
        refresh(0),
        Op::Advance { secs: 10 },
        Op::ReplayRotated { token: 0 },
        Op::ConcurrentRetry {
            token: 0,
            scope: Ask::Omitted,
            aud: Aud::Grant,
            schedule: 0xAAAA_AAAA,
        },
        refresh(1),
        refresh(2),
        Op::Advance { secs: 600 },
        refresh(3),
    ]);
    let (_, families, revoked, refresh_tokens, _) = harness.counts();
    assert_eq!((families, revoked), (1, 0));
    assert_eq!(refresh_tokens, 5);
}

#[test]
fn model_with_a_grace_of_zero_every_replay_revokes() {
    // Decision 0006: `refresh_reuse_grace_secs = 0` is strict RFC 9700 §4.14.2.
    let mut harness = Harness::new(World::with_refresh_grace(0));
    harness.run(&[
        authorize(0),
        REDEEM,
        refresh(0),
        Op::ReplayRotated { token: 0 },
    ]);
    let (_, families, revoked, _, _) = harness.counts();
    assert_eq!((families, revoked), (1, 1));
}

#[test]
fn model_introspection_needs_a_secret_and_serves_the_resource_server() {
    let mut harness = Harness::new(World::new());
    let introspect = |token, by| Op::Introspect { token, by };
    harness.run(&[
        // Client 3 is the resource server's credential; client 2 is confidential.
        authorize(2),
        Op::Authorize {
            client: 0,
            scope: "files:read",
            resources: &[],
        },
        REDEEM,
        REDEEM,
        introspect(Tok::Access(0), By::Owner),
        introspect(Tok::Access(0), By::ResourceServer),
        introspect(Tok::Access(1), By::Owner),
        introspect(Tok::Access(1), By::ResourceServer),
        introspect(Tok::Refresh(0), By::ResourceServer),
        introspect(Tok::Access(0), By::Other(1)),
    ]);
    let c = harness.coverage;
    assert_eq!(
        (
            c.active_introspections,
            c.inactive_introspections,
            c.refused_introspections
        ),
        (2, 2, 2)
    );
}

#[test]
fn model_code_replay_and_owner_revocation_revoke_families() {
    let mut harness = Harness::new(World::new());
    harness.run(&[
        authorize(0),
        authorize(1),
        authorize(2),
        // Redeem picks among the codes not redeemed yet.
        REDEEM,
        Op::Redeem {
            code: 0,
            proof: Proof::WrongClient,
        },
        REDEEM,
        REDEEM,
        // Another client replaying a used code is refused and revokes nothing; the code's own
        // client replaying it (even with a wrong verifier) revokes the grant.
        Op::ReplayCode {
            code: 2,
            proof: Proof::WrongClient,
        },
        Op::ReplayCode {
            code: 0,
            proof: Proof::WrongVerifier,
        },
        Op::Revoke {
            token: Tok::Refresh(1),
            by: By::Other(0),
        },
        Op::Revoke {
            token: Tok::Refresh(1),
            by: By::Owner,
        },
        Op::Revoke {
            token: Tok::Access(2),
            by: By::Owner,
        },
        Op::Advance { secs: 600 },
        Op::Revoke {
            token: Tok::Access(0),
            by: By::Other(1),
        },
    ]);
    let (codes, families, revoked, _, _) = harness.counts();
    assert_eq!((codes, families, revoked), (3, 3, 2));
}

#[test]
fn model_tokens_die_exactly_at_expiry_and_the_purge_keeps_the_living() {
    let mut harness = Harness::new(World::new());
    harness.run(&[
        authorize(0),
        authorize(0),
        Op::Advance { secs: 599 },
        REDEEM,
        // The second code expires now, exactly 600 s after it was issued.
        Op::Advance { secs: 1 },
        REDEEM,
        Op::Purge,
        // The access token expires exactly 600 s after it was issued.
        Op::Advance { secs: 599 },
        // One second before the refresh token expires, the purge must keep it.
        Op::Advance {
            secs: 2_592_000 - 601,
        },
        Op::Purge,
        refresh(0),
        // The rotated token expires now: a replay is refused as expired, and revokes nothing.
        Op::Advance { secs: 1 },
        Op::ConcurrentRetry {
            token: 0,
            scope: Ask::Omitted,
            aud: Aud::Grant,
            schedule: 0,
        },
        Op::Purge,
        Op::ReplayRotated { token: 0 },
        Op::Revoke {
            token: Tok::Refresh(0),
            by: By::Owner,
        },
        refresh(0),
    ]);
    let (codes, families, revoked, refresh_tokens, _) = harness.counts();
    assert_eq!((codes, families, revoked, refresh_tokens), (2, 1, 0, 3));
    assert_eq!(harness.coverage.purges, 3);
}
