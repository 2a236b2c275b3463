//! Filtering `tools/list` responses down to the tools the caller may call, so that a client is
//! not offered tools it would be refused. Both response forms of MCP Streamable HTTP are
//! handled: `application/json`, read whole, and `text/event-stream`, rewritten event by event
//! as it streams.
//!
//! On a POST, only responses whose `id` is one of the `tools/list` requests of the same POST are
//! touched. On the standalone GET stream of MCP 2025-11-25 (and its resumption with
//! `Last-Event-ID`), the guard saw no request: a server may deliver or replay there a response
//! to a `tools/list` made earlier, so every response carrying a list of tools is filtered.
//! A response the guard cannot filter (too large) is not passed on unfiltered: it is cut off.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::{BodyExt, Limited};
use serde_json::Value;

use crate::Principal;
use crate::sse::{self, EventSplitter};
use crate::tools::ToolScopes;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Which responses are `tools/list` answers.
pub(crate) enum Answering {
    /// Those to these requests of the same POST.
    These(Vec<Value>),
    /// Any response whose result holds a list of tools (a GET stream).
    Any,
}

/// What filtering made of a JSON text.
enum Filtered {
    /// Nothing to change.
    Unchanged,
    /// The filtered text.
    Changed(Vec<u8>),
    /// Not JSON this parser reads.
    Unreadable,
}

