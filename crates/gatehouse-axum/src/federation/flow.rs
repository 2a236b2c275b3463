//! The two legs of a sign-in at an identity provider: sending the person there (an OAuth 2.1
//! authorization request with PKCE S256, `state` and, for OpenID Connect, `nonce`), and the
//! callback that brings them back (`/login/{id}/callback`): the `state` opened and spent once,
//! RFC 9207's `iss` checked, the code redeemed, the ID token verified, the person admitted, a
//! session started, and the person sent on to where they were going.
//!
//! A refusal at the callback is a page with a 4xx status and a `federated_sign_in_refused`
//! event, never a code for the client; a provider that is down or slow is a 502 page within
//! [`super::upstream::CALL_TIMEOUT`] per call.

use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_engine::Store as _;
use gatehouse_jose::{IdTokenExpectations, jws, verify_id_token};
use gatehouse_store::{IdentityRecord, ServerStore as _};
use gatehouse_types::form::FormParams;
use serde_json::{Map, Value};

use super::identity::{self, Person};
use super::pending::{Pending, Return};
use super::upstream::{Endpoints, Tokens, Upstream, UpstreamError, excerpt};
use crate::clock::now;
use crate::events::Event;
use crate::pages::message_page;
use crate::respond::see_other;
use crate::session::Browser;
use crate::state::AppState;

/// The issuer of the spent-once records of `state` ids, apart from assertion issuers.
const SPENT_STATES: &str = "gatehouse:federation-state";

/// Sends the person in `browser` to sign in at `provider`, to come back to `then`.
pub(crate) async fn start(
    state: &Arc<AppState>,
    browser: &Browser,
    provider: &str,
    then: Return,
) -> Response {
    let cookies: Vec<String> = browser.set_cookie.iter().cloned().collect();
    let Some(upstream) = state.federation.signing_in(provider) else {
        return message(
            state,
            StatusCode::BAD_REQUEST,
            "Unknown sign-in service",
            "This server offers no such sign-in service.",
            &cookies,
        );
    };
    let endpoints = match upstream.endpoints(&state.federation.http).await {
        Ok(endpoints) => endpoints,
        Err(error) => return unavailable(state, upstream, &error, &cookies),
    };
    let pending = Pending::new(provider, browser.id.hash().to_hex(), then, now().as_secs());
    let Some(sealed) = pending.seal(&state.federation.sealer) else {
        return message(
            state,
            StatusCode::BAD_REQUEST,
            "This request is too large",
            "The application's request is too large to carry through the sign-in service.",
            &cookies,
        );
    };
    match authorization_url(state, upstream, &endpoints, &pending, &sealed) {
        Some(url) => see_other(&url, &cookies),
        None => unavailable(
            state,
            upstream,
            &UpstreamError::Unavailable("its authorization endpoint is not a URL".into()),
            &cookies,
        ),
    }
}

/// The authorization request to the provider (RFC 6749 §4.1.1, RFC 7636 §4.3, OpenID Connect
/// Core §3.1.2.1), with the operator's extra parameters.
fn authorization_url(
    state: &AppState,
    upstream: &Upstream,
    endpoints: &Endpoints,
    pending: &Pending,
    sealed: &str,
) -> Option<String> {
    let mut url = url::Url::parse(&endpoints.authorization).ok()?;
    let challenge = pending.challenge();
    let redirect_uri = callback_uri(state, &upstream.config.id);
    let scope = upstream.scopes();
    {
        let mut query = url.query_pairs_mut();
        query
            .append_pair("response_type", "code")
            .append_pair("client_id", upstream.config.client_id.as_deref()?)
            .append_pair("redirect_uri", &redirect_uri)
            .append_pair("state", sealed)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        if !scope.is_empty() {
            query.append_pair("scope", &scope);
        }
        if upstream.config.kind == "oidc" {
            query.append_pair("nonce", &pending.nonce);
        }
        for (name, value) in &upstream.config.authorization_params {
            query.append_pair(name, value);
        }
    }
    Some(url.into())
}

/// Where the provider sends the person back: `{issuer}/login/{id}/callback`.
pub(crate) fn callback_uri(state: &AppState, provider: &str) -> String {
    state.endpoint(&format!("/login/{provider}/callback"))
}

/// `GET /login/{id}/callback`.
pub(crate) async fn callback(
    State(state): State<Arc<AppState>>,
    Path(provider): Path<String>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(upstream) = state.federation.signing_in(&provider) else {
        return message(
            &state,
            StatusCode::NOT_FOUND,
            "Unknown sign-in service",
            "This server offers no such sign-in service.",
            &[],
        );
    };
    match complete(&state, upstream, &headers, query.as_deref().unwrap_or("")).await {
        Ok((person, then, tokens)) => signed_in(&state, upstream, &person, then, &tokens).await,
        Err(Failure::Refused(status, reason)) => {
            state.events.emit(Event::FederatedSignInRefused {
                provider: provider.clone(),
                reason: reason.clone(),
            });
            message(
                &state,
                status,
                "The sign-in was refused",
                &format!("{reason}. Go back to the application and start again."),
                &[],
            )
        }
        Err(Failure::Unavailable(error)) => unavailable(&state, upstream, &error, &[]),
        Err(Failure::Store) => message(
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again later",
            "The sign-in could not be recorded.",
            &[],
        ),
    }
}

