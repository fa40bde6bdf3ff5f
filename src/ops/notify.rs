//! systemd's notification protocol (`sd_notify`): READY, STATUS, WATCHDOG, RELOADING, STOPPING.
//!
//! Owns [`Notifier`]. A datagram to `$NOTIFY_SOCKET` (a path, or `@name` for the abstract
//! namespace); without the variable every call is a no-op, so the daemon runs the same under
//! systemd, in a terminal and in tests. `WATCHDOG_USEC` gives the watchdog interval.

use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// Sends notifications to systemd, if it is listening.
#[derive(Debug)]
pub struct Notifier {
    socket: Option<(UnixDatagram, String)>,
    watchdog: Option<Duration>,
}

impl Notifier {
    /// From the environment: `NOTIFY_SOCKET`, `WATCHDOG_USEC` (and `WATCHDOG_PID`, which must
    /// be ours when set).
    pub fn from_env() -> Notifier {
        let socket = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|s| !s.is_empty())
            .and_then(|path| UnixDatagram::unbound().ok().map(|s| (s, path)));
        let pid_ok = std::env::var("WATCHDOG_PID")
            .ok()
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|p| p == std::process::id());
        let watchdog = std::env::var("WATCHDOG_USEC")
            .ok()
            .and_then(|u| u.parse::<u64>().ok())
            .filter(|u| *u > 0 && pid_ok)
            .map(Duration::from_micros);
        Notifier { socket, watchdog }
    }

    /// A notifier for an explicit socket path and watchdog interval (tests, embedding).
    pub fn to_socket(path: &str, watchdog: Option<Duration>) -> Notifier {
        Notifier {
            socket: UnixDatagram::unbound().ok().map(|s| (s, path.to_string())),
            watchdog,
        }
    }

    /// The watchdog interval systemd expects pings within, if enabled.
    pub fn watchdog_interval(&self) -> Option<Duration> {
        self.watchdog
    }

    pub fn enabled(&self) -> bool {
        self.socket.is_some()
    }

    /// Send one message (`READY=1`, `STATUS=...`). Failures are logged once per call and
    /// otherwise ignored: notification is best effort and must never stop the daemon.
    pub fn send(&self, msg: &str) {
        let Some((sock, path)) = &self.socket else {
            return;
        };
        let r = if let Some(name) = path.strip_prefix('@') {
            abstract_send(sock, name, msg)
        } else {
            sock.send_to(msg.as_bytes(), path).map(|_| ())
        };
        if let Err(e) = r {
            tracing::warn!(error = %e, "cannot notify systemd");
        }
    }

    pub fn ready(&self, status: &str) {
        self.send(&format!("READY=1\nSTATUS={status}"));
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={status}"));
    }

    pub fn watchdog(&self) {
        self.send("WATCHDOG=1");
    }

    /// Before re-reading the configuration; follow with [`Notifier::ready`].
    pub fn reloading(&self) {
        // Type=notify (systemd 252) needs no MONOTONIC_USEC; notify-reload would.
        self.send("RELOADING=1");
    }

    pub fn stopping(&self) {
        self.send("STOPPING=1");
    }
}

#[cfg(target_os = "linux")]
fn abstract_send(sock: &UnixDatagram, name: &str, msg: &str) -> std::io::Result<()> {
    use std::os::linux::net::SocketAddrExt;
    let addr = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
    sock.send_to_addr(msg.as_bytes(), &addr).map(|_| ())
}

#[cfg(not(target_os = "linux"))]
fn abstract_send(_: &UnixDatagram, _: &str, _: &str) -> std::io::Result<()> {
    Err(std::io::Error::other("abstract sockets need Linux"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_datagrams_to_the_socket() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("notify.sock");
        let listener = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            socket: Some((UnixDatagram::unbound().unwrap(), path.display().to_string())),
            watchdog: None,
        };
        n.ready("3 feeds");
        let mut buf = [0u8; 256];
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(&buf[..len], b"READY=1\nSTATUS=3 feeds");
    }

    #[test]
    fn without_a_socket_nothing_happens() {
        let n = Notifier {
            socket: None,
            watchdog: None,
        };
        n.ready("x");
        assert!(!n.enabled());
    }
}
