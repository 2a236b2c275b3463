//! Security events: every registration, sign-in, consent, token issue, refresh, reuse detection,
//! revocation and failed client authentication. Each is logged with `tracing` (target
//! `gatehouse::audit`), written to the store's audit table, and passed to the [`Hook`]s a library
//! user installed. No event carries a secret: client ids, subjects, scopes, resources, `jti`s and
//! grant ids only. Some of those come from requests no one has authenticated yet (the client id a
//! failed authentication claimed), so every text of an event is bounded and escaped
//! ([`gatehouse_types::untrusted`]) before any of the three sees it.

use std::sync::Arc;

use gatehouse_store::{AnyStore, AuditDetail, AuditEvent, ServerStore};
use serde::{Deserialize, Serialize};

use crate::clock::now;

/// What happened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Event {
    /// A client registered itself (RFC 7591).
    ClientRegistered {
        /// The new client.
        client_id: String,
    },
    /// A client's registration was replaced (RFC 7592 §2.2).
    ClientUpdated {
        /// The client.
        client_id: String,
    },
    /// A client was deleted and its grants revoked (RFC 7592 §2.3).
    ClientDeleted {
        /// The client.
        client_id: String,
    },
    /// A person signed in.
    SignedIn {
        /// Who.
        subject: String,
        /// For which client's request (none on the connected-apps page).
        client_id: Option<String>,
    },
    /// A sign-in failed (a wrong password, or an account throttled after too many).
    SignInFailed {
        /// The user name given, when it names a user (people type passwords into the name
        /// field; those must not reach the log).
        username: String,
        /// For which client's request (none on the connected-apps page).
        client_id: Option<String>,
    },
    /// A sign-in through an identity provider was refused: a bad or replayed `state`, a code
    /// the provider would not redeem, an invalid ID token, or a person the configuration does
    /// not admit.
    FederatedSignInRefused {
        /// The identity provider's id.
        provider: String,
        /// Why, in this server's words (what the provider sent appears only as a short,
        /// escaped excerpt).
        reason: String,
    },
    /// An identity provider refused to refresh a person's kept tokens (they were removed
    /// there): their grants here were revoked.
    FederatedGrantsRevoked {
        /// Who.
        subject: String,
        /// The identity provider's id.
        provider: String,
        /// What the provider answered, in this server's words.
        reason: String,
        /// How many grants were revoked.
        grants: usize,
    },
    /// A person allowed a client access.
    ConsentGiven {
        /// Who.
        subject: String,
        /// To whom.
        client_id: String,
        /// What.
        scope: String,
        /// Where.
        resources: Vec<String>,
    },
    /// A person refused.
    ConsentRefused {
        /// Who.
        subject: String,
        /// To whom.
        client_id: String,
    },
    /// A person disconnected an app on the connected-apps page: its grant is revoked.
    ConsentRevoked {
        /// Who.
        subject: String,
        /// Which app.
        client_id: String,
        /// The revoked grant.
        grant: String,
    },
    /// Tokens were issued at the token endpoint.
    TokenIssued {
        /// `authorization_code` or `refresh_token`.
        grant_type: String,
        /// To whom.
        client_id: String,
        /// For whom.
        subject: String,
        /// The access token's scope.
        scope: String,
        /// The access token's audience.
        audience: Vec<String>,
        /// The access token's id.
        jti: String,
    },
    /// A used code or rotated refresh token came back: the grant was revoked.
    ReuseDetected {
        /// `code` or `refresh_token`.
        credential: String,
        /// The client that presented it.
        client_id: Option<String>,
        /// The revoked grant.
        grant: String,
    },
    /// A token was revoked at the revocation endpoint (RFC 7009).
    TokenRevoked {
        /// The client that asked.
        client_id: Option<String>,
    },
    /// A client failed to authenticate.
    ClientAuthenticationFailed {
        /// The client it claimed to be, if any.
        client_id: Option<String>,
        /// Where: `token`, `introspect` or `revoke`.
        endpoint: String,
    },
    /// A resource's guard decided an MCP call: a `tools/call`, `prompts/get` or
    /// `resources/read` (see `gatehouse_guard::AuditedCall`).
    ToolCall {
        /// The protected resource.
        resource: String,
        /// `tools/call`, `prompts/get` or `resources/read`.
        method: String,
        /// The tool or prompt name, or the resource URI.
        tool: String,
        /// Who.
        subject: String,
        /// Through which client.
        client_id: String,
        /// The scopes the call needs there.
        scopes: String,
        /// `allowed` or `denied`.
        decision: String,
        /// Why it was denied (`insufficient_scope`, `tool_denied`, `rate_limited`, …).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        reason: Option<String>,
        /// The status the MCP server answered with (allowed calls).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        status: Option<u16>,
        /// How long the MCP server took to answer, in microseconds (allowed calls).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        latency_us: Option<u64>,
        /// The call's arguments, for resources with `audit_arguments = true`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        arguments: Option<serde_json::Value>,
        /// Further calls of the same batch, decided alike, not recorded one by one.
        #[serde(default, skip_serializing_if = "is_zero")]
        more_calls: usize,
    },
}

