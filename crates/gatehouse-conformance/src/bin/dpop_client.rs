//! `dpop_client`: a minimal MCP client that obtains and presents a DPoP-bound access token with
//! Gatehouse's client helper, [`gatehouse_jose::DpopProver`]. It is the client under test in the
//! official MCP conformance suite's DPoP client scenarios (`auth/dpop`, `auth/dpop-nonce`, from
//! [SEP-1932](https://github.com/modelcontextprotocol/modelcontextprotocol/pull/1932) and the
//! MCP DPoP extension), which shows that the helper's proofs are accepted by an implementation
//! that is not ours.
//!
//! ```text
//! dpop_client [ARGS...] MCP_URL
//! ```
//!
//! The suite appends the MCP endpoint as the last argument, and sets
//! `MCP_CONFORMANCE_PROTOCOL_VERSION`. The client:
//!
//! 1. posts `initialize` without a token; a 401 names the protected resource metadata
//!    (`resource_metadata` of `WWW-Authenticate`, else the RFC 9728 §3.1 well-known URL);
//! 2. reads the authorization server's metadata (RFC 8414 §3.1) and registers as a public client
//!    (RFC 7591) with a loopback redirect URI (RFC 8252 §7.3);
//! 3. makes the authorization request with PKCE S256 (RFC 7636), the resource (RFC 8707) and
//!    `dpop_jkt` (RFC 9449 §10), and reads the code from the redirect's `Location` instead of a
//!    browser: the target must approve without a person (the suite's authorization server does);
//! 4. redeems the code with a DPoP proof (RFC 9449 §5), retrying once with the server's nonce
//!    on `use_dpop_nonce` (§8);
//! 5. runs `initialize`, `notifications/initialized` and `tools/list` with
//!    `Authorization: DPoP <token>` (§7.1) and a fresh proof carrying `ath` on every request
//!    (§4.2, §7), retrying once with the resource's nonce on a `use_dpop_nonce` challenge (§9).
//!
//! Nonces are kept per origin, as a nonce belongs to the server that issued it (§8, §9): one
//! server's is retried at another only if they share an origin. Any failure ends the run with a message on standard error and
//! a non-zero exit status.

use std::collections::HashMap;
use std::net::TcpListener;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64ct::{Base64UrlUnpadded, Encoding};
use gatehouse_jose::{Algorithm, DpopProver};
use reqwest::StatusCode;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use url::Url;

/// The protocol revision asked for when the suite does not name one.
const DEFAULT_PROTOCOL_VERSION: &str = "2025-11-25";

