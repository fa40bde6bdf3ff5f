//! `[daemon] health_sinks` and `health_after`, checked into
//! [`crate::daemon::health::HealthSettings`].

use crate::config::error::ConfigError;
use crate::config::plan::SinkPlan;
use crate::config::raw::{RawDaemon, RawWatch, Sp};
use crate::daemon::health::{HEALTH_WATCH, HealthSettings};

/// The two keys, taken out of `[daemon]` before the rest of it is checked: they are checked
/// against the sinks, which come later.
pub struct RawHealth {
    sinks: Option<Sp<Vec<Sp<String>>>>,
    after: Option<Sp<String>>,
}

impl RawHealth {
    pub fn take(d: &mut RawDaemon) -> RawHealth {
        RawHealth {
            sinks: d.health_sinks.take(),
            after: d.health_after.take(),
        }
    }
}

/// The health settings: every sink named must be configured (did-you-mean otherwise), and
/// no watch may take the name health alerts are sent under.
pub fn settings<C>(
    raw: RawHealth,
    watches: &[RawWatch],
    sinks: &[SinkPlan<C>],
    unusable: &super::Unusable<'_>,
    errors: &mut Vec<ConfigError>,
) -> HealthSettings {
    let mut out = HealthSettings::default();
    if let Some(d) = super::duration(&raw.after, "health_after", errors) {
        out.after = d;
    }
    for s in raw.sinks.iter().flat_map(|l| &l.value) {
        if super::known_sink(s, sinks, unusable, "`health_sinks`", errors)
            && !out.sinks.contains(&s.value)
        {
            out.sinks.push(s.value.clone());
        }
    }
    for n in watches.iter().filter_map(|w| w.name.as_ref()) {
        if n.value == HEALTH_WATCH {
            errors.push(n.loc.error(format!(
                "watch name `{HEALTH_WATCH}` is reserved: feed health alerts are sent under it"
            )));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::time::Duration;

    fn load(daemon: &str, watch: &str) -> Result<crate::plan::Plan, String> {
        crate::plan::load_str(
            Path::new("t.toml"),
            format!(
                "[daemon]\n{daemon}\n\n[[sink]]\nname = \"ops\"\ntype = \"stdout\"\n\n\
                 [[watch]]\nname = \"{watch}\"\nterms = [\"troops\"]\n"
            ),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn health_sinks_must_be_configured_sinks_and_health_after_a_duration() {
        let p = load("health_sinks = [\"ops\"]\nhealth_after = \"90m\"", "w").unwrap();
        assert_eq!(p.daemon.health.sinks, ["ops"]);
        assert_eq!(p.daemon.health.after, Duration::from_secs(5400));
        let p = load("", "w").unwrap();
        assert!(p.daemon.health.sinks.is_empty());
        assert_eq!(p.daemon.health.after, Duration::from_secs(6 * 3600));
        let e = load("health_sinks = [\"opz\"]\nhealth_after = \"soon\"", "w").unwrap_err();
        assert!(
            e.contains("t.toml:2:17: `health_sinks`: unknown sink `opz` (did you mean `ops`?)"),
            "{e}"
        );
        assert!(e.contains("t.toml:3:16: `health_after` = \"soon\""), "{e}");
    }

    #[test]
    fn no_watch_may_be_named_like_health_alerts() {
        let e = load("", "feed health").unwrap_err();
        assert!(e.contains("watch name `feed health` is reserved"), "{e}");
    }
}
