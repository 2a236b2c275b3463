//! Shared by the engine's scenario tests: a simulated world with a clock, a seeded random
//! source, an in-memory store, one signing key and one protected resource.

#![allow(
    dead_code,
    unreachable_pub,
    missing_docs,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use gatehouse_engine::{
    AuthorizationRequest, EndpointError, Engine, EngineConfig, IntrospectRequest, MemoryStore,
    RandomSource, ResourceConfig, RevokeRequest, ServerKeys, TokenRequest, TokenResponse,
};
use gatehouse_jose::{AccessTokenValidator, Algorithm, KeySet, SigningKey};
use gatehouse_registration::{ClientMetadata, ClientMetadataPolicy, RegistrationResponse};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::form::{FormParams, encode};
use gatehouse_types::{ScopeSet, UnixTime};

pub const ISSUER: &str = "https://auth.example.com";
pub const RESOURCE: &str = "https://mcp.example.com/mcp";
pub const OTHER_RESOURCE: &str = "https://files.example.com/mcp";
/// A resource that shares the MCP server's scope names, in [`World::with_search_resource`].
pub const SEARCH_RESOURCE: &str = "https://search.example.com/mcp";
pub const REDIRECT: &str = "http://127.0.0.1:33418/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

// ----- the engine's three steps, over the memory store -------------------------------------
// Parse the request (pure), resolve the party it names (the caller's IO: here, the memory
// store's clients), decide and commit.

/// A token request: parsed, its client resolved in `clients`, decided.
pub async fn token_call<S: gatehouse_engine::Store>(
    engine: &Engine<S>,
    clients: &MemoryStore,
    body: &[u8],
    authorization: Option<&str>,
    keys: &ServerKeys<'_>,
    rng: &mut impl RandomSource,
    now: UnixTime,
) -> Result<TokenResponse, EndpointError> {
    let request = TokenRequest::parse(body, authorization)?;
    let client = clients.client(request.client().id())?;
    Ok(engine
        .token(request, client, keys, rng, now)
        .await?
        .response)
}

/// A revocation request: parsed, its client resolved, decided.
pub async fn revoke_call(
    engine: &Engine<MemoryStore>,
    body: &[u8],
    authorization: Option<&str>,
    keys: &KeySet,
    now: UnixTime,
) -> Result<(), EndpointError> {
    let request = RevokeRequest::parse(body, authorization)?;
    let client = engine.store().client(request.client().id())?;
    engine.revoke(request, client, keys, now).await.map(drop)
}

/// An introspection request: parsed, its client resolved, decided.
pub async fn introspect_call(
    engine: &Engine<MemoryStore>,
    body: &[u8],
    authorization: Option<&str>,
    keys: &KeySet,
    now: UnixTime,
) -> Result<gatehouse_introspection::IntrospectionResponse, EndpointError> {
    let request = IntrospectRequest::parse(body, authorization)?;
    let client = engine.store().client(request.client().id())?;
    engine.introspect(request, client, keys, now).await
}

/// An authorization request validated with its client resolved.
pub fn validate_call(
    engine: &Engine<MemoryStore>,
    params: &FormParams,
) -> Result<AuthorizationRequest, gatehouse_engine::AuthorizeError> {
    let client_id = gatehouse_engine::requested_client(params)?;
    let client = engine
        .store()
        .client(&client_id)
        .map_err(|e| gatehouse_engine::AuthorizeError::Display(EndpointError::from(e)))?;
    engine.validate_authorization(params, client.as_ref())
}

/// An approval, with the request's client resolved as it is now.
pub async fn approve_call(
    engine: &Engine<MemoryStore>,
    request: &AuthorizationRequest,
    subject: &str,
    rng: &mut impl RandomSource,
    now: UnixTime,
) -> Result<String, gatehouse_engine::AuthorizeError> {
    let client = engine
        .store()
        .client(request.client_id())
        .map_err(|e| gatehouse_engine::AuthorizeError::Display(EndpointError::from(e)))?;
    engine
        .approve(request, client.as_ref(), subject, rng, now)
        .await
}

/// Runs a future that never waits (the memory store answers at once).
pub fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

/// SplitMix64: deterministic, so every run of a scenario is the same run.
pub struct SeededRng(pub u64);

impl RandomSource for SeededRng {
    fn fill(&mut self, dest: &mut [u8]) {
        for chunk in dest.chunks_mut(8) {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^= z >> 31;
            chunk.copy_from_slice(&z.to_le_bytes()[..chunk.len()]);
        }
    }
}

