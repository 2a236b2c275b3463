//! The MCP authorization specification, revision 2026-07-28, where it differs from 2025-11-25:
//! `iss` in every authorization response (RFC 9207 made a requirement), no `offline_access` asked
//! for by resources, `application_type` at registration, and discovery from the stateless
//! transport (no `initialize`, no session: every request names its protocol version).

use serde_json::{Value, json};

use crate::context::{
    Client, Context, Pkce, REDIRECT_URI, bearer_challenge, challenge_param, client_redirect, param,
    random,
};
use crate::http::Req;
use crate::report::{Outcome, Report, Step, ensure, fail, skip};

/// The protocol revision these checks speak.
const REVISION: &str = "2026-07-28";

checks! {
    ISS_ADVERTISED_IF_SENT = "mcp-2026-07-28-iss-advertised-if-sent", "MCP 2026-07-28 authorization §Authorization Response Validation, RFC 9207 §3", Must,
        "an authorization server that sends `iss` in authorization responses advertises authorization_response_iss_parameter_supported: true";
    ISS_EVERY_RESPONSE = "mcp-2026-07-28-iss-on-every-response", "MCP 2026-07-28 authorization §Authorization Response Validation, RFC 9207 §2", Should,
        "every authorization response delivered to the client (a code, and the invalid_request, unsupported_response_type and invalid_scope errors) carries `iss` identical to the metadata's issuer";
    NO_OFFLINE_ACCESS = "mcp-2026-07-28-no-offline-access-asked", "MCP 2026-07-28 authorization §Refresh Tokens", Should,
        "the resource does not ask for offline_access: not in the 401 challenge's scope, not in its metadata's scopes_supported";
    APPLICATION_TYPE_NATIVE = "mcp-2026-07-28-application-type-native", "MCP 2026-07-28 authorization §Application Type and Redirect URI Constraints, OpenID Connect Registration §2", Must,
        "a registration with application_type native and a loopback redirect URI is accepted (201) and that client completes the code flow";
    STATELESS_CHALLENGE = "mcp-2026-07-28-stateless-request-401", "MCP 2026-07-28 authorization §Protected Resource Metadata Discovery, RFC 9728 §5.1", Must,
        "a 2026-07-28 request without a token (no initialize, no session; MCP-Protocol-Version, Mcp-Method and the _meta protocol version) gets 401 with resource_metadata";
    HEADER_MISMATCH = "mcp-2026-07-28-header-mismatch-refused", "MCP 2026-07-28 Streamable HTTP §Server Validation", Must,
        "an authorized tools/call whose Mcp-Name header names another tool than its body gets 400 with the JSON-RPC error HeaderMismatch (-32020)";
    METHOD_MISMATCH = "mcp-2026-07-28-method-header-mismatch-refused", "MCP 2026-07-28 Streamable HTTP §Server Validation", Must,
        "an authorized request whose Mcp-Method header says tools/list while its body calls a tool gets 400 with HeaderMismatch (-32020), never the call";
    STATELESS_AUTHORIZED = "mcp-2026-07-28-stateless-request-served", "MCP 2026-07-28 Streamable HTTP (stateless requests), authorization §Access Token Usage", Must,
        "an authorized 2026-07-28 tools/list with no initialize and no session (the token on the request itself) gets a JSON-RPC result with a tools array";
}

