//! The real binary: `check` and `try`.

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn newswatch(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(args)
        .env_remove("NEWSWATCH_CONFIG")
        .output()
        .unwrap()
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn check_accepts_the_demo_config() {
    let o = newswatch(&["check", "-c", "config/demo.toml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("ok — 1 feed, 1 sink, 3 watches (8 distinct terms)"),
        "{}",
        stdout(&o)
    );
}

/// Regression: a `RUST_LOG` that is no filter was ignored in silence.
#[test]
fn an_invalid_rust_log_is_named() {
    let o = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["check", "-c", "config/demo.toml"])
        .env_remove("NEWSWATCH_CONFIG")
        .env_remove("JOURNAL_STREAM")
        .env("RUST_LOG", "bogus===")
        .output()
        .unwrap();
    assert!(o.status.success());
    assert!(
        stderr(&o).starts_with("newswatch: RUST_LOG=\"bogus===\" is not a log filter ("),
        "{}",
        stderr(&o)
    );
}

/// Regression: `RUST_LOG=verbose` (a target name, not a level) turned every log line off,
/// errors included, with no word said; `log_level = "verbose"` is refused, but `RUST_LOG` wins
/// over it. It is named and the default level used.
#[test]
fn a_rust_log_that_would_silence_every_line_is_named() {
    for (value, ok) in [
        ("verbose", false),
        ("sqlx", false),
        ("debug", true),
        ("3", true),
        ("WARN", true),
        ("newswatch", true),
        ("sqlx=debug", true),
        ("verbose,info", true),
    ] {
        let o = Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .args(["check", "-c", "config/demo.toml"])
            .env_remove("NEWSWATCH_CONFIG")
            .env_remove("JOURNAL_STREAM")
            .env("RUST_LOG", value)
            .output()
            .unwrap();
        assert!(o.status.success());
        let named = stderr(&o).starts_with(&format!(
            "newswatch: RUST_LOG=\"{value}\" is not a log filter (`{value}` is the name of a log target"
        ));
        assert_eq!(named, !ok, "{value}: {}", stderr(&o));
    }
}

#[test]
fn check_lists_every_error_and_fails() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("bad.toml");
    std::fs::write(
        &p,
        "[[feed]]\nurl = \"gopher://x\"\n\n[[watch]]\nname = \"w\"\nquery = \"a AND\"\nsinks = [\"none\"]\n",
    )
    .unwrap();
    let o = newswatch(&["check", "-c", p.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(err.contains("bad.toml:2:7:"), "{err}");
    assert!(
        err.contains("bad.toml:6:15: watch `w`: query column 6"),
        "{err}"
    );
    assert!(
        err.contains("bad.toml:7:10: watch `w`: unknown sink `none`"),
        "{err}"
    );
    assert!(err.trim_end().ends_with("3 errors"), "{err}");
}

/// Regression: a feed `interval` below `min_poll_interval` was raised to the floor in
/// silence, and a `[semantic]` table no watch used was neither loaded nor mentioned (a wrong
/// model path went unnoticed). `check` names both, at their lines, and still passes.
#[test]
fn check_warns_of_settings_that_do_less_than_written() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("w.toml");
    std::fs::write(
        &p,
        "[daemon]\nmin_poll_interval = \"1m\"\n\n[semantic]\nmodel = \"/nowhere\"\n\n\
         [[feed]]\nname = \"f\"\nurl = \"https://news.example/rss\"\ninterval = \"10s\"\n\n\
         [[feed]]\nurl = \"https://other.example/rss\"\ninterval = \"5s\"\n\n\
         [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
         [[watch]]\nname = \"w\"\nterms = [\"Kursk\"]\nsinks = [\"out\"]\n\n\
         [[sink]]\nname = \"forgotten\"\ntype = \"stdout\"\n",
    )
    .unwrap();
    let o = newswatch(&["check", "-c", p.to_str().unwrap()]);
    let err = stderr(&o);
    assert!(o.status.success(), "{err}");
    assert!(
        err.contains("warning: ")
            && err.contains("w.toml:4:1: [semantic] is not used: no watch has `about`"),
        "{err}"
    );
    assert!(
        err.contains(
            "w.toml:10:12: feed `f`: `interval` (10s) is below `min_poll_interval` (1m): \
             it is polled every 1m"
        ),
        "{err}"
    );
    // A feed without a name is named by its URL.
    assert!(
        err.contains(
            "w.toml:14:12: feed `https://other.example/rss`: `interval` (5s) is below \
             `min_poll_interval` (1m)"
        ),
        "{err}"
    );
    // A sink added without adding it to the watches' `sinks`.
    assert!(
        err.contains(
            "w.toml:26:8: sink `forgotten` is sent nothing: no watch names it in its `sinks`"
        ),
        "{err}"
    );
    assert!(!err.contains("sink `out`"), "{err}");
    assert!(stdout(&o).contains("ok — 2 feeds"), "{}", stdout(&o));
    // Nothing to say about the demo.
    let o = newswatch(&["check", "-c", "config/demo.toml"]);
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
}

#[test]
fn check_reports_a_missing_file() {
    let o = newswatch(&["check", "-c", "/nonexistent/newswatch.toml"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("/nonexistent/newswatch.toml: cannot read configuration"));
}

#[test]
fn try_prints_matches_with_highlighted_snippets() {
    let o = newswatch(&["try", "-c", "config/demo.toml", "config/demo-feed.xml"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(
        out.contains("▶ dprk-troops  [demo-world]  NATO warns North Korean troop transfers"),
        "{out}"
    );
    assert!(out.contains("**North Korean troops**"), "{out}");
    assert!(out.contains("‘**Victory Plan**’"), "{out}");
    assert!(
        out.contains("https://www.atalayar.com/en/articles/"),
        "{out}"
    );
    // The football item is excluded from dprk-troops, the Kimberly item matches nothing.
    assert!(!out.contains("Kimberly"), "{out}");
    assert!(stderr(&o).contains("3 items read"), "{}", stderr(&o));
}

#[test]
fn try_json_lines_have_the_documented_keys() {
    let o = newswatch(&[
        "try",
        "-c",
        "config/demo.toml",
        "--json",
        "--all",
        "config/demo-feed.xml",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(lines.len() >= 4, "{lines:?}");
    for l in &lines {
        for key in [
            "watch",
            "feed",
            "item_key",
            "title",
            "link",
            "published",
            "hits",
            "snippet",
        ] {
            assert!(l.get(key).is_some(), "missing {key} in {l}");
        }
    }
    let vp = lines
        .iter()
        .find(|l| l["watch"] == "victory-plan")
        .expect("victory-plan matches");
    assert_eq!(vp["feed"], "demo-world");
    assert_eq!(vp["item_key"], "atalayar-2024-10-20-nk-troops");
    assert_eq!(vp["published"], "2024-10-20T09:30:00+00:00");
    let hit = &vp["hits"][0];
    assert_eq!(hit["term"], "Victory Plan");
    assert!(hit["start"].as_u64().unwrap() < hit["end"].as_u64().unwrap());
    // --all shows unmatched items with a null watch.
    let kimberly = lines
        .iter()
        .find(|l| l["title"].as_str().unwrap_or("").starts_with("Kimberly"))
        .expect("--all prints unmatched items");
    assert!(kimberly["watch"].is_null());
}

#[test]
fn try_reads_stdin_and_reports_unreadable_sources() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args([
            "try",
            "-c",
            "config/demo.toml",
            "--json",
            "-",
            "/nonexistent/feed.xml",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(
            std::fs::read(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/fixtures/seed.atom"
            ))
            .unwrap()
            .as_slice(),
        )
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(1), "a missing source is a failure");
    let out = stdout(&o);
    assert!(out.contains("\"watch\":\"victory-plan\""), "{out}");
    assert!(
        stderr(&o).contains("cannot read /nonexistent/feed.xml"),
        "{}",
        stderr(&o)
    );
}

/// Regression: a document whose root element's "name" held terminal escapes (and could run
/// for megabytes) was quoted raw in the error: `try`, the log and `status` wrote ESC and BEL
/// to the operator's terminal.
#[test]
fn an_error_quoting_a_hostile_document_is_printable_and_short() {
    let dir = tempfile::tempdir().unwrap();
    let feed = dir.path().join("hostile.xml");
    let mut body = b"<a\x1b[31mRED\x07".to_vec();
    body.extend(std::iter::repeat_n(b'x', 100_000));
    body.push(b'>');
    std::fs::write(&feed, body).unwrap();
    let o = newswatch(&["try", "-c", "config/demo.toml", feed.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1));
    let err = stderr(&o);
    assert!(
        err.contains("root element <a\\u{1b}[31mRED\\u{7}xxx"),
        "{err}"
    );
    assert!(!err.contains(['\x1b', '\x07']), "{err:?}");
    assert!(err.len() < 1_000, "{} bytes", err.len());
}

/// Regression: `try ../dir/sport.xml` did not take the file for the configured feed
/// `file:sport.xml` (paths compared as written, `..` kept), so a watch scoped to another
/// feed's tag alerted where the daemon would not.
#[test]
fn try_knows_a_configured_feed_however_its_path_is_written() {
    let dir = tempfile::tempdir().unwrap();
    let rss = |title: &str| {
        format!(
            "<rss version=\"2.0\"><channel><title>t</title><item><guid>1</guid>\
             <title>{title}</title></item></channel></rss>"
        )
    };
    std::fs::write(dir.path().join("sport.xml"), rss("Kyiv derby ends 2-2")).unwrap();
    std::fs::write(dir.path().join("news.xml"), rss("Kyiv under attack")).unwrap();
    std::fs::write(
        dir.path().join("nw.toml"),
        "[daemon]\nstate = \"state.db\"\nlisten = \"off\"\n\
         [[feed]]\nname = \"sport\"\nurl = \"file:sport.xml\"\ntags = [\"sport\"]\n\
         [[feed]]\nname = \"news\"\nurl = \"file:news.xml\"\ntags = [\"news\"]\n\
         [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\
         [[watch]]\nname = \"kyiv-news\"\nterms = [\"Kyiv\"]\nfeeds = [\"tag:news\"]\n",
    )
    .unwrap();
    let name = dir.path().file_name().unwrap().to_str().unwrap();
    let roundabout = |file: &str| format!("../{name}/{file}");
    let o = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .current_dir(dir.path())
        .args(["try", "--json", "-c", "nw.toml"])
        .args([roundabout("sport.xml"), roundabout("news.xml")])
        .env_remove("NEWSWATCH_CONFIG")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    assert!(out.contains("Kyiv under attack"), "{out}");
    assert!(out.contains("\"feed\":\"news\""), "{out}");
    assert!(
        !out.contains("derby"),
        "the sport feed is out of the watch's scope: {out}"
    );
}

#[test]
fn try_fetches_a_url() {
    // A real local HTTP server on 127.0.0.1:0, serving the demo feed gzip-free with a charset.
    let rt = tokio::runtime::Runtime::new().unwrap();
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    let addr = listener.local_addr().unwrap();
    let feed = std::fs::read("config/demo-feed.xml").unwrap();
    let app = axum::Router::new().route(
        "/rss",
        axum::routing::get(move || {
            let feed = feed.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/rss+xml; charset=utf-8",
                    )],
                    feed,
                )
            }
        }),
    );
    rt.spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    let url = format!("http://{addr}/rss");
    let o = newswatch(&["try", "-c", "config/demo.toml", "--json", &url]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // Not a configured feed: named by its URL, and feed-scoped watches apply too.
    assert!(out.contains(&format!("\"feed\":\"{url}\"")), "{out}");
    assert!(out.contains("\"watch\":\"dprk-troops\""), "{out}");
    let missing = format!("http://{addr}/missing");
    let o = newswatch(&["try", "-c", "config/demo.toml", &missing]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("HTTP 404"), "{}", stderr(&o));
}

#[test]
fn the_example_config_checks() {
    // The example references its secrets; give them, as systemd and the environment would.
    let creds = tempfile::tempdir().unwrap();
    std::fs::write(creds.path().join("matrix-token"), "syt_example_token\n").unwrap();
    let o = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["check", "-c", "config/example.toml"])
        .env(
            "SLACK_WEBHOOK_URL",
            "https://hooks.slack.com/services/T000/B000/XXXX",
        )
        .env("CREDENTIALS_DIRECTORY", creds.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("4 feeds, 2 sinks, 4 watches"),
        "{}",
        stdout(&o)
    );
    // Without the secrets, check names what is missing.
    let o = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["check", "-c", "config/example.toml"])
        .env_remove("SLACK_WEBHOOK_URL")
        .env_remove("CREDENTIALS_DIRECTORY")
        .output()
        .unwrap();
    assert!(!o.status.success());
    assert!(stderr(&o).contains("SLACK_WEBHOOK_URL"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("credential:matrix-token"),
        "{}",
        stderr(&o)
    );
    // Each sink is reported once, by its own error; the watches naming it add nothing.
    assert_eq!(
        stderr(&o).matches("SLACK_WEBHOOK_URL").count(),
        1,
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("unknown sink"), "{}", stderr(&o));
    // The README quotes this error for the installed copy: at the line the file has.
    let readme = std::fs::read_to_string("README.md").unwrap();
    let quoted = readme
        .split("/etc/newswatch/newswatch.toml:")
        .nth(1)
        .and_then(|rest| rest.split(": sink `newsroom`").next())
        .unwrap();
    assert!(
        stderr(&o).contains(&format!(
            "config/example.toml:{quoted}: sink `newsroom`: `url`"
        )),
        "the README quotes line {quoted}: {}",
        stderr(&o)
    );
}

#[test]
fn try_shows_youtube_media_descriptions() {
    let o = newswatch(&[
        "try",
        "-c",
        "config/demo.toml",
        "tests/fixtures/youtube-channel.atom",
    ]);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = stdout(&o);
    // Both terms occur only in the video's media:description.
    assert!(
        out.contains("▶ victory-plan  [tests/fixtures/youtube-channel.atom]  Kursk: what we know"),
        "{out}"
    );
    assert!(out.contains("'**Victory Plan**'"), "{out}");
    assert!(out.contains("**North Korean troops**"), "{out}");
    assert!(
        out.contains("https://www.youtube.com/watch?v=Xk3vQ9aB1cD"),
        "{out}"
    );
    assert!(stderr(&o).contains("2 items read"), "{}", stderr(&o));
}

#[test]
fn try_printed_the_raw_panic_of_a_crashing_feed_parser() {
    // A 23-digit itunes:duration overflows an unwrap() inside feed-rs. The crash is caught
    // quietly (the panic message must not reach the terminal), and the feed is read once the
    // duration is dropped (before, the whole feed was lost: "the feed parser crashed").
    let o = newswatch(&[
        "try",
        "-c",
        "config/demo.toml",
        "tests/fixtures/itunes-duration-overflow.rss",
        "config/demo-feed.xml",
    ]);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(0), "{err}");
    assert!(
        err.contains("tests/fixtures/itunes-duration-overflow.rss: 1 item read"),
        "{err}"
    );
    assert!(
        err.contains("dropped media durations and times too large to read"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    assert!(!err.contains("unwrap"), "{err}");
    assert!(err.contains("config/demo-feed.xml: 3 items read"), "{err}");
}

#[test]
fn migrate_creates_the_state_and_refuses_while_a_daemon_holds_it() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("nw.toml");
    std::fs::write(
        &cfg,
        "[daemon]\nstate = \"state/nw.db\"\nlisten = \"off\"\n\n\
         [[feed]]\nname = \"f\"\nurl = \"file:feed.xml\"\n\n\
         [[sink]]\nname = \"out\"\ntype = \"stdout\"\n\n\
         [[watch]]\nname = \"w\"\nterms = [\"Victory Plan\"]\n",
    )
    .unwrap();
    let cfg = cfg.to_str().unwrap();
    let o = newswatch(&["migrate", "-c", cfg]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(
        stdout(&o).contains("the state's tables are up to date"),
        "{}",
        stdout(&o)
    );
    let state = dir.path().join("state/nw.db");
    assert!(state.exists(), "migrate made no state file");
    // Run again it changes nothing and still succeeds.
    let o = newswatch(&["migrate", "-c", cfg]);
    assert!(o.status.success(), "{}", stderr(&o));
    // Under a daemon's lock (the state file's lock file held) it refuses, saying why.
    let lock = std::fs::OpenOptions::new()
        .write(true)
        .open(dir.path().join("state/nw.db.lock"))
        .unwrap();
    lock.try_lock().unwrap();
    let o = newswatch(&["migrate", "-c", cfg]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(
        stderr(&o).contains("another newswatch is running"),
        "{}",
        stderr(&o)
    );
}

/// Regression: `NEWSWATCH_CONFIG=""` was taken as the path "", and the error named no file
/// (": cannot read configuration…"). An empty variable counts as unset: the default path is
/// tried, and named.
#[test]
fn an_empty_newswatch_config_is_unset() {
    let o = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .arg("check")
        .env("NEWSWATCH_CONFIG", "")
        .output()
        .unwrap();
    let err = stderr(&o);
    assert!(
        !err.starts_with(": ") && !err.contains(" : cannot read"),
        "{err}"
    );
    // Where the package is installed the default exists and is checked instead.
    if !std::path::Path::new("/etc/newswatch/newswatch.toml").exists() {
        assert!(!o.status.success());
        assert!(err.contains("/etc/newswatch/newswatch.toml"), "{err}");
    }
}

/// Regression: `try` counted an item a feed lists twice as two alerts, and a link two sources
/// carry as an alert from each, where the daemon sends one (a feed's item once; a watch's
/// repeat of a link it alerted from another feed is dropped).
#[test]
fn try_counted_relisted_items_and_cross_feed_repeats_as_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let rss = |items: &[(&str, &str)]| {
        let mut s = String::from("<rss version=\"2.0\"><channel><title>t</title>");
        for (guid, link) in items {
            s.push_str(&format!(
                "<item><guid>{guid}</guid><link>{link}</link><title>Victory Plan \
                 presented ({guid})</title></item>"
            ));
        }
        s + "</channel></rss>"
    };
    let a = dir.path().join("a.xml");
    let b = dir.path().join("b.xml");
    // `a` lists item 1 twice, and its items 1 and 2 share a link (one poll: both alert).
    std::fs::write(
        &a,
        rss(&[
            ("1", "https://news.example/plan"),
            ("2", "https://news.example/plan?utm_source=x"),
            ("1", "https://news.example/plan"),
        ]),
    )
    .unwrap();
    // `b` carries the same story's link (a repeat) and one of its own.
    std::fs::write(
        &b,
        rss(&[
            ("b1", "https://NEWS.example/plan#top"),
            ("b2", "https://news.example/other"),
        ]),
    )
    .unwrap();
    let (a, b) = (a.to_str().unwrap(), b.to_str().unwrap());
    let o = newswatch(&["try", "-c", "config/demo.toml", a, b]);
    assert!(o.status.success(), "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains(&format!(
            "{a}: 3 items read, 2 alerts would be sent, 1 listed twice (counted once)"
        )),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "{b}: 2 items read, 1 alert would be sent, 1 dropped as repeats of a link alerted \
             from an earlier source"
        )),
        "{err}"
    );
    let out = stdout(&o);
    assert_eq!(out.matches("▶ victory-plan").count(), 4, "{out}");
    assert!(
        out.contains(&format!(
            "a repeat: this watch alerted the same link from [{a}], so this is not sent"
        )),
        "{out}"
    );
    let o = newswatch(&["try", "--json", "-c", "config/demo.toml", a, b]);
    let lines: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let repeats: Vec<(&str, &str)> = lines
        .iter()
        .filter_map(|l| Some((l["item_key"].as_str()?, l["repeat_of"].as_str()?)))
        .collect();
    assert_eq!(repeats, [("b1", a)], "{lines:?}");
    assert_eq!(lines.len(), 4, "{lines:?}");
}

