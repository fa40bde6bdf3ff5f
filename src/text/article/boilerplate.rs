//! Boilerplate that the extractor lets through, removed paragraph by paragraph.
//!
//! Readability keeps whatever sits inside the article's container: "Advertisement" labels,
//! newsletter boxes, share buttons, "Continue reading the main story", "Related: ..." and
//! "Read more: ..." links, shop widgets ("Add to cart"), screen-reader labels of photos
//! ("Image caption", "Image copyright"), copyright lines. Cookie banners usually sit outside
//! it (readability drops them); the ones that slip in are removed here too. This is the one
//! place where such text is removed (the extractor is used as published). A paragraph is
//! dropped when it is short (at most [`MAX_BOILERPLATE_CHARS`]) and matches one of
//! [`PATTERNS`] as a whole, ignoring case; long paragraphs are always kept, so a story *about*
//! advertising or newsletters keeps its text. A paragraph that matches one of
//! [`LIST_HEADINGS`] ("Read more:", "Related stories", "Most popular" ...) is dropped with the
//! headline links that follow it: the next paragraphs that are short (at most
//! [`MAX_HEADLINE_CHARS`]) and do not end like a sentence.

/// Longest paragraph, in characters, that may be dropped as boilerplate.
pub(super) const MAX_BOILERPLATE_CHARS: usize = 160;

/// Longest headline, in characters, dropped after a list heading.
const MAX_HEADLINE_CHARS: usize = 120;

/// Whole-paragraph boilerplate, lowercase; `*` matches any run of characters.
const PATTERNS: &[&str] = &[
    "advertisement",
    "advertisement*",
    "*advertisement",
    "continue reading the main story",
    "continue reading below",
    "story continues below*",
    "sign up for*newsletter*",
    "subscribe to*newsletter*",
    "*subscribe to our*newsletter*",
    "keep up with*newsletter*",
    "*newsletter*sign up*",
    "*newsletter",
    "our *newsletter.",
    "* our *newsletter.",
    "our *newsletters.",
    "* our *newsletters.",
    "free *newsletter.",
    "* free *newsletter.",
    "related: *",
    "read more: *",
    "see also: *",
    "[read*]",
    "gallery: *",
    "image caption*",
    "image copyright*",
    "image source, *",
    "media caption*",
    "*all rights reserved",
    "*all rights reserved.",
    "printer friendly version",
    "printer-friendly version",
    "share",
    "tweet",
    "copy link",
    "share this*",
    "share on facebook*",
    "share on twitter*",
    "email this*",
    "print this*",
    "we use cookies*",
    "this site uses cookies*",
    "this website uses cookies*",
    "accept*cookies*",
    "manage cookies*",
    "cookie settings*",
    "your cookie settings*",
    "* your cookie settings*",
    "cookie policy*",
    "our cookie policy*",
    "* our cookie policy*",
    "lire aussi*",
    "à lire aussi*",
    "leia também*",
    "leia mais*",
    "lea también*",
    "lee también*",
    "mehr zum thema*",
];

/// Calls to action that also make a short paragraph boilerplate when they open its second
/// or a later sentence (after a teaser); `*` as in [`PATTERNS`].
const LATER_SENTENCES: &[&str] = &[
    "we use cookies*",
    "this site uses cookies*",
    "this website uses cookies*",
    "sign up for*newsletter*",
    "subscribe to*newsletter*",
    "keep up with*newsletter*",
    "all rights reserved*",
];

// The patterns that may start anywhere (`*x*`) are those whose words a news sentence seldom
// holds ("our cookie policy", "all rights reserved" at its very end); "*cookie policy*",
// "*we use cookies*" and "*newsletter." dropped one-sentence paragraphs of stories ("The CNIL
// said Google's cookie policy breached French law.") and a watch on "CNIL" missed them.

