//! The authorization endpoint (OAuth 2.1 §4.1.1) and the pages in front of it.
//!
//! The pages keep no server-side state: each form carries the original authorization request
//! as hidden fields, and every submission is validated by the engine again from scratch, so a
//! tampered field is just another request. What the forms add (`gatehouse_action`, `csrf`,
//! `username`, `password`) is removed before the engine sees the request.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use gatehouse_engine::store::ClientRecord;
use gatehouse_engine::{AuthorizationRequest, AuthorizeError, requested_client};
use gatehouse_store::{Consent, ServerStore};
use gatehouse_types::form::{FormParams, encode};
use gatehouse_types::{ClientId, UnixTime};

use crate::clients::Unresolved;
use crate::clock::{OsRandom, now};
use crate::config::LoginMode;
use crate::events::Event;
use crate::federation::{self, Return};
use crate::pages::{ConsentPage, Message, message_page, render};
use crate::respond::{page, see_other};
use crate::session::Browser;
use crate::signin::{self, Attempt};
use crate::state::AppState;

/// Form fields that belong to the pages, not to the authorization request.
const PAGE_FIELDS: [&str; 5] = [
    "gatehouse_action",
    "csrf",
    "username",
    "password",
    "provider",
];

/// The authorization request in `form`, without the fields that belong to the pages: they are
/// never the client's to set, and a link that carried them would otherwise reach the forms.
fn without_page_fields(form: &FormParams) -> Result<FormParams, gatehouse_types::form::FormError> {
    let pairs: Vec<(&str, &str)> = form
        .iter()
        .filter(|(name, _)| !PAGE_FIELDS.contains(name))
        .collect();
    FormParams::parse(encode(pairs).as_bytes())
}

/// What the person did on a page.
enum Step {
    /// Nothing yet: the client sent them here.
    Arrive,
    /// Submitted the sign-in form.
    SignIn { username: String, password: String },
    /// Chose to sign in through this identity provider.
    Provider(String),
    /// Chose to sign out (to sign in as someone else).
    SignOut,
    /// Allowed on the consent page.
    Approve,
    /// Denied on the consent page.
    Deny,
}

/// `GET /authorize`.
pub(crate) async fn get(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    match FormParams::parse(query.unwrap_or_default().as_bytes())
        .and_then(|form| without_page_fields(&form))
    {
        Ok(params) => handle(&state, &headers, params, Step::Arrive).await,
        Err(error) => message(
            &state,
            StatusCode::BAD_REQUEST,
            "This request is malformed",
            &error.to_string(),
        ),
    }
}

/// `POST /authorize`: a client may send the authorization request as a form (OAuth 2.1
/// §4.1.1), and the sign-in and consent pages post back here.
pub(crate) async fn post(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = match FormParams::parse(&body) {
        Ok(form) => form,
        Err(error) => {
            return message(
                &state,
                StatusCode::BAD_REQUEST,
                "This request is malformed",
                &error.to_string(),
            );
        }
    };
    let field = |name: &str| form.single(name).ok().flatten().map(str::to_owned);
    let params = match without_page_fields(&form) {
        Ok(params) => params,
        Err(error) => {
            return message(
                &state,
                StatusCode::BAD_REQUEST,
                "This request is malformed",
                &error.to_string(),
            );
        }
    };
    let step = match field("gatehouse_action").as_deref() {
        None => Step::Arrive,
        Some(action) => {
            if !state.sessions.csrf_ok(&headers, field("csrf").as_deref()) {
                return message(
                    &state,
                    StatusCode::FORBIDDEN,
                    "This form expired",
                    "The form was not sent from this site, or its security token expired. Go back to the application and start again.",
                );
            }
            match action {
                "sign_in" => Step::SignIn {
                    username: field("username").unwrap_or_default(),
                    password: field("password").unwrap_or_default(),
                },
                "provider" => Step::Provider(field("provider").unwrap_or_default()),
                "sign_out" => Step::SignOut,
                "approve" => Step::Approve,
                "deny" => Step::Deny,
                _ => {
                    return message(
                        &state,
                        StatusCode::BAD_REQUEST,
                        "This request is malformed",
                        "Unknown action.",
                    );
                }
            }
        }
    };
    handle(&state, &headers, params, step).await
}

