//! What a sink's worker leaves to the next worker of the same sink: its pacing.
//!
//! Owns [`Left`] and [`Pace::of`], the pacing a sink's plan starts with.

use super::Pace;
use super::health;
use crate::deliver::rate::Bucket;
use crate::plan::SinkPlan;
use crate::store::Millis;

/// What a sink's worker leaves to the next worker of the same sink (started by a reload that
/// changed the sink, or after a panic): the rate budget it spent and the receiver's retry
/// hint. Before, every new worker started with a full bucket and no pause, so each reload
/// could send a burst the rate had already spent, and send into a receiver's `Retry-After`.
#[derive(Clone)]
pub(super) struct Left {
    pub(super) plan: SinkPlan,
    pub(super) bucket: Option<Bucket>,
    pub(super) health: health::Health,
    /// Until when the worker was pausing.
    pub(super) pause_until: Millis,
}

impl Left {
    /// The pacing a worker of `sp` starts with, and until when it waits before its first
    /// claim. The same plan (a restart after a panic) goes on as it was; a changed one
    /// keeps the spent rate and the receiver's hint, not the sink's own outage backoff
    /// (the operator may just have fixed the cause). Another platform starts afresh.
    pub(super) fn resume(left: Option<Left>, sp: &SinkPlan) -> (Pace, health::Health, Millis) {
        let mut pace = Pace::of(sp);
        let Some(left) = left.filter(|l| l.plan.config.kind() == sp.config.kind()) else {
            return (pace, health::Health::default(), 0);
        };
        if let (Some(rate), Some(old)) = (sp.config.rate(), left.bucket) {
            pace.bucket = Some(old.with_rate(rate));
        }
        if left.plan == *sp {
            (pace, left.health, left.pause_until)
        } else {
            let hinted = left.health.hinted_until();
            (pace, health::Health::default(), hinted)
        }
    }
}

impl Pace {
    pub(super) fn of(sp: &SinkPlan) -> Pace {
        Pace {
            bucket: sp.config.rate().map(Bucket::new),
            digest_after: sp.config.digest_after(),
            concurrency: sp.config.concurrency(),
            beat: None,
        }
    }
}