/// Runs the MCP 2026-07-28 checks.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    report.record(&STATELESS_CHALLENGE, stateless_challenge(ctx).await);
    report.record(&NO_OFFLINE_ACCESS, no_offline_access(ctx).await);
    report.record(&APPLICATION_TYPE_NATIVE, native_client(ctx).await);
    let client = match ctx.client() {
        Ok(client) => client,
        Err(outcome) => {
            report.skip_all(CHECKS, &format!("{outcome:?}"));
            return;
        }
    };
    report.record(&HEADER_MISMATCH, header_mismatch(ctx, &client).await);
    report.record(&METHOD_MISMATCH, method_mismatch(ctx, &client).await);
    report.record(&STATELESS_AUTHORIZED, stateless_list(ctx, &client).await);
    let responses = authorization_responses(ctx, &client).await;
    let issuer = ctx
        .metadata
        .as_ref()
        .and_then(|m| m.get("issuer"))
        .and_then(Value::as_str)
        .map(str::to_owned);
    let advertised = ctx
        .metadata
        .as_ref()
        .and_then(|m| m.get("authorization_response_iss_parameter_supported"))
        == Some(&Value::Bool(true));
    report.record(
        &ISS_ADVERTISED_IF_SENT,
        responses.clone().and_then(|responses| {
            let sent = responses.iter().any(|r| r.iss.is_some());
            ensure(!sent || advertised, || {
                format!(
                    "iss is sent but authorization_response_iss_parameter_supported is not true: {}",
                    responses
                        .iter()
                        .map(|r| r.evidence.as_str())
                        .collect::<Vec<_>>()
                        .join(" | ")
                )
            })?;
            Ok(Outcome::Pass(format!(
                "iss sent: {sent}; advertised: {advertised}"
            )))
        }),
    );
    report.record(
        &ISS_EVERY_RESPONSE,
        responses.and_then(|responses| {
            let issuer = issuer.ok_or_else(|| skip("no issuer in the metadata"))?;
            let wrong: Vec<String> = responses
                .iter()
                .filter(|r| r.iss.as_deref() != Some(issuer.as_str()))
                .map(|r| format!("{} (iss {:?})", r.evidence, r.iss))
                .collect();
            ensure(wrong.is_empty(), || {
                format!("iss is not {issuer:?} in: {}", wrong.join(" | "))
            })?;
            let kinds: Vec<&str> = responses.iter().map(|r| r.kind.as_str()).collect();
            Ok(Outcome::Pass(format!("iss={issuer} on {kinds:?}")))
        }),
    );
}

/// An authorization response delivered to the client's redirect URI.
#[derive(Debug, Clone)]
struct Delivered {
    /// `code`, or the `error` code.
    kind: String,
    iss: Option<String>,
    evidence: String,
}

/// A success and the error responses the server delivers to the client; at least the success
/// and one error, or the checks cannot say anything.
async fn authorization_responses(ctx: &Context, client: &Client) -> Step<Vec<Delivered>> {
    let pkce = Pkce::new()?;
    let state = random()?;
    let base = ctx.authorization_params(client, &pkce, &state, None);
    // The base request with `name` removed, and set to `value` when there is one.
    let with = |name: &str, value: Option<&str>| -> Vec<(String, String)> {
        let mut params: Vec<(String, String)> = base
            .iter()
            .filter(|(n, _)| {
                *n != name && !(name == "code_challenge" && *n == "code_challenge_method")
            })
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect();
        params.extend(value.map(|v| (name.to_owned(), v.to_owned())));
        params
    };
    let requests = [
        with("state", Some(&state)),
        with("code_challenge", None),
        with("response_type", Some("token")),
        with("scope", Some("gatehouse-conformance-undefined-scope")),
    ];
    let mut delivered = Vec::new();
    for params in requests {
        let params: Vec<(&str, &str)> = params
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        let ex = ctx.authorize(&params).await?;
        let Some(query) = client_redirect(&ex) else {
            continue;
        };
        let kind = param(&query, "error").unwrap_or_else(|| "code".to_owned());
        delivered.push(Delivered {
            kind,
            iss: param(&query, "iss"),
            evidence: ex.summary(),
        });
    }
    let errors = delivered.iter().filter(|d| d.kind != "code").count();
    if delivered.first().is_none_or(|d| d.kind != "code") || errors == 0 {
        return Err(fail(format!(
            "expected a code and at least one error response at the redirect URI, got {:?}",
            delivered.iter().map(|d| &d.kind).collect::<Vec<_>>()
        )));
    }
    Ok(delivered)
}

async fn stateless_challenge(ctx: &Context) -> Step<Outcome> {
    let message = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {
        "_meta": {"io.modelcontextprotocol/protocolVersion": REVISION}}});
    let ex = ctx
        .http
        .send(
            Req::json("POST", &ctx.resource, &message)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", REVISION)
                .header("mcp-method", "tools/list"),
        )
        .await?;
    ex.status_is(401)?;
    bearer_challenge(&ex).ok_or_else(|| ex.fail("no Bearer challenge"))?;
    challenge_param(&ex, "resource_metadata")
        .ok_or_else(|| ex.fail("no resource_metadata in the challenge"))?;
    Ok(ex.pass())
}

/// A router in front may send the call where `Mcp-Name` says; the server must refuse a body that
/// calls another tool, or the two act on different calls.
async fn header_mismatch(ctx: &Context, client: &Client) -> Step<Outcome> {
    mismatch_refused(
        ctx,
        client,
        41,
        &[
            ("mcp-method", "tools/call"),
            ("mcp-name", "gatehouse-conformance-other-tool"),
        ],
    )
    .await
}

