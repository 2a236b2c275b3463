//! Checks on single metadata values, shared by document validation and the policy.

use gatehouse_types::uri::{WebUrl, WebUrlError, check_web_url};
use serde_json::Value;

use crate::RegistrationError;

/// Longest text member kept (`client_name`, `software_id`, a contact, ...).
pub(crate) const MAX_TEXT_LEN: usize = 1024;

/// Longest software statement accepted. Real ones are a few hundred bytes to a few kilobytes.
const MAX_SOFTWARE_STATEMENT_LEN: usize = 16 * 1024;

/// Members that hold text for people and may carry a language tag
/// ([RFC 7591 §2.2](https://www.rfc-editor.org/rfc/rfc7591#section-2.2)), with whether they are URLs.
pub(crate) const HUMAN_READABLE: &[(&str, bool)] = &[
    ("client_name", false),
    ("client_uri", true),
    ("logo_uri", true),
    ("tos_uri", true),
    ("policy_uri", true),
];

/// JWK members that only private or symmetric keys have
/// ([RFC 7518 §6.2.2](https://www.rfc-editor.org/rfc/rfc7518#section-6.2.2),
/// [§6.3.2](https://www.rfc-editor.org/rfc/rfc7518#section-6.3.2),
/// [§6.4.1](https://www.rfc-editor.org/rfc/rfc7518#section-6.4.1)).
const PRIVATE_JWK_MEMBERS: &[&str] = &["d", "p", "q", "dp", "dq", "qi", "oth", "k"];

/// A URL a server may publish or fetch: `https`, or `http` on a loopback host
/// (`gatehouse_types::uri::check_web_url`).
pub(crate) fn web_url(field: &str, value: &str) -> Result<(), RegistrationError> {
    check_web_url(value)
        .map(|_| ())
        .map_err(|reason| RegistrationError::InvalidUrl {
            field: field.to_owned(),
            reason,
        })
}

/// A web URL that is `https`: loopback `http` is refused as well, because the URL is shown on
/// the consent page or fetched by the server.
pub(crate) fn https_url(field: &str, value: &str) -> Result<(), RegistrationError> {
    check_web_url(value)
        .and_then(WebUrl::require_https)
        .map(|_| ())
        .map_err(|reason| match reason {
            WebUrlError::NotHttps => RegistrationError::UrlNotHttps {
                field: field.to_owned(),
            },
            reason => RegistrationError::InvalidUrl {
                field: field.to_owned(),
                reason,
            },
        })
}

/// Text for people: non-empty, bounded, no control characters (which could reorder or hide what
/// the consent page shows).
pub(crate) fn text(field: &str, value: &str) -> Result<(), RegistrationError> {
    let is_bidi_control = |c: char| matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
    if value.is_empty()
        || value.len() > MAX_TEXT_LEN
        || value.chars().any(|c| c.is_control() || is_bidi_control(c))
    {
        return Err(RegistrationError::InvalidText {
            field: field.to_owned(),
        });
    }
    Ok(())
}

/// A JWK Set ([RFC 7517 §5](https://www.rfc-editor.org/rfc/rfc7517#section-5)): an object whose
/// `keys` member is an array of objects, each with a string `kty`. Key material itself is the
/// business of the JOSE layer.
pub(crate) fn jwks_shape(jwks: &Value) -> Result<(), RegistrationError> {
    let keys = jwks
        .as_object()
        .ok_or(RegistrationError::InvalidJwks("not a JSON object"))?
        .get("keys")
        .and_then(Value::as_array)
        .ok_or(RegistrationError::InvalidJwks(
            "no \"keys\" member holding an array",
        ))?;
    for key in keys {
        let key = key
            .as_object()
            .ok_or(RegistrationError::InvalidJwks("a key is not a JSON object"))?;
        if !key.get("kty").is_some_and(Value::is_string) {
            return Err(RegistrationError::InvalidJwks(
                "a key has no \"kty\" string",
            ));
        }
    }
    Ok(())
}

