//! JWT access tokens ([RFC 9068](https://www.rfc-editor.org/rfc/rfc9068)): signed with
//! `typ: at+jwt`, verified against an expected issuer and audience with a clock the caller passes.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::jws::{self, Header};
use crate::{JwtError, KeySet, SigningKey};

/// The `typ` of access tokens ([RFC 9068 §2.1](https://www.rfc-editor.org/rfc/rfc9068#section-2.1)).
pub const ACCESS_TOKEN_TYPE: &str = "at+jwt";

/// Default clock-skew allowance for `exp`, `nbf` and `iat`, in seconds.
pub const DEFAULT_LEEWAY_SECS: u64 = 5;

/// The `aud` claim: one string or an array of strings
/// ([RFC 7519 §4.1.3](https://www.rfc-editor.org/rfc/rfc7519#section-4.1.3)).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
#[allow(clippy::exhaustive_enums)] // RFC 7519 §4.1.3: a string or an array, nothing else
pub enum Audience {
    /// `"aud": "https://mcp.example.com/mcp"`.
    One(String),
    /// `"aud": ["…", "…"]`.
    Many(Vec<String>),
}

impl Audience {
    /// Whether `value` is one of the audiences (exact string comparison).
    pub fn contains(&self, value: &str) -> bool {
        match self {
            Self::One(aud) => aud == value,
            Self::Many(auds) => auds.iter().any(|aud| aud == value),
        }
    }

    /// Every audience.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        let slice = match self {
            Self::One(aud) => std::slice::from_ref(aud),
            Self::Many(auds) => auds.as_slice(),
        };
        slice.iter().map(String::as_str)
    }
}

/// The claims of an RFC 9068 access token. The members RFC 9068 §2.2 makes REQUIRED are not
/// optional here, so a token without one does not parse.
///
/// Times are whole seconds: RFC 7519 §2 allows fractional NumericDates, but no issuer of access
/// tokens we know sends them, and refusing them keeps time comparisons exact; a token with a
/// fractional `exp` is refused as malformed rather than rounded in either direction.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AccessTokenClaims {
    /// `iss`: the issuer identifier, exactly as in its metadata.
    pub iss: String,
    /// `sub`: the resource owner (or the client, for client-only grants).
    pub sub: String,
    /// `aud`: the resource the token is for (RFC 8707).
    pub aud: Audience,
    /// `exp`: expiry, seconds since the epoch.
    pub exp: u64,
    /// `iat`: issue time, seconds since the epoch.
    pub iat: u64,
    /// `jti`: unique id (revocation lists key on it).
    pub jti: String,
    /// `client_id`: the client the token was issued to.
    pub client_id: String,
    /// `nbf`: not valid before, seconds since the epoch.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nbf: Option<u64>,
    /// `scope`: space-delimited scopes (RFC 9068 §2.2.3).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<String>,
    /// Other claims, kept as they are. Duplicate claim names are refused (RFC 7519 §4).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Read by hand rather than derived: `#[serde(flatten)]` makes the derive buffer the whole object
/// before reading it, which costs more than the rest of token validation after the signature.
/// One pass, every claim read once, duplicates refused whatever their name (RFC 7519 §4: "Claim
/// Names within a JWT Claims Set MUST be unique").
impl<'de> Deserialize<'de> for AccessTokenClaims {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(ClaimsVisitor)
    }
}

struct ClaimsVisitor;

