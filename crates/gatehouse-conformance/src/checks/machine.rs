//! Clients without a person: the client credentials grant (OAuth 2.1 §4.2, MCP's client
//! credentials extension SEP-1046), JWT client authentication (`private_key_jwt`, RFC 7523), and
//! token exchange by a resource server (RFC 8693).
//!
//! The metadata and public-client checks need nothing but the server. The others need clients the
//! operator declared, given on the command line: `--machine-client` (with its secret in
//! `GATEHOUSE_CONFORMANCE_MACHINE_SECRET`), `--keyed-client` with `--keyed-client-key` (its
//! private JWK), and `--exchanger` (the resource server of `--resource`, allowed the exchange
//! grant, its secret in `GATEHOUSE_CONFORMANCE_EXCHANGER_SECRET`). Without them those checks are
//! skipped.

use serde_json::{Value, json};

use crate::context::{Client, Context, jwt_part, random};
use crate::http::{Exchange, Req};
use crate::report::{Outcome, Report, Step, ensure, fail, skip};

checks! {
    META_GRANT = "sep1046-metadata-client-credentials", "SEP-1046 §Specification, RFC 8414 §2", Should,
        "grant_types_supported lists client_credentials, and token_endpoint_auth_methods_supported lists client_secret_basic or private_key_jwt";
    META_ALGS = "rfc8414-2-auth-signing-algs", "RFC 8414 §2", Must,
        "with private_key_jwt advertised, token_endpoint_auth_signing_alg_values_supported is present and does not list none";
    PUBLIC_REFUSED = "oauth21-4.2-public-client-credentials-refused", "OAuth 2.1 §4.2", Must,
        "a public client asking for the client_credentials grant is refused (unauthorized_client or invalid_client)";
    MACHINE_TOKEN = "rfc6749-4.4.3-client-credentials-no-refresh", "RFC 6749 §4.4.3, SEP-1046", Should,
        "a confidential client gets a Bearer access token with client_credentials, and no refresh token";
    MACHINE_AUDIENCE = "rfc8707-2-client-credentials-audience", "RFC 8707 §2, SEP-1046", Must,
        "the client_credentials token for the resource names it as audience, and the client as sub";
    MACHINE_WRONG_SECRET = "rfc6749-5.2-client-credentials-wrong-secret", "RFC 6749 §5.2", Must,
        "client_credentials with a wrong secret gets 401 invalid_client";
    FORGED_ASSERTION = "rfc7523-3-forged-assertion-refused", "RFC 7523 §3", Must,
        "a client assertion signed by a key that is not the client's gets 401 invalid_client";
    ASSERTION_ACCEPTED = "rfc7523-2.2-assertion-authenticates", "RFC 7523 §2.2", Must,
        "a client assertion signed by the client's key, aud the issuer, authenticates it";
    ASSERTION_REPLAY = "rfc7523-3-assertion-replay-refused", "RFC 7523 §3, RFC 9700 §4", Bcp,
        "the same client assertion presented a second time is refused with invalid_client";
    EXCHANGE = "rfc8693-2.2.1-exchange-issues-token", "RFC 8693 §2.2.1, §4.1", Must,
        "the resource server exchanging a token it received gets a token for another resource: issued_token_type, the same sub, and act naming it";
    EXCHANGE_WIDER = "rfc8693-2.2.2-exchange-cannot-widen", "RFC 8693 §2.2.2, §5", Should,
        "an exchange asking for a scope the subject token did not carry is refused with invalid_scope";
    EXCHANGE_BAD_SUBJECT = "rfc8693-2.2.2-invalid-subject-token", "RFC 8693 §2.2.2", Must,
        "an exchange with a subject token that is not an access token of this server gets invalid_request";
}

const EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
const ACCESS_TOKEN_TYPE: &str = "urn:ietf:params:oauth:token-type:access_token";
const ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The declared clients the checks below use, from the command line.
#[derive(Debug, Default, Clone)]
pub(crate) struct DeclaredClients {
    /// A `client_credentials` client with a secret.
    pub(crate) machine: Option<Client>,
    /// A `private_key_jwt` client and its private JWK.
    pub(crate) keyed: Option<(String, String)>,
    /// The resource server of the resource, allowed the token-exchange grant.
    pub(crate) exchanger: Option<Client>,
}

