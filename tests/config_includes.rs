//! Configuration includes: patterns, optional includes, folders, every file read once, and
//! errors named at the included file.

use newswatch::plan::load;

mod common;
use common::{ONE_FEED, write_file as write};

#[test]
fn errors_in_included_files_name_that_file() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.toml",
        "[daemon]\ninclude = [\"conf.d/*.toml\"]\n",
    );
    write(
        dir.path(),
        "conf.d/feeds.toml",
        "[daemon]\nstate = \"x\"\n\n[[feed]]\nurl = \"https://x.example/\"\nnmae = \"x\"\n",
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(
        text.contains("feeds.toml:1:1: [daemon] belongs in the main"),
        "{text}"
    );
    assert!(
        text.contains("feeds.toml:6:1: unknown key `nmae` in [[feed]] (did you mean `name`?)"),
        "{text}"
    );
}

#[test]
fn an_include_that_matches_no_file_is_a_check_error() {
    // The sinks live in conf.d/sinks.toml, which was renamed: the watch would lose every match.
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.toml",
        &format!(
            "[daemon]\ninclude = [\"conf.d/sinks.toml\"]\n\n{ONE_FEED}\
             [[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\n"
        ),
    );
    write(
        dir.path(),
        "conf.d/sinks.toml.bak",
        "[[sink]]\nname = \"out\"\ntype = \"stdout\"\n",
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(
        text.contains("main.toml:2:12: include \"conf.d/sinks.toml\" matches no file"),
        "{text}"
    );
    assert!(text.contains("include_optional"), "{text}");
    assert!(text.contains("watch `w` has no sink"), "{text}");

    // Restored, the same configuration loads.
    std::fs::rename(
        dir.path().join("conf.d/sinks.toml.bak"),
        dir.path().join("conf.d/sinks.toml"),
    )
    .unwrap();
    let plan = load(&main).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.watches.specs()[0].sinks, ["out"]);
}

#[test]
fn an_optional_include_may_match_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.toml",
        &format!(
            "[daemon]\ninclude_optional = [\"local.d/*.toml\"]\n\n{ONE_FEED}\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\n"
        ),
    );
    let plan = load(&main).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.sinks.len(), 1);
    write(
        dir.path(),
        "local.d/more.toml",
        "[[sink]]\nname = \"more\"\ntype = \"stdout\"\n",
    );
    let plan = load(&main).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        plan.sinks.len(),
        2,
        "an optional include that matches is read"
    );
}

/// Regression: the configuration's folder was read as part of the glob, so a folder named
/// `nw[prod]` matched no include; and a folder the pattern could not read dropped its files
/// without a word.
#[test]
fn includes_work_in_a_folder_named_like_a_pattern_and_name_unreadable_folders() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("nw[prod]*?");
    let main = write(
        &home,
        "main.toml",
        &format!(
            "[daemon]\ninclude = [\"conf.d/*.toml\"]\ninclude_optional = [\"local.d/*/*.toml\"]\n\n\
             {ONE_FEED}[[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\n"
        ),
    );
    write(
        &home,
        "conf.d/sinks.toml",
        "[[sink]]\nname = \"out\"\ntype = \"stdout\"\n",
    );
    write(
        &home,
        "local.d/team/more.toml",
        "[[sink]]\nname = \"more\"\ntype = \"stdout\"\n",
    );
    let plan = load(&main).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.sinks.len(), 2);
    let locked = home.join("local.d/team");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    let readable = std::fs::read_dir(&locked).is_ok();
    let result = load(&main)
        .map(|p| p.sinks.len())
        .map_err(|e| e.to_string());
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o755)).unwrap();
    if readable {
        // Root reads any folder: nothing is hidden from it.
        assert_eq!(result, Ok(2));
    } else {
        let e = result.unwrap_err();
        assert!(
            e.contains("main.toml:3:21: include \"local.d/*/*.toml\": cannot read `"),
            "{e}"
        );
        assert!(e.contains("team"), "{e}");
    }
}

/// Regression: a file matched by two include patterns, or the main file matched by its own
/// glob under another spelling (`-c ./self.toml`), was read twice: its feeds were reported as
/// duplicates of themselves (and the main file's `[daemon]` as misplaced). Each file is read
/// once; a pattern matching only the main file says so.
#[test]
fn every_file_is_read_once_whatever_the_patterns_and_spelling() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "d1/feeds.toml",
        "[[feed]]\nname = \"b\"\nurl = \"https://b.example/rss\"\n",
    );
    write(
        dir.path(),
        "sinks.toml",
        "[[sink]]\nname = \"out\"\ntype = \"stdout\"\n",
    );
    let main = write(
        dir.path(),
        "self.toml",
        "[daemon]\ninclude = [\"*.toml\", \"d1/*.toml\", \"d1/feeds.toml\"]\n\n\
         [[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\n",
    );
    let plan = load(&main).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.feeds.len(), 1);
    let dotted = dir.path().join(".").join("self.toml");
    let plan = load(&dotted).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.feeds.len(), 1);
    let only_self = write(
        dir.path(),
        "alone.toml",
        &format!("[daemon]\ninclude = [\"alone.toml\"]\n\n{ONE_FEED}"),
    );
    let text = load(&only_self).unwrap_err().to_string();
    assert!(
        text.contains("alone.toml:2:12: include \"alone.toml\" matches only this main configuration file itself"),
        "{text}"
    );
}

/// Regression: a syntax error in an included file dropped what it defines, and `check` added
/// false errors about it: with the sinks file broken, every watch's sink was "unknown". Names
/// are not called unknown while a file could not be read.
#[test]
fn a_broken_included_file_does_not_make_its_names_unknown() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "conf.d/sinks.toml",
        "[[sink]]\nname = \"newsroom\"\ntype = \"stdout\"\nrate = \"1/s\n",
    );
    let main = write(
        dir.path(),
        "main.toml",
        &format!(
            "[daemon]\ninclude = [\"conf.d/*.toml\"]\n\n{ONE_FEED}\
             [[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\nsinks = [\"newsroom\"]\n"
        ),
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(text.contains("sinks.toml:4:"), "{text}");
    assert!(text.contains("TOML syntax"), "{text}");
    assert!(!text.contains("unknown sink"), "{text}");
    assert!(!text.contains("has no sink"), "{text}");
}