/// `502`: the upstream's answer could not be filtered, and is not passed on unfiltered.
fn unfilterable() -> Response {
    let mut response = Response::new(Body::from(
        r#"{"error":"server_error","error_description":"The tools/list response could not be filtered"}"#,
    ));
    *response.status_mut() = StatusCode::BAD_GATEWAY;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// What one response is filtered with.
pub(crate) struct ToolsListFilter {
    pub(crate) ids: Answering,
    /// The request speaks MCP 2026-07-28 or later, whose list results always carry a
    /// `cacheScope`: one missing from the server's answer is added.
    pub(crate) cacheable: bool,
    pub(crate) tools: Arc<ToolScopes>,
    pub(crate) principal: Principal,
    pub(crate) max_bytes: usize,
}

impl ToolsListFilter {
    /// Filters `result.tools` of one message, if it answers one of our requests; whether it
    /// changed anything.
    fn filter_message(&self, message: &mut Value) -> bool {
        let Some(object) = message.as_object_mut() else {
            return false;
        };
        let answers = match (&self.ids, object.get("id")) {
            (Answering::These(ids), Some(id)) => {
                ids.iter().any(|ours| crate::tools::same_id(ours, id))
            }
            (Answering::Any, Some(_)) => true,
            (_, None) => false,
        };
        if !answers {
            return false;
        }
        let Some(result) = object.get_mut("result").and_then(Value::as_object_mut) else {
            return false;
        };
        // MCP 2026-07-28 (`CacheableResult`): the list now depends on who asks, so it may be
        // reused "only within the same authorization context" ("private"), whatever the server
        // said; a shared cache in front would otherwise hand one caller's list to another.
        // Results of earlier revisions carry no `cacheScope` and get none.
        // (`CacheableResult` makes it required from 2026-07-28 on.)
        let mut changed = false;
        match result.get_mut("cacheScope") {
            Some(scope) if scope.as_str() != Some("private") => {
                *scope = Value::from("private");
                changed = true;
            }
            None if self.cacheable => {
                result.insert("cacheScope".to_owned(), Value::from("private"));
                changed = true;
            }
            _ => {}
        }
        let Some(tools) = result.get_mut("tools").and_then(Value::as_array_mut) else {
            return changed;
        };
        let before = tools.len();
        let granted = self.principal.scopes();
        tools.retain(|tool| {
            tool.get("name")
                .and_then(Value::as_str)
                .map_or(self.tools.allows_unnamed(), |name| {
                    self.tools.allows(name, granted)
                })
        });
        changed || tools.len() != before
    }

    /// The JSON text with every matching message filtered.
    fn filter_json(&self, text: &[u8]) -> Filtered {
        let Ok(mut value) = serde_json::from_slice::<Value>(text) else {
            return Filtered::Unreadable;
        };
        let changed = match &mut value {
            Value::Array(messages) => messages.iter_mut().fold(false, |changed, message| {
                self.filter_message(message) | changed
            }),
            message => self.filter_message(message),
        };
        match changed.then(|| serde_json::to_vec(&value)) {
            None => Filtered::Unchanged,
            Some(Ok(filtered)) => Filtered::Changed(filtered),
            Some(Err(_)) => Filtered::Unreadable,
        }
    }

    fn filter_event(&self, event: Bytes) -> Bytes {
        let Some(data) = sse::data(&event) else {
            return event;
        };
        match self.filter_json(&data) {
            Filtered::Changed(filtered) => sse::with_data(&event, &filtered),
            Filtered::Unchanged => event,
            // JSON this parser refuses and a laxer client might read (a lone surrogate, a huge
            // number): an event that may hold a list of tools is dropped rather than passed on
            // unfiltered.
            Filtered::Unreadable if data.windows(7).any(|w| w == b"\"tools\"") => Bytes::new(),
            Filtered::Unreadable => event,
        }
    }

    /// The response, filtered according to its media type.
    pub(crate) async fn apply(self, response: Response) -> Response {
        let media = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| value.split(';').next())
            .map(|media| media.trim().to_ascii_lowercase());
        match media.as_deref() {
            Some("application/json") => self.apply_json(response).await,
            Some("text/event-stream") => self.apply_sse(response),
            _ => response,
        }
    }

    async fn apply_json(self, response: Response) -> Response {
        let (mut parts, body) = response.into_parts();
        let bytes = match Limited::new(body, self.max_bytes).collect().await {
            Ok(collected) => collected.to_bytes(),
            Err(error) => {
                tracing::error!(%error, "a tools/list response could not be read to filter it");
                return unfilterable();
            }
        };
        match self.filter_json(&bytes) {
            Filtered::Changed(filtered) => {
                parts.headers.remove(header::CONTENT_LENGTH);
                Response::from_parts(parts, Body::from(filtered))
            }
            Filtered::Unchanged => Response::from_parts(parts, Body::from(bytes)),
            Filtered::Unreadable if bytes.is_empty() => Response::from_parts(parts, Body::empty()),
            // The answer to a `tools/list` that this parser cannot read is not passed on as it is.
            Filtered::Unreadable => {
                tracing::error!("a tools/list response is not JSON the guard can read");
                unfilterable()
            }
        }
    }

    fn apply_sse(self, response: Response) -> Response {
        let (mut parts, body) = response.into_parts();
        parts.headers.remove(header::CONTENT_LENGTH);
        let splitter = EventSplitter::new(self.max_bytes);
        let state = Some((body.into_data_stream(), splitter, self));
        let stream = futures_util::stream::unfold(state, |state| async move {
            let (mut upstream, mut splitter, filter) = state?;
            loop {
                let mut out = bytes::BytesMut::new();
                while let Some(event) = splitter.next_event() {
                    out.extend_from_slice(&filter.filter_event(event));
                }
                if !out.is_empty() {
                    let item: Result<Bytes, BoxError> = Ok(out.freeze());
                    return Some((item, Some((upstream, splitter, filter))));
                }
                match upstream.next().await {
                    Some(Ok(chunk)) => {
                        if let Err(error) = splitter.push(&chunk) {
                            tracing::error!(%error, "cutting off an event stream the guard cannot filter");
                            return Some((Err(error.into()), None));
                        }
                    }
                    Some(Err(error)) => return Some((Err(error.into()), None)),
                    None => {
                        // An unterminated last event is discarded by SSE clients; filter it
                        // anyway in case one does not.
                        let rest = splitter.rest();
                        if rest.is_empty() {
                            return None;
                        }
                        return Some((Ok(filter.filter_event(rest)), None));
                    }
                }
            }
        });
        Response::from_parts(parts, Body::from_stream(stream))
    }
}
