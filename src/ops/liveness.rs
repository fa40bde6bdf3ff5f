//! Liveness: one progress counter per loop (the scheduler, each sink's delivery worker), read
//! by the systemd watchdog.
//!
//! Owns [`Liveness`] and [`Beat`]. A loop registers under its name and bumps its [`Beat`] each
//! time it turns (or while it waits on purpose); the watchdog withholds its ping when any
//! registered counter has not moved for the stall window, so one stuck worker cannot hide
//! behind a healthy one. A loop that ends on purpose unregisters, with the [`Beat`] it was
//! given: a later registration of the same name (a sink's worker restarted by a reload, whose
//! new loop registers before the old one has ended) is not removed by the old loop.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

/// One loop's progress counter, and which registration of its name handed it out.
#[derive(Debug, Clone, Default)]
pub struct Beat {
    count: Arc<AtomicU64>,
    registration: u64,
}

impl Beat {
    pub fn bump(&self) {
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn get(&self) -> u64 {
        self.count.load(Ordering::Relaxed)
    }
}

/// The registry of every loop's [`Beat`].
#[derive(Debug, Clone, Default)]
pub struct Liveness(Arc<Mutex<Registry>>);

#[derive(Debug, Default)]
struct Registry {
    /// Per name: the counter and the latest registration's number.
    loops: HashMap<String, (Arc<AtomicU64>, u64)>,
    /// Registrations handed out so far; numbers start at 1 (0 is a beat never registered).
    registrations: u64,
}

impl Liveness {
    /// The beat of loop `name`, registered (a restarted loop keeps the existing counter). The
    /// name now belongs to this registration: only its beat unregisters it.
    pub fn register(&self, name: &str) -> Beat {
        let mut r = self.0.lock().unwrap_or_else(|p| p.into_inner());
        r.registrations += 1;
        let registration = r.registrations;
        let entry = r.loops.entry(name.to_string()).or_default();
        entry.1 = registration;
        Beat {
            count: entry.0.clone(),
            registration,
        }
    }

    /// A loop that ended on purpose (a sink removed by a reload) is no longer watched, unless
    /// `name` was registered again since `beat` was handed out (the sink's new worker).
    pub fn unregister(&self, name: &str, beat: &Beat) {
        let mut r = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if r.loops.get(name).is_some_and(|e| e.1 == beat.registration) {
            r.loops.remove(name);
        }
    }

    /// Every registered loop and its counter now.
    pub fn snapshot(&self) -> Vec<(String, u64)> {
        let r = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<(String, u64)> = r
            .loops
            .iter()
            .map(|(k, (c, _))| (k.clone(), c.load(Ordering::Relaxed)))
            .collect();
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
        l.unregister("sink:a", &l.register("sink:a"));
        assert_eq!(l.snapshot().len(), 1);
    }

    /// A sink's worker restarted by a reload registers its name before the old worker has
    /// ended; the old one's unregister then removed the new worker's entry, and the watchdog
    /// no longer watched it.
    #[test]
    fn an_old_loop_ending_late_does_not_unregister_its_successor() {
        let l = Liveness::default();
        let old = l.register("sink:a");
        let new = l.register("sink:a");
        l.unregister("sink:a", &old);
        new.bump();
        assert_eq!(l.snapshot(), [("sink:a".to_string(), 1)]);
        l.unregister("sink:a", &new);
        assert!(l.snapshot().is_empty());
    }
}
