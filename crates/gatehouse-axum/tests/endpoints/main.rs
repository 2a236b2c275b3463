//! The authorization server's endpoints, one module each, driven in process through its router
//! (`support::oneshot`): every endpoint, the flow as an MCP client performs it, and the error
//! paths, each checked for status, body and headers. What needs a served connection (timeouts,
//! connection caps, answers on the wire) is in `hardening.rs` and `operations.rs`.

#[path = "../support/mod.rs"]
mod support;

mod authorize;
mod connected_apps;
mod cors;
mod declared;
mod dpop;
mod events;
mod flow;
mod health;
mod metadata;
mod policy;
mod rate_limits;
mod registration;
mod signin;
mod token;
