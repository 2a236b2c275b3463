//! The [`Guard`]: one protected resource's configuration and state, built once with
//! [`GuardBuilder`] and shared by every request. It is the tower [`Layer`].

use std::sync::Arc;
use std::time::SystemTime;

use bytes::Bytes;
use gatehouse_jose::{DEFAULT_LEEWAY_SECS, TokenExpectations};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_resource_metadata::{BearerMethod, ProtectedResourceMetadata, well_known_url};
use gatehouse_types::{Scope, ScopeSet, UnixTime};
use tower::Layer;

use crate::cache::TokenCache;
use crate::dpop::{DpopSettings, ProofReplayCheck};
use crate::introspection::Introspector;
use crate::rejection::Challenges;
use crate::service::GuardService;
use crate::sessions::SessionKey;
use crate::tools::{ToolScopes, UnmappedTools};
use crate::verify::JwtVerifier;
use crate::{
    Cors, GuardConfigError, IntrospectionClient, JwksCachePolicy, KeySource, RemoteJwks,
    RevocationCheck,
};

/// Default bound on the request bodies the guard reads (JSON-RPC for per-tool scopes, forms).
pub const DEFAULT_MAX_BODY_BYTES: usize = 4 * 1024 * 1024;
/// Default time a client has to send a body the guard reads.
pub const DEFAULT_BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);
/// Default number of verified tokens remembered.
pub const DEFAULT_TOKEN_CACHE_CAPACITY: usize = 10_000;

/// How the guard verifies access tokens: locally as RFC 9068 JWTs with keys from somewhere, or
/// by asking the authorization server (RFC 7662).
pub struct Verification(Plan);

enum Plan {
    DiscoveredJwks,
    JwksUri(String),
    Keys(Arc<dyn KeySource>),
    Introspection(IntrospectionClient),
}

impl Verification {
    /// JWTs, with keys from the `jwks_uri` of the issuer's RFC 8414 metadata (a [`RemoteJwks`]
    /// with the builder's [`JwksCachePolicy`]).
    pub fn discovered_jwks() -> Self {
        Self(Plan::DiscoveredJwks)
    }

    /// JWTs, with keys from this JWK Set URL.
    pub fn jwks_uri(url: impl Into<String>) -> Self {
        Self(Plan::JwksUri(url.into()))
    }

    /// JWTs, with keys from `source`: a [`StaticKeys`](crate::StaticKeys), a
    /// [`SharedKeys`](crate::SharedKeys) fed by an authorization server in the same process, a
    /// [`RemoteJwks`] shared by several guards, or any [`KeySource`].
    pub fn key_source(source: impl KeySource) -> Self {
        Self(Plan::Keys(Arc::new(source)))
    }

    /// Token introspection at the authorization server (RFC 7662).
    pub fn introspection(client: IntrospectionClient) -> Self {
        Self(Plan::Introspection(client))
    }
}

impl std::fmt::Debug for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.0 {
            Plan::DiscoveredJwks => f.write_str("Verification::DiscoveredJwks"),
            Plan::JwksUri(uri) => write!(f, "Verification::JwksUri({uri:?})"),
            Plan::Keys(_) => f.write_str("Verification::KeySource"),
            Plan::Introspection(client) => write!(f, "Verification::Introspection({client:?})"),
        }
    }
}

use crate::audit::CallAudit;
use crate::rate_limit::{CallerLimit, RateLimiter};
use crate::shared::{Clock, Shared, Verifier};
use gatehouse_types::rate::PerMinute;

/// Builds a [`Guard`]; start with [`Guard::builder`].
#[must_use]
pub struct GuardBuilder {
    issuer: String,
    resource: String,
    verification: Verification,
    required_scopes: Vec<String>,
    scopes_supported: Vec<String>,
    tool_scopes: Vec<(String, String)>,
    unmapped_tools: UnmappedTools,
    filter_tools_list: bool,
    leeway_secs: u64,
    token_cache_capacity: usize,
    max_body_bytes: usize,
    cors: Cors,
    resource_name: Option<String>,
    revocation: Option<Arc<dyn RevocationCheck>>,
    jwks_cache_policy: JwksCachePolicy,
    clock: Option<Clock>,
    session_key: Option<[u8; 32]>,
    body_timeout: std::time::Duration,
    dpop_required: bool,
    dpop_nonce_secret: Option<(Vec<u8>, u64)>,
    dpop_replay: Option<Arc<dyn ProofReplayCheck>>,
    rate_limit: Option<PerMinute>,
    rate_limiter: Option<Arc<dyn RateLimiter>>,
    audit: Option<Arc<dyn CallAudit>>,
    audit_arguments: bool,
    scope_policy: gatehouse_types::policy::ScopePolicy,
}