impl<'de> serde::de::Visitor<'de> for ClaimsVisitor {
    type Value = AccessTokenClaims;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JWT claims object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(
        self,
        mut access: A,
    ) -> Result<AccessTokenClaims, A::Error> {
        use serde::de::Error;

        fn set<T, E: Error>(slot: &mut Option<T>, value: T, name: &str) -> Result<(), E> {
            if slot.replace(value).is_some() {
                return Err(E::custom(format_args!("duplicate claim `{name}`")));
            }
            Ok(())
        }

        let (mut iss, mut sub, mut aud, mut exp, mut iat) = (None, None, None, None, None);
        let (mut jti, mut client_id, mut nbf, mut scope) = (None, None, None, None);
        let mut extra = BTreeMap::new();
        while let Some(name) = access.next_key::<std::borrow::Cow<'de, str>>()? {
            match name.as_ref() {
                "iss" => set(&mut iss, access.next_value::<String>()?, "iss")?,
                "sub" => set(&mut sub, access.next_value::<String>()?, "sub")?,
                "aud" => set(&mut aud, access.next_value::<Audience>()?, "aud")?,
                "exp" => set(&mut exp, access.next_value::<u64>()?, "exp")?,
                "iat" => set(&mut iat, access.next_value::<u64>()?, "iat")?,
                "jti" => set(&mut jti, access.next_value::<String>()?, "jti")?,
                "client_id" => set(&mut client_id, access.next_value::<String>()?, "client_id")?,
                "nbf" => set(&mut nbf, access.next_value::<u64>()?, "nbf")?,
                "scope" => set(&mut scope, access.next_value::<String>()?, "scope")?,
                other => {
                    let value: serde_json::Value = access.next_value()?;
                    if extra.insert(other.to_owned(), value).is_some() {
                        return Err(A::Error::custom(format_args!("duplicate claim `{other}`")));
                    }
                }
            }
        }
        let missing = |name: &'static str| A::Error::missing_field(name);
        Ok(AccessTokenClaims {
            iss: iss.ok_or_else(|| missing("iss"))?,
            sub: sub.ok_or_else(|| missing("sub"))?,
            aud: aud.ok_or_else(|| missing("aud"))?,
            exp: exp.ok_or_else(|| missing("exp"))?,
            iat: iat.ok_or_else(|| missing("iat"))?,
            jti: jti.ok_or_else(|| missing("jti"))?,
            client_id: client_id.ok_or_else(|| missing("client_id"))?,
            nbf,
            scope,
            extra,
        })
    }
}

/// Signs an access token with `typ: at+jwt` (RFC 9068 §2.1) and the key's `alg` and `kid`.
pub fn sign_access_token(key: &SigningKey, claims: &AccessTokenClaims) -> Result<String, JwtError> {
    let payload =
        serde_json::to_vec(claims).map_err(|e| JwtError::MalformedClaims(e.to_string()))?;
    Ok(jws::sign(key, Some(ACCESS_TOKEN_TYPE), &payload)?)
}

/// What a resource server expects of an access token, whichever way it learned the claims:
/// verified from a JWT ([RFC 9068 §4](https://www.rfc-editor.org/rfc/rfc9068#section-4)) or told
/// by the authorization server through introspection
/// ([RFC 7662 §4](https://www.rfc-editor.org/rfc/rfc7662#section-4)). One set of checks serves
/// both, so the two ways of accepting a token cannot drift apart. The issuer and audience are
/// constructor arguments: expectations that check neither cannot be built.
#[derive(Debug, Clone)]
pub struct TokenExpectations {
    issuer: String,
    audiences: Vec<String>,
    leeway_secs: u64,
}

/// The validity window of a token, in seconds since the epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Validity {
    /// `exp`: the token is refused from this moment on (leeway added).
    pub expires_at: u64,
    /// `nbf`: the token is refused before this moment (leeway subtracted).
    pub not_before: Option<u64>,
    /// `iat`: a token issued in the future (beyond the leeway) is refused.
    pub issued_at: Option<u64>,
}

impl Validity {
    /// A token valid until `expires_at`, with no `nbf` and no `iat` to check.
    pub fn until(expires_at: u64) -> Self {
        Self {
            expires_at,
            not_before: None,
            issued_at: None,
        }
    }

    /// Also refused before `not_before`.
    pub fn not_before(mut self, not_before: Option<u64>) -> Self {
        self.not_before = not_before;
        self
    }

    /// Also refused when issued after now (beyond the leeway).
    pub fn issued_at(mut self, issued_at: Option<u64>) -> Self {
        self.issued_at = issued_at;
        self
    }
}

