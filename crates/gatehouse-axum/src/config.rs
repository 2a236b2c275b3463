//! The configuration file (`gatehouse serve --config gatehouse.toml`). The key names are the
//! configuration contract of `DESIGN.md`: documentation and tests rely on them. Unknown keys are
//! refused, so that a misspelt setting is an error at start and not a silent default.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use gatehouse_engine::{EngineConfig, ResourceConfig};
use gatehouse_jose::Algorithm;
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_store::DatabaseUrl;
use gatehouse_types::ScopeSet;
use serde::{Deserialize, Serialize};

/// Why a configuration was refused. Each message names the key.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// Not TOML, or not the expected shape (an unknown key, a wrong type).
    #[error("configuration: {0}")]
    Syntax(String),
    /// A value that parses but cannot be used.
    #[error("configuration: `{key}`: {reason}")]
    Value {
        /// The key, e.g. `resources[0].resource`.
        key: String,
        /// Why.
        reason: String,
    },
}

pub(crate) fn invalid(key: impl Into<String>, reason: impl ToString) -> ConfigError {
    ConfigError::Value {
        key: key.into(),
        reason: reason.to_string(),
    }
}

/// How people sign in at the authorization endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LoginMode {
    /// A sign-in page for users added with `gatehouse users add` (argon2id), then consent.
    #[default]
    Local,
    /// Every request is approved for `auto_approve_subject` without a page. Only for a loopback
    /// `http` issuer: tests and local development.
    AutoApprove,
    /// Identity providers only: no local user form. With exactly one provider offered,
    /// `/authorize` goes straight to it.
    Providers,
}

/// `unmapped_tools` of a resource: what becomes of a tool that `tool_scopes` does not name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum UnmappedTools {
    /// Callable and listed for anyone the resource admits.
    #[default]
    Allow,
    /// Neither callable nor listed: default-deny.
    Deny,
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// The issuer identifier, used byte for byte everywhere (`iss`, metadata).
    pub issuer: String,
    /// The address to listen on.
    #[serde(default = "defaults::listen", deserialize_with = "typed::listen")]
    pub listen: SocketAddr,
    /// `sqlite://…`, `postgres://…` or `memory`.
    #[serde(
        default = "defaults::database",
        deserialize_with = "typed::database",
        serialize_with = "typed::serialize_database"
    )]
    pub database: DatabaseUrl,
    /// Token lifetimes and the signing algorithm.
    #[serde(default)]
    pub tokens: Tokens,
    /// Signing keys.
    #[serde(default)]
    pub keys: Keys,
    /// Token verification at protected resources.
    #[serde(default)]
    pub guard: Guard,
    /// DPoP (RFC 9449) at the token endpoint and the protected resources.
    #[serde(default)]
    pub dpop: Dpop,
    /// Sign-in.
    #[serde(default)]
    pub login: Login,
    /// Per-endpoint rate limits.
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// What the pages show.
    #[serde(default)]
    pub branding: Branding,
    /// Client ID Metadata Documents: `https` URLs as `client_id`.
    #[serde(default)]
    pub client_id_metadata_documents: ClientDocuments,
    /// Clients the operator declares (MCP "pre-registration"), applied at every start.
    #[serde(default)]
    pub clients: Vec<DeclaredClient>,
    /// Upstream identity providers: people sign in through them, and their ID-JAGs may be
    /// accepted (SEP-990).
    #[serde(default)]
    pub identity_providers: Vec<IdentityProvider>,
    /// The protected resources; the first is the default.
    #[serde(default)]
    pub resources: Vec<Resource>,
    /// The scope matrix: who may hold which scopes through which clients. With any rule, a
    /// resource scope no rule gives the caller is never granted.
    #[serde(default)]
    pub scope_policy: Vec<ScopePolicyRule>,
    /// The audit log.
    #[serde(default)]
    pub audit: Audit,
    /// Connection limits of the HTTP server.
    #[serde(default)]
    pub http: Http,
    /// Prometheus metrics.
    #[serde(default)]
    pub metrics: Metrics,
    /// Logging.
    #[serde(default)]
    pub log: Log,
}

/// `[metrics]`: Prometheus text at `/metrics` on an address of its own.
#[derive(Debug, Clone, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Metrics {
    /// The address to serve `/metrics` on (absent: no metrics). Keep it off the public port.
    #[serde(deserialize_with = "typed::metrics_listen")]
    pub listen: Option<SocketAddr>,
}

/// `[log]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Log {
    /// `text` (for people) or `json` (one object a line, for collectors).
    pub format: LogFormat,
    /// The least severe level logged: `error`, `warn`, `info`, `debug` or `trace`, or a
    /// `tracing` filter (`info,gatehouse::audit=warn`). `RUST_LOG`, when set, wins.
    pub level: String,
}

