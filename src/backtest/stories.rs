//! Story grouping in a replay: which matches of a watch with `stories` open a story (alerts),
//! and which join one already alerted (a story update, or nothing when the story already
//! names the feed), as the daemon decided it.
//!
//! Owns [`StoryReplay`] (per watch: a [`StoryIndex`] and each live story's sources) and
//! [`StoryOutcome`], which [`super::Found`] carries. The grouping itself is
//! [`crate::story`]'s; an item is seen as the daemon sees it ([`crate::daemon::stories`]),
//! at the time its poll first stored it.

use std::collections::HashMap;

use crate::feed::FeedItem;
use crate::store::Millis;
use crate::story::{Assignment, StoryConfig, StoryId, StoryIndex};

/// What a match of a watch with stories became.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoryOutcome {
    /// The first item of its story, or the first from a new source of a story whose alert
    /// was dropped as a link repeat: alerted (unless dropped as a link repeat).
    Opens,
    /// A later item from a new source: the story's alert is updated (edited, an event, or a
    /// note, as the sink does it).
    Updates,
    /// A later item from a source the story already names: nothing is sent.
    Quiet,
}

/// One watch's stories during a replay.
pub struct StoryReplay {
    index: StoryIndex,
    live: HashMap<StoryId, Live>,
}

struct Live {
    sources: Vec<String>,
    /// Its alert was enqueued (not dropped as a repeat of a recently alerted link).
    alerted: bool,
}

impl StoryReplay {
    pub fn new(config: StoryConfig) -> StoryReplay {
        StoryReplay {
            index: StoryIndex::new(config),
            live: HashMap::new(),
        }
    }

    /// Place a match of `item` from `feed`, first stored at `now`; the story it opened or
    /// joined, and what it became.
    pub fn place(
        &mut self,
        feed: &str,
        item: &FeedItem,
        link: Option<&str>,
        now: Millis,
    ) -> (StoryId, StoryOutcome) {
        let lead = crate::daemon::stories::lead(item);
        let a = self
            .index
            .assign(&crate::daemon::stories::story_item(item, &lead, link, now));
        let id = a.story();
        let outcome = match (a, self.live.get_mut(&id)) {
            (Assignment::SameStory(..), Some(l)) => {
                if l.sources.iter().any(|s| s == feed) {
                    StoryOutcome::Quiet
                } else if l.alerted {
                    l.sources.push(feed.to_string());
                    StoryOutcome::Updates
                } else {
                    // Its alert was dropped as a link repeat: this report alerts in its place,
                    // as the daemon's does (an update of an alert never sent reaches no one),
                    // and its feed comes first.
                    l.sources.insert(0, feed.to_string());
                    l.alerted = true;
                    StoryOutcome::Opens
                }
            }
            _ => {
                self.live.insert(
                    id,
                    Live {
                        sources: vec![feed.to_string()],
                        alerted: true,
                    },
                );
                StoryOutcome::Opens
            }
        };
        if self.live.len() > 2 * self.index.len() + 64 {
            let index = &self.index;
            self.live.retain(|id, _| index.items_in(*id).is_some());
        }
        (id, outcome)
    }

    /// The alert of story `id` was dropped as a link repeat: the story's next report from
    /// another feed alerts in its place.
    pub fn not_alerted(&mut self, id: StoryId) {
        if let Some(l) = self.live.get_mut(&id) {
            l.alerted = false;
        }
    }
}
