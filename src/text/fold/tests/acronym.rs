//! Rule 7 (dotted acronyms) against a plain word-level model of it.

use super::*;

/// Rule 7 on ASCII text, from the words and separators of the original: a plain model to check
/// the join (which works on the folded text and its map) against.
fn acronym_model(s: &str, fold_case: bool) -> String {
    let mut words: Vec<(&str, &str)> = Vec::new(); // (word, separator before it)
    let mut rest = s;
    let mut sep = "";
    while !rest.is_empty() {
        let w = rest
            .find(|c: char| !c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        if w > 0 {
            words.push((&rest[..w], sep));
            rest = &rest[w..];
        }
        let n = rest
            .find(|c: char| c.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        sep = &rest[..n];
        rest = &rest[n..];
    }
    let letter = |w: &str| w.len() == 1 && w.as_bytes()[0].is_ascii_alphabetic();
    // joined[i]: word i is glued to word i - 1.
    let mut joined = vec![false; words.len()];
    let mut i = 0;
    while i < words.len() {
        let mut j = i + 1;
        while j < words.len() && letter(words[i].0) && letter(words[j].0) && words[j].1 == "." {
            j += 1;
        }
        let run: String = words[i..j]
            .iter()
            .map(|w| w.0.to_ascii_lowercase())
            .collect();
        if j - i >= 2 && !["eg", "ie", "am", "pm"].contains(&run.as_str()) {
            joined[i + 1..j].iter_mut().for_each(|g| *g = true);
        }
        i = j;
    }
    let mut out = String::new();
    for (k, (w, _)) in words.iter().enumerate() {
        if k > 0 && !joined[k] {
            out.push(' ');
        }
        out.push_str(&if fold_case {
            w.to_ascii_lowercase()
        } else {
            (*w).to_owned()
        });
    }
    out
}

#[test]
fn acronym_model_examples() {
    for (s, want) in [
        ("the U.S.-led", "the us led"),
        ("J. R. R.", "j r r"),
        ("e.g. U.S.A.", "e g usa"),
        ("x.y.z..a", "xyz a"),
    ] {
        assert_eq!(acronym_model(s, true), want, "{s:?}");
        assert_eq!(fold_term(s), want, "{s:?}");
    }
}

fn dotted_text() -> impl Strategy<Value = String> {
    let token = prop_oneof![
        4 => "[a-zA-Z]",
        1 => "[a-zA-Z]{2,3}",
        1 => "[0-9]",
        1 => "(e|E|i|I|a|A|p|P)",
    ];
    let sep = prop_oneof![6 => Just("."), 2 => Just(". "), 1 => Just(" "), 1 => Just(".-"),
        1 => Just(".."), 1 => Just("-"), 1 => Just(""), 1 => Just("\u{FF0E}")];
    prop::collection::vec((token, sep), 0..14)
        .prop_map(|v| v.into_iter().map(|(t, s)| format!("{t}{s}")).collect())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn prop_acronyms_match_model(s in "[a-zA-Z0-9 .\\-]{0,40}", fold_case in any::<bool>()) {
        let mut f = Folded::new();
        fold_impl(&s, &mut f, fold_case);
        prop_assert_eq!(f.as_str(), acronym_model(&s, fold_case));
    }

    #[test]
    fn prop_dotted_text_matches_model(s in dotted_text(), fold_case in any::<bool>()) {
        let mut f = Folded::new();
        fold_impl(&s, &mut f, fold_case);
        if s.is_ascii() {
            prop_assert_eq!(f.as_str(), acronym_model(&s, fold_case));
        }
        check_map(&s)?;
        check_term(&s)?;
    }

    /// Rule 7 only ever removes separator spaces, each standing for one full stop.
    #[test]
    fn prop_acronyms_only_remove_dot_spaces(s in tricky_string(), fold_case in any::<bool>()) {
        let mut with = Folded::new();
        fold_impl(&s, &mut with, fold_case);
        let mut without = Folded::new();
        fold_with(&s, &mut without, fold_case, false, true);
        let (a, b) = (with.as_str().as_bytes(), without.as_str().as_bytes());
        let mut i = 0;
        for (j, &byte) in b.iter().enumerate() {
            if a.get(i) == Some(&byte) && with.map[i] == without.map[j] {
                i += 1;
            } else {
                prop_assert_eq!(byte, b' ', "{:?} vs {:?}", with.as_str(), without.as_str());
                let sep = &s[without.map[j] as usize..without.map[j + 1] as usize];
                prop_assert!(
                    matches!(sep, "." | "\u{FF0E}" | "\u{FE52}" | "\u{2024}"),
                    "dropped a space for {:?} in {:?}", sep, s
                );
            }
        }
        prop_assert_eq!(i, a.len());
    }
}
