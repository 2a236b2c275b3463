//! Revocation ([RFC 7009](https://www.rfc-editor.org/rfc/rfc7009)) and introspection
//! ([RFC 7662](https://www.rfc-editor.org/rfc/rfc7662)) decisions.

use gatehouse_introspection::{ActiveToken, IntrospectionRequest, IntrospectionResponse};
use gatehouse_jose::{AccessTokenValidator, KeySet};
use gatehouse_revocation::RevocationRequest;
use gatehouse_types::form::FormParams;
use gatehouse_types::policy::Who;
use gatehouse_types::{ClientId, ErrorCode, TokenTypeHint, UnixTime};

use crate::Engine;
use crate::client_auth::ClaimedClient;
use crate::error::EndpointError;
use crate::opaque::CredentialHash;
use crate::store::{ClientRecord, RefreshRecord, RefreshState, Store};

/// What a presented token turned out to be.
// Made once per request and matched at once: boxing would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Found {
    Refresh(RefreshRecord),
    Access {
        jti: String,
        client_id: String,
        claims: Box<gatehouse_jose::AccessTokenClaims>,
    },
    Nothing,
}

/// A revocation request, parsed: what to revoke and the client that asks. The caller resolves
/// [`RevokeRequest::client`] and calls [`Engine::revoke`].
#[derive(Debug)]
pub struct RevokeRequest {
    request: RevocationRequest,
    client: ClaimedClient,
}

impl RevokeRequest {
    /// Parses the form body and the `Authorization` header value, if any (RFC 7009 §2.1).
    pub fn parse(body: &[u8], authorization: Option<&str>) -> Result<Self, EndpointError> {
        let form =
            FormParams::parse(body).map_err(|e| EndpointError::invalid_request(e.to_string()))?;
        let request = RevocationRequest::from(
            gatehouse_types::TokenForm::from_params(&form).map_err(|e| {
                EndpointError::invalid_request(
                    gatehouse_revocation::RevocationError::from(e).to_string(),
                )
            })?,
        );
        let client = ClaimedClient::parse(&form, authorization)?;
        Ok(Self { request, client })
    }

    /// The client that asks (not authenticated yet).
    pub fn client(&self) -> &ClaimedClient {
        &self.client
    }

    /// The same, to hand it the keys fetched from its `jwks_uri`
    /// ([`ClaimedClient::provide_keys`]).
    pub fn client_mut(&mut self) -> &mut ClaimedClient {
        &mut self.client
    }
}

/// An introspection request, parsed: the token and the client that asks. The caller resolves
/// [`IntrospectRequest::client`] and calls [`Engine::introspect`].
#[derive(Debug)]
pub struct IntrospectRequest {
    request: IntrospectionRequest,
    client: ClaimedClient,
}

impl IntrospectRequest {
    /// Parses the form body and the `Authorization` header value, if any (RFC 7662 §2.1).
    pub fn parse(body: &[u8], authorization: Option<&str>) -> Result<Self, EndpointError> {
        let form =
            FormParams::parse(body).map_err(|e| EndpointError::invalid_request(e.to_string()))?;
        let request = IntrospectionRequest::from(
            gatehouse_types::TokenForm::from_params(&form).map_err(|e| {
                EndpointError::invalid_request(
                    gatehouse_introspection::IntrospectionError::from(e).to_string(),
                )
            })?,
        );
        let client = ClaimedClient::parse(&form, authorization)?;
        Ok(Self { request, client })
    }

    /// The client that asks (not authenticated yet).
    pub fn client(&self) -> &ClaimedClient {
        &self.client
    }

    /// The same, to hand it the keys fetched from its `jwks_uri`
    /// ([`ClaimedClient::provide_keys`]).
    pub fn client_mut(&mut self) -> &mut ClaimedClient {
        &mut self.client
    }
}

/// What a revocation did, for the events.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Revoked {
    /// A refresh token: its whole grant.
    Grant(crate::store::FamilyId),
    /// One access token.
    AccessToken {
        /// Its `jti`.
        jti: String,
    },
    /// Nothing this server knows (answered 200 all the same, RFC 7009 §2.2).
    Nothing,
}