async fn handle(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    params: FormParams,
    step: Step,
) -> Response {
    // Signing out never depends on the request still being valid: the session ends first.
    let signed_out = match step {
        Step::SignOut => Some(state.sessions.sign_out(state.store(), headers).await),
        _ => None,
    };
    // Parse who the request names, resolve it once, and let the engine decide with it.
    let client = match requested_client(&params) {
        Ok(client_id) => match state.client(&client_id).await {
            Ok(client) => client,
            Err(unresolved) => return unresolved_page(state, &client_id, unresolved),
        },
        Err(error) => return refused(state, None, error),
    };
    let request = match state
        .engine
        .validate_authorization(&params, client.as_ref())
    {
        Ok(request) => request,
        Err(error) => return refused(state, client.as_ref(), error),
    };
    // A validated request has its client.
    let Some(client) = client else {
        return unresolved_page(
            state,
            request.client_id(),
            Unresolved::Store(gatehouse_engine::store::StoreError::Unavailable(
                "the client vanished".into(),
            )),
        );
    };
    if let Some(browser) = signed_out {
        return sign_in_page(state, &browser, &params, &client, None);
    }
    let now = now();
    if state.config.login.mode == LoginMode::AutoApprove {
        let subject = state.config.login.auto_approve_subject.clone();
        return approve(state, &request, &client, &subject, now, Vec::new()).await;
    }

    // The session this request signs in, if it does; otherwise the browser's own.
    let mut signed_in = None;
    let subject = match &step {
        Step::SignIn { username, password } => {
            match signin::attempt(
                state,
                username,
                password,
                Some(client.client_id.as_str()),
                now,
            )
            .await
            {
                Attempt::SignedIn { subject, browser } => {
                    signed_in = Some(browser);
                    Some(subject)
                }
                attempt => {
                    let (status, text, wait) = signin::refusal(&attempt);
                    return sign_in_page(
                        state,
                        &state.sessions.browser(headers),
                        &params,
                        &client,
                        Some((status, &text, wait)),
                    );
                }
            }
        }
        _ => signin::session_subject(state, headers, now).await,
    };
    let browser = signed_in.unwrap_or_else(|| state.sessions.browser(headers));
    if let Step::Provider(provider) = &step {
        return federation::start(
            state,
            &browser,
            provider,
            Return::Authorize(encode(params.iter())),
        )
        .await;
    }
    let Some(subject) = subject else {
        // Identity providers only, and just one: straight there, no page to click through.
        if let (LoginMode::Providers, [(provider, _)]) = (
            state.config.login.mode,
            state.federation.offered().as_slice(),
        ) {
            return federation::start(
                state,
                &browser,
                provider,
                Return::Authorize(encode(params.iter())),
            )
            .await;
        }
        return sign_in_page(state, &browser, &params, &client, None);
    };
    // The scope matrix, now that the person is known: the consent page shows, the consent
    // remembers and the code carries only what the policy lets them hold through this client.
    let groups = match state.engine.groups_for(&subject).await {
        Ok(groups) => groups,
        Err(error) => {
            tracing::warn!(%error, "could not read a person's groups");
            return message(
                state,
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again later",
                "The server could not read what it knows of you.",
            );
        }
    };
    let who = gatehouse_types::policy::Who {
        subject: &subject,
        groups: &groups,
    };
    let request = match state.engine.for_subject(&request, who) {
        Ok(request) => request,
        Err(error) => return refused(state, Some(&client), error),
    };
    let cookies: Vec<String> = browser.set_cookie.iter().cloned().collect();
    match step {
        Step::Approve => {
            for resource in request.resources() {
                let consent = Consent {
                    subject: subject.clone(),
                    client_id: client.client_id.clone(),
                    resource: resource.clone(),
                    scopes: request.scopes().clone(),
                    granted_at: now,
                };
                if let Err(error) = state.store().grant_consent(consent).await {
                    tracing::warn!(%error, "could not remember a consent");
                }
            }
            state.events.emit(Event::ConsentGiven {
                subject: subject.clone(),
                client_id: client.client_id.as_str().to_owned(),
                scope: request.scopes().to_string(),
                resources: request
                    .resources()
                    .iter()
                    .map(|r| r.as_str().to_owned())
                    .collect(),
            });
            approve(state, &request, &client, &subject, now, cookies).await
        }
        Step::Deny => {
            state.events.emit(Event::ConsentRefused {
                subject: subject.clone(),
                client_id: client.client_id.as_str().to_owned(),
            });
            see_other(&state.engine.deny(&request), &cookies)
        }
        Step::Arrive | Step::SignIn { .. } | Step::SignOut | Step::Provider(_) => {
            // RFC 8252 §8.6: a remembered consent is honoured only when the client's identity is
            // proven (a confidential client, which must authenticate to redeem the code). For a
            // public client any local program can send its client_id with its own loopback port
            // and PKCE pair, so the person is asked every time.
            let proven = client.secret_hash.is_some();
            if proven && remembered(state, &subject, &client, &request).await {
                approve(state, &request, &client, &subject, now, cookies).await
            } else {
                consent_page(state, &browser, &params, &client, &request, &subject)
            }
        }
    }
}

