//! Per-tool scopes for MCP: which scope each tool needs, and the check of a JSON-RPC request
//! body against it before the MCP server sees the call.
//!
//! The body is read strictly: a member the guard reads (`id`, `method`, `params`) repeated in a
//! message, and any member repeated in `params` or its `_meta`, is refused, so the guard and the
//! server can never read different tool names from one body (a first-wins parser behind a
//! last-wins guard would otherwise run a tool the guard did not check). Other members of a
//! message are not the guard's to read, and are passed on as they are. A body that is
//! not JSON-RPC the guard can read is refused with `invalid_request` rather than passed on
//! unchecked.

use std::collections::HashMap;
use std::fmt;

use gatehouse_types::{Scope, ScopeSet};
use serde::Deserialize;
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use crate::audit::Call;
use crate::rejection::Rejection;

/// The JSON-RPC method that calls a tool (MCP 2025-11-25, tools).
const TOOLS_CALL: &str = "tools/call";
/// The JSON-RPC method that lists tools.
pub(crate) const TOOLS_LIST: &str = "tools/list";
/// The JSON-RPC methods that get a prompt and read a resource, which the audit names too.
const PROMPTS_GET: &str = "prompts/get";
const RESOURCES_READ: &str = "resources/read";

/// What becomes of a tool that has no scope of its own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnmappedTools {
    /// Anyone the resource admits may call it and sees it listed (the default).
    #[default]
    Allow,
    /// No one may call it, and no one sees it listed: a tool the server adds is closed until the
    /// operator gives it a scope (default-deny).
    Deny,
}

/// Tool name → the scope a token needs to call it.
#[derive(Debug, Clone, Default)]
pub(crate) struct ToolScopes {
    map: HashMap<String, Scope>,
    unmapped: UnmappedTools,
}

impl ToolScopes {
    pub(crate) fn insert(&mut self, tool: String, scope: Scope) {
        self.map.insert(tool, scope);
    }

    pub(crate) fn set_unmapped(&mut self, unmapped: UnmappedTools) {
        self.unmapped = unmapped;
    }

    /// Whether calls need looking at: some tool has a scope, or unmapped tools are denied.
    pub(crate) fn inspects_calls(&self) -> bool {
        !self.map.is_empty() || self.unmapped == UnmappedTools::Deny
    }

    pub(crate) fn get(&self, tool: &str) -> Option<&Scope> {
        self.map.get(tool)
    }

    /// Every scope some tool needs.
    pub(crate) fn scopes(&self) -> impl Iterator<Item = &Scope> {
        self.map.values()
    }

    /// Whether a caller with `granted` may call `tool` (tools without an entry: as
    /// [`UnmappedTools`] says).
    pub(crate) fn allows(&self, tool: &str, granted: &ScopeSet) -> bool {
        match self.get(tool) {
            Some(scope) => granted.contains(scope),
            None => self.unmapped == UnmappedTools::Allow,
        }
    }

    /// Whether a listed tool without a name stays listed: only while unmapped tools are allowed.
    pub(crate) fn allows_unnamed(&self) -> bool {
        self.unmapped == UnmappedTools::Allow
    }

    /// Whether `tool` is closed to everyone: unmapped while unmapped tools are denied.
    pub(crate) fn denies(&self, tool: &str) -> bool {
        self.unmapped == UnmappedTools::Deny && self.get(tool).is_none()
    }
}

/// What the guard learnt from a request body.
#[derive(Debug, Default)]
pub(crate) struct Inspection {
    /// The ids of the `tools/list` requests, whose responses may need filtering.
    pub(crate) tools_list_ids: Vec<Value>,
    /// The scopes of the tools called that the token lacks.
    pub(crate) missing: Vec<Scope>,
    /// Whether a tool closed to everyone was called (`UnmappedTools::Deny`).
    pub(crate) denied: bool,
}

/// Reads a JSON-RPC message or batch and checks each `tools/call` against `tools`.
#[cfg(any(test, fuzzing))]
pub(crate) fn inspect(
    body: &[u8],
    tools: &ToolScopes,
    granted: &ScopeSet,
) -> Result<Inspection, Rejection> {
    let messages = parse(body)?;
    Ok(inspect_messages(&messages, tools, granted))
}

