//! Talking to an identity provider: where its endpoints are (OpenID Connect Discovery, GitHub's
//! fixed ones, or the configured ones), redeeming a code at its token endpoint, and asking who
//! the person is. Every answer is bounded in time and size, and an error message never carries
//! what the provider sent beyond a short, escaped excerpt.

use std::sync::Arc;
use std::time::{Duration, Instant};

use gatehouse_guard::{JwksCachePolicy, RemoteJwks};
use serde_json::{Map, Value};
use zeroize::Zeroizing;

use crate::config::IdentityProvider;
use crate::outbound::{client_builder, read_capped};

/// How long one call to a provider may take, connection included: the person waits on a page.
pub(crate) const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer read from a provider.
const MAX_ANSWER_BYTES: usize = 256 * 1024;
/// How long a discovery document is used before it is fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// After a failed discovery, how long before it is tried again.
const DISCOVERY_RETRY: Duration = Duration::from_secs(10);

const GITHUB_AUTHORIZE: &str = "https://github.com/login/oauth/authorize";
const GITHUB_TOKEN: &str = "https://github.com/login/oauth/access_token";
const GITHUB_USER: &str = "https://api.github.com/user";
const GITHUB_EMAILS: &str = "https://api.github.com/user/emails";

/// Why a call to the provider failed. The text is safe to show and log.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// It could not be reached, or answered out of protocol.
    #[error("{0}")]
    Unavailable(String),
    /// It answered, and refused (a client error: a token it will not honour, a scope missing
    /// from the configuration, credentials it does not accept).
    #[error("{0}")]
    Refused(String),
    /// Its token endpoint answered `invalid_grant` (RFC 6749 §5.2): the code or refresh token
    /// is no longer good. For a refresh, the person's grant there is gone.
    #[error("{0}")]
    GrantRefused(String),
}

/// A provider's endpoints, as discovered or configured.
#[derive(Clone)]
pub(crate) struct Endpoints {
    pub(crate) authorization: String,
    pub(crate) token: String,
    pub(crate) userinfo: Option<String>,
    /// The issuer identifier its ID tokens and RFC 9207 `iss` carry, where it has one.
    pub(crate) issuer: Option<String>,
    /// RFC 9207 §3: the provider says its authorization responses carry `iss`; one without it is
    /// then refused.
    pub(crate) iss_required: bool,
    /// Its ID token keys (OpenID Connect providers).
    pub(crate) keys: Option<Arc<RemoteJwks>>,
}

/// One configured provider, with its secret and its discovered endpoints.
pub(crate) struct Upstream {
    pub(crate) config: IdentityProvider,
    secret: Option<Zeroizing<String>>,
    /// The discovered endpoints (or why there are none), and until when they stand.
    discovered: tokio::sync::Mutex<Option<(Result<Endpoints, String>, Instant)>>,
}

/// What the token endpoint answered.
pub(crate) struct Tokens {
    pub(crate) access_token: Zeroizing<String>,
    pub(crate) id_token: Option<String>,
    pub(crate) refresh_token: Option<Zeroizing<String>>,
    /// `expires_in` (RFC 6749 §5.1), when given.
    pub(crate) expires_in: Option<u64>,
}

impl Upstream {
    /// The provider `config`, with its client secret.
    pub(crate) fn new(config: IdentityProvider, secret: Option<Zeroizing<String>>) -> Self {
        Self {
            config,
            secret,
            discovered: tokio::sync::Mutex::new(None),
        }
    }

    /// The scopes asked for.
    pub(crate) fn scopes(&self) -> String {
        match &self.config.scopes {
            Some(scopes) => scopes.join(" "),
            None => match self.config.kind.as_str() {
                "oidc" => "openid email profile".into(),
                "github" => "read:user user:email".into(),
                _ => String::new(),
            },
        }
    }

