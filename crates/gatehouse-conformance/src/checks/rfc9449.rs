//! RFC 9449: DPoP, tokens bound to a key the client proves it holds. Checked as a DPoP client
//! would meet it: the metadata, a code redeemed with a proof, the bound token at the resource
//! with and without a proof of its key, and the public client's refresh token. A server that
//! requires nonces (§8, §9) is followed: a `use_dpop_nonce` answer is retried once with the
//! nonce it handed out.
//!
//! A server that does not advertise `dpop_signing_alg_values_supported` does not do DPoP: every
//! check is skipped.

use std::str::FromStr;

use gatehouse_jose::Algorithm;
use gatehouse_jose::dpop::DpopProver;
use serde_json::Value;

use crate::context::{Client, Context, Pkce, REDIRECT_URI, client_auth, jwt_part, tokens_of};
use crate::http::{Exchange, Req};
use crate::report::{Outcome, Report, Step, ensure, fail, skip};

checks! {
    METADATA = "rfc9449-5.1-metadata-algs", "RFC 9449 §5.1", Should,
        "the authorization server metadata lists dpop_signing_alg_values_supported, asymmetric algorithms only";
    TOKEN_BOUND = "rfc9449-5-token-bound-to-proof-key", "RFC 9449 §5, §6.1", Must,
        "a code redeemed with a DPoP proof gets token_type DPoP and an access token whose cnf.jkt is the proof key's thumbprint";
    TOKEN_OTHER_URI = "rfc9449-4.3-token-proof-for-another-uri", "RFC 9449 §4.3, §5", Must,
        "a token request whose proof names another URI gets 400 invalid_dpop_proof";
    REFRESH_BOUND = "rfc9449-5-public-refresh-token-bound", "RFC 9449 §5", Must,
        "the public client's refresh token, presented with a proof of another key, is refused with 400";
    RESOURCE_ACCEPTS = "rfc9449-7.1-resource-accepts-proof", "RFC 9449 §7.1", Must,
        "the resource accepts the bound token with the DPoP scheme and a proof of its key";
    BEARER_REFUSED = "rfc9449-7.2-bound-token-as-bearer-refused", "RFC 9449 §7.2", Must,
        "the bound token sent with the Bearer scheme gets 401";
    OTHER_KEY = "rfc9449-7.1-proof-of-another-key-refused", "RFC 9449 §7.1, §6.1", Must,
        "the bound token with a proof made by another key gets 401 with a DPoP challenge naming algs";
    OTHER_URI = "rfc9449-4.3-resource-proof-for-another-uri", "RFC 9449 §4.3", Must,
        "the bound token with a proof for another URI gets 401";
    REPLAY = "rfc9449-11.1-proof-replay-refused", "RFC 9449 §11.1", Should,
        "the same proof sent a second time is refused with 401";
}

