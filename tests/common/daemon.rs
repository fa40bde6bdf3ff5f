//! The real `newswatch` binary as a child process: started, stopped, killed and restarted
//! in a temp dir, its log kept for the assertion messages.

use super::*;

/// The real binary, running `newswatch run -c CONFIG` in a temp dir.
pub struct Daemon {
    child: Option<Child>,
    /// Extra environment and arguments for the next start.
    pub env: Vec<(String, String)>,
    pub args: Vec<String>,
    pub dir: PathBuf,
    pub config: PathBuf,
    log: PathBuf,
    starts: u32,
}

/// The `[daemon]` section tests use: fast polls, no listener, state in the temp dir.
pub fn daemon_section(extra: &str) -> String {
    format!(
        "[daemon]\nstate = \"state.db\"\nlisten = \"off\"\npoll_interval = \"1s\"\nmin_poll_interval = \"1s\"\n{extra}\n"
    )
}

impl Daemon {
    pub fn new(dir: &Path, config: &str) -> Daemon {
        let cfg = dir.join("newswatch.toml");
        std::fs::write(&cfg, config).unwrap();
        Daemon {
            child: None,
            env: Vec::new(),
            args: Vec::new(),
            dir: dir.to_path_buf(),
            config: cfg,
            log: dir.join("daemon.log"),
            starts: 0,
        }
    }

    pub fn write_config(&self, config: &str) {
        std::fs::write(&self.config, config).unwrap();
    }

    pub fn start(&mut self) {
        self.starts += 1;
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .args(["run", "-c"])
            .arg(&self.config)
            .args(&self.args)
            .env("RUST_LOG", "newswatch=debug")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("JOURNAL_STREAM")
            .env_remove("WATCHDOG_USEC")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.child = Some(child);
    }

    /// Start with the status listener on a loopback port: `config` makes the configuration for
    /// a `listen` address; returns the address the daemon listens on. The daemon names no port
    /// it picked itself, so the port is one that was free a moment ago; another process may
    /// take it before the daemon binds it, and then the daemon refuses to start and another
    /// port is tried. Returns once the daemon has logged that it listens (or has not, in 20 s,
    /// or has exited for another reason: the test's own waits then say what went wrong).
    pub async fn start_listening(&mut self, config: impl Fn(&str) -> String) -> String {
        const LISTENING: &str = "status, health and metrics listening";
        let mut tries = 0;
        loop {
            tries += 1;
            let listen = format!("127.0.0.1:{}", free_port());
            self.write_config(&config(&listen));
            let before = self.log().matches(LISTENING).count();
            self.start();
            wait_for(Duration::from_secs(20), || {
                self.log().matches(LISTENING).count() > before || self.exited()
            })
            .await;
            let taken = self.exited()
                && self
                    .log()
                    .contains(&format!("cannot listen on {listen} ([daemon] listen)"));
            if !taken || tries == 10 {
                return listen;
            }
        }
    }

    /// Whether the process was started and has exited.
    fn exited(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| matches!(c.try_wait(), Ok(Some(_))))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .unwrap();
        assert!(status.success(), "kill -{sig} failed");
    }

    /// Wait for the process to exit, at most `limit`.
    pub fn wait(&mut self, limit: Duration) -> Option<ExitStatus> {
        let started = Instant::now();
        let child = self.child.as_mut()?;
        loop {
            if let Ok(Some(st)) = child.try_wait() {
                self.child = None;
                return Some(st);
            }
            if started.elapsed() > limit {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// SIGTERM, then the process must exit 0 within 15 s.
    pub fn stop(&mut self) {
        self.signal("TERM");
        let code = self.wait(Duration::from_secs(15)).map(|s| s.code());
        assert_eq!(code, Some(Some(0)), "clean stop expected\n{}", self.log());
    }

    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn state_path(&self) -> PathBuf {
        self.dir.join("state.db")
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        self.kill9();
    }
}