impl Event {
    /// The event's kind, e.g. `token_issued`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ClientRegistered { .. } => "client_registered",
            Self::ClientUpdated { .. } => "client_updated",
            Self::ClientDeleted { .. } => "client_deleted",
            Self::SignedIn { .. } => "signed_in",
            Self::SignInFailed { .. } => "sign_in_failed",
            Self::FederatedSignInRefused { .. } => "federated_sign_in_refused",
            Self::FederatedGrantsRevoked { .. } => "federated_grants_revoked",
            Self::ConsentGiven { .. } => "consent_given",
            Self::ConsentRefused { .. } => "consent_refused",
            Self::ConsentRevoked { .. } => "consent_revoked",
            Self::TokenIssued { .. } => "token_issued",
            Self::ReuseDetected { .. } => "reuse_detected",
            Self::TokenRevoked { .. } => "token_revoked",
            Self::ClientAuthenticationFailed { .. } => "client_authentication_failed",
            Self::ToolCall { .. } => "tool_call",
        }
    }

    fn subject(&self) -> Option<&str> {
        match self {
            Self::SignedIn { subject, .. }
            | Self::FederatedGrantsRevoked { subject, .. }
            | Self::ConsentGiven { subject, .. }
            | Self::ConsentRefused { subject, .. }
            | Self::ConsentRevoked { subject, .. }
            | Self::TokenIssued { subject, .. }
            | Self::ToolCall { subject, .. } => Some(subject),
            _ => None,
        }
    }

    fn client_id(&self) -> Option<&str> {
        match self {
            Self::ClientRegistered { client_id }
            | Self::ClientUpdated { client_id }
            | Self::ClientDeleted { client_id }
            | Self::ConsentGiven { client_id, .. }
            | Self::ConsentRefused { client_id, .. }
            | Self::ConsentRevoked { client_id, .. }
            | Self::TokenIssued { client_id, .. }
            | Self::ToolCall { client_id, .. } => Some(client_id),
            Self::ReuseDetected { client_id, .. }
            | Self::SignedIn { client_id, .. }
            | Self::SignInFailed { client_id, .. }
            | Self::TokenRevoked { client_id }
            | Self::ClientAuthenticationFailed { client_id, .. } => client_id.as_deref(),
            Self::FederatedSignInRefused { .. } | Self::FederatedGrantsRevoked { .. } => None,
        }
    }
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// Called for every event, in the request that caused it. Keep it quick: hand slow work (a
/// webhook, a SIEM) to a task of your own.
pub trait Hook: Send + Sync + 'static {
    /// An event happened.
    fn on_event(&self, event: &Event);
}

impl<F: Fn(&Event) + Send + Sync + 'static> Hook for F {
    fn on_event(&self, event: &Event) {
        self(event);
    }
}

