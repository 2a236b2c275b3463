//! The introspection response ([RFC 7662 §2.2](https://www.rfc-editor.org/rfc/rfc7662#section-2.2)).

use std::collections::BTreeMap;
use std::fmt;

use gatehouse_types::{ClientId, ScopeSet, UnixTime};
use serde::de::{self, MapAccess, Visitor};
use serde::ser::SerializeMap;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::{Audience, IntrospectionError};

/// Members RFC 7662 §2.2 names. An `extra` entry with one of these names is never written:
/// it would duplicate, or contradict, a typed member.
const KNOWN_MEMBERS: [&str; 12] = [
    "active",
    "scope",
    "client_id",
    "username",
    "token_type",
    "exp",
    "iat",
    "nbf",
    "sub",
    "aud",
    "iss",
    "jti",
];

/// What the authorization server says about a token.
///
/// Serializes as `{"active":false}` when inactive, and as `{"active":true, ...claims}` when
/// active. Parsing requires `active` ("active REQUIRED", RFC 7662 §2.2) and requires it to be a
/// JSON boolean, not the string `"true"`. An inactive response from a peer is read as
/// [`IntrospectionResponse::Inactive`] whatever else it carries: the server "SHOULD NOT include
/// any additional claims" about an inactive token, and nothing it says about one can be trusted.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::exhaustive_enums)] // RFC 7662 §2.2: a token is active or it is not
pub enum IntrospectionResponse {
    /// The token is not active (unknown, expired, revoked, or not for this caller).
    Inactive,
    /// The token is active; its claims. Boxed: the inactive answer is the common one and small.
    Active(Box<ActiveToken>),
}

/// The claims of an active token ([RFC 7662 §2.2](https://www.rfc-editor.org/rfc/rfc7662#section-2.2)).
/// Every member is OPTIONAL. Build one with [`ActiveToken::builder`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct ActiveToken {
    /// The scopes of the token.
    pub scope: Option<ScopeSet>,
    /// The client the token was issued to.
    pub client_id: Option<ClientId>,
    /// A human-readable identifier of the resource owner who authorized the token.
    pub username: Option<String>,
    /// The token type ([RFC 6749 §5.1](https://www.rfc-editor.org/rfc/rfc6749#section-5.1)),
    /// e.g. `Bearer`.
    pub token_type: Option<String>,
    /// When the token expires.
    pub exp: Option<UnixTime>,
    /// When the token was issued.
    pub iat: Option<UnixTime>,
    /// When the token starts being usable.
    pub nbf: Option<UnixTime>,
    /// The subject of the token, usually a machine-readable id of the resource owner.
    pub sub: Option<String>,
    /// The intended audience(s).
    pub aud: Option<Audience>,
    /// The issuer of the token.
    pub iss: Option<String>,
    /// The token's identifier.
    pub jti: Option<String>,
    /// Other members (extensions), preserved. Entries named like a member above are not
    /// serialized.
    pub extra: BTreeMap<String, Value>,
}

impl IntrospectionResponse {
    /// The response for a token that is not active: `{"active":false}`.
    pub fn inactive() -> Self {
        Self::Inactive
    }

    /// The response for an active token.
    pub fn active(token: ActiveToken) -> Self {
        Self::Active(Box::new(token))
    }

    /// Whether the token is active.
    pub fn is_active(&self) -> bool {
        matches!(self, Self::Active(_))
    }

    /// The claims, when the token is active.
    pub fn active_token(&self) -> Option<&ActiveToken> {
        match self {
            Self::Active(token) => Some(token),
            Self::Inactive => None,
        }
    }

    /// Parses a response body.
    ///
    /// Refuses anything but a JSON object with a boolean `active` member, objects that carry a
    /// member twice (two parsers could disagree on which one counts), and active responses whose
    /// typed members are malformed (e.g. a `scope` outside RFC 6749 §3.3 syntax, a negative
    /// `exp`). Members of an inactive response are not read at all.
    pub fn from_json(bytes: &[u8]) -> Result<Self, IntrospectionError> {
        Ok(serde_json::from_slice(bytes)?)
    }

