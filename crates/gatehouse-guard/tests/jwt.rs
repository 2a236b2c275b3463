//! Local JWT verification through the layer: RFC 9068 §4, RFC 6750 §2–3, RFC 8707, RFC 9728
//! §5.1 challenges, the verified-token cache and the revocation hook.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Body;
use axum::http::{Request, StatusCode};
use base64ct::{Base64UrlUnpadded, Encoding};
use common::*;
use futures_util::future::{self, BoxFuture};
use gatehouse_guard::{
    KeySource, KeySourceError, RevocationCheck, RevocationCheckError, Verification,
};
use gatehouse_jose::{Audience, KeySet, jws};

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn segments(token: &str) -> Vec<String> {
    token.split('.').map(str::to_owned).collect()
}

#[tokio::test]
async fn rfc9068_section_4_valid_token_yields_a_principal() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).build().unwrap());
    let claims = claims("mcp:tools files:read");
    let answer = send(&app, get(Some(&token(&key, &claims)))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let seen = answer.json();
    assert_eq!(seen["sub"], "alice");
    assert_eq!(seen["client_id"], "client-1");
    assert_eq!(seen["scope"], "files:read mcp:tools");
    assert_eq!(seen["jti"], claims.jti);
    assert_eq!(seen["resource"], RESOURCE);
}

#[tokio::test]
async fn rfc6750_section_3_1_missing_token_gets_a_bare_challenge() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock)
        .required_scopes(["mcp:tools"])
        .build()
        .unwrap());
    let answer = send(&app, get(None)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.headers["www-authenticate"],
        format!(r#"Bearer scope="mcp:tools", resource_metadata="{METADATA_URL}""#)
    );
    // RFC 6750 §3.1: no error code when the request has no authentication information.
    assert!(answer.error().is_none());
    assert_eq!(answer.json()["error"], "invalid_token");

    // Without required scopes, no scope parameter.
    let app = common::app(&builder(&key, &clock).build().unwrap());
    let answer = send(&app, get(None)).await;
    assert_eq!(
        answer.headers["www-authenticate"],
        format!(r#"Bearer resource_metadata="{METADATA_URL}""#)
    );
    // Another scheme is not a bearer token: the same challenge.
    let request = Request::get("/mcp")
        .header("authorization", "Basic YTpi")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&app, request).await.status, StatusCode::UNAUTHORIZED);
}

async fn assert_invalid_token(app: &axum::Router, token: &str, description: &str) {
    let answer = send(app, get(Some(token))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{token}");
    let challenge = answer.challenge();
    assert_eq!(challenge.error().unwrap().as_str(), "invalid_token");
    assert_eq!(challenge.resource_metadata(), Some(METADATA_URL));
    assert_eq!(
        challenge.error_description().unwrap().as_str(),
        description,
        "{token}"
    );
    let body = answer.json();
    assert_eq!(body["error"], "invalid_token");
    assert_eq!(body["error_description"], description);
}

#[tokio::test]
async fn rfc7515_forged_tokens_are_refused() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).build().unwrap());
    let good = token(&key, &claims("mcp:tools"));
    let parts = segments(&good);
    let invalid = "The access token is invalid";

    // Payload swapped for one with more scopes, signature kept.
    let mut richer = claims("mcp:tools mcp:admin");
    richer.jti = "forged".into();
    let payload = b64(&serde_json::to_vec(&richer).unwrap());
    assert_invalid_token(
        &app,
        &format!("{}.{payload}.{}", parts[0], parts[2]),
        invalid,
    )
    .await;

    // Signature stripped.
    assert_invalid_token(&app, &format!("{}.{}.", parts[0], parts[1]), invalid).await;

    // `alg: none`, and `alg` changed to another supported algorithm (RFC 8725 §3.1).
    for alg in ["none", "HS256", "RS256", "EdDSA"] {
        let header =
            b64(format!(r#"{{"alg":"{alg}","typ":"at+jwt","kid":"{}"}}"#, key.kid()).as_bytes());
        assert_invalid_token(
            &app,
            &format!("{header}.{}.{}", parts[1], parts[2]),
            invalid,
        )
        .await;
        assert_invalid_token(&app, &format!("{header}.{}.", parts[1]), invalid).await;
    }

    // Signed by another key with the same kid.
    let other = common::key().with_kid(key.kid());
    assert_invalid_token(&app, &token(&other, &claims("mcp:tools")), invalid).await;

    // Not a JWS at all.
    assert_invalid_token(&app, "abc.def", invalid).await;
}

#[tokio::test]
async fn rfc9068_section_4_typ_must_be_at_jwt() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).build().unwrap());
    let payload = serde_json::to_vec(&claims("mcp:tools")).unwrap();
    for typ in [None, Some("JWT"), Some("id_token+jwt")] {
        let token = jws::sign(&key, typ, &payload).unwrap();
        assert_invalid_token(&app, &token, "The token is not an access token").await;
    }
}

