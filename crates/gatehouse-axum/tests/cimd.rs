//! Client ID Metadata Documents against a real local HTTPS server: a good document completes the
//! flow (authorize → token → refresh), and each fetching rule refuses its case. The `jwks_uri` of
//! a `private_key_jwt` client is fetched from the same server, behind the same fences.
//!
//! The HTTPS server uses `tests/fixtures/test-server.pem`, issued for `localhost`/127.0.0.1/::1 by
//! `tests/fixtures/test-ca.pem` (a CA made for these tests; its key was discarded). Only the test
//! configuration trusts it, through the named dangerous setting
//! `client_id_metadata_documents.dangerous_extra_root_certificate`, and loopback documents are
//! allowed only through `dangerous_allow_loopback`: both are refused for a non-loopback issuer.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use gatehouse_axum::Config;
use reqwest::StatusCode;
use reqwest::header::LOCATION;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod support;

use support::{CHALLENGE, REDIRECT, VERIFIER, encode};

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// What the document server answers for one path: status, headers, body.
type Answer = (u16, Vec<(&'static str, String)>, Vec<u8>);

/// An HTTPS server on 127.0.0.1 that serves client documents and counts requests per path.
struct DocumentServer {
    port: u16,
    hits: Arc<Mutex<HashMap<String, usize>>>,
}

impl DocumentServer {
    async fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let certs: Vec<CertificateDer<'static>> =
            CertificateDer::pem_file_iter(fixture("test-server.pem"))
                .unwrap()
                .collect::<Result<_, _>>()
                .unwrap();
        let key = PrivateKeyDer::from_pem_file(fixture("test-server.key")).unwrap();
        let config = rustls::ServerConfig::builder()
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(Mutex::new(HashMap::new()));
        let counter = Arc::clone(&hits);
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    return;
                };
                let acceptor = acceptor.clone();
                let counter = Arc::clone(&counter);
                tokio::spawn(async move {
                    let Ok(mut tls) = acceptor.accept(tcp).await else {
                        return;
                    };
                    let mut head = Vec::new();
                    let mut byte = [0u8; 1];
                    while !head.ends_with(b"\r\n\r\n") && head.len() < 8192 {
                        if tls.read(&mut byte).await.unwrap_or(0) == 0 {
                            return;
                        }
                        head.push(byte[0]);
                    }
                    let head = String::from_utf8_lossy(&head);
                    let path = head.split(' ').nth(1).unwrap_or("/").to_owned();
                    *counter.lock().unwrap().entry(path.clone()).or_insert(0) += 1;
                    if path.starts_with("/slow") {
                        // A host that takes its time: longer than any fetch may.
                        tokio::time::sleep(std::time::Duration::from_secs(10)).await;
                    }
                    let (status, headers, body) = answer(port, &path);
                    let mut response = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
                    for (name, value) in &headers {
                        response.push_str(&format!("{name}: {value}\r\n"));
                    }
                    if !path.starts_with("/endless") {
                        response.push_str(&format!("Content-Length: {}\r\n", body.len()));
                    }
                    response.push_str("\r\n");
                    let _ = tls.write_all(response.as_bytes()).await;
                    let _ = tls.write_all(&body).await;
                    let _ = tls.shutdown().await;
                });
            }
        });
        Self { port, hits }
    }

    fn url(&self, path: &str) -> String {
        format!("https://localhost:{}{path}", self.port)
    }

    fn hits(&self, path: &str) -> usize {
        self.hits.lock().unwrap().get(path).copied().unwrap_or(0)
    }
}

fn document(client_id: &str) -> Value {
    json!({
        "client_id": client_id,
        "client_name": "Document Client",
        "redirect_uris": [REDIRECT],
        "grant_types": ["authorization_code", "refresh_token"],
        "token_endpoint_auth_method": "none"
    })
}

fn json_answer(value: &Value, cache: &str) -> Answer {
    (
        200,
        vec![
            ("Content-Type", "application/json".into()),
            ("Cache-Control", cache.into()),
        ],
        value.to_string().into_bytes(),
    )
}

