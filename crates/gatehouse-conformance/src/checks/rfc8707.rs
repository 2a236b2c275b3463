//! RFC 8707: resource indicators. Tokens are bound to the resource they were requested for.

use crate::context::{Context, jwt_part};
use crate::report::{Report, ensure};

checks! {
    AUD_IS_RESOURCE = "rfc8707-2-aud-is-resource", "RFC 8707 §2, MCP 2025-11-25 authorization", Must,
        "an access token requested with resource=R has `aud` equal to (or containing) R";
    INVALID_TARGET_AUTHORIZE = "rfc8707-2-invalid-target-authorize", "RFC 8707 §2", Must,
        "an authorization request for an unknown resource gets error=invalid_target at the redirect URI, and no code";
    INVALID_TARGET_TOKEN = "rfc8707-2-invalid-target-refresh", "RFC 8707 §2.2", Must,
        "a refresh request for a resource the grant does not cover gets 400 invalid_target";
    TOKEN_WORKS = "rfc8707-2-token-accepted-by-resource", "RFC 8707 §2, RFC 6750 §2.1", Must,
        "the access token for the resource is accepted there (MCP initialize answers 200)";
}

/// Runs the RFC 8707 checks.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    let client = match ctx.client() {
        Ok(client) => client,
        Err(outcome) => {
            report.skip_all(CHECKS, &format!("{outcome:?}"));
            return;
        }
    };
    let tokens = ctx.tokens(&client, None).await;
    report.record(
        &AUD_IS_RESOURCE,
        tokens.clone().and_then(|t| {
            let claims = jwt_part(&t.access, 1).ok_or_else(|| {
                t.response
                    .fail("the access token is not a JWT; cannot read aud")
            })?;
            let aud = claims.get("aud");
            let ok = match aud {
                Some(serde_json::Value::String(s)) => *s == ctx.resource,
                Some(serde_json::Value::Array(a)) => {
                    a.iter().any(|v| v.as_str() == Some(&ctx.resource))
                }
                _ => false,
            };
            ensure(ok, || {
                format!(
                    "aud is {aud:?}, expected {}: {}",
                    ctx.resource,
                    t.response.summary()
                )
            })?;
            Ok(t.response.pass())
        }),
    );
    report.record(
        &INVALID_TARGET_AUTHORIZE,
        async {
            let pkce = crate::context::Pkce::new()?;
            let mut params: Vec<(&str, &str)> = ctx
                .authorization_params(&client, &pkce, "st", None)
                .into_iter()
                .filter(|(n, _)| *n != "resource")
                .collect();
            params.push(("resource", "https://unknown-resource.example/mcp"));
            let ex = ctx.authorize(&params).await?;
            let got = crate::context::client_redirect(&ex)
                .ok_or_else(|| ex.fail("expected an error response to the redirect URI"))?;
            ensure(
                crate::context::param(&got, "error").as_deref() == Some("invalid_target")
                    && crate::context::param(&got, "code").is_none(),
                || format!("expected error=invalid_target: {}", ex.summary()),
            )?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &INVALID_TARGET_TOKEN,
        async {
            let t = tokens.clone()?;
            let refresh = t
                .refresh
                .ok_or_else(|| crate::report::skip("no refresh token issued"))?;
            let ex = ctx
                .token_request(
                    &client,
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", &refresh),
                        ("resource", "https://unknown-resource.example/mcp"),
                    ],
                )
                .await?;
            ex.oauth_error(400, "invalid_target")?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &TOKEN_WORKS,
        async {
            let t = tokens?;
            let ex = ctx.mcp_initialize(Some(&t.access)).await?;
            ex.status_is(200)?;
            Ok(ex.pass())
        }
        .await,
    );
}
