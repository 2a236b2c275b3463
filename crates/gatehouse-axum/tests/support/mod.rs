//! What the HTTP tests share: the `--demo` configuration over a memory store, either served on a
//! free loopback port (`start`, `serve`: for tests about serving itself) or driven in process
//! through its router (`oneshot::App`: for tests about what an endpoint answers); the flow's
//! constants; and readers of what the pages and redirects carry (cookies, CSRF tokens, query
//! parameters).

#![allow(
    dead_code,
    unreachable_pub,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

pub mod oneshot;

use std::collections::HashMap;
use std::net::SocketAddr;

use axum::http::HeaderMap;
use axum::http::header::SET_COOKIE;
use gatehouse_axum::{Config, Extensions, Gatehouse, LoginMode, StartError};
use gatehouse_store::sealing::EncryptionKey;
use gatehouse_store::{AnyStore, MemoryBackend, ServerStore, UserRecord};

pub const REDIRECT: &str = "http://127.0.0.1:33418/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
pub const FORM: &str = "application/x-www-form-urlencoded";

/// A server on a memory store, or why it would not start.
pub async fn build(config: Config) -> Result<Gatehouse, StartError> {
    build_with(config, Extensions::default()).await
}

/// [`build`] with `extensions` (hooks, an authenticator).
pub async fn build_with(config: Config, extensions: Extensions) -> Result<Gatehouse, StartError> {
    Gatehouse::with_store(
        config,
        AnyStore::Memory(Box::new(MemoryBackend::new())),
        EncryptionKey::generate().unwrap(),
        extensions,
    )
    .await
}

/// The `--demo` configuration for `listen` on a memory store, auto-approving for `alice`.
pub fn config(listen: SocketAddr) -> Config {
    let mut config = Config::demo(listen);
    config.database = gatehouse_store::DatabaseUrl::Memory;
    config.login.mode = LoginMode::AutoApprove;
    config.login.auto_approve_subject = "alice".into();
    config
}

/// The `--demo` configuration on a free loopback port, auto-approving for `alice`, without
/// rate limits, changed by `edit` (which gets the base URL); served in the background.
/// Returns the base URL.
pub async fn serve(edit: impl FnOnce(&mut Config, &str)) -> String {
    start(edit).await.0
}

/// [`serve`], also returning the server (for its store).
pub async fn start(edit: impl FnOnce(&mut Config, &str)) -> (String, Gatehouse) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let base = format!("http://{address}");
    let mut config = config(address);
    config.rate_limits.enabled = false;
    edit(&mut config, &base);
    let http = config.http.clone();
    let gatehouse = build(config).await.unwrap();
    let router = gatehouse.router();
    // The server as `gatehouse serve` runs it: timeouts, connection cap, peer addresses.
    tokio::spawn(async move {
        gatehouse_axum::serve(listener, router, &http, std::future::pending())
            .await
            .unwrap()
    });
    (base, gatehouse)
}

/// A client that does not follow redirects (the tests read `Location`).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// A form body.
pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The query parameters of `url` (a redirect's `Location`, say).
pub fn query(url: &str) -> HashMap<String, String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    gatehouse_types::form::FormParams::parse(query.as_bytes())
        .unwrap()
        .iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The session cookie a response sets, as `name=value` for a `Cookie` header.
pub fn session_cookie(headers: &HeaderMap) -> String {
    headers[SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

/// The CSRF token of the first form on a page.
pub fn form_token(page: &str) -> String {
    form_value(page, "csrf")
}

/// The value of the first field `name` on a page.
pub fn form_value(page: &str, name: &str) -> String {
    page.split(&format!("name=\"{name}\" value=\""))
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no field {name} in {page}"))
        .to_owned()
}

/// Adds the user `name`, who signs in with `password`.
pub async fn add_user(gatehouse: &Gatehouse, name: &str, password: &str) {
    gatehouse
        .store()
        .add_user(UserRecord {
            name: name.into(),
            password_hash: gatehouse_store::password::hash(password).unwrap(),
            created_at: gatehouse_axum::now(),
        })
        .await
        .unwrap();
}
