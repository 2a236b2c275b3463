//! Serving the router on a listener, with the bounds a server on the network needs
//! ([CWE-400](https://cwe.mitre.org/data/definitions/400.html)): a client that sends its request
//! head one byte at a time, keeps a connection idle, or opens connections without end cannot
//! hold the server's connections for as long as it likes.
//!
//! - `[http] header_timeout_secs`: a request head must arrive whole within this, counted from
//!   when the connection is ready for one: opened, or done with the previous exchange. So it is
//!   also how long a kept-alive connection waits for its next request.
//! - `[http] idle_timeout_secs`: a connection on which no byte moves either way for this long
//!   is closed, even in the middle of an exchange (a client that stops reading its answer, or
//!   stops sending its body). Long-lived event streams stay open as long as something flows; MCP
//!   servers send keep-alive comments for that.
//! - `[http] max_connections`: connections open at once; beyond, new ones wait in the listen
//!   queue until one closes.
//! - `[http] max_connections_per_address`: connections one address (an IPv6 /64) may hold; a
//!   connection beyond is closed at once, so one client cannot take every slot.
//! - A request head may be at most [`MAX_HEAD_BYTES`]: a thousand slow connections hold at most
//!   that much memory each.
//!
//! Every accepted socket gets `TCP_NODELAY`: MCP answers are small Server-Sent Events written in
//! several pieces, and Nagle's algorithm with the client's delayed ACK held each for 40 ms.

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tower::ServiceExt;

use crate::config::Http;

/// How long connections may take to finish their exchanges once shutdown begins.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// The read buffer of a connection, and so the largest request head (hyper answers `431` past
/// it): MCP and OAuth requests carry a token and a few headers, not hyper's default of ~400 KiB.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// Connections per address, with IPv6 grouped by /64 (one host usually holds a whole /64).
#[derive(Default)]
struct PerAddress(std::sync::Mutex<std::collections::HashMap<std::net::IpAddr, usize>>);

impl PerAddress {
    fn key(address: std::net::IpAddr) -> std::net::IpAddr {
        match address {
            std::net::IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => std::net::IpAddr::V4(v4),
                None => {
                    let s = v6.segments();
                    std::net::IpAddr::V6(std::net::Ipv6Addr::new(
                        s[0], s[1], s[2], s[3], 0, 0, 0, 0,
                    ))
                }
            },
            v4 => v4,
        }
    }

    /// A place for one more connection from `address`, if it has room.
    fn take(self: &Arc<Self>, address: std::net::IpAddr, max: usize) -> Option<AddressSlot> {
        let key = Self::key(address);
        let mut counts = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = counts.entry(key).or_default();
        if *count >= max {
            return None;
        }
        *count += 1;
        Some(AddressSlot {
            counts: Arc::clone(self),
            key,
        })
    }
}

/// One connection's place in its address's count, given back on drop.
struct AddressSlot {
    counts: Arc<PerAddress>,
    key: std::net::IpAddr,
}

