//! The status listener's sockets: a cap on connections and a limit on silence.
//!
//! Owns [`Capped`], the [`axum::serve::Listener`] that [`crate::ops::http::serve`] accepts on,
//! and [`Guarded`], the connection it hands out. axum's own listener accepts without end and
//! waits for a request's headers for ever: anyone who could reach the port (any local user, on
//! the default loopback address, before the token is read) held a thousand idle connections
//! and took every file descriptor of the process, and the daemon's polls failed with "Too many
//! open files". Now at most [`MAX_CONNECTIONS`] are open at once (the next waits in the
//! kernel's queue, costing the daemon nothing), and one that sends nothing for [`SILENCE`] is
//! closed.

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

/// A TCP listener handing out at most `MAX_CONNECTIONS` connections at once.
pub struct Capped {
    inner: TcpListener,
    permits: Arc<Semaphore>,
    silence: Duration,
}

impl Capped {
    pub fn new(inner: TcpListener) -> Capped {
        Capped::with_limits(inner, MAX_CONNECTIONS, SILENCE)
    }

    /// With other limits (tests).
    pub fn with_limits(inner: TcpListener, connections: usize, silence: Duration) -> Capped {
        Capped {
            inner,
            permits: Arc::new(Semaphore::new(connections)),
            silence,
        }
    }
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
        };
        (guarded, addr)
    }

    fn local_addr(&self) -> io::Result<SocketAddr> {
        self.inner.local_addr()
    }
}

/// One accepted connection: closed (read fails with `TimedOut`) when it has sent nothing for
/// the listener's silence limit, and holding its place under the cap until dropped.
pub struct Guarded {
    io: TcpStream,
    _permit: OwnedSemaphorePermit,
    silence: Duration,
    deadline: Pin<Box<Sleep>>,
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
                    let next = Instant::now() + self.silence;
                    self.deadline.as_mut().reset(next);
                }
                Poll::Ready(r)
            }
            Poll::Pending => match self.deadline.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "the connection sent nothing for too long",
                ))),
                Poll::Pending => Poll::Pending,
            },
        }
    }
}

impl AsyncWrite for Guarded {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.io).poll_write_vectored(cx, bufs)
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
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = axum::Router::new().route("/healthz", axum::routing::get(|| async { "ok\n" }));
        let capped = Capped::with_limits(listener, connections, silence);
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
}