/// The documents, by path.
fn answer(port: u16, path: &str) -> Answer {
    let own = format!("https://localhost:{port}{path}");
    match path {
        "/good.json" | "/other.json" => json_answer(&document(&own), "max-age=60"),
        "/redirect.json" => (
            302,
            vec![("Location", format!("https://localhost:{port}/good.json"))],
            Vec::new(),
        ),
        "/big.json" => {
            let mut doc = document(&own);
            doc["padding"] = Value::String("x".repeat(6000));
            json_answer(&doc, "max-age=60")
        }
        // No Content-Length: the cap must hold while reading.
        "/endless.json" => (
            200,
            vec![("Content-Type", "application/json".into())],
            format!(
                "{{\"client_id\":\"{own}\",\"padding\":\"{}\"}}",
                "y".repeat(50_000)
            )
            .into_bytes(),
        ),
        "/html.json" => (
            200,
            vec![("Content-Type", "text/html".into())],
            document(&own).to_string().into_bytes(),
        ),
        "/mismatch.json" => json_answer(
            &document(&format!("https://localhost:{port}/good.json")),
            "max-age=60",
        ),
        "/secret.json" => {
            let mut doc = document(&own);
            doc["token_endpoint_auth_method"] = json!("client_secret_basic");
            json_answer(&doc, "max-age=60")
        }
        "/unnamed.json" => {
            let mut doc = document(&own);
            doc.as_object_mut().unwrap().remove("client_name");
            json_answer(&doc, "max-age=60")
        }
        "/broken.json" => (500, Vec::new(), b"oops".to_vec()),
        "/jwks.json" => json_answer(
            &json!({"keys": [machine_key().verifying_key().to_jwk()]}),
            "max-age=60",
        ),
        "/nokeys.json" => json_answer(&json!({"keys": []}), "max-age=60"),
        // An identity provider at https://localhost:{port} (OpenID Connect Discovery).
        "/.well-known/openid-configuration" => json_answer(
            &json!({"issuer": format!("https://localhost:{port}"),
                    "jwks_uri": format!("https://localhost:{port}/jwks.json")}),
            "max-age=60",
        ),
        _ => (404, Vec::new(), Vec::new()),
    }
}

/// The machine client's key (RFC 7515 Appendix A.3), so that the document server can publish
/// its public half.
fn machine_key() -> gatehouse_jose::SigningKey {
    let jwk = r#"{"kty":"EC","crv":"P-256","x":"f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU","y":"x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0","d":"jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI","kid":"machine-1"}"#;
    gatehouse_jose::SigningKey::from_jwk(&gatehouse_jose::Jwk::from_json(jwk.as_bytes()).unwrap())
        .unwrap()
}

struct Server {
    issuer: String,
    http: reqwest::Client,
}

/// A server that trusts the test CA and allows loopback documents (the named dangerous test
/// settings), changed by `edit`.
async fn gatehouse(edit: impl FnOnce(&mut Config)) -> Server {
    let issuer = support::serve(|config, _| {
        config.client_id_metadata_documents.dangerous_allow_loopback = true;
        config
            .client_id_metadata_documents
            .dangerous_extra_root_certificate = Some(fixture("test-ca.pem"));
        edit(config);
    })
    .await;
    Server {
        issuer,
        http: support::http(),
    }
}

impl Server {
    async fn authorize(&self, client_id: &str) -> reqwest::Response {
        let url = format!(
            "{}/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=s1&scope=mcp:tools",
            self.issuer,
            encode(client_id),
            encode(REDIRECT)
        );
        self.http.get(url).send().await.unwrap()
    }

    /// The refusal page's text for `client_id`, checking its status.
    async fn refusal(&self, client_id: &str, status: StatusCode) -> String {
        let response = self.authorize(client_id).await;
        assert_eq!(response.status(), status, "{client_id}");
        assert!(
            response.headers().get(LOCATION).is_none(),
            "never redirected"
        );
        response.text().await.unwrap()
    }

    async fn token(&self, form: &[(&str, &str)]) -> (StatusCode, Value) {
        let response = self
            .http
            .post(format!("{}/token", self.issuer))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(support::form(form))
            .send()
            .await
            .unwrap();
        (response.status(), response.json().await.unwrap())
    }
}

