//! The accept loop: HTTP/1.1 connections served by hyper with timeouts and
//! a cap, so slow or silent clients cannot hold the server.
//!
//! Each connection is in one of four phases, tracked from its reads and its
//! requests:
//!
//! - *fresh*: accepted, nothing read yet; closed after the header timeout;
//! - *head*: bytes of a request head arrived; the whole head must be in
//!   within the header timeout, counted from the accept (first request) or
//!   from its first byte (later requests on a kept-alive connection);
//! - *busy*: a request is being answered, its response body (a stream
//!   included) not yet sent in full; no timeout, since waiting in the queue
//!   or for a long prompt to be read is legitimate; a request *body* that
//!   stalls longer than the header timeout between two reads fails the
//!   request (400), as nginx's `client_body_timeout` does;
//! - *idle*: kept alive between requests; closed after the idle timeout.
//!
//! hyper's own `header_read_timeout` counts from the moment it starts
//! waiting for a head, which on a kept-alive connection is the end of the
//! previous response: alone it would close idle connections after the
//! header timeout and make an idle timeout longer than that meaningless.
//! So the phases above are watched here, and hyper's timeout is set to
//! header + idle timeout, a backstop that never fires first.
//!
//! At most `max_connections` are open. Beyond, a new connection waits
//! (and the ones after it wait in the kernel's backlog) while idle
//! connections, and fresh ones silent for a second or more, are closed to
//! make room; connections busy with requests are never cut. Silent and
//! slow-header connections are gone within the header timeout anyway, so a
//! flood of them delays service by at most that, never blocks it.
//!
//! On shutdown the listener closes, idle connections close, and the
//! requests in flight (streams included) run to their end.

use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::response::Response;
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// How long clients may take and how many may be connected.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time to send a whole request head, from the connection's opening
    /// (or the first byte of a later request); also the longest pause
    /// between two reads of a request body.
    pub header_timeout: Duration,
    /// Time a kept-alive connection may wait for its next request.
    pub idle_timeout: Duration,
    /// Connections open at once.
    pub max_connections: usize,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            header_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
            max_connections: 512,
        }
    }
}

/// A fresh connection silent this long may be closed to make room.
const EVICT_FRESH_AFTER: Duration = Duration::from_secs(1);

