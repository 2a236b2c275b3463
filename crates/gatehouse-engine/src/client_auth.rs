//! Client authentication at the token, revocation and introspection endpoints
//! ([RFC 6749 §2.3](https://www.rfc-editor.org/rfc/rfc6749#section-2.3)): `none`,
//! `client_secret_basic`, `client_secret_post`, and `private_key_jwt`
//! ([RFC 7523 §2.2](https://www.rfc-editor.org/rfc/rfc7523#section-2.2)), which MCP's client
//! credentials extension (SEP-1046) recommends. Parsing what a request presents is one step,
//! checking it against the resolved client another, with the resolution (IO: the client's row,
//! its `jwks_uri`) between them, in the caller.

use base64ct::{Base64, Encoding};
use gatehouse_jose::{AssertionExpectations, KeySet};
use gatehouse_types::form::FormParams;
use gatehouse_types::{ClientId, SecretString, TokenEndpointAuthMethod, UnixTime};
use zeroize::Zeroizing;

use crate::error::EndpointError;
use crate::opaque::CredentialHash;
use crate::store::ClientRecord;
use crate::{Engine, Store};

/// What a client presented to prove itself.
enum Credential {
    Basic(SecretString),
    Post(SecretString),
    /// A JWT signed with the client's private key (RFC 7523 §2.2).
    Assertion(String),
    None,
}

/// RFC 7523 §2.2: the one `client_assertion_type` of JWT client authentication.
pub const JWT_BEARER_ASSERTION: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The longest lifetime of a client assertion accepted: a client signs one per request, so a
/// few minutes is plenty, and its `jti` is kept this long at most.
pub const MAX_CLIENT_ASSERTION_SECS: u64 = 600;

/// A client assertion that verified: its `jti`, to record as used until `expires_at`.
#[derive(Debug)]
pub(crate) struct UsedAssertion {
    pub(crate) jti: String,
    pub(crate) expires_at: UnixTime,
}

/// The client a request says it comes from, and what it presented to prove it: parsed from the
/// request, not yet checked. The caller resolves [`ClaimedClient::id`] (a store row, a Client ID
/// Metadata Document) and hands the engine the result; the engine then checks the credential.
pub struct ClaimedClient {
    id: ClientId,
    credential: Credential,
    /// The client's keys, when the caller fetched them from its `jwks_uri`.
    keys: Option<KeySet>,
}

impl std::fmt::Debug for ClaimedClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimedClient")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

impl ClaimedClient {
    /// Reads the client's credentials from the `Authorization` header value and the form.
    pub(crate) fn parse(
        form: &FormParams,
        authorization: Option<&str>,
    ) -> Result<Self, EndpointError> {
        let form_id = form
            .single("client_id")
            .map_err(|e| EndpointError::invalid_request(e.to_string()))?;
        let form_secret = form
            .single("client_secret")
            .map_err(|e| EndpointError::invalid_request(e.to_string()))?;
        let basic = authorization.map(parse_basic).transpose()?;
        if let Some(assertion) = Self::assertion(form)? {
            // RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in
            // each request."
            if basic.is_some() || form_secret.is_some() {
                return Err(EndpointError::invalid_request(
                    "a client assertion and a client secret in one request (RFC 6749 section 2.3)",
                ));
            }
            // RFC 7523 §3 items 1 and 2: `iss` and `sub` are the client's id. Read unverified
            // here only to know which client to resolve; the signature is checked later.
            // Its `sub`, else its `iss`: verification then refuses one without `sub` precisely.
            let claimed = gatehouse_jose::dangerous_peek_issuer_and_subject(&assertion)
                .and_then(|(iss, sub)| sub.or(iss))
                .ok_or_else(|| {
                    EndpointError::invalid_client(
                        "the client assertion is not a readable JWT naming its client",
                    )
                })?;
            if form_id.is_some_and(|id| id != claimed) {
                return Err(EndpointError::invalid_client(
                    "client_id differs from the client assertion's sub (RFC 7523 section 3)",
                ));
            }
            return Ok(Self {
                id: client_id(&claimed)?,
                credential: Credential::Assertion(assertion),
                keys: None,
            });
        }
        let (id, credential) = match (basic, form_id, form_secret) {
            // RFC 6749 §2.3: "The client MUST NOT use more than one authentication method in
            // each request."
            (Some(_), _, Some(_)) => {
                return Err(EndpointError::invalid_request(
                    "client credentials in both the Authorization header and the body (RFC 6749 section 2.3)",
                ));
            }
            (Some((id, _)), Some(form_id), None) if id.as_str() != form_id => {
                return Err(EndpointError::invalid_request(
                    "client_id in the body differs from the Authorization header",
                ));
            }
            (Some((id, secret)), _, None) => (id, Credential::Basic(secret)),
            (None, Some(id), Some(secret)) => {
                (client_id(id)?, Credential::Post(SecretString::new(secret)))
            }
            (None, Some(id), None) => (client_id(id)?, Credential::None),
            (None, None, _) => {
                return Err(EndpointError::invalid_client(
                    "no client authentication: send client_id (public clients) or client credentials",
                ));
            }
        };
        Ok(Self {
            id,
            credential,
            keys: None,
        })
    }