    /// Its endpoints: configured, or from discovery (cached for an hour; a failure is remembered
    /// briefly so that a provider that is down is not asked on every page, and known endpoints
    /// stay in use while a fresh document cannot be had).
    pub(crate) async fn endpoints(
        &self,
        http: &reqwest::Client,
    ) -> Result<Endpoints, UpstreamError> {
        match self.config.kind.as_str() {
            "github" => Ok(Endpoints {
                authorization: GITHUB_AUTHORIZE.into(),
                token: GITHUB_TOKEN.into(),
                userinfo: Some(GITHUB_USER.into()),
                issuer: None,
                iss_required: false,
                keys: None,
            }),
            "oauth2" => Ok(Endpoints {
                authorization: self
                    .config
                    .authorization_endpoint
                    .clone()
                    .unwrap_or_default(),
                token: self.config.token_endpoint.clone().unwrap_or_default(),
                userinfo: self.config.userinfo_endpoint.clone(),
                issuer: self.config.issuer.clone(),
                iss_required: false,
                keys: None,
            }),
            _ => {
                let mut discovered = self.discovered.lock().await;
                if let Some((result, until)) = discovered.as_ref()
                    && Instant::now() < *until
                {
                    return result.clone().map_err(UpstreamError::Unavailable);
                }
                let now = Instant::now();
                let (result, until) = match (self.discover(http).await, discovered.take()) {
                    (Ok(endpoints), _) => (Ok(endpoints), now + DISCOVERY_TTL),
                    // A provider whose discovery document is briefly unavailable keeps the
                    // endpoints it had; they are asked again after `DISCOVERY_RETRY`.
                    (Err(error), Some((Ok(known), _))) => {
                        tracing::warn!(provider = self.config.id.as_str(), %error, "discovery failed; the known endpoints stay in use");
                        (Ok(known), now + DISCOVERY_RETRY)
                    }
                    (Err(error), _) => (Err(error.to_string()), now + DISCOVERY_RETRY),
                };
                *discovered = Some((result.clone(), until));
                result.map_err(UpstreamError::Unavailable)
            }
        }
    }

