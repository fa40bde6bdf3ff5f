//! Elements the parser builds a structure for, repeated past what those structures are worth:
//! the last of them dropped before it reads them.
//!
//! Owns [`drop_costly_repeats`]. feed-rs keeps every link, category, author, enclosure, media
//! content, thumbnail (and the other list fields of [`cost`]) an item holds, each as a structure
//! of a few hundred bytes built from an element of a few dozen: 16 MiB of `<link>a</link>` in
//! one item took 488 MB, of `<media:thumbnail url="…"/>` 424 MB, of `<enclosure url="…"/>`
//! 391 MB; 70 `<media:content>`s in each of 7,000 items 265 MB (the item cap bounds items, not
//! what each holds). Each such element is estimated at what the parser keeps for one of its
//! kind plus its bytes; where the document's add up past [`BUDGET`], the elements of a name
//! under one element past its first `K` are dropped, whole, `K` the most that keeps what is
//! left within the budget (never less than one: an item keeps its first link, its first
//! enclosure). A feed as sites publish it costs a fraction of the budget (10,000 items of a
//! link, three categories, an enclosure, a thumbnail and a media content: some 40 MB) and is
//! read as it is.
//! Crossing the boundary: decoded text in, the rewritten text out (`None` when it is cheap).

use std::ops::Range;

use super::lexical::{Mark, marks};
use super::splice;

/// What the parser may be made to keep for the elements of [`cost`].
const BUDGET: u64 = 64 * 1024 * 1024;

/// The most the estimate can count for a byte of text: an element of [`NAMES`] takes seven
/// bytes at least (`<link/>`) and is counted at 1,024 at most besides its bytes, and a byte is
/// among the bytes of as many elements as nest around it (the depth check refuses a document
/// nested past [`crate::feed::parse::depth::MAX_DEPTH`] before this runs). Documents under
/// some 240 KB are never read.
const MOST_PER_BYTE: u64 = 1024 / 7 + 1 + crate::feed::parse::depth::MAX_DEPTH as u64;

/// Deepest nesting followed: the depth check ([`crate::feed::parse`]) refuses deeper
/// documents before this runs; the bound keeps this scan's own stack small without it.
const MAX_DEPTH: usize = 1024;

/// Positions under one element told apart by the estimate: the elements past this many of a
/// name are counted together, so a cut keeps at most this many of a name (far more than
/// any item needs: an item keeps 256 categories and authors, see
/// [`crate::feed::item::MAX_LIST`]).
const MAX_TRACKED: usize = 4096;

/// The names feed-rs 3 keeps a structure for each time they occur (compared by local name,
/// whatever the prefix: one not read as such only makes the estimate higher), with what it
/// keeps beyond the element's bytes (measured, with one character of text: a `<link>a</link>`
/// about 370 bytes, an `<enclosure>` 580, a `<media:thumbnail>` or `<itunes:image>` 800 to
/// 840, a `<category>` 190); `None` for the others, which it reads once or not at all.
fn cost(local: &str) -> Option<(usize, u64)> {
    let kind = NAMES.iter().position(|name| *name == local)?;
    let cost = match local {
        "thumbnail" | "image" => 1024,
        "enclosure" | "content" => 640,
        _ => 384,
    };
    Some((kind, cost))
}

const NAMES: [&str; 19] = [
    "link",
    "commentRSS",
    "transcript",
    "category",
    "author",
    "contributor",
    "creator",
    "managingEditor",
    "webMaster",
    "owner",
    "comments",
    "commentRss",
    "enclosure",
    "content",
    "thumbnail",
    "image",
    "credit",
    "text",
    "person",
];

/// Drops the elements of [`cost`]'s names past the first `K` of each name under each element,
/// when what the parser would keep for them passes [`BUDGET`]; `None` when it does not (or
/// nothing is left to drop).
pub(crate) fn drop_costly_repeats(text: &str) -> Option<String> {
    // Most documents are too short to pass the budget whatever they hold: read only the others.
    if (text.len() as u64).saturating_mul(MOST_PER_BYTE) <= BUDGET {
        return None;
    }
    let survey = Survey::of(text, None)?;
    if survey.total <= BUDGET {
        return None;
    }
    let keep = survey.keep_within(BUDGET);
    let cuts = Survey::of(text, Some(keep))?.cuts;
    (!cuts.is_empty()).then(|| splice(text, cuts.into_iter().map(|c| (c, "")).collect()))
}

/// An open element.
struct Frame {
    tag_start: usize,
    /// The open element (its index) its children are counted under: its own, but a media
    /// content's children are the scope's around it to the parser (a `<media:content>` inside
    /// one is the item's, and so are their thumbnails), so they count there: a chain of
    /// nested contents, each the first under its parent, was otherwise never cut.
    owner: usize,
    /// Its kind ([`NAMES`]'s index) and cost when it is one of them, and how many of its name
    /// came before it under the same element.
    costed: Option<(u64, usize)>,
    /// How many of each of [`NAMES`] were opened directly under it so far.
    children: [u32; NAMES.len()],
}

