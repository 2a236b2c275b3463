//! The server driven in process: each request goes through `Gatehouse::router` with
//! `tower::ServiceExt::oneshot`, axum's documented way to test a router. No socket and no port:
//! for tests of what the endpoints answer. What only a served connection shows (timeouts,
//! connection caps, a client on the wire) is tested over [`super::start`].
//!
//! Requests are built as the protocol step they are (`app.get(..)`, `app.post(..).form(..)`,
//! `.client(&client)`, `.cookie(..)`), awaited, and answer a [`Reply`]: status, headers, body.
//! The steps every flow repeats are one method each: [`App::register`], [`App::code`] (the
//! authorization request with PKCE, auto-approved), [`App::redeem`], [`App::refresh`],
//! [`App::tokens`], the pages' [`App::sign_in`] and [`App::consent`], and [`Reply::error`].

use std::future::{Future, IntoFuture};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::pin::Pin;

use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::header::{AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, COOKIE, HOST, LOCATION};
use axum::http::{HeaderMap, HeaderName, Method, Request, StatusCode, request};
use axum::{Extension, Router};
use base64ct::Encoding;
use gatehouse_axum::{Config, Extensions, Gatehouse, LoginMode};
use serde_json::{Value, json};
use tower::ServiceExt;

use super::{CHALLENGE, FORM, REDIRECT, VERIFIER, encode, query};

/// The address the configuration names (the issuer's origin); nothing listens on it.
const LISTEN: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8080);

/// Where every request comes from, as a served connection reports it: rate limits and the
/// requester key on its address.
pub const PEER: SocketAddr = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 50_000);

/// A server under test, with the router its requests go through.
pub struct App {
    pub gatehouse: Gatehouse,
    /// `http://127.0.0.1:8080` and the issuer's path.
    pub issuer: String,
    router: Router,
}

/// A registered client, and how it authenticates.
#[derive(Clone, Debug)]
pub struct Client {
    pub id: String,
    /// `None` for a public client.
    pub secret: Option<String>,
    /// The registration response (RFC 7591 §3.2.1).
    pub registration: Value,
}

impl Client {
    /// The same client presenting `secret` instead of its own.
    pub fn with_secret(&self, secret: &str) -> Self {
        Self {
            secret: Some(secret.to_owned()),
            ..self.clone()
        }
    }
}

impl App {
    /// The `--demo` configuration, auto-approving for `alice`, its issuer at the origin.
    pub async fn auto_approve() -> Self {
        Self::new(LoginMode::AutoApprove, "", |_| {}).await
    }

    /// The `--demo` configuration signing in with `mode`, its issuer at `path` (`""` for the
    /// origin), rate limits as configured by default, changed by `edit`.
    pub async fn new(mode: LoginMode, path: &str, edit: impl FnOnce(&mut Config)) -> Self {
        Self::with_extensions(mode, path, edit, Extensions::default()).await
    }

    /// [`App::new`] with `extensions` (hooks, an authenticator).
    pub async fn with_extensions(
        mode: LoginMode,
        path: &str,
        edit: impl FnOnce(&mut Config),
        extensions: Extensions,
    ) -> Self {
        let mut config = super::config(LISTEN);
        config.issuer = format!("http://{LISTEN}{path}");
        config.login.mode = mode;
        edit(&mut config);
        let issuer = config.issuer.clone();
        let gatehouse = super::build_with(config, extensions).await.unwrap();
        // The peer's address, as `gatehouse_axum::serve` inserts it into every request. Not
        // `MockConnectInfo`: that serves only the `ConnectInfo` extractor, and the rate limits
        // read the `ConnectInfo<SocketAddr>` extension itself (`limits::peer`).
        let router = gatehouse.router().layer(Extension(ConnectInfo(PEER)));
        Self {
            gatehouse,
            issuer,
            router,
        }
    }

    /// The `--demo` configuration auto-approving for `alice` on `store`, sealed with the
    /// encryption key `key` (instances sharing a database share it too).
    pub async fn on_store(store: gatehouse_store::AnyStore, key: [u8; 32]) -> Self {
        Self::on_store_with(store, key, |_| {}).await
    }

