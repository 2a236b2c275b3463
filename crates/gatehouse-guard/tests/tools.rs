//! Per-tool scopes on MCP JSON-RPC: `tools/call` refused before the server sees it, step-up
//! challenges (RFC 6750 §3.1, MCP 2025-11-25 scope challenges), `tools/list` filtered in JSON
//! and SSE responses.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use common::*;
use gatehouse_guard::{Guard, Principal};

const TOOLS: &str = r#"[{"name":"echo","inputSchema":{}},{"name":"delete_file","inputSchema":{}},{"name":"admin_reset","inputSchema":{}}]"#;

/// A small MCP server: answers `tools/list` (as JSON or as SSE, in awkward chunks), and echoes
/// anything else. Counts the calls it sees.
fn mcp_app(guard: &Guard, calls: Arc<AtomicUsize>) -> Router {
    let handler = move |_principal: Principal, headers: HeaderMap, body: String| {
        let calls = Arc::clone(&calls);
        async move {
            calls.fetch_add(1, Ordering::SeqCst);
            let request: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
            if request["method"] != "tools/list" {
                return Response::builder()
                    .header("content-type", "application/json")
                    .body(Body::from(body))
                    .unwrap();
            }
            let id = request["id"].to_string();
            let result = format!(r#"{{"jsonrpc":"2.0","id":{id},"result":{{"tools":{TOOLS}}}}}"#);
            if headers.get("x-respond-with").is_some_and(|v| v == "sse") {
                let (head, tail) = result.split_at(result.len() / 2);
                let chunks: Vec<Result<Bytes, Infallible>> = vec![
                    Ok(Bytes::from_static(b": ping\r\n\r\n")),
                    Ok(Bytes::from(format!("event: message\r\nid: ev-1\r\ndata: {head}"))),
                    Ok(Bytes::from(format!("{tail}\r"))),
                    Ok(Bytes::from_static(b"\n\r\n")),
                    Ok(Bytes::from_static(
                        b"data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"tools\":[]}}\n\n",
                    )),
                ];
                return Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from_stream(futures_util::stream::iter(chunks)))
                    .unwrap();
            }
            Response::builder()
                .header("content-type", "application/json; charset=utf-8")
                .header("content-length", result.len().to_string())
                .body(Body::from(result))
                .unwrap()
        }
    };
    Router::new()
        .route("/mcp", post(handler))
        .route_layer(guard.clone())
        .merge(guard.metadata_router())
}

/// `/mcp` behind `guard`, answering every POST with the JSON `answer`: a server whose answer a
/// test chooses.
fn answering(guard: Guard, answer: String) -> Router {
    Router::new()
        .route(
            "/mcp",
            post(move |_principal: Principal| {
                let answer = answer.clone();
                async move {
                    Response::builder()
                        .header("content-type", "application/json")
                        .body(Body::from(answer))
                        .unwrap()
                }
            }),
        )
        .route_layer(guard)
}

fn guard(key: &gatehouse_jose::SigningKey, filter: bool) -> Guard {
    builder(key, &TestClock::new())
        .required_scopes(["mcp:tools"])
        .tool_scope("delete_file", "files:write")
        .tool_scope("admin_reset", "mcp:admin")
        .filter_tools_list(filter)
        .build()
        .unwrap()
}

fn call(tool: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{{"name":"{tool}","arguments":{{"path":"/tmp/x"}}}}}}"#
    )
}

