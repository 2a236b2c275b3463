//! The MCP authorization specification, revision 2025-11-25, where it asks more of a server than
//! the RFCs it builds on (their modules check the rest), and the session rules of the same
//! revision's security best practices. Sections are the specification's headings.
//!
//! Like the RFC 6750 checks, the scope checks assume the tools of Gatehouse's demo server:
//! `echo` under the resource's required scope, and `admin_reset`, which needs `mcp:admin`.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::rfc6750::rpc_answer;
use super::rfc8414::well_known;
use crate::context::{
    Client, Context, bearer_challenge, challenge_param, client_redirect, initialize_message,
};
use crate::http::{Exchange, Req};
use crate::report::{Outcome, Report, Step, ensure, fail, skip};

checks! {
    AS_DISCOVERY = "mcp-2025-11-25-as-metadata-discovery", "MCP 2025-11-25 authorization §Authorization Server Metadata Discovery", Must,
        "RFC 8414 metadata or an OpenID Connect Discovery document is served at one of the URLs MCP clients try, with `issuer` identical to the issuer";
    OIDC_PKCE = "mcp-2025-11-25-oidc-discovery-pkce", "MCP 2025-11-25 authorization §Authorization Code Protection", Must,
        "an OpenID Connect Discovery document, where one is served, lists S256 in code_challenge_methods_supported";
    PRM_DISCOVERY = "mcp-2025-11-25-prm-discovery-mechanism", "MCP 2025-11-25 authorization §Protected Resource Metadata Discovery Requirements", Must,
        "the resource's metadata is found through the 401 challenge's resource_metadata or at a well-known URL (path-inserted, or at the root)";
    CHALLENGE_SCOPE = "mcp-2025-11-25-challenge-scope", "MCP 2025-11-25 authorization §Protected Resource Metadata Discovery Requirements, RFC 6750 §3", Should,
        "the 401 challenge to a request without a token carries a `scope` parameter";
    INITIAL_SCOPE = "mcp-2025-11-25-initial-scope-works", "MCP 2025-11-25 authorization §Scope Selection Strategy", Must,
        "a token for the scope a client picks first (the 401 challenge's, else the metadata's scopes_supported) opens a session and lists the tools";
    INSUFFICIENT_POINTER = "mcp-2025-11-25-insufficient-scope-resource-metadata", "MCP 2025-11-25 authorization §Runtime Insufficient Scope Errors", Should,
        "the 403 insufficient_scope challenge carries resource_metadata too";
    CHALLENGED_SCOPE_SUFFICES = "mcp-2025-11-25-challenged-scope-suffices", "MCP 2025-11-25 authorization §Runtime Insufficient Scope Errors", Should,
        "a token for exactly the scope of the 403 challenge makes the refused call succeed: the challenge keeps the scopes already needed, so one re-authorization is enough";
    RESOURCE_ON_REFRESH = "mcp-2025-11-25-resource-on-refresh", "MCP 2025-11-25 authorization §Resource Parameter Implementation, RFC 8707 §2.2", Must,
        "a refresh request that repeats the resource parameter is granted, and the new access token is accepted by the resource";
    OTHER_AUDIENCE = "mcp-2025-11-25-token-for-other-resource-refused", "MCP 2025-11-25 authorization §Token Audience Binding and Validation", Must,
        "a token the authorization server issued for another resource (--other-resource), which that resource accepts, gets 401 invalid_token here";
    REFRESH_AS_BEARER = "mcp-2025-11-25-refresh-token-as-bearer-refused", "MCP 2025-11-25 authorization §Token Handling", Must,
        "a refresh token sent as the bearer token gets 401 invalid_token";
    REGISTRATION_AS_BEARER = "mcp-2025-11-25-registration-token-as-bearer-refused", "MCP 2025-11-25 authorization §Token Handling", Must,
        "an RFC 7592 registration access token sent as the bearer token gets 401 invalid_token";
    EXPIRED = "mcp-2025-11-25-expired-token-401", "MCP 2025-11-25 authorization §Error Handling", Must,
        "an access token the resource accepted gets 401 invalid_token once expires_in (plus --expiry-leeway) has passed";
    SHORT_LIVED = "mcp-2025-11-25-short-lived-access-tokens", "MCP 2025-11-25 authorization §Token Theft", Should,
        "access tokens are short-lived: expires_in is present and at most 3600 seconds";
    EVERY_REQUEST = "mcp-2025-11-25-every-request-authorized", "MCP 2025-11-25 authorization §Token Requirements", Must,
        "POST, GET (the SSE stream) and DELETE to the MCP endpoint without a token each get 401 with a Bearer challenge";
    SESSION_NOT_AUTHENTICATION = "mcp-2025-11-25-session-is-not-authentication", "MCP 2025-11-25 security best practices §Session Hijacking, authorization §Token Requirements", Must,
        "a request with a live Mcp-Session-Id but no token gets 401";
    SESSION_ID = "mcp-2025-11-25-session-id-unpredictable", "MCP 2025-11-25 security best practices §Session Hijacking, transports §Session Management", Must,
        "two sessions get distinct ids of visible ASCII, at least 22 characters long (room for 128 random bits)";
    CIMD_HTTPS = "mcp-2025-11-25-cimd-http-client-id-refused", "MCP 2025-11-25 authorization §Client ID Metadata Documents, draft-ietf-oauth-client-id-metadata-document §3", Must,
        "where Client ID Metadata Documents are supported, an http client_id URL is refused on a 4xx page, never redirected to its redirect_uri";
    CIMD_SSRF = "mcp-2025-11-25-cimd-private-address-refused", "MCP 2025-11-25 authorization §Client ID Metadata Document Security", Should,
        "where Client ID Metadata Documents are supported, a client_id URL on a link-local (cloud metadata) address is refused on a 4xx page, not a 5xx and not a redirect";
    FRAMING = "rfc9700-4.16-clickjacking", "RFC 9700 §4.16", Bcp,
        "HTML pages of the authorization endpoint forbid framing (CSP frame-ancestors, or X-Frame-Options)";
}

