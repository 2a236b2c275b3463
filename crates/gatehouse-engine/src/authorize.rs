//! The authorization endpoint's decisions (OAuth 2.1 §4.1.1, §4.1.2): validating a request,
//! issuing a code when the user approves, and the error redirect when they do not.
//!
//! The order of checks matters: until the client and its redirect URI are established, an error
//! is shown to the user and never redirected (OAuth 2.1 §4.1.2.1: "the authorization server
//! SHOULD inform the resource owner of the error and MUST NOT automatically redirect the user
//! agent to the invalid redirection URI"). After that, errors go back to the client with `error`,
//! `error_description`, `state` and `iss` (RFC 9207).

use gatehouse_resource_indicators::{ResourceUri, resolve_resources};
use gatehouse_types::form::{FormParams, encode};
use gatehouse_types::{ClientId, ErrorCode, GrantType, RedirectUri, ScopeSet, UnixTime};
use serde::{Deserialize, Serialize};

use crate::error::EndpointError;
use crate::opaque::{self, CredentialHash, CredentialKind};
use crate::store::{ClientRecord, CodeRecord, Store};
use crate::{CodeChallenge, Engine, RandomSource};

/// A validated authorization request, kept by the caller while the user signs in and consents
/// (the webauthn-rs pattern: the engine holds no state between the two steps).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AuthorizationRequest {
    client_id: ClientId,
    redirect_uri: RedirectUri,
    redirect_uri_was_explicit: bool,
    state: Option<String>,
    challenge: CodeChallenge,
    scopes: ScopeSet,
    resources: Vec<ResourceUri>,
    dpop_jkt: Option<String>,
}

impl AuthorizationRequest {
    /// The DPoP key the code is to be bound to (`dpop_jkt`, RFC 9449 §10), if the client named
    /// one.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.dpop_jkt.as_deref()
    }

    /// The client.
    pub fn client_id(&self) -> &ClientId {
        &self.client_id
    }

    /// Where the user agent goes back to.
    pub fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }

    /// The client's `state`, returned unchanged.
    pub fn state(&self) -> Option<&str> {
        self.state.as_deref()
    }

    /// The scopes that will be granted (after dropping unknown ones and applying defaults).
    pub fn scopes(&self) -> &ScopeSet {
        &self.scopes
    }

    /// The resources the grant is for.
    pub fn resources(&self) -> &[ResourceUri] {
        &self.resources
    }
}

/// Why an authorization request was refused, and how to tell.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizeError {
    /// Show this to the user: the client or redirect URI could not be established, so there is
    /// nowhere safe to redirect to. The description may quote request input (such as an unknown
    /// `client_id`): escape it when rendering HTML.
    #[error("{0}")]
    Display(EndpointError),
    /// Redirect the user agent to this URL, which carries the error for the client.
    ///
    /// The URL is a registered redirect URI of the client. For clients that registered
    /// themselves ([`crate::store::ClientRecord::is_dynamically_registered`]) the HTTP layer
    /// should not send the user there unannounced: RFC 9700 §4.11.2 describes attackers who
    /// register a client and send deliberately broken requests to use the authorization server
    /// as an open redirector.
    #[error("the request was refused; the client is told at its redirect URI")]
    Redirect(String),
}

/// Parameters that may appear more than once ([RFC 8707 §2](https://www.rfc-editor.org/rfc/rfc8707#section-2)).
const REPEATABLE: &[&str] = &["resource"];

/// `url` with `params` added to its query, as OAuth 2.1 §4.1.2 requires ("adding the following
/// parameters to the query component of the redirect URI").
fn with_query(url: &str, params: &[(&str, &str)]) -> String {
    let separator = match url.find('?') {
        None => "?",
        Some(_) if url.ends_with('?') || url.ends_with('&') => "",
        Some(_) => "&",
    };
    format!("{url}{separator}{}", encode(params.iter().copied()))
}

/// The client an authorization request names (its `client_id`), for the caller to resolve
/// before [`Engine::validate_authorization`]. A missing or malformed `client_id` is shown to the
/// person, never redirected (OAuth 2.1 §4.1.2.1).
pub fn requested_client(params: &FormParams) -> Result<ClientId, AuthorizeError> {
    let display =
        |description: String| AuthorizeError::Display(EndpointError::invalid_request(description));
    let client_id = params
        .single("client_id")
        .map_err(|e| display(e.to_string()))?
        .ok_or_else(|| display("client_id is required".into()))?;
    ClientId::new(client_id).map_err(|e| display(e.to_string()))
}

