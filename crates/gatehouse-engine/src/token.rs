//! The token endpoint's decisions ([OAuth 2.1 §3.2](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1#section-3.2)):
//! client authentication, the `authorization_code` and `refresh_token` grants, access tokens,
//! and refresh rotation with reuse detection (RFC 9700 §4.14.2).

use std::fmt;

use gatehouse_jose::dpop::VerifiedProof;
use gatehouse_jose::{AccessTokenClaims, Audience, SigningKey, sign_access_token};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::form::FormParams;
use gatehouse_types::policy::Who;
use gatehouse_types::{
    ClientId, ErrorCode, GrantType, ScopeSet, TokenEndpointAuthMethod, UnixTime,
};
use serde::Serialize;
use zeroize::Zeroizing;

use crate::client_auth::ClaimedClient;
use crate::dpop::DpopHeader;
use crate::error::{EndpointError, Reuse};
use crate::opaque::{self, CREDENTIAL_BYTES, CredentialHash, CredentialKind};
use crate::store::{
    AccessTokenRecord, ClientRecord, CodeRecord, FamilyId, RefreshRecord, RefreshState,
    RotateOutcome, Store, TakeCode,
};
use crate::{CodeVerifier, Engine, RandomSource};

/// A successful token response ([RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)).
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    /// The RFC 9068 access token.
    pub access_token: String,
    /// `Bearer`, or `DPoP` for a token bound to the key of the request's DPoP proof (RFC 9449
    /// §5).
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The (new) refresh token, if the client may refresh.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refresh_token: Option<String>,
    /// The granted scopes (RFC 6749 §5.1: REQUIRED if they differ from the requested ones;
    /// always sent, which MCP clients expect).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// RFC 8693 §2.2.1: the type of the issued token, REQUIRED in a token exchange answer.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub issued_token_type: Option<&'static str>,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("expires_in", &self.expires_in)
            .field(
                "refresh_token",
                &self.refresh_token.as_ref().map(|_| "[redacted]"),
            )
            .field("scope", &self.scope)
            .finish()
    }
}

/// Parameters that may repeat in a token request (RFC 8707 `resource`).
/// RFC 8707 `resource`, and RFC 8693 §2.1 `audience` ("Multiple audience parameters may be
/// used").
const REPEATABLE: &[&str] = &["resource", "audience"];

/// A token request, parsed: the form and the client it claims to come from. The first step of
/// the token endpoint; the caller then resolves [`TokenRequest::client`] and calls
/// [`Engine::token`].
#[derive(Debug)]
pub struct TokenRequest {
    form: FormParams,
    client: ClaimedClient,
    /// The identity provider that issued an ID-JAG `assertion`, resolved by the caller.
    trusted: Option<crate::id_jag::TrustedIssuer>,
    /// The `DPoP` header, if any (RFC 9449 §5).
    dpop: DpopHeader,
}

impl TokenRequest {
    /// Parses the form body and the `Authorization` header value, if any.
    pub fn parse(body: &[u8], authorization: Option<&str>) -> Result<Self, EndpointError> {
        let form =
            FormParams::parse(body).map_err(|e| EndpointError::invalid_request(e.to_string()))?;
        form.refuse_repeats(REPEATABLE)
            .map_err(|e| EndpointError::invalid_request(e.to_string()))?;
        let client = ClaimedClient::parse(&form, authorization)?;
        Ok(Self {
            form,
            client,
            trusted: None,
            dpop: DpopHeader::Absent,
        })
    }

