//! Clients the operator declares in the configuration (`[[clients]]`): the MCP authorization
//! specification's "pre-registration", for clients an operator vets — a resource server that
//! introspects tokens (RFC 7662 §4), a machine client (`client_credentials`, MCP's client
//! credentials extension, SEP-1046), a known first-party application.
//!
//! [`check`] validates the entries with the configuration; [`records`] builds the clients,
//! reading their secrets from the environment; [`apply`] stores them at every start, added or
//! updated in place, and reports a declaration that has gone. [`provision`] builds a client by
//! the same rules for `gatehouse clients add` and `update`, with a secret it draws itself. A declared client has no
//! registration access token, so RFC 7592 management cannot change it, and the consent page
//! does not warn about it as it does about clients that registered themselves.

use std::collections::BTreeSet;

use gatehouse_engine::opaque::CredentialHash;
use gatehouse_engine::store::ClientRecord;
use gatehouse_registration::{ClientMetadata, ClientMetadataPolicy, ScopeRule};
use gatehouse_resource_indicators::ResourceUri;
use gatehouse_store::{AnyStore, ServerStore};
use gatehouse_types::{
    ClientId, GrantType, RedirectUri, ResponseType, ScopeSet, SecretString,
    TokenEndpointAuthMethod, UnixTime,
};

use crate::clock::OsRandom;
use crate::config::{Config, ConfigError, DeclaredClient, invalid};
use crate::gatehouse::StartError;

/// The shortest client secret accepted from the environment. The store keeps a SHA-256 hash of
/// it, which only a long random secret makes safe against guessing (OAuth 2.1 §7.4: secrets
/// must be hard to guess); 32 characters of `openssl rand -base64 24` carry 192 bits.
pub(crate) const MIN_SECRET_CHARS: usize = 32;

/// How a declared client may authenticate.
const AUTH_METHODS: [TokenEndpointAuthMethod; 4] = [
    TokenEndpointAuthMethod::None,
    TokenEndpointAuthMethod::ClientSecretBasic,
    TokenEndpointAuthMethod::ClientSecretPost,
    TokenEndpointAuthMethod::PrivateKeyJwt,
];

/// The grants a declared client may list.
const GRANTS: [GrantType; 5] = [
    GrantType::AuthorizationCode,
    GrantType::RefreshToken,
    GrantType::ClientCredentials,
    GrantType::TokenExchange,
    GrantType::JwtBearer,
];

/// Checks every `[[clients]]` entry as far as the configuration alone allows (the secrets are
/// read at start, by [`records`]).
pub(crate) fn check(config: &Config) -> Result<(), ConfigError> {
    let mut seen = BTreeSet::new();
    for (index, entry) in config.clients.iter().enumerate() {
        let client = build(config, entry, &|field| key(index, field), UnixTime::EPOCH)?;
        secret_env_matches(index, entry, &client)?;
        if !seen.insert(client.client_id.as_str().to_owned()) {
            return Err(invalid(
                key(index, "client_id"),
                format!("{} is declared twice", client.client_id.as_str()),
            ));
        }
    }
    Ok(())
}

/// The declared clients, with their secrets from the environment, as of `now`.
pub(crate) fn records(config: &Config, now: UnixTime) -> Result<Vec<ClientRecord>, ConfigError> {
    config
        .clients
        .iter()
        .enumerate()
        .map(|(index, entry)| {
            let mut client = build(config, entry, &|field| key(index, field), now)?;
            secret_env_matches(index, entry, &client)?;
            if let Some(variable) = &entry.client_secret_env {
                client.secret_hash = Some(CredentialHash::of(&secret_from(index, variable)?));
            }
            Ok(client)
        })
        .collect()
}

