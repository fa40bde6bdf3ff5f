//! The cost estimate of Media RSS groups against documents whose copies are known, and what
//! the rewrite keeps.

use super::*;

const HEAD: &str =
    r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><item>"#;
const TAIL: &str = "</item></channel></rss>";

fn cost_of(text: &str) -> u64 {
    let names = MediaNames::declared(text);
    match Survey::of(text, &names, false) {
        Some(survey) => survey.cost,
        None => panic!("the survey reads {text:.80}"),
    }
}

fn cost(inner: &str) -> u64 {
    cost_of(&format!("{HEAD}{inner}{TAIL}"))
}

/// A 35-byte `<media:title>` as the estimate counts it, copied once.
const TITLE: u64 = 35 + FIELD_COST;
const TITLE_XML: &str = "<media:title>abcdefgh</media:title>";

#[test]
fn fields_times_groups_are_the_cost() {
    assert_eq!(cost(TITLE_XML), 0);
    // Copied into each group, and a group costs what the parser keeps for it.
    assert_eq!(
        cost(&format!(
            "{TITLE_XML}<media:group/><media:group></media:group>"
        )),
        2 * TITLE + 2 * GROUP_COST
    );
    // Written after the groups, it is copied all the same (the copies are made at the item's
    // end).
    assert_eq!(
        cost(&format!("<media:group/>{TITLE_XML}")),
        TITLE + GROUP_COST
    );
    // Nested groups inherit through their parents.
    assert_eq!(
        cost(&format!(
            "{TITLE_XML}<media:group><media:group/></media:group>"
        )),
        2 * TITLE + 2 * GROUP_COST
    );
    // A group's own fields go to the groups under it, not to its siblings.
    assert_eq!(
        cost(&format!(
            "<media:group>{TITLE_XML}<media:group/></media:group><media:group/>"
        )),
        TITLE + 3 * GROUP_COST
    );
    // Contents take no copy of the title.
    let content = r#"<media:content url="https://e.example/v.mp4"/>"#;
    assert_eq!(cost(&format!("{TITLE_XML}{}", content.repeat(50))), 0);
    // The fields inside a content are its scope's, and a group inside it is the scope's child.
    assert_eq!(
        cost(&format!(
            "<media:content url='u'>{TITLE_XML}<media:group/></media:content>"
        )),
        TITLE + GROUP_COST
    );
}

#[test]
fn a_rating_is_copied_into_each_content_and_group() {
    let rating = "<media:rating>adult</media:rating>"; // 34 bytes
    let copied = 34 + FIELD_COST;
    let content = r#"<media:content url="https://e.example/v.mp4"/>"#;
    assert_eq!(
        cost(&format!(
            "{rating}{content}{content}<media:group>{content}</media:group>"
        )),
        copied * 3 + copied + GROUP_COST
    );
}

#[test]
fn only_the_media_namespace_counts_by_whatever_name() {
    let groups = "<m:group/>".repeat(3);
    let title = 20 + FIELD_COST; // <m:title>t</m:title>
    assert_eq!(
        cost_of(&format!(
            "<rss xmlns:m = 'http://search.yahoo.com/mrss/'><item><m:title>t</m:title>{groups}</item></rss>"
        )),
        3 * title + 3 * GROUP_COST
    );
    // A prefix of any name characters (`·` is one; quick-xml takes `<` as one too), and a name
    // with more than one colon or a `/` (quick-xml's prefix is before the first colon,
    // feed-rs's local name after the last).
    assert_eq!(
        cost_of(
            "<rss xmlns:m·=\"http://search.yahoo.com/mrss/\"><item><m·:x:title>t</m·:x:title><m·:y:group/></item></rss>"
        ),
        28 + FIELD_COST + GROUP_COST
    );
    assert_eq!(
        cost_of(
            "<rss xmlns:m<=\"http://search.yahoo.com/mrss/\"><item><m<:title>t</m<:title><m<:/:group/></item></rss>"
        ),
        22 + FIELD_COST + GROUP_COST
    );
    // As a default namespace.
    assert_eq!(
        cost_of(
            r#"<item><group xmlns="http://search.yahoo.com/mrss/"><title>t</title><group/></group></item>"#
        ),
        16 + FIELD_COST + 2 * GROUP_COST
    );
    // Another namespace's groups, and groups quoted in CDATA or comments, are no groups; a
    // prefix followed by a space that is not XML's is another prefix.
    assert_eq!(
        cost("<x:group/><group/><![CDATA[<media:group/>]]><!-- <media:group/> -->"),
        0
    );
    assert_eq!(
        cost_of(
            "<rss xmlns:m\u{a0}=\"http://search.yahoo.com/mrss/\"><item><m:title>t</m:title><m:group/></item></rss>"
        ),
        0
    );
}

