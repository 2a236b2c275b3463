//! Reading what a request still had to send after it was answered early.
//!
//! Many answers come before the body is read: the guard's 401 (nothing is read before the
//! token), a rate limit's 429, a 413. If the server then closes the connection while request bytes
//! are still arriving or unread, the kernel answers them with a reset, and a reset can destroy
//! the response the client has not read yet: the client sees "connection reset" instead of the
//! 401 that would have told it to authenticate ([RFC 9112 §9.6]; hyperium/hyper#3078). And a
//! kept-alive connection would otherwise go on to read the body as the next request.
//!
//! So a request's body is wrapped: if whoever handled the request drops it unread, the rest is
//! read and thrown away in the background, at most [`MAX_DRAIN_BYTES`] within
//! [`MAX_DRAIN_TIME`]. The connection then stays usable and the answer arrives whole. A body
//! beyond those bounds is abandoned and the connection closed: nothing taken from a request is
//! read without limit.
//!
//! [RFC 9112 §9.6]: https://www.rfc-editor.org/rfc/rfc9112#section-9.6

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use http_body_util::BodyExt;
use tokio::sync::Notify;

/// The most bytes read from a body nobody wanted.
pub(crate) const MAX_DRAIN_BYTES: usize = 1024 * 1024;
/// The longest a client has to send the rest of a body nobody wanted.
pub(crate) const MAX_DRAIN_TIME: Duration = Duration::from_secs(10);

/// A request body that drains itself when dropped unread, unless the answer closes the
/// connection anyway (`abandon`).
struct DrainOnDrop {
    inner: Option<Body>,
    abandon: Arc<Notify>,
}

impl HttpBody for DrainOnDrop {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        match self.inner.as_mut() {
            Some(inner) => Pin::new(inner).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        self.inner
            .as_ref()
            .map_or_else(|| SizeHint::with_exact(0), HttpBody::size_hint)
    }
}

impl Drop for DrainOnDrop {
    fn drop(&mut self) {
        let Some(body) = self.inner.take() else {
            return;
        };
        if body.is_end_stream() {
            return;
        }
        // Outside a runtime (a test dropping a request by hand) there is no connection to save.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(drain(body, Arc::clone(&self.abandon)));
        }
    }
}

/// Reads `body` to its end, within the bounds, unless told to abandon it; dropping it early
/// closes the connection.
async fn drain(mut body: Body, abandon: Arc<Notify>) {
    let read = async {
        let mut total = 0usize;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return };
            if let Some(data) = frame.data_ref() {
                total = total.saturating_add(data.len());
                if total > MAX_DRAIN_BYTES {
                    return;
                }
            }
        }
    };
    tokio::select! {
        _ = tokio::time::timeout(MAX_DRAIN_TIME, read) => {}
        () = abandon.notified() => {}
    }
}

/// Wraps the request's body so that it is drained if dropped unread; notifying the returned
/// handle abandons that.
pub(crate) fn wrap(request: Request) -> (Request, Arc<Notify>) {
    let abandon = Arc::new(Notify::new());
    let request = request.map(|body| {
        if body.is_end_stream() {
            body
        } else {
            Body::new(DrainOnDrop {
                inner: Some(body),
                abandon: Arc::clone(&abandon),
            })
        }
    });
    (request, abandon)
}

/// The middleware: every request's body is wrapped; an answer that closes the connection
/// (`Connection: close`, as the request deadline's 408 does) abandons the draining.
pub(crate) async fn middleware(
    request: Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let (request, abandon) = wrap(request);
    let response = next.run(request).await;
    let closes = response
        .headers()
        .get(axum::http::header::CONNECTION)
        .is_some_and(|value| value.as_bytes().eq_ignore_ascii_case(b"close"));
    if closes {
        // `notify_one` keeps the permit for a drain that starts later.
        abandon.notify_one();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A body fed by the returned sender, one frame of buffer: a send waits until the body is
    /// read.
    fn streamed() -> (
        tokio::sync::mpsc::Sender<Result<Frame<Bytes>, axum::Error>>,
        Body,
    ) {
        let (sender, mut receiver) = tokio::sync::mpsc::channel(1);
        let stream = futures_util::stream::poll_fn(move |cx| receiver.poll_recv(cx));
        (sender, Body::new(http_body_util::StreamBody::new(stream)))
    }

    #[tokio::test]
    async fn rfc9112_section_9_6_an_unread_body_is_read_to_its_end_after_the_drop() {
        let (sender, body) = streamed();
        drop(wrap(Request::new(body)).0);
        for _ in 0..8 {
            tokio::time::timeout(
                Duration::from_secs(5),
                sender.send(Ok(Frame::data(Bytes::from_static(b"late body")))),
            )
            .await
            .expect("the dropped body is still being read")
            .unwrap();
        }
    }

    #[tokio::test]
    async fn draining_stops_at_its_bound() {
        let (sender, body) = streamed();
        drop(wrap(Request::new(body)).0);
        let chunk = Bytes::from(vec![0u8; 64 * 1024]);
        let mut sent = 0;
        while sender.send(Ok(Frame::data(chunk.clone()))).await.is_ok() {
            sent += chunk.len();
            assert!(
                sent <= MAX_DRAIN_BYTES + 2 * chunk.len(),
                "read past the bound"
            );
        }
    }
}
