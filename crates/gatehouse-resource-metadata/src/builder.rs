//! A builder for [`ProtectedResourceMetadata`], for resources publishing their document.

use std::collections::BTreeMap;

use gatehouse_types::Scope;

use crate::metadata::{BearerMethod, ProtectedResourceMetadata};

/// Builds a [`ProtectedResourceMetadata`]; start with [`ProtectedResourceMetadata::builder`].
///
/// Every member but `resource` starts absent. [`build`](Self::build) does not validate: call
/// [`ProtectedResourceMetadata::validate`] on the result.
#[derive(Debug, Clone)]
#[must_use]
pub struct ProtectedResourceMetadataBuilder {
    metadata: ProtectedResourceMetadata,
}

fn strings(values: impl IntoIterator<Item = impl Into<String>>) -> Option<Vec<String>> {
    Some(values.into_iter().map(Into::into).collect())
}

impl ProtectedResourceMetadata {
    /// Starts a document for the resource with this resource identifier.
    pub fn builder(resource: impl Into<String>) -> ProtectedResourceMetadataBuilder {
        ProtectedResourceMetadataBuilder {
            metadata: ProtectedResourceMetadata {
                resource: resource.into(),
                authorization_servers: None,
                jwks_uri: None,
                scopes_supported: None,
                bearer_methods_supported: None,
                resource_signing_alg_values_supported: None,
                resource_name: None,
                resource_documentation: None,
                resource_policy_uri: None,
                resource_tos_uri: None,
                tls_client_certificate_bound_access_tokens: None,
                authorization_details_types_supported: None,
                dpop_signing_alg_values_supported: None,
                dpop_bound_access_tokens_required: None,
                signed_metadata: None,
                extra: BTreeMap::new(),
            },
        }
    }
}

impl ProtectedResourceMetadataBuilder {
    /// Sets `authorization_servers` (issuer identifiers).
    pub fn authorization_servers(
        mut self,
        issuers: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.metadata.authorization_servers = strings(issuers);
        self
    }

    /// Sets `jwks_uri`.
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.metadata.jwks_uri = Some(url.into());
        self
    }

    /// Sets `scopes_supported`.
    pub fn scopes_supported(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.metadata.scopes_supported = Some(scopes.into_iter().collect());
        self
    }

    /// Sets `bearer_methods_supported` (an empty list means none is supported).
    pub fn bearer_methods_supported(
        mut self,
        methods: impl IntoIterator<Item = BearerMethod>,
    ) -> Self {
        self.metadata.bearer_methods_supported = Some(methods.into_iter().collect());
        self
    }

    /// Sets `resource_signing_alg_values_supported`.
    pub fn resource_signing_alg_values_supported(
        mut self,
        algs: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.metadata.resource_signing_alg_values_supported = strings(algs);
        self
    }

    /// Sets `resource_name`.
    pub fn resource_name(mut self, name: impl Into<String>) -> Self {
        self.metadata.resource_name = Some(name.into());
        self
    }

    /// Sets `resource_documentation`.
    pub fn resource_documentation(mut self, url: impl Into<String>) -> Self {
        self.metadata.resource_documentation = Some(url.into());
        self
    }

    /// Sets `resource_policy_uri`.
    pub fn resource_policy_uri(mut self, url: impl Into<String>) -> Self {
        self.metadata.resource_policy_uri = Some(url.into());
        self
    }

    /// Sets `resource_tos_uri`.
    pub fn resource_tos_uri(mut self, url: impl Into<String>) -> Self {
        self.metadata.resource_tos_uri = Some(url.into());
        self
    }

    /// Sets `tls_client_certificate_bound_access_tokens`.
    pub fn tls_client_certificate_bound_access_tokens(mut self, supported: bool) -> Self {
        self.metadata.tls_client_certificate_bound_access_tokens = Some(supported);
        self
    }

    /// Sets `authorization_details_types_supported`.
    pub fn authorization_details_types_supported(
        mut self,
        types: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.metadata.authorization_details_types_supported = strings(types);
        self
    }

    /// Sets `dpop_signing_alg_values_supported`.
    pub fn dpop_signing_alg_values_supported(
        mut self,
        algs: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.metadata.dpop_signing_alg_values_supported = strings(algs);
        self
    }

    /// Sets `dpop_bound_access_tokens_required`.
    pub fn dpop_bound_access_tokens_required(mut self, required: bool) -> Self {
        self.metadata.dpop_bound_access_tokens_required = Some(required);
        self
    }

    /// Sets `signed_metadata` (a signed JWT, produced elsewhere).
    pub fn signed_metadata(mut self, jwt: impl Into<String>) -> Self {
        self.metadata.signed_metadata = Some(jwt.into());
        self
    }

    /// Adds a member this crate has no field for, such as `resource_name#fr`. A name of a known
    /// member is refused later by [`ProtectedResourceMetadata::validate`].
    pub fn extra(mut self, name: impl Into<String>, value: serde_json::Value) -> Self {
        self.metadata.extra.insert(name.into(), value);
        self
    }

    /// The document, not yet validated.
    #[must_use]
    pub fn build(self) -> ProtectedResourceMetadata {
        self.metadata
    }
}