/// Stores the declared clients: each added, or updated in place (its registration time kept);
/// a client that was declared before and no longer is, is reported and kept, with its grants,
/// until an operator deletes it. Refuses to start if a declaration names a client that exists
/// and was not declared (one added on the command line, say): it would take that client over.
pub(crate) async fn apply(store: &AnyStore, clients: Vec<ClientRecord>) -> Result<(), StartError> {
    let before = store.declared_clients().await.map_err(storage)?;
    let mut now_declared = BTreeSet::new();
    for (index, client) in clients.into_iter().enumerate() {
        let id = client.client_id.clone();
        let existing = store.client(&id).await.map_err(storage)?;
        if !store
            .declare_client(client.clone())
            .await
            .map_err(storage)?
        {
            return Err(invalid(
                key(index, "client_id"),
                format!(
                    "a client {} exists that was not declared here (added with `gatehouse clients add`, or registered); delete it or declare another id",
                    id.as_str()
                ),
            )
            .into());
        }
        match existing {
            None => tracing::info!(client_id = id.as_str(), "declared client added"),
            Some(existing) if changed(&existing, &client) => {
                tracing::info!(client_id = id.as_str(), "declared client updated");
            }
            Some(_) => {}
        }
        now_declared.insert(id);
    }
    for gone in before.iter().filter(|id| !now_declared.contains(*id)) {
        tracing::warn!(
            client_id = gone.as_str(),
            "a client declared before is no longer in the configuration; it is kept, with its grants, until `gatehouse clients delete {}`",
            gone.as_str()
        );
    }
    Ok(())
}

/// A client an operator adds or changes with `gatehouse clients add | update`, checked by the
/// rules of `[[clients]]` (`name` says how an error names a field: the command's options). For
/// a method that uses a secret, `keep_secret` is kept if given; otherwise a new random secret is
/// drawn, returned to be shown once, and stored only as its hash.
pub fn provision(
    config: &Config,
    entry: &DeclaredClient,
    name: &dyn Fn(&str) -> String,
    keep_secret: Option<CredentialHash>,
    now: UnixTime,
) -> Result<(ClientRecord, Option<SecretString>), ConfigError> {
    let mut client = build(config, entry, name, now)?;
    let mut secret = None;
    if uses_secret(client.metadata.token_endpoint_auth_method()) {
        client.secret_hash = match keep_secret {
            Some(kept) => Some(kept),
            None => {
                let drawn = gatehouse_engine::opaque::generate(
                    gatehouse_engine::opaque::CredentialKind::ClientSecret,
                    &mut OsRandom,
                );
                let hash = CredentialHash::of(drawn.expose_secret());
                secret = Some(drawn);
                Some(hash)
            }
        };
    }
    Ok((client, secret))
}

/// A new client id, drawn as the engine draws those of registered clients.
pub fn new_client_id() -> String {
    gatehouse_engine::new_client_id(&mut OsRandom)
}

/// The entry that describes a stored client, to change it with [`provision`]: what
/// `gatehouse clients update` starts from.
pub fn entry_of(client: &ClientRecord) -> DeclaredClient {
    let metadata = &client.metadata;
    DeclaredClient {
        client_id: client.client_id.as_str().to_owned(),
        client_name: metadata.client_name().map(str::to_owned),
        token_endpoint_auth_method: metadata.token_endpoint_auth_method().to_string(),
        client_secret_env: None,
        jwks_uri: metadata.jwks_uri().map(str::to_owned),
        jwks: metadata.jwks().map(ToString::to_string),
        redirect_uris: metadata
            .redirect_uris()
            .iter()
            .map(|uri| uri.as_str().to_owned())
            .collect(),
        grant_types: metadata
            .grant_types()
            .iter()
            .map(ToString::to_string)
            .collect(),
        scope: metadata.scope().map(ToString::to_string),
        introspection_resources: client
            .introspection_resources
            .iter()
            .map(ToString::to_string)
            .collect(),
        dpop_bound_access_tokens: metadata.dpop_bound_access_tokens(),
    }
}

fn storage(error: gatehouse_engine::store::StoreError) -> StartError {
    invalid(
        "clients",
        format!("the declared clients cannot be stored: {error}"),
    )
    .into()
}

/// Whether a stored client differs from its declaration (its registration time aside).
fn changed(stored: &ClientRecord, declared: &ClientRecord) -> bool {
    stored.metadata != declared.metadata
        || stored.secret_hash != declared.secret_hash
        || stored.secret_expires_at != declared.secret_expires_at
        || stored.introspection_resources != declared.introspection_resources
}

/// A JWK Set of public keys, given as a JSON string, with at least one key this server can
/// verify with.
fn public_keys(jwks: &str) -> Result<serde_json::Value, String> {
    let (keys, unusable) = gatehouse_jose::KeySet::from_jwks_json(jwks.as_bytes())
        .map_err(|e| format!("not a JWK Set: {e}"))?;
    if keys.is_empty() {
        return Err(unusable.first().map_or_else(
            || "the set holds no key".to_owned(),
            |e| format!("no usable key: {e}"),
        ));
    }
    serde_json::from_str(jwks).map_err(|e| e.to_string())
}

