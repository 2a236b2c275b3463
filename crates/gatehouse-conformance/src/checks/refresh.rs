//! The refresh token grant (OAuth 2.1 §4.3) with rotation and reuse detection (RFC 9700
//! §4.14.2).
//!
//! Reuse is provoked so that it is reuse under any grace window: R0 is refreshed to R1, R1 to
//! R2, and only then is R0 replayed. A server with a retry grace (Gatehouse's
//! `refresh_reuse_grace_secs`) returns the same successor to a replay only while that successor
//! is unused; R1 has been used, so the replay of R0 is reuse at once.

use crate::context::{Client, Context, tokens_of};
use crate::report::{Outcome, Report, Step, ensure, skip};

checks! {
    REFRESH = "oauth21-4.3-refresh-grant", "OAuth 2.1 §4.3", Must,
        "a refresh token issued with the code redeems at the token endpoint for a new access token (200)";
    ROTATION = "rfc9700-4.14.2-rotation", "RFC 9700 §4.14.2, OAuth 2.1 §4.3.1", Must,
        "refreshing a public client's token returns a new refresh token (rotation)";
    REPLAY_REFUSED = "rfc9700-4.14.2-replay-refused", "RFC 9700 §4.14.2", Must,
        "R0→R1, R1→R2, then R0 again gets 400 invalid_grant (reuse after the successor was used: no grace window applies)";
    FAMILY_REVOKED = "rfc9700-4.14.2-replay-revokes-family", "RFC 9700 §4.14.2", Must,
        "after that reuse, the newest refresh token R2 gets invalid_grant too (the family is revoked)";
    ACCESS_REVOKED = "rfc9700-4.14.2-replay-revokes-access-tokens", "RFC 9700 §4.14.2, OAuth 2.1 §4.3.1", Bcp,
        "after that reuse, the access token issued with R2 is refused by the resource (401)";
    SCOPE_WIDENING = "rfc6749-6-scope-widening-refused", "RFC 6749 §6, OAuth 2.1 §4.3.1", Must,
        "a refresh asking for a scope not originally granted (mcp:admin) gets 400 invalid_scope";
    CLIENT_BOUND = "oauth21-4.3.1-refresh-bound-to-client", "OAuth 2.1 §4.3.1", Must,
        "another client presenting the refresh token gets 400 invalid_grant";
    UNKNOWN = "rfc6749-5.2-unknown-refresh-token", "RFC 6749 §5.2", Must,
        "an unknown refresh token gets 400 invalid_grant";
}

/// Runs the refresh checks.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    let client = match ctx.client() {
        Ok(client) => client,
        Err(outcome) => {
            report.skip_all(CHECKS, &format!("{outcome:?}"));
            return;
        }
    };
    let r0 = fresh(ctx, &client, None).await;
    let first = match &r0 {
        Ok(r0) => ctx.refresh(&client, r0).await,
        Err(o) => Err(o.clone()),
    };
    report.record(
        &REFRESH,
        first
            .clone()
            .and_then(|ex| tokens_of(ex).map(|t| t.response.pass())),
    );
    let r1 = first.clone().and_then(|ex| {
        let t = tokens_of(ex)?;
        let new = t
            .refresh
            .clone()
            .ok_or_else(|| t.response.fail("no new refresh_token"))?;
        ensure(Some(&new) != r0.as_ref().ok(), || {
            format!("the same refresh token came back: {}", t.response.summary())
        })?;
        Ok((t.response.pass(), new))
    });
    report.record(&ROTATION, r1.clone().map(|(o, _)| o));
    match (r0, r1) {
        (Ok(r0), Ok((_, r1))) => reuse(ctx, report, &client, &r0, &r1).await,
        _ => report.skip_all(
            &[&REPLAY_REFUSED, &FAMILY_REVOKED, &ACCESS_REVOKED],
            "no rotated refresh token",
        ),
    }
    report.record(
        &SCOPE_WIDENING,
        async {
            let r = fresh(ctx, &client, Some("mcp:tools")).await?;
            let ex = ctx
                .token_request(
                    &client,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &r),
                        ("scope", "mcp:tools mcp:admin"),
                    ],
                )
                .await?;
            ex.oauth_error(400, "invalid_scope")?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &CLIENT_BOUND,
        async {
            let r = fresh(ctx, &client, None).await?;
            let other = ctx
                .register_public("gatehouse-conformance other client")
                .await?;
            let ex = ctx.refresh(&other, &r).await?;
            ex.oauth_error(400, "invalid_grant")?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &UNKNOWN,
        async {
            let ex = ctx
                .refresh(&client, "gatehouse-conformance-not-a-refresh-token")
                .await?;
            ex.oauth_error(400, "invalid_grant")?;
            Ok(ex.pass())
        }
        .await,
    );
}

/// The refresh token of a new authorization.
pub(crate) async fn fresh(ctx: &Context, client: &Client, scope: Option<&str>) -> Step<String> {
    let t = ctx.tokens(client, scope).await?;
    t.refresh
        .ok_or_else(|| skip("the server issued no refresh token"))
}

async fn reuse(ctx: &Context, report: &mut Report, client: &Client, r0: &str, r1: &str) {
    let second = ctx.refresh(client, r1).await.and_then(tokens_of);
    let (r2, a2) = match second {
        Ok(t) => match t.refresh.clone() {
            Some(r2) => (r2, t.access),
            None => {
                report.skip_all(
                    &[&REPLAY_REFUSED, &FAMILY_REVOKED, &ACCESS_REVOKED],
                    "no refresh token from the second rotation",
                );
                return;
            }
        },
        Err(o) => {
            let reason = format!("the second rotation failed: {o:?}");
            report.skip_all(
                &[&REPLAY_REFUSED, &FAMILY_REVOKED, &ACCESS_REVOKED],
                &reason,
            );
            return;
        }
    };
    let replay = ctx.refresh(client, r0).await;
    let refused = replay
        .clone()
        .and_then(|ex| ex.oauth_error(400, "invalid_grant").map(|()| ex.pass()));
    let was_refused = refused.is_ok();
    report.record(&REPLAY_REFUSED, refused);
    if !was_refused {
        report.skip_all(
            &[&FAMILY_REVOKED, &ACCESS_REVOKED],
            "the replay was not refused",
        );
        return;
    }
    report.record(
        &FAMILY_REVOKED,
        async {
            let ex = ctx.refresh(client, &r2).await?;
            ex.oauth_error(400, "invalid_grant")?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &ACCESS_REVOKED,
        async {
            let ex = ctx.mcp_initialize(Some(&a2)).await?;
            ex.status_is(401)?;
            Ok::<Outcome, Outcome>(ex.pass())
        }
        .await,
    );
}