    /// `client_assertion`, if the form carries one of the one supported type.
    fn assertion(form: &FormParams) -> Result<Option<String>, EndpointError> {
        let kind = form
            .single("client_assertion_type")
            .map_err(|e| EndpointError::invalid_request(e.to_string()))?;
        let assertion = form
            .single("client_assertion")
            .map_err(|e| EndpointError::invalid_request(e.to_string()))?;
        match (kind, assertion) {
            (None, None) => Ok(None),
            (Some(JWT_BEARER_ASSERTION), Some(assertion)) => Ok(Some(assertion.to_owned())),
            (Some(JWT_BEARER_ASSERTION), None) => Err(EndpointError::invalid_request(
                "client_assertion_type without client_assertion",
            )),
            (None, Some(_)) => Err(EndpointError::invalid_request(
                "client_assertion without client_assertion_type (RFC 7523 section 2.2)",
            )),
            (Some(_), _) => Err(EndpointError::invalid_client(format!(
                "client_assertion_type must be {JWT_BEARER_ASSERTION} (RFC 7523 section 2.2)"
            ))),
        }
    }

    /// Whether the client presented an assertion: its keys may then have to be fetched.
    pub fn presents_assertion(&self) -> bool {
        matches!(self.credential, Credential::Assertion(_))
    }

    /// Hands over the client's keys, fetched from its `jwks_uri` by the caller.
    pub fn provide_keys(&mut self, keys: KeySet) {
        self.keys = Some(keys);
    }

    /// The client it claims to be (not authenticated).
    pub fn id(&self) -> &ClientId {
        &self.id
    }

    /// Checks the presented credential against `client`, the resolved [`ClaimedClient::id`]
    /// (`None`: no such client), and its registered method. Secrets are compared as hashes in
    /// constant time; an assertion is verified against the client's keys and must name
    /// `issuer` (or its token endpoint) as its audience, and its `jti` is returned to be
    /// recorded as used.
    pub(crate) fn authenticate(
        &self,
        client: Option<ClientRecord>,
        issuer: &str,
        now: UnixTime,
    ) -> Result<(ClientRecord, Option<UsedAssertion>), EndpointError> {
        let (secret, method_used) = match &self.credential {
            Credential::Basic(secret) => (Some(secret), TokenEndpointAuthMethod::ClientSecretBasic),
            Credential::Post(secret) => (Some(secret), TokenEndpointAuthMethod::ClientSecretPost),
            Credential::Assertion(_) => (None, TokenEndpointAuthMethod::PrivateKeyJwt),
            Credential::None => (None, TokenEndpointAuthMethod::None),
        };
        // One answer for an unknown client, a wrong secret and a wrong method, so the endpoint
        // cannot be used to learn which client ids exist or how they authenticate.
        let unknown = || {
            EndpointError::invalid_client(
                "client authentication failed: unknown client, wrong secret, or not the registered \
                 authentication method",
            )
        };
        let client = client
            .filter(|client| client.client_id == self.id)
            .ok_or_else(unknown)?;
        if *client.metadata.token_endpoint_auth_method() != method_used {
            return Err(unknown());
        }
        if let Credential::Assertion(assertion) = &self.credential {
            let used = self.verify_assertion(assertion, &client, issuer, now)?;
            return Ok((client, Some(used)));
        }
        if let Some(secret) = secret {
            let Some(stored) = client.secret_hash else {
                return Err(unknown());
            };
            if CredentialHash::of(secret.expose_secret()) != stored {
                return Err(unknown());
            }
            if client.secret_expires_at.is_some_and(|expiry| now >= expiry) {
                return Err(EndpointError::invalid_client("client secret expired"));
            }
        }
        Ok((client, None))
    }

