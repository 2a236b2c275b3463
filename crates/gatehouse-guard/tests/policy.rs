//! Per-caller rate limits and the tool-call audit of the guard.
//!
//! Limits: a budget per client and subject on a resource, `429 Too Many Requests` with
//! `Retry-After` past it (RFC 6585 §4; RFC 9110 §10.2.3). Audit: every `tools/call`,
//! `prompts/get` and `resources/read` the guard decides becomes a record naming the caller, the
//! call, the scopes it needs, the decision and its reason, and for allowed calls the server's
//! status and latency; arguments only when the resource keeps them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use common::*;
use gatehouse_guard::{AuditedCall, CallDecision, MemoryRateLimiter, UnmappedTools};

fn call(id: u32, tool: &str) -> String {
    format!(
        r#"{{"jsonrpc":"2.0","id":{id},"method":"tools/call","params":{{"name":"{tool}","arguments":{{"text":"secret plans"}}}}}}"#
    )
}

/// The records an audit received.
#[derive(Clone, Default)]
struct Records(Arc<Mutex<Vec<AuditedCall>>>);

impl Records {
    fn sink(&self) -> impl Fn(AuditedCall) + Send + Sync + 'static {
        let records = Arc::clone(&self.0);
        move |call| records.lock().unwrap().push(call)
    }

    fn take(&self) -> Vec<AuditedCall> {
        std::mem::take(&mut *self.0.lock().unwrap())
    }
}

/// `/mcp` behind a guard of the test key set up by `edit`, auditing into the records returned.
fn audited_app(
    key: &gatehouse_jose::SigningKey,
    edit: impl FnOnce(gatehouse_guard::GuardBuilder) -> gatehouse_guard::GuardBuilder,
) -> (axum::Router, Records) {
    let records = Records::default();
    let guard = edit(builder(key, &TestClock::new()).audit(records.sink()))
        .build()
        .unwrap();
    (app(&guard), records)
}