impl Default for Log {
    fn default() -> Self {
        Self {
            format: LogFormat::Text,
            level: "info".into(),
        }
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, Default)]
#[serde(rename_all = "kebab-case")]
#[non_exhaustive]
pub enum LogFormat {
    /// Lines for people; colour only on a terminal.
    #[default]
    Text,
    /// One JSON object a line.
    Json,
}

/// `[http]`: how long clients may take, and how many connections they may hold (see
/// [`crate::serve`]).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Http {
    /// A request head must arrive whole within this, counted from when the connection is
    /// ready for one (so it is also how long a kept-alive connection waits for its next request).
    pub header_timeout_secs: u64,
    /// A connection on which no byte moves either way for this long is closed. Longer than the
    /// slowest tool call that answers nothing until it is done (the gateway waits up to 300 s).
    pub idle_timeout_secs: u64,
    /// An authorization-server request (pages, token, introspection, revocation, registration)
    /// must be read and answered within this, body included; `408` after.
    pub request_timeout_secs: u64,
    /// Connections open at once; more wait in the listen queue.
    pub max_connections: usize,
    /// Connections one address (IPv6: one /64) may hold at once; more are closed at once.
    pub max_connections_per_address: usize,
}

impl Default for Http {
    fn default() -> Self {
        Self {
            header_timeout_secs: 10,
            idle_timeout_secs: 360,
            request_timeout_secs: 30,
            max_connections: 1024,
            max_connections_per_address: 64,
        }
    }
}

/// `[audit]`: the security events kept in the store.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Audit {
    /// Events older than this many days are purged by the maintenance task.
    pub retention_days: u64,
}

impl Default for Audit {
    fn default() -> Self {
        Self { retention_days: 90 }
    }
}

/// `[client_id_metadata_documents]`: clients whose `client_id` is an `https` URL serving their
/// metadata (MCP 2025-11-25, draft-ietf-oauth-client-id-metadata-document). The server fetches
/// the document itself, so this is also a door to outbound requests: only public addresses,
/// `https`, no redirects, a 5 KiB cap and a 5 s timeout (see `documents.rs`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClientDocuments {
    /// Accept such clients and advertise `client_id_metadata_document_supported`.
    pub enabled: bool,
    /// When not empty, only documents on these hosts: `app.example.com` exactly, or
    /// `*.example.com` for its subdomains (not `example.com` itself).
    pub allowed_hosts: Vec<String>,
    /// The longest a fetched document is trusted, whatever its `Cache-Control` says.
    pub max_cache_secs: u64,
    /// DANGEROUS, for tests only: allow documents on loopback addresses. Refused unless the issuer
    /// is a loopback `http` URL.
    pub dangerous_allow_loopback: bool,
    /// DANGEROUS, for tests only: a PEM file of one more trusted root certificate for fetching
    /// documents. Refused unless the issuer is a loopback `http` URL.
    pub dangerous_extra_root_certificate: Option<String>,
}

impl Default for ClientDocuments {
    fn default() -> Self {
        Self {
            enabled: true,
            allowed_hosts: Vec::new(),
            max_cache_secs: 86_400,
            dangerous_allow_loopback: false,
            dangerous_extra_root_certificate: None,
        }
    }
}

/// `[tokens]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tokens {
    /// Access token lifetime.
    pub access_ttl_secs: u64,
    /// Refresh token lifetime.
    pub refresh_ttl_secs: u64,
    /// Authorization code lifetime (at most 600).
    pub code_ttl_secs: u64,
    /// Replay window of a rotated refresh token (at most 60).
    pub refresh_reuse_grace_secs: u64,
    /// How many token exchanges (RFC 8693) may be chained: nested `act` claims.
    pub max_delegation_depth: usize,
    /// `ES256`, `EdDSA`, `RS256` or `PS256`.
    #[serde(deserialize_with = "typed::signing_alg")]
    pub signing_alg: Algorithm,
}

impl Default for Tokens {
    fn default() -> Self {
        Self {
            access_ttl_secs: 600,
            refresh_ttl_secs: 2_592_000,
            code_ttl_secs: 600,
            refresh_reuse_grace_secs: 10,
            max_delegation_depth: 3,
            signing_alg: Algorithm::Es256,
        }
    }
}

/// `[keys]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Keys {
    /// Days between scheduled signing-key rotations.
    pub rotation_days: u64,
    /// The environment variable holding the key that encrypts private keys at rest.
    pub encryption_key_env: String,
}

impl Default for Keys {
    fn default() -> Self {
        Self {
            rotation_days: 30,
            encryption_key_env: "GATEHOUSE_SECRET_KEY".into(),
        }
    }
}

/// `[guard]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Guard {
    /// Clock skew allowed on `exp`/`nbf`/`iat`.
    pub leeway_secs: u64,
}

impl Default for Guard {
    fn default() -> Self {
        Self { leeway_secs: 5 }
    }
}

