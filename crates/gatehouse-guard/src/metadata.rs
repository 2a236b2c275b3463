//! Serving the protected resource metadata document
//! ([RFC 9728 §3](https://www.rfc-editor.org/rfc/rfc9728#section-3)) at its path-inserted
//! well-known URL, which every challenge names in `resource_metadata`.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use axum::routing::get;
use bytes::Bytes;

use crate::{Cors, Guard};

impl Guard {
    /// A router serving the metadata document at [`metadata_path`](Self::metadata_path)
    /// (e.g. `/.well-known/oauth-protected-resource/mcp` for `https://host/mcp`), with CORS
    /// so that browser clients can read it. Merge it into the application's router, outside
    /// the guard: the document must be readable without a token.
    ///
    /// Only the path-inserted URL is served, not the root
    /// `/.well-known/oauth-protected-resource`: an application may protect several resources,
    /// and the root would be ambiguous among them. Challenges name the document's URL, so MCP
    /// clients never need the root.
    pub fn metadata_router<S: Clone + Send + Sync + 'static>(&self) -> Router<S> {
        let json = self.shared.metadata_json.clone();
        let cors = self.shared.cors.clone();
        let options_cors = cors.clone();
        Router::new().route(
            &self.shared.metadata_path,
            get(move |headers: HeaderMap| async move { document(&json, &cors, &headers) }).options(
                move |headers: HeaderMap| async move {
                    options_cors
                        .preflight(&Method::OPTIONS, &headers)
                        .unwrap_or_else(|| status(StatusCode::NO_CONTENT))
                },
            ),
        )
    }
}

fn status(status: StatusCode) -> Response {
    let mut response = Response::new(Body::empty());
    *response.status_mut() = status;
    response
}

fn document(json: &Bytes, cors: &Cors, headers: &HeaderMap) -> Response {
    let mut response = Response::new(Body::from(json.clone()));
    let out = response.headers_mut();
    // RFC 9728 §3.2: "The response is a set of metadata parameters … using the
    // application/json content type".
    out.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    out.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    cors.apply(headers.get(header::ORIGIN), &mut response);
    response
}
