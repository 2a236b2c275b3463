//! Enterprise-Managed Authorization (MCP's SEP-990, `io.modelcontextprotocol/enterprise-managed-
//! authorization`): an organisation's identity provider decides that a person may use an MCP
//! client with an MCP server, and says so in an Identity Assertion JWT Authorization Grant
//! (ID-JAG, draft-ietf-oauth-identity-assertion-authz-grant). The client presents it at `/token`
//! with `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer` (RFC 7523 §2.1) and gets this
//! server's own token for the person, with no consent page: the enterprise decided.
//!
//! The caller resolves the assertion's issuer to an identity provider the operator trusts
//! (`accept_id_jag`) and fetches its keys ([`TrustedIssuer`]); this module checks everything else.
//! Every refusal of the assertion is `invalid_grant` (draft §4.4.1, MCP profile §7.6.2).

use gatehouse_jose::{AccessTokenClaims, AssertionExpectations, KeySet};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_types::form::FormParams;
use gatehouse_types::{ErrorCode, ScopeSet, TokenEndpointAuthMethod, UnixTime};
use serde_json::Value;

use crate::error::EndpointError;
use crate::store::{ClientRecord, Store};
use crate::token::{Grant, TokenResponse, new_family, response, single};
use crate::{Engine, RandomSource};

/// The header `typ` an ID-JAG carries (draft §3.1: "MUST be `oauth-id-jag+jwt`").
pub const ID_JAG_TYPE: &str = "oauth-id-jag+jwt";

/// The longest lifetime of an ID-JAG accepted. The profile asks for short-lived assertions
/// (§7.4.2); identity providers issue them for about five minutes. Each `jti` is kept this long
/// at most.
pub const MAX_ID_JAG_SECS: u64 = 600;

/// The longest subject accepted from an identity provider: it becomes part of `sub`.
const MAX_SUBJECT_LEN: usize = 255;

/// An identity provider the operator trusts for ID-JAGs, resolved by the caller from the
/// assertion's `iss`, with its current keys.
#[derive(Debug, Clone)]
pub struct TrustedIssuer {
    /// Its id in the configuration: the prefix of the subjects it vouches for.
    pub provider: String,
    /// Its issuer identifier, exactly as its ID-JAGs carry it.
    pub issuer: String,
    /// Its signing keys (from its JWKS).
    pub keys: KeySet,
}

fn invalid_grant(description: impl Into<String>) -> EndpointError {
    EndpointError::invalid_grant(description)
}

impl<S: Store> Engine<S> {
    /// The `urn:ietf:params:oauth:grant-type:jwt-bearer` grant with an ID-JAG.
    pub(crate) async fn id_jag(
        &self,
        form: &FormParams,
        client: &ClientRecord,
        trusted: Option<&TrustedIssuer>,
        key: &crate::token::Signer<'_>,
        rng: &mut impl RandomSource,
        now: UnixTime,
    ) -> Result<(TokenResponse, AccessTokenClaims), EndpointError> {
        // Draft §8.1: "This specification SHOULD only be supported for confidential clients."
        if *client.metadata.token_endpoint_auth_method() == TokenEndpointAuthMethod::None {
            return Err(EndpointError::new(
                ErrorCode::UnauthorizedClient,
                "ID-JAGs are accepted from confidential clients only",
            ));
        }
        let assertion = single(form, "assertion")?.ok_or_else(|| {
            EndpointError::invalid_request("assertion is required (RFC 7523 section 2.1)")
        })?;
        let trusted = trusted.ok_or_else(|| {
            invalid_grant("the assertion's issuer is not an identity provider this server accepts ID-JAGs from")
        })?;
        // §4.4.1: the type, the signature by the provider's key, `iss`, `aud` naming this
        // server, `exp` and `iat`, a `jti`.
        let expected = AssertionExpectations::new(&trusted.issuer, self.config().issuer())
            .with_type(ID_JAG_TYPE)
            .with_max_lifetime(MAX_ID_JAG_SECS);
        let verified =
            gatehouse_jose::verify_assertion(assertion, &trusted.keys, &expected, now.as_secs())
                .map_err(|e| invalid_grant(format!("the ID-JAG is refused: {e}")))?;
        // "If the `aud` claim is an array, it MUST contain exactly one element."
        if verified
            .claim("aud")
            .and_then(Value::as_array)
            .is_some_and(|many| many.len() != 1)
        {
            return Err(invalid_grant(
                "the ID-JAG's aud must name this server alone",
            ));
        }
        // "The `client_id` claim MUST identify the same client as the client authentication".
        if verified.claim("client_id").and_then(Value::as_str) != Some(client.client_id.as_str()) {
            return Err(invalid_grant(
                "the ID-JAG was issued to another client than the one presenting it",
            ));
        }
        if verified.subject().len() > MAX_SUBJECT_LEN {
            return Err(invalid_grant("the ID-JAG's sub is too long"));
        }
        let targets = self.id_jag_resources(form, verified.claim("resource"))?;
        let scopes = self.id_jag_scopes(form, client, verified.claim("scope"), &targets)?;
        // §7.4.2: "MUST implement replay detection by rejecting re-use of the same `jti`".
        let expires_at = UnixTime::from_secs(verified.remember_until());
        if !self
            .store()
            .use_assertion(&trusted.issuer, verified.jti(), expires_at)
            .await?
        {
            return Err(invalid_grant("this ID-JAG was used before"));
        }

        let subject = format!("{}:{}", trusted.provider, verified.subject());
        let family = new_family(rng);
        let groups = self.groups_for(&subject).await?;
        let grant = Grant {
            family: &family,
            client_id: &client.client_id,
            subject: &subject,
            groups: &groups,
            scopes: &scopes,
            resources: &targets,
            act: None,
            not_after: None,
        };
        let minted = self.mint_access_token(&grant, key, rng, now)?;
        self.store().record_access_token(minted.record).await?;
        // §4.4.3: "SHOULD NOT return a Refresh Token": the client asks the provider again.
        Ok((
            response(
                minted.token,
                minted.claims.exp.saturating_sub(now.as_secs()),
                None,
                &minted.scopes,
            ),
            minted.claims,
        ))
    }