impl TokenExpectations {
    /// Tokens must come from `issuer` (exact string) and name `audience` in `aud`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audiences: vec![audience.into()],
            leeway_secs: DEFAULT_LEEWAY_SECS,
        }
    }

    /// Also accepts tokens for `audience` (e.g. the same resource spelled with a trailing `/`).
    pub fn also_accept_audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// The clock skew allowed on `exp`, `nbf` and `iat` (default 5 seconds).
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.leeway_secs = secs;
        self
    }

    /// The expected issuer.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The audiences accepted; the first is the canonical one.
    pub fn audiences(&self) -> &[String] {
        &self.audiences
    }

    /// Checks a token's claims at `now`: `iss` equal to the issuer (`None` where the source
    /// vouches for it, as an introspection answer may omit `iss`); `aud` naming this resource;
    /// `exp` in the future; `nbf` and `iat` not in the future, each with the leeway.
    pub fn check<'a>(
        &self,
        iss: Option<&str>,
        aud: impl IntoIterator<Item = &'a str>,
        validity: Validity,
        now: u64,
    ) -> Result<(), JwtError> {
        if iss.is_some_and(|iss| iss != self.issuer) {
            return Err(JwtError::WrongIssuer);
        }
        if !aud
            .into_iter()
            .any(|aud| self.audiences.iter().any(|ours| ours == aud))
        {
            return Err(JwtError::WrongAudience);
        }
        if now >= validity.expires_at.saturating_add(self.leeway_secs) {
            return Err(JwtError::Expired);
        }
        let latest = now.saturating_add(self.leeway_secs);
        if validity.not_before.is_some_and(|nbf| nbf > latest) {
            return Err(JwtError::NotYetValid);
        }
        if validity.issued_at.is_some_and(|iat| iat > latest) {
            return Err(JwtError::IssuedInFuture);
        }
        Ok(())
    }
}

/// Validates JWT access tokens against [`TokenExpectations`].
#[derive(Debug, Clone)]
pub struct AccessTokenValidator {
    expected: TokenExpectations,
}

impl AccessTokenValidator {
    /// Tokens must come from `issuer` (exact string) and name `audience` in `aud`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self::expecting(TokenExpectations::new(issuer, audience))
    }

    /// Tokens must meet `expected`.
    pub fn expecting(expected: TokenExpectations) -> Self {
        Self { expected }
    }

    /// Also accepts tokens for `audience` (e.g. the same resource spelled with a trailing `/`).
    pub fn also_accept_audience(mut self, audience: impl Into<String>) -> Self {
        self.expected = self.expected.also_accept_audience(audience);
        self
    }

    /// The clock skew allowed on `exp`, `nbf` and `iat` (default 5 seconds).
    pub fn with_leeway(mut self, secs: u64) -> Self {
        self.expected = self.expected.with_leeway(secs);
        self
    }

    /// What this validator expects.
    pub fn expectations(&self) -> &TokenExpectations {
        &self.expected
    }

    /// Verifies `token` with `keys` at time `now` (seconds since the epoch) and checks it as
    /// [RFC 9068 §4](https://www.rfc-editor.org/rfc/rfc9068#section-4) requires: signature by a
    /// key of the issuer with the key's own algorithm; `typ` `at+jwt` or `application/at+jwt`;
    /// then [`TokenExpectations::check`]: `iss` equal to the issuer; `aud` containing this
    /// resource; `exp` in the future; `nbf` and `iat` not in the future (each with the leeway).
    pub fn validate(&self, token: &str, keys: &KeySet, now: u64) -> Result<AccessToken, JwtError> {
        let unverified = jws::parse(token)?;
        if !is_access_token_type(unverified.header().typ()) {
            return Err(JwtError::WrongType);
        }
        let (header, payload) = unverified.verify_with(keys)?.into_parts();
        // One pass; duplicate claims are refused by the claims' own `Deserialize`.
        let claims: AccessTokenClaims = serde_json::from_slice(&payload)
            .map_err(|e| JwtError::MalformedClaims(e.to_string()))?;
        self.expected.check(
            Some(&claims.iss),
            claims.aud.iter(),
            Validity::until(claims.exp)
                .not_before(claims.nbf)
                .issued_at(Some(claims.iat)),
            now,
        )?;
        Ok(AccessToken { header, claims })
    }
}

