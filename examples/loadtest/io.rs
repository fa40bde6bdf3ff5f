//! The daemon's disk writes, from `/proc/PID/io`: the state database's write rate (its WAL
//! and checkpoints; the daemon writes nothing else while it runs with `RUST_LOG=warn`).

/// Bytes the process has caused to be written to storage so far.
pub fn write_bytes(pid: &str) -> Option<u64> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/io")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix("write_bytes:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Disk writes over a window, as "N KB/s (M KB per 1,000 polls)".
pub fn rate_line(bytes: u64, secs: f64, polls: u64) -> String {
    let kb = bytes as f64 / 1024.0;
    let per = if polls > 0 {
        format!(" ({:.0} KB per 1,000 polls)", kb * 1000.0 / polls as f64)
    } else {
        String::new()
    };
    format!("{:.0} KB/s{per}", kb / secs.max(f64::EPSILON))
}
