//! RFC 9728: protected resource metadata, and the 401 challenge that points to it (MCP
//! 2025-11-25, "Protected Resource Metadata Discovery").

use serde_json::Value;

use super::rfc8414::well_known;
use crate::context::{Context, bearer_challenge};
use crate::report::{Outcome, Report, Step, ensure, fail};

checks! {
    WELL_KNOWN = "rfc9728-3.1-well-known-url", "RFC 9728 §3.1", Must,
        "resource metadata is served at /.well-known/oauth-protected-resource inserted before the resource's path, as JSON";
    RESOURCE_MATCHES = "rfc9728-3.3-resource-matches", "RFC 9728 §3.3", Must,
        "the `resource` member is identical to the resource the document was fetched for";
    AUTHORIZATION_SERVERS = "rfc9728-2-authorization-servers", "RFC 9728 §2, MCP 2025-11-25 authorization", Must,
        "authorization_servers lists the issuer";
    CHALLENGE = "rfc9728-5.1-www-authenticate-bearer", "RFC 9728 §5.1, RFC 6750 §3", Must,
        "a request to the resource without a token gets 401 with a WWW-Authenticate Bearer challenge";
    POINTER = "rfc9728-5.1-resource-metadata-pointer", "RFC 9728 §5.1", Must,
        "the challenge's resource_metadata names a document whose `resource` is this resource";
    NO_ERROR_WITHOUT_CREDENTIALS = "rfc6750-3.1-no-error-without-credentials", "RFC 6750 §3.1", Should,
        "the challenge to a request with no credentials carries no error code";
    POST_CHALLENGE = "rfc9728-5.1-mcp-post-without-token", "RFC 9728 §5.1, MCP 2025-11-25 authorization", Must,
        "an MCP initialize POST without a token gets 401 with the same Bearer challenge";
}

/// Runs the RFC 9728 checks.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    report.record(
        &WELL_KNOWN,
        document(ctx, &ctx.resource.clone()).await.map(|(o, _)| o),
    );
    match document(ctx, &ctx.resource.clone()).await {
        Ok((_, (ex, doc))) => {
            report.record(
                &RESOURCE_MATCHES,
                ensure(
                    doc.get("resource").and_then(Value::as_str) == Some(&ctx.resource),
                    || format!("resource is not {:?}: {}", ctx.resource, ex.summary()),
                )
                .map(|()| ex.pass()),
            );
            let listed = doc
                .get("authorization_servers")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|s| s.as_str() == Some(&ctx.issuer)));
            report.record(
                &AUTHORIZATION_SERVERS,
                ensure(listed, || {
                    format!("{} not listed: {}", ctx.issuer, ex.summary())
                })
                .map(|()| ex.pass()),
            );
        }
        Err(outcome) => {
            report.record(&RESOURCE_MATCHES, Err(outcome.clone()));
            report.record(&AUTHORIZATION_SERVERS, Err(outcome));
        }
    }
    let unauthenticated = ctx.http.get(&ctx.resource).await;
    report.record(
        &CHALLENGE,
        unauthenticated.clone().and_then(|ex| {
            ex.status_is(401)?;
            bearer_challenge(&ex).ok_or_else(|| ex.fail("no WWW-Authenticate: Bearer"))?;
            Ok(ex.pass())
        }),
    );
    let pointer = match &unauthenticated {
        Ok(ex) => match bearer_challenge(ex)
            .and_then(|p| p.into_iter().find(|(n, _)| n == "resource_metadata"))
        {
            Some((_, url)) => match ctx.http.get(&url).await {
                Ok(doc) => {
                    let resource = doc.json_str("resource");
                    ensure(
                        doc.status == 200 && resource.as_deref() == Some(&ctx.resource),
                        || {
                            format!(
                                "{} points to a document for {resource:?}: {}",
                                ex.summary(),
                                doc.summary()
                            )
                        },
                    )
                    .map(|()| doc.pass())
                }
                Err(outcome) => Err(outcome),
            },
            None => Err(ex.fail("no resource_metadata parameter in the challenge")),
        },
        Err(outcome) => Err(outcome.clone()),
    };
    report.record(&POINTER, pointer);
    report.record(
        &NO_ERROR_WITHOUT_CREDENTIALS,
        unauthenticated.and_then(|ex| {
            let params = bearer_challenge(&ex).ok_or_else(|| ex.fail("no Bearer challenge"))?;
            ensure(!params.iter().any(|(n, _)| n == "error"), || {
                format!("error code without credentials: {}", ex.summary())
            })?;
            Ok(ex.pass())
        }),
    );
    let post = ctx.mcp_initialize(None).await;
    report.record(
        &POST_CHALLENGE,
        post.and_then(|ex| {
            ex.status_is(401)?;
            let params = bearer_challenge(&ex).ok_or_else(|| ex.fail("no Bearer challenge"))?;
            ensure(params.iter().any(|(n, _)| n == "resource_metadata"), || {
                format!("no resource_metadata: {}", ex.summary())
            })?;
            Ok(ex.pass())
        }),
    );
}

type Document = (crate::http::Exchange, serde_json::Map<String, Value>);

async fn document(ctx: &Context, resource: &str) -> Step<(Outcome, Document)> {
    let url = well_known(resource, "oauth-protected-resource")
        .ok_or_else(|| fail(format!("the resource {resource} is not a URL")))?;
    let ex = ctx.http.get(&url).await?;
    ex.status_is(200)?;
    ensure(ex.is_json_type(), || {
        format!("not application/json: {}", ex.summary())
    })?;
    let doc = ex.json_object()?;
    Ok((ex.pass(), (ex, doc)))
}
