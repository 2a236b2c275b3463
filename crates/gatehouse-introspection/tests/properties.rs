//! Property tests: serialize → parse is the identity, and no input makes a parser panic.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_introspection::{
    ActiveToken, Audience, IntrospectionRequest, IntrospectionResponse, SecretString, TokenTypeHint,
};
use gatehouse_types::{ClientId, ScopeSet, UnixTime};
use proptest::prelude::*;
use serde_json::Value;

fn hint() -> impl Strategy<Value = TokenTypeHint> {
    prop_oneof![
        Just(TokenTypeHint::AccessToken),
        Just(TokenTypeHint::RefreshToken),
        "[!-~]{1,40}".prop_map(|s| TokenTypeHint::parse(&s).unwrap()),
    ]
}

/// Printable text without U+FFFD, which `FormParams` reads as a decoding failure.
fn form_text(max: usize) -> impl Strategy<Value = String> {
    proptest::string::string_regex(&format!(r"[^\p{{C}}\x{{FFFD}}]{{1,{max}}}")).unwrap()
}

fn extra_params() -> impl Strategy<Value = Vec<(String, String)>> {
    proptest::collection::vec(("x_[a-z0-9_]{0,8}", form_text(20)), 0..4)
}

fn request() -> impl Strategy<Value = IntrospectionRequest> {
    (form_text(64), proptest::option::of(hint()), extra_params()).prop_map(
        |(token, hint, extra)| {
            let mut req = IntrospectionRequest::new(SecretString::new(token)).unwrap();
            req.token_type_hint = hint;
            req.extra = extra.into_iter().collect();
            req
        },
    )
}

fn scope_set() -> impl Strategy<Value = ScopeSet> {
    proptest::collection::vec("[!#-\\[\\]-~]{1,12}", 0..4)
        .prop_map(|scopes| ScopeSet::parse(&scopes.join(" ")).unwrap())
}

fn audience() -> impl Strategy<Value = Audience> {
    prop_oneof![
        "\\PC{0,30}".prop_map(Audience::Single),
        proptest::collection::vec("\\PC{0,30}", 0..3).prop_map(Audience::Multiple),
    ]
}

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "\\PC{0,20}".prop_map(Value::String),
    ];
    leaf.prop_recursive(2, 8, 3, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            proptest::collection::btree_map("[a-z]{1,5}", inner, 0..3)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

prop_compose! {
    fn active_token()(
        scope in proptest::option::of(scope_set()),
        client_id in proptest::option::of("[ -~]{1,40}"),
        username in proptest::option::of("\\PC{0,20}"),
        token_type in proptest::option::of("[A-Za-z]{1,10}"),
        times in proptest::array::uniform3(proptest::option::of(any::<u64>())),
        sub in proptest::option::of("\\PC{0,20}"),
        aud in proptest::option::of(audience()),
        iss in proptest::option::of("\\PC{0,20}"),
        jti in proptest::option::of("\\PC{0,20}"),
        extra in proptest::collection::btree_map("x_[a-z0-9_]{0,8}", json_value(), 0..4),
    ) -> ActiveToken {
        let mut b = ActiveToken::builder();
        if let Some(v) = scope { b = b.scope(v); }
        if let Some(v) = client_id { b = b.client_id(ClientId::new(v).unwrap()); }
        if let Some(v) = username { b = b.username(v); }
        if let Some(v) = token_type { b = b.token_type(v); }
        if let Some(v) = times[0] { b = b.exp(UnixTime::from_secs(v)); }
        if let Some(v) = times[1] { b = b.iat(UnixTime::from_secs(v)); }
        if let Some(v) = times[2] { b = b.nbf(UnixTime::from_secs(v)); }
        if let Some(v) = sub { b = b.sub(v); }
        if let Some(v) = aud { b = b.aud(v); }
        if let Some(v) = iss { b = b.iss(v); }
        if let Some(v) = jti { b = b.jti(v); }
        for (k, v) in extra { b = b.extra(k, v); }
        b.build()
    }
}

fn response() -> impl Strategy<Value = IntrospectionResponse> {
    prop_oneof![
        Just(IntrospectionResponse::Inactive),
        active_token().prop_map(IntrospectionResponse::active),
    ]
}

proptest! {
    #[test]
    fn request_form_round_trips(req in request()) {
        let parsed = IntrospectionRequest::from_form(req.to_form().as_bytes()).unwrap();
        prop_assert_eq!(parsed, req);
    }

    #[test]
    fn response_json_round_trips(resp in response()) {
        let json = resp.to_json();
        let parsed = IntrospectionResponse::from_json(json.as_bytes()).unwrap();
        prop_assert_eq!(&parsed, &resp);
        prop_assert_eq!(parsed.to_json(), json);
    }

    #[test]
    fn from_form_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = IntrospectionRequest::from_form(&bytes);
    }

    #[test]
    fn from_form_never_panics_on_form_like_text(body in "[a-z_=&%0-9A-F+]{0,80}") {
        let _ = IntrospectionRequest::from_form(body.as_bytes());
    }

    #[test]
    fn from_json_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
        let _ = IntrospectionResponse::from_json(&bytes);
    }

    #[test]
    fn from_json_never_panics_on_json_values(value in json_value(), active in any::<Option<bool>>()) {
        let mut value = value;
        if let (Value::Object(map), Some(active)) = (&mut value, active) {
            map.insert("active".into(), Value::Bool(active));
        }
        let _ = IntrospectionResponse::from_json(value.to_string().as_bytes());
    }
}
