//! `[[identity_providers]]` as the operator wrote it: every entry checked at start, so that a
//! mistake is a refusal naming its key, not a broken sign-in page later.

use std::collections::BTreeSet;

use gatehouse_types::uri::check_web_url;

use crate::config::{Config, ConfigError, IdentityProvider, LoginMode, invalid};

/// What the provider's authorization request is made of; `authorization_params` cannot set
/// these.
const PROTOCOL_PARAMS: [&str; 9] = [
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

fn key(index: usize, field: &str) -> String {
    format!("identity_providers[{index}].{field}")
}

/// Checks every `[[identity_providers]]` entry, and `[login] mode` against them.
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
        check_one(index, provider)?;
    }
    let offered = config
        .identity_providers
        .iter()
        .filter(|p| p.signs_in())
        .count();
    // A declared machine client is its own subject: one named in a provider's namespace would
    // be taken for that provider's person (its kept tokens, its groups).
    for (index, client) in config.clients.iter().enumerate() {
        if let Some((prefix, _)) = client.client_id.split_once(':')
            && config.identity_providers.iter().any(|p| p.id == prefix)
        {
            return Err(invalid(
                format!("clients[{index}].client_id"),
                format!("{prefix}: is the namespace of the identity provider {prefix}"),
            ));
        }
    }
    for (index, resource) in config.resources.iter().enumerate() {
        let Some(id) = &resource.forward_upstream_token else {
            continue;
        };
        let field = format!("resources[{index}].forward_upstream_token");
        if resource.upstream.is_none() {
            return Err(invalid(
                field,
                "only a gateway resource (upstream = …) forwards a token to its upstream",
            ));
        }
        if !config
            .identity_providers
            .iter()
            .any(|provider| provider.id == *id && provider.keep_tokens && provider.signs_in())
        {
            return Err(invalid(
                field,
                format!("{id} is not an identity provider with keep_tokens = true"),
            ));
        }
    }
    if config.login.mode == LoginMode::Providers && offered == 0 {
        return Err(invalid(
            "login.mode",
            "\"providers\" signs people in only through identity providers, and none has sign_in (set client_id on an [[identity_providers]] entry)",
        ));
    }
    Ok(())
}

