//! What a hostile run against the server found, one test per class of attack: unauthenticated
//! values filling the disk and the logs, slow and idle connections, answers lost to a reset,
//! planted CSRF cookies, sessions that outlive sign-out, and password guessing spread over
//! addresses. Each test names the CWE, RFC or guideline it enforces.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    missing_docs
)]

mod support;

use std::time::{Duration, Instant};

use gatehouse_axum::LoginMode;
use gatehouse_store::{ServerStore, password};
use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads one HTTP/1.1 response with a `Content-Length` from `stream`: its head and body.
async fn read_response(stream: &mut TcpStream) -> (String, String) {
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = find(&buffer, b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buffer[..end]).into_owned();
            let length: usize = head
                .lines()
                .find_map(|line| {
                    let (name, value) = line.split_once(':')?;
                    name.eq_ignore_ascii_case("content-length")
                        .then(|| value.trim().parse().ok())?
                })
                .unwrap_or(0);
            while buffer.len() < end + 4 + length {
                let n = stream.read(&mut chunk).await.expect("the body arrives");
                assert!(n > 0, "the connection closed inside the body: {head}");
                buffer.extend_from_slice(&chunk[..n]);
            }
            let body = String::from_utf8_lossy(&buffer[end + 4..end + 4 + length]).into_owned();
            return (head, body);
        }
        let n = stream
            .read(&mut chunk)
            .await
            .expect("a response arrives, not a reset");
        assert!(n > 0, "the connection closed before a response");
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Waits until the server closes `stream`; how long that took. Panics after `limit`.
async fn closed_within(stream: &mut TcpStream, limit: Duration) -> Duration {
    let start = Instant::now();
    let mut byte = [0u8; 1];
    match tokio::time::timeout(limit, stream.read(&mut byte)).await {
        Ok(Ok(0) | Err(_)) => start.elapsed(),
        Ok(Ok(_)) => panic!("the server sent data instead of closing"),
        Err(_) => panic!("the connection was still open after {limit:?}"),
    }
}

fn host(base: &str) -> &str {
    base.trim_start_matches("http://")
}

// ----- 1. CWE-770: nothing unauthenticated fills the disk or the log ------------------------

