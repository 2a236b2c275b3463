//! Token exchange ([RFC 8693](https://www.rfc-editor.org/rfc/rfc8693)): a resource server that
//! received an access token trades it for one to another resource of this server, to call that
//! resource for the same person. The new token keeps the subject, carries no scope the original
//! did not, lives no longer than the original, joins its grant (revoking the grant revokes both),
//! and names the exchanging client in an `act` claim (§4.1), nested under any earlier `act` so
//! that a chain of delegations stays visible and bounded.
//!
//! Only a confidential client that lists the grant and is the resource server
//! (`introspection_resources`) of the subject token's audience may exchange it: a token reaches
//! a resource server because a client sent it there, and only that resource server may carry it
//! further. Exchanging for the person's token at an upstream identity provider
//! (`audience=upstream:{id}`) is checked here the same way ([`Engine::upstream_exchange`]); the
//! token itself comes from the caller, which keeps those tokens.

use gatehouse_jose::{AccessTokenClaims, KeySet};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::form::FormParams;
use gatehouse_types::{ErrorCode, ScopeSet, TokenEndpointAuthMethod, UnixTime};
use serde_json::Value;

use crate::error::EndpointError;
use crate::store::{ClientRecord, Store, StoreError};
use crate::token::{Grant, TokenResponse, response, single};
use crate::{Engine, RandomSource};

/// RFC 8693 §3: the token type of an OAuth access token, the one subject token type accepted and
/// the type of the token issued.
pub const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";

/// Also accepted as `requested_token_type`: this server's access tokens are JWTs (RFC 8693 §3).
const JWT_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:jwt";

/// The `audience` of an exchange for the person's token at an identity provider:
/// `upstream:{provider id}`.
pub const UPSTREAM_AUDIENCE_PREFIX: &str = "upstream:";

/// An exchange for the person's access token at an identity provider, checked: whose token, at
/// which provider, for which client. The caller fetches the token (it keeps them) and answers.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct UpstreamExchange {
    /// The subject token's `sub`.
    pub subject: String,
    /// The provider named by `audience=upstream:{id}`.
    pub provider: String,
    /// The authenticated, exchanging client.
    pub client: ClientRecord,
}

/// The provider an exchange request names with `audience=upstream:{id}`, if it names one (and
/// no resource beside it).
pub(crate) fn upstream_audience(form: &FormParams) -> Option<&str> {
    let mut audiences = form.all("audience");
    let first = audiences.next()?;
    let provider = first.strip_prefix(UPSTREAM_AUDIENCE_PREFIX)?;
    (audiences.next().is_none() && form.all("resource").next().is_none()).then_some(provider)
}

fn invalid_request(description: impl Into<String>) -> EndpointError {
    EndpointError::invalid_request(description)
}

impl<S: Store> Engine<S> {
    /// The `urn:ietf:params:oauth:grant-type:token-exchange` grant (RFC 8693 §2).
    pub(crate) async fn token_exchange(
        &self,
        form: &FormParams,
        client: &ClientRecord,
        keys: &KeySet,
        key: &crate::token::Signer<'_>,
        rng: &mut impl RandomSource,
        now: UnixTime,
    ) -> Result<(TokenResponse, AccessTokenClaims), EndpointError> {
        let targets = self.exchange_targets(form)?;
        let (original, family) = self.exchanged_subject(form, client, keys, now).await?;
        let inactive =
            || invalid_request("subject_token is not an active access token of this server");
        let act = self.delegation(&original, client)?;
        let scopes = self.exchanged_scopes(form, client, &original, &targets)?;

        // §2.2.1 / RFC 6749 §5.1: the new token, no refresh token (the resource server
        // exchanges again, while the original is valid).
        let groups = self.groups_for(&original.sub).await?;
        let grant = Grant {
            family: &family,
            client_id: &client.client_id,
            subject: &original.sub,
            groups: &groups,
            scopes: &scopes,
            resources: &targets,
            act: Some(act),
            not_after: Some(UnixTime::from_secs(original.exp)),
        };
        let minted = self.mint_access_token(&grant, key, rng, now)?;
        match self.store().record_access_token(minted.record).await {
            Ok(()) => {}
            // The grant was revoked between the checks and now.
            Err(StoreError::FamilyRevoked) => return Err(inactive()),
            Err(other) => return Err(other.into()),
        }
        let mut answer = response(
            minted.token,
            minted.claims.exp.saturating_sub(now.as_secs()),
            None,
            &minted.scopes,
        );
        answer.issued_token_type = Some(ACCESS_TOKEN_TYPE);
        Ok((answer, minted.claims))
    }

