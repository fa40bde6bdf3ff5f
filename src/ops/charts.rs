//! Inline SVG charts for the status page: per watch its alerts per day, per feed a strip of
//! poll results (ok / not modified / failed) and its new items per day.
//!
//! Owns [`alerts_chart`], [`polls_strip`] and [`items_chart`]: pure functions from the
//! report's daily series ([`WatchDayStatus`], [`FeedDayStatus`]) to SVG markup for an HTML
//! page. No scripts, no styles from elsewhere, colours inline, so the page draws the same with
//! no network. Names appear only in text nodes (a `<title>`), escaped, never in attributes.

use crate::ops::http::esc;
use crate::ops::status::{FeedDayStatus, WatchDayStatus};

/// Horizontal room per day, and the bar width within it.
const STEP: u32 = 10;
const BAR: u32 = 8;
/// Height of the bar charts and of the poll strip.
pub const BARS_HEIGHT: u32 = 24;
pub const STRIP_HEIGHT: u32 = 12;

const OK: &str = "#1e8e3e";
const NOT_MODIFIED: &str = "#9aa0a6";
const FAILED: &str = "#d93025";
const NONE: &str = "#dddddd";
const ALERTS: &str = "#e37400";
const ITEMS: &str = "#1a73e8";

/// Bar heights scaled to the largest value (drawn `height` tall); a non-zero value is at
/// least 1 high, so one alert among hundreds still shows.
pub fn bar_heights(values: &[i64], height: u32) -> Vec<u32> {
    let max = values.iter().copied().max().unwrap_or(0).max(1) as f64;
    values
        .iter()
        .map(|&v| {
            if v <= 0 {
                0
            } else {
                ((v as f64 / max) * f64::from(height)).round().max(1.0) as u32
            }
        })
        .collect()
}

/// How `height` divides between counts (each non-zero count at least 1 high); the largest
/// count absorbs the rounding, so the parts always add up to `height` when any is non-zero.
pub fn shares(counts: [i64; 3], height: u32) -> [u32; 3] {
    let total: i64 = counts.iter().map(|c| c.max(&0)).sum();
    if total == 0 {
        return [0; 3];
    }
    let mut out = counts.map(|c| {
        if c > 0 {
            ((c as f64 / total as f64) * f64::from(height))
                .round()
                .max(1.0) as u32
        } else {
            0
        }
    });
    let sum: i64 = out.iter().map(|&h| i64::from(h)).sum();
    let big = (0..3).max_by_key(|&i| counts[i]).unwrap_or(0);
    out[big] = (i64::from(out[big]) + i64::from(height) - sum).max(1) as u32;
    out
}

fn open_svg(class: &str, height: u32, label: &str) -> String {
    let width = STEP * 14;
    format!(
        "<svg class=\"chart {class}\" xmlns=\"http://www.w3.org/2000/svg\" width=\"{width}\" \
         height=\"{height}\" viewBox=\"0 0 {width} {height}\" role=\"img\"><title>{}</title>",
        esc(label)
    )
}

/// One bar per day, `title` per bar (escaped here).
fn bars(class: &str, label: &str, colour: &str, values: &[(i64, String)]) -> String {
    let heights = bar_heights(
        &values.iter().map(|(v, _)| *v).collect::<Vec<_>>(),
        BARS_HEIGHT,
    );
    let mut h = open_svg(class, BARS_HEIGHT, label);
    // A base line, so a chart of zeros still shows its extent.
    h.push_str(&format!(
        "<line x1=\"0\" y1=\"{y}\" x2=\"{}\" y2=\"{y}\" stroke=\"{NONE}\"></line>",
        STEP * 14,
        y = BARS_HEIGHT
    ));
    for (i, ((_, title), bar)) in values.iter().zip(heights).enumerate() {
        h.push_str(&format!(
            "<rect class=\"bar\" x=\"{}\" y=\"{}\" width=\"{BAR}\" height=\"{bar}\" fill=\"{colour}\"><title>{}</title></rect>",
            i as u32 * STEP,
            BARS_HEIGHT - bar,
            esc(title)
        ));
    }
    h.push_str("</svg>");
    h
}