    /// RFC 7523 §3: the assertion is signed by one of the client's keys (its registered `jwks`,
    /// or those the caller fetched from its `jwks_uri`), issued by the client about itself, for
    /// this server, short-lived, with a `jti`.
    fn verify_assertion(
        &self,
        assertion: &str,
        client: &ClientRecord,
        issuer: &str,
        now: UnixTime,
    ) -> Result<UsedAssertion, EndpointError> {
        let registered;
        let keys = match (&self.keys, client.metadata.jwks()) {
            (Some(fetched), _) => fetched,
            (None, Some(jwks)) => {
                registered = gatehouse_jose::Jwks::from_json(jwks.to_string().as_bytes())
                    .map(|jwks| KeySet::from_jwks(&jwks).0)
                    .map_err(|_| {
                        EndpointError::invalid_client("the client's registered jwks is unusable")
                    })?;
                &registered
            }
            (None, None) => {
                return Err(EndpointError::invalid_client(
                    "the client has no keys to verify its assertion with",
                ));
            }
        };
        let id = client.client_id.as_str();
        let expected = AssertionExpectations::new(id, issuer)
            .also_accept_audience(format!("{}/token", issuer.trim_end_matches('/')))
            .with_max_lifetime(MAX_CLIENT_ASSERTION_SECS);
        let verified = gatehouse_jose::verify_assertion(assertion, keys, &expected, now.as_secs())
            .map_err(|e| {
                EndpointError::invalid_client(format!("the client assertion is refused: {e}"))
            })?;
        // Item 2: "the JWT MUST contain a sub (subject) claim" that, for client authentication,
        // "MUST be the client_id of the OAuth client".
        if verified.subject() != id {
            return Err(EndpointError::invalid_client(
                "the client assertion's sub is not the client_id (RFC 7523 section 3)",
            ));
        }
        Ok(UsedAssertion {
            jti: verified.jti().to_owned(),
            expires_at: UnixTime::from_secs(verified.remember_until()),
        })
    }
}

impl<S: Store> Engine<S> {
    /// Authenticates the client a request claims to be ([`ClaimedClient::authenticate`]) and
    /// records a client assertion's `jti` as used: RFC 7523 §3 item 7, "The authorization server
    /// MAY ensure that JWTs are not replayed", which this server does, on every instance that
    /// shares the store.
    pub(crate) async fn authenticate(
        &self,
        claimed: &ClaimedClient,
        client: Option<ClientRecord>,
        now: UnixTime,
    ) -> Result<ClientRecord, EndpointError> {
        let (client, used) = claimed.authenticate(client, self.config().issuer(), now)?;
        if let Some(used) = used
            && !self
                .store()
                .use_assertion(client.client_id.as_str(), &used.jti, used.expires_at)
                .await?
        {
            return Err(EndpointError::invalid_client(
                "this client assertion was used before; sign a new one, with a new jti, for each request (RFC 7523 section 3)",
            ));
        }
        Ok(client)
    }
}

fn client_id(value: &str) -> Result<ClientId, EndpointError> {
    ClientId::new(value).map_err(|e| EndpointError::invalid_client(e.to_string()))
}

/// `Basic base64(urlencode(client_id) ":" urlencode(client_secret))`
/// ([RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1): both are
/// form-encoded before base64).
pub fn parse_basic(header: &str) -> Result<(ClientId, SecretString), EndpointError> {
    let malformed = || EndpointError::invalid_client("malformed Basic authorization header");
    let (scheme, encoded) = header.trim().split_once(' ').ok_or_else(malformed)?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(EndpointError::invalid_client(
            "the Authorization header must use the Basic scheme",
        ));
    }
    let decoded = Zeroizing::new(Base64::decode_vec(encoded.trim()).map_err(|_| malformed())?);
    let text = std::str::from_utf8(&decoded).map_err(|_| malformed())?;
    let (id, secret) = text.split_once(':').ok_or_else(malformed)?;
    let decode = |s: &str| -> Result<Zeroizing<String>, EndpointError> {
        let pairs = FormParams::parse(format!("v={s}").as_bytes()).map_err(|_| malformed())?;
        Ok(Zeroizing::new(
            pairs
                .single("v")
                .ok()
                .flatten()
                .unwrap_or_default()
                .to_owned(),
        ))
    };
    let id = decode(id)?;
    let secret = decode(secret)?;
    Ok((client_id(&id)?, SecretString::new(secret.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_section_2_3_1_basic_credentials_are_form_encoded() {
        // "s6BhdRkqt3:gX1fBat3bV", RFC 6749 §2.3.1's example.
        let (id, secret) = parse_basic("Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW").unwrap();
        assert_eq!(id.as_str(), "s6BhdRkqt3");
        assert_eq!(secret.expose_secret(), "gX1fBat3bV");
        // "a%3Ab:c%2Bd" -> id "a:b", secret "c+d".
        let header = format!("Basic {}", Base64::encode_string(b"a%3Ab:c%2Bd"));
        let (id, secret) = parse_basic(&header).unwrap();
        assert_eq!(id.as_str(), "a:b");
        assert_eq!(secret.expose_secret(), "c+d");
        assert!(parse_basic("Bearer abc").is_err());
        assert!(parse_basic("Basic !!!").is_err());
    }

    #[test]
    fn rfc6749_section_2_3_one_method_per_request() {
        let form = FormParams::parse(b"client_id=a&client_secret=b").unwrap();
        let result = ClaimedClient::parse(&form, Some("Basic YTpi"));
        assert!(matches!(result, Err(e) if e.description().contains("both")));
    }
}