    /// OpenID Connect Discovery 1.0 §4: the document at `{issuer}/.well-known/openid-configuration`,
    /// whose `issuer` must be exactly the configured one (§4.3), and whose endpoints must be
    /// web URLs (https, or http on loopback).
    async fn discover(&self, http: &reqwest::Client) -> Result<Endpoints, UpstreamError> {
        let issuer = self.config.issuer.clone().unwrap_or_default();
        let url = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let response = http
            .get(&url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let document = json_object(response, "its discovery document").await?;
        let endpoints = discovery_endpoints(&document, &issuer)?;
        tracing::info!(
            provider = self.config.id.as_str(),
            "discovered an identity provider"
        );
        Ok(endpoints)
    }

    /// Redeems `code` at the token endpoint (RFC 6749 §4.1.3 with the PKCE verifier, RFC 7636
    /// §4.5), authenticating with the client secret where there is one (`client_secret_basic`,
    /// RFC 6749 §2.3.1; in the body for GitHub).
    pub(crate) async fn redeem(
        &self,
        http: &reqwest::Client,
        endpoints: &Endpoints,
        code: &str,
        redirect_uri: &str,
        verifier: &str,
    ) -> Result<Tokens, UpstreamError> {
        self.token_request(
            http,
            endpoints,
            vec![
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", redirect_uri),
                ("code_verifier", verifier),
            ],
        )
        .await
    }

    /// Refreshes the person's tokens (RFC 6749 §6). `invalid_grant` (the person was removed
    /// there, or the grant revoked) is [`UpstreamError::GrantRefused`].
    pub(crate) async fn refresh(
        &self,
        http: &reqwest::Client,
        endpoints: &Endpoints,
        refresh_token: &str,
    ) -> Result<Tokens, UpstreamError> {
        self.token_request(
            http,
            endpoints,
            vec![
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    async fn token_request(
        &self,
        http: &reqwest::Client,
        endpoints: &Endpoints,
        mut form: Vec<(&str, &str)>,
    ) -> Result<Tokens, UpstreamError> {
        let client_id = self.config.client_id.as_deref().unwrap_or_default();
        let presented = if form.contains(&("grant_type", "refresh_token")) {
            "refresh token"
        } else {
            "code"
        };
        let mut request = http
            .post(&endpoints.token)
            .header("accept", "application/json");
        match &self.secret {
            // GitHub documents its OAuth apps' credentials as body parameters.
            Some(secret) if self.config.kind == "github" => {
                form.push(("client_id", client_id));
                form.push(("client_secret", secret));
            }
            Some(secret) => {
                // RFC 6749 §2.3.1: each part form-encoded before the Basic encoding.
                let encode = |s: &str| gatehouse_types::form::encode([("", s)]).split_off(1);
                request = request.basic_auth(encode(client_id), Some(encode(secret)));
            }
            None => form.push(("client_id", client_id)),
        }
        let response = request
            .body(gatehouse_types::form::encode(form))
            .header("content-type", "application/x-www-form-urlencoded")
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        let answer = json_object(response, "its token endpoint").await;
        let answer = match answer {
            Ok(answer) if status.is_success() && !answer.contains_key("error") => answer,
            // A server error is an outage, whatever its body says: never a verdict on the person.
            Ok(_) if status.is_server_error() => {
                return Err(UpstreamError::Unavailable(format!(
                    "its token endpoint answered {status}"
                )));
            }
            Ok(answer) => {
                let code = answer.get("error").and_then(Value::as_str);
                let error = code.map_or_else(|| status.to_string(), excerpt);
                let message = format!("its token endpoint refused the {presented} ({error})");
                return Err(if code == Some("invalid_grant") {
                    UpstreamError::GrantRefused(message)
                } else {
                    UpstreamError::Refused(message)
                });
            }
            Err(error) => return Err(error),
        };
        let access_token = answer
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                UpstreamError::Unavailable("its token endpoint sent no access token".into())
            })?;
        Ok(Tokens {
            access_token: Zeroizing::new(access_token.to_owned()),
            id_token: answer
                .get("id_token")
                .and_then(Value::as_str)
                .map(str::to_owned),
            refresh_token: answer
                .get("refresh_token")
                .and_then(Value::as_str)
                .filter(|t| !t.is_empty())
                .map(|t| Zeroizing::new(t.to_owned())),
            // A number, as RFC 6749 §5.1 says; some providers send it as a string.
            expires_in: answer.get("expires_in").and_then(|value| {
                value
                    .as_u64()
                    .or_else(|| value.as_str().and_then(|text| text.parse().ok()))
            }),
        })
    }

    /// GETs `url` with the access token (userinfo, GitHub's API) and reads a JSON answer.
    pub(crate) async fn get_json(
        &self,
        http: &reqwest::Client,
        url: &str,
        access_token: &str,
        what: &str,
    ) -> Result<Value, UpstreamError> {
        let response = http
            .get(url)
            .bearer_auth(access_token)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        if status.is_client_error() {
            // The provider answered: the token does not let Gatehouse read who this is (a scope
            // missing from the configuration, or the token refused).
            return Err(UpstreamError::Refused(format!("{what} refused ({status})")));
        }
        if !status.is_success() {
            return Err(UpstreamError::Unavailable(format!(
                "{what} answered {status}"
            )));
        }
        let body = read_capped(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| UpstreamError::Unavailable(format!("{what}: {e}")))?;
        serde_json::from_slice(&body)
            .map_err(|_| UpstreamError::Unavailable(format!("{what} did not answer with JSON")))
    }

    /// GitHub's verified primary email, if the person has one (`GET /user/emails`).
    pub(crate) async fn github_email(
        &self,
        http: &reqwest::Client,
        access_token: &str,
    ) -> Result<Option<String>, UpstreamError> {
        let emails = self
            .get_json(http, GITHUB_EMAILS, access_token, "GitHub's /user/emails")
            .await?;
        Ok(github_verified_primary(&emails))
    }
}

/// The verified primary address of a GitHub `/user/emails` answer.
pub(crate) fn github_verified_primary(emails: &Value) -> Option<String> {
    emails.as_array()?.iter().find_map(|entry| {
        let yes = |name: &str| entry.get(name).and_then(Value::as_bool) == Some(true);
        (yes("primary") && yes("verified"))
            .then(|| {
                entry
                    .get("email")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })
            .flatten()
    })
}

/// The endpoints a discovery document names, held to OpenID Connect Discovery §4.3 (`issuer`
/// exactly the one asked for) and to web URLs.
pub(crate) fn discovery_endpoints(
    document: &Map<String, Value>,
    issuer: &str,
) -> Result<Endpoints, UpstreamError> {
    if document.get("issuer").and_then(Value::as_str) != Some(issuer) {
        return Err(UpstreamError::Unavailable(
            "its discovery document names another issuer (OpenID Connect Discovery section 4.3)"
                .into(),
        ));
    }
    let url = |name: &str, required: bool| -> Result<Option<String>, UpstreamError> {
        match document.get(name) {
            None if !required => Ok(None),
            Some(Value::String(value)) if gatehouse_types::uri::check_web_url(value).is_ok() => {
                Ok(Some(value.clone()))
            }
            _ => Err(UpstreamError::Unavailable(format!(
                "its discovery document has no usable {name}"
            ))),
        }
    };
    let jwks_uri = url("jwks_uri", true)?.unwrap_or_default();
    // ID tokens are RS256 unless the client registered otherwise (OpenID Connect Core
    // §3.1.3.7 item 7): an RSA key published without `alg` (Entra ID's) is taken for RS256.
    let keys = RemoteJwks::from_uri(&jwks_uri, JwksCachePolicy::default())
        .map_err(|e| UpstreamError::Unavailable(format!("its jwks_uri: {e}")))?
        .assuming_rsa_alg(gatehouse_jose::Algorithm::Rs256);
    Ok(Endpoints {
        authorization: url("authorization_endpoint", true)?.unwrap_or_default(),
        token: url("token_endpoint", true)?.unwrap_or_default(),
        userinfo: url("userinfo_endpoint", false)?,
        issuer: Some(issuer.to_owned()),
        iss_required: document
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            == Some(true),
        keys: Some(Arc::new(keys)),
    })
}

/// The HTTP client for identity providers: the operator named them, so they may be on loopback
/// or a private network, unlike the documents a request makes the server fetch; redirects are
/// never followed, and every call has a deadline.
pub(crate) fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    client_builder()
        .timeout(CALL_TIMEOUT)
        .connect_timeout(CALL_TIMEOUT)
        .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
        .build()
}

async fn json_object(
    response: reqwest::Response,
    what: &str,
) -> Result<Map<String, Value>, UpstreamError> {
    let status = response.status();
    let body = read_capped(response, MAX_ANSWER_BYTES)
        .await
        .map_err(|e| UpstreamError::Unavailable(format!("{what}: {e}")))?;
    match serde_json::from_slice::<Value>(&body) {
        Ok(Value::Object(object)) => Ok(object),
        _ => Err(UpstreamError::Unavailable(format!(
            "{what} answered {status} without a JSON object"
        ))),
    }
}

fn unreachable(error: &reqwest::Error) -> UpstreamError {
    let why = if error.is_timeout() {
        "did not answer in time"
    } else if error.is_connect() {
        "could not be reached"
    } else {
        "broke off the answer"
    };
    UpstreamError::Unavailable(format!("the identity provider {why}"))
}

/// At most 64 printable ASCII characters of what a provider sent, for a message.
pub(crate) fn excerpt(text: &str) -> String {
    text.chars()
        .filter(|c| c.is_ascii_graphic() || *c == ' ')
        .take(64)
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use axum::http::StatusCode;

    use super::*;

    /// A token endpoint that answers every request with `status` and `body`.
    async fn token_endpoint(status: StatusCode, body: &'static str) -> Endpoints {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let app = axum::Router::new().route(
            "/token",
            axum::routing::post(move || async move {
                (status, [("content-type", "application/json")], body)
            }),
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Endpoints {
            authorization: format!("http://{address}/authorize"),
            token: format!("http://{address}/token"),
            userinfo: None,
            issuer: None,
            iss_required: false,
            keys: None,
        }
    }

    fn upstream() -> Upstream {
        let config: IdentityProvider = toml::from_str(
            "id = \"corp\"\nkind = \"oauth2\"\nclient_id = \"gatehouse\"\n\
             authorization_endpoint = \"http://127.0.0.1:1/a\"\n\
             token_endpoint = \"http://127.0.0.1:1/t\"\nuserinfo_endpoint = \"http://127.0.0.1:1/u\"",
        )
        .unwrap();
        Upstream::new(config, Some(Zeroizing::new("secret".into())))
    }

    /// RFC 6749 §5.2: only `invalid_grant` says the refresh token (the person's grant there) is
    /// gone; an outage, whatever its body, and a refusal of Gatehouse's own credentials are
    /// never taken for the person's removal (which revokes their grants here).
    #[tokio::test]
    async fn only_invalid_grant_is_the_persons_refusal() {
        let http = http_client().unwrap();
        let cases = [
            (
                StatusCode::BAD_REQUEST,
                r#"{"error":"invalid_grant"}"#,
                "grant",
            ),
            (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"invalid_grant"}"#,
                "outage",
            ),
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                r#"{"error":"server_error"}"#,
                "outage",
            ),
            (
                StatusCode::UNAUTHORIZED,
                r#"{"error":"invalid_client"}"#,
                "refused",
            ),
            (StatusCode::BAD_GATEWAY, "<html>", "outage"),
        ];
        for (status, body, expected) in cases {
            let endpoints = token_endpoint(status, body).await;
            let outcome = upstream().refresh(&http, &endpoints, "rt").await;
            let kind = match outcome {
                Err(UpstreamError::GrantRefused(_)) => "grant",
                Err(UpstreamError::Unavailable(_)) => "outage",
                Err(UpstreamError::Refused(_)) => "refused",
                Ok(_) => "ok",
            };
            assert_eq!(kind, expected, "{status} {body}");
        }
    }

    /// A provider whose discovery document cannot be fetched when the hour is up keeps the
    /// endpoints it had, rather than failing every sign-in.
    #[tokio::test]
    async fn known_endpoints_stay_in_use_while_discovery_fails() {
        let gone = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let issuer = format!("http://{}", gone.local_addr().unwrap());
        drop(gone);
        let config: IdentityProvider = toml::from_str(&format!(
            "id = \"corp\"\nissuer = \"{issuer}\"\nclient_id = \"gatehouse\""
        ))
        .unwrap();
        let upstream = Upstream::new(config, None);
        let http = http_client().unwrap();
        assert!(upstream.endpoints(&http).await.is_err());
        let known = Endpoints {
            authorization: format!("{issuer}/auth"),
            token: format!("{issuer}/token"),
            userinfo: None,
            issuer: Some(issuer.clone()),
            iss_required: true,
            keys: None,
        };
        // Known, and due to be asked again now.
        *upstream.discovered.lock().await = Some((Ok(known), Instant::now()));
        let kept = upstream.endpoints(&http).await.unwrap();
        assert_eq!(kept.token, format!("{issuer}/token"));
        // And again, from the cache, without asking the provider.
        assert!(upstream.endpoints(&http).await.is_ok());
    }

    #[test]
    fn github_counts_only_a_verified_primary_address() {
        let emails = serde_json::json!([
            {"email": "old@corp.example", "primary": false, "verified": true},
            {"email": "alice@corp.example", "primary": true, "verified": true},
        ]);
        assert_eq!(
            github_verified_primary(&emails).as_deref(),
            Some("alice@corp.example")
        );
        let unverified = serde_json::json!([
            {"email": "alice@corp.example", "primary": true, "verified": false},
        ]);
        assert_eq!(github_verified_primary(&unverified), None);
    }

    #[test]
    fn discovery_is_held_to_its_issuer_and_to_web_urls() {
        let document = |issuer: &str, token: &str| {
            serde_json::json!({
                "issuer": issuer,
                "authorization_endpoint": "https://login.example.com/authorize",
                "token_endpoint": token,
                "jwks_uri": "https://login.example.com/keys",
                "authorization_response_iss_parameter_supported": true,
            })
            .as_object()
            .unwrap()
            .clone()
        };
        let good = discovery_endpoints(
            &document(
                "https://login.example.com",
                "https://login.example.com/token",
            ),
            "https://login.example.com",
        )
        .unwrap();
        assert!(good.iss_required);
        assert!(
            discovery_endpoints(
                &document("https://evil.example", "https://login.example.com/token"),
                "https://login.example.com",
            )
            .is_err()
        );
        assert!(
            discovery_endpoints(
                &document(
                    "https://login.example.com",
                    "http://login.example.com/token"
                ),
                "https://login.example.com",
            )
            .is_err()
        );
    }
}
