//! The authorization endpoint: OAuth 2.1 §4.1.1–4.1.2.1 with PKCE (RFC 7636) and the `iss`
//! response parameter (RFC 9207). The target must auto-approve, so a valid request answers a
//! redirect with a code at once.
//!
//! An error response may arrive as a redirect, or as a page that links to the redirect URI
//! (RFC 9700 §4.11.2: a server may show where it sends the user after an error for a
//! self-registered client); both count as delivering the error to the client.

use crate::context::{Client, Context, Pkce, REDIRECT_URI, client_redirect, links, param, random};
use crate::http::Exchange;
use crate::report::{Outcome, Report, Step, ensure};

checks! {
    CODE_REDIRECT = "oauth21-4.1.2-code-redirect", "OAuth 2.1 §4.1.2", Must,
        "a valid request (PKCE S256) is answered with a redirect to the registered redirect URI carrying `code` and the same `state`";
    ISS_SUCCESS = "rfc9207-2-iss-on-success", "RFC 9207 §2", Must,
        "the authorization response carries `iss` equal to the issuer (mix-up defence)";
    CHALLENGE_REQUIRED = "oauth21-4.1.1-code-challenge-required", "OAuth 2.1 §4.1.1, §4.1.2.1", Must,
        "a request without code_challenge gets error=invalid_request at the redirect URI, and no code";
    ERROR_STATE = "oauth21-4.1.2.1-error-carries-state", "OAuth 2.1 §4.1.2.1", Must,
        "an error response to the client carries the request's `state`";
    ISS_ERROR = "rfc9207-2-iss-on-error", "RFC 9207 §2", Must,
        "an error response to the client carries `iss` equal to the issuer";
    PLAIN_REFUSED = "rfc7636-4.4.1-plain-refused", "RFC 7636 §4.4.1, OAuth 2.1 §4.1.1", Must,
        "code_challenge_method=plain (not advertised) gets error=invalid_request, and no code";
    UNKNOWN_METHOD = "rfc7636-4.4.1-unknown-method-refused", "RFC 7636 §4.4.1", Must,
        "an unsupported code_challenge_method gets error=invalid_request, and no code";
    UNSUPPORTED_RESPONSE_TYPE = "oauth21-4.1.2.1-unsupported-response-type", "OAuth 2.1 §4.1.2.1", Must,
        "response_type=token gets error=unsupported_response_type, and no token";
    REPEATED_PARAMETER = "oauth21-3.1-repeated-parameter-refused", "OAuth 2.1 §3.1", Must,
        "a request with code_challenge sent twice is refused, and no code is issued";
    UNREGISTERED_REDIRECT = "oauth21-4.1.2.1-unregistered-redirect-not-used", "OAuth 2.1 §4.1.2.1, RFC 9700 §4.1", Must,
        "an unregistered redirect_uri is refused on a page: no Location to it, no link to it";
    REDIRECT_EXACT_MATCH = "oauth21-2.3.1-redirect-uri-exact-match", "OAuth 2.1 §2.3.1, RFC 9700 §4.1.3", Must,
        "a redirect_uri that differs from the registered one only in its path is refused and not used";
    UNKNOWN_CLIENT = "oauth21-4.1.2.1-unknown-client-not-redirected", "OAuth 2.1 §4.1.2.1", Must,
        "an unknown client_id is refused on a page, never redirected";
}

