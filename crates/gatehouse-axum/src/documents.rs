//! Client ID Metadata Documents (MCP 2025-11-25; draft-ietf-oauth-client-id-metadata-document):
//! a client whose `client_id` is an `https` URL is described by the JSON document at that URL.
//! This module fetches the document, holds it to the draft and to the server's registration
//! policy (`gatehouse-registration` does the checking), and caches the resulting client.
//!
//! Fetching is a request the server makes because a stranger asked it to, so it is fenced in:
//!
//! - `https` only, the URL already checked by `validate_client_id_url` (draft §3);
//! - only public addresses, checked on the addresses actually connected to (`outbound`);
//! - an optional host allowlist;
//! - no redirects (a 3xx is a refusal: the document must live at its own URL, §4.1), only `200`;
//! - `application/json` only; at most [`MAX_DOCUMENT_BYTES`], counted while reading, so a huge or
//!   endless body costs at most that much;
//! - a short [`FETCH_TIMEOUT`] for the whole exchange;
//! - quotas, so that one requester or one slow host cannot starve everyone else's fetches: at most
//!   [`FETCHES_PER_HOST`] in flight to one host (`host:port`), [`FETCHES_PER_REQUESTER`] for one
//!   requesting address (see [`requester`]), and [`CONCURRENT_FETCHES`] in all; past a quota, a
//!   fetch is refused as temporarily unavailable rather than queued;
//! - a host whose fetch timed out, could not be reached or took longer than [`SLOW_FETCH`] is not
//!   asked again for [`HOST_FAILURE_SECS`] (a negative cache): a slow host costs one slow fetch,
//!   not one per request;
//! - no proxy from the environment (it would move the address check to a machine we cannot see).
//!
//! A fetched document is trusted for as long as its `Cache-Control` allows (`max-age`, capped by
//! `client_id_metadata_documents.max_cache_secs`; [`DEFAULT_FRESHNESS_SECS`] when the response says
//! nothing). One authorization request looks its client up several times, so even a document
//! served with `no-store`, `no-cache` or `max-age=0` is reused for [`MIN_REUSE_SECS`] rather than
//! fetched again for each lookup. A document that breaks a rule is not remembered: a client that
//! fixes its document is seen at once.
//!
//! A client's `jwks_uri` (the keys of `private_key_jwt`, RFC 7523 §2.2) is fetched behind the
//! same fences, by [`ClientDocuments::client_keys`], with its own cache: it is also a URL that
//! the server fetches because of what a request carries.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use gatehouse_engine::EndpointError;
use gatehouse_engine::store::{ClientRecord, StoreError};
use gatehouse_jose::KeySet;
use gatehouse_registration::{
    ClientIdMetadataDocument, ClientMetadataPolicy, RegistrationError, validate_client_id_url,
};
use gatehouse_types::{ClientId, UnixTime};

use crate::config;
use crate::outbound::{
    AddressPolicy, AddressRefused, PublicOnlyResolver, check_host, client_builder,
};

/// The longest a key set is trusted without fetching it again, whatever its `Cache-Control`: a
/// key its owner removed (compromised, say) stops verifying within this.
pub(crate) const MAX_KEYS_FRESHNESS_SECS: u64 = 900;
/// The largest JWK Set accepted from a `jwks_uri`: a few RSA keys fit easily.
pub(crate) const MAX_JWKS_BYTES: usize = 32 * 1024;
/// The largest document accepted. The draft suggests a limit of 5 KB for the authorization
/// server's protection; real documents are a few hundred bytes.
pub(crate) const MAX_DOCUMENT_BYTES: usize = 5 * 1024;
/// The whole fetch: connect, TLS, request and body. A document is a few hundred bytes: a host
/// that needs longer is treated as failing.
pub(crate) const FETCH_TIMEOUT: Duration = Duration::from_secs(3);
/// Fetches in flight at once, in all.
pub(crate) const CONCURRENT_FETCHES: usize = 64;
/// Fetches in flight to one host (`host:port`).
pub(crate) const FETCHES_PER_HOST: usize = 4;
/// Fetches in flight for one requesting address.
pub(crate) const FETCHES_PER_REQUESTER: usize = 2;
/// A fetch slower than this marks its host as failing, whatever the answer: a document is a few
/// hundred bytes.
pub(crate) const SLOW_FETCH: Duration = Duration::from_secs(1);
/// How long a host that failed (no answer in time, no connection, a slow answer) is not asked
/// again.
pub(crate) const HOST_FAILURE_SECS: u64 = 30;
/// Hosts remembered as failing, at most.
const MAX_FAILED_HOSTS: usize = 1024;
/// How long a document without caching headers is trusted.
pub(crate) const DEFAULT_FRESHNESS_SECS: u64 = 300;
/// How long any fetched document is reused: long enough for one authorization request's
/// lookups, short enough that `no-store` still means "fetch again next time".
pub(crate) const MIN_REUSE_SECS: u64 = 10;
/// Documents kept at most; the cache makes room by dropping what is stale, then what goes stale
/// first.
const MAX_CACHED: usize = 1024;