/// What a document's costed elements add up to, by their position among their name under
/// their element, and what to cut to keep the first `keep` of each.
struct Survey {
    total: u64,
    /// `by_position[i]`: the cost of the elements that are the `i+1`-th of their name.
    by_position: Vec<u64>,
    keep: Option<usize>,
    cuts: Vec<Range<usize>>,
}

impl Survey {
    /// The costs of `text`'s elements, and (with `keep`) the elements past the first `keep` of
    /// their name to cut; `None` for a document nested past [`MAX_DEPTH`].
    fn of(text: &str, keep: Option<usize>) -> Option<Survey> {
        let mut survey = Survey {
            total: 0,
            by_position: Vec::new(),
            keep,
            cuts: Vec::new(),
        };
        let mut open: Vec<Frame> = Vec::new();
        for mark in marks(text) {
            let tag = mark.span();
            if let Mark::End(_) = mark {
                if let Some(frame) = open.pop() {
                    survey.close(frame, tag.end);
                }
                continue;
            }
            let qualified = mark.name(text);
            let local = qualified.rsplit(':').next().unwrap_or(qualified);
            let counter = open.last().map(|parent| parent.owner);
            let costed = cost(local).map(|(kind, cost)| {
                let position = match counter.and_then(|i| open.get_mut(i)) {
                    Some(parent) => {
                        let count = &mut parent.children[kind];
                        *count = count.saturating_add(1);
                        *count as usize - 1
                    }
                    None => 0,
                };
                (cost, position)
            });
            let owner = match counter {
                Some(around) if local == "content" => around,
                _ => open.len(),
            };
            let frame = Frame {
                tag_start: tag.start,
                owner,
                costed,
                children: [0; NAMES.len()],
            };
            if matches!(mark, Mark::Empty(_)) {
                survey.close(frame, tag.end);
            } else if open.len() == MAX_DEPTH {
                return None;
            } else {
                open.push(frame);
            }
        }
        // Elements left open (a truncated document) end where the text ends.
        while let Some(frame) = open.pop() {
            survey.close(frame, text.len());
        }
        Some(survey)
    }

    /// Accounts for an element read up to `end` (just past its end tag, or its empty tag).
    fn close(&mut self, frame: Frame, end: usize) {
        let Some((cost, position)) = frame.costed else {
            return;
        };
        let element = frame.tag_start..end;
        match self.keep {
            None => {
                let cost = cost.saturating_add(element.len() as u64);
                self.total = self.total.saturating_add(cost);
                let at = position.min(MAX_TRACKED);
                if self.by_position.len() <= at {
                    self.by_position.resize(at + 1, 0);
                }
                self.by_position[at] = self.by_position[at].saturating_add(cost);
            }
            Some(keep) if position >= keep => self.cuts.push(element),
            Some(_) => {}
        }
    }

