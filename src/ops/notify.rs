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
        let var = |k: &str| std::env::var(k).ok();
        Notifier::from_vars(
            var("NOTIFY_SOCKET"),
            var("WATCHDOG_USEC"),
            var("WATCHDOG_PID"),
            std::process::id(),
        )
    }

    /// [`Notifier::from_env`] on given values, for process `pid`.
    fn from_vars(
        notify_socket: Option<String>,
        watchdog_usec: Option<String>,
        watchdog_pid: Option<String>,
        pid: u32,
    ) -> Notifier {
        let socket = notify_socket
            .filter(|s| !s.is_empty())
            .and_then(|path| UnixDatagram::unbound().ok().map(|s| (s, path)));
        // A watchdog meant for another process (a parent that exec'd us) is not ours to feed.
        let pid_ok = watchdog_pid
            .and_then(|p| p.parse::<u32>().ok())
            .is_none_or(|p| p == pid);
        let watchdog = watchdog_usec
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
        self.send(&format!("READY=1\nSTATUS={}", one_line(status)));
    }

    pub fn status(&self, status: &str) {
        self.send(&format!("STATUS={}", one_line(status)));
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

/// A status on one line: a newline in it (an error's text) would end the assignment and
/// make the rest a line of its own, read by systemd as another one (`WATCHDOG=1`…).
fn one_line(status: &str) -> String {
    status
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
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
        // An error's text in a status stays one assignment, not a line systemd reads as
        // another (a database error may hold a newline).
        n.status("cannot read the state: no such table\nWATCHDOG=1");
        let len = listener.recv(&mut buf).unwrap();
        assert_eq!(
            &buf[..len],
            b"STATUS=cannot read the state: no such table WATCHDOG=1"
        );
    }

    /// The environment decides: no socket, no notifications; the watchdog only when its
    /// interval is set, positive, and meant for this process. (The test this replaces built a
    /// socket-less notifier itself and asserted it had no socket.)
    #[test]
    fn the_environment_decides_what_is_sent() {
        let s = |v: &str| Some(v.to_string());
        let off = Notifier::from_vars(None, s("30000000"), None, 7);
        assert!(!off.enabled());
        let empty = Notifier::from_vars(s(""), None, None, 7);
        assert!(!empty.enabled());
        let on = Notifier::from_vars(s("/run/systemd/notify"), s("30000000"), s("7"), 7);
        assert!(on.enabled());
        assert_eq!(on.watchdog_interval(), Some(Duration::from_secs(30)));
        let theirs = Notifier::from_vars(s("/run/systemd/notify"), s("30000000"), s("8"), 7);
        assert_eq!(theirs.watchdog_interval(), None);
        for bad in ["0", "-5", "soon"] {
            let n = Notifier::from_vars(s("/run/systemd/notify"), s(bad), None, 7);
            assert_eq!(n.watchdog_interval(), None, "{bad}");
        }
        // Without a socket every call is a no-op, not an error.
        off.ready("x");
        off.watchdog();
    }
}