#[tokio::test]
async fn rfc9068_section_4_iss_must_be_the_issuer_exactly() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).build().unwrap());
    for iss in [
        "https://auth.example.com/",
        "https://AUTH.example.com",
        "https://evil.example.com",
    ] {
        let mut claims = claims("mcp:tools");
        claims.iss = iss.into();
        assert_invalid_token(
            &app,
            &token(&key, &claims),
            "The access token was not issued by the expected issuer",
        )
        .await;
    }
}

#[tokio::test]
async fn rfc8707_tokens_for_another_resource_are_refused() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).build().unwrap());
    for aud in [
        "https://mcp.example.com/mcp/",
        "https://mcp.example.com/other",
        "https://mcp.example.com",
        "https://evil.example.com/mcp",
        "https://mcp.example.com:443/mcp",
    ] {
        let mut claims = claims("mcp:tools");
        claims.aud = Audience::One(aud.into());
        assert_invalid_token(
            &app,
            &token(&key, &claims),
            "The access token was not issued for this resource",
        )
        .await;
    }
    // One of several audiences is enough (RFC 7519 §4.1.3).
    let mut claims = claims("mcp:tools");
    claims.aud = Audience::Many(vec!["https://other.example.com".into(), RESOURCE.into()]);
    assert_eq!(
        send(&app, get(Some(&token(&key, &claims)))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn rfc8707_host_and_host_slash_are_the_same_resource() {
    let (key, clock) = (key(), TestClock::new());
    for (configured, aud, accepted) in [
        ("https://mcp.example.com", "https://mcp.example.com/", true),
        ("https://mcp.example.com/", "https://mcp.example.com", true),
        ("https://mcp.example.com", "https://mcp.example.com", true),
        (
            "https://mcp.example.com/mcp",
            "https://mcp.example.com/mcp/",
            false,
        ),
        (
            "https://mcp.example.com/mcp/",
            "https://mcp.example.com/mcp",
            false,
        ),
    ] {
        let keys = KeySet::new(vec![key.verifying_key()]);
        let guard = gatehouse_guard::Guard::builder(
            ISSUER,
            configured,
            Verification::key_source(gatehouse_guard::StaticKeys::new(keys)),
        )
        .clock(|| gatehouse_types::UnixTime::from_secs(NOW))
        .build()
        .unwrap();
        let app = axum::Router::new()
            .route("/mcp", axum::routing::get(|| async { "ok" }))
            .route_layer(guard);
        let mut claims = claims("");
        claims.aud = Audience::One(aud.into());
        let status = send(&app, get(Some(&token(&key, &claims)))).await.status;
        assert_eq!(status == StatusCode::OK, accepted, "{configured} vs {aud}");
    }
    let _ = clock;
}

#[tokio::test]
async fn rfc7519_section_4_1_4_exp_and_nbf_with_leeway() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock)
        .token_cache_capacity(0)
        .build()
        .unwrap());
    let mut expired = claims("mcp:tools");
    expired.exp = NOW - 3;
    // Within the default 5 s leeway.
    assert_eq!(
        send(&app, get(Some(&token(&key, &expired)))).await.status,
        StatusCode::OK
    );
    expired.exp = NOW - 5;
    assert_invalid_token(&app, &token(&key, &expired), "The access token expired").await;

    let mut early = claims("mcp:tools");
    early.nbf = Some(NOW + 4);
    assert_eq!(
        send(&app, get(Some(&token(&key, &early)))).await.status,
        StatusCode::OK
    );
    early.nbf = Some(NOW + 60);
    assert_invalid_token(
        &app,
        &token(&key, &early),
        "The access token is not valid yet",
    )
    .await;

    // A configured leeway of zero.
    let strict = common::app(&builder(&key, &clock).leeway_secs(0).build().unwrap());
    let mut at_exp = claims("mcp:tools");
    at_exp.exp = NOW;
    assert_invalid_token(&strict, &token(&key, &at_exp), "The access token expired").await;
}