/// Refuses private and symmetric key members: a client registers the keys that verify its
/// signatures, and a document holding a private key has leaked it.
pub(crate) fn jwks_public_only(jwks: &Value) -> Result<(), RegistrationError> {
    let has_private = jwks
        .get("keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
        .any(|key| PRIVATE_JWK_MEMBERS.iter().any(|m| key.contains_key(*m)));
    if has_private {
        return Err(RegistrationError::PrivateKeyMaterial);
    }
    Ok(())
}

/// A software statement is a JWT that "MUST be digitally signed or MACed using JWS"
/// ([RFC 7591 §2.3](https://www.rfc-editor.org/rfc/rfc7591#section-2.3)), so in JWS compact
/// serialization: three non-empty base64url parts separated by dots
/// ([RFC 7515 §7.1](https://www.rfc-editor.org/rfc/rfc7515#section-7.1)); an empty signature
/// would be an unsecured JWT. The signature is verified, if at all, by a layer that has keys.
pub(crate) fn software_statement(value: &str) -> Result<(), RegistrationError> {
    let is_b64url = |part: &str| {
        part.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    };
    let parts: Vec<&str> = value.split('.').collect();
    let well_formed = value.len() <= MAX_SOFTWARE_STATEMENT_LEN
        && parts.len() == 3
        && parts.iter().all(|p| !p.is_empty() && is_b64url(p));
    if !well_formed {
        return Err(RegistrationError::InvalidSoftwareStatement);
    }
    Ok(())
}

/// Splits a language-tagged member name (`client_name#ja-Jpan-JP`) into the member and the tag,
/// when the member is human-readable and the tag has BCP 47 characters
/// ([RFC 7591 §2.2](https://www.rfc-editor.org/rfc/rfc7591#section-2.2)).
pub(crate) fn language_tagged(key: &str) -> Option<(&'static str, bool)> {
    let (member, tag) = key.split_once('#')?;
    let tag_ok = !tag.is_empty()
        && tag.len() <= 64
        && tag.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if !tag_ok {
        return None;
    }
    HUMAN_READABLE
        .iter()
        .find(|(name, _)| *name == member)
        .map(|(name, is_url)| (*name, *is_url))
}

/// Checks the value of a language-tagged member with the rule of its member.
pub(crate) fn language_tagged_value(
    key: &str,
    is_url: bool,
    value: &Value,
    url_rule: fn(&str, &str) -> Result<(), RegistrationError>,
) -> Result<(), RegistrationError> {
    let Some(text_value) = value.as_str() else {
        return Err(RegistrationError::InvalidText {
            field: key.to_owned(),
        });
    };
    if is_url {
        url_rule(key, text_value)
    } else {
        text(key, text_value)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn https_url_refuses_loopback_and_script() {
        assert!(https_url("logo_uri", "https://client.example.org/logo.png").is_ok());
        assert!(matches!(
            https_url("logo_uri", "http://localhost/logo.png"),
            Err(RegistrationError::UrlNotHttps { .. })
        ));
        assert!(matches!(
            https_url("client_uri", "javascript:alert(1)"),
            Err(RegistrationError::InvalidUrl { .. })
        ));
        assert!(matches!(
            https_url("logo_uri", "http://client.example.org/logo.png"),
            Err(RegistrationError::UrlNotHttps { .. })
        ));
        assert!(web_url("client_uri", "http://127.0.0.1:8080/").is_ok());
    }

    #[test]
    fn text_refuses_controls_and_bidi_overrides() {
        assert!(text("client_name", "My Example Client").is_ok());
        assert!(text("client_name", "").is_err());
        assert!(text("client_name", "a\nb").is_err());
        assert!(text("client_name", "evil\u{202e}gpj.exe").is_err());
        assert!(text("client_name", &"a".repeat(1025)).is_err());
    }

    #[test]
    fn jwks_shape_and_private_members() {
        let public = serde_json::json!({"keys": [{"kty": "RSA", "e": "AQAB", "n": "abc"}]});
        assert!(jwks_shape(&public).is_ok());
        assert!(jwks_public_only(&public).is_ok());
        let private = serde_json::json!({"keys": [{"kty": "EC", "d": "secret"}]});
        assert_eq!(
            jwks_public_only(&private),
            Err(RegistrationError::PrivateKeyMaterial)
        );
        let symmetric = serde_json::json!({"keys": [{"kty": "oct", "k": "secret"}]});
        assert!(jwks_public_only(&symmetric).is_err());
        assert!(jwks_shape(&serde_json::json!([])).is_err());
        assert!(jwks_shape(&serde_json::json!({"keys": [1]})).is_err());
        assert!(jwks_shape(&serde_json::json!({"keys": [{}]})).is_err());
    }

    #[test]
    fn software_statement_syntax() {
        assert!(software_statement("eyJhbGciOiJSUzI1NiJ9.eyJzIjoxfQ.c2ln").is_ok());
        assert!(software_statement("eyJhbGciOiJub25lIn0.eyJzIjoxfQ.").is_err());
        assert!(software_statement("not a jwt").is_err());
        assert!(software_statement("a.b").is_err());
        assert!(software_statement(".b.c").is_err());
        assert!(software_statement("a.b+.c").is_err());
    }

    #[test]
    fn rfc7591_section_2_2_language_tags() {
        assert_eq!(
            language_tagged("client_name#ja-Jpan-JP"),
            Some(("client_name", false))
        );
        assert_eq!(language_tagged("logo_uri#fr"), Some(("logo_uri", true)));
        assert_eq!(language_tagged("client_name"), None);
        assert_eq!(language_tagged("client_name#"), None);
        assert_eq!(language_tagged("client_name#a b"), None);
        assert_eq!(language_tagged("example#fr"), None);
    }
}
