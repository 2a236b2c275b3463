//! What the checks share: the target, the discovered metadata, registered clients, and the
//! protocol steps (register, authorize, redeem, refresh, MCP calls) that several checks repeat.

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::http::{Exchange, Http, Req};
use crate::report::{Step, fail, skip};

/// The redirect URI the checker registers. Nothing listens there: the checker never follows
/// redirects, it reads the `Location` header.
pub(crate) const REDIRECT_URI: &str = "http://127.0.0.1:33418/callback";

/// A registered client.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    /// `client_id`.
    pub(crate) id: String,
    /// `client_secret`, for a confidential client.
    pub(crate) secret: Option<String>,
    /// The RFC 7592 registration access token, if issued.
    pub(crate) registration_access_token: Option<String>,
    /// The RFC 7592 client configuration endpoint, if issued.
    pub(crate) registration_client_uri: Option<String>,
}

/// Tokens from a completed authorization code flow.
#[derive(Debug, Clone)]
pub(crate) struct Tokens {
    /// `access_token`.
    pub(crate) access: String,
    /// `refresh_token`, if issued.
    pub(crate) refresh: Option<String>,
    /// The token response.
    pub(crate) response: Exchange,
}

/// A PKCE verifier and its S256 challenge
/// ([RFC 7636 §4.1–4.2](https://www.rfc-editor.org/rfc/rfc7636#section-4.1)).
#[derive(Debug, Clone)]
pub(crate) struct Pkce {
    /// `code_verifier`.
    pub(crate) verifier: String,
    /// `code_challenge` (S256).
    pub(crate) challenge: String,
}

impl Pkce {
    /// A fresh verifier (256 random bits).
    pub(crate) fn new() -> Step<Self> {
        let verifier = random()?;
        let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
        Ok(Self {
            verifier,
            challenge,
        })
    }
}

/// 256 random bits, base64url.
pub(crate) fn random() -> Step<String> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| fail(format!("no randomness: {e}")))?;
    Ok(Base64UrlUnpadded::encode_string(&bytes))
}

/// The shared state of a run.
#[derive(Debug)]
pub(crate) struct Context {
    /// The client.
    pub(crate) http: Http,
    /// The issuer identifier, exactly as given.
    pub(crate) issuer: String,
    /// The protected resource, exactly as given.
    pub(crate) resource: String,
    /// The authorization server metadata, once fetched.
    pub(crate) metadata: Option<Map<String, Value>>,
    /// The raw JWKS, once fetched.
    pub(crate) jwks: Option<Vec<u8>>,
    /// The main public client (registered by the RFC 7591 checks).
    pub(crate) client: Option<Client>,
    /// A confidential client (`client_secret_basic`), if the server registered one.
    pub(crate) confidential: Option<Client>,
    /// Another resource of the same authorization server, for the audience checks.
    pub(crate) other_resource: Option<String>,
    /// How long past a token's `exp` the resource may still accept it (its clock leeway).
    pub(crate) expiry_leeway_secs: u64,
    /// The longest the checker waits for a token to expire; a longer wait is a skip.
    pub(crate) max_expiry_wait_secs: u64,
}

impl Context {
    /// A context for `issuer` and `resource`.
    pub(crate) fn new(http: Http, issuer: String, resource: String) -> Self {
        Self {
            http,
            issuer,
            resource,
            metadata: None,
            jwks: None,
            client: None,
            confidential: None,
            other_resource: None,
            expiry_leeway_secs: 60,
            max_expiry_wait_secs: 180,
        }
    }