#[tokio::test]
async fn cached_tokens_never_outlive_exp() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).leeway_secs(0).build().unwrap());
    let mut claims = claims("mcp:tools");
    claims.exp = NOW + 10;
    let token = token(&key, &claims);
    assert_eq!(send(&app, get(Some(&token))).await.status, StatusCode::OK);
    clock.set(NOW + 9);
    assert_eq!(send(&app, get(Some(&token))).await.status, StatusCode::OK);
    clock.set(NOW + 10);
    assert_invalid_token(&app, &token, "The access token expired").await;
}

#[tokio::test]
async fn rfc6750_section_3_1_malformed_requests_are_invalid_request() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).build().unwrap());
    let good = token(&key, &claims("mcp:tools"));

    let requests = [
        // MCP 2025-11-25: "Access tokens MUST NOT be included in the URI query string".
        Request::get(format!("/mcp?access_token={good}"))
            .body(Body::empty())
            .unwrap(),
        // Two methods at once (RFC 6750 §2: "Clients MUST NOT use more than one method").
        Request::get(format!("/mcp?access_token={good}"))
            .header("authorization", format!("Bearer {good}"))
            .body(Body::empty())
            .unwrap(),
        // RFC 6750 §2.2 form body, which MCP does not allow, beside a header token.
        Request::post("/mcp")
            .header("authorization", format!("Bearer {good}"))
            .header(
                "content-type",
                "application/x-www-form-urlencoded; charset=utf-8",
            )
            .body(Body::from(format!("x=1&access_token={good}")))
            .unwrap(),
        // Two Authorization headers.
        Request::get("/mcp")
            .header("authorization", format!("Bearer {good}"))
            .header("authorization", format!("Bearer {good}"))
            .body(Body::empty())
            .unwrap(),
        // Malformed Bearer credentials.
        Request::get("/mcp")
            .header("authorization", "Bearer")
            .body(Body::empty())
            .unwrap(),
        Request::get("/mcp")
            .header("authorization", format!("Bearer {good} extra"))
            .body(Body::empty())
            .unwrap(),
        Request::get("/mcp")
            .header("authorization", "Bearer a\"b")
            .body(Body::empty())
            .unwrap(),
    ];
    for request in requests {
        let description = format!("{} {:?}", request.uri(), request.headers());
        let answer = send(&app, request).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{description}");
        assert_eq!(
            answer.error().as_deref(),
            Some("invalid_request"),
            "{description}"
        );
        assert_eq!(answer.challenge().resource_metadata(), Some(METADATA_URL));
        assert_eq!(answer.json()["error"], "invalid_request");
    }

    // A token only in a form body is no token: the guard reads no body before a token is
    // verified (an anonymous request must not make it buffer megabytes).
    let answer = send(
        &app,
        Request::post("/mcp")
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(format!("access_token={good}")))
            .unwrap(),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        answer.error(),
        None,
        "RFC 6750 §3.1: no error code without a token"
    );

    // A form body without a token is passed on unchanged.
    let request = Request::post("/mcp")
        .header("authorization", format!("Bearer {good}"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Body::from("a=1&b=2"))
        .unwrap();
    let answer = send(&app, request).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["body"], "a=1&b=2");
}

#[tokio::test]
async fn rfc6750_section_3_1_required_scopes_and_step_up() {
    let (key, clock) = (key(), TestClock::new());
    let guard = builder(&key, &clock)
        .required_scopes(["mcp:tools"])
        .scopes_supported(["files:read"])
        .build()
        .unwrap();
    let app = app(&guard);
    // The token has `files:read` (which the resource knows) and `other` (which it does not).
    let answer = send(&app, get(Some(&token(&key, &claims("files:read other"))))).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let challenge = answer.challenge();
    assert_eq!(challenge.error().unwrap().as_str(), "insufficient_scope");
    assert_eq!(challenge.resource_metadata(), Some(METADATA_URL));
    // Required ∪ granted-and-supported: stepping up loses nothing.
    assert_eq!(
        challenge.scope().unwrap().to_string(),
        "files:read mcp:tools"
    );
    assert_eq!(answer.json()["error"], "insufficient_scope");

    // The client asks for exactly that and succeeds.
    let stepped_up = claims(&challenge.scope().unwrap().to_string());
    assert_eq!(
        send(&app, get(Some(&token(&key, &stepped_up))))
            .await
            .status,
        StatusCode::OK
    );
}

