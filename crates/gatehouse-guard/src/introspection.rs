//! Introspection mode: the guard asks the authorization server about each token
//! ([RFC 7662](https://www.rfc-editor.org/rfc/rfc7662)) instead of verifying it locally.
//!
//! - The guard authenticates as a client with HTTP Basic (RFC 7662 §2.1: "the protected
//!   resource … MUST also authenticate to the introspection endpoint"; RFC 6749 §2.3.1 for the
//!   encoding).
//! - An answer is accepted only if `active` is `true`, `aud` names this resource (RFC 8707),
//!   `iss` (when present) is the issuer exactly, `exp` is present and in the future, `nbf` (when
//!   present) is not in the future, and `token_type` (when present) names an access token: an
//!   authorization server may introspect refresh tokens too.
//! - Freshness: an active answer is reused for [`IntrospectionClient::freshness`] (default 30
//!   seconds), never beyond the token's `exp`. So a token revoked at the authorization server is
//!   refused at most that long after. An inactive answer is reused for
//!   [`IntrospectionClient::inactive_ttl`] (default 5 seconds), so a client retrying a dead
//!   token does not cost one introspection per retry; zero disables it.
//! - The authorization server unreachable, slow or answering nonsense: `503`, never a token
//!   accepted or refused on a guess.

use std::sync::{PoisonError, RwLock};
use std::time::{Duration, Instant};

use base64ct::{Base64, Encoding};
use gatehouse_introspection::{IntrospectionRequest, IntrospectionResponse, TokenTypeHint};
use gatehouse_jose::{TokenExpectations, Validity};
use gatehouse_types::{ScopeSet, SecretString, UnixTime};

use crate::GuardConfigError;
use crate::cache::{TokenCache, TokenHash};
use crate::fetch::{self, Http, check_fetch_url};
use crate::principal::{Principal, PrincipalParts, canonical_resource};
use crate::rejection::Rejection;

/// Default reuse of an active answer.
const DEFAULT_FRESHNESS: Duration = Duration::from_secs(30);
/// Default reuse of an inactive answer.
const DEFAULT_INACTIVE_TTL: Duration = Duration::from_secs(5);
/// How long a failed endpoint discovery is remembered.
const DISCOVERY_RETRY: Duration = Duration::from_secs(10);

/// The settings of introspection mode: the guard's own client credentials at the
/// authorization server, and where and how often to ask.
pub struct IntrospectionClient {
    client_id: String,
    client_secret: SecretString,
    endpoint: Option<String>,
    freshness: Duration,
    inactive_ttl: Duration,
    cache_capacity: usize,
}

impl std::fmt::Debug for IntrospectionClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntrospectionClient")
            .field("client_id", &self.client_id)
            .field("endpoint", &self.endpoint)
            .field("freshness", &self.freshness)
            .field("inactive_ttl", &self.inactive_ttl)
            .finish_non_exhaustive()
    }
}

impl IntrospectionClient {
    /// Introspection as client `client_id` with `client_secret`. The endpoint is the
    /// `introspection_endpoint` of the issuer's RFC 8414 metadata unless set with
    /// [`endpoint`](Self::endpoint).
    pub fn new(client_id: impl Into<String>, client_secret: SecretString) -> Self {
        Self {
            client_id: client_id.into(),
            client_secret,
            endpoint: None,
            freshness: DEFAULT_FRESHNESS,
            inactive_ttl: DEFAULT_INACTIVE_TTL,
            cache_capacity: 10_000,
        }
    }

    /// The introspection endpoint (`https`, or `http` on a loopback host).
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// How long an active answer is reused (default 30 seconds; never beyond the token's
    /// `exp`). This bounds how late a revocation at the authorization server takes effect;
    /// zero asks on every request.
    pub fn freshness(mut self, freshness: Duration) -> Self {
        self.freshness = freshness;
        self
    }

    /// How long an inactive answer is reused (default 5 seconds; zero: not at all).
    pub fn inactive_ttl(mut self, ttl: Duration) -> Self {
        self.inactive_ttl = ttl;
        self
    }

    /// Most answers kept (default 10 000).
    pub fn cache_capacity(mut self, capacity: usize) -> Self {
        self.cache_capacity = capacity;
        self
    }
}

