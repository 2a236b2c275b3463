//! The verified caller: what the guard puts into request extensions, and the axum extractor
//! that takes it out.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fmt;
use std::sync::Arc;

use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_jose::TokenExpectations;
use gatehouse_types::{ScopeSet, UnixTime};

/// Who is calling, as the guard verified it. Cheap to clone (one reference count).
///
/// The guard inserts it into the request's extensions; a handler takes it as an argument
/// (`async fn handler(principal: Principal)`) or, in tower code, from
/// `request.extensions().get::<Principal>()`.
#[derive(Clone)]
pub struct Principal(Arc<Inner>);

struct Inner {
    subject: String,
    client_id: String,
    scopes: ScopeSet,
    jti: Option<String>,
    expires_at: UnixTime,
    issuer: String,
    resource: String,
    claims: BTreeMap<String, serde_json::Value>,
}

/// The fields of a [`Principal`], for the two verification paths of this crate.
pub(crate) struct PrincipalParts {
    pub(crate) subject: String,
    pub(crate) client_id: String,
    pub(crate) scopes: ScopeSet,
    pub(crate) jti: Option<String>,
    pub(crate) expires_at: UnixTime,
    pub(crate) issuer: String,
    pub(crate) resource: String,
    pub(crate) claims: BTreeMap<String, serde_json::Value>,
}

impl Principal {
    pub(crate) fn new(parts: PrincipalParts) -> Self {
        Self(Arc::new(Inner {
            subject: parts.subject,
            client_id: parts.client_id,
            scopes: parts.scopes,
            jti: parts.jti,
            expires_at: parts.expires_at,
            issuer: parts.issuer,
            resource: parts.resource,
            claims: parts.claims,
        }))
    }

    /// The same caller holding only `scopes` (the scope matrix narrowed what the token carries).
    pub(crate) fn with_scopes(&self, scopes: ScopeSet) -> Self {
        Self(Arc::new(Inner {
            subject: self.0.subject.clone(),
            client_id: self.0.client_id.clone(),
            scopes,
            jti: self.0.jti.clone(),
            expires_at: self.0.expires_at,
            issuer: self.0.issuer.clone(),
            resource: self.0.resource.clone(),
            claims: self.0.claims.clone(),
        }))
    }

    /// `sub`: the resource owner (or the client itself, for a client-only grant). With
    /// introspection and no `sub` in the answer, the `client_id`.
    pub fn subject(&self) -> &str {
        &self.0.subject
    }

    /// `client_id`: the client the token was issued to (empty if introspection did not say).
    pub fn client_id(&self) -> &str {
        &self.0.client_id
    }

    /// The token's scopes.
    pub fn scopes(&self) -> &ScopeSet {
        &self.0.scopes
    }

    /// Whether the token has this scope.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.0.scopes.contains_str(scope)
    }

    /// `jti`: the token's identifier (always present for JWTs, RFC 9068 §2.2; introspection may
    /// omit it).
    pub fn jti(&self) -> Option<&str> {
        self.0.jti.as_deref()
    }

    /// `exp`: when the token expires.
    pub fn expires_at(&self) -> UnixTime {
        self.0.expires_at
    }

    /// The issuer that issued the token (the guard's configured issuer).
    pub fn issuer(&self) -> &str {
        &self.0.issuer
    }

    /// The resource the token is for: the guard's canonical resource URI, which the token's
    /// `aud` matched (RFC 8707).
    pub fn resource(&self) -> &str {
        &self.0.resource
    }

    /// The token's other claims (JWT claims beyond RFC 9068's, or the extra members of an
    /// introspection answer), as received.
    pub fn claims(&self) -> &BTreeMap<String, serde_json::Value> {
        &self.0.claims
    }

    /// The thumbprint of the DPoP key the token is bound to (`cnf.jkt`, RFC 9449 §6), if it is.
    pub fn dpop_jkt(&self) -> Option<&str> {
        match self.confirmation() {
            crate::dpop::Confirmation::Jkt(jkt) => Some(jkt),
            _ => None,
        }
    }

    /// Whether the token is bound to its presenter in any way (it has `cnf`, RFC 7800).
    pub(crate) fn has_confirmation(&self) -> bool {
        self.0.claims.contains_key("cnf")
    }

    /// How the token is bound to its presenter.
    pub(crate) fn confirmation(&self) -> crate::dpop::Confirmation<'_> {
        use crate::dpop::Confirmation;
        match self.0.claims.get("cnf") {
            None => Confirmation::None,
            Some(cnf) => match cnf.get("jkt").and_then(serde_json::Value::as_str) {
                Some(jkt) if cnf.as_object().is_some_and(|members| members.len() == 1) => {
                    Confirmation::Jkt(jkt)
                }
                _ => Confirmation::Unsupported,
            },
        }
    }

    /// One of the other claims by name.
    pub fn claim(&self, name: &str) -> Option<&serde_json::Value> {
        self.0.claims.get(name)
    }
}

impl fmt::Debug for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Principal")
            .field("subject", &self.0.subject)
            .field("client_id", &self.0.client_id)
            .field("scopes", &self.0.scopes)
            .field("jti", &self.0.jti)
            .field("expires_at", &self.0.expires_at)
            .finish_non_exhaustive()
    }
}

/// The answer when a handler asks for a [`Principal`] and the request carries none: the route
/// is not behind a [`Guard`](crate::Guard). A `401` with a Bearer challenge, so that the mistake
/// fails closed; the guard itself never lets a request through without a principal.
#[derive(Debug, Clone, Copy)]
pub struct PrincipalRejection;

impl IntoResponse for PrincipalRejection {
    fn into_response(self) -> Response {
        tracing::error!("a handler asked for a Principal on a route that is not guarded");
        let body = r#"{"error":"invalid_token","error_description":"No access token was verified for this request"}"#;
        let mut response = (StatusCode::UNAUTHORIZED, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static(
                r#"Bearer error="invalid_token", error_description="No access token was verified for this request""#,
            ),
        );
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = PrincipalRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(PrincipalRejection)
    }
}

/// `Option<Principal>`: `None` on routes that are not guarded.
impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Principal>().cloned())
    }
}

/// The resource a principal's token was accepted for: the canonical spelling.
pub(crate) fn canonical_resource(expected: &TokenExpectations) -> String {
    expected.audiences().first().cloned().unwrap_or_default()
}