/// Whether `subject` already consented to this client having these scopes at every requested
/// resource.
async fn remembered(
    state: &Arc<AppState>,
    subject: &str,
    client: &ClientRecord,
    request: &AuthorizationRequest,
) -> bool {
    for resource in request.resources() {
        match state
            .store()
            .consent(subject, &client.client_id, resource)
            .await
        {
            Ok(Some(consent)) if request.scopes().is_subset(&consent.scopes) => {}
            _ => return false,
        }
    }
    true
}

async fn approve(
    state: &Arc<AppState>,
    request: &AuthorizationRequest,
    client: &ClientRecord,
    subject: &str,
    now: UnixTime,
    cookies: Vec<String>,
) -> Response {
    match state
        .engine
        .approve(request, Some(client), subject, &mut OsRandom, now)
        .await
    {
        Ok(redirect) => see_other(&redirect, &cookies),
        Err(AuthorizeError::Redirect(redirect)) => see_other(&redirect, &cookies),
        Err(other) => cannot_complete(state, &other),
    }
}

/// The page for a refusal shown to the person.
fn cannot_complete(state: &Arc<AppState>, error: &AuthorizeError) -> Response {
    let description = match error {
        AuthorizeError::Display(error) => error.description().to_owned(),
        other => other.to_string(),
    };
    message(
        state,
        StatusCode::BAD_REQUEST,
        "This request cannot be completed",
        &description,
    )
}

/// The page for a client that could not be resolved: for a `client_id` that is a metadata
/// document URL, why the document cannot be used (the engine would only call such a client
/// unknown; the person, and the client's developer, should learn what to fix); for a store that
/// failed, a request to try again. Shown, never redirected: without a usable client there is no
/// registered redirect URI (OAuth 2.1 §4.1.2.1).
fn unresolved_page(
    state: &Arc<AppState>,
    client_id: &ClientId,
    unresolved: Unresolved,
) -> Response {
    match unresolved {
        Unresolved::Document(error) => {
            tracing::info!(client_id = client_id.as_str(), %error, "client metadata document refused");
            let status = if error.is_transient() {
                StatusCode::SERVICE_UNAVAILABLE
            } else {
                StatusCode::BAD_REQUEST
            };
            message(
                state,
                status,
                "This application cannot be identified",
                &error.to_string(),
            )
        }
        Unresolved::Store(error) => {
            tracing::warn!(%error, "could not load a client");
            message(
                state,
                StatusCode::SERVICE_UNAVAILABLE,
                "Try again later",
                "The server could not load the application's registration.",
            )
        }
    }
}

