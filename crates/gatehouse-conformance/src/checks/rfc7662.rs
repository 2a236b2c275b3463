//! RFC 7662: token introspection. A public client cannot introspect; the positive checks use the
//! confidential client registered by the RFC 7591 checks, which (as in Gatehouse, see its
//! decision 0007) may introspect the tokens issued to itself.

use serde_json::{Value, json};

use crate::context::{Client, Context};
use crate::http::{Exchange, Req};
use crate::report::{Outcome, Report, Step, ensure};

checks! {
    AUTH_REQUIRED = "rfc7662-2.1-authentication-required", "RFC 7662 §2.1", Must,
        "an introspection request without client authentication gets 401";
    PUBLIC_REFUSED = "rfc7662-2.1-public-client-refused", "RFC 7662 §2.1, §4", Must,
        "a public client (client_id only) gets invalid_client and no token data";
    WRONG_SECRET = "rfc7662-2.1-wrong-secret-401", "RFC 7662 §2.3, RFC 6749 §5.2", Must,
        "a wrong client secret (Basic) gets 401 invalid_client";
    OWN_ACTIVE = "rfc7662-2.2-own-token-active", "RFC 7662 §2.2", Must,
        "the confidential client introspecting its own access token gets active:true with its client_id";
    FOREIGN_INACTIVE = "rfc7662-2.2-foreign-token-inactive", "RFC 7662 §2.2, §4", Should,
        "introspecting another client's access token gets exactly {\"active\":false}";
    GARBAGE_INACTIVE = "rfc7662-2.2-garbage-inactive", "RFC 7662 §2.2", Must,
        "introspecting garbage gets 200 {\"active\":false}, not an error";
    NO_ORACLE = "rfc9700-4.1-introspection-no-existence-oracle", "RFC 7662 §4, RFC 9700 §4", Bcp,
        "the answers for a foreign live token and for garbage are identical (status and body): no token scanning oracle";
    REVOKED_INACTIVE = "rfc7662-2.2-revoked-token-inactive", "RFC 7662 §2.2", Must,
        "the client's own revoked refresh token introspects as active:false";
}

/// Runs the RFC 7662 checks.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    let endpoint = match ctx.endpoint("introspection_endpoint") {
        Ok(e) => e,
        Err(o) => {
            report.skip_all(CHECKS, &format!("{o:?}"));
            return;
        }
    };
    report.record(
        &AUTH_REQUIRED,
        async {
            let ex = ctx
                .http
                .send(Req::post_form(&endpoint, &[("token", "x")]))
                .await?;
            ex.status_is(401)?;
            Ok(ex.pass())
        }
        .await,
    );
    if let Ok(public) = ctx.client() {
        report.record(
            &PUBLIC_REFUSED,
            async {
                let t = ctx.tokens(&public, None).await?;
                let ex = ctx
                    .token_management("introspection_endpoint", &public, &t.access)
                    .await?;
                ensure(
                    matches!(ex.status, 400 | 401)
                        && ex.json_str("error").as_deref() == Some("invalid_client")
                        && !ex.text().contains("\"active\""),
                    || format!("expected invalid_client: {}", ex.summary()),
                )?;
                Ok(ex.pass())
            }
            .await,
        );
    }
    let conf = match ctx.confidential() {
        Ok(c) => c,
        Err(o) => {
            report.skip_all(CHECKS, &format!("{o:?}"));
            return;
        }
    };
    report.record(
        &WRONG_SECRET,
        async {
            let ex = ctx
                .http
                .send(Req::post_form(&endpoint, &[("token", "x")]).basic(&conf.id, "wrong"))
                .await?;
            ex.oauth_error(401, "invalid_client")?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &OWN_ACTIVE,
        async {
            let t = ctx.tokens(&conf, None).await?;
            let ex = ctx
                .token_management("introspection_endpoint", &conf, &t.access)
                .await?;
            ex.status_is(200)?;
            let body = ex.json_object()?;
            ensure(
                body.get("active") == Some(&Value::Bool(true))
                    && body
                        .get("client_id")
                        .and_then(Value::as_str)
                        .is_none_or(|c| c == conf.id),
                || format!("expected active:true for {}: {}", conf.id, ex.summary()),
            )?;
            Ok(ex.pass())
        }
        .await,
    );
    let foreign = async {
        let public = ctx.client()?;
        let t = ctx.tokens(&public, None).await?;
        ctx.token_management("introspection_endpoint", &conf, &t.access)
            .await
    }
    .await;
    report.record(
        &FOREIGN_INACTIVE,
        foreign.clone().and_then(|ex| exactly_inactive(&ex)),
    );
    let garbage = ctx
        .token_management(
            "introspection_endpoint",
            &conf,
            "gatehouse-conformance-garbage",
        )
        .await;
    report.record(
        &GARBAGE_INACTIVE,
        garbage.clone().and_then(|ex| {
            ex.status_is(200)?;
            ensure(
                ex.json_object()?.get("active") == Some(&Value::Bool(false)),
                || format!("expected active:false: {}", ex.summary()),
            )?;
            Ok(ex.pass())
        }),
    );
    report.record(
        &NO_ORACLE,
        match (foreign, garbage) {
            (Ok(f), Ok(g)) => {
                let same = f.status == g.status
                    && serde_json::from_slice::<Value>(&f.body).ok()
                        == serde_json::from_slice::<Value>(&g.body).ok();
                ensure(same, || {
                    format!("foreign: {}; garbage: {}", f.summary(), g.summary())
                })
                .map(|()| Outcome::Pass(format!("{}; {}", f.summary(), g.summary())))
            }
            (Err(o), _) | (_, Err(o)) => Err(o),
        },
    );
    report.record(&REVOKED_INACTIVE, revoked_inactive(ctx, &conf).await);
}

fn exactly_inactive(ex: &Exchange) -> Step<Outcome> {
    ex.status_is(200)?;
    let body = serde_json::from_slice::<Value>(&ex.body).ok();
    ensure(body == Some(json!({"active": false})), || {
        format!("expected exactly {{\"active\":false}}: {}", ex.summary())
    })?;
    Ok(ex.pass())
}

async fn revoked_inactive(ctx: &Context, conf: &Client) -> Step<Outcome> {
    ctx.endpoint("revocation_endpoint")?;
    let t = ctx.tokens(conf, None).await?;
    let refresh = t
        .refresh
        .ok_or_else(|| crate::report::skip("no refresh token issued"))?;
    let before = ctx
        .token_management("introspection_endpoint", conf, &refresh)
        .await?;
    ensure(
        before.json_object()?.get("active") == Some(&Value::Bool(true)),
        || format!("the live refresh token is not active: {}", before.summary()),
    )?;
    ctx.token_management("revocation_endpoint", conf, &refresh)
        .await?
        .status_is(200)?;
    let after = ctx
        .token_management("introspection_endpoint", conf, &refresh)
        .await?;
    exactly_inactive(&after)
}