    /// Endpoint `name` (e.g. `token_endpoint`) from the metadata; a skip when not advertised.
    pub(crate) fn endpoint(&self, name: &str) -> Step<String> {
        let metadata = self
            .metadata
            .as_ref()
            .ok_or_else(|| skip("no authorization server metadata"))?;
        metadata
            .get(name)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| skip(format!("the metadata does not advertise {name}")))
    }

    /// The main public client; a skip when registration did not succeed.
    pub(crate) fn client(&self) -> Step<Client> {
        self.client.clone().ok_or_else(|| {
            skip("no registered public client (registration failed or is not offered)")
        })
    }

    /// The confidential client; a skip when there is none.
    pub(crate) fn confidential(&self) -> Step<Client> {
        self.confidential.clone().ok_or_else(|| {
            skip("no confidential client: the server did not register one with client_secret_basic")
        })
    }

    /// POSTs `metadata` to the registration endpoint.
    pub(crate) async fn register_raw(&self, metadata: &Value) -> Step<Exchange> {
        let endpoint = self.endpoint("registration_endpoint")?;
        self.http.send(Req::json("POST", &endpoint, metadata)).await
    }

    /// Registers a client; the response must be 201 with a `client_id`.
    pub(crate) async fn register(&self, metadata: &Value) -> Step<(Exchange, Client)> {
        let ex = self.register_raw(metadata).await?;
        ex.status_is(201)?;
        let body = ex.json_object()?;
        let text = |name: &str| body.get(name).and_then(Value::as_str).map(str::to_owned);
        let id = text("client_id").ok_or_else(|| ex.fail("no client_id in the response"))?;
        let client = Client {
            id,
            secret: text("client_secret"),
            registration_access_token: text("registration_access_token"),
            registration_client_uri: text("registration_client_uri"),
        };
        Ok((ex, client))
    }

    /// Registers another public client with the checker's redirect URI.
    pub(crate) async fn register_public(&self, name: &str) -> Step<Client> {
        Ok(self.register(&public_metadata(name)).await?.1)
    }

    /// `GET authorization_endpoint?params`.
    pub(crate) async fn authorize(&self, params: &[(&str, &str)]) -> Step<Exchange> {
        let endpoint = self.endpoint("authorization_endpoint")?;
        let mut url = url::Url::parse(&endpoint).map_err(|e| {
            fail(format!(
                "authorization_endpoint {endpoint} is not a URL: {e}"
            ))
        })?;
        url.query_pairs_mut().extend_pairs(params.iter().copied());
        self.http.get(url.as_str()).await
    }

    /// The standard authorization request of `client` (PKCE S256, `state`, the resource).
    pub(crate) fn authorization_params<'a>(
        &'a self,
        client: &'a Client,
        pkce: &'a Pkce,
        state: &'a str,
        scope: Option<&'a str>,
    ) -> Vec<(&'a str, &'a str)> {
        self.authorization_params_for(client, pkce, state, scope, &self.resource)
    }

    /// The standard authorization request of `client` for `resource`.
    pub(crate) fn authorization_params_for<'a>(
        &'a self,
        client: &'a Client,
        pkce: &'a Pkce,
        state: &'a str,
        scope: Option<&'a str>,
        resource: &'a str,
    ) -> Vec<(&'a str, &'a str)> {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", client.id.as_str()),
            ("redirect_uri", REDIRECT_URI),
            ("code_challenge", pkce.challenge.as_str()),
            ("code_challenge_method", "S256"),
            ("state", state),
            ("resource", resource),
        ];
        if let Some(scope) = scope {
            params.push(("scope", scope));
        }
        params
    }

    /// Runs the authorization request of `client` to a code; the exchange and the code.
    pub(crate) async fn code(
        &self,
        client: &Client,
        pkce: &Pkce,
        scope: Option<&str>,
    ) -> Step<(Exchange, String)> {
        self.code_for(client, pkce, scope, &self.resource).await
    }

    /// Runs the authorization request of `client` for `resource` to a code.
    pub(crate) async fn code_for(
        &self,
        client: &Client,
        pkce: &Pkce,
        scope: Option<&str>,
        resource: &str,
    ) -> Step<(Exchange, String)> {
        let state = random()?;
        let ex = self
            .authorize(&self.authorization_params_for(client, pkce, &state, scope, resource))
            .await?;
        let params = client_redirect(&ex).ok_or_else(|| {
            ex.fail("expected a redirect to the redirect URI (is auto-approve on?)")
        })?;
        let code = param(&params, "code").ok_or_else(|| ex.fail("the redirect carries no code"))?;
        Ok((ex, code))
    }

    /// `POST token_endpoint` with `fields`, authenticating as `client` (Basic for a
    /// confidential client, `client_id` in the body for a public one).
    pub(crate) async fn token_request(
        &self,
        client: &Client,
        fields: &[(&str, &str)],
    ) -> Step<Exchange> {
        let endpoint = self.endpoint("token_endpoint")?;
        self.http.send(client_auth(client, &endpoint, fields)).await
    }

    /// Redeems `code` with `verifier`.
    pub(crate) async fn redeem(
        &self,
        client: &Client,
        code: &str,
        verifier: &str,
    ) -> Step<Exchange> {
        self.redeem_for(client, code, verifier, &self.resource)
            .await
    }

    /// Redeems `code` with `verifier`, asking for `resource`.
    pub(crate) async fn redeem_for(
        &self,
        client: &Client,
        code: &str,
        verifier: &str,
        resource: &str,
    ) -> Step<Exchange> {
        self.token_request(
            client,
            &[
                ("grant_type", "authorization_code"),
                ("code", code),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier),
                ("resource", resource),
            ],
        )
        .await
    }

    /// A complete authorization code flow for `client`.
    pub(crate) async fn tokens(&self, client: &Client, scope: Option<&str>) -> Step<Tokens> {
        self.tokens_for(client, scope, &self.resource).await
    }

    /// A complete authorization code flow for `client`, for `resource`.
    pub(crate) async fn tokens_for(
        &self,
        client: &Client,
        scope: Option<&str>,
        resource: &str,
    ) -> Step<Tokens> {
        let pkce = Pkce::new()?;
        let (_, code) = self.code_for(client, &pkce, scope, resource).await?;
        let ex = self
            .redeem_for(client, &code, &pkce.verifier, resource)
            .await?;
        tokens_of(ex)
    }

    /// Refreshes with `refresh_token`.
    pub(crate) async fn refresh(&self, client: &Client, refresh_token: &str) -> Step<Exchange> {
        self.token_request(
            client,
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh_token),
            ],
        )
        .await
    }

    /// `POST` to `endpoint_name` (revocation, introspection) with `token`, as `client`.
    pub(crate) async fn token_management(
        &self,
        endpoint_name: &str,
        client: &Client,
        token: &str,
    ) -> Step<Exchange> {
        let endpoint = self.endpoint(endpoint_name)?;
        self.http
            .send(client_auth(client, &endpoint, &[("token", token)]))
            .await
    }

    /// One JSON-RPC message to the resource (MCP Streamable HTTP).
    pub(crate) async fn mcp(
        &self,
        token: Option<&str>,
        session: Option<&str>,
        message: &Value,
    ) -> Step<Exchange> {
        self.mcp_at(&self.resource, token, session, message).await
    }

    /// One JSON-RPC message to the MCP endpoint `url`.
    pub(crate) async fn mcp_at(
        &self,
        url: &str,
        token: Option<&str>,
        session: Option<&str>,
        message: &Value,
    ) -> Step<Exchange> {
        let mut req = Req::json("POST", url, message)
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25");
        if let Some(token) = token {
            req = req.bearer(token);
        }
        if let Some(session) = session {
            req = req.header("mcp-session-id", session);
        }
        self.http.send(req).await
    }

    /// The MCP `initialize` request with `token`.
    pub(crate) async fn mcp_initialize(&self, token: Option<&str>) -> Step<Exchange> {
        self.mcp(token, None, &initialize_message()).await
    }

    /// Opens an MCP session with `token`; its id (if the server uses sessions).
    pub(crate) async fn mcp_session(&self, token: &str) -> Step<Option<String>> {
        let ex = self.mcp_initialize(Some(token)).await?;
        ex.status_is(200)?;
        let session = ex.header("mcp-session-id").map(str::to_owned);
        let initialized = self
            .mcp(
                Some(token),
                session.as_deref(),
                &json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
            )
            .await?;
        if initialized.status >= 300 {
            return Err(initialized.fail("notifications/initialized was refused"));
        }
        Ok(session)
    }

    /// `tools/call` of `tool` with `arguments`.
    pub(crate) async fn call_tool(
        &self,
        token: &str,
        session: Option<&str>,
        tool: &str,
        arguments: Value,
    ) -> Step<Exchange> {
        self.mcp(
            Some(token),
            session,
            &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                    "params": {"name": tool, "arguments": arguments}}),
        )
        .await
    }
}

