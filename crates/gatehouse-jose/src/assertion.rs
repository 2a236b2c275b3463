//! JWT assertions ([RFC 7521](https://www.rfc-editor.org/rfc/rfc7521),
//! [RFC 7523](https://www.rfc-editor.org/rfc/rfc7523)): statements a party signs and presents
//! once, such as a client authenticating with `private_key_jwt` (RFC 7523 §2.2) or an identity
//! provider's assertion about a person (an ID-JAG, MCP's Enterprise-Managed Authorization).
//!
//! Unlike an access token, an assertion is single-use: it must carry a `jti`, which the caller
//! records to refuse a replay, and a short lifetime, which bounds how long that record is kept.
//! Checking the signature, the type and the RFC 7523 §3 claims is this module's; recording the
//! `jti` and matching the subject to what the request says is the caller's.

use serde_json::{Map, Value};

use crate::jws::{self, Header};
use crate::jwt::{Audience, TokenExpectations, Validity};
use crate::{JwsError, JwtError, KeySet};

/// Why an assertion was refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AssertionError {
    /// The JWS, or a check shared with access tokens (issuer, audience, time).
    #[error(transparent)]
    Jwt(#[from] JwtError),
    /// The header's `typ` is not the one this kind of assertion must carry.
    #[error("the assertion's typ is not {0}")]
    WrongType(&'static str),
    /// A required claim is missing or not of its type.
    #[error("the assertion has no valid `{0}` claim (RFC 7523 section 3)")]
    MissingClaim(&'static str),
    /// `exp` is further away than assertions of this kind may live.
    #[error("the assertion expires more than {0} seconds from now; sign a shorter-lived one")]
    TooLongLived(u64),
}

/// What an assertion must satisfy: its issuer (`iss`), the audience it names (`aud`: this
/// authorization server), an optional `typ`, and the longest lifetime accepted.
#[derive(Debug, Clone)]
pub struct AssertionExpectations {
    expected: TokenExpectations,
    typ: Option<&'static str>,
    max_lifetime_secs: u64,
    leeway_secs: u64,
}

impl AssertionExpectations {
    /// The longest lifetime accepted by default: the `jti` of each accepted assertion is kept
    /// this long at most.
    pub const DEFAULT_MAX_LIFETIME_SECS: u64 = 3600;

    /// Assertions issued by `issuer` (exact string) naming `audience` in `aud`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            expected: TokenExpectations::new(issuer, audience),
            typ: None,
            max_lifetime_secs: Self::DEFAULT_MAX_LIFETIME_SECS,
            leeway_secs: crate::DEFAULT_LEEWAY_SECS,
        }
    }

    /// Also accepts `audience` in `aud` (RFC 7523 §3 item 3: the token endpoint URL "MAY be
    /// used" beside the issuer identifier).
    pub fn also_accept_audience(mut self, audience: impl Into<String>) -> Self {
        self.expected = self.expected.also_accept_audience(audience);
        self
    }

    /// Requires this header `typ` (compared case-insensitively, with or without `application/`).
    pub fn with_type(mut self, typ: &'static str) -> Self {
        self.typ = Some(typ);
        self
    }

    /// The longest `exp - now` accepted.
    pub fn with_max_lifetime(mut self, secs: u64) -> Self {
        self.max_lifetime_secs = secs;
        self
    }

    /// The clock skew allowed on `exp`, `nbf` and `iat`.
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.expected = self.expected.with_leeway(secs);
        self.leeway_secs = secs;
        self
    }
}

/// An assertion whose signature, type and claims were checked. Its `jti` still has to be
/// recorded by the caller.
#[derive(Debug, Clone, PartialEq)]
pub struct Assertion {
    header: Header,
    claims: Map<String, Value>,
    sub: String,
    jti: String,
    exp: u64,
    remember_until: u64,
}

impl Assertion {
    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// `sub`: whom the assertion is about (for client authentication, the client itself).
    pub fn subject(&self) -> &str {
        &self.sub
    }

    /// `jti`: to record, so that a second use is refused.
    pub fn jti(&self) -> &str {
        &self.jti
    }

    /// `exp`.
    pub fn expires_at(&self) -> u64 {
        self.exp
    }

    /// Until when the `jti` must be remembered to refuse a replay: `exp`, plus the leeway the
    /// assertion is still accepted within, plus a margin for instances whose clocks differ (the
    /// one furthest ahead purges).
    pub fn remember_until(&self) -> u64 {
        self.remember_until
    }

    /// Any claim, for checks particular to the kind of assertion.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }
}

/// The longest `jti` accepted: it is stored.
const MAX_JTI_LEN: usize = 256;