    /// Serializes the response as compact JSON.
    pub fn to_json(&self) -> String {
        // Serializing this type cannot fail: every key is a string and every value is plain data.
        serde_json::to_string(self).unwrap_or_else(|_| String::from(r#"{"active":false}"#))
    }
}

impl From<ActiveToken> for IntrospectionResponse {
    fn from(token: ActiveToken) -> Self {
        Self::active(token)
    }
}

impl ActiveToken {
    /// A builder for the claims of an active token; every member is optional.
    pub fn builder() -> ActiveTokenBuilder {
        ActiveTokenBuilder {
            token: Self::default(),
        }
    }
}

/// Builds an [`ActiveToken`].
#[derive(Debug, Clone)]
#[must_use]
pub struct ActiveTokenBuilder {
    token: ActiveToken,
}

impl ActiveTokenBuilder {
    /// Sets `scope`.
    pub fn scope(mut self, scope: ScopeSet) -> Self {
        self.token.scope = Some(scope);
        self
    }

    /// Sets `client_id`.
    pub fn client_id(mut self, client_id: ClientId) -> Self {
        self.token.client_id = Some(client_id);
        self
    }

    /// Sets `username`.
    pub fn username(mut self, username: impl Into<String>) -> Self {
        self.token.username = Some(username.into());
        self
    }

    /// Sets `token_type`.
    pub fn token_type(mut self, token_type: impl Into<String>) -> Self {
        self.token.token_type = Some(token_type.into());
        self
    }

    /// Sets `exp`.
    pub fn exp(mut self, exp: UnixTime) -> Self {
        self.token.exp = Some(exp);
        self
    }

    /// Sets `iat`.
    pub fn iat(mut self, iat: UnixTime) -> Self {
        self.token.iat = Some(iat);
        self
    }

    /// Sets `nbf`.
    pub fn nbf(mut self, nbf: UnixTime) -> Self {
        self.token.nbf = Some(nbf);
        self
    }

    /// Sets `sub`.
    // Named after the claim, like every other setter; not subtraction.
    #[allow(clippy::should_implement_trait)]
    pub fn sub(mut self, sub: impl Into<String>) -> Self {
        self.token.sub = Some(sub.into());
        self
    }

    /// Sets `aud`: a string, or a `Vec<String>` for the array form.
    pub fn aud(mut self, aud: impl Into<Audience>) -> Self {
        self.token.aud = Some(aud.into());
        self
    }

    /// Sets `iss`.
    pub fn iss(mut self, iss: impl Into<String>) -> Self {
        self.token.iss = Some(iss.into());
        self
    }

    /// Sets `jti`.
    pub fn jti(mut self, jti: impl Into<String>) -> Self {
        self.token.jti = Some(jti.into());
        self
    }

    /// Adds an extension member. A name RFC 7662 §2.2 defines (`active`, `scope`, ...) is
    /// ignored when serializing; use the typed setter instead.
    pub fn extra(mut self, name: impl Into<String>, value: Value) -> Self {
        self.token.extra.insert(name.into(), value);
        self
    }

    /// The claims.
    pub fn build(self) -> ActiveToken {
        self.token
    }
}

impl Serialize for IntrospectionResponse {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(None)?;
        let token = match self {
            Self::Inactive => {
                map.serialize_entry("active", &false)?;
                return map.end();
            }
            Self::Active(token) => token,
        };
        map.serialize_entry("active", &true)?;
        optional(&mut map, "scope", &token.scope)?;
        optional(&mut map, "client_id", &token.client_id)?;
        optional(&mut map, "username", &token.username)?;
        optional(&mut map, "token_type", &token.token_type)?;
        optional(&mut map, "exp", &token.exp)?;
        optional(&mut map, "iat", &token.iat)?;
        optional(&mut map, "nbf", &token.nbf)?;
        optional(&mut map, "sub", &token.sub)?;
        optional(&mut map, "aud", &token.aud)?;
        optional(&mut map, "iss", &token.iss)?;
        optional(&mut map, "jti", &token.jti)?;
        for (name, value) in &token.extra {
            if !KNOWN_MEMBERS.contains(&name.as_str()) {
                map.serialize_entry(name, value)?;
            }
        }
        map.end()
    }
}

fn optional<M: SerializeMap, T: Serialize>(
    map: &mut M,
    name: &str,
    value: &Option<T>,
) -> Result<(), M::Error> {
    match value {
        Some(value) => map.serialize_entry(name, value),
        None => Ok(()),
    }
}

/// The members of an active response, as serde reads them.
#[derive(Deserialize)]
struct ActiveWire {
    #[serde(default)]
    scope: Option<ScopeSet>,
    #[serde(default)]
    client_id: Option<ClientId>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    token_type: Option<String>,
    #[serde(default)]
    exp: Option<UnixTime>,
    #[serde(default)]
    iat: Option<UnixTime>,
    #[serde(default)]
    nbf: Option<UnixTime>,
    #[serde(default)]
    sub: Option<String>,
    #[serde(default)]
    aud: Option<Audience>,
    #[serde(default)]
    iss: Option<String>,
    #[serde(default)]
    jti: Option<String>,
    #[serde(flatten)]
    extra: BTreeMap<String, Value>,
}

impl From<ActiveWire> for ActiveToken {
    fn from(wire: ActiveWire) -> Self {
        Self {
            scope: wire.scope,
            client_id: wire.client_id,
            username: wire.username,
            token_type: wire.token_type,
            exp: wire.exp,
            iat: wire.iat,
            nbf: wire.nbf,
            sub: wire.sub,
            aud: wire.aud,
            iss: wire.iss,
            jti: wire.jti,
            extra: wire.extra,
        }
    }
}

impl<'de> Deserialize<'de> for IntrospectionResponse {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Read the object whole first: whether the other members mean anything depends on
        // `active`, which may come last.
        let mut members = deserializer.deserialize_map(UniqueMembers)?;
        match members.remove("active") {
            None => Err(de::Error::custom(
                "RFC 7662 §2.2: the active member is REQUIRED",
            )),
            Some(Value::Bool(false)) => Ok(Self::Inactive),
            Some(Value::Bool(true)) => ActiveWire::deserialize(Value::Object(members))
                .map(|wire| Self::active(wire.into()))
                .map_err(de::Error::custom),
            Some(_) => Err(de::Error::custom(
                "RFC 7662 §2.2: active must be a JSON boolean (true or false)",
            )),
        }
    }
}