/// Audit records waiting to be written, at most. The writer stores what has queued up in one
/// transaction (one commit), so it keeps up with bursts far above what the token endpoint
/// issues; should the store stall, further records are dropped rather than growing memory without
/// bound, each counted in `gatehouse_audit_records_dropped_total` and a log line. The `tracing`
/// line of every event is written regardless.
const AUDIT_QUEUE: usize = 4096;

/// The most records the writer stores in one transaction.
const AUDIT_BATCH: usize = 1024;

/// How long the writer lets records gather after a batch that did not fill, before it takes the
/// next. Without it, under load, every commit took the handful of records that came during the
/// previous one: thousands of commits (and fsyncs) a second, a seventh of the CPU of a server
/// answering 15,000 tool calls a second (issue 24). With it a busy server commits its audit at
/// most about forty times a second; a quiet one writes each record as it comes. The queue holds
/// this long of far more records than the server can answer.
const AUDIT_GATHER: std::time::Duration = std::time::Duration::from_millis(25);

/// What the audit writer is handed.
enum Queued {
    Record(AuditEvent),
    /// Answered once every record queued before it is written (or failed, and was logged).
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Where events go: the log, the hooks a library user installed, and the audit table (through a
/// background writer, so that an audit write never delays or fails the request that caused it).
/// Tool calls queue apart from the authorization server's events: a flood of calls (which any
/// caller with a token can make) fills its own queue, never the one of sign-ins, reuse
/// detections and revocations.
pub(crate) struct Events {
    hooks: Vec<Box<dyn Hook>>,
    audit: tokio::sync::mpsc::Sender<Queued>,
    calls: tokio::sync::mpsc::Sender<Queued>,
}

impl Events {
    /// Events for `hooks`, stored in `store` by a writer task that ends when the last sender
    /// goes (with the server).
    pub(crate) fn new(hooks: Vec<Box<dyn Hook>>, store: Arc<AnyStore>) -> Self {
        let (audit, queue) = tokio::sync::mpsc::channel(AUDIT_QUEUE);
        tokio::spawn(audit_writer(Arc::clone(&store), queue));
        let (calls, queue) = tokio::sync::mpsc::channel(AUDIT_QUEUE);
        tokio::spawn(audit_writer(store, queue));
        Self {
            hooks,
            audit,
            calls,
        }
    }

    /// Logs, stores and hands `event` to the hooks.
    pub(crate) fn emit(&self, event: Event) {
        emit(self, event);
    }

    /// Waits until every event emitted before the call is in the store (or its write failed and
    /// was logged).
    pub(crate) async fn flush(&self) {
        for queue in [&self.audit, &self.calls] {
            let (done, written) = tokio::sync::oneshot::channel();
            if queue.send(Queued::Flush(done)).await.is_ok() {
                let _ = written.await;
            }
        }
    }
}

/// Logs, stores and hands `event` to the hooks.
fn emit(events: &Events, event: Event) {
    // CWE-770 and CWE-117: what a request chose reaches the log, the store and the hooks
    // bounded and escaped. Events made of values this server issued are left as they are.
    // An event always serializes (its members are strings, numbers and JSON values); should
    // one ever not, it is still logged, hooked and stored, with no detail.
    let mut detail = stored_detail(&event);
    let event = if plainly_log_safe(detail.as_str()) && columns_log_safe(&event) {
        event
    } else {
        let mut value = serde_json::to_value(&event).unwrap_or(serde_json::Value::Null);
        if make_log_safe(&mut value) {
            let Ok(safe) = serde_json::from_value::<Event>(value) else {
                return;
            };
            // Written again from the event, so that its members keep their order whichever
            // way it came.
            detail = stored_detail(&safe);
            safe
        } else {
            event
        }
    };
    // The whole event, written out only if the line is: a call's stored detail leaves out what
    // its columns hold.
    let logged = LoggedDetail {
        event: &event,
        stored: &detail,
    };
    tracing::info!(target: "gatehouse::audit", kind = event.kind(), detail = %logged, "event");
    count(&event);
    for hook in &events.hooks {
        hook.on_event(&event);
    }
    let kind = event.kind();
    let queue = match event {
        Event::ToolCall { .. } => &events.calls,
        _ => &events.audit,
    };
    let record = audit_record(event, detail);
    if queue.try_send(Queued::Record(record)).is_err() {
        metrics::counter!("gatehouse_audit_records_dropped_total", "kind" => kind).increment(1);
        // One line a second at most: the drops are counted, and a log line per dropped record
        // would be the next flood.
        static LAST_WARNED: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let second = now().as_secs();
        if LAST_WARNED.swap(second, std::sync::atomic::Ordering::Relaxed) != second {
            tracing::warn!(target: "gatehouse::audit", kind, "audit queue full; records not stored (gatehouse_audit_records_dropped_total)");
        }
    }
}

/// The record the store keeps of `event`, made now, with its stored detail. Every MCP call a
/// guard decides is one: its texts move into the record, uncopied.
fn audit_record(event: Event, detail: AuditDetail) -> AuditEvent {
    let kind = event.kind().to_owned();
    let (subject, client_id, resource, tool) = match event {
        // Every member named: one added to the event is placed here as in `split_call`.
        Event::ToolCall {
            resource,
            tool,
            subject,
            client_id,
            method: _,
            scopes: _,
            decision: _,
            reason: _,
            status: _,
            latency_us: _,
            arguments: _,
            more_calls: _,
        } => (Some(subject), Some(client_id), Some(resource), Some(tool)),
        event => (
            event.subject().map(str::to_owned),
            event.client_id().map(str::to_owned),
            None,
            None,
        ),
    };
    AuditEvent {
        at: now(),
        kind,
        subject,
        client_id,
        resource,
        tool,
        detail,
    }
}

/// The metrics of an event (see `metrics`).
fn count(event: &Event) {
    metrics::counter!("gatehouse_security_events_total", "kind" => event.kind()).increment(1);
    match event {
        // Issued tokens name a grant type the engine accepted: a handful of values.
        Event::TokenIssued { grant_type, .. } => {
            metrics::counter!("gatehouse_tokens_issued_total", "grant_type" => grant_type.clone())
                .increment(1);
        }
        Event::ReuseDetected { credential, .. } => {
            metrics::counter!(
                "gatehouse_refresh_reuse_detected_total",
                "credential" => credential.clone()
            )
            .increment(1);
        }
        Event::ClientAuthenticationFailed { endpoint, .. } => {
            metrics::counter!(
                "gatehouse_client_authentication_failures_total",
                "endpoint" => endpoint.clone()
            )
            .increment(1);
        }
        Event::SignInFailed { .. } | Event::FederatedSignInRefused { .. } => {
            metrics::counter!("gatehouse_sign_in_failures_total").increment(1);
        }
        // Resources are the configuration's; decisions two values.
        Event::ToolCall {
            resource, decision, ..
        } => {
            metrics::counter!(
                "gatehouse_tool_calls_total",
                "resource" => resource.clone(),
                "decision" => decision.clone()
            )
            .increment(1);
        }
        _ => {}
    }
}

/// Whether every string of `json` (the text serde_json wrote) is log-safe, told from the text
/// alone: printable ASCII throughout with no escape sequence, so that every `"` delimits a string,
/// and no string longer than the bound. Most events are; the others are checked member by member
/// (`make_log_safe`). A pass or two over the text, where the tree would be built and walked for
/// every MCP call (issue 24).
fn plainly_log_safe(json: &str) -> bool {
    use gatehouse_types::untrusted::MAX_CHARS;
    // A fold with no early exit, which the compiler turns into a check of many bytes at once.
    let printable = json.bytes().fold(true, |ok, byte| {
        ok & matches!(byte, 0x20..=0x7e) & (byte != b'\\')
    });
    // With no backslash, no quote is escaped: every other piece between quotes is a string, and
    // in printable ASCII its length in bytes is its length in characters. A text that short
    // holds no string that long.
    printable
        && (json.len() <= MAX_CHARS
            || json
                .split('"')
                .skip(1)
                .step_by(2)
                .all(|string| string.len() <= MAX_CHARS))
}

/// Replaces every string in `value` by its [`gatehouse_types::untrusted::log_safe`] form;
/// whether anything changed.
fn make_log_safe(value: &mut serde_json::Value) -> bool {
    match value {
        serde_json::Value::String(text) => match gatehouse_types::untrusted::log_safe(text) {
            std::borrow::Cow::Borrowed(_) => false,
            std::borrow::Cow::Owned(safe) => {
                *text = safe;
                true
            }
        },
        serde_json::Value::Array(items) => items
            .iter_mut()
            .fold(false, |changed, item| make_log_safe(item) | changed),
        // Member names too: a tool's arguments are a request's own JSON, keys and all. The map
        // is rebuilt only when a name needs escaping (rarely: every event passes here).
        serde_json::Value::Object(members)
            if members
                .keys()
                .all(|name| gatehouse_types::untrusted::is_log_safe(name)) =>
        {
            members
                .values_mut()
                .fold(false, |changed, member| make_log_safe(member) | changed)
        }
        serde_json::Value::Object(members) => {
            let mut changed = false;
            for (name, mut member) in std::mem::take(members) {
                changed |= make_log_safe(&mut member);
                let name = match gatehouse_types::untrusted::log_safe(&name) {
                    std::borrow::Cow::Borrowed(_) => name,
                    std::borrow::Cow::Owned(safe) => {
                        changed = true;
                        safe
                    }
                };
                members.insert(name, member);
            }
            changed
        }
        _ => false,
    }
}

/// The detail an event is stored with: all of it, but for an MCP call, whose kind, subject,
/// client, resource and tool are columns of the record (`AuditEvent`). A call is the one event
/// every request to a guarded resource makes; with those members stored once, not twice, its
/// detail is 40 % of what it was (issue 24). `AuditEvent::members` puts them back.
fn stored_detail(event: &Event) -> AuditDetail {
    let detail = match split_call(event) {
        Some((_, detail)) => AuditDetail::of(&detail),
        None => AuditDetail::of(event),
    };
    detail.unwrap_or_else(|_| serde_json::Value::Null.into())
}

/// An MCP call's texts that are columns of its record.
struct CallColumns<'a> {
    resource: &'a str,
    tool: &'a str,
    subject: &'a str,
    client_id: &'a str,
}

impl<'a> CallColumns<'a> {
    /// Each with its member name in the event.
    fn named(&self) -> [(&'static str, &'a str); 4] {
        [
            ("resource", self.resource),
            ("tool", self.tool),
            ("subject", self.subject),
            ("client_id", self.client_id),
        ]
    }
}

/// An MCP call's stored detail: the members of `Event::ToolCall` that are not columns, in its
/// order and with its names.
#[derive(Serialize)]
struct CallDetail<'a> {
    method: &'a str,
    scopes: &'a str,
    decision: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    latency_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    arguments: Option<&'a serde_json::Value>,
    #[serde(skip_serializing_if = "is_zero")]
    more_calls: usize,
}