/// `[dpop]`: sender-constrained tokens (RFC 9449). A request with a proof always gets a bound
/// token; these settings make proofs required and nonces part of them.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dpop {
    /// Every token request must carry a proof, and the resources accept DPoP-bound tokens only.
    pub required: bool,
    /// Proofs must carry a server nonce (RFC 9449 §8 at the token endpoint, §9 at the
    /// resources), derived from the encryption key so that every instance agrees.
    pub nonces: bool,
    /// How often the nonces change; a nonce is accepted during its step and the next.
    pub nonce_step_secs: u64,
}

impl Default for Dpop {
    fn default() -> Self {
        Self {
            required: false,
            nonces: false,
            nonce_step_secs: 300,
        }
    }
}

/// `[login]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Login {
    /// `local`, `providers` or `auto-approve`.
    pub mode: LoginMode,
    /// The subject of `auto-approve`.
    pub auto_approve_subject: String,
    /// Failed sign-ins in a row after which an account can be tried again only after a delay
    /// (30 s, doubling up to 15 min; NIST SP 800-63B §5.2.2).
    pub throttle_after_failures: u32,
}

impl Default for Login {
    fn default() -> Self {
        Self {
            mode: LoginMode::Local,
            auto_approve_subject: "dev".into(),
            throttle_after_failures: 5,
        }
    }
}

/// `[rate_limits]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Whether requests are limited at all.
    pub enabled: bool,
    /// The authorization endpoint and the sign-in forms, per address.
    pub authorize_per_min: u32,
    /// The token endpoint, per claimed client and address.
    pub token_per_min: u32,
    /// The introspection endpoint, per claimed client and address.
    pub introspect_per_min: u32,
    /// The revocation endpoint, per claimed client and address.
    pub revoke_per_min: u32,
    /// Dynamic client registrations (`POST /register`) per address: each one stores what an
    /// anonymous request sent.
    pub register_per_min: u32,
    /// Every other limited endpoint, per address.
    pub other_per_min: u32,
    /// Requests to the token, introspection and revocation endpoints per address, whatever
    /// client they claim to be (the per-endpoint limits above are per claimed client).
    pub address_per_min: u32,
    /// Key anonymous requests by the left-most `X-Forwarded-For` address instead of the peer's.
    /// Only behind a reverse proxy that sets (overwrites) that header: otherwise any client could
    /// choose its own key.
    pub trust_forwarded_for: bool,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            enabled: true,
            authorize_per_min: 10,
            token_per_min: 20,
            introspect_per_min: 30,
            revoke_per_min: 20,
            register_per_min: 10,
            other_per_min: 100,
            address_per_min: 120,
            trust_forwarded_for: false,
        }
    }
}

/// `[branding]`: shown on the sign-in and consent pages.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Branding {
    /// The name people see.
    pub application_name: String,
    /// An https URL of a logo.
    pub logo_uri: Option<String>,
    /// An https URL of the privacy policy.
    pub privacy_uri: Option<String>,
    /// An https URL of the terms of service.
    pub terms_uri: Option<String>,
}

impl Default for Branding {
    fn default() -> Self {
        Self {
            application_name: "Gatehouse".into(),
            logo_uri: None,
            privacy_uri: None,
            terms_uri: None,
        }
    }
}

/// `[[clients]]`: a client the operator declares (MCP "pre-registration"). Applied at every
/// start: added if new, updated if changed; a declaration that disappears is reported, and the
/// client kept until `gatehouse clients delete`. See `docs/clients.md`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DeclaredClient {
    /// The client's id (not an `https` URL: those name metadata documents).
    pub client_id: String,
    /// Shown on the consent page.
    #[serde(default)]
    pub client_name: Option<String>,
    /// `none`, `client_secret_basic` (the default), `client_secret_post` or `private_key_jwt`.
    #[serde(default = "defaults::client_auth")]
    pub token_endpoint_auth_method: String,
    /// The environment variable holding the client secret (secret methods): at least 32
    /// characters, stored only as a hash.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// `private_key_jwt`: the URL of the client's JWK Set (fetched like metadata documents).
    #[serde(default)]
    pub jwks_uri: Option<String>,
    /// `private_key_jwt`: the client's JWK Set of public keys, as a JSON string.
    #[serde(default)]
    pub jwks: Option<String>,
    /// Redirect URIs, required with `authorization_code`.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// RFC 7591 grant types: `authorization_code`, `refresh_token`, `client_credentials`.
    #[serde(default = "defaults::client_grants")]
    pub grant_types: Vec<String>,
    /// The most this client may be granted (space-separated scopes).
    #[serde(default)]
    pub scope: Option<String>,
    /// Resources of this server whose tokens the client may introspect (RFC 7662 §4): it is
    /// their resource server.
    #[serde(default)]
    pub introspection_resources: Vec<String>,
    /// Every token request of the client must carry a DPoP proof (RFC 9449 §5.2:
    /// `dpop_bound_access_tokens`).
    #[serde(default)]
    pub dpop_bound_access_tokens: bool,
}

