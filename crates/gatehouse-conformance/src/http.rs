//! A small HTTP client for the checks: it never follows redirects, and every exchange keeps a
//! one-line summary of what was sent and what came back, for the report.

use std::time::Duration;

use base64ct::{Base64, Encoding};
use serde_json::{Map, Value};

use crate::report::{Outcome, Step, fail};

/// Why a client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the HTTP client: {0}")]
pub(crate) struct ClientError(#[from] reqwest::Error);

/// The client.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
}

/// A request to send.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    method: reqwest::Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<(String, Vec<u8>)>,
    /// How the body (and any credential) is shown in summaries.
    shown: Vec<String>,
}

impl Req {
    fn new(method: reqwest::Method, url: &str) -> Self {
        Self {
            method,
            url: url.to_owned(),
            headers: Vec::new(),
            body: None,
            shown: Vec::new(),
        }
    }

    /// `GET url`.
    pub(crate) fn get(url: &str) -> Self {
        Self::new(reqwest::Method::GET, url)
    }

    /// `DELETE url`.
    pub(crate) fn delete(url: &str) -> Self {
        Self::new(reqwest::Method::DELETE, url)
    }

    /// `POST url` with a form body.
    pub(crate) fn post_form(url: &str, fields: &[(&str, &str)]) -> Self {
        let mut req = Self::new(reqwest::Method::POST, url);
        let body = form(fields);
        req.shown.push(format!("form {}", shorten_all(&body)));
        req.body = Some((
            "application/x-www-form-urlencoded".to_owned(),
            body.into_bytes(),
        ));
        req
    }

    /// `method url` with a JSON body.
    pub(crate) fn json(method: &str, url: &str, body: &Value) -> Self {
        let method =
            reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::POST);
        let mut req = Self::new(method, url);
        let text = body.to_string();
        req.shown.push(format!("json {}", shorten_all(&text)));
        req.body = Some(("application/json".to_owned(), text.into_bytes()));
        req
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &str, value: &str) -> Self {
        self.shown.push(format!("{name}: {}", shorten(value)));
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `Authorization: Bearer token`.
    pub(crate) fn bearer(self, token: &str) -> Self {
        self.header("authorization", &format!("Bearer {token}"))
    }

    /// `Authorization: Basic` with the client credentials, each form-encoded first
    /// ([RFC 6749 §2.3.1](https://www.rfc-editor.org/rfc/rfc6749#section-2.3.1)).
    pub(crate) fn basic(self, client_id: &str, secret: &str) -> Self {
        let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
        let pair = format!("{}:{}", enc(client_id), enc(secret));
        self.header(
            "authorization",
            &format!("Basic {}", Base64::encode_string(pair.as_bytes())),
        )
    }
}

/// A form body.
pub(crate) fn form(fields: &[(&str, &str)]) -> String {
    let mut ser = form_urlencoded::Serializer::new(String::new());
    for (name, value) in fields {
        ser.append_pair(name, value);
    }
    ser.finish()
}

/// A long value (a token, a code) shortened for display: its first 28 characters and an ellipsis.
fn shorten(value: &str) -> String {
    if value.chars().count() > 40 {
        let head: String = value.chars().take(28).collect();
        format!("{head}…")
    } else {
        value.to_owned()
    }
}

/// Every long token in `text` shortened (splitting on form and JSON separators).
fn shorten_all(text: &str) -> String {
    let mut out = String::new();
    let mut word = String::new();
    for c in text.chars() {
        if c.is_ascii_alphanumeric() || "-_.~%".contains(c) {
            word.push(c);
        } else {
            out.push_str(&shorten(&word));
            word.clear();
            out.push(c);
        }
    }
    out.push_str(&shorten(&word));
    out
}

/// A request sent and the response received.
#[derive(Debug, Clone)]
pub(crate) struct Exchange {
    /// What was sent, in one line.
    pub(crate) sent: String,
    /// The status code.
    pub(crate) status: u16,
    headers: reqwest::header::HeaderMap,
    /// The body.
    pub(crate) body: Vec<u8>,
}

impl Exchange {
    /// The first value of header `name`, if present and text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Every value of header `name`.
    pub(crate) fn header_all(&self, name: &str) -> Vec<&str> {
        self.headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect()
    }

