//! MCP 2026-07-28 request metadata headers (Streamable HTTP, "Request Metadata" and "Server
//! Validation"): `Mcp-Method`, `Mcp-Name` and `MCP-Protocol-Version` must agree with the body;
//! a mismatch is `400` with the JSON-RPC error `HeaderMismatch` (-32020) and never reaches the
//! server. Older revisions without the headers pass as before.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::post;
use common::*;
use gatehouse_guard::Principal;

const V2026: &str = "2026-07-28";

/// `/mcp` behind a guard with no per-tool scopes (so only the headers make it read the body),
/// counting what reaches it.
fn counting_app(calls: Arc<AtomicUsize>) -> (Router, String) {
    let key = key();
    let guard = builder(&key, &TestClock::new()).build().unwrap();
    let app = Router::new()
        .route(
            "/mcp",
            post(move |_principal: Principal, body: String| {
                let calls = Arc::clone(&calls);
                async move {
                    calls.fetch_add(1, Ordering::SeqCst);
                    body
                }
            }),
        )
        .route_layer(guard);
    (app, token(&key, &claims("mcp:tools")))
}

fn call(name: &str, version: Option<&str>) -> String {
    let meta = version
        .map(|v| format!(r#","_meta":{{"io.modelcontextprotocol/protocolVersion":"{v}"}}"#))
        .unwrap_or_default();
    format!(
        r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"{name}","arguments":{{}}{meta}}}}}"#
    )
}

fn request(token: &str, headers: &[(&str, &str)], body: &str) -> Request<Body> {
    let mut request = Request::post("/mcp")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

/// A `HeaderMismatch` refusal that named the request's id and never reached the server.
fn assert_mismatch(answer: &Answer, calls: &AtomicUsize, id: serde_json::Value) {
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    let body = answer.json();
    assert_eq!(body["error"]["code"], -32020, "{body}");
    assert_eq!(body["id"], id, "{body}");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "a mismatch reached the server"
    );
}