pub(crate) struct Introspector {
    expected: TokenExpectations,
    authorization: SecretString,
    freshness: Duration,
    inactive_ttl: Duration,
    http: Http,
    endpoint: RwLock<Option<String>>,
    discovery_failed_at: RwLock<Option<Instant>>,
    discovering: tokio::sync::Mutex<()>,
    /// Active answers.
    cache: TokenCache<Principal>,
    /// Refusals, apart: a flood of junk tokens churns this small cache, not the one that holds
    /// the answers for real callers.
    refusals: TokenCache<()>,
    /// Introspection calls in flight; beyond [`MAX_IN_FLIGHT`] a request waits, then is `503`.
    in_flight: tokio::sync::Semaphore,
}

/// Introspection calls one guard makes at once: distinct unknown tokens cost one call each, and
/// without a bound a flood of them would be relayed to the authorization server in full.
const MAX_IN_FLIGHT: usize = 64;

/// How long a request waits for a free introspection slot before it is answered `503`.
const IN_FLIGHT_WAIT: Duration = Duration::from_secs(5);

impl Introspector {
    pub(crate) fn new(
        client: IntrospectionClient,
        expected: TokenExpectations,
    ) -> Result<Self, GuardConfigError> {
        if let Some(endpoint) = &client.endpoint {
            check_fetch_url(endpoint)?;
        }
        Ok(Self {
            authorization: basic_authorization(&client.client_id, &client.client_secret),
            freshness: client.freshness,
            inactive_ttl: client.inactive_ttl,
            http: Http::new()?,
            endpoint: RwLock::new(client.endpoint),
            discovery_failed_at: RwLock::new(None),
            discovering: tokio::sync::Mutex::new(()),
            cache: TokenCache::new(client.cache_capacity),
            refusals: TokenCache::new((client.cache_capacity / 10).max(64)),
            in_flight: tokio::sync::Semaphore::new(MAX_IN_FLIGHT),
            expected,
        })
    }

    pub(crate) async fn verify(
        &self,
        token: &str,
        hash: &TokenHash,
        now: u64,
    ) -> Result<Principal, Rejection> {
        if let Some(principal) = self.cache.get(hash, now) {
            return Ok(principal);
        }
        if self.refusals.get(hash, now).is_some() {
            return Err(inactive());
        }
        let Ok(Ok(_slot)) = tokio::time::timeout(IN_FLIGHT_WAIT, self.in_flight.acquire()).await
        else {
            return Err(Rejection::Unavailable(
                "Too many tokens are being checked with the authorization server; try again shortly",
            ));
        };
        let response = self.introspect(token).await?;
        match self.check(response, now) {
            Ok(principal) => {
                let until = now
                    .saturating_add(self.freshness.as_secs())
                    .min(principal.expires_at().as_secs());
                self.cache.insert(*hash, principal.clone(), until, now);
                Ok(principal)
            }
            Err(rejection) => {
                let until = now.saturating_add(self.inactive_ttl.as_secs());
                self.refusals.insert(*hash, (), until, now);
                Err(rejection)
            }
        }
    }

    async fn introspect(&self, token: &str) -> Result<IntrospectionResponse, Rejection> {
        let endpoint = self.endpoint().await?;
        let request = IntrospectionRequest::new(SecretString::new(token))
            .map_err(|_| Rejection::InvalidToken("The access token is invalid"))?
            .with_token_type_hint(TokenTypeHint::AccessToken);
        let fetched = self
            .http
            .post_form(
                &endpoint,
                self.authorization.expose_secret(),
                request.to_form(),
            )
            .await
            .map_err(|reason| {
                tracing::warn!(%reason, "the introspection endpoint is unreachable");
                unreachable_as()
            })?;
        if fetched.status != 200 {
            // 401 here means our own credentials are wrong: an operator's problem, not the
            // client's, so the client gets 503 and the log says why.
            tracing::error!(
                status = fetched.status,
                "the introspection endpoint refused the request"
            );
            return Err(unreachable_as());
        }
        IntrospectionResponse::from_json(&fetched.body).map_err(|error| {
            tracing::warn!(%error, "the introspection endpoint answered malformed JSON");
            unreachable_as()
        })
    }

