//! Browser sessions, and CSRF protection for the page forms.
//!
//! Every browser that sees a page gets one cookie: a random 256-bit session id, with a MAC under
//! a key derived from the encryption key (so every instance sharing that key recognises it, and a
//! made-up id costs no database lookup). Signing in stores a row for a *new* id (no session
//! fixation) holding the subject and expiry, keyed by the id's SHA-256; signing out, deleting the
//! user or changing their password deletes the row, which ends the session on every instance at
//! once. An id with no row is a browser that has not signed in.
//!
//! A form's CSRF token is a MAC of the session id, minted and checked by the server. Planting a
//! cookie does not help an attacker: a token they obtained is bound to their own session id, and
//! they cannot compute one for an id they planted without the key. Cookies are not isolated by
//! port (RFC 6265 §8.5), so on a loopback `http` issuer a page on another local port could plant
//! a whole session cookie of the attacker's along with its token; the form's `Origin` (and
//! `Sec-Fetch-Site`), which browsers set and pages cannot forge, must therefore also name the
//! issuer's origin. Over https the cookie carries the `__Host-` prefix (Secure, Path=/, no
//! Domain): a sibling subdomain cannot plant it.
//!
//! The cookie is `SameSite=Lax`, not `Strict`: a person arrives at the authorization endpoint by
//! a cross-site redirect from the client, and a `Strict` cookie would be withheld there.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use base64ct::{Base64UrlUnpadded, Encoding};
use gatehouse_engine::opaque::CredentialHash;
use gatehouse_store::{ServerStore, SessionRecord};
use gatehouse_types::UnixTime;
use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::clock::random_token;

/// How long a sign-in lasts.
pub(crate) const SESSION_SECS: u64 = 12 * 3600;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// A browser's session id, as its cookie carried it (verified) or as just made.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SessionId(String);

impl SessionId {
    /// The key of its row in the store: the id itself never reaches the database.
    pub(crate) fn hash(&self) -> CredentialHash {
        CredentialHash::of(&self.0)
    }
}

impl std::fmt::Debug for SessionId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionId([redacted])")
    }
}

/// The browser's session for a page: its id and, when it was just made, the `Set-Cookie` value
/// that delivers it.
pub(crate) struct Browser {
    pub(crate) id: SessionId,
    pub(crate) set_cookie: Option<String>,
}

/// Issues and checks session cookies and CSRF tokens.
pub(crate) struct Sessions {
    key: Zeroizing<[u8; 32]>,
    secure: bool,
    /// The issuer's origin (`scheme://host[:port]`), which page forms must come from.
    origin: String,
}

impl Sessions {
    /// `key` signs ids and tokens; `issuer` says whether cookies are `Secure` and which origin
    /// forms must come from.
    pub(crate) fn new(key: Zeroizing<[u8; 32]>, issuer: &str) -> Self {
        let origin = gatehouse_types::uri::origin(issuer);
        Self {
            key,
            secure: issuer.starts_with("https://"),
            origin: origin.to_ascii_lowercase(),
        }
    }

