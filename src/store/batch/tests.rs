//! The writer's timing and grouping on a paused clock, with a recording stand-in for SQLite.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::time::Instant;

use super::{Batcher, TICK};
use crate::store::StoreError;

/// The batches a writer was given, in order.
type Batches = Arc<Mutex<Vec<Vec<u32>>>>;

/// A writer that records each batch it is given and fails the odd rows.
fn recording(max_rows: usize) -> (Batcher<u32>, Batches) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let b = Batcher::spawn(TICK, max_rows, move |rows: Vec<u32>| {
        let log = log.clone();
        async move {
            let out = rows
                .iter()
                .map(|r| {
                    if r % 2 == 1 {
                        Err(StoreError::WriterGone)
                    } else {
                        Ok(())
                    }
                })
                .collect();
            log.lock().unwrap().push(rows);
            out
        }
    });
    (b, seen)
}

#[tokio::test(start_paused = true)]
async fn rows_queued_within_one_tick_are_one_batch_and_each_hears_its_own_result() {
    let (b, seen) = recording(100);
    let started = Instant::now();
    let tasks: Vec<_> = (0..6u32)
        .map(|r| {
            let b = b.clone();
            tokio::spawn(async move {
                tokio::time::sleep(Duration::from_millis(20 * u64::from(r))).await;
                b.write(r).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await.unwrap().is_ok());
    }
    assert_eq!(results, [true, false, true, false, true, false]);
    assert_eq!(*seen.lock().unwrap(), vec![vec![0, 1, 2, 3, 4, 5]]);
    // Written one tick after the first row was queued, not later.
    assert_eq!(started.elapsed(), TICK);
}

#[tokio::test(start_paused = true)]
async fn a_lone_row_is_written_after_one_tick() {
    let (b, seen) = recording(100);
    let started = Instant::now();
    b.write(2).await.unwrap();
    assert_eq!(started.elapsed(), TICK);
    // The next row starts a new batch with its own tick.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let again = Instant::now();
    b.write(4).await.unwrap();
    assert_eq!(again.elapsed(), TICK);
    assert_eq!(*seen.lock().unwrap(), vec![vec![2], vec![4]]);
}

#[tokio::test(start_paused = true)]
async fn a_full_batch_is_written_without_waiting_for_the_tick() {
    let (b, seen) = recording(3);
    let started = Instant::now();
    let tasks: Vec<_> = (0..3u32)
        .map(|r| {
            let b = b.clone();
            tokio::spawn(async move { b.write(r * 2).await })
        })
        .collect();
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    assert!(started.elapsed() < TICK, "{:?}", started.elapsed());
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(seen.lock().unwrap()[0].len(), 3);
}

/// Shutdown: the daemon stops when its polls have finished, and a poll finishes only once its
/// row is written, so the writer must write what is queued even as the last handle goes.
#[tokio::test(start_paused = true)]
async fn rows_queued_when_the_last_handle_is_dropped_are_still_written() {
    let (b, seen) = recording(100);
    let task = {
        let b = b.clone();
        tokio::spawn(async move { b.write(8).await })
    };
    tokio::task::yield_now().await;
    drop(b);
    task.await.unwrap().unwrap();
    assert_eq!(*seen.lock().unwrap(), vec![vec![8]]);
}

/// Regression: a write that never ended (a PostgreSQL host gone with the query in flight)
/// held the writer, and every row queued behind it, forever; one that panicked ended the
/// writer, and every later write failed until a restart. Each fails its own batch only.
#[tokio::test(start_paused = true)]
async fn a_write_that_hangs_or_panics_fails_its_batch_and_the_writer_goes_on() {
    let b = Batcher::spawn(TICK, 10, |rows: Vec<u32>| async move {
        match rows.first() {
            Some(1) => std::future::pending().await,
            Some(2) => panic!("a bug in the write"),
            _ => rows.iter().map(|_| Ok(())).collect(),
        }
    });
    let hung = b.write(1);
    let started = Instant::now();
    assert!(matches!(hung.await, Err(StoreError::NoAnswer { .. })));
    assert!(started.elapsed() >= super::WRITE_LIMIT);
    assert!(matches!(b.write(2).await, Err(StoreError::WritePanicked)));
    assert!(b.write(3).await.is_ok());
}
