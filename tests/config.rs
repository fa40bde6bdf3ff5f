//! Configuration loading: every error at once with file:line:column, secrets, sinks and
//! watches (includes: `config_includes.rs`; the state setting: `config_state.rs`).

use std::path::Path;

use newswatch::config::{FeedSource, OnNewFeed};
use newswatch::deliver::{SinkConfig, SinkKind};
use newswatch::plan::load;

mod common;
use common::{ONE_FEED, write_file as write};

#[test]
fn a_valid_config_loads_with_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "newswatch.toml",
        r#"
[daemon]
poll_interval = "2m"
include = ["conf.d/*.toml"]

[[feed]]
url = "https://www.atalayar.com/en/rss"
name = "Atalayar"
interval = "90s"
tags = ["defence"]

[[sink]]
name = "newsroom"
type = "webhook"
url = "https://hooks.example.org/x"
secret = "file:hook.secret"

[[watch]]
name = "dprk-troops"
terms = ["North Korean troops", "North Korean soldiers", "Victory Plan"]
exclude = ["football"]
feeds = ["tag:defence"]
sinks = ["newsroom"]
"#,
    );
    write(
        dir.path(),
        "hook.secret",
        "whsec_c2VjcmV0LW9mLTI0LWJ5dGVzLWxvbmch\n",
    );
    write(
        dir.path(),
        "conf.d/more.toml",
        "[[feed]]\nurl = \"file:../local.xml\"\nname = \"local\"\n\n[[watch]]\nname = \"vp\"\nquery = '\"Victory Plan\" AND Zelensky'\n",
    );
    let plan = load(&main).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.daemon.poll_interval.as_secs(), 120);
    assert_eq!(plan.daemon.min_poll_interval.as_secs(), 30);
    assert_eq!(plan.daemon.max_body_size, 16 * 1024 * 1024);
    assert_eq!(plan.daemon.on_new_feed, OnNewFeed::Baseline);
    assert_eq!(plan.feeds.len(), 2);
    assert_eq!(plan.feeds[0].interval.map(|d| d.as_secs()), Some(90));
    assert_eq!(
        plan.feeds[1].source,
        FeedSource::File(dir.path().join("conf.d/../local.xml"))
    );
    assert_eq!(plan.sinks[0].config.kind(), SinkKind::Webhook);
    // The `whsec_` secret, read from its reference and base64-decoded once, at load.
    let SinkConfig::Webhook(hook) = &plan.sinks[0].config else {
        panic!("a webhook sink: {:?}", plan.sinks[0]);
    };
    assert_eq!(
        hook.key.as_ref().map(|k| k.bytes()),
        Some(&b"secret-of-24-bytes-long!"[..])
    );
    // Secrets never print.
    assert!(!format!("{:?}", plan.sinks[0]).contains("c2VjcmV0"));
    assert!(!format!("{:?}", plan.sinks[0]).contains("secret-of-24"));
    assert_eq!(plan.watches.specs().len(), 2);
}

#[test]
fn every_error_is_reported_at_once_with_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "bad.toml",
        r#"[daemon]
poll_interval = "5 fortnights"
listen = "nowhere"
colour = "blue"

[[feed]]
url = "ftp://example.org/feed"
name = "a"

[[feed]]
url = "https://example.org/feed"
name = "a"

[[sink]]
name = "chat"
type = "slak"

[[sink]]
name = "hook"
type = "webhook"

[[watch]]
name = "w1"
query = 'troops AND (Russia OR'
sinks = ["nope"]

[[watch]]
name = "w1"
terms = ["x"]

[[watch]]
name = "w3"
terms = ["x"]
feeds = ["missing", "tag:none"]
fields = ["text"]
"#,
    );
    let errors = load(&main).unwrap_err();
    let text = errors.to_string();
    let lines: Vec<&str> = text.lines().filter(|l| l.contains("bad.toml:")).collect();
    let expect = [
        ("bad.toml:2:17:", "poll_interval"),
        ("bad.toml:3:10:", "listen"),
        ("bad.toml:4:1:", "unknown key `colour`"),
        ("bad.toml:7:7:", "unsupported scheme `ftp`"),
        ("bad.toml:12:8:", "duplicate feed name `a`"),
        (
            "bad.toml:16:8:",
            "unknown type `slak` (did you mean `slack`?)",
        ),
        ("bad.toml:18:1:", "webhook sink `hook` needs `url`"),
        ("bad.toml:24:31:", "query column 22"),
        ("bad.toml:25:10:", "unknown sink `nope`"),
        ("bad.toml:28:8:", "duplicate watch name `w1`"),
        ("bad.toml:34:10:", "unknown feed `missing`"),
        ("bad.toml:34:21:", "no feed has the tag `none`"),
        ("bad.toml:35:11:", "unknown field `text`"),
    ];
    for (loc, msg) in expect {
        assert!(
            lines.iter().any(|l| l.contains(loc) && l.contains(msg)),
            "missing `{loc} … {msg}` in:\n{text}"
        );
    }
    assert!(text.trim_end().ends_with("errors"), "{text}");
}

