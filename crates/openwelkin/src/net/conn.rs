//! The limits on each connection that `serve` accepts (`cli/serve.rs` runs the accept
//! loop and the cap on concurrent connections):
//!
//! * **header timeout**: once the first byte of a request head has arrived, the whole
//!   head must arrive within it (a head sent a byte a second is dropped); a new
//!   connection's first head counts from the connection (as Go's `ReadHeaderTimeout`), so
//!   connections that never send anything are dropped as soon;
//! * **idle timeout**: a connection with no request in flight and nothing received for
//!   this long is closed, and so is one whose client stopped reading a response for this
//!   long;
//! * **body timeout**: a request body must arrive whole within it, counted from the
//!   request head; a late one is answered `408 REQUEST_TIMEOUT` and the connection closed.
//!
//! Each connection has an [`Activity`], updated by its I/O ([`Watched`]) and its requests
//! ([`service`]), that a watchdog in the connection's task reads ([`Activity::verdict`]).
//! A connection that breaks a limit is dropped, which closes its socket.

use axum::body::Body;
use axum::http::{header, HeaderValue, Request, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// The timeouts of `serve` (`--header-timeout-ms`, `--idle-timeout-ms`, `--body-timeout-ms`).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub body_timeout: Duration,
}

impl Limits {
    /// How often a connection's watchdog looks: a quarter of the shorter of the header and
    /// idle timeouts, between 50 ms and one second, so a limit is enforced at most that late.
    pub fn tick(&self) -> Duration {
        (self.header_timeout.min(self.idle_timeout) / 4).clamp(Duration::from_millis(50), Duration::from_secs(1))
    }
}

/// "Not now" for the times below.
const NONE: u64 = u64::MAX;

/// What is known of one connection. Times are milliseconds since the connection began.
pub struct Activity {
    start: Instant,
    /// Requests whose response is not yet sent in full (HTTP/2 may have several).
    in_flight: AtomicUsize,
    /// Since when no request has been in flight.
    idle_since: AtomicU64,
    /// When the first byte arrived while no request was in flight: a head has begun. For a
    /// new connection, its start.
    head_started: AtomicU64,
    /// Since when a write has been waiting for the client to read.
    write_blocked: AtomicU64,
}

impl Activity {
    pub fn new() -> Arc<Self> {
        Arc::new(Activity {
            start: Instant::now(),
            in_flight: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
            head_started: AtomicU64::new(0),
            write_blocked: AtomicU64::new(NONE),
        })
    }

    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn received(&self) {
        if self.in_flight.load(Ordering::Relaxed) == 0 && self.head_started.load(Ordering::Relaxed) == NONE {
            let _ = self.head_started.compare_exchange(NONE, self.now(), Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    fn write_waits(&self) {
        if self.write_blocked.load(Ordering::Relaxed) == NONE {
            self.write_blocked.store(self.now(), Ordering::Relaxed);
        }
    }

    fn write_goes_on(&self) {
        if self.write_blocked.load(Ordering::Relaxed) != NONE {
            self.write_blocked.store(NONE, Ordering::Relaxed);
        }
    }

    /// A request head has arrived; the returned guard ends the request when dropped (with
    /// the response body, once sent).
    fn begin(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::Relaxed);
        self.head_started.store(NONE, Ordering::Relaxed);
        InFlight(self.clone())
    }

    /// Why the connection must be closed now, if it must.
    pub fn verdict(&self, limits: &Limits) -> Option<&'static str> {
        let now = self.now();
        let past = |since: u64, limit: Duration| since != NONE && now.saturating_sub(since) >= limit.as_millis() as u64;
        if past(self.write_blocked.load(Ordering::Relaxed), limits.idle_timeout) {
            return Some("the client stopped reading its response");
        }
        if self.in_flight.load(Ordering::Relaxed) > 0 {
            return None;
        }
        match self.head_started.load(Ordering::Relaxed) {
            NONE if past(self.idle_since.load(Ordering::Relaxed), limits.idle_timeout) => Some("idle"),
            NONE => None,
            started if past(started, limits.header_timeout) => Some("the request head did not arrive in time"),
            _ => None,
        }
    }
}

/// One request of a connection, until its response is sent.
pub struct InFlight(Arc<Activity>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::Relaxed) == 1 {
            self.0.idle_since.store(self.0.now(), Ordering::Relaxed);
        }
    }
}

/// A connection's I/O (TCP, or TLS over TCP), reporting to its [`Activity`].
pub struct Watched<T> {
    io: T,
    activity: Arc<Activity>,
}

