//! What every request of one guard reads: its configuration and state, built once by
//! [`GuardBuilder`](crate::GuardBuilder) and shared by the [`Guard`](crate::Guard) layer and its
//! service.

use std::sync::Arc;

use bytes::Bytes;
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_resource_metadata::ProtectedResourceMetadata;
use gatehouse_types::{Scope, ScopeSet, UnixTime};

use crate::cache::TokenCache;
use crate::introspection::Introspector;
use crate::rejection::{Challenges, Rejection};
use crate::sessions::SessionKey;
use crate::tools::ToolScopes;
use crate::verify::JwtVerifier;
use crate::{Cors, Principal, RevocationCheck};

/// The clock for token times.
pub(crate) type Clock = Arc<dyn Fn() -> UnixTime + Send + Sync>;

/// How tokens are verified.
pub(crate) enum Verifier {
    Jwt(JwtVerifier),
    Introspection(Box<Introspector>),
}

/// Everything a request needs, shared.
pub(crate) struct Shared {
    pub(crate) issuer: String,
    pub(crate) resource: ResourceUri,
    pub(crate) required: ScopeSet,
    pub(crate) supported: ScopeSet,
    pub(crate) tools: Arc<ToolScopes>,
    pub(crate) filter_tools_list: bool,
    pub(crate) max_body_bytes: usize,
    pub(crate) body_timeout: std::time::Duration,
    pub(crate) verifier: Verifier,
    pub(crate) cache: TokenCache<Principal>,
    pub(crate) revocation: Option<Arc<dyn RevocationCheck>>,
    pub(crate) cors: Cors,
    pub(crate) challenges: Challenges,
    pub(crate) metadata: ProtectedResourceMetadata,
    pub(crate) metadata_json: Bytes,
    pub(crate) metadata_url: String,
    pub(crate) metadata_path: String,
    pub(crate) sessions: SessionKey,
    /// The resource as a metrics label, shared rather than copied on every request.
    pub(crate) resource_label: metrics::SharedString,
    pub(crate) clock: Clock,
    pub(crate) dpop: crate::dpop::DpopSettings,
    /// The per-caller budget, if the resource has one.
    pub(crate) limit: Option<crate::rate_limit::CallerLimit>,
    pub(crate) audit: Option<Arc<dyn crate::audit::CallAudit>>,
    pub(crate) audit_arguments: bool,
    /// The scope matrix; open unless the host set one.
    pub(crate) scope_policy: gatehouse_types::policy::ScopePolicy,
}

impl Shared {
    /// The caller's groups for the scope matrix: the token's `groups` claim, which the
    /// authorization server fills with the groups the matrix names; read only when some rule
    /// names groups.
    pub(crate) fn policy_groups(&self, principal: &Principal) -> Vec<String> {
        if !self.scope_policy.uses_groups() {
            return Vec::new();
        }
        principal
            .claim(gatehouse_types::policy::GROUPS_CLAIM)
            .and_then(|groups| groups.as_array())
            .map(|groups| {
                groups
                    .iter()
                    .filter_map(|group| group.as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The `insufficient_scope` refusal. Its `scope` is what the client should ask for so that
    /// the retried request succeeds without losing what it has: the resource's required
    /// scopes, the scopes the operation needs, and the token's scopes this resource knows
    /// (MCP 2025-11-25, scope challenge handling; RFC 6750 §3.1).
    pub(crate) fn insufficient_scope(
        &self,
        principal: &Principal,
        needed: impl IntoIterator<Item = Scope>,
        description: &'static str,
    ) -> Rejection {
        let needed: Vec<Scope> = needed.into_iter().collect();
        let groups = self.policy_groups(principal);
        let who = gatehouse_types::policy::Who {
            subject: principal.subject(),
            groups: &groups,
        };
        // A scope the policy will not give this caller: no step-up can help (the next token is
        // narrowed the same way), so no challenge that would send the client round in circles.
        if needed
            .iter()
            .chain(self.required.iter())
            .any(|scope| !self.scope_policy.permits(who, principal.client_id(), scope))
        {
            return Rejection::PolicyDenied;
        }
        let mut scope = self.required.clone();
        for needed in needed {
            scope.insert(needed);
        }
        for granted in principal.scopes().intersection(&self.supported).iter() {
            scope.insert(granted.clone());
        }
        Rejection::InsufficientScope { scope, description }
    }
}