pub struct World {
    pub engine: Engine<MemoryStore>,
    pub key: SigningKey,
    pub keys: KeySet,
    pub rng: SeededRng,
    pub now: UnixTime,
    pub policy: ClientMetadataPolicy,
    /// Client secrets of the confidential clients registered through this world.
    pub secrets: std::collections::HashMap<String, String>,
}

impl World {
    pub fn new() -> Self {
        Self::with_key(SigningKey::generate(Algorithm::Es256).unwrap())
    }

    /// A world signing with `key`: the `engine_ops` fuzz target passes a constant key, since
    /// generating one per input would dominate its run time.
    pub fn with_key(key: SigningKey) -> Self {
        Self::with_key_and_grace(key, None)
    }

    /// A world whose `tokens.refresh_reuse_grace_secs` is `grace`.
    pub fn with_refresh_grace(grace: u64) -> Self {
        Self::with_key_and_grace(SigningKey::generate(Algorithm::Es256).unwrap(), Some(grace))
    }

    /// A world with a third resource, [`SEARCH_RESOURCE`], that understands `mcp:tools` too:
    /// a target for token exchange, which keeps the subject token's scopes.
    pub fn with_search_resource() -> Self {
        let mut world = Self::new();
        let mut config = world.engine.config().clone();
        let search = ResourceConfig::new(
            ResourceUri::parse(SEARCH_RESOURCE).unwrap(),
            ScopeSet::parse("mcp:tools").unwrap(),
        );
        config = EngineConfig::new(
            config.issuer().to_owned(),
            config.resources().iter().cloned().chain([search]).collect(),
        )
        .unwrap();
        world.engine = Engine::new(config, MemoryStore::new()).unwrap();
        world
    }

    /// A world whose token endpoint treats DPoP as `policy` says (RFC 9449).
    pub fn with_dpop(policy: gatehouse_engine::DpopPolicy) -> Self {
        let mut world = Self::new();
        let mut config = world.engine.config().clone();
        config.dpop = policy;
        world.engine = Engine::new(config, MemoryStore::new()).unwrap();
        world
    }

    /// A token request as `client_id` (its credentials added to `body`) with these `DPoP`
    /// header values.
    pub fn token_with_dpop(
        &mut self,
        client_id: &str,
        body: &[(&str, &str)],
        proofs: &[&str],
    ) -> Result<TokenResponse, EndpointError> {
        let secret = self.secrets.get(client_id).cloned();
        let mut body = body.to_vec();
        body.push(("client_id", client_id));
        if let Some(secret) = &secret {
            body.push(("client_secret", secret.as_str()));
        }
        let body = encode(body);
        let request =
            TokenRequest::parse(body.as_bytes(), None)?.with_dpop_headers(proofs.iter().copied());
        let client = self.engine.store().client(request.client().id())?;
        let keys = ServerKeys {
            signing: &self.key,
            verifying: &self.keys,
        };
        block_on(
            self.engine
                .token(request, client, &keys, &mut self.rng, self.now),
        )
        .map(|issued| issued.response)
    }

    /// The verified claims of one of this world's access tokens.
    pub fn claims(&self, access_token: &str) -> gatehouse_jose::AccessTokenClaims {
        AccessTokenValidator::new(ISSUER, RESOURCE)
            .also_accept_audience(OTHER_RESOURCE)
            .validate(access_token, &self.keys, self.now.as_secs())
            .unwrap()
            .claims()
            .clone()
    }

    fn with_key_and_grace(key: SigningKey, grace: Option<u64>) -> Self {
        let mcp = ResourceConfig::new(
            ResourceUri::parse(RESOURCE).unwrap(),
            ScopeSet::parse("mcp:tools mcp:admin").unwrap(),
        )
        .with_default_scopes(ScopeSet::parse("mcp:tools").unwrap());
        let files = ResourceConfig::new(
            ResourceUri::parse(OTHER_RESOURCE).unwrap(),
            ScopeSet::parse("files:read").unwrap(),
        );
        let mut config = EngineConfig::new(ISSUER, vec![mcp, files]).unwrap();
        if let Some(grace) = grace {
            config.refresh_reuse_grace_secs = grace;
        }
        let keys = KeySet::new(vec![key.verifying_key()]);
        Self {
            engine: Engine::new(config, MemoryStore::new()).unwrap(),
            key,
            keys,
            rng: SeededRng(7),
            now: UnixTime::from_secs(1_700_000_000),
            policy: ClientMetadataPolicy::new(),
            secrets: std::collections::HashMap::new(),
        }
    }

