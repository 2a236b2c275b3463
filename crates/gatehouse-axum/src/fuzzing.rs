//! Entry points for the cargo-fuzz targets in `fuzz/` (compiled only with `--cfg fuzzing`, which
//! cargo-fuzz sets): the parsers of sign-in through an identity provider, which read what a
//! provider or a browser sends. Each function panics when an invariant breaks, which is how a
//! fuzz target reports a finding.

use base64ct::{Base64UrlUnpadded, Encoding};
use gatehouse_store::sealing::EncryptionKey;
use gatehouse_types::form::FormParams;
use gatehouse_types::uri::check_web_url;
use serde_json::{Map, Value};

use crate::federation::{MAX_STATE_LEN, Pending, Return, StateError, discovery_endpoints, excerpt};

/// The provider the callback is for.
const PROVIDER: &str = "corp";
/// The callback's time: 2027-01-15.
const NOW: u64 = 1_800_000_000;

/// The constant key `state` is sealed with (the one `pending`'s tests use).
fn key() -> EncryptionKey {
    EncryptionKey::from_bytes([7; 32])
}

/// The hex SHA-256 of the browser's session id: any 64 characters do.
fn browser() -> String {
    "b".repeat(64)
}

/// The discovery document reader (OpenID Connect Discovery §4.3): any JSON object gets an
/// answer, and the endpoints it accepts are the document's own, web URLs, for `issuer` exactly.
pub fn discovery(document: &Map<String, Value>, issuer: &str) {
    let named = |name: &str| document.get(name).and_then(Value::as_str);
    let endpoints = match discovery_endpoints(document, issuer) {
        Ok(endpoints) => endpoints,
        Err(error) => {
            let message = error.to_string();
            assert!(
                !message.chars().any(char::is_control),
                "{message:?} is not safe to show"
            );
            return;
        }
    };
    assert_eq!(named("issuer"), Some(issuer), "another issuer was accepted");
    assert_eq!(endpoints.issuer.as_deref(), Some(issuer));
    assert_eq!(
        Some(endpoints.authorization.as_str()),
        named("authorization_endpoint")
    );
    assert_eq!(Some(endpoints.token.as_str()), named("token_endpoint"));
    assert_eq!(endpoints.userinfo.as_deref(), named("userinfo_endpoint"));
    assert_eq!(
        endpoints.userinfo.is_some(),
        document.contains_key("userinfo_endpoint"),
        "a userinfo_endpoint that is not a string was ignored"
    );
    let jwks_uri = named("jwks_uri");
    for url in [
        Some(endpoints.authorization.as_str()),
        Some(endpoints.token.as_str()),
        endpoints.userinfo.as_deref(),
        jwks_uri,
    ]
    .into_iter()
    .flatten()
    {
        assert!(check_web_url(url).is_ok(), "{url:?} is not a web URL");
    }
    assert!(jwks_uri.is_some() && endpoints.keys.is_some());
    assert_eq!(
        endpoints.iss_required,
        document.get("authorization_response_iss_parameter_supported") == Some(&Value::Bool(true))
    );
}

/// The callback's query (`/login/{id}/callback`): any bytes get an answer, an `error` is shown
/// only as a short printable excerpt, and a `state` opens only when it is one sealed here for
/// this provider and browser that has not expired (which no input can forge).
pub fn callback(query: &[u8]) {
    let Ok(params) = FormParams::parse(query) else {
        return;
    };
    let field = |name: &'static str| params.single(name).ok().flatten();
    if let Some(error) = field("error") {
        let shown = excerpt(error);
        assert!(shown.chars().count() <= 64);
        assert!(
            shown.chars().all(|c| c.is_ascii_graphic() || c == ' '),
            "{shown:?} is not a printable excerpt"
        );
    }
    let _ = (field("iss"), field("code"));
    let Some(state) = field("state") else {
        return;
    };
    let key = key();
    let ours = browser();
    for browser in [Some(ours.as_str()), None] {
        match Pending::open(&key, state, PROVIDER, browser, NOW) {
            Ok(pending) => {
                assert_eq!(pending.provider, PROVIDER);
                assert!(NOW < pending.expires_at, "an expired state opened");
                assert_eq!(Some(pending.browser.as_str()), browser);
            }
            Err(error) => {
                if state.len() > MAX_STATE_LEN {
                    assert_eq!(error, StateError::Unreadable);
                }
            }
        }
    }
}