#[test]
fn missing_secret_is_named_but_not_leaked() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "s.toml",
        "[[sink]]\nname = \"s\"\ntype = \"slack\"\nurl = \"env:NEWSWATCH_TEST_UNSET_HOOK\"\n\n\
         [[sink]]\nname = \"t\"\ntype = \"telegram\"\nbot_token = \"credential:tg\"\nchat_id = -100123\n\n\
         [[sink]]\nname = \"u\"\ntype = \"discord\"\nurl = \"hooks.example/api/webhooks/1/SECRETTOKEN\"\n",
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(text.contains("s.toml:4:7: sink `s`: `url`: environment variable `NEWSWATCH_TEST_UNSET_HOOK` is not set"), "{text}");
    assert!(text.contains("credential:tg"), "{text}");
    assert!(!text.contains("SECRETTOKEN"), "{text}");
}

#[test]
fn query_errors_point_at_the_column() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "q.toml",
        "[[watch]]\nname = \"q\"\nquery = '\"North Korean\" NEAR/x troops'\n",
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(
        text.contains("q.toml:3:25: watch `q`: query column 16: `NEAR/x`"),
        "{text}"
    );
    // A caret line under the query shows the column.
    assert!(text.contains("\n                   ^"), "{text}");
}

/// Regression: an error in a query written over several lines (a TOML multi-line string) was
/// named at the string's first line, and the whole query was quoted with the caret under
/// the wrong line. It is named at its character in the file, with its line of the query.
#[test]
fn an_error_in_a_multi_line_query_names_its_line() {
    let text = errors_of(
        "[[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
         [[watch]]\nname = \"dprk\"\nquery = '''\n(\"North Korean\" OR DPRK)\n\
         AND (troops OR soldiers OR)\nAND NOT title:football\n'''\n\n\
         [[watch]]\nname = \"esc\"\nquery = \"x\\tOR)\"\n",
    );
    assert_all_in(
        &text,
        &[
            "main.toml:9:27: watch `dprk`: query line 2, column 27: unexpected `)`\n    \
             AND (troops OR soldiers OR)\n                              ^\n",
            // Written with an escape, the query is not in the file as it reads: named where
            // it starts.
            "main.toml:15:9: watch `esc`: query column 5",
        ],
    );
    // An error at the end of a query that ends with a newline: after its last word, not on
    // the empty last line.
    let text = errors_of(
        "[[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
         [[watch]]\nname = \"open\"\nquery = '''\ntroops AND\n(Russia OR\n'''\n",
    );
    assert_all_in(
        &text,
        &[
            "main.toml:9:11: watch `open`: query line 2, column 11: expected a term, a phrase \
           or `(` here\n    (Russia OR\n              ^\n",
        ],
    );
}

#[test]
fn the_demo_config_is_valid() {
    let plan = load(Path::new("config/demo.toml")).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(plan.watches.specs().len(), 3);
}

#[test]
fn a_bad_standard_webhooks_secret_is_a_check_error() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "w.toml",
        "[[sink]]\nname = \"h\"\ntype = \"webhook\"\nurl = \"https://x.example/h\"\nsecret = \"whsec_!!notbase64\"\n",
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(
        text.contains("w.toml:5:10: sink `h`: `secret` starts with whsec_ but is not valid base64"),
        "{text}"
    );
    assert!(
        !text.contains("notbase64"),
        "the secret itself is never echoed: {text}"
    );
}

