//! The OpenID Connect Discovery document reader of sign-in through an identity provider
//! (`upstream::discovery_endpoints`, §4.3): any JSON object gets an answer, and the endpoints it
//! accepts are the document's own web URLs, for exactly the issuer asked for. Each object is
//! read for a fixed issuer and, when its `issuer` member is a string, for that one, so that the
//! checks after the issuer's are reached. An object without `issuer`, refused at once as it is,
//! is also laid over a valid document (its members replacing those of the same name), so that
//! each member can be changed alone without seeds. Inputs that are not JSON objects are skipped.
#![no_main]
use std::sync::OnceLock;

use gatehouse_axum::fuzzing::discovery;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value, json};

const ISSUER: &str = "https://login.example.com";

fn valid() -> &'static Map<String, Value> {
    static VALID: OnceLock<Map<String, Value>> = OnceLock::new();
    VALID.get_or_init(|| {
        let document = json!({
            "issuer": ISSUER,
            "authorization_endpoint": "https://login.example.com/authorize",
            "token_endpoint": "https://login.example.com/token",
            "jwks_uri": "https://login.example.com/jwks",
        });
        document.as_object().cloned().unwrap_or_default()
    })
}

fuzz_target!(|input: &[u8]| {
    let Ok(Value::Object(document)) = serde_json::from_slice::<Value>(input) else {
        return;
    };
    discovery(&document, ISSUER);
    match document.get("issuer") {
        Some(Value::String(issuer)) => discovery(&document, issuer),
        Some(_) => {}
        None => {
            let mut laid = valid().clone();
            laid.extend(document);
            discovery(&laid, ISSUER);
        }
    }
});