    fn cookie_name(&self) -> &'static str {
        if self.secure {
            "__Host-gatehouse-session"
        } else {
            "gatehouse-session"
        }
    }

    fn mac(&self, purpose: &[u8], id: &str) -> Vec<u8> {
        match HmacSha256::new_from_slice(self.key.as_ref()) {
            Ok(mut mac) => {
                mac.update(purpose);
                mac.update(id.as_bytes());
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }

    fn set_cookie(&self, id: &SessionId) -> String {
        let value = format!(
            "{}.{}",
            id.0,
            Base64UrlUnpadded::encode_string(&self.mac(b"session id\0", &id.0))
        );
        let secure = if self.secure { "; Secure" } else { "" };
        format!(
            "{}={value}; Path=/; HttpOnly; SameSite=Lax; Max-Age={SESSION_SECS}{secure}",
            self.cookie_name()
        )
    }

    /// The session id the request's cookie carries, if its MAC is right.
    pub(crate) fn id(&self, headers: &HeaderMap) -> Option<SessionId> {
        let value = cookie(headers, self.cookie_name())?;
        let (id, mac) = value.split_once('.')?;
        let mac = Base64UrlUnpadded::decode_vec(mac).ok()?;
        bool::from(self.mac(b"session id\0", id).ct_eq(&mac)).then(|| SessionId(id.to_owned()))
    }

    /// The browser's session, or a new one (for a page that carries a form).
    pub(crate) fn browser(&self, headers: &HeaderMap) -> Browser {
        match self.id(headers) {
            Some(id) => Browser {
                id,
                set_cookie: None,
            },
            None => self.fresh(),
        }
    }

    /// A new session id with its cookie.
    pub(crate) fn fresh(&self) -> Browser {
        let id = SessionId(random_token(32));
        Browser {
            set_cookie: Some(self.set_cookie(&id)),
            id,
        }
    }

    /// The CSRF token of the forms shown to the browser with session `id`.
    pub(crate) fn csrf_token(&self, id: &SessionId) -> String {
        Base64UrlUnpadded::encode_string(&self.mac(b"csrf token\0", &id.0))
    }

    /// Whether a form submission may be acted on: it comes from the issuer's origin (when the
    /// browser says where it comes from) and carries the token of the session its cookie names.
    pub(crate) fn csrf_ok(&self, headers: &HeaderMap, submitted: Option<&str>) -> bool {
        if !self.same_origin(headers) {
            return false;
        }
        match (self.id(headers), submitted) {
            (Some(id), Some(submitted)) => {
                bool::from(self.csrf_token(&id).as_bytes().ct_eq(submitted.as_bytes()))
            }
            _ => false,
        }
    }

    /// `Origin` (every browser sends it on a form POST) must be the issuer's, and
    /// `Sec-Fetch-Site`, where sent, `same-origin`. A request with neither comes from something
    /// other than a browser, which cannot carry a victim's cookie.
    fn same_origin(&self, headers: &HeaderMap) -> bool {
        let origin_ok = headers.get("origin").is_none_or(|origin| {
            origin
                .to_str()
                .is_ok_and(|origin| origin.eq_ignore_ascii_case(&self.origin))
        });
        let site_ok = headers
            .get("sec-fetch-site")
            .is_none_or(|site| site.as_bytes().eq_ignore_ascii_case(b"same-origin"));
        origin_ok && site_ok
    }

    /// Signs `subject` in: a new session (never the one the browser had, so an id planted before
    /// sign-in is worth nothing after it), stored; its id and cookie.
    pub(crate) async fn sign_in(
        &self,
        store: &impl ServerStore,
        subject: &str,
        now: UnixTime,
    ) -> Result<Browser, gatehouse_engine::store::StoreError> {
        let browser = self.fresh();
        store
            .insert_session(SessionRecord {
                hash: browser.id.hash(),
                subject: subject.to_owned(),
                created_at: now,
                expires_at: now.saturating_add_secs(SESSION_SECS),
            })
            .await?;
        Ok(browser)
    }

    /// Who the request's session is signed in as, if anyone.
    pub(crate) async fn subject(
        &self,
        store: &impl ServerStore,
        headers: &HeaderMap,
        now: UnixTime,
    ) -> Option<String> {
        let id = self.id(headers)?;
        match store.session(&id.hash(), now).await {
            Ok(session) => session.map(|session| session.subject),
            Err(error) => {
                tracing::warn!(%error, "could not read a session");
                None
            }
        }
    }

    /// Ends the request's session on every instance; a new, signed-out one for the browser.
    pub(crate) async fn sign_out(&self, store: &impl ServerStore, headers: &HeaderMap) -> Browser {
        if let Some(id) = self.id(headers)
            && let Err(error) = store.delete_session(&id.hash()).await
        {
            tracing::warn!(%error, "could not end a session");
        }
        self.fresh()
    }
}

/// The value of cookie `name`.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use gatehouse_store::MemoryBackend;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        headers
    }

    fn cookie_pair(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap_or_default().to_owned()
    }

    fn sessions() -> Sessions {
        Sessions::new(Zeroizing::new([1; 32]), "http://127.0.0.1:8080")
    }

    #[tokio::test]
    async fn a_session_is_accepted_until_it_ends_and_only_if_genuine() {
        let store = MemoryBackend::new();
        let sessions = sessions();
        let now = UnixTime::from_secs(1_000_000);
        let browser = sessions.sign_in(&store, "alice", now).await.unwrap();
        let set = browser.set_cookie.unwrap();
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax"),
            "{set}"
        );
        let jar = headers(&[("cookie", &cookie_pair(&set))]);
        assert_eq!(
            sessions.subject(&store, &jar, now).await.as_deref(),
            Some("alice")
        );
        assert_eq!(
            sessions
                .subject(&store, &jar, now.saturating_add_secs(SESSION_SECS))
                .await,
            None
        );
        let other_key = Sessions::new(Zeroizing::new([2; 32]), "http://127.0.0.1:8080");
        assert_eq!(other_key.subject(&store, &jar, now).await, None);
        // Signing out ends it, whoever kept a copy of the cookie.
        sessions.sign_out(&store, &jar).await;
        assert_eq!(sessions.subject(&store, &jar, now).await, None);
    }

    #[test]
    fn https_cookies_use_the_host_prefix_and_secure() {
        let sessions = Sessions::new(Zeroizing::new([1; 32]), "https://auth.example.com/tenant");
        let set = sessions.fresh().set_cookie.unwrap();
        assert!(
            set.starts_with("__Host-gatehouse-session=") && set.ends_with("; Secure"),
            "{set}"
        );
        assert_eq!(sessions.origin, "https://auth.example.com");
    }

    #[test]
    fn rfc6265_section_8_5_csrf_tokens_are_minted_by_the_server_and_bound_to_the_session() {
        let sessions = sessions();
        let browser = sessions.fresh();
        let jar = cookie_pair(&browser.set_cookie.unwrap());
        let token = sessions.csrf_token(&browser.id);
        assert!(sessions.csrf_ok(&headers(&[("cookie", &jar)]), Some(&token)));
        assert!(!sessions.csrf_ok(&headers(&[("cookie", &jar)]), None));
        // The old double-submit flaw: any value in both cookie and field passed.
        let planted = "A".repeat(43);
        let forged_cookie = format!("gatehouse-session={planted}.{planted}");
        assert!(!sessions.csrf_ok(&headers(&[("cookie", &forged_cookie)]), Some(&planted)));
        // A token of another session does not fit this one.
        let other = sessions.fresh();
        assert!(!sessions.csrf_ok(
            &headers(&[("cookie", &jar)]),
            Some(&sessions.csrf_token(&other.id))
        ));
        // A form posted from another origin (another local port) is refused, token or not.
        for (name, value) in [
            ("origin", "http://127.0.0.1:9999"),
            ("origin", "null"),
            ("sec-fetch-site", "same-site"),
            ("sec-fetch-site", "cross-site"),
        ] {
            assert!(
                !sessions.csrf_ok(&headers(&[("cookie", &jar), (name, value)]), Some(&token)),
                "{name}: {value}"
            );
        }
        assert!(sessions.csrf_ok(
            &headers(&[
                ("cookie", &jar),
                ("origin", "http://127.0.0.1:8080"),
                ("sec-fetch-site", "same-origin")
            ]),
            Some(&token)
        ));
    }

    #[tokio::test]
    async fn signing_in_never_keeps_the_session_id_the_browser_brought() {
        let store = MemoryBackend::new();
        let sessions = sessions();
        let planted = sessions.fresh();
        let signed_in = sessions
            .sign_in(&store, "alice", UnixTime::from_secs(1))
            .await
            .unwrap();
        assert_ne!(planted.id, signed_in.id);
        let jar = headers(&[("cookie", &cookie_pair(&planted.set_cookie.unwrap()))]);
        assert_eq!(
            sessions.subject(&store, &jar, UnixTime::from_secs(1)).await,
            None
        );
    }
}
