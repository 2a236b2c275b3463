//! One test per requirement this crate enforces, named after its section, plus the comparison
//! rules MCP clients depend on.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use std::collections::HashSet;

use gatehouse_resource_indicators::{InvalidTarget, OAuthError, ResourceUri, resolve_resources};
use gatehouse_types::ErrorCode;

fn uri(s: &str) -> ResourceUri {
    ResourceUri::parse(s).unwrap()
}

#[test]
fn rfc8707_section_2_resource_must_be_absolute() {
    for value in [
        "/app/",
        "app",
        "//api.example.com/app/",
        "api.example.com/app/",
        "",
        "?x=1",
        "1https://api.example.com/",
    ] {
        assert_eq!(
            ResourceUri::parse(value),
            Err(InvalidTarget::NotAbsolute),
            "{value:?}"
        );
    }
}

#[test]
fn rfc8707_section_2_resource_must_not_include_a_fragment() {
    for value in [
        "https://api.example.com/app/#frag",
        "https://api.example.com/app/#",
        "https://api.example.com#x",
        "http://localhost:3000/mcp#top",
    ] {
        assert_eq!(
            ResourceUri::parse(value),
            Err(InvalidTarget::Fragment),
            "{value:?}"
        );
    }
}

#[test]
fn rfc8707_section_2_query_is_allowed() {
    // "SHOULD NOT include a query component": a SHOULD, so it is accepted and kept.
    let u = uri("https://api.example.com/app?tenant=1");
    assert_eq!(u.as_str(), "https://api.example.com/app?tenant=1");
    assert_ne!(u, uri("https://api.example.com/app"));
}

#[test]
fn rfc8707_section_2_errors_are_invalid_target() {
    let configured = [uri("https://mcp.example.com/mcp")];
    for requested in [
        &["https://other.example.com/mcp"][..],
        &["https://mcp.example.com/mcp#x"],
        &["/mcp"],
        &["http://mcp.example.com/mcp"],
        &[
            "https://mcp.example.com/mcp",
            "https://mcp.example.com/other",
        ],
    ] {
        let err = resolve_resources(requested, &configured, None).unwrap_err();
        assert_eq!(err.error_code(), ErrorCode::InvalidTarget, "{requested:?}");
        assert_eq!(err.http_status(), 400);
        assert_eq!(err.error_response().error.as_str(), "invalid_target");
    }
    let err = resolve_resources(&[], &configured, None).unwrap_err();
    assert_eq!(err, InvalidTarget::Missing);
    assert_eq!(err.error_code(), ErrorCode::InvalidTarget);
}

#[test]
fn gatehouse_requires_https_or_loopback_http() {
    for value in [
        "http://api.example.com/",
        "ftp://api.example.com/",
        "urn:example:resource",
        "https:///app",
        "localhost:8080/mcp",
    ] {
        assert_eq!(
            ResourceUri::parse(value),
            Err(InvalidTarget::NotHttps),
            "{value:?}"
        );
    }
    for value in [
        "http://localhost:3000/mcp",
        "http://127.0.0.1/mcp",
        "http://[::1]:8080/",
    ] {
        assert!(ResourceUri::parse(value).is_ok(), "{value:?}");
    }
    assert_eq!(
        ResourceUri::parse("https://u:p@api.example.com/"),
        Err(InvalidTarget::Userinfo)
    );
    assert_eq!(
        ResourceUri::parse("https://api.example.com:0/"),
        Err(InvalidTarget::InvalidPort)
    );
    assert_eq!(
        ResourceUri::parse("https://api.example.com/a b"),
        Err(InvalidTarget::InvalidCharacter)
    );
    assert_eq!(
        ResourceUri::parse(&format!("https://a.example/{}", "x".repeat(2048))),
        Err(InvalidTarget::TooLong)
    );
}

#[test]
fn rfc3986_section_6_2_2_1_scheme_and_host_case_is_normalised() {
    let u = uri("HTTPS://API.Example.COM/App/");
    assert_eq!(u.as_str(), "https://api.example.com/App/");
    assert_eq!(u, uri("https://api.example.com/App/"));
    assert_ne!(u, uri("https://api.example.com/app/"));
}

#[test]
fn empty_path_is_the_same_resource_as_slash() {
    let (a, b) = (
        uri("https://mcp.example.com"),
        uri("https://mcp.example.com/"),
    );
    assert!(a.matches(&b));
    assert_eq!(a, b);
    let set: HashSet<ResourceUri> = [a.clone(), b.clone()].into_iter().collect();
    assert_eq!(set.len(), 1, "Hash must agree with Eq");
    // The spelling is kept: it is what the tokens' `aud` will say.
    assert_eq!(a.as_str(), "https://mcp.example.com");
    assert_eq!(b.as_str(), "https://mcp.example.com/");
}

#[test]
fn trailing_slash_and_default_port_are_different_resources() {
    assert_ne!(
        uri("https://mcp.example.com/mcp"),
        uri("https://mcp.example.com/mcp/")
    );
    assert_ne!(
        uri("https://mcp.example.com:443/"),
        uri("https://mcp.example.com/")
    );
    assert_eq!(
        uri("https://mcp.example.com:443/").as_str(),
        "https://mcp.example.com:443/"
    );
}
