//! RFC 9728 metadata served at its path-inserted well-known URL, and CORS for browser clients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use gatehouse_guard::Cors;
use gatehouse_resource_metadata::ProtectedResourceMetadata;

#[tokio::test]
async fn rfc9728_section_3_1_metadata_at_the_path_inserted_url() {
    let (key, clock) = (key(), TestClock::new());
    let guard = builder(&key, &clock)
        .required_scopes(["mcp:tools"])
        .tool_scope("delete_file", "files:write")
        .scopes_supported(["mcp:admin"])
        .resource_name("Test MCP server")
        .build()
        .unwrap();
    assert_eq!(guard.metadata_url(), METADATA_URL);
    assert_eq!(
        guard.metadata_path(),
        "/.well-known/oauth-protected-resource/mcp"
    );
    let app = app(&guard);
    let request = Request::get("/.well-known/oauth-protected-resource/mcp")
        .body(Body::empty())
        .unwrap();
    let answer = send(&app, request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.headers["content-type"], "application/json");
    let document = ProtectedResourceMetadata::from_json(answer.body.as_bytes()).unwrap();
    // RFC 9728 §3.3: `resource` identical to the identifier the URL was built from.
    document.check_resource(RESOURCE).unwrap();
    document.validate_for_mcp().unwrap();
    assert_eq!(
        document.authorization_servers,
        Some(vec![ISSUER.to_owned()])
    );
    let scopes: Vec<&str> = document
        .scopes_supported
        .as_ref()
        .unwrap()
        .iter()
        .map(|s| s.as_str())
        .collect();
    // The per-tool map and the required scopes feed the document: they never disagree.
    assert_eq!(scopes, ["files:write", "mcp:admin", "mcp:tools"]);
    assert_eq!(
        answer.json()["bearer_methods_supported"],
        serde_json::json!(["header"])
    );
    assert_eq!(document.resource_name.as_deref(), Some("Test MCP server"));

    // The challenge points at it.
    let answer = send(&app, get(None)).await;
    assert_eq!(answer.challenge().resource_metadata(), Some(METADATA_URL));
}

#[tokio::test]
async fn rfc9728_section_3_1_root_resource_metadata_path() {
    let root = gatehouse_guard::Guard::builder(
        ISSUER,
        "https://mcp.example.com/",
        gatehouse_guard::Verification::key_source(gatehouse_guard::StaticKeys::new(
            gatehouse_jose::KeySet::default(),
        )),
    )
    .build()
    .unwrap();
    assert_eq!(
        root.metadata_path(),
        "/.well-known/oauth-protected-resource"
    );
    assert_eq!(
        root.metadata_url(),
        "https://mcp.example.com/.well-known/oauth-protected-resource"
    );
}

#[tokio::test]
async fn cors_preflight_needs_no_token() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).build().unwrap());
    let request = Request::options("/mcp")
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "authorization, content-type, mcp-protocol-version",
        )
        .body(Body::empty())
        .unwrap();
    let answer = send(&app, request).await;
    assert_eq!(answer.status, StatusCode::NO_CONTENT);
    assert_eq!(answer.headers["access-control-allow-origin"], "*");
    let allowed = answer.headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    for header in [
        "authorization",
        "content-type",
        "mcp-protocol-version",
        "mcp-session-id",
        "last-event-id",
    ] {
        assert!(allowed.contains(header), "{header}");
    }
    assert!(
        answer.headers["access-control-allow-methods"]
            .to_str()
            .unwrap()
            .contains("POST")
    );
}

#[tokio::test]
async fn cors_headers_on_challenges_and_successes() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock)
        .required_scopes(["mcp:tools"])
        .build()
        .unwrap());
    let with_origin = |token: Option<&str>| {
        let mut request = get(token);
        request
            .headers_mut()
            .insert("origin", "https://app.example.com".parse().unwrap());
        request
    };
    for (token, status) in [
        (None, StatusCode::UNAUTHORIZED),
        (Some(token(&key, &claims("other"))), StatusCode::FORBIDDEN),
        (Some(token(&key, &claims("mcp:tools"))), StatusCode::OK),
    ] {
        let answer = send(&app, with_origin(token.as_deref())).await;
        assert_eq!(answer.status, status);
        assert_eq!(answer.headers["access-control-allow-origin"], "*");
        let exposed = answer.headers["access-control-expose-headers"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(exposed.contains("www-authenticate"));
        assert!(exposed.contains("mcp-session-id"));
    }
    // The metadata document too.
    let request = Request::get("/.well-known/oauth-protected-resource/mcp")
        .header("origin", "https://app.example.com")
        .body(Body::empty())
        .unwrap();
    assert_eq!(
        send(&app, request).await.headers["access-control-allow-origin"],
        "*"
    );
}

#[tokio::test]
async fn cors_origin_list_and_disabled() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock)
        .cors(Cors::origins(["https://app.example.com"]))
        .build()
        .unwrap());
    let preflight = |origin: &str| {
        Request::options("/mcp")
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .body(Body::empty())
            .unwrap()
    };
    let allowed = send(&app, preflight("https://app.example.com")).await;
    assert_eq!(
        allowed.headers["access-control-allow-origin"],
        "https://app.example.com"
    );
    assert_eq!(allowed.headers["vary"], "Origin");
    let refused = send(&app, preflight("https://evil.example.com")).await;
    assert!(!refused.headers.contains_key("access-control-allow-origin"));

    let app = common::app(
        &builder(&key, &clock)
            .cors(Cors::disabled())
            .build()
            .unwrap(),
    );
    let answer = send(&app, preflight("https://app.example.com")).await;
    assert_eq!(
        answer.status,
        StatusCode::UNAUTHORIZED,
        "a preflight is an ordinary request"
    );
    assert!(!answer.headers.contains_key("access-control-allow-origin"));
}
