//! A watch's story grouping settings: `stories`, `story_threshold`, `story_window`.
//!
//! Owns [`stories`], which turns them into [`StoryConfig`]s keyed by watch name (only the
//! watches that group), every error located at its key.

use std::collections::BTreeMap;

use crate::config::error::ConfigError;
use crate::config::raw::RawWatch;
use crate::story::{DEFAULT_THRESHOLD, DEFAULT_WINDOW, StoryConfig};

/// Whether a watch groups items into stories when it does not say. Off until the grouping's
/// precision on the labelled set reaches its goal: a wrong grouping hides a different story.
pub const STORIES_BY_DEFAULT: bool = false;

/// The grouping settings of every watch that groups. A threshold or window given to a watch
/// that does not group is an error: the user believes something is on that is not.
pub fn stories(raw: &[RawWatch], errors: &mut Vec<ConfigError>) -> BTreeMap<String, StoryConfig> {
    let mut out = BTreeMap::new();
    for w in raw {
        let Some(name) = &w.name else { continue };
        let name = &name.value;
        let on = w.stories.as_ref().map_or(STORIES_BY_DEFAULT, |s| s.value);
        // Both settings are checked before either error ends the watch: `check` lists every
        // error at once (a bad threshold hid a bad window).
        let threshold = match &w.story_threshold {
            None => Some(DEFAULT_THRESHOLD),
            Some(t) if (0.0..=1.0).contains(&t.value) && t.value > 0.0 => Some(t.value),
            Some(t) => {
                errors.push(t.loc.error(format!(
                    "watch `{name}`: `story_threshold` must be a number above 0 and at most 1, \
                     got {}",
                    t.value
                )));
                None
            }
        };
        let window = match super::duration(&w.story_window, "story_window", errors) {
            // Its range, at the setting at fault.
            Some(d) => match StoryConfig::new(d, DEFAULT_THRESHOLD) {
                Ok(_) => Some(d),
                Err(e) => {
                    let loc = w.story_window.as_ref().map_or(&w.loc, |s| &s.loc);
                    errors.push(loc.error(format!("watch `{name}`: {e}")));
                    None
                }
            },
            // Written but invalid: reported by `duration`.
            None if w.story_window.is_some() => None,
            None => Some(DEFAULT_WINDOW),
        };
        if !on {
            if let Some(loc) = w
                .story_threshold
                .as_ref()
                .map(|t| &t.loc)
                .or(w.story_window.as_ref().map(|t| &t.loc))
            {
                errors.push(loc.error(format!(
                    "watch `{name}`: story settings are given but stories are off for it \
                     (add `stories = true`)"
                )));
            }
            continue;
        }
        let (Some(threshold), Some(window)) = (threshold, window) else {
            continue;
        };
        match StoryConfig::new(window, threshold) {
            Ok(c) => {
                out.insert(name.clone(), c);
            }
            // Both were checked above; kept for a rule StoryConfig may add.
            Err(e) => errors.push(w.loc.error(format!("watch `{name}`: {e}"))),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    fn load(watch_extra: &str) -> Result<crate::plan::Plan, String> {
        crate::plan::load_str(
            std::path::Path::new("t.toml"),
            format!(
                "[[feed]]\nname = \"f\"\nurl = \"https://x.example/rss\"\n\n\
                 [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
                 [[watch]]\nname = \"w\"\nterms = [\"Kursk\"]\n{watch_extra}\n"
            ),
        )
        .map_err(|e| e.to_string())
    }

    #[test]
    fn stories_are_off_unless_a_watch_turns_them_on() {
        assert!(load("").unwrap().stories.is_empty());
        assert!(load("stories = false").unwrap().stories.is_empty());
        let p = load("stories = true").unwrap();
        let c = p.stories["w"];
        assert_eq!(c.window(), Duration::from_secs(48 * 3600));
        assert_eq!(c.threshold(), crate::story::DEFAULT_THRESHOLD);
    }

    #[test]
    fn a_watch_sets_its_own_threshold_and_window() {
        let p = load("stories = true\nstory_threshold = 0.4\nstory_window = \"6h\"").unwrap();
        let c = p.stories["w"];
        assert_eq!(c.threshold(), 0.4);
        assert_eq!(c.window(), Duration::from_secs(6 * 3600));
        // An integer is a number too.
        assert_eq!(
            load("stories = true\nstory_threshold = 1").unwrap().stories["w"].threshold(),
            1.0
        );
    }

    #[test]
    fn bad_story_settings_are_errors_at_their_line() {
        for (extra, line, says) in [
            (
                "stories = true\nstory_threshold = 1.5",
                13,
                "story_threshold",
            ),
            ("stories = true\nstory_threshold = 0.0", 13, "above 0"),
            (
                "stories = true\nstory_threshold = \"high\"",
                13,
                "must be a number",
            ),
            (
                "stories = true\nstory_window = \"soon\"",
                13,
                "story_window",
            ),
            // Regression: a window the grouping refuses was reported at `[[watch]]` (line 9).
            (
                "stories = true\nstory_window = \"500ms\"",
                13,
                "story_window",
            ),
            // Regression: a window past the 30 days of rows a restart reads was accepted; the
            // grouping differed after a restart (stories reopened, alerted twice).
            ("stories = true\nstory_window = \"45d\"", 13, "to 15 days"),
            // Regression: a 16-day window was accepted, and its story could outlive the 30
            // days of rows a restart rebuilds from.
            ("stories = true\nstory_window = \"16d\"", 13, "to 15 days"),
            // Regression: a bad threshold ended the watch's checks, and its bad window was
            // reported only once the threshold was fixed.
            (
                "stories = true\nstory_threshold = 2.0\nstory_window = \"31d\"",
                14,
                "from one second to 15 days (a story stays open up to twice its window, and a \
                 restart rebuilds the grouping from 30 days), got 31d",
            ),
            ("stories = \"yes\"", 12, "true or false"),
            ("story_threshold = 0.3", 12, "stories are off"),
            ("storys = true", 12, "did you mean `stories`"),
        ] {
            let e = load(extra).unwrap_err();
            assert!(e.contains(says), "{extra}: {e}");
            assert!(e.contains(&format!("t.toml:{line}")), "{extra}: {e}");
        }
    }
}
