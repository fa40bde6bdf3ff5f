//! Latency of the items added in the steady state only: at 100,000 feeds the first round (every
//! feed fetched in full and baselined) runs behind, and the items added meanwhile measure that
//! backlog, not the daemon at its steady poll rate.

use std::time::Instant;

use super::measure::Dist;
use super::news::Shared;

/// Item appeared → webhook for the expected items that appeared at or after `from` and were
/// received by `at`.
pub fn latency_since(s: &Shared, from: Instant, at: Instant) -> Dist {
    let recs = s.records.lock().unwrap();
    Dist::of(
        recs.values()
            .filter(|r| r.expected && r.appeared >= from)
            .filter_map(|r| {
                let rcv = r.received.filter(|t| *t <= at)?;
                Some(rcv.duration_since(r.appeared).as_secs_f64())
            })
            .collect(),
    )
}
