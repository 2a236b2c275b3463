//! What client metadata this server accepts, and the decision for one document.

use std::collections::BTreeMap;

use gatehouse_types::uri::is_loopback_host;
use gatehouse_types::{
    ClientId, GrantType, RedirectUri, ResponseType, ScopeSet, TokenEndpointAuthMethod,
};

use crate::{
    ApplicationType, ClientIdMetadataDocument, ClientMetadata, ClientUpdateRequest,
    RegisteredClientMetadata, RegistrationError, checks,
};

/// Most redirect URIs one client may register. Desktop clients register a handful (VS Code:
/// its web redirect plus loopback ones); the bound keeps one client from bloating storage.
pub const DEFAULT_MAX_REDIRECT_URIS: usize = 32;

/// Most contacts one client may register.
pub const MAX_CONTACTS: usize = 16;

/// Most language-tagged members kept for one client.
pub const MAX_LANGUAGE_TAGGED: usize = 64;

/// Which requested scopes a client may register.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ScopeRule {
    /// Any syntactically valid scope is registered as requested; which scopes a token may carry
    /// is decided at authorization time.
    AcceptAny,
    /// Only these scopes are registered; others are removed from the registration.
    /// [RFC 7591 §3.2.1](https://www.rfc-editor.org/rfc/rfc7591#section-3.2.1): the server "MAY
    /// reject or replace any of the client's requested metadata values submitted during the
    /// registration and substitute them with suitable values", and the client sees what was kept
    /// in the response. This keeps clients working that ask for scopes this server never heard of.
    Narrow(ScopeSet),
    /// Only these scopes; a request for another is refused with `invalid_client_metadata`.
    Restrict(ScopeSet),
}

/// What to do with a `software_statement`
/// ([RFC 7591 §2.3](https://www.rfc-editor.org/rfc/rfc7591#section-2.3)). Verifying one needs
/// trusted keys, which this crate does not have; either way its syntax is checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SoftwareStatementRule {
    /// Ignore it: "The authorization server MAY ignore the software statement if it does not
    /// support this feature" (RFC 7591 §2.3). Its claims are not applied; the value is kept only
    /// to be returned unmodified, as RFC 7591 §3.2.1 requires of a statement "used as part of the
    /// registration".
    Ignore,
    /// Refuse the registration with `unapproved_software_statement` (RFC 7591 §3.2.2).
    Refuse,
}

/// What client metadata this server accepts
/// ([RFC 7591 §2](https://www.rfc-editor.org/rfc/rfc7591#section-2)).
///
/// [`ClientMetadataPolicy::new`] is OAuth 2.1 for MCP: grant types `authorization_code` and
/// `refresh_token`; response type `code`; authentication methods `none` (public clients, which
/// MCP clients almost always are), `client_secret_basic` and `client_secret_post`; any scope;
/// software statements ignored.
///
/// [`check`](Self::check) applies the RFC 7591 §2 defaults, then the rules below, and returns the
/// [`RegisteredClientMetadata`]:
///
/// - omitted `grant_types` is `["authorization_code"]`, omitted `response_types` is `["code"]`,
///   omitted `token_endpoint_auth_method` is `client_secret_basic`, as RFC 7591 §2 says. A client
///   that omits the method is therefore a confidential client and gets a secret; MCP clients
///   that cannot keep one send `none`.
/// - grant types and response types must be consistent (§2.1): `authorization_code` with `code`,
///   `implicit` with `token`; `refresh_token` needs no response type.
/// - `redirect_uris` is required (non-empty) with `authorization_code`, and every URI must pass
///   `gatehouse_types::RedirectUri` (else `invalid_redirect_uri`, with the reason).
/// - `application_type`:
///   - omitted: no extra rule. OpenID Connect Registration reads an omitted type as `web`, but
///     real MCP clients (OpenCode, older SDKs) register `http://localhost:PORT/callback` without
///     a type, and that must keep working; the redirect policy of `RedirectUri` (https, loopback
///     http, private-use schemes; never `javascript:` and friends) still applies.
///   - `native`: https, loopback http and private-use schemes
///     ([RFC 8252 §7](https://www.rfc-editor.org/rfc/rfc8252#section-7)).
///   - `web`: https on a non-loopback host only. OpenID Connect Registration §2: web clients
///     "MUST only register URLs using the https scheme as redirect_uris; they MUST NOT use
///     localhost as the hostname". A client that declares itself `web` and asks for a loopback
///     or private-use redirect is refused rather than silently treated as native.
///   - anything else: `invalid_client_metadata`.
/// - `jwks` and `jwks_uri` MUST NOT both be present (§2); `jwks` must be a JWK Set of public keys.
/// - `client_uri`, `logo_uri`, `tos_uri`, `policy_uri`, `jwks_uri` and their language-tagged
///   variants must be `https` web URLs: they are shown on the consent page or fetched, and this
///   is what stops `javascript:` links there.
/// - text members are non-empty, bounded and free of control characters; contacts likewise.
/// - members this crate does not understand are dropped: §2 "The authorization server MUST
///   ignore any client metadata sent by the client that it does not understand". Language-tagged
///   human-readable members (§2.2) are understood and kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientMetadataPolicy {
    grant_types: Vec<GrantType>,
    response_types: Vec<ResponseType>,
    auth_methods: Vec<TokenEndpointAuthMethod>,
    scopes: ScopeRule,
    software_statements: SoftwareStatementRule,
    max_redirect_uris: usize,
    no_grant_types: bool,
}

