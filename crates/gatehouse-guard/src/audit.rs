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
    /// Why it was denied: `insufficient_scope`, `tool_denied`, `rate_limited`,
    /// `header_mismatch`, `unavailable` or `invalid_request`.
    pub reason: Option<&'static str>,
    /// The HTTP status the server answered with (allowed calls).
    pub status: Option<u16>,
    /// How long the server took to answer, to its response head (allowed calls).
    pub latency: Option<Duration>,
    /// The call's arguments, if the resource keeps them.
    pub arguments: Option<Value>,
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
}

impl Seen {
    /// Hands one record per call to `audit`.
    pub(crate) fn record(
        self,
        audit: &dyn CallAudit,
        at: UnixTime,
        outcome: Result<(u16, Duration), &Rejection>,
    ) {
        let Some(principal) = self.principal else {
            return;
        };
        for call in self.calls {
            let (decision, reason, status, latency) = match outcome {
                Ok((status, latency)) => (CallDecision::Allowed, None, Some(status), Some(latency)),
                Err(rejection) => (CallDecision::Denied, Some(reason(rejection)), None, None),
            };
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
            });
        }
    }
}

/// The reason of a refusal, as the audit names it.
fn reason(rejection: &Rejection) -> &'static str {
    match rejection {
        Rejection::InsufficientScope { .. } => "insufficient_scope",
        Rejection::ToolDenied => "tool_denied",
        Rejection::RateLimited { .. } => "rate_limited",
        Rejection::HeaderMismatch { .. } => "header_mismatch",
        Rejection::Unavailable(_) => "unavailable",
        Rejection::UnknownSession => "unknown_session",
        _ => "invalid_request",
    }
}

/// `arguments` as kept: whole up to [`MAX_ARGUMENT_BYTES`] of JSON, a note of their size beyond.
pub(crate) fn bounded_arguments(arguments: Value) -> Value {
    let size = serde_json::to_string(&arguments).map_or(usize::MAX, |text| text.len());
    if size <= MAX_ARGUMENT_BYTES {
        arguments
    } else {
        serde_json::json!({ "_truncated": true, "_bytes": size })
    }
}
