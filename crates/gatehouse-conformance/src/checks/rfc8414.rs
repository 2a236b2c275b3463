//! RFC 8414: authorization server metadata (and the JWKS it points to, RFC 7517).

use serde_json::Value;

use crate::context::Context;
use crate::http::Exchange;
use crate::report::{Report, Step, ensure, fail};

checks! {
    WELL_KNOWN = "rfc8414-3.1-well-known-url", "RFC 8414 §3.1", Must,
        "metadata is served at /.well-known/oauth-authorization-server, inserted before the issuer's path";
    JSON_TYPE = "rfc8414-3.2-json-content-type", "RFC 8414 §3.2", Must,
        "the metadata response is 200 with Content-Type application/json";
    ISSUER_MATCHES = "rfc8414-3.3-issuer-matches", "RFC 8414 §3.3", Must,
        "the `issuer` member is byte-identical to the issuer the document was fetched for";
    REQUIRED_MEMBERS = "rfc8414-2-required-members", "RFC 8414 §2", Must,
        "issuer, authorization_endpoint, token_endpoint and response_types_supported are present";
    RESPONSE_TYPES = "rfc8414-2-response-types-code-only", "RFC 8414 §2, OAuth 2.1 §4.1", Must,
        "response_types_supported includes `code` and no implicit (`token`) response type";
    GRANT_TYPES = "rfc8414-2-grant-types", "RFC 8414 §2, OAuth 2.1 §4", Should,
        "grant_types_supported is present, includes authorization_code and no implicit or password grant";
    PKCE_S256 = "rfc8414-2-code-challenge-s256", "RFC 8414 §2, OAuth 2.1 §4.1.1", Must,
        "code_challenge_methods_supported is present and includes S256 (MCP clients refuse servers without it)";
    PKCE_NO_PLAIN = "rfc8414-2-code-challenge-no-plain", "RFC 8414 §2, OAuth 2.1 §4.1.1", Should,
        "code_challenge_methods_supported does not include `plain`";
    ENDPOINTS_TLS = "rfc8414-2-endpoints-https", "RFC 8414 §2, OAuth 2.1 §1.5", Must,
        "every advertised endpoint URL (and jwks_uri) is https, or http on a loopback host";
    ISS_ADVERTISED = "rfc9207-3-iss-parameter-supported", "RFC 9207 §3", Should,
        "authorization_response_iss_parameter_supported is true";
    CIMD_ADVERTISED = "mcp-2026-07-28-cimd-advertised", "MCP 2026-07-28 client registration, draft-ietf-oauth-client-id-metadata-document §4", Should,
        "client_id_metadata_document_supported is true (the 2026-07-28 revision recommends Client ID Metadata Documents over dynamic registration)";
    UNKNOWN_WELL_KNOWN = "rfc8414-3.1-unknown-well-known-404", "RFC 8414 §3.1", Should,
        "a well-known name that is not defined answers 404, not a metadata document";
    JWKS_PUBLIC = "rfc7517-5-jwks-public-keys-only", "RFC 7517 §5, RFC 8414 §2", Must,
        "jwks_uri serves a JSON JWK Set with at least one key and no private members (d, p, q, dp, dq, qi, oth, k)";
    JWKS_KID_UNIQUE = "rfc7517-4.5-jwks-kid-distinct", "RFC 7517 §4.5", Should,
        "every key of the JWK Set has a `kid`, and no two keys share one";
}

/// The well-known URL for `issuer` with `suffix` inserted between host and path (RFC 8414 §3.1,
/// RFC 9728 §3.1).
pub(crate) fn well_known(issuer: &str, suffix: &str) -> Option<String> {
    let url = url::Url::parse(issuer).ok()?;
    let path = url.path().trim_end_matches('/');
    let mut origin = url.origin().ascii_serialization();
    origin.push_str("/.well-known/");
    origin.push_str(suffix);
    origin.push_str(path);
    Some(origin)
}