/// `[[identity_providers]]`: an organisation's identity provider. People sign in through it
/// (`docs/federation.md`), and its Identity Assertion JWT Authorization Grants may be accepted
/// (ID-JAG: MCP's Enterprise-Managed Authorization, SEP-990; `docs/clients.md`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct IdentityProvider {
    /// `[a-z0-9-]{1,32}`: the prefix of the subjects it vouches for (`{id}:{sub}`), and the
    /// path of its callback (`{issuer}/login/{id}/callback`).
    pub id: String,
    /// `oidc` (endpoints and keys by OpenID Connect Discovery at
    /// `{issuer}/.well-known/openid-configuration`), `oauth2` (endpoints given here, the person
    /// named by the userinfo answer) or `github` (GitHub's OAuth app endpoints and its `/user`
    /// API).
    #[serde(default = "defaults::oidc")]
    pub kind: String,
    /// Its issuer identifier, exactly as its ID tokens and ID-JAGs carry it in `iss`. Required
    /// for `oidc`; for `oauth2` optional (when given, the callback's RFC 9207 `iss` is
    /// checked); not used for `github`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// The client id Gatehouse was registered with there. Needed to sign people in.
    #[serde(default)]
    pub client_id: Option<String>,
    /// The environment variable holding the client secret (secrets never live in the file).
    /// Absent: Gatehouse is a public client there, protected by PKCE alone.
    #[serde(default)]
    pub client_secret_env: Option<String>,
    /// The scopes asked for. Default: `openid email profile` for `oidc`, `read:user user:email`
    /// for `github`, none for `oauth2`.
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
    /// The button's text on the sign-in page. Default: the id.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The claim that names the person (ID token, else userinfo). Default: `sub` (`id` for
    /// `github`).
    #[serde(default)]
    pub subject_claim: Option<String>,
    /// Non-empty: only people with a verified email in one of these domains may sign in.
    #[serde(default)]
    pub allowed_email_domains: Vec<String>,
    /// The claim listing the person's groups or roles (ID token, else userinfo). Default:
    /// `groups`.
    #[serde(default)]
    pub groups_claim: Option<String>,
    /// Non-empty: only people in at least one of these groups may sign in.
    #[serde(default)]
    pub allowed_groups: Vec<String>,
    /// Offered on the sign-in page. Default: true when `client_id` is set.
    #[serde(default)]
    pub sign_in: Option<bool>,
    /// Keep the provider's access and refresh tokens, sealed at rest and refreshed when needed,
    /// for downstream calls (a gateway's `forward_upstream_token`, the token exchange with
    /// `audience=upstream:{id}`).
    #[serde(default)]
    pub keep_tokens: bool,
    /// Accept its ID-JAGs at `/token` (`urn:ietf:params:oauth:grant-type:jwt-bearer`).
    #[serde(default)]
    pub accept_id_jag: bool,
    /// `oauth2`: its authorization endpoint.
    #[serde(default)]
    pub authorization_endpoint: Option<String>,
    /// `oauth2`: its token endpoint.
    #[serde(default)]
    pub token_endpoint: Option<String>,
    /// `oauth2`: its userinfo endpoint (a JSON object naming the person).
    #[serde(default)]
    pub userinfo_endpoint: Option<String>,
    /// More parameters for its authorization request, such as Google's `hd` or Entra ID's
    /// `domain_hint`. The protocol's own parameters cannot be set here.
    #[serde(default)]
    pub authorization_params: std::collections::BTreeMap<String, String>,
}

impl IdentityProvider {
    /// Whether people sign in through it.
    pub fn signs_in(&self) -> bool {
        self.sign_in.unwrap_or(self.client_id.is_some())
    }

    /// What the sign-in page calls it.
    pub fn label(&self) -> &str {
        self.display_name.as_deref().unwrap_or(&self.id)
    }
}