/// How far apart the clocks of instances sharing a replay table may be.
const CLOCK_SKEW_MARGIN_SECS: u64 = 120;

/// Verifies `token` with `keys` at `now` and checks it as RFC 7523 §3 says: signed by a key of
/// the set with the key's own algorithm; the expected `typ`, if one is expected; `iss` the
/// expected issuer (item 1); `sub` present (item 2); `aud` naming this server (item 3); `exp`
/// present and in the future (item 4), and no further than the maximum lifetime; `nbf` and `iat`
/// not in the future (items 5, 6); a `jti` (item 7) of at most 256 characters.
pub fn verify_assertion(
    token: &str,
    keys: &KeySet,
    expected: &AssertionExpectations,
    now: u64,
) -> Result<Assertion, AssertionError> {
    let unverified = jws::parse(token).map_err(JwtError::from)?;
    if let Some(typ) = expected.typ
        && !unverified.header().typ().is_some_and(|actual| {
            actual.eq_ignore_ascii_case(typ)
                || actual
                    .get(..12)
                    .is_some_and(|prefix| prefix.eq_ignore_ascii_case("application/"))
                    && actual
                        .get(12..)
                        .is_some_and(|rest| rest.eq_ignore_ascii_case(typ))
        })
    {
        return Err(AssertionError::WrongType(typ));
    }
    let (header, payload) = unverified
        .verify_with(keys)
        .map_err(JwtError::from)?
        .into_parts();
    let claims = crate::json::parse_object(&payload)
        .map_err(|e| JwtError::MalformedClaims(e.to_string()))?;
    let text = |name: &'static str| {
        crate::json::text_claim(&claims, name).ok_or(AssertionError::MissingClaim(name))
    };
    let number = |name: &'static str| {
        crate::json::number_claim(&claims, name).map_err(|()| AssertionError::MissingClaim(name))
    };
    let iss = text("iss")?;
    let sub = text("sub")?.to_owned();
    let jti = text("jti")?;
    if jti.len() > MAX_JTI_LEN {
        return Err(AssertionError::MissingClaim("jti"));
    }
    let jti = jti.to_owned();
    let aud: Audience = claims
        .get("aud")
        .cloned()
        .and_then(|aud| serde_json::from_value(aud).ok())
        .ok_or(AssertionError::MissingClaim("aud"))?;
    let exp = number("exp")?.ok_or(AssertionError::MissingClaim("exp"))?;
    // Required here, though RFC 7523 makes it optional: without it a long-lived assertion could
    // not be told from a short one signed long ago (both the ID-JAG draft and the SDKs send it).
    let iat = number("iat")?.ok_or(AssertionError::MissingClaim("iat"))?;
    expected.expected.check(
        Some(iss),
        aud.iter(),
        Validity::until(exp)
            .not_before(number("nbf")?)
            .issued_at(Some(iat)),
        now,
    )?;
    // Short-lived as signed, not only as seen now: a year-long assertion is refused in its last
    // minutes too.
    if exp.saturating_sub(iat) > expected.max_lifetime_secs
        || exp.saturating_sub(now) > expected.max_lifetime_secs
    {
        return Err(AssertionError::TooLongLived(expected.max_lifetime_secs));
    }
    Ok(Assertion {
        header,
        claims,
        sub,
        jti,
        exp,
        remember_until: exp
            .saturating_add(expected.leeway_secs)
            .saturating_add(CLOCK_SKEW_MARGIN_SECS),
    })
}

/// The `iss` and `sub` of a JWT (each if present), read without verifying it: only to know whom
/// a request claims to come from before its keys are looked up. `None` if it is not a readable
/// JWT. Nothing read here may be trusted.
pub fn dangerous_peek_issuer_and_subject(token: &str) -> Option<(Option<String>, Option<String>)> {
    let (_, payload) = jws::dangerous_decode_unverified(token).ok()?;
    let claims = crate::json::parse_object(&payload).ok()?;
    let field = |name: &str| claims.get(name)?.as_str().map(str::to_owned);
    Some((field("iss"), field("sub")))
}

