//! RFC 7592: client configuration endpoint (read, update, delete) with the registration access
//! token. Uses a client registered for the purpose, so the main client stays intact.

use serde_json::{Value, json};

use crate::context::{Client, Context, public_metadata};
use crate::http::Req;
use crate::report::{Outcome, Report, Step, ensure};

checks! {
    READ = "rfc7592-2.1-read", "RFC 7592 §2.1", Must,
        "GET registration_client_uri with the registration access token answers 200 with the client's metadata";
    READ_WRONG_TOKEN = "rfc7592-2.1-read-wrong-token", "RFC 7592 §2.1", Must,
        "GET registration_client_uri with a wrong registration access token answers 401";
    READ_NO_TOKEN = "rfc7592-2.1-read-no-token", "RFC 7592 §2.1", Must,
        "GET registration_client_uri without a token answers 401";
    UPDATE = "rfc7592-2.2-update", "RFC 7592 §2.2", Must,
        "PUT with the full metadata (and client_id) answers 200 with the new client_name";
    UPDATE_WRONG_TOKEN = "rfc7592-2.2-update-wrong-token", "RFC 7592 §2.2", Must,
        "PUT with a wrong registration access token answers 401 and changes nothing";
    DELETE_WRONG_TOKEN = "rfc7592-2.3-delete-wrong-token", "RFC 7592 §2.3", Must,
        "DELETE with a wrong registration access token answers 401 and the client still reads back";
    DELETE = "rfc7592-2.3-delete", "RFC 7592 §2.3", Must,
        "DELETE with the registration access token answers 204";
    DELETED_READ = "rfc7592-2.3-deleted-read-401", "RFC 7592 §2.3", Must,
        "after DELETE, the registration access token no longer reads the client (401)";
    DELETED_CLIENT_UNUSABLE = "rfc7592-2.3-deleted-client-unusable", "RFC 7592 §2.3, OAuth 2.1 §4.1.2.1", Must,
        "after DELETE, an authorization request of the client is refused and not redirected";
}

/// Runs the RFC 7592 checks.
pub(crate) async fn run(ctx: &mut Context, report: &mut Report) {
    let client = match ctx
        .register(&public_metadata("gatehouse-conformance 7592 client"))
        .await
    {
        Ok((_, client)) => client,
        Err(outcome) => {
            let reason = match outcome {
                Outcome::Skip(r) => r,
                other => format!("registration failed: {other:?}"),
            };
            report.skip_all(CHECKS, &reason);
            return;
        }
    };
    let (Some(uri), Some(token)) = (
        client.registration_client_uri.clone(),
        client.registration_access_token.clone(),
    ) else {
        report.skip_all(
            CHECKS,
            "the registration response has no registration_client_uri / registration_access_token (RFC 7592 not offered)",
        );
        return;
    };
    let wrong = format!("{token}x");
    report.record(&READ, read(ctx, &uri, Some(&token), &client).await);
    report.record(
        &READ_WRONG_TOKEN,
        unauthorized(ctx, Req::get(&uri).bearer(&wrong)).await,
    );
    report.record(&READ_NO_TOKEN, unauthorized(ctx, Req::get(&uri)).await);

    let mut updated = public_metadata("gatehouse-conformance 7592 client (updated)");
    if let Some(object) = updated.as_object_mut() {
        object.insert("client_id".to_owned(), json!(client.id));
    }
    report.record(&UPDATE, update(ctx, &uri, &token, &updated).await);
    let mut hijack = updated.clone();
    if let Some(object) = hijack.as_object_mut() {
        object.insert("client_name".to_owned(), json!("hijacked"));
    }
    report.record(
        &UPDATE_WRONG_TOKEN,
        async {
            let outcome = unauthorized(ctx, Req::json("PUT", &uri, &hijack).bearer(&wrong)).await?;
            let back = ctx.http.send(Req::get(&uri).bearer(&token)).await?;
            ensure(
                back.json_str("client_name").as_deref() != Some("hijacked"),
                || format!("the update went through: {}", back.summary()),
            )?;
            Ok(outcome)
        }
        .await,
    );
    report.record(
        &DELETE_WRONG_TOKEN,
        async {
            let outcome = unauthorized(ctx, Req::delete(&uri).bearer(&wrong)).await?;
            let back = ctx.http.send(Req::get(&uri).bearer(&token)).await?;
            back.status_is(200)?;
            Ok(outcome)
        }
        .await,
    );
    let deleted = async {
        let ex = ctx.http.send(Req::delete(&uri).bearer(&token)).await?;
        ex.status_is(204)?;
        Ok(ex.pass())
    }
    .await;
    let was_deleted = matches!(deleted, Ok(Outcome::Pass(_)));
    report.record(&DELETE, deleted);
    if !was_deleted {
        report.skip_all(CHECKS, "DELETE did not succeed");
        return;
    }
    report.record(
        &DELETED_READ,
        unauthorized(ctx, Req::get(&uri).bearer(&token)).await,
    );
    report.record(
        &DELETED_CLIENT_UNUSABLE,
        deleted_unusable(ctx, &client).await,
    );
}

async fn read(ctx: &Context, uri: &str, token: Option<&str>, client: &Client) -> Step<Outcome> {
    let mut req = Req::get(uri);
    if let Some(token) = token {
        req = req.bearer(token);
    }
    let ex = ctx.http.send(req).await?;
    ex.status_is(200)?;
    let body = ex.json_object()?;
    ensure(
        body.get("client_id").and_then(Value::as_str) == Some(&client.id),
        || format!("client_id is not {}: {}", client.id, ex.summary()),
    )?;
    Ok(ex.pass())
}

async fn unauthorized(ctx: &Context, req: Req) -> Step<Outcome> {
    let ex = ctx.http.send(req).await?;
    ex.status_is(401)?;
    Ok(ex.pass())
}

async fn update(ctx: &Context, uri: &str, token: &str, metadata: &Value) -> Step<Outcome> {
    let ex = ctx
        .http
        .send(Req::json("PUT", uri, metadata).bearer(token))
        .await?;
    ex.status_is(200)?;
    ensure(
        ex.json_str("client_name").as_deref()
            == metadata.get("client_name").and_then(Value::as_str),
        || format!("client_name not updated: {}", ex.summary()),
    )?;
    Ok(ex.pass())
}

async fn deleted_unusable(ctx: &Context, client: &Client) -> Step<Outcome> {
    let pkce = crate::context::Pkce::new()?;
    let params = ctx.authorization_params(client, &pkce, "s", None);
    let ex = ctx.authorize(&params).await?;
    ensure(ex.status >= 400 && ex.location().is_none(), || {
        format!("expected a refusal shown to the user: {}", ex.summary())
    })?;
    Ok(ex.pass())
}
