//! RFC 7009: token revocation.

use crate::context::Context;
use crate::report::{Report, ensure};

checks! {
    REVOKE_REFRESH = "rfc7009-2.2-revoke-refresh-token", "RFC 7009 §2.2", Must,
        "revoking the client's own refresh token answers 200";
    REVOKED_UNUSABLE = "rfc7009-2.1-revoked-refresh-token-unusable", "RFC 7009 §2.1", Must,
        "the revoked refresh token then gets 400 invalid_grant";
    CASCADE = "rfc7009-2.1-refresh-revocation-cascades", "RFC 7009 §2.1", Should,
        "revoking a refresh token also invalidates the access tokens of the same grant (the resource answers 401)";
    REVOKE_ACCESS = "rfc7009-2-revoked-access-token-refused", "RFC 7009 §2", Should,
        "revoking an access token answers 200 and the resource then refuses it (401)";
    UNKNOWN_TOKEN = "rfc7009-2.2-unknown-token-200", "RFC 7009 §2.2", Must,
        "revoking an unknown token answers 200";
    MISSING_TOKEN = "rfc7009-2.2.1-missing-token", "RFC 7009 §2.2.1, RFC 6749 §5.2", Must,
        "a revocation request without `token` gets 400 invalid_request";
    OTHER_CLIENT = "rfc7009-2.1-other-clients-token-untouched", "RFC 7009 §2.1", Must,
        "client B asking to revoke client A's refresh token does not revoke it (A can still refresh)";
}

/// Runs the RFC 7009 checks.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    let client = match (ctx.client(), ctx.endpoint("revocation_endpoint")) {
        (Ok(client), Ok(_)) => client,
        (Err(o), _) | (_, Err(o)) => {
            report.skip_all(CHECKS, &format!("{o:?}"));
            return;
        }
    };
    let flow = ctx.tokens(&client, None).await;
    let revoked = async {
        let t = flow.clone()?;
        let refresh = t
            .refresh
            .clone()
            .ok_or_else(|| crate::report::skip("no refresh token issued"))?;
        let ex = ctx
            .token_management("revocation_endpoint", &client, &refresh)
            .await?;
        ex.status_is(200)?;
        Ok((ex, t, refresh))
    }
    .await;
    report.record(
        &REVOKE_REFRESH,
        revoked
            .as_ref()
            .map(|(ex, ..)| ex.pass())
            .map_err(Clone::clone),
    );
    report.record(
        &REVOKED_UNUSABLE,
        async {
            let (_, _, refresh) = revoked.clone()?;
            let ex = ctx.refresh(&client, &refresh).await?;
            ex.oauth_error(400, "invalid_grant")?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &CASCADE,
        async {
            let (_, t, _) = revoked?;
            let ex = ctx.mcp_initialize(Some(&t.access)).await?;
            ex.status_is(401)?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &REVOKE_ACCESS,
        async {
            let t = ctx.tokens(&client, None).await?;
            let before = ctx.mcp_initialize(Some(&t.access)).await?;
            before.status_is(200)?;
            let ex = ctx
                .token_management("revocation_endpoint", &client, &t.access)
                .await?;
            ex.status_is(200)?;
            let after = ctx.mcp_initialize(Some(&t.access)).await?;
            ensure(after.status == 401, || {
                format!("the revoked access token still works: {}", after.summary())
            })?;
            Ok(after.pass())
        }
        .await,
    );
    report.record(
        &UNKNOWN_TOKEN,
        async {
            let ex = ctx
                .token_management(
                    "revocation_endpoint",
                    &client,
                    "gatehouse-conformance-unknown-token",
                )
                .await?;
            ex.status_is(200)?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &MISSING_TOKEN,
        async {
            let endpoint = ctx.endpoint("revocation_endpoint")?;
            let ex = ctx
                .http
                .send(crate::context::client_auth(&client, &endpoint, &[]))
                .await?;
            ex.oauth_error(400, "invalid_request")?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &OTHER_CLIENT,
        async {
            let t = ctx.tokens(&client, None).await?;
            let refresh = t
                .refresh
                .ok_or_else(|| crate::report::skip("no refresh token issued"))?;
            let other = ctx
                .register_public("gatehouse-conformance revoking client")
                .await?;
            let attempt = ctx
                .token_management("revocation_endpoint", &other, &refresh)
                .await?;
            let still = ctx.refresh(&client, &refresh).await?;
            ensure(still.status == 200, || {
                format!(
                    "after {}, the owner's refresh failed: {}",
                    attempt.summary(),
                    still.summary()
                )
            })?;
            Ok(still.pass())
        }
        .await,
    );
}