impl Default for ClientMetadataPolicy {
    /// [`ClientMetadataPolicy::new`]: OAuth 2.1 for MCP.
    fn default() -> Self {
        Self::new()
    }
}

impl ClientMetadataPolicy {
    /// The OAuth 2.1 policy for MCP described on [`ClientMetadataPolicy`].
    pub fn new() -> Self {
        Self {
            grant_types: vec![GrantType::AuthorizationCode, GrantType::RefreshToken],
            response_types: vec![ResponseType::Code],
            auth_methods: vec![
                TokenEndpointAuthMethod::None,
                TokenEndpointAuthMethod::ClientSecretBasic,
                TokenEndpointAuthMethod::ClientSecretPost,
            ],
            scopes: ScopeRule::AcceptAny,
            software_statements: SoftwareStatementRule::Ignore,
            max_redirect_uris: DEFAULT_MAX_REDIRECT_URIS,
            no_grant_types: false,
        }
    }

    /// A policy that admits exactly what `metadata` declares (its own grant types, response
    /// types and authentication method, any scope, any number of redirect URIs), with every
    /// structural rule of [`check`](Self::check) in force. Used to restore stored metadata: a
    /// server that narrows its policy later must still be able to read the clients it registered
    /// before; the narrower policy applies to their next update.
    pub(crate) fn admitting(metadata: &ClientMetadata) -> Self {
        Self {
            grant_types: metadata.grant_types.clone().unwrap_or_default(),
            response_types: metadata.response_types.clone().unwrap_or_default(),
            auth_methods: metadata
                .token_endpoint_auth_method
                .iter()
                .cloned()
                .collect(),
            scopes: ScopeRule::AcceptAny,
            software_statements: SoftwareStatementRule::Ignore,
            max_redirect_uris: usize::MAX,
            no_grant_types: metadata.grant_types.as_ref().is_some_and(Vec::is_empty),
        }
    }

    /// Replaces the grant types clients may register.
    pub fn with_grant_types(mut self, grant_types: impl IntoIterator<Item = GrantType>) -> Self {
        self.grant_types = grant_types.into_iter().collect();
        self
    }

    /// Replaces the response types clients may register.
    pub fn with_response_types(
        mut self,
        response_types: impl IntoIterator<Item = ResponseType>,
    ) -> Self {
        self.response_types = response_types.into_iter().collect();
        self
    }

    /// Replaces the token endpoint authentication methods clients may register.
    pub fn with_auth_methods(
        mut self,
        methods: impl IntoIterator<Item = TokenEndpointAuthMethod>,
    ) -> Self {
        self.auth_methods = methods.into_iter().collect();
        self
    }

    /// Sets which scopes clients may register.
    pub fn with_scopes(mut self, rule: ScopeRule) -> Self {
        self.scopes = rule;
        self
    }

    /// Sets what happens to software statements.
    pub fn with_software_statements(mut self, rule: SoftwareStatementRule) -> Self {
        self.software_statements = rule;
        self
    }

