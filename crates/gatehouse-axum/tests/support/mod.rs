//! What the HTTP tests of protected resources and client metadata documents share: an
//! auto-approving server on a free loopback port over a memory store, and the flow's constants.

#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use gatehouse_axum::{Config, Gatehouse, LoginMode, StartError};
use gatehouse_store::sealing::EncryptionKey;
use gatehouse_store::{AnyStore, MemoryBackend};

pub const REDIRECT: &str = "http://127.0.0.1:33418/callback";
pub const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
pub const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// A server on a memory store, or why it would not start.
pub async fn build(config: Config) -> Result<Gatehouse, StartError> {
    Gatehouse::with_store(
        config,
        AnyStore::Memory(Box::new(MemoryBackend::new())),
        EncryptionKey::generate().unwrap(),
        Default::default(),
    )
    .await
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
    let mut config = Config::demo(address);
    config.database = gatehouse_store::DatabaseUrl::Memory;
    config.login.mode = LoginMode::AutoApprove;
    config.login.auto_approve_subject = "alice".into();
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