/// A token obtained early whose expiry [`finish_expiry`] waits for at the end of the run, so the
/// wait overlaps the other checks.
pub(crate) struct PendingExpiry {
    token: String,
    /// When the resource must refuse it: issue time + expires_in + leeway.
    refuse_after: Instant,
}

/// Obtains the token of the expiry check, shows that the resource accepts it, and records the
/// token-lifetime check. Run right after registration.
pub(crate) async fn start_expiry(ctx: &Context, report: &mut Report) -> Step<PendingExpiry> {
    let started = Instant::now();
    let tokens = async { ctx.tokens(&ctx.client()?, None).await }.await;
    let expires_in = tokens.as_ref().map(|t| {
        serde_json::from_slice::<Value>(&t.response.body)
            .ok()
            .and_then(|v| v.get("expires_in").and_then(Value::as_u64))
    });
    report.record(
        &SHORT_LIVED,
        match (&tokens, &expires_in) {
            (Ok(t), Ok(Some(secs))) => ensure(*secs <= 3600, || {
                format!("expires_in is {secs}: {}", t.response.summary())
            })
            .map(|()| t.response.pass()),
            (Ok(t), _) => Err(t.response.fail("no numeric expires_in")),
            (Err(o), _) => Err(o.clone()),
        },
    );
    let secs = expires_in.ok().flatten();
    let tokens = tokens?;
    let secs = secs.ok_or_else(|| skip("the token response has no expires_in"))?;
    let wait = secs.saturating_add(ctx.expiry_leeway_secs);
    if wait > ctx.max_expiry_wait_secs {
        return Err(skip(format!(
            "expires_in {secs} s plus leeway {} s exceeds --max-expiry-wait {} s",
            ctx.expiry_leeway_secs, ctx.max_expiry_wait_secs
        )));
    }
    let accepted = ctx.mcp_initialize(Some(&tokens.access)).await?;
    accepted.status_is(200)?;
    Ok(PendingExpiry {
        token: tokens.access,
        refuse_after: started + Duration::from_secs(wait),
    })
}

/// Waits for the early token to expire and records whether the resource refuses it.
pub(crate) async fn finish_expiry(
    ctx: &Context,
    report: &mut Report,
    pending: Step<PendingExpiry>,
) {
    let outcome = async {
        let pending = pending?;
        let now = Instant::now();
        if pending.refuse_after > now {
            let wait = pending.refuse_after - now;
            eprintln!(
                "gatehouse-conformance: waiting {} s for an access token to expire",
                wait.as_secs()
            );
            tokio::time::sleep(wait).await;
        }
        let ex = ctx.mcp_initialize(Some(&pending.token)).await?;
        invalid_token(&ex)?;
        Ok(ex.pass())
    }
    .await;
    report.record(&EXPIRED, outcome);
}