/// A key source that counts how often it is asked.
struct CountingKeys {
    keys: Arc<KeySet>,
    calls: AtomicUsize,
}

impl KeySource for CountingKeys {
    fn keys(&self) -> BoxFuture<'_, Result<Arc<KeySet>, KeySourceError>> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(future::ready(Ok(Arc::clone(&self.keys))))
    }
}

#[tokio::test]
async fn verified_tokens_are_cached_by_hash() {
    let (key, clock) = (key(), TestClock::new());
    let source = Arc::new(CountingKeys {
        keys: Arc::new(KeySet::new(vec![key.verifying_key()])),
        calls: AtomicUsize::new(0),
    });
    let app = app(
        &builder_with(Verification::key_source(Arc::clone(&source)), &clock)
            .build()
            .unwrap(),
    );
    let token = token(&key, &claims("mcp:tools"));
    for _ in 0..5 {
        assert_eq!(send(&app, get(Some(&token))).await.status, StatusCode::OK);
    }
    assert_eq!(
        source.calls.load(Ordering::SeqCst),
        1,
        "one verification for five requests"
    );
    // A different token is verified on its own.
    let other = common::token(&key, &claims("mcp:tools"));
    assert_eq!(send(&app, get(Some(&other))).await.status, StatusCode::OK);
    assert_eq!(source.calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn key_source_failure_is_503_not_401() {
    struct Broken;
    impl KeySource for Broken {
        fn keys(&self) -> BoxFuture<'_, Result<Arc<KeySet>, KeySourceError>> {
            Box::pin(future::ready(Err(KeySourceError::new("down"))))
        }
    }
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder_with(Verification::key_source(Broken), &clock)
        .build()
        .unwrap());
    let answer = send(&app, get(Some(&token(&key, &claims("mcp:tools"))))).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(answer.json()["error"], "temporarily_unavailable");
    assert!(answer.headers.contains_key("retry-after"));
}

/// A deny list the test fills.
#[derive(Default)]
struct DenyList(Mutex<HashSet<String>>);

impl RevocationCheck for DenyList {
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, RevocationCheckError>> {
        Box::pin(future::ready(Ok(self.0.lock().unwrap().contains(jti))))
    }
}

#[tokio::test]
async fn rfc7009_revoked_tokens_are_refused_from_the_next_request_even_when_cached() {
    let (key, clock) = (key(), TestClock::new());
    let deny = Arc::new(DenyList::default());
    let app = app(&builder(&key, &clock)
        .revocation(Arc::clone(&deny))
        .build()
        .unwrap());
    let claims = claims("mcp:tools");
    let token = token(&key, &claims);
    assert_eq!(send(&app, get(Some(&token))).await.status, StatusCode::OK);
    assert_eq!(send(&app, get(Some(&token))).await.status, StatusCode::OK);
    deny.0.lock().unwrap().insert(claims.jti.clone());
    assert_invalid_token(&app, &token, "The access token was revoked").await;
}

#[tokio::test]
async fn failing_revocation_check_fails_closed() {
    struct Failing;
    impl RevocationCheck for Failing {
        fn is_revoked<'a>(
            &'a self,
            _: &'a str,
        ) -> BoxFuture<'a, Result<bool, RevocationCheckError>> {
            Box::pin(future::ready(Err(RevocationCheckError::new(
                "database down",
            ))))
        }
    }
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).revocation(Failing).build().unwrap());
    let answer = send(&app, get(Some(&token(&key, &claims("mcp:tools"))))).await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
}

