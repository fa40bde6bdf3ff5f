//! Liveness: one progress counter per loop (the scheduler, each sink's delivery worker), read
//! by the systemd watchdog.
//!
//! Owns [`Liveness`] and [`Beat`]. A loop registers under its name and bumps its [`Beat`] each
//! time it turns (or while it waits on purpose); the watchdog withholds its ping when any
//! registered counter has not moved for the stall window, so one stuck worker cannot hide
//! behind a healthy one. A loop that ends on purpose unregisters.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One loop's progress counter.
#[derive(Debug, Clone, Default)]
pub struct Beat(Arc<AtomicU64>);

impl Beat {
    pub fn bump(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The registry of every loop's [`Beat`].
#[derive(Debug, Clone, Default)]
pub struct Liveness(Arc<Mutex<HashMap<String, Beat>>>);

impl Liveness {
    /// The beat of loop `name`, registered (or the existing one, for a restarted loop).
    pub fn register(&self, name: &str) -> Beat {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.entry(name.to_string()).or_default().clone()
    }

    /// A loop that ended on purpose (a sink removed by a reload) is no longer watched.
    pub fn unregister(&self, name: &str) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.remove(name);
    }

    /// Every registered loop and its counter now.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<(String, u64)> = map.iter().map(|(k, b)| (k.clone(), b.get())).collect();
        v.sort();
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loops_register_bump_and_unregister() {
        let l = Liveness::default();
        let a = l.register("sink:a");
        a.bump();
        // A restarted loop gets the same counter back.
        l.register("sink:a").bump();
        l.register("scheduler");
        assert_eq!(
            l.snapshot(),
            [("scheduler".to_string(), 0), ("sink:a".to_string(), 2)]
        );
        l.unregister("sink:a");
        assert_eq!(l.snapshot().len(), 1);
    }
}