    /// The configured or discovered endpoint; discovery failures are remembered briefly.
    async fn endpoint(&self) -> Result<String, Rejection> {
        if let Some(endpoint) = self
            .endpoint
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Ok(endpoint);
        }
        let _discovering = self.discovering.lock().await;
        if let Some(endpoint) = self
            .endpoint
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
        {
            return Ok(endpoint);
        }
        let failed_recently = self
            .discovery_failed_at
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some_and(|at| at.elapsed() < DISCOVERY_RETRY);
        if failed_recently {
            return Err(unreachable_as());
        }
        let discovered = fetch::discover(&self.http, self.expected.issuer())
            .await
            .and_then(|metadata| {
                metadata
                    .introspection_endpoint
                    .ok_or_else(|| "the issuer's metadata has no introspection_endpoint".to_owned())
            })
            .and_then(|url| {
                check_fetch_url(&url)
                    .map(|()| url)
                    .map_err(|e| e.to_string())
            });
        match discovered {
            Ok(url) => {
                *self
                    .endpoint
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(url.clone());
                Ok(url)
            }
            Err(reason) => {
                tracing::warn!(%reason, "discovering the introspection endpoint failed");
                *self
                    .discovery_failed_at
                    .write()
                    .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
                Err(unreachable_as())
            }
        }
    }

    fn check(&self, response: IntrospectionResponse, now: u64) -> Result<Principal, Rejection> {
        let IntrospectionResponse::Active(token) = response else {
            return Err(inactive());
        };
        let Some(exp) = token.exp else {
            return Err(Rejection::InvalidToken(
                "The authorization server gave no expiry for the access token",
            ));
        };
        // RFC 7662 §4: the resource "MUST also check" the token is meant for it (RFC 8707: with
        // `aud`), with the checks a JWT meets too. An answer may omit `iss`: the authorization
        // server that answers vouches for it. `iat` is information here, not a validity claim.
        self.expected
            .check(
                token.iss.as_deref(),
                token.aud.iter().flat_map(|aud| aud.iter()),
                Validity::until(exp.as_secs()).not_before(token.nbf.map(|nbf| nbf.as_secs())),
                now,
            )
            .map_err(|error| Rejection::InvalidToken(error.public_description()))?;
        // RFC 9449 §6.2: a DPoP-bound access token is introspected as `token_type: DPoP`.
        let is_access_token = token.token_type.as_deref().is_none_or(|kind| {
            kind.eq_ignore_ascii_case("Bearer")
                || kind.eq_ignore_ascii_case("DPoP")
                || kind.eq_ignore_ascii_case("access_token")
        });
        if !is_access_token {
            return Err(Rejection::InvalidToken("The token is not an access token"));
        }
        let client_id = token
            .client_id
            .as_ref()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default();
        let token = *token;
        Ok(Principal::new(PrincipalParts {
            subject: token.sub.unwrap_or_else(|| client_id.clone()),
            client_id,
            scopes: token.scope.unwrap_or_else(ScopeSet::new),
            jti: token.jti,
            expires_at: UnixTime::from_secs(exp.as_secs()),
            issuer: self.expected.issuer().to_owned(),
            resource: canonical_resource(&self.expected),
            claims: token.extra,
        }))
    }
}

fn inactive() -> Rejection {
    Rejection::InvalidToken("The access token is not active")
}

fn unreachable_as() -> Rejection {
    Rejection::Unavailable(
        "The authorization server could not be asked about the access token; try again shortly",
    )
}

/// `Basic base64(urlencode(id) ":" urlencode(secret))`
/// ([RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1): "The client
/// identifier is encoded using the "application/x-www-form-urlencoded" encoding algorithm …
/// and the encoded value is used as the username; the client password is encoded using the
/// same algorithm and used as the password").
fn basic_authorization(client_id: &str, secret: &SecretString) -> SecretString {
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let pair = format!("{}:{}", encode(client_id), encode(secret.expose_secret()));
    SecretString::new(format!("Basic {}", Base64::encode_string(pair.as_bytes())))
}

impl Introspector {
    /// Forgets every cached answer.
    pub(crate) fn clear_cache(&self) {
        self.cache.clear();
        self.refusals.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6749_section_2_3_1_basic_credentials_are_form_encoded() {
        let header = basic_authorization("a b:c", &SecretString::new("p@ss:/"));
        // "a+b%3Ac:p%40ss%3A%2F"
        assert_eq!(header.expose_secret(), "Basic YStiJTNBYzpwJTQwc3MlM0ElMkY=");
    }
}
