//! A built-in MCP server: what a program offers for `[[resources]] builtin = "NAME"`.

use std::convert::Infallible;

use axum::extract::Request;
use axum::response::Response;

/// A built-in MCP server a program offers for `builtin = "NAME"` (the `gatehouse` binary offers
/// `"demo"`): any tower service over axum requests. The guard runs in front of it and puts the
/// verified `gatehouse_guard::Principal` into the request's extensions.
pub type BuiltinServer = tower::util::BoxCloneSyncService<Request, Response, Infallible>;
