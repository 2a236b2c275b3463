//! DPoP at the resource (RFC 9449 §7, §9, §11.1): a bound token only with the `DPoP` scheme and
//! a fresh proof of its key for this request; an unbound token only as `Bearer`. One test per
//! attack, each naming its section.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use common::*;
use gatehouse_guard::Guard;
use gatehouse_jose::Algorithm;
use gatehouse_jose::dpop::{DpopProver, NonceSource};

const HTU: &str = "https://mcp.example.com/mcp";

fn prover() -> DpopProver {
    DpopProver::generate(Algorithm::Es256).unwrap()
}

/// A token bound to `prover`'s key (RFC 9449 §6.1).
fn bound_token(key: &gatehouse_jose::SigningKey, prover: &DpopProver) -> String {
    let mut claims = claims("mcp:tools");
    claims
        .extra
        .insert("cnf".into(), serde_json::json!({ "jkt": prover.jkt() }));
    token(key, &claims)
}

fn dpop_request(method: &str, token: &str, proofs: &[&str]) -> Request<Body> {
    let mut request = Request::builder()
        .method(method)
        .uri("/mcp")
        .header("authorization", format!("DPoP {token}"));
    for proof in proofs {
        request = request.header("dpop", *proof);
    }
    request.body(Body::empty()).unwrap()
}

fn proof(prover: &DpopProver, method: &str, token: &str, nonce: Option<&str>) -> String {
    prover.proof(method, HTU, NOW, Some(token), nonce).unwrap()
}

fn dpop_error(answer: &Answer) -> String {
    let challenges: Vec<&str> = answer
        .headers
        .get_all("www-authenticate")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let dpop = challenges
        .iter()
        .find(|c| c.starts_with("DPoP "))
        .unwrap_or_else(|| panic!("no DPoP challenge in {challenges:?}"));
    // §7.1: the challenge names the algorithms a proof may use.
    assert!(dpop.contains(r#"algs="ES256 EdDSA RS256 PS256""#), "{dpop}");
    let start = dpop.find("error=\"").unwrap() + 7;
    dpop[start..].split('"').next().unwrap().to_owned()
}

#[tokio::test]
async fn rfc9449_section_7_1_a_bound_token_with_a_proof_of_its_key_is_accepted() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).build().unwrap());
    let client = prover();
    let token = bound_token(&key, &client);
    for method in ["GET", "POST"] {
        let answer = send(
            &app,
            dpop_request(method, &token, &[&proof(&client, method, &token, None)]),
        )
        .await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
        assert_eq!(answer.json()["sub"], "alice");
    }
}

#[tokio::test]
async fn rfc9449_section_7_2_a_bound_token_sent_as_bearer_is_refused() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).build().unwrap());
    let token = bound_token(&key, &prover());
    let answer = send(&app, get(Some(&token))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&answer), "invalid_token");
}

#[tokio::test]
async fn rfc9449_section_7_1_an_unbound_token_with_the_dpop_scheme_is_refused() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).build().unwrap());
    let bearer = token(&key, &claims("mcp:tools"));
    let client = prover();
    let answer = send(
        &app,
        dpop_request("GET", &bearer, &[&proof(&client, "GET", &bearer, None)]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&answer), "invalid_token");
    // The same token as Bearer is fine.
    assert_eq!(send(&app, get(Some(&bearer))).await.status, StatusCode::OK);
}

#[tokio::test]
async fn rfc9449_section_6_1_a_proof_made_with_another_key_is_refused() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).build().unwrap());
    let token = bound_token(&key, &prover());
    let thief = prover();
    let answer = send(
        &app,
        dpop_request("GET", &token, &[&proof(&thief, "GET", &token, None)]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&answer), "invalid_dpop_proof");
}

#[tokio::test]
async fn rfc9449_section_11_1_a_replayed_proof_is_refused() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).build().unwrap());
    let client = prover();
    let token = bound_token(&key, &client);
    let proof = proof(&client, "GET", &token, None);
    let first = send(&app, dpop_request("GET", &token, &[&proof])).await;
    assert_eq!(first.status, StatusCode::OK);
    let replay = send(&app, dpop_request("GET", &token, &[&proof])).await;
    assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&replay), "invalid_dpop_proof");
}

#[tokio::test]
async fn rfc9449_section_4_3_proofs_for_another_request_time_or_token_are_refused() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock).build().unwrap());
    let client = prover();
    let token = bound_token(&key, &client);
    let other_token = bound_token(&key, &client);
    let refused = [
        // item 8: another method.
        client.proof("POST", HTU, NOW, Some(&token), None).unwrap(),
        // item 9: another URI.
        client
            .proof(
                "GET",
                "https://mcp.example.com/other",
                NOW,
                Some(&token),
                None,
            )
            .unwrap(),
        client
            .proof(
                "GET",
                "https://evil.example.com/mcp",
                NOW,
                Some(&token),
                None,
            )
            .unwrap(),
        // item 11: too old, too far ahead.
        client
            .proof("GET", HTU, NOW - 301, Some(&token), None)
            .unwrap(),
        client
            .proof("GET", HTU, NOW + 61, Some(&token), None)
            .unwrap(),
        // item 12: `ath` of another token, or none.
        client
            .proof("GET", HTU, NOW, Some(&other_token), None)
            .unwrap(),
        client.proof("GET", HTU, NOW, None, None).unwrap(),
    ];
    for proof in &refused {
        let answer = send(&app, dpop_request("GET", &token, &[proof])).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{proof}");
        assert_eq!(dpop_error(&answer), "invalid_dpop_proof", "{proof}");
    }
    // item 1: no proof, or two.
    let answer = send(&app, dpop_request("GET", &token, &[])).await;
    assert_eq!(dpop_error(&answer), "invalid_dpop_proof");
    let (a, b) = (
        proof(&client, "GET", &token, None),
        proof(&client, "GET", &token, None),
    );
    let answer = send(&app, dpop_request("GET", &token, &[&a, &b])).await;
    assert_eq!(dpop_error(&answer), "invalid_dpop_proof");
}

