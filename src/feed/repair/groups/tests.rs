//! The cost estimate of Media RSS groups against documents whose copies are known, and what
//! the rewrite keeps.

use super::*;

const HEAD: &str =
    r#"<rss version="2.0" xmlns:media="http://search.yahoo.com/mrss/"><channel><item>"#;
const TAIL: &str = "</item></channel></rss>";

fn cost(inner: &str) -> u64 {
    let text = format!("{HEAD}{inner}{TAIL}");
    let names = MediaNames::declared(&text);
    match Survey::of(&text, &names) {
        Some(survey) => survey.cost,
        None => panic!("the survey reads {inner:.60}"),
    }
}

#[test]
fn fields_times_groups_and_contents_are_the_cost() {
    let title = "<media:title>abcdefgh</media:title>"; // 35 bytes
    assert_eq!(cost(title), 0);
    // Copied into each group, and a group costs what the parser keeps for it.
    assert_eq!(
        cost(&format!("{title}<media:group/><media:group></media:group>")),
        35 * 2 + 2 * GROUP_COST
    );
    // Written after the groups, it is copied all the same (the copies are made at the item's end).
    assert_eq!(cost(&format!("<media:group/>{title}")), 35 + GROUP_COST);
    // Nested groups inherit through their parents.
    assert_eq!(
        cost(&format!("{title}<media:group><media:group/></media:group>")),
        35 * 2 + 2 * GROUP_COST
    );
    // A group's own fields go to the groups under it, not to its siblings.
    assert_eq!(
        cost(&format!(
            "<media:group>{title}<media:group/></media:group><media:group/>"
        )),
        35 + 3 * GROUP_COST
    );
    // A rating goes to each content of its scope, and to those of the groups under it.
    let rating = "<media:rating>adult</media:rating>"; // 34 bytes
    let content = r#"<media:content url="https://e.example/v.mp4"/>"#;
    assert_eq!(
        cost(&format!(
            "{rating}{content}{content}<media:group>{content}</media:group>"
        )),
        34 * (2 + 1 + 1) + GROUP_COST
    );
    // The fields inside a content are its scope's, and a group inside it is the scope's child.
    assert_eq!(
        cost(&format!(
            "<media:content url='u'>{title}<media:group/></media:content>"
        )),
        35 * 2 + GROUP_COST
    );
}

#[test]
fn only_the_media_namespace_counts_by_whatever_name() {
    let groups = "<m:group/>".repeat(3);
    let text = format!(
        r#"<rss xmlns:m = 'http://search.yahoo.com/mrss/'><item><m:title>t</m:title>{groups}</item></rss>"#
    );
    let names = MediaNames::declared(&text);
    assert_eq!(
        Survey::of(&text, &names).map(|s| s.cost),
        Some(20 * 3 + 3 * GROUP_COST)
    );
    // As a default namespace.
    let text = r#"<item><group xmlns="http://search.yahoo.com/mrss/"><title>t</title><group/></group></item>"#;
    let names = MediaNames::declared(text);
    assert_eq!(
        Survey::of(text, &names).map(|s| s.cost),
        Some(16 + 2 * GROUP_COST)
    );
    // Another namespace's groups, and groups quoted in CDATA or comments, are no groups.
    assert_eq!(
        cost("<x:group/><group/><![CDATA[<media:group/>]]><!-- <media:group/> -->"),
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
}

#[test]
fn over_the_budget_groups_are_unwrapped_and_ratings_dropped() {
    let inner = format!(
        "<media:title>{}</media:title><media:rating scheme='urn:simple'>nonadult</media:rating>{}",
        "a".repeat(100_000),
        "<media:group><media:content url='https://e.example/v'/></media:group>".repeat(700)
    );
    let text = format!("{HEAD}{inner}{TAIL}");
    let Some(rewritten) = drop_costly_media_groups(&text) else {
        panic!("over the budget");
    };
    assert!(!rewritten.contains("group") && !rewritten.contains("rating"));
    assert_eq!(rewritten.matches("<media:content").count(), 700);
    assert!(rewritten.contains(&format!(
        "<media:title>{}</media:title>",
        "a".repeat(100_000)
    )));
    // Under it, nothing is touched.
    let text = text.replace(&"a".repeat(100_000), "a title");
    assert_eq!(drop_costly_media_groups(&text), None);
}

#[test]
fn ill_formed_documents_are_read_to_their_end() {
    // An end tag with the wrong name, one without a start, elements left open: the scan goes on.
    let title = "<media:title>abcdefgh</media:title>";
    assert_eq!(
        cost(&format!("</x>{title}<media:group></wrong><media:group>")),
        35 * 2 + 2 * GROUP_COST
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
        assert!(Survey::of(&text, &names).is_some(), "{odd}");
    }
}
