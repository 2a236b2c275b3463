//! Liveness and readiness for load balancers.

use axum::http::StatusCode;

use crate::support::oneshot::App;

#[tokio::test]
async fn health_and_readiness() {
    let app = App::auto_approve().await;
    for path in ["/healthz", "/readyz"] {
        let response = app.get(&app.url(path)).await;
        assert_eq!(response.status, StatusCode::OK, "{path}");
    }
}