    /// The values of the request's `DPoP` headers (RFC 9449 §4.1): at most one is accepted;
    /// a value that is not text should be passed as it is lossily read, and fails as a proof.
    pub fn with_dpop_headers<'a>(mut self, values: impl IntoIterator<Item = &'a str>) -> Self {
        self.dpop = DpopHeader::from_values(values);
        self
    }

    /// For the `jwt-bearer` grant: the `iss` of its `assertion`, read without verifying it, so
    /// that the caller can resolve the identity provider it names and fetch its keys
    /// ([`TokenRequest::provide_trusted_issuer`]). Nothing read here is trusted.
    pub fn assertion_issuer(&self) -> Option<String> {
        if self.form.single("grant_type").ok().flatten() != Some(GrantType::JwtBearer.as_str()) {
            return None;
        }
        let assertion = self.form.single("assertion").ok().flatten()?;
        gatehouse_jose::dangerous_peek_issuer_and_subject(assertion).and_then(|(iss, _)| iss)
    }

    /// Hands over the identity provider [`TokenRequest::assertion_issuer`] names, if the operator
    /// trusts it for ID-JAGs, with its keys.
    pub fn provide_trusted_issuer(&mut self, trusted: crate::id_jag::TrustedIssuer) {
        self.trusted = Some(trusted);
    }

    /// The client the request claims to come from: resolve it, then call [`Engine::token`].
    /// The identity provider an RFC 8693 exchange asks the person's token at
    /// (`grant_type` token-exchange with `audience=upstream:{id}` alone), if it does: such a
    /// request goes to [`Engine::upstream_exchange`].
    pub fn upstream_audience(&self) -> Option<&str> {
        let exchange = self.form.single("grant_type").ok().flatten()
            == Some(GrantType::TokenExchange.as_str());
        exchange
            .then(|| crate::exchange::upstream_audience(&self.form))
            .flatten()
    }

    /// The claimed client.
    pub fn client(&self) -> &ClaimedClient {
        &self.client
    }

    /// The same, to hand it the keys fetched from its `jwks_uri`
    /// ([`ClaimedClient::provide_keys`]).
    pub fn client_mut(&mut self) -> &mut ClaimedClient {
        &mut self.client
    }
}

/// The keys the token endpoint works with: the current signing key, and every key whose tokens
/// are still accepted (to verify a token presented for exchange, RFC 8693).
#[derive(Debug, Clone, Copy)]
pub struct ServerKeys<'a> {
    /// Signs what is issued.
    pub signing: &'a SigningKey,
    /// Verifies this server's own tokens.
    pub verifying: &'a gatehouse_jose::KeySet,
}

/// What the token endpoint issued, with what an event or a metric needs, so that nobody has to
/// work it out again from the response.
#[derive(Debug)]
#[non_exhaustive]
pub struct Issued {
    /// The response to send.
    pub response: TokenResponse,
    /// The claims of the access token in it.
    pub claims: AccessTokenClaims,
    /// The authenticated client.
    pub client: ClientRecord,
    /// The grant that was used.
    pub grant_type: GrantType,
}

/// What signs the access tokens of one request, and the DPoP key they are bound to, if the
/// request carried a proof (RFC 9449 §6: `cnf.jkt`).
pub(crate) struct Signer<'a> {
    pub(crate) key: &'a SigningKey,
    pub(crate) jkt: Option<&'a str>,
}

/// The grant an access token is issued for.
pub(crate) struct Grant<'a> {
    pub(crate) family: &'a FamilyId,
    pub(crate) client_id: &'a ClientId,
    pub(crate) subject: &'a str,
    /// The subject's groups, where the scope matrix names groups (`Engine::groups_for`).
    pub(crate) groups: &'a [String],
    pub(crate) scopes: &'a ScopeSet,
    pub(crate) resources: &'a [ResourceUri],
    /// RFC 8693 §4.1: who acts for the subject, for an exchanged token.
    pub(crate) act: Option<serde_json::Value>,
    /// The latest the token may expire (an exchanged token outlives no subject token).
    pub(crate) not_after: Option<UnixTime>,
}

/// An access token just signed, its record, and its claims.
pub(crate) struct Minted {
    pub(crate) token: String,
    pub(crate) record: AccessTokenRecord,
    pub(crate) claims: AccessTokenClaims,
    pub(crate) scopes: ScopeSet,
}