/// Runs the RFC 9449 checks.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    let algs: Vec<String> = ctx
        .metadata
        .as_ref()
        .and_then(|m| m.get("dpop_signing_alg_values_supported"))
        .and_then(Value::as_array)
        .map(|algs| {
            algs.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if algs.is_empty() {
        report.skip_all(
            CHECKS,
            "the server does not advertise dpop_signing_alg_values_supported",
        );
        return;
    }
    report.record(
        &METADATA,
        ensure(
            algs.iter()
                .all(|a| !a.eq_ignore_ascii_case("none") && !a.starts_with("HS")),
            || format!("dpop_signing_alg_values_supported is {algs:?}"),
        )
        .map(|()| Outcome::Pass(format!("dpop_signing_alg_values_supported: {algs:?}"))),
    );
    let Some(alg) = ["ES256", "EdDSA", "PS256", "RS256"]
        .into_iter()
        .find(|a| algs.iter().any(|s| s == a))
        .and_then(|a| Algorithm::from_str(a).ok())
    else {
        report.skip_all(
            after(1),
            &format!("none of {algs:?} is an algorithm this checker signs with"),
        );
        return;
    };
    let (Ok(key), Ok(other)) = (DpopProver::generate(alg), DpopProver::generate(alg)) else {
        report.skip_all(after(1), "no DPoP key could be generated");
        return;
    };
    let client = match ctx.client() {
        Ok(client) => client,
        Err(outcome) => {
            report.skip_all(after(1), &format!("{outcome:?}"));
            return;
        }
    };
    let token_endpoint = match ctx.endpoint("token_endpoint") {
        Ok(endpoint) => endpoint,
        Err(outcome) => {
            report.skip_all(after(1), &format!("{outcome:?}"));
            return;
        }
    };

    report.record(
        &TOKEN_OTHER_URI,
        async {
            let pkce = Pkce::new()?;
            let (_, code) = ctx.code(&client, &pkce, Some("mcp:tools")).await?;
            let elsewhere = format!("{}/elsewhere", ctx.issuer.trim_end_matches('/'));
            let ex = token_request(
                ctx,
                &client,
                &code_fields(&code, &pkce.verifier, &ctx.resource),
                &key,
                &elsewhere,
            )
            .await?;
            ex.oauth_error(400, "invalid_dpop_proof")?;
            Ok(ex.pass())
        }
        .await,
    );

    let bound = async {
        let pkce = Pkce::new()?;
        let (_, code) = ctx.code(&client, &pkce, Some("mcp:tools")).await?;
        let fields = code_fields(&code, &pkce.verifier, &ctx.resource);
        let ex = token_request(ctx, &client, &fields, &key, &token_endpoint).await?;
        let tokens = tokens_of(ex)?;
        let ex = &tokens.response;
        let token_type = ex.json_str("token_type").unwrap_or_default();
        ensure(token_type.eq_ignore_ascii_case("DPoP"), || {
            format!("token_type is {token_type:?}: {}", ex.summary())
        })?;
        let jkt = jwt_part(&tokens.access, 1)
            .and_then(|claims| claims.get("cnf").cloned())
            .and_then(|cnf| cnf.get("jkt").and_then(Value::as_str).map(str::to_owned));
        ensure(jkt.as_deref() == Some(key.jkt()), || {
            format!("cnf.jkt is {jkt:?}, the proof key's is {}", key.jkt())
        })?;
        Ok(tokens)
    }
    .await;
    report.record(
        &TOKEN_BOUND,
        bound
            .as_ref()
            .map(|t| t.response.pass())
            .map_err(Clone::clone),
    );
    let tokens = match bound {
        Ok(tokens) => tokens,
        Err(outcome) => {
            report.skip_all(after(3), &format!("no bound token: {outcome:?}"));
            return;
        }
    };
    let access = tokens.access.as_str();

    report.record(
        &RESOURCE_ACCEPTS,
        async {
            let ex = resource_request(ctx, access, &key, &ctx.resource, None).await?;
            ensure(ex.status < 300, || {
                format!("not accepted: {}", ex.summary())
            })?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &BEARER_REFUSED,
        async {
            let ex = ctx.mcp_initialize(Some(access)).await?;
            ex.status_is(401)?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &OTHER_KEY,
        async {
            let ex = resource_request(ctx, access, &other, &ctx.resource, None).await?;
            ex.status_is(401)?;
            let challenge = ex
                .header_all("www-authenticate")
                .into_iter()
                .find(|c| c.len() > 5 && c[..5].eq_ignore_ascii_case("DPoP "))
                .map(str::to_owned)
                .ok_or_else(|| ex.fail("no DPoP challenge"))?;
            ensure(challenge.contains("algs="), || {
                format!("the DPoP challenge names no algs: {challenge}")
            })?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &OTHER_URI,
        async {
            let elsewhere = format!("{}-elsewhere", ctx.resource.trim_end_matches('/'));
            let ex = resource_request(ctx, access, &key, &elsewhere, None).await?;
            ex.status_is(401)?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &REPLAY,
        async {
            let first = resource_request(ctx, access, &key, &ctx.resource, None).await?;
            ensure(first.status < 300, || {
                format!("the first use was refused: {}", first.summary())
            })?;
            let proof = first
                .sent_proof
                .clone()
                .ok_or_else(|| fail("the proof sent is unknown"))?;
            let again = resource_request(ctx, access, &key, &ctx.resource, Some(&proof)).await?;
            again.exchange.status_is(401)?;
            Ok(again.exchange.pass())
        }
        .await,
    );
    report.record(
        &REFRESH_BOUND,
        async {
            let refresh = tokens
                .refresh
                .clone()
                .ok_or_else(|| skip("the server issued no refresh token"))?;
            let fields = [
                ("grant_type", "refresh_token"),
                ("refresh_token", refresh.as_str()),
            ];
            let ex = token_request(ctx, &client, &fields, &other, &token_endpoint).await?;
            ensure(ex.status == 400, || {
                format!("expected 400: {}", ex.summary())
            })?;
            Ok(ex.pass())
        }
        .await,
    );
}

/// The checks from the `n`th on: those that depend on what an earlier one obtained.
fn after(n: usize) -> &'static [&'static crate::report::Check] {
    CHECKS.get(n..).unwrap_or_default()
}

fn code_fields<'a>(code: &'a str, verifier: &'a str, resource: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("grant_type", "authorization_code"),
        ("code", code),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier),
        ("resource", resource),
    ]
}

/// A token request with a proof of `key` for `htu`, retried once with the server's nonce if it
/// asks for one (§8).
async fn token_request(
    ctx: &Context,
    client: &Client,
    fields: &[(&str, &str)],
    key: &DpopProver,
    htu: &str,
) -> Step<Exchange> {
    let endpoint = ctx.endpoint("token_endpoint")?;
    let mut nonce: Option<String> = None;
    loop {
        let proof = key
            .proof("POST", htu, now(), None, nonce.as_deref())
            .map_err(|e| fail(format!("no proof could be made: {e}")))?;
        let ex = ctx
            .http
            .send(client_auth(client, &endpoint, fields).header("dpop", &proof))
            .await?;
        match asked_nonce(&ex) {
            Some(asked) if nonce.is_none() => nonce = Some(asked),
            _ => return Ok(ex),
        }
    }
}

/// An exchange with the resource, and the proof it carried.
struct Proved {
    exchange: Exchange,
    sent_proof: Option<String>,
}

impl std::ops::Deref for Proved {
    type Target = Exchange;
    fn deref(&self) -> &Exchange {
        &self.exchange
    }
}

/// MCP `initialize` with the DPoP scheme and a proof of `key` for `htu` (or exactly `fixed`,
/// to replay it), retried once with the resource's nonce if it asks for one (§9) and the proof
/// is made here.
async fn resource_request(
    ctx: &Context,
    token: &str,
    key: &DpopProver,
    htu: &str,
    fixed: Option<&str>,
) -> Step<Proved> {
    let mut nonce: Option<String> = None;
    loop {
        let proof = match fixed {
            Some(proof) => proof.to_owned(),
            None => key
                .proof("POST", htu, now(), Some(token), nonce.as_deref())
                .map_err(|e| fail(format!("no proof could be made: {e}")))?,
        };
        let req = Req::json("POST", &ctx.resource, &crate::context::initialize_message())
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .header("authorization", &format!("DPoP {token}"))
            .header("dpop", &proof);
        let exchange = ctx.http.send(req).await?;
        match asked_nonce(&exchange) {
            Some(asked) if nonce.is_none() && fixed.is_none() => nonce = Some(asked),
            _ => {
                return Ok(Proved {
                    exchange,
                    sent_proof: Some(proof),
                });
            }
        }
    }
}

/// The nonce a `use_dpop_nonce` answer hands out (§8: 400 with the error in the body; §9: 401
/// with it in the `DPoP` challenge), if this is one.
fn asked_nonce(ex: &Exchange) -> Option<String> {
    let asks = ex.json_str("error").as_deref() == Some("use_dpop_nonce")
        || ex
            .header_all("www-authenticate")
            .iter()
            .any(|c| c.contains("use_dpop_nonce"));
    asks.then(|| ex.header("dpop-nonce").map(str::to_owned))
        .flatten()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}
