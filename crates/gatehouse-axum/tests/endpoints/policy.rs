//! Tool policy of a resource served by `gatehouse serve`: `unmapped_tools = "deny"` closes every
//! tool the configuration gives no scope, in calls and in lists.
#![allow(clippy::unwrap_used, clippy::panic)]

use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use gatehouse_axum::config::{LoginMode, UnmappedTools};

use crate::support::oneshot::{App, Reply};

async fn mcp(app: &App, token: &str, session: Option<&str>, body: &str) -> Reply {
    let mut call = app
        .post(&app.url("/mcp"))
        .header(AUTHORIZATION, &format!("Bearer {token}"))
        .header("accept", "application/json, text/event-stream");
    if let Some(session) = session {
        call = call.header("mcp-session-id", session);
    }
    call.body("application/json", body.to_owned()).await
}

/// The JSON-RPC message of an answer, whether sent as JSON or as one SSE event.
fn message(reply: &Reply) -> serde_json::Value {
    let text = reply.text();
    // The demo server primes its stream with an empty event first.
    let json = text
        .lines()
        .filter_map(|line| line.strip_prefix("data: "))
        .find(|data| !data.trim().is_empty())
        .unwrap_or(&text);
    serde_json::from_str(json).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn unmapped_tools_deny_closes_the_demo_tools_without_a_scope() {
    let app = App::new(LoginMode::AutoApprove, "", |config| {
        config.resources[0].unmapped_tools = UnmappedTools::Deny;
    })
    .await;
    let client = app.public_client().await;
    let tokens = app.tokens(&client).await;
    let token = tokens["access_token"].as_str().unwrap();

    let init = mcp(
        &app,
        token,
        None,
        r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"policy-test","version":"1"}}}"#,
    )
    .await;
    assert_eq!(init.status, StatusCode::OK, "{}", init.text());
    let session = init.headers["mcp-session-id"].to_str().unwrap().to_owned();
    let initialized = mcp(
        &app,
        token,
        Some(&session),
        r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#,
    )
    .await;
    assert!(initialized.status.is_success());

    // `echo` has no entry in `tool_scopes`: closed, whatever the token holds.
    let call = mcp(
        &app,
        token,
        Some(&session),
        r#"{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"echo","arguments":{"text":"hi"}}}"#,
    )
    .await;
    assert_eq!(call.status, StatusCode::FORBIDDEN, "{}", call.text());
    assert_eq!(call.json()["error"], "access_denied");
    // The list holds only tools with a scope (`admin_reset`, which this token lacks: none).
    let list = mcp(
        &app,
        token,
        Some(&session),
        r#"{"jsonrpc":"2.0","id":3,"method":"tools/list"}"#,
    )
    .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    let tools = message(&list)["result"]["tools"]
        .as_array()
        .unwrap()
        .clone();
    assert!(tools.is_empty(), "{tools:?}");
}

