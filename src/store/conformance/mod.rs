//! The [`Store`] contract as tests any backend must pass: generic async test bodies that use
//! only the trait's methods, and the [`store_conformance!`] macro that turns them into one
//! `#[tokio::test]` each for a backend.
//!
//! Owns the shared test vocabulary (a poll's commit, a delivery, prune rules that forget
//! nothing) and the suite's list of tests. The bodies live by area: [`feeds`] (a poll's
//! commit: seen keys, deliveries, repeat suppression), [`polls`] (a feed's stored state),
//! [`upkeep`] (removed feeds, the prune, sink state), [`claims`] (claiming and recording
//! attempts), [`story_claims`] (story updates in the outbox), [`outbox`] (counts, listings, dead letters, clock corrections), [`history`]
//! (daily series and feed health), [`stories`] and [`archive`].
//! Times are plain milliseconds chosen by each test; every test makes its own data, so a
//! backend may give each one a fresh, empty store (PostgreSQL: a fresh database).
//!
//! A backend runs the suite with one line in a test module:
//!
//! ```ignore
//! mod conformance {
//!     crate::store::store_conformance!(crate::store::sqlite::SqliteStore::in_memory().await.unwrap());
//! }
//! ```
//!
//! or, where a store may be unavailable (no database configured), with an expression that
//! yields `Option<S>`: `store_conformance!(optional: make_store().await)`; each test then
//! prints `skipped: …` and passes when it is `None`.

pub(crate) mod archive;
pub(crate) mod claims;
pub(crate) mod feeds;
pub(crate) mod history;
pub(crate) mod outbox;
pub(crate) mod polls;
pub(crate) mod stories;
pub(crate) mod story_claims;
pub(crate) mod upkeep;

use crate::store::{FailureRecord, Millis, NewDelivery, PollCommit, PruneRules, Store};

/// The repeat window of [`commit`].
pub(crate) const WEEK: Millis = 7 * 24 * 3600 * 1000;

/// One UTC day, the unit of the history's day numbers.
pub(crate) const DAY: Millis = crate::store::DAY_MILLIS;

/// A delivery whose idempotency key and item key are both `key`.
pub(crate) fn delivery(key: &str, sink: &str, watch: &str, link: Option<&str>) -> NewDelivery {
    NewDelivery {
        idem_key: key.into(),
        sink: sink.into(),
        watch: watch.into(),
        item_key: key.into(),
        alert_json: "{}".into(),
        canonical_link: link.map(str::to_string),
    }
}

/// The alert of `item` for `watch` to `sink`, keyed as the pipeline keys one (distinct per
/// watch, sink and item).
pub(crate) fn alert(item: &str, sink: &str, watch: &str) -> NewDelivery {
    NewDelivery {
        idem_key: format!("{watch}/{sink}/{item}"),
        ..delivery(item, sink, watch, None)
    }
}

/// A commit of `keys` for feed `feed` (URL `https://FEED.example/rss`) at `now`, next poll a
/// minute later, with a week's repeat window.
pub(crate) fn commit(
    feed: &str,
    now: Millis,
    keys: &[&str],
    deliveries: Vec<NewDelivery>,
) -> PollCommit {
    PollCommit {
        feed: feed.into(),
        config_url: url(feed),
        now,
        next_poll_at: now + 60_000,
        item_keys: keys.iter().map(|k| k.to_string()).collect(),
        deliveries,
        repeat_window_ms: WEEK,
        ..Default::default()
    }
}

/// The configured URL [`commit`] gives `feed`.
pub(crate) fn url(feed: &str) -> String {
    format!("https://{feed}.example/rss")
}

/// A commit whose new items are archived too.
pub(crate) fn archived(feed: &str, now: Millis, keys: &[&str]) -> PollCommit {
    let items: Vec<crate::feed::FeedItem> = keys
        .iter()
        .map(|k| crate::feed::FeedItem::titled(k, &format!("item {k}")))
        .collect();
    let refs: Vec<_> = items.iter().map(|i| (i, true)).collect();
    PollCommit {
        archive: crate::store::archive::encode(&refs, &[]).unwrap(),
        ..commit(feed, now, keys, vec![])
    }
}

/// Rules that forget nothing; tests set the one cut they are about.
pub(crate) fn keep_all() -> PruneRules {
    PruneRules {
        seen_before: 0,
        links_before: 0,
        sent_before: 0,
        dead_before: 0,
        removed_before: 0,
        stories_before: 0,
    }
}

