//! RFC 9700 attacks on the code flow that a black box can try: code injection and PKCE
//! downgrade. (Open redirection, mix-up, refresh token replay and token scanning are checked
//! with the endpoints they concern.)

use crate::context::{Context, Pkce, REDIRECT_URI};
use crate::report::{Report, ensure};

checks! {
    CODE_INJECTION = "rfc9700-4.5-code-injection", "RFC 9700 §4.5, OAuth 2.1 §4.1.3", Must,
        "a code issued to client A, redeemed by client B (with A's verifier), gets 400 invalid_grant";
    PKCE_DOWNGRADE = "rfc9700-4.8.2-pkce-downgrade", "RFC 9700 §4.8.2, RFC 7636 §4.6", Must,
        "a code requested with a code_challenge, redeemed without code_verifier, is refused (400 invalid_grant or invalid_request)";
    CODE_AFTER_INJECTION = "rfc9700-4.5-injected-code-not-consumed-for-victim", "RFC 9700 §4.5, OAuth 2.1 §4.1.3", Should,
        "after client B's attempt, the code is either still redeemable by A or refused; it never yields tokens to B";
}

/// Runs the RFC 9700 checks.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    let client = match ctx.client() {
        Ok(client) => client,
        Err(outcome) => {
            report.skip_all(CHECKS, &format!("{outcome:?}"));
            return;
        }
    };
    let injection = async {
        let pkce = Pkce::new()?;
        let (_, code) = ctx.code(&client, &pkce, None).await?;
        let attacker = ctx
            .register_public("gatehouse-conformance attacker client")
            .await?;
        let ex = ctx.redeem(&attacker, &code, &pkce.verifier).await?;
        ex.oauth_error(400, "invalid_grant")?;
        Ok((ex, attacker, code, pkce))
    }
    .await;
    report.record(
        &CODE_INJECTION,
        injection
            .as_ref()
            .map(|(ex, ..)| ex.pass())
            .map_err(Clone::clone),
    );
    report.record(
        &CODE_AFTER_INJECTION,
        async {
            let (_, attacker, code, pkce) = injection?;
            let again = ctx.redeem(&attacker, &code, &pkce.verifier).await?;
            ensure(again.status != 200, || {
                format!("the attacker got tokens: {}", again.summary())
            })?;
            let victim = ctx.redeem(&client, &code, &pkce.verifier).await?;
            ensure(matches!(victim.status, 200 | 400), || {
                format!("unexpected answer: {}", victim.summary())
            })?;
            Ok(victim.pass())
        }
        .await,
    );
    report.record(
        &PKCE_DOWNGRADE,
        async {
            let pkce = Pkce::new()?;
            let (_, code) = ctx.code(&client, &pkce, None).await?;
            let ex = ctx
                .token_request(
                    &client,
                    &[
                        ("grant_type", "authorization_code"),
                        ("code", &code),
                        ("redirect_uri", REDIRECT_URI),
                    ],
                )
                .await?;
            let error = ex.json_str("error");
            ensure(
                ex.status == 400
                    && matches!(error.as_deref(), Some("invalid_grant" | "invalid_request")),
                || {
                    format!(
                        "expected 400 invalid_grant or invalid_request: {}",
                        ex.summary()
                    )
                },
            )?;
            Ok(ex.pass())
        }
        .await,
    );
}
