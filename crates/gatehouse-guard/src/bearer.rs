//! Where the bearer token may be: the `Authorization` header only
//! ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1)).
//!
//! MCP 2025-11-25 (token requirements): "MCP client MUST use the Authorization request header
//! field" and "Access tokens MUST NOT be included in the URI query string"; OAuth 2.1 removed
//! the query method of RFC 6750 §2.3. A token in the query or in a form body is therefore an
//! `invalid_request` (RFC 6750 §3.1), not a token to try.

use axum::http::{HeaderMap, header};

use crate::rejection::Rejection;

/// The scheme an access token came with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scheme {
    /// `Bearer` (RFC 6750 §2.1).
    Bearer,
    /// `DPoP` (RFC 9449 §7.1): the token is bound to a key, and a proof comes with it.
    Dpop,
}

/// The parameter name of RFC 6750 §2.2 and §2.3.
const ACCESS_TOKEN_PARAM: &str = "access_token";

/// The token of the `Authorization: Bearer` or `Authorization: DPoP` header, if there is one.
///
/// `None` when there is no `Authorization` header or it uses another scheme (RFC 6750 §3.1:
/// such a request "lacks any authentication information" for this resource). Refused with
/// `invalid_request`: a token in the query string, two `Authorization` headers, a Bearer or DPoP
/// header whose credentials are not a `b64token` (RFC 9449 §7.1 uses the same syntax).
pub(crate) fn token<'a>(
    headers: &'a HeaderMap,
    query: Option<&str>,
) -> Result<Option<(Scheme, &'a str)>, Rejection> {
    if query.is_some_and(query_has_token) {
        return Err(Rejection::InvalidRequest(
            "Access tokens must not be sent in the URI query string; use the Authorization header",
        ));
    }
    let mut values = headers.get_all(header::AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(Rejection::InvalidRequest(
            "The request has more than one Authorization header",
        ));
    }
    // Bytes, not `to_str`: the token is checked once, by the b64token rule, which admits only
    // visible ASCII (the token is most of the header, and this runs on every request).
    let bytes = value.as_bytes();
    let (scheme, rest) = match bytes.iter().position(|&b| b == b' ') {
        Some(space) => {
            let (scheme, rest) = bytes.split_at(space);
            (scheme, rest.get(1..).unwrap_or_default())
        }
        None => (bytes, &b""[..]),
    };
    // Schemes are case-insensitive (RFC 9110 §11.1).
    let scheme = if scheme.eq_ignore_ascii_case(b"Bearer") {
        Scheme::Bearer
    } else if scheme.eq_ignore_ascii_case(b"DPoP") {
        Scheme::Dpop
    } else {
        return match value.to_str() {
            Ok(_) => Ok(None),
            Err(_) => Err(Rejection::InvalidRequest(
                "The Authorization header is malformed",
            )),
        };
    };
    // RFC 7235 §2.1 allows several spaces after the scheme; RFC 6750 §2.1 then wants exactly
    // one b64token.
    let spaces = rest.iter().take_while(|&&b| b == b' ').count();
    let credentials = rest.get(spaces..).unwrap_or_default();
    // A b64token is ASCII, so once it passes, the conversion to text cannot fail.
    match is_b64token(credentials).then(|| std::str::from_utf8(credentials)) {
        Some(Ok(credentials)) => Ok(Some((scheme, credentials))),
        _ => Err(Rejection::InvalidRequest(
            "The Authorization header is malformed: expected Bearer or DPoP followed by one token",
        )),
    }
}

/// `b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`
/// ([RFC 6750 §2.1](https://www.rfc-editor.org/rfc/rfc6750#section-2.1)).
fn is_b64token(s: &[u8]) -> bool {
    let mut body = s;
    while let [rest @ .., b'='] = body {
        body = rest;
    }
    // A fold with no early exit and no table, which the compiler checks many bytes at a time:
    // the token is most of every request's head (issue 24).
    !body.is_empty() && body.iter().fold(true, |ok, &b| ok & is_b64token_byte(b))
}

