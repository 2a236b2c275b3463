//! A builder for [`AuthorizationServerMetadata`], for servers publishing their document.

use std::collections::BTreeMap;

use gatehouse_types::{
    CodeChallengeMethod, GrantType, ResponseType, Scope, TokenEndpointAuthMethod,
};

use crate::metadata::{AuthorizationServerMetadata, ResponseMode};

/// Builds an [`AuthorizationServerMetadata`]; start with [`AuthorizationServerMetadata::builder`].
///
/// `response_types_supported` starts as `["code"]`, the only response type of OAuth 2.1; every
/// other member starts absent. [`build`](Self::build) does not validate: call
/// [`AuthorizationServerMetadata::validate`] on the result.
#[derive(Debug, Clone)]
#[must_use]
pub struct AuthorizationServerMetadataBuilder {
    metadata: AuthorizationServerMetadata,
}

fn collect<T>(values: impl IntoIterator<Item = T>) -> Option<Vec<T>> {
    Some(values.into_iter().collect())
}

fn strings(values: impl IntoIterator<Item = impl Into<String>>) -> Option<Vec<String>> {
    Some(values.into_iter().map(Into::into).collect())
}

impl AuthorizationServerMetadata {
    /// Starts a document for the server with this issuer identifier.
    pub fn builder(issuer: impl Into<String>) -> AuthorizationServerMetadataBuilder {
        AuthorizationServerMetadataBuilder {
            metadata: AuthorizationServerMetadata {
                issuer: issuer.into(),
                authorization_endpoint: None,
                token_endpoint: None,
                jwks_uri: None,
                registration_endpoint: None,
                scopes_supported: None,
                response_types_supported: vec![ResponseType::Code],
                response_modes_supported: None,
                grant_types_supported: None,
                token_endpoint_auth_methods_supported: None,
                token_endpoint_auth_signing_alg_values_supported: None,
                service_documentation: None,
                ui_locales_supported: None,
                op_policy_uri: None,
                op_tos_uri: None,
                revocation_endpoint: None,
                revocation_endpoint_auth_methods_supported: None,
                revocation_endpoint_auth_signing_alg_values_supported: None,
                introspection_endpoint: None,
                introspection_endpoint_auth_methods_supported: None,
                introspection_endpoint_auth_signing_alg_values_supported: None,
                code_challenge_methods_supported: None,
                signed_metadata: None,
                authorization_response_iss_parameter_supported: None,
                client_id_metadata_document_supported: None,
                extra: BTreeMap::new(),
            },
        }
    }
}

impl AuthorizationServerMetadataBuilder {
    /// Sets `authorization_endpoint`.
    pub fn authorization_endpoint(mut self, url: impl Into<String>) -> Self {
        self.metadata.authorization_endpoint = Some(url.into());
        self
    }

    /// Sets `token_endpoint`.
    pub fn token_endpoint(mut self, url: impl Into<String>) -> Self {
        self.metadata.token_endpoint = Some(url.into());
        self
    }

    /// Sets `jwks_uri`.
    pub fn jwks_uri(mut self, url: impl Into<String>) -> Self {
        self.metadata.jwks_uri = Some(url.into());
        self
    }

    /// Sets `registration_endpoint`.
    pub fn registration_endpoint(mut self, url: impl Into<String>) -> Self {
        self.metadata.registration_endpoint = Some(url.into());
        self
    }

    /// Sets `scopes_supported`.
    pub fn scopes_supported(mut self, scopes: impl IntoIterator<Item = Scope>) -> Self {
        self.metadata.scopes_supported = collect(scopes);
        self
    }

    /// Replaces `response_types_supported` (which starts as `["code"]`).
    pub fn response_types_supported(
        mut self,
        response_types: impl IntoIterator<Item = ResponseType>,
    ) -> Self {
        self.metadata.response_types_supported = response_types.into_iter().collect();
        self
    }

    /// Sets `response_modes_supported`.
    pub fn response_modes_supported(
        mut self,
        modes: impl IntoIterator<Item = ResponseMode>,
    ) -> Self {
        self.metadata.response_modes_supported = collect(modes);
        self
    }

    /// Sets `grant_types_supported`.
    pub fn grant_types_supported(
        mut self,
        grant_types: impl IntoIterator<Item = GrantType>,
    ) -> Self {
        self.metadata.grant_types_supported = collect(grant_types);
        self
    }

