//! RFC 9068: JWT access tokens, verified against the JWKS (RFC 7517).

use gatehouse_jose::{AccessTokenValidator, KeySet};
use serde_json::Value;

use crate::context::{Context, jwt_part};
use crate::report::{Outcome, Report, Step, ensure, fail, skip};

checks! {
    TYP = "rfc9068-2.1-typ-at-jwt", "RFC 9068 §2.1", Must,
        "the access token is a JWS whose header `typ` is at+jwt (or application/at+jwt)";
    ALG = "rfc9068-2.1-alg-asymmetric", "RFC 9068 §2.1, RFC 8725 §3.1", Must,
        "the header `alg` is not `none` and not an HMAC algorithm";
    CLAIMS = "rfc9068-2.2-required-claims", "RFC 9068 §2.2", Must,
        "iss (= issuer), sub, aud, exp (> iat), iat, jti and client_id (= the client) are present";
    SCOPE = "rfc9068-2.2.3-scope-claim", "RFC 9068 §2.2.3", Should,
        "a token requested with `scope` has a `scope` claim containing it";
    SIGNATURE = "rfc9068-4-signature-verifies", "RFC 9068 §4, RFC 7517", Must,
        "the token verifies with a key of the JWKS (issuer and audience checked)";
    TAMPERED = "rfc9068-4-tampered-token-refused", "RFC 9068 §4, RFC 6750 §3.1", Must,
        "the token with an altered payload is refused by the resource with 401 invalid_token";
}

/// Runs the RFC 9068 checks.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    let client = match ctx.client() {
        Ok(client) => client,
        Err(outcome) => {
            report.skip_all(CHECKS, &format!("{outcome:?}"));
            return;
        }
    };
    let tokens = match ctx.tokens(&client, Some("mcp:tools")).await {
        Ok(tokens) => tokens,
        Err(outcome) => {
            report.skip_all(CHECKS, &format!("no access token: {outcome:?}"));
            return;
        }
    };
    let ex = &tokens.response;
    let header = jwt_part(&tokens.access, 0);
    let claims = jwt_part(&tokens.access, 1);
    let header_str = |n: &str| {
        header
            .as_ref()
            .and_then(|h| h.get(n))
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let typ = header_str("typ");
    report.record(
        &TYP,
        ensure(
            typ.as_deref().is_some_and(|t| {
                t.eq_ignore_ascii_case("at+jwt") || t.eq_ignore_ascii_case("application/at+jwt")
            }),
            || format!("typ is {typ:?}: {}", ex.summary()),
        )
        .map(|()| ex.pass()),
    );
    let alg = header_str("alg");
    report.record(
        &ALG,
        ensure(
            alg.as_deref()
                .is_some_and(|a| !a.eq_ignore_ascii_case("none") && !a.starts_with("HS")),
            || format!("alg is {alg:?}: {}", ex.summary()),
        )
        .map(|()| ex.pass()),
    );
    let claim = |n: &str| claims.as_ref().and_then(|c| c.get(n)).cloned();
    report.record(
        &CLAIMS,
        (|| -> Step<Outcome> {
            let missing: Vec<&str> = ["iss", "sub", "aud", "exp", "iat", "jti", "client_id"]
                .into_iter()
                .filter(|n| claim(n).is_none())
                .collect();
            ensure(missing.is_empty(), || {
                format!("missing claims {missing:?} in {claims:?}")
            })?;
            ensure(
                claim("iss")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .as_deref()
                    == Some(ctx.issuer.as_str()),
                || format!("iss is {:?}", claim("iss")),
            )?;
            ensure(
                claim("client_id")
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .as_deref()
                    == Some(client.id.as_str()),
                || {
                    format!(
                        "client_id is {:?}, expected {}",
                        claim("client_id"),
                        client.id
                    )
                },
            )?;
            let exp = claim("exp").and_then(|v| v.as_u64());
            let iat = claim("iat").and_then(|v| v.as_u64());
            ensure(matches!((exp, iat), (Some(e), Some(i)) if e > i), || {
                format!("exp {exp:?} not after iat {iat:?}")
            })?;
            Ok(Outcome::Pass(format!(
                "claims {}",
                serde_json::to_string(&claims).unwrap_or_default()
            )))
        })(),
    );
    report.record(
        &SCOPE,
        ensure(
            claim("scope")
                .and_then(|v| v.as_str().map(str::to_owned))
                .is_some_and(|s| s.split(' ').any(|s| s == "mcp:tools")),
            || format!("scope claim is {:?} (requested mcp:tools)", claim("scope")),
        )
        .map(|()| ex.pass()),
    );
    report.record(&SIGNATURE, signature(ctx, &tokens.access));
    report.record(
        &TAMPERED,
        async {
            let tampered =
                tamper(&tokens.access).ok_or_else(|| fail("the token is not a compact JWS"))?;
            let ex = ctx.mcp_initialize(Some(&tampered)).await?;
            ex.status_is(401)?;
            let params = crate::context::bearer_challenge(&ex)
                .ok_or_else(|| ex.fail("no Bearer challenge"))?;
            ensure(
                params
                    .iter()
                    .any(|(n, v)| n == "error" && v == "invalid_token"),
                || format!("no error=invalid_token: {}", ex.summary()),
            )?;
            Ok(ex.pass())
        }
        .await,
    );
}

fn signature(ctx: &Context, token: &str) -> Step<Outcome> {
    let jwks = ctx
        .jwks
        .as_ref()
        .ok_or_else(|| skip("no JWKS was fetched"))?;
    let (keys, _) =
        KeySet::from_jwks_json(jwks).map_err(|e| fail(format!("the JWKS does not parse: {e}")))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let verified = AccessTokenValidator::new(ctx.issuer.clone(), ctx.resource.clone())
        .with_leeway(60)
        .validate(token, &keys, now)
        .map_err(|e| fail(format!("the token does not verify against the JWKS: {e}")))?;
    Ok(Outcome::Pass(format!(
        "verified with {} key(s); kid {:?}, alg {:?}",
        keys.keys().len(),
        verified.header().kid(),
        verified.header().alg()
    )))
}

/// The token with `sub` changed in its payload (signature left as is).
fn tamper(token: &str) -> Option<String> {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let mut parts = token.split('.');
    let (header, _, sig) = (parts.next()?, parts.next()?, parts.next()?);
    let mut claims = jwt_part(token, 1)?;
    claims.insert(
        "sub".to_owned(),
        Value::String("gatehouse-conformance-attacker".to_owned()),
    );
    let payload = Base64UrlUnpadded::encode_string(serde_json::to_string(&claims).ok()?.as_bytes());
    Some(format!("{header}.{payload}.{sig}"))
}
