//! Client metadata after the policy accepted it.

use std::collections::BTreeMap;

use gatehouse_types::{GrantType, RedirectUri, ResponseType, ScopeSet, TokenEndpointAuthMethod};
use serde_json::Value;

use crate::{ApplicationType, ClientMetadata, ClientMetadataPolicy, RegistrationError};

/// Client metadata that passed a [`ClientMetadataPolicy`](crate::ClientMetadataPolicy): defaults
/// applied, values typed, unknown members dropped. Only the policy builds one.
///
/// This is what the server registers, and, through [`to_metadata`](Self::to_metadata), what it
/// returns: RFC 7591 §3.2.1 "the authorization server MUST return all registered metadata about
/// this client, including any fields provisioned by the authorization server itself".
#[derive(Debug, Clone, PartialEq)]
pub struct RegisteredClientMetadata {
    pub(crate) redirect_uris: Vec<RedirectUri>,
    pub(crate) token_endpoint_auth_method: TokenEndpointAuthMethod,
    pub(crate) grant_types: Vec<GrantType>,
    pub(crate) response_types: Vec<ResponseType>,
    pub(crate) application_type: Option<ApplicationType>,
    pub(crate) scope: Option<ScopeSet>,
    pub(crate) client_name: Option<String>,
    pub(crate) client_uri: Option<String>,
    pub(crate) logo_uri: Option<String>,
    pub(crate) tos_uri: Option<String>,
    pub(crate) policy_uri: Option<String>,
    pub(crate) jwks_uri: Option<String>,
    pub(crate) jwks: Option<Value>,
    pub(crate) contacts: Vec<String>,
    pub(crate) software_id: Option<String>,
    pub(crate) software_version: Option<String>,
    pub(crate) software_statement: Option<String>,
    pub(crate) localized: BTreeMap<String, String>,
    pub(crate) dpop_bound_access_tokens: bool,
}

impl RegisteredClientMetadata {
    /// Rebuilds registered metadata from the document [`to_metadata`](Self::to_metadata) wrote,
    /// as a store does when it loads a client. Every structural rule is checked again (a stored
    /// document is input like any other), but not the server's current policy choices: see
    /// `ClientMetadataPolicy::admitting`.
    pub fn restore(metadata: &ClientMetadata) -> Result<Self, RegistrationError> {
        ClientMetadataPolicy::admitting(metadata).check(metadata)
    }

    /// The redirect URIs, in the order registered, without duplicates.
    pub fn redirect_uris(&self) -> &[RedirectUri] {
        &self.redirect_uris
    }

    /// Whether `requested` matches a registered redirect URI ([`RedirectUri::matches`]: exact,
    /// except the port of loopback URIs).
    pub fn allows_redirect_uri(&self, requested: &RedirectUri) -> bool {
        self.redirect_uris.iter().any(|r| r.matches(requested))
    }

    /// How the client authenticates at the token endpoint (the RFC 7591 default,
    /// `client_secret_basic`, when it did not say).
    pub fn token_endpoint_auth_method(&self) -> &TokenEndpointAuthMethod {
        &self.token_endpoint_auth_method
    }

    /// Whether the server must issue a `client_secret` for this client: its authentication
    /// method proves a shared secret.
    pub fn needs_client_secret(&self) -> bool {
        self.token_endpoint_auth_method.uses_shared_secret()
    }

    /// The grant types, without duplicates.
    pub fn grant_types(&self) -> &[GrantType] {
        &self.grant_types
    }

    /// Whether the client registered `grant_type`.
    pub fn has_grant_type(&self, grant_type: &GrantType) -> bool {
        self.grant_types.contains(grant_type)
    }

    /// The response types, without duplicates.
    pub fn response_types(&self) -> &[ResponseType] {
        &self.response_types
    }

    /// The application type the client declared, if it declared one.
    pub fn application_type(&self) -> Option<&ApplicationType> {
        self.application_type.as_ref()
    }