/// A call's columns and the rest; `None` for any other event. The one place that says which
/// member of a call goes where: its pattern names every member, so a member added to the event
/// does not compile until it is placed here, and then the log-safety check, the log line and the
/// record (`audit_record`, which names every member too) follow.
fn split_call(event: &Event) -> Option<(CallColumns<'_>, CallDetail<'_>)> {
    let Event::ToolCall {
        resource,
        tool,
        subject,
        client_id,
        method,
        scopes,
        decision,
        reason,
        status,
        latency_us,
        arguments,
        more_calls,
    } = event
    else {
        return None;
    };
    Some((
        CallColumns {
            resource,
            tool,
            subject,
            client_id,
        },
        CallDetail {
            method,
            scopes,
            decision,
            reason: reason.as_deref(),
            status: *status,
            latency_us: *latency_us,
            arguments: arguments.as_ref(),
            more_calls: *more_calls,
        },
    ))
}

/// Whether the texts an event keeps out of its stored detail (a call's columns) are log-safe as
/// they are.
fn columns_log_safe(event: &Event) -> bool {
    split_call(event).is_none_or(|(columns, _)| {
        columns
            .named()
            .iter()
            .all(|(_, text)| gatehouse_types::untrusted::is_log_safe(text))
    })
}

/// An event's detail as its log line shows it: the whole event. For a call, the stored detail
/// with the columns put back in front, so that the call is not serialized a second time for its
/// log line (`info`, the default level, logs every call).
struct LoggedDetail<'a> {
    event: &'a Event,
    stored: &'a AuditDetail,
}