/// A refused request: shown when there is nowhere safe to send the person (OAuth 2.1
/// §4.1.2.1); otherwise redirected with the error — but for a client that registered itself,
/// only after a page that says where they are going (RFC 9700 §4.11.2: no open redirector).
fn refused(
    state: &Arc<AppState>,
    client: Option<&ClientRecord>,
    error: AuthorizeError,
) -> Response {
    match error {
        AuthorizeError::Redirect(redirect) => {
            if client.is_some_and(ClientRecord::is_vetted) {
                return see_other(&redirect, &[]);
            }
            let brand = &state.config.branding;
            page(
                StatusCode::BAD_REQUEST,
                render(&Message {
                    brand,
                    title: "The application's request was refused",
                    message: "The application asked for something this server does not allow. You can return to it; it will be told what went wrong.",
                    link: Some((&redirect, "Return to the application")),
                }),
                &[],
            )
        }
        other => cannot_complete(state, &other),
    }
}

fn client_name(client: &ClientRecord) -> String {
    client
        .metadata
        .client_name()
        .map_or_else(|| client.client_id.as_str().to_owned(), str::to_owned)
}

fn hidden(params: &FormParams) -> Vec<(String, String)> {
    params
        .iter()
        .map(|(n, v)| (n.to_owned(), v.to_owned()))
        .collect()
}

fn sign_in_page(
    state: &Arc<AppState>,
    browser: &Browser,
    params: &FormParams,
    client: &ClientRecord,
    error: Option<(StatusCode, &str, Option<u64>)>,
) -> Response {
    signin::form(
        state,
        browser,
        "/authorize",
        &client_name(client),
        &hidden(params),
        error,
    )
}

fn consent_page(
    state: &Arc<AppState>,
    browser: &Browser,
    params: &FormParams,
    client: &ClientRecord,
    request: &AuthorizationRequest,
    subject: &str,
) -> Response {
    let csrf = state.sessions.csrf_token(&browser.id);
    let redirect = request.redirect_uri();
    let redirect_host = redirect
        .host()
        .map(str::to_owned)
        .unwrap_or_else(|| redirect.as_str().split(':').next().unwrap_or("").to_owned() + ":");
    let mut warnings = Vec::new();
    if redirect.is_loopback() {
        warnings.push(
            "This application receives the answer on this computer (localhost). Allow it only if you started it yourself just now.".to_owned(),
        );
    }
    if client.is_dynamically_registered() {
        warnings.push(
            "This application registered itself: its name is its own claim, not checked by this server.".to_owned(),
        );
    } else if client.is_metadata_document_client() {
        warnings.push(format!(
            "This application describes itself at {}: its name is its own claim, not checked by this server.",
            client.client_id.as_str()
        ));
    }
    let scopes: Vec<(String, Option<String>)> = request
        .scopes()
        .iter()
        .map(|s| {
            (
                s.as_str().to_owned(),
                state
                    .config
                    .scope_description(s.as_str())
                    .map(str::to_owned),
            )
        })
        .collect();
    let resource = request
        .resources()
        .iter()
        .map(|r| r.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let action = state.endpoint("/authorize");
    let html = render(&ConsentPage {
        brand: &state.config.branding,
        action: &action,
        client_name: &client_name(client),
        subject,
        resource: &resource,
        redirect_host: &redirect_host,
        warnings: &warnings,
        scopes: &scopes,
        params: &hidden(params),
        csrf: &csrf,
    });
    page(StatusCode::OK, html, browser.set_cookie.as_slice())
}

fn message(state: &Arc<AppState>, status: StatusCode, title: &str, text: &str) -> Response {
    message_page(&state.config.branding, status, title, text, &[])
}