/// Runs the MCP 2025-11-25 checks (all but the expiry check).
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    report.record(&AS_DISCOVERY, as_discovery(ctx).await);
    report.record(&OIDC_PKCE, oidc_pkce(ctx).await);
    let unauthenticated = ctx.mcp_initialize(None).await;
    report.record(&PRM_DISCOVERY, prm_discovery(ctx, &unauthenticated).await);
    report.record(
        &CHALLENGE_SCOPE,
        unauthenticated.clone().and_then(|ex| {
            ex.status_is(401)?;
            challenge_param(&ex, "scope").ok_or_else(|| ex.fail("no scope in the challenge"))?;
            Ok(ex.pass())
        }),
    );
    every_request(ctx, report).await;
    cimd(ctx, report).await;
    report.record(&FRAMING, framing(ctx).await);

    let client = match ctx.client() {
        Ok(client) => client,
        Err(outcome) => {
            // The expiry check is recorded by `finish_expiry`, whatever happens here.
            let rest: Vec<&'static crate::report::Check> = CHECKS
                .iter()
                .copied()
                .filter(|c| c.id != EXPIRED.id)
                .collect();
            report.skip_all(&rest, &format!("{outcome:?}"));
            return;
        }
    };
    report.record(
        &INITIAL_SCOPE,
        initial_scope(ctx, &client, &unauthenticated).await,
    );
    scope_challenge(ctx, report, &client).await;
    report.record(
        &RESOURCE_ON_REFRESH,
        resource_on_refresh(ctx, &client).await,
    );
    report.record(&OTHER_AUDIENCE, other_audience(ctx, &client).await);
    report.record(
        &REFRESH_AS_BEARER,
        async {
            let tokens = ctx.tokens(&client, None).await?;
            let refresh = tokens
                .refresh
                .ok_or_else(|| skip("no refresh token was issued"))?;
            let ex = ctx.mcp_initialize(Some(&refresh)).await?;
            invalid_token(&ex)?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &REGISTRATION_AS_BEARER,
        async {
            let token = client
                .registration_access_token
                .clone()
                .ok_or_else(|| skip("registration issued no registration access token"))?;
            let ex = ctx.mcp_initialize(Some(&token)).await?;
            invalid_token(&ex)?;
            Ok(ex.pass())
        }
        .await,
    );
    sessions(ctx, report, &client).await;
}

/// The URLs an MCP client tries for the issuer, in its order: RFC 8414 and OpenID Connect
/// (path-inserted, then path-appended for an issuer with a path).
fn discovery_urls(issuer: &str) -> Vec<String> {
    let mut urls: Vec<String> = ["oauth-authorization-server", "openid-configuration"]
        .into_iter()
        .filter_map(|suffix| well_known(issuer, suffix))
        .collect();
    let has_path = url::Url::parse(issuer).is_ok_and(|u| !u.path().trim_matches('/').is_empty());
    if has_path {
        urls.push(format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        ));
    }
    urls
}

fn issuer_is(ex: &Exchange, issuer: &str) -> bool {
    ex.status == 200 && ex.json_str("issuer").as_deref() == Some(issuer)
}

async fn as_discovery(ctx: &Context) -> Step<Outcome> {
    let mut tried = Vec::new();
    for url in discovery_urls(&ctx.issuer) {
        let ex = ctx.http.get(&url).await?;
        if issuer_is(&ex, &ctx.issuer) {
            return Ok(ex.pass());
        }
        tried.push(ex.summary());
    }
    Err(fail(format!(
        "no metadata with issuer {:?}: {}",
        ctx.issuer,
        tried.join(" | ")
    )))
}