fn code_of(response: &reqwest::Response) -> String {
    let location = response.headers()[LOCATION].to_str().unwrap();
    assert!(location.starts_with(REDIRECT), "{location}");
    let query = location.split_once('?').unwrap().1;
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "code")
        .unwrap()
        .1
        .into_owned()
}

#[tokio::test]
async fn a_good_document_completes_the_flow_and_is_cached() {
    let documents = DocumentServer::start().await;
    let server = gatehouse(|_| {}).await;
    let metadata: Value = server
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            server.issuer
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["client_id_metadata_document_supported"], true);

    let client_id = documents.url("/good.json");
    let response = server.authorize(&client_id).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let code = code_of(&response);
    let (status, tokens) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", &client_id),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{tokens}");
    let access = tokens["access_token"].as_str().unwrap();
    let payload = access.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(
        &<base64ct::Base64UrlUnpadded as base64ct::Encoding>::decode_vec(payload).unwrap(),
    )
    .unwrap();
    assert_eq!(claims["client_id"], client_id.as_str());

    let (status, refreshed) = server
        .token(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", &client_id),
        ])
        .await;
    assert_eq!(status, StatusCode::OK, "{refreshed}");

    // A second authorization within max-age: no second fetch.
    let response = server.authorize(&client_id).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(documents.hits("/good.json"), 1, "fetched once, then cached");

    // The document names one client: another client's URL cannot redeem this one's code.
    let code = code_of(&server.authorize(&client_id).await);
    let (status, error) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", &documents.url("/other.json")),
        ])
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["error"], "invalid_grant");
}

#[tokio::test]
async fn each_fetching_rule_refuses_its_case() {
    let documents = DocumentServer::start().await;
    let server = gatehouse(|_| {}).await;
    let cases = [
        ("/redirect.json", StatusCode::BAD_REQUEST, "redirect"),
        (
            "/big.json",
            StatusCode::BAD_REQUEST,
            "larger than 5120 bytes",
        ),
        (
            "/endless.json",
            StatusCode::BAD_REQUEST,
            "larger than 5120 bytes",
        ),
        ("/html.json", StatusCode::BAD_REQUEST, "application/json"),
        ("/missing.json", StatusCode::BAD_REQUEST, "HTTP status 404"),
        (
            "/broken.json",
            StatusCode::SERVICE_UNAVAILABLE,
            "HTTP status 500",
        ),
    ];
    for (path, status, reason) in cases {
        let page = server.refusal(&documents.url(path), status).await;
        assert!(page.contains(reason), "{path}: {page}");
    }
    // draft §4.1: client_id equals the URL; no shared-secret methods; MCP: client_name required.
    let page = server
        .refusal(&documents.url("/mismatch.json"), StatusCode::BAD_REQUEST)
        .await;
    assert!(page.contains("client_id"), "{page}");
    let page = server
        .refusal(&documents.url("/secret.json"), StatusCode::BAD_REQUEST)
        .await;
    assert!(page.contains("client_secret_basic"), "{page}");
    let page = server
        .refusal(&documents.url("/unnamed.json"), StatusCode::BAD_REQUEST)
        .await;
    assert!(page.contains("client_name"), "{page}");
    // Failures are never cached: each attempt fetched again.
    server
        .refusal(&documents.url("/html.json"), StatusCode::BAD_REQUEST)
        .await;
    assert_eq!(documents.hits("/html.json"), 2);

    // The token endpoint cannot be used with a refused document either.
    let (status, error) = server
        .token(&[
            ("grant_type", "authorization_code"),
            ("code", "x"),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
            ("client_id", &documents.url("/secret.json")),
        ])
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    assert_eq!(error["error"], "invalid_client");
}