/// Reads a JSON-RPC message or batch, strictly (see the module documentation).
pub(crate) fn parse(body: &[u8]) -> Result<Messages, Rejection> {
    // RFC 8259 §8.1: JSON exchanged between systems MUST be UTF-8. serde_json does not check
    // the strings it skips, so without this a body that a strict server refuses (invalid UTF-8
    // in an ignored member) would pass here: the guard and the server would disagree on it.
    // (Found by the `guard_jsonrpc` fuzz target.)
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(Rejection::InvalidRequest(
            "The request body is not UTF-8, as JSON must be (RFC 8259 section 8.1)",
        ));
    };
    let messages = match serde_json::from_str::<Messages>(text) {
        Ok(messages) => messages,
        Err(error) => {
            tracing::debug!(%error, "request body is not JSON-RPC the guard can read");
            return Err(Rejection::InvalidRequest(
                "The request body is not a JSON-RPC message or batch with unique member names",
            ));
        }
    };
    for Message(message) in &messages.messages {
        // MCP (JSON-RPC requests): "the ID MUST NOT be null". A server that answered one anyway
        // would answer with `id: null`, which no filter could tell apart.
        if message.method.is_some() && message.id == Some(Value::Null) {
            return Err(Rejection::InvalidRequest(
                "A JSON-RPC request id must be a string or a number, not null",
            ));
        }
        if message.method.as_deref() == Some(TOOLS_CALL)
            && message
                .params
                .as_ref()
                .is_none_or(|params| params.name.is_none())
        {
            return Err(Rejection::InvalidRequest(
                "A tools/call request needs params.name, a string",
            ));
        }
    }
    Ok(messages)
}

/// Checks each `tools/call` of `messages` against `tools`, and notes the `tools/list` requests.
pub(crate) fn inspect_messages(
    messages: &Messages,
    tools: &ToolScopes,
    granted: &ScopeSet,
) -> Inspection {
    let mut inspection = Inspection::default();
    for Message(message) in &messages.messages {
        match message.method.as_deref() {
            Some(TOOLS_CALL) => {
                let name = message
                    .params
                    .as_ref()
                    .and_then(|params| params.name.as_deref())
                    .unwrap_or_default();
                inspection.denied |= tools.denies(name);
                if let Some(scope) = tools.get(name)
                    && !granted.contains(scope)
                    && !inspection.missing.contains(scope)
                {
                    inspection.missing.push(scope.clone());
                }
            }
            Some(TOOLS_LIST) => {
                if let Some(id) = &message.id {
                    inspection.tools_list_ids.push(id.clone());
                }
            }
            _ => {}
        }
    }
    inspection
}

/// The calls of `messages` the audit names (`audit`), at most `max` of them, each with the scopes
/// it needs here: the resource's `required` ones and, for a tool, its own; and how many more
/// there were.
pub(crate) fn calls(
    messages: &Messages,
    tools: &ToolScopes,
    required: &ScopeSet,
    max: usize,
) -> (Vec<Call>, usize) {
    let mut calls = Vec::new();
    let mut more = 0;
    for (position, Message(message)) in messages.messages.iter().enumerate() {
        let params = message.params.as_ref();
        let (method, name) = match message.method.as_deref() {
            Some(TOOLS_CALL) => (TOOLS_CALL, params.and_then(|p| p.name.as_ref())),
            Some(PROMPTS_GET) => (PROMPTS_GET, params.and_then(|p| p.name.as_ref())),
            Some(RESOURCES_READ) => (RESOURCES_READ, params.and_then(|p| p.uri.as_ref())),
            _ => continue,
        };
        let Some(name) = name else { continue };
        if calls.len() == max {
            more += 1;
            continue;
        }
        let mut scopes = required.clone();
        if method == TOOLS_CALL
            && let Some(scope) = tools.get(name)
        {
            scopes.insert(scope.clone());
        }
        calls.push(Call {
            method,
            name: name.clone(),
            scopes,
            position,
            arguments: None,
        });
    }
    (calls, more)
}

/// A message as the audit reads its arguments: without building them (`RawValue`), so that a
/// megabyte of arguments costs a megabyte, not the tree a `Value` of it would be.
#[derive(Deserialize)]
struct RawMessage<'a> {
    #[serde(borrow, default)]
    params: Option<&'a serde_json::value::RawValue>,
}

#[derive(Deserialize)]
struct RawParams<'a> {
    #[serde(borrow, default)]
    arguments: Option<&'a serde_json::value::RawValue>,
}