impl GuardBuilder {
    /// Scopes every request needs (`required_scopes` of the configuration). Advertised in
    /// `scopes_supported` and in the `scope` of challenges.
    pub fn required_scopes(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.required_scopes
            .extend(scopes.into_iter().map(Into::into));
        self
    }

    /// More scopes to advertise in `scopes_supported` (the required and per-tool scopes are
    /// advertised anyway).
    pub fn scopes_supported(mut self, scopes: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.scopes_supported
            .extend(scopes.into_iter().map(Into::into));
        self
    }

    /// Calling the MCP tool `tool` (`tools/call` with `params.name` = `tool`) needs `scope`.
    pub fn tool_scope(mut self, tool: impl Into<String>, scope: impl Into<String>) -> Self {
        self.tool_scopes.push((tool.into(), scope.into()));
        self
    }

    /// What becomes of a tool with no [`tool_scope`](Self::tool_scope) (default:
    /// [`UnmappedTools::Allow`]). With [`UnmappedTools::Deny`], it can be neither called nor
    /// listed (`tools/list` answers are filtered then, whatever
    /// [`filter_tools_list`](Self::filter_tools_list) says): a tool the server adds stays closed
    /// until it is given a scope.
    pub fn unmapped_tools(mut self, unmapped: UnmappedTools) -> Self {
        self.unmapped_tools = unmapped;
        self
    }

    /// Whether `tools/list` responses are filtered down to the tools the caller may call
    /// (default: yes, as in `gatehouse serve`'s `filter_tools_list`: a client is not offered
    /// tools it would be refused).
    pub fn filter_tools_list(mut self, filter: bool) -> Self {
        self.filter_tools_list = filter;
        self
    }

    /// Clock skew allowed on `exp`, `nbf` and `iat` (default 5 seconds).
    pub fn leeway_secs(mut self, secs: u64) -> Self {
        self.leeway_secs = secs;
        self
    }

    /// How many verified JWTs are remembered, so that a session sending the same token on
    /// every request pays for the signature once (default 10 000; zero disables). Entries never
    /// outlive the token's `exp`; revocation is checked on every request regardless.
    pub fn token_cache_capacity(mut self, capacity: usize) -> Self {
        self.token_cache_capacity = capacity;
        self
    }

    /// How long a client has to send a body the guard reads (default 30 seconds); a body still
    /// arriving after that is refused with `408`, so a client sending it a byte at a time cannot
    /// hold the request (CWE-400).
    pub fn body_timeout(mut self, timeout: std::time::Duration) -> Self {
        self.body_timeout = timeout;
        self
    }

    /// Bound on request bodies the guard reads (default 4 MiB); larger ones are refused
    /// with `413`.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// CORS policy (default [`Cors::any_origin`]).
    pub fn cors(mut self, cors: Cors) -> Self {
        self.cors = cors;
        self
    }