/// 32 bytes in base64url without padding: 43 characters of its alphabet, the last of which
/// carries only 4 bits.
fn is_sha256_thumbprint(value: &str) -> bool {
    value.len() == 43
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && value
            .bytes()
            .last()
            .is_some_and(|b| b"AEIMQUYcgkosw048".contains(&b))
}

impl<S: Store> Engine<S> {
    /// Validates an authorization request from its query (GET) or form (POST) parameters, with
    /// the client the caller resolved for [`requested_client`] (`None`: no such client).
    pub fn validate_authorization(
        &self,
        params: &FormParams,
        client: Option<&ClientRecord>,
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        let (client, redirect_uri, explicit) = client_and_redirect(params, client)?;
        let state = params.single("state").ok().flatten().map(str::to_owned);
        let fail = |code: ErrorCode, description: &str| {
            AuthorizeError::Redirect(self.error_redirect(
                &redirect_uri,
                state.as_deref(),
                code,
                description,
            ))
        };

        if let Err(error) = params.refuse_repeats(REPEATABLE) {
            return Err(fail(ErrorCode::InvalidRequest, &error.to_string()));
        }
        match params.single("response_type").ok().flatten() {
            None => return Err(fail(ErrorCode::InvalidRequest, "response_type is required")),
            Some("code") => {}
            Some(_) => {
                return Err(fail(
                    ErrorCode::UnsupportedResponseType,
                    "only response_type=code is supported (OAuth 2.1 section 4.1.1)",
                ));
            }
        }
        if !client
            .metadata
            .has_grant_type(&GrantType::AuthorizationCode)
        {
            return Err(fail(
                ErrorCode::UnauthorizedClient,
                "the client is not registered for the authorization_code grant",
            ));
        }
        let challenge = CodeChallenge::from_request(
            params.single("code_challenge").ok().flatten(),
            params.single("code_challenge_method").ok().flatten(),
        )
        .map_err(|e| fail(ErrorCode::InvalidRequest, &e.to_string()))?;
        let requested_scopes = ScopeSet::parse(params.single("scope").ok().flatten().unwrap_or(""))
            .map_err(|e| fail(ErrorCode::InvalidScope, &e.to_string()))?;
        let requested_resources: Vec<&str> = params.all("resource").collect();
        let resources = if requested_resources.is_empty() {
            self.infer_resources(&requested_scopes)
        } else {
            self.resolve(&requested_resources)
                .map_err(|e| fail(ErrorCode::InvalidTarget, &e.to_string()))?
        };
        // RFC 9449 §10: "the JWK SHA-256 Thumbprint … of the proof-of-possession public key"
        // the code is to be bound to: 32 bytes, base64url without padding.
        let dpop_jkt = match params.single("dpop_jkt").ok().flatten() {
            None => None,
            Some(jkt) if is_sha256_thumbprint(jkt) => Some(jkt.to_owned()),
            Some(_) => {
                return Err(fail(
                    ErrorCode::InvalidRequest,
                    "dpop_jkt must be a JWK SHA-256 thumbprint, base64url-encoded (RFC 9449 section 10)",
                ));
            }
        };
        let scopes = self.grantable_scopes(client, &resources, &requested_scopes);
        if scopes.is_empty() && !self.resources_have_no_scopes(&resources) {
            // RFC 6749 §3.3: "process the request using a pre-defined default value or fail the
            // request indicating an invalid scope requirement" — there is no default left.
            return Err(fail(
                ErrorCode::InvalidScope,
                "none of the requested scopes can be granted to this client, and it has no default",
            ));
        }

        Ok(AuthorizationRequest {
            client_id: client.client_id.clone(),
            redirect_uri,
            redirect_uri_was_explicit: explicit,
            state,
            challenge,
            scopes,
            resources,
            dpop_jkt,
        })
    }