async fn oidc_pkce(ctx: &Context) -> Step<Outcome> {
    for url in discovery_urls(&ctx.issuer)
        .into_iter()
        .filter(|u| u.contains("openid-configuration"))
    {
        let ex = ctx.http.get(&url).await?;
        if ex.status != 200 {
            continue;
        }
        let doc = ex.json_object()?;
        let s256 = doc
            .get("code_challenge_methods_supported")
            .and_then(Value::as_array)
            .is_some_and(|m| m.iter().any(|m| m.as_str() == Some("S256")));
        ensure(s256, || {
            format!(
                "code_challenge_methods_supported lacks S256: {}",
                ex.summary()
            )
        })?;
        return Ok(ex.pass());
    }
    Err(skip(
        "no OpenID Connect Discovery document is served (not an OpenID Provider)",
    ))
}

/// The resource metadata through the challenge, else the path-inserted, else the root URL.
async fn prm_discovery(ctx: &Context, unauthenticated: &Step<Exchange>) -> Step<Outcome> {
    let mut candidates = Vec::new();
    if let Ok(ex) = unauthenticated
        && let Some(url) = challenge_param(ex, "resource_metadata")
    {
        candidates.push(url);
    }
    candidates.extend(well_known(&ctx.resource, "oauth-protected-resource"));
    if let Ok(url) = url::Url::parse(&ctx.resource) {
        candidates.push(format!(
            "{}/.well-known/oauth-protected-resource",
            url.origin().ascii_serialization()
        ));
    }
    let mut tried = Vec::new();
    for url in candidates {
        let ex = ctx.http.get(&url).await?;
        if ex.status == 200 && ex.json_str("resource").as_deref() == Some(&ctx.resource) {
            return Ok(ex.pass());
        }
        tried.push(ex.summary());
    }
    Err(fail(format!(
        "no metadata for {}: {}",
        ctx.resource,
        tried.join(" | ")
    )))
}

/// POST, GET and DELETE without a token.
async fn every_request(ctx: &Context, report: &mut Report) {
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let requests = [
        Req::json("POST", &ctx.resource, &list)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25"),
        Req::get(&ctx.resource)
            .header("accept", "text/event-stream")
            .header("mcp-protocol-version", "2025-11-25"),
        Req::delete(&ctx.resource).header("mcp-protocol-version", "2025-11-25"),
    ];
    let mut evidence = Vec::new();
    for req in requests {
        let ex = match ctx.http.send(req).await {
            Ok(ex) => ex,
            Err(outcome) => {
                report.record(&EVERY_REQUEST, Err(outcome));
                return;
            }
        };
        if ex.status != 401 || bearer_challenge(&ex).is_none() {
            report.record(
                &EVERY_REQUEST,
                Err(ex.fail("expected 401 with a Bearer challenge")),
            );
            return;
        }
        evidence.push(ex.summary());
    }
    report.record(&EVERY_REQUEST, Ok(Outcome::Pass(evidence.join(" | "))));
}

/// Client ID Metadata Document URLs that must not be fetched or trusted.
async fn cimd(ctx: &Context, report: &mut Report) {
    let supported = ctx
        .metadata
        .as_ref()
        .and_then(|m| m.get("client_id_metadata_document_supported"))
        == Some(&Value::Bool(true));
    if !supported {
        report.skip_all(
            &[&CIMD_HTTPS, &CIMD_SSRF],
            "the metadata does not advertise client_id_metadata_document_supported",
        );
        return;
    }
    report.record(
        &CIMD_HTTPS,
        refused_client_id(ctx, "http://client.example/gatehouse-conformance.json").await,
    );
    report.record(
        &CIMD_SSRF,
        refused_client_id(ctx, "https://169.254.169.254/latest/meta-data/client.json").await,
    );
}

/// An authorization request from `client_id` is refused on a 4xx page, with no redirect.
async fn refused_client_id(ctx: &Context, client_id: &str) -> Step<Outcome> {
    let pkce = crate::context::Pkce::new()?;
    let client = Client {
        id: client_id.to_owned(),
        secret: None,
        registration_access_token: None,
        registration_client_uri: None,
    };
    let ex = ctx
        .authorize(&ctx.authorization_params(&client, &pkce, "s", None))
        .await?;
    ensure(
        (400..500).contains(&ex.status) && ex.location().is_none(),
        || format!("expected a 4xx page without Location: {}", ex.summary()),
    )?;
    ensure(client_redirect(&ex).is_none(), || {
        format!(
            "the page sends the user to the redirect URI: {}",
            ex.summary()
        )
    })?;
    Ok(ex.pass())
}

