//! OpenID Connect ID tokens, as a relying party checks them
//! ([OpenID Connect Core 1.0 §3.1.3.7](https://openid.net/specs/openid-connect-core-1_0.html#IDTokenValidation)):
//! Gatehouse signs people in through an organisation's identity provider, and the ID token is
//! that provider's statement of who signed in, for this client, in answer to this request.
//!
//! Checking the signature and claims is this module's; fetching the provider's keys, and the
//! `nonce` the request carried, are the caller's.

use serde_json::{Map, Value};

use crate::jws::{self, Header};
use crate::jwt::{Audience, TokenExpectations, Validity};
use crate::{JwtError, KeySet};

/// Why an ID token was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// The JWS: its form, or no key of the provider's set verifies it (§3.1.3.7 items 6, 7).
    #[error("the ID token's signature cannot be verified with the identity provider's keys ({0})")]
    Jwt(#[from] JwtError),
    /// `iss` is not the provider's issuer identifier (§3.1.3.7 item 2).
    #[error("the ID token was issued by another party (OpenID Connect Core section 3.1.3.7)")]
    WrongIssuer,
    /// `aud` does not name this client (§3.1.3.7 item 3).
    #[error("the ID token was issued for another client (OpenID Connect Core section 3.1.3.7)")]
    WrongAudience,
    /// `exp` has passed, or `nbf` or `iat` is in the future (§3.1.3.7 items 9, 10).
    #[error("the ID token is expired or not valid yet (OpenID Connect Core section 3.1.3.7)")]
    OutsideValidity,
    /// A required claim is missing or not of its type.
    #[error("the ID token has no valid `{0}` claim (OpenID Connect Core section 2)")]
    MissingClaim(&'static str),
    /// `aud` names a party besides this client (§3.1.3.7 item 3: "MUST be rejected if … it
    /// contains additional audiences not trusted by the Client").
    #[error(
        "the ID token is also addressed to another party (OpenID Connect Core section 3.1.3.7)"
    )]
    UntrustedAudience,
    /// `azp` is present and is not this client (§3.1.3.7 items 4 and 5).
    #[error("the ID token was issued to another client (azp; OpenID Connect Core section 3.1.3.7)")]
    WrongAuthorizedParty,
    /// `nonce` is not the one this sign-in sent (§3.1.3.7 item 11): a token replayed from
    /// another sign-in.
    #[error("the ID token's nonce is not this sign-in's (OpenID Connect Core section 3.1.3.7)")]
    WrongNonce,
    /// `iat` is further in the past than accepted (§3.1.3.7 item 10).
    #[error("the ID token was issued too long ago (OpenID Connect Core section 3.1.3.7)")]
    TooOld,
}

/// What an ID token must satisfy: the provider's issuer identifier (`iss`), this client's
/// `client_id` (`aud`, `azp`), and the `nonce` the authentication request carried.
#[derive(Debug, Clone)]
pub struct IdTokenExpectations {
    expected: TokenExpectations,
    client_id: String,
    nonce: String,
    max_age_secs: u64,
}

impl IdTokenExpectations {
    /// The oldest `iat` accepted by default: an ID token is read moments after it is minted.
    pub const DEFAULT_MAX_AGE_SECS: u64 = 600;

    /// ID tokens issued by `issuer` (exact string) to `client_id`, carrying `nonce`.
    pub fn new(
        issuer: impl Into<String>,
        client_id: impl Into<String>,
        nonce: impl Into<String>,
    ) -> Self {
        let client_id = client_id.into();
        Self {
            expected: TokenExpectations::new(issuer, client_id.clone()),
            client_id,
            nonce: nonce.into(),
            max_age_secs: Self::DEFAULT_MAX_AGE_SECS,
        }
    }

    /// The clock skew allowed on `exp`, `nbf` and `iat`.
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.expected = self.expected.with_leeway(secs);
        self
    }

    /// The oldest `iat` accepted, in seconds before now.
    pub fn with_max_age(mut self, secs: u64) -> Self {
        self.max_age_secs = secs;
        self
    }
}

/// An ID token whose signature and claims were checked.
#[derive(Debug, Clone, PartialEq)]
pub struct IdToken {
    header: Header,
    claims: Map<String, Value>,
    sub: String,
}

impl IdToken {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// `sub`: the provider's identifier for the person, unique and never reassigned within the
    /// issuer (§2).
    pub fn subject(&self) -> &str {
        &self.sub
    }

