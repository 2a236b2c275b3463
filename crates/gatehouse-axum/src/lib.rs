//! The Gatehouse authorization server as an axum [`Router`](axum::Router): every endpoint of
//! the wire contract in `DESIGN.md`, the sign-in and consent pages, on top of the sans-IO engine
//! (`gatehouse-engine`) and a store (`gatehouse-store`).
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use gatehouse_axum::{Config, Gatehouse};
//! let config = Config::from_toml(&std::fs::read_to_string("gatehouse.toml")?)?;
//! let gatehouse = Gatehouse::start(config).await?;
//! let listener = tokio::net::TcpListener::bind(gatehouse.config().listen).await?;
//! // Header, idle and request timeouts and a connection cap (`[http]`), TCP_NODELAY, the peer's
//! // address for rate limits; until Ctrl-C.
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! gatehouse_axum::serve(listener, gatehouse.router(), &gatehouse.config().http, shutdown).await?;
//! // The audit is written in the background: what is still queued goes into the store now.
//! let wait = std::time::Duration::from_secs(10);
//! let _ = tokio::time::timeout(wait, gatehouse.flush_audit()).await;
//! # Ok(()) }
//! ```
//!
//! Handlers only move data: HTTP in, engine decision, HTTP out. Every OAuth rule lives in the
//! engine and is tested there; this crate adds what only HTTP has: content types, status codes,
//! headers (`Cache-Control: no-store`, `WWW-Authenticate`), cookies, CSRF, CORS, rate limits and
//! pages.

// Helpers return `Result<_, Response>` so a handler can `?`/early-return a finished refusal:
// axum's idiom. A response is built once per request; its size does not matter.
#![allow(clippy::result_large_err)]

mod authenticator;
mod authorize;
mod builtin;
mod clients;
mod clock;
pub mod config;
mod connected;
mod cors;
mod declared;
#[cfg(feature = "demo")]
mod demo_mcp;
mod discovery;
mod documents;
mod drain;
pub mod drift;
mod events;
mod federation;
#[cfg(fuzzing)]
#[doc(hidden)]
pub mod fuzzing;
mod gatehouse;
mod gateway;
mod health;
mod id_jag;
mod keys;
mod limits;
mod management;
pub mod metrics;
mod outbound;
mod pages;
mod registration;
mod request_id;
mod resources;
mod respond;
mod router;
mod server;
mod session;
mod signin;
mod signing;
mod state;
mod throttle;
mod token;

pub use authenticator::{Authenticator, BoxFuture};
pub use builtin::BuiltinServer;
pub use clock::now;
pub use config::{Config, ConfigError, LoginMode};
pub use declared::{entry_of, new_client_id, provision};
pub use documents::DocumentSetupError;
pub use events::{Event, Hook};
pub use federation::{FederationSetupError, UpstreamTokenError, UpstreamTokens};
pub use gatehouse::{Extensions, Gatehouse, StartError, check_config, open_vault};
/// The resource-server side, re-exported for programs that mount their own servers.
pub use gatehouse_guard;
pub use gateway::{IDENTITY_HEADER_PREFIX, IDENTITY_HEADERS, UPSTREAM_TOKEN_HEADER};
pub use keys::{KeyRing, PUBLISH_LEAD, RotationPolicy, add_key, rotate_now};
pub use request_id::REQUEST_ID;
pub use server::serve;

/// The built-in demo MCP server (`builtin = "demo"`) at `/mcp` with no guard in front, answering
/// for `hosts`, behind the layers every request of `gatehouse serve` passes (metrics, body drain,
/// request id): the guard's cost is measured against it (`examples/mcp_load.rs`, issue 24), so
/// the one difference is the guard. Whoever reaches it may call its tools; serve it only to
/// measure.
#[cfg(feature = "demo")]
#[doc(hidden)]
pub fn unguarded_demo_server(hosts: Vec<String>) -> axum::Router {
    router::around_every_request(axum::Router::new().route_service("/mcp", demo_mcp::server(hosts)))
}
