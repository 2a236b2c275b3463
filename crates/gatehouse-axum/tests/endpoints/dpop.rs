//! DPoP through `gatehouse serve`'s router (RFC 9449): a proof at the token endpoint binds the
//! tokens; the built-in resource then takes them only with the `DPoP` scheme and a fresh proof;
//! with `[dpop] nonces` both servers hand out nonces and require them.
#![allow(clippy::unwrap_used, clippy::panic)]

use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use gatehouse_jose::Algorithm;
use gatehouse_jose::dpop::DpopProver;
use gatehouse_types::form::encode as form_encode;

use crate::support::oneshot::{App, Client, Reply};
use crate::support::{REDIRECT, VERIFIER};

const INITIALIZE: &str = r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"dpop-test","version":"1"}}}"#;

fn now() -> u64 {
    gatehouse_axum::now().as_secs()
}

/// A token request with a proof for the token endpoint.
async fn token(
    app: &App,
    client: &Client,
    pairs: &[(&str, &str)],
    prover: &DpopProver,
    nonce: Option<&str>,
) -> Reply {
    let proof = prover
        .proof("POST", &app.url("/token"), now(), None, nonce)
        .unwrap();
    app.post(&app.url("/token"))
        .form(pairs)
        .client(client)
        .header("dpop", &proof)
        .await
}

fn code_grant(code: &str) -> Vec<(&str, &str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ]
}

/// An MCP `initialize` with `scheme` and, if `prover` is given, a proof for it.
async fn initialize(
    app: &App,
    scheme: &str,
    token: &str,
    prover: Option<&DpopProver>,
    nonce: Option<&str>,
) -> Reply {
    let mut call = app
        .post(&app.url("/mcp"))
        .header(AUTHORIZATION, &format!("{scheme} {token}"))
        .header("accept", "application/json, text/event-stream");
    if let Some(prover) = prover {
        let proof = prover
            .proof("POST", &app.url("/mcp"), now(), Some(token), nonce)
            .unwrap();
        call = call.header("dpop", &proof);
    }
    call.body("application/json", INITIALIZE).await
}

fn dpop_challenge(reply: &Reply) -> String {
    reply
        .headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("DPoP "))
        .unwrap_or_else(|| panic!("no DPoP challenge: {:?}", reply.headers))
}

