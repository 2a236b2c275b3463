//! Tool drift: the tools an upstream MCP server offers, against the tools its resource's
//! configuration maps to scopes (`tool_scopes`).
//!
//! MCP servers change under their gateways: a release adds `delete_repository`, renames
//! `search` to `search_code`. A tool nobody mapped is then open to every caller the resource
//! admits (`unmapped_tools = "allow"`) or closed to all (`"deny"`); a mapping whose tool is gone
//! guards nothing. Both are drift, for the operator to decide. `gatehouse resources check` reports
//! it and exits non-zero; a running gateway logs it at start and whenever the upstream's list
//! changes ([`watch`]).
//!
//! The listing is an MCP client of its own (MCP 2025-11-25, lifecycle and Streamable HTTP):
//! `initialize`, `notifications/initialized`, `tools/list` page by page, then the session is
//! ended. No identity header is sent: the upstream sees an anonymous listing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Weak;
use std::time::Duration;

use serde::Serialize;
use serde_json::{Value, json};

use gatehouse_guard::sse::{self, EventSplitter};

use crate::config::{Config, UnmappedTools};
use crate::outbound::{ReadError, read_capped};

/// How long each request of a listing may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// The most a listing answer may hold.
const MAX_ANSWER_BYTES: usize = 4 * 1024 * 1024;
/// Pages of `tools/list` read at most: a server whose cursor never ends is not followed forever.
const MAX_PAGES: usize = 100;
/// Tools kept at most from one upstream, and the longest name kept (MCP tool names are 1 to 128
/// characters): a server listing millions, or megabyte names, is reported, not held.
const MAX_TOOLS: usize = 10_000;
const MAX_NAME_CHARS: usize = 128;
/// How often a running gateway lists its upstreams' tools again.
pub(crate) const WATCH_EVERY: Duration = Duration::from_secs(600);

/// One resource's tools against its scope map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ToolReport {
    /// The resource.
    pub resource: String,
    /// Its upstream MCP server.
    pub upstream: String,
    /// Each tool the upstream lists, with the scope that opens it (`None`: unmapped).
    pub tools: BTreeMap<String, Option<String>>,
    /// Tools `tool_scopes` names and the upstream does not list.
    pub stale: Vec<String>,
    /// What becomes of unmapped tools: `allow` (open to every caller) or `deny` (closed).
    pub unmapped_tools: &'static str,
}

impl ToolReport {
    /// Whether the configuration and the upstream disagree: a mapping without its tool, or a
    /// tool without a mapping on a resource that maps tools (or denies the unmapped). A resource
    /// with no `tool_scopes` and unmapped tools allowed opens every tool to its required scopes
    /// by design: not drift.
    pub fn drifted(&self) -> bool {
        let maps_tools = self.unmapped_tools == "deny" || self.tools.values().any(Option::is_some);
        !self.stale.is_empty() || (maps_tools && self.unmapped().next().is_some())
    }

    /// Tools the upstream lists and `tool_scopes` does not name.
    pub fn unmapped(&self) -> impl Iterator<Item = &str> {
        self.tools
            .iter()
            .filter(|(_, scope)| scope.is_none())
            .map(|(tool, _)| tool.as_str())
    }
}

/// Why an upstream's tools could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct ListError(String);