/// RFC 9068 §4: "at+jwt" or "application/at+jwt"; media types compare case-insensitively.
fn is_access_token_type(typ: Option<&str>) -> bool {
    typ.is_some_and(|typ| {
        typ.eq_ignore_ascii_case(ACCESS_TOKEN_TYPE)
            || typ.eq_ignore_ascii_case("application/at+jwt")
    })
}

/// An access token that passed [`AccessTokenValidator::validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct AccessToken {
    header: Header,
    claims: AccessTokenClaims,
}

impl AccessToken {
    /// The verified header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The verified claims.
    pub fn claims(&self) -> &AccessTokenClaims {
        &self.claims
    }

    /// The verified claims, by value.
    pub fn into_claims(self) -> AccessTokenClaims {
        self.claims
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Algorithm, KeySet};

    fn claims(now: u64) -> AccessTokenClaims {
        AccessTokenClaims {
            iss: "https://auth.example.com".into(),
            sub: "alice".into(),
            aud: Audience::One("https://mcp.example.com/mcp".into()),
            exp: now + 600,
            iat: now,
            jti: "id-1".into(),
            client_id: "client-1".into(),
            nbf: None,
            scope: Some("mcp:tools".into()),
            extra: BTreeMap::new(),
        }
    }

    fn setup() -> (SigningKey, KeySet, AccessTokenValidator) {
        let key = SigningKey::generate(Algorithm::Es256).unwrap();
        let keys = KeySet::new(vec![key.verifying_key()]);
        let validator =
            AccessTokenValidator::new("https://auth.example.com", "https://mcp.example.com/mcp");
        (key, keys, validator)
    }

    #[test]
    fn rfc9068_section_4_round_trip() {
        let (key, keys, validator) = setup();
        let token = sign_access_token(&key, &claims(1_000)).unwrap();
        let verified = validator.validate(&token, &keys, 1_000).unwrap();
        assert_eq!(verified.claims(), &claims(1_000));
        assert_eq!(verified.header().typ(), Some("at+jwt"));
    }

    #[test]
    fn rfc9068_section_4_exp_with_leeway() {
        let (key, keys, validator) = setup();
        let token = sign_access_token(&key, &claims(1_000)).unwrap();
        assert!(validator.validate(&token, &keys, 1_604).is_ok());
        assert_eq!(
            validator.validate(&token, &keys, 1_605),
            Err(JwtError::Expired)
        );
        assert_eq!(
            validator
                .clone()
                .with_leeway(0)
                .validate(&token, &keys, 1_600),
            Err(JwtError::Expired)
        );
    }

    #[test]
    fn rfc9068_section_4_iss_and_aud_are_checked() {
        let (key, keys, _) = setup();
        let token = sign_access_token(&key, &claims(1_000)).unwrap();
        let other_issuer =
            AccessTokenValidator::new("https://evil.example.com", "https://mcp.example.com/mcp");
        assert_eq!(
            other_issuer.validate(&token, &keys, 1_000),
            Err(JwtError::WrongIssuer)
        );
        let other_resource =
            AccessTokenValidator::new("https://auth.example.com", "https://other.example.com/mcp");
        assert_eq!(
            other_resource.validate(&token, &keys, 1_000),
            Err(JwtError::WrongAudience)
        );
    }

    #[test]
    fn rfc9068_section_4_typ_must_be_at_jwt() {
        let (key, keys, validator) = setup();
        let payload = serde_json::to_vec(&claims(1_000)).unwrap();
        for typ in [None, Some("JWT"), Some("jwt"), Some("at+jwt+x")] {
            let token = jws::sign(&key, typ, &payload).unwrap();
            assert_eq!(
                validator.validate(&token, &keys, 1_000),
                Err(JwtError::WrongType),
                "{typ:?}"
            );
        }
        let token = jws::sign(&key, Some("application/AT+JWT"), &payload).unwrap();
        assert!(validator.validate(&token, &keys, 1_000).is_ok());
    }

    #[test]
    fn nbf_and_iat_in_the_future_are_refused() {
        let (key, keys, validator) = setup();
        let mut future = claims(1_000);
        future.nbf = Some(2_000);
        let token = sign_access_token(&key, &future).unwrap();
        assert_eq!(
            validator.validate(&token, &keys, 1_000),
            Err(JwtError::NotYetValid)
        );
        let token = sign_access_token(&key, &claims(2_000)).unwrap();
        assert_eq!(
            validator.validate(&token, &keys, 1_000),
            Err(JwtError::IssuedInFuture)
        );
        assert!(validator.validate(&token, &keys, 1_996).is_ok());
    }

