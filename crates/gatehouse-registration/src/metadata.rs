//! Client metadata ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)), the body of
//! a registration request ([RFC 7591 §3.1](https://www.rfc-editor.org/rfc/rfc7591#section-3.1)).

use std::collections::BTreeMap;

use gatehouse_types::{GrantType, RedirectUri, ResponseType, ScopeSet, TokenEndpointAuthMethod};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{RegistrationError, checks};

gatehouse_types::string_enum! {
    /// The kind of application
    /// ([OpenID Connect Dynamic Client Registration 1.0 §2](https://openid.net/specs/openid-connect-registration-1_0.html#ClientMetadata)
    /// `application_type`). It decides which redirect URIs a client may register; see
    /// [`ClientMetadataPolicy`](crate::ClientMetadataPolicy) for the rules and for what happens
    /// when it is omitted.
    pub enum ApplicationType: "application_type", __check_token {
        /// `web`: a web application on a server; `https` redirect URIs on web hosts only.
        Web => "web",
        /// `native`: an application on the user's device (desktop MCP clients, CLIs, mobile apps);
        /// loopback `http`, private-use schemes and claimed `https` URIs
        /// ([RFC 8252 §7](https://www.rfc-editor.org/rfc/rfc8252#section-7)).
        Native => "native",
    }
}

/// Client metadata as sent by a client
/// ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)): every member optional,
/// unknown members kept in [`extra`](Self::extra) so the document round-trips.
///
/// This is the document, not a decision: [`ClientMetadataPolicy::check`](crate::ClientMetadataPolicy::check)
/// turns it into a [`RegisteredClientMetadata`](crate::RegisteredClientMetadata) or an error.
/// Redirect URIs stay strings here, so a bad one is reported as `invalid_redirect_uri` by the
/// policy instead of failing the whole parse.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct ClientMetadata {
    /// `redirect_uris`: where the authorization server may send the user back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redirect_uris: Option<Vec<String>>,
    /// `token_endpoint_auth_method`; RFC 7591 §2: "If unspecified or omitted, the default is
    /// `client_secret_basic`".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_endpoint_auth_method: Option<TokenEndpointAuthMethod>,
    /// `grant_types`; RFC 7591 §2: "If omitted, the default behavior is that the client will use
    /// only the `authorization_code` Grant Type".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant_types: Option<Vec<GrantType>>,
    /// `response_types`; RFC 7591 §2: "If omitted, the default is that the client will use only
    /// the `code` response type".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub response_types: Option<Vec<ResponseType>>,
    /// `client_name`: shown to the user on the consent page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_name: Option<String>,
    /// `client_uri`: the client's home page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_uri: Option<String>,
    /// `logo_uri`: the client's logo.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    /// `scope`: the scopes the client may request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<ScopeSet>,
    /// `contacts`: ways to reach the people responsible for the client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<String>>,
    /// `tos_uri`: the client's terms of service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tos_uri: Option<String>,
    /// `policy_uri`: the client's privacy policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_uri: Option<String>,
    /// `jwks_uri`: where the client publishes its public keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// `jwks`: the client's public keys by value (a JWK Set).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    /// `software_id`: identifies the client software across instances.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_id: Option<String>,
    /// `software_version`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_version: Option<String>,
    /// `software_statement`: a signed JWT asserting metadata
    /// ([RFC 7591 §2.3](https://www.rfc-editor.org/rfc/rfc7591#section-2.3)).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub software_statement: Option<String>,
    /// `application_type` (OpenID Connect Dynamic Client Registration 1.0 §2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_type: Option<ApplicationType>,
    /// `dpop_bound_access_tokens` ([RFC 9449 §5.2](https://www.rfc-editor.org/rfc/rfc9449#section-5.2)):
    /// the client always uses DPoP, and a token request of its without a proof is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dpop_bound_access_tokens: Option<bool>,
    /// Members this crate does not name, including language-tagged ones such as
    /// `client_name#ja-Jpan-JP` ([RFC 7591 §2.2](https://www.rfc-editor.org/rfc/rfc7591#section-2.2)).
    #[serde(flatten)]
    pub extra: BTreeMap<String, Value>,
}

/// The body of a client registration request
/// ([RFC 7591 §3.1](https://www.rfc-editor.org/rfc/rfc7591#section-3.1)): "a JSON document
/// consisting of a JSON object and all requested client metadata values as top-level members".
pub type RegistrationRequest = ClientMetadata;