#[tokio::test]
async fn cwe_770_and_cwe_117_a_forged_client_id_reaches_the_audit_table_bounded_and_escaped() {
    let (base, gatehouse) = start(|_, _| {}).await;
    // Not a client id at all (60 KB, a newline, an escape sequence); and the longest a client id
    // may be (2 KiB), naming no client.
    let junk = format!(
        "a\nkind=signed_in subject=admin\u{1b}[2J{}",
        "x".repeat(60_000)
    );
    let long = format!("client-{}", "y".repeat(2048 - 7));
    for claimed in [junk.as_str(), junk.as_str(), long.as_str()] {
        let response = http()
            .post(format!("{base}/token"))
            .header(CONTENT_TYPE, FORM)
            .body(form(&[
                ("grant_type", "authorization_code"),
                ("code", "nope"),
                ("client_id", claimed),
                ("client_secret", "wrong"),
            ]))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    // The audit writer runs in the background.
    let mut rows = Vec::new();
    for _ in 0..250 {
        rows = gatehouse.store().audit_events(0, 100).await.unwrap();
        if rows.len() >= 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(rows.len(), 3, "one failed authentication each");
    for (_, row) in &rows {
        assert_eq!(row.kind, "client_authentication_failed");
        assert!(row.detail.to_string().len() < 600, "{}", row.detail);
    }
    // What is not a client id is not recorded as one.
    assert_eq!(rows[0].1.client_id, None);
    assert_eq!(rows[1].1.client_id, None);
    // A client id is kept bounded.
    let kept = rows[2].1.client_id.as_deref().unwrap();
    assert!(
        kept.len() < 300,
        "a 2 KiB claim is kept bounded: {} bytes",
        kept.len()
    );
    assert!(kept.starts_with("client-yyy"), "{kept}");
    assert!(kept.ends_with("…[2048 bytes]"), "{kept}");
}

#[tokio::test]
async fn cwe_770_credential_endpoints_are_limited_per_address_whatever_client_is_claimed() {
    let base = serve(|config, _| {
        config.rate_limits.enabled = true;
        config.rate_limits.address_per_min = 5;
    })
    .await;
    let mut statuses = Vec::new();
    for n in 0..7 {
        let response = http()
            .post(format!("{base}/token"))
            .header(CONTENT_TYPE, FORM)
            .body(form(&[
                ("grant_type", "refresh_token"),
                ("refresh_token", "x"),
                ("client_id", &format!("made-up-{n}")),
            ]))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(&statuses[..5], &[401; 5], "{statuses:?}");
    assert_eq!(&statuses[5..], &[429; 2], "{statuses:?}");
}

#[tokio::test]
async fn cwe_770_dynamic_registration_has_its_own_budget_per_address() {
    let base = serve(|config, _| {
        config.rate_limits.enabled = true;
        config.rate_limits.register_per_min = 2;
    })
    .await;
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let response = http()
            .post(format!("{base}/register"))
            .json(&serde_json::json!({
                "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"
            }))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    assert_eq!(statuses, [201, 201, 429]);
}

#[tokio::test]
async fn cwe_770_a_registration_is_stored_only_up_to_a_bounded_size() {
    let base = serve(|_, _| {}).await;
    let register = |padding: usize| {
        let base = base.clone();
        async move {
            http()
                .post(format!("{base}/register"))
                .json(&serde_json::json!({
                    "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none",
                    "x_padding": "p".repeat(padding)
                }))
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(register(1_000).await, StatusCode::CREATED);
    assert_eq!(register(20_000).await, StatusCode::PAYLOAD_TOO_LARGE);
}

// ----- 2. CWE-400: slow and idle connections ---------------------------------------------------

#[tokio::test]
async fn cwe_400_a_request_head_sent_byte_by_byte_is_cut_off() {
    let base = serve(|config, _| config.http.header_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(host(&base)).await.unwrap();
    let head = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\nX-Slow: ", host(&base));
    let started = Instant::now();
    for byte in head.bytes().chain(std::iter::repeat(b'a')) {
        if stream.write_all(&[byte]).await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        if started.elapsed() > Duration::from_secs(10) {
            panic!("a request head dribbled for 10 s was not cut off");
        }
    }
    closed_within(&mut stream, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn cwe_400_an_idle_kept_alive_connection_is_closed() {
    let base = serve(|config, _| config.http.header_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(host(&base)).await.unwrap();
    stream
        .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", host(&base)).as_bytes())
        .await
        .unwrap();
    let (head, _) = read_response(&mut stream).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // Kept alive, then idle: closed once the next request head is overdue.
    closed_within(&mut stream, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn cwe_400_a_stalled_exchange_is_closed_after_the_idle_timeout() {
    let base = serve(|config, _| {
        config.http.idle_timeout_secs = 1;
        config.http.request_timeout_secs = 60;
    })
    .await;
    let mut stream = TcpStream::connect(host(&base)).await.unwrap();
    // A whole head announcing a body that never comes.
    stream
        .write_all(
            format!(
                "POST /token HTTP/1.1\r\nHost: {}\r\nContent-Type: {FORM}\r\nContent-Length: 100\r\n\r\nab",
                host(&base)
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    closed_within(&mut stream, Duration::from_secs(5)).await;
}

#[tokio::test]
async fn cwe_400_a_body_sent_byte_by_byte_gets_408() {
    let base = serve(|config, _| config.http.request_timeout_secs = 1).await;
    let mut stream = TcpStream::connect(host(&base)).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /token HTTP/1.1\r\nHost: {}\r\nContent-Type: {FORM}\r\nContent-Length: 1000\r\n\r\n",
                host(&base)
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let (mut reader, mut writer) = stream.into_split();
    // One byte every 200 ms: never idle, never done.
    let dribble = tokio::spawn(async move {
        while writer.write_all(b"a").await.is_ok() {
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let mut received = Vec::new();
    // The server answers, then closes (a reset may end the read; the answer came first).
    let read =
        tokio::time::timeout(Duration::from_secs(5), reader.read_to_end(&mut received)).await;
    dribble.abort();
    assert!(
        read.is_ok(),
        "the connection stayed open past the request timeout"
    );
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(
        text.to_ascii_lowercase().contains("connection: close"),
        "{text}"
    );
    assert!(text.contains("invalid_request"), "{text}");
}

#[tokio::test]
async fn cwe_400_connections_beyond_the_cap_wait_until_one_closes() {
    let base = serve(|config, _| {
        config.http.max_connections = 2;
        config.http.header_timeout_secs = 30;
    })
    .await;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", host(&base));
    let mut holders = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(host(&base)).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        read_response(&mut stream).await;
        holders.push(stream);
    }
    let mut third = TcpStream::connect(host(&base)).await.unwrap();
    third.write_all(request.as_bytes()).await.unwrap();
    let mut byte = [0u8; 1];
    assert!(
        tokio::time::timeout(Duration::from_millis(500), third.peek(&mut byte))
            .await
            .is_err(),
        "a third connection was served beside two held ones"
    );
    drop(holders.pop());
    let (head, _) = tokio::time::timeout(Duration::from_secs(5), read_response(&mut third))
        .await
        .expect("served once a slot is free");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test]
async fn cwe_400_one_address_cannot_take_every_connection() {
    let base = serve(|config, _| {
        config.http.max_connections_per_address = 2;
        config.http.header_timeout_secs = 30;
    })
    .await;
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", host(&base));
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(host(&base)).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        read_response(&mut stream).await;
        held.push(stream);
    }
    // A third from the same address is closed at once, not queued behind the others.
    let mut third = TcpStream::connect(host(&base)).await.unwrap();
    let _ = third.write_all(request.as_bytes()).await;
    closed_within(&mut third, Duration::from_secs(5)).await;
    drop(held.pop());
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut again = TcpStream::connect(host(&base)).await.unwrap();
    again.write_all(request.as_bytes()).await.unwrap();
    let (head, _) = read_response(&mut again).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
}

#[tokio::test]
async fn cwe_400_a_huge_request_head_is_refused_with_431() {
    let base = serve(|_, _| {}).await;
    let response = http()
        .get(format!("{base}/healthz"))
        .header("x-padding", "p".repeat(100 * 1024))
        .send()
        .await;
    match response {
        Ok(response) => assert_eq!(response.status().as_u16(), 431),
        // The server may close before the client finished sending.
        Err(error) => assert!(error.is_request() || error.is_connect(), "{error}"),
    }
}

// ----- 12. RFC 9112 §9.6: early answers are not lost to a reset -------------------------------

#[tokio::test]
async fn rfc9112_section_9_6_an_early_401_arrives_whole_and_the_connection_stays_usable() {
    let base = serve(|_, _| {}).await;
    let body = r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#;
    for chunked in [false, true] {
        let mut stream = TcpStream::connect(host(&base)).await.unwrap();
        let framing = if chunked {
            "Transfer-Encoding: chunked".to_owned()
        } else {
            format!("Content-Length: {}", body.len())
        };
        stream
            .write_all(
                format!(
                    "POST /mcp HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nAccept: application/json, text/event-stream\r\n{framing}\r\n\r\n",
                    host(&base)
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        // The body comes after the guard has already answered.
        tokio::time::sleep(Duration::from_millis(300)).await;
        let sent = if chunked {
            format!("{:x}\r\n{body}\r\n0\r\n\r\n", body.len())
        } else {
            body.to_owned()
        };
        stream.write_all(sent.as_bytes()).await.unwrap();
        let (head, _) = read_response(&mut stream).await;
        assert!(head.starts_with("HTTP/1.1 401"), "{head}");
        assert!(
            head.to_ascii_lowercase()
                .contains("www-authenticate: bearer"),
            "{head}"
        );
        // The same connection serves the next request: the body was not read as one.
        stream
            .write_all(format!("GET /healthz HTTP/1.1\r\nHost: {}\r\n\r\n", host(&base)).as_bytes())
            .await
            .unwrap();
        let (next, body) = read_response(&mut stream).await;
        assert!(
            next.starts_with("HTTP/1.1 200"),
            "chunked={chunked}: {next}"
        );
        assert_eq!(body, "ok\n");
    }
}

#[tokio::test]
async fn rfc9112_section_9_6_a_rate_limited_request_gets_its_429_whole() {
    let base = serve(|config, _| {
        config.rate_limits.enabled = true;
        config.rate_limits.register_per_min = 1;
    })
    .await;
    let body = r#"{"redirect_uris":["http://127.0.0.1:1/cb"],"token_endpoint_auth_method":"none"}"#;
    let mut stream = TcpStream::connect(host(&base)).await.unwrap();
    for expected in ["HTTP/1.1 201", "HTTP/1.1 429", "HTTP/1.1 429"] {
        stream
            .write_all(
                format!(
                    "POST /register HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
                    host(&base),
                    body.len()
                )
                .as_bytes(),
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        stream.write_all(body.as_bytes()).await.unwrap();
        let (head, _) = read_response(&mut stream).await;
        assert!(head.starts_with(expected), "{head}");
    }
}

// ----- 5 and 13: CSRF tokens the server mints; sessions the server can end ------------------

struct Pages {
    base: String,
    gatehouse: gatehouse_axum::Gatehouse,
}

impl Pages {
    async fn start(edit: impl FnOnce(&mut gatehouse_axum::Config)) -> Self {
        let (base, gatehouse) = start(|config, _| {
            config.login.mode = LoginMode::Local;
            edit(config);
        })
        .await;
        add_user(&gatehouse, "alice", "correct horse").await;
        Self { base, gatehouse }
    }

    /// The connected-apps sign-in page: the browser's cookie and the form's token.
    async fn sign_in_page(&self) -> (String, String) {
        let page = http()
            .get(format!("{}/connected-apps", self.base))
            .send()
            .await
            .unwrap();
        let cookie = session_cookie(page.headers());
        (cookie, form_token(&page.text().await.unwrap()))
    }

    async fn post(
        &self,
        cookie: &str,
        fields: &[(&str, &str)],
        extra: &[(&str, &str)],
    ) -> reqwest::Response {
        let mut request = http()
            .post(format!("{}/connected-apps", self.base))
            .header(CONTENT_TYPE, FORM)
            .header("cookie", cookie)
            .body(form(fields));
        for (name, value) in extra {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    async fn sign_in(&self, password: &str) -> reqwest::Response {
        let (cookie, csrf) = self.sign_in_page().await;
        self.post(
            &cookie,
            &[
                ("gatehouse_action", "sign_in"),
                ("csrf", &csrf),
                ("username", "alice"),
                ("password", password),
            ],
            &[],
        )
        .await
    }

    /// Whether `cookie` is signed in (the connected-apps list, not the sign-in form).
    async fn signed_in(&self, cookie: &str) -> bool {
        let page = http()
            .get(format!("{}/connected-apps", self.base))
            .header("cookie", cookie)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        page.contains("Signed in as")
    }
}

#[tokio::test]
async fn rfc6265_section_8_5_a_planted_cookie_with_a_matching_field_is_refused() {
    let pages = Pages::start(|_| {}).await;
    // The double-submit flaw: any 32–64-character value in both cookie and field passed.
    let planted = "P".repeat(43);
    let forged = pages
        .post(
            &format!("gatehouse-session={planted}"),
            &[
                ("gatehouse_action", "sign_in"),
                ("csrf", &planted),
                ("username", "alice"),
                ("password", "correct horse"),
            ],
            &[],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    // A genuine cookie with its genuine token, posted from a page on another local port (which
    // can plant cookies for this host): refused by origin.
    let (cookie, csrf) = pages.sign_in_page().await;
    let fields = [
        ("gatehouse_action", "sign_in"),
        ("csrf", csrf.as_str()),
        ("username", "alice"),
        ("password", "correct horse"),
    ];
    let cross = pages
        .post(&cookie, &fields, &[("origin", "http://127.0.0.1:9")])
        .await;
    assert_eq!(cross.status(), StatusCode::FORBIDDEN);
    let same = pages
        .post(&cookie, &fields, &[("origin", &pages.base)])
        .await;
    assert_eq!(same.status(), StatusCode::OK);
    // The token of one browser's session does not pass with another's cookie.
    let (other_cookie, _) = pages.sign_in_page().await;
    assert_eq!(
        pages.post(&other_cookie, &fields, &[]).await.status(),
        StatusCode::FORBIDDEN
    );
}

#[tokio::test]
async fn sessions_end_at_sign_out_on_user_deletion_and_on_a_new_password() {
    let pages = Pages::start(|_| {}).await;
    let signed_in = pages.sign_in("correct horse").await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let session = session_cookie(signed_in.headers());
    let csrf = form_token(&signed_in.text().await.unwrap());
    assert!(pages.signed_in(&session).await);
    // Sign-out: the copied cookie is worth nothing afterwards.
    let out = pages
        .post(
            &session,
            &[("gatehouse_action", "sign_out"), ("csrf", &csrf)],
            &[],
        )
        .await;
    assert_eq!(out.status(), StatusCode::OK);
    assert!(!pages.signed_in(&session).await, "signed out on the server");

    // Signing out from the consent page works even when the application's request no longer
    // does (its registration gone, say).
    let signed_in = pages.sign_in("correct horse").await;
    let session = session_cookie(signed_in.headers());
    let csrf = form_token(&signed_in.text().await.unwrap());
    let out = http()
        .post(format!("{}/authorize", pages.base))
        .header(CONTENT_TYPE, FORM)
        .header("cookie", &session)
        .body(form(&[
            ("gatehouse_action", "sign_out"),
            ("csrf", &csrf),
            ("client_id", "deleted-client"),
            ("response_type", "code"),
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(
        out.status(),
        StatusCode::BAD_REQUEST,
        "the request is refused"
    );
    assert!(!pages.signed_in(&session).await, "but the session ended");

    // A new password ends every session of the user.
    let session = session_cookie(pages.sign_in("correct horse").await.headers());
    assert!(pages.signed_in(&session).await);
    let store = pages.gatehouse.store();
    store
        .set_password("alice", password::hash("new horse").unwrap())
        .await
        .unwrap();
    assert!(!pages.signed_in(&session).await);

    // So does deleting the user.
    let session = session_cookie(pages.sign_in("new horse").await.headers());
    assert!(pages.signed_in(&session).await);
    assert!(store.delete_user("alice").await.unwrap());
    assert!(!pages.signed_in(&session).await);
}

// ----- 10. NIST SP 800-63B §5.2.2: failed sign-ins are limited per account -------------------

#[tokio::test]
async fn nist_800_63b_section_5_2_2_guesses_are_throttled_per_account_not_only_per_address() {
    let pages = Pages::start(|config| config.login.throttle_after_failures = 3).await;
    for _ in 0..3 {
        assert_eq!(
            pages.sign_in("wrong").await.status(),
            StatusCode::UNAUTHORIZED
        );
    }
    // The right password now waits: the account is throttled, whoever asks.
    let throttled = pages.sign_in("correct horse").await;
    assert_eq!(throttled.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait: u64 = throttled.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=30).contains(&wait), "{wait}");
    assert!(
        throttled
            .text()
            .await
            .unwrap()
            .contains("Too many failed sign-ins")
    );
    // A name that is no user is answered the same way: no telling which names exist.
    for _ in 0..3 {
        pages.post_sign_in_as("mallory").await;
    }
    assert_eq!(
        pages.post_sign_in_as("mallory").await.status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        pages
            .gatehouse
            .store()
            .sign_in_failures("alice")
            .await
            .unwrap()
            .unwrap()
            .count,
        3,
        "counted in the store: every instance sees it"
    );
    // Failures on the connected-apps page are audited like those at /authorize.
    let mut failures = 0;
    for _ in 0..100 {
        failures = pages
            .gatehouse
            .store()
            .audit_events(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, event)| event.kind == "sign_in_failed")
            .count();
        if failures >= 8 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        failures, 8,
        "3 wrong and 1 throttled for alice, 4 for mallory"
    );
}

impl Pages {
    async fn post_sign_in_as(&self, name: &str) -> reqwest::Response {
        let (cookie, csrf) = self.sign_in_page().await;
        self.post(
            &cookie,
            &[
                ("gatehouse_action", "sign_in"),
                ("csrf", &csrf),
                ("username", name),
                ("password", "guess"),
            ],
            &[],
        )
        .await
    }
}