enum Failure {
    /// A 4xx page and an event.
    Refused(StatusCode, String),
    /// The provider failed: a 502 page.
    Unavailable(UpstreamError),
    /// This server's store failed: a 503 page.
    Store,
}

fn refused(reason: impl ToString) -> Failure {
    Failure::Refused(StatusCode::BAD_REQUEST, reason.to_string())
}

/// A provider's refusal is the person's refusal page; its failure, the outage page.
fn failure(error: UpstreamError) -> Failure {
    match error {
        UpstreamError::Refused(_) | UpstreamError::GrantRefused(_) => refused(error),
        UpstreamError::Unavailable(_) => Failure::Unavailable(error),
    }
}

/// Everything between the callback's query and a person admitted.
async fn complete(
    state: &AppState,
    upstream: &Upstream,
    headers: &HeaderMap,
    query: &str,
) -> Result<(Person, Return, Tokens), Failure> {
    let params = FormParams::parse(query.as_bytes())
        .map_err(|e| refused(format!("the callback is malformed ({e})")))?;
    let field = |name: &'static str| params.single(name).ok().flatten();
    let now = now();
    let browser = state.sessions.id(headers).map(|id| id.hash().to_hex());
    let sealed = field("state").ok_or_else(|| refused("the callback carries no state"))?;
    let pending = Pending::open(
        &state.federation.sealer,
        sealed,
        &upstream.config.id,
        browser.as_deref(),
        now.as_secs(),
    )
    .map_err(refused)?;
    // RFC 9700 §4.7.1: a state is good once. Spent before anything else is done with the
    // answer, so that a replayed callback (even one whose first use failed) is refused.
    match state
        .store()
        .use_assertion(
            SPENT_STATES,
            &pending.id,
            gatehouse_types::UnixTime::from_secs(pending.expires_at.saturating_add(60)),
        )
        .await
    {
        Ok(true) => {}
        Ok(false) => return Err(refused("this sign-in was already completed")),
        Err(error) => {
            tracing::warn!(%error, "could not record a sign-in's state");
            return Err(Failure::Store);
        }
    }
    let endpoints = upstream
        .endpoints(&state.federation.http)
        .await
        .map_err(Failure::Unavailable)?;
    // RFC 9207 §2.4: the `iss` of the answer must be the provider's, and is required when the
    // provider says it sends one (mix-up defence).
    match (field("iss"), endpoints.issuer.as_deref()) {
        (Some(iss), Some(issuer)) if iss != issuer => {
            return Err(refused(
                "the answer names another identity provider (RFC 9207 iss)",
            ));
        }
        (None, Some(_)) if endpoints.iss_required => {
            return Err(refused(
                "the answer does not name its identity provider (RFC 9207 iss)",
            ));
        }
        _ => {}
    }
    if let Some(error) = field("error") {
        return Err(Failure::Refused(
            StatusCode::FORBIDDEN,
            format!(
                "the identity provider did not sign you in ({})",
                excerpt(error)
            ),
        ));
    }
    let code = field("code").ok_or_else(|| refused("the callback carries no code"))?;
    let http = &state.federation.http;
    let tokens = upstream
        .redeem(
            http,
            &endpoints,
            code,
            &callback_uri(state, &upstream.config.id),
            &pending.verifier,
        )
        .await
        .map_err(failure)?;
    let id_token = match (&tokens.id_token, &endpoints.keys) {
        (Some(token), Some(keys)) => {
            Some(verify(state, upstream, &endpoints, keys, token, &pending.nonce).await?)
        }
        (None, Some(_)) => {
            return Err(refused(
                "the identity provider sent no ID token (OpenID Connect Core section 3.1.3.3)",
            ));
        }
        _ => None,
    };
    let empty = Map::new();
    let id_claims = id_token.as_ref().map_or(&empty, |token| token.claims());
    let mut userinfo = Map::new();
    let mut github_email = None;
    if upstream.config.kind == "github" {
        userinfo = object(
            upstream
                .get_json(
                    http,
                    endpoints.userinfo.as_deref().unwrap_or_default(),
                    &tokens.access_token,
                    "GitHub's /user",
                )
                .await
                .map_err(failure)?,
        );
        github_email = upstream
            .github_email(http, &tokens.access_token)
            .await
            .map_err(failure)?;
    } else if let Some(url) = &endpoints.userinfo
        && (id_token.is_none()
            || identity::needs_more(
                &upstream.config,
                id_claims,
                state.engine.config().scope_policy.uses_groups(),
            ))
    {
        userinfo = object(
            upstream
                .get_json(http, url, &tokens.access_token, "its userinfo endpoint")
                .await
                .map_err(failure)?,
        );
        // OpenID Connect Core §5.3.2: "The sub Claim in the UserInfo Response MUST be verified
        // to exactly match the sub Claim in the ID Token; if they do not match, the UserInfo
        // Response values MUST NOT be used."
        if let Some(token) = &id_token
            && userinfo.get("sub").and_then(Value::as_str) != Some(token.subject())
        {
            return Err(refused(
                "the userinfo answer is about someone else (OpenID Connect Core section 5.3.2)",
            ));
        }
    }
    let person = identity::admit(&upstream.config, &[id_claims, &userinfo], github_email)
        .map_err(|e| Failure::Refused(StatusCode::FORBIDDEN, e.to_string()))?;
    Ok((person, pending.then, tokens))
}