#[test]
fn feeds_as_published_cost_little() {
    // A video feed: every entry one group with its title, description, thumbnail and content.
    let entry = format!(
        "<media:group><media:title>A video</media:title><media:description>{}</media:description>\
         <media:thumbnail url='https://i.example/t.jpg' width='480' height='360'/>\
         <media:content url='https://v.example/v' type='application/x-shockwave-flash'/>\
         <media:community><media:starRating count='5' average='4.5'/></media:community></media:group>",
        "words ".repeat(800)
    );
    assert!(cost(&entry) < 10 * 1024);
    // A podcast: item-level fields over a few contents.
    let item = format!(
        "<media:title>Episode</media:title><media:description>{}</media:description>{}",
        "words ".repeat(2000),
        "<media:content url='https://a.example/e.mp3'/>".repeat(20)
    );
    assert!(cost(&item) < 1024 * 1024);
    // A gallery: 400 contents, each with its caption.
    let gallery = format!(
        "<media:content url='https://p.example/1.jpg'><media:description>{}</media:description></media:content>",
        "caption ".repeat(75)
    )
    .repeat(400);
    assert_eq!(cost(&gallery), 0);
}

#[test]
fn over_the_budget_groups_but_the_first_and_ratings_are_dropped_whole() {
    let inner = format!(
        "<media:title>{}</media:title><media:rating scheme='urn:simple'>nonadult</media:rating>\
         <media:content url='https://e.example/item'/>{}",
        "a".repeat(100_000),
        "<media:group><media:title>g</media:title><media:content url='https://e.example/v'/></media:group>"
            .repeat(700)
    );
    let text = format!("{HEAD}{inner}{TAIL}");
    let Some(rewritten) = drop_costly_media_groups(&text) else {
        panic!("over the budget");
    };
    assert_eq!(
        rewritten,
        format!(
            "{HEAD}<media:title>{}</media:title><media:content url='https://e.example/item'/>\
             <media:group><media:title>g</media:title><media:content url='https://e.example/v'/></media:group>{TAIL}",
            "a".repeat(100_000)
        )
    );
    // What is left costs little: one group's copy.
    assert!(cost_of(&rewritten) < 200 * 1024);
    // Under it, nothing is touched.
    let text = text.replace(&"a".repeat(100_000), "a title");
    assert_eq!(drop_costly_media_groups(&text), None);
}

/// Regression (review): every group of a nested chain is the first of its parent, so keeping
/// the first of each kept them all, and the text came back unchanged as a repair.
#[test]
fn a_chain_of_nested_groups_keeps_its_first_link_at_most() {
    let chain = |own: &str| {
        format!(
            "{HEAD}<media:description>{own}</media:description><media:group>\
             <media:description>{}</media:description>{}{}</media:group>{TAIL}",
            "b".repeat(2_000_000),
            "<media:group><media:content url='u'/>".repeat(99),
            "</media:group>".repeat(99)
        )
    };
    // The item's own fields are short: its first group stays, without the groups in it.
    let Some(rewritten) = drop_costly_media_groups(&chain("a")) else {
        panic!("over the budget");
    };
    assert_eq!(rewritten.matches("<media:group>").count(), 1);
    assert!(cost_of(&rewritten) < COPY_BUDGET);
    // They are long: no group stays.
    let Some(rewritten) = drop_costly_media_groups(&chain(&"a".repeat(2_000_000))) else {
        panic!("over the budget");
    };
    assert_eq!(rewritten.matches("<media:group").count(), 0);
    assert_eq!(cost_of(&rewritten), 0);
}

#[test]
fn ill_formed_documents_are_read_to_their_end() {
    // An end tag with the wrong name, one without a start, elements left open: the scan goes
    // on.
    assert_eq!(
        cost(&format!(
            "</x>{TITLE_XML}<media:group></wrong><media:group>"
        )),
        2 * TITLE + 2 * GROUP_COST
    );
    for odd in [
        "<",
        "</",
        "<media:group",
        "<media:title>",
        "<![CDATA[",
        "&",
        "<media:group a='",
    ] {
        let text = format!("{HEAD}{odd}");
        let names = MediaNames::declared(&text);
        assert!(Survey::of(&text, &names, true).is_some(), "{odd}");
    }
}