impl ClientMetadata {
    /// An empty document to fill in.
    pub fn builder() -> ClientMetadataBuilder {
        ClientMetadataBuilder {
            metadata: Self::default(),
        }
    }

    /// Parses a document from JSON.
    pub fn from_json(bytes: &[u8]) -> Result<Self, RegistrationError> {
        crate::from_json(bytes)
    }

    /// Serializes the document to JSON.
    pub fn to_json(&self) -> String {
        crate::to_json(self)
    }

    /// Enforces what RFC 7591 requires of any client metadata document, whatever the server's
    /// policy:
    ///
    /// - §2: "The `jwks_uri` and `jwks` parameters MUST NOT both be present in the same request
    ///   or response", and `jwks` "MUST be a JSON object containing a valid JWK Set";
    /// - every redirect URI passes `gatehouse_types::RedirectUri` (`invalid_redirect_uri`);
    /// - URL-valued members, and their language-tagged variants (§2.2), are web URLs.
    ///
    /// [`ClientMetadataPolicy::check`](crate::ClientMetadataPolicy::check) applies this and more.
    pub fn validate(&self) -> Result<(), RegistrationError> {
        for uri in self.redirect_uris.iter().flatten() {
            RedirectUri::new(uri.as_str())
                .map_err(|reason| RegistrationError::invalid_redirect_uri(uri, reason))?;
        }
        self.validate_keys()?;
        self.validate_urls(checks::web_url)?;
        if let Some(jwks_uri) = &self.jwks_uri {
            checks::web_url("jwks_uri", jwks_uri)?;
        }
        Ok(())
    }

    /// §2: `jwks` and `jwks_uri` are exclusive, and `jwks` is a JWK Set.
    pub(crate) fn validate_keys(&self) -> Result<(), RegistrationError> {
        if self.jwks.is_some() && self.jwks_uri.is_some() {
            return Err(RegistrationError::JwksAndJwksUri);
        }
        if let Some(jwks) = &self.jwks {
            checks::jwks_shape(jwks)?;
        }
        Ok(())
    }

    /// The human-readable URL members and their language-tagged variants, checked with `rule`.
    pub(crate) fn validate_urls(
        &self,
        rule: fn(&str, &str) -> Result<(), RegistrationError>,
    ) -> Result<(), RegistrationError> {
        let named = [
            ("client_uri", &self.client_uri),
            ("logo_uri", &self.logo_uri),
            ("tos_uri", &self.tos_uri),
            ("policy_uri", &self.policy_uri),
        ];
        for (field, value) in named {
            if let Some(value) = value {
                rule(field, value)?;
            }
        }
        for (key, value) in &self.extra {
            if let Some((_, true)) = checks::language_tagged(key) {
                checks::language_tagged_value(key, true, value, rule)?;
            }
        }
        Ok(())
    }
}

/// Builds a [`ClientMetadata`] document (a client's registration request, or what a server
/// returns).
#[derive(Debug, Clone)]
pub struct ClientMetadataBuilder {
    metadata: ClientMetadata,
}

impl ClientMetadataBuilder {
    /// Adds a redirect URI.
    pub fn redirect_uri(mut self, uri: RedirectUri) -> Self {
        self.metadata
            .redirect_uris
            .get_or_insert_with(Vec::new)
            .push(uri.into());
        self
    }

    /// Sets `token_endpoint_auth_method`.
    pub fn token_endpoint_auth_method(mut self, method: TokenEndpointAuthMethod) -> Self {
        self.metadata.token_endpoint_auth_method = Some(method);
        self
    }

    /// Sets `grant_types`.
    pub fn grant_types(mut self, grant_types: impl IntoIterator<Item = GrantType>) -> Self {
        self.metadata.grant_types = Some(grant_types.into_iter().collect());
        self
    }

    /// Sets `response_types`.
    pub fn response_types(
        mut self,
        response_types: impl IntoIterator<Item = ResponseType>,
    ) -> Self {
        self.metadata.response_types = Some(response_types.into_iter().collect());
        self
    }

    /// Sets `client_name`.
    pub fn client_name(mut self, name: impl Into<String>) -> Self {
        self.metadata.client_name = Some(name.into());
        self
    }