    /// Sets the most redirect URIs one client may register.
    pub fn with_max_redirect_uris(mut self, max: usize) -> Self {
        self.max_redirect_uris = max;
        self
    }

    /// Admits `grant_types: []`: a client that uses no grant at all and only authenticates, such
    /// as a resource server that introspects tokens (RFC 7662 §2.1). RFC 7591 §2 does not forbid
    /// the empty list, but a self-registering client that sends it has made a mistake, so only
    /// policies for clients an operator declares admit it.
    pub fn with_no_grant_types_admitted(mut self) -> Self {
        self.no_grant_types = true;
        self
    }

    /// The grant types clients may register (for `grant_types_supported`).
    pub fn grant_types(&self) -> &[GrantType] {
        &self.grant_types
    }

    /// The response types clients may register (for `response_types_supported`).
    pub fn response_types(&self) -> &[ResponseType] {
        &self.response_types
    }

    /// The authentication methods clients may register (for
    /// `token_endpoint_auth_methods_supported`).
    pub fn auth_methods(&self) -> &[TokenEndpointAuthMethod] {
        &self.auth_methods
    }

    /// Decides on a registration request: the registered metadata, or why not. See
    /// [`ClientMetadataPolicy`] for the rules.
    pub fn check(
        &self,
        metadata: &ClientMetadata,
    ) -> Result<RegisteredClientMetadata, RegistrationError> {
        if let Some(statement) = &metadata.software_statement {
            if self.software_statements == SoftwareStatementRule::Refuse {
                return Err(RegistrationError::UnapprovedSoftwareStatement);
            }
            checks::software_statement(statement)?;
        }
        let grant_types = self.grant_types_of(metadata)?;
        let response_types = self.response_types_of(metadata)?;
        check_consistency(&grant_types, &response_types)?;
        let token_endpoint_auth_method = self.auth_method_of(metadata)?;
        let application_type = application_type_of(metadata)?;
        let redirect_uris =
            self.redirect_uris_of(metadata, &grant_types, application_type.as_ref())?;

        metadata.validate_keys()?;
        if let Some(jwks) = &metadata.jwks {
            checks::jwks_public_only(jwks)?;
        }
        if let Some(jwks_uri) = &metadata.jwks_uri {
            checks::https_url("jwks_uri", jwks_uri)?;
        }
        metadata.validate_urls(checks::https_url)?;
        for (field, value) in [
            ("client_name", &metadata.client_name),
            ("software_id", &metadata.software_id),
            ("software_version", &metadata.software_version),
        ] {
            if let Some(value) = value {
                checks::text(field, value)?;
            }
        }
        let contacts = metadata.contacts.clone().unwrap_or_default();
        if contacts.len() > MAX_CONTACTS {
            return Err(RegistrationError::TooManyContacts { max: MAX_CONTACTS });
        }
        for contact in &contacts {
            checks::text("contacts", contact)?;
        }

        Ok(RegisteredClientMetadata {
            redirect_uris,
            token_endpoint_auth_method,
            grant_types,
            response_types,
            application_type,
            scope: self.scope_of(metadata)?,
            client_name: metadata.client_name.clone(),
            client_uri: metadata.client_uri.clone(),
            logo_uri: metadata.logo_uri.clone(),
            tos_uri: metadata.tos_uri.clone(),
            policy_uri: metadata.policy_uri.clone(),
            jwks_uri: metadata.jwks_uri.clone(),
            jwks: metadata.jwks.clone(),
            contacts,
            software_id: metadata.software_id.clone(),
            software_version: metadata.software_version.clone(),
            software_statement: metadata.software_statement.clone(),
            localized: localized_of(metadata)?,
            dpop_bound_access_tokens: metadata.dpop_bound_access_tokens.unwrap_or(false),
        })
    }

    /// Decides on an update request
    /// ([RFC 7592 §2.2](https://www.rfc-editor.org/rfc/rfc7592#section-2.2)) of the client
    /// `current`: the request's own rules ([`ClientUpdateRequest::validate_for`]), then
    /// [`check`](Self::check) on its metadata. The result replaces the whole registration:
    /// "Omitted fields MUST be treated as null or empty values by the server".
    ///
    /// A `client_secret` in the request is not compared here; the engine compares
    /// [`ClientUpdateRequest::client_secret`] with the stored one in constant time.
    pub fn check_update(
        &self,
        request: &ClientUpdateRequest,
        current: &ClientId,
    ) -> Result<RegisteredClientMetadata, RegistrationError> {
        request.validate_for(current)?;
        self.check(&request.metadata)
    }

