//! The daemons under test: one, or `--instances N` sharing one PostgreSQL database, killed
//! with SIGKILL and started again in turn with `--kill-every S`.
//!
//! The CPU of a killed process is kept (its last sample) so the fleet's CPU seconds only grow;
//! instance 0 listens where the config says (its /metrics), the others run with
//! `--listen off`. Each writes its stderr to `daemon.log` (instance 0) or `daemon-N.log`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Instant;

pub struct Fleet {
    bin: PathBuf,
    config: PathBuf,
    dir: PathBuf,
    children: Vec<Child>,
    /// CPU ticks and disk writes of processes killed so far.
    dead_ticks: u64,
    dead_write: u64,
    /// When each kill happened, and which instance.
    pub kills: Vec<(Instant, usize)>,
}

pub fn log_name(i: usize) -> String {
    if i == 0 {
        "daemon.log".into()
    } else {
        format!("daemon-{i}.log")
    }
}

fn spawn(bin: &Path, config: &Path, dir: &Path, i: usize) -> std::io::Result<Child> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(log_name(i)))?;
    let out = std::fs::File::create(dir.join(format!("daemon-{i}.stdout")))?;
    let mut cmd = Command::new(bin);
    cmd.args(["run", "-c"]).arg(config);
    if i > 0 {
        cmd.args(["--listen", "off"]);
    }
    cmd.current_dir(dir)
        .env("RUST_LOG", "warn")
        .env_remove("NOTIFY_SOCKET")
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(log)
        .spawn()
}

fn ticks(pid: &str) -> u64 {
    super::measure::cpu_ticks(pid).unwrap_or(0)
}

impl Fleet {
    pub fn start(bin: &Path, config: &Path, dir: &Path, n: usize) -> std::io::Result<Fleet> {
        let mut children = Vec::with_capacity(n);
        for i in 0..n {
            children.push(spawn(bin, config, dir, i)?);
        }
        Ok(Fleet {
            bin: bin.to_path_buf(),
            config: config.to_path_buf(),
            dir: dir.to_path_buf(),
            children,
            dead_ticks: 0,
            dead_write: 0,
            kills: Vec::new(),
        })
    }

    pub fn len(&self) -> usize {
        self.children.len()
    }

    pub fn pids(&self) -> Vec<String> {
        self.children.iter().map(|c| c.id().to_string()).collect()
    }

    /// CPU ticks of every instance so far, the killed ones included.
    pub fn cpu_ticks(&self) -> u64 {
        self.dead_ticks + self.pids().iter().map(|p| ticks(p)).sum::<u64>()
    }

    pub fn write_bytes(&self) -> u64 {
        self.dead_write
            + self
                .pids()
                .iter()
                .map(|p| super::io::write_bytes(p).unwrap_or(0))
                .sum::<u64>()
    }

    /// The largest of the instances' `key` (`VmRSS`, `VmHWM`), in KB.
    pub fn max_kb(&self, key: &str) -> u64 {
        self.pids()
            .iter()
            .filter_map(|p| super::measure::status_kb(p, key))
            .max()
            .unwrap_or(0)
    }

    /// SIGKILL instance `i` and start it again at once.
    pub fn kill_and_restart(&mut self, i: usize) -> std::io::Result<()> {
        let pid = self.children[i].id().to_string();
        // Sampled just before the kill: what it used since the last sample is lost (< 1 s).
        self.dead_ticks += ticks(&pid);
        self.dead_write += super::io::write_bytes(&pid).unwrap_or(0);
        self.children[i].kill()?;
        self.children[i].wait()?;
        self.kills.push((Instant::now(), i));
        self.children[i] = spawn(&self.bin, &self.config, &self.dir, i)?;
        Ok(())
    }

    /// An instance that exited by itself, if any.
    pub fn exited(&mut self) -> Option<(usize, ExitStatus)> {
        self.children
            .iter_mut()
            .enumerate()
            .find_map(|(i, c)| c.try_wait().ok().flatten().map(|st| (i, st)))
    }

    /// SIGTERM every instance; the result of instance 0 and the first problem of any.
    pub fn stop(&mut self) -> (Option<ExitStatus>, std::time::Duration, String) {
        let mut first = None;
        let mut problem = String::new();
        for (i, c) in self.children.iter_mut().enumerate() {
            let (st, took, p) = super::daemon::stop_daemon(c);
            if first.is_none() {
                first = Some((st, took));
            }
            if problem.is_empty() && (!p.is_empty() || !st.is_some_and(|s| s.success())) {
                problem = if p.is_empty() {
                    format!("instance {i}: {st:?}")
                } else {
                    format!("instance {i}: {p}")
                };
            }
        }
        let (st, took) = first.unwrap_or((None, std::time::Duration::ZERO));
        let st = if problem.is_empty() { st } else { None };
        (st, took, problem)
    }
}
