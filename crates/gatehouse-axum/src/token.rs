//! The token, introspection and revocation endpoints, each in the engine's three steps: parse
//! the request (pure), resolve the client it names (the store, or a metadata document: the IO),
//! decide and commit (the engine). What the engine decided comes back whole, so the events and
//! metrics are made from it, never worked out again from the response.

use std::sync::Arc;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header::AUTHORIZATION;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use gatehouse_engine::{
    ClaimedClient, EndpointError, IntrospectRequest, Issued, RevokeRequest, TokenRequest,
};
use gatehouse_types::{ClientId, OAuthError};

use crate::clock::{OsRandom, now};
use crate::events::Event;
use crate::limits::{Class, Peer, per_client};
use crate::respond::{no_store, oauth_error, require_form};
use crate::state::AppState;

fn authorization(headers: &HeaderMap) -> Option<&str> {
    headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok())
}

/// The client a parsed request names, resolved (a store row, or a metadata document), once the
/// per-client rate limit allowed the request.
async fn resolve(
    state: &AppState,
    class: Class,
    headers: &HeaderMap,
    peer: Option<&Peer>,
    claimed: &ClaimedClient,
) -> Result<Option<gatehouse_engine::store::ClientRecord>, Response> {
    per_client(&state.rates, class, headers, peer, claimed.id()).await?;
    match state.client(claimed.id()).await {
        Ok(client) => Ok(client),
        Err(unresolved) => unresolved
            .for_endpoint(claimed.id())
            .map_err(|error| oauth_error(&error, error.www_authenticate())),
    }
}

/// A request to a credential endpoint, as the engine parses it: what the endpoint is called,
/// which rate limit it answers to, and the client it claims to come from.
trait CredentialRequest: Sized {
    const ENDPOINT: &'static str;
    const CLASS: Class;
    fn parse(body: &[u8], authorization: Option<&str>) -> Result<Self, EndpointError>;
    fn client(&self) -> &ClaimedClient;
    fn client_mut(&mut self) -> &mut ClaimedClient;
}

/// The engine's request types already have these as inherent methods; the trait only names
/// them once for the generic steps below.
macro_rules! credential_request {
    ($request:ty, $endpoint:literal, $class:expr) => {
        impl CredentialRequest for $request {
            const ENDPOINT: &'static str = $endpoint;
            const CLASS: Class = $class;
            fn parse(body: &[u8], authorization: Option<&str>) -> Result<Self, EndpointError> {
                Self::parse(body, authorization)
            }
            fn client(&self) -> &ClaimedClient {
                self.client()
            }
            fn client_mut(&mut self) -> &mut ClaimedClient {
                self.client_mut()
            }
        }
    };
}

credential_request!(TokenRequest, "token", Class::Token);
credential_request!(IntrospectRequest, "introspect", Class::Introspect);
credential_request!(RevokeRequest, "revoke", Class::Revoke);

/// A parsed request with its claimed client resolved: what the engine decides with.
struct Resolved<R> {
    request: R,
    claimed: ClientId,
    client: Option<gatehouse_engine::store::ClientRecord>,
}