    /// Decides on a Client ID Metadata Document fetched from `fetched_url`: the document's own
    /// rules ([`ClientIdMetadataDocument::validate`]), then [`check`](Self::check) with
    /// `token_endpoint_auth_method` defaulting to `none`, since a document can establish no
    /// shared secret.
    pub fn check_metadata_document(
        &self,
        document: &ClientIdMetadataDocument,
        fetched_url: &str,
    ) -> Result<RegisteredClientMetadata, RegistrationError> {
        document.validate(fetched_url)?;
        if document.metadata.token_endpoint_auth_method.is_some() {
            return self.check(&document.metadata);
        }
        let mut metadata = document.metadata.clone();
        metadata.token_endpoint_auth_method = Some(TokenEndpointAuthMethod::None);
        self.check(&metadata)
    }

    fn grant_types_of(
        &self,
        metadata: &ClientMetadata,
    ) -> Result<Vec<GrantType>, RegistrationError> {
        let grant_types = match &metadata.grant_types {
            None => vec![GrantType::AuthorizationCode],
            Some(requested) if requested.is_empty() && !self.no_grant_types => {
                return Err(RegistrationError::EmptyGrantTypes);
            }
            Some(requested) => dedupe(requested),
        };
        if let Some(unsupported) = grant_types.iter().find(|g| !self.grant_types.contains(g)) {
            return Err(RegistrationError::UnsupportedGrantType(
                unsupported.to_string(),
            ));
        }
        Ok(grant_types)
    }

    fn response_types_of(
        &self,
        metadata: &ClientMetadata,
    ) -> Result<Vec<ResponseType>, RegistrationError> {
        let response_types = match &metadata.response_types {
            None => vec![ResponseType::Code],
            Some(requested) => dedupe(requested),
        };
        if let Some(unsupported) = response_types
            .iter()
            .find(|r| !self.response_types.contains(r))
        {
            return Err(RegistrationError::UnsupportedResponseType(
                unsupported.to_string(),
            ));
        }
        Ok(response_types)
    }

    fn auth_method_of(
        &self,
        metadata: &ClientMetadata,
    ) -> Result<TokenEndpointAuthMethod, RegistrationError> {
        let method = metadata
            .token_endpoint_auth_method
            .clone()
            .unwrap_or(TokenEndpointAuthMethod::ClientSecretBasic);
        if !self.auth_methods.contains(&method) {
            return Err(RegistrationError::UnsupportedAuthMethod(method.to_string()));
        }
        if method == TokenEndpointAuthMethod::PrivateKeyJwt
            && metadata.jwks.is_none()
            && metadata.jwks_uri.is_none()
        {
            return Err(RegistrationError::MissingClientKeys);
        }
        Ok(method)
    }

    fn redirect_uris_of(
        &self,
        metadata: &ClientMetadata,
        grant_types: &[GrantType],
        application_type: Option<&ApplicationType>,
    ) -> Result<Vec<RedirectUri>, RegistrationError> {
        let requested = metadata.redirect_uris.as_deref().unwrap_or_default();
        if requested.len() > self.max_redirect_uris {
            return Err(RegistrationError::TooManyRedirectUris {
                max: self.max_redirect_uris,
            });
        }
        let mut redirect_uris: Vec<RedirectUri> = Vec::with_capacity(requested.len());
        for raw in requested {
            let uri = RedirectUri::new(raw.as_str())
                .map_err(|reason| RegistrationError::invalid_redirect_uri(raw, reason))?;
            if let Some(parameter) = reserved_parameter(&uri) {
                return Err(RegistrationError::reserved_redirect_parameter(
                    raw, parameter,
                ));
            }
            if application_type == Some(&ApplicationType::Web) && !is_web_redirect(&uri) {
                return Err(RegistrationError::web_client_redirect_uri(raw));
            }
            if !redirect_uris.contains(&uri) {
                redirect_uris.push(uri);
            }
        }
        let redirects = grant_types
            .iter()
            .any(|g| matches!(g, GrantType::AuthorizationCode | GrantType::Implicit));
        if redirects && redirect_uris.is_empty() {
            return Err(RegistrationError::MissingRedirectUris);
        }
        Ok(redirect_uris)
    }

