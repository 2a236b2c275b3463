//! Security events: they reach the hooks and the audit table, and hold no secret.

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use gatehouse_axum::{Event, Extensions, LoginMode};
use gatehouse_store::ServerStore;

use crate::support::oneshot::App;

#[tokio::test]
async fn security_events_reach_hooks_logs_and_the_audit_table_without_secrets() {
    let seen = Arc::new(Mutex::new(Vec::<Event>::new()));
    let sink = Arc::clone(&seen);
    let extensions = Extensions {
        hooks: vec![Box::new(move |event: &Event| {
            sink.lock().unwrap().push(event.clone());
        })],
        ..Default::default()
    };
    let app = App::with_extensions(LoginMode::AutoApprove, "", |_| {}, extensions).await;
    let client = app.confidential_client().await;
    let code = app.code(&client.id).await;
    let tokens = app.redeem(&client, &code).await.json();
    let replay = app.redeem(&client, &code).await;
    assert_eq!(replay.status, StatusCode::BAD_REQUEST);
    let wrong = app.redeem(&client.with_secret("nope"), &code).await;
    assert_eq!(wrong.status, StatusCode::UNAUTHORIZED);

    let kinds: Vec<&str> = seen.lock().unwrap().iter().map(Event::kind).collect();
    assert_eq!(
        kinds,
        [
            "client_registered",
            "token_issued",
            "reuse_detected",
            "client_authentication_failed"
        ]
    );
    let events = seen.lock().unwrap().clone();
    match &events[1] {
        Event::TokenIssued {
            grant_type,
            client_id: issued_to,
            subject,
            scope,
            ..
        } => {
            assert_eq!(
                (
                    grant_type.as_str(),
                    issued_to.as_str(),
                    subject.as_str(),
                    scope.as_str()
                ),
                (
                    "authorization_code",
                    client.id.as_str(),
                    "alice",
                    "mcp:tools"
                )
            );
        }
        other => panic!("{other:?}"),
    }

    // The audit table has them too (written in the background).
    let mut stored = Vec::new();
    // Up to 5 s: a batch gathers for 25 ms, and a loaded machine stretches that.
    for _ in 0..500 {
        stored = app.gatehouse.store().audit_events(0, 100).await.unwrap();
        if stored.len() == events.len() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert_eq!(stored.len(), events.len());

    // No secret anywhere in them.
    let everything = format!("{events:?} {stored:?}");
    let secrets = [
        client.secret.as_deref().unwrap(),
        code.as_str(),
        tokens["refresh_token"].as_str().unwrap(),
        tokens["access_token"].as_str().unwrap(),
        client.registration["registration_access_token"]
            .as_str()
            .unwrap(),
    ];
    for secret in secrets {
        assert!(!everything.contains(secret), "an event holds a secret");
    }
}