/// Runs the RFC 8414 checks and stores the metadata in `ctx`.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    let Some(url) = well_known(&ctx.issuer, "oauth-authorization-server") else {
        report.record(
            &WELL_KNOWN,
            Err(fail(format!("the issuer {} is not a URL", ctx.issuer))),
        );
        return;
    };
    let ex = match ctx.http.get(&url).await {
        Ok(ex) => ex,
        Err(outcome) => {
            report.record(&WELL_KNOWN, Err(outcome));
            return;
        }
    };
    let metadata = ex.json_object().ok().filter(|_| ex.status == 200);
    report.record(
        &WELL_KNOWN,
        match &metadata {
            Some(_) => Ok(ex.pass()),
            None => Err(ex.fail("expected 200 with a JSON object")),
        },
    );
    report.record(&JSON_TYPE, json_type(&ex));
    let Some(metadata) = metadata else { return };
    ctx.metadata = Some(metadata.clone());
    let get = |name: &str| metadata.get(name);
    let strings = |name: &str| -> Option<Vec<String>> {
        get(name)?.as_array().map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
    };

    report.record(
        &ISSUER_MATCHES,
        ensure(
            get("issuer").and_then(Value::as_str) == Some(ctx.issuer.as_str()),
            || {
                format!(
                    "issuer {:?} is not {:?}: {}",
                    get("issuer"),
                    ctx.issuer,
                    ex.summary()
                )
            },
        )
        .map(|()| ex.pass()),
    );
    let missing: Vec<&str> = [
        "issuer",
        "authorization_endpoint",
        "token_endpoint",
        "response_types_supported",
    ]
    .into_iter()
    .filter(|name| get(name).is_none())
    .collect();
    report.record(
        &REQUIRED_MEMBERS,
        ensure(missing.is_empty(), || {
            format!("missing {missing:?}: {}", ex.summary())
        })
        .map(|()| ex.pass()),
    );
    let response_types = strings("response_types_supported").unwrap_or_default();
    report.record(
        &RESPONSE_TYPES,
        ensure(
            response_types.iter().any(|t| t == "code")
                && !response_types
                    .iter()
                    .any(|t| t.split(' ').any(|p| p == "token")),
            || format!("response_types_supported is {response_types:?}"),
        )
        .map(|()| ex.pass()),
    );
    report.record(
        &GRANT_TYPES,
        match strings("grant_types_supported") {
            None => Err(fail(
                "grant_types_supported is absent: its RFC 8414 default includes `implicit`",
            )),
            Some(grants) => ensure(
                grants.iter().any(|g| g == "authorization_code")
                    && !grants.iter().any(|g| g == "implicit" || g == "password"),
                || format!("grant_types_supported is {grants:?}"),
            )
            .map(|()| ex.pass()),
        },
    );
    let methods = strings("code_challenge_methods_supported");
    report.record(
        &PKCE_S256,
        ensure(
            methods
                .as_ref()
                .is_some_and(|m| m.iter().any(|m| m == "S256")),
            || format!("code_challenge_methods_supported is {methods:?}"),
        )
        .map(|()| ex.pass()),
    );
    report.record(
        &PKCE_NO_PLAIN,
        ensure(
            !methods
                .as_ref()
                .is_some_and(|m| m.iter().any(|m| m == "plain")),
            || format!("code_challenge_methods_supported is {methods:?}"),
        )
        .map(|()| ex.pass()),
    );
    let insecure: Vec<String> = metadata
        .iter()
        .filter(|(name, _)| name.ends_with("_endpoint") || name.as_str() == "jwks_uri")
        .filter_map(|(name, value)| {
            let text = value.as_str()?;
            (!secure_url(text)).then(|| format!("{name}={text}"))
        })
        .collect();
    report.record(
        &ENDPOINTS_TLS,
        ensure(insecure.is_empty(), || {
            format!("not https and not loopback: {insecure:?}")
        })
        .map(|()| ex.pass()),
    );
    report.record(
        &ISS_ADVERTISED,
        ensure(
            get("authorization_response_iss_parameter_supported") == Some(&Value::Bool(true)),
            || {
                format!(
                    "authorization_response_iss_parameter_supported is {:?}",
                    get("authorization_response_iss_parameter_supported")
                )
            },
        )
        .map(|()| ex.pass()),
    );
    report.record(
        &CIMD_ADVERTISED,
        ensure(
            get("client_id_metadata_document_supported") == Some(&Value::Bool(true)),
            || {
                format!(
                    "client_id_metadata_document_supported is {:?}",
                    get("client_id_metadata_document_supported")
                )
            },
        )
        .map(|()| ex.pass()),
    );
    report.record(&UNKNOWN_WELL_KNOWN, unknown_well_known(ctx).await);
    jwks(ctx, report).await;
}

