//! The redirect policy as a table: every row is a URI, whether it is accepted, and if not, why.
//!
//! Sources: [RFC 6749 §3.1.2](https://www.rfc-editor.org/rfc/rfc6749#section-3.1.2) (absolute, no
//! fragment), [RFC 8252 §7](https://www.rfc-editor.org/rfc/rfc8252#section-7) (private-use schemes,
//! loopback), [OAuth 2.1 §1.5, §4.1.1, §8.4.2](https://datatracker.ietf.org/doc/html/draft-ietf-oauth-v2-1)
//! (TLS, exact matching, loopback ports) and the disguises attackers used against real servers.

#![allow(clippy::unwrap_used, clippy::panic, missing_docs)]

use gatehouse_types::{RedirectUri, RedirectUriError as E};

fn forbidden(scheme: &str) -> Result<(), E> {
    Err(E::ForbiddenScheme(scheme.to_owned()))
}

#[test]
fn redirect_uri_policy_table() {
    let rows: &[(&str, Result<(), E>)] = &[
        // Accepted: https, loopback http, private-use schemes.
        ("https://client.example.org/callback", Ok(())),
        ("https://client.example.org/cb?tenant=a&x=1", Ok(())),
        ("https://client.example.org:8443/cb", Ok(())),
        ("https://client.example.org", Ok(())),
        ("HTTPS://client.example.org/cb", Ok(())),
        ("https://[2001:db8::1]/cb", Ok(())),
        ("http://127.0.0.1/callback", Ok(())),
        ("http://127.0.0.1:53682/callback", Ok(())),
        ("http://[::1]:3000/callback", Ok(())),
        ("http://localhost:6274/oauth/callback", Ok(())),
        ("http://localhost/callback", Ok(())),
        (
            "cursor://anysphere.cursor-retrieval/oauth/user-x/callback",
            Ok(()),
        ),
        (
            "vscode://vscode.github-authentication/did-authenticate",
            Ok(()),
        ),
        ("com.example.app:/oauth2redirect/example-provider", Ok(())),
        ("com.googleusercontent.apps.123:/oauth2redirect", Ok(())),
        // Scheme disguises: case, whitespace, control characters, encodings, look-alikes.
        ("javascript:alert(1)", forbidden("javascript")),
        ("JAVASCRIPT:alert(1)", forbidden("javascript")),
        ("JaVaScRiPt:alert(document.domain)", forbidden("javascript")),
        (
            "javascript://example.com/%0aalert(1)",
            forbidden("javascript"),
        ),
        (" javascript:alert(1)", Err(E::WhitespaceOrControl)),
        ("javascript:alert(1) ", Err(E::WhitespaceOrControl)),
        ("java\tscript:alert(1)", Err(E::WhitespaceOrControl)),
        ("java\nscript:alert(1)", Err(E::WhitespaceOrControl)),
        ("java\rscript:alert(1)", Err(E::WhitespaceOrControl)),
        ("\u{0}javascript:alert(1)", Err(E::WhitespaceOrControl)),
        ("javascript\u{0}:alert(1)", Err(E::WhitespaceOrControl)),
        (
            "\u{1}https://client.example.org/cb",
            Err(E::WhitespaceOrControl),
        ),
        ("\u{7f}javascript:alert(1)", Err(E::WhitespaceOrControl)),
        ("\u{feff}javascript:alert(1)", Err(E::NonAscii)),
        ("\u{ff4a}avascript:alert(1)", Err(E::NonAscii)),
        (
            "https://client.example.org\u{2044}evil.com/",
            Err(E::NonAscii),
        ),
        ("%6Aavascript:alert(1)", Err(E::NotAbsolute)),
        ("&#106;avascript:alert(1)", Err(E::NotAbsolute)),
        ("vbscript:msgbox(1)", forbidden("vbscript")),
        (
            "data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==",
            forbidden("data"),
        ),
        ("DATA:text/html,x", forbidden("data")),
        ("file:///etc/passwd", forbidden("file")),
        ("FiLe://localhost/etc/passwd", forbidden("file")),
        (
            "blob:https://client.example.org/550e8400",
            forbidden("blob"),
        ),
        ("about:blank", forbidden("about")),
        (
            "view-source:https://client.example.org/",
            forbidden("view-source"),
        ),
        ("ftp://client.example.org/cb", forbidden("ftp")),
        ("wss://client.example.org/cb", forbidden("wss")),
        ("c:/windows/system32", Err(E::SingleLetterScheme)),
        // Characters RFC 3986 does not allow unencoded.
        (
            "https://client.example.org\\@evil.com/",
            Err(E::InvalidCharacter),
        ),
        (
            "https://client.example.org/cb\"onload=\"x",
            Err(E::InvalidCharacter),
        ),
        (
            "https://client.example.org/<script>",
            Err(E::InvalidCharacter),
        ),
        (
            "https://client.example.org/{path}",
            Err(E::InvalidCharacter),
        ),
        // Structure: absolute, host, fragment, userinfo, wildcard, port.
        ("", Err(E::Empty)),
        ("/callback", Err(E::NotAbsolute)),
        ("//client.example.org/callback", Err(E::NotAbsolute)),
        ("client.example.org/callback", Err(E::NotAbsolute)),
        ("https:client.example.org/cb", Err(E::MissingHost)),
        ("https:///cb", Err(E::MissingHost)),
        ("https://", Err(E::MissingHost)),
        ("https://client.example.org/cb#", Err(E::Fragment)),
        ("https://client.example.org/cb#frag", Err(E::Fragment)),
        ("https://evil.com#@client.example.org/", Err(E::Fragment)),
        ("https://client.example.org@evil.com/", Err(E::Userinfo)),
        ("https://user:pass@client.example.org/cb", Err(E::Userinfo)),
        ("http://localhost@evil.com/cb", Err(E::Userinfo)),
        (
            "cursor://user@anysphere.cursor-retrieval/cb",
            Err(E::Userinfo),
        ),
        ("https://*.example.org/cb", Err(E::Wildcard)),
        ("https://*/cb", Err(E::Wildcard)),
        ("http://127.0.0.1:0/cb", Err(E::InvalidPort)),
        ("http://127.0.0.1:65536/cb", Err(E::InvalidPort)),
        ("http://127.0.0.1:/cb", Err(E::InvalidPort)),
        ("http://127.0.0.1:+80/cb", Err(E::InvalidPort)),
        ("https://client.example.org:https/cb", Err(E::InvalidPort)),
        // http only on loopback, and loopback means exactly these names.
        (
            "http://client.example.org/callback",
            Err(E::HttpNotLoopback),
        ),
        ("http://localhost.evil.com/cb", Err(E::HttpNotLoopback)),
        ("http://127.0.0.1.nip.io/cb", Err(E::HttpNotLoopback)),
        ("http://0.0.0.0:8080/cb", Err(E::HttpNotLoopback)),
        ("http://127.1/cb", Err(E::HttpNotLoopback)),
        ("http://2130706433/cb", Err(E::HttpNotLoopback)),
        ("http://[::ffff:127.0.0.1]/cb", Err(E::HttpNotLoopback)),
        ("http://10.0.0.1/cb", Err(E::HttpNotLoopback)),
    ];
    assert!(rows.len() >= 40);
    let mut failures = Vec::new();
    for (uri, expected) in rows {
        let got = RedirectUri::new(*uri).map(|_| ());
        if &got != expected {
            failures.push(format!("{uri:?}: expected {expected:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn oversized_redirect_uri_is_refused() {
    let long = format!("https://client.example.org/{}", "a".repeat(2048));
    assert_eq!(RedirectUri::new(long), Err(E::TooLong));
}

/// Registered, requested, whether they match.
#[test]
fn rfc8252_section_7_3_and_oauth21_section_4_1_1_matching_table() {
    let rows: &[(&str, &str, bool)] = &[
        // Loopback: any port at request time (RFC 8252 §7.3, OAuth 2.1 §8.4.2).
        (
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53682/callback",
            true,
        ),
        (
            "http://127.0.0.1:8080/callback",
            "http://127.0.0.1:9090/callback",
            true,
        ),
        (
            "http://127.0.0.1:8080/callback",
            "http://127.0.0.1/callback",
            true,
        ),
        ("http://[::1]/cb", "http://[::1]:61000/cb", true),
        (
            "http://localhost:3000/callback",
            "http://localhost:43210/callback",
            true,
        ),
        (
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53682/callback?x=1",
            false,
        ),
        (
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53682/callback/",
            false,
        ),
        (
            "http://127.0.0.1/callback",
            "http://127.0.0.1:53682/other",
            false,
        ),
        (
            "http://127.0.0.1/callback",
            "http://localhost:53682/callback",
            false,
        ),
        (
            "http://127.0.0.1/callback",
            "http://[::1]:53682/callback",
            false,
        ),
        (
            "http://localhost/callback",
            "http://LOCALHOST:5000/callback",
            false,
        ),
        // Everything else: exact string comparison.
        (
            "https://client.example.org/cb",
            "https://client.example.org/cb",
            true,
        ),
        (
            "https://client.example.org/cb",
            "https://client.example.org:443/cb",
            false,
        ),
        (
            "https://client.example.org/cb",
            "https://client.example.org/cb/",
            false,
        ),
        (
            "https://client.example.org/cb",
            "https://CLIENT.example.org/cb",
            false,
        ),
        (
            "https://client.example.org/cb",
            "https://client.example.org/cb?x=1",
            false,
        ),
        (
            "https://client.example.org/cb",
            "https://client.example.org/CB",
            false,
        ),
        (
            "https://client.example.org/cb",
            "https://client.example.org.evil.com/cb",
            false,
        ),
        (
            "https://client.example.org/cb",
            "https://client.example.org/cb/../cb",
            false,
        ),
        (
            "https://localhost:8443/cb",
            "https://localhost:9443/cb",
            false,
        ),
        (
            "cursor://anysphere.cursor-retrieval/cb",
            "cursor://anysphere.cursor-retrieval/cb",
            true,
        ),
        (
            "cursor://anysphere.cursor-retrieval/cb",
            "cursor://anysphere.cursor-retrieval:1/cb",
            false,
        ),
        ("com.example.app:/cb", "com.example.app:/cb2", false),
    ];
    for (registered, requested, expected) in rows {
        let registered_uri = RedirectUri::new(*registered).unwrap();
        let requested_uri = RedirectUri::new(*requested).unwrap();
        assert_eq!(
            registered_uri.matches(&requested_uri),
            *expected,
            "registered {registered}, requested {requested}"
        );
    }
}

#[test]
fn the_string_is_kept_exactly_as_written() {
    for raw in [
        "HTTPS://Client.Example.org/CB",
        "http://127.0.0.1:8080/a/../b?x=%20",
    ] {
        let uri = RedirectUri::new(raw).unwrap();
        assert_eq!(uri.as_str(), raw);
        assert_eq!(serde_json::to_string(&uri).unwrap(), format!("\"{raw}\""));
    }
}

#[test]
fn host_is_available_for_the_consent_page() {
    let uri = RedirectUri::new("https://client.example.org:8443/cb").unwrap();
    assert_eq!(uri.host(), Some("client.example.org"));
    let uri = RedirectUri::new("com.example.app:/cb").unwrap();
    assert_eq!(uri.host(), None);
    assert!(uri.is_private_use_scheme());
    assert!(RedirectUri::new("http://[::1]/cb").unwrap().is_loopback());
}