fn key(index: usize, field: &str) -> String {
    format!("clients[{index}].{field}")
}

fn secret_from(index: usize, variable: &str) -> Result<String, ConfigError> {
    let value = std::env::var(variable).unwrap_or_default();
    if value.is_empty() {
        return Err(invalid(
            key(index, "client_secret_env"),
            format!("the environment variable {variable} is not set"),
        ));
    }
    if value.chars().count() < MIN_SECRET_CHARS {
        return Err(invalid(
            key(index, "client_secret_env"),
            format!(
                "the secret in {variable} has fewer than {MIN_SECRET_CHARS} characters; use a random one (openssl rand -base64 24)"
            ),
        ));
    }
    Ok(value)
}

/// `client_secret_env` is given exactly when the method uses a secret.
fn secret_env_matches(
    index: usize,
    entry: &DeclaredClient,
    client: &ClientRecord,
) -> Result<(), ConfigError> {
    let method = client.metadata.token_endpoint_auth_method();
    match (&entry.client_secret_env, uses_secret(method)) {
        (None, true) => Err(invalid(
            key(index, "client_secret_env"),
            format!("{method} needs a secret: name the environment variable that holds it"),
        )),
        (Some(_), false) => Err(invalid(
            key(index, "client_secret_env"),
            format!("a client authenticating with {method} has no secret"),
        )),
        _ => Ok(()),
    }
}

fn uses_secret(method: &TokenEndpointAuthMethod) -> bool {
    matches!(
        method,
        TokenEndpointAuthMethod::ClientSecretBasic | TokenEndpointAuthMethod::ClientSecretPost
    )
}

