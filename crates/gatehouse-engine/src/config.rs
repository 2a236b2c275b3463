//! What the engine is told about the deployment: issuer, lifetimes, protected resources.

use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::ScopeSet;

/// A protected resource the server issues tokens for (RFC 8707).
#[derive(Debug, Clone)]
pub struct ResourceConfig {
    /// The canonical resource URI: the `aud` of its tokens.
    pub resource: ResourceUri,
    /// The scopes the resource understands; other requested scopes are dropped.
    pub scopes_supported: ScopeSet,
    /// The scopes granted when a request names none the resource understands.
    pub default_scopes: ScopeSet,
}

impl ResourceConfig {
    /// A resource whose default scopes are all its supported scopes.
    pub fn new(resource: ResourceUri, scopes_supported: ScopeSet) -> Self {
        Self {
            resource,
            default_scopes: scopes_supported.clone(),
            scopes_supported,
        }
    }

    /// Sets the default scopes (they should be a subset of the supported ones).
    pub fn with_default_scopes(mut self, scopes: ScopeSet) -> Self {
        self.default_scopes = scopes;
        self
    }
}

/// The engine's configuration. The issuer and at least one resource are constructor arguments;
/// lifetimes default to the values of the configuration contract in `DESIGN.md`.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    issuer: String,
    token_endpoint: String,
    resources: Vec<ResourceConfig>,
    /// Access token lifetime (`tokens.access_ttl_secs`, default 600).
    pub access_ttl_secs: u64,
    /// Refresh token lifetime (`tokens.refresh_ttl_secs`, default 30 days).
    pub refresh_ttl_secs: u64,
    /// Authorization code lifetime (`tokens.code_ttl_secs`, default 600; OAuth 2.1 §4.1.2
    /// recommends at most 10 minutes).
    pub code_ttl_secs: u64,
    /// How long a rotated refresh token may be replayed for the same successor
    /// (`tokens.refresh_reuse_grace_secs`, default 10).
    pub refresh_reuse_grace_secs: u64,
    /// How many token exchanges may be chained (nested `act` claims, RFC 8693 §4.1;
    /// `tokens.max_delegation_depth`, default 3).
    pub max_delegation_depth: usize,
    /// DPoP at the token endpoint (RFC 9449): optional unless required here or by the client.
    pub dpop: crate::DpopPolicy,
    /// Who may hold which scopes through which client (`[[scope_policy]]`); no rules: anyone
    /// may hold anything the rest allows.
    pub scope_policy: gatehouse_types::policy::ScopePolicy,
}

/// The longest chain of token exchanges a configuration may allow: each adds a level of `act`
/// to every token after it.
pub const MAX_DELEGATION_DEPTH: usize = 10;

/// Why a configuration was refused by [`EngineConfig::validate`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EngineConfigError {
    /// The issuer is not an https URL without query and fragment (RFC 8414 §2; http only on
    /// loopback hosts, for development).
    #[error("issuer {0:?} must be an https URL without query or fragment (RFC 8414 section 2)")]
    Issuer(String),
    /// A lifetime of zero.
    #[error("{0} must be greater than zero")]
    ZeroLifetime(&'static str),
    /// A code lifetime above ten minutes (OAuth 2.1 §4.1.2: "A maximum authorization code
    /// lifetime of 10 minutes is RECOMMENDED").
    #[error("code_ttl_secs must be at most 600 (OAuth 2.1 section 4.1.2)")]
    CodeLifetime,
    /// A refresh reuse grace above 60 seconds (see docs/decisions/0006-refresh-reuse-grace.md).
    #[error("refresh_reuse_grace_secs must be at most 60")]
    Grace,
    /// A delegation depth of 0 (exchange would be impossible: leave the grant out instead) or
    /// above [`MAX_DELEGATION_DEPTH`].
    #[error("max_delegation_depth must be between 1 and {MAX_DELEGATION_DEPTH}")]
    DelegationDepth,
    /// Default scopes that the resource does not support.
    #[error("default scopes of {0} must be among its scopes_supported")]
    DefaultScopes(String),
    /// The same resource configured twice.
    #[error("resource {0} is configured twice")]
    DuplicateResource(String),
}

/// An engine configuration without a resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("at least one protected resource must be configured")]
pub struct NoResources;