/// A stateless MCP 2026-07-28 request: the headers that mirror the body, and the `_meta` that
/// replaces `initialize`.
async fn stateless(
    app: &App,
    token: &str,
    method: &str,
    name: Option<&str>,
    params: &str,
) -> Reply {
    let mut call = app
        .post(&app.url("/mcp"))
        .header(AUTHORIZATION, &format!("Bearer {token}"))
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", method);
    if let Some(name) = name {
        call = call.header("mcp-name", name);
    }
    let meta = r#""_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientInfo":{"name":"policy-test","version":"1"},"io.modelcontextprotocol/clientCapabilities":{}}"#;
    let body =
        format!(r#"{{"jsonrpc":"2.0","id":1,"method":"{method}","params":{{{params}{meta}}}}}"#);
    call.body("application/json", body).await
}

#[tokio::test]
async fn mcp_2026_07_28_stateless_requests_reach_the_demo_server_beside_2025_11_25_sessions() {
    // The demo server (rmcp) answers the stateless revision itself: no initialize, no session,
    // the protocol version and client in `_meta` of every request.
    let app = App::auto_approve().await;
    let client = app.public_client().await;
    let tokens = app.tokens(&client).await;
    let token = tokens["access_token"].as_str().unwrap();

    let call = stateless(
        &app,
        token,
        "tools/call",
        Some("echo"),
        r#""name":"echo","arguments":{"text":"stateless"},"#,
    )
    .await;
    assert_eq!(call.status, StatusCode::OK, "{}", call.text());
    assert_eq!(message(&call)["result"]["content"][0]["text"], "stateless");
    assert!(!call.headers.contains_key("mcp-session-id"));

    // A filtered list is private to its caller (CacheableResult).
    let list = stateless(&app, token, "tools/list", None, "").await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text());
    let result = &message(&list)["result"];
    assert_eq!(result["cacheScope"], "private", "{result}");
    let names: Vec<&str> = result["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert!(!names.contains(&"admin_reset"), "{names:?}");

    // Server Validation: a router in front would send this to `whoami`; it never runs.
    let mismatch = stateless(
        &app,
        token,
        "tools/call",
        Some("whoami"),
        r#""name":"echo","arguments":{"text":"x"},"#,
    )
    .await;
    assert_eq!(
        mismatch.status,
        StatusCode::BAD_REQUEST,
        "{}",
        mismatch.text()
    );
    assert_eq!(mismatch.json()["error"]["code"], -32020);
}

/// A stateless `tools/call` of `tool`.
async fn call_tool(app: &App, token: &str, tool: &str) -> Reply {
    stateless(
        app,
        token,
        "tools/call",
        Some(tool),
        &format!(r#""name":"{tool}","arguments":{{"text":"hello"}},"#),
    )
    .await
}

#[tokio::test]
async fn every_tool_call_the_guard_decides_is_in_the_audit_table() {
    let app = App::new(LoginMode::AutoApprove, "", |config| {
        config.resources[0].audit_arguments = true;
    })
    .await;
    let client = app.public_client().await;
    let tokens = app.tokens(&client).await;
    let token = tokens["access_token"].as_str().unwrap();

    assert_eq!(call_tool(&app, token, "echo").await.status, StatusCode::OK);
    // `admin_reset` needs `mcp:admin`, which the token lacks: refused with a step-up challenge.
    let denied = call_tool(&app, token, "admin_reset").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text());

    let query = gatehouse_store::AuditQuery {
        since: gatehouse_types::UnixTime::EPOCH,
        client_id: Some(client.id.clone()),
        subject: None,
        tool: None,
        limit: 100,
    };
    // The audit writer stores in the background.
    let mut calls = Vec::new();
    for _ in 0..100 {
        calls = gatehouse_store::ServerStore::search_audit(app.gatehouse.store(), &query)
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, event)| event.kind == "tool_call")
            .map(|(_, event)| event)
            .collect();
        if calls.len() == 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let [denied, allowed] = <[_; 2]>::try_from(calls).unwrap();
    assert_eq!(allowed.tool.as_deref(), Some("echo"));
    assert_eq!(denied.resource.as_deref(), Some(app.url("/mcp").as_str()));
    // The stored detail leaves out what the record's columns hold; `members` puts it back.
    for column in ["kind", "subject", "client_id", "resource", "tool"] {
        assert!(allowed.detail.to_value().get(column).is_none(), "{column}");
    }
    let (allowed_detail, denied_detail) = (
        serde_json::Value::Object(allowed.members()),
        serde_json::Value::Object(denied.members()),
    );
    assert_eq!(allowed.subject.as_deref(), Some("alice"));
    assert_eq!(allowed_detail["tool"], "echo");
    assert_eq!(allowed_detail["method"], "tools/call");
    assert_eq!(allowed_detail["decision"], "allowed");
    assert_eq!(allowed_detail["status"], 200);
    assert_eq!(allowed_detail["resource"], app.url("/mcp"));
    assert_eq!(allowed_detail["scopes"], "mcp:tools");
    assert!(allowed_detail["latency_us"].is_u64());
    assert_eq!(allowed_detail["arguments"]["text"], "hello");
    assert_eq!(denied_detail["tool"], "admin_reset");
    assert_eq!(denied_detail["decision"], "denied");
    assert_eq!(denied_detail["reason"], "insufficient_scope");
    assert_eq!(denied_detail["scopes"], "mcp:admin mcp:tools");
    assert!(denied_detail.get("status").is_none());

    // Filtered by tool, as `gatehouse audit list --tool` asks.
    let by_tool = gatehouse_store::AuditQuery {
        tool: Some("echo".into()),
        ..query
    };
    let found = gatehouse_store::ServerStore::search_audit(app.gatehouse.store(), &by_tool)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
}

