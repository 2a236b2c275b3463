//! Metrics in the Prometheus text format (`[metrics] listen`).
//!
//! Every crate records through the `metrics` facade (docs/decisions/0013-metrics.md): the guard
//! its decisions and cache, the store its latency, this crate its requests, security events,
//! issued tokens, metadata-document fetches and the signing key's age. [`install`] sets up the
//! Prometheus recorder once per process, and [`router`] serves what it holds at `/metrics`, on
//! an address of its own, never the public port: the figures tell an outsider more than they
//! should (which clients fail, how busy the server is).
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `gatehouse_http_requests_total` | counter | `endpoint` (the route), `status` |
//! | `gatehouse_http_request_duration_seconds` | histogram | `endpoint` |
//! | `gatehouse_tokens_issued_total` | counter | `grant_type` |
//! | `gatehouse_refresh_reuse_detected_total` | counter | `credential` (`code`, `refresh_token`) |
//! | `gatehouse_client_authentication_failures_total` | counter | `endpoint` |
//! | `gatehouse_sign_in_failures_total` | counter | |
//! | `gatehouse_security_events_total` | counter | `kind` |
//! | `gatehouse_audit_records_dropped_total` | counter | `kind` |
//! | `gatehouse_guard_decisions_total` | counter | `resource`, `outcome` (`allowed`, `401`, `403`, `404`, `429`, …) |
//! | `gatehouse_guard_token_cache_total` | counter | `resource`, `result` (`hit`, `miss`) |
//! | `gatehouse_guard_rate_limited_total` | counter | `resource` |
//! | `gatehouse_tool_calls_total` | counter | `resource`, `decision` (`allowed`, `denied`) |
//! | `gatehouse_store_operation_duration_seconds` | histogram | `backend`, `operation` |
//! | `gatehouse_cimd_fetches_total` | counter | `result` (`ok`, or why not) |
//! | `gatehouse_signing_key_age_seconds` | gauge | |

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};

/// Histogram buckets for durations, in seconds: a token issued in 200 µs and a metadata fetch
/// that times out after 3 s both land in a bucket of their own.
const DURATION_BUCKETS: [f64; 14] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// How often the recorder's histograms are folded into their buckets (`keep_up`): the
/// exporter's own default.
const UPKEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(5);

/// Why [`install`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InstallError {
    /// The recorder could not be built or installed (one is installed already, say).
    #[error(transparent)]
    Recorder(#[from] BuildError),
    /// The thread that keeps the recorder's memory bounded could not be started.
    #[error("cannot start the metrics upkeep thread: {0}")]
    Upkeep(std::io::Error),
}

/// Installs the Prometheus recorder for this process, with a thread that keeps its memory
/// bounded. Call it before building the server, so that everything recorded from the start is
/// kept. Fails if a recorder is installed already.
pub fn install() -> Result<PrometheusHandle, InstallError> {
    let recorder = PrometheusBuilder::new()
        .set_buckets_for_metric(
            Matcher::Suffix("duration_seconds".into()),
            &DURATION_BUCKETS,
        )?
        .build_recorder();
    let handle = recorder.handle();
    // Started before the recorder is installed: an installed recorder never goes without it.
    let upkeep = handle.clone();
    keep_up(move || upkeep.run_upkeep(), UPKEEP_EVERY).map_err(InstallError::Upkeep)?;
    metrics::set_global_recorder(recorder).map_err(BuildError::from)?;
    describe();
    Ok(handle)
}

/// Runs `upkeep` every `every`, on a thread of its own, for the life of the process (the
/// recorder is installed for that long).
///
/// The recorder keeps every histogram sample (every request's duration, every store
/// operation's) until its upkeep or a scrape folds them into buckets, and `build_recorder`,
/// unlike the exporter's own listener, leaves the upkeep to the caller. Without it, a server
/// nobody scrapes (Prometheus down, or `/metrics` never asked) grew by every sample it recorded,
/// about 17 bytes a request as measured, without bound; anonymous requests are requests too
/// (CWE-770).
fn keep_up(upkeep: impl Fn() + Send + 'static, every: std::time::Duration) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(every);
                upkeep();
            }
        })
        .map(drop)
}