/// Lists the tools of every upstream of `config`: one result per resource with an `upstream`.
pub async fn check(config: &Config) -> Vec<(String, Result<ToolReport, ListError>)> {
    let http = match crate::outbound::client_builder()
        .connect_timeout(REQUEST_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .build()
    {
        Ok(http) => http,
        Err(error) => {
            return config
                .resources
                .iter()
                .map(|r| (r.resource.clone(), Err(ListError(error.to_string()))))
                .collect();
        }
    };
    let mut reports = Vec::new();
    for resource in &config.resources {
        let Some(upstream) = &resource.upstream else {
            continue;
        };
        let report = list_tools(&http, upstream).await.map(|names| ToolReport {
            resource: resource.resource.clone(),
            upstream: redacted(upstream),
            tools: names
                .iter()
                .map(|name| (name.clone(), resource.tool_scopes.get(name).cloned()))
                .collect(),
            stale: resource
                .tool_scopes
                .keys()
                .filter(|name| !names.contains(*name))
                .cloned()
                .collect(),
            unmapped_tools: match resource.unmapped_tools {
                UnmappedTools::Deny => "deny",
                _ => "allow",
            },
        });
        reports.push((resource.resource.clone(), report));
    }
    reports
}

/// The names of the tools `upstream` lists.
async fn list_tools(http: &reqwest::Client, upstream: &str) -> Result<BTreeSet<String>, ListError> {
    let mut session = None;
    let init = call(
        http,
        upstream,
        &mut session,
        json!({
            "jsonrpc": "2.0", "id": 1, "method": "initialize",
            "params": {
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "gatehouse-drift", "version": env!("CARGO_PKG_VERSION")},
            },
        }),
    )
    .await?;
    let version = init
        .pointer("/result/protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or("2025-11-25")
        .to_owned();
    notify(http, upstream, session.as_deref(), &version).await?;
    let mut names = BTreeSet::new();
    let mut cursor: Option<String> = None;
    for page in 0..MAX_PAGES {
        let params = match &cursor {
            Some(cursor) => json!({ "cursor": cursor }),
            None => json!({}),
        };
        let answer = call(
            http,
            upstream,
            &mut session,
            json!({"jsonrpc": "2.0", "id": page + 2, "method": "tools/list", "params": params}),
        )
        .await?;
        let tools = answer
            .pointer("/result/tools")
            .and_then(Value::as_array)
            .ok_or_else(|| {
                ListError(format!(
                    "tools/list answered without tools: {}",
                    brief(&answer)
                ))
            })?;
        for name in tools
            .iter()
            .filter_map(|tool| tool.get("name").and_then(Value::as_str))
        {
            if name.chars().count() > MAX_NAME_CHARS {
                return Err(ListError(format!(
                    "{} lists a tool name longer than {MAX_NAME_CHARS} characters",
                    redacted(upstream)
                )));
            }
            names.insert(name.to_owned());
        }
        if names.len() > MAX_TOOLS {
            return Err(ListError(format!(
                "{} lists more than {MAX_TOOLS} tools",
                redacted(upstream)
            )));
        }
        cursor = answer
            .pointer("/result/nextCursor")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    if let Some(session) = &session {
        // Ending the session is a courtesy; a server that keeps it is no error.
        let _ = http
            .delete(upstream)
            .header("mcp-session-id", session)
            .header("mcp-protocol-version", &version)
            .send()
            .await;
    }
    Ok(names)
}

/// Sends one JSON-RPC request and reads its answer, as JSON or from an SSE stream; keeps the
/// session id the server hands out.
async fn call(
    http: &reqwest::Client,
    upstream: &str,
    session: &mut Option<String>,
    request: Value,
) -> Result<Value, ListError> {
    let mut sent = http
        .post(upstream)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .body(request.to_string());
    if let Some(session) = session.as_deref() {
        sent = sent.header("mcp-session-id", session);
    }
    let response = sent.send().await.map_err(|e| unreachable(upstream, e))?;
    let status = response.status();
    if let Some(id) = response
        .headers()
        .get("mcp-session-id")
        .and_then(|v| v.to_str().ok())
    {
        *session = Some(id.to_owned());
    }
    if !status.is_success() {
        return Err(ListError(format!(
            "{} answered {status}",
            redacted(upstream)
        )));
    }
    let id = request.get("id").cloned().unwrap_or(Value::Null);
    let answer = read_answer(response, &id).await?;
    let answer = answer
        .ok_or_else(|| ListError(format!("{} sent no JSON-RPC answer", redacted(upstream))))?;
    if let Some(error) = answer.get("error") {
        return Err(ListError(format!(
            "{} refused: {}",
            redacted(upstream),
            brief(error)
        )));
    }
    Ok(answer)
}

/// `notifications/initialized` (MCP lifecycle): the server answers 202 with no body.
async fn notify(
    http: &reqwest::Client,
    upstream: &str,
    session: Option<&str>,
    version: &str,
) -> Result<(), ListError> {
    let mut sent = http
        .post(upstream)
        .header("accept", "application/json, text/event-stream")
        .header("content-type", "application/json")
        .header("mcp-protocol-version", version)
        .body(r#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#);
    if let Some(session) = session {
        sent = sent.header("mcp-session-id", session);
    }
    let response = sent.send().await.map_err(|e| unreachable(upstream, e))?;
    if !response.status().is_success() {
        return Err(ListError(format!(
            "{} answered {} to notifications/initialized",
            redacted(upstream),
            response.status()
        )));
    }
    Ok(())
}

/// The JSON-RPC answer with `id`: the body, at most [`MAX_ANSWER_BYTES`], or the event of an SSE
/// stream that carries it, read as the events arrive (a server may keep the stream open after
/// answering).
async fn read_answer(
    mut response: reqwest::Response,
    id: &Value,
) -> Result<Option<Value>, ListError> {
    let stream = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("text/event-stream"));
    let broke_off =
        |e: reqwest::Error| ListError(format!("the answer broke off: {}", e.without_url()));
    let too_large = || ListError("the answer is larger than 4 MiB".into());
    if !stream {
        let body = read_capped(response, MAX_ANSWER_BYTES)
            .await
            .map_err(|e| match e {
                ReadError::TooLarge(_) => too_large(),
                broke @ ReadError::BrokeOff(_) => ListError(broke.to_string()),
            })?;
        return Ok(serde_json::from_slice(&body).ok());
    }
    let mut events = EventSplitter::new(MAX_ANSWER_BYTES);
    while let Some(chunk) = response.chunk().await.map_err(broke_off)? {
        events.push(&chunk).map_err(|_| too_large())?;
        while let Some(event) = events.next_event() {
            if let Some(answer) = answer_in(&event, id) {
                return Ok(Some(answer));
            }
        }
    }
    Ok(answer_in(&events.rest(), id))
}

/// The JSON-RPC message of an SSE `event`, if it is the answer with `id`.
fn answer_in(event: &[u8], id: &Value) -> Option<Value> {
    let data = sse::data(event)?;
    serde_json::from_slice::<Value>(&data)
        .ok()
        .filter(|message| message.get("id") == Some(id))
}

/// An upstream that could not be reached. reqwest's message names the URL it tried, userinfo
/// and query included: it is left out, and the redacted URL named instead.
fn unreachable(upstream: &str, error: reqwest::Error) -> ListError {
    ListError(format!(
        "cannot reach {}: {}",
        redacted(upstream),
        error.without_url()
    ))
}

/// `upstream` for messages, without credentials a URL may carry (userinfo, the query).
fn redacted(upstream: &str) -> String {
    match reqwest::Url::parse(upstream) {
        Ok(mut url) => {
            let _ = url.set_username("");
            let _ = url.set_password(None);
            url.set_query(None);
            url.to_string()
        }
        Err(_) => "the upstream".into(),
    }
}

/// A short, escaped rendering of what an upstream sent, for messages.
fn brief(value: &Value) -> String {
    let text = value.to_string();
    let short: String = text.chars().take(200).collect();
    gatehouse_types::untrusted::log_safe(&short).into_owned()
}

/// Lists the upstreams' tools now and every [`WATCH_EVERY`] while `alive` can be upgraded,
/// logging at start what is unmapped or stale, and afterwards every tool that appears or
/// disappears.
pub(crate) async fn watch<T: Send + Sync + 'static>(config: Config, alive: Weak<T>) {
    let mut known: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut ticks = tokio::time::interval(WATCH_EVERY);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if alive.upgrade().is_none() {
            return;
        }
        for (resource, report) in check(&config).await {
            if alive.upgrade().is_none() {
                return;
            }
            let report = match report {
                Ok(report) => report,
                Err(error) => {
                    tracing::warn!(%resource, %error, "cannot list the upstream's tools");
                    continue;
                }
            };
            let now: BTreeSet<String> = report.tools.keys().cloned().collect();
            match known.insert(resource.clone(), now.clone()) {
                None => log_first(&report),
                Some(before) => {
                    for tool in now.difference(&before) {
                        let scope = report.tools.get(tool).cloned().flatten();
                        tracing::warn!(
                            %resource, tool = %gatehouse_types::Untrusted(tool),
                            scope = scope.as_deref().unwrap_or("(unmapped)"),
                            unmapped_tools = report.unmapped_tools,
                            "a tool appeared upstream"
                        );
                    }
                    for tool in before.difference(&now) {
                        tracing::warn!(
                            %resource, tool = %gatehouse_types::Untrusted(tool),
                            "a tool disappeared upstream"
                        );
                    }
                }
            }
        }
    }
}