impl EngineConfig {
    /// A configuration for `issuer` (used byte-for-byte as `iss`) protecting `resources`; the
    /// first resource is the default for requests that name none.
    pub fn new(
        issuer: impl Into<String>,
        resources: Vec<ResourceConfig>,
    ) -> Result<Self, NoResources> {
        if resources.is_empty() {
            return Err(NoResources);
        }
        let issuer = issuer.into();
        Ok(Self {
            token_endpoint: format!("{}/token", issuer.trim_end_matches('/')),
            issuer,
            resources,
            access_ttl_secs: 600,
            refresh_ttl_secs: 2_592_000,
            code_ttl_secs: 600,
            refresh_reuse_grace_secs: 10,
            max_delegation_depth: 3,
            dpop: crate::DpopPolicy::default(),
            scope_policy: gatehouse_types::policy::ScopePolicy::default(),
        })
    }

    /// The issuer identifier.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The token endpoint's URL: the `htu` of the DPoP proofs it accepts (RFC 9449 §4.3).
    /// Default: the issuer followed by `/token`.
    pub fn token_endpoint(&self) -> &str {
        &self.token_endpoint
    }

    /// Sets the token endpoint's URL, for a server that serves it elsewhere.
    pub fn with_token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.token_endpoint = url.into();
        self
    }

    /// The protected resources; the first is the default.
    pub fn resources(&self) -> &[ResourceConfig] {
        &self.resources
    }

    /// The configuration of a resource.
    pub fn resource(&self, resource: &ResourceUri) -> Option<&ResourceConfig> {
        self.resources.iter().find(|r| &r.resource == resource)
    }

    /// The default resource.
    pub fn default_resource(&self) -> Option<&ResourceConfig> {
        self.resources.first()
    }

    /// Checks the configuration as a whole; [`crate::Engine::new`] refuses one that fails.
    pub fn validate(&self) -> Result<(), EngineConfigError> {
        gatehouse_types::uri::check_issuer_url(&self.issuer)
            .map_err(|_| EngineConfigError::Issuer(self.issuer.clone()))?;
        for (name, value) in [
            ("access_ttl_secs", self.access_ttl_secs),
            ("refresh_ttl_secs", self.refresh_ttl_secs),
            ("code_ttl_secs", self.code_ttl_secs),
        ] {
            if value == 0 {
                return Err(EngineConfigError::ZeroLifetime(name));
            }
        }
        if self.code_ttl_secs > 600 {
            return Err(EngineConfigError::CodeLifetime);
        }
        if !(1..=MAX_DELEGATION_DEPTH).contains(&self.max_delegation_depth) {
            return Err(EngineConfigError::DelegationDepth);
        }
        if self.refresh_reuse_grace_secs > 60 {
            return Err(EngineConfigError::Grace);
        }
        for (i, resource) in self.resources.iter().enumerate() {
            if !resource
                .default_scopes
                .is_subset(&resource.scopes_supported)
            {
                return Err(EngineConfigError::DefaultScopes(
                    resource.resource.to_string(),
                ));
            }
            if self
                .resources
                .iter()
                .skip(i + 1)
                .any(|r| r.resource == resource.resource)
            {
                return Err(EngineConfigError::DuplicateResource(
                    resource.resource.to_string(),
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> EngineConfig {
        let resource = ResourceConfig::new(
            ResourceUri::parse("https://mcp.example.com/mcp").unwrap(),
            ScopeSet::parse("a b").unwrap(),
        );
        EngineConfig::new("https://auth.example.com", vec![resource]).unwrap()
    }

    #[test]
    fn defaults_are_valid_and_limits_are_enforced() {
        assert_eq!(config().validate(), Ok(()));
        let mut c = config();
        c.refresh_reuse_grace_secs = 61;
        assert_eq!(c.validate(), Err(EngineConfigError::Grace));
        let mut c = config();
        c.code_ttl_secs = 601;
        assert_eq!(c.validate(), Err(EngineConfigError::CodeLifetime));
        let mut c = config();
        c.access_ttl_secs = 0;
        assert_eq!(
            c.validate(),
            Err(EngineConfigError::ZeroLifetime("access_ttl_secs"))
        );
        let c = EngineConfig::new("https://auth.example.com?x=1", config().resources).unwrap();
        assert!(matches!(c.validate(), Err(EngineConfigError::Issuer(_))));
        let mut c = config();
        c.resources[0].default_scopes = ScopeSet::parse("c").unwrap();
        assert!(matches!(
            c.validate(),
            Err(EngineConfigError::DefaultScopes(_))
        ));
    }
}
