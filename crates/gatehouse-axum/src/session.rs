//! Who is signed in, and CSRF protection for the page forms.
//!
//! The session is a cookie holding the subject and an expiry, signed with HMAC-SHA256 under a key
//! derived from the encryption key, so every instance sharing that key accepts it and nothing is
//! stored per session. Over https the cookies carry the `__Host-` prefix (Secure, Path=/, no
//! Domain): a sibling subdomain cannot plant them.
//!
//! Forms carry a CSRF token that must equal the value of an `HttpOnly` cookie (the double-submit
//! pattern): a cross-site page can make the browser send the cookie but cannot read it to put it
//! in the form. The cookie is `SameSite=Lax`, not `Strict`: a person arrives at the
//! authorization endpoint by a cross-site redirect from the client, and a `Strict` cookie would
//! be withheld there, so every arrival would mint a new token and break forms open in other
//! tabs. The check does not depend on SameSite.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;
use base64ct::{Base64UrlUnpadded, Encoding};
use gatehouse_types::UnixTime;
use hmac::{KeyInit, Mac};
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::clock::random_token;

/// How long a sign-in lasts.
const SESSION_SECS: u64 = 12 * 3600;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// Issues and checks session and CSRF cookies.
pub(crate) struct Sessions {
    key: Zeroizing<[u8; 32]>,
    secure: bool,
}

impl Sessions {
    /// `key` signs sessions; `secure` when the issuer is https.
    pub(crate) fn new(key: Zeroizing<[u8; 32]>, secure: bool) -> Self {
        Self { key, secure }
    }

    fn session_cookie(&self) -> &'static str {
        if self.secure {
            "__Host-gatehouse-session"
        } else {
            "gatehouse-session"
        }
    }

    fn csrf_cookie(&self) -> &'static str {
        if self.secure {
            "__Host-gatehouse-csrf"
        } else {
            "gatehouse-csrf"
        }
    }

    fn attributes(&self, same_site: &str, max_age: u64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}")
    }

    fn mac(&self, payload: &[u8]) -> Vec<u8> {
        match HmacSha256::new_from_slice(self.key.as_ref()) {
            Ok(mut mac) => {
                mac.update(payload);
                mac.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    }

    /// A `Set-Cookie` value signing `subject` in until `now` + 12 hours.
    pub(crate) fn sign_in(&self, subject: &str, now: UnixTime) -> String {
        let payload = format!(
            "{}:{subject}",
            now.saturating_add_secs(SESSION_SECS).as_secs()
        );
        let value = format!(
            "{}.{}",
            Base64UrlUnpadded::encode_string(payload.as_bytes()),
            Base64UrlUnpadded::encode_string(&self.mac(payload.as_bytes()))
        );
        format!(
            "{}={value}{}",
            self.session_cookie(),
            self.attributes("Lax", SESSION_SECS)
        )
    }

    /// The signed-in subject, if the session cookie is genuine and unexpired.
    pub(crate) fn subject(&self, headers: &HeaderMap, now: UnixTime) -> Option<String> {
        let value = cookie(headers, self.session_cookie())?;
        let (payload, mac) = value.split_once('.')?;
        let payload = Base64UrlUnpadded::decode_vec(payload).ok()?;
        let mac = Base64UrlUnpadded::decode_vec(mac).ok()?;
        if !bool::from(self.mac(&payload).ct_eq(&mac)) {
            return None;
        }
        let payload = String::from_utf8(payload).ok()?;
        let (expiry, subject) = payload.split_once(':')?;
        let expiry: u64 = expiry.parse().ok()?;
        (now.as_secs() < expiry && !subject.is_empty()).then(|| subject.to_owned())
    }

    /// The CSRF token for a page: the one in the request's cookie (its lifetime renewed), or a
    /// new one, with the `Set-Cookie` value that delivers it.
    pub(crate) fn csrf_for_page(&self, headers: &HeaderMap) -> (String, String) {
        let token = match cookie(headers, self.csrf_cookie()) {
            Some(token) if token.len() >= 32 && token.len() <= 64 => token.to_owned(),
            _ => random_token(32),
        };
        let set = format!(
            "{}={token}{}",
            self.csrf_cookie(),
            self.attributes("Lax", 3600)
        );
        (token, set)
    }

    /// Whether a form's CSRF token matches the cookie.
    pub(crate) fn csrf_ok(&self, headers: &HeaderMap, submitted: Option<&str>) -> bool {
        match (cookie(headers, self.csrf_cookie()), submitted) {
            (Some(cookie), Some(submitted)) if cookie.len() >= 32 => {
                bool::from(cookie.as_bytes().ct_eq(submitted.as_bytes()))
            }
            _ => false,
        }
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

    fn headers(cookie: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            COOKIE,
            HeaderValue::from_str(cookie).unwrap_or(HeaderValue::from_static("")),
        );
        headers
    }

    fn cookie_pair(set_cookie: &str) -> String {
        set_cookie.split(';').next().unwrap_or_default().to_owned()
    }

    #[test]
    fn a_session_is_accepted_until_it_expires_and_only_if_genuine() {
        let sessions = Sessions::new(Zeroizing::new([1; 32]), false);
        let now = UnixTime::from_secs(1_000_000);
        let set = sessions.sign_in("alice", now);
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Lax"),
            "{set}"
        );
        let jar = headers(&cookie_pair(&set));
        assert_eq!(sessions.subject(&jar, now).as_deref(), Some("alice"));
        assert_eq!(
            sessions.subject(&jar, now.saturating_add_secs(SESSION_SECS)),
            None
        );
        let other_key = Sessions::new(Zeroizing::new([2; 32]), false);
        assert_eq!(other_key.subject(&jar, now), None);
        let forged = format!(
            "gatehouse-session={}.AAAA",
            Base64UrlUnpadded::encode_string(b"99999999999:admin")
        );
        assert_eq!(sessions.subject(&headers(&forged), now), None);
    }

    #[test]
    fn https_cookies_use_the_host_prefix_and_secure() {
        let sessions = Sessions::new(Zeroizing::new([1; 32]), true);
        let set = sessions.sign_in("alice", UnixTime::from_secs(1));
        assert!(
            set.starts_with("__Host-gatehouse-session=") && set.ends_with("; Secure"),
            "{set}"
        );
        let (_, set_csrf) = sessions.csrf_for_page(&HeaderMap::new());
        assert!(
            set_csrf.starts_with("__Host-gatehouse-csrf=") && set_csrf.contains("SameSite=Lax"),
            "{set_csrf}"
        );
    }

    #[test]
    fn csrf_tokens_must_match_the_cookie() {
        let sessions = Sessions::new(Zeroizing::new([1; 32]), false);
        let (token, set) = sessions.csrf_for_page(&HeaderMap::new());
        let jar = headers(&cookie_pair(&set));
        assert!(sessions.csrf_ok(&jar, Some(&token)));
        assert!(!sessions.csrf_ok(&jar, Some("x")));
        assert!(!sessions.csrf_ok(&jar, None));
        assert!(!sessions.csrf_ok(&HeaderMap::new(), Some(&token)));
        let (again, renewed) = sessions.csrf_for_page(&jar);
        assert_eq!(
            again, token,
            "the token is reused, so other open tabs keep working"
        );
        assert!(renewed.contains("Max-Age=3600"));
    }
}
