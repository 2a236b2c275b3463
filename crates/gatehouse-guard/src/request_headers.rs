//! The request metadata headers of MCP 2026-07-28 (Streamable HTTP, "Request Metadata"):
//! `Mcp-Method`, `Mcp-Name` and `MCP-Protocol-Version` mirror the body so that load balancers and
//! gateways can route without parsing it. "Servers that process the request body MUST reject
//! requests where the values specified in the headers do not match the corresponding values in
//! the request body" ("Server Validation"): otherwise a router acts on one call and the server
//! runs another. The guard processes the body, so it refuses a mismatch with `400` and the
//! JSON-RPC error `HeaderMismatch` (-32020), and the request never reaches the server.
//!
//! When the check applies: a request of revision 2026-07-28 or later (its `MCP-Protocol-Version`),
//! where the headers are required; and any request that carries `Mcp-Method` or `Mcp-Name`,
//! whatever its revision, since something in front may route on them. `Mcp-Param-{Name}` headers
//! mirror tool arguments named by the tool's schema, which the MCP server knows and the guard
//! does not: the server checks those.

use axum::http::{HeaderMap, HeaderName};
use base64ct::{Base64, Encoding};
use serde_json::Value;

use crate::rejection::Rejection;
use crate::tools::Messages;

pub(crate) const MCP_METHOD: HeaderName = HeaderName::from_static("mcp-method");
pub(crate) const MCP_NAME: HeaderName = HeaderName::from_static("mcp-name");
const MCP_PROTOCOL_VERSION: HeaderName = HeaderName::from_static("mcp-protocol-version");
/// The first revision whose requests must carry the headers.
const FIRST_REVISION_WITH_HEADERS: &str = "2026-07-28";

/// Whether a request of protocol `version` must carry the headers: every version but a revision
/// date (`YYYY-MM-DD`) before the first that has them. Revisions are dates and compare as strings;
/// anything else (`" 2026-07-28"`, `"draft"`) is not trusted to be an earlier one.
fn requires_headers(version: &str) -> bool {
    let is_date = version.len() == 10
        && version.bytes().enumerate().all(|(i, byte)| match i {
            4 | 7 => byte == b'-',
            _ => byte.is_ascii_digit(),
        });
    !(is_date && version < FIRST_REVISION_WITH_HEADERS)
}

/// The mirrored headers of a request, read once.
pub(crate) struct Mirrored<'a> {
    method: Option<&'a str>,
    name: Option<&'a str>,
    protocol_version: Option<&'a str>,
    required: bool,
}