/// A byte of a `b64token` before its padding, by ranges a vector unit can compare.
fn is_b64token_byte(b: u8) -> bool {
    // Setting 0x20 folds A-Z onto a-z and moves no other byte into a-z.
    let letter = (b | 0x20).wrapping_sub(b'a') < 26;
    let digit = b.wrapping_sub(b'0') < 10;
    // "-", "." and "/" are 0x2d to 0x2f.
    let dash_dot_slash = b.wrapping_sub(b'-') < 3;
    letter | digit | dash_dot_slash | (b == b'_') | (b == b'~') | (b == b'+')
}

fn query_has_token(query: &str) -> bool {
    form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == ACCESS_TOKEN_PARAM)
}

/// Whether the body is a form ([RFC 6750 §2.2](https://www.rfc-editor.org/rfc/rfc6750#section-2.2)
/// is the only way a token travels in a body).
pub(crate) fn is_form(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.split(';').next())
        .is_some_and(|media| {
            media
                .trim()
                .eq_ignore_ascii_case("application/x-www-form-urlencoded")
        })
}

/// Refuses a form body carrying `access_token` (RFC 6750 §2.2, which MCP does not allow).
pub(crate) fn check_form_body(body: &[u8]) -> Result<(), Rejection> {
    if form_urlencoded::parse(body).any(|(name, _)| name == ACCESS_TOKEN_PARAM) {
        return Err(Rejection::InvalidRequest(
            "Access tokens must not be sent in the request body; use the Authorization header",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use axum::http::HeaderValue;

    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(header::AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    /// RFC 6750 §2.1: the ranges admit exactly the b64token characters, every byte checked.
    #[test]
    fn rfc6750_2_1_the_b64token_ranges_are_the_grammar() {
        for byte in 0..=u8::MAX {
            let grammar = byte.is_ascii_alphanumeric()
                || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'+' | b'/');
            assert_eq!(is_b64token_byte(byte), grammar, "{byte:#04x}");
            assert_eq!(is_b64token(&[byte]), grammar, "{byte:#04x}");
        }
        assert!(is_b64token(b"abc=="));
        // One bad byte anywhere in a token as long as a JWT, whichever lane it falls in.
        for at in [0, 1, 15, 16, 31, 32, 63, 64, 698, 699] {
            let mut long = vec![b'a'; 700];
            assert!(is_b64token(&long));
            long[at] = b',';
            assert!(!is_b64token(&long), "{at}");
        }
        assert!(!is_b64token(b"=="));
        assert!(!is_b64token(b"a=b"));
    }

    #[test]
    fn rfc6750_section_2_1_bearer_header() {
        assert_eq!(
            token(&headers(&["Bearer abc.def-_~+/=="]), None),
            Ok(Some((Scheme::Bearer, "abc.def-_~+/==")))
        );
        assert_eq!(
            token(&headers(&["bearer  abc"]), None),
            Ok(Some((Scheme::Bearer, "abc")))
        );
        // RFC 9449 §7.1: the DPoP scheme, case-insensitive like every scheme.
        assert_eq!(
            token(&headers(&["DPoP abc"]), None),
            Ok(Some((Scheme::Dpop, "abc")))
        );
        assert_eq!(
            token(&headers(&["dpop abc"]), None),
            Ok(Some((Scheme::Dpop, "abc")))
        );
        assert!(token(&headers(&["DPoP a b"]), None).is_err());
        assert_eq!(token(&headers(&["Basic abc"]), None), Ok(None));
        assert_eq!(token(&headers(&[]), None), Ok(None));
        for bad in [
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a,b",
            "Bearer ===",
            "Bearer a=b",
        ] {
            assert!(token(&headers(&[bad]), None).is_err(), "{bad:?}");
        }
        assert!(token(&headers(&["Bearer a", "Bearer b"]), None).is_err());
    }

    #[test]
    fn rfc6750_section_2_3_query_tokens_are_refused() {
        assert!(token(&headers(&[]), Some("x=1&access_token=abc")).is_err());
        assert!(token(&headers(&["Bearer a"]), Some("access%5Ftoken=abc")).is_err());
        assert_eq!(
            token(&headers(&["Bearer a"]), Some("x=access_token")),
            Ok(Some((Scheme::Bearer, "a")))
        );
    }

    #[test]
    fn rfc6750_section_2_2_form_tokens_are_refused() {
        assert!(check_form_body(b"a=1&access_token=x").is_err());
        assert!(check_form_body(b"a=access_token").is_ok());
    }
}
