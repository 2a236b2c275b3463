//! Local verification of JWT access tokens
//! ([RFC 9068 §4](https://www.rfc-editor.org/rfc/rfc9068#section-4)) with keys from a
//! [`KeySource`], into a [`Principal`].

use std::sync::Arc;

use gatehouse_jose::{
    AccessToken, AccessTokenValidator, JwsError, JwtError, TokenExpectations, jws,
};
use gatehouse_types::{ScopeSet, UnixTime};

use crate::KeySource;
use crate::principal::{Principal, PrincipalParts, canonical_resource};
use crate::rejection::Rejection;

pub(crate) struct JwtVerifier {
    source: Arc<dyn KeySource>,
    validator: AccessTokenValidator,
}

impl JwtVerifier {
    pub(crate) fn new(source: Arc<dyn KeySource>, expected: TokenExpectations) -> Self {
        Self {
            source,
            validator: AccessTokenValidator::expecting(expected),
        }
    }

    /// Verifies `token` at `now`: the signature with the source's keys (refreshed once if the
    /// token names an unknown key), then `typ`, `iss`, `aud`, `exp`, `nbf`, `iat`.
    pub(crate) async fn verify(&self, token: &str, now: u64) -> Result<Principal, Rejection> {
        let keys = self.source.keys().await.map_err(unavailable)?;
        let verified = match self.validator.validate(token, &keys, now) {
            Err(JwtError::Jws(JwsError::NoMatchingKey)) => {
                // The issuer may have rotated keys since the set was fetched.
                let kid = jws::parse(token)
                    .ok()
                    .and_then(|jws| jws.header().kid().map(str::to_owned));
                let keys = self
                    .source
                    .refresh_for_unknown_kid(kid.as_deref())
                    .await
                    .map_err(unavailable)?;
                self.validator.validate(token, &keys, now)
            }
            other => other,
        };
        let verified = verified.map_err(|error| {
            tracing::debug!(%error, "access token refused");
            Rejection::InvalidToken(error.public_description())
        })?;
        self.principal(verified)
    }

    fn principal(&self, token: AccessToken) -> Result<Principal, Rejection> {
        let claims = token.into_claims();
        // RFC 9068 §2.2.3: `scope` is a space-separated list as in RFC 6749 §3.3.
        let scopes = match &claims.scope {
            Some(scope) => ScopeSet::parse(scope).map_err(|_| {
                Rejection::InvalidToken("The access token's scope claim is malformed")
            })?,
            None => ScopeSet::new(),
        };
        Ok(Principal::new(PrincipalParts {
            subject: claims.sub,
            client_id: claims.client_id,
            scopes,
            jti: Some(claims.jti),
            expires_at: UnixTime::from_secs(claims.exp),
            issuer: self.validator.expectations().issuer().to_owned(),
            resource: canonical_resource(self.validator.expectations()),
            claims: claims.extra,
        }))
    }
}

fn unavailable(error: crate::KeySourceError) -> Rejection {
    tracing::warn!(%error, "no keys to verify an access token with");
    Rejection::Unavailable("The authorization server's keys are unavailable; try again shortly")
}