#[tokio::test]
async fn rfc9449_bound_tokens_from_the_token_endpoint_work_only_with_their_key() {
    let app = App::auto_approve().await;
    // RFC 9449 §5.1: the algorithms proofs may use, in the metadata.
    let metadata = app
        .get("/.well-known/oauth-authorization-server")
        .await
        .json();
    assert_eq!(
        metadata["dpop_signing_alg_values_supported"],
        serde_json::json!(["ES256", "EdDSA", "RS256", "PS256"])
    );
    let client = app.public_client().await;
    let key = DpopProver::generate(Algorithm::Es256).unwrap();
    let code = app.code(&client.id).await;
    let reply = token(&app, &client, &code_grant(&code), &key, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let tokens = reply.json();
    assert_eq!(tokens["token_type"], "DPoP");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // §7.1: with the DPoP scheme and a proof of the key, the resource answers.
    let reply = initialize(&app, "DPoP", &access, Some(&key), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    // §7.2: the same token as a bearer token is refused, with a DPoP challenge.
    let reply = initialize(&app, "Bearer", &access, None, None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(dpop_challenge(&reply).contains(r#"error="invalid_token""#));
    // §6.1: a thief's key does not make a valid proof for it.
    let thief = DpopProver::generate(Algorithm::EdDsa).unwrap();
    let reply = initialize(&app, "DPoP", &access, Some(&thief), None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(dpop_challenge(&reply).contains(r#"error="invalid_dpop_proof""#));

    // §5: the public client's refresh token needs the same key.
    let grant = [("grant_type", "refresh_token"), ("refresh_token", &refresh)];
    let reply = app.refresh(&client, &refresh).await;
    reply.error(StatusCode::BAD_REQUEST, "invalid_dpop_proof");
    let reply = token(&app, &client, &grant, &thief, None).await;
    reply.error(StatusCode::BAD_REQUEST, "invalid_grant");
    let reply = token(&app, &client, &grant, &key, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert_eq!(reply.json()["token_type"], "DPoP");
}

#[tokio::test]
async fn rfc9449_sections_8_and_9_nonces_at_the_token_endpoint_and_the_resource() {
    let app = App::new(
        gatehouse_axum::config::LoginMode::AutoApprove,
        "",
        |config| config.dpop.nonces = true,
    )
    .await;
    let client = app.public_client().await;
    let key = DpopProver::generate(Algorithm::Ps256).unwrap();
    let code = app.code(&client.id).await;

    // §8: without a nonce, `use_dpop_nonce` and the nonce to use.
    let reply = token(&app, &client, &code_grant(&code), &key, None).await;
    reply.error(StatusCode::BAD_REQUEST, "use_dpop_nonce");
    let nonce = reply.headers["dpop-nonce"].to_str().unwrap().to_owned();
    let reply = token(&app, &client, &code_grant(&code), &key, Some(&nonce)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    assert!(reply.headers.contains_key("dpop-nonce"));
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();

    // §9: the resource requires a nonce too. It shares the token endpoint's origin, and clients
    // keep one nonce per origin, so the same nonce passes there without another round trip.
    let reply = initialize(&app, "DPoP", &access, Some(&key), None).await;
    assert_eq!(reply.status, StatusCode::UNAUTHORIZED);
    assert!(dpop_challenge(&reply).contains(r#"error="use_dpop_nonce""#));
    let reply = initialize(&app, "DPoP", &access, Some(&key), Some(&nonce)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn rfc9449_section_10_dpop_jkt_at_the_authorization_endpoint() {
    let app = App::auto_approve().await;
    let client = app.public_client().await;
    let key = DpopProver::generate(Algorithm::Es256).unwrap();
    let url = format!(
        "{}&dpop_jkt={}",
        app.authorize_url(&client.id),
        form_encode([("", key.jkt())]).trim_start_matches('=')
    );
    let reply = app.get(&url).await;
    assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
    let code = crate::support::query(reply.location())["code"].clone();
    let other = DpopProver::generate(Algorithm::Es256).unwrap();
    let reply = token(&app, &client, &code_grant(&code), &other, None).await;
    reply.error(StatusCode::BAD_REQUEST, "invalid_grant");
    let reply = token(&app, &client, &code_grant(&code), &key, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
}

#[tokio::test]
async fn rfc9449_section_11_1_a_proof_used_at_one_instance_is_refused_by_another() {
    let Some((first, second, _schema)) = App::two_on_postgres(|_| {}).await else {
        eprintln!("GATEHOUSE_TEST_POSTGRES is not set: the two-instance replay test is skipped");
        return;
    };
    let client = first.public_client().await;
    let key = DpopProver::generate(Algorithm::Es256).unwrap();
    let code = first.code(&client.id).await;
    let reply = token(&first, &client, &code_grant(&code), &key, None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
    let access = reply.json()["access_token"].as_str().unwrap().to_owned();

    let proof = key
        .proof("POST", &first.url("/mcp"), now(), Some(&access), None)
        .unwrap();
    async fn send(app: &App, access: &str, proof: &str) -> Reply {
        app.post(&app.url("/mcp"))
            .header(AUTHORIZATION, &format!("DPoP {access}"))
            .header("accept", "application/json, text/event-stream")
            .header("dpop", proof)
            .body("application/json", INITIALIZE)
            .await
    }
    let accepted = send(&first, &access, &proof).await;
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.text());
    // The other instance shares the memory of used proofs through the store.
    let replayed = send(&second, &access, &proof).await;
    assert_eq!(
        replayed.status,
        StatusCode::UNAUTHORIZED,
        "{}",
        replayed.text()
    );
    assert!(dpop_challenge(&replayed).contains(r#"error="invalid_dpop_proof""#));
}