impl<S: Store> Engine<S> {
    /// Decides a token request whose client the caller resolved (`client`: the record of
    /// [`TokenRequest::client`]'s id, or `None` if there is none), and commits what the grant
    /// needs: a code taken once, a refresh token rotated, a family revoked on reuse.
    pub async fn token(
        &self,
        request: TokenRequest,
        client: Option<ClientRecord>,
        keys: &ServerKeys<'_>,
        rng: &mut impl RandomSource,
        now: UnixTime,
    ) -> Result<Issued, EndpointError> {
        let key = keys.signing;
        let TokenRequest {
            form,
            client: claimed,
            trusted,
            dpop,
        } = request;
        let client = self.authenticate(&claimed, client, now).await?;
        let grant_type = form
            .single("grant_type")
            .ok()
            .flatten()
            .ok_or_else(|| EndpointError::invalid_request("grant_type is required"))?;
        let grant_type = GrantType::parse(grant_type)
            .map_err(|e| EndpointError::invalid_request(e.to_string()))?;
        if !matches!(
            grant_type,
            GrantType::AuthorizationCode
                | GrantType::RefreshToken
                | GrantType::ClientCredentials
                | GrantType::TokenExchange
                | GrantType::JwtBearer
        ) {
            return Err(EndpointError::new(
                ErrorCode::UnsupportedGrantType,
                format!(
                    "grant_type {grant_type} is not supported; use authorization_code, refresh_token, client_credentials, {} or {}",
                    GrantType::TokenExchange,
                    GrantType::JwtBearer
                ),
            ));
        }
        if !client.metadata.has_grant_type(&grant_type) {
            return Err(EndpointError::new(
                ErrorCode::UnauthorizedClient,
                format!("the client is not registered for the {grant_type} grant"),
            ));
        }
        let refreshable = client.metadata.has_grant_type(&GrantType::RefreshToken);
        let public = *client.metadata.token_endpoint_auth_method() == TokenEndpointAuthMethod::None;
        // RFC 9449 §5: every grant takes a proof, and binds what it issues to its key.
        let proof = self.token_request_proof(&dpop, &client, now).await?;
        let key = Signer {
            key,
            jkt: proof.as_ref().map(VerifiedProof::jkt),
        };
        let (mut response, claims) = match grant_type {
            GrantType::AuthorizationCode => {
                self.redeem_code(
                    &form,
                    &client.client_id,
                    refreshable,
                    public,
                    &key,
                    rng,
                    now,
                )
                .await?
            }
            GrantType::ClientCredentials => {
                self.client_credentials(&form, &client, &key, rng, now)
                    .await?
            }
            GrantType::JwtBearer => {
                self.id_jag(&form, &client, trusted.as_ref(), &key, rng, now)
                    .await?
            }
            GrantType::TokenExchange => {
                self.token_exchange(&form, &client, keys.verifying, &key, rng, now)
                    .await?
            }
            _ => {
                self.refresh_grant(&form, &client.client_id, public, &key, rng, now)
                    .await?
            }
        };
        if key.jkt.is_some() {
            response.token_type = "DPoP";
        }
        Ok(Issued {
            response,
            claims,
            client,
            grant_type,
        })
    }

    /// An RFC 8693 exchange for the person's token at an identity provider
    /// (`audience=upstream:{id}`, see [`TokenRequest::upstream_audience`]), checked as every
    /// exchange is: the client authenticated, confidential, registered for the grant and the
    /// resource server of the subject token's audience; the subject token an active access
    /// token of this server; a DPoP proof where the client must send one. The caller, which keeps
    /// the providers' tokens, answers with the person's token (§2.2.1).
    pub async fn upstream_exchange(
        &self,
        request: TokenRequest,
        client: Option<ClientRecord>,
        keys: &ServerKeys<'_>,
        now: UnixTime,
    ) -> Result<crate::UpstreamExchange, EndpointError> {
        let provider = request
            .upstream_audience()
            .map(str::to_owned)
            .ok_or_else(|| {
                EndpointError::new(
                    ErrorCode::InvalidTarget,
                    "name one identity provider as audience=upstream:{id}, and nothing else",
                )
            })?;
        let TokenRequest {
            form,
            client: claimed,
            dpop,
            ..
        } = request;
        let client = self.authenticate(&claimed, client, now).await?;
        if !client.metadata.has_grant_type(&GrantType::TokenExchange) {
            return Err(EndpointError::new(
                ErrorCode::UnauthorizedClient,
                format!(
                    "the client is not registered for the {} grant",
                    GrantType::TokenExchange
                ),
            ));
        }
        self.token_request_proof(&dpop, &client, now).await?;
        let (original, _) = self
            .exchanged_subject(&form, &client, keys.verifying, now)
            .await?;
        // As for any exchange: the delegation stays bounded (RFC 8693 §4.1), and a token the
        // scope matrix has emptied is not a person's to pass on (§2.2.2: "unacceptable based
        // on policy").
        self.delegation(&original, &client)?;
        let held = original
            .scope
            .as_deref()
            .and_then(|scope| ScopeSet::parse(scope).ok())
            .unwrap_or_default();
        let groups = self.groups_for(&original.sub).await?;
        let who = Who {
            subject: &original.sub,
            groups: &groups,
        };
        // As introspection judges the token: its person, through the client it was issued to.
        if self
            .config()
            .scope_policy
            .denies_all(who, original.client_id.as_str(), &held)
        {
            return Err(EndpointError::invalid_request(
                "the scope policy lets the subject token's person hold nothing here",
            ));
        }
        Ok(crate::UpstreamExchange {
            subject: original.sub,
            provider,
            client,
        })
    }