impl Drop for AddressSlot {
    fn drop(&mut self) {
        let mut counts = self.counts.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = counts.get_mut(&self.key) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// Serves `router` on `listener` with the bounds of `http` until `shutdown` completes; then
/// stops accepting, lets exchanges in flight finish (at most ten seconds), and returns.
/// Requests carry the peer's address as `ConnectInfo<SocketAddr>`, as rate limits need.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    http: &Http,
    shutdown: impl Future<Output = ()> + Send,
) -> std::io::Result<()> {
    let slots = Arc::new(tokio::sync::Semaphore::new(http.max_connections));
    let per_address = Arc::new(PerAddress::default());
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let header_timeout = Duration::from_secs(http.header_timeout_secs);
    let idle_timeout = Duration::from_secs(http.idle_timeout_secs);
    tokio::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, or a connection reset before it was accepted:
                    // wait a little rather than spin, and go on.
                    tracing::warn!(%error, "accepting a connection failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Some(address_slot) = per_address.take(peer.ip(), http.max_connections_per_address)
        else {
            tracing::debug!(%peer, "too many connections from one address; closed");
            continue;
        };
        if let Err(error) = stream.set_nodelay(true) {
            tracing::debug!(%error, "TCP_NODELAY");
        }
        let service = router.clone().map_request(
            move |request: axum::http::Request<hyper::body::Incoming>| {
                let mut request = request.map(Body::new);
                request.extensions_mut().insert(ConnectInfo(peer));
                request
            },
        );
        let stopping = stopping.clone();
        tokio::spawn(async move {
            connection(
                stream,
                peer,
                service,
                header_timeout,
                idle_timeout,
                stopping,
            )
            .await;
            drop((slot, address_slot));
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a slot until it is done.
    let all = u32::try_from(http.max_connections).unwrap_or(u32::MAX);
    if tokio::time::timeout(SHUTDOWN_GRACE, slots.acquire_many(all))
        .await
        .is_err()
    {
        tracing::warn!("some connections were still busy when the shutdown grace ended");
    }
    Ok(())
}

/// Serves one connection until it closes, times out or the server stops.
async fn connection<S>(
    stream: TcpStream,
    peer: SocketAddr,
    service: S,
    header_timeout: Duration,
    idle_timeout: Duration,
    mut stopping: tokio::sync::watch::Receiver<bool>,
) where
    S: tower::Service<
            axum::http::Request<hyper::body::Incoming>,
            Response = axum::response::Response,
            Error = std::convert::Infallible,
        > + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
{
    let started = Instant::now();
    let activity = Arc::new(AtomicU64::new(0));
    let io = TokioIo::new(Tracked {
        stream,
        started,
        activity: Arc::clone(&activity),
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_timeout)
        .max_buf_size(MAX_HEAD_BYTES)
        .max_header_size(MAX_HEAD_BYTES)
        .keep_alive(true);
    let conn = builder.serve_connection(io, TowerToHyperService::new(service));
    tokio::pin!(conn);
    let mut check = tokio::time::interval(
        idle_timeout
            .min(Duration::from_secs(1))
            .max(Duration::from_millis(100)),
    );
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut closing = false;
    loop {
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%peer, %error, "connection ended");
                }
                return;
            }
            _ = check.tick() => {
                let last = Duration::from_millis(activity.load(Ordering::Relaxed));
                if started.elapsed().saturating_sub(last) >= idle_timeout {
                    tracing::debug!(%peer, "idle connection closed");
                    return;
                }
            }
            changed = stopping.changed(), if !closing => {
                if changed.is_err() || *stopping.borrow() {
                    closing = true;
                    conn.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

/// A socket that notes when bytes last moved.
struct Tracked {
    stream: TcpStream,
    started: Instant,
    /// Milliseconds from `started` to the last read or write that moved bytes.
    activity: Arc<AtomicU64>,
}

impl Tracked {
    fn touch(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.activity.store(now, Ordering::Relaxed);
    }
}

impl AsyncRead for Tracked {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.touch();
        }
        polled
    }
}

impl AsyncWrite for Tracked {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write(cx, data);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        if matches!(polled, Poll::Ready(Ok(n)) if n > 0) {
            self.touch();
        }
        polled
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// Answers `408 Request Timeout` (and closes the connection) when the request, body included,
/// is not answered within `deadline`: a client sending its body one byte at a time cannot hold
/// a request open (`[http] request_timeout_secs`).
pub(crate) async fn request_deadline(
    axum::extract::State(deadline): axum::extract::State<Duration>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    match tokio::time::timeout(deadline, next.run(request)).await {
        Ok(response) => response,
        Err(_) => {
            let mut response = crate::respond::oauth_error(
                &crate::respond::HttpError::new(
                    gatehouse_types::ErrorCode::InvalidRequest,
                    format!(
                        "the request was not complete within {} seconds",
                        deadline.as_secs()
                    ),
                ),
                None,
            );
            *response.status_mut() = axum::http::StatusCode::REQUEST_TIMEOUT;
            response.headers_mut().insert(
                axum::http::header::CONNECTION,
                axum::http::HeaderValue::from_static("close"),
            );
            response
        }
    }
}