#[tokio::test]
async fn rfc9449_section_9_resource_nonces() {
    let (key, clock) = (key(), TestClock::new());
    let secret = [3u8; 32];
    let app = app(&builder(&key, &clock)
        .dpop_nonces(&secret, 300)
        .build()
        .unwrap());
    let client = prover();
    let token = bound_token(&key, &client);
    // Without a nonce: 401 use_dpop_nonce with the nonce to use.
    let answer = send(
        &app,
        dpop_request("GET", &token, &[&proof(&client, "GET", &token, None)]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&answer), "use_dpop_nonce");
    let nonce = answer.headers["dpop-nonce"].to_str().unwrap().to_owned();
    // Every instance with the same secret hands out the same nonce for this origin.
    assert_eq!(
        nonce,
        NonceSource::new(&secret, "https://mcp.example.com", 300).current(NOW)
    );
    // With it: accepted, and the answer offers the current nonce.
    let answer = send(
        &app,
        dpop_request(
            "GET",
            &token,
            &[&proof(&client, "GET", &token, Some(&nonce))],
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(answer.headers["dpop-nonce"], nonce.as_str());
    // Another server's nonce, or this one's two steps later, is refused.
    let foreign = NonceSource::new(&secret, "https://other.example.com", 300).current(NOW);
    let answer = send(
        &app,
        dpop_request(
            "GET",
            &token,
            &[&proof(&client, "GET", &token, Some(&foreign))],
        ),
    )
    .await;
    assert_eq!(dpop_error(&answer), "use_dpop_nonce");
    clock.set(NOW + 600);
    let late = client
        .proof("GET", HTU, NOW + 600, Some(&token), Some(&nonce))
        .unwrap();
    let answer = send(&app, dpop_request("GET", &token, &[&late])).await;
    assert_eq!(dpop_error(&answer), "use_dpop_nonce");
}

#[tokio::test]
async fn rfc9449_section_7_a_resource_can_require_bound_tokens() {
    let (key, clock) = (key(), TestClock::new());
    let guard = builder(&key, &clock).require_dpop(true).build().unwrap();
    // RFC 9728 §2: the metadata says so, with the algorithms.
    let metadata = guard.metadata().to_json();
    assert!(
        metadata.contains(r#""dpop_bound_access_tokens_required":true"#),
        "{metadata}"
    );
    assert!(
        metadata
            .contains(r#""dpop_signing_alg_values_supported":["ES256","EdDSA","RS256","PS256"]"#),
        "{metadata}"
    );
    let app = app(&guard);
    let bearer = token(&key, &claims("mcp:tools"));
    let answer = send(&app, get(Some(&bearer))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&answer), "invalid_token");
    // A request without a token is told both ways in.
    let answer = send(&app, get(None)).await;
    let challenges: Vec<_> = answer.headers.get_all("www-authenticate").iter().collect();
    assert_eq!(challenges.len(), 2, "{challenges:?}");
    assert!(challenges[0].to_str().unwrap().starts_with("Bearer "));
    assert!(challenges[1].to_str().unwrap().starts_with("DPoP algs="));
}

#[tokio::test]
async fn rfc9449_section_7_1_a_refused_dpop_request_gets_a_dpop_challenge() {
    let (key, clock) = (key(), TestClock::new());
    let app = app(&builder(&key, &clock)
        .required_scopes(["mcp:tools"])
        .build()
        .unwrap());
    let client = prover();
    let mut expired = claims("mcp:tools");
    expired.exp = NOW - 3600;
    expired
        .extra
        .insert("cnf".into(), serde_json::json!({ "jkt": client.jkt() }));
    let token = token(&key, &expired);
    let answer = send(
        &app,
        dpop_request("GET", &token, &[&proof(&client, "GET", &token, None)]),
    )
    .await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(dpop_error(&answer), "invalid_token");
}

#[tokio::test]
async fn rfc9449_section_4_3_htu_is_the_uri_the_client_used_under_a_nested_router() {
    let (key, clock) = (key(), TestClock::new());
    let guard = Guard::builder(
        ISSUER,
        "https://mcp.example.com/api/mcp",
        gatehouse_guard::Verification::key_source(gatehouse_guard::StaticKeys::new(
            gatehouse_jose::KeySet::new(vec![key.verifying_key()]),
        )),
    )
    .clock({
        let clock = clock.clone();
        move || {
            gatehouse_types::UnixTime::from_secs(clock.0.load(std::sync::atomic::Ordering::SeqCst))
        }
    })
    .build()
    .unwrap();
    let inner = axum::Router::new()
        .route("/mcp", axum::routing::any(|| async { "ok" }))
        .route_layer(guard);
    let app = axum::Router::new().nest("/api", inner);
    let client = prover();
    let mut bound = claims("mcp:tools");
    bound.aud = gatehouse_jose::Audience::One("https://mcp.example.com/api/mcp".into());
    bound
        .extra
        .insert("cnf".into(), serde_json::json!({ "jkt": client.jkt() }));
    let token = token(&key, &bound);
    let proof = client
        .proof(
            "GET",
            "https://mcp.example.com/api/mcp",
            NOW,
            Some(&token),
            None,
        )
        .unwrap();
    let request = Request::get("/api/mcp")
        .header("authorization", format!("DPoP {token}"))
        .header("dpop", proof)
        .body(Body::empty())
        .unwrap();
    let answer = send(&app, request).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
}
