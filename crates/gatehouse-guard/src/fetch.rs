//! Outbound HTTP: bounded GETs and POSTs to the authorization server (metadata, JWKS,
//! introspection), and RFC 8414 discovery.

use std::time::Duration;

use bytes::{Bytes, BytesMut};
use gatehouse_as_metadata::AuthorizationServerMetadata;
use gatehouse_types::uri::check_web_url;

use crate::GuardConfigError;

/// Time allowed for one exchange with the authorization server.
const TIMEOUT: Duration = Duration::from_secs(5);
/// Largest document read: a metadata document or key set is a few kilobytes.
const MAX_DOCUMENT_BYTES: usize = 256 * 1024;

/// A response, read whole.
pub(crate) struct Fetched {
    pub(crate) status: u16,
    pub(crate) body: Bytes,
    /// `Cache-Control: max-age`, in seconds, if the server sent one.
    pub(crate) max_age: Option<u64>,
    /// `Cache-Control: no-store` or `no-cache`.
    pub(crate) no_cache: bool,
}

/// The HTTP client of one guard.
#[derive(Debug, Clone)]
pub(crate) struct Http {
    client: reqwest::Client,
}

impl Http {
    pub(crate) fn new() -> Result<Self, GuardConfigError> {
        // reqwest is built without a TLS provider (docs/decisions/0010): ring is ours, unless
        // the embedding program installed one already.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            // A redirect could lead anywhere; the issuer's documents are where its metadata
            // says they are.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(TIMEOUT)
            .connect_timeout(TIMEOUT)
            .user_agent(concat!("gatehouse-guard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| GuardConfigError::HttpClient(e.to_string()))?;
        Ok(Self { client })
    }

    pub(crate) async fn get(&self, url: &str) -> Result<Fetched, String> {
        let request = self
            .client
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json");
        self.send(request).await
    }

    /// POSTs a form with an `Authorization` header.
    pub(crate) async fn post_form(
        &self,
        url: &str,
        authorization: &str,
        form: String,
    ) -> Result<Fetched, String> {
        let request = self
            .client
            .post(url)
            .header(reqwest::header::AUTHORIZATION, authorization)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(form);
        self.send(request).await
    }

    async fn send(&self, request: reqwest::RequestBuilder) -> Result<Fetched, String> {
        let mut response = request.send().await.map_err(|e| e.to_string())?;
        if response
            .content_length()
            .is_some_and(|len| len > MAX_DOCUMENT_BYTES as u64)
        {
            return Err("response too large".into());
        }
        let status = response.status().as_u16();
        let (max_age, no_cache) = cache_control(response.headers());
        let mut body = BytesMut::new();
        while let Some(chunk) = response.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
                return Err("response too large".into());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched {
            status,
            body: body.freeze(),
            max_age,
            no_cache,
        })
    }
}

/// Reads `max-age`, `no-store` and `no-cache` from `Cache-Control`
/// ([RFC 9111 §5.2.2](https://www.rfc-editor.org/rfc/rfc9111#section-5.2.2)).
fn cache_control(headers: &reqwest::header::HeaderMap) -> (Option<u64>, bool) {
    let mut max_age = None;
    let mut no_cache = false;
    for value in headers.get_all(reqwest::header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else { continue };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, argument) = directive.split_once('=').unwrap_or((directive, ""));
            let name = name.trim();
            if name.eq_ignore_ascii_case("max-age") {
                max_age = argument.trim().trim_matches('"').parse().ok();
            } else if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache")
            {
                no_cache = true;
            }
        }
    }
    (max_age, no_cache)
}

/// Fetches the issuer's RFC 8414 metadata from its path-inserted well-known URL (§3.1) and
/// checks it belongs to the issuer.
pub(crate) async fn discover(
    http: &Http,
    issuer: &str,
) -> Result<AuthorizationServerMetadata, String> {
    let url = gatehouse_as_metadata::well_known_url(issuer).map_err(|e| e.to_string())?;
    let fetched = http.get(&url).await?;
    if fetched.status != 200 {
        return Err(format!("{url} answered {}", fetched.status));
    }
    let metadata =
        AuthorizationServerMetadata::from_json(&fetched.body).map_err(|e| e.to_string())?;
    // RFC 8414 §3.3: "The "issuer" value returned MUST be identical to the authorization
    // server's issuer identifier value … If these values are not identical, the data contained
    // in the response MUST NOT be used."
    metadata.check_issuer(issuer).map_err(|e| e.to_string())?;
    Ok(metadata)
}

/// Checks a URL the guard will fetch: `https`, or `http` on a loopback host.
pub(crate) fn check_fetch_url(url: &str) -> Result<(), GuardConfigError> {
    check_web_url(url)
        .map(|_| ())
        .map_err(|e| GuardConfigError::Url {
            url: url.to_owned(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use reqwest::header::{CACHE_CONTROL, HeaderMap, HeaderValue};

    use super::*;

    #[test]
    fn rfc9111_section_5_2_2_cache_control() {
        let mut headers = HeaderMap::new();
        headers.insert(
            CACHE_CONTROL,
            HeaderValue::from_static("public, Max-Age=600"),
        );
        assert_eq!(cache_control(&headers), (Some(600), false));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
        assert_eq!(cache_control(&headers), (None, true));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("max-age=abc"));
        assert_eq!(cache_control(&headers), (None, false));
    }
}