/// Why a `client_id` URL did not give a client. Each message says what the client's developer
/// must fix.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DocumentError {
    /// This server does not accept such clients.
    #[error("this server does not accept Client ID Metadata Documents")]
    Disabled,
    /// The URL may not be a client identifier (draft §3).
    #[error("the client_id is not a valid client identifier URL: {0}")]
    BadUrl(String),
    /// The host is not on the allowlist.
    #[error("client metadata documents on {0} are not accepted by this server")]
    HostNotAllowed(String),
    /// The address check refused.
    #[error("the URL cannot be fetched: {0}")]
    Address(AddressRefused),
    /// A redirect (not followed).
    #[error(
        "the URL answered with a redirect ({0}); the document must be served at the URL itself"
    )]
    Redirect(u16),
    /// Any other status than 200.
    #[error("the URL answered with HTTP status {0}")]
    Status(u16),
    /// Not `application/json`.
    #[error("the document must be served as application/json, not {0:?}")]
    NotJson(String),
    /// Over the size limit, in bytes.
    #[error("the document is larger than {0} bytes")]
    TooLarge(usize),
    /// A `jwks_uri` that gave no usable key.
    #[error("the JWK Set holds no usable public key: {0}")]
    NoKeys(String),
    /// The document broke a rule (or the server's registration policy).
    #[error("the client metadata document is not acceptable: {0}")]
    Invalid(RegistrationError),
    /// The network: timeout, refused connection, TLS.
    #[error("the document could not be fetched: {0}")]
    Unreachable(String),
    /// Too many fetches at once, in all, from this requester, or to this host.
    #[error("too many documents are being fetched; try again shortly")]
    Busy,
    /// The host failed a fetch moments ago and is not asked again yet.
    #[error("the document's host failed moments ago ({0}); try again in a minute")]
    HostFailing(String),
}

impl DocumentError {
    /// Whether trying again later may succeed without the client changing anything: the token
    /// endpoint then answers `temporarily_unavailable` rather than `invalid_client`.
    pub(crate) fn is_transient(&self) -> bool {
        matches!(
            self,
            Self::Unreachable(_) | Self::Busy | Self::HostFailing(_)
        ) || matches!(self, Self::Status(status) if *status >= 500)
    }

    /// How a credential endpoint answers a fetch that failed: `temporarily_unavailable` (503)
    /// when trying again may pass, so the client retries; `refused` otherwise.
    pub(crate) fn at_endpoint(&self, refused: impl FnOnce() -> EndpointError) -> EndpointError {
        if self.is_transient() {
            StoreError::Unavailable(self.to_string()).into()
        } else {
            refused()
        }
    }
}

struct Cached {
    client: ClientRecord,
    fresh_until: UnixTime,
}

struct CachedKeys {
    keys: KeySet,
    fresh_until: UnixTime,
}

/// Fetches, checks and caches client metadata documents.
pub(crate) struct ClientDocuments {
    enabled: bool,
    http: reqwest::Client,
    policy: ClientMetadataPolicy,
    addresses: AddressPolicy,
    allowed_hosts: Vec<String>,
    max_cache_secs: u64,
    cache: Mutex<HashMap<String, Cached>>,
    keys: Mutex<HashMap<String, CachedKeys>>,
    /// Identity providers' `jwks_uri`, from their discovery documents, until when.
    discovered: Mutex<HashMap<String, (String, UnixTime)>>,
    fetches: tokio::sync::Semaphore,
    in_flight: InFlight,
    /// Hosts that failed, until when they are not asked again, and why.
    failing: Mutex<HashMap<String, (UnixTime, String)>>,
}