async fn method_mismatch(ctx: &Context, client: &Client) -> Step<Outcome> {
    // A router in front that trusts Mcp-Method would take this for a harmless listing.
    mismatch_refused(ctx, client, 42, &[("mcp-method", "tools/list")]).await
}

/// An authorized `tools/call` of `echo` sent with `headers` that disagree with it: 400 with the
/// JSON-RPC error HeaderMismatch (-32020), never the call.
async fn mismatch_refused(
    ctx: &Context,
    client: &Client,
    id: u32,
    headers: &[(&str, &str)],
) -> Step<Outcome> {
    let tokens = ctx.tokens(client, Some("mcp:tools")).await?;
    let message = json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
        "name": "echo", "arguments": {"text": "mismatch"},
        "_meta": {"io.modelcontextprotocol/protocolVersion": REVISION}}});
    let mut request = Req::json("POST", &ctx.resource, &message)
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", REVISION)
        .bearer(&tokens.access);
    for (name, value) in headers {
        request = request.header(name, value);
    }
    let ex = ctx.http.send(request).await?;
    ex.status_is(400)?;
    let code = serde_json::from_slice::<Value>(&ex.body)
        .ok()
        .and_then(|body| body.pointer("/error/code").and_then(Value::as_i64));
    ensure(code == Some(-32020), || {
        format!("the error code is {code:?}, not -32020: {}", ex.summary())
    })?;
    Ok(ex.pass())
}

async fn stateless_list(ctx: &Context, client: &Client) -> Step<Outcome> {
    let tokens = ctx.tokens(client, Some("mcp:tools")).await?;
    let message = json!({"jsonrpc": "2.0", "id": 43, "method": "tools/list", "params": {
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": REVISION,
        "io.modelcontextprotocol/clientInfo": {"name": "gatehouse-conformance", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }}});
    let ex = ctx
        .http
        .send(
            Req::json("POST", &ctx.resource, &message)
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", REVISION)
                .header("mcp-method", "tools/list")
                .bearer(&tokens.access),
        )
        .await?;
    ex.status_is(200)?;
    // The answer comes as JSON or as one event of an SSE stream.
    let text = String::from_utf8_lossy(&ex.body);
    let answer = std::iter::once(text.as_ref())
        .chain(text.lines().filter_map(|line| line.strip_prefix("data:")))
        .filter_map(|candidate| serde_json::from_str::<Value>(candidate.trim()).ok())
        .find(|message| message.get("id") == Some(&json!(43)));
    let tools = answer
        .as_ref()
        .and_then(|answer| answer.pointer("/result/tools"))
        .and_then(Value::as_array);
    ensure(tools.is_some(), || {
        format!("no JSON-RPC result with tools: {}", ex.summary())
    })?;
    Ok(ex.pass())
}

async fn no_offline_access(ctx: &Context) -> Step<Outcome> {
    let challenge = ctx.mcp_initialize(None).await?;
    let challenged = challenge_param(&challenge, "scope").unwrap_or_default();
    ensure(
        !challenged.split(' ').any(|s| s == "offline_access"),
        || {
            format!(
                "the challenge asks for offline_access: {}",
                challenge.summary()
            )
        },
    )?;
    let url = super::rfc8414::well_known(&ctx.resource, "oauth-protected-resource")
        .ok_or_else(|| fail("the resource is not a URL"))?;
    let metadata = ctx.http.get(&url).await?;
    let listed = metadata
        .json_object()
        .ok()
        .and_then(|doc| doc.get("scopes_supported").cloned())
        .and_then(|s| s.as_array().cloned())
        .unwrap_or_default();
    ensure(
        !listed.iter().any(|s| s.as_str() == Some("offline_access")),
        || {
            format!(
                "scopes_supported lists offline_access: {}",
                metadata.summary()
            )
        },
    )?;
    Ok(Outcome::Pass(format!(
        "{} | {}",
        challenge.summary(),
        metadata.summary()
    )))
}

async fn native_client(ctx: &Context) -> Step<Outcome> {
    ctx.endpoint("registration_endpoint")?;
    let (registered, client) = ctx
        .register(&json!({
            "redirect_uris": [REDIRECT_URI],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "application_type": "native",
            "client_name": "gatehouse-conformance native client",
        }))
        .await?;
    let tokens = ctx.tokens(&client, None).await?;
    Ok(Outcome::Pass(format!(
        "{} | {}",
        registered.summary(),
        tokens.response.summary()
    )))
}
