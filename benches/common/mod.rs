//! What the benchmarks share: the seed article, watch terms made of realistic words and
//! synthetic names, watch sets compiled from them, and ~1 MB of English news items.

#![allow(dead_code)]

pub mod articles;

use newswatch::feed::{FeedItem, ItemKey};
use newswatch::matcher::{WatchSet, WatchSpec};

pub const SEED: &str = include_str!("../../tests/fixtures/seed-article.txt");

/// Words that realistic watch terms are made of: places, people, organisations, topics.
pub const VOCAB: &[&str] = &[
    "North",
    "South",
    "Korean",
    "Russian",
    "Ukrainian",
    "Chinese",
    "Iranian",
    "Israeli",
    "Syrian",
    "Turkish",
    "Polish",
    "German",
    "French",
    "British",
    "American",
    "Japanese",
    "Indian",
    "Pakistani",
    "Afghan",
    "Iraqi",
    "Saudi",
    "Egyptian",
    "Libyan",
    "Sudanese",
    "Ethiopian",
    "Somali",
    "Nigerian",
    "Malian",
    "Venezuelan",
    "Cuban",
    "Mexican",
    "Brazilian",
    "troops",
    "soldiers",
    "forces",
    "army",
    "navy",
    "missiles",
    "drones",
    "tanks",
    "artillery",
    "sanctions",
    "ceasefire",
    "offensive",
    "invasion",
    "mobilisation",
    "conscription",
    "border",
    "refugees",
    "embassy",
    "minister",
    "president",
    "general",
    "parliament",
    "election",
    "referendum",
    "pipeline",
    "reactor",
    "uranium",
    "grain",
    "corridor",
    "blockade",
    "summit",
    "treaty",
    "alliance",
    "deployment",
    "exercise",
    "strike",
    "shelling",
    "casualties",
    "hostages",
    "negotiations",
    "talks",
    "aid",
    "package",
    "loan",
    "tariffs",
    "embargo",
    "Kharkiv",
    "Kherson",
    "Zaporizhzhia",
    "Donetsk",
    "Luhansk",
    "Crimea",
    "Bakhmut",
    "Avdiivka",
    "Odesa",
    "Mariupol",
    "Belgorod",
    "Kursk",
    "Pyongyang",
    "Seoul",
    "Beijing",
    "Taipei",
    "Tehran",
    "Gaza",
    "Rafah",
    "Beirut",
    "Damascus",
    "Aleppo",
    "Baghdad",
    "Kabul",
    "Khartoum",
    "Tripoli",
    "Sahel",
    "Wagner",
    "Hezbollah",
    "Hamas",
    "Houthi",
    "Taliban",
    "NATO",
    "IAEA",
    "Rutte",
    "Stoltenberg",
    "Zelensky",
    "Putin",
    "Lavrov",
    "Shoigu",
    "Xi",
    "Erdogan",
    "Modi",
    "Netanyahu",
    "Khamenei",
    "Biden",
    "Harris",
    "Trump",
    "Macron",
    "Scholz",
    "Starmer",
    "Tusk",
    "Kishida",
    "Yoon",
    "Lula",
    "Milei",
    "Maduro",
    "Orban",
    "Fico",
    "Lukashenko",
    "Kadyrov",
    "Prigozhin",
    "Gerasimov",
    "Budanov",
    "Syrskyi",
    "Zaluzhnyi",
    "Austin",
    "Blinken",
    "Sullivan",
    "Victory",
    "Plan",
    "Peace",
    "Formula",
    "Black",
    "Sea",
    "Red",
    "Baltic",
    "Arctic",
    "Pacific",
    "nuclear",
    "chemical",
    "cyber",
    "hybrid",
    "space",
    "satellite",
    "submarine",
    "carrier",
    "airbase",
    "port",
    "bridge",
    "dam",
    "grid",
    "energy",
    "gas",
    "oil",
    "wheat",
    "fertiliser",
];

pub fn lcg(state: &mut u64) -> u64 {
    *state = state
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    *state >> 33
}

/// Syllables for synthetic place and person names: most of a real watch list's 10,000 terms
/// (names of people, units, villages, companies) do not occur in any given article.
pub const SYLLABLES: &[&str] = &[
    "ka", "vor", "lin", "sk", "ov", "ia", "mir", "gor", "da", "ne", "tsk", "ber", "an", "ul",
    "zha", "pol", "ri", "mo", "sha", "ten", "kov", "ela", "bad", "run", "ost", "yev", "ha",
];

pub fn name(s: &mut u64) -> String {
    let n = 2 + (lcg(s) % 3) as usize;
    let mut w: String = (0..n)
        .map(|_| SYLLABLES[lcg(s) as usize % SYLLABLES.len()])
        .collect();
    if let Some(first) = w.get(..1) {
        w = first.to_uppercase() + &w[1..];
    }
    w
}

/// `n` distinct watch terms: the seed article's three, ~5% phrases of everyday news words
/// (these hit), and names and name+word phrases (these mostly do not).
pub fn terms(n: usize) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = vec![
        "North Korean troops".to_string(),
        "North Korean soldiers".to_string(),
        "Victory Plan".to_string(),
    ];
    let mut s = 42u64;
    while out.len() < n {
        let t = match lcg(&mut s) % 20 {
            0 => {
                let words = 2 + (lcg(&mut s) % 2) as usize;
                let t: Vec<&str> = (0..words)
                    .map(|_| VOCAB[lcg(&mut s) as usize % VOCAB.len()])
                    .collect();
                t.join(" ")
            }
            1..=9 => name(&mut s),
            10..=14 => format!("{} {}", name(&mut s), name(&mut s)),
            _ => format!(
                "{} {}",
                name(&mut s),
                VOCAB[lcg(&mut s) as usize % VOCAB.len()]
            ),
        };
        if seen.insert(t.clone()) {
            out.push(t);
        }
    }
    out
}

