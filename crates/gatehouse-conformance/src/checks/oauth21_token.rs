//! The token endpoint: OAuth 2.1 §3.2 and §4.1.3 (code redemption with PKCE), and error
//! responses per RFC 6749 §5.2.

use crate::context::{Client, Context, Pkce, REDIRECT_URI, client_auth, tokens_of};
use crate::http::Req;
use crate::report::{Outcome, Report, Step, ensure};

checks! {
    EXCHANGE = "oauth21-4.1.3-code-exchange", "OAuth 2.1 §4.1.3", Must,
        "a code redeemed with its S256 verifier, redirect_uri and resource answers 200 with an access_token";
    JSON = "oauth21-3.2.3-json-response", "OAuth 2.1 §3.2.3", Must,
        "the token response has Content-Type application/json";
    TOKEN_TYPE = "oauth21-3.2.3-token-type-bearer", "OAuth 2.1 §3.2.3", Must,
        "token_type is Bearer (compared case-insensitively)";
    EXPIRES_IN = "oauth21-3.2.3-expires-in", "OAuth 2.1 §3.2.3", Should,
        "expires_in is a positive integer";
    NO_STORE = "oauth21-3.2.3-no-store", "OAuth 2.1 §3.2.3", Must,
        "the token response has Cache-Control: no-store";
    SINGLE_USE = "oauth21-4.1.3-code-single-use", "OAuth 2.1 §4.1.3", Must,
        "a code redeemed a second time gets 400 invalid_grant";
    REPLAY_REVOKES = "oauth21-4.1.3-code-replay-revokes-tokens", "OAuth 2.1 §4.1.3, RFC 9700 §4.2.4", Should,
        "after a code replay, the tokens of the first redemption stop working (the resource answers 401, the refresh token gets invalid_grant)";
    WRONG_VERIFIER = "rfc7636-4.6-wrong-verifier", "RFC 7636 §4.6", Must,
        "a code redeemed with a wrong code_verifier gets 400 invalid_grant";
    REDIRECT_BOUND = "oauth21-4.1.3-code-bound-to-redirect-uri", "OAuth 2.1 §4.1.3", Must,
        "a code redeemed with a different redirect_uri gets 400 invalid_grant";
    UNKNOWN_CODE = "rfc6749-5.2-unknown-code", "RFC 6749 §5.2", Must,
        "an unknown code gets 400 invalid_grant as a JSON error";
    UNSUPPORTED_GRANT = "rfc6749-5.2-unsupported-grant-type", "RFC 6749 §5.2, OAuth 2.1 §10.2", Must,
        "grant_type=password gets 400 unsupported_grant_type";
    MISSING_GRANT = "rfc6749-5.2-missing-grant-type", "RFC 6749 §5.2", Must,
        "a token request without grant_type gets 400 invalid_request";
    UNKNOWN_CLIENT = "rfc6749-5.2-unknown-client", "RFC 6749 §5.2", Must,
        "an unknown client_id gets invalid_client (400 or 401)";
    CONFIDENTIAL_EXCHANGE = "oauth21-4.1.3-confidential-client", "OAuth 2.1 §4.1.3, §2.4.1", Must,
        "a confidential client redeems its code with client_secret_basic (200)";
    WRONG_SECRET = "rfc6749-5.2-invalid-client-basic-401", "RFC 6749 §5.2", Must,
        "a wrong client secret in the Authorization header gets 401 invalid_client with a WWW-Authenticate header";
    CONFIDENTIAL_UNAUTHENTICATED = "oauth21-4.1.3-confidential-client-must-authenticate", "OAuth 2.1 §4.1.3, §3.2.1", Must,
        "a confidential client's code redeemed with only client_id (no secret) gets invalid_client";
}