/// Why the fetcher could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DocumentSetupError {
    /// `client_id_metadata_documents.dangerous_extra_root_certificate`.
    #[error("client_id_metadata_documents.dangerous_extra_root_certificate: {0}")]
    Certificate(String),
    /// The HTTP client.
    #[error("the HTTPS client for client metadata documents: {0}")]
    Client(String),
}

impl ClientDocuments {
    pub(crate) fn new(
        config: &config::ClientDocuments,
        policy: ClientMetadataPolicy,
    ) -> Result<Self, DocumentSetupError> {
        let addresses = AddressPolicy {
            allow_loopback: config.dangerous_allow_loopback,
        };
        let mut builder = client_builder()
            .timeout(FETCH_TIMEOUT)
            .connect_timeout(FETCH_TIMEOUT)
            .https_only(true)
            .user_agent(concat!("gatehouse/", env!("CARGO_PKG_VERSION")))
            .dns_resolver(std::sync::Arc::new(PublicOnlyResolver {
                policy: addresses,
            }));
        if let Some(path) = &config.dangerous_extra_root_certificate {
            let pem = std::fs::read(path)
                .map_err(|e| DocumentSetupError::Certificate(format!("{path}: {e}")))?;
            let certificate = reqwest::Certificate::from_pem(&pem)
                .map_err(|e| DocumentSetupError::Certificate(format!("{path}: {e}")))?;
            builder = builder.tls_certs_merge([certificate]);
        }
        let http = builder
            .build()
            .map_err(|e| DocumentSetupError::Client(e.to_string()))?;
        Ok(Self {
            enabled: config.enabled,
            http,
            policy,
            addresses,
            allowed_hosts: config.allowed_hosts.clone(),
            max_cache_secs: config.max_cache_secs,
            cache: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
            discovered: Mutex::new(HashMap::new()),
            fetches: tokio::sync::Semaphore::new(CONCURRENT_FETCHES),
            in_flight: InFlight::default(),
            failing: Mutex::new(HashMap::new()),
        })
    }

    /// Whether such clients are accepted (and advertised).
    pub(crate) fn enabled(&self) -> bool {
        self.enabled
    }

    /// The client that `client_id` (an `https` URL) describes: from the cache while fresh,
    /// otherwise fetched now.
    pub(crate) async fn client(
        &self,
        client_id: &ClientId,
        now: UnixTime,
    ) -> Result<ClientRecord, DocumentError> {
        if !self.enabled {
            return Err(DocumentError::Disabled);
        }
        let url = client_id.as_str();
        if let Some(client) = self.cached(url, now) {
            return Ok(client);
        }
        validate_client_id_url(url).map_err(|e| DocumentError::BadUrl(e.to_string()))?;
        let parsed = reqwest::Url::parse(url).map_err(|e| DocumentError::BadUrl(e.to_string()))?;
        let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        if !host_allowed(&self.allowed_hosts, &host) {
            return Err(DocumentError::HostNotAllowed(host));
        }
        let (body, freshness) = self.fetch_guarded(parsed, MAX_DOCUMENT_BYTES, now).await?;
        let document =
            ClientIdMetadataDocument::from_json(&body).map_err(DocumentError::Invalid)?;
        let metadata = self
            .policy
            .check_metadata_document(&document, url)
            .map_err(DocumentError::Invalid)?;
        let client = ClientRecord {
            client_id: client_id.clone(),
            metadata,
            secret_hash: None,
            secret_expires_at: None,
            registration_token_hash: None,
            issued_at: now,
            introspection_resources: Vec::new(),
        };
        tracing::info!(client_id = url, "fetched a client metadata document");
        let secs = freshness.min(self.max_cache_secs).max(MIN_REUSE_SECS);
        self.remember(url, client.clone(), now.saturating_add_secs(secs), now);
        Ok(client)
    }