    /// [`App::on_store`] with the configuration changed by `edit`.
    pub async fn on_store_with(
        store: gatehouse_store::AnyStore,
        key: [u8; 32],
        edit: impl FnOnce(&mut Config),
    ) -> Self {
        let mut config = super::config(LISTEN);
        config.issuer = format!("http://{LISTEN}");
        edit(&mut config);
        let issuer = config.issuer.clone();
        let gatehouse = Gatehouse::with_store(
            config,
            store,
            gatehouse_store::sealing::EncryptionKey::from_bytes(key),
            Extensions::default(),
        )
        .await
        .unwrap();
        let router = gatehouse.router().layer(Extension(ConnectInfo(PEER)));
        Self {
            gatehouse,
            issuer,
            router,
        }
    }

    /// Two instances sharing one PostgreSQL schema of their own (and one encryption key), each
    /// with its configuration changed by `edit`, as behind a load balancer; `None` unless
    /// `GATEHOUSE_TEST_POSTGRES` is set. Dropping the schema drops the tables.
    pub async fn two_on_postgres(edit: impl Fn(&mut Config)) -> Option<(Self, Self, Schema)> {
        let base = std::env::var("GATEHOUSE_TEST_POSTGRES")
            .ok()
            .filter(|url| !url.is_empty())?;
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let schema = Schema {
            name: format!("gatehouse_two_{}_{nanos}", std::process::id()),
            base,
        };
        let created = std::process::Command::new("psql")
            .arg(&schema.base)
            .args(["-qc", &format!("CREATE SCHEMA {}", schema.name)])
            .status()
            .unwrap();
        assert!(
            created.success(),
            "GATEHOUSE_TEST_POSTGRES is set but psql failed"
        );
        let base = &schema.base;
        let separator = if base.contains('?') { '&' } else { '?' };
        let url = format!(
            "{base}{separator}options=-c%20search_path%3D{}",
            schema.name
        );
        let key = [42u8; 32];
        let open = || async {
            gatehouse_store::open(&gatehouse_store::DatabaseUrl::Postgres(url.clone()))
                .await
                .unwrap()
        };
        let first = Self::on_store_with(open().await, key, &edit).await;
        let second = Self::on_store_with(open().await, key, &edit).await;
        Some((first, second, schema))
    }