/// One `[[resources]]` entry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Resource {
    /// The canonical resource URI: the `aud` of its tokens.
    pub resource: String,
    /// The scopes it understands.
    #[serde(default)]
    pub scopes_supported: Vec<String>,
    /// Scopes every request needs (enforced by the guard).
    #[serde(default)]
    pub required_scopes: Vec<String>,
    /// The scopes granted when a request names none it understands (default: all supported).
    #[serde(default)]
    pub default_scopes: Option<Vec<String>>,
    /// What the consent page says each scope allows.
    #[serde(default)]
    pub scope_descriptions: BTreeMap<String, String>,
    /// Gateway mode: the MCP server to proxy to.
    #[serde(default)]
    pub upstream: Option<String>,
    /// Gateway mode: the upstream receives the caller's fresh access token at this identity
    /// provider (one with `keep_tokens`) in `X-Gatehouse-Upstream-Token`.
    #[serde(default)]
    pub forward_upstream_token: Option<String>,
    /// The built-in demo MCP server instead of an upstream.
    #[serde(default)]
    pub builtin: Option<String>,
    /// Tool name → required scope.
    #[serde(default)]
    pub tool_scopes: BTreeMap<String, String>,
    /// Whether `tools/list` answers show only the tools the caller's scopes allow (with
    /// `tool_scopes`).
    #[serde(default = "defaults::yes")]
    pub filter_tools_list: bool,
    /// `"deny"`: a tool with no entry in `tool_scopes` can be neither called nor listed.
    #[serde(default)]
    pub unmapped_tools: UnmappedTools,
    /// Requests a minute per caller (client and subject); every authenticated request counts,
    /// 429 with `Retry-After` past it. Shared by the instances of one PostgreSQL store.
    #[serde(default)]
    pub rate_limit_per_min: Option<u32>,
    /// Whether the audit keeps the arguments of tool calls (bounded). Off: they are what people
    /// type into agents.
    #[serde(default)]
    pub audit_arguments: bool,
}

/// One rule of `[[scope_policy]]`: these subjects or members of these groups, through these
/// clients, may hold these scopes.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScopePolicyRule {
    /// `sub` values (local user names, `{provider}:{subject}`, a machine client's id); absent or
    /// `["*"]`: anyone (unless `groups` is given: then only those named here or members).
    #[serde(default)]
    pub subjects: Option<Vec<String>>,
    /// Groups (or roles) from an identity provider's groups claim at the person's last sign-in.
    #[serde(default)]
    pub groups: Vec<String>,
    /// Client ids; absent or `["*"]`: any client.
    #[serde(default)]
    pub clients: Option<Vec<String>>,
    /// The scopes they may hold (each among some resource's `scopes_supported`).
    pub scopes: Vec<String>,
}

mod defaults {
    pub(super) fn yes() -> bool {
        true
    }
    pub(super) fn oidc() -> String {
        "oidc".into()
    }
    pub(super) fn client_auth() -> String {
        "client_secret_basic".into()
    }
    pub(super) fn client_grants() -> Vec<String> {
        vec!["authorization_code".into(), "refresh_token".into()]
    }
    pub(super) fn listen() -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], 8080))
    }
    pub(super) fn database() -> gatehouse_store::DatabaseUrl {
        gatehouse_store::DatabaseUrl::Sqlite("gatehouse.db".into())
    }
}

/// The values parsed as the file is read, so that the rest of the server holds a socket address,
/// a database URL and an algorithm, never a string to parse again. Each refusal names its key
/// (TOML's own error adds the line and column).
mod typed {
    use std::net::SocketAddr;

    use gatehouse_jose::Algorithm;
    use gatehouse_store::DatabaseUrl;
    use serde::de::Error as _;
    use serde::{Deserialize, Deserializer, Serializer};

    fn text<'de, D: Deserializer<'de>>(d: D) -> Result<std::borrow::Cow<'de, str>, D::Error> {
        std::borrow::Cow::<'de, str>::deserialize(d)
    }

    fn address<E: serde::de::Error>(
        key: &str,
        value: &str,
        example: &str,
    ) -> Result<SocketAddr, E> {
        value
            .parse()
            .map_err(|e| E::custom(format!("`{key}`: {e} (expected e.g. {example})")))
    }

    pub(super) fn listen<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
        address("listen", &text(d)?, "127.0.0.1:8080")
    }

    pub(super) fn metrics_listen<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<Option<SocketAddr>, D::Error> {
        address("metrics.listen", &text(d)?, "127.0.0.1:9090").map(Some)
    }

    pub(super) fn database<'de, D: Deserializer<'de>>(d: D) -> Result<DatabaseUrl, D::Error> {
        // The error names `database` itself.
        DatabaseUrl::parse(&text(d)?).map_err(D::Error::custom)
    }

    /// Written with the password replaced (`DatabaseUrl`'s `Debug`): a serialized configuration
    /// is for showing, and must not carry the secret.
    pub(super) fn serialize_database<S: Serializer>(
        url: &DatabaseUrl,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_str(&format_args!("{url:?}"))
    }

    pub(super) fn signing_alg<'de, D: Deserializer<'de>>(d: D) -> Result<Algorithm, D::Error> {
        let name = text(d)?;
        name.parse().map_err(|_| {
            D::Error::custom(format!(
                "`tokens.signing_alg`: {:?} is not one of ES256, EdDSA, RS256, PS256",
                name.chars().take(32).collect::<String>()
            ))
        })
    }
}