/// An HTML page of the authorization endpoint (the refusal of an unknown client: an
/// auto-approving server shows no other) must forbid framing.
async fn framing(ctx: &Context) -> Step<Outcome> {
    let ex = ctx
        .authorize(&[
            ("response_type", "code"),
            ("client_id", "gatehouse-conformance-unknown-client"),
            ("redirect_uri", crate::context::REDIRECT_URI),
        ])
        .await?;
    let html = ex
        .header("content-type")
        .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/html"));
    if !html {
        return Err(skip(format!(
            "the authorization endpoint showed no HTML page: {}",
            ex.summary()
        )));
    }
    let frame_ancestors = ex
        .header_all("content-security-policy")
        .iter()
        .any(|csp| csp.to_ascii_lowercase().contains("frame-ancestors"));
    let x_frame_options = ex
        .header("x-frame-options")
        .is_some_and(|v| v.eq_ignore_ascii_case("deny") || v.eq_ignore_ascii_case("sameorigin"));
    ensure(frame_ancestors || x_frame_options, || {
        format!(
            "no frame-ancestors and no X-Frame-Options (CSP {:?}, XFO {:?}): {}",
            ex.header("content-security-policy"),
            ex.header("x-frame-options"),
            ex.summary()
        )
    })?;
    Ok(Outcome::Pass(format!(
        "{}; content-security-policy: {:?}; x-frame-options: {:?}",
        ex.summary(),
        ex.header("content-security-policy"),
        ex.header("x-frame-options")
    )))
}

async fn initial_scope(
    ctx: &Context,
    client: &Client,
    unauthenticated: &Step<Exchange>,
) -> Step<Outcome> {
    let challenged = unauthenticated
        .as_ref()
        .ok()
        .and_then(|ex| challenge_param(ex, "scope"));
    let scope = match challenged {
        Some(scope) => Some(scope),
        None => resource_scopes_supported(ctx).await.map(|s| s.join(" ")),
    };
    let tokens = ctx.tokens(client, scope.as_deref()).await?;
    let session = ctx.mcp_session(&tokens.access).await?;
    let ex = ctx
        .mcp(
            Some(&tokens.access),
            session.as_deref(),
            &json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
        )
        .await?;
    ex.status_is(200)?;
    let answer = rpc_answer(&ex).ok_or_else(|| ex.fail("no JSON-RPC answer"))?;
    ensure(answer.get("result").is_some(), || {
        format!("tools/list failed with scope {scope:?}: {}", ex.summary())
    })?;
    Ok(ex.pass())
}

async fn resource_scopes_supported(ctx: &Context) -> Option<Vec<String>> {
    let url = well_known(&ctx.resource, "oauth-protected-resource")?;
    let ex = ctx.http.get(&url).await.ok()?;
    let doc = ex.json_object().ok()?;
    let scopes = doc.get("scopes_supported")?.as_array()?;
    Some(
        scopes
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
    )
}

/// The 403 challenge to `admin_reset` under the required scope alone, then exactly its scope.
async fn scope_challenge(ctx: &Context, report: &mut Report, client: &Client) {
    let refused = async {
        let tokens = ctx.tokens(client, None).await?;
        let session = ctx.mcp_session(&tokens.access).await?;
        let ex = ctx
            .call_tool(&tokens.access, session.as_deref(), "admin_reset", json!({}))
            .await?;
        ex.status_is(403)?;
        ensure(
            challenge_param(&ex, "error").as_deref() == Some("insufficient_scope"),
            || format!("no error=\"insufficient_scope\": {}", ex.summary()),
        )?;
        Ok(ex)
    }
    .await;
    report.record(
        &INSUFFICIENT_POINTER,
        refused.clone().and_then(|ex| {
            challenge_param(&ex, "resource_metadata")
                .ok_or_else(|| ex.fail("no resource_metadata in the 403 challenge"))?;
            Ok(ex.pass())
        }),
    );
    report.record(
        &CHALLENGED_SCOPE_SUFFICES,
        async {
            let refused = refused?;
            let scope = challenge_param(&refused, "scope")
                .ok_or_else(|| refused.fail("no scope in the 403 challenge"))?;
            let tokens = ctx.tokens(client, Some(&scope)).await?;
            let session = ctx.mcp_session(&tokens.access).await?;
            let ex = ctx
                .call_tool(&tokens.access, session.as_deref(), "admin_reset", json!({}))
                .await?;
            ex.status_is(200)?;
            let answer = rpc_answer(&ex).ok_or_else(|| ex.fail("no JSON-RPC answer"))?;
            ensure(answer.get("error").is_none(), || {
                format!("with scope {scope:?} the call failed: {}", ex.summary())
            })?;
            Ok(ex.pass())
        }
        .await,
    );
}

