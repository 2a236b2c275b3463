//! Rate limits: 429 with `Retry-After`, per client at the token endpoint and per address at the
//! authorization endpoint (the address is `support::oneshot::PEER`, as a connection reports it);
//! health checks and the public documents never.

use axum::http::StatusCode;
use gatehouse_axum::LoginMode;

use crate::support::oneshot::App;

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_per_client() {
    let app = App::new(LoginMode::AutoApprove, "", |config| {
        config.rate_limits.token_per_min = 2;
        config.rate_limits.authorize_per_min = 3;
    })
    .await;
    let noisy = app.public_client().await;
    let quiet = app.public_client().await;
    for _ in 0..2 {
        let status = app.refresh(&noisy, "x").await.status;
        assert_eq!(status, StatusCode::BAD_REQUEST);
    }
    let limited = app
        .post("/token")
        .header("origin", "https://inspector.example")
        .form(&[("grant_type", "refresh_token"), ("refresh_token", "x")])
        .client(&noisy)
        .await;
    assert_eq!(limited.status, StatusCode::TOO_MANY_REQUESTS);
    // A browser client can read the refusal and its Retry-After.
    assert_eq!(limited.headers["access-control-allow-origin"], "*");
    let retry: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    // Another client keeps its own budget.
    let status = app.refresh(&quiet, "x").await.status;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // The authorization endpoint is limited by address.
    let mut statuses = Vec::new();
    for _ in 0..4 {
        statuses.push(app.get(&app.authorize_url(&noisy.id)).await.status);
    }
    assert_eq!(statuses[3], StatusCode::TOO_MANY_REQUESTS, "{statuses:?}");
    // Health checks and the public documents are never limited.
    for _ in 0..120 {
        for path in ["/healthz", "/.well-known/jwks.json"] {
            let status = app.get(&app.url(path)).await.status;
            assert_eq!(status, StatusCode::OK, "{path}");
        }
    }
}