#[tokio::test]
async fn private_and_special_use_addresses_are_refused() {
    let documents = DocumentServer::start().await;
    // Even with loopback allowed for the test, other special-use addresses are not.
    let server = gatehouse(|_| {}).await;
    for url in [
        "https://10.0.0.1/client.json",
        "https://192.168.1.10/client.json",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/client.json",
        "https://[fd00::1]/client.json",
        "https://[::ffff:10.0.0.1]/client.json",
        "https://0.0.0.0/client.json",
    ] {
        let page = server.refusal(url, StatusCode::BAD_REQUEST).await;
        assert!(page.contains("private or special-use"), "{url}: {page}");
    }

    // Without the dangerous setting, loopback is refused too: as an IP literal, and as a name
    // whose resolved addresses are checked (`localhost`).
    let strict = gatehouse(|config| {
        config.client_id_metadata_documents.dangerous_allow_loopback = false;
    })
    .await;
    let literal = format!("https://127.0.0.1:{}/good.json", documents.port);
    let page = strict.refusal(&literal, StatusCode::BAD_REQUEST).await;
    assert!(page.contains("private or special-use"), "{page}");
    let page = strict
        .refusal(&documents.url("/good.json"), StatusCode::BAD_REQUEST)
        .await;
    assert!(page.contains("resolves to"), "{page}");
    assert_eq!(documents.hits("/good.json"), 0, "never connected");
}

#[tokio::test]
async fn the_certificate_must_be_trusted() {
    let documents = DocumentServer::start().await;
    let server = gatehouse(|config| {
        config
            .client_id_metadata_documents
            .dangerous_extra_root_certificate = None;
    })
    .await;
    let page = server
        .refusal(
            &documents.url("/good.json"),
            StatusCode::SERVICE_UNAVAILABLE,
        )
        .await;
    assert!(page.contains("could not be fetched"), "{page}");
}

#[tokio::test]
async fn the_allowlist_and_the_switch_are_honoured() {
    let documents = DocumentServer::start().await;
    let listed = gatehouse(|config| {
        config.client_id_metadata_documents.allowed_hosts = vec!["*.example.com".into()];
    })
    .await;
    let page = listed
        .refusal(&documents.url("/good.json"), StatusCode::BAD_REQUEST)
        .await;
    assert!(page.contains("localhost are not accepted"), "{page}");

    let off = gatehouse(|config| config.client_id_metadata_documents.enabled = false).await;
    let metadata: Value = off
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            off.issuer
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(metadata["client_id_metadata_document_supported"], false);
    let response = off.authorize(&documents.url("/good.json")).await;
    assert_eq!(response.status(), StatusCode::BAD_REQUEST);
    assert_eq!(documents.hits("/good.json"), 0);
}

#[test]
fn dangerous_settings_are_refused_for_a_real_issuer() {
    let mut config = Config::demo("127.0.0.1:8080".parse().unwrap());
    config.issuer = "https://auth.example.com".into();
    config.client_id_metadata_documents.dangerous_allow_loopback = true;
    let error = config.validate().unwrap_err().to_string();
    assert!(error.contains("dangerous_allow_loopback"), "{error}");
    config.client_id_metadata_documents.dangerous_allow_loopback = false;
    config
        .client_id_metadata_documents
        .dangerous_extra_root_certificate = Some("x.pem".into());
    let error = config.validate().unwrap_err().to_string();
    assert!(
        error.contains("dangerous_extra_root_certificate"),
        "{error}"
    );
}

/// One requester naming documents on a slow host must not starve the fetches of a legitimate
/// client on another host, from another address: quotas per host and per requester, a short
/// deadline, and a negative cache for the failing host.
#[tokio::test]
async fn a_slow_host_and_a_greedy_requester_do_not_starve_other_clients() {
    let slow = DocumentServer::start().await;
    let good = DocumentServer::start().await;
    // Requesters told apart by X-Forwarded-For, as behind a reverse proxy.
    let server = gatehouse(|config| config.rate_limits.trust_forwarded_for = true).await;
    let authorize_from = |address: &'static str, client_id: String| {
        let url = format!(
            "{}/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=s1&scope=mcp:tools",
            server.issuer,
            encode(&client_id),
            encode(REDIRECT)
        );
        let http = server.http.clone();
        async move {
            http.get(url)
                .header("x-forwarded-for", address)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    // Sixteen requests from one address for documents on the slow host, all at once.
    let attack: Vec<_> = (0..16)
        .map(|n| {
            tokio::spawn(authorize_from(
                "198.51.100.7",
                slow.url(&format!("/slow-{n}.json")),
            ))
        })
        .collect();
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    // Meanwhile a legitimate client, elsewhere.
    let legitimate = authorize_from("203.0.113.9", good.url("/good.json")).await;
    assert_eq!(
        legitimate,
        StatusCode::SEE_OTHER,
        "the legitimate client was starved"
    );
    let mut statuses = Vec::new();
    for task in attack {
        statuses.push(task.await.unwrap());
    }
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::SERVICE_UNAVAILABLE),
        "{statuses:?}"
    );
    // The requester had at most its quota in flight, and the host its own.
    let fetched: usize = (0..16).map(|n| slow.hits(&format!("/slow-{n}.json"))).sum();
    assert!(
        (1..=2).contains(&fetched),
        "{fetched} fetches for one requester"
    );
    // Once the slow fetches timed out, the host is not asked again for a while, whoever asks.
    let again = authorize_from("192.0.2.1", slow.url("/slow-again.json")).await;
    assert_eq!(again, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        slow.hits("/slow-again.json"),
        0,
        "the failing host was asked again"
    );
}