    /// An endpoint's URL: the issuer and `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.issuer)
    }

    pub fn get(&self, target: &str) -> Call<'_> {
        self.request(Method::GET, target)
    }

    pub fn post(&self, target: &str) -> Call<'_> {
        self.request(Method::POST, target)
    }

    /// A request for `target`: a URL on the issuer's origin, or a path from that origin.
    pub fn request(&self, method: Method, target: &str) -> Call<'_> {
        let origin = format!("http://{LISTEN}");
        let path = target.strip_prefix(origin.as_str()).unwrap_or(target);
        Call {
            app: self,
            request: Request::builder()
                .method(method)
                .uri(path)
                .header(HOST, LISTEN.to_string()),
            form: None,
            body: Body::empty(),
        }
    }

    /// Registers a client (RFC 7591 §3.2.1: 201, not cached) and returns the response.
    pub async fn register(&self, metadata: &Value) -> Value {
        let reply = self.post(&self.url("/register")).json(metadata).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text());
        assert_eq!(reply.headers[CACHE_CONTROL], "no-store");
        reply.json()
    }

    /// A public client named `Public` (`token_endpoint_auth_method` `none`).
    pub async fn public_client(&self) -> Client {
        self.registered("none", "Public").await
    }

    /// A confidential client named `Confidential` (`client_secret_basic`).
    pub async fn confidential_client(&self) -> Client {
        self.registered("client_secret_basic", "Confidential").await
    }

    async fn registered(&self, auth_method: &str, name: &str) -> Client {
        let registration = self
            .register(&json!({
                "redirect_uris": [REDIRECT], "token_endpoint_auth_method": auth_method,
                "grant_types": ["authorization_code", "refresh_token"], "client_name": name
            }))
            .await;
        Client {
            id: registration["client_id"].as_str().unwrap().to_owned(),
            secret: registration["client_secret"].as_str().map(str::to_owned),
            registration,
        }
    }

    /// The authorization request of `client_id` as a URL: code flow, PKCE S256, state `s1`,
    /// scope `mcp:tools`.
    pub fn authorize_url(&self, client_id: &str) -> String {
        format!(
            "{}?response_type=code&client_id={client_id}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256&state=s1&scope=mcp:tools",
            self.url("/authorize"),
            encode(REDIRECT)
        )
    }

    /// Auto-approve: the code from the redirect, which carries the state and the issuer
    /// (RFC 9207).
    pub async fn code(&self, client_id: &str) -> String {
        let reply = self.get(&self.authorize_url(client_id)).await;
        assert_eq!(reply.status, StatusCode::SEE_OTHER, "{}", reply.text());
        let location = reply.location();
        let params = query(location);
        assert!(location.starts_with(REDIRECT));
        assert_eq!(params["state"], "s1");
        assert_eq!(params["iss"], self.issuer, "RFC 9207 iss");
        params["code"].clone()
    }

    /// A token request of `client` (authenticated as [`Call::client`] does).
    pub async fn token(&self, client: &Client, pairs: &[(&str, &str)]) -> Reply {
        self.post(&self.url("/token"))
            .form(pairs)
            .client(client)
            .await
    }

    /// `code` redeemed by `client` with the PKCE verifier (OAuth 2.1 §4.1.3).
    pub async fn redeem(&self, client: &Client, code: &str) -> Reply {
        let grant = [
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT),
            ("code_verifier", VERIFIER),
        ];
        self.token(client, &grant).await
    }

    /// `refresh_token` used by `client` (OAuth 2.1 §4.3).
    pub async fn refresh(&self, client: &Client, refresh_token: &str) -> Reply {
        let grant = [
            ("grant_type", "refresh_token"),
            ("refresh_token", refresh_token),
        ];
        self.token(client, &grant).await
    }

    /// Tokens for `client` by the whole flow: the authorization (auto-approved), then the code
    /// redeemed (200).
    pub async fn tokens(&self, client: &Client) -> Value {
        let code = self.code(&client.id).await;
        let reply = self.redeem(client, &code).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text());
        reply.json()
    }

    /// Submits a page form with `cookies`: the authorization request of `client_id` plus
    /// `fields`.
    pub async fn submit_page(
        &self,
        client_id: &str,
        fields: &[(&str, &str)],
        cookies: &str,
    ) -> Reply {
        let request = query(&self.authorize_url(client_id));
        let mut pairs: Vec<(&str, &str)> = request
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        pairs.extend_from_slice(fields);
        self.post(&self.url("/authorize"))
            .cookie(cookies)
            .form(&pairs)
            .await
    }

    /// The sign-in form submitted for `alice` with `password`, the page's `csrf` token and the
    /// browser's `cookie`.
    pub async fn sign_in(
        &self,
        client_id: &str,
        cookie: &str,
        csrf: &str,
        password: &str,
    ) -> Reply {
        let fields = [
            ("gatehouse_action", "sign_in"),
            ("csrf", csrf),
            ("username", "alice"),
            ("password", password),
        ];
        self.submit_page(client_id, &fields, cookie).await
    }

    /// The consent form submitted: `action` is `approve` or `deny`.
    pub async fn consent(&self, client_id: &str, action: &str, csrf: &str, cookies: &str) -> Reply {
        let fields = [("gatehouse_action", action), ("csrf", csrf)];
        self.submit_page(client_id, &fields, cookies).await
    }

    /// Signs `alice` (password `correct horse`) in through the pages and returns the session
    /// cookie and the CSRF token of the consent page.
    pub async fn signed_in(&self, client_id: &str) -> (String, String) {
        let first = self.get(&self.authorize_url(client_id)).await;
        let browser_cookie = first.session_cookie();
        let csrf = super::form_token(&first.text());
        let reply = self
            .sign_in(client_id, &browser_cookie, &csrf, "correct horse")
            .await;
        assert_eq!(reply.status, StatusCode::OK);
        (reply.session_cookie(), super::form_token(&reply.text()))
    }
}

/// A request being built; `.await` sends it.
#[must_use = "a request does nothing until awaited"]
pub struct Call<'a> {
    app: &'a App,
    request: request::Builder,
    form: Option<Vec<(String, String)>>,
    body: Body,
}

/// A PostgreSQL schema made for one test ([`App::two_on_postgres`]), dropped with it.
pub struct Schema {
    name: String,
    base: String,
}