    /// Sets `client_uri`.
    pub fn client_uri(mut self, uri: impl Into<String>) -> Self {
        self.metadata.client_uri = Some(uri.into());
        self
    }

    /// Sets `logo_uri`.
    pub fn logo_uri(mut self, uri: impl Into<String>) -> Self {
        self.metadata.logo_uri = Some(uri.into());
        self
    }

    /// Sets `scope`.
    pub fn scope(mut self, scope: ScopeSet) -> Self {
        self.metadata.scope = Some(scope);
        self
    }

    /// Adds a contact.
    pub fn contact(mut self, contact: impl Into<String>) -> Self {
        self.metadata
            .contacts
            .get_or_insert_with(Vec::new)
            .push(contact.into());
        self
    }

    /// Sets `tos_uri`.
    pub fn tos_uri(mut self, uri: impl Into<String>) -> Self {
        self.metadata.tos_uri = Some(uri.into());
        self
    }

    /// Sets `policy_uri`.
    pub fn policy_uri(mut self, uri: impl Into<String>) -> Self {
        self.metadata.policy_uri = Some(uri.into());
        self
    }

    /// Sets `jwks_uri`.
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.metadata.jwks_uri = Some(uri.into());
        self
    }

    /// Sets `jwks`.
    pub fn jwks(mut self, jwks: Value) -> Self {
        self.metadata.jwks = Some(jwks);
        self
    }

    /// Sets `software_id`.
    pub fn software_id(mut self, id: impl Into<String>) -> Self {
        self.metadata.software_id = Some(id.into());
        self
    }

    /// Sets `software_version`.
    pub fn software_version(mut self, version: impl Into<String>) -> Self {
        self.metadata.software_version = Some(version.into());
        self
    }

    /// Sets `dpop_bound_access_tokens` (RFC 9449 §5.2).
    pub fn dpop_bound_access_tokens(mut self, bound: bool) -> Self {
        self.metadata.dpop_bound_access_tokens = Some(bound);
        self
    }

    /// Sets `software_statement`.
    pub fn software_statement(mut self, statement: impl Into<String>) -> Self {
        self.metadata.software_statement = Some(statement.into());
        self
    }

    /// Sets `application_type`.
    pub fn application_type(mut self, application_type: ApplicationType) -> Self {
        self.metadata.application_type = Some(application_type);
        self
    }

    /// Adds a member this crate does not name, e.g. `client_name#fr`.
    pub fn extra(mut self, name: impl Into<String>, value: Value) -> Self {
        self.metadata.extra.insert(name.into(), value);
        self
    }

    /// The document.
    pub fn build(self) -> ClientMetadata {
        self.metadata
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn application_type_round_trips_unknown_values() {
        assert_eq!(ApplicationType::parse("web"), Ok(ApplicationType::Web));
        let other = ApplicationType::parse("browser").unwrap();
        assert!(!other.is_known());
        assert_eq!(serde_json::to_string(&other).unwrap(), "\"browser\"");
    }

    #[test]
    fn builder_fills_the_members() {
        let m = ClientMetadata::builder()
            .redirect_uri(RedirectUri::new("http://localhost:3000/callback").unwrap())
            .client_name("Example")
            .extra("client_name#fr", Value::from("Exemple"))
            .build();
        let json: Value = serde_json::from_str(&m.to_json()).unwrap();
        assert_eq!(json["redirect_uris"][0], "http://localhost:3000/callback");
        assert_eq!(json["client_name#fr"], "Exemple");
        assert!(json.get("grant_types").is_none());
    }

    #[test]
    fn rfc7591_section_2_jwks_and_jwks_uri_must_not_both_be_present() {
        let m = ClientMetadata::builder()
            .jwks(serde_json::json!({"keys": []}))
            .jwks_uri("https://client.example.org/jwks")
            .build();
        assert_eq!(m.validate(), Err(RegistrationError::JwksAndJwksUri));
    }

    #[test]
    fn rfc7591_section_2_2_language_tagged_urls_are_checked() {
        let m = ClientMetadata::builder()
            .extra("client_uri#fr", Value::from("javascript:alert(1)"))
            .build();
        assert!(matches!(
            m.validate(),
            Err(RegistrationError::InvalidUrl { field, .. }) if field == "client_uri#fr"
        ));
    }
}