#[tokio::test]
async fn mcp_2026_07_28_matching_headers_pass() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (app, token) = counting_app(Arc::clone(&calls));
    let headers = [
        ("mcp-protocol-version", V2026),
        ("mcp-method", "tools/call"),
        ("mcp-name", "get_weather"),
    ];
    let answer = send(
        &app,
        request(&token, &headers, &call("get_weather", Some(V2026))),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // Value Encoding: a name outside the header-safe set is carried Base64-encoded.
    let headers = [
        ("mcp-protocol-version", V2026),
        ("mcp-method", "tools/call"),
        ("mcp-name", "=?base64?SGVsbG8sIOS4lueVjA==?="),
    ];
    let answer = send(
        &app,
        request(&token, &headers, &call("Hello, 世界", Some(V2026))),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // resources/read mirrors params.uri.
    let read = format!(
        r#"{{"jsonrpc":"2.0","id":8,"method":"resources/read","params":{{"uri":"file:///a.txt","_meta":{{"io.modelcontextprotocol/protocolVersion":"{V2026}"}}}}}}"#
    );
    let headers = [
        ("mcp-protocol-version", V2026),
        ("mcp-method", "resources/read"),
        ("mcp-name", "file:///a.txt"),
    ];
    let answer = send(&app, request(&token, &headers, &read)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn mcp_2026_07_28_a_header_that_disagrees_with_the_body_never_reaches_the_server() {
    let id = serde_json::json!(7);
    for (headers, body) in [
        // Mcp-Method says one method, the body another.
        (
            vec![
                ("mcp-protocol-version", V2026),
                ("mcp-method", "tools/list"),
                ("mcp-name", "x"),
            ],
            call("x", Some(V2026)),
        ),
        // Mcp-Name routes to a harmless tool while the body calls another.
        (
            vec![
                ("mcp-protocol-version", V2026),
                ("mcp-method", "tools/call"),
                ("mcp-name", "read_only"),
            ],
            call("delete_everything", Some(V2026)),
        ),
        // The same with an encoded name.
        (
            vec![
                ("mcp-protocol-version", V2026),
                ("mcp-method", "tools/call"),
                ("mcp-name", "=?base64?cmVhZF9vbmx5?="),
            ],
            call("delete_everything", Some(V2026)),
        ),
        // A sentinel that holds no Base64.
        (
            vec![
                ("mcp-protocol-version", V2026),
                ("mcp-method", "tools/call"),
                ("mcp-name", "=?base64?%%%?="),
            ],
            call("x", Some(V2026)),
        ),
        // Required headers missing.
        (
            vec![("mcp-protocol-version", V2026), ("mcp-name", "x")],
            call("x", Some(V2026)),
        ),
        (
            vec![
                ("mcp-protocol-version", V2026),
                ("mcp-method", "tools/call"),
            ],
            call("x", Some(V2026)),
        ),
        // The protocol version of the header is not the body's.
        (
            vec![
                ("mcp-protocol-version", V2026),
                ("mcp-method", "tools/call"),
                ("mcp-name", "x"),
            ],
            call("x", Some("2025-11-25")),
        ),
        (
            vec![
                ("mcp-protocol-version", V2026),
                ("mcp-method", "tools/call"),
                ("mcp-name", "x"),
            ],
            call("x", None),
        ),
        // An older revision that still sends a routing header: it must be true too.
        (
            vec![
                ("mcp-protocol-version", "2025-11-25"),
                ("mcp-name", "read_only"),
            ],
            call("delete_everything", None),
        ),
    ] {
        let calls = Arc::new(AtomicUsize::new(0));
        let (app, token) = counting_app(Arc::clone(&calls));
        let answer = send(&app, request(&token, &headers, &body)).await;
        assert_mismatch(&answer, &calls, id.clone());
    }
}

#[tokio::test]
async fn mcp_2026_07_28_a_batch_cannot_be_mirrored() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (app, token) = counting_app(Arc::clone(&calls));
    let batch = format!("[{}]", call("x", Some(V2026)));
    let headers = [
        ("mcp-protocol-version", V2026),
        ("mcp-method", "tools/call"),
        ("mcp-name", "x"),
    ];
    let answer = send(&app, request(&token, &headers, &batch)).await;
    assert_mismatch(&answer, &calls, serde_json::Value::Null);
}

#[tokio::test]
async fn earlier_revisions_without_the_headers_pass_as_before() {
    let calls = Arc::new(AtomicUsize::new(0));
    let (app, token) = counting_app(Arc::clone(&calls));
    let answer = send(
        &app,
        request(
            &token,
            &[("mcp-protocol-version", "2025-11-25")],
            &call("x", None),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // A notification of the new revision needs no headers (the revision defines none for them).
    let notification = format!(
        r#"{{"jsonrpc":"2.0","method":"notifications/progress","params":{{"_meta":{{"io.modelcontextprotocol/protocolVersion":"{V2026}"}}}}}}"#
    );
    let answer = send(
        &app,
        request(&token, &[("mcp-protocol-version", V2026)], &notification),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn mcp_2026_07_28_review_cases_are_refused() {
    let id = serde_json::json!(7);
    for (headers, body) in [
        // Mcp-Name on a method that names nothing: a router behind might act on it.
        (
            vec![
                ("mcp-protocol-version", V2026),
                ("mcp-method", "tools/list"),
                ("mcp-name", "delete_file"),
            ],
            format!(
                r#"{{"jsonrpc":"2.0","id":7,"method":"tools/list","params":{{"_meta":{{"io.modelcontextprotocol/protocolVersion":"{V2026}"}}}}}}"#
            ),
        ),
        // The body speaks 2026-07-28 while the header says an older revision.
        (
            vec![
                ("mcp-protocol-version", "2025-11-25"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "x"),
            ],
            call("x", Some(V2026)),
        ),
    ] {
        let calls = Arc::new(AtomicUsize::new(0));
        let (app, token) = counting_app(Arc::clone(&calls));
        let answer = send(&app, request(&token, &headers, &body)).await;
        assert_mismatch(&answer, &calls, id.clone());
    }
}

#[tokio::test]
async fn a_request_with_a_null_id_is_refused() {
    // MCP: a request id "MUST NOT be null"; a response to it could not be told apart.
    let calls = Arc::new(AtomicUsize::new(0));
    let (app, token) = counting_app(Arc::clone(&calls));
    let body = r#"{"jsonrpc":"2.0","id":null,"method":"tools/list"}"#;
    let answer = send(&app, request(&token, &[("mcp-method", "tools/list")], body)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn mirrored_headers_on_a_bodiless_get_go_no_further() {
    let key = key();
    let guard = builder(&key, &TestClock::new()).build().unwrap();
    let app = Router::new()
        .route(
            "/mcp",
            axum::routing::get(
                |_principal: Principal, headers: axum::http::HeaderMap| async move {
                    format!(
                        "{}|{}",
                        headers.contains_key("mcp-method"),
                        headers.contains_key("mcp-name")
                    )
                },
            ),
        )
        .route_layer(guard);
    let request = Request::get("/mcp")
        .header(
            "authorization",
            format!("Bearer {}", token(&key, &claims("mcp:tools"))),
        )
        .header("mcp-method", "tools/call")
        .header("mcp-name", "admin_reset")
        .body(Body::empty())
        .unwrap();
    let answer = send(&app, request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.body, "false|false");
}

#[tokio::test]
async fn a_meta_member_repeated_is_refused() {
    // Two protocol versions in one `_meta`: a server that keeps the first would read another
    // than the guard checked.
    let calls = Arc::new(AtomicUsize::new(0));
    let (app, token) = counting_app(Arc::clone(&calls));
    let body = format!(
        r#"{{"jsonrpc":"2.0","id":7,"method":"tools/call","params":{{"name":"x","_meta":{{"io.modelcontextprotocol/protocolVersion":"2025-11-25","io.modelcontextprotocol/protocolVersion":"{V2026}"}}}}}}"#
    );
    let headers = [
        ("mcp-protocol-version", V2026),
        ("mcp-method", "tools/call"),
        ("mcp-name", "x"),
    ];
    let answer = send(&app, request(&token, &headers, &body)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn mcp_2026_07_28_a_body_of_that_revision_without_any_header_is_refused_when_the_guard_reads_it()
 {
    // Nothing in front routed on headers that are absent; the server must still refuse the
    // request ("Server Validation"), and a guard that reads the body (per-tool scopes, or the
    // audit) does it first.
    let key = key();
    for builder in [
        builder(&key, &TestClock::new()).tool_scope("delete_file", "files:write"),
        builder(&key, &TestClock::new()).audit(|_: gatehouse_guard::AuditedCall| {}),
    ] {
        let calls = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&calls);
        let app = Router::new()
            .route(
                "/mcp",
                post(move |_principal: Principal, body: String| {
                    let calls = Arc::clone(&counted);
                    async move {
                        calls.fetch_add(1, Ordering::SeqCst);
                        body
                    }
                }),
            )
            .route_layer(builder.build().unwrap());
        let token = token(&key, &claims("mcp:tools"));
        let answer = send(&app, request(&token, &[], &call("echo", Some(V2026)))).await;
        assert_mismatch(&answer, &calls, serde_json::json!(7));
        // Earlier revisions, and batches of them, still need none.
        let answer = send(&app, request(&token, &[], &call("echo", None))).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        let batch = format!("[{},{}]", call("echo", None), call("other", None));
        let answer = send(&app, request(&token, &[], &batch)).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
}