    /// The keys at a client's `jwks_uri`: from the cache while fresh, otherwise fetched now,
    /// behind the same fences as documents. Keys that cannot be read are left out; a set with
    /// no usable key at all is refused.
    pub(crate) async fn client_keys(
        &self,
        jwks_uri: &str,
        now: UnixTime,
    ) -> Result<KeySet, DocumentError> {
        if let Some(keys) = self.cached_keys(jwks_uri, now) {
            return Ok(keys);
        }
        let parsed =
            reqwest::Url::parse(jwks_uri).map_err(|e| DocumentError::BadUrl(e.to_string()))?;
        if parsed.scheme() != "https" {
            return Err(DocumentError::BadUrl("a jwks_uri must be https".into()));
        }
        let (body, freshness) = self.fetch_guarded(parsed, MAX_JWKS_BYTES, now).await?;
        let (keys, unusable) =
            KeySet::from_jwks_json(&body).map_err(|e| DocumentError::NoKeys(e.to_string()))?;
        if keys.is_empty() {
            let reason = unusable
                .first()
                .map_or_else(|| "the set is empty".to_owned(), ToString::to_string);
            return Err(DocumentError::NoKeys(reason));
        }
        tracing::info!(
            jwks_uri,
            keys = keys.keys().len(),
            "fetched a client's keys"
        );
        let longest = MAX_KEYS_FRESHNESS_SECS
            .min(self.max_cache_secs)
            .max(MIN_REUSE_SECS);
        let secs = freshness.clamp(MIN_REUSE_SECS, longest);
        let mut cache = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        make_room(&mut cache, jwks_uri, now, |entry| entry.fresh_until);
        cache.insert(
            jwks_uri.to_owned(),
            CachedKeys {
                keys: keys.clone(),
                fresh_until: now.saturating_add_secs(secs),
            },
        );
        Ok(keys)
    }

    /// The signing keys of the identity provider `issuer` (one the operator configured): its
    /// `jwks_uri` from OpenID Connect Discovery (`{issuer}/.well-known/openid-configuration`,
    /// whose `issuer` must be exactly `issuer`, OpenID Connect Discovery §4.3), then the keys
    /// there, each fetched behind the same fences as documents and cached.
    pub(crate) async fn provider_keys(
        &self,
        issuer: &str,
        now: UnixTime,
    ) -> Result<KeySet, DocumentError> {
        let known = {
            let discovered = self.discovered.lock().unwrap_or_else(|p| p.into_inner());
            discovered
                .get(issuer)
                .filter(|(_, until)| now < *until)
                .map(|(uri, _)| uri.clone())
        };
        let jwks_uri = match known {
            Some(uri) => uri,
            None => {
                let url = format!(
                    "{}/.well-known/openid-configuration",
                    issuer.trim_end_matches('/')
                );
                let parsed =
                    reqwest::Url::parse(&url).map_err(|e| DocumentError::BadUrl(e.to_string()))?;
                let (body, freshness) = self.fetch_guarded(parsed, MAX_JWKS_BYTES, now).await?;
                let document: serde_json::Value = serde_json::from_slice(&body)
                    .map_err(|e| DocumentError::NoKeys(format!("discovery document: {e}")))?;
                if document.get("issuer").and_then(serde_json::Value::as_str) != Some(issuer) {
                    return Err(DocumentError::NoKeys(
                        "the discovery document names another issuer (OpenID Connect Discovery section 4.3)".into(),
                    ));
                }
                let uri = document
                    .get("jwks_uri")
                    .and_then(serde_json::Value::as_str)
                    .ok_or_else(|| {
                        DocumentError::NoKeys("the discovery document has no jwks_uri".into())
                    })?
                    .to_owned();
                let secs = freshness.min(self.max_cache_secs).max(MIN_REUSE_SECS);
                let mut discovered = self.discovered.lock().unwrap_or_else(|p| p.into_inner());
                if discovered.len() < MAX_CACHED {
                    discovered.insert(
                        issuer.to_owned(),
                        (uri.clone(), now.saturating_add_secs(secs)),
                    );
                }
                uri
            }
        };
        self.client_keys(&jwks_uri, now).await
    }

    fn cached_keys(&self, jwks_uri: &str, now: UnixTime) -> Option<KeySet> {
        let cache = self.keys.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(jwks_uri)
            .filter(|entry| now < entry.fresh_until)
            .map(|entry| entry.keys.clone())
    }