    /// What every exchange checks (§2.1, §2.2.2): a confidential client; an active access token
    /// of this server as `subject_token`, of the access-token type; no actor token; a requested
    /// type this server issues; and the client is the resource server of the token's audience
    /// (`introspection_resources`). The token's claims and its grant.
    pub(crate) async fn exchanged_subject(
        &self,
        form: &FormParams,
        client: &ClientRecord,
        keys: &KeySet,
        now: UnixTime,
    ) -> Result<(AccessTokenClaims, crate::store::FamilyId), EndpointError> {
        if *client.metadata.token_endpoint_auth_method() == TokenEndpointAuthMethod::None {
            return Err(EndpointError::new(
                ErrorCode::UnauthorizedClient,
                "token exchange is for confidential clients: a resource server authenticates",
            ));
        }
        // §2.1: subject_token and subject_token_type are REQUIRED.
        let subject_token = single(form, "subject_token")?
            .ok_or_else(|| invalid_request("subject_token is required (RFC 8693 section 2.1)"))?;
        match single(form, "subject_token_type")? {
            Some(ACCESS_TOKEN_TYPE) => {}
            Some(other) => {
                return Err(invalid_request(format!(
                    "subject_token_type {other} is not supported; exchange an access token ({ACCESS_TOKEN_TYPE})"
                )));
            }
            None => {
                return Err(invalid_request(
                    "subject_token_type is required (RFC 8693 section 2.1)",
                ));
            }
        }
        if single(form, "actor_token")?.is_some() || single(form, "actor_token_type")?.is_some() {
            return Err(invalid_request(
                "actor_token is not supported: the actor is the authenticated client",
            ));
        }
        if let Some(requested) = single(form, "requested_token_type")?
            && requested != ACCESS_TOKEN_TYPE
            && requested != JWT_TOKEN_TYPE
        {
            return Err(invalid_request(format!(
                "requested_token_type {requested} is not supported; this server issues access tokens"
            )));
        }
        // §2.2.2: "If ... the subject_token ... [is] invalid for any reason, or [is]
        // unacceptable based on policy, the error code invalid_request MUST be used."
        let inactive =
            || invalid_request("subject_token is not an active access token of this server");
        let original = self
            .verify_access_token(subject_token, keys, now)
            .ok_or_else(inactive)?;
        if self.store().is_access_token_revoked(&original.jti).await? {
            return Err(inactive());
        }
        let family = self
            .store()
            .access_token_family(&original.jti)
            .await?
            .ok_or_else(inactive)?;
        // The exchanging client must be the resource server the token was sent to.
        if !client
            .introspection_resources
            .iter()
            .any(|resource| original.aud.iter().any(|aud| resource.matches_str(aud)))
        {
            return Err(invalid_request(
                "this client is not the resource server of the subject token's audience (its introspection_resources)",
            ));
        }
        Ok((original, family))
    }

    /// The resources the new token is for: `resource` (RFC 8707) and `audience` values that name
    /// resources of this server (§2.1). One of them is required: a resource server exchanges a
    /// token to reach another resource, which it must name.
    fn exchange_targets(&self, form: &FormParams) -> Result<Vec<ResourceUri>, EndpointError> {
        let mut named: Vec<&str> = form.all("resource").collect();
        for audience in form.all("audience") {
            if audience.starts_with(UPSTREAM_AUDIENCE_PREFIX) {
                // Answered by `Engine::upstream_exchange` when the server keeps such tokens.
                return Err(EndpointError::new(
                    ErrorCode::InvalidTarget,
                    "tokens at an upstream identity provider are not available from this server",
                ));
            }
            named.push(audience);
        }
        if named.is_empty() {
            return Err(invalid_request(
                "name the resource to exchange the token for (resource or audience, RFC 8693 section 2.1)",
            ));
        }
        self.resolve(&named)
            .map_err(|e| EndpointError::new(ErrorCode::InvalidTarget, e.to_string()))
    }

    /// The new token's `act` (§4.1): the exchanging client, with the subject token's own `act`
    /// nested inside it, "the least recent actor ... the most deeply nested". Refused beyond the
    /// configured depth.
    pub(crate) fn delegation(
        &self,
        original: &AccessTokenClaims,
        client: &ClientRecord,
    ) -> Result<Value, EndpointError> {
        let prior = original.extra.get("act");
        let depth = 1 + std::iter::successors(prior, |act| act.get("act")).count();
        if depth > self.config().max_delegation_depth {
            return Err(invalid_request(format!(
                "the subject token was already exchanged {} times; at most {} delegations are allowed (tokens.max_delegation_depth)",
                depth - 1,
                self.config().max_delegation_depth
            )));
        }
        let mut act = serde_json::Map::new();
        act.insert("sub".into(), client.client_id.as_str().into());
        if let Some(prior) = prior {
            act.insert("act".into(), prior.clone());
        }
        Ok(Value::Object(act))
    }

    /// The new token's scopes: those asked for (or, without `scope`, the original's), never one
    /// the original did not carry, within what the targets understand and the exchanging
    /// client may be granted.
    fn exchanged_scopes(
        &self,
        form: &FormParams,
        client: &ClientRecord,
        original: &AccessTokenClaims,
        targets: &[ResourceUri],
    ) -> Result<ScopeSet, EndpointError> {
        let held = original
            .scope
            .as_deref()
            .map(ScopeSet::parse)
            .transpose()
            .map_err(|_| invalid_request("subject_token carries a malformed scope"))?
            .unwrap_or_default();
        let asked = match single(form, "scope")? {
            Some(scope) => {
                let asked = ScopeSet::parse(scope)
                    .map_err(|e| EndpointError::new(ErrorCode::InvalidScope, e.to_string()))?;
                if let Some(wider) = asked.iter().find(|s| !held.contains(s)) {
                    return Err(EndpointError::new(
                        ErrorCode::InvalidScope,
                        format!(
                            "{wider} is not among the subject token's scopes: an exchange cannot widen a grant"
                        ),
                    ));
                }
                asked
            }
            None => held.clone(),
        };
        // `grantable_scopes` falls back to the targets' defaults when nothing asked for applies:
        // intersected with what the subject token held, that fallback cannot widen anything.
        let scopes = self
            .grantable_scopes(client, targets, &asked)
            .intersection(&held);
        if scopes.is_empty() && !self.resources_have_no_scopes(targets) {
            return Err(EndpointError::new(
                ErrorCode::InvalidScope,
                "the subject token carries none of the scopes the target resource understands",
            ));
        }
        Ok(scopes)
    }
}