/// RFC 7523 §2.2 with the keys at the client's `jwks_uri` (RFC 7591 §2): fetched once and cached,
/// behind the fences of metadata documents; a set without usable keys, or a URL that does not
/// answer, fails the client's authentication.
#[tokio::test]
async fn a_private_key_jwt_client_is_verified_with_the_keys_at_its_jwks_uri() {
    let documents = DocumentServer::start().await;
    let declare = |id: &str, path: &str| -> gatehouse_axum::config::DeclaredClient {
        toml::from_str(&format!(
            "client_id = \"{id}\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\n\
             jwks_uri = \"{}\"\ngrant_types = [\"client_credentials\"]\nscope = \"mcp:tools\"\n",
            documents.url(path)
        ))
        .unwrap()
    };
    let clients = vec![
        declare("machine", "/jwks.json"),
        declare("keyless", "/nokeys.json"),
        declare("gone", "/missing.json"),
    ];
    let server = gatehouse(move |config| config.clients = clients).await;
    let key = machine_key();
    let now = gatehouse_axum::now().as_secs();
    let assertion = |client: &str, jti: &str| {
        let claims = json!({"iss": client, "sub": client, "aud": server.issuer,
                            "iat": now, "exp": now + 60, "jti": jti});
        gatehouse_jose::jws::sign(&key, None, claims.to_string().as_bytes()).unwrap()
    };
    let token = |assertion: String| {
        let body = support::form(&[
            ("grant_type", "client_credentials"),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &assertion),
        ]);
        let request = server
            .http
            .post(format!("{}/token", server.issuer))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };

    let (status, issued) = token(assertion("machine", "j1")).await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert_eq!(issued["scope"], "mcp:tools");
    // Replayed: refused (RFC 7523 §3 item 7).
    let (status, refused) = token(assertion("machine", "j1")).await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::UNAUTHORIZED, Some("invalid_client"))
    );
    // A new assertion: accepted, the keys taken from the cache.
    let (status, _) = token(assertion("machine", "j2")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(documents.hits("/jwks.json"), 1);

    // A client that registered itself with a jwks_uri but authenticates otherwise: an assertion
    // naming it is refused without fetching anything (its jwks_uri is anyone's choice).
    let registered: Value = server
        .http
        .post(format!("{}/register", server.issuer))
        .json(
            &json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
                      "jwks_uri": documents.url("/attacker-chosen.json")}),
        )
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = registered["client_id"].as_str().unwrap().to_owned();
    let (status, _) = token(assertion(&id, "j4")).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(documents.hits("/attacker-chosen.json"), 0);

    for client in ["keyless", "gone"] {
        let (status, refused) = token(assertion(client, "j3")).await;
        assert_eq!(
            (status, refused["error"].as_str()),
            (StatusCode::UNAUTHORIZED, Some("invalid_client")),
            "{client}: {refused}"
        );
    }
}