    fn scope_of(&self, metadata: &ClientMetadata) -> Result<Option<ScopeSet>, RegistrationError> {
        let Some(requested) = &metadata.scope else {
            return Ok(None);
        };
        let registered = match &self.scopes {
            ScopeRule::AcceptAny => requested.clone(),
            ScopeRule::Narrow(allowed) => requested.intersection(allowed),
            ScopeRule::Restrict(allowed) => {
                if let Some(refused) = requested.iter().find(|s| !allowed.contains(s)) {
                    return Err(RegistrationError::ScopeNotAllowed(refused.to_string()));
                }
                requested.clone()
            }
        };
        // An empty set is registered as no scope: "scope": "" says nothing a client can use.
        Ok((!registered.is_empty()).then_some(registered))
    }
}

/// The authorization-response parameters a registered redirect URI must not already carry.
const RESERVED_REDIRECT_PARAMETERS: [&str; 6] = [
    "code",
    "state",
    "iss",
    "error",
    "error_description",
    "error_uri",
];

/// The first authorization-response parameter in the query of `uri`, if any.
fn reserved_parameter(uri: &RedirectUri) -> Option<&'static str> {
    let query = gatehouse_types::uri::split(uri.as_str())?.query?;
    let params = gatehouse_types::form::FormParams::parse(query.as_bytes()).ok()?;
    RESERVED_REDIRECT_PARAMETERS
        .into_iter()
        .find(|name| params.iter().any(|(n, _)| n == *name))
}

/// RFC 7591 §2.1: each grant type that uses the authorization endpoint comes with its response
/// type, and the reverse.
fn check_consistency(
    grant_types: &[GrantType],
    response_types: &[ResponseType],
) -> Result<(), RegistrationError> {
    let pairs = [
        (GrantType::AuthorizationCode, ResponseType::Code),
        (GrantType::Implicit, ResponseType::Token),
    ];
    for (grant_type, response_type) in pairs {
        if grant_types.contains(&grant_type) != response_types.contains(&response_type) {
            return Err(RegistrationError::InconsistentGrantAndResponseTypes {
                grant_type: grant_type.to_string(),
                response_type: response_type.to_string(),
            });
        }
    }
    Ok(())
}

fn application_type_of(
    metadata: &ClientMetadata,
) -> Result<Option<ApplicationType>, RegistrationError> {
    match &metadata.application_type {
        Some(t) if !t.is_known() => {
            Err(RegistrationError::UnsupportedApplicationType(t.to_string()))
        }
        other => Ok(other.clone()),
    }
}

/// An `https` redirect URI on a host that is not loopback: what a `web` client may register.
fn is_web_redirect(uri: &RedirectUri) -> bool {
    !uri.is_loopback()
        && !uri.is_private_use_scheme()
        && uri.host().is_some_and(|host| !is_loopback_host(host))
}

/// The language-tagged human-readable members (§2.2), checked; every other unknown member is
/// dropped (§2: "MUST ignore any client metadata sent by the client that it does not
/// understand").
fn localized_of(metadata: &ClientMetadata) -> Result<BTreeMap<String, String>, RegistrationError> {
    let mut localized = BTreeMap::new();
    for (key, value) in &metadata.extra {
        let Some((_, is_url)) = checks::language_tagged(key) else {
            continue;
        };
        checks::language_tagged_value(key, is_url, value, checks::https_url)?;
        if localized.len() == MAX_LANGUAGE_TAGGED {
            return Err(RegistrationError::TooManyLanguageTags {
                max: MAX_LANGUAGE_TAGGED,
            });
        }
        if let Some(text) = value.as_str() {
            localized.insert(key.clone(), text.to_owned());
        }
    }
    Ok(localized)
}

fn dedupe<T: PartialEq + Clone>(items: &[T]) -> Vec<T> {
    let mut out: Vec<T> = Vec::with_capacity(items.len());
    for item in items {
        if !out.contains(item) {
            out.push(item.clone());
        }
    }
    out
}