/// Gives each of `calls` its `params.arguments` from `body` (which [`parse`] accepted), bounded:
/// whole up to `audit::MAX_ARGUMENT_BYTES` of JSON, a note of their size beyond. Only for
/// resources that keep arguments.
pub(crate) fn attach_arguments(calls: &mut [Call], body: &[u8]) {
    let batch = body
        .iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|first| *first == b'[');
    let messages: Vec<RawMessage<'_>> = if batch {
        serde_json::from_slice(body).unwrap_or_default()
    } else {
        serde_json::from_slice(body)
            .map(|one| vec![one])
            .unwrap_or_default()
    };
    for call in calls {
        let Some(raw) = messages
            .get(call.position)
            .and_then(|message| message.params)
            // By-position params (an array) carry no named arguments.
            .filter(|params| params.get().starts_with('{'))
            .and_then(|params| serde_json::from_str::<RawParams<'_>>(params.get()).ok())
            .and_then(|params| params.arguments)
        else {
            continue;
        };
        let text = raw.get();
        call.arguments = Some(if text.len() > crate::audit::MAX_ARGUMENT_BYTES {
            serde_json::json!({ "_truncated": true, "_bytes": text.len() })
        } else if has_repeated_members(text) {
            // A `Value` keeps the last of two members, a server may act on the first: the
            // record would show what did not run. It says so instead.
            serde_json::json!({ "_repeated_members": true, "_bytes": text.len() })
        } else {
            serde_json::from_str(text).unwrap_or(Value::Null)
        });
    }
}

/// Whether any object in the JSON `text` repeats a member name.
fn has_repeated_members(text: &str) -> bool {
    struct Strict;

    impl<'de> Deserialize<'de> for Strict {
        fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            deserializer.deserialize_any(StrictVisitor)
        }
    }

    struct StrictVisitor;

    impl<'de> Visitor<'de> for StrictVisitor {
        type Value = Strict;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("JSON")
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Strict, A::Error> {
            let mut seen = SeenKeys::default();
            while next_unique_key(&mut map, &mut seen)?.is_some() {
                map.next_value::<Strict>()?;
            }
            Ok(Strict)
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Strict, A::Error> {
            while seq.next_element::<Strict>()?.is_some() {}
            Ok(Strict)
        }

        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Strict, E> {
            Ok(Strict)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Strict, E> {
            Ok(Strict)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Strict, E> {
            Ok(Strict)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Strict, E> {
            Ok(Strict)
        }
        fn visit_str<E: de::Error>(self, _: &str) -> Result<Strict, E> {
            Ok(Strict)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Strict, E> {
            Ok(Strict)
        }
    }

    serde_json::from_str::<Strict>(text).is_err()
}

/// One message or a batch (JSON-RPC 2.0 §6).
pub(crate) struct Messages {
    messages: Vec<Message>,
    /// Whether the body was an array, even of one message.
    batch: bool,
}

impl Messages {
    /// The protocol revisions the messages name in `params._meta` (MCP 2026-07-28).
    pub(crate) fn protocol_versions(&self) -> impl Iterator<Item = &str> {
        self.messages
            .iter()
            .filter_map(|Message(m)| m.params.as_ref()?.protocol_version.as_deref())
    }

    /// The message, if the body is one message and not a batch.
    pub(crate) fn single(&self) -> Option<&MessageMembers> {
        match self.messages.as_slice() {
            [Message(one)] if !self.batch => Some(one),
            _ => None,
        }
    }
}

/// One JSON-RPC message: a JSON object, never anything else. (A derived struct would also
/// accept an array, reading its elements as the members by position: `[[{…tools/call…}]]`
/// would then be a batch of one message whose `id` is the call, and the call unchecked.)
pub(crate) struct Message(MessageMembers);

/// The members the guard reads; `derive` refuses them repeated.
#[derive(Deserialize)]
pub(crate) struct MessageMembers {
    /// `None` when absent; `Some(Value::Null)` for `"id": null`, which a request must not have.
    #[serde(default, deserialize_with = "present")]
    pub(crate) id: Option<Value>,
    #[serde(default)]
    pub(crate) method: Option<String>,
    #[serde(default)]
    pub(crate) params: Option<Params>,
}

/// `params`, of which the guard reads `name` and `uri` (strings: what `tools/call`,
/// `prompts/get` and `resources/read` name) and the protocol version of `_meta` (MCP
/// 2026-07-28). By-position params (an array) carry none of them.
pub(crate) struct Params {
    pub(crate) name: Option<String>,
    pub(crate) uri: Option<String>,
    pub(crate) protocol_version: Option<String>,
}

/// The member names of one object seen so far, borrowed from the body where they need no
/// unescaping: a short list while the object is small (every MCP message is; no hashing, no
/// allocation per name), a set once it is not, so that an object with many members does not cost
/// quadratic time (a 4 MiB body of short keys would take minutes).
#[derive(Default)]
struct SeenKeys<'de> {
    short: Vec<std::borrow::Cow<'de, str>>,
    long: Option<std::collections::HashSet<std::borrow::Cow<'de, str>>>,
}

impl<'de> SeenKeys<'de> {
    /// Names kept in the list before it becomes a set.
    const SHORT: usize = 16;

    /// Notes `key`; `false` if it was seen before.
    fn insert(&mut self, key: std::borrow::Cow<'de, str>) -> bool {
        if let Some(long) = &mut self.long {
            return long.insert(key);
        }
        if self.short.contains(&key) {
            return false;
        }
        if self.short.len() < Self::SHORT {
            self.short.push(key);
            return true;
        }
        let mut long: std::collections::HashSet<_> = self.short.drain(..).collect();
        long.insert(key);
        self.long = Some(long);
        true
    }
}

/// A member name, borrowed from the body when it can be.
struct Key<'de>(std::borrow::Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;

        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a member name")
            }

            fn visit_borrowed_str<E: de::Error>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Borrowed(key)))
            }

            fn visit_str<E: de::Error>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(std::borrow::Cow::Owned(key.to_owned())))
            }
        }

        deserializer.deserialize_str(KeyVisitor)
    }
}