#[test]
fn terms_that_fold_to_one_letter_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "l.toml",
        "[[watch]]\nname = \"w\"\nterms = [\"C++\", \"U-2\", \"朝\", \"x*\"]\n\n[[watch]]\nname = \"q\"\nquery = 'Rust AND \"C#\"'\n\n[[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n[[watch]]\nname = \"e\"\nterms = [\"Rust\"]\nexclude = [\"C++\"]\n",
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(
        text.contains("l.toml:3:10: term \"C++\" matches as the single character `c`"),
        "{text}"
    );
    assert!(
        text.contains(
            "l.toml:7:9: watch `q`: query term \"C#\" matches as the single character `c`"
        ),
        "{text}"
    );
    // Regression: an exclusion that loose was accepted, and hid every match with a lone "c".
    assert!(
        text.contains("l.toml:16:12: exclude term \"C++\" matches as the single character `c`"),
        "{text}"
    );
    // "U-2" is two words, 朝 is a Han word, x* is a deliberate prefix: all fine.
    assert!(text.trim_end().ends_with("3 errors"), "{text}");
}

#[test]
fn a_watch_with_an_empty_sinks_list_is_a_check_error() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.toml",
        &format!(
            "{ONE_FEED}[[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\nsinks = []\n"
        ),
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(
        text.contains("main.toml:12:9: watch `w`: `sinks` is empty"),
        "{text}"
    );
}

#[test]
fn a_watch_in_a_config_without_any_sink_is_a_check_error() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.toml",
        &format!("{ONE_FEED}[[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\n"),
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(
        text.contains("main.toml:5:1: watch `w` has no sink: no [[sink]] is configured"),
        "{text}"
    );
}

/// Regression: a key given a value of the wrong type was reported twice, as that and as
/// missing ("sink `s` needs a `type`"); and a watch beside a sink without a valid name was
/// told that no [[sink]] is configured at all.
#[test]
fn a_mistyped_key_is_one_error_not_also_a_missing_one() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.toml",
        "[[feed]]\nname = \"f\"\nurl = 5\n\n\
         [[sink]]\nname = \"s\"\ntype = 5\n\n\
         [[sink]]\nname = true\ntype = \"stdout\"\n\n\
         [[watch]]\nname = 1\nterms = [\"Victory Plan\"]\n\n\
         [[watch]]\nname = \"w\"\nterms = 7\n",
    );
    let text = load(&main).unwrap_err().to_string();
    for expected in [
        "main.toml:3:7: `url` in [[feed]] must be a string, not an integer",
        "main.toml:7:8: `type` in [[sink]] must be a string, not an integer",
        "main.toml:10:8: `name` in [[sink]] must be a string, not a boolean",
        "main.toml:14:8: `name` in [[watch]] must be a string, not an integer",
        "main.toml:19:9: `terms` in [[watch]] must be a list of strings, not an integer",
    ] {
        assert!(text.contains(expected), "{expected} in:\n{text}");
    }
    for cascade in ["needs", "no [[sink]] is configured"] {
        assert!(!text.contains(cascade), "{cascade} in:\n{text}");
    }
    assert_eq!(
        text.lines().filter(|l| l.contains("main.toml:")).count(),
        5,
        "{text}"
    );
}