    /// GETs `parsed` behind every fence: the address check, the failing-host memory, the
    /// quotas, the deadline and `max_bytes`. The body and how long it may be reused.
    async fn fetch_guarded(
        &self,
        parsed: reqwest::Url,
        max_bytes: usize,
        now: UnixTime,
    ) -> Result<(Vec<u8>, u64), DocumentError> {
        let host = parsed.host_str().unwrap_or_default().to_ascii_lowercase();
        check_host(self.addresses, &parsed).map_err(DocumentError::Address)?;
        let authority = format!("{host}:{}", parsed.port_or_known_default().unwrap_or(443));
        if let Some(reason) = self.failing_host(&authority, now) {
            metrics::counter!("gatehouse_cimd_fetches_total", "result" => "host_failing")
                .increment(1);
            return Err(DocumentError::HostFailing(reason));
        }
        {
            let Ok(_permit) = self.fetches.try_acquire() else {
                metrics::counter!("gatehouse_cimd_fetches_total", "result" => "busy").increment(1);
                return Err(DocumentError::Busy);
            };
            let requester = REQUESTER.try_with(Clone::clone).unwrap_or_default();
            let Some(_quota) = self.in_flight.take(&authority, &requester) else {
                metrics::counter!("gatehouse_cimd_fetches_total", "result" => "busy").increment(1);
                return Err(DocumentError::Busy);
            };
            let started = std::time::Instant::now();
            let fetched = self.fetch(parsed, max_bytes).await;
            metrics::counter!(
                "gatehouse_cimd_fetches_total",
                "result" => fetch_result(&fetched)
            )
            .increment(1);
            // A host that answers quickly, even with an error, costs little; one that does not
            // answer in time, or answers slowly, holds a fetch slot: that is what is remembered.
            match &fetched {
                Err(DocumentError::Unreachable(reason)) => {
                    self.remember_failure(authority, reason, now);
                }
                _ if started.elapsed() > SLOW_FETCH => {
                    self.remember_failure(authority, "it answered slowly", now);
                }
                _ => {}
            }
            fetched
        }
    }

    /// Why `authority` is not asked now, if it failed moments ago.
    fn failing_host(&self, authority: &str, now: UnixTime) -> Option<String> {
        let failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        failing
            .get(authority)
            .filter(|(until, _)| now < *until)
            .map(|(_, reason)| reason.clone())
    }

    fn remember_failure(&self, authority: String, reason: &str, now: UnixTime) {
        let mut failing = self.failing.lock().unwrap_or_else(|p| p.into_inner());
        if failing.len() >= MAX_FAILED_HOSTS {
            failing.retain(|_, (until, _)| now < *until);
        }
        if failing.len() < MAX_FAILED_HOSTS {
            failing.insert(
                authority,
                (
                    now.saturating_add_secs(HOST_FAILURE_SECS),
                    reason.to_owned(),
                ),
            );
        }
    }

    fn cached(&self, url: &str, now: UnixTime) -> Option<ClientRecord> {
        let cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        cache
            .get(url)
            .filter(|entry| now < entry.fresh_until)
            .map(|entry| entry.client.clone())
    }

    fn remember(&self, url: &str, client: ClientRecord, fresh_until: UnixTime, now: UnixTime) {
        let mut cache = self.cache.lock().unwrap_or_else(|p| p.into_inner());
        make_room(&mut cache, url, now, |entry| entry.fresh_until);
        cache.insert(
            url.to_owned(),
            Cached {
                client,
                fresh_until,
            },
        );
    }

