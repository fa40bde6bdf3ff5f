//! Which host a feed counts with: the configured URL's ([`host_key`]), or the host a
//! permanent redirect moved it to ([`lives_on`]). The admission, the per-host permits and
//! the PostgreSQL claims count a feed's polls per host.

use crate::config::{FeedPlan, FeedSource};
use crate::store::FeedState;

/// A source's host, lower case (`""` for a local file).
pub(super) fn host_key(source: &FeedSource) -> String {
    match source {
        FeedSource::Http(u) => u.host_str().unwrap_or("").to_ascii_lowercase(),
        FeedSource::File(_) => String::new(),
    }
}

/// The host `feed` lives on: a permanent redirect's, while its configured URL is the one
/// the redirect was found on, else the configured URL's. (A failing moved feed alternates
/// between the two on its polls; it is counted with the host it moved to.)
pub(super) fn lives_on(feed: &FeedPlan, state: Option<&FeedState>) -> String {
    crate::daemon::refresh::moved_to(feed, state).map_or_else(
        || host_key(&feed.source),
        |u| host_key(&FeedSource::Http(u)),
    )
}