fn strings(metadata: Option<&serde_json::Map<String, Value>>, name: &str) -> Vec<String> {
    metadata
        .and_then(|m| m.get(name))
        .and_then(Value::as_array)
        .map(|values| {
            values
                .iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// Runs the checks.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report, declared: &DeclaredClients) {
    let metadata = ctx.metadata.as_ref();
    let grants = strings(metadata, "grant_types_supported");
    let methods = strings(metadata, "token_endpoint_auth_methods_supported");
    report.record(
        &META_GRANT,
        (|| {
            ensure(metadata.is_some(), || "no metadata".into())?;
            ensure(grants.iter().any(|g| g == "client_credentials"), || {
                format!("grant_types_supported is {grants:?}")
            })?;
            ensure(
                methods
                    .iter()
                    .any(|m| m == "client_secret_basic" || m == "private_key_jwt"),
                || format!("token_endpoint_auth_methods_supported is {methods:?}"),
            )?;
            Ok(Outcome::Pass(format!("{grants:?}; {methods:?}")))
        })(),
    );
    report.record(
        &META_ALGS,
        (|| {
            if !methods.iter().any(|m| m == "private_key_jwt") {
                return Err(skip("private_key_jwt is not advertised"));
            }
            let algs = strings(metadata, "token_endpoint_auth_signing_alg_values_supported");
            ensure(
                !algs.is_empty() && !algs.iter().any(|a| a == "none"),
                || format!("token_endpoint_auth_signing_alg_values_supported is {algs:?}"),
            )?;
            Ok(Outcome::Pass(format!("{algs:?}")))
        })(),
    );

    let public = ctx.client();
    report.record(
        &PUBLIC_REFUSED,
        async {
            let ex = ctx
                .token_request(&public?, &[("grant_type", "client_credentials")])
                .await?;
            ensure(
                matches!(
                    (ex.status, ex.json_str("error").as_deref()),
                    (400, Some("unauthorized_client")) | (401, Some("invalid_client"))
                ),
                || format!("expected unauthorized_client: {}", ex.summary()),
            )?;
            Ok(ex.pass())
        }
        .await,
    );

    machine_checks(ctx, report, declared.machine.as_ref()).await;
    assertion_checks(ctx, report, declared).await;
    exchange_checks(ctx, report, declared.exchanger.as_ref()).await;
}

async fn machine_checks(ctx: &Context, report: &mut Report, machine: Option<&Client>) {
    let Some(machine) = machine else {
        report.skip_all(
            &[&MACHINE_TOKEN, &MACHINE_AUDIENCE, &MACHINE_WRONG_SECRET],
            "no --machine-client given",
        );
        return;
    };
    let issued = ctx
        .token_request(
            machine,
            &[
                ("grant_type", "client_credentials"),
                ("resource", ctx.resource.as_str()),
            ],
        )
        .await;
    report.record(
        &MACHINE_TOKEN,
        issued.clone().and_then(|ex| {
            ex.status_is(200)?;
            ensure(
                ex.json_str("token_type")
                    .is_some_and(|t| t.eq_ignore_ascii_case("bearer"))
                    && ex.json_str("access_token").is_some()
                    && ex.json_str("refresh_token").is_none(),
                || {
                    format!(
                        "expected a Bearer token and no refresh token: {}",
                        ex.summary()
                    )
                },
            )?;
            Ok(ex.pass())
        }),
    );
    report.record(
        &MACHINE_AUDIENCE,
        issued.and_then(|ex| {
            ex.status_is(200)?;
            let token = ex.json_str("access_token").unwrap_or_default();
            let claims = jwt_part(&token, 1).ok_or_else(|| {
                skip("the access token is not a JWT: its audience is not visible")
            })?;
            let aud = claims.get("aud").cloned().unwrap_or(Value::Null);
            let names = |value: &Value| match value {
                Value::String(one) => one == &ctx.resource,
                Value::Array(many) => many.iter().any(|v| v.as_str() == Some(&ctx.resource)),
                _ => false,
            };
            ensure(
                names(&aud) && claims.get("sub").and_then(Value::as_str) == Some(&machine.id),
                || format!("aud {aud}, sub {:?}", claims.get("sub")),
            )?;
            Ok(ex.pass())
        }),
    );
    report.record(
        &MACHINE_WRONG_SECRET,
        async {
            let endpoint = ctx.endpoint("token_endpoint")?;
            let ex = ctx
                .http
                .send(
                    Req::post_form(&endpoint, &[("grant_type", "client_credentials")])
                        .basic(&machine.id, "not-the-secret"),
                )
                .await?;
            ex.oauth_error(401, "invalid_client")?;
            Ok(ex.pass())
        }
        .await,
    );
}

/// A client assertion (RFC 7523 §3) by `client_id` for the issuer, signed with `jwk`.
fn assertion(ctx: &Context, client_id: &str, key: &gatehouse_jose::SigningKey) -> Step<String> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_err(|e| fail(e.to_string()))?
        .as_secs();
    let claims = json!({
        "iss": client_id, "sub": client_id, "aud": ctx.issuer,
        "iat": now, "exp": now + 120, "jti": random()?,
    });
    gatehouse_jose::jws::sign(key, None, claims.to_string().as_bytes())
        .map_err(|e| fail(format!("cannot sign an assertion: {e}")))
}

/// `client_credentials` authenticated by `assertion` alone.
async fn with_assertion(ctx: &Context, assertion: &str) -> Step<Exchange> {
    let endpoint = ctx.endpoint("token_endpoint")?;
    ctx.http
        .send(Req::post_form(
            &endpoint,
            &[
                ("grant_type", "client_credentials"),
                ("client_assertion_type", ASSERTION_TYPE),
                ("client_assertion", assertion),
            ],
        ))
        .await
}

async fn assertion_checks(ctx: &Context, report: &mut Report, declared: &DeclaredClients) {
    let stranger = gatehouse_jose::SigningKey::generate(gatehouse_jose::Algorithm::Es256);
    // Forged: any client id the server knows, signed by a key that is not its own.
    let claimed = declared
        .keyed
        .as_ref()
        .map(|(id, _)| id.clone())
        .or_else(|| declared.machine.as_ref().map(|c| c.id.clone()));
    report.record(
        &FORGED_ASSERTION,
        async {
            let claimed =
                claimed.ok_or_else(|| skip("no --keyed-client or --machine-client given"))?;
            let stranger = stranger.map_err(|e| fail(e.to_string()))?;
            let ex = with_assertion(ctx, &assertion(ctx, &claimed, &stranger)?).await?;
            ex.oauth_error(401, "invalid_client")?;
            Ok(ex.pass())
        }
        .await,
    );
    let Some((id, jwk)) = &declared.keyed else {
        report.skip_all(
            &[&ASSERTION_ACCEPTED, &ASSERTION_REPLAY],
            "no --keyed-client given",
        );
        return;
    };
    let key = gatehouse_jose::Jwk::from_json(jwk.as_bytes())
        .and_then(|jwk| gatehouse_jose::SigningKey::from_jwk(&jwk))
        .map_err(|e| fail(format!("--keyed-client-key: {e}")));
    let signed = key.and_then(|key| assertion(ctx, id, &key));
    let first = match &signed {
        Ok(signed) => with_assertion(ctx, signed).await,
        Err(o) => Err(o.clone()),
    };
    report.record(
        &ASSERTION_ACCEPTED,
        first.clone().and_then(|ex| {
            ex.status_is(200)?;
            Ok(ex.pass())
        }),
    );
    report.record(
        &ASSERTION_REPLAY,
        async {
            first?.status_is(200)?;
            let again = with_assertion(ctx, &signed?).await?;
            again.oauth_error(401, "invalid_client")?;
            Ok(again.pass())
        }
        .await,
    );
}

async fn exchange_checks(ctx: &Context, report: &mut Report, exchanger: Option<&Client>) {
    let all = [&EXCHANGE, &EXCHANGE_WIDER, &EXCHANGE_BAD_SUBJECT];
    let Some(exchanger) = exchanger else {
        report.skip_all(&all, "no --exchanger given");
        return;
    };
    let Some(target) = ctx.other_resource.clone() else {
        report.skip_all(&all, "no --other-resource to exchange for");
        return;
    };
    let exchange = |subject: String, extra: Vec<(&'static str, String)>| {
        let target = target.clone();
        async move {
            let mut fields = vec![
                ("grant_type", EXCHANGE_GRANT.to_owned()),
                ("subject_token", subject),
                ("subject_token_type", ACCESS_TOKEN_TYPE.to_owned()),
                ("resource", target),
            ];
            fields.extend(extra);
            let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
            ctx.token_request(exchanger, &fields).await
        }
    };
    // A person's token for the resource, with the resource's scopes at their narrowest.
    let person = async {
        let client = ctx.client()?;
        ctx.tokens(&client, None).await
    }
    .await;
    report.record(
        &EXCHANGE,
        async {
            let person = person.clone()?;
            let ex = exchange(person.access.clone(), Vec::new()).await?;
            ex.status_is(200)?;
            let issued = ex.json_str("issued_token_type");
            let token = ex.json_str("access_token").unwrap_or_default();
            let claims = jwt_part(&token, 1).unwrap_or_default();
            let original = jwt_part(&person.access, 1).unwrap_or_default();
            ensure(
                issued.as_deref() == Some(ACCESS_TOKEN_TYPE)
                    && claims.get("sub") == original.get("sub")
                    && claims
                        .get("act")
                        .and_then(|a| a.get("sub"))
                        .and_then(Value::as_str)
                        == Some(exchanger.id.as_str()),
                || format!("issued_token_type {issued:?}, claims {claims:?}"),
            )?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &EXCHANGE_WIDER,
        async {
            let person = person.clone()?;
            let held = jwt_part(&person.access, 1)
                .and_then(|c| c.get("scope").and_then(Value::as_str).map(str::to_owned))
                .unwrap_or_default();
            let wider = format!("{held} gatehouse-conformance-not-granted")
                .trim()
                .to_owned();
            let ex = exchange(person.access.clone(), vec![("scope", wider)]).await?;
            ex.oauth_error(400, "invalid_scope")?;
            Ok(ex.pass())
        }
        .await,
    );
    report.record(
        &EXCHANGE_BAD_SUBJECT,
        async {
            let ex = exchange("gatehouse-conformance-not-a-token".into(), Vec::new()).await?;
            ex.oauth_error(400, "invalid_request")?;
            Ok(ex.pass())
        }
        .await,
    );
}