impl<S: Store> Engine<S> {
    /// Decides a revocation request whose client the caller resolved. `Ok` is answered with
    /// 200, also for unknown, invalid and expired tokens
    /// ([RFC 7009 §2.2](https://www.rfc-editor.org/rfc/rfc7009#section-2.2)). Revoking a refresh
    /// token revokes its whole family, access tokens included (RFC 7009 §2.1: the server "SHOULD
    /// also invalidate all access tokens based on the same authorization grant").
    pub async fn revoke(
        &self,
        request: RevokeRequest,
        client: Option<ClientRecord>,
        keys: &KeySet,
        now: UnixTime,
    ) -> Result<Revoked, EndpointError> {
        let RevokeRequest {
            request,
            client: claimed,
        } = request;
        let client = self.authenticate(&claimed, client, now).await?;
        let order =
            request.search_order(&[TokenTypeHint::RefreshToken, TokenTypeHint::AccessToken]);
        Ok(
            match self
                .find(request.token.expose_secret(), &order, keys, now, false)
                .await?
            {
                Found::Refresh(record) => {
                    ensure_owner(&client.client_id, record.client_id.as_str())?;
                    self.store().revoke_family(&record.family).await?;
                    Revoked::Grant(record.family)
                }
                Found::Access {
                    jti,
                    client_id,
                    claims,
                } => {
                    ensure_owner(&client.client_id, &client_id)?;
                    self.store()
                        .revoke_access_token(&jti, UnixTime::from_secs(claims.exp))
                        .await?;
                    Revoked::AccessToken { jti }
                }
                Found::Nothing => Revoked::Nothing,
            },
        )
    }

    /// Decides an introspection request whose client the caller resolved. Revoked, expired,
    /// rotated, unknown and foreign tokens are all `{"active": false}`
    /// ([RFC 7662 §2.2](https://www.rfc-editor.org/rfc/rfc7662#section-2.2)). The caller must
    /// authenticate with a secret, and sees as active only its own tokens, or, if it is the
    /// credential of a resource server, access tokens whose `aud` names one of its resources:
    /// introspection cannot be used to scan for other clients' tokens.
    pub async fn introspect(
        &self,
        request: IntrospectRequest,
        client: Option<ClientRecord>,
        keys: &KeySet,
        now: UnixTime,
    ) -> Result<IntrospectionResponse, EndpointError> {
        let IntrospectRequest {
            request,
            client: claimed,
        } = request;
        // RFC 7662 §2.1: "the endpoint MUST also require some form of authorization". A public
        // client presents nothing secret, so it cannot introspect: otherwise anyone could use
        // the endpoint as an oracle for stolen tokens.
        let client = self.authenticate(&claimed, client, now).await?;
        if *client.metadata.token_endpoint_auth_method()
            == gatehouse_types::TokenEndpointAuthMethod::None
        {
            return Err(EndpointError::invalid_client(
                "introspection requires client authentication with a secret (RFC 7662 section 2.1)",
            ));
        }
        let hint = request.token_type_hint.clone();
        let order: Vec<&TokenTypeHint> = match hint {
            Some(TokenTypeHint::AccessToken) => {
                vec![&TokenTypeHint::AccessToken, &TokenTypeHint::RefreshToken]
            }
            _ => vec![&TokenTypeHint::RefreshToken, &TokenTypeHint::AccessToken],
        };
        let found = self
            .find(request.token.expose_secret(), &order, keys, now, true)
            .await?;
        Ok(match found {
            Found::Refresh(record)
                if record.client_id == client.client_id
                    && record.state == RefreshState::Active
                    && now < record.expires_at =>
            {
                let groups = self.groups_for(&record.subject).await?;
                let who = Who {
                    subject: &record.subject,
                    groups: &groups,
                };
                ActiveToken::builder()
                    // What the scope matrix lets the subject hold now, as the guard sees it.
                    .scope(self.config().scope_policy.permitted(
                        who,
                        record.client_id.as_str(),
                        &record.scopes,
                    ))
                    .client_id(record.client_id.clone())
                    .sub(record.subject.clone())
                    .token_type("refresh_token")
                    .exp(record.expires_at)
                    .iat(record.issued_at)
                    .iss(self.config().issuer())
                    .build()
                    .into()
            }
            Found::Access {
                client_id, claims, ..
            } if client_id == client.client_id.as_str() || serves(&client, &claims.aud) => {
                let owner = gatehouse_types::ClientId::new(client_id)
                    .map_err(|e| EndpointError::new(ErrorCode::ServerError, e.to_string()))?;
                // RFC 9449 §6.2: a bound token is introspected with its `cnf`, and its
                // `token_type` is `DPoP`.
                let cnf = claims.extra.get("cnf").cloned();
                let mut token = ActiveToken::builder()
                    .client_id(owner.clone())
                    .sub(claims.sub.clone())
                    .token_type(if cnf.is_some() { "DPoP" } else { "Bearer" })
                    .exp(UnixTime::from_secs(claims.exp))
                    .iat(UnixTime::from_secs(claims.iat))
                    .iss(claims.iss.clone())
                    .jti(claims.jti.clone())
                    .aud(match &claims.aud {
                        gatehouse_jose::Audience::One(aud) => {
                            gatehouse_introspection::Audience::Single(aud.clone())
                        }
                        gatehouse_jose::Audience::Many(auds) => {
                            gatehouse_introspection::Audience::Multiple(auds.clone())
                        }
                    });
                if let Some(scope) = claims
                    .scope
                    .as_deref()
                    .and_then(|s| gatehouse_types::ScopeSet::parse(s).ok())
                {
                    // A resource server that introspects learns what the scope matrix lets the
                    // subject hold now, not what the token said when it was issued.
                    let policy = &self.config().scope_policy;
                    let groups = token_groups(&claims.extra);
                    let who = Who {
                        subject: &claims.sub,
                        groups: &groups,
                    };
                    if policy.denies_all(who, owner.as_str(), &scope) {
                        return Ok(IntrospectionResponse::inactive());
                    }
                    token = token.scope(policy.permitted(who, owner.as_str(), &scope));
                    // The groups the matrix named when the token was minted, so that a guard
                    // asking by introspection with the same matrix reaches the same answer.
                    if !groups.is_empty() {
                        token = token.extra(
                            gatehouse_types::policy::GROUPS_CLAIM,
                            serde_json::json!(groups),
                        );
                    }
                }
                if let Some(cnf) = cnf {
                    token = token.extra("cnf", cnf);
                }
                token.build().into()
            }
            _ => IntrospectionResponse::inactive(),
        })
    }

