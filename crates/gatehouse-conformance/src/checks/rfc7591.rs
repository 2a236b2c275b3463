//! RFC 7591: dynamic client registration. Registers the public client (and, when the server
//! allows it, a confidential one) that the later checks use.

use serde_json::{Value, json};

use crate::context::{Context, REDIRECT_URI, public_metadata};
use crate::http::Req;
use crate::report::{Outcome, Report, Step, ensure, skip};

checks! {
    CREATED = "rfc7591-3.2.1-registration-created", "RFC 7591 §3.2.1", Must,
        "registering a public client (token_endpoint_auth_method none) answers 201 with a client_id, as JSON";
    ECHOED = "rfc7591-3.2.1-metadata-echoed", "RFC 7591 §3.2.1", Must,
        "the response contains the registered metadata: redirect_uris, client_name, token_endpoint_auth_method";
    NO_STORE = "rfc7591-3.2.1-no-store", "RFC 7591 §3.2.1, RFC 6749 §5.1", Should,
        "the registration response, which carries credentials, has Cache-Control: no-store";
    CONFIDENTIAL = "rfc7591-3.2.1-client-secret-issued", "RFC 7591 §3.2.1", Must,
        "a client_secret_basic registration gets a client_secret and client_secret_expires_at";
    HTTP_REDIRECT = "rfc7591-3.2.2-http-redirect-refused", "RFC 7591 §3.2.2, OAuth 2.1 §2.3.1", Must,
        "a plain-http redirect URI on a non-loopback host is refused with 400 invalid_redirect_uri";
    FRAGMENT_REDIRECT = "rfc7591-3.2.2-fragment-redirect-refused", "RFC 7591 §3.2.2, RFC 6749 §3.1.2", Must,
        "a redirect URI with a fragment is refused with 400 invalid_redirect_uri";
    NO_REDIRECT = "rfc7591-3.2.2-missing-redirect-uris-refused", "RFC 7591 §2, §3.2.2", Must,
        "an authorization_code client without redirect_uris is refused with 400 invalid_redirect_uri or invalid_client_metadata";
    IMPLICIT_GRANT = "rfc7591-3.2.2-implicit-grant-refused", "RFC 7591 §3.2.2, OAuth 2.1 §10.1", Should,
        "grant_types [implicit] with response_types [token] (removed by OAuth 2.1) is refused with 400 invalid_client_metadata";
    INCONSISTENT = "rfc7591-2.1-inconsistent-grant-response-types", "RFC 7591 §2.1", Should,
        "grant_types [authorization_code] with response_types [token] is refused with 400 invalid_client_metadata";
    BAD_AUTH_METHOD = "rfc7591-3.2.2-unknown-auth-method-refused", "RFC 7591 §3.2.2", Must,
        "an unknown token_endpoint_auth_method is refused with 400 invalid_client_metadata";
    NOT_JSON = "rfc7591-3.2.2-malformed-body", "RFC 7591 §3.2.2", Must,
        "a body that is not a JSON object gets 400 with a JSON error (invalid_client_metadata)";
}

/// Runs the RFC 7591 checks; registers `ctx.client` and `ctx.confidential`.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    if let Err(outcome) = ctx.endpoint("registration_endpoint") {
        report.skip_all(
            CHECKS,
            "the server does not advertise registration_endpoint",
        );
        let _ = outcome;
        return;
    }
    let metadata = public_metadata("gatehouse-conformance public client");
    match ctx.register(&metadata).await {
        Ok((ex, client)) => {
            report.record(
                &CREATED,
                ensure(ex.is_json_type(), || format!("not JSON: {}", ex.summary()))
                    .map(|()| ex.pass()),
            );
            let body = ex.json_object().unwrap_or_default();
            let echoed = body.get("redirect_uris") == metadata.get("redirect_uris")
                && body.get("client_name") == metadata.get("client_name")
                && body.get("token_endpoint_auth_method") == Some(&json!("none"));
            report.record(
                &ECHOED,
                ensure(echoed, || format!("metadata not echoed: {}", ex.summary()))
                    .map(|()| ex.pass()),
            );
            report.record(
                &NO_STORE,
                ensure(ex.no_store(), || {
                    format!("no Cache-Control: no-store: {}", ex.summary())
                })
                .map(|()| ex.pass()),
            );
            ctx.client = Some(client);
        }
        Err(outcome) => {
            report.record(&CREATED, Err(outcome));
        }
    }
    report.record(&CONFIDENTIAL, confidential(ctx).await);

    let refused = [
        (
            &HTTP_REDIRECT,
            json!({"redirect_uris": ["http://client.example/callback"], "token_endpoint_auth_method": "none"}),
            &["invalid_redirect_uri"][..],
        ),
        (
            &FRAGMENT_REDIRECT,
            json!({"redirect_uris": ["https://client.example/callback#frag"], "token_endpoint_auth_method": "none"}),
            &["invalid_redirect_uri"][..],
        ),
        (
            &NO_REDIRECT,
            json!({"token_endpoint_auth_method": "none", "grant_types": ["authorization_code"]}),
            &["invalid_redirect_uri", "invalid_client_metadata"][..],
        ),
        (
            &IMPLICIT_GRANT,
            json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none", "grant_types": ["implicit"], "response_types": ["token"]}),
            &["invalid_client_metadata"][..],
        ),
        (
            &INCONSISTENT,
            json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "none", "grant_types": ["authorization_code"], "response_types": ["token"]}),
            &["invalid_client_metadata"][..],
        ),
        (
            &BAD_AUTH_METHOD,
            json!({"redirect_uris": [REDIRECT_URI], "token_endpoint_auth_method": "gatehouse_conformance_bogus"}),
            &["invalid_client_metadata"][..],
        ),
    ];
    for (check, metadata, codes) in refused {
        report.record(check, refusal(ctx, &metadata, codes).await);
    }
    report.record(&NOT_JSON, not_json(ctx).await);
}

async fn confidential(ctx: &mut Context) -> Step<Outcome> {
    let (ex, client) = ctx
        .register(&json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "client_name": "gatehouse-conformance confidential client",
        }))
        .await?;
    let body = ex.json_object()?;
    ensure(
        client.secret.is_some()
            && body
                .get("client_secret_expires_at")
                .is_some_and(Value::is_u64),
        || {
            format!(
                "no client_secret or client_secret_expires_at: {}",
                ex.summary()
            )
        },
    )?;
    ctx.confidential = Some(client);
    Ok(ex.pass())
}

async fn refusal(ctx: &Context, metadata: &Value, codes: &[&str]) -> Step<Outcome> {
    let ex = ctx.register_raw(metadata).await?;
    let error = ex.json_str("error");
    ensure(
        ex.status == 400 && error.as_deref().is_some_and(|e| codes.contains(&e)),
        || format!("expected 400 with error in {codes:?}: {}", ex.summary()),
    )?;
    Ok(ex.pass())
}

async fn not_json(ctx: &Context) -> Step<Outcome> {
    let endpoint = ctx
        .endpoint("registration_endpoint")
        .map_err(|_| skip("no registration endpoint"))?;
    let ex = ctx
        .http
        .send(Req::json(
            "POST",
            &endpoint,
            &json!(["not", "an", "object"]),
        ))
        .await?;
    ex.oauth_error(400, "invalid_client_metadata")?;
    Ok(ex.pass())
}