/// Runs the token endpoint checks.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    let client = match ctx.client() {
        Ok(client) => client,
        Err(outcome) => {
            report.skip_all(CHECKS, &format!("{outcome:?}"));
            return;
        }
    };
    let first = first_redemption(ctx, &client).await;
    match &first {
        Ok((ex, _, _)) => {
            report.record(&EXCHANGE, Ok(ex.pass()));
            report.record(
                &JSON,
                ensure(ex.is_json_type(), || format!("not JSON: {}", ex.summary()))
                    .map(|()| ex.pass()),
            );
            let token_type = ex.json_str("token_type");
            report.record(
                &TOKEN_TYPE,
                ensure(
                    token_type.is_some_and(|t| t.eq_ignore_ascii_case("bearer")),
                    || format!("token_type is not Bearer: {}", ex.summary()),
                )
                .map(|()| ex.pass()),
            );
            let expires = ex
                .json_object()
                .ok()
                .and_then(|o| o.get("expires_in").and_then(serde_json::Value::as_u64));
            report.record(
                &EXPIRES_IN,
                ensure(expires.is_some_and(|e| e > 0), || {
                    format!(
                        "expires_in missing or not a positive integer: {}",
                        ex.summary()
                    )
                })
                .map(|()| ex.pass()),
            );
            report.record(
                &NO_STORE,
                ensure(ex.no_store(), || {
                    format!("no Cache-Control: no-store: {}", ex.summary())
                })
                .map(|()| ex.pass()),
            );
        }
        Err(outcome) => {
            report.record(&EXCHANGE, Err(outcome.clone()));
        }
    }
    if let Ok((first, code, verifier)) = first {
        let replay = ctx.redeem(&client, &code, &verifier).await;
        let replay_refused = replay
            .clone()
            .and_then(|ex| ex.oauth_error(400, "invalid_grant").map(|()| ex.pass()));
        let refused = replay_refused.is_ok();
        report.record(&SINGLE_USE, replay_refused);
        if refused {
            report.record(&REPLAY_REVOKES, replay_revokes(ctx, &client, &first).await);
        } else {
            report.skip(&REPLAY_REVOKES, "the replay was not refused");
        }
    }

    report.record(
        &WRONG_VERIFIER,
        async {
            let pkce = Pkce::new()?;
            let (_, code) = ctx.code(&client, &pkce, None).await?;
            let other = Pkce::new()?;
            let ex = ctx.redeem(&client, &code, &other.verifier).await?;
            ex.oauth_error(400, "invalid_grant")?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &REDIRECT_BOUND,
        async {
            let pkce = Pkce::new()?;
            let (_, code) = ctx.code(&client, &pkce, None).await?;
            let other = format!("{REDIRECT_URI}/other");
            let ex = ctx
                .token_request(
                    &client,
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", &other),
                        ("code_verifier", &pkce.verifier),
                    ],
                )
                .await?;
            ex.oauth_error(400, "invalid_grant")?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &UNKNOWN_CODE,
        async {
            let pkce = Pkce::new()?;
            let ex = ctx
                .redeem(&client, "gatehouse-conformance-not-a-code", &pkce.verifier)
                .await?;
            ex.oauth_error(400, "invalid_grant")?;
            ensure(ex.is_json_type(), || format!("not JSON: {}", ex.summary()))?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &UNSUPPORTED_GRANT,
        error_for(
            ctx,
            &client,
            &[
                ("grant_type", "password"),
                ("username", "u"),
                ("password", "p"),
            ],
            400,
            "unsupported_grant_type",
        )
        .await,
    );
    report.record(
        &MISSING_GRANT,
        error_for(ctx, &client, &[("code", "x")], 400, "invalid_request").await,
    );
    report.record(
        &UNKNOWN_CLIENT,
        async {
            let endpoint = ctx.endpoint("token_endpoint")?;
            let ex = ctx
                .http
                .send(Req::post_form(
                    &endpoint,
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", "x"),
                        ("redirect_uri", REDIRECT_URI),
                        ("code_verifier", "x"),
                        ("client_id", "gatehouse-conformance-unknown-client"),
                    ],
                ))
                .await?;
            ensure(
                matches!(ex.status, 400 | 401)
                    && ex.json_str("error").as_deref() == Some("invalid_client"),
                || format!("expected invalid_client: {}", ex.summary()),
            )?;
            Ok(ex.pass())
        }
        .await,
    );
    confidential(ctx, report).await;
}