#[tokio::test]
async fn rfc6750_section_3_1_tools_call_without_the_tool_scope_is_403_before_the_server() {
    let key = key();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = mcp_app(&guard(&key, false), Arc::clone(&calls));
    let weak = token(&key, &claims("mcp:tools files:read"));

    let answer = send(&app, post_json(&weak, &call("delete_file"))).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let challenge = answer.challenge();
    assert_eq!(challenge.error().unwrap().as_str(), "insufficient_scope");
    assert_eq!(challenge.resource_metadata(), Some(METADATA_URL));
    // Required ∪ the tool's scope ∪ the token's supported scopes (`files:read` is not one).
    assert_eq!(
        challenge.scope().unwrap().to_string(),
        "files:write mcp:tools"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the server never saw the call"
    );

    // Tools without an entry, and other methods, pass.
    let answer = send(&app, post_json(&weak, &call("echo"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn mcp_step_up_keeps_existing_grants_and_then_succeeds() {
    let key = key();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = mcp_app(&guard(&key, false), Arc::clone(&calls));
    let first = token(&key, &claims("mcp:tools mcp:admin"));
    let answer = send(&app, post_json(&first, &call("delete_file"))).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let wanted = answer.challenge().scope().unwrap().to_string();
    assert_eq!(wanted, "files:write mcp:admin mcp:tools");

    let stepped_up = token(&key, &claims(&wanted));
    let body = call("delete_file");
    let answer = send(&app, post_json(&stepped_up, &body)).await;
    assert_eq!(answer.status, StatusCode::OK);
    // The body reaches the server byte for byte.
    assert_eq!(answer.body, body);
    // And the old grants still work.
    assert_eq!(
        send(&app, post_json(&stepped_up, &call("admin_reset")))
            .await
            .status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn jsonrpc_batches_are_checked_element_by_element() {
    let key = key();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = mcp_app(&guard(&key, false), Arc::clone(&calls));
    let weak = token(&key, &claims("mcp:tools"));
    let batch = format!("[{},{}]", call("echo"), call("admin_reset"));
    let answer = send(&app, post_json(&weak, &batch)).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert_eq!(
        answer.challenge().scope().unwrap().to_string(),
        "mcp:admin mcp:tools"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn rfc8259_section_4_ambiguous_bodies_are_refused() {
    let key = key();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = mcp_app(&guard(&key, false), Arc::clone(&calls));
    let weak = token(&key, &claims("mcp:tools"));
    // RFC 8259 §4: with repeated names "the behavior of software … is unpredictable"; the
    // guard and the server could read different tools.
    for body in [
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","name":"echo"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","name":"delete_file"}}"#,
        r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"},"method":"x"}"#,
        "{not json",
    ] {
        let answer = send(&app, post_json(&weak, body)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.error().as_deref(), Some("invalid_request"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn tools_call_is_checked_whatever_the_content_type() {
    let key = key();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = mcp_app(&guard(&key, false), Arc::clone(&calls));
    let weak = token(&key, &claims("mcp:tools"));
    for media in [
        "application/x-www-form-urlencoded",
        "text/plain",
        "application/json-seq",
    ] {
        let mut request = post_json(&weak, &call("delete_file"));
        request
            .headers_mut()
            .insert("content-type", media.parse().unwrap());
        assert_eq!(
            send(&app, request).await.status,
            StatusCode::FORBIDDEN,
            "{media}"
        );
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn cors_preflight_on_a_post_only_route() {
    let key = key();
    let app = mcp_app(&guard(&key, false), Arc::new(AtomicUsize::new(0)));
    let request = axum::http::Request::options("/mcp")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .body(Body::empty())
        .unwrap();
    let answer = send(&app, request).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(answer.headers["access-control-allow-origin"], "*");
}

#[tokio::test]
async fn bodies_over_the_bound_are_413() {
    let key = key();
    let guard = builder(&key, &TestClock::new())
        .tool_scope("delete_file", "files:write")
        .max_body_bytes(64)
        .build()
        .unwrap();
    let app = mcp_app(&guard, Arc::new(AtomicUsize::new(0)));
    let token = token(&key, &claims("mcp:tools"));
    let big = format!(
        r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{{"pad":"{}"}}}}"#,
        "x".repeat(100)
    );
    let answer = send(&app, post_json(&token, &big)).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.json()["error"], "invalid_request");
}

fn tool_names(message: &serde_json::Value) -> Vec<String> {
    message["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|tool| tool["name"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn tools_list_json_is_filtered_to_callable_tools() {
    let key = key();
    let app = mcp_app(&guard(&key, true), Arc::new(AtomicUsize::new(0)));
    let list = r#"{"jsonrpc":"2.0","id":"list-1","method":"tools/list"}"#;

    let answer = send(
        &app,
        post_json(&token(&key, &claims("mcp:tools files:write")), list),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK);
    // The server's Content-Length described the unfiltered body; what remains (axum's, from
    // the new body) describes the filtered one.
    if let Some(length) = answer.headers.get("content-length") {
        assert_eq!(length.to_str().unwrap(), answer.body.len().to_string());
    }
    let message = answer.json();
    assert_eq!(message["id"], "list-1");
    assert_eq!(tool_names(&message), ["echo", "delete_file"]);

    let answer = send(&app, post_json(&token(&key, &claims("mcp:tools")), list)).await;
    assert_eq!(tool_names(&answer.json()), ["echo"]);

    // Without the flag, nothing is filtered.
    let app = mcp_app(&guard(&key, false), Arc::new(AtomicUsize::new(0)));
    let answer = send(&app, post_json(&token(&key, &claims("mcp:tools")), list)).await;
    assert_eq!(
        tool_names(&answer.json()),
        ["echo", "delete_file", "admin_reset"]
    );
}

#[tokio::test]
async fn tools_list_sse_is_filtered_event_by_event() {
    let key = key();
    let app = mcp_app(&guard(&key, true), Arc::new(AtomicUsize::new(0)));
    let mut request = post_json(
        &token(&key, &claims("mcp:tools mcp:admin")),
        r#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#,
    );
    request
        .headers_mut()
        .insert("x-respond-with", "sse".parse().unwrap());
    let answer = send(&app, request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "text/event-stream");
    // Events the guard does not change pass byte for byte.
    assert!(answer.body.starts_with(": ping\r\n\r\n"), "{}", answer.body);
    let rest = &answer.body[": ping\r\n\r\n".len()..];
    let (listing, _) = rest.split_once("\n\n").unwrap();
    assert!(
        listing.starts_with("event: message\nid: ev-1\ndata: "),
        "{listing}"
    );
    let data = listing
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap();
    let message: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(message["id"], 7);
    assert_eq!(tool_names(&message), ["echo", "admin_reset"]);
    // A notification whose params happen to hold `tools` is not a tools/list response.
    assert!(answer.body.ends_with(
        "data: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/progress\",\"params\":{\"tools\":[]}}\n\n"
    ));
}

#[tokio::test]
async fn a_tools_call_in_a_body_of_another_method_is_checked_too() {
    // A server (or an upstream behind the gateway) may accept PUT, or honour a method-override
    // header: the guard reads every body, whatever the method.
    let key = key();
    let calls = Arc::new(AtomicUsize::new(0));
    let guard = guard(&key, false);
    let app = Router::new()
        .route(
            "/mcp",
            axum::routing::any({
                let calls = Arc::clone(&calls);
                move || {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async { "ran" }
                }
            }),
        )
        .route_layer(guard.clone());
    let weak = token(&key, &claims("mcp:tools"));
    for method in ["PUT", "PATCH", "GET", "DELETE"] {
        let request = axum::http::Request::builder()
            .method(method)
            .uri("/mcp")
            .header("authorization", format!("Bearer {weak}"))
            .header("x-http-method-override", "POST")
            .body(Body::from(call("delete_file")))
            .unwrap();
        let answer = send(&app, request).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{method}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn params_with_many_members_are_read_in_linear_time() {
    // Found in review: duplicate detection by list made a `params` object of 100,000 short
    // members cost minutes of CPU per request. With a set it is milliseconds; this test would
    // not finish with the old code.
    let key = key();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = mcp_app(&guard(&key, false), Arc::clone(&calls));
    let mut params = String::from("{");
    for i in 0..100_000 {
        if i > 0 {
            params.push(',');
        }
        params.push_str(&format!("\"{i}\":0"));
    }
    params.push('}');
    let body = format!(r#"{{"jsonrpc":"2.0","id":1,"method":"ping","params":{params}}}"#);
    let ok = token(&key, &claims("mcp:tools"));
    let answer = send(&app, post_json(&ok, &body)).await;
    assert_eq!(answer.status, StatusCode::OK);
}

/// CWE-400: a body the guard must read (per-tool scopes) but that arrives a byte at a time, or
/// never ends, is refused once the body timeout is over, before the server sees anything.
#[tokio::test]
async fn cwe_400_a_body_that_never_ends_is_refused_with_408() {
    let key = key();
    let guard = builder(&key, &TestClock::new())
        .required_scopes(["mcp:tools"])
        .tool_scope("admin_reset", "mcp:admin")
        .body_timeout(std::time::Duration::from_millis(200))
        .build()
        .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = mcp_app(&guard, Arc::clone(&calls));
    let endless = futures_util::stream::unfold((), |()| async {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        Some((Ok::<_, Infallible>(Bytes::from_static(b" ")), ()))
    });
    let request = axum::http::Request::post("/mcp")
        .header(
            "authorization",
            format!("Bearer {}", token(&key, &claims("mcp:tools"))),
        )
        .header("content-type", "application/json")
        .body(Body::from_stream(endless))
        .unwrap();
    let response = tower::ServiceExt::oneshot(app, request).await.unwrap();
    assert_eq!(response.status(), StatusCode::REQUEST_TIMEOUT);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn mcp_2026_07_28_a_filtered_tools_list_is_private_to_its_caller() {
    // CacheableResult: "private" lists may be reused "only within the same authorization
    // context"; a list the guard filters per caller is one, whatever the server said.
    let key = key();
    let guard = guard(&key, true);
    let app = answering(
        guard,
        format!(
            r#"{{"jsonrpc":"2.0","id":"l","result":{{"tools":{TOOLS},"ttlMs":60000,"cacheScope":"public"}}}}"#
        ),
    );
    let list = r#"{"jsonrpc":"2.0","id":"l","method":"tools/list"}"#;
    // Whether or not a tool was taken out for this caller.
    for scopes in ["mcp:tools", "mcp:tools files:write mcp:admin"] {
        let answer = send(&app, post_json(&token(&key, &claims(scopes)), list)).await;
        let message = answer.json();
        assert_eq!(message["result"]["cacheScope"], "private", "{message}");
        assert_eq!(message["result"]["ttlMs"], 60000, "{message}");
    }
}

#[tokio::test]
async fn mcp_2025_11_25_the_standalone_get_stream_is_filtered_too() {
    // A server may deliver a tools/list answer on the GET stream, or replay it there after a
    // `Last-Event-ID`: the guard saw no request for it, and filters every list of tools.
    let key = key();
    let guard = guard(&key, true);
    let app = Router::new()
        .route(
            "/mcp",
            axum::routing::get(|_principal: Principal| async {
                let event = format!(
                    "id: replayed-1\ndata: {{\"jsonrpc\":\"2.0\",\"id\":5,\"result\":{{\"tools\":{TOOLS}}}}}\n\n"
                );
                Response::builder()
                    .header("content-type", "text/event-stream")
                    .body(Body::from(event))
                    .unwrap()
            }),
        )
        .route_layer(guard);
    let request = axum::http::Request::get("/mcp")
        .header(
            "authorization",
            format!("Bearer {}", token(&key, &claims("mcp:tools"))),
        )
        .header("last-event-id", "replayed-0")
        .body(Body::empty())
        .unwrap();
    let answer = send(&app, request).await;
    assert_eq!(answer.status, StatusCode::OK);
    let data = answer
        .body
        .lines()
        .find_map(|line| line.strip_prefix("data: "))
        .unwrap();
    let message: serde_json::Value = serde_json::from_str(data).unwrap();
    assert_eq!(tool_names(&message), ["echo"]);
}

#[tokio::test]
async fn unmapped_tools_deny_closes_every_tool_without_a_scope() {
    let key = key();
    let calls = Arc::new(AtomicUsize::new(0));
    let guard = builder(&key, &TestClock::new())
        .required_scopes(["mcp:tools"])
        .tool_scope("delete_file", "files:write")
        .unmapped_tools(gatehouse_guard::UnmappedTools::Deny)
        .filter_tools_list(false)
        .build()
        .unwrap();
    let app = mcp_app(&guard, Arc::clone(&calls));
    let everything = token(&key, &claims("mcp:tools files:write mcp:admin"));

    // `echo` and `admin_reset` have no scope here: no token calls them, and no challenge
    // suggests a scope that would.
    for tool in ["echo", "admin_reset"] {
        let answer = send(&app, post_json(&everything, &call(tool))).await;
        assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
        assert_eq!(answer.json()["error"], "access_denied");
        assert!(!answer.headers.contains_key("www-authenticate"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // The mapped tool works with its scope.
    let answer = send(&app, post_json(&everything, &call("delete_file"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    // And the list shows only what can be called, even with filtering off.
    let list = r#"{"jsonrpc":"2.0","id":"l","method":"tools/list"}"#;
    let answer = send(&app, post_json(&everything, list)).await;
    assert_eq!(tool_names(&answer.json()), ["delete_file"]);
}

#[tokio::test]
async fn a_tools_list_answer_is_filtered_whatever_the_spelling_of_its_id() {
    // A server in JavaScript reads the id 1.0 as 1 and answers with `"id":1`.
    let key = key();
    let guard = guard(&key, true);
    let app = answering(
        guard,
        format!(r#"{{"jsonrpc":"2.0","id":1,"result":{{"tools":{TOOLS}}}}}"#),
    );
    let list = r#"{"jsonrpc":"2.0","id":1.0,"method":"tools/list"}"#;
    let answer = send(&app, post_json(&token(&key, &claims("mcp:tools")), list)).await;
    assert_eq!(tool_names(&answer.json()), ["echo"]);
}

#[tokio::test]
async fn a_tools_list_answer_the_guard_cannot_read_is_not_passed_on() {
    // A lone surrogate is JSON a lax client reads and serde_json refuses.
    let key = key();
    let guard = guard(&key, true);
    let app = answering(guard, r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"admin_reset","description":"\ud800"}]}}"#.to_owned());
    let list = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    let answer = send(&app, post_json(&token(&key, &claims("mcp:tools")), list)).await;
    assert_eq!(answer.status, StatusCode::BAD_GATEWAY);
    assert!(!answer.body.contains("admin_reset"));
}

#[tokio::test]
async fn mcp_2026_07_28_a_filtered_list_without_cache_scope_gets_private() {
    // From 2026-07-28 on every list result carries `cacheScope`; one missing from the server's
    // answer to a request of that revision is added, as "private".
    let key = key();
    let guard = guard(&key, true);
    let app = answering(
        guard,
        format!(r#"{{"jsonrpc":"2.0","id":"l","result":{{"tools":{TOOLS}}}}}"#),
    );
    let list = r#"{"jsonrpc":"2.0","id":"l","method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28"}}}"#;
    let request = axum::http::Request::post("/mcp")
        .header(
            "authorization",
            format!("Bearer {}", token(&key, &claims("mcp:tools"))),
        )
        .header("content-type", "application/json")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/list")
        .body(Body::from(list))
        .unwrap();
    let message = send(&app, request).await.json();
    assert_eq!(message["result"]["cacheScope"], "private", "{message}");
    // A request of an earlier revision gets no member its revision does not know.
    let older = r#"{"jsonrpc":"2.0","id":"l","method":"tools/list"}"#;
    let message = send(&app, post_json(&token(&key, &claims("mcp:tools")), older))
        .await
        .json();
    assert!(message["result"].get("cacheScope").is_none(), "{message}");
}