impl<'a> Mirrored<'a> {
    /// The headers of `headers`; a value that is not visible ASCII is a mismatch at once.
    pub(crate) fn read(headers: &'a HeaderMap) -> Result<Self, Rejection> {
        let text = |name: HeaderName| -> Result<Option<&'a str>, Rejection> {
            let mut values = headers.get_all(&name).iter();
            match (values.next(), values.next()) {
                (None, _) => Ok(None),
                (Some(value), None) => value.to_str().map(Some).map_err(|_| {
                    mismatch(None, "a request metadata header holds invalid characters")
                }),
                (Some(_), Some(_)) => Err(mismatch(None, "a request metadata header is repeated")),
            }
        };
        let protocol_version = text(MCP_PROTOCOL_VERSION)?;
        Ok(Self {
            method: text(MCP_METHOD)?,
            name: text(MCP_NAME)?,
            // Revisions are dates (YYYY-MM-DD): they compare as strings.
            required: protocol_version.is_some_and(requires_headers),
            protocol_version,
        })
    }

    /// Whether the request names MCP 2026-07-28 or later in `MCP-Protocol-Version`.
    pub(crate) fn stateless_revision(&self) -> bool {
        self.required
    }

    /// Whether the body must be read to check the headers.
    pub(crate) fn apply(&self) -> bool {
        self.required || self.method.is_some() || self.name.is_some()
    }

    /// Whether `messages`, read anyway, must be checked against the headers: the headers ask
    /// for it, or the body speaks a revision that requires them (a 2026-07-28 request sent with
    /// none must be refused, not passed on because nothing in front looked).
    pub(crate) fn apply_to(&self, messages: &Messages) -> bool {
        self.apply() || messages.protocol_versions().any(requires_headers)
    }

    /// Checks the headers against the body's message.
    pub(crate) fn check(&self, messages: &Messages) -> Result<(), Rejection> {
        // "The body of the HTTP POST MUST be a single JSON-RPC request or notification": a
        // batch cannot be mirrored in one set of headers.
        let Some(message) = messages.single() else {
            return Err(mismatch(
                None,
                "request metadata headers describe one JSON-RPC message, not a batch",
            ));
        };
        let id = message.id.clone();
        // A response the client posts (to a request of the server) has an id but no method, and
        // nothing to mirror.
        let is_request = message.id.is_some() && message.method.is_some();
        let method = message.method.as_deref().unwrap_or_default();
        let params = message.params.as_ref();
        let in_body = params.and_then(|p| p.protocol_version.as_deref());
        // Required when either the header or the body speaks a revision that has them.
        let required = self.required || in_body.is_some_and(requires_headers);
        match self.method {
            Some(header) if header != method => {
                return Err(mismatch(
                    id,
                    "the Mcp-Method header does not match the body's method",
                ));
            }
            // Header requirements for notification POSTs are not defined by the revision.
            None if required && is_request => {
                return Err(mismatch(id, "the Mcp-Method header is required"));
            }
            _ => {}
        }
        let named = match method {
            "tools/call" | "prompts/get" => params.and_then(|p| p.name.as_deref()),
            "resources/read" => params.and_then(|p| p.uri.as_deref()),
            _ => None,
        };
        if matches!(method, "tools/call" | "prompts/get" | "resources/read") {
            match (self.name, named) {
                (Some(header), Some(body)) if decode(header).as_deref() != Some(body) => {
                    return Err(mismatch(
                        id,
                        "the Mcp-Name header does not match the body's name or uri",
                    ));
                }
                (None, _) if required && is_request => {
                    return Err(mismatch(
                        id,
                        "the Mcp-Name header is required for this method",
                    ));
                }
                (Some(_), None) => {
                    return Err(mismatch(
                        id,
                        "the Mcp-Name header names what the body does not",
                    ));
                }
                _ => {}
            }
        } else if self.name.is_some() {
            // Only `tools/call`, `resources/read` and `prompts/get` have a name to mirror: on
            // any other method the header names what the body does not, and a router behind
            // might act on it.
            return Err(mismatch(
                id,
                "the Mcp-Name header names what the body does not",
            ));
        }
        // "The header value MUST match the io.modelcontextprotocol/protocolVersion field
        // carried in the request body's _meta", whichever of the two names the later revision.
        if is_request && (required || in_body.is_some()) && in_body != self.protocol_version {
            return Err(mismatch(
                id,
                "the MCP-Protocol-Version header does not match the body's _meta protocolVersion",
            ));
        }
        Ok(())
    }
}

/// A header value as sent, or decoded from the Base64 sentinel form `=?base64?…?=` ("Value
/// Encoding": servers "MUST decode an encoded Mcp-Name … before comparing it"); `None` when the
/// sentinel holds no Base64 of UTF-8.
fn decode(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|rest| rest.strip_suffix("?="))
    {
        Some(encoded) => Base64::decode_vec(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        None => Some(value.to_owned()),
    }
}

fn mismatch(id: Option<Value>, message: &'static str) -> Rejection {
    Rejection::HeaderMismatch { id, message }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn mcp_2026_07_28_value_encoding_is_decoded_before_comparison() {
        assert_eq!(decode("get_weather").as_deref(), Some("get_weather"));
        assert_eq!(
            decode("=?base64?SGVsbG8sIOS4lueVjA==?=").as_deref(),
            Some("Hello, 世界")
        );
        assert_eq!(
            decode("=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?=").as_deref(),
            Some("=?base64?literal?=")
        );
        assert_eq!(decode("=?base64?not base64?="), None);
        assert_eq!(decode("=?base64?/w==?="), None);
    }

    #[test]
    fn only_a_revision_date_before_2026_07_28_goes_without_headers() {
        assert!(!requires_headers("2025-11-25"));
        assert!(!requires_headers("2024-11-05"));
        assert!(requires_headers("2026-07-28"));
        assert!(requires_headers("2027-01-01"));
        // Not a revision date: not trusted to be an earlier one.
        for odd in [
            " 2026-07-28",
            "02026-07-28",
            "2026-7-28",
            "draft",
            "",
            "2025-11-25 ",
        ] {
            assert!(requires_headers(odd), "{odd:?}");
        }
    }
}
