//! The status listener's sockets: a cap on connections and a limit on silence.
//!
//! Owns [`Capped`], the [`axum::serve::Listener`] that [`crate::ops::http::serve`] accepts on,
//! and [`Guarded`], the connection it hands out. axum's own listener accepts without end and
//! waits for a request's headers for ever: anyone who could reach the port (any local user, on
//! the default loopback address, before the token is read) held a thousand idle connections
//! and took every file descriptor of the process, and the daemon's polls failed with "Too many
//! open files". Now at most [`MAX_CONNECTIONS`] are open at once (the next waits in the
//! kernel's queue, costing the daemon nothing), one that sends nothing for [`SILENCE`] is
//! closed, and so is one whose request has no answer [`ANSWER_WITHIN`] after its first byte
//! (a request trickled a byte at a time is never silent), and one that reads nothing of its
//! answer for [`SILENCE`].

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::{Instant, Sleep};

/// Connections open at once: a few monitoring scrapers and browsers need far fewer.
pub const MAX_CONNECTIONS: usize = 64;
/// How long a connection may send nothing (no request, or a request's headers stalled) before
/// it is closed.
pub const SILENCE: Duration = Duration::from_secs(30);
/// How long a request may take from its first byte to the first byte of its answer. The
/// silence limit alone was reset by every byte: a request trickled at a byte every 29 s held
/// its place for weeks, and 64 of them shut out every scraper and probe. (A request that is
/// complete and waits for its answer is silent, so the silence limit applies to it first.)
pub const ANSWER_WITHIN: Duration = Duration::from_secs(60);

/// A TCP listener handing out at most `MAX_CONNECTIONS` connections at once.
pub struct Capped {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    silence: Duration,
    answer_within: Duration,
}

impl Capped {
    pub fn new(inner: TcpListener) -> Capped {
        Capped::with_limits(inner, MAX_CONNECTIONS, SILENCE, ANSWER_WITHIN)
    }

    /// With other limits (tests).
    pub fn with_limits(
        inner: TcpListener,
        connections: usize,
        silence: Duration,
        answer_within: Duration,
    ) -> Capped {
        Capped {
            inner,
            permits: Arc::new(Semaphore::new(connections)),
            silence,
            answer_within,
        }
    }
}

impl Capped {
    /// How full the listener is, for [`close_when_full`].
    pub fn load(&self) -> Load {
        Load(self.permits.clone())
    }
}

/// The listener's free places, read by [`close_when_full`].
#[derive(Clone)]
pub struct Load(Arc<Semaphore>);

/// Asks the client to close its connection after this answer when no place is free for the
/// next connection (the accept waiting for it holds one).
/// Answered requests keep a connection out of both limits, so a client that sent one every
/// 29 s held its place for good, and 64 such clients shut out every scraper and probe; full,
/// each connection gets one answer and makes room.
pub async fn close_when_full(
    axum::extract::State(load): axum::extract::State<Load>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let mut resp = next.run(req).await;
    if load.0.available_permits() == 0 {
        resp.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
    }
    resp
}

impl axum::serve::Listener for Capped {
    type Io = Guarded;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Guarded, SocketAddr) {
        // Never closed, so the wait ends with a permit.
        let permit = loop {
            if let Ok(p) = self.permits.clone().acquire_owned().await {
                break p;
            }
        };
        // axum's accept on a TcpListener retries its own errors (after a pause).
        let (io, addr) = axum::serve::Listener::accept(&mut self.inner).await;
        let guarded = Guarded {
            io,
            _permit: permit,
            silence: self.silence,
            deadline: Box::pin(tokio::time::sleep(self.silence)),
            answer_within: self.answer_within,
            answer_by: None,
            write_by: None,
        };
        (guarded, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// One accepted connection: closed (read fails with `TimedOut`) when it has sent nothing for
/// the listener's silence limit, or when a request it began has had no answer within
/// [`ANSWER_WITHIN`]; holding its place under the cap until dropped.
pub struct Guarded {
    io: TcpStream,
    _permit: OwnedSemaphorePermit,
    silence: Duration,
    deadline: Pin<Box<Sleep>>,
    answer_within: Duration,
    /// Armed by the first byte read after the last answer, disarmed by the next answer.
    answer_by: Option<Pin<Box<Sleep>>>,
    /// Armed when a write waits for the client to read, disarmed by the write's progress.
    write_by: Option<Pin<Box<Sleep>>>,
}

impl AsyncRead for Guarded {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        match Pin::new(&mut self.io).poll_read(cx, buf) {
            Poll::Ready(r) => {
                if buf.filled().len() > before {
                    let now = Instant::now();
                    let next = now + self.silence;
                    self.deadline.as_mut().reset(next);
                    if self.answer_by.is_none() {
                        let by = now + self.answer_within;
                        self.answer_by = Some(Box::pin(tokio::time::sleep_until(by)));
                    }
                }
                Poll::Ready(r)
            }
            Poll::Pending => {
                if self.deadline.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the connection sent nothing for too long",
                    )));
                }
                if let Some(by) = self.answer_by.as_mut()
                    && by.as_mut().poll(cx).is_ready()
                {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the request was not complete in time",
                    )));
                }
                Poll::Pending
            }
        }
    }
}

