//! Client authentication at the token, revocation and introspection endpoints
//! ([RFC 6749 §2.3](https://www.rfc-editor.org/rfc/rfc6749#section-2.3)): `none`,
//! `client_secret_basic` and `client_secret_post`. Parsing what a request presents is one step,
//! checking it against the resolved client another, with the resolution (IO) between them, in the
//! caller.

use base64ct::{Base64, Encoding};
use gatehouse_types::form::FormParams;
use gatehouse_types::{ClientId, SecretString, TokenEndpointAuthMethod, UnixTime};
use zeroize::Zeroizing;

use crate::error::EndpointError;
use crate::opaque::CredentialHash;
use crate::store::ClientRecord;

/// What a client presented to prove itself.
enum Credential {
    Basic(SecretString),
    Post(SecretString),
    None,
}

/// The client a request says it comes from, and what it presented to prove it: parsed from the
/// request, not yet checked. The caller resolves [`ClaimedClient::id`] (a store row, a Client ID
/// Metadata Document) and hands the engine the result; the engine then checks the credential.
pub struct ClaimedClient {
    id: ClientId,
    credential: Credential,
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
        Ok(Self { id, credential })
    }

    /// The client it claims to be (not authenticated).
    pub fn id(&self) -> &ClientId {
        &self.id
    }

    /// Checks the presented credential against `client`, the resolved [`ClaimedClient::id`]
    /// (`None`: no such client), and its registered method. Secrets are compared as hashes in
    /// constant time.
    pub(crate) fn authenticate(
        &self,
        client: Option<ClientRecord>,
        now: UnixTime,
    ) -> Result<ClientRecord, EndpointError> {
        let (secret, method_used) = match &self.credential {
            Credential::Basic(secret) => (Some(secret), TokenEndpointAuthMethod::ClientSecretBasic),
            Credential::Post(secret) => (Some(secret), TokenEndpointAuthMethod::ClientSecretPost),
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
