//! An MCP server written with the official Rust SDK (`rmcp`), protected by the guard: tokens
//! from any OAuth 2.1 issuer, verified with keys discovered from its metadata.
//!
//! ```sh
//! cargo run -p gatehouse-guard --example mcp_server -- \
//!     http://127.0.0.1:8080 http://127.0.0.1:3000/mcp 127.0.0.1:3000
//! ```
//!
//! The issuer must list the resource (for Gatehouse, a `[[resources]]` entry with that URI), so
//! that its tokens carry it as their audience.

use std::sync::Arc;

use gatehouse_guard::{Guard, Principal, Verification};
use rmcp::handler::server::tool::Extension;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ServerHandler, tool, tool_handler, tool_router};

#[derive(Clone)]
struct Hello;

#[tool_router]
impl Hello {
    #[tool(description = "Greets the signed-in user.")]
    fn hello(&self, Extension(parts): Extension<axum::http::request::Parts>) -> String {
        let who = parts
            .extensions
            .get::<Principal>()
            .map_or("stranger", |p| p.subject());
        format!("Hello, {who}!")
    }
}

#[tool_handler(name = "guarded-hello")]
impl ServerHandler for Hello {}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let issuer = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8080".into());
    let resource = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:3000/mcp".into());
    let listen = args.next().unwrap_or_else(|| "127.0.0.1:3000".into());

    // The guard: who may call, and with what scope.
    let guard = Guard::builder(&issuer, &resource, Verification::discovered_jwks())
        .required_scopes(["mcp:tools"])
        .build()?;

    let mcp = StreamableHttpService::new(
        || Ok(Hello),
        Arc::new(LocalSessionManager::default()),
        StreamableHttpServerConfig::default(),
    );
    let app = axum::Router::new()
        .route_service("/mcp", mcp)
        .route_layer(guard.clone())
        .merge(guard.metadata_router());

    let listener = tokio::net::TcpListener::bind(&listen).await?;
    println!("listening on http://{listen}/mcp, tokens from {issuer}");
    axum::serve(listener, app).await?;
    Ok(())
}