impl std::fmt::Display for LoggedDetail<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let Some((columns, _)) = split_call(self.event) else {
            return f.write_str(self.stored.as_str());
        };
        write!(f, "{{\"kind\":\"{}\"", self.event.kind())?;
        for (name, text) in columns.named() {
            // A JSON string of a `&str` always serializes.
            let text = serde_json::to_string(text).unwrap_or_default();
            write!(f, ",\"{name}\":{text}")?;
        }
        match self.stored.as_str().strip_prefix('{') {
            Some("}") | None => f.write_str("}"),
            Some(rest) => write!(f, ",{rest}"),
        }
    }
}

/// The guards' audit, as events: every MCP call a resource served here decides is logged,
/// stored and handed to the hooks like the authorization server's own events.
pub(crate) struct CallEvents(pub(crate) Arc<Events>);

impl gatehouse_guard::CallAudit for CallEvents {
    fn record(&self, call: gatehouse_guard::AuditedCall) {
        self.0.emit(Event::ToolCall {
            resource: call.principal.resource().to_owned(),
            method: call.method.to_owned(),
            tool: call.name,
            subject: call.principal.subject().to_owned(),
            client_id: call.principal.client_id().to_owned(),
            scopes: call.scopes.to_string(),
            decision: call.decision.as_str().to_owned(),
            reason: call.reason.map(str::to_owned),
            status: call.status,
            latency_us: call
                .latency
                .map(|latency| u64::try_from(latency.as_micros()).unwrap_or(u64::MAX)),
            arguments: call.arguments,
            more_calls: call.more_calls,
        });
    }
}