/// Reads a JSON object, refusing a member name that appears twice: `{"active":false,
/// "active":true}` means "inactive" to a first-wins parser and "active" to a last-wins one.
struct UniqueMembers;

impl<'de> Visitor<'de> for UniqueMembers {
    type Value = serde_json::Map<String, Value>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object (RFC 7662 §2.2)")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Self::Value, A::Error> {
        let mut members = serde_json::Map::new();
        while let Some(name) = access.next_key::<String>()? {
            if members.contains_key(&name) {
                return Err(de::Error::custom(format_args!(
                    "member {name:?} appears more than once"
                )));
            }
            let value = access.next_value::<Value>()?;
            members.insert(name, value);
        }
        Ok(members)
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_types::OAuthError;

    use super::*;

    #[test]
    fn inactive_serializes_to_exactly_active_false() {
        assert_eq!(
            IntrospectionResponse::inactive().to_json(),
            r#"{"active":false}"#
        );
    }

    #[test]
    fn extra_cannot_override_known_members() {
        let token = ActiveToken::builder()
            .sub("alice")
            .extra("active", Value::Bool(false))
            .extra("sub", Value::from("mallory"))
            .extra("x_note", Value::from(1))
            .build();
        let json = IntrospectionResponse::active(token).to_json();
        assert_eq!(json, r#"{"active":true,"sub":"alice","x_note":1}"#);
    }

    #[test]
    fn duplicate_members_are_refused() {
        let body = br#"{"active":false,"active":true}"#;
        assert!(IntrospectionResponse::from_json(body).is_err());
        let body = br#"{"active":true,"sub":"a","sub":"b"}"#;
        assert!(IntrospectionResponse::from_json(body).is_err());
    }

    #[test]
    fn members_of_an_inactive_response_are_not_read() {
        let body = br#"{"scope":"bad  scope","active":false,"exp":-1}"#;
        let parsed = IntrospectionResponse::from_json(body).unwrap();
        assert_eq!(parsed, IntrospectionResponse::Inactive);
    }

    #[test]
    fn malformed_active_members_are_refused() {
        for body in [
            r#"{"active":true,"scope":"a  b"}"#,
            r#"{"active":true,"exp":-1}"#,
            r#"{"active":true,"exp":1.5}"#,
            r#"{"active":true,"client_id":""}"#,
            r#"{"active":true,"aud":5}"#,
            r#"[{"active":true}]"#,
        ] {
            let err = IntrospectionResponse::from_json(body.as_bytes()).unwrap_err();
            assert_eq!(err.http_status(), 500, "{body}");
        }
    }
}
