//! RFC 6750 at the protected resource (an MCP Streamable HTTP endpoint), with per-tool scopes and
//! step-up (MCP 2025-11-25, "Scope Challenge Handling"). Assumes the tools of Gatehouse's demo
//! server: `echo` (argument `text`) and `admin_reset`, which needs `mcp:admin`.

use serde_json::{Value, json};

use crate::context::{Context, bearer_challenge, challenge_param, initialize_message};
use crate::http::{Exchange, Req};
use crate::report::{Outcome, Report, ensure};

checks! {
    TOOL_CALL = "rfc6750-2.1-header-token-tool-call", "RFC 6750 §2.1", Must,
        "a token in the Authorization header opens an MCP session and calls `echo` (200, result echoes the text)";
    QUERY_REFUSED = "rfc6750-2.3-query-token-refused", "RFC 6750 §2.3, OAuth 2.1 §5.2, MCP 2025-11-25 authorization", Must,
        "a token in the URI query string is not accepted (400 invalid_request, or 401)";
    TWO_METHODS = "rfc6750-3.1-two-methods-invalid-request", "RFC 6750 §3.1", Should,
        "a token sent both in the header and in the query gets 400 with error=invalid_request";
    INVALID_TOKEN = "rfc6750-3.1-invalid-token", "RFC 6750 §3.1", Must,
        "a malformed bearer token gets 401 with WWW-Authenticate Bearer error=\"invalid_token\"";
    INSUFFICIENT_SCOPE = "rfc6750-3.1-insufficient-scope", "RFC 6750 §3.1, MCP 2025-11-25 scope challenge", Must,
        "tools/call of admin_reset with a token lacking mcp:admin gets 403 error=\"insufficient_scope\" with scope naming mcp:admin";
    STEP_UP = "rfc6750-3.1-step-up-succeeds", "RFC 6750 §3.1, MCP 2025-11-25 scope challenge", Must,
        "after re-authorizing with the challenged scope, the same tools/call succeeds (200, no JSON-RPC error)";
}

/// Runs the resource checks.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    let client = match ctx.client() {
        Ok(client) => client,
        Err(outcome) => {
            report.skip_all(CHECKS, &format!("{outcome:?}"));
            return;
        }
    };
    let tokens = match ctx.tokens(&client, Some("mcp:tools")).await {
        Ok(t) => t,
        Err(o) => {
            report.skip_all(CHECKS, &format!("no access token: {o:?}"));
            return;
        }
    };
    let token = tokens.access.as_str();
    let session = ctx.mcp_session(token).await;
    report.record(
        &TOOL_CALL,
        async {
            let session = session.clone()?;
            let ex = ctx
                .call_tool(
                    token,
                    session.as_deref(),
                    "echo",
                    json!({"text": "conformance-echo"}),
                )
                .await?;
            ex.status_is(200)?;
            let answer = rpc_answer(&ex).ok_or_else(|| ex.fail("no JSON-RPC answer"))?;
            ensure(
                answer.get("result").is_some() && answer.to_string().contains("conformance-echo"),
                || format!("the echo did not come back: {}", ex.summary()),
            )?;
            Ok(ex.pass())
        }
        .await,
    );
    let with_query = {
        let mut url = url::Url::parse(&ctx.resource).ok();
        if let Some(url) = url.as_mut() {
            url.query_pairs_mut().append_pair("access_token", token);
        }
        url.map(|u| u.to_string()).unwrap_or_default()
    };
    let init = initialize_message();
    let mcp_req = |url: &str| {
        Req::json("POST", url, &init)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
    };
    report.record(
        &QUERY_REFUSED,
        async {
            let ex = ctx.http.send(mcp_req(&with_query)).await?;
            ensure(matches!(ex.status, 400 | 401), || {
                format!("the query token was not refused: {}", ex.summary())
            })?;
            if ex.status == 400 {
                ensure(
                    challenge_error(&ex).as_deref() == Some("invalid_request")
                        || ex.json_str("error").as_deref() == Some("invalid_request"),
                    || format!("400 without error=invalid_request: {}", ex.summary()),
                )?;
            }
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &TWO_METHODS,
        async {
            let ex = ctx.http.send(mcp_req(&with_query).bearer(token)).await?;
            ex.status_is(400)?;
            ensure(
                challenge_error(&ex).as_deref() == Some("invalid_request"),
                || {
                    format!(
                        "no error=\"invalid_request\" in WWW-Authenticate: {}",
                        ex.summary()
                    )
                },
            )?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &INVALID_TOKEN,
        async {
            let ex = ctx
                .mcp_initialize(Some("gatehouse-conformance.not.a-token"))
                .await?;
            ex.status_is(401)?;
            ensure(
                challenge_error(&ex).as_deref() == Some("invalid_token"),
                || format!("no error=\"invalid_token\": {}", ex.summary()),
            )?;
            Ok(ex.pass())
        }
        .await,
    );
    let insufficient = async {
        let session = session.clone()?;
        let ex = ctx
            .call_tool(token, session.as_deref(), "admin_reset", json!({}))
            .await?;
        ex.status_is(403)?;
        let params = bearer_challenge(&ex).ok_or_else(|| ex.fail("no Bearer challenge"))?;
        ensure(
            params
                .iter()
                .any(|(n, v)| n == "error" && v == "insufficient_scope"),
            || format!("no error=\"insufficient_scope\": {}", ex.summary()),
        )?;
        let scope = params
            .iter()
            .find(|(n, _)| n == "scope")
            .map(|(_, v)| v.clone());
        ensure(
            scope
                .as_deref()
                .is_some_and(|s| s.split(' ').any(|s| s == "mcp:admin")),
            || {
                format!(
                    "the challenge's scope does not name mcp:admin: {}",
                    ex.summary()
                )
            },
        )?;
        Ok((ex, scope.unwrap_or_default()))
    }
    .await;
    report.record(
        &INSUFFICIENT_SCOPE,
        insufficient
            .as_ref()
            .map(|(ex, _)| ex.pass())
            .map_err(Clone::clone),
    );
    report.record(
        &STEP_UP,
        async {
            let (_, challenged) = insufficient?;
            let mut scope: Vec<&str> = challenged.split(' ').collect();
            if !scope.contains(&"mcp:tools") {
                scope.push("mcp:tools");
            }
            let t = ctx.tokens(&client, Some(&scope.join(" "))).await?;
            let session = ctx.mcp_session(&t.access).await?;
            let ex = ctx
                .call_tool(&t.access, session.as_deref(), "admin_reset", json!({}))
                .await?;
            ex.status_is(200)?;
            let answer = rpc_answer(&ex).ok_or_else(|| ex.fail("no JSON-RPC answer"))?;
            ensure(
                answer.get("result").is_some() && answer.get("error").is_none(),
                || format!("the call failed: {}", ex.summary()),
            )?;
            Ok::<Outcome, Outcome>(ex.pass())
        }
        .await,
    );
}

fn challenge_error(ex: &Exchange) -> Option<String> {
    challenge_param(ex, "error")
}

/// The JSON-RPC answer in a JSON or Server-Sent Events body.
pub(crate) fn rpc_answer(ex: &Exchange) -> Option<Value> {
    let text = ex.text();
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        return Some(value);
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|message| message.get("id").is_some())
}