#[tokio::test]
async fn rfc6585_section_4_a_caller_past_its_budget_gets_429_with_retry_after() {
    let key = key();
    let guard = builder(&key, &TestClock::new())
        .rate_limit(3)
        .build()
        .unwrap();
    let app = app(&guard);
    let alice = token(&key, &claims("mcp:tools"));
    for _ in 0..3 {
        let answer = send(&app, post_json(&alice, &call(1, "echo"))).await;
        assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    }
    let answer = send(&app, post_json(&alice, &call(1, "echo"))).await;
    assert_eq!(
        answer.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        answer.body
    );
    // RFC 9110 §10.2.3: delay-seconds; one request every 20 s of a budget of 3 a minute.
    let retry: u64 = answer.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((19..=20).contains(&retry), "Retry-After: {retry}");
    assert_eq!(answer.json()["error"], "temporarily_unavailable");
    // The token is fine: no challenge that would send the client to re-authorize.
    assert!(answer.headers.get("www-authenticate").is_none());

    // Every authenticated request counts, whatever it is: a GET too.
    let answer = send(&app, get(Some(&alice))).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);

    // Another subject of the same client has a budget of its own, and so has another client
    // acting for the same subject: the caller is the pair.
    let mut bob = claims("mcp:tools");
    bob.sub = "bob".into();
    let answer = send(&app, post_json(&token(&key, &bob), &call(1, "echo"))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let mut other_client = claims("mcp:tools");
    other_client.client_id = "client-2".into();
    let answer = send(
        &app,
        post_json(&token(&key, &other_client), &call(1, "echo")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);

    // A new token does not buy a new budget: the caller is who the token names.
    let again = token(&key, &claims("mcp:tools"));
    let answer = send(&app, post_json(&again, &call(1, "echo"))).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);

    // A stranger spends no one's budget: no token is 401, not 429.
    let answer = send(&app, get(None)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn guards_sharing_a_limiter_enforce_one_budget() {
    // Two instances of one resource behind a load balancer: one budget, not one each.
    let key = key();
    let shared = Arc::new(MemoryRateLimiter::default());
    let limiter = SharedLimiter(shared);
    let first = app(&builder(&key, &TestClock::new())
        .rate_limit(2)
        .rate_limiter(limiter.clone())
        .build()
        .unwrap());
    let second = app(&builder(&key, &TestClock::new())
        .rate_limit(2)
        .rate_limiter(limiter)
        .build()
        .unwrap());
    let alice = token(&key, &claims("mcp:tools"));
    for (app, expected) in [
        (&first, StatusCode::OK),
        (&second, StatusCode::OK),
        (&first, StatusCode::TOO_MANY_REQUESTS),
        (&second, StatusCode::TOO_MANY_REQUESTS),
    ] {
        let answer = send(app, post_json(&alice, &call(1, "echo"))).await;
        assert_eq!(answer.status, expected, "{}", answer.body);
    }
}

#[derive(Clone)]
struct SharedLimiter(Arc<MemoryRateLimiter>);

impl gatehouse_guard::RateLimiter for SharedLimiter {
    fn spend<'a>(
        &'a self,
        key: &'a [u8; 32],
        now_us: u64,
        budget: gatehouse_types::rate::PerMinute,
    ) -> futures_util::future::BoxFuture<'a, Result<Result<(), u64>, gatehouse_guard::RateLimitError>>
    {
        self.0.spend(key, now_us, budget)
    }
}

#[tokio::test]
async fn a_limiter_that_cannot_answer_refuses_with_503() {
    struct Down;
    impl gatehouse_guard::RateLimiter for Down {
        fn spend<'a>(
            &'a self,
            _: &'a [u8; 32],
            _: u64,
            _: gatehouse_types::rate::PerMinute,
        ) -> futures_util::future::BoxFuture<
            'a,
            Result<Result<(), u64>, gatehouse_guard::RateLimitError>,
        > {
            Box::pin(async { Err(gatehouse_guard::RateLimitError::new("database down")) })
        }
    }
    let key = key();
    let app = app(&builder(&key, &TestClock::new())
        .rate_limit(100)
        .rate_limiter(Down)
        .build()
        .unwrap());
    let answer = send(
        &app,
        post_json(&token(&key, &claims("mcp:tools")), &call(1, "echo")),
    )
    .await;
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(answer.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn every_call_the_guard_decides_is_audited_with_its_decision_and_reason() {
    let key = key();
    let (app, records) = audited_app(&key, |guard| {
        guard
            .required_scopes(["mcp:tools"])
            .tool_scope("delete_file", "files:write")
            .unmapped_tools(UnmappedTools::Allow)
    });
    let alice = token(&key, &claims("mcp:tools"));

    // Allowed: the server's status and latency, the scopes the call needed.
    let answer = send(&app, post_json(&alice, &call(1, "echo"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    let [allowed] = records.take().try_into().unwrap();
    assert_eq!(allowed.decision, CallDecision::Allowed);
    assert_eq!(allowed.reason, None);
    assert_eq!(allowed.method, "tools/call");
    assert_eq!(allowed.name, "echo");
    assert_eq!(allowed.principal.subject(), "alice");
    assert_eq!(allowed.principal.client_id(), "client-1");
    assert_eq!(allowed.principal.resource(), RESOURCE);
    assert_eq!(allowed.scopes.to_string(), "mcp:tools");
    assert_eq!(allowed.status, Some(200));
    assert!(allowed.latency.is_some());
    assert_eq!(allowed.at.as_secs(), NOW);
    // Arguments are not kept unless the resource asks.
    assert_eq!(allowed.arguments, None);

    // Denied for want of the tool's scope: the scopes it needed, and why.
    let answer = send(&app, post_json(&alice, &call(2, "delete_file"))).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let [denied] = records.take().try_into().unwrap();
    assert_eq!(denied.decision, CallDecision::Denied);
    assert_eq!(denied.reason, Some("insufficient_scope"));
    assert_eq!(denied.name, "delete_file");
    assert_eq!(denied.scopes.to_string(), "files:write mcp:tools");
    assert_eq!(denied.status, None);

    // A batch is one record per call; prompts and resources are named too.
    let batch = r#"[{"jsonrpc":"2.0","id":3,"method":"prompts/get","params":{"name":"greet"}},
        {"jsonrpc":"2.0","id":4,"method":"resources/read","params":{"uri":"file:///a.txt"}},
        {"jsonrpc":"2.0","id":5,"method":"tools/list"}]"#;
    let answer = send(&app, post_json(&alice, batch)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let names: Vec<(&str, String)> = records
        .take()
        .into_iter()
        .map(|call| (call.method, call.name))
        .collect();
    assert_eq!(
        names,
        [
            ("prompts/get", "greet".to_owned()),
            ("resources/read", "file:///a.txt".to_owned())
        ]
    );

    // A request with no token calls nothing the guard knows of: no record.
    let answer = send(&app, get(None)).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert!(records.take().is_empty());
}

#[tokio::test]
async fn default_denied_rate_limited_and_mismatched_calls_are_audited_with_their_reason() {
    let key = key();
    let (app, records) = audited_app(&key, |guard| {
        guard
            .tool_scope("echo", "mcp:tools")
            .unmapped_tools(UnmappedTools::Deny)
            .rate_limit(2)
    });
    let alice = token(&key, &claims("mcp:tools"));

    let answer = send(&app, post_json(&alice, &call(1, "unmapped"))).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let [denied] = records.take().try_into().unwrap();
    assert_eq!(denied.reason, Some("tool_denied"));

    let mismatch = axum::http::Request::post("/mcp")
        .header("authorization", format!("Bearer {alice}"))
        .header("content-type", "application/json")
        .header("mcp-method", "tools/call")
        .header("mcp-name", "other")
        .body(axum::body::Body::from(call(2, "echo")))
        .unwrap();
    let answer = send(&app, mismatch).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let [denied] = records.take().try_into().unwrap();
    assert_eq!(denied.reason, Some("header_mismatch"));
    assert_eq!(denied.name, "echo");

    // The budget of 2 is spent; the third is refused and audited by name.
    let answer = send(&app, post_json(&alice, &call(3, "echo"))).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    let [limited] = records.take().try_into().unwrap();
    assert_eq!(limited.reason, Some("rate_limited"));
    assert_eq!(limited.name, "echo");
    assert_eq!(limited.decision, CallDecision::Denied);
}

#[tokio::test]
async fn arguments_are_kept_only_when_the_resource_asks_and_only_so_much() {
    let key = key();
    let (app, records) = audited_app(&key, |guard| guard.audit_arguments(true));
    let alice = token(&key, &claims("mcp:tools"));
    let answer = send(&app, post_json(&alice, &call(1, "echo"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    let [kept] = records.take().try_into().unwrap();
    assert_eq!(
        kept.arguments,
        Some(serde_json::json!({"text": "secret plans"}))
    );

    let long = "x".repeat(gatehouse_guard::MAX_ARGUMENT_BYTES);
    let body = format!(
        r#"[{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo","arguments":{{"text":"{long}"}}}}}},{{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{{"name":"echo","arguments":{{"n":2}}}}}}]"#
    );
    let answer = send(&app, post_json(&alice, &body)).await;
    assert_eq!(answer.status, StatusCode::OK);
    let [first, second] = records.take().try_into().unwrap();
    assert_eq!(first.arguments.unwrap()["_truncated"], true);
    // Each call of a batch gets its own arguments.
    assert_eq!(second.arguments, Some(serde_json::json!({"n": 2})));
}

#[tokio::test]
async fn calls_refused_before_the_tool_checks_are_audited_too() {
    // A scope the resource requires, and a session someone else opened: refused before any
    // per-tool check, and still recorded by name.
    let key = key();
    let (app, records) = audited_app(&key, |guard| guard.required_scopes(["mcp:tools"]));
    let weak = token(&key, &claims("other:scope"));
    let answer = send(&app, post_json(&weak, &call(1, "echo"))).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    let [denied] = records.take().try_into().unwrap();
    assert_eq!(denied.reason, Some("insufficient_scope"));
    assert_eq!(denied.name, "echo");

    let alice = token(&key, &claims("mcp:tools"));
    let hijack = axum::http::Request::post("/mcp")
        .header("authorization", format!("Bearer {alice}"))
        .header("content-type", "application/json")
        .header("mcp-session-id", "someone-elses-session")
        .body(axum::body::Body::from(call(2, "echo")))
        .unwrap();
    let answer = send(&app, hijack).await;
    assert_eq!(answer.status, StatusCode::NOT_FOUND);
    let [denied] = records.take().try_into().unwrap();
    assert_eq!(denied.reason, Some("unknown_session"));
}

#[tokio::test]
async fn a_batch_is_recorded_call_by_call_up_to_a_bound_and_counted_beyond() {
    let key = key();
    let (app, records) = audited_app(&key, |guard| guard.rate_limit(1));
    let alice = token(&key, &claims("mcp:tools"));
    let batch = |n: u32| {
        let calls: Vec<String> = (0..n).map(|i| call(i, &format!("tool{i}"))).collect();
        format!("[{}]", calls.join(","))
    };
    let answer = send(&app, post_json(&alice, &batch(20))).await;
    assert_eq!(answer.status, StatusCode::OK);
    let allowed = records.take();
    assert_eq!(allowed.len(), 16);
    assert_eq!(allowed[0].name, "tool0");
    assert_eq!(allowed[15].more_calls, 4);
    assert_eq!(allowed[14].more_calls, 0);

    // Over its budget, a caller's batch is one record: the first call, and the count of the rest.
    let answer = send(&app, post_json(&alice, &batch(20))).await;
    assert_eq!(answer.status, StatusCode::TOO_MANY_REQUESTS);
    let [limited] = records.take().try_into().unwrap();
    assert_eq!(limited.name, "tool0");
    assert_eq!(limited.more_calls, 19);
    assert_eq!(limited.reason, Some("rate_limited"));
}

#[tokio::test]
async fn an_allowed_call_whose_client_goes_away_is_still_audited() {
    // The server may run the tool even though no one waits for the answer: the record says it
    // was allowed, with no status.
    let key = key();
    let records = Records::default();
    let guard = builder(&key, &TestClock::new())
        .audit(records.sink())
        .build()
        .unwrap();
    let app = axum::Router::new()
        .route(
            "/mcp",
            axum::routing::post(|| async {
                tokio::time::sleep(std::time::Duration::from_secs(3600)).await;
                "never"
            }),
        )
        .route_layer(guard);
    let alice = token(&key, &claims("mcp:tools"));
    let request = tower::ServiceExt::oneshot(app, post_json(&alice, &call(1, "slow_tool")));
    let gone = tokio::time::timeout(std::time::Duration::from_millis(50), request).await;
    assert!(gone.is_err(), "the handler never answers");
    let [abandoned] = records.take().try_into().unwrap();
    assert_eq!(abandoned.decision, CallDecision::Allowed);
    assert_eq!(abandoned.name, "slow_tool");
    assert_eq!(abandoned.status, None);
    assert!(abandoned.latency.is_some());
}

#[tokio::test]
async fn a_scope_the_matrix_no_longer_gives_the_caller_counts_as_absent() {
    use gatehouse_types::ScopeSet;
    use gatehouse_types::policy::{Names, ScopePolicy, ScopeRule};
    // Alice's token says mcp:admin; since it was issued, the policy gave mcp:admin to no one.
    let policy = ScopePolicy::new(
        vec![ScopeRule {
            groups: Vec::new(),
            subjects: Names::Any,
            clients: Names::Any,
            scopes: ScopeSet::parse("mcp:tools").unwrap(),
        }],
        ScopeSet::parse("mcp:tools mcp:admin").unwrap(),
    );
    let key = key();
    let guard = builder(&key, &TestClock::new())
        .tool_scope("admin_reset", "mcp:admin")
        .scope_policy(policy)
        .build()
        .unwrap();
    let app = app(&guard);
    let alice = token(&key, &claims("mcp:tools mcp:admin other:scope"));
    let answer = send(&app, post_json(&alice, &call(1, "admin_reset"))).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    // No step-up challenge: the next token would be narrowed the same way.
    assert_eq!(answer.json()["error"], "access_denied");
    assert!(answer.headers.get("www-authenticate").is_none());
    // The server sees what the caller holds now; scopes the policy does not govern stay.
    let answer = send(&app, post_json(&alice, &call(2, "echo"))).await;
    assert_eq!(answer.status, StatusCode::OK);
    assert_eq!(answer.json()["scope"], "mcp:tools other:scope");
}

#[tokio::test]
async fn a_token_the_matrix_leaves_nothing_of_is_refused_even_where_no_scope_is_required() {
    use gatehouse_types::ScopeSet;
    use gatehouse_types::policy::{Names, ScopePolicy, ScopeRule};
    let policy = ScopePolicy::new(
        vec![ScopeRule {
            groups: Vec::new(),
            subjects: Names::Only(vec!["bob".into()]),
            clients: Names::Any,
            scopes: ScopeSet::parse("mcp:tools").unwrap(),
        }],
        ScopeSet::parse("mcp:tools mcp:admin").unwrap(),
    );
    let key = key();
    let (app, records) = audited_app(&key, |guard| guard.scope_policy(policy));
    // The resource requires no scope; Alice's token holds mcp:tools, which the policy gives
    // only to Bob now. Without the refusal, a token of no scope would pass.
    let alice = token(&key, &claims("mcp:tools"));
    let answer = send(&app, post_json(&alice, &call(1, "echo"))).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN, "{}", answer.body);
    assert_eq!(answer.json()["error"], "access_denied");
    let [denied] = records.take().try_into().unwrap();
    assert_eq!(denied.reason, Some("policy_denied"));
    // A token with no governed scope at all is not the policy's business.
    let plain = token(&key, &claims(""));
    assert_eq!(
        send(&app, post_json(&plain, &call(2, "echo"))).await.status,
        StatusCode::OK
    );
}

#[tokio::test]
async fn an_audited_body_the_guard_cannot_read_strictly_is_refused_never_run_unrecorded() {
    let key = key();
    let (app, records) = audited_app(&key, |guard| guard.audit_arguments(true));
    let alice = token(&key, &claims("mcp:tools"));
    // A server that keeps the first `x` and one that keeps the last read different calls; the
    // guard, which must name the call, refuses it.
    let repeated = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","x":1,"x":2}}"#;
    let answer = send(&app, post_json(&alice, repeated)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert_eq!(answer.json()["error"], "invalid_request");
    let not_a_string = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","_meta":{"io.modelcontextprotocol/protocolVersion":20260728}}}"#;
    let answer = send(&app, post_json(&alice, not_a_string)).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{}", answer.body);
    assert!(records.take().is_empty());

    // Arguments with a member twice are recorded as such, not as one reading of them.
    let twice = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"rm","arguments":{"path":"/etc/passwd","path":"/tmp/x"}}}"#;
    let answer = send(&app, post_json(&alice, twice)).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let [recorded] = records.take().try_into().unwrap();
    let arguments = recorded.arguments.unwrap();
    assert_eq!(arguments["_repeated_members"], true, "{arguments}");
    assert!(!arguments.to_string().contains("/etc/passwd"));
}