/// The next member name of an object, refused if it was seen before in it (the strict reading
/// of the module documentation).
fn next_unique_key<'de, A: MapAccess<'de>>(
    map: &mut A,
    seen: &mut SeenKeys<'de>,
) -> Result<Option<std::borrow::Cow<'de, str>>, A::Error> {
    let Some(Key(key)) = map.next_key::<Key<'de>>()? else {
        return Ok(None);
    };
    if !seen.insert(key.clone()) {
        return Err(de::Error::custom(format_args!("duplicate member `{key}`")));
    }
    Ok(Some(key))
}

/// A member that is present, `null` included (serde's `Option` would read `null` as absent).
fn present<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Value>, D::Error> {
    Value::deserialize(deserializer).map(Some)
}

/// Whether a response's `id` is a request's: the same string, or the same number however it is
/// written (`1` and `1.0`; a server in JavaScript reads both as one number and answers with its
/// own spelling, and integers beyond 2^53 come back rounded).
pub(crate) fn same_id(request: &Value, response: &Value) -> bool {
    match (request, response) {
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => request == response,
    }
}

/// The `_meta` member that carries a request's protocol version (MCP 2026-07-28).
const PROTOCOL_VERSION_META: &str = "io.modelcontextprotocol/protocolVersion";

/// `params._meta`, read as strictly as the rest: a member repeated is refused, or a server that
/// keeps the first of two protocol versions would read another than the guard checked.
struct Meta {
    protocol_version: Option<String>,
}

impl<'de> Deserialize<'de> for Meta {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MetaVisitor;

        impl<'de> Visitor<'de> for MetaVisitor {
            type Value = Meta;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("_meta (an object or null)")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Meta, A::Error> {
                let mut protocol_version = None;
                let mut seen = SeenKeys::default();
                while let Some(key) = next_unique_key(&mut map, &mut seen)? {
                    if key == PROTOCOL_VERSION_META {
                        // A version that is not a string would be "no version" here and
                        // something else to the server: refused.
                        protocol_version = match map.next_value::<Value>()? {
                            Value::String(version) => Some(version),
                            Value::Null => None,
                            _ => {
                                return Err(de::Error::custom(
                                    "the _meta protocol version is not a string",
                                ));
                            }
                        };
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(Meta { protocol_version })
            }

            // `null` carries nothing; some serializers write it for an absent member.
            fn visit_unit<E: de::Error>(self) -> Result<Meta, E> {
                Ok(Meta {
                    protocol_version: None,
                })
            }
        }

        deserializer.deserialize_any(MetaVisitor)
    }
}

impl<'de> Deserialize<'de> for Messages {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MessagesVisitor;

        impl<'de> Visitor<'de> for MessagesVisitor {
            type Value = Messages;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC message or batch")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Messages, A::Error> {
                MessageMembers::deserialize(de::value::MapAccessDeserializer::new(map)).map(
                    |members| Messages {
                        messages: vec![Message(members)],
                        batch: false,
                    },
                )
            }

            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Messages, A::Error> {
                let messages =
                    Vec::<Message>::deserialize(de::value::SeqAccessDeserializer::new(seq))?;
                // JSON-RPC 2.0 §6: an empty array is an invalid request, not a batch.
                if messages.is_empty() {
                    return Err(de::Error::custom("an empty batch"));
                }
                Ok(Messages {
                    messages,
                    batch: true,
                })
            }
        }

