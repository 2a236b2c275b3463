//! Protected resources served by the authorization server's process, over real HTTP: the
//! built-in demo MCP server behind the guard (challenges, per-tool scopes and step-up, revocation
//! from the next request on, RFC 9728 metadata) and gateway mode in front of another server
//! (no token passthrough, identity headers, streaming).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::sync::{Arc, Mutex};

use axum::http::HeaderMap;
use gatehouse_axum::Config;
use reqwest::StatusCode;
use reqwest::header::{LOCATION, WWW_AUTHENTICATE};
use serde_json::{Value, json};

mod support;

use support::{CHALLENGE, REDIRECT, VERIFIER, encode, form};

struct Server {
    base: String,
    http: reqwest::Client,
    client_id: String,
}

async fn server(edit: impl FnOnce(&mut Config, &str)) -> Server {
    let base = support::serve(edit).await;
    Server::registered(base).await
}

impl Server {
    /// A client registered at `base`.
    async fn registered(base: String) -> Self {
        let http = support::http();
        let registered: Value = http
            .post(format!("{base}/register"))
            .json(&json!({
                "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
                "grant_types": ["authorization_code", "refresh_token"], "client_name": "Tester"
            }))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Server {
            base,
            http,
            client_id: registered["client_id"].as_str().unwrap().to_owned(),
        }
    }
}

impl Server {
    /// An access token for `scope` through the whole flow (auto-approve).
    async fn token(&self, scope: &str) -> String {
        let url = format!(
            "{}/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&scope={}&resource={}",
            self.base,
            self.client_id,
            encode(REDIRECT),
            encode(scope),
            encode(&format!("{}/mcp", self.base)),
        );
        let response = self.http.get(url).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
        let code = form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
            .find(|(k, _)| k == "code")
            .unwrap()
            .1
            .into_owned();
        let body = form(&[
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", self.client_id.as_str()),
        ]);
        let tokens: Value = self
            .http
            .post(format!("{}/token", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        tokens["access_token"].as_str().unwrap().to_owned()
    }

    async fn revoke(&self, token: &str) {
        let body = form(&[("token", token), ("client_id", self.client_id.as_str())]);
        let response = self
            .http
            .post(format!("{}/revoke", self.base))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }

    /// One JSON-RPC message to `/mcp`.
    async fn mcp(
        &self,
        token: Option<&str>,
        session: Option<&str>,
        message: Value,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(format!("{}/mcp", self.base))
            .header("accept", "application/json, text/event-stream")
            .header("content-type", "application/json")
            .header("mcp-protocol-version", "2025-11-25")
            .json(&message);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(session) = session {
            request = request.header("mcp-session-id", session);
        }
        request.send().await.unwrap()
    }

    /// Initializes an MCP session; its id.
    async fn session(&self, token: &str) -> String {
        let response = self
            .mcp(
                Some(token),
                None,
                json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-11-25", "capabilities": {},
                    "clientInfo": {"name": "test", "version": "1"}}}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::OK);
        let session = response.headers()["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let answer = rpc_result(response).await;
        assert_eq!(answer["result"]["serverInfo"]["name"], "gatehouse-demo");
        let response = self
            .mcp(
                Some(token),
                Some(&session),
                json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        session
    }

    async fn call(
        &self,
        token: &str,
        session: &str,
        tool: &str,
        arguments: Value,
    ) -> reqwest::Response {
        self.mcp(
            Some(token),
            Some(session),
            json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                   "params": {"name": tool, "arguments": arguments}}),
        )
        .await
    }
}

/// The JSON-RPC answer in a JSON or SSE response.
async fn rpc_result(response: reqwest::Response) -> Value {
    let text = response.text().await.unwrap();
    if let Ok(value) = serde_json::from_str(&text) {
        return value;
    }
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|message| message.get("id").is_some())
        .unwrap_or_else(|| panic!("no JSON-RPC answer in {text}"))
}