impl Config {
    /// Parses and checks a configuration file's text.
    pub fn from_toml(text: &str) -> Result<Self, ConfigError> {
        let config: Self = toml::from_str(text).map_err(|e| ConfigError::Syntax(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// The `--demo` configuration: a loopback issuer on `listen`, the SQLite file
    /// `gatehouse-demo.db` in the working directory, local sign-in, and one protected resource,
    /// `/mcp`, with the scopes `mcp:tools` and `mcp:admin`.
    pub fn demo(listen: SocketAddr) -> Self {
        let origin = format!("http://{listen}");
        let descriptions = [
            ("mcp:tools", "Use the tools of this MCP server"),
            ("mcp:admin", "Run administrative tools, such as admin_reset"),
        ];
        Self {
            issuer: origin.clone(),
            listen,
            database: DatabaseUrl::Sqlite("gatehouse-demo.db".into()),
            tokens: Tokens::default(),
            keys: Keys::default(),
            guard: Guard::default(),
            dpop: Dpop::default(),
            login: Login::default(),
            rate_limits: RateLimits::default(),
            branding: Branding {
                application_name: "Gatehouse demo".into(),
                ..Branding::default()
            },
            client_id_metadata_documents: ClientDocuments::default(),
            clients: Vec::new(),
            identity_providers: Vec::new(),
            scope_policy: Vec::new(),
            resources: vec![Resource {
                resource: format!("{origin}/mcp"),
                scopes_supported: vec!["mcp:tools".into(), "mcp:admin".into()],
                required_scopes: vec!["mcp:tools".into()],
                default_scopes: Some(vec!["mcp:tools".into()]),
                scope_descriptions: descriptions
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
                upstream: None,
                forward_upstream_token: None,
                builtin: Some("demo".into()),
                tool_scopes: [("admin_reset".to_owned(), "mcp:admin".to_owned())]
                    .into_iter()
                    .collect(),
                filter_tools_list: true,
                unmapped_tools: UnmappedTools::Allow,
                rate_limit_per_min: None,
                audit_arguments: false,
            }],
            audit: Audit::default(),
            http: Http::default(),
            metrics: Metrics::default(),
            log: Log::default(),
        }
    }

    /// Checks everything that parsing alone does not.
    pub fn validate(&self) -> Result<(), ConfigError> {
        gatehouse_types::uri::check_issuer_url(&self.issuer).map_err(|e| invalid("issuer", e))?;
        if self.login.mode == LoginMode::AutoApprove && !self.issuer_is_loopback_http() {
            return Err(invalid(
                "login.mode",
                "\"auto-approve\" signs everyone in without a page; it is refused unless the issuer is a loopback http URL (http://127.0.0.1:…, http://[::1]:… or http://localhost:…)",
            ));
        }
        for (key, value) in [
            ("http.header_timeout_secs", self.http.header_timeout_secs),
            ("http.idle_timeout_secs", self.http.idle_timeout_secs),
            ("http.request_timeout_secs", self.http.request_timeout_secs),
        ] {
            if value == 0 {
                return Err(invalid(key, "must be at least 1 second"));
            }
        }
        if !(10..=3_600).contains(&self.dpop.nonce_step_secs) {
            return Err(invalid(
                "dpop.nonce_step_secs",
                "must be between 10 and 3600 seconds",
            ));
        }
        if self.http.max_connections_per_address == 0 {
            return Err(invalid(
                "http.max_connections_per_address",
                "must be at least 1",
            ));
        }
        if self.http.max_connections == 0 || self.http.max_connections > 1_000_000 {
            return Err(invalid(
                "http.max_connections",
                "must be between 1 and 1000000",
            ));
        }
        if self
            .metrics
            .listen
            .is_some_and(|metrics| metrics.port() == self.listen.port())
        {
            return Err(invalid(
                "metrics.listen",
                "must not be the public listen port: metrics are for operators only",
            ));
        }
        if tracing_level_is_invalid(&self.log.level) {
            return Err(invalid(
                "log.level",
                format!(
                    "{:?} is not a level (error, warn, info, debug, trace) or a tracing filter",
                    self.log.level
                ),
            ));
        }
        if self.audit.retention_days == 0 {
            return Err(invalid(
                "audit.retention_days",
                "must be at least 1 (an audit log kept for no day is no audit log)",
            ));
        }
        if self.keys.rotation_days == 0 {
            return Err(invalid("keys.rotation_days", "must be at least 1"));
        }
        if self.login.throttle_after_failures == 0 {
            return Err(invalid(
                "login.throttle_after_failures",
                "must be at least 1",
            ));
        }
        if self.login.auto_approve_subject.is_empty() {
            return Err(invalid("login.auto_approve_subject", "must not be empty"));
        }
        if self.branding.application_name.trim().is_empty() {
            return Err(invalid("branding.application_name", "must not be empty"));
        }
        for (key, uri) in [
            ("branding.logo_uri", &self.branding.logo_uri),
            ("branding.privacy_uri", &self.branding.privacy_uri),
            ("branding.terms_uri", &self.branding.terms_uri),
        ] {
            if let Some(uri) = uri {
                gatehouse_types::uri::check_page_url(uri).map_err(|e| invalid(key, e))?;
            }
        }
        let documents = &self.client_id_metadata_documents;
        for (key, dangerous) in [
            (
                "client_id_metadata_documents.dangerous_allow_loopback",
                documents.dangerous_allow_loopback,
            ),
            (
                "client_id_metadata_documents.dangerous_extra_root_certificate",
                documents.dangerous_extra_root_certificate.is_some(),
            ),
        ] {
            if dangerous && !self.issuer_is_loopback_http() {
                return Err(invalid(
                    key,
                    "is a test setting that opens the server to requests it must refuse in production; it is refused unless the issuer is a loopback http URL",
                ));
            }
        }
        for host in &documents.allowed_hosts {
            let name = host.strip_prefix("*.").unwrap_or(host);
            if name.is_empty()
                || name.contains('*')
                || !name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            {
                return Err(invalid(
                    "client_id_metadata_documents.allowed_hosts",
                    format!("{host:?} is not a host name or `*.` followed by one"),
                ));
            }
        }
        self.engine_config()
            .and_then(|engine| engine.validate().map_err(|e| invalid("tokens", e)))?;
        crate::declared::check(self)?;
        crate::federation::check(self)?;
        Ok(())
    }

    /// The issuer's path without a trailing slash (`""` for an origin): where the endpoints
    /// live (`https://host/tenant/` → `/tenant`).
    pub fn issuer_path(&self) -> &str {
        gatehouse_types::uri::split(&self.issuer)
            .map_or("", |components| components.path)
            .trim_end_matches('/')
    }

    /// Whether the issuer is `http` on a loopback host (a development setup).
    pub fn issuer_is_loopback_http(&self) -> bool {
        gatehouse_types::uri::split(&self.issuer)
            .filter(|components| components.scheme == "http")
            .and_then(|components| components.authority)
            .map(gatehouse_types::uri::split_authority)
            .is_some_and(|authority| gatehouse_types::uri::is_loopback_host(authority.host))
    }

    /// The engine's part of the configuration.
    pub fn engine_config(&self) -> Result<EngineConfig, ConfigError> {
        let mut resources = Vec::new();
        for (i, entry) in self.resources.iter().enumerate() {
            let key = |field: &str| format!("resources[{i}].{field}");
            let resource =
                ResourceUri::parse(&entry.resource).map_err(|e| invalid(key("resource"), e))?;
            let scopes = |field: &str, list: &[String]| {
                ScopeSet::parse(&list.join(" ")).map_err(|e| invalid(key(field), e))
            };
            let supported = scopes("scopes_supported", &entry.scopes_supported)?;
            // MCP 2026-07-28, authorization, "Refresh Tokens": refresh tokens "are not a
            // resource requirement"; a resource never names offline_access.
            if supported.contains_str("offline_access") {
                return Err(invalid(
                    key("scopes_supported"),
                    "offline_access is the authorization server's (refresh tokens), not a resource's scope",
                ));
            }
            if entry.rate_limit_per_min == Some(0) {
                return Err(invalid(
                    key("rate_limit_per_min"),
                    "must be at least 1 (leave it out for no limit)",
                ));
            }
            let required = scopes("required_scopes", &entry.required_scopes)?;
            if !required.is_subset(&supported) {
                return Err(invalid(
                    key("required_scopes"),
                    "must be among scopes_supported",
                ));
            }
            if entry.upstream.is_some() && entry.builtin.is_some() {
                return Err(invalid(
                    key("builtin"),
                    "give `upstream` or `builtin`, not both",
                ));
            }
            // Which names exist is the program's to say (`Extensions::builtins`, and `demo` with
            // its feature): `resources::build` refuses a name it does not have.
            // A tool's scope must be one the server grants, or the guard's step-up challenge
            // would send clients after a scope they can never get.
            if let Some((tool, scope)) = entry
                .tool_scopes
                .iter()
                .find(|(_, scope)| !supported.contains_str(scope))
            {
                return Err(invalid(
                    key("tool_scopes"),
                    format!("{tool} = {scope:?}: the scope must be among scopes_supported"),
                ));
            }
            let mut config = ResourceConfig::new(resource, supported);
            if let Some(defaults) = &entry.default_scopes {
                config = config.with_default_scopes(scopes("default_scopes", defaults)?);
            }
            resources.push(config);
        }
        let mut engine = EngineConfig::new(self.issuer.clone(), resources)
            .map_err(|e| invalid("resources", e))?;
        engine.access_ttl_secs = self.tokens.access_ttl_secs;
        engine.refresh_ttl_secs = self.tokens.refresh_ttl_secs;
        engine.code_ttl_secs = self.tokens.code_ttl_secs;
        engine.refresh_reuse_grace_secs = self.tokens.refresh_reuse_grace_secs;
        engine.max_delegation_depth = self.tokens.max_delegation_depth;
        // The nonces need the encryption key; `Gatehouse::open` adds them.
        engine.dpop.required = self.dpop.required;
        engine.scope_policy = self.scope_policy()?;
        Ok(engine)
    }

    /// The scope matrix of `[[scope_policy]]`, over every resource's scopes: what the token
    /// endpoint, the consent page and the guards of this server all ask.
    pub fn scope_policy(&self) -> Result<gatehouse_types::policy::ScopePolicy, ConfigError> {
        use gatehouse_types::policy::{Names, ScopePolicy, ScopeRule};
        let mut governed = ScopeSet::new();
        for (i, resource) in self.resources.iter().enumerate() {
            let supported = ScopeSet::parse(&resource.scopes_supported.join(" "))
                .map_err(|e| invalid(format!("resources[{i}].scopes_supported"), e))?;
            for scope in &supported {
                governed.insert(scope.clone());
            }
        }
        let mut rules = Vec::new();
        for (i, rule) in self.scope_policy.iter().enumerate() {
            let key = |field: &str| format!("scope_policy[{i}].{field}");
            let scopes =
                ScopeSet::parse(&rule.scopes.join(" ")).map_err(|e| invalid(key("scopes"), e))?;
            if scopes.is_empty() {
                return Err(invalid(key("scopes"), "a rule gives at least one scope"));
            }
            if let Some(unknown) = scopes.iter().find(|scope| !governed.contains(scope)) {
                return Err(invalid(
                    key("scopes"),
                    format!("{unknown} is not among any resource's scopes_supported"),
                ));
            }
            for (field, names) in [("subjects", &rule.subjects), ("clients", &rule.clients)] {
                // `["alice", "*"]` would mean anyone: a typo that opens everything, refused.
                if names.as_ref().is_some_and(|names| {
                    names.is_empty()
                        || names.iter().any(String::is_empty)
                        || (names.len() > 1 && names.iter().any(|name| name == "*"))
                }) {
                    return Err(invalid(
                        key(field),
                        "name at least one, none empty, and \"*\" alone (leave the key out, or [\"*\"], for anyone)",
                    ));
                }
            }
            // Groups named and no subjects: members only, not everyone.
            let subjects = match (&rule.subjects, rule.groups.is_empty()) {
                (None, false) => Names::Only(Vec::new()),
                (subjects, _) => Names::from_list(subjects.clone()),
            };
            if rule.groups.iter().any(|g| g.is_empty() || g == "*") {
                return Err(invalid(
                    key("groups"),
                    "a group is named by its name; for everyone, leave subjects and groups out",
                ));
            }
            // Groups are their provider's: `corp:on-call`; a bare name when one provider signs
            // people in is that provider's.
            let signing: Vec<&str> = self
                .identity_providers
                .iter()
                .filter(|p| p.signs_in())
                .map(|p| p.id.as_str())
                .collect();
            let mut groups = Vec::new();
            for group in &rule.groups {
                let qualified = match group.split_once(':') {
                    Some((provider, _)) if signing.contains(&provider) => group.clone(),
                    _ => match signing.as_slice() {
                        [only] => format!("{only}:{group}"),
                        _ => {
                            return Err(invalid(
                                key("groups"),
                                format!(
                                    "name the identity provider of {group:?}, as {{id}}:{group} (one of {})",
                                    signing.join(", ")
                                ),
                            ));
                        }
                    },
                };
                groups.push(qualified);
            }
            rules.push(ScopeRule {
                subjects,
                groups,
                clients: Names::from_list(rule.clients.clone()),
                scopes,
            });
        }
        Ok(ScopePolicy::new(rules, governed))
    }

    /// What the consent page says `scope` allows.
    pub fn scope_description(&self, scope: &str) -> Option<&str> {
        self.resources
            .iter()
            .find_map(|r| r.scope_descriptions.get(scope).map(String::as_str))
    }
}

/// Whether `level` is not a `tracing` filter directive list.
fn tracing_level_is_invalid(level: &str) -> bool {
    level.trim().is_empty()
        || !level.split(',').all(|directive| {
            let directive = directive.trim();
            let level = directive.rsplit_once('=').map_or(directive, |(_, l)| l);
            matches!(
                level.to_ascii_lowercase().as_str(),
                "error" | "warn" | "info" | "debug" | "trace" | "off"
            )
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn endpoints_live_under_the_issuer_path() {
        let path = |issuer: &str| {
            let mut config = super::Config::demo("127.0.0.1:8080".parse().unwrap());
            config.issuer = issuer.to_owned();
            config.issuer_path().to_owned()
        };
        assert_eq!(path("https://auth.example.com"), "");
        assert_eq!(path("https://auth.example.com/"), "");
        assert_eq!(path("https://example.com/tenant/a"), "/tenant/a");
        assert_eq!(path("https://example.com/tenant/"), "/tenant");
        assert_eq!(path("http://127.0.0.1:8080"), "");
    }
}