/// A client an operator vets, by the rules of `[[clients]]`, without its secret (the caller
/// adds it). `name` says how an error names a field: `clients[2].scope`, or `--scope`.
fn build(
    config: &Config,
    entry: &DeclaredClient,
    name: &dyn Fn(&str) -> String,
    now: UnixTime,
) -> Result<ClientRecord, ConfigError> {
    let key = name;
    let client_id =
        ClientId::new(entry.client_id.clone()).map_err(|e| invalid(key("client_id"), e))?;
    if client_id.is_metadata_document_url() {
        return Err(invalid(
            key("client_id"),
            "an https URL names a Client ID Metadata Document; a declared client needs another id",
        ));
    }

    let method = TokenEndpointAuthMethod::parse(&entry.token_endpoint_auth_method)
        .map_err(|e| invalid(key("token_endpoint_auth_method"), e))?;
    if !AUTH_METHODS.contains(&method) {
        return Err(invalid(
            key("token_endpoint_auth_method"),
            format!(
                "{method} is not one of none, client_secret_basic, client_secret_post, private_key_jwt"
            ),
        ));
    }
    // RFC 7523 §2.2: the client proves itself with its key; RFC 7591 §2: the key is registered
    // as `jwks` or `jwks_uri`, "MUST NOT both be present".
    let keyed = method == TokenEndpointAuthMethod::PrivateKeyJwt;
    match (keyed, &entry.jwks, &entry.jwks_uri) {
        (true, None, None) => {
            return Err(invalid(
                key("jwks"),
                "private_key_jwt needs the client's public keys: jwks or jwks_uri",
            ));
        }
        (true, Some(_), Some(_)) => {
            return Err(invalid(key("jwks"), "give jwks or jwks_uri, not both"));
        }
        (false, Some(_), _) | (false, _, Some(_)) => {
            return Err(invalid(
                key(if entry.jwks.is_some() {
                    "jwks"
                } else {
                    "jwks_uri"
                }),
                "keys are for private_key_jwt; this client authenticates otherwise",
            ));
        }
        _ => {}
    }
    let confidential = method != TokenEndpointAuthMethod::None;

    let mut grants = Vec::new();
    for grant in &entry.grant_types {
        let grant = GrantType::parse(grant).map_err(|e| invalid(key("grant_types"), e))?;
        if !GRANTS.contains(&grant) {
            return Err(invalid(
                key("grant_types"),
                format!(
                    "{grant} is not supported; declare authorization_code, refresh_token, client_credentials, urn:ietf:params:oauth:grant-type:token-exchange or urn:ietf:params:oauth:grant-type:jwt-bearer"
                ),
            ));
        }
        grants.push(grant);
    }
    // OAuth 2.1 §4.2: "The client credentials grant type MUST only be used by confidential
    // clients"; SEP-1046: the client authenticates.
    if grants.contains(&GrantType::ClientCredentials) && !confidential {
        return Err(invalid(
            key("grant_types"),
            "client_credentials is for confidential clients only (OAuth 2.1 §4.2); give a secret method",
        ));
    }
    // No person consents to a machine's tokens: its declared scope is the whole bound.
    if grants.contains(&GrantType::ClientCredentials) && entry.scope.is_none() {
        return Err(invalid(
            key("scope"),
            "a client_credentials client needs scope: the most the machine may be granted",
        ));
    }

    // draft-ietf-oauth-identity-assertion-authz-grant §8.1: "SHOULD only be supported for
    // confidential clients".
    if grants.contains(&GrantType::JwtBearer) && !confidential {
        return Err(invalid(
            key("grant_types"),
            "ID-JAGs (jwt-bearer) are accepted from confidential clients only",
        ));
    }
    // RFC 8693: only the resource server of a token's audience may exchange it, so the grant
    // means nothing without resources to serve, nor for a client that cannot authenticate.
    if grants.contains(&GrantType::TokenExchange)
        && (!confidential || entry.introspection_resources.is_empty())
    {
        return Err(invalid(
            key("grant_types"),
            "token exchange is for a resource server: a confidential client with introspection_resources",
        ));
    }

    let scope = match &entry.scope {
        Some(scope) => {
            let scope = ScopeSet::parse(scope).map_err(|e| invalid(key("scope"), e))?;
            let supported: BTreeSet<&str> = config
                .resources
                .iter()
                .flat_map(|r| r.scopes_supported.iter().map(String::as_str))
                .collect();
            if let Some(unknown) = scope.iter().find(|s| !supported.contains(s.as_str())) {
                return Err(invalid(
                    key("scope"),
                    format!("{unknown} is not among any resource's scopes_supported"),
                ));
            }
            Some(scope)
        }
        None => None,
    };

    let mut builder = ClientMetadata::builder()
        .token_endpoint_auth_method(method)
        .grant_types(grants.iter().cloned())
        .response_types(
            grants
                .contains(&GrantType::AuthorizationCode)
                .then_some(ResponseType::Code),
        );
    if let Some(name) = &entry.client_name {
        builder = builder.client_name(name.clone());
    }
    if entry.dpop_bound_access_tokens {
        builder = builder.dpop_bound_access_tokens(true);
    }
    if let Some(jwks) = &entry.jwks {
        builder = builder.jwks(public_keys(jwks).map_err(|e| invalid(key("jwks"), e))?);
    }
    if let Some(uri) = &entry.jwks_uri {
        builder = builder.jwks_uri(uri.clone());
    }
    if let Some(scope) = scope {
        builder = builder.scope(scope);
    }
    for uri in &entry.redirect_uris {
        builder = builder.redirect_uri(
            RedirectUri::new(uri.clone()).map_err(|e| invalid(key("redirect_uris"), e))?,
        );
    }
    let policy = ClientMetadataPolicy::new()
        .with_grant_types(GRANTS)
        .with_auth_methods(AUTH_METHODS)
        .with_scopes(ScopeRule::AcceptAny)
        .with_no_grant_types_admitted();
    let metadata = policy.check(&builder.build()).map_err(|e| {
        let field = match gatehouse_types::OAuthError::error_code(&e) {
            gatehouse_types::ErrorCode::InvalidRedirectUri => "redirect_uris",
            _ if entry.jwks_uri.is_some() && e.to_string().contains("jwks_uri") => "jwks_uri",
            _ => "grant_types",
        };
        invalid(key(field), e)
    })?;

    let mut introspection_resources = Vec::new();
    for resource in &entry.introspection_resources {
        let uri =
            ResourceUri::parse(resource).map_err(|e| invalid(key("introspection_resources"), e))?;
        let served = config
            .resources
            .iter()
            .any(|r| ResourceUri::parse(&r.resource).is_ok_and(|ours| ours == uri));
        if !served {
            return Err(invalid(
                key("introspection_resources"),
                format!("{resource} is not one of this server's [[resources]]"),
            ));
        }
        introspection_resources.push(uri);
    }

    Ok(ClientRecord {
        client_id,
        metadata,
        secret_hash: None,
        secret_expires_at: None,
        registration_token_hash: None,
        issued_at: now,
        introspection_resources,
    })
}