    /// The `authorization_code` grant (OAuth 2.1 §4.1.3).
    #[allow(clippy::too_many_arguments)] // each is one fact of the request; a struct would only rename them
    async fn redeem_code(
        &self,
        form: &FormParams,
        client_id: &ClientId,
        refreshable: bool,
        public: bool,
        key: &Signer<'_>,
        rng: &mut impl RandomSource,
        now: UnixTime,
    ) -> Result<(TokenResponse, AccessTokenClaims), EndpointError> {
        let code = single(form, "code")?
            .ok_or_else(|| EndpointError::invalid_request("code is required"))?;
        let hash = CredentialHash::of(code);
        let unknown =
            || EndpointError::invalid_grant("the authorization code is invalid, expired or used");
        let entry = self.store().code(&hash).await?.ok_or_else(unknown)?;
        if let Some(family) = entry.redeemed_into {
            // OAuth 2.1 §4.1.3: a used code is refused, and the tokens issued from it are revoked
            // — when the code's own client replays it (the thief-versus-owner race). Any other
            // client is refused without touching the grant, or a self-registered client with a
            // leaked code could revoke other people's sessions.
            // A code bound to a DPoP key (RFC 9449 §10) is replayed only by whoever holds the
            // key; anyone else is refused without revoking what its owner holds.
            let holds_key = entry
                .record
                .dpop_jkt
                .as_deref()
                .is_none_or(|bound| key.jkt == Some(bound));
            if &entry.record.client_id == client_id && holds_key {
                self.store().revoke_family(&family).await?;
                return Err(unknown().with_reuse(Reuse::Code, family));
            }
            return Err(unknown());
        }
        let record = entry.record;
        self.check_code_binding(&record, form, client_id, now)?;
        // RFC 9449 §10: "the authorization server MUST ensure that the DPoP proof in the token
        // request was made with the key" the authorization request named in `dpop_jkt`.
        if let Some(bound) = &record.dpop_jkt
            && key.jkt != Some(bound.as_str())
        {
            return Err(EndpointError::invalid_grant(
                "the authorization code is bound to another DPoP key (RFC 9449 section 10)",
            ));
        }
        let resources = self.token_resources(form, &record.resources)?;

        let family = new_family(rng);
        let groups = self.groups_for(&record.subject).await?;
        let grant = Grant {
            family: &family,
            client_id,
            subject: &record.subject,
            groups: &groups,
            scopes: &record.scopes,
            resources: &resources,
            act: None,
            not_after: None,
        };
        let minted = self.mint_access_token(&grant, key, rng, now)?;
        let refresh_token =
            refreshable.then(|| opaque::generate(CredentialKind::RefreshToken, rng));
        let refresh_record = refresh_token.as_ref().map(|token| RefreshRecord {
            hash: CredentialHash::of(token.expose_secret()),
            family: family.clone(),
            client_id: client_id.clone(),
            subject: record.subject.clone(),
            scopes: record.scopes.clone(),
            resources: record.resources.clone(),
            issued_at: now,
            expires_at: now.saturating_add_secs(self.config().refresh_ttl_secs),
            // RFC 9449 §5: "Refresh tokens issued to public clients … MUST be bound to the
            // public key" of the proof; a confidential client's are not (it authenticates).
            dpop_jkt: key.jkt.filter(|_| public).map(str::to_owned),
            state: RefreshState::Active,
        });
        match self
            .store()
            .redeem_code(&hash, &family, minted.record, refresh_record)
            .await?
        {
            TakeCode::Taken(_) => {}
            TakeCode::AlreadyUsed(earlier) => {
                // Lost a race with another redemption by the same client: that is reuse too.
                self.store().revoke_family(&earlier).await?;
                return Err(unknown().with_reuse(Reuse::Code, earlier));
            }
            TakeCode::NotFound => return Err(unknown()),
        }
        Ok((
            response(
                minted.token,
                self.config().access_ttl_secs,
                refresh_token.map(|t| t.expose_secret().to_owned()),
                &minted.scopes,
            ),
            minted.claims,
        ))
    }

