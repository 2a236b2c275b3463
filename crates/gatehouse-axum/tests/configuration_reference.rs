//! `docs/configuration.md` is the complete reference: every key of [`Config`] is documented there,
//! nothing there is missing from [`Config`], and its complete example is a configuration the
//! server accepts, holding every key.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use std::collections::BTreeSet;

use gatehouse_axum::Config;

/// Keys whose values are maps the operator fills (`scope = "text"`), not sections.
const MAP_KEYS: [&str; 3] = ["scope_descriptions", "tool_scopes", "authorization_params"];

fn reference() -> String {
    std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/configuration.md"
    ))
    .unwrap()
}

/// The dotted keys of a configuration as JSON (`resources[].tool_scopes`, `tokens.signing_alg`).
fn keys(value: &serde_json::Value, prefix: &str, out: &mut BTreeSet<String>) {
    let Some(members) = value.as_object() else {
        return;
    };
    for (name, member) in members {
        let key = format!("{prefix}{name}");
        match member {
            serde_json::Value::Object(_) if !MAP_KEYS.contains(&name.as_str()) => {
                keys(member, &format!("{key}."), out);
            }
            serde_json::Value::Array(items) if items.first().is_some_and(|i| i.is_object()) => {
                for item in items {
                    keys(item, &format!("{key}[]."), out);
                }
            }
            _ => {
                out.insert(key);
            }
        }
    }
}

/// The keys of the configuration struct: every field is serialized, `None` as `null`. The demo
/// declares no client, identity provider or scope rule, so one of each is added to show their
/// keys.
fn config_keys() -> BTreeSet<String> {
    let mut config = Config::demo("127.0.0.1:8080".parse().unwrap());
    let declared: gatehouse_axum::config::DeclaredClient =
        toml::from_str("client_id = \"app\"").unwrap();
    config.clients = vec![declared];
    let provider: gatehouse_axum::config::IdentityProvider =
        toml::from_str("id = \"corp\"\nissuer = \"https://login.example.com\"").unwrap();
    config.identity_providers = vec![provider];
    let rule: gatehouse_axum::config::ScopePolicyRule =
        toml::from_str("scopes = [\"mcp:tools\"]").unwrap();
    config.scope_policy = vec![rule];
    let mut out = BTreeSet::new();
    keys(&serde_json::to_value(&config).unwrap(), "", &mut out);
    out
}

/// The keys the reference documents: the first cell of every table row, before the environment
/// variables.
fn documented_keys() -> BTreeSet<String> {
    let text = reference();
    let settings = text.split("## Environment variables").next().unwrap();
    settings
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(key, _)| key.to_owned())
        .collect()
}

/// The first ```toml block of the reference: the complete example.
fn example() -> String {
    let text = reference();
    let start = text.find("```toml\n").unwrap() + "```toml\n".len();
    let end = start + text[start..].find("```").unwrap();
    text[start..end].to_owned()
}

#[test]
fn every_key_of_the_configuration_is_documented_and_nothing_else() {
    let code = config_keys();
    let docs = documented_keys();
    let undocumented: Vec<_> = code.difference(&docs).collect();
    let unknown: Vec<_> = docs.difference(&code).collect();
    assert!(
        undocumented.is_empty(),
        "keys missing from docs/configuration.md: {undocumented:?}"
    );
    assert!(
        unknown.is_empty(),
        "docs/configuration.md documents keys the configuration does not have: {unknown:?}"
    );
}

#[test]
fn the_complete_example_is_accepted_and_holds_every_key() {
    let text = example();
    let config = Config::from_toml(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(config.issuer, "https://auth.example.com");
    let parsed: toml::Value = toml::from_str(&text).unwrap();
    let mut present = BTreeSet::new();
    keys(&serde_json::to_value(&parsed).unwrap(), "", &mut present);
    let missing: Vec<_> = config_keys()
        .into_iter()
        .filter(|key| !present.contains(key))
        // A test-only setting that names a file: the example is for production.
        .filter(|key| key != "client_id_metadata_documents.dangerous_extra_root_certificate")
        .collect();
    assert!(missing.is_empty(), "the complete example lacks {missing:?}");
}