#[test]
fn a_listener_beyond_loopback_without_a_listen_token_is_a_check_error() {
    let dir = tempfile::tempdir().unwrap();
    let body = format!(
        "{ONE_FEED}[[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
         [[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\n"
    );
    let main = write(
        dir.path(),
        "main.toml",
        &format!("[daemon]\nlisten = \"0.0.0.0:9480\"\n\n{body}"),
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(
        text.contains("main.toml:2:10: `listen` = \"0.0.0.0:9480\" is not a loopback address: set `listen_token`"),
        "{text}"
    );
    // With a token (by reference) it loads; a loopback listener needs none.
    write(dir.path(), "listen.token", "0123456789abcdef\n");
    let main = write(
        dir.path(),
        "main.toml",
        &format!(
            "[daemon]\nlisten = \"0.0.0.0:9480\"\nlisten_token = \"file:listen.token\"\n\n{body}"
        ),
    );
    let plan = load(&main).unwrap_or_else(|e| panic!("{e}"));
    let token = plan.daemon.listen_token.as_ref().map(|t| t.expose());
    assert_eq!(token, Some("0123456789abcdef"));
    let main = write(
        dir.path(),
        "main.toml",
        &format!("[daemon]\nlisten = \"[::1]:9480\"\n\n{body}"),
    );
    load(&main).unwrap_or_else(|e| panic!("{e}"));
    // A token that cannot be read is named, never shown.
    let main = write(
        dir.path(),
        "main.toml",
        &format!("[daemon]\nlisten_token = \"env:NEWSWATCH_TEST_UNSET_TOKEN\"\n\n{body}"),
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(
        text.contains("main.toml:2:16: `listen_token`: environment variable `NEWSWATCH_TEST_UNSET_TOKEN` is not set"),
        "{text}"
    );
}

#[test]
fn a_feed_named_after_its_url_showed_the_credentials_in_it() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.toml",
        "[[feed]]\nurl = \"https://u:SECRETPW@x.example/rss?token=SECRETTK\"\n\n\
         [[sink]]\nname = \"out\"\ntype = \"stdout\"\n",
    );
    let plan = load(&main).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        plan.feeds[0].name,
        "https://redacted@x.example/rss?token=redacted"
    );
    // The full URL is still what is fetched.
    assert!(plan.feeds[0].source.to_string().contains("SECRETTK"));
}

/// Regression: a watch naming a feed by a URL no feed has (a typo in it) had `check` quote
/// that URL whole, its `token=` value with it, while the suggested name beside it was
/// redacted.
#[test]
fn an_unknown_feed_url_in_a_watch_is_quoted_redacted() {
    let text = errors_of(
        "[[feed]]\nurl = \"https://x.example/rss?token=SECRETTK\"\n\n\
         [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
         [[watch]]\nname = \"w\"\nterms = [\"kim\"]\nfeeds = [\"https://x.example/rs?token=SECRETTK\"]\n",
    );
    assert_all_in(
        &text,
        &["main.toml:11:10: watch `w`: unknown feed `https://x.example/rs?token=redacted`"],
    );
    assert!(!text.contains("SECRETTK"), "{text}");
}

#[test]
fn a_sink_with_an_unset_secret_was_also_reported_as_unknown_by_every_watch() {
    // The shipped example without SLACK_WEBHOOK_URL said "unknown sink `newsroom`" once per
    // watch after naming the variable. The sink exists: its own error is the only one.
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "c.toml",
        "[[sink]]\nname = \"newsroom\"\ntype = \"slack\"\nurl = \"env:NEWSWATCH_TEST_UNSET_CASCADE\"\n\n\
         [[sink]]\nname = \"desk\"\ntype = \"slak\"\nurl = \"https://hooks.example.org/x\"\n\n\
         [[watch]]\nname = \"a\"\nterms = [\"Victory Plan\"]\nsinks = [\"newsroom\", \"desk\"]\n\n\
         [[watch]]\nname = \"b\"\nterms = [\"North Korean troops\"]\nsinks = [\"newsroom\", \"nwesroom2\"]\n",
    );
    let errors = load(&main).unwrap_err();
    let text = errors.to_string();
    assert_eq!(errors.0.len(), 3, "{text}");
    assert!(
        text.contains("c.toml:4:7: sink `newsroom`: `url`: environment variable `NEWSWATCH_TEST_UNSET_CASCADE` is not set"),
        "{text}"
    );
    assert!(
        text.contains("c.toml:8:8: sink `desk`: unknown type `slak`"),
        "{text}"
    );
    // A sink that is not defined anywhere is still unknown.
    assert!(
        text.contains("c.toml:19:22: watch `b`: unknown sink `nwesroom2`"),
        "{text}"
    );
    assert!(!text.contains("unknown sink `newsroom`"), "{text}");
    assert!(!text.contains("unknown sink `desk`"), "{text}");
}