/// The ID token, verified with the provider's keys (fetched again once if it names a key the
/// cached set lacks: the provider may have rotated).
async fn verify(
    state: &AppState,
    upstream: &Upstream,
    endpoints: &Endpoints,
    keys: &gatehouse_guard::RemoteJwks,
    token: &str,
    nonce: &str,
) -> Result<gatehouse_jose::IdToken, Failure> {
    use gatehouse_guard::KeySource as _;
    let issuer = endpoints.issuer.clone().unwrap_or_default();
    let expected = IdTokenExpectations::new(
        issuer,
        upstream.config.client_id.clone().unwrap_or_default(),
        nonce,
    )
    .with_leeway(state.config.guard.leeway_secs);
    let unavailable = |e: gatehouse_guard::KeySourceError| {
        Failure::Unavailable(UpstreamError::Unavailable(format!(
            "its keys cannot be fetched ({e})"
        )))
    };
    let mut set = keys.keys().await.map_err(unavailable)?;
    let kid = jws::parse(token)
        .ok()
        .and_then(|parsed| parsed.header().kid().map(str::to_owned));
    if let Some(kid) = &kid
        && !set.contains_kid(kid)
    {
        set = keys
            .refresh_for_unknown_kid(Some(kid))
            .await
            .map_err(unavailable)?;
    }
    verify_id_token(token, &set, &expected, now().as_secs())
        .map_err(|e| refused(format!("the ID token is not valid: {e}")))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(object) => object,
        _ => Map::new(),
    }
}

/// Records what the provider said of the person (and, with `keep_tokens`, its tokens, sealed),
/// starts their session and sends them on.
async fn signed_in(
    state: &Arc<AppState>,
    upstream: &Upstream,
    person: &Person,
    then: Return,
    tokens: &Tokens,
) -> Response {
    // Their groups as of now, for the scope matrix: a group they left at the provider is gone
    // from their next token.
    let identity = IdentityRecord {
        subject: person.subject.clone(),
        groups: person.groups.clone(),
        sealed_tokens: if upstream.config.keep_tokens {
            state.upstream_tokens.seal(&person.subject, tokens)
        } else {
            None
        },
        version: 0,
        updated_at: now(),
    };
    if let Err(error) = state.store().put_identity(identity).await {
        tracing::warn!(%error, "could not record a person's groups");
        return message(
            state,
            StatusCode::SERVICE_UNAVAILABLE,
            "Try again later",
            "The sign-in could not be recorded.",
            &[],
        );
    }
    let browser = match state
        .sessions
        .sign_in(state.store(), &person.subject, now())
        .await
    {
        Ok(browser) => browser,
        Err(error) => {
            tracing::warn!(%error, "could not store a session");
            return message(
                state,
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again later",
                "The sign-in could not be recorded.",
                &[],
            );
        }
    };
    let client_id = match &then {
        Return::Authorize(query) => FormParams::parse(query.as_bytes())
            .ok()
            .and_then(|params| params.single("client_id").ok().flatten().map(str::to_owned)),
        Return::ConnectedApps => None,
    };
    state.events.emit(Event::SignedIn {
        subject: person.subject.clone(),
        client_id,
    });
    let cookies: Vec<String> = browser.set_cookie.iter().cloned().collect();
    let location = match then {
        Return::Authorize(query) => format!("{}?{query}", state.endpoint("/authorize")),
        Return::ConnectedApps => state.endpoint("/connected-apps"),
    };
    see_other(&location, &cookies)
}

fn unavailable(
    state: &AppState,
    upstream: &Upstream,
    error: &UpstreamError,
    cookies: &[String],
) -> Response {
    tracing::warn!(provider = upstream.config.id.as_str(), %error, "an identity provider failed");
    message(
        state,
        StatusCode::BAD_GATEWAY,
        "The sign-in service is not available",
        &format!(
            "{} cannot sign you in right now: {error}. Try again in a moment.",
            upstream.config.label()
        ),
        cookies,
    )
}

fn message(
    state: &AppState,
    status: StatusCode,
    title: &str,
    text: &str,
    cookies: &[String],
) -> Response {
    message_page(&state.config.branding, status, title, text, cookies)
}
