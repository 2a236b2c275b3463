//! The authorization server over real HTTP on a loopback port: every endpoint, the flow as an MCP
//! client performs it, and the error paths, each checked for status, body and headers.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

use std::collections::HashMap;

use gatehouse_axum::{Config, Gatehouse, LoginMode};
use gatehouse_store::sealing::EncryptionKey;
use gatehouse_store::{AnyStore, MemoryBackend, ServerStore, UserRecord, password};
use reqwest::StatusCode;
use reqwest::header::{ALLOW, CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE, WWW_AUTHENTICATE};
use serde_json::Value;

const REDIRECT: &str = "http://127.0.0.1:33418/callback";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const FORM: &str = "application/x-www-form-urlencoded";

struct Server {
    base: String,
    issuer: String,
    http: reqwest::Client,
    gatehouse: Gatehouse,
}

/// A server on a free loopback port; `path` is the issuer's path (`""` for an origin).
async fn server(mode: LoginMode, path: &str) -> Server {
    server_with(mode, path, |_| {}).await
}

async fn server_with(mode: LoginMode, path: &str, edit: impl FnOnce(&mut Config)) -> Server {
    server_with_extensions(mode, path, edit, Default::default()).await
}

async fn server_with_extensions(
    mode: LoginMode,
    path: &str,
    edit: impl FnOnce(&mut Config),
    extensions: gatehouse_axum::Extensions,
) -> Server {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let mut config = Config::demo(address);
    config.issuer = format!("http://{address}{path}");
    config.database = gatehouse_store::DatabaseUrl::Memory;
    config.login.mode = mode;
    config.login.auto_approve_subject = "alice".into();
    config.resources[0].resource = format!("http://{address}/mcp");
    edit(&mut config);
    let store = AnyStore::Memory(Box::new(MemoryBackend::new()));
    let gatehouse = Gatehouse::with_store(
        config,
        store,
        EncryptionKey::generate().unwrap(),
        extensions,
    )
    .await
    .unwrap();
    let router = gatehouse
        .router()
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    Server {
        base: format!("http://{address}"),
        issuer: format!("http://{address}{path}"),
        http: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        gatehouse,
    }
}

impl Server {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    async fn register(&self, metadata: Value) -> Value {
        let response = self
            .http
            .post(self.url("/register"))
            .json(&metadata)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
        response.json().await.unwrap()
    }

    async fn public_client(&self) -> String {
        self.register(serde_json::json!({
            "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"], "client_name": "Public"
        }))
        .await["client_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    async fn confidential_client(&self) -> (String, String, Value) {
        let info = self
            .register(serde_json::json!({
                "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "client_secret_basic",
                "grant_types": ["authorization_code", "refresh_token"], "client_name": "Confidential"
            }))
            .await;
        (
            info["client_id"].as_str().unwrap().to_owned(),
            info["client_secret"].as_str().unwrap().to_owned(),
            info,
        )
    }

    fn authorize_query(&self, client_id: &str, extra: &str) -> String {
        format!(
            "{}?response_type=code&client_id={client_id}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=s1&scope=mcp:tools{extra}",
            self.url("/authorize"),
            urlencode(REDIRECT)
        )
    }

    /// Submits a page form: the authorization request for `client_id` plus `fields`.
    /// The session cookie a response sets (`name=value`).
    fn session_cookie(response: &reqwest::Response) -> String {
        response.headers()[SET_COOKIE]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_owned()
    }