    /// The resources the token is for. The ID-JAG's `resource` names MCP servers of this server
    /// (§7.6.2: "MUST validate that the `resource` claim matches its own registered Resource
    /// Identifiers"); a `resource` in the request may narrow them, never add to them.
    fn id_jag_resources(
        &self,
        form: &FormParams,
        claim: Option<&Value>,
    ) -> Result<Vec<ResourceUri>, EndpointError> {
        let named: Vec<&str> = match claim {
            Some(Value::String(one)) => vec![one.as_str()],
            Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if named.is_empty() {
            return Err(invalid_grant(
                "the ID-JAG names no resource: it must name the MCP server it grants access to",
            ));
        }
        let mut granted = Vec::new();
        for name in named {
            let resource = ResourceUri::parse(name)
                .ok()
                .filter(|r| self.config().resource(r).is_some())
                .ok_or_else(|| {
                    invalid_grant(format!("the ID-JAG's resource {name} is not served here"))
                })?;
            granted.push(resource);
        }
        let requested: Vec<&str> = form.all("resource").collect();
        if requested.is_empty() {
            return Ok(granted);
        }
        let mut narrowed = Vec::new();
        for name in requested {
            let resource = ResourceUri::parse(name)
                .ok()
                .filter(|r| granted.contains(r))
                .ok_or_else(|| {
                    EndpointError::new(
                        ErrorCode::InvalidTarget,
                        format!("{name} is not among the resources the ID-JAG grants"),
                    )
                })?;
            narrowed.push(resource);
        }
        Ok(narrowed)
    }

    /// The scopes granted: those asked for, within the ID-JAG's `scope` when it carries one
    /// (the intersection, §7.2.1), within what the resources understand and the client may
    /// hold. An ID-JAG scope the resources do not know is refused (§7.6.2).
    fn id_jag_scopes(
        &self,
        form: &FormParams,
        client: &ClientRecord,
        claim: Option<&Value>,
        targets: &[ResourceUri],
    ) -> Result<ScopeSet, EndpointError> {
        let vouched = match claim {
            None => None,
            Some(Value::String(scope)) => Some(
                ScopeSet::parse(scope)
                    .map_err(|_| invalid_grant("the ID-JAG's scope is malformed"))?,
            ),
            Some(_) => return Err(invalid_grant("the ID-JAG's scope is not a string")),
        };
        if let Some(vouched) = &vouched {
            let known: Vec<&ScopeSet> = targets
                .iter()
                .filter_map(|r| self.config().resource(r))
                .map(|r| &r.scopes_supported)
                .collect();
            if let Some(unknown) = vouched
                .iter()
                .find(|scope| !known.iter().any(|set| set.contains(scope)))
            {
                return Err(invalid_grant(format!(
                    "the ID-JAG's scope {unknown} is not a scope of its resource"
                )));
            }
        }
        let asked = match single(form, "scope")? {
            Some(scope) => ScopeSet::parse(scope)
                .map_err(|e| EndpointError::new(ErrorCode::InvalidScope, e.to_string()))?,
            None => vouched.clone().unwrap_or_default(),
        };
        let mut scopes = self.grantable_scopes(client, targets, &asked);
        if let Some(vouched) = &vouched {
            scopes = scopes.intersection(vouched);
        }
        if scopes.is_empty() && !self.resources_have_no_scopes(targets) {
            return Err(EndpointError::new(
                ErrorCode::InvalidScope,
                "none of the requested scopes is both granted by the ID-JAG and held by this client",
            ));
        }
        Ok(scopes)
    }
}