/// The MCP `initialize` request (protocol revision 2025-11-25).
pub(crate) fn initialize_message() -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "gatehouse-conformance", "version": env!("CARGO_PKG_VERSION")}}})
}

/// Registration metadata of a public client with the checker's redirect URI.
pub(crate) fn public_metadata(name: &str) -> Value {
    json!({
        "redirect_uris": [REDIRECT_URI],
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "client_name": name,
    })
}

/// A form POST to `endpoint` authenticated as `client`.
pub(crate) fn client_auth(client: &Client, endpoint: &str, fields: &[(&str, &str)]) -> Req {
    match &client.secret {
        Some(secret) => Req::post_form(endpoint, fields).basic(&client.id, secret),
        None => {
            let mut all = fields.to_vec();
            all.push(("client_id", client.id.as_str()));
            Req::post_form(endpoint, &all)
        }
    }
}

/// The tokens of a successful token response.
pub(crate) fn tokens_of(ex: Exchange) -> Step<Tokens> {
    ex.status_is(200)?;
    let access = ex
        .json_str("access_token")
        .ok_or_else(|| ex.fail("no access_token in the token response"))?;
    let refresh = ex.json_str("refresh_token");
    Ok(Tokens {
        access,
        refresh,
        response: ex,
    })
}

/// The query parameters of the response delivered to the client's redirect URI: from a
/// `Location` header, or from the link of an interstitial page (RFC 9700 §4.11.2 lets a server
/// show where an error response goes before sending the user there).
pub(crate) fn client_redirect(ex: &Exchange) -> Option<Vec<(String, String)>> {
    let target = redirect_target(ex, REDIRECT_URI)?;
    Some(target.query_pairs().into_owned().collect())
}