fn challenge(response: &reqwest::Response) -> String {
    response.headers()[WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn the_demo_server_behind_the_guard() {
    let server = server(|config, base| config.resources[0].resource = format!("{base}/mcp")).await;
    let metadata_url = format!("{}/.well-known/oauth-protected-resource/mcp", server.base);

    // RFC 9728 §5.1 / MCP: no token, a challenge naming the metadata.
    let response = server
        .mcp(
            None,
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        )
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let header = challenge(&response);
    assert!(header.starts_with("Bearer "), "{header}");
    assert!(
        header.contains(&format!("resource_metadata=\"{metadata_url}\"")),
        "{header}"
    );

    // The document it names, and the root one.
    for url in [
        metadata_url.clone(),
        format!("{}/.well-known/oauth-protected-resource", server.base),
    ] {
        let document: Value = server
            .http
            .get(&url)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(
            document["resource"],
            format!("{}/mcp", server.base),
            "{url}"
        );
        assert_eq!(document["authorization_servers"][0], server.base);
        assert_eq!(
            document["scopes_supported"],
            json!(["mcp:admin", "mcp:tools"])
        );
    }

    let token = server.token("mcp:tools").await;
    let session = server.session(&token).await;
    let echoed = rpc_result(
        server
            .call(&token, &session, "echo", json!({"text": "hi"}))
            .await,
    )
    .await;
    assert_eq!(echoed["result"]["content"][0]["text"], "hi", "{echoed}");
    let me = rpc_result(server.call(&token, &session, "whoami", json!({})).await).await;
    let me = &me["result"]["structuredContent"];
    assert_eq!(me["subject"], "alice", "{me}");
    assert_eq!(me["client_id"], server.client_id.as_str());
    assert_eq!(me["scopes"], json!(["mcp:tools"]));

    // tools/list shows only what this token may call.
    let listed = rpc_result(
        server
            .mcp(
                Some(&token),
                Some(&session),
                json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}),
            )
            .await,
    )
    .await;
    let names: Vec<&str> = listed["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"echo") && !names.contains(&"admin_reset"),
        "{names:?}"
    );

    // Per-tool scope: 403 insufficient_scope naming the scopes to step up to.
    let response = server
        .call(&token, &session, "admin_reset", json!({}))
        .await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    let header = challenge(&response);
    assert!(header.contains("error=\"insufficient_scope\""), "{header}");
    assert!(header.contains("scope=\"mcp:admin mcp:tools\""), "{header}");
    let stepped_up = server.token("mcp:tools mcp:admin").await;
    let session = server.session(&stepped_up).await;
    let reset = rpc_result(
        server
            .call(&stepped_up, &session, "admin_reset", json!({}))
            .await,
    )
    .await;
    assert!(
        reset["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("Nothing was reset"),
        "{reset}"
    );

    // Revocation: refused from the next request on, though the guard had it cached.
    server.revoke(&stepped_up).await;
    let response = server
        .call(&stepped_up, &session, "echo", json!({"text": "x"}))
        .await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(challenge(&response).contains("error=\"invalid_token\""));

    // A token in the query string is refused (OAuth 2.1 §5.1.1 / RFC 6750 §2.3).
    let response = server
        .http
        .post(format!("{}/mcp?access_token={token}", server.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
}

/// What the upstream saw of the last request.
#[derive(Default, Clone)]
struct Seen(Arc<Mutex<Option<HeaderMap>>>);

async fn upstream() -> (String, Seen) {
    use axum::response::sse::{Event, Sse};
    let seen = Seen::default();
    let recorder = seen.clone();
    let app = axum::Router::new().route(
        "/mcp",
        axum::routing::any(move |headers: HeaderMap, body: String| {
            let recorder = recorder.clone();
            async move {
                *recorder.0.lock().unwrap() = Some(headers);
                let events = vec![
                    Ok::<_, std::convert::Infallible>(Event::default().data("first")),
                    Ok(Event::default().data(format!("echo:{body}"))),
                ];
                (
                    [("mcp-session-id", "upstream-session")],
                    Sse::new(futures_util::stream::iter(events)),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}/mcp"), seen)
}

#[tokio::test]
async fn gateway_mode_forwards_identity_never_the_token() {
    let (upstream_url, seen) = upstream().await;
    let server = server(|config, base| {
        config.resources[0].resource = format!("{base}/mcp");
        config.resources[0].builtin = None;
        config.resources[0].upstream = Some(upstream_url.clone());
    })
    .await;
    let token = server.token("mcp:tools").await;
    let response = server
        .http
        .post(format!("{}/mcp", server.base))
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("x-gatehouse-subject", "root")
        .header("x-gatehouse-extra", "forged")
        .header("x-gatehouse.subject", "root")
        .header("cookie", "gatehouse-session=secret")
        .header("x-original-url", "/admin")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    // The upstream's session id, bound to this caller (MCP security best practices).
    let session = response.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(session.starts_with("upstream-session."), "{session}");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream")
    );
    let text = response.text().await.unwrap();
    assert!(text.contains("data: first"), "{text}");
    assert!(
        text.contains(r#"echo:{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
        "{text}"
    );

    let headers = seen.0.lock().unwrap().clone().unwrap();
    assert!(
        headers.get("authorization").is_none(),
        "no token passthrough"
    );
    assert_eq!(headers["x-gatehouse-subject"], "alice");
    assert_eq!(headers["x-gatehouse-client-id"], server.client_id.as_str());
    assert_eq!(headers["x-gatehouse-scope"], "mcp:tools");
    assert_eq!(headers["x-gatehouse-issuer"], server.base.as_str());
    assert!(
        headers.get("x-gatehouse-extra").is_none(),
        "forged identity headers are dropped"
    );
    for name in [
        "x-gatehouse.subject",
        "cookie",
        "x-original-url",
        "mcp-session-id",
    ] {
        assert!(headers.get(name).is_none(), "{name} crossed: {headers:?}");
    }
    // The bound session id reaches the upstream as its own.
    let response = server
        .http
        .post(format!("{}/mcp", server.base))
        .bearer_auth(&token)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-session-id", &session)
        .body(r#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = seen.0.lock().unwrap().clone().unwrap();
    assert_eq!(headers["mcp-session-id"], "upstream-session");

    // The standalone SSE stream: a GET crosses too, and arrives as one without a body.
    let response = server
        .http
        .get(format!("{}/mcp", server.base))
        .bearer_auth(&token)
        .header("accept", "text/event-stream")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = seen.0.lock().unwrap().clone().unwrap();
    assert!(headers.get("transfer-encoding").is_none(), "{headers:?}");
    assert!(
        headers
            .get("content-length")
            .is_none_or(|length| length == "0"),
        "{headers:?}"
    );

    // Only the methods of MCP's Streamable HTTP transport cross the gateway.
    *seen.0.lock().unwrap() = None;
    let response = server
        .http
        .put(format!("{}/mcp", server.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "GET, POST, DELETE");
    assert!(seen.0.lock().unwrap().is_none());

    // Without a token nothing reaches the upstream.
    *seen.0.lock().unwrap() = None;
    let response = server
        .http
        .post(format!("{}/mcp", server.base))
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(seen.0.lock().unwrap().is_none());
}

/// MCP security best practices, session hijacking: a session id is good only with a token of the
/// subject and client that opened the session; anyone else gets 404 and nothing is forwarded.
#[tokio::test]
async fn mcp_sessions_are_bound_to_the_subject_and_client_that_opened_them() {
    // The built-in demo server.
    let owner = server(|config, base| config.resources[0].resource = format!("{base}/mcp")).await;
    let other = Server::registered(owner.base.clone()).await;
    let (mine, theirs) = (
        owner.token("mcp:tools").await,
        other.token("mcp:tools").await,
    );
    let session = owner.session(&mine).await;
    let echo = json!({"text": "hi"});
    assert_eq!(
        owner
            .call(&mine, &session, "echo", echo.clone())
            .await
            .status(),
        StatusCode::OK
    );
    let hijack = other.call(&theirs, &session, "echo", echo.clone()).await;
    assert_eq!(hijack.status(), StatusCode::NOT_FOUND);
    assert!(hijack.headers().get(WWW_AUTHENTICATE).is_none());
    // The server's own id, without the binding, is not a session either.
    let (raw, _) = session.rsplit_once('.').unwrap();
    assert_eq!(
        owner.call(&mine, raw, "echo", echo.clone()).await.status(),
        StatusCode::NOT_FOUND
    );
    // Nor can another caller end the session.
    let delete = owner
        .http
        .delete(format!("{}/mcp", owner.base))
        .bearer_auth(&theirs)
        .header("mcp-session-id", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(delete.status(), StatusCode::NOT_FOUND);
    assert_eq!(
        owner.call(&mine, &session, "echo", echo).await.status(),
        StatusCode::OK,
        "the owner's session survives"
    );

    // Through the gateway: the upstream never sees the hijacker's request.
    let (upstream_url, seen) = upstream().await;
    let owner = server(|config, base| {
        config.resources[0].resource = format!("{base}/mcp");
        config.resources[0].builtin = None;
        config.resources[0].upstream = Some(upstream_url.clone());
    })
    .await;
    let other = Server::registered(owner.base.clone()).await;
    let (mine, theirs) = (
        owner.token("mcp:tools").await,
        other.token("mcp:tools").await,
    );
    let opened = owner
        .mcp(
            Some(&mine),
            None,
            json!({"jsonrpc": "2.0", "id": 1, "method": "ping"}),
        )
        .await;
    let session = opened.headers()["mcp-session-id"]
        .to_str()
        .unwrap()
        .to_owned();
    *seen.0.lock().unwrap() = None;
    let hijack = other
        .mcp(
            Some(&theirs),
            Some(&session),
            json!({"jsonrpc": "2.0", "id": 2, "method": "ping"}),
        )
        .await;
    assert_eq!(hijack.status(), StatusCode::NOT_FOUND);
    assert!(
        seen.0.lock().unwrap().is_none(),
        "a hijack reached the upstream"
    );
}

#[tokio::test]
async fn an_unreachable_upstream_is_a_bad_gateway() {
    let server = server(|config, base| {
        config.resources[0].resource = format!("{base}/mcp");
        config.resources[0].builtin = None;
        // A port nobody listens on.
        config.resources[0].upstream = Some("http://127.0.0.1:9/mcp".into());
    })
    .await;
    let token = server.token("mcp:tools").await;
    let response = server
        .http
        .post(format!("{}/mcp", server.base))
        .bearer_auth(&token)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
}

/// Whatever method or CORS preflight reaches a resource's path meets its guard, through the whole
/// router, with the issuer under a path of its own or not; the paths beside it are not the
/// resource's.
#[tokio::test]
async fn every_request_to_a_resource_meets_its_guard_through_the_whole_router() {
    for issuer_path in ["", "/tenant"] {
        let base = support::serve(|config, base| {
            config.issuer = format!("{base}{issuer_path}");
            config.resources[0].resource = format!("{base}/mcp");
        })
        .await;
        let http = support::http();
        let mcp = format!("{base}/mcp");
        // RFC 6750 §3.1: no token, a challenge, whatever the method.
        for method in ["GET", "POST", "DELETE", "HEAD", "PUT", "PATCH"] {
            let response = http
                .request(method.parse().unwrap(), &mcp)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::UNAUTHORIZED,
                "{method} {mcp} ({issuer_path:?})"
            );
            assert!(
                response.headers()[WWW_AUTHENTICATE]
                    .to_str()
                    .unwrap()
                    .contains("resource_metadata="),
                "{method} ({issuer_path:?})"
            );
        }
        // A CORS preflight carries no token, and the guard answers it (MCP authorization:
        // browser-based clients).
        let preflight = http
            .request(reqwest::Method::OPTIONS, &mcp)
            .header("origin", "https://app.example.com")
            .header("access-control-request-method", "POST")
            .header("access-control-request-headers", "authorization")
            .send()
            .await
            .unwrap();
        assert_eq!(
            preflight.status(),
            StatusCode::NO_CONTENT,
            "{issuer_path:?}"
        );
        assert!(
            preflight
                .headers()
                .contains_key("access-control-allow-methods")
        );
        // RFC 9728 §3.1: the resource's metadata, path-inserted.
        let metadata = http
            .get(format!("{base}/.well-known/oauth-protected-resource/mcp"))
            .send()
            .await
            .unwrap();
        assert_eq!(metadata.status(), StatusCode::OK, "{issuer_path:?}");
        // Neither a path beside the resource nor one under the issuer that nothing serves.
        for path in ["/mcp/", "/mcp/x", "/mcpx", "/nothing", "/tenant/nothing"] {
            let response = http.get(format!("{base}{path}")).send().await.unwrap();
            assert_eq!(
                response.status(),
                StatusCode::NOT_FOUND,
                "{path} ({issuer_path:?})"
            );
        }
    }
}

/// A built-in server is asked whether it is ready only for a request its guard passes on. One
/// that limits its concurrency must not hold up the guard's refusals: a few anonymous clients
/// sending their bodies slowly would otherwise keep every caller waiting for a permit.
#[tokio::test]
async fn a_builtin_server_at_capacity_does_not_hold_up_its_guard() {
    /// A server with no capacity left: never ready.
    #[derive(Clone)]
    struct AtCapacity;

    impl tower::Service<axum::extract::Request> for AtCapacity {
        type Response = axum::response::Response;
        type Error = std::convert::Infallible;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            std::task::Poll::Pending
        }

        fn call(&mut self, _: axum::extract::Request) -> Self::Future {
            panic!("called without being ready")
        }
    }

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let base = format!("http://{address}");
    let mut config = support::config(address);
    config.rate_limits.enabled = false;
    config.resources[0].resource = format!("{base}/mcp");
    config.resources[0].builtin = Some("at-capacity".into());
    let mut extensions = gatehouse_axum::Extensions::default();
    extensions.builtins.insert(
        "at-capacity".into(),
        gatehouse_axum::BuiltinServer::new(AtCapacity),
    );
    let http_config = config.http.clone();
    let router = support::build_with(config, extensions)
        .await
        .unwrap()
        .router();
    tokio::spawn(async move {
        gatehouse_axum::serve(listener, router, &http_config, std::future::pending())
            .await
            .unwrap()
    });
    let http = support::http();
    let ask = |request: reqwest::RequestBuilder| async move {
        tokio::time::timeout(std::time::Duration::from_secs(10), request.send())
            .await
            .expect("the guard waited for the server's capacity")
            .unwrap()
    };
    // RFC 6750 §3.1: no token, a challenge, at once.
    let anonymous = ask(http
        .post(format!("{base}/mcp"))
        .header("content-type", "application/json")
        .body("{}"))
    .await;
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    assert!(anonymous.headers().contains_key(WWW_AUTHENTICATE));
    let forged = ask(http
        .post(format!("{base}/mcp"))
        .bearer_auth("not.a.token")
        .header("content-type", "application/json")
        .body("{}"))
    .await;
    assert_eq!(forged.status(), StatusCode::UNAUTHORIZED);
}

/// Why the `--demo` configuration, changed by `edit`, does not start.
async fn start_error(edit: impl FnOnce(&mut Config)) -> String {
    let mut config = Config::demo("127.0.0.1:8080".parse().unwrap());
    config.database = gatehouse_store::DatabaseUrl::Memory;
    edit(&mut config);
    support::build(config).await.unwrap_err().to_string()
}

#[tokio::test]
async fn a_resource_may_not_take_a_server_path() {
    let error = start_error(|config| {
        config.resources[0].resource = "http://127.0.0.1:8080/token".into();
    })
    .await;
    assert!(error.contains("resources[0].resource"), "{error}");
}

#[tokio::test]
async fn two_resources_may_not_share_a_metadata_document() {
    let error = start_error(|config| {
        let mut twin = config.resources[0].clone();
        twin.resource = "http://127.0.0.1:8080/mcp/".into();
        config.resources.push(twin);
    })
    .await;
    assert!(error.contains("resources[1].resource"), "{error}");
}

/// RFC 9728 §3.1: the first resource's document is also served at the root well-known path
/// (`RootMetadata`); a resource at the host's root, whose own document lives there, is refused
/// at start rather than taking the server down with a route conflict.
#[tokio::test]
async fn a_root_resource_may_not_take_the_root_document_of_the_first() {
    for issuer in ["http://127.0.0.1:8080", "http://127.0.0.1:8080/tenant"] {
        let error = start_error(|config| {
            config.issuer = issuer.into();
            let mut root = config.resources[0].clone();
            root.resource = "http://127.0.0.1:8080".into();
            config.resources.push(root);
        })
        .await;
        assert!(error.contains("resources[1].resource"), "{issuer}: {error}");
    }
}

#[test]
fn a_tool_scope_must_be_one_the_server_grants() {
    let mut config = Config::demo("127.0.0.1:8080".parse().unwrap());
    config.resources[0]
        .tool_scopes
        .insert("delete_file".into(), "files:write".into());
    let error = config.validate().unwrap_err().to_string();
    assert!(error.contains("resources[0].tool_scopes"), "{error}");
    assert!(error.contains("files:write"), "{error}");
}

/// A real MCP server with no guard: the demo server (rmcp), on a port of its own.
async fn unguarded_mcp_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let app = gatehouse_axum::unguarded_demo_server(vec!["127.0.0.1".into()]);
    tokio::spawn(async move { axum::serve(listener, app).await });
    format!("http://{address}/mcp")
}

#[tokio::test]
async fn tool_drift_is_an_unmapped_tool_or_a_mapping_whose_tool_is_gone() {
    let upstream = unguarded_mcp_server().await;
    let mut config = Config::demo(std::net::SocketAddr::from(([127, 0, 0, 1], 8080)));
    let resource = &mut config.resources[0];
    resource.builtin = None;
    resource.upstream = Some(upstream.clone());
    // The demo server offers echo, whoami and admin_reset.
    resource.tool_scopes = [
        ("echo", "mcp:tools"),
        ("whoami", "mcp:tools"),
        ("admin_reset", "mcp:admin"),
    ]
    .into_iter()
    .map(|(t, s)| (t.to_owned(), s.to_owned()))
    .collect();
    let [(_, report)] = <[_; 1]>::try_from(gatehouse_axum::drift::check(&config).await).unwrap();
    let report = report.unwrap();
    assert_eq!(report.upstream, upstream);
    assert_eq!(report.tools.len(), 3);
    assert!(!report.drifted(), "{report:?}");

    // The server's release renamed a tool: the old mapping guards nothing, the new tool has none.
    let resource = &mut config.resources[0];
    resource.tool_scopes.remove("whoami");
    resource
        .tool_scopes
        .insert("who_am_i".into(), "mcp:tools".into());
    let [(_, report)] = <[_; 1]>::try_from(gatehouse_axum::drift::check(&config).await).unwrap();
    let report = report.unwrap();
    assert!(report.drifted());
    assert_eq!(report.unmapped().collect::<Vec<_>>(), ["whoami"]);
    assert_eq!(report.stale, ["who_am_i"]);
    assert_eq!(report.tools["whoami"], None);
    assert_eq!(report.tools["admin_reset"].as_deref(), Some("mcp:admin"));

    // An upstream that is not there is an error, not "no tools".
    config.resources[0].upstream = Some("http://127.0.0.1:9/mcp".into());
    let [(_, report)] = <[_; 1]>::try_from(gatehouse_axum::drift::check(&config).await).unwrap();
    assert!(report.is_err());
    // Credentials an upstream URL carries reach no message (they are logged and printed).
    config.resources[0].upstream = Some("http://ops:hunter2@127.0.0.1:9/mcp?key=s3cret".into());
    let [(_, report)] = <[_; 1]>::try_from(gatehouse_axum::drift::check(&config).await).unwrap();
    let message = report.unwrap_err().to_string();
    assert!(message.contains("127.0.0.1:9"), "{message}");
    assert!(
        !message.contains("hunter2") && !message.contains("s3cret"),
        "{message}"
    );
}