/// The `# HELP` and unit of every metric in the table above.
fn describe() {
    use metrics::{Unit, describe_counter, describe_gauge, describe_histogram};
    describe_counter!(
        "gatehouse_http_requests_total",
        "Requests answered, by route and status."
    );
    describe_histogram!(
        "gatehouse_http_request_duration_seconds",
        Unit::Seconds,
        "Time from a request's arrival to its response head, by route."
    );
    describe_counter!(
        "gatehouse_tokens_issued_total",
        "Access tokens issued at the token endpoint, by grant type."
    );
    describe_counter!(
        "gatehouse_refresh_reuse_detected_total",
        "Used codes and rotated refresh tokens presented again (their grant is revoked)."
    );
    describe_counter!(
        "gatehouse_client_authentication_failures_total",
        "Failed client authentications, by endpoint."
    );
    describe_counter!(
        "gatehouse_sign_in_failures_total",
        "Failed sign-ins on the authorization pages."
    );
    describe_counter!(
        "gatehouse_security_events_total",
        "Security events (the audit log), by kind."
    );
    describe_counter!(
        "gatehouse_audit_records_dropped_total",
        "Audit records not stored because the writer's queue was full (the log line of each event is written regardless), by kind."
    );
    describe_counter!(
        "gatehouse_guard_decisions_total",
        "Requests to protected resources, by resource and outcome (allowed, or the refusal's status)."
    );
    describe_counter!(
        "gatehouse_guard_token_cache_total",
        "Lookups in the guard's verified-token cache, by resource and result (hit, miss)."
    );
    describe_counter!(
        "gatehouse_guard_rate_limited_total",
        "Requests a guard refused because the caller spent its budget (rate_limit_per_min)."
    );
    describe_counter!(
        "gatehouse_tool_calls_total",
        "MCP calls (tools/call, prompts/get, resources/read) a guard decided, by resource and decision."
    );
    describe_histogram!(
        "gatehouse_store_operation_duration_seconds",
        Unit::Seconds,
        "Time of one store operation, by backend and operation."
    );
    describe_counter!(
        "gatehouse_cimd_fetches_total",
        "Client ID Metadata Document fetches, by result."
    );
    describe_gauge!(
        "gatehouse_signing_key_age_seconds",
        Unit::Seconds,
        "Age of the key that signs access tokens now."
    );
}

/// `GET /metrics`: what `handle` holds, in the Prometheus text exposition format.
pub fn router(handle: PrometheusHandle) -> Router {
    Router::new().route(
        "/metrics",
        get(move || {
            let handle = handle.clone();
            async move {
                let mut response = handle.render().into_response();
                response.headers_mut().insert(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
                );
                response
            }
        }),
    )
}

/// The middleware: each request counted by route and status, and timed.
pub(crate) async fn track(request: Request, next: Next) -> Response {
    // The route, not the path: `/register/{client_id}`, never a client id.
    let endpoint = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |path| path.as_str().to_owned());
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!(
        "gatehouse_http_requests_total",
        "endpoint" => endpoint.clone(),
        "status" => status
    )
    .increment(1);
    metrics::histogram!("gatehouse_http_request_duration_seconds", "endpoint" => endpoint)
        .record(started.elapsed().as_secs_f64());
    response
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::panic)]

    /// The upkeep runs again and again, not once.
    #[test]
    fn the_upkeep_runs_every_interval() {
        use std::sync::Arc;
        use std::sync::atomic::{AtomicUsize, Ordering};
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&runs);
        super::keep_up(
            move || {
                counted.fetch_add(1, Ordering::Relaxed);
            },
            std::time::Duration::from_millis(5),
        )
        .unwrap();
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while runs.load(Ordering::Relaxed) < 3 {
            assert!(
                std::time::Instant::now() < deadline,
                "the upkeep did not run"
            );
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
    }

    /// The recorder keeps histogram samples until its upkeep runs, so installing it without the
    /// thread that runs the upkeep would let an unscraped server grow by every request (CWE-770).
    /// The only test in this crate that installs the process's recorder.
    #[cfg(target_os = "linux")]
    #[test]
    fn cwe_770_the_recorder_comes_with_the_thread_that_keeps_it_bounded() {
        let handle = super::install().unwrap_or_else(|e| panic!("{e}"));
        metrics::histogram!("gatehouse_http_request_duration_seconds", "endpoint" => "/test")
            .record(0.001);
        let threads = || -> Vec<String> {
            std::fs::read_dir("/proc/self/task")
                .unwrap()
                .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
                .map(|name| name.trim().to_owned())
                .collect()
        };
        // A new thread names itself once it runs.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while !threads().iter().any(|name| name == "metrics-upkeep") {
            assert!(std::time::Instant::now() < deadline, "{:?}", threads());
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        handle.run_upkeep();
        assert!(
            handle
                .render()
                .contains("gatehouse_http_request_duration_seconds_count{endpoint=\"/test\"} 1")
        );
    }
}