    /// Any claim (`email`, `email_verified`, `groups`, …).
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// Every claim.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

/// The longest `sub` accepted (§2: "It MUST NOT exceed 255 ASCII characters in length").
const MAX_SUB_LEN: usize = 255;

/// Verifies `token` with `keys` at `now`, as OpenID Connect Core §3.1.3.7 says:
/// - signed by a key of the provider's set, with that key's own algorithm (items 6 and 7; there
///   is no `none` and no HMAC in this crate, so neither can be chosen by the token);
/// - `iss` exactly the provider's issuer identifier (item 2);
/// - `aud` contains this client and nobody else (item 3);
/// - `azp`, when present, is this client (items 4 and 5);
/// - `exp` in the future (item 9), `iat` present, not in the future and not older than the
///   maximum age (item 10);
/// - `nonce` exactly the one sent (item 11);
/// - `sub` present, at most 255 characters (§2).
pub fn verify_id_token(
    token: &str,
    keys: &KeySet,
    expected: &IdTokenExpectations,
    now: u64,
) -> Result<IdToken, IdTokenError> {
    let (header, payload) = jws::parse(token)
        .and_then(|unverified| unverified.verify_with(keys))
        .map_err(JwtError::from)?
        .into_parts();
    let claims = crate::json::parse_object(&payload)
        .map_err(|e| JwtError::MalformedClaims(e.to_string()))?;
    let text = |name: &'static str| {
        crate::json::text_claim(&claims, name).ok_or(IdTokenError::MissingClaim(name))
    };
    let number = |name: &'static str| {
        crate::json::number_claim(&claims, name).map_err(|()| IdTokenError::MissingClaim(name))
    };
    let iss = text("iss")?;
    let sub = text("sub")?;
    if sub.len() > MAX_SUB_LEN {
        return Err(IdTokenError::MissingClaim("sub"));
    }
    let aud: Audience = claims
        .get("aud")
        .cloned()
        .and_then(|aud| serde_json::from_value(aud).ok())
        .ok_or(IdTokenError::MissingClaim("aud"))?;
    let exp = number("exp")?.ok_or(IdTokenError::MissingClaim("exp"))?;
    let iat = number("iat")?.ok_or(IdTokenError::MissingClaim("iat"))?;
    expected
        .expected
        .check(
            Some(iss),
            aud.iter(),
            Validity::until(exp)
                .not_before(number("nbf")?)
                .issued_at(Some(iat)),
            now,
        )
        .map_err(|error| match error {
            JwtError::WrongIssuer => IdTokenError::WrongIssuer,
            JwtError::WrongAudience => IdTokenError::WrongAudience,
            _ => IdTokenError::OutsideValidity,
        })?;
    if aud.iter().any(|party| party != expected.client_id) {
        return Err(IdTokenError::UntrustedAudience);
    }
    match claims.get("azp") {
        None => {}
        Some(Value::String(azp)) if *azp == expected.client_id => {}
        Some(_) => return Err(IdTokenError::WrongAuthorizedParty),
    }
    if now.saturating_sub(iat) > expected.max_age_secs {
        return Err(IdTokenError::TooOld);
    }
    let nonce = claims.get("nonce").and_then(Value::as_str);
    if nonce != Some(expected.nonce.as_str()) {
        return Err(IdTokenError::WrongNonce);
    }
    let sub = sub.to_owned();
    Ok(IdToken {
        header,
        claims,
        sub,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::{Algorithm, SigningKey};

    const ISSUER: &str = "https://login.example.com";
    const CLIENT: &str = "gatehouse";
    const NONCE: &str = "n-0S6_WzA2Mj";
    const NOW: u64 = 1_800_000_000;

    fn key() -> SigningKey {
        SigningKey::generate(Algorithm::Es256)
            .unwrap()
            .with_kid("k1")
    }

    fn claims() -> Value {
        json!({
            "iss": ISSUER, "sub": "248289761001", "aud": CLIENT, "exp": NOW + 300,
            "iat": NOW - 5, "nonce": NONCE, "email": "alice@corp.example",
        })
    }

    fn sign(key: &SigningKey, claims: &Value) -> String {
        jws::sign(key, Some("JWT"), claims.to_string().as_bytes()).unwrap()
    }

    fn verify(token: &str, key: &SigningKey) -> Result<IdToken, IdTokenError> {
        let keys = KeySet::new(vec![key.verifying_key()]);
        verify_id_token(
            token,
            &keys,
            &IdTokenExpectations::new(ISSUER, CLIENT, NONCE),
            NOW,
        )
    }

    fn with(change: impl FnOnce(&mut Map<String, Value>)) -> Value {
        let mut claims = claims();
        change(claims.as_object_mut().unwrap());
        claims
    }

    #[test]
    fn a_good_id_token_is_accepted_with_its_claims() {
        let key = key();
        let token = verify(&sign(&key, &claims()), &key).unwrap();
        assert_eq!(token.subject(), "248289761001");
        assert_eq!(token.claim("email"), Some(&json!("alice@corp.example")));
    }

    #[test]
    fn oidc_core_3_1_3_7_item_6_a_signature_by_another_key_is_refused() {
        let (key, other) = (key(), key());
        assert!(matches!(
            verify(&sign(&other, &claims()), &key),
            Err(IdTokenError::Jwt(JwtError::Jws(_)))
        ));
    }

    #[test]
    fn oidc_core_3_1_3_7_item_2_another_issuer_is_refused() {
        let key = key();
        let token = sign(
            &key,
            &with(|c| drop(c.insert("iss".into(), json!("https://evil.example")))),
        );
        assert!(matches!(
            verify(&token, &key),
            Err(IdTokenError::WrongIssuer)
        ));
    }

    #[test]
    fn oidc_core_3_1_3_7_item_3_another_audience_or_an_extra_one_is_refused() {
        let key = key();
        let other = sign(
            &key,
            &with(|c| drop(c.insert("aud".into(), json!("someone-else")))),
        );
        assert!(matches!(
            verify(&other, &key),
            Err(IdTokenError::WrongAudience)
        ));
        let extra = sign(
            &key,
            &with(|c| drop(c.insert("aud".into(), json!([CLIENT, "someone-else"])))),
        );
        assert!(matches!(
            verify(&extra, &key),
            Err(IdTokenError::UntrustedAudience)
        ));
        let listed = sign(
            &key,
            &with(|c| drop(c.insert("aud".into(), json!([CLIENT])))),
        );
        assert!(verify(&listed, &key).is_ok());
    }

    #[test]
    fn oidc_core_3_1_3_7_items_4_and_5_azp_must_be_this_client() {
        let key = key();
        let wrong = sign(
            &key,
            &with(|c| drop(c.insert("azp".into(), json!("someone-else")))),
        );
        assert!(matches!(
            verify(&wrong, &key),
            Err(IdTokenError::WrongAuthorizedParty)
        ));
        let right = sign(&key, &with(|c| drop(c.insert("azp".into(), json!(CLIENT)))));
        assert!(verify(&right, &key).is_ok());
    }

    #[test]
    fn oidc_core_3_1_3_7_items_9_and_10_expired_old_or_undated_tokens_are_refused() {
        let key = key();
        let expired = sign(
            &key,
            &with(|c| drop(c.insert("exp".into(), json!(NOW - 60)))),
        );
        assert!(matches!(
            verify(&expired, &key),
            Err(IdTokenError::OutsideValidity)
        ));
        let old = sign(
            &key,
            &with(|c| {
                c.insert("iat".into(), json!(NOW - 3600));
                c.insert("exp".into(), json!(NOW + 3600));
            }),
        );
        assert!(matches!(verify(&old, &key), Err(IdTokenError::TooOld)));
        let undated = sign(&key, &with(|c| drop(c.remove("iat"))));
        assert!(matches!(
            verify(&undated, &key),
            Err(IdTokenError::MissingClaim("iat"))
        ));
    }

    #[test]
    fn oidc_core_3_1_3_7_item_11_the_nonce_must_be_this_sign_ins() {
        let key = key();
        let replayed = sign(
            &key,
            &with(|c| drop(c.insert("nonce".into(), json!("another")))),
        );
        assert!(matches!(
            verify(&replayed, &key),
            Err(IdTokenError::WrongNonce)
        ));
        let missing = sign(&key, &with(|c| drop(c.remove("nonce"))));
        assert!(matches!(
            verify(&missing, &key),
            Err(IdTokenError::WrongNonce)
        ));
    }

    #[test]
    fn oidc_core_2_sub_is_required_and_bounded() {
        let key = key();
        let missing = sign(&key, &with(|c| drop(c.remove("sub"))));
        assert!(matches!(
            verify(&missing, &key),
            Err(IdTokenError::MissingClaim("sub"))
        ));
        let long = sign(
            &key,
            &with(|c| drop(c.insert("sub".into(), json!("x".repeat(256))))),
        );
        assert!(matches!(
            verify(&long, &key),
            Err(IdTokenError::MissingClaim("sub"))
        ));
    }
}