impl Drop for Schema {
    fn drop(&mut self) {
        let _ = std::process::Command::new("psql")
            .arg(&self.base)
            .args(["-qc", &format!("DROP SCHEMA {} CASCADE", self.name)])
            .status();
    }
}

impl<'a> Call<'a> {
    pub fn header<K>(mut self, name: K, value: &str) -> Self
    where
        HeaderName: TryFrom<K>,
        <HeaderName as TryFrom<K>>::Error: Into<axum::http::Error>,
    {
        self.request = self.request.header(name, value);
        self
    }

    pub fn cookie(self, cookies: &str) -> Self {
        self.header(COOKIE, cookies)
    }

    /// `Authorization: Bearer` (RFC 6750 §2.1).
    pub fn bearer(self, token: &str) -> Self {
        self.header(AUTHORIZATION, &format!("Bearer {token}"))
    }

    /// `Authorization: Basic`, each part form-encoded first (RFC 6749 §2.3.1).
    pub fn basic(self, user: &str, secret: &str) -> Self {
        let pair = format!("{}:{}", encode(user), encode(secret));
        let credentials = base64ct::Base64::encode_string(pair.as_bytes());
        self.header(AUTHORIZATION, &format!("Basic {credentials}"))
    }

    /// Authenticates as `client`: HTTP Basic with its secret, or for a public client its
    /// `client_id` in the form.
    pub fn client(mut self, client: &Client) -> Self {
        match &client.secret {
            Some(secret) => self.basic(&client.id, secret),
            None => {
                let form = self.form.get_or_insert_with(Vec::new);
                form.push(("client_id".to_owned(), client.id.clone()));
                self
            }
        }
    }

    /// Fields of an `application/x-www-form-urlencoded` body, after those already given.
    pub fn form(mut self, pairs: &[(&str, &str)]) -> Self {
        let form = self.form.get_or_insert_with(Vec::new);
        form.extend(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        self
    }

    /// A JSON body.
    pub fn json(self, value: &Value) -> Self {
        self.body("application/json", value.to_string())
    }

    /// A body of `content_type`.
    pub fn body(mut self, content_type: &str, body: impl Into<Body>) -> Self {
        self.body = body.into();
        self.header(CONTENT_TYPE, content_type)
    }

    pub async fn send(self) -> Reply {
        let Call {
            app,
            mut request,
            form,
            body,
        } = self;
        let body = match form {
            Some(pairs) => {
                request = request.header(CONTENT_TYPE, FORM);
                let pairs: Vec<(&str, &str)> = pairs
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str()))
                    .collect();
                Body::from(super::form(&pairs))
            }
            None => body,
        };
        let response = app
            .router
            .clone()
            .oneshot(request.body(body).unwrap())
            .await
            .unwrap();
        let (parts, body) = response.into_parts();
        Reply {
            status: parts.status,
            headers: parts.headers,
            body: axum::body::to_bytes(body, usize::MAX).await.unwrap(),
        }
    }
}

impl<'a> IntoFuture for Call<'a> {
    type Output = Reply;
    type IntoFuture = Pin<Box<dyn Future<Output = Reply> + Send + 'a>>;

    fn into_future(self) -> Self::IntoFuture {
        Box::pin(self.send())
    }
}

/// An answer: status, headers and the whole body.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|error| panic!("{error}: {} {}", self.status, self.text()))
    }

    /// The `Location` header.
    pub fn location(&self) -> &str {
        self.headers[LOCATION].to_str().unwrap()
    }

    /// The session cookie it sets, as `name=value`.
    pub fn session_cookie(&self) -> String {
        super::session_cookie(&self.headers)
    }

    /// An OAuth error response (RFC 6749 §5.2): `status`, not cached, `error` = `code` with a
    /// description. Returns the body.
    pub fn error(&self, status: StatusCode, code: &str) -> Value {
        assert_eq!(self.status, status, "{}", self.text());
        assert_eq!(self.headers[CACHE_CONTROL], "no-store");
        let body = self.json();
        assert_eq!(body["error"], code, "{body}");
        assert!(
            body["error_description"]
                .as_str()
                .is_some_and(|d| !d.is_empty())
        );
        body
    }
}