/// Regression: `try … | head` exited 1 with no message once the reader had closed the pipe
/// (a script with `pipefail` took that for an unreadable source). A closed pipe is the
/// reader's choice: exit 0.
#[test]
fn try_into_a_pipe_closed_early_succeeds() {
    use std::io::Read;
    let dir = tempfile::tempdir().unwrap();
    let items: String = (0..3000)
        .map(|i| {
            format!(
                "<item><guid>{i}</guid><link>https://news.example/{i}</link><title>Victory Plan \
                 presented, part {i}</title></item>"
            )
        })
        .collect();
    let feed = dir.path().join("big.xml");
    std::fs::write(
        &feed,
        format!("<rss version=\"2.0\"><channel><title>t</title>{items}</channel></rss>"),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_newswatch"))
        .args(["try", "-c", "config/demo.toml"])
        .arg(&feed)
        .env_remove("NEWSWATCH_CONFIG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut first = [0u8; 64];
    out.read_exact(&mut first).unwrap();
    drop(out);
    let o = child.wait_with_output().unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
}

/// Regression: `check -c bad.toml 2>&1 | head -1` and `try` of missing files into a closed
/// stderr panicked (exit 101, "failed printing to stderr"): `eprintln!` panics there too.
/// Errors are told as reports are written; the exit is the command's own, 1.
#[test]
fn errors_into_a_closed_stderr_do_not_panic() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.toml");
    let watches: String = (0..2000)
        .map(|i| format!("[[watch]]\nname = \"w{i}\"\nquery = \"(a OR\"\n"))
        .collect();
    std::fs::write(&bad, watches).unwrap();
    let missing: Vec<String> = (0..3000)
        .map(|i| {
            dir.path()
                .join(format!("missing-{i}.xml"))
                .display()
                .to_string()
        })
        .collect();
    let bad = bad.display().to_string();
    let check = vec!["check".to_string(), "-c".into(), bad];
    let tryout: Vec<String> = ["try", "-c", "config/demo.toml"]
        .into_iter()
        .map(String::from)
        .chain(missing)
        .collect();
    for args in [check, tryout] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .args(&args)
            .env_remove("NEWSWATCH_CONFIG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stderr.take());
        let status = child.wait().unwrap();
        assert_eq!(status.code(), Some(1), "{}", args[0]);
    }
}

/// Regression: `check … | :`, `send-test … | head -3` and `deliveries retry … | :` panicked
/// (exit 101, a backtrace) when the reader had closed the pipe: `println!` panics there.
/// Their report lines are written as `try`'s are: the reader's choice, exit 0. The pipe is
/// closed before the command writes (it reads its configuration first).
#[test]
fn reports_into_a_closed_pipe_do_not_panic() {
    for args in [
        &["check", "-c", "config/demo.toml"][..],
        &[
            "send-test",
            "console",
            "--dry-run",
            "-c",
            "config/demo.toml",
        ][..],
    ] {
        let mut child = Command::new(env!("CARGO_BIN_EXE_newswatch"))
            .args(args)
            .env_remove("NEWSWATCH_CONFIG")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        drop(child.stdout.take());
        let o = child.wait_with_output().unwrap();
        assert_eq!(o.status.code(), Some(0), "{args:?}: {}", stderr(&o));
        assert!(!stderr(&o).contains("panicked"), "{args:?}: {}", stderr(&o));
    }
}

/// Regression: a port in use given by `run --listen` was blamed on `[daemon] listen`, which
/// the file set to "off".
#[test]
fn a_port_in_use_from_the_listen_flag_names_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("feed.xml"),
        "<rss version=\"2.0\"><channel><title>t</title></channel></rss>",
    )
    .unwrap();
    let cfg = dir.path().join("n.toml");
    std::fs::write(
        &cfg,
        "[daemon]\nstate = \"s.db\"\nlisten = \"off\"\n[[feed]]\nname = \"f\"\nurl = \"file:feed.xml\"\n\
         [[sink]]\nname = \"out\"\ntype = \"stdout\"\n[[watch]]\nname = \"w\"\nterms = [\"troops\"]\n",
    )
    .unwrap();
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = newswatch(&["run", "--listen", &addr, "-c", cfg.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(
        stderr(&o).contains(&format!("cannot listen on {addr} (--listen)")),
        "{}",
        stderr(&o)
    );
}

/// Regression: `check` wrote a name's control characters to the terminal as they were: a sink
/// named with an escape sequence (in a file pulled in by `include`, say) cleared the screen and
/// set the window title of whoever ran it.
#[test]
fn check_escapes_control_characters_from_the_config() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("g.toml");
    std::fs::write(
        &p,
        "[[sink]]\nname = \"out\"\ntype = \"stdout\"\n[[watch]]\nname = \"w\"\n\
         terms = [\"troops\"]\nsinks = [\"x\\u001b[2J\\u001b]0;pwned\\u0007\"]\n",
    )
    .unwrap();
    let o = newswatch(&["check", "-c", p.to_str().unwrap()]);
    assert!(!o.status.success());
    let err = stderr(&o);
    assert!(!err.contains('\u{1b}') && !err.contains('\u{7}'), "{err:?}");
    assert!(err.contains("x\\u{1b}[2J"), "{err:?}");
}