fn check_one(index: usize, provider: &IdentityProvider) -> Result<(), ConfigError> {
    let url = |field: &str, value: &str| {
        check_web_url(value).map(drop).map_err(|e| {
            invalid(
                key(index, field),
                format!("{e} (https, or http on a loopback host)"),
            )
        })
    };
    match provider.kind.as_str() {
        "oidc" => {
            let Some(issuer) = &provider.issuer else {
                return Err(invalid(
                    key(index, "issuer"),
                    "an \"oidc\" provider is found by its issuer",
                ));
            };
            url("issuer", issuer)?;
            if issuer.contains('?') {
                return Err(invalid(key(index, "issuer"), "must have no query"));
            }
            for field in [
                "authorization_endpoint",
                "token_endpoint",
                "userinfo_endpoint",
            ] {
                if endpoint(provider, field).is_some() {
                    return Err(invalid(
                        key(index, field),
                        "an \"oidc\" provider's endpoints come from its discovery document",
                    ));
                }
            }
        }
        "oauth2" => {
            if let Some(issuer) = &provider.issuer {
                url("issuer", issuer)?;
            }
            for field in [
                "authorization_endpoint",
                "token_endpoint",
                "userinfo_endpoint",
            ] {
                match endpoint(provider, field) {
                    Some(value) => url(field, value)?,
                    None => {
                        return Err(invalid(
                            key(index, field),
                            "an \"oauth2\" provider needs its authorization, token and userinfo endpoints",
                        ));
                    }
                }
            }
        }
        "github" => {
            for field in [
                "issuer",
                "authorization_endpoint",
                "token_endpoint",
                "userinfo_endpoint",
            ] {
                let set = if field == "issuer" {
                    provider.issuer.is_some()
                } else {
                    endpoint(provider, field).is_some()
                };
                if set {
                    return Err(invalid(
                        key(index, field),
                        "a \"github\" provider uses GitHub's own endpoints",
                    ));
                }
            }
        }
        other => {
            return Err(invalid(
                key(index, "kind"),
                format!("{other:?} is not a kind: \"oidc\", \"oauth2\" or \"github\""),
            ));
        }
    }
    if provider.accept_id_jag {
        // Its keys are fetched over authenticated TLS (the profile's §7.3: "MUST use https URLs
        // for ... any metadata or key-discovery endpoints").
        if provider.kind != "oidc"
            || !provider
                .issuer
                .as_deref()
                .is_some_and(|issuer| issuer.starts_with("https://"))
        {
            return Err(invalid(
                key(index, "accept_id_jag"),
                "ID-JAGs are accepted only from an \"oidc\" provider with an https issuer",
            ));
        }
    }
    if provider.sign_in == Some(true) && provider.client_id.is_none() {
        return Err(invalid(
            key(index, "client_id"),
            "signing people in needs the client id Gatehouse was registered with there",
        ));
    }
    if provider.client_id.as_deref().is_some_and(str::is_empty) {
        return Err(invalid(key(index, "client_id"), "must not be empty"));
    }
    if provider.keep_tokens && !provider.signs_in() {
        return Err(invalid(
            key(index, "keep_tokens"),
            "tokens are kept from people's sign-ins: the provider needs client_id and sign_in",
        ));
    }
    // GitHub has no groups claim, and a field of its /user answer (such as `company`) is the
    // person's own to write.
    if provider.kind == "github"
        && (provider.groups_claim.is_some() || !provider.allowed_groups.is_empty())
    {
        return Err(invalid(
            key(index, "groups_claim"),
            "GitHub sends no groups; a field of its /user answer is the person's own to write",
        ));
    }
    // An ID-JAG names the person by its `sub`: the same namespace must not name them by
    // another claim at sign-in, or one person's `sub` could be another's email.
    if provider.accept_id_jag
        && provider.signs_in()
        && provider
            .subject_claim
            .as_deref()
            .is_some_and(|claim| claim != "sub")
    {
        return Err(invalid(
            key(index, "subject_claim"),
            "a provider whose ID-JAGs are accepted names people by sub, at sign-in too",
        ));
    }
    for domain in &provider.allowed_email_domains {
        if domain.is_empty() || domain.contains('@') || domain.contains(char::is_whitespace) {
            return Err(invalid(
                key(index, "allowed_email_domains"),
                format!("{domain:?} is not a domain (write corp.example, not @corp.example)"),
            ));
        }
    }
    for name in provider.authorization_params.keys() {
        if PROTOCOL_PARAMS.contains(&name.as_str()) {
            return Err(invalid(
                key(index, "authorization_params"),
                format!("{name} is the protocol's own parameter, set by Gatehouse"),
            ));
        }
    }
    Ok(())
}

fn endpoint<'a>(provider: &'a IdentityProvider, field: &str) -> Option<&'a str> {
    match field {
        "authorization_endpoint" => provider.authorization_endpoint.as_deref(),
        "token_endpoint" => provider.token_endpoint.as_deref(),
        "userinfo_endpoint" => provider.userinfo_endpoint.as_deref(),
        _ => None,
    }
}