/// Regression: settings that passed `check` and then misbehaved. A blank `listen_token` let
/// anyone in with an empty password (`curl -u :`) on a public address, a blank webhook
/// `secret` made signatures anyone could forge, a `log_level` that names no level silenced
/// every log line (errors too), a control character in `user_agent` failed every fetch with
/// "builder error", `state = ""` failed at start, a duration of 500 billion years overflowed
/// the poll schedule, and `feeds = []` made a watch that never matches. Each is a `check`
/// error now, reported together.
#[test]
fn settings_that_passed_check_and_then_misbehaved_are_check_errors() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.toml",
        "[daemon]\nlisten = \"0.0.0.0:18799\"\nlisten_token = \"  \"\nlog_level = \"verbose\"\n\
         user_agent = \"bot\\u0001x\"\nstate = \"\"\n\n\
         [[feed]]\nname = \"a\"\nurl = \"https://a.example/rss\"\ninterval = \"500000000000years\"\n\n\
         [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = \"https://hooks.example.org/x\"\nsecret = \"\"\n\n\
         [[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\nfeeds = []\n",
    );
    let text = load(&main).unwrap_err().to_string();
    for expected in [
        "main.toml:3:16: `listen_token`: is empty",
        "main.toml:4:13: `log_level` = \"verbose\" is not a filter",
        "main.toml:5:14: `user_agent` must be one non-empty line of visible characters",
        "main.toml:6:9: `state` is empty",
        "main.toml:11:12: `interval` = \"500000000000years\" is longer than 100 years",
        "`secret`: is empty",
        // Regression: reported at the key; it was reported at the `[[watch]]` line.
        "main.toml:22:9: watch `w`: `feeds = []` names no feed",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

/// Regression: "at most 100 years" refused `100years`, which humantime reads as 100 years of
/// 365.25 days, longer than the limit's 100 years of 365.
#[test]
fn a_duration_of_exactly_100_years_is_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let config = |interval: &str| {
        format!(
            "[[feed]]\nname = \"a\"\nurl = \"https://a.example/rss\"\ninterval = \"{interval}\"\n\n\
             [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
             [[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\n"
        )
    };
    let ok = write(dir.path(), "ok.toml", &config("100years"));
    assert!(
        load(&ok).is_ok(),
        "{:?}",
        load(&ok).err().map(|e| e.to_string())
    );
    let long = write(dir.path(), "long.toml", &config("100years 1day"));
    let text = load(&long).unwrap_err().to_string();
    assert!(text.contains("is longer than 100 years"), "{text}");
}

/// Regression: a feed whose URL was refused was dropped before its other settings were
/// checked (their errors came one `check` later), and a watch naming it, or one of its tags,
/// got false errors ("unknown feed", "no feed has the tag") besides the real one.
#[test]
fn a_feed_with_a_bad_url_reports_its_other_errors_and_no_false_ones_at_the_watch() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.toml",
        "[[feed]]\nname = \"Atalayar\"\nurl = \"ftp://x.example/rss\"\ninterval = \"0s\"\ntags = [\"defence\", \"\"]\n\n\
         [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
         [[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\nfeeds = [\"Atalayar\", \"tag:defence\"]\n",
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(text.contains("main.toml:3:7:"), "{text}");
    assert!(
        text.contains("main.toml:4:12: `interval` must be longer than zero"),
        "{text}"
    );
    assert!(text.contains("main.toml:5:20: empty tag"), "{text}");
    assert!(!text.contains("unknown feed"), "{text}");
    assert!(!text.contains("no feed has the tag"), "{text}");
    assert!(
        text.contains("3 errors") || text.lines().count() == 3,
        "{text}"
    );
}

/// Regression: `poll_interval` below `min_poll_interval` was reported at `[daemon]` (1:1),
/// not at the setting.
#[test]
fn a_poll_interval_below_the_minimum_is_reported_at_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.toml",
        &format!("[daemon]\nmin_poll_interval = \"5m\"\npoll_interval = \"1m\"\n\n{ONE_FEED}"),
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(
        text.contains("main.toml:3:17: `poll_interval` (1m) is below `min_poll_interval` (5m)"),
        "{text}"
    );
}

/// Regression: a duplicate feed, sink or watch name, or a sink without a name, stopped the
/// checks of that entry: its other errors came one `check` at a time.
#[test]
fn entries_with_a_duplicate_or_missing_name_are_still_checked() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "main.toml",
        "[[feed]]\nname = \"a\"\nurl = \"https://a.example/rss\"\n\n\
         [[feed]]\nname = \"a\"\nurl = \"https://b.example/rss\"\ninterval = \"0s\"\n\n\
         [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
         [[sink]]\ntype = \"slack\"\nurl = \"https://hooks.slack.com/services/x\"\nrate = \"fast\"\n\n\
         [[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\n\n\
         [[watch]]\nname = \"w\"\nquery = \"(broken\"\n",
    );
    let text = load(&main).unwrap_err().to_string();
    for expected in [
        "main.toml:6:8: duplicate feed name `a`",
        "main.toml:8:12: `interval` must be longer than zero",
        "main.toml:14:1: [[sink]] needs a `name`",
        "main.toml:17:8: sink `(unnamed)`: `rate` = \"fast\"",
        "main.toml:24:8: duplicate watch name `w`",
        "main.toml:25:17: watch `w`: query column",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
}

/// Regression: a sink setting written with a value of the wrong kind (`url = 1.5`, a chat id
/// past 64 bits) was reported where it is written and again as missing ("webhook sink `hook`
/// needs `url`", at the `[[sink]]` line), which sent the reader looking for a key that is
/// there.
#[test]
fn a_sink_setting_of_the_wrong_kind_is_reported_once_where_it_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let main = write(
        dir.path(),
        "bad.toml",
        "[[feed]]\nname = \"a\"\nurl = \"https://example.org/feed\"\n\n\
         [[sink]]\nname = \"hook\"\ntype = \"webhook\"\nurl = 1.5\n\n\
         [[sink]]\nname = \"tg\"\ntype = \"telegram\"\nbot_token = \"123:abc\"\n\
         chat_id = 99999999999999999999\n\n\
         [[watch]]\nname = \"w\"\nterms = [\"kursk\"]\nsinks = [\"hook\", \"tg\"]\n",
    );
    let text = load(&main).unwrap_err().to_string();
    assert!(text.contains("bad.toml:8:7:"), "the url's value: {text}");
    assert!(
        text.contains("bad.toml:14:11:"),
        "the chat id's value: {text}"
    );
    assert!(!text.contains("needs `url`"), "{text}");
    assert!(!text.contains("needs `chat_id`"), "{text}");
    assert!(text.trim_end().ends_with("2 errors"), "{text}");
}

/// Regression: a watch with both `terms` and `query` had only that reported; a term too short
/// to match or a broken query beside it came up only once the first error was mended.
#[test]
fn a_watch_with_terms_and_query_has_both_checked_too() {
    let text = errors_of(
        "[[feed]]\nname = \"f\"\nurl = \"https://x.example/rss\"\n\n\
         [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
         [[watch]]\nname = \"w\"\nterms = [\"Зеленский\", \"a\"]\nquery = \"x AND (\"\n",
    );
    assert_all_in(
        &text,
        &[
            "main.toml:11:23: term \"a\" matches as the single character",
            "main.toml:12:17: watch `w`: query column 8",
            "main.toml:12:9: watch `w` has both `terms` and `query`",
        ],
    );
}

/// Regression: two feeds on one document alert each of its items twice, under two feeds.
/// `check` refused `file:feed.xml` beside `feed.xml` (still an error), and said nothing of
/// `./feed.xml`, nor of a URL written with another case of scheme or host or with a fragment
/// (never sent to the server). Those are warnings, not errors: earlier releases loaded such
/// a configuration, and an error would keep the daemon from starting after an upgrade.
#[test]
fn two_feeds_on_one_document_are_named_however_it_is_written() {
    let feeds = "[[feed]]\nname = \"a\"\nurl = \"feed.xml\"\n\n\
                 [[feed]]\nname = \"b\"\nurl = \"./feed.xml\"\n\n\
                 [[feed]]\nname = \"d\"\nurl = \"http://news.example/rss\"\n\n\
                 [[feed]]\nname = \"e\"\nurl = \"HTTP://News.Example/rss#top\"\n\n\
                 [[feed]]\nname = \"f\"\nurl = \"http://news.example/rss?page=2\"\n\n\
                 [[sink]]\nname = \"out\"\ntype = \"stdout\"\n";
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "feed.xml", "<rss/>");
    let plan = load(&write(dir.path(), "main.toml", feeds)).unwrap_or_else(|e| panic!("{e}"));
    let warnings: Vec<String> = plan.warnings.iter().map(ToString::to_string).collect();
    let text = warnings.join("\n");
    assert_all_in(
        &text,
        &[
            "main.toml:7:7: feed url `./feed.xml` reads the same document as feed `a`",
            "main.toml:15:7: feed url `HTTP://News.Example/rss#top` reads the same document as \
             feed `d`",
        ],
    );
    // Another query is another document.
    assert!(!text.contains("feed `f`"), "{text}");
    assert_eq!(text.matches("reads the same document").count(), 2, "{text}");
    // The same file written as a file URL is the same feed URL: an error.
    let text = errors_of(&format!(
        "{feeds}\n[[feed]]\nname = \"c\"\nurl = \"file:feed.xml\"\n"
    ));
    assert_all_in(
        &text,
        &["feed url `file:feed.xml` is already used by feed `a`"],
    );
}

/// What `check` says of a configuration written as `main.toml` (with a `feed.xml` beside it).
fn errors_of(toml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), "feed.xml", "<rss/>");
    let main = write(dir.path(), "main.toml", toml);
    load(&main).unwrap_err().to_string()
}

/// Fails naming the first of `wants` that `text` lacks.
fn assert_all_in(text: &str, wants: &[&str]) {
    for want in wants {
        assert!(text.contains(want), "missing {want:?} in:\n{text}");
    }
}
