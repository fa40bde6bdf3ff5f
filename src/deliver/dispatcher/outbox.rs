//! The store calls sending a batch makes ([`Outbox`]), implemented by every [`Store`].
//!
//! Used by [`super::send`] and the sink lease ([`super::Hold`]); a test store that fails on
//! demand implements it too.

use crate::store::lease::SinkHold;
use crate::store::{Millis, Store, StoreError};

/// The store calls sending a batch makes: recording attempts and results, giving claims
/// back. Its own trait, beside [`Store`] (which provides it), so that what the batch loop
/// does when one of them fails can be tested with a store that fails on demand.
pub trait Outbox: Send + Sync {
    /// Record a first attempt's key and mark the unit's rows as being sent
    /// ([`Store::begin_send`]); false: do not send.
    fn begin_send(
        &self,
        sink: &str,
        ids: &[i64],
        key: Option<&str>,
        claim: Millis,
        until: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn mark_sent(
        &self,
        ids: &[i64],
        now: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn mark_quiet(
        &self,
        ids: &[i64],
        now: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn mark_sent_ref(
        &self,
        id: i64,
        now: Millis,
        message_ref: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// What the story's message shows already ([`Store::sent_updates`]).
    fn sent_updates(
        &self,
        story_key: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send;
    fn mark_retry(
        &self,
        ids: &[i64],
        error: &str,
        next_attempt_at: Millis,
        claim: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn mark_dead(
        &self,
        ids: &[i64],
        error: &str,
        now: Millis,
        claim: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    /// [`Store::mark_dead_apart`].
    fn mark_dead_apart(
        &self,
        ids: &[i64],
        error: &str,
        now: Millis,
        claim: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send;
    fn release(
        &self,
        ids: &[i64],
        claim: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Take or renew the sink's lease ([`Store::hold_sink`]); a store of one daemon always
    /// holds it.
    fn hold_sink(
        &self,
        sink: &str,
        now: Millis,
    ) -> impl Future<Output = Result<SinkHold, StoreError>> + Send {
        let _ = (sink, now);
        async { Ok(SinkHold::Held { until: Millis::MAX }) }
    }
    /// Keep the receiver's retry hint for the sink ([`super::hint`]); nothing when the store
    /// cannot (the worker's own copy still pauses it).
    fn keep_hint(&self, sink: &str, until: Millis) -> impl Future<Output = ()> + Send {
        let _ = (sink, until);
        async {}
    }
}

impl<S: Store> Outbox for S {
    fn keep_hint(&self, sink: &str, until: Millis) -> impl Future<Output = ()> + Send {
        super::hint::save(self, sink, until)
    }
    fn begin_send(
        &self,
        sink: &str,
        ids: &[i64],
        key: Option<&str>,
        claim: Millis,
        until: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        Store::begin_send(self, sink, ids, key, claim, until)
    }
    fn mark_sent(
        &self,
        ids: &[i64],
        now: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        Store::mark_sent(self, ids, now)
    }
    fn mark_quiet(
        &self,
        ids: &[i64],
        now: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        Store::mark_quiet(self, ids, now)
    }
    fn mark_sent_ref(
        &self,
        id: i64,
        now: Millis,
        message_ref: &str,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        Store::mark_sent_ref(self, id, now, message_ref)
    }
    fn sent_updates(
        &self,
        story_key: &str,
    ) -> impl Future<Output = Result<Vec<String>, StoreError>> + Send {
        Store::sent_updates(self, story_key)
    }
    fn mark_retry(
        &self,
        ids: &[i64],
        error: &str,
        next_attempt_at: Millis,
        claim: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        Store::mark_retry(self, ids, error, next_attempt_at, claim)
    }
    fn mark_dead(
        &self,
        ids: &[i64],
        error: &str,
        now: Millis,
        claim: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        Store::mark_dead(self, ids, error, now, claim)
    }
    fn mark_dead_apart(
        &self,
        ids: &[i64],
        error: &str,
        now: Millis,
        claim: Millis,
    ) -> impl Future<Output = Result<bool, StoreError>> + Send {
        Store::mark_dead_apart(self, ids, error, now, claim)
    }
    fn release(
        &self,
        ids: &[i64],
        claim: Millis,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        Store::release(self, ids, claim)
    }
    fn hold_sink(
        &self,
        sink: &str,
        now: Millis,
    ) -> impl Future<Output = Result<SinkHold, StoreError>> + Send {
        Store::hold_sink(self, sink, now)
    }
}