fn json_type(ex: &Exchange) -> Step<crate::report::Outcome> {
    ex.status_is(200)?;
    ensure(ex.is_json_type(), || {
        format!("Content-Type is not application/json: {}", ex.summary())
    })?;
    Ok(ex.pass())
}

/// https, or http on a loopback host (OAuth 2.1 §1.5, RFC 8252 §8.3).
pub(crate) fn secure_url(text: &str) -> bool {
    let Ok(url) = url::Url::parse(text) else {
        return false;
    };
    match url.scheme() {
        "https" => true,
        "http" => match url.host() {
            Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
            Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
            Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
            None => false,
        },
        _ => false,
    }
}

async fn unknown_well_known(ctx: &Context) -> Step<crate::report::Outcome> {
    let url = well_known(&ctx.issuer, "gatehouse-conformance-undefined")
        .ok_or_else(|| fail("the issuer is not a URL"))?;
    let ex = ctx.http.get(&url).await?;
    ex.status_is(404)?;
    Ok(ex.pass())
}

async fn jwks(ctx: &mut Context, report: &mut Report) {
    let ex = match ctx.endpoint("jwks_uri") {
        Ok(uri) => ctx.http.get(&uri).await,
        Err(outcome) => Err(outcome),
    };
    let ex = match ex {
        Ok(ex) => ex,
        Err(outcome) => {
            report.record(&JWKS_PUBLIC, Err(outcome.clone()));
            report.record(&JWKS_KID_UNIQUE, Err(outcome));
            return;
        }
    };
    let keys = ex
        .json_object()
        .ok()
        .and_then(|o| o.get("keys").and_then(Value::as_array).cloned());
    let Some(keys) = keys.filter(|k| ex.status == 200 && !k.is_empty()) else {
        report.record(
            &JWKS_PUBLIC,
            Err(ex.fail("expected 200 with a non-empty `keys` array")),
        );
        report.skip(&JWKS_KID_UNIQUE, "no JWK Set");
        return;
    };
    ctx.jwks = Some(ex.body.clone());
    let private: Vec<String> = keys
        .iter()
        .flat_map(|key| {
            ["d", "p", "q", "dp", "dq", "qi", "oth", "k"]
                .into_iter()
                .filter(|m| key.get(m).is_some())
                .map(|m| format!("{m} in key {:?}", key.get("kid")))
        })
        .collect();
    report.record(
        &JWKS_PUBLIC,
        ensure(private.is_empty() && ex.is_json_type(), || {
            format!("private members {private:?} or not JSON: {}", ex.summary())
        })
        .map(|()| ex.pass()),
    );
    let kids: Vec<Option<&str>> = keys
        .iter()
        .map(|k| k.get("kid").and_then(Value::as_str))
        .collect();
    let distinct = kids
        .iter()
        .enumerate()
        .all(|(i, k)| k.is_some() && !kids.iter().skip(i + 1).any(|o| o == k));
    report.record(
        &JWKS_KID_UNIQUE,
        ensure(distinct, || format!("kids {kids:?}")).map(|()| ex.pass()),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc8414_3_1_path_insertion() {
        assert_eq!(
            well_known("https://example.com/issuer1", "oauth-authorization-server").unwrap(),
            "https://example.com/.well-known/oauth-authorization-server/issuer1"
        );
        assert_eq!(
            well_known("https://example.com", "oauth-authorization-server").unwrap(),
            "https://example.com/.well-known/oauth-authorization-server"
        );
    }

    #[test]
    fn loopback_http_is_secure_enough() {
        assert!(secure_url("http://127.0.0.1:8080/token"));
        assert!(secure_url("https://a.example/token"));
        assert!(!secure_url("http://a.example/token"));
    }
}