fn main() -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("dpop_client: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("dpop_client: {e}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<(), String> {
    let mcp_url = std::env::args()
        .skip(1)
        .last()
        .ok_or("usage: dpop_client [ARGS...] MCP_URL")?;
    let mcp_url = Url::parse(&mcp_url).map_err(|e| format!("{mcp_url}: {e}"))?;
    let protocol_version = std::env::var("MCP_CONFORMANCE_PROTOCOL_VERSION")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_PROTOCOL_VERSION.to_owned());
    let mut client = Client::new(mcp_url, protocol_version)?;

    let initialize = client.initialize_message();
    let response = client.mcp_request(&initialize).await?;
    let response = if response.status == StatusCode::UNAUTHORIZED {
        client.authorize(&response).await?;
        client.mcp_request(&initialize).await?
    } else {
        println!("the MCP server did not ask for authorization; going on without a token");
        response
    };
    let result = client.result_of(&response, &initialize)?;
    let negotiated = result
        .get("protocolVersion")
        .and_then(Value::as_str)
        .ok_or("the initialize result has no protocolVersion")?
        .to_owned();
    println!("initialized: protocol {negotiated}");
    client.protocol_version = negotiated;
    client.session_id = response.header("mcp-session-id").map(str::to_owned);

    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let response = client.mcp_request(&initialized).await?;
    if !response.status.is_success() {
        return Err(format!(
            "notifications/initialized: {} {}",
            response.status, response.body
        ));
    }

    let list = client.request_message("tools/list", json!({}));
    let response = client.mcp_request(&list).await?;
    let result = client.result_of(&response, &list)?;
    let tools: Vec<&str> = result
        .get("tools")
        .and_then(Value::as_array)
        .map(|tools| {
            tools
                .iter()
                .filter_map(|tool| tool.get("name").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    println!("tools/list: {}", tools.join(", "));
    Ok(())
}

/// An HTTP response, read whole.
struct Response {
    status: StatusCode,
    headers: HeaderMap,
    body: String,
}

impl Response {
    async fn read(response: reqwest::Response) -> Result<Self, String> {
        let status = response.status();
        let headers = response.headers().clone();
        let url = response.url().clone();
        let body = response
            .text()
            .await
            .map_err(|e| format!("{url}: cannot read the response: {e}"))?;
        Ok(Self {
            status,
            headers,
            body,
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every `WWW-Authenticate` value, as one list of challenges.
    fn www_authenticate(&self) -> String {
        self.headers
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect::<Vec<_>>()
            .join(", ")
    }

    fn json(&self) -> Result<Value, String> {
        serde_json::from_str(&self.body)
            .map_err(|e| format!("not JSON ({e}): {}", self.body.trim()))
    }
}

/// The MCP client's state: its DPoP key, the servers' nonces, and the token once it has one.
struct Client {
    http: reqwest::Client,
    prover: DpopProver,
    mcp_url: Url,
    protocol_version: String,
    session_id: Option<String>,
    access_token: Option<String>,
    /// The last `DPoP-Nonce` of each origin (RFC 9449 §8, §9: a nonce is one server's).
    nonces: HashMap<String, String>,
    next_id: u64,
}

impl Client {
    fn new(mcp_url: Url, protocol_version: String) -> Result<Self, String> {
        // reqwest is built without a default TLS provider (as the rest of the workspace).
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            // The authorization redirect is read, not followed: there is no browser.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("gatehouse-dpop-client/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let prover = DpopProver::generate(Algorithm::Es256)
            .map_err(|e| format!("cannot generate the DPoP key: {e}"))?;
        Ok(Self {
            http,
            prover,
            mcp_url,
            protocol_version,
            session_id: None,
            access_token: None,
            nonces: HashMap::new(),
            next_id: 1,
        })
    }

    fn request_message(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
    }

    fn initialize_message(&mut self) -> Value {
        let params = json!({
            "protocolVersion": self.protocol_version,
            "capabilities": {},
            "clientInfo": {"name": "gatehouse-dpop-client", "version": env!("CARGO_PKG_VERSION")},
        });
        self.request_message("initialize", params)
    }

    /// A DPoP proof for `method url`, with the origin's nonce if it gave one, and `ath` when a
    /// token goes with it.
    fn proof(&self, method: &str, url: &Url, access_token: Option<&str>) -> Result<String, String> {
        let nonce = self.nonces.get(&origin(url)).map(String::as_str);
        self.prover
            .proof(method, url.as_str(), now_secs()?, access_token, nonce)
            .map_err(|e| format!("cannot make a DPoP proof: {e}"))
    }

    /// Keeps the nonce a response hands out: a server may send a new one with any response
    /// (RFC 9449 §8.2, §9).
    fn remember_nonce(&mut self, url: &Url, response: &Response) {
        if let Some(nonce) = response.header("dpop-nonce") {
            self.nonces.insert(origin(url), nonce.to_owned());
        }
    }

    /// POSTs a JSON-RPC message to the MCP endpoint; with a token, with a fresh proof, and once
    /// more with the resource's nonce if it answers `use_dpop_nonce` (RFC 9449 §9).
    async fn mcp_request(&mut self, message: &Value) -> Result<Response, String> {
        let method = message
            .get("method")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_owned();
        let mut retried = false;
        loop {
            let mut request = self
                .http
                .post(self.mcp_url.clone())
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .body(message.to_string());
            if method != "initialize" {
                request = request.header("mcp-protocol-version", &self.protocol_version);
            }
            if let Some(session) = &self.session_id {
                request = request.header("mcp-session-id", session);
            }
            if let Some(token) = &self.access_token {
                let proof = self.proof("POST", &self.mcp_url, Some(token))?;
                request = request
                    .header("authorization", format!("DPoP {token}"))
                    .header("dpop", proof);
            }
            let response = request
                .send()
                .await
                .map_err(|e| format!("{method}: POST {}: {e}", self.mcp_url))?;
            let response = Response::read(response).await?;
            let url = self.mcp_url.clone();
            self.remember_nonce(&url, &response);
            println!("{method}: {}", response.status);
            if self.access_token.is_some()
                && response.status == StatusCode::UNAUTHORIZED
                && !retried
                && challenge_param(&response.www_authenticate(), "dpop", "error").as_deref()
                    == Some("use_dpop_nonce")
            {
                if response.header("dpop-nonce").is_none() {
                    return Err(format!(
                        "{method}: use_dpop_nonce without a DPoP-Nonce header"
                    ));
                }
                retried = true;
                continue;
            }
            if self.access_token.is_some() && response.status == StatusCode::UNAUTHORIZED {
                return Err(format!(
                    "{method}: the DPoP-bound token was refused: {}",
                    response.www_authenticate()
                ));
            }
            return Ok(response);
        }
    }

    /// The `result` of the JSON-RPC response to `request`, from a JSON body or an SSE stream.
    fn result_of(&self, response: &Response, request: &Value) -> Result<Value, String> {
        let method = request.get("method").and_then(Value::as_str).unwrap_or("?");
        if !response.status.is_success() {
            return Err(format!("{method}: {} {}", response.status, response.body));
        }
        let id = request.get("id").ok_or("a request without an id")?;
        let is_sse = response
            .header("content-type")
            .is_some_and(|t| t.starts_with("text/event-stream"));
        let messages = if is_sse {
            sse_messages(&response.body)?
        } else {
            vec![response.json()?]
        };
        let reply = messages
            .into_iter()
            .find(|message| message.get("id") == Some(id))
            .ok_or_else(|| format!("{method}: no response with id {id}: {}", response.body))?;
        if let Some(error) = reply.get("error") {
            return Err(format!("{method}: JSON-RPC error {error}"));
        }
        reply
            .get("result")
            .cloned()
            .ok_or_else(|| format!("{method}: a response with no result: {reply}"))
    }

    /// From a 401 of the MCP server to a DPoP-bound access token.
    async fn authorize(&mut self, challenge: &Response) -> Result<(), String> {
        // RFC 9728 §5.1: the resource names its metadata; §3.1: else its well-known URL.
        let www_authenticate = challenge.www_authenticate();
        println!("challenge: {www_authenticate}");
        let metadata_url = match challenge_param(&www_authenticate, "", "resource_metadata") {
            Some(url) => Url::parse(&url).map_err(|e| format!("resource_metadata {url}: {e}"))?,
            None => well_known(&self.mcp_url, "oauth-protected-resource")?,
        };
        let resource_metadata = self.get_json(&metadata_url).await?;
        // RFC 9728 §3.3: the metadata must be for the resource that pointed to it.
        let resource = resource_metadata
            .get("resource")
            .and_then(Value::as_str)
            .ok_or("the protected resource metadata has no resource")?
            .to_owned();
        if resource.trim_end_matches('/') != self.mcp_url.as_str().trim_end_matches('/') {
            return Err(format!(
                "the protected resource metadata is for {resource}, not {}",
                self.mcp_url
            ));
        }
        let issuer = resource_metadata
            .get("authorization_servers")
            .and_then(Value::as_array)
            .and_then(|servers| servers.first())
            .and_then(Value::as_str)
            .ok_or("the protected resource metadata names no authorization server")?
            .to_owned();
        // The scopes to ask for: the challenge's, else all the resource lists (MCP's scope
        // selection); none if neither says.
        let scope = challenge_param(&www_authenticate, "", "scope").or_else(|| {
            resource_metadata
                .get("scopes_supported")
                .and_then(Value::as_array)
                .map(|scopes| {
                    scopes
                        .iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .filter(|scope| !scope.is_empty())
        });

        let as_metadata = self.authorization_server_metadata(&issuer).await?;
        let endpoint = |name: &str| -> Result<Url, String> {
            let url = as_metadata
                .get(name)
                .and_then(Value::as_str)
                .ok_or_else(|| format!("the authorization server metadata has no {name}"))?;
            Url::parse(url).map_err(|e| format!("{name} {url}: {e}"))
        };
        let authorization_endpoint = endpoint("authorization_endpoint")?;
        let token_endpoint = endpoint("token_endpoint")?;
        let registration_endpoint = endpoint("registration_endpoint")?;
        // RFC 9449 §5.1: the algorithms the server accepts in proofs, when it says.
        if let Some(algs) = as_metadata
            .get("dpop_signing_alg_values_supported")
            .and_then(Value::as_array)
            && !algs.iter().any(|alg| alg.as_str() == Some("ES256"))
        {
            return Err(format!(
                "the authorization server does not accept ES256 DPoP proofs: {algs:?}"
            ));
        }

        // RFC 8252 §7.3: a loopback redirect URI on a port this process holds. The redirect is
        // read from the authorization response's Location, so nothing is ever received on it.
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| format!("cannot hold a loopback port: {e}"))?;
        let port = listener
            .local_addr()
            .map_err(|e| format!("cannot hold a loopback port: {e}"))?
            .port();
        let redirect_uri = format!("http://127.0.0.1:{port}/callback");

        // RFC 7591: a public client (no secret), asking for DPoP-bound tokens (RFC 9449 §5.2).
        let registration = json!({
            "client_name": "Gatehouse DPoP conformance client",
            "redirect_uris": [redirect_uri],
            "grant_types": ["authorization_code"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "none",
            "application_type": "native",
            "dpop_bound_access_tokens": true,
        });
        let response = self
            .http
            .post(registration_endpoint.clone())
            .header("content-type", "application/json")
            .header("accept", "application/json")
            .body(registration.to_string())
            .send()
            .await
            .map_err(|e| format!("POST {registration_endpoint}: {e}"))?;
        let response = Response::read(response).await?;
        if !response.status.is_success() {
            return Err(format!(
                "registration refused: {} {}",
                response.status, response.body
            ));
        }
        let registered = response.json()?;
        let client_id = registered
            .get("client_id")
            .and_then(Value::as_str)
            .ok_or("the registration response has no client_id")?
            .to_owned();
        println!("registered: client_id {client_id}");

        // RFC 7636 §4.1: a verifier of 32 random octets, base64url (43 characters); §4.2: S256.
        let verifier = random_b64(32)?;
        let challenge = Base64UrlUnpadded::encode_string(&Sha256::digest(verifier.as_bytes()));
        let state = random_b64(16)?;
        let mut authorization_url = authorization_endpoint.clone();
        {
            let mut query = authorization_url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &client_id)
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256")
                .append_pair("state", &state)
                .append_pair("resource", &resource)
                // RFC 9449 §10: the code is bound to this key, too.
                .append_pair("dpop_jkt", self.prover.jkt());
            if let Some(scope) = &scope {
                query.append_pair("scope", scope);
            }
        }
        let response = self
            .http
            .get(authorization_url.clone())
            .send()
            .await
            .map_err(|e| format!("GET {authorization_endpoint}: {e}"))?;
        let response = Response::read(response).await?;
        if !response.status.is_redirection() {
            return Err(format!(
                "the authorization request was not answered with a redirect: {} {}",
                response.status, response.body
            ));
        }
        let location = response
            .header("location")
            .ok_or("the authorization redirect has no Location")?;
        let location = authorization_endpoint
            .join(location)
            .map_err(|e| format!("Location {location}: {e}"))?;
        drop(listener);
        if !location.as_str().starts_with(&redirect_uri) {
            return Err(format!(
                "the authorization redirect is not to the redirect URI: {location}"
            ));
        }
        let param = |name: &str| {
            location
                .query_pairs()
                .find(|(key, _)| key == name)
                .map(|(_, value)| value.into_owned())
        };
        if let Some(error) = param("error") {
            return Err(format!("the authorization request was refused: {error}"));
        }
        if param("state").as_deref() != Some(state.as_str()) {
            return Err(format!("the redirect's state is not ours: {location}"));
        }
        // RFC 9207 §2.4: where the server says it sends iss, it must be the issuer's.
        let iss_supported = as_metadata
            .get("authorization_response_iss_parameter_supported")
            .and_then(Value::as_bool)
            == Some(true);
        match param("iss") {
            Some(iss) if iss != issuer => {
                return Err(format!("the redirect's iss {iss} is not {issuer}"));
            }
            None if iss_supported => return Err("the redirect has no iss".into()),
            _ => {}
        }
        let code = param("code").ok_or("the redirect has no code")?;

        let form = {
            let mut form = form_urlencoded::Serializer::new(String::new());
            form.append_pair("grant_type", "authorization_code")
                .append_pair("code", &code)
                .append_pair("redirect_uri", &redirect_uri)
                .append_pair("client_id", &client_id)
                .append_pair("code_verifier", &verifier)
                .append_pair("resource", &resource);
            form.finish()
        };
        // RFC 9449 §5: a proof of the key the token is to be bound to; §8: once more with the
        // server's nonce if it asks for one.
        let mut retried = false;
        let token = loop {
            let proof = self.proof("POST", &token_endpoint, None)?;
            let response = self
                .http
                .post(token_endpoint.clone())
                .header("content-type", "application/x-www-form-urlencoded")
                .header("accept", "application/json")
                .header("dpop", proof)
                .body(form.clone())
                .send()
                .await
                .map_err(|e| format!("POST {token_endpoint}: {e}"))?;
            let response = Response::read(response).await?;
            self.remember_nonce(&token_endpoint, &response);
            println!("token request: {}", response.status);
            if response.status == StatusCode::BAD_REQUEST
                && !retried
                && response
                    .json()
                    .ok()
                    .and_then(|body| body.get("error").and_then(Value::as_str).map(str::to_owned))
                    == Some("use_dpop_nonce".to_owned())
            {
                if response.header("dpop-nonce").is_none() {
                    return Err("the token endpoint asked for a nonce without DPoP-Nonce".into());
                }
                retried = true;
                continue;
            }
            if !response.status.is_success() {
                return Err(format!(
                    "the token request was refused: {} {}",
                    response.status, response.body
                ));
            }
            break response.json()?;
        };
        // RFC 9449 §5: a token_type of DPoP says the token is bound; Bearer would mean the
        // server ignored the proof, and the token would be presented wrongly.
        let token_type = token
            .get("token_type")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !token_type.eq_ignore_ascii_case("DPoP") {
            return Err(format!(
                "the authorization server issued a {token_type:?} token, not a DPoP-bound one"
            ));
        }
        let access_token = token
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or("the token response has no access_token")?;
        println!("token: DPoP-bound to {}", self.prover.jkt());
        self.access_token = Some(access_token.to_owned());
        Ok(())
    }

    /// RFC 8414 §3.1: the well-known URL with the issuer's path after it; then OpenID Connect
    /// Discovery's two forms, which MCP clients also try.
    async fn authorization_server_metadata(&self, issuer: &str) -> Result<Value, String> {
        let issuer_url = Url::parse(issuer).map_err(|e| format!("issuer {issuer}: {e}"))?;
        let mut candidates = vec![
            well_known(&issuer_url, "oauth-authorization-server")?,
            well_known(&issuer_url, "openid-configuration")?,
        ];
        if issuer_url.path() != "/" {
            let appended = format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            );
            candidates.push(Url::parse(&appended).map_err(|e| format!("{appended}: {e}"))?);
        }
        let mut tried = Vec::new();
        for url in candidates {
            match self.get_json(&url).await {
                Ok(metadata) => {
                    // RFC 8414 §3.3: the metadata must be the issuer's own.
                    let published = metadata.get("issuer").and_then(Value::as_str);
                    if published != Some(issuer) {
                        return Err(format!("{url} is for issuer {published:?}, not {issuer}"));
                    }
                    return Ok(metadata);
                }
                Err(e) => tried.push(e),
            }
        }
        Err(format!(
            "no authorization server metadata: {}",
            tried.join("; ")
        ))
    }

    async fn get_json(&self, url: &Url) -> Result<Value, String> {
        let response = self
            .http
            .get(url.clone())
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("GET {url}: {e}"))?;
        let response = Response::read(response).await?;
        if !response.status.is_success() {
            return Err(format!("GET {url}: {}", response.status));
        }
        response.json().map_err(|e| format!("GET {url}: {e}"))
    }
}

/// `url`'s origin, the key of its server's nonce.
fn origin(url: &Url) -> String {
    url.origin().ascii_serialization()
}

/// RFC 8414 §3.1 / RFC 9728 §3.1: `/.well-known/NAME` inserted before the path of `url`.
fn well_known(url: &Url, name: &str) -> Result<Url, String> {
    let path = url.path().trim_end_matches('/');
    let text = format!("{}/.well-known/{name}{path}", origin(url));
    Url::parse(&text).map_err(|e| format!("{text}: {e}"))
}

fn now_secs() -> Result<u64, String> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|e| format!("the clock is before 1970: {e}"))
}

/// `len` random octets, base64url without padding.
fn random_b64(len: usize) -> Result<String, String> {
    let mut bytes = vec![0u8; len];
    getrandom::fill(&mut bytes).map_err(|e| format!("no randomness: {e}"))?;
    Ok(Base64UrlUnpadded::encode_string(&bytes))
}

/// The JSON-RPC messages of a `text/event-stream` body (the `data` of each event).
fn sse_messages(body: &str) -> Result<Vec<Value>, String> {
    let mut messages = Vec::new();
    let mut data = String::new();
    for line in body.lines().chain(std::iter::once("")) {
        if line.is_empty() {
            if !data.is_empty() {
                let message = serde_json::from_str(&data)
                    .map_err(|e| format!("an event that is not JSON ({e}): {data}"))?;
                messages.push(message);
                data.clear();
            }
        } else if let Some(value) = line.strip_prefix("data:") {
            if !data.is_empty() {
                data.push('\n');
            }
            data.push_str(value.strip_prefix(' ').unwrap_or(value));
        }
    }
    Ok(messages)
}

/// The value of auth-param `name` of a challenge in a `WWW-Authenticate` value (RFC 9110
/// §11.6.1): of the first challenge of `scheme` that has it, or of any challenge when `scheme`
/// is empty. Quoted strings are unescaped.
fn challenge_param(header: &str, scheme: &str, name: &str) -> Option<String> {
    let mut current_scheme = String::new();
    let mut rest = header;
    loop {
        rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
        if rest.is_empty() {
            return None;
        }
        let end = rest
            .find(|c: char| c == '=' || c == ',' || c.is_ascii_whitespace())
            .unwrap_or(rest.len());
        let (token, after) = rest.split_at_checked(end)?;
        let after_space = after.trim_start();
        let Some(value_start) = after_space.strip_prefix('=') else {
            // A token not followed by `=` starts a challenge.
            current_scheme = token.to_ascii_lowercase();
            rest = after;
            continue;
        };
        let value_start = value_start.trim_start();
        let value;
        if let Some(quoted) = value_start.strip_prefix('"') {
            let mut text = String::new();
            let mut escaped = false;
            let mut consumed = quoted.len();
            for (i, c) in quoted.char_indices() {
                if escaped {
                    text.push(c);
                    escaped = false;
                } else if c == '\\' {
                    escaped = true;
                } else if c == '"' {
                    consumed = i + 1;
                    break;
                } else {
                    text.push(c);
                }
            }
            value = text;
            rest = quoted.get(consumed..).unwrap_or_default();
        } else {
            let end = value_start
                .find(|c: char| c == ',' || c.is_ascii_whitespace())
                .unwrap_or(value_start.len());
            let (text, after) = value_start.split_at_checked(end)?;
            value = text.to_owned();
            rest = after;
        }
        if token.eq_ignore_ascii_case(name)
            && (scheme.is_empty() || current_scheme.eq_ignore_ascii_case(scheme))
        {
            return Some(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{challenge_param, sse_messages};

    #[test]
    fn challenge_params_are_read_per_scheme() {
        let header = r#"Bearer realm="x", error="invalid_token", DPoP error="use_dpop_nonce", resource_metadata="http://localhost:1/.well-known/oauth-protected-resource/mcp""#;
        assert_eq!(
            challenge_param(header, "dpop", "error").as_deref(),
            Some("use_dpop_nonce")
        );
        assert_eq!(
            challenge_param(header, "bearer", "error").as_deref(),
            Some("invalid_token")
        );
        assert_eq!(
            challenge_param(header, "", "resource_metadata").as_deref(),
            Some("http://localhost:1/.well-known/oauth-protected-resource/mcp")
        );
        assert_eq!(
            challenge_param(r#"DPoP algs="ES256 \"x\"", scope=mcp"#, "", "scope").as_deref(),
            Some("mcp")
        );
        assert_eq!(challenge_param("DPoP", "", "error"), None);
    }

    #[test]
    fn sse_bodies_yield_their_messages() {
        let body = "event: message\r\ndata: {\"jsonrpc\":\"2.0\",\"id\":1,\"result\":{}}\r\n\r\n";
        let messages = sse_messages(body).unwrap();
        assert_eq!(messages.len(), 1);
        assert_eq!(messages[0]["id"], 1);
    }
}