impl From<JwsError> for AssertionError {
    fn from(error: JwsError) -> Self {
        Self::Jwt(JwtError::Jws(error))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    use serde_json::json;

    use super::*;
    use crate::{Algorithm, SigningKey};

    const NOW: u64 = 1_800_000_000;
    const SERVER: &str = "https://auth.example.com";

    fn sign(key: &SigningKey, typ: Option<&str>, claims: &Value) -> String {
        jws::sign(key, typ, claims.to_string().as_bytes()).unwrap()
    }

    fn claims() -> Value {
        json!({"iss": "client-1", "sub": "client-1", "aud": SERVER, "exp": NOW + 60,
               "iat": NOW, "jti": "a1"})
    }

    fn expected() -> AssertionExpectations {
        AssertionExpectations::new("client-1", SERVER)
            .also_accept_audience(format!("{SERVER}/token"))
    }

    fn check(token: &str, key: &SigningKey) -> Result<Assertion, AssertionError> {
        verify_assertion(
            token,
            &KeySet::new(vec![key.verifying_key()]),
            &expected(),
            NOW,
        )
    }

    #[test]
    fn rfc7523_section_3_a_well_formed_assertion_is_accepted() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let assertion = check(&sign(&key, None, &claims()), &key).unwrap();
        assert_eq!(
            (assertion.subject(), assertion.jti(), assertion.expires_at()),
            ("client-1", "a1", NOW + 60)
        );
        // The token endpoint URL as the audience, alone or in an array (item 3).
        let mut at_endpoint = claims();
        at_endpoint["aud"] = json!([format!("{SERVER}/token")]);
        assert!(check(&sign(&key, None, &at_endpoint), &key).is_ok());
    }

    #[test]
    fn rfc7523_section_3_each_claim_rule_is_enforced() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let with = |name: &str, value: Value| {
            let mut claims = claims();
            if value.is_null() {
                claims.as_object_mut().unwrap().remove(name);
            } else {
                claims[name] = value;
            }
            check(&sign(&key, None, &claims), &key)
        };
        assert!(matches!(
            with("iss", json!("client-2")),
            Err(AssertionError::Jwt(JwtError::WrongIssuer))
        ));
        assert!(matches!(
            with("sub", Value::Null),
            Err(AssertionError::MissingClaim("sub"))
        ));
        assert!(matches!(
            with("aud", json!("https://other.example.com")),
            Err(AssertionError::Jwt(JwtError::WrongAudience))
        ));
        assert!(matches!(
            with("exp", Value::Null),
            Err(AssertionError::MissingClaim("exp"))
        ));
        assert!(matches!(
            with("exp", json!(NOW - 60)),
            Err(AssertionError::Jwt(JwtError::Expired))
        ));
        assert!(matches!(
            with("exp", json!(NOW + 7200)),
            Err(AssertionError::TooLongLived(3600))
        ));
        assert!(matches!(
            with("nbf", json!(NOW + 600)),
            Err(AssertionError::Jwt(JwtError::NotYetValid))
        ));
        assert!(matches!(
            with("iat", json!(NOW + 600)),
            Err(AssertionError::Jwt(JwtError::IssuedInFuture))
        ));
        assert!(matches!(
            with("iat", Value::Null),
            Err(AssertionError::MissingClaim("iat"))
        ));
        // Signed for a long life: refused even near its end.
        let mut old = claims();
        old["iat"] = json!(NOW - 7_000);
        old["exp"] = json!(NOW + 60);
        assert!(matches!(
            check(&sign(&key, None, &old), &key),
            Err(AssertionError::TooLongLived(3600))
        ));
        assert!(matches!(
            with("jti", Value::Null),
            Err(AssertionError::MissingClaim("jti"))
        ));
        assert!(matches!(
            with("jti", json!("x".repeat(257))),
            Err(AssertionError::MissingClaim("jti"))
        ));
    }

    #[test]
    fn rfc7523_section_3_the_signature_must_come_from_the_parties_key() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let other = SigningKey::generate(Algorithm::Es256).unwrap();
        assert!(check(&sign(&other, None, &claims()), &key).is_err());
        // Tampered payload.
        let token = sign(&key, None, &claims());
        let mut parts: Vec<&str> = token.split('.').collect();
        let forged = crate::b64::encode(
            json!({"iss": "client-1", "sub": "client-1", "aud": SERVER, "exp": NOW + 60, "jti": "a2"})
                .to_string()
                .as_bytes(),
        );
        parts[1] = &forged;
        assert!(check(&parts.join("."), &key).is_err());
    }

    #[test]
    fn a_required_typ_is_enforced() {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let expected = expected().with_type("oauth-id-jag+jwt");
        let keys = KeySet::new(vec![key.verifying_key()]);
        for (typ, ok) in [
            (Some("oauth-id-jag+jwt"), true),
            (Some("application/oauth-id-jag+jwt"), true),
            (Some("JWT"), false),
            (None, false),
        ] {
            let result = verify_assertion(&sign(&key, typ, &claims()), &keys, &expected, NOW);
            assert_eq!(result.is_ok(), ok, "{typ:?}");
        }
    }
}