/// Commit `keys` of `feed` at `now`, each with an alert (idempotency key = item key, watch
/// `w`) to `sink`.
pub(crate) async fn add<S: Store>(s: &S, feed: &str, now: Millis, keys: &[&str], sink: &str) {
    let deliveries = keys.iter().map(|k| delivery(k, sink, "w", None)).collect();
    s.commit_poll(&commit(feed, now, keys, deliveries))
        .await
        .unwrap();
}

/// A failed poll of `feed` at `now` (HTTP 500, next poll a minute later).
pub(crate) async fn fail<S: Store>(s: &S, feed: &str, now: Millis, failures: u32) {
    s.record_failure(&FailureRecord {
        feed,
        config_url: &url(feed),
        error: "HTTP 500",
        failures,
        html_streak: 0,
        now,
        next_poll_at: now + 60_000,
    })
    .await
    .unwrap();
}

/// A 304 of `feed` at `now` (next poll a minute later).
pub(crate) async fn not_modified<S: Store>(s: &S, feed: &str, now: Millis) {
    s.record_not_modified(feed, &url(feed), now, now + 60_000)
        .await
        .unwrap();
}

/// Every row of the outbox in `state`.
pub(crate) async fn listed<S: Store>(s: &S, state: &str) -> Vec<crate::store::DeliveryRow> {
    s.list_deliveries(state, 1_000_000).await.unwrap()
}

/// The summary's counts agree with the rows listed in each state, after every kind of change
/// (a backend may keep the counts apart from the rows, as SQLite's triggers do).
pub(crate) async fn counts_agree<S: Store>(s: &S) {
    let sum = s.outbox_summary().await.unwrap();
    assert_eq!(
        (sum.pending, sum.sent, sum.dead),
        (
            listed(s, "pending").await.len() as i64,
            listed(s, "sent").await.len() as i64,
            listed(s, "dead").await.len() as i64,
        )
    );
}