    async fn submit_page(
        &self,
        client_id: &str,
        fields: &[(&str, &str)],
        cookies: &str,
    ) -> reqwest::Response {
        let mut pairs: Vec<(String, String)> = query(&self.authorize_query(client_id, ""))
            .into_iter()
            .collect();
        pairs.extend(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        self.http
            .post(self.url("/authorize"))
            .header(CONTENT_TYPE, FORM)
            .header("cookie", cookies)
            .body(gatehouse_types::form::encode(
                pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())),
            ))
            .send()
            .await
            .unwrap()
    }

    /// Auto-approve: the code from the redirect.
    async fn code(&self, client_id: &str) -> String {
        let response = self
            .http
            .get(self.authorize_query(client_id, ""))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        let location = response.headers()[LOCATION].to_str().unwrap().to_owned();
        let params = query(&location);
        assert!(location.starts_with(REDIRECT));
        assert_eq!(params["state"], "s1");
        assert_eq!(params["iss"], self.issuer, "RFC 9207 iss");
        params["code"].clone()
    }

    async fn post_form(
        &self,
        path: &str,
        body: &[(&str, &str)],
        basic: Option<(&str, &str)>,
    ) -> reqwest::Response {
        let mut request = self
            .http
            .post(self.url(path))
            .header(CONTENT_TYPE, FORM)
            .body(gatehouse_types::form::encode(body.iter().copied()));
        if let Some((user, secret)) = basic {
            request = request.basic_auth(urlencode(user), Some(urlencode(secret)));
        }
        request.send().await.unwrap()
    }
}

fn urlencode(value: &str) -> String {
    gatehouse_types::form::encode([("v", value)])
        .trim_start_matches("v=")
        .to_owned()
}

fn query(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    gatehouse_types::form::FormParams::parse(query.as_bytes())
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

async fn json_error(response: reqwest::Response, status: StatusCode, code: &str) -> Value {
    assert_eq!(response.status(), status);
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], code, "{body}");
    assert!(
        body["error_description"]
            .as_str()
            .is_some_and(|d| !d.is_empty())
    );
    body
}

#[tokio::test]
async fn rfc8414_metadata_is_valid_for_mcp_and_names_the_issuer_exactly() {
    let server = server(LoginMode::AutoApprove, "").await;
    let response = server
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = response.bytes().await.unwrap();
    let metadata = gatehouse_as_metadata::AuthorizationServerMetadata::from_json(&bytes).unwrap();
    metadata.validate_for_mcp().unwrap();
    metadata.check_issuer(&server.issuer).unwrap();
    let json: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        json["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(json["authorization_response_iss_parameter_supported"], true);

    let jwks: Value = server
        .http
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let key = &jwks["keys"][0];
    assert_eq!(key["kty"], "EC");
    assert!(key.get("d").is_none(), "no private member in the JWKS");
}

#[tokio::test]
async fn rfc8414_section_3_1_metadata_of_an_issuer_with_a_path_is_path_inserted() {
    let server = server(LoginMode::AutoApprove, "/tenant").await;
    let response = server
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server/tenant",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let metadata: Value = response.json().await.unwrap();
    assert_eq!(metadata["issuer"], server.issuer);
    assert_eq!(
        metadata["token_endpoint"],
        format!("{}/token", server.issuer)
    );
    // The endpoints live under the issuer's path, and work there.
    let client_id = server.public_client().await;
    let _code = server.code(&client_id).await;
    let root = server
        .http
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            server.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(root.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_mcp_flow_with_a_public_client() {
    let server = server(LoginMode::AutoApprove, "").await;
    let client_id = server.public_client().await;
    let code = server.code(&client_id).await;
    let response = server
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", &client_id),
            ],
            None,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()[CACHE_CONTROL], "no-store");
    assert_eq!(response.headers()["pragma"], "no-cache");
    let tokens: Value = response.json().await.unwrap();
    assert_eq!(tokens["token_type"], "Bearer");
    let access = tokens["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();

    // The access token verifies against the published JWKS, for the resource.
    let jwks = server
        .http
        .get(server.url("/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let (keys, _) = gatehouse_jose::KeySet::from_jwks_json(&jwks).unwrap();
    let resource = server.gatehouse.config().resources[0].resource.clone();
    let claims = gatehouse_jose::AccessTokenValidator::new(&server.issuer, &resource)
        .validate(&access, &keys, now())
        .unwrap();
    assert_eq!(claims.claims().sub, "alice");

    // Refresh rotates.
    let rotated: Value = server
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh),
                ("client_id", &client_id),
            ],
            None,
        )
        .await
        .json()
        .await
        .unwrap();
    let refresh_2 = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(refresh_2, refresh);

    // The code again: refused, and what it issued is revoked (OAuth 2.1 §4.1.3).
    let replay = server
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", &client_id),
            ],
            None,
        )
        .await;
    json_error(replay, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let after = server
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", &refresh_2),
                ("client_id", &client_id),
            ],
            None,
        )
        .await;
    json_error(after, StatusCode::BAD_REQUEST, "invalid_grant").await;

    // RFC 7009: revocation answers 200, also for a token it does not know.
    let revoked = server
        .post_form(
            "/revoke",
            &[("token", "not-a-token"), ("client_id", &client_id)],
            None,
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
}