/// Writes queued audit records to the store until the server is dropped: everything that queued
/// up while the previous batch was written, or gathered for [`AUDIT_GATHER`] after it, goes in one
/// transaction, so the writer's cost per record falls as the load rises.
async fn audit_writer(store: Arc<AnyStore>, mut queue: tokio::sync::mpsc::Receiver<Queued>) {
    let mut taken = Vec::with_capacity(AUDIT_BATCH);
    while queue.recv_many(&mut taken, AUDIT_BATCH).await > 0 {
        let started = tokio::time::Instant::now();
        let full = taken.len() == AUDIT_BATCH;
        let mut records = Vec::with_capacity(taken.len());
        let mut flushes = Vec::new();
        for queued in taken.drain(..) {
            match queued {
                Queued::Record(record) => records.push(record),
                Queued::Flush(done) => flushes.push(done),
            }
        }
        let count = records.len();
        if count > 0
            && let Err(error) = store.append_audit(records).await
        {
            tracing::warn!(%error, count, "could not store audit events");
        }
        let flushed = !flushes.is_empty();
        for done in flushes {
            let _ = done.send(());
        }
        // Behind (a full batch, or a full one waiting) or asked to finish: no pause. The pause
        // counts from when this batch was taken: a slow commit has let the next gather already.
        if !full && !flushed && queue.len() < AUDIT_BATCH {
            tokio::time::sleep(AUDIT_GATHER.saturating_sub(started.elapsed())).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        /// The quick reading of an event's text never passes a string the member-by-member
        /// check would change (CWE-117): printable ASCII of any length around the bound, quotes,
        /// backslashes, controls, bidirectional overrides.
        #[test]
        fn cwe_117_the_quick_check_never_passes_what_needs_escaping(
            strings in proptest::collection::vec(
                "([ -~]|\\\\|\"|\u{1b}|\u{7f}|\u{9b}|\u{202e}|é){0,300}",
                1..4,
            ),
        ) {
            let mut value = serde_json::json!({
                "kind": "tool_call",
                "tool": strings[0],
                "arguments": {"text": strings.last(), "nested": [strings.get(1)]},
            });
            let text = value.to_string();
            if plainly_log_safe(&text) {
                proptest::prop_assert!(!make_log_safe(&mut value), "{text}");
            }
        }
    }

    /// A call to `tool` with `text` for an argument, allowed and answered.
    fn call(tool: &str, text: &str) -> Event {
        Event::ToolCall {
            resource: "https://mcp.example.com/mcp".into(),
            method: "tools/call".into(),
            tool: tool.into(),
            subject: "alice".into(),
            client_id: "client".into(),
            scopes: "mcp:tools".into(),
            decision: "allowed".into(),
            reason: None,
            status: Some(200),
            latency_us: Some(120),
            arguments: Some(serde_json::json!({ "text": text })),
            more_calls: 0,
        }
    }

    /// Whether `emit` stores and logs `event` as it is, without the member-by-member check.
    fn plainly(event: &Event) -> bool {
        plainly_log_safe(stored_detail(event).as_str()) && columns_log_safe(event)
    }

    #[test]
    fn an_event_with_nothing_to_escape_is_stored_as_serialized() {
        assert!(plainly(&call("echo", "hi")));
        let mut value = serde_json::to_value(call("echo", "hi")).unwrap_or_else(|e| panic!("{e}"));
        assert!(!make_log_safe(&mut value));
        // What a tool's name may bring goes the careful way, though the stored detail leaves the
        // name to its column.
        assert!(!plainly(&call("rm\u{1b}[2J", "hi")));
        assert!(!plainly(&call(&"a".repeat(257), "hi")));
        assert!(plainly(&call(&"a".repeat(256), "hi")));
        assert!(!plainly(&call("echo", &"a".repeat(257))));
        // A text longer than the bound is measured string by string.
        let longest = call("echo", &"a".repeat(256));
        assert!(stored_detail(&longest).as_str().len() > gatehouse_types::untrusted::MAX_CHARS);
        assert!(plainly(&longest));
    }

    /// The members of an event, as one JSON object.
    fn whole(event: &Event) -> serde_json::Map<String, serde_json::Value> {
        match serde_json::to_value(event) {
            Ok(serde_json::Value::Object(members)) => members,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_call_is_stored_without_what_its_columns_hold_and_reads_back_whole() {
        // Every member a call can have.
        let event = Event::ToolCall {
            resource: "https://mcp.example.com/mcp".into(),
            method: "tools/call".into(),
            tool: "delete".into(),
            subject: "alice".into(),
            client_id: "https://app.example.com/client.json".into(),
            scopes: "mcp:tools mcp:admin".into(),
            decision: "denied".into(),
            reason: Some("rate_limited".into()),
            status: Some(429),
            latency_us: Some(7),
            arguments: Some(serde_json::json!({"path": "/"})),
            more_calls: 3,
        };
        let detail = stored_detail(&event);
        let stored = detail.to_value();
        for column in ["kind", "resource", "tool", "subject", "client_id"] {
            assert!(stored.get(column).is_none(), "{column} in {stored}");
        }
        let record = audit_record(event.clone(), detail);
        assert_eq!(
            record.resource.as_deref(),
            Some("https://mcp.example.com/mcp")
        );
        assert_eq!(record.tool.as_deref(), Some("delete"));
        assert_eq!(record.members(), whole(&event));
        // Any other event is stored whole.
        let issued = Event::ConsentGiven {
            subject: "alice".into(),
            client_id: "claude".into(),
            scope: "mcp:tools".into(),
            resources: vec!["https://mcp.example.com/mcp".into()],
        };
        let detail = stored_detail(&issued);
        assert_eq!(detail.to_value(), serde_json::Value::Object(whole(&issued)));
        assert_eq!(
            audit_record(issued.clone(), detail).members(),
            whole(&issued)
        );
    }

    /// An event's log line, read back as JSON.
    fn logged(event: &Event) -> serde_json::Value {
        let stored = stored_detail(event);
        let line = LoggedDetail {
            event,
            stored: &stored,
        }
        .to_string();
        serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}"))
    }

    #[test]
    fn the_log_line_shows_the_whole_event() {
        let full = Event::ToolCall {
            resource: "https://mcp.example.com/mcp".into(),
            method: "tools/call".into(),
            tool: "say \"hi\"".into(),
            subject: "alice".into(),
            client_id: "claude".into(),
            scopes: "mcp:tools".into(),
            decision: "denied".into(),
            reason: Some("tool_denied".into()),
            status: None,
            latency_us: None,
            arguments: Some(serde_json::json!({"a": [1, {"b": null}]})),
            more_calls: 2,
        };
        for event in [full, call("echo", "hi")] {
            assert_eq!(logged(&event), serde_json::Value::Object(whole(&event)));
        }
        let consent = Event::ConsentRevoked {
            subject: "alice".into(),
            client_id: "claude".into(),
            grant: "g1".into(),
        };
        assert_eq!(logged(&consent), serde_json::Value::Object(whole(&consent)));
    }

    proptest::proptest! {
        /// The quick reading of a call (its stored detail's text and its columns) never passes
        /// what the member-by-member check would change (CWE-117), whichever member holds it;
        /// and its log line is the whole call.
        #[test]
        fn cwe_117_the_quick_check_of_a_call_never_passes_what_needs_escaping(
            texts in proptest::collection::vec(
                "([ -~]|\\\\|\"|\u{1b}|\u{7f}|\u{9b}|\u{202e}|é){0,300}",
                8,
            ),
        ) {
            let text = |i: usize| texts.get(i).cloned().unwrap_or_default();
            let event = Event::ToolCall {
                resource: text(0),
                method: text(1),
                tool: text(2),
                subject: text(3),
                client_id: text(4),
                scopes: text(5),
                decision: text(6),
                reason: Some(text(7)),
                status: Some(200),
                latency_us: Some(1),
                arguments: Some(serde_json::json!({ "text": text(0) })),
                more_calls: 0,
            };
            if plainly(&event) {
                let mut value = serde_json::to_value(&event).unwrap_or_default();
                proptest::prop_assert!(!make_log_safe(&mut value), "{value}");
            }
            proptest::prop_assert_eq!(logged(&event), serde_json::Value::Object(whole(&event)));
        }
    }

    #[test]
    fn cwe_117_a_call_stored_without_its_columns_still_has_them_escaped() {
        let (audit, _) = tokio::sync::mpsc::channel(1);
        let (calls, mut stored) = tokio::sync::mpsc::channel(1);
        let events = Events {
            hooks: Vec::new(),
            audit,
            calls,
        };
        emit(&events, call("rm\u{1b}[2J", "hi"));
        let Ok(Queued::Record(record)) = stored.try_recv() else {
            panic!("no record");
        };
        assert_eq!(record.tool.as_deref(), Some("rm\\u{1b}[2J"));
        let members = serde_json::Value::Object(record.members()).to_string();
        assert!(!members.contains('\u{1b}'), "{members}");
        assert!(members.contains("\"text\":\"hi\""), "{members}");
    }

    #[test]
    fn cwe_117_member_names_of_arguments_are_escaped_too() {
        // A tool's arguments are the request's own JSON: their keys reach the log and the
        // audit list as much as their values.
        let mut detail = serde_json::json!({
            "tool": "echo",
            "arguments": {"\u{1b}[2J\u{202e}": "fine", "nested": {"a\u{9b}b": 1}},
        });
        assert!(make_log_safe(&mut detail));
        let text = detail.to_string();
        for bad in ['\u{1b}', '\u{202e}', '\u{9b}'] {
            assert!(!text.contains(bad), "{text}");
        }
        assert_eq!(detail["arguments"].as_object().map(|o| o.len()), Some(2));
        // Nothing to escape: nothing changes.
        let mut clean = serde_json::json!({"tool": "echo", "arguments": {"text": "hi"}});
        assert!(!make_log_safe(&mut clean));
    }
}