/// Shop and link widgets, lowercase; `*` as in [`PATTERNS`]: dropped only when short and not
/// ending like a sentence. Their words also open real sentences ("Buy now, pay later lender
/// Klarna files for US IPO."), which as whole-paragraph patterns of up to 160 characters
/// were dropped from the article, and a watch on "Klarna" missed it.
const WIDGETS: &[&str] = &[
    "add to cart*",
    "view price*",
    "buy now*",
    "shop now*",
    "powered by *",
    "click here to*",
];

/// Longest widget, in characters ("Buy now for $29.99 at Amazon").
const MAX_WIDGET_CHARS: usize = 60;

/// Headings of lists of links to other stories, lowercase; `*` as in [`PATTERNS`].
const LIST_HEADINGS: &[&str] = &[
    "read more",
    "read more:",
    "related",
    "related:",
    "related stories",
    "related stories:",
    "related articles",
    "related articles:",
    "related content",
    "more stories",
    "more stories:",
    "more * news",
    "more * news:",
    "most popular",
    "most read",
    "you may also like",
    "recommended",
    "recommended for you",
    "sur le même sujet",
    "veja também",
    "相关阅读",
    "関連記事",
    "관련 기사",
    "เรื่องที่เกี่ยวข้อง",
];

/// `text` (paragraphs separated by `"\n\n"`) without its boilerplate paragraphs.
pub(super) fn remove(text: &str) -> String {
    let mut kept: Vec<&str> = Vec::new();
    let mut after_heading = false;
    for p in text.split("\n\n") {
        if after_heading && is_headline(p) {
            continue;
        }
        after_heading = matches_any(p, LIST_HEADINGS);
        if !after_heading && !is_boilerplate(p) {
            kept.push(p);
        }
    }
    kept.join("\n\n")
}

/// True when the paragraph `p` is boilerplate on its own: a pattern matches it, or one of
/// [`LATER_SENTENCES`] matches from the start of a later sentence ("Cities are changing fast.
/// Keep up with the CityLab Daily newsletter.").
pub(super) fn is_boilerplate(p: &str) -> bool {
    matches_any(p, PATTERNS) || is_widget(p) || {
        let lower = p.trim().to_lowercase();
        p.chars().count() <= MAX_BOILERPLATE_CHARS
            && lower.match_indices(". ").any(|(at, _)| {
                let rest = &lower[at + 2..];
                LATER_SENTENCES
                    .iter()
                    .any(|pattern| glob_match(pattern, rest))
            })
    }
}

fn is_widget(p: &str) -> bool {
    let p = p.trim();
    p.chars().count() <= MAX_WIDGET_CHARS && !ends_like_a_sentence(p) && matches_any(p, WIDGETS)
}

fn ends_like_a_sentence(p: &str) -> bool {
    p.ends_with(['.', '!', ':', ';', '。', '！', '"', '”', '»'])
}

fn matches_any(p: &str, patterns: &[&str]) -> bool {
    if p.chars().count() > MAX_BOILERPLATE_CHARS {
        return false;
    }
    let lower = p.trim().to_lowercase();
    patterns.iter().any(|pattern| glob_match(pattern, &lower))
}

/// A link to another story, as listed under a heading: short, not ending like a sentence.
fn is_headline(p: &str) -> bool {
    let p = p.trim();
    p.chars().count() <= MAX_HEADLINE_CHARS && !ends_like_a_sentence(p)
}

