//! The tool-call audit: which agent called which tool, with which scopes, and what became of it.
//!
//! Every MCP call the guard decides (`tools/call`, `prompts/get`, `resources/read`) becomes an
//! [`AuditedCall`], handed to the [`CallAudit`] a host installed
//! ([`GuardBuilder::audit`](crate::GuardBuilder::audit)): allowed, with the upstream's status and
//! latency, or refused, with the reason. Requests the guard refuses before it knows what they
//! call (no token, a bad token) are not calls; the metrics count those.
//!
//! Arguments are not kept unless the host asks ([`GuardBuilder::audit_arguments`]
//! (crate::GuardBuilder::audit_arguments)): they are what people type into agents, and often
//! personal. When kept, only [`MAX_ARGUMENT_BYTES`] of them.

use std::time::Duration;

use gatehouse_types::{ScopeSet, UnixTime};
use serde_json::Value;

use crate::Principal;
use crate::rejection::Rejection;

/// Arguments kept at most, as JSON text; larger ones are replaced by a note of their size.
pub const MAX_ARGUMENT_BYTES: usize = 4096;

/// What the guard decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CallDecision {
    /// Passed on to the server.
    Allowed,
    /// Refused; the server never saw it.
    Denied,
}

impl CallDecision {
    /// `allowed` or `denied`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Allowed => "allowed",
            Self::Denied => "denied",
        }
    }
}

/// One MCP call the guard decided.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct AuditedCall {
    /// When the guard decided.
    pub at: UnixTime,
    /// Who called: subject, client, the token's scopes, and the resource.
    pub principal: Principal,
    /// `tools/call`, `prompts/get` or `resources/read`.
    pub method: &'static str,
    /// The tool or prompt name, or the resource URI.
    pub name: String,
    /// The scopes the call needs here: the resource's required scopes and the tool's own.
    pub scopes: ScopeSet,
    /// Allowed or denied.
    pub decision: CallDecision,
    /// Why it was denied: `insufficient_scope`, `tool_denied`, `policy_denied`,
    /// `rate_limited`, `header_mismatch`, `unknown_session`, `unavailable` or `invalid_request`.
    pub reason: Option<&'static str>,
    /// The HTTP status the server answered with (allowed calls; `None` when the client went away
    /// before the server answered).
    pub status: Option<u16>,
    /// How long the server took to answer, to its response head (allowed calls), or until the
    /// client went away.
    pub latency: Option<Duration>,
    /// The call's arguments, if the resource keeps them.
    pub arguments: Option<Value>,
    /// Further calls of the same request (a batch) that were decided alike but not recorded one
    /// by one; counted in the request's last record.
    pub more_calls: usize,
}

/// Where audited calls go. Called in the request, after the decision (for an allowed call,
/// once the server's response head is in): keep it quick, hand slow work to a queue.
pub trait CallAudit: Send + Sync + 'static {
    /// A call was decided.
    fn record(&self, call: AuditedCall);
}

impl<F: Fn(AuditedCall) + Send + Sync + 'static> CallAudit for F {
    fn record(&self, call: AuditedCall) {
        self(call);
    }
}

/// A call found in a request body.
#[derive(Debug)]
pub(crate) struct Call {
    pub(crate) method: &'static str,
    pub(crate) name: String,
    pub(crate) scopes: ScopeSet,
    /// Its place in a batch.
    pub(crate) position: usize,
    pub(crate) arguments: Option<Value>,
}

/// What a request turned out to call, learnt as the guard reads it; empty unless the guard
/// audits.
#[derive(Default)]
pub(crate) struct Seen {
    pub(crate) principal: Option<Principal>,
    pub(crate) calls: Vec<Call>,
    /// Calls beyond those in `calls`.
    pub(crate) more: usize,
}

/// How a request's calls were decided.
pub(crate) enum Outcome<'a> {
    /// Passed on; the server answered with this status after this long, or (no status) the
    /// client went away first.
    Allowed {
        status: Option<u16>,
        latency: Duration,
    },
    Denied(&'a Rejection),
}

impl Seen {
    /// Hands one record per call to `audit`.
    pub(crate) fn record(self, audit: &dyn CallAudit, at: UnixTime, outcome: Outcome<'_>) {
        let Some(principal) = self.principal else {
            return;
        };
        let (decision, reason, status, latency) = match outcome {
            Outcome::Allowed { status, latency } => {
                (CallDecision::Allowed, None, status, Some(latency))
            }
            Outcome::Denied(rejection) => {
                (CallDecision::Denied, Some(reason(rejection)), None, None)
            }
        };
        let last = self.calls.len().saturating_sub(1);
        for (i, call) in self.calls.into_iter().enumerate() {
            audit.record(AuditedCall {
                at,
                principal: principal.clone(),
                method: call.method,
                name: call.name,
                scopes: call.scopes,
                decision,
                reason,
                status,
                latency,
                arguments: call.arguments,
                more_calls: if i == last { self.more } else { 0 },
            });
        }
    }
}

/// The calls of an allowed request, recorded when the server answers, or when the request is
/// dropped unanswered (the client went away; the server may have run them all the same).
pub(crate) struct PendingAudit {
    audit: std::sync::Arc<dyn CallAudit>,
    seen: Option<Seen>,
    at: UnixTime,
    started: std::time::Instant,
}

impl PendingAudit {
    pub(crate) fn new(audit: std::sync::Arc<dyn CallAudit>, seen: Seen, at: UnixTime) -> Self {
        Self {
            audit,
            seen: Some(seen),
            at,
            started: std::time::Instant::now(),
        }
    }

    /// The server answered with `status`.
    pub(crate) fn answered(mut self, status: u16) {
        self.finish(Some(status));
    }

    fn finish(&mut self, status: Option<u16>) {
        if let Some(seen) = self.seen.take() {
            let latency = self.started.elapsed();
            seen.record(&*self.audit, self.at, Outcome::Allowed { status, latency });
        }
    }
}

impl Drop for PendingAudit {
    fn drop(&mut self) {
        self.finish(None);
    }
}

/// The reason of a refusal, as the audit names it.
fn reason(rejection: &Rejection) -> &'static str {
    match rejection {
        Rejection::InsufficientScope { .. } => "insufficient_scope",
        Rejection::ToolDenied => "tool_denied",
        Rejection::PolicyDenied => "policy_denied",
        Rejection::RateLimited { .. } => "rate_limited",
        Rejection::HeaderMismatch { .. } => "header_mismatch",
        Rejection::Unavailable(_) => "unavailable",
        Rejection::UnknownSession => "unknown_session",
        _ => "invalid_request",
    }
}
