//! The protected resources this process serves (`[[resources]]` with `upstream` or `builtin`):
//! each behind a `gatehouse-guard` [`Guard`] that shares the authorization server's keys and
//! deny list, so a rotated-in key is trusted at once and a revoked token is refused from the next
//! request on, with its RFC 9728 metadata at the path-inserted well-known URL (and the first
//! resource's also at the root, `/.well-known/oauth-protected-resource`).

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::extract::Request;
use axum::response::Response;
use axum::routing::any;
use futures_util::future::BoxFuture;
use gatehouse_guard::{
    Guard, MemoryProofReplay, ProofReplayCheck, ReplayCheckError, RevocationCheck,
    RevocationCheckError, SharedKeys, Verification,
};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::UnixTime;
use tower::Layer;

use crate::config::{Config, ConfigError};
use crate::gateway::{self, Gateway};
use gatehouse_store::AnyStore;

use crate::builtin::BuiltinServer;
use crate::events::{CallEvents, Events};
use crate::limits::Limiter;

/// What serves a protected resource.
#[derive(Clone)]
enum Target {
    Upstream(Gateway),
    Builtin(BuiltinServer),
}

/// One protected resource served here.
#[derive(Clone)]
pub(crate) struct Protected {
    pub(crate) guard: Guard,
    path: String,
    target: Target,
}

/// The deny list of the store, as the guard's revocation hook.
#[derive(Clone)]
pub(crate) struct StoreRevocation {
    store: Arc<AnyStore>,
}

impl StoreRevocation {
    pub(crate) fn new(store: Arc<AnyStore>) -> Self {
        Self { store }
    }
}

impl RevocationCheck for StoreRevocation {
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, RevocationCheckError>> {
        Box::pin(async move {
            gatehouse_store::is_access_token_revoked_cached(&*self.store, jti)
                .await
                .map_err(|e| RevocationCheckError::new(e.to_string()))
        })
    }
}

impl StoreRevocation {
    /// Where the guards remember DPoP proofs (RFC 9449 §11.1): in PostgreSQL when the store is
    /// PostgreSQL, since several instances may share it and a proof accepted by one must be
    /// refused by the others; in this process's memory otherwise, since SQLite and memory stores
    /// serve one instance and a write per request would buy nothing.
    pub(crate) fn proof_replay(&self) -> ProofReplay {
        match &*self.store {
            AnyStore::Postgres(_) => ProofReplay::Store(Arc::clone(&self.store)),
            _ => ProofReplay::Memory(Arc::new(MemoryProofReplay::default())),
        }
    }
}

/// See [`StoreRevocation::proof_replay`].
#[derive(Clone)]
pub(crate) enum ProofReplay {
    Store(Arc<AnyStore>),
    Memory(Arc<MemoryProofReplay>),
}

impl ProofReplayCheck for ProofReplay {
    fn first_use<'a>(
        &'a self,
        jkt: &'a str,
        jti: &'a str,
        now: UnixTime,
        until: UnixTime,
    ) -> BoxFuture<'a, Result<bool, ReplayCheckError>> {
        match self {
            Self::Memory(memory) => memory.first_use(jkt, jti, now, until),
            // The token endpoint's table of used assertions, under the key's name: the same
            // namespace the token endpoint uses for its proofs.
            Self::Store(store) => Box::pin(async move {
                gatehouse_engine::Store::use_assertion(
                    &**store,
                    &gatehouse_engine::proof_replay_issuer(jkt),
                    jti,
                    until,
                )
                .await
                .map_err(|e| ReplayCheckError::new(e.to_string()))
            }),
        }
    }
}

/// Where RFC 9728 §3.1 puts the metadata of a host's root resource.
const ROOT_METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// Paths of the authorization server a resource may not take (relative to the issuer's path).
const SERVER_PATHS: [&str; 9] = [
    "/authorize",
    "/token",
    "/introspect",
    "/revoke",
    "/register",
    "/connected-apps",
    "/healthz",
    "/readyz",
    "/",
];