#[tokio::test]
async fn the_mcp_flow_with_a_confidential_client_and_introspection() {
    let server = server(LoginMode::AutoApprove, "").await;
    let (client_id, secret, _) = server.confidential_client().await;
    let code = server.code(&client_id).await;
    let basic = Some((client_id.as_str(), secret.as_str()));
    let tokens: Value = server
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            basic,
        )
        .await
        .json()
        .await
        .unwrap();
    let access = tokens["access_token"].as_str().unwrap().to_owned();

    let active: Value = server
        .post_form("/introspect", &[("token", &access)], basic)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(active["active"], true, "{active}");
    assert_eq!(active["client_id"], client_id.as_str());
    assert_eq!(active["scope"], "mcp:tools");

    // RFC 7662 §2.1: introspection needs client authentication.
    let anonymous = server
        .post_form("/introspect", &[("token", &access)], None)
        .await;
    let status = anonymous.status();
    assert!(
        status == StatusCode::UNAUTHORIZED || status == StatusCode::BAD_REQUEST,
        "{status}"
    );

    let revoked = server
        .post_form(
            "/revoke",
            &[("token", &access), ("token_type_hint", "access_token")],
            basic,
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::OK);
    let inactive: Value = server
        .post_form("/introspect", &[("token", &access)], basic)
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(inactive, serde_json::json!({ "active": false }));
}

