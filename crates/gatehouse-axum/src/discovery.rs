//! RFC 8414 metadata and the JWKS.

use std::sync::Arc;

use axum::extract::State;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_as_metadata::AuthorizationServerMetadata;
use gatehouse_types::{
    CodeChallengeMethod, GrantType, ResponseType, Scope, TokenEndpointAuthMethod,
};

use crate::state::AppState;

/// The metadata document. `issuer` is the configured string, byte for byte (RFC 8414 §3.3).
pub(crate) fn metadata_document(state: &AppState) -> AuthorizationServerMetadata {
    let mut scopes: Vec<Scope> = Vec::new();
    for resource in state.engine.config().resources() {
        for scope in resource.scopes_supported.iter() {
            if !scopes.contains(scope) {
                scopes.push(scope.clone());
            }
        }
    }
    // `private_key_jwt` (RFC 7523 §2.2) for clients an operator vets, as MCP's client
    // credentials extension recommends; with it, RFC 8414 §2 asks for the algorithms.
    let client_auth = [
        TokenEndpointAuthMethod::None,
        TokenEndpointAuthMethod::ClientSecretBasic,
        TokenEndpointAuthMethod::ClientSecretPost,
        TokenEndpointAuthMethod::PrivateKeyJwt,
    ];
    let confidential_auth = [
        TokenEndpointAuthMethod::ClientSecretBasic,
        TokenEndpointAuthMethod::ClientSecretPost,
        TokenEndpointAuthMethod::PrivateKeyJwt,
    ];
    let assertion_algs = gatehouse_jose::Algorithm::ALL.map(gatehouse_jose::Algorithm::as_str);
    let mut grants = vec![
        GrantType::AuthorizationCode,
        GrantType::RefreshToken,
        // Declared confidential clients (MCP client credentials extension, SEP-1046).
        GrantType::ClientCredentials,
        // Resource servers exchanging a token for another resource (RFC 8693).
        GrantType::TokenExchange,
    ];
    // Enterprise-Managed Authorization (SEP-990): draft-ietf-oauth-identity-assertion-authz-grant
    // §7.2, the profile in `authorization_grant_profiles_supported` "MUST also include" the
    // jwt-bearer grant.
    let id_jag = state
        .config
        .identity_providers
        .iter()
        .any(|provider| provider.accept_id_jag);
    if id_jag {
        grants.push(GrantType::JwtBearer);
    }
    let metadata = AuthorizationServerMetadata::builder(state.config.issuer.clone())
        .authorization_endpoint(state.endpoint("/authorize"))
        .token_endpoint(state.endpoint("/token"))
        .jwks_uri(state.endpoint("/.well-known/jwks.json"))
        .registration_endpoint(state.endpoint("/register"))
        .scopes_supported(scopes)
        .response_types_supported([ResponseType::Code])
        .grant_types_supported(grants)
        .token_endpoint_auth_methods_supported(client_auth.clone())
        .token_endpoint_auth_signing_alg_values_supported(assertion_algs)
        .revocation_endpoint(state.endpoint("/revoke"))
        .revocation_endpoint_auth_methods_supported(client_auth)
        .revocation_endpoint_auth_signing_alg_values_supported(assertion_algs)
        .introspection_endpoint(state.endpoint("/introspect"))
        .introspection_endpoint_auth_methods_supported(confidential_auth)
        .introspection_endpoint_auth_signing_alg_values_supported(assertion_algs)
        .code_challenge_methods_supported([CodeChallengeMethod::S256])
        .authorization_response_iss_parameter_supported(true)
        .client_id_metadata_document_supported(state.documents.enabled());
    // RFC 9449 §5.1: DPoP proofs are accepted at the token endpoint, signed with these.
    let metadata = metadata.extra(
        "dpop_signing_alg_values_supported",
        serde_json::json!(gatehouse_jose::Algorithm::ALL.map(gatehouse_jose::Algorithm::as_str)),
    );
    let metadata = if id_jag {
        metadata.extra(
            "authorization_grant_profiles_supported",
            serde_json::json!(["urn:ietf:params:oauth:grant-profile:id-jag"]),
        )
    } else {
        metadata
    };
    metadata.build()
}

/// `GET /.well-known/oauth-authorization-server{/issuer-path}`.
pub(crate) async fn metadata(State(state): State<Arc<AppState>>) -> Response {
    public_json(metadata_document(&state).to_json())
}

/// `GET /.well-known/jwks.json`.
pub(crate) async fn jwks(State(state): State<Arc<AppState>>) -> Response {
    public_json(state.key_ring().jwks_json().to_owned())
}

/// A public document: cacheable for a few minutes (keys rotate with overlap, so a cached JWKS
/// still verifies every token while the new key is published).
fn public_json(body: String) -> Response {
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, HeaderValue::from_static("application/json")),
            (
                CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=300"),
            ),
        ],
        body,
    )
        .into_response()
}