async fn first_redemption(
    ctx: &Context,
    client: &Client,
) -> Step<(crate::http::Exchange, String, String)> {
    let pkce = Pkce::new()?;
    let (_, code) = ctx.code(client, &pkce, None).await?;
    let ex = ctx.redeem(client, &code, &pkce.verifier).await?;
    tokens_of(ex.clone())?;
    Ok((ex, code, pkce.verifier))
}

async fn replay_revokes(
    ctx: &Context,
    client: &Client,
    first: &crate::http::Exchange,
) -> Step<Outcome> {
    let tokens = tokens_of(first.clone())?;
    let at_resource = ctx.mcp_initialize(Some(&tokens.access)).await?;
    ensure(at_resource.status == 401, || {
        format!(
            "the first access token still works after the replay: {}",
            at_resource.summary()
        )
    })?;
    if let Some(refresh) = &tokens.refresh {
        let ex = ctx.refresh(client, refresh).await?;
        ex.oauth_error(400, "invalid_grant")?;
        return Ok(Outcome::Pass(format!(
            "{}; {}",
            at_resource.summary(),
            ex.summary()
        )));
    }
    Ok(at_resource.pass())
}

async fn error_for(
    ctx: &Context,
    client: &Client,
    fields: &[(&str, &str)],
    status: u16,
    code: &str,
) -> Step<Outcome> {
    let ex = ctx.token_request(client, fields).await?;
    ex.oauth_error(status, code)?;
    Ok(ex.pass())
}

async fn confidential(ctx: &Context, report: &mut Report) {
    let client = match ctx.confidential() {
        Ok(client) => client,
        Err(outcome) => {
            report.skip_all(
                &[
                    &CONFIDENTIAL_EXCHANGE,
                    &WRONG_SECRET,
                    &CONFIDENTIAL_UNAUTHENTICATED,
                ],
                &format!("{outcome:?}"),
            );
            return;
        }
    };
    report.record(
        &CONFIDENTIAL_EXCHANGE,
        async {
            let pkce = Pkce::new()?;
            let (_, code) = ctx.code(&client, &pkce, None).await?;
            let ex = ctx.redeem(&client, &code, &pkce.verifier).await?;
            let tokens = tokens_of(ex)?;
            Ok(tokens.response.pass())
        }
        .await,
    );
    report.record(
        &WRONG_SECRET,
        async {
            let pkce = Pkce::new()?;
            let (_, code) = ctx.code(&client, &pkce, None).await?;
            let endpoint = ctx.endpoint("token_endpoint")?;
            let fields = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", pkce.verifier.as_str()),
            ];
            let ex = ctx
                .http
                .send(Req::post_form(&endpoint, &fields).basic(&client.id, "wrong-secret"))
                .await?;
            ex.oauth_error(401, "invalid_client")?;
            ensure(ex.header("www-authenticate").is_some(), || {
                format!("no WWW-Authenticate: {}", ex.summary())
            })?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &CONFIDENTIAL_UNAUTHENTICATED,
        async {
            let pkce = Pkce::new()?;
            let (_, code) = ctx.code(&client, &pkce, None).await?;
            let endpoint = ctx.endpoint("token_endpoint")?;
            let public = Client {
                secret: None,
                ..client.clone()
            };
            let fields = [
                ("grant_type", "authorization_code"),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", pkce.verifier.as_str()),
            ];
            let ex = ctx
                .http
                .send(client_auth(&public, &endpoint, &fields))
                .await?;
            ensure(
                matches!(ex.status, 400 | 401)
                    && ex.json_str("error").as_deref() == Some("invalid_client"),
                || format!("expected invalid_client: {}", ex.summary()),
            )?;
            Ok(ex.pass())
        }
        .await,
    );
}