#[tokio::test]
async fn shared_keys_follow_rotation_in_process() {
    let (old, new, clock) = (key(), key(), TestClock::new());
    let shared = gatehouse_guard::SharedKeys::new(KeySet::new(vec![old.verifying_key()]));
    let app = app(
        &builder_with(Verification::key_source(shared.clone()), &clock)
            .build()
            .unwrap(),
    );
    let token_new = token(&new, &claims("mcp:tools"));
    assert_eq!(
        send(&app, get(Some(&token_new))).await.status,
        StatusCode::UNAUTHORIZED
    );
    shared.replace(KeySet::new(vec![old.verifying_key(), new.verifying_key()]));
    assert_eq!(
        send(&app, get(Some(&token_new))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn extractor_without_guard_is_401() {
    let app = axum::Router::new().route(
        "/open",
        axum::routing::get(|principal: gatehouse_guard::Principal| async move {
            principal.subject().to_owned()
        }),
    );
    let request = Request::get("/open").body(Body::empty()).unwrap();
    let answer = send(&app, request).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.error().as_deref(), Some("invalid_token"));
}

#[test]
fn configuration_errors_are_reported() {
    let keys = || Verification::key_source(gatehouse_guard::StaticKeys::new(KeySet::default()));
    let build = |issuer: &str, resource: &str| {
        gatehouse_guard::Guard::builder(issuer, resource, keys()).build()
    };
    assert!(build("http://auth.example.com", RESOURCE).is_err());
    assert!(build("https://auth.example.com?x", RESOURCE).is_err());
    assert!(build(ISSUER, "https://mcp.example.com/mcp#frag").is_err());
    assert!(build(ISSUER, "mcp").is_err());
    assert!(build("http://127.0.0.1:8080", "http://127.0.0.1:9000/mcp").is_ok());
    let bad_scope = gatehouse_guard::Guard::builder(ISSUER, RESOURCE, keys())
        .required_scopes(["a b"])
        .build();
    assert!(bad_scope.is_err());
    // MCP 2026-07-28, authorization, "Refresh Tokens": resources "SHOULD NOT include
    // offline_access" in challenges or metadata; configured anywhere, it is refused.
    for builder in [
        gatehouse_guard::Guard::builder(ISSUER, RESOURCE, keys())
            .required_scopes(["offline_access"]),
        gatehouse_guard::Guard::builder(ISSUER, RESOURCE, keys())
            .scopes_supported(["offline_access"]),
        gatehouse_guard::Guard::builder(ISSUER, RESOURCE, keys()).tool_scope("t", "offline_access"),
    ] {
        assert_eq!(
            builder.build().err(),
            Some(gatehouse_guard::GuardConfigError::OfflineAccess)
        );
    }
}

#[tokio::test]
async fn rfc7800_key_bound_tokens_are_not_bearer_tokens() {
    // A token with `cnf` must be used with a proof of possession: accepted as a bearer token, a
    // stolen one would work (RFC 9449 §7.2). One bound by a method the guard cannot check
    // (RFC 8705's certificate thumbprint) is refused whatever the scheme.
    let key = key();
    let app = app(&builder(&key, &TestClock::new()).build().unwrap());
    for cnf in [
        serde_json::json!({"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}),
        serde_json::json!({"x5t#S256": "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}),
    ] {
        let mut bound = claims("mcp:tools");
        bound.extra.insert("cnf".into(), cnf);
        let token = token(&key, &bound);
        for scheme in ["Bearer", "DPoP"] {
            let request = Request::get("/mcp")
                .header("authorization", format!("{scheme} {token}"))
                .body(Body::empty())
                .unwrap();
            let answer = send(&app, request).await;
            assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
            let error = answer.json()["error"].as_str().unwrap().to_owned();
            assert!(
                error == "invalid_token" || error == "invalid_dpop_proof",
                "{error}"
            );
            assert!(
                answer.headers["www-authenticate"]
                    .to_str()
                    .unwrap()
                    .starts_with("DPoP ")
            );
        }
    }
}

#[tokio::test]
async fn mcp_invalid_token_challenges_name_the_required_scopes() {
    // MCP 2025-11-25 scope selection: a client whose token was refused authorizes again with
    // the challenge's `scope`.
    let key = key();
    let guard = builder(&key, &TestClock::new())
        .required_scopes(["mcp:tools"])
        .build()
        .unwrap();
    let app = app(&guard);
    let mut expired = claims("mcp:tools");
    expired.exp = NOW - 3600;
    let answer = send(&app, get(Some(&token(&key, &expired)))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    let challenge = answer.challenge();
    assert_eq!(challenge.error().unwrap().as_str(), "invalid_token");
    assert_eq!(challenge.scope().unwrap().to_string(), "mcp:tools");
}