    /// Checks what binds a code: client, expiry, redirect URI, PKCE (OAuth 2.1 §4.1.3).
    fn check_code_binding(
        &self,
        record: &CodeRecord,
        form: &FormParams,
        client_id: &ClientId,
        now: UnixTime,
    ) -> Result<(), EndpointError> {
        if &record.client_id != client_id {
            return Err(EndpointError::invalid_grant(
                "the authorization code was issued to another client",
            ));
        }
        if now >= record.expires_at {
            return Err(EndpointError::invalid_grant(
                "the authorization code expired",
            ));
        }
        match single(form, "redirect_uri")? {
            Some(uri) if uri != record.redirect_uri.as_str() => {
                return Err(EndpointError::invalid_grant(
                    "redirect_uri differs from the one in the authorization request",
                ));
            }
            None if record.redirect_uri_was_explicit => {
                return Err(EndpointError::invalid_request(
                    "redirect_uri is required: it was included in the authorization request",
                ));
            }
            _ => {}
        }
        let verifier = single(form, "code_verifier")?
            .ok_or_else(|| EndpointError::invalid_grant("code_verifier is required (PKCE)"))?;
        let verifier =
            CodeVerifier::new(verifier).map_err(|e| EndpointError::invalid_grant(e.to_string()))?;
        if !record.challenge.is_answered_by(&verifier) {
            return Err(EndpointError::invalid_grant(
                "code_verifier does not match the code_challenge (RFC 7636 section 4.6)",
            ));
        }
        Ok(())
    }

    /// The resources of a token request: those named by `resource` (each must be within the
    /// grant, RFC 8707 §2.2), or else the grant's first: without a `resource`, a token is still
    /// audience-restricted to one resource server (RFC 9700 §2.3).
    fn token_resources(
        &self,
        form: &FormParams,
        granted: &[ResourceUri],
    ) -> Result<Vec<ResourceUri>, EndpointError> {
        let requested: Vec<&str> = form.all("resource").collect();
        if requested.is_empty() {
            return Ok(granted.iter().take(1).cloned().collect());
        }
        let mut resources = Vec::new();
        for value in requested {
            let resource = ResourceUri::parse(value)
                .map_err(|e| EndpointError::new(ErrorCode::InvalidTarget, e.to_string()))?;
            let Some(found) = granted.iter().find(|g| **g == resource) else {
                return Err(EndpointError::new(
                    ErrorCode::InvalidTarget,
                    format!(
                        "resource {value} was not authorized in this grant (RFC 8707 section 2.2)"
                    ),
                ));
            };
            if !resources.contains(found) {
                resources.push(found.clone());
            }
        }
        Ok(resources)
    }

    /// The `client_credentials` grant (OAuth 2.1 §4.2; MCP's client credentials extension,
    /// SEP-1046): a confidential client acting for itself, with no person behind it. The token's
    /// `sub` is the client id, its audience the requested (or inferred) resources (RFC 8707), its
    /// scopes those asked for within the client's registered `scope`; no refresh token, since the
    /// client can always authenticate again (OAuth 2.1 §4.2.2, RFC 6749 §4.4.3).
    async fn client_credentials(
        &self,
        form: &FormParams,
        client: &ClientRecord,
        key: &Signer<'_>,
        rng: &mut impl RandomSource,
        now: UnixTime,
    ) -> Result<(TokenResponse, AccessTokenClaims), EndpointError> {
        // OAuth 2.1 §4.2: "The client credentials grant type MUST only be used by confidential
        // clients." A public client listing it is refused whatever it registered.
        if *client.metadata.token_endpoint_auth_method() == TokenEndpointAuthMethod::None {
            return Err(EndpointError::new(
                ErrorCode::UnauthorizedClient,
                "the client_credentials grant is for confidential clients only (OAuth 2.1 section 4.2)",
            ));
        }
        // With no person to consent, the operator's vetting is the only check on what a machine
        // may get: a client that registered itself (a library whose registration policy admits
        // the grant) would set its own bounds.
        if !client.is_vetted() {
            return Err(EndpointError::new(
                ErrorCode::UnauthorizedClient,
                "the client_credentials grant is for clients an operator declared",
            ));
        }
        let requested = match single(form, "scope")? {
            Some(scope) => ScopeSet::parse(scope)
                .map_err(|e| EndpointError::new(ErrorCode::InvalidScope, e.to_string()))?,
            None => ScopeSet::new(),
        };
        let named: Vec<&str> = form.all("resource").collect();
        let resources = if named.is_empty() {
            self.infer_resources(&requested)
        } else {
            self.resolve(&named)
                .map_err(|e| EndpointError::new(ErrorCode::InvalidTarget, e.to_string()))?
        };
        if resources.is_empty() {
            return Err(EndpointError::new(
                ErrorCode::InvalidTarget,
                "this server protects no resource to issue a token for",
            ));
        }
        // Without `scope`, the client gets what it registered (RFC 6749 §3.3: a pre-defined
        // default), within what the resources understand.
        let asked = if requested.is_empty() {
            client.metadata.scope().cloned().unwrap_or_default()
        } else {
            requested.clone()
        };
        // SEP-1046: the machine is its own subject, in the scope matrix too.
        let scopes = self.config().scope_policy.permitted(
            client.client_id.as_str(),
            client.client_id.as_str(),
            &self.grantable_scopes(client, &resources, &asked),
        );
        if !requested.is_empty() && scopes.intersection(&requested).is_empty() {
            return Err(EndpointError::new(
                ErrorCode::InvalidScope,
                "none of the requested scopes may be granted to this client at these resources",
            ));
        }
        // A resource that has scopes but none this client may hold: a token without scope would
        // still pass a guard that requires none, so the operator's `scope` bound is the only
        // thing keeping the machine out. No person consents here to widen it.
        if scopes.is_empty() && !self.resources_have_no_scopes(&resources) {
            return Err(EndpointError::new(
                ErrorCode::InvalidScope,
                "this client may be granted none of these resources' scopes",
            ));
        }
        let family = new_family(rng);
        let grant = Grant {
            family: &family,
            client_id: &client.client_id,
            subject: client.client_id.as_str(),
            groups: &[],
            scopes: &scopes,
            resources: &resources,
            act: None,
            not_after: None,
        };
        let minted = self.mint_access_token(&grant, key, rng, now)?;
        // The record is what revocation and deleting the client find the token by.
        self.store().record_access_token(minted.record).await?;
        Ok((
            response(
                minted.token,
                self.config().access_ttl_secs,
                None,
                &minted.scopes,
            ),
            minted.claims,
        ))
    }