/// Runs the authorization endpoint checks.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    let client = match ctx.client() {
        Ok(client) => client,
        Err(outcome) => {
            let reason = format!("{outcome:?}");
            report.skip_all(CHECKS, &reason);
            return;
        }
    };
    let success = success(ctx, &client).await;
    report.record(&CODE_REDIRECT, success.clone().map(|(o, _)| o));
    report.record(
        &ISS_SUCCESS,
        success.and_then(|(_, ex)| iss_is_issuer(ctx, &ex)),
    );

    let Ok(pkce) = Pkce::new() else { return };
    let state = random().unwrap_or_else(|_| "state".to_owned());
    let base = ctx.authorization_params(&client, &pkce, &state, None);
    let without = |names: &[&str]| -> Vec<(&str, &str)> {
        base.iter()
            .copied()
            .filter(|(n, _)| !names.contains(n))
            .collect()
    };

    let missing = ctx
        .authorize(&without(&["code_challenge", "code_challenge_method"]))
        .await;
    report.record(
        &CHALLENGE_REQUIRED,
        missing
            .clone()
            .and_then(|ex| error_delivered(&ex, "invalid_request").map(|_| ex.pass())),
    );
    report.record(
        &ERROR_STATE,
        missing.clone().and_then(|ex| {
            let params = error_delivered(&ex, "invalid_request")?;
            ensure(
                param(&params, "state").as_deref() == Some(state.as_str()),
                || {
                    format!(
                        "state is {:?}, sent {state}: {}",
                        param(&params, "state"),
                        ex.summary()
                    )
                },
            )?;
            Ok(ex.pass())
        }),
    );
    report.record(
        &ISS_ERROR,
        missing.and_then(|ex| {
            error_delivered(&ex, "invalid_request")?;
            iss_is_issuer(ctx, &ex)
        }),
    );

    let mut plain = without(&["code_challenge_method"]);
    plain.push(("code_challenge_method", "plain"));
    report.record(
        &PLAIN_REFUSED,
        refused_with(ctx, &plain, "invalid_request").await,
    );
    let mut unknown = without(&["code_challenge_method"]);
    unknown.push(("code_challenge_method", "S512"));
    report.record(
        &UNKNOWN_METHOD,
        refused_with(ctx, &unknown, "invalid_request").await,
    );
    let mut implicit = without(&["response_type"]);
    implicit.push(("response_type", "token"));
    report.record(
        &UNSUPPORTED_RESPONSE_TYPE,
        async {
            let ex = ctx.authorize(&implicit).await?;
            ensure(
                !ex.header("location")
                    .is_some_and(|l| l.contains("access_token")),
                || format!("a token was issued: {}", ex.summary()),
            )?;
            error_delivered(&ex, "unsupported_response_type")?;
            Ok(ex.pass())
        }
        .await,
    );
    let mut repeated = base.clone();
    repeated.push(("code_challenge", pkce.challenge.as_str()));
    report.record(
        &REPEATED_PARAMETER,
        async {
            let ex = ctx.authorize(&repeated).await?;
            no_code(&ex)?;
            ensure(ex.status >= 300, || {
                format!("not refused: {}", ex.summary())
            })?;
            Ok(ex.pass())
        }
        .await,
    );

    let attacker = "https://attacker.example/callback";
    let mut open = without(&["redirect_uri"]);
    open.push(("redirect_uri", attacker));
    report.record(
        &UNREGISTERED_REDIRECT,
        not_sent_to(ctx, &open, attacker).await,
    );
    let sibling = format!("{REDIRECT_URI}/other");
    let mut path = without(&["redirect_uri"]);
    path.push(("redirect_uri", sibling.as_str()));
    report.record(
        &REDIRECT_EXACT_MATCH,
        not_sent_to(ctx, &path, &sibling).await,
    );
    let mut stranger = without(&["client_id"]);
    stranger.push(("client_id", "gatehouse-conformance-unknown-client"));
    report.record(
        &UNKNOWN_CLIENT,
        not_sent_to(ctx, &stranger, REDIRECT_URI).await,
    );
}

async fn success(ctx: &Context, client: &Client) -> Step<(Outcome, Exchange)> {
    let pkce = Pkce::new()?;
    let state = random()?;
    let ex = ctx
        .authorize(&ctx.authorization_params(client, &pkce, &state, None))
        .await?;
    ensure(matches!(ex.status, 302 | 303 | 307), || {
        format!(
            "expected a redirect (is auto-approve on?): {}",
            ex.summary()
        )
    })?;
    let params = client_redirect(&ex)
        .ok_or_else(|| ex.fail("the Location is not the registered redirect URI"))?;
    ensure(
        param(&params, "code").is_some_and(|c| !c.is_empty()),
        || format!("no code: {}", ex.summary()),
    )?;
    ensure(
        param(&params, "state").as_deref() == Some(state.as_str()),
        || format!("state not echoed (sent {state}): {}", ex.summary()),
    )?;
    Ok((ex.pass(), ex))
}

fn iss_is_issuer(ctx: &Context, ex: &Exchange) -> Step<Outcome> {
    let params = client_redirect(ex).ok_or_else(|| ex.fail("no response to the client"))?;
    ensure(
        param(&params, "iss").as_deref() == Some(ctx.issuer.as_str()),
        || {
            format!(
                "iss is {:?}, expected {:?}: {}",
                param(&params, "iss"),
                ctx.issuer,
                ex.summary()
            )
        },
    )?;
    Ok(ex.pass())
}

/// The error response delivered to the client: `error` equal to `code`, and no `code`.
fn error_delivered(ex: &Exchange, code: &str) -> Step<Vec<(String, String)>> {
    let params = client_redirect(ex)
        .ok_or_else(|| ex.fail("expected an error response to the redirect URI"))?;
    ensure(param(&params, "code").is_none(), || {
        format!("a code was issued: {}", ex.summary())
    })?;
    ensure(param(&params, "error").as_deref() == Some(code), || {
        format!(
            "expected error={code}, got {:?}: {}",
            param(&params, "error"),
            ex.summary()
        )
    })?;
    Ok(params)
}

fn no_code(ex: &Exchange) -> Step<()> {
    let issued = client_redirect(ex).is_some_and(|p| param(&p, "code").is_some());
    ensure(!issued, || format!("a code was issued: {}", ex.summary()))
}

async fn refused_with(ctx: &Context, params: &[(&str, &str)], code: &str) -> Step<Outcome> {
    let ex = ctx.authorize(params).await?;
    error_delivered(&ex, code)?;
    Ok(ex.pass())
}

/// Refused with a page: a 4xx, no `Location` at all, and no link to `target`.
async fn not_sent_to(ctx: &Context, params: &[(&str, &str)], target: &str) -> Step<Outcome> {
    let ex = ctx.authorize(params).await?;
    ensure(
        ex.location().is_none() && (400..500).contains(&ex.status),
        || format!("expected a 4xx page without Location: {}", ex.summary()),
    )?;
    let linked = links(&ex.text()).into_iter().any(|l| l.starts_with(target));
    ensure(!linked, || {
        format!("the page links to {target}: {}", ex.summary())
    })?;
    Ok(ex.pass())
}