    /// The body as text (lossy).
    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// One line: request, status, the headers that matter, and the start of the body.
    pub(crate) fn summary(&self) -> String {
        let mut line = format!("{} → {}", self.sent, self.status);
        for name in [
            "location",
            "www-authenticate",
            "content-type",
            "cache-control",
        ] {
            if let Some(value) = self.header(name) {
                line.push_str(&format!("; {name}: {}", shorten_all(value)));
            }
        }
        let text = self.text();
        if !text.is_empty() {
            let body: String = if self.is_html() {
                let links = crate::context::links(&text);
                format!("<html page; links: {}>", shorten_all(&links.join(" ")))
            } else {
                shorten_all(&text).chars().take(300).collect()
            };
            line.push_str(&format!("; body: {body}"));
        }
        line
    }

    /// A pass, with this exchange as the evidence.
    pub(crate) fn pass(&self) -> Outcome {
        Outcome::Pass(self.summary())
    }

    /// A failure: `what`, then this exchange.
    pub(crate) fn fail(&self, what: &str) -> Outcome {
        fail(format!("{what}: {}", self.summary()))
    }

    fn is_html(&self) -> bool {
        self.header("content-type")
            .is_some_and(|ct| ct.to_ascii_lowercase().starts_with("text/html"))
    }

    /// Whether the media type is `application/json` (parameters ignored, case-insensitive).
    pub(crate) fn is_json_type(&self) -> bool {
        self.header("content-type").is_some_and(|ct| {
            ct.split(';')
                .next()
                .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
        })
    }

    /// Fails unless the status is `status`.
    pub(crate) fn status_is(&self, status: u16) -> Step<()> {
        if self.status == status {
            Ok(())
        } else {
            Err(self.fail(&format!("expected status {status}")))
        }
    }

    /// The body as a JSON object, or a failure.
    pub(crate) fn json_object(&self) -> Step<Map<String, Value>> {
        match serde_json::from_slice::<Value>(&self.body) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(self.fail("expected a JSON object body")),
        }
    }

    /// Member `name` of the JSON body as a string.
    pub(crate) fn json_str(&self, name: &str) -> Option<String> {
        serde_json::from_slice::<Value>(&self.body)
            .ok()?
            .get(name)?
            .as_str()
            .map(str::to_owned)
    }

    /// Fails unless this is an RFC 6749 §5.2 error response: status `status`, a JSON object
    /// whose `error` is `code`.
    pub(crate) fn oauth_error(&self, status: u16, code: &str) -> Step<()> {
        let error = self.json_str("error");
        if self.status == status && error.as_deref() == Some(code) {
            Ok(())
        } else {
            Err(self.fail(&format!("expected {status} with error={code}")))
        }
    }

    /// The `Location` header resolved as a URL, if any.
    pub(crate) fn location(&self) -> Option<url::Url> {
        let location = self.header("location")?;
        url::Url::parse(location).ok()
    }

    /// Whether `Cache-Control` includes `no-store`.
    pub(crate) fn no_store(&self) -> bool {
        self.header_all("cache-control").iter().any(|v| {
            v.split(',')
                .any(|d| d.trim().eq_ignore_ascii_case("no-store"))
        })
    }
}

impl Http {
    /// A client that never follows redirects.
    pub(crate) fn new() -> Result<Self, ClientError> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(20))
            .user_agent(concat!("gatehouse-conformance/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(Self { client })
    }

    /// Sends `req`; a transport error is a failure naming the request.
    pub(crate) async fn send(&self, req: Req) -> Step<Exchange> {
        let mut sent = format!("{} {}", req.method, shorten_all(&req.url));
        for shown in &req.shown {
            sent.push_str(&format!(" [{shown}]"));
        }
        let mut builder = self.client.request(req.method, &req.url);
        for (name, value) in &req.headers {
            builder = builder.header(name, value);
        }
        if let Some((content_type, body)) = req.body {
            builder = builder.header("content-type", content_type).body(body);
        }
        let response = builder
            .send()
            .await
            .map_err(|e| fail(format!("{sent}: request failed: {e}")))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(|e| fail(format!("{sent}: reading the body failed: {e}")))?
            .to_vec();
        Ok(Exchange {
            sent,
            status,
            headers,
            body,
        })
    }

    /// `GET url`.
    pub(crate) async fn get(&self, url: &str) -> Step<Exchange> {
        self.send(Req::get(url)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_tokens_are_shortened_in_summaries() {
        let long = "a".repeat(60);
        let shown = shorten_all(&format!("code={long}&state=x"));
        assert!(shown.starts_with("code=aaaa"));
        assert!(shown.ends_with("…&state=x"));
    }
}