/// `*`-only glob matching.
fn glob_match(pattern: &str, s: &str) -> bool {
    let mut parts = pattern.split('*');
    let first = parts.next().unwrap_or("");
    let Some(mut rest) = s.strip_prefix(first) else {
        return false;
    };
    let tail: Vec<&str> = parts.collect();
    let Some((last, middle)) = tail.split_last() else {
        return rest.is_empty();
    };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.ends_with(last)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches_whole_paragraphs() {
        assert!(glob_match("advertisement", "advertisement"));
        assert!(glob_match("share*", "share this story"));
        assert!(glob_match(
            "*newsletter*",
            "sign up for our newsletter today"
        ));
        assert!(!glob_match("share*", "the share price fell"));
        assert!(!glob_match("advertisement", "advertisements"));
    }

    #[test]
    fn a_list_heading_drops_the_headlines_after_it_and_stops_at_prose() {
        let text = "The vote passed.\n\nRead more:\n\nTunisia’s Islamists get a lesson\n\n\
                    Museum houses Roman treasures\n\nThe next day, protests began.";
        assert_eq!(
            remove(text),
            "The vote passed.\n\nThe next day, protests began."
        );
    }

    #[test]
    fn labels_and_promotions_are_dropped_prose_kept() {
        let text = "Advertisement\n\nThe fund grew.\n\nContinue reading the main story\n\n\
                    SIGN UP FOR OUR NEWSLETTER\n\nRelated: Chicago is segregated\n\n\
                    Read more: Inside a startup\n\nLire aussi : Les critiques de la CNIL\n\n\
                    ™ & © 2013 Cable News Network, Inc. All rights reserved.\n\n\
                    Image copyright Getty Images\n\nImage caption Mr Obama in Nairobi\n\n\
                    ADD TO CART: US$25 Gift Card\n\n\
                    Readers related the story to last year's floods.";
        assert_eq!(
            remove(text),
            "The fund grew.\n\nReaders related the story to last year's floods."
        );
    }

    /// Regression (review): "buy now*" and the like matched any paragraph of up to 160
    /// characters that began so, and dropped a story's lede from its text.
    #[test]
    fn a_sentence_that_opens_like_a_shop_button_is_kept() {
        let text = "Buy now, pay later lender Klarna files for US IPO.\n\n\
                    Buy now for $29.99 at Amazon\n\nPowered by WordPress\n\n\
                    Click here to see the full list of winners, announced on Monday.\n\n\
                    Shop now";
        assert_eq!(
            remove(text),
            "Buy now, pay later lender Klarna files for US IPO.\n\n\
             Click here to see the full list of winners, announced on Monday."
        );
    }

    #[test]
    fn share_buttons_and_cookie_notices_are_dropped() {
        let text = "Share\n\nTweet\n\nShare this article\n\nThe mayor spoke.\n\n\
                    We use cookies to improve your experience. Accept all cookies\n\n\
                    Manage cookies\n\nRead our cookie policy.";
        assert_eq!(remove(text), "The mayor spoke.");
    }

    /// Regression: patterns that matched anywhere in a short paragraph dropped one-sentence
    /// paragraphs of stories about cookies, newsletters or rights, and a watch on their
    /// subject missed them.
    #[test]
    fn a_story_sentence_that_names_cookies_or_a_newsletter_is_kept() {
        for kept in [
            "The CNIL said Google's cookie policy breached French law.",
            "The memo was first reported by Politico's Playbook newsletter.",
            "“We use cookies to track users,” the complaint says.",
            "Regulators ordered changes to cookie settings on Monday.",
            "The label said all rights reserved by the band had lapsed.",
            "Readers who subscribe to the newsletter pay $5, the company said.",
            "The court ruling was first reported in the Axios Pro newsletter.",
            "The freedom of the press newsletter.",
            "The price rose. Share",
        ] {
            assert!(!is_boilerplate(kept), "{kept}");
        }
        for dropped in [
            "We use cookies to improve your experience.",
            "By using this site you agree to our cookie policy.",
            "Cookie settings",
            "© 2024 Reuters. All rights reserved.",
            "Get the best of the news with our free daily newsletter.",
            "→ Subscribe to our Morning Briefing newsletter",
            "Welcome. This website uses cookies.",
            "Cities are changing fast. Keep up with the CityLab Daily newsletter.",
            "Copyright 2024 The Associated Press. All rights reserved. This material may not be \
             published, broadcast, rewritten or redistributed without permission.",
            "Our daily newsletter.",
        ] {
            assert!(is_boilerplate(dropped), "{dropped}");
        }
    }

    #[test]
    fn long_paragraphs_are_never_boilerplate() {
        let long = format!("Advertisement {}", "spending rose sharply. ".repeat(10));
        assert!(!is_boilerplate(&long));
        assert!(is_boilerplate("  ADVERTISEMENT "));
    }
}