        deserializer.deserialize_any(MessagesVisitor)
    }
}

impl<'de> Deserialize<'de> for Message {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MessageVisitor;

        impl<'de> Visitor<'de> for MessageVisitor {
            type Value = Message;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON-RPC message (an object)")
            }

            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Message, A::Error> {
                MessageMembers::deserialize(de::value::MapAccessDeserializer::new(map)).map(Message)
            }
        }

        // JSON-RPC 2.0 §6: the elements of a batch are Request objects; anything else (a nested
        // array, a number) is refused rather than read some other way.
        deserializer.deserialize_map(MessageVisitor)
    }
}

impl<'de> Deserialize<'de> for Params {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct ParamsVisitor;

        impl<'de> Visitor<'de> for ParamsVisitor {
            type Value = Params;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("JSON-RPC params (an object or an array)")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Params, A::Error> {
                let mut name: Option<Value> = None;
                let mut uri: Option<Value> = None;
                let mut meta: Option<Meta> = None;
                let mut seen = SeenKeys::default();
                while let Some(key) = next_unique_key(&mut map, &mut seen)? {
                    match key.as_ref() {
                        "name" => name = Some(map.next_value()?),
                        "uri" => uri = Some(map.next_value()?),
                        "_meta" => meta = Some(map.next_value()?),
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                let string = |value: Option<Value>| match value {
                    Some(Value::String(text)) => Some(text),
                    _ => None,
                };
                Ok(Params {
                    name: string(name),
                    uri: string(uri),
                    protocol_version: meta.and_then(|meta| meta.protocol_version),
                })
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Params, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Params {
                    name: None,
                    uri: None,
                    protocol_version: None,
                })
            }
        }

        deserializer.deserialize_any(ParamsVisitor)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn tools() -> ToolScopes {
        let mut tools = ToolScopes::default();
        tools.insert("delete_file".into(), Scope::new("files:write").unwrap());
        tools
    }

    #[test]
    fn tools_call_needs_the_tool_scope() {
        let body = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file","arguments":{"name":"x"}}}"#;
        let none = ScopeSet::new();
        assert_eq!(inspect(body, &tools(), &none).unwrap().missing.len(), 1);
        let granted = ScopeSet::parse("files:write").unwrap();
        assert!(
            inspect(body, &tools(), &granted)
                .unwrap()
                .missing
                .is_empty()
        );
        let other = br#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"}}"#;
        assert!(inspect(other, &tools(), &none).unwrap().missing.is_empty());
    }

    #[test]
    fn jsonrpc_section_6_every_batch_element_is_checked() {
        let body = br#"[{"jsonrpc":"2.0","id":1,"method":"tools/list"},{"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"delete_file"}}]"#;
        let inspection = inspect(body, &tools(), &ScopeSet::new()).unwrap();
        assert_eq!(inspection.missing.len(), 1);
        assert_eq!(inspection.tools_list_ids, vec![serde_json::json!(1)]);
    }

    #[test]
    fn jsonrpc_section_6_batch_elements_that_are_not_objects_are_refused() {
        for body in [
            r#"[[{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"delete_file"}}]]"#,
            r#"[{"jsonrpc":"2.0","id":1,"method":"ping"},[{"method":"tools/call","params":{"name":"delete_file"}}]]"#,
            r#"[1]"#,
            r#"["tools/call"]"#,
            r#"[null]"#,
            r#"[]"#,
            r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo"},"x":[[{"method":"tools/call"}]]}"#,
        ] {
            let refused = inspect(body.as_bytes(), &tools(), &ScopeSet::new()).is_err();
            // The last is one well-formed message whose extra member is not looked into: it calls
            // `echo`, and a server reads it the same way.
            assert_eq!(refused, !body.starts_with('{'), "{body}");
        }
    }

    #[test]
    fn repeated_members_are_refused() {
        for body in [
            r#"{"method":"tools/call","params":{"name":"delete_file","name":"echo"}}"#,
            r#"{"method":"tools/call","params":{"name":"delete_file","n\u0061me":"echo"}}"#,
            r#"{"method":"tools/list","method":"tools/call","params":{"name":"delete_file"}}"#,
            r#"{"method":"tools/call","params":{"name":"echo"},"params":{"name":"delete_file"}}"#,
        ] {
            assert!(
                inspect(body.as_bytes(), &tools(), &ScopeSet::new()).is_err(),
                "{body}"
            );
        }
    }