/// Serves `app` on `listener` with `limits` until `shutdown` completes,
/// then waits for the requests in flight to finish.
pub async fn serve_with(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    limits: Limits,
) -> io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout + limits.idle_timeout)
        .keep_alive(true);
    let graceful = GracefulShutdown::new();
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let pressure = Arc::new(Notify::new());
    tokio::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _peer)) => stream,
                Err(e) => {
                    accept_error(e).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let permit = tokio::select! {
            permit = make_room(&slots, &pressure) => permit,
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = Arc::new(ConnState::new());
        let service = Service {
            app: app.clone(),
            conn: conn.clone(),
            body_timeout: limits.header_timeout,
        };
        let io = TokioIo::new(Watched {
            stream,
            conn: conn.clone(),
        });
        let served = graceful.watch(http.serve_connection(io, service));
        let pressure = pressure.clone();
        tokio::spawn(async move {
            let _permit = permit;
            tokio::select! {
                result = served => {
                    if let Err(e) = result {
                        tracing::debug!(error = %e, "connection ended with an error");
                    }
                }
                why = watchdog(&conn, limits, &pressure) => {
                    tracing::debug!("closing a connection: {why}");
                }
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
    Ok(())
}

/// A slot for a new connection; at the cap, asks idle connections to close
/// until one frees.
async fn make_room(slots: &Arc<Semaphore>, pressure: &Notify) -> OwnedSemaphorePermit {
    loop {
        if let Ok(permit) = slots.clone().try_acquire_owned() {
            return permit;
        }
        pressure.notify_waiters();
        let wait = tokio::time::timeout(Duration::from_millis(250), slots.clone().acquire_owned());
        if let Ok(Ok(permit)) = wait.await {
            return permit;
        }
    }
}

/// Errors of one connection (reset before it was accepted) go unnoticed;
/// others (out of file descriptors) are logged and the loop pauses, as
/// retrying at once would spin.
async fn accept_error(e: io::Error) {
    use io::ErrorKind::*;
    if matches!(e.kind(), ConnectionRefused | ConnectionAborted | ConnectionReset) {
        return;
    }
    tracing::error!(error = %e, "cannot accept a connection");
    tokio::time::sleep(Duration::from_secs(1)).await;
}

#[derive(Debug, Clone, Copy)]
enum Phase {
    Fresh(Instant),
    Head(Instant),
    Busy(u32),
    Idle(Instant),
}

/// One connection's phase, shared by its socket, its service and its
/// watchdog.
#[derive(Debug)]
struct ConnState {
    phase: Mutex<Phase>,
    changed: Notify,
}

impl ConnState {
    fn new() -> ConnState {
        ConnState {
            phase: Mutex::new(Phase::Fresh(Instant::now())),
            changed: Notify::new(),
        }
    }

    fn update(&self, f: impl FnOnce(Phase) -> Phase) {
        let mut phase = self.phase.lock().unwrap_or_else(|e| e.into_inner());
        *phase = f(*phase);
        drop(phase);
        self.changed.notify_one();
    }

    fn phase(&self) -> Phase {
        *self.phase.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Bytes arrived: a head starts (its clock running since the accept
    /// for a fresh connection).
    fn on_read(&self) {
        if matches!(self.phase(), Phase::Fresh(_) | Phase::Idle(_)) {
            self.update(|p| match p {
                Phase::Fresh(since) => Phase::Head(since),
                Phase::Idle(_) => Phase::Head(Instant::now()),
                other => other,
            });
        }
    }

    fn begin(self: &Arc<Self>) -> BusyGuard {
        self.update(|p| match p {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        });
        BusyGuard(self.clone())
    }
}

/// Held from a request's arrival until its response body is sent in full
/// (or dropped).
#[derive(Debug)]
struct BusyGuard(Arc<ConnState>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.update(|p| match p {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        });
    }
}

/// Completes when the connection should be closed, saying why.
async fn watchdog(conn: &ConnState, limits: Limits, pressure: &Notify) -> &'static str {
    loop {
        let pressed = pressure.notified();
        let changed = conn.changed.notified();
        let phase = conn.phase();
        let due = deadline(phase, limits);
        let evictable = matches!(phase, Phase::Fresh(_) | Phase::Idle(_));
        tokio::select! {
            () = changed => {}
            () = pressed, if evictable => {
                // A fresh connection gets a moment to send its request.
                if !matches!(phase, Phase::Fresh(t) if t.elapsed() < EVICT_FRESH_AFTER) {
                    return "idle while the connection limit is reached";
                }
            }
            () = sleep_until(due) => {
                // Unless its phase changed meanwhile.
                if deadline(conn.phase(), limits) == due {
                    return match phase {
                        Phase::Idle(_) => "idle timeout",
                        _ => "no complete request head within the header timeout",
                    };
                }
            }
        }
    }
}

/// When a connection in `phase` is closed; never while busy.
fn deadline(phase: Phase, limits: Limits) -> Option<Instant> {
    match phase {
        Phase::Fresh(t) | Phase::Head(t) => Some(t + limits.header_timeout),
        Phase::Idle(t) => Some(t + limits.idle_timeout),
        Phase::Busy(_) => None,
    }
}

async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The socket, reporting reads to its connection's phase.
#[derive(Debug)]
struct Watched {
    stream: TcpStream,
    conn: Arc<ConnState>,
}

impl AsyncRead for Watched {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let poll = Pin::new(&mut self.stream).poll_read(cx, buf);
        if matches!(poll, Poll::Ready(Ok(()))) && buf.filled().len() > before {
            self.conn.on_read();
        }
        poll
    }
}

impl AsyncWrite for Watched {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_shutdown(cx)
    }
}

/// The router as hyper calls it, marking the connection busy for each
/// request until its response is sent.
#[derive(Debug, Clone)]
struct Service {
    app: Router,
    conn: Arc<ConnState>,
    body_timeout: Duration,
}

impl hyper::service::Service<hyper::Request<Incoming>> for Service {
    type Response = Response<Tracked>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Tracked>, Infallible>> + Send>>;

    fn call(&self, req: hyper::Request<Incoming>) -> Self::Future {
        let guard = self.conn.begin();
        let timeout = self.body_timeout;
        let req: Request = req.map(|inner| {
            Body::new(StallTimeout {
                inner,
                timeout,
                sleep: None,
            })
        });
        let app = self.app.clone();
        Box::pin(async move {
            let resp = app.oneshot(req).await?;
            Ok(resp.map(|inner| Tracked { inner, _guard: guard }))
        })
    }
}

/// A response body that keeps its connection busy until it is dropped.
#[derive(Debug)]
struct Tracked {
    inner: Body,
    _guard: BusyGuard,
}

impl hyper::body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// A request body that fails when the client stops sending it for longer
/// than `timeout`.
#[derive(Debug)]
struct StallTimeout {
    inner: Incoming,
    timeout: Duration,
    sleep: Option<Pin<Box<Sleep>>>,
}

impl hyper::body::Body for StallTimeout {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(frame) => {
                this.sleep = None;
                Poll::Ready(frame.map(|f| f.map_err(Into::into)))
            }
            Poll::Pending => {
                let timeout = this.timeout;
                let sleep = this
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(timeout)));
                match sleep.as_mut().poll(cx) {
                    Poll::Ready(()) => Poll::Ready(Some(Err(format!(
                        "the client sent nothing of the request body for {} s",
                        timeout.as_secs_f64()
                    )
                    .into()))),
                    Poll::Pending => Poll::Pending,
                }
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