impl Guarded {
    /// An answer went out: the next request's time starts at its first byte.
    fn answered(&mut self, written: &Poll<io::Result<usize>>) {
        if matches!(written, Poll::Ready(Ok(n)) if *n > 0) {
            self.answer_by = None;
        }
    }

    /// A write (or flush) that waits for the client to read is closed once it has waited
    /// the silence limit: both limits above are read only while the server reads, and while
    /// it writes an answer bigger than the socket's buffers to a client that reads nothing
    /// (the status page, with a request's extra byte already read) it never does, so such a
    /// client held its place for good. `progressed`: whether a ready result moved data.
    fn write_waits<T>(
        &mut self,
        cx: &mut Context<'_>,
        result: Poll<io::Result<T>>,
        progressed: impl Fn(&T) -> bool,
    ) -> Poll<io::Result<T>> {
        match &result {
            Poll::Pending => {
                let silence = self.silence;
                let by = self
                    .write_by
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(silence)));
                if by.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client read nothing of its answer for too long",
                    )));
                }
            }
            Poll::Ready(Ok(v)) if progressed(v) => self.write_by = None,
            Poll::Ready(_) => {}
        }
        result
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write(cx, buf);
        self.answered(&written);
        self.write_waits(cx, written, |&n| n > 0)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let flushed = Pin::new(&mut self.io).poll_flush(cx);
        self.write_waits(cx, flushed, |_| true)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let written = Pin::new(&mut self.io).poll_write_vectored(cx, bufs);
        self.answered(&written);
        self.write_waits(cx, written, |&n| n > 0)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn serve(connections: usize, silence: Duration) -> SocketAddr {
        serve_with(connections, silence, ANSWER_WITHIN).await
    }

    async fn serve_with(
        connections: usize,
        silence: Duration,
        answer_within: Duration,
    ) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let capped = Capped::with_limits(listener, connections, silence, answer_within);
        let app = axum::Router::new()
            .route("/healthz", axum::routing::get(|| async { "ok\n" }))
            .layer(axum::middleware::from_fn_with_state(
                capped.load(),
                close_when_full,
            ));
        tokio::spawn(async move { axum::serve(capped, app).await });
        addr
    }

    async fn healthz(addr: SocketAddr) -> String {
        let mut c = TcpStream::connect(addr).await.unwrap();
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut out = String::new();
        c.read_to_string(&mut out).await.unwrap();
        out
    }

    /// Regression: idle connections were held for ever and without number, until the
    /// process ran out of file descriptors and its polls failed. Connections past the cap
    /// wait; a silent one is closed and its place taken by the next.
    #[tokio::test]
    async fn silent_connections_are_capped_and_closed() {
        let addr = serve(4, Duration::from_millis(500)).await;
        let mut idle = Vec::new();
        for _ in 0..10 {
            idle.push(TcpStream::connect(addr).await.unwrap());
        }
        // Four of them hold the places; the rest wait in the kernel's queue. Within the
        // silence limit, each held one is closed by the server (read gives end of file).
        let start = Instant::now();
        let mut first = idle.remove(0);
        let mut buf = [0u8; 16];
        let n = tokio::time::timeout(Duration::from_secs(10), first.read(&mut buf))
            .await
            .expect("a silent connection was closed")
            .unwrap_or(0);
        assert_eq!(n, 0);
        assert!(
            start.elapsed() >= Duration::from_millis(400),
            "{:?}",
            start.elapsed()
        );
        // Once the silent ones are gone, a real request is answered.
        drop(idle);
        let answer = tokio::time::timeout(Duration::from_secs(10), healthz(addr))
            .await
            .expect("answered");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
        assert!(answer.ends_with("ok\n"), "{answer}");
    }

    /// Regression: every byte reset the silence limit, so a request trickled a byte at a
    /// time, never complete, held its place for as long as the sender liked (64 of them shut
    /// the listener). A request not answered within its limit is closed; a connection that
    /// keeps being answered lives on.
    #[tokio::test]
    async fn a_request_trickled_without_end_is_closed() {
        // Limits four times the trickle's pace, so a loaded machine's late write is not taken
        // for silence.
        let addr = serve_with(4, Duration::from_millis(800), Duration::from_millis(2400)).await;
        let mut slow = TcpStream::connect(addr).await.unwrap();
        let start = Instant::now();
        let closed = loop {
            // A byte every 200 ms: never silent for the 800 ms limit.
            if slow.write_all(b"X").await.is_err() {
                break true;
            }
            let mut buf = [0u8; 64];
            let read = tokio::time::timeout(Duration::from_millis(200), slow.read(&mut buf)).await;
            if let Ok(Ok(0) | Err(_)) = read {
                break true;
            }
            if start.elapsed() > Duration::from_secs(10) {
                break false;
            }
        };
        assert!(closed, "a trickled request was held for 10 s");
        assert!(
            start.elapsed() >= Duration::from_millis(2300),
            "closed after {:?}, before its answer limit",
            start.elapsed()
        );
        // Requests answered one after another on one connection are never cut off, though
        // they go on past the answer limit (12 x 250 ms).
        let mut c = TcpStream::connect(addr).await.unwrap();
        for _ in 0..12 {
            c.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                .await
                .unwrap();
            let mut buf = [0u8; 256];
            let n = c.read(&mut buf).await.unwrap();
            assert!(buf[..n].starts_with(b"HTTP/1.1 200"), "{:?}", &buf[..n]);
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Regression: a connection answered often enough (a request every 29 s) was never
    /// silent and never waiting, so 64 of them held every place for good. When every place is
    /// taken, an answer asks the client to close (`Connection: close`) and the place is freed.
    #[tokio::test]
    async fn a_full_listener_closes_each_connection_after_its_answer() {
        // Three places: one is always held by the accept waiting for the next connection.
        let addr = serve_with(3, SILENCE, ANSWER_WITHIN).await;
        let request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n";
        let mut a = TcpStream::connect(addr).await.unwrap();
        a.write_all(request).await.unwrap();
        let mut buf = [0u8; 512];
        let n = a.read(&mut buf).await.unwrap();
        let first = String::from_utf8_lossy(&buf[..n]).to_lowercase();
        assert!(!first.contains("connection: close"), "{first}");
        // A second connection takes the last place: the next answer on either says close,
        // and the server closes it.
        let mut b = TcpStream::connect(addr).await.unwrap();
        b.write_all(request).await.unwrap();
        let n = b.read(&mut buf).await.unwrap();
        let second = String::from_utf8_lossy(&buf[..n]).to_lowercase();
        assert!(second.contains("connection: close"), "{second}");
        let end = tokio::time::timeout(Duration::from_secs(5), b.read(&mut buf))
            .await
            .expect("closed after its answer")
            .unwrap_or(0);
        assert_eq!(end, 0);
        // With a place free again, a third connection is answered.
        let answer = tokio::time::timeout(Duration::from_secs(10), healthz(addr))
            .await
            .expect("answered");
        assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    }

    /// Regression: the limits were read only while the server read, so a client that asked
    /// for an answer bigger than the socket's buffers (the status page of many feeds) and
    /// never read it held its place for good once the server had read all it sent. A write
    /// that waits the silence limit for the client fails, and the place is freed.
    #[tokio::test]
    async fn a_client_that_never_reads_its_answer_is_closed() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut capped =
            Capped::with_limits(listener, 1, Duration::from_millis(300), ANSWER_WITHIN);
        let client = TcpStream::connect(addr).await.unwrap();
        let (mut server, _) = axum::serve::Listener::accept(&mut capped).await;
        let answer = vec![b'x'; 64 << 20];
        let started = Instant::now();
        let written = tokio::time::timeout(Duration::from_secs(20), server.write_all(&answer))
            .await
            .expect("the stalled write was given up");
        let err = written.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut, "{err}");
        assert!(started.elapsed() >= Duration::from_millis(300));
        // Its place is free for the next connection once the connection is dropped.
        drop(server);
        assert_eq!(capped.permits.available_permits(), 1);
        drop(client);
    }
}