/// The first listing of a resource: its tools, and what is unmapped or stale.
fn log_first(report: &ToolReport) {
    let names: Vec<String> = report
        .tools
        .keys()
        .map(|tool| gatehouse_types::untrusted::log_safe(tool).into_owned())
        .collect();
    tracing::info!(resource = %report.resource, tools = ?names, "upstream tools listed");
    if report.drifted() {
        let unmapped: Vec<String> = report
            .unmapped()
            .map(|tool| gatehouse_types::untrusted::log_safe(tool).into_owned())
            .collect();
        tracing::warn!(
            resource = %report.resource,
            unmapped = ?unmapped,
            stale = ?report.stale,
            unmapped_tools = report.unmapped_tools,
            "the upstream's tools and tool_scopes disagree (gatehouse resources check)"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The answer with `id` among the events of a whole stream `body`.
    fn answer_in_stream(body: &[u8], id: &Value) -> Option<Value> {
        let mut events = EventSplitter::new(1024);
        events.push(body).ok()?;
        std::iter::from_fn(|| events.next_event())
            .find_map(|event| answer_in(&event, id))
            // As `read_answer` does when the stream ends.
            .or_else(|| answer_in(&events.rest(), id))
    }

    #[test]
    fn an_answer_is_found_among_the_events_of_a_stream() {
        let body = b"event: message\r\ndata: \r\n\r\nevent: message\ndata: {\"jsonrpc\":\"2.0\",\"method\":\"notifications/message\"}\n\ndata: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{\"tools\":[]}}\n\n";
        let answer = answer_in_stream(body, &json!(2));
        assert_eq!(
            answer,
            Some(json!({"jsonrpc":"2.0","id":2,"result":{"tools":[]}}))
        );
        assert_eq!(answer_in_stream(body, &json!(3)), None);
        // Lines may also end with a bare CR (the SSE framing the guard reads by).
        let cr = b"data: {\"jsonrpc\":\"2.0\",\"id\":2,\"result\":{}}\r\r";
        assert_eq!(
            answer_in_stream(cr, &json!(2)),
            Some(json!({"jsonrpc":"2.0","id":2,"result":{}}))
        );
    }

    #[test]
    fn drift_is_a_stale_mapping_or_an_unmapped_tool_where_tools_are_mapped() {
        let report = |tools: &[(&str, Option<&str>)], stale: &[&str], unmapped_tools| ToolReport {
            resource: "r".into(),
            upstream: "u".into(),
            tools: tools
                .iter()
                .map(|(t, s)| ((*t).to_owned(), s.map(str::to_owned)))
                .collect(),
            stale: stale.iter().map(|s| (*s).to_owned()).collect(),
            unmapped_tools,
        };
        // Nothing mapped, unmapped allowed: every tool open to the required scopes, by design.
        assert!(!report(&[("echo", None)], &[], "allow").drifted());
        // Everything mapped: in agreement.
        assert!(!report(&[("echo", Some("s"))], &[], "allow").drifted());
        // A new tool beside mapped ones: open to all (allow) or closed (deny), either way drift.
        assert!(report(&[("echo", Some("s")), ("new", None)], &[], "allow").drifted());
        assert!(report(&[("new", None)], &[], "deny").drifted());
        // A mapping whose tool is gone.
        assert!(report(&[("echo", Some("s"))], &["gone"], "allow").drifted());
    }
}