    /// Looks a token up as each type in `order`. Access tokens are recognised by signature,
    /// issuer, one of the configured resources and expiry (an expired token needs no revoking);
    /// `skip_revoked` reports a revoked access token as nothing.
    async fn find(
        &self,
        token: &str,
        order: &[&TokenTypeHint],
        keys: &KeySet,
        now: UnixTime,
        skip_revoked: bool,
    ) -> Result<Found, EndpointError> {
        for kind in order {
            match kind {
                // Every refresh token this server issues carries its prefix: a token without it
                // is none of them, and costs no lookup (an access token introspected without a
                // hint used to cost one).
                TokenTypeHint::RefreshToken
                    if token.starts_with(crate::opaque::CredentialKind::RefreshToken.prefix()) =>
                {
                    if let Some(record) = self.store().refresh(&CredentialHash::of(token)).await? {
                        return Ok(Found::Refresh(record));
                    }
                }
                TokenTypeHint::AccessToken => {
                    if let Some(claims) = self.verify_access_token(token, keys, now) {
                        if skip_revoked && self.store().is_access_token_revoked(&claims.jti).await?
                        {
                            return Ok(Found::Nothing);
                        }
                        return Ok(Found::Access {
                            jti: claims.jti.clone(),
                            client_id: claims.client_id.clone(),
                            claims: Box::new(claims),
                        });
                    }
                }
                _ => {}
            }
        }
        Ok(Found::Nothing)
    }

    /// The claims of `token`, if it is an unexpired access token this server signed for one of
    /// its resources (signature and claims only: revocation is the caller's to check).
    pub(crate) fn verify_access_token(
        &self,
        token: &str,
        keys: &KeySet,
        now: UnixTime,
    ) -> Option<gatehouse_jose::AccessTokenClaims> {
        let resources = self.config().resources();
        let first = resources.first()?;
        let mut validator =
            AccessTokenValidator::new(self.config().issuer(), first.resource.as_str())
                .with_leeway(0);
        for resource in resources.iter().skip(1) {
            validator = validator.also_accept_audience(resource.resource.as_str());
        }
        validator
            .validate(token, keys, now.as_secs())
            .ok()
            .map(gatehouse_jose::AccessToken::into_claims)
    }
}

/// Whether `client` is the credential of a resource server named in `aud`.
fn serves(client: &crate::store::ClientRecord, aud: &gatehouse_jose::Audience) -> bool {
    client
        .introspection_resources
        .iter()
        .any(|resource| aud.iter().any(|a| resource.matches_str(a)))
}

/// RFC 7009 §2.1: the server "verifies whether the token was issued to the client making the
/// revocation request. If this validation fails, the request is refused".
fn ensure_owner(caller: &ClientId, owner: &str) -> Result<(), EndpointError> {
    if caller.as_str() == owner {
        Ok(())
    } else {
        Err(EndpointError::new(
            ErrorCode::UnauthorizedClient,
            "the token was not issued to this client (RFC 7009 section 2.1)",
        ))
    }
}

/// The groups an access token carries for the scope matrix (`GROUPS_CLAIM`): only tokens this
/// server signed reach here, so the claim is its own.
fn token_groups(extra: &std::collections::BTreeMap<String, serde_json::Value>) -> Vec<String> {
    extra
        .get(gatehouse_types::policy::GROUPS_CLAIM)
        .and_then(|groups| serde_json::from_value(groups.clone()).ok())
        .unwrap_or_default()
}
