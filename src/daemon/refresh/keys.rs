//! A document's items as the store knows them: each distinct item once, the keys to look up,
//! which items are known, and the keys a commit stores.
//!
//! Owns [`DocKeys`]. An item without id and link is keyed by its text and date, and is also
//! known by its text alone ([`text_alias`]): a feed that dates every item with the time it
//! built the document gave each one a new key at every poll, and every match alerted again.
//! Such an item is stored under its text key, so a redated item adds no row (before, one per
//! item and poll, kept for the retention and each counted as a new item); one stored under
//! its dated key by an earlier release keeps that key.

use std::collections::HashSet;

use crate::feed::{FeedItem, text_alias};

/// The distinct items of a document and their keys.
pub(super) struct DocKeys {
    /// The index of each distinct item (its first listing), in document order.
    pub firsts: Vec<usize>,
    /// Each distinct item's text key, for the items without id and link.
    aliases: Vec<Option<String>>,
    /// The keys to ask the store about: every item's key, then the text keys.
    pub lookup: Vec<String>,
}

impl DocKeys {
    pub fn of(items: &[FeedItem]) -> DocKeys {
        // A feed listing an item twice is one item.
        let mut in_doc = HashSet::new();
        let mut firsts = Vec::with_capacity(items.len());
        let mut lookup = Vec::with_capacity(items.len());
        for (i, it) in items.iter().enumerate() {
            if in_doc.insert(it.key.0.as_str()) {
                lookup.push(it.key.0.clone());
                firsts.push(i);
            }
        }
        let aliases: Vec<Option<String>> = firsts.iter().map(|&i| text_alias(&items[i])).collect();
        let mut aliased = HashSet::new();
        for a in aliases.iter().flatten() {
            if aliased.insert(a.as_str()) {
                lookup.push(a.clone());
            }
        }
        DocKeys {
            firsts,
            aliases,
            lookup,
        }
    }

    /// Whether each distinct item is known, by its key or its text (`known`: the lookup's
    /// keys the store has).
    pub fn known(&self, items: &[FeedItem], known: &HashSet<String>) -> Vec<bool> {
        self.firsts
            .iter()
            .zip(&self.aliases)
            .map(|(&i, alias)| {
                known.contains(&items[i].key.0) || alias.as_ref().is_some_and(|a| known.contains(a))
            })
            .collect()
    }

    /// The unknown items' keys that are http(s) URLs, each with its other spellings
    /// ([`respelled`]), when most of the document is unknown (`is_known`, from
    /// [`Self::known`]) and two items at least: a site that moved to https (or to or from
    /// `www.`) rewrote every guid, and each of its items alerted again. Not asked otherwise:
    /// a usual poll has one or two new items, and a second lookup for them would double the
    /// poll's reads for nothing.
    pub fn respellings(&self, items: &[FeedItem], is_known: &[bool]) -> Vec<(String, String)> {
        let unknown = is_known.iter().filter(|k| !**k).count();
        if unknown < 2 || unknown * 2 <= is_known.len() {
            return Vec::new();
        }
        self.firsts
            .iter()
            .zip(is_known)
            .filter(|(_, known)| !**known)
            .flat_map(|(&i, _)| {
                let key = &items[i].key.0;
                respelled(key).into_iter().map(|alt| (key.clone(), alt))
            })
            .collect()
    }

    /// The keys the commit stores, each once: an item's key, or its text key when it has
    /// one and was not stored under its key before.
    pub fn stored(&self, items: &[FeedItem], known: &HashSet<String>) -> Vec<String> {
        let mut seen = HashSet::new();
        self.firsts
            .iter()
            .zip(&self.aliases)
            .map(|(&i, alias)| match alias {
                Some(a) if !known.contains(&items[i].key.0) => a.clone(),
                _ => items[i].key.0.clone(),
            })
            .filter(|k| seen.insert(k.clone()))
            .collect()
    }
}

/// The other spellings of `key` when it is an http(s) URL: the other scheme, the host with or
/// without a leading `www.`, and both; none otherwise.
pub(super) fn respelled(key: &str) -> Vec<String> {
    let Ok(u) = url::Url::parse(key) else {
        return Vec::new();
    };
    let (Some(host), true) = (u.host_str(), matches!(u.scheme(), "http" | "https")) else {
        return Vec::new();
    };
    let other_scheme = if u.scheme() == "http" {
        "https"
    } else {
        "http"
    };
    let other_host = match host.strip_prefix("www.") {
        Some(bare) => bare.to_string(),
        None => format!("www.{host}"),
    };
    // Respelled by hand on the key as written (a parsed URL written back may differ from
    // the guid byte for byte: an escaped character, a default port).
    let Some((_, rest)) = key.split_once("://") else {
        return Vec::new();
    };
    let Some(rest_after_host) = rest.strip_prefix(host) else {
        return Vec::new();
    };
    vec![
        format!("{other_scheme}://{host}{rest_after_host}"),
        format!("{}://{other_host}{rest_after_host}", u.scheme()),
        format!("{other_scheme}://{other_host}{rest_after_host}"),
    ]
}

/// The new items of a poll (`fresh`: indexes into `items`, in document order) in the order
/// they were published, oldest first: by date when every one is dated, else the document's
/// order reversed (feeds list the newest first). Their alerts are queued, and sent, in that
/// order, so a chat channel reads in the order of the news with the newest at the bottom
/// (before, a poll's alerts went newest first), and the first report of a story opens it.
pub(super) fn oldest_first<T>(items: &[FeedItem], fresh: &mut [(usize, T)]) {
    fresh.reverse();
    if fresh.iter().all(|(i, _)| items[*i].published.is_some()) {
        // Stable: items of one date keep the reversed document's order.
        fresh.sort_by_key(|(i, _)| items[*i].published);
    }
}

/// A whole document's items in the order [`oldest_first`] queues them (`try` judges every
/// item as new).
pub(crate) fn oldest_items_first(items: &mut Vec<FeedItem>) {
    let mut order: Vec<(usize, ())> = (0..items.len()).map(|i| (i, ())).collect();
    oldest_first(items, &mut order);
    let mut slots: Vec<Option<FeedItem>> = std::mem::take(items).into_iter().map(Some).collect();
    items.extend(
        order
            .into_iter()
            .filter_map(|(i, ())| slots.get_mut(i)?.take()),
    );
}