    /// The user approved: issues a code bound to the request and `subject` and returns the
    /// redirect URL carrying `code`, `state` and `iss` (RFC 9207 §2). `client` is the request's
    /// client as the caller resolved it now (`None`: it no longer exists).
    pub async fn approve(
        &self,
        request: &AuthorizationRequest,
        client: Option<&ClientRecord>,
        subject: &str,
        rng: &mut impl RandomSource,
        now: UnixTime,
    ) -> Result<String, AuthorizeError> {
        self.recheck(request, client)?;
        let groups = match self.groups_for(subject).await {
            Ok(groups) => groups,
            Err(error) => {
                let error = EndpointError::from(error);
                return Err(AuthorizeError::Redirect(self.error_redirect(
                    &request.redirect_uri,
                    request.state.as_deref(),
                    error.code().clone(),
                    error.description(),
                )));
            }
        };
        let who = gatehouse_types::policy::Who {
            subject,
            groups: &groups,
        };
        let request = self.for_subject(request, who)?;
        let code = opaque::generate(CredentialKind::Code, rng);
        let record = CodeRecord {
            hash: CredentialHash::of(code.expose_secret()),
            client_id: request.client_id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            redirect_uri_was_explicit: request.redirect_uri_was_explicit,
            challenge: request.challenge.clone(),
            scopes: request.scopes.clone(),
            resources: request.resources.clone(),
            subject: subject.to_owned(),
            issued_at: now,
            expires_at: now.saturating_add_secs(self.config().code_ttl_secs),
            dpop_jkt: request.dpop_jkt.clone(),
        };
        if let Err(error) = self.store().insert_code(record).await {
            let error = EndpointError::from(error);
            return Err(AuthorizeError::Redirect(self.error_redirect(
                &request.redirect_uri,
                request.state.as_deref(),
                error.code().clone(),
                error.description(),
            )));
        }
        let mut params = vec![("code", code.expose_secret())];
        if let Some(state) = &request.state {
            params.push(("state", state));
        }
        params.push(("iss", self.config().issuer()));
        Ok(with_query(request.redirect_uri.as_str(), &params))
    }

    /// The request as `who` may have it: its scopes narrowed to those the scope policy lets
    /// them (a subject, and their groups) hold through the request's client (what the consent page shows, and what the
    /// code carries). `Err` is the `access_denied` redirect when the request was for scopes and
    /// the policy lets this person hold none of them (RFC 6749 §4.1.2.1).
    pub fn for_subject<'a>(
        &self,
        request: &AuthorizationRequest,
        who: impl Into<gatehouse_types::policy::Who<'a>>,
    ) -> Result<AuthorizationRequest, AuthorizeError> {
        let policy = &self.config().scope_policy;
        let mut narrowed = request.clone();
        narrowed.scopes = policy.permitted(who, request.client_id.as_str(), &request.scopes);
        if narrowed.scopes.is_empty() && !request.scopes.is_empty() {
            return Err(AuthorizeError::Redirect(self.error_redirect(
                &request.redirect_uri,
                request.state.as_deref(),
                ErrorCode::AccessDenied,
                "the scope policy lets this person hold none of the requested scopes through this client",
            )));
        }
        Ok(narrowed)
    }

    /// Checks again what [`Engine::validate_authorization`] established, against the client as
    /// it is now: it may have been deleted or changed while the user was signing in, and an
    /// `AuthorizationRequest` that was kept anywhere but on the server could have been altered.
    fn recheck(
        &self,
        request: &AuthorizationRequest,
        client: Option<&ClientRecord>,
    ) -> Result<(), AuthorizeError> {
        let display = |description: &str| {
            AuthorizeError::Display(EndpointError::invalid_request(description))
        };
        let client = client
            .filter(|client| client.client_id == request.client_id)
            .ok_or_else(|| display("the client no longer exists"))?;
        if !client.metadata.allows_redirect_uri(&request.redirect_uri) {
            return Err(display(
                "the redirect_uri is no longer registered for this client",
            ));
        }
        let configured = request
            .resources
            .iter()
            .all(|r| self.config().resource(r).is_some());
        let grantable = self.grantable_scopes(client, &request.resources, &request.scopes);
        if !configured || !request.scopes.is_subset(&grantable) {
            return Err(display(
                "the authorization request is no longer valid; start again",
            ));
        }
        Ok(())
    }

    /// The user denied (or could not sign in): the `access_denied` redirect.
    pub fn deny(&self, request: &AuthorizationRequest) -> String {
        self.error_redirect(
            &request.redirect_uri,
            request.state.as_deref(),
            ErrorCode::AccessDenied,
            "the resource owner denied the request",
        )
    }

    /// An error redirect: `error`, `error_description`, `state` and `iss`.
    fn error_redirect(
        &self,
        redirect_uri: &RedirectUri,
        state: Option<&str>,
        code: ErrorCode,
        description: &str,
    ) -> String {
        let description = gatehouse_types::ErrorDescription::sanitized(description);
        let mut params = vec![
            ("error", code.as_str()),
            ("error_description", description.as_str()),
        ];
        if let Some(state) = state {
            params.push(("state", state));
        }
        params.push(("iss", self.config().issuer()));
        with_query(redirect_uri.as_str(), &params)
    }

    /// The configured resources named by `requested`, or the default resource.
    pub(crate) fn resolve(
        &self,
        requested: &[&str],
    ) -> Result<Vec<ResourceUri>, gatehouse_resource_indicators::InvalidTarget> {
        let configured: Vec<ResourceUri> = self
            .config()
            .resources()
            .iter()
            .map(|r| r.resource.clone())
            .collect();
        let default = self.config().default_resource().map(|r| &r.resource);
        resolve_resources(requested, &configured, default)
    }

    /// The resources a request without `resource` is for: the one resource that understands the
    /// requested scopes, if exactly one does (RFC 9068 §3: the server "SHOULD use it to infer the
    /// value of the default resource indicator"), else the default resource.
    pub(crate) fn infer_resources(&self, requested: &ScopeSet) -> Vec<ResourceUri> {
        let mut matching = self
            .config()
            .resources()
            .iter()
            .filter(|r| !requested.intersection(&r.scopes_supported).is_empty());
        match (matching.next(), matching.next()) {
            (Some(only), None) => vec![only.resource.clone()],
            _ => self
                .config()
                .default_resource()
                .map(|r| vec![r.resource.clone()])
                .unwrap_or_default(),
        }
    }

    /// Whether none of `resources` defines any scope (then an empty grant is the only one).
    pub(crate) fn resources_have_no_scopes(&self, resources: &[ResourceUri]) -> bool {
        resources
            .iter()
            .filter_map(|r| self.config().resource(r))
            .all(|r| r.scopes_supported.is_empty() && r.default_scopes.is_empty())
    }

    /// The requested scopes the resources understand (and the client registered, if it
    /// registered any); unknown scopes are dropped, and an empty result falls back to the
    /// resources' defaults.
    pub(crate) fn grantable_scopes(
        &self,
        client: &ClientRecord,
        resources: &[ResourceUri],
        requested: &ScopeSet,
    ) -> ScopeSet {
        let mut supported = ScopeSet::new();
        let mut defaults = ScopeSet::new();
        for resource in resources.iter().filter_map(|r| self.config().resource(r)) {
            for scope in &resource.scopes_supported {
                supported.insert(scope.clone());
            }
            for scope in &resource.default_scopes {
                defaults.insert(scope.clone());
            }
        }
        // A registered `scope` (RFC 7591 §2) limits what a vetted client may ask for. For a
        // client that registered or described itself it limits nothing (it could register again
        // with any scope), and honouring it would break MCP step-up authorization: SDKs
        // register with the first challenge's scope (SEP-835) and later re-authorize for more.
        if let Some(registered) = client.metadata.scope()
            && client.is_vetted()
        {
            supported = supported.intersection(registered);
            defaults = defaults.intersection(registered);
        }
        let granted = requested.intersection(&supported);
        if granted.is_empty() {
            defaults
        } else {
            granted
        }
    }
}