/// Where `ex` sends the user agent, when that is a URL starting with `prefix`.
pub(crate) fn redirect_target(ex: &Exchange, prefix: &str) -> Option<url::Url> {
    if (300..400).contains(&ex.status) {
        let location = ex.location()?;
        return location.as_str().starts_with(prefix).then_some(location);
    }
    links(&ex.text())
        .into_iter()
        .find(|href| href.starts_with(prefix))
        .and_then(|href| url::Url::parse(&href).ok())
}

/// The `href` values of an HTML page, with character references decoded.
pub(crate) fn links(html: &str) -> Vec<String> {
    html.split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(unescape_html)
        .collect()
}

fn unescape_html(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(at) = rest.find('&') {
        out.push_str(rest.get(..at).unwrap_or(""));
        let tail = rest.get(at..).unwrap_or("");
        let Some(end) = tail.find(';') else {
            out.push_str(tail);
            return out;
        };
        let entity = tail.get(1..end).unwrap_or("");
        let decoded = match entity {
            "amp" => Some('&'),
            "quot" => Some('"'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "apos" => Some('\''),
            _ => entity
                .strip_prefix("#x")
                .or_else(|| entity.strip_prefix("#X"))
                .and_then(|hex| u32::from_str_radix(hex, 16).ok())
                .or_else(|| entity.strip_prefix('#').and_then(|d| d.parse().ok()))
                .and_then(char::from_u32),
        };
        match decoded {
            Some(c) => {
                out.push(c);
                rest = tail.get(end + 1..).unwrap_or("");
            }
            None => {
                out.push('&');
                rest = tail.get(1..).unwrap_or("");
            }
        }
    }
    out.push_str(rest);
    out
}

/// The first value of `name` in `params`.
pub(crate) fn param(params: &[(String, String)], name: &str) -> Option<String> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
}

/// The decoded JSON of a JWT segment (0 = header, 1 = payload), without verifying anything.
pub(crate) fn jwt_part(token: &str, index: usize) -> Option<Map<String, Value>> {
    let segment = token.split('.').nth(index)?;
    let bytes = Base64UrlUnpadded::decode_vec(segment).ok()?;
    match serde_json::from_slice(&bytes).ok()? {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

/// The parameters of a `WWW-Authenticate: Bearer` challenge (lower-cased names), or `None` when
/// no Bearer challenge is present.
pub(crate) fn bearer_challenge(ex: &Exchange) -> Option<Vec<(String, String)>> {
    ex.header_all("www-authenticate")
        .into_iter()
        .find_map(|value| {
            let trimmed = value.trim_start();
            let scheme = trimmed.split_whitespace().next()?;
            scheme
                .eq_ignore_ascii_case("bearer")
                .then(|| auth_params(trimmed.get(scheme.len()..).unwrap_or("")))
        })
}

/// Parameter `name` of the response's Bearer challenge.
pub(crate) fn challenge_param(ex: &Exchange, name: &str) -> Option<String> {
    bearer_challenge(ex)?
        .into_iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v)
}

/// `name="value"` / `name=token` pairs, comma separated.
fn auth_params(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = text.trim();
    while !rest.is_empty() {
        let Some(eq) = rest.find('=') else { break };
        let name = rest
            .get(..eq)
            .unwrap_or("")
            .trim()
            .trim_start_matches(',')
            .trim();
        rest = rest.get(eq + 1..).unwrap_or("").trim_start();
        let value;
        if let Some(quoted) = rest.strip_prefix('"') {
            let mut v = String::new();
            let mut chars = quoted.char_indices();
            let mut end = quoted.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        if let Some((_, n)) = chars.next() {
                            v.push(n);
                        }
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    _ => v.push(c),
                }
            }
            value = v;
            rest = quoted.get(end..).unwrap_or("");
        } else {
            let end = rest.find(',').unwrap_or(rest.len());
            value = rest.get(..end).unwrap_or("").trim().to_owned();
            rest = rest.get(end..).unwrap_or("");
        }
        out.push((name.to_ascii_lowercase(), value));
        rest = rest.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_links_are_decoded() {
        let html = r#"<a href="http://x/cb?error=a&#38;state=s&amp;iss=http%3A">x</a>"#;
        assert_eq!(links(html), vec!["http://x/cb?error=a&state=s&iss=http%3A"]);
    }

    #[test]
    fn challenge_parameters_are_parsed() {
        let params = auth_params(
            r#"error="insufficient_scope", scope="a b", resource_metadata="http://x/y""#,
        );
        assert_eq!(params[0], ("error".into(), "insufficient_scope".into()));
        assert_eq!(params[1], ("scope".into(), "a b".into()));
        assert_eq!(params[2], ("resource_metadata".into(), "http://x/y".into()));
    }

    #[test]
    fn rfc7636_appendix_b_s256() {
        let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(
            b"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk",
        ));
        assert_eq!(challenge, "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
    }
}
