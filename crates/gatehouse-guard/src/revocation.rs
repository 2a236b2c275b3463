//! The revocation hook: a deny list the guard consults on every request, cached or not, so that
//! a revoked token is refused from the next request on.

use futures_util::future::BoxFuture;

use crate::RevocationCheckError;

/// Says whether an access token was revoked, by its `jti`
/// ([RFC 9068 §2.2](https://www.rfc-editor.org/rfc/rfc9068#section-2.2) makes `jti` required,
/// and [RFC 7009](https://www.rfc-editor.org/rfc/rfc7009) revocation keys on it).
///
/// An authorization server in the same process plugs its deny list in here. The guard asks on
/// every request, including those answered from its verified-token cache, so an implementation
/// must be cheap (an in-memory set, not a database round trip per request). An error refuses
/// the request with `503`: the guard fails closed.
pub trait RevocationCheck: Send + Sync + 'static {
    /// Whether the token with this `jti` was revoked.
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, RevocationCheckError>>;
}

impl<R: RevocationCheck + ?Sized> RevocationCheck for std::sync::Arc<R> {
    fn is_revoked<'a>(&'a self, jti: &'a str) -> BoxFuture<'a, Result<bool, RevocationCheckError>> {
        (**self).is_revoked(jti)
    }
}