    /// `resource_name` of the metadata document.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.resource_name = Some(name.into());
        self
    }

    /// A deny list consulted on every request.
    pub fn revocation(mut self, check: impl RevocationCheck) -> Self {
        self.revocation = Some(Arc::new(check));
        self
    }

    /// How a discovered or configured remote JWKS is cached.
    pub fn jwks_cache_policy(mut self, policy: JwksCachePolicy) -> Self {
        self.jwks_cache_policy = policy;
        self
    }

    /// The key that binds MCP session ids to the subject and client that opened them (see
    /// `Mcp-Session-Id` in the crate documentation). Default: a random key of this guard's own;
    /// guards of one resource on several instances behind a load balancer need the same key,
    /// or a session opened through one is unknown to the others.
    pub fn session_binding_key(mut self, key: [u8; 32]) -> Self {
        self.session_key = Some(key);
        self
    }

    /// Accept DPoP-bound access tokens only (RFC 9449 §7; `dpop_bound_access_tokens_required`
    /// in the metadata). Default: bearer tokens and DPoP-bound tokens are both accepted, each
    /// with its own scheme.
    pub fn require_dpop(mut self, required: bool) -> Self {
        self.dpop_required = required;
        self
    }

    /// Require a server nonce in DPoP proofs (RFC 9449 §9), derived from `secret` (32 bytes or
    /// more, the same on every instance of the resource, so that they agree without sharing
    /// state) and the resource's origin (clients keep one nonce per origin), changing every
    /// `step_secs`. Default: no nonce.
    pub fn dpop_nonces(mut self, secret: &[u8], step_secs: u64) -> Self {
        self.dpop_nonce_secret = Some((secret.to_vec(), step_secs));
        self
    }

    /// Where the `jti` of DPoP proofs is remembered (RFC 9449 §11.1). Default: a
    /// [`MemoryProofReplay`](crate::MemoryProofReplay) of this guard's own; instances of one
    /// resource behind a load balancer need one they share.
    pub fn dpop_replay(mut self, check: impl ProofReplayCheck) -> Self {
        self.dpop_replay = Some(Arc::new(check));
        self
    }

    /// A budget of `per_minute` requests for each caller (client and subject) on this resource,
    /// a minute's worth at once at most; past it, `429` with `Retry-After`. Every authenticated
    /// request counts. Default: no limit.
    pub fn rate_limit(mut self, per_minute: u32) -> Self {
        self.rate_limit = Some(PerMinute::new(per_minute));
        self
    }

    /// Where callers' budgets are kept. Default: a [`MemoryRateLimiter`](crate::MemoryRateLimiter)
    /// of this guard's own; instances of one resource behind a load balancer need one they
    /// share, or each enforces the limit on its own.
    pub fn rate_limiter(mut self, limiter: impl RateLimiter) -> Self {
        self.rate_limiter = Some(Arc::new(limiter));
        self
    }

    /// Hands every MCP call the guard decides to `audit` (see [`AuditedCall`](crate::AuditedCall)).
    /// Default: no audit.
    pub fn audit(mut self, audit: impl CallAudit) -> Self {
        self.audit = Some(Arc::new(audit));
        self
    }

    /// Keep the arguments of audited calls (at most
    /// [`MAX_ARGUMENT_BYTES`](crate::MAX_ARGUMENT_BYTES) each). Default: not kept; they are what
    /// people type into agents.
    pub fn audit_arguments(mut self, keep: bool) -> Self {
        self.audit_arguments = keep;
        self
    }

    /// The scope matrix of the authorization server (`gatehouse_types::policy`): a scope the
    /// token carries but the policy no longer lets its subject hold through its client counts as
    /// absent, so a policy made stricter takes effect at once, not when tokens expire.
    /// Default: none (the token's scopes as they are).
    pub fn scope_policy(mut self, policy: gatehouse_types::policy::ScopePolicy) -> Self {
        self.scope_policy = policy;
        self
    }

    /// The clock for token times (default: the system clock). For tests.
    pub fn clock(mut self, clock: impl Fn() -> UnixTime + Send + Sync + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// The guard, once every setting is valid.
    pub fn build(self) -> Result<Guard, GuardConfigError> {
        gatehouse_types::uri::check_issuer_url(&self.issuer).map_err(|e| {
            GuardConfigError::Issuer {
                issuer: self.issuer.clone(),
                reason: e.to_string(),
            }
        })?;
        let resource_error = |reason: String| GuardConfigError::Resource {
            resource: self.resource.clone(),
            reason,
        };
        let resource =
            ResourceUri::parse(&self.resource).map_err(|e| resource_error(e.to_string()))?;
        let metadata_url =
            well_known_url(resource.as_str()).map_err(|e| resource_error(e.to_string()))?;
        let audiences = audiences(&resource);

        let required: ScopeSet = parse_scopes(&self.required_scopes)?.into_iter().collect();
        let mut tools = ToolScopes::default();
        tools.set_unmapped(self.unmapped_tools);
        for (tool, scope) in self.tool_scopes {
            tools.insert(tool, parse_scope(&scope)?);
        }
        let mut supported = required.clone();
        for scope in parse_scopes(&self.scopes_supported)?
            .into_iter()
            .chain(tools.scopes().cloned())
        {
            supported.insert(scope);
        }

        let metadata = metadata(
            &resource,
            &self.issuer,
            &supported,
            self.resource_name.as_deref(),
            self.dpop_required,
        )?;
        let metadata_path = gatehouse_types::uri::split(&metadata_url)
            .map(|c| c.path.to_owned())
            .unwrap_or_default();

        let mut expected = TokenExpectations::new(self.issuer.clone(), resource.as_str())
            .with_leeway(self.leeway_secs);
        for also in audiences.iter().skip(1) {
            expected = expected.also_accept_audience(also.clone());
        }
        let verifier = match self.verification.0 {
            Plan::DiscoveredJwks => Verifier::Jwt(JwtVerifier::new(
                Arc::new(RemoteJwks::discover(&self.issuer, self.jwks_cache_policy)?),
                expected,
            )),
            Plan::JwksUri(uri) => Verifier::Jwt(JwtVerifier::new(
                Arc::new(RemoteJwks::from_uri(&uri, self.jwks_cache_policy)?),
                expected,
            )),
            Plan::Keys(source) => Verifier::Jwt(JwtVerifier::new(source, expected)),
            Plan::Introspection(client) => {
                Verifier::Introspection(Box::new(Introspector::new(client, expected)?))
            }
        };

        let clock = self
            .clock
            .unwrap_or_else(|| Arc::new(|| UnixTime::from(SystemTime::now())));
        let session_key = match self.session_key {
            Some(key) => key,
            None => {
                let mut key = [0u8; 32];
                getrandom::fill(&mut key)
                    .map_err(|e| GuardConfigError::Randomness(e.to_string()))?;
                key
            }
        };
        let sessions = SessionKey::new(session_key, resource.as_str());
        let origin = gatehouse_types::uri::origin(resource.as_str());
        let dpop = DpopSettings {
            required: self.dpop_required,
            // Labelled with the origin: clients keep one nonce per origin (oauth4webapi does),
            // so the resources and the token endpoint of one server agree on theirs, and a
            // server on another origin (another label, or another secret) refuses them.
            nonces: self.dpop_nonce_secret.map(|(secret, step)| {
                gatehouse_jose::dpop::NonceSource::new(&secret, origin.clone(), step)
            }),
            replay: self
                .dpop_replay
                .unwrap_or_else(|| Arc::new(crate::MemoryProofReplay::default())),
            origin,
            keys: gatehouse_jose::dpop::ProofKeyCache::default(),
        };
        let resource_label = metrics::SharedString::from(Arc::<str>::from(resource.as_str()));
        Ok(Guard {
            shared: Arc::new(Shared {
                challenges: Challenges::new(metadata_url.clone(), &required, self.dpop_required),
                dpop,
                metadata_json: Bytes::from(metadata.to_json()),
                metadata,
                metadata_url,
                metadata_path,
                issuer: self.issuer,
                resource,
                required,
                supported,
                tools: Arc::new(tools),
                // A closed tool is unlisted too, filtering or not.
                filter_tools_list: self.filter_tools_list
                    || self.unmapped_tools == UnmappedTools::Deny,
                max_body_bytes: self.max_body_bytes,
                body_timeout: self.body_timeout,
                verifier,
                cache: TokenCache::new(self.token_cache_capacity),
                revocation: self.revocation,
                cors: self.cors,
                sessions,
                resource_label,
                clock,
                limit: self.rate_limit.map(|budget| CallerLimit {
                    budget,
                    limiter: self
                        .rate_limiter
                        .unwrap_or_else(|| Arc::new(crate::MemoryRateLimiter::default())),
                }),
                audit: self.audit,
                audit_arguments: self.audit_arguments,
                scope_policy: self.scope_policy,
            }),
        })
    }
}