impl<T> Watched<T> {
    pub fn new(io: T, activity: Arc<Activity>) -> Self {
        Watched { io, activity }
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.io).poll_read(cx, buf);
        if matches!(polled, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.activity.received();
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> Watched<T> {
    fn watch<R>(&self, polled: Poll<R>) -> Poll<R> {
        match polled {
            Poll::Pending => self.activity.write_waits(),
            Poll::Ready(_) => self.activity.write_goes_on(),
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write(cx, buf);
        self.watch(polled)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        let polled = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.watch(polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        let polled = Pin::new(&mut self.io).poll_flush(cx);
        self.watch(polled)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }
}

/// The error a request body gives when its time is up.
#[derive(Debug)]
struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the request body did not arrive in time")
    }
}

impl std::error::Error for BodyTimedOut {}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A request body that fails once its deadline has passed (and says so in `timed_out`).
/// The timer is made only if the body is still incomplete when read.
struct DeadlineBody<B> {
    inner: B,
    deadline: Instant,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    timed_out: Arc<AtomicBool>,
}

impl<B> http_body::Body for DeadlineBody<B>
where
    B: http_body::Body<Data = Bytes> + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let deadline = this.deadline;
        let sleep = this.sleep.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
        if sleep.as_mut().poll(cx).is_ready() {
            this.timed_out.store(true, Ordering::Relaxed);
            return Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A response body that holds its request's [`InFlight`] until it is sent (dropped).
struct Tracked {
    inner: Body,
    _request: InFlight,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The answer to a request whose body came too late.
fn body_timeout_response(limit: Duration) -> Response {
    let ms = limit.as_millis() as u64;
    let mut response = crate::api::error::ApiError::new(
        StatusCode::REQUEST_TIMEOUT,
        "REQUEST_TIMEOUT",
        "REQUEST",
        format!("The request body did not arrive within {ms} ms"),
        serde_json::json!({"limitMs": ms}),
    )
    .into_response();
    crate::api::headers::apply(response.headers_mut());
    response.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// The router as one connection's service: each request is counted in flight until its
/// response is sent, and its body has the body timeout.
pub fn service<B>(
    app: axum::Router,
    activity: Arc<Activity>,
    limits: Limits,
) -> impl tower::Service<
    Request<B>,
    Response = Response,
    Error = Infallible,
    Future = impl Future<Output = Result<Response, Infallible>> + Send,
> + Clone
       + Send
where
    B: http_body::Body<Data = Bytes> + Unpin + Send + 'static,
    B::Error: Into<BoxError>,
{
    tower::service_fn(move |req: Request<B>| {
        let request = activity.begin();
        let timed_out = Arc::new(AtomicBool::new(false));
        let deadline = Instant::now() + limits.body_timeout;
        let req =
            req.map(|inner| Body::new(DeadlineBody { inner, deadline, sleep: None, timed_out: timed_out.clone() }));
        let app = app.clone();
        async move {
            let response = match tower::ServiceExt::oneshot(app, req).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            let response =
                if timed_out.load(Ordering::Relaxed) { body_timeout_response(limits.body_timeout) } else { response };
            Ok(response.map(|inner| Body::new(Tracked { inner, _request: request })))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wait(ms: u64) {
        std::thread::sleep(Duration::from_millis(ms));
    }

    #[test]
    fn idle_slow_head_and_stalled_write_verdicts() {
        let l = Limits {
            header_timeout: Duration::from_millis(40),
            idle_timeout: Duration::from_millis(120),
            body_timeout: Duration::from_secs(1),
        };
        let a = Activity::new();
        assert_eq!(a.verdict(&l), None);
        wait(50);
        assert_eq!(a.verdict(&l), Some("the request head did not arrive in time"), "a new connection's first head");

        let a = Activity::new();
        drop(a.begin());
        wait(50);
        assert_eq!(a.verdict(&l), None, "idle, not yet for long");
        a.received();
        wait(50);
        assert_eq!(a.verdict(&l), Some("the request head did not arrive in time"));

        let a = Activity::new();
        a.received();
        let request = a.begin();
        wait(130);
        assert_eq!(a.verdict(&l), None, "a request in flight is neither idle nor a slow head");
        a.write_waits();
        wait(130);
        assert_eq!(a.verdict(&l), Some("the client stopped reading its response"));
        a.write_goes_on();
        drop(request);
        assert_eq!(a.verdict(&l), None, "idle only from the end of the response");
        wait(130);
        assert_eq!(a.verdict(&l), Some("idle"));
        assert_eq!(l.tick(), Duration::from_millis(50));
    }
}