    /// The `refresh_token` grant (OAuth 2.1 §4.3) with rotation and reuse detection.
    async fn refresh_grant(
        &self,
        form: &FormParams,
        client_id: &ClientId,
        public: bool,
        key: &Signer<'_>,
        rng: &mut impl RandomSource,
        now: UnixTime,
    ) -> Result<(TokenResponse, AccessTokenClaims), EndpointError> {
        let presented = single(form, "refresh_token")?
            .ok_or_else(|| EndpointError::invalid_request("refresh_token is required"))?;
        let hash = CredentialHash::of(presented);
        let invalid =
            || EndpointError::invalid_grant("the refresh token is invalid, expired or revoked");
        let record = self.store().refresh(&hash).await?.ok_or_else(invalid)?;
        if &record.client_id != client_id {
            // RFC 6749 §6: the token must have been issued to the authenticated client.
            return Err(invalid());
        }
        // RFC 9449 §5: a bound refresh token is good only with a proof made with its key. Judged
        // before reuse: whoever stole it without the key can neither use it nor, by replaying
        // it, revoke the grant of the client that holds the key.
        if let Some(bound) = &record.dpop_jkt {
            match key.jkt {
                None => {
                    return Err(crate::dpop::invalid_proof(
                        "this refresh token is bound to a DPoP key: send a proof made with it (RFC 9449 section 5)",
                    ));
                }
                Some(jkt) if jkt != bound => {
                    return Err(EndpointError::invalid_grant(
                        "the refresh token is bound to another DPoP key (RFC 9449 section 5)",
                    ));
                }
                Some(_) => {}
            }
        }
        // A replayed token is judged before anything else in the request, so a stolen rotated
        // token cannot probe for information without triggering detection; that includes its
        // expiry, because the successor of an expired rotated token may well be live.
        let replayed = match &record.state {
            RefreshState::Active if now >= record.expires_at => return Err(invalid()),
            RefreshState::Active => None,
            _ => Some(self.replayed_successor(&record, presented, now).await?),
        };
        let scopes = self.refresh_scopes(form, &record.scopes)?;
        let resources = self.token_resources(form, &record.resources)?;
        let groups = self.groups_for(&record.subject).await?;
        let grant = Grant {
            family: &record.family,
            client_id,
            subject: &record.subject,
            groups: &groups,
            scopes: &scopes,
            resources: &resources,
            act: None,
            not_after: None,
        };
        let Minted {
            token,
            record: access_record,
            claims,
            scopes: granted,
        } = self.mint_access_token(&grant, key, rng, now)?;
        let successor = match replayed {
            Some(successor) => {
                self.store().record_access_token(access_record).await?;
                successor
            }
            None => {
                let bytes = fresh_bytes(rng);
                let successor = opaque::from_bytes(CredentialKind::RefreshToken, &bytes);
                let successor_record = RefreshRecord {
                    hash: CredentialHash::of(successor.expose_secret()),
                    issued_at: now,
                    expires_at: now.saturating_add_secs(self.config().refresh_ttl_secs),
                    state: RefreshState::Active,
                    // RFC 9449 §5: a public client that starts using DPoP binds its grant from
                    // here on; a bound one stays bound to its key (checked above).
                    dpop_jkt: record
                        .dpop_jkt
                        .clone()
                        .or_else(|| key.jkt.filter(|_| public).map(str::to_owned)),
                    ..record.clone()
                };
                let sealed = opaque::seal_successor(presented, &bytes);
                match self
                    .store()
                    .rotate_refresh(&hash, successor_record, sealed, access_record.clone(), now)
                    .await?
                {
                    RotateOutcome::Rotated => successor.expose_secret().to_owned(),
                    // A concurrent request rotated it first: answer as a replay of that rotation.
                    RotateOutcome::Lost(current) => {
                        let successor = self.replayed_successor(&current, presented, now).await?;
                        self.store().record_access_token(access_record).await?;
                        successor
                    }
                }
            }
        };
        Ok((
            response(
                token,
                self.config().access_ttl_secs,
                Some(successor),
                &granted,
            ),
            claims,
        ))
    }

