//! The guard's JSON-RPC reader (per-tool scopes, MCP `tools/call`): any body gets an answer,
//! and a body it lets through holds no `tools/call` of a scoped tool as serde_json reads it.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|body: &[u8]| gatehouse_guard::fuzzing::jsonrpc(body));
