//! The examples of RFC 7662 §2.1 and §2.2, verbatim (whitespace as in the RFC).
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_introspection::{
    Audience, IntrospectionRequest, IntrospectionResponse, TokenTypeHint,
};
use gatehouse_types::{ClientId, ScopeSet, UnixTime};
use serde_json::Value;

/// Parse → serialize → parse gives an equal value, and the serialized JSON equals the example
/// as a `serde_json::Value`, except that `scope` is compared as a set: RFC 6749 §3.3 makes its
/// order meaningless and `ScopeSet` writes it sorted.
fn assert_json_round_trip(example: &str) -> IntrospectionResponse {
    let parsed = IntrospectionResponse::from_json(example.as_bytes()).unwrap();
    let json = parsed.to_json();
    assert_eq!(
        IntrospectionResponse::from_json(json.as_bytes()).unwrap(),
        parsed
    );
    let (mut ours, mut theirs): (Value, Value) = (
        serde_json::from_str(&json).unwrap(),
        serde_json::from_str(example).unwrap(),
    );
    for doc in [&mut ours, &mut theirs] {
        if let Some(Value::String(scope)) = doc.get_mut("scope") {
            *scope = ScopeSet::parse(scope).unwrap().to_string();
        }
    }
    assert_eq!(ours, theirs);
    parsed
}

#[test]
fn rfc7662_section_2_1_example() {
    let body = "token=2YotnFZFEjr1zCsicMWpAA";
    let req = IntrospectionRequest::from_form(body.as_bytes()).unwrap();
    assert_eq!(req.token.expose_secret(), "2YotnFZFEjr1zCsicMWpAA");
    assert_eq!(req.token_type_hint, None);
    assert!(req.extra.is_empty());
    assert_eq!(req.to_form(), body);
}

#[test]
fn rfc7662_section_2_1_example_with_hint() {
    let body = "token=mF_9.B5f-4.1JqM&token_type_hint=access_token";
    let req = IntrospectionRequest::from_form(body.as_bytes()).unwrap();
    assert_eq!(req.token.expose_secret(), "mF_9.B5f-4.1JqM");
    assert_eq!(req.token_type_hint, Some(TokenTypeHint::AccessToken));
    assert_eq!(req.to_form(), body);
    assert_eq!(
        IntrospectionRequest::from_form(req.to_form().as_bytes()).unwrap(),
        req
    );
}

#[test]
fn rfc7662_section_2_2_example_active() {
    let example = r#"{
      "active": true,
      "client_id": "l238j323ds-23ij4",
      "username": "jdoe",
      "scope": "read write dolphin",
      "sub": "Z5O3upPC88QrAjx00dis",
      "aud": "https://protected.example.net/resource",
      "iss": "https://server.example.com/",
      "exp": 1419356238,
      "iat": 1419350238,
      "extension_field": "twenty-seven"
     }"#;
    let parsed = assert_json_round_trip(example);
    let token = parsed.active_token().unwrap();
    assert_eq!(
        token.client_id,
        Some(ClientId::new("l238j323ds-23ij4").unwrap())
    );
    assert_eq!(token.username.as_deref(), Some("jdoe"));
    assert_eq!(
        token.scope,
        Some(ScopeSet::parse("dolphin read write").unwrap())
    );
    assert_eq!(token.sub.as_deref(), Some("Z5O3upPC88QrAjx00dis"));
    assert_eq!(
        token.aud,
        Some(Audience::Single(
            "https://protected.example.net/resource".into()
        ))
    );
    assert_eq!(token.iss.as_deref(), Some("https://server.example.com/"));
    assert_eq!(token.exp, Some(UnixTime::from_secs(1419356238)));
    assert_eq!(token.iat, Some(UnixTime::from_secs(1419350238)));
    assert_eq!(token.extra["extension_field"], "twenty-seven");
    assert_eq!(token.extra.len(), 1);
}

#[test]
fn rfc7662_section_2_2_example_inactive() {
    let example = r#"{
      "active": false
     }"#;
    let parsed = assert_json_round_trip(example);
    assert_eq!(parsed, IntrospectionResponse::Inactive);
    assert_eq!(parsed.to_json(), r#"{"active":false}"#);
}

#[test]
fn builder_reproduces_the_section_2_2_example() {
    let token = gatehouse_introspection::ActiveToken::builder()
        .client_id(ClientId::new("l238j323ds-23ij4").unwrap())
        .username("jdoe")
        .scope(ScopeSet::parse("read write dolphin").unwrap())
        .sub("Z5O3upPC88QrAjx00dis")
        .aud("https://protected.example.net/resource")
        .iss("https://server.example.com/")
        .exp(UnixTime::from_secs(1419356238))
        .iat(UnixTime::from_secs(1419350238))
        .extra("extension_field", Value::from("twenty-seven"))
        .build();
    let example = br#"{"active":true,"client_id":"l238j323ds-23ij4","username":"jdoe",
        "scope":"read write dolphin","sub":"Z5O3upPC88QrAjx00dis",
        "aud":"https://protected.example.net/resource","iss":"https://server.example.com/",
        "exp":1419356238,"iat":1419350238,"extension_field":"twenty-seven"}"#;
    assert_eq!(
        IntrospectionResponse::from(token),
        IntrospectionResponse::from_json(example).unwrap()
    );
}

/// RFC 7662 §2.2 lets a server add any member; we keep unknown members exactly as received, long
/// decimals included. Found by the `introspection_response` fuzz target (the default serde_json
/// float parser rounded `14197777777000000000000024` differently on the second parse).
#[test]
fn rfc7662_section_2_2_unknown_numeric_members_round_trip_exactly() {
    for number in [
        "14197777777000000000000024",
        "1.7976931348623157e308",
        "0.30000000000000004",
        "-0.0",
        "123456789012345678901234567890.123456789",
    ] {
        let doc = format!(r#"{{"active":true,"usoxp":{number}}}"#);
        let parsed = IntrospectionResponse::from_json(doc.as_bytes()).unwrap();
        let again = IntrospectionResponse::from_json(parsed.to_json().as_bytes()).unwrap();
        assert_eq!(again, parsed, "{number}");
    }
}