/// The first two steps of every credential endpoint: parse the form (pure), then resolve the
/// client it claims (IO), each refusal already answered.
async fn parse_and_resolve<R: CredentialRequest>(
    state: &AppState,
    peer: Option<Extension<Peer>>,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<Resolved<R>, Response> {
    require_form(headers)?;
    let mut request = R::parse(body, authorization(headers))
        .map_err(|error| refused(state, None, &error, R::ENDPOINT))?;
    let claimed = request.client().id().clone();
    let peer = peer.map(|Extension(peer)| peer);
    let client = resolve(state, R::CLASS, headers, peer.as_ref(), request.client()).await?;
    // Only for a client an operator vetted that registered `private_key_jwt`: anyone can
    // register a `jwks_uri`, and fetching it for a client that authenticates otherwise would let
    // an unauthenticated caller make this server fetch any URL.
    if request.client().presents_assertion()
        && let Some(jwks_uri) = client
            .as_ref()
            .filter(|c| {
                c.is_vetted()
                    && *c.metadata.token_endpoint_auth_method()
                        == gatehouse_types::TokenEndpointAuthMethod::PrivateKeyJwt
            })
            .and_then(|c| c.metadata.jwks_uri())
    {
        let keys = client_keys(state, &claimed, jwks_uri, R::ENDPOINT).await?;
        request.client_mut().provide_keys(keys);
    }
    Ok(Resolved {
        request,
        claimed,
        client,
    })
}

/// The keys at the `jwks_uri` of a client that authenticates with `private_key_jwt` (RFC 7523
/// §2.2), fetched behind the same fences as metadata documents. A fetch that may pass later is
/// `temporarily_unavailable`; one that cannot is a failed client authentication.
async fn client_keys(
    state: &AppState,
    claimed: &ClientId,
    jwks_uri: &str,
    endpoint: &str,
) -> Result<gatehouse_jose::KeySet, Response> {
    match state.documents.client_keys(jwks_uri, now()).await {
        Ok(keys) => Ok(keys),
        Err(error) => {
            tracing::info!(client_id = claimed.as_str(), jwks_uri, %error, "a client's jwks_uri cannot be used");
            let error = error.at_endpoint(|| {
                EndpointError::invalid_client(
                    "the keys at the client's jwks_uri cannot be used to verify its assertion",
                )
            });
            Err(refused(state, Some(claimed), &error, endpoint))
        }
    }
}

/// For an ID-JAG (`jwt-bearer` grant), the identity provider its `iss` names, if the operator
/// trusts it (`accept_id_jag`), with its keys: the last of the token endpoint's resolutions.
async fn trusted_issuer(
    state: &AppState,
    request: &mut TokenRequest,
    claimed: &ClientId,
) -> Result<(), Response> {
    let Some(issuer) = request.assertion_issuer() else {
        return Ok(());
    };
    let Some(provider) = crate::id_jag::accepting(&state.config, &issuer) else {
        return Ok(());
    };
    // `accepting` matched the issuer: it is the one the assertion names.
    match state.documents.provider_keys(&issuer, now()).await {
        Ok(keys) => {
            request.provide_trusted_issuer(gatehouse_engine::TrustedIssuer {
                provider: provider.id.clone(),
                issuer: issuer.clone(),
                keys,
            });
            Ok(())
        }
        Err(error) => {
            tracing::warn!(provider = provider.id.as_str(), %error, "an identity provider's keys cannot be fetched");
            let error = error.at_endpoint(|| {
                EndpointError::invalid_grant(
                    "the identity provider's keys cannot be fetched to verify the ID-JAG",
                )
            });
            Err(refused(state, Some(claimed), &error, "token"))
        }
    }
}

/// `POST /token` (OAuth 2.1 §3.2): 200 with the tokens, `Cache-Control: no-store`; errors per
/// RFC 6749 §5.2, `invalid_client` as 401 with `WWW-Authenticate`.
pub(crate) async fn token(
    State(state): State<Arc<AppState>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Resolved {
        request,
        claimed,
        client,
    } = match parse_and_resolve::<TokenRequest>(&state, peer, &headers, &body).await {
        Ok(resolved) => resolved,
        Err(refusal) => return refusal,
    };
    // RFC 9449 §4.1: the proofs, as sent; the engine refuses more than one. A value that is not
    // text is passed as empty, which no proof is.
    let proofs = headers.get_all(DPOP);
    let dpop_request = proofs.iter().next().is_some();
    let mut request = request.with_dpop_headers(
        proofs
            .iter()
            .map(|value| value.to_str().unwrap_or_default()),
    );
    if let Err(refusal) = trusted_issuer(&state, &mut request, &claimed).await {
        return refusal;
    }
    let key = state.key_ring();
    if request.upstream_audience().is_some() {
        return upstream_exchange(&state, request, client, &claimed, &key).await;
    }
    match state
        .engine
        .token(
            request,
            client,
            &gatehouse_engine::ServerKeys {
                signing: key.current(),
                verifying: key.verifying(),
            },
            &mut OsRandom,
            now(),
        )
        .await
    {
        Ok(issued) => {
            let mut response = crate::respond::json(
                StatusCode::OK,
                serde_json::to_string(&issued.response).unwrap_or_default(),
            );
            state.events.emit(token_issued(issued));
            if dpop_request {
                offer_nonce(&state, &mut response);
            }
            response
        }
        Err(error) => {
            let mut response = refused(&state, Some(&claimed), &error, "token");
            if dpop_request || *error.code() == gatehouse_types::ErrorCode::UseDpopNonce {
                offer_nonce(&state, &mut response);
            }
            response
        }
    }
}

/// RFC 8693 with `audience=upstream:{id}`: the engine checks the exchange as any other, then
/// the answer is the person's fresh access token at that identity provider, from the vault
/// (`keep_tokens`). Not a token of this server: it is not recorded, and carries the provider's
/// own audience and lifetime.
async fn upstream_exchange(
    state: &AppState,
    request: TokenRequest,
    client: Option<gatehouse_engine::store::ClientRecord>,
    claimed: &ClientId,
    key: &crate::keys::KeyRing,
) -> Response {
    let checked = state
        .engine
        .upstream_exchange(
            request,
            client,
            &gatehouse_engine::ServerKeys {
                signing: key.current(),
                verifying: key.verifying(),
            },
            now(),
        )
        .await;
    let exchange = match checked {
        Ok(exchange) => exchange,
        Err(error) => return refused(state, Some(claimed), &error, "token"),
    };
    let refusal = |code: gatehouse_types::ErrorCode, description: &str| {
        refused(
            state,
            Some(claimed),
            &EndpointError::new(code, description),
            "token",
        )
    };
    match state
        .upstream_tokens
        .access_token(&exchange.subject, &exchange.provider)
        .await
    {
        Ok(Some(token)) => {
            state.events.emit(Event::TokenIssued {
                grant_type: gatehouse_types::GrantType::TokenExchange
                    .as_str()
                    .to_owned(),
                client_id: exchange.client.client_id.as_str().to_owned(),
                subject: exchange.subject,
                scope: String::new(),
                audience: vec![format!(
                    "{}{}",
                    gatehouse_engine::UPSTREAM_AUDIENCE_PREFIX,
                    exchange.provider
                )],
                jti: String::new(),
            });
            // §2.2.1: the issued token and its type; `Cache-Control: no-store` as every token
            // answer (RFC 6749 §5.1).
            crate::respond::json(
                StatusCode::OK,
                serde_json::json!({
                    "access_token": token.as_str(),
                    "issued_token_type": gatehouse_engine::ACCESS_TOKEN_TYPE,
                    "token_type": "Bearer",
                })
                .to_string(),
            )
        }
        // §2.2.2: unwilling or unable to issue a token for this target.
        Ok(None) => refusal(
            gatehouse_types::ErrorCode::InvalidTarget,
            "no token of this person is kept at that identity provider (they did not sign in through it, or it has no keep_tokens)",
        ),
        // §2.2.2: the subject token is unacceptable: its person was removed at the provider.
        Err(crate::UpstreamTokenError::Revoked(_)) => refusal(
            gatehouse_types::ErrorCode::InvalidRequest,
            "the identity provider no longer vouches for the subject token's person; their grants are revoked",
        ),
        Err(_) => refusal(
            gatehouse_types::ErrorCode::TemporarilyUnavailable,
            "the person's token at the identity provider cannot be refreshed now; try again",
        ),
    }
}

/// The `DPoP` request header (RFC 9449 §4.1).
const DPOP: &str = "dpop";

/// `DPoP-Nonce` with the token endpoint's current nonce, when nonces are required (RFC 9449 §8:
/// with `use_dpop_nonce`, and on any other answer so that a client moves on to the next step's
/// nonce without a refusal).
fn offer_nonce(state: &AppState, response: &mut Response) {
    if let Some(nonces) = &state.engine.config().dpop.nonces
        && let Ok(value) = HeaderValue::from_str(&nonces.current(now().as_secs()))
    {
        response.headers_mut().insert("dpop-nonce", value);
    }
}

/// The `token_issued` event: from the claims the engine signed.
fn token_issued(issued: Issued) -> Event {
    let claims = issued.claims;
    Event::TokenIssued {
        grant_type: issued.grant_type.as_str().to_owned(),
        client_id: issued.client.client_id.as_str().to_owned(),
        subject: claims.sub,
        scope: claims.scope.unwrap_or_default(),
        audience: claims.aud.iter().map(ToString::to_string).collect(),
        jti: claims.jti,
    }
}

/// A refused request: its events (reuse detections, failed client authentication), a log line,
/// and the OAuth error. `claimed` is the client the request named, if it got that far.
fn refused(
    state: &AppState,
    claimed: Option<&ClientId>,
    error: &EndpointError,
    endpoint: &str,
) -> Response {
    tracing::info!(error = %error.error_code(), endpoint, "request refused");
    let client_id = claimed.map(|id| id.as_str().to_owned());
    if let Some((reuse, family)) = error.reuse() {
        let credential = reuse.as_str();
        tracing::warn!(
            credential,
            grant = family.as_str(),
            "a used credential came back; its grant is revoked"
        );
        state.events.emit(Event::ReuseDetected {
            credential: credential.to_owned(),
            client_id,
            grant: family.as_str().to_owned(),
        });
    } else if error.error_code() == gatehouse_types::ErrorCode::InvalidClient {
        state.events.emit(Event::ClientAuthenticationFailed {
            client_id,
            endpoint: endpoint.to_owned(),
        });
    }
    oauth_error(error, error.www_authenticate())
}

/// `POST /introspect` (RFC 7662): the caller must authenticate as a client (§2.1).
pub(crate) async fn introspect(
    State(state): State<Arc<AppState>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Resolved {
        request,
        claimed,
        client,
    } = match parse_and_resolve::<IntrospectRequest>(&state, peer, &headers, &body).await {
        Ok(resolved) => resolved,
        Err(refusal) => return refusal,
    };
    let keys = state.key_ring();
    match state
        .engine
        .introspect(request, client, keys.verifying(), now())
        .await
    {
        Ok(response) => crate::respond::json(StatusCode::OK, response.to_json()),
        Err(error) => refused(&state, Some(&claimed), &error, "introspect"),
    }
}

/// `POST /revoke` (RFC 7009): 200 also for unknown tokens (§2.2).
pub(crate) async fn revoke(
    State(state): State<Arc<AppState>>,
    peer: Option<Extension<Peer>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Resolved {
        request,
        claimed,
        client,
    } = match parse_and_resolve::<RevokeRequest>(&state, peer, &headers, &body).await {
        Ok(resolved) => resolved,
        Err(refusal) => return refusal,
    };
    let keys = state.key_ring();
    match state
        .engine
        .revoke(request, client, keys.verifying(), now())
        .await
    {
        Ok(_) => {
            state.events.emit(Event::TokenRevoked {
                client_id: Some(claimed.as_str().to_owned()),
            });
            let mut response = StatusCode::OK.into_response();
            no_store(&mut response);
            response
        }
        Err(error) => refused(&state, Some(&claimed), &error, "revoke"),
    }
}
