//! `gatehouse audit list`: the security events and MCP tool calls in the store's audit table,
//! newest first, filtered by time, client, subject and tool.

use gatehouse_store::{AuditEvent, AuditQuery, ServerStore};
use gatehouse_types::UnixTime;
use gatehouse_types::untrusted::log_safe;
use serde_json::{Map, Value};

use crate::error::CliError;
use crate::serve::runtime;
use crate::users::Target;

/// Arguments of `gatehouse audit list`.
#[derive(Debug, clap::Args)]
pub(crate) struct ListArgs {
    /// Only events of the last DURATION: a number and a unit, `s`, `m`, `h` or `d` (`90m`,
    /// `24h`, `7d`).
    #[arg(long, value_name = "DURATION", value_parser = crate::time::parse_duration)]
    since: Option<u64>,
    /// Only events of this client.
    #[arg(long, value_name = "ID")]
    client: Option<String>,
    /// Only events of this subject (a local user's name, or `{provider}:{subject}`).
    #[arg(long, value_name = "SUB")]
    subject: Option<String>,
    /// Only calls of this tool (or prompt, or resource URI).
    #[arg(long, value_name = "NAME")]
    tool: Option<String>,
    /// At most this many events, the newest.
    #[arg(long, value_name = "N", default_value_t = 100)]
    limit: u32,
    /// One JSON object a line: time, kind, subject, client_id and the event's details (for tool
    /// calls resource, method, tool, decision, reason, status, latency_us).
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    target: Target,
}

pub(crate) fn list(args: &ListArgs) -> Result<(), CliError> {
    let now = gatehouse_axum::now();
    let query = AuditQuery {
        since: args
            .since
            .map_or(UnixTime::EPOCH, |secs| now.saturating_sub_secs(secs)),
        client_id: args.client.clone(),
        subject: args.subject.clone(),
        tool: args.tool.clone(),
        limit: args.limit,
    };
    let events = runtime()?.block_on(async {
        let store = args.target.open().await?;
        store
            .search_audit(&query)
            .await
            .map_err(|e| CliError::Io(e.to_string()))
    })?;
    let mut out = String::new();
    for (_, event) in &events {
        if args.json {
            out.push_str(&json_line(event).to_string());
        } else {
            out.push_str(&text_line(event));
        }
        out.push('\n');
    }
    crate::output::stdout(out.as_bytes())
}

/// The event as one JSON object: its time (RFC 3339, and `at` in seconds), kind, subject and
/// client, then the members of its detail.
fn json_line(event: &AuditEvent) -> Value {
    let mut line = Map::new();
    let at = i64::try_from(event.at.as_secs()).unwrap_or(i64::MAX);
    line.insert("time".into(), crate::time::rfc3339(at).into());
    line.insert("at".into(), at.into());
    line.insert("kind".into(), event.kind.clone().into());
    line.insert("subject".into(), event.subject.clone().into());
    line.insert("client_id".into(), event.client_id.clone().into());
    for (name, value) in event.members() {
        line.entry(name).or_insert(value);
    }
    Value::Object(line)
}

/// The event for a person: time, kind, subject, client, then what it was about. Every text is
/// shown escaped: the table holds what requests chose.
fn text_line(event: &AuditEvent) -> String {
    let at = i64::try_from(event.at.as_secs()).unwrap_or(i64::MAX);
    let text = |value: Option<&str>| log_safe(value.unwrap_or("-")).into_owned();
    let detail = event.members();
    let member = |name: &str| detail.get(name).and_then(Value::as_str);
    let about = if event.kind == "tool_call" {
        let mut about = format!(
            "{} {} {}",
            text(member("method")),
            text(member("tool")),
            text(member("decision")),
        );
        if let Some(reason) = member("reason") {
            about.push_str(&format!(" ({})", log_safe(reason)));
        }
        if let Some(status) = detail.get("status").and_then(Value::as_u64) {
            about.push_str(&format!(" status {status}"));
        }
        if let Some(latency) = detail.get("latency_us").and_then(Value::as_u64) {
            about.push_str(&format!(" in {:.1} ms", latency as f64 / 1000.0));
        }
        about.push_str(&format!(" at {}", text(member("resource"))));
        about
    } else {
        log_safe(event.detail.as_str()).into_owned()
    };
    format!(
        "{}\t{}\t{}\t{}\t{about}",
        crate::time::utc(at),
        event.kind,
        text(event.subject.as_deref()),
        text(event.client_id.as_deref()),
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    /// A call as `gatehouse serve` stores it now, its detail without the members its columns
    /// hold, and as it stored it before, with them.
    fn calls() -> [AuditEvent; 2] {
        let call = |detail: Value| AuditEvent {
            at: UnixTime::from_secs(1_765_101_600),
            kind: "tool_call".into(),
            subject: Some("alice".into()),
            client_id: Some("claude".into()),
            resource: Some("https://mcp.example.com/mcp".into()),
            tool: Some("delete\u{1b}[2J".into()),
            detail: detail.into(),
        };
        [
            call(serde_json::json!({
                "method": "tools/call", "decision": "denied", "reason": "insufficient_scope",
            })),
            call(serde_json::json!({
                "kind": "tool_call", "resource": "https://mcp.example.com/mcp",
                "method": "tools/call", "tool": "delete\u{1b}[2J", "subject": "alice",
                "client_id": "claude", "decision": "denied", "reason": "insufficient_scope",
            })),
        ]
    }

    #[test]
    fn a_tool_call_reads_as_one_line_and_one_object() {
        for event in calls() {
            let line = text_line(&event);
            assert!(line.starts_with("2025-12-07 10:00:00 UTC\ttool_call\talice\tclaude\t"));
            assert!(line.contains(
                "tools/call delete\\u{1b}[2J denied (insufficient_scope) at https://mcp.example.com/mcp"
            ));
            // An escape sequence a request chose reaches no terminal.
            assert!(!line.contains('\u{1b}'), "{line}");
            let json = json_line(&event);
            assert_eq!(json["time"], "2025-12-07T10:00:00Z");
            assert_eq!(json["kind"], "tool_call");
            assert_eq!(json["subject"], "alice");
            assert_eq!(json["client_id"], "claude");
            assert_eq!(json["resource"], "https://mcp.example.com/mcp");
            assert_eq!(json["method"], "tools/call");
            assert_eq!(json["decision"], "denied");
            assert_eq!(json["tool"], "delete\u{1b}[2J");
        }
        // Either way a record was stored, it reads the same.
        let [compact, whole] = calls();
        assert_eq!(text_line(&compact), text_line(&whole));
        assert_eq!(json_line(&compact), json_line(&whole));
    }
}