/// Establishes the client and the redirect URI; every failure here is [`AuthorizeError::Display`].
fn client_and_redirect<'a>(
    params: &FormParams,
    client: Option<&'a ClientRecord>,
) -> Result<(&'a ClientRecord, RedirectUri, bool), AuthorizeError> {
    let display =
        |description: String| AuthorizeError::Display(EndpointError::invalid_request(description));
    let client_id = requested_client(params)?;
    let client = client
        .filter(|client| client.client_id == client_id)
        .ok_or_else(|| display(format!("unknown client_id {client_id}")))?;
    let requested = params
        .single("redirect_uri")
        .map_err(|e| display(e.to_string()))?;
    match requested {
        Some(requested) => {
            let uri = RedirectUri::new(requested)
                .map_err(|e| display(format!("redirect_uri is not acceptable: {e}")))?;
            if !client.metadata.allows_redirect_uri(&uri) {
                return Err(display(
                    "redirect_uri is not registered for this client (OAuth 2.1 section 4.1.1: exact match)"
                        .into(),
                ));
            }
            Ok((client, uri, true))
        }
        // OAuth 2.1 §4.1.1: redirect_uri is "OPTIONAL if only one redirect URI is registered for
        // this client. REQUIRED if multiple redirect URIs are registered".
        None => match client.metadata.redirect_uris() {
            [only] => Ok((client, only.clone(), false)),
            _ => Err(display(
                "redirect_uri is required: the client registered several".into(),
            )),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::with_query;

    #[test]
    fn oauth21_section_4_1_2_parameters_join_an_existing_query() {
        assert_eq!(
            with_query("https://c.example/cb", &[("code", "x")]),
            "https://c.example/cb?code=x"
        );
        assert_eq!(
            with_query("https://c.example/cb?tenant=a", &[("code", "x")]),
            "https://c.example/cb?tenant=a&code=x"
        );
        assert_eq!(
            with_query("https://c.example/cb?", &[("code", "x")]),
            "https://c.example/cb?code=x"
        );
        assert_eq!(
            with_query("https://c.example/cb", &[("state", "a b&c")]),
            "https://c.example/cb?state=a+b%26c"
        );
    }
}
