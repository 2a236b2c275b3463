//! Identity providers whose Identity Assertion JWT Authorization Grants (ID-JAG, MCP's
//! Enterprise-Managed Authorization, SEP-990) this server accepts: their configuration
//! (`[[identity_providers]]` with `accept_id_jag`, checked with the others in
//! `federation::settings`), and which one an assertion names. Their keys
//! are found by OpenID Connect Discovery and fetched behind the metadata-document fences
//! (`documents::ClientDocuments::provider_keys`); the engine checks the assertion itself.

use crate::config::{Config, IdentityProvider};

/// The provider trusted for ID-JAGs whose issuer is exactly `issuer`.
pub(crate) fn accepting<'a>(config: &'a Config, issuer: &str) -> Option<&'a IdentityProvider> {
    config
        .identity_providers
        .iter()
        .find(|provider| provider.accept_id_jag && provider.issuer.as_deref() == Some(issuer))
}