fn plural(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// A watch's alerts per day.
pub fn alerts_chart(watch: &str, days: &[WatchDayStatus]) -> String {
    let values: Vec<(i64, String)> = days
        .iter()
        .map(|d| {
            (
                d.alerts,
                format!("{}: {}", d.date, plural(d.alerts, "alert", "alerts")),
            )
        })
        .collect();
    bars(
        "alerts",
        &format!("alerts per day, watch {watch}"),
        ALERTS,
        &values,
    )
}

/// A feed's new items per day.
pub fn items_chart(feed: &str, days: &[FeedDayStatus]) -> String {
    let values: Vec<(i64, String)> = days
        .iter()
        .map(|d| {
            (
                d.new_items,
                format!(
                    "{}: {}",
                    d.date,
                    plural(d.new_items, "new item", "new items")
                ),
            )
        })
        .collect();
    bars(
        "items",
        &format!("new items per day, feed {feed}"),
        ITEMS,
        &values,
    )
}

/// A feed's polls per day as a strip: each day a column split between failed (top), not
/// modified and ok (bottom) by their share of the day's polls; grey when not polled.
pub fn polls_strip(feed: &str, days: &[FeedDayStatus]) -> String {
    let mut h = open_svg(
        "polls",
        STRIP_HEIGHT,
        &format!("poll results per day, feed {feed}"),
    );
    for (i, d) in days.iter().enumerate() {
        let x = i as u32 * STEP;
        let title = if d.ok + d.not_modified + d.failed == 0 {
            format!("{}: not polled", d.date)
        } else {
            format!(
                "{}: {} ok, {} not modified, {} failed",
                d.date, d.ok, d.not_modified, d.failed
            )
        };
        h.push_str(&format!("<g><title>{}</title>", esc(&title)));
        let [failed, not_modified, ok] = shares([d.failed, d.not_modified, d.ok], STRIP_HEIGHT);
        if failed + not_modified + ok == 0 {
            h.push_str(&format!(
                "<rect class=\"none\" x=\"{x}\" y=\"0\" width=\"{BAR}\" height=\"{STRIP_HEIGHT}\" fill=\"{NONE}\"></rect>"
            ));
        }
        let mut y = 0;
        for (class, colour, height) in [
            ("failed", FAILED, failed),
            ("not-modified", NOT_MODIFIED, not_modified),
            ("ok", OK, ok),
        ] {
            if height > 0 {
                h.push_str(&format!(
                    "<rect class=\"{class}\" x=\"{x}\" y=\"{y}\" width=\"{BAR}\" height=\"{height}\" fill=\"{colour}\"></rect>"
                ));
                y += height;
            }
        }
        h.push_str("</g>");
    }
    h.push_str("</svg>");
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(date: &str, ok: i64, not_modified: i64, failed: i64, new_items: i64) -> FeedDayStatus {
        FeedDayStatus {
            date: date.into(),
            ok,
            not_modified,
            failed,
            new_items,
        }
    }

    #[test]
    fn bars_scale_to_the_largest_and_never_hide_a_small_count() {
        assert_eq!(bar_heights(&[0, 1, 2, 4], 24), vec![0, 6, 12, 24]);
        assert_eq!(bar_heights(&[1, 1000], 24), vec![1, 24]);
        assert_eq!(bar_heights(&[0, 0], 24), vec![0, 0]);
    }

    #[test]
    fn strip_shares_add_up_and_show_one_failure_among_many() {
        assert_eq!(shares([1, 1, 1], 12), [4, 4, 4]);
        assert_eq!(shares([1, 0, 300], 12), [1, 0, 11]);
        assert_eq!(shares([0, 0, 0], 12), [0, 0, 0]);
        assert_eq!(shares([2, 1, 0], 12), [8, 4, 0]);
        for c in [[5, 7, 11], [1, 1, 0], [0, 3, 9], [100, 1, 1]] {
            assert_eq!(shares(c, 12).iter().sum::<u32>(), 12, "{c:?}");
        }
    }

    #[test]
    fn charts_draw_one_mark_per_day_and_escape_names() {
        let name = "<script>alert(1)</script> \"&'";
        let days: Vec<FeedDayStatus> = (0..14)
            .map(|i| day(&format!("2024-10-{:02}", i + 4), i, 1, i64::from(i == 3), i))
            .collect();
        let polls = polls_strip(name, &days);
        assert_eq!(polls.matches("<g>").count(), 14);
        assert_eq!(polls.matches("class=\"failed\"").count(), 1);
        assert!(polls.contains("<title>2024-10-07: 3 ok, 1 not modified, 1 failed</title>"));
        let items = items_chart(name, &days);
        assert_eq!(items.matches("<rect class=\"bar\"").count(), 14);
        assert!(items.contains("height=\"24\" fill=\"#1a73e8\"><title>2024-10-17: 13 new items"));
        let alerts = alerts_chart(
            name,
            &[WatchDayStatus {
                date: "2024-10-04".into(),
                alerts: 1,
            }],
        );
        assert!(alerts.contains("<title>2024-10-04: 1 alert</title>"));
        for svg in [&polls, &items, &alerts] {
            assert!(!svg.contains("<script"), "{svg}");
            assert!(svg.contains("&lt;script&gt;alert(1)&lt;/script&gt; &quot;&amp;&#39;"));
        }
    }
}