    /// The most elements of a name under one element that can be kept with what they cost
    /// within `budget`: at least one.
    fn keep_within(&self, budget: u64) -> usize {
        let mut spent = 0u64;
        for (position, cost) in self.by_position.iter().enumerate() {
            spent = spent.saturating_add(*cost);
            if spent > budget {
                return position.max(1);
            }
        }
        self.by_position.len().max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEAD: &str = r#"<rss version="2.0"><channel><title>t</title>"#;
    const TAIL: &str = "</channel></rss>";

    fn survey(inner: &str) -> Survey {
        match Survey::of(&format!("{HEAD}{inner}{TAIL}"), None) {
            Some(survey) => survey,
            None => panic!("the survey reads {inner:.80}"),
        }
    }

    #[test]
    fn each_costed_element_counts_at_its_position_among_its_name() {
        let link = "<link>a</link>";
        let s = survey(&format!(
            "<item>{link}{link}<category>b</category></item><item>{link}</item>"
        ));
        let l = 384 + link.len() as u64;
        let c = 384 + "<category>b</category>".len() as u64;
        // Two first links and the first category; one second link.
        assert_eq!(s.by_position, vec![2 * l + c, l]);
        assert_eq!(s.total, 3 * l + c);
        // Names read once (a title, an item) and unknown ones cost nothing here.
        assert_eq!(survey("<item><title>x</title><x/><x/></item>").total, 0);
    }

    #[test]
    fn a_prefix_does_not_hide_a_name_and_positions_are_per_parent() {
        let s = survey(
            "<item><atom:link href='a'/><link>b</link></item>\
             <item><media:group><media:thumbnail url='a'/></media:group><media:thumbnail url='b'/></item>",
        );
        // `atom:link` and `link` are both links of the item; each item's thumbnail is the
        // first under its own parent.
        assert_eq!(s.by_position.len(), 2);
        assert_eq!(
            s.by_position[1],
            384 + "<link>b</link>".len() as u64,
            "{:?}",
            s.by_position
        );
    }

    #[test]
    fn a_media_contents_children_count_under_the_scope_around_it() {
        // Nested contents (and their thumbnails) are the item's to the parser: the second
        // of each is the second under the item, however deep.
        let s = survey(
            "<item><media:content url='a'><media:thumbnail url='t'/>\
             <media:content url='b'><media:thumbnail url='u'/></media:content></media:content></item>",
        );
        assert_eq!(s.by_position.len(), 2, "{:?}", s.by_position);
        let chain = format!(
            "<item>{}{}</item>",
            "<media:content url='a'>".repeat(100),
            "</media:content>".repeat(100)
        );
        let text = format!("{HEAD}{}{TAIL}", chain.repeat(2_000));
        let Some(cut) = drop_costly_repeats(&text) else {
            panic!("200,000 nested contents are over the budget");
        };
        assert!(cut.matches("<media:content").count() < 200_000 / 2);
    }

    #[test]
    fn the_kept_count_is_the_most_within_the_budget_and_at_least_one() {
        let s = Survey {
            total: 60,
            by_position: vec![30, 20, 10],
            keep: None,
            cuts: Vec::new(),
        };
        assert_eq!(s.keep_within(100), 3);
        assert_eq!(s.keep_within(55), 2);
        assert_eq!(s.keep_within(50), 2);
        assert_eq!(s.keep_within(49), 1);
        assert_eq!(s.keep_within(10), 1);
    }

    #[test]
    fn a_feed_as_sites_publish_it_is_left_alone() {
        // As many items as a document may keep, each with what a rich item carries.
        let item = "<item><title>North Korean troops reach Kursk</title>\
            <link>https://news.example/2026/11/30/north-korean-troops-reach-kursk</link>\
            <category>World</category><category>Europe</category><category>Ukraine</category>\
            <enclosure url='https://cdn.news.example/a/b/c.jpg' type='image/jpeg' length='1'/>\
            <media:thumbnail url='https://cdn.news.example/a/b/c-thumb.jpg' width='320'/>\
            <media:content url='https://cdn.news.example/a/b/c.jpg' medium='image'/></item>";
        let text = format!("{HEAD}{}{TAIL}", item.repeat(crate::feed::cap::MAX_ITEMS));
        let Some(survey) = Survey::of(&text, None) else {
            panic!("the survey reads it");
        };
        assert!(survey.total < BUDGET * 2 / 3, "{} bytes", survey.total);
        assert_eq!(drop_costly_repeats(&text), None);
    }

    #[test]
    fn repeats_past_the_budget_are_cut_whole_keeping_the_first_of_each_name() {
        let links = "<link>a</link>".repeat(200_000);
        let text = format!(
            "{HEAD}<item><title>x</title><link>first</link>{links}<category>c</category><enclosure url='e'>\
             </enclosure><enclosure url='f'/></item>{TAIL}"
        );
        let Some(cut) = drop_costly_repeats(&text) else {
            panic!("200,000 links are over the budget");
        };
        // However many fit the budget, one element keeps no more than this many of a name.
        assert_eq!(cut.matches("<link>").count(), MAX_TRACKED);
        assert!(cut.contains("<title>x</title><link>first</link><link>a</link>"));
        // The other names keep as many: here all of them.
        assert!(cut.ends_with(
            "<category>c</category><enclosure url='e'></enclosure><enclosure url='f'/></item></channel></rss>"
        ));
    }

    #[test]
    fn repeats_spread_over_items_keep_as_many_in_each_as_the_budget_pays_for() {
        let item = format!("<item>{}</item>", "<link>a</link>".repeat(100));
        let text = format!("{HEAD}{}{TAIL}", item.repeat(2_000));
        let Some(cut) = drop_costly_repeats(&text) else {
            panic!("200,000 links are over the budget");
        };
        // 64 MiB at 398 bytes a link, over 2,000 items.
        let each = (BUDGET / (2_000 * (384 + 14))) as usize;
        let kept = format!("<item>{}</item>", "<link>a</link>".repeat(each));
        assert_eq!(cut, format!("{HEAD}{}{TAIL}", kept.repeat(2_000)));
    }

    #[test]
    fn no_text_counts_more_than_its_length_allows() {
        let nested = format!(
            "{}{}",
            "<link>".repeat(crate::feed::parse::depth::MAX_DEPTH - 1),
            "</link>".repeat(crate::feed::parse::depth::MAX_DEPTH - 1)
        );
        for text in [
            "<image/>".repeat(10_000),
            "<link/>".repeat(10_000),
            format!("<rss>{}</rss>", nested.repeat(100)),
        ] {
            let Some(survey) = Survey::of(&text, None) else {
                panic!("the survey reads {text:.80}");
            };
            assert!(survey.total <= text.len() as u64 * MOST_PER_BYTE);
        }
    }

    #[test]
    fn an_element_left_open_is_cut_to_the_end_of_the_text() {
        let links = "<link>a</link>".repeat(200_000);
        let text = format!("{HEAD}<item>{links}<link>cut off");
        let Some(cut) = drop_costly_repeats(&text) else {
            panic!("over the budget");
        };
        assert!(
            cut.ends_with("<link>a</link>"),
            "{}",
            &cut[cut.len() - 40..]
        );
    }
}