    /// Sets `token_endpoint_auth_methods_supported`.
    pub fn token_endpoint_auth_methods_supported(
        mut self,
        methods: impl IntoIterator<Item = TokenEndpointAuthMethod>,
    ) -> Self {
        self.metadata.token_endpoint_auth_methods_supported = collect(methods);
        self
    }

    /// Sets `token_endpoint_auth_signing_alg_values_supported`.
    pub fn token_endpoint_auth_signing_alg_values_supported(
        mut self,
        algs: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.metadata
            .token_endpoint_auth_signing_alg_values_supported = strings(algs);
        self
    }

    /// Sets `service_documentation`.
    pub fn service_documentation(mut self, url: impl Into<String>) -> Self {
        self.metadata.service_documentation = Some(url.into());
        self
    }

    /// Sets `ui_locales_supported`.
    pub fn ui_locales_supported(
        mut self,
        locales: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.metadata.ui_locales_supported = strings(locales);
        self
    }

    /// Sets `op_policy_uri`.
    pub fn op_policy_uri(mut self, url: impl Into<String>) -> Self {
        self.metadata.op_policy_uri = Some(url.into());
        self
    }

    /// Sets `op_tos_uri`.
    pub fn op_tos_uri(mut self, url: impl Into<String>) -> Self {
        self.metadata.op_tos_uri = Some(url.into());
        self
    }

    /// Sets `revocation_endpoint`.
    pub fn revocation_endpoint(mut self, url: impl Into<String>) -> Self {
        self.metadata.revocation_endpoint = Some(url.into());
        self
    }

    /// Sets `revocation_endpoint_auth_methods_supported`.
    pub fn revocation_endpoint_auth_methods_supported(
        mut self,
        methods: impl IntoIterator<Item = TokenEndpointAuthMethod>,
    ) -> Self {
        self.metadata.revocation_endpoint_auth_methods_supported = collect(methods);
        self
    }

    /// Sets `revocation_endpoint_auth_signing_alg_values_supported`.
    pub fn revocation_endpoint_auth_signing_alg_values_supported(
        mut self,
        algs: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.metadata
            .revocation_endpoint_auth_signing_alg_values_supported = strings(algs);
        self
    }

    /// Sets `introspection_endpoint`.
    pub fn introspection_endpoint(mut self, url: impl Into<String>) -> Self {
        self.metadata.introspection_endpoint = Some(url.into());
        self
    }

    /// Sets `introspection_endpoint_auth_methods_supported`.
    pub fn introspection_endpoint_auth_methods_supported(
        mut self,
        methods: impl IntoIterator<Item = TokenEndpointAuthMethod>,
    ) -> Self {
        self.metadata.introspection_endpoint_auth_methods_supported = collect(methods);
        self
    }

    /// Sets `introspection_endpoint_auth_signing_alg_values_supported`.
    pub fn introspection_endpoint_auth_signing_alg_values_supported(
        mut self,
        algs: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        self.metadata
            .introspection_endpoint_auth_signing_alg_values_supported = strings(algs);
        self
    }

    /// Sets `code_challenge_methods_supported`.
    pub fn code_challenge_methods_supported(
        mut self,
        methods: impl IntoIterator<Item = CodeChallengeMethod>,
    ) -> Self {
        self.metadata.code_challenge_methods_supported = collect(methods);
        self
    }

    /// Sets `signed_metadata` (a signed JWT, produced elsewhere).
    pub fn signed_metadata(mut self, jwt: impl Into<String>) -> Self {
        self.metadata.signed_metadata = Some(jwt.into());
        self
    }

    /// Sets the RFC 9207 `authorization_response_iss_parameter_supported` flag.
    pub fn authorization_response_iss_parameter_supported(mut self, supported: bool) -> Self {
        self.metadata.authorization_response_iss_parameter_supported = Some(supported);
        self
    }

    /// Sets the MCP `client_id_metadata_document_supported` flag.
    pub fn client_id_metadata_document_supported(mut self, supported: bool) -> Self {
        self.metadata.client_id_metadata_document_supported = Some(supported);
        self
    }

    /// Adds a member this crate has no field for. A name of a known member is refused later by
    /// [`AuthorizationServerMetadata::validate`].
    pub fn extra(mut self, name: impl Into<String>, value: serde_json::Value) -> Self {
        self.metadata.extra.insert(name.into(), value);
        self
    }

    /// The document, not yet validated.
    #[must_use]
    pub fn build(self) -> AuthorizationServerMetadata {
        self.metadata
    }
}