    #[test]
    fn rfc8259_section_8_1_bodies_must_be_utf8_even_where_the_guard_does_not_look() {
        let body = b"[{\"\":\"to\xffll\",\"params\":{\"name\":\"echo\"}}]";
        assert!(inspect(body, &tools(), &ScopeSet::new()).is_err());
    }

    #[test]
    fn unreadable_bodies_are_refused() {
        for body in [
            "not json",
            "1",
            r#"{"method":"tools/call"}"#,
            r#"{"method":"tools/call","params":["delete_file"]}"#,
            r#"{"method":"tools/call","params":{"name":7}}"#,
            r#"{"method":7}"#,
        ] {
            assert!(
                inspect(body.as_bytes(), &tools(), &ScopeSet::new()).is_err(),
                "{body}"
            );
        }
        assert!(
            inspect(
                br#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
                &tools(),
                &ScopeSet::new()
            )
            .is_ok()
        );
    }

    proptest::proptest! {
        /// Any bytes: an answer, never a panic.
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = inspect(&body, &tools(), &ScopeSet::new());
        }

        /// For well-formed messages, the guard's decision is the one a plain JSON reading
        /// gives: a `tools/call` of `delete_file` (however its name is escaped) without
        /// `files:write` is refused, anything else passes.
        #[test]
        fn decisions_match_a_plain_json_reading(
            messages in proptest::collection::vec(
                (proptest::prop_oneof![
                    proptest::strategy::Just("tools/call"),
                    proptest::strategy::Just("tools/list"),
                    proptest::strategy::Just("ping"),
                 ],
                 proptest::prop_oneof![
                     proptest::strategy::Just("delete_file"),
                     proptest::strategy::Just("echo"),
                     proptest::strategy::Just("delete_files"),
                 ],
                 proptest::bool::ANY),
                1..5,
            ),
            batch in proptest::bool::ANY,
            granted in proptest::bool::ANY,
        ) {
            let encoded: Vec<String> = messages
                .iter()
                .enumerate()
                .map(|(i, (method, tool, escape))| {
                    // `\u0064` is `d`: the guard must read the name as JSON does.
                    let name = if *escape { tool.replacen('d', "\\u0064", 1) } else { (*tool).to_owned() };
                    format!(r#"{{"jsonrpc":"2.0","id":{i},"method":"{method}","params":{{"name":"{name}"}}}}"#)
                })
                .collect();
            let body = if batch || encoded.len() > 1 {
                format!("[{}]", encoded.join(","))
            } else {
                encoded.concat()
            };
            let scopes = if granted { ScopeSet::parse("files:write").unwrap() } else { ScopeSet::new() };
            let inspection = inspect(body.as_bytes(), &tools(), &scopes).unwrap();
            let value: serde_json::Value = serde_json::from_str(&body).unwrap();
            let list: Vec<serde_json::Value> = match value {
                serde_json::Value::Array(items) => items,
                one => vec![one],
            };
            let refused = !granted && list.iter().any(|m| {
                m["method"] == "tools/call" && m["params"]["name"] == "delete_file"
            });
            proptest::prop_assert_eq!(!inspection.missing.is_empty(), refused, "{}", body);
        }
    }
}

#[cfg(test)]
mod seen_keys {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn a_member_repeated_is_refused_in_short_and_long_objects_and_escaped_spellings() {
        let granted = ScopeSet::new();
        let tools = ToolScopes::default();
        let object = |n: usize, repeat: &str| {
            let members: Vec<String> = (0..n).map(|i| format!(r#""k{i}":1"#)).collect();
            format!(
                r#"{{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{{"name":"echo",{}{repeat}}}}}"#,
                members.join(",")
            )
        };
        for n in [3, 15, 16, 17, 40] {
            assert!(
                inspect(object(n, "").as_bytes(), &tools, &granted).is_ok(),
                "{n}"
            );
            let repeated = object(n, r#","k2":2"#);
            assert!(
                inspect(repeated.as_bytes(), &tools, &granted).is_err(),
                "{n}"
            );
        }
        // An escaped spelling of a name is the same name (RFC 8259 §7).
        let escaped = r#"{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo","\u006eame":"delete_file"}}"#;
        assert!(inspect(escaped.as_bytes(), &tools, &granted).is_err());
    }
}
