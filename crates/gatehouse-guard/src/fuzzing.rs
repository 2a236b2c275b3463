//! Entry points for the cargo-fuzz targets in `fuzz/` (compiled only with `--cfg fuzzing`, which
//! cargo-fuzz sets): the parsers that read hostile input on every MCP request. Each function
//! panics when an invariant breaks, which is how a fuzz target reports a finding.

use axum::http::{HeaderMap, HeaderValue, header};
use gatehouse_types::{Scope, ScopeSet};

use crate::sse::{EventSplitter, data, with_data};
use crate::tools::{ToolScopes, inspect};

/// The JSON-RPC reader of per-tool scopes: any bytes get an answer, and when the body is
/// well-formed JSON, a refused `tools/call` is one a plain JSON reading also sees.
pub fn jsonrpc(body: &[u8]) {
    let mut tools = ToolScopes::default();
    if let Ok(scope) = Scope::new("files:write") {
        tools.insert("delete_file".into(), scope);
    }
    let Ok(inspection) = inspect(body, &tools, &ScopeSet::new()) else {
        return;
    };
    if inspection.missing.is_empty() {
        // Accepted without the scope: no message of the body may be a `tools/call` of
        // `delete_file`, as serde_json reads it. (A body a `Value` cannot hold, such as a
        // number beyond f64 in a member the guard skips, has no plain reading to compare with;
        // a server using `Value` refuses it.)
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
            return;
        };
        let messages = match value {
            serde_json::Value::Array(items) => items,
            one => vec![one],
        };
        for message in messages {
            let call = message.get("method").and_then(|m| m.as_str()) == Some("tools/call");
            let name = message
                .get("params")
                .and_then(|p| p.get("name"))
                .and_then(|n| n.as_str());
            assert!(
                !(call && name == Some("delete_file")),
                "a tools/call of delete_file went through unchecked"
            );
        }
    }
}

/// The SSE splitter: however `stream` is cut (sizes taken from `cuts`), the events are those of
/// one scan of the whole stream, and rewriting an event's data keeps it one event.
pub fn sse(stream: &[u8], cuts: &[u8]) {
    let whole = {
        let mut splitter = EventSplitter::new(usize::MAX);
        let _ = splitter.push(stream);
        std::iter::from_fn(|| splitter.next_event()).collect::<Vec<_>>()
    };
    let mut splitter = EventSplitter::new(usize::MAX);
    let mut events = Vec::new();
    let mut rest = stream;
    let mut sizes = cuts.iter().map(|&c| usize::from(c).max(1)).cycle();
    while !rest.is_empty() {
        let size = sizes.next().unwrap_or(rest.len()).min(rest.len());
        let (chunk, tail) = rest.split_at(size);
        let _ = splitter.push(chunk);
        rest = tail;
        events.extend(std::iter::from_fn(|| splitter.next_event()));
    }
    assert_eq!(events, whole, "chunking changed the events");
    for event in &whole {
        if data(event).is_some() {
            let rewritten = with_data(event, b"{}");
            let mut again = EventSplitter::new(usize::MAX);
            let _ = again.push(&rewritten);
            let first = again.next_event();
            assert_eq!(
                first.as_deref(),
                Some(&rewritten[..]),
                "a rewritten event split"
            );
            assert!(again.next_event().is_none());
        }
    }
}

/// The bearer credential reader: any `Authorization` value and query get an answer, and a
/// token it accepts is a token68 (RFC 6750 §2.1 `b64token`).
pub fn bearer(authorization: &[u8], query: &str) {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_bytes(authorization) {
        headers.insert(header::AUTHORIZATION, value);
    }
    if let Ok(Some((_, token))) = crate::bearer::token(&headers, Some(query)) {
        assert!(!token.is_empty());
        assert!(
            token
                .trim_end_matches('=')
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)),
            "{token:?} is not a b64token"
        );
    }
}