    /// The scope of a refresh request: the grant's, or a subset of it.
    fn refresh_scopes(
        &self,
        form: &FormParams,
        granted: &ScopeSet,
    ) -> Result<ScopeSet, EndpointError> {
        let Some(requested) = single(form, "scope")? else {
            return Ok(granted.clone());
        };
        let requested = ScopeSet::parse(requested)
            .map_err(|e| EndpointError::new(ErrorCode::InvalidScope, e.to_string()))?;
        // RFC 6749 §6: "The requested scope MUST NOT include any scope not originally granted by
        // the resource owner".
        if !requested.is_subset(granted) {
            return Err(EndpointError::new(
                ErrorCode::InvalidScope,
                "a refresh may narrow the scope but never widen it (RFC 6749 section 6)",
            ));
        }
        Ok(requested)
    }

    /// A refresh token presented after it was rotated (or revoked). Within the grace period,
    /// and while the successor is unused, the client gets the same successor again (a benign
    /// retry); otherwise this is reuse, and the whole family is revoked (RFC 9700 §4.14.2).
    /// See `docs/decisions/0006-refresh-reuse-grace.md` for what the window costs.
    async fn replayed_successor(
        &self,
        record: &RefreshRecord,
        presented: &str,
        now: UnixTime,
    ) -> Result<String, EndpointError> {
        let invalid =
            || EndpointError::invalid_grant("the refresh token is invalid, expired or revoked");
        let RefreshState::Rotated {
            successor,
            sealed_successor,
            rotated_at,
        } = &record.state
        else {
            return Err(invalid());
        };
        // Whole seconds: a grace of N accepts a retry up to N seconds later. A grace of 0 is
        // strict RFC 9700 §4.14.2 (decision 0006): every second use is reuse, even within the
        // same second.
        let grace = self.config().refresh_reuse_grace_secs;
        let within_grace = grace > 0 && now.secs_since(*rotated_at) <= grace;
        if let (true, Some(sealed)) = (within_grace, sealed_successor) {
            let bytes = Zeroizing::new(opaque::seal_successor(presented, sealed));
            let token = opaque::from_bytes(CredentialKind::RefreshToken, &bytes);
            let successor_active = self
                .store()
                .refresh(successor)
                .await?
                .is_some_and(|s| s.state == RefreshState::Active);
            if CredentialHash::of(token.expose_secret()) == *successor && successor_active {
                return Ok(token.expose_secret().to_owned());
            }
        }
        self.store().revoke_family(&record.family).await?;
        Err(EndpointError::invalid_grant(
            "the refresh token was already used; the grant has been revoked (RFC 9700 section 4.14.2)",
        )
        .with_reuse(Reuse::RefreshToken, record.family.clone()))
    }