/// Worst case: every term is a phrase of everyday news words, so an article hits many watches.
pub fn dense_terms(n: usize) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    let mut out = Vec::new();
    let mut s = 42u64;
    while out.len() < n {
        let words = 1 + (lcg(&mut s) % 3) as usize;
        let t: Vec<&str> = (0..words)
            .map(|_| VOCAB[lcg(&mut s) as usize % VOCAB.len()])
            .collect();
        let t = t.join(" ");
        if seen.insert(t.clone()) {
            out.push(t);
        }
    }
    out
}

pub fn watch_set(n_terms: usize) -> WatchSet {
    watch_set_of(terms(n_terms))
}

pub fn watch_set_of(all: Vec<String>) -> WatchSet {
    let specs = all
        .chunks(5)
        .enumerate()
        .map(|(i, chunk)| WatchSpec::phrases(format!("w{i}"), chunk.iter().cloned()))
        .collect();
    WatchSet::compile(specs).expect("automaton builds")
}

pub fn item(summary: String) -> FeedItem {
    FeedItem {
        key: ItemKey("k".into()),
        title: String::new(),
        link: None,
        published: None,
        summary,
        content: String::new(),
        categories: vec![],
        authors: vec![],
        body: String::new(),
    }
}

/// ~1 MB of English news prose split into ~1.5 KB items.
pub fn english_items() -> Vec<FeedItem> {
    let paras: Vec<&str> = SEED
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .collect();
    megabyte_of_items(7, |text, r| {
        text.push_str(paras[r as usize % paras.len()].trim());
        text.push_str("\n\n");
    })
}

/// ~1 MB of ~1.5 KB items, each made of pieces that `piece` appends, picked by a seeded
/// random number.
fn megabyte_of_items(seed: u64, mut piece: impl FnMut(&mut String, u64)) -> Vec<FeedItem> {
    let mut items = Vec::new();
    let mut s = seed;
    let mut total = 0;
    while total < 1_000_000 {
        let mut text = String::new();
        while text.len() < 1500 {
            piece(&mut text, lcg(&mut s));
        }
        total += text.len();
        items.push(item(text));
    }
    items
}

/// ~1 MB of mixed-script news text (Cyrillic, Greek, Korean, Japanese, Chinese, accented Latin).
pub fn mixed_items() -> Vec<FeedItem> {
    let samples = [
        "Президент Украины Владимир Зеленский представил «План победы» Верховной раде; \
         по данным разведки, около 10 000 северокорейских военных проходят подготовку в России. ",
        "Ο Γενικός Γραμματέας του ΝΑΤΟ προειδοποίησε ότι η αποστολή βορειοκορεατών στρατιωτών \
         στην Ουκρανία θα κλιμάκωνε σημαντικά τη σύγκρουση. ",
        "국가정보원은 북한군 1만2천여 명이 러시아에 파병됐다고 밝혔으며, 북한군이 우크라이나 전선에 \
         투입될 가능성이 있다고 경고했다. ",
        "北朝鮮軍の兵士約1万人がロシア極東で訓練を受けているとウクライナ国防省が発表した。",
        "据报道，朝鲜士兵已抵达俄罗斯远东地区接受训练，北约对此表示严重关切。",
        "Le président Zelensky a présenté son « plan de la victoire » à Bruxelles, où les \
         dirigeants européens se sont réunis à l'été. Ça dépend des États-Unis. ",
    ];
    megabyte_of_items(11, |text, r| {
        text.push_str(samples[r as usize % samples.len()])
    })
}

/// ~1 MB of Arabic and Hebrew news text, whose words often start with the proclitics a term may
/// start after (و, ب, ال after ب; ה, ב, ו): the paragraphs of an Arabic article among the test
/// fixtures and three Hebrew sentences.
pub fn arabic_hebrew_items() -> Vec<FeedItem> {
    let arabic = include_str!("../../tests/fixtures/articles/cnn-arabic.txt");
    let mut samples: Vec<String> = arabic
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|p| format!("{p} "))
        .collect();
    samples.extend(
        [
            "ראש הממשלה אמר כי הכנסת תדון בהצעה בשבוע הבא, ובצה״ל נערכים לתרחיש של הסלמה בצפון. ",
            "לפי הדיווח, אלפי חיילים צפון קוריאנים הגיעו לרוסיה, ומשרד החוץ בירושלים הביע דאגה. ",
            "בתל אביב ובחיפה נערכו הפגנות, והמשטרה הודיעה כי עצרה שלושה חשודים. ",
        ]
        .map(String::from),
    );
    megabyte_of_items(13, |text, r| {
        text.push_str(&samples[r as usize % samples.len()])
    })
}

/// One RSS document with one ~1.5 KB item (title + HTML description).
pub fn one_item_feed() -> String {
    let paras: Vec<&str> = SEED
        .split("\n\n")
        .filter(|p| !p.trim().is_empty())
        .collect();
    let mut html = String::new();
    for p in &paras[1..] {
        if html.len() > 1300 {
            break;
        }
        html.push_str("<p>");
        html.push_str(p.trim());
        html.push_str("</p>");
    }
    format!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?><rss version=\"2.0\"><channel><title>t</title>\
         <item><title>NATO warns North Korean troop transfers would escalate conflict</title>\
         <link>https://example.org/a</link><guid>g1</guid>\
         <pubDate>Sun, 20 Oct 2024 09:30:00 GMT</pubDate>\
         <description><![CDATA[{html}]]></description></item></channel></rss>"
    )
}
