//! Identity providers whose Identity Assertion JWT Authorization Grants (ID-JAG, MCP's
//! Enterprise-Managed Authorization, SEP-990) this server accepts: their configuration
//! (`[[identity_providers]]` with `accept_id_jag`), and which one an assertion names. Their keys
//! are found by OpenID Connect Discovery and fetched behind the metadata-document fences
//! (`documents::ClientDocuments::provider_keys`); the engine checks the assertion itself.

use std::collections::BTreeSet;

use crate::config::{Config, ConfigError, IdentityProvider, invalid};

fn key(index: usize, field: &str) -> String {
    format!("identity_providers[{index}].{field}")
}

/// Checks every `[[identity_providers]]` entry.
pub(crate) fn check(config: &Config) -> Result<(), ConfigError> {
    let mut seen = BTreeSet::new();
    for (index, provider) in config.identity_providers.iter().enumerate() {
        let id = &provider.id;
        if id.is_empty()
            || id.len() > 32
            || !id
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return Err(invalid(key(index, "id"), "must match [a-z0-9-]{1,32}"));
        }
        if !seen.insert(id.clone()) {
            return Err(invalid(
                key(index, "id"),
                format!("{id} is configured twice"),
            ));
        }
        if provider.kind != "oidc" {
            return Err(invalid(
                key(index, "kind"),
                format!(
                    "{:?} is not supported; \"oidc\" (keys found by OpenID Connect Discovery)",
                    provider.kind
                ),
            ));
        }
        // Its keys are fetched over authenticated TLS (the profile's §7.3: "MUST use https URLs
        // for ... any metadata or key-discovery endpoints").
        let issuer = url::Url::parse(&provider.issuer)
            .ok()
            .filter(|url| {
                url.scheme() == "https"
                    && url.host().is_some()
                    && url.query().is_none()
                    && url.fragment().is_none()
            })
            .ok_or_else(|| {
                invalid(
                    key(index, "issuer"),
                    "must be an https URL without query or fragment",
                )
            })?;
        drop(issuer);
        if !provider.accept_id_jag {
            return Err(invalid(
                key(index, "accept_id_jag"),
                "an identity provider is used only to accept ID-JAGs so far: set accept_id_jag = true (signing people in through it is not available yet)",
            ));
        }
    }
    Ok(())
}

/// The provider trusted for ID-JAGs whose issuer is exactly `issuer`.
pub(crate) fn accepting<'a>(config: &'a Config, issuer: &str) -> Option<&'a IdentityProvider> {
    config
        .identity_providers
        .iter()
        .find(|provider| provider.accept_id_jag && provider.issuer == issuer)
}