/// A sign-in in flight whose fields a fuzz target chose.
#[derive(Debug, Clone, Copy)]
pub struct PendingFields<'a> {
    /// The provider's id.
    pub provider: &'a str,
    /// The id spent once.
    pub id: &'a str,
    /// The browser's session hash.
    pub browser: &'a str,
    /// The PKCE verifier.
    pub verifier: &'a str,
    /// The nonce.
    pub nonce: &'a str,
    /// Unix seconds after which it is refused.
    pub expires_at: u64,
    /// The authorization request to return to; `None`: the connected-apps page.
    pub then: Option<&'a str>,
}

/// `state` sealed and opened: a sign-in sealed (unless too large to carry) comes back through
/// the callback's query the same, at any time before it expires, for its provider and browser
/// only, and not under another key or changed in any bit (`flip` chooses which).
pub fn pending_round_trip(fields: &PendingFields<'_>, now: u64, flip: usize) {
    let pending = Pending {
        provider: fields.provider.to_owned(),
        id: fields.id.to_owned(),
        browser: fields.browser.to_owned(),
        verifier: fields.verifier.to_owned(),
        nonce: fields.nonce.to_owned(),
        expires_at: fields.expires_at,
        then: fields.then.map_or(Return::ConnectedApps, |query| {
            Return::Authorize(query.to_owned())
        }),
    };
    assert_eq!(pending.challenge().len(), 43);
    if let Return::Authorize(query) = &pending.then
        && let Ok(params) = FormParams::parse(query.as_bytes())
    {
        let _ = params.single("client_id");
    }
    let key = key();
    let Some(state) = pending.seal(&key) else {
        let plain = serde_json::to_vec(&pending).map_or(0, |plain| plain.len());
        assert!(
            plain > MAX_STATE_LEN / 2,
            "a sign-in of {plain} bytes was not sealed"
        );
        return;
    };
    assert!(state.len() <= MAX_STATE_LEN);
    assert!(
        state
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'),
        "{state:?} is not base64url"
    );
    // It goes to the provider in a query and comes back in the callback's.
    let query = gatehouse_types::form::encode([("code", "c"), ("state", state.as_str())]);
    let params = FormParams::parse(query.as_bytes());
    let back = params
        .as_ref()
        .ok()
        .and_then(|params| params.single("state").ok().flatten());
    assert_eq!(back, Some(state.as_str()), "the state did not come back");

    let (provider, browser) = (fields.provider, fields.browser);
    let live = now < fields.expires_at;
    let opened = Pending::open(&key, &state, provider, Some(browser), now);
    if live {
        assert_eq!(opened, Ok(pending));
    } else {
        assert_eq!(opened, Err(StateError::Expired));
    }
    let other_provider = format!("{provider}!");
    assert_eq!(
        Pending::open(&key, &state, &other_provider, Some(browser), now),
        Err(StateError::OtherProvider)
    );
    if live {
        let other_browser = format!("{browser}!");
        for other in [Some(other_browser.as_str()), None] {
            assert_eq!(
                Pending::open(&key, &state, provider, other, now),
                Err(StateError::OtherBrowser)
            );
        }
    }
    let other_key = EncryptionKey::from_bytes([8; 32]);
    assert_eq!(
        Pending::open(&other_key, &state, provider, Some(browser), now),
        Err(StateError::Unreadable)
    );
    let sealed = Base64UrlUnpadded::decode_vec(&state);
    assert!(sealed.is_ok(), "{state:?} does not decode");
    let Ok(mut sealed) = sealed else {
        return;
    };
    let bit = flip % (sealed.len() * 8).max(1);
    if let Some(byte) = sealed.get_mut(bit / 8) {
        *byte ^= 1 << (bit % 8);
    }
    let changed = Base64UrlUnpadded::encode_string(&sealed);
    assert_eq!(
        Pending::open(&key, &changed, provider, Some(browser), now),
        Err(StateError::Unreadable),
        "a changed state opened"
    );
}