    /// GETs the document: the body (at most `max_bytes`) and how long it may be reused, in
    /// seconds.
    async fn fetch(
        &self,
        url: reqwest::Url,
        max_bytes: usize,
    ) -> Result<(Vec<u8>, u64), DocumentError> {
        let mut response = self
            .http
            .get(url)
            .header(reqwest::header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(fetch_error)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(DocumentError::Redirect(status.as_u16()));
        }
        if status != reqwest::StatusCode::OK {
            return Err(DocumentError::Status(status.as_u16()));
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        if !is_json(&content_type) {
            return Err(DocumentError::NotJson(content_type));
        }
        if response
            .content_length()
            .is_some_and(|length| length > max_bytes as u64)
        {
            return Err(DocumentError::TooLarge(max_bytes));
        }
        let freshness = freshness(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(fetch_error)? {
            if body.len() + chunk.len() > max_bytes {
                return Err(DocumentError::TooLarge(max_bytes));
            }
            body.extend_from_slice(&chunk);
        }
        Ok((body, freshness))
    }
}

/// Makes room in a cache of at most [`MAX_CACHED`] entries for `key`: drops what is stale, then
/// what goes stale first.
fn make_room<V>(
    cache: &mut HashMap<String, V>,
    key: &str,
    now: UnixTime,
    fresh_until: impl Fn(&V) -> UnixTime,
) {
    if cache.len() < MAX_CACHED || cache.contains_key(key) {
        return;
    }
    cache.retain(|_, entry| now < fresh_until(entry));
    if cache.len() >= MAX_CACHED
        && let Some(soonest) = cache
            .iter()
            .min_by_key(|(_, entry)| fresh_until(entry))
            .map(|(key, _)| key.clone())
    {
        cache.remove(&soonest);
    }
}

tokio::task_local! {
    /// The address of the request being served (the rate limits' key), so that fetches it causes
    /// count against its quota. Set for every authorization-server request by [`requester`].
    static REQUESTER: String;
}

/// The middleware that makes the request's address the requester of the fetches it causes.
pub(crate) async fn requester(
    axum::extract::State(rates): axum::extract::State<std::sync::Arc<crate::limits::RateLimiting>>,
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let address = rates.peer(&request);
    request
        .extensions_mut()
        .insert(crate::limits::Peer(address.clone()));
    REQUESTER.scope(address, next.run(request)).await
}

/// Fetches in flight per host and per requester.
#[derive(Default)]
struct InFlight {
    counts: Mutex<(HashMap<String, usize>, HashMap<String, usize>)>,
}

/// A fetch's place in both quotas, given back on drop.
struct Slot<'a> {
    in_flight: &'a InFlight,
    host: String,
    requester: String,
}

impl InFlight {
    /// A slot for a fetch to `host` for `requester`, if both have room.
    fn take(&self, host: &str, requester: &str) -> Option<Slot<'_>> {
        let mut counts = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let (hosts, requesters) = &mut *counts;
        if hosts.get(host).copied().unwrap_or(0) >= FETCHES_PER_HOST
            || requesters.get(requester).copied().unwrap_or(0) >= FETCHES_PER_REQUESTER
        {
            return None;
        }
        *hosts.entry(host.to_owned()).or_default() += 1;
        *requesters.entry(requester.to_owned()).or_default() += 1;
        Some(Slot {
            in_flight: self,
            host: host.to_owned(),
            requester: requester.to_owned(),
        })
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut counts = self
            .in_flight
            .counts
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        let (hosts, requesters) = &mut *counts;
        for (map, key) in [(hosts, &self.host), (requesters, &self.requester)] {
            if let Some(count) = map.get_mut(key.as_str()) {
                *count = count.saturating_sub(1);
                if *count == 0 {
                    map.remove(key.as_str());
                }
            }
        }
    }
}

/// The `result` label of a fetch.
fn fetch_result(fetched: &Result<(Vec<u8>, u64), DocumentError>) -> &'static str {
    match fetched {
        Ok(_) => "ok",
        Err(DocumentError::Address(_)) => "address_refused",
        Err(DocumentError::Redirect(_)) => "redirect",
        Err(DocumentError::Status(_)) => "status",
        Err(DocumentError::NotJson(_)) => "not_json",
        Err(DocumentError::TooLarge(_)) => "too_large",
        Err(DocumentError::Unreachable(_)) => "unreachable",
        Err(_) => "refused",
    }
}

/// A network error, or the address check refusing inside the resolver.
fn fetch_error(error: reqwest::Error) -> DocumentError {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&error);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<AddressRefused>() {
            return DocumentError::Address(refused.clone());
        }
        source = cause.source();
    }
    let what = if error.is_timeout() {
        format!("no answer within {} seconds", FETCH_TIMEOUT.as_secs())
    } else if error.is_connect() {
        "the connection (or its TLS handshake) failed".to_owned()
    } else {
        "the exchange failed".to_owned()
    };
    DocumentError::Unreachable(what)
}

/// `application/json`, with parameters allowed (`; charset=utf-8`).
fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|essence| essence.trim().eq_ignore_ascii_case("application/json"))
}