    /// The scopes the client registered, if any.
    pub fn scope(&self) -> Option<&ScopeSet> {
        self.scope.as_ref()
    }

    /// `client_name`.
    pub fn client_name(&self) -> Option<&str> {
        self.client_name.as_deref()
    }

    /// `client_uri` (an `https` URL).
    pub fn client_uri(&self) -> Option<&str> {
        self.client_uri.as_deref()
    }

    /// `logo_uri` (an `https` URL).
    pub fn logo_uri(&self) -> Option<&str> {
        self.logo_uri.as_deref()
    }

    /// `tos_uri` (an `https` URL).
    pub fn tos_uri(&self) -> Option<&str> {
        self.tos_uri.as_deref()
    }

    /// `policy_uri` (an `https` URL).
    pub fn policy_uri(&self) -> Option<&str> {
        self.policy_uri.as_deref()
    }

    /// `jwks_uri` (an `https` URL).
    pub fn jwks_uri(&self) -> Option<&str> {
        self.jwks_uri.as_deref()
    }

    /// `jwks`: a JWK Set of public keys.
    pub fn jwks(&self) -> Option<&Value> {
        self.jwks.as_ref()
    }

    /// `contacts`.
    pub fn contacts(&self) -> &[String] {
        &self.contacts
    }

    /// `software_id`.
    pub fn software_id(&self) -> Option<&str> {
        self.software_id.as_deref()
    }

    /// `software_version`.
    pub fn software_version(&self) -> Option<&str> {
        self.software_version.as_deref()
    }

    /// `software_statement`, unverified and with its claims not applied, kept to be returned:
    /// RFC 7591 §3.2.1 "If a software statement was used as part of the registration, its value
    /// MUST be returned unmodified in the response".
    pub fn software_statement(&self) -> Option<&str> {
        self.software_statement.as_deref()
    }

    /// Language-tagged human-readable members, e.g. `client_name#fr` → `Mon client`
    /// ([RFC 7591 §2.2](https://www.rfc-editor.org/rfc/rfc7591#section-2.2)).
    pub fn localized(&self) -> &BTreeMap<String, String> {
        &self.localized
    }

    /// `dpop_bound_access_tokens` (RFC 9449 §5.2): every token request of this client must carry
    /// a DPoP proof.
    pub fn dpop_bound_access_tokens(&self) -> bool {
        self.dpop_bound_access_tokens
    }

    /// The registered metadata as a document, with every default written out, for the
    /// registration response and for storage. Checking it again with the same policy gives back
    /// an equal `RegisteredClientMetadata` (a property test holds this), so a store may keep the
    /// document and re-check it when loading.
    pub fn to_metadata(&self) -> ClientMetadata {
        let non_empty = |v: &Vec<String>| (!v.is_empty()).then(|| v.clone());
        ClientMetadata {
            redirect_uris: non_empty(
                &self
                    .redirect_uris
                    .iter()
                    .map(|r| r.as_str().to_owned())
                    .collect(),
            ),
            token_endpoint_auth_method: Some(self.token_endpoint_auth_method.clone()),
            grant_types: Some(self.grant_types.clone()),
            response_types: Some(self.response_types.clone()),
            client_name: self.client_name.clone(),
            client_uri: self.client_uri.clone(),
            logo_uri: self.logo_uri.clone(),
            scope: self.scope.clone(),
            contacts: non_empty(&self.contacts),
            tos_uri: self.tos_uri.clone(),
            policy_uri: self.policy_uri.clone(),
            jwks_uri: self.jwks_uri.clone(),
            jwks: self.jwks.clone(),
            software_id: self.software_id.clone(),
            software_version: self.software_version.clone(),
            software_statement: self.software_statement.clone(),
            application_type: self.application_type.clone(),
            dpop_bound_access_tokens: self.dpop_bound_access_tokens.then_some(true),
            extra: self
                .localized
                .iter()
                .map(|(k, v)| (k.clone(), Value::from(v.as_str())))
                .collect(),
        }
    }
}