/// What the guards of the resources share beyond keys: where callers' budgets are spent, and
/// where their audited calls go (none when only checking the configuration).
pub(crate) struct Policy {
    pub(crate) limiter: Limiter,
    pub(crate) audit: Option<Arc<Events>>,
    /// For gateways with `forward_upstream_token` (absent when only checking a configuration).
    pub(crate) upstream_tokens: Option<crate::federation::UpstreamTokens>,
}

/// Builds the guard of every resource served here, checking what the configuration alone
/// cannot: that each `builtin` exists in `builtins`, and that no two things claim one path.
/// `session_key` binds MCP sessions to their callers (the same on every instance).
#[allow(clippy::too_many_arguments)]
pub(crate) fn build(
    config: &Config,
    prefix: &str,
    keys: &SharedKeys,
    revocation: &StoreRevocation,
    builtins: &BTreeMap<String, BuiltinServer>,
    session_key: &[u8; 32],
    dpop_nonce_secret: Option<&[u8]>,
    policy: &Policy,
) -> Result<Vec<Protected>, ConfigError> {
    let mut protected = Vec::new();
    // One matrix for the token endpoint and every guard: a scope taken away is gone at once.
    let scope_policy = config.scope_policy()?;
    let mut paths: Vec<String> = SERVER_PATHS
        .iter()
        .map(|path| format!("{prefix}{path}"))
        .collect();
    for (i, entry) in config.resources.iter().enumerate() {
        let key = |field: &str| format!("resources[{i}].{field}");
        let invalid = |field: &str, reason: String| ConfigError::Value {
            key: key(field),
            reason,
        };
        let target = match (&entry.upstream, &entry.builtin) {
            (Some(upstream), _) => {
                let gateway = Gateway::new(upstream).map_err(|e| invalid("upstream", e))?;
                Target::Upstream(
                    match (&entry.forward_upstream_token, &policy.upstream_tokens) {
                        (Some(provider), Some(tokens)) => {
                            gateway.forwarding(provider.clone(), tokens.clone())
                        }
                        _ => gateway,
                    },
                )
            }
            (None, Some(name)) => match builtins.get(name) {
                Some(server) => Target::Builtin(server.clone()),
                #[cfg(feature = "demo")]
                None if name == "demo" => {
                    Target::Builtin(crate::demo_mcp::server(vec![resource_host(
                        &entry.resource,
                    )]))
                }
                None => {
                    return Err(invalid(
                        "builtin",
                        format!("this program has no built-in server named {name:?}"),
                    ));
                }
            },
            (None, None) => continue,
        };
        let resource =
            ResourceUri::parse(&entry.resource).map_err(|e| invalid("resource", e.to_string()))?;
        let path = resource_path(resource.as_str());
        if path.starts_with("/.well-known/") || paths.contains(&path) {
            return Err(invalid(
                "resource",
                format!("its path {path} is already served by this server"),
            ));
        }
        paths.push(path.clone());
        let mut builder = Guard::builder(
            config.issuer.clone(),
            entry.resource.clone(),
            Verification::key_source(keys.clone()),
        )
        .scopes_supported(entry.scopes_supported.iter().cloned())
        .required_scopes(entry.required_scopes.iter().cloned())
        .leeway_secs(config.guard.leeway_secs)
        .filter_tools_list(entry.filter_tools_list)
        .unmapped_tools(match entry.unmapped_tools {
            crate::config::UnmappedTools::Deny => gatehouse_guard::UnmappedTools::Deny,
            _ => gatehouse_guard::UnmappedTools::Allow,
        })
        .revocation(revocation.clone())
        // Derived from the encryption key: every instance binds MCP sessions alike.
        .session_binding_key(*session_key)
        .require_dpop(config.dpop.required)
        .scope_policy(scope_policy.clone())
        // One proof, one use, on every instance sharing the store (RFC 9449 §11.1).
        .dpop_replay(revocation.proof_replay());
        if let Some(secret) = dpop_nonce_secret {
            builder = builder.dpop_nonces(secret, config.dpop.nonce_step_secs);
        }
        if let Some(per_minute) = entry.rate_limit_per_min {
            builder = builder
                .rate_limit(per_minute)
                .rate_limiter(policy.limiter.clone());
        }
        if let Some(events) = &policy.audit {
            builder = builder
                .audit(CallEvents(Arc::clone(events)))
                .audit_arguments(entry.audit_arguments);
        }
        for (tool, scope) in &entry.tool_scopes {
            builder = builder.tool_scope(tool.clone(), scope.clone());
        }
        let guard = builder
            .build()
            .map_err(|e| invalid("tool_scopes", e.to_string()))?;
        // `https://h/mcp` and `https://h/mcp/` have different paths but one metadata document.
        let metadata_path = guard.metadata_path().to_owned();
        if paths.contains(&metadata_path) {
            return Err(invalid(
                "resource",
                format!("its metadata path {metadata_path} is already served by this server"),
            ));
        }
        // The first resource's document is served at the root well-known path too
        // (`add_routes`): no later resource may have its own there.
        if protected.is_empty() && metadata_path != ROOT_METADATA_PATH {
            paths.push(ROOT_METADATA_PATH.to_owned());
        }
        paths.push(metadata_path);
        protected.push(Protected {
            guard,
            path,
            target,
        });
    }
    Ok(protected)
}