/// MCP Enterprise-Managed Authorization (SEP-990) over HTTP: the identity provider's keys found
/// by OpenID Connect Discovery behind the document fences; its ID-JAG, presented by a
/// `private_key_jwt` client with the jwt-bearer grant, gets this server's token for the person,
/// once; the metadata advertises the profile (draft-ietf-oauth-identity-assertion-authz-grant
/// §7.2).
#[tokio::test]
async fn an_id_jag_from_a_trusted_identity_provider_gets_a_token() {
    let documents = DocumentServer::start().await;
    let idp = format!("https://localhost:{}", documents.port);
    let key = machine_key();
    let public = json!({"keys": [key.verifying_key().to_jwk()]}).to_string();
    let client: gatehouse_axum::config::DeclaredClient = toml::from_str(&format!(
        "client_id = \"enterprise-app\"\ntoken_endpoint_auth_method = \"private_key_jwt\"\n\
         jwks = '{public}'\ngrant_types = [\"urn:ietf:params:oauth:grant-type:jwt-bearer\"]\n"
    ))
    .unwrap();
    let provider: gatehouse_axum::config::IdentityProvider = toml::from_str(&format!(
        "id = \"corp\"\nissuer = \"{idp}\"\naccept_id_jag = true\n"
    ))
    .unwrap();
    let server = gatehouse(move |config| {
        config.clients = vec![client];
        config.identity_providers = vec![provider];
    })
    .await;
    let metadata: Value = server
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            server.issuer
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        metadata["authorization_grant_profiles_supported"],
        json!(["urn:ietf:params:oauth:grant-profile:id-jag"])
    );
    assert!(
        metadata["grant_types_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("urn:ietf:params:oauth:grant-type:jwt-bearer"))
    );

    let now = gatehouse_axum::now().as_secs();
    let resource = format!("{}/mcp", server.issuer);
    let sign = |typ: Option<&str>, claims: Value| {
        gatehouse_jose::jws::sign(&key, typ, claims.to_string().as_bytes()).unwrap()
    };
    let id_jag = sign(
        Some("oauth-id-jag+jwt"),
        json!({"iss": idp, "sub": "248289761001", "aud": server.issuer, "client_id": "enterprise-app",
               "resource": resource, "scope": "mcp:tools", "iat": now, "exp": now + 300, "jti": "idjag-1"}),
    );
    let present = |id_jag: String, jti: &str| {
        let client_assertion = sign(
            None,
            json!({"iss": "enterprise-app", "sub": "enterprise-app", "aud": server.issuer,
                   "iat": now, "exp": now + 60, "jti": jti}),
        );
        let body = support::form(&[
            ("grant_type", "urn:ietf:params:oauth:grant-type:jwt-bearer"),
            ("assertion", &id_jag),
            (
                "client_assertion_type",
                "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            ),
            ("client_assertion", &client_assertion),
        ]);
        let request = server
            .http
            .post(format!("{}/token", server.issuer))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(body);
        async move {
            let response = request.send().await.unwrap();
            let status = response.status();
            (status, response.json::<Value>().await.unwrap())
        }
    };
    let (status, issued) = present(id_jag.clone(), "c1").await;
    assert_eq!(status, StatusCode::OK, "{issued}");
    assert!(issued.get("refresh_token").is_none());
    let token = issued["access_token"].as_str().unwrap();
    let (_, payload) = gatehouse_jose::jws::dangerous_decode_unverified(token).unwrap();
    let claims: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(claims["sub"], "corp:248289761001");
    assert_eq!(claims["aud"], resource);
    // The MCP server behind the guard accepts it.
    let mcp = server
        .http
        .post(&resource)
        .bearer_auth(token)
        .header("Content-Type", "application/json")
        .header("Accept", "application/json, text/event-stream")
        .body(r#"{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-11-25","capabilities":{},"clientInfo":{"name":"t","version":"1"}}}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(mcp.status(), StatusCode::OK);
    // Replayed (with a fresh client assertion): invalid_grant.
    let (status, refused) = present(id_jag, "c2").await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    // From an issuer nobody configured: invalid_grant.
    let stranger = sign(
        Some("oauth-id-jag+jwt"),
        json!({"iss": "https://evil.example.com", "sub": "x", "aud": server.issuer, "client_id": "enterprise-app",
               "resource": resource, "iat": now, "exp": now + 300, "jti": "idjag-2"}),
    );
    let (status, refused) = present(stranger, "c3").await;
    assert_eq!(
        (status, refused["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_grant"))
    );
    assert_eq!(documents.hits("/.well-known/openid-configuration"), 1);
}