/// How long a response may be reused, in seconds (RFC 9111 §5.2.2): 0 with `no-store` or
/// `no-cache` (revalidation would mean fetching anyway), the `max-age` when given, otherwise
/// [`DEFAULT_FRESHNESS_SECS`].
fn freshness(headers: &reqwest::header::HeaderMap) -> u64 {
    let mut max_age = None;
    for value in headers.get_all(reqwest::header::CACHE_CONTROL) {
        let Ok(value) = value.to_str() else {
            return 0;
        };
        for directive in value.split(',') {
            let directive = directive.trim();
            let (name, argument) = directive
                .split_once('=')
                .map_or((directive, None), |(n, a)| (n.trim(), Some(a.trim())));
            if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
                return 0;
            }
            if name.eq_ignore_ascii_case("max-age") {
                // A malformed max-age is treated as stale (RFC 9111 §4.2.1).
                let secs = argument
                    .map(|a| a.trim_matches('"'))
                    .and_then(|a| a.parse::<u64>().ok())
                    .unwrap_or(0);
                max_age = Some(max_age.map_or(secs, |m: u64| m.min(secs)));
            }
        }
    }
    max_age.unwrap_or(DEFAULT_FRESHNESS_SECS)
}

/// Whether `host` (lowercase) is allowed: any host when the list is empty; otherwise an exact
/// entry or a `*.` entry for a proper subdomain.
fn host_allowed(allowed: &[String], host: &str) -> bool {
    allowed.is_empty()
        || allowed.iter().any(|entry| {
            let entry = entry.to_ascii_lowercase();
            match entry.strip_prefix("*.") {
                Some(parent) => host
                    .strip_suffix(parent)
                    .is_some_and(|sub| sub.len() > 1 && sub.ends_with('.')),
                None => host == entry,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{CACHE_CONTROL, HeaderMap, HeaderValue};

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append(CACHE_CONTROL, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn freshness_follows_cache_control() {
        assert_eq!(freshness(&headers(&[])), DEFAULT_FRESHNESS_SECS);
        assert_eq!(freshness(&headers(&["max-age=60"])), 60);
        assert_eq!(freshness(&headers(&["public, max-age=\"90\""])), 90);
        assert_eq!(freshness(&headers(&["max-age=60", "max-age=30"])), 30);
        assert_eq!(freshness(&headers(&["max-age=oops"])), 0);
        assert_eq!(freshness(&headers(&["max-age=600, no-store"])), 0);
        assert_eq!(freshness(&headers(&["No-Cache"])), 0);
    }

    #[test]
    fn allowlist_matches_hosts_and_proper_subdomains() {
        let list = vec![
            "app.example.com".to_owned(),
            "*.clients.example.org".to_owned(),
        ];
        assert!(host_allowed(&[], "anything.example"));
        assert!(host_allowed(&list, "app.example.com"));
        assert!(host_allowed(&list, "a.clients.example.org"));
        assert!(host_allowed(&list, "a.b.clients.example.org"));
        assert!(!host_allowed(&list, "clients.example.org"));
        assert!(!host_allowed(&list, "evilclients.example.org"));
        assert!(!host_allowed(&list, "app.example.com.evil.test"));
        assert!(!host_allowed(&list, "other.example.com"));
    }

    #[test]
    fn quotas_hold_per_host_and_per_requester() {
        let in_flight = InFlight::default();
        let mine: Vec<_> = (0..FETCHES_PER_REQUESTER)
            .map(|n| in_flight.take(&format!("host-{n}:443"), "10.0.0.1"))
            .collect();
        assert!(mine.iter().all(Option::is_some));
        assert!(
            in_flight.take("host-x:443", "10.0.0.1").is_none(),
            "requester full"
        );
        let others: Vec<_> = (0..FETCHES_PER_HOST)
            .map(|n| in_flight.take("slow:443", &format!("10.0.1.{n}")))
            .collect();
        assert!(others.iter().all(Option::is_some));
        assert!(
            in_flight.take("slow:443", "10.0.2.1").is_none(),
            "host full"
        );
        assert!(
            in_flight.take("fast:443", "10.0.2.1").is_some(),
            "others go on"
        );
        drop(mine);
        assert!(
            in_flight.take("host-x:443", "10.0.0.1").is_some(),
            "slots come back"
        );
    }

    #[test]
    fn only_application_json_is_a_document() {
        assert!(is_json("application/json"));
        assert!(is_json("Application/JSON; charset=utf-8"));
        assert!(!is_json("text/html"));
        assert!(!is_json("application/jsonx"));
        assert!(!is_json(""));
    }
}