/// The client secret of the provider at `index`, from its environment variable (read at start,
/// like declared clients' secrets: the file never holds one).
pub(crate) fn secret(
    index: usize,
    provider: &IdentityProvider,
) -> Result<Option<zeroize::Zeroizing<String>>, ConfigError> {
    let Some(variable) = &provider.client_secret_env else {
        return Ok(None);
    };
    match std::env::var(variable) {
        Ok(value) if !value.is_empty() => Ok(Some(zeroize::Zeroizing::new(value))),
        _ => Err(invalid(
            key(index, "client_secret_env"),
            format!("the environment variable {variable} is not set"),
        )),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    /// A configuration with the provider `corp`, one resource served by `target`, and `extra`
    /// after it.
    fn config_with(target: &str, extra: &str) -> Result<Config, String> {
        let text = format!(
            r#"
issuer = "http://127.0.0.1:8080"
listen = "127.0.0.1:8080"
database = "memory"

[[identity_providers]]
id = "corp"
issuer = "http://127.0.0.1:9000"
client_id = "gatehouse"

[[resources]]
resource = "http://127.0.0.1:8080/mcp"
{target}
scopes_supported = ["mcp:tools"]
{extra}
"#
        );
        Config::from_toml(&text).map_err(|e| e.to_string())
    }

    fn config(extra: &str) -> Result<Config, String> {
        config_with("builtin = \"demo\"", extra)
    }

    #[test]
    fn a_provider_namespace_is_closed_to_declared_clients() {
        let refused = config(
            "[[clients]]\nclient_id = \"corp:alice\"\ntoken_endpoint_auth_method = \"none\"\nredirect_uris = [\"http://127.0.0.1:9/cb\"]",
        )
        .unwrap_err();
        assert!(refused.contains("clients[0].client_id"), "{refused}");
    }

    #[test]
    fn forwarding_needs_a_gateway_and_a_provider_that_keeps_tokens() {
        let builtin =
            config_with("builtin = \"demo\"\nforward_upstream_token = \"corp\"", "").unwrap_err();
        assert!(builtin.contains("gateway"), "{builtin}");
        let gateway = "upstream = \"http://127.0.0.1:9001/mcp\"\nforward_upstream_token = \"corp\"";
        let without = config_with(gateway, "").unwrap_err();
        assert!(without.contains("keep_tokens"), "{without}");
    }

    #[test]
    fn claims_a_person_can_write_do_not_decide_groups_or_subjects() {
        let base = config("").unwrap().identity_providers[0].clone();
        let mut github = base.clone();
        github.kind = "github".into();
        github.issuer = None;
        assert!(check_one(0, &github).is_ok());
        github.groups_claim = Some("company".into());
        assert!(check_one(0, &github).is_err());
        let mut jag = base;
        jag.issuer = Some("https://login.example.com".into());
        jag.accept_id_jag = true;
        assert!(check_one(0, &jag).is_ok());
        jag.subject_claim = Some("email".into());
        assert!(check_one(0, &jag).is_err());
    }

    #[test]
    fn a_bare_group_is_the_one_signing_providers_and_otherwise_must_be_named() {
        let one =
            config("\n[[scope_policy]]\ngroups = [\"on-call\"]\nscopes = [\"mcp:tools\"]").unwrap();
        let policy = one.scope_policy().unwrap();
        let member = vec!["corp:on-call".to_owned()];
        let who = gatehouse_types::policy::Who {
            subject: "corp:alice",
            groups: &member,
        };
        let scope = gatehouse_types::Scope::new("mcp:tools").unwrap();
        assert!(policy.permits(who, "client", &scope));
        let two = config(
            "\n[[identity_providers]]\nid = \"partner\"\nissuer = \"http://127.0.0.1:9002\"\nclient_id = \"g\"\n\n[[scope_policy]]\ngroups = [\"on-call\"]\nscopes = [\"mcp:tools\"]",
        )
        .unwrap_err();
        assert!(two.contains("name the identity provider"), "{two}");
    }

    #[test]
    fn the_protocols_own_parameters_cannot_be_set() {
        let text = config("").unwrap();
        let mut provider = text.identity_providers[0].clone();
        provider
            .authorization_params
            .insert("state".into(), "fixed".into());
        assert!(check_one(0, &provider).is_err());
        provider.authorization_params.clear();
        provider
            .authorization_params
            .insert("hd".into(), "corp.example".into());
        assert!(check_one(0, &provider).is_ok());
    }
}
