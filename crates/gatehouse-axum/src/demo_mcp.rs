//! The built-in demo MCP server (`builtin = "demo"`, and `/mcp` under `gatehouse serve --demo`),
//! written with the official Rust MCP SDK (`rmcp`) over Streamable HTTP. Three tools:
//!
//! - `echo`: returns its `text` argument;
//! - `whoami`: the caller as the guard verified it (subject, client, scopes);
//! - `admin_reset`: does nothing harmful; under `--demo` it needs `mcp:admin`
//!   (`tool_scopes`), to show per-tool scopes and step-up authorization.
//!
//! The guard runs in front; this server never sees a token, only the verified
//! [`Principal`](gatehouse_guard::Principal) in the request's extensions, which `rmcp` hands to
//! tools as the HTTP request parts.

use std::sync::Arc;

use gatehouse_guard::Principal;
use rmcp::handler::server::tool::Extension;
use rmcp::handler::server::wrapper::{Json, Parameters};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use rmcp::{ErrorData, ServerHandler, schemars, tool, tool_handler, tool_router};
use serde::{Deserialize, Serialize};

use crate::builtin::BuiltinServer;

/// The demo server's state: none (its tools are in `TOOLS`).
#[derive(Debug, Clone)]
struct Demo;

/// `echo`'s argument.
#[derive(Debug, Deserialize, schemars::JsonSchema)]
struct EchoArguments {
    /// The text to send back.
    text: String,
}

/// `whoami`'s answer.
#[derive(Debug, Serialize, schemars::JsonSchema)]
struct WhoAmI {
    /// `sub`: who signed in.
    subject: String,
    /// The client the token was issued to.
    client_id: String,
    /// The token's scopes.
    scopes: Vec<String>,
}

#[tool_router]
impl Demo {
    #[tool(description = "Returns its `text` argument unchanged.")]
    fn echo(&self, Parameters(EchoArguments { text }): Parameters<EchoArguments>) -> String {
        text
    }

    #[tool(
        description = "Tells who is calling: the subject, client and scopes the guard verified."
    )]
    fn whoami(
        &self,
        Extension(parts): Extension<axum::http::request::Parts>,
    ) -> Result<Json<WhoAmI>, ErrorData> {
        let principal = parts.extensions.get::<Principal>().ok_or_else(|| {
            ErrorData::internal_error("the demo server runs only behind the guard", None)
        })?;
        Ok(Json(WhoAmI {
            subject: principal.subject().to_owned(),
            client_id: principal.client_id().to_owned(),
            scopes: principal
                .scopes()
                .iter()
                .map(|scope| scope.as_str().to_owned())
                .collect(),
        }))
    }

    #[tool(
        description = "Pretends to reset the server (nothing happens). Needs the mcp:admin scope under --demo."
    )]
    fn admin_reset(&self) -> String {
        "Nothing was reset: this is the demo server. You did have the scope to ask.".to_owned()
    }
}

/// The demo's tools, built once: `#[tool_handler]` otherwise calls `Demo::tool_router()` for
/// every call and every listing, which builds the table anew (each tool's JSON schema, its name
/// checked, a map): a third of the demo server's instructions per `tools/call` under callgrind.
static TOOLS: std::sync::LazyLock<rmcp::handler::server::router::tool::ToolRouter<Demo>> =
    std::sync::LazyLock::new(Demo::tool_router);

#[tool_handler(
    router = TOOLS,
    name = "gatehouse-demo",
    instructions = "The Gatehouse demo MCP server: echo, whoami and admin_reset (which needs mcp:admin)."
)]
impl ServerHandler for Demo {}

/// The demo server as a tower service for a resource whose URI has the host `hosts` answer to
/// (rmcp checks `Host` against them, against DNS rebinding).
pub(crate) fn server(hosts: Vec<String>) -> BuiltinServer {
    let config = StreamableHttpServerConfig::default().with_allowed_hosts(hosts);
    let service = StreamableHttpService::new(
        || Ok(Demo),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    BuiltinServer::new(Shared(Arc::new(service)))
}

/// rmcp's service, shared: a tower service is cloned for every request (by axum's router, by the
/// guard's layer, by rmcp's own `call`), and a clone of rmcp's service copies its configuration
/// and takes a cancellation-token handle under a lock; a clone of this is one reference count.
#[derive(Clone)]
struct Shared(Arc<StreamableHttpService<Demo, LocalSessionManager>>);

impl tower::Service<axum::extract::Request> for Shared {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = futures_util::future::BoxFuture<'static, Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        // rmcp's service is always ready.
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: axum::extract::Request) -> Self::Future {
        let service = Arc::clone(&self.0);
        Box::pin(async move { Ok(service.handle(request).await.map(axum::body::Body::new)) })
    }
}