    #[test]
    fn rfc9068_section_2_2_required_claims() {
        let (key, keys, validator) = setup();
        let mut value = serde_json::to_value(claims(1_000)).unwrap();
        for claim in ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"] {
            let mut without = value.clone();
            without.as_object_mut().unwrap().remove(claim);
            let token = jws::sign(&key, Some("at+jwt"), without.to_string().as_bytes()).unwrap();
            assert!(
                matches!(
                    validator.validate(&token, &keys, 1_000),
                    Err(JwtError::MalformedClaims(_))
                ),
                "{claim}"
            );
        }
        value["exp"] = serde_json::json!("soon");
        let token = jws::sign(&key, Some("at+jwt"), value.to_string().as_bytes()).unwrap();
        assert!(matches!(
            validator.validate(&token, &keys, 1_000),
            Err(JwtError::MalformedClaims(_))
        ));
    }

    #[test]
    fn rfc7519_section_4_duplicate_claims_are_refused() {
        let (key, keys, validator) = setup();
        let valid = serde_json::to_string(&claims(1_000)).unwrap();
        for duplicate in [r#""iss":"https://evil.example.com","#, r#""x":1,"x":2,"#] {
            let payload = valid.replacen('{', &format!("{{{duplicate}"), 1);
            let token = jws::sign(&key, Some("at+jwt"), payload.as_bytes()).unwrap();
            assert!(
                matches!(
                    validator.validate(&token, &keys, 1_000),
                    Err(JwtError::MalformedClaims(_))
                ),
                "{payload}"
            );
        }
    }

    #[test]
    fn errors_say_invalid_token_and_hide_signature_detail() {
        let error = JwtError::Jws(crate::JwsError::InvalidSignature);
        assert_eq!(error.error_code(), "invalid_token");
        assert_eq!(error.public_description(), "The access token is invalid");
        assert_eq!(
            JwtError::Expired.public_description(),
            "The access token expired"
        );
    }

    /// RFC 7662 §4 through the same checks as RFC 9068 §4: an introspection answer may omit
    /// `iss` (the authorization server vouches), but a wrong one, a foreign `aud`, a passed `exp`
    /// or a future `nbf` is refused exactly as in a JWT.
    #[test]
    fn rfc7662_section_4_claims_told_by_introspection_meet_the_same_checks() {
        let expected =
            TokenExpectations::new("https://auth.example.com", "https://mcp.example.com")
                .also_accept_audience("https://mcp.example.com/")
                .with_leeway(5);
        let ours = ["https://mcp.example.com/"];
        let valid = Validity::until(2_000);
        assert_eq!(expected.check(None, ours, valid, 1_000), Ok(()));
        assert_eq!(
            expected.check(Some("https://auth.example.com"), ours, valid, 1_000),
            Ok(())
        );
        assert_eq!(
            expected.check(Some("https://evil.example"), ours, valid, 1_000),
            Err(JwtError::WrongIssuer)
        );
        assert_eq!(
            expected.check(None, ["https://other.example"], valid, 1_000),
            Err(JwtError::WrongAudience)
        );
        assert_eq!(
            expected.check(None, [], valid, 1_000),
            Err(JwtError::WrongAudience)
        );
        assert_eq!(expected.check(None, ours, valid, 2_004), Ok(()));
        assert_eq!(
            expected.check(None, ours, valid, 2_005),
            Err(JwtError::Expired)
        );
        assert_eq!(
            expected.check(None, ours, valid.not_before(Some(1_006)), 1_000),
            Err(JwtError::NotYetValid)
        );
        assert_eq!(
            expected.check(None, ours, valid.issued_at(Some(1_006)), 1_000),
            Err(JwtError::IssuedInFuture)
        );
        assert_eq!(
            expected.check(None, ours, valid.issued_at(Some(1_005)), 1_000),
            Ok(())
        );
    }
}
