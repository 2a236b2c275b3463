//! The resource values of the examples of RFC 8707 §2.1 (authorization request) and §2.2
//! (access token request), as the form-encoded `resource` parameters the figures show.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
#![allow(missing_docs)]

use gatehouse_resource_indicators::{ResourceUri, resolve_resources};
use gatehouse_types::form::FormParams;

fn resources(query: &str) -> Vec<String> {
    let form = FormParams::parse(query.as_bytes()).unwrap();
    form.refuse_repeats(&["resource"]).unwrap();
    form.all("resource").map(str::to_owned).collect()
}

fn assert_round_trips(value: &str) -> ResourceUri {
    let uri = ResourceUri::parse(value).unwrap();
    // Already canonical: the examples are lowercase.
    assert_eq!(uri.as_str(), value);
    assert_eq!(ResourceUri::parse(uri.as_str()).unwrap(), uri);
    let json = serde_json::to_string(&uri).unwrap();
    assert_eq!(serde_json::from_str::<ResourceUri>(&json).unwrap(), uri);
    uri
}

#[test]
fn rfc8707_section_2_1_example_single_resource() {
    // Figure 1: an implicit-grant authorization request for one resource.
    let values = resources("resource=https%3A%2F%2Fapi.example.com%2Fapp%2F");
    assert_eq!(values, ["https://api.example.com/app/"]);
    let uri = assert_round_trips(&values[0]);
    let got = resolve_resources(&[values[0].as_str()], std::slice::from_ref(&uri), None).unwrap();
    assert_eq!(got, [uri]);
}

#[test]
fn rfc8707_section_2_1_example_two_resources() {
    // Figure 2: an authorization request for two resources, `resource` repeated.
    let values = resources(
        "scope=calendar%20contacts\
         &resource=https%3A%2F%2Fcal.example.com%2F\
         &resource=https%3A%2F%2Fcontacts.example.com%2F",
    );
    assert_eq!(
        values,
        ["https://cal.example.com/", "https://contacts.example.com/"]
    );
    let configured: Vec<ResourceUri> = values.iter().map(|v| assert_round_trips(v)).collect();
    let requested: Vec<&str> = values.iter().map(String::as_str).collect();
    assert_eq!(
        resolve_resources(&requested, &configured, None).unwrap(),
        configured
    );
}

#[test]
fn rfc8707_section_2_2_example_token_requests() {
    // Figures 4 and 6: token requests that narrow the grant to one of its resources.
    let configured = [
        ResourceUri::parse("https://cal.example.com/").unwrap(),
        ResourceUri::parse("https://contacts.example.com/").unwrap(),
    ];
    for (query, expected) in [
        (
            "grant_type=authorization_code&resource=https%3A%2F%2Fcal.example.com%2F",
            "https://cal.example.com/",
        ),
        (
            "grant_type=refresh_token&resource=https%3A%2F%2Fcontacts.example.com%2F",
            "https://contacts.example.com/",
        ),
    ] {
        let values = resources(query);
        let requested: Vec<&str> = values.iter().map(String::as_str).collect();
        let got = resolve_resources(&requested, &configured, None).unwrap();
        assert_eq!(got.len(), 1);
        assert_eq!(got[0].as_str(), expected);
    }
}