/// The host of a resource URI, for servers that check the `Host` header.
#[cfg(feature = "demo")]
fn resource_host(resource: &str) -> String {
    let authority = gatehouse_types::uri::split(resource)
        .and_then(|c| c.authority)
        .unwrap_or("");
    gatehouse_types::uri::split_authority(authority)
        .host
        .to_owned()
}

/// The path a resource URI is served at: its path, `/` when it has none, without the query.
fn resource_path(resource: &str) -> String {
    match gatehouse_types::uri::split(resource).map(|c| c.path) {
        Some(path) if !path.is_empty() => path.to_owned(),
        _ => "/".to_owned(),
    }
}

/// Adds the routes of the protected resources and their metadata documents to `router`.
///
/// A resource's guarded service goes straight into `router`, not through a router of its own
/// merged in: axum wraps every route it merges (and every layer over it) in one more boxed
/// service, and a request clones the whole chain at each level it passes; flat, a guarded call
/// clones no more than an unguarded one (issue 24).
pub(crate) fn add_routes(mut router: Router, protected: &[Protected]) -> Router {
    for (i, resource) in protected.iter().enumerate() {
        router = match &resource.target {
            Target::Upstream(gateway) => router.route_service(
                &resource.path,
                resource
                    .guard
                    .layer(any(gateway::forward).with_state(gateway.clone())),
            ),
            Target::Builtin(server) => {
                router.route_service(&resource.path, resource.guard.layer(server.clone()))
            }
        }
        .merge(resource.guard.metadata_router());
        if i == 0 && resource.guard.metadata_path() != ROOT_METADATA_PATH {
            // The root document: for clients that look there first (RFC 9728 §3.1 allows it
            // for the host's default resource).
            let root = Router::new().merge(resource.guard.metadata_router());
            router = router.route_service(
                ROOT_METADATA_PATH,
                RootMetadata {
                    inner: root,
                    path: resource.guard.metadata_path().to_owned(),
                },
            );
        }
    }
    router
}

/// Serves the default resource's document at the root well-known path by rewriting the path
/// to the document's own.
#[derive(Clone)]
struct RootMetadata {
    inner: Router,
    path: String,
}

impl tower::Service<Request> for RootMetadata {
    type Response = Response;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<Response, Infallible>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        let router = self.inner.clone();
        if let Ok(uri) = self.path.parse() {
            *request.uri_mut() = uri;
        }
        Box::pin(async move {
            use tower::ServiceExt;
            router.oneshot(request).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_are_served_at_their_path() {
        assert_eq!(resource_path("https://mcp.example.com/mcp"), "/mcp");
        assert_eq!(resource_path("https://mcp.example.com"), "/");
        assert_eq!(resource_path("https://mcp.example.com/"), "/");
        assert_eq!(resource_path("http://127.0.0.1:8080/a/mcp"), "/a/mcp");
        assert_eq!(resource_path("https://h/mcp?x=1"), "/mcp");
    }
}
