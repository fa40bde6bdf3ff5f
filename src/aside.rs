//! CPU-heavy work kept off the runtime's worker threads.
//!
//! A large document's parse, or the matching of a large batch of new items against a large
//! watchlist, takes tens to hundreds of milliseconds. On a worker thread of the runtime that
//! holds up the polls, sends, lease renewals and liveness beats scheduled there, so such work
//! goes to the blocking pool through [`run`], at most one task per core at a time (each can
//! take tens of MB, and up to `max_concurrent_fetches` polls may get there at once). Small work
//! stays where it is: the hand-off costs more than it saves. Also the clocks such work is
//! measured by ([`thread_cpu_time`], [`read_clock`]). No types cross this boundary.

use std::sync::{Arc, OnceLock};

use tokio::sync::Semaphore;

/// Run `work` on the blocking pool, one such task per core at a time; `Err` holds the panic
/// of `work`, if it panicked. The slot goes with the work: a caller that stops waiting (a
/// poll dropped at shutdown) does not free it while the work still runs.
pub(crate) async fn run<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Box<dyn std::any::Any + Send>> {
    static SLOTS: OnceLock<Arc<Semaphore>> = OnceLock::new();
    run_in(&SLOTS, work).await
}

/// Like [`run`], with slots of its own (one per core): work of another kind (article
/// extraction, up to a second a page) that must not queue feed parsing and matching
/// behind it.
pub(crate) async fn run_in<T: Send + 'static>(
    slots: &OnceLock<Arc<Semaphore>>,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, Box<dyn std::any::Any + Send>> {
    let slots = slots.get_or_init(|| {
        Arc::new(Semaphore::new(
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        ))
    });
    // The semaphore is never closed: a failed acquire cannot happen, and would only lift the
    // bound.
    let slot = slots.clone().acquire_owned().await.ok();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        work()
    })
    .await
    .map_err(|e| match e.try_into_panic() {
        Ok(panic) => panic,
        Err(e) => Box::new(e.to_string()),
    })
}

/// For tests of work kept aside: runs `work` while a task on the same runtime counts 1 ms
/// ticks, and fails unless that task kept running (at least one tick per 10 ms of `work`, and
/// one in any case). On a one-thread runtime it cannot if `work` runs in place.
#[cfg(test)]
pub(crate) async fn assert_runtime_kept_running<F: Future>(work: F) -> F::Output {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let ticks = Arc::new(AtomicUsize::new(0));
    let t = ticks.clone();
    let ticker = tokio::spawn(async move {
        loop {
            t.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    });
    tokio::task::yield_now().await;
    let before = ticks.load(Ordering::Relaxed);
    let started = std::time::Instant::now();
    let out = work.await;
    let took = started.elapsed();
    let during = ticks.load(Ordering::Relaxed) - before;
    ticker.abort();
    assert!(
        during >= 1 && during as u128 >= took.as_millis() / 10,
        "{during} ticks in {took:?}"
    );
    out
}

/// The time of `clock` (a `libc::CLOCK_*`), or `None` when the system refuses to read it.
#[cfg(target_os = "linux")]
pub(crate) fn read_clock(clock: libc::clockid_t) -> Option<std::time::Duration> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec through the pointer, which points to one.
    if unsafe { libc::clock_gettime(clock, &mut ts) } != 0 {
        return None;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u64::try_from(ts.tv_nsec).unwrap_or(0);
    Some(
        std::time::Duration::from_secs(secs).saturating_add(std::time::Duration::from_nanos(nanos)),
    )
}

/// CPU time this thread has used (`CLOCK_THREAD_CPUTIME_ID` on Linux): what a piece of work
/// done here cost, whatever else the machine was doing. Elsewhere, time since the first call.
pub(crate) fn thread_cpu_time() -> std::time::Duration {
    #[cfg(target_os = "linux")]
    if let Some(t) = read_clock(libc::CLOCK_THREAD_CPUTIME_ID) {
        return t;
    }
    static START: OnceLock<std::time::Instant> = OnceLock::new();
    START.get_or_init(std::time::Instant::now).elapsed()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// However many polls reach heavy work at once, at most one task per core runs it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn heavy_work_runs_one_task_per_core_at_most() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let running = Arc::new(AtomicUsize::new(0));
        let most = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..cores * 4)
            .map(|i| {
                let (running, most) = (running.clone(), most.clone());
                tokio::spawn(super::run(move || {
                    let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(std::time::Duration::from_millis(20));
                    running.fetch_sub(1, Ordering::SeqCst);
                    i
                }))
            })
            .collect();
        let mut done = Vec::new();
        for t in tasks {
            done.push(t.await.unwrap().ok().unwrap());
        }
        assert_eq!(done, (0..cores * 4).collect::<Vec<_>>());
        let most = most.load(Ordering::SeqCst);
        assert!(
            (1..=cores).contains(&most),
            "{most} at once on {cores} cores"
        );
    }

    /// Regression: article extraction shared the slots of feed parsing and matching, so pages
    /// built to take a second each queued every feed's parsing behind them.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_with_slots_of_its_own_does_not_wait_for_other_work() {
        use std::sync::OnceLock;
        use tokio::sync::Semaphore;
        static BUSY: OnceLock<Arc<Semaphore>> = OnceLock::new();
        static OTHER: OnceLock<Arc<Semaphore>> = OnceLock::new();
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let (release, wait) = std::sync::mpsc::channel::<()>();
        let wait = Arc::new(std::sync::Mutex::new(wait));
        // Every slot of one kind taken by work that waits to be released.
        let held: Vec<_> = (0..cores)
            .map(|_| {
                let wait = wait.clone();
                tokio::spawn(super::run_in(&BUSY, move || {
                    let _ = wait.lock().map(|w| w.recv());
                }))
            })
            .collect();
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        assert_eq!(BUSY.get().map(|s| s.available_permits()), Some(0));
        let other = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            super::run_in(&OTHER, || 7),
        )
        .await;
        assert_eq!(other.ok().and_then(Result::ok), Some(7));
        for _ in 0..cores {
            let _ = release.send(());
        }
        for h in held {
            h.await.unwrap().ok().unwrap();
        }
    }

    #[tokio::test]
    async fn a_panic_in_heavy_work_is_handed_to_the_caller() {
        let panic = super::run(|| -> u8 { panic!("bug") }).await.unwrap_err();
        assert_eq!(panic.downcast_ref::<&str>(), Some(&"bug"));
        assert_eq!(super::run(|| 7).await.ok(), Some(7));
    }
}