#[tokio::test]
async fn rate_limits_are_one_budget_across_instances_sharing_postgresql() {
    // Two instances behind one load balancer, on one PostgreSQL database: the resource's
    // per-caller limit and the authorization server's per-client limit are each enforced once,
    // not once per instance.
    let Some((first, second, _schema)) = App::two_on_postgres(|config| {
        config.resources[0].rate_limit_per_min = Some(3);
        config.rate_limits.token_per_min = 4;
    })
    .await
    else {
        eprintln!("GATEHOUSE_TEST_POSTGRES is not set: the two-instance limit test is skipped");
        return;
    };
    let client = first.public_client().await;
    let tokens = first.tokens(&client).await;
    let token = tokens["access_token"].as_str().unwrap();

    assert_eq!(
        call_tool(&first, token, "echo").await.status,
        StatusCode::OK
    );
    assert_eq!(
        call_tool(&second, token, "echo").await.status,
        StatusCode::OK
    );
    assert_eq!(
        call_tool(&first, token, "echo").await.status,
        StatusCode::OK
    );
    let limited = call_tool(&second, token, "echo").await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.text()
    );
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=20).contains(&retry), "Retry-After: {retry}");
    assert_eq!(
        call_tool(&first, token, "echo").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );

    // The token endpoint: the code redemption spent one of the client's 4; three more pass,
    // split across the instances, and the next is refused by either.
    for app in [&first, &second, &first] {
        assert_eq!(
            app.refresh(&client, "x").await.status,
            StatusCode::BAD_REQUEST
        );
    }
    assert_eq!(
        second.refresh(&client, "x").await.status,
        StatusCode::TOO_MANY_REQUESTS
    );
}

/// `[[scope_policy]]` rules for the demo resource.
fn rule(subjects: Option<&[&str]>, scopes: &[&str]) -> gatehouse_axum::config::ScopePolicyRule {
    gatehouse_axum::config::ScopePolicyRule {
        subjects: subjects.map(|s| s.iter().map(|s| (*s).to_owned()).collect()),
        groups: Vec::new(),
        clients: None,
        scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
    }
}

#[tokio::test]
async fn the_scope_matrix_holds_at_the_token_endpoint_and_at_the_guard() {
    // Only bob may hold mcp:admin; anyone mcp:tools. Alice (auto-approved) asks for both.
    let app = App::new(LoginMode::AutoApprove, "", |config| {
        config.scope_policy = vec![
            rule(Some(&["bob"]), &["mcp:tools", "mcp:admin"]),
            rule(None, &["mcp:tools"]),
        ];
    })
    .await;
    let client = app.public_client().await;
    let url = app
        .authorize_url(&client.id)
        .replace("scope=mcp:tools", "scope=mcp:tools%20mcp:admin");
    let reply = app.get(&url).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let code = crate::support::query(reply.location())["code"].clone();
    let tokens = app.redeem(&client, &code).await.json();
    assert_eq!(tokens["scope"], "mcp:tools");
    let token = tokens["access_token"].as_str().unwrap();
    let denied = call_tool(&app, token, "admin_reset").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN, "{}", denied.text());
}

#[tokio::test]
async fn a_person_the_matrix_gives_nothing_is_sent_back_with_access_denied() {
    let app = App::new(LoginMode::AutoApprove, "", |config| {
        config.scope_policy = vec![rule(Some(&["bob"]), &["mcp:tools"])];
    })
    .await;
    let client = app.public_client().await;
    let reply = app.get(&app.authorize_url(&client.id)).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let params = crate::support::query(reply.location());
    assert_eq!(params["error"], "access_denied");
    assert_eq!(params["state"], "s1");
    assert!(!params.contains_key("code"));
}

#[tokio::test]
async fn a_rule_for_a_scope_no_resource_has_is_refused_at_start() {
    let mut config = crate::support::config("127.0.0.1:8080".parse().unwrap());
    config.scope_policy = vec![rule(None, &["files:write"])];
    let error = config
        .validate()
        .and_then(|()| config.engine_config().map(drop));
    let text = error.unwrap_err().to_string();
    assert!(text.contains("scope_policy[0].scopes"), "{text}");
}

#[tokio::test]
async fn the_consent_page_is_never_shown_for_scopes_the_matrix_does_not_give() {
    // Alice signs in; the policy lets her hold none of what the client asks: no consent page to
    // click through, the refusal instead, carrying access_denied back to the client.
    let app = App::new(LoginMode::Local, "", |config| {
        config.scope_policy = vec![rule(Some(&["bob"]), &["mcp:tools"])];
    })
    .await;
    crate::support::add_user(&app.gatehouse, "alice", "correct horse").await;
    let client = app.public_client().await;
    let first = app.get(&app.authorize_url(&client.id)).await;
    let cookie = first.session_cookie();
    let csrf = crate::support::form_token(&first.text());
    let reply = app
        .sign_in(&client.id, &cookie, &csrf, "correct horse")
        .await;
    let page = reply.text();
    assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{page}");
    assert!(
        !page.contains("gatehouse_action\" value=\"approve"),
        "{page}"
    );
    assert!(page.contains("error=access_denied"), "{page}");
}
