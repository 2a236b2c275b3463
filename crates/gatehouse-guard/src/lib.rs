//! The resource-server side of Gatehouse: protect an MCP server with OAuth 2.1 in a few lines.
//!
//! A [`Guard`] is a tower [`Layer`](tower::Layer) for one protected resource. For every request
//! it:
//!
//! - takes the bearer token from the `Authorization` header only (a token in the query string
//!   or a form body is refused, as MCP and OAuth 2.1 require);
//! - verifies it: as an RFC 9068 JWT with keys from a [`KeySource`] (the issuer's JWKS,
//!   discovered through RFC 8414 and cached; or keys shared by an authorization server in the
//!   same process), or by RFC 7662 introspection. `typ` must be `at+jwt`, `iss` the issuer
//!   exactly, `aud` this resource (RFC 8707), `exp`/`nbf` within a leeway;
//! - remembers verified tokens by their SHA-256, so that a session pays for the signature once;
//! - asks a [`RevocationCheck`] on every request, cached or not;
//! - checks the resource's required scopes and, for MCP `tools/call`, per-tool scopes, and can
//!   filter `tools/list` responses to the tools the caller may call;
//! - refuses with the challenges MCP clients parse (RFC 6750 §3, RFC 9728 §5.1): `401` with
//!   `resource_metadata`, `403 insufficient_scope` with the `scope` to step up to;
//! - puts the verified [`Principal`] into the request's extensions, where handlers take it as
//!   an axum extractor.
//!
//! [`Guard::metadata_router`] serves the RFC 9728 document that challenges point to; CORS lets
//! browser-based clients in ([`Cors`]).
//!
//! ```no_run
//! use axum::{Router, routing::post};
//! use gatehouse_guard::{Guard, Principal, Verification};
//!
//! async fn mcp(principal: Principal, body: String) -> String {
//!     format!("hello {}, you sent {} bytes", principal.subject(), body.len())
//! }
//!
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let guard = Guard::builder(
//!     "https://auth.example.com",
//!     "https://mcp.example.com/mcp",
//!     Verification::discovered_jwks(),
//! )
//! .required_scopes(["mcp:tools"])
//! .tool_scope("delete_file", "files:write")
//! .build()?;
//!
//! let app = Router::new()
//!     .route("/mcp", post(mcp))
//!     .route_layer(guard.clone())
//!     .merge(guard.metadata_router());
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:3000").await?;
//! axum::serve(listener, app).await?;
//! # Ok(())
//! # }
//! ```
//!
//! # Choices worth knowing
//!
//! - A failure to decide (JWKS or introspection endpoint unreachable, revocation hook failing)
//!   is `503` with `Retry-After`, never `401`: the client's token may be fine.
//! - With per-tool scopes configured, every non-empty POST body is read as JSON-RPC (at most
//!   [`DEFAULT_MAX_BODY_BYTES`] by default, `413` beyond); a body the guard cannot read, or
//!   with a member repeated, is refused rather than passed on unchecked.
//! - The `insufficient_scope` challenge's `scope` is the union of the resource's required
//!   scopes, the scope the operation needs and the token's scopes this resource knows, so a
//!   client stepping up keeps what it had.

#![forbid(unsafe_code)]

mod audit;
mod bearer;
mod cache;
mod cors;
mod dpop;
mod error;
mod fetch;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod guard;
mod introspection;
mod keys;
mod metadata;
mod principal;
mod rate_limit;
mod rejection;
mod remote_jwks;
mod request_headers;
mod revocation;
mod service;
mod sessions;
mod shared;
pub mod sse;
mod tools;
mod tools_list;
mod verify;

pub use audit::{AuditedCall, CallAudit, CallDecision, MAX_ARGUMENT_BYTES};
pub use cors::Cors;
pub use dpop::{MemoryProofReplay, ProofReplayCheck};
pub use error::{
    GuardConfigError, KeySourceError, RateLimitError, ReplayCheckError, RevocationCheckError,
};
pub use guard::{
    DEFAULT_BODY_TIMEOUT, DEFAULT_MAX_BODY_BYTES, DEFAULT_TOKEN_CACHE_CAPACITY, Guard,
    GuardBuilder, Verification,
};
pub use introspection::IntrospectionClient;
pub use keys::{KeySource, SharedKeys, StaticKeys};
pub use principal::{Principal, PrincipalRejection};
pub use rate_limit::{MemoryRateLimiter, RateLimiter};
pub use remote_jwks::{JwksCachePolicy, RemoteJwks};
pub use revocation::RevocationCheck;
pub use service::GuardService;
pub use tools::UnmappedTools;

/// Re-exported so that hosts can name keys without depending on `gatehouse-jose`.
pub use gatehouse_jose::KeySet;
/// Re-exported for [`IntrospectionClient::new`].
pub use gatehouse_types::SecretString;