/// The spellings of the resource a token's `aud` may use: the canonical form, and for a
/// resource without a path also the other of `https://host` and `https://host/`
/// ([`ResourceUri`]'s one equivalence). Nothing else: `aud` is compared as a string
/// (RFC 7519 §4.1.3) by every other JWT library too.
fn audiences(resource: &ResourceUri) -> Vec<String> {
    let canonical = resource.as_str().to_owned();
    let components = gatehouse_types::uri::split(&canonical);
    let other = match components {
        Some(c) if c.query.is_none() && c.path.is_empty() => Some(format!("{canonical}/")),
        Some(c) if c.query.is_none() && c.path == "/" => {
            canonical.strip_suffix('/').map(str::to_owned)
        }
        _ => None,
    };
    std::iter::once(canonical).chain(other).collect()
}

fn parse_scope(scope: &str) -> Result<Scope, GuardConfigError> {
    // Refused here, so that it can reach neither a challenge nor the metadata.
    if scope == "offline_access" {
        return Err(GuardConfigError::OfflineAccess);
    }
    Scope::new(scope).map_err(|_| GuardConfigError::Scope {
        scope: scope.to_owned(),
    })
}

fn parse_scopes(scopes: &[String]) -> Result<Vec<Scope>, GuardConfigError> {
    scopes.iter().map(|scope| parse_scope(scope)).collect()
}