#[tokio::test]
async fn token_endpoint_errors_are_precise() {
    let server = server(LoginMode::AutoApprove, "").await;
    let (client_id, _, _) = server.confidential_client().await;

    // Wrong secret: 401 invalid_client with a challenge (RFC 6749 §5.2).
    let wrong = server
        .post_form(
            "/token",
            &[("grant_type", "refresh_token"), ("refresh_token", "x")],
            Some((&client_id, "wrong")),
        )
        .await;
    assert!(wrong.headers().get(WWW_AUTHENTICATE).is_some());
    json_error(wrong, StatusCode::UNAUTHORIZED, "invalid_client").await;

    let public = server.public_client().await;
    let grant = server
        .post_form(
            "/token",
            &[("grant_type", "password"), ("client_id", &public)],
            None,
        )
        .await;
    json_error(grant, StatusCode::BAD_REQUEST, "unsupported_grant_type").await;

    // JSON where a form is required.
    let json = server
        .http
        .post(server.url("/token"))
        .json(&serde_json::json!({"grant_type": "authorization_code"}))
        .send()
        .await
        .unwrap();
    json_error(json, StatusCode::BAD_REQUEST, "invalid_request").await;

    // A wrong method: 405 with Allow.
    let get = server.http.get(server.url("/token")).send().await.unwrap();
    assert_eq!(get.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(get.headers()[ALLOW].to_str().unwrap().contains("POST"));

    // A body over the limit: 413, never read whole.
    let huge = server
        .http
        .post(server.url("/token"))
        .header(CONTENT_TYPE, FORM)
        .body(format!(
            "grant_type=authorization_code&code={}",
            "a".repeat(200_000)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn registration_errors_name_the_problem() {
    let server = server(LoginMode::AutoApprove, "").await;
    let bad_redirect = server
        .http
        .post(server.url("/register"))
        .json(&serde_json::json!({"redirect_uris": ["javascript:alert(1)"], "token_endpoint_auth_method": "none"}))
        .send()
        .await
        .unwrap();
    json_error(
        bad_redirect,
        StatusCode::BAD_REQUEST,
        "invalid_redirect_uri",
    )
    .await;
    let not_json = server
        .http
        .post(server.url("/register"))
        .header(CONTENT_TYPE, FORM)
        .body("redirect_uris=x")
        .send()
        .await
        .unwrap();
    json_error(not_json, StatusCode::BAD_REQUEST, "invalid_request").await;
    let malformed = server
        .http
        .post(server.url("/register"))
        .header(CONTENT_TYPE, "application/json")
        .body("{")
        .send()
        .await
        .unwrap();
    json_error(
        malformed,
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
    )
    .await;
}

#[tokio::test]
async fn authorization_errors_before_the_redirect_uri_is_known_are_shown_not_redirected() {
    let server = server(LoginMode::AutoApprove, "").await;
    // OAuth 2.1 §4.1.2.1: an unknown client gets a page, never a redirect.
    let unknown = server
        .http
        .get(server.authorize_query("no-such-client", ""))
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    assert!(unknown.headers().get(LOCATION).is_none());
    assert_eq!(unknown.headers()["x-frame-options"], "DENY");
    let client_id = server.public_client().await;
    let wrong_redirect = server
        .http
        .get(server.authorize_query(&client_id, "").replace("33418", "1"))
        .send()
        .await
        .unwrap();
    // Loopback redirect URIs match on any port (RFC 8252 §7.3); a different path does not.
    assert_eq!(wrong_redirect.status(), StatusCode::SEE_OTHER);
    let other_path = server
        .http
        .get(
            server
                .authorize_query(&client_id, "")
                .replace("callback", "elsewhere"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(other_path.status(), StatusCode::BAD_REQUEST);
    assert!(other_path.headers().get(LOCATION).is_none());

    // After the redirect URI is known: an error for the client. This client registered itself,
    // so the person sees where they are sent first (RFC 9700 §4.11.2).
    let plain = server
        .http
        .get(
            server
                .authorize_query(&client_id, "")
                .replace("S256", "plain"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::BAD_REQUEST);
    let page = plain.text().await.unwrap();
    assert!(page.contains("error=invalid_request"), "{page}");
}

/// Sign-in and consent, as a browser without JavaScript does them.
#[tokio::test]
async fn local_sign_in_consent_and_csrf() {
    // More page requests than the authorize budget of one address: limits are tested elsewhere.
    let server = server_with(LoginMode::Local, "", |config| {
        config.rate_limits.enabled = false
    })
    .await;
    server
        .gatehouse
        .store()
        .add_user(UserRecord {
            name: "alice".into(),
            password_hash: password::hash("correct horse").unwrap(),
            created_at: gatehouse_types::UnixTime::from_secs(now()),
        })
        .await
        .unwrap();
    let client_id = server.public_client().await;
    let first = server
        .http
        .get(server.authorize_query(&client_id, ""))
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let browser_cookie = Server::session_cookie(&first);
    let page = first.text().await.unwrap();
    assert!(page.contains("Sign in"));
    let csrf = form_token(&page);
    // No CSRF token: refused.
    let forged = server
        .submit_page(
            &client_id,
            &[
                ("gatehouse_action", "sign_in"),
                ("username", "alice"),
                ("password", "correct horse"),
            ],
            "",
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let wrong = server
        .submit_page(
            &client_id,
            &[
                ("gatehouse_action", "sign_in"),
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", "wrong"),
            ],
            &browser_cookie,
        )
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let signed_in = server
        .submit_page(
            &client_id,
            &[
                ("gatehouse_action", "sign_in"),
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", "correct horse"),
            ],
            &browser_cookie,
        )
        .await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    // Signing in makes a new session, whose forms carry a new token.
    let cookies = Server::session_cookie(&signed_in);
    assert_ne!(cookies, browser_cookie);
    let consent = signed_in.text().await.unwrap();
    assert!(
        consent.contains("Allow") && consent.contains("mcp:tools"),
        "{consent}"
    );
    let csrf = form_token(&consent);

    let denied = server
        .submit_page(
            &client_id,
            &[("gatehouse_action", "deny"), ("csrf", &csrf)],
            &cookies,
        )
        .await;
    assert_eq!(denied.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        query(denied.headers()[LOCATION].to_str().unwrap())["error"],
        "access_denied"
    );

    let approved = server
        .submit_page(
            &client_id,
            &[("gatehouse_action", "approve"), ("csrf", &csrf)],
            &cookies,
        )
        .await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    assert!(query(approved.headers()[LOCATION].to_str().unwrap()).contains_key("code"));

    // RFC 8252 §8.6: for a public client, whose identity nothing proves, consent is asked again.
    let again = server
        .http
        .get(server.authorize_query(&client_id, ""))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK);
    assert!(again.text().await.unwrap().contains("will be able to"));

    // For a confidential client the remembered consent is honoured: straight back with a code.
    let (confidential, _, _) = server.confidential_client().await;
    let approved = server
        .submit_page(
            &confidential,
            &[("gatehouse_action", "approve"), ("csrf", &csrf)],
            &cookies,
        )
        .await;
    assert_eq!(approved.status(), StatusCode::SEE_OTHER);
    let remembered = server
        .http
        .get(server.authorize_query(&confidential, ""))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(remembered.status(), StatusCode::SEE_OTHER);
    // A narrower request is covered too; a wider one is asked again.
    let wider = server
        .http
        .get(
            server
                .authorize_query(&confidential, "")
                .replace("scope=mcp:tools", "scope=mcp:tools%20mcp:admin"),
        )
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(wider.status(), StatusCode::OK);

    // Page fields smuggled into a link do not reach the forms.
    let smuggled = server
        .http
        .get(format!(
            "{}&gatehouse_action=approve&csrf=x",
            server.authorize_query(&client_id, "")
        ))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    let page = smuggled.text().await.unwrap();
    assert_eq!(page.matches("name=\"csrf\"").count(), 1, "{page}");
    assert!(!page.contains("value=\"approve\" type=\"hidden\""));
}

/// The CSRF token of the first form on a page.
fn form_token(page: &str) -> String {
    page.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF token in {page}"))
        .to_owned()
}

/// Signs `alice` in through the pages and returns the session cookie and the CSRF token of the
/// consent page.
async fn signed_in(server: &Server, client_id: &str) -> (String, String) {
    let first = server
        .http
        .get(server.authorize_query(client_id, ""))
        .send()
        .await
        .unwrap();
    let browser_cookie = Server::session_cookie(&first);
    let csrf = form_token(&first.text().await.unwrap());
    let response = server
        .submit_page(
            client_id,
            &[
                ("gatehouse_action", "sign_in"),
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", "correct horse"),
            ],
            &browser_cookie,
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let session = Server::session_cookie(&response);
    (session, form_token(&response.text().await.unwrap()))
}

#[tokio::test]
async fn connected_apps_lists_grants_and_disconnects_one() {
    let server = server(LoginMode::Local, "").await;
    server
        .gatehouse
        .store()
        .add_user(UserRecord {
            name: "alice".into(),
            password_hash: password::hash("correct horse").unwrap(),
            created_at: gatehouse_types::UnixTime::from_secs(now()),
        })
        .await
        .unwrap();
    let client_id = server.public_client().await;
    let (cookies, csrf) = signed_in(&server, &client_id).await;
    let approved = server
        .submit_page(
            &client_id,
            &[("gatehouse_action", "approve"), ("csrf", &csrf)],
            &cookies,
        )
        .await;
    let code = query(approved.headers()[LOCATION].to_str().unwrap())["code"].clone();
    let tokens: Value = server
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", &client_id),
            ],
            None,
        )
        .await
        .json()
        .await
        .unwrap();

    // Not signed in: the sign-in form.
    let anonymous = server
        .http
        .get(server.url("/connected-apps"))
        .send()
        .await
        .unwrap();
    assert!(
        anonymous
            .text()
            .await
            .unwrap()
            .contains("Sign in to continue to your connected apps")
    );

    let listed = server
        .http
        .get(server.url("/connected-apps"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    assert_eq!(listed.headers()["x-frame-options"], "DENY");
    let page = listed.text().await.unwrap();
    assert!(
        page.contains("Public") && page.contains("mcp:tools"),
        "{page}"
    );
    let grant = page
        .split("name=\"grant\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap()
        .to_owned();

    // Without the CSRF token nothing happens.
    let forged = server
        .http
        .post(server.url("/connected-apps"))
        .header(CONTENT_TYPE, FORM)
        .header("cookie", &cookies)
        .body(gatehouse_types::form::encode([
            ("gatehouse_action", "revoke"),
            ("grant", grant.as_str()),
        ]))
        .send()
        .await
        .unwrap();
    assert_ne!(forged.status(), StatusCode::SEE_OTHER);

    let revoked = server
        .http
        .post(server.url("/connected-apps"))
        .header(CONTENT_TYPE, FORM)
        .header("cookie", &cookies)
        .body(gatehouse_types::form::encode([
            ("gatehouse_action", "revoke"),
            ("grant", grant.as_str()),
            ("csrf", csrf.as_str()),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    // The grant is gone: its refresh token fails, and the next authorization asks again.
    let refresh = server
        .post_form(
            "/token",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
                ("client_id", &client_id),
            ],
            None,
        )
        .await;
    json_error(refresh, StatusCode::BAD_REQUEST, "invalid_grant").await;
    let again = server
        .http
        .get(server.authorize_query(&client_id, ""))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::OK, "consent is asked again");
    let empty = server
        .http
        .get(server.url("/connected-apps"))
        .header("cookie", &cookies)
        .send()
        .await
        .unwrap();
    assert!(
        empty
            .text()
            .await
            .unwrap()
            .contains("No application holds access for you")
    );
}

#[tokio::test]
async fn rfc7592_read_update_and_delete_with_the_registration_token() {
    let server = server(LoginMode::AutoApprove, "").await;
    let (client_id, secret, info) = server.confidential_client().await;
    let uri = info["registration_client_uri"].as_str().unwrap().to_owned();
    let token = info["registration_access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(uri, server.url(&format!("/register/{client_id}")));

    let read = server
        .http
        .get(&uri)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), StatusCode::OK);
    let read: Value = read.json().await.unwrap();
    assert_eq!(read["client_name"], "Confidential");
    assert!(
        read.get("client_secret").is_none(),
        "only the hash is stored"
    );

    // RFC 7592 §2.1 with RFC 6750 §3.1: a wrong token is 401 invalid_token.
    let wrong = server
        .http
        .get(&uri)
        .bearer_auth("gthm_wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(
        wrong.headers()[WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    json_error(wrong, StatusCode::UNAUTHORIZED, "invalid_token").await;

    let updated = server
        .http
        .put(&uri)
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "client_id": client_id, "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "client_secret_basic",
            "grant_types": ["authorization_code", "refresh_token"], "client_name": "Renamed"
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.status(), StatusCode::OK);
    assert_eq!(
        updated.json::<Value>().await.unwrap()["client_name"],
        "Renamed"
    );
    // A confidential client cannot drop its secret by update: its codes and refresh tokens
    // would then work without it.
    let to_public = server
        .http
        .put(&uri)
        .bearer_auth(&token)
        .json(&serde_json::json!({
            "client_id": client_id, "redirect_uris": [REDIRECT],
            "token_endpoint_auth_method": "none",
            "grant_types": ["authorization_code", "refresh_token"]
        }))
        .send()
        .await
        .unwrap();
    json_error(
        to_public,
        StatusCode::BAD_REQUEST,
        "invalid_client_metadata",
    )
    .await;

    // A grant, then the client deleted: its tokens stop working (RFC 7592 §2.3).
    let code = server.code(&client_id).await;
    let basic = Some((client_id.as_str(), secret.as_str()));
    let tokens: Value = server
        .post_form(
            "/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
            ],
            basic,
        )
        .await
        .json()
        .await
        .unwrap();
    let deleted = server
        .http
        .delete(&uri)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = server
        .http
        .get(&uri)
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), StatusCode::UNAUTHORIZED);
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let refused = server
        .post_form(
            "/token",
            &[("grant_type", "refresh_token"), ("refresh_token", refresh)],
            basic,
        )
        .await;
    json_error(refused, StatusCode::UNAUTHORIZED, "invalid_client").await;
}

#[tokio::test]
async fn cors_on_what_browser_clients_call_and_not_on_the_pages() {
    let server = server(LoginMode::AutoApprove, "").await;
    let preflight = server
        .http
        .request(reqwest::Method::OPTIONS, server.url("/token"))
        .header("origin", "https://inspector.example")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert_eq!(preflight.status(), StatusCode::NO_CONTENT);
    assert_eq!(preflight.headers()["access-control-allow-origin"], "*");
    assert!(
        preflight.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("Authorization")
    );
    for path in [
        "/.well-known/oauth-authorization-server",
        "/.well-known/jwks.json",
    ] {
        let response = server
            .http
            .get(server.url(path))
            .header("origin", "https://inspector.example")
            .send()
            .await
            .unwrap();
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            "*",
            "{path}"
        );
    }
    let client_id = server.public_client().await;
    let page = server
        .http
        .get(server.authorize_query(&client_id, ""))
        .header("origin", "https://evil.example")
        .send()
        .await
        .unwrap();
    assert!(page.headers().get("access-control-allow-origin").is_none());
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_per_client() {
    let server = server_with(LoginMode::AutoApprove, "", |config| {
        config.rate_limits.token_per_min = 2;
        config.rate_limits.authorize_per_min = 3;
    })
    .await;
    let noisy = server.public_client().await;
    let quiet = server.public_client().await;
    let attempt = |client: String| {
        let server = &server;
        async move {
            server
                .post_form(
                    "/token",
                    &[
                        ("grant_type", "refresh_token"),
                        ("refresh_token", "x"),
                        ("client_id", &client),
                    ],
                    None,
                )
                .await
        }
    };
    for _ in 0..2 {
        assert_eq!(
            attempt(noisy.clone()).await.status(),
            StatusCode::BAD_REQUEST
        );
    }
    let limited = server
        .http
        .post(server.url("/token"))
        .header(CONTENT_TYPE, FORM)
        .header("origin", "https://inspector.example")
        .body(gatehouse_types::form::encode([
            ("grant_type", "refresh_token"),
            ("refresh_token", "x"),
            ("client_id", noisy.as_str()),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    // A browser client can read the refusal and its Retry-After.
    assert_eq!(limited.headers()["access-control-allow-origin"], "*");
    let retry: u64 = limited.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another client keeps its own budget.
    assert_eq!(attempt(quiet).await.status(), StatusCode::BAD_REQUEST);

    // The authorization endpoint is limited by address.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(
            server
                .http
                .get(server.authorize_query(&noisy, ""))
                .send()
                .await
                .unwrap()
                .status(),
        );
    }
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    // Health checks and the public documents are never limited.
    for _ in 0..120 {
        for path in ["/healthz", "/.well-known/jwks.json"] {
            let status = server
                .http
                .get(server.url(path))
                .send()
                .await
                .unwrap()
                .status();
            assert_eq!(status, StatusCode::OK, "{path}");
        }
    }
}

#[tokio::test]
async fn security_events_reach_hooks_logs_and_the_audit_table_without_secrets() {
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::<gatehouse_axum::Event>::new()));
    let sink = std::sync::Arc::clone(&seen);
    let extensions = gatehouse_axum::Extensions {
        hooks: vec![Box::new(move |event: &gatehouse_axum::Event| {
            sink.lock().unwrap().push(event.clone());
        })],
        ..Default::default()
    };
    let server = server_with_extensions(LoginMode::AutoApprove, "", |_| {}, extensions).await;
    let (client_id, secret, info) = server.confidential_client().await;
    let code = server.code(&client_id).await;
    let basic = Some((client_id.as_str(), secret.as_str()));
    let redeem = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT),
        ("code_verifier", VERIFIER),
    ];
    let tokens: Value = server
        .post_form("/token", &redeem, basic)
        .await
        .json()
        .await
        .unwrap();
    let replay = server.post_form("/token", &redeem, basic).await;
    assert_eq!(replay.status(), StatusCode::BAD_REQUEST);
    let wrong = server
        .post_form("/token", &redeem, Some((&client_id, "nope")))
        .await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);

    let kinds: Vec<&str> = {
        let events = seen.lock().unwrap();
        events
            .iter()
            .map(|e| e.kind())
            .collect::<Vec<_>>()
            .into_iter()
            .collect()
    };
    assert_eq!(
        kinds,
        [
            "client_registered",
            "token_issued",
            "reuse_detected",
            "client_authentication_failed"
        ]
    );
    let events = seen.lock().unwrap().clone();
    match &events[1] {
        gatehouse_axum::Event::TokenIssued {
            grant_type,
            client_id: issued_to,
            subject,
            scope,
            ..
        } => {
            assert_eq!(
                (
                    grant_type.as_str(),
                    issued_to.as_str(),
                    subject.as_str(),
                    scope.as_str()
                ),
                (
                    "authorization_code",
                    client_id.as_str(),
                    "alice",
                    "mcp:tools"
                )
            );
        }
        other => panic!("{other:?}"),
    }

    // The audit table has them too (written in the background).
    let mut stored = Vec::new();
    for _ in 0..100 {
        stored = server.gatehouse.store().audit_events(0, 100).await.unwrap();
        if stored.len() == events.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(stored.len(), events.len());

    // No secret anywhere in them.
    let everything = format!("{events:?} {stored:?}");
    let secrets = [
        secret.as_str(),
        code.as_str(),
        tokens["refresh_token"].as_str().unwrap(),
        tokens["access_token"].as_str().unwrap(),
        info["registration_access_token"].as_str().unwrap(),
    ];
    for secret in secrets {
        assert!(!everything.contains(secret), "an event holds a secret");
    }
}

#[tokio::test]
async fn health_and_readiness() {
    let server = server(LoginMode::AutoApprove, "").await;
    for path in ["/healthz", "/readyz"] {
        let response = server.http.get(server.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[test]
fn auto_approve_is_refused_unless_the_issuer_is_loopback_http() {
    let mut config = Config::demo("127.0.0.1:8080".parse().unwrap());
    config.login.mode = LoginMode::AutoApprove;
    assert!(config.validate().is_ok());
    config.issuer = "https://auth.example.com".into();
    config.resources[0].resource = "https://mcp.example.com/mcp".into();
    let error = config.validate().unwrap_err().to_string();
    assert!(error.contains("login.mode"), "{error}");
    assert!(Config::from_toml("issuer = \"https://a.example\"\nunknown = 1").is_err());
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}