    /// Signs an RFC 9068 access token for `grant`, and the record that remembers it under its
    /// family. The token's scope is the grant's, narrowed to what its audience understands
    /// (RFC 9700 §2.3: least privilege per resource server).
    pub(crate) fn mint_access_token(
        &self,
        grant: &Grant<'_>,
        key: &Signer<'_>,
        rng: &mut impl RandomSource,
        now: UnixTime,
    ) -> Result<Minted, EndpointError> {
        let mut expires_at = now.saturating_add_secs(self.config().access_ttl_secs);
        if let Some(latest) = grant.not_after {
            expires_at = expires_at.min(latest);
        }
        let jti = random_id(rng);
        let audience = match grant.resources {
            [one] => Audience::One(one.as_str().to_owned()),
            many => Audience::Many(many.iter().map(|r| r.as_str().to_owned()).collect()),
        };
        let mut understood = ScopeSet::new();
        for resource in grant
            .resources
            .iter()
            .filter_map(|r| self.config().resource(r))
        {
            for scope in &resource.scopes_supported {
                understood.insert(scope.clone());
            }
        }
        // The scope matrix last: whatever the grant holds, a scope the policy no longer lets
        // this subject hold through this client is not in the token (a stricter policy takes
        // effect at the next refresh). A grant it empties gets no token at all: a token of no
        // scope would pass a resource that requires none.
        let policy = &self.config().scope_policy;
        let held = grant.scopes.intersection(&understood);
        let who = Who {
            subject: grant.subject,
            groups: grant.groups,
        };
        if policy.denies_all(who, grant.client_id.as_str(), &held) {
            return Err(EndpointError::invalid_grant(
                "the scope policy lets this subject hold none of this grant's scopes through this client",
            ));
        }
        let scopes = policy
            .narrowed(who, grant.client_id.as_str(), &held)
            .unwrap_or(held);
        // The groups the matrix names travel in the token, so that the guard and introspection
        // reach the same answer; bounded by the configuration, whatever the provider sent.
        let groups = policy.named_groups(grant.groups);
        let claims = AccessTokenClaims {
            iss: self.config().issuer().to_owned(),
            sub: grant.subject.to_owned(),
            aud: audience,
            exp: expires_at.as_secs(),
            iat: now.as_secs(),
            jti: jti.clone(),
            client_id: grant.client_id.as_str().to_owned(),
            nbf: None,
            scope: (!scopes.is_empty()).then(|| scopes.to_string()),
            extra: grant
                .act
                .iter()
                .map(|act| ("act".to_owned(), act.clone()))
                // RFC 9449 §6.1: the confirmation of a DPoP-bound token.
                .chain(
                    key.jkt
                        .map(|jkt| ("cnf".to_owned(), serde_json::json!({ "jkt": jkt }))),
                )
                .chain((!groups.is_empty()).then(|| {
                    (
                        gatehouse_types::policy::GROUPS_CLAIM.to_owned(),
                        serde_json::json!(groups),
                    )
                }))
                .collect(),
        };
        let token = sign_access_token(key.key, &claims).map_err(|_| {
            EndpointError::new(
                ErrorCode::ServerError,
                "the access token could not be signed",
            )
        })?;
        let record = AccessTokenRecord {
            jti,
            family: grant.family.clone(),
            client_id: grant.client_id.clone(),
            expires_at,
        };
        Ok(Minted {
            token,
            record,
            claims,
            scopes,
        })
    }
}

impl<S: Store> Engine<S> {
    /// The groups of `subject` the scope matrix needs (as their identity provider said at their
    /// last sign-in): looked up only when some rule names groups.
    pub async fn groups_for(&self, subject: &str) -> Result<Vec<String>, crate::store::StoreError> {
        if self.config().scope_policy.uses_groups() {
            self.store().groups_of(subject).await
        } else {
            Ok(Vec::new())
        }
    }
}

pub(crate) fn response(
    access_token: String,
    expires_in: u64,
    refresh_token: Option<String>,
    scopes: &ScopeSet,
) -> TokenResponse {
    TokenResponse {
        access_token,
        token_type: "Bearer",
        expires_in,
        refresh_token,
        scope: (!scopes.is_empty()).then(|| scopes.to_string()),
        issued_token_type: None,
    }
}

pub(crate) fn single<'a>(
    form: &'a FormParams,
    name: &'a str,
) -> Result<Option<&'a str>, EndpointError> {
    form.single(name)
        .map_err(|e| EndpointError::invalid_request(e.to_string()))
}

fn fresh_bytes(rng: &mut impl RandomSource) -> Zeroizing<[u8; CREDENTIAL_BYTES]> {
    let mut bytes = Zeroizing::new([0u8; CREDENTIAL_BYTES]);
    rng.fill(bytes.as_mut_slice());
    bytes
}

/// 128 random bits as lowercase hex: `jti` values and family ids.
pub(crate) fn random_id(rng: &mut impl RandomSource) -> String {
    let mut bytes = [0u8; 16];
    rng.fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub(crate) fn new_family(rng: &mut impl RandomSource) -> FamilyId {
    FamilyId::new(random_id(rng))
}