/// The RFC 9728 document: `resource`, `authorization_servers` = the issuer,
/// `scopes_supported`, `bearer_methods_supported: ["header"]` (the only one MCP allows).
fn metadata(
    resource: &ResourceUri,
    issuer: &str,
    supported: &ScopeSet,
    name: Option<&str>,
    dpop_required: bool,
) -> Result<ProtectedResourceMetadata, GuardConfigError> {
    // RFC 9728 §2 and RFC 9449 §7: the proof algorithms this resource verifies, and whether it
    // takes DPoP-bound tokens only.
    let mut builder = ProtectedResourceMetadata::builder(resource.as_str())
        .authorization_servers([issuer])
        .bearer_methods_supported([BearerMethod::Header])
        .dpop_signing_alg_values_supported(crate::dpop::PROOF_ALGS);
    if dpop_required {
        builder = builder.dpop_bound_access_tokens_required(true);
    }
    if !supported.is_empty() {
        builder = builder.scopes_supported(supported.iter().cloned());
    }
    if let Some(name) = name {
        builder = builder.resource_name(name);
    }
    let metadata = builder.build();
    metadata
        .validate_for_mcp()
        .map_err(|e| GuardConfigError::Metadata(e.to_string()))?;
    Ok(metadata)
}

/// The guard of one protected resource: a tower [`Layer`] that verifies bearer tokens, answers
/// challenges and enforces scopes, plus the resource's RFC 9728 metadata. Cheap to clone.
#[derive(Clone)]
pub struct Guard {
    pub(crate) shared: Arc<Shared>,
}

impl std::fmt::Debug for Guard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Guard")
            .field("issuer", &self.shared.issuer)
            .field("resource", &self.shared.resource)
            .finish_non_exhaustive()
    }
}

impl Guard {
    /// Starts a guard for the protected resource `resource` (its canonical URI, RFC 8707: the
    /// `aud` of its tokens), whose tokens come from `issuer` (the exact issuer identifier), verified
    /// as `verification` says.
    pub fn builder(
        issuer: impl Into<String>,
        resource: impl Into<String>,
        verification: Verification,
    ) -> GuardBuilder {
        GuardBuilder {
            issuer: issuer.into(),
            resource: resource.into(),
            verification,
            required_scopes: Vec::new(),
            scopes_supported: Vec::new(),
            tool_scopes: Vec::new(),
            unmapped_tools: UnmappedTools::Allow,
            filter_tools_list: true,
            leeway_secs: DEFAULT_LEEWAY_SECS,
            token_cache_capacity: DEFAULT_TOKEN_CACHE_CAPACITY,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            cors: Cors::default(),
            resource_name: None,
            revocation: None,
            jwks_cache_policy: JwksCachePolicy::default(),
            clock: None,
            session_key: None,
            body_timeout: DEFAULT_BODY_TIMEOUT,
            dpop_required: false,
            dpop_nonce_secret: None,
            dpop_replay: None,
            rate_limit: None,
            rate_limiter: None,
            audit: None,
            audit_arguments: false,
            scope_policy: gatehouse_types::policy::ScopePolicy::default(),
        }
    }

    /// The canonical resource URI.
    pub fn resource(&self) -> &ResourceUri {
        &self.shared.resource
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.shared.issuer
    }

    /// Every scope the resource knows: required, per-tool and configured.
    pub fn scopes_supported(&self) -> &ScopeSet {
        &self.shared.supported
    }

    /// The RFC 9728 metadata document.
    pub fn metadata(&self) -> &ProtectedResourceMetadata {
        &self.shared.metadata
    }

    /// Where the metadata document is served: the resource identifier with
    /// `/.well-known/oauth-protected-resource` inserted (RFC 9728 §3.1), also the
    /// `resource_metadata` of every challenge.
    pub fn metadata_url(&self) -> &str {
        &self.shared.metadata_url
    }

    /// The path of [`metadata_url`](Self::metadata_url), where
    /// [`metadata_router`](Self::metadata_router) serves it.
    pub fn metadata_path(&self) -> &str {
        &self.shared.metadata_path
    }

    /// Forgets every verified token (for instance after removing a compromised key).
    pub fn clear_cache(&self) {
        self.shared.cache.clear();
        if let Verifier::Introspection(introspector) = &self.shared.verifier {
            introspector.clear_cache();
        }
    }
}

impl<S> Layer<S> for Guard {
    type Service = GuardService<S>;

    fn layer(&self, inner: S) -> GuardService<S> {
        GuardService::new(inner, Arc::clone(&self.shared))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn rfc8707_only_the_empty_path_and_slash_are_one_resource() {
        let of = |s: &str| audiences(&ResourceUri::parse(s).unwrap());
        assert_eq!(
            of("https://Host.example"),
            ["https://host.example", "https://host.example/"]
        );
        assert_eq!(
            of("https://host.example/"),
            ["https://host.example/", "https://host.example"]
        );
        assert_eq!(of("https://host.example/mcp"), ["https://host.example/mcp"]);
        assert_eq!(
            of("https://host.example/mcp/"),
            ["https://host.example/mcp/"]
        );
        assert_eq!(of("https://host.example?x=1"), ["https://host.example?x=1"]);
    }
}