/// Generates one `#[tokio::test]` per conformance test, each running its body against the
/// store `$make` evaluates to (in the test's own async context, so it may `.await`).
/// `optional: $make` takes an `Option` of a store and skips the test on `None`.
macro_rules! store_conformance {
    (@tests $mode:tt $make:expr; $($area:ident :: $test:ident),* $(,)?) => {
        $(
            #[tokio::test]
            async fn $test() {
                $crate::store::conformance::store_conformance!(@store $mode $make, store);
                $crate::store::conformance::$area::$test(store).await
            }
        )*
    };
    (@store (always) $make:expr, $store:ident) => {
        let $store = $make;
    };
    (@store (optional) $make:expr, $store:ident) => {
        let Some($store) = $make else {
            eprintln!("skipped: no store ({} gave none)", stringify!($make));
            return;
        };
    };
    (@suite $mode:tt $make:expr) => {
        $crate::store::conformance::store_conformance!(@tests $mode $make;
            feeds::commit_marks_seen_and_enqueues_once,
            feeds::a_later_commit_refreshes_known_keys_and_counts_only_new_ones,
            feeds::known_items_are_per_feed,
            feeds::cross_feed_repeats_are_suppressed_and_counted,
            feeds::a_link_seen_before_the_repeat_window_alerts_again,
            feeds::a_link_is_judged_once_per_watch_not_per_sink,
            feeds::idempotency_keys_enqueued_twice_stay_one_row,
            feeds::a_repeated_commit_does_not_count_its_alerts_twice,
            polls::a_commit_stores_the_polls_feed_state,
            polls::a_changed_url_forgets_validators_and_moves,
            polls::one_feeds_state_is_read_back_by_name,
            polls::feed_states_of_reads_the_listed_feeds_in_one_call,
            polls::feeds_at_url_finds_every_name_last_configured_with_it,
            polls::a_commit_seen_from_another_feed_keeps_what_that_feed_saw,
            polls::keys_seen_from_another_feed_keep_the_latest_documents_spare,
            polls::a_failed_poll_is_stored_with_its_error_count_and_next_time,
            polls::a_failure_keeps_the_validators_and_the_last_success,
            polls::a_304_stores_the_poll_and_keeps_the_validators,
            polls::a_304_for_an_unknown_feed_or_a_changed_url_is_not_a_baseline,
            upkeep::sink_state_persists,
            upkeep::sink_state_is_kept_per_sink_and_key,
            upkeep::removed_feeds_are_pruned_after_the_retention,
            upkeep::a_feed_still_polled_is_not_pruned_as_removed,
            upkeep::prune_spares_the_latest_document_of_a_quiet_feed,
            upkeep::prune_forgets_old_rows,
            upkeep::prune_forgets_link_memory_before_links_before,
            claims::claims_are_leased_ordered_and_released,
            claims::claim_due_takes_the_oldest_due_first_up_to_the_limit,
            claims::a_lease_ends_at_lease_until,
            claims::a_claim_takes_a_stored_group_whole,
            claims::a_lone_attempt_keeps_its_key_across_retries,
            claims::a_retry_is_due_at_its_time_and_drops_the_lease,
            claims::a_sent_delivery_is_listed_with_its_time_and_not_claimed_again,
            claims::sends_since_counts_a_sinks_messages,
            story_claims::a_story_update_waits_for_its_alert_and_carries_its_message_ref,
            story_claims::the_sent_updates_of_a_story_are_read_back,
            story_claims::a_story_update_without_its_alert_waits_then_is_an_orphan,
            story_claims::retry_dead_leaves_an_update_a_newer_edit_covered_dead,
            story_claims::retry_dead_revives_the_updates_of_a_digest_of_notes_each_alone,
            story_claims::an_update_of_an_alert_that_never_went_to_its_sink_is_not_queued,
            story_claims::a_story_update_of_an_alert_sent_without_a_ref_or_dead_has_no_ref,
            story_claims::an_update_committed_with_its_alert_waits_for_it,
            story_claims::older_updates_of_a_story_are_claimed_with_a_newer_one,
            story_claims::a_digest_of_notes_comes_whole_with_a_newer_update_of_one_of_its_stories,
            claims::a_late_failure_never_overwrites_a_sent_delivery,
            claims::a_late_failure_leaves_the_claim_taken_since,
            claims::a_release_gives_a_claim_back_without_an_attempt,
            claims::releasing_a_sink_frees_its_leased_deliveries_only,
            outbox::counts_follow_every_change_and_alerts_are_counted_once_per_watch_and_item,
            outbox::the_summary_names_the_oldest_pending_delivery,
            outbox::deliveries_are_listed_newest_first_with_their_fields,
            outbox::status_lists_the_longest_waiting_pending_deliveries,
            outbox::alert_counts_are_kept_per_watch,
            outbox::dead_letters_can_be_listed_and_retried,
            outbox::a_digest_partly_sent_revives_its_dead_alerts_under_their_own_keys,
            outbox::a_row_that_dies_apart_from_its_unit_takes_its_own_key,
            outbox::a_revived_dead_letter_is_due_now_with_its_attempts_reset,
            outbox::deliveries_of_removed_sinks_become_dead_letters,
            outbox::a_delivery_in_flight_to_a_removed_sink_is_left_to_its_worker,
            outbox::retry_dead_leaves_dead_letters_of_removed_sinks_dead,
            outbox::retry_now_counts_the_retries_it_brings_forward,
            outbox::purging_dead_letters_counts_what_it_deleted,
            outbox::dead_letters_are_pruned_after_dead_retention_and_purged_on_request,
            outbox::times_from_the_future_are_clamped_at_start,
            outbox::claims_from_the_future_are_clamped_at_start,
            outbox::clamping_leaves_times_within_the_horizon_and_finished_rows_alone,
            outbox::a_clock_step_moves_the_stored_schedule_along,
            outbox::a_clock_step_moves_leases_too,
            outbox::a_clock_step_moves_the_time_a_feed_began_to_fail,
            history::a_clock_step_of_hours_moves_the_arrivals_silence_is_judged_on,
            history::each_poll_item_and_alert_counts_once_on_its_own_day,
            history::failing_since_is_the_first_failure_of_the_run_and_clears_on_success,
            history::arrivals_leave_out_the_baseline_and_group_one_polls_items,
            history::feed_health_lists_every_feed_with_its_last_item_day,
            history::a_health_change_is_recorded_once_with_its_alerts,
            history::a_health_change_from_a_state_not_stored_is_refused,
            history::history_keeps_about_a_month_behind_the_newest_day,
            history::history_of_a_clock_that_ran_ahead_is_counted_on_today,
            history::a_story_update_is_not_counted_as_an_alert,
            stories::story_items_are_read_back_in_grouping_order_from_a_time,
            stories::story_items_are_pruned_before_stories_before,
            stories::a_story_opened_by_a_suppressed_repeat_is_stored_without_its_alert,
            archive::a_polls_new_items_are_archived_with_its_commit_and_read_back_in_commit_order,
            archive::archive_pages_and_totals_start_at_since,
            archive::archive_prune_removes_records_first_seen_before_the_cut,
        );
    };
    (optional: $make:expr) => {
        $crate::store::conformance::store_conformance!(@suite (optional) $make);
    };
    ($make:expr) => {
        $crate::store::conformance::store_conformance!(@suite (always) $make);
    };
}
pub(crate) use store_conformance;