async fn resource_on_refresh(ctx: &Context, client: &Client) -> Step<Outcome> {
    let tokens = ctx.tokens(client, None).await?;
    let refresh = tokens
        .refresh
        .ok_or_else(|| skip("no refresh token was issued"))?;
    let ex = ctx
        .token_request(
            client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
                ("resource", ctx.resource.as_str()),
            ],
        )
        .await?;
    let renewed = crate::context::tokens_of(ex)?;
    let accepted = ctx.mcp_initialize(Some(&renewed.access)).await?;
    accepted.status_is(200)?;
    Ok(renewed.response.pass())
}

async fn other_audience(ctx: &Context, client: &Client) -> Step<Outcome> {
    let other = ctx
        .other_resource
        .clone()
        .ok_or_else(|| skip("no --other-resource given"))?;
    let tokens = ctx.tokens_for(client, None, &other).await?;
    let there = ctx
        .mcp_at(&other, Some(&tokens.access), None, &initialize_message())
        .await?;
    ensure(there.status == 200, || {
        format!("{other} does not accept its own token: {}", there.summary())
    })?;
    let ex = ctx.mcp_initialize(Some(&tokens.access)).await?;
    invalid_token(&ex)?;
    Ok(ex.pass())
}

/// Session ids, and a session id without a token.
async fn sessions(ctx: &Context, report: &mut Report, client: &Client) {
    let opened = async {
        let tokens = ctx.tokens(client, None).await?;
        let first = ctx.mcp_session(&tokens.access).await?;
        let second = ctx.mcp_session(&tokens.access).await?;
        match (first, second) {
            (Some(a), Some(b)) => Ok((a, b)),
            _ => Err(skip("the server issues no Mcp-Session-Id")),
        }
    }
    .await;
    report.record(
        &SESSION_ID,
        opened.clone().and_then(|(a, b)| {
            let visible = |id: &str| id.bytes().all(|b| (0x21..=0x7e).contains(&b));
            ensure(a != b, || format!("two sessions share the id {a:?}"))?;
            ensure(visible(&a) && visible(&b), || {
                format!("not visible ASCII: {a:?}, {b:?}")
            })?;
            ensure(a.len() >= 22 && b.len() >= 22, || {
                format!("too short for 128 random bits: {a:?}, {b:?}")
            })?;
            Ok(Outcome::Pass(format!("session ids {a:?} and {b:?}")))
        }),
    );
    report.record(
        &SESSION_NOT_AUTHENTICATION,
        async {
            let (session, _) = opened?;
            let ex = ctx
                .mcp(
                    None,
                    Some(&session),
                    &json!({"jsonrpc": "2.0", "id": 4, "method": "tools/list"}),
                )
                .await?;
            ex.status_is(401)?;
            Ok(ex.pass())
        }
        .await,
    );
}

/// 401 with `error="invalid_token"` in the Bearer challenge.
pub(crate) fn invalid_token(ex: &Exchange) -> Step<()> {
    ex.status_is(401)?;
    ensure(
        challenge_param(ex, "error").as_deref() == Some("invalid_token"),
        || format!("no error=\"invalid_token\": {}", ex.summary()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mcp_2025_11_25_discovery_order() {
        assert_eq!(
            discovery_urls("https://auth.example.com/tenant1"),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server/tenant1",
                "https://auth.example.com/.well-known/openid-configuration/tenant1",
                "https://auth.example.com/tenant1/.well-known/openid-configuration",
            ]
        );
        assert_eq!(
            discovery_urls("https://auth.example.com"),
            [
                "https://auth.example.com/.well-known/oauth-authorization-server",
                "https://auth.example.com/.well-known/openid-configuration",
            ]
        );
    }
}