    /// A confidential client (`client_secret_post`) with the loopback redirect, refresh allowed;
    /// its secret is remembered and sent by every request helper below.
    pub fn confidential_client(&mut self) -> String {
        let response = self.register(&format!(
            r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"client_secret_post",
                "grant_types":["authorization_code","refresh_token"],"client_name":"Confidential"}}"#
        ));
        let id = response.client_id.as_str().to_owned();
        let secret = response
            .client_secret
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned();
        self.secrets.insert(id.clone(), secret);
        id
    }

    /// The credentials of the resource server of `RESOURCE`, as an operator would provision them:
    /// a confidential client allowed to introspect that resource's tokens.
    pub fn resource_server(&mut self) -> String {
        let id = self.confidential_client();
        self.serving(&id, RESOURCE)
    }

    /// `client_id`, plus `client_secret` for confidential clients of this world.
    fn credentials<'a>(&'a self, client_id: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut params = vec![("client_id", client_id)];
        if let Some(secret) = self.secrets.get(client_id) {
            params.push(("client_secret", secret.as_str()));
        }
        params
    }

    pub fn advance(&mut self, secs: u64) {
        self.now = self.now.saturating_add_secs(secs);
    }

    /// Registers a client from JSON metadata.
    pub fn register(&mut self, metadata: &str) -> RegistrationResponse {
        let metadata = ClientMetadata::from_json(metadata.as_bytes()).unwrap();
        block_on(
            self.engine
                .register(&self.policy, &metadata, &mut self.rng, self.now),
        )
        .unwrap()
    }

    /// Registers a client from JSON metadata as an operator would (no registration access
    /// token): a vetted client.
    pub fn register_vetted(&mut self, metadata: &str) -> String {
        let response = self.register(metadata);
        self.vet(response.client_id.as_str())
    }

    /// A machine client as an operator declares it: confidential (`client_secret_basic`), the
    /// `client_credentials` grant only, registered `scope` `scope`, no registration access token.
    pub fn machine_client(&mut self, scope: &str) -> String {
        self.vetted_confidential(r#"["client_credentials"]"#, scope)
    }

    /// A confidential client (`client_secret_post`) as an operator declares it, with `grants`
    /// (JSON) and registered `scope`, no registration access token.
    pub fn vetted_confidential(&mut self, grants: &str, scope: &str) -> String {
        let ordinary = std::mem::replace(
            &mut self.policy,
            ClientMetadataPolicy::new().with_grant_types([
                gatehouse_types::GrantType::AuthorizationCode,
                gatehouse_types::GrantType::RefreshToken,
                gatehouse_types::GrantType::ClientCredentials,
                gatehouse_types::GrantType::JwtBearer,
                gatehouse_types::GrantType::TokenExchange,
            ]),
        );
        let response = self.register(&format!(
            r#"{{"token_endpoint_auth_method":"client_secret_post","grant_types":{grants},
                "response_types":[],"client_name":"Machine","scope":"{scope}"}}"#
        ));
        self.policy = ordinary;
        let secret = response
            .client_secret
            .as_ref()
            .unwrap()
            .expose_secret()
            .to_owned();
        let id = response.client_id.as_str().to_owned();
        self.secrets.insert(id.clone(), secret.clone());
        let vetted = self.vet(&id);
        self.secrets.insert(vetted.clone(), secret);
        vetted
    }

    /// A machine client that authenticates with `private_key_jwt` (RFC 7523 §2.2), its public
    /// key registered as `jwks`, as an operator declares it. `grants` as JSON, e.g.
    /// `["client_credentials"]`.
    pub fn keyed_client(&mut self, key: &SigningKey, grants: &str, scope: &str) -> String {
        let jwks = format!(r#"{{"keys":[{}]}}"#, key.verifying_key().to_jwk().to_json());
        self.keyed_client_with(&format!(r#""jwks":{jwks}"#), grants, scope)
    }

    /// The same, with `keys` (`"jwks": …` or `"jwks_uri": …`) as given.
    pub fn keyed_client_with(&mut self, keys: &str, grants: &str, scope: &str) -> String {
        let ordinary = std::mem::replace(
            &mut self.policy,
            ClientMetadataPolicy::new()
                .with_grant_types([
                    gatehouse_types::GrantType::AuthorizationCode,
                    gatehouse_types::GrantType::RefreshToken,
                    gatehouse_types::GrantType::ClientCredentials,
                ])
                .with_auth_methods([gatehouse_types::TokenEndpointAuthMethod::PrivateKeyJwt])
                .with_no_grant_types_admitted(),
        );
        let response = self.register(&format!(
            r#"{{"token_endpoint_auth_method":"private_key_jwt","grant_types":{grants},
                "response_types":[],"client_name":"Keyed","scope":"{scope}",{keys}}}"#
        ));
        self.policy = ordinary;
        self.vet(response.client_id.as_str())
    }

    /// The same client as `client_id`, under a new id, as the resource server of `resource`: it
    /// may introspect that resource's tokens (RFC 7662 §4), as `introspection_resources`
    /// declares.
    pub fn serving(&mut self, client_id: &str, resource: &str) -> String {
        let store = self.engine.store();
        let id = gatehouse_types::ClientId::new(client_id).unwrap();
        let mut record = store.client(&id).unwrap().unwrap();
        record.client_id = gatehouse_types::ClientId::new(format!("{client_id}-rs")).unwrap();
        record.introspection_resources = vec![ResourceUri::parse(resource).unwrap()];
        block_on(gatehouse_engine::Store::insert_client(store, record)).unwrap();
        let serving = format!("{client_id}-rs");
        if let Some(secret) = self.secrets.get(client_id).cloned() {
            self.secrets.insert(serving.clone(), secret);
        }
        serving
    }

    /// A client assertion (RFC 7523 §3) by `client_id`, signed with `key`, for this world's
    /// issuer, valid for a minute; `changes` replace or (with `null`) remove claims.
    pub fn assertion(
        &mut self,
        client_id: &str,
        key: &SigningKey,
        changes: serde_json::Value,
    ) -> String {
        let mut jti = [0u8; 8];
        gatehouse_engine::RandomSource::fill(&mut self.rng, &mut jti);
        let now = self.now.as_secs();
        let mut claims = serde_json::json!({
            "iss": client_id, "sub": client_id, "aud": ISSUER,
            "iat": now, "exp": now + 60,
            "jti": jti.iter().map(|b| format!("{b:02x}")).collect::<String>(),
        });
        for (name, value) in changes.as_object().unwrap() {
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value.clone();
            }
        }
        gatehouse_jose::jws::sign(key, None, claims.to_string().as_bytes()).unwrap()
    }

    /// The resource server of `RESOURCE` as an operator declares it to exchange tokens (RFC 8693):
    /// confidential, the token-exchange grant only, introspection of `RESOURCE`'s tokens.
    pub fn exchanging_server(&mut self) -> String {
        let id = self.vetted_confidential(
            r#"["urn:ietf:params:oauth:grant-type:token-exchange"]"#,
            "mcp:tools mcp:admin",
        );
        self.serving(&id, RESOURCE)
    }

    /// The same client without its registration access token, under a new id: as an operator
    /// would have provisioned it (a vetted client).
    fn vet(&mut self, client_id: &str) -> String {
        use gatehouse_engine::Store;
        let store = self.engine.store();
        let mut record = store
            .client(&gatehouse_types::ClientId::new(client_id).unwrap())
            .unwrap()
            .unwrap();
        record.registration_token_hash = None;
        let vetted = gatehouse_types::ClientId::new(format!("{client_id}-vetted")).unwrap();
        record.client_id = vetted.clone();
        block_on(store.insert_client(record)).unwrap();
        vetted.as_str().to_owned()
    }

    /// A token request as `client_id`, its credentials added to `body`.
    pub fn token_for(
        &mut self,
        client_id: &str,
        body: &[(&str, &str)],
    ) -> Result<TokenResponse, gatehouse_engine::EndpointError> {
        self.token_as(client_id, body.to_vec())
    }

    /// A public client (`none`) with the loopback redirect, refresh allowed.
    pub fn public_client(&mut self) -> String {
        let response = self.register(&format!(
            r#"{{"redirect_uris":["{REDIRECT}"],"token_endpoint_auth_method":"none",
                "grant_types":["authorization_code","refresh_token"],"client_name":"Test"}}"#
        ));
        response.client_id.as_str().to_owned()
    }

    pub fn authorize_params(&self, client_id: &str, extra: &[(&str, &str)]) -> FormParams {
        let mut params = vec![
            ("response_type", "code"),
            ("client_id", client_id),
            ("redirect_uri", REDIRECT),
            ("code_challenge", CHALLENGE),
            ("code_challenge_method", "S256"),
            ("state", "xyz"),
        ];
        for (name, value) in extra {
            params.retain(|(n, _)| n != name);
            if !value.is_empty() {
                params.push((name, value));
            }
        }
        FormParams::parse(encode(params).as_bytes()).unwrap()
    }

    pub fn validate(
        &self,
        params: &FormParams,
    ) -> Result<AuthorizationRequest, gatehouse_engine::AuthorizeError> {
        validate_call(&self.engine, params)
    }

    /// Authorizes `client_id` as `alice` and returns the code from the redirect.
    pub fn code_for(&mut self, client_id: &str, extra: &[(&str, &str)]) -> String {
        let request = self
            .validate(&self.authorize_params(client_id, extra))
            .unwrap();
        let redirect = block_on(approve_call(
            &self.engine,
            &request,
            "alice",
            &mut self.rng,
            self.now,
        ))
        .unwrap();
        query_param(&redirect, "code").unwrap()
    }

    pub fn token(
        &mut self,
        body: &[(&str, &str)],
    ) -> Result<TokenResponse, gatehouse_engine::EndpointError> {
        self.token_with_auth(body, None)
    }

    pub fn token_with_auth(
        &mut self,
        body: &[(&str, &str)],
        authorization: Option<&str>,
    ) -> Result<TokenResponse, gatehouse_engine::EndpointError> {
        let body = encode(body.iter().copied());
        block_on(token_call(
            &self.engine,
            self.engine.store(),
            body.as_bytes(),
            authorization,
            &ServerKeys {
                signing: &self.key,
                verifying: &self.keys,
            },
            &mut self.rng,
            self.now,
        ))
    }

    pub fn redeem(
        &mut self,
        client_id: &str,
        code: &str,
    ) -> Result<TokenResponse, gatehouse_engine::EndpointError> {
        let body = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        self.token_as(client_id, body)
    }

    /// A token request with `client_id`'s credentials added to `body`.
    fn token_as<'a>(
        &mut self,
        client_id: &'a str,
        mut body: Vec<(&'a str, &'a str)>,
    ) -> Result<TokenResponse, gatehouse_engine::EndpointError> {
        let secret = self.secrets.get(client_id).cloned();
        body.push(("client_id", client_id));
        let mut body: Vec<(&str, &str)> = body;
        if let Some(secret) = &secret {
            body.push(("client_secret", secret.as_str()));
        }
        self.token(&body)
    }

    pub fn refresh(
        &mut self,
        client_id: &str,
        refresh_token: &str,
    ) -> Result<TokenResponse, gatehouse_engine::EndpointError> {
        let body = vec![
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        self.token_as(client_id, body)
    }

    pub fn revoke(
        &mut self,
        client_id: &str,
        token: &str,
    ) -> Result<(), gatehouse_engine::EndpointError> {
        let mut params = vec![("token", token)];
        params.extend(self.credentials(client_id));
        let body = encode(params);
        block_on(revoke_call(
            &self.engine,
            body.as_bytes(),
            None,
            &self.keys,
            self.now,
        ))
    }

    /// Introspects `token` as `client_id` (a confidential client or resource server of this
    /// world); panics if the engine refuses the request itself.
    pub fn introspect(
        &mut self,
        client_id: &str,
        token: &str,
    ) -> gatehouse_introspection::IntrospectionResponse {
        self.try_introspect(client_id, token).unwrap()
    }

    /// Introspects `token` as `client_id`, returning the engine's refusal as an error.
    pub fn try_introspect(
        &mut self,
        client_id: &str,
        token: &str,
    ) -> Result<gatehouse_introspection::IntrospectionResponse, gatehouse_engine::EndpointError>
    {
        let mut params = vec![("token", token)];
        params.extend(self.credentials(client_id));
        let body = encode(params);
        block_on(introspect_call(
            &self.engine,
            body.as_bytes(),
            None,
            &self.keys,
            self.now,
        ))
    }

    /// Whether a resource server would accept the access token now (signature, claims, and the
    /// in-process revocation list).
    pub fn accepts(&self, access_token: &str) -> bool {
        let validator = AccessTokenValidator::new(ISSUER, RESOURCE)
            .also_accept_audience(OTHER_RESOURCE)
            .with_leeway(0);
        match validator.validate(access_token, &self.keys, self.now.as_secs()) {
            Ok(token) => !block_on(gatehouse_engine::Store::is_access_token_revoked(
                self.engine.store(),
                &token.claims().jti,
            ))
            .unwrap(),
            Err(_) => false,
        }
    }
}

/// A query parameter of a redirect URL.
pub fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let params = FormParams::parse(query.as_bytes()).ok()?;
    params.single(name).ok().flatten().map(str::to_owned)
}
